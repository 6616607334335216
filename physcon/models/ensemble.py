"""Deep ensembles: ``M`` members of one Equinox model, stacked, vmapped and trained together.

An :class:`Ensemble` holds ``M`` copies of a model whose array leaves are stacked on a leading
member axis (``eqx.filter_vmap`` over ``M`` initialisation keys), so

* a call runs every member at once (``vmap`` over the member axis): ``ens(x)`` returns the
  members' outputs stacked, ``(M, ...)``;
* :func:`ensemble_loss` turns a per-model loss into one for :func:`physcon.train.fit`, so all
  members train in ONE loop (one compiled step). With ``reduction="sum"`` the gradient with
  respect to member ``m``'s parameters is exactly the gradient of member ``m``'s own loss, so
  a per-parameter optimiser (SGD, Adam) trains each member as if alone on the same batches
  (member ``m`` gets the step key ``fold_in(key, m)``);
* :meth:`Ensemble.predict` returns the ensemble's Gaussian, diagonal + rank ``M``
  (:class:`~physcon.distributions.LowRankGaussian`): with member predictions ``u_m`` and own
  variances ``v_m`` (zero for a deterministic member),

  ``mean = avg_m u_m``, ``W_m = (u_m - mean) / sqrt(M)`` (``Sigma = diag(d) + W^T W``, the
  between-member covariance with ``ddof = 0``), ``d = avg_m v_m`` for probabilistic members
  (an ANP's :class:`~physcon.distributions.DiagonalGaussian`) or, for deterministic members
  (an FNO), the noise floor ``d = floor * avg_i var_m(u_m)_i`` (a fraction of the mean
  between-member variance, so the prediction is scale free; ProbConserv needs ``d > 0``
  because ``W^T W`` has rank ``M - 1``).

This is the moment-matched mixture of the members (Lakshminarayanan et al., 2017) with its
covariance kept in structured form, so :func:`physcon.constraints.probconserv` conditions it
exactly in ``O(N M^2)`` and every Matheron sample conserves to round-off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from physcon.distributions import DiagonalGaussian, LowRankGaussian

__all__ = ["Ensemble", "ensemble_loss", "members_gaussian"]


def _check_m(m) -> int:
    if isinstance(m, bool) or not isinstance(m, int) or m < 2:
        raise ValueError(f"m (the number of ensemble members) must be an integer >= 2, got {m!r}")
    return m


class Ensemble(eqx.Module):
    """``M`` members of one model with stacked parameters (leading axis ``M`` on every array leaf).

    Args:
        make: ``make(key) -> eqx.Module``, e.g. ``lambda k: FNO(2, 1, 1, 8, 16, key=k)``; called
            (under ``eqx.filter_vmap``) with ``M`` different keys ``jax.random.split(key, m)``.
        m: number of members, ``>= 2``.
        key: PRNG key of the initialisation.

    Attributes:
        members: the stacked model (every array leaf has a leading axis of size ``m``).
        m: number of members (static).

    Use :meth:`stack` to build one from already made models. The ensemble is an ``eqx.Module``:
    it goes through ``eqx.filter_jit``, ``jax.grad`` and :func:`physcon.train.fit`.
    """

    members: eqx.Module
    m: int = eqx.field(static=True)

    def __init__(self, make: Callable[[PRNGKeyArray], eqx.Module], m: int = 5, *, key: PRNGKeyArray):
        m = _check_m(m)
        if not callable(make):
            raise ValueError(f"make must be a callable key -> model, got {type(make).__name__}")
        members = eqx.filter_vmap(make)(jax.random.split(key, m))
        if not isinstance(members, eqx.Module):
            raise ValueError(f"make(key) must return an eqx.Module, got {type(members).__name__}")
        self.members, self.m = members, m

    @classmethod
    def stack(cls, models: Sequence[eqx.Module]) -> Ensemble:
        """An ensemble of given models (same class, structure and array shapes), e.g. trained apart."""
        models = list(models)
        _check_m(len(models))
        if not all(isinstance(mdl, eqx.Module) for mdl in models):
            raise ValueError("models must all be eqx.Module instances")
        arrays, static = zip(*(eqx.partition(mdl, eqx.is_array) for mdl in models))
        if len({jax.tree.structure(a) for a in arrays}) != 1 or len({jax.tree.structure(s) for s in static}) != 1:
            raise ValueError("models must have the same structure (class, static fields, leaves) to be stacked")
        for i, mdl in enumerate(arrays[1:], 1):
            for a, b in zip(jax.tree.leaves(arrays[0]), jax.tree.leaves(mdl)):
                if a.shape != b.shape or a.dtype != b.dtype:
                    raise ValueError(f"models[{i}] has an array of shape {b.shape} ({b.dtype}) where models[0] has "
                                     f"{a.shape} ({a.dtype}); members must have equal array shapes")
        obj = object.__new__(cls)
        object.__setattr__(obj, "members", eqx.combine(jax.tree.map(lambda *a: jnp.stack(a), *arrays), static[0]))
        object.__setattr__(obj, "m", len(models))
        return obj

    def member(self, i: int) -> eqx.Module:
        """Member ``i`` as a plain model (array leaves indexed at ``i``)."""
        if not -self.m <= int(i) < self.m:
            raise ValueError(f"i must be in [-{self.m}, {self.m}), got {i}")
        return jax.tree.map(lambda a: a[i] if eqx.is_array(a) else a, self.members)

    def apply(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """``fn(member, *args, **kwargs)`` for every member (vmapped), outputs stacked ``(M, ...)``.
        The arguments are shared by all members."""
        return eqx.filter_vmap(lambda mdl: fn(mdl, *args, **kwargs))(self.members)

    def __call__(self, *args, **kwargs) -> Any:
        """Every member's ``__call__`` on the same arguments; outputs stacked on a leading ``M`` axis
        (a member's ``DiagonalGaussian`` becomes one with mean/variance ``(M, ...)``)."""
        return self.apply(lambda mdl, *a, **k: mdl(*a, **k), *args, **kwargs)

    def predict(self, *args, output: Callable[[Any], Any] | None = None, floor: float = 1e-2,
                **kwargs) -> LowRankGaussian:
        """The ensemble's diagonal + rank-``M`` Gaussian (see the module docstring).

        Args:
            *args, **kwargs: passed to every member's ``__call__``.
            output: maps one member's output to the predicted field (e.g. ``lambda y: y[0]``
                to drop an FNO's channel axis); default: the output itself.
            floor: diagonal variance of deterministic members, relative to the mean
                between-member variance (ignored for members that return a Gaussian).

        Returns:
            :class:`~physcon.distributions.LowRankGaussian` over the field's shape, rank ``M``.
        """
        fn = (lambda mdl, *a, **k: mdl(*a, **k)) if output is None else (lambda mdl, *a, **k: output(mdl(*a, **k)))
        return members_gaussian(self.apply(fn, *args, **kwargs), floor=floor)


def members_gaussian(outputs, *, floor: float = 1e-2) -> LowRankGaussian:
    """The diagonal + rank-``M`` Gaussian of stacked member predictions.

    Args:
        outputs: ``(M, *shape)`` deterministic predictions, or a
            :class:`~physcon.distributions.DiagonalGaussian` with mean/variance ``(M, *shape)``
            (probabilistic members).
        floor: for deterministic members, the diagonal ``d = floor * mean_i var_m(u_m)_i``
            (``floor >= 0``, finite). Ignored for probabilistic members (``d = avg_m v_m``).

    Returns:
        ``LowRankGaussian(mean = avg_m u_m, variance = d, factor = (u_m - mean) / sqrt(M))``.
    """
    if isinstance(outputs, DiagonalGaussian):
        means, variances = outputs.mean, outputs.variance
    elif isinstance(outputs, eqx.Module):
        raise ValueError(f"outputs must be stacked arrays or a DiagonalGaussian, got {type(outputs).__name__}")
    else:
        means = jnp.asarray(outputs)
        variances = None
    if means.ndim < 2 or means.shape[0] < 2:
        raise ValueError(f"outputs must have shape (M, *shape) with M >= 2 members, got {means.shape}")
    if variances is None:
        floor = float(floor)
        if not (floor >= 0.0 and floor < float("inf")):
            raise ValueError(f"floor must be finite and >= 0, got {floor!r}")
        if not jnp.issubdtype(means.dtype, jnp.floating):
            means = means.astype(jnp.result_type(float))
        variances = floor * jnp.mean(jnp.var(means, 0))
    return LowRankGaussian.from_members(means, variances)


def ensemble_loss(loss_fn: Callable[..., Any], *, reduction: Literal["sum", "mean"] = "sum") -> Callable[..., Any]:
    """A loss of an :class:`Ensemble` for :func:`physcon.train.fit` from a per-model loss.

    Args:
        loss_fn: ``loss_fn(model, batch, key) -> loss`` or ``-> (loss, aux dict)``.
        reduction: ``"sum"`` over members (default; member ``m``'s gradient is its own loss's
            gradient) or ``"mean"``.

    Returns:
        ``loss(ensemble, batch, key)``: every member gets the same batch and the key
        ``fold_in(key, m)``; returns the reduced loss (and, if ``loss_fn`` has aux, the aux
        averaged over members plus ``"member_loss"``, the members' mean loss: pass
        ``has_aux=True`` to ``fit`` exactly when ``loss_fn`` has aux).
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable, got {type(loss_fn).__name__}")

    def loss(ens: Ensemble, batch, key):
        if not isinstance(ens, Ensemble):
            raise ValueError(f"the model must be an Ensemble, got {type(ens).__name__}")
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(ens.m))
        out = eqx.filter_vmap(lambda mdl, k: loss_fn(mdl, batch, k))(ens.members, keys)
        aux = None
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            out, aux = out
        total = jnp.sum(out) if reduction == "sum" else jnp.mean(out)
        if aux is None:
            return total
        return total, {**{k: jnp.mean(v) for k, v in aux.items()}, "member_loss": jnp.mean(out)}

    return loss
