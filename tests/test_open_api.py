"""Reading TikTok Shop Open API pages as saved (ingest/open_api.py, transforms/open_api.py).

"Order API 202309 pages: one row per (order, SKU) in the export's row layout plus product_id,
currency and version (update_time); the API's one line item per unit counted into a quantity,
discounts summed; items of a SKU that disagree reject the order (inconsistent_order). Return API
202309 pages: one refund per (completed return, SKU), other returns pending. Money exact in cents
from decimal strings, never a float; IDs text; times Unix seconds in UTC. A bad cell rejects its
order (file, row, column as a JSON path, reason, value); nothing is lost; personal data never
read. A file that is not such a page stops, naming the file."""

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.open_api import read_order_pages, read_return_pages
from schemas.inputs import REASONS
from transforms.open_api import (
    COMPLETED,
    ITEM_FIELDS,
    ORDER_FIELDS,
    ORDER_ROW_SCHEMA,
    PENDING_SCHEMA,
    PERSONAL_FIELDS,
    REFUND_FIELDS,
    REFUND_SCHEMA,
    RETURN_FIELDS,
    RETURN_ITEM_FIELDS,
    ApiPageError,
    kind_column,
    order_rows,
    raw_schema,
)
from transforms.seller_center import REJECTED_SCHEMA, REQUIRED_LABELS, ROW_COLUMNS
from transforms.seller_center import order_rows as export_rows

ABSENT = object()  # a field left out of the JSON

ORDER_ID = "576859029223086481"  # 18 digits: beyond a double's exact 15
SKU_BLUE = "1729767803962038562"
SKU_RED = "1729767803962038999"
PRODUCT_ID = "1729767804772456738"
CREATED = 1771253403  # 2026-02-16T14:50:03Z
UPDATED = 1771300000  # 2026-02-17T03:46:40Z
DELIVERED = 1771290000  # 2026-02-17T01:00:00Z

# Personal data planted in every page: none of it may come out in any frame.
PII = ("Alice Q. Secretname", "+1 555 0100 999", "42 Hidden Lane", "alice.hidden@example.com", "ring twice pls")


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def item(**changes) -> dict:
    """One line item (one unit) as the Order API 202309 gives it, with `changes`."""
    base = {
        "id": "576859029223217553",
        "sku_id": SKU_BLUE,
        "product_id": PRODUCT_ID,
        "product_name": "Mug, large",
        "sku_name": "Blue",
        "seller_sku": "MUG-BLUE",
        "sku_image": "https://example.com/mug.jpeg",
        "sku_type": "NORMAL",
        "original_price": "12.50",
        "sale_price": "11.00",
        "seller_discount": "0.50",
        "platform_discount": "1.00",
        "currency": "USD",
        "display_status": "DELIVERED",
        "is_gift": False,
        "item_tax": [{"tax_amount": "0.90", "tax_rate": "0.0725", "tax_type": "SALES_TAX"}],
        "package_id": "1153891868590053777",
        "package_status": "DELIVERED",
        "tracking_number": "9400111899223",
    }
    return _changed(base, changes)


def order(*items: dict, **changes) -> dict:
    """One order as the Order API 202309 gives it (personal fields filled with `PII`), with
    `changes` by dotted path (`payment__tax` for `payment.tax`); `ABSENT` removes the field."""
    base = {
        "id": ORDER_ID,
        "status": "DELIVERED",
        "order_type": "NORMAL",
        "create_time": CREATED,
        "paid_time": CREATED + 50,
        "update_time": UPDATED,
        "delivery_time": DELIVERED,
        "cancel_time": 0,
        "commerce_platform": "TIKTOK_SHOP",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "is_cod": False,
        "packages": [{"id": "1153891868590053777"}],
        "shipping_provider": "USPS",
        "user_id": "7494-" + PII[0],
        "buyer_email": PII[3],
        "buyer_message": PII[4],
        "recipient_address": {
            "name": PII[0],
            "first_name": "Alice",
            "phone_number": PII[1],
            "address_line1": PII[2],
            "full_address": f"{PII[2]}, Springfield",
            "postal_code": "99999",
            "region_code": "US",
            "district_info": [{"address_level": "L1", "address_name": "Springfield"}],
        },
        "payment": {
            "currency": "USD",
            "sub_total": "22.00",
            "original_total_product_price": "25.00",
            "seller_discount": "1.00",
            "platform_discount": "2.00",
            "original_shipping_fee": "5.99",
            "shipping_fee": "2.99",
            "shipping_fee_seller_discount": "1.00",
            "shipping_fee_platform_discount": "2.00",
            "tax": "1.80",
            "product_tax": "1.80",
            "shipping_fee_tax": "0",
            "total_amount": "26.79",
        },
        "line_items": list(items) if items else [item(id="1"), item(id="2")],
    }
    return _changed(base, {key.replace("__", "."): value for key, value in changes.items()})


