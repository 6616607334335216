"""Tests of the BOON 1-D data generators (physcon.solvers.boon_problems)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.bc import Neumann
from physcon.grid import Grid1D
from physcon.solvers import boon_problems as bp


def _order(ns, errs):
    h = 1.0 / (np.asarray(ns) - 1.0)
    return np.polyfit(np.log(h), np.log(errs), 1)[0]


# --- Stokes ------------------------------------------------------------------------------------
def test_stokes_closed_form_solves_pde_and_wall(x64):
    U, w, nu = 1.3, 3.7, 0.1
    f = lambda x, t: bp.stokes_second(x, t, U, w, nu)  # noqa: E731
    u_t = jax.vmap(jax.grad(f, 1))
    u_xx = jax.vmap(jax.grad(jax.grad(f, 0), 0))
    x = jnp.linspace(0.01, 1.0, 37)
    t = jnp.linspace(0.0, 1.2, 37)
    res = u_t(x, t) - nu * u_xx(x, t)
    assert float(jnp.max(jnp.abs(res))) < 1e-13
    tt = jnp.linspace(0, 5, 50)
    np.testing.assert_array_equal(np.asarray(f(0.0, tt)), np.asarray(U * jnp.cos(w * tt)))


def test_generate_stokes_shapes_and_boundaries(x64):
    d = bp.generate_stokes(3, seed=1, nx=50)
    assert d.a.shape == (3, 50) and d.u.shape == (3, 25, 50) and d.t.shape == (25,)
    np.testing.assert_allclose(d.t[-1], 1.2)
    wall = d.params["U"][:, None] * jnp.cos(d.params["omega"][:, None] * d.t[None, :])
    np.testing.assert_allclose(d.u[:, :, 0], wall, rtol=0, atol=1e-15)
    s = bp.generate_stokes(3, seed=1, nx=50, multi_step=False)
    assert s.u.shape == (3, 1, 50)
    np.testing.assert_allclose(s.u[:, 0], d.u[:, -1], atol=1e-15)
    assert not np.allclose(bp.generate_stokes(3, seed=2, nx=50).a, d.a)
    with pytest.raises(ValueError, match="omega_range"):
        bp.generate_stokes(2, omega_range=(-1.0, 1.0))
    with pytest.raises(ValueError, match="n must"):
        bp.generate_stokes(0)


# --- heat, Neumann -----------------------------------------------------------------------------
def _heat_err(n, m=3.0, alpha=None, T=0.5):
    grid = Grid1D.nodes(0.0, 1.0, n)
    x = grid.points(jnp.float64)
    k = 0.05
    if alpha is None:  # cosine mode, zero flux both sides
        prob = bp.HeatNeumann(k=k, right=Neumann(0.0))
        exact = lambda t: jnp.exp(-k * (m * jnp.pi) ** 2 * t) * jnp.cos(m * jnp.pi * x)  # noqa: E731
        substeps = 1
    else:  # u = exp(-k a^2 t) cos(a x): insulated left, time-dependent flux right
        flux = lambda t: -alpha * jnp.sin(alpha) * jnp.exp(-k * alpha**2 * t)  # noqa: E731
        prob = bp.HeatNeumann(k=k, right=Neumann(flux))
        exact = lambda t: jnp.exp(-k * alpha**2 * t) * jnp.cos(alpha * x)  # noqa: E731
        substeps = 2 * n  # dt ~ h: time error of the flux interpolation O(h^2) as well
    u = bp.heat_neumann_solve(prob, grid, exact(0.0), jnp.array([T]), substeps=substeps)
    return float(jnp.max(jnp.abs(u[0] - exact(T))))


def test_heat_cosine_mode_second_order(x64):
    ns = [21, 41, 81, 161]
    errs = [_heat_err(n) for n in ns]
    assert _order(ns, errs) == pytest.approx(2.0, abs=0.05)
    assert errs[-1] < 1e-4


def test_heat_nonzero_flux_second_order(x64):
    ns = [21, 41, 81, 161]
    errs = [_heat_err(n, alpha=2.3) for n in ns]
    assert _order(ns, errs) == pytest.approx(2.0, abs=0.1)
    assert errs[-1] < 1e-4


def test_heat_quadratic_exact_and_mass_balance(x64):
    # u = q x^2 / 2 + k q t with u_x(1) = q: reproduced to round-off (quadratic in x)
    q, k = 1.7, 0.03
    grid = Grid1D.nodes(0.0, 1.0, 33)
    x = grid.points(jnp.float64)
    prob = bp.HeatNeumann(k=k, right=Neumann(q))
    t = jnp.array([0.1, 0.4, 1.0])
    u = bp.heat_neumann_solve(prob, grid, q * x**2 / 2, t, substeps=3)
    np.testing.assert_allclose(u, q * x**2 / 2 + k * q * t[:, None], atol=1e-13)
    # linear-in-time fluxes on both walls: the trapezoid mass balance is exact
    gl, gr = (lambda s: 0.5 - s), (lambda s: 1.0 + 2.0 * s)
    prob = bp.HeatNeumann(k=k, left=Neumann(gl), right=Neumann(gr))
    u0 = jnp.cos(2.7 * jnp.pi * x)
    u = bp.heat_neumann_solve(prob, grid, u0, t, substeps=5)
    w = grid.quadrature_np("trapezoid")
    mass = u @ w
    inflow = k * ((t + t**2) - (0.5 * t - t**2 / 2))  # k * integral (gr - gl)
    np.testing.assert_allclose(mass - u0 @ w, inflow, rtol=0, atol=1e-14)


def test_heat_jit_vmap_grad_and_dataset(x64):
    grid = Grid1D.nodes(0.0, 1.0, 40)
    x = grid.points(jnp.float64)
    prob = bp.HeatNeumann()
    t = jnp.array([0.25, 0.5])
    solve = jax.jit(
        jax.vmap(lambda w: bp.heat_neumann_solve(prob, grid, jnp.cos(w * jnp.pi * x), t))
    )
    u = solve(jnp.array([2.5, 3.0]))
    assert u.shape == (2, 2, 40)
    g = jax.grad(lambda w: solve(w).sum())(jnp.array([2.5, 3.0]))
    eps = 1e-6
    fd = (solve(jnp.array([2.5 + eps, 3.0])).sum() - solve(jnp.array([2.5 - eps, 3.0])).sum()) / (2 * eps)
    assert float(g[0]) == pytest.approx(float(fd), rel=1e-6)
    d = bp.generate_heat_neumann(3, nx=64)
    assert d.u.shape == (3, 1, 64) and float(d.t[0]) == 0.5
    assert np.all((d.params["omega"] >= 2.01) & (d.params["omega"] <= 3.99))
    np.testing.assert_allclose(d.a, jnp.cos(d.params["omega"][:, None] * jnp.pi * d.x), atol=1e-14)
    m = bp.generate_heat_neumann(2, nx=64, multi_step=True)
    assert m.u.shape == (2, 25, 64)
    np.testing.assert_allclose(m.t, np.linspace(0, 0.5, 200)[-25:])
    # the heater flux holds to second order at the right wall (one-sided stencil)
    h = 1 / 63
    du = (3 * d.u[:, 0, -1] - 4 * d.u[:, 0, -2] + d.u[:, 0, -3]) / (2 * h)
    np.testing.assert_allclose(du, 5.0, atol=0.05)
    with pytest.raises(ValueError, match="u0"):
        bp.heat_neumann_solve(prob, grid, jnp.zeros(3), t)
    with pytest.raises(ValueError, match="grid"):
        bp.heat_neumann_solve(prob, Grid1D.cells(0.0, 1.0, 40), jnp.zeros(40), t)
    with pytest.raises(ValueError, match="k must"):
        bp.HeatNeumann(k=-1.0)


# --- Burgers, periodic -------------------------------------------------------------------------
def _cole_hopf_periodic(x, t, nu, a=2.0, b=1.0):
    e = b * jnp.exp(-4 * jnp.pi**2 * nu * t)
    return 4 * jnp.pi * nu * e * jnp.sin(2 * jnp.pi * x) / (a + e * jnp.cos(2 * jnp.pi * x))


def test_burgers_periodic_cole_hopf_and_mass(x64):
    nu, n = 0.05, 64
    x = Grid1D.nodes(0.0, 1.0, n, endpoint=False).points(jnp.float64)
    u0 = _cole_hopf_periodic(x, 0.0, nu) + 0.3  # Galilean shift: u(x - c t, t) + c
    t = jnp.array([0.5, 1.0])
    exact = _cole_hopf_periodic(x[None, :] - 0.3 * t[:, None], t[:, None], nu) + 0.3
    errs = []
    for substeps in (50, 100, 200):  # spectral in space: the error is RK4's, O(dt^4)
        u = bp.burgers_periodic_solve(u0, t, nu=nu, substeps=substeps)
        errs.append(float(jnp.max(jnp.abs(u - exact))))
        np.testing.assert_allclose(u.mean(-1), 0.3, rtol=0, atol=1e-14)  # mass
    assert np.log2(errs[0] / errs[-1]) / 2 == pytest.approx(4.0, abs=0.2)
    assert errs[-1] < 1e-10


def test_burgers_periodic_dataset_and_checks(x64):
    d = bp.generate_burgers_periodic(3, nx=32, refine=4)
    assert d.a.shape == (3, 32) and d.u.shape == (3, 1, 32)
    f = bp.grf_periodic(jax.random.PRNGKey(0), 3, 128)
    np.testing.assert_allclose(f.mean(-1), 0.0, atol=1e-12)
    m = bp.generate_burgers_periodic(2, nx=32, refine=4, multi_step=True)
    assert m.u.shape == (2, 25, 32)
    np.testing.assert_allclose(m.t, np.linspace(0, 1, 101)[-25:])
    with pytest.raises(Exception, match="stability"):
        u0 = 10 * jnp.sin(2 * jnp.pi * jnp.arange(64) / 64)
        bp.burgers_periodic_solve(u0, jnp.array([1.0]), nu=0.1, substeps=1)


# --- Burgers, Dirichlet ------------------------------------------------------------------------
def _cole_hopf_dirichlet(x, t, nu, a=1.5, b=1.0):
    # phi = a + b exp(-nu pi^2 t) cos(pi x): u = -2 nu phi_x / phi, zero at x = 0 and 1
    e = b * jnp.exp(-nu * jnp.pi**2 * t)
    return 2 * nu * jnp.pi * e * jnp.sin(jnp.pi * x) / (a + e * jnp.cos(jnp.pi * x))


def test_burgers_dirichlet_second_order(x64):
    nu, T = 0.1, 0.5
    errs, ns = [], [21, 41, 81, 161]
    for n in ns:
        grid = Grid1D.nodes(0.0, 1.0, n)
        x = grid.points(jnp.float64)
        u0 = _cole_hopf_dirichlet(x, 0.0, nu)
        u = bp.burgers_dirichlet_solve(grid, u0, jnp.array([T]), nu=nu, substeps=n)
        errs.append(float(jnp.max(jnp.abs(u[0] - _cole_hopf_dirichlet(x, T, nu)))))
    assert _order(ns, errs) == pytest.approx(2.0, abs=0.1)


def test_burgers_dirichlet_steady_shock_and_walls(x64):
    # u = -A tanh(A (x - 1/2) / (2 nu)) is steady; walls -+A tanh(A / (4 nu)) kept exactly
    nu, A = 0.1, 1.0
    grid = Grid1D.nodes(0.0, 1.0, 101)
    x = grid.points(jnp.float64)
    ue = -A * jnp.tanh(A * (x - 0.5) / (2 * nu))
    u = bp.burgers_dirichlet_solve(grid, ue, jnp.array([0.5, 1.0]), nu=nu, substeps=100)
    np.testing.assert_array_equal(u[:, 0], ue[0])
    np.testing.assert_array_equal(u[:, -1], ue[-1])
    assert float(jnp.max(jnp.abs(u - ue))) < 2e-4
    d = bp.generate_burgers_dirichlet(3, nx=40, multi_step=True)
    assert d.u.shape == (3, 25, 40)
    np.testing.assert_array_equal(d.u[:, :, 0], np.broadcast_to(d.params["u_left"][:, None], (3, 25)))
    np.testing.assert_array_equal(d.u[:, :, -1], np.broadcast_to(d.params["u_right"][:, None], (3, 25)))
    np.testing.assert_array_equal(d.a[:, 0], d.params["u_left"])
    with pytest.raises(Exception, match="stability"):
        bp.burgers_dirichlet_solve(grid, ue * 50, jnp.array([1.0]), nu=nu, substeps=1)


def test_heat_float32_matches_float64(x64):
    # round-off does not grow with the substeps: the homogeneous part is one exponential
    grid = Grid1D.nodes(0.0, 1.0, 200)
    x = grid.x_np()
    t = np.linspace(0.0, 0.5, 200)[-25:]
    u0 = np.cos(3.3 * np.pi * x)
    f32 = np.float32
    u32 = bp.heat_neumann_solve(bp.HeatNeumann(), grid, u0.astype(f32), t.astype(f32), substeps=100)
    assert u32.dtype == jnp.float32
    u64 = bp.heat_neumann_solve(bp.HeatNeumann(), grid, u0, t, substeps=100)
    assert u64.dtype == jnp.float64
    assert float(np.max(np.abs(np.asarray(u32, np.float64) - np.asarray(u64)))) < 3e-6
