"""Tables and figures of the BOON reproduction (from :func:`physcon.experiments.boon.run`).

* :func:`markdown`: the relative-L2 table (rows = cases; FNO / BOON / BOON-output at the
  training resolution and zero-shot at 2x, seconds per epoch, the paper's number where known)
  and the boundary-error table (per metric: the ground truth's own discrete error, then each
  model's).
* :func:`figures`: per case, test sample 0 against the truth with zooms on both walls; the mean
  absolute error over x, the training loss, and (multi-step) the relative L2 over time.
* :func:`write`: ``results.json``, ``table.md`` and the figures.
"""

from __future__ import annotations

import json
import os

import numpy as np

from physcon.plots import _pyplot

#: The paper's numbers we could verify (research/boon.md §4.1): BOON's multi-step test relative
#: L2 logged in the reference notebooks (Stokes nu = 0.1, N = 500; heat Neumann, last logged
#: epoch ~385; periodic Burgers, PINO data, last epoch). The single-step tables could not be
#: retrieved.
PAPER_REL_L2 = {"stokes/multi": {"BOON": 1.23e-2}, "heat_neumann/multi": {"BOON": 2.2e-2},
                "burgers_periodic/multi": {"BOON": 8.9e-4}}
#: Paper Fig. 1 (heat, Neumann; which data set is not stated): FNO's boundary derivative error.
PAPER_HEAT_FNO_DERIVATIVE = {"left": 1.99, "right": 11.09}
_COLORS = {"FNO": "C0", "BOON": "C3", "BOON-output": "C2", "BOON-faithful": "C1", "BOON-exact": "C1"}


def _g(v) -> str:
    if v is None or not np.isfinite(v):
        return "-"
    if v == 0:
        return "0"
    return f"{v:.3g}" if 1e-2 <= abs(v) < 1e3 else f"{v:.1e}"


