"""BOON end to end (Saad et al., ICLR 2023): data, FNO and BOON training, boundary-aware evaluation.

One *case* per 1-D problem and output kind (research/boon.md §2):

===================== =========== ======================================================
problem               walls       data (``physcon.solvers.heat``, ``.stokes``, ``.burgers``)
===================== =========== ======================================================
``heat_neumann``      Neumann     ``u_t = 0.01 u_xx``, ``u_x(0) = 0``, ``u_x(1) = 5 sin(pi t)``
``stokes``            Dirichlet   Stokes' second problem (closed form), oracle wall values
``burgers_dirichlet`` Dirichlet   viscous Burgers, nu = 0.1, oracle (per-sample) wall values
``burgers_periodic``  periodic    viscous Burgers, GRF initial data (the FNO/PINO sets)
===================== =========== ======================================================

*Single-step* maps ``u(x, 0) -> u(x, T)`` with a 1-D FNO (modes 16, width 64, input ``(a, x)``);
*multi-step* maps ``u(x, 0)`` (repeated along t) to the last 25 frames with an FNO over
``(x, t)`` (modes 12, width 32, time padded by 9 points except for periodic walls).

Per case the models start from **the same initial FNO** and train with the paper's recipe
(research/boon.md §3) through :func:`physcon.train.fit`: Adam with *coupled* weight decay
``optax.chain(add_decayed_weights(1e-4), adam(lr))``, ``lr`` halved every ``step_size`` epochs
(staircase), batch 20, loss = the per-sample relative L2 of the flattened sample **summed** over
the batch (as the reference), no validation set (the final model is evaluated, as the paper):

* ``FNO``: the plain operator (the very FNO BOON wraps: same padding, same parameters);
* ``BOON``: :class:`physcon.constraints.BOON` (kernel correction in every layer + exact output);
* ``BOON-output``: ``per_layer=False``, the exact output overwrite only (the ablation);
* ``BOON-faithful`` (or ``BOON-exact``) with ``compare_modes``: BOON in the other mode.

Evaluation in float64 (the trained float32 weights cast up), on the last ``n_test`` samples:
relative L2 (mean over samples), boundary errors (:func:`physcon.metrics.boundary_error`:
Dirichlet value error, Neumann derivative error with the BC's own stencil and with an
independent ``deriv_order`` stencil, periodic mismatch ``|u_0 - u_L|``), at the training
resolution and zero-shot at twice the resolution (same inputs, spacing halved), the error
over x and (multi-step) over time, and seconds per epoch. The report is written by
:mod:`physcon.experiments.boon_report`.
"""

from __future__ import annotations

import dataclasses
import math
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from physcon import metrics
from physcon.data import operator as od
from physcon.bc import Neumann, Periodic
from physcon.constraints import BOON
from physcon.experiments import boon_report
from physcon.experiments._run import Checkpoints
from physcon.experiments._boon_data import COARSE_OK, coarsen, generate  # noqa: F401 (public here)
from physcon.models import FNO
from physcon.train import fit

PROBLEMS = tuple(od.BOON_PROBLEMS)
#: Dirichlet problems whose wall values are read from the ground truth per sample (the paper's
#: oracle boundary data; they vary from sample to sample).
ORACLE = tuple(p for p, spec in od.BOON_PROBLEMS.items() if spec.boundary == "dirichlet")
MODELS = ("FNO", "BOON", "BOON-output", "BOON-faithful", "BOON-exact")


