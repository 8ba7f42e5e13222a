"""The systemd units and the Caddyfile of deploy/, checked by their own tools.

systemd cannot run inside the test machine, so the units are checked the way systemd would
read them: `systemd-analyze verify` (every key known, every command executable, with the
checkout in place of /srv/webauth) and `systemd-analyze security` (the exposure score of the
hardening). The timers' commands must exist in the app's CLI; Caddy validates its file.
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SYSTEMD = ROOT / "deploy" / "systemd"
SERVICES = sorted(SYSTEMD.glob("*.service"))
TIMERS = sorted(SYSTEMD.glob("*.timer"))


def read_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


@pytest.fixture(scope="module")
def installed_units(tmp_path_factory) -> Path:
    """The units with the checkout where /srv/webauth would be, as verify needs real executables."""
    folder = tmp_path_factory.mktemp("units")
    for unit in [*SERVICES, *TIMERS]:
        (folder / unit.name).write_text(unit.read_text().replace("/srv/webauth", str(ROOT)))
    return folder


def test_systemd_reads_every_unit_without_a_complaint(installed_units):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/ensure-test-deps.sh installs systemd"
    units = sorted(str(path) for path in installed_units.iterdir())
    result = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("service", [path.name for path in SERVICES])
def test_every_service_runs_hardened_as_its_own_user(service, installed_units):
    unit = read_unit(SYSTEMD / service)["Service"]
    assert unit["User"] == "webauth" and unit["Group"] == "webauth"
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "yes",
        "StateDirectory": "webauth", "UMask": "0077", "CapabilityBoundingSet": "",
    }.items():
        assert unit.get(key) == value, f"{service}: {key}={unit.get(key)}"
    assert "ReadWritePaths" not in unit  # writable: the instance folder (StateDirectory) only
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(installed_units / service)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]  # exposure 2.0 or less ("OK")


def test_every_timer_starts_a_service_whose_command_the_app_has(app):
    assert len(TIMERS) == 3
    for timer in TIMERS:
        service = read_unit(SYSTEMD / timer.name.replace(".timer", ".service"))["Service"]
        assert service["Type"] == "oneshot" and read_unit(timer)["Timer"]["OnCalendar"]
        words = shlex.split(service["ExecStart"])
        assert words[:3] == ["/srv/webauth/.venv/bin/flask", "--app", "wsgi"]
        group = app.cli.commands.get(words[3])
        assert group is not None, f"{timer.name}: no command {words[3]!r}"
        if hasattr(group, "commands") and not words[4].startswith("--"):
            assert words[4] in group.commands, f"{timer.name}: no command {words[3]} {words[4]}"
        else:
            assert any(words[4] in option.opts for option in group.params), f"{timer.name}: no option {words[4]}"


def test_caddy_accepts_the_caddyfile(tmp_path):
    caddy = shutil.which("caddy")
    assert caddy, "caddy is missing: scripts/ensure-test-deps.sh installs it"
    result = subprocess.run(
        [caddy, "validate", "--adapter", "caddyfile", "--config", str(ROOT / "deploy" / "Caddyfile")],
        capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
             "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr
