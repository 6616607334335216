"""Accelerator harness: physcon's headline workloads on whatever device JAX sees, in one JSON.

Run it wherever a GPU or TPU is lent (``pip install -e ".[cuda]"`` or ``".[tpu]"`` first)::

    python benchmarks/run_device.py                 # full sizes -> benchmarks/results/device_<kind>.json
    python benchmarks/run_device.py --smoke         # tiny sizes, seconds on a CPU (CI runs this)
    python benchmarks/run_device.py --only fno1d anp --reps 20

Workloads (sizes: full / smoke):

* ``gpme``: one finite-volume Stefan solve (Sec. 4 of the ProbConserv paper), 200 / 32 cells, and a
  vmapped batch of 64 / 2 of them; reported as cell-updates per second.
* ``fno1d``, ``fno2d``: an FNO training step (Adam) and inference at the peer-benchmark
  configurations of ``fno_throughput.py`` (1-D 1024 points, batch 20, width 64; 2-D 64 x 64,
  batch 20, width 32).
* ``boon1d``: the same 1-D FNO wrapped in BOON with Dirichlet walls, faithful and exact mode,
  training step; the ratio to the bare FNO step is BOON's overhead.
* ``anp``: an ANP training step at the paper's configuration (989,826 parameters, batch 250,
  100 context / 100 target points; ``anp_throughput.py``'s ``paper`` config).
* ``probconserv``: ProbConserv conditioning of a diagonal Gaussian on the mass law over an
  (nt, nx) grid, N = nt * nx up to 1e7 / 1e3.
* ``ns``: one Crank-Nicolson-RK4 step of the periodic Navier-Stokes solver, 256^2 / 16^2 (the
  FNO paper's forcing, nu = 1e-3, dt = 1e-4).
* ``cavity``: one SSP-RK3 step of the lid-driven cavity (streamfunction-vorticity, DST-I Poisson
  solves), 128^2 and 256^2 cells / 16^2, Re = 100 (``cavity_throughput.py``'s scheme).
* ``peaks``: the device's measured limits, the denominators of the roofline: a large float32
  matmul (GFLOP/s), a copy ``y = x + 1`` of a large float32 array (GB/s, read + write), and the
  forward + inverse real FFT at the FNO sizes (1-D (20, 64, 1024) over the last axis, 2-D
  (20, 32, 64, 64) over the last two).

**Roofline.** Every timed program also records XLA's own cost model of the compiled program
(``cost_analysis``: floating-point operations and bytes accessed per call; for the loop
workloads, ``gpme``, the count of one step times the step count, since XLA counts a loop body
once). With ``peaks`` in the same run, each entry gets ``bound_ms = max(flops / peak_flops,
bytes / peak_bandwidth)`` and ``x_bound = median_ms / bound_ms``: how far the call is from what
the device could do at best (1 = at the roofline). XLA's byte count assumes no cache reuse
between its fused kernels, so for small working sets that fit in cache ``x_bound`` can be < 1
against the DRAM bandwidth.

For each: compile time (``lower`` + ``compile``, seconds), the median and spread of the
steady-state call over ``--reps`` timed calls (each ends with ``block_until_ready``), and memory:
XLA's compiled-buffer analysis and, where the device reports it (GPU, TPU), the device's peak
bytes in use. The JSON also names the device (platform, kind, count) and the library versions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import machine_info, write_result  # noqa: E402

import physcon as pc  # noqa: E402

WORKLOADS = ("peaks", "gpme", "fno1d", "fno2d", "boon1d", "anp", "probconserv", "ns", "cavity")
SIZES = {  # workload -> (full, smoke)
    "gpme": ({"nx": 200, "nt": 11, "batch": 64}, {"nx": 32, "nt": 3, "batch": 2}),
    "fno1d": ({"res": (1024,), "batch": 20, "width": 64, "modes": (16,), "layers": 4},
              {"res": (64,), "batch": 2, "width": 8, "modes": (4,), "layers": 1}),
    "fno2d": ({"res": (64, 64), "batch": 20, "width": 32, "modes": (12, 12), "layers": 4},
              {"res": (16, 16), "batch": 2, "width": 4, "modes": (3, 3), "layers": 1}),
    "boon1d": ({"res": (1024,), "batch": 20, "width": 64, "modes": (16,), "layers": 4},
               {"res": (64,), "batch": 2, "width": 8, "modes": (4,), "layers": 1}),
    # smoke: no dropout (its random bits cost most of the tiny model's compile time)
    "anp": ({"hidden": 128, "latent": 128, "heads": 4, "dropout": 0.1, "batch": 250, "n_context": 100,
             "n_target": 100},
            {"hidden": 16, "latent": 16, "heads": 2, "dropout": 0.0, "batch": 4, "n_context": 10, "n_target": 10}),
    "probconserv": ({"shapes": [(10, 100), (100, 1000), (1000, 1000), (1000, 10000)]},
                    {"shapes": [(10, 10), (10, 100)]}),
    "ns": ({"n": 256}, {"n": 16}),
    "cavity": ({"cells": [128, 256]}, {"cells": [16]}),
    "peaks": ({"matmul": 2048, "copy_mib": 256, "fft": [(20, 64, 1024), (20, 32, 64, 64)]},
              {"matmul": 128, "copy_mib": 4, "fft": [(2, 4, 64)]}),
}


# --- timing ---------------------------------------------------------------------------------
def _block(tree):
    return jax.block_until_ready(tree)


def timed(fn, args, reps: int) -> dict:
    """Compile ``fn`` (an ``eqx.filter_jit`` function) for ``args``, then time ``reps`` calls."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    _block(compiled(*args))  # warm-up: first-call allocations
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _block(compiled(*args))
        ts.append(time.perf_counter() - t0)
    s = sorted(ts)
    return {"compile_s": compile_s, "median_ms": 1e3 * statistics.median(s), "min_ms": 1e3 * s[0],
            "max_ms": 1e3 * s[-1], "reps": reps, "memory": memory(compiled), "cost": cost(compiled)}


