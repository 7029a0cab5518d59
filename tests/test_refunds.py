"""Refunds (transforms/refunds.py, and the refund checks in staging) against docs/stacking.md "Refunds".

A line's refunds are taken in `refunded_at` order (ties: `refund_id`); a refund of k of the R
units still unrefunded returns round(X * k / R), half up, of each amount X still unrefunded on
the line (seller discount, platform discount, allocated sales tax), so a full refund reverses
everything exactly. Shipping comes back once, through `refund_shipping`. The refund that
empties an order restores its applied platform product coupon.
"""

from collections import defaultdict

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run
from tests.test_allocate import largest_remainder
from tests.test_stacking import scenarios
from transforms.pipeline import Results


def refunds_by_id(result: Results) -> dict[str, dict]:
    return {row["refund_id"]: row for row in result.refunds.iter_rows(named=True)}


def returned(result: Results, *columns: str) -> dict[str, tuple]:
    """Per refund: the chosen amount columns (cents)."""
    return {rid: tuple(row[c] for c in columns) for rid, row in refunds_by_id(result).items()}


def rejected(result: Results) -> list[tuple]:
    return result.staged.rejected_rows.filter(pl.col("table") == "refunds").select("key", "reason").rows()


def round_half_up(numerator: int, denominator: int) -> int:
    """round(n / d) half away from zero, for n >= 0 and d > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


# ---------------------------------------------------------------- pro rata


def test_pro_rata_return_rounds_half_up_and_the_last_refund_takes_the_rest():
    # `halves`: 2 units of $10.00; the seller BMSM takes 5 cents, the platform coupon 3 cents,
    # and the order's sales tax is 7 cents: every amount is odd, so k = 1 of R = 2 lands on a half.
    # `two_of_three`: 3 units, seller discount 10 cents; refunds of 2 units then 1.
    result = run(
        orders="""
        | order_id     | shop_id      | sales_tax | platform_coupon_id |
        | halves       | halves       | 0.07      | halves.PC          |
        | two_of_three | two_of_three | 0         |                    |
        """,
        order_lines="""
        | order_id     | sku_id | product_id | unit_price | quantity |
        | halves       | A      | P1         | 10.00      | 2        |
        | two_of_three | A      | P1         | 10.00      | 3        |
        """,
        promotions="""
        | promotion_id    | promotion_type | shop_id      | discount_kind | discount_value | min_quantity |
        | halves.SB       | seller_bmsm    | halves       | amount_off    | 0.05           | 1            |
        | halves.PC       | product_coupon | halves       | amount_off    | 0.03           |              |
        | two_of_three.SB | seller_bmsm    | two_of_three | amount_off    | 0.10           | 1            |
        """,
        refunds="""
        | refund_id | order_id     | sku_id | quantity | refunded_at          |
        | H1        | halves       | A      | 1        | 2025-06-05T00:00:00Z |
        | H2        | halves       | A      | 1        | 2025-06-06T00:00:00Z |
        | T1        | two_of_three | A      | 2        | 2025-06-05T00:00:00Z |
        | T2        | two_of_three | A      | 1        | 2025-06-06T00:00:00Z |
        """,
    )
    assert rejected(result) == []
    columns = (
        "gross_refund_cents",
        "seller_discount_refund_cents",
        "platform_discount_refund_cents",
        "sales_tax_refund_cents",
        "product_refund_cents",
    )
    assert returned(result, *columns) == {
        # k = 1 of R = 2: seller round(5/2 = 2.5) = 3, platform round(1.5) = 2, tax round(3.5) = 4.
        # Product refund = gross - seller - platform = 1000 - 3 - 2.
        "H1": (1000, 3, 2, 4, 995),
        # k = 1 of R = 1 returns what is left: 5 - 3, 3 - 2, 7 - 4.
        "H2": (1000, 2, 1, 3, 997),
        # k = 2 of R = 3: round(10 × 2/3 = 6.67) = 7; then the last unit returns the 3 left.
        "T1": (2000, 7, 0, 0, 1993),
        "T2": (1000, 3, 0, 0, 997),
    }


def test_refunds_are_taken_by_refunded_at_then_refund_id():
    # 3 units, seller discount 10 cents (a $0.10 seller BMSM). Refund R2 is first in time; R0
    # and R1 share the later instant, so R0 (smaller id) goes before R1.
    result = run(
        orders="| order_id | shop_id |\n| O1 | S1 |",
        order_lines="| order_id | sku_id | product_id | unit_price | quantity |\n| O1 | A | P1 | 10.00 | 3 |",
        promotions="""
        | promotion_id | promotion_type | shop_id | discount_kind | discount_value | min_quantity |
        | SB           | seller_bmsm    | S1      | amount_off    | 0.10           | 1            |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          |
        | R1        | O1       | A      | 1        | 2025-06-06T00:00:00Z |
        | R0        | O1       | A      | 1        | 2025-06-06T00:00:00Z |
        | R2        | O1       | A      | 1        | 2025-06-05T00:00:00Z |
        """,
    )
    assert returned(result, "seller_discount_refund_cents") == {
        "R2": (3,),  # 1 of 3 units: round(10/3 = 3.33) = 3, leaving 7 on 2 units
        "R0": (4,),  # 1 of 2 units: round(7/2 = 3.5) = 4, leaving 3 on 1 unit
        "R1": (3,),  # the last unit: the 3 left
    }


def test_sales_tax_is_allocated_by_gross_sales_and_returned_with_the_units():
    # Tax $1.01 over two $10.00 lines: 50.5 each → floors 50 + 50, the cent left on equal
    # remainders goes to the smaller sku_id, A. Line C ($20.00) of `by_gross` shows the weight
    # is gross sales: $1.00 over 1000 : 2000 → 33.3 and 66.7 → 33 and 67.
    result = run(
        orders="""
        | order_id | shop_id | sales_tax |
        | tie      | tie     | 1.01      |
        | by_gross | by_gross| 1.00      |
        """,
        order_lines="""
        | order_id | sku_id | product_id | unit_price |
        | tie      | A      | P1         | 10.00      |
        | tie      | B      | P2         | 10.00      |
        | by_gross | B      | P1         | 10.00      |
        | by_gross | C      | P2         | 20.00      |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          |
        | TA        | tie      | A      | 1        | 2025-06-05T00:00:00Z |
        | TB        | tie      | B      | 1        | 2025-06-05T00:00:00Z |
        | GB        | by_gross | B      | 1        | 2025-06-05T00:00:00Z |
        | GC        | by_gross | C      | 1        | 2025-06-05T00:00:00Z |
        """,
    )
    assert returned(result, "sales_tax_refund_cents") == {"TA": (51,), "TB": (50,), "GB": (33,), "GC": (67,)}


# ---------------------------------------------------------------- rejections (staging)


def test_over_refund_is_rejected_and_does_not_use_up_units():
    # 2 units: R1 takes 1; R2 asks for 2 of the 1 left → over_refund; R3 takes the last unit,
    # since a rejected refund returned nothing. A refund of 3 units of a 2-unit line is over too.
    result = run(
        orders="| order_id | shop_id |\n| O1 | S1 |\n| O2 | S1 |",
        order_lines="""
        | order_id | sku_id | product_id | unit_price | quantity |
        | O1       | A      | P1         | 10.00      | 2        |
        | O2       | A      | P1         | 10.00      | 2        |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          |
        | R1        | O1       | A      | 1        | 2025-06-05T00:00:00Z |
        | R2        | O1       | A      | 2        | 2025-06-06T00:00:00Z |
        | R3        | O1       | A      | 1        | 2025-06-07T00:00:00Z |
        | R4        | O2       | A      | 3        | 2025-06-05T00:00:00Z |
        """,
    )
    assert sorted(rejected(result)) == [("R2", "over_refund"), ("R4", "over_refund")]
    assert returned(result, "quantity", "gross_refund_cents") == {"R1": (1, 1000), "R3": (1, 1000)}


def test_a_second_shipping_refund_on_an_order_is_rejected():
    # Two flagged refunds on one order (different lines): the earlier in time keeps the flag
    # even with the larger id; the later is rejected.
    result = run(
        orders="| order_id | shop_id | shipping_fee |\n| O1 | S1 | 8.00 |",
        order_lines="""
        | order_id | sku_id | product_id | unit_price |
        | O1       | A      | P1         | 10.00      |
        | O1       | B      | P2         | 10.00      |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          | refund_shipping |
        | R9        | O1       | A      | 1        | 2025-06-05T00:00:00Z | true            |
        | R1        | O1       | B      | 1        | 2025-06-06T00:00:00Z | true            |
        """,
    )
    assert rejected(result) == [("R1", "shipping_already_refunded")]
    assert returned(result, "customer_shipping_refund_cents") == {"R9": (800,)}


def test_a_refund_rejected_for_shipping_does_not_use_up_units():
    # 2 units. R1 (1 unit, shipping) is accepted; R2 (1 unit, shipping again) is rejected, so it
    # returns nothing and 1 unit remains: R3 (1 unit) is within what remains and is accepted.
    result = run(
        orders="| order_id | shop_id | shipping_fee |\n| O1 | S1 | 5.00 |",
        order_lines="| order_id | sku_id | product_id | unit_price | quantity |\n| O1 | A | P1 | 10.00 | 2 |",
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          | refund_shipping |
        | R1        | O1       | A      | 1        | 2025-06-05T00:00:00Z | true            |
        | R2        | O1       | A      | 1        | 2025-06-06T00:00:00Z | true            |
        | R3        | O1       | A      | 1        | 2025-06-07T00:00:00Z | false           |
        """,
    )
    assert rejected(result) == [("R2", "shipping_already_refunded")]
    assert sorted(returned(result, "quantity")) == ["R1", "R3"]


