// The store conformance suite: every Store backend must pass the same tests.
// Runs on SQLite (a temporary file) and on PostgreSQL (the throw-away server the test
// command starts; its URL is in the file named by GEOREP_TEST_POSTGRES_URL_FILE).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/random.h"
#include "model/names.h"
#include "store/migrations.h"
#include "store/sql.h"
#include "store/store.h"

namespace georep {
namespace {

std::string PostgresUrl() {
  const char* file = std::getenv("GEOREP_TEST_POSTGRES_URL_FILE");
  if (!file) return "";
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  return url;
}

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() /
             ("georep-store-" + std::to_string(::getpid()) + "-" + random_.NewToken(6));
      std::filesystem::create_directories(dir_);
      url_ = "sqlite://" + (dir_ / "georep.db").string();
    } else {
      url_ = PostgresUrl();
      ASSERT_FALSE(url_.empty())
          << "PostgreSQL is required for this suite: set GEOREP_TEST_POSTGRES_URL_FILE (the test "
             "command starts a throw-away server)";
      // A fresh database per test, so tests may run in parallel.
      auto conn = OpenPostgres(url_);
      ASSERT_TRUE(conn.ok()) << conn.status().ToString();
      SystemRandom entropy;
      const std::string name = "conf_" + std::to_string(::getpid()) + "_" + entropy.NewToken(6);
      std::string lower;
      for (char ch : name) lower += (ch == '-') ? '_' : static_cast<char>(std::tolower(ch));
      ASSERT_TRUE((*conn)->ExecScript("CREATE DATABASE " + lower).ok());
      url_ = url_.substr(0, url_.rfind('/') + 1) + lower;
    }
    auto s = OpenStore(url_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs fn in a transaction and expects it to commit.
  void Tx(const std::function<Status(StoreTx&)>& fn) {
    Status st = store_->Transaction(fn);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  Cluster MakeCluster(const std::string& name) {
    Cluster c{random_.NewUuid(), name, "desc of " + name, 1000};
    Tx([&](StoreTx& tx) { return tx.CreateCluster(c); });
    return c;
  }
  Host MakeHost(const Cluster& c, const std::string& name) {
    Host h;
    h.id = random_.NewUuid();
    h.cluster_id = c.id;
    h.name = name;
    h.address = name + ".example";
    h.ssh_fingerprint = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";
    h.status = HostStatus::kUp;
    h.created_at = 2000;
    Tx([&](StoreTx& tx) { return tx.CreateHost(h); });
    return h;
  }

  SeededRandom random_{42};
  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformance, MigratesToLatestAndReopens) {
  EXPECT_GE(store_->SchemaVersion(), 1);
  EXPECT_EQ(store_->Backend(), GetParam() == "sqlite" ? "sqlite" : "postgresql");
  MakeCluster("east");
  store_.reset();
  auto again = OpenStore(url_);  // migrations are idempotent
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Status st = (*again)->Transaction([](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListClusters());
    if (all.size() != 1 || all[0].name != "east") return Status::Internal("cluster lost");
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_P(StoreConformance, ClusterRoundTripAndUniqueName) {
  Cluster c = MakeCluster("east");
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Cluster got, tx.GetCluster(c.id));
    EXPECT_EQ(got.name, "east");
    EXPECT_EQ(got.description, "desc of east");
    EXPECT_EQ(got.created_at, 1000);
    return Status::Ok();
  });
  Cluster dup{random_.NewUuid(), "east", "", 1};
  Status st = store_->Transaction([&](StoreTx& tx) { return tx.CreateCluster(dup); });
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists) << st.ToString();
  Status missing = store_->Transaction([&](StoreTx& tx) { return tx.GetCluster("nope").status(); });
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
}

TEST_P(StoreConformance, FailedTransactionRollsBackEverything) {
  Status st = store_->Transaction([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.CreateCluster(Cluster{"c1", "one", "", 1}));
    GEOREP_RETURN_IF_ERROR(tx.CreateCluster(Cluster{"c2", "two", "", 1}));
    return Status::FailedPrecondition("changed my mind");
  });
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListClusters());
    EXPECT_TRUE(all.empty());
    return Status::Ok();
  });
}

