"""citykb: an indicator-graph knowledge base of Chinese city composite indices.

``kb.open()`` opens the default knowledge base (see :mod:`kb.api`).
"""

__version__ = "0.1.0"

from kb.api import KnowledgeBase, open

__all__ = ["KnowledgeBase", "__version__", "open"]
