# libgradflow — build, test, install.  See README.md for the two-command quick start.
#   make                 lib/libgradflow.so.0.1.0 (+ symlinks) and lib/libgradflow.a
#   make check           every test suite (SANITIZE=1: built with ASan + UBSan;
#                        TSAN=1: the threaded suites under ThreadSanitizer)
#   make fuzz-api        the API fuzzer under ASan + UBSan (FUZZ_CALLS=N, FUZZ_SEED=S)
#   make coverage        line and branch coverage of src/ (gcc + gcov)
#   make demo            builds and runs the flagship demo
#   make verdict-bench   the verdict accuracy suite (docs/verdicts.md)
#   make remedy-bench    whether following the remedies cures the suite's nets (docs/verdicts.md)
#   make examples tests bench install uninstall clean
#   make bench-ref       the bench workloads beside PyTorch's, with the ratios (needs python3-torch)
#   make blas-ref        optional: the wide step on a system BLAS (bench/ref/blas_ref.c)
#   make fuzz            libFuzzer on the model loader for FUZZ_SECONDS (default 60); needs clang

VERSION_MAJOR := 0
VERSION_MINOR := 1
VERSION_PATCH := 0
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

CC ?= cc
PYTHON ?= /usr/bin/python3
# Install directories, each overridable: make install PREFIX=/usr LIBDIR=/usr/lib64
# (LIBDIR_INSTALL, its older name, is still honoured).
PREFIX ?= /usr/local
LIBDIR ?= $(if $(LIBDIR_INSTALL),$(LIBDIR_INSTALL),$(PREFIX)/lib)
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/gradflow
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

OPT ?= -O2
WARN := -std=c11 -Wall -Wextra -Wpedantic -Werror
BASE_CFLAGS = $(WARN) $(OPT) -g -fPIC -fvisibility=hidden -Iinclude -Isrc $(CFLAGS)
LDLIBS_LIB := -lm -lpthread

# Each compiler / sanitizer combination builds in its own tree; the plain
# default build is the one that fills lib/.
CCNAME := $(notdir $(firstword $(CC)))
ifeq ($(FUZZ),1)
  # The library instrumented for libFuzzer (coverage) and checked by ASan + UBSan; see `make fuzz`.
  B := build/$(CCNAME)-fuzz
  SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(SANITIZE),1)
  B := build/$(CCNAME)-san
  SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(TSAN),1)
  B := build/$(CCNAME)-tsan
  SAN := -fsanitize=thread -fno-omit-frame-pointer
else ifeq ($(COVERAGE),1)
  B := build/$(CCNAME)-cov
  SAN := --coverage
  OPT := -O1
else
  B := build/$(CCNAME)
  SAN :=
endif
ifeq ($(B),build/cc)
  OUT := lib
else
  OUT := $(B)/lib
endif
ALL_CFLAGS := $(BASE_CFLAGS) $(SAN)

