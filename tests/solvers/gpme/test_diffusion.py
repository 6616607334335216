"""Pointwise PDE residuals of the GPME problems (physcon.solvers.gpme.diffusion / problem), the SoftC integrand."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon

G = physcon.gpme


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
