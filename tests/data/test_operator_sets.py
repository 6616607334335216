"""The 1-D operator sets (physcon.data.operator): presets, shapes at the paper's sizes, boundary
conditions, the Dataset view and its file round trip, the deprecated physcon.operator_data alias."""

from __future__ import annotations

import importlib
import sys
import warnings

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon import metrics
from physcon import data
from physcon.data import operator as od
from physcon.bc import Dirichlet, Neumann, Periodic
from physcon.solvers import BoonDataset, heat


@pytest.fixture
def small(x64):
    """A tiny float64 Stokes set with per-sample params, and its config."""
    cfg = od.boon_config("stokes", multi_step=True, n=3, nx=20, seed=4)
    return od.boon_dataset_from_config(cfg), cfg


# --- presets -----------------------------------------------------------------------------------
def test_presets_match_the_paper(x32):
    expect = {  # (problem, multi_step): (nx, n, refine, generator kwargs it must hold)
        ("heat_neumann", False): (500, 600, 1, {}),
        ("heat_neumann", True): (1024, 1200, 1, {}),
        ("stokes", False): (500, 600, 1, {"nu": 0.1, "t_final": 1.2}),
        ("stokes", True): (500, 1200, 1, {"nu": 0.1, "t_final": 1.2, "n_frames": 25}),
        ("burgers_dirichlet", False): (500, 600, 1, {"nu": 0.1, "t_final": 1.0}),
        ("burgers_dirichlet", True): (500, 1200, 1, {"nu": 0.1, "t_final": 1.0, "n_frames": 25}),
        ("burgers_periodic", False): (128, 600, 16, {"nu": 0.1}),
        ("burgers_periodic", True): (128, 1200, 8, {"nu": 0.01}),
    }
    for (p, multi), (nx, n, refine, kw) in expect.items():
        cfg = od.boon_config(p, multi_step=multi)
        assert (cfg["nx"], cfg["n"], cfg["refine"]) == (nx, n, refine), (p, multi)
        assert cfg["ntrain"] + cfg["ntest"] == n and cfg["ntest"] == n // 6
        assert kw.items() <= cfg["generator"].items()
    for p in od.BOON_PROBLEMS:
        for multi in (False, True):
            q = od.boon_config(p, multi_step=multi, quick=True)
            nx = 64 if multi or p == "burgers_periodic" else 128
            assert (q["n"], q["ntrain"], q["ntest"], q["nx"], q["quick"]) == (120, 100, 20, nx, True)
            assert q["dtype"] == "float32" and q["physcon_version"]
    cfg = od.boon_config("stokes", multi_step=True, U_range=(0, 1))
    assert cfg["generator"]["U_range"] == [0, 1] and cfg["generator"]["nu"] == 0.1
    with pytest.raises(ValueError, match="problem must be one of"):
        od.boon_config("wave", multi_step=False)
    with pytest.raises(ValueError, match="refine must be 1"):
        od.boon_config("stokes", multi_step=True, refine=2)
    with pytest.raises(ValueError, match="nx must be"):
        od.boon_config("stokes", multi_step=True, nx=2)
    with pytest.raises(ValueError, match="JSON"):
        od.boon_config("heat_neumann", multi_step=False, omega_range=np.array([2.0, 3.0]))


def test_quick_shapes_and_split(x64):
    shapes = {  # (problem, multi_step, nx): u shape for n = 3
        ("heat_neumann", False, 128): (3, 1, 128),
        ("heat_neumann", True, 64): (3, 25, 64),
        ("stokes", True, 64): (3, 25, 64),
        ("burgers_dirichlet", False, 128): (3, 1, 128),
    }
    for (p, multi, nx), shape in shapes.items():
        ds = od.boon_dataset(p, multi_step=multi, quick=True, n=3)
        assert ds.u.shape == shape and ds.a.shape == (3, nx) and ds.x.shape == (nx,), p
        assert ds.u.dtype == jnp.float64
        assert float(ds.x[0]) == 0.0 and float(ds.x[-1]) == 1.0  # both walls are grid points
        np.testing.assert_allclose(ds.x, np.linspace(0, 1, nx), rtol=0, atol=1e-15)
    heat = od.boon_dataset("heat_neumann", multi_step=True, quick=True, n=3)
    np.testing.assert_allclose(heat.t, np.linspace(0, 0.5, 200)[-25:], rtol=0, atol=1e-15)
    train, test = od.split(heat, 2, 1)
    np.testing.assert_array_equal(train.u, heat.u[:2])
    np.testing.assert_array_equal(test.u, heat.u[2:])
    np.testing.assert_array_equal(test.params["omega"], heat.params["omega"][2:])
    with pytest.raises(ValueError, match="overlap"):
        od.split(heat, 2, 2)


