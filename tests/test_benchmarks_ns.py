"""The Navier-Stokes throughput benchmark runs (tiny mode) and times the same computation as
jax-cfd: same scheme, time step and initial data, final fields agree (needs jax-cfd; skipped
without)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax_cfd.spectral")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def nb():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("ns_throughput")
    finally:
        sys.path.remove(str(BENCH))


def test_tiny_run_writes_ratios_and_agrees(nb, tmp_path):
    out = tmp_path / "ns.json"
    assert nb.main(["--quick", "--sizes", "16", "--reps", "2", "--gap-ms", "0", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["peer_versions"]["jax_cfd"]
    assert [(c["n"], c["mode"]) for c in res["cases"]] == [(16, "single"), (16, "batched")]
    for case in res["cases"]:
        cs = case["contenders"]
        assert set(cs) >= {"physcon", "jax-cfd"}
        assert all(c["finite"] and c["ms_per_step_median"] > 0 for c in cs.values())
        assert cs["physcon"]["ratio_vs_jax_cfd"] > 0
        assert case["dt"] == 1e-4
        # same scheme, dt and initial data: the final fields agree to float32 round-off
        # (the two 2/3 filters differ only in the k_x = +floor(n/3) row, which jax-cfd drops
        # and physcon keeps; the smooth FNO field has almost nothing there)
        assert case["agreement"]["rel_l2_physcon_vs_jax_cfd"] < 1e-3
