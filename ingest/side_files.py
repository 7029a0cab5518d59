"""Reading the side files a seller keeps for the import (docs/importing.md, docs/template.md): the
promotions template, `order_attributes.csv` and the catalog (Seller Center product export), CSV
or XLSX, into frames of text for transforms/side_files.py (the rules, and why).

Every cell is read as text, never through a float: a CSV with every column a String, an XLSX
through fastexcel with string dtypes (a real date cell reads as `YYYY-MM-DD HH:MM:SS`; a cell that
is a *number* is flagged in the ID columns, so that an ID already cut to a double's digits is
rejected instead of read). Row 1 of a sheet or CSV is its header; only the columns matched there
are loaded. An XLSX attribute or catalog file is read from its first sheet; the template's sheets
are found by name. A file that cannot be read at all is a `SideFileError` naming it, and the
parser's error by its type only: a parser's message may quote a cell.
"""

from collections.abc import Callable, Sequence
from pathlib import Path

import fastexcel
import polars as pl

from schemas.inputs import INPUT_TABLES, file_schema
from transforms.side_files import (
    ATTRIBUTE_COLUMNS,
    CATALOG_COLUMNS,
    TEMPLATE_REJECTED_SCHEMA,
    TEMPLATE_TABLES,
    SideFileError,
    SideTable,
    SideTables,
    catalog,
    check_timezone,
    column_name,
    match_columns,
    numeric_cell,
    order_attributes,
    template_table,
)

__all__ = [
    "SideFileError",
    "SideTable",
    "SideTables",
    "read_catalog",
    "read_order_attributes",
    "read_promotions_template",
]

REQUIRED_TABLE = "promotions"

# A template table's reader: (columns, required columns, ID columns, required table) → (file, raw frame) or None.
_Source = Callable[[Sequence[str], Sequence[str], Sequence[str], bool], tuple[str, pl.DataFrame] | None]


def read_promotions_template(path: Path, timezone: str) -> SideTables:
    """The three tables of a promotions template and its rejected rows.

    `path` is an XLSX workbook with sheets `promotions`, `promotion_products` and `opt_out_events`
    (names in any case; other sheets ignored), or a directory with `promotions.csv`,
    `promotion_products.csv` and `opt_out_events.csv`. Only `promotions` is required; an absent
    sheet is an empty table. `timezone` (IANA, no default) places the times written without an
    offset. Raises `SideFileError` for a template that cannot be read at all, `ValueError` for an
    unknown time zone; a bad cell only rejects its row."""
    check_timezone(timezone)
    if path.is_dir():
        sources = _csv_sheets(path)
    elif path.suffix.lower() == ".xlsx":
        sources = _xlsx_sheets(path)
    else:
        raise SideFileError(str(path), "not a promotions template: an XLSX workbook or a directory of CSV files")
    tables: dict[str, pl.DataFrame] = {}
    rejected = [pl.DataFrame(schema=TEMPLATE_REJECTED_SCHEMA)]
    for table in TEMPLATE_TABLES:
        names = [col.name for col in INPUT_TABLES[table]]
        required = [col.name for col in INPUT_TABLES[table] if col.required]
        ids = [col.name for col in INPUT_TABLES[table] if col.kind == "id"]
        source = sources.get(table)
        raw = None if source is None else source(names, required, ids, table == REQUIRED_TABLE)
        if raw is None:
            if table == REQUIRED_TABLE:
                what = f"{table}.csv" if path.is_dir() else f"the '{table}' sheet"
                raise SideFileError(str(path), f"{what} is missing: it is the template's one required table", table)
            tables[table] = pl.DataFrame(schema=file_schema(table))
            continue
        file, frame = raw
        tables[table], bad = template_table(table, frame, file, table, timezone)
        rejected.append(bad)
    return SideTables(tables=tables, rejected=pl.concat(rejected))


def read_order_attributes(path: Path) -> SideTable:
    """`order_attributes.csv` (or `.xlsx`, first sheet): `order_id` and any of `ATTRIBUTE_COLUMNS`,
    typed (transforms.side_files.order_attributes), and its rejected rows."""
    names = ["order_id", *ATTRIBUTE_COLUMNS]
    frame = _read_table(path, names, ["order_id"], ["order_id", "seller_coupon_id", "platform_coupon_id"])
    return order_attributes(frame, str(path))


def read_catalog(path: Path) -> SideTable:
    """`catalog.csv` or `catalog.xlsx` (first sheet), the Seller Center product export: one row per
    SKU (`sku_id`, `product_id`), and its rejected rows."""
    frame = _read_table(path, list(CATALOG_COLUMNS), list(CATALOG_COLUMNS), list(CATALOG_COLUMNS))
    return catalog(frame, str(path))


# ---------------------------------------------------------------- files


def _read_table(path: Path, names: Sequence[str], required: Sequence[str], ids: Sequence[str]) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, names, required, None)
    if suffix == ".xlsx":
        reader = _workbook(path)
        if not reader.sheet_names:
            raise SideFileError(str(path), "has no sheet")
        return _read_sheet(reader, str(path), reader.sheet_names[0], None, names, required, ids)
    raise SideFileError(str(path), "not a CSV or XLSX file")


def _csv_sheets(directory: Path) -> dict[str, _Source]:
    """The template's CSV files of `directory` by table (file names matched like headers), each
    as a reader of its raw frame."""
    found: dict[str, list[Path]] = {}
    for file in sorted(directory.iterdir()):
        if file.is_file() and file.suffix.lower() == ".csv" and column_name(file.stem) in TEMPLATE_TABLES:
            found.setdefault(column_name(file.stem), []).append(file)
    sources: dict[str, _Source] = {}
    for table, files in found.items():
        if len(files) > 1:
            raise SideFileError(str(directory), f"several files hold the '{table}' table", table)

        def source(names, required, ids, must, file=files[0], table=table):
            if not must and file.stat().st_size == 0:  # an empty optional file: an empty table
                return None
            return str(file), _read_csv(file, names, required, table)

        sources[table] = source
    return sources


