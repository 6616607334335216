"""Resumable reproductions: the checkpoint folder of one ``physcon reproduce`` run.

A reproduction is a tree of *units*, named by paths: a top-level unit per ProbConserv family
(``"stefan"``) or BOON case (``"stokes/multi"``, ``"cavity"``), and below it one per trained
model (``"stefan/ANP"``, ``"stokes/multi/BOON"``) and per ProbConserv test value
(``"stefan/u_star=0.6"``). :class:`Checkpoints` keeps, in its folder,

* ``run.json``: the run's configuration (paper, setting, seed, precision); a resumed run must
  have the same, since the units it reuses were computed with it;
* ``<unit>.ckpt``: the :func:`physcon.train.fit` checkpoint of a model being trained (model,
  optimiser state, PRNG key data, step, best-so-far model, history), rewritten atomically every
  ``checkpoint_every`` steps and/or ``checkpoint_seconds`` seconds and at the end;
* ``<unit>.npz``: a finished unit's result (nested dicts/lists/tuples of numbers, strings and
  arrays; JSON for the structure and NumPy arrays, no pickle), written atomically.

Everything a unit computes is a pure function of the configuration (keys derive from the seed,
``fit``'s batches and per-step keys from its key and the step), so a run that is killed (also in
the middle of a checkpoint write: the previous file survives, the temporary one is ignored) and
continued with ``resume=True`` ends with *the same* numbers, bit for bit, as an uninterrupted one.
Only wall-clock timings differ (:data:`TIMING_KEYS`, :func:`without_timings`). A unit that was
finished is loaded, not recomputed; a model whose training was interrupted continues from its
last checkpoint. The data sets are regenerated on resume (deterministic, cheap next to training).
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Callable, Iterable

import numpy as np

from physcon._io import atomic_write
from physcon._version import __version__

RUN_FORMAT = "physcon.run/1"
#: wall-clock fields of the experiments' results (they differ between any two runs)
TIMING_KEYS = frozenset({"seconds", "data_seconds", "train_seconds", "compile_seconds", "steps_per_second",
                         "s_per_epoch"})


class Checkpoints:
    """The checkpoint folder of one reproduction (``folder=None``: no checkpoints, every unit is
    computed; the experiments use this by default).

    Args:
        folder: the folder (created).
        config: JSON-able description of the run (paper, ``dataclasses.asdict(setting)``, seed,
            precision), stored in ``run.json`` and compared on resume.
        resume: continue the run in ``folder``. Without it, a folder that already holds a run is
            an error (``FileExistsError``), so a long run is never overwritten by accident.
        checkpoint_every / checkpoint_seconds: :func:`physcon.train.fit`'s intervals (steps /
            seconds); ``None`` for both checkpoints every 60 s and at the end of each model.
        log: where the resume summary goes.
    """

    def __init__(self, folder, config: dict, *, resume: bool = False, checkpoint_every: int | None = None,
                 checkpoint_seconds: float | None = None, log: Callable = print):
        self.folder = None if folder is None else os.fspath(folder)
        self.config = json.loads(json.dumps(config))
        if checkpoint_every is None and checkpoint_seconds is None:
            checkpoint_seconds = 60.0
        self.checkpoint_every, self.checkpoint_seconds = checkpoint_every, checkpoint_seconds
        self.resume, self.log = resume, log
        if self.folder is None:
            return
        path = os.path.join(self.folder, "run.json")
        if os.path.exists(path):
            if not resume:
                raise FileExistsError(f"{self.folder} holds a run already (run.json): pass --resume (resume=True) "
                                      "to continue it, or remove the folder / choose another --out")
            with open(path) as f:
                stored = json.load(f)
            diffs = _differences(stored.get("config"), self.config)
            if diffs:
                raise ValueError(f"cannot resume the run in {self.folder}: it was started with another "
                                 "configuration (" + "; ".join(diffs[:8]) + "). Use the same options or another --out.")
        else:
            _write_json(path, {"format": RUN_FORMAT, "physcon_version": __version__, "config": self.config,
                               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    # --- paths ---------------------------------------------------------------------------------
    def _path(self, unit: str, ext: str) -> str:
        parts = [re.sub(r"[^A-Za-z0-9_.=+-]", "_", p) for p in unit.split("/")]
        if not unit or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"bad unit name {unit!r}")
        return os.path.join(self.folder, *parts) + ext

    # --- units ---------------------------------------------------------------------------------
    def done(self, unit: str) -> bool:
        """Whether ``unit`` has a stored result."""
        return self.folder is not None and os.path.exists(self._path(unit, ".npz"))

    def load(self, unit: str):
        """The stored result of ``unit``."""
        return load_tree(self._path(unit, ".npz"))

    def save(self, unit: str, value) -> None:
        """Store the result of ``unit`` (atomically; a no-op without a folder)."""
        if self.folder is not None:
            save_tree(self._path(unit, ".npz"), value)

    def unit(self, unit: str, compute: Callable[[], object]):
        """The stored result of ``unit``, or ``compute()`` (then stored)."""
        if self.done(unit):
            return self.load(unit)
        value = compute()
        self.save(unit, value)
        return value

    def fit_options(self, unit: str, progress: bool = True) -> dict:
        """Keyword arguments of :func:`physcon.train.fit` for the model of ``unit``: its
        checkpoint file (always resumed: a fresh run has none yet), the intervals, and the
        progress bar labelled with the unit's name."""
        out = {"progress": unit if progress else False}
        if self.folder is not None:
            out.update(checkpoint=self._path(unit, ".ckpt"), resume=True, checkpoint_every=self.checkpoint_every,
                       checkpoint_seconds=self.checkpoint_seconds)
        return out

    # --- what is done and what remains ---------------------------------------------------------
    def status(self, units: Iterable[str]) -> str:
        """One line per top-level unit: done, partly done (its finished parts and the step of each
        model in training), or not started."""
        return status(self.folder, units)


