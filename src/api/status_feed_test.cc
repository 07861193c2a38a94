#include "api/status_feed.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "api/json_model.h"
#include "base/random.h"
#include "engine/object_locks.h"
#include "store/store.h"

namespace georep {
namespace {

class StatusFeedTest : public ::testing::Test {
 protected:
  // A user of their own for each stream.
  std::string Owner() { return "user-" + std::to_string(owners_++); }
  int owners_ = 0;
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("georep-feed-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto s = OpenStore("sqlite://" + (dir_ / "db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_ = std::make_unique<Operations>(*store_, clock_, random_, locks_);
    feed_ = std::make_unique<StatusFeed>(*ops_, clock_, std::chrono::milliseconds(10));
  }
  void TearDown() override {
    feed_.reset();
    ops_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A session on a directory volume, through Operations (so the audit trail is real).
  Session MakeSession() {
    Cluster c = *ops_->CreateCluster(admin_, {"local", ""});
    HostSpec hs;
    hs.cluster_id = c.id;
    hs.name = "localhost";
    hs.transport = HostTransport::kLocal;
    Host h = *ops_->AddHost(admin_, hs);
    VolumeSpec vs;
    vs.cluster_id = c.id;
    vs.name = "src";
    vs.bricks = {{h.id, "/srv/src"}};
    Volume v = *ops_->AddVolume(admin_, vs);
    Destination d = *ops_->CreateDestination(admin_, {c.id, h.id, "localhost", 22, "", "root"});
    auto s = ops_->CreateSession(admin_, {d.id, v.id, "/srv/replica", ""});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s->session;
  }

  void SetNodes(const std::string& session_id, std::vector<SessionNodeStatus> nodes) {
    ASSERT_TRUE(
        store_->Transaction([&](StoreTx& tx) { return tx.ReplaceNodeStatuses(session_id, nodes); })
            .ok());
  }

  static SessionNodeStatus Node(const std::string& host, int64_t updated, int64_t lag_ms,
                                int64_t bps) {
    SessionNodeStatus n;
    n.source_host = host;
    n.source_brick = "/srv/src";
    n.destination_host = "localhost";
    n.status = NodeStatus::kActive;
    n.updated_at = updated;
    n.lag_ms = lag_ms;
    n.throughput_bps = bps;
    return n;
  }

  std::vector<StatusFeed::Change> Take(StatusFeed::Subscription& sub) {
    std::vector<StatusFeed::Change> out;
    EXPECT_TRUE(sub.Next(std::chrono::milliseconds(0), &out));
    return out;
  }

  static std::vector<std::string> Types(const std::vector<StatusFeed::Change>& cs) {
    std::vector<std::string> t;
    for (const auto& c : cs) t.push_back(c.type);
    return t;
  }

  Actor admin_{"admin", Role::kAdmin};
  std::filesystem::path dir_;
  FakeClock clock_;
  SeededRandom random_{11};
  ObjectLocks locks_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Operations> ops_;
  std::unique_ptr<StatusFeed> feed_;
};

TEST_F(StatusFeedTest, TellsWhatChangedOnceAndInOrder) {
  ASSERT_TRUE(ops_->CreateCluster(admin_, {"before", ""}).ok());
  feed_->PollOnce();  // the baseline: what existed before is not news
  auto sub = feed_->Subscribe(Owner());
  ASSERT_NE(sub, nullptr);
  feed_->PollOnce();
  EXPECT_TRUE(Take(*sub).empty());

  Session s = MakeSession();
  feed_->PollOnce();
  auto changes = Take(*sub);
  // The new session and destination, then the audit trail oldest first.
  std::vector<std::string> audit;
  int sessions = 0, destinations = 0;
  for (const auto& c : changes) {
    Json j = Json::parse(c.data);
    if (c.type == "session") {
      ++sessions;
      EXPECT_EQ(j["id"], s.id);
      EXPECT_TRUE(j["nodes"].is_array());
    } else if (c.type == "destination") {
      ++destinations;
      EXPECT_EQ(j["host"], "localhost");
    } else if (c.type == "audit") {
      audit.push_back(j["action"]);
    } else {
      ADD_FAILURE() << "unexpected change " << c.type;
    }
  }
  EXPECT_EQ(sessions, 1);
  EXPECT_EQ(destinations, 1);
  EXPECT_EQ(audit, (std::vector<std::string>{"cluster.create", "host.add", "volume.add",
                                             "destination.create", "session.create"}));

  // Nothing changed: nothing told, not even again.
  feed_->PollOnce();
  EXPECT_TRUE(Take(*sub).empty());

  // A node's new report is a session change.
  SetNodes(s.id, {Node("a", clock_.NowMillis(), 1500, 100)});
  feed_->PollOnce();
  auto status = Take(*sub);
  ASSERT_EQ(Types(status), std::vector<std::string>{"session"});
  EXPECT_EQ(Json::parse(status[0].data)["nodes"][0]["lag_seconds"], 1.5);

  ASSERT_TRUE(ops_->RemoveSession(admin_, s.id, true, false).ok());
  feed_->PollOnce();
  auto removed = Take(*sub);
  ASSERT_FALSE(removed.empty());
  EXPECT_EQ(removed[0].type, "session_removed");
  EXPECT_EQ(Json::parse(removed[0].data)["id"], s.id);
  EXPECT_EQ(removed.back().type, "audit");
}

TEST_F(StatusFeedTest, SamplesLagAndThroughputOncePerReport) {
  Session s = MakeSession();
  feed_->PollOnce();
  const size_t created = feed_->Metrics(s.id).size();  // the Created nodes' first report
  feed_->PollOnce();
  EXPECT_EQ(feed_->Metrics(s.id).size(), created);  // nothing new reported, no sample

  clock_.Advance(1000);
  const int64_t t1 = clock_.NowMillis();
  SetNodes(s.id, {Node("a", t1, 2000, 100), Node("b", t1, 500, 50)});
  feed_->PollOnce();
  feed_->PollOnce();  // the same report: no second sample
  auto m = feed_->Metrics(s.id);
  ASSERT_EQ(m.size(), created + 1);
  EXPECT_EQ(m.back().at_ms, t1);
  EXPECT_DOUBLE_EQ(m.back().lag_seconds, 2.0);  // the slowest node
  EXPECT_EQ(m.back().throughput_bps, 150);      // all nodes together

  clock_.Advance(1000);
  SetNodes(s.id, {Node("a", clock_.NowMillis(), 0, 7), Node("b", t1, 0, 0)});
  feed_->PollOnce();
  m = feed_->Metrics(s.id);
  ASSERT_EQ(m.size(), created + 2);
  EXPECT_EQ(m.back().throughput_bps, 7);
  EXPECT_DOUBLE_EQ(m.back().lag_seconds, 0.0);

  // An hour later the old samples are gone.
  clock_.Advance(StatusFeed::kHistoryMillis + 1);
  SetNodes(s.id, {Node("a", clock_.NowMillis(), 0, 1)});
  feed_->PollOnce();
  m = feed_->Metrics(s.id);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].throughput_bps, 1);

