"""Roster and leave imports: every bad row reported, all or nothing, idempotent, untrusted files."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import select

from bot.cli import main
from bot.org.models import Employee, Leave, Regu, Unit
from bot.org.roster import import_roster, import_roster_file
from bot.org.roster_files import (
    FileError,
    FileLimits,
    check_zip,
    read_table,
    read_upload,
)
from bot.org.roster_rows import ROLE_SYNONYMS, ROLES, canonical_role
from bot.org.units import sync_config
from bot.unit_admin.leave_import import import_leave, import_leave_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "roster"
HEADER = ["nip", "nama", "jabatan", "unit", "regu", "telegram_id"]
NIP1, NIP2, NIP3, NIP4 = (f"1985072520091210{n:02d}" for n in (1, 2, 3, 4))


def base_rows() -> list[list[object]]:
    return [
        [NIP1, "Budi Santoso", "anggota", "lapas-palu", "Regu A", "1001"],
        [NIP2, "Ahmad Fauzi", "karupam", "lapas-palu", "Regu A", "1002"],
        [NIP3, "Dewi Lestari", "kplp", "lapas-palu", "", ""],
        [NIP4, "Joko Susilo", "anggota", "lapas-cilacap", "Regu I", ""],
    ]


def csv_bytes(rows: list[list[object]], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    for cell in ws["A"]:
        cell.number_format = "@"  # the nip column as Text, as the operator is told to
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def units(db, settings, clock):
    db.call(lambda s: sync_config(s, settings, clock.now()))
    return db


def roster(db, data: bytes, clock, filename: str = "roster.csv", **kw):
    with db.transaction() as s:
        return import_roster_file(s, data, filename, clock, **kw)


def leave(db, data: bytes, clock, filename: str = "cuti.csv", **kw):
    with db.transaction() as s:
        return import_leave_file(s, data, filename, clock, **kw)


def employees(db) -> dict[str, Employee]:
    return {e.nip: e for e in db.call(lambda s: s.exec(select(Employee)).all())}


def place(db, emp: Employee) -> str:
    def q(s):
        unit = s.get(Unit, emp.unit_id).code
        return unit if emp.regu_id is None else f"{unit}/{s.get(Regu, emp.regu_id).name}"
    return db.call(q)


def errors_of(result) -> list[tuple[int, str]]:
    return [(e.line, e.message) for e in result.errors]


# ---- roles ----------------------------------------------------------------------------------

def test_roles_and_synonyms():
    assert ROLES == {"anggota", "karupam", "kplp", "kalapas", "staf"}
    assert all(ROLE_SYNONYMS[r] == r for r in ROLES)
    assert canonical_role(" Penjaga ") == "anggota"
    assert canonical_role("PETUGAS") == "anggota"
    assert canonical_role("Karutan") == "kalapas"
    assert canonical_role("Kepala  LPKA") == "kalapas"
    assert canonical_role("Administrasi") == "staf"
    assert canonical_role("direktur") is None


# ---- good files -----------------------------------------------------------------------------

def test_good_csv_fixture(units, clock):
    result = roster(units, (FIXTURES / "roster_good.csv").read_bytes(), clock)
    assert result.ok, result.errors
    assert (result.added, result.updated, result.deactivated, result.unchanged) == (7, 0, 0, 0)
    assert result.summary() == "7 added, 0 updated, 0 deactivated, 0 unchanged"
    emps = employees(units)
    assert len(emps) == 7
    budi = emps["198507252009121001"]
    assert (budi.name, budi.role, budi.telegram_user_id) == ("Budi Santoso", "anggota", 1001)
    assert place(units, budi) == "lapas-palu/Regu A"
    assert budi.updated_at == clock.now() and budi.active
    assert emps["198601012010011002"].name == "Ahmad Fauzi, S.H."  # quoted comma
    siti = emps["198702022011021003"]  # leading apostrophe, 'Penjaga', 'regu b'
    assert (siti.role, siti.telegram_user_id) == ("anggota", None)
    assert place(units, siti) == "lapas-palu/Regu B"
    assert emps["198803032012031004"].regu_id is None
    assert emps["198904042013041005"].role == "kalapas"
    assert emps["199005052014051006"].role == "staf"
    assert place(units, emps["199106062015061007"]) == "lapas-cilacap/Regu I"


def test_good_xlsx(units, clock):
    rows = base_rows()
    rows[0][5] = 1001  # int cell
    rows[1][5] = 1002.0  # float-with-.0 cell
    rows[3][4] = "regu i"
    rows.insert(2, [None] * 6)  # an empty row in the middle
    data = xlsx_bytes(rows, header=["NIP", " Nama ", "Role", "UNIT", "Regu", "Telegram ID"])
    result = roster(units, data, clock, "roster.xlsx")
    assert result.ok, result.errors
    assert result.added == 4
    emps = employees(units)
    assert emps[NIP1].telegram_user_id == 1001
    assert emps[NIP2].telegram_user_id == 1002 and emps[NIP2].role == "karupam"
    assert place(units, emps[NIP4]) == "lapas-cilacap/Regu I"


def test_semicolon_csv_with_bom(units, clock):
    data = b"\xef\xbb\xbf" + csv_bytes(base_rows(), delimiter=";")
    result = roster(units, data, clock)
    assert result.ok, result.errors
    assert result.added == 4


def test_empty_rows_skipped_and_line_numbers_kept(units, clock):
    text = csv_bytes(base_rows()[:2]).decode()  # header line 1, rows 2-3
    text += ",,,,,\r\n   \r\n"  # lines 4 and 5: blank, skipped silently
    text += "12345,X,anggota,lapas-palu,Regu A,\r\n"  # line 6
    result = roster(units, text.encode(), clock)
    assert errors_of(result) == [(6, "nip '12345' must be exactly 18 digits")]
    good = "\r\n\r\n" + csv_bytes(base_rows()).decode().replace("\r\n", "\r\n,,\r\n")
    result = roster(units, good.encode(), clock)
    assert result.ok, result.errors
    assert result.added == 4


# ---- bad rows -------------------------------------------------------------------------------

def test_bad_fixture_reports_every_row_and_writes_nothing(units, clock):
    result = roster(units, (FIXTURES / "roster_bad.csv").read_bytes(), clock)
    assert not result.ok
    assert errors_of(result) == [
        (2, "nip '12345' must be exactly 18 digits"),
        (3, "jabatan 'karupam' needs a regu"),
        (4, "jabatan 'direktur' is unknown; use one of anggota, kalapas, karupam, kplp, staf "
            "or a synonym such as penjaga, petugas, karutan, kepala lpka, administrasi"),
        (5, "unit 'lapas-x' is unknown; known units: lapas-cilacap, lapas-palu"),
        (6, "regu 'Regu Z' does not exist in lapas-palu; its regu are: Regu A, Regu B, "
            "Regu C, Regu D"),
        (7, "nip 198601012010011002 is already on line 3"),
        (8, "telegram_id 1006 is already on line 7"),
        (9, "jabatan 'kplp' must not have a regu (found 'Regu A'); only anggota and karupam "
            "belong to a regu, leave it empty"),
        (10, "nama is empty"),
        (10, "telegram_id '-5' must be a positive whole number (or empty)"),
    ]
    assert str(result.errors[0]) == "line 2: nip '12345' must be exactly 18 digits"
    assert "nothing was written" in result.summary()
    assert employees(units) == {}


@pytest.mark.parametrize(("column", "value", "message"), [
    (0, "12345", "nip '12345' must be exactly 18 digits"),
    (0, "1985072520091210011", "must be exactly 18 digits"),
    (0, "19850725200912100A", "must be exactly 18 digits"),
    (0, "1.98507E+17", "was saved as a number and has lost digits; format the nip column as Text"),
    (0, "", "nip is empty"),
    (1, "", "nama is empty"),
    (1, "x" * 121, "nama is 121 characters long; the limit is 120"),
    (2, "direktur", "jabatan 'direktur' is unknown"),
    (2, "", "jabatan is empty"),
    (3, "lapas-x", "unit 'lapas-x' is unknown; known units: lapas-cilacap, lapas-palu"),
    (4, "Regu I", "regu 'Regu I' does not exist in lapas-palu"),  # a regu of another unit
    (4, "", "jabatan 'anggota' needs a regu"),
    (5, "abc", "telegram_id 'abc' must be a positive whole number"),
    (5, "0", "telegram_id '0' must be a positive whole number"),
    (5, "1.5", "telegram_id '1.5' must be a positive whole number"),
])
def test_each_bad_value(units, clock, column, value, message):
    rows = base_rows()
    rows[0][column] = value
    result = roster(units, csv_bytes(rows), clock)
    assert len(result.errors) == 1, result.errors
    assert result.errors[0].line == 2
    assert message in result.errors[0].message
    assert employees(units) == {}


def test_karupam_without_regu_and_staff_with_regu(units, clock):
    rows = base_rows()
    rows[1][4] = ""
    rows[2][4] = "Regu B"
    rows.append(["198507252009121099", "Rina", "Kepala LPKA", "lapas-palu", "Regu C", ""])
    result = roster(units, csv_bytes(rows), clock)
    assert errors_of(result) == [
        (3, "jabatan 'karupam' needs a regu"),
        (4, "jabatan 'kplp' must not have a regu (found 'Regu B'); only anggota and karupam "
            "belong to a regu, leave it empty"),
        (6, "jabatan 'kalapas' must not have a regu (found 'Regu C'); only anggota and karupam "
            "belong to a regu, leave it empty"),
    ]


def test_a_formula_without_a_saved_result_is_named_not_read_as_empty(units, clock):
    """A workbook written by a script (openpyxl here) keeps formulas but no results: the cell
    reads as empty, which used to come back as "nama is empty" on a row that has a name."""
    rows = base_rows()
    rows[1][1] = '=PROPER("ahmad fauzi")'
    line, message = _the_only_error(roster(units, xlsx_bytes(rows), clock, "roster.xlsx"))
    assert line == 3
    assert "cell B3 holds the formula '=PROPER(\"ahmad fauzi\")' with no saved result" in message
    assert "save it again" in message
    assert employees(units) == {}


def test_a_formula_with_its_saved_result_reads_as_that_result(units, clock):
    rows = base_rows()
    rows[1][1] = '=PROPER("ahmad fauzi")'
    result = roster(units, _with_saved_result(rows, "Ahmad Fauzi"), clock, "roster.xlsx")
    assert result.errors == []
    assert "Ahmad Fauzi" in {e.name for e in employees(units).values()}


def test_a_formula_whose_saved_result_is_empty_text_reads_as_empty(units, clock):
    """Excel saves =IF(...,"",...) with an empty text result (t="str", <v></v>): an empty cell,
    not a formula that was never computed."""
    rows = base_rows()
    rows[2][4] = '=IF(TRUE,"","Regu A")'  # the kplp's regu: empty, as it must be
    result = roster(units, _with_saved_result(rows, ""), clock, "roster.xlsx")
    assert result.errors == []
    assert len(employees(units)) == 4


def _with_saved_result(rows: list[list[object]], text: str) -> bytes:
    """The workbook as a spreadsheet program saves it: each formula's result beside it."""
    xlsx = xlsx_bytes(rows)
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    saved = re.sub(r'<c r="(\w+)"><f>(.*?)</f><v ?/>', rf'<c r="\1" t="str"><f>\2</f><v>{text}</v>',
                   sheet)
    assert saved != sheet
    return _replace_member(xlsx, "xl/worksheets/sheet1.xml", saved.encode())


