"""TikTok-shaped sources made from the input tables (synthetic/sources.py).

"The Seller Center order export (CSV, XLSX) and the Open API 202309 order and return pages, from
orders, lines, refunds and TikTok's discount split: what the import reads back is exactly what
went in; IDs stay text; the API's items are one per unit and the split sums back exactly;
personal data is present as markers, so that a test can say it never reaches an output."
"""

import json
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import fastexcel
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.seller_center import read_order_export
from schemas.inputs import file_schema
from synthetic.sources import (
    EXPORT_HEADERS,
    order_api_pages,
    order_export_frame,
    return_api_pages,
    split_from_discount_lines,
    write_order_export_csv,
    write_order_export_xlsx,
    write_pages,
)
from transforms.seller_center import OrderExportError

LA = "America/Los_Angeles"
A, B, C = "5764612345678912345", "5764612345678912346", "5764612345678912347"  # 19 digits: beyond a double
MUG_BLUE, MUG_RED, HAT = "1729384756102938475", "1729384756102938476", "1729384756102938477"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def table(name: str, rows: list[dict]) -> pl.DataFrame:
    """An input table in its file types (schemas/inputs.py), unstated columns at their defaults."""
    defaults = {
        "orders": {"shop_id": "S1", "currency": "USD", "channel": "shop", "buyer_is_new": False,
                   "actual_shipping_fee": Decimal(0), "sales_tax": Decimal(0), "seller_coupon_id": None,
                   "platform_coupon_id": None, "delivered_at": None, "affiliate_commission_rate": None},
        "order_lines": {"product_id": "P1", "product_name": "Product", "sku_name": "Default"},
        "refunds": {"refund_shipping": False},
    }[name]  # fmt: skip
    schema = file_schema(name)
    return pl.DataFrame([{**defaults, **row} for row in rows], schema=schema, orient="row")


def split_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"order_id": pl.String, "sku_id": pl.String, "seller_discount_cents": pl.Int64,
                "platform_discount_cents": pl.Int64},
        orient="row",
    )  # fmt: skip


# A: delivered, two units of three returned (with shipping); B: not delivered, two API refunds;
# C: every unit refunded before delivery by `:cancel` refunds, so a cancelled order.
ORDERS = table(
    "orders",
    [
        {"order_id": A, "created_at": utc(2026, 7, 4, 12, 0, 1), "shipping_fee": Decimal("5.99"),
         "sales_tax": Decimal("1.80"), "delivered_at": utc(2026, 7, 9, 17, 0, 0)},
        {"order_id": B, "created_at": utc(2026, 12, 1, 3, 4, 5), "shipping_fee": Decimal("0.00"),
         "sales_tax": Decimal("12.34")},
        {"order_id": C, "created_at": utc(2026, 9, 20, 3, 4, 5), "shipping_fee": Decimal("3.00"),
         "sales_tax": Decimal("0.50")},
    ],
)  # fmt: skip
LINES = table(
    "order_lines",
    [
        {"order_id": A, "sku_id": MUG_BLUE, "product_name": "Mug, large", "sku_name": "Blue", "quantity": 3,
         "unit_price": Decimal("1249.00")},
        {"order_id": A, "sku_id": MUG_RED, "product_name": "Mug, large", "sku_name": "Red", "quantity": 1,
         "unit_price": Decimal("12.50")},
        {"order_id": B, "sku_id": MUG_BLUE, "product_name": "Mug, large", "sku_name": "Blue", "quantity": 2,
         "unit_price": Decimal("1249.00")},
        {"order_id": C, "sku_id": HAT, "product_name": "Hat", "sku_name": "One size", "quantity": 1,
         "unit_price": Decimal("9.99")},
    ],
)  # fmt: skip
REFUNDS = table(
    "refunds",
    [
        {"refund_id": f"{A}:{MUG_BLUE}:return", "order_id": A, "sku_id": MUG_BLUE, "quantity": 2,
         "refunded_at": utc(2026, 7, 12), "refund_shipping": True},
        {"refund_id": "RF-2", "order_id": B, "sku_id": MUG_BLUE, "quantity": 1, "refunded_at": utc(2026, 12, 3)},
        {"refund_id": "RF-1", "order_id": B, "sku_id": MUG_BLUE, "quantity": 1, "refunded_at": utc(2026, 12, 2)},
        {"refund_id": f"{C}:{HAT}:cancel", "order_id": C, "sku_id": HAT, "quantity": 1,
         "refunded_at": utc(2026, 9, 21)},
    ],
)  # fmt: skip
SPLIT = split_frame([(A, MUG_BLUE, 101, 50), (A, None, 100, 200), (B, MUG_BLUE, 0, 1)])


