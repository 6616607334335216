"""Machine and library facts recorded in every benchmark's JSON (shared by the scripts)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from pathlib import Path


def machine_info() -> dict:
    import equinox
    import jax
    import jaxlib
    import numpy as np
    import optax

    import physcon

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = None
    return {
        "nproc": os.cpu_count(),
        "nproc_affinity": affinity,
        "cpu_model": model,
        "mem_total_gib": mem,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "equinox": equinox.__version__,
        "optax": optax.__version__,
        "physcon": physcon.__version__,
        "jax_devices": [str(d) for d in jax.devices()],
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_result(path, result: dict) -> None:
    """Write a benchmark's JSON (creating the folder) and say where."""
    import json

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
