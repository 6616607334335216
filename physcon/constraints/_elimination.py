"""BOON's exact elimination of the wall rows of a spectral convolution (``T2``, exact mode)."""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from physcon.models.fno import SpectralConv, _dft_forward, _dft_inverse, _synthesize_axes
from physcon.models.fno_layers import _fwd_axis


def _profiles(n_p: int, rows, width: float) -> np.ndarray:
    """The two wall profiles ``b: (2, n_p)`` of the smooth correction (``width`` given):
    ``b_L(s) = exp(-s^2 / (2 w^2))`` and ``b_R(s) = b_L(1 - s)`` at the node positions
    ``s_j = j / (n - 1)`` (fractions of the x extent, ``n = rows[1] + 1`` nodes, zero on the padding).
    A function of ``s``, so the same correction at every grid spacing."""
    n = int(rows[1]) + 1
    sj = np.arange(n) / (n - 1)
    b = np.zeros((2, n_p))
    b[0, :n] = np.exp(-0.5 * (sj / width) ** 2)
    b[1, :n] = np.exp(-0.5 * ((1.0 - sj) / width) ** 2)
    return b


def _fwd_rows(conv, grid, rows, width):
    """The kept-mode DFT along x of what the correction adds, ``(2, K)`` (cos, -sin parts): the
    impulses at ``rows`` (``width is None``) or the profiles of :func:`_profiles`."""
    fr, fi = _dft_forward(grid[0], conv.modes[0], conv.n_dim == 1)
    if width is None:
        return fr[np.asarray(rows)], fi[np.asarray(rows)]
    b = _profiles(grid[0], rows, width)
    return b @ fr, b @ fi


def _correction_spectrum(conv, delta, grid, rows, width):
    """Kept spectrum of the correction field with wall amplitudes ``delta: (C, 2, *rest)``."""
    if width is None:
        return conv.spectrum(delta, grid=grid, rows=rows)
    d, dtype = conv.n_dim, delta.dtype
    fwd = [_dft_forward(n, m, a == d - 1) for a, (n, m) in enumerate(zip(grid, conv.modes))]
    fwd[0] = _fwd_rows(conv, grid, rows, width)
    xr, xi = _fwd_axis(delta, None, fwd[-1], d, dtype)
    for a in range(d - 1):
        xr, xi = _fwd_axis(xr, xi, fwd[a], a + 1, dtype)
    return xr, xi

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


def _transfer(conv: SpectralConv, grid, rows, dtype, width=None):
    """``A_BB``: the layer's response at the wall rows to impulses at the wall rows.

    Returns ``(F, 2C, 2C)`` (complex, one block per mode of the other axes) or ``(2C, 2C)``
    (real, 1-D), index ``side * C + channel`` on both sides. Closed form: the impulse at row
    ``s`` has the spectrum ``E[s, k] = exp(-2 pi i k s / n)``, read back at row ``r`` through
    the inverse weights ``G[k, r]``, so along ``x`` the response is ``sum_k R[i, o, k] P[s, r, k]``
    with ``P = E G``; the other axes are synthesised and transformed back to their modes.
    With ``width``, the response to the wall profiles ``b_s`` (:func:`_profiles`) instead of
    the impulses: ``E[s, k]`` is then the DFT of ``b_s`` (``M = (A b)_B``).
    """
    d = conv.n_dim
    rows = np.asarray(rows)
    fr, fi = _fwd_rows(conv, grid, rows, width)
    gr, gi = _dft_inverse(grid[0], conv.modes[0], d == 1)
    p = (fr + 1j * fi)[:, None, :] * (gr[:, rows] + 1j * gi[:, rows]).T[None]  # (s, r, k)
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