def export(month_first: bool = True) -> pl.DataFrame:
    return order_export_frame(ORDERS, LINES, REFUNDS, SPLIT, LA, month_first=month_first)


def cells(frame: pl.DataFrame, order_id: str, sku_id: str) -> dict[str, str | None]:
    return frame.filter(pl.col("Order ID") == order_id + "\t", pl.col("SKU ID") == sku_id + "\t").to_dicts()[0]


READ_BACK = ["order_id", "sku_id", "quantity", "unit_price_cents", "sku_seller_discount_cents",
             "sku_platform_discount_cents", "shipping_fee_cents", "shipping_seller_discount_cents",
             "shipping_platform_discount_cents", "taxes_cents", "returned_quantity", "created_at", "delivered_at",
             "cancelled_at"]  # fmt: skip


# ---------------------------------------------------------------- the order export


def test_the_export_has_the_us_headers_in_order_every_cell_text_one_row_per_line():
    frame = export()
    assert frame.columns == list(EXPORT_HEADERS) and len(EXPORT_HEADERS) == 56
    assert set(frame.schema.values()) == {pl.String}
    assert frame.select("Order ID", "SKU ID").rows() == [
        (A + "\t", MUG_BLUE + "\t"), (A + "\t", MUG_RED + "\t"), (B + "\t", MUG_BLUE + "\t"), (C + "\t", HAT + "\t"),
    ]  # fmt: skip


def test_cells_are_written_as_tiktok_writes_them():
    row = cells(export(), A, MUG_BLUE)
    assert {label: row[label] for label in [
        "Order ID", "Order Status", "Quantity", "Sku Quantity of return", "SKU Unit Original Price",
        "SKU Subtotal Before Discount", "SKU Platform Discount", "SKU Seller Discount", "SKU Subtotal After Discount",
        "Original Shipping Fee", "Shipping Fee Seller Discount", "Shipping Fee Platform Discount",
        "Shipping Fee After Discount", "Taxes", "Order Amount", "Order Refund Amount", "Created Time",
        "Delivered Time", "Cancelled Time", "Product Name", "Variation"]} == {
        "Order ID": A + "\t",
        "Order Status": "Completed",  # delivered more than 15 days before the latest time of the data
        "Quantity": "3",
        "Sku Quantity of return": "2",  # the `:return` refund's units
        "SKU Unit Original Price": "$1,249.00",
        "SKU Subtotal Before Discount": "$3,747.00",
        "SKU Platform Discount": "0.50",
        "SKU Seller Discount": "1.01",
        "SKU Subtotal After Discount": "$3,745.49",  # 3,747.00 - 0.50 - 1.01
        "Original Shipping Fee": "5.99",
        "Shipping Fee Seller Discount": "1.00",
        "Shipping Fee Platform Discount": "2.00",
        "Shipping Fee After Discount": "2.99",
        "Taxes": "1.80",
        "Order Amount": "$3,762.78",  # 3,745.49 + 12.50 + 2.99 + 1.80
        "Order Refund Amount": "$2,496.99",  # 2/3 of 3,745.49, half up
        "Created Time": "07/04/2026 5:00:01 AM",  # 12:00:01 UTC is 5:00:01 PDT (UTC-7), hour unpadded
        "Delivered Time": "07/09/2026 10:00:00 AM",
        "Cancelled Time": None,
        "Product Name": "Mug, large",
        "Variation": "Blue",
    }  # fmt: skip
    red = cells(export(), A, MUG_RED)
    assert (red["Taxes"], red["Original Shipping Fee"], red["Sku Quantity of return"]) == ("1.80", "5.99", "0")


