"""The periodic pseudo-spectral vorticity solver (physcon.solvers.navier_stokes: periodic, spectral, steppers)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.metrics import convergence_order
from physcon.solvers import navier_stokes as ns

TWO_PI = 2 * np.pi
STEPPERS = [ns.CrankNicolsonRK2(), ns.CrankNicolsonRK3(), ns.CrankNicolsonRK4(), ns.IntegratingFactorRK4()]
# eqx.error_if under jit: raised at dispatch as JaxRuntimeError, or, if the computation is still
# running then, by block_until_ready as a ValueError ("INTERNAL: CpuCallback error ..."); the
# tests match the runtime message, which the eager checks do not produce
RUNTIME_ERRORS = (RuntimeError, ValueError, eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def random_flow(seed, n=16, modes=4, scale=10.0):
    """A random band-limited vorticity on the unit n x n grid (NumPy float64: no compile)."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
    w = np.zeros((n, n))
    for a in range(-modes, modes + 1):
        for b in range(modes + 1):
            c, phase = rng.standard_normal() / (1 + a * a + b * b), rng.uniform(0, TWO_PI)
            w += c * np.cos(TWO_PI * (a * x + b * y) + phase)
    return scale * (w - w.mean())


# --- exact solutions ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, length, modes",
    [
        ((16, 16), 1.0, [(1, 1, 1.0)]),  # Taylor-Green
        ((16, 16), 1.0, [(3, 4, 0.7), (5, 0, -0.4), (0, 5, 0.3)]),  # three modes with |k|^2 = 25
        ((15, 24), (1.0, 2.0), [(1, 2, 1.0)]),  # odd, non-square grid on a rectangular box
    ],
)
def test_steady_euler_modes_decay_at_the_analytic_rate(x64, shape, length, modes):
    # w = sum_j c_j sin(k_j . x) over wavevectors of one |k|: psi is proportional to w, so
    # u . grad w = 0 and w(t) = w0 exp(-(nu |k|^2 + alpha) t) exactly.
    lx, ly = (length, length) if np.ndim(length) == 0 else length
    x, y = ns.grid_points(shape, length)
    w0 = sum(c * jnp.sin(TWO_PI * (a * x / lx + b * y / ly)) for a, b, c in modes)
    a, b, _ = modes[0]
    k2 = TWO_PI**2 * ((a / lx) ** 2 + (b / ly) ** 2)
    nu, alpha, dt, n = 0.01, 0.3, 0.01, 50
    eq = ns.NavierStokes2D(viscosity=nu, drag=alpha, length=length)
    decay = np.exp(-(nu * k2 + alpha) * dt * np.arange(0, n + 1, 10))[:, None, None]

    w = ns.solve(eq, w0, dt=dt, n_steps=n, save_every=10, stepper=ns.IntegratingFactorRK4())
    assert w.shape == (6, *shape) and w.dtype == jnp.float64
    assert float(jnp.max(jnp.abs(w - decay * w0))) < 1e-14 * float(jnp.max(jnp.abs(w0)))

    if shape[0] != shape[1]:
        return  # the Crank-Nicolson factors below do not depend on the grid
    # the Crank-Nicolson steppers: the product of their substep factors, to round-off
    cn = ns.CrankNicolsonRK4()
    lam = -(nu * k2 + alpha)
    g = np.prod([(1 + mu * lam) / (1 - mu * lam) for mu in 0.5 * dt * np.diff(cn.alphas)])
    w = ns.solve(eq, w0, dt=dt, n_steps=n, stepper=cn)
    assert float(jnp.max(jnp.abs(w[-1] - g**n * w0))) < 1e-14 * float(jnp.max(jnp.abs(w0)))
    assert abs(g**n / decay[-1, 0, 0] - 1) < n * abs(lam * dt) ** 3 / 12  # analytic rate, to O(dt^2)


