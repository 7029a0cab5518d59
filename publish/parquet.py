"""Writing Parquet: published files, the run's scratch, and tables published one file per date."""

import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import polars as pl

SCRATCH_ROW_GROUP = 65_536
# Rows of a statement-dated table held at once while publishing it by date: a bound on memory;
# smaller batches decode more of each part's row groups twice (BENCHMARKS.md, "Choices in the code").
BY_DATE_BATCH_ROWS = 1_000_000
BY_DATE_WRITERS = 4  # date files written at once (small files are fixed cost that one thread cannot spread)


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """A published Parquet file: zstd level 1, which writes faster than Polars' default level 3
    and, on these tables, smaller files too (BENCHMARKS.md, "Choices in the code")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writing(path):
        frame.write_parquet(path, compression="zstd", compression_level=1, statistics=True)


def write_scratch(frame: pl.DataFrame, path: Path, sorted_by: str | None = None) -> None:
    """Intermediate data read back by the same run: fast to write (lz4), never published.

    With `sorted_by`, the rows are sorted by that column (stable) and carry row-group
    statistics, so a reader of a range of its values skips the rest (`write_by_date`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writing(path):
        if sorted_by is None:
            frame.write_parquet(path, compression="lz4", statistics=False)
        else:
            ordered = frame if frame[sorted_by].is_sorted() else frame.sort(sorted_by, maintain_order=True)
            ordered.write_parquet(path, compression="lz4", statistics=True, row_group_size=SCRATCH_ROW_GROUP)


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Polars reports a failed write (a full disk, say) as a ComputeError naming the OS error: made
    the OSError it is, naming the file, which the command line turns into one line."""
    try:
        yield
    except pl.exceptions.PolarsError as exc:
        cause = re.search(r"os error (\d+)", str(exc))
        if cause is None:
            raise
        code = int(cause.group(1))
        raise OSError(code, os.strerror(code), str(path)) from exc


def date_batches(counts: pl.DataFrame, column: str, batch_rows: int) -> list[tuple[object, object]]:
    """Consecutive ranges `(first, last)` of the values of `column` (`counts`: each value and its
    rows, `len`, sorted by value) holding about `batch_rows` rows each: a whole date never splits."""
    batches = counts.with_columns(((pl.col("len").cum_sum() - pl.col("len")) // max(batch_rows, 1)).alias("_batch"))
    ranges = batches.group_by("_batch", maintain_order=True).agg(
        pl.col(column).min().alias("first"), pl.col(column).max().alias("last")
    )
    return list(zip(ranges["first"].to_list(), ranges["last"].to_list(), strict=True))


def write_by_date(parts: list[Path], directory: Path, column: str, batch_rows: int = BY_DATE_BATCH_ROWS) -> int:
    """One Parquet file per value of `column` over all `parts` (`<dir>/<column>=<value>/data.parquet`,
    or `<dir>/empty.parquet` if there are no rows); returns the number of files.

    One file per date for the whole run, not per partition: each Parquet file costs milliseconds
    of fixed encoding work, so a partition per date would multiply that by the partitions. Rows
    come in part order, then in their order within a part; dates are read `batch_rows` at a time,
    so memory stays bounded whatever the run's size.
    """
    if directory.exists():  # a retried publish starts over
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    counts = pl.scan_parquet(parts).group_by(column).len().sort(column).collect()
    if counts.height == 0:
        write_parquet(pl.scan_parquet(parts).head(0).collect(), directory / "empty.parquet")
        return 1
    for low, high in date_batches(counts, column, batch_rows):
        # Each part is sorted by `column`, so a date's rows are one run of it: the date's file is
        # the concatenation of those runs in part order (slices, not a gather of every column).
        runs: dict[object, list[pl.DataFrame]] = {}
        for part in parts:
            frame = pl.scan_parquet(part).filter(pl.col(column).is_between(pl.lit(low), pl.lit(high))).collect()
            lengths = frame.select(pl.col(column).rle()).unnest(column)
            starts = lengths["len"].cum_sum() - lengths["len"]
            for value, start, length in zip(lengths["value"], starts, lengths["len"], strict=True):
                runs.setdefault(value, []).append(frame.slice(start, length))
        # Files of a few rows are all fixed cost (a Polars write is a whole streaming query), and
        # that part does not use both cores: several files are written at once.
        with ThreadPoolExecutor(max_workers=BY_DATE_WRITERS) as pool:
            list(
                pool.map(
                    lambda value, runs=runs: write_parquet(
                        pl.concat(runs[value], rechunk=False), directory / f"{column}={value}" / "data.parquet"
                    ),
                    runs,
                )
            )
    return counts.height
