/* Tokenizer C API through the shared library: open, encode (two-call sizing), decode, lookups, errors. */
#include <stdio.h>
#include <string.h>

#include "streamquant/streamquant.h"

#include "check.h"

/* Byte-level BPE over "hello world": Ġ (U+0120) marks a space. */
static const char *kJson =
    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"h\": 0, \"e\": 1, \"l\": 2, \"o\": 3, \"\\u0120\": 4, \"w\": 5,"
    " \"r\": 6, \"d\": 7, \"he\": 8, \"ll\": 9, \"hell\": 10, \"hello\": 11, \"\\u0120w\": 12, \"or\": 13,"
    " \"\\u0120wor\": 14, \"\\u0120world\": 15, \"ld\": 16, \"\\u00c3\": 17, \"\\u00a9\": 18},"
    " \"merges\": [\"h e\", \"l l\", \"he ll\", \"hell o\", \"\\u0120 w\", \"o r\", \"\\u0120w or\", \"l d\","
    " \"\\u0120wor ld\"]},"
    " \"added_tokens\": [{\"id\": 19, \"content\": \"<|bos|>\", \"special\": true}],"
    " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
    " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<|bos|>\"}},"
    " {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<|bos|>\": {\"id\": \"<|bos|>\", \"ids\": [19]}}},"
    " \"decoder\": {\"type\": \"ByteLevel\"}}";

int main(void) {
  sq_tokenizer *tok = NULL;
  sq_error *err;
  int32_t ids[16];
  size_t count = 0, len = 0;
  char text[64];
  const char *token = NULL;
  int32_t id = -1, special = -1;

  sq_tokenizer_free(NULL);
  CHECK(sq_tokenizer_vocab_size(NULL) == 0);

  err = sq_tokenizer_open(&tok, "/nonexistent/tokenizer.json");
  CHECK(sq_error_code(err) == SQ_ERR_IO);
  CHECK(strstr(sq_error_message(err), "/nonexistent/tokenizer.json") != NULL);
  CHECK(tok == NULL);
  sq_error_free(err);

  err = sq_tokenizer_open_json(&tok, "{\"model\": 5}", 12);
  CHECK(sq_error_code(err) == SQ_ERR_FORMAT);
  CHECK(strstr(sq_error_message(err), "model") != NULL);
  sq_error_free(err);

  err = sq_tokenizer_open_json(&tok, kJson, strlen(kJson));
  CHECK(err == NULL);
  sq_error_free(err);
  if (!tok) return 1;
  CHECK(sq_tokenizer_vocab_size(tok) == 20);

  /* Sizing call, then the real one. */
  CHECK(sq_tokenizer_encode(tok, "hello world", 11, 0, NULL, 0, &count) == NULL);
  CHECK(count == 2);
  CHECK(sq_tokenizer_encode(tok, "hello world", 11, 0, ids, 16, &count) == NULL);
  CHECK(count == 2 && ids[0] == 11 && ids[1] == 15);
  /* Too small a buffer: the count comes back and nothing is written. */
  ids[0] = -7;
  CHECK(sq_tokenizer_encode(tok, "hello world", 11, 1, ids, 2, &count) == NULL);
  CHECK(count == 3 && ids[0] == -7);
  CHECK(sq_tokenizer_encode(tok, "hello world", 11, 1, ids, 3, &count) == NULL);
  CHECK(count == 3 && ids[0] == 19 && ids[1] == 11);
  /* An empty text. */
  CHECK(sq_tokenizer_encode(tok, NULL, 0, 0, NULL, 0, &count) == NULL);
  CHECK(count == 0);
  /* Invalid UTF-8 becomes U+FFFD (bytes EF BF BD, none of which is in this vocabulary: dropped). */
  CHECK(sq_tokenizer_encode(tok, "he\xff", 3, 0, ids, 16, &count) == NULL);
  CHECK(count == 1 && ids[0] == 8);

  err = sq_tokenizer_encode(tok, "x", 1, 2, ids, 16, &count);
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  sq_error_free(err);
  err = sq_tokenizer_encode(tok, "x", 1, 0, NULL, 4, &count);
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(strstr(sq_error_message(err), "ids") != NULL);
  sq_error_free(err);

  /* Decode, with and without special tokens; a too-small buffer is left alone. */
  ids[0] = 19, ids[1] = 11, ids[2] = 15, ids[3] = 17, ids[4] = 18;
  CHECK(sq_tokenizer_decode(tok, ids, 3, 0, text, sizeof text, &len) == NULL);
  CHECK(len == strlen("<|bos|>hello world") && strcmp(text, "<|bos|>hello world") == 0);
  CHECK(sq_tokenizer_decode(tok, ids, 3, 1, text, sizeof text, &len) == NULL);
  CHECK(strcmp(text, "hello world") == 0);
  CHECK(sq_tokenizer_decode(tok, ids + 3, 2, 1, text, sizeof text, &len) == NULL);
  CHECK(strcmp(text, "\xC3\xA9") == 0); /* two byte characters make "é" */
  text[0] = 'Z';
  CHECK(sq_tokenizer_decode(tok, ids, 3, 1, text, 5, &len) == NULL);
  CHECK(len == 11 && text[0] == 'Z');
  ids[0] = 4242;
  err = sq_tokenizer_decode(tok, ids, 1, 0, text, sizeof text, &len);
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(strstr(sq_error_message(err), "4242") != NULL);
  sq_error_free(err);

  /* Lookups. */
  CHECK(sq_tokenizer_token_to_id(tok, "hello", &id) == NULL && id == 11);
  CHECK(sq_tokenizer_token_to_id(tok, "<|bos|>", &id) == NULL && id == 19);
  err = sq_tokenizer_token_to_id(tok, "nope", &id);
  CHECK(sq_error_code(err) == SQ_ERR_NOT_FOUND);
  sq_error_free(err);
  CHECK(sq_tokenizer_id_to_token(tok, 15, &token, &special) == NULL);
  CHECK(strcmp(token, "\xC4\xA0world") == 0 && special == 0);
  CHECK(sq_tokenizer_id_to_token(tok, 19, &token, &special) == NULL && special == 1);
  err = sq_tokenizer_id_to_token(tok, -1, &token, NULL);
  CHECK(sq_error_code(err) == SQ_ERR_NOT_FOUND);
  sq_error_free(err);

  sq_tokenizer_free(tok);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("test_tokenizer: all checks passed\n");
  return failures ? 1 : 0;
}
