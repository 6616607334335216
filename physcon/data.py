"""Batched dataset generation with physcon's solvers, and self-describing HDF5 files.

:func:`generate` draws a problem parameter from the paper's training range (or takes the values
you give), solves each chunk of problems as one batched, jit-compiled simulation (optionally
sharded over a ``jax.sharding.Mesh``) and returns a :class:`Dataset`. :func:`save` writes it
to HDF5 with everything needed to regenerate it (problem, parameters, grid, times, seed,
solver settings, physcon version); :func:`load` reads it back and validates it, and
:func:`verify` regenerates a file and compares.

HDF5 layout (``format = "physcon.gpme/1"``)::

    /u       (n, nt, nx)  cell values                    /params (n,)   varied parameter
    /x       (nx,)        cell centres                   /t      (nt,)  output times
    /mass    (n, nt)      closed-form mass b(t)          /inflow (n, nt) scheme's boundary inflow
    attrs: format, physcon_version, problem, parameter, seed, grid (JSON), solver (JSON), created
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from physcon._io import atomic_write, open_hdf5
from physcon._version import __version__
from physcon.grid import Grid1D
from physcon.solvers.gpme.fv import float_dtype, simulate, stable_substeps
from physcon.solvers.gpme import PROBLEMS

FORMAT = "physcon.gpme/1"
_ARRAYS = ("u", "params", "x", "t", "mass", "inflow")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Solutions of one problem family over a batch of parameter values (host NumPy arrays).

    Attributes:
        problem: family name, a key of ``physcon.gpme.PROBLEMS`` (e.g. ``"stefan"``).
        params: the varied parameter value of each sample, shape ``(n,)``.
        x: cell centres, shape ``(nx,)``.
        t: output times, shape ``(nt,)``.
        u: cell values, shape ``(n, nt, nx)``.
        mass: closed-form total mass ``b(t)``, shape ``(n, nt)``.
        inflow: net boundary inflow accumulated by the scheme, shape ``(n, nt)``.
        seed: the PRNG seed the parameters were drawn with (``None`` if given explicitly).
        grid: ``{"a", "b", "n"}`` of the cell grid.
        solver: solver settings (``substeps``, ``cfl``, ``boundary_order``, ``dtype``).
        version: physcon version that made the data.
    """

    problem: str
    params: np.ndarray
    x: np.ndarray
    t: np.ndarray
    u: np.ndarray
    mass: np.ndarray
    inflow: np.ndarray
    seed: int | None
    grid: dict
    solver: dict
    version: str = __version__

    def __len__(self) -> int:
        return self.params.shape[0]

    @property
    def parameter(self) -> str:
        return PROBLEMS[self.problem].parameter

    def problems(self):
        """The problem objects, one per sample."""
        cls = PROBLEMS[self.problem]
        return [cls(**{cls.parameter: float(p)}) for p in self.params]

    def mass_balance_error(self) -> np.ndarray:
        """Per-sample ``max_t |dx sum u(t) - dx sum u(0) - inflow(t)|`` (round-off)."""
        dx = self.grid_object().dx
        m = dx * self.u.sum(-1)
        return np.abs(m - m[:, :1] - self.inflow).max(-1)

    def grid_object(self) -> Grid1D:
        return Grid1D.cells(self.grid["a"], self.grid["b"], self.grid["n"])


def problem_class(problem):
    """The problem class for a family name (``"stefan"``) or a class."""
    if isinstance(problem, str):
        try:
            return PROBLEMS[problem.lower()]
        except KeyError:
            raise ValueError(f"problem must be one of {sorted(PROBLEMS)}, got {problem!r}") from None
    if isinstance(problem, type) and problem in PROBLEMS.values():
        return problem
    raise ValueError(f"problem must be one of {sorted(PROBLEMS)} or its class, got {problem!r}")


def _name(cls) -> str:
    return next(k for k, v in PROBLEMS.items() if v is cls)


def sample_parameters(problem, n: int, key, range: tuple[float, float] | None = None):
    """``n`` values of the family's varied parameter, uniform on ``range`` (default: the
    paper's training range), shape ``(n,)``."""
    cls = problem_class(problem)
    lo, hi = cls.train_range if range is None else range
    if not hi >= lo:
        raise ValueError(f"range must satisfy lo <= hi, got {(lo, hi)}")
    return jax.random.uniform(key, (int(n),), minval=lo, maxval=hi)


