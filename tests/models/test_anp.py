"""Attentive Neural Process: size, shapes, mixture moments, invariances, dropout modes, loss,
training, input errors. Small models everywhere except the parameter count (shape-only)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from physcon.distributions import DiagonalGaussian
from physcon.models import ANP, elbo_loss, load_state_dict, moment_match, state_dict
from physcon.train import fit


def n_params(model) -> int:
    """Number of scalars in the inexact array leaves (arrays or ``ShapeDtypeStruct``s)."""
    leaves = jax.tree.leaves(model)
    return sum(int(np.prod(a.shape)) for a in leaves
               if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact))


@eqx.filter_jit
def predict(model, cx, cy, tx, key, **kw):
    """``model(cx, cy, tx, key=key, **kw)``, compiled (eager dispatch is slow on small CPUs)."""
    return model(cx, cy, tx, key=key, **kw)


@eqx.filter_jit
def sample(model, cx, cy, tx, key, **kw):
    return model.sample_predictions(cx, cy, tx, key=key, **kw)


# Tests with dropout on use "rbg" keys: the model is PRNG-agnostic, and on CPU XLA compiles
# the dropout masks about twice as fast as with the default threefry keys.
def rbg(seed):
    return jax.random.key(seed, impl="rbg")


def expected_params(x, y, h, d):
    """The architecture of ProbConserv's ANP, counted by hand."""
    block = 3 * h * h + (2 * h * h + h) + 2 * h  # bias-free QKV, final linear, LayerNorm
    latent = ((x + y) * h + h) + 2 * block + (h * h + h) + 2 * (h * d + d)
    deterministic = ((x + y) * h + h) + 4 * block + 2 * (x * h + h)
    w = 2 * h + d
    decoder = (x * h + h) + 3 * (w * w + w) + (w * 2 * y + 2 * y)
    return latent + deterministic + decoder


@pytest.fixture(scope="module")
def small():
    return ANP(x_dim=2, y_dim=1, hidden=16, latent=8, heads=4, key=jax.random.key(0))


@pytest.fixture(scope="module")
def data():
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    cx = jax.random.uniform(k1, (6, 2))
    tx = jax.random.uniform(k2, (9, 2))
    cy = jnp.sin(3 * cx[:, :1]) * cx[:, 1:] + 0.1 * jax.random.normal(k3, (6, 1))
    return cx, cy, tx


def test_parameter_count_matches_reference():
    shapes = eqx.filter_eval_shape(ANP, key=jax.random.key(0))  # default: x 2, y 1, 128/128, 4 heads
    assert n_params(shapes) == 989_826 == expected_params(2, 1, 128, 128)
    other = eqx.filter_eval_shape(lambda k: ANP(3, 2, hidden=24, latent=10, heads=3, key=k), jax.random.key(0))
    assert n_params(other) == expected_params(3, 2, 24, 10)


def test_initialisation_xavier_and_torch_bias(small):
    dec0 = small.decoder.linears[0]  # 40 -> 40, relu gain
    w = 2 * 16 + 8
    limit = math.sqrt(2.0) * math.sqrt(6.0 / (w + w))
    assert float(np.max(np.abs(dec0.weight))) <= limit
    assert float(np.max(np.abs(dec0.weight))) > 0.9 * limit
    assert float(np.max(np.abs(dec0.bias))) <= 1 / math.sqrt(w)
    att = small.latent_encoder.self_attentions[0]
    assert att.encoder_key.bias is None and att.encoder_query.bias is None and att.encoder_value.bias is None
    assert float(np.max(np.abs(att.encoder_key.weight))) <= math.sqrt(6.0 / 32)
    pen = small.latent_encoder.penultimate_layer.weight
    assert float(np.max(np.abs(pen))) > math.sqrt(6.0 / 32)  # gain sqrt(2) > the gain-1 bound
    np.testing.assert_array_equal(att.layer_norm.weight, 1.0)


