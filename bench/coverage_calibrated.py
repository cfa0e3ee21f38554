"""Coverage of the 95 % intervals under post-stratified and raked weights, with calibrated SEs.

Run from the repository root:

    .venv/bin/python bench/coverage_calibrated.py [--reps 1000] [--reps-large N] [--min-cell N]
        [--weights poststratified raked] [--seed 20261204]

``--reps-large`` sets the replicates of the n = 1000 rows alone (default: ``--reps``): they hold most of
the run time, and their coverage is far from the 94 % aim. ``--min-cell`` is the post-stratification's
smallest cell (default: the product's `analysis.poststratification.DEFAULT_MIN_CELL`).

Prints a Markdown table (docs/analysis-coverage.md, "Post-stratified and raked designs", holds the
measured figures).

Design. A unit's dossiers fall in 2 procedure fields x 2 channels with population shares W_fc; the
cells answer the QR survey at rates a_f b_c (a multiplicative response model, under which raking to
the field and channel margins removes the bias); a respondent of cell fc is satisfied with probability
expit(c + d_f + d_c), c set so that the population share sum W_fc expit(...) is exactly p. Each
replicate is one unit of n respondents, and all replicates go through the product's own code in one
call: `analysis.poststratification.poststratify` to the unit x field x channel frame (with the default
collapse rule), or `analysis.raking.rake` to the unit x field and unit x channel margins, then
`analysis.tables.compute_indices` with the weights' calibration. Scored: the default interval and R's
wilson, with the calibrated SE and, for comparison, with the weights taken as fixed. A raking
replicate with an empty cell may have no raking solution; it is counted apart ("not raked") and
left out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.poststratification import DEFAULT_MIN_CELL
from analysis.raking import rake
from analysis.tables import compute_indices
from analysis.weights import poststratify
from instruments.index import IndexDefinition

SHARES = np.array([[0.35, 0.15], [0.30, 0.20]])  # fields x channels
FIELD_RATE = np.array([0.04, 0.10])
CHANNEL_RATE = np.array([1.0, 2.5])
FIELD_SHIFT = np.array([0.4, -0.4])
CHANNEL_SHIFT = np.array([0.3, -0.3])
PS = (0.80, 0.90, 0.95)
NS = (20, 50, 200, 1000)
DEFINITION = IndexDefinition.from_mapping([("q1", "e1")])
SERVED_PER_UNIT = 10_000


def _cell_share(p: float) -> np.ndarray:
    shift = FIELD_SHIFT[:, None] + CHANNEL_SHIFT[None, :]
    c = optimize.brentq(lambda x: float((SHARES * special.expit(x + shift)).sum()) - p, -30, 30, xtol=1e-14)
    return np.asarray(special.expit(c + shift))


def _sample(p: float, n: int, reps: int, rng: np.random.Generator) -> pd.DataFrame:
    draw = (SHARES * FIELD_RATE[:, None] * CHANNEL_RATE[None, :]).ravel()
    draw = draw / draw.sum()
    cell = rng.choice(4, size=(reps, n), p=draw).ravel()
    satisfied = rng.random(reps * n) < _cell_share(p).ravel()[cell]
    return pd.DataFrame({
        "unit": np.repeat([f"r{i}" for i in range(reps)], n),
        "field": np.array(["f0", "f1"])[cell // 2],
        "channel": np.array(["c0", "c1"])[cell % 2],
        "q1": np.where(satisfied, 5, 2),
    })


def _weights(data: pd.DataFrame, method: str, min_cell: int) -> tuple[pd.DataFrame, object, int]:
    units = data["unit"].unique()
    fields, channels = ("f0", "f1"), ("c0", "c1")
    if method == "poststratified":
        frame = pd.DataFrame([(u, f, c, SERVED_PER_UNIT * SHARES[i, j]) for u in units
                              for i, f in enumerate(fields) for j, c in enumerate(channels)],
                             columns=["unit", "field", "channel", "served"])
        return data, poststratify(data, frame, ["field", "channel"], unit_col="unit", count_col="served",
                                  min_cell=min_cell), 0
    # With an empty cell the two margins may have no solution (IPF then never converges): such units
    # are left out rather than weighted some other way.
    cells = data.assign(cell=data["field"] + data["channel"]).groupby("unit")["cell"].nunique()
    keep = cells.index[cells == 4]
    data = data[data["unit"].isin(keep)].reset_index(drop=True)
    data["unit_field"] = data["unit"] + "|" + data["field"]
    data["unit_channel"] = data["unit"] + "|" + data["channel"]
    margins = {
        "unit_field": pd.Series({f"{u}|{f}": SERVED_PER_UNIT * SHARES[i].sum()
                                 for u in keep for i, f in enumerate(fields)}),
        "unit_channel": pd.Series({f"{u}|{c}": SERVED_PER_UNIT * SHARES[:, j].sum()
                                   for u in keep for j, c in enumerate(channels)}),
    }
    return data, rake(data, margins, tol=1e-10, max_iter=1000), len(units) - len(keep)


def run(p: float, n: int, reps: int, method: str, rng: np.random.Generator,
        min_cell: int = DEFAULT_MIN_CELL) -> dict[str, float]:
    data, result, dropped = _weights(_sample(p, n, reps, rng), method, min_cell)
    out: dict[str, float] = {"dropped": dropped}
    for variant, calibration in (("calibrated", result.calibration), ("fixed", None)):  # type: ignore[attr-defined]
        table = compute_indices(data, DEFINITION, unit_col="unit", weights=result.weights,  # type: ignore[attr-defined]
                                calibration=calibration, min_n=0, all_intervals=True, lonely_psu="adjust")
        rows = table[(table["level"] == "unit") & (table["stat_type"] == "criterion")]
        for name, lo, hi in (("default", rows["ci_lo"], rows["ci_hi"]),
                             ("wilson", rows["ci_wilson_lo"], rows["ci_wilson_hi"])):
            lo_a, hi_a = lo.to_numpy(dtype=np.float64), hi.to_numpy(dtype=np.float64)
            out[f"{variant}_{name}"] = 100 * float(np.mean((lo_a <= p) & (p <= hi_a)))
            out[f"{variant}_{name}_half"] = 100 * float(np.nanmean(hi_a - lo_a)) / 2
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--reps-large", type=int, default=None, help="replicates of the n = 1000 rows")
    parser.add_argument("--min-cell", type=int, default=DEFAULT_MIN_CELL)
    parser.add_argument("--weights", nargs="+", choices=("poststratified", "raked"),
                        default=["poststratified", "raked"], help="which designs to run (default both)")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    reps_large = args.reps if args.reps_large is None else args.reps_large
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"{args.reps} replicates per row ({reps_large} at n = 1000), seed {args.seed}, post-stratification "
          f"min_cell {args.min_cell}; coverage of p by 95 % intervals of one criterion, mean half-width in "
          "points\n")
    print("| weights | p | n | default (calibrated) | half | R wilson (calibrated) | half | default (fixed) "
          "| R wilson (fixed) | not raked |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method in args.weights:
        for p in PS:
            for n in NS:
                r = run(p, n, reps_large if n == 1000 else args.reps, method, rng, args.min_cell)
                print(f"| {method} | {p:.2f} | {n} | {r['calibrated_default']:.1f} % | "
                      f"{r['calibrated_default_half']:.1f} | {r['calibrated_wilson']:.1f} % | "
                      f"{r['calibrated_wilson_half']:.1f} | {r['fixed_default']:.1f} % | "
                      f"{r['fixed_wilson']:.1f} % | {int(r['dropped'])} |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
