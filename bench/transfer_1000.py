"""Import and export of 1,000 accounts in each transfer format, timed; the goal is under 2 s each.

Run: `.venv/bin/python bench/transfer_1000.py` (a throw-away SQLite database and keyring in a
temporary folder; nothing else is touched). Each export covers reading the vault (opening every
secret) and writing the format; each import covers what the pages do: reading the file, sealing
the entries for the preview and opening them again, finding duplicates, and adding the accounts
in one transaction. `--accounts N` changes the count; the exit status is 1 when a step misses
the goal.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 2.0
BACKUP_PASSWORD = "benchmark backup password"  # noqa: S105 - a throw-away vault's


def make_specs(count: int):
    from webauth.otp import Algorithm, OtpParams, OtpType
    from webauth.otpauth import AccountSpec

    specs = []
    for i in range(count):
        kind = i % 10
        if kind < 7:  # mostly what Google can hold too: TOTP SHA1 6/30
            params = OtpParams(type=OtpType.TOTP, secret=os.urandom(20), algorithm=Algorithm.SHA1)
        elif kind == 7:
            params = OtpParams(type=OtpType.HOTP, secret=os.urandom(20), counter=i)
        elif kind == 8:
            params = OtpParams(type=OtpType.TOTP, secret=os.urandom(32), algorithm=Algorithm.SHA256, digits=8)
        else:
            params = OtpParams(type=OtpType.TOTP, secret=os.urandom(20), algorithm=Algorithm.SHA512, period=60)
        specs.append(
            AccountSpec(
                issuer=f"Service {i}",
                name=f"user{i}@example.com",
                params=params,
                note="a note" if i % 5 == 0 else "",
                groups=(f"Group {i % 7}",) if i % 3 == 0 else (),
                favorite=i % 50 == 0,
            )
        )
    return specs


def timed(label: str, results: list[tuple[str, float, float]], run: Callable[[], object]) -> object:
    """Run and record (label, wall seconds, CPU seconds of this process)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = run()
    results.append((label, time.perf_counter() - start, time.process_time() - cpu))
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--compare-qrcode", action="store_true", help="also time the pure-Python qrcode package")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: does it still work? (figures not judged)")
    args = parser.parse_args()
    if args.smoke:
        args.accounts = 10

    with tempfile.TemporaryDirectory(prefix="webauth-bench-") as folder:
        os.environ["WEBAUTH_INSTANCE_PATH"] = folder
        from flask_migrate import upgrade

        from webauth import create_app, qr, users
        from webauth.extensions import db
        from webauth.keys import keyring
        from webauth.transfer import exports, pending
        from webauth.transfer.base import PasswordRequired
        from webauth.transfer.registry import read_import
        from webauth.vault import Vault

        app = create_app({"RATELIMIT_ENABLED": False, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db"})
        results: list[tuple[str, float, float]] = []
        with app.app_context():
            upgrade(revision="heads")
            owner = users.create_local_user("owner", "benchmark password", keyring())
            db.session.commit()
            specs = make_specs(args.accounts)
            owner_vault = Vault(owner, keyring())

            def fill_owners_vault() -> None:
                owner_vault.add_many(specs, source="bench")
                db.session.commit()

            timed("setup: add_many (owner's vault)", results, fill_owners_vault)
            files: dict[str, list[tuple[bytes, str]]] = {}

            def export(fmt: str) -> list[tuple[bytes, str]]:
                vault = Vault(owner, keyring())
                everything = exports.vault_specs(vault)
                if fmt == "google-qr":
                    codes, _ = exports.transfer_codes(everything)
                    return [(qr.qr_png(code.uri), "png") for code in codes]
                if fmt == "qr-page":
                    from webauth.otpauth import format_uri

                    return [(qr.qr_png(format_uri(spec)), "png") for spec in everything]
                password = BACKUP_PASSWORD if fmt == "aegis-encrypted" else None
                return [(exports.export_file(everything, fmt, password).data, fmt)]

            for fmt in ("aegis", "aegis-encrypted", "otpauth", "google-qr", "qr-page"):
                files[fmt] = timed(f"export {fmt}", results, lambda fmt=fmt: export(fmt))  # type: ignore[assignment]

            if args.compare_qrcode:
                import qrcode

                codes, _ = exports.transfer_codes(exports.vault_specs(Vault(owner, keyring())))

                def with_qrcode() -> None:
                    for code in codes[:10]:
                        image = qrcode.make(code.uri, error_correction=qrcode.constants.ERROR_CORRECT_M)
                        image.save(io.BytesIO())

                start, cpu = time.perf_counter(), time.process_time()
                with_qrcode()
                scale = len(codes) / min(10, len(codes))
                label = f"(export google-qr drawn by qrcode, {len(codes)} codes, estimated)"
                results.append((label, (time.perf_counter() - start) * scale, (time.process_time() - cpu) * scale))

            formats = ("aegis", "aegis-encrypted", "otpauth", "google-qr")
            heirs = {fmt: users.create_local_user(f"heir-{fmt}", "benchmark password", keyring()) for fmt in formats}
            db.session.commit()  # before the clock starts: the users are set-up, not what is measured

            def import_into(fmt: str) -> None:
                vault = Vault(heirs[fmt], keyring())
                entries = []
                for data, _ in files[fmt]:
                    try:
                        _, read = read_import(data, None)
                    except PasswordRequired:
                        _, read = read_import(data, BACKUP_PASSWORD)
                    # The preview: sealed into the pending row, opened again, duplicates looked up.
                    row = pending.create(vault, pending.STAGE_PREVIEW, pending.dump_entries(read), format_id=fmt)
                    _, payload = pending.load(vault, row.uuid)
                    opened = pending.load_entries(payload)
                    vault.plan_additions([entry.spec for entry in opened if entry.spec is not None])
                    pending.discard(row)
                    entries += opened
                added, _ = vault.add_many([entry.spec for entry in entries if entry.spec], source=fmt)
                db.session.commit()
                assert added

            # The page of one QR code per account is for phones and paper, not for importing back.
            for fmt in formats:
                timed(f"import {fmt}", results, lambda fmt=fmt: import_into(fmt))
            db.session.remove()

    width = max(len(label) for label, _, _ in results)
    slow = False
    load = os.getloadavg()[0]
    print(f"{args.accounts} accounts; goal: each import and export under {GOAL_SECONDS:g} s")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs: on a busy machine judge by the CPU column")
    print(f"  {'step':<{width}}  {'wall':>9}  {'CPU':>9}")
    for label, wall, cpu in results:
        judged = label.startswith(("import", "export"))
        verdict = ("ok" if wall < GOAL_SECONDS else "SLOW") if judged else ""
        slow |= judged and wall >= GOAL_SECONDS
        print(f"  {label:<{width}}  {wall:7.3f} s  {cpu:7.3f} s  {verdict}")
    print(json.dumps({label: {"wall": round(wall, 3), "cpu": round(cpu, 3)} for label, wall, cpu in results}))
    return 1 if slow and not args.smoke else 0


if __name__ == "__main__":
    raise SystemExit(main())
