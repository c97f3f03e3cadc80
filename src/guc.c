/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The nosql.* configuration settings that are not owned by a single
 *	  capability.  Capability-specific settings are registered by their
 *	  own Init function; this file reserves the prefix last.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "documents.h"
#include "nosql.h"
#include "raft.h"
#include "timeseries.h"

/* Database (namespace) used by the SQL document functions for 'coll' names */
char	   *nosql_database = NULL;

/* Time between two TTL expiry rounds */
int			nosql_ttl_interval = 60000;

/* Longest sleep of the background workers between two rounds of jobs */
int			nosql_worker_naptime = 10000;

/* nosql.kv_quota: largest size of the key-value store that takes puts (MB) */
int			nosql_kv_quota = 2048;

/* nosql.plan_hint: while a hinted command plans, the indexes it may use */
char	   *nosql_plan_hint = NULL;

/*
 * Register the shared settings.  Called first from _PG_init.
 */
int			nosql_raft_node_id = 0;
char	   *nosql_raft_listen = NULL;
char	   *nosql_raft_peers = NULL;
char	   *nosql_raft_database = NULL;
char	   *nosql_raft_secret = NULL;
int			nosql_raft_heartbeat_ms = 100;
int			nosql_raft_election_timeout_ms = 1000;
int			nosql_raft_request_timeout_ms = 10000;
bool		nosql_raft_allow_in_transaction = false;
bool		nosql_raft_read_asker_confirms = true;
bool		nosql_raft_join = false;
extern int	nosql_raft_snapshot_entries;

/* nosql.raft_peers must parse */
static bool
GucCheckRaftPeers(char **newval, void **extra, GucSource source)
{
	RaftPeerAddr peers[RAFT_MAX_MEMBERS];
	int			n;

	RaftParsePeers(*newval, peers, &n, WARNING);
	if (n < 0)
	{
		GUC_check_errdetail("Use a list like '1=127.0.0.1:7401,2=127.0.0.1:7402,3=127.0.0.1:7403'.");
		return false;
	}
	return true;
}

