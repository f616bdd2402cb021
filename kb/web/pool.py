"""The query workers of ``kb serve``: a fixed number of long-lived processes, each holding the
store open read-only, one query at a time each.

The pool is the endpoint's concurrency limit: a request waits at most ``queue_wait`` seconds
for a free worker, then gets KB102 (503). A query that runs past ``timeout`` has its worker
killed (KB053) — pyoxigraph cannot cancel a query, a process can be — and a fresh worker
takes its place; a worker past its address-space limit (KB054) is replaced the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kb.errors import KbError

WORKER = Path(__file__).with_name("worker.py")


@dataclass(eq=False)
class _Worker:
    proc: asyncio.subprocess.Process
    log: IO[bytes]
    """The worker's stderr: what a native allocation failure prints before the process ends."""
    served: int = 0

    def out_of_memory(self) -> bool:
        """Whether the worker, ended without an answer, ran out of its address space: the
        store's native code aborts ("memory allocation of N bytes failed") rather than raise,
        and not always with the same status."""
        code = self.proc.returncode
        if code in (-6, 3) or code is None:
            return True
        with contextlib.suppress(OSError, ValueError):
            self.log.seek(0, os.SEEK_END)
            self.log.seek(max(0, self.log.tell() - 4096))
            tail = self.log.read()
            return any(m in tail for m in (b"memory allocation", b"MemoryError",
                                           b"bad_alloc", b"Cannot allocate memory"))
        return False


class WorkerPool:
    def __init__(self, store: Path, *, size: int, timeout: float, memory_mb: int,
                 queue_wait: float) -> None:
        self.store, self.size, self.timeout = store, size, timeout
        self.memory_mb, self.queue_wait = memory_mb, queue_wait
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._spare: _Worker | None = None
        """A started worker kept aside, to take the place of one that is killed."""
        self.killed = 0
        """Workers killed at the time limit or lost to the memory limit (for the bench)."""

    def _background(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size + 1)))
        for w in workers[:-1]:
            self._idle.put_nowait(w)
        self._spare = workers[-1]

    async def _spawn(self) -> _Worker:
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the worker is retired)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(WORKER), str(self.store), str(self.memory_mb),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=log, env=env, limit=1 << 20)
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line.startswith(b'{"ready"'):
            await proc.wait()
            log.close()
            raise KbError("KB057", f"a query worker could not open {self.store} "
                          f"(status {proc.returncode})")
        worker = _Worker(proc, log)
        self._all.add(worker)
        return worker

    async def _retire(self, worker: _Worker) -> None:
        self._all.discard(worker)
        if worker.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.kill()
        await worker.proc.wait()
        worker.log.close()

    async def _replace(self, worker: _Worker | None) -> None:
        """Retire a worker; the warm spare takes its place at once, and a new spare is
        started (so a killed query's slot is free again without waiting for a start-up)."""
        if worker is not None:
            await self._retire(worker)
        spare, self._spare = self._spare, None
        if spare is not None and spare.proc.returncode is None:
            self._idle.put_nowait(spare)
        try:
            fresh = await self._spawn()
        except KbError:
            return  # the pool shrinks; the next requests wait or get KB102
        if spare is None or spare.proc.returncode is not None:
            self._idle.put_nowait(fresh)
        elif self._spare is None:
            self._spare = fresh
        else:
            self._idle.put_nowait(fresh)

    async def run(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Run one query on a free worker; its answer header and body."""
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.queue_wait)
        except TimeoutError:
            raise KbError("KB102", f"all {self.size} query workers stayed busy for "
                          f"{self.queue_wait:g} s; try again later") from None
        began = time.monotonic()
        proc = worker.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), self.timeout)
            if not line:
                raise EOFError
            header: dict[str, Any] = json.loads(line)
            body = await asyncio.wait_for(proc.stdout.readexactly(int(header["length"])),
                                          max(self.timeout - (time.monotonic() - began), 1.0))
        except TimeoutError:
            self.killed += 1
            self._background(self._replace(worker))
            raise KbError("KB053", f"the query was stopped after {self.timeout:g} s (its time "
                          "limit); the server's limit is set by kb serve --timeout") from None
        except (EOFError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            self.killed += 1
            with contextlib.suppress(TimeoutError):  # let it finish dying, to read its end
                await asyncio.wait_for(worker.proc.wait(), 5)
            code = worker.proc.returncode
            memory = worker.out_of_memory()
            await self._retire(worker)
            self._background(self._replace(None))
            if memory:
                raise _memory() from None
            raise KbError("KB057", f"the query process ended with status {code} and no "
                          "answer") from None
        except BaseException:  # the client went away mid-query: the worker's state is unknown
            self._background(self._replace(worker))
            raise
        if header.get("error") == "memory":
            self.killed += 1
            self._background(self._replace(worker))
            raise _memory()
        worker.served += 1
        self._idle.put_nowait(worker)
        return header, body

    async def close(self) -> None:
        for w in list(self._all):
            await self._retire(w)

    def pids(self) -> list[int]:
        """The workers answering queries (the spare not counted)."""
        return [w.proc.pid for w in self._all if w is not self._spare]


def _memory() -> KbError:
    return KbError("KB054", "the query was stopped: it needed more memory than the server's "
                   "limit for one query (kb serve --memory)")
