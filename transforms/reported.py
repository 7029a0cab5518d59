"""Reading Seller Center exports as downloaded (docs/reconciliation.md), from frames of raw text to typed rows.

Headers match the layout labels case-insensitively after trimming spaces and a byte-order mark;
money may carry `$`, thousands separators or parentheses for negatives; dates come as
`YYYY-MM-DD`, `YYYY/MM/DD` or `MM/DD/YYYY`. Unknown columns are kept (as `raw`), never an error.
Values that cannot be read are errors as data (`BadCell`: file, sheet, row, column, raw text,
reason), every one of them found with one expression per column and reported together, with any
missing required column, as one `ReportedFileError`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from schemas.layout import (
    ORDER_DETAILS_LABELS,
    ORDER_DETAILS_MONEY,
    STATEMENTS_LABELS,
    STATEMENTS_MONEY,
    cents_name,
    snake,
)
from transforms.money import drop_thousands_commas, parse_fixed, parse_fixed_typed

# "the statement date, the ID, the type, the total": of Order details rows both IDs are needed,
# the statement's (one file per statement) and the order's (the grain reconciled).
REQUIRED_DETAIL_LABELS = (
    "Statement date (UTC)",
    "Statement ID",
    "Order/adjustment ID",
    "Type",
    "Total settlement amount",
)
REQUIRED_STATEMENT_LABELS = ("Statement date (UTC)", "Statement ID", "Total settlement amount")
_TEXT_LABELS = (
    "Statement ID",
    "Payment ID",
    "Status",
    "Currency",
    "Type",
    "Order/adjustment ID",
    "SKU ID",
    "Adjustment reason",
    "Related order ID",
)


LIMIT = 20  # bad cells (and other problems) listed in a message; the rest are counted
VALUE_CHARS = 60  # a cell's raw text is shown up to this many characters


@dataclass(frozen=True)
class BadCell:
    """A cell of a reported export that cannot be read: where it is, its raw text (never
    interpreted; cut at `VALUE_CHARS` characters, the cut marked `…`) and why."""

    file: str
    sheet: str
    row: int  # the spreadsheet row: 1 is the header, 2 the first data row
    column: str
    value: str | None
    reason: str  # `invalid_value`, `sub_cent`, `out_of_range` or `invalid_date`

    def __str__(self) -> str:
        return f"{self.file}: {self._at()}"

    def _at(self) -> str:
        return f"{self.sheet} row {self.row}, column '{self.column}': cannot read {self.value!r} ({self.reason})"


class ReportedFileError(ValueError):
    """Reported exports that cannot be read, as data.

    `problems`: messages of what stops a whole file or sheet (unreadable, no "Order details"
    sheet, a required column missing) or the run (a Statement ID in two files), each naming its
    file(s). `cells`: the first `LIMIT` unreadable cells, in file, sheet, row and column order.
    `count`: every unreadable cell found, listed in `cells` or not.

    The message is one line (the command line's contract: one line on stderr): the problems,
    then the cells, separated by `; `, the first `LIMIT` of them and `and N more`. One problem or
    one bad cell reads as it always has: `<file>: Order details row 3, column 'Fees': cannot
    read '0.0o' (invalid_value)`.
    """

    def __init__(self, *problems: str, cells: Sequence[BadCell] = (), count: int | None = None) -> None:
        self.problems = tuple(problems)
        self.cells = tuple(cells[:LIMIT])
        self.count = len(cells) if count is None else count
        super().__init__(_message(self.problems, self.cells, self.count))

    @classmethod
    def combined(cls, errors: Iterable["ReportedFileError"]) -> "ReportedFileError":
        """One error of several (files read in turn): their problems, cells and counts together."""
        errors = list(errors)
        return cls(
            *[problem for error in errors for problem in error.problems],
            cells=[cell for error in errors for cell in error.cells],
            count=sum(error.count for error in errors),
        )


def _message(problems: tuple[str, ...], cells: tuple[BadCell, ...], count: int) -> str:
    listed = list(problems[:LIMIT])
    place = None
    for cell in cells[: LIMIT - len(listed)]:
        # A cell in the file and sheet of the one before it is named by its row alone.
        listed.append(cell._at().removeprefix(f"{cell.sheet} ") if place == (cell.file, cell.sheet) else str(cell))
        place = (cell.file, cell.sheet)
    more = len(problems) + count - len(listed)
    return "; ".join(listed + ([f"and {more} more"] if more > 0 else []))


def normalise_headers(frame: pl.DataFrame) -> pl.DataFrame:
    """Rename columns whose trimmed, BOM-less, lower-cased header is a known label to that label."""
    known = {label.lower(): label for label in ORDER_DETAILS_LABELS + STATEMENTS_LABELS}
    renames = {}
    for column in frame.columns:
        key = column.replace("\ufeff", "").strip().lower()
        if key in known and known[key] not in renames.values():
            renames[column] = known[key]
    return frame.rename(renames)


def _money(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(cents, reason) of an exported amount: `$` and spaces dropped, thousands commas too where they
    group by three (a decimal comma such as `12,50` is unreadable, never 1,250), and parentheses
    around the number (inside or outside the `$`) meaning negative."""
    text = raw.cast(pl.String).str.replace_all(r"[$\s]", "")
    negative = text.str.contains(r"^\(.*\)$")
    number = drop_thousands_commas(
        pl.when(negative).then(text.str.strip_prefix("(").str.strip_suffix(")")).otherwise(text)
    )
    number = pl.when(number == "").then(pl.lit("0")).otherwise(number)
    value, reason = parse_fixed(number, 2, "sub_cent")
    return pl.when(negative).then(-value).otherwise(value), reason


def _date(raw: pl.Expr) -> pl.Expr:
    text = raw.cast(pl.String).str.strip_chars().str.slice(0, 10)
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        text.str.to_date("%Y/%m/%d", strict=False),
        text.str.to_date("%m/%d/%Y", strict=False),
    )


