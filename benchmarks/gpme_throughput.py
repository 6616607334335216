"""Throughput of physcon's explicit finite-volume Stefan solver against plain NumPy.

What is measured
----------------
A batch of ``--batch`` (64) Stefan problems, ``u*`` drawn uniformly from [0.55, 0.7] with a
fixed NumPy seed, on ``nx`` = 200 and 1000 cells, in float64 and float32. Both sides run the
same scheme with the same step ``dt`` and count the same work:

    throughput = batch * nx * (number of forward-Euler steps) / seconds   [cell-updates/s]

* physcon, through the public API only::

      f = jax.jit(lambda us: physcon.gpme.solve(physcon.gpme.Stefan(u_star=us), grid, t,
                                                substeps=S))   # a batched problem, solved natively
      f(u_stars).block_until_ready()

  with ``t = [0, T]`` (two output times, so nearly all of the work is Euler stepping) and
  ``S = physcon.gpme.stable_substeps(Stefan(), grid, t)``. ``T = N * 0.9 dx^2 / 4`` with ``N``
  calibrated so that one physcon call takes at least ``--target`` seconds (0.5 s), hence
  ``S = N`` (``N + 1`` where float32 rounding of ``T`` tips the ceiling) and ``dt = T / S``,
  the order-2 Dirichlet wall limit ``dx^2/4`` times cfl 0.9.
* NumPy: the same scheme written out below (:func:`numpy_stefan`), vectorised over the batch as
  a ``(batch, nx)`` array: Kirchhoff potential ``Phi(u) = max(u - u*, 0)``, interior face flux
  ``-(Phi_{i+1} - Phi_i)/dx``, left Dirichlet wall ``u = 1`` with the order-2 one-sided
  stencil ``w = physcon.bc.wall_derivative_weights(2, dx, True)`` applied to
  ``[Phi(1), Phi_1, Phi_2]`` (flux ``-(w @ vals)``), right Neumann(0) wall (flux 0), forward
  Euler ``u <- u - dt/dx (F[1:] - F[:-1])``. Same ``dt`` (computed as ``T / S`` in the working
  dtype, as physcon does). physcon additionally accumulates the boundary inflow (a scalar per
  problem and step; XLA drops it here because only ``u`` is returned).

  The *timed* NumPy calls run fewer steps (``numpy_steps``, calibrated to ``--target`` s) and
  their throughput is per step, i.e. scaled to the full run; the cost of a step does not depend
  on the state. NumPy is also run once for the full ``S`` steps: that run is the agreement check
  against physcon (max abs difference of the final state) and its throughput is recorded as a
  check on the scaling. A second NumPy variant with preallocated buffers and ``out=`` (same
  arithmetic, no temporaries) is timed too, to show the baseline is not a strawman (on the
  reference machine it is slightly *slower*: NumPy already reuses temporaries).

Accumulation: where ``physcon.gpme.simulate`` has a ``compensated`` switch (Kahan-compensated
sums, its documented default below float64), the default call is timed against a NumPy
reference with the same Kahan update, and in float32 the plain sum (``compensated=False``, the
scheme as stated above) is timed as an extra case. ``--all-schemes`` adds Kahan in float64.

Agreement (pass/fail, exit status 1 on failure): max |u_physcon - u_numpy| after
``CHECK_STEPS`` = 2000 steps (<= 1e-12 in float64, <= 1e-5 in float32) and after the full timed
run (<= 1e-10 / 1e-4; informational for float32 plain sums, whose round-off drift grows with
the step count on both sides).

Timing: the first physcon call (trace + compile + one run) is timed separately; ``compile_s`` =
first call minus the fastest steady-state call (``first_minus_median_s`` is recorded too; on a
noisy machine the median can approach the first call). Steady state is the median of ``--repeats`` (>= 5)
calls, physcon and NumPy calls interleaved so that machine noise hits both.

Run from the repository root::

    python benchmarks/gpme_throughput.py            # ~2 min on a 2-core CPU
    python benchmarks/gpme_throughput.py --quick    # smoke run (short calls, 5 repeats), ~20 s
    python benchmarks/gpme_throughput.py --cpus 0 --out benchmarks/results/gpme_throughput_1core.json

Writes ``benchmarks/results/gpme_throughput.json`` (``--out``). XLA flags are taken from the
environment (``XLA_FLAGS``) and recorded; the script sets none.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import statistics
import sys
import time
from pathlib import Path


def _apply_cpus_option(argv) -> None:
    """``--cpus 0`` (or ``0,1``): restrict this process to those CPUs *before* JAX starts.

    XLA:CPU sizes its intra-op parallelism from the CPUs the process may run on and splits large
    loop fusions into that many tasks; on a small shared machine the per-step fork/join can cost
    more than it gains. NumPy's elementwise kernels are single-threaded either way.
    """
    spec = None
    for i, a in enumerate(argv):
        if a == "--cpus" and i + 1 < len(argv):
            spec = argv[i + 1]
        elif a.startswith("--cpus="):
            spec = a.split("=", 1)[1]
    if spec:
        os.sched_setaffinity(0, {int(c) for c in spec.split(",")})


if __name__ == "__main__":
    _apply_cpus_option(sys.argv[1:])

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 cases; every array below is cast explicitly

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import physcon  # noqa: E402
from physcon.bc import wall_derivative_weights  # noqa: E402
from _machine import machine_info, write_result  # noqa: E402  (benchmarks/ is on sys.path)

CFL = 0.9
WALL_C = 4.0  # monotone limit next to an order-2 Dirichlet wall: dt <= dx^2 / 4 (k <= 1)
U_STAR_RANGE = (0.55, 0.7)
# max |u_physcon - u_numpy|: after CHECK_STEPS steps (the pass/fail check), and after the full
# timed run (also pass/fail, except float32 with plain sums: uncompensated float32 accumulation
# drifts by many ulps over 1e5 steps on both sides, so that number is informational)
CHECK_STEPS = 2000
TOLERANCE_CHECK = {"float64": 1e-12, "float32": 1e-5}
TOLERANCE_FULL = {"float64": 1e-10, "float32": 1e-4}


# --- NumPy reference -----------------------------------------------------------------------------
def _numpy_setup(u_star, nx: int, dt, dtype, u0):
    """Constants and initial state shared by the two NumPy references."""
    dtype = np.dtype(dtype)
    dx_f = 1.0 / nx
    dx = dtype.type(dx_f)
    r = dtype.type(dt) / dx
    w = wall_derivative_weights(2, dx_f, True).astype(dtype)
    us = np.asarray(u_star, dtype)[:, None]
    batch = us.shape[0]
    u = np.zeros((batch, nx), dtype) if u0 is None else np.array(u0, dtype)
    phi_wall = np.maximum(dtype.type(1.0) - us[:, 0], 0)  # Phi(u = 1) at the Dirichlet wall
    return dtype, dx, r, w, us, batch, u, phi_wall, dtype.type(0.0)


def numpy_stefan(u_star, nx: int, dt, steps: int, dtype, u0=None, compensated: bool = False):
    """``steps`` forward-Euler steps of the Kirchhoff finite-volume Stefan scheme, batched.

    Args:
        u_star: phase-change values, shape ``(batch,)``.
        nx: cells on [0, 1].
        dt: the Euler step, a ``dtype`` scalar; physcon's is ``T / substeps`` computed in the
            working dtype (:func:`physcon_dt`).
        steps: number of Euler steps to run (fewer than ``substeps`` for the timed calls).
        dtype: numpy float dtype of the whole computation.
        u0: initial state ``(batch, nx)``; default zeros (the Stefan initial condition).
        compensated: accumulate ``u`` with a Kahan-compensated sum (physcon's
            ``compensated=True``, its default below float64): ``y = du - c; s = u + y;
            c = (s - u) - y; u = s`` with ``du = -(dt/dx)(F[1:] - F[:-1])``.
    Returns:
        The state after ``steps`` steps, shape ``(batch, nx)``.
    """
    dtype, dx, r, w, us, batch, u, phi_wall, zero = _numpy_setup(u_star, nx, dt, dtype, u0)
    c = np.zeros_like(u)
    for _ in range(steps):
        phi = np.maximum(u - us, zero)
        F = np.empty((batch, nx + 1), dtype)
        F[:, 1:-1] = -(phi[:, 1:] - phi[:, :-1]) / dx
        F[:, 0] = -(w[0] * phi_wall + w[1] * phi[:, 0] + w[2] * phi[:, 1])
        F[:, -1] = zero  # Neumann(0): -k(u_n) * 0
        if compensated:
            y = -(r * (F[:, 1:] - F[:, :-1])) - c
            s = u + y
            c = (s - u) - y
            u = s
        else:
            u = u - r * (F[:, 1:] - F[:, :-1])
    return u


def numpy_stefan_inplace(u_star, nx: int, dt, steps: int, dtype, u0=None, compensated: bool = False):
    """:func:`numpy_stefan` with preallocated buffers and ``out=`` (same operations, same order)."""
    dtype, dx, r, w, us, batch, u, phi_wall, zero = _numpy_setup(u_star, nx, dt, dtype, u0)
    phi = np.empty_like(u)
    F = np.zeros((batch, nx + 1), dtype)  # F[:, -1] stays 0 (Neumann(0) wall)
    D = np.empty_like(u)
    Fi = F[:, 1:-1]
    tmp0 = np.empty(batch, dtype)
    tmp1 = np.empty(batch, dtype)
    c = np.zeros_like(u)
    s = np.empty_like(u)
    for _ in range(steps):
        np.subtract(u, us, out=phi)
        np.maximum(phi, zero, out=phi)
        np.subtract(phi[:, 1:], phi[:, :-1], out=Fi)
        np.negative(Fi, out=Fi)
        np.divide(Fi, dx, out=Fi)
        np.multiply(w[1], phi[:, 0], out=tmp0)
        np.add(w[0] * phi_wall, tmp0, out=tmp0)
        np.multiply(w[2], phi[:, 1], out=tmp1)
        np.add(tmp0, tmp1, out=tmp0)
        np.negative(tmp0, out=F[:, 0])
        np.subtract(F[:, 1:], F[:, :-1], out=D)
        np.multiply(r, D, out=D)
        if compensated:
            np.negative(D, out=D)
            np.subtract(D, c, out=D)  # y
            np.add(u, D, out=s)  # s = u + y
            np.subtract(s, u, out=c)
            np.subtract(c, D, out=c)  # c = (s - u) - y
            u, s = s, u
        else:
            np.subtract(u, D, out=u)
    return u


# --- helpers -------------------------------------------------------------------------------------
def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def nice_ceil(x: float) -> int:
    """Round ``x`` up to two significant digits."""
    x = max(1, math.ceil(x))
    p = 10 ** max(0, len(str(x)) - 2)
    return int(math.ceil(x / p) * p)


def physcon_dt(T, substeps: int, dtype):
    """physcon's Euler step ``(t1 - t0) / substeps`` for ``t = [0, T]``, in ``dtype``."""
    dtype = np.dtype(dtype)
    return (dtype.type(T) - dtype.type(0.0)) / dtype.type(substeps)


