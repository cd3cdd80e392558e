// What the shim takes from the running glibc that depends on its version, kept in one place and checked at
// start-up against gnu_get_libc_version(). On a glibc outside the range it knows, the shim judges less, never
// wrongly: no verdict from lock words, a one-line notice.
//
//   fact                                              since        source
//   lock-word layouts of shim/glibc_locks.h           2.25         nptl/pthread_rwlock_common.c (the 2.25 rwlock),
//     (mutex __owner/__kind, rwlock __cur_writer/                  nptl/pthread_cond_common.c (the 2.25 condvar),
//      __readers/__shared, sem_t data/private,                     nptl/semaphoreP.h; checked on 2.36 and 2.41
//      cond __wrefs)
//   _dl_find_object (libgcc unwinds without the       2.35         elf/dl-find_object.c; symbols/capture.h
//     loader lock, so the child's report cannot hang)
//   fork() resets the popen list lock in the child    2.41         libio/iopopen.c (_IO_proc_file_chain_resetlock)
#pragma once

#include <cstdint>

#include "shim/unsafe.h"

namespace fh::glibc_facts {

struct Version {
  int major = 0, minor = 0;
};
inline constexpr Version oldest_known{2, 35};
inline constexpr Version newest_known{2, 41};

struct Facts {
  Version version;
  bool known = false;             // within [oldest_known, newest_known]
  bool lock_words = false;        // the lock-word layouts can be read (judge by them)
  bool popen_reset_by_fork = false;
};

// "2.41" -> {2, 41}; {0, 0} when it is not a version.
Version parse_version(const char* text);
// The facts for a glibc version (pure: the tests feed it versions).
Facts facts_for(Version v);

// The running glibc's facts, set by init(); until then: nothing judged.
extern Facts g_facts;
// Reads gnu_get_libc_version(); on an unknown version writes one notice line to notice_fd (-1: none).
void init(int notice_fd);

// Whether fork() resets the glibc lock of this family in the child (its calls are then not hang-prone).
bool reset_by_fork(Family family);

}  // namespace fh::glibc_facts