def _exact(dtype: pl.DataType) -> bool:
    """An integer or a Decimal of at most 2 places: whole cents without a text round trip."""
    return dtype.is_integer() or (isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2)


@dataclass(frozen=True)
class Sheet:
    """One sheet of one export file as read (raw text, or typed from Parquet), and whose it is."""

    frame: pl.DataFrame
    source: str
    shop_id: str


def _typed_sheets(
    sheets: Sequence[Sheet], money_labels: tuple[str, ...], required: tuple[str, ...], sheet: str
) -> tuple[pl.DataFrame, list[tuple[int, ReportedFileError]]]:
    """The typed rows of every sheet, in sheet order (each with `_file`, its index in `sheets`),
    and an error per sheet that cannot be read, with its index.

    A seller downloads one file per statement, so a history is thousands of small files, and
    building the parsing expressions costs more than a small file's rows: the sheets of one
    layout (the same headers and types) are typed together, at the cost of one sheet."""
    normalised = [normalise_headers(item.frame) for item in sheets]
    layouts: dict[tuple, list[int]] = {}
    for index, frame in enumerate(normalised):
        layouts.setdefault(tuple(frame.schema.items()), []).append(index)
    typed, errors = [], []
    for indices in layouts.values():
        frame = pl.concat(
            [normalised[i].with_columns(pl.lit(i, pl.UInt32).alias("_file")) for i in indices], how="vertical"
        )
        rows, problems = _typed(frame, [sheets[i].source for i in indices], indices, money_labels, required, sheet)
        typed.append(rows)
        errors += problems
    if not sheets:
        typed.append(
            _typed(pl.DataFrame({"_file": []}, schema={"_file": pl.UInt32}), [], [], money_labels, (), sheet)[0]
        )
    rows = pl.concat(typed, how="vertical").sort("_file", maintain_order=True)
    return rows, sorted(errors, key=lambda pair: pair[0])


