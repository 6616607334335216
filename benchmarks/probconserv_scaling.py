"""Time and peak memory of ``physcon.constraints.probconserv`` against dense conditioning.

What is measured
----------------
A ``DiagonalGaussian`` prediction of shape ``(nt, nx)`` (an ANP's output over a space-time
grid; ``nx = 201`` points per time slice as on the paper's 201 x 201 grid, ``--nx``) is
conditioned on the conservation law ``integral u(x, t_j) dx = mass(t_j)`` with the trapezoid
rule on ``Grid1D.nodes(0, 1, nx)`` and exact constraints (``sigma_G = 0``), in float64, for
``N = nt * nx`` close to 1e3, 1e4, 1e5, 1e6, 1e7 (``nt = round(N / nx)``, so the actual ``N``
is within ``nx / 2`` of the target and is what is reported). Three implementations of the
same formulas ``mu~ = mu - Sigma G^T S^-1 (G mu - b)``, ``Sigma~ = Sigma - Sigma G^T S^-1 G
Sigma``, ``S = G Sigma G^T`` are timed:

* ``structured``: physcon's public API, jit-compiled::

      law = physcon.constraints.conservation_law(grid, t, mass, rule="trapezoid")
      post = physcon.constraints.probconserv(DiagonalGaussian(mean, var), law)
      return post.mean, post.variance

  (``O(N)``: a rank-one down-date per time slice; the posterior covariance stays factored).
  Separately, from the jit-compiled posterior ``post``: ``post.variance`` and
  ``post.sample(key, 1)`` (Matheron's rule).
* ``structured_law_arg``: the same, with the law built eagerly (outside ``jit``) and passed as
  an argument. Built inside ``jit``, the law's ``(nt, 1, nx)`` constraint rows are a broadcast
  of constant quadrature weights, and XLA constant-folds their finiteness check at compile
  time (compile time grows with N, ~20 s at N = 1e7); as an argument it compiles in < 1 s.
* ``dense_slices``: the ProbConserv reference code's approach (``PhysNP._apply_constraint``,
  ``limiting_mode="physnp"``), batched over time slices: per slice ``Sigma_t =
  diag(var_t)`` as an ``nx x nx`` matrix, ``S_t = g Sigma_t g^T`` (1 x 1), ``rinv1 =
  solve(S_t, g Sigma_t)``, ``Sigma~_t = Sigma_t (I - g^T rinv1)`` (a dense ``nx x nx``
  matrix product per slice), ``mu~_t = mu_t - Sigma_t g^T solve(S_t, g mu_t - b_t)``. Returns
  the mean and the ``(nt, nx, nx)`` covariances. ``O(N nx^2)`` time, ``O(N nx)`` memory.
* ``dense_full``: the textbook dense update over all ``N`` unknowns: ``Sigma = diag(var)``
  ``(N, N)``, ``G`` block-diagonal ``(nt, N)``, ``S = G Sigma G^T`` (``nt x nt``, Cholesky),
  ``K = Sigma G^T S^-1``, ``mu~ = mu - K (G mu - b)``, ``Sigma~ = Sigma - K G Sigma``.
  Returns the mean and the ``(N, N)`` covariance. ``O(N^2 nt)`` time, ``O(N^2)`` memory.

All three are written with ``jax.numpy`` and ``jax.jit`` (the dense ones in this script), so
the comparison is the algorithm, not the framework.

Memory: every (method, N) runs in a fresh child process (``--child``). The child records
``ru_maxrss`` (peak resident set) after imports and JAX's backend start-up (the baseline),
builds the inputs, compiles, makes one call, and records ``ru_maxrss`` again (outputs still
alive); ``peak_rss_delta_bytes`` is the difference (inputs + compiler + run-time buffers +
outputs; ``input_bytes`` is reported so it can be subtracted). The peaks after compiling only
and after the timed repeats are recorded too. XLA's own accounting of the compiled program
(``compiled.memory_analysis()``: argument, output and temporary buffer bytes) is recorded too.
Guards, so the benchmark cannot take the machine down: a dense case whose predicted footprint
(3 buffers of the dense covariance: ``24 N^2`` bytes for ``dense_full``, ``24 N nx`` for
``dense_slices``) exceeds ``--mem-limit-gib`` (12) is not run and is recorded as ``out of
memory`` with the predicted bytes; the child also sets ``RLIMIT_AS`` to its address space after
imports plus that limit, so an underestimated case dies (and is recorded as such) instead of
swapping the machine.

Timing: compile time is ``jax.jit(f).lower(*args).compile()`` timed on its own (trace + lower
+ XLA compile); the first call of the compiled executable is recorded separately; steady state
is the median of ``--repeats`` (7; 5 for calls over 2 s) calls, each repeat looping the call
enough times to last >= 10 ms (so tiny calls are not dominated by timer resolution; per-call
dispatch overhead is included, as a user sees it). Within a child the repeats are
back-to-back; the children of one ``N`` run one after another (structured, structured_law_arg,
dense_slices, dense_full), so noise over minutes hits the methods of one size alike, but not identically.

Agreement (pass/fail, exit status 1 on failure): at sizes up to ``--check-max`` (1.2e5) the
dense methods' posterior mean and marginal variances (diagonal of their covariance) are compared
with the structured ones (max abs difference <= 1e-10, float64). The structured posterior
mean's conservation residual ``max_j |w . mu~_j - mass(t_j)|`` is reported at every size.

Linear scaling: time per point at each N, and the least-squares slope of log(time) against
log(N) over N >= 1e5 (the sizes where per-call overhead no longer dominates) and over all N.

Run from the repository root::

    python benchmarks/probconserv_scaling.py              # ~2-3 min on a 2-core CPU
    python benchmarks/probconserv_scaling.py --quick      # sizes 1e3-1e5, ~1 min

Writes ``benchmarks/results/probconserv_scaling.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # float64 throughout; every array is cast explicitly

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import physcon  # noqa: E402
from physcon.constraints import conservation_law, probconserv  # noqa: E402
from physcon.distributions import DiagonalGaussian  # noqa: E402
from _machine import machine_info, write_result  # noqa: E402  (benchmarks/ is on sys.path)

METHODS = ("structured", "structured_law_arg", "dense_slices", "dense_full")
DTYPE = jnp.float64
TOL_AGREE = 1e-10
GIB = 1024**3


# --- the problem ---------------------------------------------------------------------------------
def mass(t):
    """The conserved quantity's prescribed integral ``b(t)`` (any smooth function will do)."""
    return 0.5 + 0.25 * t