def test_shapes_unbatched_and_vmapped(small, data):
    cx, cy, tx = data
    key = jax.random.key(2)
    pred = predict(small, cx, cy, tx, key, n_samples=8)
    assert isinstance(pred, DiagonalGaussian)
    assert pred.mean.shape == pred.variance.shape == (9,)
    flat_y = eqx.filter_eval_shape(small, cx, cy[:, 0], tx, key=key, n_samples=8)  # (nc,) y when y_dim 1
    assert flat_y.mean.shape == (9,)

    B = 3
    bcx, bcy, btx = (jnp.stack([a] * B) for a in data)
    keys = jax.random.split(key, B)
    batched = eqx.filter_jit(jax.vmap(lambda a, b, c, k: small(a, b, c, key=k, n_samples=8)))(bcx, bcy, btx, keys)
    assert batched.mean.shape == batched.variance.shape == (B, 9)
    np.testing.assert_allclose(batched.mean[1], predict(small, cx, cy, tx, keys[1], n_samples=8).mean,
                               rtol=1e-5, atol=1e-6)

    enc = small.encode(cx, cy)
    assert enc.z_mean.shape == enc.z_var.shape == (8,) and enc.keys.shape == enc.values.shape == (6, 16)
    def multi(k, method):  # y_dim = 2, shapes only
        model = ANP(x_dim=2, y_dim=2, hidden=8, latent=4, heads=2, key=k)
        return getattr(model, method)(cx, jnp.concatenate([cy, -cy], -1), tx, key=k, n_samples=4)

    out = eqx.filter_eval_shape(multi, key, "sample_predictions")
    assert out.mean.shape == out.variance.shape == (4, 9, 2)
    assert eqx.filter_eval_shape(multi, key, "__call__").variance.shape == (9, 2)


def test_variance_is_mixture_moment_matching(small, data):
    cx, cy, tx = data
    key = jax.random.key(4)
    samples = sample(small, cx, cy, tx, key, n_samples=8)
    assert samples.mean.shape == samples.variance.shape == (8, 9)
    m, v = np.asarray(samples.mean, np.float64), np.asarray(samples.variance, np.float64)
    pred = predict(small, cx, cy, tx, key, n_samples=8)
    assert np.all(np.asarray(pred.variance) > 0)
    np.testing.assert_allclose(pred.mean, m.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pred.variance, v.mean(0) + m.var(0), rtol=1e-4)
    unbiased = moment_match(samples, ddof=1)  # the reference's torch.var(0)
    np.testing.assert_allclose(unbiased.variance, v.mean(0) + m.var(0, ddof=1), rtol=1e-4)
    assert np.all(m.var(0) > 0)  # the latent draws matter: a positive between-sample term
    assert np.all(v >= small.min_sigma**2)  # std floor
    # decode(encode(.), z) reproduces each sample (the same z draws from the same key)
    enc = small.encode(cx, cy)
    one = small.decode(enc, tx, enc.sample_z(key, 8)[3])
    np.testing.assert_allclose(one.mean, samples.mean[3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.variance, samples.variance[3], rtol=1e-5)
    # one sample: no between-sample term, whatever ddof
    single = moment_match(DiagonalGaussian(samples.mean[:1], samples.variance[:1]), ddof=1)
    np.testing.assert_allclose(single.variance, samples.variance[0])


def test_permutation_invariance_over_context(small, data):
    cx, cy, tx = data
    perm = jnp.array([3, 0, 5, 1, 4, 2])
    key = jax.random.key(5)
    a = predict(small, cx, cy, tx, key, n_samples=8)
    b = predict(small, cx[perm], cy[perm], tx, key, n_samples=8)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.variance, b.variance, rtol=1e-4, atol=1e-6)


