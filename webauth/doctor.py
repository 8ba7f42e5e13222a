"""`flask --app wsgi doctor`: checks a deployment and says what to fix.

Each check looks at one thing a deployment gets wrong in practice and answers with findings:
`ok`, a `warning` (works, but not as well or as safely as it could), or a `problem` (broken or
unsafe; the command then exits with 1). Nothing is changed: the database is not migrated,
no file is touched. Run it with the service's own settings and user (deploy/webauthctl does).

Checks what the process can see: its settings, the instance folder, the database, Redis,
and, with `--url` (the address people open), the public site and Casdoor's record of the
application's redirect URL. The number of worker processes comes from `--workers`
(default: gunicorn's `WEB_CONCURRENCY`).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

import click
import requests
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from webauth import users
from webauth.extensions import db
from webauth.keys import has_keyring, keyring_of, missing_keys
from webauth.passkeys.relying_party import origin_of

MIN_SECRET_KEY_LENGTH = 32
CASDOOR_SCOPE = "openid profile email"  # as casdoor/oidc.py asks
CALLBACK_PATH = "/auth/casdoor/callback"


class Level(Enum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "PROBLEM"


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str
    message: str


def ok(topic: str, message: str) -> Finding:
    return Finding(Level.OK, topic, message)


def warning(topic: str, message: str) -> Finding:
    return Finding(Level.WARNING, topic, message)


def problem(topic: str, message: str) -> Finding:
    return Finding(Level.PROBLEM, topic, message)


@dataclass(frozen=True)
class Deployment:
    """What the command line tells about the deployment, beyond the app's own settings."""

    workers: int
    url: str | None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _unless_private(path: Path, topic: str, what: str, wanted: int) -> list[Finding]:
    """What is wrong with a file or folder that its owner only should read, owned by the user running this."""
    found = []
    mode = _mode(path)
    if mode & 0o077:
        found.append(problem(topic, f"{what} {path} is open to other users (mode {mode:04o}): chmod {wanted:o} {path}"))
    if path.stat().st_uid != os.geteuid():
        found.append(warning(topic, f"{what} {path} belongs to another user than the one running this: chown it to "
                                    "the service's user, and run doctor as that user (deploy/webauthctl)"))
    return found


