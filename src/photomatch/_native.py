"""numpy twins of the C kernels: the specification and the fallback.

Each function has the same name, arguments and results as its C counterpart in photomatch._ext.
The twins of each kernel family live in their own module; this one gathers them.
"""

from __future__ import annotations

from ._native_hash import *  # noqa: F401,F403
from ._native_mih import *  # noqa: F401,F403
