"""The analysis command line end to end on a large file: reading, checking, computing, writing.

The synthetic year of `bench/indices.py` (seeded) is written once as CSV and as Parquet; each run is a
fresh `python -m analysis` process, so its wall time includes start-up and parsing, and its peak
resident memory (ru_maxrss of that child alone, from os.wait4) is its own. The baseline, in the same
run, is the whole-table path (``--no-stream``: the file read at once, as before the streamed reader)
with pandas' C parser; then the streamed path with pandas' C parser in chunks, Arrow's CSV reader
(the default) and Parquet. The streamed outputs must be byte-identical to each other; against the
whole-table output the script prints the largest relative difference of any number (the same sums
added in another order) and whether every text column (levels, verdicts, flags) is identical.

With `--r`, R's `survey` package computes the criterion indices of the same file in the same run
(bench/analysis_r.R: the same design, every unit, parent and the total; the element and overall
indices left out, so R's time is a lower bound of the whole table's), timed the same way, and its
estimates and SEs are compared with the command line's criterion rows.

Usage: python bench/analysis_cli.py [--rows 1000000] [--repeat 3] [--dir /tmp/hailong-bench] [--r]
Prints a table; asserts nothing about timing. On a busy machine read the CPU column (user + system time
of all the process's threads) rather than the wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.indices import N_CRITERIA, N_ELEMENTS, synthetic_year

ROOT = Path(__file__).resolve().parents[1]


def write_inputs(rows: int, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"csv": directory / f"responses-{rows}.csv", "parquet": directory / f"responses-{rows}.parquet",
             "definition": directory / "definition.csv", "parents": directory / "parents.csv"}
    if not (paths["csv"].exists() and paths["parquet"].exists()):
        data, parents = synthetic_year(rows)
        data["parent"] = data["unit"].map(parents)
        data.to_csv(paths["csv"], index=False)
        data.to_parquet(paths["parquet"], index=False)
    per_element = N_CRITERIA // N_ELEMENTS
    paths["definition"].write_text("criterion,element\n" + "".join(
        f"c{k:02d},e{k // per_element + 1}\n" for k in range(N_CRITERIA)), encoding="utf-8")
    return paths


def run_cli(source: Path, definition: Path, out: Path, engine: str | None, *extra: str
            ) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, all threads) and peak MiB of one CLI process."""
    command = [sys.executable, "-m", "analysis", "indices", "--responses", str(source), "--definition",
               str(definition), "--by", "unit", "--parent-col", "parent", "--weight-col", "w",
               "--target", "0.8", "--lonely-psu", "adjust", "--out", str(out)]
    if engine:
        command += ["--csv-engine", engine]
    return timed([*command, *extra], f"the CLI on {source}")


