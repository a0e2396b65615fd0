// The KsanaLLM prefix-cache oracle's driver (infernav code; no KsanaLLM code here).
//
// Builds the REAL ksana_llm::PrefixCacheManager (prefix_cache_manager.cpp, compiled unchanged
// from the pinned archive) over fake allocators and exposes its public operations to Python,
// plus a snapshot of its internal state. Block numbering, as the fakes set it up:
//   - device j's memory blocks are j * kDeviceStride + k, k = 0..N-1, handed out in order, so
//     InitializeCachedBlocks gives cached block id i (ids start at 1, the root is 0) the memory
//     block i - 1 on device 0: the snapshot names device blocks by that memory id (k);
//   - the host pool is one FIFO of H * D ids; a swapped block takes D consecutive ones, so the
//     snapshot names a host block by its first id, which is always a multiple of D.
// The snapshot checks these rules too ("invariants"): a broken one is reported, not assumed.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <new>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ksana_llm/cache_manager/prefix_cache_manager.h"

namespace py = pybind11;
using namespace ksana_llm;

// ---------------------------------------------------------------- deleted blocks
// The manager deletes PrefixCachedBlocks in two places (SwapinCachedBlock, DestroySwappedRequest)
// while a request or the reusable set may still point at them (docs/dev/prefix_cache.md). To
// report that instead of reading freed memory, this module's global operator new/delete (they
// serve the manager's code too: it is linked into this module) remember the deleted blocks and
// never give their memory back, so a dangling pointer never aliases a later block (with glibc
// it would: what then happens depends on the allocator, which no model can follow).
namespace {
std::mutex& DeletedMutex() {
  static std::mutex m;
  return m;
}
std::unordered_set<void*>& Deleted() {
  static auto* s = new std::unordered_set<void*>();
  return *s;
}
bool IsDeleted(const void* p) {
  std::lock_guard<std::mutex> lock(DeletedMutex());
  return Deleted().count(const_cast<void*>(p)) > 0;
}
}  // namespace

void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t n) noexcept {
  if (p != nullptr && n == sizeof(ksana_llm::PrefixCachedBlock)) {
    std::lock_guard<std::mutex> lock(DeletedMutex());
    Deleted().insert(p);  // kept: never freed, never reused
    return;
  }
  std::free(p);
}