  ASSERT_TRUE(ops_->RemoveSession(admin_, s.id, true, false).ok());
  feed_->PollOnce();
  EXPECT_TRUE(feed_->Metrics(s.id).empty());
}

TEST_F(StatusFeedTest, ASlowSubscriberGetsOneResyncNotUnboundedMemory) {
  feed_->PollOnce();
  auto sub = feed_->Subscribe(Owner());
  ASSERT_NE(sub, nullptr);
  // Two polls of 600 audit events each, never read.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 600; ++i) {
      auto c = ops_->CreateCluster(admin_, {fmt::format("c{}-{}", round, i), ""});
      ASSERT_TRUE(c.ok());
    }
    feed_->PollOnce();
  }
  auto changes = Take(*sub);
  ASSERT_FALSE(changes.empty());
  EXPECT_LE(changes.size(), StatusFeed::kMaxQueued);
  EXPECT_EQ(changes.front().type, "resync");
}

// V11: one user took all the live-stream slots. A few each; the total bounded too.
TEST_F(StatusFeedTest, OneUserCannotTakeEveryStream) {
  std::vector<std::shared_ptr<StatusFeed::Subscription>> mine;
  for (size_t i = 0; i < StatusFeed::kMaxPerOwner; ++i) {
    mine.push_back(feed_->Subscribe("mallory"));
    ASSERT_NE(mine.back(), nullptr);
  }
  bool full = false;
  EXPECT_EQ(feed_->Subscribe("mallory", &full), nullptr);
  EXPECT_TRUE(full);
  EXPECT_NE(feed_->Subscribe("alice", &full), nullptr);
  EXPECT_FALSE(full);
  feed_->Unsubscribe(mine.back());
  EXPECT_NE(feed_->Subscribe("mallory"), nullptr);
}

TEST_F(StatusFeedTest, SubscribersAreBoundedAndStopEndsThem) {
  std::vector<std::shared_ptr<StatusFeed::Subscription>> subs;
  for (size_t i = 0; i < StatusFeed::kMaxSubscribers; ++i) {
    subs.push_back(feed_->Subscribe(Owner()));
    ASSERT_NE(subs.back(), nullptr);
  }
  EXPECT_EQ(feed_->Subscribe(Owner()), nullptr);
  feed_->Unsubscribe(subs.back());
  subs.pop_back();
  EXPECT_NE(feed_->Subscribe(Owner()), nullptr);

  feed_->Start();
  std::vector<StatusFeed::Change> out;
  // A waiting reader is woken by Stop, and learns the stream is over.
  std::thread reader([&] { EXPECT_FALSE(subs[0]->Next(std::chrono::seconds(30), &out)); });
  feed_->Stop();
  reader.join();
  EXPECT_EQ(feed_->Subscribe(Owner()), nullptr);
}

}  // namespace
}  // namespace georep
