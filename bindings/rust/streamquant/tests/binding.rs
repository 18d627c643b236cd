//! The safe bindings against libstreamquant. Needs SQ_TINY_MODEL (a model made by tools/make_tiny_model.py)
//! and SQ_ABI_LAYOUT (printed by tests/bindings/abi_layout.c), as tests/bindings/run_all.sh sets them;
//! each test says SKIP and returns when they are absent.
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::mem::size_of;
use std::path::PathBuf;

use streamquant::{f16_to_f32, quantize_layer, sys, Context, Job, Model, Tokenizer};

fn env_path(var: &str) -> Option<PathBuf> {
    let p = std::env::var_os(var).map(PathBuf::from);
    if p.is_none() {
        eprintln!("SKIP: {var} is not set (run tests/bindings/run_all.sh)");
    }
    p
}

fn layout() -> Option<HashMap<String, i64>> {
    let text = std::fs::read_to_string(env_path("SQ_ABI_LAYOUT")?).expect("read SQ_ABI_LAYOUT");
    Some(text.lines().map(|l| { let (k, v) = l.split_once(' ').unwrap(); (k.to_string(), v.parse().unwrap()) }).collect())
}

fn json_int(json: &str, key: &str) -> i64 {
    let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {json}")) + key.len() + 3;
    json[at..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap()
}

fn calibration(vocab: i64, n: usize) -> Vec<i32> {
    let mut state = 12345u64;
    (0..n).map(|_| { state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((state >> 33) as i64 % vocab) as i32 }).collect()
}

#[test]
fn abi_layout_matches_the_header() {
    let Some(l) = layout() else { return };
    assert_eq!(l["sizeof_size_t"], size_of::<usize>() as i64);
    assert_eq!(l["sizeof_pointer"], size_of::<*const u8>() as i64);
    assert_eq!(l["sizeof_sq_progress_fn"], size_of::<sys::sq_progress_fn>() as i64);
    assert_eq!(l["sizeof_sq_tensor_sink_fn"], size_of::<sys::sq_tensor_sink_fn>() as i64);
    assert_eq!(l["sizeof_sq_log_fn"], size_of::<sys::sq_log_fn>() as i64);
    assert_eq!(l["SQ_MAX_DIMS"], sys::SQ_MAX_DIMS as i64);
    let consts = [
        ("SQ_OK", sys::SQ_OK), ("SQ_ERR_INVALID_ARGUMENT", sys::SQ_ERR_INVALID_ARGUMENT), ("SQ_ERR_IO", sys::SQ_ERR_IO),
        ("SQ_ERR_FORMAT", sys::SQ_ERR_FORMAT), ("SQ_ERR_UNSUPPORTED", sys::SQ_ERR_UNSUPPORTED),
        ("SQ_ERR_OUT_OF_MEMORY", sys::SQ_ERR_OUT_OF_MEMORY), ("SQ_ERR_NUMERIC", sys::SQ_ERR_NUMERIC),
        ("SQ_ERR_CANCELLED", sys::SQ_ERR_CANCELLED), ("SQ_ERR_NOT_FOUND", sys::SQ_ERR_NOT_FOUND),
        ("SQ_ERR_DEVICE", sys::SQ_ERR_DEVICE), ("SQ_ERR_STATE", sys::SQ_ERR_STATE), ("SQ_ERR_INTERNAL", sys::SQ_ERR_INTERNAL),
        ("SQ_DTYPE_F32", sys::SQ_DTYPE_F32), ("SQ_DTYPE_F16", sys::SQ_DTYPE_F16), ("SQ_DTYPE_BF16", sys::SQ_DTYPE_BF16),
        ("SQ_DTYPE_I32", sys::SQ_DTYPE_I32), ("SQ_DTYPE_I8", sys::SQ_DTYPE_I8), ("SQ_DTYPE_U8", sys::SQ_DTYPE_U8),
        ("SQ_LOG_DEBUG", sys::SQ_LOG_DEBUG), ("SQ_LOG_INFO", sys::SQ_LOG_INFO), ("SQ_LOG_WARN", sys::SQ_LOG_WARN),
        ("SQ_LOG_ERROR", sys::SQ_LOG_ERROR),
    ];
    for (name, value) in consts {
        assert_eq!(l[name], value as i64, "{name}");
    }
    assert_eq!(l["SQ_VERSION_NUMBER"], streamquant::version_number() as i64);
}

#[test]
fn version_is_major_minor_patch() {
    let v: Vec<u32> = streamquant::version().split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0] * 10000 + v[1] * 100 + v[2], streamquant::version_number());
}

