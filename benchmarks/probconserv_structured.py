"""Time and peak memory of ProbConserv on structured covariances, against dense, N = 1e3..1e7.

What is measured
----------------
``physcon.constraints.probconserv(prediction, law)`` with the conservation law
``integral u(x, t_j) dx = mass(t_j)`` (trapezoid rule, ``sigma_G = 0``, float64) for

* ``lowrank``: a :class:`LowRankGaussian` (diagonal + rank ``M = 16``, ``--rank``) on an
  ``(nt, 201)`` grid (``nx = 201`` as on the paper's grid, ``nt = round(N / 201)``);
  expected cost ``O(N M^2)`` time, ``O(N M)`` memory;
* ``kronecker``: a :class:`KroneckerGaussian` ``A kron B`` (squared-exponential factors) on a
  square ``(nt, nx)`` grid, ``nt = nx = round(sqrt(N))``; expected ``O(N r + nx^2 r)``, i.e.
  linear in ``N`` on a square grid (``A`` cancels from the exact update);
* ``dense``: the same low-rank covariance as a full ``(N, N)`` :class:`DenseGaussian`
  (``O(N^3)`` time, ``O(N^2)`` memory), at sizes up to ``--dense-max`` (4e3).

The timed call is jit-compiled, takes the prediction and the law as arguments (built eagerly,
outside the timing: the prediction's own factorisations are the model's cost), and returns the
posterior mean and marginal variances, plus (separately timed) one posterior sample by
Matheron's rule. Time: median of ``--repeats`` (5) calls after compilation (fewer, at least one, for calls
over a second). Memory: each case
runs in a fresh child process; ``peak_rss_delta_bytes`` is ``ru_maxrss`` after the runs minus
after imports (inputs included; ``input_bytes`` given) and ``xla_temp_bytes`` is the compiled
program's temporary buffers (``memory_analysis``). A case predicted to need more than
``--mem-limit-gib`` (9) is skipped and recorded; ``RLIMIT_AS`` guards the rest.

Checks (exit status 1 on failure): the posterior mean's and the sample's conservation residual
relative to ``max |b|`` (<= 1e-10) at every size; at the dense sizes, the structured posterior
mean and variance equal dense conditioning of the same covariance (<= 1e-10 relative).
Scaling: least-squares slope of log(time) and log(memory) against log(N) over N >= 1e5.

Run from the repository root (about 3-4 min on a 2-core CPU)::

    nice -n 5 python benchmarks/probconserv_structured.py [--quick]

Writes ``benchmarks/results/probconserv_structured.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import physcon as pc  # noqa: E402
from physcon.constraints import conservation_law, probconserv  # noqa: E402
from physcon.distributions import DenseGaussian, KroneckerGaussian, LowRankGaussian  # noqa: E402
from _machine import machine_info, write_result  # noqa: E402  (benchmarks/ is on sys.path)

GIB = 1024**3
SIZES = (1e3, 4e3, 1e4, 1e5, 1e6, 1e7)


def mass(t):
    return 0.5 + 0.25 * t


def shape(method, n):
    if method == "kronecker":
        s = max(3, round(math.sqrt(n)))
        return s, s
    return max(1, round(n / 201)), 201


def predicted_bytes(method, nt, nx, rank):
    n = nt * nx
    if method == "dense":
        return 6 * 8 * n * n
    if method == "lowrank":
        return 4 * 8 * n * (rank + 2)
    return 16 * 8 * n


def lowrank_inputs(nt, nx, rank, seed=0):
    rng = np.random.default_rng(seed)
    x, t = np.linspace(0, 1, nx), np.linspace(0, 1, nt)
    mean = np.sin(np.pi * x)[None] * (1 + 0.5 * t[:, None]) + 0.05 * rng.standard_normal((nt, nx))
    var = rng.uniform(1e-3, 1e-2, (nt, nx))
    # smooth members: random combinations of a few space-time modes
    factor = np.stack([0.05 * np.sin((m + 1) * np.pi * x)[None] * np.cos((m % 4 + 1) * t[:, None]) for m in range(rank)])
    return mean, var, factor, t


def build(method, nt, nx, rank):
    if method == "kronecker":
        x, t = np.linspace(0, 1, nx), np.linspace(0, 1, nt)
        mean = np.sin(np.pi * x)[None] * (1 + 0.5 * t[:, None])
        A = np.exp(-((t[:, None] - t[None]) ** 2) / (2 * 0.3**2)) + 1e-6 * np.eye(nt)
        B = 1e-2 * (np.exp(-((x[:, None] - x[None]) ** 2) / (2 * 0.1**2)) + 1e-6 * np.eye(nx))
        pred = KroneckerGaussian(mean, A, B)
    else:
        mean, var, factor, t = lowrank_inputs(nt, nx, rank)
        pred = LowRankGaussian(mean, var, factor)
        if method == "dense":
            pred = DenseGaussian(pred.mean.ravel(), pred.covariance())
    law = conservation_law(pc.Grid1D.nodes(0.0, 1.0, nx), jnp.asarray(t), mass, rule="trapezoid")
    return jax.block_until_ready(pred), law


def _median_time(fn, args, repeats):
    """Median of ``repeats`` calls, fewer (>= 1) for calls over a second, so N = 1e7 stays short."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times = [time.perf_counter() - t0]
    for _ in range(max(0, min(repeats, int(3.0 / times[0])) - 1)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(method, nt, nx, args):
    base = _rss()
    if args.mem_limit_gib:
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + int(args.mem_limit_gib * GIB), resource.RLIM_INFINITY))
    pred, law = build(method, nt, nx, args.rank)
    inputs = sum(x.nbytes for x in jax.tree.leaves(eqx.filter((pred, law), eqx.is_array)))
    after_inputs = _rss()

    def condition(pred, law):
        post = probconserv(pred, law)
        return post.mean, post.variance

    def sample(pred, law, key):
        return probconserv(pred, law).sample(key)

    cond = jax.jit(condition).lower(pred, law).compile()
    samp = jax.jit(sample).lower(pred, law, jax.random.PRNGKey(0)).compile()
    mem = cond.memory_analysis()
    mean, var = jax.block_until_ready(cond(pred, law))
    y = jax.block_until_ready(samp(pred, law, jax.random.PRNGKey(1)))
    t_cond = _median_time(cond, (pred, law), args.repeats)
    t_samp = _median_time(samp, (pred, law, jax.random.PRNGKey(1)), args.repeats)
    bmax = float(jnp.abs(law.b).max())
    out = dict(method=method, nt=nt, nx=nx, N=nt * nx, rank=args.rank if method != "kronecker" else None,
               time_s=t_cond, sample_time_s=t_samp, input_bytes=int(inputs),
               peak_rss_delta_bytes=int(_rss() - base), rss_after_inputs_bytes=int(after_inputs - base),
               xla_temp_bytes=int(getattr(mem, "temp_size_in_bytes", -1)) if mem is not None else None,
               mean_residual_rel=float(jnp.abs(law.residual(mean.reshape(nt, nx))).max()) / bmax,
               sample_residual_rel=float(jnp.abs(law.residual(y.reshape(nt, nx))).max()) / bmax)
    if method in ("lowrank", "kronecker") and nt * nx <= args.dense_max:
        dense = DenseGaussian(pred.mean.ravel(), pred.covariance())
        dm, dv = jax.jit(condition)(dense, law)
        out["vs_dense_mean_rel"] = float(jnp.abs(mean.ravel() - dm).max() / jnp.abs(dm).max())
        out["vs_dense_var_rel"] = float(jnp.abs(var.ravel() - dv).max() / jnp.abs(dv).max())
    return out


