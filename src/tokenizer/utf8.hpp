// UTF-8 helpers for the tokenizer: lossy validation (the policy for invalid input) and code point stepping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sq::tok {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are not a valid sequence.
size_t utf8_valid_len(std::string_view s, size_t i);

// True when the whole string is valid UTF-8.
bool utf8_is_valid(std::string_view s);

// Replace every invalid sequence with U+FFFD, one per maximal invalid subpart (Unicode's recommended
// practice, the same as Rust's String::from_utf8_lossy and Python's errors="replace").
std::string utf8_lossy(std::string_view s);

// Decode the code point at s[i] (s must be valid UTF-8 there) and advance i past it.
char32_t utf8_next(std::string_view s, size_t& i);

// Append the UTF-8 encoding of cp.
void utf8_append(std::string& out, char32_t cp);

// Byte length of the character starting with lead byte b (1 for continuation/invalid bytes).
inline size_t utf8_char_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}

}  // namespace sq::tok
