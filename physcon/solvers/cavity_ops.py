"""The spatial discretisation of the lid-driven cavity (streamfunction-vorticity, 2nd order).

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
* **Wall vorticity**: Thom's formula, from ``psi(wall + h n) = -h U_t + h^2/2 psi_nn`` and
  ``w = -psi_nn`` on a wall: ``w_wall = -2 psi_1 / h^2`` on the fixed walls and
  ``w_lid = -2 psi_{n-2} / h^2 - 2 U / h`` on the lid (``psi_1`` the first interior node).
  Corners (not used by any interior stencil) get the mean of their two walls' formulas
  (``0`` at the bottom corners, ``-U/h`` at the lid's).
* **Velocity**: central differences ``u = (psi_{j+1} - psi_{j-1}) / 2h``,
  ``v = -(psi_{i+1} - psi_{i-1}) / 2h`` inside; on the walls the Dirichlet values are set
  exactly (``u = v = 0``; ``u = U, v = 0`` on the whole top row, corners included). Central
  differences commute, so the discrete divergence ``D_x u + D_y v`` vanishes to round-off at
  every node whose stencil avoids the walls.
* **Transport**: advective form with central differences and the 5-point Laplacian of the
  vorticity (wall values from Thom's formula). Second order in space (Thom's formula is
  locally first order at the wall, globally second order, the classical result).
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "cavity_grid", "dst1", "poisson_dirichlet", "dirichlet_laplacian", "wall_vorticity",
    "cavity_fields", "cavity_numbers", "MAX_DIFFUSION_NUMBER", "MAX_COURANT_NUMBER",
    "MIN_NODES",
]

Field = Float[Array, "*batch n n"]

#: Diffusion-number limit ``dt / (Re h^2)`` of the explicit SSP-RK3 step (see :func:`cavity_numbers`).
MAX_DIFFUSION_NUMBER = 0.25
#: Courant-number limit ``dt (max|u| + max|v|) / h`` of the explicit SSP-RK3 step.
MAX_COURANT_NUMBER = 1.0
#: Smallest supported grid (nodes per side, walls included): 3 x 3 interior nodes.
MIN_NODES = 5


def _float(dtype):
    return jnp.dtype(jnp.result_type(float) if dtype is None else dtype)


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
    s = jnp.asarray(np.linspace(0.0, 1.0, n), _float(dtype))
    return jnp.meshgrid(s, s, indexing="ij")


# --- DST-I and the Poisson solve ---------------------------------------------------------------------
#: ``method="auto"`` picks, by the interior size ``m = n - 2`` (measured on a 2-core CPU, float32,
#: ``benchmarks/cavity_throughput.py --dst``): the dense DST-I matmul for ``m <= 96``, the
#: even/odd split matmul (half the flops) up to ``m <= 600``, the FFT of the odd extension above.
#: For the Poisson solve, ``"auto"`` prefers ``"cr"`` (one DST-I axis + cyclic reduction along
#: the other, see :func:`poisson_interior`) whenever ``m + 1`` is a power of two (``n = 2^k + 1``).
DST_MATMUL_MAX = 96
DST_SPLIT_MAX = 600
METHODS = ("auto", "matmul", "split", "fft")
POISSON_METHODS = METHODS + ("cr",)


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
        x = x.astype(_float(None))
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
        f = f.astype(_float(None))
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
        psi = psi.astype(_float(None))
    return _dirichlet_laplacian(psi)


@jax.jit
def _dirichlet_laplacian(psi):
    return pad_walls(_laplacian_interior(psi, 1.0 / (psi.shape[-1] - 1)))


# --- walls, velocity, transport --------------------------------------------------------------------
def wall_vorticity(psi: Field, w_interior, lid_speed) -> Field:
    """Assemble the full vorticity: ``w_interior`` (``(*batch, m, m)``) inside, Thom's formula
    on the walls from ``psi`` (``(*batch, n, n)``, zero on the walls) and the lid speed ``U``
    (scalar or ``(*batch,)``); corners as in the module docstring."""
    n = psi.shape[-1]
    h = 1.0 / (n - 1)
    U = jnp.broadcast_to(jnp.asarray(lid_speed, psi.dtype)[..., None], psi.shape[:-2] + (1,))
    c = -2.0 / h**2
    left, right = c * psi[..., 1, 1:-1], c * psi[..., -2, 1:-1]
    bottom, top = c * psi[..., 1:-1, 1], c * psi[..., 1:-1, -2] - 2.0 * U / h
    col0 = jnp.concatenate([jnp.zeros_like(left[..., :1]), left, -U / h], axis=-1)
    col1 = jnp.concatenate([jnp.zeros_like(right[..., :1]), right, -U / h], axis=-1)
    mid = jnp.concatenate([bottom[..., None], w_interior, top[..., None]], axis=-1)
    return jnp.concatenate([col0[..., None, :], mid, col1[..., None, :]], axis=-2)


def _interior_velocity(psi, h):
    u = (psi[..., 1:-1, 2:] - psi[..., 1:-1, :-2]) / (2 * h)
    v = -(psi[..., 2:, 1:-1] - psi[..., :-2, 1:-1]) / (2 * h)
    return u, v


def cavity_fields(w: Field, lid_speed: ArrayLike = 1.0, method: str = "auto") -> tuple[Field, Field, Field]:
    """``(psi, u, v)`` from the vorticity ``w`` (``(*batch, n, n)``; only its interior is used):
    ``psi`` solves ``lap_h psi = -w`` with ``psi = 0`` on the walls, ``(u, v)`` are its central
    differences inside and the exact wall values outside (``u = lid_speed`` on the top row)."""
    w = jnp.asarray(w)
    n = check_square(w.shape, "w")
    if not jnp.issubdtype(w.dtype, jnp.floating):
        w = w.astype(_float(None))
    _poisson_method(method, n - 2)
    return _cavity_fields(w, jnp.asarray(lid_speed, w.dtype), method)


@partial(jax.jit, static_argnums=2)  # one compile per shape, not one per primitive
def _cavity_fields(w, lid_speed, method):
    n = w.shape[-1]
    psi = pad_walls(poisson_interior(w[..., 1:-1, 1:-1], method, -1.0))
    u_in, v_in = _interior_velocity(psi, 1.0 / (n - 1))
    U = jnp.broadcast_to(lid_speed[..., None], psi.shape[:-2] + (n,))
    u = pad_walls(u_in).at[..., :, -1].set(U)
    return psi, u, pad_walls(v_in)


def transport_rhs(w_interior, lid_speed, nu, method: str = "auto"):
    """``dw/dt`` at the interior nodes (``(*batch, m, m)``) for the interior vorticity
    ``w_interior``, the lid speed ``U`` and the viscosity ``nu = 1/Re`` (scalars or ``(*batch,)``).

    Written as one elementwise expression over the ``(m, m)`` interior (the four neighbours of
    each node, with Thom's wall values substituted on the rows/columns next to a wall), so XLA
    fuses everything after the Poisson solve into a single loop: the same arithmetic as
    assembling :func:`wall_vorticity` and differencing it, without the intermediate arrays."""
    m = w_interior.shape[-1]
    h = 1.0 / (m + 1)
    dt = w_interior.dtype
    w = w_interior
    psi = poisson_interior(w, method, -1.0)
    c = -2.0 / h**2
    U = jnp.asarray(lid_speed, dt)[..., None, None]
    nu = jnp.asarray(nu, dt)[..., None, None]
    lead = ((0, 0),) * (w.ndim - 2)
    shift = lambda a, i0, i1, j0, j1: jnp.pad(a, lead + ((i0, i1), (j0, j1)))  # noqa: E731
    P = shift(psi, 1, 1, 1, 1)  # psi with its zero walls
    u = (P[..., 1:-1, 2:] - P[..., 1:-1, :-2]) / (2 * h)
    v = -(P[..., 2:, 1:-1] - P[..., :-2, 1:-1]) / (2 * h)
    ii = jax.lax.broadcasted_iota(jnp.int32, (m, m), 0)
    jj = jax.lax.broadcasted_iota(jnp.int32, (m, m), 1)
    w_e = jnp.where(ii == m - 1, c * psi, shift(w, 0, 1, 0, 0)[..., 1:, :])  # w(x + h), right wall
    w_w = jnp.where(ii == 0, c * psi, shift(w, 1, 0, 0, 0)[..., :-1, :])  # w(x - h), left wall
    w_n = jnp.where(jj == m - 1, c * psi - 2.0 * U / h, shift(w, 0, 0, 0, 1)[..., 1:])  # w(y + h), lid
    w_s = jnp.where(jj == 0, c * psi, shift(w, 0, 0, 1, 0)[..., :-1])  # w(y - h), bottom wall
    lap = (w_e + w_w + w_n + w_s - 4 * w) / h**2
    return nu * lap - u * ((w_e - w_w) / (2 * h)) - v * ((w_n - w_s) / (2 * h))


def cavity_numbers(u: Field, v: Field, dt, reynolds) -> tuple[Array, Array]:
    """``(courant, diffusion)``: ``dt (max|u| + max|v|) / h`` over the grid (walls and lid
    included; per batch element) and ``dt / (Re h^2)``.

    The explicit SSP-RK3 step is stable when ``courant <= 1`` (:data:`MAX_COURANT_NUMBER`) and
    ``diffusion <= 1/4`` (:data:`MAX_DIFFUSION_NUMBER`): with frozen coefficients the
    eigenvalues of ``dt`` times the discrete operator lie in the rectangle
    ``[-8 diffusion, 0] x [-courant, courant] i``, and ``[-2, 0] x [-1.2, 1.2] i`` lies inside
    RK3's stability region ``|1 + z + z^2/2 + z^3/6| <= 1`` (checked numerically; its
    real-axis limit is ``-2.51``, i.e. diffusion ``<= 0.314``). On the full nonlinear scheme
    with Thom's wall coupling (33^2, Re = 1 and 100, from rest) runs are stable up to a
    diffusion number of 0.30 and blow up from 0.32, so the wall closure does not tighten the
    limit; 1/4 keeps a margin.
    """
    n = u.shape[-1]
    h = 1.0 / (n - 1)
    dt = jnp.asarray(dt, u.dtype)
    umax = jnp.max(jnp.abs(u), axis=(-2, -1)) + jnp.max(jnp.abs(v), axis=(-2, -1))
    return dt * umax / h, dt / (jnp.asarray(reynolds, u.dtype) * h**2)


def max_stable_dt(n: int, reynolds: float, max_speed: float = 1.0, safety: float = 0.9) -> float:
    """The largest ``dt`` meeting both limits of :func:`cavity_numbers` times ``safety``, for
    a flow with ``max|u| + max|v| <= 2 max_speed`` (concrete floats)."""
    h = 1.0 / (check_nodes(n) - 1)
    reynolds, max_speed, safety = float(reynolds), float(max_speed), float(safety)
    if not (math.isfinite(reynolds) and reynolds > 0):
        raise ValueError(f"reynolds must be positive and finite, got {reynolds!r}")
    if not (math.isfinite(max_speed) and max_speed >= 0):
        raise ValueError(f"max_speed must be finite and >= 0, got {max_speed!r}")
    if not 0 < safety <= 1:
        raise ValueError(f"safety must be in (0, 1], got {safety!r}")
    dt = MAX_DIFFUSION_NUMBER * reynolds * h**2
    if max_speed > 0:
        dt = min(dt, MAX_COURANT_NUMBER * h / (2 * max_speed))
    return safety * dt
