#include "tools/passgate_bench/report.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace passgate::bench {
namespace {

using nlohmann::json;

// Targets from issue #5.
constexpr double kRestToRawTarget = 0.95;
constexpr double kRestToGrpcTarget = 0.6;
constexpr double kJwksTarget = 50'000;
constexpr double kValidateTarget = 20'000;
constexpr double kRssBaseMib = 64;

// Answers a login phase may get besides success: the hashing pool's load shedding.
const std::set<std::string> kGrpcShed = {"RESOURCE_EXHAUSTED"};
const std::set<std::string> kHttpShed = {"429"};

std::string Number(double value) {
  if (value >= 100) return absl::StrFormat("%.0f", value);
  if (value >= 10) return absl::StrFormat("%.1f", value);
  return absl::StrFormat("%.2f", value);
}

std::string Number(const json& value) {
  return value.is_number() ? Number(value.get<double>()) : "–";
}

std::string Verdict(bool pass) { return pass ? "**PASS**" : "**MISS**"; }

// Phase is one measured load run, gRPC or wrk, reduced to what the table shows.
struct Phase {
  double ok_per_s = 0;
  json p50_ms, p99_ms, server_cpu_us;
  int concurrency = 0;
  std::string shed;  // e.g. "429×3": answers shed by the pool, shown next to the figures
};

class Report {
 public:
  Report(std::map<std::string, json> records, std::ostream& out)
      : records_(std::move(records)), out_(out) {}

  const json* Find(const std::string& label) {
    const auto it = records_.find(label);
    if (it != records_.end()) return &it->second;
    errors_.push_back(absl::StrCat(label, ": no result (the phase did not run)"));
    return nullptr;
  }

  // Grpc reads a `passgate_bench grpc` phase; outcomes outside OK and `shed` are errors.
  std::optional<Phase> Grpc(const std::string& label, const std::set<std::string>& shed) {
    const json* record = Find(label);
    if (record == nullptr) return std::nullopt;
    Phase phase;
    phase.ok_per_s = record->value("ok_per_s", 0.0);
    phase.p50_ms = record->value("p50_ms", json());
    phase.p99_ms = record->value("p99_ms", json());
    phase.server_cpu_us = record->value("server_cpu_us_per_call", json());
    phase.concurrency = record->value("concurrency", 0);
    std::vector<std::string> shed_parts;
    const json outcomes = record->value("outcomes", json::object());
    for (const auto& [outcome, count] : outcomes.items()) {
      if (outcome == "OK") continue;
      if (shed.contains(outcome)) {
        shed_parts.push_back(absl::StrCat(outcome, "×", count.get<long>()));
      } else {
        errors_.push_back(
            absl::StrCat(label, ": ", count.get<long>(), " calls answered ", outcome));
      }
    }
    phase.shed = absl::StrJoin(shed_parts, " ");
    if (record->value("ok", 0) == 0) errors_.push_back(absl::StrCat(label, ": no successful call"));
    return phase;
  }

  // Wrk reads a `passgate_bench wrk` phase. With per-status counts (login.lua) success is
  // 200 and `shed` statuses are shown; without (report.lua alone) success is any answer
  // below 400. Socket errors and timeouts are always errors.
  std::optional<Phase> Wrk(const std::string& label, const std::set<std::string>& shed) {
    const json* record = Find(label);
    if (record == nullptr) return std::nullopt;
    const double seconds = record->value("seconds", 0.0);
    Phase phase;
    phase.p50_ms = record->value("p50_ms", json());
    phase.p99_ms = record->value("p99_ms", json());
    phase.server_cpu_us = record->value("server_cpu_us_per_request", json());
    phase.concurrency = record->value("connections", 0);
    const json statuses = record->value("statuses", json::object());
    double ok = 0;
    if (statuses.empty()) {
      const long failed = (*record)["errors"].value("status", 0L);
      ok = record->value("requests", 0.0) - failed;
      if (failed > 0) errors_.push_back(absl::StrCat(label, ": ", failed, " answers ≥ 400"));
    } else {
      std::vector<std::string> shed_parts;
      for (const auto& [status, count] : statuses.items()) {
        if (status == "200") {
          ok = count.get<double>();
        } else if (shed.contains(status)) {
          shed_parts.push_back(absl::StrCat(status, "×", count.get<long>()));
        } else {
          errors_.push_back(absl::StrCat(label, ": ", count.get<long>(), " answers ", status));
        }
      }
      phase.shed = absl::StrJoin(shed_parts, " ");
    }
    for (const char* kind : {"connect", "read", "write", "timeout"}) {
      const long n = (*record)["errors"].value(kind, 0L);
      if (n > 0) errors_.push_back(absl::StrCat(label, ": ", n, " socket ", kind, " errors"));
    }
    if (ok <= 0) errors_.push_back(absl::StrCat(label, ": no successful request"));
    phase.ok_per_s = seconds > 0 ? ok / seconds : 0;
    return phase;
  }