def _changed(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = out
        for key in parents:
            node = node[key]
        if value is ABSENT:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return out


def response(key: str, records: list, **data) -> dict:
    return {
        "code": 0,
        "message": "Success",
        "request_id": "202602171234567890ABCDEF",
        "data": {key: records, "next_page_token": "", "total_count": len(records), **data},
    }


def write(path: Path, page: dict | str | bytes) -> Path:
    if isinstance(page, dict):
        page = json.dumps(page, indent=2)
    path.write_bytes(page if isinstance(page, bytes) else page.encode())
    return path


def read_orders(tmp_path: Path, *orders: dict):
    return read_order_pages([write(tmp_path / "orders.json", response("orders", list(orders)))])


def rejected(result) -> list[tuple]:
    return result.rejected.select("row", "column", "reason", "value").rows()


def everything(*frames: pl.DataFrame) -> str:
    """Every cell of the frames, as text."""
    return "\n".join(str(frame.cast(pl.String).rows()) for frame in frames) + str([f.columns for f in frames])


# ---------------------------------------------------------------- orders: the rows


def test_a_realistic_page_reads_into_the_export_row_layout(tmp_path):
    path = write(tmp_path / "page-1.json", response("orders", [order()]))
    [row] = read_order_pages([path]).rows.to_dicts()
    assert row == {
        "file": str(path),
        "row": 1,
        "order_id": ORDER_ID,
        "order_status": "DELIVERED",
        "sku_id": SKU_BLUE,
        "product_name": "Mug, large",
        "sku_name": "Blue",
        "quantity": 2,  # two line items of the SKU: the API lists one per unit
        "unit_price_cents": 1250,
        "sku_platform_discount_cents": 200,  # 1.00 + 1.00
        "sku_seller_discount_cents": 100,  # 0.50 + 0.50
        "shipping_fee_cents": 599,
        "shipping_seller_discount_cents": 100,
        "shipping_platform_discount_cents": 200,
        "taxes_cents": 180,
        "order_refund_amount_cents": 0,
        "returned_quantity": 0,
        "created_at": datetime(2026, 2, 16, 14, 50, 3, tzinfo=UTC),
        "delivered_at": datetime(2026, 2, 17, 1, 0, 0, tzinfo=UTC),
        "cancelled_at": None,  # cancel_time 0: not cancelled
        "product_id": PRODUCT_ID,
        "currency": "USD",
        "version": datetime(2026, 2, 17, 3, 46, 40, tzinfo=UTC),
    }


def test_the_rows_have_the_export_rows_columns_and_types_then_three_more(tmp_path):
    result = read_orders(tmp_path, order(), order(id="x"))
    raw = pl.DataFrame({"row": [2], **{label: ["1"] for label in REQUIRED_LABELS}})
    export = export_rows(raw, "f.csv", "UTC").rows
    assert tuple(result.rows.columns[: len(ROW_COLUMNS)]) == ROW_COLUMNS
    assert dict(result.rows.schema) == {**dict(export.schema), "product_id": pl.String, "currency": pl.String,
                                        "version": pl.Datetime("us", "UTC")}  # fmt: skip
    assert dict(result.rows.schema) == ORDER_ROW_SCHEMA
    assert dict(result.rejected.schema) == REJECTED_SCHEMA


def test_no_pages_give_empty_frames_of_the_declared_shape():
    orders, returns = read_order_pages([]), read_return_pages([])
    assert (orders.rows.height, orders.rejected.height) == (0, 0)
    assert dict(orders.rows.schema) == ORDER_ROW_SCHEMA and dict(orders.rejected.schema) == REJECTED_SCHEMA
    assert dict(returns.refunds.schema) == REFUND_SCHEMA and dict(returns.pending.schema) == PENDING_SCHEMA
    assert dict(returns.rejected.schema) == REJECTED_SCHEMA


def test_unit_items_of_a_sku_make_one_row_in_the_order_of_their_first_item(tmp_path):
    items = [
        item(sku_id=SKU_RED, sku_name="Red", original_price="13.00", seller_discount="0.25", platform_discount="0"),
        item(),
        item(sku_id=SKU_RED, sku_name="Red", original_price="13.00", seller_discount="0.25", platform_discount="0.10"),
        item(seller_discount="0", platform_discount="0.99"),
        item(sku_id=SKU_RED, sku_name="Red", original_price="13.00", seller_discount="0", platform_discount="0"),
    ]
    rows = read_orders(tmp_path, order(*items)).rows
    assert rows.select("sku_id", "quantity", "unit_price_cents", "sku_seller_discount_cents",
                       "sku_platform_discount_cents").rows() == [
        (SKU_RED, 3, 1300, 50, 10),  # first item is Red: its row comes first
        (SKU_BLUE, 2, 1250, 50, 199),
    ]  # fmt: skip
    # Order-level amounts are repeated on every SKU row, as the export does.
    assert rows["shipping_fee_cents"].to_list() == [599, 599] and rows["taxes_cents"].to_list() == [180, 180]


# Mapping truth table: one field of the order as given → the column it fills → the value expected.
MAPPED = """
field                                  | given                  | column                            | expected
status                                 | "UNPAID"               | order_status                      | Unpaid
status                                 | "CANCELLED"            | order_status                      | Cancelled
status                                 | "AWAITING_SHIPMENT"    | order_status                      | AWAITING_SHIPMENT
status                                 | "COMPLETED"            | order_status                      | COMPLETED
id                                     | 123456789012345        | order_id                          | 123456789012345
create_time                            | "1771253403"           | created_at                        | 1771253403
update_time                            | 1771999999             | version                           | 1771999999
delivery_time                          | 0                      | delivered_at                      | null
delivery_time                          | ABSENT                 | delivered_at                      | null
delivery_time                          | null                   | delivered_at                      | null
cancel_time                            | 1771290000             | cancelled_at                      | 1771290000
cancel_time                            | ABSENT                 | cancelled_at                      | null
payment.original_shipping_fee          | "0"                    | shipping_fee_cents                | 0
payment.original_shipping_fee          | 7                      | shipping_fee_cents                | 700
payment.original_shipping_fee          | ABSENT                 | shipping_fee_cents                | 0
payment.shipping_fee_seller_discount   | "0.3"                  | shipping_seller_discount_cents    | 30
payment.shipping_fee_platform_discount | ""                     | shipping_platform_discount_cents  | 0
payment.tax                            | ABSENT                 | taxes_cents                       | 0
payment.tax                            | "1234567.89"           | taxes_cents                       | 123456789
"""


def _table(text: str) -> list[tuple[str, ...]]:
    lines = [line for line in text.strip().splitlines()][1:]
    return [tuple(cell.strip() for cell in line.split("|")) for line in lines]


def _given(text: str):
    return ABSENT if text == "ABSENT" else json.loads(text)


@pytest.mark.parametrize(("field", "given", "column", "expected"), _table(MAPPED))
def test_each_field_maps_to_its_column(tmp_path, field, given, column, expected):
    result = read_orders(tmp_path, order(**{field.replace(".", "__"): _given(given)}))
    assert result.rejected.height == 0, rejected(result)
    value = result.rows[column][0]
    if expected == "null":
        assert value is None
    elif isinstance(value, datetime):
        assert value == at(int(expected))
    else:
        assert str(value) == expected


# Rejection truth table: one cell of the order as given → the column named → the reason.
REJECTED = """
field                                  | given                      | reason        | why
id                                     | ABSENT                     | missing_value | required
id                                     | ""                         | missing_value | empty is none
id                                     | 576859029223086481         | invalid_value | a number of 18 digits may have lost some
id                                     | 576859029223086481123      | invalid_value | beyond 64 bits
id                                     | "5.76859E+17"              | invalid_value | a spreadsheet's number
id                                     | 1.5                        | invalid_value | not a whole number
status                                 | ABSENT                     | missing_value | required
status                                 | 3                          | invalid_value | not text
create_time                            | ABSENT                     | missing_value | required
create_time                            | 0                          | missing_value | the API's none
create_time                            | 1771253403000              | out_of_range  | milliseconds: the year 58000
create_time                            | -1                         | out_of_range  | before 1970
create_time                            | 1771253403.5               | invalid_value | not whole seconds
create_time                            | "2026-02-16"               | invalid_value | not Unix seconds
update_time                            | null                       | missing_value | the version is required
delivery_time                          | "soon"                     | invalid_value | optional, but not any text
cancel_time                            | true                       | invalid_value | not a number
payment.currency                       | ABSENT                     | missing_value | required
payment.currency                       | "usd"                      | invalid_value | not an ISO code
payment.tax                            | "1.805"                    | sub_cent      | finer than a cent
payment.tax                            | "-1.80"                    | out_of_range  | never negative
payment.tax                            | "1,80"                     | invalid_value | a decimal comma
payment.tax                            | "$1.80"                    | invalid_value | not a plain decimal
payment.tax                            | 1.8                        | invalid_value | a float: its digits are a double's
payment.tax                            | 1e2                        | invalid_value | an exponent: a double's
payment.tax                            | {"amount": "1.80"}         | invalid_value | not a number
payment.original_shipping_fee          | "1000000001.00"            | out_of_range  | beyond MAX_AMOUNT_CENTS
payment.shipping_fee_seller_discount   | "NaN"                      | invalid_value | not a number
line_items                             | ABSENT                     | missing_value | an order of nothing
line_items                             | []                         | missing_value | an order of nothing
line_items                             | {"sku_id": "1"}            | invalid_value | not a list
"""


@pytest.mark.parametrize(("field", "given", "reason", "why"), _table(REJECTED))
def test_a_bad_order_cell_rejects_the_order_naming_the_json_path(tmp_path, field, given, reason, why):
    result = read_orders(tmp_path, order(**{field.replace(".", "__"): _given(given)}))
    assert result.rows.height == 0
    [(row, column, got, _value)] = rejected(result)
    assert (row, column, got) == (1, field, reason), why
    assert reason in REASONS


# The same for a cell of a line item (the order's first item, its other items good).
REJECTED_ITEM = """
field              | given                 | reason        | value
sku_id             | ABSENT                | missing_value | null
sku_id             | "MUG-BLUE"            | invalid_value | MUG-BLUE
sku_id             | 1729767803962038562   | invalid_value | 1729767803962038562
product_id         | ""                    | missing_value |
product_name       | 5                     | invalid_value | 5
sku_name           | ["Blue"]              | invalid_value | <array>
original_price     | ABSENT                | missing_value | null
original_price     | ""                    | missing_value |
original_price     | "12.505"              | sub_cent      | 12.505
original_price     | 12.5                  | invalid_value | 12.5
original_price     | "twelve"              | invalid_value | twelve
seller_discount    | "-0.50"               | out_of_range  | -0.50
platform_discount  | {"value": "1"}        | invalid_value | <object>
"""


@pytest.mark.parametrize(("field", "given", "reason", "value"), _table(REJECTED_ITEM))
def test_a_bad_line_item_cell_rejects_the_order(tmp_path, field, given, reason, value):
    result = read_orders(tmp_path, order(item(**{field: _given(given)}), item()))
    assert result.rows.height == 0
    assert rejected(result) == [(1, f"line_items[].{field}", reason, None if value == "null" else value)]


def test_whole_json_numbers_are_read_exactly_as_money_and_short_ids(tmp_path):
    result = read_orders(tmp_path, order(item(original_price=12, seller_discount=0, sku_id=987654321012345)))
    [row] = result.rows.to_dicts()
    assert (row["unit_price_cents"], row["sku_seller_discount_cents"], row["sku_id"]) == (1200, 0, "987654321012345")


def test_the_currency_is_the_payments(tmp_path):
    pounds = order(item(currency="GBP"), item(currency=ABSENT), payment__currency="GBP")
    assert read_orders(tmp_path, pounds).rows["currency"].to_list() == ["GBP"]


def test_empty_or_absent_names_are_null_and_an_absent_discount_is_zero(tmp_path):
    result = read_orders(tmp_path, order(item(product_name=ABSENT, sku_name="", seller_discount=ABSENT)))
    [row] = result.rows.to_dicts()
    assert (row["product_name"], row["sku_name"], row["sku_seller_discount_cents"]) == (None, None, 0)


def test_ids_of_19_digits_are_kept_exactly_as_text(tmp_path):
    big = "7494049642642032949"
    [row] = read_orders(tmp_path, order(item(sku_id=big), id=big)).rows.to_dicts()
    assert (row["order_id"], row["sku_id"]) == (big, big)


@pytest.mark.parametrize(
    ("changes", "column", "value"),
    [
        ({"original_price": "13.00"}, "line_items[].original_price", "13.00"),
        ({"product_id": "1729767804772456000"}, "line_items[].product_id", "1729767804772456000"),
        ({"product_name": "Mug, small"}, "line_items[].product_name", "Mug, small"),
        ({"sku_name": ABSENT}, "line_items[].sku_name", None),
        ({"currency": "CAD"}, "line_items[].currency", "CAD"),
    ],
)
def test_items_of_a_sku_that_disagree_reject_the_order_as_inconsistent(tmp_path, changes, column, value):
    # The second unit of Blue says something else than the first: which one is right is unknown.
    bad = order(item(), item(**changes), item(sku_id=SKU_RED, sku_name="Red"), id="2")
    result = read_orders(tmp_path, order(id="1"), bad, order(id="3"))
    assert rejected(result) == [(2, column, "inconsistent_order", value)]
    assert sorted(set(result.rows["order_id"])) == ["1", "3"]  # the other orders are kept


def test_the_same_price_written_twice_differently_is_no_disagreement(tmp_path):
    result = read_orders(tmp_path, order(item(original_price="12.5"), item(original_price="12.50")))
    assert result.rejected.height == 0 and result.rows["quantity"].to_list() == [2]


def test_an_order_is_rejected_once_with_its_first_failing_cell(tmp_path):
    # Order fields before items, items in their order, each in its field order.
    cases = [
        order(item(original_price="x"), create_time="x", id="1"),
        order(item(), item(sku_id="x"), item(original_price="x", product_id="x"), id="2"),
        order(item(original_price="x"), item(original_price="13.00"), id="3"),
    ]
    assert rejected(read_orders(tmp_path, *cases)) == [
        (1, "create_time", "invalid_value", "x"),
        (2, "line_items[].sku_id", "invalid_value", "x"),
        (3, "line_items[].original_price", "invalid_value", "x"),  # a bad cell before a disagreement
    ]


def test_an_order_that_is_not_an_object_is_rejected_not_lost(tmp_path):
    result = read_order_pages([write(tmp_path / "p.json", response("orders", [order(), 5, "x", None]))])
    assert result.rows["row"].to_list() == [1]
    assert rejected(result) == [(2, "id", "missing_value", None), (3, "id", "missing_value", None),
                                (4, "id", "missing_value", None)]  # fmt: skip


def test_rows_are_numbered_by_position_in_each_file_and_carry_the_file(tmp_path):
    first = write(tmp_path / "a.json", response("orders", [order(id="1"), order(id="2", create_time="x")]))
    second = write(tmp_path / "b.json", response("orders", [order(id="3")]))
    result = read_order_pages([first, second])
    assert result.rows.select("file", "row", "order_id").unique(maintain_order=True).rows() == [
        (str(first), 1, "1"),
        (str(second), 1, "3"),
    ]
    assert result.rejected.select("file", "row").rows() == [(str(first), 2)]


def test_the_same_file_given_twice_is_read_twice_without_mixing_its_orders(tmp_path):
    two_blue_one_red = order(item(), item(), item(sku_id=SKU_RED, sku_name="Red"))
    path = write(tmp_path / "a.json", response("orders", [two_blue_one_red]))
    result = read_order_pages([path, path])
    assert result.rows["quantity"].to_list() == [2, 1, 2, 1]  # each copy's SKUs counted apart


def test_an_empty_search_page_has_no_orders(tmp_path):
    empty = {"code": 0, "message": "Success", "data": {"next_page_token": "", "total_count": 0}}
    result = read_order_pages([write(tmp_path / "p.json", empty)])
    assert (result.rows.height, result.rejected.height) == (0, 0)


def test_a_page_with_a_byte_order_mark_is_read(tmp_path):
    path = write(tmp_path / "p.json", b"\xef\xbb\xbf" + json.dumps(response("orders", [order()])).encode())
    assert read_order_pages([path]).rows.height == 1


# ---------------------------------------------------------------- personal data


def test_no_personal_field_is_read():
    read = ORDER_FIELDS + ITEM_FIELDS + RETURN_FIELDS + REFUND_FIELDS + RETURN_ITEM_FIELDS
    assert not {path.split(".")[0] for path, _, _ in read} & set(PERSONAL_FIELDS)
    assert {"recipient_address", "buyer_email", "buyer_message", "user_id"} <= set(PERSONAL_FIELDS)


def test_personal_data_is_in_no_frame_of_orders_or_returns(tmp_path):
    # Good orders, an order rejected on a cell beside the personal ones, and one inconsistent.
    orders = [order(id="1"), order(id="2", payment__tax="x"), order(item(), item(sku_name="Red"), id="3")]
    result = read_orders(tmp_path, *orders)
    assert result.rows.height > 0 and result.rejected.height == 2
    returns = [_return(return_id="1"), _return(return_id="2", order_id="x"), _return(return_id="3", return_status="X")]
    returned = read_return_pages([write(tmp_path / "r.json", response("return_orders", returns))])
    text = everything(result.rows, result.rejected, returned.refunds, returned.pending, returned.rejected)
    for marker in (*PII, "Alice", "Hidden", "example.com", "99999", "Springfield"):
        assert marker not in text


# ---------------------------------------------------------------- nothing lost


_CORRUPTIONS = [
    {},
    {},
    {"create_time": 0},
    {"payment__tax": 1.5},
    {"id": 576859029223086481},
    {"line_items": []},
    {"payment__currency": ABSENT},
]
_ITEM_CORRUPTIONS = [{}, {}, {}, {"original_price": "1.001"}, {"sku_id": ABSENT}, {"sku_name": "Other"}]


@st.composite
def _orders(draw):
    """Orders of 1–4 SKUs of 1–3 units each, some with a corrupted order or item cell."""
    out = []
    for number in range(draw(st.integers(0, 8))):
        items = []
        for sku in range(draw(st.integers(1, 4))):
            cents = draw(st.integers(0, 10**6))
            for _ in range(draw(st.integers(1, 3))):
                items.append(item(sku_id=str(sku + 1), original_price=f"{cents // 100}.{cents % 100:02d}"))
        items = draw(st.permutations(items))
        position = draw(st.integers(0, len(items) - 1))
        items[position] = _changed(items[position], draw(st.sampled_from(_ITEM_CORRUPTIONS)))
        corruption = {key.replace("__", "."): value for key, value in draw(st.sampled_from(_CORRUPTIONS)).items()}
        out.append(_changed(order(*items, id=str(number + 1)), corruption))
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pages=st.lists(_orders(), min_size=1, max_size=3))
def test_every_order_is_in_rows_or_rejected_once_and_units_are_counted(tmp_path, pages):
    paths = [write(tmp_path / f"page-{i}.json", response("orders", orders)) for i, orders in enumerate(pages)]
    result = read_order_pages(paths)
    given = {(str(path), row) for path, orders in zip(paths, pages, strict=True) for row in range(1, len(orders) + 1)}
    kept = set(result.rows.select("file", "row").unique().rows())
    refused = result.rejected.select("file", "row").rows()
    assert len(refused) == len(set(refused))  # one rejected row per rejected order
    assert kept.isdisjoint(refused) and kept | set(refused) == given
    # Every unit of a kept order is counted once, at its price.
    for path, orders in zip(paths, pages, strict=True):
        for row, data in enumerate(orders, start=1):
            if (str(path), row) in kept:
                mine = result.rows.filter((pl.col("file") == str(path)) & (pl.col("row") == row))
                assert mine["quantity"].sum() == len(data["line_items"])
                prices = sorted(round(float(i["original_price"]) * 100) for i in data["line_items"])
                assert sorted(mine.select(pl.col("unit_price_cents").repeat_by("quantity").explode())
                              .to_series().to_list()) == prices  # fmt: skip