@pytest.mark.parametrize(
    ("order_id", "sku_id", "status", "created", "cancelled", "kind"),
    [(A, MUG_BLUE, "Completed", "07/04/2026 5:00:01 AM", None, "Return/Refund"),
     (B, MUG_BLUE, "To ship", "11/30/2026 7:04:05 PM", None, None),  # PST (UTC-8); the latest order
     (C, HAT, "Cancelled", "09/19/2026 8:04:05 PM", "09/20/2026 5:00:00 PM", "Cancel")],
)  # fmt: skip
def test_status_times_and_cancellation_follow_the_refunds(order_id, sku_id, status, created, cancelled, kind):
    row = cells(export(), order_id, sku_id)
    assert (row["Order Status"], row["Created Time"], row["Cancelled Time"], row["Cancelation/Return Type"]) == (
        status, created, cancelled, kind,
    )  # fmt: skip
    # B's refunds do not end with `:return`: the export cannot say them.
    assert cells(export(), B, MUG_BLUE)["Sku Quantity of return"] == "0"


def test_a_cancel_refund_after_delivery_or_of_some_units_only_does_not_cancel():
    late = REFUNDS.with_columns(
        pl.when(pl.col("order_id") == C).then(pl.lit(utc(2026, 9, 23))).otherwise("refunded_at").alias("refunded_at")
    )
    orders = ORDERS.with_columns(
        pl.when(pl.col("order_id") == C).then(pl.lit(utc(2026, 9, 22))).otherwise("delivered_at").alias("delivered_at")
    )
    assert cells(order_export_frame(orders, LINES, late, SPLIT, LA), C, HAT)["Order Status"] != "Cancelled"
    two = LINES.with_columns(pl.when(pl.col("sku_id") == HAT).then(2).otherwise("quantity").alias("quantity"))
    assert cells(order_export_frame(ORDERS, two, REFUNDS, SPLIT, LA), C, HAT)["Order Status"] != "Cancelled"


def test_day_first_times_are_24_hour_and_padded():
    row = cells(export(month_first=False), A, MUG_BLUE)
    assert (row["Created Time"], row["Delivered Time"]) == ("04/07/2026 05:00:01", "09/07/2026 10:00:00")


@pytest.mark.parametrize(
    ("kind", "month_first"), [("csv", True), ("csv-bom", True), ("csv", False), ("xlsx", True), ("xlsx", False)]
)
def test_the_export_reads_back_to_the_input_facts(tmp_path, kind, month_first):
    frame = export(month_first)
    path = write(frame, tmp_path, kind)
    read = read_order_export(path, LA)
    assert read.rejected.height == 0
    assert read.rows.select(READ_BACK).rows() == [
        (A, MUG_BLUE, 3, 124900, 101, 50, 599, 100, 200, 180, 2, utc(2026, 7, 4, 12, 0, 1), utc(2026, 7, 9, 17), None),
        (A, MUG_RED, 1, 1250, 0, 0, 599, 100, 200, 180, 0, utc(2026, 7, 4, 12, 0, 1), utc(2026, 7, 9, 17), None),
        (B, MUG_BLUE, 2, 124900, 0, 1, 0, 0, 0, 1234, 0, utc(2026, 12, 1, 3, 4, 5), None, None),
        (C, HAT, 1, 999, 0, 0, 300, 0, 0, 50, 0, utc(2026, 9, 20, 3, 4, 5), None, utc(2026, 9, 21)),
    ]  # fmt: skip
    assert read.rows["order_status"].to_list() == ["Completed", "Completed", "To ship", "Cancelled"]


def write(frame: pl.DataFrame, directory: Path, kind: str) -> Path:
    if kind.startswith("csv"):
        return write_order_export_csv(frame, directory / "orders.csv", bom=kind == "csv-bom")
    return write_order_export_xlsx(frame, directory / "orders.xlsx", description_row=kind != "xlsx-bare")


def test_the_csv_is_utf8_with_a_header_quoted_where_needed_and_a_bom_on_request(tmp_path):
    plain = write_order_export_csv(export(), tmp_path / "plain.csv").read_bytes()
    assert plain.startswith(b"Order ID,Order Status,") and b',"Mug, large",' in plain
    assert f"{A}\t,".encode() in plain
    assert write_order_export_csv(export(), tmp_path / "bom.csv", bom=True).read_bytes() == b"\xef\xbb\xbf" + plain


