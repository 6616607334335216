"""The BOON reproduction pipeline at tiny sizes: files, exact walls in float64, data reuse."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

from physcon.experiments import boon as bx

TINY = dataclasses.replace(
    bx.QUICK, single=("heat_neumann",), multi=("stokes",), n_train=20, n_test=4, n_train_multi=20,
    n_test_multi=4, nx=17, nx_multi=17, epochs=1, epochs_multi=1, width=8, modes=4, width_multi=8,
    modes_multi=4, ablation=False, compare_modes=False, log_every=1)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("boon")
    return bx.run(TINY, str(out), progress=False, log=lambda *a: None), out


def test_run_writes_the_report(result):
    res, out = result
    assert set(res["cases"]) == {"heat_neumann/single", "stokes/multi"}
    for name in ("table.md", "results.json", "heat_neumann_single_prediction.png", "heat_neumann_single_error.png",
                 "stokes_multi_prediction.png", "stokes_multi_error.png"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "results.json").read_text())
    assert saved["cases"]["stokes/multi"]["nt"] == 25 and saved["cases"]["stokes/multi"]["nx_2x"] == 33
    assert saved["cases"]["heat_neumann/single"]["nx_half"] == 9  # 0.5x zero-shot: closed-form inputs
    assert np.isfinite(saved["cases"]["heat_neumann/single"]["models"]["BOON"]["rel_l2_half"])
    table = (out / "table.md").read_text()
    assert "heat_neumann/single" in table and "right_derivative_indep" in table and "0.0123" in table
    assert "rel L2 (0.5x, zero-shot)" in table
    for case in saved["cases"].values():
        assert len(case["models"]["FNO"]["loss"]) == 1 and case["models"]["FNO"]["s_per_epoch"] > 0
        if case["multi_step"]:
            assert len(case["models"]["BOON"]["err_t"]) == 25


def test_boon_walls_are_exact_in_float64_and_fno_walls_are_not(result):
    res, _ = result
    for name, case in res["cases"].items():
        for key in ("boundary", "boundary_2x"):  # also zero-shot at twice the resolution
            for metric, boon in case["models"]["BOON"][key].items():
                fno = case["models"]["FNO"][key][metric]
                assert np.isfinite(case["models"]["BOON"]["rel_l2"])
                if metric.endswith("_indep"):  # another stencil than the one BOON imposes
                    continue
                assert boon["max"] < 1e-12, (name, key, metric, boon)
                assert fno["mean"] > 1e-6, (name, key, metric, fno)


def test_base_set_is_every_second_node_of_the_fine_set():
    for problem, multi in (("heat_neumann", False), ("stokes", True), ("burgers_dirichlet", False)):
        fine = bx.generate(problem, 3, multi_step=multi, quick=True, nx=9, fine=True)
        base = bx.generate(problem, 3, multi_step=multi, quick=True, nx=9)
        coarse = bx.coarsen(fine)
        assert fine["x"].size == 17
        for k, v in base.items():
            np.testing.assert_array_equal(v, coarse[k], err_msg=f"{problem} {k}")


def test_model_inputs_and_loss():
    ds = bx.generate("stokes", 3, multi_step=True, quick=True, nx=9)
    d = bx.model_inputs(ds, "stokes", True, np.float32)
    assert d["a"].shape == d["u"].shape == (3, 1, 9, 25) and d["left"].shape == (3, 25)
    np.testing.assert_array_equal(d["left"], ds["u"][:, :, 0].astype(np.float32))
    u = jnp.asarray(d["u"])
    assert float(jnp.sum(bx.relative_l2(u, u))) == 0.0
    assert float(jnp.sum(bx.relative_l2(2 * u, u))) == pytest.approx(3.0)  # summed over the batch
    single = bx.model_inputs(bx.generate("heat_neumann", 2, multi_step=False, quick=True, nx=9), "heat_neumann",
                             False, np.float32)
    assert single["a"].shape == (2, 1, 9) and "left" not in single  # Neumann values are not oracle data
