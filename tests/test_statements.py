"""Statements (transforms/statements.py) against docs/statements.md, with §1 (rounding, allocation) and
§3 "Refunds" where the statement rows take their amounts from.

An order settles at `delivered_at + hold_days` (settled when that instant is at or before
`as_of`); its statement date is the UTC date of that instant. Refunds at or before settlement
fold into the order's SKU rows; later ones are one row per `refund_id` on their own UTC date.
Every expected cent below is derived by hand in the comment next to it: 8 % referral fee for
orders created from 2024-07-01 (6 % before), refund administration fee 20 % of the returned
referral fee capped at $5.00 for refunds from 2025-05-15, all rounding half up.
"""

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.layout import FEES_PARTS, NET_SALES_PARTS, ORDER_DETAILS_MONEY, SHIPPING_PARTS, cents_name
from tests.conftest import inputs, run
from transforms.pipeline import Results, compute

C = cents_name
AS_OF = datetime(2025, 6, 20, tzinfo=UTC)


# ---------------------------------------------------------------- helpers


def rows_of(result: Results, order_id: str) -> dict[tuple[str, str | None], dict]:
    """Order details rows of one order keyed by (sku_id, refund_id); refund_id is None on order rows."""
    frame = result.statements.order_details.filter(pl.col("order_id") == order_id)
    keyed = {(r["sku_id"], r["refund_id"]): r for r in frame.iter_rows(named=True)}
    assert len(keyed) == frame.height, f"duplicate rows for {order_id}"
    return keyed


def nonzero(row: dict) -> dict[str, int]:
    """The row's money columns that are not 0, by label (cents): the expected dicts list only these."""
    return {label: row[C(label)] for label in ORDER_DETAILS_MONEY if row[C(label)] != 0}


def statement_dates(result: Results, order_id: str) -> dict[tuple[str, str | None], str]:
    return {key: row["statement_date"].isoformat() for key, row in rows_of(result, order_id).items()}


def unsettled(result: Results) -> dict[str, tuple]:
    """Per unsettled order: status, expected statement date, expected total, net sales, shipping, fees (cents)."""
    return {
        r["order_id"]: (
            r["status"],
            None if r["expected_statement_date"] is None else r["expected_statement_date"].isoformat(),
            r["expected_total_settlement_amount_cents"],
            r["expected_net_sales_cents"],
            r["expected_shipping_cents"],
            r["expected_fees_cents"],
        )
        for r in result.statements.unsettled_orders.iter_rows(named=True)
    }


def statement_totals(result: Results) -> dict[tuple[str, str], tuple[int, ...]]:
    """Per (shop, statement date): total, net sales, shipping, fees, adjustments, reserve, payable (cents)."""
    labels = (
        "Total settlement amount",
        "Net sales",
        "Shipping",
        "Fees",
        "Adjustments",
        "Reserve amount",
        "Payable amount",
    )
    return {
        (r["shop_id"], r["statement_date"].isoformat()): tuple(r[C(label)] for label in labels)
        for r in result.statements.statements.iter_rows(named=True)
    }


def assert_nothing_rejected(result: Results) -> None:
    assert result.staged.rejected_rows.height == 0, result.staged.rejected_rows.to_dicts()


# ---------------------------------------------------------------- settlement timing


