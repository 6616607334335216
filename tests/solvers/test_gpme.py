"""Finite-volume GPME solver (physcon.gpme / physcon.solvers.fv): conservation, convergence to
the closed forms, jit/vmap/grad, dtypes and input validation.

Hyperbolic problems (Advection, Burgers) have their own file, test_hyperbolic.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon
from physcon import Grid1D
from physcon.solvers import fv

G = physcon.gpme

# A run-time failure of ``eqx.error_if``: eagerly (and under ``eqx.filter_jit``) equinox raises
# ``EquinoxRuntimeError``; under plain ``jax.jit`` it surfaces as ``jax.errors.JaxRuntimeError``
# carrying the message. Both are ``RuntimeError`` subclasses in equinox 0.13 / jax 0.10.
RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)


def _sin_grid(n=16):
    return Grid1D.cells(0.0, 2 * np.pi, n)


# --- discrete conservation ------------------------------------------------------------------------
# (problem, n): the grids are those of the convergence tests, so the runs are shared (fv_run).
BALANCE_CASES = [
    (G.Diffusion(1.0), 32),
    (G.Diffusion(1.0, walls="dirichlet"), 32),
    (G.Diffusion(1.0, walls="neumann"), 32),
    (G.PorousMedium(1.0), 100),
    (G.PorousMedium(3.0), 100),
    (G.PorousMedium(6.0), 100),
    (G.Stefan(0.5), 400),
    (G.Stefan(0.6), 400),
]


@pytest.mark.parametrize("problem, n", BALANCE_CASES, ids=repr)
def test_discrete_mass_balance(x64, fv_run, problem, n):
    """mass(t) - mass(t0) equals the accumulated boundary inflow to round-off (flux form)."""
    nt = 6 if isinstance(problem, G.Diffusion) else 11
    r = fv_run(problem, n, None, nt)
    mass = np.asarray(r.grid.integrate(jnp.asarray(r.u)))
    mass0 = float(r.grid.integrate(jnp.asarray(r.u[0])))
    scale = max(np.abs(mass).max(), float(r.grid.integrate(jnp.abs(jnp.asarray(r.u[0])))), 1.0)
    assert r.inflow[0] == 0.0
    np.testing.assert_allclose(mass - mass0, r.inflow, rtol=0, atol=1e-12 * scale)
    # the balance is not vacuous: mass actually flows in for the wall-driven problems
    if not isinstance(problem, G.Diffusion):
        assert r.inflow[-1] > 0.1


def test_mass_balance_first_order_walls(x64, fv_run):
    """The balance also holds with the first-order Dirichlet wall stencil (boundary_order=1)."""
    p = G.PorousMedium(3.0)
    ref = fv_run(p, 25)  # same grid and times, default second-order walls
    g = ref.grid
    sim = G.simulate(p, g, jnp.asarray(ref.t), boundary_order=1)
    d = g.integrate(sim.u) - g.integrate(sim.u[0]) - sim.inflow
    assert float(jnp.abs(d).max()) <= 1e-12 * max(float(jnp.abs(g.integrate(sim.u)).max()), 1.0)
    assert float(sim.inflow[-1]) > 0.1
    # and the first-order wall is less accurate than the default second-order one
    assert float(jnp.abs(sim.u - ref.exact).sum()) > np.abs(ref.u - ref.exact).sum()


# --- convergence to the closed forms --------------------------------------------------------------
@pytest.mark.parametrize("walls", ["periodic", "dirichlet", "neumann"])
def test_diffusion_converges_second_order(x64, fv_run, order_of, walls):
    """Max error over t in (0, 1] of ``exp(-k t) sin x``; n = 16, 32, 64.

    Measured orders: periodic 1.98, dirichlet 2.28, neumann 1.98.
    """
    p = G.Diffusion(1.0, walls=walls)
    ns = [16, 32, 64]
    errs = [np.abs(r.u[1:] - r.exact[1:]).max() for r in (fv_run(p, n, None, 6) for n in ns)]
    assert errs[-1] < 1e-3
    assert order_of(ns, errs) > 1.9


@pytest.mark.parametrize("m, bound", [(1.0, 1.8), (3.0, 1.23), (6.0, 1.07)])
def test_porous_medium_convergence(x64, fv_run, order_of, l1_error, m, bound):
    """L1 error averaged over 10 output times in (0, 1]; n = 25, 50, 100.

    The front ``u ~ (t - x)^(1/m)`` limits the L1 order to about ``1 + 1/m``. Measured fits on
    these grids: m=1: 2.48, m=3: 1.75, m=6: 1.83 (the finer pair 50 -> 100 -> 200 gives the
    asymptotic 1.91, 1.32, 1.15). Bound: ``1 + 1/m - 0.1`` (1.8 for m=1).
    """
    p = G.PorousMedium(m)
    ns = [25, 50, 100]
    errs = [l1_error(fv_run(p, n)) for n in ns]
    assert order_of(ns, errs) > bound
    assert errs[-1] < 1e-3


@pytest.mark.parametrize("u_star", [0.5, 0.6])
def test_stefan_convergence(x64, fv_run, order_of, l1_error, u_star):
    """L1 error averaged over 10 output times in (0, 0.1]; n = 50, 100, 200, 400.

    Measured orders: u*=0.5: 1.15, u*=0.6: 1.27 (a moving discontinuity: order ~1; the
    per-refinement ratios are irregular as the front crosses cells). Bound 0.9.
    """
    p = G.Stefan(u_star)
    ns = [50, 100, 200, 400]
    errs = [l1_error(fv_run(p, n)) for n in ns]
    assert order_of(ns, errs) > 0.9
    assert errs[-1] < 5e-4


@pytest.mark.parametrize(
    "problem, ns, bound",
    [
        (G.PorousMedium(1.0), [25, 50, 100], 1.9),
        (G.PorousMedium(3.0), [25, 50, 100], 1.8),
        (G.PorousMedium(6.0), [25, 50, 100], 1.65),
        (G.Stefan(0.5), [50, 100, 200, 400], 1.85),
        (G.Stefan(0.6), [50, 100, 200, 400], 1.85),
    ],
    ids=repr,
)
def test_discrete_mass_converges_to_closed_form_mass(x64, fv_run, order_of, problem, ns, bound):
    """max_t |integral u_h - mass(t)|: the wall fluxes are right to second order.

    Measured orders: PME m=1/3/6: 2.06/1.92/1.77; Stefan u*=0.5/0.6: 1.96/2.14.
    """
    errs = []
    for n in ns:
        r = fv_run(problem, n)
        errs.append(np.abs(r.grid.integrate(jnp.asarray(r.u)) - problem.mass(r.t)).max())
    assert errs[-1] < 1e-4
    assert order_of(ns, errs) > bound


def test_stefan_front_position(x64, fv_run):
    """The numerical front (first cell below u*/2) tracks alpha sqrt(t) within two cells."""
    p = G.Stefan(0.6)
    r = fv_run(p, 400)
    for j in range(2, r.t.size):
        front = r.x[np.argmax(r.u[j] < 0.3)]
        assert abs(front - float(p.front(r.t[j]))) < 2 * r.grid.dx


# --- face fluxes ----------------------------------------------------------------------------------
def test_kirchhoff_wall_fluxes_exact_for_quadratics(x64):
    """With a constant diffusivity the second-order Dirichlet wall flux is exact for a
    quadratic profile; the Neumann wall flux is -k g; periodic walls share one flux."""
    k, dx, n = 1.7, 0.1, 6
    x = (np.arange(n) + 0.5) * dx
    b = n * dx
    c0, c1, c2 = 0.3, -1.2, 2.5
    u = jnp.asarray(c0 + c1 * x + c2 * x**2)
    exact_flux = lambda xw: -k * (c1 + 2 * c2 * xw)
    pot, dif = (lambda v: k * v), (lambda v: k * jnp.ones_like(v))
    D, N, P = physcon.Dirichlet, physcon.Neumann, physcon.Periodic
    f = fv.kirchhoff_fluxes(pot, dif, u, 0.0, D(c0), D(c0 + c1 * b + c2 * b * b), dx, 2)
    assert f.shape == (n + 1,)
    assert float(f[0]) == pytest.approx(exact_flux(0.0), rel=1e-12)
    assert float(f[-1]) == pytest.approx(exact_flux(b), rel=1e-12)
    # interior: centred difference, exact for quadratics at the faces
    np.testing.assert_allclose(f[1:-1], exact_flux(x[:-1] + 0.5 * dx), rtol=1e-12)
    # first-order walls are not exact
    f1 = fv.kirchhoff_fluxes(pot, dif, u, 0.0, D(c0), D(c0 + c1 * b + c2 * b * b), dx, 1)
    assert abs(float(f1[0]) - exact_flux(0.0)) > 1e-3
    f = fv.kirchhoff_fluxes(pot, dif, u, 0.3, N(lambda t: 2 * t), N(-1.0), dx, 2)
    assert float(f[0]) == pytest.approx(-k * 0.6) and float(f[-1]) == pytest.approx(k)
    f = fv.kirchhoff_fluxes(pot, dif, u, 0.0, P(), P(), dx, 2)
    assert float(f[0]) == float(f[-1]) == pytest.approx(-k * float(u[0] - u[-1]) / dx)


# --- substeps and stability -------------------------------------------------------------------------
def test_stable_substeps_is_the_fewest_stable_count(x64):
    g = Grid1D.cells(0.0, 1.0, 20)
    t = jnp.linspace(0.0, 0.1, 5)
    for p in (G.PorousMedium(3.0), G.Stefan(0.6)):
        s = G.stable_substeps(p, g, t)
        limit = float(G.stable_dt(p, g, t[-1]))
        assert 0.025 / s <= 0.9 * limit * (1 + 1e-12)
        assert 0.025 / (s - 1) > 0.9 * limit
        sim = G.simulate(p, g, t)
        assert sim.substeps == s
        assert float(sim.dt) == pytest.approx(0.025 / s)


def test_stable_dt_values(x64):
    """dt <= dx^2 / (c max k): c = 2 inside, 4 with a 2nd-order Dirichlet wall (3 for 1st)."""
    g = _sin_grid(10)
    dx = g.dx
    assert float(G.stable_dt(G.Diffusion(2.0), g, 1.0)) == pytest.approx(dx * dx / 4.0)
    assert float(G.stable_dt(G.Diffusion(2.0, walls="dirichlet"), g, 1.0)) == pytest.approx(dx * dx / 8.0)
    assert float(G.stable_dt(G.Diffusion(2.0, walls="dirichlet"), g, 1.0, 1)) == pytest.approx(dx * dx / 6.0)
    g1 = Grid1D.cells(0.0, 1.0, 10)
    # PME: k = u^m <= m t_end (maximum principle)
    assert float(G.stable_dt(G.PorousMedium(3.0), g1, 0.5)) == pytest.approx(0.01 / (4 * 1.5))


def test_batched_stable_substeps_takes_the_most_restrictive(x64):
    g = Grid1D.cells(0.0, 1.0, 20)
    t = jnp.linspace(0.0, 0.5, 3)
    ms = jnp.asarray([1.0, 6.0, 3.0])
    each = [G.stable_substeps(G.PorousMedium(float(m)), g, t) for m in ms]
    assert G.stable_substeps(G.PorousMedium(ms), g, t) == max(each) > min(each)


def test_unstable_step_is_rejected_and_is_really_unstable(x64):
    p = G.Diffusion(1.0)
    g = _sin_grid(16)
    t = jnp.linspace(0.0, 1.0, 3)
    s = G.stable_substeps(p, g, t, cfl=1.0)
    with pytest.raises(RUNTIME_ERRORS, match="unstable time step"):
        G.solve(p, g, t, substeps=s - 1)
    with pytest.raises(RUNTIME_ERRORS, match="unstable time step"):
        jax.jit(lambda tt: G.solve(p, g, tt, substeps=s - 1))(t).block_until_ready()
    # the limit is the real monotonicity (maximum principle) limit: the checkerboard mode is
    # multiplied by 1 - 4 k dt / dx^2 per step, |.| <= 1 up to the limit and > 1 beyond it.
    # (Stepped here with the problem's own fluxes, since simulate refuses the unstable step.)
    dt_lim = float(G.stable_dt(p, g, 1.0))

    @jax.jit
    def euler40(dt):
        def step(i, u):
            f = p.face_fluxes(u, i * dt, g.dx, 2)
            return u - (dt / g.dx) * (f[1:] - f[:-1])
        return jax.lax.fori_loop(0, 40, step, jnp.where(jnp.arange(16) % 2 == 0, 1.0, -1.0))

    assert float(jnp.abs(euler40(1.1 * dt_lim)).max()) > 1.2**40 * 0.99
    assert float(jnp.abs(euler40(dt_lim)).max()) <= 1.0 + 1e-12


def test_single_output_time_returns_initial_data(x64):
    g = Grid1D.cells(0.0, 1.0, 8)
    sim = G.simulate(G.Stefan(0.6), g, jnp.asarray([0.02]), u0=jnp.linspace(0.0, 1.0, 8))
    assert sim.u.shape == (1, 8) and sim.inflow.shape == (1,)
    np.testing.assert_array_equal(sim.u[0], jnp.linspace(0.0, 1.0, 8))
    assert float(sim.inflow[0]) == 0.0


# --- transformations ------------------------------------------------------------------------------
def test_jit_simulate_matches_eager_and_traces_parameters(x64):
    g = _sin_grid(16)
    t = jnp.linspace(0.0, 0.3, 4)
    S = G.stable_substeps(G.Diffusion(2.0), g, t)
    f = jax.jit(lambda p, tt: G.simulate(p, g, tt, substeps=S))
    for k in (1.0, 2.0):
        sim = f(G.Diffusion(jnp.asarray(k)), t)
        ref = G.simulate(G.Diffusion(k), g, t, substeps=S)
        np.testing.assert_allclose(sim.u, ref.u, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(sim.inflow, ref.inflow, atol=1e-15)
        assert sim.substeps == S
    assert f._cache_size() == 1  # k and t are traced, not baked in
    # jit of solve on another problem family
    p = G.Stefan(0.6)
    g1 = Grid1D.cells(0.0, 1.0, 16)
    t1 = jnp.linspace(0.0, 0.05, 3)
    S1 = G.stable_substeps(p, g1, t1)
    u = jax.jit(lambda p, tt: G.solve(p, g1, tt, substeps=S1))(p, t1)
    np.testing.assert_allclose(u, G.solve(p, g1, t1, substeps=S1), rtol=1e-13, atol=1e-15)


def test_vmap_over_problems(x64):
    g = _sin_grid(16)
    t = jnp.linspace(0.0, 0.3, 4)
    ks = jnp.asarray([1.0, 2.5, 4.0])
    S = G.stable_substeps(G.Diffusion(ks), g, t)
    assert S == G.stable_substeps(G.Diffusion(4.0), g, t)
    batch = jax.vmap(lambda k: G.solve(G.Diffusion(k=k), g, t, substeps=S))(ks)
    batch2 = eqx.filter_vmap(lambda p: G.solve(p, g, t, substeps=S))(G.Diffusion(k=ks))
    assert batch.shape == (3, 4, 16)
    one = jax.jit(lambda k: G.solve(G.Diffusion(k=k), g, t, substeps=S))
    for i, k in enumerate(ks):
        ref = one(k)
        np.testing.assert_allclose(batch[i], ref, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(batch2[i], ref, rtol=1e-13, atol=1e-15)
    # each member decays at its own rate
    amp = jnp.abs(batch[:, -1]).max(-1)
    assert bool(jnp.all(jnp.diff(amp) < 0))


def test_vmap_over_porous_medium_exponents(x64):
    g = Grid1D.cells(0.0, 1.0, 16)
    t = jnp.linspace(0.0, 0.4, 3)
    ms = jnp.asarray([1.0, 3.0])
    S = G.stable_substeps(G.PorousMedium(ms), g, t)
    sims = eqx.filter_jit(eqx.filter_vmap(lambda p: G.simulate(p, g, t, substeps=S)))(G.PorousMedium(ms))
    one = jax.jit(lambda m: G.simulate(G.PorousMedium(m), g, t, substeps=S))
    for i, m in enumerate(ms):
        ref = one(m)
        np.testing.assert_allclose(sims.u[i], ref.u, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(sims.inflow[i], ref.inflow, rtol=1e-13, atol=1e-15)
    assert float(sims.inflow[1, -1]) != pytest.approx(float(sims.inflow[0, -1]), rel=1e-2)
    # a batched problem passed directly is solved natively, with vmap's output layout
    native = G.simulate(G.PorousMedium(ms), g, t, substeps=S)
    assert native.u.shape == sims.u.shape == (2, 3, 16)
    np.testing.assert_allclose(native.u, sims.u, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(native.inflow, sims.inflow, rtol=1e-13, atol=1e-15)


def test_vmap_over_initial_data(x64):
    g = _sin_grid(16)
    x = g.x
    t = jnp.linspace(0.0, 0.2, 3)
    p = G.Diffusion(1.5)
    S = G.stable_substeps(p, g, t)
    u0s = jnp.stack([jnp.sin(x), jnp.cos(2 * x), 1.0 + 0.1 * jnp.sin(3 * x)])
    one = jax.jit(lambda u0: G.solve(p, g, t, u0=u0, substeps=S))
    batch = jax.vmap(one)(u0s)
    for i in range(3):
        np.testing.assert_allclose(batch[i], one(u0s[i]), rtol=1e-13, atol=1e-15)
    # cos(2x) is an eigenvector of the periodic scheme: each Euler step multiplies it by
    # 1 - dt k (2 - 2 cos(2 dx)) / dx^2
    dt = 0.1 / S
    factor = (1 - dt * 1.5 * (2 - 2 * np.cos(2 * g.dx)) / g.dx**2) ** (2 * S)
    np.testing.assert_allclose(batch[1, -1], factor * u0s[1], rtol=0, atol=1e-13)
    # and the constant part is conserved exactly (periodic walls)
    assert float(g.integrate(batch[2, -1])) == pytest.approx(2 * np.pi, rel=1e-14)


def _central_difference(f, p, h):
    return (f(p + h) - f(p - h)) / (2 * h)


GRAD_CASES = [
    # (name, make problem, grid, t, scalar of the final state)
    ("Diffusion.k", lambda v: G.Diffusion(k=v), 2.0, _sin_grid(16), (0.0, 0.1, 0.2),
     lambda g, u: g.integrate(u[-1] * jnp.sin(g.x))),
    ("PorousMedium.m", lambda v: G.PorousMedium(m=v), 3.0, Grid1D.cells(0.0, 1.0, 16), (0.0, 0.2, 0.4),
     lambda g, u: g.integrate(u[-1] * (1.0 + g.x)) + u[-1, 2]),
    ("Stefan.u_star", lambda v: G.Stefan(u_star=v), 0.6, Grid1D.cells(0.0, 1.0, 16), (0.0, 0.05, 0.1),
     lambda g, u: g.integrate(u[-1] * (1.0 + g.x)) + u[-1, 1]),
]


@pytest.mark.parametrize("name, make, v0, grid, times, scalar", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grad_wrt_physical_parameter_matches_finite_differences(x64, name, make, v0, grid, times, scalar):
    """Reverse mode through the checkpointed time loop vs central differences (h = 1e-5).

    Measured agreement ~1e-10 for all three. The discrete Stefan solution is only piecewise
    smooth in u* (cells cross u* at u*-dependent steps): with h = 1e-4 the difference quotient
    straddles such a kink at u* = 0.6 (3e-4 off), with h = 1e-5 it does not.
    """
    t = jnp.asarray(times)
    S = G.stable_substeps(make(v0 * 1.05), grid, t)

    @jax.jit
    def J(v):
        return scalar(grid, G.solve(make(v), grid, t, substeps=S))

    g = float(jax.grad(J)(jnp.asarray(v0)))
    fd = float(_central_difference(J, jnp.asarray(v0), 1e-5))
    assert abs(g) > 1e-3  # the parameter matters
    assert g == pytest.approx(fd, rel=1e-7)


# --- dtypes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["x64", "x32"])
def test_float32_times_give_float32_output(request, mode):
    """float32 t -> float32 u, inflow and t, with x64 on or off, whatever the parameters'
    dtype (a float64 array parameter under x64 is cast; a Python number stays weak)."""
    request.getfixturevalue(mode)
    g = Grid1D.cells(0.0, 1.0, 8)
    t = jnp.linspace(0.0, 0.1, 3, dtype=jnp.float32)
    t_spec = jax.ShapeDtypeStruct((3,), jnp.float32)
    for p in (G.Stefan(0.6), G.PorousMedium(jnp.asarray(3.0)), G.Burgers(2.0)):
        gp = Grid1D.cells(*p.domain, n=8)
        out = jax.eval_shape(lambda tt: G.simulate(p, gp, tt, substeps=100), t_spec)
        assert (out.u.dtype, out.inflow.dtype, out.t.dtype) == (jnp.float32,) * 3, p
    # one real float32 run: finite, a sensible solution (error 0.01 against a mean of 0.43),
    # mass conserved to float32 round-off
    p = G.PorousMedium(jnp.asarray(3.0)) if mode == "x64" else G.PorousMedium(3.0)
    t = jnp.linspace(0.0, 0.5, 3, dtype=jnp.float32)
    sim = G.simulate(p, g, t, u0=np.zeros(8, np.float64))  # a float64 u0 does not promote
    assert sim.u.dtype == jnp.float32 and sim.inflow.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(sim.u)))
    assert float(jnp.abs(sim.u[-1] - p.exact(g.x, t)[-1]).mean()) < 0.02
    d = g.integrate(sim.u) - g.integrate(sim.u[0]) - sim.inflow
    assert float(jnp.abs(d).max()) < 1e-6 * float(sim.inflow[-1])


def test_float64_times_give_float64_output(x64):
    g = Grid1D.cells(0.0, 1.0, 8)
    sim = G.simulate(G.PorousMedium(jnp.asarray(2.0, jnp.float32)), g, jnp.linspace(0.0, 0.1, 3))
    assert sim.u.dtype == jnp.float64 and sim.inflow.dtype == jnp.float64


def test_importing_physcon_leaves_x64_off():
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", "import jax; import physcon; print(jax.config.jax_enable_x64)"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


K_MESSAGE = r"Diffusion: k \(diffusivity\) must be positive and finite"
M_MESSAGE = r"PorousMedium: m \(exponent\) must be positive and finite"


# --- bad input ------------------------------------------------------------------------------------
def test_nan_initial_data_is_rejected(x64):
    g = _sin_grid(16)
    t = jnp.linspace(0.0, 0.1, 3)
    p = G.Diffusion(1.0)
    u0 = jnp.sin(g.x).at[5].set(jnp.nan)
    with pytest.raises(RUNTIME_ERRORS, match=r"u0 \(initial data\) must be finite"):
        G.solve(p, g, t, u0=u0)
    with pytest.raises(RUNTIME_ERRORS, match=r"u0 \(initial data\) must be finite"):
        jax.jit(lambda u: G.solve(p, g, t, u0=u, substeps=20))(u0).block_until_ready()
    with pytest.raises(RUNTIME_ERRORS, match=r"u0 \(initial data\) must be finite"):
        G.solve(p, g, t, u0=u0.at[5].set(jnp.inf))


@pytest.mark.parametrize(
    "make, good, value, message",
    [
        (lambda v: G.Diffusion(k=v), 1.0, -1.0, K_MESSAGE),
        (lambda v: G.Diffusion(k=v), 1.0, 0.0, K_MESSAGE),
        (lambda v: G.Diffusion(k=v), 1.0, np.inf, K_MESSAGE),
        (lambda v: G.Diffusion(k=v), 1.0, np.nan, K_MESSAGE),
        (lambda v: G.PorousMedium(m=v), 3.0, -2.0, M_MESSAGE),
        (lambda v: G.PorousMedium(m=v), 3.0, np.inf, M_MESSAGE),
        (lambda v: G.Stefan(u_star=v), 0.6, 0.0, r"Stefan: u_star"),
        (lambda v: G.Stefan(u_star=v), 0.6, 1.2, r"Stefan: 1 - u_star must be positive"),
    ],
)
def test_invalid_parameter_rejected_eagerly(make, good, value, message):
    with pytest.raises(ValueError, match=message):
        make(value)
    with pytest.raises(ValueError, match=message):  # one bad member of a batch is enough
        make(jnp.asarray([good, value]))
    make(jnp.asarray([good, good]))


@pytest.mark.parametrize(
    "make, grid, t, value, message",
    [
        (lambda v: G.Diffusion(k=v), _sin_grid(16), (0.0, 0.1), -1.0, K_MESSAGE),
        (lambda v: G.Diffusion(k=v), _sin_grid(16), (0.0, 0.1), np.inf, K_MESSAGE),
        (lambda v: G.PorousMedium(m=v), Grid1D.cells(0.0, 1.0, 8), (0.0, 0.1), -1.0, M_MESSAGE),
        (lambda v: G.Stefan(u_star=v), Grid1D.cells(0.0, 1.0, 8), (0.0, 0.01), 1.5,
         r"Stefan: u_star must lie in \(0, 1\)"),
    ],
    ids=["k<0", "k=inf", "m<0", "u*>1"],
)
def test_invalid_traced_parameter_rejected_under_jit(x64, make, grid, t, value, message):
    f = jax.jit(lambda v: G.solve(make(v), grid, jnp.asarray(t), substeps=50))
    with pytest.raises(RUNTIME_ERRORS, match=message):
        f(jnp.asarray(value)).block_until_ready()
    # the same compiled function runs for a valid value
    assert bool(jnp.all(jnp.isfinite(f(jnp.asarray(0.6)))))


def test_infinite_parameter_does_not_reach_the_step_rule(x64):
    """k = inf must be reported as a bad k, not as a ZeroDivisionError in stable_substeps."""
    with pytest.raises(ValueError, match=r"k \(diffusivity\)"):
        G.solve(G.Diffusion(jnp.inf), _sin_grid(8), jnp.linspace(0.0, 0.1, 3))


def test_shape_errors(x64):
    g = _sin_grid(16)
    p = G.Diffusion(1.0)
    t = jnp.linspace(0.0, 0.1, 3)
    with pytest.raises(ValueError, match=r"u0 must have shape \(nx,\) = \(16,\), got \(15,\)"):
        G.solve(p, g, t, u0=jnp.zeros(15))
    with pytest.raises(ValueError, match=r"u0 must have shape .* got \(2, 16\)"):
        G.solve(p, g, t, u0=jnp.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"t must be a 1-D array of output times, got shape \(1, 3\)"):
        G.solve(p, g, t[None])
    with pytest.raises(ValueError, match=r"t must be a 1-D array .* got shape \(\)"):
        G.solve(p, g, jnp.asarray(0.1))
    with pytest.raises(ValueError, match=r"t must be a 1-D array .* got shape \(0,\)"):
        G.solve(p, g, jnp.zeros(0))


def test_time_must_increase(x64):
    g = _sin_grid(16)
    p = G.Diffusion(1.0)
    for t in (jnp.asarray([0.0, 0.2, 0.1]), jnp.asarray([0.0, 0.1, 0.1])):
        with pytest.raises(ValueError, match="t must be strictly increasing"):
            G.solve(p, g, t)
        with pytest.raises(RUNTIME_ERRORS, match="t must be strictly increasing"):
            G.solve(p, g, t, substeps=20)
        with pytest.raises(RUNTIME_ERRORS, match="t must be strictly increasing"):
            jax.jit(lambda tt: G.solve(p, g, tt, substeps=20))(t).block_until_ready()


def test_grid_must_match_problem(x64):
    t = jnp.linspace(0.0, 0.1, 3)
    with pytest.raises(ValueError, match=re.escape("grid covers (0.0, 1.0) but the problem's domain is")):
        G.solve(G.Diffusion(1.0), Grid1D.cells(0.0, 1.0, 16), t)
    with pytest.raises(ValueError, match="grid must be a cell grid"):
        G.solve(G.Stefan(0.6), Grid1D.nodes(0.0, 1.0, 16), t)
    with pytest.raises(ValueError, match="grid must be a cell grid"):
        G.solve(G.Stefan(0.6), (0.0, 1.0, 16), t)


def test_substeps_must_be_given_under_transforms(x64):
    g = _sin_grid(8)
    t = jnp.linspace(0.0, 0.1, 3)
    ks = jnp.asarray([1.0, 2.0])
    with pytest.raises(ValueError, match=r"pass substeps=\.\.\."):
        jax.vmap(lambda k: G.solve(G.Diffusion(k=k), g, t))(ks)
    with pytest.raises(ValueError, match=r"pass substeps=\.\.\."):
        jax.jit(lambda tt: G.solve(G.Diffusion(1.0), g, tt))(t)
    with pytest.raises(ValueError, match=r"pass substeps=\.\.\."):
        jax.grad(lambda k: G.solve(G.Diffusion(k=k), g, t).sum())(1.0)


def test_other_argument_checks(x64):
    g = _sin_grid(8)
    t = jnp.linspace(0.0, 0.1, 3)
    p = G.Diffusion(1.0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="substeps must be a positive int"):
            G.solve(p, g, t, substeps=bad)
    with pytest.raises(ValueError, match="boundary_order must be 1 or 2"):
        G.solve(p, g, t, boundary_order=3)
    with pytest.raises(ValueError, match=r"cfl must be in \(0, 1\]"):
        G.solve(p, g, t, cfl=1.5)
    with pytest.raises(ValueError, match="walls must be periodic, dirichlet or neumann"):
        G.Diffusion(1.0, walls="robin")


def test_problem_registry_and_metadata():
    assert set(G.PROBLEMS) == {"diffusion", "pme", "stefan", "advection", "burgers"}
    for name, cls in G.PROBLEMS.items():
        p = cls()
        assert float(p.value) == float(getattr(p, cls.parameter))
        lo, hi = cls.train_range
        assert lo < hi
        a, b = cls.domain
        assert a < b
    assert G.Stefan.t_span == (0.0, 0.1)
    assert G.Stefan.test_values == (0.5, 0.6)
    assert G.PorousMedium.test_values == (1.0, 3.0, 6.0)
    assert fv.float_dtype(jnp.zeros(2, jnp.int32)) == jnp.result_type(float)


# --- pointwise PDE residuals (the SoftC integrand) ------------------------------------------------
def _derivatives(f, x, t):
    """``(u, u_t, u_x, u_xx)`` of ``f(x, t)`` at scalar ``x``, ``t`` by reverse-mode autodiff."""
    x, t = jnp.asarray(x, float), jnp.asarray(t, float)
    f_x = jax.grad(f, 0)
    return f(x, t), jax.grad(f, 1)(x, t), f_x(x, t), jax.grad(f_x, 0)(x, t)


def _residuals_of(problem, f, xs, ts):
    return np.array([float(problem.residual(*_derivatives(f, x, t))) for x, t in zip(xs, ts)])


# (problem, interior points (x, t) where the closed form is smooth)
SMOOTH_POINTS = [
    (G.Diffusion(1.0), [0.3, 2.0, 4.5, 6.0], [0.0, 0.2, 0.7, 1.0]),
    (G.Diffusion(4.2), [0.3, 2.0, 4.5, 6.0], [0.05, 0.2, 0.7, 1.0]),
    (G.PorousMedium(1.0), [0.0, 0.1, 0.3, 0.5], [0.3, 0.5, 0.8, 0.9]),  # x < t - 0.1
    (G.PorousMedium(3.0), [0.0, 0.1, 0.3, 0.5], [0.3, 0.5, 0.8, 0.9]),
    (G.PorousMedium(6.0), [0.05, 0.2], [0.4, 0.9]),
    (G.Stefan(0.5), [0.02, 0.1, 0.15], [0.02, 0.05, 0.1]),  # x < 0.7 front(t)
    (G.Stefan(0.6), [0.02, 0.1, 0.15], [0.02, 0.05, 0.1]),
]


@pytest.mark.parametrize("problem, xs, ts", SMOOTH_POINTS, ids=repr)
def test_residual_of_closed_form_vanishes(x64, problem, xs, ts):
    """The closed forms solve the PDE pointwise where they are smooth (round-off level)."""
    if isinstance(problem, G.Stefan):
        assert np.all(np.asarray(xs) < 0.7 * np.asarray(problem.front(jnp.asarray(ts))))
        u = [float(problem.exact(x, t)) for x, t in zip(xs, ts)]
        assert min(u) > float(problem.u_star)
    if isinstance(problem, G.PorousMedium):
        assert np.all(np.asarray(xs) <= np.asarray(ts) - 0.1)
    r = _residuals_of(problem, problem.exact, xs, ts)
    u_t = np.array([float(_derivatives(problem.exact, x, t)[1]) for x, t in zip(xs, ts)])
    assert np.abs(u_t).max() > 0.1  # not trivially zero
    np.testing.assert_allclose(r, 0.0, atol=1e-12 * max(1.0, np.abs(u_t).max()))


@pytest.mark.parametrize(
    "problem, wrong",
    [(G.Diffusion(1.0), G.Diffusion(2.0)), (G.PorousMedium(3.0), G.PorousMedium(2.0)),
     (G.PorousMedium(1.0), G.PorousMedium(3.0))],
    ids=repr,
)
def test_residual_of_wrong_parameter_is_clearly_nonzero(x64, problem, wrong):
    xs, ts = [0.1, 0.2], [0.5, 0.9]
    r = _residuals_of(wrong, problem.exact, xs, ts)
    assert np.abs(r).min() > 0.05


def test_diffusion_residual_known_values(x64):
    # u = exp(-k' t) sin x under k: r = (k - k') exp(-k' t) sin x
    x, t, k, k2 = 1.1, 0.4, 2.0, 3.5
    u = np.exp(-k2 * t) * np.sin(x)
    r = G.Diffusion(k).residual(u, -k2 * u, np.exp(-k2 * t) * np.cos(x), -u)
    assert float(r) == pytest.approx((k - k2) * u, rel=1e-14)


def test_porous_medium_residual_formula_and_relu(x64):
    u, u_t, u_x, u_xx = 0.7, 0.3, -1.2, 2.5
    for m in (1.0, 2.0, 3.5):
        want = u_t - (m * u ** (m - 1) * u_x**2 + u**m * u_xx)
        assert float(G.PorousMedium(m).residual(u, u_t, u_x, u_xx)) == pytest.approx(want, rel=1e-14)
        # k = relu(u)^m: no diffusion where u <= 0, and the residual stays real
        for neg in (0.0, -0.5):
            assert float(G.PorousMedium(m).residual(neg, u_t, u_x, u_xx)) == u_t
    # finite gradients at u = 0 (also in m)
    g = jax.grad(lambda u, m: G.PorousMedium(m).residual(u, u_t, u_x, u_xx), (0, 1))(0.0, 3.0)
    assert all(np.isfinite(float(v)) for v in g)


def test_stefan_residual_has_no_interface_term(x64):
    p = G.Stefan(0.6)
    # liquid (u >= u*): the heat equation; solid: u_t only; the delta at u = u* is dropped
    assert float(p.residual(0.8, 0.3, -2.0, 0.1)) == pytest.approx(0.2, rel=1e-14)
    assert float(p.residual(0.6, 0.3, -2.0, 0.1)) == pytest.approx(0.2, rel=1e-14)
    assert float(p.residual(0.59, 0.3, -2.0, 0.1)) == pytest.approx(0.3, rel=1e-14)
    # so a wrong front speed is invisible: the closed form of u* = 0.5 scores 0 under
    # u* = 0.6's residual behind either front
    other = G.Stefan(0.5)
    r = _residuals_of(p, other.exact, [0.02, 0.1], [0.05, 0.1])
    np.testing.assert_allclose(r, 0.0, atol=1e-12)


def test_batched_residual_aligns_parameters_with_leading_axis(x64):
    ks = jnp.asarray([1.0, 2.0, 4.0])
    fields = [jnp.asarray(np.random.default_rng(i).normal(size=(3, 5))) for i in range(4)]
    r = G.Diffusion(ks).residual(*fields)
    assert r.shape == (3, 5)
    for i, k in enumerate(ks):
        np.testing.assert_allclose(r[i], G.Diffusion(k).residual(*(f[i] for f in fields)), rtol=1e-15)
    # the same under vmap over the problems
    r2 = eqx.filter_vmap(lambda p, *f: p.residual(*f))(G.Diffusion(ks), *fields)
    np.testing.assert_allclose(r2, r, rtol=1e-15)
    # scalar fields give one residual per parameter; PME and Stefan align the same way
    assert G.PorousMedium(jnp.asarray([1.0, 3.0])).residual(0.5, 0.1, 0.2, 0.3).shape == (2,)
    rs = G.Stefan(jnp.asarray([0.5, 0.7])).residual(jnp.full((2, 4), 0.6), 1.0, 0.0, 2.0)
    np.testing.assert_allclose(rs, [[-1.0] * 4, [1.0] * 4])
    for p in (G.Diffusion(ks), G.PorousMedium(ks), G.Stefan(jnp.asarray([0.5, 0.6, 0.7]))):
        with pytest.raises(ValueError, match=r"batch of 3 values.*fields have shape \(5, 3\)"):
            p.residual(jnp.ones((5, 3)), 0.0, 0.0, 0.0)


def test_residual_keeps_float32(x32):
    for p in (G.Diffusion(2.0), G.PorousMedium(3.0), G.Stefan(0.6)):
        u = jnp.linspace(0.1, 0.9, 4, dtype=jnp.float32)
        assert p.residual(u, u, u, u).dtype == jnp.float32


def test_base_problem_residual_is_not_implemented():
    class NoResidual(G.Diffusion):
        residual = G.Problem.residual

    with pytest.raises(NotImplementedError, match="NoResidual does not define a pointwise PDE residual"):
        NoResidual(1.0).residual(0.0, 0.0, 0.0, 0.0)
