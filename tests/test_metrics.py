"""Error measures and the ProbConserv evaluation metrics (CE, LL, CRPS, shock position, SE)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon import Grid1D, metrics
from physcon.bc import Dirichlet, Neumann, Periodic, Robin

# error_if under eager/filter_jit raises EquinoxRuntimeError; under plain jax.jit, JaxRuntimeError
RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)


def test_convergence_order_recovers_power_law():
    dx = np.array([0.1, 0.05, 0.025, 0.0125])
    assert metrics.convergence_order(dx, 3.0 * dx**1.5) == pytest.approx(1.5, abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        metrics.convergence_order(dx, -dx)


def test_errors_and_shape_checks():
    w = np.full(4, 0.25)
    a, b = np.ones((2, 4)), np.zeros((2, 4))
    np.testing.assert_allclose(metrics.l1_error(a, b, w), [1.0, 1.0])
    assert float(metrics.mse(a, b)) == 1.0
    np.testing.assert_allclose(metrics.relative_l2(2 * a, a), [1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        metrics.mse(a, b[:, :3])
    with pytest.raises(ValueError, match="w must have shape"):
        metrics.l1_error(a, b, w[:3])


# --- ProbConserv metrics ------------------------------------------------------------------


def _linear_fields(x, t):
    """``u(t, x) = a(t) + b(t) x`` (trapezoid-exact) and its mass on ``[x0, x1]``."""
    a, b = 1.0 + t, 2.0 - 3.0 * t
    x0, x1 = x[0], x[-1]
    u = a[:, None] + b[:, None] * x[None, :]
    mass = a * (x1 - x0) + 0.5 * b * (x1**2 - x0**2)
    return u, mass


def test_conservation_error_exact_mass_is_zero_and_signed(x64):
    grid = Grid1D.nodes(-1.0, 2.0, 41)
    x, w = grid.x_np(), grid.quadrature("trapezoid")
    t = np.linspace(0.0, 1.0, 6)
    u, mass = _linear_fields(x, t)
    ce = metrics.conservation_error(u, w, mass)
    assert ce.shape == (6,) and ce.dtype == jnp.float64
    np.testing.assert_allclose(ce, 0.0, atol=1e-13)
    # sign: extra mass is positive, missing mass negative, by exactly delta * length
    np.testing.assert_allclose(metrics.conservation_error(u + 0.1, w, mass), 0.1 * 3.0, rtol=1e-12)
    np.testing.assert_allclose(metrics.conservation_error(u - 0.2, w, mass), -0.2 * 3.0, rtol=1e-12)
    # ProbConserv's trapezoid: (mean(u[1:]) + mean(u[:-1])) / 2 * length
    u_rand = np.random.default_rng(0).normal(size=(6, 41))
    ref = 0.5 * (u_rand[:, 1:].mean(-1) + u_rand[:, :-1].mean(-1)) * 3.0 - mass
    np.testing.assert_allclose(metrics.conservation_error(u_rand, w, mass), ref, rtol=1e-12, atol=1e-13)
    # Simpson integrates a cubic exactly
    ws = grid.quadrature("simpson")
    np.testing.assert_allclose(metrics.conservation_error(x**3 - x, ws, (2.0**4 - 1.0) / 4 - (4.0 - 1.0) / 2), 0.0, atol=1e-13)


def test_conservation_error_broadcasting_dtype_and_shapes():
    w = jnp.full(5, 0.25)
    u = jnp.ones((3, 4, 5), jnp.float32)  # (nf, nt, nx): integral = 1.25
    mass = jnp.array([1.0, 1.25, 1.5, 2.0], jnp.float32)  # per time, shared across functions
    ce = metrics.conservation_error(u, w, mass)
    assert ce.shape == (3, 4) and ce.dtype == jnp.float32
    np.testing.assert_allclose(ce, np.broadcast_to([0.25, 0.0, -0.25, -0.75], (3, 4)), atol=1e-6)
    assert metrics.conservation_error(u[0, 0], w, 1.0).shape == ()
    np.testing.assert_allclose(jax.jit(metrics.conservation_error)(u, w, mass), ce)
    np.testing.assert_allclose(jax.vmap(metrics.conservation_error, (0, None, None))(u, w, mass), ce)
    with pytest.raises(ValueError, match="w must have shape"):
        metrics.conservation_error(u, w[:4], mass)
    with pytest.raises(ValueError, match="mass must be broadcastable"):
        metrics.conservation_error(u, w, jnp.ones(5))
    with pytest.raises(ValueError, match="mass must be broadcastable"):
        metrics.conservation_error(u[0], w, jnp.ones((3, 4)))  # would enlarge the result
    with pytest.raises(ValueError, match="u must have at least one axis"):
        metrics.conservation_error(1.0, jnp.ones(()), 0.0)


def test_log_likelihood_matches_hand_and_scipy(x64):
    # (y - mu)^2 = 4, var = 4: -0.5 * (1 + log 4 + log 2 pi); (0, 1, 0): -0.5 log 2 pi
    ll = metrics.log_likelihood(jnp.array([[0.0, 1.0]]), jnp.array([[4.0, 1.0]]), jnp.array([[2.0, 1.0]]))
    hand = 0.5 * (-0.5 * (1.0 + math.log(4.0) + math.log(2 * math.pi)) - 0.5 * math.log(2 * math.pi))
    assert ll.shape == (1,)
    assert float(ll[0]) == pytest.approx(hand, rel=1e-15)

    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    mean = jax.random.normal(k1, (3, 4, 17))
    var = jax.random.uniform(k2, (3, 4, 17), minval=0.01, maxval=2.0)
    true = mean + jax.random.normal(k3, mean.shape)
    ref = jax.scipy.stats.norm.logpdf(true, mean, jnp.sqrt(var)).mean(-1)
    np.testing.assert_allclose(metrics.log_likelihood(mean, var, true), ref, rtol=1e-13)
    # a shared scalar variance broadcasts
    ref_scalar = jax.scipy.stats.norm.logpdf(true, mean, 0.5).mean(-1)
    np.testing.assert_allclose(metrics.log_likelihood(mean, 0.25, true), ref_scalar, rtol=1e-13)
    np.testing.assert_allclose(jax.jit(metrics.log_likelihood)(mean, var, true), ref, rtol=1e-13)
    np.testing.assert_allclose(jax.vmap(metrics.log_likelihood)(mean, var, true), ref, rtol=1e-13)


def _gaussian_crps_mc(key, mu, sigma, y, n):
    """Monte Carlo ``E|X - y| - 0.5 E|X - X'|`` and its standard error."""
    k1, k2 = jax.random.split(key)
    x1 = mu + sigma * jax.random.normal(k1, (n,))
    x2 = mu + sigma * jax.random.normal(k2, (n,))
    terms = jnp.abs(x1 - y) - 0.5 * jnp.abs(x1 - x2)  # i.i.d. unbiased terms
    return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(n))


