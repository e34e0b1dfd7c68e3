#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_LATENCY_HISTOGRAM_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_LATENCY_HISTOGRAM_H_

#include <array>
#include <chrono>
#include <cstdint>

namespace passgate::bench {

// LatencyHistogram counts durations in microsecond buckets that are exact below 64 µs and
// then 64 per power of two (at most 1.6 % wide), so recording never allocates or sorts and a
// load generator can keep one per outstanding call and merge them at the end. Durations
// beyond about 9 hours land in the last bucket.
//
//   LatencyHistogram h;
//   h.Record(std::chrono::microseconds(1500));
//   double p99 = h.PercentileMicros(99);
class LatencyHistogram {
 public:
  void Record(std::chrono::nanoseconds latency);
  void Merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }

  // PercentileMicros returns the midpoint of the bucket that holds the p-th percentile
  // (0 < p <= 100), in microseconds; 0 when nothing was recorded.
  double PercentileMicros(double p) const;

 private:
  static constexpr int kSubBucketBits = 6;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kMaxShift = 29;
  static constexpr int kBuckets = (kMaxShift + 2) * kSubBuckets;

  static int BucketOf(std::uint64_t micros);
  static double MidpointMicros(int bucket);

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
};

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_LATENCY_HISTOGRAM_H_
