#ifndef PASSGATE_SERVER_CLOCK_H_
#define PASSGATE_SERVER_CLOCK_H_

#include <chrono>

namespace passgate::server {

using TimePoint = std::chrono::system_clock::time_point;

// Clock is the seam for wall-clock time, so tests can pin token iat/exp and session expiry.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// SystemClock reads std::chrono::system_clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_CLOCK_H_
