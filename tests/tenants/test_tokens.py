"""OAuth 2.0 / OIDC bearer tokens beside API keys, against a real issuer on loopback (tests/tenants/issuer.py):
its discovery document and JWKS fetched and cached, its key rotation followed, and every bad token a 401 that
says why, never a 500."""

import base64
import random
import time

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from tests.conftest import PUBLIC_URL, free_port, make_settings, new_tenant
from tests.tenants.issuer import AUDIENCE, new_key, running_issuer

TEMPLATE = {"name": "welcome", "subject": "Hi {{ name }}", "html": "<p>Hi {{ name }}</p>"}


@pytest.fixture
def issuer():
    with running_issuer(free_port()) as issuer:
        yield issuer


def deployment(database_url, data_dir, issuer_url: str, **overrides):
    settings = make_settings(
        database_url,
        data_dir,
        oidc_issuer=issuer_url,
        oidc_audience=AUDIENCE,
        **({"oidc_jwks_min_refetch_seconds": 0} | overrides),
    )
    return build_runtime(settings)


@pytest.fixture
def app_client(database_url, tmp_path, issuer, api_traffic):
    runtime = deployment(database_url, tmp_path / "data", issuer.url)
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        api_traffic.watch(client)
        yield client, runtime
    runtime.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response, reason: str) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and error["field"] == "Authorization"
    assert reason in error["message"], error["message"]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_token_of_the_issuer_acts_for_the_tenant_its_claim_names(app_client, issuer, alg):
    client, runtime = app_client
    tenant, other = new_tenant(runtime), new_tenant(runtime)
    token = issuer.token(alg, tenant=str(tenant.tenant_id), scope="openid templates:write")

    created = client.post("/api/v1/templates", json=TEMPLATE, headers=bearer(token))
    assert created.status_code == 201, created.text
    by_key = client.get("/api/v1/templates", headers={"X-API-Key": tenant.api_key}).json()["items"]
    assert [t["id"] for t in by_key] == [created.json()["template_id"]]
    assert client.get("/api/v1/templates", headers={"X-API-Key": other.api_key}).json()["items"] == []

    by_name = issuer.token(alg, tenant=tenant.name, scope="read")
    assert client.get("/api/v1/tenant", headers=bearer(by_name)).json()["tenant_id"] == str(tenant.tenant_id)
    assert issuer.jwks_fetches == 1  # the keys were fetched once, then kept


def test_the_token_scopes_hold_a_list_claim_too_and_nothing_else(database_url, tmp_path, issuer, api_traffic):
    runtime = deployment(database_url, tmp_path / "data", issuer.url, oidc_scopes_claim="scp")
    tenant = new_tenant(runtime)
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        api_traffic.watch(client)
        reader = bearer(issuer.token(tenant=tenant.name, scp=["templates:read", "no-such-scope"]))
        assert client.get("/api/v1/templates", headers=reader).status_code == 200
        refused = client.post("/api/v1/templates", json=TEMPLATE, headers=reader)
        assert refused.status_code == 403 and "'templates:write'" in refused.json()["error"]["message"]
        unscoped = bearer(issuer.token(tenant=tenant.name))
        assert client.get("/api/v1/templates", headers=unscoped).status_code == 403
    runtime.close()


def test_a_rotated_key_is_fetched_and_a_key_no_longer_published_is_refused(app_client, issuer):
    client, runtime = app_client
    tenant = new_tenant(runtime)
    old = issuer.token("ES256", tenant=tenant.name, scope="full")
    assert client.get("/api/v1/tenant", headers=bearer(old)).status_code == 200

    issuer.rotate()
    new = issuer.token("ES256", tenant=tenant.name, scope="full")
    assert client.get("/api/v1/tenant", headers=bearer(new)).status_code == 200
    assert issuer.jwks_fetches == 2  # the unknown kid fetched the keys once more
    assert_refused(client.get("/api/v1/tenant", headers=bearer(old)), "signed by a key the issuer does not publish")
    assert client.get("/api/v1/tenant", headers=bearer(new)).status_code == 200
    assert issuer.jwks_fetches == 3


def test_tokens_with_made_up_key_ids_fetch_the_keys_at_most_once_in_the_refetch_time(database_url, tmp_path, issuer):
    runtime = deployment(database_url, tmp_path / "data", issuer.url, oidc_jwks_min_refetch_seconds=60)
    tenant = new_tenant(runtime)
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        good = issuer.token(tenant=tenant.name, scope="full")
        assert client.get("/api/v1/tenant", headers=bearer(good)).status_code == 200
        stranger = new_key("RS256")
        for _ in range(10):
            made_up = issuer.token(key=stranger, tenant=tenant.name, scope="full")
            assert_refused(client.get("/api/v1/tenant", headers=bearer(made_up)), "a key the issuer does not publish")
        assert issuer.jwks_fetches == 1
    runtime.close()


