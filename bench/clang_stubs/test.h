// Parse-only stand-in for KsanaLLM's tests/test.h (not in the snapshot): gtest and gmock.
#pragma once
#include <gmock/gmock.h>
#include <gtest/gtest.h>
