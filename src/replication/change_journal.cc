#include "replication/change_journal.h"

#include <xxhash.h>

#include <string_view>

#include "replication/le_bytes.h"

namespace georep::replication {
namespace {

using le::GetU64;
using le::PutU64;

// How many bytes of `v` are whole records (length, payload, a checksum that matches).
size_t WholeRecordsLength(std::string_view v) {
  const size_t size = v.size();
  size_t whole = 0;
  while (!v.empty()) {
    uint64_t length = 0, sum = 0;
    if (!GetU64(&v, &length) || length > v.size()) break;
    std::string_view payload = v.substr(0, length);
    v.remove_prefix(length);
    if (!GetU64(&v, &sum) || sum != XXH3_64bits(payload.data(), payload.size())) break;
    whole = size - v.size();
  }
  return whole;
}

}  // namespace

ChangeJournal::ChangeJournal(std::string state_dir, Env* env)
    : env_(env), path_(std::move(state_dir) + "/journal") {}

Result<JournaledChanges> ChangeJournal::Load() const {
  JournaledChanges out;
  auto data = env_->ReadFile(path_);
  if (data.status().code() == StatusCode::kNotFound) return out;
  if (!data.ok()) return data.status();
  std::string_view v = *data;
  // Records: payload length, payload (kind byte 'D', 'E' or 'W', length, path; repeated),
  // XXH3-64.
  while (!v.empty()) {
    uint64_t length = 0, sum = 0;
    if (!GetU64(&v, &length) || length > v.size()) break;
    std::string_view payload = v.substr(0, length);
    v.remove_prefix(length);
    if (!GetU64(&v, &sum) || sum != XXH3_64bits(payload.data(), payload.size())) break;
    while (!payload.empty()) {
      const char kind = payload[0];
      payload.remove_prefix(1);
      uint64_t n = 0;
      std::set<std::string>* into = kind == 'D'   ? &out.directories
                                    : kind == 'E' ? &out.entries
                                    : kind == 'W' ? &out.written
                                                  : nullptr;
      if (into == nullptr || !GetU64(&payload, &n) || n > payload.size()) {
        return Status::Corruption(path_ + " has a record that checks out but cannot be read");
      }
      into->emplace(payload.substr(0, n));
      payload.remove_prefix(n);
    }
  }
  return out;
}

Status ChangeJournal::Append(const JournaledChanges& changes) {
  if (changes.empty()) return Status::Ok();
  std::string payload;
  for (const auto& [kind, paths] :
       {std::pair{'D', &changes.directories}, {'E', &changes.entries}, {'W', &changes.written}}) {
    for (const auto& p : *paths) {
      payload.push_back(kind);
      PutU64(&payload, p.size());
      payload += p;
    }
  }
  std::string record;
  PutU64(&record, payload.size());
  record += payload;
  PutU64(&record, XXH3_64bits(payload.data(), payload.size()));
  // A record half written (a failed append, a crash) stays behind as a torn tail, where Load()
  // stops: it is cut off before anything is appended after it, or what follows would be lost.
  if (may_be_torn_) GEOREP_RETURN_IF_ERROR(CutTornTail());
  may_be_torn_ = true;
  GEOREP_ASSIGN_OR_RETURN(auto file, env_->OpenWritable(path_, Env::OpenMode::kAppend));
  GEOREP_RETURN_IF_ERROR(file->Append(record));
  GEOREP_RETURN_IF_ERROR(file->Sync());
  GEOREP_RETURN_IF_ERROR(file->Close());
  may_be_torn_ = false;
  return Status::Ok();
}

Status ChangeJournal::CutTornTail() {
  auto data = env_->ReadFile(path_);
  if (data.status().code() == StatusCode::kNotFound) {
    may_be_torn_ = false;
    return Status::Ok();
  }
  if (!data.ok()) return data.status();
  const size_t whole = WholeRecordsLength(*data);
  if (whole < data->size()) {
    GEOREP_RETURN_IF_ERROR(
        ReplaceFile(env_, path_, std::string_view(*data).substr(0, whole), /*sync=*/true));
  }
  may_be_torn_ = false;
  return Status::Ok();
}

Status ChangeJournal::Clear() {
  if (Status t = env_->Truncate(path_, /*sync=*/false);
      !t.ok() && t.code() != StatusCode::kNotFound)
    return t;
  may_be_torn_ = false;
  return Status::Ok();
}

}  // namespace georep::replication
