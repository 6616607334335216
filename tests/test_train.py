"""The training loop: learning, exact resume, deterministic batches, validation, files, errors,
and data parallelism over simulated devices (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from physcon import train

KEY = jax.random.PRNGKey(0)


def _sin_data(n=64):
    x = jnp.linspace(-3.0, 3.0, n)[:, None]
    return {"x": x, "y": jnp.sin(x)}


def _mse(model, batch, key):
    return jnp.mean((jax.vmap(model)(batch["x"]) - batch["y"]) ** 2)


def _noisy_mse_aux(model, batch, key):
    """Uses the key (noise on the targets) and returns aux, to exercise both in resume."""
    pred = jax.vmap(model)(batch["x"])
    err = pred - batch["y"] - 0.01 * jax.random.normal(key, batch["y"].shape)
    return jnp.mean(err**2), {"mae": jnp.abs(err), "pred_mean": jnp.mean(pred)}


def _mlp(width=16, key=KEY):
    return eqx.nn.MLP(1, 1, width, 2, key=key)


def _leaves_equal(a, b):
    la, lb = jax.tree.leaves(eqx.filter(a, eqx.is_array)), jax.tree.leaves(eqx.filter(b, eqx.is_array))
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


class Scalar(eqx.Module):
    """One trainable number, for tests that need to know the exact trajectory."""

    w: jax.Array

    def __init__(self, w=0.0, *, key=None):
        self.w = jnp.asarray(w, jnp.float32)


def test_mlp_learns_sine():
    data = _sin_data(256)
    model, hist = train.fit(_mlp(32), _mse, data, optax.adam(1e-2), steps=600, batch_size=32, key=KEY,
                            log_every=200, progress=False)
    assert hist.loss.shape == (600,) and hist.step.shape == (600,)
    np.testing.assert_array_equal(hist.step, np.arange(600))
    assert hist.seconds.shape == (3,) and np.all(hist.seconds > 0)
    np.testing.assert_array_equal(hist.chunk_step, [200, 400, 600])
    assert hist.compile_seconds > 0 and hist.aux == {}
    assert hist.loss[:10].mean() > 10 * hist.loss[-50:].mean()
    full = float(_mse(model, data, None))
    assert full < 0.1 * float(_mse(_mlp(32), data, None))


def test_fit_in_float64(x64):
    """With jax_enable_x64 on (the setting for round-off checks) the loop compiles and learns
    (the epoch permutation is int64 there; the scan carry keeps it int32)."""
    data = {k: v.astype(jnp.float64) for k, v in _sin_data(40).items()}
    model = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, _mlp(8))
    trained, hist = train.fit(model, _mse, data, optax.adam(1e-2), steps=30, batch_size=8, key=KEY, progress=False)
    assert trained.layers[0].weight.dtype == jnp.float64 and hist.loss[-1] < hist.loss[0]


def test_resume_is_exact(tmp_path):
    stop = 25  # off the chunk grid: both runs also compile a 5-step chunk
    data, valid = _sin_data(48), _sin_data(20)
    opt = optax.adamw(optax.exponential_decay(1e-2, 10, 0.7), weight_decay=1e-3)  # schedule + decay state
    kw = dict(batch_size=8, key=KEY, has_aux=True, valid_data=valid, valid_every=10, log_every=10,
              progress=False, hyperparams={"width": 16})
    ref_model, ref = train.fit(_mlp(), _noisy_mse_aux, data, opt, steps=60, **kw)

    path = tmp_path / "run.ckpt"
    _, part = train.fit(_mlp(), _noisy_mse_aux, data, opt, steps=stop, checkpoint=path, **kw)
    assert len(part) == stop
    header = train.read_header(path)
    assert header["step"] == stop and header["batch_size"] == 8 and header["hyperparams"] == {"width": 16}
    assert header["key"] == [0, 0] and "ScaleByAdamState" in header["optimizer"]
    # a fresh model as the skeleton: every value comes from the file
    model, hist = train.fit(_mlp(key=jax.random.PRNGKey(9)), _noisy_mse_aux, data, opt, steps=60,
                            checkpoint=path, resume=True, **kw)
    np.testing.assert_array_equal(hist.loss, ref.loss)
    for name in ("mae", "pred_mean"):
        np.testing.assert_array_equal(hist.aux[name], ref.aux[name])
    np.testing.assert_array_equal(hist.valid_step, ref.valid_step)
    np.testing.assert_array_equal(hist.valid_loss, ref.valid_loss)
    _leaves_equal(model, ref_model)
    assert train.read_header(path)["step"] == 60


def test_batches_are_a_function_of_key_and_step():
    n, bs = 20, 6  # 3 steps per epoch, 2 samples dropped each epoch
    data = {"i": jnp.arange(n, dtype=jnp.float32), "y": jnp.zeros((n, 2))}

    def loss_fn(model, batch, key):
        loss = (model.w - jnp.mean(batch["i"])) ** 2
        return loss, {"first": batch["i"][0], "sum": batch["i"], "noise": jax.random.uniform(key)}

    def run(key):
        return train.fit(Scalar(), loss_fn, data, optax.sgd(1e-3), steps=9, batch_size=bs, key=key,
                         has_aux=True, log_every=3, progress=False)[1]

    a, b, c = run(KEY), run(KEY), run(jax.random.PRNGKey(1))
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.aux["noise"], b.aux["noise"])
    assert not np.array_equal(a.aux["sum"], c.aux["sum"])
    assert not np.array_equal(a.aux["noise"], c.aux["noise"])
    idx = np.stack([np.asarray(train.batch_indices(KEY, s, n, bs)) for s in range(9)])
    np.testing.assert_array_equal(a.aux["first"], idx[:, 0])
    np.testing.assert_allclose(a.aux["sum"], idx.mean(1), rtol=1e-6)
    for epoch in range(3):  # every epoch: distinct samples, a fresh permutation
        seen = idx[3 * epoch: 3 * epoch + 3].ravel()
        assert len(set(seen.tolist())) == 18
    assert not np.array_equal(idx[:3], idx[3:6])


def test_keep_best_returns_lowest_validation_model():
    # loss = w: plain SGD moves w down by lr = 0.01 per step, so w = -0.01 s after s steps;
    # the validation loss (w + 0.35)^2 is lowest (0) at step 35.
    data = {"x": jnp.ones((4, 1))}
    loss_fn = lambda m, b, k: m.w * jnp.mean(b["x"])  # noqa: E731
    valid_fn = lambda m, v: (m.w + 0.35) ** 2 * jnp.mean(v["x"])  # noqa: E731
    kw = dict(steps=100, batch_size=2, key=KEY, valid_data=data, valid_every=5, valid_fn=valid_fn,
              log_every=5, progress=False)
    best, hist = train.fit(Scalar(), loss_fn, data, optax.sgd(0.01), keep_best=True, **kw)
    last, hist2 = train.fit(Scalar(), loss_fn, data, optax.sgd(0.01), **kw)
    np.testing.assert_array_equal(hist.valid_step, np.arange(5, 101, 5))
    assert hist.best_step == 35 == hist.valid_step[np.argmin(hist.valid_loss)]
    assert hist.best_valid_loss == pytest.approx(hist.valid_loss.min())
    assert float(best.w) == pytest.approx(-0.35, abs=1e-5)
    assert float(last.w) == pytest.approx(-1.0, abs=1e-5)
    np.testing.assert_array_equal(hist.loss, hist2.loss)


def test_default_validation_averages_full_batches():
    data = {"x": jnp.ones((8, 1))}
    valid = {"x": jnp.arange(1.0, 12.0)[:, None]}  # 11 samples, batches of 4: uses 1..8 only
    loss_fn = lambda m, b, k: m.w + jnp.mean(b["x"])  # noqa: E731
    _, hist = train.fit(Scalar(), loss_fn, data, optax.sgd(0.0), steps=4, batch_size=4, key=KEY,
                        valid_data=valid, valid_every=2, log_every=2, progress=False)
    np.testing.assert_allclose(hist.valid_loss, [4.5, 4.5])
    np.testing.assert_array_equal(hist.valid_step, [2, 4])


def test_save_and_load_model(tmp_path):
    hp = {"in_size": 1, "out_size": 1, "width_size": 8, "depth": 2}
    model = eqx.nn.MLP(**hp, key=jax.random.PRNGKey(3))
    path = train.save_model(tmp_path / "m.eqx", model, hp)
    assert train.read_header(path)["hyperparams"] == hp
    with open(path, "rb") as f:
        assert json.loads(f.readline())["format"] == "physcon.model/1"
    _leaves_equal(train.load_model(path, eqx.nn.MLP), model)  # constructor from the header
    _leaves_equal(train.load_model(path, eqx.nn.MLP(**hp, key=KEY)), model)  # skeleton
    with pytest.raises(ValueError, match="shape"):
        train.load_model(path, eqx.nn.MLP(1, 1, 4, 2, key=KEY))
    (tmp_path / "junk").write_text("not a model\n")
    with pytest.raises(ValueError, match="not a physcon"):
        train.load_model(tmp_path / "junk", eqx.nn.MLP)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_load_model_from_checkpoint(tmp_path):
    hp = {"in_size": 1, "out_size": 1, "width_size": 8, "depth": 1}
    path = tmp_path / "c.ckpt"
    trained, _ = train.fit(eqx.nn.MLP(**hp, key=KEY), _mse, _sin_data(16), optax.adam(1e-2), steps=6,
                           batch_size=4, key=KEY, log_every=3, checkpoint=path, hyperparams=hp, progress=False)
    _leaves_equal(train.load_model(path, eqx.nn.MLP), trained)


# --- errors ---------------------------------------------------------------------------------------
def _fit(**overrides):
    kw = dict(model=Scalar(), loss_fn=lambda m, b, k: m.w * jnp.mean(b["x"]), data={"x": jnp.ones((8, 1))},
              optimizer=optax.sgd(0.1), steps=4, batch_size=2, key=KEY, log_every=2, progress=False)
    kw.update(overrides)
    return train.fit(**kw)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"steps": 0}, "steps must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": 9}, "batch_size=9 exceeds the number of samples in data"),
        ({"data": {"x": jnp.ones((8, 1)), "y": jnp.ones((7,))}}, "leaves of data must share the leading"),
        ({"data": {"x": jnp.ones((8, 1)), "s": jnp.ones(())}}, r"data\['s'\] is a scalar"),
        ({"valid_data": {"x": jnp.ones((3,)), "y": jnp.ones((4,))}}, "leaves of valid_data"),
        ({"keep_best": True}, "keep_best=True needs valid_data"),
        ({"resume": True}, "resume=True needs checkpoint"),
        ({"hyperparams": {"f": object()}}, "hyperparams must be JSON"),
        ({"loss_fn": lambda m, b, k: m.w * b["x"]}, "scalar loss"),
        ({"has_aux": True}, "has_aux=True"),
    ],
)
def test_bad_arguments(overrides, match):
    with pytest.raises(ValueError, match=match):
        _fit(**overrides)


def test_nonfinite_loss_names_the_step():
    # w = 1 - 0.3 s: negative (NaN loss) from step 4 on.
    loss_fn = lambda m, b, k: jnp.where(m.w < 0, jnp.nan, m.w) * jnp.mean(b["x"])  # noqa: E731
    with pytest.raises(FloatingPointError, match="loss is not finite .* at step 4"):
        _fit(model=Scalar(1.0), loss_fn=loss_fn, optimizer=optax.sgd(0.3), steps=9, log_every=3)


def test_resume_refuses_a_different_run(tmp_path):
    path = tmp_path / "r.ckpt"
    _fit(checkpoint=path, hyperparams={"lr": 0.1})
    with pytest.raises(FileExistsError, match="resume=True"):
        _fit(checkpoint=path, hyperparams={"lr": 0.1})
    with pytest.raises(ValueError, match="batch_size: file has 2, this run 4"):
        _fit(checkpoint=path, resume=True, hyperparams={"lr": 0.1}, batch_size=4, steps=8)
    with pytest.raises(ValueError, match="hyperparams"):
        _fit(checkpoint=path, resume=True, hyperparams={"lr": 0.2}, steps=8)
    with pytest.raises(ValueError, match="key"):
        _fit(checkpoint=path, resume=True, hyperparams={"lr": 0.1}, steps=8, key=jax.random.PRNGKey(1))
    with pytest.raises(ValueError, match="beyond steps=2"):
        _fit(checkpoint=path, resume=True, hyperparams={"lr": 0.1}, steps=2)
    model, hist = _fit(checkpoint=path, resume=True, hyperparams={"lr": 0.1}, steps=8)
    assert len(hist) == 8


def test_data_parallel_mesh_matches_single_device():
    """Four simulated CPU devices: sharding the batch changes the losses only by round-off."""
    script = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np, optax, equinox as eqx
        from physcon import train
        assert len(jax.devices()) == 4, jax.devices()
        x = jnp.linspace(-3.0, 3.0, 64)[:, None]
        data = {"x": x, "y": jnp.sin(x)}
        def loss_fn(m, b, k):
            err = jax.vmap(m)(b["x"]) - b["y"] - 0.01 * jax.random.normal(k, b["y"].shape)
            return jnp.mean(err ** 2)
        key = jax.random.PRNGKey(0)
        model = eqx.nn.MLP(1, 1, 16, 2, key=key)
        kw = dict(steps=40, batch_size=16, key=key, valid_data=data, valid_every=20, log_every=20,
                  progress=False)
        m0, h0 = train.fit(model, loss_fn, data, optax.adam(1e-2), **kw)
        mesh = jax.make_mesh((4,), ("batch",), axis_types=(jax.sharding.AxisType.Auto,))
        m1, h1 = train.fit(model, loss_fn, data, optax.adam(1e-2), mesh=mesh, **kw)
        np.testing.assert_allclose(h1.loss, h0.loss, rtol=1e-5)
        np.testing.assert_allclose(h1.valid_loss, h0.valid_loss, rtol=1e-5)
        for a, b in zip(jax.tree.leaves(eqx.filter(m0, eqx.is_array)), jax.tree.leaves(eqx.filter(m1, eqx.is_array))):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6)
            assert b.sharding.is_fully_replicated and len(b.sharding.device_set) == 4
        explicit = jax.make_mesh((4,), ("batch",), axis_types=(jax.sharding.AxisType.Explicit,))
        m2, h2 = train.fit(model, loss_fn, data, optax.adam(1e-2), mesh=explicit, **{**kw, "valid_data": None,
                           "valid_every": None})
        np.testing.assert_allclose(h2.loss, h0.loss, rtol=1e-5)
        try:
            train.fit(model, loss_fn, data, optax.adam(1e-2), mesh=mesh, **{**kw, "batch_size": 6})
        except ValueError as err:
            assert "divisible" in str(err), err
        else:
            raise AssertionError("batch_size=6 on 4 devices was accepted")
        print("OK", h1.loss.shape)
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK (40,)" in out.stdout
