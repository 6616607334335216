"""BOON: boundary-exact Fourier neural operators (Saad et al., ICLR 2023).

``BOON(fno, left=..., right=...)`` wraps a :class:`physcon.models.FNO` so that its output
satisfies the boundary conditions at the two walls of grid axis 0 (``x``) exactly, at any
resolution. It adds no parameters. Two things happen (research/boon.md §1):

1. **Kernel correction in every Fourier layer** (``per_layer=True``): each layer's kernel
   ``K`` is replaced by ``T1 K T2``. ``T2`` changes the layer input only at the wall rows so
   that, after the layer, wall outputs depend on wall inputs only (block Gaussian elimination
   of the boundary rows); ``T1`` then imposes the condition on the hidden field (Dirichlet: the
   value; Neumann/Robin: the one-sided stencil solved for the wall node; periodic: the average
   of the two walls).
2. **Exact enforcement of the output**: the same ``T1`` on the prediction. This alone makes
   the boundary error round-off; the per-layer correction changes the function class.

Modes:

* ``mode="exact"`` (default): the elimination done correctly for multi-channel layers. With
  ``B`` the wall rows (both walls, all channels) and ``A`` the spectral convolution, the layer
  input is corrected to ``z_B = x_B - A_BB^{-1} A_BI x_I = 2 x_B - A_BB^{-1} (A x)_B`` so
  that ``(A z)_B = A_BB x_B``: wall outputs are *exactly* decoupled from interior inputs, and
  the interior block becomes the Schur complement ``A_II - A_IB A_BB^{-1} A_BI``. ``A_BB`` is a
  ``2C x 2C`` matrix (``C`` channels) computed in closed form from the spectral weights; on
  grids with more axes (``x, t`` or ``x, y, t``) the layer is a convolution along those axes,
  so ``A_BB`` is block-diagonal in their Fourier modes and one ``2C x 2C`` system is solved per
  kept mode. The pointwise branch ``W`` has no spatial coupling (already decoupled, so
  ``T2 = I``) and its bias is never part of the elimination. ``T1`` is applied once per layer,
  to the activated sum of the branches (``v <- T1 GELU(K T2 v + W v)``), so every layer's
  input satisfies the condition (the published code instead skips GELU at the wall rows). The
  cost is one forward pass of the layer plus transforms of the two wall rows, not seven passes.
  **Caveat (measured, benchmarks/boon_conditioning.py):** ``A_BB`` of a trained-size layer is
  badly conditioned (median ``cond(A_BB)`` ~ 3e4 for 128 nodes / 32 channels, ~ 1e6 for 500
  nodes / 64 channels, against ~ 12 / ~ 180 for the published scalar probe), because the wall
  rows of a band-limited kernel are nearly parallel across channels. ``T2`` amplifies the wall
  rows by up to that factor, and in the 1-D benchmarks this mode trains much worse than the
  plain FNO (docs/boon.md); prefer ``"faithful"`` for training accuracy and use ``"exact"``
  where the exact decoupling itself is wanted.
* ``mode="faithful"``: the published code's behaviour, for comparable numbers: scalar probes
  (all-channel impulse read at output channel 0, bias included; a vector over ``t`` in 2-D),
  ``T2 T1`` applied to the spectral and pointwise branches separately (Dirichlet values written
  into every hidden channel of each branch, Neumann branches halved), pivots clamped (``|K| <
  1e-7`` in 1-D; ``K < 1e-4`` signed in 2-D, ``|K| < 1e-4`` in 3-D), Neumann eliminating the
  right wall only in 1-D, the 2-D/3-D right step reading the left wall row, the 2-D Dirichlet
  "mollifier" (3-point average of the 4 rows next to each wall), and GELU applied at the walls
  in 1-D (the reference's index bug) but not in 2-D/3-D.

Boundary values are constants or functions of time (``bc.value(t)``); ``t`` is the time of a
single-step model or the times of the last grid axis (shape ``(nt,)``) of an ``(x, t)`` model.
At call time ``left=``/``right=`` override the values with arrays (e.g. per-sample Dirichlet
data read from the ground truth), broadcastable to the wall's shape ``grid[1:]``. Hidden
layers see the values zero-padded along padded axes (as the reference). Neumann and Robin
stencils are recomputed for every grid size (node grid ``linspace(*domain, n)``), so the
condition holds at zero-shot super-resolution too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import Dirichlet, Neumann, Periodic, Robin, boundary_stencil, check_pair
from physcon.models.fno import FNO, Pointwise, SpectralConv, _dft_forward, _dft_inverse, _synthesize_axes

__all__ = ["BOON", "decouple", "enforce"]

_MODES = ("exact", "faithful")


# --- walls ------------------------------------------------------------------------------------
class _Wall(eqx.Module):
    """One wall's condition on a concrete grid: ``sum_j w_j u[index_j] = g`` (``index[0]`` the
    wall row), or ``periodic``. ``g`` has the wall's shape ``rest`` (or broadcasts to it)."""

    index: tuple[int, ...] = eqx.field(static=True)
    weights: tuple[float, ...] = eqx.field(static=True)
    g: Array | None
    periodic: bool = eqx.field(static=True, default=False)


