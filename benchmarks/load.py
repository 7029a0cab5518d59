"""Load: the default command run again and again on one output directory, per data shape.

    PYTHONPATH=. .venv/bin/python benchmarks/load.py --case 1000000:2 --runs 10 --json /tmp/settle-load/load-1000000-2.json
    PYTHONPATH=. .venv/bin/python benchmarks/load.py --case 10000000:20 --runs 3 --json /tmp/settle-load/load-10000000-20.json

Shows whether memory creeps upward from run to run and whether every run cleans up after itself.
The case (`LINES:SHOPS`: inputs and reported exports) is made and cached under `--work` exactly as
benchmarks/run.py makes it. Each run is `settle run --input IN --out OUT --as-of AS_OF`, nothing
configured (so each starts Prefect's temporary server), into the same OUT, emptied once before the
first run. Per run:

- wall seconds, exit code, the 1-minute load average as it started;
- peak RSS of the largest process (`wait4`, as benchmarks/run.py reports it) and of the whole process
  tree (the sum of the RSS of every process carrying the run's mark, sampled every 0.2 s);
- OUT's size on disk, the published runs under OUT/runs (the job keeps 3), leftovers
  (`runs/.building-*`, `.current.*`), and the size of Prefect's home (its database, kept across runs);
- entries of the temp dir (`tempfile.gettempdir()`) made during the run and still there 10 s after it
  exits (other work on the machine can add some too: their names are in the JSON);
- the run's processes still alive 10 s after it exits: each run's environment has
  SETTLE_LOAD_MARK=<uuid>, looked for in /proc/*/environ.

Measured once and recorded, not a test: the figures depend on the machine.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from benchmarks.run import LINES_PER_ORDER, ensure_inputs, ensure_reported, job_command, parse_case, sql_str, user_env

MARK = "SETTLE_LOAD_MARK"
SETTLE_S = 10  # how long after a run exits its processes and temporary files must be gone
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    run: int
    exit_code: int
    wall_s: float
    load: float
    peak_rss_gib: float  # the largest single process (wait4)
    tree_rss_gib: float  # the whole tree, sampled
    out_gib: float
    prefect_home_mib: float
    published_runs: int
    leftovers: list[str]
    temp_left: list[str]
    orphans: list[str]


def marked(mark: str) -> list[int]:
    """The live processes whose environment carries `MARK=mark`."""
    needle, pids = f"{MARK}={mark}".encode(), []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and needle in Path(entry.path, "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:  # gone meanwhile, or a zombie
            pass
    return pids


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "(gone)"


def disk_bytes(path: Path) -> int:
    """Blocks allocated under `path`, symbolic links not followed (as `du -s`)."""
    total = 0
    for root, dirs, files in os.walk(path):
        total += sum(os.lstat(os.path.join(root, name)).st_blocks * 512 for name in dirs + files)
    return total


def run_once(index: int, cmd: list[str], env: dict[str, str], out: Path, prefect_home: Path, log_dir: Path) -> Run:
    """One run of `cmd`, measured as the docstring says; its stderr printed if it fails."""
    mark, tmp = uuid.uuid4().hex, Path(tempfile.gettempdir())
    temp_before, load = set(os.listdir(tmp)), os.getloadavg()[0]
    tree_peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal tree_peak
        while not done.is_set():
            tree_peak = max(tree_peak, sum(rss_bytes(pid) for pid in marked(mark)))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    with open(log_dir / f"run-{index}.stdout", "w") as stdout, open(log_dir / f"run-{index}.stderr", "w") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**env, MARK: mark}, stdout=stdout, stderr=stderr)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    done.set()
    sampler.join()
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code != 0:
        sys.stderr.write(
            f"run {index} failed (exit {exit_code}): {shlex.join(cmd)}\n{(log_dir / f'run-{index}.stderr').read_text()}"
        )
    time.sleep(SETTLE_S)
    orphans = [f"{pid} {command_line(pid)}" for pid in marked(mark)]
    runs = out / "runs"
    return Run(
        run=index,
        exit_code=exit_code,
        wall_s=round(wall, 1),
        load=round(load, 1),
        peak_rss_gib=round(usage.ru_maxrss / 2**20, 2),
        tree_rss_gib=round(tree_peak / 2**30, 2),
        out_gib=round(disk_bytes(out) / 2**30, 2),
        prefect_home_mib=round(disk_bytes(prefect_home) / 2**20, 1),
        published_runs=sum(1 for p in runs.iterdir() if p.is_dir() and not p.name.startswith("."))
        if runs.is_dir()
        else 0,
        leftovers=sorted([*(p.name for p in runs.glob(".building-*")), *(p.name for p in out.glob(".current.*"))]),
        temp_left=sorted(set(os.listdir(tmp)) - temp_before),
        orphans=orphans,
    )


def markdown(runs: list[Run]) -> str:
    rows = [
        "| run | exit | wall s | load | peak RSS GiB (largest process) | peak RSS GiB (tree) | OUT GiB | published runs | leftovers | temp entries left | orphans | Prefect home MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        rows.append(
            f"| {r.run} | {r.exit_code} | {r.wall_s:.1f} | {r.load:.1f} | {r.peak_rss_gib:.2f} | {r.tree_rss_gib:.2f} | {r.out_gib:.2f} | "
            f"{r.published_runs} | {len(r.leftovers)} | {len(r.temp_left)} | {len(r.orphans)} | {r.prefect_home_mib:.1f} |"
        )
    return "\n".join(rows) + "\n"


def verdict(runs: list[Run]) -> str:
    def memory(values: list[float]) -> str:
        return f"last/first {values[-1] / values[0]:.3f}×, spread {max(values) - min(values):.2f} GiB ({min(values):.2f}–{max(values):.2f})"

    return (
        f"verdict over {len(runs)} runs: peak RSS (largest process) {memory([r.peak_rss_gib for r in runs])}; "
        f"peak RSS (tree) {memory([r.tree_rss_gib for r in runs])}; failed runs {sum(r.exit_code != 0 for r in runs)}; "
        f"leftovers {sum(len(r.leftovers) for r in runs)}, temp entries left {sum(len(r.temp_left) for r in runs)}, "
        f"orphans {sum(len(r.orphans) for r in runs)} (each should be 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case",
        type=parse_case,
        default=parse_case("1000000:2"),
        help="LINES:SHOPS, as benchmarks/run.py (default 1000000:2).",
    )
    parser.add_argument("--runs", type=int, default=10, help="Runs in a row on the same output directory.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the generated inputs.")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/settle-load"),
        help="Cached inputs under WORK/inputs; outputs, logs, Prefect's home.",
    )
    parser.add_argument("--json", type=Path, help="Write the runs and the verdict here.")
    args = parser.parse_args()
    lines, shops = args.case
    orders = round(lines / LINES_PER_ORDER)
    name = f"orders-{orders}-shops-{shops}-seed-{args.seed}"
    prefect_home = args.work / "prefect-home"
    env = user_env(prefect_home)
    input_dir = ensure_inputs(args.work / "inputs" / name, orders, shops, args.seed)
    ensure_reported(args.work / "inputs" / name, input_dir, env)
    with duckdb.connect() as con:
        (order_lines,) = con.execute(
            f"SELECT count(*) FROM read_parquet({sql_str(input_dir / 'order_lines.parquet')})"
        ).fetchone()
    out, log_dir = args.work / "out" / name, args.work / "logs" / name
    shutil.rmtree(out, ignore_errors=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    cmd = job_command(input_dir, out, "default")
    print(
        f"{order_lines:,} order lines ({orders:,} orders, {shops} shops); {args.runs} runs of: {shlex.join(cmd)}",
        flush=True,
    )
    runs = []
    for index in range(1, args.runs + 1):
        runs.append(run_once(index, cmd, env, out, prefect_home, log_dir))
        print(markdown(runs[-1:]).splitlines()[-1], flush=True)
    print("\n" + markdown(runs) + "\n" + verdict(runs), flush=True)
    if args.json:
        shape = {"order_lines": order_lines, "orders": orders, "shops": shops, "seed": args.seed}
        args.json.write_text(
            json.dumps(
                {"command": cmd, "shape": shape, "runs": [asdict(r) for r in runs], "verdict": verdict(runs)}, indent=1
            )
        )


if __name__ == "__main__":
    main()
