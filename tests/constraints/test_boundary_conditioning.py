"""BOON's damped exact elimination (``rcond``) and its public diagnostic ``boon_conditioning``:
every condition type still holds to round-off at n and 2n, ``rcond -> 0`` recovers the exact
elimination, the damped layer equals an independent dense-matrix construction, the diagnostic's
condition numbers equal NumPy's of an independently assembled ``A_BB``, gradients match finite
differences (test_boundary.py), and bad ``rcond`` is refused."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import BOON, boon_conditioning, decouple
from physcon.models import FNO, SpectralConv
from _boon_walls import CASES, dense, f64, wall_errors, wall_index  # tests/constraints/_boon_walls.py


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("rcond", [1e-3, 1e-1])
def test_damped_boon_satisfies_every_condition_at_two_resolutions(x64, case, rcond):
    left, right = CASES[case]
    fno = f64(FNO(1, 1, 1, 8, 16, grid=True, key=jax.random.PRNGKey(0)))
    boon = BOON(fno, left=left, right=right, rcond=rcond)
    a = jax.random.normal(jax.random.PRNGKey(1), (3, 1, 64), jnp.float64)
    for n in (64, 127):
        an = jax.image.resize(a, (3, 1, n), "linear")
        u = jax.jit(jax.vmap(lambda z: boon(z, 0.5)))(an)[:, 0]
        assert max(wall_errors(u, np.linspace(0.0, 1.0, n), left, right, 0.5)) <= 1e-10
        assert float(jnp.abs(u).max()) > 1e-3


@pytest.mark.parametrize("case", ["dirichlet", "neumann", "robin"])
def test_damped_boon_over_x_t_round_off(x64, case):
    left, right = CASES[case]
    fno = f64(FNO(2, 1, 1, (5, 4), 8, grid=True, padding=(0.0, 9 / 25), key=jax.random.PRNGKey(0)))
    boon = BOON(fno, left=left, right=right, rcond=1e-2)
    t = jnp.linspace(0.02, 0.5, 25)
    for n in (30, 60):
        a = jax.random.normal(jax.random.PRNGKey(1), (1, n, 25), jnp.float64)
        u = jnp.moveaxis(boon(a, t)[0], 0, -1)                        # (t, x)
        assert max(wall_errors(u, np.linspace(0, 1, n), left, right, t)) <= 1e-10


def test_damped_layer_equals_dense_tikhonov_construction(x64):
    """``decouple(conv, v, rcond=r)`` is ``A z`` with ``z_B = x_B - X A_BI x_I`` and
    ``X = (A_BB^T A_BB + lam I)^{-1} A_BB^T``, ``lam = (r ||A_BB||_F)^2``, all built densely."""
    c, n, r = 3, 16, 0.05
    conv = f64(SpectralConv(c, c, 5, key=jax.random.PRNGKey(3)))
    A = dense(conv, c, n)
    wall = wall_index(c, n)
    inner = np.setdiff1d(np.arange(c * n), wall)
    abb = A[np.ix_(wall, wall)]
    lam = (r * np.linalg.norm(abb)) ** 2
    X = np.linalg.solve(abb.T @ abb + lam * np.eye(2 * c), abb.T)
    v = np.asarray(jax.random.normal(jax.random.PRNGKey(4), (c * n,), jnp.float64))
    z = v.copy()
    z[wall] = v[wall] - X @ A[np.ix_(wall, inner)] @ v[inner]
    got = np.asarray(decouple(conv, jnp.asarray(v.reshape(c, n)), rcond=r)).reshape(-1)
    np.testing.assert_allclose(got, A @ z, atol=1e-12)
    # damped, not exact: the wall outputs still see (a little of) the interior
    assert np.abs((A @ z)[wall] - abb @ v[wall]).max() > 1e-6


def test_rcond_to_zero_recovers_the_exact_elimination(x64):
    fno = f64(FNO(1, 1, 1, 6, 8, grid=True, key=jax.random.PRNGKey(0)))
    conv = fno.spectral_convs[0]
    v = jax.random.normal(jax.random.PRNGKey(1), (8, 32), jnp.float64)
    bump = jax.random.normal(jax.random.PRNGKey(2), v.shape, jnp.float64).at[:, 0].set(0).at[:, -1].set(0)
    exact = decouple(conv, v)
    for r in (1e-10, 1e-13):
        a, b = decouple(conv, v, rcond=r), decouple(conv, v + bump, rcond=r)
        assert float(jnp.abs(a[:, [0, -1]] - b[:, [0, -1]]).max()) < 1e-10   # wall rows decoupled
        assert float(jnp.abs(a - exact).max()) < 1e-9
    assert float(jnp.abs(decouple(conv, v, rcond=1e-2) - exact).max()) > 1e-4
    left, right = CASES["neumann"]
    a = jax.random.normal(jax.random.PRNGKey(5), (1, 32), jnp.float64)
    u0 = BOON(fno, left=left, right=right, rcond=None)(a, 0.5)
    u_small = BOON(fno, left=left, right=right, rcond=1e-13)(a, 0.5)
    assert float(jnp.abs(u_small - u0).max()) < 1e-9
    assert float(jnp.abs(BOON(fno, left=left, right=right, rcond=0.0)(a, 0.5) - u0).max()) == 0.0


@pytest.mark.parametrize("rcond", [0.0, 1e-3])
def test_diagnostic_cond_equals_numpy_cond_of_dense_a_bb(x64, rcond):
    c, n = 6, 24
    fno = f64(FNO(1, 1, 1, 7, c, grid=True, n_layers=3, key=jax.random.PRNGKey(2)))
    boon = BOON(fno, left=pc.Dirichlet(0.0), right=pc.Neumann(1.0), rcond=rcond)
    report = boon_conditioning(boon, np.zeros((1, n)))
    assert len(report) == 3
    for conv, layer in zip(fno.spectral_convs, report):
        abb = dense(conv, c, n)[np.ix_(wall_index(c, n), wall_index(c, n))]
        np.testing.assert_allclose(layer["x"]["cond"], [np.linalg.cond(abb)], rtol=1e-8)
        np.testing.assert_allclose(layer["x"]["sigma_max"], [np.linalg.norm(abb, 2)], rtol=1e-10)
        lam = (rcond * np.linalg.norm(abb)) ** 2
        X = np.linalg.solve(abb.T @ abb + lam * np.eye(2 * c), abb.T)
        np.testing.assert_allclose(layer["x"]["cond_regularised"], [np.linalg.norm(X, 2) * np.linalg.norm(abb, 2)],
                                   rtol=1e-7)
        if rcond:
            assert layer["x"]["cond_regularised"][0] <= 1 / (2 * rcond) * (1 + 1e-12)


def test_diagnostic_over_x_t_and_empty_layers(x64):
    fno = f64(FNO(2, 1, 1, (5, 4), 6, grid=True, key=jax.random.PRNGKey(0)))
    rep = boon_conditioning(BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0)), np.zeros((1, 20, 12)))
    assert all(lay["x"]["cond"].shape == lay["x"]["cond_regularised"].shape and lay["x"]["cond"].size > 1
               for lay in rep)
    assert all(np.all(lay["x"]["cond_regularised"] <= lay["x"]["cond"] * (1 + 1e-12)) for lay in rep)
    for boon in (BOON(fno, left=pc.Periodic(), right=pc.Periodic()),
                 BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0), mode="faithful")):
        assert boon_conditioning(boon, np.zeros((1, 20, 12))) == [{}] * fno.n_layers
    with pytest.raises(ValueError, match="a must have shape"):
        boon_conditioning(BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0)), np.zeros((20, 12)))
    with pytest.raises(ValueError, match="boon must be"):
        boon_conditioning(fno, np.zeros((1, 20, 12)))


@pytest.mark.parametrize("bad", [-1e-3, 1.0, 2.0, float("nan"), float("inf"), "1e-3", True, [1e-3]])
def test_bad_rcond_raises(bad):
    fno = FNO(1, 1, 1, 2, 4, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="rcond"):
        BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0), rcond=bad)
