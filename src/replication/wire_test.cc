#include "replication/wire.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace georep::replication {
namespace {

std::vector<Message> EveryMessage() {
  SetMeta meta;
  meta.seq = 9;
  meta.path = "d/f";
  meta.fields = kMetaAll;
  meta.mode = 04755;
  meta.uid = 1000;
  meta.gid = 4294967295u;
  meta.atime_ns = -1'500'000'001;  // before 1970
  meta.mtime_ns = 1'700'000'000'123'456'789;
  meta.xattrs = {{"user.a", "1"}, {"user.empty", ""}, {"trusted.b", std::string("\0\xff", 2)}};
  SetMeta partial;
  partial.seq = 10;
  partial.path = ".";
  partial.fields = kMetaMtime;
  partial.mtime_ns = 42;
  return {
      Hello{1, 1, kCapZstd | kCapXattrs, "georep 0.1.0"},
      HelloReply{true, 1, kCapXattrs, ""},
      HelloReply{false, 0, 0, "no common protocol version"},
      Mkdir{1, "d", 0755},
      Symlink{2, "d/l", "../target with spaces"},
      Hardlink{3, "d/f", "d/g"},
      Rename{4, "a", "b/c"},
      Unlink{5, "x"},
      Rmdir{6, "y"},
      FileBegin{7, "d/f", 1u << 30, 0640},
      FileData{8, 0, std::string("hello\0world", 11)},
      meta,
      partial,
      FileData{11, uint64_t{1} << 40, std::string(3000, 'z')},
      FileEnd{12, 11, Hash128{0x0123456789abcdefULL, 0xfedcba9876543210ULL}},
      FileAbort{13, "source file vanished"},
      Barrier{14, true},
      Barrier{15, false},
      Ack{15, true},
      Error{7, ErrorCode::kNoSpace, "destination file system is full"},
      BlockCopy{16, 1u << 20, 3u << 20, 65536},
      SourceCopy{17, 4096, uint64_t{5} << 30},
      ListTree{3, "d/sub"},
      TreeListing{3,
                  {{".", 040755, 0, 0, 4096, 1'700'000'000'000'000'001, 2, 3, ""},
                   {"d/f", 0100644, 1000, 1000, 11, -5, 77, 2, ""},
                   {"d/l", 0120777, 0, 0, 9, 42, 78, 1, "../target"}},
                  false,
                  ""},
      TreeListing{3, {}, true, "d/x: permission denied"},
      MakeNode{18, "dev/null", 0020666, (uint64_t{259} << 32) | 3},  // S_IFCHR, a large major
  };
}

std::string EncodeAll(const std::vector<Message>& messages, EncoderOptions options = {}) {
  Encoder enc(options);
  std::string out;
  for (const Message& m : messages) EXPECT_TRUE(enc.Append(m, &out).ok());
  return out;
}

TEST(WireTest, RoundTripsEveryMessage) {
  std::vector<Message> messages = EveryMessage();
  std::string bytes = EncodeAll(messages);
  Decoder dec;
  std::vector<Message> got;
  ASSERT_TRUE(dec.Feed(bytes, &got).ok());
  EXPECT_TRUE(dec.AtFrameBoundary());
  ASSERT_EQ(got.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(TypeOf(got[i]), TypeOf(messages[i])) << i;
    EXPECT_TRUE(got[i] == messages[i])
        << "message " << i << " " << MessageTypeName(TypeOf(messages[i]));
  }
}

TEST(WireTest, RoundTripsWithZstdCompression) {
  std::vector<Message> messages = EveryMessage();
  std::string plain = EncodeAll(messages);
  std::string packed = EncodeAll(messages, {.compress = true});
  EXPECT_LT(packed.size(), plain.size());  // the 3000 'z' compress
  Decoder dec;
  std::vector<Message> got;
  ASSERT_TRUE(dec.Feed(packed, &got).ok());
  ASSERT_EQ(got.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) EXPECT_TRUE(got[i] == messages[i]) << i;
}

TEST(WireTest, DecodesOneByteAtATime) {
  std::vector<Message> messages = EveryMessage();
  std::string bytes = EncodeAll(messages, {.compress = true});
  Decoder dec;
  std::vector<Message> got;
  for (char c : bytes) {
    ASSERT_TRUE(dec.Feed(std::string_view(&c, 1), &got).ok());
  }
  EXPECT_TRUE(dec.AtFrameBoundary());
  ASSERT_EQ(got.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) EXPECT_TRUE(got[i] == messages[i]) << i;
}

TEST(WireTest, DecodesRandomChunking) {
  std::vector<Message> messages = EveryMessage();
  std::string bytes = EncodeAll(messages);
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    Decoder dec;
    std::vector<Message> got;
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t n = std::min<size_t>(bytes.size() - pos, rng() % 64);
      ASSERT_TRUE(dec.Feed(std::string_view(bytes).substr(pos, n), &got).ok());
      pos += n;
    }
    ASSERT_EQ(got.size(), messages.size());
  }
}

