import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from tests.conftest import PUBLIC_URL, make_settings
from tests.domains.dns_server import LoopbackDns

SPF_INCLUDE = "spf.platform.test"
BOUNCE_DOMAIN = "bounces.platform.test"


@pytest.fixture
def dns_server():
    server = LoopbackDns()
    server.start()
    yield server
    server.stop()


def domain_settings(database_url, data_dir, dns_server, **overrides) -> Settings:
    """Settings whose DNS questions go to the test's own DNS server, with the platform's bounce and SPF domains."""
    return make_settings(
        database_url,
        data_dir,
        bounce_domain=BOUNCE_DOMAIN,
        dns_nameservers=[dns_server.address],
        spf_include=SPF_INCLUDE,
        **overrides,
    )


@pytest.fixture
def runtime(database_url, tmp_path, dns_server):
    """The runtime of every domains test: DNS questions go to the test's own DNS server."""
    runtime = build_runtime(domain_settings(database_url, tmp_path / "data", dns_server))
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime, tenant, api_traffic):
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = tenant.api_key
        api_traffic.watch(client)
        yield client
