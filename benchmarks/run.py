"""Benchmark the whole settlement job against a DuckDB I/O floor at several sizes.

    .venv/bin/python benchmarks/run.py --sizes 100000 1000000
    .venv/bin/python benchmarks/run.py                    # 100k, 1M and 10M order lines
    .venv/bin/python benchmarks/run.py --repeat 3 --markdown benchmarks/RESULTS.md

Sizes are order lines (orders = lines / 2.58). For each size, cached under `--work`:
inputs from `settle generate`, and reported Seller Center exports made by a "prepare" run of the
job (unmeasured) whose Order details of the last 30 statement dates are written as
`reported/<shop_id>/statement.parquet` with ~0.5% of orders perturbed (a few cents off the
referral fee, left out, or an unknown order ID). Then, each in its own process so that `wait4`
gives its own peak RSS: the job (`settle run --no-xlsx`: load, stage, stacking, statements,
reconciliation, validation, every output but XLSX) and the floor (DuckDB reads every input file
and writes one Parquet file per job output table with its row count, column names and types).
One local Prefect server serves every run. With `--repeat`, medians of wall time, maxima of RSS.

Not a test: the figures depend on the machine.
"""

import argparse
import itertools
import json
import math
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

LINES_PER_ORDER = 2.58
AS_OF = "2026-11-01T00:00:00Z"
REPORTED_DATES = 30  # the last statement dates exported as "reported"
LINEAR_TOLERANCE = 0.15
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    rss_kib: int


@dataclass(frozen=True)
class SizeResult:
    lines: int
    job: list[Measurement]
    floor: list[Measurement]
    loads: list[float]  # the 1-minute load average as each job started: other work skews the figures

    @property
    def job_wall(self) -> float:
        return statistics.median(m.wall_s for m in self.job)

    @property
    def floor_wall(self) -> float:
        return statistics.median(m.wall_s for m in self.floor)


def sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def parquet_glob(path: Path) -> str:
    """A table written as one file or as a directory of part files (partitioned or not)."""
    return str(path) if path.is_file() else f"{path}/**/*.parquet"


def measure(cmd: list[str], env: dict[str, str], log_dir: Path, name: str) -> Measurement:
    """Run `cmd` to completion: its wall time and its own peak RSS; exit code 0 or stop here."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.stdout", "w") as out, open(log_dir / f"{name}.stderr", "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write((log_dir / f"{name}.stderr").read_text())
        raise SystemExit(f"{name} failed (exit {proc.returncode}): {shlex.join(cmd)}")
    return Measurement(wall, usage.ru_maxrss)


@contextmanager
def prefect_server() -> Iterator[dict[str, str]]:
    """A local Prefect server for the whole benchmark; yields the environment of its clients."""
    with tempfile.TemporaryDirectory(prefix="settle-bench-prefect-") as home:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        log = Path(home) / "server.log"
        with open(log, "w") as out:
            cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
            server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}/api"
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the Prefect server did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield {**env, "PREFECT_API_URL": url}
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def job_command(input_dir: Path, out_dir: Path, no_xlsx: bool) -> list[str]:
    cmd = [str(BIN / "settle"), "run", "--input", str(input_dir), "--out", str(out_dir), "--as-of", AS_OF]
    return cmd + ["--no-xlsx"] if no_xlsx else cmd


def has_no_xlsx() -> bool:
    help_text = subprocess.run([str(BIN / "settle"), "run", "--help"], check=False, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    return "--no-xlsx" in help_text.stdout


def ensure_inputs(case: Path, orders: int, seed: int) -> Path:
    """`case/input/`, generated unless cached."""
    input_dir = case / "input"
    if not (input_dir / "order_lines.parquet").exists():
        partial = case / "input.tmp"
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run([str(BIN / "settle"), "generate", "--orders", str(orders), "--seed", str(seed), "--out", str(partial)], check=True, stdout=subprocess.DEVNULL)
        os.replace(partial, input_dir)
    return input_dir


def ensure_reported(case: Path, input_dir: Path, env: dict[str, str], no_xlsx: bool) -> float | None:
    """`input/reported/` from an unmeasured run of the job, unless cached; the run's wall time."""
    if (input_dir / "reported").is_dir():
        return None
    prepare = case / "prepare"
    shutil.rmtree(prepare, ignore_errors=True)
    wall = measure(job_command(input_dir, prepare, no_xlsx), env, case / "logs", "prepare").wall_s
    partial = case / "reported.tmp"
    shutil.rmtree(partial, ignore_errors=True)
    _in_child("--derive-reported", parquet_glob(prepare / "current" / "order_details"), str(partial))
    os.replace(partial, input_dir / "reported")
    shutil.rmtree(prepare)
    return wall


