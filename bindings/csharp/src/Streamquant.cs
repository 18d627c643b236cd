// The C# face of libstreamquant: IDisposable objects over SafeHandles; errors as StreamquantException.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Streamquant {

/// Pinned error codes (SQ_ERR_* in sq_core.h).
public static class ErrorCode {
  public const int Ok = 0, InvalidArgument = 1, IO = 2, Format = 3, Unsupported = 4, OutOfMemory = 5, Numeric = 6,
                   Cancelled = 7, NotFound = 8, Device = 9, State = 10, Internal = 99;
}

/// Storage types (SQ_DTYPE_*).
public static class DType {
  public const int F32 = 0, F16 = 1, BF16 = 2, I32 = 3, I8 = 4, U8 = 5;
  public const int MaxDims = 8;  // SQ_MAX_DIMS
}

public class StreamquantException : Exception {
  public int Code { get; private set; }
  public string LibraryMessage { get; private set; }
  public StreamquantException(int code, string message, Exception inner = null)
      : base(Native.FromUtf8(Native.sq_error_code_name(code)) + ": " + message, inner) {
    Code = code;
    LibraryMessage = message;
  }
}

public static class Library {
  public static string Version { get { return Native.FromUtf8(Native.sq_version()); } }
  public static uint VersionNumber { get { return Native.sq_version_number(); } }
}

public sealed class Context : IDisposable {
  internal readonly ContextHandle Handle = new ContextHandle();
  public Context(string device = "cpu") {
    IntPtr raw;
    Native.Check(Native.sq_context_create(out raw, Native.Utf8(device)));
    Handle.Adopt(raw, null);
  }
  public void SetThreads(int n) { Native.Check(Native.sq_context_set_threads(Handle, n)); }
  public void Dispose() { Handle.Dispose(); }
}

public struct TensorInfo {
  public string Name;
  public int DType;
  public long[] Shape;
  public long Numel { get { long n = 1; foreach (var d in Shape) n *= d; return n; } }
}

public sealed class Model : IDisposable {
  internal readonly ModelHandle Handle = new ModelHandle();
  public Model(Context ctx, string path) {
    IntPtr raw;
    Native.Check(Native.sq_model_open(out raw, ctx.Handle, Native.Utf8(path)));
    Handle.Adopt(raw, ctx.Handle);
  }
  public TensorInfo Info(long index) {
    IntPtr name;
    int dtype, ndim;
    var dims = new long[DType.MaxDims];
    Native.Check(Native.sq_model_tensor_info(Handle, (UIntPtr)(ulong)index, out name, out dtype, out ndim, dims));
    var shape = new long[ndim];
    Array.Copy(dims, shape, ndim);
    return new TensorInfo { Name = Native.FromUtf8(name), DType = dtype, Shape = shape };
  }
  public List<TensorInfo> Tensors() {
    var list = new List<TensorInfo>();
    ulong n = (ulong)Native.sq_model_tensor_count(Handle);
    for (ulong i = 0; i < n; ++i) list.Add(Info((long)i));
    return list;
  }
  public TensorInfo Find(string name) {
    UIntPtr index;
    Native.Check(Native.sq_model_find_tensor(Handle, Native.Utf8(name), out index));
    return Info((long)(ulong)index);
  }
  public float[] ReadF32(string name) {
    var dst = new float[Find(name).Numel];
    Native.Check(Native.sq_model_read_tensor_f32(Handle, Native.Utf8(name), dst, (UIntPtr)(ulong)dst.Length));
    return dst;
  }
  public string DescribeJson() { return Native.FromUtf8(Native.sq_model_describe_json(Handle)); }
  public double Perplexity(int[] tokens, int seqLen, int maxTokens = 0) {
    double ppl;
    Native.Check(Native.sq_model_perplexity(Handle, tokens, (UIntPtr)(ulong)tokens.Length, (UIntPtr)(ulong)seqLen,
                                            (UIntPtr)(ulong)maxTokens, out ppl, IntPtr.Zero));
    return ppl;
  }
  public void Dispose() { Handle.Dispose(); }
}

public struct Progress {
  public long Done, Total;
  public double Elapsed, Eta;
}

