"""The diffusion problems of the GPME family, ``u_t = (k(u) u_x)_x``.

The three diffusion classes of ProbConserv (Hansen et al., ICML 2023, Sec. 4) with the paper's
domains, time windows, parameter ranges and closed forms (table in :mod:`physcon.solvers.gpme`):
:class:`Diffusion` (constant ``k``), :class:`PorousMedium` (``k = u^m``) and :class:`Stefan`
(``k = 1[u >= u*]``).

Each problem's :meth:`~Problem.residual` is the strong-form pointwise residual
``u_t - (k(u) u_x)_x = u_t - k'(u) u_x^2 - k(u) u_xx`` that the SoftC baseline penalises
(``physcon.constraints.soft``).
"""

from __future__ import annotations

import abc
from typing import ClassVar, Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import Dirichlet, Neumann, Periodic, wall_derivative_weights
from physcon.solvers.gpme import exact as cf
from physcon.solvers.gpme.fv import kirchhoff_fluxes
from physcon.solvers.gpme.problem import Problem, along_batch, check_positive, outer

__all__ = ["DiffusionProblem", "Diffusion", "PorousMedium", "Stefan"]


def _relu_pow(u, p):
    """``relu(u)^p`` with finite gradients at ``u = 0`` (also in ``p``)."""
    pos = u > 0
    return jnp.where(pos, jnp.where(pos, u, 1.0) ** p, 0.0)


class DiffusionProblem(Problem):
    """``u_t = (k(u) u_x)_x``. Subclasses give ``k`` (:meth:`diffusivity`), its Kirchhoff
    potential ``Phi(u) = integral_0^u k`` (:meth:`potential`) and a bound on ``k`` over the
    solution's range (:meth:`max_diffusivity`), which fixes the stable step."""

    @abc.abstractmethod
    def diffusivity(self, u: Array) -> Array: ...

    @abc.abstractmethod
    def potential(self, u: Array) -> Array: ...

    @abc.abstractmethod
    def max_diffusivity(self, t_end: ArrayLike) -> Array: ...

    def face_fluxes(self, u, t, dx, boundary_order):
        return kirchhoff_fluxes(
            self.potential, self.diffusivity, u, t, self.left, self.right, dx, boundary_order
        )

    def stable_dt(self, dx, t_end, boundary_order):
        # diagonal of the explicit operator: 2/dx^2 inside, (1 + w_1 dx)/dx^2 next to a
        # Dirichlet wall (3 for order 1, 4 for order 2); monotone iff dt L diag <= 1
        c = 2.0
        if any(isinstance(bc, Dirichlet) for bc in (self.left, self.right)):
            c = max(c, 1.0 + wall_derivative_weights(boundary_order, dx, True)[1] * dx)
        return dx * dx / (c * self.max_diffusivity(t_end))


class Diffusion(DiffusionProblem):
    """Heat equation ``u_t = k u_xx`` on ``[0, 2 pi]``, ``u(x, 0) = sin x``; exact solution
    ``exp(-k t) sin x``, total mass 0.

    Attributes:
        k: diffusivity (> 0), paper range U[1, 5].
        walls: ``"periodic"`` (the paper's set-up), ``"dirichlet"`` (``u = 0``) or
            ``"neumann"`` (``u_x = exp(-k t)``); the closed form holds for each.
    """

    k: ArrayLike = 1.0
    walls: Literal["periodic", "dirichlet", "neumann"] = eqx.field(static=True, default="periodic")

    domain: ClassVar = (0.0, 2.0 * jnp.pi)
    t_span: ClassVar = (0.0, 1.0)
    parameter: ClassVar = "k"
    train_range: ClassVar = (1.0, 5.0)
    test_values: ClassVar = (1.0, 5.0)

    def __check_init__(self):
        check_positive("Diffusion: k (diffusivity)", self.k)
        if self.walls not in ("periodic", "dirichlet", "neumann"):
            raise ValueError(f"Diffusion: walls must be periodic, dirichlet or neumann, got {self.walls!r}")

    def _wall(self):
        if self.walls == "periodic":
            return Periodic()
        if self.walls == "dirichlet":
            return Dirichlet(0.0)
        return Neumann(lambda t: jnp.exp(-self.k * t))

    @property
    def left(self):
        return self._wall()

    @property
    def right(self):
        return self._wall()

    def initial(self, x):
        return jnp.sin(x)

    def exact(self, x, t):
        x, t = outer(x, t)
        return cf.heat_sine(x, t, self.k)

    def mass(self, t):
        return cf.heat_sine_mass(t, self.k, *self.domain)

    def diffusivity(self, u):
        return self.k * jnp.ones_like(u)

    def potential(self, u):
        return self.k * u

    def max_diffusivity(self, t_end):
        return jnp.asarray(self.k)

    def residual(self, u, u_t, u_x, u_xx):
        """``u_t - k u_xx``. Shapes as in :meth:`Problem.residual` (a batch of ``k`` runs
        along the fields' leading axis)."""
        u, u_t, u_x, u_xx = jnp.broadcast_arrays(u, u_t, u_x, u_xx)
        k = along_batch(self.k, u, name="Diffusion: k")
        return u_t - k * u_xx

    def invalid(self):
        ok = jnp.isfinite(self.k) & (self.k > 0)
        return [(~jnp.all(ok), "Diffusion: k (diffusivity) must be positive and finite")]


