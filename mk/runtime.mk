# libgort: build/lib/libgort.a and build/bin/gortcc.
#
# The runtime's code sections are renamed `gort_text`, so its code is one
# contiguous range in every program that links it; the linker bounds it with
# __start_gort_text/__stop_gort_text and the runtime descriptor publishes
# that range (tools tell runtime frames from user frames by it).

# The runtime is compiled with hidden visibility and linked into one
# relocatable object whose hidden symbols are then made local: a program
# sees only gort.h's API and the descriptor, so the runtime's internal names
# never clash with its own.  dwarf/cfi.c (the CFI engine) is compiled in for
# the crash dumps' unwinder, dwarf/pctab.c (the pc-line table's reader) for
# their function, file and line names.
RT_CSRCS := $(wildcard runtime/*.c) dwarf/cfi.c dwarf/pctab.c
RT_SSRCS := $(wildcard runtime/*.S)
RT_OBJS  := $(patsubst %.c,$(BUILD)/obj/runtime/%.o,$(notdir $(RT_CSRCS))) \
            $(patsubst %.S,$(BUILD)/obj/runtime/%.o,$(notdir $(RT_SSRCS)))
RT_LIB   := $(BUILD)/lib/libgort.a
GORTCC   := $(BUILD)/bin/gortcc

RT_CFLAGS := $(CFLAGS_COMMON) -fvisibility=hidden -Iruntime/include -Iruntime -Idwarf \
             -DGORT_GDB_DIR='"$(ROOT)/gdb"' -DGORT_SHARE_GDB_DIR='"$(GDB_SHARE_DIR)"'

# Those two paths are compiled into descriptor.o's .debug_gdb_scripts entry:
# it is rebuilt whenever they change (a `make install PREFIX=...` after a
# plain `make`), so the installed libgort looks where the extension is.
RT_GDB_PATHS := $(BUILD)/obj/runtime/gdb-paths
$(RT_GDB_PATHS): FORCE
	@mkdir -p $(@D)
	@echo '$(ROOT)/gdb $(GDB_SHARE_DIR)' | cmp -s - $@ || echo '$(ROOT)/gdb $(GDB_SHARE_DIR)' >$@
$(BUILD)/obj/runtime/descriptor.o: $(RT_GDB_PATHS)
.PHONY: FORCE
FORCE:

$(BUILD)/obj/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(RT_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@

$(BUILD)/obj/runtime/%.o: dwarf/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(RT_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@

$(BUILD)/obj/runtime/%.o: runtime/%.S
	@mkdir -p $(@D)
	$(call quiet,AS,$@)
	$(Q)$(CC) $(RT_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@

$(BUILD)/obj/libgort.o: $(RT_OBJS) mk/rt-text.sh
	$(call quiet,LD,$@)
	$(Q)ld -r -o $@.raw $(RT_OBJS)
	$(Q)objcopy --localize-hidden $@.raw
	$(Q)sh mk/rt-text.sh $@.raw $@ && rm -f $@.raw

$(RT_LIB): $(BUILD)/obj/libgort.o
	@mkdir -p $(@D)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $<

$(GORTCC): mk/gortcc.in mk/runtime.mk
	@mkdir -p $(@D)
	$(call quiet,GEN,$@)
	$(Q)sed -e 's|@INCDIR@|$(ROOT)/runtime/include|' -e 's|@LIBDIR@|$(abspath $(BUILD))/lib|' \
	    -e 's|@BINDIR@|$(abspath $(BUILD))/bin|' $< > $@
	$(Q)chmod 755 $@

.PHONY: runtime gortcc
runtime: $(RT_LIB)
gortcc: $(GORTCC)

ALL_TARGETS += $(RT_LIB) $(GORTCC)

-include $(RT_OBJS:.o=.d)
