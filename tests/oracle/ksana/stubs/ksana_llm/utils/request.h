// infernav stub (not KsanaLLM code): the flexible-cache copy task, as the cache manager fills it.
#pragma once

#include <vector>

#include "ksana_llm/utils/status.h"

namespace ksana_llm {

// One token to copy: from position `src_token_idx_` of the blocks `src_block_id_` (one id per
// device) to position `dst_token_idx_` of the blocks `dst_block_id_`.
struct FlexibleCachedCopyTask {
  void Update(int dst_token_idx, int src_token_idx, std::vector<int>& dst_block_id, std::vector<int>& src_block_id) {
    dst_token_idx_ = dst_token_idx;
    src_token_idx_ = src_token_idx;
    dst_block_id_ = dst_block_id;
    src_block_id_ = src_block_id;
  }
  int dst_token_idx_ = 0;
  int src_token_idx_ = 0;
  std::vector<int> dst_block_id_;
  std::vector<int> src_block_id_;
};

}  // namespace ksana_llm
