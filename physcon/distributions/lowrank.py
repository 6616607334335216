"""Diagonal + low-rank Gaussians: ``Sigma = H + W^T W`` with ``W`` of rank ``M << N``.

The low-rank part comes from ``M`` ensemble members (their spread) or ``M`` features; ``H`` is
a diagonal (the members' own variances, or a nugget) or, after
:func:`physcon.constraints.probconserv`, a diagonal conditioned per block
(:class:`~physcon.distributions.ConditionedGaussian`). Mean, variance, samples and densities
cost ``O(N M^2)``; no ``N x N`` matrix is built unless :meth:`covariance` is asked for.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions._common import LOG_2PI, as_float, checked_finite, sample_shape
from physcon.distributions.diagonal import ConditionedGaussian, DiagonalGaussian


class _PlusLowRank(eqx.Module):
    """Shared algebra of ``N(base.mean, cov(base) + W^T W)``; ``W = factor`` of shape
    ``(M, *shape)`` (one row of the factor per member or feature)."""

    base: eqx.AbstractVar[eqx.Module]
    factor: eqx.AbstractVar[Array]

    @property
    def mean(self) -> Array:
        return self.base.mean

    @property
    def rank(self) -> int:
        return self.factor.shape[0]

    @property
    def variance(self) -> Array:
        """``var(base) + sum_m W_m^2``, shape of ``mean``."""
        return self.base.variance + jnp.sum(self.factor**2, 0)

    @property
    def std(self) -> Array:
        return jnp.sqrt(self.variance)

    def covariance(self) -> Array:
        """Dense ``(N, N)`` covariance of the flattened field (only for small fields)."""
        base = self.base.covariance()
        if base.ndim == 3:  # per-block covariances of a ConditionedGaussian
            base = jax.scipy.linalg.block_diag(*base)
        W = self.factor.reshape(self.rank, -1)
        return base + W.T @ W

    def sample(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """``base sample + W^T xi``, ``xi ~ N(0, I_M)``; shape ``(n, *mean.shape)``. After an
        exact ProbConserv update, ``G W^T = 0`` and the base sample is Matheron's, so every
        sample satisfies ``G y = b`` to round-off."""
        k1, k2 = jax.random.split(key)
        xi = jax.random.normal(k2, sample_shape(n) + (self.rank,), self.mean.dtype)
        return self.base.sample(k1, n) + jnp.tensordot(xi, self.factor, axes=1)

    def marginal_log_prob(self, u: ArrayLike) -> Array:
        var = self.variance
        return -0.5 * ((jnp.asarray(u) - self.mean) ** 2 / var + jnp.log(var) + LOG_2PI)

    def log_prob(self, u: ArrayLike) -> Array:
        """Joint log density by Woodbury: with ``C = I + W H^-1 W^T`` (``M x M``),
        ``Sigma^-1 = H^-1 - H^-1 W^T C^-1 W H^-1`` and ``log det Sigma = log det H + log det C``.
        Needs a non-singular ``H`` (positive variances; after conditioning, ``noise > 0``)."""
        r = jnp.asarray(u) - self.mean
        axes = tuple(range(1, self.factor.ndim))
        Hr = self.base._solve(r)
        HW = self.base._solve(self.factor)
        C = jnp.eye(self.rank, dtype=r.dtype) + jnp.tensordot(self.factor, HW, axes=(axes, axes))
        Lc = jnp.linalg.cholesky(C)
        q = jax.scipy.linalg.solve_triangular(Lc, jnp.tensordot(self.factor, Hr, axes=(axes, tuple(range(r.ndim)))),
                                              lower=True)
        quad = jnp.sum(r * Hr) - q @ q
        logdet = self.base._logdet() + 2.0 * jnp.sum(jnp.log(jnp.diagonal(Lc)))
        return -0.5 * (quad + logdet + r.size * LOG_2PI)


class LowRankGaussian(_PlusLowRank):
    """``N(mean, diag(variance) + W^T W)``: a diagonal plus a rank-``M`` covariance.

    Args:
        mean: ``(*shape)`` (e.g. ``(nt, nx)``).
        variance: the diagonal part, ``(*shape)``, finite and >= 0 (ProbConserv needs it
            positive where the constraint acts).
        factor: ``W``, ``(M, *shape)``: row ``m`` is the ``m``-th direction of the low-rank
            part, e.g. ``(u_m - mean) / sqrt(M)`` for ensemble members ``u_m``
            (:meth:`from_members`).
    """

    base: DiagonalGaussian
    factor: Float[Array, "M *shape"]

    def __init__(self, mean: ArrayLike, variance: ArrayLike, factor: ArrayLike):
        self.base = DiagonalGaussian(mean, variance)
        factor = as_float(factor).astype(self.base.mean.dtype)
        if factor.ndim != self.base.mean.ndim + 1 or factor.shape[1:] != self.base.mean.shape:
            raise ValueError(
                f"factor must have shape (M, *mean.shape) = (M, {', '.join(map(str, self.base.mean.shape))}), "
                f"got {factor.shape}")
        self.factor = checked_finite(factor, "factor")

    @classmethod
    def from_members(cls, means: ArrayLike, variances: ArrayLike | float = 0.0) -> LowRankGaussian:
        """The moment-matched mixture of ``M`` equally weighted members (an ensemble).

        Args:
            means: the members' predictions, ``(M, *shape)``.
            variances: each member's own (aleatoric) variance, ``(M, *shape)`` or anything
                broadcasting to it (a nugget); its member average is the diagonal part.

        Returns:
            ``mean = avg_m u_m``, ``variance = avg_m var_m`` and ``W_m = (u_m - mean) / sqrt(M)``,
            so the covariance is the mixture's exactly (between-member spread with ``ddof = 0``).
        """
        means = as_float(means)
        if means.ndim < 2:
            raise ValueError(f"means must have shape (M, *shape) with M >= 1, got {means.shape}")
        m = means.shape[0]
        mean = jnp.mean(means, 0)
        var = jnp.mean(jnp.broadcast_to(jnp.asarray(variances, means.dtype), means.shape), 0)
        return cls(mean, var, (means - mean) / jnp.sqrt(jnp.asarray(m, means.dtype)))


class ConditionedLowRankGaussian(_PlusLowRank):
    """The ProbConserv posterior of a :class:`LowRankGaussian`: ``H + W'^T W'`` with ``H`` a
    :class:`~physcon.distributions.ConditionedGaussian` (the diagonal part conditioned per
    block) and ``W'`` the conditioned factor (``G W'^T = 0`` for an exact constraint).
    Built by :func:`physcon.constraints.probconserv`."""

    base: ConditionedGaussian
    factor: Float[Array, "M nb n"]
