"""The Casdoor sync of a 500-account vault against the test Casdoor server, in one run.

    .venv/bin/python -m bench.sync_500 [--accounts 500] [--database-url URL] [--latency-ms 0]

A linked user; the fake Casdoor (tests/support/casdoor_server.py) on loopback, in this
process. Each phase is one call of the sync service, as "Sync now" or `flask sync` makes it:

1. first sync: Casdoor holds half the accounts, the vault the other half (both directions,
   every account new to the other side);
2. nothing changed (what the periodic sync costs most of the time);
3. 10% edited on each side, 2% deleted on each side, 2% added on each side;
4. every account in conflict (both sides changed every secret).

For each phase: wall time, Casdoor requests, and the size of the update-user body.
`--latency-ms` adds that delay to every Casdoor answer (a server across a network).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import os
import time
from datetime import timedelta

from bench._common import instance, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://... (default: SQLite in a temp folder)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every Casdoor answer")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: does it still work? (figures not judged)")
    args = parser.parse_args()
    if args.smoke:
        args.accounts = 10

    from tests.support.casdoor_server import CasdoorServer

    half = args.accounts // 2
    print(f"# Casdoor sync of {args.accounts} accounts ({datetime.date.today()})")
    print(machine())
    with CasdoorServer(organization="acme") as casdoor, instance(args.database_url) as inst:
        if args.latency_ms:
            delay = args.latency_ms / 1000
            casdoor.app.before_request(lambda: time.sleep(delay))
        casdoor.add_user("acme", "alice", "pw", mfa_accounts=[_entry(f"Remote {n:04d}") for n in range(half)])
        app = inst.app()
        app.config.update(
            WEBAUTH_CASDOOR_URL=casdoor.url,
            WEBAUTH_CASDOOR_CLIENT_ID=casdoor.client_id,
            WEBAUTH_CASDOOR_CLIENT_SECRET=casdoor.client_secret,
        )
        from webauth.casdoor import oidc

        oidc.init_app(app)
        user_id = _linked_user(app, casdoor, args.accounts - half)
        sent: list[int] = []
        casdoor.app.before_request(lambda: _note_body(sent))

        rows = []
        rows.append(_phase("first sync (both directions)", app, casdoor, user_id, sent))
        rows.append(_phase("nothing changed", app, casdoor, user_id, sent))
        _change_both_sides(app, casdoor, user_id, args.accounts)
        rows.append(_phase("10% edited, 2% deleted, 2% added on each side", app, casdoor, user_id, sent))
        _conflict_everything(app, casdoor, user_id)
        rows.append(_phase("every account changed on both sides", app, casdoor, user_id, sent))

        print()
        print("| phase | time | Casdoor requests | update-user body | vault after (live / trash) |")
        print("| --- | ---: | --- | ---: | --- |")
        for row in rows:
            print("| " + " | ".join(row) + " |")


def _entry(issuer: str, secret: bytes | None = None) -> dict[str, str]:
    value = base64.b32encode(secret or os.urandom(20)).decode().rstrip("=")
    return {"accountName": "alice@example.com", "issuer": issuer, "secretKey": value, "origin": "phone-1"}


def _note_body(sent: list[int]) -> None:
    from flask import request

    if request.path == "/api/update-user":
        sent.append(request.content_length or 0)


def _linked_user(app, casdoor, local_accounts: int) -> int:
    from webauth import users
    from webauth.casdoor import sync
    from webauth.casdoor.oidc import Tokens
    from webauth.extensions import db
    from webauth.keys import keyring
    from webauth.models import utcnow
    from webauth.otp import OtpParams, OtpType
    from webauth.otpauth import AccountSpec
    from webauth.vault import Vault

    tokens = casdoor.issue_token("acme", "alice")
    with app.app_context():
        subject = casdoor.user("acme", "alice")["id"]
        user = users.create_casdoor_user(casdoor.issuer, subject, "acme/alice", "Alice", keyring(), is_admin=False)
        vault = Vault(user, keyring())
        for number in range(local_accounts):
            spec = AccountSpec(
                issuer=f"Local {number:04d}",
                name="alice@example.com",
                params=OtpParams(type=OtpType.TOTP, secret=os.urandom(20)),
            )
            vault.add(spec, source="bench")
        expires = utcnow() + timedelta(seconds=tokens["expires_in"])
        sync.connect(user, vault, "acme/alice", Tokens(tokens["access_token"], tokens["refresh_token"], expires))
        db.session.commit()
        return user.id


def _phase(name: str, app, casdoor, user_id: int, sent: list[int]) -> list[str]:
    from webauth.casdoor import sync
    from webauth.extensions import db
    from webauth.keys import keyring
    from webauth.models import User
    from webauth.vault import Vault

    casdoor.reset_counts()
    sent.clear()
    with app.app_context():
        user = db.session.get(User, user_id)
        began = time.perf_counter()
        report = sync.sync_user(user, sync.Trigger.CLI, force=True)
        elapsed = time.perf_counter() - began
        vault = Vault(db.session.get(User, user_id), keyring())
        live, trash = len(vault.accounts()), len(vault.trash())
    if not report.ok:
        raise SystemExit(f"{name}: the sync failed: {report.message}")
    remote = len(casdoor.mfa_accounts("acme", "alice") or [])
    if remote != live:
        raise SystemExit(f"{name}: not converged ({live} here, {remote} in Casdoor)")
    counts = ", ".join(
        f"{path.removeprefix('/api/')} {count}" for path, count in sorted(casdoor.request_counts().items())
    )
    body = f"{sum(sent) / 1024:.0f} KiB" if sent else "-"
    print(f"{name}: {elapsed * 1000:.0f} ms ({counts or 'no requests'})")
    return [name, f"{elapsed * 1000:.0f} ms", counts or "-", body, f"{live} / {trash}"]


def _change_both_sides(app, casdoor, user_id: int, total: int) -> None:
    """10% edits, 2% deletions and 2% additions on each side, on different accounts."""
    from webauth.extensions import db
    from webauth.keys import keyring
    from webauth.models import User
    from webauth.otp import OtpParams, OtpType
    from webauth.otpauth import AccountSpec
    from webauth.vault import Vault

    tenth, fiftieth = total // 10, max(1, total // 50)
    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())
        mine = [a for a in vault.accounts() if a.issuer.startswith("Local")]
        for account in mine[:tenth]:
            spec = vault.spec(account)
            params = OtpParams(type=OtpType.TOTP, secret=os.urandom(20))
            vault.update(account.uuid, AccountSpec(issuer=spec.issuer, name=spec.name, params=params))
        for account in mine[tenth : tenth + fiftieth]:
            vault.delete(account.uuid)
        for number in range(fiftieth):
            params = OtpParams(type=OtpType.TOTP, secret=os.urandom(20))
            vault.add(AccountSpec(issuer=f"New here {number}", name="alice", params=params))
        db.session.commit()
    entries = casdoor.mfa_accounts("acme", "alice")
    theirs = [e for e in entries if e["issuer"].startswith("Remote")]
    edited = {id(e) for e in theirs[:tenth]}
    dropped = {id(e) for e in theirs[tenth : tenth + fiftieth]}
    changed = [_entry(e["issuer"]) if id(e) in edited else e for e in entries if id(e) not in dropped]
    changed += [_entry(f"New there {number}") for number in range(fiftieth)]
    casdoor.set_mfa_accounts("acme", "alice", changed)


def _conflict_everything(app, casdoor, user_id: int) -> None:
    from webauth.extensions import db
    from webauth.keys import keyring
    from webauth.models import User
    from webauth.otp import OtpParams, OtpType
    from webauth.otpauth import AccountSpec
    from webauth.vault import Vault

    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())
        for account in vault.accounts():
            spec = vault.spec(account)
            params = OtpParams(type=OtpType.TOTP, secret=os.urandom(20))
            vault.update(account.uuid, AccountSpec(issuer=spec.issuer, name=spec.name, params=params))
        db.session.commit()
    casdoor.set_mfa_accounts(
        "acme", "alice", [{**e, "secretKey": _entry("x")["secretKey"]} for e in casdoor.mfa_accounts("acme", "alice")]
    )


if __name__ == "__main__":
    main()