def cost(compiled, times: float = 1.0) -> dict:
    """XLA's cost model of one call: ``{"flops", "bytes"}`` (``times`` x a loop body's count)."""
    inner = getattr(compiled, "compiled", compiled)
    try:
        c = inner.cost_analysis()
    except Exception:  # not every backend implements it
        return {}
    if isinstance(c, (list, tuple)):  # older jax: one dict per computation
        c = c[0] if c else {}
    if not c:
        return {}
    return {"flops": times * float(c.get("flops", 0.0)), "bytes": times * float(c.get("bytes accessed", 0.0))}


def memory(compiled) -> dict:
    out = {}
    inner = getattr(compiled, "compiled", compiled)
    try:
        m = inner.memory_analysis()
        for k in ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes"):
            if m is not None and hasattr(m, k):
                out[k] = int(getattr(m, k))
    except Exception:  # some backends do not implement it
        pass
    stats = device_memory()
    if stats:
        out["device_peak_bytes_in_use"] = stats.get("peak_bytes_in_use")
    return out


def device_memory() -> dict | None:
    try:
        return jax.devices()[0].memory_stats()
    except Exception:  # CPU: not implemented
        return None


def device_info() -> dict:
    devs = jax.devices()
    stats = device_memory() or {}
    return {"platform": devs[0].platform, "device_kind": devs[0].device_kind, "count": len(devs),
            "devices": [str(d) for d in devs], "bytes_limit": stats.get("bytes_limit"),
            "x64": bool(jax.config.jax_enable_x64)}


# --- workloads ------------------------------------------------------------------------------
def _train_step(loss):
    opt = optax.adam(1e-3)

    @eqx.filter_jit
    def step(model, state, batch):
        value, grads = eqx.filter_value_and_grad(loss)(model, batch)
        updates, state = opt.update(grads, state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), state, value

    return opt, step


def _rel_l2(pred, y):
    axes = tuple(range(1, pred.ndim))
    return jnp.sum(jnp.sqrt(jnp.sum((pred - y) ** 2, axes)) / jnp.sqrt(jnp.sum(y**2, axes)))


def _fno(cfg: dict, key):
    return pc.models.FNO(len(cfg["res"]), 1, 1, cfg["modes"], cfg["width"], n_layers=cfg["layers"], grid=True, key=key)


def _fno_data(cfg: dict, key):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (cfg["batch"], 1, *cfg["res"]))
    return {"a": x, "u": jax.random.normal(ky, x.shape)}


def _fit_step(model, batch, apply, reps):
    opt, step = _train_step(lambda m, b: _rel_l2(apply(m, b["a"]), b["u"]))
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    return timed(step, (model, state, batch), reps)


def bench_fno(cfg: dict, reps: int) -> dict:
    key = jax.random.key(0)
    model, batch = _fno(cfg, key), _fno_data(cfg, key)
    apply = lambda m, a: jax.vmap(m)(a)  # noqa: E731
    infer = eqx.filter_jit(apply)
    n_params = sum(a.size for a in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))
    return {"config": cfg, "n_params": int(n_params), "train_step": _fit_step(model, batch, apply, reps),
            "inference": timed(infer, (model, batch["a"]), reps)}


