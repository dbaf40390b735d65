"""Agency lifecycle, history, subtrees, import and export (registry.agencies.lifecycle)."""

from __future__ import annotations

import json
import unicodedata
from datetime import date

import pytest

from registry.agencies.lifecycle import AgencyRegistry
from registry.agencies.listfile import ImportProblem
from registry.db.store import RegistryStore
from signer.errors import AlreadyExists, InvalidRequest, NotFound, NotUsable

D0 = date(2020, 1, 1)
JULY = date(2025, 7, 1)
BEFORE = date(2025, 6, 30)

SOC_TRANG = "000.00.00.H59"  # (level-1 codes of the two closed provinces; illustrative)
HAU_GIANG = "000.00.00.H64"
CAN_THO = "000.00.00.H13"


@pytest.fixture
def reg(store: RegistryStore) -> AgencyRegistry:
    return AgencyRegistry(store.engine, today=date(2026, 11, 23))


def test_create_records_state_and_event(reg: AgencyRegistry) -> None:
    a = reg.create(CAN_THO, "Ủy ban nhân dân thành phố Cần Thơ", valid_from=D0)
    assert (a.status, a.valid_from, a.valid_to, a.level) == ("active", D0, None, 1)
    [e] = reg.events(CAN_THO)
    assert (e.kind, e.effective, e.new_name) == ("create", D0, a.name)
    assert reg.name_on(CAN_THO, date(2019, 12, 31)) is None
    assert reg.name_on(CAN_THO, D0) == a.name


def test_create_needs_an_active_parent(reg: AgencyRegistry) -> None:
    with pytest.raises(NotFound, match=r"000\.00\.00\.H13"):
        reg.create("000.00.05.H13", "Sở Tài chính", valid_from=D0)
    with pytest.raises(InvalidRequest, match="future"):
        reg.create(CAN_THO, "x", valid_from=date(2030, 1, 1))


def test_create_without_parent_writes_history(store: RegistryStore) -> None:
    reg = AgencyRegistry(store.engine)
    a = reg.create("000.00.06.H26", "Không cha", require_parent=False)
    assert a.parent_code == "000.00.00.H26"
    assert reg.get(a.code).status == "active"
    assert [e.kind for e in reg.events(a.code)] == ["create"]
    with pytest.raises(AlreadyExists, match="already exists"):
        reg.create("000.00.06.H26", "again", require_parent=False)


def test_rename_keeps_the_old_name_for_old_dates(reg: AgencyRegistry) -> None:
    reg.create("G06", "Bộ Thông tin và Truyền thông", valid_from=D0)
    reg.rename("G06", "Bộ Khoa học và Công nghệ", effective=date(2025, 3, 1))
    assert reg.get("G06").name == "Bộ Khoa học và Công nghệ"
    assert reg.name_on("G06", date(2025, 2, 28)) == "Bộ Thông tin và Truyền thông"
    assert reg.name_on("G06", date(2025, 3, 1)) == "Bộ Khoa học và Công nghệ"
    with pytest.raises(InvalidRequest, match="never rewritten"):
        reg.rename("G06", "Bộ khác", effective=date(2025, 1, 1))
    with pytest.raises(InvalidRequest, match="already named"):
        reg.rename("G06", "Bộ Khoa học và Công nghệ", effective=date(2025, 4, 1))


def test_move_reissues_under_the_new_parent(reg: AgencyRegistry) -> None:
    reg.create("H55", "Tỉnh A", valid_from=D0)
    reg.create("H56", "Tỉnh B", valid_from=D0)
    reg.create("H55.242", "Sở X", valid_from=D0)
    new = reg.move("H55.242", "H56.7", effective=JULY)
    assert (new.code, new.parent_code, new.name, new.valid_from) == ("H56.7", "H56", "Sở X", JULY)
    old = reg.get("H55.242")
    assert (old.status, old.valid_to, old.successor_code) == ("closed", JULY, "H56.7")
    assert reg.events("H55.242")[-1].kind == "move"
    assert reg.successors("H55.242") == ("H56.7",)
    with pytest.raises(InvalidRequest, match="different code formats"):
        reg.move("H56.7", "000.00.07.H56", effective=JULY)