TEST_P(StoreConformance, HostsAndVolumesWithBricks) {
  Cluster c = MakeCluster("src");
  Host h1 = MakeHost(c, "node1");
  Host h2 = MakeHost(c, "node2");
  Volume v;
  v.id = "vol-1";
  v.cluster_id = c.id;
  v.name = "gv0";
  v.kind = VolumeKind::kGluster;
  v.status = VolumeStatus::kStarted;
  v.bricks = {{h1.id, "/bricks/b1"}, {h2.id, "/bricks/b2"}};
  v.replica_count = 2;
  v.size_bytes = 1LL << 40;  // beyond 32 bits
  v.used_bytes = 12345;
  Tx([&](StoreTx& tx) { return tx.CreateVolume(v); });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Volume got, tx.GetVolume("vol-1"));
    EXPECT_EQ(got.kind, VolumeKind::kGluster);
    EXPECT_EQ(got.status, VolumeStatus::kStarted);
    EXPECT_EQ(got.size_bytes, 1LL << 40);
    EXPECT_EQ(got.replica_count, 2);
    EXPECT_EQ(got.bricks.size(), 2u);
    EXPECT_EQ(got.bricks[1].path, "/bricks/b2");
    EXPECT_EQ(got.bricks[1].host_id, h2.id);
    got.bricks.pop_back();
    got.status = VolumeStatus::kStopped;
    GEOREP_RETURN_IF_ERROR(tx.UpdateVolume(got));
    GEOREP_ASSIGN_OR_RETURN(Volume again, tx.GetVolume("vol-1"));
    EXPECT_EQ(again.bricks.size(), 1u);
    EXPECT_EQ(again.status, VolumeStatus::kStopped);
    GEOREP_ASSIGN_OR_RETURN(auto hosts, tx.ListHosts(c.id));
    EXPECT_EQ(hosts.size(), 2u);
    EXPECT_EQ(hosts[0].name, "node1");
    EXPECT_EQ(hosts[0].status, HostStatus::kUp);
    EXPECT_EQ(hosts[0].ssh_fingerprint, h1.ssh_fingerprint);
    return Status::Ok();
  });
  // A host that holds a brick cannot be deleted (foreign key).
  Status st = store_->Transaction([&](StoreTx& tx) { return tx.DeleteHost(h1.id); });
  EXPECT_FALSE(st.ok());
}

