// fuzz/ws_message.cpp — one WebSocket text frame through parse_client_request, then the
// replies ws_session builds from it. Only protocol_error may leave the parser; the replies
// (error_message, subscribed_message, …) never throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "core/protocol.h"

using namespace pglive;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    client_request req;
    try {
        req = parse_client_request(text);
    } catch (const protocol_error& e) {
        // ws_session: reply(error_message(e.ref, e.code, e.what())). The message may quote
        // the client's bytes.
        std::string reply = error_message(e.ref, e.code, e.what());
        if (!json::accept(reply)) std::abort();
        return 0;
    }
    if (auto* s = std::get_if<subscribe_request>(&req)) {
        if (s->topic.empty() || s->sub.empty()) std::abort();
        if (s->limit && (*s->limit <= 0 || *s->limit > 100000)) std::abort();
        if (s->since && *s->since < 0) std::abort();
        // A topic the server knows answers subscribed; one it does not, unknown_topic; a bad
        // filter, bad_filter quoting the expression.
        std::string ok = subscribed_message(s->ref, s->sub, s->topic, {"id"}, {"id", "status", "amount"});
        std::string unknown = error_message(s->ref, error_code::unknown_topic, "no topic '" + s->topic + "'");
        std::string filt;
        for (auto& f : s->filter) filt += f + "&";
        std::string badf = error_message(s->ref, error_code::bad_filter, "filter '" + filt + "' order '" + s->order + "'");
        if (!json::accept(ok) || !json::accept(unknown) || !json::accept(badf)) std::abort();
    } else if (auto* u = std::get_if<unsubscribe_request>(&req)) {
        if (u->sub.empty()) std::abort();
        (void)unsubscribed_message(u->ref, u->sub);
    } else if (auto* a = std::get_if<auth_request>(&req)) {
        (void)error_message(a->ref, error_code::unauthorized, "bad token '" + a->token + "'");
    } else if (auto* p = std::get_if<ping_request>(&req)) {
        (void)pong_message(p->ref);
    }
    return 0;
}
