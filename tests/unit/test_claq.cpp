// CLAQ: column k-means inside the GPTQ sweep against GPTQ's per-row affine grid, adaptive precision
// reaching fractional averages, outlier reservation counts, the column-lut / outlier encoding, and option
// errors that name the option.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "pipeline/bit_packing.hpp"
#include "pipeline/job_options.hpp"
#include "pipeline/layer_codec.hpp"
#include "pipeline/quantize_call.hpp"
#include "backend_parity.hpp"
#include "correlated_hessian.hpp"
#include "quant/claq_columns.hpp"
#include "quant/layer_quantizer.hpp"
#include "util/half.hpp"

namespace {

// Bit-for-bit equality of two float arrays (memcmp on an empty vector's null data() is undefined behaviour).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

struct Layer {
  int64_t rows, cols;
  std::vector<float> w, h;
};

// H = 2/N X^T X with X = Z A D: correlated inputs of uneven scale. W is Gaussian; with heavy_tails a few
// columns are 4x wider (LLM weights have outlier input channels) and sparse entries 20x larger, so the
// outlier ranking and the reservation have work to do.
Layer correlated_layer(int64_t rows, int64_t cols, uint32_t seed, bool heavy_tails = true) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  Layer l{rows, cols, std::vector<float>(size_t(rows * cols)), correlated_hessian(cols, 2.0f, rng, normal)};
  std::vector<float> column_scale(size_t(cols), 1.0f);
  for (auto& s : column_scale) s = heavy_tails && unit(rng) < 0.05f ? 4.0f : 1.0f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      float v = 0.02f * normal(rng) * column_scale[size_t(j)];
      if (heavy_tails && unit(rng) < 0.003f) v *= 20.0f;
      l.w[size_t(r * cols + j)] = v;
    }
  return l;
}

sq::QuantizeOptions claq(const std::string& bits) { return sqtest::claq_options(bits); }

sq::QuantizedLayer run(const Layer& l, const sq::QuantizeOptions& o) {
  return sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o, sq::null_logger());
}

double mean_bits(const sq::QuantizedLayer& q) { return sq::mean_column_bits(q.column_bits); }

sq::QuantizedLayer round_trip(const sq::QuantizedLayer& l, nlohmann::json* scheme = nullptr) {
  const auto enc = sq::encode_layer(l);
  if (scheme) *scheme = enc.scheme;
  std::map<std::string, std::vector<uint8_t>> store;
  for (const auto& p : enc.payloads) store[p.part] = p.frame;
  return sq::decode_layer(enc.scheme, [&](const std::string& part) {
    const auto& v = store.at(part);
    return std::make_pair(v.data(), v.size());
  }, "layer");
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sq::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an sq::Error";
  return "";
}

}  // namespace

TEST(Claq, ColumnKMeansBeatsGptqAffine) {
  const int layers = 4;
  for (bool heavy : {false, true}) {
    std::printf("\nlayer objective tr((W-Q) H (W-Q)^T), %d random 128x256 layers (%s W), per-channel, no reservation\n",
                layers, heavy ? "heavy-tailed" : "Gaussian");
    std::printf("%-6s %5s %14s %14s %8s\n", "layer", "bits", "gptq", "claq", "ratio");
    for (int bits : {3, 4}) {
      double sum_gptq = 0, sum_claq = 0;
      for (int i = 0; i < layers; ++i) {
        const Layer l = correlated_layer(128, 256, 500u + uint32_t(i), heavy);
        sq::QuantizeOptions g;
        g.method = "gptq";
        g.bits = bits;
        const double og = run(l, g).objective;
        const sq::QuantizedLayer c = run(l, claq(std::to_string(bits)));
        EXPECT_EQ(c.grid, sq::GridKind::ColumnLut);
        EXPECT_TRUE(c.outliers.empty()) << "integer bits reserve nothing by default";
        EXPECT_DOUBLE_EQ(mean_bits(c), bits);
        std::printf("%-6d %5d %14.6g %14.6g %8.3f\n", i, bits, og, c.objective, c.objective / og);
        if (bits == 3) {
          EXPECT_LE(c.objective, og) << "layer " << i;
        }
        sum_gptq += og;
        sum_claq += c.objective;
      }
      std::printf("mean   %5d %14.6g %14.6g %8.3f\n", bits, sum_gptq / layers, sum_claq / layers, sum_claq / sum_gptq);
      EXPECT_LT(sum_claq, sum_gptq);
    }
  }
}

TEST(Claq, SweepFeedsBackExactlyTheDecodedValues) {
  // The values the sweep wrote (dequant) must be what the codes + tables + outliers decode to.
  const Layer l = correlated_layer(96, 192, 7);
  sq::QuantizeOptions o = claq("2.12");
  o.act_order = true;
  const sq::QuantizedLayer q = run(l, o);
  const std::vector<float> decoded = sq::decode_weights(q);
  ASSERT_EQ(decoded.size(), q.dequant.size());
  EXPECT_EQ(std::memcmp(decoded.data(), q.dequant.data(), decoded.size() * sizeof(float)), 0);
  // Reserved residuals are fp16 values.
  for (float v : q.outliers.val) EXPECT_EQ(sq::half_to_float(sq::float_to_half(v)), v);
}

