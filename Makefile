# goinspect — the one entry point.
#
#   make deps     install the Debian packages the project needs (idempotent)
#   make          build everything into build/
#   make demo     build, start examples/demo and inspect it
#   make check    build (gcc and clang) and run the whole test suite
#   make sanitize goinspect built with ASan and UBSan into build/asan/
#   make bench    run the benchmarks against their reference tools
#   make install  install into $(PREFIX)
#   make clean    remove build/

.DEFAULT_GOAL := all

ROOT    := $(CURDIR)
BUILD   ?= build
CC      ?= cc
PYTHON  := /usr/bin/python3
PREFIX  ?= /usr/local
# where `make install` puts the gdb extension, and the second place the
# runtime's auto-load entry looks for it (the first is $(ROOT)/gdb)
GDB_SHARE_DIR = $(PREFIX)/share/goinspect/gdb

OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Werror
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -fPIC -MMD -MP

# Quiet build lines unless V=1.
ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @echo "  $(1)	$(2)"
endif

# Each component adds its own targets and appends to ALL_TARGETS.
ALL_TARGETS :=
include mk/runtime.mk
-include mk/dwarf.mk
-include mk/inspector.mk
-include mk/pctab.mk
-include mk/examples.mk
-include mk/gdb.mk

.PHONY: all deps demo check test bench install install-components clean sanitize

all: $(ALL_TARGETS)

deps:
	@sh mk/deps.sh

# The clang build of the runtime lives beside the gcc one; the runtime tests
# run against both.
CLANG_BUILD := build/clang

# goinspect with AddressSanitizer and UndefinedBehaviorSanitizer, every
# report fatal (tests/test_sanitized.py runs the bad-input tests under it).
SAN_BUILD := build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

sanitize:
	@$(MAKE) --no-print-directory CC=clang BUILD=$(SAN_BUILD) OPT="-O1 -g $(SAN_FLAGS)" \
	    LDFLAGS="$(SAN_FLAGS)" goinspect

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory CC=clang BUILD=$(CLANG_BUILD) runtime gortcc gortpctab
	@$(MAKE) --no-print-directory sanitize
	$(PYTHON) -m pytest -q -ra tests

test:
	$(PYTHON) -m pytest -q -ra tests

demo: deps
	@$(MAKE) --no-print-directory all
	@sh mk/demo.sh $(BUILD)

bench: deps
	@sh mk/deps.sh bench
	@$(MAKE) --no-print-directory all
	@sh bench/run-all.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 644 $(BUILD)/lib/libgort.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 runtime/include/gort.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@INCDIR@|$(PREFIX)/include|' -e 's|@LIBDIR@|$(PREFIX)/lib|' -e 's|@BINDIR@|$(PREFIX)/bin|' \
	    mk/gortcc.in > $(DESTDIR)$(PREFIX)/bin/gortcc
	chmod 755 $(DESTDIR)$(PREFIX)/bin/gortcc
	@$(MAKE) --no-print-directory install-components

# Components add their own install steps with `install-components::` rules.
install-components::

clean:
	rm -rf build tests/__pycache__ .pytest_cache
