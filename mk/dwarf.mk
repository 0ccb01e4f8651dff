# libgidwarf: build/lib/libgidwarf.a from dwarf/*.c (libelf + libdwarf).
#
# dwarf/cfi.c is freestanding (the runtime compiles it into itself too); it
# is built here with the same flags as the rest of the library.

DW_SRCS := $(wildcard dwarf/*.c)
DW_OBJS := $(DW_SRCS:dwarf/%.c=$(BUILD)/obj/dwarf/%.o)
DW_LIB  := $(BUILD)/lib/libgidwarf.a
DW_CFLAGS := $(CFLAGS_COMMON) -Idwarf -I/usr/include/libdwarf
DW_LIBS := -lelf -ldwarf

$(BUILD)/obj/dwarf/%.o: dwarf/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(DW_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@

$(DW_LIB): $(DW_OBJS)
	@mkdir -p $(@D)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

.PHONY: gidwarf
gidwarf: $(DW_LIB)

ALL_TARGETS += $(DW_LIB)

install-components::
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/goinspect
	install -m 644 $(DW_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 dwarf/gidwarf.h dwarf/cfi.h $(DESTDIR)$(PREFIX)/include/goinspect/

-include $(DW_OBJS:.o=.d)
