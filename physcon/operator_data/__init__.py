"""Deprecated alias of :mod:`physcon.data.operator` (the same objects); import that instead.

The old file format of this package (``physcon.operator/1``) is read once by
:func:`physcon.data.convert_legacy`; new files are in The Well's schema (:mod:`physcon.data.well`).
"""

import sys
import warnings

from physcon.data import operator as _operator
from physcon.data.operator import *  # noqa: F403
from physcon.data.operator import __all__  # noqa: F401
from physcon.data.operator import conditions, datasets, registry  # noqa: F401

warnings.warn("physcon.operator_data is deprecated: use physcon.data.operator", DeprecationWarning, stacklevel=2)

for _name in ("conditions", "datasets", "registry"):
    sys.modules[f"{__name__}.{_name}"] = getattr(_operator, _name)