TEST_P(StoreConformance, SessionsNodesConfigCascade) {
  Cluster c = MakeCluster("src");
  Host h = MakeHost(c, "node1");
  Volume v;
  v.id = "vol-1";
  v.cluster_id = c.id;
  v.name = "gv0";
  v.bricks = {{h.id, "/b"}};
  Destination d;
  d.id = "dest-1";
  d.source_cluster_id = c.id;
  d.source_host_id = h.id;
  d.host = "remote.example";
  d.connection = ConnectionStatus::kBroken;
  d.connection_reason = "host key changed";
  Session s;
  s.id = "sess-1";
  s.destination_id = d.id;
  s.source_volume_id = v.id;
  s.destination_volume = "gv1";
  s.session_key = "gv0_remote.example_gv1";
  s.status = SessionStatus::kPartialFaulty;
  s.status_reason = "node1 does not answer";
  s.checkpoint_announced = 1700000000000;
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.CreateVolume(v));
    GEOREP_RETURN_IF_ERROR(tx.CreateDestination(d));
    return tx.CreateSession(s);
  });
  SessionNodeStatus n;
  n.source_host = "node1";
  n.source_brick = "/b";
  n.status = NodeStatus::kInitializing;
  n.crawl = CrawlStatus::kHybrid;
  n.entry_pending = 7;
  n.checkpoint_completed = true;
  n.last_synced = 1700000000123;
  n.status_reason = "glusterd on node1 does not answer";
  n.lag_ms = 1500;
  n.throughput_bps = 123456789;
  n.lag_grows = true;
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.ReplaceNodeStatuses(s.id, {n}));
    GEOREP_RETURN_IF_ERROR(tx.PutConfig({s.id, "sync-jobs", "5", "alice", 10}));
    GEOREP_RETURN_IF_ERROR(tx.PutConfig({s.id, "sync-jobs", "6", "bob", 11}));  // upsert
    GEOREP_RETURN_IF_ERROR(tx.PutAlert({s.id, "stalled", "no heartbeat for 200 s", 100, 100}));
    GEOREP_RETURN_IF_ERROR(tx.PutAlert({s.id, "data-at-risk", "rsync 3.5 on node1", 90, 90}));
    // upsert: the message and the time it was last seen change, `since` stays
    GEOREP_RETURN_IF_ERROR(tx.PutAlert({s.id, "stalled", "no heartbeat for 230 s", 130, 130}));
    GEOREP_RETURN_IF_ERROR(
        tx.PutHeartbeat({s.id, 3, 300, 2, 200, 1, 100, 110, 310, "", -1, 0, -1}));
    return tx.PutHeartbeat({s.id, 4, 400, 3, 300, 2, 200, 215, 410, "cannot mount", 1 << 20, 405,
                            4096, int64_t{1} << 30});
  });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session got, tx.GetSession(s.id));
    EXPECT_EQ(got.status, SessionStatus::kPartialFaulty);
    EXPECT_EQ(got.status_reason, "node1 does not answer");
    EXPECT_EQ(got.checkpoint_announced, 1700000000000);
    GEOREP_ASSIGN_OR_RETURN(Destination gd, tx.GetDestination(d.id));
    EXPECT_EQ(gd.connection, ConnectionStatus::kBroken);
    EXPECT_EQ(gd.connection_reason, "host key changed");
    GEOREP_ASSIGN_OR_RETURN(auto nodes, tx.ListNodeStatuses(s.id));
    EXPECT_EQ(nodes.size(), 1u);
    EXPECT_EQ(nodes[0].status, NodeStatus::kInitializing);
    EXPECT_EQ(nodes[0].crawl, CrawlStatus::kHybrid);
    EXPECT_EQ(nodes[0].entry_pending, 7);
    EXPECT_TRUE(nodes[0].checkpoint_completed);
    EXPECT_EQ(nodes[0].last_synced, 1700000000123);
    EXPECT_EQ(nodes[0].status_reason, "glusterd on node1 does not answer");
    EXPECT_EQ(nodes[0].lag_ms, 1500);
    EXPECT_EQ(nodes[0].throughput_bps, 123456789);
    EXPECT_TRUE(nodes[0].lag_grows);
    GEOREP_ASSIGN_OR_RETURN(auto cfg, tx.ListConfig(s.id));
    EXPECT_EQ(cfg.size(), 1u);
    EXPECT_EQ(cfg[0].value, "6");
    EXPECT_EQ(cfg[0].changed_by, "bob");
    GEOREP_ASSIGN_OR_RETURN(auto alerts, tx.ListAlerts(s.id));
    EXPECT_EQ(alerts.size(), 2u);
    if (alerts.size() == 2) {
      EXPECT_EQ(alerts[0].kind, "data-at-risk");  // oldest first
      EXPECT_EQ(alerts[1].kind, "stalled");
      EXPECT_EQ(alerts[1].message, "no heartbeat for 230 s");
      EXPECT_EQ(alerts[1].since, 100);
      EXPECT_EQ(alerts[1].updated_at, 130);
    }
    GEOREP_ASSIGN_OR_RETURN(auto every, tx.ListAlerts(""));
    EXPECT_EQ(every.size(), 2u);
    GEOREP_RETURN_IF_ERROR(tx.DeleteAlert(s.id, "data-at-risk"));
    GEOREP_ASSIGN_OR_RETURN(alerts, tx.ListAlerts(s.id));
    EXPECT_EQ(alerts.size(), 1u);
    GEOREP_ASSIGN_OR_RETURN(SessionHeartbeat hb, tx.GetHeartbeat(s.id));
    EXPECT_EQ(hb.written_seq, 4);
    EXPECT_EQ(hb.written_at, 400);
    EXPECT_EQ(hb.pending_seq, 3);
    EXPECT_EQ(hb.pending_at, 300);
    EXPECT_EQ(hb.arrived_seq, 2);
    EXPECT_EQ(hb.arrived_written_at, 200);
    EXPECT_EQ(hb.arrived_seen_at, 215);
    EXPECT_EQ(hb.checked_at, 410);
    EXPECT_EQ(hb.problem, "cannot mount");
    EXPECT_EQ(hb.used_bytes, 1 << 20);
    EXPECT_EQ(hb.used_at, 405);
    EXPECT_EQ(hb.growth_bps, 4096);
    EXPECT_EQ(hb.size_bytes, int64_t{1} << 30);
    // Every cluster's destinations, or one cluster's.
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListDestinations(""));
    EXPECT_EQ(all.size(), 1u);
    GEOREP_ASSIGN_OR_RETURN(auto none, tx.ListDestinations("no-such-cluster"));
    EXPECT_TRUE(none.empty());
    GEOREP_ASSIGN_OR_RETURN(auto by_volume, tx.ListSessions({v.id, ""}));
    EXPECT_EQ(by_volume.size(), 1u);
    GEOREP_ASSIGN_OR_RETURN(auto by_other, tx.ListSessions({"other", ""}));
    EXPECT_TRUE(by_other.empty());
    return tx.DeleteSession(s.id);
  });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto nodes, tx.ListNodeStatuses(s.id));
    GEOREP_ASSIGN_OR_RETURN(auto cfg, tx.ListConfig(s.id));
    EXPECT_TRUE(nodes.empty());
    EXPECT_TRUE(cfg.empty());
    GEOREP_ASSIGN_OR_RETURN(auto alerts, tx.ListAlerts(s.id));
    EXPECT_TRUE(alerts.empty());
    EXPECT_EQ(tx.GetHeartbeat(s.id).status().code(), StatusCode::kNotFound);
    return Status::Ok();
  });
}

