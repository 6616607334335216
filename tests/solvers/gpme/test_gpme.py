"""The GPME face (physcon.gpme): jit/vmap/grad, dtypes, input validation and the problem registry."""

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
from physcon.solvers.gpme import fv

G = physcon.gpme

# A run-time failure of ``eqx.error_if``: eagerly (and under ``eqx.filter_jit``) equinox raises
# ``EquinoxRuntimeError``; under plain ``jax.jit`` it surfaces as ``jax.errors.JaxRuntimeError``
# carrying the message. Both are ``RuntimeError`` subclasses in equinox 0.13 / jax 0.10.
RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)


def _sin_grid(n=16):
    return Grid1D.cells(0.0, 2 * np.pi, n)



# --- transformations ------------------------------------------------------------------------------
def test_jit_simulate_matches_eager_and_traces_parameters(x64):
    g = _sin_grid(16)
    t = jnp.linspace(0.0, 0.3, 4)
    S = G.stable_substeps(G.Diffusion(2.0), g, t)
    traces = []
    f = jax.jit(lambda p, tt: traces.append(1) or G.simulate(p, g, tt, substeps=S))
    for k in (1.0, 2.0):
        sim = f(G.Diffusion(jnp.asarray(k)), t)
        ref = G.simulate(G.Diffusion(k), g, t, substeps=S)
        np.testing.assert_allclose(sim.u, ref.u, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(sim.inflow, ref.inflow, atol=1e-15)
        assert sim.substeps == S
    assert len(traces) == 1  # k and t are traced, not baked in: one trace serves both
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


def test_transforms_without_substeps_match_the_static_count(x64):
    # traced k or t: the step count is chosen at run time by the same rule, so the result is
    # the eager one to round-off (and jit/vmap/grad need no substeps=)
    g = _sin_grid(8)
    t = jnp.linspace(0.0, 0.1, 3)
    ks = jnp.asarray([1.0, 2.0])
    eager = np.stack([G.solve(G.Diffusion(k=float(k)), g, t) for k in ks])
    np.testing.assert_allclose(jax.vmap(lambda k: G.solve(G.Diffusion(k=k), g, t))(ks), eager, atol=1e-14)
    sim = jax.jit(lambda tt: G.simulate(G.Diffusion(1.0), g, tt))(t)
    assert sim.substeps is None
    np.testing.assert_allclose(sim.u, eager[0], atol=1e-14)
    np.testing.assert_allclose(sim.dt, G.simulate(G.Diffusion(1.0), g, t).dt, rtol=1e-14)
    with pytest.raises(ValueError, match="stable_substeps needs concrete t"):
        jax.jit(lambda tt: G.stable_substeps(G.Diffusion(1.0), g, tt))(t)


def test_grad_without_substeps_matches_finite_differences(x64):
    # the call: grad through the plain solve, here under jit with traced k and t
    g, t, h = _sin_grid(8), jnp.linspace(0.0, 0.02, 3), 1e-6

    def energy(k, tt):
        return (G.solve(G.Diffusion(k=k), g, tt)[-1] ** 2).sum()

    fd = (energy(2.0 + h, t) - energy(2.0 - h, t)) / (2 * h)
    np.testing.assert_allclose(jax.jit(jax.grad(energy))(2.0, t), fd, rtol=1e-6)


def test_max_substeps_bounds_the_run_time_count(x64):
    g = _sin_grid(32)
    t = jnp.linspace(0.0, 0.1, 3)
    need = G.stable_substeps(G.Diffusion(1.0), g, t)
    assert need > 1
    ok = jax.jit(lambda k: G.solve(G.Diffusion(k=k), g, t, max_substeps=need))(1.0)
    np.testing.assert_allclose(ok, G.solve(G.Diffusion(1.0), g, t), atol=1e-14)
    with pytest.raises(RUNTIME_ERRORS, match="max_substeps"):
        jax.jit(lambda k: G.solve(G.Diffusion(k=k), g, t, max_substeps=need - 1))(1.0).block_until_ready()
    with pytest.raises(ValueError, match="max_substeps must be a positive int"):
        G.solve(G.Diffusion(1.0), g, t, max_substeps=0)


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
