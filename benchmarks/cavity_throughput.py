"""Throughput of physcon's lid-driven cavity solver against plain NumPy/SciPy (same scheme).

What is measured
----------------
Milliseconds per time step of the streamfunction-vorticity scheme of
``physcon.solvers.navier_stokes.cavity`` (SSP-RK3; each of the 3 stages: a DST-I Poisson solve, Thom's wall
vorticity, central-difference transport) on 64^2, 128^2 and 256^2 cells (``n`` = 65, 129, 257
nodes per side, walls included; DST-I of 63/127/255 interior points), float32, ``Re = 100``,
``dt = cavity_stable_dt(n, 100)``, starting from the flow at ``t = 0.5`` (impulsive start).

* physcon, public API: ``step = cavity_make_step(LidDrivenCavity(100.0), dt)``, and
  ``jax.jit`` of a ``lax.fori_loop`` over ``K`` steps (``K`` calibrated to ``--target`` s per
  call; all three RK stages of all ``K`` steps in one XLA program, no per-step dispatch);
  ms/step = call time / ``K``. The default Poisson method (``"auto"``: on these ``n = 2^k + 1``
  grids one DST-I axis as a matmul + cyclic reduction along the other). Also
  ``physcon_dst2d``: the same step with the two-axis DST-I (``method="matmul"``/``"split"``,
  the previous default) for comparison, and ``--batch`` (4) cavities in one call (state
  ``(B, m, m)``), reported per step of the whole batch and per cavity.
* NumPy/SciPy: the same scheme written out below (:func:`numpy_rhs`, :func:`numpy_step`):
  ``scipy.fft.dstn(type=1)`` / ``idstn`` for the Poisson solve, NumPy slicing for the
  stencils, same float32 arithmetic. Timed with ``workers=1`` and ``workers=2`` (SciPy's FFT
  threads); the faster is the baseline.

Agreement check (pass/fail, exit 1): max |w_physcon - w_numpy| / max |w| after 20 steps
<= 1e-4 (float32).

Timing: after warm-up, ``--repeats`` rounds, each timing every contender once (interleaved so
that noise on this shared machine hits all); medians (and min/p90) per contender; ratio =
NumPy median / physcon median (> 1: physcon faster) and the median of per-round ratios.

Run from the repository root::

    PYTHONPATH=. python benchmarks/cavity_throughput.py   # ~3 min on a 2-core CPU (this checkout's physcon)
    python benchmarks/cavity_throughput.py --quick    # smoke run, ~30 s
    python benchmarks/cavity_throughput.py --dst      # also time the Poisson-solve variants

Writes ``benchmarks/results/cavity_throughput.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy
import scipy.fft as sfft

from physcon.solvers._spectral import _method
from physcon.solvers.navier_stokes.cavity import LidDrivenCavity, cavity_make_step, cavity_solve, cavity_stable_dt
from physcon.solvers.navier_stokes.cavity_poisson import _cr_ok, _poisson_method, poisson_interior

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info, write_result  # noqa: E402

RE = 100.0
DTYPE = np.float32


# --- NumPy/SciPy reference ---------------------------------------------------------------------------
def numpy_setup(n: int, dtype=DTYPE):
    m, h = n - 2, 1.0 / (n - 1)
    s = np.sin(np.pi * np.arange(1, m + 1) / (2 * (m + 1))) ** 2
    lam = -(4.0 / h**2) * (s[:, None] + s[None, :])
    return {"h": dtype(h), "inv_lam": (1.0 / lam).astype(dtype), "dtype": dtype}


def numpy_rhs(w_in, U, nu, c, workers=1):
    """``dw/dt`` at the interior: DST-I Poisson, Thom walls, central transport (float32)."""
    h, dt_ = c["h"], c["dtype"]
    psi_in = sfft.idstn(sfft.dstn(-w_in, type=1, workers=workers) * c["inv_lam"], type=1, workers=workers)
    n = w_in.shape[-1] + 2
    psi = np.zeros((n, n), dt_)
    psi[1:-1, 1:-1] = psi_in
    w = np.empty((n, n), dt_)
    w[1:-1, 1:-1] = w_in
    k = dt_(-2.0) / (h * h)
    w[0, 1:-1] = k * psi[1, 1:-1]
    w[-1, 1:-1] = k * psi[-2, 1:-1]
    w[1:-1, 0] = k * psi[1:-1, 1]
    w[1:-1, -1] = k * psi[1:-1, -2] - dt_(2.0) * U / h
    two_h = dt_(2.0) * h
    u = (psi[1:-1, 2:] - psi[1:-1, :-2]) / two_h
    v = -(psi[2:, 1:-1] - psi[:-2, 1:-1]) / two_h
    wx = (w[2:, 1:-1] - w[:-2, 1:-1]) / two_h
    wy = (w[1:-1, 2:] - w[1:-1, :-2]) / two_h
    lap = (w[2:, 1:-1] + w[:-2, 1:-1] + w[1:-1, 2:] + w[1:-1, :-2] - dt_(4.0) * w_in) / (h * h)
    return nu * lap - u * wx - v * wy


def numpy_step(w, dt, nu, c, workers=1, U=1.0):
    dt, U, nu = c["dtype"](dt), c["dtype"](U), c["dtype"](nu)
    w1 = w + dt * numpy_rhs(w, U, nu, c, workers)
    w2 = DTYPE(0.75) * w + DTYPE(0.25) * (w1 + dt * numpy_rhs(w1, U, nu, c, workers))
    return w / DTYPE(3) + DTYPE(2.0 / 3.0) * (w2 + dt * numpy_rhs(w2, U, nu, c, workers))


def numpy_run(w, steps, dt, nu, c, workers=1):
    for _ in range(steps):
        w = numpy_step(w, dt, nu, c, workers)
    return w


# --- timing -----------------------------------------------------------------------------------------
def _stats(times_per_step):
    s = sorted(times_per_step)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]  # noqa: E731
    return {"median_ms": 1e3 * statistics.median(s), "min_ms": 1e3 * s[0], "p90_ms": 1e3 * q(0.9)}


def _calibrate(make, target):
    """Steps per call so that one call takes about ``target`` s. ``make(k)`` returns a ready
    (already compiled) runner of ``k`` steps; only its calls are timed, never a compile (a
    compile inside the timed call made earlier versions of this script pick ``k = 1`` and
    measure dispatch instead of steps)."""
    k = 4
    while True:
        run = make(k)
        run()
        t0 = time.perf_counter()
        run()
        el = time.perf_counter() - t0
        if el >= target / 4 or k > 10**6:
            return max(1, int(k * target / max(el, 1e-9)))
        k *= 4


def bench_size(n, args, log):
    dt = cavity_stable_dt(n, RE)
    flow = LidDrivenCavity(reynolds=RE)
    w_start = cavity_solve(flow, jnp.zeros((n, n), DTYPE), dt=dt, n_steps=round(0.5 / dt), save_every=round(0.5 / dt))[-1]
    w_in = w_start[1:-1, 1:-1]
    step = cavity_make_step(flow, dt)
    step2d = cavity_make_step(flow, dt, method=_method("auto", n - 2))  # two-axis DST-I
    runners = {}

    def make_jax(k, batch=None, step=step):
        f = jax.jit(lambda w: jax.lax.fori_loop(0, k, lambda i, s: step(s, i * dt), w))
        x = w_in if batch is None else jnp.broadcast_to(w_in, (batch,) + w_in.shape) + 0
        f(x).block_until_ready()
        return lambda: f(x).block_until_ready()

    c = numpy_setup(n)
    w_np = np.asarray(w_in, DTYPE)
    nu = 1.0 / RE
    # agreement
    ref = numpy_run(w_np, 20, dt, nu, c)
    mine = np.asarray(jax.jit(lambda w: jax.lax.fori_loop(0, 20, lambda i, s: step(s, i * dt), w))(w_in))
    err = float(np.abs(mine - ref).max() / np.abs(ref).max())
    # calibrate step counts
    k_jax = _calibrate(make_jax, args.target)
    k_jaxb = _calibrate(lambda k: make_jax(k, args.batch), args.target)
    k_np = _calibrate(lambda k: (lambda: numpy_run(w_np, k, dt, nu, c)), args.target)
    runners["physcon"] = (make_jax(k_jax), k_jax)
    runners["physcon_dst2d"] = (make_jax(k_jax, step=step2d), k_jax)
    runners[f"physcon_batch{args.batch}"] = (make_jax(k_jaxb, args.batch), k_jaxb)
    for wk in (1, 2):
        runners[f"numpy_scipy_workers{wk}"] = ((lambda wk=wk: numpy_run(w_np, k_np, dt, nu, c, wk)), k_np)
    times = {name: [] for name in runners}
    for name, (fn, _) in runners.items():  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, (fn, k) in runners.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / k)
    res = {name: dict(_stats(times[name]), steps_per_call=runners[name][1]) for name in runners}
    res[f"physcon_batch{args.batch}"]["per_cavity_median_ms"] = res[f"physcon_batch{args.batch}"]["median_ms"] / args.batch
    base = min(("numpy_scipy_workers1", "numpy_scipy_workers2"), key=lambda k: res[k]["median_ms"])
    ratio = res[base]["median_ms"] / res["physcon"]["median_ms"]
    round_ratio = statistics.median([b / a for a, b in zip(times["physcon"], times[base])])
    ratio_batch = args.batch * res[base]["median_ms"] / res[f"physcon_batch{args.batch}"]["median_ms"]
    speed2d = res["physcon_dst2d"]["median_ms"] / res["physcon"]["median_ms"]
    out = {
        "poisson_method": _poisson_method("auto", n - 2), "speedup_vs_dst2d": speed2d,
        "n_nodes": n, "cells": n - 1, "dt": dt, "contenders": res, "numpy_baseline": base,
        "speedup_vs_numpy": ratio, "speedup_median_of_rounds": round_ratio,
        f"speedup_batch{args.batch}_per_cavity_vs_numpy": ratio_batch,
        "agreement_rel_max_diff_20_steps": err, "agreement_ok": err <= 1e-4,
    }
    log(f"{n - 1:>4}^2  physcon {res['physcon']['median_ms']:8.3f} ms/step  numpy {res[base]['median_ms']:8.3f} "
        f"({base})  speedup {ratio:5.1f}x (rounds {round_ratio:4.1f}x)  batch{args.batch}: "
        f"{res[f'physcon_batch{args.batch}']['per_cavity_median_ms']:.3f} ms/cavity-step ({ratio_batch:.1f}x)  agree {err:.1e}"
        f"  [two-axis DST {res['physcon_dst2d']['median_ms']:.3f} ms/step]")
    return out


def bench_dst(n, args):
    m = n - 2
    x = jnp.asarray(np.random.default_rng(0).standard_normal((m, m)), DTYPE)
    res = {}
    meths = ("fft", "matmul", "split") + (("cr",) if _cr_ok(m) else ())
    fns = {meth: jax.jit(lambda a, meth=meth: poisson_interior(a, meth)) for meth in meths}
    for f in fns.values():
        f(x).block_until_ready()
    times = {k: [] for k in fns}
    for _ in range(max(20, args.repeats * 4)):
        for k, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(10):
                f(x).block_until_ready()
            times[k].append((time.perf_counter() - t0) / 10)
    for k in fns:
        res[k] = _stats(times[k])
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="lid-driven cavity: physcon vs NumPy/SciPy ms per step")
    ap.add_argument("--sizes", default="65,129,257", help="nodes per side (walls included)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--target", type=float, default=0.4, help="seconds per timed call")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dst", action="store_true", help="also time the Poisson solve: FFT vs matmul DST")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "cavity_throughput.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.target = 3, 0.1
    sizes = [int(s) for s in args.sizes.split(",")]
    load0 = os.getloadavg()
    result = {
        "benchmark": "cavity_throughput", "machine": machine_info(), "scipy": scipy.__version__,
        "dtype": "float32", "reynolds": RE, "scheme": "streamfunction-vorticity, DST-I Poisson, Thom walls, SSP-RK3",
        "settings": {"repeats": args.repeats, "target_s": args.target, "batch": args.batch}, "sizes": {},
    }
    for n in sizes:
        result["sizes"][str(n - 1)] = bench_size(n, args, print)
        if args.dst:
            result["sizes"][str(n - 1)]["poisson_solve_ms"] = d = bench_dst(n, args)
            print("      Poisson solve ms:", ", ".join(f"{k} {v['median_ms']:.4f}" for k, v in d.items()))
    ok = all(r["agreement_ok"] for r in result["sizes"].values())
    result["all_agree"] = ok
    result["load_average_start_end"] = [load0, os.getloadavg()]
    write_result(args.out, result)
    print("\ncells  physcon ms/step  numpy ms/step  speedup")
    for k, r in result["sizes"].items():
        print(f"{k:>5}  {r['contenders']['physcon']['median_ms']:15.3f}  "
              f"{r['contenders'][r['numpy_baseline']]['median_ms']:13.3f}  {r['speedup_vs_numpy']:6.1f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
