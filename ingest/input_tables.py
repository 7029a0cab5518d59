"""Reading the input directory: the docs/stacking.md tables, as Parquet files named after them."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas.inputs import INPUT_TABLES, OPTIONAL_TABLES
from transforms.staging import InputContractError


class InputError(RuntimeError):
    """An input problem that stops the run; the message names the file (and column)."""


def input_path(input_dir: Path, table: str) -> Path:
    return input_dir / f"{table}.parquet"


def check_inputs(input_dir: Path) -> dict[str, Path]:
    """The input files present, by table, once each is known to be Parquet with its required
    columns (from the footers alone, in milliseconds); the first problem stops the run."""
    if not input_dir.is_dir():
        raise InputError(f"input directory {input_dir} does not exist")
    paths = {}
    for table in INPUT_TABLES:
        path = input_path(input_dir, table)
        if not path.exists():
            if table in OPTIONAL_TABLES:
                continue
            raise InputError(f"{path}: required input file is missing")
        with _naming(path):
            columns = pl.read_parquet_schema(path)
        for col in INPUT_TABLES[table]:
            if col.required and col.name not in columns:
                raise InputError(f"{path}: required column '{col.name}' is missing")
        paths[table] = path
    return paths


CHUNKED_TABLES = ("orders", "order_lines", "refunds")  # the tables that grow with the orders
CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class ParquetChunks:
    """A Parquet file's rows in file order, `rows` at a time (at least one chunk, empty for an
    empty file), read as they are iterated; a read that fails names the file."""

    path: Path
    rows: int

    def __iter__(self) -> Iterator[pl.DataFrame]:
        with _naming(self.path):
            scan = pl.scan_parquet(self.path)
            total = scan.select(pl.len()).collect().item()
        for offset in range(0, max(total, 1), self.rows):
            with _naming(self.path):
                chunk = scan.slice(offset, self.rows).collect()
            yield chunk


def read_inputs(input_dir: Path, chunk_rows: int | None = None) -> dict[str, pl.DataFrame | ParquetChunks]:
    """Read every input table present; a missing required file or unreadable file stops the run.

    With `chunk_rows`, the tables that grow with the orders are read when staged, that many
    rows at a time (`ParquetChunks`): their raw text is never held whole."""
    frames: dict[str, pl.DataFrame | ParquetChunks] = {}
    for table, path in check_inputs(input_dir).items():
        if chunk_rows is not None and table in CHUNKED_TABLES:
            frames[table] = ParquetChunks(path, chunk_rows)
            continue
        with _naming(path):
            frames[table] = pl.read_parquet(path)
    return frames


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as Parquet ({type(exc).__name__}: {exc})") from exc


def contract_error_message(input_dir: Path, error: InputContractError) -> str:
    return f"{input_path(input_dir, error.table)}: {error}"


def fingerprints(input_dir: Path) -> dict[str, str]:
    """sha256 of every input file, by name (the manifest's record of what was read)."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(input_dir.glob("*.parquet"))}


# TikTok's own split of every discount, as `settle import` writes it (docs/importing.md).
REPORTED_DISCOUNTS = "reported_discounts"
REPORTED_DISCOUNTS_SCHEMA = {
    "order_id": pl.String(),
    "sku_id": pl.String(),
    "seller_discount": pl.Decimal(18, 2),
    "platform_discount": pl.Decimal(18, 2),
    "assumed": pl.String(),
}


def read_reported_discounts(input_dir: Path) -> pl.DataFrame | None:
    """TikTok's split, when the input has one (an imported input does); its columns checked."""
    path = input_path(input_dir, REPORTED_DISCOUNTS)
    if not path.exists():
        return None
    with _naming(path):
        frame = pl.read_parquet(path)
    for name, dtype in REPORTED_DISCOUNTS_SCHEMA.items():
        if name not in frame.columns:
            raise InputError(f"{path}: required column '{name}' is missing")
        if frame.schema[name] != dtype:
            raise InputError(f"{path}: column '{name}' is {frame.schema[name]}, not {dtype}")
    return frame.select(list(REPORTED_DISCOUNTS_SCHEMA))