def test_refined_solve_keeps_the_walls_and_matches_direct_solve(x64):
    # heat solved on (nx - 1) * 4 + 1 nodes and subsampled: same input and grid, and the
    # direct solve's error (the difference) falls at second order
    diffs = []
    for nx in (65, 129):
        fine = od.boon_dataset("heat_neumann", multi_step=False, n=2, nx=nx, refine=4)
        coarse = od.boon_dataset("heat_neumann", multi_step=False, n=2, nx=nx, refine=1)
        np.testing.assert_array_equal(fine.a, coarse.a)
        np.testing.assert_allclose(fine.x, coarse.x, rtol=0, atol=1e-15)
        assert float(fine.x[-1]) == 1.0
        diffs.append(float(jnp.max(jnp.abs(fine.u - coarse.u))))
    assert diffs[0] < 5e-3 and 3.5 < diffs[0] / diffs[1] < 4.5


def test_heat_data_satisfy_their_neumann_walls(x64):
    ds = od.boon_dataset("heat_neumann", multi_step=True, quick=True, n=4)
    # the default: the generator's walls with the order-5 stencil, met to the data's own error
    left5, right5 = od.boundary_conditions("heat_neumann", ds)
    assert (left5, right5) == (heat.HeatNeumann().left, heat.HeatNeumann().right)
    assert left5 == Neumann(0.0, order=5) and right5 == Neumann(heat.heater, order=5)
    err5 = metrics.boundary_error(ds.u, ds.x, left5, right5, t=ds.t)
    # measured 2.7e-4 / 1.3e-3 on these 64 nodes, against 0.6 / 2e-2 for the paper's order 1 / 3
    assert float(err5["left"].max()) < 1e-3 and float(err5["right"].max()) < 5e-3
    left, right = od.boundary_conditions("heat_neumann", ds, order="paper")
    assert left == Neumann(0.0, order=1) and right == Neumann(heat.heater, order=3)
    h = float(ds.x[1] - ds.x[0])
    err = metrics.boundary_error(ds.u, ds.x, left, right, t=ds.t)
    assert err["left"].shape == err["right"].shape == (4, 25)
    # right: 3rd-order stencil on second-order accurate data; the heater value is ~5
    assert float(err["right"].max()) < 5e-2
    # left: BOON's first-order [1, -1] stencil is off by h |u_xx| / 2 on any smooth data
    u_xx = np.abs(np.asarray(ds.u[..., 2] - 2 * ds.u[..., 1] + ds.u[..., 0])) / h**2
    np.testing.assert_allclose(err["left"], h * u_xx / 2, rtol=0.1, atol=1e-3)
    # an independent second-order stencil sees the walls satisfied to O(h^2)
    err2 = metrics.boundary_error(ds.u, ds.x, left, right, t=ds.t, order=2)
    assert float(err2["left"].max()) < 2e-2 and float(err2["right"].max()) < 5e-2
    lv, rv = od.boundary_values("heat_neumann", ds)
    np.testing.assert_array_equal(rv, np.broadcast_to(heat.heater(ds.t), (4, 25)))
    assert float(jnp.abs(lv).max()) == 0.0
    np.testing.assert_array_equal(
        metrics.boundary_error(ds.u, ds.x, left, right, left_value=lv, right_value=rv)["right"],
        err["right"])
    assert od.boundary_conditions("heat_neumann", order=(2, 4)) == (Neumann(0.0, order=2), Neumann(heat.heater, order=4))


def test_dirichlet_values_are_the_oracle(x64):
    st = od.boon_dataset("stokes", multi_step=True, quick=True, n=3)
    bd = od.boon_dataset("burgers_dirichlet", multi_step=False, quick=True, n=3)
    for name, ds in (("stokes", st), ("burgers_dirichlet", bd)):
        left, right = od.boundary_conditions(name, ds)
        assert isinstance(left, Dirichlet) and isinstance(right, Dirichlet)
        with pytest.raises(ValueError, match="oracle"):
            left.at(ds.t)
        with pytest.raises(ValueError, match="oracle"):  # never silently scored against 0
            metrics.boundary_error(ds.u, ds.x, left, right, t=ds.t)
        lv, rv = od.boundary_values(name, ds)
        assert lv.shape == rv.shape == ds.u.shape[:2]
        err = metrics.boundary_error(ds.u, ds.x, left, right, left_value=lv, right_value=rv)
        assert float(err["left"].max()) == 0.0 and float(err["right"].max()) == 0.0
    # the oracle values are the physical ones: Stokes' plate and Burgers' constant walls
    U, w = st.params["U"], st.params["omega"]
    np.testing.assert_allclose(od.boundary_values("stokes", st)[0], U[:, None] * jnp.cos(w[:, None] * st.t),
                               rtol=0, atol=1e-15)
    lv, rv = od.boundary_values("burgers_dirichlet", bd)
    np.testing.assert_array_equal(lv[:, 0], bd.params["u_left"])
    np.testing.assert_array_equal(rv[:, 0], bd.params["u_right"])
    with pytest.raises(ValueError, match="order only applies"):
        od.boundary_conditions("stokes", order=2)


