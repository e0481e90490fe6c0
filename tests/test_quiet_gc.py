"""Full garbage collections wait for a quiet intake, and happen at least every AT_MOST."""

from __future__ import annotations

import gc
from pathlib import Path

from bot.intake_mark import IntakeMark
from bot.quiet_gc import AT_MOST, FULL_EVERY, NEVER, QUIET_FOR, QuietCollector


def test_a_full_collection_waits_for_quiet_but_never_for_ever(tmp_path: Path) -> None:
    collector = QuietCollector(IntakeMark(tmp_path))
    start = collector._last_full
    assert not collector.due(start + FULL_EVERY / 2, quiet_for=3600)  # too soon
    assert not collector.due(start + FULL_EVERY, quiet_for=QUIET_FOR / 10)  # a burst
    assert collector.due(start + FULL_EVERY, quiet_for=QUIET_FOR)  # quiet
    assert collector.due(start + AT_MOST, quiet_for=0)  # never quiet: at the cap


def test_the_collectors_own_full_collections_are_off_while_it_runs(tmp_path: Path) -> None:
    before = gc.get_threshold()
    collector = QuietCollector(IntakeMark(tmp_path))
    collector.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
    finally:
        collector.stop()
    assert gc.get_threshold() == before