def _gaussian_crps_quad(mu, sigma, y, n=200_001):
    """``integral (Phi((s - mu)/sigma) - 1{s >= y})^2 ds`` (float64): the trapezoid rule on
    each side of the jump at ``s = y``, over ``mu +- 12 sigma`` (the tails beyond are < 1e-30)."""
    lo, hi = min(mu, y) - 12 * sigma, max(mu, y) + 12 * sigma
    left, right = np.linspace(lo, y, n), np.linspace(y, hi, n)
    cdf = lambda s: np.asarray(jax.scipy.stats.norm.cdf(s, mu, sigma))  # noqa: E731
    return np.trapezoid(cdf(left) ** 2, left) + np.trapezoid((1.0 - cdf(right)) ** 2, right)


def test_crps_against_monte_carlo_and_quadrature(x64):
    cases = [(0.0, 1.0, 0.3), (1.5, 0.2, 1.0), (-2.0, 3.0, 4.0), (0.5, 0.7, 0.5)]
    mu, sigma, y = (jnp.array(c) for c in zip(*cases))
    got = jax.vmap(lambda m, s, t: metrics.crps(m[None], s[None] ** 2, t[None]))(mu, sigma, y)
    assert got.shape == (4,)
    for i, (m, s, t) in enumerate(cases):
        # deterministic check: CRPS = integral (F(s) - 1{s >= y})^2 ds, accurate to ~1e-10
        assert float(got[i]) == pytest.approx(_gaussian_crps_quad(m, s, t), rel=1e-8, abs=1e-10)
        # Monte Carlo with a fixed key: within 5 standard errors (fails with prob. ~6e-7)
        mc, se = _gaussian_crps_mc(jax.random.PRNGKey(i), m, s, t, 400_000)
        assert abs(float(got[i]) - mc) < 5 * se, (i, float(got[i]), mc, se)
    # at y = mu: sigma * (2 phi(0) - 1/sqrt(pi)) = sigma * (sqrt(2) - 1) / sqrt(pi)
    assert float(metrics.crps(jnp.zeros(1), 4.0, jnp.zeros(1))) == pytest.approx(2 * (math.sqrt(2) - 1) / math.sqrt(math.pi), rel=1e-15)


