"""BOON's training-step overhead over the same FNO, 1-D (issue 11, benchmarks; goal <= 1.2x).

One jit-compiled training step (forward, gradient of the reproduction's loss, Adam update) of
the quick 1-D configuration (batch 20, 128 nodes, modes 16, width 32, float32) for the FNO and
for BOON wrapping that FNO: faithful mode, exact mode with the default damped elimination
(``rcond=0.1``) and with the exact inverse (``rcond=0``), on the heat problem's Neumann walls
(order-5 stencils) and on Dirichlet walls. The models are timed in interleaved rounds (the
machine is shared), each round ``--steps`` steps per model; the median seconds per step and the
ratio to the FNO's are reported and saved.

    python benchmarks/boon_step_overhead.py [--rounds 7] [--steps 10] [--out ...json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(__file__))
from _machine import machine_info  # noqa: E402

import physcon as pc  # noqa: E402
from physcon.constraints import BOON  # noqa: E402
from physcon.data import operator as od  # noqa: E402
from physcon.experiments import boon as ex  # noqa: E402


def _step(model, opt, t, batch):
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        loss, g = jax.value_and_grad(lambda p: ex.loss_fn(eqx.combine(p, static), batch, None, t=t))(params)
        upd, state = opt.update(g, state, params)
        return optax.apply_updates(params, upd), state, loss

    return step, params, state


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--nx", type=int, default=128)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "boon_step_overhead.json"))
    args = ap.parse_args(argv)
    fno = pc.models.FNO(1, 1, 1, 16, 32, grid=True, key=jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(1)
    x = jnp.linspace(0.0, 1.0, args.nx)
    a = jnp.cos(jax.random.uniform(key, (20, 1, 1), minval=2.0, maxval=4.0) * jnp.pi * x)
    batch = {"a": a, "u": 0.5 * a}
    walls = {"neumann": od.boundary_conditions("heat_neumann"), "dirichlet": (pc.Dirichlet(0.2), pc.Dirichlet(-0.1))}
    models = {"FNO": fno}
    for wname, (left, right) in walls.items():
        models[f"faithful/{wname}"] = BOON(fno, left=left, right=right, mode="faithful")
        models[f"exact rcond=0.1/{wname}"] = BOON(fno, left=left, right=right, mode="exact")
        models[f"exact rcond=0/{wname}"] = BOON(fno, left=left, right=right, mode="exact", rcond=None)
    opt = ex.optimizer(ex.QUICK, 10, 15)
    t = jnp.float32(0.5)
    runs, times = {}, {k: [] for k in models}
    for name, m in models.items():
        step, p, s = _step(m, opt, t, batch)
        t0 = time.perf_counter()
        p, s, loss = step(p, s)
        jax.block_until_ready(loss)
        runs[name] = [step, p, s, time.perf_counter() - t0]
    for _ in range(args.rounds):
        for name, r in runs.items():
            step, p, s, _c = r
            t0 = time.perf_counter()
            for _ in range(args.steps):
                p, s, loss = step(p, s)
            jax.block_until_ready(loss)
            times[name].append((time.perf_counter() - t0) / args.steps)
            r[1], r[2] = p, s
    base = float(np.median(times["FNO"]))
    out = {"config": {"batch": 20, "nx": args.nx, "modes": 16, "width": 32, "dtype": "float32",
                      "rounds": args.rounds, "steps_per_round": args.steps},
           "machine": machine_info(), "models": {}}
    for name, ts in times.items():
        med = float(np.median(ts))
        out["models"][name] = {"s_per_step_median": med, "s_per_step_all": ts, "ratio_to_fno": med / base,
                               "compile_s": runs[name][3]}
        print(f"{name:28s} {1e3 * med:8.2f} ms/step  {med / base:6.2f}x FNO  (compile {runs[name][3]:.1f} s)")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
