"""Imports flow one way (chat_rec/__init__.py): a module imports only from layers to its left, the UI talks to
the agent (never to the ranking core), serving never imports evaluation, and no package has an import circle."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "chat_rec"
#: a top-level module or package -> its layer; lower numbers sit further left
RANK = {
    "config": 0,
    "errors": 1,
    "files": 1,
    "catalog": 2,
    "datasets": 3,
    "models": 4,
    "prompts": 4,
    "recommender": 5,
    "session": 6,
    "agent": 7,
    "assemble": 8,
    "scripting": 8,
    "training": 8,
    "evaluation": 9,
    "ui": 10,
    "cli": 10,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path, *, top_only: bool = False) -> set[str]:
    """The chat_rec modules ``path`` imports (absolute imports: ruff's TID252 bans relative ones).
    ``top_only``: only the imports run when the module loads (not those inside functions)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("chat_rec.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chat_rec"):
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from chat_rec.cli import reranker`
    return found


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_imports_flow_left_to_right():
    bad = []
    for name, path in MODULES.items():
        own = layer(name)
        if own in ("", "__main__"):
            continue
        assert own in RANK, f"{name}: add its layer to RANK"
        for target in {layer(m) for m in imports(path)} - {own, ""}:
            if target == "evaluation" and own != "cli":
                bad.append(f"{name} imports evaluation (only the CLI runs evaluations)")
            elif RANK[target] > RANK[own]:
                bad.append(f"{name} ({own}) imports {target}")
    assert not bad, bad


def test_ui_talks_to_the_agent_not_the_ranking_core():
    bad = [
        f"{n} imports {m}"
        for n, p in MODULES.items()
        if layer(n) == "ui"
        for m in imports(p)
        if layer(m) in ("recommender", "models", "training", "evaluation")
    ]
    assert not bad, bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle (as one path through it), by depth-first search."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m) :] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def test_no_import_circles():
    """Load-time imports between the package's modules form no circle (a package's ``__init__`` counts as a
    module that its submodules must not import back)."""
    graph = {n: {m for m in imports(p) if m in MODULES and m != n} for n, p in MODULES.items()}
    assert not _cycles(graph), _cycles(graph)


def test_the_circle_finder_finds_circles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_gradio_only_inside_ui():
    for name, path in MODULES.items():
        if layer(name) != "ui":
            assert "import gradio" not in path.read_text(), path
