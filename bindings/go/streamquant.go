// Package streamquant binds libstreamquant's C ABI with cgo.
//
// Every object (Context, Model, Job, Tokenizer, QuantizedLayer) is freed by Close, or by a finalizer
// when forgotten. Errors come from the sq_error values the C calls return, as *Error{Code, Message}.
// The compiler finds the header in this repository's include/; point the linker at the library with
// CGO_LDFLAGS="-L<build>/lib -Wl,-rpath,<build>/lib" (or install it where the system linker looks).
package streamquant

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -lstreamquant
#include <stdlib.h>
#include "streamquant/streamquant.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Pinned error codes (SQ_ERR_* in sq_core.h).
const (
	OK                 = 0
	ErrInvalidArgument = 1
	ErrIO              = 2
	ErrFormat          = 3
	ErrUnsupported     = 4
	ErrOutOfMemory     = 5
	ErrNumeric         = 6
	ErrCancelled       = 7
	ErrNotFound        = 8
	ErrDevice          = 9
	ErrState           = 10
	ErrInternal        = 99
)

// Storage types (SQ_DTYPE_*).
const (
	DTypeF32  = 0
	DTypeF16  = 1
	DTypeBF16 = 2
	DTypeI32  = 3
	DTypeI8   = 4
	DTypeU8   = 5
)

// MaxDims is SQ_MAX_DIMS.
const MaxDims = 8

// Error is an error returned by the library: the pinned code and its message.
type Error struct {
	Code    int32
	Message string
}

func (e *Error) Error() string { return CodeName(e.Code) + ": " + e.Message }

// CodeName is the stable name of a code, e.g. "SQ_ERR_IO".
func CodeName(code int32) string { return C.GoString(C.sq_error_code_name(C.int32_t(code))) }

// check converts a returned sq_error* into a Go error and frees it.
func check(err *C.sq_error) error {
	if err == nil {
		return nil
	}
	defer C.sq_error_free(err)
	return &Error{Code: int32(C.sq_error_code(err)), Message: C.GoString(C.sq_error_message(err))}
}

// Version is the runtime library version, "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.sq_version()) }

// VersionNumber is MAJOR*10000 + MINOR*100 + PATCH.
func VersionNumber() uint32 { return uint32(C.sq_version_number()) }

// DTypeName is the short name of a dtype ("F32", "BF16", ...).
func DTypeName(dtype int32) string { return C.GoString(C.sq_dtype_name(C.int32_t(dtype))) }

// cSizes are the widths cgo sees for the types this package passes (compared with the header's by the tests).
func cSizes() map[string]uintptr {
	var fn C.sq_progress_fn
	var sink C.sq_tensor_sink_fn
	var logfn C.sq_log_fn
	return map[string]uintptr{
		"sizeof_size_t": unsafe.Sizeof(C.size_t(0)), "sizeof_pointer": unsafe.Sizeof(unsafe.Pointer(nil)),
		"sizeof_int32_t": unsafe.Sizeof(C.int32_t(0)), "sizeof_int64_t": unsafe.Sizeof(C.int64_t(0)),
		"sizeof_double": unsafe.Sizeof(C.double(0)), "sizeof_sq_progress_fn": unsafe.Sizeof(fn),
		"sizeof_sq_tensor_sink_fn": unsafe.Sizeof(sink), "sizeof_sq_log_fn": unsafe.Sizeof(logfn),
	}
}

// Context says where work runs ("cpu" or "cuda:N").
type Context struct{ p *C.sq_context }

// NewContext creates a context on `device` ("cpu" when empty).
func NewContext(device string) (*Context, error) {
	if device == "" {
		device = "cpu"
	}
	cdev := C.CString(device)
	defer C.free(unsafe.Pointer(cdev))
	var p *C.sq_context
	if err := check(C.sq_context_create(&p, cdev)); err != nil {
		return nil, err
	}
	c := &Context{p}
	runtime.SetFinalizer(c, (*Context).Close)
	return c, nil
}

// Close frees the context; models opened on it must be closed first.
func (c *Context) Close() {
	if c.p != nil {
		C.sq_context_free(c.p)
		c.p = nil
	}
}

// SetThreads sets the worker threads (0 = all).
func (c *Context) SetThreads(n int) error { return check(C.sq_context_set_threads(c.p, C.int32_t(n))) }

// Device is the device string, e.g. "cpu".
func (c *Context) Device() string { return C.GoString(C.sq_context_device(c.p)) }

// TensorInfo describes one model tensor.
type TensorInfo struct {
	Name  string
	DType int32
	Shape []int64
}

// Numel is the element count.
func (t TensorInfo) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= int(d)
	}
	return n
}

// Model is an opened model; it keeps its context alive.
type Model struct {
	p   *C.sq_model
	ctx *Context
}

// OpenModel opens a Hugging Face directory, .safetensors, .gguf, or a quantized output.
func OpenModel(ctx *Context, path string) (*Model, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var p *C.sq_model
	if err := check(C.sq_model_open(&p, ctx.p, cpath)); err != nil {
		return nil, err
	}
	m := &Model{p, ctx}
	runtime.SetFinalizer(m, (*Model).Close)
	return m, nil
}

// Close frees the model.
func (m *Model) Close() {
	if m.p != nil {
		C.sq_model_free(m.p)
		m.p = nil
	}
}

// Tensors lists every tensor.
func (m *Model) Tensors() ([]TensorInfo, error) {
	n := int(C.sq_model_tensor_count(m.p))
	out := make([]TensorInfo, 0, n)
	for i := 0; i < n; i++ {
		t, err := m.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (m *Model) tensorInfo(i int) (TensorInfo, error) {
	var name *C.char
	var dtype, ndim C.int32_t
	var dims [MaxDims]C.int64_t
	if err := check(C.sq_model_tensor_info(m.p, C.size_t(i), &name, &dtype, &ndim, &dims[0])); err != nil {
		return TensorInfo{}, err
	}
	shape := make([]int64, int(ndim))
	for d := range shape {
		shape[d] = int64(dims[d])
	}
	return TensorInfo{C.GoString(name), int32(dtype), shape}, nil
}

// FindTensor describes tensor `name`.
func (m *Model) FindTensor(name string) (TensorInfo, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var index C.size_t
	if err := check(C.sq_model_find_tensor(m.p, cname, &index)); err != nil {
		return TensorInfo{}, err
	}
	return m.tensorInfo(int(index))
}

// ReadF32 reads tensor `name` as float32 (row-major).
func (m *Model) ReadF32(name string) ([]float32, error) {
	info, err := m.FindTensor(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, info.Numel())
	if len(out) == 0 {
		return out, nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	err = check(C.sq_model_read_tensor_f32(m.p, cname, (*C.float)(&out[0]), C.size_t(len(out))))
	return out, err
}

// DescribeJSON is the library's JSON description of the model.
func (m *Model) DescribeJSON() string { return C.GoString(C.sq_model_describe_json(m.p)) }

// Perplexity over non-overlapping windows of seqLen tokens (see sq_eval.h).
func (m *Model) Perplexity(tokens []int32, seqLen, maxTokens int) (float64, error) {
	if len(tokens) == 0 {
		return 0, &Error{ErrInvalidArgument, "perplexity needs tokens"}
	}
	var ppl C.double
	err := check(C.sq_model_perplexity(m.p, (*C.int32_t)(&tokens[0]), C.size_t(len(tokens)), C.size_t(seqLen),
		C.size_t(maxTokens), &ppl, nil))
	return float64(ppl), err
}

// Is lets errors.Is(err, &Error{Code: ErrCancelled}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
