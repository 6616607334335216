"""The published BOON code's per-branch kernel correction (``mode="faithful"``)."""

from __future__ import annotations

import jax.numpy as jnp

from physcon.constraints._walls import impose
from physcon.models.fno import SpectralConv

def _rows_apply(layer, d_rows, rows, grid, bias):
    """The layer applied to a field that is ``d_rows`` at ``rows`` of axis 1 and 0 elsewhere,
    evaluated at ``rows`` only; ``bias`` adds the pointwise layer's bias (the reference's
    probes include it)."""
    if isinstance(layer, SpectralConv):
        return layer.synthesize(*layer.mix(*layer.spectrum(d_rows, grid=grid, rows=rows)), grid, rows=rows)
    out = jnp.tensordot(layer.weight, d_rows, axes=1)
    return out + layer.bias.reshape((-1,) + (1,) * (d_rows.ndim - 1)) if bias else out


def _clamp(k, n_dim):
    if n_dim == 1:
        return jnp.where(jnp.abs(k) < 1e-7, 1e-7, k)
    if n_dim == 2:
        return jnp.where(k < 1e-4, 1e-4, k)  # the reference's signed test
    return jnp.where(jnp.abs(k) < 1e-4, 1e-4, k)


def _faithful_branch(layer, v, kind, walls, grid, n, spectral, n_dim, walls_y=None, corners="y", halve=None):
    """One branch ``T1 K T2 v`` as the published code computes it (x walls at rows 0, n-1).

    ``T2`` eliminates the x walls only; ``T1`` imposes the x walls and, when ``walls_y`` is
    given, the y walls too, in this branch, before the branches are summed (the published 3-D
    code overwrites all four walls of each branch, x first and y second: ``corners="y"``).
    ``halve`` (default: Neumann x walls) halves the branch after ``T1``.
    """
    halve = kind == "neumann" if halve is None else halve
    c = v.shape[0]
    rows = (0, n - 1)
    is_conv = isinstance(layer, SpectralConv)
    full = (lambda z: layer(z, spectral)) if is_conv else layer
    kv = full(v)
    if kind == "periodic":
        out = impose(kv, walls, walls_y, corners)
        return 0.5 * out if halve else out
    ones = jnp.ones((c, 1) + tuple(grid[1:]), v.dtype)
    zeros = jnp.zeros_like(ones)
    p0 = _rows_apply(layer, jnp.concatenate([ones, zeros], 1), rows, grid, True)[0]  # impulse at 0
    pl = _rows_apply(layer, jnp.concatenate([zeros, ones], 1), rows, grid, True)[0]  # impulse at L
    k00, kl0, k0l, kll = p0[0], p0[1], pl[0], pl[1]
    k00, kll = _clamp(k00, n_dim), _clamp(kll, n_dim)
    x0, xl = v[:, 0], v[:, n - 1]
    kx0, kxl = kv[:, 0], kv[:, n - 1]
    y0 = x0
    if kind == "dirichlet" or n_dim > 1:
        kt = _clamp(k00 - kl0 * k0l / kll, n_dim)
        y0 = 2 * x0 - (kx0 - kxl * k0l / kll + k0l * xl) / kt
    d0 = y0 - x0
    # (K y)_L = (K x)_L + K(d0 at row 0)_L
    kyl = kxl + _rows_apply(layer, jnp.stack([d0, jnp.zeros_like(d0)], 1), rows, grid, False)[:, 1]
    zl = 2 * (y0 if n_dim > 1 else xl) - kyl / kll  # 2-D/3-D: the reference reads row 0 here
    dl = zl - xl
    if is_conv:
        dr, di = layer.mix(*layer.spectrum(jnp.stack([d0, dl], 1), grid=grid, rows=rows))
        yr, yi = layer.mix(*layer.spectrum(v, spectral=spectral))
        out = layer.synthesize(yr + dr, yi + di, grid, spectral=spectral)
    else:
        out = layer(v.at[:, 0].set(y0).at[:, n - 1].set(zl))
    out = impose(out, walls, walls_y, corners)
    smooth = kind == "dirichlet" and n_dim == 2
    if smooth and walls_y is not None:  # (x, y): the smoothing reaches the y walls of the rows it averages
        out, smooth = impose(_mollify(out, n), walls, walls_y, corners), False
    if halve:
        out = 0.5 * out
    return _mollify(out, n) if smooth else out


def _mollify(v, n, num_smooth: int = 5):
    """The reference's 2-D Dirichlet smoothing of the rows next to each wall (axis 1, walls at
    rows 0 and n-1): rows 1..ns-1 and n-ns..n-2 become 3-point averages of the old values."""
    ns = num_smooth
    left = (v[:, 0:ns - 1] + v[:, 1:ns] + v[:, 2:ns + 1]) / 3
    v = v.at[:, 1:ns].set(left)
    right = (v[:, n - ns - 1:n - 2] + v[:, n - ns:n - 1] + v[:, n - ns + 1:n]) / 3
    return v.at[:, n - ns:n - 1].set(right)
