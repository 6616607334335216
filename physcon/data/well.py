"""physcon's files: The Well's HDF5 schema, with physcon's metadata as root attributes.

:func:`save` writes a :class:`~physcon.data.Dataset` so that ``the_well.data.WellDataset``
reads it (tested with the_well 1.2.0); :func:`load` reads it back bit for bit and validates
it; :func:`info` reads only the metadata and shapes. Layout (``physcon_schema =
"physcon.well/1"``; The Well's ``docs/data_format.md``; sample axis first)::

    /  attrs: dataset_name (= kind), grid_type "cartesian", n_spatial_dims, n_trajectories,
              simulation_parameters (+ one attribute per run-wide constant), physcon_schema,
              physcon_kind, physcon_version, physcon_seed (-1: none), physcon_settings (JSON), created
    /dimensions        attrs spatial_dims; time (nt,), x (nx,)[, y (ny,)]  (sample_varying False)
    /boundary_conditions/<wall>   attrs bc_type WALL | PERIODIC, associated_dims [dim],
              associated_fields, sample_varying, time_varying and physcon_condition
              (dirichlet | neumann | robin | periodic), physcon_source (none | constant | table |
              field), physcon_side, physcon_order, physcon_robin, physcon_position;
              mask bool (len(dim),) True at the wall's points; values ([n,] [nt]) if tabulated
    /scalars           field_names; params (n,) sample_varying; series (n, nt) sample and time
                       varying; constants () neither (attr physcon_role: param | series | constant)
    /t0_fields         field_names; fields (n, nt, *space) time_varying; static (n, *space) not
    /t1_fields, /t2_fields   vector / tensor fields (n, nt, *space, d[, d])

Why these choices. Time-dependent sets store the initial state as frame 0 (``t[0]`` the initial
time), so the_well's default ``n_steps_input=1, n_steps_output=1`` windows are input/target
pairs. A steady operator pair (Darcy: coefficient -> solution) stores the coefficient as a
*static* t0 field and the solution as a field with a length-1 time axis; the_well reads it with
``n_steps_input=0, n_steps_output=1`` (``constant_fields`` = input, ``output_fields`` = target),
whereas a length-2 time axis would invent a time that does not exist. Dirichlet, Neumann and
Robin walls are all The Well's ``WALL`` (a wall of the domain; the_well's padding code maps it to
``BoundaryCondition.WALL = 0``, ``PERIODIC = 2``, unlisted sides ``OPEN = 1``); physcon's own
condition, stencil order and values ride along as extra attributes and datasets, so
:meth:`~physcon.data.Wall.bc` rebuilds the :mod:`physcon.bc` object. Arrays keep their dtype
(float64 stays float64; The Well's fp32 is a convention, the_well reads either).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from physcon._io import atomic_write, open_hdf5
from physcon.data.dataset import Dataset, Wall, check

__all__ = ["SCHEMA", "save", "load", "info"]

SCHEMA = "physcon.well/1"
_GROUPS = ("dimensions", "boundary_conditions", "scalars", "t0_fields", "t1_fields", "t2_fields")
_ROOT = ("dataset_name", "grid_type", "n_spatial_dims", "n_trajectories", "simulation_parameters",
         "physcon_kind", "physcon_version", "physcon_seed", "physcon_settings")


def _names(names) -> list[str]:
    return [str(k) for k in names]  # h5py stores a list of str as variable-length strings, as The Well does


def _put(group, name, data, *, sample, time, dims=None, compress=False):
    kw = _checksummed(data)
    if compress and np.ndim(data) >= 3:
        kw.update(compression="gzip", compression_opts=4, chunks=(1, *np.shape(data)[1:]))
    d = group.create_dataset(name, data=data, **kw)
    d.attrs["sample_varying"] = sample
    d.attrs["time_varying"] = time
    if dims is not None:
        d.attrs["dim_varying"] = np.ones(dims, bool)
    return d


def _checksummed(data) -> dict:
    """HDF5's Fletcher-32 checksum on every non-empty array (it needs chunked storage, so not
    on scalars): a flipped bit then fails the read instead of loading as wrong numbers."""
    return {"fletcher32": True} if np.ndim(data) >= 1 and np.size(data) > 0 else {}


def save(path, ds: Dataset, *, overwrite: bool = False) -> str:
    """Write ``ds`` to the HDF5 file ``path`` in The Well's schema (module docstring).

    Refuses to replace an existing file unless ``overwrite=True`` (``FileExistsError``);
    written to a temporary file and renamed, so an interrupted save never leaves a truncated
    file. Raises ``ValueError`` for arrays that do not fit together or settings that are not
    JSON-serialisable."""
    import h5py

    if not isinstance(ds, Dataset):
        raise ValueError(f"ds must be a physcon.data.Dataset, got {type(ds).__name__}")
    check(ds, "ds")
    try:
        settings = json.dumps(ds.settings)
    except TypeError as err:
        raise ValueError(f"ds.settings must be JSON-serialisable: {err}") from None
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    nd = len(ds.coords)
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        a = f.attrs
        a["dataset_name"], a["grid_type"], a["n_spatial_dims"], a["n_trajectories"] = ds.kind, "cartesian", nd, len(ds)
        a["simulation_parameters"] = _names([*ds.params, *ds.constants])
        for k, v in ds.constants.items():
            a[k] = v
        a["physcon_schema"], a["physcon_kind"], a["physcon_version"] = SCHEMA, ds.kind, ds.version
        a["physcon_seed"] = -1 if ds.seed is None else int(ds.seed)
        a["physcon_settings"] = settings
        a["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        g = f.create_group("dimensions")
        g.attrs["spatial_dims"] = _names(ds.coords)
        _put(g, "time", np.asarray(ds.t), sample=False, time=True)
        for d, c in ds.coords.items():
            _put(g, d, np.asarray(c), sample=False, time=False)
        g = f.create_group("boundary_conditions")
        for w in ds.walls:
            _write_wall(g, w, ds.coords[w.dim].shape[0])
        g = f.create_group("scalars")
        g.attrs["field_names"] = _names([*ds.params, *ds.scalars, *ds.constants])
        for role, group, sample, varying in (("param", ds.params, True, False), ("series", ds.scalars, True, True),
                                             ("constant", ds.constants, False, False)):
            for k, v in group.items():
                _put(g, k, np.asarray(v), sample=sample, time=varying).attrs["physcon_role"] = role
        groups = [f.create_group(f"t{i}_fields") for i in range(3)]
        names = [[], [], []]
        for static, items in ((False, ds.fields), (True, ds.static)):
            for k, v in items.items():
                order = np.ndim(v) - (1 if static else 2) - nd
                _put(groups[order], k, np.asarray(v), sample=True, time=not static, dims=nd, compress=True)
                names[order].append(k)
        for g, ns in zip(groups, names):
            g.attrs["field_names"] = _names(ns)
    return path


def _write_wall(g, w: Wall, m: int):
    s = g.create_group(w.name)
    s.attrs["bc_type"], s.attrs["associated_dims"] = w.well_type, _names([w.dim])
    s.attrs["associated_fields"] = _names(w.fields)
    s.attrs["sample_varying"], s.attrs["time_varying"] = w.sample_varying, w.time_varying
    s.attrs["physcon_condition"], s.attrs["physcon_source"], s.attrs["physcon_side"] = w.condition, w.source, w.side
    s.attrs["physcon_order"] = -1 if w.order is None else int(w.order)
    s.attrs["physcon_robin"] = np.asarray(w.robin if w.robin is not None else (np.nan, np.nan), float)
    s.attrs["physcon_position"] = float(w.position)
    mask = np.zeros(m, bool)
    mask[[0, -1] if w.side == "both" else [0] if w.side == "left" else [-1]] = True
    s.create_dataset("mask", data=mask)
    if w.values is not None:
        s.create_dataset("values", data=np.asarray(w.values), **_checksummed(w.values))


def _foreign(path, f) -> str:
    fmt = f.attrs.get("format")
    if fmt in ("physcon.gpme/1", "physcon.operator/1"):
        return (f"{path}: a file in physcon's old format {fmt!r}; convert it once with "
                f"physcon.data.convert_legacy({path!r}, out)")
    if "tensor" in f or any(k.endswith("-coordinate") for k in f):
        return f"{path}: looks like a PDEBench file; read it with physcon.data.read_pdebench({path!r})"
    return f"{path}: not a physcon data file (no physcon_schema attribute; keys {sorted(f)[:8]})"


def _open(path):
    path, f = open_hdf5(path)
    try:
        schema = f.attrs.get("physcon_schema")
        if schema is None:
            raise ValueError(_foreign(path, f))
        schema = str(schema)
        if schema != SCHEMA:
            raise ValueError(f"{path}: schema {schema!r}, this physcon reads {SCHEMA!r} "
                             "(a file from another physcon version?)")
        missing = [g for g in _GROUPS if g not in f] + [f"attrs['{k}']" for k in _ROOT if k not in f.attrs]
        if "dimensions" in f:
            missing += [f"dimensions/{d}" for d in ("time", *_strs(f["dimensions"].attrs.get("spatial_dims", [])))
                        if d not in f["dimensions"]]
        for i in range(3):
            g = f.get(f"t{i}_fields")
            if g is not None:
                missing += [f"t{i}_fields/{k}" for k in _strs(g.attrs.get("field_names", [])) if k not in g]
        if "scalars" in f:
            missing += [f"scalars/{k}" for k in _strs(f["scalars"].attrs.get("field_names", [])) if k not in f["scalars"]]
        if missing:
            raise ValueError(f"{path}: missing {', '.join(missing)}")
    except BaseException:
        f.close()
        raise
    return path, f


def _strs(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def _read_wall(s, name) -> Wall:
    a = s.attrs
    order = int(a["physcon_order"])
    robin = tuple(float(v) for v in a["physcon_robin"])
    return Wall(name, _strs(a["associated_dims"])[0], str(a["physcon_side"]), str(a["physcon_condition"]),
                str(a["physcon_source"]), np.asarray(s["values"][()]) if "values" in s else None,
                bool(a["sample_varying"]), bool(a["time_varying"]), None if order < 0 else order,
                None if np.isnan(robin[0]) else robin, tuple(_strs(a["associated_fields"])), float(a["physcon_position"]))


def load(path) -> Dataset:
    """Read a file written by :func:`save`: a :class:`~physcon.data.Dataset` with the stored
    dtypes (a round trip is bit for bit).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and the problem: not a readable HDF5 file (truncated), not a
            physcon file (a PDEBench file, an old physcon format, anything else), another schema
            version, a missing group, dataset or attribute, shapes that do not fit together.
    """
    path, f = _open(path)
    with f:
        try:
            dims = f["dimensions"]
            coords = {d: np.asarray(dims[d][()]) for d in _strs(dims.attrs["spatial_dims"])}
            t = np.asarray(dims["time"][()])
            fields, static = {}, {}
            for i in range(3):
                g = f[f"t{i}_fields"]
                for k in _strs(g.attrs["field_names"]):
                    (fields if g[k].attrs["time_varying"] else static)[k] = np.asarray(g[k][()])
            groups = {"param": {}, "series": {}, "constant": {}}
            sc = f["scalars"]
            for k in _strs(sc.attrs["field_names"]):
                groups[str(sc[k].attrs.get("physcon_role", "constant"))][k] = np.asarray(sc[k][()])
            walls = tuple(_read_wall(s, k) for k, s in f["boundary_conditions"].items())
            a = {k: f.attrs[k] for k in ("physcon_kind", "physcon_version", "physcon_seed", "physcon_settings")}
        except (OSError, KeyError) as err:
            raise ValueError(f"{path}: could not read the data (truncated, incomplete, or corrupt: "
                             f"a checksum failed?): {err}") from err
    try:
        settings = json.loads(a["physcon_settings"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: attrs['physcon_settings'] is not valid JSON: {err}") from err
    seed = int(a["physcon_seed"])
    constants = {k: v.item() for k, v in groups["constant"].items()}
    try:
        return Dataset(str(a["physcon_kind"]), t, coords, fields, static, groups["param"], groups["series"],
                       constants, walls, settings, None if seed < 0 else seed, str(a["physcon_version"]))
    except ValueError as err:
        raise ValueError(f"{path}: {str(err).removeprefix('Dataset: ')}") from None


def info(path) -> dict:
    """The file's metadata and shapes without reading the arrays: ``kind, seed, settings,
    version, schema, created, n, shapes`` (``{group/name: shape}``), ``walls``
    (``{name: (bc_type, condition)}``)."""
    path, f = _open(path)
    with f:
        seed = int(f.attrs["physcon_seed"])
        out = {"kind": str(f.attrs["physcon_kind"]), "seed": None if seed < 0 else seed,
               "settings": json.loads(f.attrs["physcon_settings"]), "version": str(f.attrs["physcon_version"]),
               "schema": SCHEMA, "created": str(f.attrs.get("created", "")), "n": int(f.attrs["n_trajectories"])}
        shapes = {}
        for g in _GROUPS[2:] + ("dimensions",):
            for k, v in f[g].items():
                shapes[f"{g}/{k}"] = tuple(v.shape)
        out["shapes"] = shapes
        out["walls"] = {k: (str(s.attrs["bc_type"]), str(s.attrs["physcon_condition"]))
                        for k, s in f["boundary_conditions"].items()}
    return out
