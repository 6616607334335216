"""Timing run: ``python -m physcon.data.operator [--quick]`` generates every BOON data set
once in float64 and prints the seconds (the numbers in
:data:`physcon.data.operator.registry.TIMINGS`)."""

import sys
import time

import jax

from physcon.data.operator.datasets import boon_dataset
from physcon.data.operator.registry import BOON_PROBLEMS


def _time_all(problems=None, modes=(False, True), quick=False):  # pragma: no cover - a timing run
    """Generate every paper-size set once in float64 and print the seconds (fills TIMINGS)."""
    jax.config.update("jax_enable_x64", True)
    for p in problems or BOON_PROBLEMS:
        for multi in modes:
            t0 = time.perf_counter()
            ds = boon_dataset(p, multi_step=multi, quick=quick)
            jax.block_until_ready(ds.u)
            dt = time.perf_counter() - t0
            print(f"{p:18s} multi_step={multi!s:5s} u{tuple(ds.u.shape)}  {dt:7.1f} s", flush=True)


if __name__ == "__main__":  # pragma: no cover
    _time_all(quick="--quick" in sys.argv)
