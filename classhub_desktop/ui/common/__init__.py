"""ClassHub Desktop."""
