"""Accuracy of physcon's GPME solvers against the closed forms (float64), saved as JSON.

For every problem at its default parameter and at the paper's test values: the L1 error
(mean over the output times t > 0) on 50..400 cells, the fitted order, the discrete mass
balance (round-off) and the gap to the closed-form mass at the final time.

    python benchmarks/gpme_accuracy.py            # writes benchmarks/results/gpme_accuracy.json
"""

import json
import os
import platform
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import physcon as pc  # noqa: E402
from physcon.experiments.gpme_accuracy import convergence  # noqa: E402

CASES = [
    ("diffusion", pc.gpme.Diffusion(k=1.0), None),
    ("diffusion", pc.gpme.Diffusion(k=5.0), None),
    ("diffusion (dirichlet walls)", pc.gpme.Diffusion(k=1.0, walls="dirichlet"), None),
    ("diffusion (neumann walls)", pc.gpme.Diffusion(k=1.0, walls="neumann"), None),
    ("pme", pc.gpme.PorousMedium(m=1.0), None),
    ("pme", pc.gpme.PorousMedium(m=3.0), None),
    ("pme", pc.gpme.PorousMedium(m=6.0), None),
    ("stefan", pc.gpme.Stefan(u_star=0.5), None),
    ("stefan", pc.gpme.Stefan(u_star=0.6), None),
    ("advection", pc.gpme.Advection(a=1.0), 0.4),
    ("burgers", pc.gpme.Burgers(a=1.0), None),
    ("burgers", pc.gpme.Burgers(a=3.0), 0.8),
]


def main(out="benchmarks/results/gpme_accuracy.json"):
    rows = []
    for name, problem, t_end in CASES:
        r = convergence(problem, ns=(50, 100, 200, 400), nt=11, t_end=t_end)
        r.update(problem=name, parameter=problem.parameter, value=float(problem.value),
                 t_end=t_end or problem.t_span[1])
        rows.append(r)
        i200 = r["n"].index(200)
        print(f"{name:28s} {problem.parameter}={float(problem.value):<4g} order {r['order']:.2f}  "
              f"L1@200 {r['l1'][i200]:.2e}  mass balance {max(r['mass_balance']):.1e}  "
              f"|M-b|/b@200 {r['mass_error'][i200]:.1e}")
    meta = {"date": time.strftime("%Y-%m-%d"), "python": sys.version.split()[0], "jax": jax.__version__,
            "physcon": pc.__version__, "machine": platform.machine(), "nproc": os.cpu_count(),
            "dtype": "float64", "error": "L1 error, mean over the 10 output times t > 0"}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"meta": meta, "results": rows}, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main(*sys.argv[1:])
