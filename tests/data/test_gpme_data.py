"""The GPME kinds of physcon.data: batched generation, sharding, the file round trip."""

import os
import subprocess
import sys
import textwrap

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon import data


@pytest.fixture(scope="module")
def small():
    return data.generate("stefan", 5, seed=3, nx=40, nt=6, batch_size=2)


def test_generate_matches_single_solves(x64):
    ds = data.generate("pme", 3, seed=1, nx=30, nt=5, batch_size=2)
    assert ds.u.shape == (3, 5, 30) and ds.u.dtype == np.float64
    lo, hi = pc.gpme.PorousMedium.train_range
    assert set(ds.params) == {"m"} and ds.parameter == "m"
    assert np.all((ds.params["m"] >= lo) & (ds.params["m"] <= hi))
    grid = pc.Grid1D.cells(*pc.gpme.PorousMedium.domain, n=30)
    for i, m in enumerate(ds.params["m"]):
        u = pc.gpme.solve(pc.gpme.PorousMedium(m=float(m)), grid, jnp.asarray(ds.t),
                          substeps=ds.settings["substeps"])
        np.testing.assert_allclose(ds.u[i], np.asarray(u), rtol=0, atol=1e-13)
        np.testing.assert_allclose(ds.mass[i], np.asarray(pc.gpme.PorousMedium(m=float(m)).mass(ds.t)), rtol=1e-13)
    # the batch shares the substep count of its most restrictive member (largest m)
    assert ds.settings["substeps"] == pc.gpme.stable_substeps(pc.gpme.PorousMedium(m=ds.params["m"].max()), grid, ds.t)
    assert ds.mass_balance_error().max() < 1e-13


@pytest.mark.parametrize("family", ["advection", "burgers"])
def test_generate_hyperbolic_batches(x64, family):
    # a batch of conservation laws with scalar Dirichlet inflow: ghost values per problem
    ds = data.generate(family, 3, seed=2, nx=40, nt=5)
    cls = data.problem_class(family)
    grid = pc.Grid1D.cells(*cls.domain, n=40)
    for i, a in enumerate(ds.params["a"]):
        u = pc.gpme.solve(cls(a=float(a)), grid, jnp.asarray(ds.t), substeps=ds.settings["substeps"])
        np.testing.assert_allclose(ds.u[i], np.asarray(u), rtol=0, atol=1e-13)
    assert ds.mass_balance_error().max() < 1e-13


def test_seed_reproducible_and_params_explicit(small):
    again = data.generate("stefan", 5, seed=3, nx=40, nt=6)
    np.testing.assert_array_equal(again.params["u_star"], small.params["u_star"])
    np.testing.assert_array_equal(again.u, small.u)
    other = data.generate("stefan", 5, seed=4, nx=40, nt=6)
    assert not np.array_equal(other.params["u_star"], small.params["u_star"])
    given = data.generate("stefan", params=[0.5, 0.6], nx=40, nt=6)
    assert given.seed is None and given.params["u_star"].tolist() == pytest.approx([0.5, 0.6])
    assert given.settings["params"] == [0.5, 0.6]
    np.testing.assert_array_equal(data.regenerate(given).u, given.u)


def test_generate_rejects_bad_input():
    with pytest.raises(ValueError, match="kind must be one of"):
        data.generate("navier", 2)
    with pytest.raises(ValueError, match="u_star"):
        data.generate("stefan", params=[0.5, 1.5], nx=20, nt=3)
    with pytest.raises(ValueError, match="params must be"):
        data.generate("stefan", params=[[0.5]], nx=20, nt=3)
    with pytest.raises(ValueError, match="does not match"):
        data.generate("stefan", 3, params=[0.5, 0.6], nx=20, nt=3)


def test_save_load_roundtrip(small, tmp_path):
    path = tmp_path / "s.h5"
    data.save(path, small)
    back = data.load(path)
    for k in ("u", "x", "t", "mass", "inflow"):
        np.testing.assert_array_equal(getattr(back, k), getattr(small, k))
    np.testing.assert_array_equal(back.params["u_star"], small.params["u_star"])
    assert (back.problem, back.seed, back.settings) == (small.problem, 3, small.settings)
    assert back.version == pc.__version__
    with h5py.File(path) as f:
        assert f.attrs["physcon_schema"] == data.SCHEMA and list(f.attrs["simulation_parameters"]) == ["u_star"]
    assert data.verify(path) == 0.0  # same machine, same program: bit-identical
    np.testing.assert_array_equal(back.mass_balance_error(), small.mass_balance_error())
    # the walls: Stefan's u = 1 on the left, zero flux on the right, as physcon.bc objects
    bcs = back.boundary_conditions()
    assert bcs["x_left"] == pc.Dirichlet(1.0) and bcs["x_right"] == pc.Neumann(0.0)


def test_walls_of_every_family(x64):
    # PME: per-sample, time-varying Dirichlet values u(0, t) = pme_boundary(t, m), tabulated exactly
    ds = data.generate("pme", 2, seed=0, nx=16, nt=4)
    left = ds.boundary_conditions()["x_left"]
    for i, m in enumerate(ds.params["m"]):
        want = np.asarray(pc.gpme.PorousMedium(m=float(m)).left.at(ds.t))
        np.testing.assert_array_equal(np.asarray(jax.vmap(left.value)(jnp.asarray(ds.t)))[:, i], want)
    assert data.generate("diffusion", 2, nx=8, nt=3).boundary_conditions() == {"x_periodic": pc.Periodic()}
    bur = data.generate("burgers", 3, seed=1, nx=8, nt=3)
    np.testing.assert_array_equal(bur.walls[0].values, bur.params["a"])  # inflow value = the parameter


def test_sharded_generation_equals_unsharded():
    """Four simulated CPU devices: sharding the batch changes nothing in the result."""
    script = textwrap.dedent(
        """
        import jax, numpy as np
        from physcon import data
        assert len(jax.devices()) == 4, jax.devices()
        mesh = data.batch_mesh()
        a = data.generate("burgers", 6, seed=0, nx=32, nt=4, mesh=mesh)
        b = data.generate("burgers", 6, seed=0, nx=32, nt=4)
        np.testing.assert_array_equal(a.u, b.u)
        np.testing.assert_array_equal(a.inflow, b.inflow)
        print("OK", a.u.shape)
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK (6, 4, 32)" in out.stdout
