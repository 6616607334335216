"""Deep ensembles: members differ and train in one loop, the diagonal + rank-M Gaussian against
an explicit computation, ProbConserv on an FNO ensemble (mean and samples conserve to round-off),
gradients through the conditioning against finite differences, errors on bad input."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from physcon.constraints import conservation_law, probconserv
from physcon.distributions import DiagonalGaussian, LowRankGaussian
from physcon.grid import Grid1D
from physcon.models import ANP, FNO, Ensemble, ensemble_loss, members_gaussian
from physcon.train import fit

KEY = jax.random.PRNGKey(0)
NT, NX = 4, 12


def _fno_ensemble(m=3, key=KEY):
    # (t, x) operator: input the parameter broadcast on the grid (+ grid coordinates)
    return Ensemble(lambda k: FNO(2, 1, 1, (2, 3), 6, n_layers=2, projection=8, grid=True, key=k), m=m, key=key)


def _mse(model, batch, key):
    return jnp.mean((jax.vmap(model)(batch["x"]) - batch["y"]) ** 2)


def test_members_differ_and_train_in_one_loop():
    ens = _fno_ensemble()
    x = jnp.full((1, NT, NX), 0.5)
    out, one = eqx.filter_jit(lambda e: (e(x), e.member(1)(x)))(ens)
    assert out.shape == (3, 1, NT, NX)
    assert float(jnp.min(jnp.std(out, 0))) > 0  # different keys -> different members
    np.testing.assert_allclose(out[1], one, rtol=1e-6, atol=1e-7)
    data = {"x": jnp.linspace(0, 1, 8)[:, None, None, None] * jnp.ones((8, 1, NT, NX)),
            "y": jnp.sin(jnp.linspace(0, 3, NX)) * jnp.linspace(0, 1, 8)[:, None, None, None]}
    # sum reduction: member m's gradient is exactly the gradient of its own loss
    g, g1 = eqx.filter_jit(lambda e: (eqx.filter_grad(ensemble_loss(_mse))(e, data, KEY),
                                      eqx.filter_grad(_mse)(e.member(1), data, KEY)))(ens)
    for a, b in zip(jax.tree.leaves(g.members), jax.tree.leaves(g1)):
        np.testing.assert_allclose(a[1], b, rtol=1e-4, atol=1e-7)
    trained, hist = fit(ens, ensemble_loss(_mse), data, optax.adam(1e-2), steps=8, batch_size=4, key=KEY,
                        progress=False, log_every=8)
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert isinstance(trained, Ensemble) and trained.m == 3


def test_gaussian_matches_explicit_mixture(x64):
    u = jax.random.normal(KEY, (4, 3, 5))
    v = jax.random.uniform(jax.random.PRNGKey(1), (4, 3, 5))
    flat = np.asarray(u.reshape(4, -1))
    between = np.cov(flat.T, ddof=0)
    for outputs, diag in ((u, 0.1 * np.mean(np.var(flat, 0))), (DiagonalGaussian(u, v), np.mean(v, 0).ravel())):
        g = members_gaussian(outputs, floor=0.1)
        assert isinstance(g, LowRankGaussian) and g.rank == 4
        np.testing.assert_allclose(g.mean, np.mean(flat, 0).reshape(3, 5), rtol=1e-13)
        np.testing.assert_allclose(g.covariance(), between + np.diag(np.broadcast_to(diag, (15,))),
                                   rtol=1e-12, atol=1e-14)


def test_anp_members_predict_lowrank():
    ens = Ensemble(lambda k: ANP(hidden=8, latent=8, heads=2, key=k), m=2, key=KEY)
    cx, cy, tx = jnp.linspace(0, 1, 10).reshape(5, 2), jnp.linspace(0, 1, 5), jnp.linspace(0, 1, 14).reshape(7, 2)
    k = jax.random.PRNGKey(3)
    g, each = eqx.filter_jit(lambda e: (e.predict(cx, cy, tx, key=k, n_samples=4),
                                        [e.member(i)(cx, cy, tx, key=k, n_samples=4) for i in range(2)]))(ens)
    np.testing.assert_allclose(g.mean, (each[0].mean + each[1].mean) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g.base.variance, (each[0].variance + each[1].variance) / 2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g.factor[0], (each[0].mean - each[1].mean) / (2 * np.sqrt(2)), rtol=1e-4, atol=1e-6)


def _law(nt=NT, nx=NX):
    return conservation_law(Grid1D.nodes(0.0, 1.0, nx), jnp.linspace(0, 0.1, nt), mass=jnp.linspace(0.3, 0.4, nt),
                            rule="trapezoid")


def test_probconserv_on_fno_ensemble_conserves(x64):
    ens = _fno_ensemble(m=4)
    x = jnp.full((1, NT, NX), 0.6)
    law = _law()
    post = jax.jit(lambda e, x: probconserv(e.predict(x, output=lambda y: y[0]), law))(ens, x)
    b = law.b[:, 0]
    assert float(jnp.max(jnp.abs(law.residual(post.mean)[:, 0] - 0) / jnp.abs(b))) < 1e-10
    samples = post.sample(jax.random.PRNGKey(5), 16)
    res = jax.vmap(law.residual)(samples)[..., 0]
    assert float(jnp.max(jnp.abs(res) / jnp.abs(b))) < 1e-10
    prior = eqx.filter_jit(lambda e, x: e.predict(x, output=lambda y: y[0]))(ens, x)
    assert bool(jnp.all(post.variance <= prior.variance * (1 + 1e-12)))  # variance never grows
    assert float(jnp.max(jnp.abs(samples - post.mean))) > 1e-6  # real samples, not the mean


def test_gradient_through_conditioning_matches_finite_differences(x64):
    ens = _fno_ensemble(m=3)
    law = _law()
    w = jnp.sin(jnp.arange(NT * NX).reshape(NT, NX))

    def f(p):  # through the FNO members, the Gaussian and ProbConserv: mean and variance
        post = probconserv(ens.predict(jnp.full((1, NT, NX), p), output=lambda y: y[0]), law)
        return jnp.sum(w * post.mean) + jnp.sum(jnp.log(post.variance))

    p, h = 0.6, 1e-5
    f, df = jax.jit(f), jax.jit(jax.grad(f))
    fd = (f(p + h) - f(p - h)) / (2 * h)
    np.testing.assert_allclose(df(p), fd, rtol=1e-6)


def test_bad_input_errors():
    make = lambda k: FNO(1, 1, 1, 2, 4, key=k)  # noqa: E731
    for m in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="m .*>= 2"):
            Ensemble(make, m=m, key=KEY)
    with pytest.raises(ValueError, match="make"):
        Ensemble(3, m=2, key=KEY)
    with pytest.raises(ValueError, match="eqx.Module"):
        Ensemble(lambda k: jnp.zeros(3), m=2, key=KEY)
    with pytest.raises(ValueError, match="same structure|equal array shapes"):
        Ensemble.stack([make(KEY), FNO(1, 1, 1, 2, 5, key=KEY)])
    with pytest.raises(ValueError, match="m .*>= 2"):
        Ensemble.stack([make(KEY)])
    with pytest.raises(ValueError, match="M >= 2"):
        members_gaussian(jnp.zeros((1, 5)))
    with pytest.raises(ValueError, match="floor"):
        members_gaussian(jnp.zeros((3, 5)), floor=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        ensemble_loss(_mse, reduction="max")
    ens = Ensemble(make, m=2, key=KEY)
    with pytest.raises(ValueError, match="i must be"):
        ens.member(2)
    with pytest.raises(ValueError, match="must be an Ensemble"):
        ensemble_loss(_mse)(make(KEY), {"x": jnp.zeros((1, 1, 8)), "y": jnp.zeros((1, 1, 8))}, KEY)
    with pytest.raises(ValueError, match="x must have shape"):  # a member's own shape check
        ens(jnp.zeros((2, 8)))
