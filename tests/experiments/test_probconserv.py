"""The ProbConserv pipeline's constraint step on real ANP output (untrained, small, float64)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.experiments import probconserv as pcx
from physcon.models import ANP


@pytest.fixture(scope="module")
def setting():
    return dataclasses.replace(pcx.QUICK, hidden=8, latent=8, n_samples=6, n_test=3, eval_nx=41, eval_nt=11,
                               n_shock=64, solver_nx=40, solver_nt=21, eval_chunk=2)


@pytest.fixture(scope="module")
def model():
    return ANP(hidden=8, latent=8, heads=2, key=jax.random.PRNGKey(0))


@pytest.mark.parametrize("faithful", [False, True])
def test_every_sample_and_the_mixture_conserve(x64, setting, model, faithful):
    if faithful:  # the reference's prediction: dropout on, unbiased between-sample variance
        setting = dataclasses.replace(setting, dropout_at_inference=True, ddof=1)
    ctx = pcx.test_contexts("pme", 3.0, setting, jax.random.PRNGKey(1))
    assert ctx["context_x"].shape == (3, 100, 2)
    res = pcx.evaluate({"ANP": model}, "pme", 3.0, ctx, setting, jax.random.PRNGKey(2))
    b = np.abs(res["mass"]).max()
    for m in ("HardC-ANP", "ProbConserv-ANP"):
        assert np.abs(res[m]["ce_t"]).max() <= 1e-10 * b, m
        assert res[m]["ce_t"].shape == (3, setting.eval_nt)
    assert np.abs(res["ANP"]["ce"]).min() > 1e-6  # an untrained ANP does not conserve
    for m in ("ANP", "HardC-ANP", "ProbConserv-ANP"):
        assert all(np.all(np.isfinite(res[m][s])) for s in ("ll", "mse", "crps"))
    # (each sample's variance shrinks, tests/constraints; the moment-matched variance need not,
    # since the constraint moves the samples' means differently)
    assert all(np.all(res["profile"][m][1] > 0) for m in res["profile"])


@pytest.mark.parametrize("faithful", [False, True])
def test_shock_samples(x64, setting, model, faithful):
    s = dataclasses.replace(setting, faithful_shock=faithful)
    ctx = pcx.test_contexts("stefan", 0.6, s, jax.random.PRNGKey(3))
    out = pcx.shock_samples(model, "stefan", 0.6, ctx, s, jax.random.PRNGKey(4))
    x = out["x"]
    for m in ("ANP", "HardC-ANP", "ProbConserv-ANP"):
        assert out[m].shape == (3, 64)  # (n_test, n_shock)
        assert np.all((out[m] >= 0) & (out[m] <= x[-1] + 1e-12))
    if not faithful:  # positions are grid points
        assert np.all(np.isin(out["ProbConserv-ANP"], x))
    # the closed-form front of u* = 0.6 at t = 0.05 is 0.2351; the first node past it is the truth
    assert 0.2351 <= out["truth"] <= 0.2351 + (x[1] - x[0]) + 1e-12


def test_mixture_samples_satisfy_the_law(x64, setting, model):
    from physcon.constraints import conservation_law
    from physcon.grid import Grid1D
    from physcon.solvers.gpme import Stefan

    x = jnp.linspace(0.0, 1.0, 41)
    t = jnp.asarray([0.05])
    pts = jnp.stack([jnp.full_like(x, 0.05), x], -1)
    ctx = pcx.test_contexts("stefan", 0.6, setting, jax.random.PRNGKey(5))
    smp = pcx._samples(model, jnp.asarray(ctx["context_x"][0]), jnp.asarray(ctx["context_y"][0]), pts,
                       jax.random.PRNGKey(6), setting, (1, 41))
    law = conservation_law(Grid1D.nodes(0.0, 1.0, 41), t, mass=Stefan(u_star=0.6).mass, rule="trapezoid")
    _, _, post = pcx.constrained(smp, law, "ProbConserv-ANP")
    draws = jax.vmap(lambda p, k: p.sample(k, 8))(post, jax.random.split(jax.random.PRNGKey(7), 6))
    resid = jax.vmap(jax.vmap(law.residual))(draws)
    assert np.abs(np.asarray(resid)).max() <= 1e-10 * float(law.b.max())


def test_extra_rows_use_the_same_metrics(x64, setting):
    """A :class:`Rows` model that predicts the closed form: zero MSE, and the closed form's own CE
    (the trapezoid rule's error on the coarse test grid) for every test function."""
    x, t, points, j, truth, law = pcx.test_problem("pme", 3.0, setting)
    assert points.shape == (setting.eval_nt * setting.eval_nx, 2) and truth.shape == (11, 41)

    def predict(state, family, value, contexts, setting, key):
        n = contexts["context_x"].shape[0]
        mean = jnp.broadcast_to(state, (n, *state.shape))
        return {"Truth": (mean, jnp.full_like(mean, 1e-6))}

    rows = pcx.Rows(methods=("Truth",), fit=None, predict=predict)
    ctx = pcx.test_contexts("pme", 3.0, setting, jax.random.PRNGKey(1))
    res = {"j": j, "profile": {}}
    pcx._evaluate_rows(rows, truth, res, "pme", 3.0, ctx, setting, jax.random.PRNGKey(0), law, truth)
    assert res["Truth"]["mse"].shape == (3,) and np.all(res["Truth"]["mse"] == 0)
    np.testing.assert_allclose(res["Truth"]["ce_t"], np.broadcast_to(law.residual(truth)[:, 0], (3, 11)),
                               rtol=0, atol=1e-14)
    assert res["profile"]["Truth"][0].shape == (41,)