namespace {

constexpr int kDeviceStride = 1 << 20;

// ---------------------------------------------------------------- reading private members
// An explicit instantiation may name private members (access is not checked there); the friend
// function it defines hands the member pointer out. Nothing in the real headers is changed.
template <typename Tag, typename Tag::type M>
struct Steal {
  friend typename Tag::type Get(Tag) { return M; }
};

using Base = BaseCacheManager<PrefixCachedBlock, PrefixCachedRequest>;
using RequestMap = std::unordered_map<int64_t, std::unique_ptr<PrefixCachedRequest>>;
#define ORACLE_MEMBER(TAG, TYPE, MEMBER)   \
  struct TAG {                             \
    using type = TYPE;                     \
    friend type Get(TAG);                  \
  };                                       \
  template struct Steal<TAG, &MEMBER>;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
ORACLE_MEMBER(RootTag, PrefixCachedBlock* PrefixCacheManager::*, PrefixCacheManager::root_cached_block_)
ORACLE_MEMBER(ReusableTag, std::unordered_set<PrefixCachedBlock*> PrefixCacheManager::*,
              PrefixCacheManager::reusable_cached_blocks_)
ORACLE_MEMBER(TimelineTag, std::list<PrefixCachedBlock*> PrefixCacheManager::*, PrefixCacheManager::timed_cached_blocks_)
ORACLE_MEMBER(FreeTag, std::queue<PrefixCachedBlock*> Base::*, PrefixCacheManager::free_cached_blocks_)
ORACLE_MEMBER(RequestsTag, RequestMap Base::*, PrefixCacheManager::cached_requests_)
ORACLE_MEMBER(QueueTag, std::deque<PrefixCachedBlock*> std::queue<PrefixCachedBlock*>::*,
              std::queue<PrefixCachedBlock*>::c)
#pragma GCC diagnostic pop

// ---------------------------------------------------------------- fake allocators
// A pool of ids, first in first out. Thread-safe: swap tasks free host blocks on a worker.
class FakeBlockAllocator : public BlockAllocatorInterface {
 public:
  FakeBlockAllocator(int first_id, size_t num) {
    for (size_t i = 0; i < num; ++i) free_.push_back(first_id + static_cast<int>(i));
  }
  void PreAllocateBlocks() override {}
  void Clear() override {}
  Status AllocateBlocks(size_t block_num, std::vector<int>& blocks) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (block_num > free_.size()) return Status(RET_OUT_OF_DEVICE_MEMORY, "fake allocator: not enough blocks");
    blocks.clear();
    for (size_t i = 0; i < block_num; ++i) {
      blocks.push_back(free_.front());
      used_.insert(free_.front());
      free_.pop_front();
    }
    return Status();
  }
  Status FreeBlocks(const std::vector<int>& blocks) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int id : blocks) {
      if (used_.erase(id) == 0) {
        errors_.push_back("free of a block not in use: " + std::to_string(id));
        return Status(RET_RUNTIME_FAILED, "fake allocator: double free");
      }
      free_.push_back(id);
    }
    return Status();
  }
  Status GetBlockPtrs(const std::vector<int>&, std::vector<void*>&) override { return Unused(); }
  Status AppendBlockPtrs(const std::vector<int>&, std::vector<void*>&) override { return Unused(); }
  void* GetBlocksBasePtr() override { return nullptr; }
  int GetBlocksBaseId() override { return 0; }
  size_t GetFreeBlockNumber() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_.size();
  }
  size_t GetUsedBlockNumber() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return used_.size();
  }
  std::vector<std::string> TakeErrors() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    out.swap(errors_);
    return out;
  }

 private:
  Status Unused() { return Status(RET_RUNTIME_FAILED, "not used by the prefix cache manager"); }
  std::mutex mutex_;
  std::deque<int> free_;
  std::unordered_set<int> used_;
  std::vector<std::string> errors_;
};

// Device pools, one host pool, and a fake memory: one integer of "content" per block, which
// SwapOut/SwapIn copy, so the oracle can check that data lands where the manager says.
class FakeAllocatorGroup : public BlockAllocatorGroupInterface {
 public:
  FakeAllocatorGroup(size_t device_blocks, size_t host_blocks, int num_devices)
      : host_(std::make_shared<FakeBlockAllocator>(0, host_blocks * num_devices)) {
    for (int j = 0; j < num_devices; ++j) {
      devices_.push_back(j);
      device_.push_back(std::make_shared<FakeBlockAllocator>(j * kDeviceStride, device_blocks));
    }
  }
  std::vector<int> GetBlockAllocatorDevices() const override { return devices_; }
  std::shared_ptr<BlockAllocatorInterface> GetHostBlockAllocator() const override { return host_; }
  std::shared_ptr<BlockAllocatorInterface> GetDeviceBlockAllocator(int index) const override {
    return device_.at(index);
  }
  Status SwapIn(int index, int device_block_id, int host_block_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    device_data_[device_block_id] = host_data_[host_block_id];
    ++swap_in_copies_;
    return Status();
  }
  Status SwapOut(int index, int host_block_id, int device_block_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    host_data_[host_block_id] = device_data_[device_block_id];
    ++swap_out_copies_;
    return Status();
  }
  void Write(int device_block_id, int64_t value) {
    std::lock_guard<std::mutex> lock(mutex_);
    device_data_[device_block_id] = value;
  }
  int64_t Read(int device_block_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = device_data_.find(device_block_id);
    return it == device_data_.end() ? -1 : it->second;
  }
  std::pair<size_t, size_t> Copies() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {swap_out_copies_, swap_in_copies_};
  }
  std::vector<std::string> TakeErrors() {
    auto out = host_->TakeErrors();
    for (auto& d : device_) {
      auto e = d->TakeErrors();
      out.insert(out.end(), e.begin(), e.end());
    }
    return out;
  }

 private:
  std::vector<int> devices_;
  std::shared_ptr<FakeBlockAllocator> host_;
  std::vector<std::shared_ptr<FakeBlockAllocator>> device_;
  std::mutex mutex_;
  std::unordered_map<int, int64_t> device_data_, host_data_;
  size_t swap_out_copies_ = 0, swap_in_copies_ = 0;
};

