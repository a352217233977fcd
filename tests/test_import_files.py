"""Reading import files: encodings, delimiters, XLSX cell types, resumes, and the
files and rows that cannot be imported, each with the sentence the user sees."""

from __future__ import annotations

import codecs
import csv
import io
import random
import zipfile
from datetime import date, datetime, time

import pytest
from openpyxl import Workbook

from saas.modules.imports import csvfile, reader
from saas.modules.imports.encodings import ENCODINGS
from saas.modules.imports.reader import FileError, Row, Sniffed, open_table, sniff
from tests.factories import minimal_xlsx

CHINESE = [
    ["姓名", "公司", "城市"],
    ["张伟", "北京华为技术有限公司", "深圳市南山区"],
    ["王芳", "上海贸易公司", "广州"],
]
WESTERN = [["Nom", "Société", "Note"], ["Renée Dupré", "Müller & Søn", "Très intéressé – 5 €"]]


@pytest.fixture(params=["split", "csv"])
def mode(request, monkeypatch):
    """CSV rows are read two ways (see csvfile.CsvTable): run a test with each."""
    monkeypatch.setattr(csvfile, "QUOTES_PER_LINE", 10**9 if request.param == "split" else 0)
    return request.param


def write(tmp_path, data: bytes, name: str = "data.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def load(tmp_path, data: bytes, name: str = "data.csv", *, encoding=None, max_field=131072):
    path = write(tmp_path, data, name)
    found = sniff(path, name, encoding=encoding)
    return found, open_table(path, found, max_field=max_field)


def csv_bytes(rows, encoding="utf-8", delimiter=",", newline="\n") -> bytes:
    return "".join(delimiter.join(r) + newline for r in rows).encode(encoding)


def refused(tmp_path, data: bytes, name: str = "data.csv", **kwargs) -> str:
    with pytest.raises(FileError) as caught:
        found, table = load(tmp_path, data, name, **kwargs)
        table.count()
    return str(caught.value)


def cells(table, start=0):
    return [r.cells for r in table.rows(start)]


# -- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected", "rows"),
    [
        ("utf-8", "utf-8", CHINESE),
        ("utf-8", "utf-8", WESTERN),
        ("utf-8-sig", "utf-8-sig", CHINESE),
        ("gb18030", "gb18030", CHINESE),
        ("gbk", "gb18030", CHINESE),
        ("cp1252", "cp1252", WESTERN),
        ("utf-16", "utf-16", CHINESE),
        ("utf-16", "utf-16", WESTERN),
    ],
)
def test_every_encoding_is_detected_and_read_back(tmp_path, encoding, expected, rows, mode):
    found, table = load(tmp_path, csv_bytes(rows, encoding))
    assert found == Sniffed("csv", expected, ",")
    assert table.header == rows[0]
    assert cells(table) == rows[1:]


def test_utf16_without_a_byte_order_mark(tmp_path, mode):
    data = csv_bytes([["name", "city"], ["Zoë", "Zürich"]], "utf-16-le", "\t")
    found, table = load(tmp_path, data)
    assert (found.encoding, found.delimiter) == ("utf-16-le", "\t")
    assert cells(table) == [["Zoë", "Zürich"]]


def test_bom_is_not_part_of_the_first_column_name(tmp_path, mode):
    data = codecs.BOM_UTF8 + b"email,name\na@example.com,Ann\n"
    for encoding in (None, "utf-8"):
        found, table = load(tmp_path, data, encoding=encoding)
        assert found.encoding == "utf-8-sig"
        assert table.header == ["email", "name"]
    # A UTF-16 mark is certain, and no other choice could read the file.
    found, table = load(tmp_path, csv_bytes(CHINESE, "utf-16"), encoding="utf-8")
    assert (found.encoding, table.header) == ("utf-16", CHINESE[0])


def test_windows_1252_punctuation_and_its_undefined_bytes(tmp_path, mode):
    # 0x80 is the euro sign in Windows-1252; 0x81 is undefined there and read as Latin-1.
    found, table = load(tmp_path, b"name,note\nAnn,\x80 5 \x93ok\x94 \x81\n")
    assert found.encoding == "cp1252"
    assert cells(table) == [["Ann", "€ 5 “ok” \x81"]]


