#include <cmath>
#include <cstdint>

#include <gtest/gtest.h>

#include "util/half.hpp"

namespace {

// Every finite fp16 value converts to float and back unchanged.
TEST(Half, AllFp16ValuesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = sq::half_to_float(uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(sq::float_to_half(f), uint16_t(h)) << "fp16 bits " << h;
  }
}

// Rounding to nearest, ties to even, including the subnormal range and overflow.
TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(sq::float_to_half(1.0f + 1.0f / 2048.0f), 0x3c00);  // exact tie -> even (down)
  EXPECT_EQ(sq::float_to_half(1.0f + 3.0f / 2048.0f), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(sq::float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(sq::float_to_half(65520.0f), 0x7c00);               // rounds to +Inf
  EXPECT_EQ(sq::float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(sq::float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (zero)
  EXPECT_EQ(sq::float_to_half(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp -> 2
  EXPECT_EQ(sq::float_to_half(-0.0f), 0x8000);
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(sq::float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(sq::bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(sq::float_to_bf16(sq::bits_to_float(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(sq::float_to_bf16(sq::bits_to_float(0x3f818000u)), 0x3f82);  // tie -> even (up)
}

}  // namespace