# ---------------------------------------------------------------- returns


def _return_item(**changes) -> dict:
    base = {
        "return_line_item_id": "4035319417564401234",
        "order_line_item_id": "576859029223217553",
        "sku_id": SKU_BLUE,
        "sku_name": "Blue",
        "product_name": "Mug, large",
        "seller_sku": "MUG-BLUE",
        "product_image": {"url": "https://example.com/mug.jpeg", "width": 100, "height": 100},
        "refund_amount": {"currency": "USD", "refund_total": "12.80", "refund_subtotal": "11.00",
                          "refund_shipping_fee": "0", "refund_tax": "0.80"},
    }  # fmt: skip
    return _changed(base, changes)


def _return(*items: dict, **changes) -> dict:
    """One return as Search Returns 202309 gives it, with `changes` (`refund_amount__x` for a
    nested field)."""
    base = {
        "return_id": "4035319417564400001",
        "order_id": ORDER_ID,
        "return_type": "RETURN_AND_REFUND",
        "return_status": COMPLETED,
        "return_reason": "ecom_order_delivered_refund_and_return_reason_damaged",
        "return_reason_text": "Damaged",
        "role": "BUYER",
        "arbitration_status": "CLOSED",
        "create_time": UPDATED,
        "update_time": UPDATED + 3600,
        "return_tracking_number": "9400111899223",
        "return_warehouse_address": {"full_address": PII[2]},
        "refund_amount": {"currency": "USD", "refund_total": "25.60", "refund_subtotal": "22.00",
                          "refund_shipping_fee": "2.99", "refund_tax": "1.60"},
        "discount_amount": [{"currency": "USD", "product_seller_discount": "1.00"}],
        "return_line_items": list(items) if items else [_return_item(), _return_item()],
    }  # fmt: skip
    return _changed(base, {key.replace("__", "."): value for key, value in changes.items()})