def _the_only_error(result) -> tuple[int, str]:  # noqa: ANN001
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


@pytest.mark.parametrize("nip", [198507252009121001, 1.98507252009121e17])
def test_nip_as_number_in_xlsx(units, clock, nip):
    rows = base_rows()
    rows[2][0] = nip
    line, message = _the_only_error(roster(units, xlsx_bytes(rows), clock, "roster.xlsx"))
    assert line == 4
    assert "stored as a number in the spreadsheet" in message
    assert "format the nip column as Text" in message
    assert employees(units) == {}


def test_duplicates_in_file(units, clock):
    rows = base_rows()
    rows.append([NIP1, "Budi Lagi", "anggota", "lapas-palu", "Regu B", ""])
    rows.append(["198507252009121077", "Ani", "anggota", "lapas-palu", "Regu B", "1002"])
    result = roster(units, csv_bytes(rows), clock)
    assert errors_of(result) == [
        (6, f"nip {NIP1} is already on line 2"),
        (7, "telegram_id 1002 is already on line 3"),
    ]


def test_telegram_id_of_another_employee_in_db(units, clock):
    assert roster(units, csv_bytes(base_rows()), clock).ok
    # Budi (1001) is not in the next file, which gives his id to someone else.
    rows = base_rows()[1:]
    rows.append(["198507252009121077", "Ani", "anggota", "lapas-cilacap", "Regu I", "1001"])
    result = roster(units, csv_bytes(rows), clock)
    assert errors_of(result) == [(5, (
        f"telegram_id 1001 already belongs to NIP {NIP1} (Budi Santoso), "
        "who is not in this file"))]
    # Budi is in the file but keeps his id (empty column): still a clash.
    rows = base_rows()
    rows[0][5] = ""
    rows[3][5] = "1001"
    result = roster(units, csv_bytes(rows), clock)
    assert errors_of(result) == [(5, (
        f"telegram_id 1001 already belongs to NIP {NIP1} (Budi Santoso), who keeps it: "
        "line 2 has no telegram_id"))]
    assert employees(units)[NIP4].telegram_user_id is None


