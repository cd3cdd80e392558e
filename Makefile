# forkhazard: `make` builds the shim and the CLI; `make test`, `make run`, `make examples`, `make bench`,
# `make install PREFIX=...`, `make clean`. `make test` and `make run` install missing Debian packages (as root).

CXX      ?= g++
CC       ?= gcc
PREFIX   ?= /usr/local
BUILD    := build
# CI builds with warnings as errors (`.ci/run` sets CI=true): the tree stays warning-free.
WARN     := -Wall -Wextra $(if $(filter true 1,$(CI)),-Werror)
CXXFLAGS_COMMON := -std=c++20 -O2 -g $(WARN) -fPIC -I.
# The shim lives inside other programs: no exceptions, no RTTI, nothing exported but the wrappers.
SHIM_CXXFLAGS := $(CXXFLAGS_COMMON) -fno-exceptions -fno-rtti -fvisibility=hidden -fno-omit-frame-pointer \
                 -ftls-model=initial-exec -fcf-protection=full
CLI_CXXFLAGS  := $(CXXFLAGS_COMMON)
# Examples are programs a user could have written: debug info, no inlining, so stacks name their functions.
EX_CFLAGS     := -O0 -g -fno-omit-frame-pointer -pthread $(WARN)
# examples/*_fortified.c are built as distributions build packages, so the program calls the __*_chk variants.
EX_FORTIFY_CFLAGS := -O2 -D_FORTIFY_SOURCE=2 -g -fno-omit-frame-pointer -pthread $(WARN)
EX_LIBS       := -ldl

# A/B: whichever of the two this Debian has (Debian 13 renamed libtcmalloc-minimal4 in its 64-bit time_t move).
# The allocators are for the stress cases that preload one beside the shim (tests/stress/).
DEB_PKGS := g++ make libcriterion-dev libdw-dev libcap2-bin libssl-dev ruby libjemalloc2 libtcmalloc-minimal4/libtcmalloc-minimal4t64 python3-pytest

