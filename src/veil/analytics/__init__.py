"""veil.analytics."""
