"""Per-request costs of the code list: one data-key unwrap, and nothing compiled or loaded again.

The list's clock is the request every open page repeats at each period boundary (bench/clock.py),
so work that should happen once per process or once per request must not happen per account or
per request. These tests count calls rather than time them, so they hold on any machine.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from babel.support import Translations
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_babel import force_locale, get_translations
from sqlalchemy import event, select

from webauth import templating
from webauth.crypto import Keyring
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

ACCOUNTS = 12
HTMX = {"HX-Request": "true"}
LIST_REQUESTS = [pytest.param({}, id="page"), pytest.param(HTMX, id="fragment")]


@pytest.fixture
def filled(app: Flask, signed_in: FlaskClient) -> FlaskClient:
    """Alice, signed in, with TOTP, HOTP and Steam accounts (each kind opens its secret)."""
    with app.app_context():
        vault = Vault(db.session.scalar(select(User).where(User.username == "alice")), keyring())
        for number in range(ACCOUNTS):
            kind = ("totp", "hotp", "steam")[number % 3]
            secret = f"JBSWY3DPEHPK3PXP{'ABCDEFGHIJKLMNOP'[number]}Q"
            vault.add(parse_uri(f"otpauth://{kind}/Issuer{number}:alice?secret={secret}&issuer=Issuer{number}"))
        db.session.commit()
    return signed_in


def _counting(calls: list[str], name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return original(*args, **kwargs)

    return counted


@pytest.mark.parametrize("headers", LIST_REQUESTS)
def test_the_list_unwraps_the_data_key_once(filled: FlaskClient, monkeypatch, headers: dict[str, str]) -> None:
    """Every secret of the list opens under one data key, unwrapped once for the whole request."""
    calls: list[str] = []
    monkeypatch.setattr(Keyring, "unwrap_data_key", _counting(calls, "unwrap", Keyring.unwrap_data_key))
    for _ in range(2):
        calls.clear()
        response = filled.get("/", headers=headers)
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('<button class="code"') == ACCOUNTS
        assert calls == ["unwrap"]


def test_the_clock_unwraps_the_data_key_once_and_sends_no_cookie(filled: FlaskClient, monkeypatch) -> None:
    """The clock's request, which every open page repeats at each boundary, is the cheapest one
    that shows anything of the vault: one unwrap, the code of each time-based account (here
    all of them: the page says it shows nothing yet), and the session cookie left alone."""
    fragment = filled.get("/", headers=HTMX).get_data(as_text=True)
    clock = html.unescape(re.search(r'id="codes-clock" hidden hx-get="([^"]+)"', fragment).group(1))
    clock = re.sub(r"&at=\d+", "", clock)
    calls: list[str] = []
    monkeypatch.setattr(Keyring, "unwrap_data_key", _counting(calls, "unwrap", Keyring.unwrap_data_key))
    for _ in range(2):
        calls.clear()
        response = filled.get(clock, headers=HTMX)
        assert response.status_code == 200 and "HX-Retarget" not in response.headers
        codes = re.findall(r'<span id="c\d+" hx-swap-oob="innerHTML">', response.get_data(as_text=True))
        assert len(codes) == ACCOUNTS - ACCOUNTS // 3  # no HOTP
        assert calls == ["unwrap"]
        assert "Set-Cookie" not in response.headers


def test_the_clock_asks_the_database_four_things(app: Flask, filled: FlaskClient) -> None:
    """The session with its user, the settings, and the vault's signature with the shown rows'
    secrets (one round trip for both), and the accounts others share with the user (none here,
    found by one cheap statement): one statement each, whatever the number of accounts."""
    fragment = filled.get("/", headers=HTMX).get_data(as_text=True)
    clock = html.unescape(re.search(r'id="codes-clock" hidden hx-get="([^"]+)"', fragment).group(1))
    filled.get(clock, headers=HTMX)
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement.split(None, 3)[:3])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert filled.get(clock, headers=HTMX).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 4, statements


def test_a_repeated_list_compiles_and_loads_nothing(app: Flask, filled: FlaskClient, monkeypatch) -> None:
    """After a first page and fragment, the next ones compile no template and no SQL, and load no catalog.

    Templates are compiled once per process (Jinja's cache), SQL statements once per shape
    (SQLAlchemy's compiled cache: a statement built so that its cache key changes per request
    would grow it), and translation catalogs once per locale (Flask-Babel's cache).
    """
    for headers in ({}, HTMX):
        assert filled.get("/", headers=headers).status_code == 200
    fragment = filled.get("/", headers=HTMX).get_data(as_text=True)
    clock = html.unescape(re.search(r'id="codes-clock" hidden hx-get="([^"]+)"', fragment).group(1))
    assert filled.get(clock, headers=HTMX).status_code == 200

    compiled: list[str] = []
    monkeypatch.setattr(app.jinja_env, "compile", _counting(compiled, "template", app.jinja_env.compile))
    monkeypatch.setattr(Translations, "load", classmethod(_counting(compiled, "catalog", Translations.load.__func__)))
    with app.app_context():
        sql_cache = db.engine._compiled_cache
    assert sql_cache is not None
    shapes = len(sql_cache)
    urls = app.jinja_env.globals["url_for"].cache_info()

    for headers in ({}, HTMX, {}, HTMX):
        assert filled.get("/", headers=headers).status_code == 200
        assert filled.get(clock, headers=HTMX).status_code == 200
    assert compiled == []
    assert len(sql_cache) == shapes
    after = app.jinja_env.globals["url_for"].cache_info()
    assert after.misses == urls.misses and after.hits >= urls.hits + 4 * ACCOUNTS


def test_template_urls_are_flasks(app: Flask) -> None:
    """The URL cache gives what Flask gives: arguments in order, anchors and external URLs built each time."""
    template = (
        "{{ url_for('codes.index', q=q, sort='issuer') }} {{ url_for('codes.index', _anchor='a') }} "
        "{{ url_for('codes.index', _external=True) }}"
    )
    for host in ("one.example", "two.example"):
        with app.test_request_context("/", base_url=f"https://{host}"):
            for text in ("a b", "<x>"):
                assert render_template_string(template, q=text) == render_template_string(
                    template.replace("url_for", "flask_url_for"), flask_url_for=app.url_for, q=text
                )


def test_template_strings_look_the_catalog_up_once_per_request_and_follow_the_locale(app: Flask) -> None:
    """webauth/templating.py keeps the request's catalog; a new request or `force_locale` gets the right one."""
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        chinese = templating._translations()
        assert chinese is get_translations() and templating._translations() is chinese
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        english = templating._translations()
        assert english is get_translations() and english is not chinese
        with force_locale("zh_Hans"):
            assert templating._translations() is chinese
        assert templating._translations() is english
        template = "{{ _('Delete %(label)s', label=label) }} {{ ngettext('%(num)d x', '%(num)d xs', 2) }}"
        html = render_template_string(template, label="<b>")
        assert html == "Delete &lt;b&gt; 2 xs"
