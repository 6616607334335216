"""Self-describing model and checkpoint files: one line of JSON, then the array leaves.

A file starts with one line of JSON (``format``, physcon version, ``hyperparams``, the model's
class name, and for checkpoints the training run's settings and progress), followed by the
leaves written by ``eqx.tree_serialise_leaves``. No pickle: a file can be inspected with
:func:`read_header` (or ``head -1``) and is only ever loaded into a skeleton the caller built,
so it cannot run code.

* :func:`save_model` / :func:`load_model`: a model alone (``format = "physcon.model/1"``).
* :func:`physcon.train.fit`'s checkpoints (``format = "physcon.train/1"``) hold
  ``(model, optimiser state, best model or None, history arrays, {"key": key data})``;
  :func:`load_model` reads their (latest) model too.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np

from physcon._io import atomic_write
from physcon._version import __version__

CHECKPOINT_FORMAT = "physcon.train/1"
MODEL_FORMAT = "physcon.model/1"


# --- header values ----------------------------------------------------------------------------
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


# --- reading and writing ----------------------------------------------------------------------
def _header(fmt: str, fields: dict) -> dict:
    """The JSON header of a new file: format and physcon version first, creation time last."""
    return {"format": fmt, "physcon_version": __version__, **fields,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _write(path, header: dict, tree) -> str:
    """Atomically write ``header`` (one JSON line) and the leaves of ``tree`` to ``path``."""
    path = os.fspath(path)
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        f.write((json.dumps(header) + "\n").encode())
        eqx.tree_serialise_leaves(f, tree)
        f.flush()
        # on disk before the rename: a checkpoint must survive a crash of the machine, too
        os.fsync(f.fileno())
    return path


def read_header(path) -> dict:
    """The JSON header (first line) of a file written by :func:`save_model` or by
    :func:`physcon.train.fit`'s checkpointing."""
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
    header = _header(MODEL_FORMAT, {"hyperparams": _json_hyperparams(hyperparams),
                                    "model": type(model).__qualname__})
    return _write(path, header, model)


def load_model(path, skeleton_or_constructor: eqx.Module | Callable[..., eqx.Module]) -> eqx.Module:
    """Read a model written by :func:`save_model`, or the (latest, not best) model of a
    :func:`physcon.train.fit` checkpoint.

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


# --- training checkpoints ---------------------------------------------------------------------
def _write_checkpoint(path, info: dict, model, opt_state, best, arrays: dict) -> None:
    """Write a :func:`~physcon.train.fit` checkpoint: ``info`` (the run's settings and progress,
    including ``"key"``, the key data as a list) goes into the header between the format and
    the creation time; ``arrays`` are the history arrays (``_Record.arrays``)."""
    header = _header(CHECKPOINT_FORMAT, info)
    keys = {"key": np.asarray(info["key"], np.uint32)}
    _write(path, header, (model, opt_state, best, arrays, keys))


def _load_checkpoint(path, record, params, static, opt_state, loss_dtype, expect):
    """Read a checkpoint into ``record`` (``physcon.train``'s history accumulator); return
    ``(header, params, opt_state, best_params)``. ``params``/``static``/``opt_state`` are this
    run's, the skeleton to load into; ``expect`` maps header keys to this run's values, which
    must match the file's for the resumed run to be the same run."""
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


__all__ = ["CHECKPOINT_FORMAT", "MODEL_FORMAT", "load_model", "read_header", "save_model"]
