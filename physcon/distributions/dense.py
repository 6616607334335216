"""A Gaussian with a full covariance (small fields: a GP on a few hundred points, a test oracle)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions._common import LOG_2PI, as_float, checked_finite, psd_root, sample_shape


class DenseGaussian(eqx.Module):
    """``N(mean, covariance)`` with a full ``(N, N)`` covariance over a flat ``(N,)`` mean.

    ``root`` is a sampling factor ``R`` (``(N, R)``, ``R R^T = covariance``). By default it is
    the Cholesky factor of ``covariance`` (plus a ``10 N eps`` jitter so that a semi-definite
    covariance factors), computed once here, which also checks that ``covariance`` is
    symmetric positive semi-definite (an error naming it otherwise, under ``jit`` too).
    :func:`physcon.constraints.probconserv` passes the exact root of its singular posterior
    (``(I - K G) R_prior``), so that every sample satisfies the constraint to round-off.
    """

    mean: Float[Array, " N"]
    covariance_matrix: Float[Array, "N N"]
    root: Float[Array, "N R"]

    def __init__(self, mean: ArrayLike, covariance: ArrayLike, root: ArrayLike | None = None):
        mean, cov = as_float(mean), as_float(covariance)
        if mean.ndim != 1 or cov.shape != mean.shape * 2:
            raise ValueError(f"need mean (N,) and covariance (N, N), got {mean.shape} and {cov.shape}")
        self.mean = checked_finite(mean, "mean")
        if root is None:
            self.root = psd_root(cov, "covariance")
            self.covariance_matrix = cov
        else:
            root = jnp.asarray(root, cov.dtype)
            if root.ndim != 2 or root.shape[0] != mean.shape[0]:
                raise ValueError(f"root must have shape (N, R) with N = {mean.shape[0]}, got {root.shape}")
            self.covariance_matrix = checked_finite(cov, "covariance")
            self.root = checked_finite(root, "root")

    @property
    def variance(self) -> Array:
        return jnp.diagonal(self.covariance_matrix)

    @property
    def std(self) -> Array:
        return jnp.sqrt(self.variance)

    def covariance(self) -> Array:
        return self.covariance_matrix

    def sample(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """Samples ``mean + R z`` with ``z ~ N(0, I_R)``, shape ``(n, N)``."""
        z = jax.random.normal(key, sample_shape(n) + (self.root.shape[1],), self.mean.dtype)
        return self.mean + z @ self.root.T

    def marginal_log_prob(self, u: ArrayLike) -> Array:
        var = self.variance
        return -0.5 * ((jnp.asarray(u) - self.mean) ** 2 / var + jnp.log(var) + LOG_2PI)

    def log_prob(self, u: ArrayLike) -> Array:
        """Joint log density; needs a positive definite covariance."""
        L = jnp.linalg.cholesky(self.covariance_matrix)
        L = eqx.error_if(L, ~jnp.all(jnp.isfinite(L)), "covariance is not positive definite")
        z = jax.scipy.linalg.solve_triangular(L, jnp.asarray(u) - self.mean, lower=True)
        return -0.5 * (z @ z + 2.0 * jnp.sum(jnp.log(jnp.diagonal(L))) + z.size * LOG_2PI)
