// Parse-only stand-in for loguru (see README.md): the names KsanaLLM's logger.h uses.
#pragma once
#include <ostream>
#include <sstream>

#include <fmt/format.h>  // KsanaLLM's logger.h uses fmt:: through loguru (LOGURU_USE_FMT)
namespace loguru {
enum NamedVerbosity : int {
  Verbosity_OFF = -9, Verbosity_FATAL = -3, Verbosity_ERROR = -2, Verbosity_WARNING = -1,
  Verbosity_INFO = 0, Verbosity_0 = 0, Verbosity_1 = 1, Verbosity_9 = 9, Verbosity_MAX = 9,
  Verbosity_INVALID = -10
};
typedef int Verbosity;
enum FileMode { Truncate, Append };
struct Message {
  Verbosity verbosity; const char* filename; unsigned line; const char* preamble;
  const char* indentation; const char* prefix; const char* message;
};
typedef void (*log_handler_t)(void* user_data, const Message& message);
typedef void (*close_handler_t)(void* user_data);
typedef void (*flush_handler_t)(void* user_data);
extern Verbosity g_stderr_verbosity;
extern bool g_colorlogtostderr;
extern bool g_preamble_date, g_preamble_time, g_preamble_uptime, g_preamble_thread, g_preamble_file,
    g_preamble_verbose, g_preamble_pipe;
bool add_file(const char* path, FileMode mode, Verbosity verbosity);
void add_callback(const char* id, log_handler_t callback, void* user_data, Verbosity verbosity,
                  close_handler_t on_close = nullptr, flush_handler_t on_flush = nullptr);
bool remove_callback(const char* id);
void init(int& argc, char* argv[], ...);
void shutdown();
void set_thread_name(const char* name);
const char* get_verbosity_name(Verbosity verbosity);
struct StreamLogger {
  StreamLogger(Verbosity verbosity, const char* file, unsigned line);
  ~StreamLogger() noexcept(false);
  template <typename T> StreamLogger& operator<<(const T& t) { ss_ << t; return *this; }
  StreamLogger& operator<<(std::ostream& (*f)(std::ostream&)) { f(ss_); return *this; }
  std::ostringstream ss_;
};
}  // namespace loguru
#define LOGURU_VERBOSITY_TO_INT(v) (loguru::Verbosity_##v)
#define LOG_S(verbosity_name) loguru::StreamLogger(loguru::Verbosity_##verbosity_name, __FILE__, __LINE__)
#define LOG_F(verbosity_name, ...) ((void)0)
#define VLOG_S(verbosity) loguru::StreamLogger(verbosity, __FILE__, __LINE__)
#define DLOG_S(verbosity_name) LOG_S(verbosity_name)
#define ABORT_S() loguru::StreamLogger(loguru::Verbosity_FATAL, __FILE__, __LINE__)
#define CHECK_S(cond) loguru::StreamLogger(loguru::Verbosity_FATAL, __FILE__, __LINE__)
#define CHECK_F(cond, ...) ((void)(cond))
