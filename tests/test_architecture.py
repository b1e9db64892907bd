"""ARCHITECTURE.md's floors, held by the code: every module of the library sits on one floor
of its table, imports (at the top or inside a function) nothing from a floor above it, and
no two modules import each other, except the pair the document calls one unit. The
subcommands in ``emojax/commands/`` count as one module of the front door; a library module's
``if __name__ == "__main__":`` block (``python -m emojax.live``) is an entry point, not an import
of the module, so it may hand over to them."""
from __future__ import annotations

import ast
import re

from conftest import REPO

PACKAGE = REPO / "emojax"
ONE_UNIT = {frozenset({"train", "engine"})}  # the host loop and the device-resident epoch


def floors() -> dict[str, int]:
    """Module name -> floor, 0 for the top row of ARCHITECTURE.md's table."""
    rows = [line for line in (REPO / "ARCHITECTURE.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| floor")]
    out: dict[str, int] = {}
    for level, row in enumerate(rows):
        modules = row.split("|")[2]
        for name in re.findall(r"`(?:emojax/)?(\w+)\.py`|`emojax/(\w+)/`", modules):
            out.setdefault(name[0] or name[1], level)
    return out


def imports(path) -> set[str]:
    """The emojax modules a file imports, wherever in the file."""
    found = set()
    tree = ast.parse(path.read_text())
    tree.body = [n for n in tree.body if not (isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "emojax":
            parts = node.module.split(".")
            found |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("emojax.")}
    return found


def test_every_module_has_a_floor_and_imports_only_down_or_across():
    level = floors()
    modules = {p.stem: imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    modules["commands"] = set().union(*map(imports, (PACKAGE / "commands").glob("*.py"))) - {"commands"}
    assert sorted(set(modules) - set(level)) == [], "modules missing from ARCHITECTURE.md's table"
    assert sorted(set(level) - set(modules)) == [], "ARCHITECTURE.md names modules that do not exist"
    upward = [f"{m} (floor {level[m]}) imports {d} (floor {level[d]})"
              for m, deps in modules.items() for d in deps if d in level and level[d] < level[m]]
    assert upward == []
    circles = {frozenset({m, d}) for m, deps in modules.items() for d in deps
               if d != m and m in modules.get(d, ())}
    assert circles <= ONE_UNIT, sorted(map(sorted, circles - ONE_UNIT))


def test_flags_and_printing_stay_at_the_front_door():
    """argparse and ``print`` belong to ``cli.py``, ``commands/`` and ``experiments/``; below them
    the library takes plain arguments and reports through the ``emojax`` logger. ``io`` holds
    what those share: the flag types (``positive_int``...) and the ``error:`` line."""
    level = floors()
    nodes = [(p.stem, node) for p in PACKAGE.glob("*.py") if level.get(p.stem, 0) > 0 and p.stem != "io"
             for node in ast.walk(ast.parse(p.read_text()))]
    parsing = sorted({m for m, n in nodes if isinstance(n, ast.Import) and "argparse" in (a.name for a in n.names)
                      or isinstance(n, ast.ImportFrom) and n.module == "argparse"})
    assert parsing == []
    printing = [f"{m}.py:{n.lineno}" for m, n in nodes
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert printing == []
