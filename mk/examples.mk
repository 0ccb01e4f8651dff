# examples/*.c, each built with gortcc into build/examples/.
EX_SRCS := $(wildcard examples/*.c)
EX_BINS := $(EX_SRCS:examples/%.c=$(BUILD)/examples/%)

$(BUILD)/examples/%: examples/%.c $(RT_LIB) $(GORTCC) $(PT_BIN)
	@mkdir -p $(@D)
	$(call quiet,GORTCC,$@)
	$(Q)CC="$(CC)" $(GORTCC) -O2 -Wall -Wextra -Werror -o $@ $<

.PHONY: examples
examples: $(EX_BINS)
ALL_TARGETS += $(EX_BINS)