class PorousMedium(DiffusionProblem):
    """Porous medium equation ``u_t = (u^m u_x)_x`` on ``[0, 1]``, ``u(x, 0) = 0``,
    ``u(0, t) = (m t)^(1/m)``, no flux at ``x = 1``.

    Exact solution ``(m relu(t - x))^(1/m)``: a front at ``x = t`` (valid for ``t <= 1``).

    Attributes:
        m: exponent (> 0), paper range U[1, 6].
    """

    m: ArrayLike = 3.0

    domain: ClassVar = (0.0, 1.0)
    t_span: ClassVar = (0.0, 1.0)
    parameter: ClassVar = "m"
    train_range: ClassVar = (1.0, 6.0)
    test_values: ClassVar = (1.0, 3.0, 6.0)

    def __check_init__(self):
        check_positive("PorousMedium: m (exponent)", self.m)

    @property
    def left(self):
        return Dirichlet(lambda t: cf.pme_boundary(t, self.m))

    @property
    def right(self):
        return Neumann(0.0)

    def initial(self, x):
        return jnp.zeros_like(x)

    def exact(self, x, t):
        x, t = outer(x, t)
        return cf.pme_front(x, t, self.m)

    def mass(self, t):
        return cf.pme_mass(t, self.m)

    def diffusivity(self, u):
        return _relu_pow(u, self.m)

    def potential(self, u):
        return _relu_pow(u, self.m + 1.0) / (self.m + 1.0)

    def max_diffusivity(self, t_end):
        # the maximum principle bounds u by the wall value (m t)^(1/m), so k <= m t
        return jnp.maximum(self.m * jnp.asarray(t_end), jnp.finfo(jnp.result_type(t_end)).tiny)

    def residual(self, u, u_t, u_x, u_xx):
        """``u_t - (u^m u_x)_x = u_t - (m u^(m-1) u_x^2 + u^m u_xx)`` with ``u`` replaced by
        ``relu(u)`` in the powers (``k = relu(u)^m``, as in the reference), so the residual
        stays real (and finite) for negative ``u``; both powers are 0 for ``u <= 0`` (so
        ``m = 1`` gives ``u_x^2 + u u_xx`` for ``u > 0`` and ``u_t`` for ``u <= 0``). For
        ``m < 1`` the first term grows like ``u^(m-1)`` as ``u -> 0+``. Shapes as in
        :meth:`Problem.residual`."""
        u, u_t, u_x, u_xx = jnp.broadcast_arrays(u, u_t, u_x, u_xx)
        m = along_batch(self.m, u, name="PorousMedium: m")
        return u_t - (m * _relu_pow(u, m - 1.0) * u_x * u_x + _relu_pow(u, m) * u_xx)

    def invalid(self):
        ok = jnp.isfinite(self.m) & (self.m > 0)
        return [(~jnp.all(ok), "PorousMedium: m (exponent) must be positive and finite")]


class Stefan(DiffusionProblem):
    """Stefan problem as a degenerate GPME: ``k(u) = 1`` for ``u >= u*``, else 0, on
    ``[0, 1]``, ``u(x, 0) = 0``, ``u(0, t) = 1``, no flux at ``x = 1``, ``t`` in [0, 0.1].

    The solution jumps from ``u*`` to 0 at the front ``x*(t) = alpha sqrt(t)``. The scheme
    works with the Kirchhoff potential ``relu(u - u*)`` (an enthalpy method).

    Attributes:
        u_star: phase-change value in (0, 1), paper range U[0.55, 0.7].
    """

    u_star: ArrayLike = 0.6

    domain: ClassVar = (0.0, 1.0)
    t_span: ClassVar = (0.0, 0.1)
    parameter: ClassVar = "u_star"
    train_range: ClassVar = (0.55, 0.7)
    test_values: ClassVar = (0.5, 0.6)

    def __check_init__(self):
        check_positive("Stefan: u_star", self.u_star)
        check_positive("Stefan: 1 - u_star", 1.0 - jnp.asarray(self.u_star))

    @property
    def left(self):
        return Dirichlet(1.0)

    @property
    def right(self):
        return Neumann(0.0)

    def initial(self, x):
        return jnp.zeros_like(x)

    def exact(self, x, t):
        x, t = outer(x, t)
        return cf.stefan(x, t, self.u_star)

    def mass(self, t):
        return cf.stefan_mass(t, self.u_star)

    def front(self, t: ArrayLike) -> Float[Array, "..."]:
        """Exact front (shock) position ``alpha sqrt(t)``."""
        return cf.stefan_front(t, self.u_star)

    def diffusivity(self, u):
        return jnp.where(u >= self.u_star, 1.0, 0.0).astype(u.dtype)

    def potential(self, u):
        return jnp.maximum(u - self.u_star, 0.0)

    def max_diffusivity(self, t_end):
        return jnp.ones((), jnp.result_type(t_end))

    def residual(self, u, u_t, u_x, u_xx):
        """``u_t - 1[u >= u*] u_xx``: the smooth part of ``u_t - (k(u) u_x)_x``.

        The interface term ``k'(u) u_x^2 = delta(u - u*) u_x^2`` (a delta function at the
        front, which carries the latent-heat jump condition) has no pointwise value and is
        dropped. The reference SoftC code loses it the same way (autograd of the indicator is
        0). The residual is therefore 0 for any ``u`` that solves the heat equation where
        ``u >= u*`` and has ``u_t = 0`` elsewhere, whatever the front does: it does not pin
        the front speed. Shapes as in :meth:`Problem.residual`.
        """
        u, u_t, u_x, u_xx = jnp.broadcast_arrays(u, u_t, u_x, u_xx)
        u_star = along_batch(self.u_star, u, name="Stefan: u_star")
        return u_t - jnp.where(u >= u_star, u_xx, jnp.zeros_like(u_xx))

    def invalid(self):
        ok = (self.u_star > 0) & (self.u_star < 1)
        return [(~jnp.all(ok), "Stefan: u_star must lie in (0, 1)")]

