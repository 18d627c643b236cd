// The C# bindings against libstreamquant; exits non-zero when a check fails. Fixtures from
// tests/bindings/run_all.sh: SQ_TINY_MODEL (tools/make_tiny_model.py), SQ_ABI_LAYOUT (abi_layout.c's output).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Streamquant;

static class Tests {
  static int failures;

  static void Check(bool ok, string what) {
    if (!ok) { ++failures; Console.Error.WriteLine("FAILED: " + what); }
  }

  static int CodeOf(Action a) {
    try { a(); } catch (StreamquantException e) { return e.Code; }
    return ErrorCode.Ok;
  }

  static long JsonInt(string json, string key) {
    return long.Parse(Regex.Match(json, "\"" + key + "\":(\\d+)").Groups[1].Value);
  }

  static int[] Calibration(long vocab, int n) {
    ulong state = 12345;
    var t = new int[n];
    for (int i = 0; i < n; ++i) {
      state = unchecked(state * 6364136223846793005UL + 1442695040888963407UL);
      t[i] = (int)((long)(state >> 33) % vocab);
    }
    return t;
  }

  static float Half(ushort h) {
    float sign = (h & 0x8000) != 0 ? -1f : 1f;
    int exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    if (exp == 0) return sign * frac * (float)Math.Pow(2, -24);
    if (exp == 31) return sign * float.PositiveInfinity;
    return sign * (1f + frac / 1024f) * (float)Math.Pow(2, exp - 15);
  }