def _wall_value(name, bc, override, t, rest, dtype):
    if override is not None:
        g = jnp.asarray(override, dtype)
    elif callable(bc.value):
        if t is None:
            raise ValueError(f"{name}: the boundary value is a function of time; pass t")
        g = jnp.asarray(bc.value(jnp.asarray(t, dtype)), dtype)
    else:
        g = jnp.asarray(bc.value, dtype)
    try:
        g = jnp.broadcast_to(g, rest)
    except ValueError:
        raise ValueError(
            f"{name}: boundary value of shape {g.shape} does not broadcast to the wall's shape "
            f"{rest} (grid[1:])") from None
    return eqx.error_if(g, ~jnp.all(jnp.isfinite(g)), f"{name}: boundary value must be finite")


def _walls(left, right, n, domain, values, t, rest, dtype):
    if isinstance(left, Periodic):
        return (_Wall((0,), (1.0,), None, True), _Wall((n - 1,), (1.0,), None, True))
    x = np.linspace(domain[0], domain[1], n)
    out = []
    for side, bc, val in (("left", left, values[0]), ("right", right, values[1])):
        index, w = boundary_stencil(bc, x, side)
        other = n - 1 if side == "left" else 0
        if len(index) > 1 and other in index:
            raise ValueError(
                f"{side}: the {type(bc).__name__} stencil of order {bc.order} reaches the other wall "
                f"on a grid of {n} nodes; use a lower order or a finer grid")
        out.append(_Wall(tuple(int(i) for i in index), tuple(float(c) for c in w),
                         _wall_value(side, bc, val, t, rest, dtype)))
    return tuple(out)


def _pad_walls(walls, pads):
    """Zero-pad the wall values along padded axes (the reference pads the BC series)."""
    if not any(pads[1:]):
        return walls
    return tuple(w if w.g is None else eqx.tree_at(lambda q: q.g, w, jnp.pad(w.g, [(0, p) for p in pads[1:]]))
                 for w in walls)


def enforce(v: Float[Array, "c n *rest"], walls, halve: bool = False) -> Float[Array, "c n *rest"]:
    """``T1``: impose the wall conditions on every channel of ``v`` (walls on axis 1).

    Dirichlet sets the row; Neumann/Robin solve their stencil for the wall row; periodic walls
    are both set to their average. ``halve`` divides the whole field by 2 afterwards (the
    reference's Neumann branches; see the module docstring). The two stencils never reach the
    other wall (checked in :func:`_walls`), so both wall values come from the incoming ``v``.
    """
    if walls[0].periodic:
        i0, i1 = walls[0].index[0], walls[1].index[0]
        avg = 0.5 * (v[:, i0] + v[:, i1])
        v = v.at[:, i0].set(avg).at[:, i1].set(avg)
    else:
        vals = []
        for w in walls:
            val = w.g.astype(v.dtype)
            for i, c in zip(w.index[1:], w.weights[1:]):
                val = val - c * v[:, i]
            vals.append(jnp.broadcast_to(val / w.weights[0], v[:, 0].shape))
        v = v.at[:, walls[0].index[0]].set(vals[0]).at[:, walls[1].index[0]].set(vals[1])
    return 0.5 * v if halve else v