# ---------------------------------------------------------------- shipping


def test_refund_shipping_returns_customer_paid_shipping_and_the_platform_incentive():
    # Fee $8.00: the platform's $3.00 comes off first, the seller's $1.00 next, the customer
    # pays $4.00. The flagged refund returns the $4.00 and the platform's $3.00 (not the
    # seller's discount, not the $5.00 label cost); an unflagged refund returns no shipping.
    result = run(
        orders="| order_id | shop_id | shipping_fee | actual_shipping_fee |\n| O1 | S1 | 8.00 | 5.00 |",
        order_lines="""
        | order_id | sku_id | product_id | unit_price |
        | O1       | A      | P1         | 10.00      |
        | O1       | B      | P2         | 10.00      |
        """,
        promotions="""
        | promotion_id | promotion_type             | shop_id | discount_kind | discount_value |
        | PS           | platform_shipping_discount | S1      | amount_off    | 3.00           |
        | SS           | seller_shipping_discount   | S1      | amount_off    | 1.00           |
        """,
        refunds="""
        | refund_id | order_id | sku_id | quantity | refunded_at          | refund_shipping |
        | R1        | O1       | A      | 1        | 2025-06-05T00:00:00Z | false           |
        | R2        | O1       | B      | 1        | 2025-06-06T00:00:00Z | true            |
        """,
    )
    assert rejected(result) == []
    assert returned(
        result, "is_shipping_refunded", "customer_shipping_refund_cents", "platform_shipping_refund_cents"
    ) == {"R1": (False, 0, 0), "R2": (True, 400, 300)}
    # Shipping never mixes into the product refund: each line returns its $10.00.
    assert returned(result, "product_refund_cents") == {"R1": (1000,), "R2": (1000,)}


