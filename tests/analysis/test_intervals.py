"""Interval formulas against independent implementations and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.intervals import (
    beta_interval,
    clopper_pearson_interval,
    logit_interval,
    proportion_interval,
    wald_interval,
    wilson_interval,
)

from .conftest import R_DIR


def test_wilson_equals_r_prop_test_for_simple_random_samples() -> None:
    # R 4.2.2 prop.test(x, n, correct=FALSE)$conf.int (tests/analysis/r/make_reference.R): the Wilson
    # score interval. With se = sqrt(p(1-p)/n) our n_eff is n; df = Inf gives the normal quantile.
    reference = pd.read_csv(R_DIR / "wilson_reference.csv")
    p = reference["x"] / reference["n"]
    se = np.sqrt(p * (1 - p) / reference["n"])
    lo, hi = wilson_interval(p.to_numpy(), se.to_numpy(), np.full(len(p), np.inf))
    np.testing.assert_allclose(lo, reference["lo"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, reference["hi"], rtol=0, atol=1e-12)


def test_wilson_with_t_quantile_by_hand() -> None:
    # p = 0.8, se = 0.04 -> n_eff = 0.16 / 0.0016 = 100; df = 20 -> t = 2.085963447 (R: qt(0.975, 20)).
    t = 2.0859634472658644
    lo, hi = wilson_interval(np.array([0.8]), np.array([0.04]), np.array([20.0]))
    centre = (0.8 + t**2 / 200) / (1 + t**2 / 100)
    half = t * np.sqrt(0.0016 + t**2 / 40000) / (1 + t**2 / 100)
    assert lo[0] == pytest.approx(centre - half, abs=1e-14)
    assert hi[0] == pytest.approx(centre + half, abs=1e-14)


def test_beta_reduces_to_clopper_pearson_under_srs() -> None:
    # With se^2 = p(1-p)/n, df = n - 1 and n rows, Korn-Graubard's n_eff is n: the exact binomial
    # interval (scipy.stats.binomtest, an independent implementation of Clopper-Pearson).
    for x, n in [(3, 10), (17, 40), (88, 100)]:
        p = x / n
        lo, hi = beta_interval(np.array([p]), np.array([np.sqrt(p * (1 - p) / n)]), np.array([n - 1.0]),
                               np.array([float(n)]))
        exact = stats.binomtest(x, n).proportion_ci(0.95, method="exact")
        assert lo[0] == pytest.approx(exact.low, abs=1e-12)
        assert hi[0] == pytest.approx(exact.high, abs=1e-12)


def test_clopper_pearson_closed_forms_at_the_boundary() -> None:
    lo, hi = clopper_pearson_interval(np.array([0.0, 1.0]), np.array([20.0, 20.0]))
    # x = 0: upper = 1 - (alpha/2)^(1/n); x = n: lower = (alpha/2)^(1/n) (Clopper & Pearson 1934).
    assert lo[0] == 0.0 and hi[0] == pytest.approx(1 - 0.025 ** (1 / 20), rel=1e-12)
    assert lo[1] == pytest.approx(0.025 ** (1 / 20), rel=1e-12) and hi[1] == 1.0


def test_logit_and_wald_by_hand() -> None:
    t = stats.t.ppf(0.975, 30)
    lo, hi = wald_interval(np.array([0.7]), np.array([0.05]), np.array([30.0]))
    assert (lo[0], hi[0]) == pytest.approx((0.7 - t * 0.05, 0.7 + t * 0.05), abs=1e-15)
    lo, hi = logit_interval(np.array([0.7]), np.array([0.05]), np.array([30.0]))
    centre, half = np.log(0.7 / 0.3), t * 0.05 / 0.21
    assert lo[0] == pytest.approx(1 / (1 + np.exp(-(centre - half))), abs=1e-15)
    assert hi[0] == pytest.approx(1 / (1 + np.exp(-(centre + half))), abs=1e-15)


def test_invalid_inputs_give_nan_not_errors() -> None:
    for method in ("wilson", "beta", "logit", "wald"):
        lo, hi, used = proportion_interval(method, np.array([0.5, np.nan]), np.array([0.1, 0.1]),
                                           np.array([0.0, 5.0]), np.array([3.0, 3.0]), np.array([3.0, 3.0]))
        assert np.isnan(lo).all() and np.isnan(hi).all()
        assert list(used) == [method, method]