TEST_P(StoreConformance, EventsAreOrderedAndFiltered) {
  Tx([&](StoreTx& tx) -> Status {
    for (int i = 0; i < 5; ++i) {
      auto id =
          tx.AppendEvent(Event{0, 100 + i, "alice", i % 2 ? "session.start" : "cluster.create",
                               i % 2 ? "session" : "cluster", "obj" + std::to_string(i % 2), "ok",
                               "m" + std::to_string(i)});
      if (!id.ok()) return id.status();
      EXPECT_GT(*id, 0);
    }
    // Action names hold underscores, which LIKE would take as wildcards.
    GEOREP_RETURN_IF_ERROR(tx.AppendEvent(Event{0, 200, "monitor", "session.checkpoint_completed",
                                                "session", "obj1", "ok", "cp"})
                               .status());
    return tx
        .AppendEvent(Event{0, 201, "monitor", "session.checkpointXcompleted", "session", "obj1",
                           "failed", "decoy"})
        .status();
  });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto exact, tx.ListEvents({0, "", "", "session.checkpoint_", 100}));
    EXPECT_EQ(exact.size(), 1u);
    if (exact.size() != 1u) return Status::Ok();
    EXPECT_EQ(exact[0].message, "cp");
    GEOREP_ASSIGN_OR_RETURN(auto wild, tx.ListEvents({0, "", "", "%", 100}));
    EXPECT_TRUE(wild.empty());
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListEvents({}));
    EXPECT_EQ(all.size(), 7u);
    EXPECT_EQ(all.front().message, "decoy");  // newest first
    EXPECT_GT(all.front().id, all.back().id);
    GEOREP_ASSIGN_OR_RETURN(auto sessions, tx.ListEvents({0, "session", "", "", 100}));
    EXPECT_EQ(sessions.size(), 4u);
    GEOREP_ASSIGN_OR_RETURN(auto by_action, tx.ListEvents({0, "", "", "cluster.", 100}));
    EXPECT_EQ(by_action.size(), 3u);
    GEOREP_ASSIGN_OR_RETURN(auto after, tx.ListEvents({all[3].id, "", "", "", 100}));
    EXPECT_EQ(after.size(), 3u);
    GEOREP_ASSIGN_OR_RETURN(after, tx.ListEvents({all[1].id, "", "", "", 100}));
    EXPECT_EQ(after.size(), 1u);
    GEOREP_ASSIGN_OR_RETURN(auto limited, tx.ListEvents({0, "", "", "", 2}));
    EXPECT_EQ(limited.size(), 2u);
    // Paging back from the oldest of a page: the next older ones, newest first.
    GEOREP_ASSIGN_OR_RETURN(auto older, tx.ListEvents({0, "", "", "", 2, limited.back().id}));
    EXPECT_EQ(older.size(), 2u);
    if (older.size() == 2u && all.size() == 7u) {
      EXPECT_EQ(older[0].id, all[2].id);
      EXPECT_EQ(older[1].id, all[3].id);
    }
    GEOREP_ASSIGN_OR_RETURN(auto window, tx.ListEvents({all[4].id, "", "", "", 100, all[0].id}));
    EXPECT_EQ(window.size(), 3u);  // all[1..3]
    GEOREP_ASSIGN_OR_RETURN(auto failed, tx.ListEvents({0, "", "", "", 100, 0, "failed"}));
    EXPECT_EQ(failed.size(), 1u);
    if (failed.size() == 1u) {
      EXPECT_EQ(failed[0].message, "decoy");
    }
    GEOREP_ASSIGN_OR_RETURN(auto ok, tx.ListEvents({0, "", "", "", 100, 0, "ok"}));
    EXPECT_EQ(ok.size(), 6u);
    return Status::Ok();
  });
}