def test_dropout_modes(small, data):
    cx, cy, tx = data
    key = jax.random.key(6)
    a = predict(small, cx, cy, tx, key, n_samples=8)
    b = predict(small, cx, cy, tx, key, n_samples=8)
    np.testing.assert_array_equal(a.mean, b.mean)  # dropout off: a function of the key only
    chunked = predict(small, cx, cy, tx, key, n_samples=8, chunk_size=3)
    np.testing.assert_allclose(chunked.mean, a.mean, rtol=1e-5, atol=1e-6)

    # faithful mode: the same latent noise, so any change comes from the dropout masks
    faithful = sample(small, cx, cy, tx, rbg(6), n_samples=8, dropout_at_inference=True)
    plain = sample(small, cx, cy, tx, rbg(6), n_samples=8)
    change = np.abs(np.asarray(faithful.mean - plain.mean))
    assert np.all(change > 1e-6) and np.max(change) > 1e-2
    again = sample(small, cx, cy, tx, rbg(6), n_samples=8, dropout_at_inference=True)
    np.testing.assert_array_equal(faithful.mean, again.mean)  # ... reproducibly, per key


def _batch(data, B=4):
    cx, cy, tx = (np.asarray(a) for a in data)
    ty = np.sin(3 * tx[:, :1]) * tx[:, 1:]
    return {k: np.stack([v + 0.01 * i for i in range(B)]) for k, v in
            dict(context_x=cx, context_y=cy, target_x=tx, target_y=ty).items()}


@eqx.filter_jit
def _loss_checks(model, batch, key):
    """Training loss and gradient; no-dropout losses: sum, mean, and with targets == context."""
    (loss, aux), grads = eqx.filter_value_and_grad(elbo_loss, has_aux=True)(model, batch, key)
    eval_sum, _ = elbo_loss(model, batch, key, inference=True)
    eval_mean, _ = elbo_loss(model, batch, key, inference=True, reduction="mean")
    same = dict(batch, target_x=batch["context_x"], target_y=batch["context_y"])
    _, aux_same = elbo_loss(model, same, key, inference=True)
    return loss, aux, grads, eval_sum, eval_mean, aux_same


def test_elbo_loss_finite_with_finite_gradient(small, data):
    batch = _batch(data)
    loss, aux, grads, eval_sum, eval_mean, aux_same = _loss_checks(small, batch, rbg(7))
    assert np.isfinite(loss) and np.isfinite(aux["nll"]) and np.isfinite(aux["kl"])
    np.testing.assert_allclose(loss, aux["nll"] + aux["kl"], rtol=1e-6)
    assert float(aux["kl"]) >= 0.0
    leaves = [np.asarray(g) for g in jax.tree.leaves(grads)]
    assert len(leaves) == len(jax.tree.leaves(eqx.filter(small, eqx.is_inexact_array)))
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert sum(float(np.sum(g**2)) for g in leaves) > 0
    assert np.isfinite(eval_sum) and float(eval_sum) != float(loss)  # dropout off vs on
    np.testing.assert_allclose(eval_mean * (4 * 9), eval_sum, rtol=1e-5)  # 'mean' = 'sum' / (B * nt)
    np.testing.assert_allclose(aux_same["kl"], 0.0, atol=1e-5)  # posterior == prior without dropout


