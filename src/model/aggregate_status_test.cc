#include "model/aggregate_status.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/names.h"

namespace georep {
namespace {

using N = NodeStatus;
using S = SessionStatus;

// Each case lists the sets of a session; each set lists its nodes' statuses.
struct Case {
  const char* name;
  std::vector<std::vector<N>> sets;
  S want;
};

std::vector<SessionNodeStatus> Build(const std::vector<std::vector<N>>& sets) {
  std::vector<SessionNodeStatus> out;
  for (size_t i = 0; i < sets.size(); ++i) {
    for (size_t j = 0; j < sets[i].size(); ++j) {
      SessionNodeStatus n;
      n.set_index = static_cast<int>(i);
      n.source_host = "node" + std::to_string(i) + "-" + std::to_string(j);
      n.status = sets[i][j];
      out.push_back(n);
    }
  }
  return out;
}

TEST(AggregateSessionStatus, Table) {
  const std::vector<Case> cases = {
      {"no nodes", {}, S::kUnknown},
      {"single active", {{N::kActive}}, S::kActive},
      {"replica active+passive", {{N::kActive, N::kPassive}}, S::kActive},
      {"two sets healthy", {{N::kActive, N::kPassive}, {N::kPassive, N::kActive}}, S::kActive},
      {"faulty standby in healthy set", {{N::kActive, N::kFaulty}}, S::kActive},
      {"single faulty", {{N::kFaulty}}, S::kFaulty},
      {"replica all faulty", {{N::kFaulty, N::kFaulty}}, S::kFaulty},
      {"every set all faulty", {{N::kFaulty, N::kFaulty}, {N::kFaulty}}, S::kFaulty},
      {"one set faulty one active",
       {{N::kFaulty, N::kFaulty}, {N::kActive, N::kPassive}},
       S::kPartialFaulty},
      {"faulty with passive only", {{N::kFaulty, N::kPassive}}, S::kPartialFaulty},
      {"faulty set beside initializing", {{N::kFaulty}, {N::kInitializing}}, S::kPartialFaulty},
      {"all stopped", {{N::kStopped, N::kStopped}, {N::kStopped}}, S::kStopped},
      {"all paused", {{N::kPaused, N::kPaused}}, S::kPaused},
      {"all created", {{N::kCreated, N::kCreated}}, S::kCreated},
      {"not started counts as created", {{N::kCreated, N::kNotStarted}}, S::kCreated},
      {"initializing stays initializing", {{N::kInitializing, N::kInitializing}}, S::kInitializing},
      {"one set active one initializing",
       {{N::kActive, N::kPassive}, {N::kInitializing}},
       S::kInitializing},
      {"passive only while switching", {{N::kPassive, N::kPassive}}, S::kInitializing},
      {"stopped beside active", {{N::kActive}, {N::kStopped}}, S::kUnknown},
      {"paused beside stopped", {{N::kPaused}, {N::kStopped}}, S::kUnknown},
      {"unknown node", {{N::kUnknown}}, S::kUnknown},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Name(AggregateSessionStatus(Build(c.sets))), Name(c.want)) << c.name;
  }
}

TEST(ParseNodeStatus, GlusterSpellings) {
  EXPECT_EQ(ParseNodeStatus("Initializing..."), NodeStatus::kInitializing);
  EXPECT_EQ(ParseNodeStatus("Active"), NodeStatus::kActive);
  EXPECT_EQ(ParseNodeStatus("Faulty"), NodeStatus::kFaulty);
  EXPECT_EQ(ParseNodeStatus("bogus"), std::nullopt);
  EXPECT_EQ(ParseCrawlStatus("Changelog Crawl"), CrawlStatus::kChangelog);
  EXPECT_EQ(ParseCrawlStatus("N/A"), CrawlStatus::kNotApplicable);
}

}  // namespace
}  // namespace georep
