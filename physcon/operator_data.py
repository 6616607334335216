"""The BOON data sets at the paper's sizes, and self-describing HDF5 files for operator data.

BOON (Saad et al., ICLR 2023) trains neural operators on four 1-D problems. Its data were made
by unpublished MATLAB scripts and are only on Google Drive, so physcon regenerates them with
:mod:`physcon.solvers.boon_problems`. :func:`boon_dataset` calls those generators with the
paper's sizes and parameters (``research/boon.md`` sections 2-3), :func:`boundary_conditions`
and :func:`boundary_values` give the wall conditions BOON imposes on each, :func:`split` makes
the paper's train/test split, and :func:`save_operator_data` / :func:`load_operator_data`
store any :class:`~physcon.solvers.boon_problems.BoonDataset` in HDF5.

Sizes (``n = ntrain + ntest``; train = the first ``ntrain`` samples, test = the last ``ntest``,
as in the reference notebooks; ``nx`` points including both walls):

================== ============ ======================== ============== ===================
problem            mode         parameters               nx (solved at)  ntrain / ntest
================== ============ ======================== ============== ===================
heat_neumann       single-step  k=0.01, target t=0.5     500 (500)      500 / 100
heat_neumann       multi-step   25 frames                1024 (1024)    1000 / 200
                                ``linspace(0,.5,200)[-25:]``
stokes             single-step  nu=0.1, t=1.2 [assumed]  500 (closed f.) 500 / 100 [assumed]
stokes             multi-step   nu=0.1, 25 frames to 1.2 500 (closed f.) 1000 / 200
burgers_dirichlet  single-step  nu=0.1, t=1 [assumed]    500 (500)      500 / 100
burgers_dirichlet  multi-step   nu=0.1, 25 frames to 1   500 (500)      1000 / 200 [assumed]
                                [assumed]
burgers_periodic   single-step  nu=0.1, t=1              128 (127*16)   500 / 100
burgers_periodic   multi-step   nu=0.01, 25 frames       128 (127*8)    1000 / 200
                                ``linspace(0,1,101)[-25:]``
================== ============ ======================== ============== ===================

``quick=True`` (a reproduction that trains in minutes on a 2-core CPU; every quick set
generates in seconds): ``nx = 128`` single-step and ``64`` multi-step (periodic Burgers: ``64``
for both), ``100 / 20`` samples, 25 frames multi-step. They are solved on about the paper
sets' resolution and subsampled (``refine`` 4 / 8 for 128 / 64 nodes, i.e. ~505 solver nodes;
periodic Burgers on ``63 x 32`` / ``63 x 16`` points), so the quick data are about as accurate
as the paper-size data, only coarser and fewer.

Boundary conditions measured on the heat data with :func:`physcon.metrics.boundary_error`
(max over samples and frames; the heater value is ``5 sin(pi t)``): the right wall's third-order
stencil misses ``g`` by 5e-5 (paper sizes; 3e-3 / 2e-2 quick single / multi-step), BOON's
first-order left stencil by ``h u_xx / 2`` = 0.07 / 0.04 (paper single / multi-step; 0.3 / 0.6
quick) -- a property of the stencil, not of the data: a fourth-order stencil sees the left
wall satisfied to 2e-8.

Decisions where the paper is silent, and why (see also :data:`BOON_PROBLEMS`):

* **Grids include both walls** (``linspace(0, 1, nx)``, BOON's grid channel); a node-grid
  problem solved at ``refine`` times the resolution is solved on ``(nx - 1) refine + 1``
  nodes and every ``refine``-th node is kept, so the walls stay grid points. (BOON's
  2048 -> 1024 subsampling of the heat data, ``u[:, ::2]``, drops the right wall node; here the
  1024-point set is solved directly on ``linspace(0, 1, 1024)``.)
* **Heat, Burgers-Dirichlet: solved directly at ``nx``** (``refine = 1``). Measured against
  the same samples solved on 8x (heat) / 4x (Burgers) finer grids, the relative L2 error of
  the data is 3e-5 (heat, 500), 7e-6 (heat, 1024) and 6e-5 (Burgers-Dirichlet, 500; 2e-5
  with ``refine=2`` at 4x the cost) -- far below the errors the operators reach (1e-2) and
  of the size MATLAB's second-order ``pdepe`` on 500 points would have. The learnt map is
  the discrete map ``a -> u_h`` either way.
* **Periodic Burgers: generated finely and subsampled**. The input is a Gaussian random field
  with modes up to the fine grid's Nyquist (FNO drew it on 8192 points); subsampling it to
  128 points aliases the unresolved modes, so the target ``u(1)`` depends on the resolution
  of the solve, not on the (spectral, exact-diffusion) solver's accuracy. Against a 4096-point
  solve of the same fields the 128-point data have relative L2 error 1e-2 (solved at 128),
  7e-5 (1024), 6e-7 (2048) for ``nu = 0.1``, and 8e-4 / 7e-6 / 1e-6 for ``nu = 0.01``; hence
  ``refine = 16`` single-step (the paper's best error, 8.4e-5 "on Burgers", needs data well
  below it) and ``refine = 8`` multi-step (BOON reaches 9e-4). The multi-step input field is
  drawn like the single-step one (PINO's ``burgers_pino.mat`` generator is not public).
* **Periodic grid with the end point** (``endpoint=True``, the default): BOON works on
  ``linspace(0, 1, 128)`` and overwrites ``u_L := u_0`` in its preprocessing (which replaces
  the real value at ``x = 127/128``). Here the field is solved on the ``nx - 1`` periodic
  points ``i / (nx - 1)`` and the value at ``x = 1`` is appended as an exact copy of ``x = 0``
  (:func:`with_periodic_endpoint`), so ``u[..., -1] == u[..., 0]`` bit for bit and nothing is
  overwritten. ``endpoint=False`` gives the plain periodic grid ``i / nx``.
* Parameters not in the public BOON material keep the generators' documented defaults
  (``boon_problems``): Stokes' ``U ~ U[0.5, 1.5]``, ``omega ~ U[2, 6]`` and domain ``[0, 1]``;
  the Burgers-Dirichlet initial data (random walls ``U[-1, 1]`` plus a sine series), final time
  1 and frame times; and the single-step Stokes / multi-step Burgers-Dirichlet sizes, which
  copy the other problems of the same mode.

Generation times, float64, 2-core CPU (``python -m physcon.operator_data`` -- a timing run):
see :data:`TIMINGS`.

HDF5 layout (``format = "physcon.operator/1"``)::

    /x (nx,)   /t (nt,)   /a (n, nx)   /u (n, nt, nx)   /params/<name> (n,) each
    attrs: format, physcon_version, name, meta (JSON), created
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from physcon._io import atomic_write
from physcon._version import __version__
from physcon.bc import Dirichlet, Neumann, Periodic
from physcon.solvers import boon_problems as bp
from physcon.solvers.boon_problems import BoonDataset

__all__ = [
    "FORMAT",
    "BoonProblem",
    "BoonSizes",
    "BOON_PROBLEMS",
    "TIMINGS",
    "boon_config",
    "boon_dataset",
    "boon_dataset_from_config",
    "split",
    "with_periodic_endpoint",
    "oracle",
    "boundary_conditions",
    "boundary_values",
    "save_operator_data",
    "load_operator_data",
    "operator_data_info",
]

FORMAT = "physcon.operator/1"


# --- the registry ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BoonSizes:
    """Sizes of one data set: ``nx`` grid points (walls included), the ``ntrain`` / ``ntest``
    split, the solver's ``refine`` factor and extra keyword arguments of the generator."""

    nx: int
    ntrain: int
    ntest: int
    refine: int = 1
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class BoonProblem:
    """One BOON problem: its generator, wall condition type and the four size presets.

    Attributes:
        name: the registry key.
        boundary: ``"neumann"``, ``"dirichlet"`` or ``"periodic"``.
        generate: the ``physcon.solvers.boon_problems.generate_*`` function.
        single, multi: the paper's single-step / multi-step sizes.
        quick_single, quick_multi: the ``quick=True`` sizes.
        notes: where the sizes come from and what is assumed.
    """

    name: str
    boundary: str
    generate: Callable[..., BoonDataset]
    single: BoonSizes
    multi: BoonSizes
    quick_single: BoonSizes
    quick_multi: BoonSizes
    notes: str = ""

    def sizes(self, multi_step: bool, quick: bool = False) -> BoonSizes:
        if quick:
            return self.quick_multi if multi_step else self.quick_single
        return self.multi if multi_step else self.single


