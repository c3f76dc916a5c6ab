// clients.h — the serve nodes under test, and WebSocket clients holding random subscriptions.
//
// A client records every snapshot and patch it receives, per *track*: one subscription as the
// client sees it, across the sessions it resumed with `since` (a fresh subscribe starts a new
// track). The checker replays tracks offline; the client also applies them as it goes, so the
// end of the run can wait for each client to reach the final state.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "model/oracle.h"
#include "model/workload.h"
#include "support/process.h"

namespace pglive::model {

// The nodes' token_secret: with features::policies, clients of public.st authenticate.
inline constexpr const char* model_secret = "model-secret";

// `pglive serve` processes on one database; a killed node restarts on a new port.
class serve_nodes {
public:
    serve_nodes(std::string conninfo, std::vector<std::string> args, int count);
    ~serve_nodes();
    void start_all();
    int count() const { return int(procs_.size()); }
    uint16_t port(int node);  // 0 while the node is down
    void kill_and_restart(int node);
    // Restarts nodes that exited without being killed; returns a description of each such exit.
    std::vector<std::string> supervise();
    std::string output(int node);  // the running process's output so far
    std::string last_lines(const std::string& out, size_t n);

private:
    std::string conninfo_;
    std::vector<std::string> args_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<test::serve_process>> procs_;  // guarded by mutex_
    std::vector<std::string> old_output_;                        // guarded by mutex_
};

struct message {
    int session = 0;
    char kind = 'S';  // S snapshot, P patch
    int64_t pos = 0;
    json body;        // snapshot: rows; patch: the operations (tagged numbers)
    int64_t from = -1;  // a catch-up patch (a resync, PROTOCOL §4): it covers every position after this
};

struct session_info {
    int id = 0;
    int node = 0;
    int client = 0;
    std::optional<int64_t> since;
};

struct track {
    int id = 0;
    int spec = 0;
    std::mutex mutex;
    std::vector<message> msgs;          // guarded by mutex
    std::vector<session_info> sessions;  // guarded by mutex
    json state;                          // the client's state, guarded by mutex
    int64_t pos = -1;                    // guarded by mutex
    bool apply_failed = false;           // guarded by mutex
    bool live = false;                   // subscribed on an open connection when the clients stopped
};

class client_pool {
public:
    client_pool(serve_nodes& nodes, const std::vector<spec>& specs, features f, uint64_t seed, int clients,
                double start_window_s);
    ~client_pool();
    void start();
    void stop_churn() { churn_ = false; }  // keep connections from here on (reconnect only if lost)
    void stop();
    // The current track of each spec (nullptr before its first subscribe).
    std::vector<track*> current_tracks();
    std::vector<std::unique_ptr<track>>& tracks() { return tracks_; }
    std::vector<std::string> failures();
    std::string summary();

private:
    void run(int c);
    track* new_track(int spec);
    serve_nodes& nodes_;
    const std::vector<spec>& specs_;
    features f_;
    uint64_t seed_;
    int clients_;
    double start_window_s_;
    std::atomic<bool> stop_{false}, churn_{true};
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<track>> tracks_;  // guarded by mutex_ (the vector; tracks lock themselves)
    std::vector<track*> current_;                 // guarded by mutex_
    std::vector<std::string> failures_;           // guarded by mutex_
    int sessions_ = 0, connections_ = 0, resumes_ = 0;  // guarded by mutex_
};

// Random subscriptions: every filter operator on various columns, windows with ties and NULLs.
// Literals are canonicalized by asking PostgreSQL (`conn`).
std::vector<spec> random_specs(pqxx::connection_base& conn, uint64_t seed, int count, const features& f);

}  // namespace pglive::model