@dataclasses.dataclass(frozen=True)
class Setting:
    """Sizes of one reproduction. :data:`PAPER` is the paper's (research/boon.md §2-3);
    :data:`QUICK` fits a 2-core CPU in minutes.

    Attributes:
        single, multi: problems run single-step / multi-step.
        quick: take grid sizes and solver refinement from the ``quick`` presets of
            :data:`physcon.data.operator.BOON_PROBLEMS` (else the paper's).
        n_train, n_test / n_train_multi, n_test_multi: samples (``None``: the preset's). The
            first ``n_train`` of one generated set train, the last ``n_test`` test.
        nx, nx_multi: nodes along x, walls included (``None``: the preset's).
        epochs, epochs_multi: passes over the training set (``n_train // batch_size`` steps each).
        step_size, step_size_multi: epochs per halving of the learning rate
            (``step_size_periodic_multi`` for periodic Burgers multi-step: 100 in the paper).
        modes, width / modes_multi, width_multi: FNO sizes of the 1-D / (x, t) models.
        pad_t: time points padded by the (x, t) model out of the 25 frames (none for periodic walls).
        mode: BOON's ``"faithful"`` (default: the published algorithm, so the numbers compare
            with the paper) or ``"exact"`` correction (with BOON's default damping ``rcond``;
            measured against faithful in docs/boon.md).
        ablation: also train ``BOON-output`` (``per_layer=False``).
        compare_modes: also train BOON in the other mode (``BOON-faithful`` or ``BOON-exact``).
        superres: also evaluate zero-shot on ``2 nx - 1`` nodes (half the spacing) and, for
            :data:`COARSE_OK` problems, on ``(nx + 1) // 2`` nodes (about twice the spacing).
        deriv_order: order of the independent one-sided stencil of the Neumann metric (must
            differ from the order BOON enforces, 5 for heat: 4 by default).
        dtype: training precision (evaluation is always float64).
    """

    single: tuple[str, ...] = PROBLEMS
    multi: tuple[str, ...] = PROBLEMS
    quick: bool = False
    n_train: int | None = None
    n_test: int | None = None
    n_train_multi: int | None = None
    n_test_multi: int | None = None
    nx: int | None = None
    nx_multi: int | None = None
    epochs: int = 500
    epochs_multi: int = 500
    batch_size: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-4
    gamma: float = 0.5
    step_size: int = 50
    step_size_multi: int = 50
    step_size_periodic_multi: int = 100
    modes: int = 16
    width: int = 64
    modes_multi: int = 12
    width_multi: int = 32
    pad_t: int = 9
    mode: str = "faithful"
    ablation: bool = True
    compare_modes: bool = False
    superres: bool = True
    deriv_order: int = 4
    dtype: str = "float32"
    log_every: int = 25
    eval_chunk: int = 20


PAPER = Setting()
QUICK = Setting(multi=("stokes",), quick=True, n_train=200, n_test=50, epochs=50, epochs_multi=30,
                step_size=15, step_size_multi=10, step_size_periodic_multi=10, width=32, modes_multi=8,
                width_multi=16, compare_modes=True, log_every=10)


# --- data (physcon.experiments._boon_data) ----------------------------------------------------
def model_inputs(ds: dict, problem: str, multi_step: bool, dtype) -> dict:
    """The arrays ``fit`` sees: ``a``, ``u`` channel-first ``(n, 1, nx[, nt])`` (multi-step:
    ``u0`` repeated along t) and, for oracle Dirichlet walls, ``left``/``right`` ``(n[, nt])``."""
    u = np.moveaxis(ds["u"], 1, -1)  # (n, nx, nt)
    if multi_step:
        a = np.repeat(ds["a"][:, :, None], u.shape[-1], -1)
    else:
        a, u = ds["a"], u[..., -1]
    out = {"a": a[:, None].astype(dtype), "u": u[:, None].astype(dtype)}
    if problem in ORACLE:
        for side in ("left", "right"):
            out[side] = (ds[side] if multi_step else ds[side][:, -1]).astype(dtype)
    return out


# --- models and training -----------------------------------------------------------------------
def make_models(problem: str, multi_step: bool, setting: Setting, key, dtype=jnp.float32) -> dict:
    """``{"FNO", "BOON"[, "BOON-output"][, "BOON-<other mode>"]}`` sharing one initial FNO."""
    periodic = problem == "burgers_periodic"
    if multi_step:
        pad = (0.0, 0.0 if periodic else setting.pad_t / 25)
        fno = FNO(2, 1, 1, setting.modes_multi, setting.width_multi, padding=pad, grid=True, key=key)
    else:
        fno = FNO(1, 1, 1, setting.modes, setting.width, grid=True, key=key)
    fno = _cast(fno, dtype)
    left, right = od.boundary_conditions(problem)
    models = {"FNO": fno, "BOON": BOON(fno, left=left, right=right, mode=setting.mode)}
    if setting.ablation:
        models["BOON-output"] = BOON(fno, left=left, right=right, mode=setting.mode, per_layer=False)
    if setting.compare_modes:
        other = "faithful" if setting.mode == "exact" else "exact"
        models[f"BOON-{other}"] = BOON(fno, left=left, right=right, mode=other)
    return models


def _cast(tree, dtype):
    return jax.tree.map(lambda v: v.astype(dtype) if eqx.is_inexact_array(v) else v, tree)


def apply(model, batch: dict, t) -> jax.Array:
    """Batched prediction ``(B, 1, nx[, nt])``; BOON gets the times ``t`` of its boundary
    values and, for oracle walls, the per-sample values ``batch["left"]``/``["right"]``."""
    if isinstance(model, FNO):
        return jax.vmap(model)(batch["a"])
    if "left" in batch:
        return jax.vmap(lambda a, l, r: model(a, t, left=l, right=r))(batch["a"], batch["left"], batch["right"])
    return jax.vmap(lambda a: model(a, t))(batch["a"])


