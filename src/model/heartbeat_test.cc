#include "model/heartbeat.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

const std::string kSession = "3f1c2a9e-0000-4000-8000-000000000001";
const std::string kNonce(64, 'a');

TEST(Heartbeat, AnIntactHeartbeatParsesBack) {
  const std::string text = FormatHeartbeat(kSession, 7, 1700000000123, kNonce);
  auto parsed = ParseHeartbeat(text, kSession);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->seq, 7);
  EXPECT_EQ(parsed->written_at, 1700000000123);
}

TEST(Heartbeat, EmptyTruncatedOrChangedIsDataLoss) {
  const std::string text = FormatHeartbeat(kSession, 7, 1700000000123, kNonce);
  auto empty = ParseHeartbeat("", kSession);
  EXPECT_EQ(empty.status().code(), StatusCode::kCorruption);
  EXPECT_NE(empty.status().message().find("0 bytes"), std::string::npos);
  for (size_t cut : {size_t{1}, text.size() / 2, text.size() - 1}) {
    auto truncated = ParseHeartbeat(text.substr(0, cut), kSession);
    EXPECT_EQ(truncated.status().code(), StatusCode::kCorruption) << cut;
  }
  // One byte changed anywhere (the nonce, the time) is seen.
  for (size_t at : {size_t{30}, text.find("written") + 9, text.find("nonce") + 8}) {
    std::string changed = text;
    changed[at] = changed[at] == '1' ? '2' : '1';
    EXPECT_EQ(ParseHeartbeat(changed, kSession).status().code(), StatusCode::kCorruption) << at;
  }
  // A block of zeros where the content was (a sparse or preallocated copy).
  EXPECT_EQ(ParseHeartbeat(std::string(text.size(), '\0'), kSession).status().code(),
            StatusCode::kCorruption);
}

TEST(Heartbeat, AnotherSessionsHeartbeatIsNotThisOnes) {
  const std::string text = FormatHeartbeat("other", 1, 1, kNonce);
  EXPECT_EQ(ParseHeartbeat(text, kSession).status().code(), StatusCode::kInvalidArgument);
}

TEST(Heartbeat, LagIsUnknownUntilTheFirstHeartbeatIsWritten) {
  SessionHeartbeat h;
  EXPECT_EQ(HeartbeatLagMs(h, 1000), -1);
  EXPECT_TRUE(HeartbeatDue(h, HeartbeatSettings{}, 1000));
}

TEST(Heartbeat, LagIsTheArrivalTimeOrTheTimeOnTheWayWhicheverIsMore) {
  HeartbeatSettings s{30'000, 0};
  SessionHeartbeat h;
  RecordHeartbeatWritten(h, 1, 100'000);
  EXPECT_FALSE(HeartbeatDue(h, s, 110'000));
  // On its way for 4 s: the lag is at least that.
  EXPECT_EQ(HeartbeatLagMs(h, 104'000), 4'000);
  // Seen on the destination 6 s after it was written.
  RecordHeartbeatSeen(h, {1, 100'000}, 106'000);
  EXPECT_EQ(h.pending_seq, 0);
  EXPECT_EQ(HeartbeatLagMs(h, 120'000), 6'000);  // the last one measured, until the next
  // The next one: while it travels less than 6 s the last measure stands, then it grows.
  EXPECT_TRUE(HeartbeatDue(h, s, 130'000));
  RecordHeartbeatWritten(h, 2, 130'000);
  EXPECT_EQ(HeartbeatLagMs(h, 132'000), 6'000);
  EXPECT_EQ(HeartbeatLagMs(h, 139'000), 9'000);
  // Seeing the old one again changes nothing.
  RecordHeartbeatSeen(h, {1, 100'000}, 139'500);
  EXPECT_EQ(h.pending_seq, 2);
  RecordHeartbeatSeen(h, {2, 130'000}, 131'000 + 9'000);
  EXPECT_EQ(HeartbeatLagMs(h, 150'000), 10'000);
}

TEST(Heartbeat, ANewerHeartbeatSeenCoversTheOlderOnesOnTheirWay) {
  SessionHeartbeat h;
  RecordHeartbeatWritten(h, 1, 0);
  RecordHeartbeatWritten(h, 2, 30'000);
  RecordHeartbeatWritten(h, 3, 60'000);
  EXPECT_EQ(h.pending_seq, 1);  // the oldest still on its way
  EXPECT_EQ(HeartbeatLagMs(h, 61'000), 61'000);
  RecordHeartbeatSeen(h, {2, 30'000}, 62'000);
  EXPECT_EQ(h.pending_seq, 3);  // 1 and 2 arrived; 3 is on its way
  EXPECT_EQ(h.pending_at, 60'000);
  EXPECT_EQ(HeartbeatLagMs(h, 62'000), 32'000);
}

TEST(Heartbeat, StalledWhenAHeartbeatTravelsLongerThanTheThreshold) {
  HeartbeatSettings s{30'000, 0};
  EXPECT_EQ(s.StallThresholdMs(), 150'000);  // 3 x 30 s + 60 s
  SessionHeartbeat h;
  RecordHeartbeatWritten(h, 1, 0);
  EXPECT_FALSE(HeartbeatStalled(h, s, 150'000));
  EXPECT_TRUE(HeartbeatStalled(h, s, 150'001));
  RecordHeartbeatSeen(h, {1, 0}, 150'500);
  EXPECT_FALSE(HeartbeatStalled(h, s, 150'500));
  HeartbeatSettings explicit_threshold{2'000, 20'000};
  EXPECT_EQ(explicit_threshold.StallThresholdMs(), 20'000);
}

TEST(Heartbeat, OffWritesNothing) {
  SessionHeartbeat h;
  EXPECT_FALSE(HeartbeatDue(h, HeartbeatSettings{0, 0}, 1'000'000));
}

}  // namespace
}  // namespace georep