TEST_P(StoreConformance, UsersAndTokens) {
  User u{"u1", "alice", "$argon2id$hash", Role::kOperator, 5};
  ApiToken t{"t1", "u1", "cli", "digest-1", 6, 0, 6};
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.CreateUser(u));
    return tx.CreateToken(t);
  });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(User got, tx.GetUserByName("alice"));
    EXPECT_EQ(got.role, Role::kOperator);
    EXPECT_EQ(got.password_hash, "$argon2id$hash");
    got.role = Role::kAdmin;
    GEOREP_RETURN_IF_ERROR(tx.UpdateUser(got));
    GEOREP_ASSIGN_OR_RETURN(User again, tx.GetUser("u1"));
    EXPECT_EQ(again.role, Role::kAdmin);
    GEOREP_ASSIGN_OR_RETURN(ApiToken gt, tx.GetTokenByHash("digest-1"));
    EXPECT_EQ(gt.user_id, "u1");
    GEOREP_RETURN_IF_ERROR(tx.TouchToken("t1", 99));
    GEOREP_ASSIGN_OR_RETURN(auto list, tx.ListTokens("u1"));
    EXPECT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].last_used, 99);
    return tx.DeleteUser("u1");  // cascades to tokens
  });
  Status st =
      store_->Transaction([&](StoreTx& tx) { return tx.GetTokenByHash("digest-1").status(); });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

TEST_P(StoreConformance, ConcurrentTransactionsDoNotLoseWrites) {
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Status st = store_->Transaction([&](StoreTx& tx) {
          return tx.CreateCluster(Cluster{"c-" + std::to_string(t) + "-" + std::to_string(i),
                                          "n-" + std::to_string(t) + "-" + std::to_string(i), "",
                                          1});
        });
        if (!st.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListClusters());
    EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
    return Status::Ok();
  });
}