def test_short_western_text_that_is_also_valid_gb18030_is_western(tmp_path, mode):
    data = "Name\nJürgen Müller\nInformação\n".encode("cp1252")
    data.decode("gb18030")  # both readings decode: the detector has to judge
    found, table = load(tmp_path, data)
    assert found.encoding == "cp1252"
    assert cells(table) == [["Jürgen Müller"], ["Informação"]]


def test_non_ascii_text_far_into_the_file_decides(tmp_path, mode):
    ascii_part = b"name,n\n" + b"".join(b"person %d,%d\n" % (i, i) for i in range(150_000))
    assert len(ascii_part) > 2 * 1024 * 1024
    data = ascii_part + "张伟,1\n".encode("gb18030")
    found, table = load(tmp_path, data)
    assert found.encoding == "gb18030"
    assert table.count() == 150_001
    assert next(table.rows(150_000)).cells == ["张伟", "1"]


def test_an_explicit_encoding_wins(tmp_path, mode):
    data = csv_bytes(WESTERN, "cp1252")
    found, table = load(tmp_path, data, encoding="latin-1")  # read as its superset
    assert found.encoding == "cp1252"
    big5 = csv_bytes([["名稱", "城市"], ["張偉", "臺北"]], "big5")
    found, table = load(tmp_path, big5, encoding="big5")
    assert found.encoding == "big5"
    assert cells(table) == [["張偉", "臺北"]]
    found, table = load(tmp_path, csv_bytes(CHINESE, "gb18030"), encoding="cp1252")
    assert found.encoding == "cp1252"  # the user's choice, even a poor one
    assert table.header[0] == "ÐÕÃû"


def test_every_offered_encoding_is_one_python_has(tmp_path):
    for codec, label in ENCODINGS:
        found, table = load(tmp_path, csv_bytes([["a"], ["b"]], codec), encoding=codec)
        assert cells(table) == [["b"]], label


def test_unknown_encoding(tmp_path):
    assert "not an encoding" in refused(tmp_path, b"a\nb\n", encoding="klingon")
    assert "not an encoding" in refused(tmp_path, b"a\nb\n", encoding="base64")


def test_a_wrong_encoding_names_the_line_at_once(tmp_path, mode):
    data = b"name,city\nAnn,Paris\n" + csv_bytes(CHINESE[1:], "gb18030")
    message = refused(tmp_path, data, encoding="utf-8")
    assert message.startswith("Line 3 cannot be read as Unicode (UTF-8).")
    assert "GB18030" in message


def test_a_wrong_encoding_far_into_the_file_stops_count_before_any_row(tmp_path, mode):
    data = b"name,n\n" + b"".join(b"x%d,%d\n" % (i, i) for i in range(200_000)) + b"Ren\xe9e,1\n"
    found, table = load(tmp_path, data, encoding="utf-8")  # the start reads fine
    with pytest.raises(FileError, match="^Line 200002 cannot be read as Unicode"):
        table.count()
    with pytest.raises(FileError, match="^Line 200002 "):
        for _row in table.rows():
            pass


# -- delimiters, quoting, line ends, blank rows --------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_detection(tmp_path, delimiter, mode):
    rows = [["name", "amount", "note"], ["Ann", "1,5", "a;b|c\td"], ["Bob", "2", "x"]]
    quoted = [[f'"{c}"' if any(x in c for x in ",;|\t") else c for c in r] for r in rows]
    found, table = load(tmp_path, csv_bytes(quoted, delimiter=delimiter))
    assert found.delimiter == delimiter
    assert cells(table) == rows[1:]


