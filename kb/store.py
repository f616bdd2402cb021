"""The embedded store on disk: Oxigraph plus the columnar copy of the observations, and the
rules that keep it trustworthy while it is rewritten.

Layout of the knowledge-base home (``$CITYKB_HOME``, default ``./.citykb`` in the working
directory)::

    current -> builds/<build-id>          the published build (a symlink, swapped atomically)
    builds/<build-id>/oxigraph/           the Oxigraph (RocksDB) store
    builds/<build-id>/columnar/*.parquet  observations, one file per named graph
    builds/<build-id>/manifest.json       what was built, when, from what; written last
    builds/<build-id>/readers.lock        held (shared) by every open reader of the build
    builds/.staging-<build-id>/           a build being written: never read, never a fallback
    builds/.trash-<build-id>/             an old build being removed
    write.lock                            held (exclusive) by the one writer

The invariant: a write (build, score, import) either publishes a complete, validated build or
changes nothing. A writer takes ``write.lock`` (a second writer gets KB042 at once), writes
into a staging directory, and only when everything is written and checked renames it into
``builds/`` and swaps ``current``. A killed writer leaves a staging directory that the next
writer removes; the lock dies with its process. Old builds are removed only when no reader
holds them, by first renaming them into the trash: a half-deleted build is never mistaken
for a build. The current build and the one before it are kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyoxigraph as ox

from kb.errors import KbError

if TYPE_CHECKING:
    import pandas as pd

KEEP_BUILDS = 2
"""Complete builds kept: the current one and the one before it."""
STAGING = ".staging-"
TRASH = ".trash-"


def default_home() -> Path:
    """``$CITYKB_HOME`` if set, else ``.citykb`` in the current directory."""
    env = os.environ.get("CITYKB_HOME")
    return Path(env) if env else Path.cwd() / ".citykb"


@dataclass(frozen=True)
class Layout:
    home: Path

    @property
    def current(self) -> Path:
        return self.home / "current"

    @property
    def builds(self) -> Path:
        return self.home / "builds"

    @property
    def write_lock(self) -> Path:
        return self.home / "write.lock"

    def current_id(self) -> str | None:
        """The id of the published build, or None."""
        try:
            return Path(os.readlink(self.current)).name
        except OSError:
            return None


@dataclass(frozen=True)
class BuildDir:
    """One build's directory."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def oxigraph(self) -> Path:
        return self.path / "oxigraph"

    @property
    def columnar(self) -> Path:
        return self.path / "columnar"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"

    @property
    def readers_lock(self) -> Path:
        return self.path / "readers.lock"

    def read_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.manifest.read_text(encoding="utf-8"))
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        tmp = self.manifest.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, ensure_ascii=False, indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.manifest)


def new_build_id(suffix: str = "") -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{os.getpid()}{suffix}"


# --- readers ------------------------------------------------------------------------------


def current_build(home: Path | None = None) -> BuildDir:
    """The build ``current`` points to; KB040 if none has been published."""
    layout = Layout(home or default_home())
    target = layout.current.resolve()
    if not layout.current.is_symlink() or not (target / "manifest.json").is_file():
        raise KbError("KB040", f"no knowledge base at {layout.home}; run `kb build` first "
                      "(or set CITYKB_HOME)")
    return BuildDir(target)


class Reader:
    """A claim on one published build: while it is held, no writer removes that build.

    Readers keep the build they opened; :meth:`newer` tells when another has been published.
    """

    def __init__(self, home: Path | None = None, *, attempts: int = 20) -> None:
        self.home = home or default_home()
        self._fh: IO[bytes] | None = None
        for _ in range(attempts):
            build = current_build(self.home)
            try:
                fh = build.readers_lock.open("ab")
            except FileNotFoundError:
                continue  # removed between resolving ``current`` and opening: look again
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()  # being removed right now
                continue
            if build.path.is_dir() and build.path.parent.name == "builds":
                self.build = build
                self._fh = fh
                return
            fh.close()
        raise KbError("KB041", f"{self.home}: the knowledge base kept changing while opening it")

    def newer(self) -> str | None:
        """The id of a build published since this one was opened, if any."""
        now = Layout(self.home).current_id()
        return now if now is not None and now != self.build.id else None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(build: BuildDir, *, write: bool = False) -> ox.Store:
    """Open the Oxigraph store of a build; read-only unless ``write``."""
    try:
        if write:
            return ox.Store(str(build.oxigraph))
        return ox.Store.read_only(str(build.oxigraph))
    except OSError as exc:
        if "lock" in str(exc).lower():
            raise KbError("KB041", f"{build.oxigraph} is in use by another process") from exc
        raise KbError("KB040", f"{build.oxigraph} cannot be opened: {exc}") from exc


# --- the one writer -----------------------------------------------------------------------