TEST_P(StoreConformance, AnEngineLeaseHasOneHolderUntilItExpiresOrIsReleased) {
  auto claim = [&](const std::string& holder, int64_t now, int64_t until) {
    EngineLease out;
    Tx([&](StoreTx& tx) -> Status {
      GEOREP_ASSIGN_OR_RETURN(out, tx.ClaimLease("engine", holder, now, until, now));
      return Status::Ok();
    });
    return out;
  };
  EngineLease a = claim("a", 1000, 31000);
  EXPECT_EQ(a.holder, "a");
  EXPECT_EQ(a.acquired_at, 1000);
  EXPECT_EQ(claim("b", 2000, 32000).holder, "a") << "taken while a's lease runs";
  EngineLease renewed = claim("a", 20000, 50000);
  EXPECT_EQ(renewed.holder, "a");
  EXPECT_EQ(renewed.acquired_at, 1000) << "a renewal is not a new term";
  EXPECT_EQ(renewed.expires_at, 50000);
  EXPECT_EQ(claim("b", 49999, 80000).holder, "a");
  EngineLease b = claim("b", 50001, 80000);
  EXPECT_EQ(b.holder, "b") << "an expired lease is free";
  EXPECT_EQ(b.acquired_at, 50001);
  Tx([&](StoreTx& tx) { return tx.ReleaseLease("engine", "a"); });
  EXPECT_EQ(claim("a", 51000, 81000).holder, "b") << "only the holder releases";
  Tx([&](StoreTx& tx) { return tx.ReleaseLease("engine", "b"); });
  EXPECT_EQ(claim("a", 52000, 82000).holder, "a") << "a released lease is free at once";
}

TEST_P(StoreConformance, ConcurrentClaimsOfAFreeLeaseHaveOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> winners{0}, failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string me = "engine-" + std::to_string(t);
      Status st = store_->Transaction([&](StoreTx& tx) -> Status {
        GEOREP_ASSIGN_OR_RETURN(EngineLease l, tx.ClaimLease("engine", me, 1000, 31000, 1000));
        if (l.holder == me) ++winners;
        return Status::Ok();
      });
      if (!st.ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(StoreConformance, OneAlertOfARuleFiresForAnObjectAndResolvedOnesAreKept) {
  Alert a;
  a.rule = "lag-high";
  a.severity = AlertSeverity::kWarning;
  a.object_type = "session";
  a.object_id = "s1";
  a.object_name = "vol_dest_vol";
  a.summary = "lag 20 min, over 15 min";
  a.started_at = a.updated_at = 1000;
  int64_t first = 0;
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(first, tx.CreateAlert(a));
    return Status::Ok();
  });
  // A second firing alert of the same rule on the same object is refused...
  Status twice = store_->Transaction([&](StoreTx& tx) { return tx.CreateAlert(a).status(); });
  EXPECT_EQ(twice.code(), StatusCode::kAlreadyExists) << twice.ToString();
  // ... another rule, or another object, is not.
  Alert other = a;
  other.rule = "session-faulty";
  other.severity = AlertSeverity::kCritical;
  Tx([&](StoreTx& tx) { return tx.CreateAlert(other).status(); });
  // Resolved, the rule may fire again for the object: a new alert, the old one kept.
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Alert got, tx.GetAlert(first));
    got.state = AlertState::kResolved;
    got.resolved_at = got.updated_at = 2000;
    got.acknowledged_at = 1500;
    got.acknowledged_by = "ann";
    return tx.UpdateAlert(got);
  });
  int64_t again = 0;
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(again, tx.CreateAlert(a));
    return Status::Ok();
  });
  EXPECT_GT(again, first);
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto firing, tx.FindAlerts({.state = AlertState::kFiring}));
    EXPECT_EQ(firing.size(), 2u);
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.FindAlerts({.object_id = "s1"}));
    EXPECT_EQ(all.size(), 3u);
    EXPECT_EQ(all.front().id, again);  // newest first
    GEOREP_ASSIGN_OR_RETURN(auto older, tx.FindAlerts({.before_id = again, .limit = 1}));
    EXPECT_EQ(older.size(), 1u);
    GEOREP_ASSIGN_OR_RETURN(Alert old, tx.GetAlert(first));
    EXPECT_EQ(old.state, AlertState::kResolved);
    EXPECT_EQ(old.resolved_at, 2000);
    EXPECT_EQ(old.acknowledged_by, "ann");
    EXPECT_EQ(old.summary, "lag 20 min, over 15 min");
    EXPECT_EQ(tx.GetAlert(9999).status().code(), StatusCode::kNotFound);
    return Status::Ok();
  });
}

