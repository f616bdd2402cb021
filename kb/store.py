"""The embedded store on disk: Oxigraph plus the columnar copy of the observations.

Layout of the knowledge-base home (``$CITYKB_HOME``, default ``./.citykb`` in the working
directory)::

    builds/<build-id>/oxigraph/        the Oxigraph (RocksDB) store
    builds/<build-id>/columnar/*.parquet  observations, one file per named graph
    builds/<build-id>/manifest.json    what was built, when, from what
    current -> builds/<build-id>       symlink, replaced atomically by a successful build

A build writes a new ``builds/<id>`` and only then swaps ``current``: a failed build leaves
the previous knowledge base untouched. Older builds beyond the last two are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyoxigraph as ox

from kb.errors import KbError

KEEP_BUILDS = 2


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


@dataclass(frozen=True)
class BuildDir:
    """One build's directory."""

    path: Path

    @property
    def oxigraph(self) -> Path:
        return self.path / "oxigraph"

    @property
    def columnar(self) -> Path:
        return self.path / "columnar"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"

    def read_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.manifest.read_text(encoding="utf-8"))
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        tmp = self.manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.manifest)


def current_build(home: Path | None = None) -> BuildDir:
    """The build ``current`` points to; KB040 if none has been made."""
    layout = Layout(home or default_home())
    if not layout.current.exists():
        raise KbError("KB040", f"no knowledge base at {layout.home}; run `kb build` first "
                      "(or set CITYKB_HOME)")
    return BuildDir(layout.current.resolve())


def new_build(home: Path, build_id: str) -> BuildDir:
    layout = Layout(home)
    layout.builds.mkdir(parents=True, exist_ok=True)
    path = layout.builds / build_id
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    (path / "columnar").mkdir()
    return BuildDir(path)


def publish(home: Path, build: BuildDir) -> None:
    """Point ``current`` at ``build`` atomically, then prune old builds."""
    layout = Layout(home)
    tmp = layout.home / f".current.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(build.path.relative_to(layout.home))
    os.replace(tmp, layout.current)
    builds = sorted((p for p in layout.builds.iterdir() if p.is_dir()), key=lambda p: p.name)
    keep = {build.path.resolve()}
    for old in [p for p in builds if p.resolve() not in keep][:-(KEEP_BUILDS - 1) or None]:
        shutil.rmtree(old, ignore_errors=True)


def discard(build: BuildDir) -> None:
    shutil.rmtree(build.path, ignore_errors=True)


def open_store(build: BuildDir, *, write: bool = False) -> ox.Store:
    """Open the Oxigraph store of a build; read-only unless ``write``."""
    try:
        if write:
            return ox.Store(str(build.oxigraph))
        return ox.Store.read_only(str(build.oxigraph))
    except OSError as exc:
        if "lock" in str(exc).lower():
            raise KbError("KB041", f"{build.oxigraph} is in use by another process") from exc
        raise


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
    files = sorted(build.columnar.glob("*.parquet"))
    if not files:
        from kb.triples import empty_observations

        return empty_observations()
    filters = [(k, "==", v) for k, v in equal.items()] or None
    frames = [pd.read_parquet(f, filters=filters) for f in files]
    return pd.concat(frames, ignore_index=True)
