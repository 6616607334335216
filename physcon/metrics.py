"""Error measures with documented reductions.

All take ``pred`` and ``true`` of the same shape with space on the last axis; spatial
integrals use the grid's quadrature weights ``w`` (shape ``(nx,)``), so the numbers are
resolution independent. Reductions over leading axes (time, batch) are plain means unless
stated.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float


def _check(pred, true, w):
    pred, true = jnp.asarray(pred), jnp.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {pred.shape} and {true.shape}")
    if w is not None:
        w = jnp.asarray(w)
        if w.shape != pred.shape[-1:]:
            raise ValueError(f"w must have shape (nx,) = {pred.shape[-1:]}, got {w.shape}")
    return pred, true, w


def l1_error(pred: ArrayLike, true: ArrayLike, w: Float[ArrayLike, " nx"]) -> Float[Array, "..."]:
    """``integral |pred - true| dx`` per leading index, shape ``pred.shape[:-1]``."""
    pred, true, w = _check(pred, true, w)
    return jnp.abs(pred - true) @ w


def mse(pred: ArrayLike, true: ArrayLike) -> Float[Array, ""]:
    """Mean of ``(pred - true)^2`` over all entries."""
    pred, true, _ = _check(pred, true, None)
    return jnp.mean((pred - true) ** 2)


def relative_l2(pred: ArrayLike, true: ArrayLike, w: ArrayLike | None = None) -> Float[Array, "..."]:
    """``||pred - true||_2 / ||true||_2`` over the last axis (weighted by ``w`` if given),
    per leading index."""
    pred, true, w = _check(pred, true, w)
    w = jnp.ones(pred.shape[-1], pred.dtype) if w is None else w
    return jnp.sqrt(((pred - true) ** 2) @ w / ((true**2) @ w))


def convergence_order(dx: ArrayLike, err: ArrayLike) -> float:
    """Least-squares slope of ``log(err)`` against ``log(dx)`` (the observed order)."""
    dx, err = np.asarray(dx, float), np.asarray(err, float)
    if dx.shape != err.shape or dx.size < 2:
        raise ValueError("dx and err need the same shape with at least two entries")
    if np.any(err <= 0) or np.any(dx <= 0):
        raise ValueError("dx and err must be positive")
    return float(np.polyfit(np.log(dx), np.log(err), 1)[0])
