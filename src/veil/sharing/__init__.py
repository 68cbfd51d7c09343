"""veil.sharing."""
