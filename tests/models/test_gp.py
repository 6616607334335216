"""The Gaussian process (physcon.models.gp): exact posterior, ProbConserv-GP, gradients, bad input."""

import jax
import jax.numpy as jnp
import pytest

from physcon.constraints import conservation_law, probconserv
from physcon.distributions import DenseGaussian
from physcon.grid import Grid1D
from physcon.models import GP, GPPrediction, fit_gp
from physcon.models.gp import BOUNDS

T, X = [0.0, 1 / 3, 2 / 3, 1.0], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # lists: float64 under the fixture


def _context(n=7):
    cx = jax.random.uniform(jax.random.PRNGKey(3), (n, 2), jnp.float64)
    return cx, jnp.sin(3 * cx[:, 0]) + cx[:, 1] ** 2


def _law(noise=0.0):
    return conservation_law(Grid1D.nodes(0.0, 1.0, len(X)), T, mass=jnp.linspace(0.4, 0.9, len(T)),
                            noise=noise, rule="trapezoid")


def _dense_posterior(gp, cx, cy):
    P = jnp.stack(jnp.meshgrid(jnp.array(T), jnp.array(X), indexing="ij"), -1).reshape(-1, 2)
    k = gp.tinygp_kernel()
    h = gp.hyperparameters()
    Kcc = k(cx, cx) + h["noise"] ** 2 * jnp.eye(cx.shape[0])
    Ksc = k(P, cx)
    mean = h["mean"] + Ksc @ jnp.linalg.solve(Kcc, cy - h["mean"])
    return mean, k(P, P) - Ksc @ jnp.linalg.solve(Kcc, Ksc.T)


def test_posterior_and_probconserv_equal_dense_reference(x64):
    cx, cy = _context()
    gp = GP(1.3, 0.4, 0.3, 0.05, 0.2, kernel="matern32")
    pred = gp.predict(cx, cy, T, X)
    mean, cov = _dense_posterior(gp, cx, cy)
    assert jnp.max(jnp.abs(pred.mean.ravel() - mean)) < 1e-10
    assert jnp.max(jnp.abs(pred.covariance() - cov)) < 1e-10
    assert jnp.max(jnp.abs(pred.variance.ravel() - jnp.diagonal(cov))) < 1e-10
    for noise in (0.0, 0.03):
        law = _law(noise)
        post = probconserv(pred, law)
        assert isinstance(post, GPPrediction)
        ref = probconserv(DenseGaussian(mean, cov), law)
        assert jnp.max(jnp.abs(post.mean.ravel() - ref.mean)) < 1e-10
        assert jnp.max(jnp.abs(post.covariance() - ref.covariance())) < 1e-10
        assert jnp.all(post.variance <= pred.variance + 1e-12)  # variance never grows


def test_probconserv_gp_mean_and_samples_conserve(x64):
    cx, cy = _context()
    law = _law()
    post = probconserv(GP(1.0, 0.3, 0.2, 0.02).predict(cx, cy, T, X), law)
    scale = jnp.max(jnp.abs(law.b))
    assert jnp.max(jnp.abs(law.residual(post.mean))) <= 1e-10 * scale
    samples = post.sample(jax.random.PRNGKey(0), 64)
    assert samples.shape == (64, len(T), len(X))
    assert jnp.max(jnp.abs(jax.vmap(law.residual)(samples))) <= 1e-10 * scale
    # GP samples (before the law) have the posterior's moments: Matheron on the union grid
    pred = GP(1.0, 0.3, 0.2, 0.02).predict(cx, cy, T, X)
    s = pred.sample(jax.random.PRNGKey(1), 4000).reshape(4000, -1)
    assert jnp.max(jnp.abs(jnp.mean(s, 0) - pred.mean.ravel())) < 5 * jnp.sqrt(jnp.max(pred.variance) / 4000)
    assert jnp.max(jnp.abs(jnp.cov(s.T) - pred.covariance())) < 0.15 * jnp.max(pred.variance)


def test_gradient_through_fit_free_conditioning_matches_finite_differences(x64):
    cx, cy = _context()
    law = _law()
    w = jax.random.normal(jax.random.PRNGKey(2), (len(T), len(X)), jnp.float64)

    def f(p):
        gp = GP(1.1, p[0], 0.3, 0.05)
        post = probconserv(gp.predict(cx, cy.at[0].add(p[1]), T, X), law)
        return jnp.sum(w * post.mean) + jnp.sum(post.variance)

    p0 = jnp.array([0.35, 0.0])
    g = jax.jit(jax.grad(f))(p0)
    h, fj = 1e-5, jax.jit(jax.vmap(f))
    e = h * jnp.eye(2)
    fd = (fj(p0 + e) - fj(p0 - e)) / (2 * h)
    assert jnp.allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_fit_gp_raises_likelihood_and_stays_in_bounds(x64):
    cx, cy = _context()
    start = GP(jnp.std(cy), 0.2, 0.2, 1e-2 * jnp.std(cy), jnp.mean(cy))
    gp = fit_gp(cx, cy, steps=60)  # jitted
    assert gp.log_marginal_likelihood(cx, cy) > start.log_marginal_likelihood(cx, cy)
    h = gp.hyperparameters()
    assert BOUNDS["noise"][0] * jnp.std(cy) * 0.999 <= h["noise"] <= BOUNDS["noise"][1] * jnp.std(cy)
    span = jnp.max(cx, 0) - jnp.min(cx, 0)
    assert h["length_x"] >= BOUNDS["length_x"][0] * span[1] * 0.999
    # constant data: the ML fit would send the noise to 0 and the length scales to infinity
    flat = fit_gp(cx, jnp.ones(7), steps=60).hyperparameters()
    assert flat["noise"] >= BOUNDS["noise"][0] * 1e-3 * 0.999 and flat["length_t"] <= BOUNDS["length_t"][1] * span[0] * 1.001


def test_bad_input_raises_naming_it(x64):
    cx, cy = _context()
    with pytest.raises(Exception, match="length_x"):
        GP(length_x=0.0)
    with pytest.raises(Exception, match="noise"):
        jax.jit(lambda s: GP(noise=s).predict(cx, cy, T, X).mean)(jnp.float64(-1.0))
    with pytest.raises(Exception, match="context_y"):
        jax.jit(lambda y: GP().predict(cx, y, T, X).mean)(cy.at[2].set(jnp.nan))
    with pytest.raises(Exception, match="context_x"):
        fit_gp(cx.at[0, 1].set(jnp.inf), cy, steps=60)  # jitted
    with pytest.raises(ValueError, match="context_x"):
        GP().predict(cx[:, :1], cy, T, X)
    with pytest.raises(ValueError, match="kernel"):
        GP(kernel="cubic")
    with pytest.raises(ValueError, match="bounds"):
        fit_gp(cx, cy, bounds={"noise": (1.0, 0.1)})
    post = probconserv(GP().predict(cx, cy, T, X), _law())
    with pytest.raises(ValueError, match="already conditioned"):
        post.conserve(_law())
