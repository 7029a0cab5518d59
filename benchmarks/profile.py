"""Time the job's phases in one process, without a Prefect server, for profiling.

    .venv/bin/python benchmarks/profile.py INPUT_DIR [--partition-orders N] [--partitions-at-once N] [--xlsx]
    .venv/bin/python -m pyinstrument -o profile.txt benchmarks/profile.py INPUT_DIR

Calls the flow's own task functions (`stage_inputs`, `settle_partition`, `finish_sliced_shop`, `load_run`, `publish_run`) in
order, as the flow does without Dask (partitions N at once, in plan order), into a fresh output directory, and prints the
seconds of each phase and the peak RSS. Not a test: the figures depend on the machine.
"""

import argparse
import resource
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from flows.settle import PARTITION_ORDERS, PARTITIONS_AT_ONCE, load_run, publish_run, sliced_shops
from flows.steps import PartitionParams, Window, finish_sliced_shop, settle_partition, stage_inputs
from publish import store
from transforms.reconcile import ReconParams

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("--partition-orders", type=int, default=PARTITION_ORDERS)
    parser.add_argument("--partitions-at-once", type=int, default=PARTITIONS_AT_ONCE)
    parser.add_argument("--xlsx", action="store_true")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="settle-profile-"))
    try:
        building = store.new_run_dir(out, "profile")
        params = PartitionParams(AS_OF, 8, ReconParams(), Window(), args.xlsx)
        clock = time.perf_counter()
        staged = stage_inputs.fn(args.input, building, AS_OF, None, args.partition_orders)
        seconds = {"stage": time.perf_counter() - clock}
        clock = time.perf_counter()
        plan = staged.partitions
        with ThreadPoolExecutor(max_workers=args.partitions_at_once) as pool:  # as the flow: N in flight, in plan order
            list(
                pool.map(
                    lambda index: settle_partition.fn(building, index, params, plan[index].sliced), range(len(plan))
                )
            )
        seconds["partitions"] = time.perf_counter() - clock
        clock = time.perf_counter()
        for indices in sliced_shops(plan):
            finish_sliced_shop.fn(building, indices, params)
        seconds["sliced shops"] = time.perf_counter() - clock
        clock = time.perf_counter()
        shops = sorted({shop for part in plan for shop in part.shops})
        manifest = {"run_id": "profile", "as_of": AS_OF}
        load_run.fn(out, building, manifest, shops, params)
        publish_run.fn(out, building, "profile", manifest)
        seconds["publish"] = time.perf_counter() - clock
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(
        ", ".join(f"{phase} {s:.1f} s" for phase, s in seconds.items()),
        f"({len(staged.partitions)} partitions); peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB",
    )


if __name__ == "__main__":
    main()
