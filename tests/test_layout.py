"""The architecture's rules, checked: one reader of the index, small files and functions, and the
two recipes of docs/dev/ARCHITECTURE.md (add an engine, add a language) working as written."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ANALYZER = REPO / "analyzer"
# The size limits hold for the analyzer and for the reimplementations and kernels' Python.
SIZED = [ANALYZER, REPO / "reimpl", REPO / "kernels"]
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80
# A file may exceed a limit only with a line saying why: `# layout-exception: <reason>`.
EXCEPTION_MARK = "# layout-exception:"


def _modules() -> list[Path]:
    return sorted(ANALYZER.rglob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_store_and_the_query_api_import_sqlite3():
    readers = {p.relative_to(ANALYZER).as_posix() for p in _modules()
               if "sqlite3" in _imports(ast.parse(p.read_text()))}
    allowed = {p for p in readers if p == "store.py" or p.startswith("query/")}
    assert readers == allowed, f"sqlite3 imported outside store.py and query/: {sorted(readers - allowed)}"
    assert "store.py" in readers  # the check would pass vacuously if the scan found nothing


def test_no_module_reads_the_index_tables_with_sql_outside_store_and_query():
    offenders = []
    for p in _modules():
        rel = p.relative_to(ANALYZER).as_posix()
        if rel == "store.py" or rel.startswith("query/"):
            continue
        text = p.read_text()
        if ".conn.execute(" in text or "conn.execute(" in text:
            offenders.append(rel)
    assert offenders == []


def _sized_modules() -> list[Path]:
    return sorted(p for root in SIZED for p in root.rglob("*.py") if "build" not in p.relative_to(root).parts)


def test_files_and_functions_are_small_or_say_why():
    problems = []
    roots = {root.name for root in SIZED}
    seen = {p.relative_to(REPO).parts[0] for p in _sized_modules()}
    assert seen == roots, f"the size check scanned {sorted(seen)}, not {sorted(roots)}"
    for p in _sized_modules():
        text = p.read_text()
        rel = p.relative_to(REPO).as_posix()
        excused = EXCEPTION_MARK in text
        lines = text.count("\n")
        if lines > MAX_FILE_LINES and not excused:
            problems.append(f"{rel}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and not excused:
                    problems.append(f"{rel}:{node.lineno} {node.name}: {length} lines")
    assert problems == []


def test_the_limits_check_can_fail(tmp_path):
    """The size rule reads real function lengths (guards against a check that cannot fail)."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    tree = ast.parse(f"def f():\n{body}\n")
    (fn,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES


# ------------------------------------------------------------------------------ recipes
TOY_PINS = """
[toy]
source = "git"
url = "file:///nonexistent/toy.git"
default = "1"
roots = ["toy", "native"]
permalink = "https://example.invalid/toy/{path}#L{line}"
conventions = ["torch", "pybind11"]
python_op_namespace = "toyops"
registration_macros = ["TOY_REGISTER_OPS"]
"""


def test_recipe_add_an_engine_is_data_only(tmp_path, monkeypatch):
    """A new engine with its own op namespace and its own registration macro: a pins entry, no code."""
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    src = tmp_path / "toy-src"
    (src / "toy").mkdir(parents=True)
    (src / "native").mkdir()
    (src / "toy" / "__init__.py").write_text("")
    (src / "toy" / "layer.py").write_text(textwrap.dedent("""
        import torch
        from toy.utils import direct_register_custom_op

        def attend(x):
            return x

        direct_register_custom_op(op_name="attend", op_func=attend)

        def forward(x):
            torch.ops.toyops.attend(x)
            return torch.ops.toy_C.scale(x)
        """))
    (src / "native" / "ops.cpp").write_text(textwrap.dedent("""
        namespace toy {
        void scale_impl(int x) {}
        }
        TOY_REGISTER_OPS(toy_C, m) {
          m.def("scale(Tensor x) -> Tensor");
          m.impl("scale", &toy::scale_impl);
        }
        """))
    (tmp_path / "pins.toml").write_text(TOY_PINS)
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(tmp_path / "pins.toml"))
    ref = sources.parse_ref("toy")
    build(ref, sources.fetch(ref, path=str(src)), jobs=1)
    idx = Index(index_path(ref))
    fwd = idx.lookup("toy.layer.forward")
    chain = idx.paths([r.id for r in fwd], [r.id for r in idx.lookup("toy.layer.attend")])
    assert [s.name for s in chain[0]] == ["toy.layer.forward", "torch.ops.toyops.attend", "toy.layer.attend"]
    chain = idx.paths([r.id for r in fwd], [r.id for r in idx.lookup("toy::scale_impl")])
    assert [s.name for s in chain[0]] == ["toy.layer.forward", "torch.ops.toy_C.scale", "toy::scale_impl"]
    idx.close()