public struct SinkTensor {
  public string Name;
  public int DType;
  public long[] Shape;
  public byte[] Data;  // a copy
}

public sealed class Job : IDisposable {
  internal readonly JobHandle Handle = new JobHandle();
  // The delegates are fields so the collector keeps them while the library holds their thunks.
  readonly Native.ProgressFn progressThunk;
  readonly Native.SinkFn sinkThunk;
  Func<Progress, bool> onProgress;
  Action<SinkTensor> onTensor;
  Exception callbackError;  // an exception from a callback, rethrown once the C call has returned

  public Job(Model model) {
    IntPtr raw;
    Native.Check(Native.sq_job_create(out raw, model.Handle));
    Handle.Adopt(raw, model.Handle);
    progressThunk = ProgressThunk;
    sinkThunk = SinkThunk;
    Native.Check(Native.sq_job_set_progress(Handle, progressThunk, IntPtr.Zero));
    Native.Check(Native.sq_job_set_tensor_sink(Handle, sinkThunk, IntPtr.Zero));
  }

  public Job SetOption(string key, object value) {
    var text = value is bool ? ((bool)value ? "true" : "false") : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
    Native.Check(Native.sq_job_set_option(Handle, Native.Utf8(key), Native.Utf8(text)));
    return this;
  }
  public void SetCalibrationTokens(int[] tokens, int seqLen) {
    if (seqLen <= 0 || tokens.Length == 0 || tokens.Length % seqLen != 0)
      throw new StreamquantException(ErrorCode.InvalidArgument, tokens.Length + " calibration tokens are not rows of " + seqLen);
    Native.Check(Native.sq_job_set_calibration_tokens(Handle, tokens, (UIntPtr)(ulong)(tokens.Length / seqLen),
                                                      (UIntPtr)(ulong)seqLen));
  }
  public void SetCalibrationFile(string path) { Native.Check(Native.sq_job_set_calibration_file(Handle, Native.Utf8(path))); }

  /// Called after each block; return true (or throw) to cancel.
  public Func<Progress, bool> OnProgress { set { onProgress = value; } }
  /// Receives each packed tensor as soon as its block is done.
  public Action<SinkTensor> OnTensor { set { onTensor = value; } }

  int ProgressThunk(long done, long total, double elapsed, double eta, IntPtr user) {
    if (onProgress == null) return 0;
    try {
      return onProgress(new Progress { Done = done, Total = total, Elapsed = elapsed, Eta = eta }) ? 1 : 0;
    } catch (Exception e) {  // must not unwind through C
      callbackError = e;
      return 1;
    }
  }

  void SinkThunk(IntPtr name, int dtype, int ndim, IntPtr dims, IntPtr data, UIntPtr nbytes, IntPtr user) {
    if (onTensor == null || callbackError != null) return;
    try {
      var shape = new long[ndim];
      if (ndim > 0) Marshal.Copy(dims, shape, 0, ndim);
      var bytes = new byte[(long)(ulong)nbytes];
      if (bytes.Length > 0) Marshal.Copy(data, bytes, 0, bytes.Length);
      onTensor(new SinkTensor { Name = Native.FromUtf8(name), DType = dtype, Shape = shape, Data = bytes });
    } catch (Exception e) {
      callbackError = e;
    }
  }

  void Call(Func<IntPtr> f) {
    callbackError = null;
    IntPtr err = f();
    var pending = callbackError;
    callbackError = null;
    try {
      Native.Check(err);
    } catch (StreamquantException e) {
      if (pending != null) throw new StreamquantException(e.Code, e.LibraryMessage, pending);
      throw;
    }
    if (pending != null) throw new StreamquantException(ErrorCode.Internal, "a tensor callback threw", pending);
  }

  public bool Step() {
    int done = 0;
    Call(() => Native.sq_job_step(Handle, out done));
    return done != 0;
  }
  public void Run() { Call(() => Native.sq_job_run(Handle)); }
  public long[] ProgressNow() {
    long done, count;
    Native.Check(Native.sq_job_progress(Handle, out done, out count));
    return new[] { done, count };
  }
  public void Write(string outDir, string format = "gptq") {
    Native.Check(Native.sq_job_write(Handle, Native.Utf8(outDir), Native.Utf8(format)));
  }
  public void Dispose() { Handle.Dispose(); }
}

