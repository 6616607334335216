"""Command line: ``physcon demo | generate | verify | reproduce``.

``physcon demo``                       ProbConserv on the Stefan problem end to end: solve,
                                       train an ANP briefly, constrain (writes ./physcon-out/)
``physcon reproduce probconserv [--quick]``   the paper's GPME table and figures
``physcon reproduce boon [--quick]``   BOON's 1-D FNO vs BOON table and figures
``physcon reproduce boon-2d [--quick]``   BOON on (x, y, t): lid-driven cavity and 2-D wave
``physcon generate gpme --problem stefan --n 100 --out FILE``   a dataset as HDF5 (The Well's schema)
``physcon generate darcy --n 100 --set nodes=85 --out FILE``     any kind of :func:`physcon.data.kinds`
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


def _settings(pairs) -> dict:
    """``KEY=VALUE`` pairs of ``--set``; values are JSON (numbers, lists, null), else strings."""
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--set takes KEY=VALUE pairs (e.g. nodes=85), got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _generate(args) -> int:
    _enable_x64(args.float64)
    import jax

    from physcon import data

    out = args.out
    if os.path.exists(out) and not args.overwrite:
        print(f"error: {out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    try:
        settings = _settings(args.set)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.kind == "gpme":
        if args.problem is None:
            print("error: generate gpme needs --problem", file=sys.stderr)
            return 2
        mesh = data.batch_mesh() if args.shard and len(jax.devices()) > 1 else None
        ds = data.generate(args.problem, args.n, seed=args.seed, nx=args.nx, nt=args.nt, batch_size=args.batch_size,
                           mesh=mesh, progress=not args.quiet, **settings)
    else:
        try:
            ds = data.generate(args.kind, args.n, seed=args.seed, progress=not args.quiet, **settings)
        except TypeError as e:  # an unknown --set key: name the kind's settings
            print(f"error: {args.kind}: {e}", file=sys.stderr)
            return 2
    seconds = time.perf_counter() - start
    data.save(out, ds, overwrite=args.overwrite)
    shapes = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in ds.fields.items())
    note = ""
    if ds.kind in data.kinds("gpme"):
        note = (f"; {ds.settings['substeps']} Euler steps per output interval, "
                f"max mass-balance error {float(ds.mass_balance_error().max()):.2e}")
    print(f"wrote {out}: {ds.kind}, {len(ds)} samples, {shapes}, {seconds:.1f} s{note}")
    return 0


def _verify(args) -> int:
    from physcon import data

    ds = data.load(args.file)
    _enable_x64(any(v.dtype == np.float64 for v in ds.fields.values()))
    diff = data.verify(args.file, rtol=args.rtol)
    print(f"{args.file}: {ds.kind}, {len(ds)} samples, physcon {ds.version}; regenerated, "
          f"max relative difference {diff:.2e}")
    return 0


def _setting(args, base):
    import dataclasses

    over = {k: getattr(args, k) for k in ("steps", "n_train", "n_test", "n_samples") if getattr(args, k, None)}
    if getattr(args, "faithful", False):
        over.update(dropout_at_inference=True, faithful_shock=True, ddof=1)
    setting = dataclasses.replace(base, **over)
    return dataclasses.replace(setting, valid_every=min(setting.valid_every, setting.steps),
                               n_valid=min(setting.n_valid, setting.n_train))


def _demo(args) -> int:
    import jax

    from physcon.experiments import probconserv as pcx
    from physcon.experiments import probconserv_report as report

    setting = _setting(args, pcx.QUICK)
    print(f"physcon demo: ProbConserv on the Stefan problem ({jax.default_backend()}): "
          f"{setting.n_train} solved problems, ANP width {setting.hidden}, {setting.steps} steps")
    start = time.perf_counter()
    result = pcx.run("stefan", setting, seed=args.seed, progress=not args.quiet)
    paths = report.write([result], args.out, title="physcon demo: ProbConserv on the Stefan problem",
                         notes=_DEMO_NOTES)
    sm = report.summary(result)
    out = {"seconds": time.perf_counter() - start}
    for value, entry in sm["tests"].items():
        out[value] = {m: {"mse": st["mse"][0], "ce": st["ce"][0]} for m, st in entry["methods"].items()}
        out[value]["shock_bias"] = {m: entry["shock"][m]["abs_bias"][0] for m in pcx.METHODS}
    print(json.dumps(out))
    print(f"wrote {paths['report']}, {paths['summary']} and {len(paths['figures'])} figures")
    return 0


_DEMO_NOTES = (
    "Data: physcon's finite-volume Stefan solver, u* ~ U[0.55, 0.7]; the ANP sees 100 context "
    "points per function. ProbConserv-ANP conditions each latent sample of the ANP on the "
    "conservation law (trapezoid rule on the evaluation grid, closed-form mass b(t), sigma_G = 0); "
    "HardC-ANP projects the mean instead; SoftC-ANP is trained with a PDE-residual penalty. "
    "`physcon reproduce probconserv` runs every family.")


def _boon_setting(args):
    """The BOON :class:`~physcon.experiments.boon.Setting` and problem list of the command line."""
    import dataclasses

    from physcon.experiments import boon

    base = boon.QUICK if args.quick else boon.PAPER
    over = {} if args.mode is None else {"mode": args.mode}
    if args.epochs:
        over.update(epochs=args.epochs, epochs_multi=args.epochs)
    if args.n_train:
        over.update(n_train=args.n_train, n_train_multi=args.n_train)
    if args.n_test:
        over.update(n_test=args.n_test, n_test_multi=args.n_test)
    if args.no_ablation:
        over["ablation"] = False
    if args.no_superres:
        over["superres"] = False
    return dataclasses.replace(base, **over), tuple(args.problems or boon.PROBLEMS)


def _reproduce_boon(args) -> int:
    from physcon.experiments import boon

    if args.families or args.faithful or args.steps or args.n_samples:
        print("error: --families/--faithful/--steps/--n-samples are ProbConserv options; BOON takes "
              "--problems, --mode, --epochs", file=sys.stderr)
        return 2
    setting, problems = _boon_setting(args)
    out = args.out or "physcon-out/boon"
    start = time.perf_counter()
    result = boon.run(setting, out, problems=problems, seed=args.seed, progress=not args.quiet)
    print(f"wrote {os.path.join(out, 'table.md')}, results.json and figures for {len(result['cases'])} cases "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


def _reproduce_boon2d(args) -> int:
    import dataclasses

    from physcon.experiments import boon2d

    if args.families or args.faithful or args.steps or args.n_samples:
        print("error: --families/--faithful/--steps/--n-samples are ProbConserv options", file=sys.stderr)
        return 2
    bad = [p for p in (args.problems or ()) if p not in boon2d.PROBLEMS]
    if bad:
        print(f"error: boon-2d problems are {list(boon2d.PROBLEMS)}, got {bad}", file=sys.stderr)
        return 2
    over = {} if args.mode is None else {"mode": args.mode}
    for name, value in (("epochs", args.epochs), ("n_train", args.n_train), ("n_test", args.n_test)):
        if value:
            over[name] = value
    if args.no_ablation:
        over["ablation"] = False
    if args.no_superres:
        over["superres"] = False
    setting = dataclasses.replace(boon2d.QUICK if args.quick else boon2d.PAPER, **over)
    out = args.out or "physcon-out/boon-2d"
    start = time.perf_counter()
    result = boon2d.run(setting, out, problems=args.problems, seed=args.seed, progress=not args.quiet)
    print(f"wrote {os.path.join(out, 'table.md')}, results.json and figures for {len(result['problems'])} problems "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


def _reproduce(args) -> int:
    if args.paper == "boon":
        return _reproduce_boon(args)
    if args.paper == "boon-2d":
        return _reproduce_boon2d(args)
    if args.problems or args.mode is not None or args.epochs or args.no_ablation or args.no_superres:
        print("error: --problems/--mode/--epochs/--no-ablation/--no-superres are BOON options", file=sys.stderr)
        return 2
    from physcon.experiments import probconserv as pcx
    from physcon.experiments import probconserv_report as report

    setting = _setting(args, pcx.QUICK if args.quick else pcx.PAPER)
    if getattr(args, "study", None):
        from physcon.experiments import probconserv_studies as studies

        fn = studies.sigma_study if args.study == "sigma" else studies.hetero_study
        paths = studies.write(args.study, fn(setting, seed=args.seed), args.out or "physcon-out/probconserv-studies")
        print(f"wrote {', '.join(paths)}")
        return 0
    families = args.families or list(pcx.T_STAR)
    extra = ()
    if getattr(args, "ensemble", None):
        from physcon.experiments import probconserv_ensemble as pce

        extra = extra + (pce.rows(args.ensemble),)
    if getattr(args, "gp", False):
        from physcon.experiments import probconserv_gp

        extra = extra + (probconserv_gp.ROWS,)
    results = []
    for fam in families:
        results.append(pcx.run(fam, setting, seed=args.seed, progress=not args.quiet, extra=extra))
        paths = report.write(results, args.out or "physcon-out/probconserv", title="ProbConserv reproduction"
                             + (" (--quick)" if args.quick else ""))  # rewritten after each family
    print(f"wrote {paths['report']}, {paths['summary']} and {len(paths['figures'])} figures")
    return 0


def _size_options(p) -> None:
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="training steps (override)")
    p.add_argument("--n-train", type=int, help="training problems (override)")
    p.add_argument("--n-test", type=int, help="test functions per test value (override)")
    p.add_argument("--n-samples", type=int, help="latent samples per prediction (override)")
    p.add_argument("--faithful", action="store_true",
                   help="the reference code's quirks: dropout on at prediction, its shock sampling")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    from physcon._version import __version__
    from physcon.data import kinds
    from physcon.data.operator import BOON_PROBLEMS
    from physcon.solvers.gpme import PROBLEMS

    p = argparse.ArgumentParser(prog="physcon", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"physcon {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="ProbConserv on the Stefan problem end to end (a few minutes on CPU)")
    d.add_argument("--out", default="physcon-out", help="output folder (default: ./physcon-out)")
    _size_options(d)
    d.set_defaults(func=_demo)

    r = sub.add_parser("reproduce", help="reproduce a paper's tables and figures")
    r.add_argument("paper", choices=["probconserv", "boon", "boon-2d"])
    r.add_argument("--quick", action="store_true", help="small models and data: minutes on a CPU")
    r.add_argument("--families", nargs="+", choices=["diffusion", "pme", "stefan", "advection", "burgers"],
                   help="ProbConserv: subset of the experiments (default: all five)")
    r.add_argument("--out", default=None, help="output folder (default: physcon-out/<paper>)")
    r.add_argument("--ensemble", type=int, metavar="M", default=None,
                   help="probconserv: add Ensemble-ANP / ProbConserv-Ensemble-ANP rows with M ANP members")
    r.add_argument("--gp", action="store_true", help="ProbConserv: add GP and ProbConserv-GP rows")
    r.add_argument("--study", choices=["sigma", "hetero"], help="ProbConserv: the sigma_G sweep (PME) or the "
                   "heteroskedasticity figure (Stefan), Step 1 a GP")
    _size_options(r)
    r.add_argument("--problems", nargs="+", choices=list(BOON_PROBLEMS) + ["cavity", "wave"],
                   help="BOON: subset of the problems (default: all; boon-2d: cavity, wave)")
    r.add_argument("--mode", choices=["exact", "faithful"], default=None,
                   help="BOON: the published algorithm (default, comparable with the paper) or the exact "
                        "multi-channel elimination (also trained in --quick as BOON-exact)")
    r.add_argument("--epochs", type=int, help="BOON: training epochs (override)")
    r.add_argument("--no-ablation", action="store_true", help="BOON: skip the output-overwrite-only model")
    r.add_argument("--no-superres", action="store_true", help="BOON: skip the 2x-resolution evaluation")
    r.set_defaults(func=_reproduce)

    g = sub.add_parser("generate", help="generate a dataset of any kind and save it in The Well's HDF5 schema")
    g.add_argument("kind", choices=["gpme", *(k for k in kinds() if k not in PROBLEMS)],
                   help="gpme (with --problem) or a dataset kind of physcon.data.kinds()")
    g.add_argument("--problem", choices=sorted(PROBLEMS), help="gpme: the problem family")
    g.add_argument("--n", type=int, required=True, help="number of samples")
    g.add_argument("--out", required=True, help="output .h5 file")
    g.add_argument("--nx", type=int, default=200, help="gpme: cells")
    g.add_argument("--nt", type=int, default=101, help="gpme: output times")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--batch-size", type=int, default=64, help="gpme: samples per compiled call")
    g.add_argument("--set", nargs="+", metavar="KEY=VALUE",
                   help="settings of the kind's generator (physcon.data.flows.make_darcy etc.), e.g. nodes=85 n_solve=421")
    g.add_argument("--float64", action="store_true", help="compute and store in float64")
    g.add_argument("--shard", action="store_true", help="gpme: shard the batch over all local devices")
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