BOON_PROBLEMS: dict[str, BoonProblem] = {
    "heat_neumann": BoonProblem(
        "heat_neumann", "neumann", bp.generate_heat_neumann,
        single=BoonSizes(500, 500, 100),
        multi=BoonSizes(1024, 1000, 200),
        quick_single=BoonSizes(128, 100, 20, refine=4),
        quick_multi=BoonSizes(64, 100, 20, refine=8),
        notes="BOON Heat_Neu_1D / Heat_Neu_2D: k=0.01, u0=cos(w pi x), w~U[2.01,3.99], "
              "u_x(0)=0, u_x(1)=5 sin(pi t); single-step target t=0.5 on 500 points; multi-step "
              "targets linspace(0,0.5,200)[-25:] on 1024 points (BOON: 2048 subsampled by 2).",
    ),
    "stokes": BoonProblem(
        "stokes", "dirichlet", bp.generate_stokes,
        single=BoonSizes(500, 500, 100, kwargs={"nu": 0.1, "t_final": 1.2}),
        multi=BoonSizes(500, 1000, 200, kwargs={"nu": 0.1, "t_final": 1.2, "n_frames": 25}),
        quick_single=BoonSizes(128, 100, 20, kwargs={"nu": 0.1, "t_final": 1.2}),
        quick_multi=BoonSizes(64, 100, 20, kwargs={"nu": 0.1, "t_final": 1.2, "n_frames": 25}),
        notes="BOON Stokes_Dir_2D: nu=0.1, N=500, 25 frames up to t=1.2, 1000/200. The "
              "single-step set (Stokes_Dir_1D) is used in no notebook: its sizes are assumed "
              "(500 points, 500/100, target t=1.2); U and omega ranges assumed.",
    ),
    "burgers_dirichlet": BoonProblem(
        "burgers_dirichlet", "dirichlet", bp.generate_burgers_dirichlet,
        single=BoonSizes(500, 500, 100, kwargs={"nu": 0.1, "t_final": 1.0}),
        multi=BoonSizes(500, 1000, 200, kwargs={"nu": 0.1, "t_final": 1.0, "n_frames": 25}),
        quick_single=BoonSizes(128, 100, 20, refine=4, kwargs={"nu": 0.1, "t_final": 1.0}),
        quick_multi=BoonSizes(64, 100, 20, refine=8,
                              kwargs={"nu": 0.1, "t_final": 1.0, "n_frames": 25}),
        notes="BOON Burgers_Dir_1D: nu=0.1, 500 points, 500/100. Initial data, final time and "
              "the multi-step set (Burgers_Dir_2D, used in no notebook) are assumed.",
    ),
    "burgers_periodic": BoonProblem(
        "burgers_periodic", "periodic", bp.generate_burgers_periodic,
        single=BoonSizes(128, 500, 100, refine=16, kwargs={"nu": 0.1}),
        multi=BoonSizes(128, 1000, 200, refine=8, kwargs={"nu": 0.01}),
        quick_single=BoonSizes(64, 100, 20, refine=32, kwargs={"nu": 0.1}),
        quick_multi=BoonSizes(64, 100, 20, refine=16, kwargs={"nu": 0.01}),
        notes="BOON Burgers_Per_1D (FNO burgers_data_R10: nu=0.1, u(x,1), 8192 -> 128 points) "
              "and Burgers_Per_2D (PINO burgers_pino: nu=0.01, last 25 of 101 frames on [0,1], "
              "128 points); GRF u0 ~ N(0, 625(-Laplacian+25I)^-2) for both.",
    ),
}

