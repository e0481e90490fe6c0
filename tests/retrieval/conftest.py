"""Fixtures for the note index: real Chroma in a temp folder, the real bundled e5 model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.index_outbox import enqueue
from crm_store.models import IndexOutbox
from crm_store.notes import record_note
from crm_store.settings import Settings
from crm_store.store import Store
from retrieval.config import IndexSettings
from retrieval.connect import open_index
from retrieval.embeddings import E5Embeddings
from retrieval.entries import NoteEntry
from retrieval.index import NoteIndex
from tests.chroma_server import ChromaNotStarted, running_chroma
from tests.conftest import make_settings
from tests.world import NOW, build_world

# (customer, author, text): few notes, since embedding runs at ~80 sentences/s on 2 cores.
NOTES = [
    ("c1", "rm1", "张伟想了解基金定投，关注沪深300指数基金，下周再约"),
    ("c1", "rm1", "张伟抱怨手机银行转账限额太低，希望调高"),
    ("c3", "rm2", "王芳的大额存单12月到期，打算续存三年期"),
    ("c4", "rm1", "王芳咨询美元理财产品，风险偏好稳健"),
    ("c6", "rm9", "李雷对养老保险很感兴趣，约了下周面谈"),
    ("c8", "rm2", "刘洋说手机银行登录总是闪退，已反馈给科技部"),
    ("c2", "rm3", "张伟想买黄金积存产品，问了手续费"),
]
QUERIES = ["谁对基金感兴趣？", "哪些客户抱怨过手机银行？", "存单到期续存", "保险"]


def local_config() -> IndexSettings:
    """Embedded Chroma and the bundled model, whatever the developer's environment says."""
    return IndexSettings(  # type: ignore[call-arg]
        _env_file=None, CHROMA_URL="", EMBEDDINGS_BASE_URL="", EMBEDDINGS_MODEL=""
    )


@pytest.fixture(scope="session")
def e5() -> E5Embeddings:
    """One embeddings object for the session (the model is loaded once per process anyway)."""
    return E5Embeddings()


@pytest.fixture
def index(settings: Settings, e5: E5Embeddings) -> Iterator[NoteIndex]:
    """The embedded index under this test's BANKBOT_HOME (tests with SQL, both engines)."""
    opened = open_index(settings, config=local_config(), embeddings=e5)
    yield opened
    opened.close()


@pytest.fixture
def home_settings(tmp_path: Path) -> Settings:
    """Settings for index-only tests: a data folder, no database used."""
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")


@pytest.fixture
def bare_index(home_settings: Settings, e5: E5Embeddings) -> Iterator[NoteIndex]:
    """The embedded index alone, for tests that need no SQL (run once, not per engine)."""
    opened = open_index(home_settings, config=local_config(), embeddings=e5)
    yield opened
    opened.close()


def entry(note_id: str, customer_id: str, text: str, owner: str = "rm1") -> NoteEntry:
    """An index entry without SQL behind it."""
    return NoteEntry(note_id, customer_id, owner, "T1", "B2", owner, 20261128, text)


def ensure_queued(session: Session, note_id: str, action: str) -> None:
    """Queue a note change unless notes.py already did (it will, once it calls `enqueue`)."""
    queued = select(IndexOutbox.id).where(
        IndexOutbox.note_id == note_id,
        IndexOutbox.action == action,
        IndexOutbox.processed_at.is_(None),
    )
    if session.scalar(queued) is None:
        enqueue(session, note_id, action)


def record_notes(store: Store) -> list[str]:
    """The test bank plus NOTES, each recorded and queued for the index in its transaction."""
    build_world(store)
    ids = []
    with store.db.write() as session:
        for i, (customer_id, staff_id, text) in enumerate(NOTES):
            saved = record_note(
                session,
                staff_id=staff_id,
                customer_id=customer_id,
                content=text,
                occurred_at=NOW - timedelta(days=i),
                channel="console",
                source_message_id=None,
                next_followup_on=None,
            )
            ensure_queued(session, saved.interaction_id, "upsert")
            ids.append(saved.interaction_id)
    return ids


def chroma_bytes(folder: Path) -> bytes:
    """Every byte Chroma wrote under `folder`."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` on loopback, one per test module (it takes seconds to start);
    skipped only if the binary cannot start."""
    try:
        with running_chroma(tmp_path_factory.mktemp("chroma")) as url:
            yield url
    except ChromaNotStarted as exc:
        print(exc)
        pytest.skip(str(exc))
