// Why a gsyncd worker failed, read from the tail of gsyncd's log on its node
// (/var/log/glusterfs/geo-replication/<primaryvol>_<secondaryhost>_<secondaryvol>/gsyncd.log).
//
// gsyncd (gluster 10) writes one entry per line,
//   [2026-12-06 15:16:50.948113] E [syncdutils(worker /bricks/b1):851:logerr] Popen: ssh> ssh:
//   connect to host 10.77.0.11 port 22: No route to host
// (one line), with a traceback's lines following their entry unprefixed. The context in
// parentheses says which process wrote it: "worker BRICK", "agent BRICK" or "monitor".
//
// Pure functions; thread-safe. Fuzzed by fuzz/gluster_xml_fuzz.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace georep {

struct GsyncdFailure {
  std::string time;   // of the entry, as gsyncd wrote it: "2026-12-06 15:16:50"
  std::string words;  // one line, at most the asked length
};

// The most telling words of `log_tail` about the worker of `brick`: of its last error (E or C)
// and the errors written just before it, what ssh said ("ssh> ..." lines: the destination
// refused, was unreachable, the key was not accepted), otherwise the errors' own messages (a
// traceback's last line); without an error, its last warning, or the monitor's last word on
// the brick ("worker died before establishing connection"). The monitor's own errors count too
// (they stop every worker of the node). Control characters replaced, at most `max_chars`
// bytes. nullopt when the log says nothing about the brick.
std::optional<GsyncdFailure> GsyncdFailureReason(std::string_view log_tail, std::string_view brick,
                                                 size_t max_chars = 300);

// `text` for one line of status: control characters (C0, DEL, C1) and invalid UTF-8 become
// spaces, runs of spaces one, trimmed, at most `max_chars` bytes ("..." ends a cut).
std::string OneLine(std::string_view text, size_t max_chars);

}  // namespace georep
