package streamquant

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The fixtures come from tests/bindings/run_all.sh: SQ_TINY_MODEL (tools/make_tiny_model.py) and
// SQ_ABI_LAYOUT (tests/bindings/abi_layout.c's output).
func fixture(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set (run tests/bindings/run_all.sh)", name)
	}
	return v
}

type description struct {
	VocabSize  int64 `json:"vocab_size"`
	NumBlocks  int64 `json:"num_blocks"`
	HiddenSize int64 `json:"hidden_size"`
}

func openTiny(t *testing.T) (*Context, *Model, description) {
	ctx, err := NewContext("cpu")
	if err != nil {
		t.Fatal(err)
	}
	m, err := OpenModel(ctx, fixture(t, "SQ_TINY_MODEL"))
	if err != nil {
		t.Fatal(err)
	}
	var d description
	if err := json.Unmarshal([]byte(m.DescribeJSON()), &d); err != nil {
		t.Fatal(err)
	}
	return ctx, m, d
}

func calibration(vocab int64, n int) []int32 {
	state := uint64(12345)
	out := make([]int32, n)
	for i := range out {
		state = state*6364136223846793005 + 1442695040888963407
		out[i] = int32(int64(state>>33) % vocab)
	}
	return out
}

func TestABILayoutMatchesHeader(t *testing.T) {
	text, err := os.ReadFile(fixture(t, "SQ_ABI_LAYOUT"))
	if err != nil {
		t.Fatal(err)
	}
	layout := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		f := strings.Fields(line)
		v, _ := strconv.ParseInt(f[1], 10, 64)
		layout[f[0]] = v
	}
	for name, size := range cSizes() {
		if layout[name] != int64(size) {
			t.Errorf("%s: header %d, cgo %d", name, layout[name], size)
		}
	}
	ours := map[string]int64{"SQ_MAX_DIMS": MaxDims, "SQ_OK": OK, "SQ_ERR_INVALID_ARGUMENT": ErrInvalidArgument,
		"SQ_ERR_IO": ErrIO, "SQ_ERR_FORMAT": ErrFormat, "SQ_ERR_UNSUPPORTED": ErrUnsupported,
		"SQ_ERR_OUT_OF_MEMORY": ErrOutOfMemory, "SQ_ERR_NUMERIC": ErrNumeric, "SQ_ERR_CANCELLED": ErrCancelled,
		"SQ_ERR_NOT_FOUND": ErrNotFound, "SQ_ERR_DEVICE": ErrDevice, "SQ_ERR_STATE": ErrState,
		"SQ_ERR_INTERNAL": ErrInternal, "SQ_DTYPE_F32": DTypeF32, "SQ_DTYPE_F16": DTypeF16, "SQ_DTYPE_BF16": DTypeBF16,
		"SQ_DTYPE_I32": DTypeI32, "SQ_DTYPE_I8": DTypeI8, "SQ_DTYPE_U8": DTypeU8,
		"SQ_VERSION_NUMBER": int64(VersionNumber())}
	for name, v := range ours {
		if got, ok := layout[name]; !ok || got != v {
			t.Errorf("%s: header %d (present %v), binding %d", name, got, ok, v)
		}
	}
}

func TestVersion(t *testing.T) {
	var major, minor, patch uint32
	if _, err := fmt.Sscanf(Version(), "%d.%d.%d", &major, &minor, &patch); err != nil {
		t.Fatalf("version %q: %v", Version(), err)
	}
	if major*10000+minor*100+patch != VersionNumber() {
		t.Errorf("%s != %d", Version(), VersionNumber())
	}
}

func TestBadPathGivesLibraryError(t *testing.T) {
	ctx, _ := NewContext("")
	defer ctx.Close()
	_, err := OpenModel(ctx, "/nonexistent/streamquant-model")
	var sqErr *Error
	if !errors.As(err, &sqErr) {
		t.Fatalf("want *Error, got %v", err)
	}
	if (sqErr.Code != ErrIO && sqErr.Code != ErrNotFound) || !strings.Contains(sqErr.Message, "/nonexistent/streamquant-model") {
		t.Errorf("unexpected error %v", err)
	}
	if _, err := NewContext("tpu:1"); !errors.Is(err, &Error{Code: ErrInvalidArgument}) {
		t.Errorf("tpu:1: %v", err)
	}
}

