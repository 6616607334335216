"""File helpers shared by the HDF5 layers: atomic writes (a reader of ``path`` sees the old file
or the complete new one, never a half-written one) and opening an HDF5 file for reading with a
clear error."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def atomic_write(path) -> Iterator[str]:
    """Yield the name of an empty temporary file beside ``path`` (creating the folder); when the
    block ends without an exception, rename it over ``path``. The temporary file is removed if
    the block fails.

    The temporary file sits in the same folder because ``os.replace`` is only atomic within one
    file system. Its name ends in ``.tmp``. The caller writes and closes it inside the block
    (and fsyncs it, where durability across a power cut matters).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)  # the caller reopens it by name (h5py, for one, wants a name, not a descriptor)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def open_hdf5(path):
    """``(path, h5py.File(path, "r"))``; ``FileNotFoundError`` if it does not exist,
    ``ValueError`` if it is not a readable HDF5 file (e.g. truncated)."""
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    try:
        return path, h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file (truncated or corrupt?): {err}") from err
