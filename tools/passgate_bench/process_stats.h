#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_PROCESS_STATS_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_PROCESS_STATS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>

namespace passgate::bench {

// ProcessCpuTime returns the user + system CPU time of every thread of process `pid` so
// far (/proc/PID/stat, clock-tick resolution, usually 10 ms), or nullopt when the process
// is gone or unreadable.
std::optional<std::chrono::microseconds> ProcessCpuTime(pid_t pid);

// SelfCpuTime returns this process's user + system CPU time (getrusage, µs resolution).
std::chrono::microseconds SelfCpuTime();

// MemoryKib is a process's resident set now (VmRSS) and at its peak (VmHWM), in KiB.
struct MemoryKib {
  long rss = 0;
  long peak_rss = 0;
};

// ProcessMemory reads /proc/PID/status; nullopt when the process is gone or unreadable.
std::optional<MemoryKib> ProcessMemory(pid_t pid);

// ResetPeakRss makes VmHWM restart from the current RSS (writes 5 to /proc/PID/clear_refs,
// Linux >= 4.0, same user), so a later peak belongs to what ran in between. False when the
// kernel refuses; the peak then covers the process's whole life.
bool ResetPeakRss(pid_t pid);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_PROCESS_STATS_H_
