#include "api/routes.h"

namespace georep {

namespace {

constexpr Role kViewer = Role::kViewer;
constexpr Role kOperator = Role::kOperator;
constexpr Role kAdmin = Role::kAdmin;

}  // namespace

const std::vector<RouteRole>& RouteRoles() {
  static const std::vector<RouteRole> kRoutes = {
      {"GET", "/health", std::nullopt},
      {"POST", "/auth/login", std::nullopt},
      {"GET", "/openapi.json", kViewer},

      // The caller: their own account and tokens.
      {"GET", "/me", kViewer},
      {"GET", "/tokens", kViewer},
      {"POST", "/tokens", kViewer},
      {"DELETE", "/tokens/{id}", kViewer},
      {"PUT", "/users/{id}/password", kViewer, "a user's own; an admin's for anyone"},

      {"GET", "/users", kAdmin},
      {"POST", "/users", kAdmin},
      {"DELETE", "/users/{id}", kAdmin},
      {"PUT", "/users/{id}/role", kAdmin},
      {"GET", "/users/{id}/tokens", kAdmin},
      {"DELETE", "/users/{id}/tokens", kAdmin},

      {"GET", "/clusters", kViewer},
      {"GET", "/clusters/{id}", kViewer},
      {"POST", "/clusters", kAdmin},
      {"POST", "/clusters/import", kAdmin},
      {"DELETE", "/clusters/{id}", kAdmin},

      {"GET", "/clusters/{id}/hosts", kViewer},
      {"GET", "/hosts/{id}", kViewer},
      {"GET", "/engine/ssh-key", kViewer},
      {"POST", "/hosts/{id}/check", kOperator},
      {"POST", "/clusters/{id}/hosts", kAdmin},
      // It connects to any address and port the caller names.
      {"POST", "/host-keys/scan", kAdmin},
      {"PUT", "/hosts/{id}/fingerprint", kAdmin},
      {"DELETE", "/hosts/{id}", kAdmin},

      {"GET", "/volumes", kViewer},
      {"GET", "/clusters/{id}/volumes", kViewer},
      {"GET", "/volumes/{id}", kViewer},
      {"GET", "/volumes/{id}/sessions", kViewer},
      {"POST", "/clusters/{id}/volumes", kAdmin},
      {"DELETE", "/volumes/{id}", kAdmin},

      {"GET", "/clusters/{id}/destinations", kViewer},
      {"GET", "/destinations/{id}", kViewer},
      {"GET", "/destinations/{id}/volumes", kViewer},
      {"GET", "/destinations/{id}/sessions", kViewer},
      {"POST", "/destinations/{id}/test", kOperator},
      {"POST", "/clusters/{id}/destinations", kAdmin},
      {"POST", "/destinations/{id}/reestablish", kAdmin},
      {"DELETE", "/destinations/{id}", kAdmin},

      {"GET", "/sessions", kViewer},
      {"GET", "/sessions/{id}", kViewer},
      {"GET", "/sessions/{id}/config", kViewer},
      {"GET", "/sessions/{id}/preflight", kViewer},
      {"GET", "/sessions/{id}/metrics", kViewer},
      {"POST", "/sessions/{id}/start", kOperator},
      {"POST", "/sessions/{id}/stop", kOperator},
      {"POST", "/sessions/{id}/pause", kOperator},
      {"POST", "/sessions/{id}/resume", kOperator},
      {"POST", "/sessions/{id}/verify", kOperator},
      {"POST", "/sessions/{id}/repair", kOperator},
      {"POST", "/sessions/{id}/refresh", kOperator},
      {"PUT", "/sessions/{id}/config/{key}", kOperator,
       "operators set the checkpoint only; every other option needs admin"},
      {"POST", "/sessions", kAdmin},
      {"DELETE", "/sessions/{id}", kAdmin},
      {"DELETE", "/sessions/{id}/config/{key}", kAdmin},

      {"GET", "/stream", kViewer},
      {"GET", "/events", kViewer},
  };
  return kRoutes;
}

const RouteRole* FindRoute(std::string_view method, std::string_view path) {
  for (const auto& r : RouteRoles())
    if (r.method == method && r.path == path) return &r;
  return nullptr;
}

}  // namespace georep
