"""Several intake processes on one port (INTAKE_WORKERS; pure): what each worker is given.

Every worker is a full intake — its own event loop, NATS connection, database pool and durable
consumer member — bound to the same port with SO_REUSEPORT, so the kernel spreads connections
over them and the ceiling grows with cores. Idempotency and ids already hold across processes
(the request row and the derived ids live in PostgreSQL and JetStream, not in memory); the
per-key rate limit is per process, so a key gets up to `workers` times its rate.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.config import Settings

MIN_POOL = 3  # Settings.db_pool_size's floor: the consumers keep two connections free of handlers


def worker_pool_size(db_pool_size: int, workers: int) -> int:
    """Each worker's share of DB_POOL_SIZE, so that all of intake's workers together hold about as many
    connections as one intake did (never fewer than MIN_POOL each)."""
    return max(MIN_POOL, -(-db_pool_size // workers))


def connections_needed(db_pool_size: int, workers: int) -> int:
    """The most PostgreSQL connections intake's workers together may open."""
    return workers * worker_pool_size(db_pool_size, workers)


def worker_settings(settings: Settings) -> Settings:
    """This worker's settings: its share of the pool."""
    if settings.intake_workers == 1:
        return settings
    return settings.model_copy(update={"db_pool_size": worker_pool_size(settings.db_pool_size,
                                                                        settings.intake_workers)})


def worker_env(env: Mapping[str, str], index: int) -> dict[str, str]:
    """The environment of worker `index` (0-based): as given, but a metrics port of its own when one is set."""
    out = dict(env)
    if index and int(out.get("INTAKE_METRICS_PORT", "0") or 0):
        out["INTAKE_METRICS_PORT"] = str(int(out["INTAKE_METRICS_PORT"]) + index)
    return out


def worker_names(workers: int) -> list[str]:
    """Process names: `intake`, then `intake-2`, `intake-3`, …"""
    return ["intake"] + [f"intake-{i}" for i in range(2, workers + 1)]
