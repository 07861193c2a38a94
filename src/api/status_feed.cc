#include "api/status_feed.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "api/json_model.h"
#include "base/log.h"

namespace georep {

bool StatusFeed::Subscription::Next(std::chrono::milliseconds wait, std::vector<Change>* out) {
  std::unique_lock<std::mutex> lock(mu_);
  ready_.wait_for(lock, wait, [this] { return closed_ || !queue_.empty(); });
  out->assign(queue_.begin(), queue_.end());
  queue_.clear();
  return !closed_;
}

void StatusFeed::Subscription::Push(const Change& c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      // Too far behind: what it missed is replaced by one "reload everything".
      queue_.clear();
      queue_.push_back({"resync", "{}"});
    } else {
      queue_.push_back(c);
    }
  }
  ready_.notify_all();
}

void StatusFeed::Subscription::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  ready_.notify_all();
}

StatusFeed::StatusFeed(Operations& ops, Clock& clock, std::chrono::milliseconds interval)
    : ops_(ops), clock_(clock), interval_(interval) {}

StatusFeed::~StatusFeed() {
  Stop();
}

void StatusFeed::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "georep-feed");
    Loop();
  });
}

void StatusFeed::Stop() {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    subs.swap(subscribers_);
  }
  wake_.notify_all();
  for (auto& s : subs) s->Close();
  if (thread_.joinable()) thread_.join();
}

void StatusFeed::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    PollOnce();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

std::shared_ptr<StatusFeed::Subscription> StatusFeed::Subscribe(const std::string& owner,
                                                                bool* owner_full) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto owned = std::count_if(subscribers_.begin(), subscribers_.end(),
                                   [&](const auto& s) { return s->owner_ == owner; });
  if (owner_full) *owner_full = static_cast<size_t>(owned) >= kMaxPerOwner;
  if (stopping_ || subscribers_.size() >= kMaxSubscribers ||
      static_cast<size_t>(owned) >= kMaxPerOwner)
    return nullptr;
  auto s = std::make_shared<Subscription>();
  s->owner_ = owner;
  subscribers_.push_back(s);
  return s;
}

void StatusFeed::Unsubscribe(const std::shared_ptr<Subscription>& s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(subscribers_, s);
  }
  // A reader still waiting in Next() (its client went away) returns now.
  s->Close();
}

size_t StatusFeed::Subscribers() {
  std::lock_guard<std::mutex> lock(mu_);
  return subscribers_.size();
}

void StatusFeed::Publish(const std::vector<Change>& changes) {
  if (changes.empty()) return;
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subs = subscribers_;
  }
  for (auto& s : subs)
    for (const auto& c : changes) s->Push(c);
}

void StatusFeed::Sample(const SessionDetail& d, int64_t now) {
  int64_t newest = 0;
  MetricSample m;
  m.at_ms = now;
  for (const auto& n : d.nodes) newest = std::max(newest, n.updated_at);
  // The session's own figures (EngineContext::FillHealth: the largest node lag and the nodes'
  // throughput for georep's engine; the heartbeat and the destination's growth for gluster).
  m.lag_seconds = d.lag_ms < 0 ? -1 : static_cast<double>(d.lag_ms) / 1000.0;
  m.throughput_bps = d.throughput_bps;
  std::lock_guard<std::mutex> lock(metrics_mu_);
  History& h = metrics_[d.session.id];
  if (newest == 0 || newest <= h.last_update) return;  // nothing new reported
  h.last_update = newest;
  h.samples.push_back(m);
  while (!h.samples.empty() &&
         (h.samples.size() > kMaxSamples || h.samples.front().at_ms < now - kHistoryMillis))
    h.samples.pop_front();
}

std::vector<MetricSample> StatusFeed::Metrics(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  auto it = metrics_.find(session_id);
  if (it == metrics_.end()) return {};
  return {it->second.samples.begin(), it->second.samples.end()};
}

void StatusFeed::PollOnce() {
  const int64_t now = clock_.NowMillis();
  std::vector<Change> changes;

  // Sessions, with their nodes.
  auto sessions = ops_.ListSessionDetails({});
  if (sessions.ok()) {
    std::map<std::string, std::string> seen;
    for (const auto& d : *sessions) {
      std::string json = ToJson(d).dump();
      auto old = sessions_.find(d.session.id);
      if (have_baseline_ && (old == sessions_.end() || old->second != json))
        changes.push_back({"session", json});
      seen.emplace(d.session.id, std::move(json));
      Sample(d, now);
    }
    for (const auto& [id, json] : sessions_) {
      if (seen.contains(id)) continue;
      if (have_baseline_) changes.push_back({"session_removed", Json{{"id", id}}.dump()});
      std::lock_guard<std::mutex> lock(metrics_mu_);
      metrics_.erase(id);
    }
    sessions_ = std::move(seen);
  } else {
    spdlog::warn("msg=\"feed cannot list sessions\" error={}",
                 LogValue(sessions.status().message()));
  }

  // Destinations, over every cluster.
  auto clusters = ops_.ListClusters();
  if (clusters.ok()) {
    std::map<std::string, std::string> seen;
    bool complete = true;
    for (const auto& c : *clusters) {
      auto dests = ops_.ListDestinations(c.id);
      if (!dests.ok()) {
        complete = false;  // a cluster removed meanwhile, or a store error: try again next time
        continue;
      }
      for (const auto& d : *dests) {
        std::string json = ToJson(d).dump();
        auto old = destinations_.find(d.id);
        if (have_baseline_ && (old == destinations_.end() || old->second != json))
          changes.push_back({"destination", json});
        seen.emplace(d.id, std::move(json));
      }
    }
    if (complete) {
      for (const auto& [id, json] : destinations_)
        if (have_baseline_ && !seen.contains(id))
          changes.push_back({"destination_removed", Json{{"id", id}}.dump()});
      destinations_ = std::move(seen);
    } else {
      for (auto& [id, json] : seen) destinations_[id] = std::move(json);
    }
  }

  // Audit events newer than the last seen, oldest first. The store answers newest first, a
  // page at a time; more than a page in one interval is told as a resync.
  EventFilter f;
  f.after_id = last_event_id_;
  f.limit = have_baseline_ ? 1000 : 1;
  auto events = ops_.ListEvents(f);
  if (events.ok() && !events->empty()) {
    if (have_baseline_) {
      if (events->size() >= 1000) {
        changes.push_back({"resync", "{}"});
      } else {
        for (auto it = events->rbegin(); it != events->rend(); ++it)
          changes.push_back({"audit", ToJson(*it).dump()});
      }
    }
    last_event_id_ = events->front().id;
  }

  have_baseline_ = true;
  Publish(changes);
}

}  // namespace georep