// dequantize rebuilds W [rows, cols] from the sink's packed GPTQ tensors (qzeros hold the zero points).
func dequantize(ts map[string]SinkTensor, prefix string, bits uint) []float32 {
	u32 := func(b []byte) []uint32 {
		out := make([]uint32, len(b)/4)
		for i := range out {
			out[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
		return out
	}
	qw, qz, gIdx := ts[prefix+".qweight"], u32(ts[prefix+".qzeros"].Data), u32(ts[prefix+".g_idx"].Data)
	words := u32(qw.Data)
	scales := ts[prefix+".scales"].Data
	rows, cols := int(qw.Shape[1]), len(gIdx)
	per, mask := int(32/bits), uint32(1)<<bits-1
	w := make([]float32, rows*cols)
	for k := 0; k < cols; k++ {
		g := int(gIdx[k])
		for n := 0; n < rows; n++ {
			q := words[(k/per)*rows+n] >> (uint(k%per) * bits) & mask
			z := qz[g*(rows/per)+n/per] >> (uint(n%per) * bits) & mask
			s := halfToFloat(binary.LittleEndian.Uint16(scales[2*(g*rows+n):]))
			w[n*cols+k] = s * (float32(q) - float32(z))
		}
	}
	return w
}

func halfToFloat(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * float32(math.Ldexp(frac, -24))
	case 31:
		return sign * float32(math.Inf(1))
	}
	return sign * float32(math.Ldexp(1+frac/1024, exp-15))
}

func TestJobSinkEqualsWrittenOutput(t *testing.T) {
	ctx, m, d := openTiny(t)
	defer ctx.Close()
	defer m.Close()
	q, err := m.FindTensor("model.layers.0.self_attn.q_proj.weight")
	if err != nil || len(q.Shape) != 2 || q.Shape[0] != d.HiddenSize || q.Shape[1] != d.HiddenSize {
		t.Fatalf("q_proj: %+v %v", q, err)
	}
	job, err := NewJob(m)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	for k, v := range map[string]interface{}{"method": "gptq", "bits": 4, "group_size": 32} {
		if err := job.SetOption(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := job.SetCalibrationTokens(calibration(d.VocabSize, 4*32), 32); err != nil {
		t.Fatal(err)
	}
	var seen []int64
	job.OnProgress(func(p Progress) bool { seen = append(seen, p.Done); return false })
	tensors := map[string]SinkTensor{}
	job.OnTensor(func(s SinkTensor) { tensors[s.Name] = s })
	if err := job.Run(); err != nil {
		t.Fatal(err)
	}
	if int64(len(seen)) != d.NumBlocks || seen[len(seen)-1] != d.NumBlocks {
		t.Errorf("progress calls %v for %d blocks", seen, d.NumBlocks)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := job.Write(out, "gptq"); err != nil {
		t.Fatal(err)
	}
	qm, err := OpenModel(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer qm.Close()
	prefixes := map[string]bool{}
	for name := range tensors {
		prefixes[name[:strings.LastIndex(name, ".")]] = true
	}
	if int64(len(prefixes)) != 7*d.NumBlocks {
		t.Fatalf("%d quantized layers streamed, want %d", len(prefixes), 7*d.NumBlocks)
	}
	for prefix := range prefixes {
		want, err := qm.ReadF32(prefix + ".weight")
		if err != nil {
			t.Fatal(err)
		}
		got := dequantize(tensors, prefix, 4)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s[%d]: sink %g, written output %g", prefix, i, got[i], want[i])
			}
		}
	}
}

func TestCancelFromProgress(t *testing.T) {
	ctx, m, d := openTiny(t)
	defer ctx.Close()
	defer m.Close()
	job, _ := NewJob(m)
	defer job.Close()
	_ = job.SetOption("method", "rtn")
	_ = job.SetCalibrationTokens(calibration(d.VocabSize, 2*16), 16)
	calls := 0
	job.OnProgress(func(Progress) bool { calls++; return true })
	err := job.Run()
	if !errors.Is(err, &Error{Code: ErrCancelled}) || calls != 1 {
		t.Fatalf("run: %v after %d calls", err, calls)
	}
	if err := job.Write(t.TempDir()+"/x", "gptq"); !errors.Is(err, &Error{Code: ErrState}) {
		t.Errorf("write after cancel: %v", err)
	}

	job2, _ := NewJob(m)
	defer job2.Close()
	_ = job2.SetOption("method", "rtn")
	_ = job2.SetCalibrationTokens(calibration(d.VocabSize, 2*16), 16)
	job2.OnProgress(func(Progress) bool { panic("stop") })
	defer func() {
		if r := recover(); r != "stop" {
			t.Errorf("the callback's panic should resume after the C call; got %v", r)
		}
	}()
	_ = job2.Run()
	t.Error("Run returned instead of re-panicking")
}

func TestQuantizeLayerAndTokenizer(t *testing.T) {
	rows, cols := 8, 64
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(i*37%101-50) / 1000
	}
	l, err := QuantizeLayer(nil, w, rows, cols, nil, map[string]string{"method": "rtn", "bits": "4", "group_size": "32"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, codes, _ := l.Bytes("codes")
	dq, _ := l.F32("dequant")
	scales, _ := l.F32("scales")
	zeros, _ := l.F32("zeros")
	gIdx, _ := l.I32("g_idx")
	for n := 0; n < rows; n++ {
		for k := 0; k < cols; k++ {
			g := int(gIdx[k])
			if want := scales[g*rows+n] * (float32(codes[n*cols+k]) - zeros[g*rows+n]); dq[n*cols+k] != want {
				t.Fatalf("dequant[%d,%d] = %g, grid gives %g", n, k, dq[n*cols+k], want)
			}
		}
	}
	if _, err := QuantizeLayer(nil, w, rows, cols, nil, map[string]string{"bits": "5"}); !errors.Is(err, &Error{Code: ErrInvalidArgument}) {
		t.Errorf("bits=5: %v", err)
	}

	ctx, m, d := openTiny(t)
	defer ctx.Close()
	defer m.Close()
	tok, err := TokenizerFromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	text := "Hello, streamed quantization!"
	ids, err := tok.Encode(text, false)
	if err != nil || len(ids) == 0 {
		t.Fatal(ids, err)
	}
	if back, err := tok.Decode(ids, false); back != text || err != nil {
		t.Errorf("decode: %q %v", back, err)
	}
	ppl, err := m.Perplexity(calibration(d.VocabSize, 64), 32, 0)
	if err != nil || !(ppl > 1) || math.IsInf(ppl, 0) {
		t.Errorf("perplexity %g %v", ppl, err)
	}
}