def make_inputs(nt: int, nx: int, seed: int):
    """Prediction mean/variance ``(nt, nx)`` and times ``(nt,)``, float64 NumPy."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, nx)
    t = np.linspace(0.0, 1.0, nt)
    mean = np.sin(np.pi * x)[None, :] * (1.0 + 0.5 * t[:, None])
    mean += 0.05 * rng.standard_normal((nt, nx))
    var = rng.uniform(1e-3, 1e-2, size=(nt, nx))
    return mean, var, t


def predicted_bytes(method: str, nt: int, nx: int) -> int:
    """Predicted peak footprint of the dominant buffers (the guard's estimate)."""
    n = nt * nx
    if method == "dense_full":
        return 3 * 8 * n * n  # Sigma, K G Sigma, Sigma~ (N x N each)
    if method == "dense_slices":
        return 3 * 8 * n * nx  # Sigma_t, I - g^T rinv1, Sigma~_t (nt x nx x nx each)
    return 12 * 8 * n  # structured: a dozen (nt, nx) arrays at most (inputs, G, outputs, temps)


# --- the three implementations ------------------------------------------------------------------
def structured_fn(grid):
    def f(mean, var, t):
        law = conservation_law(grid, t, mass, rule="trapezoid")
        post = probconserv(DiagonalGaussian(mean, var), law)
        return post.mean, post.variance

    return f


def structured_law_arg_fn(grid):
    """As :func:`structured_fn`, but the law is built eagerly (outside jit) and passed in."""
    def f(mean, var, law):
        post = probconserv(DiagonalGaussian(mean, var), law)
        return post.mean, post.variance

    return f


def structured_posterior_fn(grid):
    def f(mean, var, t):
        return probconserv(DiagonalGaussian(mean, var), conservation_law(grid, t, mass, rule="trapezoid"))

    return f


def dense_slices_fn(grid):
    """The reference code's per-time-slice dense update (limiting_mode="physnp", var_g = 0)."""
    w = grid.quadrature("trapezoid", dtype=DTYPE)
    nx = grid.n

    def f(mean, var, t):
        nt = mean.shape[0]
        b = mass(t).reshape(nt, 1, 1)
        mu = mean[:, :, None]  # (nt, nx, 1)
        g = jnp.broadcast_to(w, (nt, 1, nx))
        gtr = jnp.swapaxes(g, 1, 2)
        eye = jnp.eye(nx, dtype=DTYPE)[None]
        cov_mat = var[:, :, None] * eye  # (nt, nx, nx)
        g_cov = g @ cov_mat  # (nt, 1, nx)
        small_a = g_cov @ gtr  # (nt, 1, 1)
        rinv1 = jnp.linalg.solve(small_a, g_cov)
        new_cov = cov_mat @ (eye - gtr @ rinv1)  # (nt, nx, nx): a dense nx x nx product per slice
        rinv2 = jnp.linalg.solve(small_a, g @ mu - b)
        new_mu = mu - cov_mat @ (gtr @ rinv2)
        return new_mu[:, :, 0], new_cov

    return f


def dense_full_fn(grid):
    """The full N x N dense Gaussian conditioning on the block-diagonal constraint."""
    w = grid.quadrature("trapezoid", dtype=DTYPE)
    nx = grid.n

    def f(mean, var, t):
        nt = mean.shape[0]
        n = nt * nx
        b = mass(t)
        G = (jnp.eye(nt, dtype=DTYPE)[:, :, None] * w[None, None, :]).reshape(nt, n)
        Sigma = jnp.diag(var.ravel())
        SGt = Sigma @ G.T  # (N, nt)
        S = G @ SGt  # (nt, nt)
        L = jnp.linalg.cholesky(S)
        K = jax.scipy.linalg.cho_solve((L, True), SGt.T).T  # Sigma G^T S^-1, (N, nt)
        mu = mean.ravel()
        new_mu = mu - K @ (G @ mu - b)
        new_cov = Sigma - K @ SGt.T
        return new_mu.reshape(nt, nx), new_cov

    return f


FUNCS = {"structured": structured_fn, "structured_law_arg": structured_law_arg_fn,
         "dense_slices": dense_slices_fn, "dense_full": dense_full_fn}


# --- timing helpers ------------------------------------------------------------------------------
def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def vm_size_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def compile_timed(f, *args):
    t0 = time.perf_counter()
    compiled = jax.jit(f).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def memory_analysis(compiled) -> dict | None:
    try:
        m = compiled.memory_analysis()
    except Exception:  # pragma: no cover - not every backend/version has it
        return None
    if m is None:
        return None
    keys = ("argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes",
            "temp_size_in_bytes", "generated_code_size_in_bytes")
    return {k: int(getattr(m, k)) for k in keys if hasattr(m, k)}


def steady_state(call, first_s: float, repeats: int, min_repeat_s: float = 0.01) -> dict:
    """Median per-call seconds of ``repeats`` repeats, each looping ``inner`` calls."""
    inner = 1 if first_s >= min_repeat_s else None
    if inner is None:  # calibrate on the warm executable
        t0 = time.perf_counter()
        call()
        one = max(time.perf_counter() - t0, 1e-7)
        inner = max(1, min(10000, math.ceil(min_repeat_s / one)))
    if first_s > 2.0:
        repeats = min(repeats, 5)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            call()
        times.append((time.perf_counter() - t0) / inner)
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times,
            "inner_loops": inner, "repeats": repeats}


