"""The GPME dataset kinds (ProbConserv's problems): batched, optionally sharded generation.

Kinds ``"diffusion"``, ``"pme"``, ``"stefan"``, ``"advection"``, ``"burgers"`` (the keys of
``physcon.gpme.PROBLEMS``): the varied parameter is drawn from the paper's training range (or
given), each chunk of problems is solved as one batched, jit-compiled finite-volume simulation
(optionally sharded over a ``jax.sharding.Mesh``). The :class:`~physcon.data.Dataset` holds
``u (n, nt, nx)`` cell values on the cell centres ``x``, the parameter in ``params``, the
closed-form mass ``b(t)`` and the scheme's boundary inflow as ``scalars["mass"]``,
``scalars["inflow"]`` ``(n, nt)``, and the problem's two walls.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from physcon.data.dataset import Dataset, mass_balance_error, wall_from_bc  # noqa: F401 (re-exported)
from physcon.data.kinds import Kind, register
from physcon.bc import Periodic
from physcon.grid import Grid1D
from physcon.solvers import gpme

__all__ = ["problem_class", "problem_name", "sample_parameters", "batch_mesh", "make", "problem_walls",
           "mass_balance_error"]

PROBLEMS = gpme.PROBLEMS


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


def problem_name(cls) -> str:
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


def make(problem, n: int | None = None, *, seed: int | None = 0, params=None, nx: int = 200, nt: int = 101,
         t=None, substeps: int | None = None, cfl: float = 0.9, boundary_order: int = 2, dtype=None,
         batch_size: int | None = None, mesh: Mesh | None = None, progress: bool = False) -> Dataset:
    """Solve a batch of problems of one family (``physcon.data.generate("stefan", n, ...)``).

    Args:
        problem: family name (``"diffusion"``, ``"pme"``, ``"stefan"``, ``"advection"``,
            ``"burgers"``) or class.
        n: number of samples, with parameters drawn from the paper's training range using
            ``seed``; or give ``params`` (shape ``(n,)``) explicitly (then ``seed`` is ``None``).
        nx, nt: cells and output times; ``t`` (shape ``(nt,)``) overrides the default
            ``linspace(*t_span, nt)``.
        substeps: Euler steps per output interval; default from the most restrictive
            parameter of the whole batch (so every chunk compiles once).
        dtype: data dtype (default: ``t``'s, else JAX's default float).
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
        explicit = None
    else:
        seed = None
        explicit = np.asarray(params).tolist()
    params = np.asarray(params)
    if params.ndim != 1 or params.size == 0:
        raise ValueError(f"params must be a non-empty 1-D array, got shape {params.shape}")
    if n is not None and params.shape[0] != n:
        raise ValueError(f"n={n} does not match len(params)={params.shape[0]}")
    grid = Grid1D.cells(*cls.domain, n=nx)
    if dtype is None:
        dtype = jnp.result_type(float) if t is None else jnp.result_type(jnp.asarray(t).dtype, float)
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    times = jnp.linspace(*cls.t_span, nt, dtype=dtype) if t is None else jnp.asarray(t, dtype)
    batch = cls(**{cls.parameter: jnp.asarray(params, dtype)})  # validates every value
    if substeps is None:
        substeps = gpme.stable_substeps(batch, grid, times, cfl, boundary_order)

    def chunk_of(p):  # a batched problem: solved natively, faster than vmap on CPU
        sim = gpme.simulate(cls(**{cls.parameter: p}), grid, times, substeps=substeps,
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
    sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
    us, inflows = [], []
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"{problem_name(cls)} nx={nx}", unit="sample", disable=not progress)
    for start in range(0, total, size):
        chunk = np.asarray(params[start:start + size], dtype=dtype)
        pad = size - chunk.shape[0]
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad)])  # same shape, one compile
        arg = jnp.asarray(chunk) if sharding is None else jax.device_put(chunk, sharding)
        u, q = run(arg)
        us.append(np.asarray(u)[: size - pad])
        inflows.append(np.asarray(q)[: size - pad])
        bar.update(size - pad)
    bar.close()
    p = jnp.asarray(params, dtype)
    mass = np.asarray(jax.vmap(lambda v: cls(**{cls.parameter: v}).mass(times))(p))
    walls = problem_walls(batch, grid, times, total, dtype)
    settings = {"params": explicit, "nx": int(nx), "nt": int(times.shape[0]),
                "t": None if t is None else np.asarray(times).tolist(), "substeps": int(substeps),
                "cfl": float(cfl), "boundary_order": int(boundary_order), "dtype": str(np.dtype(dtype))}
    return Dataset(
        kind=problem_name(cls), t=np.asarray(times), coords={"x": np.asarray(grid.points(dtype))},
        fields={"u": np.concatenate(us)}, params={cls.parameter: params.astype(dtype)},
        scalars={"mass": mass, "inflow": np.concatenate(inflows)}, walls=walls, settings=settings, seed=seed,
    )


def problem_walls(batch, grid: Grid1D, t, n: int, dtype) -> tuple:
    """The :class:`~physcon.data.Wall` descriptions of a batched problem's two walls (one
    periodic wall when the problem is periodic), values evaluated at the times ``t``."""
    if isinstance(batch.left, Periodic):
        return (wall_from_bc("x_periodic", "x", "both", batch.left, t=t, n=n, dtype=dtype, position=grid.a),)
    return (wall_from_bc("x_left", "x", "left", batch.left, t=t, n=n, dtype=dtype, position=grid.a),
            wall_from_bc("x_right", "x", "right", batch.right, t=t, n=n, dtype=dtype, position=grid.b))


def _maker(name):
    def make_kind(n=None, *, seed=0, progress=False, **settings):
        return make(name, n, seed=seed, progress=progress, **settings)

    make_kind.__doc__ = f"``{name}`` data: :func:`physcon.data.gpme.make` with ``problem={name!r}``."
    return make_kind


for _name, _cls in PROBLEMS.items():
    register(Kind(_name, "gpme", _maker(_name), execution=("progress", "batch_size", "mesh"),
                  description=f"{_cls.__name__}: finite-volume GPME, parameter {_cls.parameter} ~ U{_cls.train_range}"))
