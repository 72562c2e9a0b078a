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
    "people": 2,
    "datasets": 3,
    "models": 4,
    "prompts": 4,
    "recommender": 5,
    "session": 6,
    "dialogue": 7,
    "agent": 8,
    "assemble": 9,
    "scripting": 9,
    "training": 9,
    "evaluation": 10,
    "ui": 11,
    "cli": 11,
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


TESTS = PACKAGE.parent / "tests"
#: test files that build a ``Recommender`` or an ``Agent`` themselves, and why; every other test reaches the chat
#: through conftest's ``served_agent`` (``build_agent``, the packaged fitted fusion), so it tests what is served
BUILDS_ITS_OWN = {
    "conftest.py": "tiny_recommender: fakes (hash encoder, 8 films) for unit tests of one component",
    "unit/test_agent.py": "the agent's mechanics on the tiny fakes, and a catalog made for the ruled-out filter",
    "unit/test_ui.py": "the UI's rendering and handlers on the tiny fakes",
    "unit/test_feedback.py": "the feedback store and the user vector on the tiny fakes",
    "unit/test_turn_stream.py": "the streamed turn's stages on the tiny fakes",
    "unit/test_fusion.py": "the hand-set defaults and the fusion's own code",
    "unit/test_dialogue.py": "a person favoured or turned down, on the tiny fakes with directors and cast",
}


def built_here(path: Path, root: Path = TESTS) -> list[str]:
    """The lines of ``path`` that call ``Recommender(...)`` or ``Agent(...)`` (by name or as an attribute)."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("Recommender", "Agent"):
                calls.append(f"{path.relative_to(root).as_posix()}:{node.lineno} {name}(")
    return calls


def test_tests_reach_the_chat_as_it_is_served():
    """No test builds its own ranking core or agent (which would rank on the hand-set defaults, not the weights the
    chat serves) outside the files listed in BUILDS_ITS_OWN."""
    found = [
        c
        for p in sorted(TESTS.rglob("*.py"))
        if p.relative_to(TESTS).as_posix() not in BUILDS_ITS_OWN
        for c in built_here(p)
    ]
    assert not found, (
        f"{found}: build the agent with conftest's `served_agent(config=..., store=...)` (the served chat), or, for a "
        "unit test of one component on fakes, add the file to BUILDS_ITS_OWN in tests/unit/test_layering.py with why"
    )
    assert all(built_here(TESTS / name) for name in BUILDS_ITS_OWN), (
        "an entry of BUILDS_ITS_OWN builds nothing: drop it"
    )


def test_the_build_finder_finds_builds(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("x = Recommender(a)\ny = agent_mod.Agent(rec)\nz = build_agent(cfg)\nAgent\n")
    assert built_here(probe, tmp_path) == ["test_probe.py:1 Recommender(", "test_probe.py:2 Agent("]
