// The event routes: live changes as server-sent events, and the audit trail.
#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "api/api_reply.h"
#include "api/api_route.h"

namespace georep {
namespace {

void Stream(ApiContext& c, const HttpRequest&, HttpResponse& res, const ApiCaller& who) {
  if (!c.feed) return SendError(res, Status::Unavailable("live updates are not available"));
  bool mine_full = false;
  auto sub = c.feed->Subscribe(who.user->name, &mine_full);
  if (!sub && mine_full) {
    res.status = 429;
    res.set_content(Json({{"error",
                           {{"code", "unavailable"},
                            {"message", fmt::format("you have {} live update streams open, the "
                                                    "most one user may; close a console tab",
                                                    StatusFeed::kMaxPerOwner)}}}})
                        .dump(),
                    "application/json");
    return;
  }
  if (!sub) {
    return SendError(res, Status::Unavailable("too many live update streams are open; close some "
                                              "console tabs or wait a minute"));
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  // A stream lasts ten minutes at most; the client reconnects (and re-authenticates:
  // a revoked token stops receiving within that time).
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  auto first = std::make_shared<bool>(true);
  res.set_stream(
      "text/event-stream",
      [sub, until, first](std::string* out) {
        if (*first) {
          *first = false;
          *out = "retry: 2000\nevent: hello\ndata: {}\n\n";
          return true;
        }
        std::vector<StatusFeed::Change> changes;
        bool open = sub->Next(std::chrono::seconds(15), &changes);
        if (!open || std::chrono::steady_clock::now() > until) return false;
        // A comment line every 15 s at least, so a gone client is noticed.
        if (changes.empty()) *out = ": keep-alive\n\n";
        for (const auto& ch : changes) *out += "event: " + ch.type + "\ndata: " + ch.data + "\n\n";
        return true;
      },
      [feed = c.feed, sub] { feed->Unsubscribe(sub); });
}

void Events(ApiContext& c, const HttpRequest& req, HttpResponse& res, const ApiCaller&) {
  EventFilter f;
  auto after = QueryInt(req, "after_id", 0);
  auto before = QueryInt(req, "before_id", 0);
  auto limit = QueryInt(req, "limit", 100);
  Status st = FirstError({&after.status(), &before.status(), &limit.status()});
  if (!st.ok()) return SendError(res, st);
  f.before_id = *before;
  f.after_id = *after;
  f.limit = static_cast<int>(std::min<int64_t>(*limit, 1000));
  f.object_type = req.get_param_value("object_type");
  f.object_id = req.get_param_value("object_id");
  f.action_prefix = req.get_param_value("action");
  f.result = req.get_param_value("result");
  if (!f.result.empty() && f.result != "ok" && f.result != "failed")
    return SendError(res, Status::InvalidArgument("result must be ok or failed"));
  SendList(res, c.ops.ListEvents(f));
}

}  // namespace

ApiResource EventResource() {
  ApiResource r;
  r.routes = {
      {.method = "GET",
       .path = "/stream",
       .role = Role::kViewer,
       .summary = "Live changes as server-sent events (text/event-stream): session (a "
                  "SessionDetail), session_removed ({id}), destination, destination_removed "
                  "({id}), audit (an Event), resync (reload everything). A stream lasts at most "
                  "ten minutes; reconnect.",
       .tag = "events",
       .handle = Stream},
      {.method = "GET",
       .path = "/events",
       .role = Role::kViewer,
       .summary = "The audit trail, newest first (after_id: only newer; before_id: only older, "
                  "for paging back)",
       .tag = "events",
       .params = {"?after_id", "?before_id", "?object_type", "?object_id", "?action", "?result",
                  "?limit"},
       .response = "Event",
       .list = true,
       .handle = Events},
  };
  r.schemas["Event"] = AlwaysPresent(SchemaObject({{"id", "integer"},
                                                   {"at", "string"},
                                                   {"actor", "string"},
                                                   {"action", "string"},
                                                   {"object_type", "string"},
                                                   {"object_id", "string"},
                                                   {"result", "string"},
                                                   {"message", "string"}}));
  r.schemas["Event"]["properties"]["result"]["enum"] = {"ok", "failed"};
  return r;
}

}  // namespace georep
