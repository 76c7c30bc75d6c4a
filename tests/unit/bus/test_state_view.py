"""What a state view writes to its changelog: every change once, and no tombstone for a key
the changelog never held."""

from __future__ import annotations

from gridstream.bus.state import StateView


def test_a_key_put_and_deleted_between_flushes_writes_nothing() -> None:
    view: StateView[int] = StateView(0)
    view.put("buffered", 1)
    view.put("kept", 2)
    view.delete("buffered")
    view.delete("never-there")
    assert view.take_dirty() == [("kept", 2)]
    assert view.take_dirty() == []


def test_a_written_or_restored_key_gets_its_tombstone() -> None:
    view: StateView[int] = StateView(0)
    view.load("restored", 5)
    view.load("gone", 6)
    view.load("gone", None)  # deleted before the crash: nothing left to delete
    view.put("written", 1)
    assert view.take_dirty() == [("written", 1)]
    view.delete("written")
    view.delete("restored")
    view.delete("gone")
    assert view.take_dirty() == [("restored", None), ("written", None)]
    view.put("written", 3)  # written again after its tombstone: a value, then a tombstone
    assert view.take_dirty() == [("written", 3)]
    view.delete("written")
    assert view.take_dirty() == [("written", None)]
