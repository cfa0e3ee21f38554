"""analysis.intervals at an estimate of 0 or 1 with a large sampling fraction: a mutant `make mutation`
found alive (the root search for the hypergeometric bound starting at M = 1 instead of 0).

When nearly the whole population is sampled, even one satisfied unit would almost surely have been
seen, so the bound M / N lies below 1 / N: the real-valued M solving P(X = 0 | M) = alpha / 2 is
between 0 and 1. The check evaluates P(X = 0 | M) independently with math.lgamma (Buonaccorsi 1987;
Wright 1991: P(X = 0 | M) = Gamma(N-M+1) Gamma(N-n+1) / (Gamma(N-M-n+1) Gamma(N+1))).
"""

from __future__ import annotations

import math

import numpy as np

from analysis.intervals import finite_population_boundary_interval, finite_population_zero_probability


def _zero_probability_lgamma(m: float, n: float, big_n: float) -> float:
    return math.exp(math.lgamma(big_n - m + 1) + math.lgamma(big_n - n + 1)
                    - math.lgamma(big_n - m - n + 1) - math.lgamma(big_n + 1))


def test_bound_below_one_unit_when_all_but_one_unit_is_sampled() -> None:
    # n = 199 of N = 200 (f = 0.995). By hand, P(X = 0 | M = 1) = (N - n) / N = 1 / 200 = 0.005 < 0.025,
    # so M < 1 and the upper bound at est = 0 is below 1 / 200.
    lower, upper = finite_population_boundary_interval(np.array([0.0, 1.0]), np.array([199.0, 199.0]),
                                                       np.array([0.005, 0.005]))
    assert lower[0] == 0.0 and upper[1] == 1.0
    assert 0.0 < upper[0] < 1 / 200
    m = upper[0] * 200
    assert math.isclose(_zero_probability_lgamma(m, 199, 200), 0.025, rel_tol=1e-9)
    assert math.isclose(lower[1], 1 - upper[0], rel_tol=0, abs_tol=1e-15)


def test_bound_never_exceeds_one_for_a_fractional_sample() -> None:
    # n_eff = 0.5 of N = 1 (f = 0.5). By hand, P(X = 0 | M = 1) = Gamma(1) Gamma(1.5) / (Gamma(0.5) Gamma(2))
    # = 0.8862269 / 1.7724539 = 0.5 > 0.025, so the real root M exceeds N: the bound is clipped to 1.
    assert math.isclose(_zero_probability_lgamma(1.0, 0.5, 1.0), 0.5, rel_tol=1e-12)
    lower, upper = finite_population_boundary_interval(np.array([0.0, 1.0]), np.array([0.5, 0.5]),
                                                       np.array([0.5, 0.5]))
    assert (lower[0], upper[0]) == (0.0, 1.0)
    assert (lower[1], upper[1]) == (0.0, 1.0)


def test_zero_probability_for_a_real_count_with_less_than_one_unsatisfied_unit_left() -> None:
    # The root search evaluates real M; at M = 1.5, n = 199, N = 200, N - M - n + 1 = 0.5 lies in (0, 1),
    # where Gamma(0.5) = sqrt(pi) enters the denominator (math.lgamma, not the code under test).
    ours = float(finite_population_zero_probability(1.5, 199, 200)[()])
    assert math.isclose(ours, _zero_probability_lgamma(1.5, 199, 200), rel_tol=1e-10)
    assert math.isclose(math.exp(math.lgamma(0.5)), math.sqrt(math.pi), rel_tol=1e-15)


def test_an_unknown_sampling_fraction_gives_nan_bounds() -> None:
    # The documented contract: NaN estimate, size or share gives NaN bounds (a NaN share used to fall
    # through to Clopper-Pearson, as if there were no fpc). A share of 1 (no fpc) is Clopper-Pearson:
    # by hand, at x = 0 of n = 20 the upper bound is 1 - 0.025^(1/20) = 0.1684335.
    lower, upper = finite_population_boundary_interval(np.array([0.0, 0.0, 1.0]), np.full(3, 20.0),
                                                       np.array([np.nan, 1.0, np.nan]))
    assert np.isnan(lower[0]) and np.isnan(upper[0]) and np.isnan(lower[2]) and np.isnan(upper[2])
    assert lower[1] == 0.0 and math.isclose(upper[1], 1 - 0.025 ** (1 / 20), rel_tol=1e-12)
    assert math.isclose(1 - 0.025 ** (1 / 20), 0.1684335, rel_tol=1e-6)


def test_no_effective_sample_gives_nan_bounds_with_an_fpc() -> None:
    # n_eff = 0 (no weight in the domain): nothing was seen, so no bound, with or without an fpc.
    lower, upper = finite_population_boundary_interval(np.array([0.0, 1.0]), np.zeros(2), np.full(2, 0.5))
    assert np.isnan(lower).all() and np.isnan(upper).all()
