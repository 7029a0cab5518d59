"""Seller Center-style exports: per shop and statement, a CSV of its Order details and an XLSX
with the sheets "Statements" and "Order details", with the exact labels (SPEC §4, §6)."""

from datetime import datetime
from pathlib import Path

import polars as pl
import xlsxwriter

from schemas.layout import ORDER_DETAILS_LABELS, STATEMENTS_LABELS, snake

_FIXED_CREATED = datetime(2000, 1, 1)  # XLSX metadata carries a time; fix it so files are reproducible


def _labelled(frame: pl.DataFrame, labels: tuple[str, ...]) -> pl.DataFrame:
    return frame.select([pl.col(snake(label)).alias(label) for label in labels])


def write_exports(order_details: pl.DataFrame, statements: pl.DataFrame, directory: Path, xlsx: bool = True) -> int:
    """Write `<dir>/<shop_id>/<Statement ID>.csv` (and `.xlsx`); returns the number of statements."""
    details_by_statement = order_details.partition_by("statement_id", as_dict=True, maintain_order=True)
    for shop_id, sid in zip(statements["shop_id"].to_list(), statements["statement_id"].to_list(), strict=True):
        shop_dir = directory / shop_id
        shop_dir.mkdir(parents=True, exist_ok=True)
        details = _labelled(details_by_statement[(sid,)], ORDER_DETAILS_LABELS)
        details.write_csv(shop_dir / f"{sid}.csv")
        if xlsx:
            header = _labelled(statements.filter(pl.col("statement_id") == sid), STATEMENTS_LABELS)
            with xlsxwriter.Workbook(shop_dir / f"{sid}.xlsx") as workbook:
                workbook.set_properties({"created": _FIXED_CREATED})
                header.write_excel(workbook, worksheet="Statements", autofit=True, float_precision=2)
                details.write_excel(workbook, worksheet="Order details", autofit=True, float_precision=2)
    return statements.height
