# Stress and edge-case programs (issue 10). Included by the Makefile: `make test` builds $(STRESS_PROGS) and runs
# the quick part (tests/test_stress.cpp, STRESS_SCALE=1); `make stress` runs every case larger (STRESS_SCALE,
# default 5), each natively and under the shim, one line per case, and fails when any case does.
# Each program says in its first comment what forkhazard must report; tests/stress/cases.h holds the checks.

STRESS_SCALE ?= 5
STRESS_NAMES := address_reuse fork_storm signal_fork thread_churn nested_fork thread_ops_fork cancel_wait robust destroy_held \
                exit_holding pshared dlopen_threads main_exit refused_locks evicted_protection \
                foreign_python
STRESS_PROGS := $(patsubst %,$(BUILD)/stress/%,$(STRESS_NAMES)) $(BUILD)/stress/libstress_threads.so
STRESS_CFLAGS := -O0 -g -fno-omit-frame-pointer -pthread $(WARN)

$(BUILD)/stress/%: tests/stress/%.c tests/stress/stress_common.h
	@mkdir -p $(dir $@)
	$(CC) $(STRESS_CFLAGS) -o $@ $< -ldl

$(BUILD)/stress/libstress_threads.so: tests/stress/libstress_threads.c tests/stress/stress_common.h
	@mkdir -p $(dir $@)
	$(CC) $(STRESS_CFLAGS) -shared -fPIC -o $@ $<

# The long runner: the cases of tests/stress/cases.h (which tests/test_stress.cpp runs small) at STRESS_SCALE.
# It shares the end-to-end helpers of tests/e2e_support.h, whose header pulls in Criterion's: hence -lcriterion
# (the runner has its own main).
$(BUILD)/stress/stress_runner: tests/stress/stress_runner.cpp tests/stress/cases.h tests/e2e_support.h
	@mkdir -p $(dir $@)
	$(CXX) $(CLI_CXXFLAGS) -o $@ $< -lcriterion

.PHONY: stress
# The allocators the cases preload (libjemalloc2, libtcmalloc-minimal4) are in DEB_PKGS, installed by `deps`.
stress: deps
	@$(MAKE) --no-print-directory all examples $(STRESS_PROGS) $(BUILD)/stress/stress_runner
	cd $(CURDIR) && STRESS_SCALE=$(STRESS_SCALE) $(BUILD)/stress/stress_runner

# Looks like a CPython to the shim's lookup: its symbols must be in the dynamic symbol table.
$(BUILD)/stress/foreign_python: STRESS_CFLAGS += -rdynamic
