"""The README's tour runs as written (with a smaller dataset, in a temporary folder)."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs(tmp_path, monkeypatch):
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    assert 'pc.data.generate("stefan", 100,' in code
    code = code.replace('pc.data.generate("stefan", 100,', 'pc.data.generate("stefan", 4,')
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, str(README), "exec"), ns)
    assert ns["u"].shape == (101, 200) and ns["batch"].shape == (64, 101, 200)
    np.testing.assert_array_equal(ns["batch"], ns["same"])
    assert np.isfinite(ns["dmass"]) and (tmp_path / "stefan.h5").exists()


def test_readme_probconserv_block_runs(tmp_path, monkeypatch):
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[1]
    for big, small in (('generate("stefan", 256,', 'generate("stefan", 8,'), ("steps=500", "steps=3")):
        assert big in code
        code = code.replace(big, small)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile("import jax, jax.numpy as jnp, physcon as pc\n" + code, str(README), "exec"), ns)
    law, post = ns["law"], ns["post"]
    resid = np.abs(np.asarray(law.residual(post.mean)))
    assert resid.max() <= 1e-5 * float(np.abs(law.b).max())   # float32: round-off of the update
    assert ns["draws"].shape == (100, 21, 201) and ns["front"].shape == (100,)


def test_readme_boon_block_runs():
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[2]
    assert "pc.constraints.BOON(" in code
    ns: dict = {}
    exec(compile("import jax, jax.numpy as jnp, physcon as pc\n" + code, str(README), "exec"), ns)
    assert ns["u"].shape == (1, 128)
    assert float(ns["err"]["left"]) <= 1e-5 and float(ns["err"]["right"]) <= 1e-5 * 5   # float32, g = 5
