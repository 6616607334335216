"""The BOON data sets at the paper's sizes, and self-describing HDF5 files for operator data.

BOON (Saad et al., ICLR 2023) trains neural operators on four 1-D problems (heat with Neumann
walls, Stokes' second problem and viscous Burgers with Dirichlet walls, periodic Burgers). Its
data were made by unpublished MATLAB scripts, so physcon regenerates them with
:mod:`physcon.solvers.heat`, ``stokes`` and ``burgers``. Every set is a
:class:`~physcon.solvers.BoonDataset`: ``x (nx,)`` (both walls included),
``t (nt,)``, ``a (n, nx)`` inputs, ``u (n, nt, nx)`` targets, per-sample ``params``.

One concept per module, all names re-exported here (``from physcon import operator_data as od``):

* :mod:`~physcon.operator_data.registry` -- :data:`BOON_PROBLEMS` (generator, wall type, the
  paper's and the ``quick`` sizes of each problem; the decisions where the paper is silent)
  and the measured generation :data:`TIMINGS`.
* :mod:`~physcon.operator_data.datasets` -- :func:`boon_config`, :func:`boon_dataset`,
  :func:`boon_dataset_from_config`, the paper's train/test :func:`split` and
  :func:`with_periodic_endpoint`.
* :mod:`~physcon.operator_data.conditions` -- the wall conditions BOON imposes on each
  problem (:func:`boundary_conditions`) and their per-sample values (:func:`boundary_values`,
  :func:`oracle`).
* :mod:`~physcon.operator_data.hdf5` -- :func:`save_operator_data`,
  :func:`load_operator_data`, :func:`operator_data_info` (format :data:`FORMAT`).

``python -m physcon.operator_data [--quick]`` times the generation of every set.
"""

from physcon.operator_data.conditions import boundary_conditions, boundary_values, oracle
from physcon.operator_data.datasets import (
    boon_config,
    boon_dataset,
    boon_dataset_from_config,
    split,
    with_periodic_endpoint,
)
from physcon.operator_data.hdf5 import FORMAT, load_operator_data, operator_data_info, save_operator_data
from physcon.operator_data.registry import BOON_PROBLEMS, TIMINGS, BoonProblem, BoonSizes

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
