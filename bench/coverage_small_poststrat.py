"""Why the default interval covered < 94 % at n = 20 post-stratified with min_cell 5, and what helps.

Run from the repository root:

    .venv/bin/python bench/coverage_small_poststrat.py [--reps 2000] [--seed 20261204]

Same population, response model and product code as bench/coverage_calibrated.py (whose sampler it
reuses): one unit of n respondents per replicate, post-stratified to its unit x field x channel frame
by `analysis.poststratification.poststratify`, indices by `analysis.tables.compute_indices` with the
calibrated SE. For each p, n and smallest weighting cell (`min_cell`; the product's default is 2) it
prints: the share of replicates where the collapse rule merged cells (a group of fewer than 20
replicates gets "nan"), the bias of the estimate, the
default interval's coverage overall and apart for collapsed and uncollapsed replicates, and the
coverage of candidate changes to the interval: Korn-Graubard (R's "beta", Clopper-Pearson on the
design effective size), and the default interval on ``n - cells`` degrees of freedom (the residual df
of the post-stratification model) instead of ``n - 1``. The findings are in docs/analysis-coverage.md,
"Small post-stratified units (n = 20)".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.intervals import beta_interval, wilson_conservative_interval
from analysis.tables import compute_indices
from analysis.weights import poststratify
from bench.coverage_calibrated import DEFINITION, PS, SERVED_PER_UNIT, SHARES, _sample


def run(p: float, n: int, min_cell: int, reps: int, rng: np.random.Generator) -> dict[str, float]:
    data = _sample(p, n, reps, rng)
    units = data["unit"].unique()
    frame = pd.DataFrame([(u, f, c, SERVED_PER_UNIT * SHARES[i, j]) for u in units
                          for i, f in enumerate(("f0", "f1")) for j, c in enumerate(("c0", "c1"))],
                         columns=["unit", "field", "channel", "served"])
    result = poststratify(data, frame, ["field", "channel"], unit_col="unit", count_col="served",
                          min_cell=min_cell)
    table = compute_indices(data, DEFINITION, unit_col="unit", weights=result.weights,
                            calibration=result.calibration, min_n=0, lonely_psu="adjust")
    rows = table[(table["level"] == "unit") & (table["stat_type"] == "criterion")].set_index("domain")
    rows = rows.loc[units]
    est, se, df = (rows[c].to_numpy(dtype=np.float64) for c in ("est", "se", "df"))
    n_rows, floor = rows["n"].to_numpy(dtype=np.float64), rows["n_eff_floor"].to_numpy(dtype=np.float64)
    lo, hi = rows["ci_lo"].to_numpy(dtype=np.float64), rows["ci_hi"].to_numpy(dtype=np.float64)
    collapsed_units = set(result.collapsed["unit"]) if len(result.collapsed) else set()
    collapsed = np.array([u in collapsed_units for u in units])
    cells = pd.Series(result.calibration.model.indices).groupby(data["unit"].to_numpy()).nunique()
    df_cells = n_rows - cells.reindex(units).to_numpy(dtype=np.float64)
    covered = (lo <= p) & (p <= hi)
    kg_lo, kg_hi = beta_interval(est, se, df, n_rows)
    # Where the Korn-Graubard size is undefined (estimate 0 or 1, SE 0) the product falls back to the
    # boundary interval; the default's bounds stand in for it here.
    boundary = (est == 0) | (est == 1)
    kg_lo, kg_hi = np.where(boundary, lo, kg_lo), np.where(boundary, hi, kg_hi)
    cells_lo, cells_hi = wilson_conservative_interval(est, se, np.maximum(df_cells, 1.0), floor)
    cells_lo, cells_hi = np.where(boundary, lo, cells_lo), np.where(boundary, hi, cells_hi)

    def share(mask: np.ndarray) -> float:
        return 100 * float(np.mean(mask)) if mask.size >= 20 else float("nan")  # too few to say

    return {
        "collapsed": share(collapsed),
        "bias": 100 * float(np.mean(est) - p),
        "default": share(covered),
        "default_collapsed": share(covered[collapsed]),
        "default_kept": share(covered[~collapsed]),
        "half": 100 * float(np.mean(hi - lo)) / 2,
        "kg": share((kg_lo <= p) & (p <= kg_hi)),
        "kg_half": 100 * float(np.nanmean(kg_hi - kg_lo)) / 2,
        "df_cells": share((cells_lo <= p) & (p <= cells_hi)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"{args.reps} replicates per row, seed {args.seed}; post-stratified, calibrated SE; coverage of "
          "p by 95 % intervals of one criterion, half-widths and bias in points\n")
    print("| p | n | min_cell | collapsed | bias | default | collapsed: default | kept: default | half "
          "| Korn-Graubard | half | default, df = n - cells |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in PS:
        for n in (20, 50):
            for min_cell in (5, 4, 3, 2):
                r = run(p, n, min_cell, args.reps, rng)
                print(f"| {p:.2f} | {n} | {min_cell} | {r['collapsed']:.0f} % | {r['bias']:+.1f} | "
                      f"{r['default']:.1f} % | {r['default_collapsed']:.1f} % | {r['default_kept']:.1f} % | "
                      f"{r['half']:.1f} | {r['kg']:.1f} % | {r['kg_half']:.1f} | {r['df_cells']:.1f} % |",
                      flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
