"""Boundary conditions as values, and the one-sided finite-difference stencils they need.

These objects describe *what* holds at a wall; the solvers (``physcon.solvers``) and the BOON
layer (``physcon.constraints``) decide *how* to impose it. A boundary value is a constant
(Python number or 0-d array) or a function of time ``g(t)``.

* :class:`Dirichlet` ``u(wall, t) = g(t)``
* :class:`Neumann` ``du/dx(wall, t) = g(t)``: the derivative along +x (not the outward normal),
  so an insulated wall is ``Neumann(0.0)`` on either side. ``order`` is the accuracy order of
  the one-sided stencil used wherever the derivative has to be evaluated on a grid.
* :class:`Periodic` ``u(a) = u(b)``: must be given on both walls.
* :class:`Robin` ``a u + b du/dx = g(t)``.

The solvers support Dirichlet, Neumann and Periodic walls; :func:`boundary_stencil` turns any
non-periodic condition into the linear functional it prescribes on a node grid (what BOON and
the boundary metrics use). :func:`fd_weights` computes finite-difference weights for any derivative on any set of points
(Fornberg's algorithm), so stencils are exact for the actual grid spacing and any order.
"""

from __future__ import annotations

from typing import Callable, Union

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

BoundaryValue = Union[float, ArrayLike, Callable[[Array], ArrayLike]]


class _Valued(eqx.Module):
    value: BoundaryValue = 0.0

    def __check_init__(self):
        v = self.value
        if callable(v):
            return
        if isinstance(v, (bool, str)) or np.ndim(v) > 1:
            raise ValueError(
                f"{type(self).__name__}: value must be a scalar (or one per problem of a "
                f"batch) or a function of time, got {v!r}"
            )
        try:
            finite = bool(np.all(np.isfinite(np.asarray(v, dtype=float))))
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
            return  # a tracer: checked where it is used
        if not finite:
            raise ValueError(f"{type(self).__name__}: value must be finite, got {v!r}")

    def at(self, t: ArrayLike, dtype=None) -> Float[Array, ""]:
        """The boundary value at time ``t`` (a scalar), in ``dtype``."""
        v = self.value(t) if callable(self.value) else self.value
        v = jnp.asarray(v, dtype=dtype)
        if v.ndim > 1:  # a batch of problems may carry one value per problem
            raise ValueError(
                f"{type(self).__name__}: value(t) must return a scalar (or one value per "
                f"problem of a batch), got shape {v.shape}"
            )
        return v


class Dirichlet(_Valued):
    """Prescribed value ``u = g(t)`` at the wall."""


class Neumann(_Valued):
    """Prescribed derivative ``du/dx = g(t)`` at the wall (derivative along +x).

    Attributes:
        value: ``g``, a constant or a function of time.
        order: accuracy order (>= 1) of the one-sided difference used to evaluate ``du/dx``.
    """

    order: int = eqx.field(static=True, default=2)

    def __check_init__(self):
        if isinstance(self.order, bool) or int(self.order) != self.order or self.order < 1:
            raise ValueError(f"Neumann: order must be an integer >= 1, got {self.order!r}")


class Periodic(eqx.Module):
    """``u(a, t) = u(b, t)`` (and all derivatives); give it on both walls."""


BoundaryCondition = Union[Dirichlet, Neumann, Periodic, "Robin"]


def check_pair(left: BoundaryCondition, right: BoundaryCondition, *, names: tuple[str, str] = ("left", "right")) -> None:
    """Raise ``ValueError`` unless ``left``/``right`` are boundary conditions that fit together
    (``names``: how the two walls are called in the messages)."""
    for name, bc in zip(names, (left, right)):
        if not isinstance(bc, (Dirichlet, Neumann, Periodic, Robin)):
            raise ValueError(f"{name} must be Dirichlet, Neumann, Robin or Periodic, got {bc!r}")
    if isinstance(left, Periodic) != isinstance(right, Periodic):
        raise ValueError(
            "inconsistent boundary conditions: Periodic must be given on both walls, got "
            f"{names[0]}={type(left).__name__}, {names[1]}={type(right).__name__}"
        )


