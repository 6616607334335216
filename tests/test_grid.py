"""Grid1D: positions, spacing, faces, quadrature, wavenumbers, refinement, input checks."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon import Grid1D


# --- positions, spacing, faces ------------------------------------------------------------------
def test_cells_positions_spacing_faces(x64):
    g = Grid1D.cells(-1.0, 3.0, 8)
    assert g.dx == 0.5 and g.length == 4.0 and g.domain == (-1.0, 3.0)
    np.testing.assert_allclose(g.x, -1.0 + 0.5 * (np.arange(8) + 0.5), rtol=0, atol=1e-15)
    np.testing.assert_allclose(g.faces, np.linspace(-1.0, 3.0, 9), rtol=0, atol=1e-15)
    assert g.x.shape == (8,) and g.faces.shape == (9,)
    # centres are the midpoints of their faces
    np.testing.assert_allclose(g.x, 0.5 * (g.faces[1:] + g.faces[:-1]), rtol=0, atol=1e-15)


def test_nodes_with_and_without_endpoint(x64):
    g = Grid1D.nodes(0.0, 2.0, 5)
    assert g.dx == 0.5
    np.testing.assert_allclose(g.x, [0.0, 0.5, 1.0, 1.5, 2.0], rtol=0, atol=1e-15)
    # dual cells: the end points and the midpoints between nodes
    np.testing.assert_allclose(g.faces, [0.0, 0.25, 0.75, 1.25, 1.75, 2.0], rtol=0, atol=1e-15)

    p = Grid1D.nodes(0.0, 2.0, 4, endpoint=False)
    assert p.dx == 0.5
    np.testing.assert_allclose(p.x, [0.0, 0.5, 1.0, 1.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(p.faces, [-0.25, 0.25, 0.75, 1.25, 1.75], rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "grid, rule",
    [
        (Grid1D.cells(0.0, 3.0, 7), "midpoint"),
        (Grid1D.nodes(0.0, 3.0, 7), "trapezoid"),
        (Grid1D.nodes(0.0, 3.0, 7, endpoint=False), "rectangle"),
    ],
)
def test_faces_bound_the_default_quadrature_cells(x64, grid, rule):
    """The widths of the (dual) cells are the weights of the grid's default rule."""
    assert grid.default_rule == rule
    np.testing.assert_allclose(np.diff(grid.faces), grid.weights, rtol=1e-14)
    np.testing.assert_allclose(grid.weights, grid.quadrature(rule), rtol=0)


def test_points_dtype_and_float32_placement():
    g = Grid1D.cells(0.0, 1.0, 10)
    x32 = g.points(jnp.float32)
    assert x32.dtype == jnp.float32
    # computed in float64 and rounded once: matches the float64 positions to float32 round-off
    np.testing.assert_array_equal(np.asarray(x32), g.x_np().astype(np.float32))
    with pytest.raises(ValueError, match="dtype"):
        g.points(jnp.int32)


# --- quadrature -----------------------------------------------------------------------------------
def _poly_integral(p, a, b):
    return (b ** (p + 1) - a ** (p + 1)) / (p + 1)


