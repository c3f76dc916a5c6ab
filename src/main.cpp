// main.cpp — only wires: the command line does the rest.
#include "cli/cli.h"

int main(int argc, char** argv, char** envp) { return pglive::run_cli(argc, argv, envp); }
