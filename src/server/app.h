// app.h — `pglive serve` assembled: capture → hub → net, with the database workers beside them.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.h"

namespace pglive {

// A reason not to start (schema missing, port taken…): one line for stderr, exit status 1.
struct startup_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class app {
public:
    explicit app(config c);
    ~app();

    // Connects to the database (waiting for it with backoff until stop()), checks the schema,
    // starts the listener, the workers and the network. Throws startup_error.
    void start();
    // Serves until stop() (from a signal handler or another thread).
    void run();
    void stop();

    uint16_t port() const;
    std::string url() const;  // http://host:port
    size_t topic_count() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pglive
