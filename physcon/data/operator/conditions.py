"""The wall conditions BOON imposes on each problem's data, and their per-sample values.

:func:`boundary_conditions` gives the ``(left, right)`` :mod:`physcon.bc` conditions of a
problem (Neumann for heat, Dirichlet with values read from the ground truth for Stokes and
Burgers-Dirichlet, periodic for periodic Burgers); :func:`boundary_values` gives the values
they prescribe as ``(n, nt)`` arrays, to pass to :func:`physcon.metrics.boundary_error` or to
BOON at call time. :func:`oracle` is the placeholder value of the ground-truth Dirichlet walls.

Boundary conditions measured on the heat data with :func:`physcon.metrics.boundary_error`
(max over samples and frames; the heater value is ``5 sin(pi t)``): the right wall's third-order
stencil misses ``g`` by 5e-5 (paper sizes; 3e-3 / 2e-2 quick single / multi-step), BOON's
first-order left stencil by ``h u_xx / 2`` = 0.07 / 0.04 (paper single / multi-step; 0.3 / 0.6
quick) -- a property of the stencil, not of the data: a fourth-order stencil sees the left
wall satisfied to 2e-8.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from physcon.bc import Dirichlet, Neumann, Periodic
from physcon.data.dataset import oracle
from physcon.data.operator.registry import _pos_int, _problem
from physcon.solvers import BoonDataset
from physcon.solvers.heat import heater

__all__ = ["oracle", "boundary_conditions", "boundary_values"]


def _orders(order):
    if order is None:
        return None, None
    if isinstance(order, (tuple, list)):
        if len(order) != 2:
            raise ValueError(f"order must be None, an int or a (left, right) pair, got {order!r}")
        return tuple(_pos_int("order", o) for o in order)
    o = _pos_int("order", order)
    return o, o


def boundary_conditions(problem: str, ds: BoonDataset | None = None, *, order=None):
    """The ``(left, right)`` :mod:`physcon.bc` conditions BOON imposes on a problem's data.

    * ``heat_neumann``: ``Neumann(0.0, order=1)`` (insulator) and ``Neumann(heater, order=3)``
      (``u_x(1, t) = 5 sin(pi t)``): the reference's stencils, ``[1, -1]`` (first order; BOON
      omits ``h``, harmless because the value is 0) and the 4-point third-order backward
      difference. ``order`` (an int or a ``(left, right)`` pair) replaces those orders.
      Note: the data satisfy the *continuous* condition (to the solver's second order), so
      the first-order left stencil itself is off by ``O(h)`` on the data (``h u_xx / 2``).
    * ``stokes``, ``burgers_dirichlet``: ``Dirichlet(oracle)`` on both walls. The values are
      per sample and time, read from the ground truth as BOON does; get them from
      :func:`boundary_values` (arrays ``(n, nt)``) and pass them explicitly -- evaluating
      :func:`oracle` raises.
    * ``burgers_periodic``: ``Periodic()`` on both walls; needs the grid that includes
      ``x = 1`` (``endpoint=True``), checked when ``ds`` is given.

    Args:
        problem: a key of :data:`BOON_PROBLEMS`.
        ds: the data set, optional: checks that its grid supports the stencils (and, for
            the periodic problem, that it is closed: ``u[..., -1] == u[..., 0]``).
        order: Neumann stencil orders (heat only).
    """
    spec = _problem(problem)
    if spec.boundary == "neumann":
        lo, ro = _orders(order)
        left = Neumann(0.0, order=lo or 1)
        right = Neumann(heater, order=ro or 3)
        if ds is not None and np.shape(ds.x)[0] < max(left.order, right.order) + 1:
            raise ValueError(f"ds has {np.shape(ds.x)[0]} points, too few for the order {max(left.order, right.order)} stencil")
        return left, right
    if order is not None:
        raise ValueError(f"order only applies to Neumann walls, not to {spec.name!r}")
    if spec.boundary == "dirichlet":
        return Dirichlet(oracle), Dirichlet(oracle)
    if ds is not None and not bool(np.array_equal(np.asarray(ds.u[..., 0]), np.asarray(ds.u[..., -1]))):
        raise ValueError("ds is not closed (u[..., -1] != u[..., 0]): generate it with endpoint=True "
                         "or use with_periodic_endpoint")
    return Periodic(), Periodic()


def boundary_values(problem: str, ds: BoonDataset, *, order=None):
    """The per-sample values ``(left_value, right_value)`` the walls prescribe, each ``(n, nt)``.

    Dirichlet problems: the ground truth's wall values ``u[:, :, 0]`` and ``u[:, :, -1]``
    (BOON's oracle). Neumann (heat): ``g(t)`` of :func:`boundary_conditions` evaluated at
    ``ds.t`` and broadcast to ``(n, nt)``. Periodic: ``(None, None)``.
    """
    spec = _problem(problem)
    u = jnp.asarray(ds.u)
    if u.ndim != 3:
        raise ValueError(f"ds.u must have shape (n, nt, nx), got {u.shape}")
    if spec.boundary == "dirichlet":
        return u[:, :, 0], u[:, :, -1]
    if spec.boundary == "periodic":
        return None, None
    left, right = boundary_conditions(spec.name, ds, order=order)
    t = jnp.asarray(ds.t, u.dtype)
    return tuple(jnp.broadcast_to(bc.at(t, u.dtype), u.shape[:2]) for bc in (left, right))