def _sine_family(seed, n, nc=5, nt=20):
    """``y = a sin(x)``, ``a ~ U(-2, 2)``, ``x ~ U(-3, 3)``: NumPy float32 arrays."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2.0, 2.0, (n, 1, 1))
    cx, tx = rng.uniform(-3.0, 3.0, (n, nc, 1)), rng.uniform(-3.0, 3.0, (n, nt, 1))
    out = dict(context_x=cx, context_y=a * np.sin(cx), target_x=tx, target_y=a * np.sin(tx))
    return {k: v.astype(np.float32) for k, v in out.items()}


def test_training_with_fit_reduces_loss():
    data = _sine_family(0, 256)
    model = ANP(x_dim=1, y_dim=1, hidden=16, latent=8, heads=4, key=jax.random.key(1))

    def loss_fn(m, b, k):
        return elbo_loss(m, b, k, reduction="mean")

    trained, history = fit(model, loss_fn, data, optax.adam(3e-3), steps=300, batch_size=16,
                           key=rbg(2), has_aux=True, progress=False, log_every=300)
    first, last = float(np.mean(history.loss[:20])), float(np.mean(history.loss[-20:]))
    assert np.all(np.isfinite(history.loss))
    assert last < first - 0.5 and last < 0.5 * first, (first, last)
    assert set(history.aux) == {"kl", "nll"}

    test = _sine_family(3, 32)

    @eqx.filter_jit
    def mse(m):
        pred = jax.vmap(lambda cx, cy, tx: m(cx, cy, tx, key=jax.random.key(0), n_samples=4))(
            test["context_x"], test["context_y"], test["target_x"])
        return jnp.mean((pred.mean - test["target_y"][..., 0]) ** 2)

    assert float(mse(trained)) < 0.3 * float(mse(model))


def test_shape_errors_name_the_argument(small, data):
    cx, cy, tx = data
    key = jax.random.key(8)
    with pytest.raises(ValueError, match="context_y has 5 points but context_x has 6"):
        small(cx, cy[:5], tx, key=key)
    with pytest.raises(ValueError, match="context_x must have shape"):
        small(cx[:, :1], cy, tx, key=key)
    with pytest.raises(ValueError, match="target_x must have shape"):
        small(cx, cy, tx[:, :1], key=key)
    with pytest.raises(ValueError, match="context_y must have shape"):
        small(cx, jnp.concatenate([cy, cy], -1), tx, key=key)
    with pytest.raises(ValueError, match="jax.vmap"):
        small(cx[None], cy[None], tx[None], key=key)
    with pytest.raises(ValueError, match="z must have shape"):
        small.decode(small.encode(cx, cy), tx, jnp.zeros(3))
    with pytest.raises(ValueError, match="key is required"):
        small.encode(cx, cy, inference=False)
    with pytest.raises(ValueError, match="n_samples"):
        small(cx, cy, tx, key=key, n_samples=0)
    with pytest.raises(ValueError, match="heads"):
        ANP(hidden=10, heads=4, key=key)
    with pytest.raises(ValueError, match="dropout"):
        ANP(hidden=8, latent=4, dropout=1.0, key=key)
    batch = _batch(data)
    with pytest.raises(ValueError, match="reduction"):
        elbo_loss(small, batch, key, reduction="avg")
    with pytest.raises(ValueError, match="target_y"):
        elbo_loss(small, dict(batch, target_y=batch["target_y"][:, :4]), key)
    with pytest.raises(ValueError, match="batch is missing"):
        elbo_loss(small, {k: v for k, v in batch.items() if k != "target_y"}, key)


def test_nan_inputs_raise(small, data):
    cx, cy, tx = data
    key = jax.random.key(9)
    with pytest.raises(eqx.EquinoxRuntimeError, match="context_y must be finite"):
        predict(small, cx, cy.at[2, 0].set(jnp.nan), tx, key, n_samples=8)
    with pytest.raises(eqx.EquinoxRuntimeError, match="target_x must be finite"):
        predict(small, cx, cy, tx.at[0, 1].set(jnp.nan), key, n_samples=8)


def test_state_dict_round_trip(small):
    sd = state_dict(small)
    assert len(sd) == len(jax.tree.leaves(eqx.filter(small, eqx.is_array)))
    assert sd["decoder.linears.2.linear_layer.weight"].shape == (40, 40)
    assert "latent_encoder.self_attentions.1.layer_norm.bias" in sd
    assert "deterministic_encoder.cross_attentions.0.encoder_query.linear_layer.bias" not in sd
    other = ANP(x_dim=2, y_dim=1, hidden=16, latent=8, heads=4, key=jax.random.key(11))
    loaded = load_state_dict(other, {"model." + k: v for k, v in sd.items()}, prefix="model.")
    assert eqx.tree_equal(loaded, small)
    with pytest.raises(ValueError, match="missing 'decoder.final_projection.linear_layer.bias'"):
        load_state_dict(other, {k: v for k, v in sd.items() if k != "decoder.final_projection.linear_layer.bias"})
