"""The list's clock and its pages: new codes alone at each boundary, the whole list after a
change of the vault, and a long list shown a page at a time."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable

import pyotp
import pytest
from sqlalchemy import select

from bench._common import seed_specs
from tests.conftest import csrf_from
from webauth.extensions import db
from webauth.keys import keyring
from webauth.listing import PAGE_SIZE
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
HTMX = {"HX-Request": "true"}


def vault_of(username: str = "alice") -> Vault:
    return Vault(db.session.scalar(select(User).where(User.username == username)), keyring())


def add(app, issuer: str, kind: str = "totp", extra: str = "") -> str:
    with app.app_context():
        account = vault_of().add(parse_uri(f"otpauth://{kind}/{issuer}:alice?secret={SECRET}&issuer={issuer}{extra}"))
        db.session.commit()
        return account.uuid


def secret(number: int) -> str:
    return base64.b32encode(number.to_bytes(4, "big") + b"sixteen bytes..").decode().rstrip("=")


def add_many(app, count: int) -> list[str]:
    with app.app_context():
        vault = vault_of()
        uuids = [
            vault.add(parse_uri(f"otpauth://totp/Service{n:03d}:alice?secret={secret(n)}&issuer=Service{n:03d}")).uuid
            for n in range(count)
        ]
        db.session.commit()
        return uuids


def clock_url(fragment: str) -> str:
    match = re.search(r'<div id="codes-clock" hidden hx-get="([^"]+)"', fragment)
    assert match, "the list has no clock"
    return html.unescape(match.group(1))


def without_at(url: str) -> str:
    return re.sub(r"&at=\d+", "", url)


def keys_in(fragment: str) -> dict[str, str]:
    """Each row's key (the id of its code, `c<key>`) by account uuid."""
    rows = re.findall(r'<li class="account[^"]*" id="account-([0-9a-f-]+)".*?id="c(\d+)"', fragment, re.DOTALL)
    return dict(rows)


def swapped(answer: str, prefix: str) -> dict[str, str]:
    """The digits the clock's answer swaps into `c<key>` (codes) or `n<key>` (next codes), by key."""
    pattern = rf'<span id="{prefix}(\d+)" hx-swap-oob="innerHTML">(?:Next <b>)?([^<]*)(?:</b>)?</span>'
    return {key: digits.replace(" ", "") for key, digits in re.findall(pattern, answer)}


def cleared(answer: str) -> list[str]:
    """The periods whose next codes the clock's answer empties."""
    pattern = r"""<span hx-swap-oob="innerHTML:#codes \[data-period='(\d+)'\] \.next-code"></span>"""
    return re.findall(pattern, answer)


def count_opened(monkeypatch, opened: list[str]) -> None:
    """Note the uuid of every secret the vault opens."""
    open_sealed = Vault.open_sealed

    def noted(vault: Vault, uuid: str, sealed: bytes) -> bytes:
        opened.append(uuid)
        return open_sealed(vault, uuid, sealed)

    monkeypatch.setattr(Vault, "open_sealed", noted)


def rows_in(fragment: str) -> list[str]:
    return re.findall(r'<li class="account[^"]*" id="account-([0-9a-f-]+)"', fragment)


BOUNDARY = 1_800_000_000.0  # a multiple of 30 and 60: every period used here starts there


def test_at_a_boundary_the_clock_brings_the_digits_of_time_based_accounts(app, signed_in, frozen_clock):
    totp = add(app, "GitHub")
    steam = add(app, "Steam", extra="&encoder=steam")
    hotp = add(app, "Bank", kind="hotp", extra="&counter=3")
    frozen_clock.set(BOUNDARY - 12)
    listed = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    url = clock_url(listed)
    assert url.startswith("/codes/tick?") and "seen=" in url and f"at={int(BOUNDARY) - 12}" in url
    assert 'hx-trigger="load delay:2050ms"' in listed  # the preview starts 10 s before the boundary

    frozen_clock.set(BOUNDARY + 0.05)
    response = signed_in.get(url, headers=HTMX)
    answer = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Retarget" not in response.headers
    assert "Set-Cookie" not in response.headers  # nothing changed in the session: no cookie signed again
    assert response.headers["Cache-Control"] == "no-store"
    keys = keys_in(listed)
    # An HOTP code changes only when asked, which changes the vault.
    assert set(swapped(answer, "c")) == {keys[totp], keys[steam]}
    assert swapped(answer, "c")[keys[totp]] == pyotp.TOTP(SECRET).at(BOUNDARY)
    assert re.fullmatch(r"[2-9BCDFGHJKMNPQRTVWXY]{5}", swapped(answer, "c")[keys[steam]])
    assert swapped(answer, "n") == {} and cleared(answer) == ["30"]  # the previews shown end here
    # The digits, nothing else: no row, form, link, label or token of the list.
    for absent in ("<li", "<form", "href=", "csrf_token", "/accounts/", hotp, "GitHub", "aria-label"):
        assert absent not in answer
    # A new clock for the next change (the preview, 20 s on), with the same list and signature.
    assert without_at(clock_url(answer)) == without_at(url) and f"at={int(BOUNDARY)}" in clock_url(answer)
    assert 'hx-trigger="load delay:20000ms"' in answer
    assert '<span id="left-30">30 seconds left</span>' in answer
    assert len(answer) < 700


