//! Quantize a model with a progress display, stream its packed tensors, and read one tensor back.
//!     STREAMQUANT_LIB_DIR=build/lib LD_LIBRARY_PATH=build/lib cargo run --offline -- MODEL_DIR OUT_DIR
use streamquant::{Context, Job, Model};

fn main() -> Result<(), streamquant::Error> {
    let args: Vec<String> = std::env::args().collect();
    let (model_dir, out_dir) = (&args[1], &args[2]);
    let ctx = Context::cpu()?;
    let model = Model::open(&ctx, model_dir)?;
    let mut packed = 0usize;
    {
        let mut job = Job::new(&model)?;
        job.set_option("method", "gptq")?.set_option("bits", 4)?.set_option("group_size", 32)?;
        let tokens: Vec<i32> = (0..8 * 64).map(|i| (i * 7919 % 32000) as i32).collect();
        job.set_calibration_tokens(&tokens, 64)?;
        job.on_progress(|p| { eprint!("\rblock {}/{}, eta {:.1}s", p.done, p.total, p.eta_s); false });
        job.on_tensor(|t| packed += t.data.len());
        job.run()?;
        job.write(out_dir, "gptq")?;
    }
    println!("\nstreamed {packed} packed bytes");
    let name = "model.layers.0.self_attn.q_proj.weight";
    let (w, wq) = (model.read_f32(name)?, Model::open(&ctx, out_dir)?.read_f32(name)?);
    let err = w.iter().zip(&wq).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    println!("{name}: max |W - Wq| = {err:.4}");
    Ok(())
}