def relative_l2(pred, true) -> jax.Array:
    """Per-sample ``||pred - true|| / ||true||`` over the flattened sample, shape ``(B,)``."""
    d = (pred - true).reshape(pred.shape[0], -1)
    return jnp.linalg.norm(d, axis=1) / jnp.linalg.norm(true.reshape(true.shape[0], -1), axis=1)


def loss_fn(model, batch, key, *, t):
    """The reference's ``LpLoss(size_average=False)``: relative L2 summed over the batch."""
    return jnp.sum(relative_l2(apply(model, batch, t), batch["u"]))


def optimizer(setting: Setting, steps_per_epoch: int, step_size: int):
    """Adam with coupled L2 weight decay and the per-epoch staircase (StepLR) schedule."""
    lr = optax.exponential_decay(setting.lr, transition_steps=step_size * steps_per_epoch,
                                 decay_rate=setting.gamma, staircase=True)
    return optax.chain(optax.add_decayed_weights(setting.weight_decay), optax.adam(lr))


def train(model, data: dict, t, setting: Setting, *, epochs: int, step_size: int, key, progress=True,
          fit_options: dict | None = None):
    """``(trained model, history)`` after ``epochs`` epochs of the paper's recipe (``fit_options``:
    more :func:`physcon.train.fit` arguments: checkpoint, resume, progress label)."""
    spe = data["a"].shape[0] // setting.batch_size
    steps = epochs * spe
    return fit(model, lambda m, b, k: loss_fn(m, b, k, t=t), data, optimizer(setting, spe, step_size),
               steps=steps, batch_size=setting.batch_size, key=key,
               log_every=math.gcd(steps, setting.log_every), **{"progress": progress, **(fit_options or {})})


# --- evaluation ------------------------------------------------------------------------------
_predict = eqx.filter_jit(apply)


def predict(model, data: dict, t, chunk: int) -> np.ndarray:
    """Float64 predictions ``(n, nx[, nt])`` in chunks (requires ``jax.enable_x64``)."""
    model = _cast(model, jnp.float64)
    t = None if t is None else jnp.asarray(t, jnp.float64)
    n = data["a"].shape[0]
    out = [np.asarray(_predict(model, {k: jnp.asarray(v[i:i + chunk], jnp.float64) for k, v in data.items()}, t))
           for i in range(0, n, chunk)]
    return np.concatenate(out)[:, 0]


def _time_major(u: np.ndarray, multi_step: bool) -> np.ndarray:
    """Model layout ``(n, nx[, nt])`` -> the data's ``(n, nt, nx)``."""
    return np.moveaxis(u, 1, 2) if multi_step else u[:, None, :]


def boundary(u: np.ndarray, ds: dict, problem: str, order: int) -> dict:
    """Boundary errors of fields ``u (n, nt, nx)`` against the walls' prescribed values in
    ``ds``: ``{metric: (n,)}``, each the per-sample mean over the output times."""
    left, right = od.boundary_conditions(problem)
    if isinstance(left, Neumann) and order in (left.order, right.order):
        raise ValueError(f"deriv_order={order} is the order BOON enforces ({left.order}, {right.order}); "
                         "the independent stencil must differ")
    periodic = isinstance(left, Periodic)
    kind = "value" if problem in ORACLE else "derivative"
    orders = [("", None)] + ([("_indep", order)] if isinstance(left, Neumann) else [])
    out = {}
    with jax.enable_x64(True):
        kw = {} if periodic else {"left_value": jnp.asarray(ds["left"], jnp.float64),
                                  "right_value": jnp.asarray(ds["right"], jnp.float64)}
        for suffix, o in orders:
            err = metrics.boundary_error(jnp.asarray(u, jnp.float64), ds["x"], left, right, order=o, **kw)
            for side, v in err.items():
                out[side if periodic else f"{side}_{kind}{suffix}"] = np.asarray(v, np.float64).mean(-1)
    return out


def describe(bc) -> str:
    """A short name of a wall condition, e.g. ``Neumann(heater, order=3)``."""
    v = getattr(bc, "value", None)
    v = "" if v is None else (getattr(v, "__name__", "g") if callable(v) else f"{float(v):g}")
    order = f", order={bc.order}" if isinstance(bc, Neumann) else ""
    return f"{type(bc).__name__}({v}{order})"


