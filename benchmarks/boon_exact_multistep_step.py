"""Time one jitted grad step of exact BOON on the quick (x, t) Stokes model (batch 20, 64 x 25): python benchmarks/boon_exact_multistep_step.py RCOND [NX]."""
import time, sys, jax, jax.numpy as jnp, equinox as eqx, numpy as np
from physcon.experiments import boon as ex
from physcon.constraints import BOON
from physcon.data import operator as od
rc = float(sys.argv[1]); nx = int(sys.argv[2]) if len(sys.argv) > 2 else 64
fno = ex.make_models("stokes", True, ex.QUICK, jax.random.PRNGKey(0))["FNO"]
left, right = od.boundary_conditions("stokes")
m = BOON(fno, left=left, right=right, mode="exact", rcond=rc)
a = jnp.ones((20, 1, nx, 25)); t = jnp.linspace(0, 1, 25)
f = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(jax.vmap(lambda x: m(x, t, left=jnp.zeros(25), right=jnp.zeros(25)))(a) ** 2)))
t0 = time.time(); g = f(m); jax.block_until_ready(jax.tree.leaves(g)); print("compile+1", time.time() - t0, flush=True)
t0 = time.time(); g = f(m); jax.block_until_ready(jax.tree.leaves(g)); print("step", time.time() - t0, flush=True)
print("finite grads", all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(g)))
