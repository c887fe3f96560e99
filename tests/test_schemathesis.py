"""Schemathesis over the whole OpenAPI spec, in-process against the app: every operation, fed requests generated
from its own schema (valid ones, invalid ones, and valid ones naming real objects of the tenant), with a real API
key of a tenant that has one object of each kind, answers no 5xx, only status codes its spec documents, in the
content type, headers and shape the spec says.

Bounded and repeatable: a few examples per operation and mode, derandomized (the same cases every run), no
deadline (the machine is shared)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from emailplatform.app import create_app
from tests.conftest import PUBLIC_URL
from tests.tenant_objects import make_tenant_objects

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = settings(
    max_examples=8, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def api_schema(app):
    config = SchemathesisConfig.from_dict({"base-url": PUBLIC_URL})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def strategies(operation, objects: dict[str, str]):
    """(what, strategy): generated from the schema, valid and invalid, and valid naming the tenant's objects."""
    yield "positive", operation.as_strategy(GenerationMode.POSITIVE)
    yield "negative", operation.as_strategy(GenerationMode.NEGATIVE)
    names = [p.name for p in operation.path_parameters]
    if names and all(name in objects for name in names):
        real = {name: objects[name] for name in names}
        yield "real ids", operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real)


def failures_of(strategy, api_key: str) -> str | None:
    @given(case=strategy)
    @EXAMPLES
    def run(case):
        case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # no invalid request can be made of it (an operation that takes no input)
        return None
    except (Exception, BaseExceptionGroup) as exc:  # a check's failure, with the case that shows it
        return str(exc)[:3000]
    return None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_operation_answers_as_its_spec_says(client, runtime, tenant):
    # thousands of requests with one key: past the default 1,000 a minute most would be answered 429
    runtime.settings.rate_limit_api_key = runtime.settings.rate_limit_tenant = "1000000/minute"
    objects = make_tenant_objects(client, runtime)
    schema = api_schema(create_app(runtime))
    failures, tried = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for what, strategy in strategies(operation, objects):
            tried += 1
            if failure := failures_of(strategy, tenant.api_key):
                failures.append(f"{operation.label} ({what}):\n{failure}")
    assert tried > 150, tried  # every operation of the spec was tried
    assert failures == [], "\n\n".join(failures)
