"""ProbConserv end to end (Hansen et al., ICML 2023): data, ANP training, constrained prediction.

One *experiment* per GPME/hyperbolic family (diffusion, PME, Stefan, advection, Burgers):

1. **Data** from physcon's own finite-volume solvers over the paper's training range
   (:func:`physcon.data.generate`), cut into context/target tasks by
   :func:`physcon.tasks.sample_tasks` (10 stratified times x 10 sorted positions each).
2. **Models**: the ANP trained with its ELBO (:func:`physcon.models.elbo_loss`), and SoftC-ANP:
   the same loss plus ``lambda * mean r^2``, the PDE residual of the predictive mean at the
   targets (:func:`physcon.constraints.soft_penalty`), ``lambda = 1`` as in the paper.
3. **Test time** on the paper's 201 x 201 grid: each of the ``S`` latent samples of the ANP is
   conditioned on the conservation law with ``sigma_G = 0`` (ProbConserv-ANP, post hoc,
   :func:`physcon.constraints.probconserv`) or projected (HardC-ANP,
   :func:`physcon.constraints.hard_projection`), then moment-matched. The law uses the
   trapezoid rule on the evaluation grid and the closed-form mass ``b(t)``; the truth is the
   closed form.
4. **Metrics** at the paper's reporting time (:data:`T_STAR`), per test function, then mean and
   standard error over the test functions: CE (signed), LL, MSE, CRPS; the mass over time; and
   the shock position posterior (Stefan, PME, advection).

The report (tables and figures) is written by :mod:`physcon.experiments.probconserv_report`.
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from physcon import data as pdata
from physcon import metrics
from physcon.constraints import conservation_law, hard_projection, probconserv, soft_penalty
from physcon.distributions import DiagonalGaussian
from physcon.grid import Grid1D
from physcon.models import ANP, elbo_loss, moment_match
from physcon.tasks import evaluation_grid, sample_tasks
from physcon.experiments.probconserv_rows import Rows, _evaluate_rows, _function_metrics, gaussian_metrics
from physcon.train import fit

#: The paper's reporting time of each family.
T_STAR = {"diffusion": 0.5, "pme": 0.5, "stefan": 0.05, "advection": 0.1, "burgers": 0.5}
#: Families with a front whose position the downstream task estimates (first x with u <= 0).
SHOCK = ("pme", "stefan", "advection")
METHODS = ("ANP", "SoftC-ANP", "HardC-ANP", "ProbConserv-ANP")


@dataclasses.dataclass(frozen=True)
class Setting:
    """Sizes of one reproduction. :data:`PAPER` is the paper's; :data:`QUICK` fits a CPU.

    Attributes:
        n_train, n_valid: training / validation functions (parameters from the training range).
        repeats: task draws per training function.
        n_test: test functions (context draws) per test value.
        steps, batch_size, lr: Adam steps, functions per step, learning rate.
        valid_every: steps between validations (the best-validation model is kept).
        hidden, latent: ANP widths (128, 128 in the paper).
        n_samples: latent samples per prediction (moment matched).
        solver_nx, solver_nt: finite-volume cells and output times of the data.
        eval_nx, eval_nt: evaluation grid (201 x 201 in the paper).
        n_shock: posterior samples for the shock-position histogram (500).
        softc_weight: SoftC's lambda (1).
        softc_points: targets per function where SoftC's residual is evaluated (``None``: all
            100, as the paper; the quick setting uses 20 to halve SoftC's training time).
        dropout_at_inference: the reference code's faithful mode (dropout left on at
            prediction); physcon's default switches it off.
        faithful_shock: the reference's shock sampling (see :func:`shock_samples`).
        ddof: of the between-sample variance in moment matching (1 = the reference's
            ``torch.var``; 0 = the exact mixture moments).
    """

    n_train: int = 10_000
    n_valid: int = 100
    repeats: int = 1
    n_test: int = 50
    steps: int = 20_000
    batch_size: int = 250
    lr: float = 1e-4
    valid_every: int = 400
    hidden: int = 128
    latent: int = 128
    n_samples: int = 100
    solver_nx: int = 200
    solver_nt: int = 201
    eval_nx: int = 201
    eval_nt: int = 201
    n_shock: int = 500
    softc_weight: float = 1.0
    softc_points: int | None = None
    dropout_at_inference: bool = False
    faithful_shock: bool = False
    ddof: int = 0
    eval_chunk: int = 5


PAPER = Setting()
QUICK = Setting(n_train=256, n_valid=32, repeats=4, n_test=20, steps=500, batch_size=16, lr=1e-3,
                valid_every=100, hidden=32, latent=32, n_samples=32, solver_nx=64, solver_nt=101,
                eval_nt=21, n_shock=500, softc_points=20, eval_chunk=10)


# --- data ------------------------------------------------------------------------------------
def make_tasks(family: str, setting: Setting, key) -> tuple[dict, dict]:
    """Training and validation tasks of ``family`` from freshly solved problems."""
    k_par, k_train, k_valid = jax.random.split(key, 3)
    n = setting.n_train + setting.n_valid
    seed = int(jax.random.randint(k_par, (), 0, 2**30))
    ds = pdata.generate(family, n, seed=seed, nx=setting.solver_nx, nt=setting.solver_nt)
    tr, va = slice(0, setting.n_train), slice(setting.n_train, n)
    train = sample_tasks(ds.u[tr], ds.x, ds.t, k_train, params=ds.params[ds.parameter][tr], repeats=setting.repeats)
    valid = sample_tasks(ds.u[va], ds.x, ds.t, k_valid, params=ds.params[ds.parameter][va])
    return train, valid


def test_contexts(family: str, value: float, setting: Setting, key) -> dict:
    """``n_test`` context sets drawn from one solve at the test parameter ``value``."""
    ds = pdata.generate(family, params=np.array([value]), nx=setting.solver_nx, nt=setting.solver_nt)
    return sample_tasks(ds.u, ds.x, ds.t, key, params=ds.params[ds.parameter], n_target=None, repeats=setting.n_test)


# --- training --------------------------------------------------------------------------------
def softc_loss(model: ANP, batch, key, *, family: str, weight: float = 1.0, points: int | None = None):
    """SoftC-ANP's loss: the ANP ELBO plus ``weight * mean r^2``, ``r`` the PDE residual of
    the predictive mean (``z`` from the target-conditioned posterior) at the targets, each
    function with its own parameter ``batch["param"]``. ``points``: evaluate the residual at
    this many randomly chosen targets per function (default: all, as the paper)."""
    loss, aux = elbo_loss(model, batch, key)
    cls = pdata.problem_class(family)
    keys = jax.random.split(jax.random.fold_in(key, 7), batch["param"].shape[0])

    def one(cx, cy, tx, ty, p, k):
        mu, log_var = model.latent_encoder(tx, ty[:, None])
        z = mu + jnp.exp(0.5 * log_var) * jax.random.normal(k, mu.shape, mu.dtype)
        enc = model.encode(cx, cy)
        u_fn = lambda pt: model.decode(enc, pt[None], z).mean[0]  # noqa: E731
        if points is not None and points < tx.shape[0]:
            tx = tx[jax.random.choice(jax.random.fold_in(k, 1), tx.shape[0], (points,), replace=False)]
        return soft_penalty(u_fn, tx, cls(**{cls.parameter: p}).residual)

    pen = jnp.mean(jax.vmap(one)(batch["context_x"], batch["context_y"], batch["target_x"],
                                 batch["target_y"], batch["param"], keys))
    return loss + weight * pen, {**aux, "residual": pen}


def _validation(model, vdata):
    return elbo_loss(model, vdata, jax.random.PRNGKey(0), inference=True)[0] / vdata["context_x"].shape[0]


def train_model(train: dict, valid: dict, setting: Setting, key, *, family: str | None = None,
                softc: bool = False, progress: bool = True):
    """Train an ANP (or SoftC-ANP with ``softc=True``) on ``train``; returns ``(model, history)``
    with the best-validation model (validation: the ELBO with dropout off, per function)."""
    k_init, k_fit = jax.random.split(key)
    model = ANP(hidden=setting.hidden, latent=setting.latent, key=k_init)
    loss = (partial(softc_loss, family=family, weight=setting.softc_weight, points=setting.softc_points)
            if softc else elbo_loss)
    return fit(model, loss, train, optax.adam(setting.lr), steps=setting.steps,
               batch_size=setting.batch_size, key=k_fit, has_aux=True, valid_data=valid,
               valid_every=setting.valid_every, valid_fn=_validation, keep_best=True,
               log_every=min(100, setting.valid_every), progress=progress)


# --- prediction and the constraint step --------------------------------------------------------
def _samples(model: ANP, cx, cy, points, key, setting: Setting, shape) -> DiagonalGaussian:
    """The ``S`` decoded Gaussians at ``points``, in float64, shaped ``(S, *shape)``."""
    dt = model._dtype
    pred = model.sample_predictions(cx.astype(dt), cy.astype(dt), points.astype(dt), key=key,
                                    n_samples=setting.n_samples,
                                    dropout_at_inference=setting.dropout_at_inference, chunk_size=10)
    s = setting.n_samples
    return DiagonalGaussian(pred.mean.astype(jnp.float64).reshape(s, *shape),
                            pred.variance.astype(jnp.float64).reshape(s, *shape))


def constrained(samples: DiagonalGaussian, law, method: str):
    """Per-sample ``(S, nt, nx)`` Gaussians after ``method``: ``"ANP"`` (unchanged),
    ``"HardC-ANP"`` or ``"ProbConserv-ANP"``; returns ``(means, variances, posteriors)``."""
    if method in ("ANP", "SoftC-ANP"):
        return samples.mean, samples.variance, samples
    if method == "HardC-ANP":
        post = jax.vmap(hard_projection, in_axes=(0, None))(samples, law)
        return post.mean, post.variance, post
    post = jax.vmap(probconserv, in_axes=(0, None))(samples, law)
    return post.mean, jax.vmap(lambda p: p.variance)(post), post


def test_problem(family: str, value: float, setting: Setting):
    """The evaluation grid of one test value: ``(x (nx,), t (nt,), points (nt * nx, 2), j, truth
    (nt, nx), law)`` with ``j`` the index of :data:`T_STAR` and ``law`` the trapezoid-rule
    conservation law with the closed-form mass."""
    cls = pdata.problem_class(family)
    problem = cls(**{cls.parameter: value})
    x, t, points = evaluation_grid(cls.domain, cls.t_span, setting.eval_nx, setting.eval_nt)
    j = int(np.argmin(np.abs(np.asarray(t) - T_STAR[family])))
    law = conservation_law(Grid1D.nodes(*cls.domain, setting.eval_nx), t, mass=problem.mass, rule="trapezoid")
    return x, t, points, j, problem.exact(x, t), law


def evaluate(models: dict, family: str, value: float, contexts: dict, setting: Setting, key) -> dict:
    """Metrics of every method on one test value; requires float64 (``jax.enable_x64``).

    Args:
        models: ``{"ANP": anp, "SoftC-ANP": softc_anp}`` (either may be missing).
        contexts: from :func:`test_contexts`.

    Returns:
        ``{method: {"ce_t": (n_test, eval_nt), "ce" | "ll" | "mse" | "crps": (n_test,)}}``,
        plus ``"t"``, ``"x"``, ``"mass"`` (closed form on the eval times) and ``"profile"``
        (mean/variance at ``T_STAR`` of test function 0 per method, for the figures).
    """
    x, t, points, j, truth, law = test_problem(family, value, setting)
    shape = (setting.eval_nt, setting.eval_nx)
    out = {"t": np.asarray(t), "x": np.asarray(x), "mass": np.asarray(law.b[:, 0]), "j": j,
           "truth": np.asarray(truth[j]), "profile": {}}
    for i, (name, model) in enumerate(models.items()):
        methods = ("ANP", "HardC-ANP", "ProbConserv-ANP") if name == "ANP" else (name,)
        keys = jax.random.split(jax.random.fold_in(key, i), setting.n_test)
        chunks = []
        for lo in range(0, setting.n_test, setting.eval_chunk):
            sl = slice(lo, lo + setting.eval_chunk)
            chunks.append(jax.device_get(_evaluate_chunk(
                model, jnp.asarray(contexts["context_x"][sl]), jnp.asarray(contexts["context_y"][sl]),
                keys[sl], points, law, truth, jnp.asarray(j), methods, setting, shape)))
        for m in methods:
            out[m] = {k: np.concatenate([c[m][0][k] for c in chunks]) for k in chunks[0][m][0]}
            out["profile"][m] = tuple(np.asarray(a[0]) for a in chunks[0][m][1])
    return out


@eqx.filter_jit
def _evaluate_chunk(model, cx, cy, keys, points, law, truth, j, methods: tuple, setting: Setting, shape):
    def one(cx, cy, k):
        smp = _samples(model, cx, cy, points, k, setting, shape)
        res = {}
        for m in methods:
            means, variances, _ = constrained(smp, law, m)
            mm = moment_match(DiagonalGaussian(means, variances), ddof=setting.ddof)
            res[m] = (_function_metrics(mm.mean, mm.variance, truth, law, j), (mm.mean[j], mm.variance[j]))
        return res

    return jax.vmap(one)(cx, cy, keys)


def shock_samples(model: ANP, family: str, value: float, contexts: dict, setting: Setting, key,
                  methods=("ANP", "HardC-ANP", "ProbConserv-ANP")) -> dict:
    """Posterior samples of the profile at ``T_STAR`` for every test function, and the shock
    positions they imply (first grid x with ``u <= 0``; :func:`physcon.metrics.shock_position`).

    physcon samples the predictive **mixture** itself: pick one of the ``S`` latent samples,
    then draw from its (constrained) Gaussian, by Matheron's rule for ProbConserv, so every
    ProbConserv sample satisfies the conservation law. ``setting.faithful_shock`` reproduces
    the reference: one Gaussian with the moment-matched mean and, for ProbConserv, the average
    of the per-sample covariances (between-sample spread dropped); for the other methods the
    covariance ``diag(std)`` (sic: std, not variance) and the position ``index / nx * x_max``.

    Returns ``{method: positions (n_test, n_shock)}`` (one posterior per test function) plus
    ``"truth"`` (the same rule applied to the closed form) and ``"x"``.
    """
    cls = pdata.problem_class(family)
    problem = cls(**{cls.parameter: value})
    x = jnp.linspace(*cls.domain, setting.eval_nx)
    t = jnp.asarray([T_STAR[family]], jnp.float64)
    points = jnp.stack([jnp.broadcast_to(t, x.shape), x], -1)
    law = conservation_law(Grid1D.nodes(*cls.domain, setting.eval_nx), t, mass=problem.mass, rule="trapezoid")
    keys = jax.random.split(key, setting.n_test)
    fn = jax.vmap(_shock_draws, in_axes=(None, 0, 0, None, None, None, 0, None, None))
    chunks = []
    for lo in range(0, setting.n_test, setting.eval_chunk):
        sl = slice(lo, lo + setting.eval_chunk)
        chunks.append(jax.device_get(eqx.filter_jit(fn)(
            model, jnp.asarray(contexts["context_x"][sl]), jnp.asarray(contexts["context_y"][sl]), points,
            law, x, keys[sl], tuple(methods), setting)))
    out = {"x": np.asarray(x), **{m: np.concatenate([c[m] for c in chunks]) for m in methods}}
    out["truth"] = float(metrics.shock_position(problem.exact(x, t)[0], x, faithful=setting.faithful_shock))
    return out


def _shock_draws(model, cx, cy, points, law, x, key, methods: tuple, setting: Setting) -> dict:
    k_pred, k_draw = jax.random.split(key)
    smp = _samples(model, cx, cy, points, k_pred, setting, (1, setting.eval_nx))
    n, s = setting.n_shock, setting.n_samples
    out = {}
    for i, m in enumerate(methods):
        means, variances, post = constrained(smp, law, m)
        kc, kz = jax.random.split(jax.random.fold_in(k_draw, i))
        if setting.faithful_shock:
            mean = jnp.mean(means, 0)
            if m == "ProbConserv-ANP":  # N(mean, average of the per-sample covariances)
                e = jax.vmap(lambda p, k: p.sample(k, n) - p.mean)(post, jax.random.split(kz, s))
                draws = mean + jnp.sum(e, 0) / jnp.sqrt(s)
            else:  # the reference's diag(std) "covariance"
                std = jnp.sqrt(jnp.mean(variances, 0) + jnp.var(means, 0, ddof=1))
                draws = mean + jnp.sqrt(std) * jax.random.normal(kz, (n,) + mean.shape, mean.dtype)
        else:
            comp = jax.random.randint(kc, (n,), 0, s)
            if m == "ProbConserv-ANP":
                draws = jax.vmap(lambda c, k: jax.tree.map(lambda a: a[c], post).sample(k))(
                    comp, jax.random.split(kz, n))
            else:
                eps = jax.random.normal(kz, (n,) + means.shape[1:], means.dtype)
                draws = means[comp] + jnp.sqrt(variances[comp]) * eps
        out[m] = metrics.shock_position(draws[:, 0], x, faithful=setting.faithful_shock)
    return out


def run(family: str, setting: Setting = QUICK, *, seed: int = 0, progress: bool = True,
        log=print, extra: tuple[Rows, ...] = ()) -> dict:
    """The whole experiment for one family: data, both models, every test value.

    ``extra``: more Step-1 models (:class:`Rows`), fitted on the same tasks and evaluated on the
    same test contexts; their rows follow :data:`METHODS` (``result["methods"]``).

    Returns a dict with ``"setting"``, ``"train"`` (per model: seconds, steps/s, compile
    seconds, best step, final losses) and ``"tests"`` (per test value: :func:`evaluate`'s
    output plus ``"shock"`` where applicable).
    """
    key = jax.random.PRNGKey(seed)
    k_data, k_model, k_test = jax.random.split(key, 3)
    cls = pdata.problem_class(family)
    start = time.perf_counter()
    train, valid = make_tasks(family, setting, k_data)
    methods = METHODS + tuple(m for rows in extra for m in rows.methods)
    result = {"family": family, "setting": dataclasses.asdict(setting), "seed": seed, "methods": methods,
              "data_seconds": time.perf_counter() - start, "train": {}, "tests": {}}
    log(f"[{family}] {setting.n_train} training problems solved, {len(train['param'])} tasks "
        f"({result['data_seconds']:.1f} s)")
    models = {}
    for name, softc in (("ANP", False), ("SoftC-ANP", True)):
        t0 = time.perf_counter()
        model, hist = train_model(train, valid, setting, k_model, family=family, softc=softc, progress=progress)
        models[name] = model
        result["train"][name] = {
            "seconds": time.perf_counter() - t0, "steps_per_second": hist.steps_per_second,
            "compile_seconds": hist.compile_seconds, "best_step": hist.best_step,
            "best_valid_loss": hist.best_valid_loss, "final_loss": float(hist.loss[-1])}
        log(f"[{family}] {name}: {setting.steps} steps in {result['train'][name]['seconds']:.1f} s, "
            f"best validation loss {hist.best_valid_loss:.4g} at step {hist.best_step}")
    states = []
    for i, rows in enumerate(extra):
        t0 = time.perf_counter()
        states.append(rows.fit(family, train, valid, setting, jax.random.fold_in(k_model, 1000 + i), progress))
        result["train"]["/".join(rows.methods)] = {"seconds": time.perf_counter() - t0}
    with jax.enable_x64(True):
        for i, value in enumerate(cls.test_values):
            kc, ke, ks = jax.random.split(jax.random.fold_in(k_test, i), 3)
            ctx = test_contexts(family, value, setting, kc)
            res = evaluate(models, family, value, ctx, setting, ke)
            if extra:
                *_, truth, law = test_problem(family, value, setting)
                for r, (rows, state) in enumerate(zip(extra, states)):
                    _evaluate_rows(rows, state, res, family, value, ctx, setting,
                                   jax.random.fold_in(ke, 1000 + r), law, truth)
            res["context_x"] = ctx["context_x"][0]
            if family in SHOCK:
                res["shock"] = shock_samples(models["ANP"], family, value, ctx, setting, ks)
                soft = shock_samples(models["SoftC-ANP"], family, value, ctx, setting, ks, methods=("ANP",))
                res["shock"]["SoftC-ANP"] = soft["ANP"]
            result["tests"][float(value)] = res
            log(f"[{family}] {cls.parameter}={value}: " + ", ".join(
                f"{m} MSE {np.mean(res[m]['mse']):.3g} CE {np.mean(res[m]['ce']):+.2e}" for m in methods))
    return result