def test_settlement_timing_truth_table():
    # as_of = 2025-06-20T00:00Z, hold 8 days. Every order is one unit of $10.00 (8 % referral,
    # created 2025-06-01) unless said otherwise, so settled it is net 1000, referral
    # -round(0.08 * 1000) = -80, total 920.
    #   edge              delivered 06-12T00:00       → settles 06-20T00:00 = as_of: settled (at or before).
    #   late_by_1us       delivered 06-12T00:00.000001 → settles 1 µs after as_of: in_hold, date 06-20.
    #   undelivered       no delivery                 → awaiting_delivery, no date.
    #   future_delivery   delivered 1 µs after as_of  → not yet happened: awaiting_delivery.
    #   closed            2 SKUs, every unit refunded, never delivered → closed, zero money.
    #   closed_delivered  its one unit refunded 06-03, delivered 06-05: refunded before delivery → closed.
    #   partly            2 units, 1 refunded before delivery: not closed; settles 06-11.
    #   at_delivery       its one unit refunded at the delivery instant: not *before* delivery, so not
    #                     closed; settles 06-10 with net 0 and (refund on/after delivery) an admin fee
    #                     -round(0.2 * round(0.08 * 1000)) = -16: total -16.
    #   hold              2 units, delivered 06-15 → settles 06-23: in_hold; 1 unit refunded 06-18.
    #   awaiting          shipping fee 2.00, label 1.50, undelivered.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id         | delivered_at                | shipping_fee | actual_shipping_fee |
        | edge             | 2025-06-12T00:00:00Z        | 0            | 0                   |
        | late_by_1us      | 2025-06-12T00:00:00.000001Z | 0            | 0                   |
        | undelivered      |                             | 0            | 0                   |
        | future_delivery  | 2025-06-20T00:00:00.000001Z | 0            | 0                   |
        | closed           |                             | 0            | 0                   |
        | closed_delivered | 2025-06-05T00:00:00Z        | 0            | 0                   |
        | partly           | 2025-06-03T00:00:00Z        | 0            | 0                   |
        | at_delivery      | 2025-06-02T00:00:00Z        | 0            | 0                   |
        | hold             | 2025-06-15T00:00:00Z        | 0            | 0                   |
        | awaiting         |                             | 2.00         | 1.50                |
        """,
        order_lines="""
        | order_id         | sku_id | product_id | unit_price | quantity |
        | edge             | A      | P1         | 10.00      | 1        |
        | late_by_1us      | A      | P1         | 10.00      | 1        |
        | undelivered      | A      | P1         | 10.00      | 1        |
        | future_delivery  | A      | P1         | 10.00      | 1        |
        | closed           | A      | P1         | 10.00      | 1        |
        | closed           | B      | P2         | 5.00       | 2        |
        | closed_delivered | A      | P1         | 10.00      | 1        |
        | partly           | A      | P1         | 10.00      | 2        |
        | at_delivery      | A      | P1         | 10.00      | 1        |
        | hold             | A      | P1         | 10.00      | 2        |
        | awaiting         | A      | P1         | 10.00      | 1        |
        """,
        refunds="""
        | refund_id | order_id         | sku_id | quantity | refunded_at          |
        | C1        | closed           | A      | 1        | 2025-06-02T00:00:00Z |
        | C2        | closed           | B      | 2        | 2025-06-03T00:00:00Z |
        | CD        | closed_delivered | A      | 1        | 2025-06-03T00:00:00Z |
        | P1        | partly           | A      | 1        | 2025-06-02T00:00:00Z |
        | AD        | at_delivery      | A      | 1        | 2025-06-02T00:00:00Z |
        | H1        | hold             | A      | 1        | 2025-06-18T00:00:00Z |
        """,
    )
    assert_nothing_rejected(result)
    # Only the settled orders have Order details rows, each on its settlement date.
    assert sorted(result.statements.order_details["order_id"].unique().to_list()) == ["at_delivery", "edge", "partly"]
    assert statement_dates(result, "edge") == {("A", None): "2025-06-20"}
    assert statement_dates(result, "partly") == {("A", None): "2025-06-11"}
    assert nonzero(rows_of(result, "edge")[("A", None)]) == {
        "Total settlement amount": 920,
        "Net sales": 1000,
        "Gross sales": 1000,
        "Fees": -80,
        "Referral fee": -80,
        "Customer payment": 1000,
    }
    # partly: 2 x 1000 gross, 1 unit (1000) refunded before delivery → net 1000, referral -80,
    # no admin fee (the refund precedes delivery); Quantity stays the ordered 2 units.
    partly = rows_of(result, "partly")[("A", None)]
    assert partly["quantity"] == 2
    assert nonzero(partly) == {
        "Total settlement amount": 920,
        "Net sales": 1000,
        "Gross sales": 2000,
        "Gross sales refund": -1000,
        "Fees": -80,
        "Referral fee": -80,
        "Customer payment": 2000,
        "Customer refund": -1000,
    }
    assert nonzero(rows_of(result, "at_delivery")[("A", None)]) == {
        "Total settlement amount": -16,
        "Gross sales": 1000,
        "Gross sales refund": -1000,
        "Fees": -16,
        "Refund administration fee": -16,
        "Customer payment": 1000,
        "Customer refund": -1000,
    }
    assert unsettled(result) == {
        # (status, expected date, expected total, net sales, shipping, fees)
        "late_by_1us": ("in_hold", "2025-06-20", 920, 1000, 0, -80),
        "undelivered": ("awaiting_delivery", None, 920, 1000, 0, -80),
        "future_delivery": ("awaiting_delivery", None, 920, 1000, 0, -80),
        "closed": ("closed", None, 0, 0, 0, 0),
        "closed_delivered": ("closed", None, 0, 0, 0, 0),
        # hold, as if settled now with its refund folded: net 2000 - 1000 = 1000; referral -80;
        # the refund (06-18) is after delivery (06-15) and after 2025-05-15: admin
        # -min(round(0.2 * round(0.08 * 1000)), 500) = -round(0.2 * 80) = -16. Fees -96, total 904.
        "hold": ("in_hold", "2025-06-23", 904, 1000, 0, -96),
        # awaiting: net 1000; shipping = -150 label + 200 customer-paid = 50; referral
        # -round(0.08 * (1000 + 200)) = -96; total 1000 + 50 - 96 = 954.
        "awaiting": ("awaiting_delivery", None, 954, 1000, 50, -96),
    }


@pytest.mark.parametrize(
    ("hold_days", "expected"),
    [
        # Delivered 2025-06-12T06:00Z; refund of 1 of 2 units at 2025-06-14T00:00Z; as_of 06-20T00:00Z.
        # hold 0: settles 06-12T06:00 → statement 06-12; the refund is later → its own row on 06-14.
        (0, {"rows": {("A", None): "2025-06-12", ("A", "R1"): "2025-06-14"}, "unsettled": {}}),
        # hold 3: settles 06-15T06:00 → the refund (06-14) is before settlement and folds.
        (3, {"rows": {("A", None): "2025-06-15"}, "unsettled": {}}),
        # hold 8 (the default): settles 06-20T06:00, 6 h after as_of → in_hold, expected 06-20.
        (8, {"rows": {}, "unsettled": {"O": ("in_hold", "2025-06-20")}}),
        # hold 12: settles 06-24T06:00 → in_hold, expected 06-24.
        (12, {"rows": {}, "unsettled": {"O": ("in_hold", "2025-06-24")}}),
    ],
)
def test_hold_days_parameter_moves_settlement(hold_days, expected):
    raw = inputs(
        orders="""
        | order_id | delivered_at         |
        | O        | 2025-06-12T06:00:00Z |
        """,
        order_lines="""
        | order_id | sku_id | product_id | unit_price | quantity |
        | O        | A      | P1         | 10.00      | 2        |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          |
        | R1        | O        | A      | 1        | 2025-06-14T00:00:00Z |
        """,
    )
    result = compute(raw, AS_OF, hold_days=hold_days)
    assert result.params.hold_days == hold_days
    assert statement_dates(result, "O") == expected["rows"]
    assert {k: v[:2] for k, v in unsettled(result).items()} == expected["unsettled"]


def test_default_hold_is_eight_days():
    # Delivered 2025-06-01T00:00Z with no hold given: settles 06-09T00:00Z → statement 2025-06-09.
    result = run(
        as_of=AS_OF,
        orders="| order_id | delivered_at |\n| O | 2025-06-01T12:00:00Z |",
        order_lines="| order_id | sku_id | product_id | unit_price |\n| O | A | P1 | 10.00 |",
    )
    assert result.params.hold_days == 8
    assert statement_dates(result, "O") == {("A", None): "2025-06-09"}


# ---------------------------------------------------------------- dates, IDs, layout text


def test_statement_date_is_the_utc_date_and_the_layout_text_columns():
    # tz:     delivered 2025-06-02T20:00-05:00 = 06-03T01:00Z → settles 06-11T01:00Z → 2025-06-11
    #         (the local date would say 06-10). Its refund at 2025-06-14T21:00-05:00 = 06-15T02:00Z
    #         is after settlement → own row on 2025-06-15.
    # night:  delivered 2025-06-02T23:59:59Z → settles 06-10T23:59:59Z → 2025-06-10.
    # shop S2: delivered 06-02T00:00Z → settles 06-10 → statement S2-20250610.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id | shop_id | delivered_at              |
        | tz       | S1      | 2025-06-02T20:00:00-05:00 |
        | night    | S1      | 2025-06-02T23:59:59Z      |
        | other    | S2      | 2025-06-02T00:00:00Z      |
        """,
        order_lines="""
        | order_id | sku_id | product_id | product_name | sku_name | unit_price | quantity |
        | tz       | A      | P1         | Mug          | Blue     | 10.00      | 2        |
        | night    | A      | P1         | Mug          | Blue     | 10.00      | 1        |
        | other    | A      | P1         | Cup          | Red      | 10.00      | 1        |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at               |
        | R1        | tz       | A      | 1        | 2025-06-14T21:00:00-05:00 |
        """,
    )
    assert_nothing_rejected(result)
    published = result.published()["order_details"]
    text = (
        "shop_id",
        "statement_date_utc",
        "statement_id",
        "payment_id",
        "status",
        "currency",
        "type",
        "order_adjustment_id",
        "sku_id",
        "quantity",
        "product_name",
        "sku_name",
        "order_created_date",
        "order_delivery_date",
    )
    got = sorted(published.select(*text).rows())
    assert got == sorted(
        [
            (
                "S1",
                "2025-06-11",
                "S1-20250611",
                "",
                "Computed",
                "USD",
                "Order",
                "tz",
                "A",
                2,
                "Mug",
                "Blue",
                "2025-06-01",
                "2025-06-03",
            ),
            # The refund row: Type is Order too (computed rows all are), Quantity = refunded units.
            (
                "S1",
                "2025-06-15",
                "S1-20250615",
                "",
                "Computed",
                "USD",
                "Order",
                "tz",
                "A",
                1,
                "Mug",
                "Blue",
                "2025-06-01",
                "2025-06-03",
            ),
            (
                "S1",
                "2025-06-10",
                "S1-20250610",
                "",
                "Computed",
                "USD",
                "Order",
                "night",
                "A",
                1,
                "Mug",
                "Blue",
                "2025-06-01",
                "2025-06-02",
            ),
            (
                "S2",
                "2025-06-10",
                "S2-20250610",
                "",
                "Computed",
                "USD",
                "Order",
                "other",
                "A",
                1,
                "Cup",
                "Red",
                "2025-06-01",
                "2025-06-02",
            ),
        ]
    )
    # Money is Decimal(18,2) at the edge: tz's order row is net 2000, referral -160, total 1840.
    tz_row = published.filter((pl.col("order_adjustment_id") == "tz") & pl.col("refund_id").is_null())
    assert published.schema["total_settlement_amount"] == pl.Decimal(18, 2)
    assert tz_row["total_settlement_amount"].to_list() == [Decimal("18.40")]
    statements = result.published()["statements"]
    assert sorted(
        statements.select("shop_id", "statement_date_utc", "statement_id", "payment_id", "status").rows()
    ) == [
        ("S1", "2025-06-10", "S1-20250610", "", "Computed"),
        ("S1", "2025-06-11", "S1-20250611", "", "Computed"),
        ("S1", "2025-06-15", "S1-20250615", "", "Computed"),
        ("S2", "2025-06-10", "S2-20250610", "", "Computed"),
    ]


