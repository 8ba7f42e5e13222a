"""The language of the pages: from the browser's Accept-Language or the user's choice, with its
writing direction, its picker, its manifest and its offline page. (The catalogs themselves:
test_catalogs.py.)"""

from __future__ import annotations

import ast
import re

import pytest
from babel.messages.pofile import read_po

from tests.conftest import ROOT, post_form
from tests.support.transfer_flow import token_of, upload
from webauth.config import LANGUAGES

# The context the manifest's short name is translated in (views/pwa.py).
SHORT_NAME_CONTEXT = "the app's name under its icon, 12 characters at most"

# The modules whose errors reach the user as an import's refusal or an entry's problem.
IMPORT_MESSAGE_MODULES = [*sorted((ROOT / "webauth" / "transfer").glob("*.py")), ROOT / "webauth" / "otp.py"]
IMPORT_MESSAGE_MODULES.append(ROOT / "webauth" / "otpauth.py")
# Exceptions whose message is shown to the user, and the position of that message among the arguments.
USER_MESSAGE_ARGUMENT = {
    "TransferError": 0,
    "PasswordRequired": 0,
    "WrongPassword": 0,
    "EntryProblem": 0,
    "InvalidParameter": 1,
    "OtpauthError": 1,
}


@pytest.mark.parametrize("header", ["zh-CN,zh;q=0.9,en;q=0.5", "zh", "zh-Hans-CN"])
def test_chinese_from_the_browser(client, user, header):
    html = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert 'lang="zh-Hans"' in html
    assert "登录" in html and "Sign in" not in html


def test_english_otherwise(client, user):
    html = client.get("/login", headers={"Accept-Language": "sv-SE,sv;q=0.9,nl;q=0.5"}).get_data(as_text=True)
    assert 'lang="en" dir="ltr"' in html and "Sign in" in html


@pytest.mark.parametrize(
    ("header", "lang", "sign_in"),
    [
        ("zh-TW,zh;q=0.9", "zh-Hant", "登入"),
        ("zh-HK", "zh-Hant", "登入"),
        ("zh-Hant-TW,en;q=0.5", "zh-Hant", "登入"),
        ("zh-CN", "zh-Hans", "登录"),
        ("zh-SG,en;q=0.8", "zh-Hans", "登录"),
        ("pt-BR,pt;q=0.9", "pt", "Entrar"),
        ("pt-PT", "pt", "Entrar"),
        ("ar-EG,ar;q=0.9,en;q=0.1", "ar", "تسجيل الدخول"),
        ("de-AT,de;q=0.9", "de", "Anmelden"),
        ("sv,ja;q=0.8,en;q=0.5", "ja", "ログイン"),
        ("uk-UA", "uk", "Вхід"),
    ],
)
def test_each_language_from_the_browser(client, user, header, lang, sign_in):
    html = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    direction = "rtl" if lang == "ar" else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    assert sign_in in html