def _xlsx_sheets(path: Path) -> dict[str, _Source]:
    """The template's sheets of the workbook by table (names matched like headers), each as a
    reader of its raw frame (None for an optional sheet without a single cell)."""
    reader = _workbook(path)
    found: dict[str, list[str]] = {}
    for name in reader.sheet_names:
        if column_name(name) in TEMPLATE_TABLES:
            found.setdefault(column_name(name), []).append(name)
    sources: dict[str, _Source] = {}
    for table, names in found.items():
        if len(names) > 1:
            raise SideFileError(str(path), f"several sheets hold the '{table}' table", table)

        def source(columns, required, ids, must, name=names[0], table=table):
            frame = _read_sheet(reader, str(path), name, table, columns, required, ids, empty_ok=not must)
            return None if frame is None else (str(path), frame)

        sources[table] = source
    return sources


def _workbook(path: Path) -> fastexcel.ExcelReader:
    try:
        return fastexcel.read_excel(str(path))
    except Exception as exc:
        raise SideFileError(str(path), f"cannot be read as XLSX ({type(exc).__name__})") from None


def _read_sheet(
    reader: fastexcel.ExcelReader,
    file: str,
    name: str,
    sheet: str | None,
    names: Sequence[str],
    required: Sequence[str],
    ids: Sequence[str],
    empty_ok: bool = False,
) -> pl.DataFrame | None:
    """`row` (the spreadsheet row), the matched columns as text and the number flags of the ID
    columns of one sheet; None for a sheet without a cell when `empty_ok`."""
    try:
        # `skip_rows=0`: leading empty rows are kept, so that row i of the frame is row i + 1 of the sheet.
        header = reader.load_sheet(name, header_row=None, skip_rows=0, n_rows=1, dtypes="string").to_polars()
        headers = list(header.row(0)) if header.height else []
        if empty_ok and not any(cell is not None and str(cell).strip() for cell in headers):
            everything = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string").to_polars()
            cells = everything.width * everything.height
            if cells == 0 or everything.null_count().sum_horizontal().item() == cells:
                return None
        positions = match_columns(headers, names, required, file, sheet)
        order = sorted(positions.values())
        # Columns by the names of the header's load: `use_columns` takes an integer as the column's
        # place in the sheet, while the names count from the sheet's first non-empty column.
        columns = [f"__UNNAMED__{p}" for p in order]
        frame = reader.load_sheet(name, header_row=None, skip_rows=0, use_columns=columns, dtypes="string").to_polars()
        id_positions = [positions[column] for column in ids if column in positions]
        numbers = (
            reader.load_sheet(
                name,
                header_row=None,
                skip_rows=0,
                use_columns=[f"__UNNAMED__{p}" for p in id_positions],
                dtypes={f"__UNNAMED__{p}": "boolean" for p in id_positions},
            ).to_polars()
            if id_positions
            else pl.DataFrame()
        )
    except SideFileError:
        raise
    except Exception as exc:
        raise SideFileError(file, f"cannot be read as XLSX ({type(exc).__name__})", sheet) from None
    labels = {position: column for column, position in positions.items()}
    frame = frame.rename({f"__UNNAMED__{p}": labels[p] for p in order}).with_row_index("row", offset=1)
    # A number cell read as a Boolean is non-null; a text cell is not (it cannot be one).
    flags = numbers.select(
        pl.col(f"__UNNAMED__{positions[column]}").is_not_null().alias(numeric_cell(column))
        for column in ids
        if column in positions
    ).with_row_index("row", offset=1)
    frame = frame.join(flags, on="row", how="left") if flags.width > 1 else frame
    return frame.with_columns(pl.col("row").cast(pl.Int64)).slice(1)  # 1 is the header


def _read_csv(path: Path, names: Sequence[str], required: Sequence[str], sheet: str | None) -> pl.DataFrame:
    """`row` and the matched columns of a CSV, as text. Read without a header, so that the
    header's cells are matched here and rows keep their place (a blank line is a row of its own)."""
    source = str(path)
    data = _utf8(path, sheet)
    try:
        header = pl.read_csv(data, has_header=False, n_rows=1, infer_schema=False)
        positions = match_columns(list(header.row(0)) if header.height else [], names, required, source, sheet)
        order = sorted(positions.values())
        frame = pl.read_csv(data, has_header=False, infer_schema=False, columns=order)
    except SideFileError:
        raise
    except Exception as exc:
        raise SideFileError(source, f"cannot be read as CSV ({type(exc).__name__})", sheet) from None
    labels = {position: column for column, position in positions.items()}
    frame = frame.rename(dict(zip(frame.columns, [labels[p] for p in order], strict=True)))
    return frame.with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64)).slice(1)


def _utf8(path: Path, sheet: str | None) -> bytes:
    """The CSV's bytes, once known to be UTF-8 text (a Latin-1 or UTF-16 file read as UTF-8 would
    change IDs without a word): else it stops, naming the row."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SideFileError(str(path), f"cannot be read ({type(exc).__name__}: {exc.strerror})", sheet) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SideFileError(str(path), "is UTF-16 text; save it again as CSV (UTF-8)", sheet)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise SideFileError(str(path), f"row {row}: not UTF-8 text; save it again as CSV (UTF-8)", sheet) from None
    if not data.strip():
        raise SideFileError(str(path), "is empty: no header row", sheet)
    return data
