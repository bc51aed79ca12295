"""Developer tooling: the `antibully` command, the local launcher and embedded infrastructure."""
