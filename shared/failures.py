"""The failure model, in one place: which failures wait and which are dead-lettered.

A **transient** failure waits and is retried for as long as it takes, with a backoff capped
at `RETRY_CAP_S`, and never uses up a message's poison budget:
- PostgreSQL away, refusing, timing out, shutting down, out of connections or disk, a
  serialization failure or deadlock, a read-only standby during a failover;
- NATS disconnected, reconnecting, timing out or without responders, a full stream;
- an outbound provider's 5xx, 429 or timeout (notify's failover says `retry_later`);
- an ordering wait: an event whose case has not been handled yet (`NotYet`);
- any other exception raised while the dependency gate's probe finds the database away.

A **permanent** failure — a payload its contract refuses, or a handler that fails the same
way while every dependency is healthy — is retried `POISON_ATTEMPTS` times, then moved to the
dead-letter stream, from which `antibully dead-letters replay` hands it back.

Consumers hold their fetched messages (with JetStream `in_progress` heartbeats) while the
database is away instead of churning through redeliveries; see `shared/consumer.py`.
"""

from __future__ import annotations

import asyncio
import errno
import socket

import asyncpg
import nats.errors

# The longest a transient failure waits between tries (a dependency back within a minute is used within one).
RETRY_CAP_S = 60.0

_NETWORK_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
                             errno.ETIMEDOUT, errno.ECONNREFUSED, errno.ECONNRESET})

_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    socket.gaierror,  # a name that does not resolve right now
    asyncio.TimeoutError,  # a pool acquire or a statement past its timeout; nats' own TimeoutError too
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: disk full, out of memory, too many connections
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, crash recovery, cannot connect now
    asyncpg.exceptions.TransactionRollbackError,  # class 40: serialization failure, deadlock
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby during a failover
    nats.errors.Error,  # disconnected, reconnecting, no responders, a full stream refusing a publish
)


class NotYet(Exception):
    """Not now, later: an ordering wait or a provider's Retry-After. Never dead-lettered."""

    def __init__(self, delay_s: float | None = None, why: str = "") -> None:
        """`delay_s`: when to look again (a provider's hint); None: the consumer's capped backoff decides."""
        super().__init__(why or (f"retry in {delay_s:.0f} s" if delay_s is not None else "retry later"))
        self.delay_s = delay_s


def is_transient(exc: BaseException) -> bool:
    """True for a failure of something the handler depends on, which will pass by itself."""
    if isinstance(exc, (NotYet, *_TRANSIENT)):
        return True
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        # "connection is closed" / "pool is closing": the connection went away under us
        return "clos" in str(exc)
    return exc.__cause__ is not None and is_transient(exc.__cause__)  # `raise Wrapped from transient`


def backoff_s(attempt: int, base_s: float = 0.5, cap_s: float = RETRY_CAP_S, rand: float = 1.0) -> float:
    """Exponential from `base_s`, capped; `rand` in [0.5, 1] spreads many messages' retries apart."""
    return float(min(cap_s, base_s * 2 ** max(0, attempt - 1)) * rand)
