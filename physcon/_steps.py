"""The compiled side of :func:`physcon.train.fit`: which samples each step sees, the scanned
chunk of optimiser steps, validation, and sharding over a device mesh.

Everything here runs (or is compiled) on the device; the host side (argument checks, the loop
over chunks, history, checkpoints) is in :mod:`physcon.train`, which checks the arguments into
the :class:`_Settings` defined here; the functions below take it as ``cfg``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jaxtyping import Array, ArrayLike, Int, PRNGKeyArray

from physcon.history import _Record


# --- the checked arguments of one fit() call ------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Settings:
    """The checked arguments of one :func:`fit` call, shared by the parts below."""

    steps: int
    batch_size: int
    log_every: int
    n: int  # samples in data
    n_valid: int | None  # samples in valid_data (None without it)
    valid_every: int | None
    checkpoint: str | None
    checkpoint_every: int | None
    resume: bool
    hyperparams: dict
    key_list: list[int]  # the key's data, as stored in (and checked against) checkpoint headers
    progress: bool | str  # a string: the progress bar's label
    mesh: Mesh | None
    shards: int | None = None  # size of the mesh's first axis, over which batches are split
    replicated: NamedSharding | None = None
    batch_sharding: NamedSharding | None = None
    checkpoint_seconds: float | None = None  # also checkpoint when this long since the last write

    @property
    def per_epoch(self) -> int:
        return self.n // self.batch_size

    @property
    def chunk(self) -> int:
        """Steps per compiled call: validation and checkpoints fall between calls."""
        return math.gcd(self.log_every, self.valid_every or 0, self.checkpoint_every or 0)


# --- batches ----------------------------------------------------------------------------------
def _epoch_permutation(data_key, epoch, n: int):
    # int32 whatever jax_enable_x64 says: the scan carry holds it as int32
    return jax.random.permutation(jax.random.fold_in(data_key, epoch), n).astype(jnp.int32)


def batch_indices(
    key: PRNGKeyArray, step: int | Int[ArrayLike, ""], n_samples: int, batch_size: int
) -> Int[Array, " batch_size"]:
    """Indices into the sample axis of the batch that :func:`physcon.train.fit` uses at
    ``step`` for a run started with ``key``, shape ``(batch_size,)``.

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


# --- sharding ---------------------------------------------------------------------------------
def _shard(tree, sharding: NamedSharding):
    """Place (outside jit) or constrain (inside jit) the array leaves of ``tree``; uses
    ``jax.reshard`` for meshes with ``Explicit`` axes, ``eqx.filter_shard`` otherwise."""
    types = getattr(sharding.mesh, "axis_types", ())
    if any(t == jax.sharding.AxisType.Explicit for t in types):
        arrays, rest = eqx.partition(tree, eqx.is_array)
        return eqx.combine(jax.reshard(arrays, sharding), rest)
    return eqx.filter_shard(tree, sharding)


def _place(cfg: _Settings, data, valid_data, params, opt_state):
    """Replicate data, validation data, parameters and optimiser state over the mesh, if any
    (each device then gathers its own batch shard locally)."""
    if cfg.mesh is not None:
        data = jax.device_put(data, cfg.replicated)
        params, opt_state = _shard((params, opt_state), cfg.replicated)
        if valid_data is not None:
            valid_data = jax.device_put(jax.tree.map(jnp.asarray, valid_data), cfg.replicated)
    elif valid_data is not None:
        valid_data = jax.tree.map(jnp.asarray, valid_data)
    return data, valid_data, params, opt_state


# --- the compiled chunk of steps --------------------------------------------------------------
def _objective(loss_fn, static, has_aux):
    """``objective(params, batch, key) -> (loss, {aux name: scalar})``, checking what loss_fn returns."""

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

    return objective


