/*
 * streamquant C API: Hugging Face tokenizer.json encode/decode.
 *
 * A tokenizer.json with a BPE model (byte-level like GPT-2 / Llama-3 / Qwen, or SentencePiece-style with byte
 * fallback like Llama-2) gives the same ids as the Python `tokenizers` library.
 *
 * Text is UTF-8. Invalid UTF-8 input is not an error: each invalid sequence is replaced by U+FFFD first
 * (one per maximal invalid subpart, like Python's bytes.decode("utf-8", "replace")) and then encoded.
 *
 * Buffers follow one pattern: the call always reports the full size through the count/length out-parameter;
 * the output is written only when it fits in `capacity`. Pass NULL (and capacity 0) to ask for the size,
 * then call again with a buffer that large; or pass a generous buffer first and check the count.
 *
 * A tokenizer may be used from several threads at once.
 */
#ifndef STREAMQUANT_SQ_TOKENIZER_H
#define STREAMQUANT_SQ_TOKENIZER_H

#include "sq_core.h"
#include "sq_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_tokenizer sq_tokenizer;

/** Open a tokenizer.json file (a zstd-compressed one when the name ends in ".zst"). */
SQ_API sq_error *sq_tokenizer_open(sq_tokenizer **out, const char *path_utf8);
/** Parse tokenizer.json text of `len` bytes. */
SQ_API sq_error *sq_tokenizer_open_json(sq_tokenizer **out, const char *json, size_t len);
/** Release a tokenizer. Accepts NULL. */
/** The tokenizer of an opened model (its tokenizer.json, or the one rebuilt from GGUF metadata);
 * SQ_ERR_NOT_FOUND when the model has none. The tokenizer does not depend on the model afterwards. */
SQ_API sq_error *sq_tokenizer_from_model(sq_tokenizer **out, const sq_model *model);

SQ_API void sq_tokenizer_free(sq_tokenizer *tok);

/**
 * Encode `len` bytes of UTF-8 text. add_special = 1 adds what the tokenizer's post-processor adds
 * (e.g. BOS for Llama-2); 0 adds nothing. `*count_out` receives the number of ids; when it is at most
 * `capacity` the ids are written to `ids`, otherwise nothing is written (`ids` may be NULL when capacity is 0).
 */
SQ_API sq_error *sq_tokenizer_encode(const sq_tokenizer *tok, const char *text, size_t len, int32_t add_special,
                                     int32_t *ids, size_t capacity, size_t *count_out);

/**
 * Decode `count` ids to UTF-8 text. skip_special = 1 leaves special tokens out. `*len_out` receives the text
 * length in bytes (without terminator); when len + 1 <= capacity the text and a terminating NUL are written
 * to `text`, otherwise nothing is written. An id outside the vocabulary is SQ_ERR_INVALID_ARGUMENT.
 */
SQ_API sq_error *sq_tokenizer_decode(const sq_tokenizer *tok, const int32_t *ids, size_t count, int32_t skip_special,
                                     char *text, size_t capacity, size_t *len_out);

/** Number of ids the tokenizer can produce: largest id of the vocabulary or the added tokens, plus one. */
SQ_API size_t sq_tokenizer_vocab_size(const sq_tokenizer *tok);

/** The id of a token string (added tokens included); SQ_ERR_NOT_FOUND when there is none. */
SQ_API sq_error *sq_tokenizer_token_to_id(const sq_tokenizer *tok, const char *token, int32_t *id_out);

/**
 * The token string of an id (as stored in the vocabulary, e.g. "Ġthe" or "▁the"), owned by the tokenizer;
 * `*special_out` (may be NULL) receives 1 for special added tokens, else 0. SQ_ERR_NOT_FOUND for unknown ids.
 */
SQ_API sq_error *sq_tokenizer_id_to_token(const sq_tokenizer *tok, int32_t id, const char **token_out,
                                          int32_t *special_out);

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_TOKENIZER_H */
