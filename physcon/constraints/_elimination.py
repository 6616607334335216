"""BOON's exact elimination of the wall rows of a spectral convolution (``T2``, exact mode)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from physcon.models.fno import SpectralConv, _dft_forward, _dft_inverse, _synthesize_axes

def _rest_modes(sizes, modes):
    """Fourier modes of the non-``x`` axes where the layer acts, in ``rfftn`` order.

    On the last (rfft) axis the kept ``0..m-1``; on the others ``0..m`` and ``-m..-1``: the
    kept set plus ``+m``, which the real part taken by ``irfft`` at ``k_t = 0`` (and Nyquist)
    couples to the kept ``-m``. Returns the index array of each axis and the ``active`` mask
    over their product (flattened): the modes where the layer is not identically zero.
    """
    k = len(sizes)
    idx, sets = [], []
    for j, (n, m) in enumerate(zip(sizes, modes)):
        if j == k - 1:
            idx.append(np.arange(m))
        else:
            idx.append(np.unique(np.concatenate([np.arange(m + 1), np.arange(n - m, n)]) % n))
            sets.append(set(np.concatenate([np.arange(m), np.arange(n - m, n)]).tolist()))
    grids = np.meshgrid(*idx, indexing="ij")
    kept = np.ones(grids[0].shape, bool)
    mirror = np.ones(grids[0].shape, bool)
    for j in range(k - 1):
        n = sizes[j]
        kept &= np.isin(grids[j], list(sets[j]))
        mirror &= np.isin((-grids[j]) % n, list(sets[j]))
    nt = sizes[-1]
    real_t = (grids[-1] == 0) | ((nt % 2 == 0) & (grids[-1] == nt // 2))
    return idx, (kept | (real_t & mirror)).reshape(-1)


def _rest_fwd(a, sizes, modes):
    """rfftn over the trailing axes of ``a: (..., *sizes)``, gathered at :func:`_rest_modes`:
    complex ``(..., F)``."""
    k = len(sizes)
    lead = a.ndim - k
    af = jnp.fft.rfftn(a, axes=tuple(range(lead, a.ndim)))
    for j, ix in enumerate(_rest_modes(sizes, modes)[0]):
        af = jnp.take(af, ix, axis=lead + j)
    return af.reshape(af.shape[:lead] + (-1,))


def _rest_inv(af, lead, sizes, modes):
    """Inverse of :func:`_rest_fwd`: scatter ``(*lead, F)`` into zeros and ``irfftn``."""
    k = len(sizes)
    idx, _ = _rest_modes(sizes, modes)
    full = tuple(sizes[:-1]) + (sizes[-1] // 2 + 1,)
    af = af.reshape(tuple(lead) + tuple(len(ix) for ix in idx))
    out = jnp.zeros(tuple(lead) + full, af.dtype).at[(Ellipsis, *np.ix_(*idx))].set(af)
    return jnp.fft.irfftn(out, s=tuple(sizes), axes=tuple(range(len(lead), len(lead) + k)))


def _transfer(conv: SpectralConv, grid, rows, dtype):
    """``A_BB``: the layer's response at the wall rows to impulses at the wall rows.

    Returns ``(F, 2C, 2C)`` (complex, one block per mode of the other axes) or ``(2C, 2C)``
    (real, 1-D), index ``side * C + channel`` on both sides. Closed form: the impulse at row
    ``s`` has the spectrum ``E[s, k] = exp(-2 pi i k s / n)``, read back at row ``r`` through
    the inverse weights ``G[k, r]``, so along ``x`` the response is ``sum_k R[i, o, k] P[s, r, k]``
    with ``P = E G``; the other axes are synthesised and transformed back to their modes.
    """
    d = conv.n_dim
    rows = np.asarray(rows)
    fr, fi = _dft_forward(grid[0], conv.modes[0], d == 1)
    gr, gi = _dft_inverse(grid[0], conv.modes[0], d == 1)
    p = (fr[rows] + 1j * fi[rows])[:, None, :] * (gr[:, rows] + 1j * gi[:, rows]).T[None]  # (s, r, k)
    pr, pi = jnp.asarray(p.real, dtype), jnp.asarray(p.imag, dtype)
    wr, wi = conv.weight_real.astype(dtype), conv.weight_imag.astype(dtype)
    c = wr.shape[0]
    if d == 1:
        h = jnp.einsum("iok,srk->rosi", wr, pr) - jnp.einsum("iok,srk->rosi", wi, pi)
        return h.reshape(2 * c, 2 * c)
    ein = lambda w, q: jnp.einsum("iok...,srk->srio...", w, q)
    hr, hi = ein(wr, pr) - ein(wi, pi), ein(wr, pi) + ein(wi, pr)       # (s, r, i, o, *K_rest)
    krest = hr.shape[4:]
    inv = [_dft_inverse(n, m, a == d - 1) for a, (n, m) in enumerate(zip(grid, conv.modes)) if a > 0]
    h = _synthesize_axes(hr.reshape((-1,) + krest), hi.reshape((-1,) + krest), inv, dtype)
    h = h.reshape((2, 2, c, c) + tuple(grid[1:]))
    hf = _rest_fwd(h, tuple(grid[1:]), conv.modes[1:])                  # (s, r, i, o, F)
    a = jnp.transpose(hf, (4, 1, 3, 0, 2)).reshape(hf.shape[-1], 2 * c, 2 * c)
    # modes where the layer vanishes: identity blocks (their correction is masked to 0)
    active = _rest_modes(tuple(grid[1:]), conv.modes[1:])[1]
    return jnp.where(active[:, None, None], a, jnp.eye(2 * c, dtype=a.dtype))


def _eliminate(conv: SpectralConv, inv, v, kv_rows, rows, grid):
    """``Delta_B = x_B - A_BB^{-1} (A x)_B`` on the wall rows, shape ``(C, 2, *rest)``."""
    c = v.shape[0]
    vb = v[:, np.asarray(rows)]
    if conv.n_dim == 1:
        rhs = jnp.transpose(kv_rows, (1, 0)).reshape(2 * c)
        sol = inv @ rhs
        return vb - jnp.transpose(sol.reshape(2, c), (1, 0))
    rest, mrest = tuple(grid[1:]), conv.modes[1:]
    vf = _rest_fwd(vb, rest, mrest)                      # (C, 2, F)
    kf = _rest_fwd(kv_rows, rest, mrest)
    rhs = jnp.transpose(kf, (2, 1, 0)).reshape(kf.shape[-1], 2 * c)
    sol = jnp.einsum("fij,fj->fi", inv, rhs)              # (F, 2C)
    sol = jnp.transpose(sol.reshape(-1, 2, c), (2, 1, 0))
    active = _rest_modes(rest, mrest)[1]
    return _rest_inv(jnp.where(active, vf - sol, 0), (c, 2), rest, mrest).astype(v.dtype)


@jax.custom_jvp
def _inverse(a):
    return jnp.linalg.inv(a)


@_inverse.defjvp
def _inverse_jvp(primals, tangents):
    # d(A^-1) = -A^-1 dA A^-1: two small matmuls, much cheaper than differentiating the LU
    (a,), (da,) = primals, tangents
    x = _inverse(a)
    return x, -x @ da @ x


def _factor(conv, grid, rows, dtype):
    """``A_BB^{-1}`` (one small matrix per kept mode); independent of the sample, so under
    ``jax.vmap`` it is computed once per batch."""
    return _inverse(_transfer(conv, grid, rows, dtype))


def decouple(conv: SpectralConv, v: Float[Array, "c n *rest"], rows: tuple[int, int] | None = None,
             *, spectral: str = "auto") -> Float[Array, "c n *rest"]:
    """``A T2 v``: the spectral convolution with its wall rows eliminated (exact mode).

    The output's rows ``rows`` (default the two ends of axis 1) depend only on ``v``'s rows
    ``rows`` (to round-off), in every channel, for any multi-channel layer.
    """
    grid = tuple(v.shape[1:])
    rows = (0, grid[0] - 1) if rows is None else tuple(rows)
    inv = _factor(conv, grid, rows, v.dtype)
    return _corrected_conv(conv, inv, v, rows, grid, spectral)


def _corrected_conv(conv, inv, v, rows, grid, spectral):
    yr, yi = conv.mix(*conv.spectrum(v, spectral=spectral))
    kv_rows = conv.synthesize(yr, yi, grid, rows=rows)
    delta = _eliminate(conv, inv, v, kv_rows, rows, grid)
    dr, di = conv.mix(*conv.spectrum(delta, grid=grid, rows=rows))
    return conv.synthesize(yr + dr, yi + di, grid, spectral=spectral)


def _corrected_input(conv, inv, v, rows, grid, spectral):
    """``T2 v``: ``v`` with its wall rows (of grid axis 0) replaced so that the layer's output
    rows ``rows`` depend only on ``v``'s rows ``rows``. Costs one forward pass of the layer;
    used where two eliminations are chained (walls on two axes)."""
    yr, yi = conv.mix(*conv.spectrum(v, spectral=spectral))
    kv_rows = conv.synthesize(yr, yi, grid, rows=rows)
    return v.at[:, np.asarray(rows)].add(_eliminate(conv, inv, v, kv_rows, rows, grid))


def transpose_xy(conv: SpectralConv) -> SpectralConv:
    """The layer acting on fields with grid axes 0 and 1 swapped: ``transpose_xy(conv)(v.swapaxes(1, 2))
    == conv(v).swapaxes(1, 2)``. Both axes carry the ``0..m-1, -m..-1`` layout (only the last
    axis is an rfft axis), so swapping the weights' axes and the mode counts is exact; it lets
    the axis-0 elimination serve the walls of axis 1."""
    if conv.n_dim < 3:
        raise ValueError(f"transpose_xy needs a layer over (x, y, t), got {conv.n_dim} grid axes")
    out = object.__new__(SpectralConv)
    object.__setattr__(out, "weight_real", jnp.swapaxes(conv.weight_real, 2, 3))
    object.__setattr__(out, "weight_imag", jnp.swapaxes(conv.weight_imag, 2, 3))
    object.__setattr__(out, "modes", (conv.modes[1], conv.modes[0], *conv.modes[2:]))
    return out
