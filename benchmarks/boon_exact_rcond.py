"""Choosing ``rcond`` of BOON's exact mode by a validation split (issue 11 item 2).

Per 1-D single-step quick case (``physcon reproduce boon --quick`` data and recipe: 128 nodes,
width 32, modes 16, 50 epochs, batch 20), the first ``n_train`` samples of the quick training set
are split into ``n_fit`` samples that train and the remaining ones that **validate**; the quick
test samples (the last ``n_test``) are only reported. From one initial FNO (fixed seed) it trains
the FNO, faithful BOON, and exact BOON with the exact inverse (``rcond=0``) and with the damped
inverse at each ``--rconds`` value, then records validation and test relative L2, boundary
errors, zero-shot 2x relative L2 and ``physcon.constraints.boon_conditioning`` before and after
training. ``rcond`` is picked per case by the validation relative L2, and over all cases by the
geometric mean of the validation relative L2 (``summary``); the test set plays no part.

    python benchmarks/boon_exact_rcond.py [--problems stokes heat_neumann] [--out ...json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _machine import machine_info  # noqa: E402

from physcon.constraints import BOON, boon_conditioning  # noqa: E402
from physcon.data import operator as od  # noqa: E402
from physcon.experiments import boon as ex  # noqa: E402


def _cond_summary(model, nx) -> dict | None:
    if not isinstance(model, BOON) or model.mode != "exact":
        return None
    with jax.enable_x64(True):
        layers = boon_conditioning(ex._cast(model, jnp.float64), np.zeros((1, nx)))
    return {k: [float(lay["x"][k][0]) for lay in layers] for k in ("cond", "cond_regularised")}


def study(problem: str, rconds, *, n_fit: int, seed: int, log=print, widths=(), exact_inverse=True) -> dict:
    setting = dataclasses.replace(ex.QUICK, single=(problem,), multi=())
    sz = ex.case_sizes(problem, False, setting)
    n = sz["n_train"] + sz["n_test"]
    gen = dict(multi_step=False, quick=True, nx=sz["nx"], seed=seed)
    fine = ex.generate(problem, n, fine=True, **gen)
    refine = od.BOON_PROBLEMS[problem].sizes(False, True).refine
    ds = ex.coarsen(fine) if (refine % 2 == 0 or problem == "stokes") else ex.generate(problem, n, **gen)
    fit_ds, val_ds = ex._take(ds, slice(0, n_fit)), ex._take(ds, slice(n_fit, sz["n_train"]))
    test_ds, fine_test = ex._take(ds, slice(n - sz["n_test"], n)), ex._take(fine, slice(n - sz["n_test"], n))
    data = ex.model_inputs(fit_ds, problem, False, np.float32)
    t = jnp.asarray(ds["t"][-1], jnp.float32)
    k_init, k_fit = jax.random.split(jax.random.PRNGKey(seed))
    fno = ex.make_models(problem, False, setting, k_init)["FNO"]
    left, right = od.boundary_conditions(problem)
    models = {"FNO": fno, "faithful": BOON(fno, left=left, right=right, mode="faithful")}
    if exact_inverse:
        models["exact rcond=0"] = BOON(fno, left=left, right=right, mode="exact", rcond=0.0)
    for rc in rconds:
        models[f"exact rcond={rc:g}"] = BOON(fno, left=left, right=right, mode="exact", rcond=rc)
        for w in widths:  # the smooth correction of fixed physical width (BOON(width=...))
            models[f"exact rcond={rc:g} width={w:g}"] = BOON(fno, left=left, right=right, mode="exact", rcond=rc,
                                                            width=w)
    out = {"problem": problem, "nx": sz["nx"], "n_fit": n_fit, "n_val": sz["n_train"] - n_fit,
           "n_test": sz["n_test"], "epochs": sz["epochs"], "seed": seed, "models": {}}
    for name, model in models.items():
        t0 = time.perf_counter()
        cond0 = _cond_summary(model, sz["nx"])
        model, _ = ex.train(model, data, t, setting, epochs=sz["epochs"], step_size=sz["step_size"], key=k_fit,
                            progress=False)
        ev_val = ex.evaluate(model, val_ds, problem, False, setting)
        ev = ex.evaluate(model, test_ds, problem, False, setting)
        ev2 = ex.evaluate(model, fine_test, problem, False, setting)
        m = {"val_rel_l2": ev_val["rel_l2"], "test_rel_l2": ev["rel_l2"], "test_rel_l2_se": ev["rel_l2_se"],
             "test_rel_l2_2x": ev2["rel_l2"], "boundary": {k: v["mean"] for k, v in ev["boundary"].items()},
             "boundary_2x": {k: v["mean"] for k, v in ev2["boundary"].items()},
             "cond_init": cond0, "cond_trained": _cond_summary(model, sz["nx"]),
             "seconds": time.perf_counter() - t0}
        out["models"][name] = m
        log(f"[{problem}] {name:18s} val {m['val_rel_l2']:.4f}  test {m['test_rel_l2']:.4f}  "
            f"2x {m['test_rel_l2_2x']:.4f}  max boundary {max(m['boundary'].values()):.1e}  ({m['seconds']:.0f} s)")
    reg = {k: v for k, v in out["models"].items() if k.startswith("exact rcond=") and k != "exact rcond=0"}
    out["picked_by_validation"] = min(reg, key=lambda k: reg[k]["val_rel_l2"]) if reg else None
    log(f"[{problem}] picked by validation: {out['picked_by_validation']}")
    return out


def pick(cases: dict) -> dict:
    """The default over all cases: the ``rcond`` with the smallest geometric mean of the
    validation relative L2 over the cases that trained it (the cases' errors differ by 10x, so an
    arithmetic mean would be one case's pick)."""
    names = set.intersection(*(set(c["models"]) for c in cases.values()))
    reg = sorted(k for k in names if k.startswith("exact rcond=") and k != "exact rcond=0")
    gm = {k: float(np.exp(np.mean([np.log(c["models"][k]["val_rel_l2"]) for c in cases.values()]))) for k in reg}
    return {"geomean_val_rel_l2": gm, "picked": min(gm, key=gm.get) if gm else None}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", nargs="+", default=["stokes", "heat_neumann"])
    p.add_argument("--rconds", nargs="+", type=float, default=[1e-3, 1e-2, 1e-1, 3e-1])
    p.add_argument("--n-fit", type=int, default=160, help="of the 200 quick training samples; the rest validate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--widths", nargs="*", type=float, default=[],
                   help="also train BOON(width=w) (smooth wall correction) at every rcond")
    p.add_argument("--no-exact-inverse", action="store_true", help="skip the rcond=0 model")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "boon_exact_rcond.json"))
    args = p.parse_args(argv)
    start = time.perf_counter()
    res = {"machine": machine_info(), "rconds": args.rconds, "widths": args.widths, "cases": {}}
    for prob in args.problems:
        res["cases"][prob] = study(prob, args.rconds, n_fit=args.n_fit, seed=args.seed, widths=args.widths,
                                   exact_inverse=not args.no_exact_inverse)
        res["seconds"] = time.perf_counter() - start
        res["summary"] = pick(res["cases"])
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    print(f"picked over all cases by validation: {res['summary']['picked']} ({res['summary']['geomean_val_rel_l2']})")
    print(f"wrote {args.out} ({res['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
