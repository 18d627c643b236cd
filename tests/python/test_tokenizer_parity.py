"""Parity of `streamquant tokenize` with the Python `tokenizers` library on real tokenizer.json files.

Whole corpora (Moby-Dick, the held-out State of the Union text) and hand-picked edge cases must give
identical ids, with and without special tokens; decoding must round-trip wherever `tokenizers` does.
"""
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from conftest import CLI, LIB, SHARED_DIR, run_cli

tokenizers = pytest.importorskip("tokenizers", reason="the `tokenizers` package is needed as the reference")

TOKENIZER_NAMES = ["llama2", "llama3", "qwen3"]
CORPORA = ["moby-dick", "sotu-test"]


def _decompress(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    if not dst.exists():
        try:
            import zstandard

            dst.write_bytes(zstandard.ZstdDecompressor().decompressobj().decompress(src.read_bytes()))
        except ImportError:
            if shutil.which("zstd") is None:
                pytest.skip("neither the zstandard package nor the zstd program is available")
            subprocess.run(["zstd", "-q", "-d", "-f", str(src), "-o", str(dst)], check=True)
    return dst


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tokenizer")


def _tokenizer_paths():
    params = [pytest.param((name, SHARED_DIR / "data" / "tokenizers" / name / "tokenizer.json.zst"), id=name)
              for name in TOKENIZER_NAMES]
    smol = os.environ.get("SQ_SMOLLM2_TOKENIZER")
    if smol:
        params.append(pytest.param(("smollm2", pathlib.Path(smol)), id="smollm2"))
    return params


@pytest.fixture(scope="session", params=_tokenizer_paths())
def tok(request, work_dir):
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    name, path = request.param
    if not path.exists():
        pytest.skip(f"tokenizer {path} is absent")
    plain = _decompress(path, work_dir / f"{name}.tokenizer.json") if path.suffix == ".zst" else path
    return name, plain, tokenizers.Tokenizer.from_file(str(plain))


class _LibTokenizer:
    """The C API through ctypes: one load per tokenizer keeps hundreds of edge cases fast."""

    def __init__(self, path):
        import ctypes as C

        self.C = C
        lib = C.CDLL(str(LIB))
        lib.sq_tokenizer_open.restype = C.c_void_p
        lib.sq_tokenizer_open.argtypes = [C.POINTER(C.c_void_p), C.c_char_p]
        lib.sq_tokenizer_encode.restype = C.c_void_p
        lib.sq_tokenizer_encode.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t, C.c_int32,
                                            C.POINTER(C.c_int32), C.c_size_t, C.POINTER(C.c_size_t)]
        lib.sq_tokenizer_decode.restype = C.c_void_p
        lib.sq_tokenizer_decode.argtypes = [C.c_void_p, C.POINTER(C.c_int32), C.c_size_t, C.c_int32,
                                            C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)]
        lib.sq_tokenizer_free.argtypes = [C.c_void_p]
        lib.sq_error_message.restype = C.c_char_p
        lib.sq_error_message.argtypes = [C.c_void_p]
        lib.sq_error_free.argtypes = [C.c_void_p]
        self.lib = lib
        self.handle = C.c_void_p()
        self._check(lib.sq_tokenizer_open(C.byref(self.handle), str(path).encode()))

    def _check(self, err):
        if err:
            msg = self.lib.sq_error_message(err).decode()
            self.lib.sq_error_free(err)
            raise AssertionError(msg)

    def encode(self, data: bytes, add_special: bool):
        C = self.C
        count = C.c_size_t()
        self._check(self.lib.sq_tokenizer_encode(self.handle, data, len(data), int(add_special), None, 0,
                                                 C.byref(count)))
        buf = (C.c_int32 * max(1, count.value))()
        self._check(self.lib.sq_tokenizer_encode(self.handle, data, len(data), int(add_special), buf, count.value,
                                                 C.byref(count)))
        return list(buf[:count.value])

    def decode(self, ids, skip_special: bool) -> str:
        C = self.C
        arr = (C.c_int32 * max(1, len(ids)))(*ids)
        n = C.c_size_t()
        self._check(self.lib.sq_tokenizer_decode(self.handle, arr, len(ids), int(skip_special), None, 0, C.byref(n)))
        out = C.create_string_buffer(n.value + 1)
        self._check(self.lib.sq_tokenizer_decode(self.handle, arr, len(ids), int(skip_special), out, n.value + 1,
                                                 C.byref(n)))
        return out.raw[:n.value].decode("utf-8")

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.sq_tokenizer_free(self.handle)


