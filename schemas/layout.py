"""The Seller Center "Statements" layout (docs/statements.md), declared once.

`ORDER_DETAILS_LABELS` and `STATEMENTS_LABELS` are the exact export labels, in order. Parquet
and DuckDB use `snake(label)`; CSV and XLSX use the labels themselves.
"""

import re

ORDER_DETAILS_LABELS: tuple[str, ...] = (
    "Statement date (UTC)",
    "Statement ID",
    "Payment ID",
    "Status",
    "Currency",
    "Type",
    "Order/adjustment ID",
    "SKU ID",
    "Quantity",
    "Product name",
    "SKU name",
    "Order created date",
    "Order delivery date",
    "Total settlement amount",
    "Net sales",
    "Gross sales",
    "Gross sales refund",
    "Seller discount",
    "Seller discount refund",
    "Shipping",
    "TikTok Shop shipping fee",
    "Fulfilled by TikTok Shop (FBT) shipping fee",
    "FBT fulfillment fee",
    "Customer shipping fee offset",
    "Limited-time sign up shipping incentive",
    "Signature confirmation service fee",
    "Shipping insurance fee",
    "Customer-paid shipping fee",
    "Customer-paid shipping fee refund",
    "TikTok Shop shipping incentive",
    "TikTok Shop shipping incentive refund",
    "Shipping fee subsidy",
    "Return shipping fee",
    "Fees",
    "Transaction fee",
    "Referral fee",
    "Refund administration fee",
    "Affiliate commission",
    "Affiliate partner commission",
    "Adjustment amount",
    "Adjustment reason",
    "Related order ID",
    "Customer payment",
    "Customer refund",
    "Seller co-funded voucher discount",
    "Seller co-funded voucher discount refund",
    "Platform discounts",
    "Platform discounts refund",
    "Platform co-funded voucher discounts",
    "Platform co-funded voucher discounts refund",
    "Ads referral fee discount",
    "Sales tax payment",
    "Sales tax refund",
    "Retail delivery fee payment",
    "Retail delivery fee refund",
    "Customer-paid shipping fee before discounts",
    "Seller shipping fee discount",
    "TikTok Shop shipping fee discount to customer",
)

STATEMENTS_LABELS: tuple[str, ...] = (
    "Statement date (UTC)",
    "Statement ID",
    "Payment ID",
    "Status",
    "Total settlement amount",
    "Net sales",
    "Shipping",
    "Fees",
    "Adjustments",
    "Reserve amount",
    "Payable amount",
)

# Columns that are text (or dates/ints) rather than money.
ORDER_DETAILS_TEXT = (
    "Statement date (UTC)",
    "Statement ID",
    "Payment ID",
    "Status",
    "Currency",
    "Type",
    "Order/adjustment ID",
    "SKU ID",
    "Product name",
    "SKU name",
    "Order created date",
    "Order delivery date",
    "Adjustment reason",
    "Related order ID",
)
ORDER_DETAILS_INT = ("Quantity",)
ORDER_DETAILS_MONEY = tuple(
    label for label in ORDER_DETAILS_LABELS if label not in ORDER_DETAILS_TEXT + ORDER_DETAILS_INT
)
STATEMENTS_MONEY = STATEMENTS_LABELS[4:]


def _span(first: str, last: str) -> tuple[str, ...]:
    i, j = ORDER_DETAILS_LABELS.index(first), ORDER_DETAILS_LABELS.index(last)
    return ORDER_DETAILS_LABELS[i : j + 1]


# "Shipping = the sum of the columns from TikTok Shop shipping fee to Return shipping fee";
# "Fees = the sum of the columns from Transaction fee to Affiliate partner commission".
SHIPPING_PARTS = _span("TikTok Shop shipping fee", "Return shipping fee")
FEES_PARTS = _span("Transaction fee", "Affiliate partner commission")
NET_SALES_PARTS = ("Gross sales", "Gross sales refund", "Seller discount", "Seller discount refund")

# Columns this product does not compute (present and 0 or empty in computed statements).
NOT_MODELLED = (
    "Fulfilled by TikTok Shop (FBT) shipping fee",
    "FBT fulfillment fee",
    "Customer shipping fee offset",
    "Limited-time sign up shipping incentive",
    "Signature confirmation service fee",
    "Shipping insurance fee",
    "Shipping fee subsidy",
    "Return shipping fee",
    "Transaction fee",
    "Affiliate partner commission",
    "Seller co-funded voucher discount",
    "Seller co-funded voucher discount refund",
    "Platform co-funded voucher discounts",
    "Platform co-funded voucher discounts refund",
    "Ads referral fee discount",
    "Retail delivery fee payment",
    "Retail delivery fee refund",
)


# What every computed Order details row holds in the columns this product never fills: the
# contract checks it on every row, the layout writes it, and the analysts' database keeps these
# columns as virtual (generated) columns of the same value instead of storing 10M copies.
ORDER_DETAILS_CONSTANTS: dict[str, str | int] = {
    "Payment ID": "",
    "Status": "Computed",
    "Type": "Order",
    "Adjustment amount": 0,
    "Adjustment reason": "",
    "Related order ID": "",
    **{label: 0 for label in NOT_MODELLED},
}


def snake(label: str) -> str:
    """`Statement date (UTC)` → `statement_date_utc`; `Order/adjustment ID` → `order_adjustment_id`."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def cents_name(label: str) -> str:
    """The internal integer-cents column of a money label."""
    return f"{snake(label)}_cents"
