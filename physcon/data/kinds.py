"""The registry of dataset kinds, and the one generate / regenerate / verify API over all of them.

A kind is one generator with a fixed field and boundary description: :class:`Kind` names a
``make(n, *, seed, progress, **settings) -> Dataset`` function whose returned
``Dataset.settings`` are its full, JSON-able, resolved settings, such that
``make(len(ds), seed=ds.seed, **ds.settings)`` returns the same bits. Options that never change
the bits (``progress``, ``batch_size``, ``mesh``) are listed in ``execution`` and not stored.
Adding a kind (e.g. Darcy flow) is one :func:`register` call::

    register(Kind("darcy", "flows", make_darcy, execution=("progress", "batch_size"),
                  description="-div(a grad u) = f on the unit square, u = 0 on the walls"))

where ``make_darcy`` returns a :class:`~physcon.data.Dataset` with the coefficient in
``static`` and the solution as a one-frame field (see :mod:`physcon.data.well` for why), and
its :class:`~physcon.data.Wall` list. The built-in kinds: the GPME sets
(:mod:`physcon.data.gpme`), the 1-D operator sets (:mod:`physcon.data.operator`), the 2-D flows
and waves (:mod:`physcon.data.flows`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import jax
import numpy as np

from physcon._version import __version__
from physcon.data.dataset import Dataset

__all__ = ["Kind", "KINDS", "register", "get", "kinds", "generate", "regenerate", "verify"]


@dataclasses.dataclass(frozen=True)
class Kind:
    """One dataset kind.

    Attributes:
        name: the registry key (the files' ``dataset_name``).
        family: ``"gpme"``, ``"operator"``, ``"flows"`` (a grouping for listings).
        make: ``make(n, *, seed, progress=False, **settings) -> Dataset`` (module docstring).
        execution: keyword arguments of ``make`` that do not change the data (not stored).
        description: one line: the equation and walls.
    """

    name: str
    family: str
    make: Callable[..., Dataset]
    execution: tuple[str, ...] = ("progress",)
    description: str = ""


KINDS: dict[str, Kind] = {}


def register(kind: Kind, *, replace: bool = False) -> Kind:
    """Add ``kind`` to :data:`KINDS` (``ValueError`` if the name is taken, unless ``replace``)."""
    if not isinstance(kind, Kind):
        raise ValueError(f"kind must be a physcon.data.Kind, got {type(kind).__name__}")
    if kind.name in KINDS and not replace:
        raise ValueError(f"a dataset kind named {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def get(kind) -> Kind:
    """The registered :class:`Kind` of a name (case-insensitive) or a GPME problem class."""
    if isinstance(kind, Kind):
        return kind
    if isinstance(kind, type):  # a GPME problem class: its family's kind
        from physcon.solvers.gpme import PROBLEMS

        names = [k for k, v in PROBLEMS.items() if v is kind]
        if not names:
            raise ValueError(f"kind must be a kind name or a GPME problem class of {sorted(PROBLEMS)}, got {kind!r}")
        return KINDS[names[0]]
    name = str(kind).lower()
    if name not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    return KINDS[name]


def kinds(family: str | None = None) -> list[str]:
    """The registered kind names (of one ``family``)."""
    return sorted(k for k, v in KINDS.items() if family is None or v.family == family)


def generate(kind, n: int | None = None, *, seed: int | None = 0, progress: bool = False, **settings: Any) -> Dataset:
    """Generate ``n`` samples of a dataset kind: ``generate("stefan", 100, seed=0, nx=200, nt=101)``.

    Args:
        kind: a name of :func:`kinds` (``"stefan"``, ``"heat_neumann"``, ``"navier_stokes"``,
            ``"cavity"``, ``"wave"``, ...), or a GPME problem class.
        n: number of samples.
        seed: PRNG seed of the random inputs / parameters.
        progress: a tqdm progress bar over samples.
        **settings: the kind's settings (grid, times, solver options; see its ``make``), and
            execution options (``batch_size``, ``mesh``) where the kind has them.

    Returns:
        A :class:`~physcon.data.Dataset` whose ``seed`` and ``settings`` regenerate it.
    """
    spec = get(kind)
    return spec.make(n, seed=seed, progress=progress, **settings)


def regenerate(ds: Dataset | str | os.PathLike, **execution: Any) -> Dataset:
    """Generate again what ``ds`` (a :class:`~physcon.data.Dataset` or a file) records: its kind,
    ``n``, seed and settings. ``execution`` options (``batch_size``, ``mesh``, ``progress``)
    are passed through; they do not change the result."""
    if not isinstance(ds, Dataset):
        from physcon.data.well import load

        ds = load(ds)
    if ds.kind not in KINDS:
        raise ValueError(f"kind {ds.kind!r} is not a physcon generator (imported data?): it cannot be regenerated")
    spec = KINDS[ds.kind]
    bad = sorted(set(execution) - set(spec.execution))
    if bad:
        raise ValueError(f"regenerate takes only the execution options {spec.execution} of {ds.kind!r}, got {bad}")
    return spec.make(len(ds), seed=ds.seed, **ds.settings, **execution)


def _arrays(ds: Dataset) -> dict[str, np.ndarray]:
    out = {"t": ds.t}
    for group in ("coords", "fields", "static", "params", "scalars"):
        out.update({f"{group}/{k}": v for k, v in getattr(ds, group).items()})
    for w in ds.walls:
        if w.values is not None:
            out[f"walls/{w.name}"] = w.values
    return out


def verify(path, *, rtol: float | None = None) -> float:
    """Regenerate the file at ``path`` from its kind, seed, settings and ``n``, and compare
    every array (fields, coordinates, times, parameters, scalars, wall values).

    Returns the largest relative difference (0.0: bit for bit). Raises ``ValueError`` if an
    array's shape or dtype differs, or if the difference exceeds ``rtol`` (default 0: the
    regenerated file must be identical; pass e.g. ``1e-12`` across machines whose XLA rounds
    differently). Float64 files need ``jax_enable_x64``.
    """
    from physcon.data.well import load

    ds = load(path)
    stored = _arrays(ds)
    if any(v.dtype == np.float64 for v in stored.values()) and not jax.config.jax_enable_x64:
        raise ValueError(f"{path} holds float64 data: enable jax_enable_x64 to regenerate it")
    again = _arrays(regenerate(ds))
    note = "" if ds.version == __version__ else f" (made by physcon {ds.version}, this is {__version__})"
    if set(again) != set(stored):
        raise ValueError(f"{path}: regenerated arrays {sorted(again)} differ from the stored {sorted(stored)}{note}")
    worst = 0.0
    for k, v in stored.items():
        w = np.asarray(again[k])
        if w.shape != v.shape or w.dtype != v.dtype:
            raise ValueError(f"{path}: regenerated {k} is {w.dtype}{w.shape}, stored {v.dtype}{v.shape}{note}")
        if np.array_equal(w, v, equal_nan=np.issubdtype(v.dtype, np.inexact)):
            continue
        if np.issubdtype(v.dtype, np.floating):
            scale = max(float(np.abs(v).max(initial=0.0)), float(np.finfo(v.dtype).tiny))
            worst = max(worst, float(np.abs(w - v).max(initial=0.0)) / scale)
        else:
            worst = float("inf")
    tol = 0.0 if rtol is None else float(rtol)
    if not worst <= tol:
        raise ValueError(f"{path}: regenerated data differ by {worst:.3e} (relative) > rtol={tol:.1e}{note}")
    return worst
