"""Every weighting statement the dashboards can make reaches the reader in the page's language.

The services keep English statements for machine-readable exports (survey.services.reporting
.period_weights); the pages, the PDF and the XLSX say them through `labels.weighting_text`. A
statement it does not know is shown as it is: "no responses in this period" once stood in English on
the Vietnamese dashboard of a period without responses.
"""

from __future__ import annotations

import pytest
from flask import Flask

from survey.services.reporting import period_weights
from survey.services.reporting.labels import weighting_text
from tests.survey.manage_helpers import in_request

# Written out by hand, from the Vietnamese catalog's translations.
VIETNAMESE = {
    period_weights.WEIGHTED_METHOD: "hậu phân tầng theo số hồ sơ đã giải quyết",
    period_weights.UNWEIGHTED_METHOD: "không gia quyền: chưa có số hồ sơ đã giải quyết",
    period_weights.CHOSEN_UNWEIGHTED: "không gia quyền (theo lựa chọn của người xem)",
    period_weights.NO_RESPONSES: "chưa có phiếu trả lời trong kỳ này",
}


def test_the_service_makes_no_statement_left_out_here() -> None:
    statements = {value for name, value in vars(period_weights).items()
                  if name.isupper() and isinstance(value, str) and name != "ALL"}  # ALL: imported, a field
    assert statements == set(VIETNAMESE)


@pytest.mark.parametrize("statement", list(VIETNAMESE))
def test_each_statement_reads_in_vietnamese(app: Flask, statement: str) -> None:
    with in_request(app, "vi"):
        assert weighting_text(statement).startswith(VIETNAMESE[statement])
    with in_request(app, "en"):
        assert weighting_text(statement) != "" and not weighting_text(statement).startswith("không")


def test_a_frame_that_cannot_be_used_keeps_its_reason(app: Flask) -> None:
    reason = " (cell HL-AB × dat-dai has no served count)"
    with in_request(app, "vi"):
        said = weighting_text(period_weights.UNWEIGHTED_METHOD + reason)
    assert said.startswith(VIETNAMESE[period_weights.UNWEIGHTED_METHOD]) and said.endswith(reason)
