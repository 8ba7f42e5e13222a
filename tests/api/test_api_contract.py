"""The API against its own OpenAPI 3.1 document: schemathesis draws requests from the document
(valid ones, and ones the document forbids) and fails on any 5xx, and on any answer (status,
content type, headers, body) the document does not describe. The same examples run every time in
CI (the `derandomized` profile of tests/conftest.py); WEBAUTH_API_EXAMPLES explores more."""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from markupsafe import escape
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import HOTP_SECRET, TOTP_URI, Api, make_token
from webauth.views.api import openapi

# Enough to reach every field and error of each operation, few enough for CI's 30 minutes.
EXAMPLES = int(os.environ.get("WEBAUTH_API_EXAMPLES", "40"))
# A request the document forbids must be refused with a 4xx the document names: 413 counts too
# (a body of 8,192 characters each escaped as \\uXXXX is larger than the API takes).
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 409, 412, 413, 415, 422]}}}
)
SCHEMA = schemathesis.openapi.from_dict(openapi.document())
LABELS = [result.ok().label for result in SCHEMA.get_all_operations()]


def test_the_document_is_openapi_3_1_and_schemathesis_reads_every_operation() -> None:
    assert SCHEMA.raw_schema["openapi"] == "3.1.0"
    assert set(LABELS) == {
        "GET /accounts", "POST /accounts", "GET /accounts/{id}", "PATCH /accounts/{id}", "DELETE /accounts/{id}",
        "GET /accounts/{id}/code", "POST /accounts/{id}/next", "GET /token",
    }


def test_the_served_document_is_the_one_tested(api: Api) -> None:
    assert api.client.get("/api/v1/openapi.json").get_json() == openapi.document()


@pytest.mark.parametrize("label", LABELS)
def test_every_operation_keeps_to_the_document(label, app, client, user) -> None:
    method, path = label.split(" ")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    api = Api(client, make_token(app))
    totp = api.post("/accounts", json={"uri": TOTP_URI}).get_json()["id"]
    hotp = api.post("/accounts", json={"secret": HOTP_SECRET, "type": "hotp", "name": "h"}).get_json()["id"]

    # The token through schemathesis's auth provider, not drawn into the case as a header: so it
    # counts as a real credential (left out where a negative example removes it), and the
    # ignored_auth check probes each operation without it and with a made-up one (both must be
    # 401). A header drawn into the case counted as generated: any 2xx an example reached then
    # failed as "generated auth likely invalid".
    @schema.auth()
    class Token:
        def get(self, case, context) -> str:
            return api.token

        def set(self, case, data: str, context) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    operation = schema[path][method]
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    if "{id}" in operation.path:
        # Most drawn ids match no account: these reach real ones (the DELETE examples may trash them).
        strategies += [operation.as_strategy(path_parameters={"id": known}) for known in (totp, hotp)]

    @hypothesis.given(case=st.one_of(strategies))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow],
    )
    def keeps_to_the_document(case) -> None:
        # Data the document allows may still be refused by the domain (a secret of 3 base32
        # characters, an otpauth URI that is not one): a 4xx problem, which the document describes.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    keeps_to_the_document()


def test_the_document_follows_the_code_it_describes() -> None:
    """Types, algorithms and limits come from the domain: a new OTP type appears without a second edit."""
    from webauth.otp import MAX_DIGITS, MIN_DIGITS, Algorithm, OtpType

    schemas = openapi.document()["components"]["schemas"]
    assert schemas["Account"]["properties"]["type"]["enum"] == [kind.value for kind in OtpType]
    assert schemas["AccountChange"]["properties"]["algorithm"]["enum"] == [a.value for a in Algorithm]
    digits = schemas["NewAccountFromFields"]["properties"]["digits"]
    assert (digits["minimum"], digits["maximum"]) == (MIN_DIGITS, MAX_DIGITS)


def test_the_reference_page_is_the_document_to_read_under_the_strict_policy(client) -> None:
    answer = client.get("/api/v1/docs")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.mimetype == "text/html" and html.startswith("<!doctype html>")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "<script" not in html and "<style" not in html and " style=" not in html
    document = openapi.document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert f"{method.upper()} /api/v1{path}" in html
                assert str(escape(operation["summary"])) in html
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