def test_delimiter_defaults_to_comma_and_honours_excels_sep_line(tmp_path, mode):
    found, table = load(tmp_path, b"email\na@example.com\n")
    assert found.delimiter == ","
    assert cells(table) == [["a@example.com"]]
    found, table = load(tmp_path, b"sep=;\nname;amount\nAnn;1,5\n")
    assert found.delimiter == ";"
    assert table.header == ["name", "amount"]
    assert [(r.line, r.cells) for r in table.rows()] == [(3, ["Ann", "1,5"])]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_and_quoted_line_breaks(tmp_path, newline, mode):
    text = f'a,b{newline}1,"two{newline}lines"{newline}3,"say ""hi"", ok"{newline}'
    found, table = load(tmp_path, text.encode())
    assert [(r.number, r.line, r.cells) for r in table.rows()] == [
        (1, 2, ["1", "two\nlines"]),
        (2, 4, ["3", 'say "hi", ok']),
    ]


def test_blank_rows_are_skipped_and_not_numbered(tmp_path, mode):
    data = b"\n\na,b\n\n1,2\n , \n,,\n\n3,4\n"
    found, table = load(tmp_path, data)
    assert table.header == ["a", "b"]
    assert [(r.number, r.line, r.cells) for r in table.rows()] == [
        (1, 5, ["1", "2"]),
        (2, 9, ["3", "4"]),
    ]
    assert table.count() == 2


def test_whitespace_around_cells_is_trimmed(tmp_path, mode):
    # Each of the last rows has one kind of untrimmed edge only.
    lines = [" x,y,z,w", "x,y,z,w ", "x ,y,z,w", "x,y, z,w", "x,y,\u00a0z,w", "x,\ty,z,w"]
    data = ('a,b,c,d\n  x , "  y  "\t,\u00a0z\u3000,"p, q"\n' + "\n".join(lines)).encode()
    found, table = load(tmp_path, data)
    assert cells(table) == [["x", "y", "z", "p, q"]] + [["x", "y", "z", "w"]] * len(lines)


def test_a_quote_inside_an_unquoted_value_is_kept_as_csv_does(tmp_path, mode):
    found, table = load(tmp_path, b'name,size,x\nTV,55" screen,1\n"a"b,c,2\n')
    assert cells(table) == [["TV", '55" screen', "1"], ["ab", "c", "2"]]


