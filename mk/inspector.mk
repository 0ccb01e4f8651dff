# goinspect: build/bin/goinspect from inspector/*.c, on libgidwarf.

GI_SRCS := $(wildcard inspector/*.c)
GI_OBJS := $(GI_SRCS:inspector/%.c=$(BUILD)/obj/inspector/%.o)
GI_BIN  := $(BUILD)/bin/goinspect
GI_CFLAGS := $(CFLAGS_COMMON) -Iinspector -Idwarf

$(BUILD)/obj/inspector/%.o: inspector/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(GI_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@

$(GI_BIN): $(GI_OBJS) $(DW_LIB)
	@mkdir -p $(@D)
	$(call quiet,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(GI_OBJS) $(DW_LIB) $(DW_LIBS) -lreadline -lz -lm

.PHONY: goinspect
goinspect: $(GI_BIN)

ALL_TARGETS += $(GI_BIN)

install-components::
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(GI_BIN) $(DESTDIR)$(PREFIX)/bin/goinspect

-include $(GI_OBJS:.o=.d)
