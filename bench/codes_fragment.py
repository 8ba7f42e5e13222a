"""The codes fragment under load, against a bare Flask endpoint as the ceiling, in one run.

    .venv/bin/python -m bench.codes_fragment [--accounts 50] [--connections 16] [--seconds 10]

A signed-in user with 50 accounts. What every open page asks at each period boundary is the
list's clock (`GET /codes/tick?...` with `HX-Request: true`, the URL the page's
`#codes-clock` carries): new codes for the accounts shown, swapped in out of band. That is
the request that decides how many users one machine serves, and the one the goals are for.
The whole list (`GET /` with htmx, what a search, an action or a change of the vault
fetches) is measured too, for comparison. Both servers run under gunicorn gthread,
2 workers x 4 threads; wrk (Debian's package, installed when missing) drives them on loopback.
Goals (issue 8): at least 50% of the ceiling's requests per second, p99 under 50 ms, no errors.
"""

from __future__ import annotations

import argparse
import datetime

import requests

from bench._common import Load, clock_url, gunicorn, instance, load, machine, seed_user, sign_in

GOAL_SHARE = 0.5
GOAL_P99_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="each measured run (after a 2 s warm-up)")
    parser.add_argument("--max-requests", type=int, default=500_000, help="cap on each run's requests")
    parser.add_argument("--database-url", help="default: SQLite in a temporary instance folder")
    args = parser.parse_args()

    print(f"codes fragment benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    with instance(args.database_url) as inst:
        username = seed_user(inst, args.accounts)
        database = inst.database_url.split(":", 1)[0]
        print(f"database: {database}; user with {args.accounts} accounts; {args.connections} connections")

        def run(url: str, headers: dict[str, str]) -> Load:
            load(url, headers, connections=args.connections, seconds=2, max_requests=args.max_requests)
            return load(url, headers, connections=args.connections, seconds=args.seconds,
                        max_requests=args.max_requests)

        with gunicorn("wsgi:app", inst.env, probe="/manifest.json") as (_process, base):
            headers = {"Cookie": sign_in(base, username), "HX-Request": "true"}
            check = requests.get(f"{base}/", headers=headers, timeout=10, allow_redirects=False)
            shown = check.text.count('<button class="code"')
            if check.status_code != 200 or shown != args.accounts:
                raise SystemExit(f"the list is wrong: status {check.status_code}, {shown} accounts")
            tick_url = clock_url(base, headers)
            tick = requests.get(tick_url, headers=headers, timeout=10, allow_redirects=False)
            swapped = tick.text.count('class="code-cell"')
            timed = check.text.count("data-remaining-ms")  # HOTP codes change only when asked
            if tick.status_code != 200 or "HX-Retarget" in tick.headers or swapped != timed:
                raise SystemExit(f"the clock's answer is wrong: status {tick.status_code}, {swapped} of {timed} "
                                 "code cells")
            print(f"whole list: {len(check.content)} bytes; clock's answer: {len(tick.content)} bytes")
            fragment = run(tick_url, headers)
            whole = run(f"{base}/", headers)
        with gunicorn("bench.ceiling_app:app", {}) as (_process, base):
            ceiling = run(f"{base}/", {})

    share = fragment.rps / ceiling.rps if ceiling.rps else 0.0
    print(fragment.line("codes (the clock)"))
    print(whole.line("whole list"))
    print(ceiling.line("ceiling (bare Flask)"))
    print(f"ratio: {share:.1%} of the ceiling (the whole list: {whole.rps / ceiling.rps if ceiling.rps else 0:.1%})")
    print("goals:")
    print(f"  >= {GOAL_SHARE:.0%} of the ceiling: {'met' if share >= GOAL_SHARE else 'MISSED'} ({share:.1%})")
    print(f"  p99 < {GOAL_P99_MS:.0f} ms: {'met' if fragment.p99_ms < GOAL_P99_MS else 'MISSED'} "
          f"({fragment.p99_ms:.2f} ms)")
    print(f"  no errors: {'met' if fragment.errors == 0 else 'MISSED'} ({fragment.errors}, of which "
          f"{fragment.timeouts} timeouts: answers slower than 5 s)")


if __name__ == "__main__":
    main()