def _eliminate(conv: SpectralConv, fac, v, kv_rows, rows, grid, width=None):
    """``Delta_B``, shape ``(C, 2, *rest)``, added to the wall rows of the layer input.

    ``fac = (X, A)`` from :func:`_factor`. Exact (``A is None``, ``X = A_BB^{-1}``):
    ``Delta_B = x_B - X (A x)_B``, so that ``z_B = x_B - A_BB^{-1} A_BI x_I``. Regularised:
    ``Delta_B = -X A_BI x_I = -X ((A x)_B - A_BB x_B)``, the same formula with the damped
    inverse (equal to the exact one when ``X = A_BB^{-1}``). Smooth correction (``width``):
    ``Delta = -X (A x)_B`` with ``X ~ M^{-1}``, ``M = (A b)_B``, so that the kernel's wall
    outputs ``(A (x + b Delta))_B`` vanish (exactly with the exact inverse)."""
    inv, a = fac
    if width is not None:
        a = None
    c = v.shape[0]
    vb = v[:, np.asarray(rows)]
    if conv.n_dim == 1:
        rhs = jnp.transpose(kv_rows, (1, 0)).reshape(2 * c)
        if width is not None:
            return -jnp.transpose((inv @ rhs).reshape(2, c), (1, 0))
        if a is None:
            return vb - jnp.transpose((inv @ rhs).reshape(2, c), (1, 0))
        rhs = rhs - a @ jnp.transpose(vb, (1, 0)).reshape(2 * c)
        return -jnp.transpose((inv @ rhs).reshape(2, c), (1, 0))
    rest, mrest = tuple(grid[1:]), conv.modes[1:]
    vf = _rest_fwd(vb, rest, mrest)                      # (C, 2, F)
    kf = _rest_fwd(kv_rows, rest, mrest)
    rhs = jnp.transpose(kf, (2, 1, 0)).reshape(kf.shape[-1], 2 * c)
    vmod = jnp.transpose(vf, (2, 1, 0)).reshape(vf.shape[-1], 2 * c)
    if a is not None:
        rhs = rhs - jnp.einsum("fij,fj->fi", a, vmod)
    sol = jnp.einsum("fij,fj->fi", inv, rhs)              # (F, 2C)
    sol = jnp.transpose(sol.reshape(-1, 2, c), (2, 1, 0))
    active = _rest_modes(rest, mrest)[1]
    delta = -sol if (a is not None or width is not None) else vf - sol
    return _rest_inv(jnp.where(active, delta, 0), (c, 2), rest, mrest).astype(v.dtype)


@jax.custom_jvp
def _inverse(a):
    return jnp.linalg.inv(a)


@_inverse.defjvp
def _inverse_jvp(primals, tangents):
    # d(A^-1) = -A^-1 dA A^-1: two small matmuls, much cheaper than differentiating the LU
    (a,), (da,) = primals, tangents
    x = _inverse(a)
    return x, -x @ da @ x


def _scale(a):
    """``||A||_F`` per block: the reference size of the damping. Smooth (unlike ``sigma_max``,
    whose SVD and its derivative tripled the cost of a training step) and within a factor
    ``sqrt(2C)`` of ``sigma_max``, never below it."""
    return jnp.sqrt(jnp.sum(jnp.real(a * jnp.conj(a)), axis=(-2, -1)))


