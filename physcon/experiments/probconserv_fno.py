"""FNO-ensemble rows of ``physcon reproduce probconserv``: "Ensemble-FNO" and "ProbConserv-Ensemble-FNO".

A probabilistic neural operator: ``M`` 2-D FNOs (:class:`physcon.models.FNO` over ``(t, x)``,
``grid=True``) map the PDE parameter, normalised to ``[0, 1]`` over the family's training range
and broadcast on the grid, to the solution on the solver grid (every :data:`T_STRIDE`-th of
the ``solver_nt`` times x the ``solver_nx`` cells). They are trained from different keys in ONE
:func:`physcon.train.fit` loop (:class:`physcon.models.Ensemble`, :func:`physcon.models.ensemble_loss`,
mean squared error) on ``n_train`` freshly solved problems of physcon's GPME solvers. At test
time the members' fields are interpolated linearly to the evaluation grid (constant beyond the
outermost cell centres), their diagonal + rank-``M`` Gaussian
(:func:`physcon.models.members_gaussian`, diagonal ``floor`` x the mean between-member
variance) is the prediction "Ensemble-FNO", and "ProbConserv-Ensemble-FNO" conditions it exactly
on the conservation law (``sigma_G = 0``): mean and every Matheron sample conserve to round-off.

Unlike the ANP rows, the FNO is told the parameter and sees no context points, so the
prediction is the same for every test function of a test value.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from physcon import data as pdata
from physcon.constraints import probconserv
from physcon.experiments.probconserv import Rows, Setting, test_problem
from physcon.models import FNO, Ensemble, ensemble_loss, members_gaussian
from physcon.train import fit

METHODS = ("Ensemble-FNO", "ProbConserv-Ensemble-FNO")
#: Solver times used for training: every ``T_STRIDE``-th (101 -> 21 in the quick setting).
T_STRIDE = 5
#: FNO sizes (width, Fourier modes per axis) and the diagonal floor of the ensemble Gaussian.
WIDTH, MODES, FLOOR = 16, 8, 1e-2


def _inputs(p, lo, hi, nt, nx):
    z = (jnp.asarray(p, jnp.float32) - lo) / (hi - lo)
    return jnp.broadcast_to(z[:, None, None, None], (z.shape[0], 1, nt, nx))


def _mse(model, batch, key):
    pred = jax.vmap(model)(batch["a"])
    return jnp.mean((pred - batch["u"]) ** 2)


def fit_fno_ensemble(family, train, valid, setting: Setting, key, progress=True, *, m: int = 4):
    """``m`` FNOs trained together on ``setting.n_train`` solved problems of ``family``.

    Returns the state for :func:`predict_fno_ensemble`: ``(ensemble, (lo, hi), t, x)``."""
    cls = pdata.problem_class(family)
    k_data, k_init, k_fit = jax.random.split(key, 3)
    seed = int(jax.random.randint(k_data, (), 0, 2**30))
    ds = pdata.generate(family, setting.n_train, seed=seed, nx=setting.solver_nx, nt=setting.solver_nt)
    lo, hi = (float(v) for v in cls.train_range)
    t, x = np.asarray(ds.t)[::T_STRIDE], np.asarray(ds.x)
    u = jnp.asarray(np.asarray(ds.u)[:, ::T_STRIDE, None].transpose(0, 2, 1, 3), jnp.float32)  # (n, 1, nt, nx)
    a = _inputs(ds.params[ds.parameter], lo, hi, t.size, x.size)
    modes = (min(MODES, t.size // 2), min(MODES, x.size // 2 + 1))
    ens = Ensemble(lambda k: FNO(2, 1, 1, modes, WIDTH, grid=True, key=k), m=m, key=k_init)
    ens, _ = fit(ens, ensemble_loss(_mse), {"a": a, "u": u}, optax.adam(setting.lr), steps=setting.steps,
                 batch_size=setting.batch_size, key=k_fit, log_every=min(100, setting.steps), progress=progress)
    return ens, (lo, hi), t, x


@eqx.filter_jit
def _predict(ens, a, t_s, x_s, t, x, law):
    fields = ens(a)[:, 0].astype(jnp.float64)  # (M, nt_s, nx_s)
    # linear interpolation, first in x then in t (constant beyond the outermost nodes)
    fields = jax.vmap(jax.vmap(lambda row: jnp.interp(x, x_s, row)))(fields)          # (M, nt_s, nx)
    fields = jax.vmap(lambda f: jax.vmap(lambda col: jnp.interp(t, t_s, col), 1, 1)(f))(fields)  # (M, nt, nx)
    prior = members_gaussian(fields, floor=FLOOR)
    post = probconserv(prior, law)
    return prior.mean, prior.variance, post.mean, post.variance


def predict_fno_ensemble(state, family, value, contexts, setting: Setting, key) -> dict:
    """``{method: (mean, variance)}``, each ``(n_test, eval_nt, eval_nx)`` (the same for every test
    function: the FNO sees the parameter, not the context)."""
    ens, (lo, hi), t_s, x_s = state
    x, t, _, _, _, law = test_problem(family, value, setting)
    a = _inputs(jnp.asarray([value]), lo, hi, t_s.size, x_s.size)[0]
    m, v, pm, pv = _predict(ens, a, jnp.asarray(t_s, jnp.float64), jnp.asarray(x_s, jnp.float64), t, x, law)
    n = contexts["context_x"].shape[0]
    rep = lambda z: jnp.broadcast_to(z, (n, *z.shape))
    return {METHODS[0]: (rep(m), rep(v)), METHODS[1]: (rep(pm), rep(pv))}


def rows(m: int = 4) -> Rows:
    """The FNO-ensemble rows for :func:`physcon.experiments.probconserv.run` (``m`` FNO members)."""
    if isinstance(m, bool) or not isinstance(m, int) or m < 2:
        raise ValueError(f"m (ensemble members) must be an integer >= 2, got {m!r}")
    return Rows(methods=METHODS, fit=lambda *a: fit_fno_ensemble(*a, m=m), predict=predict_fno_ensemble)
