"""The four 1-D operator sets as dataset kinds: ``"heat_neumann"``, ``"stokes"``,
``"burgers_dirichlet"``, ``"burgers_periodic"``.

``physcon.data.generate("heat_neumann", n, seed=0, multi_step=True, quick=True)`` generates
with the registry's presets (:func:`~physcon.data.operator.boon_config` resolves them) and
returns a :class:`~physcon.data.Dataset` whose field ``u (n, 1 + nt, nx)`` starts with the input
``a = u(x, 0)`` at ``t[0] = 0``, followed by the ``nt`` targets; :func:`to_operator_pair` gives
back the :class:`~physcon.solvers.BoonDataset` ``(x, t, a, u, params)``.
"""

from __future__ import annotations

import numpy as np

from physcon.data.dataset import Dataset, wall_from_bc
from physcon.data.kinds import Kind, register
from physcon.data.operator.conditions import boundary_conditions
from physcon.data.operator.datasets import BoonDataset, boon_config, boon_dataset_from_config
from physcon.data.operator.registry import BOON_PROBLEMS, _problem

__all__ = ["from_operator_pair", "to_operator_pair", "make"]


def from_operator_pair(problem: str, ds: BoonDataset, config: dict | None = None) -> Dataset:
    """A :class:`BoonDataset` of ``problem`` as a :class:`~physcon.data.Dataset`: ``u`` with
    the input ``a`` prepended as frame 0 at ``t = 0``, the walls BOON imposes, ``config`` (a
    :func:`boon_config`) split into ``seed`` and ``settings``."""
    spec = _problem(problem)
    a, u, t, x = (np.asarray(v) for v in (ds.a, ds.u, ds.t, ds.x))
    t = np.concatenate([np.zeros(1, t.dtype), t])
    u = np.concatenate([a[:, None], u], axis=1)
    n = u.shape[0]
    left, right = boundary_conditions(spec.name)
    pos = float(x[0]), float(x[-1])
    if spec.boundary == "periodic":
        walls = (wall_from_bc("x_periodic", "x", "both", left, t=t, n=n, dtype=u.dtype, position=pos[0]),)
    else:
        oracle = spec.boundary == "dirichlet"
        walls = tuple(wall_from_bc(f"x_{side}", "x", side, bc, t=t, n=n, dtype=u.dtype, position=p, from_field=oracle)
                      for side, bc, p in (("left", left, pos[0]), ("right", right, pos[1])))
    config = dict(config or {})
    seed = config.pop("seed", None)
    config.pop("n", None), config.pop("problem", None), config.pop("physcon_version", None)
    constants = {k: float(v) for k, v in config.get("generator", {}).items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return Dataset(spec.name, t, {"x": x}, {"u": u}, params={k: np.asarray(v) for k, v in ds.params.items()},
                   constants=constants, walls=walls, settings=config, seed=seed)


def to_operator_pair(ds: Dataset) -> BoonDataset:
    """The :class:`BoonDataset` view of an operator-set :class:`~physcon.data.Dataset`:
    ``x (nx,)``, ``t (nt,)`` (frame 0 removed), ``a = u[:, 0]``, ``u = u[:, 1:]``, ``params``."""
    if ds.kind not in BOON_PROBLEMS:
        raise ValueError(f"ds must be one of the operator kinds {sorted(BOON_PROBLEMS)}, got {ds.kind!r}")
    u = ds.fields["u"]
    return BoonDataset(ds.coords["x"], ds.t[1:], u[:, 0], u[:, 1:], dict(ds.params))


def make(problem: str, n: int | None = None, *, seed: int = 0, progress: bool = False, multi_step: bool,
         generator: dict | None = None, ntrain: int | None = None, ntest: int | None = None, **settings) -> Dataset:
    """Generate an operator set (``physcon.data.generate(problem, n, ...)``): the arguments of
    :func:`~physcon.data.operator.boon_dataset` (``multi_step``, ``quick``, ``nx``, ``refine``,
    ``endpoint``, ``dtype`` and the generator's keyword arguments, also as one ``generator``
    dict). ``n`` defaults to the preset's ``ntrain + ntest``; ``ntrain``/``ntest``, if given
    (as a stored file's settings give them), must be the preset's."""
    from tqdm.auto import tqdm

    kwargs = {**(generator or {}), **{k: settings.pop(k) for k in list(settings)
                                      if k not in ("quick", "nx", "refine", "endpoint", "dtype")}}
    cfg = boon_config(problem, multi_step=multi_step, n=n, seed=seed, **settings, **kwargs)
    for name, given in (("ntrain", ntrain), ("ntest", ntest)):
        if given is not None and given != cfg[name]:
            raise ValueError(f"{name}={given} is not the preset's {cfg[name]} for these settings")
    bar = tqdm(total=cfg["n"], desc=f"{cfg['problem']} nx={cfg['nx']}", unit="sample", disable=not progress)
    ds = boon_dataset_from_config(cfg)
    bar.update(cfg["n"])  # one batched solve: the bar closes when it is done
    bar.close()
    return from_operator_pair(problem, ds, cfg)


def _maker(name):
    def make_kind(n=None, *, seed=0, progress=False, multi_step=False, **settings):
        return make(name, n, seed=seed, progress=progress, multi_step=multi_step, **settings)

    make_kind.__doc__ = f"``{name}`` data: :func:`physcon.data.operator.make` with ``problem={name!r}``."
    return make_kind


for _name, _spec in BOON_PROBLEMS.items():
    register(Kind(_name, "operator", _maker(_name), description=_spec.notes))