/* The coordination settings (issue: Raft), docs/raft.md */
static void
GucInitRaft(void)
{
	/*
	 * Membership is fixed at server start; without preloading (when the
	 * library is loaded later, PostgreSQL refuses new PGC_POSTMASTER
	 * settings) the server is no member and these settings do not exist.
	 */
	if (!process_shared_preload_libraries_in_progress)
		goto session;
	DefineCustomIntVariable("nosql.raft_node_id",
							"This server's id in its raft group; 0: not a member.",
							"With an id, the server runs a raft worker and its key-value store is replicated through the group.",
							&nosql_raft_node_id, 0, 0, INT_MAX, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("nosql.raft_listen",
							   "Address (host:port) the raft worker listens on for its peers.",
							   NULL, &nosql_raft_listen, "", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("nosql.raft_peers",
							   "The initial members of the raft group: id=host:port, comma-separated, this server included.",
							   "Read when a member starts for the first time; later changes go through nosql.raft_add_member and nosql.raft_remove_member.",
							   &nosql_raft_peers, "", PGC_POSTMASTER, 0,
							   GucCheckRaftPeers, NULL, NULL);
	DefineCustomStringVariable("nosql.raft_database",
							   "The database whose key-value store the raft group replicates.",
							   NULL, &nosql_raft_database, "postgres", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("nosql.raft_secret",
							   "The shared secret the members of the raft group authenticate each other with.",
							   "Every connection between members proves knowledge of it (HMAC-SHA-256); the worker of a group of several members does not start without it.",
							   &nosql_raft_secret, "", PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("nosql.raft_heartbeat_ms",
							"Interval of the raft leader's heartbeats (one tick).",
							NULL, &nosql_raft_heartbeat_ms, 100, 10, 10000, PGC_POSTMASTER,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("nosql.raft_election_timeout_ms",
							"Time without a leader after which a raft member starts an election (randomized up to twice as long).",
							NULL, &nosql_raft_election_timeout_ms, 1000, 20, 60000, PGC_POSTMASTER,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("nosql.raft_read_asker_confirms",
							 "Count a follower that asks for a read index in the leader's term as one of the leader's confirmations.",
							 "With three voters a follower's linearizable read then needs no heartbeat round; off: every read index waits for a heartbeat round, as in etcd.",
							 &nosql_raft_read_asker_confirms, true, PGC_POSTMASTER, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("nosql.raft_join",
							 "Start this member empty, to be added to an existing group with nosql.raft_add_member.",
							 "Like etcd's --initial-cluster-state existing: the member does not bootstrap a configuration of its own.",
							 &nosql_raft_join, false, PGC_POSTMASTER, 0,
							 NULL, NULL, NULL);
session:
	DefineCustomIntVariable("nosql.raft_request_timeout",
							"Time a key-value call waits for the raft group before it fails with an unknown outcome.",
							NULL, &nosql_raft_request_timeout_ms, 10000, 100, INT_MAX, PGC_USERSET,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("nosql.raft_allow_in_transaction",
							 "Accept key-value writes inside a transaction block on a raft member.",
							 "The group commits such a write at once: a later ROLLBACK does not undo it.",
							 &nosql_raft_allow_in_transaction, false, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("nosql.raft_snapshot_entries",
							"Applied raft entries after which the log is compacted (a member behind the compaction point gets a snapshot).",
							NULL, &nosql_raft_snapshot_entries, 10000, 10, INT_MAX, PGC_SIGHUP,
							0, NULL, NULL, NULL);
}

void
GucInit(void)
{
	GucInitRaft();

	DefineCustomStringVariable("nosql.database",
							   "Database (namespace) that collection names without a database part refer to.",
							   "A collection name 'coll' means 'db.coll' with db taken from this setting.",
							   &nosql_database,
							   "test",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("nosql.plan_hint",
							   "Prefix of the names of the only indexes of a collection the planner may use.",
							   "Set by the commands for the planning of a query with a hint (MongoDB's hint); empty otherwise.",
							   &nosql_plan_hint,
							   "",
							   PGC_USERSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("nosql.cursor_timeout",
							"Time after which an idle document cursor is closed.",
							"A cursor left open by find or aggregate is closed at the next command of its session once it has been idle this long.",
							&nosql_cursor_timeout,
							600000,
							1000,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nosql.ttl_interval",
							"Time between two rounds of TTL expiry in a database.",
							"The database's background worker deletes the documents that TTL indexes have expired once per interval, as MongoDB's TTL monitor does every 60 seconds.",
							&nosql_ttl_interval,
							60000,
							100,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("nosql.background_index_builds",
							 "Build every new index of an existing collection in the background.",
							 "createIndexes then returns at once and a background worker builds the index with CREATE INDEX CONCURRENTLY, as for index specs with background: true; nosql.index_build shows the builds.",
							 &nosql_background_index_builds,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("nosql.timeseries_compress_copy",
							 "COPY into a time-series table compresses the rows of partitions due for compression as it reads them.",
							 "A partition is due when its range ended before now() minus the table's compress_after; its rows then go straight into blocks instead of the heap and its indexes.",
							 &nosql_timeseries_compress_copy,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("nosql.kv_quota",
							"Size of the key-value store beyond which puts fail, as etcd's --quota-backend-bytes.",
							"The size is that of nosql.kv_history with its TOAST table and indexes. Deletes, compaction and reads still work; 0 turns the quota off.",
							&nosql_kv_quota,
							2048,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nosql.worker_naptime",
							"Longest time the nosql background workers sleep between two rounds of work.",
							NULL,
							&nosql_worker_naptime,
							10000,
							100,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * Reserve the "nosql." prefix once every capability has defined its
 * settings, so that misspelled settings are reported.
 */
void
GucReservePrefix(void)
{
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("nosql");
#else
	EmitWarningsOnPlaceholders("nosql");
#endif
}
