"""Targets: parsing, inheritance, and governance (the unit's own manager proposes, the parent's manager
or an admin sets and decides), each step audited with old and new value, who and why."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.exceptions import NotFound

from survey.errors import SurveyError
from survey.extensions import db
from survey.models import ProposalStatus, Target, TargetProposal, Unit
from survey.services.organisation import targets
from survey.services.organisation.units import UnitRefused
from tests.survey.conftest import audit_actions, unit_id
from tests.survey.manage_helpers import NOW, in_request, user

SIPAS = "sipas-counter"


def _unit(code: str) -> Unit:
    found = db.session.get(Unit, unit_id(code))
    assert found is not None
    return found


def _own_targets() -> dict[str, float]:
    db.session.expire_all()
    return {code: value for code, value in db.session.execute(
        sa.select(Unit.code, Target.target).join(Unit, Unit.id == Target.unit_id))}


@pytest.mark.parametrize(("text", "share"), [
    ("80", 0.80), ("80%", 0.80), ("80 %", 0.80), ("0.8", 0.80), ("85,5", 0.855), ("100", 1.0),
    ("1", 1.0), ("0.95", 0.95), ("92.5%", 0.925),
])
def test_targets_are_read_as_people_type_them(app: Flask, text: str, share: float) -> None:
    with in_request(app):
        assert targets.parse_target(text) == pytest.approx(share)


@pytest.mark.parametrize("text", ["0", "0%", "101", "120%", "-80", "abc", "", "80%%", "8O", "1e2"])
def test_targets_outside_0_1_or_unreadable_are_refused(app: Flask, text: str) -> None:
    with in_request(app), pytest.raises(UnitRefused):
        targets.parse_target(text)


@pytest.mark.parametrize(("who", "code", "allowed"), [
    ("admin", "HL", True), ("admin", "HL-AB", True),
    ("province", "HL", False),  # a province is its own manager's scope root: only an admin sets it
    ("province", "HL-AB", True), ("province", "HL-AB-1", True),
    ("anbinh", "HL-AB", False),  # the ward's own manager
    ("anbinh", "HL-AB-1", True),  # ... sets the targets of the service points below the ward
    ("anbinh", "HL-HL", False), ("researcher", "HL-AB", False),
])
def test_who_may_set_a_target(app: Flask, ids: dict[str, int], who: str, code: str, allowed: bool) -> None:
    with app.app_context():
        assert targets.may_set_target(user(ids, who), _unit(code)) is allowed


def test_targets_inherit_down_the_tree_and_say_where_from(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        point = _unit("HL-AB-1")
        inherited = targets.effective_target(db.session, point, SIPAS, 2026, 0.8)
        assert (inherited.value, inherited.source.code if inherited.source else None, inherited.own) == (
            0.90, "HL", False)  # the demo sets 90 % on the province
        default = targets.effective_target(db.session, point, SIPAS, 2027, 0.8)
        assert (default.value, default.source) == (0.8, None)

        province = user(ids, "province")
        targets.set_target(db.session, province, unit_id("HL-AB"), SIPAS, 2026, "85%", reason="plan 2026",
                           now=NOW)
        overridden = targets.effective_target(db.session, point, SIPAS, 2026, 0.8)
        assert (overridden.value, overridden.source.code if overridden.source else None) == (0.85, "HL-AB")
        subtree = targets.effective_targets(db.session, _unit("HL"), {"HL": None, "HL-AB": "HL",
                                                                      "HL-AB-1": "HL-AB", "HL-HL": "HL"},
                                            SIPAS, 2026, 0.8)
        found = {code: (t.value, t.source.code if t.source else None, t.own) for code, t in subtree.items()}
        assert found == {
            "HL": (0.90, "HL", True), "HL-AB": (0.85, "HL-AB", True), "HL-AB-1": (0.85, "HL-AB", False),
            "HL-HL": (0.90, "HL", False)}

        targets.clear_target(db.session, province, unit_id("HL-AB"), SIPAS, 2026, reason="back to the "
                             "province's", now=NOW)
        db.session.commit()
        assert targets.effective_target(db.session, point, SIPAS, 2026, 0.8).value == 0.90
        assert [(a, d["before"], d["target"], d["reason"]) for a, _, d in audit_actions("target.")] == [
            ("target.set", None, 0.85, "plan 2026"), ("target.clear", 0.85, None, "back to the province's")]


def test_the_units_own_manager_cannot_set_or_clear_its_target(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        ward = user(ids, "anbinh")
        with pytest.raises(SurveyError) as refused:
            targets.set_target(db.session, ward, unit_id("HL-AB"), SIPAS, 2026, "50%", reason="easier",
                               now=NOW)
        assert (refused.value.status, refused.value.code) == (403, "E-TARGET-PARENT")
        with pytest.raises(SurveyError, match="E-TARGET-PARENT"):
            targets.clear_target(db.session, user(ids, "province"), unit_id("HL"), SIPAS, 2026,
                                 reason="lower", now=NOW)
        db.session.rollback()
        assert _own_targets() == {"HL": 0.90}
        assert [(a, d["attempted"]) for a, _, d in audit_actions("target.")] == [
            ("target.denied", "target.set"), ("target.denied", "target.clear")]


def test_a_proposal_changes_nothing_until_the_parent_approves(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        proposal = targets.propose_target(db.session, user(ids, "anbinh"), unit_id("HL-AB"), SIPAS, 2026,
                                          "85%", reason="new staff this year", now=NOW)
        db.session.commit()
        assert _own_targets() == {"HL": 0.90}
        assert targets.effective_target(db.session, _unit("HL-AB"), SIPAS, 2026, 0.8).value == 0.90
        assert set(targets.pending_proposals(db.session, [unit_id("HL-AB")])) == {
            (unit_id("HL-AB"), SIPAS, 2026)}
        assert [p.id for p in targets.proposals_to_decide(db.session, user(ids, "province"))] == [proposal.id]
        assert targets.proposals_to_decide(db.session, user(ids, "anbinh")) == []

        with pytest.raises(SurveyError, match="E-TARGET-PARENT"):  # nobody approves their own proposal
            targets.approve_proposal(db.session, user(ids, "anbinh"), proposal.id, now=NOW)
        with pytest.raises(NotFound):  # another commune's manager cannot even see it
            targets.approve_proposal(db.session, user(ids, "hoalac"), proposal.id, now=NOW)
        targets.approve_proposal(db.session, user(ids, "province"), proposal.id, note="agreed", now=NOW)
        db.session.commit()
        assert _own_targets() == {"HL": 0.90, "HL-AB": 0.85}
        decided = db.session.get(TargetProposal, proposal.id)
        assert decided is not None and decided.status == ProposalStatus.APPROVED
        assert decided.decided_by_id == ids["province"]
        with pytest.raises(UnitRefused, match="already been decided"):
            targets.approve_proposal(db.session, user(ids, "province"), proposal.id, now=NOW)
        events = [(a, d.get("before"), d.get("target"), d.get("reason"), d.get("note"))
                  for a, _, d in audit_actions("target.") if a != "target.denied"]
        assert events == [("target.propose", None, 0.85, "new staff this year", None),
                          ("target.approve", None, 0.85, "new staff this year", "agreed")]


def test_a_rejection_needs_a_reason_and_keeps_the_target(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        first = targets.propose_target(db.session, user(ids, "anbinh"), unit_id("HL-AB"), SIPAS, 2026,
                                       "60", reason="first try", now=NOW)
        second = targets.propose_target(db.session, user(ids, "anbinh"), unit_id("HL-AB"), SIPAS, 2026,
                                        None, reason="inherit instead", now=NOW)
        assert first.status == ProposalStatus.SUPERSEDED and second.target is None
        with pytest.raises(UnitRefused, match="reason"):
            targets.reject_proposal(db.session, user(ids, "admin"), second.id, reason="  ", now=NOW)
        targets.reject_proposal(db.session, user(ids, "admin"), second.id, reason="no grounds", now=NOW)
        db.session.commit()
        assert _own_targets() == {"HL": 0.90}
        assert [(a, d.get("target"), d.get("note")) for a, _, d in audit_actions("target.")] == [
            ("target.propose", 0.6, None), ("target.propose", None, None),
            ("target.reject", None, "no grounds")]


def test_every_target_change_needs_a_reason_and_a_visible_unit(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        with pytest.raises(UnitRefused, match="reason"):
            targets.set_target(db.session, user(ids, "province"), unit_id("HL-AB"), SIPAS, 2026, "85",
                               reason="", now=NOW)
        with pytest.raises(UnitRefused, match="no target of its own"):
            targets.clear_target(db.session, user(ids, "province"), unit_id("HL-AB"), SIPAS, 2026,
                                 reason="tidy", now=NOW)
        with pytest.raises(NotFound):
            targets.propose_target(db.session, user(ids, "hoalac"), unit_id("HL-AB"), SIPAS, 2026, "50",
                                   reason="x", now=NOW)
        with pytest.raises(SurveyError, match="E-FORBIDDEN"):
            targets.propose_target(db.session, user(ids, "researcher"), unit_id("HL-AB"), SIPAS, 2026, "50",
                                   reason="x", now=NOW)
        db.session.rollback()
        assert _own_targets() == {"HL": 0.90}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetProposal)) == 0
