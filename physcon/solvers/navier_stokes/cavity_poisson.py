"""The lid-driven cavity's node grid and its Dirichlet Poisson solve (streamfunction from vorticity).

Non-dimensional units: lengths in the cavity side ``L``, velocities in the reference lid speed
``U_ref``, time in ``L / U_ref``, vorticity in ``U_ref / L``; ``Re = U_ref L / nu``, so the
kinematic viscosity is ``nu = 1 / Re``. On the unit square ``[0, 1]^2``::

    w_t + u w_x + v w_y = (1/Re) (w_xx + w_yy)          (vorticity transport)
    psi_xx + psi_yy = -w,   u = psi_y,   v = -psi_x        (so w = v_x - u_y, div u = 0)
    psi = 0 on all walls;   psi_n = 0 on x = 0, x = 1, y = 0;   psi_y = U(t) on the lid y = 1

Grid: ``n x n`` nodes including the walls, ``x_i = i h``, ``y_j = j h``, ``h = 1/(n - 1)``;
fields are arrays ``f[..., i, j] = f(x_i, y_j)`` (``indexing="ij"``: x is the first of the two
last axes; leading axes are a batch). The ``m = n - 2`` interior nodes per axis carry the
unknowns.

* **Poisson**: the 5-point Laplacian with ``psi = 0`` on the walls is diagonalised by the
  type-I discrete sine transform (DST-I) along each axis, eigenvalues
  ``-(4/h^2) (sin^2(pi k / 2(m+1)) + sin^2(pi l / 2(m+1)))``, ``k, l = 1..m``; the solve is
  two DST-I per axis and a division (:func:`poisson_dirichlet`), exact to round-off. When
  ``m + 1`` is a power of two (``n = 2^k + 1``: 65, 129, 257, ...) the default solve
  diagonalises only ``y`` (one forward and one inverse DST-I, as matmuls) and solves the ``m``
  resulting tridiagonal systems along ``x`` by cyclic reduction (``log2(m+1)`` vectorised
  levels): half the matmul flops of the two-axis transform, also exact to round-off.

The fast DST-I itself is :func:`physcon.solvers._spectral.dst1`; the wall closure, velocity and
transport are in :mod:`~physcon.solvers.navier_stokes.cavity_stencils`.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from physcon.solvers._checks import _dtype
from physcon.solvers._spectral import (
    DST_MATMUL_MAX, METHODS, _dst_matrix, _dst_split, _method, _split_matrices, _split_perm, dst1,
)

__all__ = ["MIN_NODES", "cavity_grid", "poisson_dirichlet", "poisson_interior", "dirichlet_laplacian", "pad_walls"]

Field = Float[Array, "*batch n n"]

#: Smallest supported grid (nodes per side, walls included): 3 x 3 interior nodes.
MIN_NODES = 5
#: The Poisson solve's methods: the DST-I's (:data:`physcon.solvers._spectral.METHODS`) and ``"cr"``.
#: ``"auto"`` prefers ``"cr"`` (one DST-I axis + cyclic reduction along the other, see
#: :func:`poisson_interior`) whenever ``m + 1`` is a power of two (``n = 2^k + 1``).
POISSON_METHODS = METHODS + ("cr",)


def check_nodes(n, name: str = "n") -> int:
    """``n`` as an int, or a ``ValueError`` naming ``name``: nodes per side, >= :data:`MIN_NODES`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < MIN_NODES:
        raise ValueError(f"{name} must be an int >= {MIN_NODES} (nodes per side, walls included), got {n!r}")
    return int(n)


def check_square(shape, name: str = "w0") -> int:
    """The side ``n`` of a field of shape ``(..., n, n)``, or a ``ValueError`` naming ``name``."""
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"{name} must be a square field of shape (*batch, n, n) on the cavity's node grid "
            f"(the solver needs a square grid), got shape {tuple(shape)}"
        )
    return check_nodes(int(shape[-1]), f"{name}'s side")


def cavity_grid(n: int, dtype=None) -> tuple[Float[Array, "n n"], Float[Array, "n n"]]:
    """The nodes ``(x, y)`` of the unit square, each ``(n, n)`` (``indexing="ij"``), walls
    included: ``x_i = i / (n - 1)``, ``y_j = j / (n - 1)``."""
    n = check_nodes(n)
    s = jnp.asarray(np.linspace(0.0, 1.0, n), _dtype(dtype))
    return jnp.meshgrid(s, s, indexing="ij")


# --- the Poisson solve --------------------------------------------------------------------------
def _cr_ok(m: int) -> bool:
    """Cyclic reduction needs ``m = 2^L - 1`` interior nodes (``n = 2^L + 1``)."""
    return m >= 3 and (m + 1) & m == 0


