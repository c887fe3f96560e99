"""The spec is complete, so a new route has to be too: each operation says what it does, shows an example, and
documents the error shape on every error it can answer; each schema has an example that is valid for it."""

import pytest
from openapi_schema_validator import OAS31Validator

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from tests.conftest import make_settings

METHODS = {"get", "put", "post", "patch", "delete"}
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
ALWAYS_ANSWERS = {"open_pixel", "erase_recipient"}  # the 1×1 GIF, whatever the token; an erasure, of any address


@pytest.fixture(scope="module")
def spec(sqlite_url, tmp_path_factory):
    runtime = build_runtime(make_settings(sqlite_url, tmp_path_factory.mktemp("data")))
    yield create_app(runtime).openapi()
    runtime.close()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_summary_and_a_description_of_its_own(spec):
    generated = [name for name, op in operations(spec) if op["summary"] == op["operationId"].replace("_", " ").title()]
    undescribed = [name for name, op in operations(spec) if not op.get("description", "").strip()]
    assert generated == [], "operations with FastAPI's made-up summary: give the decorator a summary="
    assert undescribed == [], "operations with no description: give the route function a docstring"
    ids = [op["operationId"] for _, op in operations(spec)]
    assert len(ids) == len(set(ids)), "two routes have the same function name (the operation id clients call)"


def test_every_operation_documents_the_errors_it_can_answer_in_the_error_shape(spec):
    missing = []
    for name, op in operations(spec):
        responses = op["responses"]
        expected = set()
        if op.get("security"):
            expected.add("401")
        if op.get("parameters") or op.get("requestBody"):
            expected.add("422")
        if any(p["in"] == "path" for p in op.get("parameters", [])) and op["operationId"] not in ALWAYS_ANSWERS:
            expected.add("404")
        missing += [f"{name}: {status}" for status in sorted(expected - set(responses))]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                content = response.get("content", {}).get("application/json", {})
                if content.get("schema") != ERROR_SCHEMA or "example" not in content:
                    missing.append(f"{name}: {status} is not the error shape with an example")
    assert missing == [], "give the router or route responses=error_responses(...)"
    assert not {"HTTPValidationError", "ValidationError"} & set(spec["components"]["schemas"])


def test_every_success_answer_and_request_body_has_a_schema_with_an_example(spec):
    schemas = spec["components"]["schemas"]
    lacking = []
    for name, op in operations(spec):
        bodies = [("request", op.get("requestBody", {}).get("content", {}))]
        bodies += [(status, r.get("content", {})) for status, r in op["responses"].items() if status.startswith("2")]
        for what, content in bodies:
            schema = content.get("application/json", {}).get("schema")
            schema = schema and schema.get("items", schema)  # a list's example is its items'
            ref = schema and schema.get("$ref", "").rsplit("/", 1)[-1]
            if schema and not (ref and "examples" in schemas.get(ref, {})) and "examples" not in schema:
                lacking.append(f"{name}: {what}")
    assert lacking == [], "declare the schema of each body as a model with an example"


def test_every_schema_has_an_example_that_is_valid_for_it(spec):
    schemas = spec["components"]["schemas"]
    without = [name for name, schema in schemas.items() if "enum" not in schema and not schema.get("examples")]
    assert without == [], "schemas with no example: model_config = ConfigDict(json_schema_extra={'examples': [...]})"
    invalid = []
    for name, schema in schemas.items():
        validator = OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]})
        for example in schema.get("examples", []):
            invalid += [f"{name}: {error.json_path}: {error.message}" for error in validator.iter_errors(example)]
    assert invalid == []