_LIB_CACHE = {}


@pytest.fixture
def lib_tok(tok):
    if not LIB.exists():
        pytest.skip(f"library not built at {LIB}")
    name, tok_path, ref = tok
    if name not in _LIB_CACHE:
        _LIB_CACHE[name] = _LibTokenizer(tok_path)
    return name, _LIB_CACHE[name], ref


def _ours(tok_path, text_bytes: bytes, work_dir, add_special: bool, tag: str):
    src = work_dir / f"{tag}.txt"
    out = work_dir / f"{tag}.ids"
    src.write_bytes(text_bytes)
    args = ["tokenize", "--tokenizer", tok_path, "--text", src, "--out", out]
    if add_special:
        args.append("--add-special")
    t0 = time.perf_counter()
    run_cli(*args)
    elapsed = time.perf_counter() - t0
    import array

    ids = array.array("i")
    ids.frombytes(out.read_bytes())
    return list(ids), elapsed


def _assert_same(ours, ref, ref_tokens_of, text, label):
    if ours == ref:
        return
    n = min(len(ours), len(ref))
    pos = next((i for i in range(n) if ours[i] != ref[i]), n)
    lo, hi = max(0, pos - 8), pos + 8
    raise AssertionError(
        f"{label}: ids differ at position {pos} (ours {len(ours)} ids, tokenizers {len(ref)} ids)\n"
        f"  ours:       {ours[lo:hi]}\n  tokenizers: {ref[lo:hi]}\n"
        f"  tokenizers' tokens there: {ref_tokens_of(ref[lo:hi])}\n  ours as tokens: {ref_tokens_of(ours[lo:hi])}\n"
        f"  text start: {text[:80]!r}")


def _tokens_of(ref):
    return lambda ids: [ref.id_to_token(i) for i in ids]


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("add_special", [False, True])
def test_corpus_parity(tok, corpus, add_special, work_dir):
    name, tok_path, ref = tok
    text_path = _decompress(SHARED_DIR / "data" / "text" / f"{corpus}.txt.zst", work_dir / f"{corpus}.txt")
    text = text_path.read_text(encoding="utf-8")
    t0 = time.perf_counter()
    expected = ref.encode(text, add_special_tokens=add_special).ids
    ref_s = time.perf_counter() - t0
    ours, ours_s = _ours(tok_path, text.encode("utf-8"), work_dir, add_special, f"{name}-{corpus}-{add_special}")
    print(f"\n{name} {corpus} add_special={add_special}: {len(ours)} ids; streamquant CLI {ours_s:.2f} s "
          f"(load included), tokenizers {ref_s:.2f} s")
    _assert_same(ours, expected, _tokens_of(ref), text, f"{name} {corpus}")
    assert len(ours) > len(text) // 8  # a real encoding, not a stub


