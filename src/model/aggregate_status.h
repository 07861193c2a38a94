// The session status shown for a whole session, computed from its per-node statuses.
//
// A geo-replication session has one worker per source brick. Bricks are grouped in
// replica/disperse sets (SessionNodeStatus::set_index); within a set one worker is Active and
// the others Passive standbys. The rules, applied in order:
//
//   1. No node rows                                   -> Unknown
//   2. Every set is all Faulty                        -> Faulty
//   3. Some set is all Faulty, or some set has a
//      Faulty node and no Active node                 -> Partial faulty
//   4. Every node Stopped                             -> Stopped
//   5. Every node Paused                              -> Paused
//   6. Every node Created / Not started               -> Created
//   7. Every set has an Active node                   -> Active
//      (a Faulty standby in a set that still has an Active worker does not stop replication;
//       the per-node rows show it)
//   8. Every set has an Active node or only
//      Initializing/Passive nodes                     -> Initializing
//   9. Anything else (nodes disagree, e.g. some
//      Stopped while others Active)                   -> Unknown
//
// gluster's "Initializing..." is Initializing, never Unknown.
#pragma once

#include <vector>

#include "model/entities.h"

namespace georep {

SessionStatus AggregateSessionStatus(const std::vector<SessionNodeStatus>& nodes);

}  // namespace georep
