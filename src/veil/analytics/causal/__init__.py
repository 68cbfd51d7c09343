"""veil.analytics.causal."""
