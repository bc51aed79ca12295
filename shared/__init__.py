"""The project's own shared package: contracts, configuration, telemetry, bus and db helpers."""
