"""The whole computation from raw input frames to output frames, with no I/O.

`compute()` is what the Prefect flow and the tests both call: staging, then the stacking
engine, then refunds. Frames in (cents inside), frames out; `flows/` validates and publishes.
"""

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from transforms.applicability import promotion_headers
from transforms.money import decimalise
from transforms.refunds import coupon_restorations, line_sales_tax, refund_amounts
from transforms.stacking import Priced, price_orders
from transforms.staging import Staged, stage


@dataclass
class Results:
    """Everything a run produces, in cents; `published()` gives the output tables."""

    staged: Staged
    priced: Priced
    refunds: pl.DataFrame
    coupon_restorations: pl.DataFrame
    as_of: datetime

    def published(self) -> dict[str, pl.DataFrame]:
        """The SPEC §6 output tables this far, money as `Decimal(18,2)`."""
        return {
            "discount_lines": decimalise(self.priced.discount_lines),
            "blocked_incentives": decimalise(self.priced.blocked_incentives),
            "coupon_checks": decimalise(self.priced.coupon_checks),
            "coupon_restorations": self.coupon_restorations,
            "rejected_rows": self.staged.rejected_rows,
        }


def compute(raw: dict[str, pl.DataFrame], as_of: datetime) -> Results:
    """Stage the raw tables and price every accepted order; refunds after `as_of` have not happened yet."""
    staged = stage(raw)
    t = staged.tables
    priced = price_orders(t["orders"], t["order_lines"], t["promotions"], t["promotion_products"], t["opt_out_events"], staged.invalid_promotion_ids)
    happened = t["refunds"].filter(pl.col("refunded_at") <= as_of)
    tax = line_sales_tax(priced.line_amounts, t["orders"])
    refunds = refund_amounts(happened, priced.line_amounts, tax, priced.order_shipping)
    restorations = coupon_restorations(happened, priced.line_amounts, priced.coupon_checks, promotion_headers(t["promotions"]))
    return Results(staged=staged, priced=priced, refunds=refunds, coupon_restorations=restorations, as_of=as_of)
