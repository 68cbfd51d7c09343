"""veil.net."""
