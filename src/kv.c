/*-------------------------------------------------------------------------
 *
 * kv.c
 *	  The engine of the etcd v3 key-value store: an MVCC history of every
 *	  key and one global revision, over two tables and SPI.
 *
 * Design note
 * -----------
 * nosql.kv_history holds every version of every key, one row per write,
 * keyed as etcd keys its backend: by revision (mod_revision, sub), sub
 * numbering the keys one request writes at one revision (the keys of a
 * range delete; later the writes of a txn).  A delete is a row too: a
 * tombstone (deleted = true, no value), so a historical read at a revision
 * between a delete and the next put finds the key absent, and the next put
 * starts a new life of the key (create_revision = its revision, version 1).
 *
 * Keys reach 1.5 MiB, far beyond what a btree entry holds (about 2.7 kB),
 * so the key index is on (kv_key_head(key), mod_revision): the head is the
 * key itself up to KV_KEY_HEAD_BYTES and its prefix cut at a character
 * boundary beyond.  Cutting keeps byte order (a < b implies head(a) <=
 * head(b)), so the index, in the "C" collation, serves both "the latest
 * version of key K at revision R" (a backward scan of K's head from R,
 * rechecking the key) and key ranges in byte order, as etcd compares keys;
 * only keys sharing a 1 kB head are sorted among themselves.
 *
 * The store's revision, etcd's header revision, is the highest revision
 * in the history (or the revision compaction kept, if higher; 1 in a new
 * store, as etcd's).  Writers are serialised by a lock, EXCLUSIVE on the
 * table nosql.kv_revision (which holds no rows; the lock is all it is
 * for), taken at a request's first write and held until the transaction
 * ends.  Under it a writer reads the highest revision, with a snapshot
 * taken after the lock was granted, and writes at the next one.  So each
 * writer takes its number only once the one before it has committed (or
 * rolled back, which gives the number back: revisions are gap-free), and
 * revision order is commit order; a sequence gives neither property.  The
 * lock manager hands the lock straight to the next writer, so writers queue
 * without the double wake-ups a row lock costs, and no counter row is
 * updated (a row updated on every write bloats and slows every write).
 * EXCLUSIVE conflicts only with itself and with writes to that empty
 * table: readers are never held up.  In REPEATABLE READ or SERIALIZABLE
 * the transaction's snapshot may predate the last write; the writer then
 * fails with a serialization error rather than work from a stale history.
 * The primary key on (mod_revision, sub) would refuse a duplicate revision
 * in any case.
 *
 * Each call of kv_put or kv_delete is one etcd request and takes its own
 * revision, also when several run in one SQL transaction: each is a
 * separate event to a watcher, as two etcd requests are.  kv_txn is one
 * request, and one revision, however many writes it holds (a KvWriter);
 * a request that writes nothing (a delete of no key) creates no revision,
 * as nothing is written at it.

 * Compaction (kv_compact) deletes the versions superseded at or below a
 * revision and the tombstones there; nosql.kv_compaction remembers the
 * revision so that reads and watches below it fail as etcd's do.  It never
 * deletes the latest version of a live key, so it needs no lock against
 * writers: a put sees the same latest version (or, a tombstone gone, no
 * version, which also starts a new life).
 *
 * Group commit.  Holding the writers' lock through the commit's WAL flush
 * would allow one commit per flush (about 1 ms): writers could never share
 * a flush as etcd's batched writes share one fsync.  So a transaction that
 * writes the store commits asynchronously (synchronous_commit is set off
 * for it, unless a synchronous standby is configured), which inserts its
 * commit record, makes it visible and releases the writers' lock without
 * waiting; then, before the client hears of the commit, a resource-release
 * callback (after the locks are released) flushes the WAL up to the commit
 * record.  Writers waiting for the flush no longer hold the lock, so the
 * next writers proceed and many commits share one flush.  Nothing
 * acknowledged is lost: the client is answered only after the flush, and
 * since the next writer takes the lock only after the commit record of
 * the one before is in the WAL, a durable revision implies that every
 * revision below it is durable too.  Readers must not see a revision that
 * is visible but not yet flushed (a crash would take it back and the
 * revision would appear to go backwards), so every read waits, after
 * reading, until the WAL is flushed up to where it was when the read took
 * its snapshot (KvWaitDurable): a no-op when nothing is pending, a share of
 * the next flush otherwise.  A serializable read skips the wait, as etcd's
 * serializable reads may be stale.
 *
 * The price of the design is that writers of the store are serialised
 * from their first write to their commit record: keep transactions that
 * write keys short.  With many clients, puts that are whole statements are
 * applied many to a transaction by the apply worker (kv_apply.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "executor/tuptable.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/params.h"
#include "replication/syncrep.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "cdc.h"
#include "kv.h"
#include "raft.h"
#include "nosql.h"

/* The prepared statements of the engine, kept for the session */
typedef enum KvPlan
{
	KV_PLAN_CURRENT_REVISION,
	KV_PLAN_PUT,
	KV_PLAN_LATEST,
	KV_PLAN_PUT_VALUES,
	KV_PLAN_PUT_MANY,
	KV_PLAN_DELETE_ONE,
	KV_PLAN_DELETE_FROM,
	KV_PLAN_DELETE_BETWEEN,
	KV_PLAN_DELETE_PREV_ONE,
	KV_PLAN_DELETE_PREV_FROM,
	KV_PLAN_DELETE_PREV_BETWEEN,
	KV_PLAN_LIVE_ONE,
	KV_PLAN_LIVE_FROM,
	KV_PLAN_LIVE_BETWEEN,
	KV_PLAN_LATEST_MANY,
	KV_PLAN_READ_ONE,
	KV_PLAN_READ_FROM,
	KV_PLAN_READ_BETWEEN,
	KV_PLAN_COUNT_ONE,
	KV_PLAN_COUNT_FROM,
	KV_PLAN_COUNT_BETWEEN,
	KV_PLAN_COMPACT_REVISION,
	KV_PLAN_LOCK_COMPACTION,
	KV_PLAN_COMPACT,
	KV_PLAN_SET_COMPACTION,
	KV_PLAN_COUNT
} KvPlan;

#define KV_COLUMNS "h.key, h.value, h.create_revision, h.mod_revision, h.version, h.lease"

#define KV_INSERT \
	"INSERT INTO nosql.kv_history " \
	"(key, mod_revision, sub, create_revision, version, value, lease, deleted) "

/*
 * The latest version of each key of a range: DISTINCT ON (head, key) lets
 * the planner take the index's order by head and sort only among the keys
 * of one head (usually one key) by key and revision.
 */
#define KV_LATEST(cols, cond, upto) \
	"SELECT DISTINCT ON (" KV_HEAD("h.key") ", h.key) " cols \
	" FROM nosql.kv_history h WHERE " cond upto \
	" ORDER BY " KV_HEAD("h.key") ", h.key, h.mod_revision DESC"

/*
 * The live keys of a range as of their latest version get tombstones at
 * revision $3, numbered from sub $4 in key order.
 */
#define KV_LIVE(cond) \
	"SELECT " KV_COLUMNS " FROM (" KV_LATEST("h.*", cond, "") ") h WHERE NOT h.deleted"
#define KV_TOMBSTONES \
	KV_INSERT \
	"SELECT l.key, $3, (row_number() OVER (ORDER BY " KV_HEAD("l.key") ", l.key)) " \
	"OPERATOR(pg_catalog.+) $4 OPERATOR(pg_catalog.-) 1, 0, 0, NULL, 0, true FROM l"
#define KV_DELETE(cond) \
	"WITH l AS (" KV_LIVE(cond) ") " KV_TOMBSTONES
/* ... and the deleted versions come back, in key order */
#define KV_DELETE_PREV(cond) \
	"WITH l AS (" KV_LIVE(cond) "), t AS (" KV_TOMBSTONES ") " \
	"SELECT * FROM l ORDER BY " KV_HEAD("l.key") ", l.key"

/* ... or only read, in key order, as their tombstones will be numbered */
#define KV_LIVE_ORDERED(cond) \
	KV_LIVE(cond) " ORDER BY " KV_HEAD("h.key") ", h.key"

/*
 * the live keys of a range as of revision $3, at most $4 of them; the order
 * is by the head the inner query computed, so it needs no second sort
 */
#define KV_READ(cond) \
	"SELECT " KV_COLUMNS " FROM (" \
	KV_LATEST(KV_HEAD("h.key") " AS head, h.*", cond, \
			  " AND h.mod_revision OPERATOR(pg_catalog.<=) $3") \
	") h WHERE NOT h.deleted ORDER BY h.head, h.key LIMIT $4"

/* how many live keys a range has as of revision $3 */
#define KV_COUNT(cond) \
	"SELECT count(*) FROM (" \
	KV_LATEST("h.deleted", cond, " AND h.mod_revision OPERATOR(pg_catalog.<=) $3") \
	") h WHERE NOT h.deleted"

