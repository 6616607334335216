"""FNO training step and inference: physcon (JAX, ``spectral="fft"`` and ``"dft"``) vs
neuraloperator (PyTorch), side by side in one process; and BOON's overhead over the same FNO.

What is measured
----------------
* **Configurations** (the peer configurations of ``../shared/peers``, batch 20, float32,
  random N(0, 1) inputs and targets):

  * ``fno1d``: 1024 points, width 64, 4 Fourier layers, in 2 (+1 grid channel) -> out 1;
  * ``fno2d``: 64x64, width 32, 4 Fourier layers, in 3 (+2 grid channels) -> out 1.

* **Same kept modes**, two mode sets per configuration (``--mode-sets``):

  * ``nop``: neuraloperator's peer ``n_modes`` (``16`` in 1-D, ``(12, 12)`` in 2-D), which keep
    9 rfft modes (frequencies 0..8) and 12x7 modes (-6..5 by 0..6); physcon gets ``modes=9``
    and ``modes=(6, 7)``, which keep exactly the same frequencies.
  * ``physcon``: physcon's paper configuration ``modes=16`` (0..15) and ``modes=12``
    (-12..11 by 0..11); neuraloperator gets ``n_modes=(31,)`` and ``(24, 23)``, which keep the
    same frequencies.

  The kept-frequency sets are *checked*, not assumed: one spectral convolution of each library
  with all weights 1 is applied to a unit impulse and the nonzero frequencies of its output are
  compared (``kept_modes_check`` in the JSON; the script exits 1 on a mismatch).

* **Same architecture otherwise** (the original FNO, which physcon's FNO is): neuraloperator
  ``FNO(..., lifting_channel_ratio=0, projection_channel_ratio=128 / width,
  use_channel_mlp=False, fno_skip="linear", positional_embedding="grid", domain_padding=None)``
  -- one linear lifting, ``v <- gelu(K v + W v)``, projection ``width -> 128 -> out`` with GELU,
  no padding, exact GELU, dense complex spectral weights -- against physcon
  ``FNO(n_dim, in, out, modes, width, lifting=None, projection=128, padding=0.0,
  activation="gelu", grid=True, spectral="fft" | "dft")``. Two known differences, both
  neuraloperator's: its ``FNOBlocks`` applies the GELU *twice* per non-final layer when
  ``use_channel_mlp=False`` (``gelu(gelu(K v + W v))``, an extra elementwise pass), and its
  grid channels are ``[0, 1)`` where physcon's include 1. Parameter counts of every model are
  recorded (real numbers; torch's ``numel`` counts a complex weight once). For reference the
  neuraloperator **default** architecture of the peer scripts (channel MLP per layer,
  soft-gating, lifting MLP) is timed too (``neuralop-default``, ``nop`` mode set only); it is
  not part of the ratios.

* **Training step**: forward on the batch, relative L2 loss (``||pred - y|| / ||y||`` per
  sample, mean over the batch: neuraloperator's ``LpLoss(d, p=2)``), gradient, Adam (1e-3)
  update. physcon: ``jax.value_and_grad`` + ``optax.adam`` + ``optax.apply_updates`` in one
  ``jax.jit`` (parameters ``eqx.partition``-ed, parameters and optimiser state donated), the
  batch under ``jax.vmap``; timed to ``block_until_ready`` of all outputs. neuraloperator:
  ``zero_grad``, forward, ``LpLoss``, ``backward``, ``torch.optim.Adam.step``, ``loss.item()``.
* **Inference**: forward on the batch; physcon a jitted ``vmap`` of the model, neuraloperator
  ``model.eval()`` under ``torch.inference_mode()``.
* **Timing**: every contender is compiled / warmed up first (``--warmup`` calls each), then
  ``--reps`` rounds; each round calls every contender once, in an order rotated from round to
  round (interleaved, so that machine noise hits all of them). ``time.perf_counter`` around
  each call. Reported: median (and min, p10, p90) per contender, the ratio of medians
  ``physcon / neuraloperator``, and the median of the per-round ratios.
* **Threads**: torch uses as many intra-op threads as XLA's CPU client sees
  (``len(os.sched_getaffinity(0))``, ``--threads``); the torch / neuraloperator / jax
  versions and thread counts are recorded.
* **BOON** (section ``boon``; skipped with a note when ``physcon.constraints`` has no
  ``BOON``): the 1-D configuration with physcon's ``modes=16`` on both spectral paths: the
  plain FNO against ``physcon.constraints.BOON(fno, left=..., right=..., mode="exact" |
  "faithful")`` with Dirichlet(0) walls and with Neumann(0) walls (``--boon-bcs``); same
  training step and inference as above; ratio BOON / FNO.
* **Allocator pass** (``--malloc-pass``, on for full runs): XLA allocates each call's
  temporaries as one buffer (137 MB for the 1-D training step, 376 MB in 2-D, 80 MB for 2-D
  inference); above glibc's 32 MB mmap ceiling that is a fresh ``mmap`` per call, page-faulted
  in and zeroed again every time (~37k page faults per 1-D step). The FNO sections are
  therefore rerun in a child process with ``GLIBC_TUNABLES=`` :data:`TUNED_MALLOC` (one arena,
  no mmap, no trimming), which keeps that memory in the heap; results under ``malloc_tuned``.
  torch runs in the same environment in both passes.

Run from the repository root, in an environment with the ``bench`` extra (torch CPU wheel,
neuraloperator)::

    python benchmarks/fno_throughput.py                     # full run, ~5.5 min on a 2-core CPU
    python benchmarks/fno_throughput.py --quick             # smoke run (3 rounds, 1-D + BOON), ~2 min
    python benchmarks/fno_throughput.py --sections fno2d --mode-sets nop --reps 20

Writes ``benchmarks/results/fno_throughput.json`` (``--out``; ``--quick`` writes nothing unless
``--out`` is given). The machine is shared and noisy: load averages are recorded; differences
under ~20-30 % between separate runs are noise, ratios within one run are more stable.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import physcon as pc
from _machine import machine_info, write_result  # noqa: E402  (benchmarks/ is on sys.path)

CONFIGS = {
    "fno1d": {"n_dim": 1, "res": (1024,), "batch": 20, "width": 64, "layers": 4, "cin": 2, "cout": 1,
              "projection": 128,
              # mode set -> (physcon modes, neuraloperator n_modes) keeping the same frequencies
              "mode_sets": {"nop": ((9,), (16,)), "physcon": ((16,), (31,))}},
    "fno2d": {"n_dim": 2, "res": (64, 64), "batch": 20, "width": 32, "layers": 4, "cin": 3, "cout": 1,
              "projection": 128,
              "mode_sets": {"nop": ((6, 7), (12, 12)), "physcon": ((12, 12), (24, 23))}},
}
LR = 1e-3
# glibc malloc settings that keep XLA's per-call temporary buffer (137 MB for the 1-D training
# step, 376 MB in 2-D) in the heap instead of a fresh mmap that is page-faulted in on every call
TUNED_MALLOC = "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4000000000"


# --- helpers ----------------------------------------------------------------------------------
def summarize(ts: list[float]) -> dict:
    s = sorted(ts)
    n = len(s)
    q = lambda p: s[min(n - 1, max(0, int(round(p * (n - 1)))))]  # noqa: E731
    return {"median_ms": 1e3 * statistics.median(s), "min_ms": 1e3 * s[0], "p10_ms": 1e3 * q(0.1),
            "p90_ms": 1e3 * q(0.9), "mean_ms": 1e3 * statistics.fmean(s), "n": n}


def n_params_jax(model) -> int:
    return int(sum(a.size for a in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))))


def n_params_torch(model) -> tuple[int, int]:
    ps = list(model.parameters())
    return (int(sum(p.numel() * (2 if p.is_complex() else 1) for p in ps)),
            int(sum(p.numel() for p in ps)))


def data(cfg: dict, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["batch"], cfg["cin"], *cfg["res"])).astype(np.float32)
    y = rng.standard_normal((cfg["batch"], cfg["cout"], *cfg["res"])).astype(np.float32)
    return x, y


def rel_l2_jax(pred, y):
    """neuraloperator's LpLoss(p=2): per sample and channel ||pred - y|| / ||y||, mean."""
    axes = tuple(range(2, pred.ndim))
    d = jnp.sqrt(jnp.sum((pred - y) ** 2, axis=axes))
    return jnp.mean(d / (jnp.sqrt(jnp.sum(y**2, axis=axes)) + 1e-8))


