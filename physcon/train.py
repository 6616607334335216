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
The compiled side (batches, sharding, the scanned chunk, validation) is :mod:`physcon._steps`.

Checkpoints and saved models are single self-describing files (see :mod:`physcon.checkpoint`,
whose :func:`save_model`, :func:`load_model` and :func:`read_header` are re-exported here).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import ArrayLike, PRNGKeyArray, PyTree, Shaped

from physcon._io import remove_stale_temporaries
from physcon._steps import _chunk_runner, _objective, _place, _Settings, _validator, batch_indices
from physcon.checkpoint import (  # the file functions are re-exported: physcon.train.save_model etc.
    CHECKPOINT_FORMAT,
    MODEL_FORMAT,
    _describe_optimizer,
    _json_hyperparams,
    _key_list,
    _load_checkpoint,
    _write_checkpoint,
    load_model,
    read_header,
    save_model,
)
from physcon.history import History, _Record


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
    checkpoint_seconds: float | None = None,
    resume: bool = False,
    hyperparams: dict | None = None,
    progress: bool | str = True,
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
            A write that is killed midway leaves the previous checkpoint intact (a temporary
            ``<checkpoint>.*.tmp`` beside it is ignored, and removed by the next resume).
        checkpoint_seconds: also rewrite the checkpoint after the first chunk that ends at
            least this many seconds after the last write (or the start). Given alone (without
            ``checkpoint_every``), checkpoints are written by time only (and at the end); the
            chunk length is then unchanged.
        resume: continue from ``checkpoint`` if that file exists (else start afresh). The run
            must agree with the file on ``batch_size``, ``N``, ``key``, ``hyperparams``, the
            aux names, and the optimiser and model structure; the continued run is then
            identical to an uninterrupted one (validation, checkpoint and chunk lengths may
            differ). ``model`` and ``optimizer`` serve as the skeleton for loading.
        hyperparams: JSON-serialisable dict recorded in checkpoint headers (e.g. the model's
            constructor arguments, so :func:`load_model` can rebuild it) and checked on resume.
            The optimiser is only checked by the structure of its state, so put its settings
            (learning rate, schedule) here too if a resume should verify them.
        progress: show a tqdm progress bar (rate, ETA and the recent loss); a string is
            shown as the bar's label (e.g. the model's name).
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
    cfg = _check_args(model, data, steps=steps, batch_size=batch_size, key=key, valid_data=valid_data,
                      valid_every=valid_every, valid_fn=valid_fn, keep_best=keep_best, log_every=log_every,
                      checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                      checkpoint_seconds=checkpoint_seconds, resume=resume, hyperparams=hyperparams, progress=progress, mesh=mesh)

    # ---- state
    data_key, step_key, valid_key = jax.random.split(key, 3)
    data = jax.tree.map(jnp.asarray, data)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt_state = optimizer.init(params)
    objective = _objective(loss_fn, static, has_aux)
    batch_shape = jax.tree.map(lambda a: jax.ShapeDtypeStruct((cfg.batch_size, *a.shape[1:]), a.dtype), data)
    loss_shape = eqx.filter_eval_shape(objective, params, batch_shape, jax.random.fold_in(step_key, 0))
    loss_dtype = np.dtype(loss_shape[0].dtype)
    aux_names = sorted(loss_shape[1])
    record = _Record(aux_names)
    checkpoints = _Checkpoints(cfg, record, static, loss_dtype, model_name=type(model).__qualname__,
                               optimizer=_describe_optimizer(opt_state), aux_names=aux_names)
    start, params, opt_state, best_params = checkpoints.resume(params, opt_state)
    data, valid_data, params, opt_state = _place(cfg, data, valid_data, params, opt_state)

    # ---- the compiled parts, then the host loop over chunks
    chunk_runner = _chunk_runner(cfg, record, objective, optimizer, data, data_key, step_key)
    evaluate = _validator(cfg, record, loss_fn, valid_fn, valid_data, static, valid_key, has_aux)
    params, best_params = _loop(cfg, record, params, opt_state, best_params, start,
                                chunk_runner, evaluate, checkpoints.save)

    final = best_params if (keep_best and best_params is not None) else params
    return eqx.combine(final, static), record.history(loss_dtype)


