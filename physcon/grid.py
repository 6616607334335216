"""One-dimensional grids: positions, spacing, cell faces, quadrature weights, wavenumbers.

A grid is a small static description (end points, size, kind); every array it hands out is
computed on demand in float64 by NumPy and then cast to the requested dtype (default: JAX's
default float), so a float32 grid still has its points placed to float32 round-off.

Two kinds:

* ``cells``: ``n`` finite-volume cells of width ``dx = (b - a) / n``; ``x`` are the cell
  centres ``a + (i + 1/2) dx`` and ``faces`` the ``n + 1`` cell edges.
* ``nodes``: ``n`` points ``a + i dx`` including both end points (``dx = (b - a)/(n - 1)``) or,
  with ``endpoint=False``, a periodic grid without the right end point (``dx = (b - a)/n``).
"""

from __future__ import annotations

import math
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

Kind = Literal["cells", "nodes"]
Rule = Literal["midpoint", "trapezoid", "simpson", "rectangle"]


def _check_interval(a: float, b: float, n: int, n_min: int) -> tuple[float, float, int]:
    try:
        a, b = float(a), float(b)
    except TypeError as err:  # a traced value: grids are static descriptions
        raise TypeError(f"Grid1D end points must be Python numbers, got a={a!r}, b={b!r}") from err
    if not (math.isfinite(a) and math.isfinite(b)) or not b > a:
        raise ValueError(f"Grid1D needs finite end points with b > a, got a={a}, b={b}")
    if isinstance(n, bool) or int(n) != n or n < n_min:
        raise ValueError(f"Grid1D needs an integer n >= {n_min}, got n={n!r}")
    return a, b, int(n)