def markdown(result: dict, models=None) -> str:
    """The two tables of a run; one column per model, in the order of ``models`` (default: as they
    first appear in the cases; :func:`physcon.experiments.boon.run` passes its ``MODELS``)."""
    cases = result["cases"]
    trained = list(dict.fromkeys(m for c in cases.values() for m in c["models"]))
    models = [m for m in (models or trained) if m in trained]
    sr = any(c.get("nx_2x") for c in cases.values())
    head = ["case", "nx", "steps"] + [f"{m} rel L2" for m in models]
    half = any(c.get("nx_half") for c in cases.values())
    if sr:
        head += [f"{m} rel L2 (2x, zero-shot)" for m in models]
    if half:
        head += [f"{m} rel L2 (0.5x, zero-shot)" for m in models]
    head += [f"{m} s/epoch" for m in models] + ["paper (BOON)"]
    lines = ["## Relative L2 error (test samples, mean) and training time", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, c in cases.items():
        ms = c["models"]
        row = [name, str(c["nx"]) + (f" x {c['nt']}" if c["multi_step"] else ""), str(c["steps"])]
        row += [_g(ms[m]["rel_l2"]) if m in ms else "-" for m in models]
        if sr:
            row += [_g(ms[m].get("rel_l2_2x")) if m in ms else "-" for m in models]
        if half:
            row += [_g(ms[m].get("rel_l2_half")) if m in ms else "-" for m in models]
        row += [f"{ms[m]['s_per_epoch']:.3g}" if m in ms else "-" for m in models]
        row.append(_g(PAPER_REL_L2.get(name, {}).get("BOON")))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Boundary errors", "",
              "Absolute error per test sample (averaged over the output times for multi-step), then mean "
              "over samples (max in brackets). `*_value`: Dirichlet `|u_wall - g|`; `*_derivative`: "
              "`|D u_wall - g|` with the condition's own one-sided stencil (the one BOON enforces); "
              "`*_derivative_indep`: with an independent stencil of order "
              f"{result['setting']['deriv_order']}; `periodic`: `|u_0 - u_L|`. `truth` is the ground-truth "
              "data's own discrete error (the floor a perfect prediction would show).", ""]
    head = ["case", "metric", "truth"] + models + (["truth (2x)"] + [f"{m} (2x)" for m in models] if sr else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, c in cases.items():
        for k, tv in c["truth"]["boundary"].items():
            row = [name, f"`{k}`", _g(tv["mean"])]
            row += [f"{_g(c['models'][m]['boundary'][k]['mean'])} ({_g(c['models'][m]['boundary'][k]['max'])})"
                    if m in c["models"] else "-" for m in models]
            if sr and "boundary_2x" in c["truth"]:
                row.append(_g(c["truth"]["boundary_2x"][k]["mean"]))
                row += [_g(c["models"][m]["boundary_2x"][k]["mean"]) if m in c["models"] else "-" for m in models]
            lines.append("| " + " | ".join(row) + " |")
    if any(n.startswith("heat_neumann") for n in cases):
        lines += ["", f"Paper Fig. 1 (heat, Neumann): FNO's boundary derivative error "
                  f"{PAPER_HEAT_FNO_DERIVATIVE['left']} (insulated left wall) and "
                  f"{PAPER_HEAT_FNO_DERIVATIVE['right']} (heater, right wall); BOON ~ 0."]
    return "\n".join(lines) + "\n"


def figures(result: dict, out_dir: str) -> list[str]:
    """Two figures per case (three panels each); returns the written paths."""
    plt = _pyplot()
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, c in result["cases"].items():
        tag = name.replace("/", "_")
        x = np.asarray(c["x"])
        frame = f", t = {c['t'][-1]:.3g}" + (" (last frame)" if c["multi_step"] else "")
        k = max(6, len(x) // 16)
        fig, ax = plt.subplots(1, 3, figsize=(15, 3.8), constrained_layout=True,
                               gridspec_kw={"width_ratios": [2, 1, 1]})
        for a, sl, title in ((ax[0], slice(None), "test sample 0" + frame), (ax[1], slice(0, k), "left wall"),
                             (ax[2], slice(len(x) - k, None), "right wall")):
            a.plot(x[sl], np.asarray(c["truth"]["u0"])[sl], "k--", lw=1.6, label="truth")
            for m, r in c["models"].items():
                a.plot(x[sl], np.asarray(r["pred0"])[sl], color=_COLORS[m], lw=1.2,
                       marker="." if sl != slice(None) else None, label=m)
            a.set(xlabel="x", title=title)
        ax[0].set_ylabel("u")
        ax[0].legend(fontsize=8)
        fig.suptitle(f"{name}: {', '.join(c['bc'])}", fontsize=9)
        paths.append(os.path.join(out_dir, f"{tag}_prediction.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

        n = 3 if c["multi_step"] else 2
        fig, ax = plt.subplots(1, n, figsize=(5 * n, 3.6), constrained_layout=True)
        for m, r in c["models"].items():
            ax[0].semilogy(x, np.maximum(r["err_x"], 1e-18), color=_COLORS[m], lw=1.2, label=m)
            ax[1].semilogy(np.arange(1, len(r["loss"]) + 1), r["loss"], color=_COLORS[m], lw=1.2, label=m)
            if c["multi_step"]:
                ax[2].plot(c["t"], r["err_t"], color=_COLORS[m], lw=1.2, marker=".", label=m)
        ax[0].set(xlabel="x", ylabel="mean |u_pred - u|", title="error over x (test)")
        ax[1].set(xlabel="epoch", ylabel="relative L2 (train, per sample)", title="training loss")
        if c["multi_step"]:
            ax[2].set(xlabel="t", ylabel="relative L2 (test, mean)", title="error over time")
        ax[0].legend(fontsize=8)
        fig.suptitle(name, fontsize=9)
        paths.append(os.path.join(out_dir, f"{tag}_error.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def write(result: dict, out_dir: str, *, title: str | None = None, models=None) -> dict:
    """``results.json``, ``table.md`` and the figures into ``out_dir``; returns their paths.
    ``models``: the tables' column order (:func:`markdown`)."""
    os.makedirs(out_dir, exist_ok=True)
    st = result["setting"]
    figs = figures(result, out_dir)
    title = title or "BOON reproduction"
    lines = [f"# {title}", ""]
    for multi, what in ((False, "Single-step (1-D FNO)"), (True, "Multi-step ((x, t) FNO, 25 frames)")):
        cs = [c for c in result["cases"].values() if c["multi_step"] == multi]
        if cs:
            m, w = (st["modes_multi"], st["width_multi"]) if multi else (st["modes"], st["width"])
            lines.append(f"{what}: {cs[0]['n_train']} train / {cs[0]['n_test']} test samples, modes {m} width {w}, "
                         f"{cs[0]['epochs']} epochs = {cs[0]['steps']} steps (lr halved every {cs[0]['step_size']} "
                         "epochs).")
    lines += [f"Batch {st['batch_size']}, Adam lr {st['lr']} with coupled weight decay {st['weight_decay']}, loss = "
              f"relative L2 summed over the batch; BOON mode `{st['mode']}`; trained in {st['dtype']}, evaluated in "
              f"float64. Seed {result['seed']}, backend {result.get('backend')}, total "
              f"{result.get('seconds', float('nan')):.0f} s.", "",
              "`BOON-output` is the ablation `per_layer=False` (exact output overwrite only); `BOON-faithful` / "
              "`BOON-exact` is BOON in the other mode. All models of a case start from the same initial FNO. "
              "2x: the same test inputs on a grid with half the spacing, no retraining; 0.5x (heat and Stokes, "
              "whose inputs are closed-form functions): on (nx + 1) // 2 nodes, about twice the spacing.", "", markdown(result, models),
              "## Figures", ""]
    lines += [f"- `{os.path.basename(p)}`" for p in figs]
    table = os.path.join(out_dir, "table.md")
    with open(table, "w") as f:
        f.write("\n".join(lines) + "\n")
    path = os.path.join(out_dir, "results.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    return {"table": table, "results": path, "figures": figs}
