"""The default ``physcon.gpme.solve`` call, old against new code, and the cost of the traced path.

What is measured (one Stefan problem, ``u* = 0.6``, ``nx = 200`` cells, ``t = linspace(0, 0.1, 11)``,
the README's call; float32, JAX's default):

* ``default_eager``: ``gpme.solve(Stefan(0.6), grid, t)`` with concrete inputs, no ``substeps``
  (the step count is chosen in Python; this path must stay within 1.2x of the code it replaces);
* ``static_jit``: ``jax.jit(lambda us: solve(Stefan(us), grid, t, substeps=S))``;
* ``traced_jit`` (new code only): ``jax.jit(lambda us: solve(Stefan(us), grid, t))``, the step
  count chosen at run time per interval inside a bounded while loop;
* ``traced_grad`` (new code only): ``jax.jit(jax.grad(...))`` of the final mass behind x = 0.1.

Each side runs in its own process (``--old PATH`` puts an older checkout first on ``sys.path``);
old and new processes alternate ``--rounds`` times; each process times ``--repeats`` calls after
a warm-up and reports their median; the JSON holds every round and the medians of the rounds.

    python benchmarks/gpme_transforms.py --old /path/to/old/checkout      # ~2 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    import physcon as pc

    grid = pc.Grid1D.cells(0.0, 1.0, n=200)
    t = jnp.linspace(0.0, 0.1, 11)
    S = pc.gpme.stable_substeps(pc.gpme.Stefan(0.6), grid, t)
    cases = {
        "default_eager": lambda: pc.gpme.solve(pc.gpme.Stefan(0.6), grid, t),
        "static_jit": (lambda f: lambda: f(0.6))(
            jax.jit(lambda us: pc.gpme.solve(pc.gpme.Stefan(us), grid, t, substeps=S))),
    }
    traced = jax.jit(lambda us: pc.gpme.solve(pc.gpme.Stefan(us), grid, t))
    mass = lambda us: (pc.gpme.solve(pc.gpme.Stefan(us), grid, t)[-1] * (grid.x > 0.1)).sum() * grid.dx
    try:
        traced(0.6)
        grad = jax.jit(jax.grad(mass))
        cases["traced_jit"] = lambda: traced(0.6)
        cases["traced_grad"] = lambda: grad(0.6)
    except ValueError:  # the old code: substeps= required under transforms
        pass
    out = {}
    for name, call in cases.items():
        t0 = time.perf_counter()
        jax.block_until_ready(call())
        first = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(call())
            times.append(time.perf_counter() - t0)
        out[name] = {"first_s": first, "median_s": statistics.median(times)}
    out["substeps"] = S
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="checkout of the code to compare against")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(HERE / "results" / "gpme_transforms.json"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.repeats)))
        return
    if not args.old:
        ap.error("--old PATH is required")
    sides = {"old": str(Path(args.old).resolve()), "new": str(HERE.parent)}
    rounds = {k: [] for k in sides}
    for _ in range(args.rounds):
        for side, root in sides.items():
            env = dict(os.environ, PYTHONPATH=root)
            res = subprocess.run([sys.executable, __file__, "--worker", "--repeats", str(args.repeats)],
                                 env=env, capture_output=True, text=True, check=True, cwd=root)
            rounds[side].append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(side, rounds[side][-1], flush=True)
    medians = {side: {case: statistics.median(r[case]["median_s"] for r in rs)
                      for case in rs[0] if case != "substeps"} for side, rs in rounds.items()}
    ratio = {case: medians["new"][case] / medians["old"][case] for case in medians["old"]}
    sys.path.insert(0, str(HERE))
    from _machine import machine_info, write_result

    result = {"benchmark": "gpme_transforms", "machine": machine_info(), "rounds": rounds,
              "median_s": medians, "new_over_old": ratio,
              "traced_over_static_jit": medians["new"]["traced_jit"] / medians["new"]["static_jit"]}
    print(json.dumps({"median_s": medians, "new_over_old": ratio,
                      "traced_over_static_jit": result["traced_over_static_jit"]}, indent=1))
    write_result(args.out, result)


if __name__ == "__main__":
    main()