class Grid1D(eqx.Module):
    """A uniform 1-D grid on ``[a, b]``. Build it with :meth:`cells` or :meth:`nodes`.

    Attributes:
        a, b: end points of the domain (same units as ``x``).
        n: number of cells or nodes.
        kind: ``"cells"`` or ``"nodes"``.
        endpoint: for nodes, whether ``b`` is a grid point (``False`` = periodic node grid).
    """

    a: float = eqx.field(static=True)
    b: float = eqx.field(static=True)
    n: int = eqx.field(static=True)
    kind: Kind = eqx.field(static=True)
    endpoint: bool = eqx.field(static=True, default=True)

    @classmethod
    def cells(cls, a: float, b: float, n: int) -> Grid1D:
        """``n`` finite-volume cells of equal width on ``[a, b]``."""
        a, b, n = _check_interval(a, b, n, 1)
        return cls(a, b, n, "cells", True)

    @classmethod
    def nodes(cls, a: float, b: float, n: int, endpoint: bool = True) -> Grid1D:
        """``n`` equally spaced points on ``[a, b]`` (``endpoint=False``: on ``[a, b)``, periodic)."""
        a, b, n = _check_interval(a, b, n, 2 if endpoint else 1)
        return cls(a, b, n, "nodes", bool(endpoint))

    # -- geometry ---------------------------------------------------------------------------
    @property
    def length(self) -> float:
        return self.b - self.a

    @property
    def dx(self) -> float:
        """Spacing between neighbouring points (a Python float, so it stays static under jit)."""
        if self.kind == "nodes" and self.endpoint:
            return self.length / (self.n - 1)
        return self.length / self.n

    @property
    def domain(self) -> tuple[float, float]:
        return (self.a, self.b)

    def x_np(self) -> np.ndarray:
        """Grid points as a float64 NumPy array, shape ``(n,)``."""
        i = np.arange(self.n, dtype=np.float64)
        offset = 0.5 if self.kind == "cells" else 0.0
        return self.a + (i + offset) * self.dx

    def points(self, dtype=None) -> Float[Array, " n"]:
        """Grid points (cell centres or nodes), shape ``(n,)``, in ``dtype``."""
        return jnp.asarray(self.x_np(), dtype=_float(dtype))

    @property
    def x(self) -> Float[Array, " n"]:
        """Grid points in JAX's default float dtype, shape ``(n,)``."""
        return self.points()

    def faces_np(self) -> np.ndarray:
        if self.kind == "cells":
            return self.a + np.arange(self.n + 1, dtype=np.float64) * self.dx
        x = self.x_np()
        if not self.endpoint:  # periodic nodes sit at the centres of their dual cells
            return np.append(x - 0.5 * self.dx, x[-1] + 0.5 * self.dx)
        # dual cells of a node grid: the end points and the midpoints between nodes
        return np.concatenate([[self.a], 0.5 * (x[1:] + x[:-1]), [self.b]])

    @property
    def faces(self) -> Float[Array, " n+1"]:
        """Cell edges, shape ``(n + 1,)`` (for nodes: the edges of the dual cells)."""
        return jnp.asarray(self.faces_np(), dtype=_float(None))

    # -- quadrature -------------------------------------------------------------------------
    def quadrature_np(self, rule: Rule | None = None) -> np.ndarray:
        rule = rule or self.default_rule
        n, h = self.n, self.dx
        if rule == "midpoint":
            if self.kind != "cells":
                raise ValueError("rule='midpoint' needs a cell grid (values are cell averages)")
            return np.full(n, h)
        if rule == "rectangle":
            w = np.full(n, h)
            if self.kind == "nodes" and self.endpoint:
                w[0] = 0.0  # right Riemann sum over [a, b] (ProbConserv's "rhs" option)
            return w
        if rule == "trapezoid":
            if n == 1:
                raise ValueError("rule='trapezoid' needs at least two points")
            w = np.full(n, h)
            w[0] = w[-1] = 0.5 * h
            return w
        if rule == "simpson":
            if n < 3 or n % 2 == 0:
                raise ValueError(f"rule='simpson' needs an odd number of points >= 3, got n={n}")
            w = np.full(n, 2.0 * h / 3.0)
            w[1::2] = 4.0 * h / 3.0
            w[0] = w[-1] = h / 3.0
            return w
        raise ValueError(f"rule must be one of midpoint, trapezoid, simpson, rectangle; got {rule!r}")

    @property
    def default_rule(self) -> Rule:
        """Midpoint for cells, trapezoid for nodes with end points, rectangle for periodic nodes.

        Each integrates the discrete field over the whole domain ``[a, b]``.
        """
        if self.kind == "cells":
            return "midpoint"
        return "trapezoid" if self.endpoint else "rectangle"

    def quadrature(self, rule: Rule | None = None, dtype=None) -> Float[Array, " n"]:
        """Quadrature weights ``w`` so that ``sum(w * u)`` approximates ``integral u dx``.

        ``rule="rectangle"``: ``dx`` per point (cells, periodic nodes); on nodes with both end
        points, the right Riemann sum (first weight 0). ``rule="trapezoid"`` on a cell grid integrates the piecewise-linear interpolant of the
        centre values from the first to the last centre (the rule ProbConserv uses on its
        target points); ``"midpoint"`` integrates cell averages over the whole domain.
        """
        return jnp.asarray(self.quadrature_np(rule), dtype=_float(dtype))

    @property
    def weights(self) -> Float[Array, " n"]:
        """Weights of :attr:`default_rule`, shape ``(n,)``."""
        return self.quadrature()

    def integrate(self, u: Float[Array, "... n"], rule: Rule | None = None) -> Float[Array, "..."]:
        """``integral u dx`` over the last axis of ``u`` (which must have length ``n``)."""
        u = jnp.asarray(u)
        if u.ndim == 0 or u.shape[-1] != self.n:
            raise ValueError(f"u must have last axis of length n={self.n}, got shape {u.shape}")
        return u @ self.quadrature(rule, dtype=u.dtype if jnp.issubdtype(u.dtype, jnp.floating) else None)

    # -- spectral ---------------------------------------------------------------------------
    @property
    def wavenumbers(self) -> Float[Array, " n"]:
        """Angular wavenumbers ``2 pi fftfreq(n, dx)`` (units 1/length), for periodic grids."""
        return jnp.asarray(2.0 * np.pi * np.fft.fftfreq(self.n, d=self.dx), dtype=_float(None))

    def refine(self, factor: int) -> Grid1D:
        """The same domain with ``factor`` times finer spacing (for zero-shot super-resolution)."""
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor!r}")
        factor = int(factor)
        if self.kind == "cells":
            return Grid1D.cells(self.a, self.b, self.n * factor)
        if self.endpoint:
            return Grid1D.nodes(self.a, self.b, (self.n - 1) * factor + 1)
        return Grid1D.nodes(self.a, self.b, self.n * factor, endpoint=False)


def _float(dtype):
    if dtype is None:
        return jnp.result_type(float)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    return dtype