def _typed(
    frame: pl.DataFrame,
    sources: list[str],
    indices: list[int],
    money_labels: tuple[str, ...],
    required: tuple[str, ...],
    sheet: str,
) -> tuple[pl.DataFrame, list[tuple[int, ReportedFileError]]]:
    """Typed rows of sheets of one layout (`frame`: their rows one after another, `_file` the
    index of each row's sheet, `indices[k]` of `sources[k]`), and the errors by sheet index."""
    missing = [label for label in required if label not in frame.columns]
    columns = [c for c in frame.columns if c != "_file"]
    # `_at`: a row of the whole frame; `_row`: its spreadsheet row in its file (1 is the header).
    frame = frame.with_row_index("_at").with_columns(
        (pl.int_range(pl.len(), dtype=pl.UInt32).over("_file") + 2).alias("_row")
    )
    known = set(ORDER_DETAILS_LABELS) | set(money_labels)
    extra = [c for c in columns if c not in known]
    present = [label for label in money_labels if label in frame.columns]
    # Integer and Decimal columns (Parquet exports) convert exactly, column by column; text
    # amounts (CSV, XLSX) go into one long column, parsed by one expression (not one per label).
    direct = [label for label in present if _exact(frame.schema[label])]
    textual = [label for label in present if label not in direct]
    converted = [parse_fixed_typed(pl.col(label), frame.schema[label], 2, "sub_cent") for label in direct]
    exact = frame.select(
        "_at",
        *[cents.alias(label) for (cents, _), label in zip(converted, direct, strict=True)],
        *[reason.alias(f"_reason {label}") for (_, reason), label in zip(converted, direct, strict=True)],
    )
    if textual:
        value, reason = _money(pl.col("text"))
        long = frame.select("_at", *[pl.col(label).cast(pl.String) for label in textual]).unpivot(
            index="_at", on=textual, variable_name="column", value_name="text"
        )
        amounts = long.with_columns(value.alias("cents"), reason.alias("reason"))
    else:  # nothing to parse (and building the parser costs more than a small file)
        schema = {
            "_at": frame.schema["_at"],
            "column": pl.String,
            "text": pl.String,
            "cents": pl.Int64,
            "reason": pl.String,
        }
        amounts = pl.DataFrame(schema=schema)
    exact_problems = (
        exact.select("_at", *[f"_reason {label}" for label in direct])
        .unpivot(index="_at", variable_name="column", value_name="reason")
        .filter(pl.col("reason").is_not_null())
        .with_columns(pl.col("column").str.strip_prefix("_reason "))
        .join(
            frame.select("_at", *[pl.col(label).cast(pl.String) for label in direct]).unpivot(
                index="_at", variable_name="column", value_name="text"
            ),
            on=["_at", "column"],
        )
        .select("_at", "column", "text", "reason")
        if direct
        else amounts.clear().select("_at", "column", "text", "reason")
    )
    dated = "Statement date (UTC)" in frame.columns  # when not, the file is in error (`missing`)
    date_cell = pl.col("Statement date (UTC)") if dated else pl.lit(None, pl.String)
    dates = frame.select("_at", date_cell.cast(pl.String).alias("text"), _date(date_cell).alias("statement_date"))
    problems = pl.concat(
        [
            amounts.filter(pl.col("reason").is_not_null()).select("_at", "column", "text", "reason"),
            exact_problems,
            dates.filter(pl.col("statement_date").is_null() & dated).select(
                "_at", pl.lit("Statement date (UTC)").alias("column"), "text", pl.lit("invalid_date").alias("reason")
            ),
        ]
    )
    errors = []
    if missing or problems.height:
        problems = problems.join(frame.select("_at", "_file", "_row"), on="_at").drop("_at")
        failed = indices if missing else sorted(set(problems["_file"].to_list()))
        for index in failed:
            source = sources[indices.index(index)]
            own = problems.filter(pl.col("_file") == index)
            error = ReportedFileError(
                *[f"{source}: {sheet}: required column '{label}' is missing" for label in missing],
                cells=_first_cells(own, columns, source, sheet),
                count=own.height,
            )
            errors.append((index, error))
    wide = amounts.pivot(on="column", index="_at", values="cents") if textual and frame.height else frame.select("_at")
    wide = wide.join(exact.select("_at", *direct), on="_at", how="left")
    exprs: list[pl.Expr] = [pl.col("_row")]
    for label in money_labels:
        exprs.append(
            (pl.col(label).fill_null(0) if label in wide.columns else pl.lit(0, pl.Int64))
            .cast(pl.Int64)
            .alias(cents_name(label))
        )
    typed = frame.select("_at", "_row").join(wide, on="_at", how="left", maintain_order="left").select(exprs)
    text = [
        (pl.col(label).cast(pl.String).str.strip_chars() if label in frame.columns else pl.lit(None, pl.String)).alias(
            snake(label)
        )
        for label in _TEXT_LABELS
    ]
    raw = (
        pl.struct([pl.col(c).cast(pl.String) for c in extra]).struct.json_encode() if extra else pl.lit(None, pl.String)
    )
    rows = pl.concat(
        [typed, dates.select("statement_date"), frame.select(*text, raw.alias("raw"), "_file")], how="horizontal"
    )
    return rows, errors


