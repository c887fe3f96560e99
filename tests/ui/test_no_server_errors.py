"""Nothing a signed-in user sends makes a page answer 500: every UI route, fed malformed path values and form
fields, answers a page in words (a 2xx, 3xx or 4xx)."""

import pytest

from emailplatform.ui.deps import CSRF_FIELD
from tests.test_no_server_errors import BIG_CURSOR, fill, routes
from tests.ui.conftest import make_user, sign_in

BAD_PATH_VALUES = ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00", "9" * 40]
BAD_FIELD_VALUES = [
    "",
    "\x00",
    "x" * 5000,
    "not-a-uuid",
    "2026-13-45T25:61",
    "-1",
    "9" * 40,
    "Mars/Olympus",
    BIG_CURSOR,
]
QUERY_NAMES = ["q", "status", "state", "cursor", "days", "version", "saved", "campaign"]
FIELDS_READ_FROM_THE_FORM = ["subject", "html", "text", "sample.name"]  # the editor's preview reads its form itself


def form_fields(route) -> list[str]:
    return [param.alias for param in route.dependant.body_params] + FIELDS_READ_FROM_THE_FORM


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_malformed_pages_and_forms_never_get_a_500(ui_client, runtime, tenant):
    # the sign-in form is sent 36 times: past its limits (10 a minute) most would be answered 429 untried
    runtime.settings.rate_limit_sign_in_account = runtime.settings.rate_limit_sign_in_address = "1000/minute"
    token = sign_in(ui_client, make_user(runtime, tenant, "owner"))
    failures, tried = [], set()
    for method, path, route in routes(ui_client.app):
        if not path.startswith("/ui/") or path == "/ui/sign-out":  # signing out would end the test's session
            continue
        for value in BAD_PATH_VALUES:
            url = fill(path, value)
            if method == "GET":
                sent = [ui_client.get(url, params={name: v for name in QUERY_NAMES}) for v in BAD_FIELD_VALUES]
            else:
                fields = form_fields(route)
                sent = [
                    ui_client.post(url, data={name: v for name in fields} | {CSRF_FIELD: token})
                    for v in BAD_FIELD_VALUES
                ]
            failures += [(method, url, r.status_code) for r in sent if r.status_code >= 500]
        tried.add(path)
    assert failures == [], failures
    assert len(tried) > 40
    assert ui_client.get("/ui/").status_code == 200  # still signed in: every route above was tried as the owner
