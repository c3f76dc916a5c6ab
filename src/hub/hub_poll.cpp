// hub_poll.cpp — long-poll and REST rows: one-shot subscriptions answered with a JSON body.
#include <algorithm>

#include "core/exact_json.h"
#include "hub/hub_impl.h"

namespace pglive {

namespace {

poll_answer error_answer(int status, const std::string& code, const std::string& message) {
    return poll_answer{status, json{{"error", code}, {"message", message}}.dump()};
}

}  // namespace

void hub::impl::flush_polls() {
    for (auto it = polls.begin(); it != polls.end();) {
        auto& s = *it->second;
        bool ready = !s.poll_snapshot.is_null() || !s.poll_patches.empty();
        if (!ready) {
            ++it;
            continue;
        }
        json body = {{"topic", s.topic}, {"pos", std::to_string(s.poll_pos)}};
        if (!s.poll_snapshot.is_null())
            body["snapshot"] = std::move(s.poll_snapshot);
        else
            body["patches"] = std::move(s.poll_patches);
        auto done = std::move(s.poll_done);
        sub_ptr keep = it->second;
        it = polls.erase(it);
        detach_subscription(*keep);
        done(poll_answer{200, dump_exact(body)});  // row values: exact numbers
    }
}
void hub::rows(const std::string& topic, const std::vector<std::string>& filter, std::optional<int64_t> limit,
               const std::string& order, const access& who, std::function<void(poll_answer)> done) {
    // A one-shot subscription answered by its snapshot, at once or after the load.
    auto& m = *impl_;
    subscribe_request sr;
    sr.topic = topic;
    sr.filter = filter;
    sr.limit = limit;
    sr.order = order;
    try {
        if (is_channel(topic) && !m.attached.count(topic))
            throw protocol_error(error_code::unknown_topic, "no attached table " + topic);
        auto s = m.make_subscription(0, who, sr);
        auto token = m.next_poll++;
        s->poll_done = [done = std::move(done)](poll_answer a) {
            if (a.status == 200) {  // {"pos","rows"} is the REST shape
                auto body = parse_exact(a.body);  // exact: rows keep every digit
                a.body = dump_exact(json{{"pos", body["pos"]}, {"rows", body.value("snapshot", json::object())}});
            }
            done(std::move(a));
        };
        m.polls[token] = s;
        m.begin(m.topics.at(topic), *s);
    } catch (const protocol_error& e) {
        int status = e.code == error_code::forbidden ? 403 : e.code == error_code::unknown_topic ? 404 : 400;
        done(error_answer(status, e.code, e.what()));
        return;
    }
    m.flush_polls();
}

uint64_t hub::poll(const poll_request& req, std::function<void(poll_answer)> done) {
    auto& m = *impl_;
    subscribe_request sr;
    sr.topic = req.topic;
    sr.filter = req.filter;
    sr.since = req.since;
    uint64_t token = 0;
    try {
        if (is_channel(req.topic) && !m.attached.count(req.topic))
            throw protocol_error(error_code::unknown_topic, "no attached table " + req.topic);
        auto s = m.make_subscription(0, req.who, sr);
        token = m.next_poll++;
        s->poll_done = std::move(done);
        s->poll_pos = req.since.value_or(0);
        m.polls[token] = s;
        m.begin(m.topics.at(req.topic), *s);
    } catch (const protocol_error& e) {
        int status = e.code == error_code::forbidden ? 403 : e.code == error_code::unknown_topic ? 404 : 400;
        done(error_answer(status, e.code, e.what()));
        return 0;
    }
    m.flush_polls();
    return token;
}

void hub::cancel_poll(uint64_t token) {
    auto& m = *impl_;
    auto it = m.polls.find(token);
    if (it == m.polls.end()) return;
    auto s = it->second;
    m.polls.erase(it);
    m.detach_subscription(*s);
    json body = {{"topic", s->topic}, {"pos", std::to_string(std::max(s->poll_pos, s->min_position))},
                 {"patches", json::array()}};
    s->poll_done(poll_answer{200, body.dump()});
}

}  // namespace pglive
