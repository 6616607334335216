"""Time of one Darcy solve (``physcon.solvers.darcy.darcy_solve``) at the FNO paper's sizes.

What is measured: wall time of one jitted ``darcy_solve(a, 1.0)`` (zero walls, harmonic faces,
default tolerance) on ``n x n`` nodes, ``n`` in 85, 141, 211, 421, float64, for a coefficient
of the paper's family (``darcy_coefficient(darcy_grf(key, n))``, the same key at every size),
with and without the Jacobi preconditioner; after one warm-up call (compilation), the median
of ``--repeats`` calls, and the CG iteration count. Also the relative max difference of the two
solutions (same tolerance: both converged).

Run from the repository root::

    PYTHONPATH=. python benchmarks/darcy_throughput.py            # ~1 min on a 2-core CPU
    PYTHONPATH=. python benchmarks/darcy_throughput.py --sizes 85 141 --repeats 3

Writes ``benchmarks/results/darcy_throughput.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_info, write_result  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[85, 141, 211, 421])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "darcy_throughput.json"))
    args = ap.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from physcon.solvers import darcy as D

    rows = []
    for n in args.sizes:
        a = D.darcy_coefficient(D.darcy_grf(jax.random.PRNGKey(0), n, dtype=jnp.float64))
        row = {"n": n, "tolerance": D.default_tolerance((n, n), jnp.float64)}
        sols = {}
        for pre in (True, False):
            fn = jax.jit(lambda c, pre=pre: D.darcy_solve(c, 1.0, precondition=pre, info=True))
            t0 = time.perf_counter()
            p, stats = fn(a)
            p.block_until_ready()
            compile_s = time.perf_counter() - t0
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                p, stats = fn(a)
                p.block_until_ready()
                times.append(time.perf_counter() - t0)
            tag = "jacobi" if pre else "plain"
            sols[tag] = p
            row[tag] = {"median_s": statistics.median(times), "min_s": min(times), "first_call_s": compile_s,
                        "cg_steps": int(stats["num_steps"])}
        row["jacobi_vs_plain_rel_diff"] = float(jnp.abs(sols["jacobi"] - sols["plain"]).max() / jnp.abs(sols["plain"]).max())
        row["p_max"] = float(sols["jacobi"].max())
        rows.append(row)
        j, pl = row["jacobi"], row["plain"]
        print(f"n = {n:4d}: one solve {1e3 * j['median_s']:9.1f} ms ({j['cg_steps']} CG steps, Jacobi) | "
              f"{1e3 * pl['median_s']:9.1f} ms ({pl['cg_steps']} steps, no preconditioner) | "
              f"first call {j['first_call_s']:.2f} s | tol {row['tolerance']:.1e}", flush=True)
    write_result(args.out, {"benchmark": "darcy_throughput", "dtype": "float64", "face": "harmonic",
                            "repeats": args.repeats, "rows": rows, "machine": machine_info()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
