// ws_frame_head_test.cpp — the WebSocket text header at each length encoding's edges (RFC 6455 §5.2).
#include <gtest/gtest.h>

#include <vector>

#include "net/ws_frame_head.h"

namespace pglive {
namespace {

std::vector<int> bytes_of(size_t payload) {
    auto h = text_frame_head(payload);
    return std::vector<int>(h.bytes, h.bytes + h.len);
}

TEST(ws_frame_head, seven_bit_lengths_up_to_125) {
    EXPECT_EQ(bytes_of(0), (std::vector<int>{0x81, 0x00}));
    EXPECT_EQ(bytes_of(5), (std::vector<int>{0x81, 0x05}));  // RFC 6455 §5.7 "Hello"
    EXPECT_EQ(bytes_of(125), (std::vector<int>{0x81, 0x7d}));
}

TEST(ws_frame_head, sixteen_bit_lengths_from_126_to_65535) {
    EXPECT_EQ(bytes_of(126), (std::vector<int>{0x81, 0x7e, 0x00, 0x7e}));
    EXPECT_EQ(bytes_of(256), (std::vector<int>{0x81, 0x7e, 0x01, 0x00}));  // RFC 6455 §5.7
    EXPECT_EQ(bytes_of(65535), (std::vector<int>{0x81, 0x7e, 0xff, 0xff}));
}

TEST(ws_frame_head, sixty_four_bit_lengths_from_65536) {
    EXPECT_EQ(bytes_of(65536), (std::vector<int>{0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));  // RFC 6455 §5.7
    EXPECT_EQ(bytes_of(size_t(0x0102030405)), (std::vector<int>{0x81, 0x7f, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05}));
}

}  // namespace
}  // namespace pglive
