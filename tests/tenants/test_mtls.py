"""Mutual TLS: `emailplatform serve` with a certificate, a client CA and client certificates required or optional,
a client certificate acting as the API key bound to it; and the trusted proxy's certificate header, believed only
from the proxy's addresses. The certificates are made here (cryptography)."""

import ssl
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.tenants import service as tenant_service
from tests.conftest import PUBLIC_URL, free_port, make_settings, new_tenant
from tests.test_cli import EMAILPLATFORM, cli_env


@dataclass
class Issued:
    cert: Path
    key: Path
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex(":").upper()  # as openssl prints it

    @property
    def pem(self) -> str:
        return self.cert.read_text()


def issue(folder: Path, name: str, subject: str, ca: tuple | None = None, server: bool = False) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject_name = x509.Name.from_rfc4514_string(subject)
    issuer_name, issuer_key = (ca[0].subject, ca[1]) if ca else (subject_name, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
    certificate = builder.sign(issuer_key, hashes.SHA256())
    (cert_path := folder / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (key_path := folder / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Issued(cert_path, key_path, certificate, key)


@pytest.fixture
def pki(tmp_path_factory):
    """Certificates of this test's own: a key bound to one in an earlier test would answer for it."""
    folder = tmp_path_factory.mktemp("pki")
    ca = issue(folder, "ca", "CN=Test Client CA,O=Example")
    signer = (ca.certificate, ca.private_key)
    rogue = issue(folder, "rogue-ca", "CN=Rogue CA")
    return {
        "ca": ca,
        "server": issue(folder, "server", "CN=127.0.0.1", ca=signer, server=True),
        "billing": issue(folder, "billing", "CN=billing,O=Example", ca=signer),
        "reports": issue(folder, "reports", "CN=reports,O=Example", ca=signer),
        "stranger": issue(folder, "stranger", "CN=stranger,O=Example", ca=signer),
        "rogue": issue(folder, "rogue", "CN=billing,O=Example", ca=(rogue.certificate, rogue.private_key)),
    }


def serve(tmp_path: Path, database_url: str, pki: dict, mode: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = cli_env(
        tmp_path,
        database_url,
        EMAILPLATFORM_TLS_CERT_FILE=str(pki["server"].cert),
        EMAILPLATFORM_TLS_KEY_FILE=str(pki["server"].key),
        EMAILPLATFORM_TLS_CLIENT_CA_FILE=str(pki["ca"].cert),
        EMAILPLATFORM_TLS_CLIENT_CERTIFICATES=mode,
    )
    server = subprocess.Popen(
        EMAILPLATFORM + ["serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"https://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with as_client(pki, "billing") as client:
                client.get(f"{url}/healthz")
            return server, url
        except httpx.ConnectError:
            time.sleep(0.1)
    server.terminate()
    raise AssertionError(server.communicate(timeout=30)[1])


def as_client(pki: dict, name: str | None) -> httpx.Client:
    """A client that trusts the test CA and, if named, presents that certificate."""
    context = ssl.create_default_context(cafile=str(pki["ca"].cert))
    if name:
        context.load_cert_chain(str(pki[name].cert), str(pki[name].key))
    return httpx.Client(verify=context, timeout=10)


def bind(runtime, tenant, certificate: str, *scopes: str) -> None:
    with runtime.db.session() as session:
        tenant_service.create_api_key(
            session, tenant.tenant_id, "by certificate", None, list(scopes) or None, certificate
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_required_client_certificates_act_as_their_keys(runtime, tmp_path, pki, database_url):
    tenant = new_tenant(runtime)
    bind(runtime, tenant, f"sha256:{pki['billing'].fingerprint}")
    bind(runtime, tenant, "CN=reports,O=Example", "read")
    server, url = serve(tmp_path, database_url, pki, "required")
    try:
        with as_client(pki, "billing") as billing:
            assert billing.get(f"{url}/api/v1/tenant").json()["tenant_id"] == str(tenant.tenant_id)
            assert (
                billing.post(
                    f"{url}/api/v1/templates", json={"name": "t", "subject": "s", "html": "<p>h</p>"}
                ).status_code
                == 201
            )
        with as_client(pki, "reports") as reports:
            assert reports.get(f"{url}/api/v1/templates").status_code == 200
            refused = reports.post(f"{url}/api/v1/templates", json={"name": "t", "subject": "s", "html": "<p>h</p>"})
            assert refused.status_code == 403 and "'templates:write'" in refused.json()["error"]["message"]
        with as_client(pki, "stranger") as stranger:
            unbound = stranger.get(f"{url}/api/v1/tenant")
            assert unbound.status_code == 401 and "acts as no API key" in unbound.json()["error"]["message"]
        for refused_at_handshake in (None, "rogue"):
            with as_client(pki, refused_at_handshake) as client, pytest.raises(httpx.TransportError):
                client.get(f"{url}/api/v1/tenant", headers={"X-API-Key": tenant.api_key})
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_optional_client_certificates_leave_api_keys_working(runtime, tmp_path, pki, database_url):
    tenant = new_tenant(runtime)
    bind(runtime, tenant, "CN=billing,O=Example")
    server, url = serve(tmp_path, database_url, pki, "optional")
    try:
        with as_client(pki, None) as anonymous:
            assert anonymous.get(f"{url}/api/v1/tenant", headers={"X-API-Key": tenant.api_key}).status_code == 200
            assert anonymous.get(f"{url}/api/v1/tenant").status_code == 401
        with as_client(pki, "billing") as billing:
            assert billing.get(f"{url}/api/v1/tenant").json()["name"] == tenant.name
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture
def behind_proxy(database_url, tmp_path):
    runtime = build_runtime(
        make_settings(
            database_url, tmp_path / "data", tls_proxy_cert_header="X-Client-Cert", tls_trusted_proxies=["10.1.2.0/24"]
        )
    )
    yield runtime
    runtime.close()


def test_the_proxy_header_is_believed_from_the_trusted_proxy_only(behind_proxy, pki, api_traffic):
    tenant = new_tenant(behind_proxy)
    bind(behind_proxy, tenant, f"sha256:{pki['billing'].fingerprint}")
    header = {"X-Client-Cert": urllib.parse.quote(pki["billing"].pem)}
    app = create_app(behind_proxy)
    with TestClient(app, base_url=PUBLIC_URL, client=("10.1.2.3", 40000), raise_server_exceptions=False) as proxy:
        api_traffic.watch(proxy)
        assert proxy.get("/api/v1/tenant", headers=header).json()["tenant_id"] == str(tenant.tenant_id)
        garbled = proxy.get("/api/v1/tenant", headers={"X-Client-Cert": "not-a-certificate"})
        assert garbled.status_code == 401 and garbled.json()["error"]["field"] == "X-Client-Cert"
    with TestClient(app, base_url=PUBLIC_URL, client=("203.0.113.9", 40000), raise_server_exceptions=False) as other:
        api_traffic.watch(other)
        ignored = other.get("/api/v1/tenant", headers=header)
        assert ignored.status_code == 401 and "an API key is required" in ignored.json()["error"]["message"]


def test_a_key_is_bound_to_a_certificate_through_the_api(client, pki):
    fingerprint = pki["billing"].fingerprint
    created = client.post("/api/v1/api-keys", json={"name": "billing", "client_certificate": f"SHA256:{fingerprint}"})
    assert created.status_code == 201, created.text
    assert created.json()["client_certificate"] == "sha256:" + fingerprint.replace(":", "").lower()
    again = client.post("/api/v1/api-keys", json={"client_certificate": f"sha256:{fingerprint}"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "client_certificate"
    for bad in ("sha256:1234", "not a subject"):
        refused = client.post("/api/v1/api-keys", json={"client_certificate": bad})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "client_certificate", bad
    subject = f"CN=reports-{uuid.uuid4().hex[:8]},O=Example"  # the database is shared with the other tests
    by_subject = client.post("/api/v1/api-keys", json={"client_certificate": subject})
    assert by_subject.status_code == 201 and by_subject.json()["client_certificate"] == subject
