"""Every benchmark of bench/ still runs: each at a tiny size (`--smoke`), its exit status and
its verdict lines checked, never its figures (a shared CI machine's timings mean nothing).

They run once, in the SQLite pass: each builds its own throw-away instance. A smoke run is
mostly fixed costs (a database migrated, gunicorn and Chromium started), much of it one process
waiting on another, so two run at a time: the module costs about half the sum of its runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each benchmark, the arguments of its smoke run, and what its output must say.
BENCHMARKS = [
    pytest.param(["-m", "bench.clock", "--smoke"], "bytes of the list page", id="clock"),
    pytest.param(["-m", "bench.vault_1000", "--smoke"], "search < 50 ms", id="vault_1000"),
    pytest.param(["-m", "bench.memory", "--smoke"], "errors: 0", id="memory"),
    pytest.param(["-m", "bench.sync_500", "--smoke"], "every account changed on both sides", id="sync_500"),
    pytest.param(["bench/transfer_1000.py", "--smoke"], "import google-qr", id="transfer_1000"),
    pytest.param(["-m", "bench.offline_unlock", "--smoke"], "unlock to first code", id="offline_unlock"),
    pytest.param(["-m", "bench.big_database", "--smoke"], "search among 100 accounts", id="big_database"),
    pytest.param(["-m", "bench.backups", "--smoke"], "second run, 3 unchanged", id="backups"),
    pytest.param(["-m", "bench.lighthouse", "--smoke"], "best-practices", id="lighthouse"),
    pytest.param(["-m", "bench.lighthouse", "--a11y", "--smoke"], "list      ar  /", id="lighthouse_a11y"),
]

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("WEBAUTH_TEST_DATABASE_URL")), reason="the benchmarks run once, in the SQLite pass"
)


AT_ONCE = 2


def smoke_run(arguments: list[str]) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WEBAUTH_")}
    return subprocess.run([sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def smoke_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, Future]]:
    """The selected benchmarks' smoke runs, started together, AT_ONCE at a time, by test id."""
    selected = {item.callspec.id for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        runs = {param.id: pool.submit(smoke_run, param.values[0]) for param in BENCHMARKS if param.id in selected}
        yield runs
        for run in runs.values():
            run.cancel()


@pytest.mark.parametrize(("arguments", "expected"), BENCHMARKS)
def test_the_benchmark_still_runs(smoke_runs: dict[str, Future], request: pytest.FixtureRequest,
                                  arguments: list[str], expected: str) -> None:
    done = smoke_runs[request.node.callspec.id].result()
    assert done.args[1:] == arguments
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert expected in done.stdout, done.stdout[-3000:]


def test_every_benchmark_has_a_smoke_run() -> None:
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py") if not path.stem.startswith("_")}
    scripts -= {"signed_in_app"}  # not a benchmark: the app bench.clock serves
    covered = {next(arg for arg in param.values[0] if arg.startswith(("bench.", "bench/"))) for param in BENCHMARKS}
    assert scripts == {name.removeprefix("bench.").removeprefix("bench/").removesuffix(".py") for name in covered}


def test_the_benchmarks_serve_with_the_shape_of_make_run_and_of_the_deployment() -> None:
    """Figures mean something only for the server people run: `make run`'s gunicorn defaults,
    the systemd unit's gunicorn.conf.py and the benchmarks' gunicorn agree on workers, threads
    and connections per worker (a worker holding every keep-alive connection halved the clock's
    throughput and doubled its p99: docs/configuration.md, CONNECTIONS)."""
    from bench import _common

    defaults = dict(
        line.split(" ?= ") for line in (ROOT / "Makefile").read_text().splitlines() if " ?= " in line
    )
    conf: dict[str, object] = {"os": os}
    exec((ROOT / "deploy" / "gunicorn.conf.py").read_text(), conf)  # noqa: S102 - the project's own file
    shape = (_common.WORKERS, _common.THREADS, _common.CONNECTIONS)
    assert shape == (int(defaults["WORKERS"]), int(defaults["THREADS"]), int(defaults["CONNECTIONS"]))
    assert shape == (conf["workers"], conf["threads"], conf["worker_connections"])
    assert "--worker-connections $(CONNECTIONS)" in (ROOT / "Makefile").read_text()
