"""The package's layers (rutts/__init__.py): a module imports only from its own package or from a lower layer, not
even inside a function, and no modules import each other in a circle."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rutts"
# Lowest first; packages on one line are siblings and do not import each other.
LAYERS = [
    {"files", "cli"},
    {"text", "audio"},
    {"dataset"},
    {"audit", "run"},
    {"speech"},
    {"intelligibility"},
    {"train", "own_voice"},
    {"bot", "studio"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every rutts module the file imports, at the top or inside a function ("from rutts.x import y" counts y when
    it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("rutts"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rutts"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules}


def top(name: str) -> str:
    return name.split(".")[1] if name.count(".") else ""


GRAPH = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


def test_every_package_has_a_layer():
    packages = {top(name) for name in GRAPH} - {""}
    assert packages <= set(LEVEL), f"add {packages - set(LEVEL)} to LAYERS"


@pytest.mark.parametrize("module", sorted(name for name in GRAPH if top(name)))
def test_a_module_imports_nothing_from_a_layer_above_or_beside_it(module):
    upward = sorted(name for name in GRAPH[module] if top(name) and top(name) != top(module)
                    and LEVEL[top(name)] >= LEVEL[top(module)])
    assert not upward, f"{module} imports {upward}"


def test_no_import_circles():
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(GRAPH.get(name, ())):
            if target == name:
                continue
            if state.get(target) == 1:
                raise AssertionError(" → ".join([*path, name, target]))
            if target not in state:
                visit(target, [*path, name])
        state[name] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [])
