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
