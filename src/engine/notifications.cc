#include "engine/notifications.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "base/log.h"
#include "engine/alert_payload.h"
#include "model/validation.h"

namespace georep {
namespace {

Notifier WithoutSecret(Notifier n) {
  n.secret.clear();
  return n;
}

std::vector<std::string> Addresses(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool PlausibleAddress(const std::string& a) {
  const size_t at = a.find('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() &&
         a.find_first_of(" \t\r\n<>,;\"") == std::string::npos;
}

// A notifier's URL as events show it (viewers read them): its scheme, host and port only -- a
// chat service's webhook URL carries its credential in the path or the query.
std::string UrlForPeople(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "(an address)";
  const size_t host = scheme + 3;
  const size_t end = url.find_first_of("/?#", host);
  std::string authority =
      url.substr(host, end == std::string::npos ? std::string::npos : end - host);
  if (const size_t at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);  // user:password@ never shown
  return url.substr(0, host) + authority + (end == std::string::npos ? "" : "/...");
}

// The e-mail's subject and text, kept in the delivery's body as "Subject: ...\n\n<text>".
std::string MailBody(const std::string& subject, const std::string& text) {
  return "Subject: " + subject + "\n\n" + text;
}

}  // namespace

Status Notifications::Validate(const NotifierSpec& spec) const {
  GEOREP_RETURN_IF_ERROR(ValidateObjectName("notifier name", spec.name).WithField("name"));
  const auto starts = [&](std::string_view p) { return spec.url.rfind(p, 0) == 0; };
  const bool printable = std::all_of(spec.url.begin(), spec.url.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
  });
  if (spec.kind == NotifierKind::kWebhook) {
    if (!printable || !(starts("https://") || starts("http://")) || spec.url.size() < 10) {
      return Status::InvalidArgument(
                 fmt::format("a webhook's URL is http://HOST[:PORT]/PATH or https://..., not '{}'",
                             spec.url))
          .WithField("url");
    }
    if (!spec.secret.empty() && spec.secret.size() < 16) {
      return Status::InvalidArgument("a webhook's secret has at least 16 characters")
          .WithField("secret");
    }
    return Status::Ok();
  }
  if (!printable || !(starts("smtp://") || starts("smtps://")) || spec.url.size() < 9) {
    return Status::InvalidArgument(
               fmt::format("an e-mail notifier's server is smtp://HOST[:PORT] (STARTTLS) or "
                           "smtps://HOST[:PORT], not '{}'",
                           spec.url))
        .WithField("url");
  }
  if (!PlausibleAddress(spec.mail_from)) {
    return Status::InvalidArgument(fmt::format("'{}' is not an e-mail address", spec.mail_from))
        .WithField("mail_from");
  }
  const auto to = Addresses(spec.mail_to);
  if (to.empty()) {
    return Status::InvalidArgument("an e-mail notifier needs a recipient (to)")
        .WithField("mail_to");
  }
  for (const auto& t : to) {
    if (!PlausibleAddress(t)) {
      return Status::InvalidArgument(fmt::format("'{}' is not an e-mail address", t))
          .WithField("mail_to");
    }
  }
  return Status::Ok();
}

Result<Notifier> Notifications::Add(const Actor& a, const NotifierSpec& spec) {
  Status valid = Require(a, Role::kAdmin);
  if (valid.ok()) valid = Validate(spec);
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "notifier.create", "notifier", "", valid);
    return valid;
  }
  Notifier n;
  n.id = ctx_.random.NewUuid();
  n.name = spec.name;
  n.kind = spec.kind;
  n.url = spec.url;
  n.secret = spec.kind == NotifierKind::kWebhook && spec.secret.empty() ? ctx_.random.NewToken(32)
                                                                        : spec.secret;
  n.smtp_user = spec.smtp_user;
  n.mail_from = spec.mail_from;
  n.mail_to = fmt::format("{}", fmt::join(Addresses(spec.mail_to), ", "));
  n.min_severity = spec.min_severity;
  n.send_resolved = spec.send_resolved;
  n.created_at = ctx_.clock.NowMillis();
  std::string msg = fmt::format(
      "{} notifier '{}' to {} for {} alerts and above", Name(n.kind), n.name,
      n.kind == NotifierKind::kWebhook ? UrlForPeople(n.url) : n.mail_to, Name(n.min_severity));
  Status st = ctx_.Audited(a, "notifier.create", "notifier", n.id, msg, [&](StoreTx& tx) {
    Status s = tx.CreateNotifier(n);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("a notifier named '{}' already exists", n.name))
          .WithField("name");
    return s;
  });
  if (!st.ok()) return st;
  return n;
}

