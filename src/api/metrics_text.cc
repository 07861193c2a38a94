#include "api/metrics_text.h"

#include <fmt/format.h>

#include <cmath>

namespace georep {
namespace {

bool NameChar(char c, bool first) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return letter || (!first && c >= '0' && c <= '9');
}

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0 when it is not one
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8Sequence(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto tail = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned char b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return tail(1) ? 2 : 0;
  if (b == 0xE0) return tail(1, 0xA0) && tail(2) ? 3 : 0;
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return tail(1) && tail(2) ? 3 : 0;
  if (b == 0xED) return tail(1, 0x80, 0x9F) && tail(2) ? 3 : 0;
  if (b == 0xF0) return tail(1, 0x90) && tail(2) && tail(3) ? 4 : 0;
  if (b >= 0xF1 && b <= 0xF3) return tail(1) && tail(2) && tail(3) ? 4 : 0;
  if (b == 0xF4) return tail(1, 0x80, 0x8F) && tail(2) && tail(3) ? 4 : 0;
  return 0;
}

// `text` with backslashes and line feeds escaped (and double quotes, when `quotes`), and
// every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t n = Utf8Sequence(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      text.remove_prefix(1);
      continue;
    }
    const char c = text.front();
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out.append(text.substr(0, n));
    }
    text.remove_prefix(n);
  }
  return out;
}

std::string_view TypeWord(MetricType t) {
  switch (t) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

MetricsText::Family MetricsText::Declare(std::string_view name, MetricType type,
                                         std::string_view help) {
  std::string valid(name);
  for (size_t i = 0; i < valid.size(); ++i)
    if (!NameChar(valid[i], i == 0)) valid[i] = '_';
  if (valid.empty()) valid.push_back('_');
  for (size_t i = 0; i < families_.size(); ++i)
    if (families_[i].name == valid) return i;
  families_.push_back({valid, type, std::string(help), ""});
  return families_.size() - 1;
}

void MetricsText::Line(FamilyText& f, std::string_view suffix, const MetricLabels& labels,
                       const std::pair<std::string_view, std::string>* extra, double value) {
  std::string& out = f.samples;
  out += f.name;
  out += suffix;
  if (!labels.empty() || extra) {
    out += '{';
    bool first = true;
    auto label = [&](std::string_view name, std::string_view value) {
      if (!first) out += ',';
      first = false;
      out += name;
      out += "=\"";
      out += EscapeLabelValue(value);
      out += '"';
    };
    for (const auto& [name, v] : labels) label(name, v);
    if (extra) label(extra->first, extra->second);
    out += '}';
  }
  out += ' ';
  out += FormatValue(value);
  out += '\n';
}

void MetricsText::Add(Family f, const MetricLabels& labels, double value) {
  Line(families_.at(f), "", labels, nullptr, value);
}

void MetricsText::AddKnown(Family f, const MetricLabels& labels, std::optional<double> value) {
  if (value) Add(f, labels, *value);
}

void MetricsText::AddHistogram(Family f, const MetricLabels& labels, const Histogram::Snapshot& h) {
  FamilyText& family = families_.at(f);
  for (size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
    const std::pair<std::string_view, std::string> le{"le", FormatValue(h.bounds[i])};
    Line(family, "_bucket", labels, &le, static_cast<double>(h.cumulative[i]));
  }
  const std::pair<std::string_view, std::string> inf{"le", "+Inf"};
  Line(family, "_bucket", labels, &inf, static_cast<double>(h.count));
  Line(family, "_sum", labels, nullptr, h.sum);
  Line(family, "_count", labels, nullptr, static_cast<double>(h.count));
}

std::string MetricsText::Text() const {
  std::string out;
  for (const auto& f : families_) {
    if (f.samples.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, EscapeHelp(f.help), f.name,
                       TypeWord(f.type));
    out += f.samples;
  }
  return out;
}

std::vector<std::string> MetricsText::Names() const {
  std::vector<std::string> names;
  for (const auto& f : families_) names.push_back(f.name);
  return names;
}

std::string MetricsText::EscapeLabelValue(std::string_view value) {
  return Escape(value, true);
}

std::string MetricsText::EscapeHelp(std::string_view help) {
  return Escape(help, false);
}

std::string MetricsText::FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::optional<double> KnownCount(int64_t value) {
  if (value < 0) return std::nullopt;
  return static_cast<double>(value);
}

std::optional<double> KnownTimestamp(int64_t epoch_ms) {
  if (epoch_ms <= 0) return std::nullopt;
  return static_cast<double>(epoch_ms) / 1000.0;
}

std::optional<double> KnownSeconds(int64_t ms) {
  if (ms < 0) return std::nullopt;
  return static_cast<double>(ms) / 1000.0;
}

}  // namespace georep