# What a phone downloads (issue 21), uncompressed: pages with codes are never compressed (BREACH).
# 64 KB read the stricter way, as 64,000 bytes (the page was 64,102 before its rows shrank).
PAGE_BYTES, REFRESH_BYTES = 64_000, 4 * 1024


def test_a_list_of_fifty_accounts_and_its_refreshes_fit_what_a_phone_should_download(app, signed_in, frozen_clock):
    """The accounts bench/clock.py measures (brand icons, long names, an HOTP and a Steam account
    in every 25): the page of 50 under 64 KB, each refresh of its 48 changing codes under 4 KB."""
    with app.app_context():
        vault = vault_of()
        for account in seed_specs(50, "alice"):
            vault.add(account)
        db.session.commit()
    frozen_clock.set(BOUNDARY - 12)
    page = signed_in.get("/").get_data()
    assert page.count(b'<li class="account') == 50
    assert len(page) <= PAGE_BYTES
    listed = signed_in.get("/", headers=HTMX).get_data(as_text=True)

    frozen_clock.set(BOUNDARY - 9.95)  # the preview starts: 48 next codes
    previews = signed_in.get(clock_url(listed), headers=HTMX).get_data()
    frozen_clock.set(BOUNDARY + 0.05)  # the boundary: 48 new codes, the previews cleared
    codes = signed_in.get(clock_url(previews.decode()), headers=HTMX).get_data()
    assert (previews.count(b'<span id="n'), codes.count(b'<span id="c')) == (48, 48)
    assert max(len(previews), len(codes)) <= REFRESH_BYTES


def test_in_the_last_seconds_the_clock_brings_the_next_codes_alone(app, signed_in, frozen_clock):
    uuid = add(app, "GitHub")
    frozen_clock.set(BOUNDARY + 5)
    listed = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    frozen_clock.set(BOUNDARY + 20.05)
    answer = signed_in.get(clock_url(listed), headers=HTMX).get_data(as_text=True)
    key = keys_in(listed)[uuid]
    assert swapped(answer, "n") == {key: pyotp.TOTP(SECRET).at(BOUNDARY + 30)}
    assert swapped(answer, "c") == {} and cleared(answer) == []  # the code shown is still right
    assert '<span id="left-30">10 seconds left</span>' in answer


def test_when_nothing_changed_the_clock_brings_only_itself(app, signed_in, frozen_clock):
    add(app, "GitHub")
    frozen_clock.set(BOUNDARY + 5)
    listed = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    frozen_clock.set(BOUNDARY + 6)  # a tab woken early, say
    answer = signed_in.get(clock_url(listed), headers=HTMX).get_data(as_text=True)
    assert "hx-swap-oob" not in answer and clock_url(answer).endswith(f"at={int(BOUNDARY) + 6}")


def test_only_the_periods_that_changed_are_sent_and_opened(app, signed_in, frozen_clock, monkeypatch):
    half = add(app, "Half", extra="&period=30")
    whole = add(app, "Whole", extra="&period=60")
    frozen_clock.set(BOUNDARY + 25)  # both in their preview (5 s and 35 s left)...
    listed = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    keys = keys_in(listed)
    assert 'hx-trigger="load delay:5050ms"' in listed
    opened: list[str] = []
    count_opened(monkeypatch, opened)
    frozen_clock.set(BOUNDARY + 30.05)  # ...then only the 30 s codes change
    answer = signed_in.get(clock_url(listed), headers=HTMX).get_data(as_text=True)
    assert swapped(answer, "c") == {keys[half]: pyotp.TOTP(SECRET).at(BOUNDARY + 30)}
    assert cleared(answer) == ["30"] and swapped(answer, "n") == {}
    assert opened == [half]
    assert '<span id="left-30">30 seconds left</span><span id="left-60">30 seconds left</span>' in answer
    # At the next preview, both periods' next codes.
    frozen_clock.set(BOUNDARY + 50.05)
    answer = signed_in.get(clock_url(answer), headers=HTMX).get_data(as_text=True)
    totp = pyotp.TOTP(SECRET)
    assert swapped(answer, "n") == {keys[half]: totp.at(BOUNDARY + 60),
                                    keys[whole]: pyotp.TOTP(SECRET, interval=60).at(BOUNDARY + 60)}
    assert swapped(answer, "c") == {}