# --- contenders -------------------------------------------------------------------------------
class JaxContender:
    """A physcon model (anything callable on one sample): jitted train step and inference."""

    framework = "jax"

    def __init__(self, name: str, model, x: np.ndarray, y: np.ndarray, meta: dict):
        self.name, self.meta = name, meta
        self.n_params = n_params_jax(model)
        params, static = eqx.partition(model, eqx.is_inexact_array)
        opt = optax.adam(LR)
        self.x, self.y = jnp.asarray(x), jnp.asarray(y)

        def forward(p, xb):
            return jax.vmap(eqx.combine(p, static))(xb)

        def loss_fn(p, xb, yb):
            return rel_l2_jax(forward(p, xb), yb)

        @functools.partial(jax.jit, donate_argnums=(0, 1))
        def step(p, s, xb, yb):
            loss, g = jax.value_and_grad(loss_fn)(p, xb, yb)
            updates, s = opt.update(g, s, p)
            return optax.apply_updates(p, updates), s, loss

        # private copies: the train step donates its inputs, and models may share arrays
        # (BOON wraps the same FNO)
        self._params = jax.tree.map(jnp.copy, params)
        self._opt_state = opt.init(self._params)
        self._infer_params = jax.tree.map(jnp.copy, params)
        self._step, self._forward = step, jax.jit(forward)
        self.first_train_ms = self.first_infer_ms = None
        self.loss_first = self.loss_last = None

    def train_step(self) -> float:
        self._params, self._opt_state, loss = self._step(self._params, self._opt_state, self.x, self.y)
        jax.block_until_ready((self._params, self._opt_state))
        return float(loss)

    def infer(self):
        return jax.block_until_ready(self._forward(self._infer_params, self.x))