// ---------------------------------------------------------------- the driver
py::tuple StatusTuple(const Status& s) { return py::make_tuple(static_cast<int>(s.GetCode()), s.GetMessage()); }

class Driver {
 public:
  Driver(size_t device_blocks, size_t block_token_num, size_t host_blocks, int num_devices, size_t threads,
         size_t min_flexible_cache_num)
      : num_devices_(num_devices), device_blocks_(device_blocks) {
    group_ = std::make_shared<FakeAllocatorGroup>(device_blocks, host_blocks, num_devices);
    CacheManagerConfig config;
    config.block_token_num = block_token_num;
    config.tensor_para_size = num_devices;
    config.swap_threadpool_size = threads;
    config.min_flexible_cache_num = min_flexible_cache_num;
    config.enable_prefix_caching = true;
    manager_ = std::make_unique<PrefixCacheManager>(config, group_);
    manager_->InitializeCachedBlocks();
  }

  // ---- queries
  size_t Usable() { return manager_->GetUsableBlockNumber(); }
  size_t Used() { return manager_->GetUsedBlockNumber(); }
  size_t HostFree() { return manager_->GetHostFreeBlockNumber(); }
  size_t FutureFree() { return manager_->GetFutureFreeBlockNumber(); }
  size_t RequestUsable(int64_t req) { return manager_->GetRequestUsableBlockNumber(req); }
  size_t StepBlocks(int64_t req, size_t input_token_lens) { return manager_->GetRequestStepBlockNumber(req, input_token_lens); }
  size_t StepBlocksForOneNextToken(int64_t req) { return manager_->GetRequestStepBlockNumberForOneNextToken(req); }
  py::tuple Freeable(int64_t req) {
    size_t n = 0;
    Status s = manager_->GetRequestFreeableBlockNum(req, n);
    return py::make_tuple(StatusTuple(s), n);
  }
  py::tuple NeededForOneNextToken(int64_t req) {
    size_t n = 0;
    Status s = manager_->GetRequestNeededBlockNumForOneNextToken(req, n);
    return py::make_tuple(StatusTuple(s), n);
  }

  // ---- the request's life
  py::tuple Prefix(int64_t req, const std::vector<int>& tokens, size_t check_token_num) {
    size_t shared = 0, unique = 0, shared_tokens = 0;
    Status s = manager_->GetRequestPrefixBlockNumber(req, tokens, check_token_num, shared, unique, shared_tokens);
    return py::make_tuple(StatusTuple(s), shared, unique, shared_tokens);
  }
  py::tuple Allocate(int64_t req, size_t block_num) {
    return py::make_tuple(StatusTuple(manager_->AllocateRequestBlocks(req, block_num, Table(req))));
  }
  py::tuple Update(int64_t req, const std::vector<int>& tokens, size_t shareable_token_num) {
    bool merged = false;
    Status s = manager_->UpdateRequestTokens(req, tokens, shareable_token_num, Table(req), merged);
    return py::make_tuple(StatusTuple(s), merged);
  }
  void DestroyFinished(int64_t req) {
    manager_->DestroyFinishedRequest(req);
    tables_.erase(req);
  }
  void DestroySwapped(int64_t req) {
    manager_->DestroySwappedRequest(req);
    tables_.erase(req);
  }
  py::tuple FreeCached(size_t block_num, py::object reserved_req) {
    std::vector<PrefixCachedBlock*> reserved;
    if (!reserved_req.is_none()) {
      auto& requests = (*manager_).*Get(RequestsTag{});
      reserved = requests.at(reserved_req.cast<int64_t>())->cached_blocks;
    }
    size_t freed = 0;
    bool ok = manager_->FreeCachedBlocks(block_num, freed, reserved);
    return py::make_tuple(ok, freed);
  }