def test_july_2025_merge(reg: AgencyRegistry) -> None:
    """Sóc Trăng and Hậu Giang close into Cần Thơ H13 on 2025-07-01; their sub-units
    are re-issued under H13, and old signatures stay attributed to the old bodies."""
    reg.create(CAN_THO, "Ủy ban nhân dân thành phố Cần Thơ", valid_from=D0)
    reg.create(SOC_TRANG, "Ủy ban nhân dân tỉnh Sóc Trăng", valid_from=D0)
    reg.create(HAU_GIANG, "Ủy ban nhân dân tỉnh Hậu Giang", valid_from=D0)
    reg.create("000.00.05.H59", "Sở Tài chính tỉnh Sóc Trăng", valid_from=D0)
    reg.create("000.01.05.H59", "Phòng Ngân sách", valid_from=D0)
    reg.create("000.00.05.H64", "Sở Tài chính tỉnh Hậu Giang", valid_from=D0)
    reg.create("000.00.05.H13", "Sở Tài chính thành phố Cần Thơ", valid_from=D0)

    with pytest.raises(NotUsable, match=r"000\.00\.05\.H59"):  # sub-units would be orphaned
        reg.merge([SOC_TRANG, HAU_GIANG], CAN_THO, effective=JULY)
    assert reg.get(SOC_TRANG).status == "active"  # nothing written

    merged = reg.merge(
        [SOC_TRANG, HAU_GIANG], CAN_THO, effective=JULY,
        reissue={"000.00.05.H59": "000.00.41.H13", "000.01.05.H59": "000.01.41.H13",
                 "000.00.05.H64": "000.00.42.H13"},
    )
    assert merged.code == CAN_THO and merged.status == "active"
    for old in (SOC_TRANG, HAU_GIANG):
        st = reg.get(old)
        assert (st.status, st.valid_to, st.successor_code) == ("closed", JULY, CAN_THO)
        assert reg.successors(old) == (CAN_THO,)
    # What did H59 denote when a document was signed before the merge?
    h = reg.history(SOC_TRANG, on=BEFORE)
    assert h.name_on_date == "Ủy ban nhân dân tỉnh Sóc Trăng" and h.in_force_on_date
    assert h.successors == (CAN_THO,)
    after = reg.history(SOC_TRANG, on=JULY)
    assert not after.in_force_on_date and after.successors == (CAN_THO,)
    assert [e.kind for e in h.events] == ["create", "merge"]
    # Sub-units: re-issued under the successor, old codes point to the new ones.
    assert reg.get("000.01.05.H59").successor_code == "000.01.41.H13"
    assert reg.name_on("000.01.05.H59", BEFORE) == "Phòng Ngân sách"
    assert {a.code for a in reg.subtree(CAN_THO)} == {
        "000.00.05.H13", "000.00.41.H13", "000.01.41.H13", "000.00.42.H13"}
    assert reg.subtree(SOC_TRANG) == []
    assert {a.code for a in reg.subtree(SOC_TRANG, include_closed=True)} == {
        "000.00.05.H59", "000.01.05.H59"}
    absorbed = [e for e in reg.events(CAN_THO) if e.kind == "merge"]
    assert absorbed[0].related_codes == (SOC_TRANG, HAU_GIANG)
    # Closed codes are never reused, and cannot change any more.
    with pytest.raises(AlreadyExists, match=r"closed on 2025-07-01.*successor is 000.00.00.H13"):
        reg.create(SOC_TRANG, "Một cơ quan khác")
    with pytest.raises(NotUsable, match="closed"):
        reg.rename(SOC_TRANG, "x", effective=JULY)


def test_merge_into_a_new_code_and_chains(reg: AgencyRegistry) -> None:
    reg.create("H20", "Tỉnh Nam Định", valid_from=D0)
    reg.create("H21", "Tỉnh Hà Nam", valid_from=D0)
    with pytest.raises(InvalidRequest, match="give the merged body's name"):
        reg.merge(["H20", "H21"], "H90", effective=date(2024, 1, 1))
    reg.merge(["H20", "H21"], "H90", effective=date(2024, 1, 1), name="Tỉnh Mới")
    reg.create("H30", "Tỉnh Ninh Bình", valid_from=D0)
    reg.merge(["H90"], "H30", effective=JULY)
    assert reg.successors("H20") == ("H30",)  # H20 → H90 → H30
    reg.create("000.00.00.H30", "Tỉnh Ninh Bình (QCVN)", valid_from=D0)
    with pytest.raises(InvalidRequest, match="same format and level"):
        reg.merge(["000.00.00.H30"], "H30", effective=JULY)


