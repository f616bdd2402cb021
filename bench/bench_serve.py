"""``kb serve`` under load, on loopback: N concurrent clients for a bounded time, each looping
over what users ask (a SPARQL SELECT, a city's page as HTML and as Turtle, a named query as
JSON), while one abusive client keeps sending a cross product that only the time limit stops.

Prints p50/p95 latency per kind of request, errors, requests per second, and the memory of the
server and its query workers; beside it, the same SELECT run directly on the store in this
process (the baseline: what the HTTP, the checks and the worker add).

Run: ``python -m bench.bench_serve [--clients 8] [--seconds 20] [--home DIR]`` (without
``--home`` the seed data is built into a temporary home first). Only loopback is used.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

SELECT = ("SELECT ?city ?zh ?rank WHERE { "
          "?obs kb:concept <https://w3id.org/citykb/id/framework/coo-2025> ; kb:rank ?rank ; "
          "sdmx-dimension:refArea ?city ; prov:wasGeneratedBy ?run . "
          '?city skos:prefLabel ?zh FILTER(lang(?zh) = "zh") } ORDER BY ?rank LIMIT 20')
CROSS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
CITIES: list[str] = []
"""Every city's slug (read from the server): pages of all 230 cities are asked for, so many
are first visits that the server's answer cache does not hold yet."""
MAX_REQUESTS = 100_000
"""A hard bound on the requests one run sends, whatever the time."""


def fetch(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
          timeout: float = 120) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers.items())
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers.items())


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def requests(base: str) -> list[tuple[str, str, bytes | None, dict[str, str]]]:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    city = random.choice(CITIES)
    args = urllib.parse.urlencode({"area": "东部", "dimension": "科技创新", "top": "10",
                                   "format": "json"})
    return [
        ("sparql select", f"{base}/sparql", urllib.parse.urlencode({"query": SELECT}).encode(),
         {**form, "Accept": "application/sparql-results+json"}),
        ("city page html", f"{base}/id/city/{city}", None, {"Accept": "text/html"}),
        ("city page turtle", f"{base}/id/city/{city}", None, {"Accept": "text/turtle"}),
        ("named query json", f"{base}/queries/top-in-area?{args}", None, {}),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3.0, help="the server's query time limit")
    ap.add_argument("--home", type=Path)
    ap.add_argument("--no-abuse", action="store_true",
                    help="without the abusive client (to compare)")
    args = ap.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.seconds <= 600:
        raise SystemExit("--clients from 1 to 64, --seconds from 1 to 600")
    kb = [sys.executable, "-m", "kb.cli"]
    home = args.home
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="citykb-serve-"))
        subprocess.run([*kb, "build", "--home", str(home)], check=True, capture_output=True)

    # baseline: the same SELECT directly on the store, in this process
    import pyoxigraph as ox

    from kb.namespaces import PREFIXES
    from kb.store import Reader, open_store

    with Reader(home) as reader:
        store = open_store(reader.build)
        direct = []
        for _ in range(50):
            t0 = time.perf_counter()
            answer = store.query(SELECT, prefixes=PREFIXES, use_default_graph_as_union=True)
            assert isinstance(answer, ox.QuerySolutions)
            list(answer)
            direct.append(time.perf_counter() - t0)
        del store

    server = subprocess.Popen(
        [*kb, "serve", "--port", "0", "--home", str(home), "--workers", str(args.workers),
         "--timeout", str(args.timeout), "--queue-wait", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    if "serving at" not in line:
        server.kill()
        raise SystemExit(f"kb serve did not start: {line}")
    base = line.split("serving at ", 1)[1].split("/ ", 1)[0]
    assert base.startswith(("http://127.", "http://[::1]"))  # loopback only
    for _ in range(200):
        try:
            fetch(base + "/status", timeout=5)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    listed = json.loads(fetch(f"{base}/sparql?" + urllib.parse.urlencode(
        {"query": "SELECT ?c WHERE { ?c a kb:City }"}))[1])
    CITIES.extend(b["c"]["value"].rsplit("/", 1)[-1] for b in listed["results"]["bindings"])
    for _kind, url, data, headers in requests(base):  # warm up (first chart fonts etc.)
        fetch(url, data=data, headers=headers)
    idle = rss_mb(server.pid)

    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    abusive: list[tuple[int, str, float]] = []
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds
    sent = [0]
    peak = [idle, 0.0]

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        while time.monotonic() < stop:
            with lock:
                if sent[0] >= MAX_REQUESTS:
                    return
                sent[0] += 1
            kind, url, data, headers = rnd.choice(requests(base))
            t0 = time.perf_counter()
            try:
                status, _, _ = fetch(url, data=data, headers=headers)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = -1
            took = time.perf_counter() - t0
            with lock:
                latencies.setdefault(kind, []).append(took)
                if status != 200:
                    errors[kind] = errors.get(kind, 0) + 1

    def abuser() -> None:
        body = urllib.parse.urlencode({"query": CROSS}).encode()
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            status, _, headers = fetch(f"{base}/sparql", data=body,
                                       headers={"Content-Type":
                                                "application/x-www-form-urlencoded"})
            abusive.append((status, headers.get("x-citykb-error", ""),
                            time.perf_counter() - t0))

    def sampler() -> None:
        while time.monotonic() < stop:
            try:
                pids = json.loads(fetch(base + "/status", timeout=10)[1])["workers"]
            except (urllib.error.URLError, ValueError, KeyError):
                pids = []
            peak[0] = max(peak[0], rss_mb(server.pid))
            peak[1] = max(peak[1], sum(rss_mb(p) for p in pids))
            time.sleep(0.5)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads += [threading.Thread(target=sampler)]
    if not args.no_abuse:
        threads.append(threading.Thread(target=abuser))
    t_start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_start
    status = json.loads(fetch(base + "/status")[1])
    server.terminate()
    server.wait(timeout=30)

    total = sum(len(v) for v in latencies.values())
    base_p50 = statistics.median(direct)
    print(f"kb serve on loopback: {args.clients} clients + {0 if args.no_abuse else 1} "
          f"abusive, {elapsed:.1f} s, "
          f"{args.workers} query workers, time limit {args.timeout:g} s")
    print(f"baseline: the SELECT directly on the store in-process, p50 {base_p50 * 1000:.1f} ms")
    print(f"{'request':<18} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} "
          f"{'p50 × baseline':>15}")
    for kind in sorted(latencies):
        v = sorted(latencies[kind])
        p50, p95 = statistics.median(v), v[int(0.95 * (len(v) - 1))]
        print(f"{kind:<18} {len(v):>6} {p50 * 1000:>8.1f} {p95 * 1000:>8.1f} "
              f"{errors.get(kind, 0):>7} {p50 / base_p50:>14.1f}×")
    print(f"throughput: {total / elapsed:.1f} requests/s; errors: {sum(errors.values())} "
          f"of {total}")
    stopped = [a for a in abusive if a[1] == "KB053"]
    if abusive:
        print(f"abusive cross product: {len(abusive)} sent, {len(stopped)} stopped by the time "
              f"limit (KB053), each answered in {statistics.median([a[2] for a in abusive]):.2f} "
              f"s (median); workers replaced: {status['workers_replaced']}")
    print(f"pages: {len(CITIES)} cities asked for at random, so a part of the page requests "
          "are first visits (the server keeps answers it gave: the build never changes)")
    print(f"memory: server {idle:.0f} MB idle, {peak[0]:.0f} MB peak; query workers "
          f"{peak[1]:.0f} MB peak (all together)")


if __name__ == "__main__":
    main()
