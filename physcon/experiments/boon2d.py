"""BOON in 2-D space (Saad et al., ICLR 2023, §4.1 lid-driven cavity and §4.2.2 wave): FNO vs
BOON over ``(x, y, t)`` with conditions on all four walls.

=========== ============================================ =======================================
problem     data                                         walls (BOON)
=========== ============================================ =======================================
``cavity``  :func:`physcon.navier_stokes.generate          Dirichlet on all four walls, values
            _cavity_dataset`: vorticity, ``Re = 100``,   read from the ground truth (the
            random no-slip perturbation of the fluid at  paper's oracle wall vorticity; they
            rest, impulsively started lid                 agree at the corners)
``wave``    :func:`physcon.solvers.wave.generate_wave_   zero Neumann on all four walls
            neumann`: ``u_tt = u_xx + u_yy``, GRF         (second-order one-sided stencils)
            initial displacement, zero velocity
=========== ============================================ =======================================

The map is the paper's multi-step one: the input field at ``t = 0`` (repeated along ``t``, plus
the ``(x, y, t)`` coordinates) to the ``n_frames`` later frames, with the 3-D FNO of the
reference (modes ``8 x 8 x 8``, width 20, time padded by 6 points) in :data:`PAPER`. Training
is the recipe of :mod:`physcon.experiments.boon` (Adam 1e-3, coupled weight decay 1e-4, step
decay 0.5, relative L2 summed over the batch); every model of a problem starts from the same
initial FNO. Models: ``FNO``; ``BOON`` (``mode`` of the setting, ``faithful`` by default, the
published 3-D algorithm with the y walls overwritten); ``BOON-output`` (output enforcement only);
with ``compare_modes`` BOON in the other mode.

Evaluation in float64 on the last ``n_test`` samples: mean relative L2 over ``(x, y, t)``, the
relative L2 of each frame, and the boundary errors (every wall off the four corners, where
:class:`physcon.constraints.BOON` imposes only the axis its ``corners`` option picks): the Dirichlet value error, the
Neumann derivative error with the condition's own stencil and with an independent third-order
one. With ``superres`` the same samples generated on a grid with half the spacing are evaluated
zero-shot. :func:`write` saves ``results.json``, ``table.md`` and the figures.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from physcon.bc import Dirichlet, Neumann, boundary_stencil
from physcon.constraints import BOON
from physcon.experiments._run import Checkpoints
from physcon.experiments.boon import _cast, optimizer, relative_l2
from physcon.models import FNO
from physcon.train import fit

PROBLEMS = ("cavity", "wave")


@dataclasses.dataclass(frozen=True)
class Setting:
    """Sizes of one 2-D reproduction (:data:`PAPER`: the reference's; :data:`QUICK`: minutes on a
    2-core CPU). ``n``: nodes per side (walls included); ``n_frames`` output frames at
    ``t_k = k t_final / n_frames``."""

    problems: tuple = PROBLEMS
    n_train: int = 1000
    n_test: int = 200
    n: int = 50
    n_frames: int = 25
    t_final: float = 1.0
    epochs: int = 500
    step_size: int = 100
    batch_size: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-4
    gamma: float = 0.5
    modes: tuple = (8, 8, 8)
    width: int = 20
    pad_t: int = 6
    mode: str = "faithful"
    ablation: bool = True
    compare_modes: bool = False
    superres: bool = True
    dtype: str = "float32"
    log_every: int = 25


PAPER = Setting()
QUICK = Setting(n_train=60, n_test=12, n=20, n_frames=8, epochs=25, step_size=10, batch_size=10, modes=(6, 6, 4),
                width=10, pad_t=3, log_every=6)


# --- data ------------------------------------------------------------------------------------
def generate(problem: str, n_samples: int, n: int, setting: Setting, seed: int) -> dict:
    """``{"x": (n,), "t": (nt,), "a": (N, n, n), "u": (N, n, n, nt)}`` in float64 NumPy."""
    with jax.enable_x64(True):
        if problem == "cavity":
            from physcon.solvers.navier_stokes import generate_cavity_dataset

            ds = generate_cavity_dataset(n_samples, key=jax.random.PRNGKey(seed), n=n, t_final=setting.t_final,
                                         n_frames=setting.n_frames, dtype=jnp.float64)
            a, u, x, t = ds.w0, ds.w, ds.x, ds.t
        elif problem == "wave":
            from physcon.solvers.wave import generate_wave_neumann

            ds = generate_wave_neumann(n_samples, nx=n, nt=setting.n_frames, t_final=setting.t_final, seed=seed,
                                       dtype=jnp.float64)
            a, u, x, t = ds.a, ds.u, ds.x, ds.t
        else:
            raise ValueError(f"problem must be one of {PROBLEMS}, got {problem!r}")
        return {"x": np.asarray(x, np.float64), "t": np.asarray(t, np.float64), "a": np.asarray(a, np.float64),
                "u": np.moveaxis(np.asarray(u, np.float64), 1, -1)}


def walls(problem: str) -> dict:
    """The four walls' conditions (cavity: Dirichlet placeholders whose values come per sample)."""
    if problem == "cavity":
        return {k: Dirichlet(0.0) for k in ("left", "right", "bottom", "top")}
    return {k: Neumann(0.0, order=2) for k in ("left", "right", "bottom", "top")}


