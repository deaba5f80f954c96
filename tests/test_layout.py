"""The repository layout must not shadow the standard library (DESIGN.md, "Layout")."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STDLIB_NAMES = ("platform", "types", "logging", "random", "statistics", "math", "io", "json")


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_no_root_package_shadows_stdlib():
    for name in STDLIB_NAMES:
        assert not (ROOT / name / "__init__.py").exists(), f"root-level package {name}/ shadows the stdlib"
        assert not (ROOT / f"{name}.py").exists(), f"root-level module {name}.py shadows the stdlib"


def test_import_platform_is_stdlib_from_root():
    origin = _run("import platform, sysconfig; print(platform.__file__)")
    assert Path(origin).parent == Path(_run("import sysconfig; print(sysconfig.get_paths()['stdlib'])"))
    assert _run("import platform; print(callable(platform.system))") == "True"


def test_import_jax_and_sepsim_from_root():
    assert _run("import jax, sepsim, sepsim.platform, sepsim.models; print('ok')") == "ok"


def test_platform_subpackage_lives_inside_sepsim():
    assert (ROOT / "sepsim" / "platform" / "__init__.py").exists()
    assert (ROOT / "sepsim" / "models" / "__init__.py").exists()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the ``sepsim`` modules it imports anywhere in its body (function-level imports included).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of ``pkg``; an import
    of ``a.b.c`` is an edge to ``a.b.c`` only (the parents' ``__init__`` run too, but they are not the dependency).
    """
    import ast

    files = {_module_name(p): p for p in (ROOT / "sepsim").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = mod.split(".") if is_pkg else mod.split(".")[:-1]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges.add(sub if sub in files else target)
        graph[mod] = {e for e in edges if e in files and e != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_detector_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_sees_function_level_imports():
    graph = _import_graph()
    assert "sepsim.pipeline" in graph["sepsim.cli"]  # `from .pipeline import run_pipeline` inside a function


def test_no_import_cycle_inside_sepsim():
    cycles = _cycles(_import_graph())
    assert not cycles, "import cycles inside sepsim (function-level imports included): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


MAX_FUNCTION_LINES = 120  # issue 9: no function in sepsim/platform longer than ~120 lines


def _long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """(name, lines) of every function or method in ``source`` (nested ones too) longer than ``limit`` lines."""
    import ast

    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_long_function_detector_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert _long_functions(f"def f():\n{body}\n", MAX_FUNCTION_LINES) == [("f", MAX_FUNCTION_LINES + 1)]
    assert _long_functions("def g():\n    return 1\n", MAX_FUNCTION_LINES) == []


def test_no_function_in_platform_exceeds_the_limit():
    long = {
        f"{path.relative_to(ROOT)}:{name}": n
        for path in sorted((ROOT / "sepsim" / "platform").rglob("*.py"))
        for name, n in _long_functions(path.read_text(), MAX_FUNCTION_LINES)
    }
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them): {long}"


def _class_definitions(root: Path) -> dict[str, list[str]]:
    """Class name -> the modules under ``root`` that define a class of that name (nested classes too)."""
    import ast

    out: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                out.setdefault(node.name, []).append(str(path.relative_to(root.parent)))
    return out


def test_duplicate_class_detector_finds_a_duplicate(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("class Placebo:\n    pass\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("class Placebo(object):\n    pass\nclass Other:\n    pass\n")
    found = _class_definitions(tmp_path / "pkg")
    assert found["Placebo"] == ["pkg/a.py", "pkg/sub/b.py"] and found["Other"] == ["pkg/sub/b.py"]


def test_every_class_name_is_defined_once_in_sepsim():
    """One concept, one class: two ``Placebo`` or two ``ScenarioConfig`` classes once confused every import."""
    dup = {name: where for name, where in _class_definitions(ROOT / "sepsim").items() if len(where) > 1}
    assert not dup, f"class names defined more than once (rename one, or keep one class): {dup}"


def test_stage_cache_imports_neither_the_engine_nor_the_report():
    """``sepsim._cache`` annotates artifacts from the light ``sepsim._cf_attrs``, not from the report layer."""
    heavy = "('sepsim.platform', 'sepsim.report', 'matplotlib')"
    code = f"import sys, sepsim._cache; print(sorted(m for m in {heavy} if m in sys.modules))"
    assert _run(code) == "[]"


def test_every_oracle_file_names_its_source_and_is_used():
    """tests/oracles/*.yaml: exact numbers from shared/science/trial_oracles.md, each with its source, each read by a
    test (no expected number of the brief is written inline in a test file)."""
    import yaml

    oracles = sorted((ROOT / "tests" / "oracles").glob("*.yaml"))
    assert len(oracles) >= 4
    tests = {p: p.read_text() for p in (ROOT / "tests").rglob("test_*.py")}
    for path in oracles:
        header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
        assert "Source:" in header and isinstance(yaml.safe_load(path.read_text()), dict), path.name
        assert any(f'"{path.name}"' in text for text in tests.values()), f"no test reads {path.name}"
