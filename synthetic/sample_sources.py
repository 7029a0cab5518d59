"""Build `data_samples/sources/`: the files a seller of SHOP-A and SHOP-B would download, made from
the accepted rows of the Parquet samples, for `settle import` (docs/importing.md).

Run `.venv/bin/python -m synthetic.sample_sources`; it rewrites every file under
`data_samples/sources/` except its README.md, byte-identical on every run (no clock, no network,
no randomness). data_samples/sources/README.md says what each file is and which differences in
TikTok's split are planted, and how the run finds them.

- The samples are read and staged like a run reads them; only the rows staging accepts are used
  (the samples carry bad rows on purpose, and a source file never carries a row the sample run
  rejects).
- IDs: the import reads digit-only order, SKU and product IDs; `id_maps` gives the one mapping
  (order `O-4002` → `5764000000004002`; SKUs and products numbered in sorted order,
  `1729…`, `1731…`), and the refund IDs the import gives each sample refund.
- SHOP-A is Seller Center order exports (two years, plus an earlier overlapping snapshot), SHOP-B
  Open API order and return pages; `promotions.xlsx`, `catalog.csv` and `order_attributes.csv`
  are the side files. TikTok's split is the engine's own (the sample run's discount lines) with a
  few planted differences (`PLANTS`).

Frames in, frames out, except `build` and the writers it calls; loops are over a handful of files.
"""

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from ingest.input_tables import read_inputs
from synthetic.sources import (
    order_api_pages,
    order_export_frame,
    return_api_pages,
    split_from_discount_lines,
    write_order_export_csv,
    write_order_export_xlsx,
    write_pages,
)
from synthetic.template import write_template
from transforms.pipeline import compute_staged, cut_at_as_of, known_orders
from transforms.staging import Staged, stage

__all__ = ["LEFT_OUT", "PLANTS", "Plant", "build", "id_maps", "main", "tiktok_split"]

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = ROOT / "data_samples"
OUT_DIR = SAMPLES_DIR / "sources"
README = "README.md"  # hand-written: kept when the directory is rebuilt

TIMEZONE = "America/Los_Angeles"  # the shops' zone: the export's local times, `settle import --timezone`
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the samples' recommended as_of (data_samples/README.md)
EXPORT_SHOP = "SHOP-A"  # Seller Center order exports
API_SHOP = "SHOP-B"  # Open API pages

ORDER_PREFIX = "5764"  # `O-dddd` → 5764 + the number on 12 digits: 16 digits, like a TikTok order ID
SKU_PREFIX = "1729"  # SKUs: 1729 + position in sorted order (from 1) on 12 digits
PRODUCT_PREFIX = "1731"  # products: 1731 + position in sorted order (from 1) on 12 digits
_ORDER_ID = r"^O-([0-9]{1,12})$"

# SHOP-A orders also in `orders-2026-early.csv`, an export taken before any of them was delivered
# (created 2026-10-24 … 10-26 UTC, delivered 10-28 … 10-30): the 2026 export supersedes it.
EARLY_SNAPSHOT = ("O-0271", "O-0272", "O-0273", "O-0274")

# Orders left out of order_attributes.csv, so that the import assumes their attributes (`assumed`).
# O-1006 was a LIVE sale (PI-04 is live-only): assumed `shop`, the run gives no PI-04 while TikTok
# reports it, a funding break with cause `assumption`. The others were sold in the shop tab by an
# existing buyer without coupons, so the assumption changes no discount (only their affiliate
# commission and label cost, which the import takes as none and 0).
LEFT_OUT = ("O-0029", "O-0128", "O-0172", "O-0246", "O-1006")


@dataclass(frozen=True)
class Plant:
    """A change to TikTok's split of one (order, SKU) (`sku_id` None: the order's shipping), in
    cents added to the seller and platform figures, and what the run should make of it."""

    order_id: str
    sku_id: str | None
    seller_cents: int
    platform_cents: int
    what: str


