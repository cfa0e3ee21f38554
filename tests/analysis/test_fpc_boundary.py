"""The exact interval at an estimate of 0 or 1 respects the fpc (analysis.intervals.
finite_population_boundary_interval; docs/analysis.md, "The floor and the fpc").

A sample of n drawn without replacement from N = n / f units, none (or all) of them satisfied: the upper
bound at 0 is M / N with P(X = 0 | M) = alpha / 2, where P(X = 0 | M) = prod_{i<n} (N - M - i) / (N - i)
(hypergeometric; Buonaccorsi 1987, Wright 1991). The expected values below are worked out by hand with
that product (plain Python, no gamma functions) and checked against scipy's hypergeometric distribution.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.intervals import (
    clopper_pearson_interval,
    finite_population_boundary_interval,
    finite_population_zero_probability,
)
from analysis.tables import compute_indices
from instruments.index import IndexDefinition


def zero_probability(m: float, n: int, big_n: float) -> float:
    """P(X = 0) by the product over the n draws (real m allowed)."""
    out = 1.0
    for i in range(n):
        out *= max(big_n - m - i, 0.0) / (big_n - i)
    return out


def test_zero_probability_is_the_hypergeometric_one() -> None:
    from scipy import stats

    for big_n, n in ((100, 50), (40, 20), (1000, 30)):
        for m in (0, 1, 3, 7, 20):
            ours = float(finite_population_zero_probability(m, n, big_n)[()])
            assert math.isclose(ours, stats.hypergeom.pmf(0, big_n, m, n), rel_tol=1e-10, abs_tol=1e-300)
            assert math.isclose(ours, zero_probability(m, n, big_n), rel_tol=1e-10, abs_tol=1e-300)
    # By hand, N = 100, n = 50: P(X=0 | 5) = 50*49*48*47*46 / (100*99*98*97*96) = 0.0281422...,
    # P(X=0 | 6) = that * 45/95 = 0.0133305...: the bound M lies between 5 and 6.
    assert math.isclose(zero_probability(5, 50, 100), 50 * 49 * 48 * 47 * 46 / (100 * 99 * 98 * 97 * 96))


def test_half_sampled_population_bound_solves_the_hand_product() -> None:
    # n = 50 of N = 100 (f = 0.5), none satisfied.
    lower, upper = finite_population_boundary_interval(np.array([0.0, 1.0]), np.array([50.0, 50.0]),
                                                       np.array([0.5, 0.5]))
    assert lower[0] == 0.0 and upper[1] == 1.0
    assert 0.05 < upper[0] < 0.06  # M between 5 and 6 (the hand values above)
    assert math.isclose(zero_probability(upper[0] * 100, 50, 100), 0.025, rel_tol=1e-9)
    assert math.isclose(lower[1], 1 - upper[0], rel_tol=0, abs_tol=1e-15)  # est = 1 mirrors est = 0
    # Clopper-Pearson without the fpc, 1 - 0.025^(1/50) = 0.0711217, is wider: the half of the
    # population that was seen is known to hold no satisfied unit.
    assert math.isclose(1 - 0.025 ** (1 / 50), 0.07112174, rel_tol=1e-6)
    assert upper[0] < 1 - 0.025 ** (1 / 50)


def test_no_fpc_is_clopper_pearson_and_a_census_has_no_width() -> None:
    est, n = np.array([0.0, 1.0, 0.0]), np.array([20.0, 20.0, 7.5])
    plain = clopper_pearson_interval(est, n)
    same = finite_population_boundary_interval(est, n, np.ones(3))
    np.testing.assert_array_equal(same[0], plain[0])
    np.testing.assert_array_equal(same[1], plain[1])
    assert math.isclose(plain[1][0], 1 - 0.025 ** (1 / 20), rel_tol=1e-12)  # CP at x = 0, by hand
    # A tiny sampling fraction is Clopper-Pearson to within f.
    tiny = finite_population_boundary_interval(np.array([0.0]), np.array([20.0]), np.array([1 - 1e-5]))
    assert abs(tiny[1][0] - plain[1][0]) < 1e-5
    census = finite_population_boundary_interval(est, n, np.zeros(3))
    np.testing.assert_array_equal(census[0], est)
    np.testing.assert_array_equal(census[1], est)


def test_compute_indices_uses_the_fpc_at_the_boundary(definition: IndexDefinition) -> None:
    # One stratum, 20 respondents each its own PSU out of 40 (fpc = 40, f = 1/2), equal weights 2:
    # Kish n_eff = 20, N = 40. q1 is satisfied by all; the others vary.
    rng = np.random.default_rng(11)
    data = pd.DataFrame({"unit": "u1", "stratum": "s", "psu": [f"p{i}" for i in range(20)], "fpc": 40,
                         "w": 2.0, "q1": 5, "harass": 1, "overall": 4,
                         **{q: rng.integers(1, 6, 20) for q in ("q2", "q3", "q4", "q5")}})
    table = compute_indices(data, definition, unit_col="unit", weight_col="w", strata_col="stratum",
                            cluster_col="psu", fpc_col="fpc", targets=0.8, min_n=0)
    row = table[(table["domain"] == "u1") & (table["stat"] == "q1")].iloc[0]
    assert row["est"] == 1.0 and row["method"] == "boundary_cp"
    # By hand, N = 40, n = 20, counting unsatisfied units M: P(X=0 | 4) = 20*19*18*17/(40*39*38*37)
    # = 0.0530, P(X=0 | 5) = that * 16/36 = 0.0236 < 0.025, so the lower bound 1 - M/40 lies in
    # (1 - 5/40, 1 - 4/40) = (0.875, 0.9); CP on n_eff 20 alone gave 1 - 0.1684 = 0.8316.
    assert 0.875 < row["ci_lo"] < 0.9 and row["ci_hi"] == 1.0
    assert math.isclose(zero_probability((1 - row["ci_lo"]) * 40, 20, 40), 0.025, rel_tol=1e-9)
    # The verdict's one-sided p-value against 0.8: P(all 20 satisfied | 8 of the 40 are not).
    assert math.isclose(row["p_value"], zero_probability(8, 20, 40), rel_tol=1e-10)
    assert row["verdict"] == "met"
