// Expect: as the program it starts, with the option it adds — a program that gives its child forkhazard options.
//
//   options_for_child NAME=VALUE PROGRAM [ARG...]
//
// Appends `NAME=VALUE` to FORKHAZARD_OPTIONS and runs PROGRAM with it, as a test driver or a supervisor that
// wants its workers left hung for a debugger (on_deadlock=continue) or ended with its own status (exitcode=77)
// would. forkhazard must act on the options of the process it judges, whoever set them: under `forkhazard run`
// the watchdog reads them from that process's shim, not from its own environment.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3 || strchr(argv[1], '=') == NULL) {
    fprintf(stderr, "usage: %s NAME=VALUE PROGRAM [ARG...]\n", argv[0]);
    return 2;
  }
  const char *old = getenv("FORKHAZARD_OPTIONS");
  size_t size = (old != NULL ? strlen(old) : 0) + strlen(argv[1]) + 2;
  char *options = malloc(size);
  if (options == NULL) return 1;
  snprintf(options, size, "%s%s%s", old != NULL ? old : "", old != NULL && old[0] != '\0' ? ":" : "", argv[1]);
  setenv("FORKHAZARD_OPTIONS", options, 1);
  execv(argv[2], argv + 2);
  perror(argv[2]);
  return 127;
}
