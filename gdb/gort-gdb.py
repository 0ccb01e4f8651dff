# gort-gdb.py — load the goinspect gdb extension from a checkout:
#
#     (gdb) source /path/to/goinspect/gdb/gort-gdb.py
#
# libgort programs load it by themselves through gdb's auto-load once the
# auto-load safe-path allows them (docs/gdb.md).
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

import gortgdb  # noqa: E402

gortgdb.register(None)