def test_velocity_energy_and_courant_number_of_taylor_green(x64):
    # w = 2k sin(kx) sin(ky): psi = sin(kx) sin(ky) / k, u = sin(kx) cos(ky), v = -cos(kx) sin(ky)
    length, n = TWO_PI, 24
    x, y = ns.grid_points((n, n), length)
    u, v = ns.velocity(2 * jnp.sin(x) * jnp.sin(y), length)
    np.testing.assert_allclose(u, jnp.sin(x) * jnp.cos(y), atol=1e-14)
    np.testing.assert_allclose(v, -jnp.cos(x) * jnp.sin(y), atol=1e-14)
    w = 2 * jnp.sin(x) * jnp.sin(y)
    assert abs(float(ns.energy(w, length)) - 0.25) < 1e-14  # mean of (u^2 + v^2) / 2
    dx = length / n
    assert abs(float(ns.cfl_number(w, 0.1, length)) - 0.1 * float(jnp.max(jnp.abs(u) + jnp.abs(v))) / dx) < 1e-12
    assert abs(float(ns.stable_dt(w, length, cfl=0.5) * ns.cfl_number(w, 1.0, length)) - 0.5) < 1e-12


@pytest.mark.parametrize("forcing", [ns.FNOForcing(0.1), ns.KolmogorovForcing(1.0, 4)], ids=["fno", "kolmogorov"])
def test_forced_laminar_flow_from_rest(x64, forcing):
    # both forcings are single-|k| fields: from rest w = f (1 - exp(-lam t)) / lam exactly
    length = 1.0 if isinstance(forcing, ns.FNOForcing) else TWO_PI
    eq = ns.NavierStokes2D(viscosity=0.01, drag=0.1, forcing=forcing, length=length)
    x, y = ns.grid_points((24, 24), length)
    f = eq.forcing_field((24, 24))
    if isinstance(forcing, ns.FNOForcing):
        np.testing.assert_allclose(f, 0.1 * (jnp.sin(TWO_PI * (x + y)) + jnp.cos(TWO_PI * (x + y))), atol=1e-15)
        k2 = 2 * TWO_PI**2
    else:  # the curl of the body force (sin 4y, 0)
        np.testing.assert_allclose(f, -4 * jnp.cos(4 * y), atol=1e-14)
        k2 = 16.0
    lam = 0.01 * k2 + 0.1
    dt, n = 0.002, 500
    w = ns.solve(eq, jnp.zeros((24, 24)), dt=dt, n_steps=n, save_every=n, stepper=ns.IntegratingFactorRK4())
    exact = f * (1 - np.exp(-lam * n * dt)) / lam
    assert rel(w[-1], exact) < 1e-9


# --- convergence and precision --------------------------------------------------------------------
@pytest.fixture(scope="module")
def smooth_flow():
    """A smooth vorticity on 32^2, band-limited (|k| <= 3), float64 NumPy."""
    x, y = np.meshgrid(np.arange(32) / 32, np.arange(32) / 32, indexing="ij")
    w0 = (np.sin(TWO_PI * x) * np.cos(TWO_PI * 2 * y) + 0.8 * np.cos(TWO_PI * (2 * x + y))
          + 0.5 * np.sin(TWO_PI * 3 * y) + 0.3 * np.cos(TWO_PI * (x - 3 * y)))
    return 4.0 * w0


@pytest.mark.parametrize("stepper", STEPPERS, ids=lambda s: type(s).__name__)
def test_time_convergence_at_the_schemes_order(x64, smooth_flow, stepper):
    eq = ns.NavierStokes2D(viscosity=0.005, drag=0.1, forcing=ns.FNOForcing(0.5), length=1.0)
    T = 0.4

    @jax.jit
    def final(n):  # one compile: dt and the step count are traced
        step = ns.make_step(eq, (32, 32), T / n, stepper)
        return ns.to_physical(jax.lax.fori_loop(0, n, lambda i, s: step(s), ns.to_spectral(smooth_flow)), (32, 32))

    steps = np.array([10, 20, 40, 80])
    ref = final(1280 if stepper.order == 2 else 640)
    errs = [rel(final(int(m)), ref) for m in steps]
    order = convergence_order(T / steps, errs)
    assert abs(order - stepper.order) < 0.3, (errs, order)
    assert rel(smooth_flow, ref) > 0.1  # the flow really changes


