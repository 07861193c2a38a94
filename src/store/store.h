// Store: georep's persistent state (the model in src/model) in SQLite or PostgreSQL.
//
// All reads and writes happen inside Store::Transaction, which hands the callback a StoreTx.
// The transaction commits when the callback returns OK and rolls back otherwise, so an
// operation that fails half-way writes nothing. Transactions are serialised inside one
// process; between processes the database's own locking applies (SQLite's write lock,
// PostgreSQL's row locks).
//
// Thread-safety: Store is thread-safe. A StoreTx must not escape its callback.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/alerts.h"
#include "model/entities.h"

namespace georep {

struct SessionFilter {
  std::string source_volume_id;  // empty: any
  std::string destination_id;    // empty: any
};

class StoreTx {
 public:
  virtual ~StoreTx() = default;

  // Clusters
  virtual Status CreateCluster(const Cluster& c) = 0;
  virtual Result<Cluster> GetCluster(const std::string& id) = 0;
  virtual Result<std::vector<Cluster>> ListClusters() = 0;
  virtual Status DeleteCluster(const std::string& id) = 0;

  // Hosts
  virtual Status CreateHost(const Host& h) = 0;
  virtual Status UpdateHost(const Host& h) = 0;
  virtual Result<Host> GetHost(const std::string& id) = 0;
  virtual Result<std::vector<Host>> ListHosts(const std::string& cluster_id) = 0;
  virtual Status DeleteHost(const std::string& id) = 0;

  // Volumes (with their bricks)
  virtual Status CreateVolume(const Volume& v) = 0;
  virtual Status UpdateVolume(const Volume& v) = 0;
  virtual Result<Volume> GetVolume(const std::string& id) = 0;
  // Empty cluster_id: every cluster's volumes.
  virtual Result<std::vector<Volume>> ListVolumes(const std::string& cluster_id) = 0;
  virtual Status DeleteVolume(const std::string& id) = 0;

  // Destinations
  virtual Status CreateDestination(const Destination& d) = 0;
  virtual Status UpdateDestination(const Destination& d) = 0;
  virtual Result<Destination> GetDestination(const std::string& id) = 0;
  // Empty cluster_id: every cluster's destinations.
  virtual Result<std::vector<Destination>> ListDestinations(const std::string& cluster_id) = 0;
  virtual Status DeleteDestination(const std::string& id) = 0;

  // Sessions; deleting one deletes its node rows and config.
  virtual Status CreateSession(const Session& s) = 0;
  virtual Status UpdateSession(const Session& s) = 0;
  virtual Result<Session> GetSession(const std::string& id) = 0;
  virtual Result<std::vector<Session>> ListSessions(const SessionFilter& filter) = 0;
  virtual Status DeleteSession(const std::string& id) = 0;

  // Per-node status: replaced as a whole each time the monitor reads it.
  virtual Status ReplaceNodeStatuses(const std::string& session_id,
                                     const std::vector<SessionNodeStatus>& nodes) = 0;
  virtual Result<std::vector<SessionNodeStatus>> ListNodeStatuses(
      const std::string& session_id) = 0;

  // Config values that differ from the catalogue's defaults (or were set explicitly).
  virtual Status PutConfig(const SessionConfigEntry& e) = 0;
  virtual Status DeleteConfig(const std::string& session_id, const std::string& key) = 0;
  virtual Result<std::vector<SessionConfigEntry>> ListConfig(const std::string& session_id) = 0;

  // Standing alerts of a session (one per kind); ListAlerts with an empty id lists every
  // session's.
  virtual Status PutAlert(const SessionAlert& a) = 0;
  virtual Status DeleteAlert(const std::string& session_id, const std::string& kind) = 0;
  virtual Result<std::vector<SessionAlert>> ListAlerts(const std::string& session_id) = 0;

