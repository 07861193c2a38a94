// Notifications: the notifiers that carry alerts out of the engine (webhooks, e-mail), and
// every message sent to one (AlertDelivery): queued in the store in the same transaction that
// fires or resolves the alert, sent by DeliverDue (the AlertMonitor's delivery thread), retried
// with back-off (model/alerts.h: NextDeliveryAttempt) and kept as history.
//
// Roles: notifiers are an admin's (a notifier sends the engine's alerts to an address of its
// choosing, and holds a secret); deliveries, without secrets, may be read by any viewer.
// A webhook's secret is made by the engine when none is given, and shown once, at creation.
//
// Thread-safe (the store's transactions; the wake-up callback is set before the threads run).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine_context.h"
#include "host/message_sender.h"
#include "model/alerts.h"

namespace georep {

struct NotifierSpec {
  std::string name{};
  NotifierKind kind = NotifierKind::kWebhook;
  std::string url{};
  std::string secret{};  // webhook: empty makes one; e-mail: the SMTP password
  std::string smtp_user{};
  std::string mail_from{};
  std::string mail_to{};
  AlertSeverity min_severity = AlertSeverity::kWarning;
  bool send_resolved = true;
};

// What may change on a notifier after it is made (unset: unchanged).
struct NotifierChange {
  std::optional<bool> enabled{};
  std::optional<AlertSeverity> min_severity{};
  std::optional<bool> send_resolved{};
};

class Notifications {
 public:
  // Messages leave through ctx.sender; while it is null, deliveries are queued and kept
  // pending.
  explicit Notifications(EngineContext& ctx) : ctx_(ctx) {}

  // The new notifier with its secret (the only time it is shown).
  Result<Notifier> Add(const Actor& a, const NotifierSpec& spec);
  // Without their secrets.
  Result<std::vector<Notifier>> List(const Actor& a);
  Result<Notifier> Get(const Actor& a, const std::string& id_or_name);
  Result<Notifier> Change(const Actor& a, const std::string& id_or_name,
                          const NotifierChange& change);
  Status Remove(const Actor& a, const std::string& id_or_name);
  // Queues a test message to the notifier, sent at once by the delivery thread.
  Result<AlertDelivery> Test(const Actor& a, const std::string& id_or_name);
  // Deliveries, newest first.
  Result<std::vector<AlertDelivery>> Deliveries(const DeliveryFilter& filter);

  // Inside the caller's transaction: a delivery of `alert` at `event` ("firing", "resolved")
  // to every enabled notifier that takes it; returns how many were queued.
  Result<int> QueueFor(StoreTx& tx, const Alert& alert, std::string_view event, int64_t now);

  // Sends every delivery due now (at most `max` of them); returns how many were tried.
  int DeliverDue(int max = 100);
  // Milliseconds until the next pending delivery is due (0: due now); -1 when none is pending.
  int64_t NextDueIn();

  // Called after deliveries are queued, so the delivery thread sends them at once.
  void OnQueued(std::function<void()> wake) { wake_ = std::move(wake); }

  // How long one attempt may take.
  static constexpr std::chrono::milliseconds kSendTimeout{15'000};

 private:
  Status Validate(const NotifierSpec& spec) const;
  SendOutcome Send(const Notifier& n, AlertDelivery& d);
  void Wake() {
    if (wake_) wake_();
  }

  EngineContext& ctx_;
  std::function<void()> wake_;
};

}  // namespace georep
