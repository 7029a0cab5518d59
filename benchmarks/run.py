"""Benchmark the settlement job as users run it, against a DuckDB I/O floor, per data shape.

    .venv/bin/python benchmarks/run.py                                   # every case below, every mode
    .venv/bin/python benchmarks/run.py --case 1000000:2 --case 2580000:2 --modes default nightly
    .venv/bin/python benchmarks/run.py --repeat 3 --markdown BENCHMARKS.md

A case is `LINES:SHOPS`: about LINES order lines (orders = lines / 2.58) in SHOPS shops
(`settle generate --orders N --shops S --seed 1`; shop sizes are Zipf-like, so with 20 shops
the largest holds about a quarter of the orders, with 2 shops about 60 %). For each case,
cached under `--work`: the inputs, and reported Seller Center exports made by a "prepare" run of
the job (unmeasured) whose Order details of the last 30 statement dates are written as
`reported/<shop_id>/statement.parquet` with ~0.5% of orders perturbed (a few cents off the
referral fee, left out, or an unknown order ID).

Modes, each in its own process so that `wait4` gives its own peak RSS, with nothing configured,
exactly as the README runs the job (so each run starts Prefect's temporary server and pays for it):

- `default`: `settle run --input IN --out OUT --as-of AS_OF`: every output, XLSX included;
- `no-xlsx`: the same with `--no-xlsx`, shown beside the default, never instead of it;
- `nightly`: `settle run … --days-back 1`, the deployment's nightly run, over the whole history,
  as the first night (no state yet: every order is priced);
- `incremental`: the deployment's nightly run the next night: a copy of a full run as of
  NIGHT_BEFORE (made once per case, unmeasured), then `settle run … --as-of NIGHT --days-back 1`,
  which prices only what changed or what its statements need (a day of new orders, about 1/600
  of the history, and the day's settlements and refunds);
- `incremental-full`: the same night with `--full` (prices every order, as before the state);
- `night-default`: the default command as of NIGHT (every statement): the full run of that day.

The floor, once per case in the same run: DuckDB reads every input file and writes one Parquet
file per output table of the default run, with its row count, column names and types. With
`--repeat`, medians of wall time, maxima of RSS.

Not a test: the figures depend on the machine.
"""

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

LINES_PER_ORDER = 2.58
AS_OF = "2026-11-01T00:00:00Z"
REPORTED_DATES = 30  # the last statement dates exported as "reported"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    rss_kib: int


NIGHT_BEFORE, NIGHT = "2026-10-01T02:30:00Z", "2026-10-02T02:30:00Z"  # the incremental modes' two nights
MODES = {
    "default": [],
    "no-xlsx": ["--no-xlsx"],
    "nightly": ["--days-back", "1"],
    "incremental": ["--days-back", "1"],
    "incremental-full": ["--days-back", "1", "--full"],
    "night-default": [],
}
AFTER_A_NIGHT = ("incremental", "incremental-full")  # run on a copy of the run of the night before
AS_OF_NIGHT = (*AFTER_A_NIGHT, "night-default")
DEFAULT_CASES = ("1000000:1", "1000000:2", "1000000:20", "2580000:2", "10000000:1", "10000000:2", "10000000:20")


@dataclass(frozen=True)
class SizeResult:
    lines: int
    job: list[Measurement]
    floor: list[Measurement]
    loads: list[float]  # the 1-minute load average as each job started: other work skews the figures
    shops: int = 0
    orders: int = 0
    statements: int = 0
    mode: str = "default"

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