  // Alerts (model/alerts.h): CreateAlert returns the new alert's id; at most one alert of a
  // rule fires for an object (a second is AlreadyExists). FindAlerts returns newest first.
  virtual Result<int64_t> CreateAlert(const Alert& a) = 0;
  virtual Status UpdateAlert(const Alert& a) = 0;
  virtual Result<Alert> GetAlert(int64_t id) = 0;
  virtual Result<std::vector<Alert>> FindAlerts(const AlertFilter& filter) = 0;

  // Notifiers; deleting one deletes its deliveries.
  virtual Status CreateNotifier(const Notifier& n) = 0;
  virtual Status UpdateNotifier(const Notifier& n) = 0;
  virtual Result<Notifier> GetNotifier(const std::string& id) = 0;
  virtual Result<std::vector<Notifier>> ListNotifiers() = 0;
  virtual Status DeleteNotifier(const std::string& id) = 0;

  // Deliveries: newest first, or (DeliveryFilter::due_by) the pending ones due, oldest first.
  virtual Result<int64_t> CreateDelivery(const AlertDelivery& d) = 0;
  virtual Status UpdateDelivery(const AlertDelivery& d) = 0;
  virtual Result<std::vector<AlertDelivery>> ListDeliveries(const DeliveryFilter& filter) = 0;

  // Engine settings that were set (the others have their catalogue's default).
  virtual Status PutSetting(const EngineSetting& s) = 0;
  virtual Status DeleteSetting(const std::string& key) = 0;
  virtual Result<std::vector<EngineSetting>> ListSettings() = 0;

  // A gluster session's end-to-end heartbeat; NotFound before the first one.
  virtual Status PutHeartbeat(const SessionHeartbeat& h) = 0;
  virtual Result<SessionHeartbeat> GetHeartbeat(const std::string& session_id) = 0;

  // Events; AppendEvent returns the new event's id. ListEvents returns newest first.
  virtual Result<int64_t> AppendEvent(const Event& e) = 0;
  virtual Result<std::vector<Event>> ListEvents(const EventFilter& filter) = 0;

  // Users and API tokens
  virtual Status CreateUser(const User& u) = 0;
  virtual Status UpdateUser(const User& u) = 0;
  virtual Result<User> GetUser(const std::string& id) = 0;
  virtual Result<User> GetUserByName(const std::string& name) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;
  virtual Status DeleteUser(const std::string& id) = 0;

  virtual Status CreateToken(const ApiToken& t) = 0;
  virtual Result<ApiToken> GetTokenByHash(const std::string& token_hash) = 0;
  virtual Result<std::vector<ApiToken>> ListTokens(const std::string& user_id) = 0;
  virtual Status TouchToken(const std::string& id, int64_t last_used) = 0;
  virtual Status DeleteToken(const std::string& id) = 0;

  // --- engine leases (several engines on one database; engine/engine_lease.h)
  // Takes lease `name` for `holder` until `expires_at` when it is free, expired before
  // `free_before` (normally `now`), or already the holder's (a renewal); returns the lease as
  // it stands after: another holder's when it was not free.
  virtual Result<EngineLease> ClaimLease(const std::string& name, const std::string& holder,
                                         int64_t now, int64_t expires_at, int64_t free_before) = 0;
  // Gives the lease up, if `holder` has it.
  virtual Status ReleaseLease(const std::string& name, const std::string& holder) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Runs `fn` in one transaction; commits if it returns OK, rolls back otherwise.
  virtual Status Transaction(const std::function<Status(StoreTx&)>& fn) = 0;

  // Schema version after migrations.
  virtual int SchemaVersion() = 0;

  // "sqlite" or "postgresql".
  virtual std::string Backend() const = 0;
};

// Opens the store named by `url` and applies pending migrations:
//   sqlite:///abs/path.db | sqlite:rel/path.db | /abs/path.db  -> SQLite
//   postgresql://... | postgres://... | "host=... dbname=..."   -> PostgreSQL
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

// The URL with any password replaced by "***", for logs and errors.
std::string RedactStoreUrl(const std::string& url);

}  // namespace georep
