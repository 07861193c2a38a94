// Non-root destinations (gluster_mountbroker.cc) on scripted clusters: a destination cluster
// of two nodes whose users, groups and glusterd.vol are modelled per node, answering the
// mountbroker's per-node JSON the way GlusterFS 10 does (gluster/testdata/mountbroker-*). The
// same flow runs against real glusterd in tests/integration/gluster_*_test.cc.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "engine/operations.h"
#include "engine/test_support/lab_source.h"
#include "engine/test_support/scripted_cluster.h"

namespace georep {
namespace {

using testing_support::Answer;
using testing_support::Fixture;
using testing_support::Has;
using testing_support::ScriptedCluster;

constexpr const char* kPin = "SHA256:CXqPY4ZFRXl7D0xFFfUbJnR6i11OsDVgYp/yBeCSa78";

// One destination node's state, as the commands georep runs see and change it.
struct DestNode {
  std::string uuid;
  std::set<std::string> groups = {"root"};
  std::map<std::string, std::set<std::string>> users = {{"root", {"root"}}};  // user -> groups
  std::string mount_root, mb_group;
  std::map<std::string, std::set<std::string>> mb_users;  // user -> volumes
  int restarts = 0;
  bool restart_fails = false;
};

std::string StatusLine(const DestNode& n) {
  std::string users;
  for (const auto& [u, vols] : n.mb_users) {
    std::string list;
    for (const auto& v : vols) list += (list.empty() ? "\"" : ", \"") + v + "\"";
    users += (users.empty() ? "" : ", ") + ("\"" + u + "\": [" + list + "]");
  }
  return "{\"ok\": true, \"nodeid\": \"" + n.uuid + "\", \"output\": {\"mountbroker-root\": \"" +
         (n.mount_root.empty() ? "None" : n.mount_root) + "\", \"geo-replication-log-group\": \"" +
         n.mb_group + "\", \"users\": {" + users +
         "}, \"group_exists\": " + (n.groups.count(n.mb_group) ? "true" : "false") +
         ", \"path_exists\": " + (n.mount_root.empty() ? "false" : "true") + "}}\n";
}

class MountbrokerTest : public testing_support::LabSourceTest {
 protected:
  void SetUp() override {
    status_ = Fixture("georep-status-detail-created.xml");
    for (const char* ip : {"10.77.0.1", "10.77.0.2"}) {
      cluster_.scripts[ip] = [this](const std::vector<std::string>& argv) -> Result<CommandResult> {
        if (Has(argv, "status")) return Answer(status_);
        if (argv[0] == "cat") return Answer("command=\"gsyncd\" ssh-rsa AAAA src\n");
        if (argv[0] == "rsync") return Answer("rsync  version 3.2.7  protocol version 31\n");
        return Answer("ok\n");
      };
    }
    nodes_["10.77.0.11"].uuid = "3fcca580-4d4c-4737-80d1-aadde9c08cf9";
    nodes_["10.77.0.12"].uuid = "7591148f-41d6-430b-96be-b0615179d432";
    for (auto& [ip, node] : nodes_) {
      const std::string addr = ip;
      cluster_.scripts[addr] = [this, addr](const std::vector<std::string>& argv) {
        return Dest(addr, argv);
      };
    }
    ASSERT_NO_FATAL_FAILURE(OpenWithLabSource(&cluster_, "/b/gv0", "/b/gv0"));
  }

  // The destination cluster imported into georep too, both nodes' keys confirmed.
  void ImportDestinationCluster() {
    auto c = ops_->CreateCluster(admin_, {"dst", ""});
    ASSERT_TRUE(c.ok());
    for (const auto& [name, ip] : {std::pair{"dst1", "10.77.0.11"}, {"dst2", "10.77.0.12"}}) {
      HostSpec hs;
      hs.cluster_id = c->id;
      hs.name = name;
      hs.address = ip;
      hs.ssh_fingerprint = kPin;
      ASSERT_TRUE(ops_->AddHost(admin_, hs).ok());
    }
  }

  Result<Destination> Attach(const std::string& user) {
    return ops_->CreateDestination(admin_,
                                   {cluster_id_, hosts_[0].id, "10.77.0.11", 22, kPin, user},
                                   /*copy_keys=*/true);
  }

  Result<SessionDetail> Create(const std::string& dest, const std::string& volume) {
    SessionCreateOptions force;
    force.force = true;
    force.sync_method = "tarssh";
    return ops_->CreateSession(admin_, {dest, volume_.id, volume, ""}, force);
  }