def status(folder, units: Iterable[str]) -> str:
    """The summary of :meth:`Checkpoints.status` for the run in ``folder``."""
    from physcon.checkpoint import read_header

    units = list(units)
    ck = Checkpoints.__new__(Checkpoints)
    ck.folder = os.fspath(folder)
    lines, n_done = [], 0
    for unit in units:
        if ck.done(unit):
            n_done += 1
            lines.append(f"  {unit}: done")
            continue
        sub = ck._path(unit, "")
        done, training = [], []
        for root, _, files in os.walk(sub):
            for name in sorted(files):
                rel = os.path.relpath(os.path.join(root, name), sub)
                if name.endswith(".npz"):
                    done.append(rel[:-4])
                elif name.endswith(".ckpt") and not os.path.exists(os.path.join(root, name[:-5] + ".npz")):
                    try:
                        h = read_header(os.path.join(root, name))
                        training.append(f"{rel[:-5]} at step {h['step']}/{h['steps']}")
                    except (OSError, ValueError):
                        training.append(f"{rel[:-5]} (unreadable checkpoint)")
        if done or training:
            lines.append(f"  {unit}: in progress; done: {', '.join(sorted(done)) or 'nothing'}"
                         + (f"; training: {', '.join(training)}" if training else ""))
        else:
            lines.append(f"  {unit}: not started")
    head = f"{folder}: {n_done} of {len(units)} done"
    return "\n".join([head, *lines])


def without_timings(tree):
    """``tree`` (a result) without the wall-clock fields :data:`TIMING_KEYS`: what must be equal,
    bit for bit, between an uninterrupted and a killed-and-resumed run."""
    if isinstance(tree, dict):
        return {k: without_timings(v) for k, v in tree.items() if k not in TIMING_KEYS}
    if isinstance(tree, (list, tuple)):
        return type(tree)(without_timings(v) for v in tree)
    return tree


# --- files -------------------------------------------------------------------------------------
def _differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        return out
    return [] if a == b else [f"{path or 'config'}: stored {a!r}, now {b!r}"]


def _write_json(path: str, obj) -> None:
    with atomic_write(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _encode(value, arrays: list):
    if isinstance(value, dict):
        return {"$d": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$t": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, np.generic):  # before float: np.float64 is a float too
        arrays.append(np.asarray(value))
        return {"$s": len(arrays) - 1}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    arr = np.asarray(value)  # NumPy and JAX arrays
    if arr.dtype == object:
        raise ValueError(f"cannot store an object array in a unit result: {value!r:.80}")
    arrays.append(arr)
    return {"$a": len(arrays) - 1}


def _decode(node, arrays):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if isinstance(node, dict):
        if "$d" in node:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in node["$d"]}
        if "$t" in node:
            return tuple(_decode(v, arrays) for v in node["$t"])
        if "$a" in node:
            return arrays[f"a{node['$a']}"]
        return arrays[f"a{node['$s']}"][()]
    return node


def save_tree(path, value) -> None:
    """Write ``value`` (nested dicts with any JSON-scalar keys, lists, tuples, numbers, strings,
    ``None``, NumPy/JAX arrays and scalars) to one ``.npz`` file, atomically (temporary file,
    fsync, rename). :func:`load_tree` gives back the same types and the same bits."""
    arrays: list = []
    tree = json.dumps(_encode(value, arrays)).encode()
    buf = io.BytesIO()
    np.savez(buf, tree=np.frombuffer(tree, np.uint8), **{f"a{i}": a for i, a in enumerate(arrays)})
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())


def load_tree(path):
    """Read a file written by :func:`save_tree`."""
    with np.load(os.fspath(path), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return _decode(json.loads(arrays.pop("tree").tobytes().decode()), arrays)