/*
 * Key conditions (KV_KEY_ONE, KV_KEY_FROM, KV_KEY_BETWEEN in kv.h): on the
 * head for the index, on the key for the answer.  Heads are ordered as
 * their keys are (a longer key's head is a prefix of it cut at a character
 * boundary), so key >= $1 implies head >= head($1) and key < $2 implies
 * head <= head($2).
 */

/* the version of key $1 as of revision $3 (a tombstone included), as h */
#define KV_ONE_AT(cols) \
	"(SELECT " cols " FROM nosql.kv_history h WHERE " KV_KEY_ONE \
	" AND h.mod_revision OPERATOR(pg_catalog.<=) $3" \
	" ORDER BY " KV_HEAD("h.key") " DESC, h.mod_revision DESC LIMIT 1) h"

/* the latest version of key $1, a tombstone included */
#define KV_LATEST_ONE(cols) \
	"SELECT " cols " FROM nosql.kv_history h WHERE " KV_KEY_ONE \
	" ORDER BY " KV_HEAD("h.key") " DESC, h.mod_revision DESC LIMIT 1"

#define KV_MAX_ARGS 7

typedef struct KvPlanSpec
{
	const char *sql;
	int			nargs;
	Oid			argtypes[KV_MAX_ARGS];
} KvPlanSpec;

/* arguments of the range statements: key, range_end, revision, and one more */
#define KV_RANGE_ARGS {TEXTOID, TEXTOID, INT8OID, INT8OID}

static const KvPlanSpec kv_plan_specs[KV_PLAN_COUNT] = {
	/* the highest revision written, or kept by compaction; 1 in a new store */
	[KV_PLAN_CURRENT_REVISION] = {
		"SELECT GREATEST("
		"(SELECT h.mod_revision FROM nosql.kv_history h ORDER BY h.mod_revision DESC LIMIT 1), "
		"(SELECT c.revision FROM nosql.kv_compaction c), 1::bigint)",
		0, {InvalidOid}
	},
	/*
	 * $1 key, $2 revision, $3 value, $4 lease, $5 sub; the version follows
	 * the latest
	 */
	[KV_PLAN_PUT] = {
		KV_INSERT
		"SELECT $1, $2, $5, "
		"CASE WHEN p.deleted IS NOT FALSE THEN $2 ELSE p.create_revision END, "
		"CASE WHEN p.deleted IS NOT FALSE THEN 1 "
		"ELSE p.version OPERATOR(pg_catalog.+) 1 END, $3, $4, false "
		"FROM (SELECT) AS one LEFT JOIN LATERAL ("
		KV_LATEST_ONE("h.create_revision, h.version, h.deleted") ") p ON true",
		5, {TEXTOID, INT8OID, BYTEAOID, INT8OID, INT4OID}
	},
	/* $1 key */
	[KV_PLAN_LATEST] = {
		KV_LATEST_ONE(KV_COLUMNS ", h.deleted"), 1, {TEXTOID}
	},
	/* key, mod_revision, sub, create_revision, version, value, lease */
	[KV_PLAN_PUT_VALUES] = {
		KV_INSERT "VALUES ($1, $2, $3, $4, $5, $6, $7, false)",
		7, {TEXTOID, INT8OID, INT4OID, INT8OID, INT8OID, BYTEAOID, INT8OID}
	},
	/*
	 * $1 keys, $2 revisions, $3 values, $4 leases: one put per element, each
	 * at its revision, versioned on the key's latest version before the
	 * statement (so no key may be twice in one statement)
	 */
	[KV_PLAN_PUT_MANY] = {
		KV_INSERT
		"SELECT r.key, r.rev, 0, "
		"CASE WHEN p.deleted IS NOT FALSE THEN r.rev ELSE p.create_revision END, "
		"CASE WHEN p.deleted IS NOT FALSE THEN 1 "
		"ELSE p.version OPERATOR(pg_catalog.+) 1 END, r.value, r.lease, false "
		"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
		"pg_catalog.unnest($3), pg_catalog.unnest($4)) AS r(key, rev, value, lease) "
		"LEFT JOIN LATERAL (SELECT h.create_revision, h.version, h.deleted "
		"FROM nosql.kv_history h WHERE "
		KV_HEAD("h.key") " OPERATOR(pg_catalog.=) " KV_HEAD("r.key")
		" AND h.key OPERATOR(pg_catalog.=) r.key"
		" ORDER BY " KV_HEAD("h.key") " DESC, h.mod_revision DESC LIMIT 1) p ON true",
		4, {TEXTARRAYOID, INT8ARRAYOID, BYTEAARRAYOID, INT8ARRAYOID}
	},
	/* $1 key, $2 range_end, $3 revision, $4 first sub */
	[KV_PLAN_DELETE_ONE] = {KV_DELETE(KV_KEY_ONE), 4, KV_RANGE_ARGS},
	[KV_PLAN_DELETE_FROM] = {KV_DELETE(KV_KEY_FROM), 4, KV_RANGE_ARGS},
	[KV_PLAN_DELETE_BETWEEN] = {KV_DELETE(KV_KEY_BETWEEN), 4, KV_RANGE_ARGS},
	[KV_PLAN_DELETE_PREV_ONE] = {KV_DELETE_PREV(KV_KEY_ONE), 4, KV_RANGE_ARGS},
	[KV_PLAN_DELETE_PREV_FROM] = {KV_DELETE_PREV(KV_KEY_FROM), 4, KV_RANGE_ARGS},
	[KV_PLAN_DELETE_PREV_BETWEEN] = {KV_DELETE_PREV(KV_KEY_BETWEEN), 4, KV_RANGE_ARGS},
	/* $1 key, $2 range_end: the versions a delete replaces */
	[KV_PLAN_LIVE_ONE] = {KV_LIVE_ORDERED(KV_KEY_ONE), 2, KV_RANGE_ARGS},
	[KV_PLAN_LIVE_FROM] = {KV_LIVE_ORDERED(KV_KEY_FROM), 2, KV_RANGE_ARGS},
	[KV_PLAN_LIVE_BETWEEN] = {KV_LIVE_ORDERED(KV_KEY_BETWEEN), 2, KV_RANGE_ARGS},
	/*
	 * $1 keys: the live latest version of each, after its position in the
	 * array (from 1), in that order; the versions puts of KV_PLAN_PUT_MANY
	 * replace
	 */
	[KV_PLAN_LATEST_MANY] = {
		"SELECT r.i, " KV_COLUMNS " FROM pg_catalog.unnest($1) WITH ORDINALITY AS r(key, i) "
		"JOIN LATERAL (SELECT h.* FROM nosql.kv_history h WHERE "
		KV_HEAD("h.key") " OPERATOR(pg_catalog.=) " KV_HEAD("r.key")
		" AND h.key OPERATOR(pg_catalog.=) r.key"
		" ORDER BY " KV_HEAD("h.key") " DESC, h.mod_revision DESC LIMIT 1) h ON true "
		"WHERE NOT h.deleted ORDER BY r.i",
		1, {TEXTARRAYOID}
	},
	/* $1 key, $2 range_end, $3 revision, $4 limit (NULL: none) */
	[KV_PLAN_READ_ONE] = {
		"SELECT " KV_COLUMNS " FROM " KV_ONE_AT("h.*") " WHERE NOT h.deleted LIMIT $4",
		4, KV_RANGE_ARGS
	},
	[KV_PLAN_READ_FROM] = {KV_READ(KV_KEY_FROM), 4, KV_RANGE_ARGS},
	[KV_PLAN_READ_BETWEEN] = {KV_READ(KV_KEY_BETWEEN), 4, KV_RANGE_ARGS},
	/* $1 key, $2 range_end, $3 revision */
	[KV_PLAN_COUNT_ONE] = {
		"SELECT count(*) FROM " KV_ONE_AT("h.deleted") " WHERE NOT h.deleted",
		3, KV_RANGE_ARGS
	},
	[KV_PLAN_COUNT_FROM] = {KV_COUNT(KV_KEY_FROM), 3, KV_RANGE_ARGS},
	[KV_PLAN_COUNT_BETWEEN] = {KV_COUNT(KV_KEY_BETWEEN), 3, KV_RANGE_ARGS},
	[KV_PLAN_COMPACT_REVISION] = {
		"SELECT revision FROM nosql.kv_compaction", 0, {InvalidOid}
	},
	[KV_PLAN_LOCK_COMPACTION] = {
		"SELECT revision FROM nosql.kv_compaction FOR UPDATE", 0, {InvalidOid}
	},
	/*
	 * $1 revision: the versions superseded at or below it, and the
	 * tombstones there
	 */
	[KV_PLAN_COMPACT] = {
		"DELETE FROM nosql.kv_history h WHERE h.mod_revision OPERATOR(pg_catalog.<=) $1 "
		"AND (h.deleted OR EXISTS (SELECT FROM nosql.kv_history n WHERE "
		KV_HEAD("n.key") " OPERATOR(pg_catalog.=) " KV_HEAD("h.key")
		" AND n.key OPERATOR(pg_catalog.=) h.key"
		" AND n.mod_revision OPERATOR(pg_catalog.>) h.mod_revision"
		" AND n.mod_revision OPERATOR(pg_catalog.<=) $1))",
		1, {INT8OID}
	},
	[KV_PLAN_SET_COMPACTION] = {
		"INSERT INTO nosql.kv_compaction (revision) VALUES ($1) "
		"ON CONFLICT (one) DO UPDATE SET revision = excluded.revision",
		1, {INT8OID}
	},
};

