"""errors — the one way the extension reports a problem.

Every command and function runs its body through `guard`: a GortError (or
any gdb or Python error the body did not expect) becomes a gdb.GdbError with
the one line

    gort: WHAT: WHY

which gdb prints as the command's error (on its error stream, failing the
command as any gdb command fails), never with a Python traceback.  Code
raises GortError with WHAT the thing that failed ("goroutine 7", "the
runtime descriptor") and WHY the reason.
"""
import functools

import gdb


class GortError(Exception):
    """A problem to show the user as "gort: WHAT: WHY"."""

    def __init__(self, what, why=None):
        super().__init__(f"{what}: {why}" if why else what)


def message(e):
    """The text of an exception as a user sees it."""
    if isinstance(e, GortError):
        return str(e)
    if isinstance(e, gdb.MemoryError):
        return f"memory cannot be read: {e}"
    if isinstance(e, gdb.error):
        return str(e) or "gdb error"
    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    return f"internal error: {type(e).__name__}: {e}"


def line(what, e):
    """The one line that reports e, which happened in what."""
    text = message(e)
    if not isinstance(e, GortError) and not text.startswith(what + ":"):
        text = f"{what}: {text}"
    return f"gort: {text}"


def warn(text):
    """A problem that does not stop the command, on gdb's error stream."""
    gdb.write(f"gort: {text}\n", gdb.STDERR)


def guard(what):
    """Decorates a command's body: whatever it raises becomes gdb.GdbError
    with one line (see line)."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kw):
            try:
                return fn(*args, **kw)
            except gdb.GdbError as e:
                if str(e).startswith("gort: "):
                    raise
                raise gdb.GdbError(line(what, e)) from None
            except (Exception, KeyboardInterrupt) as e:     # noqa: B902 — the point of guard
                raise gdb.GdbError(line(what, e)) from None
        return run
    return wrap
