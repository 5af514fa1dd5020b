"""Process-level runtime helpers shared by the ML modules."""

from __future__ import annotations

import random

import numpy as np

from analytics_assets.settings import load_settings


def configure_torch_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op thread count and return the value used.

    Several Dagster/worker processes share a small machine, so we default to a
    single thread (override with ``CYCLE_TORCH_THREADS`` or the argument).
    Oversubscribing cores makes small-model training much *slower*, not faster.
    """
    import torch

    if num_threads is None:
        num_threads = load_settings().torch_threads
    num_threads = max(1, int(num_threads))
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
    # Inter-op threads can only be set once per process (before any parallel
    # work); afterwards torch raises, which is harmless to ignore.
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return num_threads


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch so training is reproducible."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