TEST(WireTest, TruncatedFrameWaitsForMore) {
  std::string bytes = EncodeAll({Mkdir{1, "dir", 0755}});
  Decoder dec;
  std::vector<Message> got;
  ASSERT_TRUE(dec.Feed(std::string_view(bytes).substr(0, bytes.size() - 1), &got).ok());
  EXPECT_TRUE(got.empty());
  EXPECT_FALSE(dec.AtFrameBoundary());
  ASSERT_TRUE(dec.Feed(std::string_view(bytes).substr(bytes.size() - 1), &got).ok());
  EXPECT_EQ(got.size(), 1u);
}

Status FeedAll(std::string_view bytes) {
  Decoder dec;
  std::vector<Message> got;
  return dec.Feed(bytes, &got);
}

std::string Frame(uint8_t type, std::string_view payload) {
  std::string f = {'G', 'R', static_cast<char>(type), 0};
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  f.append(payload);
  return f;
}

TEST(WireTest, GarbageIsCorruptionAndSticks) {
  Decoder dec;
  std::vector<Message> got;
  Status st = dec.Feed("this is not a georep stream", &got);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("magic"), std::string::npos);
  // Even a valid frame is refused now: the stream cannot be resynchronised.
  std::string good = EncodeAll({Unlink{1, "x"}});
  EXPECT_EQ(dec.Feed(good, &got).code(), StatusCode::kCorruption);
  EXPECT_TRUE(got.empty());
}

TEST(WireTest, OversizedFrameIsRefusedFromItsHeader) {
  std::string header = {'G',    'R',   static_cast<char>(MessageType::kFileData), 0, '\xff', '\xff',
                        '\xff', '\x7f'};
  Status st = FeedAll(header);  // no body needed: the header alone is enough to refuse
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("exceeds the maximum"), std::string::npos);
}

TEST(WireTest, UnknownReservedAndFlaggedFramesAreCorruption) {
  EXPECT_EQ(FeedAll(Frame(99, "")).code(), StatusCode::kCorruption);
  Status reserved = FeedAll(Frame(static_cast<uint8_t>(MessageType::kBlockSignatures), ""));
  EXPECT_EQ(reserved.code(), StatusCode::kCorruption);
  EXPECT_NE(reserved.message().find("reserved"), std::string::npos);
  std::string flagged = EncodeAll({Unlink{1, "x"}});
  flagged[3] = 1;
  EXPECT_EQ(FeedAll(flagged).code(), StatusCode::kCorruption);
}

TEST(WireTest, MalformedPayloadsAreCorruption) {
  uint8_t unlink = static_cast<uint8_t>(MessageType::kUnlink);
  // Path length beyond the frame.
  EXPECT_EQ(FeedAll(Frame(unlink,
                          "\x01\x05"
                          "ab"))
                .code(),
            StatusCode::kCorruption);
  // Trailing bytes.
  EXPECT_EQ(FeedAll(Frame(unlink,
                          "\x01\x01"
                          "ab"))
                .code(),
            StatusCode::kCorruption);
  // Varint longer than 10 bytes / overflowing 64 bits.
  EXPECT_EQ(FeedAll(Frame(unlink, std::string(11, '\xff'))).code(), StatusCode::kCorruption);
  EXPECT_EQ(FeedAll(Frame(unlink, std::string(9, '\xff') + std::string("\x02\x00", 2))).code(),
            StatusCode::kCorruption);
  // Empty payload.
  EXPECT_EQ(FeedAll(Frame(unlink, "")).code(), StatusCode::kCorruption);
  // Path longer than PATH_MAX, though the frame holds it.
  std::string big = "\x01";
  big += "\x81\x40";  // 8193
  big += std::string(8193, 'a');
  EXPECT_EQ(FeedAll(Frame(unlink, big)).code(), StatusCode::kCorruption);
  // SetMeta claiming a billion xattrs.
  std::string meta =
      "\x01\x01"
      "a"
      "\x10"
      "\x80\x94\xeb\xdc\x03";
  EXPECT_EQ(FeedAll(Frame(static_cast<uint8_t>(MessageType::kSetMeta), meta)).code(),
            StatusCode::kCorruption);
  // Compressed FileData claiming more than kMaxFileDataChunk, and bad zstd bytes.
  uint8_t data = static_cast<uint8_t>(MessageType::kFileData);
  EXPECT_EQ(FeedAll(Frame(data, std::string("\x01\x00\x01\x80\x80\x80\x80\x01\x01z", 10))).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(FeedAll(Frame(data, std::string("\x01\x00\x01\x05\x03xyz", 8))).code(),
            StatusCode::kCorruption);
  // Barrier with unknown flags; HelloReply with a bad boolean.
  EXPECT_EQ(FeedAll(Frame(static_cast<uint8_t>(MessageType::kBarrier), "\x01\x04")).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(
      FeedAll(Frame(static_cast<uint8_t>(MessageType::kHelloReply), "\x02\x01\x00\x00")).code(),
      StatusCode::kCorruption);
}

TEST(WireTest, MutatedStreamsNeverCrash) {
  std::string bytes = EncodeAll(EveryMessage(), {.compress = true});
  std::mt19937 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string m = bytes;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) m[rng() % m.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) m.resize(rng() % m.size());
    Decoder dec;
    std::vector<Message> got;
    size_t pos = 0;
    while (pos < m.size()) {
      size_t n = 1 + rng() % 200;
      if (!dec.Feed(std::string_view(m).substr(pos, std::min(n, m.size() - pos)), &got).ok()) {
        break;
      }
      pos += n;
    }
  }
}

