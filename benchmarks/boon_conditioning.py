"""Conditioning of BOON's exact wall elimination (why ``mode="exact"`` trains poorly).

The exact mode solves, in every Fourier layer, with ``A_BB``: the ``2C x 2C`` block of the
spectral convolution coupling the wall rows (both walls, all ``C`` channels). Its inverse
multiplies the wall correction, so ``cond(A_BB)`` bounds how much T2 can amplify the wall rows
of the hidden field. This script prints ``cond(A_BB)`` of freshly initialised FNOs (the
configurations of ``physcon reproduce boon``: quick 128 nodes / width 32, paper 500 nodes /
width 64, modes 16), with and without x padding, next to the condition number of one wall's
``C x C`` block and of the published code's scalar 2x2 probe matrix (all-channel impulse read
at channel 0), and the gain ``||X|| ||A_BB||`` of the damped inverse BOON applies by default
(``rcond``, :func:`physcon.constraints.boon_conditioning`), and saves JSON.

    python benchmarks/boon_conditioning.py [--rcond 1e-3] [--out benchmarks/results/boon_conditioning.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _machine import machine_info  # noqa: E402

from physcon.constraints._elimination import _transfer, conditioning  # noqa: E402
from physcon.constraints.boundary import DEFAULT_RCOND  # noqa: E402
from physcon.models import FNO  # noqa: E402


def _cond(a: np.ndarray) -> float:
    s = np.linalg.svd(a, compute_uv=False)
    return float(s[0] / s[-1])


def measure(nx: int, width: int, modes: int, padding: float, seed: int, rcond: float = DEFAULT_RCOND) -> dict:
    fno = FNO(1, 1, 1, modes, width, grid=True, padding=padding, key=jax.random.PRNGKey(seed))
    grid = (nx + fno.pad_sizes((nx,))[0],)
    rows = []
    for conv in fno.spectral_convs:
        a = np.asarray(_transfer(conv, grid, (0, nx - 1), jnp.float64))  # index side * C + channel
        c = width
        # published probe: impulse in every channel at one wall, read at output channel 0
        k = np.array([[a[r * c, s * c:(s + 1) * c].sum() for s in range(2)] for r in range(2)])
        rows.append({"cond_A_BB": _cond(a), "cond_one_wall": _cond(a[:c, :c]), "cond_scalar_probe": _cond(k),
                     "smax": float(np.linalg.norm(a, 2)),
                     "cond_regularised": float(conditioning(conv, grid, (0, nx - 1), jnp.float64, rcond)
                                               ["cond_regularised"][0])})
    return {"nx": nx, "width": width, "modes": modes, "padding": padding, "pad_points": grid[0] - nx,
            "seed": seed, "rcond": rcond, "layers": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "boon_conditioning.json"))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rcond", type=float, default=DEFAULT_RCOND, help="of the damped inverse (BOON's default)")
    args = p.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    results = []
    for nx, width in ((128, 32), (500, 64)):
        for padding in (0.0, 0.25):
            for seed in range(args.seeds):
                r = measure(nx, width, 16, padding, seed, args.rcond)
                results.append(r)
                med = lambda key: float(np.median([lay[key] for lay in r["layers"]]))
                print(f"nx={nx:4d} width={width} pad={padding:.2f} seed={seed}: median over layers "
                      f"cond(A_BB)={med('cond_A_BB'):.2e}  one wall {med('cond_one_wall'):.2e}  "
                      f"scalar probe {med('cond_scalar_probe'):.2e}  |A_BB|_2={med('smax'):.2e}  "
                      f"damped (rcond={args.rcond:g}) {med('cond_regularised'):.2e}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"machine": machine_info(), "results": results}, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
