"""The dashboard's unit table as the manager asked for it: one row per commune, only the units where the
chosen instrument is used, filtered to one verdict and to one kind of change since the previous period,
and sorted. The page and its CSV/XLSX download use the same rows in
the same order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from flask import request
from markupsafe import Markup

from survey.blueprints.manage import bp
from survey.services.reporting import formats
from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.labels import CHANGES as CHANGE_WORDS

# Verdicts in the order a manager acts on them: below target first.
VERDICT_ORDER = {"below": 0, "inconclusive": 1, "met": 2, "suppressed": 3}
SORTS = ("tree", "index", "n", "verdict")
# The change filter's values and the `analysis.change.Direction` each keeps: a direction only when the
# change is significant; "not comparable" and "no previous period" rows match none of them.
CHANGES = {"improved": "up", "worsened": "down", "unchanged": "not_significant"}


def change_direction(row: dict[str, Any]) -> str:
    """The row's `analysis.change.Direction` value, "" when there is no previous estimate."""
    change = row.get("change")
    return "" if change is None else str(change["direction"])


def collapse_single_children(report: IndexReport, tree: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop a unit that is the only child of its parent (a commune's one service point): its row
    would repeat the parent's figures. It stays one click away on the parent's unit page."""
    children: dict[str | None, int] = {}
    for parent in report.parents.values():
        children[parent] = children.get(parent, 0) + 1
    return [(depth, code) for depth, code in tree
            if depth == 0 or children.get(report.parents.get(code)) != 1]


def with_data(report: IndexReport, tree: list[tuple[int, str]], elsewhere: set[str]
              ) -> tuple[list[tuple[int, str]], list[str]]:
    """The tree without the units where another instrument is used instead of the report's: units with
    no valid response to it in the trend window and some to another (`elsewhere`: unit codes whose own
    responses include another instrument's). Units with no response at all stay, with their targets.
    Returns the kept tree and the codes left out. The scope's own row always stays."""
    # every unit of the subtree is a domain of the analysis, with n = 0 where nobody answered
    answered = set(report.trend.loc[report.trend["n"].astype(float) > 0, "domain"])
    other: set[str] = set()
    for code in elsewhere:  # a unit and its ancestors have responses to another instrument
        node: str | None = code
        while node is not None and node not in other:
            other.add(node)
            node = report.parents.get(node)
    kept = [(depth, code) for depth, code in tree if depth == 0 or code in answered or code not in other]
    return kept, [code for depth, code in tree if (depth, code) not in kept]


def arranged(rows: list[dict[str, Any]], sort: str, verdict: str, change: str = "") -> list[dict[str, Any]]:
    """The rows filtered to one verdict and one kind of change (if given) and sorted (the tree order by
    default). The root row stays first: it is the total the others add up to."""
    root, rest = rows[:1], rows[1:]
    if verdict:
        rest = [r for r in rest if r["overall"] is not None and r["overall"]["verdict"] == verdict]
    if change:
        rest = [r for r in rest if change_direction(r) == CHANGES[change]]

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


def table_options() -> tuple[str, str, str]:
    """`sort`, `verdict` and `change` of the dashboard table (unknown values mean the defaults)."""
    sort = request.args.get("sort", "tree")
    verdict = request.args.get("verdict", "")
    change = request.args.get("change", "")
    return (sort if sort in SORTS else "tree", verdict if verdict in VERDICT_ORDER else "",
            change if change in CHANGES else "")


@bp.app_template_global("change_badge")
def change_badge(change: Any) -> Markup:
    """The change since the previous period: a shape, the difference in points when there is one, and a
    word (never colour alone)."""
    def part(name: str) -> Any:  # a unit's change: a Series or a row's mapping; a criterion's: a dataclass
        return change[name] if isinstance(change, pd.Series | Mapping) else getattr(change, name)

    direction = "" if change is None else str(part("direction"))
    symbol, word = CHANGE_WORDS.get(direction, ("", direction))
    points = formats.finite_number(part("diff")) if change is not None else None
    figure = f" {formats.signed(points * 100, 1)}" if points is not None else ""
    html = '<span class="change change-{}"><span aria-hidden="true">{}</span>{} <small>{}</small></span>'
    return Markup(html).format(direction or "none", symbol, figure, word)
