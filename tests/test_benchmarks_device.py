"""The accelerator harness (benchmarks/run_device.py) runs in smoke mode on the CPU and its JSON
names the device and times every workload (compile time, steady-state median, memory)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import jax
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def rd():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("run_device")
    finally:
        sys.path.remove(str(BENCH))


def _timings(tree):
    if isinstance(tree, dict):
        if "compile_s" in tree:
            yield tree
        for v in tree.values():
            yield from _timings(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _timings(v)


def test_smoke_run_names_the_device_and_times_every_workload(rd, tmp_path):
    out = tmp_path / "device.json"
    assert rd.main(["--smoke", "--reps", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    dev = res["device"]
    assert dev["platform"] == jax.devices()[0].platform and dev["device_kind"] and dev["count"] >= 1
    assert res["machine"]["jax"] == jax.__version__ and res["smoke"] is True and res["errors"] == {}
    assert set(res["workloads"]) == set(rd.WORKLOADS)
    timings = list(_timings(res["workloads"]))
    assert len(timings) >= 17   # every compiled program of the nine workloads
    for t in timings:
        assert t["compile_s"] > 0 and 0 < t["min_ms"] <= t["median_ms"] <= t["max_ms"], t
    # the roofline: XLA's cost model of every program against the peaks measured in the same run
    peaks = res["workloads"]["peaks"]
    assert peaks["peak_gflops"] > 0 and peaks["peak_gb_per_s"] > 0
    bounded = [t for t in timings if "x_bound" in t]
    assert len(bounded) >= len(timings) - 5   # all but the peaks' own programs
    for t in bounded:
        assert t["cost"]["bytes"] > 0 and t["bound_ms"] > 0 and t["limited_by"] in ("flops", "bytes"), t
    # a loop workload's cost is its step's times the step count, not XLA's one-body count
    g = res["workloads"]["gpme"]
    assert g["batched"]["cost"]["flops"] > g["substeps"] * g["config"]["nx"] * g["config"]["batch"]
    boon = res["workloads"]["boon1d"]
    assert boon["faithful"]["overhead_vs_fno"] > 0 and boon["exact"]["overhead_vs_fno"] > 0
    assert res["workloads"]["gpme"]["batched"]["cell_updates_per_s"] > 0
    assert [c["n"] for c in res["workloads"]["probconserv"]["cases"]] == [100, 1000]


def test_a_failing_workload_is_recorded_and_the_others_kept(rd, tmp_path, monkeypatch):
    def broken(cfg, reps):
        raise FloatingPointError("boom")

    monkeypatch.setitem(rd.BENCH, "ns", broken)
    out = tmp_path / "device.json"
    assert rd.main(["--smoke", "--only", "probconserv", "ns", "--reps", "1", "--out", str(out)]) == 1
    res = json.loads(out.read_text())
    assert res["errors"] == {"ns": "FloatingPointError: boom"} and "probconserv" in res["workloads"]
