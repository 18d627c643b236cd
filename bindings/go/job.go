package streamquant

/*
#include <stdlib.h>
#include "streamquant/streamquant.h"
// Exported from this package (see below); passed to the library as its callbacks.
extern int32_t sqGoProgress(int64_t done, int64_t total, double elapsed, double eta, void *user);
extern void sqGoSink(char *name, int32_t dtype, int32_t ndim, int64_t *dims, void *data, size_t nbytes, void *user);
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// Progress after each block: blocks done, block count, seconds elapsed, estimated seconds left.
type Progress struct {
	Done, Total  int64
	Elapsed, ETA float64
}

// SinkTensor is one packed tensor; Data is a copy the callee may keep.
type SinkTensor struct {
	Name  string
	DType int32
	Shape []int64
	Data  []byte
}

type callbacks struct {
	progress func(Progress) bool
	sink     func(SinkTensor)
	panicked interface{} // a callback's panic, re-raised once the C call has returned
}

// Job quantizes a model one transformer block at a time. It keeps its model alive.
type Job struct {
	p      *C.sq_job
	model  *Model
	cb     *callbacks
	handle cgo.Handle
	user   unsafe.Pointer // C memory holding the handle: the library keeps it as user_data
}

// NewJob creates a job on an opened model.
func NewJob(model *Model) (*Job, error) {
	var p *C.sq_job
	if err := check(C.sq_job_create(&p, model.p)); err != nil {
		return nil, err
	}
	j := &Job{p: p, model: model, cb: &callbacks{}}
	j.handle = cgo.NewHandle(j.cb)
	j.user = C.malloc(C.size_t(unsafe.Sizeof(uintptr(0))))
	*(*uintptr)(j.user) = uintptr(j.handle)
	runtime.SetFinalizer(j, (*Job).Close)
	if err := check(C.sq_job_set_progress(p, C.sq_progress_fn(C.sqGoProgress), j.user)); err != nil {
		j.Close()
		return nil, err
	}
	if err := check(C.sq_job_set_tensor_sink(p, C.sq_tensor_sink_fn(C.sqGoSink), j.user)); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// Close frees the job.
func (j *Job) Close() {
	if j.p != nil {
		C.sq_job_free(j.p)
		j.p = nil
		j.handle.Delete()
		C.free(j.user)
	}
}

// SetOption sets one option (sq_job.h: method, bits, group_size, sym, act_order, damp, ...).
func (j *Job) SetOption(key string, value interface{}) error {
	ck, cv := C.CString(key), C.CString(fmt.Sprint(value))
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	return check(C.sq_job_set_option(j.p, ck, cv))
}

// SetCalibrationTokens gives the samples exactly: len(tokens)/seqLen rows of seqLen ids.
func (j *Job) SetCalibrationTokens(tokens []int32, seqLen int) error {
	if seqLen <= 0 || len(tokens) == 0 || len(tokens)%seqLen != 0 {
		return &Error{ErrInvalidArgument, fmt.Sprintf("%d calibration tokens are not rows of %d", len(tokens), seqLen)}
	}
	return check(C.sq_job_set_calibration_tokens(j.p, (*C.int32_t)(&tokens[0]), C.size_t(len(tokens)/seqLen),
		C.size_t(seqLen)))
}

// SetCalibrationFile reads calibration from a token file or UTF-8 text.
func (j *Job) SetCalibrationFile(path string) error {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return check(C.sq_job_set_calibration_file(j.p, cp))
}

// OnProgress registers fn, called after each block; returning true cancels (ErrCancelled).
func (j *Job) OnProgress(fn func(Progress) bool) { j.cb.progress = fn }

// OnTensor registers fn, called with each packed tensor as soon as its block is done.
func (j *Job) OnTensor(fn func(SinkTensor)) { j.cb.sink = fn }

func (j *Job) call(f func() *C.sq_error) error {
	err := check(f())
	if p := j.cb.panicked; p != nil {
		j.cb.panicked = nil
		panic(p)
	}
	return err
}

// Step quantizes one block; true when every block is done.
func (j *Job) Step() (bool, error) {
	var done C.int32_t
	err := j.call(func() *C.sq_error { return C.sq_job_step(j.p, &done) })
	return done != 0, err
}

// Run quantizes every remaining block.
func (j *Job) Run() error { return j.call(func() *C.sq_error { return C.sq_job_run(j.p) }) }

// Progress is (blocks done, block count).
func (j *Job) Progress() (int64, int64, error) {
	var done, count C.int64_t
	err := check(C.sq_job_progress(j.p, &done, &count))
	return int64(done), int64(count), err
}

// Write writes the finished job to outDir as "gptq", "lut" or "sq".
func (j *Job) Write(outDir, format string) error {
	cd, cf := C.CString(outDir), C.CString(format)
	defer C.free(unsafe.Pointer(cd))
	defer C.free(unsafe.Pointer(cf))
	return check(C.sq_job_write(j.p, cd, cf))
}

func callbacksOf(user unsafe.Pointer) *callbacks {
	return cgo.Handle(*(*uintptr)(user)).Value().(*callbacks)
}

//export sqGoProgress
func sqGoProgress(done, total C.int64_t, elapsed, eta C.double, user unsafe.Pointer) (cancel C.int32_t) {
	cb := callbacksOf(user)
	if cb.progress == nil {
		return 0
	}
	defer func() { // a panic must not unwind through C: cancel, and re-panic after the call returns
		if r := recover(); r != nil {
			cb.panicked = r
			cancel = 1
		}
	}()
	if cb.progress(Progress{int64(done), int64(total), float64(elapsed), float64(eta)}) {
		return 1
	}
	return 0
}

//export sqGoSink
func sqGoSink(name *C.char, dtype, ndim C.int32_t, dims *C.int64_t, data unsafe.Pointer, nbytes C.size_t,
	user unsafe.Pointer) {
	cb := callbacksOf(user)
	if cb.sink == nil || cb.panicked != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			cb.panicked = r
		}
	}()
	shape := make([]int64, int(ndim))
	if ndim > 0 {
		for i, d := range unsafe.Slice(dims, int(ndim)) {
			shape[i] = int64(d)
		}
	}
	cb.sink(SinkTensor{C.GoString(name), int32(dtype), shape, C.GoBytes(data, C.int(nbytes))})
}