def _poisson_method(method, m):
    if method not in POISSON_METHODS:
        raise ValueError(f"method must be one of {POISSON_METHODS}, got {method!r}")
    if method == "cr" and not _cr_ok(m):
        raise ValueError(f'method="cr" needs n - 2 = 2^L - 1 interior nodes (n = 2^L + 1), got n = {m + 2}')
    if method == "cr" or (method == "auto" and _cr_ok(m)):
        return "cr"
    return _method(method, m)


def _inverse_eigenvalues(n: int, dtype, perm=None, sign: float = 1.0) -> Array:
    """``(2/(m+1))^2 / lambda_kl``: the scaled inverse eigenvalues of the Dirichlet 5-point
    Laplacian on the ``m x m`` interior (computed in float64, cast to ``dtype``), with both
    axes in ``perm`` order if given."""
    m, h = n - 2, 1.0 / (n - 1)
    s = np.sin(np.pi * np.arange(1, m + 1) / (2 * (m + 1))) ** 2
    if perm is not None:
        s = s[perm]
    lam = -(4.0 / h**2) * (s[:, None] + s[None, :])
    return jnp.asarray(sign * (2.0 / (m + 1)) ** 2 / lam, dtype)


@lru_cache(maxsize=None)
def _cr_tables(m: int):
    """Cyclic-reduction coefficients (float64) for the ``m`` tridiagonal systems
    ``x_{j-1} + b_k x_j + x_{j+1} = r_j`` (``j = 1..m``, ``x_0 = x_{m+1} = 0``), one per
    sine mode ``k`` of the other axis, ``b_k = -2 - 4 sin^2(pi k / 2(m+1))`` (``|b_k| > 2``:
    diagonally dominant, so the reduction is stable). Level ``l`` keeps the even-numbered
    equations, ``a' = -a^2/b``, ``b' = b - 2a^2/b``; returns ``[(a_l, b_l)]`` and the last ``b``."""
    mu = -4.0 * np.sin(np.pi * np.arange(1, m + 1) / (2 * (m + 1))) ** 2
    a, b = np.ones(m), mu - 2.0
    levels = []
    for _ in range(int(round(math.log2(m + 1))) - 1):
        levels.append((a, b))
        a, b = -a * a / b, b - 2 * a * a / b
    return tuple(levels), b


def _cyclic_reduction(r, levels, b_last, perm):
    """Solve the tridiagonal systems of :func:`_cr_tables` along axis ``-2`` of ``r``
    (``(*batch, m, m)``, one system per column ``k``; columns in ``perm`` order), vectorised over
    the columns: ``log2(m+1) - 1`` reduction levels (strided row slices), then back-substitution."""
    dt, m = r.dtype, r.shape[-1]
    col = lambda v: jnp.asarray(v[perm], dt)  # noqa: E731
    rs = []
    for a, b in levels:
        rs.append(r)
        r = r[..., 1::2, :] - col(a / b) * (r[..., 0:-1:2, :] + r[..., 2::2, :])
    x = r * col(1.0 / b_last)
    for (a, b), r in zip(reversed(levels), reversed(rs)):
        zero = jnp.zeros(x.shape[:-2] + (1, m), dt)
        xp = jnp.concatenate([zero, x, zero], axis=-2)
        xo = (r[..., 0::2, :] - col(a) * (xp[..., :-1, :] + xp[..., 1:, :])) * col(1.0 / b)
        inter = jnp.stack([xo[..., :-1, :], x], axis=-2).reshape(x.shape[:-2] + (2 * x.shape[-2], m))
        x = jnp.concatenate([inter, xo[..., -1:, :]], axis=-2)
    return x


def _poisson_cr(f, sign):
    """``lap_h psi = sign f``: DST-I along the last axis (``y``; dense or even/odd split matmul by
    :data:`DST_MATMUL_MAX`), then per sine mode a tridiagonal solve along ``x`` by cyclic
    reduction, then the inverse DST-I. ``4 m^3`` (dense) or ``2 m^3`` (split) matmul flops plus
    ``O(m^2)``, against ``8 m^3`` / ``4 m^3`` for the two-axis DST."""
    m, dt = f.shape[-1], f.dtype
    h = 1.0 / (m + 1)
    scale = sign * h * h * 2.0 / (m + 1)  # h^2 of the 1-D systems, 2/(m+1) of the inverse DST
    levels, b_last = _cr_tables(m)
    if m <= DST_MATMUL_MAX:
        S = _dst_matrix(m)
        x = _cyclic_reduction(f @ jnp.asarray(scale * S, dt), levels, b_last, np.arange(m))
        return x @ jnp.asarray(S, dt)
    A1, A2 = _split_matrices(m)
    q, p = m // 2, m - m // 2
    lo, hi = f[..., :q], jnp.flip(f[..., m - q :], -1)
    s = jnp.concatenate([lo + hi, f[..., q : q + 1]], axis=-1) if m % 2 else lo + hi
    r = jnp.concatenate([s @ jnp.asarray(scale * A1, dt), (lo - hi) @ jnp.asarray(scale * A2, dt)], axis=-1)
    x = _cyclic_reduction(r, levels, b_last, _split_perm(m))
    u, v = x[..., :p] @ jnp.asarray(A1.T, dt), x[..., p:] @ jnp.asarray(A2.T, dt)
    ul = u[..., :q]
    return jnp.concatenate([ul + v, u[..., q:], jnp.flip(ul - v, -1)], axis=-1)


