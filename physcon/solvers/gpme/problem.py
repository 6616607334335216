"""The interface shared by the 1-D problems the finite-volume solver integrates.

A problem is an ``eqx.Module`` whose array fields are its physical parameters (so ``vmap``
over a batch of problems maps over the parameters). It carries its domain, default time
window, initial and boundary data, its closed-form solution and total mass, the face
fluxes and stable step of its finite-volume discretisation, and the strong-form pointwise PDE
residual (:meth:`Problem.residual`, the SoftC / PINN penalty's integrand).
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

    def residual(
        self,
        u: Float[ArrayLike, "*shape"],
        u_t: Float[ArrayLike, "*shape"],
        u_x: Float[ArrayLike, "*shape"],
        u_xx: Float[ArrayLike, "*shape"],
    ) -> Float[Array, "*shape"]:
        """Strong-form pointwise PDE residual ``r(u, u_t, u_x, u_xx)``; zero where a smooth
        ``u`` solves the equation (the integrand of the SoftC / PINN penalty).

        Args:
            u, u_t, u_x, u_xx: the field and its derivatives at the same points; arrays that
                broadcast together (any shape, e.g. scalars for one point, ``(n,)``).

        Returns:
            ``r`` with the fields' broadcast shape. A problem holding a 1-D batch of ``B``
            parameter values (``Diffusion(k=jnp.array([...]))``) aligns the batch with the
            *leading* axis of the fields, as ``vmap`` would: fields of shape ``(B, ...)``
            (or with a leading 1, or scalars) give ``(B, ...)``, member ``i`` of the output
            using parameter ``i``. Any other leading size raises ``ValueError``.

        Subclasses that have a pointwise form override this; the base raises
        ``NotImplementedError``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not define a pointwise PDE residual; override "
            "Problem.residual(u, u_t, u_x, u_xx) to use it with the SoftC penalty"
        )


def along_batch(value, *fields: ArrayLike, name: str = "parameter"):
    """A problem parameter made to broadcast against the pointwise fields of a residual.

    A scalar ``value`` is returned as it is (Python numbers stay weakly typed, so float32
    fields stay float32). A 1-D batch of ``B`` values is aligned with the *leading* axis of
    the fields' broadcast shape: reshaped to ``(B, 1, ..., 1)``; scalar fields give ``(B,)``.
    Raises ``ValueError`` if that leading size is neither ``B`` nor 1, or the parameter has
    more than one axis.
    """
    if jnp.ndim(value) == 0:
        return value
    value = jnp.asarray(value)
    if value.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D batch, got shape {value.shape}")
    shape = jnp.broadcast_shapes(*(jnp.shape(f) for f in fields))
    b = value.shape[0]
    if not shape:
        return value
    if shape[0] not in (1, b):
        raise ValueError(
            f"{name} holds a batch of {b} values, aligned with the leading axis of the fields, "
            f"but the fields have shape {shape}; pass fields of shape ({b}, ...) or vmap over "
            "(problem, fields) pairs"
        )
    return value.reshape((b,) + (1,) * (len(shape) - 1))


def check_positive(name: str, value) -> None:
    """Eager check of a concrete parameter (tracers pass; :meth:`Problem.invalid` catches them)."""
    try:
        value_ = jnp.asarray(value)
        bad = bool(jnp.any(~(jnp.isfinite(value_) & (value_ > 0))))
    except jax.errors.ConcretizationTypeError:  # a tracer: the jit-time check handles it
        return
    if bad:
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