def test_float32_agrees_with_float64(x64, smooth_flow):
    # the float64 run is the FNO-forced one of the invariants test below (one shared compile)
    eq = ns.NavierStokes2D(1e-3, 0.0, ns.FNOForcing())
    kw = dict(dt=2e-3, n_steps=300, save_every=30)
    w64 = ns.solve(eq, jnp.asarray(smooth_flow), **kw)
    w32 = ns.solve(eq, jnp.asarray(smooth_flow, jnp.float32), **kw)  # keeps float32
    assert w32.dtype == jnp.float32 and w64.dtype == jnp.float64
    assert rel(w64[-1], w64[0]) > 0.1  # the field evolves
    # 1500 stages: float32 stays within 1e-5 (the increments are summed apart from the state)
    assert rel(w32[-1], w64[-1]) < 1e-5


# --- invariants -----------------------------------------------------------------------------------
def test_mean_conserved_and_energy_decays_without_forcing(x64, smooth_flow):
    w0 = jnp.asarray(smooth_flow) + 0.7
    kw = dict(dt=2e-3, n_steps=300, save_every=30)
    # unforced = zero forcing amplitude: the amplitude and the viscosity are traced, so the
    # three runs here and the float64 run of the float32 test share one compile
    for amplitude in (0.1, 0.0):
        w = ns.solve(ns.NavierStokes2D(1e-3, 0.0, ns.FNOForcing(amplitude)), w0, **kw)
        np.testing.assert_allclose(w.mean((-2, -1)), 0.7, rtol=0, atol=1e-13)
    e, z = ns.energy(w), ns.enstrophy(w - 0.7)
    assert np.all(np.diff(e) < 0) and np.all(np.diff(z) < 0)
    # ideal flow (nu = 0): dealiased advection conserves energy to the time-stepping error
    w = ns.solve(ns.NavierStokes2D(0.0, 0.0, ns.FNOForcing(0.0)), w0, **kw)
    assert abs(float(ns.energy(w[-1]) / ns.energy(w[0])) - 1) < 1e-9  # measured 6e-14
    assert rel(w[-1], w0) > 0.1  # and the flow did evolve


def test_vmap_native_batch_and_loop_agree(x64):
    w0 = jnp.asarray(np.stack([random_flow(s) for s in range(3)]))
    nus, kw = [1e-3, 1e-3, 2e-3], dict(n_steps=20, save_every=10)
    loop = jnp.stack([ns.solve(ns.NavierStokes2D.fno(nu), w, dt=1e-3, **kw) for nu, w in zip(nus, w0)])
    assert loop.shape == (3, 3, 16, 16)
    # a native batch (one loop over (B, nx, ny))
    batch = ns.solve(ns.NavierStokes2D.fno(1e-3), w0[:2], dt=1e-3, **kw)
    np.testing.assert_allclose(batch, loop[:2], rtol=0, atol=1e-13)
    # jit(vmap) over the initial field, the viscosity and a traced dt at once
    run = jax.jit(jax.vmap(lambda w, nu, dt: ns.solve(ns.NavierStokes2D.fno(nu), w, dt=dt, **kw)))
    mapped = run(w0, jnp.asarray(nus), jnp.full(3, 1e-3))
    np.testing.assert_allclose(mapped, loop, rtol=0, atol=1e-13)
    assert rel(loop[2, -1], loop[1, -1]) > 1e-3  # the viscosity matters


def test_t_out_and_gradient(x64):
    w0 = jnp.asarray(random_flow(3))
    kw = dict(dt=1e-3, n_steps=20, save_every=5)
    every = ns.solve(ns.NavierStokes2D.fno(), w0, **kw)
    late = ns.solve(ns.NavierStokes2D.fno(), w0, dt=1e-3, t_out=[0.01, 0.015, 0.02])
    np.testing.assert_allclose(late, every[2:5], atol=1e-14)
    assert ns.output_times(1e-3, t_out=[0.0, 0.01]) == (0, 10, 2)
    assert ns.output_times(1e-3, t_out=[0.005]) == (5, 1, 1)

    def loss(nu):
        return ns.enstrophy(ns.solve(ns.NavierStokes2D.fno(nu), w0, **kw)[-1])

    g = jax.grad(loss)(1e-3)
    fd = (loss(1e-3 + 1e-6) - loss(1e-3 - 1e-6)) / 2e-6
    assert float(g) < 0 and abs(float(g / fd) - 1) < 1e-6


