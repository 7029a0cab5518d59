"""Seller Center-style exports: per shop and statement, a CSV of its Order details and an XLSX
with the sheets "Statements" and "Order details", with the exact labels (SPEC §4, §6)."""

from datetime import datetime
from pathlib import Path

import polars as pl
import xlsxwriter

from schemas.layout import ORDER_DETAILS_LABELS, STATEMENTS_LABELS, snake

_FIXED_CREATED = datetime(2000, 1, 1)  # XLSX metadata carries a time; fix it so files are reproducible


def _labelled(frame: pl.DataFrame, labels: tuple[str, ...], *keep: str) -> pl.DataFrame:
    return frame.select(*keep, *[pl.col(snake(label)).alias(label) for label in labels])


def write_exports(order_details: pl.DataFrame, statements: pl.DataFrame, directory: Path, xlsx: bool = True) -> int:
    """Write `<dir>/<shop_id>/<Statement ID>.csv` (and `.xlsx`); returns the number of statements."""
    labelled = _labelled(order_details, ORDER_DETAILS_LABELS, "statement_id")  # once, not per statement
    details_by_statement = labelled.partition_by("statement_id", as_dict=True, maintain_order=True, include_key=False)
    headers = _labelled(statements, STATEMENTS_LABELS, "statement_id").partition_by("statement_id", as_dict=True, include_key=False)
    for shop_id, sid in zip(statements["shop_id"].to_list(), statements["statement_id"].to_list(), strict=True):
        shop_dir = directory / shop_id
        shop_dir.mkdir(parents=True, exist_ok=True)
        details = details_by_statement[(sid,)]
        details.write_csv(shop_dir / f"{sid}.csv")
        if xlsx:
            header = headers[(sid,)]
            with xlsxwriter.Workbook(shop_dir / f"{sid}.xlsx", {"in_memory": True}) as workbook:
                workbook.set_properties({"created": _FIXED_CREATED})
                header.write_excel(workbook, worksheet="Statements", autofit=True, float_precision=2)
                details.write_excel(workbook, worksheet="Order details", autofit=True, float_precision=2)
    return statements.height
