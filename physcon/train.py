"""Optax training loop for Equinox models: scanned steps, exact resume, optional device mesh.

:func:`fit` trains any ``eqx.Module`` on a pytree of arrays held on the device. Its
trainable leaves are the inexact (floating/complex) arrays (``eqx.is_inexact_array``); all
other leaves are kept as they are. The optimiser is any ``optax.GradientTransformation``
(schedules, weight decay, clipping, masking are optax's business).

Everything that decides a training run is a pure function of ``key`` and the step number:

* ``data_key, step_key, valid_key = jax.random.split(key, 3)``;
* epoch ``e = step // (N // batch_size)`` visits the samples in the order
  ``jax.random.permutation(jax.random.fold_in(data_key, e), N)``, ``batch_size`` at a time;
  the last ``N % batch_size`` samples of each permutation are dropped (see
  :func:`batch_indices`);
* step ``s`` calls ``loss_fn(model, batch, jax.random.fold_in(step_key, s))``.

So a run that is stopped, checkpointed and resumed produces *the same* per-step losses and
final parameters as one uninterrupted run (bitwise, on the same machine and software).

Speed: ``log_every`` steps run in one compiled call (a ``jax.lax.scan`` over steps inside an
``eqx.filter_jit`` function; batches are gathered on the device with ``jnp.take``), so the
Python loop, the progress bar, validation and checkpointing run once per chunk, not per step.

Checkpoints and saved models are single self-describing files: one line of JSON (format,
physcon version, hyperparameters, ...) followed by the array leaves written by
``eqx.tree_serialise_leaves``. No pickle.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, Int, PRNGKeyArray, PyTree, Shaped

from physcon._version import __version__

CHECKPOINT_FORMAT = "physcon.train/1"
MODEL_FORMAT = "physcon.model/1"


# --- history ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class History:
    """What happened during :func:`fit` (host NumPy arrays; resumed runs include the steps done
    before the checkpoint).

    Attributes:
        step: step index of each training loss, ``arange(steps_done)``, shape ``(S,)``.
        loss: training loss of each step (the loss of the batch the step was computed on,
            before that step's update), shape ``(S,)``, in the loss's dtype.
        valid_step: number of steps done at each validation, shape ``(V,)``.
        valid_loss: validation loss at those points, shape ``(V,)``.
        seconds: wall time of each compiled chunk of steps (compilation excluded), ``(C,)``.
        chunk_step: number of steps done at the end of each chunk, shape ``(C,)``.
        compile_seconds: total time spent compiling (the training chunk(s) and validation).
        aux: with ``has_aux=True``, the per-step mean of each entry of ``loss_fn``'s aux
            dict, ``{name: (S,)}``; else empty.
        best_step, best_valid_loss: the validation with the lowest loss (``None`` without
            validation data).
    """

    step: np.ndarray
    loss: np.ndarray
    valid_step: np.ndarray
    valid_loss: np.ndarray
    seconds: np.ndarray
    chunk_step: np.ndarray
    compile_seconds: float
    aux: dict[str, np.ndarray]
    best_step: int | None = None
    best_valid_loss: float | None = None

    def __len__(self) -> int:
        return int(self.loss.shape[0])

    @property
    def steps_per_second(self) -> float:
        """Training throughput over the timed chunks (compilation excluded)."""
        done = np.diff(np.concatenate([[0], self.chunk_step]))
        total = float(np.sum(self.seconds))
        return float(np.sum(done)) / total if total > 0 else float("nan")


class _Record:
    """Mutable host-side accumulator behind :class:`History` (also what a checkpoint stores)."""

    def __init__(self, aux_names):
        self.loss: list[np.ndarray] = []
        self.aux: dict[str, list[np.ndarray]] = {k: [] for k in aux_names}
        self.valid_step: list[int] = []
        self.valid_loss: list[float] = []
        self.seconds: list[float] = []
        self.chunk_step: list[int] = []
        self.compile_seconds = 0.0
        self.best_step: int | None = None
        self.best_valid_loss: float | None = None

    def arrays(self, loss_dtype) -> dict[str, Any]:
        loss = np.concatenate(self.loss) if self.loss else np.zeros((0,), loss_dtype)
        return {
            "loss": loss,
            "aux": {k: (np.concatenate(v) if v else np.zeros((0,), loss_dtype)) for k, v in self.aux.items()},
            "valid_step": np.asarray(self.valid_step, np.int64),
            "valid_loss": np.asarray(self.valid_loss, np.float64),
            "seconds": np.asarray(self.seconds, np.float64),
            "chunk_step": np.asarray(self.chunk_step, np.int64),
        }

    def load(self, arrays, header):
        self.loss = [arrays["loss"]]
        self.aux = {k: [v] for k, v in arrays["aux"].items()}
        self.valid_step = [int(v) for v in arrays["valid_step"]]
        self.valid_loss = [float(v) for v in arrays["valid_loss"]]
        self.seconds = [float(v) for v in arrays["seconds"]]
        self.chunk_step = [int(v) for v in arrays["chunk_step"]]
        self.compile_seconds = float(header["compile_seconds"])
        self.best_step = header["best_step"]
        self.best_valid_loss = header["best_valid_loss"]

    def history(self, loss_dtype) -> History:
        a = self.arrays(loss_dtype)
        return History(step=np.arange(a["loss"].shape[0]), compile_seconds=self.compile_seconds,
                       best_step=self.best_step, best_valid_loss=self.best_valid_loss, **a)


# --- batching ---------------------------------------------------------------------------------
def _leading_size(tree, name: str) -> int:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError(f"{name} must be a pytree with at least one array, got {tree!r}")
    sizes = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        shape = np.shape(leaf)
        if len(shape) == 0:
            raise ValueError(f"{name}{jax.tree_util.keystr(path)} is a scalar; every leaf of {name} "
                             "needs a leading sample axis")
        sizes[jax.tree_util.keystr(path) or "<root>"] = shape[0]
    if len(set(sizes.values())) != 1:
        raise ValueError(f"the leaves of {name} must share the leading sample axis, got sizes {sizes}")
    n = next(iter(sizes.values()))
    if n == 0:
        raise ValueError(f"{name} holds no samples (leading size 0)")
    return int(n)


def _epoch_permutation(data_key, epoch, n: int):
    return jax.random.permutation(jax.random.fold_in(data_key, epoch), n)


def batch_indices(
    key: PRNGKeyArray, step: int | Int[ArrayLike, ""], n_samples: int, batch_size: int
) -> Int[Array, " batch_size"]:
    """Indices into the sample axis of the batch that :func:`fit` uses at ``step`` for a
    run started with ``key``, shape ``(batch_size,)``.

    Epoch ``e = step // (n_samples // batch_size)`` draws the permutation
    ``jax.random.permutation(jax.random.fold_in(data_key, e), n_samples)`` with
    ``data_key = jax.random.split(key, 3)[0]`` and slices it ``batch_size`` at a time; the
    ``n_samples % batch_size`` samples left over at the end of the permutation are not used
    in that epoch.
    """
    if not 1 <= batch_size <= n_samples:
        raise ValueError(f"batch_size must be in [1, n_samples={n_samples}], got {batch_size}")
    data_key = jax.random.split(key, 3)[0]
    per_epoch = n_samples // batch_size
    step = jnp.asarray(step)
    perm = _epoch_permutation(data_key, step // per_epoch, n_samples)
    return jax.lax.dynamic_slice_in_dim(perm, (step % per_epoch) * batch_size, batch_size)


# --- small helpers ----------------------------------------------------------------------------
def _positive_int(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _json_hyperparams(hyperparams) -> dict:
    if hyperparams is None:
        return {}
    if not isinstance(hyperparams, dict):
        raise ValueError(f"hyperparams must be a dict of JSON values, got {type(hyperparams).__name__}")
    try:
        return json.loads(json.dumps(hyperparams))
    except (TypeError, ValueError) as err:
        raise ValueError(f"hyperparams must be JSON-serialisable (numbers, strings, lists, dicts): {err}") from None


def _key_list(key) -> list[int]:
    try:
        data = jax.random.key_data(key)
    except (TypeError, ValueError) as err:
        raise ValueError(f"key must be a JAX PRNG key (jax.random.key or PRNGKey), got {key!r}") from err
    return [int(v) for v in np.asarray(data).ravel()]


def _describe_optimizer(opt_state) -> str:
    """A short description of an optax state's structure, e.g.
    ``(ScaleByAdamState(count, mu, nu), EmptyState())``, stored in checkpoint headers."""

    def describe(node):
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            parts = [describe(v) if isinstance(v, (tuple, list)) else f for f, v in zip(node._fields, node)]
            return f"{type(node).__name__}({', '.join(parts)})"
        if isinstance(node, (tuple, list)):
            return "(" + ", ".join(describe(v) for v in node) + ")"
        return type(node).__name__

    return describe(opt_state)


def _check_like(loaded, skeleton, what: str, path) -> None:
    """Raise ValueError unless every array leaf of ``loaded`` has the skeleton's shape/dtype."""
    a = jax.tree_util.tree_leaves_with_path(skeleton)
    b = jax.tree.leaves(loaded)
    for (p, s), x in zip(a, b):
        if eqx.is_array(s) or isinstance(s, jax.ShapeDtypeStruct):
            if (tuple(s.shape), np.dtype(s.dtype)) != (tuple(np.shape(x)), np.dtype(x.dtype)):
                raise ValueError(
                    f"{path}: {what}{jax.tree_util.keystr(p)} has shape {np.shape(x)} and dtype "
                    f"{np.dtype(x.dtype)} in the file but {tuple(s.shape)} / {np.dtype(s.dtype)} in the "
                    "skeleton; was the model built with other hyperparameters?"
                )


def _shard(tree, sharding: NamedSharding):
    """Place (outside jit) or constrain (inside jit) the array leaves of ``tree``; uses
    ``jax.reshard`` for meshes with ``Explicit`` axes, ``eqx.filter_shard`` otherwise."""
    types = getattr(sharding.mesh, "axis_types", ())
    if any(t == jax.sharding.AxisType.Explicit for t in types):
        arrays, rest = eqx.partition(tree, eqx.is_array)
        return eqx.combine(jax.reshard(arrays, sharding), rest)
    return eqx.filter_shard(tree, sharding)


def _write(path, header: dict, tree) -> str:
    """Atomically write ``header`` (one JSON line) and the leaves of ``tree`` to ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write((json.dumps(header) + "\n").encode())
            eqx.tree_serialise_leaves(f, tree)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_header(path) -> dict:
    """The JSON header (first line) of a file written by :func:`save_model` or by
    :func:`fit`'s checkpointing."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        return _read_header(f, path)


def _read_header(f, path) -> dict:
    line = f.readline()
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") not in (CHECKPOINT_FORMAT, MODEL_FORMAT):
        raise ValueError(f"{path} is not a physcon model or checkpoint file (no valid JSON header line)")
    return header


# --- saving models ----------------------------------------------------------------------------
def save_model(path, model: eqx.Module, hyperparams: dict | None = None) -> str:
    """Write ``model`` to one self-describing file: a JSON header line (format, physcon version,
    ``hyperparams``, the model's class name) and then its leaves (``eqx.tree_serialise_leaves``).
    Written atomically (temporary file, then renamed). Returns the path.

    ``hyperparams`` should be the keyword arguments that rebuild the model's *structure*, so
    that ``load_model(path, ModelClass)`` works (``ModelClass(**hyperparams, key=...)``).
    """
    header = {
        "format": MODEL_FORMAT,
        "physcon_version": __version__,
        "hyperparams": _json_hyperparams(hyperparams),
        "model": type(model).__qualname__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return _write(path, header, model)


def load_model(path, skeleton_or_constructor: eqx.Module | Callable[..., eqx.Module]) -> eqx.Module:
    """Read a model written by :func:`save_model`, or the (latest, not best) model of a
    :func:`fit` checkpoint.

    Args:
        path: the file.
        skeleton_or_constructor: either a model of the same structure (its array values are
            ignored), or a callable (e.g. the model class) that builds one as
            ``constructor(**hyperparams, key=jax.random.PRNGKey(0))`` from the file's header.
            The constructor is only traced (``eqx.filter_eval_shape``): no parameters are
            initialised.

    Raises:
        ValueError: not a physcon file, or arrays whose shapes/dtypes differ from the skeleton.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        header = _read_header(f, path)
        if isinstance(skeleton_or_constructor, eqx.Module):
            skeleton = skeleton_or_constructor
        elif callable(skeleton_or_constructor):
            hp = header.get("hyperparams") or {}
            try:
                skeleton = eqx.filter_eval_shape(skeleton_or_constructor, **hp, key=jax.random.PRNGKey(0))
            except TypeError as err:
                raise ValueError(f"{path}: could not build the model from the file's hyperparameters {hp}: "
                                 f"{err}") from err
        else:
            raise ValueError(f"skeleton_or_constructor must be an eqx.Module or a callable, "
                             f"got {type(skeleton_or_constructor).__name__}")
        try:
            model = eqx.tree_deserialise_leaves(f, skeleton)
        except (RuntimeError, ValueError, OSError, EOFError) as err:
            raise ValueError(f"{path}: the file's arrays do not fit the skeleton (was the model built with "
                             f"other hyperparameters?): {err}") from err
    _check_like(model, skeleton, "model", path)
    return model


# --- the training loop ------------------------------------------------------------------------
def fit(
    model: eqx.Module,
    loss_fn: Callable[..., Any],
    data: PyTree[Shaped[ArrayLike, "N ..."]],
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    batch_size: int,
    key: PRNGKeyArray,
    has_aux: bool = False,
    valid_data: PyTree[Shaped[ArrayLike, "Nv ..."]] | None = None,
    valid_every: int | None = None,
    valid_fn: Callable[..., Any] | None = None,
    keep_best: bool = False,
    log_every: int = 100,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    hyperparams: dict | None = None,
    progress: bool = True,
    mesh: Mesh | None = None,
) -> tuple[eqx.Module, History]:
    """Train ``model`` for ``steps`` optimiser steps on minibatches of ``data``.

    Args:
        model: any ``eqx.Module``; its inexact array leaves are trained, the rest is kept.
            (Freeze an array with ``jax.lax.stop_gradient`` in the model or with
            ``optax.masked``.)
        loss_fn: ``loss_fn(model, batch, key) -> loss`` (a scalar), or ``-> (loss, aux)``
            with ``has_aux=True``, where ``aux`` is a dict of arrays (each is averaged to a
            scalar per step and recorded in ``History.aux``). ``batch`` has the structure of
            ``data`` with leading axis ``batch_size``; ``key`` is different at every step.
        data: a pytree of arrays with a shared leading sample axis ``N``, e.g.
            ``{"x": (N, ...), "y": (N, ...)}``; put on the device once.
        optimizer: an ``optax.GradientTransformation``; ``update(grads, state, params)`` is
            given the parameters, so weight decay and schedules just work.
        steps: total number of optimiser steps (including those done before a resume).
        batch_size: samples per step, ``1 <= batch_size <= N``; each epoch of ``N // batch_size``
            steps visits a fresh permutation and drops the remainder (see :func:`batch_indices`).
        key: PRNG key; the batches and the per-step loss keys are pure functions of it.
        has_aux: whether ``loss_fn`` returns ``(loss, aux_dict)``.
        valid_data: optional validation pytree (leading axis ``Nv``).
        valid_every: validate after every multiple of this many steps (default ``log_every``);
            the final model is validated only if ``steps`` is such a multiple.
        valid_fn: ``valid_fn(model, valid_data) -> scalar``; default: ``loss_fn`` (its loss)
            averaged over the ``Nv // b`` full batches of ``b = min(batch_size, Nv)``
            consecutive validation samples, each with a fixed key.
        keep_best: return the model with the lowest validation loss seen (ProbConserv's
            best-validation checkpoint) instead of the final one. Needs ``valid_data``.
        log_every: steps per compiled call and per progress-bar update. Validation and
            checkpoints happen between calls, so the chunk length is
            ``gcd(log_every, valid_every, checkpoint_every)``. One compilation serves all
            chunks; a different length (a last chunk when ``steps`` is not a multiple, or the
            first after resuming off the chunk grid) compiles once more.
        checkpoint: path of one checkpoint file, rewritten atomically every
            ``checkpoint_every`` steps (default: every ``log_every``) and at the end. It holds a
            JSON header line (physcon version, step, ``hyperparams``, optimiser structure,
            ``batch_size``, ``steps``, key data, ...) and the model, optimiser state, best model,
            history and keys. An existing file is not overwritten unless ``resume=True``.
        resume: continue from ``checkpoint`` if that file exists (else start afresh). The run
            must agree with the file on ``batch_size``, ``N``, ``key``, ``hyperparams``, the
            aux names, and the optimiser and model structure; the continued run is then
            identical to an uninterrupted one (validation, checkpoint and chunk lengths may
            differ). ``model`` and ``optimizer`` serve as the skeleton for loading.
        hyperparams: JSON-serialisable dict recorded in checkpoint headers (e.g. the model's
            constructor arguments, so :func:`load_model` can rebuild it) and checked on resume.
            The optimiser is only checked by the structure of its state, so put its settings
            (learning rate, schedule) here too if a resume should verify them.
        progress: show a tqdm progress bar with the recent loss.
        mesh: optional ``jax.sharding.Mesh`` for data parallelism: every batch is sharded
            over the mesh's first axis (``batch_size`` must be divisible by its size); data,
            validation data, parameters and optimiser state are replicated on every device
            (so each device gathers its own batch shard locally) and XLA inserts the gradient
            all-reduce. Meshes with ``Auto`` or ``Explicit`` axis types both work. The losses
            equal the single-device ones up to float round-off (reduction order).

    Returns:
        ``(model, history)``: the trained (or, with ``keep_best``, best-validation) model and
        a :class:`History`.

    Raises:
        ValueError: bad sizes or settings (naming the argument), or a checkpoint that does not
            match this run.
        FileExistsError: ``checkpoint`` exists and ``resume`` is False.
        FloatingPointError: the training loss became NaN or infinite (the message gives the
            first such step; the last checkpoint, if any, is from before it).
    """
    # ---- arguments
    steps = _positive_int(steps, "steps")
    batch_size = _positive_int(batch_size, "batch_size")
    log_every = _positive_int(log_every, "log_every")
    n = _leading_size(data, "data")
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the number of samples in data (N={n})")
    if valid_data is None:
        if valid_every is not None or valid_fn is not None:
            raise ValueError("valid_every / valid_fn given without valid_data")
        if keep_best:
            raise ValueError("keep_best=True needs valid_data (the best model is chosen by validation loss)")
    else:
        n_valid = _leading_size(valid_data, "valid_data")
        valid_every = _positive_int(log_every if valid_every is None else valid_every, "valid_every")
    if checkpoint is None:
        if resume:
            raise ValueError("resume=True needs checkpoint=path")
        if checkpoint_every is not None:
            raise ValueError("checkpoint_every given without checkpoint=path")
    else:
        checkpoint = os.fspath(checkpoint)
        checkpoint_every = _positive_int(log_every if checkpoint_every is None else checkpoint_every,
                                         "checkpoint_every")
        if os.path.exists(checkpoint) and not resume:
            raise FileExistsError(f"checkpoint {checkpoint} exists: pass resume=True to continue it, "
                                  "or remove it")
    hyperparams = _json_hyperparams(hyperparams)
    key_list = _key_list(key)
    if not isinstance(model, eqx.Module):
        raise ValueError(f"model must be an eqx.Module, got {type(model).__name__}")
    if mesh is not None:
        if not isinstance(mesh, Mesh):
            raise ValueError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
        shards = int(mesh.shape[mesh.axis_names[0]])
        if batch_size % shards:
            raise ValueError(f"batch_size={batch_size} must be divisible by the size {shards} of the "
                             f"mesh's first axis {mesh.axis_names[0]!r}")
        replicated = NamedSharding(mesh, PartitionSpec())
        batch_sharding = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
    chunk = math.gcd(log_every, valid_every or 0, checkpoint_every or 0)
    per_epoch = n // batch_size

    # ---- state
    data_key, step_key, valid_key = jax.random.split(key, 3)
    data = jax.tree.map(jnp.asarray, data)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt_state = optimizer.init(params)
    optimizer_desc = _describe_optimizer(opt_state)

    def objective(p, batch, k):
        out = loss_fn(eqx.combine(p, static), batch, k)
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
                raise ValueError("with has_aux=True, loss_fn must return (loss, aux) with aux a dict of arrays")
            loss, aux = out
            aux = {str(name): jnp.mean(v) for name, v in aux.items()}
        else:
            loss, aux = out, {}
        if jnp.shape(loss) != ():
            raise ValueError(f"loss_fn must return a scalar loss, got shape {jnp.shape(loss)}"
                             + ("" if has_aux else " (returning (loss, aux)? pass has_aux=True)"))
        return loss, aux

    loss_shape = eqx.filter_eval_shape(
        objective, params, jax.tree.map(lambda a: jax.ShapeDtypeStruct((batch_size, *a.shape[1:]), a.dtype), data),
        jax.random.fold_in(step_key, 0),
    )
    loss_dtype = np.dtype(loss_shape[0].dtype)
    aux_names = sorted(loss_shape[1])
    record = _Record(aux_names)
    best_params = None
    start = 0

    if resume and os.path.exists(checkpoint):
        header, params, opt_state, best_params = _load_checkpoint(
            checkpoint, record, params, static, opt_state, loss_dtype,
            expect={"batch_size": batch_size, "n_samples": n, "key": key_list, "hyperparams": hyperparams,
                    "optimizer": optimizer_desc, "aux": aux_names},
        )
        start = int(header["step"])
        if start > steps:
            raise ValueError(f"checkpoint {checkpoint} is at step {start}, beyond steps={steps}")

    if mesh is not None:
        data = jax.device_put(data, replicated)
        params, opt_state = _shard((params, opt_state), replicated)
        if valid_data is not None:
            valid_data = jax.device_put(jax.tree.map(jnp.asarray, valid_data), replicated)
    elif valid_data is not None:
        valid_data = jax.tree.map(jnp.asarray, valid_data)

    # ---- the compiled chunk of steps
    def train_step(carry, step):
        p, state, perm, first = carry
        new_epoch = (step % per_epoch == 0) | (step == first)
        perm = jax.lax.cond(new_epoch, lambda: _epoch_permutation(data_key, step // per_epoch, n), lambda: perm)
        idx = jax.lax.dynamic_slice_in_dim(perm, (step % per_epoch) * batch_size, batch_size)
        batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0, mode="clip"), data)
        if mesh is not None:
            batch = _shard(batch, batch_sharding)
        (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(p, batch, jax.random.fold_in(step_key, step))
        updates, state = optimizer.update(grads, state, p)
        p = eqx.apply_updates(p, updates)
        if mesh is not None:
            p, state = _shard((p, state), replicated)
        return (p, state, perm, first), (loss, aux)

    @eqx.filter_jit
    def run_chunk(p, state, first, length):
        perm = jnp.zeros((n,), jnp.int32)  # drawn at the chunk's first step (one permutation to compile)
        carry = (p, state, perm, first)
        (p, state, _, _), (losses, aux) = jax.lax.scan(train_step, carry, first + jnp.arange(length))
        if mesh is not None:
            p, state = _shard((p, state), replicated)
        return p, state, losses, aux

    compiled: dict[Any, Any] = {}  # chunk length -> executable; "valid" -> validation

    def chunk_runner(p, state, first, length):
        """The compiled chunk of ``length`` steps (compiled ahead of time, and timed, once)."""
        if length not in compiled:
            t0 = time.perf_counter()
            compiled[length] = run_chunk.lower(p, state, first, length).compile()
            record.compile_seconds += time.perf_counter() - t0
        return compiled[length]

    # ---- validation
    evaluate = None
    if valid_data is not None:
        if valid_fn is None:
            vb = min(batch_size, n_valid)
            n_batches = n_valid // vb
            v_shard = mesh is not None and vb % shards == 0

            def default_valid(model_, vdata):
                batches = jax.tree.map(lambda a: a[: n_batches * vb].reshape(n_batches, vb, *a.shape[1:]), vdata)

                def one(args):
                    i, b = args
                    if v_shard:
                        b = _shard(b, batch_sharding)
                    out = loss_fn(model_, b, jax.random.fold_in(valid_key, i))
                    return out[0] if has_aux else out

                return jnp.mean(jax.lax.map(one, (jnp.arange(n_batches), batches)))

            vfn = default_valid
        else:
            vfn = valid_fn

        @eqx.filter_jit
        def evaluate_(p, vdata):
            value = vfn(eqx.combine(p, static), vdata)
            if jnp.shape(value) != ():
                raise ValueError(f"the validation loss must be a scalar, got shape {jnp.shape(value)}")
            return value

        def evaluate(p):
            if "valid" not in compiled:
                t0 = time.perf_counter()
                compiled["valid"] = evaluate_.lower(p, valid_data).compile()
                record.compile_seconds += time.perf_counter() - t0
            return float(compiled["valid"](p, valid_data))

    # ---- checkpointing
    def save_checkpoint(step):
        arrays = record.arrays(loss_dtype)
        header = {
            "format": CHECKPOINT_FORMAT,
            "physcon_version": __version__,
            "step": step,
            "steps": steps,
            "batch_size": batch_size,
            "n_samples": n,
            "key": key_list,
            "hyperparams": hyperparams,
            "optimizer": optimizer_desc,
            "model": type(model).__qualname__,
            "log_every": log_every,
            "valid_every": valid_every,
            "checkpoint_every": checkpoint_every,
            "aux": aux_names,
            "n_valid": len(record.valid_step),
            "n_chunks": len(record.seconds),
            "best_step": record.best_step,
            "best_valid_loss": record.best_valid_loss,
            "compile_seconds": record.compile_seconds,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        best = None if best_params is None else eqx.combine(best_params, static)
        keys = {"key": np.asarray(key_list, np.uint32)}
        _write(checkpoint, header, (eqx.combine(params, static), opt_state, best, arrays, keys))

    # ---- the loop
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, initial=start, unit="step", desc="fit", disable=not progress)
    step = done = start
    try:
        while step < steps:
            stop = min(steps, (step // chunk + 1) * chunk)
            first = jnp.asarray(step, jnp.int32)
            run = chunk_runner(params, opt_state, first, stop - step)
            t0 = time.perf_counter()
            new_params, new_state, losses, aux = run(params, opt_state, first, stop - step)
            losses = np.asarray(losses)
            elapsed = time.perf_counter() - t0
            bad = ~np.isfinite(losses)
            if bad.any():
                first_bad = step + int(np.argmax(bad))
                raise FloatingPointError(
                    f"loss is not finite ({losses[np.argmax(bad)]}) at step {first_bad}: check the data, "
                    "the learning rate and loss_fn" + ("; the last checkpoint is from before it" if checkpoint else "")
                )
            params, opt_state = new_params, new_state
            record.loss.append(losses)
            for name in aux_names:
                record.aux[name].append(np.asarray(aux[name]))
            record.seconds.append(elapsed)
            record.chunk_step.append(stop)
            step = stop
            postfix = {"loss": f"{float(np.mean(losses)):.3e}"}
            if evaluate is not None and step % valid_every == 0:
                value = evaluate(params)
                record.valid_step.append(step)
                record.valid_loss.append(value)
                if record.best_valid_loss is None or value < record.best_valid_loss:
                    record.best_step, record.best_valid_loss, best_params = step, value, params
                postfix["valid"] = f"{value:.3e}"
            if checkpoint is not None and (step % checkpoint_every == 0 or step == steps):
                save_checkpoint(step)
            bar.set_postfix(postfix, refresh=False)
            bar.update(stop - done)
            done = stop
    finally:
        bar.close()

    final = best_params if (keep_best and best_params is not None) else params
    return eqx.combine(final, static), record.history(loss_dtype)


def _load_checkpoint(path, record, params, static, opt_state, loss_dtype, expect):
    """Read a checkpoint into ``record``; return ``(header, params, opt_state, best_params)``."""
    with open(path, "rb") as f:
        header = _read_header(f, path)
        if header["format"] != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is a saved model, not a training checkpoint")
        names = {"batch_size": "batch_size", "n_samples": "the number of samples N in data",
                 "key": "key", "hyperparams": "hyperparams", "optimizer": "the optimiser state's structure",
                 "aux": "the aux names returned by loss_fn"}
        diffs = [f"{names[k]}: file has {header.get(k)!r}, this run {v!r}" for k, v in expect.items()
                 if header.get(k) != v]
        if diffs:
            raise ValueError(f"cannot resume from {path}: it was written by a different run ("
                             + "; ".join(diffs) + "). Use another checkpoint path or the same settings.")
        model = eqx.combine(params, static)
        k, m, c = int(header["step"]), int(header["n_valid"]), int(header["n_chunks"])
        history = {
            "loss": np.zeros((k,), loss_dtype),
            "aux": {name: np.zeros((k,), loss_dtype) for name in header["aux"]},
            "valid_step": np.zeros((m,), np.int64),
            "valid_loss": np.zeros((m,), np.float64),
            "seconds": np.zeros((c,), np.float64),
            "chunk_step": np.zeros((c,), np.int64),
        }
        best = None if header["best_step"] is None else model
        keys = {"key": np.zeros((len(header["key"]),), np.uint32)}
        skeleton = (model, opt_state, best, history, keys)
        try:
            loaded = eqx.tree_deserialise_leaves(f, skeleton)
        except Exception as err:  # truncated or foreign payload
            raise ValueError(f"{path}: could not read the checkpoint's arrays (truncated, or another "
                             f"model/optimiser?): {err}") from err
    _check_like(loaded[:3], skeleton[:3], "checkpoint", path)
    model_l, opt_state_l, best_l, history_l, _ = loaded
    for name, arr in [("loss", history_l["loss"]), *history_l["aux"].items()]:
        if arr.shape != (k,):
            raise ValueError(f"{path}: history {name} has shape {arr.shape}, expected {(k,)}")
    record.load(history_l, header)
    best_params = None if best_l is None else eqx.filter(best_l, eqx.is_inexact_array)
    return header, eqx.filter(model_l, eqx.is_inexact_array), opt_state_l, best_params


__all__ = ["History", "batch_indices", "fit", "load_model", "read_header", "save_model"]
