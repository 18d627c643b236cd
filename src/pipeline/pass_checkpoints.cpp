#include "pipeline/pass_checkpoints.hpp"

#include <algorithm>

namespace sq {
namespace {

// Whether a pass that stops after `target` (nullopt: the whole block) computes the state at point p.
bool reaches(std::optional<LinearGroup> target, BlockPoint p) {
  if (!target) return true;
  if (p == BlockPoint::AttentionOutput) return *target != LinearGroup::QKV;
  return *target == LinearGroup::GateUp || *target == LinearGroup::Down;
}

bool in_group(LinearGroup g, const std::string& name) {
  const auto& names = linear_names(g);
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

PassCheckpoint PassCheckpointPlan::plan(std::optional<LinearGroup> target,
                                        const std::function<bool()>& have_memory) const {
  PassCheckpoint ck;
  if (held_ != BlockPoint::Input && reaches(target, held_)) ck.load = held_;
  if (!target) return ck;  // nothing runs after the last pass
  for (const BlockPoint p : {BlockPoint::Residual, BlockPoint::AttentionOutput})
    if (reaches(target, p) && ck.load < p) {
      ck.save = p;
      break;
    }
  if (ck.save != BlockPoint::Input && !have_memory()) ck.save = BlockPoint::Input;
  return ck;
}

void PassCheckpointPlan::pass_starting(const PassCheckpoint& ck) {
  if (ck.save != BlockPoint::Input) held_ = BlockPoint::Input;
}

void PassCheckpointPlan::pass_finished(const PassCheckpoint& ck) {
  if (ck.save != BlockPoint::Input) held_ = ck.save;
}

void PassCheckpointPlan::weight_changed(const std::string& name) {
  if (in_group(LinearGroup::GateUp, name) || in_group(LinearGroup::Down, name)) return;
  if (in_group(LinearGroup::O, name) && held_ == BlockPoint::AttentionOutput) return;
  held_ = BlockPoint::Input;
}

}  // namespace sq