def _damped_inverse(a, rcond):
    """``(A^H A + lam I)^{-1} A^H`` per block, ``lam = (rcond ||A||_F)^2`` (Tikhonov).

    The Hermitian positive definite ``M = A^H A + lam I`` has its spectrum in ``[lam, s]``,
    ``s = ||A||_F^2 + lam``, so ``cond(M) <= 1 + 1 / rcond^2`` (101 at the default ``rcond =
    0.1``); it is inverted by :func:`_hpd_inverse` (Newton-Schulz: matmuls only, no LAPACK;
    12 steps at ``rcond = 0.1`` in float32), or by LU where that would take over ``_NS_MAX`` steps.
    Its gain is ``||X|| ||A|| <= 1 / (2 rcond)``. (LAPACK's batched LU, used before, deadlocks
    XLA's CPU thread pool when two layers' factorisations run concurrently on a 2-thread pool:
    both workers wait in ``ParallelBatchMap`` for sub-tasks no thread is left to run; seen as
    a random hang of a jitted ``(x, t)`` grad step, benchmarks/boon_exact_multistep_step.py.)"""
    n = a.shape[-1]
    f2 = _scale(a) ** 2
    mu2 = rcond ** 2 * f2
    ah = jnp.conj(jnp.swapaxes(a, -1, -2))
    eye = jnp.broadcast_to(jnp.eye(n, dtype=a.dtype), a.shape)
    m = ah @ a + mu2[..., None, None] * eye
    iters = _ns_iterations(rcond, jnp.finfo(jnp.real(a).dtype).eps)
    if iters > _NS_MAX:  # tiny rcond (near the exact inverse): LU of the normal equations
        return _inverse(m) @ ah
    return _hpd_inverse(m, mu2, f2 + mu2, iters) @ ah


#: most Newton-Schulz steps before :func:`_damped_inverse` falls back to LU (``rcond`` below
#: about ``3e-4`` in float32, ``2e-4`` in float64)
_NS_MAX = 30


def _ns_iterations(rcond, eps):
    """Newton-Schulz steps that bring the residual ``r0^(2^k)`` of :func:`_hpd_inverse` from
    ``r0 = (kappa - 1) / (kappa + 1)`` (``kappa = 1 + 1/rcond^2``) below ``eps``, plus 2."""
    kappa = 1.0 + 1.0 / rcond ** 2
    r0 = (kappa - 1.0) / (kappa + 1.0)
    if not r0 < 1.0:
        return 10 ** 6
    return int(np.ceil(np.log2(np.log(float(eps)) / np.log(r0)))) + 2


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _hpd_inverse(m, lo, hi, iters):
    """``M^{-1}`` of Hermitian positive definite blocks ``M: (..., n, n)`` with spectrum in
    ``[lo, hi]`` (per block): Newton-Schulz ``X <- X (2 I - M X)`` from ``X0 = 2 / (lo + hi) I``,
    whose residual ``I - M X`` squares every step. Derivative ``-X dM X`` (``lo``, ``hi`` only
    scale the start)."""
    n = m.shape[-1]
    eye = jnp.eye(n, dtype=m.dtype)
    x = (2.0 / (lo + hi))[..., None, None].astype(m.dtype) * jnp.broadcast_to(eye, m.shape)
    for _ in range(iters):
        x = x @ (2 * eye - m @ x)
    return x


@_hpd_inverse.defjvp
def _hpd_inverse_jvp(iters, primals, tangents):
    m, lo, hi = primals
    x = _hpd_inverse(m, lo, hi, iters)
    return x, -x @ tangents[0] @ x


def _checked(x, a, rcond):
    """``x`` unchanged, or an error (``eqx.error_if``, eagerly and under ``jit``) naming the wall
    block: ``A_BB`` non-finite (NaN/inf spectral weights), or its inverse non-finite or of
    gain ``||X||_F ||A_BB||_F > 1 / eps`` (``A_BB`` singular to working precision)."""
    fro = lambda m: jnp.sqrt(jnp.sum(jnp.real(m * jnp.conj(m)), axis=(-2, -1)))  # noqa: E731
    x = eqx.error_if(x, ~jnp.all(jnp.isfinite(a)),
                     "BOON exact mode: the wall block A_BB is not finite (NaN/inf in the spectral weights)")
    eps = jnp.finfo(jnp.real(a).dtype).eps
    singular = ~jnp.all(jnp.isfinite(x)) | jnp.any(fro(x) * fro(a) > 1 / eps)
    hint = "use rcond > 0 (the damped elimination)" if not rcond else "the layer's wall response vanishes"
    return eqx.error_if(x, singular, f"BOON exact mode: the wall block A_BB is singular to working precision; {hint}")


