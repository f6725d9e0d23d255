"""Every write to the community goes through the modules of this package."""
