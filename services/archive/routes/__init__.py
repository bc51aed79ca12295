"""The archive's HTTP routes, one module per concern."""
