// Where a job's wall time goes, in seconds, summed over the blocks of this run (a resumed run counts only
// its own blocks). load reads each block's weights (on a device backend it also uploads them and, when they
// stay there, the calibration activations; there the weights are read ahead while the previous block runs, so
// load counts only the wait for them); forward excludes the Hessian accumulation done inside it; sweep is the quantizers' time
// apart from their Cholesky factorizations; spool covers the per-block spool file, the layer sink (the
// caller's callback) and the resume checkpoint (with its activations); write is the final output.
#pragma once
#include <chrono>
#include <string>

namespace sq {

struct StageTimes {
  double load = 0, forward = 0, hessian = 0, cholesky = 0, sweep = 0, spool = 0, write = 0;

  std::string to_json() const;
};

// Adds the wall time of its scope to `total`.
class StageTimer {
 public:
  explicit StageTimer(double& total) : total_(total), t0_(std::chrono::steady_clock::now()) {}
  ~StageTimer() { total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  double& total_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace sq