  void Heading(const std::string& text) { out_ << "\n**" << text << "**\n\n" << kHeader; }

  void Row(const std::string& what, const std::string& measured, const std::string& p50,
           const std::string& p99, const std::string& cpu, const std::string& target,
           const std::string& result) {
    out_ << "| " << absl::StrJoin({what, measured, p50, p99, cpu, target, result}, " | ") << " |\n";
  }

  void Row(const std::string& what, const std::optional<Phase>& phase, const std::string& unit) {
    if (!phase) return Row(what, "–", "", "", "", "", "");
    std::string measured = absl::StrCat(Number(phase->ok_per_s), " ", unit);
    if (!phase->shed.empty()) absl::StrAppend(&measured, " (shed: ", phase->shed, ")");
    Row(absl::StrCat(what, " (c=", phase->concurrency, ")"), measured, Number(phase->p50_ms),
        Number(phase->p99_ms), Number(phase->server_cpu_us), "", "");
  }

  // Ratio prints numerator ÷ denominator against the target; `detail` follows the figure.
  void Ratio(const std::string& what, std::optional<double> numerator,
             std::optional<double> denominator, double target, const std::string& detail = "") {
    if (!numerator || !denominator || *denominator <= 0) {
      return Row(what, "–", "", "", "", absl::StrCat("≥ ", Number(target)), "–");
    }
    const double ratio = *numerator / *denominator;
    Row(what, absl::StrCat(absl::StrFormat("%.3f", ratio), detail), "", "", "",
        absl::StrCat("≥ ", Number(target)), Verdict(ratio >= target));
  }

  void AddError(std::string error) { errors_.push_back(std::move(error)); }
  const std::vector<std::string>& errors() const { return errors_; }
  std::ostream& out() { return out_; }

 private:
  static constexpr char kHeader[] =
      "| | measured | p50 ms | p99 ms | server CPU µs/req | target | result |\n"
      "|---|---:|---:|---:|---:|---|---|\n";

