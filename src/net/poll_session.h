// poll_session.h — a long-poll or REST rows request as a hub client of its own: subscribes, gathers one answer, leaves.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "hub/client.h"
#include "net/http_util.h"
#include "net/poll_answer.h"

namespace pglive {

class poll_session : public client, public std::enable_shared_from_this<poll_session> {
public:
    // `ex`: the HTTP connection's strand, where `done` is called once. `timeout_s`: long-poll's
    // wait (none for REST rows, which answer once the topic is loaded).
    poll_session(std::shared_ptr<net_context> ctx, conn_executor ex, access who, subscribe_request req,
                 poll_exchange::kind k, std::optional<int64_t> timeout_s, std::function<void(poll_answer)> done);
    void start();

    // client: on the hub's strand; the frames hop to ours.
    void send(frame f, frame_kind kind, uint64_t tag, frame_stamp) override;
    void resynced() override {}  // nothing is ever dropped here: the hub never resyncs us
    wire_format format() const override { return wire_format::poll; }

private:
    void drain();
    void act(poll_exchange::step s);
    void internal_error(const std::exception& e);

    std::shared_ptr<net_context> ctx_;
    conn_executor ex_;
    conn_id id_;
    access who_;
    subscribe_request req_;
    std::optional<int64_t> timeout_s_;
    std::function<void(poll_answer)> done_;  // strand-only, like everything below but the inbox
    poll_exchange exchange_;
    boost::asio::steady_timer timer_;
    std::mutex inbox_mu_;
    std::vector<frame> inbox_;  // guarded by inbox_mu_
};

}  // namespace pglive
