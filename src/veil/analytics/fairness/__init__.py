"""veil.analytics.fairness."""
