"""Error measures with documented reductions, including the ProbConserv evaluation metrics.

Conventions: space is the last axis (length ``nx``); spatial integrals use the grid's
quadrature weights ``w`` (shape ``(nx,)``, e.g. :meth:`physcon.Grid1D.quadrature`), so the
numbers are resolution independent. Unless stated, a function reduces over the last (space)
axis only and returns one value per leading index (time, function, batch); averaging those
over test functions, with a standard error, is :func:`mean_and_se`.

ProbConserv metrics (Hansen et al., ICML 2023; reference ``deep_pdes/experiments/analyze.py``):

* :func:`mse` with ``axis=-1``: squared error averaged over space per function and time;
* :func:`conservation_error` (CE): signed ``integral u dx - mass``;
* :func:`log_likelihood` (LL): pointwise (marginal) Gaussian log density, averaged over space;
* :func:`crps`: closed-form CRPS of the pointwise Gaussian, averaged over space;
* :func:`shock_position`: the Stefan/PME downstream task (where a profile first drops to a
  threshold);
* :func:`mean_and_se`: mean and standard error (``ddof=1``) over test functions.

BOON metrics (Saad et al., ICLR 2023): :func:`relative_l2` with ``axis=`` the sample's axes
(per-sample relative L2 over the flattened sample; the loss sums it over the batch, the test
metric averages it) and :func:`boundary_error` (Dirichlet value, Neumann/Robin derivative with
the condition's own or an independent stencil, periodic mismatch).

All array functions are pure ``jax.numpy``: shape checks are static (``ValueError`` naming
the argument), value checks use ``eqx.error_if`` (so they also fire under ``jax.jit``), and
they work under ``jit``/``vmap``. Results keep the callers' floating dtype (JAX promotion of
the inputs; integer inputs become JAX's default float).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import BoundaryCondition, Dirichlet, Periodic, boundary_stencil, check_pair

_LOG_2PI = math.log(2.0 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


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


# --- boundary conditions (BOON) -----------------------------------------------------------------
def _wall_value(name, bc, value, t, lead, dtype):
    """``g`` broadcast to ``lead``: the explicit ``value`` or the condition's ``bc.at(t)``."""
    if value is None:
        if callable(bc.value) and t is None:
            raise ValueError(f"t is needed to evaluate the time-dependent {name} condition {bc!r}")
        g = bc.at(jnp.asarray(0.0 if t is None else t, dtype), dtype)
        what = f"the {name} condition's value g(t)" + ("" if t is None else " (t broadcast)")
    else:
        g = jnp.asarray(value)
        what = f"{name}_value"
    try:
        ok = jnp.broadcast_shapes(g.shape, lead) == lead
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{what} must be broadcastable to u.shape[:-1] = {lead}, got shape {g.shape}")
    return _check_finite(what, g).astype(dtype)


def _check_finite(name, a):
    """``ValueError`` if a concrete ``a`` holds NaN/inf; ``eqx.error_if`` for a traced one."""
    try:
        finite = bool(np.all(np.isfinite(np.asarray(a))))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return eqx.error_if(a, ~jnp.all(jnp.isfinite(a)), f"{name} must be finite (no NaN/inf)")
    if not finite:
        raise ValueError(f"{name} must be finite (no NaN/inf)")
    return a


