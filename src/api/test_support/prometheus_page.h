// A page in the Prometheus text format 0.0.4 read back as strictly as Prometheus reads it, for
// the tests of GET /api/v1/metrics (unit and integration): every line is a HELP, a TYPE or a
// sample; each family has one HELP and one TYPE, before its samples, and its samples together;
// names and label names are valid, label values escaped, values numbers, no series twice, and a
// histogram's buckets cumulative up to +Inf, which equals its count. For tests only.
#pragma once

#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace georep::testing {

struct PromSample {
  std::string name;  // as written (a histogram's with its _bucket, _sum or _count)
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromPage {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram...
  std::map<std::string, std::string> help;   // family -> its help, unescaped
  std::vector<PromSample> samples;
  std::string error;  // the first problem, naming its line; empty when the page is sound

  // The samples of `name` whose labels include every one of `labels`.
  std::vector<PromSample> Find(const std::string& name,
                               const std::map<std::string, std::string>& labels = {}) const {
    std::vector<PromSample> out;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        all = all && it != s.labels.end() && it->second == v;
      }
      if (all) out.push_back(s);
    }
    return out;
  }
};

namespace prom_detail {

inline bool ValidName(std::string_view n, bool colon) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

inline bool ParseValue(std::string_view text, double* out) {
  if (text == "NaN" || text == "+Inf" || text == "-Inf") {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    *out =
        text == "NaN" ? std::numeric_limits<double>::quiet_NaN() : (text == "+Inf" ? kInf : -kInf);
    return true;
  }
  if (text.empty()) return false;
  const std::string s(text);
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// `{a="x",b="y"}` at the start of `rest` (after the name); advances past it.
inline bool ParseLabels(std::string_view* rest, std::map<std::string, std::string>* labels,
                        std::string* why) {
  std::string_view r = *rest;
  r.remove_prefix(1);  // '{'
  while (!r.empty() && r.front() != '}') {
    const size_t eq = r.find('=');
    if (eq == std::string_view::npos) return *why = "a label without '='", false;
    const std::string name(r.substr(0, eq));
    if (!ValidName(name, false)) return *why = "label name '" + name + "'", false;
    r.remove_prefix(eq + 1);
    if (r.empty() || r.front() != '"') return *why = "label value not quoted", false;
    r.remove_prefix(1);
    std::string value;
    bool closed = false;
    while (!r.empty()) {
      const char c = r.front();
      r.remove_prefix(1);
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\n') return *why = "a raw line feed in a label value", false;
      if (c == '\\') {
        if (r.empty()) return *why = "a lone backslash", false;
        const char e = r.front();
        r.remove_prefix(1);
        if (e == '\\' || e == '"') {
          value += e;
        } else if (e == 'n') {
          value += '\n';
        } else {
          return *why = std::string("the escape \\") + e, false;
        }
        continue;
      }
      value += c;
    }
    if (!closed) return *why = "an unterminated label value", false;
    if (!labels->emplace(name, value).second) return *why = "label " + name + " twice", false;
    if (!r.empty() && r.front() == ',') r.remove_prefix(1);
  }
  if (r.empty()) return *why = "no closing '}'", false;
  r.remove_prefix(1);
  *rest = r;
  return true;
}

}  // namespace prom_detail

inline PromPage ParsePromPage(const std::string& text) {
  using namespace prom_detail;
  PromPage page;
  if (!text.empty() && text.back() != '\n')
    return page.error = "the page does not end a line", page;
  std::set<std::string> closed;  // families whose samples ended (another family's began)
  std::set<std::string> series;
  std::string current;  // the family whose lines come now
  size_t line_no = 0;
  auto fail = [&](const std::string& why, std::string_view line) {
    page.error = "line " + std::to_string(line_no) + " (" + std::string(line) + "): " + why;
    return page;
  };
  auto enter = [&](const std::string& family) {
    if (family == current) return true;
    if (closed.count(family)) return false;
    if (!current.empty()) closed.insert(current);
    current = family;
    return true;
  };
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty()) return fail("an empty line", line);
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool help = line[2] == 'H';
      std::string_view rest = line.substr(7);
      const size_t sp = rest.find(' ');
      const std::string name(rest.substr(0, sp));
      if (!ValidName(name, true)) return fail("metric name", line);
      if (!enter(name)) return fail("the family's lines are not together", line);
      const std::string arg = sp == std::string_view::npos ? "" : std::string(rest.substr(sp + 1));
      if (help) {
        if (page.help.count(name)) return fail("a second HELP", line);
        page.help[name] = arg;
      } else {
        if (page.types.count(name)) return fail("a second TYPE", line);
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                                     "untyped"};
        if (!kTypes.count(arg)) return fail("type '" + arg + "'", line);
        for (const auto& s : page.samples)
          if (s.name == name) return fail("TYPE after the family's samples", line);
        page.types[name] = arg;
      }
      continue;
    }
    if (line.starts_with("#")) continue;  // a comment
    size_t name_end = 0;
    while (name_end < line.size() && line[name_end] != '{' && line[name_end] != ' ') ++name_end;
    PromSample s;
    s.name = std::string(line.substr(0, name_end));
    if (!ValidName(s.name, true)) return fail("metric name", line);
    std::string_view rest = line.substr(name_end);
    std::string why;
    if (!rest.empty() && rest.front() == '{' && !ParseLabels(&rest, &s.labels, &why))
      return fail(why, line);
    if (rest.empty() || rest.front() != ' ') return fail("no value", line);
    rest.remove_prefix(1);
    const size_t sp = rest.find(' ');
    if (sp != std::string_view::npos) {  // a timestamp: an integer of milliseconds
      double ts = 0;
      if (!ParseValue(rest.substr(sp + 1), &ts)) return fail("timestamp", line);
      rest = rest.substr(0, sp);
    }
    if (!ParseValue(rest, &s.value)) return fail("value '" + std::string(rest) + "'", line);
    // The family: a histogram's series name it with a suffix.
    std::string family = s.name;
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!family.ends_with(suffix)) continue;
      const std::string base = family.substr(0, family.size() - suffix.size());
      auto t = page.types.find(base);
      if (t != page.types.end() && (t->second == "histogram" || t->second == "summary")) {
        family = base;
        break;
      }
    }
    if (!page.types.count(family)) return fail("a sample without a TYPE", line);
    if (!page.help.count(family)) return fail("a sample without a HELP", line);
    if (!enter(family)) return fail("the family's samples are not together", line);
    if (page.types[family] == "histogram" && s.name == family)
      return fail("a histogram sample without _bucket, _sum or _count", line);
    if (s.name.ends_with("_bucket") && family != s.name && !s.labels.count("le"))
      return fail("a bucket without le", line);
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "\x1f" + k + "=" + v;
    if (!series.insert(key).second) return fail("the same series twice", line);
    page.samples.push_back(std::move(s));
  }
  // Histograms: buckets never decrease, and +Inf is the count.
  std::map<std::string, std::vector<const PromSample*>> buckets;
  for (const auto& s : page.samples) {
    if (!s.name.ends_with("_bucket")) continue;
    auto labels = s.labels;
    labels.erase("le");
    std::string key = s.name;
    for (const auto& [k, v] : labels) key += "\x1f" + k + "=" + v;
    buckets[key].push_back(&s);
  }
  for (const auto& [key, list] : buckets) {
    double last = 0;
    for (const PromSample* b : list) {
      if (b->value < last) return page.error = "buckets decrease in " + b->name, page;
      last = b->value;
    }
    if (list.back()->labels.at("le") != "+Inf") return page.error = "no +Inf bucket", page;
    const std::string count_name =
        list.back()->name.substr(0, list.back()->name.size() - 7) + "_count";
    auto labels = list.back()->labels;
    labels.erase("le");
    auto counts = page.Find(count_name, labels);
    if (counts.empty() || counts.front().value != last)
      return page.error = "+Inf bucket is not the count of " + count_name, page;
  }
  return page;
}

}  // namespace georep::testing