def test_recipe_add_a_language_is_a_registry_entry(tmp_path, monkeypatch):
    """A language entry (extensions, grammar, query files, extractor, resolver) is all the indexer
    needs: here `.pyw` files as a language of their own that reuses Python's grammar and modules."""
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.parse import languages
    from infernav.analyzer.query import Index

    registry = tmp_path / "languages.toml"
    registry.write_text((languages.HERE / "languages.toml").read_text() + textwrap.dedent("""
        [pythonw]
        key = "pyw"
        extensions = [".pyw"]
        grammar = "tree_sitter_python"
        queries = ["python.scm"]
        extractor = "python"
        resolver = "python"
        """))
    src = tmp_path / "w-src" / "tool"
    src.mkdir(parents=True)
    (src / "run.pyw").write_text("def f():\n    g()\n\n\ndef g():\n    pass\n")
    (tmp_path / "pins.toml").write_text('[w]\nsource = "git"\nurl = "file:///none"\ndefault = "1"\nroots = ["tool"]\n')
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(tmp_path / "pins.toml"))
    monkeypatch.setenv("INFERNAV_LANGUAGES", str(registry))
    languages.languages.cache_clear()
    languages._by_extension.cache_clear()
    try:
        assert languages.language_of("tool/run.pyw") == "pyw"
        ref = sources.parse_ref("w")
        report = build(ref, sources.fetch(ref, path=str(tmp_path / "w-src")), jobs=1)
        assert report.files == 1
        idx = Index(index_path(ref))
        hits = idx.walk([r.id for r in idx.lookup("run.f")], "callees")
        # `tool/` has no __init__.py: a namespace package, part of the module name (as in Python).
        assert [(h.symbol.name, h.resolution) for h in hits] == [("tool.run.g", "exact")]
        idx.close()
    finally:
        monkeypatch.delenv("INFERNAV_LANGUAGES")
        languages.languages.cache_clear()
        languages._by_extension.cache_clear()


@pytest.mark.parametrize("module", ["infernav.analyzer.cli", "infernav.analyzer.query"])
def test_query_start_up_loads_no_parser_or_site(module):
    """Whole-process latency: a query must not import tree-sitter, mkdocs, matplotlib, networkx or mcp."""
    import subprocess
    import sys

    code = (f"import sys, {module}; heavy = [m for m in ('tree_sitter', 'mkdocs', 'matplotlib', 'networkx', "
            f"'numpy', 'yaml', 'mcp') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_a_query_command_imports_only_its_own_command_module(tmp_path):
    """The CLI's commands load on first use (cli/__init__.py LazyGroup): running `callers` (here
    on an unknown framework, so that it fails once its module has loaded and parsed the options)
    must not import the indexer, the sources' downloaders, the parser, the resolver or other
    commands."""
    import os
    import subprocess
    import sys

    code = ("import sys; from infernav.analyzer.cli import run\n"
            "try:\n    run(['callers', '-f', 'nosuch', 'x'])\nexcept SystemExit:\n    pass\n"
            "mods = ('indexer', 'sources.sdist', 'cli.build', 'cli.diff', 'cli.notes', 'cli.simulate', 'cli.mcp',"
            " 'cli.navigate', 'resolve', 'parse')\n"
            "print(','.join(m for m in mods if 'infernav.analyzer.' + m in sys.modules))")
    env = {**os.environ, "INFERNAV_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "nosuch" in out.stderr          # it did run the command (and failed on the framework)
    assert out.stdout.strip() == ""


def test_every_command_is_listed_by_help():
    from click.testing import CliRunner

    from infernav.analyzer.cli import COMMANDS, main

    text = CliRunner().invoke(main, ["--help"]).output
    listed = [line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)


def test_every_package_is_listed_for_the_wheel():
    """pyproject's explicit package list must name every folder with an __init__.py."""
    import tomllib

    root = ANALYZER.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    mapping = {"analyzer": "infernav.analyzer", "reimpl": "infernav.reimpl", "kernels": "infernav.kernels"}
    found = set()
    for top, name in mapping.items():
        for init in (root / top).rglob("__init__.py"):
            rel = init.parent.relative_to(root / top).parts
            found.add(".".join((name, *rel)))
    assert found - listed == set()
