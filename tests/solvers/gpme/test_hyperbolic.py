"""Scalar conservation laws (physcon.solvers.gpme.hyperbolic): Godunov fluxes, conservation,
convergence to the closed forms, gradients and input checks for Advection and Burgers."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon
from physcon import Grid1D
from physcon.solvers.gpme import fv

G = physcon.gpme
RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)

# (problem, n, tmax): grids of the convergence tests, so the float64 runs are shared (fv_run)
ADVECTION = G.Advection(1.0)
BURGERS_1 = G.Burgers(1.0)
BURGERS_3 = G.Burgers(3.0)
BALANCE_CASES = [
    (ADVECTION, 400, 0.4),
    (G.Advection(3.0), 100, None),  # the step leaves through the outflow wall at t = 1/6
    (BURGERS_1, 400, None),
    (BURGERS_3, 400, 0.8),
    (G.Burgers(3.0), 100, None),  # the shock reaches the outflow wall at t = 1
]


@pytest.mark.parametrize("problem, n, tmax", BALANCE_CASES, ids=lambda v: repr(v))
def test_discrete_mass_balance(x64, fv_run, problem, n, tmax):
    r = fv_run(problem, n, tmax)
    mass = np.asarray(r.grid.integrate(jnp.asarray(r.u)))
    scale = max(np.abs(mass).max(), float(r.grid.integrate(jnp.abs(jnp.asarray(r.u[0])))), 1.0)
    np.testing.assert_allclose(mass - mass[0], r.inflow, rtol=0, atol=1e-12 * scale)
    assert r.inflow[-1] > 0.1


@pytest.mark.parametrize("problem, n, tmax", [(ADVECTION, 400, 0.4), (BURGERS_1, 400, None)], ids=repr)
def test_discrete_mass_equals_closed_form_before_outflow(x64, fv_run, problem, n, tmax):
    """While nothing reaches the outflow wall, the inflow flux is exact (Dirichlet ghost) so
    the discrete mass is the closed-form mass to round-off: 1/2 + a t, resp. a/2 (1 + a t)."""
    r = fv_run(problem, n, tmax)
    mass = np.asarray(r.grid.integrate(jnp.asarray(r.u)))
    np.testing.assert_allclose(mass, problem.mass(r.t), rtol=0, atol=1e-12)


# --- convergence ----------------------------------------------------------------------------------
def test_advection_step_convergence(x64, fv_run, order_of, l1_error):
    """L1 error averaged over 10 output times in (0, 0.4]; n = 50, 100, 200, 400.

    Measured order 0.77 (pre-asymptotic: first-order upwind smears a contact discontinuity
    over ~sqrt(t dx), so the L1 order tends to 1/2). Bound 0.65.
    """
    ns = [50, 100, 200, 400]
    errs = [l1_error(fv_run(ADVECTION, n, 0.4)) for n in ns]
    assert order_of(ns, errs) > 0.65
    assert errs[-1] < 1e-2


@pytest.mark.parametrize(
    "problem, tmax, bound", [(BURGERS_1, None, 0.85), (BURGERS_3, 0.8, 1.0)], ids=["a=1", "a=3"]
)
def test_burgers_convergence(x64, fv_run, order_of, l1_error, problem, tmax, bound):
    """L1 error averaged over 10 output times; n = 50, 100, 200, 400.

    Measured orders: a=1 (t <= 1, ramp steepening into a shock at t = 1): 0.93; a=3
    (t <= 0.8, shock from t = 1/3 on): 1.12. Shocks and kinks: order ~1 in L1.
    """
    ns = [50, 100, 200, 400]
    errs = [l1_error(fv_run(problem, n, tmax)) for n in ns]
    assert order_of(ns, errs) > bound
    assert errs[-1] < 1e-2


def test_advection_at_unit_courant_number_is_exact(x64):
    """With dt = dx / a, upwind shifts the data by exactly one cell per step."""
    p = G.Advection(1.0)
    g = Grid1D.cells(0.0, 1.0, 50)
    t = jnp.asarray([0.0, 0.1, 0.2, 0.3])
    sim = G.simulate(p, g, t, cfl=1.0)
    assert sim.substeps == 5
    np.testing.assert_allclose(sim.u, p.exact(g.x, t), rtol=0, atol=1e-12)


def test_burgers_shock_position(x64, fv_run):
    """The captured shock (half height) moves at the Rankine-Hugoniot speed a/2."""
    r = fv_run(BURGERS_3, 400, 0.8)
    a = 3.0
    for j in range(6, r.t.size):  # after breaking at t = 1/3
        xs = r.x[np.argmax(r.u[j] < 0.5 * a)]
        assert abs(xs - 0.5 * (a * r.t[j] - 1.0)) < 2 * r.grid.dx


# --- Godunov fluxes -------------------------------------------------------------------------------
def test_riemann_fluxes_are_consistent_and_monotone(x64):
    rng = np.random.default_rng(0)
    uL = jnp.asarray(rng.uniform(-3, 3, 200))
    uR = jnp.asarray(rng.uniform(-3, 3, 200))
    b = G.Burgers(2.0)
    adv = G.Advection(2.0)
    # consistency H(u, u) = f(u)
    np.testing.assert_allclose(b.riemann(uL, uL), 0.5 * uL**2, rtol=1e-15)
    np.testing.assert_allclose(adv.riemann(uL, uL), 2.0 * uL, rtol=1e-15)
    # monotone: nondecreasing in the left state, nonincreasing in the right state
    dL = jax.vmap(jax.grad(b.riemann, 0))(uL, uR)
    dR = jax.vmap(jax.grad(b.riemann, 1))(uL, uR)
    assert bool(jnp.all(dL >= 0)) and bool(jnp.all(dR <= 0))
    # Godunov's flux for a convex f: min over [uL, uR] if uL <= uR, max over [uR, uL] otherwise
    s = jnp.linspace(0.0, 1.0, 2001)[:, None]
    f_path = 0.5 * (uL + s * (uR - uL)) ** 2
    expected = jnp.where(uL <= uR, f_path.min(0), f_path.max(0))
    np.testing.assert_allclose(b.riemann(uL, uR), expected, rtol=0, atol=2e-6)


def test_godunov_ghost_cells(x64):
    """Ghost states: Dirichlet g; Neumann u_wall -/+ g dx (linear extrapolation); periodic wrap.
    Probed with one-sided 'fluxes' that return the left or the right state."""
    u = jnp.asarray([1.0, 2.0, 4.0, 7.0])
    dx = 0.25
    take_left = lambda l, r: l
    take_right = lambda l, r: r
    D, N, P = physcon.Dirichlet, physcon.Neumann, physcon.Periodic
    f = fv.godunov_fluxes(take_left, u, 0.0, D(lambda t: 5.0 + t), N(2.0), dx)
    np.testing.assert_allclose(f, [5.0, 1.0, 2.0, 4.0, 7.0])
    f = fv.godunov_fluxes(take_right, u, 0.5, N(2.0), N(-4.0), dx)
    np.testing.assert_allclose(f, [1.0, 2.0, 4.0, 7.0, 7.0 - 4.0 * dx])
    f = fv.godunov_fluxes(take_left, u, 0.0, N(2.0), D(0.0), dx)
    assert float(f[0]) == pytest.approx(1.0 - 2.0 * dx)
    f = fv.godunov_fluxes(take_left, u, 0.0, P(), P(), dx)
    np.testing.assert_allclose(f, [7.0, 1.0, 2.0, 4.0, 7.0])


def test_stable_dt_is_the_cfl_limit(x64):
    g = Grid1D.cells(-1.0, 1.0, 40)
    assert float(G.stable_dt(G.Burgers(4.0), g, 1.0)) == pytest.approx(0.05 / 4.0)
    g = Grid1D.cells(0.0, 1.0, 40)
    assert float(G.stable_dt(G.Advection(2.0), g, 1.0)) == pytest.approx(0.025 / 2.0)


# --- gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, v0, times",
    [(lambda a: G.Burgers(a=a), 2.0, (0.0, 0.2, 0.4)), (lambda a: G.Advection(a=a), 1.5, (0.0, 0.1, 0.2))],
    ids=["Burgers.a", "Advection.a"],
)
def test_grad_wrt_speed_matches_finite_differences(x64, make, v0, times):
    p0 = make(v0)
    g = Grid1D.cells(*p0.domain, n=20)
    t = jnp.asarray(times)
    S = G.stable_substeps(make(1.05 * v0), g, t)
    w = 1.0 + g.x**2

    @jax.jit
    def J(a):
        u = G.solve(make(a), g, t, substeps=S)
        return g.integrate(w * u[-1] ** 2) + u[-1, g.n // 2]

    grad = float(jax.grad(J)(jnp.asarray(v0)))
    h = 1e-5
    fd = float((J(jnp.asarray(v0 + h)) - J(jnp.asarray(v0 - h))) / (2 * h))
    assert abs(grad) > 1e-2
    assert grad == pytest.approx(fd, rel=1e-7)


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, message", [(G.Advection, r"Advection: a \(speed\)"),
                                          (G.Burgers, r"Burgers: a \(inflow value\)")])
def test_invalid_speed(x64, cls, message):
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match=message + " must be positive and finite"):
            cls(bad)
    p = cls()
    g = Grid1D.cells(*p.domain, n=10)
    f = jax.jit(lambda a: G.solve(cls(a), g, jnp.asarray([0.0, 0.05]), substeps=10))
    for bad in (-1.0, np.inf):
        with pytest.raises(RUNTIME_ERRORS, match=message + " must be positive and finite"):
            f(jnp.asarray(bad)).block_until_ready()
    assert bool(jnp.all(jnp.isfinite(f(jnp.asarray(1.0)))))


def test_hyperbolic_unstable_step_rejected(x64):
    p = G.Burgers(3.0)
    g = Grid1D.cells(-1.0, 1.0, 20)
    t = jnp.asarray([0.0, 0.1])
    s = G.stable_substeps(p, g, t, cfl=1.0)  # dt <= dx / a
    assert s == 3
    with pytest.raises(RUNTIME_ERRORS, match="unstable time step"):
        G.solve(p, g, t, substeps=s - 1)
    G.solve(p, g, t, substeps=s)


# --- pointwise PDE residuals (the SoftC integrand) ------------------------------------------------
def _derivatives(f, x, t):
    """``(u, u_t, u_x, u_xx)`` of ``f(x, t)`` at scalar ``x``, ``t`` by reverse-mode autodiff."""
    x, t = jnp.asarray(x, float), jnp.asarray(t, float)
    f_x = jax.grad(f, 0)
    return f(x, t), jax.grad(f, 1)(x, t), f_x(x, t), jax.grad(f_x, 0)(x, t)


def test_advection_residual(x64):
    p = G.Advection(2.0)
    # the closed form away from the step x = 1/2 + a t
    for x, t in [(0.2, 0.1), (0.9, 0.1), (0.1, 0.3)]:
        assert float(p.residual(*_derivatives(p.exact, x, t))) == 0.0
    # any smooth travelling wave at the right speed; the wrong speed a' gives (a - a') u_x
    for a2 in (2.0, 3.0):
        f = lambda x, t: jnp.sin(3.0 * (x - a2 * t))
        for x, t in [(0.2, 0.1), (0.7, 0.4)]:
            d = _derivatives(f, x, t)
            assert float(p.residual(*d)) == pytest.approx((2.0 - a2) * float(d[2]), abs=1e-13)
    assert abs(float(p.residual(*_derivatives(lambda x, t: jnp.sin(3.0 * (x - 3.0 * t)), 0.2, 0.1)))) > 0.1


def test_burgers_residual_of_closed_form_before_breaking(x64):
    for a in (1.0, 3.0):
        p = G.Burgers(a)
        t = 0.6 / a  # a t = 0.6 < 1: ramp on [a t - 1, 0]
        for x in (-0.9, -0.3, -0.1, 0.5):  # constant, ramp, ramp, zero
            d = _derivatives(p.exact, x, t)
            assert float(p.residual(*d)) == pytest.approx(0.0, abs=1e-13)
        assert abs(float(_derivatives(p.exact, -0.1, t)[1])) > 0.05  # the ramp moves
        # the residual is u_t + u u_x: a does not enter the equation
        assert float(p.residual(2.0, 0.5, 3.0, 7.0)) == 6.5
    # a non-solution: the ramp frozen in time
    d = _derivatives(lambda x, t: -3.0 * x, -0.4, 0.1)
    assert float(G.Burgers(3.0).residual(*d)) == pytest.approx(-3.6, rel=1e-14)


def test_batched_advection_residual_one_speed_per_function(x64):
    a = jnp.asarray([1.0, 2.0, 5.0])
    u_t, u_x = jnp.ones((3, 4)), jnp.full((3, 4), 2.0)
    r = G.Advection(a).residual(0.0, u_t, u_x, 0.0)
    np.testing.assert_allclose(r, 1.0 + 2.0 * a[:, None] * jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="Advection: a holds a batch of 3 values"):
        G.Advection(a).residual(0.0, jnp.ones((4, 3)), 0.0, 0.0)
    # Burgers ignores its batch of inflow values
    assert G.Burgers(a).residual(jnp.ones((4, 3)), 0.0, 1.0, 0.0).shape == (4, 3)