def _in_child(*args: str) -> str:
    """Run this script's helper step in its own process; its stdout.

    DuckDB work done in this (parent) process would raise its resident memory, and Linux counts
    a parent's resident memory at fork in the peak RSS `wait4` reports for the child: the job and
    the floor must be forked from a small parent to be measured fairly.
    """
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], check=True, capture_output=True, text=True)
    return done.stdout


def derive_reported(details_glob: str, reported_dir: Path) -> None:
    """What TikTok "reported": the computed Order details of the last statement dates, labelled as
    Seller Center exports them (Decimal money), with a deterministic ~0.5% of orders perturbed."""
    from schemas.layout import ORDER_DETAILS_LABELS, snake

    # h: a hash of the order ID in [0, 1000): 5 per mille of orders are perturbed.
    fee_off, left_out, unknown = "h < 2", "h IN (2, 3)", "h = 4"
    fee_moves = ("Referral fee", "Fees", "Total settlement amount")  # 3 cents more fee on every row

    def labelled(order_id: str) -> str:
        columns = []
        for label in ORDER_DETAILS_LABELS:
            value = snake(label)
            if label in fee_moves:
                value = f"CAST(CASE WHEN {fee_off} THEN {value} - 0.03 ELSE {value} END AS DECIMAL(18, 2))"
            elif label == "Order/adjustment ID":
                value = order_id
            elif label == "Type":
                value = "CASE WHEN refund_id IS NULL THEN type ELSE 'Refund' END"
            elif label == "Status":
                value = "'Paid'"
            columns.append(f'{value} AS "{label}"')
        return ", ".join(columns)

    with duckdb.connect() as con:
        con.execute(f"""
            CREATE TABLE window_rows AS
            WITH details AS (FROM read_parquet({sql_str(details_glob)}, hive_partitioning = false)),
            dates AS (SELECT DISTINCT statement_date_utc FROM details ORDER BY 1 DESC LIMIT {REPORTED_DATES})
            SELECT *, hash(order_adjustment_id) % 1000 AS h FROM details SEMI JOIN dates USING (statement_date_utc)
        """)
        con.execute(f"""
            CREATE TABLE reported AS
            SELECT shop_id, {labelled("order_adjustment_id")} FROM window_rows WHERE NOT ({left_out})
            UNION ALL
            SELECT shop_id, {labelled("'UNKNOWN-' || order_adjustment_id")} FROM window_rows WHERE {unknown}
        """)
        for (shop,) in con.execute("SELECT DISTINCT shop_id FROM reported ORDER BY 1").fetchall():
            (reported_dir / shop).mkdir(parents=True)
            target = reported_dir / shop / "statement.parquet"
            con.execute(f"COPY (SELECT * EXCLUDE (shop_id) FROM reported WHERE shop_id = {sql_str(shop)}) TO {sql_str(target)} (FORMAT parquet, COMPRESSION zstd)")


