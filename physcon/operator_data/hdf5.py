"""Self-describing HDF5 files for operator data (any :class:`~physcon.solvers.BoonDataset`).

:func:`save_operator_data` writes a data set with a name and a JSON ``meta`` dict (e.g. a
:func:`~physcon.operator_data.boon_config`, which regenerates the data); arrays keep their
dtype, so a round trip is bit-exact. :func:`load_operator_data` reads and validates a file,
:func:`operator_data_info` reads only its attributes and shapes.

HDF5 layout (``format = "physcon.operator/1"``)::

    /x (nx,)   /t (nt,)   /a (n, nx)   /u (n, nt, nx)   /params/<name> (n,) each
    attrs: format, physcon_version, name, meta (JSON), created
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from physcon._io import atomic_write, open_hdf5
from physcon._version import __version__
from physcon.solvers import BoonDataset

__all__ = ["FORMAT", "save_operator_data", "load_operator_data", "operator_data_info"]

FORMAT = "physcon.operator/1"
_ARRAYS = ("x", "t", "a", "u")
_ATTRS = ("name", "meta", "physcon_version")


def save_operator_data(path, ds: BoonDataset, *, name: str, meta: dict, overwrite: bool = False) -> str:
    """Write ``ds`` to the HDF5 file ``path`` with a ``name`` and a JSON-able ``meta`` dict
    (e.g. :func:`boon_config`). Arrays are stored in their own dtype (a round trip is exact).

    Refuses to replace an existing file unless ``overwrite=True`` (``FileExistsError``). Written
    to a temporary file and renamed, so an interrupted save never leaves a truncated file.

    Raises:
        ValueError: shapes that do not fit together, an empty ``name``, or ``meta`` that is not
            a JSON-serialisable dict.
    """
    import h5py

    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
    try:
        meta_json = json.dumps(meta)
    except (TypeError, ValueError) as err:
        raise ValueError(f"meta must be JSON-serialisable: {err}") from None
    if not isinstance(ds, BoonDataset):
        raise ValueError(f"ds must be a BoonDataset, got {type(ds).__name__}")
    arrays = {k: np.asarray(getattr(ds, k)) for k in _ARRAYS}
    params = {str(k): np.asarray(v) for k, v in dict(ds.params).items()}
    _check_shapes(arrays, params, "ds")
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v, compression="gzip" if k in ("a", "u") else None)
        g = f.create_group("params")
        for k, v in params.items():
            g.create_dataset(k, data=v)
        f.attrs["format"] = FORMAT
        f.attrs["physcon_version"] = __version__
        f.attrs["name"] = name
        f.attrs["meta"] = meta_json
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return path


def _check_shapes(arrays, params, where):
    x, t = arrays["x"], arrays["t"]
    if x.ndim != 1 or t.ndim != 1:
        raise ValueError(f"{where}: x and t must be 1-D, got shapes {x.shape} and {t.shape}")
    n = arrays["a"].shape[0] if arrays["a"].ndim else 0
    expected = {"a": (n, x.shape[0]), "u": (n, t.shape[0], x.shape[0])}
    for k, shape in expected.items():
        if arrays[k].shape != shape:
            raise ValueError(f"{where}: {k} has shape {arrays[k].shape}, expected {shape}")
    for k, v in params.items():
        if v.shape != (n,):
            raise ValueError(f"{where}: params[{k!r}] has shape {v.shape}, expected ({n},)")


def _open(path):
    path, f = open_hdf5(path)
    fmt = f.attrs.get("format")
    if fmt != FORMAT:
        f.close()
        raise ValueError(f"{path}: format attribute is {fmt!r}, expected {FORMAT!r}")
    missing = [k for k in (*_ARRAYS, "params") if k not in f]
    missing += [f"attrs['{k}']" for k in _ATTRS if k not in f.attrs]
    if missing:
        f.close()
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return path, f


def load_operator_data(path, *, name: str | None = None) -> tuple[BoonDataset, dict]:
    """Read a file written by :func:`save_operator_data`: ``(ds, meta)``.

    The arrays come back as NumPy arrays in their stored dtype (so float64 data stay float64
    whatever JAX's x64 setting), ``meta`` as the saved dict. ``name``, if given, must match the
    file's name.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable HDF5 file (e.g. truncated), another format, a missing array
            or attribute, shapes that do not fit together, or another ``name``.
    """
    path, f = _open(path)
    with f:
        try:
            arrays = {k: np.asarray(f[k][()]) for k in _ARRAYS}
            params = {k: np.asarray(v[()]) for k, v in f["params"].items()}
        except (OSError, AttributeError) as err:
            raise ValueError(f"{path}: could not read the arrays (truncated?): {err}") from err
        stored, meta_json = str(f.attrs["name"]), f.attrs["meta"]
    if name is not None and stored != name:
        raise ValueError(f"{path}: holds {stored!r}, expected name={name!r}")
    try:
        meta = json.loads(meta_json)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: attrs['meta'] is not valid JSON: {err}") from err
    _check_shapes(arrays, params, path)
    return BoonDataset(arrays["x"], arrays["t"], arrays["a"], arrays["u"], params), meta


def operator_data_info(path) -> dict:
    """The file's attributes and shapes without reading the arrays: ``name, meta,
    physcon_version, created, format, shapes``."""
    path, f = _open(path)
    with f:
        info = {k: f.attrs[k] for k in ("name", "physcon_version", "format")}
        info = {k: str(v) for k, v in info.items()}
        info["created"] = str(f.attrs.get("created", ""))
        info["meta"] = json.loads(f.attrs["meta"])
        info["shapes"] = {k: tuple(f[k].shape) for k in _ARRAYS}
    return info