# ---------------------------------------------------------------- coupon restorations


def test_the_refund_that_empties_the_order_restores_its_platform_coupon():
    # Every product coupon is $1.00 off and ends 2026-01-01T00:00:00Z; orders are from 2025-06-01.
    cases = ["usable", "expired", "partial", "multi_line", "rejected_coupon", "seller_coupon"]
    result = run(
        orders="""
        | order_id        | shop_id         | seller_coupon_id | platform_coupon_id |
        | usable          | usable          |                  | usable.PC          |
        | expired         | expired         |                  | expired.PC         |
        | partial         | partial         |                  | partial.PC         |
        | multi_line      | multi_line      |                  | multi_line.PC      |
        | rejected_coupon | rejected_coupon |                  | rejected_coupon.PC |
        | seller_coupon   | seller_coupon   | seller_coupon.SC |                    |
        """,
        order_lines="""
        | order_id        | sku_id | product_id | unit_price | quantity |
        | usable          | A      | P1         | 10.00      | 2        |
        | expired         | A      | P1         | 10.00      | 1        |
        | partial         | A      | P1         | 10.00      | 2        |
        | multi_line      | A      | P1         | 10.00      | 1        |
        | multi_line      | B      | P2         | 10.00      | 1        |
        | rejected_coupon | A      | P1         | 10.00      | 1        |
        | seller_coupon   | A      | P1         | 10.00      | 1        |
        """,
        promotions="\n".join(
            ["| promotion_id | promotion_type | shop_id | discount_kind | discount_value | min_spend | ends_at |"]
            + [
                f"| {c}.PC | product_coupon | {c} | amount_off | 1.00 | {'50.00' if c == 'rejected_coupon' else ''} | 2026-01-01T00:00:00Z |"
                for c in cases
                if c != "seller_coupon"
            ]
            + ["| seller_coupon.SC | seller_coupon | seller_coupon | amount_off | 1.00 | | 2026-01-01T00:00:00Z |"]
        ),
        refunds="""
        | refund_id | order_id        | sku_id | quantity | refunded_at          |
        | U1        | usable          | A      | 1        | 2025-07-01T00:00:00Z |
        | U2        | usable          | A      | 1        | 2025-12-31T23:59:59Z |
        | E1        | expired         | A      | 1        | 2026-01-01T00:00:00Z |
        | P1        | partial         | A      | 1        | 2025-07-01T00:00:00Z |
        | M2        | multi_line      | B      | 1        | 2025-08-01T00:00:00Z |
        | M1        | multi_line      | A      | 1        | 2025-07-01T00:00:00Z |
        | C1        | rejected_coupon | A      | 1        | 2025-07-01T00:00:00Z |
        | S1        | seller_coupon   | A      | 1        | 2025-07-01T00:00:00Z |
        """,
    )
    assert rejected(result) == []
    restorations = {
        row["order_id"]: (row["coupon_id"], row["refund_id"], str(row["refunded_at"]), row["status"])
        for row in result.coupon_restorations.iter_rows(named=True)
    }
    assert restorations == {
        # The second refund empties the order, one second before the coupon ends: usable.
        "usable": ("usable.PC", "U2", "2025-12-31 23:59:59+00:00", "usable"),
        # refunded_at < ends_at fails at the very instant the coupon ends: returned but expired.
        "expired": ("expired.PC", "E1", "2026-01-01 00:00:00+00:00", "expired"),
        # `partial`: one unit is still unrefunded, nothing is restored.
        # The order empties with the later refund (M2, line B), whatever the file order.
        "multi_line": ("multi_line.PC", "M2", "2025-08-01 00:00:00+00:00", "usable"),
        # `rejected_coupon` ($10.00 < min_spend $50.00) was never applied, so nothing to restore;
        # `seller_coupon`: only the platform's product coupon goes back to the buyer.
    }


