"""Resumable runs: ``fit`` killed mid-training or mid-checkpoint-write (a real SIGKILL) and resumed
equals the uninterrupted run bit for bit; the unit results of a reproduction round-trip exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from physcon import train
from physcon.experiments import _run

# the same tiny training run in this process and in the subprocess that is killed
SETUP = textwrap.dedent("""
    import equinox as eqx, jax, jax.numpy as jnp, optax
    from physcon import train

    def setup():
        x = jnp.linspace(-2.0, 2.0, 40)[:, None]
        data = {"x": x, "y": jnp.sin(2.0 * x)}
        model = eqx.nn.MLP(1, 1, 8, 2, key=jax.random.PRNGKey(3))

        def loss(m, b, k):
            noise = 0.01 * jax.random.normal(k, b["y"].shape)
            return jnp.mean((jax.vmap(m)(b["x"]) - b["y"] - noise) ** 2)

        opt = optax.adamw(optax.exponential_decay(1e-2, 4, 0.8), weight_decay=1e-3)
        kw = dict(steps=12, batch_size=8, key=jax.random.PRNGKey(5), log_every=2, progress=False,
                  valid_data=data, keep_best=True, valid_every=4)
        return model, loss, data, opt, kw
""")
_ns: dict = {}
exec(SETUP, _ns)


class _Killed(BaseException):
    """Stands in for a kill: not an Exception, so nothing on the way catches it."""


def _equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def reference():
    model, loss, data, opt, kw = _ns["setup"]()
    return train.fit(model, loss, data, opt, **kw)


def test_killed_between_checkpoints_resumes_bitwise(tmp_path, monkeypatch, reference):
    """Killed at step 6 with the last checkpoint at step 4: steps 5-6 are redone, same result."""
    model, loss, data, opt, kw = _ns["setup"]()
    path = tmp_path / "run.ckpt"
    save = train._Checkpoints.save

    def dying_save(self, step, *args):
        save(self, step, *args)
        if step == 6:
            raise _Killed

    monkeypatch.setattr(train._Checkpoints, "save", dying_save)
    with pytest.raises(_Killed):
        train.fit(model, loss, data, opt, checkpoint=path, checkpoint_every=4, **kw)
    assert train.read_header(path)["step"] == 4
    monkeypatch.setattr(train._Checkpoints, "save", save)
    # time-based checkpoints in the continued run (the chunk length is unchanged)
    resumed, hist = train.fit(model, loss, data, opt, checkpoint=path, resume=True, checkpoint_seconds=1e-9, **kw)
    ref_model, ref = reference
    _equal(resumed, ref_model)
    np.testing.assert_array_equal(hist.loss, ref.loss)
    np.testing.assert_array_equal(hist.valid_loss, ref.valid_loss)
    assert hist.best_step == ref.best_step and train.read_header(path)["step"] == 12


def test_sigkill_during_a_checkpoint_write(tmp_path, reference):
    """A real SIGKILL halfway through writing the step-4 checkpoint: the step-2 file survives, the
    partial temporary file is ignored (and removed) by the resume, which ends bit-identical."""
    path = tmp_path / "run.ckpt"
    script = SETUP + textwrap.dedent(f"""
        import os, signal
        import equinox
        real, calls = equinox.tree_serialise_leaves, [0]

        def dying(f, tree):
            calls[0] += 1
            if calls[0] == 2:  # the second checkpoint: half its bytes, then killed
                real(f, tree)
                f.flush()
                f.truncate(f.tell() // 2)
                os.kill(os.getpid(), signal.SIGKILL)
            return real(f, tree)

        equinox.tree_serialise_leaves = dying
        model, loss, data, opt, kw = setup()
        train.fit(model, loss, data, opt, checkpoint={str(path)!r}, checkpoint_every=2, **kw)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert train.read_header(path)["step"] == 2
    temps = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(temps) == 1 and os.path.getsize(tmp_path / temps[0]) > 0
    model, loss, data, opt, kw = _ns["setup"]()
    resumed, hist = train.fit(model, loss, data, opt, checkpoint=path, resume=True, checkpoint_every=2, **kw)
    ref_model, ref = reference
    _equal(resumed, ref_model)
    np.testing.assert_array_equal(hist.loss, ref.loss)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_unit_results_round_trip_exactly(tmp_path):
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3) / 7, 0.5: (np.float64(1 / 3), 2, None),
             "nested": [{"x": np.array([np.nan, np.inf])}, "s", True, 1e-300], "j": np.int64(3)}
    _run.save_tree(tmp_path / "u.npz", value)
    back = _run.load_tree(tmp_path / "u.npz")
    assert list(back) == list(value) and isinstance(back[0.5], tuple) and type(back[0.5][0]) is np.float64
    assert type(back["j"]) is np.int64 and back["nested"][1:] == ["s", True, 1e-300]
    for k in ("a", "j"):
        assert back[k].dtype == value[k].dtype
        np.testing.assert_array_equal(back[k], value[k])
    np.testing.assert_array_equal(back["nested"][0]["x"], value["nested"][0]["x"])
    assert back[0.5][0] == value[0.5][0] and back[0.5][1:] == (2, None)


def test_checkpoint_folder_refuses_another_run(tmp_path):
    cfg = {"paper": "boon", "setting": {"epochs": 3, "modes": (4,)}, "seed": 0}
    ck = _run.Checkpoints(tmp_path, cfg)
    ck.save("case/FNO", {"rel_l2": 0.5})
    with pytest.raises(FileExistsError, match="--resume"):
        _run.Checkpoints(tmp_path, cfg)
    with pytest.raises(ValueError, match="setting.epochs: stored 3, now 4"):
        _run.Checkpoints(tmp_path, {**cfg, "setting": {"epochs": 4, "modes": (4,)}}, resume=True)
    again = _run.Checkpoints(tmp_path, cfg, resume=True)
    assert again.unit("case/FNO", lambda: 1 / 0) == {"rel_l2": 0.5}
    text = _run.status(tmp_path, ["case", "other"])
    assert "0 of 2 done" in text and "case: in progress; done: FNO" in text and "other: not started" in text
    assert json.load(open(tmp_path / "run.json"))["config"]["setting"]["modes"] == [4]