static SPIPlanPtr kv_plans[KV_PLAN_COUNT];

static void KvCheckNotFuture(int64 revision);

/*
 * KvPreparePlan
 *		Prepare a statement of the store and keep it for the session.  The
 *		statements name every object with its schema and every operator
 *		through pg_catalog, so the caller's search_path is harmless.
 */
SPIPlanPtr
KvPreparePlan(const char *sql, int nargs, const Oid *argtypes, int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/* The prepared statement of the engine, prepared on first use in the session */
static SPIPlanPtr
KvGetPlan(KvPlan which)
{
	if (kv_plans[which] == NULL)
	{
		const KvPlanSpec *spec = &kv_plan_specs[which];

		kv_plans[which] = KvPreparePlan(spec->sql, spec->nargs, spec->argtypes, 0);
	}
	return kv_plans[which];
}

/*
 * KvExecute
 *		Run a prepared statement of the engine and check that it did what
 *		such a statement does; returns the rows it processed.
 */
static uint64
KvExecute(KvPlan which, Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(KvGetPlan(which), values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "key-value statement %d failed: %s", (int) which,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/* A column of a row of the last statement, a bigint; NULL is an error */
static int64
KvResultInt64(uint64 row, int column)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  column, &isnull);

	if (isnull)
		elog(ERROR, "key-value statement returned a null number");
	return DatumGetInt64(d);
}

/*
 * KvRowOut
 *		Hand a row of nosql.kv from the last statement to a callback, with
 *		its key and value out of TOAST.
 */
static void
KvRowOut(uint64 row, KvRowCallback callback, void *arg, bool keys_only)
{
	Datum		values[KV_NATTS + 1];
	bool		nulls[KV_NATTS + 1];

	heap_deform_tuple(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, values, nulls);
	if (keys_only)
		nulls[1] = true;
	for (int c = 0; c < 2; c++)
		if (!nulls[c])
			values[c] = PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(values[c])));
	callback(values, nulls, arg);
}

/*
 * KvLogPrevRow
 *		For the change stream's prev_kv (cdc_message.c): log that the row
 *		(revision, sub) about to be written replaces the version of a key
 *		in a row of the last statement, whose columns from first on are
 *		those of nosql.kv (key, value, create_revision, mod_revision,
 *		version, lease).  Call only when CdcKvPrevWanted().
 */
void
KvLogPrevRow(uint64 row, int64 revision, int32 sub, int first)
{
	HeapTuple	tuple = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	Datum		key;
	Datum		value;
	bool		isnull;

	key = SPI_getbinval(tuple, desc, first, &isnull);
	if (isnull)
		elog(ERROR, "key-value statement returned a null key");
	value = SPI_getbinval(tuple, desc, first + 1, &isnull);
	if (isnull)
		elog(ERROR, "key-value statement returned a null value of a live key");
	CdcLogKvPrev(revision, sub,
				 (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(key)),
				 (bytea *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value)),
				 KvResultInt64(row, first + 2), KvResultInt64(row, first + 3),
				 KvResultInt64(row, first + 4), KvResultInt64(row, first + 5));
}


/* ---------------------------------------------------------------------
 * Group commit (see the design note)
 * ---------------------------------------------------------------------
 */

/* This transaction wrote the store; flush its commit record at the end */
static bool kv_flush_at_commit = false;
static bool kv_release_callback_registered = false;

/* This transaction wrote the store; wake the watchers at its commit */
static bool kv_wake_watchers = false;

/*
 * KvReleaseCallback
 *		After the transaction's locks are released (the writers' lock too),
 *		wait until its commit record is flushed: only then is the client
 *		told of the commit.  Then wake the blocked watchers (kv_watch.c):
 *		the commit is visible and durable by now.
 */
static void
KvReleaseCallback(ResourceReleasePhase phase, bool isCommit, bool isTopLevel,
				  void *arg)
{
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel)
		return;
	if (kv_flush_at_commit)
	{
		kv_flush_at_commit = false;
		if (isCommit && !XLogRecPtrIsInvalid(XactLastCommitEnd))
			XLogFlush(XactLastCommitEnd);
	}
	if (kv_wake_watchers)
	{
		kv_wake_watchers = false;
		if (isCommit)
			KvWatchWake();
	}
}

/*
 * KvCommitAsynchronously
 *		Called at every write: make this transaction's commit asynchronous
 *		(its flush is done by KvReleaseCallback), unless the user already
 *		chose an asynchronous commit or a synchronous standby must confirm
 *		it (then the commit waits as usual, holding the writers' lock).
 *		Either way the watchers are woken after the commit.
 */
static void
KvCommitAsynchronously(void)
{
	if (!kv_release_callback_registered)
	{
		RegisterResourceReleaseCallback(KvReleaseCallback, NULL);
		kv_release_callback_registered = true;
	}
	kv_wake_watchers = true;
	if (synchronous_commit == SYNCHRONOUS_COMMIT_OFF)
		return;
	if (synchronous_commit > SYNCHRONOUS_COMMIT_LOCAL_FLUSH &&
		SyncRepStandbyNames != NULL && SyncRepStandbyNames[0] != '\0')
		return;
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	kv_flush_at_commit = true;
}

/*
 * KvWaitDurable
 *		Wait until every commit this backend's last read could see is
 *		flushed: the WAL up to its insert position now, which is past the
 *		commit record of every transaction visible to a snapshot taken
 *		before.  Cheap when nothing is pending.
 */
void
KvWaitDurable(void)
{
	XLogRecPtr	upto;

	if (RecoveryInProgress())
		return;
	upto = GetXLogInsertRecPtr();

	/*
	 * The insert position just after a page header is the end of the
	 * page before: no record ends inside a header.
	 */
	if (upto % XLOG_BLCKSZ <= SizeOfXLogLongPHD)
		upto -= upto % XLOG_BLCKSZ;
	XLogFlush(upto);
}


/* ---------------------------------------------------------------------
 * The revision kept in shared memory
 *
 * A writer needs the store's revision under the writers' lock.  Reading it
 * from the history is a statement (about an eighth of a put's time, all of
 * it under the lock), so the writer that commits leaves its revision in
 * shared memory (kv_watch.c) for the next one, from its commit callback,
 * which runs before the lock is released.  The value is only ever set under
 * the lock to what the history says after that commit: the revision this
 * transaction wrote last, or, before it wrote, what it read.  A transaction
 * that rolls back leaves it as it was (its rows went with it); one whose
 * subtransaction rolled back after it wrote, or that is prepared for
 * two-phase commit, forgets it; so does a TRUNCATE, DELETE or UPDATE of
 * the store's tables (a statement trigger).  Without shared memory, and in
 * REPEATABLE READ or SERIALIZABLE, writers read the history.
 * ---------------------------------------------------------------------
 */

/* The revision of this transaction's last write (0: it wrote nothing) */
static int64 kv_xact_revision = 0;
/* nosql.kv_history, as this transaction found it */
static Oid	kv_xact_history = InvalidOid;
/* A subtransaction rolled back after this transaction wrote */
static bool kv_xact_uncertain = false;
static bool kv_xact_callbacks_registered = false;

static void
KvXactCallback(XactEvent event, void *arg)
{
	if (kv_xact_revision == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			KvSetSharedRevision(kv_xact_history, kv_xact_uncertain ? 0 : kv_xact_revision);
			break;
		case XACT_EVENT_PREPARE:
			/* COMMIT PREPARED may come from anywhere: the next writer reads */
			KvSetSharedRevision(kv_xact_history, 0);
			break;
		default:
			break;
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		kv_xact_revision = 0;
		kv_xact_uncertain = false;
	}
}

static void
KvSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
				  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && kv_xact_revision != 0)
		kv_xact_uncertain = true;
}

/* Note that this transaction wrote at a revision */
static void
KvNoteWrite(int64 revision)
{
	if (revision > kv_xact_revision)
		kv_xact_revision = revision;
}

/* ---------------------------------------------------------------------
 * Revisions
 * ---------------------------------------------------------------------
 */

/*
 * The store's revision as of a snapshot (InvalidSnapshot: the statement's).
 *
 * It is read as the owner of the store's tables, so that row-level security
 * on key prefixes (kv_grant) cannot hide the latest revision from a writer
 * who may not see its key.
 */
