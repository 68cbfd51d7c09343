"""veil.mpc.protocols."""