def batch_mesh(devices=None, axis: str = "batch") -> Mesh:
    """A 1-D device mesh over ``devices`` (default: all) for sharding the batch axis."""
    devices = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devices.reshape(-1), (axis,))


def generate(
    problem,
    n: int | None = None,
    *,
    seed: int | None = 0,
    params=None,
    nx: int = 200,
    nt: int = 101,
    t=None,
    substeps: int | None = None,
    cfl: float = 0.9,
    boundary_order: int = 2,
    batch_size: int | None = None,
    mesh: Mesh | None = None,
    progress: bool = False,
) -> Dataset:
    """Solve a batch of problems of one family.

    Args:
        problem: family name (``"diffusion"``, ``"pme"``, ``"stefan"``, ``"advection"``,
            ``"burgers"``) or class.
        n: number of samples, with parameters drawn from the paper's training range using
            ``seed``; or give ``params`` (shape ``(n,)``) explicitly.
        nx, nt: cells and output times; ``t`` (shape ``(nt,)``) overrides the default
            ``linspace(*t_span, nt)``. The dtype of ``t`` (default JAX's float) is the data's.
        substeps: Euler steps per output interval; default from the most restrictive
            parameter of the whole batch (so every chunk compiles once).
        batch_size: samples per compiled call (default: all, or 64 with a progress bar).
        mesh: a ``Mesh`` whose first axis shards the batch (e.g. :func:`batch_mesh`); each
            chunk is padded to a multiple of its size.
        progress: show a tqdm progress bar over samples.
    """
    cls = problem_class(problem)
    if params is None:
        if n is None or seed is None:
            raise ValueError("give n and seed (parameters drawn from the training range) or params")
        params = sample_parameters(cls, n, jax.random.PRNGKey(seed))
    else:
        seed = None
    params = np.asarray(params)
    if params.ndim != 1 or params.size == 0:
        raise ValueError(f"params must be a non-empty 1-D array, got shape {params.shape}")
    if n is not None and params.shape[0] != n:
        raise ValueError(f"n={n} does not match len(params)={params.shape[0]}")
    grid = Grid1D.cells(*cls.domain, n=nx)
    t = jnp.linspace(*cls.t_span, nt) if t is None else jnp.asarray(t)
    dtype = float_dtype(t)
    t = t.astype(dtype)
    batch = cls(**{cls.parameter: jnp.asarray(params, dtype)})  # validates every value
    if substeps is None:
        substeps = stable_substeps(batch, grid, t, cfl, boundary_order)

    def chunk_of(p):  # a batched problem: solved natively, faster than vmap on CPU
        sim = simulate(cls(**{cls.parameter: p}), grid, t, substeps=substeps,
                       boundary_order=boundary_order)
        return sim.u, sim.inflow

    run = jax.jit(chunk_of)
    total = params.shape[0]
    size = batch_size or (min(total, 64) if progress else total)
    # Chunks are padded to a multiple of 4 lanes per device: XLA's CPU code for a batch of
    # exactly 2 lanes rounds differently (1 ulp), and with padding every sample's bits are
    # the same whatever the chunking or sharding (tested).
    shards = 1 if mesh is None else mesh.devices.shape[0]
    size = 4 * shards * math.ceil(size / (4 * shards))
    if mesh is not None:
        sharding = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
    us, inflows = [], []
    bar = _progress(total, f"{_name(cls)} nx={nx}", progress)
    for start in range(0, total, size):
        chunk = np.asarray(params[start:start + size], dtype=dtype)
        pad = size - chunk.shape[0]
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad)])  # same shape, one compile
        arg = jax.device_put(chunk, sharding) if mesh is not None else jnp.asarray(chunk)
        u, q = run(arg)
        us.append(np.asarray(u)[: size - pad])
        inflows.append(np.asarray(q)[: size - pad])
        bar.update(size - pad)
    bar.close()
    mass = np.asarray(jax.vmap(lambda p: cls(**{cls.parameter: p}).mass(t))(jnp.asarray(params, dtype)))
    return Dataset(
        problem=_name(cls),
        params=params.astype(dtype),
        x=np.asarray(grid.points(dtype)),
        t=np.asarray(t),
        u=np.concatenate(us),
        mass=mass,
        inflow=np.concatenate(inflows),
        seed=seed,
        grid={"a": grid.a, "b": grid.b, "n": grid.n},
        solver={"substeps": int(substeps), "cfl": float(cfl), "boundary_order": int(boundary_order),
                "dtype": str(np.dtype(dtype)), "scheme": "finite-volume forward Euler"},
    )


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled)