@pytest.mark.parametrize("quoting", [csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
def test_random_files_read_as_csv_reader_reads_them(tmp_path, quoting, mode):
    rng = random.Random(quoting)
    pieces = ["a", "Zoë", "张伟", " ", ",", ";", '"', "\n", "\r\n", "x y", "1.5", ""]
    rows = [[f"c{i}" for i in range(6)]]
    for _ in range(500):
        width = rng.choice([6, 6, 6, 5, 7])
        rows.append(["".join(rng.choices(pieces, k=rng.randint(0, 4))) for _ in range(width)])
    text = io.StringIO()
    csv.writer(text, quoting=quoting).writerows(rows)
    found, table = load(tmp_path, text.getvalue().encode())
    expected = []
    for row in csv.reader(io.StringIO(text.getvalue(), newline=""), skipinitialspace=True):
        row = [c.replace("\r\n", "\n").strip() for c in row]
        if any(row):
            expected.append((row + [""] * 6)[:6])
    assert table.header == expected[0]
    assert [r.cells for r in table.rows()] == expected[1:]
    assert table.count() == len(expected) - 1


# -- resume and count ------------------------------------------------------------------------


def test_resume_skips_exactly_the_rows_already_done(tmp_path, mode):
    rng = random.Random(5)
    lines = ["id,note,city"]
    for i in range(1, 301):
        note = rng.choice(["plain", '"has, comma"', '"two\nlines"', '"quote "" in"'])
        lines.append(f"{i},{note},c{i}")
        if i % 7 == 0:
            lines.append("")  # blank lines are not rows
    found, table = load(tmp_path, ("\n".join(lines) + "\n").encode())
    everything = list(table.rows())
    assert [r.number for r in everything] == list(range(1, 301))
    assert table.count() == 300
    for start in (0, 1, 6, 7, 8, 150, 299, 300, 400):
        assert list(table.rows(start=start)) == everything[start:]


# -- rows that cannot be imported as they are --------------------------------------------------


def test_ragged_rows(tmp_path, mode):
    found, table = load(tmp_path, b"a,b,c\n1,2\n1,2,3,4\n1,2,3,,\n5,6,7\n")
    rows = list(table.rows())
    assert [r.cells for r in rows] == [
        ["1", "2", ""],
        ["1", "2", "3"],
        ["1", "2", "3"],
        ["5", "6", "7"],
    ]
    assert [r.problem is None for r in rows] == [True, False, True, True]
    assert rows[1].problem.startswith("The row has 4 values but the file has 3 columns")


@pytest.mark.parametrize(
    "value",
    [
        b"x" * 200_000,  # unquoted: no line break possible
        b'"' + b"long line\n" * 20_000 + b'"',  # quoted, over many lines
        b'"' + b"x" * 200_000 + b'"',  # quoted, over csv's own field size limit
    ],
)
def test_a_huge_value_fails_its_row_and_reading_goes_on(tmp_path, value, mode):
    data = b"name,notes,n\n" + b"Ann," + value + b",1\nBob,short,2\n"
    found, table = load(tmp_path, data)
    rows = list(table.rows())
    assert [r.cells[0] for r in rows] == ["Ann", "Bob"]
    assert rows[0].problem.startswith("The value in column “notes” has ")
    assert len(rows[0].cells[1]) == 131072  # cut, the rest of the row kept
    assert rows[0].cells[2] == "1"
    assert (rows[1].cells, rows[1].problem, rows[1].line) == (
        ["Bob", "short", "2"],
        None,
        value.count(b"\n") + 3,
    )
    assert table.count() == 2


def test_max_field_is_the_callers_choice(tmp_path, mode):
    found, table = load(
        tmp_path, b'a,b\n1,"' + b"y" * 50 + b'"\n2,' + b"z" * 50 + b"\n3,ok\n", max_field=20
    )
    rows = list(table.rows())
    assert [r.problem is not None for r in rows] == [True, True, False]
    assert "at most 20 can be imported" in rows[0].problem
    assert rows[1].cells == ["2", "z" * 20]


def test_nul_characters_fail_their_row(tmp_path, mode):
    start = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(20_000))  # past the sniffed start
    found, table = load(tmp_path, start + b'bad,\x00here\n"also",bad\x00\nok,1\n')
    rows = list(table.rows())[-3:]
    assert [r.problem is not None for r in rows] == [True, True, False]
    assert "NUL character" in rows[0].problem
    assert rows[0].cells == ["bad", "here"] and rows[1].cells == ["also", "bad"]


def test_a_quote_closed_far_too_late_is_reported_not_imported_as_one_value(tmp_path, mode):
    data = b'a,b,c,d\n1,"2,3,4\n5,6,7,8\n9,10,11,12\n13,14",15,16\n17,18,19,20\n'
    found, table = load(tmp_path, data)
    rows = list(table.rows())
    assert rows[0].problem.startswith("This row runs from line 2 to line 5 because of a quote")
    assert (rows[1].cells, rows[1].problem) == (["17", "18", "19", "20"], None)
    found, table = load(tmp_path, b'a,b,c,d\n1,"a note\nover, two lines",3,4\n')
    assert next(table.rows()).problem is None


# -- files that cannot be imported ------------------------------------------------------------


def test_unclosed_quote_names_the_line_where_it_opens(tmp_path, mode):
    data = b'a,b,c\n1,2,3\n4,"fine\nvalue",6\n7,"oops,9\n10,11,12\n13,14,15\n'
    message = refused(tmp_path, data)
    assert message.startswith('The quote (") that opens a value on line 5 is never closed')
    found, table = load(tmp_path, data)
    with pytest.raises(FileError, match="line 5 is never closed"):
        list(table.rows())


def test_unclosed_quote_swallowing_more_than_the_field_limit(tmp_path, mode):
    data = b'a,b\n1,2\n3,"' + b"endless line\n" * 20_000
    assert "line 3 is never closed" in refused(tmp_path, data)


def test_unclosed_quote_on_a_later_line_of_a_record(tmp_path, mode):
    data = b'a,b,c\n1,"two\nlines","open\nand on\n'
    assert "line 3 is never closed" in refused(tmp_path, data)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "data.csv", "The file is empty."),
        (b"  \r\n\t\n\n", "data.csv", "The file has only blank lines."),
        (b"\xef\xbb\xbf\n,,\n", "data.csv", "The file has only blank lines."),
        (b"name,email\n\n\n", "data.csv", "The file has column names but no rows."),
        (b"name,email\n,\n", "data.csv", "The file has column names but no rows."),
        (
            b"Name,email,phone,EMAIL,x,x\n1,2,3,4,5,6\n",
            "data.csv",
            "Column names must differ, and these are used more than once: "
            "“email” (columns 2, 4), “x” (columns 5, 6).",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
            "old.xls",
            "This is an old Excel file (.xls)",
        ),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "report.csv", "This is a PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "This is an image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.csv", "This is an image"),
        (b"\x1f\x8b\x08\x00\x00\x00", "data.csv.gz", "This is a compressed archive."),
        (
            b"<html><body><table><tr><td>a</td></tr></table>",
            "export.xls",
            "This file is a web page or XML",
        ),
        (b'<?xml version="1.0"?><Workbook>', "export.xml", "This file is a web page or XML"),
        (b"name,note\nAnn,\x00\x00\x00\x00\n", "data.csv", "This file is not a CSV or Excel file"),
        (b"PK\x03\x04 not really a zip", "data.xlsx", "This .xlsx file is damaged."),
    ],
)
def test_bad_files(tmp_path, data, name, message):
    assert refused(tmp_path, data, name).startswith(message)


