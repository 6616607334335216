"""Boundary-condition error of a field (BOON, Saad et al., ICLR 2023): :func:`boundary_error`
(Dirichlet value, Neumann/Robin derivative with the condition's own or an independent stencil,
periodic mismatch)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import BoundaryCondition, Dirichlet, Periodic, boundary_stencil, check_pair
from physcon.metrics._checks import _floats, _is_int

__all__ = ["boundary_error"]


def _wall_value(name, bc, value, t, lead, dtype):
    """``g`` broadcast to ``lead``: the explicit ``value`` or the condition's ``bc.at(t)``."""
    if value is None:
        if callable(bc.value) and t is None:
            raise ValueError(f"t is needed to evaluate the time-dependent {name} condition {bc!r}")
        g = bc.at(jnp.asarray(0.0 if t is None else t, dtype), dtype)
        what = f"the {name} condition's value g(t)" + ("" if t is None else " (t broadcast)")
    else:
        g = jnp.asarray(value)
        what = f"{name}_value"
    try:
        ok = jnp.broadcast_shapes(g.shape, lead) == lead
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{what} must be broadcastable to u.shape[:-1] = {lead}, got shape {g.shape}")
    return _check_finite(what, g).astype(dtype)


def _check_finite(name, a):
    """``ValueError`` if a concrete ``a`` holds NaN/inf; ``eqx.error_if`` for a traced one."""
    try:
        finite = bool(np.all(np.isfinite(np.asarray(a))))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return eqx.error_if(a, ~jnp.all(jnp.isfinite(a)), f"{name} must be finite (no NaN/inf)")
    if not finite:
        raise ValueError(f"{name} must be finite (no NaN/inf)")
    return a


def boundary_error(
    u: Float[ArrayLike, "*batch nx"],
    x: Float[ArrayLike, " nx"],
    left: BoundaryCondition,
    right: BoundaryCondition,
    *,
    t: ArrayLike | None = None,
    order: int | tuple[int, int] | None = None,
    left_value: ArrayLike | None = None,
    right_value: ArrayLike | None = None,
) -> dict[str, Float[Array, "*batch"]]:
    """Absolute boundary-condition error of fields on a node grid (BOON's boundary metric).

    With the wall functional ``sum_j w_j u[..., i_j] = g`` of :func:`physcon.bc.boundary_stencil`:

    * :class:`~physcon.bc.Dirichlet`: ``|u[..., wall] - g|``;
    * :class:`~physcon.bc.Neumann` / :class:`~physcon.bc.Robin`: ``|sum_j w_j u[..., i_j] - g|``,
      the one-sided finite-difference ``du/dx`` (Robin: ``a u + b du/dx``) on the wall node and
      the ``order`` nodes next to it. ``order=None`` uses the condition's own stencil (the one
      BOON imposes, so a BOON output scores 0 to round-off); an explicit ``order`` measures the
      derivative with an independent, e.g. higher-order, stencil;
    * :class:`~physcon.bc.Periodic` (on both walls): ``|u[..., 0] - u[..., -1]|`` (the grid
      includes both end points).

    ``g`` is ``left_value`` / ``right_value`` if given (e.g. BOON's per-sample Dirichlet values
    read from the ground truth, shape ``(n, nt)``), else the condition's ``bc.at(t)``.

    Args:
        u: fields with space last, nodes including both walls: ``(..., nx)``, e.g.
            ``(n, nt, nx)``.
        x: node positions, shape ``(nx,)``, strictly increasing; must be concrete (the stencil
            weights are computed with NumPy for the actual spacing).
        left, right: the wall conditions (:mod:`physcon.bc`).
        t: times at which ``g(t)`` is evaluated, broadcastable against ``u[..., 0]`` after the
            evaluation (e.g. shape ``(nt,)`` for ``u`` of shape ``(n, nt, nx)``). Needed only
            for time-dependent values that are not given explicitly.
        order: stencil order for the Neumann/Robin walls: ``None`` (each condition's own), an
            int (both walls) or a ``(left, right)`` pair.
        left_value, right_value: explicit ``g`` of each wall, broadcastable to
            ``u.shape[:-1]``; not allowed with Periodic.

    Returns:
        ``{"left": ..., "right": ...}`` (or ``{"periodic": ...}``), each of shape
        ``u.shape[:-1]``, in the floating dtype of ``u`` (and the values). No reduction over
        samples or times; e.g. ``err["right"].max()`` is the worst wall error.

    Raises:
        ValueError: naming the argument -- mismatched shapes, non-finite ``u``/``x``/values
            (``eqx.error_if`` under ``jit``), an unknown or inconsistent pair of conditions, a
            stencil order the grid cannot support, a non-increasing ``x``, values given for a
            Periodic pair.
    """
    check_pair(left, right)
    u = jnp.asarray(u)
    if u.ndim == 0:
        raise ValueError("u must have at least one axis (space last), got a scalar")
    (u,) = _floats(u)
    try:
        xs = np.asarray(x, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise ValueError("x must be concrete (not traced under jit): the stencil weights depend on it") from None
    nx = u.shape[-1]
    if xs.shape != (nx,):
        raise ValueError(f"x must have shape (nx,) = ({nx},), got {xs.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError("x must be finite (no NaN/inf)")
    if nx < 2 or not np.all(np.diff(xs) > 0):
        raise ValueError(f"x must be strictly increasing with at least 2 nodes, got {xs}")
    u = _check_finite("u", u)
    lead = u.shape[:-1]
    if isinstance(left, Periodic):
        if left_value is not None or right_value is not None:
            raise ValueError("left_value/right_value cannot be given for Periodic conditions")
        if order is not None:
            raise ValueError("order does not apply to Periodic conditions")
        return {"periodic": jnp.abs(u[..., 0] - u[..., -1])}
    if order is None or _is_int(order):
        orders = (order, order)
    elif isinstance(order, (tuple, list)) and len(order) == 2:
        orders = tuple(order)
    else:
        raise ValueError(f"order must be None, an int or a (left, right) pair, got {order!r}")
    out = {}
    for name, bc, value, o in (("left", left, left_value, orders[0]), ("right", right, right_value, orders[1])):
        if isinstance(bc, Dirichlet):
            o = None  # a value condition has no stencil order
        elif o is not None and (not _is_int(o) or o < 1):
            raise ValueError(f"order must be None, an int >= 1 or a (left, right) pair of them, got {order!r}")
        elif (bc.order if o is None else o) + 1 > nx:
            raise ValueError(f"order: the {name} {type(bc).__name__} stencil of order "
                             f"{bc.order if o is None else o} needs {(bc.order if o is None else o) + 1} "
                             f"nodes, x has {nx}")
        index, weights = boundary_stencil(bc, xs, name, o)
        g = _wall_value(name, bc, value, t, lead, u.dtype)
        applied = jnp.sum(u[..., index] * jnp.asarray(weights, u.dtype), axis=-1)
        out[name] = jnp.abs(applied - g)
    return out
