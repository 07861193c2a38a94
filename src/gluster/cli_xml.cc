#include "gluster/cli_xml.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <pugixml.hpp>

#include "model/names.h"

namespace georep {
namespace {

int64_t ToInt(const pugi::xml_node& n, const char* child) {
  std::string_view s = n.child_value(child);
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// A count gluster may not know: "N/A" (a Passive node's pending counts), or anything else
// that is not a number, is -1.
int64_t ToCount(const pugi::xml_node& n, const char* child) {
  std::string_view s = n.child_value(child);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return -1;
  return v;
}

int ToSmallInt(const pugi::xml_node& n, const char* child) {
  int64_t v = ToInt(n, child);
  return v < 0 || v > 1'000'000 ? 0 : static_cast<int>(v);
}

// First of several element names that is present (master/slave and primary/secondary).
std::string ChildValue(const pugi::xml_node& n, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    pugi::xml_node c = n.child(name);
    if (c) return c.child_value();
  }
  return "";
}

// Loads the XML and checks the CLI's verdict; returns the <cliOutput> element.
Result<pugi::xml_node> Load(pugi::xml_document& doc, std::string_view text) {
  auto start = text.find("<?xml");
  if (start == std::string_view::npos) start = text.find("<cliOutput");
  if (start == std::string_view::npos) {
    // The CLI sometimes answers in words only: keep them, they are the operator's clue.
    std::string words(text.substr(0, std::min<size_t>(text.size(), 300)));
    while (!words.empty() && (words.back() == '\n' || words.back() == ' ')) words.pop_back();
    if (words.empty()) return Status::Corruption("gluster printed nothing");
    if (words.find("Connection failed") != std::string::npos) return Status::Unavailable(words);
    return Status::FailedPrecondition(words);
  }
  text.remove_prefix(start);
  pugi::xml_parse_result r = doc.load_buffer(text.data(), text.size());
  if (!r)
    return Status::Corruption(fmt::format("gluster's XML does not parse: {}", r.description()));
  pugi::xml_node out = doc.child("cliOutput");
  if (!out) return Status::Corruption("gluster's XML has no <cliOutput>");
  if (ToInt(out, "opRet") != 0) {
    std::string err = out.child_value("opErrstr");
    if (err.empty()) err = fmt::format("gluster failed (opErrno {})", ToInt(out, "opErrno"));
    if (err.find("does not exist") != std::string::npos) return Status::NotFound(err);
    return Status::FailedPrecondition(err);
  }
  return out;
}

// "host:/path" -> {host, /path}; IPv6 hosts contain ':' too, so split at ":/".
std::pair<std::string, std::string> SplitBrick(const std::string& name) {
  auto pos = name.find(":/");
  if (pos == std::string::npos) return {"", name};
  return {name.substr(0, pos), name.substr(pos + 1)};
}

// "ssh://user@host::vol", "user@host::vol", "host::vol" (optionally with gluster's
// "uuid:" prefix and ":vol-uuid" suffix in <session_slave>).
void SplitDestination(std::string spec, GeoRepStatus& s) {
  if (auto p = spec.find("://"); p != std::string::npos) spec = spec.substr(p + 3);
  auto dc = spec.find("::");
  if (dc == std::string::npos) return;
  std::string left = spec.substr(0, dc), vol = spec.substr(dc + 2);
  if (auto colon = vol.find(':'); colon != std::string::npos) vol = vol.substr(0, colon);
  if (auto at = left.find('@'); at != std::string::npos) {
    s.remote_user = left.substr(0, at);
    left = left.substr(at + 1);
  }
  s.destination_host = left;
  s.destination_volume = vol;
}

}  // namespace

int64_t ParseGlusterTime(std::string_view text) {
  if (text.size() < 19) return 0;
  struct tm tm {};
  std::string s(text.substr(0, 19));
  if (!strptime(s.c_str(), "%Y-%m-%d %H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::pair<int, int> ParseRsyncVersion(std::string_view text) {
  auto pos = text.find("version ");
  if (pos == std::string_view::npos) return {0, 0};
  text.remove_prefix(pos + 8);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  int major = 0, minor = 0;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + text.size(), major);
  if (e1 != std::errc() || p1 == text.data() + text.size() || *p1 != '.') return {0, 0};
  auto [p2, e2] = std::from_chars(p1 + 1, text.data() + text.size(), minor);
  if (e2 != std::errc()) return {0, 0};
  return {major, minor};
}

std::string RsyncPreflightWarning(const std::string& host, std::pair<int, int> version) {
  if (version < std::make_pair(3, 4)) return "";
  return fmt::format(
      "rsync {}.{} on {}: with sync-method rsync, gsyncd writes every file on the destination "
      "as 0 bytes while reporting success (rsync >= 3.4 refuses gluster's .gfid paths); create "
      "the session with sync-method tarssh",
      version.first, version.second, host);
}

Result<std::vector<GlusterPeer>> ParsePoolList(std::string_view xml) {
  pugi::xml_document doc;
  GEOREP_ASSIGN_OR_RETURN(pugi::xml_node out, Load(doc, xml));
  std::vector<GlusterPeer> peers;
  for (pugi::xml_node p : out.child("peerStatus").children("peer")) {
    peers.push_back(
        GlusterPeer{p.child_value("uuid"), p.child_value("hostname"), ToInt(p, "connected") == 1});
  }
  return peers;
}

Result<std::vector<GlusterVolume>> ParseVolumeInfo(std::string_view xml) {
  pugi::xml_document doc;
  GEOREP_ASSIGN_OR_RETURN(pugi::xml_node out, Load(doc, xml));
  std::vector<GlusterVolume> vols;
  for (pugi::xml_node v : out.child("volInfo").child("volumes").children("volume")) {
    GlusterVolume g;
    g.name = v.child_value("name");
    g.id = v.child_value("id");
    g.status = v.child_value("statusStr");
    g.type = v.child_value("typeStr");
    g.replica_count = std::max(1, ToSmallInt(v, "replicaCount"));
    g.disperse_count = ToSmallInt(v, "disperseCount");
    g.redundancy_count = ToSmallInt(v, "redundancyCount");
    g.arbiter_count = ToSmallInt(v, "arbiterCount");
    for (pugi::xml_node b : v.child("bricks").children("brick")) {
      std::string name = b.child_value("name");
      if (name.empty()) name = b.text().get();  // older releases: the text only
      auto [host, path] = SplitBrick(name);
      g.bricks.push_back(
          GlusterBrick{host, path, b.child_value("hostUuid"), ToInt(b, "isArbiter") == 1});
    }
    for (pugi::xml_node o : v.child("options").children("option"))
      g.options[o.child_value("name")] = o.child_value("value");
    vols.push_back(std::move(g));
  }
  return vols;
}

Result<std::vector<GlusterBrickUsage>> ParseVolumeStatusDetail(std::string_view xml) {
  pugi::xml_document doc;
  GEOREP_ASSIGN_OR_RETURN(pugi::xml_node out, Load(doc, xml));
  std::vector<GlusterBrickUsage> bricks;
  for (pugi::xml_node v : out.child("volStatus").child("volumes").children("volume")) {
    for (pugi::xml_node n : v.children("node")) {
      bricks.push_back(GlusterBrickUsage{n.child_value("hostname"), n.child_value("path"),
                                         ToInt(n, "status") == 1, ToInt(n, "sizeTotal"),
                                         ToInt(n, "sizeFree")});
    }
  }
  return bricks;
}

Result<std::vector<GeoRepStatus>> ParseGeoRepStatus(std::string_view xml) {
  pugi::xml_document doc;
  GEOREP_ASSIGN_OR_RETURN(pugi::xml_node out, Load(doc, xml));
  std::vector<GeoRepStatus> sessions;
  for (pugi::xml_node vol : out.child("geoRep").children("volume")) {
    for (pugi::xml_node sess : vol.child("sessions").children("session")) {
      GeoRepStatus s;
      s.source_volume = vol.child_value("name");
      SplitDestination(ChildValue(sess, {"session_slave", "session_secondary"}), s);
      for (pugi::xml_node pair : sess.children("pair")) {
        SessionNodeStatus n;
        n.source_host = ChildValue(pair, {"master_node", "primary_node"});
        n.source_brick = ChildValue(pair, {"master_brick", "primary_brick"});
        n.destination_host = ChildValue(pair, {"slave_node", "secondary_node"});
        std::string user = ChildValue(pair, {"slave_user", "secondary_user"});
        if (s.remote_user.empty() && !user.empty()) s.remote_user = user;
        if (s.destination_host.empty()) {
          SplitDestination(ChildValue(pair, {"slave", "secondary"}), s);
        }
        n.status = ParseNodeStatus(pair.child_value("status")).value_or(NodeStatus::kUnknown);
        n.crawl = ParseCrawlStatus(pair.child_value("crawl_status"))
                      .value_or(CrawlStatus::kNotApplicable);
        n.last_synced = ParseGlusterTime(pair.child_value("last_synced"));
        n.entry_pending = ToCount(pair, "entry");
        n.data_pending = ToCount(pair, "data");
        n.meta_pending = ToCount(pair, "meta");
        n.failures = ToCount(pair, "failures");
        n.checkpoint_time = ParseGlusterTime(pair.child_value("checkpoint_time"));
        n.checkpoint_completed =
            std::string_view(pair.child_value("checkpoint_completed")) == "Yes";
        n.checkpoint_completion_time =
            ParseGlusterTime(pair.child_value("checkpoint_completion_time"));
        s.nodes.push_back(n);
      }
      if (s.remote_user.empty()) s.remote_user = "root";
      sessions.push_back(std::move(s));
    }
  }
  return sessions;
}

Result<std::map<std::string, std::string>> ParseGeoRepConfig(std::string_view xml) {
  pugi::xml_document doc;
  GEOREP_ASSIGN_OR_RETURN(pugi::xml_node out, Load(doc, xml));
  pugi::xml_node config = out.child("geoRep").child("config");
  if (!config) return Status::Corruption("gluster's geo-replication config has no <config>");
  std::map<std::string, std::string> options;
  for (pugi::xml_node o : config.children()) {
    if (o.type() == pugi::node_element) options[o.name()] = o.child_value();
  }
  return options;
}

}  // namespace georep