@pytest.mark.parametrize(
    "make, rule, exact_degree, lo, hi",
    [
        # composite midpoint on cell averages: exact up to degree 1 over [a, b]
        (lambda: Grid1D.cells(-0.5, 1.5, 9), "midpoint", 1, -0.5, 1.5),
        # rectangle on a cell grid is the midpoint rule
        (lambda: Grid1D.cells(-0.5, 1.5, 9), "rectangle", 1, -0.5, 1.5),
        # trapezoid on nodes: degree 1 over [a, b]
        (lambda: Grid1D.nodes(-0.5, 1.5, 9), "trapezoid", 1, -0.5, 1.5),
        # Simpson on nodes: degree 3 over [a, b]
        (lambda: Grid1D.nodes(-0.5, 1.5, 9), "simpson", 3, -0.5, 1.5),
        # on a cell grid trapezoid / Simpson span the first to the last centre
        (lambda: Grid1D.cells(-0.5, 1.5, 9), "trapezoid", 1, -0.5 + 1 / 9, 1.5 - 1 / 9),
        (lambda: Grid1D.cells(-0.5, 1.5, 9), "simpson", 3, -0.5 + 1 / 9, 1.5 - 1 / 9),
    ],
)
def test_quadrature_polynomial_degree(x64, make, rule, exact_degree, lo, hi):
    g = make()
    x = g.x_np()
    w = np.asarray(g.quadrature(rule))
    for p in range(exact_degree + 1):
        np.testing.assert_allclose(w @ x**p, _poly_integral(p, lo, hi), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(g.integrate(jnp.asarray(x**p), rule), _poly_integral(p, lo, hi),
                                   rtol=1e-13, atol=1e-14)
    # and not exact one degree higher: the stated degree is the real one
    p = exact_degree + 1
    assert abs(w @ x**p - _poly_integral(p, lo, hi)) > 1e-6


@pytest.mark.parametrize(
    "grid",
    [Grid1D.cells(0.0, 2.5, 6), Grid1D.nodes(0.0, 2.5, 6), Grid1D.nodes(0.0, 2.5, 6, endpoint=False)],
    ids=["cells", "nodes", "periodic-nodes"],
)
def test_default_weights_sum_to_domain_length(x64, grid):
    assert float(grid.weights.sum()) == pytest.approx(2.5, rel=1e-14)
    assert float(grid.integrate(jnp.ones(grid.n))) == pytest.approx(2.5, rel=1e-14)


def test_rectangle_on_periodic_nodes_is_exact_for_trig_polynomials(x64):
    g = Grid1D.nodes(0.0, 2 * np.pi, 8, endpoint=False)
    x = g.x
    for k in range(1, 8):  # |k| < n: aliasing-free, the discrete sum of a full period is 0
        assert abs(float(g.integrate(jnp.cos(k * x)))) < 1e-13
        assert abs(float(g.integrate(jnp.sin(k * x)))) < 1e-13
    # |k| = n aliases onto the constant mode, the rule is not exact there
    assert float(g.integrate(jnp.cos(8 * x))) == pytest.approx(2 * np.pi)


def test_quadrature_rule_requirements():
    with pytest.raises(ValueError, match="midpoint"):
        Grid1D.nodes(0.0, 1.0, 5).quadrature("midpoint")
    with pytest.raises(ValueError, match="simpson"):
        Grid1D.nodes(0.0, 1.0, 4).quadrature("simpson")
    with pytest.raises(ValueError, match="trapezoid"):
        Grid1D.cells(0.0, 1.0, 1).quadrature("trapezoid")
    with pytest.raises(ValueError, match="rule must be one of"):
        Grid1D.cells(0.0, 1.0, 4).quadrature("gauss")


def test_integrate_batches_over_leading_axes_and_checks_shape(x64):
    g = Grid1D.cells(0.0, 1.0, 4)
    u = jnp.arange(24.0).reshape(2, 3, 4)
    out = g.integrate(u)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, u.sum(-1) * 0.25, rtol=1e-15)
    # integer input is integrated in floating point
    assert float(g.integrate(jnp.array([1, 1, 1, 1]))) == pytest.approx(1.0)
    for bad in (jnp.zeros(5), jnp.zeros((4, 3)), jnp.asarray(1.0)):
        with pytest.raises(ValueError, match=r"last axis of length n=4"):
            g.integrate(bad)


def test_integrate_keeps_float32(x64):
    g = Grid1D.cells(0.0, 1.0, 4)
    assert g.integrate(jnp.ones(4, jnp.float32)).dtype == jnp.float32
    assert g.integrate(jnp.ones(4, jnp.float64)).dtype == jnp.float64


def test_integrate_under_jit_and_grad(x64):
    g = Grid1D.cells(0.0, 2.0, 5)
    f = jax.jit(lambda u: g.integrate(u**2))
    u = jnp.linspace(0.0, 1.0, 5)
    assert float(f(u)) == pytest.approx(float(0.4 * jnp.sum(u**2)))
    np.testing.assert_allclose(jax.grad(f)(u), 2 * 0.4 * u, rtol=1e-14)


