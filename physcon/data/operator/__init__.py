"""The 1-D operator-learning sets (BOON's four problems) at the paper's sizes.

BOON (Saad et al., ICLR 2023) trains neural operators on four 1-D problems (heat with Neumann
walls, Stokes' second problem and viscous Burgers with Dirichlet walls, periodic Burgers). Its
data were made by unpublished MATLAB scripts, so physcon regenerates them with
:mod:`physcon.solvers.heat`, ``stokes`` and ``burgers``. Every set is a
:class:`~physcon.solvers.BoonDataset`: ``x (nx,)`` (both walls included),
``t (nt,)``, ``a (n, nx)`` inputs, ``u (n, nt, nx)`` targets, per-sample ``params``; as a
dataset kind (``physcon.data.generate("stokes", ...)``) it is a :class:`~physcon.data.Dataset`
saved in The Well's schema like every other set.

One concept per module, all names re-exported here (``from physcon.data import operator as od``):

* :mod:`~physcon.data.operator.registry` -- :data:`BOON_PROBLEMS` (generator, wall type, the
  paper's and the ``quick`` sizes of each problem; the decisions where the paper is silent)
  and the measured generation :data:`TIMINGS`.
* :mod:`~physcon.data.operator.datasets` -- :func:`boon_config`, :func:`boon_dataset`,
  :func:`boon_dataset_from_config`, the paper's train/test :func:`split` and
  :func:`with_periodic_endpoint`.
* :mod:`~physcon.data.operator.conditions` -- the wall conditions BOON imposes on each
  problem (:func:`boundary_conditions`) and their per-sample values (:func:`boundary_values`,
  :func:`oracle`).
* :mod:`~physcon.data.operator.kinds` -- the four dataset kinds, :func:`from_operator_pair`,
  :func:`to_operator_pair`.

``python -m physcon.data.operator [--quick]`` times the generation of every set.
"""

from physcon.data.operator.conditions import boundary_conditions, boundary_values, oracle
from physcon.data.operator.datasets import (
    boon_config,
    boon_dataset,
    boon_dataset_from_config,
    split,
    with_periodic_endpoint,
)
from physcon.data.operator.kinds import from_operator_pair, make, to_operator_pair
from physcon.data.operator.registry import BOON_PROBLEMS, TIMINGS, BoonProblem, BoonSizes

__all__ = [
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
    "from_operator_pair",
    "to_operator_pair",
    "make",
]