def timed(command: list[str], what: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, all threads) and peak MiB of one child process."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{what} failed: {error}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/hailong-bench"))
    parser.add_argument("--r", action="store_true", help="also time R's survey package (Rscript)")
    parser.add_argument("--inputs-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inputs_only:
        write_inputs(args.rows, args.dir)
        return 0
    # The files are written by a child process: a child forked from a bench process that had built
    # the table in memory would report that process's pages as its own peak (ru_maxrss counts them
    # until exec), as a first 4M-row run did (1284 MiB for every streamed run).
    subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--dir", str(args.dir),
                    "--inputs-only"], check=True)
    paths = write_inputs(args.rows, args.dir)
    mib = {kind: paths[kind].stat().st_size / 2**20 for kind in ("csv", "parquet")}
    print(f"{args.rows:,} respondents x {N_CRITERIA} criteria; CSV {mib['csv']:.0f} MiB, "
          f"Parquet {mib['parquet']:.0f} MiB; best/median of {args.repeat} "
          f"fresh processes; load {os.getloadavg()[0]:.1f}")
    runs = {"whole table, C parser": (paths["csv"], "c", ("--no-stream",)),
            "streamed, C parser": (paths["csv"], "c", ()),
            "streamed, Arrow (default)": (paths["csv"], None, ()),
            "streamed, parquet": (paths["parquet"], None, ())}
    outputs: dict[str, Path] = {}
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    print(f"{'input':<26} {'best s':>7} {'median s':>9} {'CPU s':>6} {'peak MiB':>9}")
    for name, (source, engine, extra) in runs.items():
        out = args.dir / f"out-{name.replace(' ', '').replace(',', '-').replace('(default)', '')}.csv"
        results = [run_cli(source, paths["definition"], out, engine, *extra) for _ in range(args.repeat)]
        times = [t for t, _, _ in results]
        best[name], cpu[name] = min(times), min(c for _, c, _ in results)
        outputs[name] = out
        print(f"{name:<26} {min(times):>7.2f} {float(np.median(times)):>9.2f} "
              f"{cpu[name]:>6.2f} {max(m for _, _, m in results):>9.0f}")
    baseline = "whole table, C parser"
    print("against the whole table (wall, CPU): " + ", ".join(
        f"{name} {best[baseline] / best[name]:.2f}x, {cpu[baseline] / cpu[name]:.2f}x"
        for name in runs if name != baseline))
    streamed = [outputs[name] for name in runs if name != baseline]
    same = all(path.read_bytes() == streamed[0].read_bytes() for path in streamed)
    print("streamed outputs byte-identical: " + ("yes" if same else "NO"))
    whole, stream = pd.read_csv(outputs[baseline]), pd.read_csv(streamed[0])
    numbers = [c for c in whole.columns if pd.api.types.is_float_dtype(whole[c])]
    text_same = whole.drop(columns=numbers).astype(str).equals(stream.drop(columns=numbers).astype(str))
    a, b = whole[numbers].to_numpy(np.float64), stream[numbers].to_numpy(np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    relative = np.abs(a[both] - b[both]) / np.maximum(np.abs(a[both]), 1e-300)
    same_nan = bool((np.isnan(a) == np.isnan(b)).all())
    print(f"against the whole table: text columns identical: {'yes' if text_same else 'NO'}; blanks in the "
          f"same places: {'yes' if same_nan else 'NO'}; largest relative difference "
          f"{float(relative.max(initial=0.0)):.1e} (se: {_largest(whole, stream, 'se'):.1e}, "
          f"est: {_largest(whole, stream, 'est'):.1e})")
    agrees = _against_r(paths["csv"], args.dir, streamed[0], best["streamed, Arrow (default)"],
                        cpu["streamed, Arrow (default)"]) if args.r else True
    return 0 if same and text_same and same_nan and agrees else 1


def _against_r(csv: Path, directory: Path, ours_path: Path, our_wall: float, our_cpu: float) -> bool:
    """Time bench/analysis_r.R on `csv` and compare its criterion indices with ours; True if they agree."""
    out = directory / "out-r.csv"
    wall, cpu_s, peak = timed(["Rscript", str(ROOT / "bench" / "analysis_r.R"), str(csv), str(out)],
                              "Rscript bench/analysis_r.R")
    print(f"{'R survey, criteria only':<26} {wall:>7.2f} {'':>9} {cpu_s:>6.2f} {peak:>9.0f}")
    print(f"R against the streamed command line (Arrow, default; the whole table): {wall / our_wall:.1f}x "
          f"wall, {cpu_s / our_cpu:.1f}x CPU")
    ours = pd.read_csv(ours_path)
    ours = ours[ours["stat_type"] == "criterion"]
    theirs = pd.read_csv(out)
    both = ours.merge(theirs, on=["domain", "stat"], suffixes=("", "_r"))
    est = float(np.abs(both["est"] - both["est_r"]).max())
    se = float((np.abs(both["se"] - both["se_r"]) / both["se_r"].abs()).max())
    print(f"R's criterion rows: {len(theirs):,}, matched {len(both):,} of ours ({len(ours):,}); largest "
          f"difference of est {est:.1e} (absolute), of se {se:.1e} (relative)")
    return len(both) == len(theirs) == len(ours) and est < 1e-9 and se < 1e-9


def _largest(whole: pd.DataFrame, stream: pd.DataFrame, column: str) -> float:
    a, b = whole[column].to_numpy(np.float64), stream[column].to_numpy(np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    return float((np.abs(a[both] - b[both]) / np.maximum(np.abs(a[both]), 1e-300)).max(initial=0.0))


if __name__ == "__main__":
    raise SystemExit(main())
