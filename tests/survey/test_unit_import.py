"""Unit tree CSV import: every error with its line, all or nothing, BOM, forward parents, cycles, scope."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Unit, UnitKind
from survey.services.organisation.unit_import import UnitImportRefused, import_units_csv
from tests.survey.conftest import audit_actions
from tests.survey.manage_helpers import NOW, in_request, user

HEADER = "code,kind,name_vi,name_en,parent_code,valid_from,valid_to,successor_code\n"


def snapshot() -> list[tuple[object, ...]]:
    db.session.expire_all()
    return [(u.code, u.kind, u.name_vi, u.name_en, u.parent_id, u.valid_from, u.valid_to, u.successor_id)
            for u in db.session.scalars(sa.select(Unit).order_by(Unit.code))]


def refused(app: Flask, ids: dict[str, int], text: str, who: str = "admin") -> list[tuple[int, str]]:
    with app.app_context(), in_request(app):
        before = snapshot()
        with pytest.raises(UnitImportRefused) as caught:
            import_units_csv(db.session, text.encode(), actor=user(ids, who), now=NOW)
        db.session.rollback()
        assert snapshot() == before  # nothing half-imported
        return [(e.line, e.code) for e in caught.value.errors]


def test_a_merger_file_with_bom_and_parents_further_down(app: Flask, ids: dict[str, int]) -> None:
    text = ("\ufeff" + HEADER +
            "HL-TH-1,service_point,Bộ phận Một cửa phường Tân Hòa,Tan Hoa one-stop desk,HL-TH,2026-07-01,,\n"
            "HL-TH,commune,Phường Tân Hòa,Tan Hoa Ward,HL,2026-07-01,,\n"
            "HL-AB,commune,Phường An Bình,An Binh Ward,HL,2025-07-01,2026-06-30,HL-TH\n"
            "HL-HL,commune,Xã Hòa Lạc,Hoa Lac Commune,HL,2025-07-01,2026-06-30,HL-TH\n")
    with app.app_context(), in_request(app):
        result = import_units_csv(db.session, text.encode(), actor=user(ids, "province"), now=NOW)
        db.session.commit()
        assert (result.created, result.updated) == (("HL-TH-1", "HL-TH"), ("HL-AB", "HL-HL"))
        units = {u.code: u for u in db.session.scalars(sa.select(Unit))}
        assert units["HL-TH-1"].parent is units["HL-TH"] and units["HL-TH"].parent is units["HL"]
        assert units["HL-AB"].valid_to == date(2026, 6, 30)
        assert units["HL-AB"].successor_id == units["HL-TH"].id
        assert units["HL-TH-1"].kind is UnitKind.SERVICE_POINT
        assert units["HL-TH-1"].name_en == "Tan Hoa one-stop desk"
        [(action, _id, detail)] = audit_actions("units.")
        assert (action, detail["created"], detail["updated"]) == ("units.import", 2, 2)


def test_every_error_kind_is_reported_with_its_line(app: Flask, ids: dict[str, int]) -> None:
    text = (HEADER +
            "HL-X1,commune,Xã Một,,HL,,,\n"  # 2 fine
            "HL-X2,commune,Xã Hai,,NOPE,,,\n"  # 3 unknown parent
            "HL-X3,village,Thôn,,HL,,,\n"  # 4 unknown kind
            "bad code,commune,Xã,,HL,,,\n"  # 5 bad code
            "HL-X4,commune,,,HL,,,\n"  # 6 name missing
            "HL-X5,commune,Xã Năm,,HL,2026-02-30,,\n"  # 7 bad date
            "HL-X6,commune,Xã Sáu,,HL,2026-03-01,2026-01-01,\n"  # 8 closes before it opens
            "HL-X1,commune,Xã Một lần nữa,,HL,,,\n"  # 9 duplicate code
            "HL-X7,commune,Xã Bảy,,HL-X1,,,\n"  # 10 commune under commune
            "HL-X8,commune,Xã Tám,,HL,,,GONE\n"  # 11 unknown successor
            "HL-X9,service_point,Điểm,,HL-X9,,,\n"  # 12 own parent
            "HL-X10,commune,Xã Mười,,HL,,,HL-X10\n"  # 13 own successor
            "HL-X11,commune,Xã,,HL\n")  # 14 too few values
    assert refused(app, ids, text) == [
        (3, "parent"), (4, "kind"), (5, "code"), (6, "name"), (7, "date"), (8, "date"), (9, "duplicate"),
        (10, "kind"), (11, "successor"), (12, "cycle"), (13, "successor"), (14, "columns")]


def test_the_message_names_the_line_and_the_missing_parent(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app):
        with pytest.raises(UnitImportRefused) as caught:
            import_units_csv(db.session, (HEADER + "\n" * 5 + "A,commune,A,,X,,,\n").encode(),
                             actor=user(ids, "admin"), now=NOW)
        assert [e.describe() for e in caught.value.errors] == [
            "Line 7: parent unit code 'X' does not exist."]


def test_cycles_through_the_file_and_the_database_are_refused(app: Flask, ids: dict[str, int]) -> None:
    text = (HEADER +
            "C-A,agency,A,,C-B,,,\n"
            "C-B,agency,B,,C-A,,,\n")
    errors = refused(app, ids, text)
    assert ("cycle" in {code for _, code in errors}) and all(line in (2, 3) for line, _ in errors)
    # Moving a stored commune under its own service point closes a loop through the database.
    assert ("cycle" in {code for _, code in refused(
        app, ids, HEADER + "HL-AB,commune,Phường An Bình,,HL-AB-1,,,\n")})


def test_header_and_encoding_errors(app: Flask, ids: dict[str, int]) -> None:
    assert refused(app, ids, "code,kind\nA,commune\n") == [(1, "header")]  # name_vi missing
    assert refused(app, ids, "code,kind,name_vi,colour\nA,commune,A,red\n") == [(1, "header")]
    assert refused(app, ids, "") == [(0, "empty")]
    assert refused(app, ids, HEADER) == [(0, "empty")]
    with app.app_context(), in_request(app):
        with pytest.raises(UnitImportRefused) as caught:
            import_units_csv(db.session, (HEADER + "A,commune,X\xe3,,HL,,,\n").encode("latin-1"),
                             actor=user(ids, "admin"), now=NOW)
        assert [(e.line, e.code) for e in caught.value.errors] == [(2, "encoding")]


def test_scope_of_a_commune_manager(app: Flask, ids: dict[str, int]) -> None:
    assert refused(app, ids, HEADER + "HL-HL-2,service_point,Điểm,,HL-HL,,,\n", "anbinh") == [(2, "parent")]
    assert refused(app, ids, HEADER + "HL-HL,commune,Xã Hòa Lạc mới,,HL,,,\n", "anbinh") == [
        (2, "unit_out_of_scope")]
    assert refused(app, ids, HEADER + "HL-NEW,province,Tỉnh mới,,,,,\n", "anbinh") == [(2, "parent")]
    # Renaming their own commune keeps its parent (outside the scope): allowed.
    with app.app_context(), in_request(app):
        result = import_units_csv(db.session, (HEADER + "HL-AB,commune,Phường An Bình (mới),,HL,,,\n"
                                               "HL-AB-2,service_point,Điểm 2,,HL-AB,,,\n").encode(),
                                  actor=user(ids, "anbinh"), now=NOW)
        assert (result.created, result.updated) == (("HL-AB-2",), ("HL-AB",))


def test_changing_a_kind_must_fit_stored_children(app: Flask, ids: dict[str, int]) -> None:
    errors = refused(app, ids, HEADER + "HL-AB,service_point,Phường An Bình,,HL,,,\n")
    assert (2, "kind") in errors


def test_messages_are_vietnamese_by_default(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context(), in_request(app, "vi"):
        with pytest.raises(UnitImportRefused) as caught:
            import_units_csv(db.session, (HEADER + "\n" * 5 + "A,commune,A,,X,,,\n").encode(),
                             actor=user(ids, "admin"), now=NOW)
        assert [e.describe() for e in caught.value.errors] == ["Dòng 7: mã đơn vị cha 'X' không tồn tại."]


def test_cli_import_creates_then_updates(app: Flask, ids: dict[str, int], tmp_path: Path) -> None:
    path = tmp_path / "tree.csv"
    path.write_bytes(("\ufeff" + HEADER + "HL-MOI,commune,Xã Mới,New Commune,HL,2026-07-01,,\n").encode())
    runner = app.test_cli_runner()
    first = runner.invoke(args=["units", "import", str(path)])
    assert first.exit_code == 0 and "1 units created, 0 updated" in first.output
    path.write_bytes((HEADER + "HL-MOI,commune,Xã Mới (đổi tên),New Commune,HL,2026-07-01,,\n").encode())
    again = runner.invoke(args=["units", "import", str(path)])
    assert again.exit_code == 0 and "0 units created, 1 updated" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(Unit.name_vi).where(Unit.code == "HL-MOI")) == "Xã Mới (đổi tên)"
        assert [a for a, _, _ in audit_actions("units.")] == ["units.import", "units.import"]


def test_parent_and_successor_codes_must_be_codes(app: Flask, ids: dict[str, int]) -> None:
    errors = refused(app, ids, HEADER + "HL-Q,commune,Xã Q,,HL\u0007,,,HL AB\n")
    assert errors == [(2, "parent"), (2, "successor")]
