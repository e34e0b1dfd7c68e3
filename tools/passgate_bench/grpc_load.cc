#include "tools/passgate_bench/grpc_load.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "passgate/v1/password_auth.grpc.pb.h"
#include "tools/passgate_bench/latency_histogram.h"
#include "tools/passgate_bench/process_stats.h"

namespace passgate::bench {
namespace {

using Clock = std::chrono::steady_clock;
using passgate::v1::PasswordAuth;

// An OK ValidateSession that says is_valid=false means the bench's own session was lost: an
// error of the run, counted apart from the gRPC codes.
constexpr const char* kInvalidSession = "INVALID_SESSION";

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN_CODE";
  }
}

// Run is what every slot shares: the measured window, fixed before the first call, and the
// count of slots still calling, which the main thread waits on.
class Run {
 public:
  Run(Clock::time_point window_start, Clock::time_point window_end, int slots)
      : window_start_(window_start), window_end_(window_end), active_(slots) {}

  Clock::time_point window_start() const { return window_start_; }
  Clock::time_point window_end() const { return window_end_; }

  void SlotFinished() {
    std::lock_guard lock(mutex_);
    if (--active_ == 0) all_finished_.notify_all();
  }

  void WaitForSlots() {
    std::unique_lock lock(mutex_);
    all_finished_.wait(lock, [this] { return active_ == 0; });
  }

 private:
  const Clock::time_point window_start_;
  const Clock::time_point window_end_;
  std::mutex mutex_;
  std::condition_variable all_finished_;
  int active_;
};

// CallSlot keeps one call outstanding until the window ends. Its completion callback
// records the result and starts the next call, so a slot's state is only touched by one
// callback at a time and needs no lock; the main thread reads it after Run::WaitForSlots.
class CallSlot {
 public:
  CallSlot(PasswordAuth::Stub& stub, const GrpcLoadOptions& options, const Credential& user,
           const std::string& session_token, Run& run)
      : stub_(stub), rpc_(options.rpc), call_deadline_(options.call_deadline), run_(run) {
    login_request_.set_user_id(user.user_id);
    login_request_.set_password(user.password);
    validate_request_.set_session_token(session_token);
  }
  CallSlot(const CallSlot&) = delete;
  CallSlot& operator=(const CallSlot&) = delete;

  void Start() {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + call_deadline_);
    started_ = Clock::now();
    auto done = [this](grpc::Status status) { OnDone(status); };
    if (rpc_ == GrpcRpc::kLogin) {
      login_response_.Clear();
      stub_.async()->Login(context_.get(), &login_request_, &login_response_, std::move(done));
    } else {
      validate_response_.Clear();
      stub_.async()->ValidateSession(context_.get(), &validate_request_, &validate_response_,
                                     std::move(done));
    }
  }

  const LatencyHistogram& ok_latency() const { return ok_latency_; }
  const std::map<std::string, std::uint64_t>& outcomes() const { return outcomes_; }

 private:
  void OnDone(const grpc::Status& status) {
    const auto now = Clock::now();
    // Free the context (and its channel reference) here, before the main thread may tear
    // the channels down after the last slot reports.
    context_.reset();
    const char* outcome = StatusCodeName(status.error_code());
    if (status.ok() && rpc_ == GrpcRpc::kValidate && !validate_response_.is_valid()) {
      outcome = kInvalidSession;
    }
    if (now >= run_.window_start() && now <= run_.window_end()) {
      ++outcomes_[outcome];
      if (outcome == std::string_view("OK")) ok_latency_.Record(now - started_);
    }
    if (now < run_.window_end()) {
      Start();
      return;
    }
    run_.SlotFinished();  // the last use of `this`: the main thread may free it now
  }

  PasswordAuth::Stub& stub_;
  const GrpcRpc rpc_;
  const std::chrono::seconds call_deadline_;
  Run& run_;
  std::unique_ptr<grpc::ClientContext> context_;
  passgate::v1::LoginRequest login_request_;
  passgate::v1::LoginResponse login_response_;
  passgate::v1::ValidateSessionRequest validate_request_;
  passgate::v1::ValidateSessionResponse validate_response_;
  Clock::time_point started_;
  LatencyHistogram ok_latency_;
  std::map<std::string, std::uint64_t> outcomes_;
};

