"""English and Simplified Chinese: from the browser's Accept-Language or the user's choice."""

from __future__ import annotations

import ast

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import ROOT, post_form
from tests.support.transfer_flow import token_of, upload

CATALOG = ROOT / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
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
    html = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in html and "Sign in" in html


def test_the_users_choice_wins_over_the_browser(client, user):
    response = post_form(client, "/login", "/language", {"locale": "zh_Hans", "next": "/login"})
    assert response.status_code == 302
    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "登录" in html
    post_form(client, "/login", "/language", {"locale": "xx", "next": "/login"})
    assert "登录" in client.get("/login").get_data(as_text=True)


def _catalog():
    with open(CATALOG, "rb") as handle:
        return read_po(handle)


def test_every_string_has_a_chinese_translation():
    missing = [
        message.id for message in _catalog()
        if message.id and (not message.string or (isinstance(message.string, tuple) and not all(message.string)))
    ]
    assert missing == [], f"{len(missing)} strings lack a translation, e.g. {missing[:5]}"


def test_no_translation_is_a_guess():
    # `make messages` marks a new string "fuzzy" with the translation of a similar one; the build uses it.
    fuzzy = [message.id for message in _catalog() if message.id and message.fuzzy]
    assert fuzzy == [], f"{len(fuzzy)} translations are marked fuzzy, e.g. {fuzzy[:5]}"


def test_every_string_of_the_code_is_in_the_catalog():
    """A message added without `make messages` would show in English whatever the language."""
    mapping = [("webauth/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
    in_code = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(ROOT, mapping, keywords=keywords)
    }
    in_catalog = {message.id if isinstance(message.id, str) else message.id[0] for message in _catalog()}
    assert sorted(in_code - in_catalog) == []


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
