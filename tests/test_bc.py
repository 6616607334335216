"""Boundary conditions and finite-difference stencils (physcon.bc)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.bc import Dirichlet, Neumann, Periodic, check_pair, fd_weights, wall_derivative_weights


# --- fd_weights -----------------------------------------------------------------------------------
def _monomial_derivative(p: int, d: int, x0: float) -> float:
    if d > p:
        return 0.0
    return math.factorial(p) / math.factorial(p - d) * x0 ** (p - d)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("deriv", [0, 1, 2, 3])
def test_fd_weights_exact_on_polynomials_of_degree_below_m(seed, deriv):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(deriv + 1, 8))
    points = np.sort(rng.uniform(-1.0, 1.0, m))
    x0 = float(rng.uniform(-1.0, 1.0))
    c = fd_weights(x0, points, deriv)
    assert c.shape == (m,)
    for p in range(m):
        expected = _monomial_derivative(p, deriv, x0)
        scale = np.abs(c) @ np.abs(points) ** p + 1.0  # size of the cancelling sum
        assert abs(c @ points**p - expected) <= 1e-12 * scale, (p, m)


def test_fd_weights_classical_stencils():
    h = 0.1
    np.testing.assert_allclose(fd_weights(0.0, [-h, 0.0, h], 1), [-0.5 / h, 0.0, 0.5 / h], atol=1e-12)
    np.testing.assert_allclose(fd_weights(0.0, [-h, 0.0, h], 2), [1 / h**2, -2 / h**2, 1 / h**2], rtol=1e-12)
    # interpolation weights at a node are the unit vector
    np.testing.assert_allclose(fd_weights(0.3, [0.1, 0.3, 0.7], 0), [0.0, 1.0, 0.0], atol=1e-15)


def test_fd_weights_not_exact_for_degree_m():
    """The exactness degree is tight: a degree-m monomial is not differentiated exactly."""
    pts = np.array([0.0, 0.5, 1.5])
    c = fd_weights(0.0, pts, 1)
    assert abs(c @ pts**3 - 0.0) > 1e-3


def test_fd_weights_bad_input():
    with pytest.raises(ValueError, match="more than deriv=2 points"):
        fd_weights(0.0, [0.0, 1.0], 2)
    with pytest.raises(ValueError, match="deriv=-1"):
        fd_weights(0.0, [0.0, 1.0], -1)
    with pytest.raises(ValueError, match="distinct"):
        fd_weights(0.0, [0.0, 1.0, 1.0], 1)


# --- one-sided wall stencils ----------------------------------------------------------------------
def _f(x):
    return np.sin(1.3 * x + 0.4) + np.exp(0.7 * x)


def _df(x):
    return 1.3 * np.cos(1.3 * x + 0.4) + 0.7 * np.exp(0.7 * x)


@pytest.mark.parametrize("staggered", [True, False], ids=["cells", "nodes"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_wall_derivative_converges_at_stated_order(order, staggered):
    a, b = 0.2, 1.7  # left and right walls
    dxs = np.array([0.1, 0.05, 0.025, 0.0125])
    off = (np.arange(order) + (0.5 if staggered else 1.0))
    err_left, err_right = [], []
    for dx in dxs:
        w = wall_derivative_weights(order, dx, staggered)
        assert w.shape == (order + 1,)
        assert abs(w.sum()) < 1e-9 / dx  # constants have zero derivative
        left_pts = np.concatenate([[a], a + off * dx])
        err_left.append(abs(w @ _f(left_pts) - _df(a)))
        # right wall: points in order b, b - dx/2, ... and the weights negated (d/dx along +x)
        right_pts = np.concatenate([[b], b - off * dx])
        err_right.append(abs(-w @ _f(right_pts) - _df(b)))
    for err in (err_left, err_right):
        slope = np.polyfit(np.log(dxs), np.log(err), 1)[0]
        assert order - 0.15 < slope < order + 0.5, (slope, err)


def test_wall_derivative_second_order_staggered_weights():
    """The stencil the finite-volume walls use: points 0, dx/2, 3dx/2."""
    dx = 0.2
    np.testing.assert_allclose(
        wall_derivative_weights(2, dx, True), np.array([-8 / 3, 3.0, -1 / 3]) / dx, rtol=1e-12
    )
    np.testing.assert_allclose(wall_derivative_weights(1, dx, True), np.array([-2.0, 2.0]) / dx, rtol=1e-12)


@pytest.mark.parametrize("order", [0, -1, 1.5])
def test_wall_derivative_bad_order(order):
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        wall_derivative_weights(order, 0.1, True)


# --- boundary values ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Dirichlet, Neumann])
def test_value_at_constant_and_callable(x64, cls):
    bc = cls(2.5)
    v = bc.at(0.3)
    assert v.shape == () and float(v) == 2.5
    assert bc.at(0.3, jnp.float32).dtype == jnp.float32
    assert bc.at(0.3, jnp.float64).dtype == jnp.float64

    bc = cls(lambda t: jnp.exp(-2.0 * t))
    assert float(bc.at(0.7)) == pytest.approx(math.exp(-1.4), rel=1e-15)
    # a 0-d array is a valid constant; the default is 0
    assert float(cls(jnp.asarray(-1.0)).at(5.0)) == -1.0
    assert float(cls().at(1.0)) == 0.0
    # callable boundary values are traced with t (jit, vmap, grad)
    ts = jnp.linspace(0.0, 1.0, 5)
    np.testing.assert_allclose(jax.vmap(bc.at)(ts), jnp.exp(-2.0 * ts), rtol=1e-15)
    assert float(jax.grad(lambda t: bc.at(t))(0.5)) == pytest.approx(-2.0 * math.exp(-1.0), rel=1e-14)
    assert float(jax.jit(lambda g: cls(g).at(0.0))(3.0)) == 3.0  # traced constant is accepted


@pytest.mark.parametrize("cls", [Dirichlet, Neumann])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.array(np.nan), np.array([1.0, np.nan])])
def test_non_finite_value_raises(cls, value):
    with pytest.raises(ValueError, match=f"{cls.__name__}: value must be finite"):
        cls(value)


@pytest.mark.parametrize("cls", [Dirichlet, Neumann])
@pytest.mark.parametrize("value", [np.zeros((2, 2)), jnp.ones((1, 1)), [[1.0, 2.0]], "1.0", True])
def test_non_scalar_value_raises(cls, value):
    """A value is a scalar, one scalar per problem of a batch (1-D), or a function of t."""
    with pytest.raises(ValueError, match=f"{cls.__name__}: value must be a scalar"):
        cls(value)


@pytest.mark.parametrize("cls", [Dirichlet, Neumann])
def test_batch_of_values(x64, cls):
    bc = cls(np.array([1.0, -2.0, 3.5]))
    np.testing.assert_array_equal(bc.at(0.2), [1.0, -2.0, 3.5])
    assert bc.at(0.2, jnp.float32).dtype == jnp.float32


@pytest.mark.parametrize("cls", [Dirichlet, Neumann])
def test_callable_returning_non_scalar_raises_at_evaluation(cls):
    bc = cls(lambda t: jnp.ones((2, 3)) * t)
    with pytest.raises(ValueError, match=r"value\(t\) must return a scalar .*got shape \(2, 3\)"):
        bc.at(0.5)


def test_neumann_order_validation():
    assert Neumann(0.0).order == 2
    assert Neumann(0.0, order=4).order == 4
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="Neumann: order must be an integer >= 1"):
            Neumann(0.0, order=bad)


def test_check_pair():
    check_pair(Periodic(), Periodic())
    check_pair(Dirichlet(1.0), Neumann(0.0))
    for left, right in ((Periodic(), Dirichlet(0.0)), (Neumann(0.0), Periodic())):
        with pytest.raises(ValueError, match="Periodic must be given on both walls"):
            check_pair(left, right)
    with pytest.raises(ValueError, match="left must be Dirichlet, Neumann, Robin or Periodic"):
        check_pair(1.0, Dirichlet(0.0))
    with pytest.raises(ValueError, match="right must be Dirichlet, Neumann, Robin or Periodic"):
        check_pair(Dirichlet(0.0), "periodic")