EDGE_CASES = {
    "empty": "",
    "single_space": " ",
    "whitespace_runs": "a  b   c\t\t d \n\n\n  e    ",
    "only_newlines": "\n\n\n",
    "crlf": "line one\r\nline two\r\n\r\nend",
    "leading_spaces": "   leading and trailing   ",
    "emoji": "I 😀 love 👩‍👩‍👧‍👦 families 🇫🇷!",
    "cjk": "中文字符和日本語のテキスト、한국어 텍스트",
    "combining": "e\u0301 a\u0308 o\u0302\u0323 Z\u0335\u0321",
    "precomposed_vs_decomposed": "caf\u00e9 vs cafe\u0301",
    "digits": "1 12 123 1234 12345 3.14159 1,000,000 ٣٤٥ ²³",
    "contractions": "I'm you're he'll they'd it's we've DON'T I'M",
    "unicode_spaces": "a\u00a0b\u2003c\u3000d\u0085e\u2028f",
    "control_chars": "a\x00b\x1fc\x7fd",
    "punctuation": "Hello!!! ... ??? --- (x) [y] {z} <tag> @user #hash $100 %50 ^&*",
    "code": "def f(x):\n    return x ** 2  # square\n\tif x:\n\t\tpass",
    "llama3_specials": "<|begin_of_text|>Hello<|end_of_text|> <|eot_id|>x<|start_header_id|>",
    "llama2_specials": "<s>Hello</s> <s> x</s><unk>",
    "qwen_specials": "<|im_start|>user\nhi<|im_end|>\n<think>\nok\n</think>",
    "special_lookalikes": "<|begin_of_text <s > </ s> <|im_start>",
    "long_word": "a" * 10000,
    "long_mixed_word": ("xyz" * 3400)[:10000],
    "long_digits": "7" * 5000,
    "greek_cyrillic": "Ελληνικά κείμενο и русский текст",
    "arabic_hebrew": "مرحبا بالعالم שלום עולם",
    "rare_chars": "\U00010348\U0001F9EC\U000E0041 \uFFFD\uFEFF",
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("add_special", [False, True])
def test_edge_case_parity(lib_tok, case, add_special):
    name, ours_tok, ref = lib_tok
    text = EDGE_CASES[case]
    expected = ref.encode(text, add_special_tokens=add_special).ids
    ours = ours_tok.encode(text.encode("utf-8"), add_special)
    _assert_same(ours, expected, _tokens_of(ref), text, f"{name} edge case {case!r}")


@pytest.mark.parametrize("raw", [b"abc\xffdef", b"\xc3", b"x\xe2\x82 y", b"\xed\xa0\x80 surrogate",
                                 b"\xf4\x90\x80\x80 too big", b"ok \xc0\xaf overlong", b"\x80\x80\x80"])
def test_invalid_utf8_is_replaced_like_python(lib_tok, raw):
    """Invalid UTF-8 is encoded as if each invalid sequence were U+FFFD (Python's errors="replace")."""
    name, ours_tok, ref = lib_tok
    expected = ref.encode(raw.decode("utf-8", errors="replace"), add_special_tokens=False).ids
    ours = ours_tok.encode(raw, False)
    _assert_same(ours, expected, _tokens_of(ref), raw.decode("utf-8", errors="replace"), f"{name} invalid {raw!r}")


def _decode_ours(tok_path, ids, work_dir, tag, skip_special=False):
    import array

    src = work_dir / f"{tag}.ids"
    out = work_dir / f"{tag}.decoded"
    src.write_bytes(array.array("i", ids).tobytes())
    args = ["tokenize", "--tokenizer", tok_path, "--decode", src, "--out", out]
    if skip_special:
        args.append("--skip-special")
    run_cli(*args)
    return out.read_bytes().decode("utf-8")


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_decode_matches_tokenizers(lib_tok, case):
    """decode(encode(t)) equals what `tokenizers` decodes, and equals t wherever `tokenizers` round-trips."""
    name, ours_tok, ref = lib_tok
    text = EDGE_CASES[case]
    ids = ref.encode(text, add_special_tokens=True).ids
    for skip in (False, True):
        expected = ref.decode(ids, skip_special_tokens=skip)
        ours = ours_tok.decode(ids, skip)
        assert ours == expected, f"{name} {case!r} skip_special={skip}: {ours!r} != {expected!r}"
    plain = ref.encode(text, add_special_tokens=False).ids
    if ref.decode(plain, skip_special_tokens=False) == text:
        assert ours_tok.decode(plain, False) == text


def test_decode_of_invalid_byte_sequences_matches(lib_tok):
    """Byte tokens that do not form UTF-8 decode to U+FFFD exactly as `tokenizers` decodes them."""
    name, ours_tok, ref = lib_tok
    probes = [ref.token_to_id(t) for t in ("<0x80>", "<0xC3>", "<0x41>", "Ã", "ł", "a")]
    ids = [i for i in probes if i is not None]
    assert ids, f"{name}: none of the probe tokens exist"
    for seq in (ids, ids[::-1], ids[:1], ids * 3):
        assert ours_tok.decode(seq, False) == ref.decode(seq, skip_special_tokens=False)


def test_decode_corpus_round_trip(tok, work_dir):
    name, tok_path, ref = tok
    text_path = _decompress(SHARED_DIR / "data" / "text" / "sotu-test.txt.zst", work_dir / "sotu-test.txt")
    text = text_path.read_text(encoding="utf-8")
    ids = ref.encode(text, add_special_tokens=False).ids
    expected = ref.decode(ids, skip_special_tokens=False)
    ours = _decode_ours(tok_path, ids, work_dir, f"{name}-sotu-decode")
    assert ours == expected
    if expected == text:
        assert ours == text


def test_cli_errors_name_the_problem(tmp_path):
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    missing = tmp_path / "nope.json"
    proc = run_cli("tokenize", "--tokenizer", missing, "--string", "x", check=False)
    assert proc.returncode == 1 and "nope.json" in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"type": "Unigram", "vocab": []}}')
    proc = run_cli("tokenize", "--tokenizer", bad, "--string", "x", check=False)
    assert proc.returncode == 1 and "Unigram" in proc.stderr and "model.type" in proc.stderr


