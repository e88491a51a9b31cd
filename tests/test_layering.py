"""The house rules of imports: the core's layout stays private, the CLI is a leaf, no cycles.

Read from the sources with ``ast`` (nothing is imported), so a violation fails here with the
module and line that broke the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hftlab

PKG = Path(hftlab.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom, is_pkg: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(*, runtime_only: bool) -> dict[str, list[tuple[str, int]]]:
    """``{module: [(imported module, line), ...]}`` for every hftlab module.

    ``from a import b`` counts as importing ``a.b`` when that is a module, else ``a``.
    ``runtime_only``: skip imports under ``if TYPE_CHECKING`` (annotations only). Imports
    inside functions count: deferring an import hides a cycle, it does not remove it.
    """
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    out: dict[str, list[tuple[str, int]]] = {}
    for name, path in modules.items():
        found: list[tuple[str, int]] = []
        _visit(
            ast.parse(path.read_text(), str(path)), name, path, modules, runtime_only, found
        )
        out[name] = [(m, line) for m, line in found if m.startswith("hftlab")]
    return out


def _visit(
    node: ast.AST,
    name: str,
    path: Path,
    modules: dict[str, Path],
    runtime_only: bool,
    found: list[tuple[str, int]],
) -> None:
    for child in ast.iter_child_nodes(node):
        if (
            runtime_only
            and isinstance(child, ast.If)
            and "TYPE_CHECKING" in ast.unparse(child.test)
        ):
            continue
        if isinstance(child, ast.Import):
            found.extend((a.name, child.lineno) for a in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = _resolve(name, child, path.name == "__init__.py")
            for a in child.names:
                sub = f"{base}.{a.name}"
                found.append((sub if sub in modules else base, child.lineno))
        _visit(child, name, path, modules, runtime_only, found)


def test_only_the_sim_package_imports_the_core_layout() -> None:
    bad = [
        f"{mod}:{line}"
        for mod, imps in _imports(runtime_only=False).items()
        for imp, line in imps
        if imp == "hftlab.sim._layout" and not mod.startswith("hftlab.sim")
    ]
    assert not bad, f"import hftlab.sim._layout outside sim/ (use hftlab.vocab / SimCore): {bad}"


def test_only_the_cli_imports_cli_modules() -> None:
    def is_cli(m: str) -> bool:
        return m == "hftlab.cli" or m.endswith(".cli")

    # The CLI: the `hftlab` command, its sub-command modules and the demo it runs.
    allowed = {"hftlab.cli", "hftlab.demo", "hftlab.__main__"}
    bad = [
        f"{mod}:{line} imports {imp}"
        for mod, imps in _imports(runtime_only=False).items()
        for imp, line in imps
        if is_cli(imp) and mod not in allowed and not is_cli(mod)
    ]
    assert not bad, f"application code imports a CLI module: {bad}"


def test_no_import_cycle() -> None:
    graph = {
        mod: sorted({imp for imp, _ in imps} - {mod})
        for mod, imps in _imports(runtime_only=True).items()
    }
    # A package's __init__ importing its own submodules is not a cycle of design.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in graph.get(m, []):
            if n not in graph:
                continue
            if n.startswith(m + ".") or m.startswith(n + "."):
                continue  # package <-> its own submodule
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n) :], n])
            elif state.get(n) is None:
                dfs(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
