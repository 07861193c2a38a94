#include "gluster/mountbroker.h"

#include <nlohmann/json.hpp>

namespace georep {
namespace {

// nlohmann's value() throws on a wrong type; hostile or odd answers must not.
bool Flag(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

Result<std::vector<MountbrokerNode>> ParseMountbrokerNodes(std::string_view out) {
  std::vector<MountbrokerNode> nodes;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string_view::npos) end = out.size();
    std::string_view line = out.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() != '{') continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("nodeid") || !j["nodeid"].is_string()) {
      return Status::Corruption("unexpected mountbroker answer: " +
                                std::string(line.substr(0, 200)));
    }
    MountbrokerNode n;
    n.node_id = j["nodeid"].get<std::string>();
    n.ok = Flag(j, "ok");
    if (auto e = j.find("error"); e != j.end() && e->is_string()) n.error = e->get<std::string>();
    if (auto o = j.find("output"); o != j.end() && o->is_object()) {
      auto text = [&](const char* key) {
        auto it = o->find(key);
        return it != o->end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      n.mount_root = text("mountbroker-root");
      if (n.mount_root == "None") n.mount_root.clear();
      n.group = text("geo-replication-log-group");
      if (n.group == "None") n.group.clear();
      n.group_exists = Flag(*o, "group_exists");
      n.root_exists = Flag(*o, "path_exists");
      if (auto users = o->find("users"); users != o->end() && users->is_object()) {
        for (const auto& [user, vols] : users->items()) {
          auto& set = n.user_volumes[user];
          if (!vols.is_array()) continue;
          for (const auto& v : vols)
            if (v.is_string()) set.insert(v.get<std::string>());
        }
      }
    }
    nodes.push_back(std::move(n));
  }
  if (nodes.empty()) {
    std::string words(out.substr(0, 300));
    while (!words.empty() && (words.back() == '\n' || words.back() == ' ')) words.pop_back();
    return Status::Corruption(words.empty() ? "mountbroker: no node answered"
                                            : "mountbroker: " + words);
  }
  return nodes;
}

}  // namespace georep