def test_split(reg: AgencyRegistry) -> None:
    reg.create("G14", "Bộ cũ", valid_from=D0)
    parts = reg.split("G14", [("G15", "Bộ A"), ("G16", "Bộ B")], effective=JULY)
    assert [p.code for p in parts] == ["G15", "G16"]
    st = reg.get("G14")
    assert (st.status, st.successor_code) == ("closed", None)
    assert reg.successors("G14") == ("G15", "G16")
    assert reg.events("G14")[-1].related_codes == ("G15", "G16")
    assert reg.name_on("G14", BEFORE) == "Bộ cũ"
    assert reg.name_on("G15", BEFORE) is None
    with pytest.raises(InvalidRequest, match="at least two"):
        reg.split("G15", [("G17", "x")], effective=JULY)


def test_close_with_and_without_successor(reg: AgencyRegistry) -> None:
    reg.create("H10", "Tỉnh A", valid_from=D0)
    reg.create("H11", "Tỉnh B", valid_from=D0)
    reg.create("H10.1", "Sở", valid_from=D0)
    with pytest.raises(NotUsable, match=r"sub-units H10\.1"):
        reg.close("H10", effective=JULY)
    reg.close("H10.1", effective=JULY)
    closed = reg.close("H10", effective=JULY, successor="H11")
    assert (closed.status, closed.successor_code) == ("closed", "H11")
    assert reg.successors("H10.1") == ()  # dissolved, no successor
    assert reg.history("H10.1").successors == ()
    with pytest.raises(NotUsable, match="closed"):
        reg.close("H11", effective=JULY, successor="H10")


def test_children_and_subtree_both_formats(reg: AgencyRegistry) -> None:
    for code in ("000.00.00.H53", "000.00.11.H53", "000.12.11.H53", "001.12.11.H53",
                 "000.00.12.H53", "000.00.00.H54", "000.00.11.H54"):
        reg.create(code, f"Cơ quan {code}", valid_from=D0)
    assert [a.code for a in reg.children("000.00.00.H53")] == ["000.00.11.H53", "000.00.12.H53"]
    assert [a.code for a in reg.subtree("000.00.11.H53")] == ["000.12.11.H53", "001.12.11.H53"]
    assert len(reg.subtree("000.00.00.H53")) == 4
    for code in ("H55", "H55.242", "H55.242.1", "H55.3", "H56", "H56.242"):
        reg.create(code, f"Cơ quan {code}", valid_from=D0)
    assert [a.code for a in reg.children("H55")] == ["H55.242", "H55.3"]
    assert [a.code for a in reg.subtree("H55")] == ["H55.242", "H55.3", "H55.242.1"]
    assert [a.code for a in reg.subtree("H55.242")] == ["H55.242.1"]
    reg.close("H55.3", effective=JULY)
    assert [a.code for a in reg.children("H55")] == ["H55.242"]
    assert len(reg.children("H55", include_closed=True)) == 2
    with pytest.raises(NotFound):
        reg.children("H99")


# -- import and export ----------------------------------------------------------

GOOD_CSV = """code,name,parent_code,valid_from
000.00.00.H13,Ủy ban nhân dân thành phố Cần Thơ,,2020-01-01
000.00.05.H13,Sở Tài chính,000.00.00.H13,
000.00.06.H13,Sở Khoa học và Công nghệ,,2025-07-01
H55,Ủy ban nhân dân tỉnh A,,
H55.242,"Sở Nội vụ, tỉnh A",H55,
"""