def test_crps_limit_is_absolute_error_and_is_proper(x64):
    mean = jnp.array([0.0, 1.0, -2.0, 3.0])
    true = jnp.array([0.5, 1.0, -1.0, 2.5])
    abs_err = float(jnp.mean(jnp.abs(true - mean)))
    prev = None
    for sigma in (1e-1, 1e-3, 1e-6):
        c = float(metrics.crps(mean, sigma**2, true))
        # |CRPS - |d|| <= sigma / sqrt(pi) for every point (equality at d = 0)
        assert abs(c - abs_err) <= sigma / math.sqrt(math.pi) + 1e-15
        if prev is not None:
            assert abs(c - abs_err) < abs(prev - abs_err)
        prev = c
    np.testing.assert_allclose(metrics.crps(mean, 0.0, true), abs_err, rtol=1e-15)  # exact limit
    assert np.isfinite(jax.grad(lambda v: metrics.crps(mean, v, true))(0.0))
    # the score is minimised by the true value and is non-negative
    ms = jnp.linspace(-1.0, 1.0, 201)
    scores = jax.vmap(lambda m: metrics.crps(m[None], 0.3, jnp.zeros(1)))(ms)
    assert int(jnp.argmin(scores)) == 100 and bool(jnp.all(scores > 0))


def test_gaussian_metrics_check_variance_and_shapes():
    mean = jnp.zeros((2, 3))
    var = jnp.ones((2, 3)).at[1, 2].set(-1.0)
    for f, msg in ((metrics.log_likelihood, "variance must be positive"), (metrics.crps, "variance must be finite and non-negative")):
        with pytest.raises(RUNTIME_ERRORS, match=msg):
            f(mean, var, mean)
        with pytest.raises(RUNTIME_ERRORS, match=msg):
            jax.jit(f)(mean, var, mean)
        with pytest.raises(RUNTIME_ERRORS, match=msg):
            jax.jit(f)(mean, jnp.full((2, 3), jnp.nan), mean)
        with pytest.raises(ValueError, match="mean and true must have the same shape"):
            f(mean, 1.0, jnp.zeros((2, 4)))
        with pytest.raises(ValueError, match="variance must be broadcastable"):
            f(mean, jnp.ones(2), mean)
        with pytest.raises(ValueError, match="true must have at least one axis"):
            f(0.0, 1.0, 0.0)
    with pytest.raises(RUNTIME_ERRORS, match="variance must be positive"):
        jax.jit(metrics.log_likelihood)(mean, jnp.zeros((2, 3)), mean)  # LL needs var > 0
    np.testing.assert_array_equal(metrics.crps(mean, 0.0, mean + 1.0), [1.0, 1.0])  # CRPS allows var = 0


def test_metrics_keep_float32(x64):
    a = jnp.linspace(0.0, 1.0, 8, dtype=jnp.float32).reshape(2, 4)
    assert metrics.log_likelihood(a, jnp.float32(0.5), a + 1).dtype == jnp.float32
    assert metrics.crps(a, jnp.float32(0.5), a + 1).dtype == jnp.float32
    assert metrics.mse(a, a + 1, axis=-1).dtype == jnp.float32
    assert all(v.dtype == jnp.float32 for v in metrics.mean_and_se(a))
    assert metrics.conservation_error(a, jnp.full(4, 0.25), 1.0).dtype == jnp.float32
    assert metrics.shock_position(a, jnp.linspace(0.0, 1.0, 4, dtype=jnp.float32)).dtype == jnp.float32


def test_mse_axis():
    rng = np.random.default_rng(1)
    p, t = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    sq = (p - t) ** 2
    np.testing.assert_allclose(metrics.mse(p, t), sq.mean(), rtol=1e-6)
    np.testing.assert_allclose(metrics.mse(p, t, axis=-1), sq.mean(-1), rtol=1e-6)
    np.testing.assert_allclose(metrics.mse(p, t, -1), sq.mean(-1), rtol=1e-6)
    np.testing.assert_allclose(metrics.mse(p, t, axis=(0, 2)), sq.mean((0, 2)), rtol=1e-6)
    np.testing.assert_allclose(jax.jit(metrics.mse, static_argnames="axis")(p, t, axis=1), sq.mean(1), rtol=1e-6)
    with pytest.raises(ValueError, match="axis must be"):
        metrics.mse(p, t, axis=3)