# --- spectral -------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid", [Grid1D.nodes(0.0, 3.0, 16, endpoint=False), Grid1D.cells(0.0, 3.0, 16)])
def test_wavenumbers_differentiate_spectrally(x64, grid):
    L = grid.length
    k = grid.wavenumbers
    np.testing.assert_allclose(k, 2 * np.pi * np.fft.fftfreq(16, d=L / 16), rtol=1e-15)
    x = grid.x
    u = jnp.sin(2 * np.pi * 3 * x / L) + 0.5 * jnp.cos(2 * np.pi * 5 * x / L)
    du = jnp.fft.ifft(1j * k * jnp.fft.fft(u)).real
    du_exact = (2 * np.pi / L) * (3 * jnp.cos(2 * np.pi * 3 * x / L) - 2.5 * jnp.sin(2 * np.pi * 5 * x / L))
    np.testing.assert_allclose(du, du_exact, atol=1e-12)


# --- refinement -----------------------------------------------------------------------------------
def test_refine_cells_nodes_periodic(x64):
    c = Grid1D.cells(0.0, 1.0, 5).refine(3)
    assert (c.kind, c.n, c.domain) == ("cells", 15, (0.0, 1.0))
    assert c.dx == pytest.approx(1 / 15)
    # coarse faces are refined faces
    np.testing.assert_allclose(c.faces[::3], Grid1D.cells(0.0, 1.0, 5).faces, atol=1e-15)

    coarse = Grid1D.nodes(0.0, 1.0, 5)
    n = coarse.refine(4)
    assert (n.kind, n.n, n.endpoint) == ("nodes", 17, True)
    assert n.dx == pytest.approx(coarse.dx / 4)
    np.testing.assert_allclose(n.x[::4], coarse.x, atol=1e-15)  # nested

    pc = Grid1D.nodes(0.0, 1.0, 5, endpoint=False)
    p = pc.refine(2)
    assert (p.n, p.endpoint) == (10, False)
    np.testing.assert_allclose(p.x[::2], pc.x, atol=1e-15)

    assert Grid1D.cells(0.0, 1.0, 5).refine(1) == Grid1D.cells(0.0, 1.0, 5)
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="factor"):
            coarse.refine(bad)


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [Grid1D.cells, Grid1D.nodes])
@pytest.mark.parametrize("a, b", [(1.0, 1.0), (2.0, 1.0), (0.0, math.inf), (math.nan, 1.0)])
def test_bad_interval_raises_naming_end_points(make, a, b):
    with pytest.raises(ValueError, match=r"b > a, got a=.*, b="):
        make(a, b, 4)


@pytest.mark.parametrize("n", [0, -3, 2.5, "4", True])
def test_bad_n_raises_naming_n(n):
    with pytest.raises(ValueError, match=r"n >= 1, got n="):
        Grid1D.cells(0.0, 1.0, n)


def test_node_grid_needs_two_points_with_endpoint():
    with pytest.raises(ValueError, match=r"n >= 2, got n=1"):
        Grid1D.nodes(0.0, 1.0, 1)
    assert Grid1D.nodes(0.0, 1.0, 1, endpoint=False).dx == 1.0
    assert Grid1D.cells(0.0, 1.0, 4.0).n == 4  # an integral float is accepted as an int
    assert isinstance(Grid1D.cells(0.0, 1.0, np.int64(4)).n, int)


def test_traced_end_points_are_rejected():
    with pytest.raises(TypeError, match="end points must be Python numbers"):
        jax.jit(lambda a: Grid1D.cells(a, 1.0, 4).x)(0.0)


def test_grid_is_static_under_jit(x64):
    """A grid passed through jit is a static description (no array leaves)."""
    g = Grid1D.cells(0.0, 1.0, 4)
    assert jax.tree_util.tree_leaves(g) == []
    out = jax.jit(lambda grid, u: grid.integrate(u))(g, jnp.ones(4))
    assert float(out) == pytest.approx(1.0)
