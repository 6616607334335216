"""SoftC: the PINN-style penalty baseline of ProbConserv (Hansen et al., ICML 2023).

SoftC-ANP trains an ANP with the PDE residual of its predictive mean added to the loss,

    loss = ANP loss + lambda * mean_j r(t_j, x_j)^2,   r = R(u, u_t, u_x, u_xx),

at the target points ``(t_j, x_j)`` (``lambda = 1`` in the paper), ``R`` the strong-form
residual of the problem (``problem.residual``, e.g. ``u_t - k u_xx`` for the heat equation).
The constraint is *soft*: it only biases training, and the trained model satisfies neither the
PDE nor the conservation law exactly (contrast :func:`~physcon.constraints.probconserv` and
:func:`~physcon.constraints.hard_projection`, which enforce ``G u = b`` at inference).

* :func:`pointwise_residual` evaluates ``r`` at a batch of points for a function
  ``u_fn(p) -> scalar`` of one point ``p = (t, x)``; :func:`soft_penalty` is
  ``weight * mean(r^2)``. The derivatives ``u_t``, ``u_x``, ``u_xx`` come from forward-mode
  autodiff (one nested ``jax.jvp`` along ``x`` and one along ``t``; no Hessian is formed), so
  the penalty is differentiable (``jax.grad``) in whatever ``u_fn`` closes over, and composes
  with ``jit`` and ``vmap``.
* :func:`conservation_penalty` is the soft version of the conservation law itself,
  ``weight * mean((G u - b)^2)`` for a :class:`~physcon.constraints.LinearConstraint`.

Relation to the reference code (``softc.py``):

* **Fix**: the reference advection residual broadcasts the per-function speeds ``(nf, 1, 1, 1)``
  against ``u_x`` of shape ``(nf, n, 1)``, so each function is penalised with *every* speed in
  the batch. Here each function carries its own problem: ``vmap`` over ``(problem, u_fn)``
  pairs (see :func:`soft_penalty`), or use a batched problem whose parameters run along the
  leading axis of the fields (``Problem.residual``); a batched problem passed to one scalar
  ``u_fn`` is rejected rather than silently broadcast.
* Same as the reference: the Stefan residual ``u_t - 1[u >= u*] u_xx`` has no interface term
  (autograd of the indicator is 0), so it does not constrain the front speed.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from physcon.constraints.conservation import LinearConstraint

__all__ = ["pointwise_residual", "soft_penalty", "conservation_penalty"]

UFn = Callable[[Float[Array, "2"]], Float[Array, ""]]
ResidualFn = Callable[[Array, Array, Array, Array], Array]


def _check_inputs(u_fn, points, residual) -> Float[Array, "n 2"]:
    if not callable(u_fn):
        raise ValueError(f"u_fn must be a callable mapping a point (t, x) of shape (2,) to a scalar, "
                         f"got {type(u_fn).__name__}")
    if not callable(residual):
        raise ValueError(f"residual must be a callable residual(u, u_t, u_x, u_xx) (e.g. problem.residual), "
                         f"got {type(residual).__name__}")
    points = jnp.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), columns (t, x), got {points.shape}")
    if not jnp.issubdtype(points.dtype, jnp.floating):
        points = points.astype(jnp.result_type(float))
    return points


def _jet(u_fn: UFn, p: Float[Array, "2"]) -> tuple[Array, Array, Array, Array]:
    """``(u, u_t, u_x, u_xx)`` at one point ``p = (t, x)`` by forward-mode autodiff."""
    e_t, e_x = jnp.eye(2, dtype=p.dtype)

    def along_x(q):
        return jax.jvp(u_fn, (q,), (e_x,))  # (u, u_x)

    (u, u_x), (_, u_xx) = jax.jvp(along_x, (p,), (e_x,))
    if jnp.shape(u) != ():
        raise ValueError(
            f"u_fn must return a scalar for one point p = (t, x) of shape (2,), got shape {jnp.shape(u)} "
            "(wrap it, e.g. lambda p: f(p)[0], and vmap over functions rather than returning several)"
        )
    _, u_t = jax.jvp(u_fn, (p,), (e_t,))
    return u, u_t, u_x, u_xx


def pointwise_residual(
    u_fn: UFn, points: Float[ArrayLike, "n 2"], residual: ResidualFn
) -> Float[Array, " n"]:
    """The PDE residual ``r_j = residual(u, u_t, u_x, u_xx)`` of ``u_fn`` at each point.

    Args:
        u_fn: ``u(p)`` for one point ``p = (t, x)`` of shape ``(2,)``, returning a scalar
            (e.g. a model's predictive mean at that target, the context closed over). It must
            be differentiable twice in ``x`` and once in ``t`` by ``jax.jvp``.
        points: ``(n, 2)`` points, columns ``(t, x)``.
        residual: ``residual(u, u_t, u_x, u_xx)`` on scalars, returning a scalar, e.g.
            ``problem.residual`` of a problem holding one parameter value.

    Returns:
        ``r`` of shape ``(n,)``. ``u_x``, ``u_xx`` and ``u_t`` come from forward-mode
        autodiff (no full Hessian). To use a different problem per function, ``vmap`` over
        ``(problem, parameters of u_fn)`` outside this call.

    Raises:
        ValueError: ``u_fn`` or ``residual`` is not callable, ``points`` is not ``(n, 2)``,
            ``u_fn`` does not return a scalar, or ``residual`` does not return one value per
            point (e.g. a problem holding a batch of parameters, which would penalise the
            function with every member of the batch).
    """
    points = _check_inputs(u_fn, points, residual)

    def one(p):
        r = residual(*_jet(u_fn, p))
        if jnp.shape(r) != ():
            raise ValueError(
                f"residual must return a scalar for scalar (u, u_t, u_x, u_xx), got shape {jnp.shape(r)}; "
                "a problem holding a batch of parameters gives one residual per parameter: vmap over "
                "(problem, u_fn) pairs instead, so each function is penalised with its own parameter"
            )
        return r

    return jax.vmap(one)(points)


def soft_penalty(
    u_fn: UFn,
    points: Float[ArrayLike, "n 2"],
    residual: ResidualFn,
    *,
    weight: float | ArrayLike = 1.0,
) -> Float[Array, ""]:
    """The SoftC penalty ``weight * mean_j r_j^2`` of :func:`pointwise_residual`.

    Added to a model's training loss (ProbConserv's SoftC-ANP uses ``weight = 1`` on the
    predictive mean at the target points). Differentiable in whatever ``u_fn`` closes over;
    ``jit``- and ``vmap``-compatible. For a batch of functions with their own parameters::

        def one(problem, theta):
            return soft_penalty(lambda p: model(theta, p), points, problem.residual)

        eqx.filter_vmap(one)(Diffusion(k=ks), thetas)  # (B,): function i with k_i

    Args:
        u_fn, points, residual: as in :func:`pointwise_residual`; ``points`` must hold at
            least one point.
        weight: the penalty weight ``lambda`` (keyword only).

    Returns:
        A scalar.
    """
    points = _check_inputs(u_fn, points, residual)
    if points.shape[0] == 0:
        raise ValueError("points must hold at least one point, got shape (0, 2)")
    r = pointwise_residual(u_fn, points, residual)
    return weight * jnp.mean(r * r)


def conservation_penalty(
    mean: Float[ArrayLike, "nt nx"], law: LinearConstraint, weight: float | ArrayLike = 1.0
) -> Float[Array, ""]:
    """Soft conservation law: ``weight * mean((G u - b)^2)`` over the ``(nt, r)`` residuals.

    The penalty counterpart of :func:`~physcon.constraints.probconserv` (which enforces
    ``G u = b`` exactly); ``law.noise`` is ignored.

    Args:
        mean: ``(nt, nx)`` field, e.g. a prediction's mean.
        law: a :class:`~physcon.constraints.LinearConstraint` (``conservation_law(...)``).
        weight: the penalty weight.

    Returns:
        A scalar, differentiable in ``mean``, ``law`` and ``weight``.
    """
    if not isinstance(law, LinearConstraint):
        raise ValueError(f"law must be a LinearConstraint (see conservation_law), got {type(law).__name__}")
    mean = jnp.asarray(mean)
    nt, _, nx = law.G.shape
    if mean.shape != (nt, nx):
        raise ValueError(f"mean must have shape (nt, nx) = {(nt, nx)} to match law, got {mean.shape}")
    r = law.residual(mean)
    return weight * jnp.mean(r * r)
