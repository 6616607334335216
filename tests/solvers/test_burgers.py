"""Viscous Burgers (physcon.solvers.burgers), periodic and Dirichlet: Cole-Hopf solutions, order, data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.grid import Grid1D
from physcon.metrics import convergence_order
from physcon.solvers import burgers



def _order(ns, errs):
    """Observed order against ``h = 1 / (n - 1)`` on the node grids."""
    return convergence_order(1.0 / (np.asarray(ns) - 1.0), errs)


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
        u = burgers.burgers_periodic_solve(u0, t, nu=nu, substeps=substeps)
        errs.append(float(jnp.max(jnp.abs(u - exact))))
        np.testing.assert_allclose(u.mean(-1), 0.3, rtol=0, atol=1e-14)  # mass
    assert np.log2(errs[0] / errs[-1]) / 2 == pytest.approx(4.0, abs=0.2)
    assert errs[-1] < 1e-10


def test_burgers_periodic_dataset_and_checks(x64):
    d = burgers.generate_burgers_periodic(3, nx=32, refine=4)
    assert d.a.shape == (3, 32) and d.u.shape == (3, 1, 32)
    f = burgers.grf_periodic(jax.random.PRNGKey(0), 3, 128)
    np.testing.assert_allclose(f.mean(-1), 0.0, atol=1e-12)
    m = burgers.generate_burgers_periodic(2, nx=32, refine=4, multi_step=True)
    assert m.u.shape == (2, 25, 32)
    np.testing.assert_allclose(m.t, np.linspace(0, 1, 101)[-25:])
    with pytest.raises(Exception, match="stability"):
        u0 = 10 * jnp.sin(2 * jnp.pi * jnp.arange(64) / 64)
        burgers.burgers_periodic_solve(u0, jnp.array([1.0]), nu=0.1, substeps=1)


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
        u = burgers.burgers_dirichlet_solve(grid, u0, jnp.array([T]), nu=nu, substeps=n)
        errs.append(float(jnp.max(jnp.abs(u[0] - _cole_hopf_dirichlet(x, T, nu)))))
    assert _order(ns, errs) == pytest.approx(2.0, abs=0.1)


def test_burgers_dirichlet_steady_shock_and_walls(x64):
    # u = -A tanh(A (x - 1/2) / (2 nu)) is steady; walls -+A tanh(A / (4 nu)) kept exactly
    nu, A = 0.1, 1.0
    grid = Grid1D.nodes(0.0, 1.0, 101)
    x = grid.points(jnp.float64)
    ue = -A * jnp.tanh(A * (x - 0.5) / (2 * nu))
    u = burgers.burgers_dirichlet_solve(grid, ue, jnp.array([0.5, 1.0]), nu=nu, substeps=100)
    np.testing.assert_array_equal(u[:, 0], ue[0])
    np.testing.assert_array_equal(u[:, -1], ue[-1])
    assert float(jnp.max(jnp.abs(u - ue))) < 2e-4
    d = burgers.generate_burgers_dirichlet(3, nx=40, multi_step=True)
    assert d.u.shape == (3, 25, 40)
    np.testing.assert_array_equal(d.u[:, :, 0], np.broadcast_to(d.params["u_left"][:, None], (3, 25)))
    np.testing.assert_array_equal(d.u[:, :, -1], np.broadcast_to(d.params["u_right"][:, None], (3, 25)))
    np.testing.assert_array_equal(d.a[:, 0], d.params["u_left"])
    with pytest.raises(Exception, match="stability"):
        burgers.burgers_dirichlet_solve(grid, ue * 50, jnp.array([1.0]), nu=nu, substeps=1)
