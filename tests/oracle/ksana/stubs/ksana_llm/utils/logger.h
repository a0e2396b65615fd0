// infernav stub (not KsanaLLM code): the logging names the prefix cache manager uses.
// Debug/info/warning lines are dropped without evaluating their operands; error lines are kept
// (the oracle reports them); a fatal line aborts, as the real logger does.
#pragma once

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ksana_llm {
namespace oracle_stub {

// Error lines logged since the driver last read them.
inline std::vector<std::string>& ErrorLines() {
  static std::vector<std::string> lines;
  return lines;
}

class LogLine {
 public:
  explicit LogLine(bool fatal) : fatal_(fatal) {}
  ~LogLine() {
    if (fatal_) {
      std::cerr << "FATAL " << out_.str() << std::endl;
      std::abort();
    }
    ErrorLines().push_back(out_.str());
  }
  template <typename T>
  LogLine& operator<<(const T& value) {
    out_ << value;
    return *this;
  }

 private:
  bool fatal_;
  std::ostringstream out_;
};

struct NullLine {
  template <typename T>
  NullLine& operator<<(const T&) {
    return *this;
  }
};

}  // namespace oracle_stub

inline void CheckAssert(bool ok, const char* file, int line, const std::string& what) {
  if (!ok) throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + " " + what);
}

inline void ThrowRuntimeError(const char* file, int line, const std::string& what) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + " " + what);
}

}  // namespace ksana_llm

#define KLLM_ORACLE_DROPPED_LINE while (false) ::ksana_llm::oracle_stub::NullLine()
#define KLLM_LOG_DEBUG KLLM_ORACLE_DROPPED_LINE
#define KLLM_LOG_INFO KLLM_ORACLE_DROPPED_LINE
#define KLLM_LOG_WARNING KLLM_ORACLE_DROPPED_LINE
#define KLLM_LOG_SCHEDULER KLLM_ORACLE_DROPPED_LINE
#define KLLM_LOG_ERROR ::ksana_llm::oracle_stub::LogLine(false)
#define KLLM_LOG_FATAL ::ksana_llm::oracle_stub::LogLine(true)
#define KLLM_CHECK(val) ::ksana_llm::CheckAssert(static_cast<bool>(val), __FILE__, __LINE__, "check failed: " #val)
#define KLLM_THROW(info) ::ksana_llm::ThrowRuntimeError(__FILE__, __LINE__, info)
