// The end-to-end heartbeat of a gluster session: pt-heartbeat's way of measuring replication
// lag (a timestamp written on the primary, read back on the replica), applied to
// geo-replication. The engine writes a small file into a reserved directory of the source
// volume (`.georep/heartbeat/<session id>`, through a mount on a source node) and reads it back
// from the destination volume. What arrives tells three things gsyncd's status cannot:
//   - lag: how long the newest heartbeat took to arrive, or how long the oldest one still on
//     its way has been travelling, whichever is more;
//   - content: a heartbeat arriving empty, truncated or different is data loss, at once;
//   - stall: a heartbeat that has not arrived within the stall threshold while the session
//     says Active.
// These are pure functions over SessionHeartbeat (model/entities.h); engine/ does the I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "model/entities.h"

namespace georep {

// Where the heartbeat lives, relative to the volume's root; excluded from verify.
inline constexpr std::string_view kReservedDirectory = ".georep";
inline constexpr std::string_view kHeartbeatDirectory = ".georep/heartbeat";

// The heartbeat file's text: a header line, the session, the sequence number, the time it
// was written, a random nonce (hex), and a BLAKE2b-256 of all of that, so that any change on
// the way (0 bytes, a truncation, other bytes) is seen.
std::string FormatHeartbeat(const std::string& session_id, int64_t seq, int64_t written_at_ms,
                            std::string_view nonce_hex);

struct ParsedHeartbeat {
  int64_t seq = 0;
  int64_t written_at = 0;
};

// Parses and checks a heartbeat read back from the destination. Corruption with the operator's
// words when it arrived empty, cut short, or with other content; InvalidArgument when it is
// another session's.
Result<ParsedHeartbeat> ParseHeartbeat(std::string_view text, const std::string& session_id);

// The heartbeat's settings: the interval between heartbeats (0: off) and the stall threshold
// (0: three intervals plus 60 s).
struct HeartbeatSettings {
  int64_t interval_ms = 30'000;
  int64_t stall_threshold_ms = 0;
  int64_t StallThresholdMs() const {
    return stall_threshold_ms > 0 ? stall_threshold_ms : 3 * interval_ms + 60'000;
  }
};

// A heartbeat is due when none was written yet or the newest is `interval` old.
bool HeartbeatDue(const SessionHeartbeat& h, const HeartbeatSettings& s, int64_t now);

// Records a heartbeat written at `at` with sequence `seq`.
void RecordHeartbeatWritten(SessionHeartbeat& h, int64_t seq, int64_t at);

// Records that the heartbeat `seen` arrived intact on the destination at `arrived_at`: every
// heartbeat up to its sequence number has arrived.
void RecordHeartbeatSeen(SessionHeartbeat& h, const ParsedHeartbeat& seen, int64_t arrived_at);

// The lag at `now` in milliseconds, or -1 when unknown (nothing written yet): the larger of
// how long the newest arrived heartbeat took, and how long the oldest heartbeat still on its
// way has been travelling (a lower bound of the lag while nothing arrives).
int64_t HeartbeatLagMs(const SessionHeartbeat& h, int64_t now);

// Stalled: a heartbeat has been on its way for longer than the threshold.
bool HeartbeatStalled(const SessionHeartbeat& h, const HeartbeatSettings& s, int64_t now);

}  // namespace georep