def user_env(home: Path) -> dict[str, str]:
    """The environment of a user who configured nothing: no Prefect server (each run starts its
    temporary one), Prefect's home (its database) kept across the runs under `--work`."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "PREFECT_HOME": str(home)}


def job_command(input_dir: Path, out_dir: Path, mode: str) -> list[str]:
    as_of = NIGHT if mode in AS_OF_NIGHT else AS_OF
    return [
        str(BIN / "settle"),
        "run",
        "--input",
        str(input_dir),
        "--out",
        str(out_dir),
        "--as-of",
        as_of,
        *MODES[mode],
    ]


def night_before(case: Path, input_dir: Path, env: dict[str, str]) -> Path:
    """The output of a full run as of NIGHT_BEFORE (made once per case, unmeasured): the state
    the incremental modes start from."""
    base = case / "night-before"
    if not (base / "current" / "manifest.json").exists():
        shutil.rmtree(base, ignore_errors=True)
        cmd = [str(BIN / "settle"), "run", "--input", str(input_dir), "--out", str(base), "--as-of", NIGHT_BEFORE]
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    return base


def ensure_inputs(case: Path, orders: int, shops: int, seed: int) -> Path:
    """`case/input/`, generated unless cached."""
    input_dir = case / "input"
    if not (input_dir / "order_lines.parquet").exists():
        partial = case / "input.tmp"
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            [
                str(BIN / "settle"),
                "generate",
                "--orders",
                str(orders),
                "--shops",
                str(shops),
                "--seed",
                str(seed),
                "--out",
                str(partial),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        os.replace(partial, input_dir)
    return input_dir


def ensure_reported(case: Path, input_dir: Path, env: dict[str, str]) -> float | None:
    """`input/reported/` from an unmeasured run of the job, unless cached; the run's wall time."""
    if (input_dir / "reported").is_dir():
        return None
    prepare = case / "prepare"
    shutil.rmtree(prepare, ignore_errors=True)
    wall = measure(job_command(input_dir, prepare, "no-xlsx"), env, case / "logs", "prepare").wall_s
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
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args], check=True, capture_output=True, text=True
    )
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
            con.execute(
                f"COPY (SELECT * EXCLUDE (shop_id) FROM reported WHERE shop_id = {sql_str(shop)}) TO {sql_str(target)} (FORMAT parquet, COMPRESSION zstd)"
            )


def output_tables(current: Path) -> list[dict]:
    """Every Parquet table the job published (file or directory): name, rows, columns and types."""
    tables = []
    with duckdb.connect() as con:
        for path in sorted(current.iterdir()):
            if path.name == "exports" or not (
                path.suffix == ".parquet" or (path.is_dir() and any(path.rglob("*.parquet")))
            ):
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
            values = ", ".join(
                f'{floor_value(i, dtype)} AS "{name}"' for i, (name, dtype) in enumerate(table["columns"])
            )
            cycles = max(1, math.ceil(table["rows"] / lines))
            target = out / f"{table['name']}.parquet"
            con.execute(
                f"COPY (SELECT {values} FROM range({cycles}), order_lines LIMIT {table['rows']}) "
                f"TO {sql_str(target)} (FORMAT parquet, COMPRESSION zstd)"
            )


def parquet_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.resolve().rglob("*.parquet"))


