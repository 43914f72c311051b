# SPDX-License-Identifier: GPL-2.0
#
# Project driver: builds the module for each kernel line, the agent and the
# selftests, and runs them in QEMU guests.  The module's own build file is
# kmod/Kbuild; this file is not read by Kbuild.
#
#   make check                 all tests on every kernel in KERNELS
#   make check TESTS=api       one test binary (names from selftests' TESTS)
#   make check KERNELS=6.1     one kernel line
#   make check-debug           the debug lane alone: KASAN, lockdep, kmemleak,
#                              ... kernel (selftests/debug), same as
#                              make check KERNELS=debug
#   make demo | bench | style | modules | userspace | ynl | deps | clean
#   make man | install | deb | pkg-check   packaging (packaging/pkg.mk)
#   make spec                  regenerate what the netlink spec drives
#                              (Documentation/netlink/specs/); make check
#                              first checks that nothing differs from it
#
# Variables:
#   KERNELS        kernel lines; headers and guest kernels come from Debian;
#                  "debug" is the debug lane
#   CHECK_DEBUG    whether `make check` adds the debug lane when KERNELS is
#                  not given: auto (the default: if its kernel is cached
#                  already; it adds about 20 minutes), 1 (build the kernel
#                  if need be: most of an hour the first time), 0 (never)
#   KDIR           a kernel tree to build against instead (one build, in
#                  build/custom/); its arch/x86/boot/bzImage, or VMLINUZ=,
#                  is the guest kernel
#   CACHE          guest kernels and checkpatch, outside the tree
#   TESTS          test binaries to run (default: all, in TESTS order)
#   GUEST_MODULES  kernel modules to load in the guest before the tests
#                  (e.g. "veth sch_netem"); dependencies come along
#   DEMO_KERNEL    kernel line `make demo` boots
#   VM_TIMEOUT     host-side limit for one guest run, seconds
#   VM_MEM         guest memory (default 1G; 2G for bench, BENCH_VM_MEM)
#   APPEND         extra guest kernel command line
#   V=1            show the whole guest console and verbose Kbuild

KERNELS ?= 6.1 6.12
CHECK_DEBUG ?= auto
DEMO_KERNEL ?= 6.1
CACHE ?= $(HOME)/.cache/postcopy_assist
KDIR ?=
VMLINUZ ?=
TESTS ?=
GUEST_MODULES ?=
VM_TIMEOUT ?=
APPEND ?=
V ?= 0

SHELL := /bin/bash

BUILD := $(CURDIR)/build
VM := $(CURDIR)/selftests/vm

# Command-line variables would otherwise reach every sub-make, where TESTS,
# KERNELS or V mean something else (selftests/Makefile, Kbuild).  The
# scripts get them explicitly instead.
MAKEOVERRIDES :=
unexport KERNELS DEMO_KERNEL CACHE KDIR VMLINUZ TESTS GUEST_MODULES \
	VM_TIMEOUT APPEND V CHECK_DEBUG KSFT_ARGS

# Debian's kernel lines, and whether the debug lane runs: named in KERNELS,
# or by CHECK_DEBUG when KERNELS is left to its default.
LINES := $(filter-out debug,$(KERNELS))
ifneq ($(filter debug,$(KERNELS)),)
DEBUG_LANE := 1
else ifeq ($(origin KERNELS),command line)
DEBUG_LANE := 0
else
DEBUG_LANE := $(CHECK_DEBUG)
endif

# deps must finish before anything builds; the sub-makes still run in
# parallel under -j.
.NOTPARALLEL:

HARNESS_ENV = BUILD='$(BUILD)' CACHE='$(CACHE)' KERNELS='$(LINES)' \
	KDIR='$(KDIR)' VMLINUZ='$(VMLINUZ)' TESTS='$(TESTS)' \
	GUEST_MODULES='$(GUEST_MODULES)' DEMO_KERNEL='$(DEMO_KERNEL)' \
	VM_TIMEOUT='$(VM_TIMEOUT)' APPEND='$(APPEND)' V='$(V)' \
	KSFT_ARGS='$(KSFT_ARGS)'

