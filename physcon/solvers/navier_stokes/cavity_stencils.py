"""The lid-driven cavity's finite-difference stencils: Thom's wall vorticity, the velocity, the
vorticity transport and the explicit step's limits (grid, units and equations as in
:mod:`~physcon.solvers.navier_stokes.cavity_poisson`).

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
from functools import partial

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from physcon.solvers._checks import _dtype
from physcon.solvers.navier_stokes.cavity_poisson import Field, _poisson_method, check_nodes, check_square, pad_walls, poisson_interior

__all__ = ["wall_vorticity", "cavity_fields", "transport_rhs", "cavity_numbers", "max_stable_dt", "MAX_DIFFUSION_NUMBER", "MAX_COURANT_NUMBER"]

#: Diffusion-number limit ``dt / (Re h^2)`` of the explicit SSP-RK3 step (see :func:`cavity_numbers`).
MAX_DIFFUSION_NUMBER = 0.25
#: Courant-number limit ``dt (max|u| + max|v|) / h`` of the explicit SSP-RK3 step.
MAX_COURANT_NUMBER = 1.0


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
        w = w.astype(_dtype(None))
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