def check_secret_key(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    source = app.config["WEBAUTH_SECRET_KEY_SOURCE"]
    path = Path(app.instance_path) / "secret_key"
    if source == "environment":
        if len(app.config["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
            yield problem("secret key", f"WEBAUTH_SECRET_KEY has fewer than {MIN_SECRET_KEY_LENGTH} characters: "
                                        "use a long random value (python3 -c 'import secrets; "
                                        "print(secrets.token_urlsafe(48))')")
        else:
            yield ok("secret key", "set by WEBAUTH_SECRET_KEY: the same for every process that has this setting")
        return
    if source == "new file":
        yield warning("secret key", f"{path} was created just now: the service has not run with this "
                                    "instance folder, or doctor runs with other settings than the service "
                                    "(use deploy/webauthctl)")
    yield from _unless_private(path, "secret key", "the secret key", 0o600) or [
        ok("secret key", f"kept in {path}, the same across restarts; several machines need one WEBAUTH_SECRET_KEY")
    ]


def check_keyring(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    ring = keyring_of(app) if has_keyring(app) else None
    if ring is None:
        pass  # missing_keys below names what the users need; the start-up message says why there is none
    elif app.config["WEBAUTH_KEYS"]:
        yield ok("keyring", f"from WEBAUTH_KEYS: {len(ring.keys)} key(s), primary {ring.primary}")
    else:
        path = Path(app.config["WEBAUTH_KEYRING_PATH"])
        found = _unless_private(path.parent, "keyring", "the instance folder", 0o700)
        found += _unless_private(path, "keyring", "the keyring", 0o600)
        yield from found or [ok("keyring", f"{path}: {len(ring.keys)} key(s), primary {ring.primary}, private")]
    try:
        missing = missing_keys(ring)
    except SQLAlchemyError:
        db.session.rollback()
        if ring is None:
            yield problem("keyring", "there is no keyring, and the database does not say which keys it needs")
        return  # the database check says why
    if missing:
        yield problem("keyring", f"users' data keys are wrapped under {', '.join(missing)}, which the keyring does "
                                 "not open: their vaults cannot be opened, so the app refuses to serve. Restore "
                                 "the keyring from the backup taken with the database (docs/operations.md)")
    elif ring is None:
        yield problem("keyring", f"there is no keyring ({app.config['WEBAUTH_KEYRING_PATH']}): restart the app "
                                 "once the database answers")


def check_database(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    shown = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        yield problem("database", f"{shown} does not answer ({type(error.orig or error).__name__}): check "
                                  "WEBAUTH_DATABASE_URL, that the server runs and that this user may connect")
        return
    config = app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    if current == heads:
        yield ok("database", f"{shown} answers, schema at the latest migration")
    elif not current:
        yield problem("database", f"{shown} has no tables yet: run `flask --app wsgi db upgrade heads` "
                                  "(the systemd unit does it before each start)")
    elif current - heads and not (heads - current):
        yield problem("database", f"{shown} is at a newer migration than this code ({', '.join(sorted(current))}): "
                                  "deploy the matching release")
    else:
        yield problem("database", f"{shown} is not at the latest migration: run `flask --app wsgi db upgrade "
                                  "heads` (the systemd unit does it before each start)")


def check_rate_limits(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    storage = app.config["RATELIMIT_STORAGE_URI"]
    if not app.config["RATELIMIT_ENABLED"]:
        yield problem("rate limits", "off (WEBAUTH_RATELIMIT_ENABLED=0): sign-in may be guessed without end; "
                                     "remove the setting")
        return
    if storage.startswith("memory://"):
        if deployment.workers > 1:
            yield warning("rate limits", f"counted in memory by each of the {deployment.workers} worker processes: a "
                                         "guesser gets the limit once per process. Install Redis and set "
                                         "WEBAUTH_RATELIMIT_STORAGE_URL=redis://127.0.0.1:6379/0")
        else:
            yield ok("rate limits", "counted in memory (right for one process)")
        return
    if storage.startswith(("redis://", "rediss://", "unix://")):
        import redis

        shown = make_url(storage).render_as_string(hide_password=True) if "://" in storage else storage
        try:
            redis.Redis.from_url(storage, socket_timeout=5, socket_connect_timeout=5).ping()
        except (redis.RedisError, OSError) as error:
            yield problem("rate limits", f"Redis at {shown} does not answer ({type(error).__name__}): sign-in "
                                         "fails while it is down. Start it, or fix WEBAUTH_RATELIMIT_STORAGE_URL")
            return
        yield ok("rate limits", f"counted in Redis at {shown}, shared by every process")
        return
    yield ok("rate limits", f"counted in {storage.split('://', 1)[0]}")


def check_https(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    https, hops = app.config["WEBAUTH_HTTPS"], app.config["WEBAUTH_PROXY_HOPS"]
    if https and hops == 0:
        yield problem("https", "WEBAUTH_HTTPS=1 but WEBAUTH_PROXY_HOPS=0: behind a TLS proxy the app then sees "
                               "http:// requests and the proxy's address for every client. Set WEBAUTH_PROXY_HOPS=1")
    elif not https and hops:
        yield problem("https", f"behind {hops} proxy(ies) without WEBAUTH_HTTPS=1: cookies are not Secure and no "
                               "HSTS is sent. Set WEBAUTH_HTTPS=1 when the proxy serves HTTPS")
    elif not https:
        yield warning("https", "plain HTTP (WEBAUTH_HTTPS=0, no proxy): right for a try on this machine only; "
                               "phones cannot install the app without HTTPS. See deploy/README.md")
    elif hops > 2:
        yield warning("https", f"WEBAUTH_PROXY_HOPS={hops}: is the app really behind {hops} proxies? Each one "
                               "more lets a client choose the address the rate limits count")
    else:
        yield ok("https", f"HTTPS behind {hops} proxy(ies): secure __Host- cookies, HSTS")
    if deployment.url is None:
        return
    scheme = urlsplit(deployment.url).scheme
    if scheme != ("https" if https else "http"):
        yield problem("https", f"{deployment.url} is {scheme}:// but WEBAUTH_HTTPS is {int(https)}: make them agree")
        return
    try:
        answer = requests.get(f"{deployment.url}/healthz", timeout=10, allow_redirects=False)
    except requests.exceptions.SSLError:
        yield problem("https", f"{deployment.url}: its certificate is not trusted (expired, self-signed, or for "
                               "another name)")
        return
    except requests.RequestException as error:
        yield problem("https", f"{deployment.url} does not answer ({type(error).__name__}): check DNS, the "
                               "proxy and the firewall")
        return
    if answer.status_code != 200:
        yield problem("https", f"{deployment.url}/healthz answers {answer.status_code}, not 200: is the proxy "
                               "passing requests to gunicorn?")
    elif https and "Strict-Transport-Security" not in answer.headers:
        yield problem("https", f"{deployment.url} sends no HSTS header: is the proxy hiding it?")
    else:
        yield ok("https", f"{deployment.url} answers" + (" over HTTPS, with HSTS" if https else ""))


def _is_address(host: str) -> bool:
    try:
        ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_passkeys(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    """Passkeys are bound for good to a host name (the relying party id) and answer for an
    origin: WEBAUTH_PUBLIC_URL says which, and must agree with WEBAUTH_HTTPS and --url."""
    public, https = app.config["WEBAUTH_PUBLIC_URL"], app.config["WEBAUTH_HTTPS"]
    if not public:
        example = deployment.url or "https://auth.example.com"
        yield warning("passkeys", "WEBAUTH_PUBLIC_URL is not set, so passkeys take their host name from each "
                                  "request: a passkey made at one name does not work at another. Set "
                                  f"WEBAUTH_PUBLIC_URL={origin_of(example).origin}, the address people open")
        return
    party = origin_of(public)
    scheme = urlsplit(public).scheme
    found = []
    if scheme != ("https" if https else "http"):
        found.append(problem("passkeys", f"WEBAUTH_PUBLIC_URL is {scheme}:// but WEBAUTH_HTTPS is {int(https)}: "
                                         "make them agree (behind a TLS proxy, both say https)"))
    if deployment.url is not None and origin_of(deployment.url).origin != party.origin:
        found.append(problem("passkeys", f"WEBAUTH_PUBLIC_URL is {party.origin} but people open "
                                         f"{origin_of(deployment.url).origin}: passkeys answer for the first only"))
    if _is_address(party.id):
        found.append(warning("passkeys", f"WEBAUTH_PUBLIC_URL names the address {party.id}: browsers make passkeys "
                                         "for host names only, so nobody can use one here"))
    elif scheme == "http" and party.id != "localhost":
        found.append(warning("passkeys", f"{party.origin} is plain HTTP: browsers allow passkeys over HTTPS only "
                                         "(or on localhost)"))
    yield from found or [ok("passkeys", f"bound to {party.id}, answering for {party.origin}")]


def check_proxy_sign_on(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    trusted, header = app.config["WEBAUTH_TRUSTED_PROXIES"], app.config["WEBAUTH_REMOTE_USER_HEADER"]
    if not trusted and not header:
        return
    if not (trusted and header):
        missing = "WEBAUTH_REMOTE_USER_HEADER" if trusted else "WEBAUTH_TRUSTED_PROXIES"
        yield problem("single sign-on", f"half set up: {missing} is missing, so it is off")
        return
    wide = [str(network) for network in trusted if network.num_addresses > 256]
    if wide:
        yield warning("single sign-on", f"WEBAUTH_TRUSTED_PROXIES lets {', '.join(wide)} name any user: list the "
                                        "proxy's own address only")
    else:
        names = ", ".join(str(network) for network in trusted)
        yield ok("single sign-on", f"{header} believed from {names} only")


def check_casdoor(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    base, client_id = app.config["WEBAUTH_CASDOOR_URL"], app.config["WEBAUTH_CASDOOR_CLIENT_ID"]
    if not base and not client_id:
        return
    if not (base and client_id):
        missing = "WEBAUTH_CASDOOR_CLIENT_ID" if base else "WEBAUTH_CASDOOR_URL"
        yield problem("casdoor", f"half set up: {missing} is missing, so Casdoor is off")
        return
    timeout = app.config["WEBAUTH_CASDOOR_TIMEOUT"]
    try:
        discovery = requests.get(f"{base}/.well-known/openid-configuration", timeout=timeout)
        discovery.raise_for_status()
        issuer = discovery.json()["issuer"]
    except (requests.RequestException, ValueError, KeyError) as error:
        yield problem("casdoor", f"{base} does not answer as Casdoor ({type(error).__name__}): check "
                                 "WEBAUTH_CASDOOR_URL and that this server reaches it")
        return
    yield ok("casdoor", f"{base} answers (issuer {issuer})")
    if deployment.url is None:
        yield warning("casdoor", "the redirect URL was not checked: give --url https://YOUR-HOST")
        return
    redirect_uri = deployment.url.rstrip("/") + CALLBACK_PATH
    try:
        answer = requests.get(
            f"{base}/api/get-app-login",
            params={"clientId": client_id, "responseType": "code", "redirectUri": redirect_uri,
                    "scope": CASDOOR_SCOPE, "state": "webauth-doctor", "type": "code"},
            timeout=timeout,
        ).json()
    except (requests.RequestException, ValueError) as error:
        yield problem("casdoor", f"{base} did not say whether it knows the application ({type(error).__name__})")
        return
    if answer.get("status") == "ok":
        yield ok("casdoor", f"the application accepts the redirect URL {redirect_uri}")
        return
    message = str(answer.get("msg", ""))[:300]
    if "client_id" in message.lower():
        yield problem("casdoor", f"Casdoor knows no application with WEBAUTH_CASDOOR_CLIENT_ID {client_id!r}: "
                                 "copy the Client ID from the application's page")
    elif "redirect" in message.lower():
        yield problem("casdoor", f"the application does not list {redirect_uri}: add it to its Redirect URLs "
                                 "in Casdoor (docs/casdoor.md, step 2)")
    else:
        yield problem("casdoor", f"Casdoor refuses a sign-in for this application: {message}")


def check_casdoor_trust(app: Flask, deployment: Deployment) -> Iterator[Finding]:
    """What Casdoor is trusted with here: administrators, and sign-in by login link (docs/security.md)."""
    config = app.config
    if not (config["WEBAUTH_CASDOOR_URL"] and config["WEBAUTH_CASDOOR_CLIENT_ID"]):
        return
    organizations = users.admin_organizations()
    if organizations:
        shown = ", ".join(sorted(organizations))
        yield ok("casdoor trust", f"isAdmin makes administrators for the organization(s) {shown}")
    else:
        yield ok("casdoor trust", "no Casdoor organization makes administrators here (WEBAUTH_CASDOOR_ORGANIZATION "
                                  "and WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS are empty)")
    audiences = config["WEBAUTH_CASDOOR_LINK_AUDIENCES"]
    if audiences:
        yield warning("casdoor trust", f"login links sign people in with any token of {', '.join(sorted(audiences))} "
                                       "(WEBAUTH_CASDOOR_LINK_AUDIENCES): whoever holds one of those applications' "
                                       "tokens can sign in as its user; leave it empty unless users need it")
    else:
        yield ok("casdoor trust", "login links only connect users who signed in and entered their password")


CHECKS: tuple[Callable[[Flask, Deployment], Iterator[Finding]], ...] = (
    check_secret_key, check_keyring, check_database, check_rate_limits, check_https, check_passkeys,
    check_proxy_sign_on, check_casdoor, check_casdoor_trust,
)


def run_checks(app: Flask, deployment: Deployment) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(app, deployment)]


def _default_workers() -> int:
    try:
        return max(1, int(os.environ.get("WEB_CONCURRENCY", "1")))
    except ValueError:
        return 1


@click.command("doctor")
@click.option("--url", help="The address people open, e.g. https://auth.example.com (checks it and Casdoor's "
                            "redirect URL).")
@click.option("--workers", type=click.IntRange(min=1), default=_default_workers, show_default="WEB_CONCURRENCY or 1",
              help="How many processes serve the app (gunicorn workers, times instances).")
@with_appcontext
def doctor_command(url: str | None, workers: int) -> None:
    """Check this deployment and say what to fix; exit 1 while there is a problem."""
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise click.BadParameter("give the address with its scheme, e.g. https://auth.example.com", param_hint="--url")
    findings = run_checks(current_app._get_current_object(), Deployment(workers=workers, url=url))
    width = max(len(finding.topic) for finding in findings)
    for finding in findings:
        click.echo(f"{finding.level.value:8} {finding.topic:{width}}  {finding.message}")
    problems = sum(finding.level is Level.PROBLEM for finding in findings)
    warnings = sum(finding.level is Level.WARNING for finding in findings)
    click.echo(f"{problems} problem(s), {warnings} warning(s)")
    if problems:
        sys.exit(1)
