"""Time XLSX writers on one statement's Order details, the evidence for the one the exports use.

    .venv/bin/python benchmarks/xlsx_writers.py [--rows 20000] [--repeat 3]

The frame has the 58 Order details labels: text, counts and Decimal(18,2) money, as the job
writes them. Each writer that is installed writes it to one file, best of `--repeat`:

- `jetxl` (what `publish/exports.py` uses, pinned in requirements.lock);
- `xlsxwriter` driven by Polars' `write_excel` (what the exports used before), and xlsxwriter's
  constant-memory mode fed row by row;
- `rvgsrust_xlsxwriter` (a binding of rust_xlsxwriter) and `rustpy_xlsxwriter`, if installed
  (`pip install rvgsrust-xlsxwriter rustpy-xlsxwriter`; not dependencies of the project).

Not a test: the figures depend on the machine.
"""

import argparse
import importlib.util
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from publish import exports
from schemas.layout import ORDER_DETAILS_LABELS, ORDER_DETAILS_MONEY
from transforms.money import units_to_decimal


def statement(rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    columns = {}
    for label in ORDER_DETAILS_LABELS:
        if label in ORDER_DETAILS_MONEY:
            cents = pl.Series(rng.integers(-50_000, 50_000, rows))
            columns[label] = units_to_decimal(pl.lit(cents)).alias(label)
        elif label == "Quantity":
            columns[label] = pl.Series(rng.integers(1, 5, rows))
        else:
            columns[label] = pl.Series([f"{label[:3]}-{i:08d}" for i in rng.integers(0, 10**8, rows)])
    return pl.select(
        **{label: value if isinstance(value, pl.Expr) else pl.lit(value) for label, value in columns.items()}
    )


def writers(frame: pl.DataFrame) -> dict[str, Callable[[Path], None]]:
    header = frame.head(1).select(ORDER_DETAILS_LABELS[:2])
    floats = frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))

    def polars_xlsxwriter(path: Path) -> None:
        with xlsxwriter.Workbook(path, {"in_memory": True}) as workbook:
            frame.write_excel(workbook, worksheet="Order details", autofit=True, float_precision=2)

    def xlsxwriter_rows(path: Path) -> None:
        workbook = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        sheet = workbook.add_worksheet("Order details")
        sheet.write_row(0, 0, floats.columns)
        for i, row in enumerate(floats.iter_rows(), 1):  # the per-cell path measured, not the job's
            sheet.write_row(i, 0, row)
        workbook.close()

    found = {
        "jetxl (exports.write_xlsx)": lambda path: exports.write_xlsx(path, header, frame),
        "xlsxwriter via Polars write_excel": polars_xlsxwriter,
        "xlsxwriter constant_memory, write_row": xlsxwriter_rows,
    }
    if importlib.util.find_spec("rvgsrust_xlsxwriter"):
        import rvgsrust_xlsxwriter

        def rvgs(path: Path) -> None:
            workbook = rvgsrust_xlsxwriter.Workbook(str(path))
            workbook.add_worksheet("Order details").write_dataframe(0, 0, floats)
            workbook.close()

        found["rvgsrust_xlsxwriter write_dataframe"] = rvgs
    if importlib.util.find_spec("rustpy_xlsxwriter"):
        import rustpy_xlsxwriter

        found["rustpy_xlsxwriter write_worksheet"] = lambda path: rustpy_xlsxwriter.write_worksheet(
            floats.to_dicts(), str(path), sheet_name="Order details"
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = statement(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in writers(frame).items():
            best = float("inf")
            for i in range(args.repeat):
                started = time.perf_counter()
                write(Path(tmp) / f"{i}.xlsx")
                best = min(best, time.perf_counter() - started)
            size = (Path(tmp) / "0.xlsx").stat().st_size
            print(
                f"{name:42s} {best:7.2f} s  {args.rows * len(ORDER_DETAILS_LABELS) / best / 1e6:6.2f} M cells/s  {size / 1e6:5.1f} MB"
            )


if __name__ == "__main__":
    main()
