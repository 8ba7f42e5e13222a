"""The list's clock under load, against the app's cheapest signed-in request, in one run.

    .venv/bin/python -m bench.clock [--accounts 50] [--connections 16] [--seconds 10] [--rounds 2]
    .venv/bin/python -m bench.clock --smoke     # a few requests: checks the benchmark still works

A signed-in user with 50 accounts. What every open page asks at each period boundary and
preview is the list's clock (`GET /codes/tick?...` with `HX-Request: true`, the URL the page's
`#codes-clock` carries): each request here is the tick a page sends at that moment, bringing
new codes at a boundary or the next codes in the last seconds (`bench._common.tick_at`). The
reference is the app's cheapest signed-in request (the session checked and the user loaded,
then nothing: `bench/signed_in_app.py`), served by the same gunicorn (gthread, 2 workers x 4
threads) in the same run; the two alternate for `--rounds` rounds of `--seconds` each, after a
warm-up, so that a shared machine's load falls on both alike. `/manifest.json` (public, no
database) and the whole list (`GET /` with htmx: what a search, an action or a change of the
vault fetches) are measured once, for comparison. wrk (Debian's package, installed when
missing) drives them on loopback.

Goals (issue 21): the clock at least 0.40 of the signed-in no-op's requests per second (aim
0.5), its p99 at most 60 ms at 16 connections, no errors; at most 4 KB per refresh and 64 KB
for the list page of 50 accounts, uncompressed. The exit status is 1 when a goal is missed
(never with --smoke, whose figures mean nothing).
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import time

import requests

from bench._common import (
    CLOCK_PERIOD,
    PREVIEW_SECONDS,
    Load,
    clock_url,
    goal,
    gunicorn,
    instance,
    load,
    load_average,
    machine,
    seed_user,
    sign_in,
    tick_at,
    with_at,
    workers_of,
)

GOAL_SHARE = 0.40
AIM_SHARE = 0.5
GOAL_P99_MS = 60.0
GOAL_REFRESH_BYTES = 4 * 1024
GOAL_PAGE_BYTES = 64_000  # 64 KB read the stricter way


def refresh_bytes(url: str, headers: dict[str, str], *, wait: bool = True) -> dict[str, int]:
    """The size of the clock's answer at a boundary (new codes) and in the last seconds (next
    codes), as pages get them. The server answers by its own time, so each is asked for at such
    a moment (this process and the server share the clock); without `wait`, only the one due now."""
    sizes = {}
    for kind in ("boundary", "preview"):
        phase = time.time() % CLOCK_PERIOD
        previewing = phase >= CLOCK_PERIOD - PREVIEW_SECONDS
        if (kind == "preview") != previewing:
            if not wait:
                continue
            start = CLOCK_PERIOD - PREVIEW_SECONDS if kind == "preview" else 0
            time.sleep((start - phase) % CLOCK_PERIOD + 0.5)
        answer = requests.get(with_at(url, tick_at(time.time())), headers=headers, timeout=10, allow_redirects=False)
        sent = len(re.findall(r'hx-swap-oob="innerHTML">', answer.text))
        if answer.status_code != 200 or "HX-Retarget" in answer.headers or not sent:
            raise SystemExit(f"the clock's answer at a {kind} is wrong: status {answer.status_code}, {sent} codes")
        sizes[kind] = len(answer.content)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="each measured run (after a 2 s warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of the no-op and the clock, alternating")
    parser.add_argument("--max-requests", type=int, default=500_000, help="cap on each run's requests")
    parser.add_argument("--database-url", help="default: SQLite in a temporary instance folder")
    parser.add_argument("--smoke", action="store_true", help="a few requests of each: does it still work?")
    args = parser.parse_args()
    if args.smoke:
        args.accounts, args.connections, args.seconds, args.rounds, args.max_requests = 5, 2, 0.5, 1, 20

    print(f"the list's clock, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    with instance(args.database_url) as inst:
        username = seed_user(inst, args.accounts)
        database = inst.database_url.split(":", 1)[0]
        print(f"database: {database}; user with {args.accounts} accounts; {args.connections} connections")

        with gunicorn("bench.signed_in_app:app", inst.env, probe="/manifest.json") as (process, base):
            workers = workers_of(process.pid)

            def run(url: str, headers: dict[str, str]) -> Load:
                # Every URL gets the clock's `at` (ignored by the others), so that wrk does the same
                # work for each request whatever is measured.
                common = {"connections": args.connections, "max_requests": args.max_requests, "clock": True}
                load(url, headers, seconds=min(2.0, args.seconds), **common)
                return load(url, headers, seconds=args.seconds, server=workers, **common)

            cookie = {"Cookie": sign_in(base, username)}
            htmx = {**cookie, "HX-Request": "true"}
            page = requests.get(f"{base}/", headers=cookie, timeout=10, allow_redirects=False)
            shown = page.text.count('<button class="code"')
            if page.status_code != 200 or shown != args.accounts:
                raise SystemExit(f"the list is wrong: status {page.status_code}, {shown} accounts")
            noop_url = f"{base}/bench/signed-in?from=bench"
            if requests.get(noop_url, headers=cookie, timeout=10).status_code != 204:
                raise SystemExit("the signed-in no-op does not answer 204")
            tick_url = clock_url(base, htmx)
            sizes = refresh_bytes(tick_url, htmx, wait=not args.smoke)
            print(f"list page: {len(page.content):,} bytes; clock's answer: "
                  + ", ".join(f"{size:,} bytes at a {kind}" for kind, size in sizes.items()))

            rounds: list[tuple[Load, Load]] = []
            for _ in range(args.rounds):
                rounds.append((run(noop_url, cookie), run(tick_url, htmx)))
            manifest = run(f"{base}/manifest.json?from=bench", cookie)
            whole = run(f"{base}/?sort=manual", htmx)

    for number, (noop, clock) in enumerate(rounds, 1):
        print(noop.line(f"round {number}: no-op"))
        print(clock.line(f"round {number}: clock"))
    print(manifest.line("/manifest.json"))
    print(whole.line("whole list (htmx)"))
    noop_rps = sum(noop.requests for noop, _ in rounds) / sum(noop.seconds for noop, _ in rounds)
    clock_rps = sum(clock.requests for _, clock in rounds) / sum(clock.seconds for _, clock in rounds)
    share = clock_rps / noop_rps if noop_rps else 0.0
    p99 = max(clock.p99_ms for _, clock in rounds)
    errors = sum(clock.errors for _, clock in rounds)
    timeouts = sum(clock.timeouts for _, clock in rounds)
    print(f"clock {clock_rps:,.0f} req/s, signed-in no-op {noop_rps:,.0f} req/s; /manifest.json "
          f"{manifest.rps:,.0f} req/s (the clock is {clock_rps / manifest.rps if manifest.rps else 0:.2f} of it)")
    noop_cpu = sum(noop.server_cpu_ms or 0 for noop, _ in rounds) / len(rounds)
    clock_cpu = sum(clock.server_cpu_ms or 0 for _, clock in rounds) / len(rounds)
    if clock_cpu:
        print(f"server CPU per request: clock {clock_cpu:.2f} ms, signed-in no-op {noop_cpu:.2f} ms: by CPU, the clock "
              f"is {noop_cpu / clock_cpu:.2f} of the no-op (what req/s would show on a machine of its own)")
    print(f"load average after the run: {load_average()}")
    verdict = [
        (f"clock / signed-in no-op (aim {AIM_SHARE})", f"{share:.2f}", f">= {GOAL_SHARE:.2f}", share >= GOAL_SHARE),
        ("p99 of the clock", f"{p99:.1f} ms", f"<= {GOAL_P99_MS:.0f} ms", p99 <= GOAL_P99_MS),
        ("errors of the clock", f"{errors} ({timeouts} timeouts)", "0", errors == 0),
        ("bytes per refresh (the larger)", f"{max(sizes.values()):,}", f"<= {GOAL_REFRESH_BYTES:,}",
         max(sizes.values()) <= GOAL_REFRESH_BYTES),
        (f"bytes of the list page ({args.accounts} accounts)", f"{len(page.content):,}", f"<= {GOAL_PAGE_BYTES:,}",
         len(page.content) <= GOAL_PAGE_BYTES),
    ]
    print("goals (issue 21):" + (" (smoke run: the figures mean nothing)" if args.smoke else ""))
    for line in verdict:
        print(goal(*line))
    if not args.smoke and not all(met for *_, met in verdict):
        sys.exit(1)


if __name__ == "__main__":
    main()
