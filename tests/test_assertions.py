"""Identity assertions (pure): what the archive signs, intake accepts; anything altered, foreign, stale or
meant for another service is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared import assertions
from shared.assertions import Claims, public_key_b64, sign, verify
from shared.crypto import new_key_b64

pytestmark = pytest.mark.pure

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SEED_B64 = new_key_b64()
SEED = base64.b64decode(SEED_B64)
PUBLIC = base64.b64decode(public_key_b64(SEED_B64))
CLAIMS = Claims(sub="li.counsellor", name="李老师", role="school", title="counsellor", school_id="demo-school",
                jurisdiction="lechang", iat=int(NOW.timestamp()), exp=int(NOW.timestamp()) + 120, aud="intake")


def test_a_signed_assertion_verifies_to_its_claims() -> None:
    token = sign(CLAIMS, SEED)
    assert token.startswith("abi_") and "=" not in token
    assert verify(token, PUBLIC, NOW, "intake") == CLAIMS
    assert verify(token, PUBLIC, NOW + timedelta(seconds=119), "intake") == CLAIMS


def test_tampered_claims_are_refused() -> None:
    kid, body_b64, signature = sign(CLAIMS, SEED).removeprefix("abi_").split(".")
    claims = json.loads(base64.urlsafe_b64decode(body_b64 + "=" * (-len(body_b64) % 4)))
    claims["school_id"] = "other-school"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert verify(f"abi_{kid}.{forged}.{signature}", PUBLIC, NOW, "intake") is None
    for broken in (f"abi_{body_b64}", f"abi_{kid}.{body_b64}.", f"abi_{kid}.{body_b64}.{signature[:-2]}", "abi_",
                   "ab_x_y", f"abi_{kid}.{body_b64}.{signature}!", "abi_" + "A" * 5000, f"abi_{kid}.{kid}.{body_b64}"):
        assert verify(broken, PUBLIC, NOW, "intake") is None, broken


def test_another_key_is_refused() -> None:
    other = base64.b64decode(new_key_b64())
    assert verify(sign(CLAIMS, other), PUBLIC, NOW, "intake") is None
    assert verify(sign(CLAIMS, SEED), b"\0" * 32, NOW, "intake") is None


def test_an_expired_or_future_assertion_is_refused() -> None:
    token = sign(CLAIMS, SEED)
    assert verify(token, PUBLIC, NOW + timedelta(seconds=120), "intake") is None
    assert verify(token, PUBLIC, NOW - timedelta(seconds=assertions.SKEW_S + 1), "intake") is None
    assert verify(token, PUBLIC, NOW - timedelta(seconds=assertions.SKEW_S), "intake") == CLAIMS


def test_another_audience_is_refused() -> None:
    assert verify(sign(CLAIMS, SEED), PUBLIC, NOW, "notify") is None
    assert verify(sign(CLAIMS.model_copy(update={"aud": "notify"}), SEED), PUBLIC, NOW, "intake") is None


def test_bad_keys_in_settings_are_named() -> None:
    with pytest.raises(ValueError, match="IDENTITY_SIGNING_KEY"):
        public_key_b64(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="IDENTITY_PUBLIC_KEY"):
        assertions.public_key_from_b64("not base64!")
