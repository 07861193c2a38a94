// MetricsText: a page in the Prometheus text exposition format 0.0.4, what GET /api/v1/metrics
// answers (Content-Type: text/plain; version=0.0.4; charset=utf-8).
//
// A family is declared once (its name, type and help); samples are then added to it in any
// order, and the page writes each family's "# HELP" and "# TYPE" once with all its samples
// together under them, families in the order declared -- the grouping the format requires,
// whatever order the engine walks its sessions in. A family without a sample is left out.
//
// Unknown values are never written as 0: AddKnown leaves out a sample whose value is unknown.
// Label values are escaped (backslash, double quote, line feed) and bytes that are not UTF-8
// become U+FFFD, so any session, path or host name makes a page that parses.
//
// Not thread-safe: one page, one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/histogram.h"

namespace georep {

enum class MetricType { kGauge, kCounter, kHistogram };

// A sample's labels, in the order written; names are [a-zA-Z_][a-zA-Z0-9_]*.
using MetricLabels = std::vector<std::pair<std::string_view, std::string>>;

class MetricsText {
 public:
  using Family = size_t;

  // Declares family `name` ([a-zA-Z_:][a-zA-Z0-9_:]*); declaring a name again returns the
  // same family (its first type and help stay).
  Family Declare(std::string_view name, MetricType type, std::string_view help);

  // One sample of a gauge or counter family.
  void Add(Family f, const MetricLabels& labels, double value);
  // The same, or nothing when `value` is unknown.
  void AddKnown(Family f, const MetricLabels& labels, std::optional<double> value);
  // A histogram family's series for `labels`: name_bucket{...,le="..."} for each bound and
  // +Inf (cumulative), name_sum and name_count.
  void AddHistogram(Family f, const MetricLabels& labels, const Histogram::Snapshot& h);

  // The page: every family that has a sample.
  std::string Text() const;
  // The names declared, in order (those without a sample included).
  std::vector<std::string> Names() const;

  // A label value as the format writes it between the quotes.
  static std::string EscapeLabelValue(std::string_view value);
  // A help text as the format writes it after "# HELP name ".
  static std::string EscapeHelp(std::string_view help);
  // A sample value: the shortest text that reads back as the same double; NaN, +Inf, -Inf.
  static std::string FormatValue(double value);

 private:
  struct FamilyText {
    std::string name;
    MetricType type;
    std::string help;
    std::string samples;  // the sample lines, each ending in \n
  };
  void Line(FamilyText& f, std::string_view suffix, const MetricLabels& labels,
            const std::pair<std::string_view, std::string>* extra, double value);

  std::vector<FamilyText> families_;
};

// An engine count or size that is -1 when unknown (model/entities.h), as a sample value.
std::optional<double> KnownCount(int64_t value);
// An engine time (ms since the epoch, 0: never) as seconds since the epoch.
std::optional<double> KnownTimestamp(int64_t epoch_ms);
// An engine duration in ms (-1: unknown) as seconds.
std::optional<double> KnownSeconds(int64_t ms);

}  // namespace georep
