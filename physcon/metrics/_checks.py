"""Argument checks shared by the metrics: shapes (``ValueError`` naming the argument), axes and
the common floating dtype."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def _check(pred, true, w):
    pred, true = jnp.asarray(pred), jnp.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {pred.shape} and {true.shape}")
    if w is not None:
        w = jnp.asarray(w)
        if w.shape != pred.shape[-1:]:
            raise ValueError(f"w must have shape (nx,) = {pred.shape[-1:]}, got {w.shape}")
    return pred, true, w


def _floats(*xs):
    """Cast to the common (JAX-promoted) dtype, made floating if all inputs are integers."""
    xs = [jnp.asarray(x) for x in xs]
    dtype = jnp.result_type(*xs)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return [x.astype(dtype) for x in xs]


def _check_broadcast(name, shape, target, what):
    try:
        ok = jnp.broadcast_shapes(shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be broadcastable to {what} = {target}, got shape {shape}")


def _is_int(a) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, bool)


def _check_axes(axis, ndim, name):
    axes = () if axis is None else (axis,) if _is_int(axis) else axis
    try:
        axes = tuple(axes)
    except TypeError:
        axes = (axis,)
    if not all(_is_int(a) and -ndim <= a < ndim for a in axes):
        raise ValueError(f"axis must be None, an int or a tuple of ints in [-{ndim}, {ndim}) for {name} of ndim {ndim}, got {axis!r}")


def _check_gaussian(mean, variance, true):
    mean, variance, true = jnp.asarray(mean), jnp.asarray(variance), jnp.asarray(true)
    if true.ndim == 0:
        raise ValueError("true must have at least one axis (space last), got a scalar")
    if mean.shape != true.shape:
        raise ValueError(f"mean and true must have the same shape, got {mean.shape} and {true.shape}")
    _check_broadcast("variance", variance.shape, true.shape, "true.shape")
    return _floats(mean, variance, true)
