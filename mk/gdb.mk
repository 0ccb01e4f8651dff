# The gdb extension (gdb/): nothing to build; `make install` puts the package
# where the runtime's .debug_gdb_scripts entry looks for it after the source
# tree: $(GDB_SHARE_DIR)/gortgdb (runtime/descriptor.c, mk/runtime.mk).

GDB_PY := $(wildcard gdb/gortgdb/*.py)

install-components::
	install -d $(DESTDIR)$(GDB_SHARE_DIR)/gortgdb
	install -m 644 $(GDB_PY) $(DESTDIR)$(GDB_SHARE_DIR)/gortgdb/
	install -m 644 gdb/gort-gdb.py $(DESTDIR)$(GDB_SHARE_DIR)/