TEST_P(StoreConformance, NotifiersKeepTheirDeliveriesWhichGoWithThem) {
  Notifier n;
  n.id = random_.NewUuid();
  n.name = "ops-hook";
  n.url = "https://hooks.example/georep";
  n.secret = "s3cret";
  n.min_severity = AlertSeverity::kCritical;
  n.send_resolved = false;
  n.created_at = 10;
  Tx([&](StoreTx& tx) { return tx.CreateNotifier(n); });
  Notifier same_name = n;
  same_name.id = random_.NewUuid();
  EXPECT_EQ(store_->Transaction([&](StoreTx& tx) { return tx.CreateNotifier(same_name); }).code(),
            StatusCode::kAlreadyExists);
  AlertDelivery d;
  d.notifier_id = n.id;
  d.alert_id = 7;
  d.event = "firing";
  d.body = R"({"alert":{"id":7}})";
  d.created_at = d.next_attempt_at = 100;
  int64_t due_later = 0;
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.CreateDelivery(d).status());
    AlertDelivery later = d;
    later.next_attempt_at = 500;
    GEOREP_ASSIGN_OR_RETURN(due_later, tx.CreateDelivery(later));
    return Status::Ok();
  });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Notifier got, tx.GetNotifier("ops-hook"));  // by name too
    EXPECT_EQ(got.id, n.id);
    EXPECT_EQ(got.secret, "s3cret");
    EXPECT_EQ(got.min_severity, AlertSeverity::kCritical);
    EXPECT_FALSE(got.send_resolved);
    EXPECT_TRUE(got.enabled);
    GEOREP_ASSIGN_OR_RETURN(auto due, tx.ListDeliveries({.due_by = 200}));
    EXPECT_EQ(due.size(), 1u);
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListDeliveries({.notifier_id = n.id}));
    EXPECT_EQ(all.size(), 2u);
    EXPECT_EQ(all.front().id, due_later);
    AlertDelivery done = all.back();
    done.state = DeliveryState::kDelivered;
    done.attempts = 1;
    done.last_attempt_at = 150;
    done.response_status = 204;
    GEOREP_RETURN_IF_ERROR(tx.UpdateDelivery(done));
    GEOREP_ASSIGN_OR_RETURN(auto still_due, tx.ListDeliveries({.due_by = 1000}));
    EXPECT_EQ(still_due.size(), 1u);
    GEOREP_ASSIGN_OR_RETURN(auto of_alert, tx.ListDeliveries({.alert_id = 7}));
    EXPECT_EQ(of_alert.size(), 2u);
    EXPECT_EQ(of_alert.back().body, d.body);
    EXPECT_EQ(of_alert.back().state, DeliveryState::kDelivered);
    EXPECT_EQ(of_alert.back().response_status, 204);
    return Status::Ok();
  });
  Tx([&](StoreTx& tx) { return tx.DeleteNotifier(n.id); });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto left, tx.ListDeliveries({}));
    EXPECT_TRUE(left.empty());
    EXPECT_EQ(tx.GetNotifier(n.id).status().code(), StatusCode::kNotFound);
    return Status::Ok();
  });
}

