// read_plan_test.cpp — the listener's and the history's outbox reads probe the outbox by index, whatever its size.
//
// Issue 12: the batch read joined pglive.tx and pglive.outbox and left the join to the planner,
// which estimates a third of pglive.tx for `position > $1` (and nothing for xid8) and hashed
// the whole outbox on every pass: 2-3 ms at 20,000 rows, growing with retention, with JIT
// compiling it (200 ms a read) once the estimated cost passed jit_above_cost. The plans are
// read with auto_explain at NOTICE level, so the statements checked are the real ones, nested
// in pglive.sequence_read too.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "capture/hub_reads.h"
#include "capture/outbox.h"
#include "capture_fixture.h"

namespace pglive::test {
namespace {

// Every notice the connection gets (auto_explain's plans among them).
class notices : public pqxx::errorhandler {
public:
    explicit notices(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
    bool operator()(const char msg[]) noexcept override {
        try {
            text += msg;
        } catch (...) {
        }
        return false;  // not passed on to the default handler (stderr)
    }
    std::string text;
};

void explain_everything(pqxx::connection_base& c) {
    pqxx::nontransaction n(c);
    n.exec("load 'auto_explain'");
    n.exec("set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on; "
           "set auto_explain.log_level = notice; set client_min_messages = notice");
}

// No plan reads the whole outbox, joins by hashing, or is compiled.
void expect_index_probes(const std::string& plans, const std::string& what) {
    ASSERT_NE(plans.find("outbox"), std::string::npos) << what << ": no plan was explained:\n" << plans;
    EXPECT_EQ(plans.find("Seq Scan on outbox"), std::string::npos) << what << " scans the whole outbox:\n" << plans;
    EXPECT_EQ(plans.find("Hash Cond"), std::string::npos) << what << " hashes a table to join it:\n" << plans;
    EXPECT_EQ(plans.find("JIT"), std::string::npos) << what << " is compiled by JIT:\n" << plans;
}

}  // namespace

TEST(outbox_reads, probe_the_outbox_by_index_when_it_holds_many_transactions) {
    auto admin = connect();
    exec(*admin, "create table plan_many (id int primary key, v text)");
    attach(*admin, "plan_many");
    {
        // 20,000 transactions in one round trip (explicit BEGIN/COMMIT pairs in one query
        // string), without a flush each.
        pqxx::nontransaction n(*admin);
        n.exec("set synchronous_commit = off");
        std::string sql;
        for (int i = 1; i <= 20000; ++i)
            sql += "begin; insert into plan_many values (" + std::to_string(i) + ", 'x'); commit; ";
        n.exec(sql);
    }
    run_sequencer(*admin);
    int64_t last = 0;
    {
        pqxx::nontransaction n(*admin);
        last = n.exec("select max(position) from pglive.tx")[0][0].as<int64_t>();
    }

    {
        // The listener's later batches (its connection's prepared read), six times: a prepared
        // statement switches to a generic plan after five.
        auto c = connect();
        prepare_outbox_reads(*c);
        explain_everything(*c);
        notices seen(*c);
        for (int i = 0; i < 6; ++i) {
            seen.text.clear();
            auto batch = read_batch(*c, last - 2, 1000);
            ASSERT_EQ(batch.size(), 2u);
        }
        expect_index_probes(seen.text, "the batch read");
    }
    {
        // The listener's pass in one round trip: the sequencer run and the first batch (its
        // four-argument form, which the three-argument one calls; the last pass dozes first).
        auto c = connect();
        prepare_outbox_reads(*c);
        explain_everything(*c);
        notices seen(*c);
        for (int i = 0; i < 6; ++i) {
            seen.text.clear();
            auto pass = sequence_and_read(*c, last - 2, 1000, false, true, i == 5 ? std::optional<int>(20) : std::nullopt);
            ASSERT_EQ(pass.batch.size(), 2u);
        }
        // sequence()'s own statements are explained too (it keeps to its indexes by its settings).
        expect_index_probes(seen.text, "pglive.sequence_read");
    }
    {
        // A resume's history of one topic.
        auto c = connect();
        explain_everything(*c);
        notices seen(*c);
        auto h = read_history(*c, "public.plan_many", last - 2, -1, 1000);
        ASSERT_EQ(h.transactions.size(), 2u);
        expect_index_probes(seen.text, "the history read");
    }
}

}  // namespace pglive::test
