// Two quantized layers that must be the same bits: a device path against the CPU reference.
#pragma once
#include <gtest/gtest.h>

#include "quant/quantized_layer.hpp"

namespace sqtest {

inline void expect_identical_layers(const sq::QuantizedLayer& out, const sq::QuantizedLayer& ref) {
  EXPECT_EQ(out.codes, ref.codes);
  EXPECT_EQ(out.dequant, ref.dequant);
  EXPECT_EQ(out.scales, ref.scales);
  EXPECT_EQ(out.zeros, ref.zeros);
  EXPECT_EQ(out.lut, ref.lut);
  EXPECT_EQ(out.column_bits, ref.column_bits);  // CLAQ's per-column grids
  EXPECT_EQ(out.column_lut_offset, ref.column_lut_offset);
  EXPECT_EQ(out.column_lut, ref.column_lut);
  EXPECT_EQ(out.g_idx, ref.g_idx);
  EXPECT_EQ(out.outliers.row_ptr, ref.outliers.row_ptr);
  EXPECT_EQ(out.outliers.col, ref.outliers.col);
  EXPECT_EQ(out.outliers.val, ref.outliers.val);
  EXPECT_EQ(out.objective, ref.objective);
}

}  // namespace sqtest
