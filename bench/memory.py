"""Worker memory: the resident size of each gunicorn worker before and after 10,000 requests.

    .venv/bin/python -m bench.memory [--requests 10000] [--accounts 50]

The requests are the list's clock for a signed-in user (the request every open page repeats),
sent in stages so that growth shows as a curve: a leak grows with every stage, a warm-up cache
only in the first. RSS is read from /proc for each worker process of the gunicorn master.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from bench._common import clock_url, gunicorn, instance, load, machine, seed_user, sign_in, workers_of

STAGES = (0.01, 0.1, 0.5, 1.0)  # shares of --requests after which memory is read


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2400, help="time cap for all the requests")
    parser.add_argument("--database-url", help="default: SQLite in a temporary instance folder")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: does it still work? (figures not judged)")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.accounts, args.connections = 40, 5, 2

    print(f"worker memory, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    with instance(args.database_url) as inst:
        username = seed_user(inst, args.accounts)
        with gunicorn("wsgi:app", inst.env, probe="/manifest.json") as (process, base):
            headers = {"Cookie": sign_in(base, username), "HX-Request": "true"}
            url = clock_url(base, headers)
            workers = workers_of(process.pid)
            start = {pid: rss_mib(pid) for pid in workers}
            print(f"{args.accounts} accounts, {args.connections} connections, workers {workers}")
            print(f"{'requests':>9}  " + "  ".join(f"worker {pid} RSS" for pid in workers))
            print(f"{0:>9}  " + "  ".join(f"{start[pid]:>11.1f} MiB" for pid in workers))
            sent = errors = 0
            deadline = time.monotonic() + args.seconds
            for share in STAGES:
                target = int(args.requests * share)
                left = deadline - time.monotonic()
                if left <= 0:
                    print(f"stopped at the time limit (--seconds {args.seconds:g}) after {sent} requests")
                    break
                result = load(url, headers, connections=args.connections, seconds=left,
                              max_requests=max(1, target - sent), clock=True)
                sent += result.requests
                errors += result.errors
                print(f"{sent:>9}  " + "  ".join(f"{rss_mib(pid):>11.1f} MiB" for pid in workers))
            if workers_of(process.pid) != workers:
                print("a worker was replaced during the run (it crashed or timed out): see the figures above")
            first_stage = int(args.requests * STAGES[0])
            print(f"errors: {errors}")
            growth = [rss_mib(pid) - start[pid] for pid in workers]
            print("growth over the run: " + ", ".join(f"{value:+.1f} MiB" for value in growth)
                  + f" (includes the warm-up of the first {first_stage} requests)")


if __name__ == "__main__":
    main()
