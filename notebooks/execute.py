"""Keep the notebooks openable: sync their Colab badge and install cell with the repository URL in
pyproject.toml ([project.urls] Repository, the one place it is written), then execute them and save
them WITH their outputs and their measured runtime.

    python notebooks/execute.py                  # sync + execute every notebook (CPU-heavy: nice it)
    python notebooks/execute.py --sync-only      # after editing the URL: rewrite badges and install cells
    python notebooks/execute.py lid_driven_cavity.ipynb

Each notebook's first markdown cell carries a badge opening *that* notebook on Colab
(``colab.research.google.com/github/OWNER/REPO/blob/main/notebooks/NAME.ipynb``) and a line
``Runtime: ...`` with the time this script measured; its first code cell installs physcon from the
repository when it is missing (Colab), and does nothing in a checkout. CI runs the notebooks through
nbmake (pytest's ``--nbmake``); tests/test_notebook_files.py checks what this script writes.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BRANCH = "main"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
RUNTIME = re.compile(r"^Runtime: .*$", re.M)
INSTALL_MARK = "# Colab or a fresh environment: install physcon if it is missing"


def repository_url() -> str:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return meta["urls"]["Repository"].rstrip("/")


def colab_link(name: str, url: str | None = None) -> str:
    url = url or repository_url()
    owner_repo = url.split("github.com/", 1)[1]
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/notebooks/{name}"


def install_source(url: str | None = None) -> str:
    url = url or repository_url()
    return (
        f"{INSTALL_MARK} (in a checkout: pip install -e .)\n"
        "import importlib.util, subprocess, sys\n"
        f'PHYSCON_PIP = "physcon @ git+{url}"   # from pyproject.toml [project.urls] Repository\n'
        'if importlib.util.find_spec("physcon") is None:\n'
        '    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", PHYSCON_PIP])'
    )


def sync(nb, name: str, url: str | None = None) -> None:
    """Badge, install cell (inserted as the first code cell if missing): from the URL."""
    import nbformat

    head = nb.cells[0]
    assert head.cell_type == "markdown", f"{name}: the first cell must be the title (markdown)"
    badge = f"[![Open In Colab]({BADGE})]({colab_link(name, url)})"
    src = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", lambda _: badge, head.source)
    if badge not in src:
        lines = src.split("\n", 1)
        src = lines[0] + "\n\n" + badge + "\n" + (lines[1] if len(lines) > 1 else "")
    # the old hint lines about a URL placeholder
    src = re.sub(r"\n\(on Colab, [^\n]*\)", "", src)
    head.source = src
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if code and nb.cells[code[0]].source.startswith(INSTALL_MARK):
        nb.cells[code[0]].source = install_source(url)
    else:
        nb.cells.insert(code[0] if code else 1, nbformat.v4.new_code_cell(install_source(url)))


def set_runtime(nb, seconds: float) -> None:
    line = (f"Runtime: about {seconds:.0f} s on a {os.cpu_count()}-core CPU ({platform.machine()}; measured by "
            "notebooks/execute.py); runs unchanged on a Colab CPU, GPU or TPU runtime (float32 throughout "
            "on TPU, which has no float64).")
    head = nb.cells[0]
    if RUNTIME.search(head.source):
        head.source = RUNTIME.sub(lambda _: line, head.source)
    else:
        badge_end = head.source.index(")", head.source.index("](https://colab.research.google.com/github/")) + 1
        head.source = head.source[:badge_end] + "\n" + line + head.source[badge_end:]


def execute(path: Path, timeout: int) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    sync(nb, path.name)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    seconds = time.perf_counter() - t0
    set_runtime(nb, seconds)
    nbformat.write(nb, path)
    return seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="notebook file names (default: all in notebooks/)")
    ap.add_argument("--sync-only", action="store_true", help="rewrite badges and install cells, do not execute")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    args = ap.parse_args(argv)
    paths = [HERE / n for n in args.notebooks] or sorted(HERE.glob("*.ipynb"))
    os.environ.setdefault("PYTHONPATH", str(ROOT))  # the kernel imports this checkout
    for path in paths:
        if args.sync_only:
            import nbformat

            nb = nbformat.read(path, as_version=4)
            sync(nb, path.name)
            nbformat.write(nb, path)
            print(f"synced {path.name}")
        else:
            print(f"{path.name}: {execute(path, args.timeout):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
