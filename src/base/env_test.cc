// The Env contract, run on each Env (POSIX in a temporary directory, MemEnv), and FaultEnv's
// faults and simulated crash over both.
#include "base/env.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/fault_env.h"
#include "base/mem_env.h"

namespace georep {
namespace {

// A directory for the POSIX Env (none is needed for MemEnv); removed with what it holds.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "georep-env-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

enum class Kind { kPosix, kMem };

class EnvContract : public ::testing::TestWithParam<Kind> {
 protected:
  Env* env() { return GetParam() == Kind::kPosix ? Env::Default() : &mem_; }
  std::string Path(const std::string& name) { return dir_ / name; }
  Status Write(Env* env, const std::string& path, const std::string& data, Env::OpenMode mode,
               bool sync) {
    GEOREP_ASSIGN_OR_RETURN(auto file, env->OpenWritable(path, mode));
    GEOREP_RETURN_IF_ERROR(file->Append(data));
    if (sync) GEOREP_RETURN_IF_ERROR(file->Sync());
    return file->Close();
  }
  std::string Read(Env* env, const std::string& path) {
    auto data = env->ReadFile(path);
    return data.ok() ? *data : "<" + data.status().message() + ">";
  }

  ScratchDir dir_;
  MemEnv mem_;
};

TEST_P(EnvContract, WritesAppendsRenamesAndRemoves) {
  const std::string a = Path("a"), b = Path("b");
  EXPECT_FALSE(env()->Exists(a));
  EXPECT_EQ(env()->ReadFile(a).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(env()->FileSize(a).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(Write(env(), a, "one", Env::OpenMode::kTruncate, true).ok());
  ASSERT_TRUE(Write(env(), a, "+two", Env::OpenMode::kAppend, false).ok());
  EXPECT_EQ(Read(env(), a), "one+two");
  EXPECT_EQ(*env()->FileSize(a), 7u);
  ASSERT_TRUE(Write(env(), a, "new", Env::OpenMode::kTruncate, false).ok());
  EXPECT_EQ(Read(env(), a), "new");
  ASSERT_TRUE(env()->Rename(a, b).ok());
  EXPECT_FALSE(env()->Exists(a));
  EXPECT_EQ(Read(env(), b), "new");
  ASSERT_TRUE(env()->Truncate(b, true).ok());
  EXPECT_EQ(Read(env(), b), "");
  EXPECT_EQ(env()->Truncate(a, false).code(), StatusCode::kNotFound);
  ASSERT_TRUE(env()->Remove(b).ok());
  EXPECT_EQ(env()->Remove(b).code(), StatusCode::kNotFound);
}

TEST_P(EnvContract, ReplaceFileLeavesTheOldFileWholeWhenItFails) {
  FaultEnv faults(env());
  const std::string path = Path("status.json");
  ASSERT_TRUE(ReplaceFile(&faults, path, "old", true).ok());
  faults.FailWrites(1, ENOSPC, /*torn=*/true);
  Status failed = ReplaceFile(&faults, path, "newer", true);
  EXPECT_EQ(failed.code(), StatusCode::kIOError);
  EXPECT_NE(failed.message().find("No space left on device"), std::string::npos)
      << failed.message();
  faults.FailRenames(1, EIO);
  EXPECT_FALSE(ReplaceFile(&faults, path, "newer", true).ok());
  EXPECT_EQ(Read(env(), path), "old");
  EXPECT_FALSE(env()->Exists(path + ".tmp")) << "the temporary file is removed";
  EXPECT_EQ(faults.injected(), 2);
}

TEST_P(EnvContract, ACrashKeepsOnlyWhatWasSynced) {
  FaultEnv faults(env());
  const std::string log = Path("log"), fresh = Path("fresh"), replaced = Path("replaced");
  ASSERT_TRUE(Write(&faults, log, "synced;", Env::OpenMode::kAppend, true).ok());
  ASSERT_TRUE(Write(&faults, log, "not synced", Env::OpenMode::kAppend, false).ok());
  ASSERT_TRUE(Write(&faults, fresh, "never synced", Env::OpenMode::kTruncate, false).ok());
  ASSERT_TRUE(ReplaceFile(&faults, replaced, "whole", /*sync=*/true).ok());
  ASSERT_TRUE(faults.DropUnsyncedData().ok());
  EXPECT_EQ(Read(env(), log), "synced;");
  EXPECT_EQ(Read(env(), fresh), "");
  EXPECT_EQ(Read(env(), replaced), "whole") << "synced, then renamed: durable under its name";
}

TEST_P(EnvContract, AFileSystemThatIsGoneFailsEveryChange) {
  FaultEnv faults(env());
  const std::string path = Path("f");
  ASSERT_TRUE(Write(&faults, path, "kept", Env::OpenMode::kTruncate, true).ok());
  faults.SetActive(false);
  EXPECT_FALSE(faults.OpenWritable(path, Env::OpenMode::kAppend).ok());
  EXPECT_FALSE(faults.Truncate(path, true).ok());
  EXPECT_FALSE(faults.Remove(path).ok());
  EXPECT_EQ(Read(&faults, path), "kept") << "reading still works";
  faults.SetActive(true);
  EXPECT_TRUE(faults.Remove(path).ok());
}

TEST_P(EnvContract, FaultsHitOnlyThePathsTheyAreArmedFor) {
  FaultEnv faults(env());
  faults.FailSyncs(1, EIO, "journal");
  EXPECT_TRUE(Write(&faults, Path("index"), "x", Env::OpenMode::kTruncate, true).ok());
  Status failed = Write(&faults, Path("journal"), "x", Env::OpenMode::kTruncate, true);
  EXPECT_NE(failed.message().find("Input/output error"), std::string::npos) << failed.message();
  EXPECT_TRUE(Write(&faults, Path("journal"), "x", Env::OpenMode::kTruncate, true).ok());
}

INSTANTIATE_TEST_SUITE_P(Envs, EnvContract, ::testing::Values(Kind::kPosix, Kind::kMem),
                         [](const auto& info) {
                           return std::string(info.param == Kind::kPosix ? "Posix" : "Mem");
                         });

}  // namespace
}  // namespace georep
