"""Shared fixtures: knowledge bases built once per session from the real data and from the
small fixture in tests/fixtures/mini."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import settings
from tests_support import FIXTURES

from kb import paths
from kb.build import build
from kb.store import BuildDir, current_build, open_store

# No test is timed (performance is measured in bench/): hypothesis' per-example deadline would
# fail a correct example on a busy machine.
settings.register_profile("citykb", deadline=None)
settings.load_profile("citykb")


@pytest.fixture(scope="session")
def real_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("real-kb")
    build(paths.data_dir(), home, sensitivity=True)  # with the declared analysis recorded
    return home


@pytest.fixture(scope="session")
def real_build(real_home: Path) -> BuildDir:
    return current_build(real_home)


@pytest.fixture(scope="session")
def real_store(real_build: BuildDir) -> Iterator[ox.Store]:
    yield open_store(real_build)


@pytest.fixture(scope="session")
def mini_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("mini-kb")
    build(FIXTURES / "mini", home)
    return home


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the real data/ folder, for corrupting."""
    target = tmp_path / "data"
    shutil.copytree(paths.data_dir(), target)
    return target


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    target = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", target)
    return target
