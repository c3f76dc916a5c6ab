// commands.h — the table of `pglive` commands and each command's implementation.
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"

namespace pglive {

extern const char* const top_usage;  // `pglive --help`
const std::vector<command>& commands();
const command* find_command(const std::string& name);

// Each returns the exit status, or throws usage_error (2), cli_error or another exception (1).
int cmd_serve(const parsed_args& p, char** envp);
int cmd_demo(const parsed_args& p);
int cmd_install(const parsed_args& p);
int cmd_attach(const parsed_args& p);
int cmd_detach(const parsed_args& p);
int cmd_status(const parsed_args& p);
int cmd_token(const parsed_args& p, char** envp);

}  // namespace pglive
