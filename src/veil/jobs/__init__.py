"""veil.jobs."""
