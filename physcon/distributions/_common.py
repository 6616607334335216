"""Shared helpers of the Gaussian classes: dtype coercion, value checks, PSD factorisation."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp

LOG_2PI = math.log(2.0 * math.pi)


def as_float(x):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def checked_variance(variance, name="variance"):
    bad = ~jnp.all(jnp.isfinite(variance) & (variance >= 0))
    return eqx.error_if(variance, bad, f"{name} must be finite and non-negative")


def checked_finite(x, name):
    return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"{name} must be finite (no NaN/inf)")


def sample_shape(n):
    return () if n is None else (int(n),)


def psd_root(cov, name):
    """Lower Cholesky factor of ``cov + delta I`` with ``delta = 10 n eps max(diag)``, checked.

    The tiny jitter lets a positive *semi*-definite matrix (a rank-deficient ensemble
    covariance, a smooth kernel) factor, while a matrix with an eigenvalue below ``-delta``
    (not PSD), an asymmetric or a non-finite one raises an error naming ``name`` (also under
    ``jit``). The factor is a sampling root: its product differs from ``cov`` by ``delta I``.
    """
    cov = checked_finite(cov, name)
    n = cov.shape[-1]
    scale = jnp.max(jnp.abs(jnp.diagonal(cov)))
    eps = jnp.finfo(cov.dtype).eps
    asym = jnp.max(jnp.abs(cov - cov.T)) > 100 * eps * jnp.maximum(scale, jnp.finfo(cov.dtype).tiny)
    cov = eqx.error_if(cov, asym, f"{name} must be symmetric")
    delta = 10 * n * eps * jnp.maximum(scale, jnp.finfo(cov.dtype).tiny)
    L = jnp.linalg.cholesky(cov + delta * jnp.eye(n, dtype=cov.dtype))
    bad = ~jnp.all(jnp.isfinite(L)) | ~jnp.all(jnp.diagonal(L) >= 0)
    return eqx.error_if(L, bad, f"{name} must be positive semi-definite (its Cholesky factorisation failed)")