def test_the_xlsx_has_text_id_cells_a_description_row_and_its_first_sheet_named_like_tiktoks(tmp_path):
    path = write_order_export_xlsx(export(), tmp_path / "orders.xlsx")
    reader = fastexcel.read_excel(str(path))
    assert reader.sheet_names == ["OrderSKUList"]
    sheet = reader.load_sheet(0, header_row=None, dtypes="string").to_polars()
    assert list(sheet.row(0)) == list(EXPORT_HEADERS)
    assert sheet.row(1)[:2] == ("Platform unique order ID.", "The current status of the order.")
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    # Every cell is a string cell: none holds a number, so no ID went through a double.
    assert xml.count("<c ") == xml.count('t="inlineStr"') and "<v>" not in xml
    assert read_order_export(path, LA).rows["row"].to_list() == [3, 4, 5, 6]  # 2 is the descriptions
    bare = write_order_export_xlsx(export(), tmp_path / "bare.xlsx", description_row=False)
    assert read_order_export(bare, LA).rows["row"].to_list() == [2, 3, 4, 5]


def test_the_same_tables_give_the_same_bytes(tmp_path):
    for name in ("one", "two"):
        write_order_export_xlsx(export(), tmp_path / f"{name}.xlsx")
        write_order_export_csv(export(), tmp_path / f"{name}.csv")
        write_pages(order_api_pages(ORDERS, LINES, SPLIT, refunds=REFUNDS), tmp_path / name, "orders")
    for suffix in (".xlsx", ".csv"):
        assert (tmp_path / f"one{suffix}").read_bytes() == (tmp_path / f"two{suffix}").read_bytes()
    assert (tmp_path / "one/orders-0001.json").read_bytes() == (tmp_path / "two/orders-0001.json").read_bytes()


# ---------------------------------------------------------------- the API pages


def api_orders(**kwargs) -> dict[str, dict]:
    pages = order_api_pages(ORDERS, LINES, SPLIT, **kwargs)
    return {order["id"]: order for page in pages for order in page["data"]["orders"]}


def test_the_order_pages_are_the_api_responses_paged():
    pages = order_api_pages(ORDERS, LINES, SPLIT, page_size=2, refunds=REFUNDS)
    assert [list(page) for page in pages] == [["code", "message", "request_id", "data"]] * 2
    assert [(page["code"], page["message"]) for page in pages] == [(0, "Success")] * 2
    assert [[order["id"] for order in page["data"]["orders"]] for page in pages] == [[A, B], [C]]
    assert [page["data"]["total_count"] for page in pages] == [3, 3]
    assert pages[0]["data"]["next_page_token"] != "" and pages[1]["data"]["next_page_token"] == ""
    assert pages[0]["request_id"] != pages[1]["request_id"]


def test_an_api_order_carries_its_times_status_and_payment():
    orders = api_orders(refunds=REFUNDS)
    a, b, c = orders[A], orders[B], orders[C]
    assert (a["status"], b["status"], c["status"]) == ("COMPLETED", "AWAITING_SHIPMENT", "CANCELLED")
    assert (a["create_time"], a["delivery_time"], a["update_time"]) == (1783166401, 1783616400, 1783616400)
    assert "delivery_time" not in b and "cancel_time" not in a
    assert c["cancel_time"] == int(utc(2026, 9, 21).timestamp()) == c["update_time"]
    assert a["payment"] == {
        "currency": "USD",
        "sub_total": "3757.99",  # 3,759.50 - 1.01 - 0.50
        "shipping_fee": "2.99",
        "seller_discount": "1.01",
        "platform_discount": "0.50",
        "total_amount": "3762.78",
        "original_total_product_price": "3759.50",
        "original_shipping_fee": "5.99",
        "shipping_fee_seller_discount": "1.00",
        "shipping_fee_platform_discount": "2.00",
        "tax": "1.80",
    }
    # Without the refunds, nothing says C was cancelled.
    assert api_orders()[C]["status"] == "IN_TRANSIT" and "cancel_time" not in api_orders()[C]


