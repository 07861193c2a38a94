#include "replication/block_delta.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "replication/test_util.h"

namespace georep::replication {
namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

BlockSignature SignatureOf(const std::string& content) {
  SignatureBuilder b(content.size());
  // In odd-sized pieces: the builder must not care how the bytes arrive.
  for (size_t off = 0; off < content.size(); off += 777)
    b.Update(std::string_view(content).substr(off, 777));
  return b.Finish(42);
}

struct Rebuilt {
  std::string content;
  uint64_t literal_bytes = 0;
  uint64_t copied_bytes = 0;
  size_t ops = 0;
};

// Computes the delta of `now` against `old`'s signature and applies it to `old`, as the agent
// does; checks the hash and the next signature on the way.
Rebuilt RoundTrip(const std::string& old, const std::string& now, size_t max_literal = 1 << 20) {
  const BlockSignature base = SignatureOf(old);
  Rebuilt out;
  uint64_t expect_offset = 0;
  auto read = [&](uint64_t offset, char* buf, size_t max) -> ssize_t {
    if (offset >= now.size()) return 0;
    const size_t n = std::min(max, now.size() - static_cast<size_t>(offset));
    std::copy_n(now.data() + offset, n, buf);
    return static_cast<ssize_t>(n);
  };
  auto emit = [&](const DeltaOp& op) -> Status {
    EXPECT_EQ(op.offset, expect_offset);  // in order, no gaps (nothing here is sparse)
    EXPECT_GT(op.length, 0u);
    expect_offset = op.offset + op.length;
    ++out.ops;
    if (op.copy) {
      EXPECT_LE(op.base_offset + op.length, old.size());
      out.content += old.substr(op.base_offset, op.length);
      out.copied_bytes += op.length;
    } else {
      EXPECT_LE(op.literal.size(), max_literal);
      EXPECT_EQ(op.literal.size(), op.length);
      out.content += op.literal;
      out.literal_bytes += op.length;
    }
    return Status::Ok();
  };
  ContentHasher hasher;
  SignatureBuilder next(now.size());
  Status st = ComputeDelta(read, now.size(), base, max_literal, emit, &hasher, &next);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(hasher.Finish(), HashBytes(now));
  BlockSignature next_sig = next.Finish(42);
  BlockSignature direct = SignatureOf(now);
  EXPECT_EQ(next_sig.weak, direct.weak);
  EXPECT_EQ(next_sig.strong, direct.strong);
  return out;
}

TEST(BlockDelta, BlockSizeGrowsWithTheSquareRootWithinBounds) {
  EXPECT_EQ(BlockSizeFor(0), 4096u);
  EXPECT_EQ(BlockSizeFor(1 << 20), 4096u);
  EXPECT_EQ(BlockSizeFor(uint64_t{1} << 26), 8192u);
  EXPECT_EQ(BlockSizeFor(uint64_t{1} << 30), 32768u);
  EXPECT_EQ(BlockSizeFor(uint64_t{1} << 40), 131072u);
}

TEST(BlockDelta, RollingChecksumEqualsAFreshOne) {
  std::mt19937_64 rng(1);
  const std::string data = RandomBytes(rng, 10000);
  RollingChecksum rolling;
  rolling.Reset(std::string_view(data).substr(0, 4096));
  for (size_t pos = 1; pos + 4096 <= data.size(); ++pos) {
    rolling.Roll(static_cast<uint8_t>(data[pos - 1]), static_cast<uint8_t>(data[pos + 4095]));
    RollingChecksum fresh;
    fresh.Reset(std::string_view(data).substr(pos, 4096));
    ASSERT_EQ(rolling.value(), fresh.value()) << pos;
  }
}

// The checksum's definition, byte by byte: a = sum x_i, b = sum (L - i) x_i, both mod 2^16.
uint32_t WeakChecksumByDefinition(std::string_view block) {
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < block.size(); ++i) {
    const auto x = static_cast<uint8_t>(block[i]);
    a += x;
    b += (block.size() - i) * x;
  }
  return static_cast<uint32_t>(((b & 0xffff) << 16) | (a & 0xffff));
}

TEST(BlockDelta, RollingChecksumMatchesItsDefinitionAtEveryLength) {
  // Every length around the 16-byte steps, and the largest block, in random bytes and in
  // 0xff bytes (the largest sums, where a wrong carry or lane overflow would show).
  std::mt19937_64 rng(7);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 100; ++n) lengths.push_back(n);
  for (size_t n : {4095, 4096, 4097, 65536, 131071, 131072}) lengths.push_back(n);
  for (size_t n : lengths) {
    for (const std::string& data : {RandomBytes(rng, n), std::string(n, '\xff')}) {
      RollingChecksum rc;
      rc.Reset(data);
      ASSERT_EQ(rc.value(), WeakChecksumByDefinition(data)) << "length " << n;
    }
  }
}

