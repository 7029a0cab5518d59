"""Reading a sources directory (docs/importing.md "The sources directory"): every file a seller
downloaded or keeps, by where it lies, into the frames transforms/importing.py maps.

Files are found by name, read once per distinct content (a copy with the same bytes is counted,
not read again), and named in every output by their path inside the sources directory, never by
an absolute path. A file that cannot be read at all stops the import with a message naming it.
"""

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ingest.open_api import read_order_pages, read_return_pages
from ingest.seller_center import read_order_export
from ingest.side_files import read_catalog, read_order_attributes, read_promotions_template
from transforms.importing import SOURCE_COLUMNS, SourceRows, empty_attributes, empty_catalog, empty_refunds, empty_rows
from transforms.seller_center import REJECTED_SCHEMA

UTC = pl.Datetime("us", "UTC")
EXPORT_SUFFIXES = (".csv", ".xlsx")
# What may name a shop's directory: the IDs TikTok gives shops, and the project's own (`SHOP01`).
SHOP_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SIDE_NAMES = ("promotions", "promotions.xlsx", "catalog.csv", "catalog.xlsx", "order_attributes.csv")


class SourcesError(ValueError):
    """A sources directory that cannot be imported; the message names the file or directory."""


@dataclass
class SourceFiles:
    """What was found: each distinct file once (`files`: relative path → sha256), copies apart."""

    files: dict[str, str] = field(default_factory=dict)
    copies: dict[str, str] = field(default_factory=dict)  # a copy's path → the path read instead
    shops: list[str] = field(default_factory=list)
    statements: dict[str, list[Path]] = field(default_factory=dict)  # shop → reported statement files
    # A side file's rows (the template's, the catalog's, the attributes'): read, imported, rejected.
    side_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, name: str, imported: int, rejected: int) -> None:
        self.side_counts[name] = {
            "read": imported + rejected,
            "imported": imported,
            "superseded": 0,
            "rejected": rejected,
        }


@dataclass(frozen=True)
class Sources:
    rows: SourceRows
    promotions: dict[str, pl.DataFrame]
    found: SourceFiles
    pending_returns: int


def local_time_files(sources: Path) -> list[Path]:
    """The source files whose times are local without an offset (order exports, the template):
    they need a time zone."""
    exports = [p for p in sources.glob("*/orders/*") if p.suffix.lower() in EXPORT_SUFFIXES]
    templates = [p for name in ("promotions.xlsx", "promotions") if (p := sources / name).exists()]
    return sorted(exports) + templates


def _relative(sources: Path) -> pl.Expr:
    return pl.col("file").str.strip_prefix(str(sources) + "/")


