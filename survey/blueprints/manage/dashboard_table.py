"""The dashboard's unit table as the manager asked for it: filtered to one verdict and sorted. The page
and its CSV/XLSX download use the same rows in the same order."""

from __future__ import annotations

from typing import Any

from flask import request

from survey.services.reporting import formats

# Verdicts in the order a manager acts on them: below target first.
VERDICT_ORDER = {"below": 0, "inconclusive": 1, "met": 2, "suppressed": 3}
SORTS = ("tree", "index", "n", "verdict")


def arranged(rows: list[dict[str, Any]], sort: str, verdict: str) -> list[dict[str, Any]]:
    """The rows filtered to one verdict (if given) and sorted (the tree order by default). The root
    row stays first: it is the total the others add up to."""
    root, rest = rows[:1], rows[1:]
    if verdict:
        rest = [r for r in rest if r["overall"] is not None and r["overall"]["verdict"] == verdict]

    def figure(row: dict[str, Any], column: str) -> float:
        number = formats.finite_number(row["overall"][column]) if row["overall"] is not None else None
        return number if number is not None else float("inf")

    if sort == "index":
        rest = sorted(rest, key=lambda r: figure(r, "est"))
    elif sort == "n":
        rest = sorted(rest, key=lambda r: figure(r, "n") if r["overall"] is not None else -1.0)
    elif sort == "verdict":
        rest = sorted(rest, key=lambda r: (VERDICT_ORDER.get(str(r["overall"]["verdict"]), 4)
                                           if r["overall"] is not None else 5, figure(r, "est")))
    return root + rest


def table_options() -> tuple[str, str]:
    """`sort` and `verdict` of the dashboard table (unknown values mean the defaults)."""
    sort = request.args.get("sort", "tree")
    verdict = request.args.get("verdict", "")
    return sort if sort in SORTS else "tree", verdict if verdict in VERDICT_ORDER else ""
