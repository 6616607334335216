"""Darcy flow (physcon.solvers.darcy): second-order convergence against a manufactured solution
with a smooth variable coefficient and non-zero walls, a symmetric positive definite operator,
the discrete flux balance, gradients against finite differences, vmap, the coefficient family,
datasets, and errors on bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.solvers import darcy as D


def coef(x, y):
    return 1.0 + 0.5 * jnp.sin(2 * jnp.pi * x + 1.0) * jnp.cos(3 * jnp.pi * y)


def exact(x, y):
    return jnp.sin(jnp.pi * x) * jnp.sin(2 * jnp.pi * y) + x * y + 0.5


def source(x, y):
    """-div(a grad p) of the manufactured solution, by automatic differentiation (exact)."""
    flux = lambda x, y: coef(x, y) * jnp.stack(jax.grad(exact, (0, 1))(x, y))  # noqa: E731
    dfx = jax.grad(lambda x, y: flux(x, y)[0], 0)(x, y)
    dfy = jax.grad(lambda x, y: flux(x, y)[1], 1)(x, y)
    return -(dfx + dfy)


def nodal(fn, n):
    x = jnp.linspace(0.0, 1.0, n, dtype=jnp.float64)
    X, Y = jnp.meshgrid(x, x, indexing="ij")
    return jax.vmap(jax.vmap(fn))(X, Y)


@pytest.mark.parametrize("face", ["harmonic", "arithmetic"])
def test_second_order_against_manufactured_solution(x64, face):
    errs = []
    ns = (17, 33, 65)  # 129 adds ~8x the cost of 65 (CG steps ~ n, work ~ n^3) and the same order
    for n in ns:
        a, f, pe = nodal(coef, n), nodal(source, n), nodal(exact, n)
        p = D.darcy_solve(a, f, boundary=pe, face=face, rtol=1e-10, atol=1e-10)
        assert float(jnp.abs(p[0] - pe[0]).max()) == 0.0 and float(jnp.abs(p[:, -1] - pe[:, -1]).max()) == 0.0
        errs.append(float(jnp.abs(p - pe).max()))
    orders = np.log2(np.asarray(errs[:-1]) / np.asarray(errs[1:]))
    assert np.all((orders >= 1.8) & (orders <= 2.2)), (errs, orders)
    assert errs[-1] < 1.5e-3  # measured 1.15e-3 at n = 65 (4.61e-3 at 33): O(h^2) with constant ~4.8


def test_operator_symmetric_positive_and_cg_residual(x64):
    n = 9
    a = D.darcy_coefficient(D.darcy_grf(jax.random.PRNGKey(0), n, dtype=jnp.float64))
    m = (n - 2) ** 2
    cols = jax.vmap(lambda e: D.darcy_apply(jnp.pad(e.reshape(n - 2, n - 2), 1), a).reshape(-1))(jnp.eye(m))
    A = np.asarray(cols).T
    np.testing.assert_allclose(A, A.T, atol=1e-12 * np.abs(A).max())
    assert np.linalg.eigvalsh(A).min() > 0
    # the CG solution's residual, recomputed independently, is below the tolerance
    a = D.darcy_coefficient(D.darcy_grf(jax.random.PRNGKey(1), 65, dtype=jnp.float64))
    p, stats = D.darcy_solve(a, 1.0, rtol=1e-11, atol=1e-11, info=True)
    r = D.darcy_apply(p, a) - 1.0
    assert float(jnp.abs(r).max()) <= 2e-11 and int(stats["num_steps"]) > 10
    assert float(jnp.abs(p[jnp.array([0, -1])]).max()) == 0.0 and float(jnp.abs(p[:, jnp.array([0, -1])]).max()) == 0.0
    assert float(p[1:-1, 1:-1].min()) > 0  # f = 1 > 0 with zero walls: the pressure is positive inside
    # Jacobi preconditioning: same solution, fewer iterations on the paper's coefficients
    q, s2 = D.darcy_solve(a, 1.0, rtol=1e-11, atol=1e-11, info=True, precondition=False)
    np.testing.assert_allclose(q, p, atol=1e-9 * float(p.max()))
    assert int(stats["num_steps"]) < int(s2["num_steps"])


@pytest.mark.parametrize("face", ["harmonic", "arithmetic"])
def test_discrete_flux_balance(x64, face):
    """Outflow through the four sides of the interior control volumes = the source integral
    (the area (1 - h)^2 for f = 1), to the CG residual."""
    n = 41
    h = 1.0 / (n - 1)
    a = D.darcy_coefficient(D.darcy_grf(jax.random.PRNGKey(2), n, dtype=jnp.float64))
    p = D.darcy_solve(a, 1.0, face=face, rtol=1e-11, atol=1e-11)
    flux = D.darcy_boundary_flux(p, a, face=face)
    total = sum(float(v) for v in flux.values())
    assert abs(total - (1 - h) ** 2) <= 1e-11
    assert all(float(v) > 0 for v in flux.values())
    # the identity holds for any field: outflow = h^2 sum(A p) (here a random p with walls)
    q = jax.random.normal(jax.random.PRNGKey(3), (n, n), jnp.float64)
    lhs = sum(float(v) for v in D.darcy_boundary_flux(q, a, face=face).values())
    rhs = float(h * h * jnp.sum(D.darcy_apply(q, a, face=face)))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(rhs))


def test_gradient_wrt_coefficient_matches_finite_differences(x64):
    n = 17
    a0 = 2.0 + nodal(coef, n)
    f = nodal(lambda x, y: 1.0 + x, n)
    w = nodal(lambda x, y: jnp.cos(x) * y, n)

    def functional(a):
        return jnp.sum(w * D.darcy_solve(a, f, rtol=1e-12, atol=1e-12))

    g = jax.jit(jax.grad(functional))(a0)
    d = jax.random.normal(jax.random.PRNGKey(4), a0.shape, jnp.float64)
    eps = 1e-5
    fd = (functional(a0 + eps * d) - functional(a0 - eps * d)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.vdot(g, d)), float(fd), rtol=1e-7)
    assert float(jnp.abs(g).max()) > 0


def test_vmap_and_jit_over_coefficients(x64):
    n = 33
    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    a = jax.vmap(lambda k: D.darcy_coefficient(D.darcy_grf(k, n, dtype=jnp.float64)))(keys)
    batched = jax.jit(jax.vmap(lambda c: D.darcy_solve(c, 1.0)))(a)
    single = jnp.stack([D.darcy_solve(c, 1.0) for c in a])
    np.testing.assert_allclose(batched, single, atol=1e-9 * float(single.max()))
    assert float(jnp.abs(batched[0] - batched[1]).max()) > 1e-4


def test_grf_and_coefficient_family(x64):
    # zero-Neumann walls: with modes the grid resolves, the one-sided derivative at the walls
    # vanishes to O(h^2), far below the field's interior gradients
    smooth = D.darcy_grf(jax.random.PRNGKey(6), 129, modes=16, dtype=jnp.float64)
    h = 1 / 128
    for wall in (smooth, smooth.T):
        dx0 = (-3 * wall[0] + 4 * wall[1] - wall[2]) / (2 * h)
        assert float(jnp.abs(dx0).max()) < 0.01 * float(jnp.abs(jnp.diff(wall, axis=0)).max() / h)
    mu = D.darcy_grf(jax.random.PRNGKey(6), 129, dtype=jnp.float64)
    assert abs(float(mu.mean())) < 0.05 * float(mu.std())         # the constant mode is removed
    a = D.darcy_coefficient(mu)
    assert set(np.unique(np.asarray(a)).tolist()) == {3.0, 12.0}
    # subsampling: the same key at 421 nodes restricted to every 5th node equals 85 nodes with
    # the same modes
    fine = D.darcy_grf(jax.random.PRNGKey(7), 421, modes=40, dtype=jnp.float64)
    coarse = D.darcy_grf(jax.random.PRNGKey(7), 85, modes=40, dtype=jnp.float64)
    np.testing.assert_allclose(fine[::5, ::5], coarse, atol=1e-12)


def test_dataset_subsamples_the_fine_solve(x64):
    key = jax.random.PRNGKey(8)
    ds = D.generate_darcy(3, key=key, n=9, n_solve=33, batch_size=2, dtype=jnp.float64)
    assert ds.a.shape == ds.p.shape == (3, 9, 9) and ds.x.shape == (9,)
    assert ds.settings["stride"] == 4 and ds.settings["n_solve"] == 33 and ds.settings["key_data"]
    mu = D.darcy_grf(jax.random.fold_in(key, 2), 33, dtype=jnp.float64)
    p = D.darcy_solve(D.darcy_coefficient(mu), 1.0)
    np.testing.assert_allclose(ds.p[2], p[::4, ::4], atol=1e-12)
    np.testing.assert_array_equal(ds.a[2], D.darcy_coefficient(mu)[::4, ::4])
    # the first samples do not depend on the set size
    ds2 = D.generate_darcy(1, key=key, n=9, n_solve=33, dtype=jnp.float64)
    np.testing.assert_allclose(ds2.p[0], ds.p[0], atol=1e-12)
    assert D.FNO_SIZES == (85, 141, 211, 421) and all((421 - 1) % (s - 1) == 0 for s in D.FNO_SIZES)


def test_bad_input():
    a = jnp.ones((9, 9))
    with pytest.raises(ValueError, match="a must be a 2-D nodal field"):
        D.darcy_solve(jnp.ones(9))
    with pytest.raises(ValueError, match="a must be a 2-D nodal field"):
        D.darcy_solve(jnp.ones((2, 9)))
    with pytest.raises(ValueError, match="f must be a scalar or a nodal field of shape"):
        D.darcy_solve(a, jnp.ones((8, 9)))
    with pytest.raises(ValueError, match="boundary must be a scalar or a nodal field"):
        D.darcy_solve(a, boundary=jnp.ones(9))
    with pytest.raises(ValueError, match="face must be one of"):
        D.darcy_solve(a, face="geometric")
    for bad, what in ((a.at[3, 3].set(0.0), "positive"), (a.at[3, 3].set(-1.0), "positive"),
                      (a.at[3, 3].set(jnp.nan), "finite")):
        with pytest.raises(Exception, match=f"a \\(the Darcy coefficient\\) must be {what}"):
            D.darcy_solve(bad)
        with pytest.raises(Exception, match=f"a \\(the Darcy coefficient\\) must be {what}"):
            jax.jit(D.darcy_solve)(bad)
    with pytest.raises(Exception, match="f must be finite"):
        D.darcy_solve(a, jnp.nan)
    with pytest.raises(ValueError, match="n - 1 = 9 must divide n_solve - 1 = 420"):
        D.generate_darcy(1, key=jax.random.PRNGKey(0), n=10)
    with pytest.raises(ValueError, match="a_high and a_low must be positive"):
        D.darcy_coefficient(jnp.ones((3, 3)), a_low=0.0)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        D.darcy_grf(jax.random.PRNGKey(0), 1)
