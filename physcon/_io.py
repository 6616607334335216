"""File helpers shared by the HDF5 layers: atomic writes (a reader of ``path`` sees the old file
or the complete new one, never a half-written one) and opening an HDF5 file for reading with a
clear error."""

from __future__ import annotations

import contextlib
import os
import re
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
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as err:
        raise _unwritable(path, err) from err
    os.close(fd)  # the caller reopens it by name (h5py, for one, wants a name, not a descriptor)
    try:
        yield tmp
        os.replace(tmp, path)
    except Exception as err:
        cause = _os_error(err)  # writers wrap it (equinox's serialiser: TreePathError)
        if cause is None:
            raise
        raise _unwritable(path, cause) from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_stale_temporaries(path: str) -> None:
    """Remove the temporary files ``<path>.XXXXXXXX.tmp`` of :func:`atomic_write` calls that were
    killed midway (SIGKILL, power cut); ``path`` itself is then the previous, complete file."""
    folder, base = os.path.split(os.path.abspath(path))
    try:
        names = os.listdir(folder)
    except OSError:
        return
    pattern = re.compile(re.escape(base) + r"\.[A-Za-z0-9_]{8}\.tmp")  # tempfile.mkstemp's names
    for name in names:
        if pattern.fullmatch(name):
            try:
                os.remove(os.path.join(folder, name))
            except OSError:
                pass


def _os_error(err: BaseException | None) -> OSError | None:
    """The first ``OSError`` in the chain of ``err`` (itself, its cause or context)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _unwritable(path, err: OSError) -> OSError:
    """The error of a failed write, naming the destination (not the temporary file) and saying
    that an existing file there is untouched (the temporary file is never renamed over it)."""
    kept = "the existing file is left as it was" if os.path.exists(path) else "nothing was written"
    message = f"could not write {path}: {err.strerror or err} (disk full, or the folder not writable?); {kept}"
    return type(err)(err.errno, message) if err.errno is not None else OSError(message)


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
