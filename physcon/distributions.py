"""Gaussian predictions over a discretised field, with covariance kept in structured form.

* :class:`DiagonalGaussian` independent entries (an ANP's output): any shape.
* :class:`ConditionedGaussian` a diagonal Gaussian conditioned on a few linear
  observations per block (e.g. one conservation law per time step): the posterior covariance
  ``D - D G^T S^-1 G D`` is held as ``(D, G, S)``, so mean, variance, samples and densities
  cost ``O(N r^2)`` and no ``N x N`` matrix is built unless :meth:`covariance` is asked for.
* :class:`DenseGaussian` a full covariance (GP, ensemble), via its Cholesky factor.

All are ``eqx.Module`` pytrees: they pass through ``jit``/``vmap``/``grad``. Values are
validated with ``eqx.error_if`` (so the checks also run under ``jit``): non-finite means,
negative or non-finite variances raise an error that names the argument.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

_LOG_2PI = math.log(2.0 * math.pi)


def _as_float(x, name):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def _checked_variance(variance, name="variance"):
    bad = ~jnp.all(jnp.isfinite(variance) & (variance >= 0))
    return eqx.error_if(variance, bad, f"{name} must be finite and non-negative")


def _checked_finite(x, name):
    return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"{name} must be finite (no NaN/inf)")


def _sample_shape(n):
    return () if n is None else (int(n),)


class DiagonalGaussian(eqx.Module):
    """Independent Gaussians ``u_i ~ N(mean_i, variance_i)``; ``mean`` and ``variance`` have
    the same shape (e.g. ``(nt, nx)``)."""

    mean: Float[Array, "*shape"]
    variance: Float[Array, "*shape"]

    def __init__(self, mean: ArrayLike, variance: ArrayLike):
        mean, variance = _as_float(mean, "mean"), _as_float(variance, "variance")
        if mean.shape != variance.shape:
            raise ValueError(f"mean and variance must have the same shape, got {mean.shape} and {variance.shape}")
        self.mean = _checked_finite(mean, "mean")
        self.variance = _checked_variance(variance)

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
        z = jax.random.normal(key, _sample_shape(n) + self.mean.shape, self.mean.dtype)
        return self.mean + self.std * z

    def covariance(self) -> Array:
        """Dense ``(N, N)`` covariance of the flattened field (only for small fields)."""
        return jnp.diag(self.variance.ravel())


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
        shape = _sample_shape(n)
        e = jnp.sqrt(self.prior_variance) * jax.random.normal(k1, shape + self.mean.shape, self.mean.dtype)
        eta = jnp.sqrt(self.noise) * jax.random.normal(k2, shape + self.noise.shape, self.mean.dtype)
        resid = jnp.einsum("brn,...bn->...br", self.G, e) + eta
        corr = jnp.einsum("bnr,...br->...bn", self._gain(), self._whiten(resid))
        return self.mean + e - corr

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
        noise = eqx.error_if(
            self.noise, ~jnp.all(self.noise > 0),
            "log_prob needs noise > 0: with an exact constraint (noise 0) the posterior is "
            "singular; use marginal_log_prob",
        )
        r = jnp.asarray(u) - self.mean
        Gr = jnp.einsum("brn,bn->br", self.G, r)
        quad = jnp.sum(r**2 / self.prior_variance) + jnp.sum(Gr**2 / noise)
        logdet = (jnp.sum(jnp.log(self.prior_variance)) + jnp.sum(jnp.log(noise))
                  - 2.0 * jnp.sum(jnp.log(jnp.diagonal(self.chol, axis1=1, axis2=2))))
        return -0.5 * (quad + logdet + r.size * _LOG_2PI)


class DenseGaussian(eqx.Module):
    """``N(mean, covariance)`` with a full ``(N, N)`` covariance over a flat ``(N,)`` mean."""

    mean: Float[Array, " N"]
    covariance_matrix: Float[Array, "N N"]

    def __init__(self, mean: ArrayLike, covariance: ArrayLike):
        mean, cov = _as_float(mean, "mean"), _as_float(covariance, "covariance")
        if mean.ndim != 1 or cov.shape != mean.shape * 2:
            raise ValueError(f"need mean (N,) and covariance (N, N), got {mean.shape} and {cov.shape}")
        self.mean = _checked_finite(mean, "mean")
        cov = _checked_finite(cov, "covariance")
        self.covariance_matrix = eqx.error_if(
            cov, ~jnp.all(jnp.diagonal(cov) >= 0), "covariance must have a non-negative diagonal"
        )

    @property
    def variance(self) -> Array:
        return jnp.diagonal(self.covariance_matrix)

    @property
    def std(self) -> Array:
        return jnp.sqrt(self.variance)

    def covariance(self) -> Array:
        return self.covariance_matrix

    def _chol(self, jitter: float = 0.0) -> Array:
        n = self.mean.shape[0]
        return jnp.linalg.cholesky(self.covariance_matrix + jitter * jnp.eye(n, dtype=self.mean.dtype))

    def sample(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """Samples ``(n, N)``. A singular (e.g. exactly constrained) covariance is factored
        by a symmetric eigen-decomposition, so samples stay on its range."""
        w, V = jnp.linalg.eigh(self.covariance_matrix)
        root = V * jnp.sqrt(jnp.maximum(w, 0.0))
        z = jax.random.normal(key, _sample_shape(n) + self.mean.shape, self.mean.dtype)
        return self.mean + z @ root.T

    def marginal_log_prob(self, u: ArrayLike) -> Array:
        var = self.variance
        return -0.5 * ((jnp.asarray(u) - self.mean) ** 2 / var + jnp.log(var) + _LOG_2PI)

    def log_prob(self, u: ArrayLike) -> Array:
        L = self._chol()
        L = eqx.error_if(L, ~jnp.all(jnp.isfinite(L)), "covariance is not positive definite")
        z = jax.scipy.linalg.solve_triangular(L, jnp.asarray(u) - self.mean, lower=True)
        return -0.5 * (z @ z + 2.0 * jnp.sum(jnp.log(jnp.diagonal(L))) + z.size * _LOG_2PI)
