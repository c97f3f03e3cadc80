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

#include "utils/guc.h"

#include "documents.h"
#include "nosql.h"

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
void
GucInit(void)
{
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