def read_returns(tmp_path: Path, *returns: dict):
    return read_return_pages([write(tmp_path / "returns.json", response("return_orders", list(returns)))])


def test_a_completed_return_is_one_refund_per_sku_of_as_many_units(tmp_path):
    items = [_return_item(sku_id=SKU_RED), _return_item(), _return_item(sku_id=SKU_RED)]
    result = read_returns(tmp_path, _return(*items))
    assert result.refunds.to_dicts() == [
        {
            "refund_id": f"4035319417564400001:{SKU_BLUE}",
            "order_id": ORDER_ID,
            "sku_id": SKU_BLUE,
            "quantity": 1,
            "refunded_at": at(UPDATED + 3600),
            "refund_shipping": True,  # the first SKU in sku_id order carries the shipping refund
            "file": str(tmp_path / "returns.json"),
            "row": 1,
        },
        {
            "refund_id": f"4035319417564400001:{SKU_RED}",
            "order_id": ORDER_ID,
            "sku_id": SKU_RED,
            "quantity": 2,
            "refunded_at": at(UPDATED + 3600),
            "refund_shipping": False,
            "file": str(tmp_path / "returns.json"),
            "row": 1,
        },
    ]
    assert dict(result.refunds.schema) == REFUND_SCHEMA
    assert (result.pending.height, result.rejected.height) == (0, 0)


