"""Time and memory of computing every index for every unit, parent and the total.

A synthetic year (seeded): respondents spread unevenly over 1,000 units under 50 parents, 20 criteria in
5 elements on the SIPAS 5-level scale with N/A (0) and item nonresponse, two separately reported items,
and post-stratification-like weights drawn per unit x cell. Each size runs in a fresh subprocess so that
its peak resident memory (ru_maxrss) is its own.

Usage: python bench/indices.py [--sizes 100000,1000000,4000000] [--repeat 3]
Prints a table; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.tables import compute_indices
from instruments.index import IndexDefinition, SeparateDefinition

N_UNITS, N_PARENTS, N_CRITERIA, N_ELEMENTS = 1000, 50, 20, 5


def definition() -> IndexDefinition:
    pairs = [(f"c{k:02d}", f"e{k // (N_CRITERIA // N_ELEMENTS) + 1}") for k in range(N_CRITERIA)]
    base = IndexDefinition.from_mapping(pairs, key="bench")
    separate = (
        SeparateDefinition("harass", "integrity", (1, 2, 3), frozenset({1})),
        SeparateDefinition("overall", "overall", (1, 2, 3, 4, 5), frozenset({4, 5})),
    )
    return dataclasses.replace(base, separate=separate)


def synthetic_year(n: int, seed: int = 2026) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    popularity = rng.lognormal(0, 1, N_UNITS)
    unit = rng.choice(N_UNITS, n, p=popularity / popularity.sum())
    unit_names = np.array([f"u{i:04d}" for i in range(N_UNITS)])
    parents = {unit_names[i]: f"p{i % N_PARENTS:02d}" for i in range(N_UNITS)}
    cell = rng.integers(0, 4, n)
    cell_weight = rng.lognormal(0, 0.4, (N_UNITS, 4))
    data = {"unit": unit_names[unit], "w": cell_weight[unit, cell] * rng.uniform(0.9, 1.1, n)}
    quality = rng.beta(8, 2, N_UNITS)[unit]
    for k in range(N_CRITERIA):
        satisfied = rng.random(n) < quality
        codes = np.where(satisfied, rng.integers(4, 6, n), rng.integers(1, 4, n)).astype(np.float32)
        codes[rng.random(n) < 0.04] = 0  # not applicable
        codes[rng.random(n) < 0.05] = np.nan  # item nonresponse
        data[f"c{k:02d}"] = codes
    data["harass"] = rng.choice(np.array([1, 2, 3], dtype=np.float32), n, p=[0.85, 0.1, 0.05])
    data["overall"] = np.where(rng.random(n) < quality, 5, 3).astype(np.float32)
    return pd.DataFrame(data), parents


def run_one(n: int, repeat: int) -> dict[str, float]:
    data, parents = synthetic_year(n)
    spec = definition()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times, cpu = [], []
    table = pd.DataFrame()
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        table = compute_indices(data, spec, unit_col="unit", parents=parents, weight_col="w",
                                targets=0.8, lonely_psu="adjust")
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"n": n, "rows_out": len(table), "domains": int(table["domain"].nunique()),
            "best_s": min(times), "median_s": float(np.median(times)), "cpu_s": min(cpu),
            "load": os.getloadavg()[0],
            "data_mib": rss_before, "peak_mib": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,4000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blas-threads", default="1",
                        help="OPENBLAS_NUM_THREADS for the measured process (default 1: the per-cell "
                             "products are small, and threads only contend on a 2-core machine)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.repeat)))
        return 0
    env = {**os.environ, "OPENBLAS_NUM_THREADS": args.blas_threads, "OMP_NUM_THREADS": args.blas_threads}
    print(f"{N_UNITS} units under {N_PARENTS} parents, {N_CRITERIA} criteria in {N_ELEMENTS} elements, "
          f"2 separate items; best/median of {args.repeat} runs; peak = process ru_maxrss (data included); "
          f"BLAS threads {args.blas_threads}")
    print(f"{'respondents':>12} {'domains':>8} {'table rows':>10} {'best s':>8} {'median s':>9} "
          f"{'CPU s':>6} {'RSS before MiB':>15} {'peak MiB':>9} {'load':>5}")
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(size), "--repeat", str(args.repeat)],
                             capture_output=True, text=True, check=True, env=env)
        r = json.loads(out.stdout)
        print(f"{r['n']:>12,} {r['domains']:>8} {r['rows_out']:>10,} {r['best_s']:>8.2f} "
              f"{r['median_s']:>9.2f} {r['cpu_s']:>6.2f} {r['data_mib']:>15.0f} {r['peak_mib']:>9.0f} "
              f"{r['load']:>5.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
