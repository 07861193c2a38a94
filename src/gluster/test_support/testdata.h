// Test support for the tests of gluster's parsers and of the engine's gluster code: what real
// GlusterFS printed, recorded under gluster/testdata (GEOREP_GLUSTER_TESTDATA). For unit tests
// only.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace georep::testing_support {

// The recorded file `name` ("" and a failure when it cannot be read).
inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(GEOREP_GLUSTER_TESTDATA) + "/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace georep::testing_support
