"""Are two output directories the same? For restructurings that must change no byte.

    .venv/bin/python benchmarks/same_outputs.py OUT_BEFORE OUT_AFTER

Compares every file under each `current/` byte for byte (the manifest without what differs from
run to run: run ID, start, timings, parameters, recovery notes), and every table of each
`settlement.duckdb` row for row, in a sorted order (database tables are sets). Exit 1 on a difference.
"""

import hashlib
import json
import sys
from pathlib import Path

import duckdb

RUN_SPECIFIC = ("run_id", "started_at", "partitions", "parameters", "recovered")


def _files(out: Path) -> dict[str, Path]:
    current = (out / "current").resolve()
    return {str(p.relative_to(current)): p for p in sorted(current.rglob("*")) if p.is_file()}


def _manifest(path: Path) -> dict:
    manifest = json.loads(path.read_text())
    return {k: v for k, v in manifest.items() if k not in RUN_SPECIFIC}


def _tables(database: Path) -> dict[str, str]:
    with duckdb.connect(str(database), read_only=True) as con:
        names = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_name <> 'settle_runs' ORDER BY 1"
            ).fetchall()
        ]
        # Names come from the database's own catalogue, quoted; ORDER BY ALL gives sets one order.
        return {
            name: hashlib.sha256(
                repr(con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()).encode()
            ).hexdigest()
            for name in names
        }


def main() -> None:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    files_before, files_after = _files(before), _files(after)
    differ = sorted(set(files_before) ^ set(files_after))
    for name in sorted(set(files_before) & set(files_after)):
        if name == "manifest.json":
            same = _manifest(files_before[name]) == _manifest(files_after[name])
        else:
            same = files_before[name].read_bytes() == files_after[name].read_bytes()
        if not same:
            differ.append(name)
    tables_before, tables_after = _tables(before / "settlement.duckdb"), _tables(after / "settlement.duckdb")
    tables = sorted(n for n in set(tables_before) | set(tables_after) if tables_before.get(n) != tables_after.get(n))
    print(
        f"{len(files_before)} files and {len(tables_before)} tables compared; differing files: {differ[:20]}; differing tables: {tables}"
    )
    sys.exit(1 if differ or tables else 0)


if __name__ == "__main__":
    main()
