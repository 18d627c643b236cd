// Threaded paths, written to be run under ThreadSanitizer as well as normally: the CPU backend's
// parallel_for (disjoint writes, shared reductions through the caller's own atomics, several backends used at
// once), a quantize job whose progress callback is watched from another thread, and a job cancelled by a
// flag set from another thread. Results are checked, so the tests are meaningful without TSan too.
#include <atomic>
#include <cstdint>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "io/model_files.hpp"
#include "pipeline/job.hpp"
#include "test_files.hpp"
#include "tiny_model.hpp"
#include "util/error.hpp"

namespace {

TEST(Threads, ParallelForCoversEveryIndexOnce) {
  const auto be = sq::make_cpu_backend(4);
  for (int64_t n : {int64_t(1), int64_t(3), int64_t(17), int64_t(1000), int64_t(4096)}) {
    std::vector<int> hits(size_t(n), 0);
    be->parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[size_t(i)] += 1;  // ranges are disjoint: no race
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)], 1) << "n " << n << " index " << i;
  }
}

TEST(Threads, ParallelForFromSeveralThreadsAtOnce) {
  // Two contexts quantizing at the same time each own a backend; they must not share hidden state.
  std::vector<std::unique_ptr<sq::Backend>> backends;
  for (int t = 0; t < 3; ++t) backends.push_back(sq::make_cpu_backend(2));
  std::vector<int64_t> sums(backends.size(), 0);
  std::vector<std::thread> callers;
  for (size_t t = 0; t < backends.size(); ++t) {
    callers.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        std::atomic<int64_t> sum{0};
        backends[t]->parallel_for(777, [&](int64_t begin, int64_t end) {
          int64_t local = 0;
          for (int64_t i = begin; i < end; ++i) local += i;
          sum += local;
        });
        sums[t] += sum.load();
      }
    });
  }
  for (auto& c : callers) c.join();
  for (int64_t s : sums) EXPECT_EQ(s, 20 * (776 * 777 / 2));
}

class ThreadedJob : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = sqtest::tiny_config();
    cfg.num_hidden_layers = 3;  // room to stop between blocks
    source_ = std::make_unique<sqtest::MemorySource>(sqtest::make_tiny_model(cfg, 7));
    model_.path = "memory";
    model_.config = cfg;
    // ModelFiles owns its source; hand it a copy so the fixture keeps the original for comparisons.
    model_.weights = std::make_unique<sqtest::MemorySource>(*source_);
    tokens_ = sqtest::random_tokens(4 * 16, cfg.vocab_size, 3);
  }
  void configure(sq::Job& job) {
    job.options().method = "gptq";
    job.options().bits = 4;
    job.options().group_size = 16;
    sq::CalibrationSet calib;
    calib.n_samples = 4;
    calib.seq_len = 16;
    calib.tokens = tokens_;
    job.set_calibration_samples(calib);
  }
  std::unique_ptr<sqtest::MemorySource> source_;
  sq::ModelFiles model_;
  std::vector<int32_t> tokens_;
  sq::Logger log_;
};

TEST_F(ThreadedJob, ProgressIsPublishedToAWatcherThread) {
  const auto be = sq::make_cpu_backend(4);
  sq::Job job(*be, log_, model_);
  configure(job);
  std::atomic<int64_t> last_done{-1};
  std::atomic<bool> finished{false};
  job.set_progress([&](int64_t done, int64_t, double, double) {
    last_done.store(done);
    return 0;
  });
  int64_t max_seen = -1;
  std::thread watcher([&] {
    while (!finished.load()) max_seen = std::max(max_seen, last_done.load());
    max_seen = std::max(max_seen, last_done.load());
  });
  job.run();
  finished = true;
  watcher.join();
  EXPECT_TRUE(job.done());
  EXPECT_EQ(max_seen, job.num_blocks());
}

TEST_F(ThreadedJob, CancelFromAnotherThreadStopsWithCancelled) {
  const auto be = sq::make_cpu_backend(4);
  sq::Job job(*be, log_, model_);
  configure(job);
  std::atomic<bool> cancel{false};
  std::atomic<int64_t> blocks{0};
  job.set_progress([&](int64_t done, int64_t, double, double) {
    blocks = done;
    // After the first block, wait for the other thread's decision so the test does not depend on timing.
    if (done == 1)
      while (!cancel.load()) std::this_thread::yield();
    return cancel.load() ? 1 : 0;
  });
  std::thread canceller([&] {
    while (blocks.load() < 1) std::this_thread::yield();
    cancel = true;
  });
  try {
    job.run();
    ADD_FAILURE() << "the job ran to the end although it was cancelled";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_CANCELLED) << e.what();
  }
  canceller.join();
  EXPECT_FALSE(job.done());
  EXPECT_EQ(blocks.load(), 1);
}

}  // namespace
