// Alerts on a fake clock over a real SQLite store: the rules (pure), AlertManager firing,
// keeping and resolving alerts with their events, acknowledgement and its role, the engine
// settings, and Notifications queueing, signing, sending, retrying with back-off and giving up
// -- through a fake MessageSender that records what it was asked to send.
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "engine/alert_payload.h"
#include "engine/alert_rules.h"
#include "engine/operations.h"
#include "host/message_sender.h"
#include "replication/test_util.h"

namespace georep {
namespace {

using replication::testing::TempDir;

// Answers with the outcomes it is given, in order (then success), and keeps every request.
class FakeSender final : public MessageSender {
 public:
  struct Post {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string Header(const std::string& name) const {
      for (const auto& [n, v] : headers)
        if (n == name) return v;
      return "";
    }
  };
  SendOutcome PostJson(const std::string& url,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body, std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    posts.push_back({url, headers, body});
    return Next();
  }
  SendOutcome SendMail(const MailMessage& m, std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    mails.push_back(m);
    return Next();
  }
  void Then(SendOutcome o) {
    std::lock_guard lock(mu_);
    outcomes_.push_back(std::move(o));
  }
  std::vector<Post> posts;
  std::vector<MailMessage> mails;

 private:
  SendOutcome Next() {
    if (outcomes_.empty()) return {200, "", false};
    SendOutcome o = outcomes_.front();
    outcomes_.pop_front();
    return o;
  }
  std::mutex mu_;
  std::deque<SendOutcome> outcomes_;
};

TEST(AlertRules, EachSessionConditionAndWhatKeepsItQuiet) {
  SessionDetail d;
  d.session.id = "s1";
  d.session.session_key = "docs_dst_docs";
  d.session.destination_volume = "/replica";
  d.session.status = SessionStatus::kActive;
  SessionAlertInput in;
  in.detail = &d;
  in.lag_threshold_ms = 60'000;
  const int64_t now = 10'000'000;
  EXPECT_TRUE(SessionConditions(in, now).empty());

  // Unknown lag raises nothing; a known one over the threshold does, and says by how much.
  d.lag_ms = -1;
  EXPECT_TRUE(SessionConditions(in, now).empty());
  d.lag_ms = 60'000;
  EXPECT_TRUE(SessionConditions(in, now).empty());  // at the threshold: not over it
  d.lag_ms = 125'000;
  auto c = SessionConditions(in, now);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rule, "lag-high");
  EXPECT_EQ(c[0].object_name, "docs_dst_docs");
  EXPECT_EQ(c[0].summary, "lag 2 min, over the threshold of 1 min");
  in.lag_threshold_ms = 0;  // off
  EXPECT_TRUE(SessionConditions(in, now).empty());

  // Faulty, with the reasons of the nodes that are.
  d.session.status = SessionStatus::kPartialFaulty;
  SessionNodeStatus n;
  n.source_host = "node1";
  n.source_brick = "/b1";
  n.status = NodeStatus::kFaulty;
  n.status_reason = "cannot reach the destination";
  d.nodes = {n};
  c = SessionConditions(in, now);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rule, "session-faulty");
  EXPECT_NE(c[0].summary.find("node node1:/b1 Faulty (cannot reach the destination)"),
            std::string::npos)
      << c[0].summary;
  d.session.status = SessionStatus::kActive;

