"""Generate docs/contracts.md from proto/gridstream/v1/*.proto and the topic registry.

Usage: python tools/gen_contracts_doc.py [--check] [--proto-dir DIR] [--output FILE]

Every field's meaning comes from its comment in the .proto file; a field without one is an
error, so the page cannot silently go incomplete. A unit is written in the comment as a
trailing ``[unit]``; without one it follows from the field name (``*_ms`` times, ``*_mw``...).
``--check`` exits 1 when the page on disk is not what the sources produce (used by the tests).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUTPUT = ROOT / "docs" / "contracts.md"

# Kafka key of each logical topic (see gridstream.bus.topics for names and message types).
SERIES_KEY = "series id `{region}/{field}`, e.g. `ALL/SYSTEM_DEMAND`"
TOPIC_KEYS: dict[str, str] = {
    "raw": SERIES_KEY,
    "preprocessed": SERIES_KEY,
    "ml_ready": SERIES_KEY,
    "model_updates": SERIES_KEY,
    "forecasts": SERIES_KEY,
    "anomalies": SERIES_KEY,
    "alerts": SERIES_KEY,
    "storage": "region, e.g. `ALL`",
    "rebalance": "region, e.g. `ALL`",
    "dead_letter": "the rejected record's original key",
    "system_events": "name of the emitting service",
    "alert_commands": "command id (one copy per partition, each sent to its partition)",
}

_SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "sint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: "sint32",
}
_EPOCH = "ms since epoch, UTC"
_UNIT_SUFFIXES = (("_mwh", "MWh"), ("_mw", "MW"), ("_minutes", "min"))
_TIME_NAMES = re.compile(r"(^ts_ms$|_at_ms$|_time_ms$|_from_ms$|_until_ms$)")
_UNIT_TAG = re.compile(r"\s*\[([^\]]+)\]\s*$")


class UndocumentedError(Exception):
    """A message, enum or field has no comment in its .proto file."""


@dataclass(frozen=True)
class Comments:
    by_path: dict[tuple[int, ...], str]

    def get(self, path: tuple[int, ...]) -> str:
        return self.by_path.get(path, "")


def load_descriptors(proto_dir: Path) -> descriptor_pb2.FileDescriptorSet:
    """Compile the .proto files (with their comments) using grpc_tools' bundled protoc."""
    from grpc_tools import protoc  # dev dependency, only needed when generating

    protos = sorted(str(p.relative_to(proto_dir)) for p in proto_dir.glob("gridstream/v1/*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {proto_dir}/gridstream/v1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "contracts.pb"
        include = Path(protoc.__file__).parent / "_proto"
        args = ["protoc", f"-I{proto_dir}", f"-I{include}", "--include_source_info"]
        if protoc.main([*args, f"--descriptor_set_out={out}", *protos]) != 0:
            raise SystemExit("protoc failed: see the messages above")
        files = descriptor_pb2.FileDescriptorSet()
        files.ParseFromString(out.read_bytes())
    return files


def _comments(file: descriptor_pb2.FileDescriptorProto) -> Comments:
    found: dict[tuple[int, ...], str] = {}
    for loc in file.source_code_info.location:
        text = f"{loc.leading_comments} {loc.trailing_comments}"
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            found[tuple(loc.path)] = text
    return Comments(found)


def split_unit(field_name: str, comment: str) -> tuple[str, str]:
    """(meaning, unit): an explicit trailing ``[unit]`` wins over the name-based rules."""
    tag = _UNIT_TAG.search(comment)
    if tag:
        return comment[: tag.start()].rstrip(), tag.group(1)
    if field_name.endswith("_ms"):
        return comment, _EPOCH if _TIME_NAMES.search(field_name) else "ms"
    for suffix, unit in _UNIT_SUFFIXES:
        if field_name.endswith(suffix):
            return comment, unit
    return comment, ""


def _type_name(
    field: descriptor_pb2.FieldDescriptorProto, maps: dict[str, descriptor_pb2.DescriptorProto]
) -> str:
    if field.type_name:
        name = field.type_name.lstrip(".")
        entry = maps.get(name)
        if entry is not None:
            key, value = entry.field
            return (
                f"`map<{_type_name(key, maps).strip('`')}, {_type_name(value, maps).strip('`')}>`"
            )
        link = f"[{name.split('.')[-1]}](#{_anchor(name)})"
        repeated = field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
        return f"repeated {link}" if repeated else link
    scalar = f"`{_SCALARS[field.type]}`"
    repeated = field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
    return f"repeated {scalar}" if repeated else scalar


def _anchor(full_name: str) -> str:
    return full_name.lower().replace(".", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def _topic_section() -> list[str]:
    from gridstream.bus.topics import MESSAGE_TYPES, TopicNames

    names = TopicNames().all()
    missing = sorted(set(names) - set(TOPIC_KEYS))
    if missing:
        raise UndocumentedError(f"TOPIC_KEYS has no key description for topics {missing}")
    lines = [
        "## Topics",
        "",
        "| topic (default name) | setting to rename it | Kafka key | message |",
        "|---|---|---|---|",
    ]
    for logical, name in names.items():
        message = MESSAGE_TYPES[logical]
        setting = f"`GRIDSTREAM_TOPICS__{logical.upper()}`"
        link = f"[{message}](#{_anchor(message)})"
        lines.append(f"| `{name}` | {setting} | {TOPIC_KEYS[logical]} | {link} |")
    return [*lines, ""]


def _message_section(
    file: descriptor_pb2.FileDescriptorProto,
    comments: Comments,
    maps: dict[str, descriptor_pb2.DescriptorProto],
) -> list[str]:
    lines: list[str] = []
    undocumented: list[str] = []
    for i, message in enumerate(file.message_type):
        full = f"{file.package}.{message.name}"
        about = comments.get((4, i))
        if not about:
            undocumented.append(full)
        lines += [f"### {full}", "", f"*{file.name}* — {about}", ""]
        lines += ["| # | field | type | unit | meaning |", "|---|---|---|---|---|"]
        for j, field in enumerate(message.field):
            comment = comments.get((4, i, 2, j))
            if not comment:
                undocumented.append(f"{full}.{field.name}")
            meaning, unit = split_unit(field.name, comment)
            row = (field.number, f"`{field.name}`", _type_name(field, maps), unit, meaning)
            lines.append("| " + " | ".join(_cell(str(c)) for c in row) + " |")
        lines.append("")
    if undocumented:
        raise UndocumentedError(
            f"{file.name}: add a comment (meaning, and [unit] if any) to " + ", ".join(undocumented)
        )
    return lines


def _enum_section(file: descriptor_pb2.FileDescriptorProto, comments: Comments) -> list[str]:
    lines: list[str] = []
    for i, enum in enumerate(file.enum_type):
        full = f"{file.package}.{enum.name}"
        lines += [f"### {full}", "", f"*{file.name}* — {comments.get((5, i)) or '—'}", ""]
        lines += ["| value | number | meaning |", "|---|---|---|"]
        for j, value in enumerate(enum.value):
            meaning = comments.get((5, i, 2, j)) or ("not set" if value.number == 0 else "")
            if not meaning:
                raise UndocumentedError(f"{file.name}: add a comment to {value.name}")
            lines.append(f"| `{value.name}` | {value.number} | {_cell(meaning)} |")
        lines.append("")
    return lines


def render(proto_dir: Path = PROTO_DIR) -> str:
    """The whole page, from the .proto files and the topic registry."""
    files = sorted(load_descriptors(proto_dir).file, key=lambda f: f.name)
    maps: dict[str, descriptor_pb2.DescriptorProto] = {}
    for file in files:
        for message in file.message_type:
            for nested in message.nested_type:
                if nested.options.map_entry:
                    maps[f"{file.package}.{message.name}.{nested.name}"] = nested
    lines = [
        "# GridStream message contracts",
        "",
        "<!-- Generated by tools/gen_contracts_doc.py from proto/gridstream/v1/*.proto and",
        "     gridstream.bus.topics. Do not edit by hand: run `make contracts`. -->",
        "",
        "Every record on the bus is one protobuf message (proto3, package `gridstream.v1`).",
        "Its headers say what it is, so any language can decode it (see `interop/java/`):",
        "",
        "| header | value |",
        "|---|---|",
        "| `gs-type` | full name of the message type, e.g. `gridstream.v1.Forecast` |",
        "| `gs-schema` | contract version, currently `1` |",
        "",
        "Records on `dead_letter` also carry `gs-dlq-service`, `gs-dlq-reason` and",
        "`gs-dlq-source` (`topic/partition/offset` of the rejected record).",
        "Times are epoch milliseconds in UTC; `int64` values appear as strings in proto3 JSON.",
        "",
        *_topic_section(),
        "## Messages",
        "",
    ]
    for file in files:
        lines += _message_section(file, _comments(file), maps)
    lines += ["## Enums", ""]
    for file in files:
        lines += _enum_section(file, _comments(file))
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is out of date")
    parser.add_argument("--proto-dir", type=Path, default=PROTO_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        text = render(args.proto_dir)
    except UndocumentedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `make contracts`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