# --- initial data ---------------------------------------------------------------------------------
def test_gaussian_random_field_statistics(x64):
    # w = Re ifft2(amp * xi) with complex standard normal xi: E |fft2(w)_k|^2 = amp_k^2, with
    # amp_k = n^2 sqrt(2) sigma (|k|^2 + tau^2)^(-alpha/2) (FNO's GaussianRF), amp_0 = 0
    keys = jax.random.split(jax.random.PRNGKey(0), 100)
    w = np.stack([ns.gaussian_random_field(k, (16, 16)) for k in keys])  # one compile, 100 calls
    assert w.shape == (100, 16, 16) and w.dtype == np.float64
    np.testing.assert_allclose(w.mean((-2, -1)), 0.0, atol=1e-15)  # mean zero, exactly
    k = TWO_PI * np.fft.fftfreq(16, 1 / 16)
    lam = k[:, None] ** 2 + k[None, :] ** 2 + 49.0
    amp2 = (256 * np.sqrt(2) * 7.0**1.5) ** 2 * lam**-2.5
    ratio = (np.abs(np.fft.fft2(w)) ** 2).mean(0) / amp2  # mean 1 for every k != 0
    low, high = lam[1:, 1:] < 49.0 + 4 * TWO_PI**2, lam[1:, 1:] >= 49.0 + 4 * TWO_PI**2
    for part in (low, high):  # 100 samples x ~100 independent modes each: ~1% noise
        assert abs(ratio[1:, 1:][part].mean() - 1) < 0.05
    var = np.sum(np.where(lam > 49.0, amp2, 0.0)) / 256**2  # per point
    assert abs(float(np.mean(w**2)) / var - 1) < 0.1
    again = ns.gaussian_random_field(keys[0], (16, 16))
    np.testing.assert_array_equal(again, w[0])
    f32 = jax.eval_shape(lambda k: ns.gaussian_random_field(k, (16, 16), dtype=jnp.float32), keys[0])
    assert f32.dtype == jnp.float32 and f32.shape == (16, 16)
    with pytest.raises(ValueError, match="alpha and tau"):
        ns.gaussian_random_field(keys[0], (16, 16), tau=0.0)


