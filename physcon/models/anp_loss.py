"""The ANP's training loss (:func:`elbo_loss`, the ProbConserv reference code's ELBO, for
:func:`physcon.train.fit`) and the moment matching of its per-sample predictions
(:func:`moment_match`). Both re-exported by :mod:`physcon.models.anp` and :mod:`physcon.models`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions import DiagonalGaussian

__all__ = ["elbo_loss", "moment_match"]


def moment_match(samples: DiagonalGaussian, *, ddof: int = 0) -> DiagonalGaussian:
    """Moment-match an equally weighted mixture of Gaussians stacked on the leading axis.

    Args:
        samples: per-sample Gaussians with ``mean``/``variance`` of shape ``(S, *shape)`` (e.g.
            from :meth:`~physcon.models.anp.ANP.sample_predictions`, possibly after a per-sample constraint).
        ddof: 0 for the exact mixture moments; 1 reproduces the reference code's unbiased
            ``torch.var`` of the means. With ``S == 1`` the between-sample term is 0.

    Returns:
        ``DiagonalGaussian`` of shape ``shape``: mean = average of the means, variance =
        average of the variances + variance of the means.
    """
    means, variances = samples.mean, samples.variance
    s = means.shape[0]
    between = jnp.zeros_like(means[0]) if s == 1 else jnp.var(means, axis=0, ddof=ddof)
    return DiagonalGaussian(jnp.mean(means, axis=0), jnp.mean(variances, axis=0) + between)


_BATCH_KEYS = ("context_x", "context_y", "target_x", "target_y")


def elbo_loss(
    model: eqx.Module,
    batch: Mapping[str, ArrayLike],
    key: PRNGKeyArray,
    *,
    reduction: Literal["sum", "mean"] = "sum",
    inference: bool = False,
    nll: Callable[[DiagonalGaussian, Array, Array], Array] | None = None,
) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
    """The ANP training loss of the ProbConserv reference code, for :func:`physcon.train.fit`.

    ``loss = -sum_{b, targets} log N(target_y | mu, sigma) + sum_b KL(q(z | targets_b) || q(z | context_b))``
    with ``z`` drawn from the target-only posterior and dropout on (training mode).

    Args:
        model: an :class:`~physcon.models.anp.ANP` (any module with its ``elbo_terms`` and
            ``training_prediction``).
        batch: dict with ``context_x`` ``(B, nc, x_dim)``, ``context_y`` ``(B, nc, y_dim)``,
            ``target_x`` ``(B, nt, x_dim)``, ``target_y`` ``(B, nt, y_dim)`` (``y_dim == 1``
            may drop the last axis).
        key: PRNG key (split over the batch: latent draws and dropout masks).
        reduction: ``"sum"`` (the reference; its scale grows with ``B * nt``) or ``"mean"``:
            the same loss divided by ``B * nt`` (per target point; same minimiser, step sizes
            independent of batch and target counts).
        inference: ``True`` turns dropout off (the reference's validation loss).
        nll: replaces the diagonal-Gaussian negative log-likelihood of one function:
            ``nll(prediction, target_x, target_y) -> scalar`` with the decoded
            :class:`~physcon.distributions.DiagonalGaussian` at the targets (e.g.
            :func:`physcon.constraints.constrained_nll`, ProbConserv's constrained likelihood).

    Returns:
        ``(loss, {"nll": nll, "kl": kl})`` (use ``has_aux=True`` with ``fit``); ``nll`` and
        ``kl`` are the two terms under the same reduction, ``loss = nll + kl``.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    missing = [k for k in _BATCH_KEYS if k not in batch]
    if missing:
        raise ValueError(f"batch is missing {missing}; it needs the keys {list(_BATCH_KEYS)}")
    arrays = [jnp.asarray(batch[k]) for k in _BATCH_KEYS]
    for name, a in zip(_BATCH_KEYS, arrays):
        if a.ndim not in (2, 3):
            raise ValueError(f"batch[{name!r}] must have shape (B, n, dim), got {a.shape}")
    b = arrays[0].shape[0]
    for name, a in zip(_BATCH_KEYS, arrays):
        if a.shape[0] != b:
            raise ValueError(f"batch[{name!r}] has batch size {a.shape[0]}, batch['context_x'] has {b}")
    keys = jax.random.split(key, b)
    if nll is None:
        def one(cx, cy, tx, ty, k):
            return model.elbo_terms(cx, cy, tx, ty, key=k, inference=inference)
    else:
        def one(cx, cy, tx, ty, k):
            pred, kl_ = model.training_prediction(cx, cy, tx, ty, key=k, inference=inference)
            return nll(pred, tx, ty), kl_
    nll, kl = jax.vmap(one)(*arrays, keys)
    nll, kl = jnp.sum(nll), jnp.sum(kl)
    if reduction == "mean":
        scale = 1.0 / (b * arrays[2].shape[1])
        nll, kl = nll * scale, kl * scale
    return nll + kl, {"nll": nll, "kl": kl}
