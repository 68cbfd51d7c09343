"""veil.datasets."""
