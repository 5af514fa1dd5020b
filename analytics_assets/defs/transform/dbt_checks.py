"""What each dbt data test checks, in words: the description of its Dagster asset check.

dbt names a generic test after its macro, model and arguments joined by underscores (up to 185 characters:
``cycle_reconciles_with_parent_agg_account_daily_metric_date__platform__...``), which the UI cuts short and
which says little. The description comes from the test itself: its own ``description:`` (or
``meta.description``) where the yml gives one, else its arguments read by the rule of its macro (the generic
tests of dbt and of ``dbt/tests/generic``), else for a singular test the comment that opens its SQL file. A
``where`` config and a warn severity are said too: they change what a pass means.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_REF = re.compile(r"""ref\(\s*['"](\w+)['"]\s*\)""")
_SOURCE = re.compile(r"""source\(\s*['"](\w+)['"]\s*,\s*['"](\w+)['"]\s*\)""")
_LEADING_COMMENT = re.compile(r"\A\s*(?:\{\{.*?\}\}\s*)*\{#-?(.*?)-?#\}", re.DOTALL)


def _relation(value: Any) -> str:
    """``ref('x')`` as `x`, ``source('raw', 'y')`` as `raw.y`; anything else as written."""
    text = str(value)
    if match := _REF.search(text):
        return f"`{match.group(1)}`"
    if match := _SOURCE.search(text):
        return f"`{match.group(1)}.{match.group(2)}`"
    return f"`{text}`"


def _sql(expression: Any) -> str:
    """A SQL argument on one line, its ``{{ ref('x') }}`` as x and ``{{ source('a', 'b') }}`` as a.b."""
    text = re.sub(r"\{\{\s*" + _REF.pattern + r"\s*\}\}", r"\1", str(expression))
    text = re.sub(r"\{\{\s*" + _SOURCE.pattern + r"\s*\}\}", r"\1.\2", text)
    return f"`{' '.join(text.split())}`"


def _columns(columns: Sequence[str]) -> str:
    return "(" + ", ".join(f"`{c}`" for c in columns) + ")"


def _range(kw: Mapping[str, Any]) -> str:
    inclusive = kw.get("inclusive", True)
    bounds = []
    if kw.get("min_value") is not None:
        bounds.append(f"{'>=' if inclusive else '>'} {kw['min_value']}")
    if kw.get("max_value") is not None:
        bounds.append(f"{'<=' if inclusive else '<'} {kw['max_value']}")
    return f"Every non-null `{kw['column_name']}` is {' and '.join(bounds) or 'any value'}."


def _relationships_composite(kw: Mapping[str, Any]) -> str:
    to_columns = kw.get("to_columns") or kw["columns"]
    target = f" as {_columns(to_columns)}" if list(to_columns) != list(kw["columns"]) else ""
    return f"Every {_columns(kw['columns'])} (all non-null) exists in {_relation(kw['to'])}{target}."


def _reconciles(kw: Mapping[str, Any]) -> str:
    text = (
        f"Summed per {_columns(kw['keys'])}, {', '.join(f'`{m}`' for m in kw['measures'])} equal the "
        f"{_relation(kw['parent'])} row with the same keys (within {kw.get('tolerance', 0.005)}), and every parent "
        "row with activity has rows here."
    )
    if kw.get("quarantine_tables"):
        text += f" Days with a quarantined record of {', '.join(kw['quarantine_tables'])} are skipped."
    return text


def _sums_to(kw: Mapping[str, Any]) -> str:
    return (
        f"Per {_columns(kw['group_by_columns'])}, `{kw['column_name']}` sums to {_sql(kw.get('expected', 1))} "
        f"(within {kw.get('tolerance', 0.000001)})."
    )


# the generic tests' rules: dbt's own and those of dbt/tests/generic (their SQL says the same in its comment)
_GENERIC: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "not_null": lambda kw: f"`{kw['column_name']}` is never null.",
    "unique": lambda kw: f"`{kw['column_name']}` is unique: no two rows share a value.",
    "accepted_values": lambda kw: (
        f"`{kw['column_name']}` is one of: {', '.join(str(v) for v in kw['values'])}."
    ),
    "relationships": lambda kw: (
        f"Every non-null `{kw['column_name']}` exists as `{kw['field']}` in {_relation(kw['to'])}."
    ),
    "cycle_accepted_range": _range,
    "cycle_unique_combination_of_columns": lambda kw: f"One row per {_columns(kw['combination_of_columns'])}.",
    "cycle_expression_is_true": lambda kw: f"Every row satisfies {_sql(kw['expression'])}.",
    "cycle_relationships_composite": _relationships_composite,
    "cycle_scd_covers_date": lambda kw: (
        f"Every row's `{kw['date_column']}` falls in exactly one version of {_relation(kw['to'])} with the same "
        f"{_columns(kw['columns'])}."
    ),
    "cycle_reconciles_with_parent": _reconciles,
    "cycle_sums_to": _sums_to,
    "cycle_has_no_rows": lambda kw: "The model has no rows: each one is something that needs attention.",
}


def _generic(name: str, kwargs: Mapping[str, Any]) -> str:
    arguments = {k: v for k, v in kwargs.items() if k != "model"}
    rule = _GENERIC.get(name)
    if rule is not None:
        try:
            return rule(arguments)
        except KeyError:  # called without an argument the rule reads: say what was given instead
            pass
    given = ", ".join(f"{k}={v}" for k, v in sorted(arguments.items()))
    return f"dbt test `{name}`" + (f" with {given}." if given else ".")


def _singular(test: Mapping[str, Any]) -> str:
    match = _LEADING_COMMENT.match(test.get("raw_code") or "")
    if match and match.group(1).strip():
        return " ".join(match.group(1).split())
    return f"Singular dbt test {test.get('original_file_path', test['name'])}: every row it returns fails."


def describe_test(test: Mapping[str, Any]) -> str:
    """The description of the asset check of the dbt test node ``test`` (a manifest node); never empty."""
    own = (test.get("description") or "").strip() or str((test.get("meta") or {}).get("description") or "").strip()
    metadata = test.get("test_metadata")
    if own:
        text = own
    elif metadata:
        text = _generic(metadata["name"], metadata.get("kwargs") or {})
    else:
        text = _singular(test)
    config = test.get("config") or {}
    if config.get("where"):
        text += f" Only rows where {_sql(config['where'])}."
    if str(config.get("severity") or "error").lower() == "warn":
        text += " Warns without blocking."
    return text
