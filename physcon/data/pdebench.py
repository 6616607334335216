"""Read PDEBench-style HDF5 files into a :class:`~physcon.data.Dataset` (to train on, or to save
in The Well's schema with :func:`physcon.data.save`).

The layouts PDEBench's generators write (``pdebench/data_gen``; the readers in
``pdebench/models/fno/utils.py``):

* **single tensor** (1-D advection, Burgers, diffusion-sorption, reaction-diffusion):
  ``tensor (b, nt, nx[, ny])``, ``x-coordinate (nx,)`` [``y-coordinate``], ``t-coordinate``
  of ``nt`` or ``nt + 1`` entries (the 1-D generators save ``arange(nt + 1) * dt_save``: frame
  ``i`` is at ``t[i]``, the last entry has no frame and is dropped); physical constants
  (``beta``, ``Nu``, ``rho``) as root attributes.
* **steady pairs** (Darcy flow, 2-D decaying flow): ``tensor (b, 1, nx, ny)`` the solution and
  ``nu (b, nx, ny)`` the coefficient, no ``t-coordinate``: the coefficient becomes a static
  field, the solution a one-frame field at ``t = 0`` (the layout :mod:`physcon.data.well`
  gives steady operator pairs).
* **compressible flow**: ``density``, ``pressure``, ``Vx`` [``Vy``, ``Vz``] ``(b, nt, *space)``
  and the coordinates: scalar fields ``density``, ``pressure`` and the vector field
  ``velocity (b, nt, *space, d)``; ``eta``, ``zeta``, ``M`` as constants.
* **incompressible Navier-Stokes** (``ns_incom``): ``velocity (b, nt, nx, ny, 2)``,
  ``particles (b, nt, nx, ny, 1)``, ``force (b, nx, ny, 2)``, ``t (b, nt)``; no coordinates in
  the file: the cell centres of ``[0, length]^2`` (PDEBench's unit box).
* **one group per seed** (shallow water, 2-D diffusion-reaction): ``<seed>/data (nt, *space,
  v)``, ``<seed>/grid/x`` [``y``], ``<seed>/grid/t``; the ``v`` channels become fields
  ``names`` (default ``u`` for one channel, else ``u0, u1, ...``).
"""

from __future__ import annotations

import os

import numpy as np

from physcon._io import open_hdf5
from physcon.data.dataset import Dataset, Wall

__all__ = ["read_pdebench"]

_AXES = ("x", "y", "z")


def _constants(attrs) -> dict:
    return {k: float(v) for k, v in attrs.items() if np.ndim(v) == 0 and isinstance(v, (int, float, np.number))
            and not isinstance(v, (bool, np.bool_))}


def _read(f, key, path, sel=slice(None)):
    try:
        return np.asarray(f[key][sel])
    except OSError as err:
        raise ValueError(f"{path}: could not read {key!r} (truncated?): {err}") from err


def _times(t, nt, path, key):
    t = np.asarray(t).ravel()
    if t.shape[0] == nt + 1:
        return t[:nt]
    if t.shape[0] != nt:
        raise ValueError(f"{path}: {key} has {t.shape[0]} entries for {nt} frames (expected {nt} or {nt + 1})")
    return t


def _coords(f, shape, path, length):
    out = {}
    for ax, m in zip(_AXES, shape):
        key = f"{ax}-coordinate"
        c = _read(f, key, path) if key in f else (np.arange(m) + 0.5) * (length / m)
        if c.shape != (m,):
            raise ValueError(f"{path}: {key} has shape {c.shape}, the data have {m} points along {ax}")
        out[ax] = c
    return out


def _single(f, path, sel, length):
    u = _read(f, "tensor", path, sel)
    if u.ndim < 3:
        raise ValueError(f"{path}: tensor has shape {u.shape}, expected (samples, nt, nx[, ny])")
    static = {}
    if "nu" in f:
        nu = _read(f, "nu", path, sel)
        if nu.shape != (u.shape[0], *u.shape[2:]) or u.shape[1] != 1:
            raise ValueError(f"{path}: a steady pair needs tensor (b, 1, *space) and nu (b, *space), "
                             f"got {u.shape} and {nu.shape}")
        static["nu"] = nu
    nt = u.shape[1]
    if "t-coordinate" in f:
        t = _times(_read(f, "t-coordinate", path), nt, path, "t-coordinate")
    elif nt == 1:
        t = np.zeros(1, u.dtype)
    else:
        raise ValueError(f"{path}: missing t-coordinate for a tensor with {nt} frames")
    return t, _coords(f, u.shape[2:], path, length), {"u": u}, static


def _cfd(f, path, sel, length):
    rho = _read(f, "density", path, sel)
    comps = [c for c in ("Vx", "Vy", "Vz") if c in f]
    fields = {"density": rho, "pressure": _read(f, "pressure", path, sel)}
    if len(comps) != rho.ndim - 2:
        raise ValueError(f"{path}: {rho.ndim - 2}-D data need velocity components {['Vx', 'Vy', 'Vz'][:rho.ndim - 2]}, "
                         f"found {comps}")
    fields["velocity"] = np.stack([_read(f, c, path, sel) for c in comps], axis=-1)
    t = _times(_read(f, "t-coordinate", path), rho.shape[1], path, "t-coordinate")
    return t, _coords(f, rho.shape[2:], path, length), fields, {}


