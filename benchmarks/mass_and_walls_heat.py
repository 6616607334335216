"""Heat equation with Neumann walls: a BOON ensemble, then ProbConserv on mass only or on mass
and walls together (``physcon.constraints.mass_and_walls``).

What is run
-----------
BOON's multi-step heat problem (``u_t = 0.01 u_xx`` on ``[0, 1]``, ``u_x(0) = 0``,
``u_x(1) = 5 sin(pi t)``, ``u0 = cos(w pi x)``; physcon's quick preset: 64 nodes, 25 frames
on ``t in [0.5 - 24/199 * 0.5, 0.5]``). ``--members`` (4) BOON models over ``(x, t)`` (FNO width
16, 8 modes, physcon's faithful BOON) are trained from different keys on the same ``--train``
(60) samples for ``--epochs`` (20) epochs. On ``--test`` (10) held-out samples their
predictions form a ``LowRankGaussian.from_members`` (rank ``M``, plus a nugget of 10 % of the
mean between-member variance). The prediction is conditioned (``sigma_G = 0``) on

* ``mass``: the conservation law alone, ``int u dx = b(t)``, the closed form
  ``b(t) = int u0 dx + 0.01 * 5 (1 - cos(pi t)) / pi`` (trapezoid rule, ``int u0`` by the
  trapezoid rule of the input);
* ``mass+walls``: the same mass row and BOON's two Neumann stencils
  (``physcon.data.operator.boundary_conditions("heat_neumann")``: first order left, third order
  right), with their prescribed values.

Reported per method (mean over the test functions): relative L2 error against the solver's
solution, the largest mass residual ``|int u dx - b|`` and wall residuals
``|stencil . u - g|`` of the mean and of 32 posterior samples per function.

Run (about 3-6 min on a loaded 2-core CPU)::

    nice -n 5 python benchmarks/mass_and_walls_heat.py

Writes ``benchmarks/results/mass_and_walls_heat.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import physcon as pc
from physcon.constraints import conservation_law, mass_and_walls, probconserv
from physcon.data.operator import boundary_conditions
from physcon.distributions import LowRankGaussian
from physcon.experiments import boon as bx
from _machine import machine_info, write_result  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=4)
    p.add_argument("--train", type=int, default=60)
    p.add_argument("--test", type=int, default=10)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", default="benchmarks/results/mass_and_walls_heat.json")
    args = p.parse_args()
    setting = dataclasses.replace(bx.QUICK, single=(), multi=("heat_neumann",), n_train_multi=args.train,
                                  n_test_multi=args.test, epochs_multi=args.epochs, width_multi=16, modes_multi=8,
                                  ablation=False, compare_modes=False, superres=False)
    ds = bx.generate("heat_neumann", args.train + args.test, multi_step=True, quick=True)
    data = bx.model_inputs(ds, "heat_neumann", True, np.float32)
    train = {k: v[:args.train] for k, v in data.items()}
    test = {k: v[args.train:] for k, v in data.items()}
    t = ds["t"]
    t0 = time.perf_counter()
    preds = []
    for m in range(args.members):
        model = bx.make_models("heat_neumann", True, setting, jax.random.PRNGKey(100 + m))["BOON"]
        model, _ = bx.train(model, train, jnp.asarray(t, jnp.float32), setting, epochs=args.epochs,
                            step_size=setting.step_size_multi, key=jax.random.PRNGKey(200 + m), progress=False)
        with jax.enable_x64(True):
            preds.append(bx._time_major(bx.predict(model, test, t, setting.eval_chunk), True))  # (n, nt, nx)
    train_s = time.perf_counter() - t0
    preds = np.stack(preds, 1)  # (n, M, nt, nx)
    truth = ds["u"][args.train:]
    left, right = boundary_conditions("heat_neumann")
    rows = {}
    with jax.enable_x64(True):
        grid = pc.Grid1D.nodes(0.0, 1.0, ds["x"].size)
        tt = jnp.asarray(t)
        key = jax.random.PRNGKey(0)

        @jax.jit
        def run(members, u0, key):
            m0 = grid.integrate(u0)
            b = m0 + 0.01 * 5.0 * (1.0 - jnp.cos(jnp.pi * tt)) / jnp.pi
            spread = jnp.mean(jnp.var(members, 0))
            pred = LowRankGaussian.from_members(members, 0.1 * spread)
            walls = mass_and_walls(grid, tt, b, left=left, right=right)
            out = {"ensemble": (pred.mean, pred.sample(key, 32))}
            for name, law in (("mass", conservation_law(grid, tt, b)), ("mass+walls", walls)):
                post = probconserv(pred, law)
                out[name] = (post.mean, post.sample(key, 32))
            return {k: (walls.residual(mu), jax.vmap(walls.residual)(s), mu) for k, (mu, s) in out.items()}

        per = {k: {"rel_l2": [], "mass_mean": [], "walls_mean": [], "mass_samples": [], "walls_samples": []}
               for k in ("ensemble", "mass", "mass+walls")}
        for i in range(args.test):
            r = run(jnp.asarray(preds[i]), jnp.asarray(ds["a"][args.train + i]), jax.random.fold_in(key, i))
            for k, (rm, rs, mu) in r.items():
                per[k]["rel_l2"].append(float(np.linalg.norm(mu - truth[i]) / np.linalg.norm(truth[i])))
                per[k]["mass_mean"].append(float(jnp.abs(rm[:, 0]).max()))
                per[k]["walls_mean"].append(float(jnp.abs(rm[:, 1:]).max()))
                per[k]["mass_samples"].append(float(jnp.abs(rs[..., 0]).max()))
                per[k]["walls_samples"].append(float(jnp.abs(rs[..., 1:]).max()))
        # the closed-form mass against the solver's own (trapezoid) mass of the truth
        b_err = max(float(np.abs(grid.integrate(jnp.asarray(truth[i])) - (grid.integrate(jnp.asarray(ds["a"][args.train + i]))
                    + 0.01 * 5 * (1 - np.cos(np.pi * t)) / np.pi)).max()) for i in range(args.test))
    for k, v in per.items():
        rows[k] = {"rel_l2_mean": float(np.mean(v["rel_l2"])),
                   "rel_l2_se": float(np.std(v["rel_l2"], ddof=1) / np.sqrt(len(v["rel_l2"]))),
                   **{f"max_{m}": float(np.max(v[m])) for m in ("mass_mean", "walls_mean", "mass_samples", "walls_samples")}}
        print(f"{k:11s} relL2 {rows[k]['rel_l2_mean']:.4f} ({rows[k]['rel_l2_se']:.4f})  "
              f"|mass| mean {rows[k]['max_mass_mean']:.1e} samples {rows[k]['max_mass_samples']:.1e}  "
              f"|walls| mean {rows[k]['max_walls_mean']:.1e} samples {rows[k]['max_walls_samples']:.1e}", flush=True)
    print(f"training {args.members} members: {train_s:.0f} s; closed-form mass vs solver mass: {b_err:.1e}")
    write_result(args.out, dict(benchmark="mass_and_walls_heat", machine=machine_info(), args=vars(args),
                                train_seconds=train_s, closed_form_mass_vs_solver=b_err, nx=int(ds["x"].size),
                                nt=int(t.size), t=[float(v) for v in t], methods=rows))
    ok = all(rows[k]["max_mass_samples"] < 1e-10 and rows[k]["max_mass_mean"] < 1e-10 for k in ("mass", "mass+walls"))
    ok &= rows["mass+walls"]["max_walls_mean"] < 1e-10 and rows["mass+walls"]["max_walls_samples"] < 1e-10
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
