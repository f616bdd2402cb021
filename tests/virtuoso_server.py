"""Start a Virtuoso server on loopback with a known configuration, for the endpoint tests and
bench/bench_endpoint.py (Debian's ``virtuoso-opensource``; ``.ci/run`` installs it).

The server gets its own directory (database, log, ``virtuoso.ini``), its own ports, a known
``ResultSetMaxRows`` (small, so that the tests meet the cap the way a large query meets the
default 10,000) and a publishing user with SPARQL update rights, who signs in with HTTP digest
authentication on ``/sparql-auth`` and ``/sparql-graph-crud-auth``; anonymous ``/sparql`` is
read-only.

    python tests/virtuoso_server.py start DIR     # prints the endpoint URL, leaves it running
    python tests/virtuoso_server.py stop DIR
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SERVER = "virtuoso-t"
ISQL = "isql-vt"
USER = "citykb"
PASSWORD = "citykb-publish"
MAX_ROWS = 10_000
"""The server's ResultSetMaxRows: Virtuoso's default, below the seed knowledge base's largest
answers (59,256 triples)."""

INI = """\
[Database]
DatabaseFile       = {d}/virtuoso.db
ErrorLogFile       = {d}/virtuoso.log
LockFile           = {d}/virtuoso.lck
TransactionFile    = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {d}/virtuoso-temp.db
TransactionFile    = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort               = 127.0.0.1:{sql}
LiteMode                 = 0
DisableUnixSocket        = 1
DisableTcpSocket         = 0
MaxClientConnections     = 10
CheckpointInterval       = 60
O_DIRECT                 = 0
CaseMode                 = 2
MaxStaticCursorRows      = 5000
CheckpointAuditTrail     = 0
AllowOSCalls             = 0
SchedulerInterval        = 10
DirsAllowed              = ., {d}
ThreadCleanupInterval    = 0
ThreadThreshold          = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize        = 100000
SingleCPU                = 0
PrefixResultNames        = 0
RdfFreeTextRulesSize     = 100
IndexTreeMaps            = 64
MaxQueryMem              = 1G
VectorSize               = 1000
MaxVectorSize            = 1000000
AdjustVectorSize         = 0
ThreadsPerQuery          = 2
AsyncQueueMaxThreads     = 4
NumberOfBuffers          = 40000
MaxDirtyBuffers          = 30000

[HTTPServer]
ServerPort                  = 127.0.0.1:{http}
ServerRoot                  = {d}/vsp
MaxClientConnections        = 6
DavRoot                     = DAV
EnabledDavVSP               = 0
HTTPProxyEnabled            = 0
TempASPXDir                 = 0
ServerThreads               = 6
MaxKeepAlives               = 6
KeepAliveTimeout            = 10
HTTPThreadSize              = 280000
HttpPrintWarningsInOutput   = 0
Charset                     = UTF-8
EnabledGzipContent          = 1

[Client]
SQL_PREFETCH_ROWS  = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT  = 0
SQL_TXN_TIMEOUT    = 0

[SPARQL]
ResultSetMaxRows           = {max_rows}
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime      = 120
DeferInferenceRulesInit    = 0
"""


@dataclass(frozen=True)
class Server:
    """A running Virtuoso: its directory, ports and the URLs citykb uses."""

    dir: Path
    http_port: int
    sql_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql"

    @property
    def max_rows(self) -> int:
        return MAX_ROWS

    def isql(self, sql: str) -> str:
        out = subprocess.run([ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba",
                              f"exec={sql}"], capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or "*** Error" in out.stdout + out.stderr:
            raise RuntimeError(f"isql failed: {sql}: {out.stdout} {out.stderr}")
        return out.stdout


def available() -> bool:
    return shutil.which(SERVER) is not None and shutil.which(ISQL) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def running(directory: Path) -> Server | None:
    """The server started in ``directory``, if it still answers."""
    ports = directory / "ports"
    if not ports.is_file():
        return None
    http, sql = (int(p) for p in ports.read_text().split())
    return Server(directory, http, sql) if _listening(http) and _listening(sql) else None


def start(directory: Path, *, timeout: float = 120) -> Server:
    """Start a server in ``directory`` (or return the one already running there)."""
    directory.mkdir(parents=True, exist_ok=True)
    found = running(directory)
    if found is not None:
        return found
    http, sql = _free_port(), _free_port()
    (directory / "vsp").mkdir(exist_ok=True)
    ini = directory / "virtuoso.ini"
    ini.write_text(INI.format(d=directory, sql=sql, http=http, max_rows=MAX_ROWS))
    log = (directory / "server.out").open("ab")
    proc = subprocess.Popen([SERVER, "+configfile", str(ini), "+foreground"], cwd=directory,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (directory / "pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while not (_listening(http) and _listening(sql)):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = (directory / "virtuoso.log").read_text(errors="replace")[-2000:] \
                if (directory / "virtuoso.log").exists() else ""
            raise RuntimeError(f"virtuoso did not start (status {proc.poll()}): {tail}")
        time.sleep(0.3)
    server = Server(directory, http, sql)
    _grant(server)
    (directory / "ports").write_text(f"{http} {sql}\n")
    return server


def _grant(server: Server) -> None:
    """The publishing user: SPARQL update and graph-store rights, digest sign-in."""
    for sql in (
        f"DB.DBA.USER_CREATE('{USER}', '{PASSWORD}')",
        f"GRANT SPARQL_UPDATE TO \"{USER}\"",
        f"DB.DBA.RDF_DEFAULT_USER_PERMS_SET('{USER}', 3)",
        f"GRANT EXECUTE ON DB.DBA.SPARQL_INSERT_DICT_CONTENT TO \"{USER}\"",
        f"GRANT EXECUTE ON DB.DBA.SPARQL_DELETE_DICT_CONTENT TO \"{USER}\"",
        f"GRANT EXECUTE ON DB.DBA.L_O_LOOK TO \"{USER}\"",
        f"GRANT EXECUTE ON DB.DBA.SPARUL_RUN TO \"{USER}\"",
        f"GRANT EXECUTE ON DB.DBA.SPARQL_UPDATE TO \"{USER}\"",
        "DB.DBA.RDF_DEFAULT_USER_PERMS_SET('nobody', 1)",
    ):
        try:
            server.isql(sql)
        except RuntimeError as exc:
            if "already exists" not in str(exc) and "exists" not in str(exc):
                raise


def stop(directory: Path, *, kill: bool = False) -> None:
    """Stop the server started in ``directory`` (``kill``: at once, without a checkpoint)."""
    pid_file = directory / "pid"
    if not pid_file.is_file():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(300):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child: reaped
                break
        except ChildProcessError:  # started by another process
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    (directory / "ports").unlink(missing_ok=True)


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2]).resolve()
    if command == "start":
        print(start(where).url)
    elif command == "stop":
        stop(where)
    else:
        sys.exit(f"usage: {sys.argv[0]} start|stop DIR")