def poisson_interior(f, method: str = "auto", sign: float = 1.0):
    """Solve ``lap_h psi = sign * f`` on the ``(m, m)`` interior with ``psi = 0`` on the
    walls; ``f`` and the result are interior arrays ``(*batch, m, m)``. (``sign = -1``:
    ``psi`` from the vorticity, the sign folded into the eigenvalue table.)

    ``method``: ``"matmul"``, ``"split"``, ``"fft"`` (DST-I along both axes, :func:`dst1`), or
    ``"cr"`` (DST-I along ``y``, cyclic reduction along ``x``; needs ``m = 2^L - 1``), or
    ``"auto"`` (``"cr"`` when possible, else by size). All agree to round-off."""
    m = f.shape[-1]
    method = _poisson_method(method, m)
    if method == "cr":
        return _poisson_cr(f, sign)
    if method == "split":
        mats = tuple(jnp.asarray(a, f.dtype) for a in _split_matrices(m))
        g = _dst_split(_dst_split(f, -1, False, mats), -2, False, mats)
        g = g * _inverse_eigenvalues(m + 2, f.dtype, _split_perm(m), sign)
        return _dst_split(_dst_split(g, -1, True, mats), -2, True, mats)
    if method == "matmul":
        s = jnp.asarray(_dst_matrix(m), f.dtype)
        two = lambda a: jnp.matmul(jnp.matmul(s, a), s)  # noqa: E731
    else:
        two = lambda a: dst1(dst1(a, -1, "fft"), -2, "fft")  # noqa: E731
    return two(two(f) * _inverse_eigenvalues(m + 2, f.dtype, None, sign))


def pad_walls(interior, value=0.0):
    """Embed ``(*batch, m, m)`` interior values in ``(*batch, m + 2, m + 2)`` with ``value`` on the walls."""
    pad = [(0, 0)] * (interior.ndim - 2) + [(1, 1), (1, 1)]
    return jnp.pad(interior, pad, constant_values=value)


def poisson_dirichlet(f: Field, method: str = "auto") -> Field:
    """Solve the 5-point ``lap_h psi = f`` on the ``n x n`` node grid of the unit square
    (``h = 1/(n-1)``) with ``psi = 0`` on the walls, by DST-I in both directions.

    Args:
        f: right-hand side, shape ``(*batch, n, n)``; its wall values are ignored.
        method: the DST's implementation (:func:`dst1`).

    Returns:
        ``psi``, shape ``(*batch, n, n)``, zero on the walls; ``dirichlet_laplacian(psi)``
        equals ``f`` inside to round-off. O(n^2 log n) with the FFT, O(n^3) with the matmul.
    """
    f = jnp.asarray(f)
    check_square(f.shape, "f")
    if not jnp.issubdtype(f.dtype, jnp.floating):
        f = f.astype(_dtype(None))
    _poisson_method(method, f.shape[-1] - 2)
    return _poisson_dirichlet(f, method)


@partial(jax.jit, static_argnums=1)
def _poisson_dirichlet(f, method):
    return pad_walls(poisson_interior(f[..., 1:-1, 1:-1], method))


def _laplacian_interior(a, h):
    """5-point Laplacian at the interior nodes of the full ``(*batch, n, n)`` array ``a``."""
    return (
        a[..., 2:, 1:-1] + a[..., :-2, 1:-1] + a[..., 1:-1, 2:] + a[..., 1:-1, :-2] - 4 * a[..., 1:-1, 1:-1]
    ) / h**2


def dirichlet_laplacian(psi: Field) -> Field:
    """The 5-point Laplacian of ``psi`` (``(*batch, n, n)``, ``h = 1/(n-1)``) at the interior
    nodes, zero on the walls (shape ``(*batch, n, n)``)."""
    psi = jnp.asarray(psi)
    check_square(psi.shape, "psi")
    if not jnp.issubdtype(psi.dtype, jnp.floating):
        psi = psi.astype(_dtype(None))
    return _dirichlet_laplacian(psi)


@jax.jit
def _dirichlet_laplacian(psi):
    return pad_walls(_laplacian_interior(psi, 1.0 / (psi.shape[-1] - 1)))
