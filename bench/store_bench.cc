// Store and engine-operation throughput on SQLite (and on PostgreSQL when
// GEOREP_BENCH_POSTGRES_URL is set). Compare backends within one run; absolute numbers on a
// shared machine are noisy.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "engine/operations.h"
#include "model/aggregate_status.h"

namespace georep {
namespace {

std::unique_ptr<Store> OpenBenchStore(const std::string& backend, std::filesystem::path* dir) {
  if (backend == "postgresql") {
    const char* url = std::getenv("GEOREP_BENCH_POSTGRES_URL");
    if (!url) return nullptr;
    auto s = OpenStore(url);
    return s.ok() ? std::move(*s) : nullptr;
  }
  *dir = std::filesystem::temp_directory_path() / ("georep-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(*dir);
  std::filesystem::create_directories(*dir);
  auto s = OpenStore("sqlite://" + (*dir / "db").string());
  return s.ok() ? std::move(*s) : nullptr;
}

// Replacing one session's node rows, as the monitor does every poll.
void BM_ReplaceNodeStatuses(benchmark::State& state, const std::string& backend) {
  std::filesystem::path dir;
  auto store = OpenBenchStore(backend, &dir);
  if (!store) {
    state.SkipWithError("backend not available");
    return;
  }
  SystemClock clock;
  SystemRandom random;  // names must differ between runs on a shared PostgreSQL database
  ObjectLocks locks;
  Operations ops(*store, clock, random, locks);
  Actor a{"bench", Role::kAdmin};
  auto c = ops.CreateCluster(a, {"bench-" + random.NewToken(4), ""});
  if (!c.ok()) {
    state.SkipWithError(c.status().ToString().c_str());
    return;
  }
  HostSpec hs;
  hs.cluster_id = c->id;
  hs.name = "localhost";
  hs.transport = HostTransport::kLocal;
  auto h = ops.AddHost(a, hs);
  if (!h.ok()) {
    state.SkipWithError(h.status().ToString().c_str());
    return;
  }
  VolumeSpec vs;
  vs.cluster_id = c->id;
  vs.name = "v";
  vs.bricks = {{h->id, "/srv/v"}};
  auto v = ops.AddVolume(a, vs);
  if (!v.ok()) {
    state.SkipWithError(v.status().ToString().c_str());
    return;
  }
  auto d = ops.CreateDestination(a, {c->id, h->id, "localhost", 22, "", "root"});
  if (!d.ok()) {
    state.SkipWithError(d.status().ToString().c_str());
    return;
  }
  auto s = ops.CreateSession(a, {d->id, v->id, "/srv/w", ""});
  if (!s.ok()) {
    state.SkipWithError(s.status().ToString().c_str());
    return;
  }
  std::vector<SessionNodeStatus> nodes(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].source_host = "node" + std::to_string(i);
    nodes[i].source_brick = "/b";
    nodes[i].status = NodeStatus::kActive;
  }
  for (auto _ : state) {
    Status st = store->Transaction(
        [&](StoreTx& tx) { return tx.ReplaceNodeStatuses(s->session.id, nodes); });
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  store.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
}
BENCHMARK_CAPTURE(BM_ReplaceNodeStatuses, sqlite, std::string("sqlite"))->Arg(2)->Arg(24);
BENCHMARK_CAPTURE(BM_ReplaceNodeStatuses, postgresql, std::string("postgresql"))->Arg(2)->Arg(24);

void BM_AggregateStatus(benchmark::State& state) {
  std::vector<SessionNodeStatus> nodes(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].set_index = static_cast<int>(i / 3);
    nodes[i].status = i % 3 == 0 ? NodeStatus::kActive : NodeStatus::kPassive;
  }
  for (auto _ : state) benchmark::DoNotOptimize(AggregateSessionStatus(nodes));
}
BENCHMARK(BM_AggregateStatus)->Arg(6)->Arg(300);

}  // namespace
}  // namespace georep

BENCHMARK_MAIN();