# --- HDF5 ---------------------------------------------------------------------------------------
def save(path, ds: Dataset, *, overwrite: bool = False) -> str:
    """Write ``ds`` to the HDF5 file ``path``. Refuses to replace an existing file unless
    ``overwrite=True``. Written to a temporary file first and renamed, so an interrupted save
    never leaves a truncated file under ``path``."""
    import h5py

    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        for name in _ARRAYS:
            f.create_dataset(name, data=getattr(ds, name), compression="gzip" if name == "u" else None)
        f.attrs["format"] = FORMAT
        f.attrs["physcon_version"] = ds.version
        f.attrs["problem"] = ds.problem
        f.attrs["parameter"] = PROBLEMS[ds.problem].parameter
        f.attrs["seed"] = -1 if ds.seed is None else int(ds.seed)
        f.attrs["grid"] = json.dumps(ds.grid)
        f.attrs["solver"] = json.dumps(ds.solver)
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return path


def load(path) -> Dataset:
    """Read a file written by :func:`save`, checking its format, keys and shapes.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable HDF5 file (e.g. truncated), another format, a missing
            array or attribute, or shapes that do not fit together.
    """
    path, f = open_hdf5(path)
    with f:
        fmt = f.attrs.get("format")
        if fmt != FORMAT:
            raise ValueError(f"{path}: format attribute is {fmt!r}, expected {FORMAT!r}")
        missing = [k for k in _ARRAYS if k not in f]
        missing += [f"attrs['{k}']" for k in ("problem", "seed", "grid", "solver", "physcon_version") if k not in f.attrs]
        if missing:
            raise ValueError(f"{path}: missing {', '.join(missing)}")
        try:
            arrays = {k: np.asarray(f[k][()]) for k in _ARRAYS}
        except OSError as err:
            raise ValueError(f"{path}: could not read the arrays (truncated?): {err}") from err
        attrs = {k: f.attrs[k] for k in ("problem", "seed", "grid", "solver", "physcon_version")}
    problem = str(attrs["problem"])
    if problem not in PROBLEMS:
        raise ValueError(f"{path}: unknown problem {problem!r}")
    grid, solver = json.loads(attrs["grid"]), json.loads(attrs["solver"])
    n, nt, nx = (arrays["params"].shape[0], arrays["t"].shape[0], arrays["x"].shape[0])
    expected = {"params": (n,), "x": (nx,), "t": (nt,), "u": (n, nt, nx), "mass": (n, nt), "inflow": (n, nt)}
    for k, shape in expected.items():
        if arrays[k].shape != shape:
            raise ValueError(f"{path}: {k} has shape {arrays[k].shape}, expected {shape}")
    if grid.get("n") != nx:
        raise ValueError(f"{path}: grid n={grid.get('n')} does not match len(x)={nx}")
    seed = int(attrs["seed"])
    return Dataset(problem=problem, seed=None if seed < 0 else seed, grid=grid, solver=solver,
                   version=str(attrs["physcon_version"]), **arrays)


def regenerate(ds: Dataset | str | os.PathLike, **kwargs: Any) -> Dataset:
    """Solve again the problems recorded in ``ds`` (a :class:`Dataset` or a file path) with
    the recorded grid, times and solver settings."""
    if not isinstance(ds, Dataset):
        ds = load(ds)
    return generate(
        ds.problem, params=ds.params, nx=ds.grid["n"], t=jnp.asarray(ds.t),
        substeps=ds.solver["substeps"], cfl=ds.solver["cfl"],
        boundary_order=ds.solver["boundary_order"], **kwargs,
    )


def verify(path, *, rtol: float | None = None) -> float:
    """Regenerate the file at ``path`` and return the largest relative difference in ``u``.

    Raises ``ValueError`` if it exceeds ``rtol`` (default: 100 x the data dtype's epsilon).
    Needs the data's dtype to be available (float64 files need ``jax_enable_x64``).
    """
    ds = load(path)
    if ds.u.dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(f"{path} holds float64 data: enable jax_enable_x64 to regenerate it")
    again = regenerate(ds)
    scale = max(float(np.abs(ds.u).max()), np.finfo(ds.u.dtype).tiny)
    diff = float(np.abs(again.u - ds.u).max()) / scale
    rtol = 100 * float(np.finfo(ds.u.dtype).eps) if rtol is None else rtol
    if not diff <= rtol:
        raise ValueError(f"{path}: regenerated data differ by {diff:.3e} (relative) > rtol={rtol:.1e}")
    return diff