def _slope(rows, key):
    pts = [(math.log(r["N"]), math.log(r[key])) for r in rows if r["N"] >= 1e5 and r.get(key, 0) > 0]
    if len(pts) < 2:
        return None
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dense-max", type=float, default=4e3)
    p.add_argument("--mem-limit-gib", type=float, default=9.0)
    p.add_argument("--quick", action="store_true", help="sizes 1e3..1e5")
    p.add_argument("--out", default="benchmarks/results/probconserv_structured.json")
    p.add_argument("--child", nargs=3, metavar=("METHOD", "NT", "NX"))
    args = p.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]), args)))
        return 0
    sizes = [n for n in SIZES if not args.quick or n <= 1e5]
    rows, ok = [], True
    for n in sizes:
        for method in ("lowrank", "kronecker", "dense"):
            if method == "dense" and n > args.dense_max:
                continue
            nt, nx = shape(method, n)
            need = predicted_bytes(method, nt, nx, args.rank)
            if need > args.mem_limit_gib * GIB:
                rows.append(dict(method=method, N=nt * nx, nt=nt, nx=nx, status="skipped: predicted memory",
                                 predicted_bytes=need))
                continue
            cmd = [sys.executable, __file__, "--child", method, str(nt), str(nx), "--rank", str(args.rank),
                   "--repeats", str(args.repeats), "--dense-max", str(args.dense_max),
                   "--mem-limit-gib", str(args.mem_limit_gib)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
            if not line:
                rows.append(dict(method=method, N=nt * nx, nt=nt, nx=nx, status="error", stderr=proc.stderr[-2000:]))
                ok = False
                print(f"{method:9s} N={nt * nx:>9d} ERROR {proc.stderr[-300:]}", flush=True)
                continue
            r = json.loads(line[0][7:])
            r["status"] = "ok"
            for key in ("mean_residual_rel", "sample_residual_rel", "vs_dense_mean_rel", "vs_dense_var_rel"):
                if key in r and not r[key] <= 1e-10:
                    ok = False
                    r["status"] = f"FAILED {key}"
            rows.append(r)
            print(f"{method:9s} N={r['N']:>9d} ({nt}x{nx})  condition {r['time_s'] * 1e3:9.2f} ms  "
                  f"sample {r['sample_time_s'] * 1e3:9.2f} ms  peak RSS+ {r['peak_rss_delta_bytes'] / 2**20:8.1f} MiB  "
                  f"xla temp {(r['xla_temp_bytes'] or 0) / 2**20:8.1f} MiB  res {r['mean_residual_rel']:.1e}/"
                  f"{r['sample_residual_rel']:.1e}" + (f"  vs dense {r['vs_dense_mean_rel']:.1e}" if "vs_dense_mean_rel" in r else ""),
                  flush=True)
    scaling = {}
    for method in ("lowrank", "kronecker"):
        sel = [r for r in rows if r["method"] == method and r.get("status") == "ok"]
        scaling[method] = {k: _slope(sel, k) for k in ("time_s", "sample_time_s", "peak_rss_delta_bytes", "xla_temp_bytes")}
    print("log-log slopes over N >= 1e5:", json.dumps(scaling))
    write_result(args.out, dict(benchmark="probconserv_structured", machine=machine_info(), args=vars(args),
                                rows=rows, slopes_N_ge_1e5=scaling, passed=ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
