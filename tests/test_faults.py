"""Faults (issue 15, item 4): SIGKILL during training and during a checkpoint write, then resume;
a full disk and an unwritable folder. Subprocesses, a tiny MLP, a few dozen steps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent(
    """
    import os, signal, sys, json
    import equinox as eqx, jax, jax.numpy as jnp, numpy as np, optax
    from physcon import train
    import physcon.checkpoint as ck

    mode, ckpt, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    x = jnp.linspace(-3.0, 3.0, 48)[:, None]
    data = {"x": x, "y": jnp.sin(x)}

    def loss(model, batch, key):
        # 10 ms per step (a side effect, numerics untouched; in every mode so all compile alike):
        # the parent's SIGKILL then lands mid-training, not after the end
        jax.debug.callback(lambda: __import__("time").sleep(0.01))
        err = jax.vmap(model)(batch["x"]) - batch["y"] - 0.01 * jax.random.normal(key, batch["y"].shape)
        return jnp.mean(err ** 2)

    if mode == "kill-in-write":  # SIGKILL on the 2nd checkpoint write: bytes written, not yet renamed
        calls = []
        real_fsync = os.fsync
        def fsync(fd):
            calls.append(fd)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            real_fsync(fd)
        ck.os.fsync = fsync
    model = eqx.nn.MLP(1, 1, 16, 2, key=jax.random.PRNGKey(0))
    kw = dict(batch_size=8, key=jax.random.PRNGKey(0), log_every=5, progress=False)
    if mode != "ref":
        kw.update(checkpoint=ckpt, resume=(mode == "resume"))
    model, hist = train.fit(model, loss, data, optax.adam(1e-2), steps=steps, **kw)
    leaves = [np.asarray(a) for a in jax.tree.leaves(eqx.filter(model, eqx.is_array))]
    np.savez(out, loss=np.asarray(hist.loss), *leaves)
    """
)

STEPS = 40


def _spawn(tmp, mode, ckpt, out, steps=STEPS):
    script = tmp / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    return subprocess.Popen([sys.executable, str(script), mode, str(ckpt), str(out), str(steps)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc):
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return proc


def _same(a, b):
    with np.load(a) as x, np.load(b) as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            np.testing.assert_array_equal(x[k], y[k])  # bit for bit


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    _finish(_spawn(tmp, "ref", tmp / "unused", tmp / "ref.npz"))
    return tmp / "ref.npz"


def test_sigkill_during_training_then_resume_is_bit_identical(tmp_path, reference):
    from physcon import train

    ckpt = tmp_path / "run.ckpt"
    proc = _spawn(tmp_path, "fresh", ckpt, tmp_path / "never.npz", steps=100_000)  # killed long before the end
    deadline = time.time() + 240
    while time.time() < deadline:  # until a checkpoint exists, then SIGKILL mid-run
        if ckpt.exists() and train.read_header(ckpt)["step"] >= 10:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = train.read_header(ckpt)["step"]  # the file is whole: it reads
    assert killed_at >= 10 and killed_at % 5 == 0
    assert killed_at < STEPS, killed_at
    _finish(_spawn(tmp_path, "resume", ckpt, tmp_path / "resumed.npz"))  # the same run, to STEPS
    _same(tmp_path / "resumed.npz", reference)


def test_sigkill_during_a_checkpoint_write_keeps_the_old_one(tmp_path, reference):
    from physcon import train

    ckpt = tmp_path / "run.ckpt"
    proc = _spawn(tmp_path, "kill-in-write", ckpt, tmp_path / "never.npz")
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    header = train.read_header(ckpt)  # the first checkpoint, whole
    assert header["step"] == 5
    stray = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stray) == 1  # the half-finished write, never renamed over the checkpoint
    _finish(_spawn(tmp_path, "resume", ckpt, tmp_path / "resumed.npz"))
    _same(tmp_path / "resumed.npz", reference)


# --- full disk and unwritable folder ---------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import os, resource, signal, sys
    import h5py, jax, jax.numpy as jnp, equinox as eqx
    import physcon as pc

    case, path = sys.argv[1], sys.argv[2]
    ds = pc.data.generate("stefan", 2, nx=100, nt=21)  # u alone is 16.8 kB
    model = eqx.nn.MLP(1, 1, 256, 2, key=jax.random.PRNGKey(0))
    if case == "full":  # a file-size limit: writes past 16 kB fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
    else:  # an unwritable folder (root ignores permissions: drop to nobody first)
        os.chmod(os.path.dirname(path), 0o555)
        if os.geteuid() == 0:
            os.setgid(65534); os.setuid(65534)
    for what, write in (("model", lambda: pc.train.save_model(path, model)),
                        ("data", lambda: pc.data.save(path, ds, overwrite=True))):
        try:
            write()
        except OSError as err:
            print(what, "OSError", str(err).replace(chr(10), " "))
        else:
            print(what, "wrote")
    sys.stdout.flush()
    os._exit(0)  # HDF5 can crash in its atexit clean-up after a failed write under RLIMIT_FSIZE
    """
)


@pytest.mark.parametrize("case", ["full", "unwritable"])
def test_a_failed_write_is_clear_and_leaves_the_existing_file(case):
    folder = Path(tempfile.mkdtemp(prefix="physcon-faults-"))
    os.chmod(folder, 0o755)
    path = folder / "existing.bin"
    path.write_bytes(b"precious" * 100)
    script = folder / "writer.py"
    script.write_text(WRITER)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, str(script), case, str(path)], env=env, capture_output=True,
                       text=True, timeout=300)
    os.chmod(folder, 0o755)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2, r.stdout
    for line in lines:
        assert "OSError" in line and f"could not write {path}" in line, line
        assert "the existing file is left as it was" in line, line
    assert path.read_bytes() == b"precious" * 100
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
