"""SQLite writers of one process take turns; storing callbacks goes before answers' writes."""

from __future__ import annotations

import threading
import time

from crm_store.db import WriterQueue


def test_an_urgent_writer_goes_before_ordinary_writers_already_waiting() -> None:
    queue, order = WriterQueue(), []
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with queue.hold():
            holding.set()
            release.wait(5)

    def writer(name: str, urgent: bool) -> None:
        with queue.hold(urgent=urgent):
            order.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    holding.wait(5)
    for name, urgent in [("answer-1", False), ("answer-2", False), ("callbacks", True)]:
        thread = threading.Thread(target=writer, args=(name, urgent))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # each is waiting before the next comes
    release.set()
    for thread in threads:
        thread.join(5)
    assert order[0] == "callbacks"
    assert sorted(order[1:]) == ["answer-1", "answer-2"]


def test_a_thread_holding_the_turn_may_take_it_again() -> None:
    queue = WriterQueue()
    with queue.hold(), queue.hold(urgent=True), queue.hold():
        pass
    done = threading.Event()

    def other() -> None:
        with queue.hold():
            done.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert done.is_set()  # released fully after the nested holds
