"""No two modules of ``gridstream`` import each other, directly or through others."""

from __future__ import annotations

from pathlib import Path

from .import_graph import cycles, import_graph

SRC = Path(__file__).resolve().parents[3] / "src"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_gridstream_has_no_import_cycle() -> None:
    graph = import_graph(SRC, "gridstream")
    assert len(graph) > 200, "the walk should see every module of the package"
    assert cycles(graph) == []


def test_a_cycle_through_three_modules_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def f() -> None:\n    from pkg.c import g\n",
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
            "pkg/d.py": "from pkg.a import x\n",
        },
    )
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_relative_imports_resolve_against_their_package(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from . import api\n",
            "pkg/sub/api.py": "from .service import thing\n",
            "pkg/sub/service.py": "from ..sub import api\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.api"] == {"pkg.sub.service"}
    assert cycles(graph) == [["pkg.sub", "pkg.sub.api", "pkg.sub.service"]]