SRCS := $(sort $(wildcard src/*.c))
OBJS := $(patsubst src/%.c,$(B)/obj/%.o,$(SRCS))
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRCS))
# The benchmark and the timing tools beside it are built by `make check` too, so they never rot.
BENCH_TOOLS := $(patsubst bench/%.c,$(B)/bench/%,$(sort $(wildcard bench/*.c)))

SONAME := libgradflow.so.$(VERSION_MAJOR)
SHLIB := $(OUT)/libgradflow.so.$(VERSION)
STLIB := $(OUT)/libgradflow.a

# Per-ISA kernel files get their instruction set; everything else stays generic x86-64.
# Other CPUs compile those files without the flags (their code is skipped by #if) and
# run the portable versions.
TARGET_MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq ($(filter x86_64-% i386-% i486-% i586-% i686-%,$(TARGET_MACHINE)),)
  ISA_avx2 := -mavx2 -mfma
  ISA_avx512 := -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma -mavx2
endif
isa_flags = $(if $(findstring _avx512,$1),$(ISA_avx512),$(if $(findstring _avx2,$1),$(ISA_avx2),))

.PHONY: all check check-run deps demo examples tests bench bench-ref verdict-bench remedy-bench blas-ref install uninstall clean abi-dump abi-check \
	fuzz fuzz-run fuzz-corpus fuzz-api coverage soak
all: $(SHLIB) $(OUT)/$(SONAME) $(OUT)/libgradflow.so $(STLIB)

$(B)/obj/%.o: src/%.c include/gradflow.h src/internal.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call isa_flags,$*) -c $< -o $@

$(SHLIB): $(OBJS) src/gradflow.map
	@mkdir -p $(OUT)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/gradflow.map \
	  $(if $(SAN),,-Wl,--no-undefined) -o $@ $(OBJS) $(LDLIBS_LIB) $(SAN)

$(OUT)/$(SONAME): $(SHLIB)
	ln -sf libgradflow.so.$(VERSION) $@
$(OUT)/libgradflow.so: $(OUT)/$(SONAME)
	ln -sf $(SONAME) $@

$(STLIB): $(OBJS)
	@mkdir -p $(OUT)
	rm -f $@
	ar rcs $@ $(OBJS)

# Tests link the static library so they can reach internal (hidden) functions.
$(B)/tests/%: tests/%.c $(STLIB) $(wildcard tests/*.h) $(wildcard tests/fuzz/*.c)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-unused-parameter $< -o $@ $(STLIB) -lcmocka $(LDLIBS_LIB)

$(B)/examples/%: examples/%.c $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(STLIB) $(LDLIBS_LIB)

examples: $(EXAMPLES)

# The suites, built but not run (CI runs a cross build's under qemu).
tests: $(TESTS)

# Installs missing test dependencies on Debian as root; elsewhere says what to install.
deps:
	@PYTHON=$(PYTHON) sh tools/deps.sh

check: deps
	@$(MAKE) --no-print-directory check-run

# TSAN=1: the suites that run threads (the pool; separate nets and the per-thread
# error message on separate threads), under ThreadSanitizer.
TSAN_TESTS := $(B)/tests/test_pool $(B)/tests/test_threads
ifeq ($(TSAN),1)
check-run: all $(TSAN_TESTS)
	@for t in $(TSAN_TESTS); do echo "== $$t (ThreadSanitizer)"; \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" $$t || exit 1; done; \
	echo "check (TSan): $(words $(TSAN_TESTS)) suites passed"
else
check-run: all $(TESTS) $(EXAMPLES) $(BENCH_TOOLS)
	@B=$(B) OUT=$(OUT) PYTHON=$(PYTHON) SANITIZE=$(SANITIZE) CC="$(CC)" sh tests/run.sh $(TESTS)
endif

demo: $(B)/examples/demo
	$(B)/examples/demo

$(B)/bench/%: bench/%.c $(STLIB) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(STLIB) $(LDLIBS_LIB)

bench: $(B)/bench/bench
	$(B)/bench/bench $(BENCH_ARGS)

# The same workloads in PyTorch, in the same run, with the ratio per workload and thread
# count (bench/bench_ref.py).  Needs python3-torch and libopenblas0-pthread on Debian.
BENCH_REF_ARGS ?=
bench-ref: $(B)/bench/bench
	$(PYTHON) bench/bench_ref.py --bench $(B)/bench/bench $(BENCH_REF_ARGS)

# The verdict accuracy suite (tests/verdict_scenarios.h): every scenario x 8 seeds, with the totals.
# A few minutes on 2 cores, so `make check` runs only its fast subset (tests/test_accuracy.c).
$(B)/bench/verdict_bench: tests/verdict_scenarios.h bench/verdict_remedy.h
verdict-bench: $(B)/bench/verdict_bench
	$(B)/bench/verdict_bench $(VERDICT_BENCH_ARGS)

# Whether following each non-healthy scenario's remedy cures it (bench/verdict_remedy.h, docs/verdicts.md
# "Remedy accuracy"): minutes on 2 cores, so neither `make check` nor CI runs it.
remedy-bench: $(B)/bench/verdict_bench
	$(B)/bench/verdict_bench -R $(REMEDY_BENCH_ARGS)

# Optional: the wide step on a system BLAS, against the library's (bench/ref/blas_ref.c).
# Needs a CBLAS, so `make check` leaves it out.  make blas-ref BLAS_LIB=-lopenblas
# Linked on every call, so a different BLAS_LIB never runs a binary built for the last one.
BLAS_LIB ?= -lblas
blas-ref: $(STLIB)
	@mkdir -p $(B)/bench
	$(CC) $(ALL_CFLAGS) bench/ref/blas_ref.c -o $(B)/bench/blas_ref $(STLIB) $(BLAS_LIB) $(LDLIBS_LIB)
	$(B)/bench/blas_ref $(BLAS_REF_ARGS)

# libFuzzer on the model loader (tests/fuzz/fuzz_model.c), seeded with tests/fuzz/corpus.  New inputs
# collect in build/fuzz-corpus; a crash is written to tests/fuzz/regressions/, which `make check`
# replays: commit it with the fix.  -malloc_limit_mb: a small file must never make the loader allocate big.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
fuzz:
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) FUZZ=1 fuzz-run

fuzz-run: $(STLIB)
	@mkdir -p $(B)/fuzz build/fuzz-corpus
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer tests/fuzz/fuzz_model.c -o $(B)/fuzz/fuzz_model $(STLIB) $(LDLIBS_LIB)
	$(B)/fuzz/fuzz_model -max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=256 -timeout=10 -print_final_stats=1 \
	  -artifact_prefix=tests/fuzz/regressions/ build/fuzz-corpus tests/fuzz/corpus

# Rewrites the seed corpus (valid model files of every layer kind and setting) after a format change.
fuzz-corpus: $(STLIB)
	@mkdir -p $(B)/fuzz tests/fuzz/corpus
	$(CC) $(ALL_CFLAGS) tests/fuzz/make_corpus.c -o $(B)/fuzz/make_corpus $(STLIB) $(LDLIBS_LIB)
	$(B)/fuzz/make_corpus tests/fuzz/corpus

# The installed .pc and CMake files depend on PREFIX, so they are generated straight
# into their destination on every install: no file in the tree for installs with
# other PREFIXes to race on.  Both are relocatable: the .pc names its directories as
# ${prefix}/..., the CMake files find everything from their own location.
# libdir and includedir relative to ${prefix} when under it (else absolute).
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PC_LIBDIR@|$(PC_LIBDIR)|g' \
	    -e 's|@PC_INCLUDEDIR@|$(PC_INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@MAJOR@|$(VERSION_MAJOR)|g' -e 's|@SIZEOF_VOID_P@|$(SIZEOF_VOID_P)|g' \
	    -e "s|@INCLUDEDIR_FROM_LIBDIR@|$$(realpath -m --relative-to=$(LIBDIR) $(INCLUDEDIR))|g"
SIZEOF_VOID_P = $(shell $(CC) -dM -E - </dev/null 2>/dev/null | sed -n 's/^\#define __SIZEOF_POINTER__ //p')
# One man page per function: each a one-line `.so` of gradflow(3), so `man gf_net_create` works.
OPEN := (
GF_FUNCTIONS = $(shell sed -n 's/^GF_API[^$(OPEN)]*[ *]\(gf_[a-z0-9_]*\)$(OPEN).*/\1/p' include/gradflow.h)
PC_FILES := gradflow gradflow-static
CMAKE_FILES := gradflowConfig gradflowConfigVersion

install: all $(foreach f,$(PC_FILES),pkgconfig/$(f).pc.in) $(foreach f,$(CMAKE_FILES),cmake/$(f).cmake.in) man/gradflow.3
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 644 include/gradflow.h $(DESTDIR)$(INCLUDEDIR)/gradflow.h
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/libgradflow.so.$(VERSION)
	ln -sf libgradflow.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libgradflow.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/libgradflow.a
	for f in $(PC_FILES); do $(SUBST) pkgconfig/$$f.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/$$f.pc && \
	  chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/$$f.pc || exit 1; done
	for f in $(CMAKE_FILES); do $(SUBST) cmake/$$f.cmake.in > $(DESTDIR)$(CMAKEDIR)/$$f.cmake && \
	  chmod 644 $(DESTDIR)$(CMAKEDIR)/$$f.cmake || exit 1; done
	install -m 644 man/gradflow.3 $(DESTDIR)$(MANDIR)/man3/gradflow.3
	@for f in $(GF_FUNCTIONS); do echo '.so man3/gradflow.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3 || exit 1; done
	@echo "installed the man pages gradflow(3) and $(words $(GF_FUNCTIONS)) gf_*(3) pointing to it"

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/gradflow.h $(DESTDIR)$(LIBDIR)/libgradflow.so.$(VERSION) \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libgradflow.so \
	  $(DESTDIR)$(LIBDIR)/libgradflow.a $(foreach f,$(PC_FILES),$(DESTDIR)$(PKGCONFIGDIR)/$(f).pc) \
	  $(foreach f,$(CMAKE_FILES),$(DESTDIR)$(CMAKEDIR)/$(f).cmake) $(DESTDIR)$(MANDIR)/man3/gradflow.3
	@for f in $(GF_FUNCTIONS); do rm -f $(DESTDIR)$(MANDIR)/man3/$$f.3; done
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true

clean:
	rm -rf build lib pkgconfig/gradflow.pc

# ABI baseline (abi/, docs/abi.md).  abi-dump rewrites abi/libgradflow.abi and
# abi/enums.txt from this build's library and header: run it from the default
# build, in the same commit as the header change it records.  abi-check
# compares against them and, unlike `make check`, fails if abigail-tools is
# missing.
abi-dump: all
	B=$(B) OUT=$(OUT) CC="$(CC)" SANITIZE=$(SANITIZE) sh tests/check_abi.sh --dump

abi-check: all
	B=$(B) OUT=$(OUT) CC="$(CC)" SANITIZE=$(SANITIZE) ABI_REQUIRED=1 sh tests/check_abi.sh

# The randomized API fuzzer (tests/fuzz_api.c), always built with ASan + UBSan.
# make fuzz-api FUZZ_CALLS=200000 FUZZ_SEED=1
FUZZ_CALLS ?= 200000
FUZZ_SEED ?= 1
FUZZ_B := build/$(CCNAME)-san
fuzz-api:
	@$(MAKE) --no-print-directory SANITIZE=1 $(FUZZ_B)/tests/fuzz_api
	ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(FUZZ_B)/tests/fuzz_api $(FUZZ_CALLS) $(FUZZ_SEED)

# Line and branch coverage of src/ (gcc + gcov): every cmocka suite, the training
# examples and a short fuzz run, built with --coverage; tools/coverage.py sums
# gcov's figures and fails below COV_LINE % of lines or COV_BRANCH % of branches.
COV_LINE ?= 90
COV_BRANCH ?= 75
COV_B := build/gcc-cov
# Suites run at a time by `make check` (tests/run.sh reads it) and `make coverage`.
CHECK_JOBS ?= 2
export CHECK_JOBS
coverage:
	@$(MAKE) --no-print-directory CC=gcc COVERAGE=1 tests examples $(COV_B)/tests/fuzz_api
	@find $(COV_B) -name '*.gcda' -delete
	@for t in $(COV_B)/tests/test_*; do \
	  case "$$t" in *.gc*) continue ;; esac; printf '%s\0' "$$t"; done | \
	  xargs -0 -n 1 -P $(CHECK_JOBS) sh -c 'echo "== $$0"; "$$0" >/dev/null 2>&1 || { echo "coverage: $$0 failed"; exit 255; }'
	@$(COV_B)/examples/xor >/dev/null && $(COV_B)/examples/regression >/dev/null
	@$(COV_B)/tests/fuzz_api 20000 1 >/dev/null
	@$(PYTHON) tools/coverage.py --obj $(COV_B)/obj --min-line $(COV_LINE) --min-branch $(COV_BRANCH) src/*.c

# A long run (tests/soak.c): SOAK_STEPS training steps with diagnostics; RSS and live
# allocations at the start and the end.  Not in `make check` or CI.
SOAK_STEPS ?= 1000000
soak: $(B)/tests/soak
	$(B)/tests/soak $(SOAK_STEPS)