# ---------------------------------------------------------------- one order, every column


def test_order_details_of_an_order_with_every_discount_step():
    # Created 2025-06-01 (8 %), delivered 06-02 → statement 2025-06-10.
    # Lines: A 2 x $20.00 = 4000 (product PA), B 1 x $10.00 = 1000 (product PB).
    # 1  PD product_discount $2.00 off PA:  A unit 2000 → 1800; seller A 2 x 200 = 400.
    # 2  PI product_incentive $1.00 off PB: B unit 1000 → 900;  platform B 100.
    # 3a SB seller_bmsm 10 %, base 3600 + 900 = 4500 → 450, by running amount: A 360, B 90.
    # 3b PB platform_bmsm $3.00, base 3240 + 810 = 4050 → 300: A 300*3240/4050 = 240, B 60.
    # 4a SC seller coupon $5.00, base 3000 + 750 = 3750 → 500: A 400, B 100.
    # 4b PC product coupon $2.00, base 2600 + 650 = 3250 → 200: A 160, B 40.
    # Running: A 2440, B 610. Seller discount A 400+360+400 = 1160, B 90+100 = 190;
    # platform discounts A 240+160 = 400, B 100+60+40 = 200.
    # 5  Shipping fee 700: platform $2.00 first → 200, then seller $1.50 → 150; customer pays 350.
    # Order-level amounts allocated by gross sales 4000 : 1000 (largest remainder):
    #   label 601: A floor(480.8) = 480, B floor(120.2) = 120, left-over 1 → A (rem .8): A 481, B 120.
    #   customer shipping 350: A 280, B 70;  platform shipping 200: A 160, B 40;
    #   seller shipping 150: A 120, B 30;    sales tax 301: A 240 + 1 = 241, B 60.
    # Net sales: A 4000 - 1160 = 2840; B 1000 - 190 = 810.
    # Shipping: A -481 + 280 + 160 = -41; B -120 + 70 + 40 = -10.
    # Referral: A -round(0.08 * (2840 + 280)) = -round(249.6) = -250; B -round(0.08 * 880) = -round(70.4) = -70.
    # Affiliate 5 % of the product amount after all discounts: A -round(122.0) = -122; B -round(30.5) = -31.
    # Fees: A -372, B -101. Total: A 2840 - 41 - 372 = 2427; B 810 - 10 - 101 = 699.
    # Customer payment: A 2440 + 280 + 241 = 2961; B 610 + 70 + 60 = 740.
    # Customer-paid shipping before discounts: A 280 + 120 + 160 = 560; B 70 + 30 + 40 = 140.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id | delivered_at         | shipping_fee | actual_shipping_fee | sales_tax | seller_coupon_id | platform_coupon_id | affiliate_commission_rate |
        | rich     | 2025-06-02T00:00:00Z | 7.00         | 6.01                | 3.01      | SC               | PC                 | 0.05                      |
        """,
        order_lines="""
        | order_id | sku_id | product_id | unit_price | quantity |
        | rich     | A      | PA         | 20.00      | 2        |
        | rich     | B      | PB         | 10.00      | 1        |
        """,
        promotions="""
        | promotion_id | promotion_type             | shop_id | discount_kind | discount_value | min_quantity |
        | PD           | product_discount           | S1      | amount_off    | 2.00           |              |
        | PI           | product_incentive          | S1      | amount_off    | 1.00           |              |
        | SB           | seller_bmsm                | S1      | percent_off   | 10             | 1            |
        | PB           | platform_bmsm              | S1      | amount_off    | 3.00           | 1            |
        | SC           | seller_coupon              | S1      | amount_off    | 5.00           |              |
        | PC           | product_coupon             | S1      | amount_off    | 2.00           |              |
        | PS           | platform_shipping_discount | S1      | amount_off    | 2.00           |              |
        | SS           | seller_shipping_discount   | S1      | amount_off    | 1.50           |              |
        """,
        promotion_products="""
        | promotion_id | product_id |
        | PD           | PA         |
        | PI           | PB         |
        """,
    )
    assert_nothing_rejected(result)
    rows = rows_of(result, "rich")
    assert set(rows) == {("A", None), ("B", None)}
    assert nonzero(rows[("A", None)]) == {
        "Total settlement amount": 2427,
        "Net sales": 2840,
        "Gross sales": 4000,
        "Seller discount": -1160,
        "Shipping": -41,
        "TikTok Shop shipping fee": -481,
        "Customer-paid shipping fee": 280,
        "TikTok Shop shipping incentive": 160,
        "Fees": -372,
        "Referral fee": -250,
        "Affiliate commission": -122,
        "Customer payment": 2961,
        "Platform discounts": 400,
        "Sales tax payment": 241,
        "Customer-paid shipping fee before discounts": 560,
        "Seller shipping fee discount": 120,
        "TikTok Shop shipping fee discount to customer": 160,
    }
    assert nonzero(rows[("B", None)]) == {
        "Total settlement amount": 699,
        "Net sales": 810,
        "Gross sales": 1000,
        "Seller discount": -190,
        "Shipping": -10,
        "TikTok Shop shipping fee": -120,
        "Customer-paid shipping fee": 70,
        "TikTok Shop shipping incentive": 40,
        "Fees": -101,
        "Referral fee": -70,
        "Affiliate commission": -31,
        "Customer payment": 740,
        "Platform discounts": 200,
        "Sales tax payment": 60,
        "Customer-paid shipping fee before discounts": 140,
        "Seller shipping fee discount": 30,
        "TikTok Shop shipping fee discount to customer": 40,
    }
    # The statement of 2025-06-10 is the two rows: 2427 + 699 = 3126; net 3650; shipping -51;
    # fees -473; no adjustments or reserve, so payable = total.
    assert statement_totals(result) == {("S1", "2025-06-10"): (3126, 3650, -51, -473, 0, 0, 3126)}


def test_order_level_amounts_tie_goes_to_the_smaller_sku_id_by_code_point():
    # Two SKUs of equal gross sales 1000 and 1000: label 1.01 and sales tax 0.03 leave one cent
    # with equal remainders; it goes to the smaller sku_id by code point: "A10" < "A2".
    # Label: A10 51, A2 50. Tax 3: A10 2, A2 1. Customer-paid shipping 0.05: A10 3, A2 2.
    # Referral: A10 -round(0.08 * (1000 + 3)) = -round(80.24) = -80; A2 -round(0.08 * 1002) = -80.
    # Totals: A10 1000 + (-51 + 3) - 80 = 872; A2 1000 + (-50 + 2) - 80 = 872.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id | delivered_at         | shipping_fee | actual_shipping_fee | sales_tax |
        | tie      | 2025-06-02T00:00:00Z | 0.05         | 1.01                | 0.03      |
        """,
        order_lines="""
        | order_id | sku_id | product_id | unit_price | quantity |
        | tie      | A2     | P1         | 10.00      | 1        |
        | tie      | A10    | P2         | 5.00       | 2        |
        """,
    )
    rows = rows_of(result, "tie")
    got = {
        sku: (
            r[C("TikTok Shop shipping fee")],
            r[C("Sales tax payment")],
            r[C("Customer-paid shipping fee")],
            r[C("Referral fee")],
            r[C("Total settlement amount")],
        )
        for (sku, _), r in rows.items()
    }
    assert got == {"A10": (-51, 2, 3, -80, 872), "A2": (-50, 1, 2, -80, 872)}


