"""Time staging, the stacking engine and the whole computation on an input directory.

    .venv/bin/settle generate --orders 400000 --seed 1 --out /tmp/gen1m   # ~1M order lines
    /usr/bin/time -v .venv/bin/python benchmarks/engine.py /tmp/gen1m

Not a test: figures depend on the machine. The full job benchmark against a floor is issue 7.
"""

import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from flows.io import read_inputs
from transforms.pipeline import compute, cut_at_as_of
from transforms.stacking import price_orders
from transforms.staging import stage

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def main(input_dir: Path) -> None:
    t0 = time.perf_counter()
    raw = read_inputs(input_dir)
    t1 = time.perf_counter()
    staged = cut_at_as_of(stage(raw), AS_OF)
    t2 = time.perf_counter()
    t = staged.tables
    priced = price_orders(t["orders"], t["order_lines"], t["promotions"], t["promotion_products"], t["opt_out_events"], staged.invalid_promotion_ids)
    t3 = time.perf_counter()
    compute(raw, AS_OF)
    t4 = time.perf_counter()
    lines = raw["order_lines"].height
    print(
        f"{lines:,} order lines: read {t1 - t0:.1f} s, stage {t2 - t1:.1f} s, stacking engine {t3 - t2:.1f} s "
        f"({lines / (t3 - t2):,.0f} lines/s), whole computation {t4 - t3:.1f} s; "
        f"{priced.discount_lines.height:,} discount lines; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
