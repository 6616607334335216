"""Generate BOON's data sets from the registry's presets, and split them as the paper does.

:func:`boon_config` resolves a problem, mode and preset (paper-size or ``quick``) into a
JSON-able dict; :func:`boon_dataset_from_config` generates the data it describes (so a saved
file's ``physcon_settings`` regenerates the file); :func:`boon_dataset` does both. Shapes: ``x (nx,)``
(both walls included), ``t (nt,)`` (``nt = 25`` multi-step, 1 single-step), ``a (n, nx)``,
``u (n, nt, nx)``. :func:`split` makes the paper's train/test split (first ``ntrain``, last
``ntest``), :func:`with_periodic_endpoint` closes a periodic set (``u[..., -1] == u[..., 0]``).
Sizes, parameters and the reasons behind them: :mod:`physcon.data.operator.registry`.
"""

from __future__ import annotations

import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from physcon._version import __version__
from physcon.data.operator.registry import _pos_int, _problem
from physcon.solvers import BoonDataset

__all__ = ["boon_config", "boon_dataset", "boon_dataset_from_config", "with_periodic_endpoint", "split"]


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
    ``physcon_version``. It is the ``settings`` of the ``Dataset`` that
    :func:`physcon.data.generate` returns; :func:`boon_dataset_from_config` regenerates the data from it.
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
    """Generate the data set a :func:`boon_config` dict (e.g. a file's settings) describes.
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
