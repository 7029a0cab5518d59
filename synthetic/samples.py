"""Build the sample input set in `data_samples/`: seeded background orders plus hand-planted cases.

Run `.venv/bin/python -m synthetic.samples`; it rewrites the six Parquet files in `data_samples/`,
byte-identical on every run (fixed seed, no clock, no network). data_samples/README.md
says which planted row exercises which rule of docs/stacking.md and docs/statements.md and what the expected outcome is.

Money is written from strings or integer cents, never floats. `order_lines.unit_price` is a String
column ("12.50"), so that one row can carry the sub-cent price "1.005" that must be rejected; every
other money column is Decimal(18,2). No fee_schedule is written: docs/stacking.md's default US schedule applies.
"""

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from schemas.inputs import file_schema

OUT_DIR = Path(__file__).resolve().parents[1] / "data_samples"
SEED = 20_261_101
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the recommended sample as_of (README)

# Column order and raw Parquet type of every table: the input contract's (schemas/inputs.py), with
# one exception on purpose: order lines' unit price is text, to carry the sub-cent case "1.005".
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    table: file_schema(table) | ({"unit_price": pl.String()} if table == "order_lines" else {})
    for table in ("orders", "order_lines", "promotions", "promotion_products", "opt_out_events", "refunds")
}


# ---------------------------------------------------------------------------------------------
# Small helpers (exact money: integer cents <-> "12.34" strings)


