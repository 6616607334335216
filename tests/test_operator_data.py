"""BOON data sets at the paper's sizes (physcon.operator_data): presets, shapes at the paper's
sizes, boundary conditions, HDF5 round trips, bad input and broken files."""

from __future__ import annotations

import os

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon import metrics
from physcon import operator_data as od
from physcon.bc import Dirichlet, Neumann, Periodic
from physcon.solvers import BoonDataset
from physcon.solvers.heat import heater


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
    left, right = od.boundary_conditions("heat_neumann", ds)
    assert left == Neumann(0.0, order=1) and right == Neumann(heater, order=3)
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
    np.testing.assert_array_equal(rv, np.broadcast_to(heater(ds.t), (4, 25)))
    assert float(jnp.abs(lv).max()) == 0.0
    np.testing.assert_array_equal(
        metrics.boundary_error(ds.u, ds.x, left, right, left_value=lv, right_value=rv)["right"],
        err["right"])
    assert od.boundary_conditions("heat_neumann", order=(2, 4)) == (Neumann(0.0, order=2), Neumann(heater, order=4))


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
    x = jnp.linspace(0.0, 1.0, 3)
    tiny = BoonDataset(x, jnp.zeros(1), jnp.zeros((2, 3)), jnp.zeros((2, 1, 3)), {})
    with pytest.raises(ValueError, match="too few"):   # the right wall's order-3 stencil needs 4
        od.boundary_conditions("heat_neumann", tiny)
    assert od.boundary_conditions("heat_neumann", tiny, order=2)[1].order == 2
    with pytest.raises(ValueError, match=r"shape \(n, nt, nx\)"):
        od.boundary_values("stokes", tiny._replace(u=tiny.u[:, 0]))
    with pytest.raises(ValueError, match=r"shape \(m >= 2,\)"):
        od.with_periodic_endpoint(tiny._replace(x=x[:1]))
    with pytest.raises(ValueError, match="ntrain must be"):
        od.split(tiny, 0, 1)


# --- HDF5 --------------------------------------------------------------------------------------
def test_round_trip_is_exact_and_regenerable(small, tmp_path):
    ds, cfg = small
    path = od.save_operator_data(tmp_path / "s.h5", ds, name="stokes", meta=cfg)
    back, meta = od.load_operator_data(path, name="stokes")
    assert meta == cfg
    for k in ("x", "t", "a", "u"):
        got, want = getattr(back, k), np.asarray(getattr(ds, k))
        assert isinstance(got, np.ndarray) and got.dtype == np.float64
        np.testing.assert_array_equal(got, want)
    assert set(back.params) == {"U", "omega"}
    np.testing.assert_array_equal(back.params["U"], np.asarray(ds.params["U"]))
    info = od.operator_data_info(path)
    assert info["name"] == "stokes" and info["format"] == od.FORMAT
    assert info["shapes"]["u"] == (3, 25, 20) and info["meta"] == cfg
    again = od.boon_dataset_from_config(meta)
    np.testing.assert_array_equal(np.asarray(again.u), back.u)
    with pytest.raises(ValueError, match="expected name='heat'"):
        od.load_operator_data(path, name="heat")
    # an empty params dict (periodic Burgers) round-trips too
    bare = BoonDataset(ds.x, ds.t, ds.a, ds.u, {})
    od.save_operator_data(tmp_path / "bare.h5", bare, name="bare", meta={})
    assert od.load_operator_data(tmp_path / "bare.h5")[0].params == {}


def test_round_trip_keeps_float32_ints_and_nested_meta(tmp_path):
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 7, dtype=np.float32)
    t = np.array([0.5], np.float32)
    ds = BoonDataset(x, t, rng.standard_normal((4, 7), np.float32), rng.standard_normal((4, 1, 7), np.float32),
                        {"k": np.arange(4, dtype=np.int32), "omega": rng.uniform(2, 4, 4)})
    meta = {"problem": "heat_neumann", "nested": {"list": [1, 2.5, None], "text": "µ-ν"}, "flag": False}
    od.save_operator_data(tmp_path / "f32.h5", ds, name="heat 32", meta=meta)
    back, got = od.load_operator_data(tmp_path / "f32.h5", name="heat 32")
    assert got == meta
    for k in ("x", "t", "a", "u"):
        assert getattr(back, k).dtype == np.float32 and getattr(back, k).shape == getattr(ds, k).shape
        np.testing.assert_array_equal(getattr(back, k), getattr(ds, k))   # bit for bit
    assert back.params["k"].dtype == np.int32 and back.params["omega"].dtype == np.float64
    for k in ds.params:
        np.testing.assert_array_equal(back.params[k], ds.params[k])
    info = od.operator_data_info(tmp_path / "f32.h5")
    assert info["shapes"] == {"x": (7,), "t": (1,), "a": (4, 7), "u": (4, 1, 7)}
    assert info["created"].endswith("Z") and info["physcon_version"]