def test_periodic_grid_includes_the_copied_endpoint(x64):
    for multi in (False, True):
        ds = od.boon_dataset("burgers_periodic", multi_step=multi, quick=True, n=2)
        nt = 25 if multi else 1
        assert ds.u.shape == (2, nt, 64) and ds.a.shape == (2, 64)
        np.testing.assert_allclose(ds.x, np.linspace(0, 1, 64), rtol=0, atol=1e-15)
        np.testing.assert_array_equal(ds.u[..., -1], ds.u[..., 0])
        np.testing.assert_array_equal(ds.a[..., -1], ds.a[..., 0])
        assert od.boundary_conditions("burgers_periodic", ds) == (Periodic(), Periodic())
        assert od.boundary_values("burgers_periodic", ds) == (None, None)
        err = metrics.boundary_error(ds.u, ds.x, Periodic(), Periodic())
        assert float(err["periodic"].max()) == 0.0
    assert float(jnp.abs(ds.u).max()) > 0.1  # a real field, not zeros
    opened = od.boon_dataset("burgers_periodic", multi_step=False, quick=True, n=2, endpoint=False)
    np.testing.assert_allclose(opened.x, np.arange(64) / 64, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="endpoint=True"):
        od.boundary_conditions("burgers_periodic", opened)
    closed = od.with_periodic_endpoint(opened)
    assert closed.u.shape[-1] == 65 and float(closed.x[-1]) == 1.0
    np.testing.assert_array_equal(closed.u[..., :-1], opened.u)


def test_shapes_at_the_paper_sizes():
    # the full sets, traced only (no solve): heat and Stokes trace without concrete values
    for p in ("heat_neumann", "stokes"):
        for multi in (False, True):
            cfg = od.boon_config(p, multi_step=multi)
            n, nx, nt = cfg["n"], cfg["nx"], 25 if multi else 1
            ds = jax.eval_shape(lambda: od.boon_dataset_from_config(cfg))
            assert ds.u.shape == (n, nt, nx) and ds.a.shape == (n, nx), (p, multi)
            assert ds.x.shape == (nx,) and ds.t.shape == (nt,)
            assert ds.params and all(v.shape == (n,) for v in ds.params.values())
    # Burgers' explicit step counts need concrete data: one real sample of the periodic set,
    # solved on the paper's 127 x 16 points and closed (Burgers-Dirichlet takes heat's node-grid path)
    ds = od.boon_dataset("burgers_periodic", multi_step=False, n=1)
    assert ds.u.shape == (1, 1, 128) and ds.a.shape == (1, 128) and ds.t.shape == (1,)
    assert float(ds.x[0]) == 0.0 and float(ds.x[-1]) == 1.0 and bool(jnp.all(jnp.isfinite(ds.u)))
    np.testing.assert_array_equal(ds.u[..., -1], ds.u[..., 0])


def test_bad_input_is_rejected_early():
    for kwargs, match in (({"n": 0}, "n must be"), ({"seed": -1}, "seed must be"),
                          ({"seed": True}, "seed must be"), ({"nx": 64.0}, "nx must be"),
                          ({"refine": 0}, "refine must be"), ({"endpoint": "yes"}, "endpoint must be")):
        with pytest.raises(ValueError, match=match):
            od.boon_config("heat_neumann", multi_step=False, **kwargs)
    with pytest.raises(ValueError, match="not a boon_config"):
        od.boon_dataset_from_config({"problem": "stokes"})
    with pytest.raises(ValueError, match="problem must be one of"):
        od.boundary_conditions("heat")
    with pytest.raises(ValueError, match="order must be"):
        od.boundary_conditions("heat_neumann", order=(1, 2, 3))
    with pytest.raises(ValueError, match="order must be"):
        od.boundary_conditions("heat_neumann", order=0)
    with pytest.raises(ValueError, match="order must be"):
        od.boundary_conditions("heat_neumann", order="published")
    x = jnp.linspace(0.0, 1.0, 3)
    tiny = BoonDataset(x, jnp.zeros(1), jnp.zeros((2, 3)), jnp.zeros((2, 1, 3)), {})
    with pytest.raises(ValueError, match="too few"):   # the order-5 stencils need 6 nodes
        od.boundary_conditions("heat_neumann", tiny)
    assert od.boundary_conditions("heat_neumann", tiny, order=2)[1].order == 2
    with pytest.raises(ValueError, match=r"shape \(n, nt, nx\)"):
        od.boundary_values("stokes", tiny._replace(u=tiny.u[:, 0]))
    with pytest.raises(ValueError, match=r"shape \(m >= 2,\)"):
        od.with_periodic_endpoint(tiny._replace(x=x[:1]))
    with pytest.raises(ValueError, match="ntrain must be"):
        od.split(tiny, 0, 1)


