use std::ffi::CStr;
use std::ptr;

use crate::error::{check, cstring, Result};
use streamquant_sys as sys;

/// Where work runs ("cpu" or "cuda:N") and with how many threads. Models borrow it.
pub struct Context {
    pub(crate) raw: *mut sys::sq_context,
}

impl Context {
    pub fn new(device: &str) -> Result<Context> {
        let device = cstring(device, "device")?;
        let mut raw = ptr::null_mut();
        check(unsafe { sys::sq_context_create(&mut raw, device.as_ptr()) })?;
        Ok(Context { raw })
    }

    pub fn cpu() -> Result<Context> {
        Context::new("cpu")
    }

    /// Worker threads; 0 = all hardware threads.
    pub fn set_threads(&mut self, threads: i32) -> Result<()> {
        check(unsafe { sys::sq_context_set_threads(self.raw, threads) })
    }

    pub fn device(&self) -> String {
        unsafe { CStr::from_ptr(sys::sq_context_device(self.raw)) }.to_string_lossy().into_owned()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        unsafe { sys::sq_context_free(self.raw) }
    }
}