def test_telegram_ids_swapped_between_two_employees(units, clock):
    """The unique constraint on telegram_user_id holds mid-import, too (PostgreSQL checks
    each row)."""
    assert roster(units, csv_bytes(base_rows()), clock).ok
    with units.transaction() as s:
        budi = s.exec(select(Employee).where(Employee.nip == NIP1)).one()
        budi.private_chat_ok = True
    rows = base_rows()
    rows[0][5], rows[1][5] = "1002", "1001"
    clock.advance(hours=1)
    result = roster(units, csv_bytes(rows), clock)
    assert result.ok, result.errors
    assert result.updated == 2
    emps = employees(units)
    assert (emps[NIP1].telegram_user_id, emps[NIP2].telegram_user_id) == (1002, 1001)
    assert emps[NIP1].private_chat_ok is False  # a new account has to /start again
    assert emps[NIP1].updated_at == clock.now()


def test_missing_column_and_role_alias(units, clock):
    header = ["nip", "nama", "unit", "regu"]
    result = roster(units, csv_bytes([r[:1] + r[1:2] + r[3:5] for r in base_rows()], header),
                    clock)
    assert errors_of(result) == [(1, (
        "missing required column(s): jabatan ('role' is accepted for 'jabatan'); "
        "the header row has 'nip', 'nama', 'unit', 'regu'"))]
    header = ["NIP", "Nama", "ROLE", "Unit", "Regu"]
    result = roster(units, csv_bytes([r[:5] for r in base_rows()], header), clock)
    assert result.ok and result.added == 4