def _first_cells(problems: pl.DataFrame, columns: list[str], source: str, sheet: str) -> list[BadCell]:
    """The first `LIMIT` of a sheet's unreadable cells (`_row`, `column`, `text`, `reason`, one
    row each) by row, then column as laid out in the file, their text cut for showing."""
    order = {label: i for i, label in enumerate(columns)}
    text = pl.col("text")
    shown = pl.when(text.str.len_chars() > VALUE_CHARS).then(text.str.slice(0, VALUE_CHARS - 1) + "…").otherwise(text)
    first = (
        problems.with_columns(pl.col("column").replace_strict(order, return_dtype=pl.Int64).alias("_at"))
        .bottom_k(LIMIT, by=["_row", "_at"])
        .sort("_row", "_at")
        .select("_row", "column", shown, "reason")
    )
    return [
        BadCell(source, sheet, row, column, value, reason)
        for row, column, value, reason in zip(*first.get_columns(), strict=True)
    ]


def _owned(rows: pl.DataFrame, sheets: Sequence[Sheet]) -> pl.DataFrame:
    """`rows` with the `shop_id` and `source` of their sheet (`_file`) in place of it."""
    owners = pl.DataFrame(
        {"shop_id": [item.shop_id for item in sheets], "source": [item.source for item in sheets]},
        schema={"shop_id": pl.String, "source": pl.String},
    ).with_row_index("_file")
    return rows.join(owners, on="_file", how="left", maintain_order="left").drop("_file")


def order_details_of(sheets: Sequence[Sheet]) -> tuple[pl.DataFrame, list[tuple[int, ReportedFileError]]]:
    """Typed Order details rows of export sheets (money in cents), and an error per sheet that
    cannot be read, with the sheet's index in `sheets`."""
    rows, errors = _typed_sheets(sheets, ORDER_DETAILS_MONEY, REQUIRED_DETAIL_LABELS, "Order details")
    return _owned(rows, sheets), errors


def statements_of(sheets: Sequence[Sheet]) -> tuple[pl.DataFrame, list[tuple[int, ReportedFileError]]]:
    """Typed Statements rows of export sheets (money in cents; unknown columns kept in `raw`), and
    an error per sheet that cannot be read, with the sheet's index in `sheets`."""
    rows, errors = _typed_sheets(sheets, STATEMENTS_MONEY, REQUIRED_STATEMENT_LABELS, "Statements")
    rows = rows.select(
        "_row", "statement_date", "statement_id", *[cents_name(label) for label in STATEMENTS_MONEY], "raw", "_file"
    )
    return _owned(rows, sheets), errors


def _one(typed: tuple[pl.DataFrame, list[tuple[int, ReportedFileError]]]) -> pl.DataFrame:
    rows, errors = typed
    if errors:
        raise errors[0][1]
    return rows


def order_detail_rows(frame: pl.DataFrame, source: str, shop_id: str) -> pl.DataFrame:
    """Typed Order details rows of one export file (money in cents)."""
    return _one(order_details_of([Sheet(frame, source, shop_id)]))


def statement_rows(frame: pl.DataFrame, source: str, shop_id: str) -> pl.DataFrame:
    """Typed Statements rows of one export file (money in cents; unknown columns kept in `raw`)."""
    return _one(statements_of([Sheet(frame, source, shop_id)]))


def empty_reported_details() -> pl.DataFrame:
    """No reported exports: an empty frame of the typed Order details shape."""
    header = pl.DataFrame(
        {label: [] for label in REQUIRED_DETAIL_LABELS}, schema={label: pl.String for label in REQUIRED_DETAIL_LABELS}
    )
    return order_detail_rows(header, "", "")


def empty_reported_statements() -> pl.DataFrame:
    header = pl.DataFrame(
        {label: [] for label in REQUIRED_STATEMENT_LABELS},
        schema={label: pl.String for label in REQUIRED_STATEMENT_LABELS},
    )
    return statement_rows(header, "", "")