TEST(Claq, AdaptivePrecisionHitsFractionalTargets) {
  const Layer l = correlated_layer(128, 512, 11);
  std::printf("\n%-8s %12s %12s\n", "target", "plan mean", "layer mean");
  for (const char* target : {"2.1", "2.12", "3.1", "3.12", "2.5", "3.75"}) {
    const double t = std::atof(target);
    sq::ClaqColumnOptions co;
    co.target_bits = t;
    const sq::ClaqColumnPlan plan = sq::plan_claq_columns(l.w.data(), l.rows, l.cols, co);
    const sq::QuantizedLayer q = run(l, claq(target));
    std::printf("%-8s %12.4f %12.4f\n", target, sq::mean_column_bits(plan.bits), mean_bits(q));
    EXPECT_NEAR(mean_bits(q), t, 0.01) << target;
    EXPECT_EQ(q.bits, 4);
    // The 4-bit columns are the ones with the most outliers.
    double min_high = 1e9, max_low = -1;
    for (int64_t j = 0; j < l.cols; ++j) {
      const double r = plan.outlier_ratio[size_t(j)];
      if (plan.bits[size_t(j)] == 4) min_high = std::min(min_high, r);
      else max_low = std::max(max_low, r);
      EXPECT_EQ(q.column_bits[size_t(j)], plan.bits[size_t(j)]);
    }
    EXPECT_GE(min_high, max_low) << target;
  }
  // The ranking puts real outlier columns first: with 5% heavy columns at 4x, OR is nonzero somewhere.
  sq::ClaqColumnOptions co;
  const sq::ClaqColumnPlan plan = sq::plan_claq_columns(l.w.data(), l.rows, l.cols, co);
  EXPECT_GT(plan.outlier_ratio[size_t(plan.ranking[0])], 0.0);
}

TEST(Claq, ReservationFractionIsRespected) {
  const Layer l = correlated_layer(250, 300, 21);
  const sq::QuantizedLayer q = run(l, claq("2.12"));
  // Defaults: top 10% of columns keep round(0.014 * 250) = 4 per side, the rest round(0.004 * 250) = 1.
  std::vector<int64_t> per_column(size_t(l.cols), 0);
  for (int32_t c : q.outliers.col) ++per_column[size_t(c)];
  sq::ClaqColumnOptions co;
  co.target_bits = 2.12;
  const sq::ClaqColumnPlan plan = sq::plan_claq_columns(l.w.data(), l.rows, l.cols, co);
  int64_t top = 0;
  for (int64_t i = 0; i < l.cols; ++i) {
    const int32_t col = plan.ranking[size_t(i)];
    const int64_t expected = i < 30 ? 8 : 2;
    EXPECT_EQ(per_column[size_t(col)], expected) << "column " << col << " ranked " << i;
    top += i < 30;
  }
  EXPECT_EQ(top, 30);
  const double fraction = double(q.outliers.col.size()) / double(l.rows * l.cols);
  std::printf("\nreserved %zu of %lld weights (%.3f%%; expected (30*8 + 270*2) / 75000 = %.3f%%)\n",
              q.outliers.col.size(), static_cast<long long>(l.rows * l.cols), 100 * fraction, 100.0 * 780 / 75000);
  EXPECT_EQ(q.outliers.col.size(), size_t(30 * 8 + 270 * 2));

  // Reserved weights cost (almost) no error: the largest residual error is an fp16 rounding.
  double worst = 0;
  sq::QuantizeOptions off = claq("2.12");
  sq::set_option(off, "reserve_fraction", "0");
  sq::set_option(off, "reserve_fraction_rest", "0");
  const sq::QuantizedLayer none = run(l, off);
  EXPECT_TRUE(none.outliers.empty());
  std::printf("objective with reservation %.6g, without %.6g\n", q.objective, none.objective);
  EXPECT_LT(q.objective, none.objective);
  for (float v : q.outliers.val) worst = std::max(worst, double(std::fabs(v)));
  EXPECT_GT(worst, 0.0);
}