class TorchContender:
    framework = "torch"

    def __init__(self, name: str, model, x: np.ndarray, y: np.ndarray, meta: dict):
        import torch
        from neuralop.losses import LpLoss

        self.torch = torch
        self.name, self.meta = name, meta
        self.model = model
        self.n_params, self.n_numel = n_params_torch(model)
        self.opt = torch.optim.Adam(model.parameters(), lr=LR)
        self.loss_fn = LpLoss(d=x.ndim - 2, p=2, reduction="mean")
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.first_train_ms = self.first_infer_ms = None
        self.loss_first = self.loss_last = None

    def train_step(self) -> float:
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def infer(self):
        self.model.eval()
        with self.torch.inference_mode():
            return self.model(self.x)


def physcon_fno(cfg: dict, modes, spectral: str, seed: int = 0):
    return pc.models.FNO(cfg["n_dim"], cfg["cin"], cfg["cout"], modes, cfg["width"], n_layers=cfg["layers"],
                         lifting=None, projection=cfg["projection"], padding=0.0, activation="gelu",
                         spectral=spectral, grid=True, key=jax.random.key(seed))


def neuralop_fno(cfg: dict, n_modes, matched: bool = True, seed: int = 0):
    import torch
    from neuralop.models import FNO

    torch.manual_seed(seed)
    if not matched:  # the peer scripts' neuraloperator defaults
        return FNO(n_modes=tuple(n_modes), in_channels=cfg["cin"], out_channels=cfg["cout"],
                   hidden_channels=cfg["width"], n_layers=cfg["layers"])
    return FNO(n_modes=tuple(n_modes), in_channels=cfg["cin"], out_channels=cfg["cout"],
               hidden_channels=cfg["width"], n_layers=cfg["layers"], lifting_channel_ratio=0,
               projection_channel_ratio=cfg["projection"] / cfg["width"], use_channel_mlp=False,
               fno_skip="linear", positional_embedding="grid", domain_padding=None)


