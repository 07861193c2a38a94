// MetricsText: the Prometheus text format 0.0.4 as the engine writes it -- escaping, values,
// unknown values left out, one HELP and TYPE per family with its samples together, histograms.
#include "api/metrics_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace georep {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(MetricsText, LabelValuesEscapeBackslashQuoteAndLineFeed) {
  EXPECT_EQ(MetricsText::EscapeLabelValue(R"(a\b"c)"
                                          "\nd"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(MetricsText::EscapeLabelValue("plain /srv/dst:1"), "plain /srv/dst:1");
  // Help text escapes the backslash and the line feed; a quote is only a quote there.
  EXPECT_EQ(MetricsText::EscapeHelp("say \"hi\"\\\nbye"), "say \"hi\"\\\\\\nbye");

  MetricsText t;
  const auto f = t.Declare("georep_x", MetricType::kGauge, "X");
  t.Add(f, {{"path", "/srv/a \"b\"\\c\nd"}}, 1);
  EXPECT_EQ(t.Text(),
            "# HELP georep_x X\n# TYPE georep_x gauge\n"
            "georep_x{path=\"/srv/a \\\"b\\\"\\\\c\\nd\"} 1\n");
}

TEST(MetricsText, BytesThatAreNotUtf8BecomeTheReplacementCharacter) {
  // Well-formed UTF-8 stays as it is, 2, 3 and 4 bytes long.
  EXPECT_EQ(MetricsText::EscapeLabelValue("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x81"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x81");
  // A stray continuation byte, a Latin-1 byte, an overlong '/', a surrogate, a cut sequence.
  EXPECT_EQ(MetricsText::EscapeLabelValue("a\x80z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(MetricsText::EscapeLabelValue("caf\xE9"), "caf\xEF\xBF\xBD");
  EXPECT_EQ(MetricsText::EscapeLabelValue("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(MetricsText::EscapeLabelValue("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(MetricsText::EscapeLabelValue("x\xE2\x82"), "x\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(MetricsText, ValuesReadBackAsTheSameNumber) {
  EXPECT_EQ(MetricsText::FormatValue(0), "0");
  EXPECT_EQ(MetricsText::FormatValue(1), "1");
  EXPECT_EQ(MetricsText::FormatValue(-2.5), "-2.5");
  EXPECT_EQ(MetricsText::FormatValue(1712345678.123), "1712345678.123");
  EXPECT_EQ(MetricsText::FormatValue(1099511627776.0), "1099511627776");
  EXPECT_EQ(MetricsText::FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(MetricsText::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(MetricsText::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  for (double v : {0.1, 1e-05, 123456.789, 6.02e23, 0.0005}) {
    EXPECT_EQ(std::stod(MetricsText::FormatValue(v)), v) << MetricsText::FormatValue(v);
  }
}

TEST(MetricsText, UnknownValuesAreLeftOutNeverZero) {
  EXPECT_FALSE(KnownCount(-1).has_value());
  EXPECT_EQ(KnownCount(0), 0.0);  // a known 0 is a 0
  EXPECT_FALSE(KnownTimestamp(0).has_value());
  EXPECT_EQ(KnownTimestamp(1'700'000'000'500), 1'700'000'000.5);
  EXPECT_FALSE(KnownSeconds(-1).has_value());
  EXPECT_EQ(KnownSeconds(1500), 1.5);

  MetricsText t;
  const auto lag = t.Declare("georep_lag_seconds", MetricType::kGauge, "Lag");
  const auto never = t.Declare("georep_never", MetricType::kGauge, "Never known");
  t.AddKnown(lag, {{"session_id", "a"}}, KnownSeconds(-1));
  t.AddKnown(lag, {{"session_id", "b"}}, KnownSeconds(0));
  t.AddKnown(never, {{"session_id", "a"}}, std::nullopt);
  const std::string text = t.Text();
  EXPECT_EQ(Count(text, "session_id=\"a\""), 0u) << text;
  EXPECT_EQ(Count(text, "georep_lag_seconds{session_id=\"b\"} 0\n"), 1u) << text;
  // A family with no sample at all is not written, not even its HELP and TYPE.
  EXPECT_EQ(Count(text, "georep_never"), 0u) << text;
}

TEST(MetricsText, EachFamilyHasOneHelpAndTypeWithItsSamplesTogether) {
  MetricsText t;
  const auto a = t.Declare("georep_a", MetricType::kGauge, "A");
  const auto b = t.Declare("georep_b_total", MetricType::kCounter, "B");
  EXPECT_EQ(t.Declare("georep_a", MetricType::kCounter, "again"), a);  // the same family
  // Samples added the way the engine walks sessions: a, b, a, b.
  t.Add(a, {{"s", "1"}}, 1);
  t.Add(b, {{"s", "1"}}, 10);
  t.Add(a, {{"s", "2"}}, 2);
  t.Add(b, {{"s", "2"}}, 20);
  EXPECT_EQ(t.Text(),
            "# HELP georep_a A\n# TYPE georep_a gauge\n"
            "georep_a{s=\"1\"} 1\ngeorep_a{s=\"2\"} 2\n"
            "# HELP georep_b_total B\n# TYPE georep_b_total counter\n"
            "georep_b_total{s=\"1\"} 10\ngeorep_b_total{s=\"2\"} 20\n");
  EXPECT_EQ(t.Names(), (std::vector<std::string>{"georep_a", "georep_b_total"}));
  // No labels: no braces.
  MetricsText plain;
  plain.Add(plain.Declare("georep_up", MetricType::kGauge, "Up"), {}, 1);
  EXPECT_EQ(plain.Text(), "# HELP georep_up Up\n# TYPE georep_up gauge\ngeorep_up 1\n");
}

TEST(MetricsText, NamesOutsideTheFormatAreMadeValid) {
  MetricsText t;
  t.Add(t.Declare("9 bad-name", MetricType::kGauge, "x"), {}, 1);
  EXPECT_EQ(t.Names(), std::vector<std::string>{"__bad_name"});
}

TEST(MetricsText, AHistogramHasCumulativeBucketsInfSumAndCount) {
  Histogram h({0.5, 0.1, 1, 0.1});  // sorted, made unique
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) h.Observe(v);
  const Histogram::Snapshot s = h.Take();
  EXPECT_EQ(s.bounds, (std::vector<double>{0.1, 0.5, 1}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4}));  // 0.1 falls in le="0.1"
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 3.15);

  MetricsText t;
  t.AddHistogram(t.Declare("georep_pass_duration_seconds", MetricType::kHistogram, "Passes"),
                 {{"pass", "full"}}, s);
  const std::string text = t.Text();
  EXPECT_EQ(text,
            "# HELP georep_pass_duration_seconds Passes\n"
            "# TYPE georep_pass_duration_seconds histogram\n"
            "georep_pass_duration_seconds_bucket{pass=\"full\",le=\"0.1\"} 2\n"
            "georep_pass_duration_seconds_bucket{pass=\"full\",le=\"0.5\"} 3\n"
            "georep_pass_duration_seconds_bucket{pass=\"full\",le=\"1\"} 4\n"
            "georep_pass_duration_seconds_bucket{pass=\"full\",le=\"+Inf\"} 5\n"
            "georep_pass_duration_seconds_sum{pass=\"full\"} " +
                MetricsText::FormatValue(s.sum) +
                "\n"
                "georep_pass_duration_seconds_count{pass=\"full\"} 5\n");
  // Empty: every bucket 0, still written (a histogram that exists but saw nothing yet).
  MetricsText empty;
  empty.AddHistogram(empty.Declare("georep_h_seconds", MetricType::kHistogram, "H"), {},
                     Histogram({1}).Take());
  EXPECT_EQ(Count(empty.Text(), " 0\n"), 4u) << empty.Text();
}

}  // namespace
}  // namespace georep
