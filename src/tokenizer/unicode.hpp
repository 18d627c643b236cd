// Unicode character properties and normalization forms, backed by ICU.
#pragma once
#include <string>
#include <string_view>

namespace sq::tok {

// Rust's char::is_whitespace (the White_Space property).
bool is_whitespace(char32_t cp);
// Rust's char::is_alphanumeric (Alphabetic or a numeric general category).
bool is_alphanumeric(char32_t cp);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// Normalize valid UTF-8 text.
std::string unicode_normalize(std::string_view text, NormalForm form);

}  // namespace sq::tok
