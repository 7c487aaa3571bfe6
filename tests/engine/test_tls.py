"""TLS on tls-port with throw-away certificates (a CA, a server certificate for 127.0.0.1 and
localhost, a client certificate), made with the ``cryptography`` package in a tmp dir."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.server import EmbeddedServer
from tests.support.redis_real import free_port


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer_key: ec.EllipticCurvePrivateKey,
           issuer: str, *, ca: bool = False, server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                          content_commitment=False, key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("cachelab test CA", ca_key, ca_key, "cachelab test CA", ca=True)
    _write(d / "ca", ca)
    for name, is_server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(d / name, _issue(name, key, ca_key, "cachelab test CA", server=is_server), key)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca = _issue("rogue CA", rogue_key, rogue_key, "rogue CA", ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    _write(d / "rogue", _issue("rogue", key, rogue_key, "rogue CA"), key)
    _write(d / "rogue-ca", rogue_ca)
    return d


def _tls_server(certs: Path, auth: str) -> EmbeddedServer:
    return EmbeddedServer(**{
        "tls-port": str(free_port()), "tls-cert-file": str(certs / "server.crt"),
        "tls-key-file": str(certs / "server.key"), "tls-ca-cert-file": str(certs / "ca.crt"),
        "tls-auth-clients": auth,
    })


def _client(srv: EmbeddedServer, certs: Path, who: str | None) -> redis.Redis:
    assert srv.server is not None
    kw: dict[str, object] = {"ssl_ca_certs": str(certs / "ca.crt"), "socket_timeout": 5}
    if who:
        kw.update(ssl_certfile=str(certs / f"{who}.crt"), ssl_keyfile=str(certs / f"{who}.key"))
    return redis.Redis.from_url(f"rediss://127.0.0.1:{srv.server.tls_port}", **kw)  # type: ignore[attr-defined]


def test_tls_with_client_certificate_required(certs: Path) -> None:
    with _tls_server(certs, "yes") as srv:
        c = _client(srv, certs, "client")
        assert c.set("k", "v" * 100_000) and c.get("k") == b"v" * 100_000
        pipe = c.pipeline(transaction=False)
        for _ in range(200):
            pipe.incr("n")
        assert pipe.execute()[-1] == 200
        # the plain port keeps working next to the TLS one
        assert redis.Redis.from_url(srv.url).get("n") == b"200"
        for who in (None, "rogue"):
            with pytest.raises(redis.ConnectionError):
                _client(srv, certs, who).ping()
        c.close()


def test_tls_auth_clients_optional_and_no(certs: Path) -> None:
    with _tls_server(certs, "optional") as srv:
        assert _client(srv, certs, None).ping()
        assert _client(srv, certs, "client").ping()
        with pytest.raises(redis.ConnectionError):
            _client(srv, certs, "rogue").ping()
    with _tls_server(certs, "no") as srv:
        assert _client(srv, certs, None).ping()


def test_client_rejects_untrusted_server(certs: Path) -> None:
    with _tls_server(certs, "no") as srv:
        assert srv.server is not None
        bad = redis.Redis.from_url(f"rediss://127.0.0.1:{srv.server.tls_port}",  # type: ignore[attr-defined]
                                   ssl_ca_certs=str(certs / "rogue-ca.crt"), socket_timeout=5)
        with pytest.raises(redis.ConnectionError, match="(?i)certificate"):
            bad.ping()
    assert ssl.OPENSSL_VERSION


def test_tls_in_cachelab_server_from_config_file(certs: Path, tmp_path: Path) -> None:
    from tests.engine.test_rename_command import _cachelab_server

    tls_port = free_port()
    conf = tmp_path / "tls.conf"
    conf.write_text(f"tls-port {tls_port}\ntls-cert-file {certs / 'server.crt'}\ntls-key-file {certs / 'server.key'}\n"
                    f"tls-ca-cert-file {certs / 'ca.crt'}\ntls-auth-clients yes\n")
    with _cachelab_server(conf):
        c = redis.Redis.from_url(f"rediss://localhost:{tls_port}", ssl_ca_certs=str(certs / "ca.crt"),
                                 ssl_certfile=str(certs / "client.crt"), ssl_keyfile=str(certs / "client.key"),
                                 socket_timeout=5)
        assert c.set("k", "v") and c.get("k") == b"v"
        c.close()