# --- the child: one (method, N) in a fresh process -----------------------------------------------
def child(method: str, nt: int, nx: int, args) -> dict:
    jnp.zeros(1, DTYPE).block_until_ready()  # start the backend before the baseline
    baseline = maxrss_bytes()
    limit = int(args.mem_limit_gib * GIB)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (vm_size_bytes() + limit, resource.RLIM_INFINITY))
        rlimit_set = True
    except (ValueError, OSError):  # pragma: no cover
        rlimit_set = False
    grid = physcon.Grid1D.nodes(0.0, 1.0, nx)
    mean_np, var_np, t_np = make_inputs(nt, nx, args.seed)
    mean, var, t = (jnp.asarray(a, DTYPE) for a in (mean_np, var_np, t_np))
    jax.block_until_ready((mean, var, t))
    input_bytes = int(mean.nbytes + var.nbytes + t.nbytes)

    f = FUNCS[method](grid)
    if method == "structured_law_arg":
        law = conservation_law(grid, t, mass, rule="trapezoid")
        jax.block_until_ready(law)
        input_bytes += int(sum(a.nbytes for a in jax.tree.leaves(law)))
        call_args = (mean, var, law)
    else:
        call_args = (mean, var, t)
    compiled, compile_s = compile_timed(f, *call_args)
    peak_compile = maxrss_bytes()
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(*call_args))
    first_s = time.perf_counter() - t0
    peak = maxrss_bytes()  # compile + one call, outputs alive: the main memory number
    new_mu = np.asarray(out[0])
    if method.startswith("structured"):
        new_var = np.asarray(out[1])
    else:  # the diagonal of the dense covariance, extracted on the device (no host copy of it)
        new_var = np.asarray(jnp.diagonal(out[1], axis1=-2, axis2=-1)).reshape(nt, nx)
    del out
    call = lambda: jax.block_until_ready(compiled(*call_args))  # noqa: E731
    stats = steady_state(call, first_s, args.repeats)
    peak_repeats = maxrss_bytes()
    res = {
        "method": method, "nt": nt, "nx": nx, "N": nt * nx,
        "compile_s": compile_s, "first_call_s": first_s, **stats,
        "baseline_maxrss_bytes": baseline, "peak_maxrss_bytes": peak,
        "peak_rss_delta_bytes": peak - baseline, "input_bytes": input_bytes,
        "peak_rss_delta_minus_inputs_bytes": peak - baseline - input_bytes,
        "peak_rss_delta_after_compile_bytes": peak_compile - baseline,
        "peak_rss_delta_after_repeats_bytes": peak_repeats - baseline,
        "xla_memory_analysis": memory_analysis(compiled),
        "rlimit_as_set": rlimit_set,
    }
    w = np.asarray(grid.quadrature_np("trapezoid"))
    res["max_conservation_residual"] = float(np.max(np.abs(new_mu @ w - mass(t_np))))
    save = nt * nx <= args.check_max and args.save_dir
    if method == "structured":
        # the posterior object itself (mean + factored covariance), then variance and one sample
        pc, pc_compile = compile_timed(structured_posterior_fn(grid), mean, var, t)
        post = jax.block_until_ready(pc(mean, var, t))
        t0 = time.perf_counter()
        jax.block_until_ready(pc(mean, var, t))
        res["posterior_only"] = {"compile_s": pc_compile,
                                 **steady_state(lambda: jax.block_until_ready(pc(mean, var, t)),
                                                time.perf_counter() - t0, args.repeats)}
        vc, v_compile = compile_timed(lambda p: p.variance, post)
        t0 = time.perf_counter()
        jax.block_until_ready(vc(post))
        res["posterior_variance"] = {"compile_s": v_compile,
                                     **steady_state(lambda: jax.block_until_ready(vc(post)),
                                                    time.perf_counter() - t0, args.repeats)}
        key = jax.random.key(args.seed)
        sc, s_compile = compile_timed(lambda p, k: p.sample(k, 1), post, key)
        t0 = time.perf_counter()
        smp = jax.block_until_ready(sc(post, key))
        res["posterior_sample_1"] = {"compile_s": s_compile,
                                     **steady_state(lambda: jax.block_until_ready(sc(post, key)),
                                                    time.perf_counter() - t0, args.repeats)}
        res["sample_max_conservation_residual"] = float(
            np.max(np.abs(np.asarray(smp)[0] @ w - mass(t_np))))
    if save:
        np.savez(Path(args.save_dir) / f"{method}_{nt}.npz", mean=new_mu, var=new_var)
    return res


