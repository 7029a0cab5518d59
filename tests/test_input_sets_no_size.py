"""Cost follows the orders, never a size an input declares (a promotion's dates, say).

Twenty promotions dated from year 1 to year 9999 on 8 shops with 40 orders once passed 8 GiB:
unscoped promotions were expanded into a row per shop per day they were active. This runs the
whole computation in its own process and reads that process's peak memory.
"""

import resource
import subprocess
import sys

SCRIPT = r"""
import polars as pl
from tests.conftest import AS_OF, inputs
from transforms.pipeline import compute

shops = [f"S{i:02d}" for i in range(50)]
orders = [
    {"order_id": f"O{i:03d}", "shop_id": shops[i % 50], "created_at": f"2025-06-{1 + i % 28:02d}T12:00:00Z",
     "shipping_fee": "5.00", "actual_shipping_fee": "3.00", "delivered_at": f"2025-07-{1 + i % 28:02d}T12:00:00Z"}
    for i in range(200)
]
lines = [{"order_id": o["order_id"], "sku_id": "a", "product_id": "P1", "quantity": "1", "unit_price": "10.00"} for o in orders]
promotions = [
    {"promotion_id": f"PM{i:04d}", "tier": "1", "promotion_type": "platform_shipping_discount" if i % 2 else "seller_shipping_discount",
     "shop_id": None if i % 2 else shops[i % 50], "starts_at": "0001-01-01T00:00:00Z", "ends_at": "9999-12-31T00:00:00Z",
     "discount_kind": "amount_off", "discount_value": "0.01"}
    for i in range(1000)
]
results = compute(inputs(orders=orders, order_lines=lines, promotions=promotions), AS_OF)
lines_out = results.priced.discount_lines
assert results.staged.rejected_rows.height == 0, results.staged.rejected_rows
# Every order gets the best platform shipping discount (ties: the smaller promotion ID), whatever
# the years; the seller ones belong to the even-numbered shops, so half the orders get one too.
assert lines_out.group_by("funded_by").len().sort("funded_by").rows() == [("platform", 200), ("seller", 100)]
print("ok")
"""


def test_promotions_dated_over_millennia_cost_what_their_orders_cost():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    # The bound: about what importing Polars, DuckDB and Pandera and pricing 200 orders takes
    # (0.3-0.4 GiB here); the expansion by day needed thousands of times more.
    assert peak_gib < 1.0, f"peak RSS {peak_gib:.2f} GiB"
