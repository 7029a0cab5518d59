"""Build `data_samples/reported/`: the Seller Center exports "TikTok reported" for the sample run,
with planted, documented discrepancies (README.md, "Reported exports and planted discrepancies").

The exports start as the computed statements of the sample run (`as_of` 2026-11-01T00:00Z, hold
8 days) for both shops' statement dates 2026-09-12 … 2026-10-10, plus one SHOP-A statement of
2026-11-01. Each planted discrepancy below then changes one order the way TikTok would have got it
wrong (or early); every other row stays equal to the computed one, so it produces no break. The
files look like Seller Center downloads: mostly XLSX with the sheets "Statements" and "Order
details", three CSV files (one with a UTF-8 byte-order mark, `$1,249.00` and `($4.50)` money and
MM/DD/YYYY dates) and one Parquet file, all with the exact labels, a Payment ID and Status "Paid".

    .venv/bin/python -m synthetic.reported            # rewrites data_samples/reported/
    .venv/bin/python -m synthetic.reported OUT_DIR    # writes OUT_DIR/reported/ instead

Byte-identical on every run (no clock, no randomness; XLSX metadata dates fixed). Money is
perturbed in integer cents and every row keeps the docs/statements.md identities (Net sales, Shipping, Fees,
Total), which the builder checks before writing.
"""

import hashlib
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import xlsxwriter

from ingest.input_tables import read_inputs
from schemas.layout import (
    FEES_PARTS,
    NET_SALES_PARTS,
    ORDER_DETAILS_LABELS,
    ORDER_DETAILS_MONEY,
    SHIPPING_PARTS,
    STATEMENTS_LABELS,
    snake,
)
from transforms.money import cents_to_decimal, mul_div_half_up
from transforms.pipeline import Results, compute

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the recommended sample as_of (README)
WINDOW = (date(2026, 9, 12), date(2026, 10, 10))  # statement dates exported for both shops
XLSX_CREATED = datetime(2026, 11, 1)  # fixed workbook metadata, so the files are reproducible

# The planted discrepancies (README table). One order each, in the statement that carries it.
OPT_OUT_ORDER = ("SHOP-B", date(2026, 9, 26), "O-4003")  # TikTok applied PI-08 despite the opt-out
FLASH_ORDER = ("SHOP-A", date(2026, 9, 19), "O-1001")  # TikTok applied the blocked PI-01
COUPON_ORDER = ("SHOP-A", date(2026, 9, 21), "O-3011")  # TikTok honoured SC-01 below its min spend
SC01_DISCOUNT_CENTS = 500  # SC-01: amount_off $5.00 (min spend $30; O-3011 spends $16.00)
FEE_RATE_ORDER = ("SHOP-A", date(2026, 9, 20), "O-2002")  # referral fee at the other schedule rate
MOVED_REFUND = ("SHOP-A", date(2026, 9, 20), "O-6001", "RF-6001-2", date(2026, 9, 23))  # refund paid 3 days later
MISSING_ORDER = ("SHOP-A", date(2026, 9, 22), "O-5006")  # left out of TikTok's statement
FBT_ORDER = ("SHOP-B", date(2026, 10, 8), "O-0193")  # an FBT fulfillment fee the product does not model
FBT_FEE_CENTS = -358  # $1.79 per unit, 2 units
CHARGEBACK = ("SHOP-A", date(2026, 10, 2), "O-5003")  # a chargeback on an order settled 09-22
UNEXPECTED_ORDER = ("SHOP-B", date(2026, 10, 2), "O-9950")  # an order id that is not in orders
RESIDUAL_STATEMENT = ("SHOP-B", date(2026, 10, 7))  # Statements sheet 3 cents below its rows
RESIDUAL_CENTS = -3
PAID_EARLY_ORDER = ("SHOP-A", date(2026, 11, 1), "O-7006")  # in_hold at as_of, TikTok paid it already

# Export format by statement; every other statement is an XLSX workbook.
FORMATS = {
    ("SHOP-B", date(2026, 10, 2)): "csv_bom",  # BOM, "$1,249.00" / "($4.50)", MM/DD/YYYY
    ("SHOP-A", date(2026, 10, 9)): "csv",
    ("SHOP-B", date(2026, 10, 10)): "csv",
    ("SHOP-B", date(2026, 10, 8)): "parquet",
}


