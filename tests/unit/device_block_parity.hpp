// The device block forward (model/device_block.hpp) against the host block_forward on the CPU backend, for
// any backend with a device: the host stand-in in the unit tests, a GPU in tests/cuda.
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend_parity.hpp"
#include "model/device_block.hpp"
#include "pipeline/device_hessian.hpp"
#include "pipeline/hessian.hpp"
#include "tiny_model.hpp"

namespace sqtest {

struct DeviceBlockParity {
  double hidden = 0;                 // relative error of the block's outputs
  std::array<double, 4> hessian{};   // relative error of each linear group's Hessian (QKV, O, GateUp, Down)
  int64_t score_heads = 0;
};

// How far a block run with reduced GEMM inputs (--gpu-matmul) may move from the fp32 forward, relative, for the
// tiny 8-head model at 300 tokens: outputs and every group's Hessian. The host stand-in, which rounds the GEMMs'
// inputs to bf16 (not the attention's batched GEMMs or the Hessian SYRKs, which a GPU rounds too), measured
// 4.3e-3 for the outputs and at most 3.4e-3 for the Hessians; the bounds leave room for the GPU's extra roundings.
// TF32 keeps 2 more mantissa bits than bf16, so a quarter of the bf16 bound.
constexpr double kBf16BlockTolerance = 2e-2;
constexpr double kTf32BlockTolerance = 5e-3;

// `sequences` random sequences of `tokens` tokens through block 1 of a tiny model of config c, on `be`'s
// device (its block sized for max_tokens) and on the CPU.
inline DeviceBlockParity device_block_parity(sq::Backend& be, const sq::ModelConfig& c, int64_t tokens,
                                             int64_t max_tokens, uint32_t seed, int64_t sequences = 2) {
  const auto src = make_tiny_model(c, seed);
  const sq::BlockWeights w = sq::load_block_weights(src, c, 1);
  const sq::RopeTables rope = sq::make_rope_tables(c, max_tokens);
  sq::DeviceHandle* dev = be.device();
  if (dev == nullptr) {
    ADD_FAILURE() << "backend " << be.name() << " has no device";
    return {};
  }
  sq::DeviceBlock block(*dev, c, w, rope, max_tokens);
  DeviceBlockParity p;
  p.score_heads = block.score_heads();
  std::vector<float> out, ref;
  const sq::LinearGroup groups[] = {sq::LinearGroup::QKV, sq::LinearGroup::O, sq::LinearGroup::GateUp,
                                    sq::LinearGroup::Down};
  for (sq::LinearGroup g : groups) {
    std::unique_ptr<sq::DeviceHessian> dh;
    std::unique_ptr<sq::HessianAccumulator> hh;
    const sq::DeviceCaptureFn dcap = [&](sq::LinearGroup cg, const float* x, int64_t t, int64_t in) {
      if (cg != g) return;
      if (!dh) dh = std::make_unique<sq::DeviceHessian>(*dev, in);
      dh->add(x, t);
    };
    const sq::CaptureFn hcap = [&](sq::LinearGroup cg, const float* x, int64_t t, int64_t in) {
      if (cg != g) return;
      if (!hh) hh = std::make_unique<sq::HessianAccumulator>(in);
      hh->add(sq::default_cpu_backend(), x, t);
    };
    for (int64_t s = 0; s < sequences; ++s) {
      const auto x = random_matrix(size_t(tokens * c.hidden_size), seed + 100 + uint32_t(s));
      auto d = x, h = x;
      block.forward(d.data(), tokens, &dcap, g);
      EXPECT_EQ(d, x) << "a pass that stops after a group must leave the hidden state alone";
      if (g == sq::LinearGroup::Down) {  // the last group: also the full pass, once per sequence
        d = x;
        block.forward(d.data(), tokens);
        sq::block_forward(sq::default_cpu_backend(), c, w, rope, h.data(), tokens, &hcap);
        out.insert(out.end(), d.begin(), d.end());
        ref.insert(ref.end(), h.begin(), h.end());
      } else {
        sq::block_forward(sq::default_cpu_backend(), c, w, rope, h.data(), tokens, &hcap, g);
      }
    }
    if (!dh || !hh) {
      ADD_FAILURE() << "group " << int(g) << " was not captured";
      continue;
    }
    p.hessian[size_t(g)] = relative_error(dh->download().matrix(), hh->matrix());
  }
  p.hidden = relative_error(out, ref);
  return p;
}

}  // namespace sqtest