# --- exact elimination -----------------------------------------------------------------------
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


# --- faithful (published code) elimination ---------------------------------------------------
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


def _faithful_branch(layer, v, kind, walls, grid, n, spectral, n_dim):
    """One branch ``T1 K T2 v`` as the published code computes it (walls at rows 0, n-1)."""
    c = v.shape[0]
    rows = (0, n - 1)
    is_conv = isinstance(layer, SpectralConv)
    full = (lambda z: layer(z, spectral)) if is_conv else layer
    kv = full(v)
    if kind == "periodic":
        return enforce(kv, walls)
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
    out = enforce(out, walls, halve=kind == "neumann")
    if kind == "dirichlet" and n_dim == 2:
        out = _mollify(out, n)
    return out


def _mollify(v, n, num_smooth: int = 5):
    """The reference's 2-D Dirichlet smoothing of the rows next to each wall (axis 1, walls at
    rows 0 and n-1): rows 1..ns-1 and n-ns..n-2 become 3-point averages of the old values."""
    ns = num_smooth
    left = (v[:, 0:ns - 1] + v[:, 1:ns] + v[:, 2:ns + 1]) / 3
    v = v.at[:, 1:ns].set(left)
    right = (v[:, n - ns - 1:n - 2] + v[:, n - ns:n - 1] + v[:, n - ns + 1:n]) / 3
    return v.at[:, n - ns:n - 1].set(right)


# --- the wrapper ------------------------------------------------------------------------------
def _kind(bc) -> str:
    if isinstance(bc, Periodic):
        return "periodic"
    if isinstance(bc, Dirichlet):
        return "dirichlet"
    return "neumann"  # Neumann and Robin share the stencil path


