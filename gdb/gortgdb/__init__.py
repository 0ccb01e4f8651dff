"""gortgdb — the goinspect extension for gdb: goroutines, their stacks and
the heap of libgort programs, on live processes and core files.

Loaded by gdb's auto-load through the `.debug_gdb_scripts` entry every
libgort program carries (runtime/descriptor.c), or by `source
gdb/gort-gdb.py` from a checkout.  `register` is idempotent: the commands,
the goroutine unwinder and the functions are installed once; the pretty
printers once per program file.

    descriptor   the runtime descriptor (docs/metadata.md)
    model        goroutines, Ms and Ps, read through it
    cfi, stacks  goroutine stacks, walked fast; their names
    unwinder     gdb frames of a parked goroutine from its saved context
    cmd_*        the commands; functions, printers
"""
import gdb

from . import model, unwinder

_installed = []
_printed_for = set()


def register(objfile=None):
    if not _installed:
        from . import cmd_goroutine, cmd_goroutines, cmd_heap, functions
        cmd_goroutines.InfoGoroutines()
        cmd_goroutine.GoroutineCommand()
        cmd_heap.install()
        functions.install()
        unwinder.install()
        model.connect_events()
        _installed.append(True)
    from . import printers
    key = objfile.filename if objfile is not None else None
    if key not in _printed_for:
        printers.install(objfile)
        _printed_for.add(key)