@pytest.mark.parametrize(("fee", "flag"), [("2.99", True), ("0", False), ("0.00", False), (ABSENT, False)])
def test_shipping_is_refunded_when_the_returns_refund_shipping_fee_is_above_zero(tmp_path, fee, flag):
    result = read_returns(tmp_path, _return(refund_amount__refund_shipping_fee=fee))
    assert result.refunds["refund_shipping"].to_list() == [flag]


def test_returns_not_completed_are_pending_not_refunds_nor_rejected(tmp_path):
    returns = [
        _return(return_id="1"),
        _return(return_id="2", return_status="AWAITING_BUYER_SHIP"),
        # Not a refund yet: its refund fields are not read, so their state does not matter.
        _return(return_id="3", return_status="RETURN_OR_REFUND_REQUEST_PENDING", update_time=ABSENT,
                return_line_items=[]),
    ]  # fmt: skip
    result = read_returns(tmp_path, *returns)
    assert result.refunds["refund_id"].to_list() == [f"1:{SKU_BLUE}"]
    assert result.pending.rows() == [
        (str(tmp_path / "returns.json"), 2, "2", ORDER_ID, "AWAITING_BUYER_SHIP"),
        (str(tmp_path / "returns.json"), 3, "3", ORDER_ID, "RETURN_OR_REFUND_REQUEST_PENDING"),
    ]
    assert result.rejected.height == 0


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"return_id": ABSENT}, "return_id", "missing_value"),
        ({"order_id": 576859029223086481}, "order_id", "invalid_value"),
        ({"return_status": ABSENT}, "return_status", "missing_value"),
        ({"update_time": ABSENT}, "update_time", "missing_value"),
        ({"update_time": 1771300000.5}, "update_time", "invalid_value"),
        ({"refund_amount__refund_shipping_fee": "2.999"}, "refund_amount.refund_shipping_fee", "sub_cent"),
        ({"refund_amount__refund_shipping_fee": 2.99}, "refund_amount.refund_shipping_fee", "invalid_value"),
        ({"return_line_items": []}, "return_line_items", "missing_value"),
        ({"return_line_items": [_return_item(sku_id=ABSENT)]}, "return_line_items[].sku_id", "missing_value"),
        ({"return_line_items": [_return_item(), _return_item(sku_id="x")]}, "return_line_items[].sku_id",
         "invalid_value"),
    ],
)  # fmt: skip
def test_a_bad_cell_rejects_a_completed_return(tmp_path, changes, column, reason):
    bad = _changed(_return(return_id="2"), {key.replace("__", "."): value for key, value in changes.items()})
    result = read_returns(tmp_path, _return(return_id="1"), bad)
    assert result.refunds["refund_id"].to_list() == [f"1:{SKU_BLUE}"]
    assert result.rejected.select("row", "column", "reason").rows() == [(2, column, reason)]