def test_non_utf8_file(units, clock):
    data = csv_bytes(base_rows()).replace(b"Budi Santoso", "Budi Sant\xf6so".encode("cp1252"))
    result = roster(units, data, clock)
    assert errors_of(result) == [(0, (
        "the file is not UTF-8 text (byte 0xf6 at line 2); in Excel use Save As > "
        "'CSV UTF-8 (Comma delimited)', or upload the .xlsx"))]
    assert str(result.errors[0]).startswith("the file is not UTF-8")
    utf16 = csv_bytes(base_rows()).decode().encode("utf-16")
    assert "not a CSV text file" in roster(units, utf16, clock).errors[0].message


def test_unquoted_comma_in_name(units, clock):
    data = csv_bytes(base_rows()) + f"{NIP1[:-1]}9,Ani, S.H.,staf,lapas-palu,,5005\r\n".encode()
    result = roster(units, data, clock)
    assert len(result.errors) == 1
    assert result.errors[0].line == 6
    assert "must be in double quotes" in result.errors[0].message
    assert employees(units) == {}


def test_header_only_file(units, clock):
    result = roster(units, csv_bytes([]), clock)
    assert errors_of(result) == [(0, "the file has a header but no data rows")]


# ---- applying -------------------------------------------------------------------------------

def test_reimport_changes_nothing(units, clock):
    first = roster(units, csv_bytes(base_rows()), clock)
    assert first.added == 4
    stamp = clock.now()
    clock.advance(days=1)
    again = roster(units, csv_bytes(base_rows()), clock)
    assert again.summary() == "0 added, 0 updated, 0 deactivated, 4 unchanged"
    assert again.changes == []
    assert all(e.updated_at == stamp for e in employees(units).values())
    xlsx = roster(units, xlsx_bytes(base_rows()), clock, "roster.xlsx")
    assert xlsx.summary() == "0 added, 0 updated, 0 deactivated, 4 unchanged"


