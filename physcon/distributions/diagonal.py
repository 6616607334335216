"""Diagonal Gaussians, and diagonal Gaussians conditioned on a few linear rows per block."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions._common import LOG_2PI as _LOG_2PI
from physcon.distributions._common import as_float, checked_finite, checked_variance, sample_shape


class DiagonalGaussian(eqx.Module):
    """Independent Gaussians ``u_i ~ N(mean_i, variance_i)``; ``mean`` and ``variance`` have
    the same shape (e.g. ``(nt, nx)``)."""

    mean: Float[Array, "*shape"]
    variance: Float[Array, "*shape"]

    def __init__(self, mean: ArrayLike, variance: ArrayLike):
        mean, variance = as_float(mean), as_float(variance)
        if mean.shape != variance.shape:
            raise ValueError(f"mean and variance must have the same shape, got {mean.shape} and {variance.shape}")
        self.mean = checked_finite(mean, "mean")
        self.variance = checked_variance(variance)

    @property
    def std(self) -> Array:
        return jnp.sqrt(self.variance)

    def marginal_log_prob(self, u: ArrayLike) -> Array:
        """Pointwise ``log N(u_i; mean_i, variance_i)``, shape of ``mean``."""
        u = jnp.asarray(u)
        return -0.5 * ((u - self.mean) ** 2 / self.variance + jnp.log(self.variance) + _LOG_2PI)

    def log_prob(self, u: ArrayLike) -> Array:
        """Joint log density (sum of the pointwise terms), a scalar."""
        return jnp.sum(self.marginal_log_prob(u))

    def sample(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """Samples of shape ``(n, *mean.shape)`` (or ``mean.shape`` if ``n`` is None)."""
        z = jax.random.normal(key, sample_shape(n) + self.mean.shape, self.mean.dtype)
        return self.mean + self.std * z

    def covariance(self) -> Array:
        """Dense ``(N, N)`` covariance of the flattened field (only for small fields)."""
        return jnp.diag(self.variance.ravel())

    def _solve(self, v: Array) -> Array:
        """``Sigma^-1 v`` for ``v`` of shape ``(..., *mean.shape)``."""
        return v / self.variance

    def _logdet(self) -> Array:
        return jnp.sum(jnp.log(self.variance))


class ConditionedGaussian(eqx.Module):
    """``N(mean, D - D G^T S^-1 G D)`` per block: a diagonal prior ``D = diag(prior_variance)``
    conditioned on ``r`` noisy linear observations per block, ``S = G D G^T + diag(noise)``.

    Shapes: ``mean``, ``prior_variance`` ``(nb, n)``; ``G`` ``(nb, r, n)``; ``noise`` ``(nb, r)``
    (variances, >= 0; 0 = exact constraint). Built by
    :func:`physcon.constraints.probconserv`; blocks are typically time steps.
    """

    mean: Float[Array, "nb n"]
    prior_variance: Float[Array, "nb n"]
    G: Float[Array, "nb r n"]
    noise: Float[Array, "nb r"]
    chol: Float[Array, "nb r r"]  # lower Cholesky factor of S

    def __init__(self, mean, prior_variance, G, noise, chol=None):
        self.mean, self.prior_variance, self.G, self.noise = mean, prior_variance, G, noise
        if chol is None:
            S = jnp.einsum("brn,bn,bsn->brs", G, prior_variance, G) + jax.vmap(jnp.diag)(noise)
            chol = jnp.linalg.cholesky(S)
        self.chol = chol

    def _correct(self, v: Array) -> Array:
        """``D G^T S^-1 v`` per block for ``v`` of shape ``(..., nb, r)``: ``(..., nb, n)``."""
        return jnp.einsum("bnr,...br->...bn", self._gain(), self._whiten(v))

    def _gain(self) -> Array:
        """``B = D G^T L^-T``, shape ``(nb, n, r)``, so the covariance is ``D - B B^T``."""
        A = self.prior_variance[:, :, None] * jnp.swapaxes(self.G, 1, 2)
        solve = jax.vmap(lambda L, a: jax.scipy.linalg.solve_triangular(L, a.T, lower=True).T)
        return solve(self.chol, A)

    @property
    def variance(self) -> Array:
        """Marginal variances ``D - diag(B B^T)``, shape ``(nb, n)`` (clipped at 0)."""
        return jnp.maximum(self.prior_variance - jnp.sum(self._gain() ** 2, -1), 0.0)

    @property
    def std(self) -> Array:
        return jnp.sqrt(self.variance)

    def covariance(self) -> Array:
        """Dense per-block covariances ``(nb, n, n)`` (only when asked for)."""
        B = self._gain()
        return jax.vmap(jnp.diag)(self.prior_variance) - B @ jnp.swapaxes(B, 1, 2)

    def sample(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """Samples by Matheron's rule, shape ``(n, nb, n_points)``: draw ``e ~ N(0, D)``,
        ``eta ~ N(0, diag(noise))`` and return ``mean + e - D G^T S^-1 (G e + eta)``. With
        zero noise every sample satisfies ``G y = G mean`` exactly (to round-off)."""
        k1, k2 = jax.random.split(key)
        shape = sample_shape(n)
        e = jnp.sqrt(self.prior_variance) * jax.random.normal(k1, shape + self.mean.shape, self.mean.dtype)
        eta = jnp.sqrt(self.noise) * jax.random.normal(k2, shape + self.noise.shape, self.mean.dtype)
        resid = jnp.einsum("brn,...bn->...br", self.G, e) + eta
        return self.mean + e - self._correct(resid)

    def _whiten(self, v):
        """``L^-1 v`` per block, ``v`` of shape ``(..., nb, r)``."""
        flat = v.reshape((-1,) + v.shape[-2:])
        solve = jax.vmap(
            lambda L, x: jax.scipy.linalg.solve_triangular(L, x.T, lower=True).T, in_axes=(0, 1), out_axes=1
        )
        return solve(self.chol, flat).reshape(v.shape)

    def marginal_log_prob(self, u: ArrayLike) -> Array:
        """Pointwise ``log N(u_i; mean_i, var_i)`` with the posterior marginal variances."""
        var = self.variance
        return -0.5 * ((jnp.asarray(u) - self.mean) ** 2 / var + jnp.log(var) + _LOG_2PI)

    def log_prob(self, u: ArrayLike) -> Array:
        """Joint log density; needs ``noise > 0`` (with exact constraints the covariance is
        singular). Uses ``Sigma^-1 = D^-1 + G^T N^-1 G`` and
        ``log det Sigma = log det D + log det N - log det S``."""
        r = jnp.asarray(u) - self.mean
        return -0.5 * (jnp.sum(r * self._solve(r)) + self._logdet() + r.size * _LOG_2PI)

    def _checked_noise(self):
        return eqx.error_if(
            self.noise, ~jnp.all(self.noise > 0),
            "log_prob needs noise > 0: with an exact constraint (noise 0) the posterior is "
            "singular; use marginal_log_prob",
        )

    def _solve(self, v: Array) -> Array:
        """``Sigma^-1 v = D^-1 v + G^T N^-1 G v`` (Woodbury) for ``v`` of shape ``(..., nb, n)``."""
        Gv = jnp.einsum("brn,...bn->...br", self.G, v)
        return v / self.prior_variance + jnp.einsum("brn,...br->...bn", self.G, Gv / self._checked_noise())

    def _logdet(self) -> Array:
        """``log det Sigma = log det D + log det N - log det S``."""
        return (jnp.sum(jnp.log(self.prior_variance)) + jnp.sum(jnp.log(self._checked_noise()))
                - 2.0 * jnp.sum(jnp.log(jnp.diagonal(self.chol, axis1=1, axis2=2))))
