"""The layout's rules, read from the source (ast, nothing imported): who may import whom.

See ARCHITECTURE.md. Each allow-list below is today's debt, one entry per import, with the reason;
an entry that is no longer needed fails the test too, so the lists only shrink.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# Lower layers first. A package may import a package of a lower layer, or of its own layer,
# except the features, which depend on the apel core and never on each other.
LAYERS: list[tuple[str, ...]] = [
    ("platform", "calendar"),
    ("audit", "delivery"),
    ("org",),
    ("apel",),
    ("announcements", "unit_admin", "reports"),
    # The inspector's checks read every capability's tables to reconcile them with the log.
    ("inspection",),
    # Entry points. bot/scheduler.py is one too: the bell of apel, announcements, pakta and
    # checkpoints, driven by time as telegram/ is driven by updates. migrations/ holds the one
    # registry of every capability's tables (tables.py), for Alembic. bot/bootstrap.py builds
    # the entry points' parts (the composition root).
    ("telegram", "commands", "scheduler", "cli", "bootstrap", "demo", "migrations"),
]
INDEPENDENT = {"announcements", "unit_admin", "reports"}

# (importer, imported module) -> why it is still there. Each one breaks ARCHITECTURE.md's rule.
LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {}

# Package edges that close a cycle; without them the package graph has none. Each is also a
# layering exception above (an import going up is what closes a cycle).
CYCLE_EXCEPTIONS: dict[tuple[str, str], str] = {}

# Modules outside bot/telegram/ that import python-telegram-bot. Empty: keep it so.
TELEGRAM_EXCEPTIONS: dict[str, str] = {}

# The only product modules that may import the fake Bot API server (the demo runs against it).
FAKE_TELEGRAM_ALLOWED = {"bot.demo", "bot.commands.demo"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = BOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@cache
def imports() -> dict[str, frozenset[str]]:
    """Every module under bot/ -> the absolute modules it imports (anywhere in it)."""
    found: dict[str, frozenset[str]] = {}
    for path in sorted(BOT.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if base.startswith("bot") and _is_module(sub) else base)
        found[name] = frozenset(targets)
    return found


def package_of(module: str) -> str | None:
    """bot.apel.opening -> apel; bot.scheduler -> scheduler; bot -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 else None


def rank(package: str) -> int:
    for i, layer in enumerate(LAYERS):
        if package in layer:
            return i
    raise AssertionError(f"bot/{package} is in no layer: add it to LAYERS in {__file__}")


def allowed(src: str, dst: str) -> bool:
    if src == dst:
        return True
    if rank(dst) < rank(src):
        return True
    return rank(dst) == rank(src) and src not in INDEPENDENT


def bot_edges() -> set[tuple[str, str]]:
    return {(src, dst) for src, targets in imports().items() for dst in targets
            if package_of(src) and package_of(dst) and dst.split(".")[0] == "bot"}


def test_every_package_has_a_layer():
    for module in imports():
        if package_of(module):
            rank(package_of(module))


def test_layering():
    violations = {(src, dst) for src, dst in bot_edges()
                  if not allowed(package_of(src), package_of(dst))}
    new = sorted(violations - LAYER_EXCEPTIONS.keys())
    assert not new, f"imports against the layering rule (ARCHITECTURE.md): {new}"
    gone = sorted(LAYER_EXCEPTIONS.keys() - violations)
    assert not gone, f"no longer needed, remove from LAYER_EXCEPTIONS: {gone}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_between_packages():
    edges = {(package_of(src), package_of(dst)) for src, dst in bot_edges()}
    edges = {(a, b) for a, b in edges if a != b}
    gone = sorted(CYCLE_EXCEPTIONS.keys() - edges)
    assert not gone, f"no longer imported, remove from CYCLE_EXCEPTIONS: {gone}"
    graph: dict[str, set[str]] = {}
    for a, b in edges - CYCLE_EXCEPTIONS.keys():
        graph.setdefault(a, set()).add(b)
    cycle = _cycle(graph)
    assert cycle is None, f"import cycle between bot's packages: {' -> '.join(cycle)}"


def test_only_bot_telegram_imports_python_telegram_bot():
    importers = {src for src, targets in imports().items()
                 if any(t == "telegram" or t.startswith("telegram.") for t in targets)
                 and not (src + ".").startswith("bot.telegram.")}
    new = sorted(importers - TELEGRAM_EXCEPTIONS.keys())
    assert not new, f"python-telegram-bot imported outside bot/telegram/: {new}"
    gone = sorted(TELEGRAM_EXCEPTIONS.keys() - importers)
    assert not gone, f"no longer needed, remove from TELEGRAM_EXCEPTIONS: {gone}"


def test_the_product_does_not_import_the_fake_server():
    importers = {src for src, targets in imports().items()
                 if any(t.split(".")[0] == "fake_telegram" for t in targets)}
    assert importers <= FAKE_TELEGRAM_ALLOWED, sorted(importers - FAKE_TELEGRAM_ALLOWED)


@pytest.mark.parametrize(("src", "dst", "ok"), [
    ("apel", "org", True), ("org", "apel", False), ("reports", "unit_admin", False),
    ("audit", "delivery", True), ("telegram", "scheduler", True), ("platform", "audit", False),
])
def test_the_rule_itself(src, dst, ok):
    assert allowed(src, dst) is ok