def test_changed_row_updates_only_that_row(units, clock):
    roster(units, csv_bytes(base_rows()), clock)
    stamp = clock.now()
    clock.advance(days=1)
    rows = base_rows()
    rows[0][1:5] = ["Budi Santoso, S.H.", "karupam", "lapas-palu", "Regu B"]
    rows[3][5] = "4004"  # telegram id given for the first time
    result = roster(units, csv_bytes(rows), clock)
    assert (result.added, result.updated, result.deactivated, result.unchanged) == (0, 2, 0, 2)
    assert result.changes == [
        f"update {NIP1} Budi Santoso: nama 'Budi Santoso' -> 'Budi Santoso, S.H.', "
        "role 'anggota' -> 'karupam', regu Regu A -> Regu B",
        f"update {NIP4} Joko Susilo: telegram - -> 4004",
    ]
    emps = employees(units)
    assert (emps[NIP1].name, emps[NIP1].role) == ("Budi Santoso, S.H.", "karupam")
    assert place(units, emps[NIP1]) == "lapas-palu/Regu B"
    assert emps[NIP1].updated_at == clock.now() and emps[NIP4].updated_at == clock.now()
    assert emps[NIP2].updated_at == stamp
    # An empty telegram_id keeps the one on record.
    rows[3][5] = ""
    assert roster(units, csv_bytes(rows), clock).unchanged == 4
    assert employees(units)[NIP4].telegram_user_id == 4004


def test_missing_person_deactivated_not_deleted_and_returns(units, clock):
    roster(units, csv_bytes(base_rows()), clock)
    clock.advance(days=1)
    palu_only = [r for r in base_rows() if r[3] == "lapas-palu" and r[0] != NIP2]
    result = roster(units, csv_bytes(palu_only), clock)
    assert result.summary() == "0 added, 0 updated, 1 deactivated, 2 unchanged"
    assert result.changes == [
        f"deactivate {NIP2} Ahmad Fauzi (karupam, lapas-palu/Regu A, telegram 1002)"]
    emps = employees(units)
    assert len(emps) == 4  # nobody deleted
    assert emps[NIP2].active is False and emps[NIP2].updated_at == clock.now()
    assert emps[NIP4].active is True  # lapas-cilacap was not in the file
    # Importing the same file again: Ahmad stays inactive, nothing to do.
    assert roster(units, csv_bytes(palu_only), clock).summary() == (
        "0 added, 0 updated, 0 deactivated, 2 unchanged")
    # He comes back.
    clock.advance(days=1)
    result = roster(units, csv_bytes(base_rows()), clock)
    assert result.summary() == "0 added, 1 updated (1 reactivated), 0 deactivated, 3 unchanged"
    assert employees(units)[NIP2].active is True


def test_moving_to_another_unit(units, clock):
    roster(units, csv_bytes(base_rows()), clock)
    rows = base_rows()
    rows[0][3:5] = ["lapas-cilacap", "Regu II"]
    result = roster(units, csv_bytes(rows), clock)
    assert result.changes == [
        f"update {NIP1} Budi Santoso: unit lapas-palu -> lapas-cilacap, regu Regu A -> Regu II"]
    assert place(units, employees(units)[NIP1]) == "lapas-cilacap/Regu II"


def test_dry_run_writes_nothing(units, clock):
    result = roster(units, csv_bytes(base_rows()), clock, dry_run=True)
    assert result.summary() == "4 added, 0 updated, 0 deactivated, 0 unchanged (dry run: " \
        "nothing written)"
    assert len(result.changes) == 4
    assert employees(units) == {}
    roster(units, csv_bytes(base_rows()), clock)
    result = roster(units, csv_bytes(base_rows()[:1]), clock, dry_run=True)
    assert result.deactivated == 2
    assert all(e.active for e in employees(units).values())


