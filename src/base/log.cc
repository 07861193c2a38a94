#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>

#include "base/visible_text.h"

namespace georep {

void InitLogging(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("georep");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level == "warning" ? "warn" : level)));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string LogValue(std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) quote = true;
  }
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string FirstLine(std::string_view text) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    const size_t end = line.find_last_not_of(" \t\r");
    // What a remote command printed becomes a reason people read: shown, never obeyed.
    if (end != std::string_view::npos)
      return VisibleText(line.substr(0, std::min<size_t>(end + 1, 300)));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return "";
}

}  // namespace georep
