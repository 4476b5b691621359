"""The code's layering and table ownership, checked by reading the source (no import needed).

Layers, bottom to top: indexer (with the shared infrastructure: errors, clock, text validation, the
store) < analytics < contrib < kbserver. A module may import its own package and the packages below it,
never one above (upward) or beside it (sideways). Imports inside functions count too: a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["indexer", "analytics", "contrib", "kbserver"]


@functools.cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), str(path))


def modules() -> dict[str, Path]:
    """Every module of our packages, by dotted name."""
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_packages(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in the module, relative imports resolved."""
    tree = _parse(path)
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.append((node.lineno, target.split(".")[0]))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module" or getattr(node.func, "id", None)
                   in ("import_module", "__import__"))):  # importlib.import_module("kbserver.db") is an import too
            out.append((node.lineno, node.args[0].value.split(".")[0]))
    return out


def layer_violations() -> list[str]:
    """Every import of a package above or beside the importing module's package."""
    bad = []
    for name, path in modules().items():
        own = LAYERS.index(name.split(".")[0])
        for line, package in imported_packages(name, path):
            if package in LAYERS and LAYERS.index(package) > own:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {package} (a layer above {LAYERS[own]})")
    return bad


def test_imports_only_go_down_the_layers():
    assert layer_violations() == []


def test_the_layer_check_sees_relative_lazy_and_upward_imports(tmp_path):
    source = ("def f():\n    from kbserver.db import open_db\n    from . import events\n"
              "    return importlib.import_module(\"contrib.queue\")\n")
    path = tmp_path / "x.py"
    path.write_text(source)
    assert imported_packages("analytics.x", path) == [(2, "kbserver"), (3, "analytics"), (4, "contrib")]


# -- table ownership ----------------------------------------------------------------------
# SQL keywords in any case: "select … from events" names the table as much as "FROM events" does.
_CREATES = re.compile(r"CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"`]?(\w+)", re.IGNORECASE)
_NAMES = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|REFERENCES)\s+[\"`]?(\w+)", re.IGNORECASE)


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal except docstrings (which describe, not query)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def _is_db(holder: ast.AST) -> bool:
    label = holder.id if isinstance(holder, ast.Name) else getattr(holder, "attr", "")
    return label == "db" or label.endswith("_db")


def _db_tables(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """(line, table, creates) of every db["name"] or db.table("name") (sqlite-utils table access) on something
    called *db*."""
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str) and _is_db(node.value)):
            out.append((node.lineno, node.slice.value, False))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "table"
                and _is_db(node.func.value) and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value, False))
    for node in ast.walk(tree):  # db["name"].create(...) declares the table
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "create"
                and isinstance(node.func.value, ast.Subscript) and isinstance(node.func.value.slice, ast.Constant)):
            out.append((node.lineno, node.func.value.slice.value, True))
    return out


def table_owners() -> dict[str, str]:
    """Each table and the one module that creates it (CREATE TABLE or db["name"].create)."""
    owners: dict[str, set[str]] = {}
    for name, path in modules().items():
        tree = _parse(path)
        for _, text in _strings(tree):
            for table in _CREATES.findall(text):
                owners.setdefault(table, set()).add(name)
        for _, table, creates in _db_tables(tree):
            if creates:
                owners.setdefault(table, set()).add(name)
    shared = {table: sorted(names) for table, names in owners.items() if len(names) > 1}
    assert not shared, f"a table is created by more than one module: {shared}"
    return {table: names.pop() for table, names in owners.items()}


def ownership_violations() -> list[str]:
    """Every SQL string or db["name"] that names a table outside the module owning it."""
    owners = table_owners()
    bad = []
    for name, path in modules().items():
        tree = _parse(path)
        named = [(line, table) for line, text in _strings(tree) for table in _NAMES.findall(text)]
        named += [(line, table) for line, table, _ in _db_tables(tree)]
        for line, table in named:
            if table in owners and owners[table] != name:
                bad.append(f"{path.relative_to(ROOT)}:{line} names table {table} (owned by {owners[table]})")
    return sorted(set(bad))


def test_every_table_is_named_only_by_its_owner_module():
    assert ownership_violations() == []


def test_the_ownership_check_sees_sql_in_any_case_in_f_strings_and_table_calls(tmp_path):
    """A foreign table named in lower-case SQL, in an f-string's text, or through db.table() is still named."""
    source = ('def f(db, n):\n    db.execute(f"select count(*) from submissions where n > {n}")\n'
              '    db.execute("insert into users (id) values (?)", [n])\n    return db.table("votes").count\n')
    tree = ast.parse(source)
    named = sorted({(line, table) for line, text in _strings(tree) for table in _NAMES.findall(text)}
                   | {(line, table) for line, table, _ in _db_tables(tree)})
    assert named == [(2, "submissions"), (3, "users"), (4, "votes")]


def test_only_the_server_decides_who_may_act():
    """Authorization is kbserver's (policy.py, and the route gates in auth.py): the library below raises
    no Forbidden, so its functions take plain arguments and need no invented "system manager"."""
    raising = []
    for name, path in modules().items():
        if name.startswith("kbserver") or name == "indexer.errors":
            continue
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Raise) and "Forbidden" in ast.dump(node.exc or ast.Constant(None)):
                raising.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert raising == []
