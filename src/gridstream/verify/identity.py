"""What makes two output records "the same record", and which fields may legitimately differ.

Each output message is reduced to ``(identity, content)``: the identity names the record
(``record_id``, ``forecast_id``, ``schedule_id``, ``fingerprint`` + state ...) and the content
is its deterministic protobuf encoding after clearing the fields listed in
:data:`NONDETERMINISTIC`. Those are the only fields allowed to differ between two runs over
the same input:

- ``RawReading.ingested_at_ms`` — the wall-clock moment the ingestor read the row.
- ``DeadLetter.failed_at_ms`` — the wall-clock moment of rejection; ``source_offset`` and
  ``source_partition`` — offsets of the same record differ between runs because aborted
  transactions (after a kill) and commit markers take offsets too; the record itself is
  compared through its key, value, topic and reason.
- ``StorageSchedule.solve_ms`` — the solver's wall time.
- ``ModelUpdate.trained_at_ms`` — when a training finished; ``uri`` — where the run's own
  model registry keeps the version (each run has its own state directory); the version id
  itself is derived from the training data and settings, so it must match.
- ``Alert.updated_at_ms`` and ``RebalanceAction.changed_at_ms`` / ``created_at_ms`` — stamps of
  wall-clock-driven state changes (these services are timer driven, see ``pipeline.py``).

Everything else is a function of the input records and their per-key order, which Kafka keeps
per partition, so a correct exactly-once pipeline reproduces it bit for bit.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType

from google.protobuf.message import Message

from gridstream import schemas
from gridstream.schemas import dead_letter_pb2

NONDETERMINISTIC: dict[str, tuple[str, ...]] = {
    "gridstream.v1.RawReading": ("ingested_at_ms",),
    "gridstream.v1.DeadLetter": ("failed_at_ms", "source_offset", "source_partition"),
    "gridstream.v1.StorageSchedule": ("solve_ms",),
    "gridstream.v1.ModelUpdate": ("trained_at_ms", "uri"),
    "gridstream.v1.Alert": ("updated_at_ms",),
    "gridstream.v1.RebalanceAction": ("changed_at_ms", "created_at_ms"),
}


def _schema_modules() -> Iterator[ModuleType]:
    """Every generated ``*_pb2`` module of :mod:`gridstream.schemas`."""
    for info in pkgutil.iter_modules(schemas.__path__):
        if info.name.endswith("_pb2"):
            yield importlib.import_module(f"{schemas.__name__}.{info.name}")


def message_class(full_name: str) -> type[Message]:
    """The generated class of a protobuf full name such as ``gridstream.v1.Forecast``."""
    for module in _schema_modules():
        for name in module.DESCRIPTOR.message_types_by_name:
            cls: type[Message] = getattr(module, name)
            if cls.DESCRIPTOR.full_name == full_name:
                return cls
    raise KeyError(full_name)


def _dead_letter_id(m: Message) -> str:
    assert isinstance(m, dead_letter_pb2.DeadLetter)
    digest = hashlib.sha256(m.original_value).hexdigest()[:16]
    return f"{m.service}:{m.original_key.decode(errors='replace')}:{digest}"


_IDENTITY: dict[str, Callable[[Message], str]] = {
    "gridstream.v1.RawReading": lambda m: str(m.record_id),  # type: ignore[attr-defined]
    "gridstream.v1.CleanReading": lambda m: str(m.record_id),  # type: ignore[attr-defined]
    "gridstream.v1.FeatureVector": lambda m: f"{m.series_id}@{m.ts_ms}",  # type: ignore[attr-defined]
    "gridstream.v1.Forecast": lambda m: str(m.forecast_id),  # type: ignore[attr-defined]
    "gridstream.v1.Anomaly": lambda m: str(m.record_id),  # type: ignore[attr-defined]
    "gridstream.v1.StorageSchedule": lambda m: str(m.schedule_id),  # type: ignore[attr-defined]
    "gridstream.v1.SystemEvent": lambda m: str(m.event_id),  # type: ignore[attr-defined]
    "gridstream.v1.Alert": lambda m: f"{m.fingerprint}:{m.state}:{m.starts_at_ms}",  # type: ignore[attr-defined]
    "gridstream.v1.RebalanceAction": lambda m: f"{m.action_id}:{m.approval}",  # type: ignore[attr-defined]
    "gridstream.v1.ModelUpdate": lambda m: f"{m.series_id}@{m.train_until_ms}",  # type: ignore[attr-defined]
    "gridstream.v1.DeadLetter": _dead_letter_id,
}


def identify(message: Message, topic_prefix: str = "") -> tuple[str, bytes]:
    """``(identity, normalised content)`` of one output record; ``topic_prefix`` (the run's
    topic-name prefix) is removed from topic names inside records (dead letters)."""
    full_name = message.DESCRIPTOR.full_name
    clean = type(message)()
    clean.CopyFrom(message)
    for name in NONDETERMINISTIC.get(full_name, ()):
        clean.ClearField(name)
    if isinstance(clean, dead_letter_pb2.DeadLetter):
        clean.source_topic = clean.source_topic.removeprefix(topic_prefix)
    content = clean.SerializeToString(deterministic=True)
    ident = _IDENTITY.get(full_name)
    key = ident(message) if ident else hashlib.sha256(content).hexdigest()
    return key, content


def explainer(message_type: type[Message]) -> Callable[[bytes, bytes], str]:
    """Names the fields in which two normalised contents of ``message_type`` differ."""
    from google.protobuf.json_format import MessageToDict

    def explain(a: bytes, b: bytes) -> str:
        da = _flat(MessageToDict(message_type.FromString(a)))
        db = _flat(MessageToDict(message_type.FromString(b)))
        keys = sorted(k for k in da.keys() | db.keys() if da.get(k) != db.get(k))
        shown = [f"{k}={da.get(k)!r}->{db.get(k)!r}" for k in keys[:4]]
        more = f" (+{len(keys) - 4} more)" if len(keys) > 4 else ""
        return ", ".join(shown) + more

    return explain


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def topic_explainers() -> dict[str, Callable[[bytes, bytes], str]]:
    """An explainer per logical topic name."""
    from gridstream.bus.topics import MESSAGE_TYPES

    return {topic: explainer(message_class(name)) for topic, name in MESSAGE_TYPES.items()}
