"""intake's HTTP routes, one module per kind of submission."""