#[test]
fn bad_path_gives_the_library_message() {
    let ctx = Context::cpu().unwrap();
    let err = Model::open(&ctx, "/nonexistent/streamquant-model").err().expect("opening a missing path must fail");
    assert!(err.code == sys::SQ_ERR_IO || err.code == sys::SQ_ERR_NOT_FOUND, "{err}");
    assert!(err.message.contains("/nonexistent/streamquant-model"), "{err}");
    assert!(err.to_string().starts_with("SQ_ERR_"));
    let err = Context::new("tpu:3").err().unwrap();
    assert_eq!(err.code, sys::SQ_ERR_INVALID_ARGUMENT);
}

/// W [rows, cols] from the sink's packed GPTQ tensors (qzeros hold the zero points themselves).
fn dequantize(t: &HashMap<String, (Vec<i64>, Vec<u8>, i32)>, prefix: &str, bits: u32) -> Vec<f32> {
    let get = |s: &str| &t[&format!("{prefix}.{s}")];
    let as_i32 = |b: &Vec<u8>| b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u32).collect::<Vec<_>>();
    let (qshape, qweight) = (&get("qweight").0, as_i32(&get("qweight").1));
    let (qzeros, g_idx) = (as_i32(&get("qzeros").1), as_i32(&get("g_idx").1));
    let scales: Vec<f32> = get("scales").1.chunks_exact(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect();
    let rows = qshape[1] as usize;
    let cols = g_idx.len();
    let (per, mask) = ((32 / bits) as usize, (1u32 << bits) - 1);
    let zword = rows / per;
    let mut w = vec![0f32; rows * cols];
    for k in 0..cols {
        let g = g_idx[k] as usize;
        for n in 0..rows {
            let q = (qweight[(k / per) * rows + n] >> ((k % per) as u32 * bits)) & mask;
            let z = (qzeros[g * zword + n / per] >> ((n % per) as u32 * bits)) & mask;
            w[n * cols + k] = scales[g * rows + n] * (q as f32 - z as f32);
        }
    }
    w
}