  // ---- swapping: the async call, then the real wait until no task is left, then (separately,
  // as the scheduler does a step later) the merge.
  py::tuple SwapoutAsync(int64_t req) {
    size_t swapped = 0, freed = 0;
    std::vector<int> memory_blocks;
    Status s = manager_->SwapoutRequestAsync(req, swapped, freed, memory_blocks);
    return py::make_tuple(StatusTuple(s), swapped, freed, memory_blocks);
  }
  py::tuple WaitSwapout() { return WaitAll(true); }
  py::tuple MergeSwapout(int64_t req) { return StatusTuple(manager_->MergeSwapoutRequest(req)); }
  py::tuple SwapinAsync(int64_t req) {
    size_t block_num = 0;
    std::vector<int> memory_blocks;
    Status s = manager_->SwapinRequestAsync(req, block_num, Table(req), memory_blocks);
    return py::make_tuple(StatusTuple(s), block_num, memory_blocks);
  }
  py::tuple WaitSwapin() { return WaitAll(false); }
  py::tuple MergeSwapin(int64_t req) { return StatusTuple(manager_->MergeSwapinRequest(req, Table(req))); }

  py::list Flexible(int64_t req, const std::vector<int>& tokens, int shared_token_num) {
    std::vector<FlexibleCachedCopyTask> tasks;
    size_t len = 0;
    // Private in PrefixCacheManager, public in the interface: the scheduler calls it through
    // CacheManagerInterface (continuous_batching.cpp:810), and so do we.
    static_cast<CacheManagerInterface&>(*manager_).UpdateFlexibleCache(req, tokens, shared_token_num, tasks, len);
    py::list out;
    for (auto& t : tasks) out.append(py::make_tuple(t.dst_token_idx_, t.src_token_idx_, t.dst_block_id_, t.src_block_id_));
    return out;
  }

  // ---- the caller's side: block tables (InferRequest::kv_cache_blocks) and fake memory
  std::vector<std::vector<int>> GetTable(int64_t req) { return Table(req); }
  void Write(int memory_block_id, int64_t value) {
    for (int j = 0; j < num_devices_; ++j) group_->Write(j * kDeviceStride + memory_block_id, value);
  }
  std::vector<int64_t> Read(int memory_block_id) {
    std::vector<int64_t> out;
    for (int j = 0; j < num_devices_; ++j) out.push_back(group_->Read(j * kDeviceStride + memory_block_id));
    return out;
  }
  std::pair<size_t, size_t> Copies() { return group_->Copies(); }

  // ---- the whole state, as plain values
  py::dict Snapshot() {
    invariants_.clear();
    py::dict out;
    auto& free_queue = ((*manager_).*Get(FreeTag{})).*Get(QueueTag{});
    py::list free_list;
    where_ = "free list";
    for (PrefixCachedBlock* cb : free_queue) {
      CheckFree(cb);
      free_list.append(Name(cb));
    }
    out["free"] = py::tuple(free_list);

    std::vector<int> reusable;
    where_ = "reusable set";
    for (PrefixCachedBlock* cb : (*manager_).*Get(ReusableTag{})) reusable.push_back(Name(cb));
    std::sort(reusable.begin(), reusable.end());
    out["reusable"] = py::tuple(py::cast(reusable));

    py::list timeline;
    where_ = "timeline";
    for (PrefixCachedBlock* cb : (*manager_).*Get(TimelineTag{})) timeline.append(Name(cb));
    out["timeline"] = py::tuple(timeline);

    py::list tree;
    where_ = "tree";
    PrefixCachedBlock* root = (*manager_).*Get(RootTag{});
    Walk(root, -1, tree);
    out["tree"] = py::tuple(tree);

    py::dict requests;
    for (auto& [req_id, req] : (*manager_).*Get(RequestsTag{})) {
      where_ = "request " + std::to_string(req_id);
      py::list blocks;
      for (PrefixCachedBlock* cb : req->cached_blocks) {
        blocks.append(IsDeleted(cb) ? py::object(py::str("deleted")) : py::object(Describe(cb)));
      }
      requests[py::int_(req_id)] = py::make_tuple(static_cast<int>(req->req_state), req->shared_block_num, py::tuple(blocks));
    }
    out["requests"] = requests;
    out["counts"] = py::make_tuple(Usable(), Used(), HostFree(), FutureFree());
    for (auto& e : group_->TakeErrors()) invariants_.push_back("allocator: " + e);
    auto& logged = oracle_stub::ErrorLines();
    out["errors_logged"] = logged;
    logged.clear();
    out["invariants"] = invariants_;
    return out;
  }