def boundary_error(
    u: Float[ArrayLike, "*batch nx"],
    x: Float[ArrayLike, " nx"],
    left: BoundaryCondition,
    right: BoundaryCondition,
    *,
    t: ArrayLike | None = None,
    order: int | tuple[int, int] | None = None,
    left_value: ArrayLike | None = None,
    right_value: ArrayLike | None = None,
) -> dict[str, Float[Array, "*batch"]]:
    """Absolute boundary-condition error of fields on a node grid (BOON's boundary metric).

    With the wall functional ``sum_j w_j u[..., i_j] = g`` of :func:`physcon.bc.boundary_stencil`:

    * :class:`~physcon.bc.Dirichlet`: ``|u[..., wall] - g|``;
    * :class:`~physcon.bc.Neumann` / :class:`~physcon.bc.Robin`: ``|sum_j w_j u[..., i_j] - g|``,
      the one-sided finite-difference ``du/dx`` (Robin: ``a u + b du/dx``) on the wall node and
      the ``order`` nodes next to it. ``order=None`` uses the condition's own stencil (the one
      BOON imposes, so a BOON output scores 0 to round-off); an explicit ``order`` measures the
      derivative with an independent, e.g. higher-order, stencil;
    * :class:`~physcon.bc.Periodic` (on both walls): ``|u[..., 0] - u[..., -1]|`` (the grid
      includes both end points).

    ``g`` is ``left_value`` / ``right_value`` if given (e.g. BOON's per-sample Dirichlet values
    read from the ground truth, shape ``(n, nt)``), else the condition's ``bc.at(t)``.

    Args:
        u: fields with space last, nodes including both walls: ``(..., nx)``, e.g.
            ``(n, nt, nx)``.
        x: node positions, shape ``(nx,)``, strictly increasing; must be concrete (the stencil
            weights are computed with NumPy for the actual spacing).
        left, right: the wall conditions (:mod:`physcon.bc`).
        t: times at which ``g(t)`` is evaluated, broadcastable against ``u[..., 0]`` after the
            evaluation (e.g. shape ``(nt,)`` for ``u`` of shape ``(n, nt, nx)``). Needed only
            for time-dependent values that are not given explicitly.
        order: stencil order for the Neumann/Robin walls: ``None`` (each condition's own), an
            int (both walls) or a ``(left, right)`` pair.
        left_value, right_value: explicit ``g`` of each wall, broadcastable to
            ``u.shape[:-1]``; not allowed with Periodic.

    Returns:
        ``{"left": ..., "right": ...}`` (or ``{"periodic": ...}``), each of shape
        ``u.shape[:-1]``, in the floating dtype of ``u`` (and the values). No reduction over
        samples or times; e.g. ``err["right"].max()`` is the worst wall error.

    Raises:
        ValueError: naming the argument -- mismatched shapes, non-finite ``u``/``x``/values
            (``eqx.error_if`` under ``jit``), an unknown or inconsistent pair of conditions, a
            stencil order the grid cannot support, a non-increasing ``x``, values given for a
            Periodic pair.
    """
    check_pair(left, right)
    u = jnp.asarray(u)
    if u.ndim == 0:
        raise ValueError("u must have at least one axis (space last), got a scalar")
    (u,) = _floats(u)
    try:
        xs = np.asarray(x, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise ValueError("x must be concrete (not traced under jit): the stencil weights depend on it") from None
    nx = u.shape[-1]
    if xs.shape != (nx,):
        raise ValueError(f"x must have shape (nx,) = ({nx},), got {xs.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError("x must be finite (no NaN/inf)")
    if nx < 2 or not np.all(np.diff(xs) > 0):
        raise ValueError(f"x must be strictly increasing with at least 2 nodes, got {xs}")
    u = _check_finite("u", u)
    lead = u.shape[:-1]
    if isinstance(left, Periodic):
        if left_value is not None or right_value is not None:
            raise ValueError("left_value/right_value cannot be given for Periodic conditions")
        if order is not None:
            raise ValueError("order does not apply to Periodic conditions")
        return {"periodic": jnp.abs(u[..., 0] - u[..., -1])}
    if order is None or _is_int(order):
        orders = (order, order)
    elif isinstance(order, (tuple, list)) and len(order) == 2:
        orders = tuple(order)
    else:
        raise ValueError(f"order must be None, an int or a (left, right) pair, got {order!r}")
    out = {}
    for name, bc, value, o in (("left", left, left_value, orders[0]), ("right", right, right_value, orders[1])):
        if isinstance(bc, Dirichlet):
            o = None  # a value condition has no stencil order
        elif o is not None and (not _is_int(o) or o < 1):
            raise ValueError(f"order must be None, an int >= 1 or a (left, right) pair of them, got {order!r}")
        elif (bc.order if o is None else o) + 1 > nx:
            raise ValueError(f"order: the {name} {type(bc).__name__} stencil of order "
                             f"{bc.order if o is None else o} needs {(bc.order if o is None else o) + 1} "
                             f"nodes, x has {nx}")
        index, weights = boundary_stencil(bc, xs, name, o)
        g = _wall_value(name, bc, value, t, lead, u.dtype)
        applied = jnp.sum(u[..., index] * jnp.asarray(weights, u.dtype), axis=-1)
        out[name] = jnp.abs(applied - g)
    return out


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