# ---------------------------------------------------------------- refunds


REFUND_ORDERS = dict(
    # folded and later are the same order: A 3 x $10.00 (PA), B 1 x $5.00 (PB); shipping fee 6.00,
    # label 4.00, sales tax 0.35; delivered 06-02 → settles 06-10T00:00Z.
    # 1 PD $1.00 off PA: seller A 3 x 100 = 300.  2 PI $0.20 off PA: platform A 3 x 20 = 60.
    # 5 PS platform shipping $1.00: customer-paid 500.  Final A 3000 - 300 - 60 = 2640, B 500.
    # Allocated by gross 3000 : 500 (sum 3500):
    #   label 400:    A floor(342.86) = 342, B floor(57.14) = 57, left-over → A: A 343, B 57.
    #   customer 500: A floor(428.57) = 428, B floor(71.43) = 71, left-over → A: A 429, B 71.
    #   platform 100: A floor(85.71) = 85,   B floor(14.29) = 14, left-over → A: A 86,  B 14.
    #   tax 35:       A 30, B 5 (exact).
    orders="""
    | order_id | shop_id | delivered_at         | shipping_fee | actual_shipping_fee | sales_tax |
    | folded   | S1      | 2025-06-02T00:00:00Z | 6.00         | 4.00                | 0.35      |
    | later    | S1      | 2025-06-02T00:00:00Z | 6.00         | 4.00                | 0.35      |
    | other    | S2      | 2025-06-02T00:00:00Z | 0            | 0                   | 0         |
    """,
    order_lines="""
    | order_id | sku_id | product_id | unit_price | quantity |
    | folded   | A      | PA         | 10.00      | 3        |
    | folded   | B      | PB         | 5.00       | 1        |
    | later    | A      | PA         | 10.00      | 3        |
    | later    | B      | PB         | 5.00       | 1        |
    | other    | A      | PZ         | 10.00      | 1        |
    """,
    promotions="""
    | promotion_id | promotion_type             | shop_id | discount_kind | discount_value |
    | PD           | product_discount           | S1      | amount_off    | 1.00           |
    | PI           | product_incentive          | S1      | amount_off    | 0.20           |
    | PS           | platform_shipping_discount | S1      | amount_off    | 1.00           |
    """,
    promotion_products="""
    | promotion_id | product_id |
    | PD           | PA         |
    | PI           | PA         |
    """,
    refunds="""
    | refund_id | order_id | sku_id | quantity | refunded_at          | refund_shipping |
    | R1        | folded   | A      | 1        | 2025-06-05T00:00:00Z | true            |
    | R2        | later    | A      | 2        | 2025-06-15T10:00:00Z | true            |
    | R3        | later    | B      | 1        | 2025-06-15T11:00:00Z | false           |
    """,
)


