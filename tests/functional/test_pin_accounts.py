"""mOTP and Yandex accounts through the pages and the command line: the PIN asked for when a link
has none, the manual form's hex secret, codes in the list (the codes' clock frozen on Aegis's vectors),
the PIN revealed only like the secret, edited and audited by name only, and the CLI's
`accounts add --pin-stdin` and `accounts list --json`."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_from, post_form
from tests.functional.test_accounts import age_reauth, post_edit
from tests.support.accounts import add, events, vault
from webauth.extensions import db
from webauth.models import Account
from webauth.otp import OtpParams, OtpType

MOTP_LINK = "motp://Old%20VPN:alice?secret=e3152afee62599c8&issuer=Old%20VPN"
MOTP_AT, MOTP_CODE = 165892298, "e7d8b6"  # Aegis's MOTPTest, PIN 1234
# Aegis's YAOTPTest account as its QR code gives it: no PIN in the link, only its length.
YANDEX_LINK = "otpauth://yaotp/Yandex:me?secret=LA2V6KMCGYMWWVEW64RNP3JA3I&pin_length=4"
YANDEX_AT, YANDEX_CODE = 1581064020, "oactmacq"  # PIN 7586


def send_link(client, text: str, pin: str | None = None):
    data = {"uri-uri": text, "uri-origin": "link"}
    if pin is not None:
        data["uri-pin"] = pin
    return post_form(client, "/accounts/new", "/accounts/new/uri", data)


def the_account(app) -> tuple[Account, object]:
    with app.app_context():
        account = db.session.scalar(select(Account))
        spec = vault(app).spec(account)
        db.session.expunge(account)
        return account, spec


def test_an_motp_link_asks_for_its_pin_then_adds_the_account(app, signed_in, frozen_clock):
    response = send_link(signed_in, MOTP_LINK)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The link does not hold this account&#39;s PIN: enter it to add the account." in page
    assert 'name="uri-pin"' in page and "e3152afee62599c8" in page  # the link comes back to be sent again
    assert the_account_count(app) == 0

    response = send_link(signed_in, MOTP_LINK, pin="1234")
    assert response.status_code == 302
    account, spec = the_account(app)
    assert (account.type, account.algorithm, account.digits, account.period) == ("motp", "MD5", 6, 10)
    assert spec.params.pin == "1234" and spec.issuer == "Old VPN"
    assert account.pin_sealed is not None and b"1234" not in account.pin_sealed

    frozen_clock.set(MOTP_AT)
    page = signed_in.get("/").get_data(as_text=True)
    assert MOTP_CODE[:3] in page and MOTP_CODE[3:] in page
    assert "1234" not in page
    assert events(app, "account.add") == [{"account": account.uuid, "source": "link"}]


def the_account_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Account)).all())


def test_a_yandex_link_without_a_pin_wants_one_of_the_length_it_names(app, signed_in, frozen_clock):
    page = send_link(signed_in, YANDEX_LINK).get_data(as_text=True)
    assert "The link says it has 4 characters." in page
    response = send_link(signed_in, YANDEX_LINK, pin="75861")
    assert response.status_code == 422
    assert "must be 4 characters long, as the link says" in response.get_data(as_text=True)
    assert the_account_count(app) == 0
    assert send_link(signed_in, YANDEX_LINK, pin="7586").status_code == 302
    frozen_clock.set(YANDEX_AT)
    assert YANDEX_CODE in signed_in.get("/").get_data(as_text=True).replace(" ", "")


def manual(client, **changes):
    data = {"manual-issuer": "Old VPN", "manual-name": "alice", "manual-secret": "e3152afee62599c8",
            "manual-type": "motp", "manual-algorithm": "SHA1", "manual-digits": "6", "manual-period": "30",
            "manual-counter": "0", "manual-pin": "1234"}
    data.update(changes)
    return post_form(client, "/accounts/new", "/accounts/new/manual", data)


def test_the_manual_form_takes_a_hex_secret_and_needs_the_pin(app, signed_in):
    response = manual(signed_in, **{"manual-pin": ""})
    assert response.status_code == 422 and "An mOTP or Yandex account needs its PIN." in response.get_data(as_text=True)
    response = manual(signed_in, **{"manual-secret": "JBSWY3DP"})
    assert response.status_code == 422 and "The mOTP secret key holds" in response.get_data(as_text=True)
    typo = "AA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI"  # Aegis's YandexInfoTest: one letter changed
    response = manual(signed_in, **{"manual-type": "yandex", "manual-secret": typo})
    assert response.status_code == 422 and "does not add up" in response.get_data(as_text=True)
    assert the_account_count(app) == 0
    assert manual(signed_in).status_code == 302
    _, spec = the_account(app)
    assert spec.params.type is OtpType.MOTP and spec.params.secret == bytes.fromhex("e3152afee62599c8")


def test_the_pin_is_revealed_only_like_the_secret(app, signed_in):
    uuid = add(app, MOTP_LINK.replace("?", "?pin=1234&"))  # apps other than Aegis write it in clear
    detail = signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    assert "Show the PIN" in detail and "1234" not in detail and "mOTP (Mobile-OTP)" in detail
    age_reauth(app)
    response = signed_in.get(f"/accounts/{uuid}/reveal/pin")
    assert response.status_code == 302 and "/reauth?next=" in response.headers["Location"]
    post_form(signed_in, "/reauth", f"/reauth?next=/accounts/{uuid}/reveal/pin", {"password": TEST_PASSWORD})
    response = signed_in.get(f"/accounts/{uuid}/reveal/pin")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert re.search(r'data-testid="pin">1234<', response.get_data(as_text=True))
    # The secret of an mOTP account is shown as it is typed: hexadecimal.
    assert "e315 2afe e625 99c8" in signed_in.get(f"/accounts/{uuid}/reveal/secret").get_data(as_text=True)
    uri = signed_in.get(f"/accounts/{uuid}/reveal/uri").get_data(as_text=True)
    assert "motp://Old%20VPN:alice?secret=e3152afee62599c8" in uri and "1234" not in uri
    assert events(app, "account.reveal") == [
        {"account": uuid, "what": "pin"},
        {"account": uuid, "what": "secret"},
        {"account": uuid, "what": "uri"},
    ]
    other = add(app, "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
    assert signed_in.get(f"/accounts/{other}/reveal/pin").status_code == 404


def test_editing_keeps_or_changes_the_pin_and_audits_its_name_only(app, signed_in):
    uuid = add(app, MOTP_LINK.replace("?", "?pin=1234&"))
    common = {"issuer": "Old VPN", "name": "alice", "type": "motp", "algorithm": "SHA1", "digits": "6", "period": "10"}
    assert post_edit(signed_in, uuid, **common, note="laptop").status_code == 302
    assert the_account(app)[1].params.pin == "1234"  # left empty: kept
    assert post_edit(signed_in, uuid, **common, note="laptop", pin="9876").status_code == 302
    account, spec = the_account(app)
    assert spec.params.pin == "9876" and account.revision == 3
    assert [event["fields"] for event in events(app, "account.edit")] == [["note"], ["pin"]]
    assert "9876" not in json.dumps(events(app, "account.edit"))


def test_the_cli_reads_the_pin_from_standard_input_only(app, user, frozen_clock):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "add", "--user", "alice", MOTP_LINK])
    assert result.exit_code != 0
    assert "this motp link holds no PIN: give it on standard input with --pin-stdin" in result.output
    result = runner.invoke(args=["accounts", "add", "--user", "alice", "--pin-stdin", MOTP_LINK], input="\n")
    assert result.exit_code != 0 and "no PIN on standard input" in result.output
    result = runner.invoke(args=["accounts", "add", "--user", "alice", "--pin-stdin", YANDEX_LINK], input="123\n")
    assert result.exit_code != 0 and "must be 4 characters long, as the link says" in result.output
    totp = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"
    result = runner.invoke(args=["accounts", "add", "--user", "alice", "--pin-stdin", totp], input="1234\n")
    assert result.exit_code != 0 and "a totp account has no PIN: leave out --pin-stdin" in result.output
    assert the_account_count(app) == 0

    result = runner.invoke(args=["accounts", "add", "--user", "alice", "--pin-stdin", MOTP_LINK], input="1234\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["accounts", "add", "--user", "alice", "--pin-stdin", YANDEX_LINK], input="7586\n")
    assert result.exit_code == 0, result.output

    frozen_clock.set(MOTP_AT)
    motp, _yandex = json.loads(runner.invoke(args=["accounts", "list", "--user", "alice", "--json"]).output)
    assert (motp["type"], motp["code"]) == ("motp", MOTP_CODE)
    frozen_clock.set(YANDEX_AT)
    result = runner.invoke(args=["accounts", "list", "--user", "alice", "--json"])
    _motp, yandex = json.loads(result.output)
    assert (yandex["type"], yandex["code"]) == ("yandex", YANDEX_CODE)
    assert "1234" not in result.output and "7586" not in result.output


@pytest.mark.parametrize("pin", ["x" * 65, "12\u000734"])
def test_a_bad_pin_is_a_clear_422(app, signed_in, pin):
    response = send_link(signed_in, MOTP_LINK, pin=pin)
    assert response.status_code == 422
    assert the_account_count(app) == 0
    page = response.get_data(as_text=True)
    assert "Use at most 64 characters." in page or "The PIN holds invisible control characters" in page


def test_the_edit_page_of_an_motp_account_offers_the_pin(app, signed_in):
    uuid = add(app, MOTP_LINK.replace("?", "?pin=1234&"))
    page = signed_in.get(f"/accounts/{uuid}/edit").get_data(as_text=True)
    assert 'name="pin"' in page and "1234" not in page and csrf_from(page)


def test_turning_an_account_into_motp_asks_for_its_pin(app, signed_in):
    uuid = add(app, "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
    response = post_edit(signed_in, uuid, type="motp")
    assert response.status_code == 422
    assert "This account&#39;s codes need its PIN: enter it." in response.get_data(as_text=True)
    account, spec = the_account(app)
    assert spec.params.type is OtpType.TOTP and account.revision == 1
    assert post_edit(signed_in, uuid, type="motp", pin="1234").status_code == 302
    assert the_account(app)[1].params == OtpParams(OtpType.MOTP, bytes.fromhex("48656c6c6f21deadbeef"), pin="1234")


def test_a_new_pin_needs_a_recent_password_like_a_new_secret(app, signed_in):
    uuid = add(app, MOTP_LINK.replace("?", "?pin=1234&"))
    age_reauth(app)
    common = {"issuer": "Old VPN", "name": "alice", "type": "motp", "algorithm": "SHA1", "digits": "6", "period": "10"}
    response = post_edit(signed_in, uuid, **common, pin="9876")
    assert response.status_code == 403
    assert "the counter or the PIN needs your password" in response.get_data(as_text=True)
    assert the_account(app)[1].params.pin == "1234"