def test_save_never_overwrites_silently(small, tmp_path):
    ds, cfg = small
    path = tmp_path / "s.h5"
    od.save_operator_data(path, ds, name="stokes", meta=cfg)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        od.save_operator_data(path, ds, name="stokes", meta={})
    assert path.read_bytes() == before
    od.save_operator_data(path, ds, name="stokes", meta={"v": 2}, overwrite=True)
    assert od.load_operator_data(path)[1] == {"v": 2}
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_save_rejects_bad_input(small, tmp_path):
    ds, cfg = small
    with pytest.raises(ValueError, match="meta must be JSON"):
        od.save_operator_data(tmp_path / "a.h5", ds, name="s", meta={"x": object()})
    with pytest.raises(ValueError, match="name must be"):
        od.save_operator_data(tmp_path / "a.h5", ds, name="", meta={})
    with pytest.raises(ValueError, match="meta must be a dict"):
        od.save_operator_data(tmp_path / "a.h5", ds, name="s", meta=[cfg])
    with pytest.raises(ValueError, match="ds must be a BoonDataset"):
        od.save_operator_data(tmp_path / "a.h5", tuple(ds), name="s", meta={})
    with pytest.raises(ValueError, match="x and t must be 1-D"):
        od.save_operator_data(tmp_path / "a.h5", ds._replace(t=ds.t[:, None]), name="s", meta={})
    with pytest.raises(ValueError, match="u has shape"):
        od.save_operator_data(tmp_path / "a.h5", ds._replace(u=ds.u[:, :, :-1]), name="s", meta={})
    with pytest.raises(ValueError, match=r"params\['U'\] has shape"):
        od.save_operator_data(tmp_path / "a.h5", ds._replace(params={"U": ds.params["U"][:2]}), name="s", meta={})
    assert not os.listdir(tmp_path)


def test_load_rejects_broken_files(small, tmp_path):
    ds, cfg = small
    good = tmp_path / "good.h5"
    od.save_operator_data(good, ds, name="stokes", meta=cfg)
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(ValueError, match="truncated"):
        od.load_operator_data(truncated)
    with pytest.raises(FileNotFoundError):
        od.load_operator_data(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="truncated"):
        od.operator_data_info(truncated)

    def edited(name, edit):
        p = tmp_path / name
        p.write_bytes(good.read_bytes())
        with h5py.File(p, "a") as f:
            edit(f)
        return p

    with pytest.raises(ValueError, match="missing u"):
        od.load_operator_data(edited("nou.h5", lambda f: f.__delitem__("u")))
    with pytest.raises(ValueError, match="missing params"):
        od.load_operator_data(edited("nop.h5", lambda f: f.__delitem__("params")))
    with pytest.raises(ValueError, match=r"missing attrs\['meta'\]"):
        od.load_operator_data(edited("nometa.h5", lambda f: f.attrs.__delitem__("meta")))
    with pytest.raises(ValueError, match="format"):
        od.load_operator_data(edited("fmt.h5", lambda f: f.attrs.__setitem__("format", "physcon.gpme/1")))
    with pytest.raises(ValueError, match="not valid JSON"):
        od.load_operator_data(edited("json.h5", lambda f: f.attrs.__setitem__("meta", "{oops")))

    def replace(key, cut):
        def edit(f):
            v = f[key][()]
            del f[key]
            f[key] = cut(v)
        return edit

    with pytest.raises(ValueError, match="u has shape"):
        od.load_operator_data(edited("u.h5", replace("u", lambda v: v[:, :-1])))
    with pytest.raises(ValueError, match="a has shape"):
        od.load_operator_data(edited("a.h5", replace("a", lambda v: v[:, 1:])))
    with pytest.raises(ValueError, match=r"params\['omega'\] has shape"):
        od.load_operator_data(edited("p.h5", replace("params/omega", lambda v: v[:1])))
