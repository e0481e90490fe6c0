"""`bankbot serve` with ANSWER_PROCESSES=1: the web process only acknowledges, an answer
process of its own answers (and holds the note index), serve restarts it when it dies, and
serve's /metrics counts what its answer processes did."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from crm_store.models import ChannelIdentity, InboxMessage, Interaction
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from retrieval.config import chroma_folder
from retrieval.lock import holder_pid
from tests.conftest import TEST_KEY
from tests.deployment.cluster import (
    Message,
    Process,
    deployment_env,
    serve_process,
    stopped_at_exit,
    wait_healthy,
)
from tests.telegram.fake_telegram import FakeTelegram
from tests.wecom.fakes import FakeWeCom
from tests.world import NOW, build_world

pytestmark = pytest.mark.deployment

SENDER = "wx_rm1"  # rm1 (李娜), notes on 张伟


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[Store, FakeWeCom, Process]]:
    store = open_store(settings)
    build_world(store)
    with store.db.write() as session:
        session.add(
            ChannelIdentity(channel="wecom", external_id=SENDER, staff_id="rm1", bound_at=NOW)
        )
    wecom, telegram = FakeWeCom().start(), FakeTelegram()
    telegram.start()
    env = deployment_env(
        home=settings.home,
        database_url=settings.database_url or f"sqlite:///{settings.home / 'bankbot.db'}",
        data_key=TEST_KEY,
        chroma_url="",  # the embedded index: the answer process must be the one holding it
        wecom_url=wecom.base_url,
        telegram_url=telegram.url,
        agent_id=4_000_000 + os.getpid() % 1_000_000,
        ANSWER_PROCESSES="1",
        INBOX_LEASE_SECONDS="8",
    )
    serve = serve_process(tmp_path, env, "serve")
    try:
        with stopped_at_exit([serve.start()]):
            wait_healthy(serve)
            yield store, wecom, serve
    finally:
        store.close()
        wecom.stop()
        telegram.stop()


def notes(first: int, count: int) -> list[Message]:
    return [
        Message("wecom", SENDER, f"记录：刚和张伟通话，他想了解大额存单，编号A{n:04d}", 770_000 + n)
        for n in range(first, first + count)
    ]


def post(serve: Process, messages: list[Message]) -> None:
    with httpx.Client(timeout=10) as client:
        assert [m.post(serve.url, client) for m in messages] == [200] * len(messages)


def wait_for_replies(wecom: FakeWeCom, markers: list[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = [str(b["text"]["content"]) for b in wecom.sent(SENDER) if "text" in b]
        if all(any(m in text for text in sent) for m in markers):
            return
        time.sleep(0.2)
    raise AssertionError(f"no reply for some of {markers}")


def answer_pid(serve: Process) -> int | None:
    """The answer process's pid (children are listed under the thread that started them)."""
    assert serve.popen is not None
    tasks = Path(f"/proc/{serve.popen.pid}/task").glob("*/children")
    pids = [int(p) for task in tasks for p in task.read_text().split()]
    assert len(pids) <= 1, pids
    return pids[0] if pids else None


def wait_until_done(store: Store, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.db.read() as session:
            done = session.scalar(
                select(func.count()).where(
                    InboxMessage.status == "done", InboxMessage.channel == "wecom"
                )
            )
        if done == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"not all {count} messages were marked done")


def nice_of(pid: int) -> int:
    """A process's nice value, from /proc (field 19 of stat; the name may hold spaces)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def health(serve: Process) -> dict[str, object]:
    return dict(httpx.get(serve.url + "/healthz", timeout=5).json())


def test_answers_come_from_a_process_of_their_own(
    served: tuple[Store, FakeWeCom, Process], settings: Settings
) -> None:
    store, wecom, serve = served
    state = health(serve)
    assert state["answer_processes"] == 1 and state["index"] == "in the answer processes"
    first = notes(0, 6)
    post(serve, first)
    wait_for_replies(wecom, [f"编号A{n:04d}" for n in range(6)])
    with store.db.read() as session:
        written = session.scalar(select(func.count()).where(Interaction.content.contains("编号A")))
    assert written == 6
    # Killed between sending a reply and marking its message done, a process leaves that
    # message to be answered again (a second reply beats none): kill it once all are done.
    wait_until_done(store, 6)
    worker = answer_pid(serve)
    assert worker is not None
    assert holder_pid(chroma_folder(settings)) in (None, worker)  # never the web process
    assert serve.popen is not None
    assert nice_of(worker) == nice_of(serve.popen.pid) + 10  # ANSWER_PROCESS_NICE's default

    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and answer_pid(serve) in (worker, None):
        time.sleep(0.2)
    assert answer_pid(serve) not in (worker, None)  # serve started another one
    post(serve, notes(6, 2))
    wait_for_replies(wecom, ["编号A0006", "编号A0007"])
    # Each message answered once. Counted as delivered: a send the fake refused (a token that
    # is not its own, e.g. left in the shared database) is sent again after a refresh.
    replies = [str(b["text"]["content"]) for b in wecom.delivered(SENDER) if "text" in b]
    assert sum("编号A0000" in r for r in replies) == 1, replies
    # Serve's /metrics adds up its answer processes' counters, the killed one's included:
    # every reply was sent from an answer process, and on PostgreSQL every callback was
    # opened (and counted as accepted) there.
    assert counted(serve, "bankbot_replies_total", channel="wecom", result="sent") >= 8
    assert counted(serve, "bankbot_callbacks_total", channel="wecom", outcome="accepted") >= 8
    assert counted(serve, "bankbot_callbacks_total", channel="wecom", outcome="sealed") == 8


def counted(serve: Process, name: str, **labels: str) -> float:
    """One sample of serve's /metrics (0 when absent)."""
    text = httpx.get(serve.url + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0
