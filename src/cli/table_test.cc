#include "cli/table.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

TEST(Table, AlignsColumnsAndCleansControlCharacters) {
  Table t({"NAME", "STATUS"});
  t.Add({"vol1", "Active"});
  t.Add({"a-much-longer-name", "Faulty\x1b[0m"});
  EXPECT_EQ(t.Render(),
            "NAME                 STATUS\n"
            "-------------------------------\n"
            "vol1                 Active\n"
            "a-much-longer-name   Faulty?[0m\n");
}

}  // namespace
}  // namespace georep