def test_bad_tokens_are_refused_with_the_reason(app_client, issuer):
    client, runtime = app_client
    tenant = new_tenant(runtime)
    now = int(time.time())
    cases = {
        "the token has expired": issuer.token(tenant=tenant.name, exp=now - 60),
        "not valid yet": issuer.token(tenant=tenant.name, nbf=now + 600),
        f"its audience is not '{AUDIENCE}'": issuer.token(tenant=tenant.name, aud="another-api"),
        "not from the issuer": issuer.token(tenant=tenant.name, iss="https://issuer.example.com"),
        "the token has no exp claim": issuer.token(tenant=tenant.name, exp=None),
        "the token has no aud claim": issuer.token(tenant=tenant.name, aud=None),
        "names no tenant of this deployment": issuer.token(tenant="no-such-tenant"),
        "the token's tenant claim names no tenant": issuer.token(tenant=None),
        "signature does not verify": _tampered(issuer.token(tenant=tenant.name)),
        "cannot be read as a signed JWT": "not.a.jwt",
    }
    for reason, token in cases.items():
        assert_refused(client.get("/api/v1/tenant", headers=bearer(token)), reason)


def test_a_token_within_the_leeway_is_accepted(app_client, issuer):
    client, runtime = app_client
    tenant = new_tenant(runtime)
    just_expired = issuer.token(tenant=tenant.name, scope="full", exp=int(time.time()) - 5)  # leeway 30 s
    assert client.get("/api/v1/tenant", headers=bearer(just_expired)).status_code == 200


def test_symmetric_and_unsigned_tokens_are_refused(app_client, issuer):
    client, runtime = app_client
    tenant = new_tenant(runtime)
    claims = {"iss": issuer.url, "aud": AUDIENCE, "exp": int(time.time()) + 300, "tenant": tenant.name, "scope": "full"}
    secret = OctKey.import_key("a-secret-that-an-attacker-chose-32b")
    hmac_token = jwt.encode({"alg": "HS256", "kid": issuer.signing["RS256"].kid}, claims, secret)
    assert_refused(client.get("/api/v1/tenant", headers=bearer(hmac_token)), "cannot be read as a signed JWT")
    unsigned = _unsigned(issuer.token(tenant=tenant.name, scope="full"))
    assert_refused(client.get("/api/v1/tenant", headers=bearer(unsigned)), "cannot be read as a signed JWT")


def test_an_issuer_that_cannot_be_reached_answers_503_and_a_jwt_without_an_issuer_401(database_url, tmp_path, issuer):
    down = deployment(database_url, tmp_path / "down", f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(down), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/tenant", headers=bearer(issuer.token(tenant="default")))
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
        assert answer.json()["error"]["code"] == "unavailable"
    down.close()
    keys_only = build_runtime(make_settings(database_url, tmp_path / "keys"))
    with TestClient(create_app(keys_only), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        assert_refused(client.get("/api/v1/tenant", headers=bearer(issuer.token(tenant="x"))), "accepts no tokens")
    keys_only.close()


def test_the_api_key_as_a_bearer_still_works_beside_tokens(app_client):
    client, runtime = app_client
    tenant = new_tenant(runtime)
    assert client.get("/api/v1/tenant", headers=bearer(tenant.api_key)).json()["name"] == tenant.name


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    return ".".join([header, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), signature])


def _unsigned(token: str) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    return f"{header}.{token.split('.')[1]}."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_mangled_tokens_are_refused_never_a_server_error(app_client, issuer):
    client, runtime = app_client
    tenant = new_tenant(runtime)
    good = issuer.token(tenant=tenant.name, scope="full")
    header, payload, signature = good.split(".")
    rng = random.Random(12)
    odd_headers = [
        b"[]",
        b"null",
        b'{"alg":"RS256","kid":123}',
        b'{"alg":["RS256"]}',
        b'{"alg":"RS256","crit":["x"]}',
        b'{"alg":"RS256","kid":"' + b"k" * 5000 + b'"}',
        b"\xff\xfe",
        b'{"alg":"RSA-OAEP","enc":"A128GCM"}',
    ]
    mangled = [f"{_b64(h)}.{payload}.{signature}" for h in odd_headers]
    mangled += [f"{header}.{_b64(p)}.{signature}" for p in (b"[]", b"1", b'{"exp":"soon"}', b"\x00")]
    mangled += [".".join(rng.sample([header, payload, signature], 3)) for _ in range(5)] + [
        "..",
        "a..b",
        "." * 2 + "x" * 9000,
    ]
    # a segment's last character may carry unused bits (the same bytes under another letter): it is left alone
    places = [i for i in range(len(good) - 1) if good[i + 1] != "."]
    for _ in range(40):
        chars = list(good)
        for _ in range(rng.randint(1, 5)):
            chars[rng.choice(places)] = rng.choice("AZaz09-_.=+/")
        mangled.append("".join(chars))
    mangled = [token for token in mangled if token != good]  # a character may be put back as it was
    statuses = {client.get("/api/v1/tenant", headers=bearer(token)).status_code for token in mangled}
    assert statuses <= {401, 429}, statuses  # 429: past the refused-credential limit of one address
