"""A build publishes a complete knowledge base or changes nothing: killed at any moment, run
three at once, out of disk, or shrinking the data, the store answers exactly as before, and
readers keep the build they opened."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests_support import FIXTURES

from kb import paths
from kb.build import build
from kb.errors import BuildError, KbError
from kb.store import KEEP_BUILDS, Layout, Reader, current_build, open_store

KB = [sys.executable, "-m", "kb.cli"]


def _kb(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KB, *args, "--home", str(home)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def _answer(home: Path) -> str:
    """What a user sees: the ranking as CSV (fails if the store cannot answer)."""
    out = _kb("rank", "--framework", "coo-2025", "--format", "csv", home=home)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def good_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("safety")
    build(paths.data_dir(), home)
    return home


def _leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in Layout(home).builds.iterdir() if p.name.startswith("."))


def test_killed_builds_never_lose_the_published_one(good_home: Path) -> None:
    before = _answer(good_home)
    rng = random.Random(20261201)
    started = time.perf_counter()
    ok = _kb("build", home=good_home)
    assert ok.returncode == 0, ok.stderr
    duration = time.perf_counter() - started
    for _ in range(5):
        proc = subprocess.Popen([*KB, "build", "--home", str(good_home)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        published = current_build(good_home)
        assert published.manifest.is_file() and not published.id.startswith(".")
        assert _answer(good_home) == before
    after = _kb("build", home=good_home)
    assert after.returncode == 0, after.stderr
    assert _leftovers(good_home) == []
    assert _answer(good_home) == before


def test_concurrent_builds_one_writer_at_a_time(good_home: Path) -> None:
    before = _answer(good_home)
    procs = [subprocess.Popen([*KB, "build", "--home", str(good_home)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = [r[0] for r in results]
    for code, out, err in results:
        assert "Traceback" not in out + err
        assert code == 0 or (code == 4 and "KB042" in err), (code, err)
    assert 0 in codes
    assert _answer(good_home) == before
    assert _kb("build", home=good_home).returncode == 0


def test_a_reader_keeps_its_build_across_rebuilds(good_home: Path) -> None:
    with Reader(good_home) as reader:
        store = open_store(reader.build)
        count = "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/citykb/ontology#City> }"
        first = list(store.query(count))  # type: ignore[arg-type]
        for _ in range(KEEP_BUILDS + 1):
            build(paths.data_dir(), good_home)
        assert reader.build.path.is_dir()
        assert list(store.query(count)) == first  # type: ignore[arg-type]
        assert reader.newer() == current_build(good_home).id
        held = reader.build.path
        del store
    build(paths.data_dir(), good_home)
    assert not held.exists()
    complete = [p for p in Layout(good_home).builds.iterdir() if not p.name.startswith(".")]
    assert len(complete) == KEEP_BUILDS


def test_a_full_disk_publishes_nothing(good_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from kb import nquads

    published = current_build(good_home).id

    def full(self: object, *args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nquads.QuadFile, "extend_lines", full)
    with pytest.raises(KbError) as exc:
        build(paths.data_dir(), good_home)
    assert exc.value.code == "KB043" and "disk is full" in exc.value.message
    assert current_build(good_home).id == published
    assert _leftovers(good_home) == []


def test_a_shrinking_build_needs_a_flag(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", data)
    build(data, home)
    published = current_build(home).id
    shutil.rmtree(data / "toy")  # a whole source, its framework and datasets gone
    with pytest.raises(BuildError) as exc:
        build(data, home)
    assert [p.code for p in exc.value.problems] == ["KB044"]
    assert "toy" in exc.value.problems[0].message
    assert current_build(home).id == published
    out = _kb("build", "--data", str(data), home=home)
    assert out.returncode == 3 and "KB044" in out.stderr and "Traceback" not in out.stderr
    report = build(data, home, allow_removal=True)
    assert report.changes["removed"]["sources"] == ["toy"]


def test_the_api_handle_is_told_of_a_newer_build(good_home: Path) -> None:
    import kb

    with kb.open(good_home) as base:
        assert base.newer() is None
        before = base.rank(top=3)
        build(paths.data_dir(), good_home)
        build(paths.data_dir(), good_home)
        assert base.newer() == current_build(good_home).id
        assert base.rank(top=3).equals(before)
        assert base.build.path.is_dir()
