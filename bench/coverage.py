"""Coverage simulation: do the proportion intervals keep their 95 % under post-stratification weights?

Run from the repository root:

    .venv/bin/python bench/coverage.py [--reps 10000] [--seed 20261123]
    .venv/bin/python bench/coverage.py --min-cells 2 3 4 5   # the default interval under each min_cell

Prints Markdown tables (see docs/analysis-coverage.md for the design and the measured figures).

Design. A unit serves dossiers in 4 cells (e.g. procedure fields) with population shares
W = (0.4, 0.3, 0.2, 0.1). Respondents come from cells at different rates (2 %, 5 %, 10 %, 20 % of
dossiers), so a sample of n respondents is multinomial over cells with probabilities ∝ W_h r_h, and
the less satisfied cells answer more (cell shares satisfied expit(c + δ_h), δ = (+0.5, +0.2, -0.2,
-0.5), c set so that the population share Σ W_h p_h is exactly p). Respondents are post-stratified
to the cell shares (w = W_h / n_h) with the product's collapse rule for one cell variable: a cell
with fewer than `min_cell` respondents collapses the unit to its total (equal weights).

Estimate p̂ = Σ w y / Σ w; its linearised standard error is the one R's ``svymean`` gives for
``svydesign(ids = ~1, weights = ~w)``: ``se² = n/(n-1) Σ w_i² (y_i - p̂)² / (Σ w)²``, df = n - 1
(post-stratification is treated as fixed weights, which is conservative). Intervals: analysis.intervals
(`proportion_interval`, which falls back to Clopper–Pearson on Kish's n_eff when p̂ is 0 or 1);
`wilson_conservative` (the display default) takes min(design n_eff, Kish n_eff), the latter being
the same Kish n_eff as here.
All statistics are computed from the cell counts (n_h, x_h), which are sufficient here, so 10,000
replicates of every configuration take seconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special, stats

from analysis.intervals import (
    DEFAULT_INTERVAL_METHOD,
    INTERVAL_METHODS,
    clopper_pearson_interval,
    proportion_interval,
)
from analysis.poststratification import DEFAULT_MIN_CELL, poststratify

FloatArray = npt.NDArray[np.float64]
SHARES = np.array([0.4, 0.3, 0.2, 0.1])
RESPONSE_RATES = np.array([0.02, 0.05, 0.10, 0.20])
# Scenario "informative": cells that answer more are less satisfied; "neutral": all cells alike.
SCENARIOS = {"neutral": np.zeros(4), "informative": np.array([0.5, 0.2, -0.2, -0.5])}
PS = (0.80, 0.90, 0.95)
NS = (20, 50, 200, 1000)


def cell_shares_satisfied(p: float, shifts: FloatArray) -> FloatArray:
    """Cell shares expit(c + δ_h) whose population mean Σ W_h p_h is exactly p."""
    def gap(c: float) -> float:
        return float(SHARES @ special.expit(c + shifts)) - p

    c = optimize.brentq(gap, -20, 20, xtol=1e-14)
    return np.asarray(special.expit(c + shifts), dtype=np.float64)


def simulate(
    p: float, n: int, reps: int, min_cell: int, shifts: FloatArray, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Estimates, linearised SEs, df and Kish n_eff of `reps` post-stratified samples."""
    p_h = cell_shares_satisfied(p, shifts)
    draw_prob = SHARES * RESPONSE_RATES / (SHARES @ RESPONSE_RATES)
    n_h = rng.multinomial(n, draw_prob, size=reps).astype(np.float64)
    x_h = rng.binomial(n_h.astype(np.int64), p_h).astype(np.float64)
    collapse = np.asarray((n_h < min_cell).any(axis=1, keepdims=True), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        w_h = np.where(collapse, 1.0, SHARES / n_h)  # respondents' weight in each cell
    w_h = np.where(n_h > 0, w_h, 0.0)
    total = (w_h * n_h).sum(axis=1)
    est = (w_h * x_h).sum(axis=1) / total
    resid2 = x_h * (1 - est[:, None]) ** 2 + (n_h - x_h) * est[:, None] ** 2
    se = np.sqrt(n / (n - 1) * (w_h**2 * resid2).sum(axis=1) / total**2)
    n_eff = total**2 / (w_h**2 * n_h).sum(axis=1)
    return {
        "est": est, "se": se, "df": np.full(reps, n - 1.0), "n_eff": n_eff,
        "collapsed": collapse[:, 0].astype(np.float64),
    }


def wilson_on_kish(sample: dict[str, FloatArray], n: int) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval on Kish's n_eff with the t_{n-1} quantile (computed here, independently)."""
    p, m = sample["est"], sample["n_eff"]
    t2 = stats.t.ppf(0.975, n - 1) ** 2
    centre = (p + t2 / (2 * m)) / (1 + t2 / m)
    half = np.sqrt(t2) * np.sqrt(p * (1 - p) / m + t2 / (4 * m * m)) / (1 + t2 / m)
    return centre - half, centre + half


def interval_runner(method: str) -> Callable[[dict[str, FloatArray], int], tuple[FloatArray, FloatArray]]:
    if method == "cp_kish":
        return lambda s, n: clopper_pearson_interval(s["est"], s["n_eff"])
    if method == "wilson_kish":
        return wilson_on_kish

    def run(s: dict[str, FloatArray], n: int) -> tuple[FloatArray, FloatArray]:
        lo, hi, _ = proportion_interval(
            method,  # type: ignore[arg-type]
            s["est"], s["se"], s["df"], np.full(s["est"].size, float(n)), s["n_eff"],
        )
        return lo, hi

    return run


def table(reps: int, seed: int, min_cell: int, methods: tuple[str, ...], scenario: str) -> str:
    rng = np.random.default_rng(seed)
    header = "| p | n | collapsed | mean Kish deff | " + " | ".join(
        f"{m} coverage | {m} half-width" for m in methods
    ) + " |"
    lines = [header, "|" + "---|" * (4 + 2 * len(methods))]
    for p in PS:
        for n in NS:
            sample = simulate(p, n, reps, min_cell, SCENARIOS[scenario], rng)
            cells = []
            for method in methods:
                lo, hi = interval_runner(method)(sample, n)
                covered = (lo <= p) & (p <= hi)
                cells.append(f"{100 * covered.mean():.1f} %")
                cells.append(f"{100 * np.mean(hi - lo) / 2:.1f}")
            deff = np.mean(n / sample["n_eff"])
            collapsed = 100 * sample["collapsed"].mean()
            lines.append(f"| {p:.2f} | {n} | {collapsed:.0f} % | {deff:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_against_poststratify(seed: int, replicates: int = 50) -> None:
    """The vectorised cell weights must equal `poststratify` on respondent-level data; stop if not."""
    for min_cell in (1, DEFAULT_MIN_CELL):
        for n in NS[:2]:
            rng = np.random.default_rng(seed)
            sample = simulate(0.9, n, replicates, min_cell, SCENARIOS["informative"], rng)
            rng = np.random.default_rng(seed)  # replay the same draws at respondent level
            p_h = cell_shares_satisfied(0.9, SCENARIOS["informative"])
            draw_prob = SHARES * RESPONSE_RATES / (SHARES @ RESPONSE_RATES)
            n_h = rng.multinomial(n, draw_prob, size=replicates)
            x_h = rng.binomial(n_h, p_h)
            frame = pd.DataFrame({"unit": "u", "cell": range(4), "served": SHARES})
            for r in range(replicates):
                cells = np.repeat(np.arange(4), n_h[r])
                y = np.concatenate([np.arange(n_h[r, h]) < x_h[r, h] for h in range(4)]).astype(np.float64)
                data = pd.DataFrame({"unit": "u", "cell": cells})
                w = poststratify(data, frame, ["cell"], min_cell=min_cell).weights.to_numpy()
                if not np.isclose(w @ y / w.sum(), sample["est"][r], rtol=1e-12):
                    raise SystemExit(f"bench weights disagree with poststratify (n={n}, replicate {r})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--min-cells", type=int, nargs="+", default=None,
                        help="only the default interval and R's wilson, once per smallest weighting cell")
    args = parser.parse_args()
    started = time.perf_counter()
    check_against_poststratify(args.seed)
    if args.min_cells is not None:
        print(f"Replicates per row: {args.reps:,}; seed {args.seed}. Half-widths in percentage points.\n")
        for min_cell in args.min_cells:
            for scenario in SCENARIOS:
                print(f"### Scenario {scenario}, min_cell = {min_cell}\n")
                methods = (DEFAULT_INTERVAL_METHOD, "wilson")
                print(table(args.reps, args.seed, min_cell, methods, scenario) + "\n")
        print(f"({time.perf_counter() - started:.1f} s)")
        return
    mc_se = 100 * np.sqrt(0.95 * 0.05 / args.reps)
    print(f"Replicates per row: {args.reps:,} (Monte Carlo s.e. of a 95 % coverage: {mc_se:.2f} points); "
          f"seed {args.seed}. Half-widths in percentage points.\n")
    methods = (DEFAULT_INTERVAL_METHOD, "wilson", "wilson_kish", "beta", "cp_kish")
    for scenario in SCENARIOS:
        print(f"### Scenario {scenario}, default collapse rule (min_cell = {DEFAULT_MIN_CELL})\n")
        print(table(args.reps, args.seed, DEFAULT_MIN_CELL, methods, scenario) + "\n")
    for min_cell in (1, 10):
        print(f"### Scenario informative, min_cell = {min_cell} (sensitivity of the collapse rule)\n")
        print(table(args.reps, args.seed, min_cell, (DEFAULT_INTERVAL_METHOD, "wilson", "wilson_kish"),
                    "informative") + "\n")
    print("### Every interval of analysis.intervals, scenario informative, default collapse rule\n")
    print(table(args.reps, args.seed, DEFAULT_MIN_CELL, INTERVAL_METHODS, "informative"))
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
