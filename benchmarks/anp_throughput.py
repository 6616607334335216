"""ANP training throughput and inference time on this machine (CPU), float32.

What is measured
----------------
* **Training step** of :class:`physcon.models.anp.ANP` on :func:`physcon.models.anp.elbo_loss`
  (``reduction="sum"``, dropout on, as in the ProbConserv reference) with ``optax.adam``, at

  * ``paper``: ``hidden = latent = 128``, 4 heads, dropout 0.1 (989,826 parameters), a batch of
    250 functions x 100 context points x 100 target points, Adam 1e-4 (the paper's
    configuration);
  * ``small``: ``hidden = latent = 64``, 4 heads, dropout 0.1, a batch of 32 functions x 100 x
    100 (for reference).

  The step is hand-rolled (the loop ``physcon.train.fit`` compiles, without the scan)::

      @eqx.filter_jit
      def step(model, opt_state, batch, key):
          (loss, aux), grads = eqx.filter_value_and_grad(elbo_loss, has_aux=True)(model, batch, key)
          updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
          return eqx.apply_updates(model, updates), opt_state, loss

  Compile time = ``step.lower(...).compile()`` timed on its own (trace + lower + XLA compile).
  Then ``--warmup`` (1) step, then ``--steps`` (5) timed steps, each followed by
  ``block_until_ready``; steady state is their median, reported as steps/s, functions/s and
  target points/s. The data are synthetic (the cost of a step does not depend on the values):
  ``(t, x)`` uniform on [0, 1]^2, ``y = a sin(pi x) exp(-t)`` with ``a`` uniform on [0.5, 1.5]
  per function.
* **Cross-check through ``physcon.train.fit``** (paper configuration, ``--fit-chunks`` (3)
  chunks of ``--fit-log-every`` (2) scanned steps each; ``fit`` compiles ahead of time and
  records ``History.compile_seconds`` and per-chunk ``History.seconds``, compile excluded):
  seconds per step = median chunk seconds / steps per chunk.
* **Inference** on the paper's 201 x 201 = 40,401-point evaluation grid, 100 context points,
  100 latent samples, for one function: ``ANP.__call__(cx, cy, tx, key=k, n_samples=100,
  chunk_size=--chunk-size)`` (default ``chunk_size=10``: ten samples decoded at a time, which
  bounds the temporaries to ~1.3 GB; all 100 at once would need ~13 GB), jit-compiled, dropout
  off (the exact predictor: encode and cross-attend once, decode each latent). Compile time
  separately; median of ``--inference-repeats`` (3) calls of the compiled executable. XLA's
  buffer accounting of the compiled program (temporaries) is recorded.
  ``--faithful`` also times the reference code's mode (``dropout_at_inference=True``: 100 full
  forward passes with fresh dropout masks), which costs several times more.

Run from the repository root::

    python benchmarks/anp_throughput.py            # ~2.5 min on a quiet 2-core CPU (~3.5 min loaded)
    python benchmarks/anp_throughput.py --quick    # small config, no fit cross-check, 101^2 grid, ~1 min

Writes ``benchmarks/results/anp_throughput.json`` (``--out``). The machine is shared and noisy:
``load_average_start_end`` is recorded; compare only runs under similar load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from physcon.models.anp import ANP, elbo_loss
from physcon.train import fit
from _machine import machine_info, write_result  # noqa: E402  (benchmarks/ is on sys.path)

CONFIGS = {
    "paper": {"hidden": 128, "latent": 128, "heads": 4, "dropout": 0.1, "batch": 250,
              "n_context": 100, "n_target": 100, "lr": 1e-4},
    "small": {"hidden": 64, "latent": 64, "heads": 4, "dropout": 0.1, "batch": 32,
              "n_context": 100, "n_target": 100, "lr": 1e-4},
}


def make_data(n_functions: int, n_context: int, n_target: int, seed: int) -> dict:
    """Synthetic ``{context_x, context_y, target_x, target_y}``, float32, shapes ``(B, n, d)``."""
    rng = np.random.default_rng(seed)

    def points(n):
        x = rng.uniform(0.0, 1.0, size=(n_functions, n, 2))
        a = rng.uniform(0.5, 1.5, size=(n_functions, 1, 1))
        y = a * np.sin(np.pi * x[..., 1:]) * np.exp(-x[..., :1])
        return x.astype(np.float32), y.astype(np.float32)

    cx, cy = points(n_context)
    tx, ty = points(n_target)
    return {"context_x": jnp.asarray(cx), "context_y": jnp.asarray(cy),
            "target_x": jnp.asarray(tx), "target_y": jnp.asarray(ty)}


def n_params(model) -> int:
    return int(sum(a.size for a in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))))


def xla_memory(compiled) -> dict | None:
    inner = getattr(compiled, "compiled", compiled)  # eqx's Compiled wraps jax.stages.Compiled
    try:
        m = inner.memory_analysis()
    except Exception:  # pragma: no cover
        return None
    keys = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes")
    return None if m is None else {k: int(getattr(m, k)) for k in keys if hasattr(m, k)}


def make_step(optimizer):
    @eqx.filter_jit
    def step(model, opt_state, batch, key):
        (loss, _aux), grads = eqx.filter_value_and_grad(elbo_loss, has_aux=True)(model, batch, key)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    return step


def bench_training(name: str, cfg: dict, args) -> dict:
    log = lambda *a: print(f"  [train {name}]", *a, flush=True)  # noqa: E731
    model = ANP(hidden=cfg["hidden"], latent=cfg["latent"], heads=cfg["heads"], dropout=cfg["dropout"],
                key=jax.random.key(args.seed))
    optimizer = optax.adam(cfg["lr"])
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    batch = make_data(cfg["batch"], cfg["n_context"], cfg["n_target"], args.seed)
    step = make_step(optimizer)
    key = jax.random.key(args.seed + 1)

    t0 = time.perf_counter()
    compiled = step.lower(model, opt_state, batch, key).compile()
    compile_s = time.perf_counter() - t0
    log(f"{n_params(model):,} parameters; compile {compile_s:.1f} s")
    losses, times = [], []
    for i in range(args.warmup + args.steps):
        k = jax.random.fold_in(key, i)
        t0 = time.perf_counter()
        model, opt_state, loss = compiled(model, opt_state, batch, k)
        loss = float(jax.block_until_ready(loss))
        dt = time.perf_counter() - t0
        losses.append(loss)
        if i >= args.warmup:
            times.append(dt)
        log(f"step {i}: {dt:.3f} s, loss {loss:.4g}" + (" (warm-up)" if i < args.warmup else ""))
    if not all(np.isfinite(losses)):
        raise FloatingPointError(f"non-finite loss in {name}: {losses}")
    med = statistics.median(times)
    return {
        "config": name, **cfg, "parameters": n_params(model), "dtype": "float32",
        "how": "hand-rolled eqx.filter_jit step (value_and_grad of elbo_loss + optax.adam), AOT-compiled",
        "compile_s": compile_s,
        "warmup_steps": args.warmup,
        "step_times_s": times,
        "median_step_s": med,
        "min_step_s": min(times),
        "steps_per_s": 1.0 / med,
        "functions_per_s": cfg["batch"] / med,
        "target_points_per_s": cfg["batch"] * cfg["n_target"] / med,
        "losses": losses,
        "xla_memory": xla_memory(compiled),
    }


def bench_fit(name: str, cfg: dict, args) -> dict:
    log = lambda *a: print(f"  [fit {name}]", *a, flush=True)  # noqa: E731
    model = ANP(hidden=cfg["hidden"], latent=cfg["latent"], heads=cfg["heads"], dropout=cfg["dropout"],
                key=jax.random.key(args.seed))
    data = make_data(cfg["batch"], cfg["n_context"], cfg["n_target"], args.seed)
    steps = args.fit_chunks * args.fit_log_every
    t0 = time.perf_counter()
    _, hist = fit(model, elbo_loss, data, optax.adam(cfg["lr"]), steps=steps, batch_size=cfg["batch"],
                  key=jax.random.key(args.seed + 2), has_aux=True, log_every=args.fit_log_every,
                  progress=False)
    wall = time.perf_counter() - t0
    chunk_s = [float(s) for s in hist.seconds]
    per_step = statistics.median(chunk_s) / args.fit_log_every
    log(f"compile {hist.compile_seconds:.1f} s; chunks {', '.join(f'{s:.2f}' for s in chunk_s)} s "
        f"({args.fit_log_every} steps each) -> {per_step:.3f} s/step")
    return {
        "config": name, "how": "physcon.train.fit (lax.scan over log_every steps per compiled call)",
        "steps": steps, "log_every": args.fit_log_every, "compile_s": float(hist.compile_seconds),
        "chunk_seconds": chunk_s, "median_step_s": per_step, "steps_per_s": 1.0 / per_step,
        "functions_per_s": cfg["batch"] / per_step, "wall_s": wall,
        "final_losses": [float(v) for v in np.asarray(hist.loss)[-args.fit_log_every:]],
    }


def bench_inference(args, faithful: bool = False) -> dict:
    label = "faithful (dropout at inference)" if faithful else "exact (dropout off)"
    log = lambda *a: print(f"  [inference {label}]", *a, flush=True)  # noqa: E731
    cfg = CONFIGS["paper"]
    model = ANP(hidden=cfg["hidden"], latent=cfg["latent"], heads=cfg["heads"], dropout=cfg["dropout"],
                key=jax.random.key(args.seed))
    data = make_data(1, cfg["n_context"], 1, args.seed)
    cx, cy = data["context_x"][0], data["context_y"][0]
    g = jnp.linspace(0.0, 1.0, args.grid, dtype=jnp.float32)
    T, X = jnp.meshgrid(g, g, indexing="ij")
    tx = jnp.stack([T.ravel(), X.ravel()], axis=-1)
    n_s, cs = args.n_samples, args.chunk_size

    @eqx.filter_jit
    def predict(m, cx, cy, tx, k):
        return m(cx, cy, tx, key=k, n_samples=n_s, chunk_size=cs, dropout_at_inference=faithful)

    key = jax.random.key(args.seed + 3)
    t0 = time.perf_counter()
    compiled = predict.lower(model, cx, cy, tx, key).compile()
    compile_s = time.perf_counter() - t0
    mem = xla_memory(compiled)
    log(f"{tx.shape[0]:,} targets x {n_s} samples, chunk_size={cs}: compile {compile_s:.1f} s, "
        f"XLA temporaries {mem['temp_size_in_bytes'] / 2**30:.2f} GiB" if mem else "")
    times = []
    for i in range(args.inference_repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(model, cx, cy, tx, jax.random.fold_in(key, i)))
        times.append(time.perf_counter() - t0)
        log(f"call {i}: {times[-1]:.1f} s")
    ok = bool(np.all(np.isfinite(np.asarray(out.mean))) and np.all(np.asarray(out.variance) > 0))
    med = statistics.median(times)
    return {
        "mode": "faithful" if faithful else "exact",
        "dropout_at_inference": faithful,
        "n_context": cfg["n_context"], "grid": [args.grid, args.grid], "n_targets": int(tx.shape[0]),
        "n_samples": n_s, "chunk_size": cs, "compile_s": compile_s, "times_s": times,
        "median_s_per_function": med, "functions_per_s": 1.0 / med,
        "decoded_points_per_s": tx.shape[0] * n_s / med,
        "xla_memory": mem, "output_finite": ok,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="+", default=["paper", "small"], choices=list(CONFIGS))
    p.add_argument("--steps", type=int, default=5, help="timed training steps after warm-up")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--fit-chunks", type=int, default=3, help="0 skips the physcon.train.fit cross-check")
    p.add_argument("--fit-log-every", type=int, default=2)
    p.add_argument("--grid", type=int, default=201, help="evaluation grid is grid x grid")
    p.add_argument("--n-samples", type=int, default=100)
    p.add_argument("--chunk-size", type=int, default=10)
    p.add_argument("--inference-repeats", type=int, default=3, help="0 skips inference")
    p.add_argument("--faithful", action="store_true", help="also time dropout_at_inference=True")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="small config only, 3 steps, no fit cross-check, 1 inference call on a 101^2 grid")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "anp_throughput.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.configs, args.steps, args.fit_chunks = ["small"], 3, 0
        args.inference_repeats, args.grid = 1, 101
    if jax.config.jax_enable_x64:
        print("note: jax_enable_x64 is on; the model is float32 regardless", flush=True)

    info = machine_info()
    print(f"ANP throughput: {info['cpu_model']}, nproc={info['nproc']}, jax {info['jax']}, "
          f"equinox {info['equinox']}, optax {info['optax']}", flush=True)
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    training = [bench_training(name, CONFIGS[name], args) for name in args.configs]
    fit_check = bench_fit("paper", CONFIGS["paper"], args) if args.fit_chunks > 0 and "paper" in args.configs else None
    inference = []
    if args.inference_repeats > 0:
        inference.append(bench_inference(args))
        if args.faithful:
            inference.append(bench_inference(args, faithful=True))
    wall = time.perf_counter() - t_start
    load_end = os.getloadavg()

    print(f"\n{'config':8s} {'params':>9s} {'batch':>6s} {'compile s':>9s} {'step s':>8s} {'steps/s':>8s} "
          f"{'functions/s':>11s}")
    for r in training:
        print(f"{r['config']:8s} {r['parameters']:9,d} {r['batch']:6d} {r['compile_s']:9.1f} "
              f"{r['median_step_s']:8.3f} {r['steps_per_s']:8.3f} {r['functions_per_s']:11.1f}")
    if fit_check:
        print(f"fit      (paper, scanned) compile {fit_check['compile_s']:.1f} s, "
              f"{fit_check['median_step_s']:.3f} s/step = {fit_check['steps_per_s']:.3f} steps/s")
    for r in inference:
        print(f"inference {r['mode']:8s}: {r['n_targets']:,} targets x {r['n_samples']} samples "
              f"(chunk_size {r['chunk_size']}): {r['median_s_per_function']:.1f} s per function, "
              f"compile {r['compile_s']:.1f} s, {r['decoded_points_per_s'] / 1e6:.2f} M decoded points/s")
    print(f"(median of {args.steps} steps after {args.warmup} warm-up; load average "
          f"{load_start[0]:.2f} -> {load_end[0]:.2f}; wall {wall:.0f} s)")

    result = {
        "benchmark": "anp_throughput",
        "description": "ANP training steps/s (elbo_loss, Adam) and inference time on the 201x201 grid, CPU, float32",
        "machine": info,
        "load_average_start_end": [load_start, load_end],
        "config": {
            "configs": {n: CONFIGS[n] for n in args.configs}, "steps": args.steps, "warmup": args.warmup,
            "fit_chunks": args.fit_chunks, "fit_log_every": args.fit_log_every, "seed": args.seed,
            "loss": "physcon.models.anp.elbo_loss, reduction='sum', dropout on",
            "data": "synthetic: (t, x) ~ U[0,1]^2, y = a sin(pi x) exp(-t), a ~ U(0.5, 1.5)",
            "inference": {"grid": args.grid, "n_samples": args.n_samples, "chunk_size": args.chunk_size,
                          "repeats": args.inference_repeats, "faithful": args.faithful},
        },
        "training": training,
        "fit_cross_check": fit_check,
        "inference": inference,
        "wall_s": wall,
    }
    write_result(args.out, result)
    return 0 if all(r["output_finite"] for r in inference) else 1


if __name__ == "__main__":
    raise SystemExit(main())
