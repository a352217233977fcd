"""Reading an Excel import file: our reader next to openpyxl's own fastest read.

A workbook of 100,000 rows (``--rows``) with the 15 columns of bench/import.py's
CSV (text, e-mail, phone, date, number, checkbox) is written with openpyxl.

- ``rows_per_s``: the import's reader (``saas.modules.imports.reader``) going
  through the file as an import run does: the total for the progress bar
  (``estimate``), then every row as the strings the importer parses.
- ``openpyxl_rows_per_s`` (baseline, same run): ``iter_rows(values_only=True)`` of
  openpyxl's read-only workbook over the same file, values not even turned into text.
  ``ratio`` = rows_per_s / openpyxl_rows_per_s.
- ``estimate_s`` / ``count_s``: the progress bar's total from counting the sheet's
  row elements, and the exact count the run used to make by reading every row
  (now only for a file over the plan's limit).

    .venv/bin/python bench/xlsx.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
from openpyxl import Workbook, load_workbook  # noqa: E402

from saas.modules.imports.reader import Sniffed, open_table  # noqa: E402

HEADER = [
    "First name", "Last name", "E-mail", "Phone", "Mobile", "Job title", "City", "Country",
    "Birthday", "Description", "Territory", "Budget", "Customer since", "Tier", "VIP",
]  # fmt: skip


def write(path: Path, rows: int) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for i in range(rows):
        sheet.append([
            f"Anna{i}", "Smith", f"anna{i}@example.com", "+1 555 0100", "+86 138 0013 8000",
            "Buyer", "Berlin", "Germany", date(1980, 1 + i % 12, 1 + i % 28),
            "Met at the trade fair; wants a quote", f"T{i % 100:03d}", 1234.5 + i,
            date(2020, 1, 1), "Gold", i % 2 == 0,
        ])  # fmt: skip
    book.save(path)


def timed(fn) -> tuple[float, object]:
    start = perf_counter()
    out = fn()
    return perf_counter() - start, out


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--rows", type=harness.positive_int, default=100_000)
    args = cli.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-xlsx-") as tmp:
        path = Path(tmp) / "contacts.xlsx"
        write_s, _ = timed(lambda: write(path, args.rows))
        print(f"wrote {args.rows:,} rows in {write_s:.1f} s", flush=True)

        def baseline() -> int:
            book = load_workbook(path, read_only=True, data_only=True)
            n = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 1
            book.close()
            return n

        def ours() -> int:
            table = open_table(path, Sniffed("xlsx", None, None))
            total = table.estimate()
            n = sum(1 for _ in table.rows())
            table.close()
            if total < n:
                raise SystemExit(f"FAILED: estimate {total} below the {n} rows read")
            return n

        table = open_table(path, Sniffed("xlsx", None, None))
        estimate_s, total = timed(table.estimate)
        count_s, counted = timed(table.count)
        table.close()
        base_s, base_n = timed(baseline)
        ours_s, ours_n = timed(ours)
        if not base_n == ours_n == counted == total == args.rows:
            raise SystemExit(f"FAILED: rows {base_n=} {ours_n=} {counted=} {total=}")
    result = {
        "rows": args.rows,
        "rows_per_s": round(args.rows / ours_s),
        "openpyxl_rows_per_s": round(args.rows / base_s),
        "ratio": round(base_s / ours_s, 3),
        "estimate_s": round(estimate_s, 2),
        "count_s": round(count_s, 2),
        "read_s": round(ours_s, 2),
    }
    print(f"  our reader    {ours_s:6.1f} s  {result['rows_per_s']:>8,} rows/s (estimate + rows)")
    print(f"  openpyxl      {base_s:6.1f} s  {result['openpyxl_rows_per_s']:>8,} rows/s")
    print(f"  estimate {estimate_s:.2f} s against a full count {count_s:.1f} s")
    harness.emit(result)


if __name__ == "__main__":
    main()
