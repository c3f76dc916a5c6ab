// poll_answer.h — one long-poll or REST answer gathered from the hub's poll-format frames: pure, no sockets (poll_session drives it).
//
// A long-poll or REST request is an ordinary hub client with one subscription (wire_format::poll,
// whose frames encoder.h lists). The exchange reads what the hub sends and says what its session
// does next: keep waiting, end the subscription (a patch came, or the timeout: the hub's
// `unsubscribed` reply then closes the batch, so every patch the hub sent before it is in the
// answer), or answer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/protocol.h"
#include "hub/encoder.h"

namespace pglive {

// The answer: `code` empty and the JSON `body`, or an error_code and its message in `body`.
struct poll_answer {
    std::string code;
    std::string body;
};

class poll_exchange {
public:
    enum class kind { poll, rows };  // GET /poll, GET /api/topics/{topic}/rows
    enum class step { wait, end_subscription, answer };

    poll_exchange(kind k, std::string topic, std::optional<int64_t> since)
        : kind_(k), topic_(std::move(topic)), since_(since.value_or(0)) {}

    // A frame the hub sent this request's connection.
    step take(const std::string& f) {
        if (answered_) return step::wait;
        poll_part p = read_poll_part(f);
        if (p.what == "subscribed") {
            // A topic without columns is a channel: it has no rows to answer with.
            if (p.arg == "messages") return fail(error_code::unknown_topic, "no attached table " + topic_);
            return step::wait;
        }
        if (p.what == "snapshot") {
            if (!entries_.empty()) return step::wait;  // the patches before it are the answer
            std::string pos(p.arg), rows(p.text);
            answer_.body = kind_ == kind::rows ? rows_body(pos, rows) : poll_snapshot_body(topic_, pos, rows);
            return done();
        }
        if (p.what == "patch") {
            entries_.emplace_back(p.text);
            last_pos_ = std::string(p.arg);
            return end_once();
        }
        if (p.what == "end") {
            if (entries_.empty()) {  // the timeout: no patches, the position reached to pass back
                int64_t reached = parse_whole_number(p.arg).value_or(0);
                answer_.body = poll_patches_body(topic_, std::to_string(std::max(since_, reached)), {});
                return done();
            }
            return patches();
        }
        if (p.what == "error") {
            if (p.arg == error_code::undecodable_change) return step::wait;  // a fresh snapshot follows
            if (!entries_.empty()) return patches();  // the subscription ended after its patches came
            return fail(std::string(p.arg), std::string(p.text));
        }
        return step::wait;
    }

    // The request's timeout passed (long-poll only).
    step timed_out() { return answered_ ? step::wait : end_once(); }

    const poll_answer& answer() const { return answer_; }

private:
    step end_once() {
        if (ending_) return step::wait;
        ending_ = true;
        return step::end_subscription;
    }
    step patches() {
        answer_.body = poll_patches_body(topic_, last_pos_, entries_);
        return done();
    }
    step fail(std::string code, std::string message) {
        answer_.code = std::move(code);
        answer_.body = std::move(message);
        return done();
    }
    step done() {
        answered_ = true;
        return step::answer;
    }

    kind kind_;
    std::string topic_;
    int64_t since_;
    std::vector<std::string> entries_;  // {"patch","pos","ts"} texts, in order
    std::string last_pos_;
    poll_answer answer_;
    bool ending_ = false;  // the subscription's end was asked for
    bool answered_ = false;
};

}  // namespace pglive
