"""Field errors, conservation error, Gaussian scores (log-likelihood, CRPS), shock position and the
statistics over test functions (conventions in :mod:`physcon.metrics`)."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr
from jaxtyping import Array, ArrayLike, Float

from physcon.metrics._checks import _check, _check_axes, _check_broadcast, _check_gaussian, _floats, _is_int

_LOG_2PI = math.log(2.0 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def l1_error(pred: ArrayLike, true: ArrayLike, w: Float[ArrayLike, " nx"]) -> Float[Array, "..."]:
    """``integral |pred - true| dx`` per leading index, shape ``pred.shape[:-1]``."""
    pred, true, w = _check(pred, true, w)
    return jnp.abs(pred - true) @ w


def mse(pred: ArrayLike, true: ArrayLike, axis: int | tuple[int, ...] | None = None) -> Float[Array, "..."]:
    """Mean of ``(pred - true)^2`` over ``axis``.

    ``axis=None`` (default): over all entries, a scalar. ``axis=-1``: over space only, shape
    ``pred.shape[:-1]`` -- the per-function, per-time MSE that ProbConserv then averages over
    test functions (see :func:`mean_and_se`). Any ``int`` or tuple of ints as in ``jnp.mean``.
    """
    pred, true, _ = _check(pred, true, None)
    _check_axes(axis, pred.ndim, "pred")
    return jnp.mean((pred - true) ** 2, axis=axis)


def relative_l2(
    pred: ArrayLike,
    true: ArrayLike,
    w: ArrayLike | None = None,
    *,
    axis: int | tuple[int, ...] = -1,
) -> Float[Array, "..."]:
    """Relative L2 error ``||pred - true||_2 / ||true||_2``, reduced over ``axis`` only.

    ``||v||_2^2 = sum over axis of w_x v^2`` (``w``, shape ``(nx,)``, weights the last axis,
    which must then be among the reduced axes; ``w = None``: plain sums). The result has the
    shape of ``pred`` without ``axis``: one value per remaining (leading) index, no other
    reduction.

    * ``axis=-1`` (default): per function and time, over space.
    * BOON / FNO (``LpLoss``): per sample over the *flattened* sample, i.e. ``axis=(1, 2)``
      for ``(n, nt, nx)`` (``axis=1`` for ``(n, nx)``); the training loss is the **sum** of
      these over the batch and the reported test error their **mean** over the test samples.

    Args:
        pred, true: same shape.
        w: optional quadrature weights over the last axis, shape ``(nx,)``.
        axis: int or tuple of ints (negative counts from the end).

    Returns:
        Shape ``pred.shape`` without ``axis``. ``0/0`` (both zero) gives NaN.
    """
    pred, true, w = _check(pred, true, w)
    if pred.ndim == 0:
        raise ValueError("pred must have at least one axis, got a scalar")
    _check_axes(axis, pred.ndim, "pred")
    axes = tuple(sorted({a % pred.ndim for a in ((axis,) if _is_int(axis) else tuple(axis))}))
    if not axes:
        raise ValueError("axis must name at least one axis to reduce, got ()")
    pred, true = _floats(pred, true)
    if w is not None:
        if pred.ndim - 1 not in axes:
            raise ValueError(f"w weights the last axis, which axis={axis!r} does not reduce")
        w = w.astype(pred.dtype)
    else:
        w = jnp.ones((), pred.dtype)
    num = jnp.sum((pred - true) ** 2 * w, axis=axes)
    den = jnp.sum(true**2 * w, axis=axes)
    return jnp.sqrt(num / den)


def conservation_error(
    u: Float[ArrayLike, "*batch nx"], w: Float[ArrayLike, " nx"], mass: ArrayLike
) -> Float[Array, "*batch"]:
    """Signed conservation error ``CE = sum_i w_i u_i - mass ~ integral u dx - mass``.

    Args:
        u: fields with space last, ``(..., nt, nx)`` or ``(..., nx)``.
        w: quadrature weights, shape ``(nx,)``. ProbConserv integrates its node grid on
            ``[x0, x1]`` with the trapezoid rule, ``(mean(u[1:]) + mean(u[:-1])) / 2 * (x1 - x0)``,
            i.e. ``Grid1D.nodes(x0, x1, nx).quadrature("trapezoid")``.
        mass: the exact mass (``integral u dx`` of the true solution), broadcastable to
            ``u.shape[:-1]`` (a scalar, ``(nt,)`` for ``u`` of shape ``(nf, nt, nx)``, ...).

    Returns:
        Shape ``u.shape[:-1]``: one signed error per leading index, positive when the
        prediction holds too much mass. No reduction over time or functions; ProbConserv
        reports the signed value averaged over test functions at one time.

    The sum is an elementwise product and reduction (not a matrix product, which may run
    at reduced precision on accelerators); dtype is the promotion of ``u`` and ``mass``.
    """
    u, w, mass = jnp.asarray(u), jnp.asarray(w), jnp.asarray(mass)
    if u.ndim == 0:
        raise ValueError("u must have at least one axis (space last), got a scalar")
    if w.shape != u.shape[-1:]:
        raise ValueError(f"w must have shape (nx,) = {u.shape[-1:]}, got {w.shape}")
    _check_broadcast("mass", mass.shape, u.shape[:-1], "u.shape[:-1]")
    u, mass = _floats(u, mass)
    return jnp.sum(u * w.astype(u.dtype), axis=-1) - mass


def log_likelihood(
    mean: Float[ArrayLike, "*batch nx"], variance: ArrayLike, true: Float[ArrayLike, "*batch nx"]
) -> Float[Array, "*batch"]:
    """Pointwise Gaussian log likelihood averaged over space (ProbConserv's "LL").

    ``LL = mean_x [ -0.5 * ((true - mean)^2 / variance + log(variance) + log(2 pi)) ]``

    This is the marginal (diagonal) density, point by point, averaged -- not the joint log
    density of a correlated prediction, and not summed.

    Args:
        mean: predictive mean, shape ``(..., nx)``.
        variance: predictive variance (not the standard deviation), broadcastable to
            ``true.shape``; must be positive and finite (``eqx.error_if``, also under jit).
        true: the observed solution, same shape as ``mean``.

    Returns:
        Shape ``true.shape[:-1]`` (mean over the last axis only). Higher is better.
    """
    mean, variance, true = _check_gaussian(mean, variance, true)
    bad = ~jnp.all((variance > 0) & jnp.isfinite(variance))
    variance = eqx.error_if(variance, bad, "variance must be positive and finite")
    ll = -0.5 * ((true - mean) ** 2 / variance + jnp.log(variance) + _LOG_2PI)
    return jnp.mean(ll, axis=-1)


def crps(
    mean: Float[ArrayLike, "*batch nx"], variance: ArrayLike, true: Float[ArrayLike, "*batch nx"]
) -> Float[Array, "*batch"]:
    """Continuous ranked probability score of the pointwise Gaussian, averaged over space.

    For ``X ~ N(mu, sigma^2)`` and observation ``y``, with ``z = (y - mu) / sigma``,

    ``CRPS = E|X - y| - E|X - X'| / 2 = sigma * (z * (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi))``

    (``Phi``, ``phi``: standard normal cdf and density). It has the units of ``u``, is
    non-negative, lower is better, and tends to ``|y - mu|`` (the absolute error) as
    ``sigma -> 0``; ``variance == 0`` is allowed and gives exactly ``|y - mu|``.

    Args:
        mean: predictive mean, shape ``(..., nx)``.
        variance: predictive variance, broadcastable to ``true.shape``; must be finite and
            non-negative (``eqx.error_if``, also under jit).
        true: the observed solution, same shape as ``mean``.

    Returns:
        Shape ``true.shape[:-1]`` (mean over the last axis only).
    """
    mean, variance, true = _check_gaussian(mean, variance, true)
    bad = ~jnp.all((variance >= 0) & jnp.isfinite(variance))
    variance = eqx.error_if(variance, bad, "variance must be finite and non-negative")
    positive = variance > 0
    sigma = jnp.sqrt(jnp.where(positive, variance, 1.0))  # safe: no 0/0 or inf gradient
    d = true - mean
    z = d / sigma
    spread = sigma * (2.0 * _INV_SQRT_2PI * jnp.exp(-0.5 * z**2) - _INV_SQRT_PI)
    score = jnp.where(positive, d * (2.0 * ndtr(z) - 1.0) + spread, jnp.abs(d))
    return jnp.mean(score, axis=-1)


def shock_position(
    samples: Float[ArrayLike, "*batch nx"],
    x: Float[ArrayLike, " nx"],
    threshold: ArrayLike = 0.0,
    *,
    faithful: bool = False,
) -> Float[Array, "*batch"]:
    """Where a profile first drops to ``threshold``: the Stefan/PME downstream task.

    ``i* = min{i : samples[..., i] <= threshold}`` (scanning in increasing ``x``).

    * ``faithful=False`` (default): position ``x[i*]``; if no entry is ``<= threshold``,
      ``x[-1]`` (the front has not entered the domain's interior or is at/after its end).
    * ``faithful=True``: ProbConserv's ``estimate_shock_interval`` + ``analyze_shocks``
      exactly: position ``i* / nx * x[-1]`` with ``i* = nx`` when nothing crosses. This
      divides by ``nx``, not ``nx - 1``, so on ``x = linspace(0, L, nx)`` it is biased low by
      ``x[i*] / (nx - 1)``, and it assumes ``x[0] = 0`` (only ``x[-1]`` is used).

    NaN entries never count as crossing.

    Args:
        samples: solution profiles at one time (e.g. posterior samples), shape ``(..., nx)``.
        x: increasing grid points, shape ``(nx,)``.
        threshold: broadcastable to ``samples.shape[:-1]`` (ProbConserv: 0).
        faithful: reproduce the reference's formula (see above).

    Returns:
        Shape ``samples.shape[:-1]``, in the floating dtype of ``x``.
    """
    samples, x, threshold = jnp.asarray(samples), jnp.asarray(x), jnp.asarray(threshold)
    if samples.ndim == 0:
        raise ValueError("samples must have at least one axis (space last), got a scalar")
    if x.shape != samples.shape[-1:]:
        raise ValueError(f"x must have shape (nx,) = {samples.shape[-1:]}, got {x.shape}")
    _check_broadcast("threshold", threshold.shape, samples.shape[:-1], "samples.shape[:-1]")
    (x,) = _floats(x)
    nx = samples.shape[-1]
    crossed = samples <= threshold[..., None]
    first = jnp.argmax(crossed, axis=-1)  # first True; 0 if none
    any_crossed = jnp.any(crossed, axis=-1)
    if faithful:
        index = jnp.where(any_crossed, first, nx)
        return index.astype(x.dtype) / nx * x[-1]
    return jnp.where(any_crossed, x[first], x[-1])


def mean_and_se(values: ArrayLike, axis: int = 0) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """Mean and standard error of the mean along ``axis``.

    ``mean = sum(v) / n``, ``se = sd / sqrt(n)`` with the sample standard deviation
    ``sd = sqrt(sum((v - mean)^2) / (n - 1))`` (``ddof=1``: pandas' and ``torch.std``'s
    default, as in ProbConserv's tables), ``n = values.shape[axis]``.

    Args:
        values: e.g. per-function metrics, shape ``(nf, ...)`` for ``axis=0``.
        axis: the axis to reduce (an int; negative counts from the end).

    Returns:
        ``(mean, se)``, each of shape ``values.shape`` without ``axis``.

    Raises:
        ValueError: if ``n < 2`` (the standard error is undefined; pandas would return NaN)
            or ``axis`` is out of range. NaNs propagate (no pandas-style ``skipna``).
    """
    (values,) = _floats(values)
    if not _is_int(axis) or not -values.ndim <= axis < values.ndim:
        raise ValueError(f"axis must be an int in [-{values.ndim}, {values.ndim}) for values of shape {values.shape}, got {axis!r}")
    n = values.shape[axis]
    if n < 2:
        raise ValueError(f"values needs at least 2 entries along axis {axis} for a standard error, got {n}")
    mean = jnp.mean(values, axis=axis)
    se = jnp.std(values, axis=axis, ddof=1) / math.sqrt(n)
    return mean, se


def convergence_order(dx: ArrayLike, err: ArrayLike) -> float:
    """Least-squares slope of ``log(err)`` against ``log(dx)`` (the observed order)."""
    dx, err = np.asarray(dx, float), np.asarray(err, float)
    if dx.shape != err.shape or dx.size < 2:
        raise ValueError("dx and err need the same shape with at least two entries")
    if np.any(err <= 0) or np.any(dx <= 0):
        raise ValueError("dx and err must be positive")
    return float(np.polyfit(np.log(dx), np.log(err), 1)[0])
