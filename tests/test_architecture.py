"""The layout holds: data flows one way through the packages, settings have one reader, and the libraries
that the API and the ML code stand on never import Dagster.

Read from the source (every import statement, function-level ones included), so a new back-edge fails
here before it turns into an import cycle at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analytics_assets.settings import PROJECT_ROOT, SettingsError, load_settings

PACKAGES = ("analytics_assets", "api", "ml")

# What each part may import (besides itself). Lower layers never import higher ones:
# settings -> contracts -> sources | storage | ml -> defs -> definitions -> cli; the API stands beside the
# pipeline and shares only the contracts and the settings with it.
ALLOWED = {
    "settings": set(),
    "dbt_process": set(),  # the `cycle-dbt` entry point: nothing slow may run before it becomes dbt
    "contracts": {"settings"},
    "sources": {"contracts", "settings"},
    "storage": {"contracts", "settings"},
    "ml": {"settings"},
    "defs": {"ml", "storage", "sources", "contracts", "settings"},
    "definitions": {"defs", "settings"},
    "cli": {"definitions", "defs", "ml", "contracts", "settings"},
    "api": {"contracts", "settings"},
}
NO_DAGSTER = {"settings", "dbt_process", "contracts", "sources", "storage", "ml", "api"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _part(module: str) -> str | None:
    """The layout part a module belongs to (None: the ``analytics_assets`` package itself)."""
    top, *rest = module.split(".")
    if top in ("api", "ml"):
        return top
    return rest[0] if rest else None


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, resolved to the deepest known module."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                out.append((candidate if candidate in MODULES else node.module, node.lineno))
    return out


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def test_the_layout_has_every_part():
    parts = {_part(m) for m in MODULES} - {None}
    assert parts == set(ALLOWED), parts ^ set(ALLOWED)


def test_no_import_reaches_up_or_across_the_layers():
    violations = []
    for module, imports in GRAPH.items():
        part = _part(module)
        for target, line in imports:
            if target.split(".")[0] not in PACKAGES or target == "analytics_assets":
                continue
            other = _part(target)
            if part is not None and other != part and other not in ALLOWED[part]:
                violations.append(f"{MODULES[module].relative_to(PROJECT_ROOT)}:{line} ({part}) imports {target} ({other})")
    assert not violations, "\n".join(violations)


def test_no_import_cycle_between_modules():
    edges = {m: sorted({t for t, _ in imports if t in MODULES and t != m}) for m, imports in GRAPH.items()}
    # a package's __init__ that imports its own submodules is how packages expose them, not a cycle
    def real(a: str, b: str) -> bool:
        return not b.startswith(a + ".")

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if not real(node, nxt):
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert not cycles, cycles


def test_libraries_under_the_pipeline_import_no_dagster():
    offenders = [
        f"{MODULES[m].relative_to(PROJECT_ROOT)}:{line} imports {target}"
        for m, imports in GRAPH.items()
        if _part(m) in NO_DAGSTER
        for target, line in imports
        if target.split(".")[0] in ("dagster", "dagster_dbt", "dagster_duckdb", "dagster_postgres")
    ]
    assert not offenders, "\n".join(offenders)


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv", "unsetenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(a.name in ("environ", "getenv") for a in node.names):
                lines.append(node.lineno)
    return lines


def test_only_the_settings_module_touches_the_environment():
    settings_file = PROJECT_ROOT / "analytics_assets" / "settings.py"
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}"
        for path in MODULES.values()
        if path != settings_file
        for line in _environment_reads(path)
    ]
    assert not offenders, "read CYCLE_* through analytics_assets.settings:\n" + "\n".join(offenders)
    assert _environment_reads(settings_file), "the settings module is where the environment is read"


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("CYCLE_DUCKDB_THREADS", "two", "valid integer"),
        ("CYCLE_DUCKDB_THREADS", "0", "greater than or equal to 1"),
        ("CYCLE_SIM_MALFORMED_RATE", "5%", "valid number"),
        ("CYCLE_SIM_SHIFT_START", "2026-02-30", "day value is outside"),
        ("CYCLE_SIM_JOURNEY_MODEL", "magic", "'exposure' or 'funnel'"),
    ],
)
def test_a_bad_value_names_its_variable_and_value(variable, value, says):
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    message = str(caught.value)
    assert variable in message and repr(value) in message and says in message, message


def test_a_bad_connector_option_names_its_variable():
    from analytics_assets.defs.ingest.connector_resources import connector_resources_from_env

    with pytest.raises(SettingsError, match=r"CYCLE_META_LOOKBACK_DAYS='four weeks'"):
        connector_resources_from_env({"CYCLE_META_LOOKBACK_DAYS": "four weeks"})


def test_the_cli_reports_a_bad_setting_without_a_traceback(monkeypatch, capsys):
    from analytics_assets import cli

    monkeypatch.setenv("CYCLE_SIM_POSTS_PER_DAY", "lots")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["backfill", "--start", "2026-10-01", "--end", "2026-10-01"])
    assert "CYCLE_SIM_POSTS_PER_DAY='lots'" in str(stopped.value.code)


def test_every_process_finds_the_same_home_whatever_its_working_directory(tmp_path, monkeypatch):
    """The API used to resolve ./data against its working directory while Dagster used the project root."""
    from api.settings import Settings

    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.cycle_home == PROJECT_ROOT / "data"
    assert Settings.from_env({}).serving_dir == settings.serving == PROJECT_ROOT / "data" / "serving"
    assert settings.warehouse == PROJECT_ROOT / "data" / "warehouse.duckdb"
    assert settings.inbound_store == PROJECT_ROOT / "data" / "api" / "store.sqlite3"
    moved = load_settings({"CYCLE_HOME": str(tmp_path / "elsewhere")})
    assert moved.serving == tmp_path / "elsewhere" / "serving" and moved.archive == tmp_path / "elsewhere" / "archive"