@pytest.fixture(scope="module")
def refund_result() -> Results:
    result = run(as_of=AS_OF, **REFUND_ORDERS)
    assert_nothing_rejected(result)
    return result


def test_a_refund_before_settlement_folds_into_the_order_rows(refund_result):
    # R1: 1 of 3 units of A on 06-05 (after delivery, before settlement), with shipping.
    # It returns gross 1000, seller round(300 * 1/3) = 100, platform round(60 * 1/3) = 20,
    # tax round(30 * 1/3) = 10; product refund 1000 - 100 - 20 = 880.
    # Row A: net 3000 - 1000 - 300 + 100 = 1800. Shipping refund reverses A's own shares:
    #   customer-paid 429 / -429, incentive 86 / -86; Shipping = -343 + 429 - 429 + 86 - 86 = -343.
    #   Referral -round(0.08 * (1800 + 429 - 429)) = -144.
    #   Admin (refund on/after delivery, from 2025-05-15): B_i = 1000 - 100 = 900,
    #   -min(round(0.2 * round(0.08 * 900)), 500) = -round(0.2 * 72) = -round(14.4) = -14.
    #   Fees -158; total 1800 - 343 - 158 = 1299.
    #   Customer payment 2640 + 429 + 30 = 3099; customer refund -(880 + 429 + 10) = -1319.
    #   Shipping before discounts 429 + 0 + 86 = 515.
    # Row B: net 500; Shipping -57 + 71 - 71 + 14 - 14 = -57; referral -round(0.08 * 500) = -40;
    #   total 500 - 57 - 40 = 403. Customer payment 500 + 71 + 5 = 576; customer refund -71.
    rows = rows_of(refund_result, "folded")
    assert set(rows) == {("A", None), ("B", None)}
    assert rows[("A", None)]["quantity"] == 3
    assert nonzero(rows[("A", None)]) == {
        "Total settlement amount": 1299,
        "Net sales": 1800,
        "Gross sales": 3000,
        "Gross sales refund": -1000,
        "Seller discount": -300,
        "Seller discount refund": 100,
        "Shipping": -343,
        "TikTok Shop shipping fee": -343,
        "Customer-paid shipping fee": 429,
        "Customer-paid shipping fee refund": -429,
        "TikTok Shop shipping incentive": 86,
        "TikTok Shop shipping incentive refund": -86,
        "Fees": -158,
        "Referral fee": -144,
        "Refund administration fee": -14,
        "Customer payment": 3099,
        "Customer refund": -1319,
        "Platform discounts": 60,
        "Platform discounts refund": -20,
        "Sales tax payment": 30,
        "Sales tax refund": -10,
        "Customer-paid shipping fee before discounts": 515,
        "TikTok Shop shipping fee discount to customer": 86,
    }
    assert nonzero(rows[("B", None)]) == {
        "Total settlement amount": 403,
        "Net sales": 500,
        "Gross sales": 500,
        "Shipping": -57,
        "TikTok Shop shipping fee": -57,
        "Customer-paid shipping fee": 71,
        "Customer-paid shipping fee refund": -71,
        "TikTok Shop shipping incentive": 14,
        "TikTok Shop shipping incentive refund": -14,
        "Fees": -40,
        "Referral fee": -40,
        "Customer payment": 576,
        "Customer refund": -71,
        "Sales tax payment": 5,
        "Customer-paid shipping fee before discounts": 85,
        "TikTok Shop shipping fee discount to customer": 14,
    }


def test_a_refund_after_settlement_is_its_own_row_on_its_own_date(refund_result):
    # later's order rows (06-10) carry no refund:
    #   A: net 2700; Shipping -343 + 429 + 86 = 172; referral -round(0.08 * 3129) = -round(250.32) = -250;
    #      total 2700 + 172 - 250 = 2622.
    #   B: net 500; Shipping -57 + 71 + 14 = 28; referral -round(0.08 * 571) = -round(45.68) = -46;
    #      total 500 + 28 - 46 = 482.
    # R2 (06-15, 2 of 3 units of A, with shipping): gross 2000, seller round(300 * 2/3) = 200,
    #   platform 40, tax 20; product refund 1760. The whole shipping refund sits on this row:
    #   customer-paid -500, incentive -100; Shipping -600. Net -2000 + 200 = -1800.
    #   Referral -round(0.08 * (-1800 - 500)) = +184. Admin: B_i = 2000 - 200 = 1800,
    #   -round(0.2 * round(0.08 * 1800)) = -round(28.8) = -29. Fees 155; total -1800 - 600 + 155 = -2245.
    #   Customer refund -(1760 + 500 + 20) = -2280. Sale-side columns 0.
    # R3 (06-15, B's 1 unit, no shipping): gross 500, tax 5. Net -500; referral +round(0.08 * 500) = +40;
    #   admin -round(0.2 * 40) = -8; fees 32; total -468; customer refund -505.
    rows = rows_of(refund_result, "later")
    assert statement_dates(refund_result, "later") == {
        ("A", None): "2025-06-10",
        ("B", None): "2025-06-10",
        ("A", "R2"): "2025-06-15",
        ("B", "R3"): "2025-06-15",
    }
    assert nonzero(rows[("A", None)]) == {
        "Total settlement amount": 2622,
        "Net sales": 2700,
        "Gross sales": 3000,
        "Seller discount": -300,
        "Shipping": 172,
        "TikTok Shop shipping fee": -343,
        "Customer-paid shipping fee": 429,
        "TikTok Shop shipping incentive": 86,
        "Fees": -250,
        "Referral fee": -250,
        "Customer payment": 3099,
        "Platform discounts": 60,
        "Sales tax payment": 30,
        "Customer-paid shipping fee before discounts": 515,
        "TikTok Shop shipping fee discount to customer": 86,
    }
    assert nonzero(rows[("B", None)]) == {
        "Total settlement amount": 482,
        "Net sales": 500,
        "Gross sales": 500,
        "Shipping": 28,
        "TikTok Shop shipping fee": -57,
        "Customer-paid shipping fee": 71,
        "TikTok Shop shipping incentive": 14,
        "Fees": -46,
        "Referral fee": -46,
        "Customer payment": 576,
        "Sales tax payment": 5,
        "Customer-paid shipping fee before discounts": 85,
        "TikTok Shop shipping fee discount to customer": 14,
    }
    assert [rows[k]["quantity"] for k in (("A", None), ("A", "R2"), ("B", "R3"))] == [3, 2, 1]
    assert nonzero(rows[("A", "R2")]) == {
        "Total settlement amount": -2245,
        "Net sales": -1800,
        "Gross sales refund": -2000,
        "Seller discount refund": 200,
        "Shipping": -600,
        "Customer-paid shipping fee refund": -500,
        "TikTok Shop shipping incentive refund": -100,
        "Fees": 155,
        "Referral fee": 184,
        "Refund administration fee": -29,
        "Customer refund": -2280,
        "Platform discounts refund": -40,
        "Sales tax refund": -20,
    }
    assert nonzero(rows[("B", "R3")]) == {
        "Total settlement amount": -468,
        "Net sales": -500,
        "Gross sales refund": -500,
        "Fees": 32,
        "Referral fee": 40,
        "Refund administration fee": -8,
        "Customer refund": -505,
        "Sales tax refund": -5,
    }


