"""GP rows of ``physcon reproduce probconserv``: a GP and ProbConserv-GP (Step 1 = a GP).

For every test context set (100 points, as the ANP sees), a separable GP
(:class:`physcon.models.GP`, Matern-5/2 in t and in x) is fitted by marginal likelihood on the
context itself (:func:`physcon.models.fit_gp`, bounded hyperparameters), its exact posterior is
evaluated on the evaluation grid with the cross-time covariance kept
(:class:`physcon.models.GPPrediction`), and ProbConserv conditions it on the same conservation
law as the ANP rows (``sigma_G = 0``). The GP is a per-function model: ``fit`` trains nothing.
Metrics are the ANP rows' (:func:`physcon.experiments.probconserv.gaussian_metrics`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from physcon.constraints import probconserv
from physcon.experiments import probconserv as pcx
from physcon.models import fit_gp

METHODS = ("GP", "ProbConserv-GP")
#: Adam steps of the marginal-likelihood fit per test function.
GP_STEPS = 300


def _fit(family, train, valid, setting, key, progress):
    return None  # fitted per test function, on its context


@eqx.filter_jit
def _one(cx, cy, t, x, law):
    gp = fit_gp(cx, cy, steps=GP_STEPS)
    pred = gp.predict(cx, cy, t, x)
    post = probconserv(pred, law)
    return pred.mean, pred.variance, post.mean, post.variance


def _predict(state, family, value, contexts, setting, key):
    x, t, _, _, _, law = pcx.test_problem(family, value, setting)
    outs = []
    for i in range(contexts["context_x"].shape[0]):  # one function at a time: O(N n) memory each
        outs.append(jax.device_get(_one(jnp.asarray(contexts["context_x"][i], jnp.float64),
                                        jnp.asarray(contexts["context_y"][i], jnp.float64), t, x, law)))
    m, v, pm, pv = (np.stack(a) for a in zip(*outs))
    return {"GP": (m, v), "ProbConserv-GP": (pm, pv)}


#: The :class:`~physcon.experiments.probconserv.Rows` hook: ``run(..., extra=(ROWS,))``.
ROWS = pcx.Rows(methods=METHODS, fit=_fit, predict=_predict)
