"""SoftC penalty (physcon.constraints.soft): forward-mode derivatives, residual values of known
functions, the closed forms, gradients, jit/vmap with per-function parameters, input checks."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon
from physcon.constraints import (
    conservation_law,
    conservation_penalty,
    pointwise_residual,
    soft_penalty,
)

G = physcon.gpme


def _points(n=9, t=(0.05, 0.9), x=(0.2, 6.0)):
    return jnp.stack([jnp.linspace(*t, n), jnp.linspace(*x, n)[::-1]], axis=1)


def _heat(k):
    """``u = sin(x) exp(-k t)`` as a function of one point ``p = (t, x)``."""
    return lambda p: jnp.sin(p[1]) * jnp.exp(-k * p[0])


def _wiggle(theta, p):
    """A smooth non-separable test function with parameters ``theta`` (4,)."""
    t, x = p
    return jnp.tanh(theta[0] * x + theta[1] * t) * jnp.cos(theta[2] * x * t) + theta[3] * x**3 * t


THETA = np.asarray([0.7, -0.4, 1.3, 0.2])  # NumPy: jnp arrays made at import would be float32


def test_heat_function_has_zero_residual_and_wrong_k_gives_known_value(x64):
    pts = _points()
    t, x = pts[:, 0], pts[:, 1]
    r = pointwise_residual(_heat(2.0), pts, G.Diffusion(2.0).residual)
    assert r.shape == (9,)
    np.testing.assert_allclose(r, 0.0, atol=1e-15)
    # u = sin x e^{-k t} under diffusivity k': u_t - k' u_xx = (k' - k) sin x e^{-k t}
    k, k2 = 2.0, 3.5
    r = pointwise_residual(_heat(k), pts, G.Diffusion(k2).residual)
    np.testing.assert_allclose(r, (k2 - k) * np.sin(x) * np.exp(-k * t), rtol=1e-13, atol=1e-15)
    assert float(soft_penalty(_heat(k), pts, G.Diffusion(k2).residual, weight=3.0)) == pytest.approx(
        3.0 * float(jnp.mean(((k2 - k) * jnp.sin(x) * jnp.exp(-k * t)) ** 2)), rel=1e-13
    )


def test_derivatives_match_finite_differences(x64):
    pts = jnp.asarray([[0.3, 0.4], [0.8, -0.6], [0.1, 1.7]])
    u = lambda p: _wiggle(THETA, p)
    pick = {
        "u": lambda u, u_t, u_x, u_xx: u,
        "u_t": lambda u, u_t, u_x, u_xx: u_t,
        "u_x": lambda u, u_t, u_x, u_xx: u_x,
        "u_xx": lambda u, u_t, u_x, u_xx: u_xx,
    }
    got = {name: np.asarray(pointwise_residual(u, pts, f)) for name, f in pick.items()}
    h = 1e-4
    et, ex = jnp.asarray([h, 0.0]), jnp.asarray([0.0, h])
    U = jax.vmap(u)
    fd = {
        "u": U(pts),
        "u_t": (U(pts + et) - U(pts - et)) / (2 * h),
        "u_x": (U(pts + ex) - U(pts - ex)) / (2 * h),
        "u_xx": (U(pts + ex) - 2 * U(pts) + U(pts - ex)) / h**2,
    }
    for name in pick:
        assert np.abs(got[name]).max() > 0.05, name
        np.testing.assert_allclose(got[name], fd[name], rtol=1e-6, atol=1e-7, err_msg=name)
    # and against reverse-mode autodiff, to round-off
    hess = jax.vmap(jax.hessian(u))(pts)
    np.testing.assert_allclose(got["u_xx"], hess[:, 1, 1], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(
    "problem, pts",
    [
        (G.Diffusion(3.0), [[0.0, 0.5], [0.4, 2.0], [1.0, 5.5]]),
        (G.PorousMedium(1.0), [[0.5, 0.1], [0.8, 0.3], [0.9, 0.6]]),  # x < t - 0.1
        (G.PorousMedium(3.0), [[0.5, 0.1], [0.8, 0.3], [0.9, 0.6]]),
        (G.Stefan(0.6), [[0.05, 0.1], [0.08, 0.2], [0.02, 0.05]]),  # x < front(t)
        (G.Advection(2.0), [[0.1, 0.2], [0.1, 0.9], [0.3, 0.1]]),  # away from the step
        (G.Burgers(3.0), [[0.2, -0.9], [0.2, -0.2], [0.2, 0.5]]),  # a t = 0.6 < 1
    ],
    ids=repr,
)
def test_closed_forms_have_zero_penalty(x64, problem, pts):
    u = lambda p: problem.exact(p[1], p[0])
    r = pointwise_residual(u, jnp.asarray(pts), problem.residual)
    np.testing.assert_allclose(r, 0.0, atol=1e-12)
    assert float(soft_penalty(u, jnp.asarray(pts), problem.residual)) < 1e-24


def test_non_solution_is_penalised(x64):
    pts = jnp.asarray([[0.5, 0.1], [0.8, 0.3]])
    # the m = 3 porous-medium front under m = 1
    u = lambda p: G.PorousMedium(3.0).exact(p[1], p[0])
    assert float(soft_penalty(u, pts, G.PorousMedium(1.0).residual)) > 1e-2
    # a frozen Burgers ramp
    pts = jnp.asarray([[0.1, -0.5], [0.2, -0.2]])
    r = pointwise_residual(lambda p: -3.0 * p[1], pts, G.Burgers(3.0).residual)
    np.testing.assert_allclose(r, 9.0 * pts[:, 1], rtol=1e-14)


def test_grad_wrt_function_parameters_matches_finite_differences(x64):
    pts = jnp.asarray([[0.1, 0.3], [0.4, -0.5], [0.7, 1.1], [0.9, 0.2]])
    res = G.PorousMedium(2.0).residual

    def J(theta):
        return soft_penalty(lambda p: 1.5 + _wiggle(theta, p), pts, res, weight=0.7)

    theta = jnp.asarray(THETA)
    g = np.asarray(jax.grad(J)(theta))
    assert g.dtype == np.float64
    h = 1e-6
    fd = np.array([(J(theta.at[i].add(h)) - J(theta.at[i].add(-h))) / (2 * h) for i in range(4)])
    assert np.abs(g).max() > 1e-2
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
    # and w.r.t. the weight and the problem parameter
    dw = jax.grad(lambda w: soft_penalty(lambda p: _wiggle(THETA, p), pts, res, weight=w))(2.0)
    assert float(dw) == pytest.approx(float(soft_penalty(lambda p: _wiggle(THETA, p), pts, res)), rel=1e-13)
    Jm = lambda m: soft_penalty(lambda p: 1.5 + _wiggle(THETA, p), pts, G.PorousMedium(m).residual)
    fd_m = (Jm(2.0 + h) - Jm(2.0 - h)) / (2 * h)
    assert float(jax.grad(Jm)(2.0)) == pytest.approx(float(fd_m), rel=1e-6)


def test_jit_matches_eager(x64):
    pts = _points()
    f = jax.jit(lambda theta, pts, k: soft_penalty(lambda p: _wiggle(theta, p), pts, G.Diffusion(k).residual))
    eager = soft_penalty(lambda p: _wiggle(THETA, p), pts, G.Diffusion(2.0).residual)
    assert float(f(THETA, pts, 2.0)) == pytest.approx(float(eager), rel=1e-13)
    assert float(f(THETA, pts, 3.0)) != pytest.approx(float(eager), rel=1e-3)
    assert f._cache_size() == 1


def test_vmap_over_functions_with_their_own_parameters(x64):
    """Function i is penalised with its own k_i (the reference advection code used every k)."""
    pts = _points()
    ks = jnp.asarray([1.0, 2.5, 4.0])

    def one(problem, k_fn):
        return soft_penalty(_heat(k_fn), pts, problem.residual)

    own = eqx.filter_jit(eqx.filter_vmap(one))(G.Diffusion(ks), ks)
    np.testing.assert_allclose(own, 0.0, atol=1e-28)
    swapped = eqx.filter_vmap(one)(G.Diffusion(ks[::-1]), ks)
    loop = [float(one(G.Diffusion(k2), k)) for k2, k in zip(ks[::-1], ks)]
    np.testing.assert_allclose(swapped, loop, rtol=1e-13)
    assert swapped[0] > 0.1 and swapped[1] < 1e-28  # the middle pair matches
    # advection: per-function speeds, smooth travelling waves
    a = jnp.asarray([1.0, 3.0])
    wave = lambda a: (lambda p: jnp.sin(2.0 * (p[1] - a * p[0])))
    pen = eqx.filter_vmap(lambda prob, a: soft_penalty(wave(a), pts, prob.residual))(G.Advection(a), a)
    np.testing.assert_allclose(pen, 0.0, atol=1e-28)


def test_batched_problem_with_one_function_is_rejected(x64):
    with pytest.raises(ValueError, match=r"residual must return a scalar.*got shape \(3,\).*vmap over"):
        soft_penalty(_heat(1.0), _points(), G.Diffusion(jnp.asarray([1.0, 2.0, 3.0])).residual)


@pytest.mark.parametrize("mode", ["x32", "x64"])
def test_dtype_follows_points(request, mode):
    request.getfixturevalue(mode)
    pts = _points().astype(jnp.float32)
    out = soft_penalty(_heat(2.0), pts, G.Diffusion(3.0).residual)
    assert out.dtype == jnp.float32
    assert pointwise_residual(_heat(2.0), pts, G.Diffusion(3.0).residual).dtype == jnp.float32
    # integer points are promoted to the default float dtype
    ipts = jnp.asarray([[0, 1], [1, 2]])
    assert pointwise_residual(_heat(2.0), ipts, G.Diffusion(3.0).residual).dtype == jnp.result_type(float)


def test_bad_inputs(x64):
    res = G.Diffusion(1.0).residual
    u = _heat(1.0)
    for bad in [jnp.zeros((4, 3)), jnp.zeros(2), jnp.zeros((4, 2, 1)), jnp.zeros((2, 4))]:
        with pytest.raises(ValueError, match=r"points must have shape \(n, 2\)"):
            soft_penalty(u, bad, res)
        with pytest.raises(ValueError, match=r"points must have shape \(n, 2\)"):
            pointwise_residual(u, bad, res)
    with pytest.raises(ValueError, match="points must hold at least one point"):
        soft_penalty(u, jnp.zeros((0, 2)), res)
    assert pointwise_residual(u, jnp.zeros((0, 2)), res).shape == (0,)
    with pytest.raises(ValueError, match="u_fn must be a callable"):
        soft_penalty(jnp.ones(3), _points(), res)
    with pytest.raises(ValueError, match="residual must be a callable"):
        soft_penalty(u, _points(), "diffusion")
    with pytest.raises(ValueError, match=r"u_fn must return a scalar.*got shape \(2,\)"):
        soft_penalty(lambda p: jnp.stack([u(p), u(p)]), _points(), res)
    with pytest.raises(ValueError, match=r"u_fn must return a scalar.*got shape \(1,\)"):
        pointwise_residual(lambda p: u(p)[None], _points(), res)


# --- soft conservation law ------------------------------------------------------------------------
def test_conservation_penalty(x64):
    grid = physcon.Grid1D.cells(0.0, 2 * np.pi, 32)
    t = jnp.linspace(0.0, 1.0, 5)
    p = G.Diffusion(2.0)
    law = conservation_law(grid, t, p.mass)
    u = p.exact(grid.x, t)
    assert float(conservation_penalty(u, law)) < 1e-28
    # a constant offset c_j at time j changes the mass by c_j * 2 pi
    c = jnp.asarray([0.0, 0.1, -0.2, 0.3, 0.05])
    pen = conservation_penalty(u + c[:, None], law, weight=2.0)
    assert float(pen) == pytest.approx(2.0 * float(jnp.mean((2 * np.pi * c) ** 2)), rel=1e-12)
    # gradient: 2 w / (nt r) * (G u - b) G
    g = jax.grad(lambda m: conservation_penalty(m, law, 2.0))(u + c[:, None])
    want = 2 * 2.0 / 5 * (2 * np.pi * c)[:, None] * law.G[:, 0, :]
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)
    jitted = jax.jit(conservation_penalty)(u + c[:, None], law, 2.0)
    assert float(jitted) == pytest.approx(float(pen), rel=1e-13)
    with pytest.raises(ValueError, match=r"mean must have shape \(nt, nx\) = \(5, 32\).*got \(5, 31\)"):
        conservation_penalty(u[:, :-1], law)
    with pytest.raises(ValueError, match="law must be a LinearConstraint"):
        conservation_penalty(u, law.G)