#: Measured generation times (seconds, float64, including compilation) of the paper-size sets,
#: ``{(problem, multi_step): seconds}``, on the 2-core development CPU while other jobs shared
#: it (load average 3-7, so expect these or less). Rerun: ``python -m physcon.operator_data``.
#: The cost of the Burgers sets is the explicit advective step limit of the fine grids.
TIMINGS: dict[tuple[str, bool], float] = {
    ("heat_neumann", False): 1.7,  # 600 x 500
    ("heat_neumann", True): 6.8,  # 1200 x 25 x 1024
    ("stokes", False): 1.6,  # 600 x 500
    ("stokes", True): 1.6,  # 1200 x 25 x 500
    ("burgers_dirichlet", False): 77.0,  # 600 x 500
    ("burgers_dirichlet", True): 260.0,  # 1200 x 25 x 500
    ("burgers_periodic", False): 376.0,  # 600 x 128, solved on 2032 points
    ("burgers_periodic", True): 161.0,  # 1200 x 25 x 128, solved on 1016 points
}


def _problem(problem) -> BoonProblem:
    if isinstance(problem, BoonProblem):
        return problem
    try:
        return BOON_PROBLEMS[str(problem).lower()]
    except KeyError:
        raise ValueError(f"problem must be one of {sorted(BOON_PROBLEMS)}, got {problem!r}") from None


