"""Writing the promotions template (docs/template.md) as an XLSX workbook, filled from typed tables
or blank, for samples and tests: what `ingest.side_files.read_promotions_template` reads back as
the same tables.

Sheets `instructions`, `promotions`, `promotion_products` and `opt_out_events`, the last three
with the contract's columns (`schemas.inputs.INPUT_TABLES`) as headers. Every cell is written as
text (the columns are formatted as text too, so what a user types there stays as typed: an ID
keeps its digits and leading zeros, `15%` is not turned into 0.15), never as a number or formula:
money is the exact text of its Decimal, so no float ever holds it. Times are written as ISO text:
in UTC with `Z` when no `timezone` is given, else as local wall time in that zone, without an
offset except for a time in the hour that clocks going back repeat, which carries its offset
(else it could not be read back: `ambiguous_time`). Enum columns offer their values in a list.
"""

from pathlib import Path

import polars as pl
import xlsxwriter

from schemas.inputs import INPUT_TABLES, Col, file_schema
from synthetic.sources import XLSX_CREATED
from transforms.side_files import TEMPLATE_TABLES, check_timezone

__all__ = ["INSTRUCTIONS", "template_text", "write_template"]

_VALIDATED_ROWS = 5_000  # rows offered the enum lists

INSTRUCTIONS = (
    "Promotions template: one sheet per table. Row 1 of each sheet is its header; fill one row per line below it.",
    "Full reference: docs/template.md (every column, allowed values, examples).",
    "",
    "promotions: one row per promotion tier (tier 1 unless buy-more-save-more). Required.",
    "promotion_products: one row per promotion and product it is limited to. A promotion without rows here "
    "covers every product.",
    "opt_out_events: one row per change of a shop's TikTok-funded promotion settings (participating true or false).",
    "",
    "Times: 2026-07-01 09:00 is local to the time zone given to `settle import --timezone`; "
    "2026-07-01T09:00:00-07:00 or 2026-07-01T16:00:00Z carries its own offset. A date alone is midnight.",
    "A promotion is active from starts_at (included) to ends_at (excluded): a July promotion ends 2026-08-01.",
    "Percent values in percent units: 15 or 15% is 15 %. Money in dollars with at most 2 decimals: 5, 5.00 or $5.",
    "Empty tier is 1, empty condition is none. Values are matched in any case; 'Flash Deal' is flash_deal.",
)


def _cell_text(col: Col, dtype: pl.DataType, timezone: str | None) -> pl.Expr:
    """The text a typed cell is written as (null: an empty cell)."""
    value = pl.col(col.name)
    if col.kind == "timestamp":
        utc = value.dt.convert_time_zone("UTC")
        if timezone is None:
            return utc.dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")
        local = utc.dt.convert_time_zone(timezone)
        repeated = local.dt.replace_time_zone(None).dt.replace_time_zone(timezone, ambiguous="null").is_null()
        return (
            pl.when(repeated)
            .then(local.dt.strftime("%Y-%m-%d %H:%M:%S%.f%:z"))
            .otherwise(local.dt.strftime("%Y-%m-%d %H:%M:%S%.f"))
        )
    if col.kind == "bool":
        return pl.when(value).then(pl.lit("true")).when(~value).then(pl.lit("false"))
    return value.cast(dtype).cast(pl.String)


def template_text(table: str, frame: pl.DataFrame | None, timezone: str | None = None) -> pl.DataFrame:
    """A typed template table as the text of its cells, in the contract's columns (a column the
    frame lacks is empty)."""
    schema = file_schema(table)
    frame = pl.DataFrame(schema=schema) if frame is None else frame
    for column, dtype in frame.schema.items():
        if column in schema and isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            raise ValueError(f"{table}: column '{column}' holds times without a time zone")
    frame = frame.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns
    )
    return frame.select(
        _cell_text(col, schema[col.name], timezone).cast(pl.String).alias(col.name) for col in INPUT_TABLES[table]
    )


def write_template(path: Path, tables: dict[str, pl.DataFrame], timezone: str | None = None) -> Path:
    """Write the promotions template to `path` (XLSX) from typed `tables` (any of `promotions`,
    `promotion_products`, `opt_out_events` in `file_schema`'s types; an absent one is a sheet with
    its header only, so `{}` writes the blank template). Times are written in UTC with `Z`, or as
    local time in `timezone` (IANA) when one is given."""
    unknown = sorted(set(tables) - set(TEMPLATE_TABLES))
    if unknown:
        raise ValueError(f"not tables of the promotions template: {', '.join(unknown)}")
    if timezone is not None:
        check_timezone(timezone)
    texts = {table: template_text(table, tables.get(table), timezone) for table in TEMPLATE_TABLES}
    options = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    book = xlsxwriter.Workbook(str(path), options)
    book.set_properties({"created": XLSX_CREATED})  # not the clock: the same tables give the same bytes
    text = book.add_format({"num_format": "@"})
    header = book.add_format({"bold": True, "num_format": "@", "bg_color": "#DDEBF7", "bottom": 1})
    notes = book.add_worksheet("instructions")
    notes.set_column(0, 0, 120, text)
    lines = [*INSTRUCTIONS]
    if timezone is not None:
        lines.append(f"The times of this file were written in {timezone}: import it with --timezone {timezone}.")
    notes.write_column(0, 0, lines)
    for table in TEMPLATE_TABLES:
        sheet = book.add_worksheet(table)
        frame = texts[table]
        for j, col in enumerate(INPUT_TABLES[table]):
            values = frame.get_column(col.name)
            width = max(len(col.name), values.str.len_chars().max() or 0) + 2
            sheet.set_column(j, j, min(width, 60), text)
            sheet.write_string(0, j, col.name, header)
            # The workbook's options write every string as a string: `=...` is never a formula.
            sheet.write_column(1, j, values.to_list(), text)
            if col.kind == "enum" or col.kind == "bool":
                choices = list(col.enum) if col.kind == "enum" else ["true", "false"]
                sheet.data_validation(
                    1,
                    j,
                    max(_VALIDATED_ROWS, frame.height + 1),
                    j,
                    {"validate": "list", "source": choices, "error_type": "warning", "ignore_blank": True},
                )
        sheet.freeze_panes(1, 0)
    book.close()
    return path
