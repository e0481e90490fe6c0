"""deploy/: the systemd units start what they name, and nginx routes exactly the app's paths."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from starlette.routing import Route

from bot.serve import build_server
from crm_store.crypto import FieldCipher, decode_key
from crm_store.db import Database, make_engine
from crm_store.store import Store
from tests.chroma_server import free_port
from tests.conftest import TEST_KEY, make_settings
from tests.deployment.cluster import ROOT, Process, bankbot_command, stopped_at_exit, wait_healthy
from tests.test_serve import TELEGRAM, WECOM
from tests.wecom.fakes import wait_until

pytestmark = pytest.mark.deployment

DEPLOY = ROOT / "deploy"
INSTALLED = "/opt/bankbot/.venv/bin/bankbot"  # where the units expect the installed command
CALLBACK_PATHS = {"/wecom/callback", "/telegram/webhook"}


def unit(name: str) -> dict[str, list[str]]:
    """A unit file's keys and values (a key may repeat, as systemd allows)."""
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def command_of(name: str, port: int) -> list[str]:
    """ExecStart with this checkout's interpreter for the installed command, %i a port."""
    argv = shlex.split(unit(name)["ExecStart"][0].replace("%i", str(port)))
    assert argv[0] == INSTALLED, argv
    return bankbot_command(*argv[1:])


@pytest.mark.parametrize("name", ["bankbot-serve@.service", "bankbot-scheduler.service"])
def test_units_are_hardened_and_read_one_env_file(name: str) -> None:
    values = unit(name)
    assert values["EnvironmentFile"] == ["/etc/bankbot/bankbot.env"]
    assert values["User"] == ["bankbot"] and values["Restart"] == ["on-failure"]
    assert values["NoNewPrivileges"] == ["yes"] and values["PrivateTmp"] == ["yes"]
    assert values["ProtectSystem"] == ["strict"]
    assert values["ReadWritePaths"] == ["/var/lib/bankbot"]


def test_the_units_commands_start_serve_and_scheduler(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BANKBOT_CLI_SERVER": "off",
        "BANKBOT_HOME": str(tmp_path),
        "DATABASE_URL": "",  # SQLite in the temp home, its data key made by `init`
        "BANKBOT_DATA_KEY": "",
        "CHROMA_URL": "",
        "LLM_BASE_URL": "",
        "REMINDER_CHANNEL": "console",
    }
    env = {k: v for k, v in env.items() if not k.startswith(("WECOM_", "TELEGRAM_", "REDIS_"))}
    subprocess.run(bankbot_command("init"), env=env, cwd=tmp_path, check=True, timeout=120)
    port = free_port()
    serve = Process("serve", command_of("bankbot-serve@.service", port), env, tmp_path / "s.log")
    serve.port = port
    timer = Process(
        "scheduler", command_of("bankbot-scheduler.service", 0), env, tmp_path / "t.log"
    )
    with stopped_at_exit([serve, timer]):
        serve.start()
        wait_healthy(serve)
        timer.start()
        wait_until(lambda: "reminder timer running" in timer.tail(), timeout=90)
        time.sleep(3)
        assert timer.alive(), timer.tail()
        assert serve.alive(), serve.tail()
        timer.stop()
        serve.stop()
    assert timer.popen is not None and timer.popen.returncode == 0, timer.tail()


def nginx_locations() -> set[str]:
    """The exact-match paths (`location = /path`) nginx.conf sends to the app."""
    text = (DEPLOY / "nginx.conf").read_text()
    return set(re.findall(r"location\s*=\s*(\S+)\s*\{", text))


def app_paths(tmp_path: Path) -> set[str]:
    """Every path the app serves with both platforms configured."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'routes.db'}", **WECOM, **TELEGRAM)
    db = Database(make_engine(settings.db_url))
    try:
        app = build_server(Store(settings, db, FieldCipher(decode_key(TEST_KEY))), with_timer=False)
        return {r.path for r in app.routes if isinstance(r, Route)}
    finally:
        db.dispose()


def test_nginx_routes_what_the_app_serves(tmp_path: Path) -> None:
    locations, paths = nginx_locations(), app_paths(tmp_path)
    assert locations <= paths, locations - paths  # nothing proxied to a path nobody serves
    assert paths >= CALLBACK_PATHS and locations >= CALLBACK_PATHS  # both platforms reach it
    assert {"/healthz", "/metrics"} <= locations
    text = (DEPLOY / "nginx.conf").read_text()
    public = text.split("# Internal listeners")[0]
    assert "/metrics" not in public and "/healthz" not in public  # internal listeners only
    internal = text.split("# Internal listeners")[1]
    assert internal.count("listen 127.0.0.1:") == internal.count("deny all;") == 2


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed here (the route check above always runs)")
    wrapper = tmp_path / "nginx.conf"
    wrapper.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n{(DEPLOY / 'nginx.conf').read_text()}\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-c", str(wrapper)], capture_output=True, text=True, check=False
    )
    # The certificate files do not exist here: only that complaint is allowed.
    assert result.returncode == 0 or "fullchain.pem" in result.stderr, result.stderr
