import pytest

from emailplatform.domains import service
from emailplatform.errors import Invalid
from tests.conftest import new_tenant
from tests.domains.helpers import register, verified_domain


def check(runtime, tenant, from_email: str, allow: bool | None) -> str | None:
    settings = runtime.settings.model_copy(update={"allow_unverified_domains": allow})
    with runtime.db.session(write=False) as session:
        return service.check_sender(session, tenant.tenant_id, from_email, settings)


@pytest.mark.parametrize("allow", [True, False, None])
def test_a_verified_domain_may_always_send(client, runtime, tenant, dns_server, allow):
    verified_domain(client, dns_server)

    assert check(runtime, tenant, "news@Example.com", allow) is None


@pytest.mark.parametrize(
    "from_email, state",
    [
        ("news@unknown.example", "is not a registered sending domain"),
        ("news@registered.example", "is not verified"),
    ],
)
def test_an_unverified_domain_is_refused_where_the_deployment_does_not_allow_it(
    client, runtime, tenant, from_email, state
):
    register(client, "registered.example")

    with pytest.raises(Invalid) as refused:
        check(runtime, tenant, from_email, allow=False)

    assert refused.value.field == "from.email"
    domain = from_email.split("@")[1]
    assert f"{domain} {state}" in refused.value.message
    assert "/api/v1/domains" in refused.value.message


def test_an_unverified_domain_sends_with_a_warning_where_the_deployment_allows_it(runtime, tenant):
    warning = check(runtime, tenant, "news@unknown.example", allow=True)

    assert "unknown.example is not a registered sending domain" in warning
    assert "without a DKIM signature" in warning


def test_by_default_only_the_embedded_sqlite_deployment_allows_unverified_domains(runtime, tenant):
    if runtime.settings.is_sqlite:
        assert "unknown.example" in check(runtime, tenant, "news@unknown.example", allow=None)
    else:
        with pytest.raises(Invalid):
            check(runtime, tenant, "news@unknown.example", allow=None)


def test_another_tenants_verified_domain_does_not_count(client, runtime, tenant, dns_server):
    verified_domain(client, dns_server)
    other = new_tenant(runtime)

    with pytest.raises(Invalid):
        check(runtime, other, "news@example.com", allow=False)