@contextlib.contextmanager
def write_lock(home: Path) -> Iterator[None]:
    """Hold ``home/write.lock``; KB042 at once if another process holds it."""
    layout = Layout(home)
    try:
        home.mkdir(parents=True, exist_ok=True)
        fh = layout.write_lock.open("a+")
    except OSError as exc:
        raise KbError("KB043", f"cannot write to {home}: {exc.strerror or exc}") from exc
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise KbError("KB042", f"{home} is being written by {holder}; try again when it "
                          "has finished") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} since {dt.datetime.now(dt.UTC).isoformat()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()


def clean_leftovers(home: Path) -> list[str]:
    """Remove staging and trash directories left by killed writers (call holding the lock)."""
    builds = Layout(home).builds
    removed = []
    if builds.is_dir():
        for p in builds.iterdir():
            if p.name.startswith((STAGING, TRASH)):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
    return removed


@contextlib.contextmanager
def staging(home: Path, build_id: str) -> Iterator[BuildDir]:
    """A new build directory to fill, published when the block completes.

    Takes the write lock, clears what killed writers left, yields the staging directory; on
    success renames it into ``builds/``, swaps ``current`` and prunes old builds; on any
    failure removes it and re-raises (a failed write of the disk becomes KB043).
    """
    layout = Layout(home)
    with write_lock(home):
        clean_leftovers(home)
        tmp = BuildDir(layout.builds / f"{STAGING}{build_id}")
        try:
            layout.builds.mkdir(parents=True, exist_ok=True)
            tmp.path.mkdir()
            tmp.columnar.mkdir()
            tmp.readers_lock.touch()
            yield tmp
            if not tmp.manifest.is_file():
                raise RuntimeError("a build must write its manifest before it is published")
            final = BuildDir(layout.builds / build_id)
            os.rename(tmp.path, final.path)
            _fsync_dir(layout.builds)
            _point_current(layout, final)
        except BaseException as exc:
            shutil.rmtree(tmp.path, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _write_error(home, exc) from exc
            raise
        prune(home)


def _write_error(home: Path, exc: OSError) -> KbError:
    reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return KbError("KB043", f"writing the new build under {home} failed: {reason}; nothing "
                   "was published and the previous knowledge base is unchanged")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point_current(layout: Layout, build: BuildDir) -> None:
    tmp = layout.home / f".current.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(build.path.relative_to(layout.home))
    os.replace(tmp, layout.current)
    _fsync_dir(layout.home)


def prune(home: Path) -> list[str]:
    """Remove complete builds beyond the newest :data:`KEEP_BUILDS` that no reader holds."""
    layout = Layout(home)
    current = layout.current_id()
    builds = sorted((p for p in layout.builds.iterdir()
                     if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    keep = {current, *[p.name for p in builds[-KEEP_BUILDS:]]}
    removed = []
    for old in builds:
        if old.name in keep:
            continue
        lock = old / "readers.lock"
        try:
            fh = lock.open("ab")
        except OSError:
            fh = None
        try:
            if fh is not None:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a reader still holds it: removed by a later writer
            trash = layout.builds / f"{TRASH}{old.name}"
            os.rename(old, trash)
        finally:
            if fh is not None:
                fh.close()
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(old.name)
    return removed


@contextlib.contextmanager
def derive_build(home: Path, build_id: str) -> Iterator[tuple[BuildDir, dict[str, Any]]]:
    """A staging build that starts as a copy of the published one, and that build's manifest
    (for ``kb score``). The published build is never opened for writing: its files are copied.
    """
    with staging(home, build_id) as target, Reader(home) as reader:
        shutil.copytree(reader.build.oxigraph, target.oxigraph)
        for f in reader.build.columnar.glob("*.parquet"):
            shutil.copy2(f, target.columnar / f.name)
        previous = reader.build.read_manifest()
        yield target, {**previous, "derived_from": reader.build.id}


# --- the columnar copy --------------------------------------------------------------------


def columnar_name(graph: str) -> str:
    """File name of a named graph's columnar copy."""
    return graph.rsplit("/graph/", 1)[-1].replace("/", "__") + ".parquet"


def write_columnar(build: BuildDir, graph: str, frame: pd.DataFrame) -> None:
    path = build.columnar / columnar_name(graph)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def remove_columnar(build: BuildDir, graph: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (build.columnar / columnar_name(graph)).unlink()


def read_observations(build: BuildDir, **equal: str) -> pd.DataFrame:
    """The columnar copy, all graphs, filtered by equality on columns (set-wise)."""
    import pandas as pd

    files = sorted(build.columnar.glob("*.parquet"))
    if not files:
        from kb.triples import empty_observations

        return empty_observations()
    filters = [(k, "==", v) for k, v in equal.items()] or None
    frames = [pd.read_parquet(f, filters=filters) for f in files]
    return pd.concat(frames, ignore_index=True)
