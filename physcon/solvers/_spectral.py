"""Shared spectral numerics of the node-grid solvers (heat, Burgers, wave, cavity).

* **Bases** that diagonalise the second-order 3-point Laplacian exactly on a node grid with the
  walls included: the DCT-I basis ``cos(j pi i / m)`` (Neumann walls, half cells; eigenvalues
  ``-(4/h^2) sin^2(j pi / 2m)``, ``m = n - 1``) and the DST-I basis ``sin(j pi i / m)`` on the
  interior (Dirichlet walls), so linear diffusion and waves are integrated exactly in time.
* **Fast DST-I** (:func:`dst1`): the dense matmul, the even/odd split into two half-size
  matmuls, or the FFT of the odd extension, picked by size (the cavity's Poisson solve).
* **Exponential integrators** for ``a' = lam a + N(a)`` with a diagonal ``lam``: the ETD2
  ``phi`` functions and integrating-factor RK4, with the RK4 stability bound used to count
  substeps for explicit advection.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from physcon.solvers._checks import _dtype

# RK4's stability region reaches 2.83 on the imaginary axis; keep a margin.
_RK4_IMAG_LIMIT = 2.0


# --- bases -------------------------------------------------------------------------------------
def _dct1_basis(n: int):
    """``V[i, j] = cos(j pi i / m)``, its inverse and ``sin^2(j pi / (2 m))``, ``m = n - 1``."""
    m = n - 1
    i = np.arange(n)
    V = np.cos(np.pi * np.outer(i, i) / m)
    c = np.ones(n)
    c[0] = c[-1] = 0.5
    Vinv = (2.0 / m) * (c[:, None] * V.T * c[None, :])
    s2 = np.sin(np.pi * i / (2 * m)) ** 2
    return V, Vinv, s2


def _dst1_basis(n: int):
    """Interior sine basis ``S[i, j] = sin(j pi i / m)``, ``i, j = 1..m-1``, ``m = n - 1``."""
    m = n - 1
    i = np.arange(1, m)
    S = _dst_matrix(n - 2)
    return S, (2.0 / m) * S, np.sin(np.pi * i / (2 * m)) ** 2


# --- fast DST-I ----------------------------------------------------------------------------------
#: ``method="auto"`` picks, by the transform length ``m`` (measured on a 2-core CPU, float32,
#: ``benchmarks/cavity_throughput.py --dst``): the dense DST-I matmul for ``m <= 96``, the
#: even/odd split matmul (half the flops) up to ``m <= 600``, the FFT of the odd extension above.
DST_MATMUL_MAX = 96
DST_SPLIT_MAX = 600
METHODS = ("auto", "matmul", "split", "fft")


@lru_cache(maxsize=None)
def _dst_matrix(m: int) -> np.ndarray:
    k = np.arange(1, m + 1)
    return np.sin(np.pi * np.outer(k, k) / (m + 1))


@lru_cache(maxsize=None)
def _split_matrices(m: int) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of the DST-I matrix under ``j -> m + 1 - j`` (``S[M-j, k] = (-1)^(k+1)
    S[j, k]``, ``M = m + 1``): ``A1[j, i] = sin(pi j (2i - 1) / M)`` (odd frequencies, ``j, i =
    1..ceil(m/2)``) and ``A2[j, i] = sin(pi j 2i / M)`` (even, ``j, i = 1..floor(m/2)``)."""
    M, p, q = m + 1, (m + 1) // 2, m // 2
    j1, j2 = np.arange(1, p + 1), np.arange(1, q + 1)
    return np.sin(np.pi * np.outer(j1, 2 * j1 - 1) / M), np.sin(np.pi * np.outer(j2, 2 * j2) / M)


def _split_perm(m: int) -> np.ndarray:
    """Order of the split transform's output: odd frequencies ``1, 3, ...`` then even ``2, 4, ...``."""
    return np.r_[np.arange(0, m, 2), np.arange(1, m, 2)]


def _pairs(x, axis):
    """``(x_j + x_{M-j}, x_j - x_{M-j})`` along ``axis`` (-1 or -2); the middle node (odd ``m``)
    goes with the sums."""
    m = x.shape[axis]
    q = m // 2
    take = lambda a, b: jax.lax.slice_in_dim(x, a, b, axis=axis)  # noqa: E731
    lo, hi = take(0, q), jnp.flip(take(m - q, m), axis)
    s = lo + hi
    if m % 2:
        s = jnp.concatenate([s, take(q, q + 1)], axis=axis)
    return s, lo - hi


def _unpairs(a, b, axis):
    """Inverse of :func:`_pairs`'s layout: natural order from ``a`` (sums' part) and ``b``."""
    q = b.shape[axis]
    lo = jax.lax.slice_in_dim(a, 0, q, axis=axis)
    parts = [lo + b, jax.lax.slice_in_dim(a, q, a.shape[axis], axis=axis), jnp.flip(lo - b, axis)]
    return jnp.concatenate(parts, axis=axis)