 private:
  std::vector<std::vector<int>>& Table(int64_t req) {
    auto it = tables_.find(req);
    if (it == tables_.end()) it = tables_.emplace(req, std::vector<std::vector<int>>(num_devices_)).first;
    return it->second;
  }

  py::tuple WaitAll(bool swapout) {
    std::vector<int64_t> done;
    size_t left = 0;
    do {
      std::vector<int64_t> ids;
      Status s = swapout ? manager_->WaitSwapoutRequests(ids, left, true) : manager_->WaitSwapinRequests(ids, left, true);
      if (!s.OK()) return py::make_tuple(StatusTuple(s), done);
      done.insert(done.end(), ids.begin(), ids.end());
    } while (left > 0);
    std::sort(done.begin(), done.end());
    done.erase(std::unique(done.begin(), done.end()), done.end());
    return py::make_tuple(StatusTuple(Status()), done);
  }

  // Device blocks by their device-0 memory id; host blocks by their first host id.
  int Name(const PrefixCachedBlock* cb) {
    if (IsDeleted(cb)) {
      if (where_ != "reusable set") invariants_.push_back(where_ + ": a deleted block");
      return -1;
    }
    if (cb->memory_block_ids.empty()) {
      invariants_.push_back("block without memory ids");
      return -2;
    }
    int first = cb->memory_block_ids[0];
    for (int j = 0; j < num_devices_ && j < static_cast<int>(cb->memory_block_ids.size()); ++j) {
      int want = cb->is_device_location ? j * kDeviceStride + first : first + j;
      if (cb->memory_block_ids[j] != want) invariants_.push_back("memory ids of block " + std::to_string(first) + " not as allocated");
    }
    if (cb->is_device_location) {
      if (cb->block_id != static_cast<size_t>(first) + 1)
        invariants_.push_back(where_ + ": block id " + std::to_string(cb->block_id) + " is not device block " + std::to_string(first) + " + 1");
      if (first < 0 || first >= static_cast<int>(device_blocks_)) invariants_.push_back("device id out of range");
    } else if (first % num_devices_ != 0) {
      invariants_.push_back("host ids not grouped by device count");
    }
    return first;
  }

  void CheckFree(const PrefixCachedBlock* cb) {
    if (!cb->is_device_location || cb->is_shareable || cb->parent || !cb->children.empty() ||
        !cb->active_requests.empty() || !cb->inactive_requests.empty())
      invariants_.push_back("free block " + std::to_string(cb->memory_block_ids[0]) + " not reset");
  }

  // (request, position, request pointer is null): a null one is UpdateCachedRequestState's
  // operator[] default, (0, nullptr), for a request missing from the block's map.
  static py::tuple Refs(const std::unordered_map<int, std::pair<int, PrefixCachedRequest*>>& refs) {
    std::vector<std::tuple<int64_t, int, bool>> v;
    for (auto& [req, pos] : refs) v.emplace_back(req, pos.first, pos.second == nullptr);
    std::sort(v.begin(), v.end());
    return py::tuple(py::cast(v));
  }

  py::tuple Describe(const PrefixCachedBlock* cb) {
    py::object tokens = cb->is_shareable ? py::object(py::tuple(py::cast(cb->token_ids))) : py::object(py::none());
    return py::make_tuple(Name(cb), cb->is_device_location, cb->is_shareable, tokens, Refs(cb->active_requests),
                          Refs(cb->inactive_requests));
  }

