"""Generate the seeded reference data sets used by tests/analysis/r/make_reference.R.

Run from the repository root: ``python tests/analysis/data/generate.py``. The CSVs are committed; the
R reference values are computed from the CSVs, so regenerating the data means rerunning the R script.

counters.csv: QR-style counter feedback, 12 units of very different sizes (one singleton) under a
two-level hierarchy, post-stratification-like weights, N/A (0) and missing answers, a criterion that
is all N/A in one unit, a criterion all satisfied in another, and a procedure field to cut by.

household.csv: an imported probability sample: 3 strata (districts), villages as PSUs with an fpc
(villages in the district), communes as units (each holding 1-3 villages), zones crossing strata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
CODES = np.array([0, 1, 2, 3, 4, 5], dtype=float)


def _answers(rng: np.random.Generator, n: int, quality: float) -> np.ndarray:
    probs = np.array([0.07, 0.05, 0.08, 0.15, 0.35, 0.30]) * np.array([1, 1, 1, 1, quality, quality])
    probs = probs / probs.sum()
    codes = rng.choice(CODES, size=n, p=probs)
    codes[rng.random(n) < 0.08] = np.nan  # item nonresponse
    return codes


def counters(seed: int = 20261123) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = {"u01": 1, "u02": 2, "u03": 5, "u04": 8, "u05": 15, "u06": 20, "u07": 25,
             "u08": 30, "u09": 40, "u10": 50, "u11": 60, "u12": 80}
    frames = []
    for i, (unit, size) in enumerate(sizes.items()):
        quality = 0.6 + 0.08 * (i % 6)
        frame = pd.DataFrame({"unit": unit, "field": rng.choice(["land", "justice", "business"], size)})
        for item in ("q1", "q2", "q3", "q4", "q5"):
            frame[item] = _answers(rng, size, quality)
        frame["harass"] = rng.choice([1, 2, 3, np.nan], size, p=[0.8, 0.1, 0.05, 0.05])
        frame["overall"] = _answers(rng, size, quality)
        cell_weight = {"land": 1.0, "justice": 1.8, "business": 0.7}
        frame["w"] = np.round(
            frame["field"].map(cell_weight) * rng.lognormal(0.0, 0.35, size) * (1 + i / 6), 4
        )
        day = rng.integers(0, 180, size)
        dates = pd.Timestamp("2026-01-01") + pd.to_timedelta(day, unit="D")
        frame["submitted"] = dates.strftime("%Y-%m-%d")
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    data.loc[data["unit"] == "u06", "q5"] = 0  # all N/A: q5 dropped from e2 in u06
    data.loc[data["unit"] == "u07", "q1"] = rng.choice([4, 5], (data["unit"] == "u07").sum())  # all satisfied
    return data


def household(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    strata = {"D1": (4, 20), "D2": (3, 15), "D3": (6, 30)}  # sampled villages, villages in population
    commune_number = 0
    for district, (villages, population) in strata.items():
        village_ids = [f"{district}-v{v}" for v in range(villages)]
        groups = np.array_split(np.array(village_ids), max(1, villages // 2))
        for group in groups:
            commune_number += 1
            commune = f"c{commune_number:02d}"
            zone = "Z1" if commune_number % 2 else "Z2"
            for village in group:
                size = int(rng.integers(5, 13))
                base_weight = population / villages * 40 / size
                quality = rng.uniform(0.5, 1.3)
                for _ in range(size):
                    row = {"district": district, "village": village, "commune": commune, "zone": zone,
                           "fpc": population, "w": round(base_weight * rng.uniform(0.8, 1.25), 4)}
                    for item in ("q1", "q2", "q3", "q4", "q5"):
                        row[item] = _answers(rng, 1, quality)[0]
                    row["harass"] = rng.choice([1.0, 2.0, 3.0])
                    row["overall"] = _answers(rng, 1, quality)[0]
                    rows.append(row)
    return pd.DataFrame(rows)


def _integer_codes(data: pd.DataFrame) -> pd.DataFrame:
    items = ["q1", "q2", "q3", "q4", "q5", "harass", "overall"]
    return data.astype(dict.fromkeys(items, "Int64"))


def main() -> None:
    _integer_codes(counters()).to_csv(HERE / "counters.csv", index=False)
    _integer_codes(household()).to_csv(HERE / "household.csv", index=False)
    units = [f"u{i:02d}" for i in range(1, 12)] + ["P1", "P2"]
    pd.DataFrame({"unit": units,
                  "parent": ["P1"] * 4 + ["P2"] * 4 + ["P3"] * 3 + ["G1", "G1"]}).to_csv(
        HERE / "counters_parents.csv", index=False)
    pd.DataFrame({"criterion": ["q1", "q2", "q3", "q4", "q5"], "element": ["e1", "e1", "e2", "e2", "e2"],
                  "weight": [1.0, 1.0, 2.0, 2.0, 2.0]}).to_csv(HERE / "definition.csv", index=False)


if __name__ == "__main__":
    main()
