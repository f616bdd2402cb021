"""Paths shared by the tests."""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def cell_text(v: object) -> str:
    """A query answer's cell as text, the same for every dtype (for comparing answers)."""
    import pandas as pd

    if v is None:
        return ""
    try:
        if pd.isna(v):  # type: ignore[call-overload]
            return ""
    except (TypeError, ValueError):
        pass
    return repr(v) if isinstance(v, float) else str(v)


ELSEWHERE = {"rank-changes": "the knowledge base of data/ holds no panel: tests/test_panel.py "
                             "runs the example on COINr's ASEM panel"}
"""Named queries whose example needs data that data/ does not hold, and the test that runs
it there."""