  // Depth first, children in the map's own iteration order (the order the manager frees them in).
  void Walk(const PrefixCachedBlock* node, int parent, py::list& out) {
    for (auto& [tokens, child] : node->children) {
      if (child->parent != node) invariants_.push_back("child whose parent pointer is elsewhere");
      if (child->token_ids != tokens) invariants_.push_back("child keyed by other tokens than its own");
      int name = Name(child);
      out.append(py::make_tuple(name, parent, py::tuple(py::cast(tokens)), child->children.size(),
                                Refs(child->active_requests), Refs(child->inactive_requests)));
      Walk(child, name, out);
    }
  }

  int num_devices_;
  size_t device_blocks_;
  std::shared_ptr<FakeAllocatorGroup> group_;
  std::unique_ptr<PrefixCacheManager> manager_;
  std::unordered_map<int64_t, std::vector<std::vector<int>>> tables_;
  std::vector<std::string> invariants_;
  std::string where_;  // the part of the state being read, for the invariant messages
};

// The children map's type (prefix_cache_manager.h), driven by a list of ("insert"|"erase", tokens)
// or ("clear", []) steps: after each, its keys in iteration order and its bucket count. Checks
// the Python model of libstdc++'s order (reimpl/prefix_cache/std_unordered.py).
py::list ChildrenOrderProbe(const std::vector<std::pair<std::string, std::vector<int>>>& steps) {
  decltype(PrefixCachedBlock::children) children;
  py::list out;
  for (auto& [what, tokens] : steps) {
    if (what == "insert") {
      children[tokens] = nullptr;
    } else if (what == "erase") {
      children.erase(tokens);
    } else {
      children.clear();
    }
    py::list keys;
    for (auto& [key, _] : children) keys.append(py::tuple(py::cast(key)));
    out.append(py::make_tuple(keys, children.bucket_count()));
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(ksana_prefix_oracle, m) {
  m.doc() = "The real ksana_llm::PrefixCacheManager over fake allocators (infernav test oracle).";
  m.attr("DEVICE_STRIDE") = kDeviceStride;
  m.def("children_order_probe", &ChildrenOrderProbe);
  py::class_<Driver>(m, "Driver")
      .def(py::init<size_t, size_t, size_t, int, size_t, size_t>(), py::arg("device_blocks"),
           py::arg("block_token_num"), py::arg("host_blocks"), py::arg("num_devices") = 1, py::arg("threads") = 2,
           py::arg("min_flexible_cache_num") = 0)
      .def("usable", &Driver::Usable)
      .def("used", &Driver::Used)
      .def("host_free", &Driver::HostFree)
      .def("future_free", &Driver::FutureFree)
      .def("request_usable", &Driver::RequestUsable)
      .def("step_blocks", &Driver::StepBlocks)
      .def("step_blocks_for_one_next_token", &Driver::StepBlocksForOneNextToken)
      .def("freeable", &Driver::Freeable)
      .def("needed_for_one_next_token", &Driver::NeededForOneNextToken)
      .def("prefix", &Driver::Prefix)
      .def("allocate", &Driver::Allocate)
      .def("update", &Driver::Update)
      .def("destroy_finished", &Driver::DestroyFinished)
      .def("destroy_swapped", &Driver::DestroySwapped)
      .def("free_cached", &Driver::FreeCached, py::arg("block_num"), py::arg("reserved_req") = py::none())
      .def("swapout_async", &Driver::SwapoutAsync)
      .def("wait_swapout", &Driver::WaitSwapout)
      .def("merge_swapout", &Driver::MergeSwapout)
      .def("swapin_async", &Driver::SwapinAsync)
      .def("wait_swapin", &Driver::WaitSwapin)
      .def("merge_swapin", &Driver::MergeSwapin)
      .def("flexible", &Driver::Flexible)
      .def("table", &Driver::GetTable)
      .def("write", &Driver::Write)
      .def("read", &Driver::Read)
      .def("copies", &Driver::Copies)
      .def("snapshot", &Driver::Snapshot);
}
