"""Anonymised microdata: one row per valid response, weighted, coarsened and checked before release.

What a row holds: the instrument id and version and the index formula, the unit at the requested level
and its parent, the period (a month by default; a day, week, quarter or year when asked; never a time
of day), the channel and the counter's procedure field (as codes), every coded item's raw answer, the
final weight and the design variables (``stratum`` = the exported unit, ``weight_cell`` = an opaque
number of the weighting cell). What it never holds: response ids, form nonces, idempotency keys,
counters, submission times, statuses, or anything else that joins back to the live database. Rows
are shuffled, so their order says nothing about when a response came in.

Free text is left out unless asked for; then each released response's text answers are scrubbed of
personal data (`scrubber.scrubbed_texts`) and a text that may name someone is left out.

Coded values: an item's raw code (``0`` = "not applicable" where the scale has it), an empty cell =
not answered, `SUPPRESSED` (-3) = blanked by disclosure control. Before release the rows go through
`analysis.disclosure.protect` with the quasi-identifiers of `quasi_identifiers_for` (the
instrument's *profile* items, the channel, the unit, the period, the procedure field and the weighting
cell) and the instrument's *integrity* items as sensitive; a request that would need more suppression
than the budget allows is refused (`MicrodataRefused`) with what to coarsen.

Weights are the dashboard's (`survey.services.reporting.period_weights.respondent_weights`:
post-stratified to served dossiers per unit × procedure field × month), computed on whole calendar
months and then restricted to the requested days, so the exported weights reproduce the published indices.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analysis.disclosure import (
    DEFAULT_BUDGET,
    DEFAULT_K,
    DEFAULT_L,
    DisclosureRefused,
    DisclosureReport,
    DisclosureRules,
    Granularity,
    QuasiIdentifier,
    generalise,
    period_labels,
    protect,
)
from analysis.poststratification import DEFAULT_MIN_CELL
from instruments.index import IndexDefinition
from instruments.model import Instrument, MultipleChoiceItem
from survey.local_time import TIMEZONE
from survey.models import Channel, Unit, UnitKind
from survey.services.disclosure.scrubber import scrubbed_texts
from survey.services.reporting.period_weights import respondent_weights
from survey.services.reporting.periods import month_end
from survey.services.reporting.respondent_data import load_respondents
from survey.services.staff.access import subtree_ids

SUPPRESSED = -3
CHANNEL_CODES: Mapping[str, int] = {channel.value: code for code, channel in enumerate(Channel, start=1)}
DESIGN_COLUMNS = ("weight", "stratum", "weight_cell")
# Merged age bands of the SIPAS profile item: code of the merged band -> (codes merged, labels vi/en).
AGE_BANDS_MERGED: Mapping[int, tuple[tuple[int, ...], tuple[str, str]]] = {
    1: ((1, 2), ("Từ 18 đến 34", "18–34")),
    3: ((3, 4), ("Từ 35 đến 60", "35–60")),
    5: ((5,), ("Trên 60", "Over 60")),
}


class MicrodataRefused(ValueError):
    """The request cannot be released: disclosure control refused it, or it selects nothing."""

    def __init__(self, message: str, *, code: str, refusal: DisclosureRefused | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.refusal = refusal


@dataclass(frozen=True)
class MicrodataRequest:
    """What a researcher asks for. `unit_level` is a unit kind (the response's unit is replaced by its
    nearest ancestor of that kind) or None (the unit the response was given at)."""

    unit_code: str
    first: date
    last: date
    instrument: Instrument
    unit_level: UnitKind | None = None
    period: Granularity = "month"
    merge_age_bands: bool = False
    # Columns blanked in every row (the strongest coarsening): they stay in the file, all SUPPRESSED,
    # so every export of an instrument has the same columns and the analysis package reads it.
    omit: tuple[str, ...] = ()
    include_text: bool = False  # scrubbed free text of released responses; names flagged -> left out
    k: int = DEFAULT_K
    l: int = DEFAULT_L  # noqa: E741 - the letter of the literature
    budget: float = DEFAULT_BUDGET


@dataclass(frozen=True)
class Microdata:
    """The released table (coded values, see the module docstring) and what describes it."""

    request: MicrodataRequest
    table: pd.DataFrame
    item_columns: tuple[str, ...]
    field_codes: dict[int, str]  # code -> the counter's procedure field
    weighting: str
    weighted: bool
    report: DisclosureReport
    sensitive: tuple[str, ...]
    quasi_identifiers: tuple[str, ...]
    formula: str
    merged_age_bands: bool = field(default=False)
    omitted: tuple[str, ...] = ()


def quasi_identifiers_for(instrument: Instrument) -> tuple[tuple[QuasiIdentifier, ...], tuple[str, ...]]:
    """The quasi-identifiers (in suppression order) and sensitive items of `instrument`.

    Declared by the instrument's index definition: items reported in the *profile* group (age band,
    sex, procedure field, insurance ...) are what an outsider may know; items in the *integrity* group
    (harassment, extra payment) are sensitive. Design columns are never blanked, only coarsened.
    """
    separate = instrument.index.separate
    profile = [s.item for s in separate if s.group == "profile"]
    sensitive = tuple(s.item for s in separate if s.group == "integrity")
    design = ("unit", "period", "field", "weight_cell")
    quasi = (*(QuasiIdentifier(c) for c in profile), QuasiIdentifier("channel"),
             *(QuasiIdentifier(c, suppressible=False) for c in design))
    return quasi, sensitive


# Item types by what an export makes of them: one coded column, or free text (scrubbed, on request).
ONE_CODE_TYPES = frozenset({"scale", "single", "number"})
TEXT_TYPES = frozenset({"short_text", "long_text"})


def coded_items(instrument: Instrument) -> list[str]:
    """Exported item columns: scale, single-choice and number items, then multiple-choice options."""
    out: list[str] = []
    for item in instrument.items():
        if item.type in ONE_CODE_TYPES:
            out.append(item.id)
        elif isinstance(item, MultipleChoiceItem):
            out.extend(f"{item.id}__{option.code}" for option in item.options)
    return out


def _text_items(instrument: Instrument) -> list[str]:
    return [item.id for item in instrument.items() if item.type in TEXT_TYPES]


def _month_span(first: date, last: date) -> tuple[date, date]:
    return first.replace(day=1), month_end(last)


def _ancestors(session: Session, ids: set[int]) -> dict[str, tuple[str | None, list[tuple[str, str]]]]:
    """code -> (parent code, [(kind, code) of the unit and its ancestors, nearest first])."""
    rows = session.execute(sa.select(Unit.id, Unit.code, Unit.kind, Unit.parent_id)).all()
    by_id = {uid: (code, str(kind), parent) for uid, code, kind, parent in rows}
    out: dict[str, tuple[str | None, list[tuple[str, str]]]] = {}
    for uid in ids:
        code, _, parent = by_id[uid]
        chain: list[tuple[str, str]] = []
        node: int | None = uid
        while node is not None and len(chain) < 50:
            chain.append((by_id[node][1], by_id[node][0]))
            node = by_id[node][2]
        out[code] = (by_id[parent][0] if parent is not None else None, chain)
    return out


def _unit_at_level(chains: dict[str, tuple[str | None, list[tuple[str, str]]]], level: UnitKind | None,
                   ) -> tuple[dict[str, str], dict[str, str | None]]:
    """unit code -> exported unit code (nearest ancestor of kind `level`, or the unit itself), and
    exported unit code -> its parent's code."""
    exported: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    for code, (_, chain) in chains.items():
        index = 0
        if level is not None:
            index = next((i for i, (kind, _) in enumerate(chain) if kind == level.value), len(chain) - 1)
        exported[code] = chain[index][1]
        parents[chain[index][1]] = chain[index + 1][1] if index + 1 < len(chain) else None
    return exported, parents


