"""The FNO benchmark compares like with like: physcon's and neuraloperator's models keep the same
Fourier modes and have the same parameter count (needs the ``bench`` extra; skipped without)."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

pytest.importorskip("torch")
pytest.importorskip("neuralop")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def fb():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("fno_throughput")
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("config", ["fno1d", "fno2d"])
@pytest.mark.parametrize("mode_set", ["nop", "physcon"])
def test_same_kept_modes_and_parameters(fb, config, mode_set):
    cfg = fb.CONFIGS[config]
    pm, nm = cfg["mode_sets"][mode_set]
    check = fb.kept_modes(cfg["res"], pm, nm)
    assert check["same"], check
    assert check["kept_weights_physcon"] == check["kept_weights_neuralop"]
    shapes = eqx.filter_eval_shape(fb.physcon_fno, cfg, pm, "dft")  # no initialisation
    n_physcon = sum(math.prod(a.shape) for a in jax.tree.leaves(shapes)
                    if isinstance(a, jax.ShapeDtypeStruct) and jnp.issubdtype(a.dtype, jnp.floating))
    n_torch, _ = fb.n_params_torch(fb.neuralop_fno(cfg, nm))
    assert n_physcon == n_torch