  std::map<std::string, json> records_;
  std::ostream& out_;
  std::vector<std::string> errors_;
};

std::optional<double> OkPerSecond(const std::optional<Phase>& phase) {
  if (!phase) return std::nullopt;
  return phase->ok_per_s;
}

void Hasher(Report& report, const json* hasher, const std::string& what) {
  if (hasher == nullptr) return;
  const int rounds = hasher->value("rounds", 1);
  report.Row(absl::StrCat(what, " (", hasher->value("threads", 0), " threads",
                          rounds > 1 ? absl::StrCat(", ", rounds, " rounds") : "", ")"),
             absl::StrCat(Number(hasher->value("verifies_per_s", 0.0)), " verifies/s (",
                          Number(hasher->value("ms_per_verify", 0.0)), " ms each, ",
                          Number(hasher->value("cpu_ms_per_verify", 0.0)), " ms CPU)"),
             "", "", "", "", "");
}

void Sweep(Report& report, const std::map<std::string, json>& records,
           const std::string& csv_path) {
  // concurrency -> (grpc, rest)
  std::map<int, std::pair<std::optional<Phase>, std::optional<Phase>>> points;
  for (const auto& [label, record] : records) {
    if (!label.starts_with(label::kSweepPrefix)) continue;
    const std::string rest = label.substr(std::string_view(label::kSweepPrefix).size());
    const auto dot = rest.find('.');
    int concurrency = 0;
    if (dot == std::string::npos || !absl::SimpleAtoi(rest.substr(dot + 1), &concurrency)) continue;
    if (rest.substr(0, dot) == "grpc") {
      points[concurrency].first = report.Grpc(label, kGrpcShed);
    } else {
      points[concurrency].second = report.Wrk(label, kHttpShed);
    }
  }
  if (points.empty()) {
    report.AddError("sweep: no result (the phase did not run)");
    return;
  }
  std::ofstream csv(csv_path, std::ios::trunc);
  csv << "# concurrency grpc_ok_per_s grpc_p99_ms rest_ok_per_s rest_p99_ms\n";
  report.out() << "\n**Concurrency sweep** (data: `" << csv_path << "`)\n\n"
               << "| concurrency | gRPC logins/s | gRPC p99 ms | REST logins/s | REST p99 ms |\n"
               << "|---:|---:|---:|---:|---:|\n";
  const auto cell = [](const std::optional<Phase>& phase, bool rate) {
    if (!phase) return std::string("nan");
    return rate ? absl::StrFormat("%.2f", phase->ok_per_s)
                : (phase->p99_ms.is_number() ? absl::StrFormat("%.3f", phase->p99_ms.get<double>())
                                             : std::string("nan"));
  };
  for (const auto& [concurrency, pair] : points) {
    const auto& [grpc, rest] = pair;
    csv << concurrency << " " << cell(grpc, true) << " " << cell(grpc, false) << " "
        << cell(rest, true) << " " << cell(rest, false) << "\n";
    report.out() << "| " << concurrency << " | " << cell(grpc, true) << " | " << cell(grpc, false)
                 << " | " << cell(rest, true) << " | " << cell(rest, false) << " |\n";
  }
  if (!csv) report.AddError(absl::StrCat("sweep: cannot write ", csv_path));
}

// Rounds returns a phase measured in alternating rounds ("<base>.1", "<base>.2", ...) in
// round order, or the single record labelled `base`.
std::vector<json> Rounds(const std::map<std::string, json>& records, const std::string& base) {
  std::map<int, json> numbered;
  for (const auto& [label, record] : records) {
    int round = 0;
    if (label.starts_with(base + ".") && absl::SimpleAtoi(label.substr(base.size() + 1), &round)) {
      numbered[round] = record;
    }
  }
  std::vector<json> rounds;
  for (auto& [round, record] : numbered) rounds.push_back(std::move(record));
  if (rounds.empty()) {
    if (const auto it = records.find(base); it != records.end()) rounds.push_back(it->second);
  }
  return rounds;
}

double Sum(const std::vector<json>& rounds, const char* key) {
  double sum = 0;
  for (const json& round : rounds) sum += round.value(key, 0.0);
  return sum;
}

// WeightedMean averages `key` over the rounds, each weighted by its `weight` (operations).
json WeightedMean(const std::vector<json>& rounds, const char* key, const char* weight) {
  double sum = 0, weights = 0;
  for (const json& round : rounds) {
    const json value = round.value(key, json());
    if (!value.is_number()) return json();
    sum += value.get<double>() * round.value(weight, 0.0);
    weights += round.value(weight, 0.0);
  }
  return weights > 0 ? json(sum / weights) : json();
}

// PoolHasher merges hasher rounds into one record: all verifies over all measured seconds.
json PoolHasher(const std::vector<json>& rounds) {
  json pooled = rounds.front();
  const double verifies = Sum(rounds, "verifies"), seconds = Sum(rounds, "seconds");
  const int threads = pooled.value("threads", 0);
  pooled["verifies"] = verifies;
  pooled["seconds"] = seconds;
  pooled["verifies_per_s"] = seconds > 0 ? verifies / seconds : 0.0;
  pooled["ms_per_verify"] = verifies > 0 ? seconds * 1000.0 * threads / verifies : 0.0;
  pooled["cpu_ms_per_verify"] = WeightedMean(rounds, "cpu_ms_per_verify", "verifies");
  pooled["rounds"] = rounds.size();
  return pooled;
}

// PoolWrk merges wrk rounds: counts and seconds add up; server CPU is per request over all
// rounds; p50 is the median round's and p99 the worst round's (percentiles do not add up).
json PoolWrk(const std::vector<json>& rounds) {
  json pooled = rounds.front();
  json statuses = json::object(), errors = json::object();
  std::vector<double> p50s;
  double p99 = 0;
  for (const json& round : rounds) {
    const json round_statuses = round.value("statuses", json::object());
    for (const auto& [status, count] : round_statuses.items()) {
      statuses[status] = statuses.value(status, 0L) + count.get<long>();
    }
    const json round_errors = round.value("errors", json::object());
    for (const auto& [kind, count] : round_errors.items()) {
      errors[kind] = errors.value(kind, 0L) + count.get<long>();
    }
    if (round.value("p50_ms", json()).is_number()) p50s.push_back(round["p50_ms"].get<double>());
    if (round.value("p99_ms", json()).is_number()) {
      p99 = std::max(p99, round["p99_ms"].get<double>());
    }
  }
  std::sort(p50s.begin(), p50s.end());
  pooled["statuses"] = statuses;
  pooled["errors"] = errors;
  pooled["requests"] = Sum(rounds, "requests");
  pooled["seconds"] = Sum(rounds, "seconds");
  pooled["p50_ms"] = p50s.empty() ? json() : json(p50s[p50s.size() / 2]);
  pooled["p99_ms"] = p99;
  pooled["server_cpu_us_per_request"] =
      WeightedMean(rounds, "server_cpu_us_per_request", "requests");
  pooled["rounds"] = rounds.size();
  return pooled;
}

// PoolAlternating replaces the rounds of a limit/REST pair with one pooled record under each
// base label and returns the rounds (limit, REST) for RoundRatios.
std::pair<std::vector<json>, std::vector<json>> PoolAlternating(
    std::map<std::string, json>& records, const std::string& hasher, const std::string& rest) {
  std::vector<json> hasher_rounds = Rounds(records, hasher);
  std::vector<json> rest_rounds = Rounds(records, rest);
  if (!hasher_rounds.empty()) records[hasher] = PoolHasher(hasher_rounds);
  if (!rest_rounds.empty()) records[rest] = PoolWrk(rest_rounds);
  return {std::move(hasher_rounds), std::move(rest_rounds)};
}

// SuccessPerSecond is a wrk round's 200 answers per measured second.
double SuccessPerSecond(const json& wrk) {
  const double seconds = wrk.value("seconds", 0.0);
  const json statuses = wrk.value("statuses", json::object());
  const double ok = statuses.value("200", 0.0);
  return seconds > 0 ? ok / seconds : 0;
}

// RoundRatios lists each round's REST ÷ raw ratio: how far the pooled ratio is from noise.
std::string RoundRatios(const std::vector<json>& raw, const std::vector<json>& rest) {
  if (raw.size() < 2 || raw.size() != rest.size()) return "";
  std::vector<std::string> ratios;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const double limit = raw[i].value("verifies_per_s", 0.0);
    ratios.push_back(limit > 0 ? absl::StrFormat("%.2f", SuccessPerSecond(rest[i]) / limit) : "–");
  }
  return absl::StrCat(" (rounds: ", absl::StrJoin(ratios, " · "), ")");
}

}  // namespace

