// The job's per-stage wall times: every stage a method goes through is counted, the ones it skips stay 0.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "io/model_files.hpp"
#include "pipeline/job.hpp"
#include "tiny_model.hpp"

namespace {

sq::StageTimes run_tiny_job(const std::string& method) {
  const auto cfg = sqtest::tiny_config();
  sq::ModelFiles m;
  m.path = "memory";
  m.config = cfg;
  m.weights = std::make_unique<sqtest::MemorySource>(sqtest::make_tiny_model(cfg, 3));
  sq::Logger log;
  sq::Job job(sq::default_cpu_backend(), log, m);
  job.options().method = method;
  job.options().group_size = 16;
  sq::CalibrationSet calib;
  calib.n_samples = 4;
  calib.seq_len = 16;
  calib.tokens = sqtest::random_tokens(64, cfg.vocab_size, 5);
  job.set_calibration_samples(calib);
  job.run();
  return job.stage_times();
}

}  // namespace

TEST(StageTimes, CalibratedMethodCountsEveryStage) {
  const sq::StageTimes t = run_tiny_job("gptq");
  EXPECT_GT(t.load, 0);
  EXPECT_GT(t.forward, 0);
  EXPECT_GT(t.hessian, 0);
  EXPECT_GT(t.cholesky, 0);
  EXPECT_GT(t.sweep, 0);
  EXPECT_GT(t.spool, 0);
  EXPECT_EQ(t.write, 0) << "the output is written outside the job";
  const auto doc = nlohmann::json::parse(t.to_json());
  for (const char* key : {"load", "forward", "hessian", "cholesky", "sweep", "spool", "write"})
    EXPECT_TRUE(doc.contains(key)) << key;
}

TEST(StageTimes, DataFreeMethodHasNoForwardHessianOrCholesky) {
  const sq::StageTimes t = run_tiny_job("rtn");
  EXPECT_GT(t.load, 0);
  EXPECT_GT(t.sweep, 0);
  EXPECT_EQ(t.forward, 0);
  EXPECT_EQ(t.hessian, 0);
  EXPECT_EQ(t.cholesky, 0);
}