def test_api_line_items_are_one_per_unit_the_split_spread_exactly_remainders_first():
    items = [item for item in api_orders()[A]["line_items"] if item["sku_id"] == MUG_BLUE]
    assert [(i["original_price"], i["seller_discount"], i["platform_discount"], i["sale_price"]) for i in items] == [
        ("1249.00", "0.34", "0.17", "1248.49"),  # 101 cents over 3 units: 34, 34, 33
        ("1249.00", "0.34", "0.17", "1248.49"),  # 50 cents: 17, 17, 16
        ("1249.00", "0.33", "0.16", "1248.51"),
    ]
    assert len({item["id"] for order in api_orders().values() for item in order["line_items"]}) == 7
    assert all(item["id"].isdigit() and len(item["id"]) == 19 for item in items)
    assert list(items[0]) == ["id", "sku_id", "product_id", "product_name", "sku_name", "original_price",
                              "sale_price", "seller_discount", "platform_discount", "currency", "display_status",
                              "is_gift"]  # fmt: skip


def returns() -> dict[str, dict]:
    pages = return_api_pages(REFUNDS, ORDERS, order_lines=LINES, split=SPLIT)
    return {r["order_id"] + "/" + str(r["update_time"]): r for page in pages for r in page["data"]["return_orders"]}


def test_returns_are_one_per_refund_but_cancellations_with_a_line_item_per_unit_taken_in_turn():
    found = returns()
    assert len(found) == 3  # C's `:cancel` refund is the cancelled order, not a return
    unit_ids = {o["id"]: [i["id"] for i in o["line_items"]] for o in api_orders().values()}
    a = found[f"{A}/{int(utc(2026, 7, 12).timestamp())}"]
    assert (a["return_type"], a["return_status"]) == ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE")
    assert [i["order_line_item_id"] for i in a["return_line_items"]] == unit_ids[A][:2]
    assert a["refund_amount"] == {
        "currency": "USD",
        "refund_total": "2504.17",
        "refund_subtotal": "2496.98",  # 1,248.49 twice: the two units' sale prices
        "refund_shipping_fee": "5.99",  # refund_shipping: the order's shipping fee
        "refund_tax": "1.20",  # 1.80 x 2,498.00 / 3,759.50, half up
    }
    # B's two refunds of one SKU take its units in turn, by time (RF-1 first, though listed second).
    first = found[f"{B}/{int(utc(2026, 12, 2).timestamp())}"]["return_line_items"]
    second = found[f"{B}/{int(utc(2026, 12, 3).timestamp())}"]["return_line_items"]
    assert [first[0]["order_line_item_id"], second[0]["order_line_item_id"]] == unit_ids[B]
    assert found[f"{B}/{int(utc(2026, 12, 2).timestamp())}"]["refund_amount"]["refund_shipping_fee"] == "0.00"
    assert all(r["create_time"] <= r["update_time"] for r in found.values())


def test_returns_without_the_lines_name_the_same_units_and_keep_unknown_orders():
    bare = return_api_pages(REFUNDS, ORDERS.filter(pl.col("order_id") != B))
    found = bare[0]["data"]["return_orders"]
    assert [r["order_id"] for r in found] == [A, B, B]
    assert [i["order_line_item_id"] for i in found[0]["return_line_items"]] == [
        i["id"] for i in api_orders()[A]["line_items"][:2]
    ]
    assert found[1]["refund_amount"]["currency"] == "USD"  # B is unknown here: the import rejects it


def test_write_pages_numbers_the_files_and_keeps_the_api_field_order(tmp_path):
    pages = order_api_pages(ORDERS, LINES, SPLIT, page_size=1)
    paths = write_pages(pages, tmp_path / "api" / "orders", "orders")
    assert [p.name for p in paths] == ["orders-0001.json", "orders-0002.json", "orders-0003.json"]
    text = paths[0].read_text()
    assert text.startswith('{"code":0,"message":"Success","request_id":') and ", " not in text.replace(", large", "")
    assert json.loads(text) == pages[0]
    with pytest.raises(ValueError, match="not a safe file name stem"):
        write_pages(pages, tmp_path, "../orders")


# ---------------------------------------------------------------- personal data