  // The standing alerts each raise their rule.
  d.alerts = {{"s1", "stalled", "no heartbeat for 5 min", 1, 1},
              {"s1", "verify-differs", "3 differences", 1, 1}};
  c = SessionConditions(in, now);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].rule, "session-stalled");
  EXPECT_EQ(c[0].summary, "no heartbeat for 5 min");
  EXPECT_EQ(c[1].rule, "verify-differs");
  d.alerts.clear();

  // A checkpoint: overdue only after the timeout from when it was set, never once completed.
  in.checkpoint_timeout_ms = 3'600'000;
  in.checkpoint_ms = now - 7'200'000;      // a time two hours back...
  in.checkpoint_set_at = now - 1'800'000;  // ...set half an hour ago
  EXPECT_TRUE(SessionConditions(in, now).empty());
  in.checkpoint_set_at = now - 3'700'000;
  c = SessionConditions(in, now);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rule, "checkpoint-overdue");
  d.session.checkpoint_announced = in.checkpoint_ms;
  EXPECT_TRUE(SessionConditions(in, now).empty());

  // The destination's disk: over the percent, and unknown sizes say nothing.
  in.disk_percent = 90;
  in.destination_used_bytes = int64_t{95} << 30;
  EXPECT_TRUE(SessionConditions(in, now).empty());
  in.destination_size_bytes = int64_t{100} << 30;
  c = SessionConditions(in, now);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rule, "destination-disk-full");
  EXPECT_EQ(c[0].summary,
            "destination volume /replica is 95% full (alert at 90%): 95.0 of 100.0 GiB");
}

// Every kind of standing session alert the engine raises (EngineContext::SetAlert's callers)
// raises a rule of the catalogue.
TEST(AlertRules, EveryStandingAlertKindRaisesARule) {
  for (const char* kind : {"stalled", "data-at-risk", "heartbeat-mismatch", "heartbeat-failing",
                           "verify-differs", "change-capture"}) {
    SessionDetail d;
    d.session.id = "s1";
    d.alerts = {{"s1", kind, "why", 1, 1}};
    SessionAlertInput in;
    in.detail = &d;
    auto c = SessionConditions(in, 1000);
    ASSERT_EQ(c.size(), 1u) << kind;
    const AlertRule* rule = FindAlertRule(c[0].rule);
    ASSERT_NE(rule, nullptr) << kind;
    EXPECT_EQ(rule->object_type, "session");
  }
}

TEST(AlertRules, ABrokenDestinationAndHumanDurations) {
  Destination d;
  d.id = "d1";
  d.host = "backup.example";
  EXPECT_TRUE(DestinationConditions(d).empty());
  d.connection = ConnectionStatus::kBroken;
  d.connection_reason = "Connection refused";
  auto c = DestinationConditions(d);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rule, "destination-broken");
  EXPECT_EQ(c[0].object_type, "destination");
  EXPECT_EQ(c[0].summary, "the engine cannot reach it: Connection refused");
  EXPECT_EQ(HumanDuration(59'999), "59 s");
  EXPECT_EQ(HumanDuration(3'600'000), "1 h");
  EXPECT_EQ(HumanDuration(3'900'000), "1 h 5 min");
  EXPECT_EQ(HumanDuration(90'000'000), "1 d 1 h");
}

TEST(AlertPayload, TheSignatureIsHmacSha256OfTimestampDotBody) {
  // The value `printf '1700000000.{}' | openssl dgst -sha256 -hmac Jefe` prints.
  EXPECT_EQ(WebhookSignature("Jefe", 1700000000, "{}"),
            "sha256=d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207");
}

class AlertManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenStore("sqlite://" + db_dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_);
    ops_->SetMessageSender(&sender_);
    Cluster c = *ops_->CreateCluster(admin_, {"local", ""});
    HostSpec hs;
    hs.cluster_id = c.id;
    hs.name = "localhost";
    hs.transport = HostTransport::kLocal;
    Host h = *ops_->AddHost(admin_, hs);
    VolumeSpec vs;
    vs.cluster_id = c.id;
    vs.name = "src";
    vs.bricks = {{h.id, src_.path()}};
    Volume v = *ops_->AddVolume(admin_, vs);
    auto d = ops_->CreateDestination(admin_, {c.id, h.id, "localhost", 22, "", "root"});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    destination_id_ = d->id;
    auto session = ops_->CreateSession(admin_, {d->id, v.id, dst_.path(), ""});
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    id_ = session->session.id;
  }

  void MarkStatus(SessionStatus status) {
    ASSERT_TRUE(store_
                    ->Transaction([&](StoreTx& tx) -> Status {
                      GEOREP_ASSIGN_OR_RETURN(Session got, tx.GetSession(id_));
                      got.status = status;
                      return tx.UpdateSession(got);
                    })
                    .ok());
  }
  // The session's one node, as a worker would have reported it.
  void SetNode(NodeStatus status, int64_t lag_ms) {
    ASSERT_TRUE(store_
                    ->Transaction([&](StoreTx& tx) {
                      SessionNodeStatus n;
                      n.session_id = id_;
                      n.source_host = "localhost";
                      n.source_brick = src_.path();
                      n.status = status;
                      n.lag_ms = lag_ms;
                      n.updated_at = clock_.NowMillis();
                      return tx.ReplaceNodeStatuses(id_, {n});
                    })
                    .ok());
  }
  AlertPass Evaluate() {
    auto pass = ops_->alerts().Evaluate();
    EXPECT_TRUE(pass.ok()) << pass.status().ToString();
    return pass.ok() ? *pass : AlertPass{};
  }
  std::vector<Alert> Alerts(std::optional<AlertState> state = std::nullopt) {
    return *ops_->alerts().List({.state = state});
  }
  size_t Events(const std::string& action) {
    auto evs = ops_->ListEvents({0, "", "", action, 1000});
    return evs.ok() ? evs->size() : 0;
  }
  Notifier AddHook(const std::string& name, AlertSeverity min = AlertSeverity::kWarning,
                   bool resolved = true) {
    NotifierSpec spec;
    spec.name = name;
    spec.url = "https://hooks.example/" + name;
    spec.min_severity = min;
    spec.send_resolved = resolved;
    auto n = ops_->notifications().Add(admin_, spec);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : Notifier{};
  }
  std::vector<AlertDelivery> Deliveries(const std::string& notifier_id = "") {
    return *ops_->notifications().Deliveries({.notifier_id = notifier_id, .limit = 0});
  }

  TempDir db_dir_, src_, dst_;
  FakeClock clock_;
  SeededRandom random_{11};
  ObjectLocks locks_;
  FakeSender sender_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
  Actor admin_{"admin", Role::kAdmin};
  std::string id_, destination_id_;
};