def model_inputs(ds: dict, problem: str, dtype) -> dict:
    """``a``/``u`` as ``(N, 1, n, n, nt)``; cavity also the oracle wall values ``(N, n, nt)``."""
    nt = ds["u"].shape[-1]
    out = {"a": np.repeat(ds["a"][:, None, :, :, None], nt, -1).astype(dtype), "u": ds["u"][:, None].astype(dtype)}
    if problem == "cavity":
        u = ds["u"]
        out.update(left=u[:, 0], right=u[:, -1], bottom=u[:, :, 0], top=u[:, :, -1])
        out = {k: v.astype(dtype) for k, v in out.items()}
    return out


# --- models, training, evaluation ------------------------------------------------------------
def make_models(problem: str, setting: Setting, key, dtype=jnp.float32) -> dict:
    nt = setting.n_frames
    fno = FNO(3, 1, 1, setting.modes, setting.width, grid=True, padding=(0.0, 0.0, setting.pad_t / nt), key=key)
    fno = _cast(fno, dtype)
    bc = walls(problem)
    models = {"FNO": fno, "BOON": BOON(fno, **bc, mode=setting.mode)}
    if setting.ablation:
        models["BOON-output"] = BOON(fno, **bc, mode=setting.mode, per_layer=False)
    if setting.compare_modes:
        other = "faithful" if setting.mode == "exact" else "exact"
        models[f"BOON-{other}"] = BOON(fno, **bc, mode=other)
    return models


def apply(model, batch: dict, t) -> jax.Array:
    """Batched prediction ``(B, 1, n, n, nt)`` (oracle wall values when the batch has them)."""
    if isinstance(model, FNO):
        return jax.vmap(model)(batch["a"])
    if "left" in batch:
        return jax.vmap(lambda a, l, r, b, tp: model(a, t, left=l, right=r, bottom=b, top=tp))(
            batch["a"], batch["left"], batch["right"], batch["bottom"], batch["top"])
    return jax.vmap(lambda a: model(a, t))(batch["a"])


def train(model, data: dict, t, setting: Setting, key, progress=True, fit_options: dict | None = None):
    spe = data["a"].shape[0] // setting.batch_size
    steps = setting.epochs * spe
    loss = lambda m, b, k: jnp.sum(relative_l2(apply(m, b, t), b["u"]))
    return fit(model, loss, data, optimizer(setting, spe, setting.step_size), steps=steps,
               batch_size=setting.batch_size, key=key, log_every=math.gcd(steps, setting.log_every),
               **{"progress": progress, **(fit_options or {})})


_predict = eqx.filter_jit(apply)


def predict(model, data: dict, t, chunk: int = 10) -> np.ndarray:
    """Float64 predictions ``(N, n, n, nt)``."""
    with jax.enable_x64(True):
        model = _cast(model, jnp.float64)
        tt = jnp.asarray(t, jnp.float64)
        n = data["a"].shape[0]
        out = [np.asarray(_predict(model, {k: jnp.asarray(v[i:i + chunk], jnp.float64) for k, v in data.items()}, tt))
               for i in range(0, n, chunk)]
    return np.concatenate(out)[:, 0]


