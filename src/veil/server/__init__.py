"""veil.server."""