Result<std::vector<Notifier>> Notifications::List(const Actor& a) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  GEOREP_ASSIGN_OR_RETURN(auto all, Read<std::vector<Notifier>>(ctx_.store, [](StoreTx& tx) {
                            return tx.ListNotifiers();
                          }));
  for (auto& n : all) n = WithoutSecret(std::move(n));
  return all;
}

Result<Notifier> Notifications::Get(const Actor& a, const std::string& id_or_name) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  GEOREP_ASSIGN_OR_RETURN(Notifier n, Read<Notifier>(ctx_.store, [&](StoreTx& tx) {
                            return tx.GetNotifier(id_or_name);
                          }));
  return WithoutSecret(std::move(n));
}

Result<Notifier> Notifications::Change(const Actor& a, const std::string& id_or_name,
                                       const NotifierChange& change) {
  Notifier out;
  std::string oid = id_or_name, msg;
  Status st = ctx_.Audited(a, "notifier.change", "notifier", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
    GEOREP_ASSIGN_OR_RETURN(out, tx.GetNotifier(id_or_name));
    oid = out.id;
    if (change.enabled) out.enabled = *change.enabled;
    if (change.min_severity) out.min_severity = *change.min_severity;
    if (change.send_resolved) out.send_resolved = *change.send_resolved;
    msg = fmt::format("notifier '{}': {}, {} alerts and above, resolved ones {}", out.name,
                      out.enabled ? "enabled" : "disabled", Name(out.min_severity),
                      out.send_resolved ? "sent" : "not sent");
    return tx.UpdateNotifier(out);
  });
  if (!st.ok()) return st;
  return WithoutSecret(std::move(out));
}

Status Notifications::Remove(const Actor& a, const std::string& id_or_name) {
  std::string oid = id_or_name, msg;
  return ctx_.Audited(a, "notifier.delete", "notifier", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
    GEOREP_ASSIGN_OR_RETURN(Notifier n, tx.GetNotifier(id_or_name));
    oid = n.id;
    msg = fmt::format("notifier '{}' removed with its delivery history", n.name);
    return tx.DeleteNotifier(n.id);
  });
}