def _residual(u, x, bc, side, g, order=None):
    """``|sum_j w_j u[..., i_j] - g|`` of one wall of the last axis of ``u``."""
    idx, w = boundary_stencil(bc, x, side, order=order)
    return np.abs(np.asarray(u)[..., idx] @ w - g)


def boundary_errors(u: np.ndarray, ds: dict, problem: str) -> dict:
    """Per-sample maxima over each wall (and t) of the boundary residuals, ``{metric: (N,)}``.

    Every wall is measured off the four corners: there an x and a y condition meet and, unless
    the data agree, only the one that :class:`BOON`'s ``corners`` option picks can hold.
    """
    x = ds["x"]
    ux = np.moveaxis(u[:, :, 1:-1], 1, -1)          # (N, n - 2, nt, n): x walls on the last axis, y interior
    uy = np.moveaxis(u[:, 1:-1], 2, -1)             # (N, n - 2, nt, n): y walls, x interior
    ref = ds["u"]
    out = {}
    for name, arr, truth in (("x", ux, np.moveaxis(ref[:, :, 1:-1], 1, -1)), ("y", uy, np.moveaxis(ref[:, 1:-1], 2, -1))):
        for side, label in (("left", "lo"), ("right", "hi")):
            if problem == "cavity":
                g = truth[..., 0 if side == "left" else -1]
                out[f"{name}_{label}_value"] = _residual(arr, x, Dirichlet(0.0), side, g).reshape(len(u), -1).max(1)
            else:
                bc = Neumann(0.0, order=2)
                out[f"{name}_{label}_derivative"] = _residual(arr, x, bc, side, 0.0).reshape(len(u), -1).max(1)
                out[f"{name}_{label}_derivative_indep"] = _residual(arr, x, bc, side, 0.0, order=3).reshape(
                    len(u), -1).max(1)
    return out


def evaluate(pred: np.ndarray, ds: dict, problem: str) -> dict:
    true = ds["u"]
    d = (pred - true).reshape(len(true), -1, true.shape[-1])
    frame = np.linalg.norm(d, axis=1) / np.linalg.norm(true.reshape(len(true), -1, true.shape[-1]), axis=1)
    rel = np.linalg.norm(d.reshape(len(true), -1), axis=1) / np.linalg.norm(true.reshape(len(true), -1), axis=1)
    bnd = boundary_errors(pred, ds, problem)
    return {"rel_l2": float(rel.mean()), "rel_l2_t": frame.mean(0).tolist(),
            "boundary": {k: {"mean": float(v.mean()), "max": float(v.max())} for k, v in bnd.items()}}