static int64
KvRevisionAsOf(Snapshot snapshot)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("nosql", "kv_history", -1), NoLock, false);
	HeapTuple	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	int64		revision;
	int			rc;

	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(classtup))->relowner;
	ReleaseSysCache(classtup);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	if (snapshot == InvalidSnapshot)
		rc = SPI_execute_plan(KvGetPlan(KV_PLAN_CURRENT_REVISION), NULL, NULL, false, 1);
	else
		rc = SPI_execute_snapshot(KvGetPlan(KV_PLAN_CURRENT_REVISION), NULL, NULL,
								  snapshot, InvalidSnapshot, false, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "key-value revision query failed: %s", SPI_result_code_string(rc));
	revision = KvResultInt64(0, 1);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return revision;
}

/*
 * KvWriteBegin
 *		Start a request that writes: take the writers' lock until the
 *		transaction ends and the next revision.  will_write is whether the
 *		request surely writes (a put) or may write nothing (a delete, a
 *		txn); either way the revision is used only if something is written.
 */
void
KvWriteBegin(KvWriter *writer, bool will_write)
{
	Oid			relid;
	Oid			history;
	int64		current;

	(void) will_write;
	KvCommitAsynchronously();

	/*
	 * The right to write is checked before the lock is taken, so that a
	 * role without it cannot hold writers up.
	 */
	relid = RangeVarGetRelid(makeRangeVar("nosql", "kv_history", -1), NoLock, false);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "kv_history");
	history = relid;
	relid = RangeVarGetRelid(makeRangeVar("nosql", "kv_revision", -1), NoLock, false);
	LockRelationOid(relid, ExclusiveLock);

	if (!kv_xact_callbacks_registered)
	{
		RegisterXactCallback(KvXactCallback, NULL);
		RegisterSubXactCallback(KvSubXactCallback, NULL);
		kv_xact_callbacks_registered = true;
	}
	if (kv_xact_revision != 0 && kv_xact_history != history)
		kv_xact_uncertain = true;	/* the store was recreated meanwhile */
	kv_xact_history = history;

	if (kv_xact_revision != 0 && !kv_xact_uncertain)
		current = kv_xact_revision; /* this transaction's own last write */
	else if (kv_xact_revision == 0 && !IsolationUsesXactSnapshot() &&
			 (current = KvSharedRevision(history)) > 0)
		;						/* as the last writer left it */
	else
	{
		current = KvRevisionAsOf(InvalidSnapshot);
		if (IsolationUsesXactSnapshot() && KvRevisionAsOf(GetLatestSnapshot()) != current)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to a concurrent key-value write"),
					 errdetail("Another transaction wrote the key-value store after this transaction's snapshot was taken."),
					 errhint("Retry the transaction.")));
		/* nothing of this transaction's in it: the committed revision */
		if (kv_xact_revision == 0)
			KvSetSharedRevision(history, current);
	}
	writer->revision = current + 1;
	writer->writes = 0;
}

/*
 * KvWriteEnd
 *		End a request.  Nothing is left to do: the revision is the one of
 *		the rows written; the lock stays until the transaction ends.
 */
void
KvWriteEnd(KvWriter *writer)
{
	if (writer->writes > 0)
		KvNoteWrite(writer->revision);
}

/*
 * KvCurrentRevision
 *		The store's revision: that of the last write committed (or made by
 *		this transaction), or the compaction's if higher.
 */
int64
KvCurrentRevision(void)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("nosql", "kv_history", -1), NoLock, false);
	int64		revision;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "kv_history");
	revision = KvRevisionAsOf(InvalidSnapshot);

	KvWaitDurable();
	return revision;
}

/*
 * KvCompactRevision
 *		The revision the store was last compacted at (0: never).
 */
int64
KvCompactRevision(void)
{
	int64		revision = 0;

	SPI_connect();
	if (KvExecute(KV_PLAN_COMPACT_REVISION, NULL, NULL, SPI_OK_SELECT) == 1)
		revision = KvResultInt64(0, 1);
	SPI_finish();
	return revision;
}

/*
 * KvCheckRevision
 *		A revision a read or watch may start at: not in the future, not
 *		compacted away, as etcd's ErrFutureRev and ErrCompacted.
 */
void
KvCheckRevision(int64 revision)
{
	KvCheckNotFuture(revision);
	KvCheckCompacted(revision);
}

/*
 * KvCheckNotFuture
 *		A revision that is not above the store's, as etcd's ErrFutureRev.
 */
static void
KvCheckNotFuture(int64 revision)
{
	int64		current = KvCurrentRevision();

	if (revision > current)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("required revision " INT64_FORMAT " is a future revision", revision),
				 errdetail("The current revision of the key-value store is " INT64_FORMAT ".",
						   current)));
}

/*
 * KvCheckCompacted
 *		A revision whose history is still there: not below the compaction,
 *		as etcd's ErrCompacted (a watch may start in the future).
 */
void
KvCheckCompacted(int64 revision)
{
	int64		compacted = KvCompactRevision();

	if (revision < compacted)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("required revision " INT64_FORMAT " has been compacted", revision),
				 errdetail("The key-value store is compacted at revision " INT64_FORMAT "; the history before it is gone.",
						   compacted)));
}

/*
 * KvCompact
 *		etcd's Compact: remove every version superseded at or below the
 *		revision, and the tombstones there, so that the store as of that
 *		revision and later stays readable; returns the versions removed.
 */
int64
KvCompact(int64 revision)
{
	int64		compacted = 0;
	Datum		value = Int64GetDatum(revision);
	uint64		removed;

	KvCheckNotFuture(revision);

	SPI_connect();
	/* one compaction at a time; the row may not exist yet */
	if (KvExecute(KV_PLAN_LOCK_COMPACTION, NULL, NULL, SPI_OK_SELECT) == 1)
		compacted = KvResultInt64(0, 1);
	if (revision <= compacted)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("required revision " INT64_FORMAT " has been compacted", revision),
				 errdetail("The key-value store is already compacted at revision " INT64_FORMAT ".",
						   compacted)));
	removed = KvExecute(KV_PLAN_COMPACT, &value, NULL, SPI_OK_DELETE);
	KvExecute(KV_PLAN_SET_COMPACTION, &value, NULL, SPI_OK_INSERT);
	SPI_finish();
	return (int64) removed;
}


/* ---------------------------------------------------------------------
 * Checks
 * ---------------------------------------------------------------------
 */

/*
 * KvCheckKey
 *		Reject a key etcd would reject: empty, or larger than a request.
 */
void
KvCheckKey(text *key)
{
	Size		len = VARSIZE_ANY_EXHDR(key);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key is not provided"),
				 errdetail("A key-value key must not be empty, as in etcd.")));
	if (len > KV_MAX_REQUEST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key-value key is too large"),
				 errdetail("The key has %zu bytes; the limit is %d bytes (1.5 MiB), etcd's request size limit.",
						   len, KV_MAX_REQUEST_BYTES)));
}

/*
 * KvCheckValue
 *		Reject a value larger than etcd's request size limit.
 */
void
KvCheckValue(bytea *value)
{
	Size		len = VARSIZE_ANY_EXHDR(value);

	if (len > KV_MAX_REQUEST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key-value value is too large"),
				 errdetail("The value has %zu bytes; the limit is %d bytes (1.5 MiB), etcd's request size limit.",
						   len, KV_MAX_REQUEST_BYTES)));
}

/*
 * KvCheckLease
 *		A lease a put may attach: 0 (none) or a granted lease that has not
 *		expired; any other is etcd's "requested lease not found".
 *
 * KvPutAt checks after its request took the revision counter, so that a
 * concurrent revoke cannot leave the key attached to a lease that is gone
 * (see kv_lease.c).
 */
void
KvCheckLease(int64 lease)
{
	if (lease != 0 && !KvLeaseAlive(lease))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg(KV_MSG_LEASE_NOT_FOUND, lease),
				 errhint(KV_HINT_LEASE_NOT_FOUND)));
}

/*
 * KvStoreSize
 *		Bytes of the store on disk: nosql.kv_history, its TOAST table and
 *		their indexes (the tables a put grows).
 */
static int64
KvStoreSize(void)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("nosql", "kv_history", -1),
										 AccessShareLock, false);
	Relation	rel = table_open(relid, AccessShareLock);
	int64		blocks = RelationGetNumberOfBlocks(rel);
	List	   *indexes = RelationGetIndexList(rel);
	Oid			toastid = rel->rd_rel->reltoastrelid;
	ListCell   *lc;

	if (OidIsValid(toastid))
	{
		Relation	toast = table_open(toastid, AccessShareLock);

		blocks += RelationGetNumberOfBlocks(toast);
		indexes = list_concat(indexes, RelationGetIndexList(toast));
		table_close(toast, AccessShareLock);
	}
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

		blocks += RelationGetNumberOfBlocks(index);
		index_close(index, AccessShareLock);
	}
	table_close(rel, AccessShareLock);
	return blocks * BLCKSZ;
}

