"""Starting the server: bind the socket first (so a port in use is a coded error, KB105, and
port 0 picks a free one that is then printed), then run uvicorn on it."""

from __future__ import annotations

import socket
from collections.abc import Callable

from kb.errors import KbError
from kb.web.app import Settings, State, create_app

MAX_CONNECTIONS = 200
"""Open connections uvicorn accepts at once; past that it answers 503."""


def bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise KbError("KB105", f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise KbError("KB105", f"cannot listen on {host}:{port}: "
                      f"{(exc.strerror or str(exc)).lower()} (choose another with --port)"
                      ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(settings: Settings, host: str, port: int, announce: Callable[[str], None]) -> None:
    import uvicorn

    st = State(settings)  # KB040 (no knowledge base) before anything listens
    try:
        sock = bind(host, port)
    except KbError:
        st.close()
        raise
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    app = create_app(settings, st)
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5,
                            timeout_graceful_shutdown=5, lifespan="on")
    server = uvicorn.Server(config)
    announce(f"citykb serving at http://{shown}:{bound_port}/ — SPARQL endpoint "
             f"http://{shown}:{bound_port}/sparql (Ctrl-C stops)")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
