"""Time the computation alone (no I/O but reading the input), function by function.

    .venv/bin/python benchmarks/engine.py INPUT_DIR [--repeat 3] [--hash]

Stages the input as the job does (`stage`, then `cut_at_as_of`), then times the engine's
functions on all of it in one process: the stacking engine (`price_orders`), line sales tax,
refund amounts, coupon restorations, statements and the Order details layout. With `--repeat`,
each figure is the best of that many runs. `--hash` prints a SHA-256 of every frame they return,
so that a change meant to leave the results alone can be checked to do so. Not a test: the
figures depend on the machine.
"""

import argparse
import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

from ingest.input_tables import read_inputs
from transforms import refunds, stacking, statements
from transforms.applicability import promotion_headers
from transforms.pipeline import cut_at_as_of
from transforms.staging import stage

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--hash", action="store_true")
    args = parser.parse_args()
    staged = cut_at_as_of(stage(read_inputs(args.input)), AS_OF)
    t = staged.tables
    best: dict[str, float] = {}

    def timed(name, call, *call_args):
        started = time.perf_counter()
        result = call(*call_args)
        best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
        return result

    for _ in range(args.repeat):
        priced = timed(
            "price_orders",
            stacking.price_orders,
            t["orders"],
            t["order_lines"],
            t["promotions"],
            t["promotion_products"],
            t["opt_out_events"],
            staged.invalid_promotion_ids,
        )
        tax = timed("line_sales_tax", refunds.line_sales_tax, priced.line_amounts, t["orders"])
        amounts = timed(
            "refund_amounts", refunds.refund_amounts, t["refunds"], priced.line_amounts, tax, priced.order_shipping
        )
        restored = timed(
            "coupon_restorations",
            refunds.coupon_restorations,
            t["refunds"],
            priced.line_amounts,
            priced.coupon_checks,
            promotion_headers(t["promotions"]),
        )
        built = timed(
            "build_statements",
            statements.build_statements,
            t["orders"],
            priced.line_amounts,
            tax,
            priced.order_shipping,
            amounts,
            t["fee_schedule"],
            statements.StatementParams(as_of=AS_OF),
        )
        layout = timed("order_details_layout", statements.order_details_layout, built.order_details)
    print(
        f"{t['order_lines'].height:,} order lines: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in best.items())
        + f"; total {sum(best.values()):.2f} s"
    )
    if args.hash:
        digest = hashlib.sha256()
        for frame in (
            priced.discount_lines,
            priced.line_amounts,
            priced.order_shipping,
            priced.coupon_checks,
            priced.blocked_incentives,
            tax,
            amounts,
            restored,
            built.order_details,
            built.statements,
            built.unsettled_orders,
            layout,
        ):
            digest.update(frame.write_csv().encode())
        print("sha256 of every result:", digest.hexdigest())


if __name__ == "__main__":
    main()