/*
 * KvQuotaExceeded
 *		Whether a put of adding bytes would go beyond nosql.kv_quota, as
 *		etcd refuses writes once its backend reaches --quota-backend-bytes;
 *		*size receives the store's size when it does.
 */
bool
KvQuotaExceeded(Size adding, int64 *size)
{
	static int64 measured = -1;		/* the size last measured */
	static int64 added = 0;		/* bytes this backend put since */
	static TimestampTz measured_at = 0;
	int64		quota = (int64) nosql_kv_quota * 1024 * 1024;
	TimestampTz now;

	/*
	 * A raft member checks when a write is proposed, never in apply: sizes
	 * on disk differ between members, and apply must do the same on all.
	 */
	if (nosql_kv_quota <= 0 || RaftApplying)
		return false;

	/*
	 * Measuring opens the tables and asks the kernel for their sizes, and a
	 * put does it while it holds the writers' lock: skip it for a second
	 * while the last measure plus what this backend put since is well below
	 * the quota (other backends' puts of that second may overshoot it, as
	 * etcd's quota is approximate too).
	 */
	added += adding;
	now = GetCurrentTimestamp();
	if (measured >= 0 && measured + added < quota - quota / 10 &&
		!TimestampDifferenceExceeds(measured_at, now, 1000))
		return false;
	measured = KvStoreSize();
	added = 0;
	measured_at = now;
	*size = measured;
	return measured >= quota;
}

/*
 * KvCheckQuota
 *		Refuse a put beyond the quota with etcd's "database space exceeded".
 */
void
KvCheckQuota(Size adding)
{
	int64		size;

	if (KvQuotaExceeded(adding, &size))
		ereport(ERROR,
				(errcode(ERRCODE_DISK_FULL),
				 errmsg(KV_MSG_SPACE_EXCEEDED),
				 errdetail(KV_DETAIL_SPACE_EXCEEDED, size, nosql_kv_quota),
				 errhint(KV_HINT_SPACE_EXCEEDED)));
}

/*
 * KvCheckRangeKey
 *		The key of a range request.  An empty key is refused for one key;
 *		with a range_end it stands for etcd's "\0", the smallest key, since
 *		text cannot hold a NUL byte.
 */
static void
KvCheckRangeKey(const KvRange *range)
{
	if (range->kind == KV_RANGE_ONE || VARSIZE_ANY_EXHDR(range->key) > 0)
		KvCheckKey(range->key);
	if (range->kind == KV_RANGE_BETWEEN && VARSIZE_ANY_EXHDR(range->end) > KV_MAX_REQUEST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key-value range_end is too large"),
				 errdetail("The range_end has %zu bytes; the limit is %d bytes (1.5 MiB), etcd's request size limit.",
						   (Size) VARSIZE_ANY_EXHDR(range->end), KV_MAX_REQUEST_BYTES)));
}

/*
 * KvPrefixRange
 *		The range of the keys with a prefix, as etcd's clientv3 WithPrefix
 *		makes it: range_end is the prefix with its last byte below 0xff
 *		incremented (trailing 0xff bytes dropped); no such byte (an empty
 *		prefix) means every key from the prefix on.
 *
 * The incremented end need not be valid UTF-8; it is only compared, bytewise
 * in the "C" collation, never printed.
 */
void
KvPrefixRange(text *prefix, KvRange *range)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(prefix);
	int			len = VARSIZE_ANY_EXHDR(prefix);

	range->key = prefix;
	range->end = NULL;
	while (len > 0 && p[len - 1] == 0xff)
		len--;
	if (len == 0)
	{
		range->kind = KV_RANGE_FROM;
		return;
	}
	range->kind = KV_RANGE_BETWEEN;
	range->end = (text *) palloc(VARHDRSZ + len);
	SET_VARSIZE(range->end, VARHDRSZ + len);
	memcpy(VARDATA(range->end), p, len);
	((unsigned char *) VARDATA(range->end))[len - 1]++;
}

/* Byte order of two keys, as etcd compares them */
static int
KvCompareBytes(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/*
 * KvKeyInRange
 *		Whether a key is one of the keys of a range.
 */
bool
KvKeyInRange(const char *key, int keylen, const KvRange *range)
{
	int			c = KvCompareBytes(key, keylen, VARDATA_ANY(range->key),
								   VARSIZE_ANY_EXHDR(range->key));

	switch (range->kind)
	{
		case KV_RANGE_ONE:
			return c == 0;
		case KV_RANGE_FROM:
			return c >= 0;
		case KV_RANGE_BETWEEN:
			return c >= 0 && KvCompareBytes(key, keylen, VARDATA_ANY(range->end),
											VARSIZE_ANY_EXHDR(range->end)) < 0;
	}
	return false;
}


/* ---------------------------------------------------------------------
 * Writes
 * ---------------------------------------------------------------------
 */

/*
 * KvPutAt
 *		etcd's Put within a request: a new version of the key at the
 *		request's revision (version 1 and create_revision = that revision
 *		when the key is absent or deleted, the next version otherwise).
 *		With prev_kv, the version it replaces (if any) goes to the callback.
 *		KV_PUT_IGNORE_VALUE / KV_PUT_IGNORE_LEASE keep the key's value or
 *		lease, which needs the key to exist (etcd's "key not found").
 */
void
KvPutAt(KvWriter *writer, text *key, bytea *value, int64 lease, int flags,
		KvRowCallback prev_kv, void *arg)
{
	Datum		values[KV_MAX_ARGS];
	bool		log_prev;

	KvCheckKey(key);
	if (!(flags & KV_PUT_IGNORE_VALUE))
		KvCheckValue(value);
	if (!(flags & KV_PUT_IGNORE_LEASE))
		KvCheckLease(lease);
	KvCheckQuota(VARSIZE_ANY(key) + (value ? VARSIZE_ANY(value) : 0) + 64);
	KvCommitAsynchronously();
	log_prev = CdcKvPrevWanted();

	SPI_connect();
	if (prev_kv == NULL && flags == 0 && !log_prev)
	{
		/* the common case, one statement */
		values[0] = PointerGetDatum(key);
		values[1] = Int64GetDatum(writer->revision);
		values[2] = PointerGetDatum(value);
		values[3] = Int64GetDatum(lease);
		values[4] = Int32GetDatum(writer->writes);
		if (KvExecute(KV_PLAN_PUT, values, NULL, SPI_OK_INSERT) != 1)
			elog(ERROR, "key-value put of revision " INT64_FORMAT " wrote no row",
				 writer->revision);
	}
	else
	{
		bool		exists = false;
		int64		create_revision = writer->revision;
		int64		version = 1;
		Datum		prev_value = (Datum) 0;
		int64		prev_lease = 0;
		bool		isnull;

		values[0] = PointerGetDatum(key);
		if (KvExecute(KV_PLAN_LATEST, values, NULL, SPI_OK_SELECT) == 1)
		{
			HeapTuple	tuple = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			exists = !DatumGetBool(SPI_getbinval(tuple, desc, KV_NATTS + 1, &isnull));
			if (exists)
			{
				create_revision = KvResultInt64(0, 3);
				version = KvResultInt64(0, 5) + 1;
				prev_value = PointerGetDatum(pg_detoast_datum_packed((struct varlena *)
																	 DatumGetPointer(SPI_getbinval(tuple, desc, 2, &isnull))));
				prev_lease = KvResultInt64(0, 6);
				if (log_prev)
					KvLogPrevRow(0, writer->revision, writer->writes, 1);
				if (prev_kv != NULL)
					KvRowOut(0, prev_kv, arg, false);
			}
		}
		if (!exists && (flags & (KV_PUT_IGNORE_VALUE | KV_PUT_IGNORE_LEASE)))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("key not found"),
					 errdetail("A put with ignore_value or ignore_lease needs the key to exist, as in etcd.")));
		values[0] = PointerGetDatum(key);
		values[1] = Int64GetDatum(writer->revision);
		values[2] = Int32GetDatum(writer->writes);
		values[3] = Int64GetDatum(create_revision);
		values[4] = Int64GetDatum(version);
		values[5] = (flags & KV_PUT_IGNORE_VALUE) ? prev_value : PointerGetDatum(value);
		values[6] = Int64GetDatum((flags & KV_PUT_IGNORE_LEASE) ? prev_lease : lease);
		KvExecute(KV_PLAN_PUT_VALUES, values, NULL, SPI_OK_INSERT);
	}
	SPI_finish();
	writer->writes++;
	KvNoteWrite(writer->revision);
}

/*
 * KvDeleteAt
 *		etcd's DeleteRange within a request: a tombstone at the request's
 *		revision for every live key of the range; returns how many.  With
 *		prev_kv, the deleted versions go to the callback in key order.
 */