def test_binary_garbage(tmp_path):
    garbage = random.Random(1).randbytes(100_000)
    assert refused(tmp_path, garbage, "data.csv").startswith("This file is not a CSV or Excel file")
    controls = bytes(range(1, 9)) * 100 + b"a,b\n"  # no zero byte, still not text
    assert refused(tmp_path, controls, "data.csv").startswith(
        "This file is not a CSV or Excel file"
    )


def test_empty_column_names_are_named_by_position(tmp_path, mode):
    found, table = load(tmp_path, b"email,,phone,,,\na@example.com,x,1\n")
    assert table.header == ["email", "Column 2", "phone"]  # trailing empty ones dropped
    assert cells(table) == [["a@example.com", "x", "1"]]


def test_too_many_columns_and_absurd_names(tmp_path, mode):
    wide = ",".join(f"c{i}" for i in range(1001)).encode() + b"\n1\n"
    assert refused(tmp_path, wide).startswith("The file has 1001 columns")
    long = b"a," + b"n" * 1001 + b"\n1,2\n"
    assert refused(tmp_path, long).startswith("The name of column 2 has more than 1000 characters")


def test_a_very_long_line_refuses_the_file(tmp_path, mode):
    data = b"a,b\n1,2\n" + b"x," * (4 * 1024 * 1024) + b"\n3,4\n"
    message = refused(tmp_path, data, max_field=100_000)
    assert message.startswith("Line 3 is longer than 6400000 characters")


def test_zips_that_are_not_workbooks(tmp_path):
    def zipped(name, files):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:
            for member, content in files.items():
                z.writestr(member, content)
        return path.read_bytes()

    numbers = zipped("a.numbers", {"Index/Document.iwa": b"x", "Metadata/Properties.plist": b"x"})
    assert refused(tmp_path, numbers, "a.numbers").startswith("This is an Apple Numbers file.")
    ods = zipped("a.ods", {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})
    assert refused(tmp_path, ods, "renamed.xlsx").startswith("This is an OpenDocument spreadsheet")
    other = zipped("a.zip", {"readme.txt": b"hello"})
    assert refused(tmp_path, other, "a.csv").startswith("This is a ZIP archive")
    broken = zipped("b.xlsx", {"xl/workbook.xml": b"<not xml", "[Content_Types].xml": b"<"})
    assert refused(tmp_path, broken, "b.xlsx").startswith("This .xlsx file is damaged.")


