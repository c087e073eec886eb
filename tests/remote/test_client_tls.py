"""TLS of the API client against a real HTTPS server on 127.0.0.1 with a certificate of a test CA.

Verification is on by default: the test CA is not trusted until the profile's CA bundle names it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from classhub_desktop.remote import ApiClient, ApiError, ApiTlsError
from classhub_desktop.sandbox.api import ApiSettings, create_app
from tests.api_support import SeededDatabase, ServedApi


@dataclass
class Pki:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    pem: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    where = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _ca("ClassHub Test School CA")
    _, other_cert = _ca("Some Other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(where / "ca.pem", where / "other-ca.pem", where / "server.pem", where / "server.key")
    pki.ca.write_bytes(_pem(ca_cert))
    pki.other_ca.write_bytes(_pem(other_cert))
    pki.cert.write_bytes(_pem(cert))
    pki.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return pki


@pytest.fixture(scope="module")
def https_url(seeded_db: SeededDatabase, pki: Pki) -> Iterator[str]:
    settings = ApiSettings(conninfo=seeded_db.conninfo, files_dir=seeded_db.files_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", timeout_graceful_shutdown=2,
                            ssl_certfile=str(pki.cert), ssl_keyfile=str(pki.key))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"https-{port}")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the HTTPS test server did not start"
        time.sleep(0.01)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_profiles_ca_bundle_makes_the_server_trusted(https_url: str, pki: Pki) -> None:
    with ApiClient(https_url, ca_bundle=str(pki.ca)) as client:
        assert client.healthz()["status"] == "ok"


def test_an_unknown_ca_is_refused_by_default(https_url: str) -> None:
    with ApiClient(https_url, retries=3) as client:
        started = time.monotonic()
        with pytest.raises(ApiTlsError) as caught:
            client.healthz()
        assert time.monotonic() - started < 1.0, "a certificate error is not retried"
    error = caught.value
    assert error.code == "certificate_untrusted"
    assert "not trusted" in str(error) and "CA bundle" in str(error)


def test_a_bundle_of_another_ca_is_named_in_the_error(https_url: str, pki: Pki) -> None:
    with ApiClient(https_url, ca_bundle=str(pki.other_ca)) as client, pytest.raises(ApiTlsError) as caught:
        client.healthz()
    assert str(pki.other_ca) in str(caught.value)


def test_a_missing_ca_bundle_file_is_a_clear_error(https_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "school-ca.pem"
    with pytest.raises(ApiTlsError) as caught:
        ApiClient(https_url, ca_bundle=str(missing))
    error = caught.value
    assert isinstance(error, ApiError) and error.code == "ca_bundle_missing"
    assert str(missing) in str(error) and "does not exist" in str(error)


def test_a_ca_bundle_that_is_not_pem_is_a_clear_error(https_url: str, tmp_path: Path) -> None:
    garbage = tmp_path / "notes.txt"
    garbage.write_text("this is not a certificate\n")
    with pytest.raises(ApiTlsError) as caught:
        ApiClient(https_url, ca_bundle=str(garbage))
    assert caught.value.code == "ca_bundle_invalid" and str(garbage) in str(caught.value)


def test_https_to_a_plain_http_port_is_a_tls_failure(api: ServedApi) -> None:
    https = api.base_url.replace("http://", "https://")
    with ApiClient(https, retries=0) as client, pytest.raises(ApiTlsError) as caught:
        client.healthz()
    assert caught.value.code == "tls_failed" and "https:// or http://" in str(caught.value)
