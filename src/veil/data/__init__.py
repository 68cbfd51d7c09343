"""veil.data."""
