# The wrapper contract probes (tests/test_contract.cpp runs them natively and under the shim). Built like a user's
# program, without optimisation or builtins, so that every call in the source is a call to the libc symbol; bound
# at start (-z now), so that a first call from a signal handler on a small stack is not also a lazy binding.
CONTRACT_CFLAGS := -O0 -g -fno-builtin -fno-omit-frame-pointer -pthread $(WARN)
CONTRACT_PROGS  := $(BUILD)/contract/probe $(BUILD)/contract/probe_oldcond

$(BUILD)/contract/probe: tests/contract/probe.c tests/contract/contract.mk
	@mkdir -p $(dir $@)
	$(CC) $(CONTRACT_CFLAGS) -Wl,-z,now -o $@ $< -ldl -lstdc++

# The same program with every pthread_cond_* bound to the pre-2003 ABI (GLIBC_2.2.5), for the old-condvar mode.
$(BUILD)/contract/probe_oldcond: tests/contract/probe.c tests/contract/contract.mk
	@mkdir -p $(dir $@)
	$(CC) $(CONTRACT_CFLAGS) -DPROBE_OLD_COND -Wl,-z,now -o $@ $< -ldl -lstdc++
