"""Heat with Neumann walls (physcon.solvers.heat): order, mass balance, generated data, precision."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.bc import Neumann
from physcon.grid import Grid1D
from physcon.metrics import convergence_order
from physcon.solvers import heat



def _order(ns, errs):
    """Observed order against ``h = 1 / (n - 1)`` on the node grids."""
    return convergence_order(1.0 / (np.asarray(ns) - 1.0), errs)


def _heat_err(n, m=3.0, alpha=None, T=0.5):
    grid = Grid1D.nodes(0.0, 1.0, n)
    x = grid.points(jnp.float64)
    k = 0.05
    if alpha is None:  # cosine mode, zero flux both sides
        prob = heat.HeatNeumann(k=k, right=Neumann(0.0))
        exact = lambda t: jnp.exp(-k * (m * jnp.pi) ** 2 * t) * jnp.cos(m * jnp.pi * x)  # noqa: E731
        substeps = 1
    else:  # u = exp(-k a^2 t) cos(a x): insulated left, time-dependent flux right
        flux = lambda t: -alpha * jnp.sin(alpha) * jnp.exp(-k * alpha**2 * t)  # noqa: E731
        prob = heat.HeatNeumann(k=k, right=Neumann(flux))
        exact = lambda t: jnp.exp(-k * alpha**2 * t) * jnp.cos(alpha * x)  # noqa: E731
        substeps = 2 * n  # dt ~ h: time error of the flux interpolation O(h^2) as well
    u = heat.heat_neumann_solve(prob, grid, exact(0.0), jnp.array([T]), substeps=substeps)
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
    prob = heat.HeatNeumann(k=k, right=Neumann(q))
    t = jnp.array([0.1, 0.4, 1.0])
    u = heat.heat_neumann_solve(prob, grid, q * x**2 / 2, t, substeps=3)
    np.testing.assert_allclose(u, q * x**2 / 2 + k * q * t[:, None], atol=1e-13)
    # linear-in-time fluxes on both walls: the trapezoid mass balance is exact
    gl, gr = (lambda s: 0.5 - s), (lambda s: 1.0 + 2.0 * s)
    prob = heat.HeatNeumann(k=k, left=Neumann(gl), right=Neumann(gr))
    u0 = jnp.cos(2.7 * jnp.pi * x)
    u = heat.heat_neumann_solve(prob, grid, u0, t, substeps=5)
    w = grid.quadrature_np("trapezoid")
    mass = u @ w
    inflow = k * ((t + t**2) - (0.5 * t - t**2 / 2))  # k * integral (gr - gl)
    np.testing.assert_allclose(mass - u0 @ w, inflow, rtol=0, atol=1e-14)


def test_heat_jit_vmap_grad_and_dataset(x64):
    grid = Grid1D.nodes(0.0, 1.0, 40)
    x = grid.points(jnp.float64)
    prob = heat.HeatNeumann()
    t = jnp.array([0.25, 0.5])
    solve = jax.jit(
        jax.vmap(lambda w: heat.heat_neumann_solve(prob, grid, jnp.cos(w * jnp.pi * x), t))
    )
    u = solve(jnp.array([2.5, 3.0]))
    assert u.shape == (2, 2, 40)
    g = jax.grad(lambda w: solve(w).sum())(jnp.array([2.5, 3.0]))
    eps = 1e-6
    fd = (solve(jnp.array([2.5 + eps, 3.0])).sum() - solve(jnp.array([2.5 - eps, 3.0])).sum()) / (2 * eps)
    assert float(g[0]) == pytest.approx(float(fd), rel=1e-6)
    d = heat.generate_heat_neumann(3, nx=64)
    assert d.u.shape == (3, 1, 64) and float(d.t[0]) == 0.5
    assert np.all((d.params["omega"] >= 2.01) & (d.params["omega"] <= 3.99))
    np.testing.assert_allclose(d.a, jnp.cos(d.params["omega"][:, None] * jnp.pi * d.x), atol=1e-14)
    m = heat.generate_heat_neumann(2, nx=64, multi_step=True)
    assert m.u.shape == (2, 25, 64)
    np.testing.assert_allclose(m.t, np.linspace(0, 0.5, 200)[-25:])
    # the heater flux holds to second order at the right wall (one-sided stencil)
    h = 1 / 63
    du = (3 * d.u[:, 0, -1] - 4 * d.u[:, 0, -2] + d.u[:, 0, -3]) / (2 * h)
    np.testing.assert_allclose(du, 5.0, atol=0.05)
    with pytest.raises(ValueError, match="u0"):
        heat.heat_neumann_solve(prob, grid, jnp.zeros(3), t)
    with pytest.raises(ValueError, match="grid"):
        heat.heat_neumann_solve(prob, Grid1D.cells(0.0, 1.0, 40), jnp.zeros(40), t)
    with pytest.raises(ValueError, match="k must"):
        heat.HeatNeumann(k=-1.0)




def test_heat_float32_matches_float64(x64):
    # round-off does not grow with the substeps: the homogeneous part is one exponential
    grid = Grid1D.nodes(0.0, 1.0, 200)
    x = grid.x_np()
    t = np.linspace(0.0, 0.5, 200)[-25:]
    u0 = np.cos(3.3 * np.pi * x)
    f32 = np.float32
    u32 = heat.heat_neumann_solve(heat.HeatNeumann(), grid, u0.astype(f32), t.astype(f32), substeps=100)
    assert u32.dtype == jnp.float32
    u64 = heat.heat_neumann_solve(heat.HeatNeumann(), grid, u0, t, substeps=100)
    assert u64.dtype == jnp.float64
    assert float(np.max(np.abs(np.asarray(u32, np.float64) - np.asarray(u64)))) < 3e-6
