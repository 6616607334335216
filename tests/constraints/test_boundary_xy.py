"""BOON on a single-step FNO over (x, y) (Darcy-like) with walls on both axes: the swapped
layer of the rfft axis is exact, the exact mode's y-wall elimination decouples, and every wall
holds to round-off in both modes at n and 2n (float64) and to 1e-5 in float32."""

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


def cast(tree, dtype):
    return jax.tree.map(lambda a: jnp.asarray(a, dtype) if eqx.is_inexact_array(a) else a, tree)


@pytest.mark.parametrize("grid, modes", [((12, 10), (3, 4)), ((13, 9), (5, 4)), ((11, 12), (5, 6))])
def test_transpose_xy_over_x_y_is_exact(x64, grid, modes):
    conv = cast(SpectralConv(3, 2, modes, key=jax.random.PRNGKey(0)), jnp.float64)
    v = jax.random.normal(jax.random.PRNGKey(1), (3, *grid), jnp.float64)
    ct = transpose_xy(conv)
    assert ct.modes == (modes[1], modes[0] + 1)
    for path in ("fft", "dft"):
        np.testing.assert_allclose(ct(jnp.swapaxes(v, 1, 2), path), jnp.swapaxes(conv(v), 1, 2), atol=1e-14)


def test_exact_y_elimination_decouples_over_x_y(x64):
    conv = cast(SpectralConv(3, 3, (3, 4), key=jax.random.PRNGKey(2)), jnp.float64)
    ct, grid_t, rows = transpose_xy(conv), (11, 9), (0, 10)    # y walls of a 9 x 11 field
    vt = jax.random.normal(jax.random.PRNGKey(3), (3, *grid_t), jnp.float64)
    fac = _factor(ct, grid_t, rows, jnp.float64)
    out = lambda w: ct(_corrected_input(ct, fac, w, rows, grid_t, "fft"))[:, np.asarray(rows)]
    pert = jax.random.normal(jax.random.PRNGKey(4), vt.shape, jnp.float64).at[:, np.asarray(rows)].set(0.0)
    base = out(vt)
    assert float(jnp.max(jnp.abs(base - out(vt + pert)))) < 1e-12 * float(jnp.max(jnp.abs(base)))


def _walls_residual(u, bcs, vals):
    """Max |residual| of the four walls of ``u: (nx, ny)`` off the corners."""
    x, y = np.linspace(0, 1, u.shape[0]), np.linspace(0, 1, u.shape[1])
    res = []
    for axis, (lo, hi), coord in ((0, bcs[:2], x), (1, bcs[2:], y)):
        f = jnp.moveaxis(u, axis, -1)[1:-1]                            # (other axis off corners, n)
        for side, bc, name in (("left", lo, "lo"), ("right", hi, "hi")):
            idx, w = pc.boundary_stencil(bc, coord, side)
            g = vals.get((axis, name), np.asarray(bc.value))
            res.append(np.max(np.abs(np.asarray(f[:, idx]) @ w - np.asarray(g)[1:-1] if np.ndim(g) else
                                     np.asarray(f[:, idx]) @ w - g)))
    return max(res)


WALLS = {
    "dirichlet": [pc.Dirichlet(0.0)] * 4,                              # Darcy: p = 0 on the walls
    "neumann": [pc.Neumann(0.0, order=2), pc.Neumann(1.0, order=1), pc.Neumann(-0.5, order=2),
                pc.Neumann(0.0, order=2)],
}


@pytest.mark.parametrize("case", sorted(WALLS))
@pytest.mark.parametrize("mode", ["exact", "faithful"])
def test_four_walls_round_off_over_x_y(x64, case, mode):
    fno = cast(FNO(2, 1, 1, (3, 3), 5, grid=True, padding=0.2, key=jax.random.PRNGKey(5)), jnp.float64)
    bcs = WALLS[case]
    boon = BOON(fno, left=bcs[0], right=bcs[1], bottom=bcs[2], top=bcs[3], mode=mode, corners="y")
    for n in (12, 24):
        a = jax.image.resize(jax.random.normal(jax.random.PRNGKey(6), (1, 6, 6), jnp.float64), (1, n, n), "linear")
        u = boon(a)[0]
        assert np.all(np.isfinite(u))
        assert _walls_residual(u, bcs, {}) <= 1e-10, (n, mode, case)
        assert _walls_residual(fno(a)[0], bcs, {}) > 1e-3  # the plain FNO misses them
    # non-zero per-sample Dirichlet values (call-time arrays) hold too
    if case == "dirichlet":
        a = jax.random.normal(jax.random.PRNGKey(7), (1, 12, 12), jnp.float64)
        s = np.linspace(0, 1, 12)
        vals = dict(left=np.sin(3 * s), right=np.cos(s), bottom=np.sin(2 * s + 1), top=s ** 2)
        u = boon(a, **vals)[0]
        res = _walls_residual(u, bcs, {(0, "lo"): vals["left"], (0, "hi"): vals["right"],
                                       (1, "lo"): vals["bottom"], (1, "hi"): vals["top"]})
        assert res <= 1e-10


def test_float32_walls_and_nyquist_guard():
    fno = FNO(2, 1, 1, (3, 3), 5, grid=True, padding=0.2, key=jax.random.PRNGKey(5))
    d = pc.Dirichlet(0.0)
    a = jax.random.normal(jax.random.PRNGKey(8), (1, 12, 12))
    for mode in ("exact", "faithful"):
        u = eqx.filter_jit(BOON(fno, left=d, right=d, bottom=d, top=d, mode=mode))(a)[0]
        assert u.dtype == jnp.float32 and _walls_residual(u, [d] * 4, {}) <= 1e-5
    # the swapped layer is exact only below the Nyquist modes: refused with a clear error
    tight = FNO(2, 1, 1, (3, 4), 5, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"2 \* modes\[0\] < nx"):
        BOON(tight, left=d, right=d, bottom=d, top=d)(jnp.ones((1, 6, 6)))