# --- kept-mode check --------------------------------------------------------------------------
def _freq_set(spectrum: np.ndarray, res: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Signed frequencies where an rfftn half-spectrum is nonzero (relative to its max)."""
    mag = np.abs(spectrum)
    idx = np.argwhere(mag > 1e-3 * mag.max())
    out = []
    for k in idx:
        f = [int(k[a]) if (a == len(res) - 1 or k[a] <= res[a] // 2) else int(k[a]) - res[a]
             for a in range(len(res))]
        out.append(tuple(f))
    return sorted(out)


def kept_modes(res: tuple[int, ...], physcon_modes, nop_modes) -> dict:
    """Frequencies each library's spectral convolution passes (all weights 1, impulse input)."""
    import torch
    from neuralop.layers.spectral_convolution import SpectralConv as TorchSC

    d = len(res)
    impulse = np.zeros((1, *res), np.float32)
    impulse[(0,) + (0,) * d] = 1.0
    sc = pc.models.fno.SpectralConv(1, 1, physcon_modes, n_dim=d, key=jax.random.key(0))
    sc = eqx.tree_at(lambda s: (s.weight_real, s.weight_imag), sc,
                     (jnp.ones_like(sc.weight_real), jnp.zeros_like(sc.weight_imag)))
    got = {}
    for spectral in ("fft", "dft"):
        y = np.asarray(sc(jnp.asarray(impulse), spectral))[0]
        got[f"physcon_{spectral}"] = _freq_set(np.fft.rfftn(y), res)
    tsc = TorchSC(1, 1, n_modes=tuple(nop_modes))
    with torch.no_grad():
        tsc.weight.tensor.fill_(1.0)
        tsc.bias.zero_()
        y = tsc(torch.from_numpy(impulse[None])).numpy()[0, 0]
    got["neuralop"] = _freq_set(np.fft.rfftn(y), res)
    same = got["physcon_fft"] == got["physcon_dft"] == got["neuralop"]
    per_axis = [sorted({f[a] for f in got["neuralop"]}) for a in range(d)]
    return {"physcon_modes": list(physcon_modes), "neuralop_n_modes": list(nop_modes),
            "kept_weights_physcon": list(sc.weight_real.shape[2:]),
            "kept_weights_neuralop": list(tsc.weight.shape[2:]),
            # frequencies in the impulse response: in 2-D this includes the Hermitian mirror of
            # the kept k_last = 0 column (a real field cannot hold -k without +k there)
            "n_output_freqs": len(got["neuralop"]),
            "output_freqs_per_axis_first_last_count": [[a[0], a[-1], len(a)] for a in per_axis],
            "same": bool(same)}


# --- timing -----------------------------------------------------------------------------------
def warm(contenders, warmup: int, log) -> None:
    for c in contenders:
        t0 = time.perf_counter()
        c.loss_first = c.train_step()
        c.first_train_ms = 1e3 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        c.infer()
        c.first_infer_ms = 1e3 * (time.perf_counter() - t0)
        for _ in range(max(0, warmup - 1)):
            c.train_step()
            c.infer()
        log(f"{c.name:<28} first train {c.first_train_ms:8.0f} ms, first inference "
            f"{c.first_infer_ms:7.0f} ms, {c.n_params:,} params")


def interleaved(contenders, what: str, reps: int, gap_s: float = 0.0) -> dict[str, list[float]]:
    times = {c.name: [] for c in contenders}
    n = len(contenders)
    for r in range(reps):
        for j in range(n):
            c = contenders[(r + j) % n]
            fn = c.train_step if what == "train" else c.infer
            if gap_s:  # untimed: lets the other runtime's spinning worker threads go idle
                time.sleep(gap_s)
            t0 = time.perf_counter()
            out = fn()
            times[c.name].append(time.perf_counter() - t0)
            if what == "train":
                c.loss_last = out
    return times


def ratios(times: dict, num: str, den: str) -> dict:
    a, b = times[num], times[den]
    return {"ratio_of_medians": statistics.median(a) / statistics.median(b),
            "median_of_round_ratios": statistics.median([x / y for x, y in zip(a, b)])}


def run_group(contenders, baseline: str, args, log) -> dict:
    """Warm up, time train and inference interleaved; ratios of every contender to ``baseline``."""
    warm(contenders, args.warmup, log)
    train = interleaved(contenders, "train", args.reps, args.gap_ms / 1e3)
    infer = interleaved(contenders, "infer", args.reps, args.gap_ms / 1e3)
    res = {}
    for c in contenders:
        res[c.name] = {
            "framework": c.framework, **c.meta, "params_real": c.n_params,
            **({"params_torch_numel": c.n_numel} if hasattr(c, "n_numel") else {}),
            "train_step": summarize(train[c.name]), "infer": summarize(infer[c.name]),
            "first_train_step_ms": c.first_train_ms, "first_infer_ms": c.first_infer_ms,
            "loss_first": c.loss_first, "loss_last": c.loss_last,
        }
        if c.name != baseline:
            res[c.name][f"train_vs_{baseline}"] = ratios(train, c.name, baseline)
            res[c.name][f"infer_vs_{baseline}"] = ratios(infer, c.name, baseline)
    return res


# --- sections ---------------------------------------------------------------------------------
def section_fno(name: str, args, log) -> dict:
    cfg = CONFIGS[name]
    x, y = data(cfg)
    out = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items() if k != "mode_sets"},
           "mode_sets": {}}
    for ms in args.mode_sets:
        pm, nm = cfg["mode_sets"][ms]
        check = kept_modes(cfg["res"], pm, nm)
        log(f"{name} mode set '{ms}': physcon modes={pm} (weights {check['kept_weights_physcon']}), "
            f"neuraloperator n_modes={nm} (weights {check['kept_weights_neuralop']}); impulse-response "
            f"frequencies per axis [first, last, count] {check['output_freqs_per_axis_first_last_count']}, "
            f"identical sets: {check['same']}")
        if not check["same"]:
            raise SystemExit(f"kept-mode mismatch in {name}/{ms}: {check}")
        cs = [JaxContender(f"physcon-{sp}", physcon_fno(cfg, pm, sp), x, y,
                           {"library": "physcon", "spectral": sp, "modes": list(pm)})
              for sp in ("fft", "dft")]
        cs.append(TorchContender("neuralop", neuralop_fno(cfg, nm), x, y,
                                 {"library": "neuraloperator", "architecture": "original FNO (matched)",
                                  "n_modes": list(nm)}))
        if ms == "nop" and not args.no_default:
            cs.append(TorchContender("neuralop-default", neuralop_fno(cfg, nm, matched=False), x, y,
                                     {"library": "neuraloperator", "architecture": "neuraloperator default",
                                      "n_modes": list(nm)}))
        res = run_group(cs, "neuralop", args, log)
        out["mode_sets"][ms] = {"kept_modes_check": check, "results": res}
        for c in cs:
            r = res[c.name]
            tr, inf = r.get("train_vs_neuralop"), r.get("infer_vs_neuralop")
            log(f"  {c.name:<18} train {r['train_step']['median_ms']:7.1f} ms"
                + (f" ({tr['ratio_of_medians']:.2f}x)" if tr else "         ")
                + f"   inference {r['infer']['median_ms']:7.1f} ms"
                + (f" ({inf['ratio_of_medians']:.2f}x)" if inf else ""))
    return out