def run_problem(problem: str, setting: Setting = QUICK, *, seed: int = 0, progress: bool = True, log=print,
                checkpoints: Checkpoints | None = None):
    ck = checkpoints or Checkpoints(None, {})
    start = time.perf_counter()
    n_all = setting.n_train + setting.n_test
    ds = generate(problem, n_all, setting.n, setting, seed)
    take = lambda d, sl: {k: (v[sl] if k in ("a", "u") else v) for k, v in d.items()}
    train_ds, test_ds = take(ds, slice(0, setting.n_train)), take(ds, slice(n_all - setting.n_test, n_all))
    fine = None
    if setting.superres:  # the same samples (same seeds) on the grid with half the spacing
        fine = generate(problem, n_all, 2 * setting.n - 1, setting, seed)
        fine = take(fine, slice(n_all - setting.n_test, n_all))
    res = {"problem": problem, "n": setting.n, "n_2x": 2 * setting.n - 1 if fine else None, "t": ds["t"].tolist(),
           "data_seconds": time.perf_counter() - start, "models": {},
           "truth": {"boundary": {k: {"mean": float(v.mean()), "max": float(v.max())}
                                  for k, v in boundary_errors(test_ds["u"], test_ds, problem).items()}}}
    log(f"[{problem}] {setting.n_train}+{setting.n_test} samples on {setting.n}^2 x {setting.n_frames} "
        f"({res['data_seconds']:.1f} s)")
    dtype = np.dtype(setting.dtype)
    data = model_inputs(train_ds, problem, dtype)
    t = jnp.asarray(ds["t"], dtype)
    k_init, k_fit = jax.random.split(jax.random.PRNGKey(seed))
    preds = {}
    for name, model in make_models(problem, setting, k_init, jnp.dtype(dtype)).items():
        if ck.done(f"{problem}/{name}"):
            res["models"][name], preds[name] = ck.load(f"{problem}/{name}")
            continue
        t0 = time.perf_counter()
        model, hist = train(model, data, t, setting, k_fit, progress=progress,
                            fit_options=ck.fit_options(f"{problem}/{name}", progress))
        spe = setting.n_train // setting.batch_size
        m = {"train_seconds": time.perf_counter() - t0, "s_per_epoch": spe / hist.steps_per_second,
             "loss": (np.asarray(hist.loss, np.float64).reshape(-1, spe).mean(1) / setting.batch_size).tolist()}
        pred = predict(model, model_inputs(test_ds, problem, np.float64), ds["t"])
        m.update(evaluate(pred, test_ds, problem))
        preds[name] = pred[0]
        if fine is not None:
            ev = evaluate(predict(model, model_inputs(fine, problem, np.float64), fine["t"]), fine, problem)
            m.update({f"{k}_2x": v for k, v in ev.items()})
        res["models"][name] = m
        ck.save(f"{problem}/{name}", (m, preds[name]))
        bmax = max(v["max"] for v in m["boundary"].values())
        log(f"[{problem}] {name}: rel L2 {m['rel_l2']:.4f}" + (f" (2x: {m['rel_l2_2x']:.4f})" if fine else "")
            + f", max boundary error {bmax:.1e}; {m['s_per_epoch']:.2f} s/epoch")
    res["sample0"] = {"truth": test_ds["u"][0], "a": test_ds["a"][0], "x": ds["x"], **preds}
    return res


def run(setting: Setting = QUICK, out_dir: str | None = None, *, problems=None, seed: int = 0, progress=True,
        log=print, checkpoints: Checkpoints | None = None) -> dict:
    """Every problem of ``setting`` (or ``problems``); the report goes to ``out_dir`` after each.
    ``checkpoints``: a :class:`~physcon.experiments._run.Checkpoints` folder (units: the problems and
    ``<problem>/<model>``): a killed run resumed from it ends with the same numbers."""
    ck = checkpoints or Checkpoints(None, {})
    problems = tuple(problems or setting.problems)
    bad = [p for p in problems if p not in PROBLEMS]
    if bad:
        raise ValueError(f"unknown problems {bad}; choose from {PROBLEMS}")
    start = time.perf_counter()
    result = {"setting": dataclasses.asdict(setting), "seed": seed, "backend": jax.default_backend(), "problems": {}}
    for p in problems:
        result["problems"][p] = ck.unit(p, lambda: run_problem(p, setting, seed=seed, progress=progress, log=log,
                                                              checkpoints=ck))
        result["seconds"] = time.perf_counter() - start
        if out_dir is not None:
            write(result, out_dir)
    return result


# --- report ----------------------------------------------------------------------------------
def _g(v):
    return "-" if v is None else ("0" if v == 0 else (f"{v:.3g}" if 1e-2 <= abs(v) < 1e3 else f"{v:.1e}"))


