"""Scheduled backups of 1,000 users x 50 accounts: the real `flask backups run --all`, timed.

Run: `.venv/bin/python -m bench.backups [--users 1000] [--accounts 50] [--smoke]` (`--smoke`: 3 users of
3 accounts, figures not judged, as tests/test_bench_smoke.py runs it).
A throw-away SQLite instance (bench/_common.py) is seeded through the product's own domain layer: each
user gets 50 accounts (a few HOTP and Steam, some in groups, some with notes) and a backup plan.
Then the command the systemd timer starts runs as a child process, twice: the first run writes
every user's Aegis vault (every secret opened, sealed, written with fsync and renamed, pruned),
the second finds every vault unchanged. Goal (issue 16): the first run under 60 s on 2 cores.
The script checks that every user got exactly one backup, opens a few with their password
through the Aegis importer, prints each figure beside its goal, and exits 1 when a goal is missed.

Seeding shortcut: deriving a backup password's slot is a deliberate scrypt (~0.1 s), which the
scheduled run never pays. To seed 1,000 plans in seconds, the users share one slot and one
master key (each sealed under its own user's data key). The run's work per user is the same.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import instance, machine  # noqa: E402

GOAL_SECONDS = 60.0
BACKUP_PASSWORD = "benchmark backup password"  # noqa: S105 - a throw-away instance's


def seed(inst, count: int, accounts: int) -> None:
    """`count` users of `accounts` accounts each, every one with a backup plan."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from webauth import users
    from webauth.backups import plan
    from webauth.extensions import db
    from webauth.keys import keyring
    from webauth.models import BackupPlan
    from webauth.otp import OtpParams, OtpType
    from webauth.otpauth import AccountSpec
    from webauth.transfer.aegis import password_slot
    from webauth.vault import Vault

    master_key = AESGCM.generate_key(bit_length=256)
    slot = password_slot(master_key, BACKUP_PASSWORD)
    app = inst.app()
    with app.app_context():
        ring = keyring()
        for number in range(count):
            user = users.create_proxy_user(f"user{number:04d}", ring)  # no password: no Argon2 to wait for
            vault = Vault(user, ring)
            specs = []
            for index in range(accounts):
                kind = OtpType.HOTP if index % 25 == 7 else OtpType.STEAM if index % 25 == 13 else OtpType.TOTP
                specs.append(
                    AccountSpec(
                        issuer=f"Service {index:02d}",
                        name=f"user{number:04d}@example.com",
                        params=OtpParams(type=kind, secret=os.urandom(20)),
                        note="recovery codes in the safe" if index % 10 == 0 else "",
                        groups=("Work",) if index % 3 == 0 else (),
                        favorite=index % 17 == 0,
                    )
                )
            vault.add_many(specs, source="bench")
            db.session.add(
                BackupPlan(
                    user_id=user.id,
                    folder=f"user{number:04d}-{user.id}",
                    slot=slot,
                    master_key_sealed=vault.seal_blob(plan._MASTER_KEY, master_key),
                    webdav_url="",
                    webdav_username="",
                )
            )
            db.session.commit()
        db.engine.dispose()


def run_command(env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "backups", "run", "--all"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"backups run --all failed ({done.returncode}): {done.stderr[-2000:]}")
    return took, done.stdout


def check(backup_dir: Path, users: int, accounts: int) -> None:
    from webauth.transfer.aegis import AegisImporter

    # Users' folders only: `.locks` holds the runs' lock files.
    folders = sorted(path for path in backup_dir.iterdir() if not path.name.startswith("."))
    files = [list(folder.iterdir()) for folder in folders]
    if len(folders) != users or any(len(found) != 1 for found in files):
        raise SystemExit(f"expected one backup for each of {users} users, found {sum(map(len, files))}")
    for found in (files[0], files[len(files) // 2], files[-1]):
        entries = AegisImporter().read(found[0].read_bytes(), BACKUP_PASSWORD)
        if len(entries) != accounts or any(entry.spec is None for entry in entries):
            raise SystemExit(f"{found[0]} does not hold {accounts} readable accounts")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: does it still work? (figures not judged)")
    args = parser.parse_args()
    if args.smoke:
        args.users, args.accounts = 3, 3
    print(machine())
    with instance() as inst:
        backup_dir = inst.path / f"backups-{secrets.token_hex(3)}"
        env = {**inst.env, "WEBAUTH_BACKUP_DIR": str(backup_dir)}
        start = time.perf_counter()
        seed(inst, args.users, args.accounts)
        print(f"seeded {args.users} users x {args.accounts} accounts in {time.perf_counter() - start:.1f} s")
        first, output = run_command(env)
        written = output.count(": wrote ")
        check(backup_dir, args.users, args.accounts)
        second, output = run_command(env)
        unchanged = output.count(": unchanged ")
    # The goal is for 1,000 users x 50 accounts; other sizes are judged in proportion.
    goal = GOAL_SECONDS * args.users * args.accounts / 50_000
    print(f"first run, {written} backups written:  {first:6.1f} s   goal < {goal:.0f} s   "
          f"({first / goal:.0%} of the goal, {first / max(written, 1) * 1000:.1f} ms a user)")
    print(f"second run, {unchanged} unchanged:     {second:6.1f} s   (no goal: nothing to write)")
    return 0 if first < goal or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