def test_every_return_is_a_refund_pending_or_rejected_once(tmp_path):
    returns = [
        _return(return_id="1"),
        _return(return_id="2", return_status="RETURN_OR_REFUND_REQUEST_CANCEL"),
        _return(return_id="3", update_time=0),
        _return(_return_item(), _return_item(sku_id=SKU_RED), return_id="4"),
        7,
    ]
    result = read_returns(tmp_path, *returns)
    kept = set(result.refunds["row"]), set(result.pending["row"]), set(result.rejected["row"])
    assert kept == ({1, 4}, {2}, {3, 5})
    assert result.rejected.height == 2


# ---------------------------------------------------------------- pages that cannot be read


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\xff\xfe{\x00}\x00", "is not UTF-8"),
        (b'{"code": 0, "data": {"orders": [', "is not JSON"),
        (b"<html>502 Bad Gateway</html>", "is not JSON"),
        (b"[]", "is not a JSON object"),
        (b'{"data": {"orders": []}}', "has no 'code'"),
        (b'{"code": "0", "data": {"orders": []}}', "'code' that is not a whole number"),
        (
            b'{"code": 36009004, "message": "Alice Q. Secretname invalid", "data": null}',
            "error response (code 36009004)",
        ),
        (b'{"code": 0, "message": "Success"}', "has no 'data' object"),
        (b'{"code": 0, "data": {"total_count": 3}}', "has no 'data.orders' list"),
        (b'{"code": 0, "data": {"return_orders": []}}', "has no 'data.orders' list"),
    ],
)
def test_a_file_that_is_not_an_order_page_stops_naming_the_file_not_its_contents(tmp_path, content, message):
    good = write(tmp_path / "good.json", response("orders", [order()]))
    bad = write(tmp_path / "bad.json", content)
    with pytest.raises(ApiPageError, match=re.escape(message)) as error:
        read_order_pages([good, bad])
    assert str(error.value).startswith(f"{bad}: ") and error.value.file == str(bad)
    assert "Secretname" not in str(error.value)
    assert isinstance(error.value, ValueError)


