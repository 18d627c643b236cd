use std::any::Any;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr;

use crate::error::{check, cstring, Error, Result};
use crate::model::Model;
use streamquant_sys as sys;

/// Progress after each block (for a progress bar: position = done, length = total).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
    pub elapsed_s: f64,
    pub eta_s: f64,
}

/// One packed tensor handed to the sink; `data` is borrowed for the duration of the call only.
pub struct SinkTensor<'a> {
    pub name: &'a str,
    pub dtype: i32,
    pub shape: &'a [i64],
    pub data: &'a [u8],
}

impl SinkTensor<'_> {
    /// The data as little-endian int32 (qweight, qzeros, g_idx).
    pub fn to_i32(&self) -> Vec<i32> {
        self.data.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }

    /// The data as f32, converting from F16 or F32 storage (scales, lookup_table).
    pub fn to_f32(&self) -> Vec<f32> {
        match self.dtype {
            sys::SQ_DTYPE_F16 => self.data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            _ => self.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        }
    }
}

/// IEEE half -> single (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 => if frac == 0.0 { f32::INFINITY } else { f32::NAN },
        _ => (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
    }
}

// Callback state lives in a Box so its address stays fixed while C holds it as user_data.
// A panic inside a closure is caught (it must not unwind through C), cancels the run, and is resumed
// once the library call has returned.
#[derive(Default)]
struct Callbacks<'m> {
    progress: Option<Box<dyn FnMut(Progress) -> bool + 'm>>,
    sink: Option<Box<dyn FnMut(SinkTensor<'_>) + 'm>>,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn progress_trampoline(done: i64, total: i64, elapsed_s: f64, eta_s: f64, user: *mut c_void) -> i32 {
    let cb = &mut *(user as *mut Callbacks);
    let Some(f) = cb.progress.as_mut() else { return 0 };
    match catch_unwind(AssertUnwindSafe(|| f(Progress { done, total, elapsed_s, eta_s }))) {
        Ok(cancel) => cancel as i32,
        Err(payload) => {
            cb.panic.get_or_insert(payload);
            1
        }
    }
}

unsafe extern "C" fn sink_trampoline(
    name: *const c_char,
    dtype: i32,
    ndim: i32,
    dims: *const i64,
    data: *const c_void,
    nbytes: usize,
    user: *mut c_void,
) {
    let cb = &mut *(user as *mut Callbacks);
    if cb.panic.is_some() {
        return;
    }
    let Some(f) = cb.sink.as_mut() else { return };
    let name = CStr::from_ptr(name).to_string_lossy();
    let shape = if ndim > 0 { std::slice::from_raw_parts(dims, ndim as usize) } else { &[] };
    let data = if nbytes > 0 { std::slice::from_raw_parts(data as *const u8, nbytes) } else { &[] };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(SinkTensor { name: &name, dtype, shape, data }))) {
        cb.panic = Some(payload);
    }
}

/// A streaming quantization job on a model that outlives it.
pub struct Job<'m> {
    raw: *mut sys::sq_job,
    callbacks: Box<Callbacks<'m>>,
    _model: PhantomData<&'m Model<'m>>,
}

impl<'m> Job<'m> {
    pub fn new(model: &'m Model) -> Result<Job<'m>> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::sq_job_create(&mut raw, model.raw) })?;
        let mut job = Job { raw, callbacks: Box::default(), _model: PhantomData };
        let user = &mut *job.callbacks as *mut Callbacks as *mut c_void;
        check(unsafe { sys::sq_job_set_progress(job.raw, Some(progress_trampoline), user) })?;
        check(unsafe { sys::sq_job_set_tensor_sink(job.raw, Some(sink_trampoline), user) })?;
        Ok(job)
    }

    /// Set one option (see sq_job.h: method, bits, group_size, sym, act_order, damp, nsamples, seqlen, ...).
    pub fn set_option(&mut self, key: &str, value: impl ToString) -> Result<&mut Self> {
        let (k, v) = (cstring(key, "option key")?, cstring(&value.to_string(), "option value")?);
        check(unsafe { sys::sq_job_set_option(self.raw, k.as_ptr(), v.as_ptr()) })?;
        Ok(self)
    }

    /// Calibration samples: `tokens` holds n_seqs rows of `seq_len` ids.
    pub fn set_calibration_tokens(&mut self, tokens: &[i32], seq_len: usize) -> Result<()> {
        if seq_len == 0 || tokens.len() % seq_len != 0 {
            return Err(Error::invalid(format!("{} calibration tokens are not rows of {seq_len}", tokens.len())));
        }
        check(unsafe { sys::sq_job_set_calibration_tokens(self.raw, tokens.as_ptr(), tokens.len() / seq_len, seq_len) })
    }

    pub fn set_calibration_file(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let p = path.as_ref().to_str().ok_or_else(|| Error::invalid("calibration path is not valid UTF-8"))?;
        let p = cstring(p, "path")?;
        check(unsafe { sys::sq_job_set_calibration_file(self.raw, p.as_ptr()) })
    }

    /// Called after each block; return true to cancel (the run then fails with SQ_ERR_CANCELLED).
    pub fn on_progress(&mut self, f: impl FnMut(Progress) -> bool + 'm) {
        self.callbacks.progress = Some(Box::new(f));
    }

    /// Receives each packed tensor as soon as its block is done.
    pub fn on_tensor(&mut self, f: impl FnMut(SinkTensor<'_>) + 'm) {
        self.callbacks.sink = Some(Box::new(f));
    }

    fn call(&mut self, f: impl FnOnce(*mut sys::sq_job) -> *mut sys::sq_error) -> Result<()> {
        let result = check(f(self.raw));
        if let Some(payload) = self.callbacks.panic.take() {
            resume_unwind(payload);
        }
        result
    }

    /// Quantize one block; Ok(true) when every block is done.
    pub fn step(&mut self) -> Result<bool> {
        let mut done = 0i32;
        self.call(|raw| unsafe { sys::sq_job_step(raw, &mut done) })?;
        Ok(done != 0)
    }

    pub fn run(&mut self) -> Result<()> {
        self.call(|raw| unsafe { sys::sq_job_run(raw) })
    }

    /// (blocks done, block count).
    pub fn progress(&self) -> Result<(i64, i64)> {
        let (mut done, mut count) = (0i64, 0i64);
        check(unsafe { sys::sq_job_progress(self.raw, &mut done, &mut count) })?;
        Ok((done, count))
    }

    /// Write the finished job as "gptq", "lut" or "sq".
    pub fn write(&mut self, out_dir: impl AsRef<Path>, format: &str) -> Result<()> {
        let d = out_dir.as_ref().to_str().ok_or_else(|| Error::invalid("output path is not valid UTF-8"))?;
        let (d, f) = (cstring(d, "path")?, cstring(format, "format")?);
        check(unsafe { sys::sq_job_write(self.raw, d.as_ptr(), f.as_ptr()) })
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        unsafe { sys::sq_job_free(self.raw) }
    }
}