def build_microdata(session: Session, request: MicrodataRequest, *, tz: str = TIMEZONE,
                    min_cell: int = DEFAULT_MIN_CELL) -> Microdata:
    """The protected microdata of `request` (flushes nothing, writes nothing).

    Raises
    ------
    MicrodataRefused
        ``E-MICRODATA-UNIT`` for an unknown unit, ``E-MICRODATA-EMPTY`` when no valid response
        matches, ``E-MICRODATA-UNSAFE`` when disclosure control refuses (its message says what to
        coarsen).
    """
    if request.last < request.first:
        raise MicrodataRefused("the end date is before the start date", code="E-MICRODATA-DATES")
    root = session.scalar(sa.select(Unit).where(Unit.code == request.unit_code))
    if root is None:
        raise MicrodataRefused(f"unknown unit {request.unit_code!r}", code="E-MICRODATA-UNIT")
    instrument = request.instrument
    ids = subtree_ids(session, [root.id])
    month_first, month_last = _month_span(request.first, request.last)
    loaded = load_respondents(session, ids, month_first, month_last, instrument, tz=tz)
    frame = loaded.frame
    weighting_result, weighting = respondent_weights(session, frame, ids, month_first, month_last, True,
                                                     min_cell)
    weights = None if weighting_result is None else weighting_result.weights
    in_range = (frame["submitted"] >= request.first) & (frame["submitted"] <= request.last)
    frame = frame.loc[in_range].copy()
    if frame.empty:
        raise MicrodataRefused("no valid responses match this request", code="E-MICRODATA-EMPTY")
    frame["weight"] = weights.loc[frame.index].to_numpy(float) if weights is not None else 1.0
    chains = _ancestors(session, ids)
    exported, parents = _unit_at_level(chains, request.unit_level)
    leaf = frame["unit"]
    frame["unit"] = leaf.map(exported)
    frame["parent_unit"] = frame["unit"].map(parents)
    frame["period"] = period_labels(pd.to_datetime(frame["submitted"]), request.period)
    frame["channel"] = frame["channel"].map(CHANNEL_CODES).astype(float)
    fields = sorted({str(f) for f in frame["field"].dropna()})
    field_codes = {code: name for code, name in enumerate(fields, start=1)}
    frame["field"] = frame["field"].map({name: code for code, name in field_codes.items()}).astype(float)
    frame["stratum"] = frame["unit"]
    frame["weight_cell"] = _opaque_cells(leaf, frame["month"], frame["weight"])
    omittable = {i.split("__")[0] for i in coded_items(instrument)} | {"channel", "field"}
    unknown = sorted(set(request.omit) - omittable)
    if unknown:
        raise MicrodataRefused(f"no such item to omit: {', '.join(unknown)}", code="E-MICRODATA-OMIT")
    items = coded_items(instrument)
    omitted = [c for c in ("channel", "field", *items) if c.split("__")[0] in request.omit]
    for column in omitted:
        frame[column] = float(SUPPRESSED)
    if request.merge_age_bands and "age_band" in items and "age_band" not in omitted:
        merged = {code: band for band, (codes, _) in AGE_BANDS_MERGED.items() for code in codes}
        frame["age_band"] = generalise(frame["age_band"], {float(k): float(v) for k, v in merged.items()})
    quasi, sensitive = quasi_identifiers_for(instrument)
    quasi = tuple(q for q in quasi if q.column in frame.columns and q.column not in omitted)
    sensitive = tuple(s for s in sensitive if s not in omitted)
    rules = DisclosureRules(quasi, sensitive, k=request.k, l=request.l, budget=request.budget)
    try:
        protected = protect(frame, rules)
    except DisclosureRefused as refused:
        raise MicrodataRefused(refusal_advice(refused), code="E-MICRODATA-UNSAFE", refusal=refused) from None
    table = protected.data.copy()
    text_items = _text_items(instrument) if request.include_text else []
    if text_items:
        texts = scrubbed_texts(session, [int(i) for i in table["response_id"]])
        for item in text_items:
            table[item] = [texts.get((int(rid), item)) for rid in table["response_id"]]
    for column in protected.suppressed.columns:
        if protected.suppressed[column].any():  # only coded columns are ever blanked
            table.loc[protected.suppressed[column], column] = SUPPRESSED
    definition = IndexDefinition.from_instrument(instrument)
    table.insert(0, "instrument_id", instrument.id)
    table.insert(1, "instrument_version", instrument.version)
    table.insert(2, "index_formula", definition.formula)
    columns = ["instrument_id", "instrument_version", "index_formula", "unit", "parent_unit", "period",
               "channel", "field", *items, *text_items, *DESIGN_COLUMNS]
    table = _shuffled(table[columns])
    return Microdata(request, table, (*items, *text_items), field_codes, weighting, weights is not None,
                     protected.report, sensitive, tuple(q.column for q in quasi), definition.formula,
                     request.merge_age_bands, tuple(omitted))


