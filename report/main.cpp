// forkhazard: the command-line entry point; everything else lives in report/cli.cpp so tests can call it.
#include "report/cli.h"

int main(int argc, char** argv) { return fh::cli_main(argc, argv); }
