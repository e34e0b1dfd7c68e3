#include "gateway/jwks_cache.h"

#include <mutex>
#include <utility>
#include <vector>

namespace passgate::gateway {

struct JwksCache::State {
  std::shared_ptr<PasswordAuthClient> client;
  std::chrono::steady_clock::duration ttl;
  Render render;
  Clock now;

  std::mutex mu;
  std::shared_ptr<const std::string> body;  // guarded by mu; null: nothing cached
  std::chrono::steady_clock::time_point fetched_at;  // guarded by mu
  bool refreshing = false;                           // guarded by mu
  std::vector<Answer> waiting;                       // guarded by mu

  // Finish stores the refresh's outcome and answers those who waited for it.
  void Finish(const grpc::Status& status, const passgate::v1::Jwks& reply) {
    std::shared_ptr<const std::string> rendered;
    if (status.ok()) rendered = std::make_shared<const std::string>(render(reply));
    std::vector<Answer> answers;
    {
      std::lock_guard<std::mutex> lock(mu);
      refreshing = false;
      body = rendered;
      fetched_at = now();
      answers.swap(waiting);
    }
    for (Answer& answer : answers) answer(status, rendered);
  }
};

JwksCache::JwksCache(std::shared_ptr<PasswordAuthClient> client,
                     std::chrono::steady_clock::duration ttl, Render render, Clock now)
    : state_(std::make_shared<State>()) {
  state_->client = std::move(client);
  state_->ttl = ttl;
  state_->render = std::move(render);
  state_->now = std::move(now);
}

void JwksCache::Get(const CallContext& context, Answer answer) const {
  std::shared_ptr<const std::string> cached;
  bool start_refresh = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    cached = state_->body;
    const bool fresh = cached != nullptr && state_->now() - state_->fetched_at < state_->ttl;
    if (!fresh && !state_->refreshing) {
      state_->refreshing = true;
      start_refresh = true;
    }
    if (cached == nullptr) state_->waiting.push_back(std::move(answer));
  }
  if (start_refresh) {
    state_->client->GetJwks(context,
                            [state = state_](CallResult result, passgate::v1::Jwks reply) {
                              state->Finish(result.status, reply);
                            });
  }
  if (cached != nullptr) answer(grpc::Status::OK, std::move(cached));
}

}  // namespace passgate::gateway
