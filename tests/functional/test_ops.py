"""/healthz and /metrics: what a load balancer and Prometheus see, and who may see it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_PASSWORD, post_form, sign_in
from webauth import create_app
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def samples(body: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def test_healthz_answers_ok_when_the_database_does(client):
    response = client.get("/healthz")  # before set-up too: no redirect to /setup
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_healthz_answers_503_when_the_database_does_not(app_config, tmp_path):
    broken = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "problems": ["the database does not answer"]}
    metrics = scrape(broken.test_client())
    assert metrics[("webauth_database_up", ())] == 0


def test_metrics_count_requests_sign_ins_and_accounts(app, client, user):
    with app.app_context():
        Vault(db.session.get(User, user.id), keyring()).add(parse_uri(f"otpauth://totp/A:a?secret={SECRET}"))
        Vault(db.session.get(User, user.id), keyring()).add(parse_uri(f"otpauth://hotp/B:b?secret={SECRET}"))
        db.session.commit()
    before = scrape(client)
    post_form(client, "/login", "/login", {"username": "alice", "password": "wrong password"})
    sign_in(client)
    client.get("/")
    after = scrape(client)

    def grew(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("webauth_signins_total", result="failure") == 1
    assert grew("webauth_signins_total", result="success") == 1
    assert grew("webauth_http_requests_total", endpoint="codes.index", method="GET", status="200") == 1
    assert grew("webauth_http_requests_total", endpoint="auth.login", method="POST", status="401") == 1
    assert grew("webauth_http_request_duration_seconds_count", endpoint="codes.index") == 1
    assert after[("webauth_accounts", (("type", "totp"),))] == 1
    assert after[("webauth_accounts", (("type", "hotp"),))] == 1
    assert after[("webauth_users", (("state", "active"),))] == 1
    assert after[("webauth_database_up", ())] == 1


def test_metrics_name_no_user_and_no_secret(app, client, user):
    with app.app_context():
        Vault(db.session.get(User, user.id), keyring()).add(parse_uri(f"otpauth://totp/Bank:alice?secret={SECRET}"))
        db.session.commit()
    sign_in(client)
    body = client.get("/metrics").get_data(as_text=True)
    for text in ("alice", "Bank", SECRET, TEST_PASSWORD):
        assert text not in body


def test_without_a_token_metrics_are_for_this_machine_only(client):
    assert client.get("/metrics").status_code == 200
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403 and "WEBAUTH_METRICS_TOKEN" in remote.get_data(as_text=True)
    # A proxy on this machine forwards everyone from loopback: a forwarded request is not local.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_with_a_token_metrics_want_it_from_anywhere(app_config):
    client = create_app({**app_config, "WEBAUTH_METRICS_TOKEN": "s3cret-token"}).test_client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"}, environ_base=remote)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}, environ_base=remote)
    assert right.status_code == 200 and "webauth_http_requests_total" in right.get_data(as_text=True)