# --- errors ---------------------------------------------------------------------------------------
def test_unstable_time_step_and_nan_raise():
    eq = ns.NavierStokes2D.fno()
    x, y = np.meshgrid(np.arange(16) / 16, np.arange(16) / 16, indexing="ij")
    w0 = jnp.asarray(50 * np.sin(TWO_PI * x) * np.cos(TWO_PI * 2 * y) + 20 * np.cos(TWO_PI * (x + y)), jnp.float32)
    c = float(ns.cfl_number(w0, 1.0))
    bad = 1.2 * ns.CrankNicolsonRK4.max_cfl / c
    with pytest.raises(ValueError, match="unstable time step"):
        ns.solve(eq, w0, dt=bad, n_steps=4)
    nan = w0.at[3, 4].set(jnp.nan)
    with pytest.raises(ValueError, match="finite"):
        ns.solve(eq, nan, dt=1e-4, n_steps=4)
    # the same checks on traced inputs (one compile)
    run = jax.jit(lambda w, dt, nu=1e-3: ns.solve(ns.NavierStokes2D.fno(nu), w, dt=dt, n_steps=4))
    assert bool(jnp.all(jnp.isfinite(run(w0, float(ns.stable_dt(w0, cfl=0.5))))))
    with pytest.raises(RUNTIME_ERRORS, match="at t = 0 exceeds max_cfl"):
        run(w0, bad).block_until_ready()
    with pytest.raises(RUNTIME_ERRORS, match="vorticity at t = 0 must be finite"):
        run(nan, 1e-4).block_until_ready()
    with pytest.raises(RUNTIME_ERRORS, match="viscosity must be finite and >= 0"):
        run(w0, 1e-4, -1.0).block_until_ready()
    # a flow that speeds up past the limit is caught at a saved frame (here a tiny max_cfl)
    spin_up = ns.NavierStokes2D(1e-3, 0.0, ns.KolmogorovForcing(50.0, 1))
    with pytest.raises(RUNTIME_ERRORS, match="at a saved frame"):
        ns.solve(spin_up, jnp.zeros((16, 16)), dt=1e-3, n_steps=20, save_every=5, max_cfl=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(w0=jnp.zeros(16)), "w0 must be a real field"),
        (dict(w0=jnp.zeros((16, 3))), "at least 4 points"),
        (dict(w0=jnp.zeros((8, 8), jnp.complex64)), "w0 must be a real field"),
        (dict(n_steps=10, save_every=3), "multiple of save_every"),
        (dict(n_steps=None), "exactly one of"),
        (dict(n_steps=None, t_out=[0.0, 0.0015]), "multiple of dt"),
        (dict(n_steps=None, t_out=[0.0, 0.002, 0.003]), "equally spaced"),
        (dict(stepper="rk4"), "stepper must be"),
        (dict(dt=-1e-3), "dt must be positive"),
        (dict(max_cfl=0.0), "max_cfl must be positive"),
        (dict(equation=ns.NavierStokes2D(forcing=jnp.zeros((4, 4)))), "forcing must be"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = dict(equation=ns.NavierStokes2D(), w0=jnp.zeros((8, 8)), dt=1e-3, n_steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ns.solve(args.pop("equation"), args.pop("w0"), **args)


def test_bad_equation_raises():
    with pytest.raises(ValueError, match="viscosity"):
        ns.NavierStokes2D(viscosity=-1.0)
    with pytest.raises(ValueError, match="drag"):
        ns.NavierStokes2D(drag=float("nan"))
    with pytest.raises(ValueError, match="length"):
        ns.NavierStokes2D(length=(1.0, 0.0))
    # (a traced negative viscosity: test_unstable_time_step_and_nan_raise)


# --- datasets -------------------------------------------------------------------------------------
def test_generate_matches_single_solves_and_shards_over_devices(x64, tmp_path):
    eq = ns.NavierStokes2D.fno()
    kw = dict(seed=5, shape=(16, 16), dt=1e-3, n_steps=20, save_every=10)
    ds = ns.generate(4, equation=eq, batch_size=2, **kw)
    assert ds.w.shape == (4, 3, 16, 16) and ds.w.dtype == np.float64
    np.testing.assert_allclose(ds.t, [0.0, 0.01, 0.02])
    np.testing.assert_allclose(ds.x, np.arange(16) / 16)
    key = jax.random.PRNGKey(5)
    for i in range(4):  # sample i is the solve from fold_in(key, i), whatever the chunking
        w0 = ns.gaussian_random_field(jax.random.fold_in(key, i), (16, 16))
        np.testing.assert_allclose(ds.w[i], ns.solve(eq, w0, dt=1e-3, n_steps=20, save_every=10), atol=1e-13)
    assert ds.settings["stepper"] == "CrankNicolsonRK4" and ds.settings["steps_per_frame"] == 10
    # sharded over a mesh of 4 (simulated CPU) devices, in a fresh process: the same samples
    out = tmp_path / "sharded.npy"
    script = textwrap.dedent(
        f"""
        import jax, numpy as np
        from physcon.solvers import navier_stokes as ns
        assert len(jax.devices()) == 4, jax.devices()
        ds = ns.generate(4, mesh=ns.batch_mesh(), **{kw!r})
        np.save({str(out)!r}, ds.w)
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu",
               JAX_ENABLE_X64="1")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sharded = np.load(out)
    assert sharded.dtype == np.float64
    np.testing.assert_allclose(sharded, ds.w, rtol=0, atol=1e-13)
