"""Comparing the output topics of a clean run and a faulty run, record by record.

Per topic, records are grouped by identity (see ``identity.py``). For one identity seen ``c``
times in the clean run and ``f`` times in the faulty run: ``max(0, c - f)`` records are
*lost*, ``max(0, f - c)`` are *duplicated* (for an identity the clean run never produced they
are *unexpected*), and of the pairs present in both, those whose normalised contents do not
match are *differing*.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

Records = list[tuple[str, bytes]]  # (identity, normalised content), in topic order
Explain = Callable[[bytes, bytes], str]  # what differs between two contents, in words


@dataclass
class TopicDiff:
    expected: int = 0
    actual: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    differing: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.differing)


def _group(records: Iterable[tuple[str, bytes]]) -> dict[str, list[bytes]]:
    groups: dict[str, list[bytes]] = defaultdict(list)
    for ident, content in records:
        groups[ident].append(content)
    return groups


def compare_topic(
    clean: Records, faulty: Records, explain: Explain | None = None, max_examples: int = 5
) -> TopicDiff:
    diff = TopicDiff(expected=len(clean), actual=len(faulty))
    want, got = _group(clean), _group(faulty)
    for ident in sorted(want.keys() | got.keys()):
        c, f = want.get(ident, []), got.get(ident, [])
        problem = ""
        if not c:
            diff.unexpected += len(f)
            problem = f"unexpected x{len(f)}"
        else:
            if len(c) > len(f):
                diff.lost += len(c) - len(f)
                problem = f"lost x{len(c) - len(f)}"
            elif len(f) > len(c):
                diff.duplicated += len(f) - len(c)
                problem = f"duplicated x{len(f) - len(c)}"
            matching = sum((Counter(c) & Counter(f)).values())
            differing = min(len(c), len(f)) - matching
            if differing:
                diff.differing += differing
                problem = problem or f"differing x{differing}"
                if explain is not None:
                    problem += ": " + explain(c[0], f[0])
        if problem and len(diff.examples) < max_examples:
            diff.examples.append(f"{ident}: {problem}")
    return diff


@dataclass
class Comparison:
    topics: dict[str, TopicDiff]

    def total(self, name: str) -> int:
        return sum(int(getattr(t, name)) for t in self.topics.values())

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.topics.values())

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "expected": self.total("expected"),
            "actual": self.total("actual"),
            "lost": self.total("lost"),
            "duplicated": self.total("duplicated"),
            "unexpected": self.total("unexpected"),
            "differing": self.total("differing"),
            "topics": {name: asdict(t) for name, t in sorted(self.topics.items())},
        }


def compare_runs(
    clean: Mapping[str, Records],
    faulty: Mapping[str, Records],
    explainers: Mapping[str, Explain] | None = None,
) -> Comparison:
    """Compare every topic either run produced (``explainers``: per topic, for examples)."""
    names = sorted(clean.keys() | faulty.keys())
    explain = explainers or {}
    return Comparison(
        {n: compare_topic(clean.get(n, []), faulty.get(n, []), explain.get(n)) for n in names}
    )