# --- the parent ----------------------------------------------------------------------------------
def run_child(method: str, nt: int, nx: int, args, save_dir: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", method, str(nt), "--nx", str(nx),
           "--repeats", str(args.repeats), "--seed", str(args.seed), "--mem-limit-gib", str(args.mem_limit_gib),
           "--check-max", str(args.check_max), "--save-dir", save_dir]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.child_timeout)
    except subprocess.TimeoutExpired:
        return {"method": method, "nt": nt, "nx": nx, "N": nt * nx, "status": "timeout",
                "note": f"killed after {args.child_timeout} s", "wall_s": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode == 0 and lines:
        res = json.loads(lines[-1])
        res["status"] = "ok"
        res["wall_s"] = wall
        return res
    err = p.stderr[-2000:]
    oom = any(s in err for s in ("RESOURCE_EXHAUSTED", "MemoryError", "bad_alloc", "Cannot allocate",
                                 "out of memory", "Out of memory"))
    return {"method": method, "nt": nt, "nx": nx, "N": nt * nx,
            "status": "out of memory (died under RLIMIT_AS)" if oom or p.returncode < 0 else "error",
            "returncode": p.returncode, "stderr_tail": err, "wall_s": wall,
            "predicted_bytes": predicted_bytes(method, nt, nx)}


def xla_out_tmp(c) -> int | None:
    m = c.get("xla_memory_analysis")
    return None if not m else m.get("output_size_in_bytes", 0) + m.get("temp_size_in_bytes", 0)


def loglog_slope(ns, ts) -> float | None:
    if len(ns) < 2:
        return None
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def fmt_bytes(b) -> str:
    if b is None:
        return "-"
    for unit, s in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(b) >= s:
            return f"{b / s:.1f} {unit}"
    return f"{b} B"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6, 1e7],
                   help="target N = nt * nx (nt = round(N / nx))")
    p.add_argument("--nx", type=int, default=201, help="points per time slice (201: the paper's grid)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--repeats", type=int, default=7, help="steady-state repeats (>= 5; 5 for calls > 2 s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mem-limit-gib", type=float, default=12.0,
                   help="skip a case predicted to need more; RLIMIT_AS headroom in each child")
    p.add_argument("--check-max", type=float, default=1.2e5, help="agreement check up to this N")
    p.add_argument("--child-timeout", type=float, default=300.0)
    p.add_argument("--quick", action="store_true", help="sizes 1e3 1e4 1e5, 5 repeats")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "probconserv_scaling.json"))
    p.add_argument("--child", nargs=2, metavar=("METHOD", "NT"), help=argparse.SUPPRESS)
    p.add_argument("--save-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.nx, args)), flush=True)
        return 0
    if args.quick:
        args.sizes, args.repeats = [1e3, 1e4, 1e5], 5
    if args.repeats < 5:
        p.error("--repeats must be >= 5")

    info = machine_info()
    print(f"probconserv scaling: {info['cpu_model']}, nproc={info['nproc']}, "
          f"jax {info['jax']}, float64, nx = {args.nx}, memory guard {args.mem_limit_gib:g} GiB", flush=True)
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    limit = args.mem_limit_gib * GIB
    cases = []
    with tempfile.TemporaryDirectory() as save_dir:
        for n_target in args.sizes:
            nt = max(1, round(n_target / args.nx))
            for method in args.methods:
                pred = predicted_bytes(method, nt, args.nx)
                if not method.startswith("structured") and pred > limit:
                    res = {"method": method, "nt": nt, "nx": args.nx, "N": nt * args.nx,
                           "status": "out of memory (not run)", "predicted_bytes": pred,
                           "note": f"predicted {fmt_bytes(pred)} > guard {args.mem_limit_gib:g} GiB"}
                else:
                    res = run_child(method, nt, args.nx, args, save_dir)
                res["N_target"] = n_target
                res["predicted_bytes"] = pred
                cases.append(res)
                if res["status"] == "ok":
                    print(f"  N={res['N']:>9d} {method:18s} median {res['median_s']:.3e} s "
                          f"({1e9 * res['median_s'] / res['N']:.1f} ns/point), compile {res['compile_s']:.2f} s, "
                          f"peak RSS +{fmt_bytes(res['peak_rss_delta_bytes'])}", flush=True)
                else:
                    print(f"  N={res['N']:>9d} {method:18s} {res['status']}: "
                          f"{res.get('note', res.get('stderr_tail', '')[-300:])}", flush=True)
        # agreement at the small sizes
        agreement = []
        for c in cases:
            if c["method"] == "structured" or c["status"] != "ok" or c["N"] > args.check_max:
                continue
            ref = Path(save_dir) / f"structured_{c['nt']}.npz"
            mine = Path(save_dir) / f"{c['method']}_{c['nt']}.npz"
            if not (ref.exists() and mine.exists()):
                continue
            a, b = np.load(ref), np.load(mine)
            dm = float(np.max(np.abs(a["mean"] - b["mean"])))
            dv = float(np.max(np.abs(a["var"] - b["var"])))
            agreement.append({"method": c["method"], "N": c["N"], "max_abs_diff_mean": dm,
                              "max_abs_diff_variance": dv, "tolerance": TOL_AGREE,
                              "ok": bool(dm <= TOL_AGREE and dv <= TOL_AGREE)})
    wall = time.perf_counter() - t_start
    load_end = os.getloadavg()

    # scaling summaries
    summary = {}
    for method in args.methods:
        ok = [c for c in cases if c["method"] == method and c["status"] == "ok"]
        ns = [c["N"] for c in ok]
        ts = [c["median_s"] for c in ok]
        big = [(n, t) for n, t in zip(ns, ts) if n >= 1e5 * 0.99]
        not_run = [c for c in cases if c["method"] == method and c["status"] != "ok"]
        summary[method] = {
            "N": ns,
            "median_s": ts,
            "ns_per_point": [1e9 * t / n for n, t in zip(ns, ts)],
            "loglog_slope_time_all": loglog_slope(ns, ts),
            "loglog_slope_time_N_ge_1e5": loglog_slope(*zip(*big)) if len(big) >= 2 else None,
            "compile_s": [c["compile_s"] for c in ok],
            "peak_rss_delta_bytes": [c["peak_rss_delta_bytes"] for c in ok],
            "xla_output_plus_temp_bytes": [xla_out_tmp(c) for c in ok],
            "loglog_slope_peak_rss_delta_all": loglog_slope(ns, [max(c["peak_rss_delta_bytes"], 1) for c in ok]),
            "loglog_slope_xla_output_plus_temp_all": loglog_slope(ns, [max(xla_out_tmp(c) or 1, 1) for c in ok]),
            "first_failure": None if not not_run else {
                "N": not_run[0]["N"], "status": not_run[0]["status"],
                "predicted_bytes": not_run[0]["predicted_bytes"]},
        }
        if method == "structured" and ok:
            for part in ("posterior_only", "posterior_variance", "posterior_sample_1"):
                pts = [c[part]["median_s"] for c in ok]
                summary[method][part] = {
                    "median_s": pts,
                    "loglog_slope_N_ge_1e5": loglog_slope(*zip(*[(n, t) for n, t in zip(ns, pts) if n >= 0.99e5]))
                    if len(big) >= 2 else None,
                }
    ratios = []
    st = {c["N"]: c for c in cases if c["method"] == "structured" and c["status"] == "ok"}
    for c in cases:
        if c["method"] == "structured" or c["N"] not in st:
            continue
        s = st[c["N"]]
        r = {"method": c["method"], "N": c["N"], "status": c["status"]}
        if c["status"] == "ok":
            r["time_ratio_dense_over_structured"] = c["median_s"] / s["median_s"]
            r["peak_rss_delta_ratio"] = c["peak_rss_delta_bytes"] / max(s["peak_rss_delta_bytes"], 1)
            xa, xs = c.get("xla_memory_analysis"), s.get("xla_memory_analysis")
            if xa and xs:
                tot = lambda m: m.get("output_size_in_bytes", 0) + m.get("temp_size_in_bytes", 0)  # noqa: E731
                r["xla_output_plus_temp_ratio"] = tot(xa) / max(tot(xs), 1)
        else:
            r["predicted_bytes"] = c["predicted_bytes"]
        ratios.append(r)

    # table
    header = (f"{'N':>9s} {'nt':>6s} {'method':18s} {'median s':>10s} {'ns/point':>9s} {'compile s':>9s} "
              f"{'peak RSS+':>10s} {'XLA out+tmp':>11s} {'vs struct':>9s}")
    print("\n" + header + "\n" + "-" * len(header))
    for c in cases:
        if c["status"] != "ok":
            print(f"{c['N']:9d} {c['nt']:6d} {c['method']:18s} {c['status']} "
                  f"(predicted {fmt_bytes(c['predicted_bytes'])})")
            continue
        xtot = xla_out_tmp(c)
        ratio = c["median_s"] / st[c["N"]]["median_s"] if c["N"] in st else float("nan")
        print(f"{c['N']:9d} {c['nt']:6d} {c['method']:18s} {c['median_s']:10.3e} "
              f"{1e9 * c['median_s'] / c['N']:9.2f} {c['compile_s']:9.2f} "
              f"{fmt_bytes(c['peak_rss_delta_bytes']):>10s} {fmt_bytes(xtot):>11s} {ratio:8.1f}x")
    print("(median s: posterior mean + marginal variances (dense: + full covariance), median of repeats; "
          "peak RSS+: ru_maxrss after the run minus after imports, fresh process, inputs included; "
          "XLA out+tmp: compiled program's output + temporary buffers)")
    for m in ("structured", "structured_law_arg"):
        if m not in summary:
            continue
        s = summary[m]
        print(f"\n{m}: log-log slope of time vs N = {s['loglog_slope_time_N_ge_1e5']} (N >= 1e5), "
              f"{s['loglog_slope_time_all']} (all N); ns/point = "
              + ", ".join(f"{v:.1f}" for v in s["ns_per_point"])
              + f"; XLA out+tmp slope {s['loglog_slope_xla_output_plus_temp_all']}; compile s = "
              + ", ".join(f"{v:.1f}" for v in s["compile_s"]))
        for part in ("posterior_only", "posterior_variance", "posterior_sample_1"):
            if part in s:
                print(f"  {part:20s} median s = " + ", ".join(f"{v:.2e}" for v in s[part]["median_s"])
                      + f"  (slope N >= 1e5: {s[part]['loglog_slope_N_ge_1e5']})")
    for m in ("dense_slices", "dense_full"):
        if m in summary and summary[m]["first_failure"]:
            ff = summary[m]["first_failure"]
            print(f"{m}: {ff['status']} at N = {ff['N']} (predicted {fmt_bytes(ff['predicted_bytes'])})")
    for a in agreement:
        print(f"agreement {a['method']:18s} N={a['N']:7d}: max|mean diff| = {a['max_abs_diff_mean']:.2e}, "
              f"max|var diff| = {a['max_abs_diff_variance']:.2e} ({'ok' if a['ok'] else 'FAIL'})")
    print(f"(load average {load_start[0]:.2f} -> {load_end[0]:.2f}; wall {wall:.0f} s)")

    result = {
        "benchmark": "probconserv_scaling",
        "description": "time and peak memory of physcon.constraints.probconserv (structured, O(N)) on a "
                       "DiagonalGaussian (nt, nx) prediction vs the reference code's per-time-slice dense "
                       "update and the full N x N dense update, float64, jit",
        "machine": info,
        "load_average_start_end": [load_start, load_end],
        "config": {
            "nx": args.nx, "sizes_target": args.sizes, "methods": args.methods, "repeats": args.repeats,
            "seed": args.seed, "dtype": "float64", "grid": f"Grid1D.nodes(0, 1, {args.nx})",
            "rule": "trapezoid", "mass": "0.5 + 0.25 t", "noise_sigma_G": 0.0,
            "prediction": "mean = sin(pi x)(1 + t/2) + 0.05 N(0,1); variance ~ U(1e-3, 1e-2)",
            "timed_output": "structured: (post.mean, post.variance); dense: (mean, full covariance)",
            "memory": "peak_rss_delta_bytes = ru_maxrss after compile+runs minus ru_maxrss after imports "
                      "and backend start, in a fresh process per (method, N); includes inputs "
                      "(input_bytes), the compiler and outputs. xla_memory_analysis: the compiled "
                      "program's own buffer accounting.",
            "mem_limit_gib": args.mem_limit_gib,
            "predicted_bytes_rule": "dense_full 24 N^2, dense_slices 24 N nx, structured 96 N",
            "check_max": args.check_max,
        },
        "cases": cases,
        "summary": summary,
        "ratios": ratios,
        "agreement": agreement,
        "agreement_ok": all(a["ok"] for a in agreement),
        "wall_s": wall,
    }
    write_result(args.out, result)
    return 0 if result["agreement_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
