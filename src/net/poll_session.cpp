// poll_session.cpp — connect and subscribe, hop the hub's frames to our strand, end on a patch or the timer, answer, disconnect.
#include "net/poll_session.h"

#include <chrono>

#include <boost/asio/post.hpp>

#include "core/log.h"

namespace pglive {

poll_session::poll_session(std::shared_ptr<net_context> ctx, conn_executor ex, access who, subscribe_request req,
                           poll_exchange::kind k, std::optional<int64_t> timeout_s, std::function<void(poll_answer)> done)
    : ctx_(std::move(ctx)),
      ex_(std::move(ex)),
      id_(ctx_->next_id++),
      who_(std::move(who)),
      req_(std::move(req)),
      timeout_s_(timeout_s),
      done_(std::move(done)),
      exchange_(k, req_.topic, req_.since),
      timer_(ex_) {}

void poll_session::start() {
    ctx_->runner->post([self = shared_from_this()](hub& h) {
        h.connect(self->id_, self, self->who_);
        h.subscribe(self->id_, self->req_);
    });
    if (!timeout_s_) return;
    // The timer and the frames share our strand: whichever comes first decides, no flag crosses threads.
    timer_.expires_after(std::chrono::seconds(*timeout_s_));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;
        try {
            self->act(self->exchange_.timed_out());
        } catch (const std::exception& e) {
            self->internal_error(e);
        }
    });
}

void poll_session::send(frame f, frame_kind, uint64_t, frame_stamp) {
    if (!f) return;
    bool first;
    {
        std::lock_guard<std::mutex> g(inbox_mu_);
        first = inbox_.empty();
        inbox_.push_back(std::move(f));
    }
    if (first) boost::asio::post(ex_, [self = shared_from_this()] { self->drain(); });
}

void poll_session::drain() {
    std::vector<frame> taken;
    {
        std::lock_guard<std::mutex> g(inbox_mu_);
        taken.swap(inbox_);
    }
    try {  // no exception leaves a handler
        for (auto& f : taken) act(exchange_.take(*f));
    } catch (const std::exception& e) {
        internal_error(e);
    }
}

void poll_session::internal_error(const std::exception& e) {
    log_error(std::string("poll: internal error: ") + e.what());
    ctx_->runner->post([id = id_](hub& h) { h.disconnect(id); });
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(poll_answer{error_code::internal, "internal error; see the server log"});
}

void poll_session::act(poll_exchange::step s) {
    if (s == poll_exchange::step::end_subscription) {
        ctx_->runner->post([id = id_, sub = req_.sub](hub& h) { h.unsubscribe(id, unsubscribe_request{"", sub}); });
    } else if (s == poll_exchange::step::answer && done_) {
        timer_.cancel();
        ctx_->runner->post([id = id_](hub& h) { h.disconnect(id); });  // the hub lets go of us
        auto done = std::move(done_);
        done_ = nullptr;
        done(exchange_.answer());
    }
}

}  // namespace pglive