def bench_boon1d(cfg: dict, reps: int) -> dict:
    key = jax.random.key(0)
    fno, batch = _fno(cfg, key), _fno_data(cfg, key)
    out = {"config": cfg, "fno": _fit_step(fno, batch, lambda m, a: jax.vmap(m)(a), reps)}
    for mode in ("faithful", "exact"):
        boon = pc.constraints.BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(1.0), mode=mode)
        res = _fit_step(boon, batch, lambda m, a: jax.vmap(lambda v: m(v, 0.0))(a), reps)
        res["overhead_vs_fno"] = res["median_ms"] / out["fno"]["median_ms"]
        out[mode] = res
    return out


def bench_anp(cfg: dict, reps: int) -> dict:
    from anp_throughput import make_data

    anp = pc.models.ANP(hidden=cfg["hidden"], latent=cfg["latent"], heads=cfg["heads"],
                         dropout=cfg["dropout"], key=jax.random.key(0))
    data = make_data(cfg["batch"], cfg["n_context"], cfg["n_target"], seed=0)
    opt = optax.adam(1e-4)

    @eqx.filter_jit
    def step(model, state, batch, key):
        (value, _), grads = eqx.filter_value_and_grad(pc.models.elbo_loss, has_aux=True)(model, batch, key)
        updates, state = opt.update(grads, state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), state, value

    state = opt.init(eqx.filter(anp, eqx.is_inexact_array))
    n_params = sum(a.size for a in jax.tree.leaves(eqx.filter(anp, eqx.is_inexact_array)))
    return {"config": cfg, "n_params": int(n_params),
            "train_step": timed(step, (anp, state, data, jax.random.key(1)), reps)}


def bench_gpme(cfg: dict, reps: int) -> dict:
    grid = pc.Grid1D.cells(0.0, 1.0, n=cfg["nx"])
    t = jnp.linspace(0.0, 0.1, cfg["nt"])
    substeps = pc.gpme.simulate(pc.gpme.Stefan(u_star=0.6), grid, t).substeps  # the stable default
    one = eqx.filter_jit(lambda u: pc.gpme.solve(pc.gpme.Stefan(u_star=u), grid, t, substeps=substeps))
    many = eqx.filter_jit(jax.vmap(lambda u: pc.gpme.solve(pc.gpme.Stefan(u_star=u), grid, t, substeps=substeps)))
    u_star = jnp.linspace(0.55, 0.7, cfg["batch"])
    updates = cfg["nx"] * (cfg["nt"] - 1) * substeps
    single, batched = timed(one, (u_star[0],), reps), timed(many, (u_star,), reps)
    # XLA counts a loop body once: the cost of one Euler step (one interval, one substep) times the steps
    t1 = t[:2]
    for res, fn in ((single, lambda u: pc.gpme.solve(pc.gpme.Stefan(u_star=u), grid, t1, substeps=1)),
                    (batched, jax.vmap(lambda u: pc.gpme.solve(pc.gpme.Stefan(u_star=u), grid, t1, substeps=1)))):
        arg = u_star[0] if res is single else u_star
        res["cost"] = cost(eqx.filter_jit(fn).lower(arg).compile(), (cfg["nt"] - 1) * substeps)
    single["cell_updates_per_s"] = updates / (single["median_ms"] / 1e3)
    batched["cell_updates_per_s"] = cfg["batch"] * updates / (batched["median_ms"] / 1e3)
    return {"config": cfg, "substeps": int(substeps), "single": single, "batched": batched}


def bench_probconserv(cfg: dict, reps: int) -> dict:
    cases = []
    for nt, nx in cfg["shapes"]:
        grid = pc.Grid1D.nodes(0.0, 1.0, nx)
        t = jnp.linspace(0.0, 1.0, nt)
        mean = jnp.sin(jnp.pi * grid.x)[None, :] * (1.0 + 0.5 * t[:, None])
        var = jnp.full((nt, nx), 1e-2, mean.dtype)

        @eqx.filter_jit
        def condition(mean, var):
            law = pc.constraints.conservation_law(grid, t, mass=lambda s: 0.5 + 0.25 * s, rule="trapezoid")
            post = pc.constraints.probconserv(pc.distributions.DiagonalGaussian(mean, var), law)
            return post.mean, post.variance

        res = timed(condition, (mean, var), reps)
        res.update(nt=nt, nx=nx, n=nt * nx)
        cases.append(res)
    return {"config": {"shapes": [list(s) for s in cfg["shapes"]]}, "cases": cases}


def bench_ns(cfg: dict, reps: int) -> dict:
    from physcon.solvers.navier_stokes import NavierStokes2D, make_step, to_spectral

    n = cfg["n"]
    eq = NavierStokes2D.fno(1e-3)
    x = jnp.arange(n) / n
    w0 = jnp.sin(2 * jnp.pi * x)[:, None] * jnp.cos(2 * jnp.pi * x)[None, :]
    step = eqx.filter_jit(make_step(eq, (n, n), 1e-4))
    return {"config": cfg, "step": timed(step, (to_spectral(w0),), reps)}