# -- XLSX ------------------------------------------------------------------------------------


def xlsx(tmp_path, rows, name="data.xlsx", formats=None):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for ref, fmt in (formats or {}).items():
        sheet[ref].number_format = fmt
    book.create_sheet("Second").append(["not", "read"])
    path = tmp_path / name
    book.save(path)
    return path


def test_xlsx_cells_become_the_text_excel_shows(tmp_path):
    path = xlsx(
        tmp_path,
        [
            [None],
            ["Name", "Count", "Price", "When", "Day", "Active", "Share", "Big", "Tiny", "At"],
            [
                "  Zoë ",
                3,
                2.5,
                datetime(2026, 3, 5, 14, 30),
                datetime(2026, 3, 5),
                True,
                0.255,
                1e20,
                1.5e-7,
                time(9, 15),
            ],
            [],
            ["张伟", 13800000000, 0.1 + 0.2, date(2026, 1, 2), None, False, 1, -0.0, 3.0, None],
        ],
        formats={"G3": "0.0%"},
    )
    found = sniff(path, "data.xlsx")
    assert found == Sniffed("xlsx", None, None)
    table = open_table(path, found)
    assert table.header == [
        "Name",
        "Count",
        "Price",
        "When",
        "Day",
        "Active",
        "Share",
        "Big",
        "Tiny",
        "At",
    ]
    rows = list(table.rows())
    assert rows == [
        Row(
            1,
            [
                "Zoë",
                "3",
                "2.5",
                "2026-03-05 14:30:00",
                "2026-03-05",
                "true",
                "25.5%",
                "100000000000000000000",
                "0.00000015",
                "09:15:00",
            ],
            None,
            3,
        ),
        Row(
            2, ["张伟", "13800000000", "0.3", "2026-01-02", "", "false", "1", "0", "3", ""], None, 5
        ),
    ]
    assert table.count() == 2
    assert list(table.rows(start=1)) == rows[1:]
    table.close()


def test_content_decides_not_the_name(tmp_path):
    path = xlsx(tmp_path, [["name"], ["Ann"]], "import-7-copy.upload")  # how the import stores it
    found = sniff(path, "people.csv")
    assert found.format == "xlsx"
    assert cells(open_table(path, found)) == [["Ann"]]
    found, table = load(tmp_path, b"name\nBob\n", "people.xlsx")  # a CSV with the wrong name
    assert (found.format, cells(table)) == ("csv", [["Bob"]])


def test_xlsx_ragged_and_huge_cells(tmp_path):
    path = xlsx(tmp_path, [["a", "b"], ["1"], ["1", "2", "3"], ["x" * 60, "2"], ["4", "5"]])
    table = open_table(path, sniff(path, "data.xlsx"), max_field=50)
    rows = list(table.rows())
    assert [r.cells for r in rows] == [["1", ""], ["1", "2"], ["x" * 50, "2"], ["4", "5"]]
    assert [r.problem is not None for r in rows] == [False, True, True, False]
    assert "has 60 characters" in rows[2].problem


