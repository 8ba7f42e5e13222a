"""Each endpoint of /api/v1 through Flask's test client: what it answers, and what it changes
(through the vault: revisions, audit events, the trash), as the pages would."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.api.conftest import HOTP_SECRET, TOTP_URI, Api, make_token
from tests.conftest import FROZEN_AT, account_state
from tests.support.casdoor_vault import link_user, remote_entries
from webauth.extensions import db
from webauth.models import Account, AuditEvent
from webauth.otp import Algorithm, OtpParams, OtpType, code_at
from webauth.otpauth import decode_secret

TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def _add(api: Api, **body) -> dict:
    answer = api.post("/accounts", json=body or {"uri": TOTP_URI})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def _events(app, name: str) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id))
        return [row.details for row in rows]


def _account(app, uuid: str) -> Account:
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.uuid == uuid))
        db.session.expunge(account)
        return account


def test_the_list_has_the_fields_of_accounts_list_json(app, api, frozen_clock) -> None:
    _add(api)
    _add(api, secret=HOTP_SECRET, type="hotp", name="hotp@example.com", counter=4, groups=["Work"], favorite=True)
    listed = api.get("/accounts").get_json()
    printed = json.loads(app.test_cli_runner().invoke(args=["accounts", "list", "--user", "alice", "--json"]).output)

    by_id = {row["id"]: row for row in printed}
    for row in listed:
        expected = dict(by_id[row["id"]])
        if row["type"] == "hotp":
            # The CLI prints no code for HOTP; the API gives the current counter's, as the list page shows.
            params = OtpParams(OtpType.HOTP, decode_secret(HOTP_SECRET), Algorithm.SHA1, 6, 30, 4)
            expected["code"] = code_at(params)
        assert row == expected
    assert [row["type"] for row in listed] == ["hotp", "totp"]  # favorites first, as on the page


def test_the_list_never_holds_a_secret(api) -> None:
    _add(api)
    text = api.get("/accounts").get_data(as_text=True)
    assert TOTP_SECRET not in text and "secret" not in text


def test_the_list_searches_and_filters_by_group(api) -> None:
    _add(api)
    _add(api, secret=HOTP_SECRET, type="hotp", issuer="GitLab", name="bob", groups=["Work"])
    assert [row["issuer"] for row in api.get("/accounts?q=acme").get_json()] == ["ACME"]
    assert [row["issuer"] for row in api.get("/accounts?q=work").get_json()] == ["GitLab"]  # a group's name
    assert [row["issuer"] for row in api.get("/accounts?group=Work").get_json()] == ["GitLab"]
    assert api.get("/accounts?group=Home").get_json() == []


def test_one_account_and_its_code(app, api, frozen_clock) -> None:
    added = _add(api)
    expected = code_at(OtpParams(OtpType.TOTP, decode_secret(TOTP_SECRET)), FROZEN_AT)

    one = api.get(f"/accounts/{added['id']}").get_json()
    code = api.get(f"/accounts/{added['id']}/code").get_json()

    assert one["code"] == expected and one["remaining"] == 20.0 and one["period"] == 30
    assert code == {"id": added["id"], "code": expected, "period": 30, "remaining": 20.0}
    assert _account(app, added["id"]).last_used_at is not None  # a use, for the "recently used" order
    frozen_clock.advance(30)
    assert api.get(f"/accounts/{added['id']}/code").get_json()["code"] == code_at(
        OtpParams(OtpType.TOTP, decode_secret(TOTP_SECRET)), FROZEN_AT + 30
    )


def test_adding_from_a_uri_answers_201_with_the_account_and_its_location(app, api) -> None:
    answer = api.post("/accounts", json={"uri": TOTP_URI, "note": "desk", "groups": ["Work"], "favorite": True})
    body = answer.get_json()
    assert answer.status_code == 201
    assert answer.headers["Location"] == f"/api/v1/accounts/{body['id']}"
    assert (body["issuer"], body["name"], body["note"], body["groups"], body["favorite"]) == (
        "ACME", "alice@example.com", "desk", ["Work"], True,
    )
    assert _events(app, "account.add") == [{"account": body["id"], "source": "api"}]


def test_adding_from_fields(app, api) -> None:
    body = _add(api, secret="gezd gnbv gy3t qojq", issuer="Bank", name="me", algorithm="SHA256", digits=8, period=60)
    assert (body["algorithm"], body["digits"], body["period"], len(body["code"])) == ("SHA256", 8, 60, 8)


def test_the_same_account_twice_is_a_409_naming_the_first(api) -> None:
    first = _add(api)
    answer = api.post("/accounts", json={"uri": TOTP_URI})
    assert answer.status_code == 409
    assert answer.get_json()["existing"] == first["id"]
    assert len(api.get("/accounts").get_json()) == 1


def test_changing_names_the_fields_in_the_audit_and_bumps_the_revision(app, api) -> None:
    added = _add(api)
    before = _account(app, added["id"]).revision

    answer = api.patch(f"/accounts/{added['id']}", json={"name": "carol", "groups": ["Home", "Work"]})

    assert answer.status_code == 200
    assert (answer.get_json()["name"], answer.get_json()["groups"]) == ("carol", ["Home", "Work"])
    assert answer.get_json()["issuer"] == "ACME"  # fields not named keep their values
    assert _account(app, added["id"]).revision == before + 1
    assert _events(app, "account.edit") == [{"account": added["id"], "fields": ["name", "groups"], "source": "api"}]


@pytest.mark.parametrize(
    "change", [{"secret": HOTP_SECRET}, {"type": "hotp"}, {"counter": 5}, {"type": "totp"}],
    ids=["secret", "type", "counter", "same-type"],
)
def test_type_secret_and_counter_are_not_changed_with_a_token(app, api, change) -> None:
    """The pages want the password for these (a TOTP turned HOTP at a future step shows codes not yet
    asked for); a token is no password entry, so the API refuses them, even unchanged."""
    added = _add(api)
    before = account_state(app, added["id"])
    answer = api.patch(f"/accounts/{added['id']}", json={**change, "name": "carol"})
    assert answer.status_code == 422
    [error] = answer.get_json()["errors"]
    assert error["pointer"] == f"#/{next(iter(change))}" and "password" in error["detail"]
    assert account_state(app, added["id"]) == before


def test_renaming_into_another_account_of_the_vault_is_a_409(api) -> None:
    first = _add(api)
    second = _add(api, secret=TOTP_SECRET, issuer="ACME", name="other")
    answer = api.patch(f"/accounts/{second['id']}", json={"name": "alice@example.com"})
    assert answer.status_code == 409 and answer.get_json()["existing"] == first["id"]


def test_a_change_from_a_stale_read_is_a_412_and_loses_nothing(app, api) -> None:
    """Two scripts read the account, both change it: the second is told, not silently overwriting."""
    added = api.post("/accounts", json={"uri": TOTP_URI})
    etag = added.headers["ETag"]
    uuid = added.get_json()["id"]
    assert api.get(f"/accounts/{uuid}").headers["ETag"] == etag

    first = api.patch(f"/accounts/{uuid}", json={"note": "first"}, headers={"If-Match": etag})
    second = api.patch(f"/accounts/{uuid}", json={"name": "second"}, headers={"If-Match": etag})

    assert first.status_code == 200 and first.headers["ETag"] != etag
    assert second.status_code == 412 and second.headers["Content-Type"] == "application/problem+json"
    current = api.get(f"/accounts/{uuid}")
    assert (current.get_json()["note"], current.get_json()["name"]) == ("first", "alice@example.com")
    third = api.patch(f"/accounts/{uuid}", json={"name": "third"}, headers={"If-Match": current.headers["ETag"]})
    assert third.status_code == 200 and third.get_json()["note"] == "first"
    assert api.patch(f"/accounts/{uuid}", json={"name": "x"}, headers={"If-Match": '"nonsense"'}).status_code == 412
    assert api.patch(f"/accounts/{uuid}", json={"name": "any"}, headers={"If-Match": "*"}).status_code == 200


def test_deleting_moves_to_the_trash(app, api) -> None:
    added = _add(api)
    answer = api.delete(f"/accounts/{added['id']}")
    assert answer.status_code == 204 and answer.data == b""
    assert api.get(f"/accounts/{added['id']}").status_code == 404
    assert _account(app, added["id"]).deleted_at is not None  # in the trash, restorable
    assert _events(app, "account.delete") == [{"account": added["id"], "source": "api"}]


def test_next_moves_an_hotp_counter_and_answers_its_code(app, api) -> None:
    added = _add(api, secret=HOTP_SECRET, type="hotp", name="h", counter=7)
    answer = api.post(f"/accounts/{added['id']}/next")
    params = OtpParams(OtpType.HOTP, decode_secret(HOTP_SECRET), counter=8)
    assert answer.status_code == 200
    assert answer.get_json() == {"id": added["id"], "code": code_at(params), "counter": 8}
    assert _events(app, "account.hotp_next") == [{"account": added["id"], "counter": 8}]


def test_next_of_a_time_based_account_is_a_409(api) -> None:
    added = _add(api)
    answer = api.post(f"/accounts/{added['id']}/next")
    assert answer.status_code == 409
    assert answer.headers["Content-Type"] == "application/problem+json"


def test_the_token_describes_itself(app, client, user) -> None:
    api = Api(client, make_token(app, name="widget", scope="read", days=7))
    answer = api.get("/token")
    body = answer.get_json()
    assert (body["name"], body["scope"], body["user"]) == ("widget", "read", "alice")
    assert body["expires_at"] > body["created_at"]
    assert api.token not in answer.get_data(as_text=True)  # never the token itself


def test_a_change_through_the_api_syncs_with_casdoor_after_the_response(casdoor_app, casdoor) -> None:
    """The same trigger as a page's change (casdoor/triggers.py), against the fake Casdoor."""
    api = Api(casdoor_app.test_client(), make_token(casdoor_app, user_id=link_user(casdoor_app, casdoor)))
    casdoor.reset_counts()

    answer = api.post("/accounts", json={"uri": f"otpauth://totp/Slack:alice?secret={HOTP_SECRET}&issuer=Slack"})

    assert answer.status_code == 201
    assert casdoor.request_count("/api/update-user") == 0  # not while answering
    answer.close()  # the server sends the response, then runs what waits for it
    assert casdoor.request_count("/api/update-user") == 1
    assert ("Slack", "alice", HOTP_SECRET) in remote_entries(casdoor)

    casdoor.reset_counts()
    api.delete(f"/accounts/{answer.get_json()['id']}").close()
    assert casdoor.request_count("/api/update-user") == 1
    assert ("Slack", "alice", HOTP_SECRET) not in remote_entries(casdoor)