# --- checked arguments ------------------------------------------------------------------------
def _check_args(model, data, *, steps, batch_size, key, valid_data, valid_every, valid_fn, keep_best,
                log_every, checkpoint, checkpoint_every, checkpoint_seconds, resume, hyperparams, progress,
                mesh) -> _Settings:
    """Validate :func:`fit`'s arguments (``ValueError`` naming the argument) and fill in defaults."""
    steps = _positive_int(steps, "steps")
    batch_size = _positive_int(batch_size, "batch_size")
    log_every = _positive_int(log_every, "log_every")
    n = _leading_size(data, "data")
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the number of samples in data (N={n})")
    n_valid = None
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
        if checkpoint_every is not None or checkpoint_seconds is not None:
            raise ValueError("checkpoint_every / checkpoint_seconds given without checkpoint=path")
    else:
        checkpoint = os.fspath(checkpoint)
        if checkpoint_seconds is not None:
            if isinstance(checkpoint_seconds, bool) or not isinstance(checkpoint_seconds, (int, float, np.number)) \
                    or not checkpoint_seconds > 0:
                raise ValueError(f"checkpoint_seconds must be a positive number, got {checkpoint_seconds!r}")
            checkpoint_seconds = float(checkpoint_seconds)
        if checkpoint_every is not None or checkpoint_seconds is None:
            checkpoint_every = _positive_int(log_every if checkpoint_every is None else checkpoint_every,
                                             "checkpoint_every")
        if os.path.exists(checkpoint) and not resume:
            raise FileExistsError(f"checkpoint {checkpoint} exists: pass resume=True to continue it, "
                                  "or remove it")
    hyperparams = _json_hyperparams(hyperparams)
    key_list = _key_list(key)
    if not isinstance(model, eqx.Module):
        raise ValueError(f"model must be an eqx.Module, got {type(model).__name__}")
    if not isinstance(progress, (bool, str)):
        raise ValueError(f"progress must be a bool or a label string, got {progress!r}")
    cfg = _Settings(steps, batch_size, log_every, n, n_valid, valid_every, checkpoint, checkpoint_every,
                    resume, hyperparams, key_list, progress, mesh, checkpoint_seconds=checkpoint_seconds)
    if mesh is None:
        return cfg
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    shards = int(mesh.shape[mesh.axis_names[0]])
    if batch_size % shards:
        raise ValueError(f"batch_size={batch_size} must be divisible by the size {shards} of the "
                         f"mesh's first axis {mesh.axis_names[0]!r}")
    return dataclasses.replace(cfg, shards=shards, replicated=NamedSharding(mesh, PartitionSpec()),
                               batch_sharding=NamedSharding(mesh, PartitionSpec(mesh.axis_names[0])))


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


