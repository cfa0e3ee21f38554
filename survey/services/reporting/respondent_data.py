"""Respondents out of the database, shaped for `analysis`: one row per response, one column per item.

Two queries per load: the responses (one row each), and their long-form answers (one row per response
× item × chosen code), read as the driver gives them (`survey.raw_rows`) and placed into one column per
item with numpy (`_pivoted`); no Python loop over responses.

Columns of the loaded frame
---------------------------
``response_id``, ``unit`` (unit code), ``parent`` (parent unit code, None at the root), ``counter``
(counter code or None), ``field`` (the procedure field copied from the counter at submission; called
`field` because `procedure_field` is also an item of the SIPAS instrument), ``channel``, ``submitted``
(local date in the configured time zone), ``month`` ("YYYY-MM" of that date), ``status``,
``status_reason``, then one column per coded item holding its raw code (NaN when not answered):
scale, single-choice and number items. Multiple-choice items become one 0/1 column per option,
``<item>__<code>`` (1 = chosen; 0 also when the item was not shown); they never enter the index.
Text items are not loaded: comments are read through `survey.services.disclosure.scrubber` only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from instruments.model import Instrument, MultipleChoiceItem, NumberItem, ScaleItem, SingleChoiceItem
from survey.local_time import TIMEZONE, utc_bounds
from survey.models import ALL, Answer, Counter, IndexAggregate, Response, ResponseStatus, ServedCount, Unit
from survey.query_lists import one_of
from survey.raw_rows import raw_rows
from survey.services.organisation.unit_trees import kept_tree
from survey.services.reporting.index_cache import (
    Version,
    VersionedCache,
    data_version,
    responses_revision,
    settings_of,
    settings_version,
)
from survey.services.reporting.periods import is_calendar_month, month_spans
from survey.services.staff.access import subtree_ids
from survey.services.weighting.frame_levels import FrameCell, served_by_field

META_COLUMNS = ("response_id", "unit", "parent", "counter", "field", "channel", "submitted", "month",
                "status", "status_reason")


@dataclass(frozen=True)
class RespondentData:
    """Loaded respondents and what was left out.

    Attributes
    ----------
    frame : pandas.DataFrame
        Responses with a status in `statuses`, columns as in the module docstring.
    excluded : pandas.DataFrame
        Counts of the responses left out, by ``status`` and ``status_reason`` (column ``n``).
    instrument_key : str
        ``id@version`` loaded.
    item_columns : tuple of str
        The item columns, in questionnaire order.
    """

    frame: pd.DataFrame
    excluded: pd.DataFrame
    instrument_key: str
    item_columns: tuple[str, ...]

    @property
    def excluded_total(self) -> int:
        """How many responses were left out."""
        return int(self.excluded["n"].sum()) if len(self.excluded) else 0



def unit_parent_map(session: Session, root_id: int) -> dict[str, str | None]:
    """``unit code -> parent code`` for the subtree of `root_id`; the root maps to None.

    The analysis hierarchy: every node becomes a domain, parents pool their descendants. Read once
    per process while the tree is unchanged (`unit_trees`: a page asks for its province's map several
    times, and every page for its own); each caller gets its own copy.
    """
    return dict(kept_tree(session, ("unit_parent_map", root_id), lambda: _read_parent_map(session, root_id)))


def unit_names(session: Session, ids: Collection[int]) -> dict[str, tuple[int, str, str, str]]:
    """``unit code -> (id, name_vi, name_en, kind)`` of units `ids` (kept like the tree: `unit_trees`)."""
    def read() -> dict[str, tuple[int, str, str, str]]:
        rows = session.execute(sa.select(Unit.id, Unit.code, Unit.name_vi, Unit.name_en, Unit.kind)
                               .where(one_of(session, Unit.id, ids))).all()
        return {code: (uid, vi, en, str(kind)) for uid, code, vi, en, kind in rows}

    return dict(kept_tree(session, ("unit_names", frozenset(ids)), read))


def _read_parent_map(session: Session, root_id: int) -> dict[str, str | None]:
    ids = subtree_ids(session, [root_id])
    parent = aliased(Unit)
    rows = session.execute(
        sa.select(Unit.id, Unit.code, parent.code).outerjoin(parent, parent.id == Unit.parent_id)
        .where(one_of(session, Unit.id, ids))
    ).all()
    return {code: (None if unit_id == root_id else parent_code) for unit_id, code, parent_code in rows}


def _item_columns(instrument: Instrument) -> tuple[list[str], list[tuple[str, int]]]:
    coded: list[str] = []
    multi: list[tuple[str, int]] = []
    for item in instrument.items():
        if isinstance(item, ScaleItem | SingleChoiceItem | NumberItem):
            coded.append(item.id)
        elif isinstance(item, MultipleChoiceItem):
            multi.extend((item.id, option.code) for option in item.options)
    clash = set(coded) & set(META_COLUMNS)
    if clash:
        raise ValueError(f"item ids clash with respondent columns: {sorted(clash)}")
    return coded, multi


@dataclass(frozen=True)
class _Month:
    """A month of a subtree's respondents as kept: every response read (`_rows`, whatever its status), the
    valid ones and the counts of the others, the data version they were read under, and the last id."""

    rows: pd.DataFrame
    data: RespondentData
    version: Version
    last_id: int | None

    @staticmethod
    def of(rows: pd.DataFrame, instrument: Instrument, version: Version) -> _Month:
        data = _respondents(rows, instrument, (ResponseStatus.VALID,))
        return _Month(rows, data, version, int(rows["response_id"].max()) if len(rows) else None)


_CACHE: VersionedCache[_Month] = VersionedCache(512)  # month slices: a dozen subtrees x a year+


def load_respondents_cached(
    session: Session, unit_ids: Collection[int], first: date, last: date, instrument: Instrument,
    *, tz: str = TIMEZONE,
) -> RespondentData:
    """`load_respondents` (valid only) behind a small per-process cache, month by month.

    The pivot costs about 0.1 ms per response on SQLite, seconds for a province-year, while a page
    view needs it at once. Each calendar month is cached apart and reused while its data version
    (`index_cache.data_version`: the month's aggregates, the responses left out, frames and targets)
    is unchanged, so new responses and status changes are seen at once, and a new response re-reads
    only its own month. The months not cached are read in one query (a ward's year after a restart:
    twelve queries and pivots cost 0.3 s). A month whose responses were only added to since it was last
    read takes the new rows alone (`_grown`).
    """
    url = str(session.get_bind().engine.url)
    spans = month_spans(first, last)
    if not spans:
        return load_respondents(session, unit_ids, first, last, instrument, tz=tz)
    keys = {span: (frozenset(unit_ids), *span, instrument.key, tz, url) for span in spans}
    versions = {span: data_version(session, set(unit_ids), *span) for span in spans}
    cached: dict[tuple[date, date], _Month | None] = {}
    for span in spans:
        hit = _CACHE.get(keys[span], versions[span])
        if hit is None and (before := _CACHE.latest(keys[span])) is not None:
            hit = _grown(session, unit_ids, span, instrument, tz, before, versions[span])
            if hit is not None:
                _CACHE.put(keys[span], versions[span], hit)
        cached[span] = hit
    missing = [span for span, hit in cached.items() if hit is None]
    read = {span: _Month.of(rows, instrument, versions[span])
            for span, rows in _load_months(session, unit_ids, missing, instrument, tz).items()}
    for span, loaded in read.items():
        _CACHE.put(keys[span], versions[span], loaded)
    months = [(hit if hit is not None else read[span]).data for span, hit in cached.items()]
    frames, excluded = [m.frame for m in months], [m.excluded for m in months]
    data = months[-1]  # the item columns are the instrument's, the same in every month
    non_empty = [f for f in frames if len(f)] or frames[:1]
    frame = pd.concat(non_empty, ignore_index=True) if len(non_empty) > 1 else non_empty[0]
    counted = [e for e in excluded if len(e)]
    # pandas-stubs types a column's sum as a Series even with as_index=False, which returns a DataFrame
    left_out = (cast(pd.DataFrame,
                     pd.concat(counted).groupby(["status", "status_reason"], as_index=False)["n"].sum())
                if counted else excluded[0])
    return RespondentData(frame, left_out, instrument.key, data.item_columns)


def load_respondents(
    session: Session,
    unit_ids: Collection[int],
    first: date,
    last: date,
    instrument: Instrument,
    *,
    statuses: Iterable[ResponseStatus] = (ResponseStatus.VALID,),
    tz: str = TIMEZONE,
) -> RespondentData:
    """Responses to `instrument` (its id AND version) in `unit_ids`, submitted on local days first..last.

    Only `statuses` are returned (valid by default); the others are counted in `excluded` with
    their reason. One SQL query.
    """
    return _respondents(_rows(session, unit_ids, first, last, instrument, tz), instrument, statuses)


def _load_months(session: Session, unit_ids: Collection[int], spans: list[tuple[date, date]],
                 instrument: Instrument, tz: str) -> dict[tuple[date, date], pd.DataFrame]:
    """`_rows` of each local month of `spans` (in order), in one query when there are several: each
    month's rows are the same rows, in the same order, as its own query's."""
    if len(spans) < 2:
        return {span: _rows(session, unit_ids, *span, instrument, tz) for span in spans}
    rows = _rows(session, unit_ids, spans[0][0], spans[-1][1], instrument, tz)
    out = {}
    for span in spans:
        part = rows[(rows["month"] == span[0].strftime("%Y-%m")).to_numpy()].reset_index(drop=True)
        # a month without rows: its own (empty) query, whose columns carry no data to type them
        out[span] = part if len(part) else _rows(session, unit_ids, *span, instrument, tz)
    return out


def _grown(session: Session, unit_ids: Collection[int], span: tuple[date, date], instrument: Instrument,
           tz: str, before: _Month, version: Version) -> _Month | None:
    """The month `before` (as last read, on older data) with the responses added since, when adding is all
    that happened; None otherwise (then it is read again).

    Every insert, delete and change of a response's status, reason, unit, time or instrument moves the
    month's tallies by one (`index_cache`; a response moved between two units of the subtree, by two),
    and an insert by exactly one. So when the tallies moved by as many as there are responses past the
    last id read, those responses are all that changed: a change to a row already read, a deletion, a
    response to another instrument, or one committed late under an older id (PostgreSQL hands ids out
    before commit) leaves more moves than new rows."""
    if settings_of(before.version) != settings_of(version) or before.last_id is None:  # frames, tree...
        return None
    moved = responses_revision(version) - responses_revision(before.version)
    if moved == 0:
        return _Month(before.rows, before.data, version, before.last_id)
    new = _rows(session, unit_ids, *span, instrument, tz, after_id=before.last_id) if moved > 0 else None
    if new is None or len(new) != moved:
        return None
    return _Month.of(pd.concat([before.rows, new], ignore_index=True), instrument, version)


TEXT = pd.StringDtype(na_value=np.nan)  # a text column's type whether or not a value is missing
_TEXT_COLUMNS = ("unit", "parent", "counter", "field", "channel", "status", "status_reason")


def _rows(session: Session, unit_ids: Collection[int], first: date, last: date, instrument: Instrument,
          tz: str, after_id: int | None = None) -> pd.DataFrame:
    """Every response to `instrument` in `unit_ids` on local days first..last (with an id above
    `after_id`), whatever its status, one row each by id, with the module's columns."""
    coded, multi = _item_columns(instrument)
    start, end = utc_bounds(first, last, tz)
    parent = aliased(Unit)
    chosen = (one_of(session, Response.unit_id, unit_ids), Response.instrument_id == instrument.id,
              Response.instrument_version == instrument.version,
              Response.submitted_at >= start, Response.submitted_at < end,
              *(() if after_id is None else (Response.id > after_id,)))
    query = (
        sa.select(
            Response.id.label("response_id"), Unit.code.label("unit"), parent.code.label("parent"),
            Counter.code.label("counter"), Response.procedure_field.label("field"),
            Response.channel.label("channel"), Response.submitted_at.label("submitted_at"),
            Response.status.label("status"), Response.status_reason.label("status_reason"))
        .select_from(Response)
        .join(Unit, Unit.id == Response.unit_id)
        .outerjoin(parent, parent.id == Unit.parent_id)
        .outerjoin(Counter, Counter.id == Response.counter_id)
        .where(*chosen)
        .order_by(Response.id)
    )
    result = session.execute(query)
    raw = pd.DataFrame(result.all(), columns=list(result.keys()))
    answers = raw_rows(session, sa.select(Answer.response_id, Answer.item_id, Answer.code)
                       .join(Response, Response.id == Answer.response_id).where(*chosen))
    item_names = [*coded, *(f"{item}__{code}" for item, code in multi)]
    local = pd.to_datetime(raw["submitted_at"], utc=True).dt.tz_convert(tz)
    raw["submitted"] = local.dt.date
    raw["month"] = local.dt.strftime("%Y-%m")
    raw["status"] = raw["status"].map(lambda s: ResponseStatus(s).value)
    raw["channel"] = raw["channel"].map(lambda c: str(getattr(c, "value", c)))
    if len(raw):  # one type for text, missing values or not: a month's rows, alone or with others, alike
        raw = raw.astype(dict.fromkeys(_TEXT_COLUMNS, TEXT))
    items = _pivoted(raw["response_id"].to_numpy(dtype=np.int64), answers, coded, multi)
    frame = pd.concat([raw[list(META_COLUMNS)], items.set_axis(raw.index)], axis=1)
    return frame[[*META_COLUMNS, *item_names]]


def _pivoted(response_ids: npt.NDArray[np.int64], answers: Sequence[tuple[int, str, int]], coded: list[str],
             multi: list[tuple[str, int]]) -> pd.DataFrame:
    """One row per response (`response_ids`, ascending), one column per coded item (its code, NaN when
    not answered) and per multiple-choice option (1 chosen, 0 not), from the long answers.

    The database pivoted them with ``MAX(CASE WHEN item_id = 'x' THEN code END)`` per item before: 60
    conditions on every answer, a ward's month in 19 ms where fetching the answers and placing them
    takes 7 (tests/survey/test_respondent_pivot.py compares the two)."""
    n = len(response_ids)
    row = np.searchsorted(response_ids, np.fromiter((a[0] for a in answers), np.int64, len(answers)))
    code = np.fromiter((a[2] for a in answers), np.float64, len(answers))
    item = [a[1] for a in answers]
    values = np.full((n, len(coded)), np.nan)
    where = {name: j for j, name in enumerate(coded)}
    column = np.fromiter((where.get(name, -1) for name in item), np.intp, len(answers))
    found = column >= 0
    np.fmax.at(values, (row[found], column[found]), code[found])  # the largest, as MAX() kept
    chosen = np.zeros((n, len(multi)), dtype=np.int64)
    option = {key: j for j, key in enumerate(multi)}
    column = np.fromiter((option.get((name, int(c)), -1) for name, c in zip(item, code, strict=True)),
                         np.intp, len(answers))
    found = column >= 0
    chosen[row[found], column[found]] = 1
    frame = pd.DataFrame(values, columns=coded)
    for j, (name, value) in enumerate(multi):
        frame[f"{name}__{value}"] = chosen[:, j] if n else pd.Series(dtype=object)
    return frame


def _respondents(frame: pd.DataFrame, instrument: Instrument,
                 statuses: Iterable[ResponseStatus]) -> RespondentData:
    """`_rows` of the statuses wanted, and the others counted by status and reason."""
    item_names = [name for name in frame.columns if name not in META_COLUMNS]
    wanted = {ResponseStatus(s).value for s in statuses}
    keep = frame["status"].isin(wanted)
    left_out = frame.loc[~keep, ["status", "status_reason"]].fillna({"status_reason": ""})
    excluded = (left_out.groupby(["status", "status_reason"]).size().rename("n").reset_index()
                if len(left_out) else pd.DataFrame({"status": [], "status_reason": [], "n": []}))
    return RespondentData(frame.loc[keep].reset_index(drop=True), excluded, instrument.key, tuple(item_names))


def frame_table(session: Session, unit_ids: Collection[int], first: date, last: date) -> pd.DataFrame:
    """Dossiers served per unit × procedure field × calendar month, for post-stratification.

    Columns ``unit`` (code), ``field`` (``""`` = not broken down), ``month`` ("YYYY-MM"), ``served``.
    A total row and field rows of one unit and month count once (`frame_levels.served_by_field`).
    Channels are added up: the frame's channels (how the dossier was filed) are not the survey's
    channels (how the citizen answered), so they cannot define weighting cells. Only frame rows
    covering exactly one calendar month inside first..last are used.

    Kept until a frame or target changes (`index_cache.settings_version`), and shared between processes
    like the reports: a new response does not move it, and a province's year of frames took 0.14-0.2 s
    to read and add up; each caller gets its own copy.
    """
    key = (str(session.get_bind().engine.url), tuple(sorted(unit_ids)), first, last)
    version = settings_version(session)
    table = _FRAMES.get(key, version)
    if table is None:
        table = _read_frame_table(session, unit_ids, first, last)
        _FRAMES.put(key, version, table)
    return table.copy()


_FRAMES: VersionedCache[pd.DataFrame] = VersionedCache(64, name="frames")


def _read_frame_table(session: Session, unit_ids: Collection[int], first: date, last: date) -> pd.DataFrame:
    rows = session.execute(
        sa.select(Unit.code, ServedCount.procedure_field, ServedCount.channel, ServedCount.period_start,
                  ServedCount.period_end, ServedCount.served)
        .join(Unit, Unit.id == ServedCount.unit_id)
        .where(one_of(session, ServedCount.unit_id, unit_ids), ServedCount.period_start >= first,
               ServedCount.period_end <= last)
    ).all()
    frames: dict[tuple[str, date], list[FrameCell]] = defaultdict(list)
    for code, field, channel, period_start, period_end, served in rows:
        if is_calendar_month(period_start, period_end):
            frames[(code, period_start)].append(FrameCell(field or ALL, channel or ALL, int(served)))
    # A total row and its field rows are one count, not two (`frame_levels`).
    records = [(code, field, start.strftime("%Y-%m"), served)
               for (code, start), cells in frames.items() for field, served in served_by_field(cells).items()]
    table = pd.DataFrame(records, columns=["unit", "field", "month", "served"])
    # a DataFrame (as_index=False), which pandas-stubs types as a Series
    return cast(pd.DataFrame, table.groupby(["unit", "field", "month"], as_index=False)["served"].sum())


def units_with_other_instruments(session: Session, unit_ids: Collection[int], instrument_id: str,
                                 first: date, last: date) -> set[int]:
    """Units among `unit_ids` with valid responses to an instrument other than `instrument_id` in the
    local months of first..last (the dashboard leaves them out of that instrument's table when it has
    none).

    Read from the index aggregates (a few rows per unit and month), not the responses: a million
    responses a year took two seconds a view. A response stored without the submission service (a
    bulk import) is counted here once `flask aggregates rebuild` has run; until then its unit keeps
    its row in the table, without data (the figures meanwhile read that period from the responses).
    """
    return set(session.scalars(
        sa.select(IndexAggregate.unit_id).distinct()
        .where(one_of(session, IndexAggregate.unit_id, unit_ids),
               IndexAggregate.instrument_id != instrument_id,
               IndexAggregate.respondents > 0, IndexAggregate.month >= first.strftime("%Y-%m"),
               IndexAggregate.month <= last.strftime("%Y-%m"))))
