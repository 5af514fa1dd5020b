"""The API's validation messages: pydantic's errors rewritten into ones a user can act on (valid values
listed), shared by REST's 422 answers and GraphQL's errors so both say the same."""

from __future__ import annotations

from typing import Any

from api.schemas import AD_PLATFORMS, ATTRIBUTION_MODELS, ORGANIC_PLATFORMS, PLATFORMS

# Valid values per query parameter, used to make "missing" errors actionable.
_REQUIRED_CHOICES = {"model": ATTRIBUTION_MODELS}


def describe(error: dict[str, Any], path: str) -> str:
    """Rewrite pydantic's message into one a user can act on."""
    loc = error.get("loc") or ()
    field = str(loc[-1]) if loc else ""
    kind = error.get("type", "")
    value = error.get("input")
    msg = str(error.get("msg", ""))
    if kind == "enum":
        expected = (error.get("ctx") or {}).get("expected", "")
        if field == "platform" and path.rstrip("/").endswith("/optimal-hours"):
            valid = ", ".join(ORGANIC_PLATFORMS)
            if value in AD_PLATFORMS:
                return (f"'{value}' is an ad platform; optimal hours exist only for organic platforms. "
                        f"Valid values: {valid}")
            return f"Unknown platform '{value}'. Valid values: {valid}"
        if field == "platform":
            return f"Unknown platform '{value}'. Valid values: {', '.join(PLATFORMS)}"
        if field == "model":
            return f"Unknown attribution model '{value}'. Valid values: {', '.join(ATTRIBUTION_MODELS)}"
        return f"Unknown {field} '{value}'. Valid values: {expected}"
    if kind == "missing" and field in _REQUIRED_CHOICES:
        return f"Query parameter '{field}' is required. Valid values: {', '.join(_REQUIRED_CHOICES[field])}"
    if field == "top" and kind in {"greater_than_equal", "less_than_equal", "int_parsing", "int_from_float"}:
        return f"top must be an integer between 1 and 24 (got {value!r})"
    if msg.startswith("Value error, "):  # raised by our own validators (dates)
        msg = msg[len("Value error, "):]
        if field:
            msg = f"{field}: {msg}"
    return msg
