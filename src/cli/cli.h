// cli.h — the `pglive` command line; returns the exit status (0 ok, 2 bad usage, 1 other).
#pragma once

namespace pglive {

int run_cli(int argc, char** argv, char** envp);

}  // namespace pglive