def test_import_creates_renames_and_reports_unchanged(reg: AgencyRegistry) -> None:
    plan = reg.import_list(GOOD_CSV.encode(), "csv", dry_run=True)
    assert plan.ok and not plan.applied and len(plan.create) == 5
    assert reg.list_all() == []  # dry run writes nothing
    plan = reg.import_list(GOOD_CSV.encode(), "csv")
    assert plan.applied and len(plan.create) == 5
    assert reg.get("H55.242").name == "Sở Nội vụ, tỉnh A"
    assert reg.get(CAN_THO).valid_from == D0
    again = GOOD_CSV.replace("Sở Tài chính", "Sở Tài chính thành phố Cần Thơ")
    plan = reg.import_list(again.encode(), "csv", dry_run=True)
    assert [(r.code, r.old_name, r.new_name) for r in plan.rename] == [
        ("000.00.05.H13", "Sở Tài chính", "Sở Tài chính thành phố Cần Thơ")]
    assert len(plan.unchanged) == 4 and plan.create == ()
    assert reg.get("000.00.05.H13").name == "Sở Tài chính"
    reg.import_list(again.encode(), "csv")
    assert reg.get("000.00.05.H13").name == "Sở Tài chính thành phố Cần Thơ"
    assert [e.kind for e in reg.events("000.00.05.H13")] == ["create", "rename"]


BAD_CSV = """code,name,parent_code,valid_from
000.00.00.H13,Ủy ban nhân dân thành phố Cần Thơ,,
000.00.0X.H13,Sở hỏng,,
000.00.05.H13,,,
000.00.06.H13,Sở Y tế,000.00.00.H49,
000.00.06.H13,Sở Y tế lần hai,,
000.00.07.H50,Sở mồ côi,,
000.00.08.H13,Sở ngày sai,,01/07/2025
H55.1,"Sở, hai dòng
tên",,
only-two,fields
000.00.09.H13,Sở đúng,,
"""


def test_half_valid_file_imports_nothing_and_reports_every_line(reg: AgencyRegistry) -> None:
    plan = reg.import_list(BAD_CSV.encode(), "csv")
    assert not plan.ok and not plan.applied
    got = {(p.line, p.field) for p in plan.problems}
    assert got == {
        (3, "code"),          # malformed
        (4, "name"),          # empty
        (5, "parent_code"),   # not the implied parent
        (6, "code"),          # duplicate of line 5
        (7, "parent_code"),   # parent neither registered nor in the file
        (8, "valid_from"),    # not ISO
        (9, "name"),          # a line break in a name (the record spans lines 9-10)
        (11, "record"),       # wrong number of fields
    }, plan.problems
    dup = next(p for p in plan.problems if p.line == 6)
    assert "first on line 5" in dup.reason
    assert reg.list_all() == []  # the valid lines 2 and 12 were not imported either


def test_import_refuses_closed_code_reuse(reg: AgencyRegistry) -> None:
    reg.create("H20", "Tỉnh Nam Định", valid_from=D0)
    reg.create("H30", "Tỉnh Ninh Bình", valid_from=D0)
    reg.merge(["H20"], "H30", effective=JULY)
    plan = reg.import_list(b"code,name\nH20,Tinh khac\nH20.1,So\n", "csv")
    assert [(p.line, p.field) for p in plan.problems] == [(2, "code"), (3, "parent_code")]
    assert "successor is H30" in plan.problems[0].reason


def test_json_import_errors_carry_line_numbers(reg: AgencyRegistry) -> None:
    text = (
        '[\n'
        '  {"code": "H13", "name": "Cần Thơ"},\n'
        '  {"code": "H13.1",\n'
        '   "name": ""},\n'
        '  {"code": "Z99", "name": "x", "colour": "red"},\n'
        '  42\n'
        ']\n'
    )
    plan = reg.import_list(text.encode(), "json")
    assert [(p.line, p.field) for p in plan.problems] == [
        (3, "name"), (5, "colour"), (5, "code"), (6, "record")]
    broken = reg.import_list(b'[{"code": "H13", "name": "x"},\n {"code": ', "json")
    assert broken.problems == (ImportProblem(2, "file", broken.problems[0].reason),)
    assert reg.import_list(b"\xff\xfe", "csv").problems[0].reason == "not UTF-8 text"
    with pytest.raises(InvalidRequest, match="csv or json"):
        reg.import_list(b"", "xml")


