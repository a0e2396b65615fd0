// Parse-only stand-in (see README.md).
#pragma once
#include "cuda_stub_common.h"
