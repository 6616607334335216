"""Deep-ensemble rows of ``physcon reproduce probconserv``: "Ensemble-ANP" and "ProbConserv-Ensemble-ANP".

``M`` small ANPs (the setting's widths) are trained from different keys on the same tasks, in
ONE :func:`physcon.train.fit` loop (:class:`physcon.models.Ensemble`, :func:`physcon.models.ensemble_loss`
with the ELBO; the best-validation ensemble is kept, validation = the members' summed ELBO with
dropout off). At test time every member predicts the moment-matched Gaussian of its latent
samples on the evaluation grid; the ensemble's prediction is the diagonal + rank-``M`` Gaussian
(:func:`physcon.models.members_gaussian`: member mean, member spread, mean member variance).
"ProbConserv-Ensemble-ANP" conditions it exactly on the conservation law
(:func:`physcon.constraints.probconserv`, ``sigma_G = 0``): the posterior mean and every
Matheron sample satisfy ``G u = b`` to round-off.

Used through :class:`physcon.experiments.probconserv.Rows` (``rows()``, ``run(..., extra=(rows(),))``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from physcon.constraints import probconserv
from physcon.distributions import DiagonalGaussian
from physcon.experiments.probconserv import Rows, Setting, test_problem
from physcon.models import ANP, Ensemble, elbo_loss, ensemble_loss, members_gaussian
from physcon.train import fit

METHODS = ("Ensemble-ANP", "ProbConserv-Ensemble-ANP")


def fit_anp_ensemble(family, train, valid, setting: Setting, key, progress=True, *, m: int = 4) -> Ensemble:
    """``m`` ANPs trained together on ``train`` (best-validation ensemble)."""
    k_init, k_fit = jax.random.split(key)
    ens = Ensemble(lambda k: ANP(hidden=setting.hidden, latent=setting.latent, key=k), m=m, key=k_init)

    def valid_fn(e, vdata):
        return ensemble_loss(lambda mdl, b, k: elbo_loss(mdl, b, k, inference=True)[0])(
            e, vdata, jax.random.PRNGKey(0)) / vdata["context_x"].shape[0]

    model, _ = fit(ens, ensemble_loss(elbo_loss), train, optax.adam(setting.lr), steps=setting.steps,
                   batch_size=setting.batch_size, key=k_fit, has_aux=True, valid_data=valid,
                   valid_every=setting.valid_every, valid_fn=valid_fn, keep_best=True,
                   log_every=min(100, setting.valid_every), progress=progress)
    return model


@eqx.filter_jit
def _predict_chunk(ens: Ensemble, cx, cy, keys, points, law, setting: Setting, shape):
    dt = jax.tree.leaves(ens.members)[0].dtype

    def one(cx, cy, k):
        out = ens(cx.astype(dt), cy.astype(dt), points.astype(dt), key=k, n_samples=setting.n_samples, chunk_size=10)
        out = DiagonalGaussian(out.mean.astype(jnp.float64).reshape(ens.m, *shape),
                               out.variance.astype(jnp.float64).reshape(ens.m, *shape))
        prior = members_gaussian(out)
        post = probconserv(prior, law)
        return {METHODS[0]: (prior.mean, prior.variance), METHODS[1]: (post.mean, post.variance)}

    return jax.vmap(one)(cx, cy, keys)


def predict_anp_ensemble(ens: Ensemble, family, value, contexts, setting: Setting, key) -> dict:
    """``{method: (mean, variance)}``, each ``(n_test, eval_nt, eval_nx)``, on the test contexts."""
    _, _, points, _, _, law = test_problem(family, value, setting)
    shape = (setting.eval_nt, setting.eval_nx)
    keys = jax.random.split(key, setting.n_test)
    chunks = []
    for lo in range(0, setting.n_test, setting.eval_chunk):
        sl = slice(lo, lo + setting.eval_chunk)
        chunks.append(jax.device_get(_predict_chunk(ens, jnp.asarray(contexts["context_x"][sl]),
                                                    jnp.asarray(contexts["context_y"][sl]), keys[sl], points, law,
                                                    setting, shape)))
    return {m: tuple(jnp.concatenate([c[m][i] for c in chunks]) for i in range(2)) for m in METHODS}


def rows(m: int = 4) -> Rows:
    """The ensemble rows for :func:`physcon.experiments.probconserv.run` (``m`` ANP members)."""
    if isinstance(m, bool) or not isinstance(m, int) or m < 2:
        raise ValueError(f"m (ensemble members) must be an integer >= 2, got {m!r}")
    return Rows(methods=METHODS,
                fit=lambda *a: fit_anp_ensemble(*a, m=m),
                predict=predict_anp_ensemble)
