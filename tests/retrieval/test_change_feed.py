"""A vector cache on a Chroma server follows the index change log written by every process.

"Another process" here is a second Chroma client writing straight into the collection and
logging in SQL what it wrote, as a NoteIndex in another process does; a raw write keeps it
out of this process's own cache, so only the change log can carry it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from crm_store.models import IndexChange
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from retrieval.change_feed import ChangeFeed
from retrieval.config import IndexSettings
from retrieval.connect import open_index, server_client
from retrieval.embeddings import E5Embeddings
from retrieval.entries import NoteEntry
from retrieval.index import COLLECTION, NoteIndex
from tests.retrieval.conftest import entry

SCOPE = ["c1", "c3"]
FIRST = [
    entry("n1", "c1", "张伟想了解基金定投，关注沪深300指数基金"),
    entry("n2", "c3", "王芳的大额存单12月到期，打算续存三年期"),
]


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.close()


@pytest.fixture
def served(chroma_server: str, store: Store, e5: E5Embeddings) -> Iterator[tuple[NoteIndex, str]]:
    """This process's index on the server, with a change feed that looks on every search."""
    config = IndexSettings(_env_file=None, CHROMA_URL=chroma_server)  # type: ignore[call-arg]
    index = open_index(store.settings, config=config, embeddings=e5, db=store.db)
    assert index.feed is not None and index.use_cache
    index.feed.fresh_for = 0.0
    index.reset()  # the server is shared by this module's tests
    index.upsert(FIRST)
    yield index, chroma_server
    index.close()


def elsewhere_write(url: str, e5: E5Embeddings, notes: list[NoteEntry]) -> None:
    """Another process's write: straight into Chroma, with this process's cache unaware."""
    collection = server_client(url).get_collection(COLLECTION)
    vectors = e5.passages([n.document() for n in notes])
    collection.upsert(
        ids=[n.note_id for n in notes],
        embeddings=vectors,  # type: ignore[arg-type]
        documents=[n.document() for n in notes],
        metadatas=[n.metadata() for n in notes],  # type: ignore[arg-type]
    )


def found(index: NoteIndex, query: str) -> list[str]:
    return [h.note_id for h in index.search(query, customer_ids=SCOPE, k=3)]


def test_every_write_of_a_served_index_is_logged(
    served: tuple[NoteIndex, str], store: Store
) -> None:
    index, _ = served
    index.delete(["n2"])
    with store.db.read() as session:
        logged = [n for _, n in _log(session)]
    assert logged == [None, "n1", "n2", "n2"]  # the reset, the two notes, the removal


def test_a_note_written_elsewhere_is_searchable_once_logged(
    served: tuple[NoteIndex, str], store: Store, e5: E5Embeddings
) -> None:
    index, url = served
    assert found(index, "基金定投")[0] == "n1"  # the cache is loaded now
    gold = entry("n3", "c1", "张伟想买黄金积存产品，问了手续费")
    elsewhere_write(url, e5, [gold])
    assert "n3" not in found(index, "黄金积存手续费")  # searches read the cache, not Chroma
    ChangeFeed(store.db).wrote(["n3"])
    assert found(index, "黄金积存手续费")[0] == "n3"


def test_a_removal_and_a_moved_customer_elsewhere_reach_the_cache(
    served: tuple[NoteIndex, str], store: Store, e5: E5Embeddings
) -> None:
    index, url = served
    assert "n2" in found(index, "大额存单到期续存")
    collection = server_client(url).get_collection(COLLECTION)
    collection.delete(ids=["n2"])
    moved = entry("n1", "c9", "张伟想了解基金定投，关注沪深300指数基金")  # out of SCOPE now
    elsewhere_write(url, e5, [moved])
    ChangeFeed(store.db).wrote(["n2", "n1"])
    assert found(index, "大额存单到期续存") == []
    assert index.search("基金定投", customer_ids=["c9"], k=3)[0].note_id == "n1"


def test_a_rebuild_elsewhere_replaces_the_cache(
    served: tuple[NoteIndex, str], store: Store, e5: E5Embeddings
) -> None:
    index, url = served
    assert found(index, "基金定投")[0] == "n1"
    client = server_client(url)
    client.delete_collection(COLLECTION)
    client.create_collection(COLLECTION, metadata=index.collection.metadata)
    elsewhere_write(url, e5, [entry("n7", "c3", "王芳咨询美元理财产品，风险偏好稳健")])
    ChangeFeed(store.db).rebuilt()
    assert found(index, "基金定投") == ["n7"]  # the only note left, from the new collection


class Recorder:
    """A follower that only notes what it was asked to refresh."""

    def __init__(self) -> None:
        self.refreshed: list[str] = []
        self.rebuilds = 0

    def refresh_cached(self, note_ids: list[str]) -> None:
        self.refreshed.extend(note_ids)

    def follow_rebuild(self) -> None:
        self.rebuilds += 1


def _log(session: object) -> list[tuple[int, str | None]]:
    from crm_store.index_changes import changes_after

    return changes_after(session, 0, 100)  # type: ignore[arg-type]


def _put(store: Store, *rows: tuple[int, str]) -> None:
    from datetime import UTC, datetime

    at = datetime.now(UTC)
    with store.db.write() as session:
        session.execute(
            insert(IndexChange), [{"id": i, "note_id": n, "created_at": at} for i, n in rows]
        )


def test_an_id_committed_late_is_applied_and_a_rolled_back_one_is_skipped(store: Store) -> None:
    feed = ChangeFeed(store.db, fresh_for=0.0, gap_wait=3600.0)
    follower = Recorder()
    feed.loading()  # empty log: everything above id 0 is news
    _put(store, (1, "a"), (2, "b"), (4, "d"))  # 3 was given to a transaction still open
    assert feed.follow(follower) == 3 and follower.refreshed == ["a", "b", "d"]
    _put(store, (3, "c"))  # ... which commits now
    assert feed.follow(follower) == 1 and follower.refreshed[-1] == "c"
    _put(store, (6, "f"))  # 5 never commits (rolled back)
    feed.follow(follower)
    feed.gap_wait = 0.0
    feed.follow(follower)  # the gap is old: skipped, so 6 is the new floor
    _put(store, (7, "g"))
    assert feed.follow(follower) == 1 and follower.refreshed[-2:] == ["f", "g"]
    assert follower.rebuilds == 0
