"""citykb: an indicator-graph knowledge base of Chinese city composite indices."""

__version__ = "0.1.0"
