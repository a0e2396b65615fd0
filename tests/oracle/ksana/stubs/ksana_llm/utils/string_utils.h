// infernav stub (not KsanaLLM code): printf-style formatting into a std::string.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace ksana_llm {

template <typename... Args>
std::string FormatStr(const std::string& format, Args... args) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat"
  int n = std::snprintf(nullptr, 0, format.c_str(), args...);
  if (n <= 0) return format;
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  std::snprintf(buf.data(), buf.size(), format.c_str(), args...);
#pragma GCC diagnostic pop
  return std::string(buf.data(), static_cast<size_t>(n));
}

}  // namespace ksana_llm