def test_statements_are_one_row_per_shop_and_date_summing_their_rows(refund_result):
    # S1-20250610: folded A 1299 + B 403 + later A 2622 + B 482 = 4806;
    #   net 1800 + 500 + 2700 + 500 = 5500; shipping -343 - 57 + 172 + 28 = -200;
    #   fees -158 - 40 - 250 - 46 = -494 (5500 - 200 - 494 = 4806).
    # S1-20250615: R2 -2245 + R3 -468 = -2713; net -2300; shipping -600; fees 155 + 32 = 187.
    # S2-20250610: other, 1 x $10.00, no shipping: net 1000, referral -80, total 920.
    # Adjustments and reserve are 0; payable = total + reserve.
    assert statement_totals(refund_result) == {
        ("S1", "2025-06-10"): (4806, 5500, -200, -494, 0, 0, 4806),
        ("S1", "2025-06-15"): (-2713, -2300, -600, 187, 0, 0, -2713),
        ("S2", "2025-06-10"): (920, 1000, 0, -80, 0, 0, 920),
    }


def test_refund_at_settlement_folds_one_microsecond_later_does_not():
    # Both orders: 2 x $10.00, delivered 06-02T00:00Z → settle 06-10T00:00Z; 1 unit refunded.
    # at_edge: refund at exactly 06-10T00:00Z folds → one order row: net 1000, referral -80,
    #   admin -round(0.2 * round(0.08 * 1000)) = -16; total 904.
    # after_edge: refund 1 µs later → order row net 2000, referral -160, total 1840; refund row
    #   (same UTC date 06-10) net -1000, referral +80, admin -16, total -936.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id   | delivered_at         |
        | at_edge    | 2025-06-02T00:00:00Z |
        | after_edge | 2025-06-02T00:00:00Z |
        """,
        order_lines="""
        | order_id   | sku_id | product_id | unit_price | quantity |
        | at_edge    | A      | P1         | 10.00      | 2        |
        | after_edge | A      | P1         | 10.00      | 2        |
        """,
        refunds="""
        | refund_id | order_id   | sku_id | quantity | refunded_at                 |
        | E1        | at_edge    | A      | 1        | 2025-06-10T00:00:00Z        |
        | E2        | after_edge | A      | 1        | 2025-06-10T00:00:00.000001Z |
        """,
    )
    assert_nothing_rejected(result)
    totals = {key: r[C("Total settlement amount")] for key, r in rows_of(result, "at_edge").items()}
    assert totals == {("A", None): 904}
    after = rows_of(result, "after_edge")
    assert {key: r[C("Total settlement amount")] for key, r in after.items()} == {("A", None): 1840, ("A", "E2"): -936}
    assert statement_dates(result, "after_edge") == {("A", None): "2025-06-10", ("A", "E2"): "2025-06-10"}


def test_refund_administration_fee_truth_table():
    # Every order is $10.00 units (8 %) unless said; admin fee = -min(round(rate_a * round(0.08 * B_i)), cap).
    #   before_delivery: 2 units, 1 refunded 06-02, delivered 06-03 → folded, no admin fee:
    #       net 1000, referral -80, total 920.
    #   at_delivery: same, refunded exactly at delivery 06-03T00:00Z ("on or after") → admin
    #       -round(0.2 * 80) = -16; total 904.
    #   pre_start: created 05-01, delivered 05-02 (settles 05-10); refunds after settlement:
    #       RA at 2025-05-14T23:59:59Z: admin 0 (rate 0 before 2025-05-15): net -1000, referral +80, total -920;
    #       RB at 2025-05-15T00:00:00Z: admin -16, total -936.
    #   capped: 1 x $400.00 refunded after settlement: B_i = 40000, returned referral 3200,
    #       round(0.2 * 3200) = 640 > cap 500 → -500; referral +3200; total -40000 + 3200 - 500 = -37300.
    #   affiliate: 2 units, affiliate 5 %, 1 refunded after settlement (06-15):
    #       order row: commission -round(0.05 * 2000) = -100, referral -160, total 2000 - 260 = 1740;
    #       refund row: commission comes back +round(0.05 * 1000) = +50, referral +80, admin -16, total -886.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id        | created_at           | delivered_at         | affiliate_commission_rate |
        | before_delivery | 2025-06-01T12:00:00Z | 2025-06-03T00:00:00Z |                           |
        | at_delivery     | 2025-06-01T12:00:00Z | 2025-06-03T00:00:00Z |                           |
        | pre_start       | 2025-05-01T00:00:00Z | 2025-05-02T00:00:00Z |                           |
        | capped          | 2025-06-01T12:00:00Z | 2025-06-02T00:00:00Z |                           |
        | affiliate       | 2025-06-01T12:00:00Z | 2025-06-02T00:00:00Z | 0.05                      |
        """,
        order_lines="""
        | order_id        | sku_id | product_id | unit_price | quantity |
        | before_delivery | A      | P1         | 10.00      | 2        |
        | at_delivery     | A      | P1         | 10.00      | 2        |
        | pre_start       | A      | P1         | 10.00      | 2        |
        | capped          | A      | P1         | 400.00     | 1        |
        | affiliate       | A      | P1         | 10.00      | 2        |
        """,
        refunds="""
        | refund_id | order_id        | sku_id | quantity | refunded_at          |
        | BD        | before_delivery | A      | 1        | 2025-06-02T00:00:00Z |
        | AD        | at_delivery     | A      | 1        | 2025-06-03T00:00:00Z |
        | RA        | pre_start       | A      | 1        | 2025-05-14T23:59:59Z |
        | RB        | pre_start       | A      | 1        | 2025-05-15T00:00:00Z |
        | CP        | capped          | A      | 1        | 2025-06-15T00:00:00Z |
        | AF        | affiliate       | A      | 1        | 2025-06-15T00:00:00Z |
        """,
    )
    assert_nothing_rejected(result)
    labels = ("Referral fee", "Refund administration fee", "Affiliate commission", "Total settlement amount")

    def fees(order_id):
        return {key: tuple(r[C(label)] for label in labels) for key, r in rows_of(result, order_id).items()}

    assert fees("before_delivery") == {("A", None): (-80, 0, 0, 920)}
    assert fees("at_delivery") == {("A", None): (-80, -16, 0, 904)}
    assert fees("pre_start") == {
        ("A", None): (-160, 0, 0, 1840),
        ("A", "RA"): (80, 0, 0, -920),
        ("A", "RB"): (80, -16, 0, -936),
    }
    assert fees("capped") == {("A", None): (-3200, 0, 0, 36800), ("A", "CP"): (3200, -500, 0, -37300)}
    assert fees("affiliate") == {("A", None): (-160, 0, -100, 1740), ("A", "AF"): (80, -16, 50, -886)}