def _positive_int(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- checkpoints ------------------------------------------------------------------------------
class _Checkpoints:
    """:func:`fit`'s checkpoint file: resuming from it and rewriting it (no-ops without one)."""

    def __init__(self, cfg: _Settings, record: _Record, static, loss_dtype, *, model_name: str,
                 optimizer: str, aux_names: list[str]):
        self.cfg, self.record, self.static, self.loss_dtype = cfg, record, static, loss_dtype
        self.model_name, self.optimizer, self.aux_names = model_name, optimizer, aux_names
        self.last_write = time.monotonic()

    def resume(self, params, opt_state):
        """``(start step, params, opt_state, best_params)``: the checkpoint's when resuming from
        an existing file (its history goes into the record), else step 0 and the given state."""
        cfg = self.cfg
        if cfg.resume:
            remove_stale_temporaries(cfg.checkpoint)
        if not (cfg.resume and os.path.exists(cfg.checkpoint)):
            return 0, params, opt_state, None
        header, params, opt_state, best_params = _load_checkpoint(
            cfg.checkpoint, self.record, params, self.static, opt_state, self.loss_dtype,
            expect={"batch_size": cfg.batch_size, "n_samples": cfg.n, "key": cfg.key_list,
                    "hyperparams": cfg.hyperparams, "optimizer": self.optimizer, "aux": self.aux_names},
        )
        start = int(header["step"])
        if start > cfg.steps:
            raise ValueError(f"checkpoint {cfg.checkpoint} is at step {start}, beyond steps={cfg.steps}")
        return start, params, opt_state, best_params

    def save(self, step, params, opt_state, best_params) -> None:
        """Rewrite the checkpoint if ``step`` is a checkpoint step (or the last step)."""
        cfg, record = self.cfg, self.record
        if cfg.checkpoint is None:
            return
        by_step = cfg.checkpoint_every is not None and step % cfg.checkpoint_every == 0
        by_time = cfg.checkpoint_seconds is not None and time.monotonic() - self.last_write >= cfg.checkpoint_seconds
        if not (by_step or by_time or step == cfg.steps):
            return
        info = {
            "step": step,
            "steps": cfg.steps,
            "batch_size": cfg.batch_size,
            "n_samples": cfg.n,
            "key": cfg.key_list,
            "hyperparams": cfg.hyperparams,
            "optimizer": self.optimizer,
            "model": self.model_name,
            "log_every": cfg.log_every,
            "valid_every": cfg.valid_every,
            "checkpoint_every": cfg.checkpoint_every,
            "checkpoint_seconds": cfg.checkpoint_seconds,
            "aux": self.aux_names,
            "n_valid": len(record.valid_step),
            "n_chunks": len(record.seconds),
            "best_step": record.best_step,
            "best_valid_loss": record.best_valid_loss,
            "compile_seconds": record.compile_seconds,
        }
        best = None if best_params is None else eqx.combine(best_params, self.static)
        _write_checkpoint(cfg.checkpoint, info, eqx.combine(params, self.static), opt_state, best,
                          record.arrays(self.loss_dtype))
        self.last_write = time.monotonic()



# --- the host loop ----------------------------------------------------------------------------
def _loop(cfg: _Settings, record: _Record, params, opt_state, best_params, start: int,
          chunk_runner, evaluate, save):
    """The host loop from step ``start`` to ``cfg.steps``: per chunk, one compiled call, then
    the NaN check, history, validation, checkpoint and progress bar. Returns the final
    ``(params, best_params)``."""
    from tqdm.auto import tqdm

    label = cfg.progress if isinstance(cfg.progress, str) else "fit"
    bar = tqdm(total=cfg.steps, initial=start, unit="step", desc=label, disable=not cfg.progress)
    step = done = start
    try:
        while step < cfg.steps:
            stop = min(cfg.steps, (step // cfg.chunk + 1) * cfg.chunk)
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
                    "the learning rate and loss_fn"
                    + ("; the last checkpoint is from before it" if cfg.checkpoint else "")
                )
            params, opt_state = new_params, new_state
            record.loss.append(losses)
            for name in record.aux:
                record.aux[name].append(np.asarray(aux[name]))
            record.seconds.append(elapsed)
            record.chunk_step.append(stop)
            step = stop
            postfix = {"loss": f"{float(np.mean(losses)):.3e}"}
            if evaluate is not None and step % cfg.valid_every == 0:
                value = evaluate(params)
                record.valid_step.append(step)
                record.valid_loss.append(value)
                if record.best_valid_loss is None or value < record.best_valid_loss:
                    record.best_step, record.best_valid_loss, best_params = step, value, params
                postfix["valid"] = f"{value:.3e}"
            save(step, params, opt_state, best_params)
            bar.set_postfix(postfix, refresh=False)
            bar.update(stop - done)
            done = stop
    finally:
        bar.close()
    return params, best_params


__all__ = ["History", "batch_indices", "fit", "load_model", "read_header", "save_model"]
