// hub_runner.h — the hub on its strand: everything that touches the hub goes through post().
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/log.h"
#include "hub/hub.h"

namespace pglive {

class hub_runner {
public:
    hub_runner(boost::asio::io_context& io, hub::hooks hooks, hub_limits limits)
        : strand_(boost::asio::make_strand(io)), hub_(std::move(hooks), limits) {}

    // Runs f(hub&) on the hub's strand.
    template <class F>
    void post(F f) {
        boost::asio::post(strand_, [this, f = std::move(f)]() mutable {
            try {
                f(hub_);
            } catch (const std::exception& e) {  // no exception leaves a handler: log, serve on
                log_error(std::string("hub: internal error: ") + e.what());
            }
        });
    }

    // Runs f(hub&) on the hub's strand after `delay` (dropped if the io_context stops first).
    template <class F>
    void post_after(std::chrono::milliseconds delay, F f) {
        auto t = std::make_shared<boost::asio::steady_timer>(strand_, delay);
        t->async_wait([this, t, f = std::move(f)](const boost::system::error_code& ec) mutable {
            if (ec) return;
            try {
                f(hub_);
            } catch (const std::exception& e) {
                log_error(std::string("hub: internal error: ") + e.what());
            }
        });
    }

private:
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    hub hub_;  // strand-only
};

}  // namespace pglive