def output_tables(current: Path) -> list[dict]:
    """Every Parquet table the job published (file or directory): name, rows, columns and types."""
    tables = []
    with duckdb.connect() as con:
        for path in sorted(current.iterdir()):
            if path.name == "exports" or not (path.suffix == ".parquet" or (path.is_dir() and any(path.rglob("*.parquet")))):
                continue
            source = f"read_parquet({sql_str(parquet_glob(path))}, hive_partitioning = false, union_by_name = true)"
            (rows,) = con.execute(f"SELECT count(*) FROM {source}").fetchone()
            columns = [[name, dtype] for name, dtype, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            tables.append({"name": path.name.removesuffix(".parquet"), "rows": rows, "columns": columns})
    return tables


def floor_value(index: int, dtype: str) -> str:
    """A value of DuckDB type `dtype` derived from an `order_lines` column (strings rotate)."""
    strings = ("order_id", "sku_id", "product_id", "product_name", "sku_name")
    if dtype == "VARCHAR":
        return strings[index % len(strings)]
    if dtype == "BOOLEAN":
        return "quantity % 2 = 0"
    if dtype.startswith(("DECIMAL", "DOUBLE", "FLOAT")):
        value = "unit_price"
    elif dtype in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        value = "quantity"
    elif dtype.startswith(("DATE", "TIMESTAMP")):
        value = "TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds(CAST(unit_price * 100000 AS BIGINT))"
    else:
        value = "NULL"
    return f"CAST({value} AS {dtype})"


def run_floor(spec_path: Path) -> None:
    """The floor (in its own process): load every input Parquet file, then write each output table
    as one Parquet file of its row count and column types, from `order_lines` rows (cycled)."""
    spec = json.loads(spec_path.read_text())
    out = Path(spec["out"])
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for table, path in spec["inputs"].items():
            con.execute(f'CREATE TABLE "{table}" AS FROM read_parquet({sql_str(path)})')
        (lines,) = con.execute("SELECT count(*) FROM order_lines").fetchone()
        for table in spec["outputs"]:
            values = ", ".join(f'{floor_value(i, dtype)} AS "{name}"' for i, (name, dtype) in enumerate(table["columns"]))
            cycles = max(1, math.ceil(table["rows"] / lines))
            target = out / f"{table['name']}.parquet"
            con.execute(
                f"COPY (SELECT {values} FROM range({cycles}), order_lines LIMIT {table['rows']}) "
                f"TO {sql_str(target)} (FORMAT parquet, COMPRESSION zstd)"
            )


def parquet_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.resolve().rglob("*.parquet"))


def benchmark_size(lines: int, args: argparse.Namespace, env: dict[str, str], no_xlsx: bool) -> SizeResult:
    """Prepare (cached) and measure one size: the job and the floor, `--repeat` times each."""
    orders = round(lines / LINES_PER_ORDER)
    case = args.work / f"orders-{orders}-seed-{args.seed}"
    input_dir = ensure_inputs(case, orders, args.seed)
    prepare_s = ensure_reported(case, input_dir, env, no_xlsx)
    with duckdb.connect() as con:
        (order_lines,) = con.execute(f"SELECT count(*) FROM read_parquet({sql_str(input_dir / 'order_lines.parquet')})").fetchone()
    print(f"{order_lines:,} order lines ({orders:,} orders) in {input_dir}; reported exports: "
          + ("cached" if prepare_s is None else f"prepare run {prepare_s:.1f} s"), flush=True)
    job, floor, loads = [], [], []
    for _ in range(args.repeat):
        out, floor_out = case / "job", case / "floor"
        shutil.rmtree(out, ignore_errors=True)
        loads.append(os.getloadavg()[0])
        job.append(measure(job_command(input_dir, out, no_xlsx), env, case / "logs", "job"))
        rows_out = json.loads((out / "current" / "manifest.json").read_text())["rows_out"]
        if not rows_out.get("recon_statements"):
            raise SystemExit(f"the job reconciled no statement: are {input_dir / 'reported'} read? rows_out: {rows_out}")
        shutil.rmtree(floor_out, ignore_errors=True)
        floor_out.mkdir(parents=True)
        spec = {
            "inputs": {p.stem: str(p) for p in sorted(input_dir.glob("*.parquet"))},
            "outputs": json.loads(_in_child("--output-tables", str(out / "current"))),
            "out": str(floor_out),
        }
        spec_path = case / "floor-spec.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        floor.append(measure([sys.executable, str(Path(__file__).resolve()), "--floor", str(spec_path)], env, case / "logs", "floor"))
        print(f"  load {loads[-1]:.1f}: job {job[-1].wall_s:.1f} s, {job[-1].rss_kib / 2**20:.2f} GiB, {parquet_bytes(out / 'current') / 1e6:.0f} MB Parquet, "
              f"{rows_out['recon_breaks']:,} recon breaks; floor {floor[-1].wall_s:.1f} s, {floor[-1].rss_kib / 2**20:.2f} GiB, "
              f"{parquet_bytes(floor_out) / 1e6:.0f} MB Parquet", flush=True)
    return SizeResult(order_lines, job, floor, loads)