PLANTS = (
    Plant(
        "O-4002",
        "SKU-B13-LRG",
        550,
        -550,
        "PI-07's $5.50 booked as seller-funded; SHOP-B opted back in at 12:00, the order is 14:00 the same day: "
        "tiktok_owes 5.50, opt_out_timing",
    ),
    Plant(
        "O-0192",
        "SKU-A02-L",
        400,
        -400,
        "$4.00 of PC-10 booked as seller-funded on the SKU whose PI-11 FD-10 blocked: tiktok_owes 4.00, "
        "flash_deal_priority",
    ),
    Plant(
        "O-1011", "SKU-A19-30W", -200, 200, "$2.00 of the seller's PD-04 booked as TikTok's: over_funded 2.00, no cause"
    ),
    Plant(
        "O-5004",
        None,
        150,
        -150,
        "PS-04's $1.50 shipping discount booked as seller-funded: tiktok_owes 1.50 on the shipping, no cause",
    ),
)


# ---------------------------------------------------------------- the samples


def _staged(samples_dir: Path) -> tuple[dict[str, pl.DataFrame], Staged]:
    raw = read_inputs(samples_dir)
    return raw, stage(raw)


def _accepted(raw: dict[str, pl.DataFrame], staged: Staged, table: str) -> pl.DataFrame:
    """The raw rows of `table` that staging accepted, in file order and file types (staged rows
    keep `row_number`, the row's place in the file from 1)."""
    kept = staged.tables[table].select("row_number")
    return (
        raw[table]
        .with_row_index("row_number", offset=1)
        .with_columns(pl.col("row_number").cast(pl.Int64))
        .join(kept, on="row_number", how="semi", maintain_order="left")
        .drop("row_number")
    )


def _order_map(order_ids: pl.Series) -> dict[str, str]:
    odd = order_ids.filter(~order_ids.str.contains(_ORDER_ID))
    if odd.len():
        raise ValueError(f"orders.order_id: {odd[0]!r} is not O-<digits>; the ID scheme needs that shape")
    digits = order_ids.str.extract(_ORDER_ID, 1).str.zfill(12)
    return dict(zip(order_ids.to_list(), (ORDER_PREFIX + digits).to_list(), strict=True))


def _numbered(ids: pl.Series, prefix: str) -> dict[str, str]:
    ordered = ids.drop_nulls().unique().sort()
    return {value: f"{prefix}{i:012d}" for i, value in enumerate(ordered.to_list(), start=1)}


def _maps(tables: dict[str, pl.DataFrame]) -> dict[str, dict[str, str]]:
    return {
        "order_id": _order_map(tables["orders"]["order_id"]),
        "sku_id": _numbered(tables["order_lines"]["sku_id"], SKU_PREFIX),
        "product_id": _numbered(
            pl.concat([tables["order_lines"]["product_id"], tables["promotion_products"]["product_id"]]), PRODUCT_PREFIX
        ),
    }


def _mapped(frame: pl.DataFrame, maps: dict[str, dict[str, str]]) -> pl.DataFrame:
    """`frame` with every ID column of `maps` it has replaced by its digits (strictly: an ID
    without a mapping stops)."""
    return frame.with_columns(
        pl.col(column).replace_strict(mapping, return_dtype=pl.String)
        for column, mapping in maps.items()
        if column in frame.columns
    )


