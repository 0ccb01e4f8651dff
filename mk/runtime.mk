# libgort: build/lib/libgort.a and build/bin/gortcc.
#
# Every runtime object has its code sections renamed to `gort_text`, so the
# runtime's code is one contiguous range in every program that links it; the
# linker bounds it with __start_gort_text/__stop_gort_text and the runtime
# descriptor publishes that range (tools tell runtime frames from user frames
# by it).

RT_CSRCS := $(wildcard runtime/*.c)
RT_SSRCS := $(wildcard runtime/*.S)
RT_OBJS  := $(RT_CSRCS:runtime/%.c=$(BUILD)/obj/runtime/%.o) \
            $(RT_SSRCS:runtime/%.S=$(BUILD)/obj/runtime/%.o)
RT_LIB   := $(BUILD)/lib/libgort.a
GORTCC   := $(BUILD)/bin/gortcc

RT_CFLAGS := $(CFLAGS_COMMON) -Iruntime/include -Iruntime \
             -DGORT_GDB_DIR='"$(ROOT)/gdb"' -DGORT_SHARE_GDB_DIR='"$(PREFIX)/share/goinspect/gdb"'

$(BUILD)/obj/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(RT_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@.raw
	sh mk/rt-text.sh $@.raw $@ && rm -f $@.raw

$(BUILD)/obj/runtime/%.o: runtime/%.S
	@mkdir -p $(@D)
	$(CC) $(RT_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@.raw
	sh mk/rt-text.sh $@.raw $@ && rm -f $@.raw

$(RT_LIB): $(RT_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(GORTCC): mk/gortcc.in mk/runtime.mk
	@mkdir -p $(@D)
	sed -e 's|@INCDIR@|$(ROOT)/runtime/include|' -e 's|@LIBDIR@|$(abspath $(BUILD))/lib|' $< > $@
	chmod 755 $@

.PHONY: runtime gortcc
runtime: $(RT_LIB)
gortcc: $(GORTCC)

ALL_TARGETS += $(RT_LIB) $(GORTCC)

-include $(RT_OBJS:.o=.d)