@pytest.mark.parametrize("at", ["", "not-a-time", "99999999999", "1"])
def test_a_clock_that_cannot_say_what_it_shows_gets_everything(app, signed_in, frozen_clock, at):
    uuid = add(app, "GitHub")
    frozen_clock.set(BOUNDARY + 25)
    listed = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    url = without_at(clock_url(listed)) + (f"&at={at}" if at else "")
    answer = signed_in.get(url, headers=HTMX).get_data(as_text=True)
    key = keys_in(listed)[uuid]
    assert swapped(answer, "c") == {key: pyotp.TOTP(SECRET).at(BOUNDARY)}
    assert swapped(answer, "n") == {key: pyotp.TOTP(SECRET).at(BOUNDARY + 30)}


def test_the_digits_are_the_ones_the_rows_draw(app, signed_in, frozen_clock):
    uuid = add(app, "GitHub")
    frozen_clock.set(BOUNDARY + 25)  # in the preview: the next code shows too
    listed = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    row = listed[listed.index(f'id="account-{uuid}"') :]
    key = keys_in(listed)[uuid]
    in_row = re.search(rf'<span id="c{key}">([^<]*)<', row).group(1)
    next_in_row = re.search(rf'<span class="next-code" id="n{key}">Next <b>([^<]*)</b>', row).group(1)
    answer = signed_in.get(without_at(clock_url(listed)), headers=HTMX).get_data(as_text=True)
    assert f'<span id="c{key}" hx-swap-oob="innerHTML">{in_row}</span>' in answer
    assert f'<span id="n{key}" hx-swap-oob="innerHTML">Next <b>{next_in_row}</b></span>' in answer
    assert re.fullmatch(r"\d{3} \d{3}", in_row) and next_in_row != in_row


