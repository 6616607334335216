"""Batched generation, sharding, and the HDF5 round trip of physcon.data."""

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
    assert np.all((ds.params >= lo) & (ds.params <= hi))
    grid = pc.Grid1D.cells(*pc.gpme.PorousMedium.domain, n=30)
    for i, m in enumerate(ds.params):
        u = pc.gpme.solve(pc.gpme.PorousMedium(m=float(m)), grid, jnp.asarray(ds.t),
                          substeps=ds.solver["substeps"])
        np.testing.assert_allclose(ds.u[i], np.asarray(u), rtol=0, atol=1e-13)
        np.testing.assert_allclose(ds.mass[i], np.asarray(pc.gpme.PorousMedium(m=float(m)).mass(ds.t)), rtol=1e-13)
    # the batch shares the substep count of its most restrictive member (largest m)
    assert ds.solver["substeps"] == pc.gpme.stable_substeps(pc.gpme.PorousMedium(m=ds.params.max()), grid, ds.t)
    assert ds.mass_balance_error().max() < 1e-13


@pytest.mark.parametrize("family", ["advection", "burgers"])
def test_generate_hyperbolic_batches(x64, family):
    # a batch of conservation laws with scalar Dirichlet inflow: ghost values per problem
    ds = data.generate(family, 3, seed=2, nx=40, nt=5)
    cls = data.problem_class(family)
    grid = pc.Grid1D.cells(*cls.domain, n=40)
    for i, a in enumerate(ds.params):
        u = pc.gpme.solve(cls(a=float(a)), grid, jnp.asarray(ds.t), substeps=ds.solver["substeps"])
        np.testing.assert_allclose(ds.u[i], np.asarray(u), rtol=0, atol=1e-13)
    assert ds.mass_balance_error().max() < 1e-13


def test_seed_reproducible_and_params_explicit(small):
    again = data.generate("stefan", 5, seed=3, nx=40, nt=6)
    np.testing.assert_array_equal(again.params, small.params)
    np.testing.assert_array_equal(again.u, small.u)
    other = data.generate("stefan", 5, seed=4, nx=40, nt=6)
    assert not np.array_equal(other.params, small.params)
    given = data.generate("stefan", params=[0.5, 0.6], nx=40, nt=6)
    assert given.seed is None and given.params.tolist() == pytest.approx([0.5, 0.6])


def test_generate_rejects_bad_input():
    with pytest.raises(ValueError, match="problem must be one of"):
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
    for k in ("u", "params", "x", "t", "mass", "inflow"):
        np.testing.assert_array_equal(getattr(back, k), getattr(small, k))
    assert (back.problem, back.seed, back.grid, back.solver) == (small.problem, 3, small.grid, small.solver)
    assert back.version == pc.__version__
    with h5py.File(path) as f:
        assert f.attrs["format"] == data.FORMAT and f.attrs["parameter"] == "u_star"
    assert data.verify(path) == 0.0  # same machine, same program: bit-identical


def test_save_never_overwrites_silently(small, tmp_path):
    path = tmp_path / "s.h5"
    data.save(path, small)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        data.save(path, small)
    assert path.read_bytes() == before
    data.save(path, small, overwrite=True)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_load_rejects_broken_files(small, tmp_path):
    good = tmp_path / "good.h5"
    data.save(good, small)
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(ValueError, match="truncated"):
        data.load(truncated)
    with pytest.raises(FileNotFoundError):
        data.load(tmp_path / "missing.h5")

    def edited(name, edit):
        p = tmp_path / name
        p.write_bytes(good.read_bytes())
        with h5py.File(p, "a") as f:
            edit(f)
        return p

    with pytest.raises(ValueError, match="missing inflow"):
        data.load(edited("nokey.h5", lambda f: f.__delitem__("inflow")))
    with pytest.raises(ValueError, match="missing attrs\\['seed'\\]"):
        data.load(edited("noattr.h5", lambda f: f.attrs.__delitem__("seed")))

    def reshape(f):
        u = f["u"][()]
        del f["u"]
        f["u"] = u[:, :-1]
    with pytest.raises(ValueError, match="u has shape"):
        data.load(edited("shape.h5", reshape))
    with pytest.raises(ValueError, match="format"):
        data.load(edited("fmt.h5", lambda f: f.attrs.__setitem__("format", "other")))


def test_verify_detects_tampering(small, tmp_path):
    path = tmp_path / "s.h5"
    data.save(path, small)
    with h5py.File(path, "a") as f:
        f["u"][0, -1, 5] += 1e-3
    with pytest.raises(ValueError, match="regenerated data differ"):
        data.verify(path)


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
