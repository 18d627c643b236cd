// Which checkpoint (model/llama_block.hpp: BlockPoint) a block's calibration passes hold, where each pass starts,
// and which checkpoint it leaves. A true-sequential quantizer asks for the input of each linear group in turn and
// changes that group's weights in between; a checkpoint stays valid while no weight before its point changes
// (the MLP's weights come after both points, o_proj after the attention output).
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "model/llama_block.hpp"

namespace sq {

class PassCheckpointPlan {
 public:
  // The pass that stops after `target` (nullopt: the block's last pass, which runs the whole block) starts at
  // the held checkpoint when it reaches that point, and saves the furthest point it reaches past its start
  // (the last pass saves nothing). Before the first save `have_memory` is asked for the checkpoints' memory;
  // when it has none, the pass saves nothing. The returned checkpoint's data is left null for the caller.
  PassCheckpoint plan(std::optional<LinearGroup> target, const std::function<bool()>& have_memory) const;

  // Around every pass that uses `ck`: while a pass overwrites the checkpoints no point is held, so a pass
  // that fails part of the way leaves nothing behind to be trusted.
  void pass_starting(const PassCheckpoint& ck);
  void pass_finished(const PassCheckpoint& ck);

  // Linear layer `name` of the block has new values.
  void weight_changed(const std::string& name);
  // Nothing is held any more (the block's inputs are overwritten by its outputs).
  void clear() { held_ = BlockPoint::Input; }

  BlockPoint held() const { return held_; }

 private:
  BlockPoint held_ = BlockPoint::Input;
};

}  // namespace sq
