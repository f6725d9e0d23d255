"""The simulated host network: a synthetic operator and its usage files (``kindwave simulate``)."""
