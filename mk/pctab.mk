# gortpctab: build/bin/gortpctab, the post-link step gortcc runs (the
# pc-line table of docs/pctab.md, from the binary's DWARF, on libgidwarf).

PT_SRCS := $(wildcard pctab/*.c)
PT_OBJS := $(PT_SRCS:pctab/%.c=$(BUILD)/obj/pctab/%.o)
PT_BIN  := $(BUILD)/bin/gortpctab

$(BUILD)/obj/pctab/%.o: pctab/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(CFLAGS_COMMON) -Idwarf -MF $(@:.o=.d) -MT $@ -c $< -o $@

$(PT_BIN): $(PT_OBJS) $(DW_LIB)
	@mkdir -p $(@D)
	$(call quiet,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(PT_OBJS) $(DW_LIB) $(DW_LIBS)

.PHONY: gortpctab
gortpctab: $(PT_BIN)

ALL_TARGETS += $(PT_BIN)

install-components::
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PT_BIN) $(DESTDIR)$(PREFIX)/bin/gortpctab

-include $(PT_OBJS:.o=.d)