TEST(Claq, CodecRoundTripIsBitIdentical) {
  const Layer l = correlated_layer(64, 160, 31);
  for (const char* bits : {"3", "2.12", "3.1"}) {
    sq::QuantizeOptions o = claq(bits);
    o.act_order = std::string(bits) == "2.12";
    const sq::QuantizedLayer q = run(l, o);
    nlohmann::json scheme;
    const sq::QuantizedLayer d = round_trip(q, &scheme);
    EXPECT_EQ(scheme.at("grid"), "column-lut");
    EXPECT_FALSE(scheme.at("payloads").contains("fix_idx")) << "decode must reproduce the quantizer's values exactly";
    EXPECT_EQ(d.codes, q.codes);
    EXPECT_EQ(d.column_bits, q.column_bits);
    EXPECT_EQ(d.column_lut_offset, q.column_lut_offset);
    EXPECT_TRUE(same_bits(d.column_lut, q.column_lut));
    EXPECT_EQ(d.outliers.row_ptr, q.outliers.row_ptr);
    EXPECT_EQ(d.outliers.col, q.outliers.col);
    EXPECT_TRUE(same_bits(d.outliers.val, q.outliers.val));
    EXPECT_EQ(d.perm, q.perm);
    EXPECT_TRUE(same_bits(d.dequant, q.dequant));
    EXPECT_EQ(scheme.value("outliers", int64_t(0)), int64_t(q.outliers.col.size()));

    // Codes are stored at their column widths; effective bits count every payload byte.
    int64_t row_bits = 0;
    for (uint8_t b : q.column_bits) row_bits += b;
    EXPECT_EQ(scheme.at("payloads").at("codes").at("raw_bytes").get<int64_t>(), (l.rows * row_bits + 7) / 8);
    size_t stored = 0;
    for (const auto& [part, info] : scheme.at("payloads").items()) stored += info.at("raw_bytes").get<size_t>();
    const double eff = scheme.at("effective_bits").get<double>();
    EXPECT_DOUBLE_EQ(eff, double(stored) * 8.0 / double(l.rows * l.cols));
    EXPECT_GT(eff, mean_bits(q));
    std::printf("%-5s code bits %.4f  effective bits %.4f  outliers %zu\n", bits, mean_bits(q), eff, q.outliers.col.size());
  }
}

TEST(Claq, VariableWidthBitStreamRoundTrips) {
  std::mt19937 rng(3);
  const int64_t rows = 7, cols = 13;
  std::vector<uint8_t> widths(static_cast<size_t>(cols)), codes(static_cast<size_t>(rows * cols));
  for (auto& b : widths) b = uint8_t(1 + rng() % 8);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) codes[size_t(r * cols + k)] = uint8_t(rng() % (1u << widths[size_t(k)]));
  const auto bytes = sq::pack_bitstream_columns(codes.data(), rows, cols, widths.data());
  EXPECT_EQ(bytes.size(), sq::bitstream_columns_bytes(rows, cols, widths.data()));
  EXPECT_EQ(sq::unpack_bitstream_columns(bytes.data(), bytes.size(), rows, cols, widths.data()), codes);
  EXPECT_NE(error_of([&] { sq::unpack_bitstream_columns(bytes.data(), bytes.size() - 1, rows, cols, widths.data()); })
                .find("too short"),
            std::string::npos);
}

TEST(Claq, BadOptionsAreNamed) {
  const auto expect_mentions = [](const std::string& message, const char* what) {
    EXPECT_NE(message.find(what), std::string::npos) << "message: " << message;
  };
  // Fractional bits belong to claq.
  sq::QuantizeOptions g;
  sq::set_option(g, "bits", "2.12");
  expect_mentions(error_of([&] { sq::validate(g); }), "claq");
  expect_mentions(error_of([&] { sq::set_option(g, "bits", "4.5"); }), "bits");
  expect_mentions(error_of([&] { sq::set_option(g, "bits", "5"); }), "bits");
  // CLAQ's options are refused for other methods, and claq's constraints are named.
  sq::QuantizeOptions t;
  sq::set_option(t, "outlier_threshold", "10");
  expect_mentions(error_of([&] { sq::validate(t); }), "outlier_threshold");
  sq::QuantizeOptions c = claq("3");
  c.group_size = 128;
  expect_mentions(error_of([&] { sq::validate(c); }), "group_size");
  c = claq("3");
  sq::set_option(c, "reserve_fraction", "0.7");
  expect_mentions(error_of([&] { sq::validate(c); }), "reserve_fraction");
  c = claq("3");
  sq::set_option(c, "outlier_threshold", "-1");
  expect_mentions(error_of([&] { sq::validate(c); }), "outlier_threshold");
  c = claq("3");
  sq::set_option(c, "grid", "lut");
  expect_mentions(error_of([&] { sq::validate(c); }), "column-kmeans");
  c = claq("3");
  c.bits = 8;
  expect_mentions(error_of([&] { sq::validate(c); }), "claq");
  expect_mentions(error_of([&] { sq::set_option(c, "reserve_top_columns", "x"); }), "reserve_top_columns");

  // Job options: the same checks, before any calibration.
  sq::JobOptions j;
  j.set("bits", "2.12");
  EXPECT_DOUBLE_EQ(j.target_bits, 2.12);
  expect_mentions(error_of([&] { sq::validate_layer_options(j); }), "claq");
  j.set("method", "claq");
  j.set("group_size", "-1");
  EXPECT_NO_THROW(sq::validate_layer_options(j));
  expect_mentions(error_of([&] { j.set("bits", "2.1x"); }), "bits");
  expect_mentions(error_of([&] { j.set("bits", "1.5"); }), "bits");
  sq::JobOptions k;
  k.set("method", "claq");
  expect_mentions(error_of([&] { sq::validate_layer_options(k); }), "group_size");  // the job default is 128
  sq::JobOptions m;
  m.set("method", "claq");
  m.set("bits", "3.1");
  const std::string before = m.canonical();
  m.set("reserve_fraction", "0.02");
  EXPECT_NE(m.canonical(), before) << "CLAQ options change the output, so the resume fingerprint";
}
