//! Safe bindings to libstreamquant. Every C object is owned by a Rust value and freed by Drop; every
//! fallible call returns `Result<T, Error>` carrying the library's pinned code and message.
mod context;
mod error;
mod job;
mod layer;
mod model;
mod tokenizer;

pub use context::Context;
pub use error::{Error, Result};
pub use job::{f16_to_f32, Job, Progress, SinkTensor};
pub use layer::{quantize_layer, QuantizedLayer};
pub use model::{Model, TensorInfo};
pub use tokenizer::Tokenizer;
pub use streamquant_sys as sys;

use std::ffi::CStr;

/// The runtime library version, "MAJOR.MINOR.PATCH".
pub fn version() -> String {
    unsafe { CStr::from_ptr(sys::sq_version()) }.to_string_lossy().into_owned()
}

/// The runtime library version as MAJOR*10000 + MINOR*100 + PATCH.
pub fn version_number() -> u32 {
    unsafe { sys::sq_version_number() }
}

/// Short name of a dtype ("F32", "BF16", ...).
pub fn dtype_name(dtype: i32) -> String {
    unsafe { CStr::from_ptr(sys::sq_dtype_name(dtype)) }.to_string_lossy().into_owned()
}