# The capture half of symbols/ goes into the shim; the symbolizing half (libdw) only into the CLI.
SHIM_WRAPPER_SRCS := shim/init.cpp shim/lock_wrappers.cpp shim/process_wrappers.cpp shim/catalogue_wrappers.cpp
SHIM_CORE_SRCS := $(filter-out $(SHIM_WRAPPER_SRCS),$(wildcard shim/*.cpp)) symbols/capture.cpp symbols/modules.cpp \
                  symbols/safe_io.cpp
SHIM_SRCS      := $(SHIM_CORE_SRCS) $(SHIM_WRAPPER_SRCS) shim/stubs.S
REPORT_SRCS    := $(filter-out report/main.cpp,$(wildcard report/*.cpp)) symbols/symbolize.cpp
TEST_SRCS      := $(wildcard tests/*.cpp)
EXAMPLE_SRCS   := $(wildcard examples/*.c examples/*.cpp)
EXAMPLES       := $(patsubst examples/%,$(BUILD)/examples/%,$(basename $(EXAMPLE_SRCS)))

SHIM_OBJS      := $(patsubst %.S,$(BUILD)/shim-obj/%.o,$(patsubst %.cpp,$(BUILD)/shim-obj/%.o,$(SHIM_SRCS)))
SHIM_CORE_OBJS := $(patsubst %.cpp,$(BUILD)/shim-obj/%.o,$(SHIM_CORE_SRCS))
REPORT_OBJS    := $(patsubst %.cpp,$(BUILD)/cli-obj/%.o,$(REPORT_SRCS))
TEST_OBJS      := $(patsubst %.cpp,$(BUILD)/cli-obj/%.o,$(TEST_SRCS))

# The shim unwinds with libgcc's unwinder (symbols/capture.h says why not libunwind); nothing else. The tests
# link libgcc_s; the library links its own copy of the unwinder (libgcc_eh.a, hidden by the export list): no
# libgcc_s to load and run (its constructor's CPUID traps in a VM) in every process it is preloaded into, and a
# frame registry of its own, which no JIT and no other thread ever locks. The copy's frame-registration entry
# points are renamed: the shim's wrappers of those names (shim/process_wrappers.cpp) forward the program's to
# the libgcc_s the program uses.
SHIM_LIBS := -Wl,--no-as-needed -lgcc_s -Wl,--as-needed -ldl -pthread
UNWIND_RENAMED := __register_frame __register_frame_info __register_frame_info_bases __register_frame_info_table \
                  __register_frame_info_table_bases __register_frame_table __deregister_frame \
                  __deregister_frame_info __deregister_frame_info_bases
SHIM_SO_LIBS := $(BUILD)/libgcc_eh_shim.a -ldl -pthread
CLI_LIBS  := -ldw -lelf -pthread

.PHONY: all test run examples bench install clean deps
all: $(BUILD)/libforkhazard.so $(BUILD)/forkhazard

deps:
	@installed() { for a in $$(echo "$$1" | tr '/' ' '); do \
	    dpkg-query -W -f='$${Status}\n' $$a 2>/dev/null | grep -q 'ok installed' && return 0; done; return 1; }; \
	missing=$$(for p in $(DEB_PKGS); do installed "$$p" || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq || exit 1; \
	    pick=$$(for p in $$missing; do first=; for a in $$(echo "$$p" | tr '/' ' '); do \
	      [ -z "$$first" ] && first=$$a; apt-cache show "$$a" >/dev/null 2>&1 && { first=$$a; break; }; done; \
	      echo $$first; done); \
	    echo "forkhazard: installing Debian packages:" $$pick; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pick >/dev/null || exit 1; \
	  else \
	    echo "forkhazard: missing Debian packages (A/B: either); run: sudo apt-get install" $$missing; exit 1; \
	  fi; \
	fi

$(BUILD)/shim-obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(SHIM_CXXFLAGS) -MMD -MP -c $< -o $@

# The wrappers without frame pointers: a wrapper's fast path is then a few loads and a tail jump to libc's,
# with nothing stored in front of the lock's atomic (shim/core.h, lock_taken). Nothing of ours walks frame
# pointers (stacks are unwound by CFI), and glibc, which the wrappers forward to, keeps none either.
$(patsubst %.cpp,$(BUILD)/shim-obj/%.o,$(SHIM_WRAPPER_SRCS)): SHIM_CXXFLAGS += -fomit-frame-pointer

$(BUILD)/shim-obj/%.o: %.S shim/interpose.def
	@mkdir -p $(dir $@)
	$(CC) -I. -c $< -o $@

$(BUILD)/cli-obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CLI_CXXFLAGS) -MMD -MP -c $< -o $@

# The export list is produced from the interposition table, so only wrappers leave the library.
$(BUILD)/exports.map: shim/exports.map.in shim/interpose.def
	@mkdir -p $(dir $@)
	$(CXX) -E -P -x c -I. $< -o $@

$(BUILD)/libgcc_eh_shim.a:
	@mkdir -p $(dir $@)
	objcopy $(foreach s,$(UNWIND_RENAMED),--redefine-sym $(s)=fh_libgcc_eh$(s)) "$$($(CC) -print-file-name=libgcc_eh.a)" $@

$(BUILD)/libforkhazard.so: $(SHIM_OBJS) $(BUILD)/exports.map $(BUILD)/libgcc_eh_shim.a
	$(CC) -shared -o $@ $(SHIM_OBJS) -Wl,--version-script=$(BUILD)/exports.map -Wl,-z,now -Wl,-z,relro -Wl,--no-undefined \
	  -Wl,--exclude-libs,ALL $(SHIM_SO_LIBS)

# The CLI reads FORKHAZARD_OPTIONS with the shim's own allocation-free parser (one parser, one meaning).
CLI_SHIM_OBJS := $(BUILD)/cli-obj/shim/options.o $(BUILD)/cli-obj/symbols/safe_io.o

$(BUILD)/forkhazard: $(BUILD)/cli-obj/report/main.o $(REPORT_OBJS) $(CLI_SHIM_OBJS)
	$(CXX) -o $@ $^ $(CLI_LIBS)

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(EX_CFLAGS) -o $@ $< $(EX_LIBS)

$(BUILD)/examples/%_fortified: examples/%_fortified.c
	@mkdir -p $(dir $@)
	$(CC) $(EX_FORTIFY_CFLAGS) -o $@ $< -ldl

# A program and its own shared library (examples/libjournal/), found next to the program.
$(BUILD)/examples/libjournal.so: examples/libjournal/journal.c
	@mkdir -p $(dir $@)
	$(CC) $(EX_CFLAGS) -shared -fPIC -o $@ $<

$(BUILD)/examples/atfork_in_library: examples/atfork_in_library.c $(BUILD)/examples/libjournal.so
	$(CC) $(EX_CFLAGS) -o $@ $< -L$(BUILD)/examples -ljournal -Wl,-rpath,'$$ORIGIN' -ldl

# OpenSSL's DRBG (family_race RAND_bytes): libcrypto, from libssl-dev.
$(BUILD)/examples/family_race: EX_LIBS += -lcrypto

# OpenMP: the compiler's runtime, libgomp.
$(BUILD)/examples/omp_in_child: EX_CFLAGS += -fopenmp

$(BUILD)/examples/%: examples/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(EX_CFLAGS) -o $@ $<

examples: $(EXAMPLES)

$(BUILD)/run_tests: $(TEST_OBJS) $(REPORT_OBJS) $(SHIM_CORE_OBJS)
	$(CXX) -o $@ $^ -lcriterion $(CLI_LIBS) $(SHIM_LIBS)

# Tests start build/forkhazard and the examples as children; the shim is never preloaded into the runner.
test: deps
	@$(MAKE) --no-print-directory all examples $(BUILD)/run_tests $(STRESS_PROGS) $(CONTRACT_PROGS)
	cd $(CURDIR) && $(BUILD)/run_tests --jobs 2 --timeout 120

# `make test` of the committed tree (git archive HEAD) in a Debian 13 "trixie" chroot built once with debootstrap and
# kept in DEB13_CACHE (DEB13_FRESH=1 rebuilds it); as root. The test extras: python3, node, libgomp (gcc), libc6-dbg.
DEB13_CACHE  ?= /var/cache/forkhazard/trixie
DEB13_MIRROR ?=
DEB13_PKGS   := $(subst libtcmalloc-minimal4/,,$(DEB_PKGS)) gcc python3 nodejs libc6-dbg
.PHONY: test-debian13
test-debian13:
	DEB13_CACHE='$(DEB13_CACHE)' DEB13_MIRROR='$(DEB13_MIRROR)' DEB13_PKGS='$(DEB13_PKGS)' DEB13_FRESH='$(DEB13_FRESH)' \
	  tests/debian13/run.sh

run: deps
	@$(MAKE) --no-print-directory all $(BUILD)/examples/mutex_held_by_worker
	$(BUILD)/forkhazard run -- $(BUILD)/examples/mutex_held_by_worker; \
	  status=$$?; echo "forkhazard run exited with $$status (66: hazard found)"; [ $$status = 66 ]

# `make bench` reports and never fails (tests/bench/bench_locks.cpp): each figure natively, under the shim and under
# a pass-through interposer (the floor), alternating in rounds. BENCH_OPTIONS goes to the shim as FORKHAZARD_OPTIONS
# (`make bench BENCH_OPTIONS=lock_stack_depth=4`). The compressors it times are installed as `deps` installs DEB_PKGS,
# but a missing one only skips its row.
BENCH_PKGS           := pigz xz-utils zstd
BENCH_OPTIONS        ?=
BENCH_ROUNDS         ?= 7
BENCH_PROGRAM_ROUNDS ?= 7
BENCH_PROCESSES      ?= 3

bench: $(BUILD)/libforkhazard.so $(BUILD)/forkhazard $(BUILD)/bench_locks $(BUILD)/bench_passthrough.so
	@missing=$$(for p in $(BENCH_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "forkhazard: installing Debian packages:" $$missing; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || \
	      echo "forkhazard bench: could not install $$missing; their rows are skipped"; \
	  else \
	    echo "forkhazard bench: missing Debian packages (their rows are skipped); run: sudo apt-get install" $$missing; \
	  fi; \
	fi
	@FORKHAZARD_OPTIONS='$(BENCH_OPTIONS)' $(BUILD)/bench_locks --shim $(CURDIR)/$(BUILD)/libforkhazard.so \
	  --floor $(CURDIR)/$(BUILD)/bench_passthrough.so --cli $(CURDIR)/$(BUILD)/forkhazard \
	  --workdir $(CURDIR)/$(BUILD)/bench --python-workload $(CURDIR)/tests/bench/queue_workload.py \
	  --rounds $(BENCH_ROUNDS) --program-rounds $(BENCH_PROGRAM_ROUNDS) --processes $(BENCH_PROCESSES) || \
	  echo "forkhazard bench: bench_locks ended with status $$?"

$(BUILD)/bench_locks: tests/bench/bench_locks.cpp
	$(CXX) -std=c++20 -O2 -g -fno-omit-frame-pointer $(WARN) -pthread -o $@ $<

# The floor: built like the shim, linked like it (no C++ runtime), exporting only its wrappers.
$(BUILD)/bench_passthrough.so: tests/bench/passthrough.cpp
	@mkdir -p $(BUILD)/bench
	$(CXX) $(SHIM_CXXFLAGS) -c $< -o $(BUILD)/bench/passthrough.o
	$(CC) -shared -o $@ $(BUILD)/bench/passthrough.o -Wl,-z,now -Wl,--no-undefined -ldl

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/forkhazard $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/forkhazard $(DESTDIR)$(PREFIX)/bin/forkhazard
	install -m 644 $(BUILD)/libforkhazard.so $(DESTDIR)$(PREFIX)/lib/forkhazard/libforkhazard.so
	install -m 644 report/forkhazard.1 $(DESTDIR)$(PREFIX)/share/man/man1/forkhazard.1

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Stress and edge-case programs (`make stress`; its quick part runs in `make test`) and the wrapper contract probes
# (errno, return values, signal masks, cancellation points: native against preloaded), each in its own fragment.
-include tests/stress/stress.mk
-include tests/contract/contract.mk

# ---- bad input: `make fuzz` and `make sanitize` (neither is part of `make test`) --------------------------------------
# `make fuzz`: libFuzzer targets (tests/fuzz/fuzz_*.cpp) for the options parser, the raw-report reader and the
# suppressions parser, each run FUZZ_SECONDS over its seed corpus tests/fuzz/corpus/<target>/ (kept in git, with
# every crash found as a regression input). New inputs go to build/fuzz/work-<target>/, a crash to
# build/fuzz/artifacts-<target>/; the target fails when any fuzzer does. Reproduce one with
# `build/fuzz/fuzz_<target> FILE`.
FUZZ_CXX      ?= clang++
FUZZ_SECONDS  ?= 60
FUZZ_CXXFLAGS := -std=c++20 -O1 -g -I. -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                 -fno-sanitize-recover=all
FUZZ_TARGETS  := options reader suppress
FUZZ_SRCS_options  := shim/options.cpp symbols/safe_io.cpp
FUZZ_SRCS_reader   := report/reader.cpp report/model.cpp
FUZZ_SRCS_suppress := report/suppress.cpp report/model.cpp

.PHONY: fuzz sanitize
fuzz: $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@status=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/work-$$t $(BUILD)/fuzz/artifacts-$$t; \
	  echo "forkhazard fuzz: $$t for $(FUZZ_SECONDS) s (log: $(BUILD)/fuzz/$$t.log)"; \
	  if $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	       -artifact_prefix=$(BUILD)/fuzz/artifacts-$$t/ $(BUILD)/fuzz/work-$$t tests/fuzz/corpus/$$t \
	       >$(BUILD)/fuzz/$$t.log 2>&1; then \
	    grep -E 'DONE|number_of_executed_units' $(BUILD)/fuzz/$$t.log | tail -2; \
	  else \
	    status=1; grep -E 'ERROR|SUMMARY|Test unit written' $(BUILD)/fuzz/$$t.log; \
	    echo "forkhazard fuzz: $$t FAILED (log: $(BUILD)/fuzz/$$t.log)"; \
	  fi; \
	done; exit $$status

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.cpp $(wildcard shim/*.h shim/*.def report/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -o $@ $< $(FUZZ_SRCS_$*)
$(foreach t,$(FUZZ_TARGETS),$(eval $(BUILD)/fuzz/fuzz_$(t): $(FUZZ_SRCS_$(t))))

# `make sanitize`: the CLI and the unit tests of report/, symbols/ and the options parser built with
# AddressSanitizer and UndefinedBehaviorSanitizer into $(SAN_BUILD)/, then run: the unit tests (not the
# end-to-end ones; their CLI runs are the sanitized one) and `forkhazard report` over corrupt, truncated, empty,
# huge and foreign files (tests/fuzz/bad_reports.sh). The shim is never sanitized: it lives inside other programs
# (the CLI's `run` tests preload the ordinary build/libforkhazard.so).
SAN_BUILD      := build-san
SAN_CXX        ?= $(CXX)
SAN_CXXFLAGS   := $(CXXFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_TESTS      := reader suppress golden sarif merge options catalogue symbolize phrases
SAN_CLI_OBJS   := $(patsubst %.cpp,$(SAN_BUILD)/obj/%.o,$(REPORT_SRCS) report/main.cpp shim/options.cpp symbols/safe_io.cpp)
# The options parser is sanitized in the runner; the rest of the shim core (the catalogue's table) is linked as
# the ordinary build made it.
SAN_SHIM_SRCS  := shim/options.cpp symbols/safe_io.cpp
SAN_TEST_OBJS  := $(patsubst %,$(SAN_BUILD)/obj/tests/test_%.o,$(SAN_TESTS)) \
                  $(patsubst %.cpp,$(SAN_BUILD)/obj/%.o,$(REPORT_SRCS) $(SAN_SHIM_SRCS)) \
                  $(filter-out $(patsubst %.cpp,$(BUILD)/shim-obj/%.o,$(SAN_SHIM_SRCS)),$(SHIM_CORE_OBJS))
# The tests name build/forkhazard, build/libforkhazard.so, build/examples/, tests/golden/ and report/ relative to
# the working directory: they run in $(SAN_BUILD)/root, a tree of links to this one where build/forkhazard is the
# sanitized CLI (which finds the ordinary shim beside itself).
SAN_ENV        := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
                  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(SAN_BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(SAN_CXX) $(SAN_CXXFLAGS) -MMD -MP -c $< -o $@

$(SAN_BUILD)/forkhazard: $(SAN_CLI_OBJS)
	$(SAN_CXX) -fsanitize=address,undefined -o $@ $^ $(CLI_LIBS)

$(SAN_BUILD)/run_tests: $(SAN_TEST_OBJS)
	$(SAN_CXX) -fsanitize=address,undefined -o $@ $^ -lcriterion $(CLI_LIBS) $(SHIM_LIBS)

sanitize: deps
	@$(MAKE) --no-print-directory all examples $(SAN_BUILD)/forkhazard $(SAN_BUILD)/run_tests
	@mkdir -p $(SAN_BUILD)/root/build
	@for f in $(filter-out $(BUILD) $(SAN_BUILD),$(wildcard *)); do ln -sfn $(CURDIR)/$$f $(SAN_BUILD)/root/$$f; done
	@ln -sfn $(CURDIR)/$(SAN_BUILD)/forkhazard $(SAN_BUILD)/root/build/forkhazard
	@ln -sfn $(CURDIR)/$(BUILD)/examples $(SAN_BUILD)/root/build/examples
	@for d in $(SAN_BUILD) $(SAN_BUILD)/root/build; do ln -sfn $(CURDIR)/$(BUILD)/libforkhazard.so $$d/libforkhazard.so; done
	cd $(SAN_BUILD)/root && $(SAN_ENV) ./../run_tests --jobs 2 --timeout 300
	$(SAN_ENV) tests/fuzz/bad_reports.sh $(SAN_BUILD)/forkhazard $(SAN_BUILD)/bad-reports

-include $(shell find $(SAN_BUILD) -name '*.d' 2>/dev/null)