def section_boon(args, log) -> dict:
    import physcon.constraints as pcc

    if not hasattr(pcc, "BOON"):
        msg = "physcon.constraints has no BOON yet: BOON section skipped"
        print(f"NOTE: {msg}", flush=True)
        return {"skipped": msg}
    cfg = CONFIGS["fno1d"]
    modes = (16,)
    x, y = data(cfg)
    bcs = {"dirichlet": (pc.Dirichlet(0.0), pc.Dirichlet(0.0)),
           "neumann": (pc.Neumann(0.0), pc.Neumann(0.0))}
    out = {"config": {"res": list(cfg["res"]), "batch": cfg["batch"], "width": cfg["width"],
                      "layers": cfg["layers"], "modes": list(modes), "in": cfg["cin"], "grid": True,
                      "projection": cfg["projection"], "per_layer": True},
           "bcs": {k: [repr(v) for v in bcs[k]] for k in args.boon_bcs}, "spectral": {}}
    for sp in args.boon_spectral:
        fno = physcon_fno(cfg, modes, sp)
        cs = [JaxContender("fno", fno, x, y, {"model": "FNO", "spectral": sp})]
        for bc in args.boon_bcs:
            left, right = bcs[bc]
            for mode in ("exact", "faithful"):
                try:
                    boon = pcc.BOON(fno, left=left, right=right, mode=mode, per_layer=True)
                    cs.append(JaxContender(f"boon-{bc}-{mode}", boon, x, y,
                                           {"model": "BOON", "bc": bc, "mode": mode, "spectral": sp}))
                except Exception as e:  # the API is young: record, do not crash the benchmark
                    log(f"BOON({bc}, {mode}) failed: {type(e).__name__}: {e}")
                    out.setdefault("errors", []).append(f"{sp}/{bc}/{mode}: {type(e).__name__}: {e}")
        res = run_group(cs, "fno", args, log)
        out["spectral"][sp] = res
        for c in cs:
            r = res[c.name]
            tr, inf = r.get("train_vs_fno"), r.get("infer_vs_fno")
            log(f"  [{sp}] {c.name:<22} train {r['train_step']['median_ms']:7.1f} ms"
                + (f" ({tr['ratio_of_medians']:.2f}x)" if tr else "         ")
                + f"   inference {r['infer']['median_ms']:7.1f} ms"
                + (f" ({inf['ratio_of_medians']:.2f}x)" if inf else ""))
    return out


