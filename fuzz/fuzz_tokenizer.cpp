// libFuzzer target: tokenizer.json text. A tokenizer that loads must also encode and decode without
// failing on ordinary text, including added tokens and bytes that are not valid UTF-8.
#include <string_view>

#include "fuzz/fuzz_common.hpp"
#include "tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sqfuzz::expect_only_sq_errors("tokenizer", [&] {
    const auto tok = sq::tok::Tokenizer::from_json(text, "tokenizer 'fuzz input'");
    static const char* const samples[] = {"Hello world, it's 2026!  \n\tTabs\u00e9 \xf0\x9f\x98\x80",
                                          "<|endoftext|>x<s></s> <unk>", "\xff\xfe broken \xc3"};
    for (const char* s : samples) {
      for (bool special : {false, true}) {
        const auto ids = tok->encode(s, special);
        tok->decode(ids, !special);
      }
    }
    for (int32_t id = 0; id < 64 && size_t(id) < tok->vocab_size(); ++id) {
      tok->id_to_token(id);
      tok->is_special(id);
    }
  });
  return 0;
}
