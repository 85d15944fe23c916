"""The package's house plan: its modules import one another without circles (imports inside
functions count), none is over 450 lines, no two public functions or classes share a name, and the
README's Layout table names every module; the bench scripts, which CI never runs, import only names
the package has."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "rlvr"
MOST_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (at the top, inside functions,
    under ``TYPE_CHECKING``): ``from . import x`` counts as importing ``x`` where ``x`` is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # rlvr.grading.grade.x -> rlvr.grading.grade
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_the_import_graph_has_no_cycles():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found_where_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_an_import_inside_a_function_closes_a_cycle(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from .b import g\n    return g()\n")
    (tmp_path / "b.py").write_text("from . import a\n\n\ndef g():\n    return a\n")
    known = {"pkg", "pkg.a", "pkg.b"}
    graph = {name: imported(name, tmp_path / f"{name[4:]}.py", known) for name in ("pkg.a", "pkg.b")}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_no_module_is_over_450_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MOST_LINES}
    assert long == {}


def test_no_two_public_functions_or_classes_share_a_name():
    where = defaultdict(list)
    for name, path in modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                where[node.name].append(name)
    assert {n: mods for n, mods in where.items() if len(mods) > 1} == {}


def test_the_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    missing = []
    for name, path in modules().items():
        if path.name == "__init__.py" or name.count(".") > 1 or path.stem.startswith("_"):
            continue  # a subpackage's own modules are its README row's business
        if f"{path.stem}.py" not in layout and f"lib/rlvr/{path.stem}/" not in layout:
            missing.append(name)
    for path in PACKAGE.iterdir():
        if path.is_dir() and (path / "__init__.py").is_file() and f"lib/rlvr/{path.name}/" not in layout:
            missing.append(f"rlvr.{path.name}/")
    assert missing == []


def lab_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for each ``from rlvr... import name`` in a file, wherever it sits."""
    return [(node.module, alias.name) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "rlvr"
            for alias in node.names]


def unknown_names(path: Path) -> list[str]:
    """The lab names ``path`` imports that the package does not have."""
    import importlib

    return [f"{path.name}: {module}.{name}" for module, name in lab_imports(path)
            if not hasattr(importlib.import_module(module), name) and f"{module}.{name}" not in modules()]


def test_the_bench_scripts_import_only_what_the_package_has():
    # CI never runs them: a name moved in the package breaks them silently otherwise.
    assert [bad for script in sorted((ROOT / "bench").glob("*.py")) for bad in unknown_names(script)] == []


def test_a_name_imported_from_where_it_no_longer_lives_is_found(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text("def main():\n    from rlvr.trainer import StepTable\n"
                      "    from rlvr.callbacks import StepTable\n")
    assert unknown_names(script) == ["bench.py: rlvr.trainer.StepTable"]
