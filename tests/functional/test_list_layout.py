"""The list's density (a choice per device, in a cookie), the countdown's seconds as drawn,
and an account page's current code, through the Flask test client."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from tests.conftest import csrf_from
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
HTMX = {"HX-Request": "true"}


def add(app, uri: str) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        account = Vault(user, keyring()).add(parse_uri(uri))
        db.session.commit()
        return account.uuid


def test_compact_rows_are_this_devices_choice(app, signed_in):
    add(app, f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub")
    page = signed_in.get("/").get_data(as_text=True)
    assert '<section id="codes" class="codes"' in page
    token = csrf_from(page)
    response = signed_in.post("/codes/density", data={"csrf_token": token, "density": "compact"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("webauth_density=compact;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert '<section id="codes" class="codes compact"' in signed_in.get("/").get_data(as_text=True)
    # The fragment the list refreshes with keeps it, and the button offers the way back.
    assert 'class="codes compact"' in signed_in.get("/", headers=HTMX).get_data(as_text=True)
    assert 'value="comfortable">Comfortable rows<' in signed_in.get("/").get_data(as_text=True)
    signed_in.post("/codes/density", data={"csrf_token": token, "density": "comfortable"})
    assert '<section id="codes" class="codes"' in signed_in.get("/").get_data(as_text=True)


def test_a_density_that_is_not_offered_is_a_400_with_a_message(app, signed_in):
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    response = signed_in.post("/codes/density", data={"csrf_token": token, "density": "huge"})
    assert response.status_code == 400
    assert "Choose comfortable or compact rows." in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers or "webauth_density" not in response.headers["Set-Cookie"]
    assert signed_in.post("/codes/density", data={"density": "compact"}).status_code == 400  # no CSRF token


def test_the_countdown_says_the_seconds_left_and_warns_at_the_end(app, signed_in, frozen_clock):
    add(app, f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub")
    start = frozen_clock.now() - frozen_clock.now() % 30
    for into, left, ending in ((0.5, 30, False), (24.5, 6, False), (25.0, 5, True), (29.9, 1, True)):
        frozen_clock.set(start + into)
        html = signed_in.get("/").get_data(as_text=True)
        countdown = re.search(r'<p class="countdown( countdown-ending)?" data-period="30">.*?'
                              r'<span class="countdown-seconds">(\d+)</span>', html)
        assert countdown and int(countdown.group(2)) == left and bool(countdown.group(1)) == ending, (into, countdown)


def test_an_accounts_page_shows_its_code_and_asks_again_at_the_periods_end(app, signed_in, frozen_clock):
    uuid = add(app, f"otpauth://totp/GitHub:{'a' * 120}@example.com?secret={SECRET}&issuer=GitHub")
    start = frozen_clock.now() - frozen_clock.now() % 30
    frozen_clock.set(start + 10)
    html = signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    code = pyotp.TOTP(SECRET).at(start + 10)
    assert f'data-copy="{code}"' in html and f"{code[:3]} {code[3:]}" in html
    assert 'hx-trigger="load delay:10' in html  # at the preview, 10 s before the end
    assert "Derived from the secret key without revealing it" in html
    frozen_clock.set(start + 31)
    fragment = signed_in.get(f"/accounts/{uuid}/code", headers=HTMX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="detail-code"')
    assert f'data-copy="{pyotp.TOTP(SECRET).at(start + 31)}"' in fragment
    # Without htmx, the page itself.
    response = signed_in.get(f"/accounts/{uuid}/code")
    assert response.status_code == 302 and response.headers["Location"] == f"/accounts/{uuid}"


def test_an_hotp_accounts_page_shows_its_code_without_moving_it_on(app, signed_in):
    uuid = add(app, f"otpauth://hotp/VPN:alice?secret={SECRET}&issuer=VPN&counter=3")
    html = signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    block = html.split('<div id="detail-code"')[1].split("</div>")[0]
    assert f'data-copy="{pyotp.HOTP(SECRET).at(3)}"' in block and "hx-trigger" not in block
    # Looking again does not use the code up.
    assert f'data-copy="{pyotp.HOTP(SECRET).at(3)}"' in signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