def fd_weights(x0: float, points, deriv: int) -> np.ndarray:
    """Weights ``c`` with ``sum_j c_j f(points_j) ~= f^(deriv)(x0)`` (Fornberg, 1988).

    Exact for polynomials of degree ``< len(points)``; computed in float64 for the actual
    point positions, so one-sided and non-uniform stencils of any order come out right.

    Args:
        x0: where the derivative is wanted.
        points: distinct stencil positions, shape ``(m,)`` with ``m > deriv``.
        deriv: derivative order (0 = interpolation).
    """
    z = np.asarray(points, dtype=np.float64)
    m = z.size
    if deriv < 0 or m <= deriv:
        raise ValueError(f"fd_weights needs more than deriv={deriv} points, got {m}")
    if np.unique(z).size != m:
        raise ValueError("fd_weights needs distinct points")
    c = np.zeros((m, deriv + 1))
    c1, c4 = 1.0, z[0] - x0
    c[0, 0] = 1.0
    for i in range(1, m):
        mn = min(i, deriv)
        c2, c5, c4 = 1.0, c4, z[i] - x0
        for j in range(i):
            c3 = z[i] - z[j]
            c2 *= c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return c[:, deriv]


def wall_derivative_weights(order: int, dx: float, staggered: bool) -> np.ndarray:
    """One-sided weights for ``du/dx`` at the left wall from interior values.

    The stencil uses the wall value (weight first) and the first ``order`` interior points:
    for a cell grid (``staggered=True``) the centres at ``dx/2, 3dx/2, ...``; for a node grid
    the nodes at ``dx, 2dx, ...``. Accuracy is ``O(dx**order)``. For the right wall, reverse
    the point order and negate the weights (the derivative along +x).
    """
    if int(order) != order or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    offsets = np.arange(order) + (0.5 if staggered else 1.0)
    return fd_weights(0.0, np.concatenate([[0.0], offsets * dx]), 1)


class Robin(_Valued):
    """``a u + b du/dx = g(t)`` at the wall (derivative along +x).

    ``Robin(a=1, b=0)`` is Dirichlet and ``Robin(a=0, b=1)`` is Neumann; ``order`` is the
    accuracy order of the one-sided difference used for ``du/dx``.
    """

    a: float = eqx.field(static=True, default=1.0)
    b: float = eqx.field(static=True, default=1.0)
    order: int = eqx.field(static=True, default=2)

    def __check_init__(self):
        if isinstance(self.order, bool) or int(self.order) != self.order or self.order < 1:
            raise ValueError(f"Robin: order must be an integer >= 1, got {self.order!r}")
        for name in ("a", "b"):
            v = getattr(self, name)
            if isinstance(v, bool) or not np.isfinite(float(v)):
                raise ValueError(f"Robin: {name} must be a finite number, got {v!r}")
        if self.a == 0 and self.b == 0:
            raise ValueError("Robin: a and b cannot both be 0")


def boundary_stencil(bc: BoundaryCondition, x, side: str, order: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The linear functional a boundary condition prescribes at one wall of a node grid.

    Returns ``(index, weights)`` (NumPy, float64) such that the condition reads
    ``sum_j weights[j] * u[index[j]] = g(t)``, with ``index[0]`` the wall node:

    * Dirichlet: ``index = [wall]``, ``weights = [1]``;
    * Neumann: the one-sided ``order``-accurate ``du/dx`` weights (Fornberg, for the actual,
      possibly non-uniform, node positions ``x``) on the wall node and the ``order`` nodes next
      to it;
    * Robin: the Neumann weights times ``b`` plus ``a`` on the wall node.

    Args:
        bc: the condition (not :class:`Periodic`, which is not a one-wall functional).
        x: node positions including both walls, shape ``(n,)`` (strictly increasing).
        side: ``"left"`` (``x[0]``) or ``"right"`` (``x[-1]``).
        order: overrides the condition's own stencil order (e.g. to measure a derivative with
            an independent, higher-order stencil).

    Raises:
        ValueError: a Periodic condition, a bad ``side``, or a grid with too few nodes for
            the stencil (``order + 1`` are needed).
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if isinstance(bc, Periodic) or not isinstance(bc, (Dirichlet, Neumann, Robin)):
        raise ValueError(f"boundary_stencil needs a Dirichlet, Neumann or Robin condition, got {bc!r}")
    xs = np.asarray(x, dtype=np.float64)
    if xs.ndim != 1 or xs.size < 2 or not np.all(np.diff(xs) > 0):
        raise ValueError(f"x must be strictly increasing node positions of shape (n >= 2,), got shape {xs.shape}")
    n = xs.size
    if isinstance(bc, Dirichlet):
        return np.array([0 if side == "left" else n - 1]), np.ones(1)
    order = bc.order if order is None else order
    if isinstance(order, bool) or int(order) != order or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    if order + 1 > n:
        raise ValueError(
            f"a {type(bc).__name__} stencil of order {order} needs {order + 1} nodes, the grid has {n}")
    index = np.arange(order + 1) if side == "left" else n - 1 - np.arange(order + 1)
    w = fd_weights(xs[index[0]], xs[index], 1)
    if isinstance(bc, Robin):
        w = bc.b * w
        w[0] += bc.a
    return index, w
