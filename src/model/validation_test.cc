#include "model/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace georep {
namespace {

TEST(Validation, VolumeNames) {
  for (const char* ok : {"vol1", "my-vol_2", "A", "data-backup"}) {
    EXPECT_TRUE(ValidateVolumeName("volume name", ok).ok()) << ok;
  }
  struct Bad {
    std::string name;
    const char* rule;
  };
  for (const Bad& bad : std::initializer_list<Bad>{{"", "empty"},
                                                   {"-vol", "start with '-'"},
                                                   {"vol/x", "only letters"},
                                                   {"vol x", "only letters"},
                                                   {"all", "reserved"},
                                                   {std::string(65, 'a'), "at most 64"}}) {
    Status s = ValidateVolumeName("volume name", bad.name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad.name;
    EXPECT_NE(s.message().find(bad.rule), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("volume name"), std::string::npos) << s.message();
  }
}

TEST(Validation, HostNames) {
  for (const char* ok : {"node1", "gluster-a.example.org", "10.0.0.1", "::1", "fe80::1", "a"}) {
    EXPECT_TRUE(ValidateHostName("host", ok).ok()) << ok;
  }
  for (const char* bad : {"", "-node", "node-", "a..b", ".a", "a.", "under_score", "sp ace",
                          "semi;colon", "$(reboot)"}) {
    EXPECT_FALSE(ValidateHostName("host", bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateHostName("host", std::string(64, 'a')).ok());
  EXPECT_TRUE(ValidateHostName("host", std::string(63, 'a')).ok());
}

TEST(Validation, Paths) {
  for (const char* ok : {"/data", "/srv/brick1/b", "/a b/c"}) {
    EXPECT_TRUE(ValidateAbsolutePath("path", ok).ok()) << ok;
  }
  for (const char* bad :
       {"", "/", "data", "/data/", "/a//b", "/a/../b", "/a/./b", "/..", "/a\nb"}) {
    EXPECT_FALSE(ValidateAbsolutePath("path", bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateAbsolutePath("path", "/" + std::string(4095, 'a')).ok());
  EXPECT_FALSE(ValidateAbsolutePath("path", "/" + std::string(256, 'a')).ok());
}

TEST(Validation, ErrorMessageHidesControlCharactersAndTruncates) {
  Status s = ValidateObjectName("cluster name", std::string("a\x1b[31m") + std::string(200, 'x'));
  EXPECT_EQ(s.message().find('\x1b'), std::string::npos);
  EXPECT_NE(s.message().find("a\\x1b[31m"), std::string::npos) << s.message();
  EXPECT_LT(s.message().size(), 200u);
  // A right-to-left override would reverse what follows it wherever the message is shown
  // ("exe.txt" read as "txt.exe"): it is shown as an escape instead.
  Status rlo = ValidateObjectName("volume name", "report\xE2\x80\xAEtxt.exe");
  EXPECT_EQ(rlo.message().find("\xE2\x80\xAE"), std::string::npos);
  EXPECT_NE(rlo.message().find("report\\u202etxt.exe"), std::string::npos) << rlo.message();
}

TEST(Validation, UsersPortsFingerprints) {
  EXPECT_TRUE(ValidateUnixUser("user", "geoaccount").ok());
  EXPECT_TRUE(ValidateUnixUser("user", "root").ok());
  EXPECT_FALSE(ValidateUnixUser("user", "Root").ok());
  EXPECT_FALSE(ValidateUnixUser("user", "1user").ok());
  EXPECT_FALSE(ValidateUnixUser("user", "a b").ok());
  EXPECT_TRUE(ValidatePort("port", 22).ok());
  EXPECT_FALSE(ValidatePort("port", 0).ok());
  EXPECT_FALSE(ValidatePort("port", 65536).ok());
  EXPECT_TRUE(ValidateFingerprint("fp", "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8").ok());
  EXPECT_FALSE(ValidateFingerprint("fp", "MD5:aa:bb").ok());
  EXPECT_FALSE(ValidateFingerprint("fp", "SHA256:short").ok());
  EXPECT_FALSE(
      ValidateFingerprint("fp", "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5S*8").ok());
}

TEST(Validation, ObjectNames) {
  EXPECT_TRUE(ValidateObjectName("name", "prod-east.1").ok());
  EXPECT_FALSE(ValidateObjectName("name", ".hidden").ok());
  EXPECT_FALSE(ValidateObjectName("name", "a/b").ok());
}

}  // namespace
}  // namespace georep
