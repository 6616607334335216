"""The interface shared by the 1-D problems the finite-volume solver integrates.

A problem is an ``eqx.Module`` whose array fields are its physical parameters (so ``vmap``
over a batch of problems maps over the parameters). It carries its domain, default time
window, initial and boundary data, its closed-form solution and total mass, and the face
fluxes and stable step of its finite-volume discretisation.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


def outer(x: ArrayLike, t: ArrayLike) -> tuple[Array, Array]:
    """Broadcast ``x`` and ``t`` for a field: 1-D ``x`` (nx) and 1-D ``t`` (nt) give a
    ``(nt, nx)`` field; otherwise they broadcast as they are."""
    x, t = jnp.asarray(x), jnp.asarray(t)
    if x.ndim == 1 and t.ndim == 1:
        return x[None, :], t[:, None]
    return x, t


class Problem(eqx.Module):
    """Base class of the 1-D problems. Subclasses define the abstract members below.

    Class attributes:
        domain: ``(a, b)``, the spatial interval.
        t_span: ``(t0, t1)``, the time window of the paper's set-up.
        parameter: name of the physical parameter field that data generation varies.
        train_range: the paper's training distribution ``U[lo, hi]`` of that parameter.
        test_values: the paper's test values of that parameter.
    """

    domain: ClassVar[tuple[float, float]]
    t_span: ClassVar[tuple[float, float]]
    parameter: ClassVar[str]
    train_range: ClassVar[tuple[float, float]]
    test_values: ClassVar[tuple[float, ...]]

    @property
    @abc.abstractmethod
    def left(self): ...

    @property
    @abc.abstractmethod
    def right(self): ...

    @abc.abstractmethod
    def initial(self, x: Float[ArrayLike, " nx"]) -> Float[Array, " nx"]:
        """Initial data at the points ``x``."""

    @abc.abstractmethod
    def exact(self, x: ArrayLike, t: ArrayLike) -> Float[Array, "..."]:
        """Closed-form solution; 1-D ``x`` and ``t`` give shape ``(nt, nx)``."""

    @abc.abstractmethod
    def mass(self, t: ArrayLike) -> Float[Array, "..."]:
        """Total mass ``integral u(x, t) dx`` over the domain, from the closed form."""

    @abc.abstractmethod
    def face_fluxes(self, u, t, dx: float, boundary_order: int) -> Float[Array, " nx+1"]:
        """Numerical fluxes through the ``nx + 1`` cell faces (positive along +x)."""

    @abc.abstractmethod
    def stable_dt(self, dx: float, t_end: ArrayLike, boundary_order: int) -> Float[Array, ""]:
        """Largest stable (monotone) forward-Euler step up to ``t_end``."""

    @abc.abstractmethod
    def invalid(self) -> list[tuple[Array, str]]:
        """``(condition, message)`` pairs that flag invalid parameters (checked under jit)."""

    @property
    def value(self) -> Array:
        """The value of the varied physical parameter."""
        return getattr(self, self.parameter)


def check_positive(name: str, value) -> None:
    """Eager check of a concrete parameter (tracers pass; :meth:`Problem.invalid` catches them)."""
    try:
        value_ = jnp.asarray(value)
        bad = bool(jnp.any(~(jnp.isfinite(value_) & (value_ > 0))))
    except jax.errors.ConcretizationTypeError:  # a tracer: the jit-time check handles it
        return
    if bad:
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