def _stats(per_sample: dict) -> dict:
    return {k: {"mean": float(np.mean(v)), "max": float(np.max(v))} for k, v in per_sample.items()}


def _times(ds: dict, multi_step: bool):
    return ds["t"] if multi_step else ds["t"][-1]


def evaluate(model, ds: dict, problem: str, multi_step: bool, setting: Setting) -> dict:
    """Relative L2 (mean and standard error over samples), boundary errors, the mean absolute
    error over x, the relative L2 per output time (multi-step) and sample 0's prediction, in
    float64 on the (test) samples ``ds``."""
    data = model_inputs(ds, problem, multi_step, np.float64)
    with jax.enable_x64(True):
        pred = predict(model, data, _times(ds, multi_step), setting.eval_chunk)
    true = data["u"][:, 0]
    rel = np.linalg.norm((pred - true).reshape(len(true), -1), axis=1) / np.linalg.norm(true.reshape(len(true), -1), axis=1)
    err = np.abs(pred - true)
    out = {"rel_l2": float(rel.mean()), "rel_l2_se": float(rel.std(ddof=1) / np.sqrt(rel.size)) if rel.size > 1 else 0.0,
           "boundary": _stats(boundary(_time_major(pred, multi_step), ds, problem, setting.deriv_order)),
           "err_x": (err.mean(axis=(0, 2)) if multi_step else err.mean(0)).tolist(),
           "pred0": (pred[0, :, -1] if multi_step else pred[0]).tolist()}
    if multi_step:
        out["err_t"] = (np.linalg.norm(pred - true, axis=1) / np.linalg.norm(true, axis=1)).mean(0).tolist()
    return out


def _take(ds: dict, sl: slice) -> dict:
    return {k: (v[sl] if k not in ("x", "t") and v is not None else v) for k, v in ds.items()}


def case_sizes(problem: str, multi_step: bool, setting: Setting) -> dict:
    """``nx, n_train, n_test, epochs, step_size`` of one case (``None`` fields -> the preset)."""
    sizes = od.BOON_PROBLEMS[problem].sizes(multi_step, setting.quick)
    if multi_step:
        n_train, n_test, nx, epochs = setting.n_train_multi, setting.n_test_multi, setting.nx_multi, setting.epochs_multi
        step = setting.step_size_periodic_multi if problem == "burgers_periodic" else setting.step_size_multi
    else:
        n_train, n_test, nx, epochs, step = setting.n_train, setting.n_test, setting.nx, setting.epochs, setting.step_size
    return {"nx": nx or sizes.nx, "n_train": n_train or sizes.ntrain, "n_test": n_test or sizes.ntest,
            "epochs": epochs, "step_size": step}


