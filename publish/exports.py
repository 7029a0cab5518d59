"""Seller Center-style exports: per shop and statement, a CSV of its Order details and an XLSX
with the sheets "Statements" and "Order details", with the exact labels (docs/statements.md).

A run writes thousands of CSV files (one per shop and statement, every day), and formatting
each one apart costs more in per-call overhead than in the rows themselves. So the rows are
formatted in large chunks, one `write_csv` per chunk, and each statement's file is a slice of
the chunk's bytes at its line boundaries, after the one header line. When a value holds a line
break (a quoted product name, say), lines no longer match rows and that chunk falls back to one
`write_csv` per statement; the bytes are the same either way.

The XLSX files are written by jetxl, a Rust writer that takes Arrow columns whole (no Python
call per cell, and it releases the GIL); see `write_xlsx` and BENCHMARKS.md for why it was chosen.
"""

import hashlib
import io
import itertools
import mmap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import jetxl
import numpy as np
import polars as pl

from schemas.layout import ORDER_DETAILS_LABELS, STATEMENTS_LABELS, snake

CHUNK_ROWS = 200_000  # rows formatted per `write_csv` call: bounds the CSV text held in memory
XLSX_SHEET_ROWS = 1_048_575  # data rows per sheet: Excel's 1,048,576 rows less the header row


FILE_NAME_BYTES = 200  # well under the 255 bytes a file name may have, with room for a suffix


def file_name(identifier: str) -> str:
    """A file name for an ID taken from the input, which may hold anything ("../..", "/", NUL,
    100,000 characters): every byte but ASCII letters, digits, `-`, `_`, `.` and `~` is
    percent-encoded (UTF-8), and so is a leading `.` (no `.`, `..` or hidden file), so the name
    is one path component of this directory and tells apart any two IDs. A name longer than
    FILE_NAME_BYTES keeps its first part and ends with a hash of the whole ID."""
    name = quote(identifier, safe="")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > FILE_NAME_BYTES:
        name = f"{name[: FILE_NAME_BYTES - 17]}~{hashlib.sha256(identifier.encode()).hexdigest()[:16]}"
    return name or "%00"


def _labelled(frame: pl.DataFrame, labels: tuple[str, ...], *keep: str) -> pl.DataFrame:
    return frame.select(*keep, *[pl.col(snake(label)).alias(label) for label in labels])