absl::StatusOr<int> WriteReport(const ReportOptions& options, std::ostream& out) {
  std::ifstream in(options.results_file);
  if (!in)
    return absl::NotFoundError(absl::StrCat("--results: cannot read ", options.results_file));
  std::map<std::string, json> records;
  std::string line;
  while (std::getline(in, line)) {
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("label") && record["label"].is_string()) {
      const std::string label = record["label"].get<std::string>();
      records[label] = std::move(record);
    }
  }

  // The limit and the REST logins (default and ES256) are measured in alternating rounds,
  // so that both see the same neighbours on a shared machine; pool each.
  const auto [raw_rounds, rest_rounds] =
      PoolAlternating(records, label::kHasherDefault, label::kRestLoginDefault);
  const auto [es256_raw_rounds, es256_rest_rounds] =
      PoolAlternating(records, label::kHasherEs256, label::kRestLoginEs256);

  Report report(records, out);
  out << "passgate bench — " << options.machine << "\n";

  const json* raw = report.Find(label::kHasherDefault);
  const std::string default_params =
      raw == nullptr ? std::string("default Argon2id")
                     : absl::StrFormat("default Argon2id m=%d KiB t=%d p=1",
                                       raw->value("memory_kib", 0), raw->value("iterations", 0));
  report.Heading(absl::StrCat("Login at the default parameters (", default_params, ")"));
  Hasher(report, raw, "raw hasher verify rate = the limit");
  // Issue #5's candidate, measured beside the limit instead of adopted on faith.
  Hasher(report, report.Find(label::kHasherCandidate),
         "candidate, not adopted: libargon2 with a reused per-thread buffer");
  const std::optional<Phase> grpc_default = report.Grpc(label::kGrpcLoginDefault, kGrpcShed);
  const std::optional<Phase> rest_default = report.Wrk(label::kRestLoginDefault, kHttpShed);
  report.Row("gRPC Login", grpc_default, "logins/s");
  report.Row("REST POST /password/login", rest_default, "logins/s");
  report.Ratio("REST logins/s ÷ raw verify rate", OkPerSecond(rest_default),
               raw == nullptr ? std::nullopt : std::optional(raw->value("verifies_per_s", 0.0)),
               kRestToRawTarget, RoundRatios(raw_rounds, rest_rounds));
  // Even alternating, the rates come from different windows with different neighbours;
  // CPU time per operation does not depend on how much of the machine was ours, so this
  // ratio says what the rate ratio would be on a quiet machine.
  if (raw != nullptr && rest_default && rest_default->server_cpu_us.is_number() &&
      rest_default->server_cpu_us.get<double>() > 0) {
    report.Ratio("same, CPU-normalised: raw CPU per verify ÷ server CPU per REST login",
                 raw->value("cpu_ms_per_verify", 0.0) * 1000,
                 rest_default->server_cpu_us.get<double>(), kRestToRawTarget);
  }

  // For comparison only: the target is the default's. ES256 signs in ~0.04 ms where RS256
  // takes ~0.5 ms, so this shows how much of the gap above is the default's signature.
  if (records.contains(label::kHasherEs256) || records.contains(label::kRestLoginEs256)) {
    const json* es256_raw = report.Find(label::kHasherEs256);
    const std::optional<Phase> es256_rest = report.Wrk(label::kRestLoginEs256, kHttpShed);
    report.Row("REST POST /password/login, ES256 session tokens (opt-in)", es256_rest,
               "logins/s");
    if (es256_raw != nullptr && es256_rest) {
      const double limit = es256_raw->value("verifies_per_s", 0.0);
      report.Row("same, ÷ raw verify rate measured beside it (comparison, not the target)",
                 limit > 0 ? absl::StrCat(absl::StrFormat("%.3f", es256_rest->ok_per_s / limit),
                                          RoundRatios(es256_raw_rounds, es256_rest_rounds))
                           : "–",
                 "", "", "", "", "");
    }
  }

  report.Heading("Bench profile (cheapest Argon2id: m=8 KiB t=1 p=1, NOT a default)");
  Hasher(report, report.Find(label::kHasherBench), "raw hasher verify rate");
  const std::optional<Phase> grpc_bench = report.Grpc(label::kGrpcLoginBench, kGrpcShed);
  const std::optional<Phase> rest_bench = report.Wrk(label::kRestLoginBench, kHttpShed);
  report.Row("gRPC Login", grpc_bench, "logins/s");
  report.Row("REST POST /password/login", rest_bench, "logins/s");
  report.Ratio("REST logins/s ÷ gRPC logins/s", OkPerSecond(rest_bench), OkPerSecond(grpc_bench),
               kRestToGrpcTarget);

  report.Heading("Paths without hashing");
  const std::optional<Phase> jwks = report.Wrk(label::kRestJwks, {});
  const std::optional<Phase> validate = report.Grpc(label::kGrpcValidate, {});
  for (const auto& [what, phase, target] :
       {std::tuple{"GET /.well-known/jwks.json", &jwks, kJwksTarget},
        std::tuple{"gRPC ValidateSession", &validate, kValidateTarget}}) {
    if (!*phase) {
      report.Row(what, "–", "", "", "", absl::StrCat("≥ ", Number(target), " /s"), "–");
      continue;
    }
    const Phase& p = **phase;
    report.Row(absl::StrCat(what, " (c=", p.concurrency, ")"),
               absl::StrCat(Number(p.ok_per_s), " /s"), Number(p.p50_ms), Number(p.p99_ms),
               Number(p.server_cpu_us), absl::StrCat("≥ ", Number(target), " /s"),
               Verdict(p.ok_per_s >= target));
  }

  report.Heading("Session token cost (one thread, CPU per operation; a login signs one, "
                 "a ValidateSession verifies one)");
  for (const auto& [label, record] : records) {
    if (!label.starts_with(label::kTokenPrefix)) continue;
    const std::string algorithm = record.value("algorithm", "?");
    const std::string name =
        algorithm == "RS256" ? absl::StrCat("RS256-", record.value("rsa_bits", 0), " (default)")
                             : algorithm;
    report.Row(absl::StrCat(name, " sign / verify"),
               absl::StrCat(Number(record.value("sign_us", 0.0)), " µs / ",
                            Number(record.value("verify_us", 0.0)), " µs"),
               "", "", "", "", "");
  }

  bool store_heading = false;
  for (const auto& [label, record] : records) {
    if (!label.starts_with(label::kStorePrefix)) continue;
    if (!store_heading) {
      report.Heading("Store cost (one thread, wall time; login = FindUser + FindPassword + "
                     "durable CreateSession, validation = FindSession)");
      store_heading = true;
    }
    const std::string backend = record.value("backend", "?");
    report.Row(absl::StrCat(backend, ": store work of one login"),
               absl::StrCat(Number(record.value("login_mean_us", 0.0)), " µs mean"),
               absl::StrCat(Number(record.value("login_p50_us", 0.0) / 1000.0)),
               absl::StrCat(Number(record.value("login_p99_us", 0.0) / 1000.0)), "", "", "");
    report.Row(absl::StrCat(backend, ": store work of one ValidateSession"),
               absl::StrCat(Number(record.value("validate_p50_us", 0.0)), " µs p50, ",
                            Number(record.value("validate_p99_us", 0.0)), " µs p99"),
               "", "", "", "", "");
  }

  report.Heading("Memory");
  if (const json* burst = report.Find(label::kBurst)) {
    std::vector<std::string> parts;
    long ok = 0;
    const json statuses = burst->value("statuses", json::object());
    for (const auto& [status, count] : statuses.items()) {
      parts.push_back(absl::StrCat(status, "×", count.get<long>()));
      if (status == "200") {
        ok = count.get<long>();
      } else if (!kHttpShed.contains(status)) {
        report.AddError(
            absl::StrCat("burst: ", count.get<long>(), " connections answered ", status));
      }
    }
    if (ok == 0) report.AddError("burst: no successful login");
    const double memory_mib = raw == nullptr ? 0 : raw->value("memory_kib", 0) / 1024.0;
    const int workers = raw == nullptr ? 0 : raw->value("threads", 0);
    const double bound_mib = kRssBaseMib + workers * memory_mib;
    const json peak = burst->value("peak_rss_kib", json());
    const std::string scope =
        burst->value("peak_rss_scope", "") == "burst" ? "" : " (peak since start: reset refused)";
    report.Row(
        absl::StrCat("peak RSS, burst of ", burst->value("connections", 0),
                     " concurrent login connections", scope),
        peak.is_number() ? absl::StrCat(Number(peak.get<double>() / 1024), " MiB") : "–", "", "",
        "",
        absl::StrFormat("≤ %s MiB (64 + %d × %s)", Number(bound_mib), workers, Number(memory_mib)),
        peak.is_number() ? Verdict(peak.get<double>() / 1024 <= bound_mib) : "–");
    out << "\nburst answers: " << absl::StrJoin(parts, " ") << "\n";
  }

  if (!options.sweep_csv.empty()) Sweep(report, records, options.sweep_csv);

  const std::vector<std::string>& errors = report.errors();
  out << "\nphase errors: " << (errors.empty() ? "none" : "") << "\n";
  for (const std::string& error : errors) out << "  - " << error << "\n";
  return static_cast<int>(errors.size());
}

}  // namespace passgate::bench