def test_cli_string_json_and_plain_output(tok):
    import json

    name, tok_path, ref = tok
    text = "Hello world, 1234 times!"
    for add_special in (False, True):
        args = ["tokenize", "--tokenizer", tok_path, "--string", text, "--json"] + (["--add-special"] if add_special else [])
        summary = json.loads(run_cli(*args).stdout)
        expected = ref.encode(text, add_special_tokens=add_special).ids
        assert summary["ids"] == expected and summary["count"] == len(expected)
        assert summary["bytes"] == len(text.encode("utf-8"))
    plain = run_cli("tokenize", "--tokenizer", tok_path, "--string", text).stdout.split()
    assert [int(x) for x in plain] == ref.encode(text, add_special_tokens=False).ids


def test_cli_requires_an_input(tok):
    name, tok_path, _ = tok
    proc = run_cli("tokenize", "--tokenizer", tok_path, check=False)
    assert proc.returncode != 0 and "--text" in (proc.stderr + proc.stdout)


# Variants of the shipped files with the components other releases of these tokenizers use: the official
# Llama-3 post-processor (BOS through a Sequence with TemplateProcessing), the newer Llama-2 layout (Metaspace
# pre-tokenizer and decoder instead of normalizers), and SmolLM2's digit splitting before ByteLevel.
VARIANTS = {
    "llama3-bos-template": ("llama3", {"post_processor": {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}}),
    "llama2-metaspace-first": ("llama2", {
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
        "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "\u2581",
                                                                                   "prepend_scheme": "first", "split": False}]}}),
    "llama2-metaspace-split": ("llama2", {
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}}),
    "qwen3-digits-bytelevel": ("qwen3", {
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}}),
    "qwen3-split-removed-contiguous": ("qwen3", {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "Removed", "invert": False},
            {"type": "Digits", "individual_digits": False},
            {"type": "Split", "pattern": {"Regex": "[,.]"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": False}]}}),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request, tmp_path_factory):
    import json

    if not LIB.exists():
        pytest.skip(f"library not built at {LIB}")
    base, changes = VARIANTS[request.param]
    src = SHARED_DIR / "data" / "tokenizers" / base / "tokenizer.json.zst"
    if not src.exists():
        pytest.skip(f"tokenizer {src} is absent")
    d = tmp_path_factory.mktemp(request.param)
    spec = json.loads(_decompress(src, d / "base.json").read_text(encoding="utf-8"))
    spec.update(changes)
    path = d / "tokenizer.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return request.param, _LibTokenizer(path), tokenizers.Tokenizer.from_file(str(path))


def test_variant_parity(variant, work_dir):
    name, ours_tok, ref = variant
    sotu = _decompress(SHARED_DIR / "data" / "text" / "sotu-test.txt.zst", work_dir / "sotu-test.txt")
    texts = dict(EDGE_CASES, sotu=sotu.read_text(encoding="utf-8")[:200000])
    if name == "llama3-bos-template":  # the variant really changes what the reference does
        assert ref.encode("x", add_special_tokens=True).ids[0] == 128000
    for case, text in sorted(texts.items()):
        for add_special in (False, True):
            expected = ref.encode(text, add_special_tokens=add_special).ids
            ours = ours_tok.encode(text.encode("utf-8"), add_special)
            _assert_same(ours, expected, _tokens_of(ref), text, f"{name} {case!r} add_special={add_special}")
        ids = ref.encode(text, add_special_tokens=True).ids
        for skip in (False, True):
            assert ours_tok.decode(ids, skip) == ref.decode(ids, skip_special_tokens=skip), f"{name} {case!r} decode"