def run_case(problem: str, multi_step: bool, setting: Setting = QUICK, *, seed: int = 0, progress: bool = True,
             log=print, checkpoints: Checkpoints | None = None) -> dict:
    """Data, the models, their evaluation (also at 2x resolution) for one case; JSON-able.
    ``checkpoints``: keeps each model's training state and result (units ``<case>/<model>``)."""
    ck = checkpoints or Checkpoints(None, {})
    sz = case_sizes(problem, multi_step, setting)
    n_train, n_test, n = sz["n_train"], sz["n_test"], sz["n_train"] + sz["n_test"]
    name = f"{problem}/{'multi' if multi_step else 'single'}"
    dtype = np.dtype(setting.dtype)
    start = time.perf_counter()
    gen = dict(multi_step=multi_step, quick=setting.quick, nx=sz["nx"], seed=seed)
    fine = generate(problem, n, fine=True, **gen) if setting.superres else None
    refine = od.BOON_PROBLEMS[problem].sizes(multi_step, setting.quick).refine
    if fine is not None and (refine % 2 == 0 or problem == "stokes"):
        ds = coarsen(fine)  # the same solve: every 2nd node of the fine set is the base set
    else:
        ds = generate(problem, n, **gen)
    train_ds, test_ds = _take(ds, slice(0, n_train)), _take(ds, slice(n - n_test, n))
    fine = None if fine is None else _take(fine, slice(n - n_test, n))
    coarse = None
    if setting.superres and problem in COARSE_OK:
        coarse = _take(generate(problem, n, coarse=True, **gen), slice(n - n_test, n))
    spe = n_train // setting.batch_size
    res = {"problem": problem, "multi_step": multi_step, "nx": int(ds["x"].size), "nt": int(ds["t"].size),
           "nx_2x": int(fine["x"].size) if fine else None,
           "nx_half": int(coarse["x"].size) if coarse else None, "n_train": n_train, "n_test": n_test,
           "epochs": sz["epochs"], "step_size": sz["step_size"], "steps": sz["epochs"] * spe,
           "bc": [describe(b) for b in od.boundary_conditions(problem)], "x": ds["x"].tolist(), "t": ds["t"].tolist(),
           "data_seconds": time.perf_counter() - start, "models": {}}
    res["truth"] = {"boundary": _stats(boundary(test_ds["u"], test_ds, problem, setting.deriv_order)),
                    "u0": (test_ds["u"][0, -1]).tolist()}
    if fine:
        res["truth"].update(boundary_2x=_stats(boundary(fine["u"], fine, problem, setting.deriv_order)),
                            u0_2x=fine["u"][0, -1].tolist())
        res["x_2x"] = fine["x"].tolist()
    log(f"[{name}] {n_train}+{n_test} samples on {res['nx']} nodes ({res['data_seconds']:.1f} s)")
    train_data = model_inputs(train_ds, problem, multi_step, dtype)
    t_train = jnp.asarray(_times(ds, multi_step), dtype)
    k_init, k_fit = jax.random.split(jax.random.PRNGKey(seed))
    for mname, model in make_models(problem, multi_step, setting, k_init, dtype).items():
        if ck.done(f"{name}/{mname}"):
            res["models"][mname] = ck.load(f"{name}/{mname}")
            continue
        t0 = time.perf_counter()
        model, hist = train(model, train_data, t_train, setting, epochs=sz["epochs"], step_size=sz["step_size"],
                            key=k_fit, progress=progress, fit_options=ck.fit_options(f"{name}/{mname}", progress))
        loss = np.asarray(hist.loss, np.float64).reshape(-1, spe).mean(1) / setting.batch_size
        m = {"train_seconds": time.perf_counter() - t0, "compile_seconds": hist.compile_seconds,
             "s_per_epoch": spe / hist.steps_per_second, "final_loss": float(loss[-1]), "loss": loss.tolist()}
        m.update(evaluate(model, test_ds, problem, multi_step, setting))
        if fine:
            ev = evaluate(model, fine, problem, multi_step, setting)
            m.update({f"{k}_2x": ev[k] for k in ("rel_l2", "boundary", "err_x", "pred0")})
        if coarse:
            ev = evaluate(model, coarse, problem, multi_step, setting)
            m.update({f"{k}_half": ev[k] for k in ("rel_l2", "boundary")})
        res["models"][mname] = m
        ck.save(f"{name}/{mname}", m)
        bnd = ", ".join(f"{k} {v['mean']:.1e}" for k, v in m["boundary"].items())
        log(f"[{name}] {mname}: rel L2 {m['rel_l2']:.4f}" + (f" (2x: {m['rel_l2_2x']:.4f})" if fine else "")
            + (f" (0.5x: {m['rel_l2_half']:.4f})" if coarse else "")
            + f", boundary {bnd}; {m['s_per_epoch']:.2f} s/epoch, {m['train_seconds']:.0f} s")
    return res


def run(setting: Setting = QUICK, out_dir: str | None = None, *, problems=None, seed: int = 0,
        progress: bool = True, log=print, checkpoints: Checkpoints | None = None) -> dict:
    """Every case of ``setting`` (optionally only ``problems``); writes the report into
    ``out_dir`` after each case when given. Returns ``{"setting", "seed", "cases", "seconds"}``.
    ``checkpoints``: a :class:`~physcon.experiments._run.Checkpoints` folder (units: the cases
    ``<problem>/single|multi`` and their models): a killed run resumed from it ends with the same
    numbers."""
    ck = checkpoints or Checkpoints(None, {})
    problems = tuple(problems or PROBLEMS)
    bad = [p for p in problems if p not in PROBLEMS]
    if bad:
        raise ValueError(f"unknown problems {bad}; choose from {PROBLEMS}")
    cases = [(p, False) for p in setting.single if p in problems] + [(p, True) for p in setting.multi if p in problems]
    start = time.perf_counter()
    result = {"setting": dataclasses.asdict(setting), "seed": seed, "backend": jax.default_backend(), "cases": {}}
    for problem, multi in cases:
        name = f"{problem}/{'multi' if multi else 'single'}"
        result["cases"][name] = ck.unit(name, lambda: run_case(
            problem, multi, setting, seed=seed, progress=progress, log=log, checkpoints=ck))
        result["seconds"] = time.perf_counter() - start
        if out_dir is not None:
            boon_report.write(result, out_dir, models=MODELS)
    return result
