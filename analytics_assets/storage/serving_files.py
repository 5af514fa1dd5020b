"""Publishing the serving files: each is written under a temporary name in the serving folder, then moved
over the old one with ``os.replace`` (atomic on one filesystem), so a reader sees the old file or the new
one, never half of one."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def publish(target: Path, write: Callable[[Path], object]) -> None:
    """Write through a unique temporary name in the same folder, then move it over ``target``."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    write(tmp)
    os.replace(tmp, target)


def publish_parquet(frame: pd.DataFrame, target: Path) -> None:
    publish(target, lambda tmp: frame.to_parquet(tmp, index=False))


def publish_json(payload: dict, target: Path) -> None:
    publish(target, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))