Result<AlertDelivery> Notifications::Test(const Actor& a, const std::string& id_or_name) {
  AlertDelivery d;
  std::string oid = id_or_name, msg;
  Status st = ctx_.Audited(a, "notifier.test", "notifier", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
    GEOREP_ASSIGN_OR_RETURN(Notifier n, tx.GetNotifier(id_or_name));
    oid = n.id;
    const int64_t now = ctx_.clock.NowMillis();
    d.notifier_id = n.id;
    d.event = "test";
    d.body = n.kind == NotifierKind::kWebhook
                 ? WebhookTestBody(n.name, now)
                 : MailBody(fmt::format("[georep] test of notifier {}", n.name),
                            fmt::format("This is a test of the notifier {} from georep, sent at "
                                        "{}.\nAlerts will come like this one.\n",
                                        n.name, FormatIsoMillis(now)));
    d.created_at = d.next_attempt_at = now;
    GEOREP_ASSIGN_OR_RETURN(d.id, tx.CreateDelivery(d));
    msg = fmt::format("test message {} queued for notifier '{}'", d.id, n.name);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  Wake();
  return d;
}

Result<std::vector<AlertDelivery>> Notifications::Deliveries(const DeliveryFilter& filter) {
  DeliveryFilter f = filter;
  f.due_by = 0;
  return Read<std::vector<AlertDelivery>>(ctx_.store,
                                          [&](StoreTx& tx) { return tx.ListDeliveries(f); });
}

Result<int> Notifications::QueueFor(StoreTx& tx, const Alert& alert, std::string_view event,
                                    int64_t now) {
  GEOREP_ASSIGN_OR_RETURN(auto notifiers, tx.ListNotifiers());
  int queued = 0;
  for (const auto& n : notifiers) {
    if (!n.enabled || alert.severity < n.min_severity) continue;
    if (event == "resolved" && !n.send_resolved) continue;
    AlertDelivery d;
    d.notifier_id = n.id;
    d.alert_id = alert.id;
    d.event = std::string(event);
    d.body = n.kind == NotifierKind::kWebhook
                 ? WebhookBody(alert, event)
                 : MailBody(MailSubject(alert, event), MailText(alert, event));
    d.created_at = d.next_attempt_at = now;
    GEOREP_RETURN_IF_ERROR(tx.CreateDelivery(d).status());
    ++queued;
  }
  if (queued > 0) Wake();
  return queued;
}

SendOutcome Notifications::Send(const Notifier& n, AlertDelivery& d) {
  if (n.kind == NotifierKind::kWebhook) {
    const int64_t ts = ctx_.clock.NowMillis() / 1000;
    return ctx_.sender->PostJson(n.url,
                                 {{"X-Georep-Event", d.event},
                                  {"X-Georep-Delivery", std::to_string(d.id)},
                                  {"X-Georep-Timestamp", std::to_string(ts)},
                                  {"X-Georep-Signature", WebhookSignature(n.secret, ts, d.body)}},
                                 d.body, kSendTimeout);
  }
  MailMessage m;
  m.server_url = n.url;
  m.user = n.smtp_user;
  m.password = n.secret;
  m.from = n.mail_from;
  m.to = Addresses(n.mail_to);
  const size_t split = d.body.find("\n\n");
  m.subject = d.body.substr(9, split == std::string::npos ? std::string::npos : split - 9);
  m.text = split == std::string::npos ? "" : d.body.substr(split + 2);
  return ctx_.sender->SendMail(m, kSendTimeout);
}

int Notifications::DeliverDue(int max) {
  if (ctx_.sender == nullptr) return 0;
  const int64_t now = ctx_.clock.NowMillis();
  auto due = Read<std::vector<AlertDelivery>>(ctx_.store, [&](StoreTx& tx) {
    return tx.ListDeliveries({.due_by = std::max<int64_t>(now, 1), .limit = max});
  });
  if (!due.ok()) {
    spdlog::warn("msg=\"cannot read the deliveries due\" error={}",
                 LogValue(due.status().message()));
    return 0;
  }
  int tried = 0;
  for (AlertDelivery& d : *due) {
    auto n = Read<Notifier>(ctx_.store, [&](StoreTx& tx) { return tx.GetNotifier(d.notifier_id); });
    if (!n.ok()) continue;  // removed meanwhile, its deliveries with it
    ++tried;
    const SendOutcome out = Send(*n, d);
    const int64_t after = ctx_.clock.NowMillis();
    d.attempts += 1;
    d.last_attempt_at = after;
    d.response_status = out.status;
    d.last_error = out.error;
    std::vector<Event> events;
    if (out.ok()) {
      d.state = DeliveryState::kDelivered;
      d.next_attempt_at = 0;
    } else if (const int64_t next = out.retry ? NextDeliveryAttempt(d.attempts, after) : 0;
               next != 0) {
      d.next_attempt_at = next;
      spdlog::warn(
          "msg=\"notification not delivered; will retry\" notifier={} delivery={} "
          "attempt={} error={}",
          LogValue(n->name), d.id, d.attempts, LogValue(out.error));
    } else {
      d.state = DeliveryState::kFailed;
      d.next_attempt_at = 0;
      events.push_back(Event{0, after, "monitor", "notifier.delivery_failed", "notifier", n->id,
                             "failed",
                             fmt::format("notifier '{}' could not deliver the {} message {} "
                                         "after {} attempt(s): {}",
                                         n->name, d.event, d.id, d.attempts, out.error)});
    }
    Status st = ctx_.store.Transaction([&](StoreTx& tx) -> Status {
      GEOREP_RETURN_IF_ERROR(tx.UpdateDelivery(d));
      for (const auto& e : events) GEOREP_RETURN_IF_ERROR(tx.AppendEvent(e).status());
      return Status::Ok();
    });
    if (!st.ok()) {
      spdlog::error("msg=\"cannot record a delivery attempt\" delivery={} error={}", d.id,
                    LogValue(st.message()));
    }
  }
  return tried;
}

int64_t Notifications::NextDueIn() {
  auto due = Read<std::vector<AlertDelivery>>(ctx_.store, [&](StoreTx& tx) {
    return tx.ListDeliveries({.due_by = INT64_MAX, .limit = 1});
  });
  if (!due.ok() || due->empty()) return -1;
  return std::max<int64_t>(0, due->front().next_attempt_at - ctx_.clock.NowMillis());
}

}  // namespace georep