def ts(text: str) -> datetime:
    """'2026-09-08T10:00' or '2026-09-08T10:00:00.000001' -> aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    assert len(frac) <= 2, text
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def tax_cents(gross_cents: int, basis_points: int) -> int:
    """Sales tax as a rate of the list gross, half up (an input value; only its total matters)."""
    return (gross_cents * basis_points + 5_000) // 10_000


def day(d: str) -> tuple[datetime, datetime]:
    """A promotion window covering one UTC day."""
    start = ts(d + "T00:00")
    return start, start + timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Catalog: sku_id -> (shop_id, product_id, product_name, sku_name, unit_price)

CATALOG: dict[str, tuple[str, str, str, str, str]] = {}


def _product(shop: str, product_id: str, name: str, skus: list[tuple[str, str, str]]) -> None:
    for sku_id, sku_name, price in skus:
        CATALOG[sku_id] = (shop, product_id, name, sku_name, price)


# Background products (only background promotions cover them).
BACKGROUND_PRODUCTS = {
    "SHOP-A": ["P-A01", "P-A02", "P-A03", "P-A04", "P-A05", "P-A06", "P-A07", "P-A08"],
    "SHOP-B": ["P-B01", "P-B02", "P-B03", "P-B04", "P-B05", "P-B06"],
}
_product("SHOP-A", "P-A01", "Cotton T-Shirt", [(f"SKU-A01-{s}", f"Black / {s}", "19.99") for s in ("S", "M", "L")])
_product(
    "SHOP-A", "P-A02", "Denim Jacket", [("SKU-A02-M", "Indigo / M", "64.00"), ("SKU-A02-L", "Indigo / L", "64.00")]
)
_product("SHOP-A", "P-A03", "Canvas Tote", [("SKU-A03-NAT", "Natural", "15.50")])
_product("SHOP-A", "P-A04", "Baseball Cap", [("SKU-A04-BLK", "Black", "17.00")])
_product("SHOP-A", "P-A05", "Hoodie", [(f"SKU-A05-{s}", f"Grey / {s}", "42.00") for s in ("S", "M", "L")])
_product("SHOP-A", "P-A06", "Sneaker Laces", [("SKU-A06-WHT", "White 120cm", "4.99")])
_product("SHOP-A", "P-A07", "Crew Socks 3-Pack", [("SKU-A07-BLK", "Black", "12.00")])
_product("SHOP-A", "P-A08", "Bucket Hat", [("SKU-A08-KHK", "Khaki", "21.00")])
_product("SHOP-B", "P-B01", "Dog Shampoo", [("SKU-B01-16OZ", "16 oz", "13.49")])
_product("SHOP-B", "P-B02", "Cat Litter Mat", [("SKU-B02-GRY", "Grey", "24.99")])
_product("SHOP-B", "P-B03", "Pet Water Fountain", [("SKU-B03-2L", "2 L", "36.00")])
_product("SHOP-B", "P-B04", "Dog Harness", [(f"SKU-B04-{s}", s, "28.00") for s in ("S", "M", "L")])
_product("SHOP-B", "P-B05", "Catnip Toys", [("SKU-B05-6PK", "6 pack", "7.50")])
_product("SHOP-B", "P-B06", "Pet Nail Clipper", [("SKU-B06-STD", "Standard", "11.99")])

# Planted products (only planted promotions cover them, each on its theme's day).
_product("SHOP-A", "P-A11", "Silk Scarf", [("SKU-A11-RED", "Red", "25.00"), ("SKU-A11-NVY", "Navy", "25.00")])
_product("SHOP-A", "P-A12", "Leather Wallet", [("SKU-A12-BRN", "Brown", "28.00")])
_product("SHOP-A", "P-A13", "Phone Case", [("SKU-A13-CLR", "Clear / iPhone 15", "12.99")])
_product("SHOP-A", "P-A14", "Desk Lamp", [("SKU-A14-WHT", "White", "49.99")])
_product("SHOP-A", "P-A15", "Yoga Mat", [("SKU-A15-PUR", "Purple 6 mm", "35.00")])
_product("SHOP-A", "P-A16", "Ceramic Mug", [("SKU-A16-WHT", "White 12 oz", "18.50")])
_product("SHOP-A", "P-A17", "Water Bottle", [("SKU-A17-STL", "Steel 24 oz", "22.00")])
_product("SHOP-A", "P-A18", "Throw Pillow", [("SKU-A18-GRY", "Grey 18 in", "20.00")])
_product("SHOP-A", "P-A19", "USB-C Charger", [("SKU-A19-30W", "30 W", "18.30")])
_product("SHOP-A", "P-A20", "Scented Candle", [("SKU-A20-VAN", "Vanilla", "15.00")])
_product("SHOP-A", "P-A21", "Sticker Pack", [("SKU-A21-MIX", "Mixed 50 pc", "4.99")])
_product("SHOP-A", "P-A22", "Tea Sampler", [("SKU-A22-GRN", "Green tea 12 ct", "10.00")])
_product("SHOP-A", "P-A23", "Honey Jar", [("SKU-A23-RAW", "Raw 12 oz", "14.00")])
_product("SHOP-A", "P-A24", "French Press", [("SKU-A24-BLK", "Black 34 oz", "40.00")])
_product("SHOP-A", "P-A25", "Bath Towel", [("SKU-A25-WHT", "White", "30.00")])
_product("SHOP-A", "P-A26", "Soap Bar Set", [("SKU-A26-LAV", "Lavender 3 pc", "12.00")])
_product("SHOP-A", "P-A27", "Sunglasses", [("SKU-A27-TRT", "Tortoise", "45.00")])
_product("SHOP-A", "P-A28", "Knit Beanie", [("SKU-A28-RED", "Red", "16.00")])
_product("SHOP-A", "P-A29", "Hiking Socks", [("SKU-A29-M", "M", "9.00")])
_product("SHOP-A", "P-A30", "Plant Pot", [("SKU-A30-TER", "Terracotta 8 in", "24.00")])
_product("SHOP-A", "P-A31", "Garden Gloves", [("SKU-A31-GRN", "Green M", "11.00")])
_product("SHOP-A", "P-A32", "Watering Can", [("SKU-A32-GAL", "1 gallon", "38.00")])
_product("SHOP-A", "P-A33", "Seed Kit", [("SKU-A33-HRB", "Herbs", "9.00")])
_product("SHOP-A", "P-A34", "Honey Sticks", [("SKU-A34-10PK", "10 pack", "1.005")])  # sub-cent: rejected
_product("SHOP-A", "P-A40", "Running Shoes", [("SKU-A40-09", "US 9", "80.00"), ("SKU-A40-10", "US 10", "80.00")])
_product("SHOP-A", "P-A41", "Sports Socks", [("SKU-A41-WHT", "White", "6.00")])
_product("SHOP-A", "P-A42", "Smart Watch", [("SKU-A42-BLK", "Black 45 mm", "400.00")])
_product("SHOP-B", "P-B12", "Cat Tree", [("SKU-B12-BEI", "Beige 5-level", "89.00")])
_product("SHOP-B", "P-B13", "Pet Bed", [("SKU-B13-LRG", "Large", "60.00")])
_product("SHOP-B", "P-B14", "Chew Toy", [("SKU-B14-BLU", "Blue", "8.00")])
_product("SHOP-B", "P-B15", "Aquarium Filter", [("SKU-B15-STD", "20 gal", "32.00")])
_product("SHOP-B", "P-B40", "Bird Feeder", [("SKU-B40-GRN", "Green", "27.00")])
_product("SHOP-B", "P-B41", "Bird Bath", [("SKU-B41-STN", "Stone", "26.99")])


# ---------------------------------------------------------------------------------------------
# Row collectors

ORDERS: list[dict] = []
LINES: list[dict] = []
PROMOS: list[dict] = []
SCOPE: list[dict] = []
OPT_OUTS: list[dict] = []
REFUNDS: list[dict] = []

AUTO = "auto"  # sales tax = 7.25 % of the order's list gross, half up


def order(
    order_id: str,
    shop_id: str,
    created: str | datetime,
    *,
    channel: str = "shop",
    new: bool = False,
    ship: str = "5.99",
    label: str = "4.50",
    tax: str = AUTO,
    seller_coupon: str | None = None,
    platform_coupon: str | None = None,
    delivered: str | datetime | None = "+3d",
    aff: str | None = None,
    currency: str = "USD",
) -> None:
    created_at = ts(created) if isinstance(created, str) else created
    if delivered == "+3d":
        delivered_at = created_at + timedelta(days=3)
    elif isinstance(delivered, str):
        delivered_at = ts(delivered)
    else:
        delivered_at = delivered
    ORDERS.append(
        {
            "order_id": order_id,
            "shop_id": shop_id,
            "created_at": created_at,
            "currency": currency,
            "channel": channel,
            "buyer_is_new": new,
            "shipping_fee": ship,
            "actual_shipping_fee": label,
            "sales_tax": tax,
            "seller_coupon_id": seller_coupon,
            "platform_coupon_id": platform_coupon,
            "delivered_at": delivered_at,
            "affiliate_commission_rate": aff,
        }
    )


def line(order_id: str, sku_id: str, quantity: int, unit_price: str | None = None) -> None:
    _shop, product_id, product_name, sku_name, price = CATALOG[sku_id]
    LINES.append(
        {
            "order_id": order_id,
            "sku_id": sku_id,
            "product_id": product_id,
            "product_name": product_name,
            "sku_name": sku_name,
            "quantity": quantity,
            "unit_price": unit_price or price,
        }
    )


def promo(
    promotion_id: str,
    promotion_type: str,
    shop_id: str | None,
    window: tuple[datetime, datetime],
    kind: str,
    value: str | None,
    *,
    products: tuple[str, ...] = (),
    tier: int = 1,
    min_spend: str | None = None,
    min_quantity: int | None = None,
    max_discount: str | None = None,
    condition: str | None = None,
    campaign_id: str | None = None,
) -> None:
    PROMOS.append(
        {
            "promotion_id": promotion_id,
            "tier": tier,
            "promotion_type": promotion_type,
            "shop_id": shop_id,
            "starts_at": window[0],
            "ends_at": window[1],
            "discount_kind": kind,
            "discount_value": value,
            "min_spend": min_spend,
            "min_quantity": min_quantity,
            "max_discount": max_discount,
            "condition": condition,
            "campaign_id": campaign_id,
        }
    )
    for product_id in products:
        SCOPE.append({"promotion_id": promotion_id, "product_id": product_id})


def opt(shop_id: str, promotion_type: str, changed_at: str, participating: bool) -> None:
    OPT_OUTS.append(
        {
            "shop_id": shop_id,
            "promotion_type": promotion_type,
            "changed_at": ts(changed_at),
            "participating": participating,
        }
    )


def refund(
    refund_id: str, order_id: str, sku_id: str, quantity: int, refunded_at: str | datetime, shipping: bool = False
) -> None:
    REFUNDS.append(
        {
            "refund_id": refund_id,
            "order_id": order_id,
            "sku_id": sku_id,
            "quantity": quantity,
            "refunded_at": ts(refunded_at) if isinstance(refunded_at, str) else refunded_at,
            "refund_shipping": shipping,
        }
    )


# ---------------------------------------------------------------------------------------------
# Background: promotions over background products, and seeded random orders


def background_promotions() -> None:
    all_bg = tuple(BACKGROUND_PRODUCTS["SHOP-A"] + BACKGROUND_PRODUCTS["SHOP-B"])
    long = (ts("2025-04-01T00:00"), ts("2027-01-01T00:00"))
    fall_2026 = (ts("2026-08-31T00:00"), ts("2026-11-01T00:00"))
    promo(
        "FD-10",
        "flash_deal",
        "SHOP-A",
        (ts("2026-09-21T00:00"), ts("2026-09-28T00:00")),
        "percent_off",
        "25.00",
        products=("P-A02",),
    )
    promo(
        "PD-10",
        "product_discount",
        "SHOP-A",
        (ts("2026-09-01T00:00"), ts("2026-11-01T00:00")),
        "percent_off",
        "10.00",
        products=("P-A05",),
    )
    promo(
        "PD-11",
        "product_discount",
        "SHOP-B",
        (ts("2025-04-01T00:00"), ts("2025-07-01T00:00")),
        "amount_off",
        "2.00",
        products=("P-B03",),
    )
    promo(
        "PI-11",
        "product_incentive",
        None,
        (ts("2026-09-01T00:00"), ts("2026-10-15T00:00")),
        "percent_off",
        "5.00",
        max_discount="2.00",
        products=("P-A02", "P-A05", "P-B03"),
    )
    for tier, min_q, pct in ((1, 3, "5.00"), (2, 5, "10.00")):
        promo(
            "SB-10",
            "seller_bmsm",
            "SHOP-A",
            fall_2026,
            "percent_off",
            pct,
            tier=tier,
            min_quantity=min_q,
            products=("P-A01", "P-A07") if tier == 1 else (),
        )
    for tier, spend, off in ((1, "40.00", "4.00"), (2, "80.00", "10.00")):
        promo(
            "PB-10",
            "platform_bmsm",
            None,
            (ts("2025-04-14T00:00"), ts("2025-06-16T00:00")),
            "amount_off",
            off,
            tier=tier,
            min_spend=spend,
            products=tuple(BACKGROUND_PRODUCTS["SHOP-B"]) if tier == 1 else (),
        )
    promo("SC-10", "seller_coupon", "SHOP-A", long, "amount_off", "5.00", min_spend="40.00")
    promo("SC-11", "seller_coupon", "SHOP-B", long, "percent_off", "10.00", max_discount="5.00", condition="none")
    promo(
        "PC-10",
        "product_coupon",
        None,
        long,
        "percent_off",
        "8.00",
        min_spend="25.00",
        max_discount="10.00",
        products=all_bg,
    )
    promo(
        "PS-10", "platform_shipping_discount", None, fall_2026, "amount_off", "2.00", min_spend="30.00", products=all_bg
    )
    promo(
        "SS-10",
        "seller_shipping_discount",
        "SHOP-B",
        long,
        "free_shipping",
        None,
        min_spend="50.00",
        products=tuple(BACKGROUND_PRODUCTS["SHOP-B"]),
    )
    # SHOP-A sits out of platform coupons for ten days in 2025 and platform shipping for a week in 2026.
    opt("SHOP-A", "product_coupon", "2025-05-20T09:00", False)
    opt("SHOP-A", "product_coupon", "2025-06-01T09:00", True)
    opt("SHOP-A", "platform_shipping_discount", "2026-10-05T00:00", False)
    opt("SHOP-A", "platform_shipping_discount", "2026-10-12T00:00", True)


def background_orders(rng: random.Random) -> None:
    """About 290 plain orders in two seasons; ids O-0001.. in created_at order."""
    seasons = ((date(2025, 4, 14), 63, 120), (date(2026, 8, 31), 62, 170))
    drafts = []
    for first_day, n_days, n_orders in seasons:
        for _ in range(n_orders):
            d = first_day + timedelta(days=rng.randrange(n_days))
            created = datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(8 * 3600, 23 * 3600)
            )
            drafts.append((created, "SHOP-A" if rng.random() < 0.6 else "SHOP-B", rng.random()))
    drafts.sort(key=lambda draft: (draft[0], draft[1]))

    for n, (created, shop, _tiebreak) in enumerate(drafts, start=1):
        order_id = f"O-{n:04d}"
        skus = [sku for p in BACKGROUND_PRODUCTS[shop] for sku in CATALOG if CATALOG[sku][1] == p]
        chosen = rng.sample(skus, rng.choice((1, 1, 1, 2, 2, 3)))
        quantities = [rng.choice((1, 1, 1, 2, 2, 3)) for _ in chosen]
        gross = sum(cents(CATALOG[s][4]) * q for s, q in zip(chosen, quantities, strict=True))

        delivered: datetime | None = created + timedelta(days=rng.randint(2, 5), hours=rng.randint(0, 20))
        if created >= datetime(2026, 10, 27, tzinfo=UTC) and rng.random() < 0.6:
            delivered = None
        if delivered is not None and delivered > AS_OF - timedelta(hours=1):
            delivered = None

        rate_bp = rng.choice((0, 600, 725, 725, 825, 825, 1000))
        seller_coupon = None
        if rng.random() < 0.15:
            seller_coupon = "SC-10" if shop == "SHOP-A" else "SC-11"
        platform_coupon = "PC-10" if rng.random() < 0.12 else None
        aff = rng.choice(("0.05", "0.08", "0.10", "0.12", "0.15", "0.20")) if rng.random() < 0.3 else None
        order(
            order_id,
            shop,
            created,
            channel=rng.choice(("live", "live", "video", "video", "video", "shop", "shop")),
            new=rng.random() < 0.2,
            ship=money(rng.choice((0, 499, 599, 599, 799))),
            label=money(rng.randint(350, 850)),
            tax=money(tax_cents(gross, rate_bp)),
            seller_coupon=seller_coupon,
            platform_coupon=platform_coupon,
            delivered=delivered,
            aff=aff,
        )
        for sku, q in zip(chosen, quantities, strict=True):
            line(order_id, sku, q)

        if rng.random() < 0.09:
            i = rng.randrange(len(chosen))
            k = rng.randint(1, quantities[i])
            refunded_at = created + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 12))
            whole_order = len(chosen) == 1 and k == quantities[i]
            if refunded_at < AS_OF - timedelta(hours=1):
                refund(
                    f"RF-{n:04d}-1", order_id, chosen[i], k, refunded_at, shipping=whole_order and rng.random() < 0.5
                )


# ---------------------------------------------------------------------------------------------
# Planted cases (README.md, "Planted cases", explains each one and its expected outcome)


def t1_unit_price() -> None:
    """2026-09-08, SHOP-A: steps 1-2, flash deal priority, unit caps, conditions, a tie."""
    w = day("2026-09-08")
    promo("FD-01", "flash_deal", "SHOP-A", w, "percent_off", "20.00", products=("P-A11",))
    promo("FD-02", "flash_deal", "SHOP-A", w, "fixed_price", "30.00", products=("P-A12",))
    promo("FD-03", "flash_deal", "SHOP-A", w, "percent_off", "30.00", max_discount="10.00", products=("P-A14",))
    promo("FD-04", "flash_deal", "SHOP-A", w, "amount_off", "4.00", products=("P-A15",))
    promo("FD-05", "flash_deal", "SHOP-A", w, "percent_off", "10.00", products=("P-A15",))
    promo("PD-01", "product_discount", "SHOP-A", w, "percent_off", "15.00", products=("P-A13",))
    promo("PD-02", "product_discount", "SHOP-A", w, "fixed_price", "15.00", products=("P-A16",))
    promo("PD-03", "product_discount", "SHOP-A", w, "amount_off", "2.50", products=("P-A17",))
    promo("PD-04", "product_discount", "SHOP-A", w, "percent_off", "15.00", products=("P-A19",))
    # Tie: PD-06 ($1.50 off) is written before PD-05 (10 % of $15.00 = $1.50); PD-05 must win.
    promo("PD-06", "product_discount", "SHOP-A", w, "amount_off", "1.50", products=("P-A20",))
    promo("PD-05", "product_discount", "SHOP-A", w, "percent_off", "10.00", products=("P-A20",))
    promo("PD-07", "product_discount", "SHOP-A", w, "amount_off", "6.00", products=("P-A21",))
    promo("PI-01", "product_incentive", None, w, "percent_off", "10.00", products=("P-A11",))
    promo("PI-02", "product_incentive", None, w, "amount_off", "3.00", products=("P-A12",))
    promo("PI-03", "product_incentive", None, w, "amount_off", "1.00", condition="none", products=("P-A13",))
    promo(
        "PI-04",
        "product_incentive",
        None,
        w,
        "percent_off",
        "20.00",
        max_discount="2.00",
        condition="live_only",
        products=("P-A16",),
    )
    promo("PI-05", "product_incentive", "SHOP-A", w, "amount_off", "1.50", condition="new_buyer", products=("P-A17",))
    promo("PI-06", "product_incentive", "SHOP-A", w, "fixed_price", "16.00", products=("P-A18",))

    order("O-1001", "SHOP-A", "2026-09-08T10:00")
    line("O-1001", "SKU-A11-RED", 2)
    order("O-1002", "SHOP-A", "2026-09-08T10:10", channel="video")
    line("O-1002", "SKU-A12-BRN", 1)
    order("O-1003", "SHOP-A", "2026-09-08T10:20", aff="0.10")
    line("O-1003", "SKU-A13-CLR", 3)
    order("O-1004", "SHOP-A", "2026-09-08T10:30")
    line("O-1004", "SKU-A14-WHT", 1)
    order("O-1005", "SHOP-A", "2026-09-08T10:40", channel="live")
    line("O-1005", "SKU-A15-PUR", 2)
    order("O-1006", "SHOP-A", "2026-09-08T10:50", channel="live")
    line("O-1006", "SKU-A16-WHT", 2)
    order("O-1007", "SHOP-A", "2026-09-08T11:00", channel="video")
    line("O-1007", "SKU-A16-WHT", 1)
    order("O-1008", "SHOP-A", "2026-09-08T11:10", new=True)
    line("O-1008", "SKU-A17-STL", 1)
    order("O-1009", "SHOP-A", "2026-09-08T11:20", new=False)
    line("O-1009", "SKU-A17-STL", 1)
    order("O-1010", "SHOP-A", "2026-09-08T11:30", tax="0.00")
    line("O-1010", "SKU-A18-GRY", 1)
    order("O-1011", "SHOP-A", "2026-09-08T11:40")
    line("O-1011", "SKU-A19-30W", 2)
    order("O-1012", "SHOP-A", "2026-09-08T11:50")
    line("O-1012", "SKU-A20-VAN", 3)
    order("O-1013", "SHOP-A", "2026-09-08T12:00", ship="3.99", label="3.20")
    line("O-1013", "SKU-A21-MIX", 1)


def t2_bmsm() -> None:
    """2026-09-09, SHOP-A: steps 3a/3b, tiers, flash-priced lines, best-of-type, ties."""
    w = day("2026-09-09")
    bmsm_products = ("P-A11", "P-A22", "P-A23", "P-A24")
    promo("FD-06", "flash_deal", "SHOP-A", w, "percent_off", "20.00", products=("P-A11",))
    promo("SB-01", "seller_bmsm", "SHOP-A", w, "percent_off", "10.00", tier=1, min_quantity=2, products=bmsm_products)
    promo("SB-01", "seller_bmsm", "SHOP-A", w, "percent_off", "15.00", tier=2, min_quantity=4)
    promo("SB-01", "seller_bmsm", "SHOP-A", w, "percent_off", "20.00", tier=3, min_quantity=4, min_spend="100.00")
    # Tie: SB-03 is written before SB-02; both give $3.00 on O-2006 and SB-02 must win.
    promo("SB-03", "seller_bmsm", "SHOP-A", w, "amount_off", "3.00", tier=1, min_spend="30.00", products=("P-A26",))
    promo("SB-03", "seller_bmsm", "SHOP-A", w, "amount_off", "5.00", tier=2, min_spend="50.00")
    promo("SB-02", "seller_bmsm", "SHOP-A", w, "amount_off", "3.00", tier=1, min_spend="30.00", products=("P-A26",))
    promo("SB-02", "seller_bmsm", "SHOP-A", w, "amount_off", "8.00", tier=2, min_spend="60.00")
    promo("PB-01", "platform_bmsm", None, w, "amount_off", "5.00", tier=1, min_spend="50.00", products=bmsm_products)
    promo("PB-01", "platform_bmsm", None, w, "amount_off", "12.00", tier=2, min_spend="100.00")
    promo(
        "PB-02",
        "platform_bmsm",
        None,
        w,
        "percent_off",
        "10.00",
        tier=1,
        min_quantity=3,
        max_discount="15.00",
        products=("P-A25",),
    )
    promo("PB-02", "platform_bmsm", None, w, "percent_off", "20.00", tier=2, min_quantity=5, max_discount="15.00")

    order("O-2001", "SHOP-A", "2026-09-09T10:00")
    line("O-2001", "SKU-A22-GRN", 2)
    line("O-2001", "SKU-A23-RAW", 1)
    order("O-2002", "SHOP-A", "2026-09-09T10:10", aff="0.08", channel="live")
    line("O-2002", "SKU-A22-GRN", 2)
    line("O-2002", "SKU-A23-RAW", 1)
    line("O-2002", "SKU-A24-BLK", 2)
    order("O-2003", "SHOP-A", "2026-09-09T10:20")
    line("O-2003", "SKU-A11-NVY", 2)
    line("O-2003", "SKU-A24-BLK", 1)
    order("O-2004", "SHOP-A", "2026-09-09T10:30", ship="7.99", label="6.80")
    line("O-2004", "SKU-A25-WHT", 5)
    order("O-2005", "SHOP-A", "2026-09-09T10:40", ship="7.99", label="7.10")
    line("O-2005", "SKU-A25-WHT", 3)
    line("O-2005", "SKU-A24-BLK", 2)
    order("O-2006", "SHOP-A", "2026-09-09T10:50")
    line("O-2006", "SKU-A26-LAV", 3)
    order("O-2007", "SHOP-A", "2026-09-09T11:00")
    line("O-2007", "SKU-A22-GRN", 4)


def t3_coupons() -> None:
    """2026-09-10: steps 4a/4b, order-level caps, and each coupon_checks rejection reason."""
    w = day("2026-09-10")
    promo("SC-01", "seller_coupon", "SHOP-A", w, "amount_off", "5.00", min_spend="30.00")
    promo(
        "SC-02",
        "seller_coupon",
        "SHOP-A",
        (ts("2026-08-01T00:00"), ts("2026-09-01T00:00")),
        "percent_off",
        "10.00",
        max_discount="6.00",
    )
    promo("SC-03", "seller_coupon", "SHOP-A", w, "amount_off", "3.00", condition="live_only")
    promo("SC-04", "seller_coupon", "SHOP-A", w, "percent_off", "10.00", max_discount="6.00")
    promo(
        "PC-01",
        "product_coupon",
        None,
        w,
        "percent_off",
        "10.00",
        min_spend="20.00",
        max_discount="8.00",
        products=("P-A27", "P-A28", "P-B12"),
    )
    promo("PC-03", "product_coupon", None, w, "amount_off", "4.00", products=("P-A29",))
    # Invalid: a seller coupon may not be fixed_price (kind_not_allowed); O-3004 claims it.
    promo("SC-90", "seller_coupon", "SHOP-A", w, "fixed_price", "10.00", products=("P-A28",))

    order("O-3001", "SHOP-A", "2026-09-10T10:00", seller_coupon="SC-01", platform_coupon="PC-01", aff="0.12")
    line("O-3001", "SKU-A27-TRT", 1)
    line("O-3001", "SKU-A28-RED", 2)
    order("O-3002", "SHOP-A", "2026-09-10T10:10", seller_coupon="SC-04", platform_coupon="PC-01")
    line("O-3002", "SKU-A27-TRT", 2)
    order("O-3003", "SHOP-A", "2026-09-10T10:20", seller_coupon="SC-99")
    line("O-3003", "SKU-A28-RED", 1)
    order("O-3004", "SHOP-A", "2026-09-10T10:30", seller_coupon="SC-90")
    line("O-3004", "SKU-A28-RED", 1)
    order("O-3005", "SHOP-A", "2026-09-10T10:40", seller_coupon="PC-01")
    line("O-3005", "SKU-A28-RED", 2)
    order(
        "O-3006",
        "SHOP-B",
        "2026-09-10T10:50",
        seller_coupon="SC-01",
        platform_coupon="PC-01",
        ship="12.99",
        label="11.40",
    )
    line("O-3006", "SKU-B12-BEI", 1)
    order("O-3007", "SHOP-A", "2026-09-10T11:00", seller_coupon="SC-02")
    line("O-3007", "SKU-A27-TRT", 1)
    order("O-3008", "SHOP-A", "2026-09-10T11:10", channel="video", seller_coupon="SC-03")
    line("O-3008", "SKU-A28-RED", 2)
    order("O-3009", "SHOP-A", "2026-09-10T11:20", channel="live", seller_coupon="SC-03")
    line("O-3009", "SKU-A28-RED", 2)
    order("O-3010", "SHOP-A", "2026-09-10T11:30", platform_coupon="PC-03")
    line("O-3010", "SKU-A27-TRT", 1)
    order("O-3011", "SHOP-A", "2026-09-10T11:40", seller_coupon="SC-01", platform_coupon="PC-01")
    line("O-3011", "SKU-A28-RED", 1)


def t4_opt_out() -> None:
    """2026-09-14..17, SHOP-B: opt-out of each platform type, opt back in, a same-instant tie."""
    w = (ts("2026-09-14T00:00"), ts("2026-09-18T00:00"))
    promo("PD-08", "product_discount", "SHOP-B", w, "amount_off", "5.00", products=("P-B13",))
    promo("PI-07", "product_incentive", None, w, "percent_off", "10.00", products=("P-B13",))
    promo(
        "PI-08",
        "product_incentive",
        "SHOP-B",
        w,
        "amount_off",
        "4.00",
        campaign_id="FALL-SALE-2026",
        products=("P-B15",),
    )
    promo("PB-03", "platform_bmsm", None, w, "percent_off", "5.00", tier=1, min_quantity=2, products=("P-B14",))
    promo("PB-03", "platform_bmsm", None, w, "percent_off", "10.00", tier=2, min_quantity=4)
    promo("PC-02", "product_coupon", None, w, "amount_off", "5.00", min_spend="25.00", products=("P-B13", "P-B15"))
    promo("PS-03", "platform_shipping_discount", None, w, "amount_off", "2.00", products=("P-B13", "P-B14", "P-B15"))

    opt("SHOP-B", "product_incentive", "2026-09-15T09:55", False)
    opt("SHOP-B", "platform_bmsm", "2026-09-15T09:56", False)
    opt("SHOP-B", "product_coupon", "2026-09-15T09:57", False)
    opt("SHOP-B", "platform_shipping_discount", "2026-09-15T09:58", False)
    for ptype in ("product_incentive", "platform_bmsm", "product_coupon", "platform_shipping_discount"):
        opt("SHOP-B", ptype, "2026-09-16T12:00", True)
    # Same instant: the later row in the file wins, so SHOP-B participates from 08:00.
    opt("SHOP-B", "product_incentive", "2026-09-17T08:00", False)
    opt("SHOP-B", "product_incentive", "2026-09-17T08:00", True)

    basket = (("SKU-B13-LRG", 1), ("SKU-B14-BLU", 4), ("SKU-B15-STD", 1))
    order("O-4001", "SHOP-B", "2026-09-15T10:03", platform_coupon="PC-02", ship="6.99", label="6.10")
    order("O-4002", "SHOP-B", "2026-09-16T14:00", platform_coupon="PC-02", ship="6.99", label="6.10")
    for order_id in ("O-4001", "O-4002"):
        for sku, q in basket:
            line(order_id, sku, q)
    order("O-4003", "SHOP-B", "2026-09-15T15:00")
    line("O-4003", "SKU-B15-STD", 2)
    order("O-4004", "SHOP-B", "2026-09-17T08:30")
    line("O-4004", "SKU-B13-LRG", 1)


def t5_shipping() -> None:
    """2026-09-11, SHOP-A: step 5, platform first then seller on the remainder."""
    w = day("2026-09-11")
    promo("PS-01", "platform_shipping_discount", None, w, "amount_off", "3.00", products=("P-A30",))
    promo("SS-01", "seller_shipping_discount", "SHOP-A", w, "percent_off", "50.00", products=("P-A30",))
    promo("PS-02", "platform_shipping_discount", None, w, "free_shipping", None, min_spend="50.00", products=("P-A32",))
    promo("SS-03", "seller_shipping_discount", "SHOP-A", w, "free_shipping", None, products=("P-A32",))
    promo(
        "PS-04",
        "platform_shipping_discount",
        "SHOP-A",
        w,
        "percent_off",
        "25.00",
        max_discount="1.50",
        products=("P-A31",),
    )
    promo(
        "SS-02",
        "seller_shipping_discount",
        "SHOP-A",
        w,
        "percent_off",
        "50.00",
        max_discount="3.00",
        products=("P-A31",),
    )
    promo("SS-04", "seller_shipping_discount", "SHOP-A", w, "amount_off", "1.50", products=("P-A31",))
    # Tie: PS-06 is written before PS-05; both take $2.00 and PS-05 must win.
    promo("PS-06", "platform_shipping_discount", None, w, "amount_off", "2.00", products=("P-A33",))
    promo("PS-05", "platform_shipping_discount", None, w, "amount_off", "2.00", products=("P-A33",))

    order("O-5001", "SHOP-A", "2026-09-11T10:00", ship="7.99", label="5.60", aff="0.05")
    line("O-5001", "SKU-A30-TER", 1)
    order("O-5002", "SHOP-A", "2026-09-11T10:10", ship="8.99", label="7.25")
    line("O-5002", "SKU-A32-GAL", 2)
    order("O-5003", "SHOP-A", "2026-09-11T10:20", ship="5.99", label="5.10")
    line("O-5003", "SKU-A32-GAL", 1)
    order("O-5004", "SHOP-A", "2026-09-11T10:30", ship="8.99", label="4.40")
    line("O-5004", "SKU-A31-GRN", 1)
    order("O-5005", "SHOP-A", "2026-09-11T10:40", ship="4.99", label="3.90")
    line("O-5005", "SKU-A33-HRB", 1)
    order("O-5006", "SHOP-A", "2026-09-11T10:50", ship="6.49", label="6.00")
    line("O-5006", "SKU-A32-GAL", 1)
    line("O-5006", "SKU-A33-HRB", 2)


def t6_refunds() -> None:
    """Refund arithmetic, folding vs own rows, admin fee dates and cap, coupon restoration."""
    w = day("2026-09-01")
    promo("PD-09", "product_discount", "SHOP-A", w, "percent_off", "15.00", products=("P-A40",))
    promo("PI-10", "product_incentive", None, w, "amount_off", "5.00", products=("P-A40",))
    promo("SC-05", "seller_coupon", "SHOP-A", w, "amount_off", "10.00")
    promo(
        "PC-04",
        "product_coupon",
        None,
        (ts("2026-09-01T00:00"), ts("2026-09-30T00:00")),
        "percent_off",
        "10.00",
        min_spend="50.00",
        max_discount="20.00",
        products=("P-A40", "P-A41"),
    )
    promo(
        "PC-05",
        "product_coupon",
        None,
        (ts("2026-09-01T00:00"), ts("2026-09-08T00:00")),
        "amount_off",
        "6.00",
        min_spend="40.00",
        products=("P-A40",),
    )
    promo("SC-06", "seller_coupon", "SHOP-B", day("2026-09-06"), "percent_off", "15.00")

    # Partial refund then a second refund of the same line, one folded and one after settlement.
    order(
        "O-6001",
        "SHOP-A",
        "2026-09-01T10:00",
        seller_coupon="SC-05",
        tax="14.77",
        aff="0.15",
        delivered="2026-09-04T15:00",
    )
    line("O-6001", "SKU-A40-09", 3)
    refund("RF-6001-1", "O-6001", "SKU-A40-09", 1, "2026-09-06T10:00")
    refund("RF-6001-2", "O-6001", "SKU-A40-09", 1, "2026-09-20T10:00")
    # Full order refund before settlement, with shipping: coupon PC-04 restored, usable.
    order(
        "O-6002",
        "SHOP-A",
        "2026-09-02T11:00",
        platform_coupon="PC-04",
        aff="0.10",
        delivered="2026-09-05T10:00",
        label="4.20",
    )
    line("O-6002", "SKU-A40-10", 1)
    line("O-6002", "SKU-A41-WHT", 2)
    refund("RF-6002-1", "O-6002", "SKU-A40-10", 1, "2026-09-08T09:00")
    refund("RF-6002-2", "O-6002", "SKU-A41-WHT", 2, "2026-09-10T16:00", shipping=True)
    # Full order refund after settlement, with shipping: coupon PC-05 restored but expired.
    order("O-6003", "SHOP-A", "2026-09-03T09:00", platform_coupon="PC-05", delivered="2026-09-06T12:00")
    line("O-6003", "SKU-A40-09", 1)
    refund("RF-6003-1", "O-6003", "SKU-A40-09", 1, "2026-09-20T08:00", shipping=True)
    # Cancelled before shipping: every unit refunded, never delivered -> closed.
    order("O-6004", "SHOP-B", "2026-09-22T13:00", ship="4.99", label="0.00", delivered=None)
    line("O-6004", "SKU-B40-GRN", 2)
    refund("RF-6004-1", "O-6004", "SKU-B40-GRN", 2, "2026-09-23T08:00", shipping=True)
    # Refund administration fee: the day before it starts, its first day (cap), after settlement, before delivery.
    order("O-6005", "SHOP-A", "2025-05-06T10:00", delivered="2025-05-08T10:00", ship="0.00", label="6.50")
    line("O-6005", "SKU-A42-BLK", 1)
    refund("RF-6005-1", "O-6005", "SKU-A42-BLK", 1, "2025-05-14T23:30")
    order("O-6006", "SHOP-A", "2025-05-12T10:00", delivered="2025-05-14T18:00", ship="0.00", label="6.50")
    line("O-6006", "SKU-A42-BLK", 1)
    refund("RF-6006-1", "O-6006", "SKU-A42-BLK", 1, "2025-05-15T00:30")
    order("O-6007", "SHOP-B", "2025-05-20T10:00", delivered="2025-05-23T10:00")
    line("O-6007", "SKU-B40-GRN", 3)
    refund("RF-6007-1", "O-6007", "SKU-B40-GRN", 1, "2025-06-05T10:00")
    order("O-6008", "SHOP-B", "2025-05-20T12:00", delivered="2025-05-24T12:00")
    line("O-6008", "SKU-B40-GRN", 3)
    refund("RF-6008-1", "O-6008", "SKU-B40-GRN", 1, "2025-05-21T09:00")
    # Rejected refunds, each on its own order so nothing else depends on them.
    order("O-6009", "SHOP-A", "2026-09-04T10:00", delivered="2026-09-07T10:00")
    line("O-6009", "SKU-A41-WHT", 2)
    refund("RF-6009-1", "O-6009", "SKU-A41-WHT", 1, "2026-09-09T10:00")
    refund("RF-6009-2", "O-6009", "SKU-A41-WHT", 2, "2026-09-12T10:00")  # only 1 left: over_refund
    refund("RF-6009-3", "O-6009", "SKU-A99-XXX", 1, "2026-09-12T11:00")  # unknown_line
    order("O-6010", "SHOP-A", "2026-09-04T11:00", delivered="2026-09-07T11:00")
    line("O-6010", "SKU-A41-WHT", 1)
    line("O-6010", "SKU-A40-10", 1)
    refund("RF-6010-1", "O-6010", "SKU-A41-WHT", 1, "2026-09-08T10:00", shipping=True)
    refund("RF-6010-2", "O-6010", "SKU-A40-10", 1, "2026-09-09T10:00", shipping=True)  # shipping_already_refunded
    order("O-6011", "SHOP-A", "2026-09-05T10:00", delivered="2026-09-08T10:00")
    line("O-6011", "SKU-A41-WHT", 1)
    refund("RF-6011-1", "O-6011", "SKU-A41-WHT", 1, "2026-09-05T09:00")  # refunded_before_created
    refund("RF-6013-1", "O-9999", "SKU-A41-WHT", 1, "2026-09-09T10:00")  # unknown_order
    # Two refunds of one line at the same instant: taken in refund_id order.
    order("O-6012", "SHOP-B", "2026-09-06T10:00", seller_coupon="SC-06", delivered="2026-09-08T10:00")
    line("O-6012", "SKU-B41-STN", 4)
    refund("RF-6012-2", "O-6012", "SKU-B41-STN", 1, "2026-09-12T10:00")
    refund("RF-6012-1", "O-6012", "SKU-B41-STN", 2, "2026-09-12T10:00")


def t7_settlement_state() -> None:
    """Late October 2026: the states of unsettled_orders at as_of 2026-11-01T00:00Z (hold 8 days)."""
    order("O-7001", "SHOP-A", "2026-10-28T10:00", delivered=None)
    line("O-7001", "SKU-A20-VAN", 2)
    order("O-7002", "SHOP-B", "2026-10-30T10:00", delivered=None)
    line("O-7002", "SKU-B40-GRN", 1)
    order("O-7003", "SHOP-A", "2026-10-29T10:00", delivered="2026-11-02T10:00")  # delivery after as_of
    line("O-7003", "SKU-A27-TRT", 1)
    order("O-7004", "SHOP-A", "2026-10-22T10:00", delivered="2026-10-26T12:00")
    line("O-7004", "SKU-A20-VAN", 1)
    order("O-7005", "SHOP-B", "2026-10-20T10:00", delivered="2026-10-24T00:00")  # settles exactly at as_of
    line("O-7005", "SKU-B40-GRN", 2)
    order("O-7006", "SHOP-A", "2026-10-20T11:00", delivered="2026-10-24T00:00:00.000001")  # one µs later: in hold
    line("O-7006", "SKU-A27-TRT", 1)
    order("O-7007", "SHOP-A", "2026-10-05T10:00", delivered="2026-10-10T10:00")
    line("O-7007", "SKU-A20-VAN", 2)
    refund("RF-7007-1", "O-7007", "SKU-A20-VAN", 1, "2026-11-05T10:00")  # after as_of: not yet happened


def t8_fee_rates() -> None:
    """2024 orders on both sides of the 2024-07-01 referral-rate change."""
    order("O-8001", "SHOP-A", "2024-05-10T15:00")
    line("O-8001", "SKU-A03-NAT", 2)
    order("O-8002", "SHOP-A", "2024-06-30T23:30")
    line("O-8002", "SKU-A05-M", 1)
    refund("RF-8002-1", "O-8002", "SKU-A05-M", 1, "2024-07-15T10:00")
    order("O-8003", "SHOP-B", "2024-07-01T00:10")
    line("O-8003", "SKU-B03-2L", 1)
    order("O-8004", "SHOP-B", "2024-07-02T09:00", aff="0.10")
    line("O-8004", "SKU-B04-M", 2)


def t9_invalid() -> None:
    """2026-09-25: rows that staging must reject, and a control order that must get no discount."""
    w = day("2026-09-25")
    promo(
        "SB-90", "seller_bmsm", "SHOP-A", w, "percent_off", "10.00", tier=1, min_quantity=2, products=("P-A22", "P-A23")
    )
    promo(
        "SB-90",
        "seller_bmsm",
        "SHOP-A",
        (w[0], w[1] + timedelta(days=1)),
        "percent_off",
        "15.00",
        tier=2,
        min_quantity=4,
    )
    promo("PB-90", "platform_bmsm", None, w, "amount_off", "3.00", tier=1, min_quantity=2, products=("P-A22",))
    promo("PB-90", "platform_bmsm", None, w, "amount_off", "6.00", tier=2)
    promo("PD-91", "product_discount", None, w, "percent_off", "10.00", products=("P-A22",))
    promo("FD-91", "flash_deal", "SHOP-A", (w[0], w[0]), "percent_off", "50.00", products=("P-A23",))
    promo("SC-91", "seller_coupon", "SHOP-A", w, "amount_off", "2.00", min_quantity=2)
    promo("PC-91", "product_coupon", None, w, "amount_off", "3.00", products=("P-A22",))
    SCOPE.append({"promotion_id": "PC-91", "product_id": "P-A22"})  # the same scope row twice
    SCOPE.append({"promotion_id": "PD-99", "product_id": "P-A22"})  # no such promotion

    order("O-9901", "SHOP-A", "2026-09-25T10:00")
    order("O-9901", "SHOP-A", "2026-09-25T11:00")
    line("O-9901", "SKU-A22-GRN", 1)
    refund("RF-9901-1", "O-9901", "SKU-A22-GRN", 1, "2026-09-27T10:00")
    order("O-9902", "SHOP-A", "2026-09-25T10:10")
    line("O-9902", "SKU-A22-GRN", 0)
    line("O-9902", "SKU-A23-RAW", 1)
    order("O-9903", "SHOP-A", "2026-09-25T10:20")
    line("O-9903", "SKU-A34-10PK", 2)
    order("O-9904", "SHOP-A", "2026-09-25T10:30", channel="tv")
    line("O-9904", "SKU-A22-GRN", 1)
    order("O-9905", "SHOP-A", "2026-09-25T10:40", tax="0.00")
    line("O-9906", "SKU-A22-GRN", 1)
    order("O-9907", "SHOP-B", "2026-09-25T10:50", currency="EUR")
    line("O-9907", "SKU-B40-GRN", 1)
    order("O-9908", "SHOP-A", "2024-02-01T12:00")
    line("O-9908", "SKU-A04-BLK", 1)
    order("O-9909", "SHOP-A", "2026-09-25T11:10", delivered="2026-09-24T10:00")
    line("O-9909", "SKU-A22-GRN", 1)
    order("O-9910", "SHOP-A", "2026-09-25T11:20")
    line("O-9910", "SKU-A22-GRN", 1)
    line("O-9910", "SKU-A22-GRN", 2)
    order("O-9920", "SHOP-A", "2026-09-25T12:00", seller_coupon="SC-91", platform_coupon="PC-91")
    line("O-9920", "SKU-A22-GRN", 4)
    line("O-9920", "SKU-A23-RAW", 1)


# ---------------------------------------------------------------------------------------------
# Assembly and writing


def fill_auto_tax() -> None:
    """Planted orders with tax='auto' get 7.25 % of their list gross (half up)."""
    gross: dict[str, int] = {}
    for row in LINES:
        price = row["unit_price"]
        if price.count(".") == 1 and len(price.split(".")[1]) > 2:
            continue  # the sub-cent row: its order is rejected anyway
        gross[row["order_id"]] = gross.get(row["order_id"], 0) + cents(price) * row["quantity"]
    for row in ORDERS:
        if row["sales_tax"] == AUTO:
            row["sales_tax"] = money(tax_cents(gross.get(row["order_id"], 0), 725))


def frame(rows: list[dict], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows -> typed frame; Decimal columns go through strings so no float ever touches money."""
    raw = {
        name: pl.Series(name, [r[name] for r in rows], dtype=pl.String if dtype.is_decimal() else dtype, strict=True)
        for name, dtype in schema.items()
    }
    return pl.DataFrame(raw).with_columns(
        pl.col(name).cast(dtype, strict=True) for name, dtype in schema.items() if dtype.is_decimal()
    )


def build() -> dict[str, pl.DataFrame]:
    for rows in (ORDERS, LINES, PROMOS, SCOPE, OPT_OUTS, REFUNDS):
        rows.clear()
    background_promotions()
    background_orders(random.Random(SEED))
    t1_unit_price()
    t2_bmsm()
    t3_coupons()
    t4_opt_out()
    t5_shipping()
    t6_refunds()
    t7_settlement_state()
    t8_fee_rates()
    t9_invalid()
    fill_auto_tax()
    tables = {
        "orders": ORDERS,
        "order_lines": LINES,
        "promotions": PROMOS,
        "promotion_products": SCOPE,
        "opt_out_events": OPT_OUTS,
        "refunds": REFUNDS,
    }
    return {name: frame(rows, SCHEMAS[name]) for name, rows in tables.items()}


def main() -> None:
    for name, df in build().items():
        df.write_parquet(OUT_DIR / f"{name}.parquet", compression="zstd", statistics=True)
        print(f"{name:20s} {df.height:5d} rows")


if __name__ == "__main__":
    main()
