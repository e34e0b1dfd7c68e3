#include "tools/passgate_bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace passgate::bench {

int LatencyHistogram::BucketOf(std::uint64_t micros) {
  if (micros < kSubBuckets) return static_cast<int>(micros);
  // Shift so the value keeps kSubBucketBits + 1 significant bits: [64, 128) << shift.
  const int shift = std::bit_width(micros) - (kSubBucketBits + 1);
  if (shift > kMaxShift) return kBuckets - 1;
  const auto sub = static_cast<int>(micros >> shift) - kSubBuckets;
  return (shift + 1) * kSubBuckets + sub;
}

double LatencyHistogram::MidpointMicros(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = bucket / kSubBuckets - 1;
  const int sub = bucket % kSubBuckets + kSubBuckets;
  const double low = std::ldexp(sub, shift);
  const double width = std::ldexp(1.0, shift);
  return low + width / 2;
}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  const auto micros = static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency.count() / 1000));
  ++buckets_[BucketOf(micros)];
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
}

double LatencyHistogram::PercentileMicros(double p) const {
  if (count_ == 0) return 0;
  // The rank of the p-th percentile, 1-based: the smallest value with at least p % of the
  // samples at or below it.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return MidpointMicros(i);
  }
  return MidpointMicros(kBuckets - 1);
}

}  // namespace passgate::bench
