use std::path::Path;
use std::ptr;

use crate::error::{check, cstring, Error, Result};
use crate::model::Model;
use streamquant_sys as sys;

/// A Hugging Face tokenizer.json (BPE) tokenizer.
pub struct Tokenizer {
    raw: *mut sys::sq_tokenizer,
}

impl Tokenizer {
    pub fn open(path: impl AsRef<Path>) -> Result<Tokenizer> {
        let p = path.as_ref().to_str().ok_or_else(|| Error::invalid("tokenizer path is not valid UTF-8"))?;
        let p = cstring(p, "path")?;
        let mut raw = ptr::null_mut();
        check(unsafe { sys::sq_tokenizer_open(&mut raw, p.as_ptr()) })?;
        Ok(Tokenizer { raw })
    }

    pub fn from_model(model: &Model) -> Result<Tokenizer> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::sq_tokenizer_from_model(&mut raw, model.raw) })?;
        Ok(Tokenizer { raw })
    }

    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<i32>> {
        let (p, n, special) = (text.as_ptr().cast(), text.len(), add_special as i32);
        let mut count = 0usize;
        check(unsafe { sys::sq_tokenizer_encode(self.raw, p, n, special, ptr::null_mut(), 0, &mut count) })?;
        let mut ids = vec![0i32; count];
        check(unsafe { sys::sq_tokenizer_encode(self.raw, p, n, special, ids.as_mut_ptr(), ids.len(), &mut count) })?;
        Ok(ids)
    }

    pub fn decode(&self, ids: &[i32], skip_special: bool) -> Result<String> {
        let mut len = 0usize;
        let skip = skip_special as i32;
        check(unsafe { sys::sq_tokenizer_decode(self.raw, ids.as_ptr(), ids.len(), skip, ptr::null_mut(), 0, &mut len) })?;
        let mut buf = vec![0u8; len + 1];
        check(unsafe {
            sys::sq_tokenizer_decode(self.raw, ids.as_ptr(), ids.len(), skip, buf.as_mut_ptr().cast(), buf.len(), &mut len)
        })?;
        buf.truncate(len);
        String::from_utf8(buf).map_err(|e| Error::invalid(format!("decoded text is not UTF-8: {e}")))
    }

    pub fn vocab_size(&self) -> usize {
        unsafe { sys::sq_tokenizer_vocab_size(self.raw) }
    }
}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        unsafe { sys::sq_tokenizer_free(self.raw) }
    }
}
