"""`flask doctor`: each check finds what a deployment gets wrong, says how to fix it, and the
command exits non-zero while a problem remains. Casdoor is the test Casdoor server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from ipaddress import ip_network

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_keyring_json
from tests.support.casdoor_server import CasdoorServer
from webauth import create_app
from webauth.doctor import Deployment, Level, check_passkeys, run_checks

LONG_KEY = "k" * 48


def findings(config: dict, *, workers: int = 1, url: str | None = None) -> dict[str, list[tuple[Level, str]]]:
    app = create_app(dict(config))
    with app.app_context():
        found = run_checks(app, Deployment(workers=workers, url=url))
    by_topic: dict[str, list[tuple[Level, str]]] = {}
    for finding in found:
        by_topic.setdefault(finding.topic, []).append((finding.level, finding.message))
    return by_topic


def levels(found, topic: str) -> list[Level]:
    return [level for level, _ in found.get(topic, [])]


def text(found, topic: str) -> str:
    return " ".join(message for _, message in found.get(topic, []))


@pytest.fixture
def sound(app_config) -> dict:
    """A deployment behind one HTTPS proxy, with its secret key and keys from the environment."""
    return {
        **app_config, "SECRET_KEY": LONG_KEY, "WEBAUTH_SECRET_KEY_SOURCE": "environment",
        "RATELIMIT_ENABLED": True, "WEBAUTH_HTTPS": True, "WEBAUTH_PROXY_HOPS": 1,
    }


@pytest.fixture
def served(app_config) -> Iterator[str]:
    """The app over plain HTTP on loopback, standing for the public address."""
    app = create_app(dict(app_config))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_a_sound_deployment_passes_and_the_command_says_so(sound, served, signing_key):
    served = served.replace("127.0.0.1", "localhost")  # a host name, as passkeys need
    with CasdoorServer(redirect_uris=[f"{served}/auth/casdoor/callback"], signing_key=signing_key) as casdoor:
        config = {
            **sound, "WEBAUTH_HTTPS": False, "WEBAUTH_PROXY_HOPS": 0, "WEBAUTH_PUBLIC_URL": served,
            "WEBAUTH_CASDOOR_URL": casdoor.url, "WEBAUTH_CASDOOR_CLIENT_ID": casdoor.client_id,
        }
        app = create_app(dict(config))
        result = app.test_cli_runner().invoke(args=["doctor", "--url", served, "--workers", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "0 problem(s), 1 warning(s)"  # plain HTTP on this machine
    for topic in ("secret key", "keyring", "database", "rate limits", "passkeys", "casdoor"):
        assert any(line.startswith("ok") and f" {topic} " in line for line in lines), (topic, result.output)
    assert "the application accepts the redirect URL " + served + "/auth/casdoor/callback" in result.output
    assert LONG_KEY not in result.output and "webauth-client-secret" not in result.output


def test_files_others_can_read_and_keys_that_are_missing_are_problems(app_config, tmp_path, make_user):
    make_user("alice")  # wrapped under the test keyring's k1
    instance = tmp_path / "instance"
    config = {**app_config, "INSTANCE_PATH": str(instance), "WEBAUTH_KEYS": None}
    config.pop("SECRET_KEY")
    instance.mkdir(mode=0o700)
    (instance / "keyring.json").write_text(app_config["WEBAUTH_KEYS"])  # the keyring the users need, as a file
    create_app(dict(config))  # makes its secret key
    os.chmod(instance / "keyring.json", 0o644)
    os.chmod(instance / "secret_key", 0o640)
    found = findings(config)
    assert levels(found, "keyring")[0] is Level.PROBLEM
    assert f"chmod 600 {instance / 'keyring.json'}" in text(found, "keyring")
    assert levels(found, "secret key") == [Level.PROBLEM] and "chmod 600" in text(found, "secret key")
    os.chmod(instance / "keyring.json", 0o600)
    os.chmod(instance / "secret_key", 0o600)
    found = findings(config)
    assert levels(found, "keyring") == [Level.OK] and levels(found, "secret key") == [Level.OK]
    # A keyring without the key that wraps alice's data key cannot open her vault.
    found = findings({**app_config, "WEBAUTH_KEYS": make_keyring_json().replace('"k1"', '"k9"')})
    assert levels(found, "keyring") == [Level.OK, Level.PROBLEM] and "under k1" in text(found, "keyring")


def test_a_short_or_fresh_secret_key_is_flagged(sound, tmp_path):
    found = findings({**sound, "SECRET_KEY": "short"})
    assert levels(found, "secret key") == [Level.PROBLEM] and "token_urlsafe" in text(found, "secret key")
    found = findings({**sound, "WEBAUTH_SECRET_KEY_SOURCE": "new file"})
    assert Level.WARNING in levels(found, "secret key") and "created just now" in text(found, "secret key")


def test_the_database_must_answer_and_be_migrated(sound, tmp_path):
    fresh = findings({**sound, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert levels(fresh, "database") == [Level.PROBLEM] and "db upgrade heads" in text(fresh, "database")
    away = findings({**sound, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://webauth:pw@127.0.0.1:1/webauth"})
    assert levels(away, "database") == [Level.PROBLEM] and "does not answer" in text(away, "database")
    assert ":pw@" not in text(away, "database") and "***" in text(away, "database")
    assert levels(findings(sound), "database") == [Level.OK]


def test_rate_limits_need_redis_with_several_processes(sound):
    assert levels(findings(sound, workers=1), "rate limits") == [Level.OK]
    several = findings(sound, workers=4)
    assert levels(several, "rate limits") == [Level.WARNING] and "4 worker" in text(several, "rate limits")
    down = findings({**sound, "RATELIMIT_STORAGE_URI": "redis://:secret@127.0.0.1:1/0"}, workers=4)
    assert levels(down, "rate limits") == [Level.PROBLEM] and "secret" not in text(down, "rate limits")
    off = findings({**sound, "RATELIMIT_ENABLED": False})
    assert levels(off, "rate limits") == [Level.PROBLEM]


@pytest.mark.parametrize(
    ("https", "hops", "expected", "says"),
    [
        (True, 1, Level.OK, "HTTPS behind 1 proxy"),
        (True, 0, Level.PROBLEM, "Set WEBAUTH_PROXY_HOPS=1"),
        (False, 1, Level.PROBLEM, "Set WEBAUTH_HTTPS=1"),
        (False, 0, Level.WARNING, "plain HTTP"),
        (True, 3, Level.WARNING, "really behind 3 proxies"),
    ],
)
def test_https_settings_must_agree_with_the_proxy(sound, https, hops, expected, says):
    found = findings({**sound, "WEBAUTH_HTTPS": https, "WEBAUTH_PROXY_HOPS": hops})
    assert levels(found, "https") == [expected] and says in text(found, "https")


def test_the_public_address_must_match_and_answer(sound, served):
    mismatch = findings(sound, url=served)  # HTTPS on, but the address is http://
    assert levels(mismatch, "https")[-1] is Level.PROBLEM and "make them agree" in text(mismatch, "https")
    plain = {**sound, "WEBAUTH_HTTPS": False, "WEBAUTH_PROXY_HOPS": 0}
    assert levels(findings(plain, url=served), "https") == [Level.WARNING, Level.OK]
    nobody = findings(plain, url="http://127.0.0.1:1")
    assert levels(nobody, "https")[-1] is Level.PROBLEM and "does not answer" in text(nobody, "https")


def test_casdoor_must_answer_and_list_the_redirect_url(sound, signing_key):
    public = "https://auth.example.test"
    with CasdoorServer(redirect_uris=["https://elsewhere.example.test/auth/casdoor/callback"],
                       signing_key=signing_key) as casdoor:
        config = {**sound, "WEBAUTH_CASDOOR_URL": casdoor.url, "WEBAUTH_CASDOOR_CLIENT_ID": casdoor.client_id}
        unlisted = findings(config, url=public)
        assert levels(unlisted, "casdoor") == [Level.OK, Level.PROBLEM]
        assert f"does not list {public}/auth/casdoor/callback" in text(unlisted, "casdoor")
        casdoor.add_redirect_uri(f"{public}/auth/casdoor/callback")
        assert levels(findings(config, url=public), "casdoor") == [Level.OK, Level.OK]
        wrong_id = findings({**config, "WEBAUTH_CASDOOR_CLIENT_ID": "not-the-id"}, url=public)
        assert "no application with WEBAUTH_CASDOOR_CLIENT_ID" in text(wrong_id, "casdoor")
        unchecked = findings(config)
        assert levels(unchecked, "casdoor") == [Level.OK, Level.WARNING] and "--url" in text(unchecked, "casdoor")
        port = casdoor.port
    gone = findings({**config, "WEBAUTH_CASDOOR_URL": f"http://127.0.0.1:{port}"}, url=public)
    assert levels(gone, "casdoor") == [Level.PROBLEM] and "does not answer" in text(gone, "casdoor")
    half = findings({**sound, "WEBAUTH_CASDOOR_URL": "http://127.0.0.1:1"})
    assert levels(half, "casdoor") == [Level.PROBLEM]
    assert "WEBAUTH_CASDOOR_CLIENT_ID is missing" in text(half, "casdoor")


def test_what_casdoor_is_trusted_with_is_said(sound):
    config = {**sound, "WEBAUTH_CASDOOR_URL": "http://127.0.0.1:1", "WEBAUTH_CASDOOR_CLIENT_ID": "webauth"}
    assert "casdoor trust" not in findings(sound)
    plain = findings(config)
    assert levels(plain, "casdoor trust") == [Level.OK, Level.OK]
    assert "no Casdoor organization makes administrators" in text(plain, "casdoor trust")
    assert "login links only connect" in text(plain, "casdoor trust")
    trusting = findings({**config, "WEBAUTH_CASDOOR_ORGANIZATION": "acme",
                         "WEBAUTH_CASDOOR_LINK_AUDIENCES": frozenset({"app-built-in"})})
    assert levels(trusting, "casdoor trust") == [Level.OK, Level.WARNING]
    assert "organization(s) acme" in text(trusting, "casdoor trust")
    assert "any token of app-built-in" in text(trusting, "casdoor trust")


def test_single_sign_on_needs_both_settings_and_a_narrow_trust(sound):
    assert "single sign-on" not in findings(sound)
    half = findings({**sound, "WEBAUTH_REMOTE_USER_HEADER": "Remote-User"})
    assert levels(half, "single sign-on") == [Level.PROBLEM]
    config = {**sound, "WEBAUTH_REMOTE_USER_HEADER": "Remote-User"}
    narrow = findings({**config, "WEBAUTH_TRUSTED_PROXIES": (ip_network("127.0.0.1/32"),)})
    assert levels(narrow, "single sign-on") == [Level.OK]
    wide = findings({**config, "WEBAUTH_TRUSTED_PROXIES": (ip_network("0.0.0.0/0"),)})
    assert levels(wide, "single sign-on") == [Level.WARNING] and "0.0.0.0/0" in text(wide, "single sign-on")


@pytest.mark.parametrize(
    ("public", "https", "url", "expected", "says"),
    [
        ("", True, None, [Level.WARNING], "WEBAUTH_PUBLIC_URL=https://auth.example.com"),
        ("", True, "https://door.example.org/", [Level.WARNING], "WEBAUTH_PUBLIC_URL=https://door.example.org"),
        ("https://auth.example.com", True, "https://auth.example.com", [Level.OK], "bound to auth.example.com"),
        ("http://auth.example.com", True, None, [Level.PROBLEM, Level.WARNING], "WEBAUTH_HTTPS is 1"),
        ("https://auth.example.com", False, None, [Level.PROBLEM], "WEBAUTH_HTTPS is 0"),
        ("https://auth.example.com", True, "https://www.example.com", [Level.PROBLEM], "people open"),
        ("https://auth.example.com:8443", True, "https://auth.example.com", [Level.PROBLEM], "people open"),
        ("https://192.0.2.10", True, None, [Level.WARNING], "host names only"),
        ("http://localhost:8000", False, None, [Level.OK], "answering for http://localhost:8000"),
    ],
)
def test_passkeys_need_a_public_url_that_agrees(sound, public, https, url, expected, says):
    app = create_app({**sound, "WEBAUTH_PUBLIC_URL": public, "WEBAUTH_HTTPS": https})
    with app.app_context():
        found = list(check_passkeys(app, Deployment(workers=1, url=url)))
    assert [finding.level for finding in found] == expected
    assert says in " ".join(finding.message for finding in found)
