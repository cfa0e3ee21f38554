"""`flask export microdata`: anonymised, weighted microdata with its codebook, for researchers.

The same service as the researcher page (`survey.services.disclosure.microdata`); the data file is
written to --out and the codebook beside it (`<name>.codebook.json` and `.codebook.md`). A request that
disclosure control cannot make safe exits non-zero and says what to coarsen.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from analysis.disclosure import GRANULARITIES, MIN_K
from instruments.registry import UnknownInstrument, get_instrument, parse_spec
from survey.extensions import db
from survey.local_time import local_date
from survey.models import UnitKind
from survey.services.disclosure.microdata import MicrodataRefused, MicrodataRequest, build_microdata
from survey.services.disclosure.microdata_files import FORMATS, bundle

group = AppGroup("export", help="Exports for researchers: anonymised microdata with a codebook.")


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=name) from None


@group.command("microdata")
@click.option("--unit", "unit_code", required=True, help="Code of the unit whose subtree is exported.")
@click.option("--from", "first", required=True, help="First day (YYYY-MM-DD, local time).")
@click.option("--to", "last", required=True, help="Last day (YYYY-MM-DD, inclusive).")
@click.option("--instrument", "spec", required=True, help="Instrument as ID@VERSION.")
@click.option("--format", "file_format", type=click.Choice(FORMATS), required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--level", type=click.Choice([k.value for k in UnitKind]),
              help="Report each response's unit as its nearest ancestor of this kind.")
@click.option("--period", default="month", show_default=True, type=click.Choice(GRANULARITIES))
@click.option("--merge-age-bands", is_flag=True, help="Merge the five age bands into three.")
@click.option("--omit", multiple=True, help="Leave an item (or 'channel', 'field') out; repeatable.")
@click.option("--k", "k", default=5, show_default=True, type=click.IntRange(min=MIN_K))
@click.option("--l", "l_div", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--budget", default=0.10, show_default=True, type=click.FloatRange(0, 1),
              help="Largest share of suppressed cells.")
@click.option("--lang", default="vi", show_default=True, type=click.Choice(["vi", "en"]),
              help="Language of the variable and value labels.")
@click.option("--include-text", is_flag=True,
              help="Add the free-text answers, scrubbed of personal data (texts that may name someone are "
                   "left out).")
@click.option("--no-bom", is_flag=True, help="CSV without the byte-order mark Excel needs.")
def microdata(unit_code: str, first: str, last: str, spec: str, file_format: str, out: Path,
              level: str | None, period: str, merge_age_bands: bool, omit: tuple[str, ...], k: int,
              l_div: int, budget: float, lang: str, include_text: bool, no_bom: bool) -> None:
    """Write anonymised microdata of one unit subtree and period, and its codebook beside it."""
    instrument_id, version = parse_spec(spec)
    if version is None:
        raise click.BadParameter("give the version too, e.g. sipas-counter@2025.1", param_hint="--instrument")
    try:
        instrument = get_instrument(instrument_id, version)
    except UnknownInstrument:
        raise click.BadParameter(f"unknown instrument {spec!r}", param_hint="--instrument") from None
    request = MicrodataRequest(
        unit_code=unit_code, first=_day(first, "--from"), last=_day(last, "--to"), instrument=instrument,
        unit_level=UnitKind(level) if level else None, period=period,  # type: ignore[arg-type]
        merge_age_bands=merge_age_bands, omit=omit, include_text=include_text, k=k, l=l_div, budget=budget,
    )
    try:
        result = build_microdata(db.session(), request, min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
    except MicrodataRefused as refused:
        raise click.ClickException(f"{refused.code}: {refused}") from None
    files = bundle(result, file_format, data_name=out.name, created=local_date(datetime.now(UTC)), lang=lang,
                   bom=not no_bom)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out.parent / name).write_bytes(content)
    report = result.report
    click.echo(f"{out}: {len(result.table)} rows; k = {report.k_achieved}, l = {report.l_achieved}, "
               f"{report.suppression_rate:.1%} of cells suppressed, "
               f"{report.records_removed} records left out")
    click.echo(f"codebook: {out.parent / (out.stem + '.codebook.json')} and .md")