TEST(WireTest, EncoderRefusesWhatTheDecoderWouldRefuse) {
  Encoder enc;
  std::string out = "keep";
  Status st = enc.Append(Unlink{1, std::string(5000, 'a')}, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, "keep");
  EXPECT_FALSE(enc.Append(FileData{1, 0, std::string(kMaxFileDataChunk + 1, 'x')}, &out).ok());
  SetMeta bad;
  bad.fields = 0x100;
  EXPECT_FALSE(enc.Append(bad, &out).ok());
  EXPECT_EQ(out, "keep");
  EXPECT_FALSE(
      enc.Append(TreeListing{1, std::vector<ListedEntry>(kMaxListedEntries + 1), true, ""}, &out)
          .ok());
  EXPECT_EQ(out, "keep");
}

// A listing claiming more entries than a frame may hold is refused before anything is read.
TEST(WireTest, ATreeListingBeyondItsLimitsIsCorruption) {
  const uint8_t listing = static_cast<uint8_t>(MessageType::kTreeListing);
  EXPECT_EQ(FeedAll(Frame(listing, std::string("\x01\x80\x94\xeb\xdc\x03", 6))).code(),
            StatusCode::kCorruption);
  // A last flag that is not a boolean.
  EXPECT_EQ(FeedAll(Frame(listing, std::string("\x01\x00\x02\x00", 4))).code(),
            StatusCode::kCorruption);
  EXPECT_TRUE(FeedAll(Frame(listing, std::string("\x01\x00\x01\x00", 4))).ok());
}

TEST(WireTest, HandshakeNegotiatesVersionAndCapabilities) {
  HelloReply ok =
      AnswerHello(Hello{1, 5, kCapZstd | kCapBlockDelta | kCapXattrs, "x"}, kCapabilitiesSupported);
  EXPECT_TRUE(ok.accepted);
  EXPECT_EQ(ok.version, kProtocolVersion);
  EXPECT_EQ(ok.capabilities, kCapZstd | kCapBlockDelta | kCapXattrs);
  HelloReply older = AnswerHello(Hello{1, 1, kCapZstd, "x"}, kCapabilitiesSupported);
  EXPECT_EQ(older.capabilities, kCapZstd);  // only what both have
  // A version-1 worker still connects, and is never answered with a listing it cannot read.
  EXPECT_TRUE(older.accepted);
  EXPECT_EQ(older.version, 1u);
  EXPECT_LT(older.version, kListTreeVersion);
  EXPECT_GE(kProtocolVersion, kListTreeVersion);
  HelloReply no = AnswerHello(Hello{7, 9, 0, "future"}, kCapabilitiesSupported);
  EXPECT_FALSE(no.accepted);
  EXPECT_NE(no.reason.find("no common protocol version"), std::string::npos);
}

TEST(WireTest, SeqOfOperations) {
  EXPECT_EQ(SeqOf(Mkdir{17, "a", 0}), 17u);
  EXPECT_EQ(SeqOf(Ack{5, false}), 0u);
  EXPECT_EQ(TypeOf(FileAbort{}), MessageType::kFileAbort);
}

// The fuzz seeds are hand-made frames (see testdata/wire); they must stay valid streams, so
// the fuzzer starts from real conversations.
TEST(WireTest, FuzzSeedsDecode) {
  std::ifstream in(GEOREP_REPLICATION_TESTDATA "/wire/worker_stream.bin", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Decoder dec;
  std::vector<Message> got;
  ASSERT_TRUE(dec.Feed(bytes, &got).ok());
  ASSERT_EQ(got.size(), 13u);
  EXPECT_EQ(TypeOf(got.front()), MessageType::kHello);
  EXPECT_TRUE(got[4] == Message(FileData{4, 0, "hello"}));
  EXPECT_TRUE(got.back() == Message(Barrier{12, true}));
}

}  // namespace
}  // namespace georep::replication
