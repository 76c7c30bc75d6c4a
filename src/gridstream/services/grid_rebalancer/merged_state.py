"""The rebalancer's keyed state across the partitions it owns, read through an index.

The rebalancer's inputs come keyed by series, so one region's waiting origins, buffered events
and forecasts sit in several partitions' views. Its join looks entries up by key and walks
them in key order within a group (``sch|{region}|``, ``ev|{region}|``,
``fcb|{region}|{series}|``, ``suspect|``). Scanning and sorting every key of every view for
each of those made a record's cost grow with the state (quadratic over a replay), so this
index keeps, per key, the partition holding it, and per group its keys in sorted order.

Every write goes through :class:`MergedState`, which keeps the index in step with the views.
A view the index has not seen (a partition assigned, or restored from its changelog after an
abort) makes it rebuild the index from the views, so it never disagrees with them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from typing import Any

from gridstream.bus.state import StateView

Entry = dict[str, Any]

#: how many ``|``-separated segments name a key's group (keys of other kinds are not grouped)
GROUP_DEPTH = {"sch": 2, "ev": 2, "fc": 2, "fcb": 3, "suspect": 1}


def group_of(key: str) -> str | None:
    """The group prefix of ``key`` (with its trailing ``|``), or None if not grouped."""
    kind, sep, _ = key.partition("|")
    depth = GROUP_DEPTH.get(kind)
    if depth is None or not sep:
        return None
    end = len(kind)  # the key up to its ``depth``-th ``|`` (found without splitting it)
    for _ in range(depth - 1):
        end = key.find("|", end + 1)
        if end < 0:
            return None
    return key[: end + 1]


class MergedState:
    """Lookups by key and sorted groups over the views of several partitions."""

    def __init__(self) -> None:
        self._views: dict[int, StateView[Entry]] = {}
        self._where: dict[str, list[int]] = {}  # key -> partitions holding it (one, normally)
        self._groups: dict[str, list[str]] = {}

    # ---- the views ------------------------------------------------------------------------
    @property
    def views(self) -> Mapping[int, StateView[Entry]]:
        return self._views

    def attach(self, view: StateView[Entry]) -> None:
        """Use ``view`` for its partition (a new object means a restore: reindex)."""
        if self._views.get(view.partition) is not view:
            self._views[view.partition] = view
            self._reindex()

    def attach_all(self, views: Mapping[int, StateView[Entry]]) -> None:
        """The runner's current views: reindex if any partition or object changed."""
        if set(views) != set(self._views) or any(self._views[p] is not v for p, v in views.items()):
            self._views = dict(views)
            self._reindex()

    def detach(self, partitions: list[int]) -> None:
        if any(p in self._views for p in partitions):
            for p in partitions:
                self._views.pop(p, None)
            self._reindex()

    def _reindex(self) -> None:
        self._where = {}
        self._groups = {}
        for p in sorted(self._views):
            for key in self._views[p].keys():  # noqa: SIM118 - a StateView, not a dict
                self._add(key, p)

    def _add(self, key: str, partition: int) -> None:
        holders = self._where.get(key)
        if holders is None:
            self._where[key] = [partition]
            group = group_of(key)
            if group is not None:
                bisect.insort(self._groups.setdefault(group, []), key)
        elif partition not in holders:
            holders.append(partition)
            holders.sort()

    def _remove(self, key: str, partition: int) -> None:
        holders = self._where.get(key)
        if holders is None or partition not in holders:
            return
        holders.remove(partition)
        if holders:
            return
        del self._where[key]
        group = group_of(key)
        if group is None:
            return
        keys = self._groups[group]
        i = bisect.bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            del keys[i]
        if not keys:
            del self._groups[group]

    # ---- reads ----------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        holders = self._where.get(key)
        if not holders:
            return None
        return self._views[holders[0]].get(key)

    def holder(self, key: str) -> StateView[Entry] | None:
        """The view holding ``key`` (the lowest partition if more than one)."""
        holders = self._where.get(key)
        return self._views[holders[0]] if holders else None

    def group(self, prefix: str) -> list[str]:
        """The keys of a group, sorted (a copy: callers may write while walking it)."""
        return list(self._groups.get(prefix, ()))

    def groups(self, kind: str) -> Iterator[str]:
        """The group prefixes of one kind of key (``sch`` -> ``sch|ALL|``, ...)."""
        head = f"{kind}|"
        return (g for g in sorted(self._groups) if g.startswith(head))

    def count(self, prefix: str) -> int:
        return len(self._groups.get(prefix, ()))

    def first(self, prefix: str) -> str | None:
        keys = self._groups.get(prefix)
        return keys[0] if keys else None

    def last(self, prefix: str) -> str | None:
        keys = self._groups.get(prefix)
        return keys[-1] if keys else None

    # ---- writes ---------------------------------------------------------------------------
    def put_in(self, view: StateView[Entry], key: str, value: Entry) -> None:
        """Write ``key`` into ``view`` (other partitions may hold their own copy)."""
        self.attach(view)
        view.put(key, value)
        self._add(key, view.partition)

    def put_one(self, view: StateView[Entry], key: str, value: Entry) -> None:
        """A key written by more than one partition lives in exactly one view."""
        self.attach(view)
        for p in list(self._where.get(key, ())):
            if p != view.partition:
                self._views[p].delete(key)
                self._remove(key, p)
        view.put(key, value)
        self._add(key, view.partition)

    def put_all(self, key: str, value: Entry) -> None:
        """Write ``key`` into every view (settings every partition must restore)."""
        for p, view in self._views.items():
            view.put(key, value)
            self._add(key, p)

    def drop(self, key: str) -> None:
        for p in list(self._where.get(key, ())):
            self._views[p].delete(key)
            self._remove(key, p)

    def set(self, view: StateView[Entry], key: str, value: Entry | None) -> None:
        """Write, or delete everywhere when ``value`` is None."""
        if value is None:
            self.drop(key)
        else:
            self.put_one(view, key, value)