  // What a destination node answers. The destination host (10.77.0.11) is the one gluster
  // runs cluster-wide steps on; its answers cover both nodes.
  Result<CommandResult> Dest(const std::string& addr, const std::vector<std::string>& argv) {
    DestNode& me = nodes_[addr];
    const std::string& cmd = argv[0];
    if (cmd == "getent") {
      if (argv[1] == "group") return Answer("", me.groups.count(argv[2]) ? 0 : 2);
      return Answer("", me.users.count(argv[2]) ? 0 : 2);
    }
    if (cmd == "groupadd") {
      me.groups.insert(argv[1]);
      return Answer("");
    }
    if (cmd == "useradd") {
      // useradd --create-home --groups G --password * USER
      EXPECT_TRUE(Has(argv, "--create-home"));
      EXPECT_EQ(argv[4], "--password");
      EXPECT_EQ(argv[5], "*");  // key logins only; "!" would lock the account
      if (!me.groups.count(argv[3])) return Answer("useradd: group does not exist", 6);
      me.users[argv.back()] = {argv.back(), argv[3]};
      return Answer("");
    }
    if (cmd == "id") {
      std::string out;
      for (const auto& g : me.users[argv[2]]) out += g + " ";
      return Answer(out + "\n");
    }
    if (cmd == "usermod") {
      me.users[argv.back()].insert(argv[3]);
      return Answer("");
    }
    if (cmd == "systemctl") {
      if (me.restart_fails) return Answer("Failed to restart glusterd.service: Access denied", 1);
      ++me.restarts;
      return Answer("");
    }
    if (Has(argv, "pool")) {
      return Answer(
          "<cliOutput><opRet>0</opRet><peerStatus>"
          "<peer><uuid>3fcca580-4d4c-4737-80d1-aadde9c08cf9</uuid><hostname>localhost</hostname>"
          "<connected>1</connected></peer>"
          "<peer><uuid>7591148f-41d6-430b-96be-b0615179d432</uuid><hostname>10.77.0.12</hostname>"
          "<connected>1</connected></peer></peerStatus></cliOutput>");
    }
    if (Has(argv, "mountbroker.py")) {
      const std::string step = argv[5];
      std::string out;
      for (auto& [ip, n] : nodes_) {
        if (step == "node-status") {
          out += StatusLine(n);
        } else if (step == "node-setup") {
          if (!n.groups.count(argv[7])) {
            out += "{\"ok\": false, \"nodeid\": \"" + n.uuid +
                   "\", \"error\": \"User Group not exists\"}\n";
            continue;
          }
          n.mount_root = argv[6];
          n.mb_group = argv[7];
          out += "{\"ok\": true, \"nodeid\": \"" + n.uuid + "\", \"output\": \"\"}\n";
        } else if (step == "node-add") {
          n.mb_users[argv[7]].insert(argv[6]);
          out += "{\"ok\": true, \"nodeid\": \"" + n.uuid + "\", \"output\": \"\"}\n";
        }
      }
      return Answer(out);
    }
    if (Has(argv, "add_secret_pub")) {
      for (auto& [ip, n] : nodes_) {
        if (!n.users.count(argv[5]))
          return Answer(ip + " - add_secret_pub failed: Invalid home dir\n", 1);
      }
      return Answer("Command executed successfully.\n");
    }
    return Answer("ok\n");
  }

  size_t Count(const std::string& addr, const std::string& word) {
    size_t n = 0;
    for (const auto& [host, argv] : cluster_.log)
      if (host == addr && Has(argv, word)) ++n;
    return n;
  }

  size_t CountOnSource(const std::string& word) {
    return Count("10.77.0.1", word) + Count("10.77.0.2", word);
  }

  ScriptedCluster cluster_;
  std::string status_;
  std::map<std::string, DestNode> nodes_;
};

TEST_F(MountbrokerTest, EveryManagedNodeGetsTheUserThenOneSetUpAndRestartPerChange) {
  ASSERT_NO_FATAL_FAILURE(ImportDestinationCluster());
  auto d = Attach("geoaccount");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->connection, ConnectionStatus::kConnected) << d->connection_reason;
  for (const auto& [ip, n] : nodes_) {
    EXPECT_TRUE(n.groups.count("geogroup")) << ip;
    ASSERT_TRUE(n.users.count("geoaccount")) << ip;
    EXPECT_TRUE(n.users.at("geoaccount").count("geogroup")) << ip;
    EXPECT_EQ(n.restarts, 0) << ip;  // nothing in glusterd.vol changed yet
  }

