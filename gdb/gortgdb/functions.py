"""functions — convenience functions: $gort_g(ID), the struct g of a
goroutine, and $gort_goid(), the goroutine on the selected thread."""
import gdb

from . import model, unwinder
from .errors import GortError, guard


class GortG(gdb.Function):
    """$gort_g(ID): the struct g of goroutine ID (needs the runtime's DWARF)."""

    def __init__(self):
        super().__init__("gort_g")

    @guard("$gort_g")
    def invoke(self, goid=None):
        if goid is None:
            raise GortError("$gort_g", "usage: $gort_g(ID)")
        try:
            goid = int(goid)
        except (gdb.error, ValueError, TypeError):
            raise GortError("$gort_g", "ID must be a goroutine id (a number)") from None
        rt = model.current()
        g = rt.goroutine(goid)
        if g is None:
            raise GortError("$gort_g", f"no goroutine {goid}")
        try:
            gtype = gdb.lookup_type("struct g")
        except gdb.error:
            raise GortError("$gort_g", "the program has no DWARF type struct g (stripped?)") \
                from None
        return gdb.Value(g.addr).cast(gtype.pointer()).dereference()


class GortGoid(gdb.Function):
    """$gort_goid(): the id of the goroutine on the selected thread (inside
`goroutine ID COMMAND`: ID), 0 when the thread runs none."""

    def __init__(self):
        super().__init__("gort_goid")

    @guard("$gort_goid")
    def invoke(self, *args):
        if args:
            raise GortError("$gort_goid", "it takes no argument")
        active = unwinder.active_goid()
        if active is not None:
            return gdb.Value(active)
        rt = model.current()
        th = gdb.selected_thread()
        if th is None:
            raise GortError("$gort_goid", "no thread is selected")
        tid = th.ptid[1] or th.ptid[2]
        for m in rt.ms():
            if m.procid == tid and m.curg:
                for g in rt.goroutines():
                    if g.readable and g.addr == m.curg:
                        return gdb.Value(g.goid)
        return gdb.Value(0)


def install():
    GortG()
    GortGoid()