  static void AbiLayout(string path) {
    var layout = File.ReadAllLines(path).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => long.Parse(p[1]));
    Check(layout["sizeof_size_t"] == UIntPtr.Size, "size_t width");
    Check(layout["sizeof_pointer"] == IntPtr.Size, "pointer width");
    Check(layout["sizeof_int64_t"] == sizeof(long) && layout["sizeof_int32_t"] == sizeof(int), "int widths");
    Check(layout["sizeof_double"] == sizeof(double), "double width");
    Check(layout["sizeof_sq_progress_fn"] == Marshal.SizeOf(typeof(IntPtr)), "callback pointer width");
    var ours = new Dictionary<string, long> {
      {"SQ_MAX_DIMS", DType.MaxDims}, {"SQ_OK", ErrorCode.Ok}, {"SQ_ERR_INVALID_ARGUMENT", ErrorCode.InvalidArgument},
      {"SQ_ERR_IO", ErrorCode.IO}, {"SQ_ERR_FORMAT", ErrorCode.Format}, {"SQ_ERR_UNSUPPORTED", ErrorCode.Unsupported},
      {"SQ_ERR_OUT_OF_MEMORY", ErrorCode.OutOfMemory}, {"SQ_ERR_NUMERIC", ErrorCode.Numeric},
      {"SQ_ERR_CANCELLED", ErrorCode.Cancelled}, {"SQ_ERR_NOT_FOUND", ErrorCode.NotFound},
      {"SQ_ERR_DEVICE", ErrorCode.Device}, {"SQ_ERR_STATE", ErrorCode.State}, {"SQ_ERR_INTERNAL", ErrorCode.Internal},
      {"SQ_DTYPE_F32", DType.F32}, {"SQ_DTYPE_F16", DType.F16}, {"SQ_DTYPE_BF16", DType.BF16},
      {"SQ_DTYPE_I32", DType.I32}, {"SQ_DTYPE_I8", DType.I8}, {"SQ_DTYPE_U8", DType.U8},
      {"SQ_VERSION_NUMBER", Library.VersionNumber}};
    foreach (var kv in ours) Check(layout.ContainsKey(kv.Key) && layout[kv.Key] == kv.Value, "constant " + kv.Key);
  }

  // W [rows, cols] from the sink's packed GPTQ tensors (qzeros hold the zero points themselves).
  static float[] Dequantize(Dictionary<string, SinkTensor> t, string prefix, int bits) {
    Func<string, uint[]> u32 = s => { var b = t[prefix + s].Data; var v = new uint[b.Length / 4]; Buffer.BlockCopy(b, 0, v, 0, b.Length); return v; };
    uint[] qw = u32(".qweight"), qz = u32(".qzeros"), gIdx = u32(".g_idx");
    var scales = t[prefix + ".scales"].Data;
    int rows = (int)t[prefix + ".qweight"].Shape[1], cols = gIdx.Length, per = 32 / bits;
    uint mask = (1u << bits) - 1;
    var w = new float[rows * cols];
    for (int k = 0; k < cols; ++k) {
      int g = (int)gIdx[k];
      for (int n = 0; n < rows; ++n) {
        uint q = (qw[(k / per) * rows + n] >> ((k % per) * bits)) & mask;
        uint z = (qz[g * (rows / per) + n / per] >> ((n % per) * bits)) & mask;
        float s = Half(BitConverter.ToUInt16(scales, 2 * (g * rows + n)));
        w[n * cols + k] = s * ((float)q - (float)z);
      }
    }
    return w;
  }

  static void JobAndReadBack(Context ctx, string modelDir) {
    using (var model = new Model(ctx, modelDir)) {
      string desc = model.DescribeJson();
      long vocab = JsonInt(desc, "vocab_size"), blocks = JsonInt(desc, "num_blocks"), hidden = JsonInt(desc, "hidden_size");
      var q = model.Find("model.layers.0.self_attn.q_proj.weight");
      Check(q.Shape.Length == 2 && q.Shape[0] == hidden && q.Shape[1] == hidden, "q_proj shape");
      Check(model.ReadF32(q.Name).Length == hidden * hidden, "q_proj read");

      var tensors = new Dictionary<string, SinkTensor>();
      var done = new List<long>();
      var outDir = Path.Combine(Path.GetTempPath(), "sq-csharp-" + System.Diagnostics.Process.GetCurrentProcess().Id);
      if (Directory.Exists(outDir)) Directory.Delete(outDir, true);
      using (var job = new Job(model)) {
        job.SetOption("method", "gptq").SetOption("bits", 4).SetOption("group_size", 32);
        job.SetCalibrationTokens(Calibration(vocab, 4 * 32), 32);
        job.OnProgress = p => { done.Add(p.Done); return false; };
        job.OnTensor = t => tensors[t.Name] = t;
        job.Run();
        job.Write(outDir, "gptq");
      }
      Check(done.SequenceEqual(Enumerable.Range(1, (int)blocks).Select(i => (long)i)), "one progress call per block");
      var prefixes = tensors.Keys.Select(k => k.Substring(0, k.LastIndexOf('.'))).Distinct().ToList();
      Check(prefixes.Count == 7 * blocks, "seven quantized layers per block");
      using (var quantized = new Model(ctx, outDir))
        foreach (var prefix in prefixes)
          Check(Dequantize(tensors, prefix, 4).SequenceEqual(quantized.ReadF32(prefix + ".weight")),
                prefix + ": sink tensors equal the written output");
      Directory.Delete(outDir, true);

      using (var job = new Job(model)) {
        job.SetOption("method", "rtn");
        job.SetCalibrationTokens(Calibration(vocab, 2 * 16), 16);
        int calls = 0;
        job.OnProgress = p => { ++calls; return true; };
        Check(CodeOf(job.Run) == ErrorCode.Cancelled && calls == 1, "cancel by returning true");
        Check(CodeOf(() => job.Write(outDir)) == ErrorCode.State, "write after cancel is a state error");
      }
      using (var job = new Job(model)) {
        job.SetOption("method", "rtn");
        job.SetCalibrationTokens(Calibration(vocab, 2 * 16), 16);
        job.OnProgress = p => { throw new InvalidOperationException("user stop"); };
        try {
          job.Run();
          Check(false, "a throwing callback cancels");
        } catch (StreamquantException e) {
          Check(e.Code == ErrorCode.Cancelled && e.InnerException is InvalidOperationException, "callback exception kept");
        }
      }

      using (var tok = new Tokenizer(model)) {
        var ids = tok.Encode("Hello, streamed quantization!");
        Check(ids.Length > 0 && tok.Decode(ids) == "Hello, streamed quantization!", "tokenizer round trip");
      }
      double ppl = model.Perplexity(Calibration(vocab, 64), 32);
      Check(ppl > 1 && !double.IsInfinity(ppl), "perplexity is finite");
    }
  }

  static void Layer() {
    int rows = 8, cols = 64;
    var w = Enumerable.Range(0, rows * cols).Select(i => (i * 37 % 101 - 50) / 1000f).ToArray();
    var opts = new Dictionary<string, string> { {"method", "rtn"}, {"bits", "4"}, {"group_size", "32"} };
    using (var l = new QuantizedLayer(w, rows, cols, null, opts)) {
      int dtype;
      var codes = l.Bytes("codes", out dtype);
      float[] dq = l.F32("dequant"), scales = l.F32("scales"), zeros = l.F32("zeros");
      int[] g = l.I32("g_idx");
      bool ok = dtype == DType.U8;
      for (int n = 0; n < rows; ++n)
        for (int k = 0; k < cols; ++k)
          ok &= dq[n * cols + k] == scales[g[k] * rows + n] * (codes[n * cols + k] - zeros[g[k] * rows + n]);
      Check(ok, "dequant = scale * (code - zero)");
    }
    Check(CodeOf(() => new QuantizedLayer(w, rows, cols, null, new Dictionary<string, string> { {"bits", "5"} }))
          == ErrorCode.InvalidArgument, "bits=5 is rejected");
  }

  static int Main() {
    var v = Library.Version.Split('.').Select(uint.Parse).ToArray();
    Check(v.Length == 3 && v[0] * 10000 + v[1] * 100 + v[2] == Library.VersionNumber, "version");
    using (var ctx = new Context()) {
      try {
        new Model(ctx, "/nonexistent/streamquant-model");
        Check(false, "a missing path fails");
      } catch (StreamquantException e) {
        Check((e.Code == ErrorCode.IO || e.Code == ErrorCode.NotFound) && e.Message.Contains("/nonexistent/streamquant-model"),
              "bad path error: " + e.Message);
      }
      Check(CodeOf(() => new Context("tpu:2")) == ErrorCode.InvalidArgument, "bad device");
      Layer();
      var layout = Environment.GetEnvironmentVariable("SQ_ABI_LAYOUT");
      var model = Environment.GetEnvironmentVariable("SQ_TINY_MODEL");
      if (string.IsNullOrEmpty(layout) || string.IsNullOrEmpty(model)) {
        Console.WriteLine("SKIP: SQ_ABI_LAYOUT / SQ_TINY_MODEL not set (run tests/bindings/run_all.sh)");
      } else {
        AbiLayout(layout);
        JobAndReadBack(ctx, model);
      }
    }
    GC.Collect();
    GC.WaitForPendingFinalizers();
    Console.WriteLine(failures == 0 ? "csharp bindings: all checks passed" : failures + " check(s) failed");
    return failures == 0 ? 0 : 1;
  }
}