// Connect opens one channel per requested connection. gRPC shares a subchannel (one TCP
// connection) between channels with equal arguments; a per-channel pool plus a distinct
// argument value gives each channel its own connection, as separate clients would have.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> Connect(const std::string& target,
                                                                    int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("passgate.bench.channel", i);
    // The bench never retries (an answer it did not expect is an error of the run), and
    // gRPC's retry filter, on by default, costs the client about 28 % more instructions per
    // ValidateSession call (callgrind, 2 s vs 5 s windows) on the cores the server needs.
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      return absl::UnavailableError(absl::StrCat("grpc: cannot connect to ", target));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

// LogInOnce returns a session token for the validate phase.
absl::StatusOr<std::string> LogInOnce(PasswordAuth::Stub& stub, const Credential& user) {
  passgate::v1::LoginRequest request;
  request.set_user_id(user.user_id);
  request.set_password(user.password);
  passgate::v1::LoginResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  const grpc::Status status = stub.Login(&context, request, &response);
  if (!status.ok()) {
    return absl::UnauthenticatedError(absl::StrCat("grpc: the validate phase's login failed: ",
                                                   StatusCodeName(status.error_code())));
  }
  return response.session_token();
}

void SleepUntil(Clock::time_point when) { std::this_thread::sleep_until(when); }

}  // namespace

absl::StatusOr<nlohmann::json> RunGrpcLoad(const GrpcLoadOptions& options) {
  const int channel_count = std::max(1, std::min(options.channels, options.concurrency));
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      Connect(options.target, channel_count);
  if (!channels.ok()) return channels.status();
  std::vector<std::unique_ptr<PasswordAuth::Stub>> stubs;
  for (const auto& channel : *channels) stubs.push_back(PasswordAuth::NewStub(channel));

  std::string session_token;
  if (options.rpc == GrpcRpc::kValidate) {
    absl::StatusOr<std::string> token = LogInOnce(*stubs[0], options.users[0]);
    if (!token.ok()) return token.status();
    session_token = *std::move(token);
  }

  const auto window_start = Clock::now() + options.warmup;
  const auto window_end = window_start + options.duration;
  Run run(window_start, window_end, options.concurrency);
  std::vector<std::unique_ptr<CallSlot>> slots;
  for (int i = 0; i < options.concurrency; ++i) {
    slots.push_back(std::make_unique<CallSlot>(*stubs[i % stubs.size()], options,
                                               options.users[i % options.users.size()],
                                               session_token, run));
  }
  for (auto& slot : slots) slot->Start();

  SleepUntil(window_start);
  const auto server_cpu_start =
      options.server_pid ? ProcessCpuTime(*options.server_pid) : std::nullopt;
  const auto client_cpu_start = SelfCpuTime();
  SleepUntil(window_end);
  const auto server_cpu_end =
      options.server_pid ? ProcessCpuTime(*options.server_pid) : std::nullopt;
  const auto client_cpu_end = SelfCpuTime();
  run.WaitForSlots();

  LatencyHistogram ok_latency;
  std::map<std::string, std::uint64_t> outcomes;
  std::uint64_t calls = 0;
  for (const auto& slot : slots) {
    ok_latency.Merge(slot->ok_latency());
    for (const auto& [outcome, count] : slot->outcomes()) {
      outcomes[outcome] += count;
      calls += count;
    }
  }
  const std::uint64_t ok = ok_latency.count();
  const double seconds = std::chrono::duration<double>(options.duration).count();
  nlohmann::json result = {
      {"rpc", options.rpc == GrpcRpc::kLogin ? "login" : "validate"},
      {"concurrency", options.concurrency},
      {"channels", channel_count},
      {"seconds", seconds},
      {"calls", calls},
      {"ok", ok},
      {"outcomes", outcomes},
      {"calls_per_s", calls / seconds},
      {"ok_per_s", ok / seconds},
      {"p50_ms", ok_latency.PercentileMicros(50) / 1000.0},
      {"p99_ms", ok_latency.PercentileMicros(99) / 1000.0},
      {"client_cpu_us_per_call",
       calls == 0 ? nlohmann::json(nullptr)
                  : nlohmann::json(
                        static_cast<double>((client_cpu_end - client_cpu_start).count()) / calls)},
  };
  if (options.server_pid) {
    result["server_cpu_us_per_call"] =
        server_cpu_start && server_cpu_end && calls > 0
            ? nlohmann::json(static_cast<double>((*server_cpu_end - *server_cpu_start).count()) /
                             calls)
            : nlohmann::json(nullptr);
  }
  return result;
}

}  // namespace passgate::bench