def test_personal_data_markers_are_in_every_source_and_never_in_what_the_reader_reads(tmp_path):
    markers = ["PII-NAME-1", "PII-PHONE-1", "PII-ADDR-1", "PII-MSG-1", "PII-USER-1"]
    csv_text = write_order_export_csv(export(), tmp_path / "o.csv").read_text()
    xlsx = write_order_export_xlsx(export(), tmp_path / "o.xlsx")
    xlsx_text = str(fastexcel.read_excel(str(xlsx)).load_sheet(0, dtypes="string").to_polars().rows())
    pages = json.dumps(order_api_pages(ORDERS, LINES, SPLIT))
    for text in (csv_text, xlsx_text, pages):
        assert all(marker in text for marker in markers)
    assert "PII-EMAIL-1" in pages
    for path in (tmp_path / "o.csv", xlsx):
        read = read_order_export(path, LA)
        assert "PII-" not in str(read.rows.rows()) + str(read.rejected.rows())


# ---------------------------------------------------------------- the split and bad inputs


def test_the_split_sums_discount_lines_per_order_sku_by_who_funded_them():
    lines = pl.DataFrame(
        [(A, MUG_BLUE, "FD-1", "flash_deal", "seller", "1", Decimal("1.00")),
         (A, MUG_BLUE, "PI-1", "product_incentive", "platform", "2", Decimal("0.50")),
         (A, MUG_BLUE, "SC-1", "seller_coupon", "seller", "4a", Decimal("0.01")),
         (A, None, "PS-1", "platform_shipping_discount", "platform", "5", Decimal("2.00")),
         (A, None, "SS-1", "seller_shipping_discount", "seller", "5", Decimal("1.00"))],
        schema={"order_id": pl.String, "sku_id": pl.String, "promotion_id": pl.String, "promotion_type": pl.String,
                "funded_by": pl.String, "step": pl.String, "amount": pl.Decimal(18, 2)},
        orient="row",
    )  # fmt: skip
    assert split_from_discount_lines(lines).rows() == [(A, MUG_BLUE, 101, 50), (A, None, 100, 200)]
    assert split_from_discount_lines(lines.rename({"amount": "amount_cents"}).with_columns(
        (pl.col("amount_cents") * 100).cast(pl.Int64))).rows() == [(A, MUG_BLUE, 101, 50), (A, None, 100, 200)]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [("sub_cent", r"order_lines\.unit_price: '1\.005' is not money in whole cents \(sub_cent\)"),
     ("unknown_order", r"order_lines: a row of an unknown order \(order_id='999'\)"),
     ("unknown_line", r"split: a row of an unknown line \(order_id='5764612345678912345', sku_id='42'\)"),
     ("doubled", r"orders\.order_id: '5764612345678912345' appears more than once"),
     ("naive", r"orders\.created_at: expected a time-zone-aware Datetime")],
)  # fmt: skip
def test_a_table_the_contract_rejects_stops_naming_the_table_column_and_value(change, message):
    orders, lines, split = ORDERS, LINES, SPLIT
    if change == "sub_cent":
        lines = lines.with_columns(pl.lit("1.005").alias("unit_price"))
    elif change == "unknown_order":
        lines = pl.concat([lines, lines.head(1).with_columns(pl.lit("999").alias("order_id"))])
    elif change == "unknown_line":
        split = pl.concat([split, split_frame([(A, "42", 1, 0)])])
    elif change == "doubled":
        orders = pl.concat([orders, orders.head(1)])
    else:
        orders = orders.with_columns(pl.col("created_at").dt.replace_time_zone(None))
    with pytest.raises(ValueError, match=message):
        order_export_frame(orders, lines, REFUNDS, split, LA)


# ---------------------------------------------------------------- properties


NEAR_DST = [utc(2026, 3, 8, 10), utc(2026, 11, 1, 9), utc(2027, 3, 14, 10)]  # clocks forward, back, forward (LA)


@st.composite
def times(draw) -> datetime:
    """Whole-second UTC times, often within hours of a clock change (so that local times fall in
    the hour that happens twice), else anywhere in a year."""
    if draw(st.booleans()):
        return draw(st.sampled_from(NEAR_DST)) + timedelta(seconds=draw(st.integers(-4 * 3600, 4 * 3600)))
    return utc(2026, 1, 1) + timedelta(seconds=draw(st.integers(0, 366 * 86400)))