_FORMULA_START = r"^[=+\-@\t\r]"  # what a spreadsheet may read as the start of a formula (OWASP, CSV injection)


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or carriage
    return first) get a `'` in front, as the OWASP guidance on CSV injection says: opened in
    Excel, `=HYPERLINK(…)` from an order ID or product name is shown, never run. Numbers stay
    numbers (a negative amount is a number column, not text). Columns where no cell needs it are
    left as they are, so a frame with none is returned unchanged."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text or not frame.height:
        return frame
    needs = frame.select(pl.col(c).str.contains(_FORMULA_START).any() for c in text).row(0)
    risky = [c for c, need in zip(text, needs, strict=True) if need]
    return (
        frame.with_columns(
            pl.when(pl.col(c).str.contains(_FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
            for c in risky
        )
        if risky
        else frame
    )


def _csv_bytes(frame: pl.DataFrame, header: bool, quote_style: str = "necessary") -> memoryview:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=header, quote_style=quote_style)
    return buffer.getbuffer()


_NEEDS_QUOTES = [",", '"', "\r", "\n"]  # with the empty string: what `necessary` quotes


def _compact(rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` to write with `quote_style="never"` for the bytes `"necessary"` gives, in fewer fields.

    The writer's cost is per field, and Order details has runs of columns that hold one value in
    every row (the zeros of the fees this product does not model, say). Each run of two or more
    such adjacent columns becomes one text column holding that run's CSV text (formatted by
    Polars itself, from the first row), and the other text columns are quoted here exactly as
    `necessary` would quote them (a value with a separator, quote or line end, or empty).
    """
    columns = rows.columns
    constant = (
        rows.select(pl.col(c).eq_missing(pl.col(c).first()).all() for c in columns).row(0)
        if rows.height
        else (False,) * len(columns)
    )
    fields: list[pl.Expr] = []
    alone: dict[str, int] = {}  # columns kept as they are, and their field's position
    i = 0
    while i < len(columns):
        end = i
        while end < len(columns) and constant[end]:
            end += 1
        if end - i >= 2:
            run = bytes(_csv_bytes(rows.head(1).select(columns[i:end]), header=False)).decode().removesuffix("\n")
            fields.append(pl.repeat(run, pl.len(), dtype=pl.String).alias(columns[i]))
            i = end
        else:
            alone[columns[i]] = len(fields)
            fields.append(pl.col(columns[i]))
            i += 1
    text = [c for c in alone if rows.schema[c] == pl.String]
    needs = (
        rows.select((pl.col(c).str.contains_any(_NEEDS_QUOTES) | (pl.col(c) == "")).any() for c in text).row(0)
        if text
        else ()
    )
    for column, need in zip(text, needs, strict=True):
        if need:
            value = pl.col(column)
            escaped = pl.concat_str(pl.lit('"'), value.str.replace_all('"', '""', literal=True), pl.lit('"'))
            fields[alone[column]] = (
                pl.when(value.str.contains_any(_NEEDS_QUOTES) | (value == ""))
                .then(escaped)
                .otherwise(value)
                .alias(column)
            )
    return rows.select(fields)


def _starts(counts: np.ndarray) -> np.ndarray:
    """Where each statement's rows start, and the total at the end: [0, c0, c0+c1, ...]."""
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])


def _chunks(counts: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Split consecutive statements (their row counts in order) into [first, last) runs of about `rows` rows."""
    ends = np.cumsum(counts, dtype=np.int64)
    cuts = np.flatnonzero(np.diff(ends // rows, prepend=0)) + 1  # the first statement ending past each multiple
    bounds = [0, *cuts.tolist()]
    if bounds[-1] != len(counts):
        bounds.append(len(counts))
    return list(itertools.pairwise(bounds))


def csv_bodies(
    labelled: pl.DataFrame, counts: np.ndarray, chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[int, bytes | memoryview]]:
    """Each statement's rows (consecutive in `labelled`, `counts[i]` rows) as CSV text without the
    header: `(i, text)`, in statement order."""
    starts = _starts(counts)
    for first, last in _chunks(counts, chunk_rows):
        rows = labelled.slice(int(starts[first]), int(starts[last] - starts[first]))
        text = _csv_bytes(_compact(rows), header=False, quote_style="never")
        line_ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord("\n")) + 1
        if len(line_ends) == rows.height:
            offsets = np.concatenate([[0], line_ends[starts[first + 1 : last + 1] - starts[first] - 1]]).tolist()
            for i, statement in enumerate(range(first, last)):
                yield statement, text[offsets[i] : offsets[i + 1]]
        else:  # a value with a line break: lines are not rows, format statement by statement
            for statement in range(first, last):
                begin = int(starts[statement] - starts[first])
                yield statement, _csv_bytes(rows.slice(begin, int(counts[statement])), header=False)


def csv_header(labels: tuple[str, ...] = ORDER_DETAILS_LABELS) -> bytes:
    return bytes(_csv_bytes(pl.DataFrame(schema=dict.fromkeys(labels, pl.String)), header=True))


def write_csvs(labelled: pl.DataFrame, paths: list[Path], counts: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> None:
    """Write each statement's rows (consecutive in `labelled`, `counts[i]` rows) to `paths[i]`, with the header."""
    header = csv_header(tuple(labelled.columns))
    for statement, body in csv_bodies(labelled, counts, chunk_rows):
        with paths[statement].open("wb") as handle:
            handle.write(header)
            handle.write(body)


def _by_statement(order_details: pl.DataFrame, statements: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The Order details labelled, each statement's rows together (in their order), and per
    statement in that order: `statement_id`, `len` (its rows) and `shop_id`."""
    # Order details come sorted by date and shop, so each statement's rows are one run already:
    # then no sort (a gather of every column) is needed. Otherwise they are brought together.
    runs = order_details.select(pl.col("statement_id").rle_id().max() + 1 == pl.col("statement_id").n_unique()).item()
    ordered = order_details if runs in (True, None) else order_details.sort("statement_id", maintain_order=True)
    counts = ordered.group_by("statement_id", maintain_order=True).len()
    files = counts.join(
        statements.select("statement_id", "shop_id"), on="statement_id", how="left", maintain_order="left"
    )
    if files["shop_id"].null_count():
        raise ValueError(
            f"Order details of statements with no header: {files.filter(pl.col('shop_id').is_null())['statement_id'].head(5).to_list()}"
        )
    return _labelled(ordered, ORDER_DETAILS_LABELS), files


def _paths(directory: Path, files: pl.DataFrame) -> list[Path]:
    for shop_id in files["shop_id"].unique().to_list():
        (directory / file_name(shop_id)).mkdir(parents=True, exist_ok=True)
    return [
        directory / file_name(shop_id) / f"{file_name(sid)}.csv"
        for shop_id, sid in zip(files["shop_id"].to_list(), files["statement_id"].to_list(), strict=True)
    ]


def write_exports(
    order_details: pl.DataFrame,
    statements: pl.DataFrame,
    directory: Path,
    xlsx: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Write `<dir>/<shop_id>/<Statement ID>.csv` (and `.xlsx`), each ID as a `file_name`; returns the number of statements.

    CSV text that a spreadsheet would run as a formula is neutralised (`neutralise_formulas`);
    XLSX cells hold text as text, which a spreadsheet never runs, so they keep the value exactly.

    A statement's rows keep their order in `order_details`.
    """
    labelled, files = _by_statement(order_details, statements)
    paths = _paths(directory, files)
    clean = neutralise_formulas(labelled)
    write_csvs(clean, paths, files["len"].to_numpy(), chunk_rows)
    if xlsx:
        _write_xlsx_files(clean, files, paths, statements)
    return statements.height


def write_xlsx_exports(order_details: pl.DataFrame, statements: pl.DataFrame, directory: Path) -> None:
    """The XLSX files of `write_exports` alone (their CSV files are written otherwise)."""
    labelled, files = _by_statement(order_details, statements)
    _write_xlsx_files(neutralise_formulas(labelled), files, _paths(directory, files), statements)


XLSX_WRITERS = 2  # files written at once: jetxl releases the GIL, and one writer leaves a core idle


def _write_xlsx_files(clean: pl.DataFrame, files: pl.DataFrame, paths: list[Path], statements: pl.DataFrame) -> None:
    """Each statement's XLSX file, from all the statements' rows (`clean`: labelled, formulas
    neutralised, each statement's rows together). The cells are made ready once for all files
    (`_cells`); per file only its slices are taken, so a small file costs little more than jetxl's work."""
    details = _cells(clean, "Order details")
    headers = _cells(neutralise_formulas(_labelled(statements, STATEMENTS_LABELS)), "Statements")
    header_row = dict(zip(statements["statement_id"].to_list(), range(statements.height), strict=True))
    starts = _starts(files["len"].to_numpy())

    def write(i: int, sid: str, path: Path) -> None:
        _write_sheets(
            path.with_suffix(".xlsx"),
            headers.slice(header_row[sid], 1),
            details.slice(int(starts[i]), int(starts[i + 1] - starts[i])),
        )

    with ThreadPoolExecutor(max_workers=XLSX_WRITERS) as pool:
        list(pool.map(write, range(files.height), files["statement_id"].to_list(), paths))


def write_csv_fragments(
    order_details: pl.DataFrame, statements: pl.DataFrame, blob: Path, chunk_rows: int = CHUNK_ROWS
) -> pl.DataFrame:
    """A slice's share of its statements' CSV files: every statement's rows as CSV text without
    the header, one after another in `blob`; returns where each is (`statement_id`, `offset`,
    `length`). `assemble_csvs` puts the shares of all slices together."""
    labelled, files = _by_statement(order_details, statements)
    lengths = np.zeros(files.height, dtype=np.int64)
    blob.parent.mkdir(parents=True, exist_ok=True)
    with blob.open("wb") as handle:
        for statement, body in csv_bodies(neutralise_formulas(labelled), files["len"].to_numpy(), chunk_rows):
            lengths[statement] = handle.write(body)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    return files.select("statement_id").with_columns(
        pl.Series("offset", offsets, pl.Int64), pl.Series("length", lengths, pl.Int64)
    )


def assemble_csvs(statements: pl.DataFrame, shares: list[tuple[Path, pl.DataFrame]], directory: Path) -> None:
    """Each statement's CSV file from the slices' shares (`write_csv_fragments`, in slice order):
    the header, then its rows from each slice in turn, which is the file one run would write."""
    header = csv_header()
    files = statements.select("statement_id", "shop_id")
    paths = dict(zip(files["statement_id"].to_list(), _paths(directory, files), strict=True))
    for path in paths.values():
        path.write_bytes(header)
    for blob, index in shares:
        if not index.height:
            continue
        with blob.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for sid, offset, length in zip(
                index["statement_id"].to_list(), index["offset"].to_list(), index["length"].to_list(), strict=True
            ):
                with paths[sid].open("ab") as out:
                    out.write(data[offset : offset + length])


_WIDE_TEXT = {"Product name": 40.0, "SKU name": 24.0}  # the columns whose values are longer than their labels


XLSX_EXACT_LIMIT = Decimal("9999999999999.99")  # 15 significant digits: the most a double gives back exactly


class ExportError(ValueError):
    """A statement that cannot be exported as it is; the message says which and why."""


@dataclass(frozen=True)
class _Cells:
    """Rows ready for jetxl (`_cells`), and which of their columns are money."""

    frame: pl.DataFrame
    money: tuple[str, ...]

    def slice(self, offset: int, length: int) -> "_Cells":
        return _Cells(self.frame.slice(offset, length), self.money)


def _cells(clean: pl.DataFrame, name: str) -> _Cells:
    """The rows of sheet `name` (formulas already neutralised) with money as numbers.

    XLSX holds every number as a double, so Decimal(18,2) money becomes Float64 at this edge
    only; jetxl writes each value's shortest round-trip text, which is the decimal itself for
    any amount of at most 15 significant digits. A larger amount would be written rounded, so it
    stops the export instead (the input bounds keep every row below it; a statement total could
    only reach it past a thousand lines of the largest gross sales a line may have).
    """
    money = tuple(column for column, dtype in clean.schema.items() if isinstance(dtype, pl.Decimal))
    if money and clean.height:
        largest = clean.select(pl.max_horizontal(pl.col(money).abs().max())).item()
        if largest is not None and largest > XLSX_EXACT_LIMIT:
            raise ExportError(
                f"sheet {name!r}: an amount of {largest} has more digits than an XLSX number holds exactly (at most {XLSX_EXACT_LIMIT})"
            )
    return _Cells(clean.with_columns(pl.col(money).cast(pl.Float64)), money)


def _sheet(cells: _Cells, name: str) -> dict:
    """One jetxl sheet: money shown with 2 decimals; each column as wide as its label (at least
    12 characters; product and SKU names wider). Widths fitted to the data would cost more than
    writing the rest of a small file (BENCHMARKS.md, "Choices in the code")."""
    columns = cells.frame.columns
    return {
        "data": cells.frame.to_arrow(),
        "name": name,
        "column_formats": dict.fromkeys(cells.money, "decimal2"),
        "column_widths": {column: _WIDE_TEXT.get(column, float(max(len(column), 10) + 2)) for column in columns},
    }


def _write_sheets(path: Path, header: _Cells, details: _Cells, sheet_rows: int = XLSX_SHEET_ROWS) -> None:
    sheets = [_sheet(header, "Statements")]
    for k, first in enumerate(range(0, max(details.frame.height, 1), sheet_rows)):
        sheets.append(
            _sheet(details.slice(first, sheet_rows), "Order details" if k == 0 else f"Order details ({k + 1})")
        )
    jetxl.write_sheets_arrow(sheets, str(path), num_threads=1)


def write_xlsx(path: Path, header: pl.DataFrame, details: pl.DataFrame, sheet_rows: int = XLSX_SHEET_ROWS) -> None:
    """One statement as XLSX: sheet "Statements" (its header row) and its Order details.

    A statement with more rows than a sheet holds continues on "Order details (2)", "(3)", …,
    each with the labels in its first row. Text is written as text (inline strings), never as a
    formula, and text that would become one once a user edits its cell gets the CSV's `'` in front
    (`neutralise_formulas`). Same frames, same bytes: jetxl fixes the workbook's dates and the zip
    entries' times.
    """
    _write_sheets(
        path,
        _cells(neutralise_formulas(header), "Statements"),
        _cells(neutralise_formulas(details), "Order details"),
        sheet_rows,
    )
