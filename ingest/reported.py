"""Reading `reported/<shop_id>/*` exports as downloaded: CSV, XLSX or Parquet (docs/reconciliation.md)."""

from pathlib import Path

import fastexcel
import polars as pl

from transforms.reported import ReportedFileError, Sheet, order_details_of, statements_of

SUFFIXES = (".csv", ".xlsx", ".parquet")


def _read_text(path: Path, sheet: str | None = None) -> pl.DataFrame:
    suffix = path.suffix.lower()  # `Export.CSV` is a CSV too
    try:
        if suffix == ".csv":
            return pl.read_csv(_utf8(path), infer_schema=False)
        if suffix == ".parquet":
            return pl.read_parquet(path)  # typed: Decimal and integer money convert exactly, without text
        return pl.read_excel(path, sheet_name=sheet, infer_schema_length=0)
    except ReportedFileError:
        raise
    except Exception as exc:
        where = f" sheet '{sheet}'" if sheet else ""
        raise ReportedFileError(f"{path}{where}: cannot be read ({type(exc).__name__}: {exc})") from None


def _utf8(path: Path) -> bytes:
    """The CSV's bytes, once known to be UTF-8 text: a Latin-1 or UTF-16 export read as UTF-8
    would change product names and headers without a word, so it stops the run, naming the row."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReportedFileError(f"{path}: is UTF-16 text; export it again as CSV (UTF-8)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise ReportedFileError(
            f"{path}: row {row}: not UTF-8 text (byte {data[exc.start]:#04x}); export it again as CSV (UTF-8)"
        ) from None
    return data


def _sheets(path: Path) -> list[str]:
    try:
        return fastexcel.read_excel(str(path)).sheet_names  # the names alone, no sheet loaded
    except Exception as exc:
        raise ReportedFileError(f"{path}: cannot be read as XLSX ({type(exc).__name__}: {exc})") from None


def read_reported(input_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """(order detail rows, statements rows, files read) of every shop's exports; empty when none.

    Every file and sheet is read before anything stops the run: what cannot be read in all of
    them (a file, a sheet, a required column, every unreadable cell, a Statement ID in two
    files) comes out as one `ReportedFileError`. The sheets are read one by one and typed all
    together (`order_details_of`): a history is one small file per statement."""
    root = input_dir / "reported"
    details: list[Sheet] = []
    statements: list[Sheet] = []
    files: list[str] = []
    errors: list[
        tuple[int, int, ReportedFileError]
    ] = []  # by file, then sheet (0: the file, 1: Order details, 2: Statements)
    if root.is_dir():
        for shop_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in sorted(p for p in shop_dir.iterdir() if p.suffix.lower() in SUFFIXES):
                files.append(str(path))
                try:
                    _read_file(path, shop_dir.name, details, statements, errors, len(files) - 1)
                except ReportedFileError as exc:
                    errors.append((len(files) - 1, 0, exc))
    read = {source: index for index, source in enumerate(files)}
    detail_frame, detail_errors = order_details_of(details)
    statement_frame, statement_errors = statements_of(statements)
    errors += [(read[details[i].source], 1, error) for i, error in detail_errors]
    errors += [(read[statements[i].source], 2, error) for i, error in statement_errors]
    clashes = _one_file_per_statement(detail_frame, statement_frame) if details else []
    if errors or clashes:
        ordered = [error for *_, error in sorted(errors, key=lambda item: item[:2])]
        raise ReportedFileError.combined([*ordered, ReportedFileError(*clashes)])
    return (detail_frame if details else None), (statement_frame if statements else None), files


def _read_file(
    path: Path,
    shop_id: str,
    details: list[Sheet],
    statements: list[Sheet],
    errors: list[tuple[int, int, ReportedFileError]],
    index: int,
) -> None:
    """Append one file's sheets, as read, to `details` and `statements`; a sheet of an XLSX that
    cannot be read goes to `errors` (the other sheet is still read), a file that cannot be read
    at all is raised."""
    source = str(path)
    if path.suffix.lower() != ".xlsx":
        details.append(Sheet(_read_text(path), source, shop_id))
        return
    sheets = _sheets(path)
    if "Order details" not in sheets:
        raise ReportedFileError(f"{path}: no sheet 'Order details' (sheets: {', '.join(sheets)})")
    for rank, (sheet, into) in enumerate((("Order details", details), ("Statements", statements)), start=1):
        if sheet in sheets:
            try:
                into.append(Sheet(_read_text(path, sheet), source, shop_id))
            except ReportedFileError as exc:
                errors.append((index, rank, exc))


def _one_file_per_statement(details: pl.DataFrame | None, statements: pl.DataFrame | None) -> list[str]:
    """A message for each Statement ID found in more than one file, by Statement ID."""
    # A blank Statement ID names no statement, so it cannot clash.
    ids = [
        f.select("statement_id", "source").filter(pl.col("statement_id").fill_null("") != "")
        for f in (details, statements)
        if f is not None
    ]
    if not ids:
        return []
    clash = (
        pl.concat(ids)
        .unique()
        .group_by("statement_id")
        .agg(pl.col("source").sort())
        .filter(pl.col("source").list.len() > 1)
        .sort("statement_id")
    )
    return [
        f"Statement ID {sid} is in two files: {sources[0]} and {sources[1]}"
        if len(sources) == 2
        else f"Statement ID {sid} is in {len(sources)} files: {', '.join(sources[:-1])} and {sources[-1]}"
        for sid, sources in zip(clash["statement_id"], clash["source"], strict=True)
    ]