TEST_F(AlertManagerTest, AFaultyFiresOnceStaysWhileItLastsAndResolvesWithEvents) {
  Notifier hook = AddHook("ops");
  EXPECT_EQ(Evaluate().fired, 0);
  MarkStatus(SessionStatus::kFaulty);
  AlertPass first = Evaluate();
  EXPECT_EQ(first.fired, 1);
  EXPECT_EQ(first.queued, 1);
  auto firing = Alerts(AlertState::kFiring);
  ASSERT_EQ(firing.size(), 1u);
  const Alert a = firing[0];
  EXPECT_EQ(a.rule, "session-faulty");
  EXPECT_EQ(a.severity, AlertSeverity::kCritical);
  EXPECT_EQ(a.object_id, id_);
  EXPECT_EQ(a.started_at, clock_.NowMillis());
  EXPECT_EQ(Events("alert.firing"), 1u);

  // Still Faulty: the same alert, no second event or delivery.
  clock_.Advance(5'000);
  EXPECT_EQ(Evaluate().fired, 0);
  EXPECT_EQ(Alerts(AlertState::kFiring).size(), 1u);
  EXPECT_EQ(Events("alert.firing"), 1u);
  EXPECT_EQ(Deliveries(hook.id).size(), 1u);

  // It ends: resolved, with its start kept, an event and a "resolved" delivery.
  clock_.Advance(60'000);
  MarkStatus(SessionStatus::kActive);
  AlertPass end = Evaluate();
  EXPECT_EQ(end.resolved, 1);
  EXPECT_TRUE(Alerts(AlertState::kFiring).empty());
  auto got = ops_->alerts().Get(a.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, AlertState::kResolved);
  EXPECT_EQ(got->started_at, a.started_at);
  EXPECT_EQ(got->resolved_at, clock_.NowMillis());
  EXPECT_EQ(Events("alert.resolved"), 1u);
  auto sent = Deliveries(hook.id);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].event, "resolved");
  EXPECT_EQ(sent[1].event, "firing");

  // Faulty again later: a new alert, the old one kept as history.
  MarkStatus(SessionStatus::kFaulty);
  EXPECT_EQ(Evaluate().fired, 1);
  EXPECT_EQ(Alerts().size(), 2u);
}