def test_the_picker_lists_every_language_by_its_own_name(client, user):
    html = client.get("/login", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    names = re.findall(r'<option value="(\w+)" lang="([\w-]+)" ?(?:selected)?>([^<]+)</option>', html)
    assert [name for _code, _lang, name in names] == [
        "العربية", "Deutsch", "English", "Español", "Français", "日本語", "한국어", "Português", "Русский", "ไทย",
        "Українська", "简体中文", "繁體中文",
    ]
    assert ("zh_Hant", "zh-Hant", "繁體中文") in names
    assert '<option value="ar" lang="ar" selected>العربية</option>' in html


def test_the_manifest_follows_the_language(client, user):
    page = client.get("/login", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.json?lang=ar">' in page
    arabic = client.get("/manifest.json?lang=ar")
    manifest = arabic.get_json(force=True)
    assert (manifest["lang"], manifest["dir"]) == ("ar", "rtl")
    assert manifest["id"] == "/"  # one app, whatever the language
    english = client.get("/manifest.json?lang=en").get_json(force=True)
    assert (english["lang"], english["dir"]) == ("en", "ltr")
    assert english["description"] == "Your two-factor codes, on every device."
    assert manifest["description"] == "رموز المصادقة الثنائية الخاصة بك، على كل أجهزتك."
    assert arabic.headers["Cache-Control"] == "public, max-age=3600"
    chinese = client.get("/manifest.json?lang=zh-Hant").get_json(force=True)
    assert chinese["lang"] == "zh-Hant" and chinese["description"] != english["description"]
    negotiated = client.get("/manifest.json", headers={"Accept-Language": "ja"})
    assert negotiated.get_json(force=True)["lang"] == "ja" and negotiated.headers["Cache-Control"] == "no-cache"


def test_the_manifests_short_name_follows_the_language(client):
    """The name under the icon on a home screen is translated too, and short enough to fit there."""
    assert client.get("/manifest.json?lang=en").get_json(force=True)["short_name"] == "webauth"
    chinese = client.get("/manifest.json?lang=zh-Hans").get_json(force=True)
    assert chinese["short_name"] == _catalog_text("zh_Hans", ("webauth", SHORT_NAME_CONTEXT)) == "webauth 验证器"
    assert client.get("/manifest.json?lang=zh-Hant").get_json(force=True)["short_name"] == "webauth 驗證器"
    for locale in LANGUAGES:
        short_name = client.get(f"/manifest.json?lang={locale}").get_json(force=True)["short_name"]
        assert 0 < len(short_name) <= 12, (locale, short_name)


def test_the_offline_page_says_its_language(client):
    """The service worker caches the offline page again when a live page's language differs."""
    response = client.get("/offline", headers={"Accept-Language": "ar"})
    assert response.headers["Content-Language"] == "ar"
    assert '<html lang="ar" dir="rtl">' in response.get_data(as_text=True)
    assert client.get("/offline", headers={"Accept-Language": "ko"}).headers["Content-Language"] == "ko"


def test_the_users_choice_wins_over_the_browser(client, user):
    response = post_form(client, "/login", "/language", {"locale": "zh_Hans", "next": "/login"})
    assert response.status_code == 302
    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "登录" in html
    post_form(client, "/login", "/language", {"locale": "xx", "next": "/login"})
    assert "登录" in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("path", IMPORT_MESSAGE_MODULES, ids=lambda path: path.name)
def test_import_errors_are_written_for_translation(path):
    """Every message an importer raises for the user goes through gettext: no bare or f-string literal."""
    untranslated = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    literal = ast.Constant | ast.JoinedStr
    for function in ast.walk(tree):  # helpers that say why an entry cannot be imported or exported
        if isinstance(function, ast.FunctionDef) and function.name.endswith("problem"):
            untranslated += [
                f"line {node.lineno}"
                for node in ast.walk(function)
                if isinstance(node, ast.Return)
                and isinstance(node.value, literal)
                and getattr(node.value, "value", "") is not None
            ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "problem" for t in node.targets):
            untranslated += [f"line {node.lineno}"] if isinstance(node.value, literal) else []
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        position = USER_MESSAGE_ARGUMENT.get(node.func.id)
        messages = node.args[position : position + 1] if position is not None else []
        if node.func.id == "ImportedEntry":
            messages = node.args[2:3] + [keyword.value for keyword in node.keywords if keyword.arg == "problem"]
        untranslated += [
            f"line {node.lineno}" for message in messages if isinstance(message, ast.Constant | ast.JoinedStr)
        ]
    assert untranslated == []


def test_import_refusals_and_problems_are_shown_in_chinese(signed_in):
    post_form(signed_in, "/transfer/", "/language", {"locale": "zh_Hans", "next": "/transfer/"})
    refused = upload(signed_in, text="hello, world")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "无法识别此文件的格式" in html and "not recognised" not in html

    lines = "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&digits=12\notpauth://totp/Acme:bob?secret=JBSWY3DP\n"
    page = signed_in.get(f"/transfer/import/{token_of(upload(signed_in, text=lines))}").get_data(as_text=True)
    assert "验证码必须有 5 到 10 位，而不是 12 位。" in page and "digits" not in page


def _catalog_text(locale: str, message: str | tuple[str, str]) -> str:
    """What the language's own catalog (translations/) says for `message` (or (message, context))."""
    message, context = message if isinstance(message, tuple) else (message, None)
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        translated = read_po(handle).get(message, context=context).string
    assert translated and translated != message
    return translated


@pytest.mark.parametrize("locale", ["th", "zh_Hant", "zh_Hans", "ar"])
def test_the_forms_messages_come_from_the_pages_catalog(client, user, locale):
    """The forms' checks say their messages through webauth's catalogs: WTForms' own have no Thai,
    and would put Simplified characters on a Traditional page (Flask-WTF finds only "zh")."""
    post_form(client, "/login", "/language", {"locale": locale, "next": "/login"})
    html = post_form(client, "/login", "/login", {"username": "", "password": ""}).get_data(as_text=True)
    assert _catalog_text(locale, "This field is required.") in html
    assert "This field is required." not in html
    too_long = post_form(client, "/login", "/login", {"username": "a" * 256, "password": "x"}).get_data(as_text=True)
    assert _catalog_text(locale, "Use at most %(max)d characters.") % {"max": 255} in too_long
    assert "255 characters" not in too_long


def _form_classes() -> list[type]:
    """Every form class of webauth, once each of its modules is imported."""
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm

    import webauth
    import webauth.views

    for package in (webauth, webauth.views):
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    found, pending = [], [FlaskForm]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("webauth"):
                found.append(sub)
    return found


def test_every_check_of_every_form_says_its_message_through_the_catalogs():
    """A check left with WTForms' default message would speak English on a Thai page."""
    from flask_babel.speaklater import LazyString
    from wtforms.fields.core import UnboundField
    from wtforms.validators import Optional

    forms = _form_classes()
    assert len(forms) > 15
    unset = []
    for form in forms:
        for name in dir(form):
            field = getattr(form, name, None)
            if not isinstance(field, UnboundField):
                continue
            for check in field.kwargs.get("validators", []):
                if not isinstance(check, Optional) and not isinstance(getattr(check, "message", None), LazyString):
                    unset.append(f"{form.__name__}.{name}: {type(check).__name__}")
    assert unset == []


def test_numbers_and_sizes_in_the_pages_locale(app):
    from flask import render_template_string
    from flask_babel import force_locale

    written = {"en": "1,234,567 · 1.5 MB", "de": "1.234.567 · 1,5 MB", "fr": "1\u202f234\u202f567 · 1,5\u202fMo"}
    with app.test_request_context("/"):
        for locale, text in written.items():
            with force_locale(locale):
                assert render_template_string("{{ 1234567|number }} · {{ 1500000|bytes }}") == text