int64
KvDeleteAt(KvWriter *writer, const KvRange *range, KvRowCallback prev_kv, void *arg)
{
	static const KvPlan plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_DELETE_ONE,
		[KV_RANGE_FROM] = KV_PLAN_DELETE_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_DELETE_BETWEEN,
	};
	static const KvPlan prev_plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_DELETE_PREV_ONE,
		[KV_RANGE_FROM] = KV_PLAN_DELETE_PREV_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_DELETE_PREV_BETWEEN,
	};
	static const KvPlan live_plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_LIVE_ONE,
		[KV_RANGE_FROM] = KV_PLAN_LIVE_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_LIVE_BETWEEN,
	};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	uint64		deleted;

	KvCheckRangeKey(range);
	KvCommitAsynchronously();

	SPI_connect();
	values[0] = PointerGetDatum(range->key);
	values[1] = range->end ? PointerGetDatum(range->end) : (Datum) 0;
	if (range->end == NULL)
		nulls[1] = 'n';
	values[2] = Int64GetDatum(writer->revision);
	values[3] = Int64GetDatum(writer->writes);
	if (CdcKvPrevWanted())
	{
		uint64		live;

		/*
		 * The versions deleted are read first, for the change stream's
		 * messages, which must come before the tombstones; the writers'
		 * lock keeps them the live ones until the tombstones are written.
		 */
		live = KvExecute(live_plans[range->kind], values, nulls, SPI_OK_SELECT);
		for (uint64 i = 0; i < live; i++)
			KvLogPrevRow(i, writer->revision, writer->writes + (int32) i, 1);
		if (prev_kv != NULL)
			for (uint64 i = 0; i < live; i++)
				KvRowOut(i, prev_kv, arg, false);
		deleted = KvExecute(plans[range->kind], values, nulls, SPI_OK_INSERT);
		if (deleted != live)
			elog(ERROR, "key-value delete of revision " INT64_FORMAT " wrote %llu tombstones for %llu live keys",
				 writer->revision, (unsigned long long) deleted, (unsigned long long) live);
	}
	else if (prev_kv == NULL)
		deleted = KvExecute(plans[range->kind], values, nulls, SPI_OK_INSERT);
	else
	{
		deleted = KvExecute(prev_plans[range->kind], values, nulls, SPI_OK_SELECT);
		for (uint64 i = 0; i < deleted; i++)
			KvRowOut(i, prev_kv, arg, false);
	}
	SPI_finish();
	writer->writes += (int32) deleted;
	if (deleted > 0)
		KvNoteWrite(writer->revision);
	return (int64) deleted;
}

/*
 * KvPut
 *		etcd's Put as a request of its own; returns its revision.
 */
int64
KvPut(text *key, bytea *value, int64 lease)
{
	KvWriter	writer;

	/*
	 * Refuse a bad key or value before taking the writers' lock; the lease
	 * is checked under it (KvPutAt), where a revoke cannot slip in between.
	 */
	KvCheckKey(key);
	KvCheckValue(value);
	KvWriteBegin(&writer, true);
	KvPutAt(&writer, key, value, lease, 0, NULL, NULL);
	KvWriteEnd(&writer);
	return writer.revision;
}

/*
 * KvPutMany
 *		n puts, each an etcd request of its own, at consecutive revisions in
 *		order (revisions[i] receives put i's): what n KvPut calls do, with a
 *		statement per run of distinct keys rather than per put.  The caller
 *		has checked the keys, values and quota, and that the leases are
 *		alive under the writers' lock (kv_apply.c).
 */
void
KvPutMany(int n, text **keys, bytea **values, const int64 *leases, int64 *revisions)
{
	KvWriter	writer;
	bool		log_prev;
	int			slots = 4;
	int		   *seen;			/* open addressing: index + 1 of a key of the run */
	uint32	   *hashes = palloc(sizeof(uint32) * n);
	Datum	   *keyd = palloc(sizeof(Datum) * n);
	Datum	   *revd = palloc(sizeof(Datum) * n);
	Datum	   *valued = palloc(sizeof(Datum) * n);
	Datum	   *leased = palloc(sizeof(Datum) * n);
	int			start = 0;

	Assert(n > 0);
	while (slots < 2 * n)
		slots *= 2;
	seen = palloc(sizeof(int) * slots);
	for (int i = 0; i < n; i++)
		hashes[i] = DatumGetUInt32(hash_any((const unsigned char *) VARDATA_ANY(keys[i]),
											VARSIZE_ANY_EXHDR(keys[i])));

	KvWriteBegin(&writer, true);
	log_prev = CdcKvPrevWanted();
	SPI_connect();
	while (start < n)
	{
		int			end;
		int			count;
		Datum		args[4];

		/* the run ends before a key it already holds */
		memset(seen, 0, sizeof(int) * slots);
		for (end = start; end < n; end++)
		{
			uint32		at = hashes[end] & (slots - 1);
			bool		repeated = false;

			for (; seen[at] != 0; at = (at + 1) & (slots - 1))
			{
				int			i = seen[at] - 1;

				if (hashes[i] == hashes[end] &&
					VARSIZE_ANY_EXHDR(keys[i]) == VARSIZE_ANY_EXHDR(keys[end]) &&
					memcmp(VARDATA_ANY(keys[i]), VARDATA_ANY(keys[end]),
						   VARSIZE_ANY_EXHDR(keys[end])) == 0)
				{
					repeated = true;
					break;
				}
			}
			if (repeated)
				break;
			seen[at] = end + 1;
		}
		count = end - start;
		for (int i = 0; i < count; i++)
		{
			revisions[start + i] = writer.revision + start + i;
			keyd[i] = PointerGetDatum(keys[start + i]);
			revd[i] = Int64GetDatum(revisions[start + i]);
			valued[i] = PointerGetDatum(values[start + i]);
			leased[i] = Int64GetDatum(leases[start + i]);
		}
		args[0] = PointerGetDatum(construct_array(keyd, count, TEXTOID, -1, false, TYPALIGN_INT));
		args[1] = PointerGetDatum(construct_array(revd, count, INT8OID, 8, FLOAT8PASSBYVAL,
												  TYPALIGN_DOUBLE));
		args[2] = PointerGetDatum(construct_array(valued, count, BYTEAOID, -1, false,
												  TYPALIGN_INT));
		args[3] = PointerGetDatum(construct_array(leased, count, INT8OID, 8, FLOAT8PASSBYVAL,
												  TYPALIGN_DOUBLE));
		if (log_prev)
		{
			/* the versions the run replaces, for the change stream */
			uint64		live = KvExecute(KV_PLAN_LATEST_MANY, args, NULL, SPI_OK_SELECT);

			for (uint64 i = 0; i < live; i++)
				KvLogPrevRow(i, revisions[start + KvResultInt64(i, 1) - 1], 0, 2);
		}
		if (KvExecute(KV_PLAN_PUT_MANY, args, NULL, SPI_OK_INSERT) != (uint64) count)
			elog(ERROR, "key-value puts from revision " INT64_FORMAT " wrote fewer rows than %d",
				 revisions[start], count);
		for (int i = 0; i < 4; i++)
			pfree(DatumGetPointer(args[i]));
		start = end;
	}
	SPI_finish();
	writer.revision += n - 1;
	writer.writes = 1;
	KvWriteEnd(&writer);
}

/*
 * KvDeleteRange
 *		etcd's DeleteRange as a request of its own: returns how many keys
 *		were deleted, all at one new revision, returned in *revision.
 *		Deleting nothing creates no revision (*revision is then the current
 *		one).
 */
int64
KvDeleteRange(const KvRange *range, int64 *revision)
{
	KvWriter	writer;
	int64		deleted;

	KvCheckRangeKey(range);
	KvWriteBegin(&writer, false);
	deleted = KvDeleteAt(&writer, range, NULL, NULL);
	KvWriteEnd(&writer);
	*revision = deleted > 0 ? writer.revision : writer.revision - 1;
	return deleted;
}


/* ---------------------------------------------------------------------
 * Reads
 * ---------------------------------------------------------------------
 */

void
KvReadOptionsInit(KvReadOptions *options)
{
	memset(options, 0, sizeof(KvReadOptions));
	options->sort_order = KV_SORT_NONE;
	options->sort_target = KV_TARGET_KEY;
}

/* A row of a read kept for filtering and sorting */
typedef struct KvSortRow
{
	uint64		row;			/* in SPI_tuptable */
	text	   *key;
	bytea	   *value;
	int64		create_revision;
	int64		mod_revision;
	int64		version;
} KvSortRow;

static KvTarget kv_sort_target;

