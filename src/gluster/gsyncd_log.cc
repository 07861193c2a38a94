#include "gluster/gsyncd_log.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace georep {
namespace {

struct Entry {
  std::string_view time;               // "2026-12-06 15:16:50" (the fraction dropped)
  char level = 0;                      // I, W, E, C, D, T
  std::string_view context;            // "worker /bricks/b1", "monitor"
  std::string_view message;            // after the "[module(context):line:function] "
  std::vector<std::string_view> more;  // unprefixed lines that follow (a traceback)
};

// "[TIME] L [module(CONTEXT):LINE:FUNCTION] MESSAGE"; nullopt for any other line.
std::optional<Entry> ParseHeader(std::string_view line) {
  if (line.size() < 4 || line[0] != '[') return std::nullopt;
  const size_t time_end = line.find("] ");
  if (time_end == std::string_view::npos || time_end + 5 > line.size()) return std::nullopt;
  Entry e;
  e.time = line.substr(1, time_end - 1);
  e.time = e.time.substr(0, e.time.find('.'));
  e.level = line[time_end + 2];
  if (line.substr(time_end + 3, 2) != " [") return std::nullopt;
  const size_t open = line.find('(', time_end + 5);
  const size_t close = line.find("):", open == std::string_view::npos ? line.size() : open);
  if (open == std::string_view::npos || close == std::string_view::npos) return std::nullopt;
  const size_t header_end = line.find("] ", close);
  if (header_end == std::string_view::npos) return std::nullopt;
  e.context = line.substr(open + 1, close - open - 1);
  e.message = line.substr(header_end + 2);
  return e;
}

std::vector<Entry> ParseEntries(std::string_view text) {
  std::vector<Entry> entries;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto e = ParseHeader(line)) {
      entries.push_back(*e);
    } else if (!entries.empty() && line.find_first_not_of(" \t") != std::string_view::npos) {
      entries.back().more.push_back(line);  // before the first entry: a cut line, dropped
    }
  }
  return entries;
}

bool IsError(const Entry& e) {
  return e.level == 'E' || e.level == 'C';
}

// "Popen: ssh> ..." -> "ssh> ...": gsyncd's "Name: " before its message says which class
// wrote it, nothing about the failure.
std::string_view WithoutSpeaker(std::string_view m) {
  const size_t colon = m.find(": ");
  if (colon == std::string_view::npos || colon == 0) return m;
  if (m.substr(0, colon).find(' ') != std::string_view::npos) return m;
  return m.substr(colon + 2);
}

// An error's own words: its message, or its traceback's last line when the message only
// announces one ("FAIL:").
std::string ErrorWords(const Entry& e) {
  std::string_view m = WithoutSpeaker(e.message);
  while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
  if (e.more.empty()) return std::string(m);
  std::string_view last = e.more.back();
  last.remove_prefix(std::min(last.size(), last.find_first_not_of(" \t")));
  if (m.empty() || m.back() == ':') return std::string(last);
  return std::string(m) + ": " + std::string(last);
}

void AddOnce(std::vector<std::string>& parts, std::string p) {
  if (!p.empty() && std::find(parts.begin(), parts.end(), p) == parts.end())
    parts.push_back(std::move(p));
}

}  // namespace

std::string OneLine(std::string_view text, size_t max_chars) {
  std::string out;
  auto space = [&] {
    if (!out.empty() && out.back() != ' ') out.push_back(' ');
  };
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      space();
      ++i;
      continue;
    }
    if (c < 0x80) {
      if (c == ' ') {
        space();
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: kept when valid and not a C1 control, a space otherwise.
    const size_t len = c >= 0xf5 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool valid = len != 0 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (valid && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) valid = false;  // C1
    if (!valid) {
      space();
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() <= max_chars) return out;
  // Cut at a character boundary, leaving room for "...".
  const std::string_view ellipsis = max_chars >= 3 ? "..." : "";
  size_t cut = max_chars - ellipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
  out.resize(cut);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.append(ellipsis);
}

std::optional<GsyncdFailure> GsyncdFailureReason(std::string_view log_tail, std::string_view brick,
                                                 size_t max_chars) {
  if (brick.empty()) return std::nullopt;
  const std::vector<Entry> entries = ParseEntries(log_tail);
  auto own = [&](const Entry& e) {
    const size_t space = e.context.find(' ');
    if (space == std::string_view::npos || e.context.substr(space + 1) != brick) return false;
    const std::string_view who = e.context.substr(0, space);
    return who == "worker" || who == "agent";
  };
  auto counts = [&](const Entry& e) { return own(e) || (e.context == "monitor" && IsError(e)); };
  // The last error, and the errors written just before it (until the worker's previous
  // non-error entry: an earlier attempt's are old news).
  std::optional<size_t> last;
  for (size_t i = entries.size(); i-- > 0;) {
    if (counts(entries[i]) && IsError(entries[i])) {
      last = i;
      break;
    }
  }
  std::string when;
  std::vector<std::string> parts;
  if (last) {
    std::vector<const Entry*> burst;
    for (size_t i = *last + 1; i-- > 0 && burst.size() < 20;) {
      const Entry& e = entries[i];
      if (!counts(e)) continue;
      if (!IsError(e)) break;
      burst.insert(burst.begin(), &e);
    }
    when = std::string(entries[*last].time);
    for (const Entry* e : burst) {
      const size_t ssh = e->message.find("ssh> ");
      if (ssh != std::string_view::npos) AddOnce(parts, std::string(e->message.substr(ssh + 5)));
    }
    if (parts.empty()) {
      for (const Entry* e : burst) {
        // "command returned error [{cmd=...}, {error=N}]" repeats the whole command line:
        // only when nothing else was said.
        if (WithoutSpeaker(e->message).rfind("command returned error", 0) == 0 && burst.size() > 1)
          continue;
        AddOnce(parts, ErrorWords(*e));
      }
    }
  } else {
    const std::string brick_field = "{brick=" + std::string(brick) + "}";
    for (size_t i = entries.size(); i-- > 0 && parts.empty();) {
      const Entry& e = entries[i];
      if ((own(e) && e.level == 'W') ||
          (e.context == "monitor" && e.message.find(brick_field) != std::string_view::npos)) {
        when = std::string(e.time);
        AddOnce(parts, ErrorWords(e));
      }
    }
  }
  if (parts.empty()) return std::nullopt;
  std::string words;
  for (const auto& p : parts) words += (words.empty() ? "" : "; ") + p;
  return GsyncdFailure{OneLine(when, 40), OneLine(words, max_chars)};
}

}  // namespace georep