class BOON(eqx.Module):
    """An FNO whose predictions satisfy boundary conditions on the walls of grid axis 0 exactly.

    Args:
        fno: the :class:`physcon.models.FNO` to wrap (its parameters are BOON's parameters).
        left, right: conditions at ``x = domain[0]`` and ``x = domain[1]`` (Dirichlet, Neumann,
            Robin, or Periodic on both).
        mode: ``"exact"`` or ``"faithful"`` (see the module docstring).
        per_layer: correct every Fourier layer (BOON); ``False`` keeps only the output
            enforcement (the ablation "overwrite only").
        domain: the node grid of axis 0 is ``linspace(*domain, n)`` (walls included); it
            sets the spacing of Neumann/Robin stencils.

    Call ``boon(a, t=None, *, left=None, right=None, spectral=None)`` on one sample
    ``a: (in_channels, *grid)`` (as the FNO; ``jax.vmap`` for batches) ->
    ``(out_channels, *grid)``. ``t``: where time-dependent values are evaluated (a scalar, or
    ``(grid[-1],)`` for a model over ``(x, t)``); ``left``/``right``: arrays overriding the
    values, broadcastable to ``grid[1:]``.
    """

    fno: FNO
    left: Dirichlet | Neumann | Robin | Periodic
    right: Dirichlet | Neumann | Robin | Periodic
    mode: str = eqx.field(static=True, default="exact")
    per_layer: bool = eqx.field(static=True, default=True)
    domain: tuple[float, float] = eqx.field(static=True, default=(0.0, 1.0))

    def __init__(self, fno: FNO, *, left, right, mode: Literal["exact", "faithful"] = "exact",
                 per_layer: bool = True, domain: Sequence[float] = (0.0, 1.0)):
        if not isinstance(fno, FNO):
            raise ValueError(f"fno must be a physcon.models.FNO, got {type(fno).__name__}")
        check_pair(left, right)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if not isinstance(per_layer, bool):
            raise ValueError(f"per_layer must be a bool, got {per_layer!r}")
        domain = tuple(float(v) for v in domain)
        if len(domain) != 2 or not (np.isfinite(domain).all() and domain[1] > domain[0]):
            raise ValueError(f"domain must be (a, b) with finite a < b, got {domain!r}")
        if mode == "faithful" and (isinstance(left, Robin) or isinstance(right, Robin)):
            raise ValueError("mode='faithful' reproduces the published code, which has no Robin condition")
        if mode == "faithful" and _kind(left) != _kind(right):
            raise ValueError("mode='faithful' needs the same condition type on both walls (as the published code)")
        self.fno, self.left, self.right = fno, left, right
        self.mode, self.per_layer, self.domain = mode, per_layer, domain

    def __call__(self, a: Float[Array, "in_channels *grid"], t: ArrayLike | None = None, *,
                 left: ArrayLike | None = None, right: ArrayLike | None = None,
                 spectral: Literal["fft", "dft", "auto"] | None = None) -> Float[Array, "out_channels *grid"]:
        fno = self.fno
        spectral = fno.spectral if spectral is None else spectral
        a = jnp.asarray(a)
        if a.ndim != fno.n_dim + 1 or a.shape[0] != fno.in_channels:
            raise ValueError(
                f"a must have shape (in_channels={fno.in_channels}, *grid) with n_dim={fno.n_dim} "
                f"grid axes, got {a.shape}")
        if not jnp.issubdtype(a.dtype, jnp.floating):
            a = a.astype(fno.lifting[0].weight.dtype)
        a = eqx.error_if(a, ~jnp.all(jnp.isfinite(a)), "a must be finite")
        grid = tuple(a.shape[1:])
        if grid[0] < 3:
            raise ValueError(f"BOON needs at least 3 nodes along axis 0, got {grid[0]}")
        walls = _walls(self.left, self.right, grid[0], self.domain, (left, right), t, grid[1:], a.dtype)
        pads = fno.pad_sizes(grid)
        grid_p = tuple(n + p for n, p in zip(grid, pads))
        hidden = _pad_walls(walls, pads)
        kind = _kind(self.left)
        mask = None  # the published code skips the wall rows in GELU in 2-D/3-D
        if kind != "periodic" and self.mode == "faithful" and fno.n_dim > 1:
            mask = jnp.ones(grid_p[0], bool).at[0].set(False).at[grid[0] - 1].set(False)

        def act(v, m):
            g = fno._act(v)
            if m is None:
                return g
            return jnp.where(m.reshape((1, -1) + (1,) * (v.ndim - 2)), g, v)

        x = a
        if fno.grid:
            coords = jnp.meshgrid(*(jnp.linspace(0.0, 1.0, n, dtype=a.dtype) for n in grid), indexing="ij")
            x = jnp.concatenate([x, jnp.stack(coords)], axis=0)
        v = fno._mlp(fno.lifting, x)
        if any(pads):
            v = jnp.pad(v, [(0, 0)] + [(0, p) for p in pads])
        rows = (0, grid[0] - 1)
        for i, (conv, w) in enumerate(zip(fno.spectral_convs, fno.pointwise)):
            if not self.per_layer:
                v = conv(v, spectral) + w(v)
            elif self.mode == "faithful":
                v = (_faithful_branch(conv, v, kind, hidden, grid_p, grid[0], spectral, fno.n_dim)
                     + _faithful_branch(w, v, kind, hidden, grid_p, grid[0], spectral, fno.n_dim))
            else:
                if kind == "periodic":
                    kv = conv(v, spectral)
                else:
                    kv = _corrected_conv(conv, _factor(conv, grid_p, rows, v.dtype), v, rows, grid_p, spectral)
                v = kv + w(v)
                # T1 after the activation: the next layer sees walls that satisfy the condition
                v = enforce(fno._act(v) if i < fno.n_layers - 1 else v, hidden)
                continue
            if i < fno.n_layers - 1:
                v = act(v, mask if self.per_layer else None)
        if any(pads):
            v = v[(slice(None), *(slice(0, n) for n in grid))]
        proj_mask = None if (mask is None or not self.per_layer) else mask[: grid[0]]
        for j, layer in enumerate(fno.projection):
            v = layer(v)
            if j < len(fno.projection) - 1:
                v = act(v, proj_mask)
        v = enforce(v, walls)
        if self.mode == "faithful" and self.per_layer and kind == "dirichlet" and fno.n_dim == 2:
            v = enforce(_mollify(v, grid[0]), walls)
        return v
