#include "tools/passgate_bench/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace passgate::bench {
namespace {

std::chrono::microseconds FromTimeval(const timeval& tv) {
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

}  // namespace

std::optional<std::chrono::microseconds> ProcessCpuTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: count fields from the
  // last ')'. After it come state (field 3) ... utime (14) and stime (15).
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i < 14; ++i) fields >> field;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  const long ticks_per_second = sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return std::nullopt;
  return std::chrono::microseconds((utime + stime) * 1'000'000ULL / ticks_per_second);
}

std::chrono::microseconds SelfCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return FromTimeval(usage.ru_utime) + FromTimeval(usage.ru_stime);
}

std::optional<MemoryKib> ProcessMemory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  MemoryKib memory;
  bool found_rss = false, found_peak = false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    long kib = 0;
    words >> key >> kib;
    if (key == "VmRSS:") {
      memory.rss = kib;
      found_rss = true;
    } else if (key == "VmHWM:") {
      memory.peak_rss = kib;
      found_peak = true;
    }
  }
  if (!found_rss || !found_peak) return std::nullopt;
  return memory;
}

bool ResetPeakRss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.close();  // the kernel answers the write at flush: an error sets failbit
  return !out.fail();
}

}  // namespace passgate::bench
