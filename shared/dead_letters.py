"""Dead letters: what a consumer could not handle for good, kept so an operator can act on it.

A dead letter is published to `ab.dlq.<service>.<original subject>` (stream AB_DEAD_LETTERS):
its headers say where it came from, why, how often and when; its body is the original payload
sealed with DEAD_LETTER_KEY (AES-GCM, bound to its origin), or nothing at all when no key is
set — then it is a reference, and a replay reads the original from its stream while that
keeps it. Nothing personal is ever in the headers: ids, subjects, codes and field paths only.

A replay publishes the original payload to its original subject. Its Nats-Msg-Id is
`replay:<stream>:<seq>`, not the original id, which the stream's 24 h duplicate window would
silently drop; replaying the same letter twice is deduplicated by the stream, and every
consumer's inbox (keyed by the event id) makes a replay idempotent where it was handled before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from shared.crypto import Sealer
from shared.subjects import DEAD_LETTER_PREFIX, DEAD_LETTERS

H_SERVICE, H_SUBJECT, H_REASON, H_DETAIL = "Ab-Service", "Ab-Subject", "Ab-Reason", "Ab-Detail"
H_ATTEMPTS, H_FIRST, H_LAST, H_EVENT = "Ab-Attempts", "Ab-First-At", "Ab-Last-At", "Ab-Event-Id"
H_STREAM, H_SEQ, H_MSG_ID, H_BODY = "Ab-Stream", "Ab-Stream-Seq", "Ab-Original-Msg-Id", "Ab-Body"


def dead_letter_subject(service: str, subject: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{service}.{subject}"


def _aad(stream: str, seq: int) -> bytes:
    return f"dead-letter:{stream}:{seq}".encode()


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where a failed message came from and what became of it."""

    service: str
    subject: str
    stream: str
    stream_seq: int
    msg_id: str
    reason: str
    detail: str
    attempts: int
    first_at: datetime
    last_at: datetime
    event_id: uuid.UUID | None


@dataclass(frozen=True, kw_only=True)
class DeadLetter(Origin):
    """One dead letter as stored: its own sequence in AB_DEAD_LETTERS, its origin, and its body's kind."""

    seq: int
    body: str  # "sealed", "reference", or "clear" (written before issue 10)

    @classmethod
    def from_raw(cls, raw: api.RawStreamMsg) -> DeadLetter:
        h = raw.headers or {}
        legacy_at = (raw.time or datetime.now(UTC)).isoformat()
        event = h.get(H_EVENT, "")
        return cls(
            seq=raw.seq or 0,
            service=h.get(H_SERVICE) or (raw.subject or "").removeprefix(f"{DEAD_LETTER_PREFIX}.").split(".")[0],
            subject=h.get(H_SUBJECT, ""), reason=h.get(H_REASON, ""), detail=h.get(H_DETAIL, ""),
            attempts=int(h.get(H_ATTEMPTS, "0") or 0),
            first_at=datetime.fromisoformat(h.get(H_FIRST, legacy_at)),
            last_at=datetime.fromisoformat(h.get(H_LAST, legacy_at)),
            event_id=uuid.UUID(event) if event else None, stream=h.get(H_STREAM, ""),
            stream_seq=int(h.get(H_SEQ, "0") or 0), msg_id=h.get(H_MSG_ID, ""), body=h.get(H_BODY, "clear"),
        )


def seal(origin: Origin, payload: bytes, sealer: Sealer | None) -> tuple[str, bytes, dict[str, str], str]:
    """(subject, body, headers, Nats-Msg-Id) of the dead letter for `origin`."""
    headers = {
        H_SERVICE: origin.service, H_SUBJECT: origin.subject, H_REASON: origin.reason, H_DETAIL: origin.detail[:300],
        H_ATTEMPTS: str(origin.attempts), H_FIRST: origin.first_at.isoformat(), H_LAST: origin.last_at.isoformat(),
        H_EVENT: str(origin.event_id or ""), H_STREAM: origin.stream, H_SEQ: str(origin.stream_seq),
        H_MSG_ID: origin.msg_id, H_BODY: "sealed" if sealer else "reference",
    }
    body = sealer.seal(payload, _aad(origin.stream, origin.stream_seq)) if sealer else b""
    msg_id = f"dlq:{origin.service}:{origin.stream}:{origin.stream_seq}"
    return dead_letter_subject(origin.service, origin.subject), body, headers, msg_id


async def read(js: JetStreamContext, *, subject: str | None = None, service: str | None = None,
               since: datetime | None = None) -> list[DeadLetter]:
    """Every dead letter in AB_DEAD_LETTERS, oldest first, filtered by original subject, service and time."""
    filter_ = f"{DEAD_LETTER_PREFIX}.{service or '*'}.{subject or '>'}" if (service or subject) else \
        f"{DEAD_LETTER_PREFIX}.>"
    out: list[DeadLetter] = []
    seq = 1
    while True:
        try:
            raw = await js.get_msg(DEAD_LETTERS.name, seq=seq, subject=filter_, next=True)
        except NotFoundError:
            return out
        letter = DeadLetter.from_raw(raw)
        if since is None or letter.last_at >= since:
            out.append(letter)
        seq = letter.seq + 1


async def payload(js: JetStreamContext, letter: DeadLetter, sealer: Sealer | None) -> bytes:
    """The original payload: unsealed, or read back from its own stream for a reference."""
    raw = await js.get_msg(DEAD_LETTERS.name, seq=letter.seq)
    if letter.body == "sealed":
        if sealer is None:
            raise LookupError("this dead letter is sealed: set DEAD_LETTER_KEY to replay it")
        return sealer.open(raw.data or b"", _aad(letter.stream, letter.stream_seq))
    if letter.body == "clear":
        return raw.data or b""
    try:
        original = await js.get_msg(letter.stream, seq=letter.stream_seq)
    except NotFoundError:
        raise LookupError(f"{letter.stream} no longer holds seq {letter.stream_seq}; nothing to replay") from None
    return original.data or b""


async def replay(js: JetStreamContext, letter: DeadLetter, sealer: Sealer | None, *, keep: bool = False) -> bool:
    """Publish the original again; False when the stream had it already (a replay of a replay).

    The dead letter is removed once the stream has the replay, unless `keep`.
    """
    body = await payload(js, letter, sealer)
    origin = f"{letter.stream}:{letter.stream_seq}" if letter.stream else f"{DEAD_LETTERS.name}:{letter.seq}"
    ack = await js.publish(letter.subject, body, headers={"Nats-Msg-Id": f"replay:{origin}",
                                                          "Ab-Replay-Of": str(letter.seq)})
    if not keep:
        await js.delete_msg(DEAD_LETTERS.name, letter.seq)
    return not ack.duplicate