def physcon_supports_compensated() -> bool:
    return "compensated" in inspect.signature(physcon.gpme.simulate).parameters


def physcon_fn(grid, t, steps: int, compensated: bool | None = None):
    """The benchmarked call; ``compensated=None`` leaves physcon's default (the keyword is not passed)."""
    kw = {} if compensated is None else {"compensated": compensated}
    # a batched problem (u_star of shape (batch,)) is solved natively, state laid out (nx, batch)
    return jax.jit(
        lambda us: physcon.gpme.solve(physcon.gpme.Stefan(u_star=us), grid, t, substeps=steps, **kw)
    )


def case_list(dtypes, sizes, all_schemes: bool):
    """(dtype, nx, compensated-argument, label). The default call always; where physcon has a
    ``compensated`` switch and its default (documented: on below float64) is not the plain
    Euler sum, the plain sum (``compensated=False``, the scheme of the issue) as well."""
    out = []
    for dn in dtypes:
        for nx in sizes:
            if not physcon_supports_compensated():
                out.append((dn, nx, None, "default"))
                continue
            default_comp = np.finfo(np.dtype(dn)).bits < 64
            out.append((dn, nx, None, "default (kahan)" if default_comp else "default (plain)"))
            if default_comp or all_schemes:
                out.append((dn, nx, not default_comp, "compensated=" + str(not default_comp)))
    return out


