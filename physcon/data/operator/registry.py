"""The registry of BOON's four 1-D problems and their size presets (:data:`BOON_PROBLEMS`).

BOON (Saad et al., ICLR 2023) trains neural operators on four 1-D problems. Its data were made
by unpublished MATLAB scripts and are only on Google Drive, so physcon regenerates them with
:mod:`physcon.solvers.heat`, ``stokes`` and ``burgers``; this module records the paper's sizes and parameters
(``research/boon.md`` sections 2-3) and the decisions where the paper is silent.
:func:`physcon.data.operator.boon_dataset` generates a set from these presets.

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
  (:func:`~physcon.data.operator.with_periodic_endpoint`), so ``u[..., -1] == u[..., 0]`` bit for
  bit and nothing is overwritten. ``endpoint=False`` gives the plain periodic grid ``i / nx``.
* Parameters not in the public BOON material keep the generators' documented defaults
  (``physcon.solvers``): Stokes' ``U ~ U[0.5, 1.5]``, ``omega ~ U[2, 6]`` and domain ``[0, 1]``;
  the Burgers-Dirichlet initial data (random walls ``U[-1, 1]`` plus a sine series), final time
  1 and frame times; and the single-step Stokes / multi-step Burgers-Dirichlet sizes, which
  copy the other problems of the same mode.

Generation times, float64, 2-core CPU (``python -m physcon.data.operator`` -- a timing run):
see :data:`TIMINGS`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from physcon.solvers import BoonDataset, burgers, heat, stokes

__all__ = ["BoonSizes", "BoonProblem", "BOON_PROBLEMS", "TIMINGS"]


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
        generate: the ``physcon.solvers.{heat,stokes,burgers}.generate_*`` function.
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
        "heat_neumann", "neumann", heat.generate_heat_neumann,
        single=BoonSizes(500, 500, 100),
        multi=BoonSizes(1024, 1000, 200),
        quick_single=BoonSizes(128, 100, 20, refine=4),
        quick_multi=BoonSizes(64, 100, 20, refine=8),
        notes="BOON Heat_Neu_1D / Heat_Neu_2D: k=0.01, u0=cos(w pi x), w~U[2.01,3.99], "
              "u_x(0)=0, u_x(1)=5 sin(pi t); single-step target t=0.5 on 500 points; multi-step "
              "targets linspace(0,0.5,200)[-25:] on 1024 points (BOON: 2048 subsampled by 2).",
    ),
    "stokes": BoonProblem(
        "stokes", "dirichlet", stokes.generate_stokes,
        single=BoonSizes(500, 500, 100, kwargs={"nu": 0.1, "t_final": 1.2}),
        multi=BoonSizes(500, 1000, 200, kwargs={"nu": 0.1, "t_final": 1.2, "n_frames": 25}),
        quick_single=BoonSizes(128, 100, 20, kwargs={"nu": 0.1, "t_final": 1.2}),
        quick_multi=BoonSizes(64, 100, 20, kwargs={"nu": 0.1, "t_final": 1.2, "n_frames": 25}),
        notes="BOON Stokes_Dir_2D: nu=0.1, N=500, 25 frames up to t=1.2, 1000/200. The "
              "single-step set (Stokes_Dir_1D) is used in no notebook: its sizes are assumed "
              "(500 points, 500/100, target t=1.2); U and omega ranges assumed.",
    ),
    "burgers_dirichlet": BoonProblem(
        "burgers_dirichlet", "dirichlet", burgers.generate_burgers_dirichlet,
        single=BoonSizes(500, 500, 100, kwargs={"nu": 0.1, "t_final": 1.0}),
        multi=BoonSizes(500, 1000, 200, kwargs={"nu": 0.1, "t_final": 1.0, "n_frames": 25}),
        quick_single=BoonSizes(128, 100, 20, refine=4, kwargs={"nu": 0.1, "t_final": 1.0}),
        quick_multi=BoonSizes(64, 100, 20, refine=8,
                              kwargs={"nu": 0.1, "t_final": 1.0, "n_frames": 25}),
        notes="BOON Burgers_Dir_1D: nu=0.1, 500 points, 500/100. Initial data, final time and "
              "the multi-step set (Burgers_Dir_2D, used in no notebook) are assumed.",
    ),
    "burgers_periodic": BoonProblem(
        "burgers_periodic", "periodic", burgers.generate_burgers_periodic,
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
#: it (load average 3-7, so expect these or less). Rerun: ``python -m physcon.data.operator``.
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