def print_table(result: dict) -> None:
    if any(k in result["sections"] for k in ("fno1d", "fno2d")):
        print("\nmedian ms (ratio to neuraloperator, same kept modes, same architecture)")
        print(f"{'section':<7} {'modes':<8} {'contender':<18} {'train':>8} {'ratio':>6} {'infer':>8} {'ratio':>6}")
    for name in ("fno1d", "fno2d"):
        sec = result["sections"].get(name)
        if not sec:
            continue
        for ms, grp in sec["mode_sets"].items():
            for cname, r in grp["results"].items():
                tr, inf = r.get("train_vs_neuralop"), r.get("infer_vs_neuralop")
                print(f"{name:<7} {ms:<8} {cname:<18} {r['train_step']['median_ms']:8.1f} "
                      f"{(tr['ratio_of_medians'] if tr else 1.0):6.2f} {r['infer']['median_ms']:8.1f} "
                      f"{(inf['ratio_of_medians'] if inf else 1.0):6.2f}")
    boon = result["sections"].get("boon")
    if boon and "spectral" in boon:
        print("\nBOON, 1-D modes=16: median ms (ratio to the plain FNO)")
        for sp, grp in boon["spectral"].items():
            for cname, r in grp.items():
                tr, inf = r.get("train_vs_fno"), r.get("infer_vs_fno")
                print(f"{sp:<4} {cname:<24} {r['train_step']['median_ms']:8.1f} "
                      f"{(tr['ratio_of_medians'] if tr else 1.0):6.2f} {r['infer']['median_ms']:8.1f} "
                      f"{(inf['ratio_of_medians'] if inf else 1.0):6.2f}")


