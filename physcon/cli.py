"""Command line: ``physcon demo | generate | verify``.

``physcon demo``                       GPME data generation end to end (writes ./physcon-out/)
``physcon generate gpme --problem stefan --n 100 --out FILE``   a dataset as HDF5
``physcon verify FILE``                regenerate a dataset file and compare
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def _enable_x64(on: bool) -> None:
    # The command line is an application: it may set JAX's global config for its own run.
    if on:
        import jax

        jax.config.update("jax_enable_x64", True)


def _generate(args) -> int:
    _enable_x64(args.float64)
    import jax

    from physcon import data

    out = args.out
    if os.path.exists(out) and not args.overwrite:
        print(f"error: {out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    mesh = data.batch_mesh() if args.shard and len(jax.devices()) > 1 else None
    start = time.perf_counter()
    ds = data.generate(
        args.problem, args.n, seed=args.seed, nx=args.nx, nt=args.nt, batch_size=args.batch_size,
        mesh=mesh, progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    data.save(out, ds, overwrite=args.overwrite)
    balance = float(ds.mass_balance_error().max())
    print(
        f"wrote {out}: {ds.problem}, {len(ds)} samples, u {ds.u.shape} {ds.u.dtype}, "
        f"{ds.solver['substeps']} Euler steps per output interval, {seconds:.1f} s; "
        f"max mass-balance error {balance:.2e}"
    )
    return 0


def _verify(args) -> int:
    from physcon import data

    ds = data.load(args.file)
    _enable_x64(ds.u.dtype == np.float64)
    diff = data.verify(args.file, rtol=args.rtol)
    print(f"{args.file}: {ds.problem}, {len(ds)} samples, physcon {ds.version}; regenerated, "
          f"max relative difference {diff:.2e}")
    return 0


def _demo(args) -> int:
    _enable_x64(True)  # the demo reports round-off-level conservation, so it runs in float64
    import jax

    from physcon import data, plots
    from physcon.experiments.gpme_accuracy import convergence
    from physcon.solvers.gpme import PROBLEMS

    os.makedirs(args.out, exist_ok=True)
    cls = PROBLEMS[args.problem]
    print(f"physcon demo: {args.n} {args.problem} problems, {cls.parameter} ~ U{list(cls.train_range)}, "
          f"nx={args.nx}, nt={args.nt}, float64, {jax.default_backend()}")
    start = time.perf_counter()
    ds = data.generate(args.problem, args.n, seed=args.seed, nx=args.nx, nt=args.nt, progress=True)
    gen_s = time.perf_counter() - start
    h5 = data.save(os.path.join(args.out, f"{args.problem}.h5"), ds, overwrite=True)
    probs = ds.problems()
    exact = np.stack([np.asarray(p.exact(ds.x, ds.t)) for p in probs])
    w = np.asarray(ds.grid_object().weights)
    l1 = (np.abs(ds.u - exact) @ w)[:, 1:].mean(-1)
    mass = ds.u @ w
    balance = ds.mass_balance_error() / np.maximum(np.abs(ds.mass).max(-1), 1e-30)
    law = np.abs(mass[:, -1] - ds.mass[:, -1]) / np.maximum(np.abs(ds.mass[:, -1]), 1e-30)
    fig = plots.solution_figure(ds, exact[0], os.path.join(args.out, f"{args.problem}_solution.png"))

    study = convergence(cls(), ns=(50, 100, 200, 400), nt=11)
    conv = plots.convergence_figure(
        {f"{args.problem} ({cls.parameter}={cls().value})": (study["dx"], study["l1"], study["order"])},
        os.path.join(args.out, "convergence.png"),
    )
    report = os.path.join(args.out, "report.md")
    with open(report, "w") as f:
        f.write(f"# physcon demo: {args.problem}\n\n")
        f.write(f"physcon data generation: {len(ds)} samples of `{cls.__name__}` with "
                f"`{cls.parameter}` drawn from U{list(cls.train_range)} (seed {args.seed}), "
                f"{args.nx} cells, {args.nt} output times on {list(cls.t_span)}, float64, "
                f"{ds.solver['substeps']} forward-Euler steps per output interval.\n\n")
        f.write(f"- generation time (incl. compile): {gen_s:.2f} s\n")
        f.write(f"- discrete mass balance (scheme mass change vs accumulated boundary inflow), "
                f"max relative error: {balance.max():.2e}\n")
        f.write(f"- L1 error vs closed form (mean over t > 0), median over samples: {np.median(l1):.3e} "
                f"(max {l1.max():.3e})\n")
        f.write(f"- discrete mass vs closed-form mass b(t) at t = {ds.t[-1]:.3g}, relative: median "
                f"{np.median(law):.2e}\n\n")
        f.write("## Convergence (default parameter)\n\n| cells | dx | L1 error | mass balance |\n|---|---|---|---|\n")
        for n, dx, e, b in zip(study["n"], study["dx"], study["l1"], study["mass_balance"]):
            f.write(f"| {n} | {dx:.4g} | {e:.3e} | {b:.1e} |\n")
        f.write(f"\nobserved order: {study['order']:.2f}\n\n")
        f.write(f"Files: `{os.path.basename(h5)}`, `{os.path.basename(fig)}`, `{os.path.basename(conv)}`\n")
    summary = {"samples": len(ds), "seconds": gen_s, "mass_balance": float(balance.max()),
               "l1_median": float(np.median(l1)), "order": study["order"]}
    print(json.dumps(summary))
    print(f"wrote {report}, {fig}, {conv}, {h5}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from physcon._version import __version__
    from physcon.solvers.gpme import PROBLEMS

    p = argparse.ArgumentParser(prog="physcon", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"physcon {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="generate GPME data, compare with the closed forms, write a report")
    d.add_argument("--out", default="physcon-out", help="output folder (default: ./physcon-out)")
    d.add_argument("--problem", default="stefan", choices=sorted(PROBLEMS))
    d.add_argument("--n", type=int, default=16, help="number of problems (default 16)")
    d.add_argument("--nx", type=int, default=200)
    d.add_argument("--nt", type=int, default=101)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_demo)

    g = sub.add_parser("generate", help="generate a dataset and save it as HDF5")
    g.add_argument("family", choices=["gpme"], help="equation family")
    g.add_argument("--problem", required=True, choices=sorted(PROBLEMS))
    g.add_argument("--n", type=int, required=True, help="number of samples")
    g.add_argument("--out", required=True, help="output .h5 file")
    g.add_argument("--nx", type=int, default=200)
    g.add_argument("--nt", type=int, default=101)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--batch-size", type=int, default=64, help="samples per compiled call")
    g.add_argument("--float64", action="store_true", help="compute and store in float64")
    g.add_argument("--shard", action="store_true", help="shard the batch over all local devices")
    g.add_argument("--overwrite", action="store_true", help="replace an existing file")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_generate)

    v = sub.add_parser("verify", help="regenerate a dataset file and compare")
    v.add_argument("file")
    v.add_argument("--rtol", type=float, default=None)
    v.set_defaults(func=_verify)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
