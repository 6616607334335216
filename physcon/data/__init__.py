"""Every dataset physcon generates, one API, one file format (The Well's HDF5 schema).

::

    import physcon as pc

    ds = pc.data.generate("stefan", 100, seed=0, nx=200, nt=101)      # batched (+ device mesh)
    ds = pc.data.generate("heat_neumann", seed=0, multi_step=True, quick=True)
    ds = pc.data.generate("cavity", 64, seed=0, nodes=33, n_frames=5)
    pc.data.save("stefan.h5", ds)              # The Well's schema; refuses to overwrite
    ds = pc.data.load("stefan.h5")             # validated; bit for bit
    pc.data.verify("stefan.h5")                # regenerates from seed + settings: 0.0
    pc.data.info("stefan.h5")                  # metadata and shapes only
    the_well.data.WellDataset(path=folder)     # the_well reads the same files
    ds = pc.data.read_pdebench("1D_Advection_Sols_beta0.1.hdf5")    # PDEBench files

Kinds (:func:`kinds`): the GPME sets ``diffusion, pme, stefan, advection, burgers``
(:mod:`~physcon.data.gpme`), the 1-D operator sets ``heat_neumann, stokes, burgers_dirichlet,
burgers_periodic`` (:mod:`~physcon.data.operator`), the 2-D sets ``navier_stokes, cavity, wave``
(:mod:`~physcon.data.flows`). A new kind is one :func:`register` call (:mod:`~physcon.data.kinds`).

Modules: :mod:`~physcon.data.dataset` (the :class:`Dataset` container and its :class:`Wall`),
:mod:`~physcon.data.kinds` (registry; generate, regenerate, verify), :mod:`~physcon.data.well`
(the file format: save, load, info), :mod:`~physcon.data.pdebench` (PDEBench reader),
:mod:`~physcon.data.legacy` (reads physcon's two earlier formats once: :func:`convert_legacy`).
"""

from physcon.data.dataset import Dataset, Tabulated, Wall, oracle, wall_from_bc
from physcon.data.kinds import KINDS, Kind, generate, get, kinds, regenerate, register, verify
from physcon.data.well import SCHEMA, info, load, save

from physcon.data import flows, gpme, operator  # noqa: I001  (registers the built-in kinds)
from physcon.data.gpme import batch_mesh, mass_balance_error, problem_class, sample_parameters
from physcon.data.legacy import convert_legacy
from physcon.data.pdebench import read_pdebench

__all__ = [
    "Dataset", "Wall", "Tabulated", "oracle", "wall_from_bc",
    "Kind", "KINDS", "register", "get", "kinds", "generate", "regenerate", "verify",
    "SCHEMA", "save", "load", "info", "read_pdebench", "convert_legacy",
    "problem_class", "sample_parameters", "batch_mesh", "mass_balance_error",
    "gpme", "operator", "flows",
]