def _ns_incom(f, path, sel, length):
    v = _read(f, "velocity", path, sel)
    if v.ndim != 5 or v.shape[-1] != 2:
        raise ValueError(f"{path}: velocity has shape {v.shape}, expected (samples, nt, nx, ny, 2)")
    t = np.asarray(_read(f, "t", path, sel)) if "t" in f else None
    if t is None:
        raise ValueError(f"{path}: missing t")
    t = t.reshape(-1, t.shape[-1]) if t.ndim > 1 else t[None]
    if not np.all(t == t[:1]):
        raise ValueError(f"{path}: the samples have different times; physcon datasets share one time axis")
    fields = {"velocity": v}
    if "particles" in f:
        fields["particles"] = _read(f, "particles", path, sel)[..., 0]
    static = {"force": _read(f, "force", path, sel)} if "force" in f else {}
    return _times(t[0], v.shape[1], path, "t"), _coords(f, v.shape[2:4], path, length), fields, static


def _seeds(f, path, sel, names):
    keys = sorted(k for k in f if hasattr(f[k], "keys") and "data" in f[k])[sel]
    if not keys:
        raise ValueError(f"{path}: no seed groups with a 'data' dataset")
    g0 = f[keys[0]]
    try:
        data = np.stack([np.asarray(f[k]["data"][()]) for k in keys])
    except ValueError as err:
        raise ValueError(f"{path}: the seed groups' data differ in shape: {err}") from None
    except OSError as err:
        raise ValueError(f"{path}: could not read the seed groups (truncated?): {err}") from err
    nd = data.ndim - 3
    missing = [f"{keys[0]}/grid/{a}" for a in (*_AXES[:nd], "t") if "grid" not in g0 or a not in g0["grid"]]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    coords = {a: np.asarray(g0["grid"][a][()]) for a in _AXES[:nd]}
    for a, m in zip(coords, data.shape[2:2 + nd]):
        if coords[a].shape != (m,):
            raise ValueError(f"{path}: grid/{a} has shape {coords[a].shape}, the data have {m} points")
    t = _times(g0["grid"]["t"][()], data.shape[1], path, "grid/t")
    v = data.shape[-1]
    names = list(names) if names is not None else (["u"] if v == 1 else [f"u{i}" for i in range(v)])
    if len(names) != v:
        raise ValueError(f"names must give {v} field names (one per channel), got {names}")
    return t, coords, {k: data[..., i] for i, k in enumerate(names)}, {}


def read_pdebench(path, *, samples=None, boundary: str | None = None, names=None, length: float = 1.0) -> Dataset:
    """Read a PDEBench-style HDF5 file (module docstring for the layouts) into a
    :class:`~physcon.data.Dataset` of kind ``"pdebench"`` (``seed = None``; the file name and
    layout in ``settings``; root attributes as ``constants``).

    Args:
        path: the ``.hdf5`` / ``.h5`` file.
        samples: read only these samples (an int ``k``: the first ``k``; or a slice).
        boundary: ``"periodic"`` records periodic walls on every axis (PDEBench's files do not
            store their boundary conditions; the file names say ``periodic`` or ``trans``).
        names: field names of the channels of a per-seed file.
        length: the domain length where a file stores no coordinates (``ns_incom``).

    Raises:
        FileNotFoundError, ValueError: naming the file: unreadable (truncated), no PDEBench
        layout, missing coordinates, shapes that do not fit.
    """
    path, f = open_hdf5(path)
    sel = slice(None) if samples is None else slice(int(samples)) if np.ndim(samples) == 0 else samples
    with f:
        if "tensor" in f:
            layout, (t, coords, fields, static) = "tensor", _single(f, path, sel, length)
        elif "density" in f:
            layout, (t, coords, fields, static) = "cfd", _cfd(f, path, sel, length)
        elif "velocity" in f:
            layout, (t, coords, fields, static) = "ns_incom", _ns_incom(f, path, sel, length)
        elif any(hasattr(f[k], "keys") and "data" in f[k] for k in f):
            layout, (t, coords, fields, static) = "seeds", _seeds(f, path, sel, names)
        else:
            raise ValueError(f"{path}: not a PDEBench-style file: expected 'tensor' (+ 'x-coordinate'), "
                             f"'density'/'pressure'/'Vx', 'velocity', or per-seed groups with 'data' and 'grid'; "
                             f"found {sorted(f)[:8]}")
        constants = _constants(f.attrs)
    if boundary not in (None, "periodic"):
        raise ValueError(f"boundary must be None or 'periodic', got {boundary!r}")
    walls = () if boundary is None else tuple(Wall(f"{a}_periodic", a, "both", "periodic", fields=tuple(fields))
                                              for a in coords)
    settings = {"source": os.path.basename(path), "layout": layout}
    try:
        return Dataset("pdebench", t, coords, fields, static, constants=constants, walls=walls, settings=settings)
    except ValueError as err:
        raise ValueError(f"{path}: {str(err).removeprefix('Dataset: ')}") from None
