"""Where citykb finds its declarative files: data/, ontology/ and queries/.

Each defaults to the folder of that name in the project checkout and can be overridden with
``CITYKB_DATA``, ``CITYKB_ONTOLOGY`` or ``CITYKB_QUERIES``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _folder(env: str, name: str) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else PROJECT_ROOT / name


def data_dir() -> Path:
    return _folder("CITYKB_DATA", "data")


def ontology_dir() -> Path:
    return _folder("CITYKB_ONTOLOGY", "ontology")


def queries_dir() -> Path:
    return _folder("CITYKB_QUERIES", "queries")


def seeds_dir() -> Path:
    """The seed report texts data/ cites (``CITYKB_SEEDS``, default ``../shared/seeds``)."""
    value = os.environ.get("CITYKB_SEEDS")
    return Path(value) if value else PROJECT_ROOT.parent / "shared" / "seeds"