def _factor(conv, grid, rows, dtype, rcond=0.0, width=None):
    """``(X, A)``: ``X = A_BB^{-1}`` and ``A = None`` when ``rcond == 0`` (exact elimination), else
    the damped inverse of :func:`_damped_inverse` and ``A = A_BB`` (one small matrix per kept
    mode). Independent of the sample, so under ``jax.vmap`` it is computed once per batch.
    A non-finite or singular ``A_BB`` is an error (:func:`_checked`)."""
    a = _transfer(conv, grid, rows, dtype, width)
    if not rcond:
        return _checked(_inverse(a), a, rcond), None
    return _checked(_damped_inverse(a, rcond), a, rcond), a


def conditioning(conv, grid, rows, dtype, rcond=0.0, width=None) -> dict:
    """Singular-value summary of ``A_BB`` over its active modes: ``cond`` (``sigma_max / sigma_min``,
    what the exact elimination inverts), ``cond_regularised`` (``||X||_2 ||A_BB||_2``, the gain
    of what the elimination actually applies: ``cond`` when ``rcond == 0``, ``<= 1 / (2 rcond)``
    otherwise) and ``sigma_max``, each a NumPy array ``(F,)`` (``F = 1`` in 1-D)."""
    a = _transfer(conv, grid, rows, dtype, width)
    a = a[None] if a.ndim == 2 else a[_rest_modes(tuple(grid[1:]), conv.modes[1:])[1]]
    s = np.asarray(jnp.linalg.svd(a, compute_uv=False))
    lam = (rcond * np.asarray(_scale(a)))[:, None] ** 2
    gain = s[:, 0] * np.max(s / (s ** 2 + lam), axis=1)
    return {"cond": s[:, 0] / s[:, -1], "cond_regularised": gain, "sigma_max": s[:, 0]}


def decouple(conv: SpectralConv, v: Float[Array, "c n *rest"], rows: tuple[int, int] | None = None,
             *, spectral: str = "auto", rcond: float = 0.0, width: float | None = None) -> Float[Array, "c n *rest"]:
    """``A T2 v``: the spectral convolution with its wall rows eliminated (exact mode).

    The output's rows ``rows`` (default the two ends of axis 1) depend only on ``v``'s rows
    ``rows`` (to round-off), in every channel, for any multi-channel layer. ``rcond > 0`` damps
    the elimination (:func:`_damped_inverse`): the interior coupling of the wall rows is then
    removed only along the singular directions of ``A_BB`` well above ``rcond ||A_BB||_F``.
    ``width`` (a fraction of the x extent): the correction is spread over the smooth wall
    profiles of :func:`_profiles` instead of the wall nodes, ``z = v + b Delta`` with
    ``Delta = -M^{-1} (A v)_B``, ``M = (A b)_B``: the output's wall rows are then zero (to
    round-off with ``rcond=0``), the same operator at every grid spacing.
    """
    grid = tuple(v.shape[1:])
    rows = (0, grid[0] - 1) if rows is None else tuple(rows)
    return _corrected_conv(conv, _factor(conv, grid, rows, v.dtype, rcond, width), v, rows, grid, spectral, width)


def _corrected_conv(conv, fac, v, rows, grid, spectral, width=None):
    yr, yi = conv.mix(*conv.spectrum(v, spectral=spectral))
    kv_rows = conv.synthesize(yr, yi, grid, rows=rows)
    delta = _eliminate(conv, fac, v, kv_rows, rows, grid, width)
    dr, di = conv.mix(*_correction_spectrum(conv, delta, grid, rows, width))
    return conv.synthesize(yr + dr, yi + di, grid, spectral=spectral)


