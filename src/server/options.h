// options.h — each stage's options built from the config, in one place (defaults live in config.h).
#pragma once

#include "capture/listener.h"
#include "config/config.h"
#include "hub/hub.h"
#include "net/server.h"

namespace pglive {

hub_limits hub_limits_from(const config& c);
// batch_transactions is kept at or below half of max_queue_frames (see options.cpp).
listener_options listener_options_from(const config& c);
// Everything but dashboard_dir, which depends on where the binary runs from.
net_options net_options_from(const config& c);

}  // namespace pglive
