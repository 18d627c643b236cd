package streamquant

/*
#include <stdlib.h>
#include "streamquant/streamquant.h"
*/
import "C"

import (
	"encoding/binary"
	"math"
	"runtime"
	"unsafe"
)

// QuantizedLayer is the result of QuantizeLayer; tensors are read by name (see sq_layer.h).
type QuantizedLayer struct{ p *C.sq_quantized_layer }

// QuantizeLayer quantizes w [rows, cols] (row-major) with the Hessian h [cols, cols] (nil for RTN).
// ctx may be nil (CPU, all threads).
func QuantizeLayer(ctx *Context, w []float32, rows, cols int, h []float32, options map[string]string) (*QuantizedLayer, error) {
	if len(w) != rows*cols || (h != nil && len(h) != cols*cols) {
		return nil, &Error{ErrInvalidArgument, "W must hold rows*cols floats and H cols*cols"}
	}
	var opts *C.sq_layer_options
	if err := check(C.sq_layer_options_create(&opts)); err != nil {
		return nil, err
	}
	defer C.sq_layer_options_free(opts)
	for k, v := range options {
		ck, cv := C.CString(k), C.CString(v)
		err := check(C.sq_layer_options_set(opts, ck, cv))
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
		if err != nil {
			return nil, err
		}
	}
	var cctx *C.sq_context
	if ctx != nil {
		cctx = ctx.p
	}
	var hp *C.float
	if h != nil {
		hp = (*C.float)(&h[0])
	}
	var p *C.sq_quantized_layer
	if err := check(C.sq_quantize_layer(&p, cctx, (*C.float)(&w[0]), C.size_t(rows), C.size_t(cols), hp, opts)); err != nil {
		return nil, err
	}
	l := &QuantizedLayer{p}
	runtime.SetFinalizer(l, (*QuantizedLayer).Close)
	return l, nil
}

// Close frees the layer.
func (l *QuantizedLayer) Close() {
	if l.p != nil {
		C.sq_quantized_layer_free(l.p)
		l.p = nil
	}
}

// Int reads an integer property ("rows", "cols", "bits", "group_size", "n_groups", "sym", "grid").
func (l *QuantizedLayer) Int(key string) (int64, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	var v C.int64_t
	err := check(C.sq_quantized_layer_get_int(&v, l.p, ck))
	return int64(v), err
}

// Bytes reads tensor `name` as (dtype, little-endian bytes).
func (l *QuantizedLayer) Bytes(name string) (int32, []byte, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var dtype C.int32_t
	var count C.size_t
	if err := check(C.sq_quantized_layer_tensor_info(&dtype, &count, l.p, cn)); err != nil {
		return 0, nil, err
	}
	size := 1
	switch dtype {
	case DTypeF32, DTypeI32:
		size = 4
	case DTypeF16, DTypeBF16:
		size = 2
	}
	out := make([]byte, int(count)*size)
	if len(out) == 0 {
		return int32(dtype), out, nil
	}
	err := check(C.sq_quantized_layer_read(unsafe.Pointer(&out[0]), C.size_t(len(out)), l.p, cn))
	return int32(dtype), out, err
}

// F32 reads an F32 tensor (dequant, scales, zeros, lut).
func (l *QuantizedLayer) F32(name string) ([]float32, error) {
	_, b, err := l.Bytes(name)
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, err
}

// I32 reads an I32 tensor (g_idx, perm, qweight, qzeros).
func (l *QuantizedLayer) I32(name string) ([]int32, error) {
	_, b, err := l.Bytes(name)
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, err
}