.PHONY: all deps modules userspace ynl ksft check check-debug bench demo style \
	spec spec-check clean help

all: modules userspace

deps:
	@CACHE='$(CACHE)' KERNELS='$(if $(KDIR),,$(sort $(LINES) $(DEMO_KERNEL)))' \
		$(VM)/deps.sh

ifneq ($(KDIR),)
modules:
	+@$(VM)/build-module.sh $(BUILD)/custom $(KDIR) W=1 V=$(V)
	@echo "modules: $(BUILD)/custom/kmod/postcopy_assist.ko"
else
modules:
	+@set -e; . $(VM)/lib.sh; for line in $(LINES); do \
		abi=$$(kernel_abi $$line) || die "no headers for kernel line $$line: run 'make deps'"; \
		$(VM)/build-module.sh $(BUILD)/$$abi /lib/modules/$$abi/build W=1 V=$(V); \
		echo "modules: $(BUILD)/$$abi/kmod/postcopy_assist.ko"; \
	done
endif

# The selftests build on the kernel's kselftest framework (lib.mk,
# kselftest_harness.h) from Debian's linux-source-6.12, unpacked once into
# CACHE like the YNL tooling.
userspace: ksft
	+$(MAKE) -C agent OUT=$(BUILD)/bin
	+$(MAKE) -C tools/workload OUT=$(BUILD)/bin
	+$(MAKE) -C examples OUT=$(BUILD)/bin PCA_SRC=$(CURDIR) \
		LIBPCA_A=$(BUILD)/bin/.obj/libpca.a
	+$(MAKE) -C selftests OUTPUT=$(BUILD)/selftests \
		KSFT_DIR=$$(CACHE='$(CACHE)' $(VM)/ksft-tree.sh)/tools/testing/selftests

ksft: deps
	@CACHE='$(CACHE)' $(VM)/ksft-tree.sh >/dev/null

# The kernel's YNL tooling (cli.py, its library, the netlink schemas), from
# Debian's linux-source-6.12, unpacked once into CACHE: ynl_test runs it in
# the guest.
ynl: deps
	@CACHE='$(CACHE)' $(VM)/ynl-tree.sh >/dev/null

# The debug lane's kernel and module are made by selftests/debug/prepare.sh,
# which prints the kernel's tree when the lane runs.
spec: deps
	@CACHE='$(CACHE)' $(CURDIR)/scripts/ynl-regen.sh

spec-check: deps
	@CACHE='$(CACHE)' $(CURDIR)/scripts/ynl-regen.sh --check

check: deps spec-check modules userspace ynl
	+@dk=$$(CACHE='$(CACHE)' V='$(V)' $(CURDIR)/selftests/debug/prepare.sh \
		'$(BUILD)' '$(DEBUG_LANE)') && \
	$(HARNESS_ENV) DEBUG_KDIR="$$dk" $(VM)/run.sh check

check-debug: deps userspace ynl
	+@dk=$$(CACHE='$(CACHE)' V='$(V)' $(CURDIR)/selftests/debug/prepare.sh \
		'$(BUILD)' 1) && \
	$(HARNESS_ENV) DEBUG_KDIR="$$dk" DEBUG_ONLY=1 $(VM)/run.sh check

bench: deps modules userspace
	+@$(HARNESS_ENV) $(VM)/run.sh bench

demo: deps modules userspace
	+@$(HARNESS_ENV) $(VM)/run.sh demo

style: deps
	+@BUILD='$(BUILD)' CACHE='$(CACHE)' KERNELS='$(LINES)' KDIR='$(KDIR)' \
		$(VM)/style.sh

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C agent clean
	-$(MAKE) -C tools/workload clean
	-$(MAKE) -C selftests clean OUTPUT=$(BUILD)/selftests \
		KSFT_DIR=$$(CACHE='$(CACHE)' $(VM)/ksft-tree.sh)/tools/testing/selftests

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

include $(CURDIR)/packaging/pkg.mk