def bench_cavity(cfg: dict, reps: int) -> dict:
    from physcon.solvers import navier_stokes as ns

    cases = []
    for cells in cfg["cells"]:
        n = cells + 1
        flow = ns.LidDrivenCavity(100.0)
        step = eqx.filter_jit(ns.cavity_make_step(flow, ns.cavity_stable_dt(n, 100.0)))
        m = n - 2
        x = jnp.arange(1, m + 1) / (n - 1)
        w = jnp.sin(jnp.pi * x)[:, None] * jnp.sin(2 * jnp.pi * x)[None, :]
        res = timed(step, (w, jnp.asarray(0.5, w.dtype)), reps)
        res["cells"] = cells
        cases.append(res)
    return {"config": cfg, "cases": cases}


def bench_peaks(cfg: dict, reps: int) -> dict:
    n = cfg["matmul"]
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    mm = timed(jax.jit(lambda a, b: a @ b), (a, a), reps)
    mm["gflops"] = 2 * n**3 / (mm["median_ms"] / 1e3) / 1e9
    x = jnp.zeros(cfg["copy_mib"] * 2**20 // 4, jnp.float32)
    cp = timed(jax.jit(lambda x: x + 1.0), (x,), reps)
    cp["gb_per_s"] = 2 * x.nbytes / (cp["median_ms"] / 1e3) / 1e9
    ffts = []
    for shape in cfg["fft"]:
        axes = tuple(range(2, len(shape)))
        v = jax.random.normal(jax.random.key(1), shape, jnp.float32)
        res = timed(jax.jit(lambda v: jnp.fft.irfftn(jnp.fft.rfftn(v, axes=axes), v.shape[2:], axes=axes)), (v,), reps)
        res["shape"] = list(shape)
        ffts.append(res)
    return {"config": {k: v for k, v in cfg.items() if k != "fft"}, "matmul_f32": mm, "copy_f32": cp, "fft_f32": ffts,
            "peak_gflops": mm["gflops"], "peak_gb_per_s": cp["gb_per_s"]}


def roofline(workloads: dict) -> None:
    """Add ``bound_ms`` and ``x_bound`` to every timed entry with a cost, given ``peaks``."""
    peaks = workloads.get("peaks")
    if not peaks:
        return
    flops_s, bytes_s = peaks["peak_gflops"] * 1e9, peaks["peak_gb_per_s"] * 1e9

    def visit(tree):
        if isinstance(tree, dict):
            c = tree.get("cost")
            if "median_ms" in tree and c and (c.get("flops") or c.get("bytes")):
                bound = max(c["flops"] / flops_s, c["bytes"] / bytes_s)
                tree["bound_ms"] = 1e3 * bound
                tree["x_bound"] = tree["median_ms"] / (1e3 * bound)
                tree["limited_by"] = "flops" if c["flops"] / flops_s >= c["bytes"] / bytes_s else "bytes"
            for v in tree.values():
                visit(v)
        elif isinstance(tree, list):
            for v in tree:
                visit(v)

    for name, tree in workloads.items():
        if name != "peaks":
            visit(tree)


BENCH = {"peaks": bench_peaks, "cavity": bench_cavity, "gpme": bench_gpme, "fno1d": bench_fno, "fno2d": bench_fno, "boon1d": bench_boon1d,
         "anp": bench_anp, "probconserv": bench_probconserv, "ns": bench_ns}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI, seconds on a CPU)")
    ap.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    ap.add_argument("--reps", type=int, default=None, help="timed calls per case (default 10; smoke 2)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/device_<kind>.json)")
    args = ap.parse_args(argv)
    reps = args.reps or (2 if args.smoke else 10)
    dev = device_info()
    result = {"benchmark": "run_device", "smoke": args.smoke, "device": dev, "machine": machine_info(),
              "workloads": {}, "errors": {}}
    print(f"device: {dev['platform']} {dev['device_kind']} x{dev['count']}")
    for name in args.only:
        cfg = SIZES[name][1 if args.smoke else 0]
        t0 = time.perf_counter()
        try:
            result["workloads"][name] = BENCH[name](cfg, reps)
        except Exception as e:  # one failed workload must not lose the others' numbers
            result["errors"][name] = f"{type(e).__name__}: {e}"
            print(f"  {name}: FAILED {result['errors'][name]}")
            continue
        print(f"  {name}: {time.perf_counter() - t0:.1f} s")
    roofline(result["workloads"])
    kind = "".join(c if c.isalnum() else "_" for c in dev["device_kind"].lower())
    out = args.out or HERE / "results" / f"device_{kind}{'_smoke' if args.smoke else ''}.json"
    write_result(out, result)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
