//! Hand-written declarations of the libstreamquant C ABI, one to one with include/streamquant/*.h.
//! Every object is an opaque handle; no struct crosses the boundary.
#![allow(non_camel_case_types)]
use std::os::raw::{c_char, c_void};

macro_rules! opaque {
    ($($name:ident),*) => { $( #[repr(C)] pub struct $name { _private: [u8; 0] } )* };
}
opaque!(sq_error, sq_context, sq_model, sq_job, sq_layer_options, sq_quantized_layer, sq_tokenizer);

pub const SQ_MAX_DIMS: usize = 8;

pub const SQ_OK: i32 = 0;
pub const SQ_ERR_INVALID_ARGUMENT: i32 = 1;
pub const SQ_ERR_IO: i32 = 2;
pub const SQ_ERR_FORMAT: i32 = 3;
pub const SQ_ERR_UNSUPPORTED: i32 = 4;
pub const SQ_ERR_OUT_OF_MEMORY: i32 = 5;
pub const SQ_ERR_NUMERIC: i32 = 6;
pub const SQ_ERR_CANCELLED: i32 = 7;
pub const SQ_ERR_NOT_FOUND: i32 = 8;
pub const SQ_ERR_DEVICE: i32 = 9;
pub const SQ_ERR_STATE: i32 = 10;
pub const SQ_ERR_INTERNAL: i32 = 99;

pub const SQ_DTYPE_F32: i32 = 0;
pub const SQ_DTYPE_F16: i32 = 1;
pub const SQ_DTYPE_BF16: i32 = 2;
pub const SQ_DTYPE_I32: i32 = 3;
pub const SQ_DTYPE_I8: i32 = 4;
pub const SQ_DTYPE_U8: i32 = 5;

pub const SQ_LOG_DEBUG: i32 = 0;
pub const SQ_LOG_INFO: i32 = 1;
pub const SQ_LOG_WARN: i32 = 2;
pub const SQ_LOG_ERROR: i32 = 3;

pub type sq_log_fn = Option<unsafe extern "C" fn(level: i32, message: *const c_char, user_data: *mut c_void)>;
pub type sq_progress_fn = Option<
    unsafe extern "C" fn(blocks_done: i64, block_count: i64, elapsed_s: f64, eta_s: f64, user_data: *mut c_void) -> i32,
>;
pub type sq_tensor_sink_fn = Option<
    unsafe extern "C" fn(
        name: *const c_char,
        dtype: i32,
        ndim: i32,
        dims: *const i64,
        data: *const c_void,
        nbytes: usize,
        user_data: *mut c_void,
    ),
>;

extern "C" {
    // sq_core.h
    pub fn sq_version_number() -> u32;
    pub fn sq_version() -> *const c_char;
    pub fn sq_error_code(err: *const sq_error) -> i32;
    pub fn sq_error_message(err: *const sq_error) -> *const c_char;
    pub fn sq_error_free(err: *mut sq_error);
    pub fn sq_error_code_name(code: i32) -> *const c_char;
    pub fn sq_dtype_name(dtype: i32) -> *const c_char;
    pub fn sq_context_create(out: *mut *mut sq_context, device: *const c_char) -> *mut sq_error;
    pub fn sq_context_free(ctx: *mut sq_context);
    pub fn sq_context_set_threads(ctx: *mut sq_context, threads: i32) -> *mut sq_error;
    pub fn sq_context_set_log(ctx: *mut sq_context, f: sq_log_fn, min_level: i32, user_data: *mut c_void)
        -> *mut sq_error;
    pub fn sq_context_set_memory_budget(ctx: *mut sq_context, bytes: u64) -> *mut sq_error;
    pub fn sq_context_set_matmul_precision(ctx: *mut sq_context, precision: *const c_char) -> *mut sq_error;
    pub fn sq_context_device(ctx: *const sq_context) -> *const c_char;
    pub fn sq_build_has_cuda() -> i32;

    // sq_model.h
    pub fn sq_model_open(out: *mut *mut sq_model, ctx: *mut sq_context, path_utf8: *const c_char) -> *mut sq_error;
    pub fn sq_model_free(model: *mut sq_model);
    pub fn sq_model_tensor_count(model: *const sq_model) -> usize;
    pub fn sq_model_tensor_info(
        model: *const sq_model,
        index: usize,
        name_out: *mut *const c_char,
        dtype_out: *mut i32,
        ndim_out: *mut i32,
        dims_out: *mut i64,
    ) -> *mut sq_error;
    pub fn sq_model_find_tensor(model: *const sq_model, name: *const c_char, index_out: *mut usize) -> *mut sq_error;
    pub fn sq_model_read_tensor_f32(
        model: *const sq_model,
        name: *const c_char,
        dst: *mut f32,
        dst_count: usize,
    ) -> *mut sq_error;
    pub fn sq_model_describe_json(model: *const sq_model) -> *const c_char;
    pub fn sq_model_save_hf(model: *const sq_model, out_dir_utf8: *const c_char, dtype: i32) -> *mut sq_error;

    // sq_eval.h
    pub fn sq_model_logits(
        model: *mut sq_model,
        tokens: *const i32,
        n: usize,
        logits_out: *mut f32,
        capacity: usize,
    ) -> *mut sq_error;
    pub fn sq_model_perplexity(
        model: *mut sq_model,
        tokens: *const i32,
        n: usize,
        seq_len: usize,
        max_tokens: usize,
        ppl_out: *mut f64,
        tokens_scored_out: *mut usize,
    ) -> *mut sq_error;

    // sq_job.h
    pub fn sq_job_create(out: *mut *mut sq_job, model: *mut sq_model) -> *mut sq_error;
    pub fn sq_job_free(job: *mut sq_job);
    pub fn sq_job_set_option(job: *mut sq_job, key: *const c_char, value: *const c_char) -> *mut sq_error;
    pub fn sq_job_set_calibration_tokens(job: *mut sq_job, tokens: *const i32, n_seqs: usize, seq_len: usize)
        -> *mut sq_error;
    pub fn sq_job_set_calibration_file(job: *mut sq_job, path_utf8: *const c_char) -> *mut sq_error;
    pub fn sq_job_set_progress(job: *mut sq_job, f: sq_progress_fn, user_data: *mut c_void) -> *mut sq_error;
    pub fn sq_job_set_tensor_sink(job: *mut sq_job, f: sq_tensor_sink_fn, user_data: *mut c_void) -> *mut sq_error;
    pub fn sq_job_set_checkpoint_dir(job: *mut sq_job, dir_utf8: *const c_char, resume: i32) -> *mut sq_error;
    pub fn sq_job_step(job: *mut sq_job, out_done: *mut i32) -> *mut sq_error;
    pub fn sq_job_run(job: *mut sq_job) -> *mut sq_error;
    pub fn sq_job_progress(job: *const sq_job, done_out: *mut i64, count_out: *mut i64) -> *mut sq_error;
    pub fn sq_job_write(job: *mut sq_job, out_dir_utf8: *const c_char, format: *const c_char) -> *mut sq_error;

    // sq_layer.h
    pub fn sq_layer_options_create(out: *mut *mut sq_layer_options) -> *mut sq_error;
    pub fn sq_layer_options_free(opts: *mut sq_layer_options);
    pub fn sq_layer_options_set(opts: *mut sq_layer_options, key: *const c_char, value: *const c_char)
        -> *mut sq_error;
    pub fn sq_quantize_layer(
        out: *mut *mut sq_quantized_layer,
        ctx: *mut sq_context,
        w: *const f32,
        rows: usize,
        cols: usize,
        h: *const f32,
        opts: *const sq_layer_options,
    ) -> *mut sq_error;
    pub fn sq_quantized_layer_free(layer: *mut sq_quantized_layer);
    pub fn sq_quantized_layer_get_int(out: *mut i64, layer: *const sq_quantized_layer, key: *const c_char)
        -> *mut sq_error;
    pub fn sq_quantized_layer_get_double(out: *mut f64, layer: *const sq_quantized_layer, key: *const c_char)
        -> *mut sq_error;
    pub fn sq_quantized_layer_tensor_info(
        dtype_out: *mut i32,
        count_out: *mut usize,
        layer: *const sq_quantized_layer,
        name: *const c_char,
    ) -> *mut sq_error;
    pub fn sq_quantized_layer_read(
        out: *mut c_void,
        out_bytes: usize,
        layer: *const sq_quantized_layer,
        name: *const c_char,
    ) -> *mut sq_error;

    // sq_tokenizer.h
    pub fn sq_tokenizer_open(out: *mut *mut sq_tokenizer, path_utf8: *const c_char) -> *mut sq_error;
    pub fn sq_tokenizer_open_json(out: *mut *mut sq_tokenizer, json: *const c_char, len: usize) -> *mut sq_error;
    pub fn sq_tokenizer_from_model(out: *mut *mut sq_tokenizer, model: *const sq_model) -> *mut sq_error;
    pub fn sq_tokenizer_free(tok: *mut sq_tokenizer);
    pub fn sq_tokenizer_encode(
        tok: *const sq_tokenizer,
        text: *const c_char,
        len: usize,
        add_special: i32,
        ids: *mut i32,
        capacity: usize,
        count_out: *mut usize,
    ) -> *mut sq_error;
    pub fn sq_tokenizer_decode(
        tok: *const sq_tokenizer,
        ids: *const i32,
        count: usize,
        skip_special: i32,
        text: *mut c_char,
        capacity: usize,
        len_out: *mut usize,
    ) -> *mut sq_error;
    pub fn sq_tokenizer_vocab_size(tok: *const sq_tokenizer) -> usize;
    pub fn sq_tokenizer_token_to_id(tok: *const sq_tokenizer, token: *const c_char, id_out: *mut i32)
        -> *mut sq_error;
    pub fn sq_tokenizer_id_to_token(
        tok: *const sq_tokenizer,
        id: i32,
        token_out: *mut *const c_char,
        special_out: *mut i32,
    ) -> *mut sq_error;
}
