"""Admin pages of the rating outputs (read-only)."""