def read_sources(sources: Path, timezone: str | None, currency: str = "USD") -> Sources:
    if not sources.is_dir():
        raise SourcesError(f"sources directory {sources} does not exist")
    found = SourceFiles()

    def distinct(paths: list[Path]) -> list[Path]:
        """The paths to read: each content once (the first path in sorted order), copies noted."""
        kept = []
        by_hash: dict[str, str] = {}
        for path in sorted(paths):
            name = str(path.relative_to(sources))
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in by_hash:
                found.copies[name] = by_hash[digest]
                continue
            by_hash[digest] = name
            found.files[name] = digest
            kept.append(path)
        return kept

    shop_dirs = sorted(p for p in sources.iterdir() if p.is_dir() and p.name not in SIDE_NAMES)
    exports, order_pages, return_pages = [], [], []
    for shop_dir in shop_dirs:
        if not SHOP_ID.match(shop_dir.name):
            raise SourcesError(f"{shop_dir}: not a shop ID (letters, digits, '.', '_' or '-', at most 64)")
        found.shops.append(shop_dir.name)
        orders_dir = shop_dir / "orders"
        if orders_dir.is_dir():
            files = [p for p in orders_dir.iterdir() if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES]
            exports += [(shop_dir.name, p) for p in distinct(files)]
        for kind, bucket in (("orders", order_pages), ("returns", return_pages)):
            pages = shop_dir / "api" / kind
            if pages.is_dir():
                bucket += [(shop_dir.name, p) for p in distinct(sorted(pages.glob("*.json")))]
        statements = shop_dir / "statements"
        if statements.is_dir():
            found.statements[shop_dir.name] = sorted(p for p in statements.iterdir() if p.is_file())
    if exports and timezone is None:
        raise SourcesError(
            f"{exports[0][1]}: an order export's times carry no offset; say whose they are with --timezone "
            "(the shop's IANA time zone, e.g. America/Los_Angeles)"
        )

    rows, rejected, rejected_orders, refunds = [empty_rows()], [], [], [empty_refunds()]
    pending = 0
    for shop, path in exports:  # a loop over files
        export = read_order_export(path, timezone)
        rows.append(
            export.rows.with_columns(
                pl.lit(shop).alias("shop_id"),
                pl.lit(None, pl.String).alias("product_id"),
                pl.lit(None, pl.String).alias("currency"),
                pl.lit(None, UTC).alias("version"),
            ).select(SOURCE_COLUMNS)
        )
        rejected.append(export.rejected)
        rejected_orders.append(export.rejected_orders)
    for shop in found.shops:
        mine = [p for s, p in order_pages if s == shop]
        if mine:
            api = read_order_pages(mine)
            rows.append(api.rows.with_columns(pl.lit(shop).alias("shop_id")).select(SOURCE_COLUMNS))
            rejected.append(api.rejected)
            rejected_orders.append(api.rejected_orders)
        mine = [p for s, p in return_pages if s == shop]
        if mine:
            returns = read_return_pages(mine)
            refunds.append(returns.refunds.with_columns(pl.lit(shop).alias("shop_id")).select(empty_refunds().columns))
            rejected.append(returns.rejected)
            pending += returns.pending.height

    promotions: dict[str, pl.DataFrame] = {}
    template = next((sources / n for n in ("promotions.xlsx", "promotions") if (sources / n).exists()), None)
    if template is not None:
        if timezone is None:
            raise SourcesError(f"{template}: say whose local times the template holds with --timezone")
        _note(found, sources, template)
        read = read_promotions_template(template, timezone)
        promotions = read.tables
        rejected.append(_side_rejected(read.rejected))
        for table, frame in promotions.items():
            bad = read.rejected.filter(pl.col("sheet") == table).height
            name = template.name if template.is_file() else f"{template.name}/{table}.csv"
            if template.is_file():
                previous = found.side_counts.get(name, {"imported": 0, "rejected": 0})
                found.count(name, previous["imported"] + frame.height, previous["rejected"] + bad)
            elif (template / f"{table}.csv").exists():
                found.count(name, frame.height, bad)
    catalog, attributes = empty_catalog(), empty_attributes()
    path = next((sources / n for n in ("catalog.csv", "catalog.xlsx") if (sources / n).is_file()), None)
    if path is not None:
        _note(found, sources, path)
        read = read_catalog(path)
        catalog = read.frame.select("sku_id", "product_id")
        rejected.append(_side_rejected(read.rejected))
        found.count(path.name, read.frame.height, read.rejected.height)
    if (sources / "order_attributes.csv").is_file():
        path = sources / "order_attributes.csv"
        _note(found, sources, path)
        read = read_order_attributes(path)
        attributes = read.frame.rename(
            {"label_cost_cents": "label_cost"}, strict=False
        )  # cents, as the mapping reads it
        rejected.append(_side_rejected(read.rejected))
        found.count(path.name, read.frame.height, read.rejected.height)

    relative = _relative(sources)
    rows_frame = pl.concat(rows).with_columns(relative)
    return Sources(
        rows=SourceRows(
            rows=rows_frame,
            rejected=(
                pl.concat([r.cast(REJECTED_SCHEMA) for r in rejected]) if rejected else _no_rejected()
            ).with_columns(relative),
            rejected_orders=(
                pl.concat([r.select("file", "order_id") for r in rejected_orders])
                if rejected_orders
                else pl.DataFrame(schema={"file": pl.String, "order_id": pl.String})
            ).with_columns(relative),
            refunds=pl.concat(refunds).with_columns(relative),
            catalog=catalog,
            attributes=attributes,
            currency=currency,
        ),
        promotions=promotions,
        found=found,
        pending_returns=pending,
    )


def _note(found: SourceFiles, sources: Path, path: Path) -> None:
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for file in files:
        if file.is_file():
            found.files[str(file.relative_to(sources))] = hashlib.sha256(file.read_bytes()).hexdigest()


def _side_rejected(frame: pl.DataFrame) -> pl.DataFrame:
    """A side file's rejected rows in the import's columns: the sheet, if any, named with the file."""
    if "sheet" in frame.columns:
        frame = frame.with_columns(
            pl.when(pl.col("sheet").is_not_null())
            .then(pl.format("{} [{}]", "file", "sheet"))
            .otherwise(pl.col("file"))
            .alias("file")
        )
    return frame.select(list(REJECTED_SCHEMA)).cast(REJECTED_SCHEMA)


def _no_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_SCHEMA)