def test_shock_position_hand_built_profiles():
    x = jnp.linspace(0.0, 2.0, 5)  # 0, .5, 1, 1.5, 2
    profiles = jnp.array(
        [
            [1.0, 0.5, 0.0, -0.1, -0.2],  # first <= 0 at index 2 (equality counts)
            [1.0, 1.0, 1.0, 1.0, 1.0],  # never crosses
            [-1.0, 1.0, 1.0, 1.0, 1.0],  # crosses at once
            [1.0, -1.0, 1.0, -1.0, 1.0],  # the first crossing, not the last
            [1.0, 1.0, 1.0, 1.0, 0.0],  # at the last point
        ]
    )
    np.testing.assert_allclose(metrics.shock_position(profiles, x), [1.0, 2.0, 0.0, 0.5, 2.0])
    # reference: index / nx * x[-1], index nx when nothing crosses
    np.testing.assert_allclose(metrics.shock_position(profiles, x, faithful=True), [0.8, 2.0, 0.0, 0.4, 1.6])
    np.testing.assert_allclose(metrics.shock_position(profiles, x, 0.5), [0.5, 2.0, 0.0, 0.5, 2.0])
    # per-profile thresholds; a shifted grid (faithful mode only uses x[-1])
    np.testing.assert_allclose(metrics.shock_position(profiles[:2], x, jnp.array([-0.1, 1.0])), [1.5, 0.0])
    np.testing.assert_allclose(metrics.shock_position(profiles[0], x + 1.0), 2.0)
    np.testing.assert_allclose(metrics.shock_position(profiles[0], x + 1.0, faithful=True), 2 / 5 * 3.0)


