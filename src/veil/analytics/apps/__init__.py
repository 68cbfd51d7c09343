"""veil.analytics.apps."""
