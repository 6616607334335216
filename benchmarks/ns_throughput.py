"""Periodic 2-D Navier-Stokes (vorticity, pseudo-spectral): physcon vs jax-cfd 0.2.1, ms per step.

What is measured
----------------
* **Problem** (the peer configuration of ``../shared/peers/ns_jaxcfd.py``, setting ``fno``):
  the FNO paper's set-up on the unit box, ``nu = 1e-3``, vorticity forcing
  ``0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``, no drag, ``dt = 1e-4`` at every size, float32,
  initial vorticity the FNO-paper Gaussian random field drawn with NumPy (seed 0; batch
  members seeds 1..B), 64^2, 128^2, 256^2. jax-cfd takes a velocity forcing and curls it: it
  gets ``u_f = (0, 0.1/(2 pi) (sin - cos)(2 pi (x + y)))`` as in the peer script.
  ``--settings kolmogorov`` adds jax-cfd's own ``ForcedNavierStokes2D`` (``[0, 2 pi)^2``, k = 4,
  drag 0.1, ``dt = stable_time_step(7, 0.5)``) against ``NavierStokes2D.kolmogorov()``.
* **Same scheme**: jax-cfd ``spectral.equations.NavierStokes2D(smooth=True)`` +
  ``spectral.time_stepping.crank_nicolson_rk4``; physcon ``make_step(eq, shape, dt,
  CrankNicolsonRK4())`` (the same Carpenter-Kennedy 5-stage low-storage RK4 with
  Crank-Nicolson on every stage, same 2/3 brick-wall dealiasing). Both step the ``rfft2``
  of the vorticity. The agreement of the two final fields is recorded (relative L2,
  ``agreement``), so the timing compares the same computation.
* **Same loop**: ``K`` steps per call as ``lax.scan`` (jax-cfd's ``funcutils.repeated``)
  inside one ``jax.jit``; ms per step = call time / ``K``. ``K`` is fixed per size
  (``--steps``), the same for both libraries.
* **Batched**: ``B`` (``--batch``, 8) fields per call. jax-cfd: ``jax.vmap`` of the repeated
  step (as in the peer script). physcon: its native batch (``make_step`` on ``(B, nx, nyh)``,
  what ``solve``/``generate`` run), and ``jax.vmap`` of the single step (``physcon-vmap``).
  Reported as ms per step of the whole batch.
* **Timing**: every contender is compiled and called once (``first_call_s``), then ``--reps``
  rounds per size; each round calls every contender of that size once (single and batched,
  both libraries), in an order rotated from round to round (interleaved, so the noise of this
  shared machine hits all), with an untimed ``--gap-ms`` pause before each call. Medians
  (min, p90) per contender; ratio = physcon median / jax-cfd median (< 1: physcon faster),
  and the median of the per-round ratios. Batch gain = single ms / (batched ms / B) (> 1:
  a batch of B is faster per field than B single runs).

Run from the repository root (jax-cfd: ``pip install jax-cfd==0.2.1`` or the ``bench`` extra;
without it only physcon is timed)::

    python benchmarks/ns_throughput.py                    # ~4 min on a 2-core CPU
    python benchmarks/ns_throughput.py --quick            # smoke run (tiny grids, 3 rounds)
    python benchmarks/ns_throughput.py --sizes 256 --reps 15 --settings fno,kolmogorov

Writes ``benchmarks/results/ns_throughput.json`` (``--out``; ``--quick`` writes nothing unless
``--out`` is given).
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

# time this checkout's physcon, whatever else is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import physcon  # noqa: E402
from physcon.solvers import navier_stokes as ns  # noqa: E402
from _machine import machine_info, write_result  # noqa: E402

NU = 1e-3
# steps per timed call (single, batched): ~0.2-1 s per call on a 2-core CPU
STEPS = {"single": {64: 200, 128: 50, 256: 20}, "batched": {64: 40, 128: 10, 256: 4}}


def have_jax_cfd() -> bool:
    try:
        import jax_cfd.spectral  # noqa: F401
    except Exception:  # noqa: BLE001 (an import error of any kind: not usable)
        return False
    return True


def grf_fno(n: int, rng, alpha: float = 2.5, tau: float = 7.0) -> np.ndarray:
    """The FNO paper's GaussianRF(2, n, alpha=2.5, tau=7) on [0, 1)^2 (float32), NumPy RNG;
    verbatim from ``../shared/peers/ns_jaxcfd.py`` (same initial data for both solvers)."""
    sigma = tau ** (0.5 * (2 * alpha - 2.0))
    k = np.fft.fftfreq(n, d=1.0 / n)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    sqrt_eig = n**2 * np.sqrt(2.0) * sigma * (4 * np.pi**2 * (kx**2 + ky**2) + tau**2) ** (-alpha / 2.0)
    sqrt_eig[0, 0] = 0.0
    xi = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    return np.real(np.fft.ifft2(sqrt_eig * xi)).astype(np.float32)


def repeated(step, steps: int):
    """``steps`` applications of ``step`` as one ``lax.scan`` (jax-cfd's ``funcutils.repeated``)."""

    def run(x):
        return jax.lax.scan(lambda c, _: (step(c), None), x, None, length=steps)[0]

    return run


def summarize(ts: list[float], steps: int) -> dict:
    s = sorted(ts)
    n = len(s)
    q = lambda p: s[min(n - 1, max(0, int(round(p * (n - 1)))))]  # noqa: E731
    per = 1e3 / steps
    return {"ms_per_step_median": per * statistics.median(s), "ms_per_step_min": per * s[0],
            "ms_per_step_p90": per * q(0.9), "call_s": s, "n": n}


# --- the two solvers ------------------------------------------------------------------------------
def jaxcfd_setup(setting: str, n: int):
    """(step, dt, w0 builder) of jax-cfd for ``setting``; ``w0(seed)`` a float32 field."""
    import jax_cfd.base as cfd
    import jax_cfd.spectral as spectral
    from jax_cfd.base import grids

    if setting == "fno":
        grid = grids.Grid((n, n), domain=((0.0, 1.0), (0.0, 1.0)))

        def forcing_fn(grid):
            x, y = grid.mesh(offset=(0.0, 0.0))
            phase = 2 * jnp.pi * (x + y)
            fy = 0.1 / (2 * jnp.pi) * (jnp.sin(phase) - jnp.cos(phase))
            u = grids.GridArray(jnp.zeros_like(fy), (0.0, 0.0), grid)
            v = grids.GridArray(fy, (0.0, 0.0), grid)
            return lambda velocity: (u, v)

        eq = spectral.equations.NavierStokes2D(NU, grid, drag=0.0, smooth=True, forcing_fn=forcing_fn)
        dt = 1e-4
    else:
        grid = grids.Grid((n, n), domain=((0, 2 * jnp.pi), (0, 2 * jnp.pi)))
        eq = spectral.equations.ForcedNavierStokes2D(NU, grid, smooth=True)
        dt = float(cfd.equations.stable_time_step(7.0, 0.5, NU, grid))
    return spectral.time_stepping.crank_nicolson_rk4(eq, dt), dt


def physcon_setup(setting: str, n: int, dt: float):
    eq = ns.NavierStokes2D.fno(NU) if setting == "fno" else ns.NavierStokes2D.kolmogorov(NU)
    return ns.make_step(eq, (n, n), dt, ns.CrankNicolsonRK4(), jnp.float32)


def initial(setting: str, n: int, seeds) -> np.ndarray:
    """Initial vorticity, ``(len(seeds), n, n)`` float32. ``fno``: the FNO-paper random field
    (NumPy); ``kolmogorov``: physcon's random field on ``[0, 2 pi)^2`` low-passed with
    ``exp(-|k|^2 / 32)`` (energy near ``|k| = 4``, like jax-cfd's ``filtered_velocity_field``)
    and scaled to ``max |u| = 1``."""
    if setting == "fno":
        return np.stack([grf_fno(n, np.random.default_rng(s)) for s in seeds])
    kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
    ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
    low = np.exp(-(kx**2 + ky**2) / 32.0)
    ws = []
    for s in seeds:
        w = ns.gaussian_random_field(jax.random.PRNGKey(s), (n, n), length=2 * np.pi, dtype=jnp.float32)
        w = np.fft.irfft2(np.fft.rfft2(np.asarray(w, np.float64)) * low, s=(n, n))
        u, v = ns.velocity(w.astype(np.float32), 2 * np.pi)
        ws.append(w / float(jnp.max(jnp.hypot(u, v))))
    return np.stack(ws).astype(np.float32)


class Contender:
    def __init__(self, name: str, library: str, fn, arg, steps: int, meta: dict):
        self.name, self.library, self.steps, self.meta = name, library, steps, meta
        self.fn, self.arg = jax.jit(fn), arg
        self.times: list[float] = []
        self.out = None

    def warm(self):
        t0 = time.perf_counter()
        self.out = self.fn(self.arg).block_until_ready()
        self.first_call_s = time.perf_counter() - t0

    def call(self) -> float:
        t0 = time.perf_counter()
        self.fn(self.arg).block_until_ready()
        return time.perf_counter() - t0


def interleaved(cs: list[Contender], reps: int, gap_s: float) -> None:
    for r in range(reps):
        for j in range(len(cs)):
            c = cs[(r + j) % len(cs)]
            if gap_s:
                time.sleep(gap_s)
            c.times.append(c.call())


def rel_l2(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def build_case(setting: str, n: int, mode: str, args) -> tuple[list[Contender], dict]:
    use_cfd = args.jax_cfd
    steps = args.steps[mode][n]
    if use_cfd:
        cfd_step, dt = jaxcfd_setup(setting, n)
    else:  # the same dt jax-cfd would pick
        dt = 1e-4 if setting == "fno" else 0.5 * (2 * np.pi / n) / 7.0
    pc_step = physcon_setup(setting, n, dt)
    seeds = [args.seed] if mode == "single" else [args.seed + 1 + i for i in range(args.batch)]
    w0 = initial(setting, n, seeds)
    w0_hat = jnp.fft.rfft2(jnp.asarray(w0))  # (B, n, n//2+1) complex64
    cs = []
    if mode == "single":
        x = w0_hat[0]
        cs.append(Contender("physcon", "physcon", repeated(pc_step, steps), x, steps, {}))
        if use_cfd:
            cs.append(Contender("jax-cfd", "jax-cfd", repeated(cfd_step, steps), x, steps, {}))
    else:
        cs.append(Contender("physcon", "physcon", repeated(pc_step, steps), w0_hat, steps,
                            {"batching": "native (B, nx, nyh) state"}))
        cs.append(Contender("physcon-vmap", "physcon", jax.vmap(repeated(pc_step, steps)), w0_hat, steps,
                            {"batching": "jax.vmap"}))
        if use_cfd:
            cs.append(Contender("jax-cfd", "jax-cfd", jax.vmap(repeated(cfd_step, steps)), w0_hat, steps,
                                {"batching": "jax.vmap"}))
    for c in cs:
        c.warm()
    return cs, {"setting": setting, "n": n, "mode": mode, "batch": len(seeds), "dt": dt, "steps_per_call": steps,
                "w0": w0, "jax_cfd": use_cfd}


def finish_case(cs: list[Contender], meta: dict, log) -> dict:
    setting, n, mode, steps, w0 = meta["setting"], meta["n"], meta["mode"], meta["steps_per_call"], meta["w0"]
    res = {k: v for k, v in meta.items() if k not in ("w0", "jax_cfd")}
    res["contenders"] = {}
    for c in cs:
        r = {"library": c.library, **c.meta, "first_call_s": c.first_call_s, **summarize(c.times, steps)}
        r["finite"] = bool(np.isfinite(np.asarray(c.out)).all())
        res["contenders"][c.name] = r
    if meta["jax_cfd"]:
        base = res["contenders"]["jax-cfd"]
        for c in cs:
            if c.library == "physcon":
                r = res["contenders"][c.name]
                r["ratio_vs_jax_cfd"] = r["ms_per_step_median"] / base["ms_per_step_median"]
                r["median_of_round_ratios"] = statistics.median(
                    [a / b for a, b in zip(c.times, next(d for d in cs if d.name == "jax-cfd").times)])
        ref = np.fft.irfft2(np.asarray(next(d for d in cs if d.name == "jax-cfd").out), s=(n, n))
        got = np.fft.irfft2(np.asarray(cs[0].out), s=(n, n))
        res["agreement"] = {"rel_l2_physcon_vs_jax_cfd": rel_l2(got, ref),
                            "rel_l2_change_over_run": rel_l2(ref, w0 if mode == "batched" else w0[0]),
                            "after_steps": steps}
    line = f"{setting:<10} {n:>4} {mode:<8} B={res['batch']:<2} K={steps:<4}"
    for name, r in res["contenders"].items():
        line += f" {name} {r['ms_per_step_median']:8.3f} ms"
        if "ratio_vs_jax_cfd" in r:
            line += f" ({r['ratio_vs_jax_cfd']:.2f}x)"
    if "agreement" in res:
        line += f"  diff {res['agreement']['rel_l2_physcon_vs_jax_cfd']:.1e}"
    log(line)
    return res


def run_size(setting: str, n: int, args, log) -> list[dict]:
    """All modes of one (setting, size): every contender, single and batched, in one
    interleaved group (so that the batch gain compares times taken in the same rounds)."""
    built = [build_case(setting, n, mode, args) for mode in args.modes]
    interleaved([c for cs, _ in built for c in cs], args.reps, args.gap_ms / 1e3)
    return [finish_case(cs, meta, log) for cs, meta in built]


def batch_gain(cases: list[dict]) -> None:
    """Per batched case: ms per step per sample, and the gain over one field at a time
    (``single ms / (batched ms / B)``; > 1: batching pays)."""
    single = {(c["setting"], c["n"]): c for c in cases if c["mode"] == "single"}
    for c in cases:
        one = single.get((c["setting"], c["n"]))
        if c["mode"] != "batched":
            continue
        for name, r in c["contenders"].items():
            r["ms_per_sample_step"] = r["ms_per_step_median"] / c["batch"]
            base = one and one["contenders"].get(name if name in one["contenders"] else "physcon")
            if base:
                r["gain_vs_single"] = base["ms_per_step_median"] / r["ms_per_sample_step"]


def print_table(cases: list[dict]) -> None:
    print("\nms per step (median; batched: per step of the whole batch); ratio = physcon / jax-cfd")
    print(f"{'setting':<10} {'n':>4} {'mode':<10} {'physcon':>9} {'pc-vmap':>9} {'jax-cfd':>9} {'ratio':>6} "
          f"{'vmap r':>6} {'diff':>8}")
    for c in cases:
        r = c["contenders"]
        get = lambda k, f: (f"{r[k][f]:9.3f}" if k in r and f in r[k] else f"{'-':>9}")  # noqa: E731
        rat = lambda k: (f"{r[k]['ratio_vs_jax_cfd']:6.2f}"  # noqa: E731
                         if k in r and "ratio_vs_jax_cfd" in r[k] else f"{'-':>6}")
        diff = f"{c['agreement']['rel_l2_physcon_vs_jax_cfd']:8.1e}" if "agreement" in c else f"{'-':>8}"
        mode = c["mode"] if c["mode"] == "single" else f"batch {c['batch']}"
        gain = "".join(f"  {k} x{r[k]['gain_vs_single']:.2f}" for k in ("physcon", "jax-cfd")
                       if k in r and "gain_vs_single" in r[k])
        print(f"{c['setting']:<10} {c['n']:>4} {mode:<10} {get('physcon', 'ms_per_step_median')} "
              f"{get('physcon-vmap', 'ms_per_step_median')} {get('jax-cfd', 'ms_per_step_median')} "
              f"{rat('physcon')} {rat('physcon-vmap')} {diff}" + (f"  batch gain:{gain}" if gain else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--settings", default="fno", help="comma list of fno, kolmogorov (default fno)")
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--modes", default="single,batched")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=11, help="interleaved timed rounds (default 11)")
    ap.add_argument("--gap-ms", type=float, default=5.0, help="untimed pause before each call")
    ap.add_argument("--steps", default=None,
                    help="steps per call for every size, 'single,batched' (default per size: "
                    + ", ".join(f"{n}: {STEPS['single'][n]},{STEPS['batched'][n]}" for n in STEPS["single"]) + ")")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-jax-cfd", action="store_true", help="time physcon only")
    ap.add_argument("--quick", action="store_true", help="smoke run: 32^2, batch 2, 3 rounds, 10/5 steps")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        given = " ".join(argv if argv is not None else sys.argv)
        args.reps = min(args.reps, 3)
        if "--sizes" not in given:
            args.sizes = "32"
        if "--batch" not in given:
            args.batch = 2
        if args.steps is None:
            args.steps = "10,5"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    modes = args.modes = [m for m in args.modes.split(",") if m]
    settings = [s for s in args.settings.split(",") if s]
    for s in settings:
        if s not in ("fno", "kolmogorov"):
            ap.error(f"unknown setting {s!r}")
    if args.steps is None:
        args.steps = {m: {n: STEPS[m].get(n, max(1, STEPS[m][64] * 64**2 // n**2)) for n in sizes}
                      for m in ("single", "batched")}
    else:
        k1, k2 = (int(v) for v in args.steps.split(","))
        args.steps = {"single": dict.fromkeys(sizes, k1), "batched": dict.fromkeys(sizes, k2)}
    out_path = args.out or (None if args.quick else
                            str(Path(__file__).resolve().parent / "results" / "ns_throughput.json"))
    log = lambda *a: print(*a, flush=True)  # noqa: E731

    args.jax_cfd = have_jax_cfd() and not args.no_jax_cfd
    versions = {}
    if args.jax_cfd:
        import jax_cfd

        versions["jax_cfd"] = getattr(jax_cfd, "__version__", "?")
        try:
            from importlib.metadata import version

            versions["tree_math"] = version("tree-math")
        except Exception:  # noqa: BLE001
            pass
    elif not args.no_jax_cfd:
        log("NOTE: jax-cfd is not importable: timing physcon only (pip install jax-cfd==0.2.1)")
    ncores = len(os.sched_getaffinity(0))
    log(f"jax {jax.__version__} on {jax.devices()}, {ncores} cores; jax-cfd {versions.get('jax_cfd', 'absent')}")

    result = {"benchmark": "ns_throughput", "machine": machine_info(), "peer_versions": versions,
              "physcon_path": str(Path(physcon.__file__).parent),
              "settings": {"settings": settings, "sizes": sizes, "modes": modes, "batch": args.batch,
                           "reps": args.reps, "gap_ms": args.gap_ms, "steps_per_call": args.steps,
                           "seed": args.seed, "dtype": "float32", "viscosity": NU, "quick": args.quick,
                           "scheme": "crank_nicolson_rk4 (jax-cfd) / CrankNicolsonRK4 (physcon)"},
              "cases": []}
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    for setting in settings:
        for n in sizes:
            result["cases"].extend(run_size(setting, n, args, log))
    batch_gain(result["cases"])
    result["wall_s"] = time.perf_counter() - t0
    result["load_average_start_end"] = [load0, os.getloadavg()]
    print_table(result["cases"])
    if out_path:
        write_result(out_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
