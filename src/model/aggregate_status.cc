#include "model/aggregate_status.h"

#include <algorithm>
#include <map>

namespace georep {
namespace {

struct SetSummary {
  int nodes = 0;
  int active = 0;
  int faulty = 0;
  int starting = 0;  // Initializing or Passive
};

bool All(const std::vector<SessionNodeStatus>& nodes, std::initializer_list<NodeStatus> allowed) {
  return std::all_of(nodes.begin(), nodes.end(), [&](const SessionNodeStatus& n) {
    return std::find(allowed.begin(), allowed.end(), n.status) != allowed.end();
  });
}

}  // namespace

SessionStatus AggregateSessionStatus(const std::vector<SessionNodeStatus>& nodes) {
  if (nodes.empty()) return SessionStatus::kUnknown;

  std::map<int, SetSummary> sets;
  for (const auto& n : nodes) {
    SetSummary& s = sets[n.set_index];
    ++s.nodes;
    if (n.status == NodeStatus::kActive) ++s.active;
    if (n.status == NodeStatus::kFaulty) ++s.faulty;
    if (n.status == NodeStatus::kInitializing || n.status == NodeStatus::kPassive) ++s.starting;
  }

  size_t all_faulty_sets = 0;
  bool degraded = false;
  for (const auto& [index, s] : sets) {
    if (s.faulty == s.nodes) ++all_faulty_sets;
    if (s.faulty > 0 && s.active == 0) degraded = true;
  }
  if (all_faulty_sets == sets.size()) return SessionStatus::kFaulty;
  if (all_faulty_sets > 0 || degraded) return SessionStatus::kPartialFaulty;

  if (All(nodes, {NodeStatus::kStopped})) return SessionStatus::kStopped;
  if (All(nodes, {NodeStatus::kPaused})) return SessionStatus::kPaused;
  if (All(nodes, {NodeStatus::kCreated, NodeStatus::kNotStarted})) return SessionStatus::kCreated;

  bool every_set_active = true;
  bool every_set_active_or_starting = true;
  for (const auto& [index, s] : sets) {
    if (s.active == 0) every_set_active = false;
    // Faulty standbys were handled above; a set is "starting" when all its nodes are.
    if (s.active == 0 && s.starting != s.nodes) every_set_active_or_starting = false;
  }
  if (every_set_active) return SessionStatus::kActive;
  if (every_set_active_or_starting) return SessionStatus::kInitializing;
  return SessionStatus::kUnknown;
}

}  // namespace georep