def test_round_trip_csv_and_json_with_diacritics(
    reg: AgencyRegistry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    reg.import_list(GOOD_CSV.encode(), "csv")
    nfd = unicodedata.normalize("NFD", "Sở Xây dựng")
    reg.create("000.00.07.H13", nfd, valid_from=D0)
    assert reg.get("000.00.07.H13").name == "Sở Xây dựng"  # stored NFC
    for fmt in ("csv", "json"):
        exported = reg.export_list(fmt)
        assert "Ủy ban nhân dân thành phố Cần Thơ" in exported.decode()
        assert reg.import_list(exported, fmt, dry_run=True).unchanged.__len__() == 6
        from tests.helpers import fresh_database_url

        other = RegistryStore(fresh_database_url(tmp_path_factory.mktemp("rt")))
        other.migrate()
        copy = AgencyRegistry(other.engine, today=reg.today())
        assert copy.import_list(exported, fmt).applied
        assert copy.export_list(fmt) == exported
        other.close()
    data = json.loads(reg.export_list("json"))
    assert data[0] == {"code": "000.00.00.H13", "name": "Ủy ban nhân dân thành phố Cần Thơ",
                       "parent_code": "", "valid_from": "2020-01-01"}


def test_export_with_closed_codes_reimports_as_unchanged(reg: AgencyRegistry) -> None:
    reg.create("H20", "Tỉnh Nam Định", valid_from=D0)
    reg.create("H30", "Tỉnh Ninh Bình", valid_from=D0)
    reg.merge(["H20"], "H30", effective=JULY)
    assert b"H20" not in reg.export_list()
    full = reg.export_list("csv", include_closed=True)
    assert "H20,Tỉnh Nam Định,,2020-01-01,closed,2025-07-01,H30" in full.decode()
    plan = reg.import_list(full, "csv", dry_run=True)
    assert plan.ok and sorted(plan.unchanged) == ["H20", "H30"]
    plan = reg.import_list(b"code,name,status\nH31,Tinh,closed\n", "csv")
    assert [(p.line, p.field) for p in plan.problems] == [(2, "status")]


# --- add and import follow one rule; an export always imports again (issue 15 item 5) ---


def test_add_refuses_a_child_whose_parent_is_not_registered(store: RegistryStore) -> None:
    """`kyso admin agency add` used to accept the orphan that a list import refuses, so an
    export of such a registry could not be imported again."""
    from registry.admin import RegistryAdmin

    admin = RegistryAdmin(None, store, None)  # type: ignore[arg-type]  # no HSM: agencies only
    with pytest.raises(NotFound, match=r"the parent of 000.00.07.H50, 000.00.00.H50, is not "
                       r"registered: register it first .*or import a list holding both"):
        admin.create_agency("000.00.07.H50", "Sở mồ côi")
    admin.create_agency("000.00.00.H50", "Ủy ban nhân dân tỉnh Quảng Trị")
    assert admin.create_agency("000.00.07.H50", "Sở Y tế").parent_code == "000.00.00.H50"


def test_every_export_imports_again(reg: AgencyRegistry, tmp_path_factory: pytest.TempPathFactory
                                    ) -> None:
    from tests.helpers import fresh_database_url

    reg.create("000.00.00.H50", "Ủy ban nhân dân tỉnh Quảng Trị", valid_from=D0)
    reg.create("000.00.07.H50", "Sở Y tế tỉnh Quảng Trị", valid_from=D0)
    reg.create("H20", "Tỉnh Nam Định", valid_from=D0)
    reg.create("H30", "Tỉnh Ninh Bình", valid_from=D0)
    reg.merge(["H20"], "H30", effective=JULY)
    for fmt in ("csv", "json"):
        # Into the same registry, closed codes included: nothing to do, nothing refused.
        again = reg.import_list(reg.export_list(fmt, include_closed=True), fmt)
        assert again.ok and again.create == () and again.rename == (), again.problems
        # Into an empty registry: every active code, parents before children.
        other_store = RegistryStore(fresh_database_url(tmp_path_factory.mktemp("other")))
        other_store.migrate()
        try:
            other = AgencyRegistry(other_store.engine, today=reg.today())
            plan = other.import_list(reg.export_list(fmt), fmt)
            assert plan.ok and plan.applied, plan.problems
            assert ({(a.code, a.name) for a in other.list_all()}
                    == {(a.code, a.name) for a in reg.list_all()})
        finally:
            other_store.close()
