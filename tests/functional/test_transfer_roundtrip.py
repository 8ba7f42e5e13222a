"""Round trip through the app: a generated vault, exported by its owner's pages, imported by another user's.

For every export format, what the second vault holds equals the first with every parameter the
format can carry: all of them for the Aegis backup (groups, notes, favorites and icons too), the
OTP parameters, issuer and name for otpauth links and Google Authenticator transfer codes.
"""

from __future__ import annotations

import base64
import io
import re
import uuid

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_from, sign_in
from tests.support.transfer_flow import import_all
from tests.transfer.transfer_strategies import label_text, link_params, note_text, otp_params
from webauth import users
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otp import HMAC_ALGORITHMS, MAX_COUNTER, OtpParams, OtpType
from webauth.otpauth import AccountSpec, encode_secret
from webauth.transfer.google import migration_problem
from webauth.vault import Vault

BACKUP_PASSWORD = "round trip password"
ROUND_TRIP = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def icons(draw: st.DrawFn) -> bytes:
    """A small real image, as another app might hold as an account's icon."""
    size = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    colour = draw(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, draw(st.sampled_from(["PNG", "JPEG"])))
    return out.getvalue()


@st.composite
def full_specs(draw: st.DrawFn, params: st.SearchStrategy[OtpParams] = otp_params) -> AccountSpec:
    issuer, name = draw(label_text), draw(label_text)
    assume(issuer.strip() or name.strip())
    return AccountSpec(
        issuer=issuer,
        name=name,
        params=draw(params),
        note=draw(note_text),
        groups=tuple(draw(st.lists(label_text.filter(str.strip), max_size=3))),
        favorite=draw(st.booleans()),
        icon=draw(st.none() | icons()),
    )


google_params = st.one_of(
    st.builds(
        OtpParams,
        type=st.just(OtpType.TOTP),
        secret=st.binary(min_size=1, max_size=40),
        algorithm=st.sampled_from(HMAC_ALGORITHMS),
        digits=st.sampled_from([6, 8]),
    ),
    st.builds(
        OtpParams,
        type=st.just(OtpType.HOTP),
        secret=st.binary(min_size=1, max_size=40),
        algorithm=st.sampled_from(HMAC_ALGORITHMS),
        digits=st.sampled_from([6, 8]),
        counter=st.integers(0, MAX_COUNTER),
    ),
)


@st.composite
def google_specs(draw: st.DrawFn) -> AccountSpec:
    issuer, name = draw(label_text), draw(label_text)
    assume(issuer.strip() or name.strip())
    spec = AccountSpec(issuer=issuer, name=name, params=draw(google_params))
    assume(migration_problem(spec) is None)
    return spec


def described(spec: AccountSpec, full: bool) -> tuple:
    p = spec.params
    fields = (p.type.value, encode_secret(p.secret), spec.issuer, spec.name, p.algorithm.value, p.digits)
    fields += (p.period, p.counter)
    if full:
        fields += (spec.note, spec.groups, spec.favorite, spec.icon, spec.icon_mime)
    return fields


def vault_of(app, username: str, full: bool) -> list[tuple]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        vault = Vault(user, keyring())
        return sorted((described(vault.spec(account), full) for account in vault.accounts()), key=repr)


def new_user(app) -> str:
    username = f"u{uuid.uuid4().hex[:12]}"
    with app.app_context():
        users.create_local_user(username, TEST_PASSWORD, keyring())
        db.session.commit()
    return username


def exported(client, fmt: str) -> list[tuple[bytes, str]]:
    """What the export gives the user: the file, or the images of the printable page, as (data, name)."""
    token = csrf_from(client.get("/transfer/export").get_data(as_text=True))
    fields = {"password": BACKUP_PASSWORD, "confirm": BACKUP_PASSWORD} if fmt == "aegis-encrypted" else {}
    response = client.post(f"/transfer/export/{fmt}", data={"csrf_token": token, **fields})
    assert response.status_code == 200
    if fmt != "google-qr":
        return [(response.data, "export.json" if fmt.startswith("aegis") else "export.txt")]
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', response.get_data(as_text=True))
    return [(base64.b64decode(image), f"code-{number}.png") for number, image in enumerate(images, start=1)]


def round_trip(app, specs: list[AccountSpec], fmt: str, full: bool) -> str:
    owner, heir = new_user(app), new_user(app)
    with app.app_context():
        Vault(db.session.scalar(select(User).where(User.username == owner)), keyring()).add_many(specs, source="test")
        db.session.commit()
    before = vault_of(app, owner, full)

    source = app.test_client()
    sign_in(source, owner)
    files = exported(source, fmt)
    target = app.test_client()
    sign_in(target, heir)
    for data, name in files:
        import_all(target, data, name, password=BACKUP_PASSWORD)
    assert vault_of(app, heir, full) == before
    return heir


@pytest.mark.parametrize("fmt", ["aegis", "aegis-encrypted"])
@ROUND_TRIP
@given(specs=st.lists(full_specs(), min_size=1, max_size=5))
def test_the_backup_gives_back_every_account_with_groups_notes_favorites_and_icons(app, fmt, specs):
    round_trip(app, specs, fmt, full=True)


@ROUND_TRIP
@given(specs=st.lists(full_specs(link_params), min_size=1, max_size=5))
def test_otpauth_links_give_back_every_account(app, specs):
    """Every type but mOTP, whose link holds no PIN in any app (tests/unit/test_otp_pins.py)."""
    round_trip(app, specs, "otpauth", full=False)


@ROUND_TRIP
@given(specs=st.lists(google_specs(), min_size=1, max_size=14))
def test_google_transfer_codes_give_back_every_account(app, specs):
    round_trip(app, specs, "google-qr", full=False)


def test_icons_survive_the_backup(app):
    """Not left to chance: one account with an icon, one in two groups, both ways."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 60)).save(out, "PNG")
    params = OtpParams(type=OtpType.TOTP, secret=b"0123456789")
    specs = [
        AccountSpec(issuer="Acme", name="a", params=params, icon=out.getvalue(), favorite=True, note="hi"),
        AccountSpec(issuer="Globex", name="b", params=params, groups=("Work", "Home")),
    ]
    heir = round_trip(app, specs, "aegis-encrypted", full=True)
    acme, globex = vault_of(app, heir, full=True)
    assert acme[2] == "Acme" and acme[-2].startswith(b"\x89PNG") and acme[-1] == "image/png"
    assert acme[8:11] == ("hi", (), True)
    assert globex[9] == ("Home", "Work")  # groups are listed by name