TEST_F(AlertManagerTest, TheLagThresholdComesFromTheSessionOrTheEngineSetting) {
  // A node whose lag is known: 20 minutes behind.
  SetNode(NodeStatus::kActive, int64_t{20} * 60'000);
  MarkStatus(SessionStatus::kActive);
  Evaluate();  // the engine's default is 15 min
  auto firing = Alerts(AlertState::kFiring);
  ASSERT_EQ(firing.size(), 1u) << "lag 20 min against the default 15 min";
  EXPECT_EQ(firing[0].rule, "lag-high");
  // The session's own threshold takes precedence...
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "alert-lag-threshold", "3600").ok());
  Evaluate();
  EXPECT_TRUE(Alerts(AlertState::kFiring).empty());
  // ... and without it, the engine's setting, which only an admin changes.
  ASSERT_TRUE(ops_->ResetConfig(admin_, id_, "alert-lag-threshold").ok());
  Actor op{"olga", Role::kOperator};
  EXPECT_EQ(ops_->alerts().SetSetting(op, "alert-lag-threshold", "60").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ops_->alerts().SetSetting(admin_, "alert-lag-threshold", "-1").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ops_->alerts().SetSetting(admin_, "no-such-setting", "1").status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(ops_->alerts().SetSetting(admin_, "alert-lag-threshold", "3600").ok());
  Evaluate();
  EXPECT_TRUE(Alerts(AlertState::kFiring).empty());
  auto settings = ops_->alerts().Settings();
  ASSERT_TRUE(settings.ok());
  for (const auto& s : *settings) {
    if (s.info->key != "alert-lag-threshold") continue;
    EXPECT_EQ(s.value, 3600);
    EXPECT_FALSE(s.is_default);
    EXPECT_EQ(s.changed_by, "admin");
  }
}