def benchmark_case(lines: int, shops: int, args: argparse.Namespace, env: dict[str, str]) -> list[SizeResult]:
    """Prepare (cached) and measure one case: each mode of the job, then the floor, `--repeat` times."""
    orders = round(lines / LINES_PER_ORDER)
    case = args.work / f"orders-{orders}-shops-{shops}-seed-{args.seed}"
    input_dir = ensure_inputs(case, orders, shops, args.seed)
    prepare_s = ensure_reported(case, input_dir, env)
    with duckdb.connect() as con:
        (order_lines,) = con.execute(
            f"SELECT count(*) FROM read_parquet({sql_str(input_dir / 'order_lines.parquet')})"
        ).fetchone()
    print(
        f"{order_lines:,} order lines ({orders:,} orders, {shops} shops) in {input_dir}; reported exports: "
        + ("cached" if prepare_s is None else f"prepare run {prepare_s:.1f} s"),
        flush=True,
    )
    jobs: dict[str, list[Measurement]] = {mode: [] for mode in args.modes}
    floor, loads, statements = [], [], 0
    for _ in range(args.repeat):
        for mode in args.modes:
            out = case / f"job-{mode}"
            shutil.rmtree(out, ignore_errors=True)
            if mode in AFTER_A_NIGHT:
                shutil.copytree(night_before(case, input_dir, env), out, symlinks=True)
            loads.append(os.getloadavg()[0])
            jobs[mode].append(measure(job_command(input_dir, out, mode), env, case / "logs", f"job-{mode}"))
            manifest = json.loads((out / "current" / "manifest.json").read_text())
            rows_out = manifest["rows_out"]
            if mode == "default" and not rows_out.get("recon_statements"):
                raise SystemExit(
                    f"the job reconciled no statement: are {input_dir / 'reported'} read? rows_out: {rows_out}"
                )
            xlsx = sum(1 for _ in (out / "current" / "exports").rglob("*.xlsx"))
            priced = manifest.get("repriced")
            print(
                f"  {mode}: load {loads[-1]:.1f}, {jobs[mode][-1].wall_s:.1f} s, {jobs[mode][-1].rss_kib / 2**20:.2f} GiB, "
                f"{rows_out['statements']:,} statements, {xlsx:,} XLSX files, {rows_out['recon_breaks']:,} recon breaks"
                + (f", {priced['orders_priced']:,} of {priced['orders_staged']:,} orders priced" if priced else ""),
                flush=True,
            )
            if mode == args.modes[0]:
                statements = rows_out["statements"]
        first = case / f"job-{args.modes[0]}"
        floor_out = case / "floor"
        shutil.rmtree(floor_out, ignore_errors=True)
        floor_out.mkdir(parents=True)
        spec = {
            "inputs": {p.stem: str(p) for p in sorted(input_dir.glob("*.parquet"))},
            "outputs": json.loads(_in_child("--output-tables", str(first / "current"))),
            "out": str(floor_out),
        }
        spec_path = case / "floor-spec.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        floor.append(
            measure(
                [sys.executable, str(Path(__file__).resolve()), "--floor", str(spec_path)], env, case / "logs", "floor"
            )
        )
        print(
            f"  floor {floor[-1].wall_s:.1f} s, {floor[-1].rss_kib / 2**20:.2f} GiB, {parquet_bytes(floor_out) / 1e6:.0f} MB Parquet",
            flush=True,
        )
    return [SizeResult(order_lines, jobs[mode], floor, loads, shops, orders, statements, mode) for mode in args.modes]


def markdown(results: list[SizeResult]) -> str:
    """The results table: one row per case and mode, against the case's floor."""
    rows = [
        "| order lines | orders | shops | statements | command | job wall s | job peak RSS GiB | floor wall s | floor peak RSS GiB | job/floor wall | job/floor RSS | max load |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        job_rss, floor_rss = max(m.rss_kib for m in r.job), max(m.rss_kib for m in r.floor)
        rows.append(
            f"| {r.lines:,} | {r.orders:,} | {r.shops} | {r.statements:,} | {r.mode} | {r.job_wall:.1f} | {job_rss / 2**20:.2f} | {r.floor_wall:.1f} | "
            f"{floor_rss / 2**20:.2f} | {r.job_wall / r.floor_wall:.2f}× | {job_rss / floor_rss:.1f}× | {max(r.loads):.1f} |"
        )
    return "\n".join(rows) + "\n"


def parse_case(text: str) -> tuple[int, int]:
    lines, _, shops = text.partition(":")
    try:
        return int(lines), int(shops or 20)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LINES:SHOPS (e.g. 1000000:2)") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case",
        type=parse_case,
        action="append",
        help=f"LINES:SHOPS, repeatable (default: {' '.join(DEFAULT_CASES)}).",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(MODES),
        default=list(MODES),
        help="Commands measured per case (the first one's outputs size the floor).",
    )
    parser.add_argument("--seed", type=int, default=1, help="Seed of the generated inputs.")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/settle-bench"),
        help="Cache of inputs and reported exports; run outputs.",
    )
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
    env = user_env(args.work / "prefect-home")
    results = []
    for lines, shops in args.case or [parse_case(c) for c in DEFAULT_CASES]:
        results += benchmark_case(lines, shops, args, env)
        print("\n" + markdown(results), flush=True)
    table = markdown(results)
    if args.markdown:
        command = shlex.join([sys.executable, *sys.argv])
        machine = (
            f"{os.cpu_count()} CPUs, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
        )
        with args.markdown.open("a") as f:
            f.write(f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n`{command}` ({machine}).\n\n{table}")


if __name__ == "__main__":
    main()
