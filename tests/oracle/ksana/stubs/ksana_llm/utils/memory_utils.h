// infernav stub (not KsanaLLM code): the cache manager includes this header but uses none of
// its names; it relies on the standard headers it brings in.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

#include "ksana_llm/utils/status.h"
