"""The reconciliation report a person would rather look at than read: one self-contained HTML
file (inline CSS and SVG, no scripts, nothing fetched) and, under Prefect, artifacts."""

import html
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from transforms.money import money_text

FILE_NAME = "reconciliation_report.html"
_TOP = 25


def _table(frame: pl.DataFrame, money: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.rows():  # a handful of summary rows for display, not the data path
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            text = money_text(value) if column in money else ("" if value is None else str(value))
            cls = ' class="num"' if column in money else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _bridge_chart(statements: pl.DataFrame) -> str:
    """Bars of reported − expected total per statement (green above zero, red below)."""
    data = statements.select("statement_date_utc", "shop_id", pl.col("difference_total_settlement_amount").alias("d"))
    if data.height == 0:
        return "<p>No statement in the reconciled window.</p>"
    width, height, pad = 900, 260, 40
    peak = max(abs(v) for v in data["d"].to_list()) or Decimal(1)  # bar geometry only; amounts stay Decimal
    step = (width - 2 * pad) / data.height
    zero = height / 2
    bars = []
    for i, (day, shop, d) in enumerate(data.rows()):
        h = float(abs(d) / peak) * (height / 2 - pad)
        y = zero - h if d >= 0 else zero
        colour = "#2e7d32" if d >= 0 else "#c62828"
        x = pad + i * step
        title = html.escape(f"{shop} {day}: {d:+,.2f}")
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" height="{max(h, 0.5):.1f}" fill="{colour}"><title>{title}</title></rect>'
        )
    axis = f'<line x1="{pad}" y1="{zero}" x2="{width - pad}" y2="{zero}" stroke="#555"/>'
    labels = (
        f'<text x="{pad}" y="{pad / 2}" font-size="12">+{peak:,.2f}</text>'
        f'<text x="{pad}" y="{height - pad / 4}" font-size="12">-{peak:,.2f}</text>'
    )
    return f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="Reported minus expected per statement">{axis}{"".join(bars)}{labels}</svg>'


def _funding_section(owed: pl.DataFrame | None) -> str:
    """TikTok's own split against the rules, per statement (docs/funding.md); nothing without a split."""
    if owed is None:
        return ""
    money = ("tiktok_owes", "over_funded")
    total = {c: owed[c].sum() if owed.height else 0 for c in money}
    top = owed.sort("tiktok_owes", "shop_id", "statement_date", descending=[True, False, False], nulls_last=True)
    return f"""<h2>TikTok's funding split: owed and over-funded per statement</h2>
<p>Where TikTok's own split of a discount (the order export or the API) charged the seller a discount the rules
fund by the platform ("TikTok owes"), or the reverse ("over-funded"). Details in funding_breaks; the orders to
claim are in exports/&lt;shop&gt;/claims/.</p>
<div class="kpi">TikTok owes<b>{money_text(total["tiktok_owes"])}</b></div>
<div class="kpi">Over-funded<b>{money_text(total["over_funded"])}</b></div>
{_table(top.head(_TOP * 4), money)}
"""


def render(statements: pl.DataFrame, breaks: pl.DataFrame, as_of: datetime, owed: pl.DataFrame | None = None) -> str:
    """The whole report as one HTML string; with `owed` (funding per statement), its view too."""
    bridge = statements.select(
        "shop_id",
        "statement_date_utc",
        "reported_statement_id",
        pl.col("expected_total_settlement_amount").alias("expected"),
        pl.col("reported_total_settlement_amount").alias("reported"),
        pl.col("difference_total_settlement_amount").alias("difference"),
        "count_breaks",
    )
    by_type = (
        breaks.group_by("break_type", "probable_cause")
        .agg(
            pl.len().alias("breaks"),
            pl.col("difference").filter(pl.col("column") == "Total settlement amount").sum().alias("total_difference"),
        )
        .sort("breaks", "break_type", "probable_cause", descending=[True, False, False], nulls_last=True)
    )
    largest = (
        breaks.sort(pl.col("difference").abs(), "shop_id", "order_id", descending=[True, False, False], nulls_last=True)
        .head(_TOP)
        .select(
            "shop_id",
            "statement_date_utc",
            "order_id",
            "column",
            "expected",
            "reported",
            "difference",
            "break_type",
            "probable_cause",
            "within_tolerance",
        )
    )
    total_expected = statements["expected_total_settlement_amount"].sum() if statements.height else 0
    total_reported = statements["reported_total_settlement_amount"].sum() if statements.height else 0
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Settlement reconciliation as of {html.escape(as_of.isoformat())}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; }}
th {{ background: #f3f3f3; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.kpi {{ display: inline-block; margin-right: 2rem; }} .kpi b {{ font-size: 1.4rem; display: block; }}
</style></head><body>
<h1>Settlement reconciliation</h1>
<p>As of {html.escape(as_of.isoformat())}. Reported − expected, per statement in the reconciled window.</p>
<div class="kpi">Statements<b>{statements.height:,}</b></div>
<div class="kpi">Expected total<b>{money_text(total_expected)}</b></div>
<div class="kpi">Reported total<b>{money_text(total_reported)}</b></div>
<div class="kpi">Breaks<b>{breaks.height:,}</b></div>
<h2>Difference per statement</h2>
{_bridge_chart(statements)}
<h2>Breaks by type and probable cause</h2>
{_table(by_type, ("total_difference",))}
<h2>Largest breaks</h2>
{_table(largest, ("expected", "reported", "difference"))}
<h2>Bridge per shop and statement</h2>
{_table(bridge, ("expected", "reported", "difference"))}
{_funding_section(owed)}</body></html>
"""


def publish_artifacts(statements: pl.DataFrame, breaks: pl.DataFrame, shops: pl.DataFrame, out_dir: Path) -> None:
    """Prefect artifacts: the bridge as a table, a Markdown summary, a link to the outputs."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    from publish.summary import money

    rows = statements.select(
        "shop_id",
        "statement_date_utc",
        *[
            pl.col(c).cast(pl.String)
            for c in (
                "expected_total_settlement_amount",
                "reported_total_settlement_amount",
                "difference_total_settlement_amount",
            )
        ],
        "count_breaks",
    ).to_dicts()
    create_table_artifact(key="recon-bridge", table=rows, description="Reported − expected per statement")
    by_type = breaks.group_by("break_type").len().sort("break_type")
    lines = [
        "# Settlement run",
        "",
        "| shop | statements | settlement total | seller-funded | TikTok-funded |",
        "|---|---:|---:|---:|---:|",
    ]
    for shop in shops.to_dicts():
        lines.append(
            f"| {shop['shop_id']} | {shop['statements']} | {money(shop['settlement_cents'])} | "
            f"{money(shop['seller_funded_cents'])} | {money(shop['tiktok_funded_cents'])} |"
        )
    lines += ["", "## Breaks by type", ""] + [f"- {t}: {n}" for t, n in by_type.rows()]
    create_markdown_artifact(
        key="settlement-summary", markdown="\n".join(lines), description="Per-shop summary and breaks"
    )
    create_link_artifact(
        key="settlement-outputs",
        link=(out_dir / "current" / FILE_NAME).resolve().as_uri(),
        description="Reconciliation report",
    )