#[test]
fn job_sink_tensors_equal_the_written_output() {
    let Some(model_dir) = env_path("SQ_TINY_MODEL") else { return };
    let mut ctx = Context::cpu().unwrap();
    ctx.set_threads(1).unwrap();
    let model = Model::open(&ctx, &model_dir).unwrap();
    let desc = model.describe_json();
    let (vocab, blocks) = (json_int(&desc, "vocab_size"), json_int(&desc, "num_blocks"));
    let q = model.find_tensor("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!(q.shape, vec![json_int(&desc, "hidden_size"); 2]);
    assert_eq!(model.read_f32(&q.name).unwrap().len(), q.numel());

    let tensors = RefCell::new(HashMap::new());
    let progress = RefCell::new(Vec::new());
    {
        let mut job = Job::new(&model).unwrap();
        job.set_option("method", "gptq").unwrap().set_option("bits", 4).unwrap().set_option("group_size", 32).unwrap();
        job.set_calibration_tokens(&calibration(vocab, 4 * 32), 32).unwrap();
        job.on_progress(|p| { progress.borrow_mut().push(p); false });
        job.on_tensor(|t| { tensors.borrow_mut().insert(t.name.to_string(), (t.shape.to_vec(), t.data.to_vec(), t.dtype)); });
        job.run().unwrap();
        assert_eq!(job.progress().unwrap(), (blocks, blocks));
        let out = std::env::temp_dir().join(format!("sq-rust-binding-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        job.write(&out, "gptq").unwrap();
        let quantized = Model::open(&ctx, &out).unwrap();
        let tensors = tensors.borrow();
        let prefixes: BTreeSet<String> = tensors.keys().map(|k| k.rsplit_once('.').unwrap().0.to_string()).collect();
        assert_eq!(prefixes.len() as i64, 7 * blocks);
        for prefix in &prefixes {
            assert_eq!(tensors[&format!("{prefix}.qweight")].2, sys::SQ_DTYPE_I32);
            let expected = quantized.read_f32(&format!("{prefix}.weight")).unwrap();
            assert_eq!(dequantize(&tensors, prefix, 4), expected, "{prefix}");
        }
        drop(quantized);
        std::fs::remove_dir_all(&out).unwrap();
    }
    let done: Vec<i64> = progress.borrow().iter().map(|p| p.done).collect();
    assert_eq!(done, (1..=blocks).collect::<Vec<_>>());
}

#[test]
fn cancel_from_progress_and_panics_resume() {
    let Some(model_dir) = env_path("SQ_TINY_MODEL") else { return };
    let ctx = Context::cpu().unwrap();
    let model = Model::open(&ctx, &model_dir).unwrap();
    let vocab = json_int(&model.describe_json(), "vocab_size");
    let calls = std::cell::Cell::new(0); // declared before the job: the closure borrows it
    let mut job = Job::new(&model).unwrap();
    job.set_option("method", "rtn").unwrap();
    job.set_calibration_tokens(&calibration(vocab, 2 * 16), 16).unwrap();
    job.on_progress(|_| { calls.set(calls.get() + 1); true });
    let err = job.run().unwrap_err();
    assert_eq!(err.code, sys::SQ_ERR_CANCELLED, "{err}");
    assert_eq!(calls.get(), 1);
    assert_eq!(job.write("/nonexistent/out", "gptq").unwrap_err().code, sys::SQ_ERR_STATE);

    let mut job = Job::new(&model).unwrap();
    job.set_option("method", "rtn").unwrap();
    job.set_calibration_tokens(&calibration(vocab, 2 * 16), 16).unwrap();
    job.on_progress(|_| panic!("stop from a closure"));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
    let payload = caught.err().expect("the closure's panic resumes after the C call");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"stop from a closure"));
}

#[test]
fn quantize_layer_and_tokenizer() {
    let (rows, cols) = (8usize, 64usize);
    let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 1000.0).collect();
    let layer = quantize_layer(None, &w, rows, cols, None, &[("method", "rtn"), ("bits", "4"), ("group_size", "32")]).unwrap();
    let (codes, dq) = (layer.tensor_bytes("codes").unwrap().1, layer.tensor_f32("dequant").unwrap());
    let (scales, zeros, g_idx) = (layer.tensor_f32("scales").unwrap(), layer.tensor_f32("zeros").unwrap(), layer.tensor_i32("g_idx").unwrap());
    for n in 0..rows {
        for k in 0..cols {
            let g = g_idx[k] as usize;
            assert_eq!(dq[n * cols + k], scales[g * rows + n] * (codes[n * cols + k] as f32 - zeros[g * rows + n]));
        }
    }
    let err = quantize_layer(None, &w, rows, cols, None, &[("bits", "5")]).err().unwrap();
    assert!(err.code == sys::SQ_ERR_INVALID_ARGUMENT && err.message.contains("bits"), "{err}");

    let Some(model_dir) = env_path("SQ_TINY_MODEL") else { return };
    let ctx = Context::cpu().unwrap();
    let mut model = Model::open(&ctx, &model_dir).unwrap();
    let tok = Tokenizer::from_model(&model).unwrap();
    let ids = tok.encode("Hello, streamed quantization!", false).unwrap();
    assert_eq!(tok.decode(&ids, false).unwrap(), "Hello, streamed quantization!");
    assert_eq!(Tokenizer::open(model_dir.join("tokenizer.json")).unwrap().encode("Hello", false).unwrap(), tok.encode("Hello", false).unwrap());
    let vocab = json_int(&model.describe_json(), "vocab_size");
    let ppl = model.perplexity(&calibration(vocab, 64), 32, 0).unwrap();
    assert!(ppl.is_finite() && ppl > 1.0);
}