def _source_refunds(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The refunds of `tables` (IDs already mapped) named as the sources can say them: every
    refund of an order with all its units refunded before delivery is a cancellation,
    `<order>:<sku>:cancel` (the Cancelled status of both sources); SHOP-A's others are returns,
    `<order>:<sku>:return` (the export's `Sku Quantity of return`); SHOP-B's others keep their ID
    (one Return API return each). `sample_refund_id` keeps the sample's ID."""
    orders = tables["orders"].select("order_id", "shop_id", "delivered_at")
    units = tables["order_lines"].group_by("order_id").agg(pl.col("quantity").sum().alias("_units"))
    before = pl.col("delivered_at").is_null() | (pl.col("refunded_at") < pl.col("delivered_at"))
    units_before = pl.when(before).then(pl.col("quantity")).otherwise(0).sum().over("order_id")
    refunds = (
        tables["refunds"]
        .join(orders, on="order_id", how="left", maintain_order="left")
        .join(units, on="order_id", how="left", maintain_order="left")
        .with_columns((units_before >= pl.col("_units")).alias("_cancelled"))
    )
    name = (
        pl.when(pl.col("_cancelled"))
        .then(pl.format("{}:{}:cancel", "order_id", "sku_id"))
        .when(pl.col("shop_id") == EXPORT_SHOP)
        .then(pl.format("{}:{}:return", "order_id", "sku_id"))
        .otherwise(pl.col("refund_id"))
    )
    return refunds.select(
        name.alias("refund_id"),
        pl.exclude("refund_id", "delivered_at", "_units", "_cancelled"),
        pl.col("refund_id").alias("sample_refund_id"),
    )


def _samples(samples_dir: Path) -> tuple[dict[str, pl.DataFrame], Staged]:
    """The accepted rows of every sample table (sample IDs) and the staging."""
    raw, staged = _staged(samples_dir)
    names = ("orders", "order_lines", "refunds", "promotions", "promotion_products", "opt_out_events")
    return {table: _accepted(raw, staged, table) for table in names}, staged


def _sources(tables: dict[str, pl.DataFrame], maps: dict[str, dict[str, str]]) -> dict[str, pl.DataFrame]:
    """The sample tables as the sources carry them: IDs mapped, refunds named (`_source_refunds`,
    with `shop_id`)."""
    sources = {name: _mapped(frame, maps) for name, frame in tables.items()}
    sources["refunds"] = _source_refunds(sources)
    return sources


def tiktok_split(staged: Staged) -> pl.DataFrame:
    """TikTok's split as the sources report it (sample IDs): the engine's own discount lines of
    the staged samples per (order, SKU) and per order shipping (`sku_id` null), in cents, with
    `PLANTS` added. A plant on a key the engine gives no discount, or one making a figure
    negative, stops."""
    results = compute_staged(cut_at_as_of(staged, AS_OF), known_orders(staged), AS_OF)
    split = split_from_discount_lines(results.priced.discount_lines)
    plants = pl.DataFrame(
        [(p.order_id, p.sku_id, p.seller_cents, p.platform_cents) for p in PLANTS],
        schema={"order_id": pl.String, "sku_id": pl.String, "_seller": pl.Int64, "_platform": pl.Int64},
        orient="row",
    )
    missing = plants.join(split, on=["order_id", "sku_id"], how="anti", nulls_equal=True)
    if missing.height:
        raise ValueError(f"PLANTS: ({missing['order_id'][0]}, {missing['sku_id'][0]}) has no discount to move")
    split = split.join(plants, on=["order_id", "sku_id"], how="left", nulls_equal=True, maintain_order="left").select(
        "order_id",
        "sku_id",
        (pl.col("seller_discount_cents") + pl.col("_seller").fill_null(0)).alias("seller_discount_cents"),
        (pl.col("platform_discount_cents") + pl.col("_platform").fill_null(0)).alias("platform_discount_cents"),
    )
    negative = split.filter((pl.col("seller_discount_cents") < 0) | (pl.col("platform_discount_cents") < 0))
    if negative.height:
        raise ValueError(f"PLANTS: the split of order {negative['order_id'][0]} would be negative")
    return split


# ---------------------------------------------------------------- IDs


def id_maps(samples_dir: Path = SAMPLES_DIR) -> dict[str, dict[str, str]]:
    """Sample ID → source ID, per column: `order_id`, `sku_id`, `product_id` (the digits the
    sources carry), and `refund_id` (the refund ID the import gives each sample refund: SHOP-A
    returns `<order>:<sku>:return`, cancellations `<order>:<sku>:cancel`, SHOP-B returns
    `<return_id>:<sku>`). Every mapping but `refund_id` is one-to-one (two returns of one SKU in
    the export are one refund)."""
    tables, _ = _samples(samples_dir)
    maps = _maps(tables)
    sources = _sources(tables, maps)
    api = sources["refunds"].filter((pl.col("shop_id") == API_SHOP) & ~pl.col("refund_id").str.ends_with(":cancel"))
    # return_api_pages keeps the refunds' order: its n-th return is the n-th refund given.
    pages = return_api_pages(api, sources["orders"])
    returns = [found for page in pages for found in page["data"]["return_orders"]]
    imported = {
        sample: f"{found['return_id']}:{sku}"
        for sample, sku, found in zip(api["sample_refund_id"], api["sku_id"], returns, strict=True)
    }
    others = sources["refunds"].filter(~pl.col("sample_refund_id").is_in(list(imported)))
    imported |= dict(zip(others["sample_refund_id"], others["refund_id"], strict=True))
    return {**maps, "refund_id": imported}


# ---------------------------------------------------------------- the files


def _shop(tables: dict[str, pl.DataFrame], split: pl.DataFrame, shop: str) -> dict[str, pl.DataFrame]:
    """One shop's orders (by creation), lines, refunds and split."""
    orders = tables["orders"].filter(pl.col("shop_id") == shop).sort("created_at", "order_id")
    mine = orders.select("order_id", "created_at")
    return {
        "orders": orders,
        "order_lines": tables["order_lines"]
        .join(mine, on="order_id")
        .sort("created_at", "order_id", "sku_id")
        .drop("created_at"),
        "refunds": tables["refunds"].join(mine.select("order_id"), on="order_id", maintain_order="left"),
        "split": split.join(mine.select("order_id"), on="order_id", maintain_order="left"),
    }


def _export(part: dict[str, pl.DataFrame], keep: pl.Expr) -> pl.DataFrame:
    """The Seller Center export of the orders `keep` selects (with their lines, refunds and split)."""
    orders = part["orders"].filter(keep)
    ids = orders.select("order_id")
    return order_export_frame(
        orders,
        part["order_lines"].join(ids, on="order_id", maintain_order="left"),
        part["refunds"].join(ids, on="order_id", maintain_order="left"),
        part["split"].join(ids, on="order_id", maintain_order="left"),
        TIMEZONE,
    )


def _early_snapshot(part: dict[str, pl.DataFrame], order_ids: list[str]) -> pl.DataFrame:
    """The export of `order_ids` as taken before any of them was delivered: no delivery, no
    refund, the same split. Its version (its latest time: their last creation) is older than the
    full export's, so the import supersedes its rows."""
    orders = part["orders"].filter(pl.col("order_id").is_in(order_ids))
    if orders.height != len(order_ids) or (orders["delivered_at"] <= orders["created_at"].max()).any():
        raise ValueError("EARLY_SNAPSHOT: every order must be the shop's and delivered after the last one's creation")
    undelivered = orders.with_columns(pl.lit(None, orders.schema["delivered_at"]).alias("delivered_at"))
    return _export({**part, "orders": undelivered, "refunds": part["refunds"].head(0)}, pl.lit(True))


def _catalog(lines: pl.DataFrame, maps: dict[str, dict[str, str]]) -> pl.DataFrame:
    """The Seller Center product export: one row per SKU; `Seller SKU` is the seller's own code
    (the samples' SKU ID)."""
    return (
        lines.select("product_id", "product_name", "sku_id", "sku_name")
        .unique(["sku_id"], keep="first", maintain_order=True)
        .with_columns(pl.col("sku_id").alias("Seller SKU"))
        .pipe(_mapped, maps)
        .sort("product_id", "sku_id")
        .select(
            pl.col("product_id").alias("Product ID"),
            pl.col("product_name").alias("Product Name"),
            pl.col("sku_id").alias("SKU ID"),
            "Seller SKU",
            pl.col("sku_name").alias("Variation"),
        )
    )


def _order_attributes(orders: pl.DataFrame, maps: dict[str, dict[str, str]]) -> pl.DataFrame:
    """order_attributes.csv: every order but `LEFT_OUT`, as text (a rate without trailing zeros)."""
    rate = pl.col("affiliate_commission_rate").cast(pl.String).str.replace(r"0+$", "").str.replace(r"\.$", "")
    return (
        orders.filter(~pl.col("order_id").is_in(list(LEFT_OUT)))
        .pipe(_mapped, maps)
        .sort("order_id")
        .select(
            "order_id",
            "channel",
            pl.when(pl.col("buyer_is_new")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("buyer_is_new"),
            "seller_coupon_id",
            "platform_coupon_id",
            rate.alias("affiliate_commission_rate"),
            pl.col("actual_shipping_fee").cast(pl.String).alias("label_cost"),
        )
    )


def build(out_dir: Path = OUT_DIR, samples_dir: Path = SAMPLES_DIR) -> list[Path]:
    """Write the sources directory `out_dir` from the samples in `samples_dir` (everything in it
    but README.md is replaced); returns the files written, sorted."""
    tables, staged = _samples(samples_dir)
    maps = _maps(tables)
    split = tiktok_split(staged)
    out_dir.mkdir(parents=True, exist_ok=True)
    for child in sorted(out_dir.iterdir()):
        if child.name == README:
            continue
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()

    sources = _sources(tables, maps)
    split = _mapped(split, maps)
    written: list[Path] = []

    # SHOP-A: Seller Center exports, split by the year of creation in the shop's zone.
    a = _shop(sources, split, EXPORT_SHOP)
    year = pl.col("created_at").dt.convert_time_zone(TIMEZONE).dt.year()
    a_dir = out_dir / EXPORT_SHOP / "orders"
    a_dir.mkdir(parents=True)
    written.append(write_order_export_csv(_export(a, year <= 2025), a_dir / "orders-2025.csv"))
    written.append(write_order_export_xlsx(_export(a, year == 2026), a_dir / "orders-2026.xlsx"))
    early = _early_snapshot(a, [maps["order_id"][o] for o in EARLY_SNAPSHOT])
    written.append(write_order_export_csv(early, a_dir / "orders-2026-early.csv"))

    # SHOP-B: Open API order and return pages.
    b = _shop(sources, split, API_SHOP)
    api = out_dir / API_SHOP / "api"
    pages = order_api_pages(b["orders"], b["order_lines"], b["split"], page_size=50, refunds=b["refunds"])
    written += write_pages(pages, api / "orders", "orders")
    returns = return_api_pages(
        b["refunds"].filter(~pl.col("refund_id").str.ends_with(":cancel")),
        b["orders"],
        page_size=10,
        order_lines=b["order_lines"],
        split=b["split"],
    )
    written += write_pages(returns, api / "returns", "returns")

    # Side files.
    promotions = out_dir / "promotions.xlsx"
    write_template(
        promotions,
        {
            "promotions": sources["promotions"],
            "promotion_products": sources["promotion_products"],
            "opt_out_events": sources["opt_out_events"],
        },
    )
    written.append(promotions)
    catalog = out_dir / "catalog.csv"
    _catalog(tables["order_lines"], maps).write_csv(catalog)
    written.append(catalog)
    attributes = out_dir / "order_attributes.csv"
    _order_attributes(tables["orders"], maps).write_csv(attributes)
    written.append(attributes)
    return sorted(written)


def main() -> None:
    for path in build():
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