def test_an_order_page_given_as_returns_stops_naming_the_file(tmp_path):
    path = write(tmp_path / "orders.json", response("orders", [order()]))
    with pytest.raises(ApiPageError, match=r"orders\.json: has no 'data\.return_orders' list"):
        read_return_pages([path])


def test_a_file_that_does_not_exist_stops_naming_it(tmp_path):
    with pytest.raises(ApiPageError, match=r"missing\.json: cannot be read"):
        read_order_pages([tmp_path / "missing.json"])


def test_the_first_file_that_cannot_be_read_in_the_order_given_is_named(tmp_path):
    good = write(tmp_path / "a.json", response("orders", [order()]))
    not_json = write(tmp_path / "b.json", "{")
    not_text = write(tmp_path / "c.json", b"\xff\xfe")
    with pytest.raises(ApiPageError, match=r"b\.json: is not JSON"):
        read_order_pages([good, not_json, not_text])
    with pytest.raises(ApiPageError, match=r"c\.json: is not UTF-8"):
        read_order_pages([good, not_text, not_json])


# ---------------------------------------------------------------- the transform alone


def test_the_transform_reads_raw_cells_without_any_file():
    # The reader's hand-over: each field's text and JSON kind; here one order of one unit.
    order_cells = {"id": ("1", "string"), "status": ("AWAITING_SHIPMENT", "string"),
                   "create_time": ("1771253403", "integer"), "update_time": ("1771300000", "integer"),
                   "payment.currency": ("USD", "string"), "payment.original_shipping_fee": ("5.99", "string"),
                   "line_items": (1, "array")}  # fmt: skip
    item_cells = {"sku_id": ("2", "string"), "product_id": ("3", "string"), "original_price": ("9.99", "string")}

    def raw(fields, cells, **keys):
        schema = raw_schema(fields, items="item" in keys)
        row = {"page": 0, "file": "p.json", "row": 1, **keys}
        for path, (text, kind) in cells.items():
            row[path], row[kind_column(path)] = text, kind
        return pl.DataFrame([row], schema=schema)

    result = order_rows(raw(ORDER_FIELDS, order_cells), raw(ITEM_FIELDS, item_cells, item=1))
    assert result.rows.select("order_id", "sku_id", "quantity", "unit_price_cents", "shipping_fee_cents",
                              "taxes_cents", "delivered_at").rows() == [("1", "2", 1, 999, 599, 0, None)]  # fmt: skip
    assert result.rejected.height == 0
