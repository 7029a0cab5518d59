"""Reading the input directory: the docs/stacking.md tables, as Parquet files named after them."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
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


def read_inputs(input_dir: Path) -> dict[str, pl.DataFrame]:
    """Read every input table present; a missing required file or unreadable file stops the run."""
    frames: dict[str, pl.DataFrame] = {}
    for table, path in check_inputs(input_dir).items():
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
