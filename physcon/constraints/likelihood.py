"""Training through the constrained likelihood (ProbConserv's ``PhysNP.training_step``).

Instead of the ANP's diagonal Gaussian likelihood ``log N(y; mu, D)``, the model is scored by
the likelihood of the targets *given the conservation law*: with one noisy linear
observation ``c_j = g_j^T y_j + sigma_G eps`` of the mass of each target time slice ``j``,

``log p(y | c) = log N(y; mu, D) + log N(c; G y, sigma_G^2) - log N(c; G mu, G D G^T + sigma_G^2)``,

i.e. the log density of the conditioned Gaussian ``N(mu~, Sigma~)`` of
:func:`~physcon.constraints.probconserv` at ``y`` (computed in ``O(n)`` by
:meth:`~physcon.distributions.ConditionedGaussian.log_prob`). Use it through
``physcon.models.elbo_loss(..., nll=partial(constrained_nll, grid_shape=(10, 10), noise=...))``.

``c`` is the trapezoid mass of the *observed* targets, ``c = G y`` (as in the reference
code, which ignores the analytic mass here): the targets are a few random positions per time,
and the trapezoid rule on them does not integrate the domain, so the analytic ``b(t)`` would
be inconsistent with the data; ``G y`` is what the targets can actually constrain.
``sigma_G > 0`` is needed (with ``sigma_G = 0`` the conditioned Gaussian is singular).
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from physcon.constraints.conservation import LinearConstraint, probconserv
from physcon.distributions import DiagonalGaussian


def trapezoid_weights(x: Float[ArrayLike, "... n"]) -> Float[Array, "... n"]:
    """Trapezoid weights on sorted (not necessarily uniform) points, along the last axis:
    ``w_i = (x_{i+1} - x_{i-1}) / 2`` inside, half intervals at the two ends."""
    x = jnp.asarray(x)
    d = jnp.diff(x, axis=-1)
    pad = jnp.zeros(x.shape[:-1] + (1,), x.dtype)
    return 0.5 * (jnp.concatenate([pad, d], -1) + jnp.concatenate([d, pad], -1))


def constrained_nll(
    prediction: DiagonalGaussian,
    target_x: Float[ArrayLike, "n 2"],
    target_y: Float[ArrayLike, " n"],
    *,
    grid_shape: tuple[int, int],
    noise: float | ArrayLike,
) -> Float[Array, ""]:
    """``-log p(y | G y + sigma_G eps = G y)`` for one function's targets.

    Args:
        prediction: the model's diagonal Gaussian at the targets, mean/variance ``(n,)``.
        target_x: ``(n, 2)`` points ``(t, x)`` on a tensor grid, time-major: ``grid_shape =
            (n_t, n_x)`` with ``n = n_t * n_x``, each row of ``n_x`` positions sorted (the
            layout of :func:`physcon.tasks.sample_tasks`).
        target_y: ``(n,)`` observed values.
        grid_shape: ``(n_t, n_x)``.
        noise: ``sigma_G > 0``, the constraint's noise standard deviation (scalar or ``(n_t,)``).
    """
    n_t, n_x = (int(v) for v in grid_shape)
    mean = jnp.reshape(prediction.mean, (-1,))
    if mean.shape[0] != n_t * n_x:
        raise ValueError(f"prediction has {mean.shape[0]} targets, grid_shape {grid_shape} needs {n_t * n_x}")
    tx = jnp.asarray(target_x)
    if tx.shape != (n_t * n_x, 2):
        raise ValueError(f"target_x must have shape (n, 2) = ({n_t * n_x}, 2), got {tx.shape}")
    y = jnp.reshape(jnp.asarray(target_y, mean.dtype), (n_t, n_x))
    w = trapezoid_weights(tx[:, 1].reshape(n_t, n_x)).astype(mean.dtype)
    G = w[:, None, :]
    law = LinearConstraint(G, jnp.sum(w * y, -1, keepdims=True), noise)
    post = probconserv(DiagonalGaussian(mean.reshape(n_t, n_x), prediction.variance.reshape(n_t, n_x)), law)
    return -post.log_prob(y)