def test_rows_api_without_a_file(units, clock):
    rows = [(2, dict(zip(HEADER, base_rows()[0], strict=True)))]
    with units.transaction() as s:
        result = import_roster(s, rows, clock)
    assert result.added == 1


# ---- untrusted files ------------------------------------------------------------------------

def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _replace_member(xlsx: bytes, name: str, data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        members = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    assert name in members
    members[name] = data
    return _zip(members)


def test_zip_bomb_refused_before_openpyxl(units, clock, monkeypatch):
    def boom(*a, **kw):
        raise AssertionError("openpyxl must not open a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", boom)
    bomb = _replace_member(xlsx_bytes(base_rows()), "xl/worksheets/sheet1.xml",
                           b"\0" * (20 * 1024 * 1024))  # ~20 KB compressed
    assert len(bomb) < 100_000
    result = roster(units, bomb, clock, "roster.xlsx")
    assert len(result.errors) == 1
    assert "looks like a zip bomb" in result.errors[0].message
    assert "'xl/worksheets/sheet1.xml'" in result.errors[0].message


def test_unzipped_total_capped(units, clock):
    data = xlsx_bytes(base_rows())
    with pytest.raises(FileError, match="unpacks to more than 1,000 bytes"):
        check_zip(data, FileLimits(max_unzipped_bytes=1000))
    many = _zip({f"x/{i}.xml": b"<a/>" for i in range(30)})
    with pytest.raises(FileError, match="holds 30 parts"):
        check_zip(many, FileLimits(max_zip_members=20))
    check_zip(data)  # a real workbook passes


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol4;</t></is></c></row></sheetData></worksheet>
"""


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_billion_laughs_refused(units, clock, member):
    assert openpyxl.DEFUSEDXML
    data = _replace_member(xlsx_bytes(base_rows()), member, LAUGHS)
    result = roster(units, data, clock, "roster.xlsx")
    assert len(result.errors) == 1
    assert "XML entity or DTD declarations" in result.errors[0].message
    assert employees(units) == {}


def test_size_cap(units, clock, tmp_path):
    data = csv_bytes(base_rows())
    result = roster(units, data, clock, limits=FileLimits(max_bytes=100))
    assert "the limit is 100 bytes" in result.errors[0].message
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(5 * 1024 * 1024 + 1)  # sparse: instant
    with pytest.raises(FileError, match="the limit is 5,242,880 bytes"):
        read_upload(big)
    small = tmp_path / "ok.csv"
    small.write_bytes(data)
    assert read_upload(small) == data


def test_row_cap(units, clock):
    result = roster(units, csv_bytes(base_rows()), clock, limits=FileLimits(max_rows=3))
    assert errors_of(result) == [
        (5, "the file has more than 3 data rows; split it, e.g. one file per unit")]


@pytest.mark.parametrize(("data", "filename", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "roster.csv", "not a CSV text file"),
    (b"nip,nama\n", "roster.xlsx", "named like an XLSX workbook but is not one"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "roster.xls", "old Excel .xls"),
    (b"PK\x03\x04garbage", "roster.xlsx", "damaged"),
    (b"", "roster.csv", "the file is empty"),
    (b"%PDF-1.4\n\xe2\xe3\xcf\xd3\n", "roster.csv", "not UTF-8"),
])
def test_not_a_spreadsheet(units, clock, data, filename, message):
    result = roster(units, data, clock, filename)
    assert len(result.errors) == 1 and result.errors[0].line == 0
    assert message in result.errors[0].message


def test_zip_that_is_not_a_workbook(units, clock):
    ods = _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                "content.xml": b"<x/>"})
    result = roster(units, ods, clock, "roster.ods")
    assert "not an XLSX workbook (an OpenDocument .ods file?)" in result.errors[0].message


def test_read_table_shared_by_both_imports():
    table = read_table(csv_bytes(base_rows()), "r.csv", ["nip", "nama"], optional=["regu"])
    assert table.kind == "csv"
    assert table.rows[0] == (2, {"nip": NIP1, "nama": "Budi Santoso", "regu": "Regu A"})
    table = read_table(xlsx_bytes(base_rows()), "r.xlsx", ["nip", "telegram_id"])
    assert table.kind == "xlsx"
    assert table.rows[0] == (2, {"nip": NIP1, "telegram_id": "1001"})


# ---- leave ----------------------------------------------------------------------------------

LEAVE_HEADER = ["nip", "dari", "sampai", "alasan"]


@pytest.fixture
def staffed(units, clock):
    assert roster(units, csv_bytes(base_rows()), clock).ok
    return units


def leaves(db) -> list[tuple[str, date, date, str]]:
    def q(s):
        rows = s.exec(select(Employee.nip, Leave.start, Leave.end, Leave.reason)
                      .join(Employee, Employee.id == Leave.employee_id)).all()
        return sorted(tuple(r) for r in rows)
    return db.call(q)


def test_leave_csv_fixture_and_idempotent(units, clock):
    assert roster(units, (FIXTURES / "roster_good.csv").read_bytes(), clock).ok
    data = (FIXTURES / "leave_good.csv").read_bytes()
    result = leave(units, data, clock)
    assert result.ok, result.errors
    assert result.summary() == "2 added, 0 updated, 0 unchanged"
    assert leaves(units) == [
        ("198507252009121001", date(2024, 11, 25), date(2024, 11, 27), "Cuti tahunan"),
        ("198702022011021003", date(2024, 11, 26), date(2024, 11, 26), "Sakit"),
    ]
    again = leave(units, data, clock)
    assert again.summary() == "0 added, 0 updated, 2 unchanged"
    changed = data.replace(b"Sakit", b"Sakit (surat dokter)")
    result = leave(units, changed, clock)
    assert (result.added, result.updated, result.unchanged) == (0, 1, 1)
    assert leaves(units)[1][3] == "Sakit (surat dokter)"


def test_leave_xlsx_with_date_cells(staffed, clock):
    rows = [[NIP1, datetime(2024, 12, 2), date(2024, 12, 4), "Cuti tahunan"],
            [NIP2, "02-12-2024", "2024-12-02", "Dinas luar"]]
    result = leave(staffed, xlsx_bytes(rows, LEAVE_HEADER), clock, "cuti.xlsx")
    assert result.ok, result.errors
    assert leaves(staffed) == [
        (NIP1, date(2024, 12, 2), date(2024, 12, 4), "Cuti tahunan"),
        (NIP2, date(2024, 12, 2), date(2024, 12, 2), "Dinas luar"),
    ]
    assert db_leave_created(staffed) == {clock.now()}


def db_leave_created(db):
    return {x.created_at for x in db.call(lambda s: s.exec(select(Leave)).all())}


def test_leave_bad_rows(staffed, clock):
    rows = [
        [NIP1, "01-12-2024", "03-12-2024", "Cuti"],
        ["198507252009121099", "01-12-2024", "03-12-2024", "Cuti"],
        [NIP2, "05-12-2024", "03-12-2024", "Cuti"],
        [NIP3, "31-02-2024", "tomorrow", ""],
        [NIP4, "01-12-2024", "01-12-2024", "x" * 201],
        [NIP1, "2024-12-01", "2024-12-03", "Cuti lagi"],
        [NIP2, "01-12-2204", "01-12-2204", "Typo"],
    ]
    result = leave(staffed, csv_bytes(rows, LEAVE_HEADER), clock)
    assert errors_of(result) == [
        (3, "nip 198507252009121099 is not in the roster; import the roster first"),
        (4, "sampai 03-12-2024 is before dari 05-12-2024"),
        (5, "dari '31-02-2024' is not a real calendar date"),
        (5, "sampai 'tomorrow' is not a date; use DD-MM-YYYY or YYYY-MM-DD"),
        (5, "alasan is empty"),
        (6, "alasan is 201 characters long; the limit is 200"),
        (7, f"the leave of {NIP1} from 01-12-2024 to 03-12-2024 is already on line 2"),
        (8, "dari 01-12-2204 is outside 2000-2099"),
        (8, "sampai 01-12-2204 is outside 2000-2099"),
    ]
    assert leaves(staffed) == []


def test_leave_number_dates_in_xlsx(staffed, clock):
    rows = [[NIP1, 45627, 45628.0, "Cuti"]]
    result = leave(staffed, xlsx_bytes(rows, LEAVE_HEADER), clock, "cuti.xlsx")
    assert errors_of(result) == [
        (2, "dari '45627' is a plain number, not a date; format the column as Date or type "
            "DD-MM-YYYY"),
        (2, "sampai '45628' is a plain number, not a date; format the column as Date or type "
            "DD-MM-YYYY"),
    ]


def test_leave_rows_api_and_dry_run(staffed, clock):
    rows = [(2, {"nip": NIP1, "dari": "1/12/2024", "sampai": "2/12/2024", "alasan": "Cuti"})]
    with staffed.transaction() as s:
        result = import_leave(s, rows, clock, dry_run=True)
    assert result.summary() == "1 added, 0 updated, 0 unchanged (dry run: nothing written)"
    assert leaves(staffed) == []


# ---- command line ---------------------------------------------------------------------------

@pytest.fixture
def cli_config(tmp_path) -> Path:
    root = Path(__file__).resolve().parents[2]
    text = (root / "config.example.toml").read_text(encoding="utf-8")
    db_path = tmp_path / "apel.db"
    text = text.replace('url = "sqlite:///apel.db"', f'url = "sqlite:///{db_path}"')
    assert str(db_path) in text
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    return config


def test_cli_end_to_end(cli_config, tmp_path, capsys):
    cfg = ["--config", str(cli_config)]
    good = str(FIXTURES / "roster_good.csv")
    capsys.readouterr()

    assert main(["roster", "import", str(FIXTURES / "roster_bad.csv"), *cfg]) == 1
    out, err = capsys.readouterr()
    assert "line 2: nip '12345' must be exactly 18 digits" in err.splitlines()
    assert "line 10: nama is empty" in err.splitlines()
    assert err.splitlines()[-1] == ("10 problem(s) found; nothing was written. "
                                    "Fix the file and import it again.")

    assert main(["roster", "import", good, "--dry-run", *cfg]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1] == ("7 added, 0 updated, 0 deactivated, 0 unchanged "
                                    "(dry run: nothing written)")

    assert main(["roster", "import", good, *cfg]) == 0
    out, _ = capsys.readouterr()
    assert "add 198507252009121001 Budi Santoso (anggota, lapas-palu/Regu A)" in out
    assert out.splitlines()[-1] == "7 added, 0 updated, 0 deactivated, 0 unchanged"

    assert main(["roster", "import", good, *cfg]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["0 added, 0 updated, 0 deactivated, 7 unchanged"]

    xlsx = tmp_path / "roster.xlsx"
    with (FIXTURES / "roster_good.csv").open(encoding="utf-8", newline="") as fh:
        table = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    xlsx.write_bytes(xlsx_bytes([[c.lstrip("'") for c in r] for r in table[1:]], table[0]))
    assert main(["roster", "import", str(xlsx), *cfg]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["0 added, 0 updated, 0 deactivated, 7 unchanged"]

    leave_file = str(FIXTURES / "leave_good.csv")
    assert main(["leave", "import", leave_file, *cfg]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1] == "2 added, 0 updated, 0 unchanged"
    assert main(["leave", "import", leave_file, *cfg]) == 0
    assert capsys.readouterr().out.splitlines() == ["0 added, 0 updated, 2 unchanged"]

    bad = tmp_path / "latin1.csv"
    bad.write_bytes("nip,nama\n1,Sant\xf6so\n".encode("latin-1"))
    assert main(["roster", "import", str(bad), *cfg]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == ["error: latin1.csv: the file is not UTF-8 text (byte 0xf6 at line 2); in "
                      "Excel use Save As > 'CSV UTF-8 (Comma delimited)', or upload the .xlsx"]

    assert main(["leave", "import", str(tmp_path / "nope.csv"), *cfg]) == 1
    assert "error: file not found" in capsys.readouterr().err


def test_cli_needs_migrated_database(tmp_path, capsys):
    root = Path(__file__).resolve().parents[2]
    text = (root / "config.example.toml").read_text(encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(text.replace('url = "sqlite:///apel.db"',
                                   f'url = "sqlite:///{tmp_path / "new.db"}"'), encoding="utf-8")
    code = main(["roster", "import", str(FIXTURES / "roster_good.csv"), "--config", str(config)])
    assert code == 2
    assert "apel-bot db upgrade" in capsys.readouterr().err
