"""veil.mpc."""