def _tiktok_id(*parts: object) -> str:
    """A 19-digit id that looks like TikTok's, the same on every run."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return "7" + str(int(digest, 16) % 10**18).zfill(18)


def _cents_rows(results: Results) -> pl.DataFrame:
    """The published Order details, labelled, money in integer cents, with `shop_id` and `refund_id`."""
    details = results.published()["order_details"]
    return details.select(
        "shop_id",
        *[
            (pl.col(snake(label)) * 100).cast(pl.Int64).alias(label)
            if label in ORDER_DETAILS_MONEY
            else pl.col(snake(label)).alias(label)
            for label in ORDER_DETAILS_LABELS
        ],
        "refund_id",
    ).with_columns(pl.col("Statement date (UTC)").str.to_date("%Y-%m-%d"))


def _at(shop: str, day: date, order: str) -> pl.Expr:
    return (
        (pl.col("shop_id") == shop) & (pl.col("Statement date (UTC)") == day) & (pl.col("Order/adjustment ID") == order)
    )


def _add(rows: pl.DataFrame, where: pl.Expr, deltas: dict[str, pl.Expr | int]) -> pl.DataFrame:
    """Add `deltas` (cents, label → amount) to the rows `where` selects; it must select some."""
    assert rows.filter(where).height, f"nothing selected by {where}"
    return rows.with_columns(
        pl.when(where).then(pl.col(label) + delta).otherwise(pl.col(label)).alias(label)
        for label, delta in deltas.items()
    )


def _platform_funded(rows: pl.DataFrame, where: pl.Expr, discount: pl.Expr | int) -> pl.DataFrame:
    """TikTok applied a platform discount: it funds it, so only Platform discounts and Customer
    payment move. (With an affiliate the commission base would move too; these orders have none.)"""
    assert (rows.filter(where)["Affiliate commission"] == 0).all()
    return _add(rows, where, {"Platform discounts": discount, "Customer payment": -discount})


def _referral_fee(rate_ppm: int, base: pl.Expr) -> pl.Expr:
    """docs/statements.md: −round(rate × B), B = Net sales + customer-paid shipping (and its refund)."""
    return -mul_div_half_up(pl.lit(rate_ppm), base, 1_000_000)


def _base(net_sales: pl.Expr) -> pl.Expr:
    return net_sales + pl.col("Customer-paid shipping fee") + pl.col("Customer-paid shipping fee refund")


def plant(results: Results, paid_early: Results) -> pl.DataFrame:
    """The reported Order details rows (cents): the window's computed rows with the plants."""
    low, high = WINDOW
    rows = _cents_rows(results).filter(pl.col("Statement date (UTC)").is_between(low, high))

    # amount_mismatch / opt_out_timing: SHOP-B toggled its platform types on 09-15 09:55 and O-4003
    # was created at 15:00 the same day, still opted out. TikTok applied PI-08 ($4.00 a unit, via
    # campaign FALL-SALE-2026) anyway: platform discounts up, the customer paid less. TikTok funds
    # it, so Net sales, referral fee and Total stay (O-4003 has no affiliate commission).
    shop, day, order = OPT_OUT_ORDER
    pi08 = 400 * pl.col("Quantity")
    rows = _platform_funded(rows, _at(shop, day, order), pi08)

    # amount_mismatch / flash_deal_priority: FD-01 priced O-1001's scarf, so PI-01 was blocked; TikTok
    # applied it anyway. The discount is the one `blocked_incentives` says it would have given.
    shop, day, order = FLASH_ORDER
    blocked = results.priced.blocked_incentives.filter(pl.col("order_id") == order)
    assert blocked.height == 1, blocked
    pi01 = blocked["would_be_discount_cents"].item()
    rows = _platform_funded(rows, _at(shop, day, order), pi01)

    # amount_mismatch / coupon_rejected: O-3011's SC-01 claim was rejected (min_spend: $16.00 < $30),
    # but TikTok took the $5.00 off as a seller discount. Net sales, referral fee, Total follow.
    shop, day, order = COUPON_ORDER
    at = _at(shop, day, order)
    rate = results.statements.referral_rates.filter(pl.col("order_id") == order)["referral_fee_rate_ppm"].item()
    d = SC01_DISCOUNT_CENTS
    fee_delta = _referral_fee(rate, _base(pl.col("Net sales") - d)) - pl.col("Referral fee")
    rows = _add(
        rows,
        at,
        {  # every delta reads the computed row (one `with_columns`)
            "Seller discount": -d,
            "Net sales": -d,
            "Referral fee": fee_delta,
            "Fees": fee_delta,
            "Total settlement amount": fee_delta - d,
            "Customer payment": -d,
        },
    )

    # amount_mismatch / fee_rate: TikTok charged O-2002 (8 % order, 3 SKU rows) at the schedule's
    # other rate, row by row.
    shop, day, order = FEE_RATE_ORDER
    rate = results.statements.referral_rates.filter(pl.col("order_id") == order)["referral_fee_rate_ppm"].item()
    others = (
        results.staged.tables["fee_schedule"]
        .filter(pl.col("referral_fee_rate_ppm") != rate)["referral_fee_rate_ppm"]
        .unique()
    )
    assert others.len() == 1, others
    fee_delta = _referral_fee(others.item(), _base(pl.col("Net sales"))) - pl.col("Referral fee")
    rows = _add(
        rows,
        _at(shop, day, order),
        {"Referral fee": fee_delta, "Fees": fee_delta, "Total settlement amount": fee_delta},
    )

    # timing: TikTok paid RF-6001-2 (computed 09-20) in its 09-23 statement.
    shop, day, order, refund, paid_on = MOVED_REFUND
    moved = _at(shop, day, order) & (pl.col("refund_id") == refund)
    assert rows.filter(moved).height == 1
    rows = rows.with_columns(
        pl.when(moved).then(pl.lit(paid_on)).otherwise(pl.col("Statement date (UTC)")).alias("Statement date (UTC)")
    )

    # missing_in_reported: TikTok's 09-22 statement has no row of O-5006.
    shop, day, order = MISSING_ORDER
    assert rows.filter(_at(shop, day, order)).height == 2
    rows = rows.filter(~_at(shop, day, order))

    # not_modelled: an FBT fulfillment fee on O-0193's row. It is a Shipping part (docs/statements.md: Shipping
    # spans "TikTok Shop shipping fee" … "Return shipping fee"), so Shipping and Total follow.
    shop, day, order = FBT_ORDER
    rows = _add(
        rows,
        _at(shop, day, order),
        {"FBT fulfillment fee": FBT_FEE_CENTS, "Shipping": FBT_FEE_CENTS, "Total settlement amount": FBT_FEE_CENTS},
    )

    # adjustment: a chargeback of O-5003's customer payment, in a later statement.
    shop, day, order = CHARGEBACK
    paid = results.published()["order_details"].filter(pl.col("order_adjustment_id") == order)
    assert paid.height == 1
    chargeback = -int(paid["customer_payment"].item() * 100)
    rows = pl.concat(
        [
            rows,
            _extra_row(
                rows,
                shop,
                day,
                {
                    "Type": "Chargeback",
                    "Order/adjustment ID": _tiktok_id("chargeback", order),
                    "Quantity": 0,
                    "Adjustment reason": "Chargeback: buyer disputed the card payment",
                    "Related order ID": order,
                    "Adjustment amount": chargeback,
                    "Total settlement amount": chargeback,
                },
            ),
        ]
    )

    # unexpected_in_reported: an order id that is not in orders (TikTok's data, not ours).
    shop, day, order = UNEXPECTED_ORDER
    rows = pl.concat([rows, _extra_row(rows, shop, day, _unknown_order(order))])

    # timing (paid early): O-7006 is in_hold at as_of (it settles one microsecond later); TikTok paid
    # it in a SHOP-A statement of 2026-11-01, exactly as computed one second after as_of.
    shop, day, order = PAID_EARLY_ORDER
    early = _cents_rows(paid_early).filter(_at(shop, day, order))
    assert early.height == 1, early
    rows = pl.concat([rows, early])

    return rows.with_columns(
        pl.when(pl.col("Type") == "Order")
        .then(pl.when(pl.col("refund_id").is_null()).then(pl.lit("Order")).otherwise(pl.lit("Refund")))
        .otherwise(pl.col("Type"))
        .alias("Type"),
        pl.lit("Paid").alias("Status"),
    ).sort("shop_id", "Statement date (UTC)", "Order/adjustment ID", "refund_id", "SKU ID", nulls_last=False)


