#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_REPORT_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_REPORT_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"

namespace passgate::bench {

// Labels tools/bench gives the phases (the `--label` of each subcommand); the report knows
// each row by them.
namespace label {
inline constexpr char kHasherDefault[] = "hasher.default";
inline constexpr char kHasherBench[] = "hasher.bench";
inline constexpr char kHasherCandidate[] = "hasher.candidate";  // libargon2, reused buffer
inline constexpr char kGrpcLoginDefault[] = "grpc.login.default";
inline constexpr char kRestLoginDefault[] = "rest.login.default";
// The same pair with ES256 session tokens (opt-in), for comparison.
inline constexpr char kHasherEs256[] = "hasher.es256";
inline constexpr char kRestLoginEs256[] = "rest.login.es256";
inline constexpr char kGrpcLoginBench[] = "grpc.login.bench";
inline constexpr char kRestLoginBench[] = "rest.login.bench";
inline constexpr char kRestJwks[] = "rest.jwks";
inline constexpr char kGrpcValidate[] = "grpc.validate";
inline constexpr char kBurst[] = "burst";
// Token rows: "token.<algorithm>" (RS256 is the default, the others for comparison).
inline constexpr char kTokenPrefix[] = "token.";
// Store rows: "store.<backend>" (sqlite, postgres): the store work of a login / validation.
inline constexpr char kStorePrefix[] = "store.";
// Sweep rows: "sweep.grpc.<concurrency>" and "sweep.rest.<concurrency>".
inline constexpr char kSweepPrefix[] = "sweep.";
}  // namespace label

struct ReportOptions {
  std::string results_file;  // JSON lines, one per phase, each with "label"
  std::string sweep_csv;     // where to write the sweep's data; "" = no sweep expected
  std::string machine;       // free text for the heading (cores, CPU, load before)
};

// WriteReport prints the bench table (Markdown) for the phases in `results_file`: each
// measured value next to its target with PASS/MISS, then the sweep (also written to
// sweep_csv) and every phase error. A missed target is a result, not an error; a phase
// error is a phase that is missing, had no success, or got an answer it should never get
// (anything but OK/200, or the pool's RESOURCE_EXHAUSTED/429 where shedding is possible).
// Returns the number of phase errors; kNotFound when the results cannot be read.
absl::StatusOr<int> WriteReport(const ReportOptions& options, std::ostream& out);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_REPORT_H_
