// infernav stub (not KsanaLLM code): the one configuration struct the cache manager reads.
#pragma once

#include <cstddef>

#include "ksana_llm/utils/logger.h"
#include "ksana_llm/utils/status.h"

namespace ksana_llm {

struct CacheManagerConfig {
  size_t block_token_num = 16;
  size_t tensor_para_size = 1;
  size_t min_flexible_cache_num = 0;  // 0: flexible cache off
  size_t swap_threadpool_size = 1;
  bool enable_prefix_caching = true;
};

}  // namespace ksana_llm
