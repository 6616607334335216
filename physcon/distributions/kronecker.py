"""Separable (Kronecker) Gaussians on a ``(t, x)`` grid: ``Cov[u(t, x), u(s, y)] = A[t, s] B[x, y]``.

A Gaussian process with a product kernel ``k((t, x), (s, y)) = k_t(t, s) k_x(x, y)`` evaluated
on a tensor grid has this covariance, ``A kron B`` (``nt x nt`` and ``nx x nx`` factors), so it
is stored with ``nt^2 + nx^2`` numbers instead of ``(nt nx)^2``. Conditioning on the same
``r`` rows ``g`` at every time step with ``sigma_G = 0`` keeps the structure:
``A kron (B - B g^T (g B g^T)^-1 g B)`` (:func:`physcon.constraints.probconserv`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions._common import LOG_2PI, as_float, checked_finite, psd_root, sample_shape


class KroneckerGaussian(eqx.Module):
    """``N(mean, time_cov kron space_cov)`` over a field ``u`` of shape ``(nt, nx)``
    (row-major: ``vec(u)[t nx + x] = u[t, x]``), optionally conditioned on ``rows``.

    Args:
        mean: ``(nt, nx)``.
        time_cov: ``A``, ``(nt, nt)``, symmetric positive semi-definite.
        space_cov: ``B``, ``(nx, nx)``, symmetric positive semi-definite.

    Both factors are checked (symmetric, PSD, finite; errors name them, under ``jit`` too) by a
    Cholesky factorisation done once here (``O(nt^3 + nx^3)``), kept as the sampling roots.
    ``rows`` (``(r, nx)``) and ``chol`` (``(r, r)``, lower factor of ``g B g^T``) are set by
    :func:`physcon.constraints.probconserv`: the covariance is then
    ``A kron (B - B g^T (g B g^T)^-1 g B)`` and samples are drawn by Matheron's rule.
    """

    mean: Float[Array, "nt nx"]
    time_cov: Float[Array, "nt nt"]
    space_cov: Float[Array, "nx nx"]
    time_root: Float[Array, "nt nt"]
    space_root: Float[Array, "nx nx"]
    rows: Float[Array, "r nx"] | None
    chol: Float[Array, "r r"] | None

    def __init__(self, mean: ArrayLike, time_cov: ArrayLike, space_cov: ArrayLike, *,
                 rows: ArrayLike | None = None, chol: ArrayLike | None = None,
                 _roots: tuple[Array, Array] | None = None):
        mean, A, B = as_float(mean), as_float(time_cov), as_float(space_cov)
        if mean.ndim != 2:
            raise ValueError(f"mean must have shape (nt, nx), got {mean.shape}")
        nt, nx = mean.shape
        if A.shape != (nt, nt):
            raise ValueError(f"time_cov must have shape (nt, nt) = ({nt}, {nt}), got {A.shape}")
        if B.shape != (nx, nx):
            raise ValueError(f"space_cov must have shape (nx, nx) = ({nx}, {nx}), got {B.shape}")
        if (rows is None) != (chol is None):
            raise ValueError("rows and chol go together (both None for an unconditioned prediction)")
        self.mean = checked_finite(mean, "mean")
        if _roots is None:  # a new prediction: check and factor
            self.time_root, self.space_root = psd_root(A, "time_cov"), psd_root(B, "space_cov")
        else:  # a posterior of a checked prediction: keep its roots
            self.time_root, self.space_root = _roots
        self.time_cov, self.space_cov = A, B
        self.rows, self.chol = rows, chol

    def _gain(self) -> Array:
        """``B g^T L^-T``, ``(nx, r)``: the conditioned space covariance is ``B - gain gain^T``."""
        Bg = self.space_cov @ self.rows.T
        return jax.scipy.linalg.solve_triangular(self.chol, Bg.T, lower=True).T

    def _correct(self, v: Array) -> Array:
        """``B g^T (g B g^T)^-1 v`` for ``v`` of shape ``(..., nt, r)``: ``(..., nt, nx)``."""
        w = jax.scipy.linalg.solve_triangular(self.chol, jnp.moveaxis(v, -1, 0).reshape(v.shape[-1], -1), lower=True)
        w = jnp.moveaxis(w.reshape((v.shape[-1],) + v.shape[:-1]), 0, -1)
        return w @ self._gain().T

    @property
    def space_variance(self) -> Array:
        """Diagonal of the (conditioned) space factor, ``(nx,)``."""
        d = jnp.diagonal(self.space_cov)
        if self.rows is None:
            return d
        return jnp.maximum(d - jnp.sum(self._gain() ** 2, -1), 0.0)

    @property
    def variance(self) -> Array:
        """``A[t, t] B'[x, x]``, shape ``(nt, nx)``."""
        return jnp.diagonal(self.time_cov)[:, None] * self.space_variance[None, :]

    @property
    def std(self) -> Array:
        return jnp.sqrt(self.variance)

    def covariance(self) -> Array:
        """Dense ``(N, N)`` covariance of the flattened field (only for small fields)."""
        B = self.space_cov
        if self.rows is not None:
            gain = self._gain()
            B = B - gain @ gain.T
        return jnp.kron(self.time_cov, B)

    def sample(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """Samples ``(n, nt, nx)``: ``e = R_A Z R_B^T`` (cost ``O(N (nt + nx))``), then for a
        conditioned prediction Matheron's rule ``mean + e - B g^T (g B g^T)^-1 g e``, which
        satisfies the rows exactly (to round-off) at every time step."""
        z = jax.random.normal(key, sample_shape(n) + self.mean.shape, self.mean.dtype)
        e = self.time_root @ z @ self.space_root.T
        if self.rows is not None:
            e = e - self._correct(e @ self.rows.T)
        return self.mean + e

    def marginal_log_prob(self, u: ArrayLike) -> Array:
        var = self.variance
        return -0.5 * ((jnp.asarray(u) - self.mean) ** 2 / var + jnp.log(var) + LOG_2PI)

    def log_prob(self, u: ArrayLike) -> Array:
        """Joint log density, ``-(tr(A^-1 R B^-1 R^T) + nx log det A + nt log det B + N log 2 pi) / 2``
        with ``R = u - mean``; needs positive definite factors. A conditioned prediction is
        singular (exact constraint): use :meth:`marginal_log_prob`."""
        if self.rows is not None:
            raise ValueError("log_prob: an exactly conditioned KroneckerGaussian is singular; use marginal_log_prob")
        La = jnp.linalg.cholesky(self.time_cov)
        Lb = jnp.linalg.cholesky(self.space_cov)
        ok = jnp.all(jnp.isfinite(La)) & jnp.all(jnp.isfinite(Lb))
        La = eqx.error_if(La, ~ok, "log_prob needs positive definite time_cov and space_cov")
        r = jnp.asarray(u) - self.mean
        y = jax.scipy.linalg.solve_triangular(La, r, lower=True)
        y = jax.scipy.linalg.solve_triangular(Lb, y.T, lower=True)
        nt, nx = r.shape
        logdet = 2 * nx * jnp.sum(jnp.log(jnp.diagonal(La))) + 2 * nt * jnp.sum(jnp.log(jnp.diagonal(Lb)))
        return -0.5 * (jnp.sum(y**2) + logdet + r.size * LOG_2PI)
