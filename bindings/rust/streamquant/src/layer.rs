use std::ptr;

use crate::context::Context;
use crate::error::{check, cstring, Error, Result};
use streamquant_sys as sys;

/// The result of `quantize_layer`; tensors are read by name (see sq_layer.h).
pub struct QuantizedLayer {
    raw: *mut sys::sq_quantized_layer,
}

struct Options(*mut sys::sq_layer_options);

impl Drop for Options {
    fn drop(&mut self) {
        unsafe { sys::sq_layer_options_free(self.0) }
    }
}

/// Quantize `w` [rows, cols] (row-major) with the Hessian `h` [cols, cols] (None for RTN).
pub fn quantize_layer(
    ctx: Option<&Context>,
    w: &[f32],
    rows: usize,
    cols: usize,
    h: Option<&[f32]>,
    options: &[(&str, &str)],
) -> Result<QuantizedLayer> {
    if w.len() != rows * cols || h.map_or(false, |h| h.len() != cols * cols) {
        return Err(Error::invalid(format!("W must hold {rows}x{cols} and H {cols}x{cols} floats")));
    }
    let mut opts = Options(ptr::null_mut());
    check(unsafe { sys::sq_layer_options_create(&mut opts.0) })?;
    for (k, v) in options {
        let (k, v) = (cstring(k, "option key")?, cstring(v, "option value")?);
        check(unsafe { sys::sq_layer_options_set(opts.0, k.as_ptr(), v.as_ptr()) })?;
    }
    let mut raw = ptr::null_mut();
    let ctx = ctx.map_or(ptr::null_mut(), |c| c.raw);
    let h = h.map_or(ptr::null(), |h| h.as_ptr());
    check(unsafe { sys::sq_quantize_layer(&mut raw, ctx, w.as_ptr(), rows, cols, h, opts.0) })?;
    Ok(QuantizedLayer { raw })
}

impl QuantizedLayer {
    pub fn get_int(&self, key: &str) -> Result<i64> {
        let (k, mut out) = (cstring(key, "key")?, 0i64);
        check(unsafe { sys::sq_quantized_layer_get_int(&mut out, self.raw, k.as_ptr()) })?;
        Ok(out)
    }

    pub fn get_double(&self, key: &str) -> Result<f64> {
        let (k, mut out) = (cstring(key, "key")?, 0f64);
        check(unsafe { sys::sq_quantized_layer_get_double(&mut out, self.raw, k.as_ptr()) })?;
        Ok(out)
    }

    /// (dtype, raw little-endian bytes) of tensor `name`.
    pub fn tensor_bytes(&self, name: &str) -> Result<(i32, Vec<u8>)> {
        let (n, mut dtype, mut count) = (cstring(name, "tensor name")?, 0i32, 0usize);
        check(unsafe { sys::sq_quantized_layer_tensor_info(&mut dtype, &mut count, self.raw, n.as_ptr()) })?;
        let size = match dtype {
            sys::SQ_DTYPE_F32 | sys::SQ_DTYPE_I32 => 4,
            sys::SQ_DTYPE_F16 | sys::SQ_DTYPE_BF16 => 2,
            _ => 1,
        };
        let mut out = vec![0u8; count * size];
        check(unsafe { sys::sq_quantized_layer_read(out.as_mut_ptr().cast(), out.len(), self.raw, n.as_ptr()) })?;
        Ok((dtype, out))
    }

    /// An F32 tensor (dequant, scales, zeros, lut).
    pub fn tensor_f32(&self, name: &str) -> Result<Vec<f32>> {
        let (_, b) = self.tensor_bytes(name)?;
        Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// An I32 tensor (g_idx, perm, qweight, qzeros).
    pub fn tensor_i32(&self, name: &str) -> Result<Vec<i32>> {
        let (_, b) = self.tensor_bytes(name)?;
        Ok(b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

impl Drop for QuantizedLayer {
    fn drop(&mut self) {
        unsafe { sys::sq_quantized_layer_free(self.raw) }
    }
}
