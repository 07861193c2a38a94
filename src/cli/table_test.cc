#include "cli/table.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

TEST(Table, AlignsColumnsAndEscapesControlCharacters) {
  Table t({"NAME", "STATUS"});
  t.Add({"vol1", "Active"});
  t.Add({"a-much-longer-name", "Faulty\x1b[0m"});
  EXPECT_EQ(t.Render(),
            "NAME                 STATUS\n"
            "----------------------------------\n"
            "vol1                 Active\n"
            "a-much-longer-name   Faulty\\x1b[0m\n");
}

TEST(Table, AReasonWithLineBreaksAndTabsStaysOnItsRow) {
  Table t({"HOST", "REASON", "SINCE"});
  t.Add({"dst1", "ssh: connect\r\nPermission denied\t(publickey)", "12:00"});
  t.Add({"dst2", "ok", "12:01"});
  EXPECT_EQ(t.Render(),
            "HOST   REASON                                           SINCE\n"
            "-------------------------------------------------------------\n"
            "dst1   ssh: connect\\r\\nPermission denied\\t(publickey)   12:00\n"
            "dst2   ok                                               12:01\n");
}

TEST(Table, WidthCountsCharactersNotBytes) {
  Table t({"VOLUME", "SIZE"});
  t.Add({"g\xC3\xA9o", "1.5 GiB"});  // "géo": 3 characters, 4 bytes
  t.Add({"\xE2\x80\x94", "N/A"});    // an em dash: 1 character, 3 bytes
  EXPECT_EQ(t.Render(),
            "VOLUME   SIZE\n"
            "----------------\n"
            "g\xC3\xA9o      1.5 GiB\n"
            "\xE2\x80\x94        N/A\n");
}

TEST(TerminalSafe, EscapesEveryControlAndBytesThatAreNotUtf8) {
  EXPECT_EQ(TerminalSafe("plain text, 100% sure"), "plain text, 100% sure");
  EXPECT_EQ(TerminalSafe("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(TerminalSafe(std::string("nul\0bell\a del\x7f", 14)), "nul\\x00bell\\x07 del\\x7f");
  EXPECT_EQ(TerminalSafe("csi \xC2\x9B\x32J"), "csi \\u009b2J");  // a C1 control
  EXPECT_EQ(TerminalSafe("rtl \xE2\x80\xAEgpj.exe"), "rtl \\u202egpj.exe");
  EXPECT_EQ(TerminalSafe("line\xE2\x80\xA8sep"), "line\\u2028sep");
  EXPECT_EQ(TerminalSafe("bad \xFF\xC0\xAF end"), "bad \\xff\\xc0\\xaf end");  // overlong '/'
  EXPECT_EQ(TerminalSafe("cut \xE2\x80"), "cut \\xe2\\x80");
  EXPECT_EQ(TerminalSafe("surrogate \xED\xA0\x80"), "surrogate \\xed\\xa0\\x80");
  EXPECT_EQ(TerminalSafe("\xE2\x80\x94 \xF0\x9F\x98\x80 \xC3\xA9"),
            "\xE2\x80\x94 \xF0\x9F\x98\x80 \xC3\xA9");  // kept as they are
}

TEST(HumanUnits, SizesAndRatesInBinaryUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(74240), "72.5 KiB");
  EXPECT_EQ(HumanBytes(1048575), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(HumanBytes(int64_t{1610612736}), "1.5 GiB");
  EXPECT_EQ(HumanBytes(int64_t{10} << 40), "10.0 TiB");
  EXPECT_EQ(HumanBytes(INT64_MAX), "8.0 EiB");
  EXPECT_EQ(HumanBytes(-1), "N/A");
  EXPECT_EQ(HumanRate(74240), "72.5 KiB/s");
  EXPECT_EQ(HumanRate(0), "0 B/s");
  EXPECT_EQ(HumanRate(-1), "N/A");
}

}  // namespace
}  // namespace georep