def _dst_split(x, axis, inverse, mats):
    """DST-I along ``axis`` (-1 or -2) by the even/odd split; the forward output (and the
    inverse's input) is in :func:`_split_perm` order."""
    A1, A2 = mats
    p = A1.shape[0]
    last = axis == -1
    if not inverse:
        s, d = _pairs(x, axis)
        ys = (s @ A1, d @ A2) if last else (A1.T @ s, A2.T @ d)
        return jnp.concatenate(ys, axis=axis)
    ya, yb = (x[..., :p], x[..., p:]) if last else (x[..., :p, :], x[..., p:, :])
    a, b = (ya @ A1.T, yb @ A2.T) if last else (A1 @ ya, A2 @ yb)
    return _unpairs(a, b, axis)


def _dst_fft_last(x):
    m = x.shape[-1]
    zero = jnp.zeros(x.shape[:-1] + (1,), x.dtype)
    ext = jnp.concatenate([zero, x, zero, -x[..., ::-1]], axis=-1)  # odd extension, length 2(m+1)
    return -0.5 * jnp.fft.rfft(ext, axis=-1)[..., 1 : m + 1].imag.astype(x.dtype)


def _method(method, m):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        return "matmul" if m <= DST_MATMUL_MAX else "split" if m <= DST_SPLIT_MAX else "fft"
    return method


def dst1(x: Float[Array, "..."], axis: int = -1, method: str = "auto") -> Float[Array, "..."]:
    """Unnormalised DST-I along ``axis``: ``X_k = sum_{j=1}^{m} x_j sin(pi j k / (m + 1))``,
    ``k = 1..m``; its own inverse up to the factor ``2 / (m + 1)``.

    ``method``: ``"matmul"`` (the ``m x m`` DST-I matrix, ``2 m^2`` flops per line),
    ``"split"`` (the even/odd split ``x_j +- x_{m+1-j}`` into two half-size matmuls, half the
    flops), ``"fft"`` (a real FFT of the length-``2(m+1)`` odd extension) or ``"auto"`` (by
    size, see :data:`DST_MATMUL_MAX`, :data:`DST_SPLIT_MAX`). All agree to round-off.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(_dtype(None))
    return _dst1(x, int(axis), _method(method, x.shape[axis]))


@partial(jax.jit, static_argnums=(1, 2))
def _dst1(x, axis, method):
    m = x.shape[axis]
    x = jnp.moveaxis(x, axis, -1)
    if method == "matmul":
        y = jnp.matmul(x, jnp.asarray(_dst_matrix(m), x.dtype))
    elif method == "split":
        mats = tuple(jnp.asarray(a, x.dtype) for a in _split_matrices(m))
        y = _dst_split(x, -1, False, mats)[..., np.argsort(_split_perm(m))]
    else:
        y = _dst_fft_last(x)
    return jnp.moveaxis(y, -1, axis)


# --- exponential integrators -------------------------------------------------------------------
def _phi12(z):
    """``phi1 = (e^z - 1)/z`` and ``phi2 = (e^z - 1 - z)/z^2`` (z <= 0), stable near 0."""
    small = jnp.abs(z) < 1e-2
    zs = jnp.where(small, -1.0, z)
    phi1 = jnp.where(small, 1 + z / 2 + z**2 / 6 + z**3 / 24 + z**4 / 120, jnp.expm1(zs) / zs)
    phi2 = jnp.where(
        small, 0.5 + z / 6 + z**2 / 24 + z**3 / 120 + z**4 / 720, (jnp.expm1(zs) - zs) / zs**2
    )
    return phi1, phi2


def _ifrk4(a0, lam, nonlin, t, t0, substeps, dtype):
    """Integrating-factor RK4 (Lawson) for ``a' = lam a + nonlin(a)`` from ``a(t0) = a0``: the
    linear part exact, ``substeps`` (static) equal steps per output interval; returns ``a`` at
    the times ``t``, shape ``(nt, *a0.shape)``."""
    def interval(carry, t_end):
        a, s = carry
        dt = (t_end - s) / substeps
        E, E2 = jnp.exp(lam * dt), jnp.exp(lam * dt / 2)

        def step(_, a):
            k1 = nonlin(a)
            k2 = nonlin(E2 * (a + dt / 2 * k1))
            k3 = nonlin(E2 * a + dt / 2 * k2)
            k4 = nonlin(E * a + dt * E2 * k3)
            return E * a + dt / 6 * (E * k1 + 2 * E2 * (k2 + k3) + k4)

        a = jax.lax.fori_loop(0, substeps, step, a)
        return (a, t_end), a

    _, out = jax.lax.scan(interval, (a0, jnp.asarray(t0, dtype)), t)
    return out


def _max_dt(t, t0, substeps):
    """The longest substep over the output intervals ``[t0, t_0], [t_0, t_1], ...``."""
    return jnp.max(jnp.diff(t, prepend=jnp.asarray(t0, t.dtype))) / substeps


def _auto_substeps(t, t0, umax: float, kmax: float) -> int:
    """The fewest IF-RK4 substeps per output interval that keep explicit advection at speed
    ``<= umax`` and wavenumber ``<= kmax`` inside :data:`_RK4_IMAG_LIMIT` (10% margin)."""
    dt_stable = _RK4_IMAG_LIMIT / max(umax * kmax, 1e-300)
    longest = float(np.max(np.diff(np.asarray(t, float), prepend=t0)))
    return max(1, math.ceil(longest / (0.9 * dt_stable)))