  auto s = Create(d->id, "gv1");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->warnings.empty());
  EXPECT_EQ(s->session.remote_user, "geoaccount");
  for (const auto& [ip, n] : nodes_) {
    EXPECT_EQ(n.mount_root, "/var/mountbroker-root") << ip;
    EXPECT_EQ(n.mb_group, "geogroup") << ip;
    EXPECT_EQ(n.mb_users.at("geoaccount"), (std::set<std::string>{"gv1"})) << ip;
    EXPECT_EQ(n.restarts, 1) << ip;
  }
  // The cluster-wide steps ran once, on the destination host; the session was created after.
  EXPECT_EQ(Count("10.77.0.11", "node-setup"), 1u);
  EXPECT_EQ(Count("10.77.0.11", "node-add"), 1u);
  EXPECT_EQ(Count("10.77.0.12", "mountbroker.py"), 0u);
  EXPECT_EQ(CountOnSource("geoaccount@10.77.0.11::gv1"), 2u);  // create, config
  auto events = ops_->ListEvents({0, "", "", "session.create", 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_NE((*events)[0].message.find("mountbroker: geoaccount may mount gv1"), std::string::npos)
      << (*events)[0].message;

  // A second volume: only `add` (the set-up stands), and the restarts it needs.
  ASSERT_TRUE(Create(d->id, "gv2").ok());
  EXPECT_EQ(Count("10.77.0.11", "node-setup"), 1u);
  EXPECT_EQ(Count("10.77.0.11", "node-add"), 2u);
  for (const auto& [ip, n] : nodes_) EXPECT_EQ(n.restarts, 2) << ip;

  // The same volume again after its session is gone: nothing to change, nothing restarted.
  ASSERT_TRUE(ops_->RemoveSession(admin_, s->session.id, true, false).ok());
  ASSERT_TRUE(Create(d->id, "gv1").ok());
  EXPECT_EQ(Count("10.77.0.11", "node-add"), 2u);
  for (const auto& [ip, n] : nodes_) EXPECT_EQ(n.restarts, 2) << ip;
}

TEST_F(MountbrokerTest, TheClustersOwnMountbrokerGroupIsReused) {
  ASSERT_NO_FATAL_FAILURE(ImportDestinationCluster());
  for (auto& [ip, n] : nodes_) {
    n.groups.insert("geousers");
    n.mb_group = "geousers";
    n.mount_root = "/srv/mbr";
  }
  auto d = Attach("geoaccount");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(nodes_["10.77.0.12"].users.at("geoaccount"),
            (std::set<std::string>{"geoaccount", "geousers"}));
  EXPECT_FALSE(nodes_["10.77.0.12"].groups.count("geogroup"));
  ASSERT_TRUE(Create(d->id, "gv1").ok());
  EXPECT_EQ(Count("10.77.0.11", "node-setup"), 0u);  // already set up: only the user is added
  EXPECT_EQ(nodes_["10.77.0.11"].mount_root, "/srv/mbr");
  EXPECT_EQ(nodes_["10.77.0.11"].mb_users.at("geoaccount"), (std::set<std::string>{"gv1"}));
}

TEST_F(MountbrokerTest, ANodeGeorepCannotReachIsNamedWithWhatToDoThere) {
  // The destination cluster is not imported: georep reaches only the destination host.
  auto d = Attach("geoaccount");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->connection, ConnectionStatus::kBroken);
  EXPECT_NE(d->connection_reason.find("Invalid home dir"), std::string::npos)
      << d->connection_reason;
  EXPECT_NE(d->connection_reason.find("create it on 10.77.0.12"), std::string::npos)
      << d->connection_reason;
  EXPECT_TRUE(nodes_["10.77.0.11"].users.count("geoaccount"));
  EXPECT_EQ(Count("10.77.0.12", "useradd"), 0u);  // never reached

  // The admin creates the user there; re-establish connects, and create warns that glusterd
  // on the node georep cannot reach needs a restart.
  nodes_["10.77.0.12"].groups.insert("geogroup");
  nodes_["10.77.0.12"].users["geoaccount"] = {"geoaccount", "geogroup"};
  auto re = ops_->ReestablishDestination(admin_, d->id, "");
  ASSERT_TRUE(re.ok()) << re.status().ToString();
  EXPECT_EQ(re->connection, ConnectionStatus::kConnected) << re->connection_reason;
  auto s = Create(d->id, "gv1");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->warnings.size(), 1u);
  EXPECT_NE(s->warnings[0].find("restart glusterd there"), std::string::npos) << s->warnings[0];
  EXPECT_NE(s->warnings[0].find("10.77.0.12"), std::string::npos) << s->warnings[0];
  EXPECT_EQ(nodes_["10.77.0.11"].restarts, 1);
}

TEST_F(MountbrokerTest, AFailedRestartStopsCreateAndSaysWhatToDo) {
  ASSERT_NO_FATAL_FAILURE(ImportDestinationCluster());
  auto d = Attach("geoaccount");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  nodes_["10.77.0.12"].restart_fails = true;
  auto s = Create(d->id, "gv1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("glusterd could not be restarted there"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("Access denied"), std::string::npos);
  EXPECT_EQ(CountOnSource("create"), 0u);  // no gluster session was made
  auto listed = ops_->ListSessions({volume_.id, ""});
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(MountbrokerTest, RootNeedsNoMountbroker) {
  ASSERT_NO_FATAL_FAILURE(ImportDestinationCluster());
  auto d = Attach("root");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(Create(d->id, "gv1").ok());
  for (const char* ip : {"10.77.0.11", "10.77.0.12"}) {
    EXPECT_EQ(Count(ip, "mountbroker.py"), 0u) << ip;
    EXPECT_EQ(Count(ip, "useradd"), 0u) << ip;
    EXPECT_EQ(Count(ip, "systemctl"), 0u) << ip;
  }
}

}  // namespace
}  // namespace georep
