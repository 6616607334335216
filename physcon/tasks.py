"""Context/target sets for neural processes, drawn from solution fields.

A neural process learns from *tasks*: a context set of observed points ``(t, x, u)`` and a
target set of points ``(t, x)`` where ``u`` is to be predicted. ProbConserv (Hansen et al.,
ICML 2023) draws both from each training function on a tensor-product design:

* contexts: ``n_ct`` **stratified** times (one uniform draw in each of ``n_ct`` equal
  sub-intervals of the time window) times ``n_cx`` sorted uniform positions reused at every
  context time (100 points by default);
* targets: ``n_tt`` sorted uniform times times ``n_tx`` sorted uniform positions, drawn
  independently of the contexts (100 points).

Here the fields come from physcon's finite-volume solvers (:func:`physcon.data.generate`),
so the draws are made on the solver's output grid: a time is an output time, a position a
cell centre (no interpolation error; the design resolves the window to ``1/nt`` and the
domain to ``1/nx``). Points are ``(t, x)`` pairs, the reference's input order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

KEYS = ("context_x", "context_y", "target_x", "target_y", "param")


def _check_field(u, x, t):
    u, x, t = np.asarray(u), np.asarray(x), np.asarray(t)
    if x.ndim != 1 or t.ndim != 1:
        raise ValueError(f"x and t must be 1-D, got shapes {x.shape} and {t.shape}")
    if u.ndim != 3 or u.shape[1:] != (t.size, x.size):
        raise ValueError(f"u must have shape (n, nt, nx) = (n, {t.size}, {x.size}), got {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError("u must be finite (no NaN/inf)")
    return u, x, t


def _stratified(key, n_strata: int, size: int) -> Array:
    """One index drawn uniformly from each of ``n_strata`` equal blocks of ``range(size)``."""
    edges = jnp.linspace(0, size, n_strata + 1)
    lo, hi = jnp.floor(edges[:-1]), jnp.maximum(jnp.floor(edges[1:]), jnp.floor(edges[:-1]) + 1)
    return jnp.minimum(lo + jnp.floor(jax.random.uniform(key, (n_strata,)) * (hi - lo)), size - 1).astype(int)


def _sorted_draws(key, n: int, size: int) -> Array:
    return jnp.sort(jax.random.randint(key, (n,), 0, size))


def _grid_points(t, x, it, ix):
    """``(len(it) * len(ix), 2)`` points ``(t, x)``, time-major, and the flat indices."""
    tt, xx = jnp.meshgrid(it, ix, indexing="ij")
    return jnp.stack([t[tt.ravel()], x[xx.ravel()]], -1), (tt.ravel(), xx.ravel())


def sample_tasks(
    u: Float[ArrayLike, "n nt nx"],
    x: Float[ArrayLike, " nx"],
    t: Float[ArrayLike, " nt"],
    key: PRNGKeyArray,
    *,
    params: Float[ArrayLike, " n"] | None = None,
    n_context: tuple[int, int] = (10, 10),
    n_target: tuple[int, int] | None = (10, 10),
    repeats: int = 1,
) -> dict[str, np.ndarray]:
    """Draw context/target sets from ``n`` solution fields.

    Args:
        u: fields on the solver grid, ``(n, nt, nx)``.
        x: positions (cell centres), ``(nx,)``; t: output times, ``(nt,)``.
        key: PRNG key (the draws are a pure function of it).
        params: the physical parameter of each field, ``(n,)``; carried along as ``"param"``
            (SoftC needs it for the PDE residual). Default: NaN.
        n_context: ``(n_ct, n_cx)`` stratified times x sorted positions.
        n_target: ``(n_tt, n_tx)`` sorted times x sorted positions; ``None`` draws no targets.
        repeats: independent task draws per field (the task set has ``repeats * n`` rows,
            field-major).

    Returns:
        NumPy arrays: ``context_x`` ``(N, n_ct * n_cx, 2)`` with ``(t, x)`` rows (time-major),
        ``context_y`` ``(N, n_ct * n_cx)``, ``target_x`` ``(N, n_tt * n_tx, 2)``,
        ``target_y`` ``(N, n_tt * n_tx)``, ``param`` ``(N,)``; ``N = repeats * n``.
    """
    u, x, t = _check_field(u, x, t)
    n, nt, nx = u.shape
    n_ct, n_cx = (int(v) for v in n_context)
    if min(n_ct, n_cx) < 1 or n_ct > nt or n_cx > nx:
        raise ValueError(f"n_context must be positive and at most (nt, nx) = {(nt, nx)}, got {n_context}")
    if n_target is not None and min(n_target) < 1:
        raise ValueError(f"n_target must be positive, got {n_target}")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    params = np.full(n, np.nan) if params is None else np.asarray(params, float)
    if params.shape != (n,):
        raise ValueError(f"params must have shape (n,) = ({n},), got {params.shape}")
    tj, xj = jnp.asarray(t), jnp.asarray(x)

    def one(field, k):
        k1, k2, k3, k4 = jax.random.split(k, 4)
        it = _stratified(k1, n_ct, nt)
        ix = jnp.sort(jax.random.choice(k2, nx, (n_cx,), replace=False))
        cx, (a, b) = _grid_points(tj, xj, it, ix)
        out = {"context_x": cx, "context_y": field[a, b]}
        if n_target is not None:
            tx, (a, b) = _grid_points(tj, xj, _sorted_draws(k3, n_target[0], nt), _sorted_draws(k4, n_target[1], nx))
            out.update(target_x=tx, target_y=field[a, b])
        return out

    reps = int(repeats)
    keys = jax.random.split(key, n * reps).reshape(n, reps, -1)
    fields = jnp.asarray(u)
    out = jax.vmap(lambda f, ks: jax.vmap(lambda k: one(f, k))(ks))(fields, keys)
    result = {k: np.asarray(v).reshape((n * reps,) + v.shape[2:]) for k, v in out.items()}
    result["param"] = np.repeat(params, reps)
    return result


def evaluation_grid(domain: tuple[float, float], t_span: tuple[float, float], nx: int = 201,
                    nt: int = 201) -> tuple[Array, Array, Array]:
    """The paper's dense evaluation targets: ``linspace(t_span, nt) x linspace(domain, nx)``.

    Returns ``(x, t, points)`` with ``points`` ``(nt * nx, 2)`` in ``(t, x)`` order, time-major
    (so a prediction reshapes to ``(nt, nx)``).
    """
    if nx < 2 or nt < 1:
        raise ValueError(f"need nx >= 2 and nt >= 1, got nx={nx}, nt={nt}")
    x = jnp.linspace(*domain, nx)
    t = jnp.linspace(*t_span, nt)
    tt, xx = jnp.meshgrid(t, x, indexing="ij")
    return x, t, jnp.stack([tt.ravel(), xx.ravel()], -1)