# --- one case ------------------------------------------------------------------------------------
def run_case(nx: int, dtype_name: str, comp_arg, label: str, u_star_np: np.ndarray, args) -> dict:
    dtype = np.dtype(dtype_name)
    batch = u_star_np.shape[0]
    grid = physcon.Grid1D.cells(0.0, 1.0, nx)
    dx = grid.dx
    dt_nominal = CFL * dx * dx / WALL_C
    u_stars = jnp.asarray(u_star_np, dtype=dtype)
    cells = batch * nx
    # the accumulation the physcon call uses (its documented default when comp_arg is None)
    if comp_arg is None:
        compensated = physcon_supports_compensated() and np.finfo(dtype).bits < 64
    else:
        compensated = bool(comp_arg)
    log = lambda *a: print(f"  [{dtype_name} nx={nx} {label}]", *a, flush=True)  # noqa: E731

    # calibrate the number of Euler steps so that one physcon call takes >= target seconds
    if args.steps:
        n_steps = args.steps
        probe = None
    else:
        n_probe = max(200, int(2e7 // cells))
        t_probe = jnp.asarray([0.0, n_probe * dt_nominal], dtype)
        s_probe = physcon.gpme.stable_substeps(physcon.gpme.Stefan(), grid, t_probe)
        f_probe = physcon_fn(grid, t_probe, s_probe, comp_arg)
        f_probe(u_stars).block_until_ready()
        per_step = min(timed(lambda: f_probe(u_stars).block_until_ready())[0] for _ in range(3)) / s_probe
        n_steps = nice_ceil(1.3 * args.target / per_step)
        probe = {"steps": s_probe, "seconds_per_step": per_step}
    T = n_steps * dt_nominal
    t = jnp.asarray([0.0, T], dtype)
    S = physcon.gpme.stable_substeps(physcon.gpme.Stefan(), grid, t)  # physcon's own rule
    dt_w = physcon_dt(T, S, dtype)  # the step both sides take, in the working dtype
    dt = float(dt_w)
    log(f"T = {T:.6g}, substeps S = {S}, dt = {dt:.6g} (0.9 dx^2/4 = {dt_nominal:.6g}), "
        f"kahan = {compensated}")

    # physcon: first call (trace + compile + run), then steady state
    f = physcon_fn(grid, t, S, comp_arg)
    first_s, out = timed(lambda: f(u_stars).block_until_ready())
    u_physcon = np.asarray(out)[:, -1]
    log(f"physcon first call {first_s:.2f} s")

    # NumPy: calibrate the timed step count, then one full-length run for the agreement check
    np_run = lambda steps: numpy_stefan(u_star_np, nx, dt_w, steps, dtype, compensated=compensated)  # noqa: E731
    np_run_ip = lambda steps: numpy_stefan_inplace(u_star_np, nx, dt_w, steps, dtype, compensated=compensated)  # noqa: E731
    # agreement check at a fixed horizon: CHECK_STEPS steps of the same dt (same code path)
    t_chk = jnp.asarray([0.0, min(CHECK_STEPS, n_steps) * dt_nominal], dtype)
    s_chk = physcon.gpme.stable_substeps(physcon.gpme.Stefan(), grid, t_chk)
    u_chk_p = np.asarray(physcon_fn(grid, t_chk, s_chk, comp_arg)(u_stars))[:, -1]
    u_chk_n = numpy_stefan(u_star_np, nx, physcon_dt(float(t_chk[1]), s_chk, dtype), s_chk, dtype,
                           compensated=compensated)
    diff_chk = float(np.max(np.abs(u_chk_p - u_chk_n)))

    n_cal = max(20, int(2e6 // cells))
    cal = min(timed(lambda: np_run(n_cal))[0] for _ in range(2)) / n_cal
    np_steps = int(min(S, nice_ceil(args.target / cal)))
    full_s, u_numpy = timed(lambda: np_run(S))
    diff = float(np.max(np.abs(u_physcon - u_numpy)))
    diff_ip = float(np.max(np.abs(np_run_ip(S) - u_numpy)))
    tol, tol_chk = TOLERANCE_FULL[dtype_name], TOLERANCE_CHECK[dtype_name]
    full_informational = dtype_name == "float32" and not compensated
    ok_chk = diff_chk <= tol_chk
    ok_full = full_informational or (diff <= tol and diff_ip <= tol)
    log(f"agreement after {s_chk} steps: max|physcon - numpy| = {diff_chk:.3e} (tol {tol_chk:g}); "
        f"after the full run ({S} steps, numpy {full_s:.2f} s): {diff:.3e} "
        f"({'informational' if full_informational else f'tol {tol:g}'}); "
        f"max|inplace - plain| = {diff_ip:.3e}; timed numpy calls run {np_steps} steps")
    if not (np.all(np.isfinite(u_physcon)) and np.all(np.isfinite(u_numpy))):
        raise RuntimeError("non-finite solution: the step is not stable")

    # steady state, interleaved
    times = {"physcon": [], "numpy": [], "numpy_inplace": []}
    for _ in range(args.repeats):
        times["physcon"].append(timed(lambda: f(u_stars).block_until_ready())[0])
        times["numpy"].append(timed(lambda: np_run(np_steps))[0])
        times["numpy_inplace"].append(timed(lambda: np_run_ip(np_steps))[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    steps_of = {"physcon": S, "numpy": np_steps, "numpy_inplace": np_steps}
    thr = {k: cells * steps_of[k] / med[k] for k in med}
    speedup = thr["physcon"] / thr["numpy"]
    speedup_ip = thr["physcon"] / thr["numpy_inplace"]
    log(f"physcon {thr['physcon'] / 1e6:.0f} Mcell/s, numpy {thr['numpy'] / 1e6:.0f} Mcell/s "
        f"-> x{speedup:.2f} (vs in-place numpy x{speedup_ip:.2f})")
    return {
        "nx": nx,
        "dtype": dtype_name,
        "scheme": label,
        "physcon_compensated_argument": comp_arg,
        "kahan_compensated": compensated,
        "batch": batch,
        "dx": dx,
        "T": T,
        "dt": dt,
        "steps_physcon": S,
        "steps_numpy_timed": np_steps,
        "calibration_probe": probe,
        "cells_per_step": cells,
        "physcon": {
            "first_call_s": first_s,
            "compile_s": first_s - min(times["physcon"]),  # robust to a noisy median
            "first_minus_median_s": first_s - med["physcon"],
            "median_s": med["physcon"],
            "times_s": times["physcon"],
            "throughput_cells_per_s": thr["physcon"],
            "us_per_step": 1e6 * med["physcon"] / S,
        },
        "numpy": {
            "median_s": med["numpy"],
            "times_s": times["numpy"],
            "throughput_cells_per_s": thr["numpy"],
            "us_per_step": 1e6 * med["numpy"] / np_steps,
            "full_run_s": full_s,
            "full_run_steps": S,
            "full_run_throughput_cells_per_s": cells * S / full_s,
        },
        "numpy_inplace": {
            "median_s": med["numpy_inplace"],
            "times_s": times["numpy_inplace"],
            "throughput_cells_per_s": thr["numpy_inplace"],
            "us_per_step": 1e6 * med["numpy_inplace"] / np_steps,
        },
        "speedup_physcon_over_numpy": speedup,
        "speedup_physcon_over_numpy_inplace": speedup_ip,
        "agreement": {
            "check_steps": s_chk,
            "check_max_abs_diff_physcon_vs_numpy": diff_chk,
            "check_tolerance": tol_chk,
            "check_ok": bool(ok_chk),
            "full_steps": S,
            "max_abs_diff_physcon_vs_numpy": diff,
            "max_abs_diff_numpy_inplace_vs_numpy": diff_ip,
            "max_abs_u": float(np.max(np.abs(u_numpy))),
            "full_tolerance": None if full_informational else tol,
            "full_ok": bool(ok_full),
            "ok": bool(ok_chk and ok_full),
        },
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=7, help="steady-state repeats (>= 5)")
    p.add_argument("--target", type=float, default=0.5, help="seconds per timed call (calibrated)")
    p.add_argument("--steps", type=int, default=0, help="fix the Euler step count (no calibration)")
    p.add_argument("--goal", type=float, default=10.0, help="speedup goal physcon/numpy")
    p.add_argument("--all-schemes", action="store_true",
                   help="also time Kahan-compensated accumulation in float64")
    p.add_argument("--cpus", default=None,
                   help="pin the process to these CPUs before JAX starts, e.g. 0 (one core)")
    p.add_argument("--quick", action="store_true", help="smoke run: --target 0.05 --repeats 5")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "gpme_throughput.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.target, args.repeats = 0.05, 5
    if args.repeats < 5:
        p.error("--repeats must be >= 5")

    rng = np.random.default_rng(args.seed)
    u_star_np = rng.uniform(*U_STAR_RANGE, size=args.batch)
    info = machine_info()
    print(f"physcon Stefan FV throughput: {info['cpu_model']}, nproc={info['nproc']} "
          f"(usable {info['nproc_affinity']}), "
          f"jax {info['jax']}, numpy {info['numpy']}, XLA_FLAGS={info['XLA_FLAGS']!r}", flush=True)
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    cases = [
        run_case(nx, dn, comp, label, u_star_np, args)
        for dn, nx, comp, label in case_list(args.dtypes, args.sizes, args.all_schemes)
    ]
    wall = time.perf_counter() - t_start
    load_end = os.getloadavg()

    header = (f"{'dtype':8s} {'nx':>5s} {'scheme':18s} {'steps':>7s} {'physcon s':>9s} {'compile s':>9s} "
              f"{'physcon Mc/s':>12s} {'numpy Mc/s':>10s} {'np-inpl Mc/s':>12s} {'speedup':>8s} "
              f"{'vs inpl':>8s} {'diff@chk':>9s} {'diff@end':>9s} {'ok':>3s}")
    print("\n" + header + "\n" + "-" * len(header))
    for c in cases:
        print(f"{c['dtype']:8s} {c['nx']:5d} {c['scheme']:18s} {c['steps_physcon']:7d} "
              f"{c['physcon']['median_s']:9.3f} {c['physcon']['compile_s']:9.2f} "
              f"{c['physcon']['throughput_cells_per_s'] / 1e6:12.0f} "
              f"{c['numpy']['throughput_cells_per_s'] / 1e6:10.0f} "
              f"{c['numpy_inplace']['throughput_cells_per_s'] / 1e6:12.0f} "
              f"{c['speedup_physcon_over_numpy']:7.2f}x {c['speedup_physcon_over_numpy_inplace']:7.2f}x "
              f"{c['agreement']['check_max_abs_diff_physcon_vs_numpy']:9.1e} "
              f"{c['agreement']['max_abs_diff_physcon_vs_numpy']:9.1e} "
              f"{'yes' if c['agreement']['ok'] else 'NO':>3s}")
    print(f"(Mc/s = 1e6 cell-updates per second; speedup = physcon / numpy throughput, same scheme "
          f"and dt on both sides; median of {args.repeats} interleaved repeats; diff@chk = "
          f"max|physcon - numpy| after {CHECK_STEPS} steps, diff@end after the full run)")
    goal_met = all(c["speedup_physcon_over_numpy"] >= args.goal for c in cases
                   if c["physcon_compensated_argument"] is None)
    print(f"\ngoal physcon (default call) >= {args.goal:g}x NumPy at every size and dtype: "
          f"{'MET' if goal_met else 'NOT met'}"
          f"   (load average {load_start[0]:.2f} -> {load_end[0]:.2f}; wall {wall:.0f} s)")

    result = {
        "benchmark": "gpme_throughput",
        "description": "cell-updates/s of physcon.gpme.solve (jit+vmap) vs a NumPy implementation "
                       "of the same explicit FV Stefan scheme; throughput = batch*nx*steps/median_s",
        "machine": info,
        "load_average_start_end": [load_start, load_end],
        "config": {
            "batch": args.batch,
            "seed": args.seed,
            "u_star_range": U_STAR_RANGE,
            "u_star": u_star_np.tolist(),
            "sizes": args.sizes,
            "dtypes": args.dtypes,
            "cfl": CFL,
            "dt_rule": "T = N * 0.9*dx^2/4 (N calibrated to target_seconds_per_call); "
                       "S = physcon.gpme.stable_substeps(Stefan(), grid, [0, T]); dt = T/S in the dtype",
            "repeats": args.repeats,
            "target_seconds_per_call": args.target,
            "interleaved": "per repeat: physcon, numpy, numpy_inplace",
            "numpy_scaling": "timed numpy calls run steps_numpy_timed <= steps_physcon steps with the "
                             "same dt; throughput is per step (scaled). A full-length numpy run "
                             "(steps_physcon steps) provides the agreement check and "
                             "full_run_throughput_cells_per_s.",
            "physcon_has_compensated_switch": physcon_supports_compensated(),
            "goal_speedup": args.goal,
            "goal_applies_to": "the default physcon call (no compensated= argument), every size and dtype",
            "cpus": args.cpus,
        },
        "cases": cases,
        "goal_met": goal_met,
        "wall_s": wall,
    }
    write_result(args.out, result)
    return 0 if all(c["agreement"]["ok"] for c in cases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
