"""BOON on an FNO over (x, y, t) with walls on both space axes: round-off boundary errors on all
four walls for every condition type and mode, at the training and at twice the resolution;
the y-wall elimination exact (transposed layer); gradients; input errors."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import BOON
from physcon.constraints._elimination import _corrected_input, _factor, transpose_xy
from physcon.models import FNO, SpectralConv


def f64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64) if eqx.is_inexact_array(a) else a, tree)


def heater(t):
    return 5.0 * jnp.sin(jnp.pi * t)


# (left, right, bottom, top); Dirichlet values read from one field so that they agree at corners
CASES = {
    "dirichlet": ("oracle", "oracle", "oracle", "oracle"),
    "neumann": (pc.Neumann(0.0, order=1), pc.Neumann(heater, order=3), pc.Neumann(0.0, order=2),
                pc.Neumann(1.0, order=2)),
    "mixed": (pc.Dirichlet(0.0), pc.Dirichlet(0.0), pc.Neumann(heater, order=2), pc.Neumann(0.0, order=1)),
    "periodic_y": (pc.Dirichlet(0.5), pc.Dirichlet(-0.5), pc.Periodic(), pc.Periodic()),
    "robin": (pc.Robin(1.0, a=1.0, b=0.3, order=2), pc.Dirichlet(0.0), pc.Dirichlet(0.0), pc.Robin(0.0, order=2)),
}


def _residuals(u, x, left, right, t, g=None):
    """|residual| of the two walls of the last axis of ``u: (..., n)``; ``g``: override values."""
    if isinstance(left, pc.Periodic):
        return np.abs(np.asarray(u[..., 0] - u[..., -1]))
    out = []
    for side, bc, gv in (("left", left, None if g is None else g[0]), ("right", right, None if g is None else g[1])):
        idx, w = pc.boundary_stencil(bc, x, side)
        val = np.asarray(bc.at(t, jnp.float64)) if gv is None else np.asarray(gv)
        out.append(np.abs(np.asarray(u[..., idx]) @ w - val))
    return np.stack(out)


def _run(case, mode, n, per_layer=True, corners=None):
    spec = CASES[case]
    fno = f64(FNO(3, 1, 1, (2, 2, 2), 4, grid=True, padding=(0.0, 0.0, 0.5), key=jax.random.PRNGKey(0)))
    nt = 4
    t = jnp.linspace(0.1, 0.6, nt)
    a = jax.image.resize(jax.random.normal(jax.random.PRNGKey(1), (1, 8, 7, nt), jnp.float64), (1, n, n - 2, nt),
                         "linear")
    x, y = np.linspace(0, 1, n), np.linspace(0, 1, n - 2)
    if spec[0] == "oracle":
        f = jnp.asarray(np.cos(3 * x)[:, None, None] * np.sin(2 * y + 1)[None, :, None] * (1 + np.asarray(t)))
        bcs = [pc.Dirichlet(0.0)] * 4
        vals = dict(left=f[0], right=f[-1], bottom=f[:, 0], top=f[:, -1])
    else:
        bcs, vals = list(spec), {}
    boon = BOON(fno, left=bcs[0], right=bcs[1], bottom=bcs[2], top=bcs[3], mode=mode, per_layer=per_layer,
                corners=corners)
    u = boon(a, t, **vals)[0]                                          # (x, y, t)
    # the walls that win at the corners hold on their whole lines, the others off them
    sx = slice(None) if boon.corners == "x" else slice(1, -1)
    sy = slice(None) if boon.corners == "y" else slice(1, -1)
    ux = jnp.moveaxis(u[:, sx], 0, -1)                                 # (y, t, x): x walls
    uy = jnp.moveaxis(u[sy], 1, -1)                                    # (x, t, y): y walls
    gx = gy = None
    if vals:
        gx = (vals["left"][sx], vals["right"][sx])                     # (y, t)
        gy = (vals["bottom"][sy], vals["top"][sy])                     # (x, t)
    return _residuals(ux, x, bcs[0], bcs[1], t, gx), _residuals(uy, y, bcs[2], bcs[3], t, gy), u


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", ["exact", "faithful"])
def test_four_walls_round_off_at_two_resolutions(x64, case, mode):
    if mode == "faithful" and case == "robin":
        # the published code has no Robin condition: faithful mode refuses it
        with pytest.raises(ValueError, match="no Robin condition"):
            walls = dict(zip(("left", "right", "bottom", "top"), CASES["robin"]))
            BOON(FNO(3, 1, 1, 2, 4, key=jax.random.PRNGKey(0)), **walls, mode="faithful")
        return
    for n in (8, 16):
        rx, ry, u = _run(case, mode, n)
        assert np.all(np.isfinite(u))
        assert rx.max() <= 1e-10 and ry.max() <= 1e-10, (n, rx.max(), ry.max())


@pytest.mark.parametrize("mode", ["exact", "faithful"])
@pytest.mark.parametrize("corners", ["x", "y"])
def test_corner_rule_is_an_option(x64, mode, corners):
    """x Dirichlet, y Neumann: at the corners only one can hold; ``corners`` picks which, in
    both modes, and the other holds everywhere off the corners."""
    rx, ry, u = _run("mixed", mode, 8, corners=corners)
    assert rx.max() <= 1e-10 and ry.max() <= 1e-10
    # the losing condition is violated at the corners (so the test can tell them apart)
    ux = jnp.moveaxis(u, 0, -1)
    full_x = _residuals(ux, np.linspace(0, 1, 8), pc.Dirichlet(0.0), pc.Dirichlet(0.0), None)
    uy = jnp.moveaxis(u, 1, -1)
    full_y = _residuals(uy, np.linspace(0, 1, 6), CASES["mixed"][2], CASES["mixed"][3], jnp.linspace(0.1, 0.6, 4))
    assert (full_y.max() > 1e-6) if corners == "x" else (full_x.max() > 1e-6)


def test_corners_default_and_validation():
    fno3 = FNO(3, 1, 1, 2, 4, key=jax.random.PRNGKey(0))
    d = pc.Dirichlet(0.0)
    assert BOON(fno3, left=d, right=d, bottom=d, top=d, mode="faithful").corners == "y"  # the published rule
    assert BOON(fno3, left=d, right=d, bottom=d, top=d).corners == "x"
    for bad in ("z", "X", 1, True):
        with pytest.raises(ValueError, match="corners must be one of"):
            BOON(fno3, left=d, right=d, bottom=d, top=d, corners=bad)
    with pytest.raises(ValueError, match="same condition type on both y walls"):
        BOON(fno3, left=d, right=d, bottom=d, top=pc.Neumann(0.0), mode="faithful")


def test_dirichlet_corners_hold_when_data_agree(x64):
    rx, ry, u = _run("dirichlet", "exact", 8)
    x, y = np.linspace(0, 1, 8), np.linspace(0, 1, 6)
    t = np.linspace(0.1, 0.6, 4)
    f = np.cos(3 * x)[:, None, None] * np.sin(2 * y + 1)[None, :, None] * (1 + t)
    np.testing.assert_allclose(u[:, 0], f[:, 0], atol=1e-13)           # the whole bottom line
    np.testing.assert_allclose(u[:, -1], f[:, -1], atol=1e-13)


def test_transpose_xy_and_exact_y_elimination(x64):
    conv = f64(SpectralConv(3, 3, (3, 2, 2), key=jax.random.PRNGKey(2)))
    v = jax.random.normal(jax.random.PRNGKey(3), (3, 9, 8, 6), jnp.float64)
    ct = transpose_xy(conv)
    np.testing.assert_allclose(ct(jnp.swapaxes(v, 1, 2)), jnp.swapaxes(conv(v), 1, 2), atol=1e-15)
    # after the y step the y-wall outputs depend only on the y-wall inputs
    grid_t = (8, 9, 6)
    rows = (0, 7)
    inv = _factor(ct, grid_t, rows, jnp.float64)
    out = lambda w: ct(_corrected_input(ct, inv, w, rows, grid_t, "fft"))[:, np.asarray(rows)]
    vt = jnp.swapaxes(v, 1, 2)
    pert = jax.random.normal(jax.random.PRNGKey(4), vt.shape, jnp.float64).at[:, np.asarray(rows)].set(0.0)
    base = out(vt)
    assert float(jnp.max(jnp.abs(base - out(vt + pert)))) < 1e-12 * float(jnp.max(jnp.abs(base)))
    with pytest.raises(ValueError, match="transpose_xy"):
        transpose_xy(SpectralConv(2, 2, 3, key=jax.random.PRNGKey(0)))


def test_gradient_matches_finite_differences(x64):
    fno = f64(FNO(3, 1, 1, (2, 2, 2), 4, grid=True, key=jax.random.PRNGKey(5)))
    bc = dict(left=pc.Dirichlet(0.1), right=pc.Neumann(0.0, order=2), bottom=pc.Neumann(0.0, order=1),
              top=pc.Dirichlet(-0.2))
    a = jax.random.normal(jax.random.PRNGKey(6), (1, 8, 7, 5), jnp.float64)
    t = jnp.linspace(0.1, 0.5, 5)

    @eqx.filter_jit  # one compile for the three evaluations (eager dispatch compiles every op)
    def loss(m):
        return jnp.sum(BOON(m, **bc, mode="exact", corners="y")(a, t) ** 2)

    g = eqx.filter_jit(jax.grad(loss))(fno)
    leaves, tree = jax.tree.flatten(eqx.filter(fno, eqx.is_inexact_array))
    d = [jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(7), i), x.shape, x.dtype) for i, x in enumerate(leaves)]
    shift = lambda s: eqx.combine(jax.tree.unflatten(tree, [x + s * e for x, e in zip(leaves, d)]), fno)
    # the loss is strongly curved (the wall inverses); the central difference converges as eps^2
    # (checked: relative gap 5e-4, 5e-6, 5e-8 at eps 1e-5, 1e-6, 1e-7)
    eps = 1e-7
    fd = (loss(shift(eps)) - loss(shift(-eps))) / (2 * eps)
    an = sum(jnp.vdot(gl, e) for gl, e in zip(jax.tree.leaves(eqx.filter(g, eqx.is_inexact_array)), d))
    np.testing.assert_allclose(an, fd, rtol=1e-6)


def test_bad_input():
    fno3 = FNO(3, 1, 1, 2, 4, key=jax.random.PRNGKey(0))
    fno1 = FNO(1, 1, 1, 2, 4, key=jax.random.PRNGKey(0))
    d = pc.Dirichlet(0.0)
    with pytest.raises(ValueError, match="bottom and top must be given together"):
        BOON(fno3, left=d, right=d, bottom=d)
    with pytest.raises(ValueError, match=r"need an FNO over \(x, y\) or \(x, y, t\)"):
        BOON(fno1, left=d, right=d, bottom=d, top=d)
    with pytest.raises(ValueError, match="Periodic must be given on both walls.*bottom=Periodic"):
        BOON(fno3, left=d, right=d, bottom=pc.Periodic(), top=d)
    with pytest.raises(ValueError, match="top must be Dirichlet"):
        BOON(fno3, left=d, right=d, bottom=d, top=0.0)
    boon = BOON(fno3, left=d, right=d, bottom=d, top=d)
    a = jnp.ones((1, 8, 7, 5))
    with pytest.raises(ValueError, match="bottom: boundary value of shape"):
        boon(a, bottom=jnp.zeros(3))
    with pytest.raises(ValueError, match="no y-wall conditions"):
        BOON(fno3, left=d, right=d)(a, top=jnp.zeros(5))
    with pytest.raises(Exception, match="top: boundary value must be finite"):
        boon(a, top=jnp.nan)


def test_disagreeing_dirichlet_corners_are_an_error_unless_corners_is_given():
    """Dirichlet x and y walls whose values differ at a corner: only one can hold there, so with
    the default ``corners=None`` it is an error naming both walls (eagerly and under jit);
    an explicit ``corners`` chooses, and values that agree pass."""
    fno3 = FNO(3, 1, 1, 2, 4, key=jax.random.PRNGKey(0))
    d = pc.Dirichlet(0.0)
    a = jnp.ones((1, 6, 5, 3))
    boon = BOON(fno3, left=d, right=d, bottom=d, top=d, per_layer=False)
    run = eqx.filter_jit(lambda m, v, g: m(v, top=g))
    for call in (lambda m, v, g: m(v, top=g), run):
        with pytest.raises(Exception, match="values of left and top disagree at their corner"):
            call(boon, a, jnp.ones((6, 3)))
    assert bool(jnp.all(jnp.isfinite(run(boon, a, jnp.zeros((6, 3))))))
    chosen = BOON(fno3, left=d, right=d, bottom=d, top=d, per_layer=False, corners="y")
    np.testing.assert_array_equal(run(chosen, a, jnp.ones((6, 3)))[0, :, -1], 1.0)