def test_reading_through_the_api_does_not_sync(casdoor_app, casdoor) -> None:
    api = Api(casdoor_app.test_client(), make_token(casdoor_app, user_id=link_user(casdoor_app, casdoor)))
    casdoor.reset_counts()
    api.get("/accounts").close()
    assert casdoor.request_count("/api/update-user") == 0 and casdoor.request_count("/api/get-user") == 0


def test_next_codes_asked_at_once_are_all_different(app, api) -> None:
    """Scripts on several machines pressing "next" together: each gets its own counter."""
    from concurrent.futures import ThreadPoolExecutor

    added = _add(api, secret=HOTP_SECRET, type="hotp", name="h")

    def press(_index: int) -> int:
        answer = Api(app.test_client(), api.token).post(f"/accounts/{added['id']}/next")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.get_json()["counter"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        counters = list(pool.map(press, range(8)))

    assert sorted(counters) == list(range(1, 9))
    assert _account(app, added["id"]).counter == 8


def test_an_motp_account_comes_with_its_pin_and_never_gives_it_back(app, api) -> None:
    without = api.post("/accounts", json={"secret": TOTP_SECRET, "type": "motp", "name": "vpn"})
    assert without.status_code == 422 and without.get_json()["errors"][0]["pointer"] == "#/pin"
    answer = api.post("/accounts", json={"secret": TOTP_SECRET, "type": "motp", "name": "vpn", "pin": "4711"})
    body = answer.get_json()
    assert answer.status_code == 201 and body["type"] == "motp" and body["code"]
    assert "4711" not in answer.get_data(as_text=True) and "pin" not in body
    change = api.patch(f"/accounts/{body['id']}", json={"pin": "1234"})
    assert change.status_code == 422 and change.get_json()["errors"][0]["pointer"] == "#/pin"