CHANGES: dict[str, Callable[[Vault, dict[str, str]], object]] = {
    "added": lambda vault, uuids: vault.add(parse_uri(f"otpauth://totp/New:alice?secret={secret(1)}&issuer=New")),
    "deleted": lambda vault, uuids: vault.delete(uuids["A"]),
    "edited": lambda vault, uuids: vault.update(uuids["A"], parse_uri(
        f"otpauth://totp/Renamed:alice?secret={SECRET}&issuer=Renamed")),
    "moved": lambda vault, uuids: vault.move(uuids["B"], uuids["A"]),
    "hotp advanced": lambda vault, uuids: vault.advance_hotp(uuids["H"]),
    "favorite": lambda vault, uuids: vault.set_favorite(uuids["B"], True),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_of_the_vault_the_clock_brings_the_whole_list(app, signed_in, change):
    uuids = {"A": add(app, "A"), "B": add(app, "B", extra="&algorithm=SHA256"), "H": add(app, "H", kind="hotp")}
    url = clock_url(signed_in.get("/", headers=HTMX).get_data(as_text=True))
    with app.app_context():
        CHANGES[change](vault_of(), uuids)
        db.session.commit()
    response = signed_in.get(url, headers=HTMX)
    answer = response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#codes" and response.headers["HX-Reswap"] == "outerHTML"
    assert answer.lstrip().startswith('<section id="codes"')
    fresh = clock_url(answer)
    assert fresh != url
    # And from then on, codes alone again.
    again = signed_in.get(fresh, headers=HTMX)
    assert "HX-Retarget" not in again.headers and "<li" not in again.get_data(as_text=True)


def test_using_a_code_redraws_the_list_only_in_the_recently_used_order(app, signed_in):
    uuid = add(app, "A")
    add(app, "B")
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    for sort, redrawn in (("manual", False), ("recent", True)):
        url = clock_url(signed_in.get(f"/?sort={sort}", headers=HTMX).get_data(as_text=True))
        assert signed_in.post(f"/accounts/{uuid}/used", headers={"X-CSRFToken": token}).status_code == 204
        assert ("HX-Retarget" in signed_in.get(url, headers=HTMX).headers) is redrawn


def test_the_clock_follows_the_search_group_and_order_of_the_list(app, signed_in):
    add(app, "GitHub")
    other = add(app, "GitLab")
    add(app, "Bank")
    listed = signed_in.get("/?q=gitl&sort=issuer", headers=HTMX).get_data(as_text=True)
    url = clock_url(listed)
    assert "q=gitl" in url and "sort=issuer" in url
    answer = signed_in.get(without_at(url), headers=HTMX).get_data(as_text=True)
    assert list(swapped(answer, "c")) == [keys_in(listed)[other]]


def test_opening_the_clocks_url_in_a_browser_shows_the_list(app, signed_in):
    add(app, "GitHub")
    url = clock_url(signed_in.get("/", headers=HTMX).get_data(as_text=True))
    response = signed_in.get(url)
    assert response.status_code == 302 and response.headers["Location"] == "/?sort=manual"


def test_the_clock_needs_a_signed_in_user(app, client, user):
    response = client.get("/codes/tick?seen=x&sort=manual", headers={**HTMX, "HX-Current-URL": "http://localhost/"})
    assert response.status_code == 401 and response.get_data() == b""
    # The sign-in page comes back to the list the clock ticked in, not to the tick's URL.
    assert response.headers["HX-Redirect"] == "/login?next=%2F"


def test_a_long_list_shows_a_page_then_more_as_asked(app, signed_in):
    uuids = add_many(app, PAGE_SIZE * 2 + 10)
    page = signed_in.get("/").get_data(as_text=True)
    assert rows_in(page) == uuids[:PAGE_SIZE]
    assert f'data-count-text="{PAGE_SIZE * 2 + 10} accounts"' in page
    # Without JavaScript, the link shows a longer page.
    link = html.unescape(re.search(r'<div id="codes-more" class="list-more">\s*<a [^>]*href="([^"]+)"', page).group(1))
    assert link == f"/?sort=manual&show={PAGE_SIZE * 2}"
    assert rows_in(signed_in.get(link).get_data(as_text=True)) == uuids[: PAGE_SIZE * 2]

    # With htmx, the next rows alone, a loader and a clock moved on past them, and the page's URL.
    fragment = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    more = html.unescape(re.search(r'hx-get="(/codes/more[^"]+)"', fragment).group(1))
    response = signed_in.get(more, headers=HTMX)
    answer = response.get_data(as_text=True)
    assert rows_in(answer) == uuids[PAGE_SIZE : PAGE_SIZE * 2]
    assert response.headers["HX-Replace-Url"] == f"/?sort=manual&show={PAGE_SIZE * 2}"
    assert '<div id="codes-more" class="list-more" hx-swap-oob="true">' in answer
    assert '<div id="codes-clock" hidden hx-get="/codes/tick?' in answer and 'hx-swap-oob="true"' in answer
    tick = signed_in.get(without_at(clock_url(answer)), headers=HTMX).get_data(as_text=True)
    assert len(swapped(tick, "c")) == PAGE_SIZE * 2

    last = html.unescape(re.search(r'hx-get="(/codes/more[^"]+)"', answer).group(1))
    final = signed_in.get(last, headers=HTMX).get_data(as_text=True)
    assert rows_in(final) == uuids[PAGE_SIZE * 2 :]
    assert "/codes/more" not in final  # the end: the loader is emptied

    # An action taken further down keeps the rows shown: the page's URL says how many.
    token = csrf_from(page)
    shown_url = f"http://localhost/?sort=manual&show={PAGE_SIZE * 2}"
    response = signed_in.post(f"/accounts/{uuids[70]}/delete", data={"csrf_token": token},
                              headers={**HTMX, "HX-Current-URL": shown_url})
    assert rows_in(response.get_data(as_text=True)) == [uuid for uuid in uuids if uuid != uuids[70]][: PAGE_SIZE * 2]


def test_rows_loaded_after_a_boundary_the_page_missed_make_the_clock_ask_at_once(app, signed_in, frozen_clock):
    add_many(app, PAGE_SIZE + 5)
    frozen_clock.set(BOUNDARY + 5)
    fragment = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    more = html.unescape(re.search(r'hx-get="(/codes/more[^"]+)"', fragment).group(1))
    assert f"at={int(BOUNDARY) + 5}" in more
    frozen_clock.set(BOUNDARY + 8)  # same period: the clock keeps its time
    answer = signed_in.get(more, headers=HTMX).get_data(as_text=True)
    assert 'hx-trigger="load delay:12050ms"' in answer and clock_url(answer).endswith(f"at={int(BOUNDARY) + 5}")
    frozen_clock.set(BOUNDARY + 31)  # the rows above still show the codes of the last period
    answer = signed_in.get(more, headers=HTMX).get_data(as_text=True)
    assert 'hx-trigger="load delay:0ms"' in answer and clock_url(answer).endswith(f"at={int(BOUNDARY) + 5}")
    tick = signed_in.get(clock_url(answer), headers=HTMX).get_data(as_text=True)
    assert len(swapped(tick, "c")) == PAGE_SIZE + 5


def test_more_rows_after_a_change_bring_the_whole_longer_list(app, signed_in):
    uuids = add_many(app, PAGE_SIZE + 5)
    fragment = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    more = html.unescape(re.search(r'hx-get="(/codes/more[^"]+)"', fragment).group(1))
    with app.app_context():
        vault_of().delete(uuids[0])
        db.session.commit()
    response = signed_in.get(more, headers=HTMX)
    assert response.headers["HX-Retarget"] == "#codes"
    assert rows_in(response.get_data(as_text=True)) == uuids[1:]


def test_a_search_says_how_many_match_not_how_many_are_shown(app, signed_in):
    add_many(app, PAGE_SIZE + 5)
    add(app, "Bank")
    fragment = signed_in.get("/?q=service", headers=HTMX).get_data(as_text=True)
    assert len(rows_in(fragment)) == PAGE_SIZE
    assert f'data-count-text="{PAGE_SIZE + 5} accounts"' in fragment


@pytest.mark.parametrize("show", ["abc", "-5", "0", "99999999"])
def test_a_bad_length_is_clamped(app, signed_in, show):
    add_many(app, 3)
    response = signed_in.get(f"/?show={show}")
    assert response.status_code == 200 and len(rows_in(response.get_data(as_text=True))) == 3


def revision_in(fragment: str) -> str:
    return re.search(r'data-vault-revision="([0-9a-f]+)"', fragment).group(1)


def test_a_search_carries_the_whole_vaults_revision_read_once_per_change(app, signed_in, monkeypatch):
    add(app, "Alpha")
    add(app, "Bravo")
    reads: list[str] = []
    columns = Vault.columns
    monkeypatch.setattr(Vault, "columns", lambda self, names: reads.append("all") or columns(self, names))
    first = revision_in(signed_in.get("/?q=alp", headers=HTMX).get_data(as_text=True))
    assert revision_in(signed_in.get("/?q=bra", headers=HTMX).get_data(as_text=True)) == first
    assert reads == ["all"]  # the second search reused the revision: the vault had not changed

    add(app, "Charlie")
    after = revision_in(signed_in.get("/?q=alp", headers=HTMX).get_data(as_text=True))
    assert after != first and reads == ["all", "all"]
    assert after == revision_in(signed_in.get("/", headers=HTMX).get_data(as_text=True))


def test_a_list_of_counters_keeps_an_inert_clock_for_rows_loaded_later(app, signed_in):
    with app.app_context():
        vault = vault_of()
        for n in range(PAGE_SIZE):
            uri = f"otpauth://hotp/Bank{n:02d}:alice?secret={secret(n)}&issuer=Bank{n:02d}"
            vault.add(parse_uri(uri))
        db.session.commit()
    timed = add(app, "Zulu")
    fragment = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    # Nothing to tick yet, but a place for it.
    assert re.search(r'<div id="codes-clock" hidden data-now-ms="\d+"></div>', fragment)
    more = html.unescape(re.search(r'hx-get="(/codes/more[^"]+)"', fragment).group(1))
    answer = signed_in.get(more, headers=HTMX).get_data(as_text=True)
    assert rows_in(answer) == [timed]
    assert clock_url(answer).startswith("/codes/tick?")


def test_more_rows_open_only_their_own_secrets(app, signed_in, monkeypatch):
    add_many(app, PAGE_SIZE * 2 + 5)
    fragment = signed_in.get("/", headers=HTMX).get_data(as_text=True)
    more = html.unescape(re.search(r'hx-get="(/codes/more[^"]+)"', fragment).group(1))
    opened: list[str] = []
    count_opened(monkeypatch, opened)
    answer = signed_in.get(more, headers=HTMX).get_data(as_text=True)
    assert sorted(opened) == sorted(rows_in(answer)) and len(opened) == PAGE_SIZE
    assert clock_url(answer).startswith("/codes/tick?")  # the clock's delay came from the periods alone
