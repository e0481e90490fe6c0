"""Digests reach WeCom from every process that delivers: `bankbot reminders run` in the CLI,
and `bankbot scheduler` as its own OS process beside `bankbot serve` (PostgreSQL), once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.channels import DELIVERY_LOG
from bot.cli import app
from crm_store.db import Database, make_engine
from crm_store.models import AuditLog, ChannelIdentity, Digest, Reminder
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from tests.conftest import TEST_KEY, _truncate_all, make_settings
from tests.scheduler.helpers import SHANGHAI, add_customer, add_followup
from tests.wecom.fakes import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom
from tests.world import build_world

ROOT = Path(__file__).resolve().parents[2]
TUESDAY = date(2026, 12, 1)
USERS = {"rm1": "LiNa", "rm3": "ChenJing"}  # bound on WeCom; rm2 is not


def wecom_env(fake: FakeWeCom) -> dict[str, str]:
    return {
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": str(AGENT_ID),
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE_URL": fake.base_url,
    }


def deployment_env(settings: Settings, fake: FakeWeCom, **extra: str) -> dict[str, str]:
    """What an operator sets: the database, the key and WeCom; no REMINDER_CHANNEL."""
    return {
        "BANKBOT_HOME": str(settings.home),
        "DATABASE_URL": settings.db_url,
        "BANKBOT_DATA_KEY": TEST_KEY,
        "REMINDER_CHANNEL": "",
        "TELEGRAM_BOT_TOKEN": "",
        "REDIS_URL": "",
        **wecom_env(fake),
        **extra,
    }


def bind(store: Store, users: dict[str, str]) -> None:
    with store.db.write() as s:
        for staff, user in users.items():
            s.add(
                ChannelIdentity(
                    channel="wecom", external_id=user, staff_id=staff, bound_at=datetime.now(UTC)
                )
            )


def texts_to(fake: FakeWeCom, user: str) -> list[str]:
    return [body["text"]["content"] for body in fake.sent(user)]


def test_reminders_run_delivers_through_wecom_from_the_settings(
    settings: Settings, fake: FakeWeCom
) -> None:
    store = open_store(settings)
    try:
        build_world(store)
        add_followup(store, "c3", "rm2", TUESDAY, "回访王芳")  # rm2 is bound nowhere
        bind(store, USERS)
        env = deployment_env(settings, fake)
        run = CliRunner().invoke(app, ["reminders", "run", "--date", TUESDAY.isoformat()], env=env)
        assert run.exit_code == 0, run.output
        (text,) = texts_to(fake, "LiNa")
        assert "张伟 生日" in text
        with store.db.read() as s:
            digests = {d.recipient_staff_id: d for d in s.scalars(select(Digest))}
            rm2 = s.scalars(select(Reminder).where(Reminder.recipient_staff_id == "rm2")).all()
        assert (digests["rm1"].status, digests["rm1"].channel) == ("sent", "wecom")
        assert (digests["rm2"].status, digests["rm2"].last_error) == ("undeliverable", "no channel")
        assert rm2 and {r.status for r in rm2} == {"pending"}
        assert fake.sent("rm2") == []
        assert not (settings.home / DELIVERY_LOG).exists()  # WeCom only, no console copy
    finally:
        store.close()


# ---- bankbot scheduler beside bankbot serve, on PostgreSQL -----------------------------------


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings on this worker's PostgreSQL database, emptied first."""
    engine = make_engine(pg_url)
    _truncate_all(Database(engine))
    engine.dispose()
    yield make_settings(tmp_path, pg_url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, done: Callable[[], bool], procs: list[subprocess.Popen[bytes]]) -> None:
    """Poll until `done`; fail with the processes' logs if one exits or 180 s pass."""
    deadline = time.monotonic() + 180
    while not done():
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args} exited with {proc.returncode} before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within 180 s")
        time.sleep(0.2)


def today_birthdays(store: Store) -> None:
    """A customer of rm1 and of rm3 with a birthday today (business time)."""
    today = datetime.now(SHANGHAI).date()
    add_customer(store, "bd1", "rm1", (today.month, today.day, "solar"), name="今日寿星甲")
    add_customer(store, "bd3", "rm3", (today.month, today.day, "solar"), name="今日寿星乙")


def test_scheduler_beside_serve_on_postgresql_delivers_each_digest_once(
    pg_settings: Settings, fake: FakeWeCom, tmp_path: Path
) -> None:
    store = open_store(pg_settings)
    build_world(store)
    today_birthdays(store)
    bind(store, USERS)
    # Every day a digest day and its time already past: both timers catch up at start.
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        **deployment_env(
            pg_settings, fake, REMINDER_DIGEST_TIME="00:00", REMINDER_ON_NON_WORKING_DAYS="true"
        ),
    }
    bankbot = [sys.executable, "-m", "bot.cli"]
    logs = [(tmp_path / name).open("wb") for name in ("serve.log", "scheduler.log")]
    serve = [*bankbot, "serve", "--host", "127.0.0.1", "--port", str(free_port())]
    procs = [
        subprocess.Popen(serve, env=env, stdout=logs[0], stderr=subprocess.STDOUT),
        subprocess.Popen(
            [*bankbot, "scheduler"], env=env, stdout=logs[1], stderr=subprocess.STDOUT
        ),
    ]

    def settled() -> bool:
        with store.db.read() as s:
            states = s.scalars(select(Digest.status)).all()
        delivered = all(texts_to(fake, user) for user in USERS.values())
        return delivered and bool(states) and not {"pending", "sending"} & set(states)

    try:
        wait_for("digest delivered to every bound staff member", settled, procs)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    try:
        for user in USERS.values():
            (text,) = texts_to(fake, user)  # once, whichever process sent it
            assert "今日寿星" in text
        with store.db.read() as s:
            digests = {d.recipient_staff_id: d for d in s.scalars(select(Digest))}
            decisions = Counter(
                s.scalars(select(AuditLog.decision).where(AuditLog.intent == "reminder_digest"))
            )
        assert {digests[staff].status for staff in USERS} == {"sent"}
        sent = sum(d.status == "sent" for d in digests.values())
        assert decisions == Counter({"delivered": sent})  # no digest sent twice
        assert {d.status for d in digests.values()} <= {"sent", "undeliverable", "empty"}
        assert not (pg_settings.home / DELIVERY_LOG).exists()
        # Sent by these two processes, the scheduler on WeCom built from the settings alone.
        senders = {d.claimed_by.rsplit(":", 1)[1] for d in digests.values() if d.claimed_by}
        assert senders <= {str(p.pid) for p in procs}
        assert "reminder timer running on wecom" in (tmp_path / "scheduler.log").read_text()
    finally:
        store.close()