def markdown(results: list[SizeResult]) -> str:
    """The results table and the linearity of consecutive sizes."""
    rows = [
        "| order lines | job wall s | lines/s | job peak RSS GiB | floor wall s | floor peak RSS GiB | job/floor wall | job/floor RSS | max load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        job_rss, floor_rss = max(m.rss_kib for m in r.job), max(m.rss_kib for m in r.floor)
        rows.append(
            f"| {r.lines:,} | {r.job_wall:.1f} | {r.lines / r.job_wall:,.0f} | {job_rss / 2**20:.2f} | {r.floor_wall:.1f} | "
            f"{floor_rss / 2**20:.2f} | {r.job_wall / r.floor_wall:.1f}× | {job_rss / floor_rss:.1f}× | {max(r.loads):.1f} |"
        )
    linearity = []
    for a, b in itertools.pairwise(results):
        size, wall = b.lines / a.lines, b.job_wall / a.job_wall
        off = wall / size - 1
        verdict = "linear" if abs(off) <= LINEAR_TOLERANCE else "NOT linear"
        linearity.append(f"- {a.lines:,} → {b.lines:,} lines (×{size:.2f}): job wall ×{wall:.2f}, {off:+.0%} from linear ({verdict} "
                         f"within ±{LINEAR_TOLERANCE:.0%}); floor wall ×{b.floor_wall / a.floor_wall:.2f}")
    # Cost = fixed + per line × lines: the smallest run is mostly fixed cost (process start,
    # imports, the Prefect run, a file per statement), which makes raw ratios look sub-linear.
    # The slope from the smallest run shows whether the cost per line itself grows.
    base = results[0]
    for a, b in itertools.pairwise(results[1:]):
        size = (b.lines - base.lines) / (a.lines - base.lines)
        wall = (b.job_wall - base.job_wall) / (a.job_wall - base.job_wall)
        off = wall / size - 1
        verdict = "linear" if abs(off) <= LINEAR_TOLERANCE else "NOT linear"
        linearity.append(f"- less the {base.lines:,}-line run (fixed costs), {a.lines:,} → {b.lines:,} lines: extra lines ×{size:.2f}, "
                         f"extra job wall ×{wall:.2f}, {off:+.0%} from linear ({verdict} within ±{LINEAR_TOLERANCE:.0%})")
    table = "\n".join(rows) + "\n"
    return table + "\n" + "\n".join(linearity) + "\n" if linearity else table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000], help="Order lines per size.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the generated inputs.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/settle-bench"), help="Cache of inputs and reported exports; run outputs.")
    parser.add_argument("--repeat", type=int, default=1, help="Measurements per size (medians of wall time).")
    parser.add_argument("--markdown", type=Path, help="Append the results, command line and date to this file.")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)  # internal: the floor's own process
    parser.add_argument("--derive-reported", nargs=2, help=argparse.SUPPRESS)  # internal: see _in_child
    parser.add_argument("--output-tables", type=Path, help=argparse.SUPPRESS)  # internal: see _in_child
    args = parser.parse_args()
    if args.floor:
        run_floor(args.floor)
        return
    if args.derive_reported:
        derive_reported(args.derive_reported[0], Path(args.derive_reported[1]))
        return
    if args.output_tables:
        print(json.dumps(output_tables(args.output_tables)))
        return
    no_xlsx = has_no_xlsx()
    if not no_xlsx:
        print("warning: `settle run` has no --no-xlsx: the job is measured WITH its XLSX exports", file=sys.stderr)
    with prefect_server() as env:
        results = [benchmark_size(lines, args, env, no_xlsx) for lines in sorted(args.sizes)]
    table = markdown(results)
    print("\n" + table)
    if args.markdown:
        command = shlex.join([sys.executable, *sys.argv])
        machine = f"{os.cpu_count()} CPUs, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
        xlsx = "" if no_xlsx else " The job ran WITH XLSX exports (no --no-xlsx)."
        with args.markdown.open("a") as f:
            f.write(f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n`{command}` ({machine}).{xlsx}\n\n{table}")


if __name__ == "__main__":
    main()
