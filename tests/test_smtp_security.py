"""notify's SMTP channel with a username, a password and required TLS (issue 14), against the real aiosmtpd
sink with a certificate of its own: STARTTLS then AUTH, implicit TLS, and a refusal to send in clear when TLS
is required and the server does not offer it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from antibully.infra import SmtpSink
from services.notify.channels.base import OutboundMessage, SendResult, TransientError
from services.notify.channels.smtp import SmtpChannel
from services.notify.mailer import SmtpMailer, SmtpSecurity
from shared.config import Settings

USER, PASSWORD = "notify@school-relay", "a relay password"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    return ctx


def sink(**options: object) -> Iterator[SmtpSink]:
    made = SmtpSink(**options).start()  # type: ignore[arg-type]
    try:
        yield made
    finally:
        made.stop()


def channel(port: int, **settings: object) -> SmtpChannel:
    return SmtpChannel(SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_s=5, **settings)))


def mail(to: str = "guardian@example.cn") -> OutboundMessage:
    return OutboundMessage(to, "校园欺凌事件通知", "正文", "key-1")


async def test_starttls_then_auth(certificate: tuple[Path, Path]) -> None:
    for relay in sink(starttls=server_context(certificate), logins={USER: PASSWORD}):
        c = channel(relay.port, smtp_security="starttls", smtp_username=USER, smtp_password=PASSWORD,
                    smtp_tls_ca_file=str(certificate[0]))
        assert isinstance(await c.send(mail()), SendResult)
        await c.aclose()
        assert [m["To"] for m in relay.messages] == ["guardian@example.cn"]
        assert relay._handler.sessions == [(True, USER)]  # over TLS, as the user


async def test_a_wrong_password_sends_nothing(certificate: tuple[Path, Path]) -> None:
    for relay in sink(starttls=server_context(certificate), logins={USER: PASSWORD}):
        c = channel(relay.port, smtp_security="starttls", smtp_username=USER, smtp_password="not the password",
                    smtp_tls_ca_file=str(certificate[0]))
        with pytest.raises(TransientError):
            await c.send(mail())
        await c.aclose()
        assert relay.messages == []


async def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    for relay in sink(implicit_tls=server_context(certificate), logins={USER: PASSWORD}):
        c = channel(relay.port, smtp_security="tls", smtp_username=USER, smtp_password=PASSWORD,
                    smtp_tls_ca_file=str(certificate[0]))
        assert isinstance(await c.send(mail()), SendResult)
        await c.aclose()
        assert relay._handler.sessions == [(True, USER)]


async def test_required_tls_not_offered_sends_nothing_in_clear(smtp_sink: SmtpSink) -> None:
    c = channel(smtp_sink.port, smtp_security="starttls")
    with pytest.raises(TransientError) as refused:
        await c.send(mail())
    await c.aclose()
    assert refused.value.code == "smtp_tls_required"
    assert smtp_sink.messages == []


async def test_an_unknown_certificate_is_refused(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    for relay in sink(starttls=server_context(certificate)):
        c = channel(relay.port, smtp_security="starttls")  # the system's CAs do not know this relay
        with pytest.raises(TransientError):
            await c.send(mail())
        await c.aclose()
        assert relay.messages == []


@pytest.mark.pure
def test_credentials_are_never_configured_for_clear_text() -> None:
    with pytest.raises(ValueError, match="never sent in clear"):
        SmtpSecurity("none", USER, PASSWORD)
    with pytest.raises(ValueError, match="SMTP_SECURITY"):
        SmtpSecurity("ssl")
