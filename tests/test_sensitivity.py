"""Variance-based sensitivity: the Sobol' estimators against a model whose indices are known,
the JRC's convergence rule, and an uncertainty analysis of COINr's ASEM index."""

from __future__ import annotations

import numpy as np
from coinr_support import config, raw

from kb import sensitivity as sa
from kb.engine import Call


def _linear(x: np.ndarray) -> np.ndarray:
    """Y = X₁ + 2X₂ + 0·X₃ with independent uniform inputs: S = ST = (1, 4, 0)/5."""
    out: np.ndarray = x[:, 0] + 2 * x[:, 1]
    return out


def _indices(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    a, b = sa.saltelli(n, 3, seed)
    fab = np.column_stack([_linear(np.where(np.arange(3) == i, b, a)) for i in range(3)])
    return sa.sobol_indices(_linear(a), _linear(b), fab)


def test_estimators_find_the_known_indices() -> None:
    first, total = _indices(8192)
    expected = np.array([0.2, 0.8, 0.0])
    assert np.abs(first - expected).max() < 0.03
    assert np.abs(total - expected).max() < 0.03


def test_convergence_rule_as_n_doubles() -> None:
    """Small N: the indices still move by more than the tolerance; as N doubles they settle,
    the rule says so, and the settled values are the true ones."""
    history = [(n, np.concatenate(_indices(n))) for n in (8, 16, 32, 64, 128, 256, 512,
                                                             1024, 2048, 4096, 8192)]
    verdicts = [sa.converged(history[: i + 1], tol=0.02) for i in range(len(history))]
    assert not verdicts[1]  # N = 8 → 16: not yet
    first_ok = verdicts.index(True)
    assert all(verdicts[first_ok:])  # once stable, stays stable
    assert np.abs(history[-1][1] - np.tile([0.2, 0.8, 0.0], 2)).max() < 0.03
    assert not sa.converged(history[:1]) and not sa.converged([(64, np.zeros(2)),
                                                              (100, np.zeros(2))])


def test_uncertainty_of_the_asem_index_is_seeded_and_bounded() -> None:
    cfg = config(normalise=Call("minmax", {"low": 1, "high": 100}))
    factors = sa.default_factors(cfg, 0.25)
    assert [f.name for f in factors] == ["weight:Conn", "weight:Sust", "aggregate"]
    data = raw()
    one = sa.analyse(cfg, data, factors, n=2, seed=3)
    two = sa.analyse(cfg, data, factors, n=2, seed=3)
    assert one.runs == 2 * 5
    assert one.ranks.equals(two.ranks) and one.indices.equals(two.indices)
    r = one.ranks
    assert (r["p05"] <= r["median"]).all() and (r["median"] <= r["p95"]).all()
    assert sorted(r["nominal"].astype(int)) == list(range(1, 52))
    assert np.isfinite(one.indices.to_numpy()).all()