TEST_F(AlertManagerTest, AcknowledgingIsAnOperatorsAndOnlyOfAFiringAlert) {
  MarkStatus(SessionStatus::kFaulty);
  Evaluate();
  const int64_t id = Alerts(AlertState::kFiring).at(0).id;
  Actor viewer{"vic", Role::kViewer}, op{"olga", Role::kOperator}, other{"otto", Role::kOperator};
  EXPECT_EQ(ops_->alerts().Acknowledge(viewer, id).status().code(), StatusCode::kPermissionDenied);
  clock_.Advance(1'000);
  auto acked = ops_->alerts().Acknowledge(op, id);
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ(acked->acknowledged_by, "olga");
  EXPECT_EQ(acked->acknowledged_at, clock_.NowMillis());
  // A second acknowledgement keeps the first's name and time.
  clock_.Advance(1'000);
  auto again = ops_->alerts().Acknowledge(other, id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->acknowledged_by, "olga");
  EXPECT_EQ(again->acknowledged_at, acked->acknowledged_at);
  EXPECT_EQ(ops_->alerts().Acknowledge(op, 424242).status().code(), StatusCode::kNotFound);
  MarkStatus(SessionStatus::kActive);
  Evaluate();
  EXPECT_EQ(ops_->alerts().Acknowledge(op, id).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_GE(Events("alert.acknowledge"), 2u);
}

TEST_F(AlertManagerTest, ARemovedSessionsAlertsResolveAndABrokenDestinationFires) {
  MarkStatus(SessionStatus::kFaulty);
  Evaluate();
  ASSERT_EQ(Alerts(AlertState::kFiring).size(), 1u);
  ASSERT_TRUE(ops_->RemoveSession(admin_, id_, true).ok());
  EXPECT_EQ(Evaluate().resolved, 1);
  ASSERT_TRUE(store_
                  ->Transaction([&](StoreTx& tx) -> Status {
                    GEOREP_ASSIGN_OR_RETURN(Destination d, tx.GetDestination(destination_id_));
                    d.connection = ConnectionStatus::kBroken;
                    d.connection_reason = "Connection refused";
                    return tx.UpdateDestination(d);
                  })
                  .ok());
  EXPECT_EQ(Evaluate().fired, 1);
  auto firing = Alerts(AlertState::kFiring);
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].rule, "destination-broken");
  EXPECT_EQ(firing[0].object_name, "localhost");
}

TEST_F(AlertManagerTest, NotifiersTakeTheSeverityTheyAskForAndResolvedOnlyIfAsked) {
  Notifier critical_only = AddHook("pager", AlertSeverity::kCritical, false);
  Notifier everything = AddHook("chat");
  Actor op{"olga", Role::kOperator};
  EXPECT_EQ(ops_->notifications()
                .Add(op, {.name = "sneaky", .url = "https://evil.example/x"})
                .status()
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ops_->notifications().List(op).status().code(), StatusCode::kPermissionDenied);
  // A warning (lag) goes to chat only; a critical (Faulty) to both; its end to chat only.
  ASSERT_TRUE(ops_->SetConfig(admin_, id_, "alert-lag-threshold", "60").ok());
  SetNode(NodeStatus::kFaulty, 120'000);
  MarkStatus(SessionStatus::kFaulty);
  EXPECT_EQ(Evaluate().fired, 2);
  EXPECT_EQ(Deliveries(critical_only.id).size(), 1u);
  EXPECT_EQ(Deliveries(everything.id).size(), 2u);
  MarkStatus(SessionStatus::kActive);
  Evaluate();
  EXPECT_EQ(Deliveries(critical_only.id).size(), 1u);
  EXPECT_EQ(Deliveries(everything.id).size(), 3u);
  // Disabled: nothing more queued for it.
  ASSERT_TRUE(ops_->notifications().Change(admin_, "chat", {.enabled = false}).ok());
  MarkStatus(SessionStatus::kFaulty);
  Evaluate();
  EXPECT_EQ(Deliveries(everything.id).size(), 3u);
  EXPECT_EQ(Deliveries(critical_only.id).size(), 2u);
  // The audit trail, which viewers read, names a webhook by its host only: a chat service's
  // webhook URL is its credential.
  NotifierSpec spec;
  spec.name = "chat-service";
  spec.url = "https://user:pw@chat.example:8443/services/T0/B0/s3cr3t?token=abc";
  ASSERT_TRUE(ops_->notifications().Add(admin_, spec).ok());
  auto created = ops_->ListEvents({0, "notifier", "", "notifier.create", 1000});
  ASSERT_TRUE(created.ok());
  bool named = false;
  for (const auto& e : *created) {
    EXPECT_EQ(e.message.find("s3cr3t"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("token=abc"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("pw@"), std::string::npos) << e.message;
    named = named || e.message.find("https://chat.example:8443/...") != std::string::npos;
  }
  EXPECT_TRUE(named);
  // Listed without secrets.
  auto listed = ops_->notifications().List(admin_);
  ASSERT_TRUE(listed.ok());
  for (const auto& n : *listed) EXPECT_TRUE(n.secret.empty()) << n.name;
}

TEST_F(AlertManagerTest, AWebhookIsSignedRetriedWithBackOffAndGivenUpOnARefusal) {
  Notifier hook = AddHook("ops");
  ASSERT_EQ(hook.secret.size(), 43u) << "32 random bytes, base64url";
  MarkStatus(SessionStatus::kFaulty);
  Evaluate();
  // The receiver is down, then overloaded, then takes it.
  sender_.Then({0, "Couldn't connect to server", true});
  sender_.Then({503, "the receiver answered HTTP 503", true});
  EXPECT_EQ(ops_->notifications().DeliverDue(), 1);
  AlertDelivery d = Deliveries(hook.id).at(0);
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_error, "Couldn't connect to server");
  EXPECT_EQ(d.next_attempt_at, clock_.NowMillis() + 10'000);
  EXPECT_EQ(ops_->notifications().NextDueIn(), 10'000);
  EXPECT_EQ(ops_->notifications().DeliverDue(), 0) << "not due yet";
  clock_.Advance(10'000);
  EXPECT_EQ(ops_->notifications().DeliverDue(), 1);
  d = Deliveries(hook.id).at(0);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.response_status, 503);
  EXPECT_EQ(d.next_attempt_at, clock_.NowMillis() + 30'000);
  clock_.Advance(30'000);
  EXPECT_EQ(ops_->notifications().DeliverDue(), 1);
  d = Deliveries(hook.id).at(0);
  EXPECT_EQ(d.state, DeliveryState::kDelivered);
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(d.response_status, 200);
  EXPECT_TRUE(d.last_error.empty());
  EXPECT_EQ(ops_->notifications().NextDueIn(), -1);

  // Every attempt: the same delivery id, its own timestamp, a signature a receiver can check.
  ASSERT_EQ(sender_.posts.size(), 3u);
  for (const auto& p : sender_.posts) {
    EXPECT_EQ(p.url, "https://hooks.example/ops");
    EXPECT_EQ(p.Header("X-Georep-Event"), "firing");
    EXPECT_EQ(p.Header("X-Georep-Delivery"), std::to_string(d.id));
    const int64_t ts = std::stoll(p.Header("X-Georep-Timestamp"));
    EXPECT_EQ(p.Header("X-Georep-Signature"), WebhookSignature(hook.secret, ts, p.body));
    auto body = nlohmann::json::parse(p.body);
    EXPECT_EQ(body["event"], "firing");
    EXPECT_EQ(body["alert"]["rule"], "session-faulty");
    EXPECT_EQ(body["alert"]["object_id"], id_);
  }
  EXPECT_NE(sender_.posts[0].Header("X-Georep-Timestamp"),
            sender_.posts[2].Header("X-Georep-Timestamp"));

  // A receiver that refuses the request itself (404) is not retried: failed, with an event.
  MarkStatus(SessionStatus::kActive);
  Evaluate();
  sender_.Then({404, "the receiver answered HTTP 404", false});
  EXPECT_EQ(ops_->notifications().DeliverDue(), 1);
  d = Deliveries(hook.id).at(0);
  EXPECT_EQ(d.event, "resolved");
  EXPECT_EQ(d.state, DeliveryState::kFailed);
  EXPECT_EQ(Events("notifier.delivery_failed"), 1u);
}

TEST_F(AlertManagerTest, AnEmailNotifierSendsTheAlertAsTextAndATestOnDemand) {
  NotifierSpec spec;
  spec.name = "mail";
  spec.kind = NotifierKind::kEmail;
  spec.url = "smtp://127.0.0.1:2525";
  spec.mail_from = "georep@example.org";
  spec.mail_to = "ops@example.org, oncall@example.org";
  spec.secret = "smtp password";
  spec.smtp_user = "georep";
  ASSERT_TRUE(ops_->notifications().Add(admin_, spec).ok());
  NotifierSpec bad = spec;
  bad.name = "bad";
  bad.mail_to = "not an address";
  EXPECT_EQ(ops_->notifications().Add(admin_, bad).status().code(), StatusCode::kInvalidArgument);
  bad.mail_to = spec.mail_to;
  bad.url = "http://mail.example";
  EXPECT_EQ(ops_->notifications().Add(admin_, bad).status().code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(ops_->notifications().Test(admin_, "mail").ok());
  MarkStatus(SessionStatus::kFaulty);
  Evaluate();
  EXPECT_EQ(ops_->notifications().DeliverDue(), 2);
  ASSERT_EQ(sender_.mails.size(), 2u);
  const MailMessage& test = sender_.mails[0];
  EXPECT_EQ(test.subject, "[georep] test of notifier mail");
  EXPECT_EQ(test.to, (std::vector<std::string>{"ops@example.org", "oncall@example.org"}));
  EXPECT_EQ(test.user, "georep");
  EXPECT_EQ(test.password, "smtp password");
  const MailMessage& alert = sender_.mails[1];
  EXPECT_EQ(alert.subject.rfind("[georep] critical: session-faulty on ", 0), 0u) << alert.subject;
  EXPECT_NE(alert.text.find("is now: session-faulty"), std::string::npos) << alert.text;
}

}  // namespace
}  // namespace georep
