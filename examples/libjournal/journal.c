// A library a program links against (examples/atfork_in_library.c): a journal with one lock. Its constructor
// registers a pthread_atfork child handler that writes a "child started" entry, taking the lock: correct only
// if no other thread holds the lock at fork. Constructors of a program's libraries can run before those of a
// preloaded library, so this handler may be registered before forkhazard's.
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
static int entries;

void journal_write(void) {
  pthread_mutex_lock(&journal_lock);
  entries++;
  pthread_mutex_unlock(&journal_lock);
}

void journal_hold(void) { pthread_mutex_lock(&journal_lock); }
void journal_release(void) { pthread_mutex_unlock(&journal_lock); }
void *journal_lock_address(void) { return &journal_lock; }

static void journal_child_started(void) { journal_write(); }

__attribute__((constructor)) static void journal_init(void) {
  pthread_atfork(NULL, NULL, journal_child_started);
}
