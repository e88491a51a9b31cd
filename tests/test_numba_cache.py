"""The compiled-kernel cache folder follows the kernels' sources (no stale machine code), and
only them (an edit elsewhere does not recompile)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hftlab
from hftlab._numba_cache import KERNEL_MODULES, _sources_digest, configure

PACKAGE = Path(hftlab.__file__).parent

# Decorators that hand a function to numba's compiler.
_NUMBA_DECORATORS = {
    "cfunc",
    "generated_jit",
    "guvectorize",
    "intrinsic",
    "jit",
    "njit",
    "overload",
    "overload_method",
    "stencil",
    "vectorize",
}


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _module_file(package: Path, module: str) -> Path:
    path = package.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if (path / "__init__.py").exists() else path.with_suffix(".py")


class _Module:
    """What the scan needs of one source file: its top-level imports, assignments, definitions
    and numba-decorated functions."""

    def __init__(self, path: Path, top: str) -> None:
        tree = ast.parse(path.read_text())
        self.imports: dict[str, tuple[str, str | None]] = {}  # local name -> (module, name)
        self.assigns: dict[str, ast.expr] = {}
        self.defs: set[str] = set()
        self.kernels: list[ast.FunctionDef] = []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == top:
                for a in node.names:
                    self.imports[a.asname or a.name] = (node.module or "", a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == top:
                        self.imports[a.asname or a.name] = (a.name, None)
            elif isinstance(node, ast.Assign) and node.value is not None:
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.assigns[t.id] = node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                if isinstance(node.target, ast.Name):
                    self.assigns[node.target.id] = node.value
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                self.defs.add(node.name)
                if isinstance(node, ast.FunctionDef) and any(
                    _decorator_name(d) in _NUMBA_DECORATORS for d in node.decorator_list
                ):
                    self.kernels.append(node)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _kernel_sources(package: Path) -> tuple[set[str], set[str]]:
    """``(kernel modules, modules whose definitions kernels freeze)``, relative to ``package``.

    A kernel module has a numba-decorated function. From every global name a kernel reads, the
    scan follows imports to the module that defines it; a module-level assignment there counts
    (and the names it is computed from are followed in turn), as do a class (an enum's members)
    and a function; a re-export does not.
    """
    top = package.name
    modules = {p: _Module(p, top) for p in sorted(package.rglob("*.py"))}
    kernels = {p for p, m in modules.items() if m.kernels}
    todo = [(p, n) for p in kernels for k in modules[p].kernels for n in _names(k)]
    defining: set[Path] = set()
    seen: set[tuple[Path, str]] = set()
    while todo:
        path, name = todo.pop()
        if (path, name) in seen:
            continue
        seen.add((path, name))
        m = modules[path]
        if name in m.imports:
            module, original = m.imports[name]
            target = _module_file(package, module)
            if target not in modules:
                continue
            if original is None:  # ``import pkg.x as y``: any of its names may be read
                defining.add(target)
            else:
                todo.append((target, original))
        elif name in m.assigns:
            defining.add(path)
            todo += [(path, n) for n in _names(m.assigns[name])]
        elif name in m.defs:
            defining.add(path)

    def rel(paths: set[Path]) -> set[str]:
        return {p.relative_to(package).as_posix() for p in paths}

    return rel(kernels), rel(defining - kernels)


def test_kernel_module_list_is_exactly_what_the_kernels_depend_on() -> None:
    kernels, constants = _kernel_sources(PACKAGE)
    listed = set(KERNEL_MODULES)
    assert kernels, "the scan found no numba kernels in the package"
    missing = sorted((kernels | constants) - listed)
    assert not missing, (
        f"hftlab/_numba_cache.py: KERNEL_MODULES lacks {missing} (numba kernels, or constants "
        "they freeze): an edit there would run stale cached machine code; add them"
    )
    extra = sorted(listed - kernels - constants)
    assert not extra, (
        f"hftlab/_numba_cache.py: KERNEL_MODULES lists {extra}, which no kernel depends on: an "
        "edit there would recompile every kernel for nothing; remove them"
    )
    assert len(KERNEL_MODULES) == len(listed), "KERNEL_MODULES lists a module twice"


def test_scan_finds_decorated_kernels_and_what_they_freeze(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub._consts import A as A\n")
    (pkg / "sub" / "_consts.py").write_text("from pkg.enums import Kind\nA = int(Kind.X)\n")
    (pkg / "enums.py").write_text("import enum\nclass Kind(enum.IntEnum):\n    X = 1\n")
    (pkg / "unused.py").write_text("B = 2\n")
    (pkg / "kern.py").write_text(
        "import numba\nfrom numba.extending import intrinsic\n"
        "from pkg.sub import A\nfrom pkg.unused import B\n"
        "@numba.njit(cache=True)\ndef f(x):\n    return x + A\n"
        "def g():\n    return B\n"
    )
    (pkg / "intr.py").write_text(
        "from numba.extending import intrinsic\n@intrinsic\ndef h(typingctx, x):\n    pass\n"
    )
    (pkg / "prose.py").write_text('"""Mentions numba and @njit in prose only."""\n')
    kernels, constants = _kernel_sources(pkg)
    assert kernels == {"kern.py", "intr.py"}
    # A re-export (sub/__init__) is followed, not counted; B is read by Python code only.
    assert constants == {"sub/_consts.py", "enums.py"}


def _package(tmp: Path, kernel: str) -> Path:
    pkg = tmp / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "kernel.py").write_text(kernel)
    (pkg / "plain.py").write_text("X = 1  # numba\n")
    return pkg


def test_folder_changes_with_kernel_sources_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HFTLAB_NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    pkg = _package(tmp_path, "from numba import njit\n")
    first = configure(pkg, "1.0", ["kernel.py"])
    (pkg / "plain.py").write_text("X = 2  # numba\n")  # not listed: same folder
    assert configure(pkg, "1.0", ["kernel.py"]) == first
    (pkg / "kernel.py").write_text("from numba import njit  # edited\n")
    second = configure(pkg, "1.0", ["kernel.py"])
    assert second != first
    assert second is not None and second.parent == tmp_path / "cache"
    assert configure(pkg, "1.1", ["kernel.py"]) != second  # a new version never reuses a folder


def test_real_package_key_ignores_other_files(tmp_path: Path) -> None:
    pkg = tmp_path / "hftlab"
    shutil.copytree(PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    key = _sources_digest(pkg, KERNEL_MODULES)
    with (pkg / "backtest" / "engine.py").open("a") as f:
        f.write("# an edit that is not a kernel's: numba\n")
    assert _sources_digest(pkg, KERNEL_MODULES) == key
    for rel in ("sim/_layout.py", "sim/_queue.py", "book/_core.py"):
        with (pkg / rel).open("a") as f:
            f.write("# edited\n")
        assert _sources_digest(pkg, KERNEL_MODULES) != key, rel
        key = _sources_digest(pkg, KERNEL_MODULES)


def test_child_process_inherits_the_same_folder(tmp_path) -> None:
    env_code = (
        "import os, hftlab, numba; print(hftlab.NUMBA_CACHE_DIR); print(numba.config.CACHE_DIR)"
    )
    env = {**os.environ, "HFTLAB_NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", env_code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == out[1] and Path(out[0]).parent == tmp_path
    # A grandchild that inherits NUMBA_CACHE_DIR from its parent lands in the very same folder.
    env2 = {**os.environ, "NUMBA_CACHE_DIR": out[0]}
    env2.pop("HFTLAB_NUMBA_CACHE_DIR", None)
    again = subprocess.run(
        [sys.executable, "-c", env_code], env=env2, capture_output=True, text=True, check=True
    ).stdout.split()
    assert again[0] == out[0]