public sealed class QuantizedLayer : IDisposable {
  internal readonly LayerHandle Handle = new LayerHandle();

  /// Quantize w [rows, cols] (row-major) with the Hessian h [cols, cols] (null for RTN).
  public QuantizedLayer(float[] w, int rows, int cols, float[] h, IDictionary<string, string> options) {
    IntPtr opts;
    Native.Check(Native.sq_layer_options_create(out opts));
    try {
      if (options != null)
        foreach (var kv in options) Native.Check(Native.sq_layer_options_set(opts, Native.Utf8(kv.Key), Native.Utf8(kv.Value)));
      IntPtr raw;
      Native.Check(Native.sq_quantize_layer(out raw, IntPtr.Zero, w, (UIntPtr)(ulong)rows, (UIntPtr)(ulong)cols, h, opts));
      Handle.Adopt(raw, null);
    } finally {
      Native.sq_layer_options_free(opts);
    }
  }
  public long GetInt(string key) {
    long v;
    Native.Check(Native.sq_quantized_layer_get_int(out v, Handle, Native.Utf8(key)));
    return v;
  }
  public byte[] Bytes(string name, out int dtype) {
    UIntPtr count;
    Native.Check(Native.sq_quantized_layer_tensor_info(out dtype, out count, Handle, Native.Utf8(name)));
    int size = dtype == DType.F32 || dtype == DType.I32 ? 4 : dtype == DType.F16 || dtype == DType.BF16 ? 2 : 1;
    var bytes = new byte[(long)(ulong)count * size];
    Native.Check(Native.sq_quantized_layer_read(bytes, (UIntPtr)(ulong)bytes.Length, Handle, Native.Utf8(name)));
    return bytes;
  }
  public float[] F32(string name) {
    int dtype;
    var b = Bytes(name, out dtype);
    var f = new float[b.Length / 4];
    Buffer.BlockCopy(b, 0, f, 0, b.Length);
    return f;
  }
  public int[] I32(string name) {
    int dtype;
    var b = Bytes(name, out dtype);
    var v = new int[b.Length / 4];
    Buffer.BlockCopy(b, 0, v, 0, b.Length);
    return v;
  }
  public void Dispose() { Handle.Dispose(); }
}

public sealed class Tokenizer : IDisposable {
  internal readonly TokenizerHandle Handle = new TokenizerHandle();
  public Tokenizer(Model model) {
    IntPtr raw;
    Native.Check(Native.sq_tokenizer_from_model(out raw, model.Handle));
    Handle.Adopt(raw, null);  // independent of the model once made
  }
  public int[] Encode(string text, bool addSpecial = false) {
    var bytes = System.Text.Encoding.UTF8.GetBytes(text);
    UIntPtr count;
    Native.Check(Native.sq_tokenizer_encode(Handle, bytes, (UIntPtr)(ulong)bytes.Length, addSpecial ? 1 : 0, null, UIntPtr.Zero, out count));
    var ids = new int[(long)(ulong)count];
    Native.Check(Native.sq_tokenizer_encode(Handle, bytes, (UIntPtr)(ulong)bytes.Length, addSpecial ? 1 : 0, ids, count, out count));
    return ids;
  }
  public string Decode(int[] ids, bool skipSpecial = false) {
    UIntPtr len;
    Native.Check(Native.sq_tokenizer_decode(Handle, ids, (UIntPtr)(ulong)ids.Length, skipSpecial ? 1 : 0, null, UIntPtr.Zero, out len));
    var buf = new byte[(long)(ulong)len + 1];
    Native.Check(Native.sq_tokenizer_decode(Handle, ids, (UIntPtr)(ulong)ids.Length, skipSpecial ? 1 : 0, buf, (UIntPtr)(ulong)buf.Length, out len));
    return System.Text.Encoding.UTF8.GetString(buf, 0, (int)(ulong)len);
  }
  public void Dispose() { Handle.Dispose(); }
}

}
