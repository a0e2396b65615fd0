// infernav stub (not KsanaLLM code): the allocator-group interface the cache manager calls.
// The oracle's driver implements it with fake device and host pools.
#pragma once

#include <memory>
#include <vector>

#include "ksana_llm/cache_manager/block_allocator/block_allocator_interface.h"

namespace ksana_llm {

class BlockAllocatorGroupInterface {
 public:
  virtual ~BlockAllocatorGroupInterface() {}
  virtual std::vector<int> GetBlockAllocatorDevices() const = 0;
  virtual std::shared_ptr<BlockAllocatorInterface> GetHostBlockAllocator() const = 0;
  virtual std::shared_ptr<BlockAllocatorInterface> GetDeviceBlockAllocator(int index = 0) const = 0;
  virtual Status SwapIn(int index, int device_block_id, int host_block_id) = 0;
  virtual Status SwapOut(int index, int host_block_id, int device_block_id) = 0;
};

}  // namespace ksana_llm