# ---------------------------------------------------------------- property: a full refund reverses everything

REFUNDED_AT = [
    "2025-08-01T00:00:00Z",
    "2025-09-01T00:00:00Z",
    "2025-12-31T23:59:59Z",
    "2026-01-01T00:00:00Z",
    "2026-03-01T00:00:00Z",
]


@st.composite
def fully_refunded(draw) -> dict[str, list[dict]]:
    """A random scenario whose every unit is refunded, each line in 1..quantity refunds, at
    instants that may tie (refund ids then decide), with at most one shipping flag per order."""
    scenario = draw(scenarios(max_orders=8))
    ids = iter(draw(st.lists(st.integers(0, 9_999), min_size=100, max_size=100, unique=True)))
    refunds, by_order = [], defaultdict(list)
    for line in scenario["order_lines"]:
        quantity = int(line["quantity"])
        cuts = sorted(draw(st.sets(st.integers(1, quantity - 1), max_size=quantity - 1))) if quantity > 1 else []
        for k in (b - a for a, b in zip([0, *cuts], [*cuts, quantity], strict=True)):
            refund = {
                "refund_id": f"R{next(ids):04d}",
                "order_id": line["order_id"],
                "sku_id": line["sku_id"],
                "quantity": str(k),
                "refunded_at": draw(st.sampled_from(REFUNDED_AT)),
                "refund_shipping": "false",
            }
            refunds.append(refund)
            by_order[line["order_id"]].append(refund)
    for order_refunds in by_order.values():
        flagged = draw(st.none() | st.sampled_from(order_refunds))
        if flagged is not None:
            flagged["refund_shipping"] = "true"
    return scenario | {"refunds": refunds}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=fully_refunded())
