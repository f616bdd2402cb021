"""citykb: an indicator-graph knowledge base of Chinese city composite indices.

``kb.open()`` opens the default knowledge base (see :mod:`kb.api`). The API (and pandas with
it) is imported on first use, so that ``import kb.cli`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kb.api import KnowledgeBase, open

__all__ = ["KnowledgeBase", "__version__", "open"]


def __getattr__(name: str) -> Any:
    if name in ("KnowledgeBase", "open"):
        from kb import api

        return getattr(api, name)
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
