"""The committed notebooks are openable (issue 15, item 5): badge to the notebook itself on Colab and
install cell from the one URL in pyproject.toml, committed with outputs (no errors), a stated
runtime, nothing that needs float64 on a TPU. (nbmake executes them in CI; notebooks/execute.py
rewrites them.)"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nb_execute", ROOT / "notebooks" / "execute.py")
nb_execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb_execute)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_url_is_in_the_project_metadata():
    url = nb_execute.repository_url()
    assert url.startswith("https://github.com/") and "<" not in url


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_openable(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    head = "".join(cells[0]["source"])
    assert f"]({nb_execute.colab_link(path.name)})" in head  # the badge opens this notebook
    assert re.search(r"^Runtime: about \d+ s", head, re.M)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "".join(code[0]["source"]) == nb_execute.install_source()
    for c in code:
        src = "".join(c["source"])
        assert c["outputs"] or not src.strip() or c is code[0] or src.lstrip().startswith(("import", "from")), src[:80]
        assert not [o for o in c["outputs"] if o["output_type"] == "error"], src[:80]
        # float64 only where the runtime has it (a TPU has none)
        assert 'jax_enable_x64", True' not in src and "enable_x64(True)" not in src, src[:80]
    assert any("image/png" in o.get("data", {}) for c in code for o in c["outputs"])  # a figure to see