def _chunk_runner(cfg: _Settings, record: _Record, objective, optimizer, data, data_key, step_key):
    """``runner(params, opt_state, first, length)``: the executable that does steps ``first`` to
    ``first + length - 1`` as one ``lax.scan``; compiled ahead of time, and timed into
    ``record.compile_seconds``, once per chunk length."""
    n, batch_size, per_epoch, mesh = cfg.n, cfg.batch_size, cfg.per_epoch, cfg.mesh

    def train_step(carry, step):
        p, state, perm, first = carry
        new_epoch = (step % per_epoch == 0) | (step == first)
        perm = jax.lax.cond(new_epoch, lambda: _epoch_permutation(data_key, step // per_epoch, n), lambda: perm)
        idx = jax.lax.dynamic_slice_in_dim(perm, (step % per_epoch) * batch_size, batch_size)
        batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0, mode="clip"), data)
        if mesh is not None:
            batch = _shard(batch, cfg.batch_sharding)
        (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(p, batch, jax.random.fold_in(step_key, step))
        updates, state = optimizer.update(grads, state, p)
        p = eqx.apply_updates(p, updates)
        if mesh is not None:
            p, state = _shard((p, state), cfg.replicated)
        return (p, state, perm, first), (loss, aux)

    @eqx.filter_jit
    def run_chunk(p, state, first, length):
        perm = jnp.zeros((n,), jnp.int32)  # drawn at the chunk's first step (one permutation to compile)
        carry = (p, state, perm, first)
        (p, state, _, _), (losses, aux) = jax.lax.scan(train_step, carry, first + jnp.arange(length))
        if mesh is not None:
            p, state = _shard((p, state), cfg.replicated)
        return p, state, losses, aux

    compiled: dict[int, Any] = {}  # chunk length -> executable

    def runner(p, state, first, length):
        if length not in compiled:
            t0 = time.perf_counter()
            compiled[length] = run_chunk.lower(p, state, first, length).compile()
            record.compile_seconds += time.perf_counter() - t0
        return compiled[length]

    return runner


# --- validation -------------------------------------------------------------------------------
def _validator(cfg: _Settings, record: _Record, loss_fn, valid_fn, valid_data, static, valid_key, has_aux):
    """``evaluate(params) -> float``, the validation loss, compiled (and timed) on first use;
    ``None`` without validation data."""
    if valid_data is None:
        return None
    vfn = _default_valid(cfg, loss_fn, valid_key, has_aux) if valid_fn is None else valid_fn

    @eqx.filter_jit
    def evaluate_(p, vdata):
        value = vfn(eqx.combine(p, static), vdata)
        if jnp.shape(value) != ():
            raise ValueError(f"the validation loss must be a scalar, got shape {jnp.shape(value)}")
        return value

    compiled = []

    def evaluate(p):
        if not compiled:
            t0 = time.perf_counter()
            compiled.append(evaluate_.lower(p, valid_data).compile())
            record.compile_seconds += time.perf_counter() - t0
        return float(compiled[0](p, valid_data))

    return evaluate


def _default_valid(cfg: _Settings, loss_fn, valid_key, has_aux):
    """The mean of ``loss_fn``'s loss over the full batches of ``min(batch_size, Nv)`` consecutive
    validation samples, batch ``i`` with key ``fold_in(valid_key, i)`` (the same at every validation)."""
    vb = min(cfg.batch_size, cfg.n_valid)
    n_batches = cfg.n_valid // vb
    v_shard = cfg.mesh is not None and vb % cfg.shards == 0

    def default_valid(model_, vdata):
        batches = jax.tree.map(lambda a: a[: n_batches * vb].reshape(n_batches, vb, *a.shape[1:]), vdata)

        def one(args):
            i, b = args
            if v_shard:
                b = _shard(b, cfg.batch_sharding)
            out = loss_fn(model_, b, jax.random.fold_in(valid_key, i))
            return out[0] if has_aux else out

        return jnp.mean(jax.lax.map(one, (jnp.arange(n_batches), batches)))

    return default_valid


__all__ = ["batch_indices"]