@st.composite
def sources(draw):
    """Small clean tables: orders of 1–3 lines, discounts within the gross, returns of delivered
    units, and some undelivered orders cancelled whole by `:cancel` refunds."""
    orders, lines, refunds, split = [], [], [], []
    for i in range(draw(st.integers(1, 4))):
        order_id = str(5764612345678900000 + i)
        created = draw(times())
        delivered = draw(st.none() | st.integers(60, 20 * 86400).map(lambda s, c=created: c + timedelta(seconds=s)))
        fee = draw(st.integers(0, 2000))
        ship_seller = draw(st.integers(0, fee))
        orders.append({"order_id": order_id, "created_at": created, "delivered_at": delivered,
                       "shipping_fee": Decimal(fee).scaleb(-2),
                       "sales_tax": Decimal(draw(st.integers(0, 500_000))).scaleb(-2)})  # fmt: skip
        split.append((order_id, None, ship_seller, draw(st.integers(0, fee - ship_seller))))
        cancel_at = None
        if delivered is None and draw(st.booleans()):
            cancel_at = created + timedelta(seconds=draw(st.integers(60, 5 * 86400)))
        for j in range(draw(st.integers(1, 3))):
            sku_id = str(1729384756102938000 + j)
            quantity, price = draw(st.integers(1, 5)), draw(st.integers(1, 200_000_000))
            lines.append({"order_id": order_id, "sku_id": sku_id, "quantity": quantity,
                          "unit_price": Decimal(price).scaleb(-2), "product_name": f"Product {j}, \"big\""})  # fmt: skip
            seller = draw(st.integers(0, quantity * price))
            split.append((order_id, sku_id, seller, draw(st.integers(0, quantity * price - seller))))
            returned = draw(st.integers(0, quantity)) if delivered is not None else 0
            if returned:
                refunds.append({"refund_id": f"{order_id}:{sku_id}:return", "order_id": order_id, "sku_id": sku_id,
                                "quantity": returned, "refunded_at": delivered + timedelta(days=1)})  # fmt: skip
            if cancel_at is not None:
                refunds.append({"refund_id": f"{order_id}:{sku_id}:cancel", "order_id": order_id, "sku_id": sku_id,
                                "quantity": quantity, "refunded_at": cancel_at})  # fmt: skip
    return (table("orders", orders), table("order_lines", lines), table("refunds", refunds), split_frame(split))


def is_ambiguous(t: datetime | None) -> bool:
    """Whether `t`'s LA wall time happens twice (the hour clocks repeat): the reader rejects it."""
    if t is None:
        return False
    zone = ZoneInfo(LA)
    wall = t.astimezone(zone).replace(tzinfo=None)
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()


