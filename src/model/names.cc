#include "model/names.h"

#include <array>
#include <utility>

namespace georep {
namespace {

template <typename E, size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

constexpr Table<HostTransport, 2> kTransport{
    {{HostTransport::kLocal, "local"}, {HostTransport::kSsh, "ssh"}}};
constexpr Table<HostStatus, 3> kHostStatus{
    {{HostStatus::kUnknown, "Unknown"}, {HostStatus::kUp, "Up"}, {HostStatus::kDown, "Down"}}};
constexpr Table<VolumeKind, 2> kVolumeKind{
    {{VolumeKind::kGluster, "gluster"}, {VolumeKind::kDirectory, "directory"}}};
constexpr Table<VolumeStatus, 4> kVolumeStatus{{{VolumeStatus::kUnknown, "Unknown"},
                                                {VolumeStatus::kCreated, "Created"},
                                                {VolumeStatus::kStarted, "Started"},
                                                {VolumeStatus::kStopped, "Stopped"}}};
constexpr Table<ConnectionStatus, 3> kConnection{{{ConnectionStatus::kUnknown, "Unknown"},
                                                  {ConnectionStatus::kConnected, "Connected"},
                                                  {ConnectionStatus::kBroken, "Broken"}}};
constexpr Table<NodeStatus, 9> kNodeStatus{{{NodeStatus::kUnknown, "Unknown"},
                                            {NodeStatus::kInitializing, "Initializing"},
                                            {NodeStatus::kActive, "Active"},
                                            {NodeStatus::kPassive, "Passive"},
                                            {NodeStatus::kFaulty, "Faulty"},
                                            {NodeStatus::kCreated, "Created"},
                                            {NodeStatus::kStopped, "Stopped"},
                                            {NodeStatus::kPaused, "Paused"},
                                            {NodeStatus::kNotStarted, "Not started"}}};
constexpr Table<SessionStatus, 8> kSessionStatus{{{SessionStatus::kUnknown, "Unknown"},
                                                  {SessionStatus::kCreated, "Created"},
                                                  {SessionStatus::kInitializing, "Initializing"},
                                                  {SessionStatus::kActive, "Active"},
                                                  {SessionStatus::kPartialFaulty, "Partial faulty"},
                                                  {SessionStatus::kFaulty, "Faulty"},
                                                  {SessionStatus::kStopped, "Stopped"},
                                                  {SessionStatus::kPaused, "Paused"}}};
constexpr Table<CrawlStatus, 4> kCrawl{{{CrawlStatus::kNotApplicable, "N/A"},
                                        {CrawlStatus::kHybrid, "Hybrid Crawl"},
                                        {CrawlStatus::kHistory, "History Crawl"},
                                        {CrawlStatus::kChangelog, "Changelog Crawl"}}};
constexpr Table<Role, 3> kRole{
    {{Role::kViewer, "viewer"}, {Role::kOperator, "operator"}, {Role::kAdmin, "admin"}}};

template <typename E, size_t N>
std::string_view Lookup(const Table<E, N>& t, E v) {
  for (const auto& [e, s] : t)
    if (e == v) return s;
  return "Unknown";
}

template <typename E, size_t N>
std::optional<E> Parse(const Table<E, N>& t, std::string_view s) {
  for (const auto& [e, name] : t)
    if (name == s) return e;
  return std::nullopt;
}

}  // namespace

std::string_view Name(HostTransport v) {
  return Lookup(kTransport, v);
}
std::string_view Name(HostStatus v) {
  return Lookup(kHostStatus, v);
}
std::string_view Name(VolumeKind v) {
  return Lookup(kVolumeKind, v);
}
std::string_view Name(VolumeStatus v) {
  return Lookup(kVolumeStatus, v);
}
std::string_view Name(ConnectionStatus v) {
  return Lookup(kConnection, v);
}
std::string_view Name(NodeStatus v) {
  return Lookup(kNodeStatus, v);
}
std::string_view Name(SessionStatus v) {
  return Lookup(kSessionStatus, v);
}
std::string_view Name(CrawlStatus v) {
  return Lookup(kCrawl, v);
}
std::string_view Name(Role v) {
  return Lookup(kRole, v);
}

std::optional<HostTransport> ParseHostTransport(std::string_view s) {
  return Parse(kTransport, s);
}
std::optional<HostStatus> ParseHostStatus(std::string_view s) {
  return Parse(kHostStatus, s);
}
std::optional<VolumeKind> ParseVolumeKind(std::string_view s) {
  return Parse(kVolumeKind, s);
}
std::optional<VolumeStatus> ParseVolumeStatus(std::string_view s) {
  return Parse(kVolumeStatus, s);
}
std::optional<ConnectionStatus> ParseConnectionStatus(std::string_view s) {
  return Parse(kConnection, s);
}

std::optional<NodeStatus> ParseNodeStatus(std::string_view s) {
  // gluster prints "Initializing..." while a worker starts; it is not Unknown.
  if (s == "Initializing...") return NodeStatus::kInitializing;
  return Parse(kNodeStatus, s);
}

std::optional<SessionStatus> ParseSessionStatus(std::string_view s) {
  return Parse(kSessionStatus, s);
}

std::optional<CrawlStatus> ParseCrawlStatus(std::string_view s) {
  return Parse(kCrawl, s);
}

std::optional<Role> ParseRole(std::string_view s) {
  return Parse(kRole, s);
}

}  // namespace georep