def refusal_advice(refused: DisclosureRefused) -> str:
    """What to coarsen, in words: the unit level or period when whole records were too rare, then the
    columns that cost the most suppressed cells (merge the age bands or leave them out)."""
    report = refused.report
    steps = []
    if "(records)" in refused.costliest:
        steps.append(f"a higher unit level or a longer period ({report.records_removed} responses would "
                     "otherwise be left out)")
    columns = [c for c in refused.costliest if c != "(records)"]
    if columns:
        steps.append("merge or omit " + ", ".join(columns))
    return (f"disclosure control would suppress {report.suppression_rate:.1%} of cells, over the budget of "
            f"{report.budget:.0%}; coarsen the request: " + "; ".join(steps))


def _opaque_cells(leaf: pd.Series, month: pd.Series, weight: pd.Series) -> pd.Series:
    """A number per weighting cell (unit × month × weight), drawn at random for each export, so it
    groups the rows of one cell without naming the unit or ordering the cells."""
    keys = leaf.astype(str) + "\x1f" + month.astype(str) + "\x1f" + weight.map(repr)
    distinct = keys.unique()
    numbers = np.random.default_rng(secrets.randbits(64)).permutation(len(distinct)) + 1
    return keys.map(dict(zip(distinct, numbers.tolist(), strict=True))).astype(int)


def _shuffled(table: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by unit and period, in random order within them; the index is renumbered."""
    order = np.random.default_rng(secrets.randbits(64)).permutation(len(table))
    shuffled = table.iloc[order]
    return shuffled.sort_values(["unit", "period"], kind="stable").reset_index(drop=True)
