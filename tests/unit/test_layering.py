"""Imports flow one way (chat_rec/__init__.py): a module imports only from layers to its left."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "chat_rec"
LAYERS = ["config", "errors", "catalog", "datasets", "models", "index", "recommender", "agent", "ui", "cli"]
RANK = {
    "config": 0,
    "errors": 1,
    "catalog": 2,
    "datasets": 3,
    "models": 4,
    "index": 4,
    "recommender": 5,
    "scripting": 6,
    "agent": 6,
    "assemble": 6,
    "training": 6,
    "replay": 6,
    "ranker_training": 6,
    "ui": 7,
    "cli": 7,
    "cli_reranker": 7,
    "cli_dialogues": 7,
}


def top_level(module_path: Path) -> str:
    rel = module_path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = path.relative_to(PACKAGE).parts
            base = list(parts[:-1])[: len(parts) - node.level] if node.level > 1 else list(parts[:-1])
            target = base + (node.module.split(".") if node.module else [])
            if target:
                found.add(target[0])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found |= {n.split(".")[1] for n in names if n.startswith("chat_rec.") and n.count(".") >= 1}
    return found


def test_imports_flow_left_to_right():
    bad = []
    for path in PACKAGE.rglob("*.py"):
        layer = top_level(path)
        if layer in ("__init__", "__main__"):
            continue
        for target in imported_layers(path) - {layer}:
            if layer == "evaluation":  # beside serving, through the public API (Agent.read / Agent.rank)
                if target in ("ui", "cli"):
                    bad.append(f"{path.relative_to(PACKAGE)} imports {target}")
                continue
            if target == "evaluation" and not layer.startswith("cli"):
                bad.append(f"{path.relative_to(PACKAGE)} (serving) imports evaluation")
            elif target in RANK and layer in RANK and RANK[target] > RANK[layer]:
                bad.append(f"{path.relative_to(PACKAGE)} ({layer}) imports {target}")
    assert not bad, bad


def test_gradio_only_inside_ui():
    for path in PACKAGE.rglob("*.py"):
        if top_level(path) != "ui":
            assert "import gradio" not in path.read_text(), path
