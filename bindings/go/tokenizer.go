package streamquant

/*
#include <stdlib.h>
#include "streamquant/streamquant.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Tokenizer is a Hugging Face tokenizer.json (BPE) tokenizer.
type Tokenizer struct{ p *C.sq_tokenizer }

func newTokenizer(p *C.sq_tokenizer) *Tokenizer {
	t := &Tokenizer{p}
	runtime.SetFinalizer(t, (*Tokenizer).Close)
	return t
}

// OpenTokenizer opens a tokenizer.json (or .json.zst) file.
func OpenTokenizer(path string) (*Tokenizer, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var p *C.sq_tokenizer
	if err := check(C.sq_tokenizer_open(&p, cp)); err != nil {
		return nil, err
	}
	return newTokenizer(p), nil
}

// TokenizerFromModel is the tokenizer of an opened model.
func TokenizerFromModel(m *Model) (*Tokenizer, error) {
	var p *C.sq_tokenizer
	if err := check(C.sq_tokenizer_from_model(&p, m.p)); err != nil {
		return nil, err
	}
	return newTokenizer(p), nil
}

// Close frees the tokenizer.
func (t *Tokenizer) Close() {
	if t.p != nil {
		C.sq_tokenizer_free(t.p)
		t.p = nil
	}
}

// Encode tokenizes UTF-8 text.
func (t *Tokenizer) Encode(text string, addSpecial bool) ([]int32, error) {
	ct := C.CString(text)
	defer C.free(unsafe.Pointer(ct))
	special := C.int32_t(0)
	if addSpecial {
		special = 1
	}
	var count C.size_t
	if err := check(C.sq_tokenizer_encode(t.p, ct, C.size_t(len(text)), special, nil, 0, &count)); err != nil {
		return nil, err
	}
	ids := make([]int32, int(count))
	if count == 0 {
		return ids, nil
	}
	err := check(C.sq_tokenizer_encode(t.p, ct, C.size_t(len(text)), special, (*C.int32_t)(&ids[0]), count, &count))
	return ids, err
}

// Decode turns ids back into text.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	skip := C.int32_t(0)
	if skipSpecial {
		skip = 1
	}
	var n C.size_t
	idp := (*C.int32_t)(&ids[0])
	if err := check(C.sq_tokenizer_decode(t.p, idp, C.size_t(len(ids)), skip, nil, 0, &n)); err != nil {
		return "", err
	}
	buf := (*C.char)(C.malloc(n + 1))
	defer C.free(unsafe.Pointer(buf))
	if err := check(C.sq_tokenizer_decode(t.p, idp, C.size_t(len(ids)), skip, buf, n+1, &n)); err != nil {
		return "", err
	}
	return C.GoStringN(buf, C.int(n)), nil
}
