#include "model/heartbeat.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

namespace georep {
namespace {

constexpr std::string_view kMagic = "georep-heartbeat 1";

std::string Digest(std::string_view text) {
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  std::string hex(sizeof out * 2, '\0');
  sodium_bin2hex(hex.data(), hex.size() + 1, out, sizeof out);
  return hex;
}

// The value of "key value" line `line`, or nullopt.
std::optional<std::string_view> Field(std::string_view line, std::string_view key) {
  if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ')
    return std::nullopt;
  return line.substr(key.size() + 1);
}

bool ToInt(std::string_view s, int64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string FormatHeartbeat(const std::string& session_id, int64_t seq, int64_t written_at_ms,
                            std::string_view nonce_hex) {
  std::string body = fmt::format("{}\nsession {}\nseq {}\nwritten {}\nnonce {}\n", kMagic,
                                 session_id, seq, written_at_ms, nonce_hex);
  return body + "digest " + Digest(body) + "\n";
}

Result<ParsedHeartbeat> ParseHeartbeat(std::string_view text, const std::string& session_id) {
  if (text.empty()) {
    return Status::Corruption(
        "the heartbeat arrived on the destination as 0 bytes: files are replicated without "
        "their content");
  }
  const size_t digest_at = text.rfind("digest ");
  if (text.substr(0, kMagic.size()) != kMagic || digest_at == std::string_view::npos ||
      text.back() != '\n') {
    return Status::Corruption(fmt::format(
        "the heartbeat arrived on the destination damaged ({} bytes, not a whole heartbeat): "
        "file contents are not replicated intact",
        text.size()));
  }
  const std::string_view body = text.substr(0, digest_at);
  const std::string_view digest = text.substr(digest_at + 7, text.size() - digest_at - 8);
  if (digest != Digest(body)) {
    return Status::Corruption(
        "the heartbeat arrived on the destination with other content than was written: file "
        "contents are not replicated intact");
  }
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < body.size();) {
    size_t nl = body.find('\n', start);
    if (nl == std::string_view::npos) nl = body.size();
    lines.push_back(body.substr(start, nl - start));
    start = nl + 1;
  }
  ParsedHeartbeat out;
  std::optional<std::string_view> session, seq, written;
  for (auto line : lines) {
    if (auto v = Field(line, "session")) session = v;
    if (auto v = Field(line, "seq")) seq = v;
    if (auto v = Field(line, "written")) written = v;
  }
  if (!session || !seq || !written || !ToInt(*seq, &out.seq) || !ToInt(*written, &out.written_at)) {
    return Status::Corruption("the heartbeat on the destination lacks its session, seq or time");
  }
  if (*session != session_id) {
    return Status::InvalidArgument(
        fmt::format("the heartbeat on the destination is session {}'s, not this one's",
                    std::string(session->substr(0, 64))));
  }
  return out;
}

bool HeartbeatDue(const SessionHeartbeat& h, const HeartbeatSettings& s, int64_t now) {
  if (s.interval_ms <= 0) return false;
  return h.written_seq == 0 || now - h.written_at >= s.interval_ms;
}

void RecordHeartbeatWritten(SessionHeartbeat& h, int64_t seq, int64_t at) {
  h.written_seq = seq;
  h.written_at = at;
  if (h.pending_seq == 0) {
    h.pending_seq = seq;
    h.pending_at = at;
  }
}

void RecordHeartbeatSeen(SessionHeartbeat& h, const ParsedHeartbeat& seen, int64_t arrived_at) {
  if (seen.seq <= h.arrived_seq) return;  // seen before (or an older copy)
  h.arrived_seq = seen.seq;
  h.arrived_written_at = seen.written_at;
  h.arrived_seen_at = arrived_at;
  if (h.pending_seq != 0 && seen.seq >= h.pending_seq) {
    // Everything up to `seen` arrived; the newest written one may still be on its way.
    if (h.written_seq > seen.seq) {
      h.pending_seq = h.written_seq;
      h.pending_at = h.written_at;
    } else {
      h.pending_seq = 0;
      h.pending_at = 0;
    }
  }
}

int64_t HeartbeatLagMs(const SessionHeartbeat& h, int64_t now) {
  if (h.written_seq == 0) return -1;
  int64_t lag =
      h.arrived_seq != 0 ? std::max<int64_t>(0, h.arrived_seen_at - h.arrived_written_at) : 0;
  if (h.pending_seq != 0) lag = std::max(lag, now - h.pending_at);
  return std::max<int64_t>(0, lag);
}

bool HeartbeatStalled(const SessionHeartbeat& h, const HeartbeatSettings& s, int64_t now) {
  return h.pending_seq != 0 && now - h.pending_at > s.StallThresholdMs();
}

}  // namespace georep