# --- as a physcon.data.Dataset ------------------------------------------------------------------
def test_kind_is_the_preset_set_with_the_input_as_frame_zero(small, tmp_path):
    ds, cfg = small
    kind = data.generate("stokes", 3, seed=4, multi_step=True, nx=20)
    assert kind.shape == (3, 26, 20) and kind.t[0] == 0.0
    np.testing.assert_array_equal(kind.u[:, 0], np.asarray(ds.a))
    np.testing.assert_array_equal(kind.u[:, 1:], np.asarray(ds.u))
    np.testing.assert_array_equal(kind.t[1:], np.asarray(ds.t))
    assert kind.seed == 4 and kind.settings["generator"] == cfg["generator"] and kind.settings["nx"] == 20
    back = od.to_operator_pair(data.load(data.save(tmp_path / "s.h5", kind)))
    for k in ("x", "t", "a", "u"):
        np.testing.assert_array_equal(getattr(back, k), np.asarray(getattr(ds, k)))
        assert getattr(back, k).dtype == np.float64
    assert set(back.params) == {"U", "omega"}
    np.testing.assert_array_equal(back.params["U"], np.asarray(ds.params["U"]))
    assert data.verify(tmp_path / "s.h5") == 0.0
    with pytest.raises(ValueError, match="operator kinds"):
        od.to_operator_pair(data.generate("stefan", 2, nx=8, nt=3))


def test_walls_round_trip_into_the_conditions_boon_imposes(x64):
    for name, kw in (("heat_neumann", dict(multi_step=True, quick=True)), ("stokes", dict(multi_step=True, nx=16)),
                     ("burgers_periodic", dict(nx=16, refine=2))):
        kind = data.generate(name, 2, seed=0, **kw)
        pair = od.to_operator_pair(kind)
        bcs = kind.boundary_conditions()
        want = od.boundary_conditions(name, pair)
        if name == "burgers_periodic":
            assert bcs == {"x_periodic": Periodic()}
            continue
        for got, ref in zip((bcs["x_left"], bcs["x_right"]), want):
            assert type(got) is type(ref) and getattr(got, "order", None) == getattr(ref, "order", None)
        values = kind.boundary_values()
        lv, rv = od.boundary_values(name, pair)
        np.testing.assert_array_equal(values["x_left"][:, 1:], np.asarray(lv))
        np.testing.assert_array_equal(values["x_right"][:, 1:], np.asarray(rv))
        if name == "heat_neumann":  # the heater's values, tabulated at the stored times
            np.testing.assert_array_equal(np.asarray(jax.vmap(bcs["x_right"].value)(jnp.asarray(pair.t))),
                                          np.asarray(heat.heater(pair.t)))
        else:  # the oracle: evaluating it raises, the values come from the field
            with pytest.raises(ValueError, match="oracle"):
                bcs["x_left"].at(0.5)


def test_bad_kind_settings():
    with pytest.raises(ValueError, match="ntrain=7 is not the preset"):
        data.generate("heat_neumann", 2, quick=True, ntrain=7)
    with pytest.raises(ValueError, match="JSON"):
        data.generate("heat_neumann", 2, omega_range=np.array([2.0, 3.0]))


def test_operator_data_is_a_deprecated_alias():
    sys.modules.pop("physcon.operator_data", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alias = importlib.import_module("physcon.operator_data")
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert alias.boon_dataset is od.boon_dataset and alias.BOON_PROBLEMS is od.BOON_PROBLEMS
    from physcon.operator_data.registry import BOON_PROBLEMS

    assert BOON_PROBLEMS is od.BOON_PROBLEMS
