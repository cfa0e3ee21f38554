"""An instrument from the app's INSTRUMENT_PATHS (the kitchen-sink fixture) is stored and exported but has
no index aggregates: its responses say so once, as a warning, and `flask aggregates check` and `rebuild`
go on with the shipped instruments instead of failing on it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from survey.extensions import db
from survey.models import IndexAggregate, Response
from survey.services.reporting import aggregates
from tests.survey.aggregate_helpers import submit_many
from tests.survey.test_plausibility_flags import _send, _served


def test_an_extra_instruments_responses_leave_the_aggregates_and_their_commands_alone(
        migrated_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    aggregates.aggregated.cache_clear()
    served = _served(migrated_db, tmp_path)
    with caplog.at_level(logging.WARNING, logger=aggregates.__name__):
        _send(served)
        _send(served)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warned = [r for r in caplog.records if "kitchen-sink@2025.1 is not a shipped one" in r.getMessage()]
    assert len(warned) == 1  # once per process, not once per response
    submit_many(served.app, 30, seed=5)  # the shipped instrument's responses, aggregated as ever
    with served.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 32
        shipped = db.session.scalar(sa.select(sa.func.sum(IndexAggregate.respondents)))
        assert shipped == 30
        assert not db.session.scalar(sa.select(sa.func.count()).select_from(IndexAggregate)
                                     .where(IndexAggregate.instrument_id == "kitchen-sink"))
    runner = served.app.test_cli_runner()
    for command in (["aggregates", "check"], ["aggregates", "rebuild"], ["aggregates", "check"]):
        done = runner.invoke(args=command)
        assert done.exit_code == 0, (command, done.output, done.exception)
    with served.app.app_context():
        assert db.session.scalar(sa.select(sa.func.sum(IndexAggregate.respondents))) == 30