static int
KvSortCompare(const void *a, const void *b)
{
	const KvSortRow *x = (const KvSortRow *) a;
	const KvSortRow *y = (const KvSortRow *) b;
	int			c = 0;

	switch (kv_sort_target)
	{
		case KV_TARGET_VERSION:
			c = (x->version > y->version) - (x->version < y->version);
			break;
		case KV_TARGET_CREATE:
			c = (x->create_revision > y->create_revision) - (x->create_revision < y->create_revision);
			break;
		case KV_TARGET_MOD:
			c = (x->mod_revision > y->mod_revision) - (x->mod_revision < y->mod_revision);
			break;
		case KV_TARGET_VALUE:
			c = KvCompareBytes(VARDATA_ANY(x->value), VARSIZE_ANY_EXHDR(x->value),
							   VARDATA_ANY(y->value), VARSIZE_ANY_EXHDR(y->value));
			break;
		case KV_TARGET_KEY:
		case KV_TARGET_LEASE:
			break;
	}
	if (c != 0)
		return c;
	/* then by key, which is also the order of the rows as read */
	return KvCompareBytes(VARDATA_ANY(x->key), VARSIZE_ANY_EXHDR(x->key),
						  VARDATA_ANY(y->key), VARSIZE_ANY_EXHDR(y->key));
}

/* Whether a row passes the min/max revision filters of a read */
static bool
KvPassesFilters(const KvSortRow *r, const KvReadOptions *o)
{
	if (o->min_mod_revision > 0 && r->mod_revision < o->min_mod_revision)
		return false;
	if (o->max_mod_revision > 0 && r->mod_revision > o->max_mod_revision)
		return false;
	if (o->min_create_revision > 0 && r->create_revision < o->min_create_revision)
		return false;
	if (o->max_create_revision > 0 && r->create_revision > o->max_create_revision)
		return false;
	return true;
}

/* ---------------------------------------------------------------------
 * The range scan
 *
 * A range read without filters or sort is a walk of the key index in its
 * order, (head, mod_revision): the versions of a head come together, oldest
 * first, so the last version visible to the snapshot at or below the
 * revision is the key's state, and the keys come out in byte order without
 * the sort and the DISTINCT the statement needs.  Heads are keys up to
 * KV_KEY_HEAD_BYTES; a head may be shared by several longer keys (and a
 * key equal to it), which the group sorts among themselves.  The heap
 * tuples come through the index AM with the snapshot's visibility, as any
 * index scan's.
 * ---------------------------------------------------------------------
 */

/* The latest visible version of one key of a head group */
typedef struct KvScanKey
{
	HeapTuple	tuple;
	text	   *key;			/* points into tuple (detoasted if need be) */
} KvScanKey;

static int
KvScanKeyCompare(const void *a, const void *b)
{
	const KvScanKey *x = (const KvScanKey *) a;
	const KvScanKey *y = (const KvScanKey *) b;

	return KvCompareBytes(VARDATA_ANY(x->key), VARSIZE_ANY_EXHDR(x->key),
						  VARDATA_ANY(y->key), VARSIZE_ANY_EXHDR(y->key));
}

/* The head of a key as kv_key_head makes it: its length in bytes */
static int
KvHeadLength(const char *key, int len)
{
	if (len <= KV_KEY_HEAD_BYTES)
		return len;
	return pg_mbcliplen(key, len, KV_KEY_HEAD_BYTES);
}

/* A head as a text datum, for a scan key */
static Datum
KvHeadDatum(text *key)
{
	int			len = VARSIZE_ANY_EXHDR(key);

	return PointerGetDatum(cstring_to_text_with_len(VARDATA_ANY(key),
													KvHeadLength(VARDATA_ANY(key), len)));
}

/* A varlena datum with an out-of-line value fetched */
static Datum
KvInline(Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	return VARATT_IS_EXTERNAL(v) ? PointerGetDatum(detoast_external_attr(v)) : d;
}

/*
 * Emit the keys of a head group that are in the range and live, in byte
 * order; returns how many went out.  Columns of nosql.kv_history: key,
 * mod_revision, sub, create_revision, version, value, lease, deleted.
 */
static int64
KvScanEmit(KvScanKey *keys, int n, const KvRange *range, TupleDesc hdesc,
		   Tuplestorestate *store, TupleDesc desc, int64 room)
{
	int64		emitted = 0;

	if (n > 1)
		qsort(keys, n, sizeof(KvScanKey), KvScanKeyCompare);
	for (int i = 0; i < n && emitted < room; i++)
	{
		Datum		h[8];
		bool		hn[8];
		Datum		values[KV_NATTS];
		bool		nulls[KV_NATTS];

		if (!KvKeyInRange(VARDATA_ANY(keys[i].key), VARSIZE_ANY_EXHDR(keys[i].key), range))
			continue;
		heap_deform_tuple(keys[i].tuple, hdesc, h, hn);
		if (DatumGetBool(h[7]))
			continue;			/* a tombstone: the key is deleted */
		/*
		 * No out-of-line value goes into the set (it outlives this scan's
		 * snapshot), as with the statement's tuplestore receiver; the key
		 * was fetched already.
		 */
		values[0] = PointerGetDatum(keys[i].key);
		values[1] = hn[5] ? (Datum) 0 : KvInline(h[5]);	/* value */
		values[2] = h[3];		/* create_revision */
		values[3] = h[1];		/* mod_revision */
		values[4] = h[4];		/* version */
		values[5] = h[6];		/* lease */
		for (int c = 0; c < KV_NATTS; c++)
			nulls[c] = false;
		nulls[1] = hn[5];
		tuplestore_putvalues(store, desc, values, nulls);
		emitted++;
	}
	return emitted;
}

/*
 * KvScanRange
 *		The live keys of a range as of a revision (PG_INT64_MAX: the latest)
 *		into a tuplestore of nosql.kv, in byte order, at most limit (<= 0:
 *		all), read with snapshot.  Returns false, having read nothing, when
 *		the statement must read instead: row-level security on the store,
 *		or no SELECT right (whose error the statement gives).
 */
