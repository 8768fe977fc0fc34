# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# crbpf: .bpf.c -> .bpf.o -> .skel.h -> crbpf. Quiet unless V=1.

OUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

VERSION := 0.1.0

BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) \
	-Iinclude -Ibpf $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH))
CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Werror -std=gnu11 -MMD -MP -Iinclude -I$(OUT) \
	-DCRBPF_VERSION='"$(VERSION)"'
LDLIBS := -lbpf -lelf -lz -lmnl

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
TOOL_SRCS := $(wildcard user/*.c)
TOOL_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(TOOL_SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(patsubst tests/unit/%.c,$(OUT)/unit/%.o,$(UNIT_SRCS))
# The unit tests load the programs built with -DCRBPF_UNIT (bpf/unit_hook.h).
UNIT_SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/unit/%.skel.h,$(BPF_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BPF := $(wildcard tests/bench/*.bpf.c)

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(SKELS) $(patsubst %.skel.h,%.bpf.o,$(UNIT_SKELS)) $(UNIT_SKELS)
.PHONY: all deps test unit integration demo bench bench-quick bench-micro clean install uninstall

all: $(OUT)/crbpf $(OUT)/unit_tests $(OUT)/model_tests

$(OUT) $(OUT)/user $(OUT)/unit $(OUT)/bench:
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/crbpf.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/user/%.o: user/%.c $(SKELS) | $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/crbpf: $(TOOL_OBJS) | $(OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(OUT)/unit/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/crbpf.h | $(OUT)/unit
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DCRBPF_UNIT -c $< -o $@

$(OUT)/unit/%.skel.h: $(OUT)/unit/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/unit/%.o: tests/unit/%.c $(UNIT_SKELS) | $(OUT)/unit
	$(call msg,CC,$@)
	$(Q)$(CC) -I$(OUT)/unit $(CFLAGS) -Itests/unit -c $< -o $@

$(OUT)/unit_tests: $(UNIT_OBJS) | $(OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The mapping model's tests need no kernel: user/model.c alone.
$(OUT)/model_tests.o: tests/model/model_tests.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser -c $< -o $@

$(OUT)/model_tests: $(OUT)/model_tests.o $(OUT)/user/model.o | $(OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary built by `make`
# (nothing is rebuilt when it is up to date, so `sudo make install` after
# `make` compiles nothing as root), the man pages, bash completion, systemd
# units naming the installed binary, and an example config. The live config,
# /etc/crbpf/crbpf.conf, is the user's: never installed or removed here.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/crbpf
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install
# crbpf.conf.5 when the tree has it.
MAN8 := crbpf.8
MAN5 := $(wildcard crbpf.conf.5)
UNITS := crbpf.service crbpf-metrics.service crbpf-metrics.timer

install: $(OUT)/crbpf
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR) \
		$(if $(MAN5),$(DESTDIR)$(MANDIR)/man5)
	$(Q)$(INSTALL) -m 0755 $(OUT)/crbpf $(DESTDIR)$(SBINDIR)/crbpf
	$(Q)$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	$(Q)$(if $(MAN5),$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(Q)$(INSTALL) -m 0644 scripts/crbpf.bash-completion $(DESTDIR)$(BASHCOMPDIR)/crbpf
	$(Q)$(INSTALL) -m 0644 scripts/crbpf.conf.example $(DESTDIR)$(DOCDIR)/crbpf.conf.example
	$(Q)for u in $(UNITS); do \
		src=scripts/systemd/$$u; [ -e $$src ] || src=$$src.in; \
		sed 's|@SBINDIR@|$(SBINDIR)|g' $$src >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/crbpf $(DESTDIR)$(MANDIR)/man8/crbpf.8 \
		$(DESTDIR)$(MANDIR)/man5/crbpf.conf.5 $(DESTDIR)$(BASHCOMPDIR)/crbpf \
		$(DESTDIR)$(DOCDIR)/crbpf.conf.example \
		$(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS))
	$(Q)rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# Installs missing Debian packages and mounts bpffs; safe to run repeatedly.
deps:
	$(Q)bash scripts/deps.sh

# The test command the README gives: installs what it needs, builds, runs
# every unit and integration test, ends with "N passed, N failed".
test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz-bins
	$(Q)bash tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tests/bench/bench.sh

bench-quick: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tests/bench/bench.sh --quick

# The micro-benchmark alone, in a namespace of its own (no trafgen needed).
bench-micro:
	$(Q)$(MAKE) --no-print-directory all bench-bins
	$(Q)bash tests/bench/micro.sh

# bench: tests/bench/*.bpf.c -> build/bench/*.bpf.o + .skel.h,
# tests/bench/*.c -> build/bench/<name>; built by tests/bench/bench.sh.
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(filter-out %.bpf.c,$(BENCH_SRCS)))
BENCH_SKELS := $(patsubst tests/bench/%.bpf.c,$(OUT)/bench/%.skel.h,$(BENCH_BPF))
.PHONY: bench-bins
.SECONDARY: $(patsubst tests/bench/%.bpf.c,$(OUT)/bench/%.bpf.o,$(BENCH_BPF)) $(BENCH_SKELS)
bench-bins: $(BENCH_BINS)

$(OUT)/bench/%.bpf.o: tests/bench/%.bpf.c | $(OUT)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/bench/%.skel.h: $(OUT)/bench/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/bench/%: tests/bench/%.c $(BENCH_SKELS) $(SKELS) | $(OUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)
# end bench

# libFuzzer targets (tests/fuzz/*_fuzz.c): the tool's objects again, built
# by clang with the fuzzer, ASan and UBSan (any report aborts), in build/fuzz.
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -Wall -Wextra -Werror \
	-std=gnu11 -MMD -MP -Iinclude -I$(OUT) -Iuser -Itests/fuzz \
	-DCRBPF_VERSION='"$(VERSION)"'
FUZZ_TOOL_OBJS := $(patsubst user/%.c,$(OUT)/fuzz/user/%.o,$(filter-out user/main.c,$(TOOL_SRCS)))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(wildcard tests/fuzz/*_fuzz.c))
.PHONY: fuzz fuzz-bins
.SECONDARY: $(FUZZ_BINS:=.o) $(OUT)/fuzz/fuzz_common.o $(FUZZ_TOOL_OBJS)
fuzz-bins: $(FUZZ_BINS)

$(OUT)/fuzz $(OUT)/fuzz/user:
	$(Q)mkdir -p $@

$(OUT)/fuzz/user/%.o: user/%.c $(SKELS) | $(OUT)/fuzz/user
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(OUT)/fuzz/%.o: tests/fuzz/%.c | $(OUT)/fuzz
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(OUT)/fuzz/%_fuzz: $(OUT)/fuzz/%_fuzz.o $(OUT)/fuzz/fuzz_common.o $(FUZZ_TOOL_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined $^ -o $@ $(LDLIBS)

# make fuzz [FUZZ_ARGS='--seconds N --seed S']: long runs of the packet
# fuzzer and the parser fuzzers (tests/fuzz/run.sh; default 10 min each).
fuzz: deps
	$(Q)$(MAKE) --no-print-directory all fuzz-bins
	$(Q)bash tests/fuzz/run.sh --long $(FUZZ_ARGS)

# arm64 cross build (Debian's gcc-aarch64-linux-gnu, arm64 -dev packages via
# multiarch) into build-arm64/: the tool and its BPF objects; the host's
# bpftool generates the skeletons (BPF objects do not depend on the host).
OUT_ARM64 ?= build-arm64
.PHONY: cross-arm64 test-kernels
cross-arm64:
	$(Q)bash scripts/deps.sh arm64
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT_ARM64) ARCH=arm64 \
		CC=aarch64-linux-gnu-gcc $(OUT_ARM64)/crbpf
	$(Q)file $(OUT_ARM64)/crbpf | grep -q 'ARM aarch64' && \
		echo "$(OUT_ARM64)/crbpf: aarch64 ELF"

# The integration suite on the kernels in tests/kernels/list, each booted
# under qemu (TCG) with kernel WireGuard (tests/kernels/run.sh).
test-kernels: deps
	$(Q)bash scripts/deps.sh kernels
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tests/kernels/run.sh

clean:
	$(Q)rm -rf $(OUT) $(OUT_ARM64)

-include $(TOOL_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(OUT)/model_tests.d $(BENCH_BINS:=.d) \
	$(FUZZ_TOOL_OBJS:.o=.d) $(FUZZ_BINS:=.d)