def markdown(result: dict) -> str:
    s = result["setting"]
    lines = ["# BOON in 2-D space: lid-driven cavity and wave equation", "",
             f"{s['n_train']} train / {s['n_test']} test samples on {s['n']} x {s['n']} nodes, {s['n_frames']} frames "
             f"to t = {s['t_final']}; FNO over (x, y, t), modes {tuple(s['modes'])}, width {s['width']}, time padded by "
             f"{s['pad_t']}; {s['epochs']} epochs, batch {s['batch_size']}, Adam {s['lr']} with coupled weight decay "
             f"{s['weight_decay']}, lr x{s['gamma']} every {s['step_size']} epochs; BOON mode `{s['mode']}`; trained in "
             f"{s['dtype']}, evaluated in float64. Seed {result['seed']}, backend {result['backend']}, total "
             f"{result.get('seconds', 0):.0f} s. 2x: the same samples generated on 2n - 1 nodes, no retraining.", "",
             "## Relative L2 (test mean) and time", "",
             "| problem | model | rel L2 | rel L2 (2x, zero-shot) | rel L2 first / last frame | s/epoch |",
             "|---|---|---|---|---|---|"]
    for p, r in result["problems"].items():
        for name, m in r["models"].items():
            lines.append(f"| {p} | {name} | {_g(m['rel_l2'])} | {_g(m.get('rel_l2_2x'))} | "
                         f"{_g(m['rel_l2_t'][0])} / {_g(m['rel_l2_t'][-1])} | {_g(m['s_per_epoch'])} |")
    lines += ["", "## Boundary errors (max over the wall and t per sample; mean over samples)", "",
              "`x_lo`/`x_hi`: the walls x = 0, 1; `y_lo`/`y_hi`: y = 0, 1 (all off the four corners, where only the "
              "condition BOON's `corners` option picks can hold). "
              "`_value`: Dirichlet; `_derivative`: the condition's own 2nd-order stencil (the one BOON imposes); "
              "`_derivative_indep`: an independent 3rd-order stencil. `truth`: the data's own discrete error.", ""]
    for p, r in result["problems"].items():
        names = list(r["models"])
        lines += [f"### {p}", "", "| metric | truth | " + " | ".join(names) + " | " + " | ".join(f"{n} (2x)" for n in names)
                  + " |", "|---" * (2 + 2 * len(names)) + "|"]
        for metric, tv in r["truth"]["boundary"].items():
            row = [_g(r["models"][n]["boundary"][metric]["mean"]) for n in names]
            row += [_g(r["models"][n].get("boundary_2x", {}).get(metric, {}).get("mean")) for n in names]
            lines.append(f"| `{metric}` | {_g(tv['mean'])} | " + " | ".join(row) + " |")
        lines.append("")
    lines += ["## Figures", ""] + [f"- `{p}_fields.png`, `{p}_error_t.png`" for p in result["problems"]]
    return "\n".join(lines) + "\n"


def figures(result: dict, out_dir: str) -> list[str]:
    from physcon.plots import _pyplot

    plt = _pyplot()
    paths = []
    for p, r in result["problems"].items():
        s0 = r["sample0"]
        names = [n for n in r["models"] if n in s0]
        fig, ax = plt.subplots(2, 1 + len(names), figsize=(3.2 * (1 + len(names)), 6), squeeze=False)
        truth = np.asarray(s0["truth"])[..., -1]
        lim = np.abs(truth).max()
        ext = (0, 1, 0, 1)
        ax[0, 0].imshow(truth.T, origin="lower", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax[0, 0].set_title("truth, last frame")
        ax[1, 0].imshow(np.asarray(s0["a"]).T, origin="lower", extent=ext, cmap="RdBu_r")
        ax[1, 0].set_title("input (t = 0)")
        for j, n in enumerate(names, 1):
            pr = np.asarray(s0[n])[..., -1]
            ax[0, j].imshow(pr.T, origin="lower", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax[0, j].set_title(n)
            im = ax[1, j].imshow(np.abs(pr - truth).T, origin="lower", extent=ext, cmap="magma")
            ax[1, j].set_title(f"|{n} - truth|")
            fig.colorbar(im, ax=ax[1, j], shrink=0.8)
        fig.suptitle(f"{p}: test sample 0")
        fig.tight_layout()
        paths.append(os.path.join(out_dir, f"{p}_fields.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for n, m in r["models"].items():
            ax.plot(r["t"], m["rel_l2_t"], marker="o", ms=3, label=n)
        ax.set_xlabel("t")
        ax.set_ylabel("relative L2 (test mean)")
        ax.set_yscale("log")
        ax.legend()
        ax.set_title(f"{p}: error over time")
        fig.tight_layout()
        paths.append(os.path.join(out_dir, f"{p}_error_t.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def write(result: dict, out_dir: str) -> dict:
    """``results.json`` (without the sample fields), ``table.md`` and the figures."""
    os.makedirs(out_dir, exist_ok=True)
    slim = {**result, "problems": {p: {k: v for k, v in r.items() if k != "sample0"}
                                   for p, r in result["problems"].items()}}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(slim, f, indent=1)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(markdown(result))
    return {"table": os.path.join(out_dir, "table.md"), "figures": figures(result, out_dir)}
