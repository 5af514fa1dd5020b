"""Publishing the serving files: each is written under a temporary name in the serving folder, flushed to
disk, then moved over the old one with ``os.replace`` (atomic on one filesystem), so a reader sees the old
file or the new one, never half of one.

A data file is serialized in memory first, so its checksum is computed over exactly the bytes written;
``publish_snapshot`` writes the data files, then the manifest naming their checksums, last."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics_assets.contracts.serving import MANIFEST, PublishedFile, ServingManifest


def publish(target: Path, write: Callable[[Path], object]) -> None:
    """Write through a unique temporary name in the same folder, then move it over ``target``."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():  # the write failed: leave no temporary file behind
            tmp.unlink()


def publish_bytes(data: bytes, target: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the manifest that names it can be

    publish(target, write)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def publish_parquet(frame: pd.DataFrame, target: Path) -> PublishedFile:
    """Publish ``frame`` as ``target``; returns its manifest entry (rows, bytes, sha256)."""
    data = parquet_bytes(frame)
    publish_bytes(data, target)
    return PublishedFile.of(data, rows=len(frame))


def publish_json(payload: dict, target: Path) -> None:
    publish_bytes(json.dumps(payload, indent=2, default=str).encode(), target)


def publish_snapshot(out: Path, frames: Mapping[str, pd.DataFrame], published_at: datetime) -> ServingManifest:
    """Publish every frame (file name -> frame) into ``out``, then ``manifest.json`` naming their row
    counts, sizes and checksums: a reader never finds a manifest whose files are not in place yet."""
    out.mkdir(parents=True, exist_ok=True)
    files = {name: publish_parquet(frame, out / name) for name, frame in frames.items()}
    manifest = ServingManifest(published_at=published_at, files=files)
    publish_json(manifest.to_json(), out / MANIFEST)
    return manifest
