"""The analysts' DuckDB database: every output table, plus views for the questions they ask."""

from pathlib import Path

import polars as pl

from flows import io

# Views an analyst would want first; plain SQL over the tables of the same database.
VIEWS = {
    "discounts_daily": """
        SELECT o.shop_id, o.created_date AS order_date, d.funded_by, d.promotion_type,
               count(DISTINCT d.order_id) AS orders, sum(d.amount)::DECIMAL(18,2) AS discount
        FROM discount_lines d JOIN orders o USING (order_id)
        GROUP BY ALL ORDER BY ALL""",
    "funding_by_statement": """
        SELECT shop_id, statement_date_utc, statement_id,
               (-sum(seller_discount) - sum(seller_discount_refund))::DECIMAL(18,2) AS seller_funded_discounts,
               (sum(platform_discounts) + sum(platform_discounts_refund))::DECIMAL(18,2) AS tiktok_funded_discounts,
               sum(tiktok_shop_shipping_incentive + tiktok_shop_shipping_incentive_refund)::DECIMAL(18,2) AS tiktok_shipping_incentive,
               sum(total_settlement_amount)::DECIMAL(18,2) AS total_settlement_amount
        FROM order_details GROUP BY ALL ORDER BY ALL""",
    "refunds_by_statement": """
        SELECT shop_id, statement_date_utc, statement_id, count(*) FILTER (WHERE refund_id IS NOT NULL) AS refund_rows,
               sum(gross_sales_refund)::DECIMAL(18,2) AS gross_sales_refund,
               sum(customer_refund)::DECIMAL(18,2) AS customer_refund,
               sum(refund_administration_fee)::DECIMAL(18,2) AS refund_administration_fee
        FROM order_details WHERE gross_sales_refund <> 0 GROUP BY ALL ORDER BY ALL""",
    "rejections_by_reason": """
        SELECT "table", reason, count(*) AS rows FROM rejected_rows GROUP BY ALL ORDER BY rows DESC""",
}


def build(tables: dict[str, pl.DataFrame], path: Path) -> None:
    io.write_database(tables, path, VIEWS)
