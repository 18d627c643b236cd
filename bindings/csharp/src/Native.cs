// P/Invoke declarations of the libstreamquant C ABI (include/streamquant/*.h). Strings cross as UTF-8 bytes;
// every sq_error* is an IntPtr turned into a StreamquantException at once (Native.Check).
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Streamquant {

internal static class Native {
  const string Lib = "streamquant";

  [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
  internal delegate int ProgressFn(long done, long total, double elapsed, double eta, IntPtr user);
  [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
  internal delegate void SinkFn(IntPtr name, int dtype, int ndim, IntPtr dims, IntPtr data, UIntPtr nbytes, IntPtr user);

  [DllImport(Lib)] internal static extern uint sq_version_number();
  [DllImport(Lib)] internal static extern IntPtr sq_version();
  [DllImport(Lib)] internal static extern int sq_error_code(IntPtr err);
  [DllImport(Lib)] internal static extern IntPtr sq_error_message(IntPtr err);
  [DllImport(Lib)] internal static extern void sq_error_free(IntPtr err);
  [DllImport(Lib)] internal static extern IntPtr sq_error_code_name(int code);

  [DllImport(Lib)] internal static extern IntPtr sq_context_create(out IntPtr ctx, byte[] device);
  [DllImport(Lib)] internal static extern void sq_context_free(IntPtr ctx);
  [DllImport(Lib)] internal static extern IntPtr sq_context_set_threads(ContextHandle ctx, int threads);

  [DllImport(Lib)] internal static extern IntPtr sq_model_open(out IntPtr model, ContextHandle ctx, byte[] path);
  [DllImport(Lib)] internal static extern void sq_model_free(IntPtr model);
  [DllImport(Lib)] internal static extern UIntPtr sq_model_tensor_count(ModelHandle model);
  [DllImport(Lib)] internal static extern IntPtr sq_model_tensor_info(ModelHandle model, UIntPtr index, out IntPtr name,
                                                                      out int dtype, out int ndim, long[] dims);
  [DllImport(Lib)] internal static extern IntPtr sq_model_find_tensor(ModelHandle model, byte[] name, out UIntPtr index);
  [DllImport(Lib)] internal static extern IntPtr sq_model_read_tensor_f32(ModelHandle model, byte[] name, float[] dst,
                                                                          UIntPtr count);
  [DllImport(Lib)] internal static extern IntPtr sq_model_describe_json(ModelHandle model);
  [DllImport(Lib)] internal static extern IntPtr sq_model_perplexity(ModelHandle model, int[] tokens, UIntPtr n,
                                                                     UIntPtr seqLen, UIntPtr maxTokens, out double ppl,
                                                                     IntPtr scored);

  [DllImport(Lib)] internal static extern IntPtr sq_job_create(out IntPtr job, ModelHandle model);
  [DllImport(Lib)] internal static extern void sq_job_free(IntPtr job);
  [DllImport(Lib)] internal static extern IntPtr sq_job_set_option(JobHandle job, byte[] key, byte[] value);
  [DllImport(Lib)] internal static extern IntPtr sq_job_set_calibration_tokens(JobHandle job, int[] tokens, UIntPtr nSeqs,
                                                                               UIntPtr seqLen);
  [DllImport(Lib)] internal static extern IntPtr sq_job_set_calibration_file(JobHandle job, byte[] path);
  [DllImport(Lib)] internal static extern IntPtr sq_job_set_progress(JobHandle job, ProgressFn fn, IntPtr user);
  [DllImport(Lib)] internal static extern IntPtr sq_job_set_tensor_sink(JobHandle job, SinkFn fn, IntPtr user);
  [DllImport(Lib)] internal static extern IntPtr sq_job_step(JobHandle job, out int done);
  [DllImport(Lib)] internal static extern IntPtr sq_job_run(JobHandle job);
  [DllImport(Lib)] internal static extern IntPtr sq_job_progress(JobHandle job, out long done, out long count);
  [DllImport(Lib)] internal static extern IntPtr sq_job_write(JobHandle job, byte[] outDir, byte[] format);

  [DllImport(Lib)] internal static extern IntPtr sq_layer_options_create(out IntPtr opts);
  [DllImport(Lib)] internal static extern void sq_layer_options_free(IntPtr opts);
  [DllImport(Lib)] internal static extern IntPtr sq_layer_options_set(IntPtr opts, byte[] key, byte[] value);
  [DllImport(Lib)] internal static extern IntPtr sq_quantize_layer(out IntPtr layer, IntPtr ctx, float[] w, UIntPtr rows,
                                                                   UIntPtr cols, float[] h, IntPtr opts);
  [DllImport(Lib)] internal static extern void sq_quantized_layer_free(IntPtr layer);
  [DllImport(Lib)] internal static extern IntPtr sq_quantized_layer_get_int(out long value, LayerHandle layer, byte[] key);
  [DllImport(Lib)] internal static extern IntPtr sq_quantized_layer_tensor_info(out int dtype, out UIntPtr count,
                                                                                LayerHandle layer, byte[] name);
  [DllImport(Lib)] internal static extern IntPtr sq_quantized_layer_read(byte[] dst, UIntPtr bytes, LayerHandle layer,
                                                                         byte[] name);

  [DllImport(Lib)] internal static extern IntPtr sq_tokenizer_from_model(out IntPtr tok, ModelHandle model);
  [DllImport(Lib)] internal static extern void sq_tokenizer_free(IntPtr tok);
  [DllImport(Lib)] internal static extern IntPtr sq_tokenizer_encode(TokenizerHandle tok, byte[] text, UIntPtr len,
                                                                     int addSpecial, int[] ids, UIntPtr capacity,
                                                                     out UIntPtr count);
  [DllImport(Lib)] internal static extern IntPtr sq_tokenizer_decode(TokenizerHandle tok, int[] ids, UIntPtr count,
                                                                     int skipSpecial, byte[] text, UIntPtr capacity,
                                                                     out UIntPtr len);

  internal static byte[] Utf8(string s) {
    if (s.IndexOf('\0') >= 0)
      throw new StreamquantException(ErrorCode.InvalidArgument, "string '" + s.Replace("\0", "\\0") + "' contains NUL");
    return Encoding.UTF8.GetBytes(s + "\0");
  }

  internal static string FromUtf8(IntPtr p) {
    if (p == IntPtr.Zero) return null;
    int n = 0;
    while (Marshal.ReadByte(p, n) != 0) ++n;
    var bytes = new byte[n];
    Marshal.Copy(p, bytes, 0, n);
    return Encoding.UTF8.GetString(bytes);
  }

  /// Throws the library's error (and frees it) when err is not NULL.
  internal static void Check(IntPtr err) {
    if (err == IntPtr.Zero) return;
    var code = sq_error_code(err);
    var message = FromUtf8(sq_error_message(err));
    sq_error_free(err);
    throw new StreamquantException(code, message);
  }
}

// One SafeHandle per object kind. A handle that depends on another (a model on its context, a job on its
// model) holds a reference on it, so the finalizer thread can never free them in the wrong order.
public abstract class SqHandle : SafeHandle {
  SafeHandle parent;
  protected SqHandle() : base(IntPtr.Zero, true) {}
  public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
  internal void Adopt(IntPtr raw, SafeHandle dependsOn) {
    if (dependsOn != null) {
      bool added = false;
      dependsOn.DangerousAddRef(ref added);
      parent = dependsOn;
    }
    SetHandle(raw);
  }
  protected abstract void Free(IntPtr raw);
  protected override bool ReleaseHandle() {
    Free(handle);
    if (parent != null) parent.DangerousRelease();
    return true;
  }
}

public sealed class ContextHandle : SqHandle { protected override void Free(IntPtr p) { Native.sq_context_free(p); } }
public sealed class ModelHandle : SqHandle { protected override void Free(IntPtr p) { Native.sq_model_free(p); } }
public sealed class JobHandle : SqHandle { protected override void Free(IntPtr p) { Native.sq_job_free(p); } }
public sealed class LayerHandle : SqHandle { protected override void Free(IntPtr p) { Native.sq_quantized_layer_free(p); } }
public sealed class TokenizerHandle : SqHandle { protected override void Free(IntPtr p) { Native.sq_tokenizer_free(p); } }

}
