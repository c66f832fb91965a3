"""Delivery to a relay that needs STARTTLS or implicit TLS, and a login, against real aiosmtpd
servers with a certificate made for the test (trusted through SSL_CERT_FILE, as an
organisation's own CA would be)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chefoskop.settings import Settings
from notifications.sender import deliver_all
from notifications.sink import free_port
from tests.integration.test_mail_delivery import RecordingHandler, make_people, queue, statuses

USER, PASSWORD = "chefoskop", "hemligt-lösen"


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chefoskop test relay")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Authenticator:
    """Accepts one login and remembers every attempt and whether TLS was on."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode()
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.attempts.append((login, encrypted))
        ok = login == USER and auth_data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client's default context trusts it
    return cert, key


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(params=["starttls", "tls"])
def relay(request, certificate) -> Iterator[tuple[str, int, RecordingHandler, Authenticator]]:
    security = request.param
    context = _server_context(*certificate)
    handler, auth = RecordingHandler(), Authenticator()
    port = free_port()
    # (aiosmtpd's auth_require_tls knows only STARTTLS; with implicit TLS every byte is encrypted)
    tls = ({"ssl_context": context, "auth_require_tls": False} if security == "tls"
           else {"tls_context": context, "require_starttls": True, "auth_require_tls": True})
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10,
                            authenticator=auth, server_hostname="127.0.0.1", **tls)
    controller.start()
    yield security, port, handler, auth
    controller.stop()


def _settings(security: str, port: int, tmp_path: Path, password: str = PASSWORD) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security=security,
                    smtp_username=USER, smtp_password=password, smtp_timeout_seconds=5,
                    send_backoff_seconds=30, send_max_attempts=3, data_dir=tmp_path)


async def test_mail_goes_through_tls_with_a_login(session_factory, relay, tmp_path) -> None:
    security, port, handler, auth = relay
    queue(session_factory, make_people(session_factory, 3), 6)
    report = await deliver_all(session_factory, _settings(security, port, tmp_path))
    assert (report.sent, report.failed, report.dead) == (6, 0, 0)
    assert len(handler.messages) == 6 and set(handler.counts().values()) == {1}
    assert auth.attempts == [(USER, True)]  # one login, over TLS, for the whole batch


async def test_a_wrong_password_delivers_nothing_and_loses_nothing(session_factory, relay,
                                                                  tmp_path) -> None:
    security, port, handler, auth = relay
    queue(session_factory, make_people(session_factory, 2), 2)
    report = await deliver_all(session_factory, _settings(security, port, tmp_path, "fel"))
    assert report.sent == 0 and handler.messages == []
    assert auth.attempts and all(tls for _, tls in auth.attempts)
    assert statuses(session_factory)["sent"] == 0  # every row kept, to be tried again


async def test_an_untrusted_certificate_is_refused(session_factory, relay, tmp_path,
                                                   monkeypatch) -> None:
    """Without the test CA the client does not trust the relay: nothing is sent in clear."""
    security, port, handler, auth = relay
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    queue(session_factory, make_people(session_factory, 1), 1)
    report = await deliver_all(session_factory, _settings(security, port, tmp_path))
    assert report.sent == 0 and handler.messages == [] and auth.attempts == []