def test_a_full_refund_reverses_every_amount_to_the_cent(scenario):
    result = run(**scenario)
    assert result.staged.rejected_rows.height == 0, result.staged.rejected_rows.rows()
    lines = {(r["order_id"], r["sku_id"]): r for r in result.priced.line_amounts.iter_rows(named=True)}
    orders = {r["order_id"]: r for r in result.staged.tables["orders"].iter_rows(named=True)}
    shipping = {r["order_id"]: r for r in result.priced.order_shipping.iter_rows(named=True)}

    # The tax of each line: the order's tax allocated by gross sales (docs/stacking.md and docs/statements.md).
    line_tax = {}
    for order_id, order in orders.items():
        skus = sorted(sku for o, sku in lines if o == order_id)
        parts = largest_remainder(
            order["sales_tax_cents"], [lines[(order_id, s)]["list_amount_cents"] for s in skus], skus
        )
        line_tax.update({(order_id, s): part for s, part in zip(skus, parts, strict=True)})

    # Replay docs/stacking.md in plain integers: per line, in (refunded_at, refund_id) order, each refund
    # returns round(X * k / R) of what is left.
    refunds = refunds_by_id(result)
    assert set(refunds) == {r["refund_id"] for r in scenario["refunds"]}
    per_line = defaultdict(list)
    for row in refunds.values():
        per_line[(row["order_id"], row["sku_id"])].append(row)
    for key, line in lines.items():
        left = {
            "seller_discount_refund_cents": line["seller_discount_cents"],
            "platform_discount_refund_cents": line["platform_discount_cents"],
            "sales_tax_refund_cents": line_tax[key],
        }
        units = line["quantity"]
        gross = product = 0
        for row in sorted(per_line[key], key=lambda r: (r["refunded_at"], r["refund_id"])):
            for column, amount in left.items():
                expected = round_half_up(amount * row["quantity"], units)
                assert row[column] == expected, (key, row["refund_id"], column)
                left[column] = amount - expected
            units -= row["quantity"]
            assert row["gross_refund_cents"] == row["quantity"] * line["unit_price_cents"]
            assert row["product_refund_cents"] == (
                row["gross_refund_cents"] - row["seller_discount_refund_cents"] - row["platform_discount_refund_cents"]
            )
            gross += row["gross_refund_cents"]
            product += row["product_refund_cents"]
        # Everything is back, to the cent.
        assert units == 0 and set(left.values()) == {0}, key
        assert gross == line["list_amount_cents"]
        assert product == line["final_amount_cents"]

    # Shipping comes back once, on the flagged refund only.
    for order_id, ship in shipping.items():
        order_refunds = [r for r in refunds.values() if r["order_id"] == order_id]
        flagged = [r for r in order_refunds if r["is_shipping_refunded"]]
        assert sum(r["customer_shipping_refund_cents"] for r in order_refunds) == (
            ship["customer_shipping_cents"] if flagged else 0
        )
        assert sum(r["platform_shipping_refund_cents"] for r in order_refunds) == (
            ship["platform_shipping_discount_cents"] if flagged else 0
        )

    # Every order is emptied: each applied product coupon is restored by the order's last refund.
    applied = {
        r["order_id"]: r["coupon_id"]
        for r in result.priced.coupon_checks.iter_rows(named=True)
        if r["coupon_type"] == "product_coupon" and r["status"] == "applied"
    }
    ends_at = dict(result.staged.tables["promotions"].select("promotion_id", "ends_at").unique().iter_rows())
    expected_restorations = {}
    for order_id, coupon_id in applied.items():
        last = max(
            (r for r in refunds.values() if r["order_id"] == order_id), key=lambda r: (r["refunded_at"], r["refund_id"])
        )
        status = "usable" if last["refunded_at"] < ends_at[coupon_id] else "expired"
        expected_restorations[order_id] = (coupon_id, last["refund_id"], status)
    got = {
        r["order_id"]: (r["coupon_id"], r["refund_id"], r["status"])
        for r in result.coupon_restorations.iter_rows(named=True)
    }
    assert got == expected_restorations