def expected_lines(orders, lines, refunds, split) -> list[dict]:
    """What the export says of each line, from the tables directly (in the lines' order)."""
    by_order = {o["order_id"]: o for o in orders.to_dicts()}
    cuts = {(s[0], s[1]): s[2:] for s in split.rows()}
    refunded = refunds.to_dicts()
    out = []
    for line in lines.to_dicts():
        order = by_order[line["order_id"]]
        key = (line["order_id"], line["sku_id"])
        cancels = [r["refunded_at"] for r in refunded if r["order_id"] == key[0] and r["refund_id"].endswith("cancel")]
        out.append(
            {
                "order_id": key[0], "sku_id": key[1], "quantity": line["quantity"],
                "unit_price_cents": int(line["unit_price"] * 100), "sku_seller_discount_cents": cuts[key][0],
                "sku_platform_discount_cents": cuts[key][1], "shipping_fee_cents": int(order["shipping_fee"] * 100),
                "shipping_seller_discount_cents": cuts[(key[0], None)][0],
                "shipping_platform_discount_cents": cuts[(key[0], None)][1],
                "taxes_cents": int(order["sales_tax"] * 100),
                "returned_quantity": sum(r["quantity"] for r in refunded
                                         if (r["order_id"], r["sku_id"]) == key and r["refund_id"].endswith("return")),
                "created_at": order["created_at"], "delivered_at": order["delivered_at"],
                "cancelled_at": max(cancels) if cancels else None,
            }
        )  # fmt: skip
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables=sources(), kind=st.sampled_from(["csv", "csv-bom", "xlsx", "xlsx-bare"]), month_first=st.booleans())
def test_any_small_tables_read_back_exactly_but_the_local_times_clocks_repeat(tables, kind, month_first):
    orders, lines, refunds, split = tables
    frame = order_export_frame(orders, lines, refunds, split, LA, month_first=month_first)
    want = expected_lines(orders, lines, refunds, split)
    with tempfile.TemporaryDirectory() as directory:
        path = write(frame, Path(directory), kind)
        days = [t.astimezone(ZoneInfo(LA)).day for line in want for t in
                (line["created_at"], line["delivered_at"], line["cancelled_at"]) if t is not None]  # fmt: skip
        if not month_first and max(days) <= 12:
            # No day above 12 and no AM/PM: day and month cannot be told apart, and the reader says so.
            with pytest.raises(OrderExportError, match="cannot tell day from month"):
                read_order_export(path, LA)
            return
        read = read_order_export(path, LA)
    first_row = 3 if kind == "xlsx" else 2
    rejected = []
    for line in want:
        for label, at in (("Created Time", "created_at"), ("Delivered Time", "delivered_at"),
                          ("Cancelled Time", "cancelled_at")):  # fmt: skip
            if is_ambiguous(line[at]):
                rejected.append((line["order_id"], line["sku_id"], label, "ambiguous_time"))
                break
    got_rejected = [
        (want[row - first_row]["order_id"], want[row - first_row]["sku_id"], column, reason)
        for row, column, reason in read.rejected.select("row", "column", "reason").rows()
    ]
    assert got_rejected == rejected
    kept = [line for line in want if (line["order_id"], line["sku_id"]) not in {r[:2] for r in rejected}]
    assert read.rows.select(READ_BACK).to_dicts() == kept
    cancelled = {line["order_id"] for line in want if line["cancelled_at"] is not None}
    assert {r["order_id"] for r in read.rows.to_dicts() if r["order_status"] == "Cancelled"} == cancelled & {
        line["order_id"] for line in kept
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables=sources(), page_size=st.integers(1, 3))
def test_any_small_tables_give_api_pages_of_one_item_per_unit_whose_split_sums_back(tables, page_size):
    orders, lines, refunds, split = tables
    pages = order_api_pages(orders, lines, split, page_size=page_size, refunds=refunds)
    found = [order for page in pages for order in page["data"]["orders"]]
    assert [o["id"] for o in found] == orders["order_id"].to_list()
    assert all(page["data"]["total_count"] == len(found) for page in pages)
    cents = lambda text: int(Decimal(text) * 100)  # noqa: E731
    want = {(s[0], s[1]): s[2:] for s in split.rows()}
    for line in lines.to_dicts():
        [order] = [o for o in found if o["id"] == line["order_id"]]
        items = [i for i in order["line_items"] if i["sku_id"] == line["sku_id"]]
        assert len(items) == line["quantity"]
        for field, total in (("seller_discount", want[(order["id"], line["sku_id"])][0]),
                             ("platform_discount", want[(order["id"], line["sku_id"])][1])):  # fmt: skip
            parts = [cents(i[field]) for i in items]
            assert sum(parts) == total and max(parts) - min(parts) <= 1 and parts == sorted(parts, reverse=True)
        unit = int(line["unit_price"] * 100)
        for item in items:
            cut = cents(item["seller_discount"]) + cents(item["platform_discount"])
            assert (cents(item["original_price"]), cents(item["sale_price"])) == (unit, unit - cut)
    for order in found:
        payment = order["payment"]
        assert (cents(payment["shipping_fee_seller_discount"]), cents(payment["shipping_fee_platform_discount"])) == (
            want[(order["id"], None)]
        )
        assert cents(payment["total_amount"]) == cents(payment["sub_total"]) + cents(payment["shipping_fee"]) + cents(
            payment["tax"]
        )
    returns = [
        r for page in return_api_pages(refunds, orders, order_lines=lines) for r in page["data"]["return_orders"]
    ]
    assert sum(len(r["return_line_items"]) for r in returns) == sum(
        q for rid, q in refunds.select("refund_id", "quantity").rows() if not rid.endswith(":cancel")
    )
    unit_ids = {i["id"] for o in found for i in o["line_items"]}
    assert all(i["order_line_item_id"] in unit_ids for r in returns for i in r["return_line_items"])