def _pos_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def boon_config(
    problem: str,
    *,
    multi_step: bool,
    n: int | None = None,
    seed: int = 0,
    nx: int | None = None,
    quick: bool = False,
    refine: int | None = None,
    endpoint: bool = True,
    dtype=None,
    **generator_kwargs: Any,
) -> dict:
    """The fully resolved settings :func:`boon_dataset` uses, as a JSON-able dict.

    Same arguments as :func:`boon_dataset`. Keys: ``problem, multi_step, n, seed, nx, quick,
    refine, endpoint, dtype, generator`` (the generator's keyword arguments, paper defaults
    merged with ``generator_kwargs``), plus ``ntrain, ntest`` of the preset and
    ``physcon_version``. Store it as the ``meta`` of :func:`save_operator_data`;
    :func:`boon_dataset_from_config` regenerates the data from it.
    """
    spec = _problem(problem)
    sizes = spec.sizes(bool(multi_step), bool(quick))
    nx = sizes.nx if nx is None else _pos_int("nx", nx, 4)
    refine = sizes.refine if refine is None else _pos_int("refine", refine)
    if spec.name == "stokes" and refine != 1:
        raise ValueError(f"refine must be 1 for 'stokes' (a closed form), got {refine!r}")
    n = sizes.ntrain + sizes.ntest if n is None else _pos_int("n", n)
    seed = _pos_int("seed", seed, 0)
    if not isinstance(endpoint, (bool, np.bool_)):
        raise ValueError(f"endpoint must be a bool, got {endpoint!r}")
    kwargs = {**sizes.kwargs, **generator_kwargs}
    kwargs = _jsonable(kwargs)
    try:
        json.dumps(kwargs)
    except TypeError as err:
        raise ValueError(f"generator_kwargs must be JSON-serialisable (numbers, strings, lists): {err}") from None
    dtype_name = str(jax.dtypes.canonicalize_dtype(jnp.result_type(float) if dtype is None else dtype))
    return {
        "problem": spec.name, "multi_step": bool(multi_step), "n": n, "seed": seed, "nx": nx,
        "quick": bool(quick), "refine": refine, "endpoint": bool(endpoint), "dtype": dtype_name,
        "generator": kwargs, "ntrain": sizes.ntrain, "ntest": sizes.ntest,
        "physcon_version": __version__,
    }


def boon_dataset(
    problem: str,
    *,
    multi_step: bool,
    n: int | None = None,
    seed: int = 0,
    nx: int | None = None,
    quick: bool = False,
    refine: int | None = None,
    endpoint: bool = True,
    dtype=None,
    **generator_kwargs: Any,
) -> BoonDataset:
    """Generate one of BOON's 1-D data sets with the paper's sizes and parameters.

    Args:
        problem: ``"heat_neumann"``, ``"stokes"``, ``"burgers_periodic"`` or
            ``"burgers_dirichlet"`` (a key of :data:`BOON_PROBLEMS`).
        multi_step: 25 output frames (BOON's FNO2d experiments) or one target time.
        n: number of samples; default ``ntrain + ntest`` of the preset (600 single-step,
            1200 multi-step, 120 quick). Split them with :func:`split`.
        seed: PRNG seed of the random inputs.
        nx: grid points including both walls (default: the preset's).
        quick: the small preset (see the module docstring).
        refine: solve on a ``refine`` times finer grid and subsample (default: the preset's;
            node grids use ``(nx - 1) refine + 1`` nodes so the walls are kept).
        endpoint: periodic Burgers only: include ``x = 1`` as a copy of ``x = 0`` (BOON's
            grid; default) or return the periodic grid ``i / nx``.
        dtype: data dtype (default JAX's default float; enable ``jax_enable_x64`` for float64).
        **generator_kwargs: override the generator's parameters (e.g. ``nu``, ``t_final``,
            ``substeps``); must be JSON-serialisable.

    Returns:
        A :class:`BoonDataset`: ``x (nx,)``, ``t (nt,)``, ``a (n, nx)``, ``u (n, nt, nx)``
        (``nt = 25`` multi-step, 1 single-step), per-sample ``params``.
    """
    cfg = boon_config(problem, multi_step=multi_step, n=n, seed=seed, nx=nx, quick=quick,
                      refine=refine, endpoint=endpoint, dtype=dtype, **generator_kwargs)
    return boon_dataset_from_config(cfg, dtype=dtype)


