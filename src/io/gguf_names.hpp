// How llama.cpp's GGUF conventions map onto Hugging Face ones: tensor names and the Q/K row order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sq {

// The Hugging Face name of a GGUF tensor ("blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight",
// "output.weight" -> "lm_head.weight", ...); "" for names with no Hugging Face counterpart.
std::string gguf_to_hf_tensor_name(const std::string& gguf_name);

// llama.cpp's converter reorders the rows of each Llama Q/K head so that the two RoPE halves interleave.
// Returns the GGUF row that holds Hugging Face row `hf_row`, for heads of `head_dim` rows (even).
inline size_t gguf_row_of_hf_row(size_t hf_row, size_t head_dim) {
  const size_t half = head_dim / 2;
  const size_t head = hf_row / head_dim, t = hf_row % head_dim;
  const size_t j = t / half, i = t % half;
  return head * head_dim + 2 * i + j;
}

}  // namespace sq
