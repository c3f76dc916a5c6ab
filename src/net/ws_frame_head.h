// ws_frame_head.h — the header of a server→client WebSocket text message (RFC 6455 §5.2): FIN, text opcode, unmasked, 7/16/64-bit length.
//
// ws_session frames its data messages itself and writes them all in one gathered write
// (write_combiner.h); this is the only place their header bytes are made. Pure: unit-tested.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pglive {

struct ws_frame_head {
    unsigned char bytes[10];
    unsigned char len;  // 2, 4 or 10
};

inline ws_frame_head text_frame_head(size_t payload) {
    ws_frame_head h{};
    h.bytes[0] = 0x81;  // FIN, text
    if (payload < 126) {
        h.bytes[1] = static_cast<unsigned char>(payload);
        h.len = 2;
    } else if (payload < 65536) {
        h.bytes[1] = 126;
        h.bytes[2] = static_cast<unsigned char>(payload >> 8);
        h.bytes[3] = static_cast<unsigned char>(payload);
        h.len = 4;
    } else {
        h.bytes[1] = 127;
        for (int i = 0; i < 8; ++i) h.bytes[2 + i] = static_cast<unsigned char>(uint64_t(payload) >> (56 - 8 * i));
        h.len = 10;
    }
    return h;
}

}  // namespace pglive
