// Parse-only stand-in (see ../README.md).
#pragma once
#include "../test.h"