TEST_P(StoreConformance, EngineSettingsAreReplacedAndRemoved) {
  Tx([&](StoreTx& tx) { return tx.PutSetting({"alert-lag-threshold", "60", "ann", 1}); });
  Tx([&](StoreTx& tx) { return tx.PutSetting({"alert-lag-threshold", "120", "bob", 2}); });
  Tx([&](StoreTx& tx) { return tx.PutSetting({"alert-disk-usage", "80", "bob", 3}); });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListSettings());
    EXPECT_EQ(all.size(), 2u);
    EXPECT_EQ(EngineSettingValue(all, "alert-lag-threshold"), 120);
    EXPECT_EQ(EngineSettingValue(all, "alert-checkpoint-timeout"), 3600);  // the default
    return tx.DeleteSetting("alert-lag-threshold");
  });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto all, tx.ListSettings());
    EXPECT_EQ(all.size(), 1u);
    EXPECT_EQ(EngineSettingValue(all, "alert-lag-threshold"), 900);
    return Status::Ok();
  });
}

TEST_P(StoreConformance, ValuesWithQuotesAndUnicodeSurvive) {
  const std::string tricky = "it's a \"test\"; DROP TABLE clusters; -- ünïcödé $1 ?";
  Tx([&](StoreTx& tx) { return tx.CreateCluster(Cluster{"c", "weird", tricky, 1}); });
  Tx([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Cluster c, tx.GetCluster("c"));
    EXPECT_EQ(c.description, tricky);
    return Status::Ok();
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(StoreUrl, RedactsPasswords) {
  EXPECT_EQ(RedactStoreUrl("postgresql://georep:s3cret@db.example:5432/georep"),
            "postgresql://georep:***@db.example:5432/georep");
  EXPECT_EQ(RedactStoreUrl("host=db password=s3cret dbname=georep"),
            "host=db password=*** dbname=georep");
  EXPECT_EQ(RedactStoreUrl("sqlite:///var/lib/georep/georep.db"),
            "sqlite:///var/lib/georep/georep.db");
}

TEST(StoreUrl, BadSqliteFileIsAClearError) {
  auto path =
      std::filesystem::temp_directory_path() / ("georep-notdb-" + std::to_string(::getpid()));
  {
    std::ofstream out(path);
    out << "this is not a database, and it is long enough to have a header............";
  }
  auto s = OpenStore("sqlite://" + path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(path.string()), std::string::npos) << s.status().ToString();
}

// A database from before roles: administrators stay administrators, the other users (who
// could do everything but manage users) become operators, never admins.
TEST(StoreMigration, UsersOfBeforeRolesKeepWhatTheyCouldDoButCommands) {
  auto path = std::filesystem::temp_directory_path() /
              ("georep-roles-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    auto db = OpenSqlite(path.string());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)
                    ->ExecScript("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                                 "description TEXT NOT NULL, applied_at BIGINT NOT NULL)")
                    .ok());
    for (const auto& m : Migrations()) {
      if (m.version > 5) break;
      std::string sql(m.sql);
      for (size_t pos; (pos = sql.find("{serial_pk}")) != std::string::npos;)
        sql.replace(pos, 11, "INTEGER PRIMARY KEY AUTOINCREMENT");
      ASSERT_TRUE((*db)->ExecScript(sql).ok()) << m.version;
      ASSERT_TRUE((*db)
                      ->ExecScript(fmt::format("INSERT INTO schema_migrations VALUES ({}, 'x', 0)",
                                               m.version))
                      .ok());
    }
    ASSERT_TRUE((*db)
                    ->ExecScript("INSERT INTO users VALUES ('1', 'root', 'h', 1, 0);"
                                 "INSERT INTO users VALUES ('2', 'ops', 'h', 0, 0);")
                    .ok());
  }
  auto store = OpenStore("sqlite://" + path.string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Status st = (*store)->Transaction([](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(User root, tx.GetUserByName("root"));
    GEOREP_ASSIGN_OR_RETURN(User ops, tx.GetUserByName("ops"));
    EXPECT_EQ(root.role, Role::kAdmin);
    EXPECT_EQ(ops.role, Role::kOperator);
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  store->reset();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace georep