def boon_dataset_from_config(config: dict, *, dtype=None) -> BoonDataset:
    """Generate the data set a :func:`boon_config` dict (e.g. a file's ``meta``) describes.
    ``dtype`` defaults to the config's ``dtype`` (float64 needs ``jax_enable_x64``)."""
    try:
        spec = _problem(config["problem"])
        multi, n, seed, nx = bool(config["multi_step"]), config["n"], config["seed"], config["nx"]
        refine, endpoint, kwargs = config["refine"], config["endpoint"], dict(config["generator"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"config is not a boon_config dict: missing {err}") from None
    dtype = config.get("dtype") if dtype is None else dtype
    if spec.name == "stokes":
        return spec.generate(n, seed=seed, multi_step=multi, nx=nx, dtype=dtype, **kwargs)
    if spec.name == "burgers_periodic":
        m = nx - 1 if endpoint else nx
        ds = spec.generate(n, seed=seed, multi_step=multi, nx=m, refine=refine, dtype=dtype, **kwargs)
        return with_periodic_endpoint(ds) if endpoint else ds
    fine = (nx - 1) * refine + 1
    ds = spec.generate(n, seed=seed, multi_step=multi, nx=fine, dtype=dtype, **kwargs)
    if refine == 1:
        return ds
    return BoonDataset(ds.x[::refine], ds.t, ds.a[:, ::refine], ds.u[:, :, ::refine], ds.params)


def with_periodic_endpoint(ds: BoonDataset, length: float = 1.0) -> BoonDataset:
    """Close a periodic data set: append ``x = x[0] + length`` with ``a``, ``u`` copied from
    ``x[0]``, so ``u[..., -1] == u[..., 0]`` exactly (BOON's periodic grid includes both ends).

    ``ds`` is on the periodic grid ``x[0] + length * i / m`` (``m`` points); the result has
    ``m + 1`` points.
    """
    x = jnp.asarray(ds.x)
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"ds.x must have shape (m >= 2,), got {x.shape}")
    xe = jnp.concatenate([x, jnp.asarray([float(x[0]) + length], x.dtype)])
    a = jnp.concatenate([ds.a, ds.a[..., :1]], axis=-1)
    u = jnp.concatenate([ds.u, ds.u[..., :1]], axis=-1)
    return BoonDataset(xe, ds.t, a, u, ds.params)


def split(ds: BoonDataset, ntrain: int, ntest: int) -> tuple[BoonDataset, BoonDataset]:
    """BOON's split: the first ``ntrain`` samples train, the **last** ``ntest`` test.

    Raises ``ValueError`` if ``ntrain + ntest`` exceeds the number of samples (the two sets
    would overlap, as they may in the reference with a too small file).
    """
    n = ds.a.shape[0]
    ntrain, ntest = _pos_int("ntrain", ntrain), _pos_int("ntest", ntest)
    if ntrain + ntest > n:
        raise ValueError(f"ntrain + ntest = {ntrain + ntest} exceeds the {n} samples (train and test would overlap)")

    def take(sl):
        return BoonDataset(ds.x, ds.t, ds.a[sl], ds.u[sl], {k: v[sl] for k, v in ds.params.items()})

    return take(slice(0, ntrain)), take(slice(n - ntest, n))


# --- boundary conditions ------------------------------------------------------------------------
def oracle(t):
    """Placeholder value of the Dirichlet walls whose values come from the ground truth.

    BOON reads Stokes' and Burgers' Dirichlet values per sample from the target itself
    (``u[:, :, 0]``, ``u[:, :, -1]``); they are not a function of time shared by the batch.
    Evaluating this placeholder raises: pass :func:`boundary_values` instead (e.g. as
    ``left_value``/``right_value`` of :func:`physcon.metrics.boundary_error`).
    """
    raise ValueError(
        "this Dirichlet condition takes its values per sample from the ground truth (oracle): "
        "pass physcon.operator_data.boundary_values(problem, ds) explicitly")


def _orders(order):
    if order is None:
        return None, None
    if isinstance(order, (tuple, list)):
        if len(order) != 2:
            raise ValueError(f"order must be None, an int or a (left, right) pair, got {order!r}")
        return tuple(_pos_int("order", o) for o in order)
    o = _pos_int("order", order)
    return o, o