def _extra_row(rows: pl.DataFrame, shop: str, day: date, values: dict[str, object]) -> pl.DataFrame:
    """One reported row that has no computed counterpart: zeros and blanks but for `values`."""
    row = {label: (0 if label in ORDER_DETAILS_MONEY or label == "Quantity" else "") for label in ORDER_DETAILS_LABELS}
    row.update({"Statement date (UTC)": day, "Currency": "USD", **values})
    return pl.DataFrame([{"shop_id": shop, **row, "refund_id": None}], schema=rows.schema)


def _unknown_order(order: str) -> dict[str, object]:
    """An automatic pet feeder sold for $1,249.00 (big enough for a thousands separator), 8 %."""
    gross, label_cost, shipping, tax = 124_900, -620, 699, 9_055  # tax: 7.25 % of 1,249.00 = 90.5525
    referral = -((8 * (gross + shipping) * 2 + 100) // 200)  # −round(0.08 × 1,255.99) half up
    return {
        "Type": "Order",
        "Order/adjustment ID": order,
        "SKU ID": "SKU-B90-PRO",
        "Quantity": 1,
        "Product name": "Automatic Pet Feeder Pro",
        "SKU name": "Camera, 6 L",
        "Order created date": "2026-09-20",
        "Order delivery date": "2026-09-23",
        "Gross sales": gross,
        "Net sales": gross,
        "TikTok Shop shipping fee": label_cost,
        "Customer-paid shipping fee": shipping,
        "Shipping": label_cost + shipping,
        "Referral fee": referral,
        "Fees": referral,
        "Total settlement amount": gross + label_cost + shipping + referral,
        "Customer payment": gross + shipping + tax,
        "Sales tax payment": tax,
        "Customer-paid shipping fee before discounts": shipping,
    }


def _check_identities(rows: pl.DataFrame) -> None:
    """docs/statements.md per row: a planted change must not break the layout's own arithmetic."""
    total = pl.col("Net sales") + pl.col("Shipping") + pl.col("Fees") + pl.col("Adjustment amount")
    checks = {
        "Net sales": pl.sum_horizontal(*NET_SALES_PARTS),
        "Shipping": pl.sum_horizontal(*SHIPPING_PARTS),
        "Fees": pl.sum_horizontal(*FEES_PARTS),
        "Total settlement amount": total,
    }
    for label, expr in checks.items():
        bad = rows.filter(pl.col(label) != expr)
        assert bad.height == 0, f"{label} identity broken: {bad.select('Order/adjustment ID', label)}"


def statement_sheets(rows: pl.DataFrame) -> pl.DataFrame:
    """One Statements row per exported statement: each total the sum of its rows (cents),
    except the planted residual."""
    sums = rows.group_by("shop_id", "Statement date (UTC)").agg(
        *[pl.col(label).sum() for label in ("Total settlement amount", "Net sales", "Shipping", "Fees")],
        pl.col("Adjustment amount").sum().alias("Adjustments"),
    )
    shop, day = RESIDUAL_STATEMENT
    residual = (pl.col("shop_id") == shop) & (pl.col("Statement date (UTC)") == day)
    sheets = (
        sums.with_columns(
            pl.when(residual).then(pl.col(label) + RESIDUAL_CENTS).otherwise(pl.col(label)).alias(label)
            for label in ("Total settlement amount", "Fees")
        )
        .with_columns(pl.lit(0, pl.Int64).alias("Reserve amount"))
        .with_columns((pl.col("Total settlement amount") + pl.col("Reserve amount")).alias("Payable amount"))
    )
    assert sheets.filter(residual).height == 1
    return sheets.sort("shop_id", "Statement date (UTC)")


def _with_ids(frame: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("Statement ID", "Payment ID", strict=False).join(ids, on=["shop_id", "Statement date (UTC)"])


def _money_csv_text(cents: pl.Expr) -> pl.Expr:
    """`$1,249.00`, `($4.50)`, `$0.00` — money as a Seller Center CSV in a spreadsheet locale shows it."""
    magnitude = cents.abs()
    dollars = magnitude // 100
    grouped = (
        pl.when(dollars >= 1000)
        .then(
            pl.concat_str(
                [(dollars // 1000).cast(pl.String), pl.lit(","), (dollars % 1000).cast(pl.String).str.zfill(3)]
            )
        )
        .otherwise(dollars.cast(pl.String))
    )
    text = pl.concat_str([pl.lit("$"), grouped, pl.lit("."), (magnitude % 100).cast(pl.String).str.zfill(2)])
    return pl.when(cents < 0).then(pl.concat_str([pl.lit("("), text, pl.lit(")")])).otherwise(text)


def _us_date(label: str) -> pl.Expr:
    text = pl.col(label)
    return (
        pl.when(text == "")
        .then(text)
        .otherwise(text.str.to_date("%Y-%m-%d", strict=False).dt.strftime("%m/%d/%Y"))
        .alias(label)
    )


def write_statement(directory: Path, fmt: str, sid: str, day: date, details: pl.DataFrame, sheet: pl.DataFrame) -> Path:
    """One Seller Center download: `statement_<YYYYMMDD>_<Statement ID>.<ext>`."""
    stem = directory / f"statement_{day:%Y%m%d}_{sid}"
    money = list(ORDER_DETAILS_MONEY)
    if fmt == "xlsx":
        path = stem.with_suffix(".xlsx")
        as_float = [(pl.col(label) / 100).alias(label) for label in money]
        with xlsxwriter.Workbook(path) as workbook:
            workbook.set_properties({"created": XLSX_CREATED})
            sheet.select(
                pl.col("Statement date (UTC)").dt.strftime("%Y-%m-%d"),
                *[
                    pl.col(label) if label not in STATEMENTS_LABELS[4:] else (pl.col(label) / 100).alias(label)
                    for label in STATEMENTS_LABELS[1:]
                ],
            ).write_excel(workbook, worksheet="Statements", autofit=True, float_precision=2)
            details.with_columns(pl.col("Statement date (UTC)").dt.strftime("%Y-%m-%d"), *as_float).select(
                ORDER_DETAILS_LABELS
            ).write_excel(workbook, worksheet="Order details", autofit=True, float_precision=2)
        return path
    if fmt == "parquet":
        path = stem.with_suffix(".parquet")
        details.with_columns(cents_to_decimal(pl.col(label)).alias(label) for label in money).select(
            ORDER_DETAILS_LABELS
        ).write_parquet(path, compression="zstd", statistics=True)
        return path
    path = stem.with_suffix(".csv")
    if fmt == "csv":
        details.with_columns(
            pl.col("Statement date (UTC)").dt.strftime("%Y-%m-%d"),
            *[cents_to_decimal(pl.col(label)).alias(label) for label in money],
        ).select(ORDER_DETAILS_LABELS).write_csv(path)
        return path
    text = (
        details.with_columns(
            pl.col("Statement date (UTC)").dt.strftime("%m/%d/%Y"),
            _us_date("Order created date"),
            _us_date("Order delivery date"),
            *[_money_csv_text(pl.col(label)).alias(label) for label in money],
        )
        .select(ORDER_DETAILS_LABELS)
        .write_csv()
    )
    path.write_bytes("\ufeff".encode() + text.encode())
    return path


def build(out_dir: Path) -> list[Path]:
    raw = read_inputs(SAMPLES)
    results = compute(raw, AS_OF)
    paid_early = compute(raw, AS_OF + timedelta(seconds=1))  # O-7006 settles at AS_OF + 1 µs
    rows = plant(results, paid_early)
    _check_identities(rows)
    sheets = statement_sheets(rows)
    keys = sheets.select("shop_id", "Statement date (UTC)").rows()  # one per statement, not per row
    ids = pl.DataFrame(
        [(shop, day, _tiktok_id("statement", shop, day), _tiktok_id("payment", shop, day)) for shop, day in keys],
        schema=["shop_id", "Statement date (UTC)", "Statement ID", "Payment ID"],
        orient="row",
    )
    rows = _with_ids(rows, ids).with_columns(pl.lit("Paid").alias("Status"))
    sheets = _with_ids(sheets, ids).with_columns(pl.lit("Paid").alias("Status"))

    target = out_dir / "reported"
    if target.exists():
        shutil.rmtree(target)
    written = []
    for (shop, day), sheet in sheets.partition_by(
        "shop_id", "Statement date (UTC)", as_dict=True, maintain_order=True
    ).items():
        directory = target / shop
        directory.mkdir(parents=True, exist_ok=True)
        details = rows.filter((pl.col("shop_id") == shop) & (pl.col("Statement date (UTC)") == day))
        fmt = FORMATS.get((shop, day), "xlsx")
        written.append(write_statement(directory, fmt, sheet["Statement ID"].item(), day, details, sheet))
    return written


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES
    written = build(out_dir)
    kinds = {}
    for path in written:
        kinds[path.suffix] = kinds.get(path.suffix, 0) + 1
    print(
        f"wrote {len(written)} statements to {out_dir / 'reported'}: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    )


if __name__ == "__main__":
    main()
