// Quantize a model with a progress display, stream its packed tensors, and read one tensor back.
//   mcs -out:quantize.exe bindings/csharp/src/*.cs examples/csharp/Quantize.cs
//   LD_LIBRARY_PATH=build/lib mono quantize.exe MODEL_DIR OUT_DIR
using System;
using System.Linq;
using Streamquant;

static class QuantizeExample {
  static void Main(string[] args) {
    using (var ctx = new Context())
    using (var model = new Model(ctx, args[0])) {
      long packed = 0;
      using (var job = new Job(model)) {
        job.SetOption("method", "gptq").SetOption("bits", 4).SetOption("group_size", 32);
        job.SetCalibrationTokens(Enumerable.Range(0, 8 * 64).Select(i => i * 7919 % 32000).ToArray(), 64);
        job.OnProgress = p => { Console.Write("\rblock {0}/{1}, eta {2:F1}s", p.Done, p.Total, p.Eta); return false; };
        job.OnTensor = t => packed += t.Data.Length;
        job.Run();
        job.Write(args[1], "gptq");
      }
      Console.WriteLine("\nstreamed {0} packed bytes", packed);
      const string name = "model.layers.0.self_attn.q_proj.weight";
      using (var quantized = new Model(ctx, args[1])) {
        float[] w = model.ReadF32(name), wq = quantized.ReadF32(name);
        Console.WriteLine("{0}: max |W - Wq| = {1:G4}", name, w.Zip(wq, (a, b) => Math.Abs(a - b)).Max());
      }
    }
  }
}
