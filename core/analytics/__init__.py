"""Analytics area."""
