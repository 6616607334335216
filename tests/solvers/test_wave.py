"""2-D wave equation with Neumann walls: exact modal evolution, energy, residual, gradients, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.solvers.wave import generate_wave_neumann, wave_energy, wave_neumann_grf, wave_neumann_solve


def _mode(nx, ny, a, b, lx=1.0, ly=1.0):
    x, y = jnp.linspace(0, lx, nx), jnp.linspace(0, ly, ny)
    return jnp.cos(a * jnp.pi * x / lx)[:, None] * jnp.cos(b * jnp.pi * y / ly)[None, :]


def test_cosine_mode_is_exact_eigenvector(x64):
    """A sampled cosine mode oscillates at the discrete frequency, to round-off."""
    nx, ny, lx, ly, c = 33, 17, 2.0, 1.0, 0.7
    u0 = _mode(nx, ny, 3, 2, lx, ly)
    t = jnp.array([0.0, 0.3, 1.7, 5.0])
    u = wave_neumann_solve(u0, t, c=c, length=(lx, ly))
    hx, hy = lx / (nx - 1), ly / (ny - 1)
    w = c * np.sqrt(4 / hx**2 * np.sin(3 * np.pi / (2 * (nx - 1))) ** 2
                    + 4 / hy**2 * np.sin(2 * np.pi / (2 * (ny - 1))) ** 2)
    expect = np.cos(w * np.asarray(t))[:, None, None] * np.asarray(u0)[None]
    np.testing.assert_allclose(u, expect, atol=1e-12)


def test_second_order_convergence_to_analytic(x64):
    """Against u = cos(pi x) cos(2 pi y) cos(c pi sqrt(5) t): error ratio ~4 per halving of h."""
    c, t = 1.0, jnp.array([0.8])
    errs = []
    for n in (17, 33, 65):
        u = wave_neumann_solve(_mode(n, n, 1, 2), t, c=c)
        exact = np.cos(c * np.pi * np.sqrt(5) * 0.8) * np.asarray(_mode(n, n, 1, 2))
        errs.append(float(np.max(np.abs(u[0] - exact))))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 2.0) < 0.1), (errs, rates)


def _random_fields(n=12, m=9):
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    return jax.random.normal(k1, (n, m)), jax.random.normal(k2, (n, m))


def test_semi_discrete_residual_and_energy(x64):
    """u_tt = c^2 Lap_h u (mirror ghosts) holds to round-off, and the discrete energy is conserved."""
    u0, v0 = _random_fields()
    c, length = 1.3, (1.0, 0.75)
    sol = lambda s: wave_neumann_solve(u0, s[None], c=c, v0=v0, length=length)[0]
    hx, hy = length[0] / (u0.shape[0] - 1), length[1] / (u0.shape[1] - 1)
    e0 = wave_energy(u0, v0, c=c, length=length)
    for s in (0.0, 0.37, 2.5):
        s = jnp.asarray(s)
        u, ut = jax.jvp(sol, (s,), (jnp.ones_like(s),))
        utt = jax.jacfwd(jax.jacfwd(sol))(s)
        pad = jnp.pad(u, 1, mode="reflect")
        lap = ((pad[2:, 1:-1] - 2 * u + pad[:-2, 1:-1]) / hx**2 + (pad[1:-1, 2:] - 2 * u + pad[1:-1, :-2]) / hy**2)
        scale = float(jnp.max(jnp.abs(utt)))
        assert float(jnp.max(jnp.abs(utt - c**2 * lap))) < 1e-10 * scale
        e = wave_energy(u, ut, c=c, length=length)
        assert abs(float(e - e0)) < 1e-12 * float(e0)
    np.testing.assert_allclose(sol(jnp.asarray(0.0)), u0, atol=1e-13)


def test_gradient_matches_finite_differences(x64):
    u0, v0 = _random_fields(8, 7)
    t = jnp.array([0.2, 0.9])
    f = lambda u: jnp.sum(wave_neumann_solve(u, t, v0=v0) ** 3)
    g = jax.grad(f)(u0)
    d = jax.random.normal(jax.random.PRNGKey(9), u0.shape)
    eps = 1e-6
    fd = (f(u0 + eps * d) - f(u0 - eps * d)) / (2 * eps)
    np.testing.assert_allclose(jnp.vdot(g, d), fd, rtol=1e-7)


def test_jit_vmap_and_float32_agree_with_float64(x64):
    u0 = jnp.stack([_mode(16, 16, 1, 1), _mode(16, 16, 2, 3)])
    t = jnp.linspace(0.0, 1.0, 5)
    u64 = jax.jit(jax.vmap(lambda a: wave_neumann_solve(a, t)))(u0)
    assert u64.shape == (2, 5, 16, 16) and u64.dtype == jnp.float64
    u32 = jax.vmap(lambda a: wave_neumann_solve(a, t))(u0.astype(jnp.float32))
    assert u32.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(u32 - u64))) < 1e-5


def test_grf_and_dataset(x64):
    u = wave_neumann_grf(jax.random.PRNGKey(0), 41)
    assert u.shape == (41, 41) and abs(float(jnp.max(jnp.abs(u))) - 1.0) < 1e-14
    # closed-form zero wall derivative: the cosine series is even about each wall, so the
    # centred difference across the wall (mirror ghost) vanishes; one-sided O(h^2) stencil small
    h = 1 / 40
    d = (-3 * u[0] + 4 * u[1] - u[2]) / (2 * h)
    assert float(jnp.max(jnp.abs(d))) < 0.05 * float(jnp.max(jnp.abs((u[1:] - u[:-1]) / h)))
    ds = generate_wave_neumann(3, nx=12, nt=4, t_final=0.5, seed=1)
    assert ds.a.shape == (3, 12, 12) and ds.u.shape == (3, 4, 12, 12) and ds.x.shape == (12,)
    np.testing.assert_allclose(ds.t, [0.125, 0.25, 0.375, 0.5])
    ds2 = generate_wave_neumann(2, nx=12, nt=4, t_final=0.5, seed=1)
    np.testing.assert_array_equal(ds2.u, ds.u[:2])
    np.testing.assert_allclose(ds.u[:, -1], jax.vmap(lambda a: wave_neumann_solve(a, ds.t[-1:])[0])(ds.a), atol=1e-13)


def test_bad_input():
    u0 = jnp.zeros((8, 8))
    with pytest.raises(ValueError, match="u0 must be a 2-D field"):
        wave_neumann_solve(jnp.zeros(8), jnp.ones(2))
    with pytest.raises(ValueError, match="u0 must be a 2-D field"):
        wave_neumann_solve(jnp.zeros((2, 8)), jnp.ones(2))
    with pytest.raises(ValueError, match="v0 must have the shape of u0"):
        wave_neumann_solve(u0, jnp.ones(2), v0=jnp.zeros((8, 7)))
    with pytest.raises(ValueError, match="c must be a positive finite number"):
        wave_neumann_solve(u0, jnp.ones(2), c=-1.0)
    with pytest.raises(ValueError, match="t must be finite, non-decreasing"):
        wave_neumann_solve(u0, jnp.array([0.5, 0.1]))
    with pytest.raises(Exception, match="u0 and v0 must be finite"):
        wave_neumann_solve(u0.at[2, 3].set(jnp.nan), jnp.ones(2))
    with pytest.raises(ValueError, match="n must be an integer >= 3"):
        wave_neumann_grf(jax.random.PRNGKey(0), 2)
