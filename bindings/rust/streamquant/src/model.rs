use std::ffi::CStr;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr;

use crate::context::Context;
use crate::error::{check, cstring, Error, Result};
use streamquant_sys as sys;

/// Name, dtype (SQ_DTYPE_*) and shape of a model tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: i32,
    pub shape: Vec<i64>,
}

impl TensorInfo {
    pub fn numel(&self) -> usize {
        self.shape.iter().product::<i64>() as usize
    }
}

/// An opened model; it borrows the context, which must outlive it.
pub struct Model<'c> {
    pub(crate) raw: *mut sys::sq_model,
    _ctx: PhantomData<&'c Context>,
}

fn path_cstring(path: &Path) -> Result<std::ffi::CString> {
    let s = path.to_str().ok_or_else(|| Error::invalid(format!("path {} is not valid UTF-8", path.display())))?;
    cstring(s, "path")
}

impl<'c> Model<'c> {
    pub fn open(ctx: &'c Context, path: impl AsRef<Path>) -> Result<Model<'c>> {
        let path = path_cstring(path.as_ref())?;
        let mut raw = ptr::null_mut();
        check(unsafe { sys::sq_model_open(&mut raw, ctx.raw, path.as_ptr()) })?;
        Ok(Model { raw, _ctx: PhantomData })
    }

    pub fn tensor_count(&self) -> usize {
        unsafe { sys::sq_model_tensor_count(self.raw) }
    }

    pub fn tensor_info(&self, index: usize) -> Result<TensorInfo> {
        let (mut name, mut dtype, mut ndim) = (ptr::null(), 0i32, 0i32);
        let mut dims = [0i64; sys::SQ_MAX_DIMS];
        check(unsafe { sys::sq_model_tensor_info(self.raw, index, &mut name, &mut dtype, &mut ndim, dims.as_mut_ptr()) })?;
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
        Ok(TensorInfo { name, dtype, shape: dims[..ndim as usize].to_vec() })
    }

    pub fn tensors(&self) -> Result<Vec<TensorInfo>> {
        (0..self.tensor_count()).map(|i| self.tensor_info(i)).collect()
    }

    pub fn find_tensor(&self, name: &str) -> Result<TensorInfo> {
        let cname = cstring(name, "tensor name")?;
        let mut index = 0usize;
        check(unsafe { sys::sq_model_find_tensor(self.raw, cname.as_ptr(), &mut index) })?;
        self.tensor_info(index)
    }

    /// Tensor `name` as fp32 (row-major, shape from `find_tensor`).
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>> {
        let info = self.find_tensor(name)?;
        let cname = cstring(name, "tensor name")?;
        let mut out = vec![0f32; info.numel()];
        check(unsafe { sys::sq_model_read_tensor_f32(self.raw, cname.as_ptr(), out.as_mut_ptr(), out.len()) })?;
        Ok(out)
    }

    /// The library's JSON description of the model.
    pub fn describe_json(&self) -> String {
        unsafe { CStr::from_ptr(sys::sq_model_describe_json(self.raw)) }.to_string_lossy().into_owned()
    }

    /// Perplexity over non-overlapping windows of `seq_len` tokens (see sq_eval.h).
    pub fn perplexity(&mut self, tokens: &[i32], seq_len: usize, max_tokens: usize) -> Result<f64> {
        let mut ppl = 0f64;
        check(unsafe {
            sys::sq_model_perplexity(self.raw, tokens.as_ptr(), tokens.len(), seq_len, max_tokens, &mut ppl, ptr::null_mut())
        })?;
        Ok(ppl)
    }
}

impl Drop for Model<'_> {
    fn drop(&mut self) {
        unsafe { sys::sq_model_free(self.raw) }
    }
}