def _corrected_input(conv, fac, v, rows, grid, spectral, width=None):
    """``T2 v``: ``v`` with its wall rows (of grid axis 0) replaced so that the layer's output
    rows ``rows`` depend only on ``v``'s rows ``rows``. Costs one forward pass of the layer;
    used where two eliminations are chained (walls on two axes)."""
    yr, yi = conv.mix(*conv.spectrum(v, spectral=spectral))
    kv_rows = conv.synthesize(yr, yi, grid, rows=rows)
    delta = _eliminate(conv, fac, v, kv_rows, rows, grid, width)
    if width is None:
        return v.at[:, np.asarray(rows)].add(delta)
    b = jnp.asarray(_profiles(grid[0], rows, width), v.dtype)
    return v + jnp.einsum("sj,cs...->cj...", b, delta)


def transpose_xy(conv: SpectralConv) -> SpectralConv:
    """The layer acting on fields with grid axes 0 and 1 swapped: ``transpose_xy(conv)(v.swapaxes(1, 2))
    == conv(v).swapaxes(1, 2)``; it lets the axis-0 elimination serve the walls of axis 1.

    Over ``(x, y, t)`` both axes carry the ``0..m-1, -m..-1`` layout (only the last axis is an
    rfft axis), so swapping the weights' axes and the mode counts is exact. Over ``(x, y)`` the
    y axis is the rfft axis, so the swapped layer keeps ``k_y`` in ``0..m_y-1, -m_y..-1`` and
    ``k_x`` in ``0..m_x`` (:func:`_transpose_2d`); exact on grids where neither layout reaches a
    Nyquist frequency (``2 m_x < n_x`` and ``2 (m_y - 1) < n_y``, checked by BOON)."""
    if conv.n_dim < 2:
        raise ValueError(f"transpose_xy needs a layer over (x, y) or (x, y, t), got {conv.n_dim} grid axis")
    out = object.__new__(SpectralConv)
    if conv.n_dim == 2:
        wr, wi = _transpose_2d(conv.weight_real, conv.weight_imag, *conv.modes)
        modes = (conv.modes[1], conv.modes[0] + 1)
    else:
        wr, wi = jnp.swapaxes(conv.weight_real, 2, 3), jnp.swapaxes(conv.weight_imag, 2, 3)
        modes = (conv.modes[1], conv.modes[0], *conv.modes[2:])
    object.__setattr__(out, "weight_real", wr)
    object.__setattr__(out, "weight_imag", wi)
    object.__setattr__(out, "modes", modes)
    return out


def _transpose_2d(wr, wi, mx, my):
    """Weights ``(in, out, 2 m_y, m_x + 1)`` of the swapped 2-D layer. The layer multiplies the
    full spectrum by ``M(k) = W(k)`` (``k_y > 0``), ``conj W(-k)`` (``k_y < 0``) and
    ``(W(k) + conj W(-k)) / 2`` (``k_y = 0``: irfft keeps the real part), ``W = 0`` off the kept
    set; the swapped layer stores ``M`` on its own half-spectrum ``k_x >= 0``, where its irfft
    (along x) takes the same real part at ``k_x = 0``, which ``M``'s symmetry leaves unchanged."""
    w = wr + 1j * wi                                                    # (i, o, 2 mx, my)
    zero = jnp.zeros_like(w[:, :, :1])
    pos = jnp.concatenate([w[:, :, :mx], zero], axis=2)                # W(kx, ky), kx = 0..mx
    neg = w[:, :, np.concatenate([[0], np.arange(2 * mx - 1, mx - 1, -1)])]   # W(-kx, ky)
    m0 = 0.5 * (pos[..., :1] + jnp.conj(neg[..., :1]))                  # ky = 0
    rows = [m0, pos[..., 1:], jnp.zeros_like(m0), jnp.conj(neg[..., 1:][..., ::-1])]  # ky: 0, 1.., -my, ..-1
    m = jnp.swapaxes(jnp.concatenate(rows, axis=-1), 2, 3)              # (i, o, 2 my, mx + 1)
    return jnp.real(m).astype(wr.dtype), jnp.imag(m).astype(wr.dtype)
