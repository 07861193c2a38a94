// The words used for model enums in the API, the CLI and the database, and their parsers.
// Status words are gluster's own ("Active", "Partial faulty", "Changelog Crawl").
#pragma once

#include <optional>
#include <string_view>

#include "model/entities.h"

namespace georep {

std::string_view Name(HostTransport v);
std::string_view Name(HostStatus v);
std::string_view Name(VolumeKind v);
std::string_view Name(VolumeStatus v);
std::string_view Name(ConnectionStatus v);
std::string_view Name(NodeStatus v);
std::string_view Name(SessionStatus v);
std::string_view Name(CrawlStatus v);
std::string_view Name(Role v);

std::optional<HostTransport> ParseHostTransport(std::string_view s);
std::optional<HostStatus> ParseHostStatus(std::string_view s);
std::optional<VolumeKind> ParseVolumeKind(std::string_view s);
std::optional<VolumeStatus> ParseVolumeStatus(std::string_view s);
std::optional<ConnectionStatus> ParseConnectionStatus(std::string_view s);
// Accepts gluster's spellings too: "Initializing..." is Initializing, "N/A" crawl is N/A.
std::optional<NodeStatus> ParseNodeStatus(std::string_view s);
std::optional<SessionStatus> ParseSessionStatus(std::string_view s);
std::optional<CrawlStatus> ParseCrawlStatus(std::string_view s);
std::optional<Role> ParseRole(std::string_view s);

}  // namespace georep
