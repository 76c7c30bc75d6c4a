"""The rebalancer's state index agrees with a full scan of the views after any writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gridstream.bus.state import StateView
from gridstream.services.grid_rebalancer.merged_state import MergedState, group_of

KEYS = [
    *(f"sch|{r}|{t:015d}" for r in ("ALL", "NI") for t in range(4)),
    *(f"ev|ALL|{t:015d}|an|ALL/SYSTEM_DEMAND" for t in range(3)),
    *(f"fcb|ALL|{s}|{t:015d}" for s in ("demand", "snsp") for t in range(3)),
    "fc|ALL|demand",
    "suspect|a",
    "suspect|b",
    "last|ALL",
    "clock",
]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["put_in", "put_one", "drop", "set_none", "restore", "put_all"]),
        st.integers(0, 2),
        st.sampled_from(KEYS),
        st.integers(0, 9),
    ),
    max_size=60,
)


def scan(
    views: dict[int, StateView[dict[str, int]]],
) -> tuple[dict[str, int], dict[str, list[str]]]:
    values: dict[str, int] = {}
    groups: dict[str, set[str]] = {}
    for p in sorted(views):
        for key in views[p].keys():  # noqa: SIM118
            value = views[p].get(key)
            assert value is not None
            values.setdefault(key, value["v"])
            group = group_of(key)
            if group is not None:
                groups.setdefault(group, set()).add(key)
    return values, {g: sorted(k) for g, k in groups.items()}


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_index_matches_a_full_scan(ops: list[tuple[str, int, str, int]]) -> None:
    views: dict[int, StateView[dict[str, int]]] = {p: StateView(p) for p in range(3)}
    merged = MergedState()
    merged.attach_all(views)
    for op, p, key, v in ops:
        if op == "put_in":
            merged.put_in(views[p], key, {"v": v})
        elif op == "put_one":
            merged.put_one(views[p], key, {"v": v})
        elif op == "drop":
            merged.drop(key)
        elif op == "set_none":
            merged.set(views[p], key, None)
        elif op == "put_all":
            merged.put_all(key, {"v": v})
        else:  # a restore: a new view object with the same contents, as the runner makes
            fresh: StateView[dict[str, int]] = StateView(p)
            for k in list(views[p].keys()):
                value = views[p].get(k)
                fresh.load(k, value)
            views[p] = fresh
            merged.attach(fresh)
        values, groups = scan(views)
        for k in KEYS:
            got = merged.get(k)
            assert (got["v"] if got else None) == values.get(k)
        for g, keys in groups.items():
            assert merged.group(g) == keys
            assert merged.first(g) == keys[0] and merged.last(g) == keys[-1]
        assert sorted(
            g for kind in ("sch", "ev", "fcb", "fc", "suspect") for g in merged.groups(kind)
        ) == sorted(groups)


def test_put_one_keeps_a_key_in_a_single_view() -> None:
    views = {p: StateView[dict[str, int]](p) for p in range(2)}
    merged = MergedState()
    merged.attach_all(views)
    merged.put_in(views[0], "last|ALL", {"v": 1})
    merged.put_in(views[1], "last|ALL", {"v": 2})
    merged.put_one(views[1], "last|ALL", {"v": 3})
    assert views[0].get("last|ALL") is None
    assert merged.get("last|ALL") == {"v": 3}
    assert group_of("fcb|ALL|demand|000000000000001") == "fcb|ALL|demand|"
    assert group_of("plan|ALL") is None
