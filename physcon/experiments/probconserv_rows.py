"""Rows of the ProbConserv table: the metrics of a Gaussian prediction, and the hook that adds
Step-1 models (a GP, an ensemble) to :func:`physcon.experiments.probconserv.run`."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from physcon import metrics


@dataclasses.dataclass(frozen=True)
class Rows:
    """More Step-1 models in the table (a GP, an ensemble, ...): rows ``methods`` of :func:`run`.

    Attributes:
        methods: the row names, e.g. ``("GP", "ProbConserv-GP")``.
        fit: ``fit(family, train, valid, setting, key, progress) -> state``, once per family
            (``train``/``valid`` as from :func:`make_tasks`; a model-free method returns ``None``).
        predict: ``predict(state, family, value, contexts, setting, key) -> {method: (mean,
            variance)}``, each ``(n_test, eval_nt, eval_nx)`` on the evaluation grid of
            :func:`physcon.tasks.evaluation_grid` (``contexts`` from :func:`test_contexts`);
            called under float64. The metrics are those of the ANP rows (:func:`gaussian_metrics`).
    """

    methods: tuple[str, ...]
    fit: object
    predict: object


def _function_metrics(mean, var, truth, law, j):
    # the reference clamps posterior variances at 1e-8 (an exact constraint can drive a
    # marginal variance to 0 where one point carries the whole quadrature weight)
    var = jnp.maximum(var, 1e-8)
    ce = law.residual(mean)[:, 0]
    return {"ce_t": ce, "ce": ce[j], "ll": metrics.log_likelihood(mean[j], var[j], truth[j]),
            "mse": metrics.mse(mean[j], truth[j]), "crps": metrics.crps(mean[j], var[j], truth[j])}


def gaussian_metrics(mean, var, truth, law, j: int) -> dict:
    """The table's metrics of ``n`` predictions ``mean``/``var`` ``(n, nt, nx)`` against ``truth``
    ``(nt, nx)`` at time index ``j``: ``{"ce_t": (n, nt), "ce" | "ll" | "mse" | "crps": (n,)}``."""
    return jax.device_get(jax.jit(jax.vmap(_function_metrics, in_axes=(0, 0, None, None, None)))(
        mean, var, truth, law, jnp.asarray(j)))


def _evaluate_rows(rows: Rows, state, out: dict, family, value, contexts, setting: Setting, key, law, truth):
    for m, (mean, var) in rows.predict(state, family, value, contexts, setting, key).items():
        mean, var = jnp.asarray(mean, jnp.float64), jnp.asarray(var, jnp.float64)
        out[m] = gaussian_metrics(mean, var, truth, law, out["j"])
        out["profile"][m] = (np.asarray(mean[0, out["j"]]), np.asarray(var[0, out["j"]]))