def boundary_conditions(problem: str, ds: BoonDataset | None = None, *, order=None):
    """The ``(left, right)`` :mod:`physcon.bc` conditions BOON imposes on a problem's data.

    * ``heat_neumann``: ``Neumann(0.0, order=1)`` (insulator) and ``Neumann(heater, order=3)``
      (``u_x(1, t) = 5 sin(pi t)``): the reference's stencils, ``[1, -1]`` (first order; BOON
      omits ``h``, harmless because the value is 0) and the 4-point third-order backward
      difference. ``order`` (an int or a ``(left, right)`` pair) replaces those orders.
      Note: the data satisfy the *continuous* condition (to the solver's second order), so
      the first-order left stencil itself is off by ``O(h)`` on the data (``h u_xx / 2``).
    * ``stokes``, ``burgers_dirichlet``: ``Dirichlet(oracle)`` on both walls. The values are
      per sample and time, read from the ground truth as BOON does; get them from
      :func:`boundary_values` (arrays ``(n, nt)``) and pass them explicitly -- evaluating
      :func:`oracle` raises.
    * ``burgers_periodic``: ``Periodic()`` on both walls; needs the grid that includes
      ``x = 1`` (``endpoint=True``), checked when ``ds`` is given.

    Args:
        problem: a key of :data:`BOON_PROBLEMS`.
        ds: the data set, optional: checks that its grid supports the stencils (and, for
            the periodic problem, that it is closed: ``u[..., -1] == u[..., 0]``).
        order: Neumann stencil orders (heat only).
    """
    spec = _problem(problem)
    if spec.boundary == "neumann":
        lo, ro = _orders(order)
        left = Neumann(0.0, order=lo or 1)
        right = Neumann(bp.heater, order=ro or 3)
        if ds is not None and np.shape(ds.x)[0] < max(left.order, right.order) + 1:
            raise ValueError(f"ds has {np.shape(ds.x)[0]} points, too few for the order {max(left.order, right.order)} stencil")
        return left, right
    if order is not None:
        raise ValueError(f"order only applies to Neumann walls, not to {spec.name!r}")
    if spec.boundary == "dirichlet":
        return Dirichlet(oracle), Dirichlet(oracle)
    if ds is not None and not bool(np.array_equal(np.asarray(ds.u[..., 0]), np.asarray(ds.u[..., -1]))):
        raise ValueError("ds is not closed (u[..., -1] != u[..., 0]): generate it with endpoint=True "
                         "or use with_periodic_endpoint")
    return Periodic(), Periodic()


def boundary_values(problem: str, ds: BoonDataset, *, order=None):
    """The per-sample values ``(left_value, right_value)`` the walls prescribe, each ``(n, nt)``.

    Dirichlet problems: the ground truth's wall values ``u[:, :, 0]`` and ``u[:, :, -1]``
    (BOON's oracle). Neumann (heat): ``g(t)`` of :func:`boundary_conditions` evaluated at
    ``ds.t`` and broadcast to ``(n, nt)``. Periodic: ``(None, None)``.
    """
    spec = _problem(problem)
    u = jnp.asarray(ds.u)
    if u.ndim != 3:
        raise ValueError(f"ds.u must have shape (n, nt, nx), got {u.shape}")
    if spec.boundary == "dirichlet":
        return u[:, :, 0], u[:, :, -1]
    if spec.boundary == "periodic":
        return None, None
    left, right = boundary_conditions(spec.name, ds, order=order)
    t = jnp.asarray(ds.t, u.dtype)
    return tuple(jnp.broadcast_to(bc.at(t, u.dtype), u.shape[:2]) for bc in (left, right))


# --- HDF5 ---------------------------------------------------------------------------------------
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
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file (truncated or corrupt?): {err}") from err
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


def _time_all(problems=None, modes=(False, True), quick=False):  # pragma: no cover - a timing run
    """Generate every paper-size set once in float64 and print the seconds (fills TIMINGS)."""
    jax.config.update("jax_enable_x64", True)
    for p in problems or BOON_PROBLEMS:
        for multi in modes:
            t0 = time.perf_counter()
            ds = boon_dataset(p, multi_step=multi, quick=quick)
            jax.block_until_ready(ds.u)
            dt = time.perf_counter() - t0
            print(f"{p:18s} multi_step={multi!s:5s} u{tuple(ds.u.shape)}  {dt:7.1f} s", flush=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    _time_all(quick="--quick" in sys.argv)