static bool
KvScanRange(const KvRange *range, int64 revision, int64 limit, Snapshot snapshot,
			Tuplestorestate *store, TupleDesc desc)
{
	Oid			nsp = get_namespace_oid("nosql", false);
	Oid			relid = get_relname_relid("kv_history", nsp);
	Oid			indexid = get_relname_relid("kv_history_key", nsp);
	Relation	rel;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData keys[3];
	int			nkeys = 0;
	MemoryContext group_cxt;
	MemoryContext old;
	KvScanKey  *group;
	int			ngroup = 0;
	int			maxgroup = 8;
	char	   *head = NULL;	/* the current group's head */
	int			headlen = 0;
	int64		room = limit > 0 ? limit : PG_INT64_MAX;

	if (!OidIsValid(relid) || !OidIsValid(indexid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return false;

	rel = table_open(relid, AccessShareLock);
	index = index_open(indexid, AccessShareLock);
	/* head >= head(key) [and <= head(end)], or = head(key); mod_revision <= revision */
	ScanKeyEntryInitialize(&keys[nkeys++], 0, 1,
						   range->kind == KV_RANGE_ONE ? BTEqualStrategyNumber : BTGreaterEqualStrategyNumber,
						   InvalidOid, C_COLLATION_OID,
						   range->kind == KV_RANGE_ONE ? F_TEXTEQ : F_TEXT_GE,
						   KvHeadDatum(range->key));
	if (range->kind == KV_RANGE_BETWEEN)
		ScanKeyEntryInitialize(&keys[nkeys++], 0, 1, BTLessEqualStrategyNumber,
							   InvalidOid, C_COLLATION_OID, F_TEXT_LE,
							   KvHeadDatum(range->end));
	ScanKeyEntryInitialize(&keys[nkeys++], 0, 2, BTLessEqualStrategyNumber,
						   InvalidOid, InvalidOid, F_INT8LE, Int64GetDatum(revision));

	group_cxt = AllocSetContextCreate(CurrentMemoryContext, "key-value range scan",
									  ALLOCSET_DEFAULT_SIZES);
	group = palloc(sizeof(KvScanKey) * maxgroup);
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, index, snapshot, nkeys, 0);
	index_rescan(scan, keys, nkeys, NULL, 0);
	while (room > 0 && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		text	   *key;
		int			keylen;
		int			hlen;
		int			i;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(group_cxt);
		key = DatumGetTextPP(slot_getattr(slot, 1, &isnull));
		keylen = VARSIZE_ANY_EXHDR(key);
		hlen = KvHeadLength(VARDATA_ANY(key), keylen);
		if (head == NULL || hlen != headlen || memcmp(head, VARDATA_ANY(key), hlen) != 0)
		{
			/* a new head: the last one's keys are complete */
			MemoryContextSwitchTo(old);
			room -= KvScanEmit(group, ngroup, range, RelationGetDescr(rel), store, desc, room);
			ngroup = 0;
			MemoryContextReset(group_cxt);
			if (room <= 0)
				break;
			old = MemoryContextSwitchTo(group_cxt);
			/* the key again, from the slot, now in the fresh context */
			key = DatumGetTextPP(slot_getattr(slot, 1, &isnull));
			keylen = VARSIZE_ANY_EXHDR(key);
			head = palloc(hlen);
			memcpy(head, VARDATA_ANY(key), hlen);
			headlen = hlen;
		}
		/* a later version replaces the earlier one of the same key */
		for (i = 0; i < ngroup; i++)
			if (KvCompareBytes(VARDATA_ANY(group[i].key), VARSIZE_ANY_EXHDR(group[i].key),
							   VARDATA_ANY(key), keylen) == 0)
				break;
		if (i == ngroup)
		{
			if (ngroup == maxgroup)
			{
				maxgroup *= 2;
				group = repalloc(group, sizeof(KvScanKey) * maxgroup);
			}
			ngroup++;
		}
		group[i].tuple = ExecCopySlotHeapTuple(slot);
		group[i].key = key;		/* already detoasted, in the group's memory */
		MemoryContextSwitchTo(old);
	}
	if (room > 0)
		(void) KvScanEmit(group, ngroup, range, RelationGetDescr(rel), store, desc, room);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(group_cxt);
	pfree(group);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return true;
}

/*
 * KvReadInto
 *		KvRead for a caller that wants the rows in a tuplestore of
 *		nosql.kv (a set-returning function): the statement's rows go
 *		straight into it, with no copy in between.  Only for reads without
 *		filters, sort, keys_only or count_only; returns false (and reads
 *		nothing) for those, which take KvRead.
 */
bool
KvReadInto(const KvRange *range, const KvReadOptions *o, Tuplestorestate *store,
		   TupleDesc desc, MemoryContext context)
{
	static const KvPlan plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_READ_ONE,
		[KV_RANGE_FROM] = KV_PLAN_READ_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_READ_BETWEEN,
	};
	KvPlan		plan = plans[range->kind];
	ParamListInfo params;
	DestReceiver *dest;
	SPIExecuteOptions options;
	int			rc;
	Snapshot	snapshot;
	bool		scanned;

	if (o->min_mod_revision > 0 || o->max_mod_revision > 0 ||
		o->min_create_revision > 0 || o->max_create_revision > 0 ||
		o->keys_only || o->count_only ||
		(o->sort_order != KV_SORT_NONE &&
		 !(o->sort_order == KV_SORT_ASCEND && o->sort_target == KV_TARGET_KEY)) ||
		(o->sort_order == KV_SORT_NONE && o->sort_target != KV_TARGET_KEY))
		return false;

	KvCheckRangeKey(range);
	if (o->revision > 0)
		KvCheckRevision(o->revision);

	/* the snapshot the statement would have (SPI's, for a read-write call) */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scanned = KvScanRange(range, o->revision > 0 ? o->revision : PG_INT64_MAX, o->limit,
						  snapshot, store, desc);
	UnregisterSnapshot(snapshot);
	if (scanned)
	{
		if (!o->serializable)
			KvWaitDurable();
		return true;
	}

	SPI_connect();
	params = makeParamList(4);
	params->numParams = 4;
	for (int i = 0; i < 4; i++)
	{
		params->params[i].ptype = kv_plan_specs[plan].argtypes[i];
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].isnull = false;
	}
	params->params[0].value = PointerGetDatum(range->key);
	params->params[1].value = PointerGetDatum(range->end);
	params->params[1].isnull = (range->end == NULL);
	params->params[2].value = Int64GetDatum(o->revision > 0 ? o->revision : PG_INT64_MAX);
	params->params[3].value = Int64GetDatum(o->limit);
	params->params[3].isnull = (o->limit <= 0);

	dest = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(dest, store, context, true, desc,
									"key-value rows do not match nosql.kv");
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.dest = dest;
	rc = SPI_execute_plan_extended(KvGetPlan(plan), &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "key-value read failed: %s", SPI_result_code_string(rc));
	dest->rDestroy(dest);
	SPI_finish();
	if (!o->serializable)
		KvWaitDurable();
	return true;
}

/*
 * KvRead
 *		etcd's Range: the live keys of a range as of a revision (<= 0: the
 *		current one; a future or compacted one is an error), each passed to
 *		callback, with etcd's options: keys only, count only, sort order and
 *		target (by key ascending when none), min/max mod and create
 *		revision filters, and a limit applied last.  result (may be NULL)
 *		receives the count of keys in the range, as etcd counts them
 *		(before filters and limit), and whether the limit left rows out.
 *
 * The rows passed live in SPI's memory: the callback copies what it keeps.
 */
void
KvRead(const KvRange *range, const KvReadOptions *options,
	   KvRowCallback callback, void *arg, KvReadResult *result)
{
	static const KvPlan plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_READ_ONE,
		[KV_RANGE_FROM] = KV_PLAN_READ_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_READ_BETWEEN,
	};
	static const KvPlan count_plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_COUNT_ONE,
		[KV_RANGE_FROM] = KV_PLAN_COUNT_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_COUNT_BETWEEN,
	};
	const KvReadOptions *o = options;
	KvSortOrder order = o->sort_order;
	bool		filtered = o->min_mod_revision > 0 || o->max_mod_revision > 0 ||
		o->min_create_revision > 0 || o->max_create_revision > 0;
	bool		sorted;
	int64		sql_limit;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	uint64		n;
	KvSortRow  *rows;
	int64		kept = 0;

	KvCheckRangeKey(range);
	if (o->revision > 0)
		KvCheckRevision(o->revision);

	/* etcd sorts ascending by default when the target is not the key */
	if (order == KV_SORT_NONE && o->sort_target != KV_TARGET_KEY)
		order = KV_SORT_ASCEND;
	/* rows come in key order: sorting by key ascending is no sort */
	sorted = order != KV_SORT_NONE &&
		!(order == KV_SORT_ASCEND && o->sort_target == KV_TARGET_KEY);

	/*
	 * Without filters or sort the statement applies the limit (one more row
	 * tells whether there are more); otherwise every row is read and the
	 * limit applies after them.
	 */
	sql_limit = 0;
	if (o->limit > 0 && !filtered && !sorted && !o->count_only)
		sql_limit = o->limit + 1;

	SPI_connect();
	values[0] = PointerGetDatum(range->key);
	values[1] = range->end ? PointerGetDatum(range->end) : (Datum) 0;
	if (range->end == NULL)
		nulls[1] = 'n';
	values[2] = Int64GetDatum(o->revision > 0 ? o->revision : PG_INT64_MAX);
	values[3] = Int64GetDatum(sql_limit);
	if (sql_limit <= 0)
		nulls[3] = 'n';

	if (o->count_only)
	{
		KvExecute(count_plans[range->kind], values, nulls, SPI_OK_SELECT);
		if (result)
		{
			result->count = KvResultInt64(0, 1);
			result->more = false;
		}
		SPI_finish();
		if (!o->serializable)
			KvWaitDurable();
		return;
	}

	n = KvExecute(plans[range->kind], values, nulls, SPI_OK_SELECT);
	rows = (KvSortRow *) palloc(sizeof(KvSortRow) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		KvSortRow  *r = &rows[kept];

		r->row = i;
		r->key = NULL;
		r->value = NULL;
		if (filtered || sorted)
		{
			r->mod_revision = KvResultInt64(i, 4);
			r->create_revision = KvResultInt64(i, 3);
			r->version = KvResultInt64(i, 5);
			if (filtered && !KvPassesFilters(r, o))
				continue;
		}
		if (sorted)
		{
			bool		isnull;

			r->key = (text *) pg_detoast_datum_packed((struct varlena *)
													  DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
			r->value = (bytea *) pg_detoast_datum_packed((struct varlena *)
														 DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
		}
		kept++;
	}
	if (sorted)
	{
		kv_sort_target = o->sort_target;
		qsort(rows, kept, sizeof(KvSortRow), KvSortCompare);
		if (order == KV_SORT_DESCEND)
		{
			for (int64 i = 0, j = kept - 1; i < j; i++, j--)
			{
				KvSortRow	t = rows[i];

				rows[i] = rows[j];
				rows[j] = t;
			}
		}
	}
	if (result)
	{
		result->more = o->limit > 0 && kept > o->limit;
		if (sql_limit <= 0 && !filtered)
			result->count = (int64) n;
		else if (sql_limit > 0 && (int64) n < sql_limit)
			result->count = (int64) n;
		else
		{
			/* another statement: keep the rows of this one */
			SPITupleTable *tuples = SPI_tuptable;

			KvExecute(count_plans[range->kind], values, nulls, SPI_OK_SELECT);
			result->count = KvResultInt64(0, 1);
			SPI_tuptable = tuples;
		}
	}
	if (o->limit > 0 && kept > o->limit)
		kept = o->limit;
	for (int64 i = 0; i < kept; i++)
		KvRowOut(rows[i].row, callback, arg, o->keys_only);
	SPI_finish();
	if (!o->serializable)
		KvWaitDurable();
}
