"""Argument checks and normalisations shared by the solvers (one copy of each).

``ValueError`` naming the argument, raised eagerly on concrete inputs; traced inputs pass through
(the solvers check values under ``jit`` with ``eqx.error_if``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from physcon.grid import Grid1D


def _dtype(dtype=None):
    """``dtype`` as a ``jnp.dtype``; JAX's default float (float32, or float64 under x64) if ``None``."""
    return jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)


def _check_n(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (bools refused), or a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_times(t, dtype, t0: float) -> Array:
    """Output times ``t`` as a 1-D array of ``dtype``: finite, non-decreasing, ``>= t0`` (when concrete)."""
    t = jnp.asarray(t, dtype)
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"t must be a 1-D array of output times, got shape {t.shape}")
    try:
        tn = np.asarray(t)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return t
    if not np.all(np.isfinite(tn)) or tn[0] < t0 or np.any(np.diff(tn) < 0):
        raise ValueError(f"t must be finite, non-decreasing and >= t0={t0}, got {tn}")
    return t


def _as_leaves(tree):
    """Python scalars in ``tree`` (viscosity, Reynolds number, lid speed, ...) as NumPy arrays, so
    that ``eqx.filter_jit`` traces them instead of recompiling for every new value."""
    is_num = lambda x: isinstance(x, (float, int)) and not isinstance(x, bool)  # noqa: E731
    return jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64) if is_num(x) else x, tree)


def _node_field(grid, u0, t, t0: float, min_nodes: int) -> tuple[Array, Array]:
    """The checks of a 1-D solver on a node grid with both walls: ``grid`` is
    ``Grid1D.nodes(a, b, n)`` with ``n >= min_nodes``, ``u0`` of shape ``(n,)`` and finite (also
    under ``jit``), ``t`` valid output times; returns ``(u0, t)`` in their common float dtype."""
    if not (isinstance(grid, Grid1D) and grid.kind == "nodes" and grid.endpoint and grid.n >= min_nodes):
        raise ValueError(f"grid must be Grid1D.nodes(a, b, n) with n >= {min_nodes}, got {grid!r}")
    dtype = jnp.result_type(u0, t, float)
    u0 = jnp.asarray(u0, dtype)
    if u0.shape != (grid.n,):
        raise ValueError(f"u0 must have shape ({grid.n},), got {u0.shape}")
    t = _check_times(t, dtype, t0)
    return eqx.error_if(u0, ~jnp.all(jnp.isfinite(u0)), "u0 must be finite (no NaN/inf)"), t
