"""The wall conditions BOON imposes on each problem's data, and their per-sample values.

:func:`boundary_conditions` gives the ``(left, right)`` :mod:`physcon.bc` conditions of a
problem (Neumann for heat, Dirichlet with values read from the ground truth for Stokes and
Burgers-Dirichlet, periodic for periodic Burgers); :func:`boundary_values` gives the values
they prescribe as ``(n, nt)`` arrays, to pass to :func:`physcon.metrics.boundary_error` or to
BOON at call time. :func:`oracle` is the placeholder value of the ground-truth Dirichlet walls.

Boundary conditions measured on the heat data with :func:`physcon.metrics.boundary_error`
(the heater value is ``5 sin(pi t)``): the default order-5 stencils are met to 3e-6 / 1.5e-5
(insulator / heater, quick single-step, mean over samples; 2.7e-4 / 1.3e-3 max on the 64-node
multi-step set), the data's own error; the paper's first-order insulator stencil misses by
``h u_xx / 2`` = 0.2 and its third-order heater stencil by 2e-3 on the same data.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from physcon.bc import Dirichlet, Neumann, Periodic
from physcon.data.dataset import oracle
from physcon.data.operator.registry import _pos_int, _problem
from physcon.solvers import BoonDataset
from physcon.solvers.heat import HeatNeumann

__all__ = ["oracle", "boundary_conditions", "boundary_values"]


#: the published BOON code's heat stencils: first order at the insulator, third at the heater
PAPER_ORDERS = (1, 3)


def _orders(order):
    if order is None:
        return None, None
    if isinstance(order, str):
        if order != "paper":
            raise ValueError(f"order must be None, 'paper', an int or a (left, right) pair, got {order!r}")
        return PAPER_ORDERS
    if isinstance(order, (tuple, list)):
        if len(order) != 2:
            raise ValueError(f"order must be None, an int or a (left, right) pair, got {order!r}")
        return tuple(_pos_int("order", o) for o in order)
    o = _pos_int("order", order)
    return o, o


def boundary_conditions(problem: str, ds: BoonDataset | None = None, *, order=None):
    """The ``(left, right)`` :mod:`physcon.bc` conditions BOON imposes on a problem's data.

    * ``heat_neumann``: the walls of the generator's :class:`~physcon.solvers.heat.HeatNeumann`,
      ``Neumann(0.0)`` (insulator) and ``Neumann(heater)`` (``u_x(1, t) = 5 sin(pi t)``), both
      with the one-sided stencil of order :data:`physcon.solvers.heat.WALL_ORDER` (5) on the
      actual spacing, which the data satisfy to their own error (1.5e-5 at the heater, 3e-6 at
      the insulator, quick sizes). ``order="paper"`` gives the reference's stencils, ``[1, -1]``
      (first order, off by ``h u_xx / 2`` on any smooth data) and the 4-point third-order
      backward difference; an int or a ``(left, right)`` pair sets other orders.
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
        order: Neumann stencil orders (heat only): ``None`` (the generator's), ``"paper"``,
            an int or a ``(left, right)`` pair.
    """
    spec = _problem(problem)
    if spec.boundary == "neumann":
        lo, ro = _orders(order)
        walls = HeatNeumann()
        left = Neumann(walls.left.value, order=lo or walls.left.order)
        right = Neumann(walls.right.value, order=ro or walls.right.order)
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