def test_shock_position_matches_reference_and_transforms():
    key = jax.random.PRNGKey(3)
    nx, x1 = 33, 1.0
    x = jnp.linspace(0.0, x1, nx)
    samples = 0.5 - jnp.linspace(0.0, 1.0, nx) + 0.3 * jax.random.normal(key, (64, 2, nx))  # (ns, nt, nx)
    # reference: objective = (y <= 0) * idx + (y > 0) * nx; argmin; s / nx * x_range[1]
    y = np.asarray(samples)
    less = y <= 0
    s = np.argmin(less * np.arange(nx) + (~less) * nx, axis=2)
    ref = s / nx * x1
    got = metrics.shock_position(samples, x, faithful=True)
    assert got.shape == (64, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    np.testing.assert_allclose(metrics.shock_position(samples, x), np.where(s < nx, np.asarray(x)[np.minimum(s, nx - 1)], x1))
    jitted = jax.jit(metrics.shock_position, static_argnames="faithful")
    np.testing.assert_allclose(jitted(samples, x, faithful=True), ref, rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(metrics.shock_position, (0, None))(samples, x), metrics.shock_position(samples, x))
    with pytest.raises(ValueError, match="x must have shape"):
        metrics.shock_position(samples, x[:-1])
    with pytest.raises(ValueError, match="threshold must be broadcastable"):
        metrics.shock_position(samples, x, jnp.zeros(3))


def test_mean_and_se_matches_numpy():
    v = np.random.default_rng(2).normal(size=(7, 3, 2))
    for axis in (0, 1, -1):
        m, se = metrics.mean_and_se(v, axis)
        np.testing.assert_allclose(m, v.mean(axis), rtol=1e-6)
        np.testing.assert_allclose(se, v.std(axis, ddof=1) / np.sqrt(v.shape[axis]), rtol=1e-5)
    m, se = metrics.mean_and_se([1.0, 2.0, 3.0, 6.0])  # sd = sqrt(14/3)
    assert float(m) == 3.0
    assert float(se) == pytest.approx(math.sqrt(14.0 / 3.0) / 2.0, rel=1e-6)
    m2, se2 = jax.jit(metrics.mean_and_se, static_argnames="axis")(v, axis=1)
    np.testing.assert_allclose(se2, v.std(1, ddof=1) / np.sqrt(3), rtol=1e-5)
    with pytest.raises(ValueError, match="values needs at least 2 entries"):
        metrics.mean_and_se(np.ones((1, 4)))
    with pytest.raises(ValueError, match="axis must be an int"):
        metrics.mean_and_se(v, 3)


# --- BOON: per-sample relative L2 and boundary errors ---------------------------------------


def test_relative_l2_axis_is_per_sample_over_the_flattened_sample(x64):
    rng = np.random.default_rng(1)
    true, pred = rng.normal(size=(5, 4, 7)), rng.normal(size=(5, 4, 7))
    per_sample = metrics.relative_l2(pred, true, axis=(1, 2))
    flat = np.linalg.norm((pred - true).reshape(5, -1), axis=1) / np.linalg.norm(true.reshape(5, -1), axis=1)
    assert per_sample.shape == (5,)
    np.testing.assert_allclose(per_sample, flat, rtol=1e-13)
    np.testing.assert_allclose(metrics.relative_l2(pred, true, axis=(-1, -2)), flat, rtol=1e-13)
    # default unchanged: over space only, one value per (sample, time)
    default = metrics.relative_l2(pred, true)
    assert default.shape == (5, 4)
    np.testing.assert_allclose(default, np.linalg.norm(pred - true, axis=-1) / np.linalg.norm(true, axis=-1),
                               rtol=1e-13)
    w = np.linspace(0.5, 1.5, 7)
    np.testing.assert_allclose(
        metrics.relative_l2(pred, true, w, axis=(1, 2)),
        np.sqrt(((pred - true) ** 2 * w).sum((1, 2)) / ((true**2) * w).sum((1, 2))), rtol=1e-13)
    with pytest.raises(ValueError, match="w weights the last axis"):
        metrics.relative_l2(pred, true, w, axis=1)
    with pytest.raises(ValueError, match="axis must be"):
        metrics.relative_l2(pred, true, axis=3)


def _grid(n=11, a=0.0, b=1.0):
    return np.linspace(a, b, n)


def test_boundary_error_zero_on_fields_that_satisfy_the_conditions(x64):
    x = _grid()
    t = np.linspace(0.0, 1.0, 6)
    g = 2.0 + np.sin(t)  # a time-dependent wall value
    # u = c(t) + g(t) x: du/dx = g at both walls, exact for every one-sided stencil
    u = (1.0 + t)[None, :, None] + g[None, :, None] * x * np.ones((3, 1, 1))
    flux = Neumann(lambda s: 2.0 + jnp.sin(s), order=3)
    err = metrics.boundary_error(u, x, flux, Neumann(lambda s: 2.0 + jnp.sin(s), order=1), t=t)
    assert set(err) == {"left", "right"} and err["left"].shape == (3, 6)
    assert float(max(err["left"].max(), err["right"].max())) < 1e-12
    assert float(metrics.boundary_error(u, x, flux, flux, t=t, order=5)["right"].max()) < 1e-11
    # Dirichlet walls: u(0) = 1 + t, u(1) = 1 + t + g
    d = metrics.boundary_error(u, x, Dirichlet(lambda s: 1.0 + s), Dirichlet(lambda s: 3.0 + s + jnp.sin(s)), t=t)
    assert float(d["left"].max()) == 0.0 and float(d["right"].max()) < 1e-15
    # Robin a u + b u_x on the right: (1 + t + g) + 2 g
    r = metrics.boundary_error(u, x, Dirichlet(0.0), Robin(lambda s: 1 + s + 3 * (2 + jnp.sin(s)), a=1.0, b=2.0, order=2),
                               t=t, left_value=1.0 + t)
    assert float(r["left"].max()) == 0.0 and float(r["right"].max()) < 1e-12


def test_boundary_error_on_a_cubic_is_the_analytic_value(x64):
    x = _grid(11)
    h = 0.1
    u = x**3  # u'(0) = 0, u'(1) = 3
    left, right = Neumann(0.5), Neumann(1.0, order=3)
    err = metrics.boundary_error(u, x, left, right)
    assert err["right"].shape == ()
    np.testing.assert_allclose(err["right"], 2.0, rtol=1e-12)  # |3 - 1|: order 3 is exact on cubics
    # the condition's own order-2 stencil on the left: (-3u0 + 4u1 - u2)/(2h) = -2 h^2 (not exact)
    np.testing.assert_allclose(err["left"], abs(-2 * h**2 - 0.5), rtol=1e-12)
    # an independent order-2 stencil on the right: 3 - 2 h^2
    np.testing.assert_allclose(metrics.boundary_error(u, x, left, right, order=2)["right"],
                               abs(3 - 2 * h**2 - 1.0), rtol=1e-12)
    # per-wall orders; higher than exact still exact on a cubic
    e = metrics.boundary_error(u, x, left, right, order=(3, 5))
    np.testing.assert_allclose([e["left"], e["right"]], [0.5, 2.0], rtol=1e-11)
    # non-uniform grid: Fornberg weights for the actual nodes
    xn = np.sort(np.concatenate([[0.0, 1.0], np.random.default_rng(0).uniform(0.05, 0.95, 9)]))
    en = metrics.boundary_error(xn**3, xn, Neumann(0.0, order=3), Neumann(3.0, order=3))
    assert float(en["left"]) < 1e-10 and float(en["right"]) < 1e-10


def test_boundary_error_periodic_and_per_sample_values(x64):
    x = _grid(9)
    u = np.random.default_rng(2).normal(size=(4, 3, 9))
    p = metrics.boundary_error(u, x, Periodic(), Periodic())
    assert set(p) == {"periodic"}
    np.testing.assert_array_equal(p["periodic"], np.abs(u[..., 0] - u[..., -1]))
    # per-sample Dirichlet values (BOON's oracle walls) broadcast against u[..., 0]
    lv, rv = u[..., 0] + 0.25, u[:, :1, -1]  # right: one value per sample, all times
    d = metrics.boundary_error(u, x, Dirichlet(0.0), Dirichlet(0.0), left_value=lv, right_value=rv)
    np.testing.assert_allclose(d["left"], 0.25, rtol=1e-14)
    np.testing.assert_allclose(d["right"], np.abs(u[..., -1] - u[:, :1, -1]), rtol=0)
    # works under jit with x (and the conditions) as constants
    f = jax.jit(lambda v: metrics.boundary_error(v, x, Neumann(1.0, order=2), Dirichlet(0.0)))
    np.testing.assert_allclose(f(u)["right"], np.abs(u[..., -1]), rtol=1e-14)


def test_boundary_error_rejects_bad_input(x64):
    x, u = _grid(5), np.zeros((2, 5))
    N = Neumann(0.0)
    with pytest.raises(ValueError, match="x must have shape"):
        metrics.boundary_error(u, x[:4], N, N)
    bad = u.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="u must be finite"):
        metrics.boundary_error(bad, x, N, N)
    with pytest.raises(ValueError, match="x must be finite"):
        metrics.boundary_error(u, np.array([0, 0.2, np.inf, 0.7, 1.0]), N, N)
    with pytest.raises(ValueError, match="strictly increasing"):
        metrics.boundary_error(u, x[::-1], N, N)
    with pytest.raises(ValueError, match="order"):
        metrics.boundary_error(u, x, N, N, order=5)  # needs 5 + 1 > 5 nodes
    with pytest.raises(ValueError, match="order"):
        metrics.boundary_error(u, x, N, Robin(0.0, order=5))
    with pytest.raises(ValueError, match="order must be"):
        metrics.boundary_error(u, x, N, N, order=0)
    with pytest.raises(ValueError, match="Periodic"):
        metrics.boundary_error(u, x, Periodic(), N)
    with pytest.raises(ValueError, match="left_value/right_value"):
        metrics.boundary_error(u, x, Periodic(), Periodic(), left_value=0.0)
    with pytest.raises(ValueError, match="t is needed"):
        metrics.boundary_error(u, x, Neumann(jnp.sin), N)
    with pytest.raises(ValueError, match="left_value must be broadcastable"):
        metrics.boundary_error(u, x, Dirichlet(0.0), N, left_value=np.zeros(3))
    with pytest.raises(ValueError, match="right_value must be finite"):
        metrics.boundary_error(u, x, N, Dirichlet(0.0), right_value=np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="broadcastable"):  # g(t) of shape (3,) against (2,)
        metrics.boundary_error(u, x, Neumann(jnp.sin), N, t=np.zeros(3))
    with pytest.raises(ValueError, match="scalar"):
        metrics.boundary_error(0.0, x, N, N)
    with pytest.raises(RUNTIME_ERRORS, match="u must be finite"):
        jax.jit(lambda v: metrics.boundary_error(v, x, N, N)["left"])(jnp.full((2, 5), jnp.nan))