def test_xlsx_bad_workbooks(tmp_path):
    empty = xlsx(tmp_path, [], "empty.xlsx")
    assert refused(tmp_path, empty.read_bytes(), "empty.xlsx") == (
        "The file has only blank lines. Choose a file with a header row."
    )
    header_only = xlsx(tmp_path, [["a", "b"], [None, " "]], "header.xlsx")
    assert (
        refused(tmp_path, header_only.read_bytes(), "h.xlsx")
        == "The file has column names but no rows."
    )
    dups = xlsx(tmp_path, [["a", "A"], [1, 2]], "dups.xlsx")
    assert "“a” (columns 1, 2)" in refused(tmp_path, dups.read_bytes(), "d.xlsx")
    cut = xlsx(tmp_path, [["a"]] + [[i] for i in range(1000)], "cut.xlsx").read_bytes()
    assert refused(tmp_path, cut[: len(cut) // 2], "cut.xlsx").startswith(
        "This .xlsx file is damaged."
    )


def test_xlsx_row_estimate_is_an_upper_bound_read_without_parsing(tmp_path):
    """The progress bar's total comes from counting row elements (a workbook of a million
    rows takes minutes to parse twice): blank rows count, prefixed tags too, and rows
    straddling the reader's chunks are counted once."""
    many = [["n"]] + [[f"person {i}", i] for i in range(40_000)]  # more than one chunk
    table = open_table(path := xlsx(tmp_path, many), sniff(path, "data.xlsx"))
    assert table.estimate() == table.count() == 40_000
    table.close()
    blanks = xlsx(tmp_path, [[None], ["n"], ["a"], [], [None, " "], ["b"]], "blanks.xlsx")
    table = open_table(blanks, sniff(blanks, "blanks.xlsx"))
    assert table.count() == 2 and table.estimate() >= 2
    table.close()
    prefixed = minimal_xlsx(
        tmp_path / "x.xlsx",
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>n</x:t></x:is></x:c></x:row>'
        + "".join(
            f'<x:row r="{i}"><x:c r="A{i}"><x:v>{i}</x:v></x:c></x:row>' for i in range(2, 9)
        ),
    )
    table = open_table(prefixed, sniff(prefixed, "x.xlsx"))
    assert table.estimate() == 7
    table.close()


def test_xlsx_formulas_give_their_cached_values(tmp_path):
    path = minimal_xlsx(
        tmp_path / "f.xlsx",
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Total</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>Label</t></is></c></row>'
        '<row r="4"><c r="A4"><f>1+2</f><v>3</v></c><c r="B4" t="str"><f>"a"&amp;"b"</f><v>ab</v></c></row>',
    )
    table = open_table(path, sniff(path, "f.xlsx"))
    assert list(table.rows()) == [Row(1, ["3", "ab"], None, 4)]


def test_xlsx_broken_midway(tmp_path):
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(2, 20_000))
    path = minimal_xlsx(
        tmp_path / "b.xlsx",
        '<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row>' + rows + "<row><c",
    )
    table = open_table(path, sniff(path, "b.xlsx"))
    with pytest.raises(FileError, match="damaged"):
        table.count()


def test_xlsx_zip_bomb_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "XLSX_RATIO_FROM", 1024 * 1024)
    sheet = '<row r="1"><c r="A1"><v>1</v></c></row>' + " " * (3 * 1024 * 1024)
    path = minimal_xlsx(tmp_path / "bomb.xlsx", sheet)
    message = refused(tmp_path, path.read_bytes(), "bomb.xlsx")
    assert message.startswith("This workbook is too large to read as .xlsx (it unpacks to 3 MB).")
    monkeypatch.setattr(reader, "XLSX_MAX_STRINGS", 1000)
    strings = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + "<si><t>x</t></si>" * 100
        + "</sst>"
    )
    path = minimal_xlsx(tmp_path / "s.xlsx", "", {"xl/sharedStrings.xml": strings})
    assert "too large to read as .xlsx" in refused(tmp_path, path.read_bytes(), "s.xlsx")


@pytest.mark.parametrize(
    "text, expected",
    [
        # Short Chinese names numbered in ASCII: a statistical detector took it for
        # Windows-1252 ("ÐÕÃû"); runs of two-byte ideographs say GB18030.
        (
            "姓名,邮箱,城市\n" + "".join(f"客户{i},c{i}@tea.example,杭州\n" for i in range(300)),
            "gb18030",
        ),
        ("name,city\nJosé Müller,Zürich\nFrançois,Besançon\nSøren,Århus\n", "cp1252"),
    ],
)
def test_chinese_and_western_files_without_a_mark_are_told_apart(tmp_path, text, expected):
    legacy = "gb18030" if expected == "gb18030" else "cp1252"
    found, table = load(tmp_path, text.encode(legacy))
    assert found.encoding == expected
    assert table.header == text.splitlines()[0].split(",")