def malloc_pass(args, sections, log) -> dict:
    """Rerun the FNO sections in a child process with ``GLIBC_TUNABLES=TUNED_MALLOC``."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tuned.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--sections", ",".join(sections),
               "--mode-sets", ",".join(args.mode_sets), "--reps", str(args.reps), "--warmup",
               str(args.warmup), "--gap-ms", str(args.gap_ms), "--malloc-pass", "off", "--out", out]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.no_default:
            cmd.append("--no-default")
        log(f"\n== malloc pass: GLIBC_TUNABLES={TUNED_MALLOC} ==")
        p = subprocess.run(cmd, env=dict(os.environ, GLIBC_TUNABLES=TUNED_MALLOC), text=True,
                           capture_output=True)
        if p.returncode != 0:
            return {"error": p.stderr[-3000:]}
        with open(out) as f:
            res = json.load(f)
    return {"GLIBC_TUNABLES": TUNED_MALLOC, "sections": res["sections"], "wall_s": res["wall_s"],
            "load_average_start_end": res["load_average_start_end"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--sections", default="fno1d,fno2d,boon", help="comma list of fno1d, fno2d, boon")
    ap.add_argument("--mode-sets", default="nop,physcon", help="comma list of nop, physcon")
    ap.add_argument("--reps", type=int, default=15, help="interleaved timed rounds (default 15)")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up calls per contender (default 3)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: the cores XLA sees, len(sched_getaffinity))")
    ap.add_argument("--gap-ms", type=float, default=10.0,
                    help="untimed pause before each timed call (default 10 ms)")
    ap.add_argument("--boon-bcs", default="dirichlet,neumann")
    ap.add_argument("--boon-spectral", default="fft,dft")
    ap.add_argument("--malloc-pass", choices=("auto", "on", "off"), default="auto",
                    help="also run the FNO sections in a child process with GLIBC_TUNABLES=" + TUNED_MALLOC + " "
                    "(auto: on for full runs, off with --quick)")
    ap.add_argument("--no-default", action="store_true", help="skip the neuraloperator default model")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 rounds, 1 warm-up, fno1d only unless --sections is given")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/fno_throughput.json; "
                    "none with --quick)")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.warmup = min(args.reps, 3), 1
        if "--sections" not in " ".join(argv if argv is not None else sys.argv):
            args.sections = "fno1d,boon"
        if "--mode-sets" not in " ".join(argv if argv is not None else sys.argv):
            args.mode_sets = "nop"
    args.sections = [s for s in args.sections.split(",") if s]
    args.mode_sets = [s for s in args.mode_sets.split(",") if s]
    args.boon_bcs = [s for s in args.boon_bcs.split(",") if s]
    args.boon_spectral = [s for s in args.boon_spectral.split(",") if s]
    for s in args.sections:
        if s not in ("fno1d", "fno2d", "boon"):
            ap.error(f"unknown section {s!r}")
    out_path = args.out or (None if args.quick else
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                         "fno_throughput.json"))
    log = lambda *a: print(*a, flush=True)  # noqa: E731

    ncores = len(os.sched_getaffinity(0))
    threads = args.threads or ncores
    versions = {}
    if any(s.startswith("fno") for s in args.sections):
        try:
            import neuralop
            import torch
        except ImportError as e:
            raise SystemExit(f"{e}: install the bench extra (torch CPU wheel, neuraloperator); "
                             "see benchmarks/README.md") from e
        torch.set_num_threads(threads)
        versions = {"torch": torch.__version__, "neuraloperator": neuralop.__version__,
                    "torch_num_threads": torch.get_num_threads(),
                    "torch_num_interop_threads": torch.get_num_interop_threads(),
                    "torch_parallel_info": torch.__config__.parallel_info().splitlines()[:12]}
    log(f"jax {jax.__version__} on {jax.devices()}, {ncores} cores; "
        + (f"torch {versions['torch']} ({versions['torch_num_threads']} threads), neuraloperator "
           f"{versions['neuraloperator']}" if versions else "no torch"))

    result = {"benchmark": "fno_throughput", "machine": machine_info(), "peer_versions": versions,
              "xla_cpu_cores": ncores,
              "env": {k: os.environ.get(k) for k in ("GLIBC_TUNABLES", "LD_PRELOAD", "MALLOC_ARENA_MAX",
                                                     "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "XLA_FLAGS")
                      if os.environ.get(k) is not None},
              "settings": {"reps": args.reps, "warmup": args.warmup, "gap_ms": args.gap_ms,
                                                     "threads": threads, "lr": LR, "quick": args.quick,
                                                     "mode_sets": args.mode_sets},
              "sections": {}}
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    for s in args.sections:
        log(f"\n== {s} ==")
        result["sections"][s] = section_boon(args, log) if s == "boon" else section_fno(s, args, log)
    result["wall_s"] = time.perf_counter() - t0
    result["load_average_start_end"] = [load0, os.getloadavg()]
    print_table(result)
    fno_secs = [s for s in args.sections if s.startswith("fno")]
    if fno_secs and (args.malloc_pass == "on" or (args.malloc_pass == "auto" and not args.quick)):
        result["malloc_tuned"] = malloc_pass(args, fno_secs, log)
        if "sections" in result["malloc_tuned"]:
            print(f"\n-- the same with GLIBC_TUNABLES={TUNED_MALLOC} --")
            print_table(result["malloc_tuned"])
    if out_path:
        write_result(out_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
