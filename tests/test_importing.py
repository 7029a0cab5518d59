"""The import's mapping (transforms/importing.py), rule by rule of docs/importing.md: which copy of
an order wins, orders, lines and refunds, what is assumed, TikTok's split, and nothing lost."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.open_api import read_order_pages, read_return_pages
from ingest.seller_center import read_order_export
from schemas.inputs import REASONS, file_schema
from synthetic.sources import order_api_pages, order_export_frame, return_api_pages, write_order_export_csv, write_pages
from tests.test_seller_center_export import ORDER_ID, SKU_ID, cells, write_csv
from transforms.importing import SOURCE_COLUMNS, SourceRows, empty_attributes, empty_catalog, empty_refunds, import_rows

LA = "America/Los_Angeles"
UTC_TIME = pl.Datetime("us", "UTC")


def source_rows(
    *paths: Path, attributes: pl.DataFrame | None = None, catalog: pl.DataFrame | None = None, refunds=None
) -> SourceRows:
    """What ingest/sources.py makes of order exports of shop SHOP1."""
    exports = [read_order_export(path, LA) for path in paths]
    rows = pl.concat([e.rows for e in exports]).with_columns(
        pl.lit("SHOP1").alias("shop_id"),
        pl.lit(None, pl.String).alias("product_id"),
        pl.lit(None, pl.String).alias("currency"),
        pl.lit(None, UTC_TIME).alias("version"),
    )
    return SourceRows(
        rows=rows.select(SOURCE_COLUMNS),
        rejected=pl.concat([e.rejected for e in exports]),
        rejected_orders=pl.concat([e.rejected_orders for e in exports]),
        refunds=refunds if refunds is not None else empty_refunds(),
        catalog=catalog if catalog is not None else empty_catalog(),
        attributes=attributes if attributes is not None else empty_attributes(),
    )


def rejected(imported) -> list[tuple]:
    return sorted(imported.rejected.select("row", "column", "reason", "value").rows())


def test_an_export_row_maps_to_the_input_tables(tmp_path):
    imported = import_rows(source_rows(write_csv(tmp_path / "a.csv", [cells()])))
    order = imported.orders.row(0, named=True)
    assert order == {
        "order_id": ORDER_ID,
        "shop_id": "SHOP1",
        "created_at": datetime(2026, 7, 5, 4, 5, 1, tzinfo=UTC),  # 9:05:01 PM in Los Angeles (PDT)
        "currency": "USD",
        "channel": "shop",
        "buyer_is_new": False,
        "shipping_fee": Decimal("5.99"),
        "actual_shipping_fee": Decimal("0.00"),
        "sales_tax": Decimal("1.80"),
        "seller_coupon_id": None,
        "platform_coupon_id": None,
        "delivered_at": datetime(2026, 7, 9, 17, 0, tzinfo=UTC),
        "affiliate_commission_rate": None,
        "assumed": "affiliate,buyer_is_new,channel,coupons,label_cost,product_id",
    }
    assert imported.order_lines.rows() == [(ORDER_ID, SKU_ID, SKU_ID, "Mug, large", "Blue", 2, Decimal("12.50"))]
    assert dict(imported.orders.drop("assumed").schema) == file_schema("orders")
    assert dict(imported.order_lines.schema) == file_schema("order_lines")
    assert imported.refunds.height == 0
    assert imported.reported_discounts.select("sku_id", "seller_discount", "platform_discount").rows() == [
        (SKU_ID, Decimal("0.50"), Decimal("1.00")),
        (None, Decimal("1.00"), Decimal("2.00")),  # the order's shipping
    ]
    assert imported.assumptions == {
        "affiliate": 1,
        "buyer_is_new": 1,
        "channel": 1,
        "coupons": 1,
        "label_cost": 1,
        "product_id": 1,
        "refund_time": 0,
    }


def test_side_files_answer_the_assumptions(tmp_path):
    attributes = pl.DataFrame(
        {
            "order_id": [ORDER_ID],
            "channel": ["live"],
            "buyer_is_new": [True],
            "seller_coupon_id": ["SC-1"],
            "platform_coupon_id": [None],
            "affiliate_commission_rate": [Decimal("0.1")],
            "label_cost": [420],
        },
        schema_overrides={"affiliate_commission_rate": pl.Decimal(18, 6), "platform_coupon_id": pl.String},
    )
    catalog = pl.DataFrame({"sku_id": [SKU_ID], "product_id": ["99"]})
    path = write_csv(tmp_path / "a.csv", [cells()])
    imported = import_rows(source_rows(path, attributes=attributes, catalog=catalog))
    order = imported.orders.row(0, named=True)
    assert (order["channel"], order["buyer_is_new"], order["seller_coupon_id"], order["platform_coupon_id"]) == (
        "live",
        True,
        "SC-1",
        None,
    )
    assert (order["actual_shipping_fee"], order["affiliate_commission_rate"]) == (Decimal("4.20"), Decimal("0.1"))
    assert order["assumed"] is None
    assert imported.order_lines["product_id"].to_list() == ["99"]
    # A column present answers for the orders it lists; an order not listed keeps the assumption.
    other = write_csv(tmp_path / "b.csv", [cells(Order_ID="42\t")])
    imported = import_rows(source_rows(other, attributes=attributes.select("order_id", "channel"), catalog=catalog))
    assert imported.orders["assumed"].to_list() == ["affiliate,buyer_is_new,channel,coupons,label_cost"]


def test_the_latest_copy_of_an_order_wins_whole(tmp_path):
    early = write_csv(tmp_path / "early.csv", [cells(Delivered_Time=""), cells(SKU_ID="7\t", Delivered_Time="")])
    late = write_csv(tmp_path / "late.csv", [cells()])  # delivered since: a later export, one SKU left
    imported = import_rows(source_rows(late, early))
    assert imported.order_lines["sku_id"].to_list() == [SKU_ID]
    assert imported.orders["delivered_at"].to_list() == [datetime(2026, 7, 9, 17, 0, tzinfo=UTC)]
    counts = {row["file"]: row for row in imported.file_counts.to_dicts()}
    assert counts[str(early)] == {"file": str(early), "read": 2, "imported": 0, "superseded": 2, "rejected": 0}
    assert counts[str(late)] == {"file": str(late), "read": 1, "imported": 1, "superseded": 0, "rejected": 0}


def test_equal_versions_go_to_the_file_whose_path_sorts_last(tmp_path):
    a = write_csv(tmp_path / "a.csv", [cells(Product_Name="from a")])
    b = write_csv(tmp_path / "b.csv", [cells(Product_Name="from b")])
    assert import_rows(source_rows(a, b)).order_lines["product_name"].to_list() == ["from b"]
    assert import_rows(source_rows(b, a)).order_lines["product_name"].to_list() == ["from b"]


def test_a_rejected_latest_copy_takes_the_order_with_it(tmp_path):
    early = write_csv(tmp_path / "early.csv", [cells(Delivered_Time="")])
    late = write_csv(tmp_path / "late.csv", [cells(), cells(SKU_ID="7\t", Quantity="two")])
    imported = import_rows(source_rows(early, late))
    assert imported.orders.height == 0  # never the stale copy
    assert rejected(imported) == [(2, "Order ID", "line_rejected", ORDER_ID), (3, "Quantity", "invalid_value", "two")]


@pytest.mark.parametrize(
    ("second", "found"),
    [
        ({"Taxes": "$9.99"}, (3, "Taxes", "inconsistent_order", None)),
        ({"Original Shipping Fee": "1.00"}, (3, "Original Shipping Fee", "inconsistent_order", None)),
        ({"SKU ID": SKU_ID}, (3, "SKU ID", "duplicate_key", SKU_ID)),
    ],
)
def test_rows_of_one_order_that_disagree_reject_it(tmp_path, second, found):
    path = write_csv(tmp_path / "a.csv", [cells(), {**cells(SKU_ID="7\t"), **second}])
    imported = import_rows(source_rows(path))
    assert imported.orders.height == 0 and imported.order_lines.height == 0
    assert found in rejected(imported)
    assert len(rejected(imported)) == 2  # both rows: the order is rejected whole
    assert {reason for _, _, reason, _ in rejected(imported)} <= {found[2], "line_rejected"}


def test_unpaid_orders_are_not_sales(tmp_path):
    imported = import_rows(source_rows(write_csv(tmp_path / "a.csv", [cells(Order_Status="Unpaid")])))
    assert imported.orders.height == 0
    assert rejected(imported) == [(2, "Order Status", "unpaid", "Unpaid")]


def test_a_cancelled_order_is_refunded_whole_at_its_cancellation(tmp_path):
    rows = [
        cells(Order_Status="Cancelled", Delivered_Time="", Cancelled_Time="07/05/2026 08:00:00 AM"),
        cells(Order_Status="Cancelled", Delivered_Time="", Cancelled_Time="07/05/2026 08:00:00 AM", SKU_ID="7\t"),
    ]
    imported = import_rows(source_rows(write_csv(tmp_path / "a.csv", rows)))
    cancel = datetime(2026, 7, 5, 15, 0, tzinfo=UTC)
    assert imported.refunds.rows() == [
        # The shipping comes back once, with the first SKU (IDs compare as text: "1729…" < "7").
        (f"{ORDER_ID}:{SKU_ID}:cancel", ORDER_ID, SKU_ID, 2, cancel, True),
        (f"{ORDER_ID}:7:cancel", ORDER_ID, "7", 2, cancel, False),
    ]
    no_time = write_csv(tmp_path / "b.csv", [cells(Order_Status="Cancelled", Delivered_Time="")])
    assert rejected(import_rows(source_rows(no_time))) == [(2, "Cancelled Time", "missing_value", None)]


def test_a_return_in_the_export_is_a_refund_at_delivery_and_says_so(tmp_path):
    path = write_csv(tmp_path / "a.csv", [cells(Sku_Quantity_of_return="1")])
    imported = import_rows(source_rows(path))
    assert imported.refunds.rows() == [
        (f"{ORDER_ID}:{SKU_ID}:return", ORDER_ID, SKU_ID, 1, datetime(2026, 7, 9, 17, 0, tzinfo=UTC), False)
    ]
    assert "refund_time" in imported.orders["assumed"].item().split(",")


def api_refunds(*rows: tuple) -> pl.DataFrame:
    """(file, row, refund_id, order_id, sku_id, quantity, refunded_at, refund_shipping) rows."""
    frame = pl.DataFrame(
        rows,
        orient="row",
        schema=["file", "row", "refund_id", "order_id", "sku_id", "quantity", "refunded_at", "refund_shipping"],
    )
    return (
        frame.with_columns(pl.lit("SHOP1").alias("shop_id"))
        .select(empty_refunds().columns)
        .cast(empty_refunds().schema)
    )


def test_api_returns_are_refunds_once_and_replace_the_exports_guess(tmp_path):
    path = write_csv(tmp_path / "a.csv", [cells(Sku_Quantity_of_return="1")])
    at = datetime(2026, 7, 20, tzinfo=UTC)
    returns = api_refunds(
        ("r1.json", 1, "R1:" + SKU_ID, ORDER_ID, SKU_ID, 1, at, True),
        ("r2.json", 1, "R1:" + SKU_ID, ORDER_ID, SKU_ID, 1, at, True),  # the same return, fetched again
        ("r2.json", 2, "R2:1", "404", "1", 1, at, False),  # an order not imported
    )
    imported = import_rows(source_rows(path, refunds=returns))
    assert imported.refunds.rows() == [("R1:" + SKU_ID, ORDER_ID, SKU_ID, 1, at, True)]
    assert imported.orders["assumed"].item().split(",").count("refund_time") == 0
    assert ("r2.json", 2, "order_id", "unknown_order", "404") in imported.rejected.rows()
    counts = {row["file"]: row for row in imported.file_counts.to_dicts()}
    assert counts["r1.json"] == {"file": "r1.json", "read": 1, "imported": 0, "superseded": 1, "rejected": 0}
    assert counts["r2.json"] == {"file": "r2.json", "read": 2, "imported": 1, "superseded": 0, "rejected": 1}


def test_nothing_is_lost_and_every_reason_is_known(tmp_path):
    a = write_csv(
        tmp_path / "a.csv",
        [
            cells(),
            cells(Order_ID="2\t", Order_Status="Unpaid"),
            cells(Order_ID="3\t", Quantity="x"),
            cells(Order_ID="4\t"),
        ],
    )
    b = write_csv(tmp_path / "b.csv", [cells(Delivered_Time="07/10/2026 10:00:00 AM"), cells(Order_ID="5\t", Taxes="")])
    imported = import_rows(source_rows(a, b))
    counts = imported.file_counts
    assert counts.select(
        (pl.col("imported") + pl.col("superseded") + pl.col("rejected") == pl.col("read")).all()
    ).item()
    assert counts["read"].sum() == 6
    assert set(imported.rejected["reason"]) <= set(REASONS)
    assert imported.orders["order_id"].sort().to_list() == ["4", "5", ORDER_ID]


# -------------------------------------------------------------- round trip: tables → export → tables

ids = st.integers(min_value=1, max_value=10**18).map(str)


@st.composite
def tables(draw):
    """Small clean orders and lines (whole seconds, outside Los Angeles' clock changes), with every
    attribute the export cannot carry given by the side files."""
    n = draw(st.integers(1, 5))
    order_ids = draw(st.lists(ids, min_size=n, max_size=n, unique=True))
    orders, lines = [], []
    for order_id in order_ids:
        created = (
            datetime(2026, 1, 10, tzinfo=UTC).timestamp()
            + draw(st.integers(0, 40)) * 86_400
            + draw(st.integers(0, 86_399))
        )
        delivered = draw(st.none() | st.integers(3_600, 10 * 86_400))
        orders.append(
            {
                "order_id": order_id,
                "shop_id": "SHOP1",
                "created_at": datetime.fromtimestamp(created, UTC),
                "currency": "USD",
                "channel": draw(st.sampled_from(["live", "video", "shop"])),
                "buyer_is_new": draw(st.booleans()),
                "shipping_fee": Decimal(draw(st.integers(0, 2_000))) / 100,
                "actual_shipping_fee": Decimal(draw(st.integers(0, 900))) / 100,
                "sales_tax": Decimal(draw(st.integers(0, 900))) / 100,
                "seller_coupon_id": None,
                "platform_coupon_id": None,
                "delivered_at": None if delivered is None else datetime.fromtimestamp(created + delivered, UTC),
                "affiliate_commission_rate": None,
            }
        )
        skus = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
        lines += [
            {
                "order_id": order_id,
                "sku_id": sku,
                "product_id": "9" + sku,
                "product_name": draw(st.text("ab ,\"'é", max_size=8)),
                "sku_name": draw(st.text("xy -/", max_size=5)),
                "quantity": draw(st.integers(1, 9)),
                "unit_price": Decimal(draw(st.integers(1, 10**7))) / 100,
            }
            for sku in skus
        ]
    return (pl.DataFrame(orders, schema=file_schema("orders")), pl.DataFrame(lines, schema=file_schema("order_lines")))


def attributes_of(orders: pl.DataFrame) -> pl.DataFrame:
    """order_attributes.csv as a seller would keep it for `orders`: every fact no export carries."""
    return orders.select(
        "order_id",
        "channel",
        "buyer_is_new",
        "seller_coupon_id",
        "platform_coupon_id",
        "affiliate_commission_rate",
        (pl.col("actual_shipping_fee") * 100).cast(pl.Int64).alias("label_cost"),
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables())
def test_tables_rendered_as_an_export_import_back_the_same(tmp_path, drawn):
    orders, lines = drawn
    frame = order_export_frame(orders, lines, None, None, LA)
    path = write_order_export_csv(frame, tmp_path / "orders.csv")
    attributes = attributes_of(orders)
    catalog = lines.select("sku_id", "product_id").unique()
    imported = import_rows(source_rows(path, attributes=attributes, catalog=catalog))
    assert imported.rejected.height == 0
    names = lines.with_columns(pl.col("product_name", "sku_name").str.strip_chars())  # the reader trims cells
    assert imported.order_lines.equals(names.sort("order_id", "sku_id"))
    assert imported.orders.drop("assumed").equals(orders.sort("order_id"))
    assert imported.orders["assumed"].null_count() == orders.height


@st.composite
def with_refunds(draw):
    """`tables()` and refunds of some of their units (each SKU's refunds at most its quantity)."""
    orders, lines = draw(tables())
    refunds = []
    created = dict(zip(orders["order_id"], orders["created_at"], strict=True))
    fee = dict(zip(orders["order_id"], orders["shipping_fee"], strict=True))
    for n, line in enumerate(lines.iter_rows(named=True)):  # test data, a handful of rows
        units = draw(st.integers(0, line["quantity"]))
        if units:
            refunds.append(
                {
                    "refund_id": f"RF-{n}",
                    "order_id": line["order_id"],
                    "sku_id": line["sku_id"],
                    "quantity": units,
                    "refunded_at": created[line["order_id"]] + timedelta(seconds=draw(st.integers(60, 30 * 86_400))),
                    # An order without a shipping fee cannot say its shipping came back.
                    "refund_shipping": draw(st.booleans()) and fee[line["order_id"]] > 0,
                }
            )
    refunds = pl.DataFrame(refunds, schema=file_schema("refunds"))
    # One shipping refund per order at most (the run's own rule).
    refunds = refunds.with_columns(
        pl.col("refund_shipping")
        & (pl.col("refund_id") == pl.col("refund_id").min().over("order_id", "refund_shipping"))
    )
    return orders, lines, refunds


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(with_refunds())
def test_tables_rendered_as_api_pages_import_back_the_same(tmp_path, drawn):
    orders, lines, refunds = drawn
    pages = tmp_path / "pages"
    order_files = write_pages(order_api_pages(orders, lines, None, page_size=2, refunds=refunds), pages, "orders")
    return_files = write_pages(return_api_pages(refunds, orders, page_size=2, order_lines=lines), pages, "returns")
    api, returns = read_order_pages(order_files), read_return_pages(return_files)
    catalog = lines.select("sku_id", "product_id").unique()
    src = SourceRows(
        rows=api.rows.with_columns(pl.lit("SHOP1").alias("shop_id")).select(SOURCE_COLUMNS),
        rejected=api.rejected,
        rejected_orders=api.rejected_orders,
        refunds=returns.refunds.with_columns(pl.lit("SHOP1").alias("shop_id")).select(empty_refunds().columns),
        catalog=catalog,
        attributes=attributes_of(orders),
    )
    imported = import_rows(src)
    assert imported.rejected.height == 0
    assert imported.orders.drop("assumed").equals(orders.sort("order_id"))
    # JSON text is kept as given (no tab padding to strip); a blank name is none.
    blank = pl.col("product_name", "sku_name").str.strip_chars() == ""
    names = lines.with_columns(
        pl.when(blank).then(pl.lit("")).otherwise(pl.col("product_name", "sku_name")).name.keep()
    )
    assert imported.order_lines.equals(names.sort("order_id", "sku_id"))
    facts = ["order_id", "sku_id", "quantity", "refunded_at", "refund_shipping"]
    assert imported.refunds.select(facts).sort(facts).equals(refunds.select(facts).sort(facts))
    # A refund's ID is its return's, with the SKU: `<return_id>:<sku_id>`.
    assert imported.refunds.select(
        (
            pl.col("refund_id") == pl.concat_str(pl.col("refund_id").str.split(":").list.first(), pl.lit(":"), "sku_id")
        ).all()
    ).item()
