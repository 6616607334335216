"""Scalar conservation laws ``u_t + f(u)_x = 0`` with Godunov fluxes (ProbConserv appendix).

* :class:`Advection`: ``f = a u`` on [0, 1], step ``1[x <= 1/2]``, inflow 1, ``a ~ U[1, 5]``.
* :class:`Burgers`: ``f = u^2/2`` on [-1, 1], ramp ``-a x`` on [-1, 0], inflow ``a``,
  ``a ~ U[1, 4]``; the ramp steepens into a shock at ``t = 1/a``.

The first-order Godunov scheme is conservative and monotone for ``dt <= dx / max|f'|``; it
captures shocks without oscillation and converges at order 1 (smooth parts) or 1/2 (L1, for a
contact discontinuity) as usual for monotone schemes.

Each law's :meth:`~physcon.solvers.gpme.problem.Problem.residual` is the strong-form pointwise
residual ``u_t + f'(u) u_x`` that the SoftC baseline penalises (``physcon.constraints.soft``);
it is meaningless across the shocks and steps, where ``u`` has no derivative.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from physcon.bc import Dirichlet, Neumann
from physcon.solvers.gpme import exact as cf
from physcon.solvers.gpme.fv import godunov_fluxes
from physcon.solvers.gpme.problem import Problem, along_batch, check_positive, outer


class ConservationLaw(Problem):
    """``u_t + f(u)_x = 0``. Subclasses give the two-point Riemann flux (:meth:`riemann`) and
    a bound on the wave speed ``|f'(u)|`` over the solution's range (:meth:`max_speed`)."""

    @abc.abstractmethod
    def riemann(self, u_left: Array, u_right: Array) -> Array: ...

    @abc.abstractmethod
    def max_speed(self, t_end: ArrayLike) -> Array: ...

    def face_fluxes(self, u, t, dx, boundary_order):
        return godunov_fluxes(self.riemann, u, t, self.left, self.right, dx)

    def stable_dt(self, dx, t_end, boundary_order):
        return dx / self.max_speed(t_end)


class Advection(ConservationLaw):
    """Linear advection ``u_t + a u_x = 0``: a step carried at speed ``a`` (> 0) from the
    inflow wall ``u(0, t) = 1``; outflow (``u_x = 0``) at ``x = 1``."""

    a: ArrayLike = 1.0

    domain: ClassVar = (0.0, 1.0)
    t_span: ClassVar = (0.0, 1.0)
    parameter: ClassVar = "a"
    train_range: ClassVar = (1.0, 5.0)
    test_values: ClassVar = (1.0, 3.0)

    def __check_init__(self):
        check_positive("Advection: a (speed)", self.a)

    @property
    def left(self):
        return Dirichlet(1.0)

    @property
    def right(self):
        return Neumann(0.0)

    def initial(self, x):
        return jnp.where(x <= 0.5, 1.0, 0.0).astype(jnp.result_type(x))

    def exact(self, x, t):
        x, t = outer(x, t)
        return cf.advection_step(x, t, self.a)

    def mass(self, t):
        return cf.advection_mass(t, self.a)

    def riemann(self, u_left, u_right):
        return self.a * u_left  # upwind: a > 0

    def max_speed(self, t_end):
        return jnp.asarray(self.a)

    def residual(self, u, u_t, u_x, u_xx):
        """``u_t + a u_x`` (``u_xx`` only sets the shape). Shapes as in
        :meth:`Problem.residual`: a batch of speeds runs along the fields' leading axis, one
        speed per function (the reference code penalised each function with every speed of
        the batch)."""
        u, u_t, u_x, u_xx = jnp.broadcast_arrays(u, u_t, u_x, u_xx)
        a = along_batch(self.a, u, name="Advection: a")
        return u_t + a * u_x

    def invalid(self):
        ok = jnp.isfinite(self.a) & (self.a > 0)
        return [(~jnp.all(ok), "Advection: a (speed) must be positive and finite")]


class Burgers(ConservationLaw):
    """Inviscid Burgers ``u_t + (u^2/2)_x = 0`` on [-1, 1]: ramp ``u0 = -a x`` for ``x <= 0``
    (0 beyond), inflow ``u(-1, t) = a``, outflow at ``x = 1``. A shock forms at ``t = 1/a``
    and leaves the domain at ``t = 3/a``."""

    a: ArrayLike = 3.0

    domain: ClassVar = (-1.0, 1.0)
    t_span: ClassVar = (0.0, 1.0)
    parameter: ClassVar = "a"
    train_range: ClassVar = (1.0, 4.0)
    test_values: ClassVar = (1.0, 3.0)

    def __check_init__(self):
        check_positive("Burgers: a (inflow value)", self.a)

    @property
    def left(self):
        return Dirichlet(self.a)

    @property
    def right(self):
        return Neumann(0.0)

    def initial(self, x):
        return jnp.where(x <= 0, -self.a * x, 0.0).astype(jnp.result_type(x))

    def exact(self, x, t):
        x, t = outer(x, t)
        return cf.burgers_ramp(x, t, self.a)

    def mass(self, t):
        return cf.burgers_mass(t, self.a)

    def riemann(self, u_left, u_right):
        # Godunov flux of a convex flux with sonic point 0
        f = lambda u: 0.5 * u * u
        return jnp.maximum(f(jnp.maximum(u_left, 0.0)), f(jnp.minimum(u_right, 0.0)))

    def max_speed(self, t_end):
        return jnp.asarray(self.a)

    def residual(self, u, u_t, u_x, u_xx):
        """``u_t + u u_x`` (the flux is ``u^2/2``; ``a`` is the initial ramp's amplitude and
        inflow value, not a coefficient of the equation, so it does not appear). The result
        has the fields' broadcast shape whatever ``a`` holds."""
        u, u_t, u_x, u_xx = jnp.broadcast_arrays(u, u_t, u_x, u_xx)
        return u_t + u * u_x

    def invalid(self):
        ok = jnp.isfinite(self.a) & (self.a > 0)
        return [(~jnp.all(ok), "Burgers: a (inflow value) must be positive and finite")]
