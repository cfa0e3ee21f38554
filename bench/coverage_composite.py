"""Coverage simulation for the composite indices (element, overall) under post-stratification weights.

Run from the repository root:

    .venv/bin/python bench/coverage_composite.py [--reps 2000] [--seed 20261123]

Prints a Markdown table (docs/analysis-coverage.md, "Composite indices", holds the measured figures).

Design. The unit, cells, response rates, scenarios and collapse rule of bench/coverage.py; each
respondent now answers 19 criteria in 5 elements (4, 4, 4, 4, 3), each not applicable with
probability 0.05. A respondent in cell h with a latent satisfaction u ~ N(0, 1) is satisfied with each
criterion independently with probability expit(c + δ_h + σ u): σ is the "halo" that makes one person's
answers agree (σ = 1: mild, σ = 2: strong). c is set so that every criterion's population share
Σ_h W_h E[expit(c + δ_h + σ u)] is exactly p, so the true element and overall indices are p.

Unlike bench/coverage.py this runs the product's own code end to end: every replicate is a unit in one
`analysis.tables.compute_indices` call (strata = unit, so replicates are independent), and the overall
index's default interval (`ci_lo`, `ci_hi`), R's `wilson` and the earlier default (Wilson on the
smaller of the design n_eff and the composite's Kish n_eff, as if the overall index were one yes/no
answer) are scored against p.
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

from analysis.intervals import wilson_conservative_interval
from analysis.poststratification import DEFAULT_MIN_CELL
from analysis.tables import compute_indices
from bench.coverage import NS, PS, RESPONSE_RATES, SCENARIOS, SHARES
from instruments.index import IndexDefinition

ELEMENT_SIZES = (4, 4, 4, 4, 3)
CRITERIA = [f"q{i + 1}" for i in range(sum(ELEMENT_SIZES))]
DEFINITION = IndexDefinition.from_mapping(
    [(q, f"e{e + 1}") for e, size in enumerate(ELEMENT_SIZES)
     for q in CRITERIA[sum(ELEMENT_SIZES[:e]):sum(ELEMENT_SIZES[:e + 1])]]
)
NOT_APPLICABLE = 0.05
HALOS = (1.0, 2.0)
ROWS_PER_CALL = 200_000
_NODES, _WEIGHTS = np.polynomial.hermite.hermgauss(60)


def _share(c: float, shifts: np.ndarray, halo: float) -> float:
    """Σ_h W_h E[expit(c + δ_h + σ u)], u ~ N(0, 1), by Gauss–Hermite quadrature."""
    inner = special.expit(c + shifts[:, None] + halo * np.sqrt(2) * _NODES[None, :]) @ _WEIGHTS
    return float(SHARES @ inner / np.sqrt(np.pi))


def _sample(p: float, n: int, reps: int, shifts: np.ndarray, halo: float, rng: np.random.Generator,
            first_unit: int) -> pd.DataFrame:
    c = optimize.brentq(lambda x: _share(x, shifts, halo) - p, -30, 30, xtol=1e-14)
    draw = SHARES * RESPONSE_RATES / (SHARES @ RESPONSE_RATES)
    n_h = rng.multinomial(n, draw, size=reps)
    cell = np.concatenate([np.repeat(np.arange(4), counts) for counts in n_h])
    collapse = np.repeat((n_h < DEFAULT_MIN_CELL).any(axis=1), n)
    with np.errstate(divide="ignore"):
        cell_weight = SHARES[None, :] / n_h
    weight = np.where(collapse, 1.0, cell_weight[np.repeat(np.arange(reps), n), cell])
    u = rng.standard_normal(reps * n)
    satisfied = rng.random((reps * n, len(CRITERIA))) < special.expit(c + shifts[cell] + halo * u)[:, None]
    codes = np.where(satisfied, 5, 2)
    codes[rng.random(codes.shape) < NOT_APPLICABLE] = 0
    data = pd.DataFrame(codes, columns=CRITERIA)
    data.insert(0, "w", weight)
    data.insert(0, "unit", np.repeat(np.arange(first_unit, first_unit + reps), n).astype(str))
    return data


def _overall_rows(data: pd.DataFrame) -> pd.DataFrame:
    table = compute_indices(data, DEFINITION, unit_col="unit", weight_col="w", min_n=0, all_intervals=True)
    return table[(table["level"] == "unit") & (table["stat_type"] == "overall_index")]


def run(p: float, n: int, reps: int, shifts: np.ndarray, halo: float,
        rng: np.random.Generator) -> dict[str, float]:
    per_call = max(1, ROWS_PER_CALL // n)
    rows = []
    for start in range(0, reps, per_call):
        rows.append(_overall_rows(_sample(p, n, min(per_call, reps - start), shifts, halo, rng, start)))
    table = pd.concat(rows, ignore_index=True)
    est, se, df, kish = (table[c].to_numpy(dtype=np.float64) for c in ("est", "se", "df", "n_eff"))
    old_lo, old_hi = wilson_conservative_interval(est, se, df, kish)
    boundary = (est == 0) | (est == 1)
    old_lo, old_hi = np.where(boundary, table["ci_lo"], old_lo), np.where(boundary, table["ci_hi"], old_hi)
    out = {}
    for name, lo, hi in (("default", table["ci_lo"], table["ci_hi"]),
                         ("wilson", table["ci_wilson_lo"], table["ci_wilson_hi"]),
                         ("old", old_lo, old_hi)):
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        out[f"{name}_coverage"] = 100 * float(np.mean((lo <= p) & (p <= hi)))
        out[f"{name}_half"] = 100 * float(np.nanmean(hi - lo)) / 2
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"{args.reps} replicates per row, seed {args.seed}; coverage of p by the overall index's "
          "95 % intervals, mean half-width in points\n")
    print("| scenario | halo σ | p | n | default | half | R wilson | half | old (composite Kish) | half |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for scenario, shifts in SCENARIOS.items():
        for halo in HALOS:
            for p in PS:
                for n in NS:
                    r = run(p, n, args.reps, shifts, halo, rng)
                    cells = [f"{r[f'{m}_coverage']:.1f} % | {r[f'{m}_half']:.1f}"
                             for m in ("default", "wilson", "old")]
                    row = f"| {scenario} | {halo:g} | {p:.2f} | {n} | " + " | ".join(cells) + " |"
                    print(row, flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