TEST(BlockDelta, AChangeInsideALargeFileSendsLittleMoreThanTheChange) {
  std::mt19937_64 rng(2);
  const std::string old = RandomBytes(rng, 16 << 20);
  std::string now = old;
  const std::string change = RandomBytes(rng, 256 << 10);
  now.replace(5'000'003, change.size(), change);  // not aligned to blocks
  Rebuilt r = RoundTrip(old, now);
  EXPECT_EQ(r.content, now);
  // The change plus at most one block on each side.
  EXPECT_LE(r.literal_bytes, change.size() + 2 * uint64_t{BlockSizeFor(old.size())});
  EXPECT_GE(r.literal_bytes, change.size());
  EXPECT_LE(r.ops, 4u);  // copy, literal, copy (adjacent copies merged)
}

TEST(BlockDelta, InsertionsDeletionsAndMovesAreFoundAtAnyOffset) {
  std::mt19937_64 rng(3);
  const std::string old = RandomBytes(rng, 3 << 20);
  const uint32_t bs = BlockSizeFor(old.size());
  // Bytes inserted near the start shift everything after them.
  std::string inserted = old;
  inserted.insert(1000, "seventeen bytes!!");
  Rebuilt r = RoundTrip(old, inserted);
  EXPECT_EQ(r.content, inserted);
  EXPECT_LE(r.literal_bytes, 17u + 2 * bs);
  // Bytes deleted.
  std::string deleted = old;
  deleted.erase(2'000'000, 12345);
  r = RoundTrip(old, deleted);
  EXPECT_EQ(r.content, deleted);
  EXPECT_LE(r.literal_bytes, 2u * bs);
  // Two halves swapped.
  std::string swapped = old.substr(old.size() / 2) + old.substr(0, old.size() / 2);
  r = RoundTrip(old, swapped);
  EXPECT_EQ(r.content, swapped);
  EXPECT_LE(r.literal_bytes, 2u * bs);
  // Appended to, and truncated (the old short last block is matched too).
  std::string appended = old + RandomBytes(rng, 5000);
  r = RoundTrip(old, appended);
  EXPECT_EQ(r.content, appended);
  EXPECT_LE(r.literal_bytes, 5000u + bs);
  // Unchanged, with a short last block.
  const std::string odd = old.substr(0, old.size() - 100);
  r = RoundTrip(odd, odd);
  EXPECT_EQ(r.content, odd);
  EXPECT_EQ(r.literal_bytes, 0u);
  std::string truncated = old.substr(0, 1'500'001);
  r = RoundTrip(old, truncated);
  EXPECT_EQ(r.content, truncated);
  EXPECT_LE(r.literal_bytes, uint64_t{bs});
}

TEST(BlockDelta, UnrelatedOrEmptyContentIsAllLiteralInBoundedPieces) {
  std::mt19937_64 rng(4);
  const std::string old = RandomBytes(rng, 2 << 20);
  const std::string other = RandomBytes(rng, (2 << 20) + 123);
  Rebuilt r = RoundTrip(old, other, 100000);
  EXPECT_EQ(r.content, other);
  EXPECT_EQ(r.literal_bytes, other.size());
  r = RoundTrip(old, "");
  EXPECT_EQ(r.content, "");
  r = RoundTrip("", other);
  EXPECT_EQ(r.content, other);
  // Repetitive content: many blocks with the same checksums.
  const std::string zeros(1 << 20, '\0');
  std::string mostly = zeros;
  mostly[500000] = 'x';
  r = RoundTrip(zeros, mostly);
  EXPECT_EQ(r.content, mostly);
  EXPECT_LE(r.literal_bytes, 2u * BlockSizeFor(zeros.size()));
}

TEST(SignatureStore, FindsOnlyTheVersionItWasSavedFor) {
  testing::TempDir dir;
  SignatureStore store(dir.path() + "/signatures");
  std::mt19937_64 rng(5);
  const std::string content = RandomBytes(rng, 100000);
  BlockSignature sig = SignatureOf(content);  // mtime 42
  ASSERT_TRUE(store.Save("a/b", sig).ok());
  BlockSignature got;
  ASSERT_TRUE(store.Find("a/b", content.size(), 42, &got));
  EXPECT_EQ(got.weak, sig.weak);
  EXPECT_EQ(got.strong, sig.strong);
  EXPECT_EQ(got.block_size, sig.block_size);
  EXPECT_FALSE(store.Find("a/b", content.size(), 43, &got));      // another mtime
  EXPECT_FALSE(store.Find("a/b", content.size() + 1, 42, &got));  // another size
  EXPECT_FALSE(store.Find("a/c", content.size(), 42, &got));      // another path
  store.Forget("a/b");
  EXPECT_FALSE(store.Find("a/b", content.size(), 42, &got));
}

}  // namespace
}  // namespace georep::replication
