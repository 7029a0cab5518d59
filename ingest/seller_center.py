"""Reading TikTok's Seller Center order export (Orders → Export) as downloaded, CSV or XLSX, into
typed rows and rejected rows (transforms/seller_center.py: the rules, and why).

Only the columns the import needs (`REQUIRED_LABELS`) are loaded: the header row is read first,
matched, and then just those columns, so personal data (`PERSONAL_LABELS`) never reaches a frame.
Every cell is read as text, never through a float: a CSV with every column a String, an XLSX
through fastexcel with string dtypes (an XLSX cell that is a *number* is flagged, so that an ID
already cut to a double's digits is rejected instead of read). An XLSX is read from its first
sheet, its first non-empty row taken as the header: row 1 of a TikTok export (a sheet whose header
sat lower would have its rows numbered from the header: fastexcel does not say where it starts).
A file that cannot be read at all is an `OrderExportError` naming it, and the parser's error by
its type only: a parser's message may quote a cell, and a cell may hold personal data.
"""

from pathlib import Path

import fastexcel
import polars as pl

from transforms.seller_center import (
    ID_LABELS,
    PERSONAL_LABELS,
    REQUIRED_LABELS,
    OrderExport,
    OrderExportError,
    check_timezone,
    numeric_cell,
    order_rows,
    required_columns,
)

__all__ = ["PERSONAL_LABELS", "REQUIRED_LABELS", "OrderExport", "OrderExportError", "read_order_export"]

SUFFIXES = (".csv", ".xlsx")


def read_order_export(path: Path, timezone: str) -> OrderExport:
    """The typed rows (one per order SKU row) and rejected rows of one order export file.

    `timezone` is the IANA time zone the export's times are local to (the shop's, as set when
    exporting): no default, the times carry no offset. Raises `OrderExportError` for a file
    that cannot be read at all (unreadable, a required column missing, day and month order that
    cannot be told), `ValueError` for an unknown time zone; a bad cell only rejects its row."""
    check_timezone(timezone)
    suffix = path.suffix.lower()  # `Export.CSV` is a CSV too
    if suffix == ".csv":
        raw = _read_csv(path)
    elif suffix == ".xlsx":
        raw = _read_xlsx(path)
    else:
        raise OrderExportError(str(path), f"not a CSV or XLSX file (read: {', '.join(SUFFIXES)})")
    return order_rows(raw, str(path), timezone)


def _read_csv(path: Path) -> pl.DataFrame:
    """`row` and the required columns of a CSV export, as text. Read without a header, so that
    the header's cells are matched here (not renamed by the reader when two are alike) and rows
    keep their place: the header is row 1, a blank line a (skipped) row of its own."""
    source = str(path)
    data = _utf8(path)
    try:
        header = pl.read_csv(data, has_header=False, n_rows=1, infer_schema=False)
        positions = required_columns(list(header.row(0)) if header.height else [], source)
        order = sorted(positions.values())
        frame = pl.read_csv(data, has_header=False, infer_schema=False, columns=order)
    except OrderExportError:
        raise
    except Exception as exc:
        raise _unreadable(source, "CSV", exc) from None
    labels = {position: label for label, position in positions.items()}
    frame = frame.rename(dict(zip(frame.columns, [labels[p] for p in order], strict=True)))
    return frame.with_row_index("row", offset=1).slice(1)  # 1 is the header


def _utf8(path: Path) -> bytes:
    """The CSV's bytes, once known to be UTF-8 text: a Latin-1 or UTF-16 export read as UTF-8
    would change product names and headers without a word, so it stops, naming the row."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OrderExportError(str(path), f"cannot be read ({type(exc).__name__}: {exc.strerror})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise OrderExportError(str(path), "is UTF-16 text; export it again as CSV (UTF-8)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise OrderExportError(
            str(path), f"row {row}: not UTF-8 text (byte {data[exc.start]:#04x}); export it again as CSV (UTF-8)"
        ) from None
    if not data.strip():
        raise OrderExportError(str(path), "is empty: no header row")
    return data


def _read_xlsx(path: Path) -> pl.DataFrame:
    """`row`, the required columns as text, and `numeric_cell(label)` for the ID columns (True
    where the cell is a number, not text) of the first sheet of an XLSX export."""
    source = str(path)
    try:
        reader = fastexcel.read_excel(str(path))
        header = reader.load_sheet(0, header_row=None, n_rows=1, dtypes="string").to_polars()
        positions = required_columns(list(header.row(0)) if header.height else [], source)
        order = sorted(positions.values())
        frame = reader.load_sheet(0, header_row=None, use_columns=order, dtypes="string").to_polars()
        # A number cell read as a Boolean is non-null; a text cell is not (it cannot be one).
        ids = [positions[label] for label in ID_LABELS]
        numbers = reader.load_sheet(
            0, header_row=None, use_columns=ids, dtypes={f"__UNNAMED__{p}": "boolean" for p in ids}
        ).to_polars()
    except OrderExportError:
        raise
    except Exception as exc:
        raise _unreadable(source, "XLSX", exc) from None
    labels = {position: label for label, position in positions.items()}
    frame = frame.rename(dict(zip(frame.columns, [labels[p] for p in order], strict=True)))
    flags = numbers.select(
        pl.col(f"__UNNAMED__{positions[label]}").is_not_null().alias(numeric_cell(label)) for label in ID_LABELS
    )
    return pl.concat([frame, flags], how="horizontal").with_row_index("row", offset=1).slice(1)


def _unreadable(source: str, kind: str, exc: Exception) -> OrderExportError:
    """The error for a file the reader cannot parse, naming the reader's error by its type only:
    a parser's message may quote a cell, and cells may hold personal data."""
    return OrderExportError(source, f"cannot be read as {kind} ({type(exc).__name__})")