# ---------------------------------------------------------------- fee schedule


def test_default_fee_schedule_by_created_date_serves_later_refunds():
    # rate6:    created 2024-06-30T23:59:59Z → 6 %: 1 x $10.25 → -round(61.5) = -62 (half up).
    #           Refunded 2024-07-20 (after settlement 07-09, when the rate is 8 %): the order's 6 %
    #           serves the refund → +round(0.06 * 1025) = +62; admin 0 (before 2025-05-15).
    # rate8:    created 2024-07-01T00:00:00Z → 8 %: -round(82.0) = -82.
    # rate8_tz: created 2024-06-30T20:00-05:00 = 07-01T01:00Z: the UTC date says 8 % → -82.
    # old_admin: created 2024-06-15 (6 %), 1 x $100.00, refunded 2025-06-01 after settlement:
    #           referral +round(0.06 * 10000) = +600; admin -round(0.2 * 600) = -120 (at 8 % it would be -160).
    # too_old:  created 2024-03-31 is before the first schedule row → rejected `no_fee_rate`.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id  | created_at                | delivered_at         |
        | rate6     | 2024-06-30T23:59:59Z      | 2024-07-01T00:00:00Z |
        | rate8     | 2024-07-01T00:00:00Z      | 2024-07-02T00:00:00Z |
        | rate8_tz  | 2024-06-30T20:00:00-05:00 | 2024-07-02T00:00:00Z |
        | old_admin | 2024-06-15T00:00:00Z      | 2024-06-16T00:00:00Z |
        | too_old   | 2024-03-31T23:59:59Z      | 2024-04-02T00:00:00Z |
        """,
        order_lines="""
        | order_id  | sku_id | product_id | unit_price | quantity |
        | rate6     | A      | P1         | 10.25      | 1        |
        | rate8     | A      | P1         | 10.25      | 1        |
        | rate8_tz  | A      | P1         | 10.25      | 1        |
        | old_admin | A      | P1         | 100.00     | 1        |
        | too_old   | A      | P1         | 10.25      | 1        |
        """,
        refunds="""
        | refund_id | order_id  | sku_id | quantity | refunded_at          |
        | R6        | rate6     | A      | 1        | 2024-07-20T00:00:00Z |
        | RO        | old_admin | A      | 1        | 2025-06-01T00:00:00Z |
        """,
    )
    rejected = result.staged.rejected_rows.filter(pl.col("table") == "orders").select("key", "reason").rows()
    assert rejected == [("too_old", "no_fee_rate")]
    labels = ("Referral fee", "Refund administration fee")

    def fees(order_id):
        return {key: tuple(r[C(label)] for label in labels) for key, r in rows_of(result, order_id).items()}

    assert fees("rate6") == {("A", None): (-62, 0), ("A", "R6"): (62, 0)}
    assert fees("rate8") == {("A", None): (-82, 0)}
    assert fees("rate8_tz") == {("A", None): (-82, 0)}
    assert fees("old_admin") == {("A", None): (-600, 0), ("A", "RO"): (600, -120)}
    assert rows_of(result, "too_old") == {}


def test_a_supplied_fee_schedule_replaces_the_default():
    # Schedule: from 2023-01-01 referral 5 %, no admin fee; from 2025-01-01 referral 7 %, admin 50 % capped at $2.00.
    # early:   created 2023-06-01 — the default would reject it; here 5 %: -round(0.05 * 1000) = -50.
    # now:     created 2025-06-01 (7 %), 2 x $10.00: order row -round(0.07 * 2000) = -140; refund of 1
    #          after settlement (06-15): referral +70, admin -min(round(0.5 * 70), 200) = -35.
    #          (The default would give 8 % and 20 %: -160, +80, -16.)
    # capped:  created 2025-06-01, 1 x $100.00 refunded 06-15: referral +700, admin round(350) > 200 → -200.
    # crossing: created 2024-12-15 (5 %), refunded 2025-01-10 after settlement (admin 50 % by the
    #          refund's date): referral +round(0.05 * 1000) = +50, admin -round(0.5 * 50) = -25.
    result = run(
        as_of=AS_OF,
        orders="""
        | order_id | created_at           | delivered_at         |
        | early    | 2023-06-01T00:00:00Z | 2023-06-02T00:00:00Z |
        | now      | 2025-06-01T00:00:00Z | 2025-06-02T00:00:00Z |
        | capped   | 2025-06-01T00:00:00Z | 2025-06-02T00:00:00Z |
        | crossing | 2024-12-15T00:00:00Z | 2024-12-16T00:00:00Z |
        """,
        order_lines="""
        | order_id | sku_id | product_id | unit_price | quantity |
        | early    | A      | P1         | 10.00      | 1        |
        | now      | A      | P1         | 10.00      | 2        |
        | capped   | A      | P1         | 100.00     | 1        |
        | crossing | A      | P1         | 10.00      | 1        |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          |
        | RN        | now      | A      | 1        | 2025-06-15T00:00:00Z |
        | RC        | capped   | A      | 1        | 2025-06-15T00:00:00Z |
        | RX        | crossing | A      | 1        | 2025-01-10T00:00:00Z |
        """,
        fee_schedule="""
        | effective_from | referral_fee_rate | refund_admin_fee_rate | refund_admin_fee_cap |
        | 2023-01-01     | 0.05              | 0                     | 0                    |
        | 2025-01-01     | 0.07              | 0.5                   | 2.00                 |
        """,
    )
    assert_nothing_rejected(result)
    labels = ("Referral fee", "Refund administration fee")

    def fees(order_id):
        return {key: tuple(r[C(label)] for label in labels) for key, r in rows_of(result, order_id).items()}

    assert fees("early") == {("A", None): (-50, 0)}
    assert fees("now") == {("A", None): (-140, 0), ("A", "RN"): (70, -35)}
    assert fees("capped") == {("A", None): (-700, 0), ("A", "RC"): (700, -200)}
    assert fees("crossing") == {("A", None): (-50, 0), ("A", "RX"): (50, -25)}


# ---------------------------------------------------------------- properties

CREATED = datetime(2025, 6, 1, 12, tzinfo=UTC)
PROPERTY_AS_OF = datetime(2025, 6, 25, tzinfo=UTC)


def _at(hours: int) -> str:
    return datetime.fromtimestamp(CREATED.timestamp() + hours * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


@st.composite
def small_orders(draw) -> dict[str, list[dict]]:
    """A few orders with random prices, quantities, shipping, tax, delivery and refunds.

    Times are hours after 2025-06-01T12:00Z; as_of is 23.5 days later, so deliveries and
    refunds fall before delivery, in the hold, after settlement, or after as_of.
    """
    orders, lines, refunds = [], [], []
    for n in range(draw(st.integers(1, 4))):
        order_id = f"O{n}"
        # Mostly delivered early enough to settle before as_of; else in the hold at as_of, after it, or never.
        delivered = draw(
            st.one_of(st.none(), st.integers(0, 24 * 12), st.integers(0, 24 * 12), st.integers(24 * 16, 24 * 25))
        )
        when = [st.integers(0, 24 * 23)]
        if delivered is not None and delivered + 24 * 8 <= 24 * 23:
            # In the hold (up to the settlement instant itself) and after settlement.
            when += [st.integers(delivered, delivered + 24 * 8), st.integers(delivered + 24 * 8, 24 * 23)]
        refund_hour = st.one_of(when)
        orders.append(
            {
                "order_id": order_id,
                "shop_id": draw(st.sampled_from(["S1", "S2"])),
                "created_at": _at(0),
                "delivered_at": None if delivered is None else _at(delivered),
                "shipping_fee": _cents(draw(st.integers(0, 1_500))),
                "actual_shipping_fee": _cents(draw(st.integers(0, 1_500))),
                "sales_tax": _cents(draw(st.integers(0, 500))),
                "affiliate_commission_rate": draw(st.sampled_from([None, "0.05", "0.125"])),
            }
        )
        # Some orders are refunded in full (every unit), to check that the refunds net to zero.
        full = draw(st.booleans())
        shipping_left = True  # refund_shipping at most once per order (docs/stacking.md)
        for sku in "AB"[: draw(st.integers(1, 2))]:
            quantity = draw(st.integers(1, 3))
            lines.append(
                {
                    "order_id": order_id,
                    "sku_id": sku,
                    "product_id": f"P{sku}",
                    "quantity": str(quantity),
                    "unit_price": _cents(draw(st.integers(1, 50_000))),
                }
            )
            # Split the refunded units into up to three refunds: all of them when `full`.
            refunded = quantity if full else draw(st.integers(0, quantity))
            parts = []
            while refunded:
                units = draw(st.integers(1, refunded))
                parts.append(units)
                refunded -= units
            for k, units in enumerate(parts):
                with_shipping = shipping_left and draw(st.booleans())
                shipping_left = shipping_left and not with_shipping
                refunds.append(
                    {
                        "refund_id": f"{order_id}{sku}{k}",
                        "order_id": order_id,
                        "sku_id": sku,
                        "quantity": str(units),
                        "refunded_at": _at(draw(refund_hour)),
                        "refund_shipping": str(with_shipping).lower(),
                    }
                )
    tables = {"orders": orders, "order_lines": lines, "refunds": refunds}
    return {name: rows for name, rows in tables.items() if rows}


# A run costs about half a second; each example prices up to four orders.
PROPERTY = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY
@given(scenario=small_orders())
def test_statement_identities_hold_for_random_orders(scenario):
    result = run(as_of=PROPERTY_AS_OF, **scenario)
    assert_nothing_rejected(result)
    details = result.statements.order_details
    # Each row: Net sales, Shipping and Fees are the sums of their parts; Total = Net + Shipping + Fees (+ 0 adjustments).
    for row in details.iter_rows(named=True):
        assert row[C("Net sales")] == sum(row[C(label)] for label in NET_SALES_PARTS)
        assert row[C("Shipping")] == sum(row[C(label)] for label in SHIPPING_PARTS)
        assert row[C("Fees")] == sum(row[C(label)] for label in FEES_PARTS)
        assert row[C("Adjustment amount")] == 0
        assert row[C("Total settlement amount")] == row[C("Net sales")] + row[C("Shipping")] + row[C("Fees")]
    # Each statement total is the sum of its rows; payable = total + reserve (0).
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in details.iter_rows(named=True):
        key = (row["shop_id"], row["statement_date"].isoformat())
        for i, label in enumerate(("Total settlement amount", "Net sales", "Shipping", "Fees")):
            sums[key][i] += row[C(label)]
    assert statement_totals(result) == {key: (t, n, s, f, 0, 0, t) for key, (t, n, s, f) in sums.items()}
    # Every order is settled (has rows) or listed once in unsettled_orders, never both.
    settled = set(details["order_id"].to_list())
    waiting = unsettled(result)
    assert settled.isdisjoint(waiting)
    assert settled | set(waiting) == {o["order_id"] for o in scenario["orders"]}
    # A fully refunded settled order: gross sales and their refunds net to 0 over its rows,
    # and so do the seller discounts (a full refund reverses everything exactly, docs/stacking.md).
    ordered = defaultdict(int)
    for line in scenario["order_lines"]:
        ordered[line["order_id"]] += int(line["quantity"])
    refunded = defaultdict(int)
    for refund in scenario.get("refunds", []):
        refunded[refund["order_id"]] += int(refund["quantity"])
    for order_id in settled:
        if refunded[order_id] == ordered[order_id]:
            frame = details.filter(pl.col("order_id") == order_id)
            assert frame[C("Gross sales")].sum() + frame[C("Gross sales refund")].sum() == 0
            assert frame[C("Seller discount")].sum() + frame[C("Seller discount refund")].sum() == 0
            assert frame[C("Net sales")].sum() == 0
