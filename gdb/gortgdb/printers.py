"""printers — pretty printers for the runtime's structures (placeholder)."""


def install(objfile):
    pass
