/*-------------------------------------------------------------------------
 *
 * kv_watch.c
 *	  etcd's Watch for the key-value store: nosql.kv_watch, the events of a
 *	  key range from a revision on, waiting for them when asked.
 *
 * Design note
 * -----------
 * The store's history is its event log: every row of nosql.kv_history is
 * one event (a put, or a delete's tombstone) at (mod_revision, sub), its
 * primary key.  Revisions are gap-free and in commit order (kv.c), so a
 * snapshot that sees revision R sees every revision below it: "the rows of
 * the range with mod_revision >= start, in primary key order" is exactly
 * the events a watcher has not seen, without gaps or reordering, and a
 * watcher that continues from the last revision it saw + 1 sees each event
 * once.  A rolled back write leaves no row, so it never reaches a watcher.
 * The read takes the primary key's order; the range's keys are a filter on
 * it (or, for a narrow range from an old revision, the planner may take
 * the key index and sort), planned for the call's own values each time.
 * Like every read of the store, it waits for the WAL flush of what it saw
 * (KvWaitDurable), so a watcher never sees an event a crash could undo.
 *
 * Blocking (max_wait_ms > 0) waits on one condition variable in shared
 * memory for the whole server: every transaction that wrote the store
 * broadcasts it after its commit is visible and flushed (kv.c's resource
 * release callback).  Wake-ups are global, not per key: a woken watcher
 * re-reads its own range and sleeps again when nothing of it came.  The
 * watcher registers on the variable before its first read, so a commit
 * between a read and the sleep still wakes it (no lost wake-up).  Each
 * read takes a new snapshot, which needs READ COMMITTED; in REPEATABLE
 * READ or SERIALIZABLE a blocking watch could never see a new event and
 * is refused.  Without shared_preload_libraries there is no shared memory,
 * and on a standby the events come from WAL replay, which signals nothing:
 * the watcher then re-reads every KV_WATCH_POLL_MS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "kv.h"

/* Without shared memory, a blocking watch re-reads this often */
#define KV_WATCH_POLL_MS 50

/* Rows fetched from the history at a time */
#define KV_WATCH_BATCH 1000

/* The columns of nosql.kv_event, in order */
#define KV_EVENT_NATTS 9

/* What every backend shares: the variable writers broadcast */
/*
 * The revision of a database's store as its writers last left it, so that a
 * writer need not read it from the history under the writers' lock (kv.c,
 * KvWriteBegin).  A slot per database (and history table, whose OID changes
 * when the extension is created again); spinlock-protected.
 */
#define KV_REVISION_SLOTS 64

typedef struct KvRevisionSlot
{
	Oid			dboid;			/* InvalidOid: free */
	Oid			relid;			/* nosql.kv_history */
	int64		revision;		/* 0: not known */
} KvRevisionSlot;

typedef struct KvWatchShared
{
	ConditionVariable written;	/* a transaction that wrote the store committed */
	slock_t		mutex;			/* protects revisions */
	KvRevisionSlot revisions[KV_REVISION_SLOTS];
} KvWatchShared;

static KvWatchShared *kv_watch_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * The read of a watch: the events of a range from revision $3 on, puts
 * when $4, deletes when $5, in revision order.  The key conditions are on
 * the key, and on its head as well so that the key index may serve a
 * narrow range (see kv.c for heads).
 */
#define KV_WATCH_SELECT(prev_col, prev_join, cond) \
	"SELECT h.mod_revision, h.deleted, h.key, h.value, h.create_revision, " \
	"h.version, h.lease" prev_col " FROM nosql.kv_history h" prev_join \
	" WHERE h.mod_revision OPERATOR(pg_catalog.>=) $3 AND " cond \
	" AND CASE WHEN h.deleted THEN $5 ELSE $4 END" \
	" ORDER BY h.mod_revision, h.sub"

/* the value of the key's version before the event (NULL: none, a tombstone) */
#define KV_WATCH_PREV_COL ", p.value"
#define KV_WATCH_PREV_JOIN \
	" LEFT JOIN LATERAL (SELECT p.value FROM nosql.kv_history p WHERE " \
	KV_HEAD("p.key") " OPERATOR(pg_catalog.=) " KV_HEAD("h.key") \
	" AND p.key OPERATOR(pg_catalog.=) h.key" \
	" AND p.mod_revision OPERATOR(pg_catalog.<) h.mod_revision" \
	" ORDER BY " KV_HEAD("p.key") " DESC, p.mod_revision DESC LIMIT 1) p ON true"

#define KV_WATCH_PLAN(cond) \
	{KV_WATCH_SELECT("", "", cond), \
	 KV_WATCH_SELECT(KV_WATCH_PREV_COL, KV_WATCH_PREV_JOIN, cond)}

/* by range kind, then without and with prev_kv */
static const char *const kv_watch_sql[3][2] = {
	[KV_RANGE_ONE] = KV_WATCH_PLAN(KV_KEY_ONE),
	[KV_RANGE_FROM] = KV_WATCH_PLAN(KV_KEY_FROM),
	[KV_RANGE_BETWEEN] = KV_WATCH_PLAN(KV_KEY_BETWEEN),
};

static SPIPlanPtr kv_watch_plans[3][2];

/* What a watch asks for */
typedef struct KvWatch
{
	KvRange		range;
	int64		start;			/* the first revision to report */
	bool		prev_kv;
	bool		puts;			/* report puts (no NOPUT filter) */
	bool		deletes;		/* report deletes (no NODELETE filter) */
} KvWatch;


/* ---------------------------------------------------------------------
 * Shared memory and wake-ups
 * ---------------------------------------------------------------------
 */

static void
KvWatchShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(KvWatchShared)));
}

static void
KvWatchShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	kv_watch_shared = ShmemInitStruct("nosql key-value watch",
									  sizeof(KvWatchShared), &found);
	if (!found)
	{
		ConditionVariableInit(&kv_watch_shared->written);
		SpinLockInit(&kv_watch_shared->mutex);
		memset(kv_watch_shared->revisions, 0, sizeof(kv_watch_shared->revisions));
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * KvWatchInit
 *		Ask for the shared condition variable; only possible while
 *		shared_preload_libraries is processed (otherwise watches poll).
 */
void
KvWatchInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = KvWatchShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = KvWatchShmemStartup;
}

/*
 * KvSharedRevision
 *		The revision this database's writers last left its store at, or 0
 *		when not known (no shared memory, never recorded, or forgotten).
 *		Only meaningful to a writer that holds the writers' lock.
 */
int64
KvSharedRevision(Oid relid)
{
	int64		revision = 0;

	if (kv_watch_shared == NULL)
		return 0;
	SpinLockAcquire(&kv_watch_shared->mutex);
	for (int i = 0; i < KV_REVISION_SLOTS; i++)
	{
		KvRevisionSlot *slot = &kv_watch_shared->revisions[i];

		if (slot->dboid == MyDatabaseId && slot->relid == relid)
		{
			revision = slot->revision;
			break;
		}
	}
	SpinLockRelease(&kv_watch_shared->mutex);
	return revision;
}

/*
 * KvSetSharedRevision
 *		Record the store's revision (0: forget it) for the next writer.  A
 *		database without a slot takes a free one, or one whose revision is
 *		not known; when none is left it goes without.
 */
void
KvSetSharedRevision(Oid relid, int64 revision)
{
	KvRevisionSlot *free_slot = NULL;

	if (kv_watch_shared == NULL)
		return;
	SpinLockAcquire(&kv_watch_shared->mutex);
	for (int i = 0; i < KV_REVISION_SLOTS; i++)
	{
		KvRevisionSlot *slot = &kv_watch_shared->revisions[i];

		if (slot->dboid == MyDatabaseId)
		{
			/* one slot a database: a new history table replaces the old */
			free_slot = slot;
			break;
		}
		if (free_slot == NULL && (slot->dboid == InvalidOid || slot->revision == 0))
			free_slot = slot;
	}
	if (free_slot != NULL && (revision != 0 || free_slot->dboid == MyDatabaseId))
	{
		free_slot->dboid = MyDatabaseId;
		free_slot->relid = relid;
		free_slot->revision = revision;
	}
	SpinLockRelease(&kv_watch_shared->mutex);
}

/*
 * KvWatchWake
 *		Wake every blocked watcher: a transaction that wrote the store has
 *		committed.  Called after the commit is visible; never fails.
 */
void
KvWatchWake(void)
{
	if (kv_watch_shared != NULL)
		ConditionVariableBroadcast(&kv_watch_shared->written);
}


/* ---------------------------------------------------------------------
 * Reading events
 * ---------------------------------------------------------------------
 */

/*
 * KvWatchPlan
 *		The statement of a watch, prepared once per session; it is planned
 *		again at each execution for its values (a generic plan could not
 *		tell a recent start revision from an old one).
 */
static SPIPlanPtr
KvWatchPlan(KvRangeKind kind, bool prev_kv)
{
	static const Oid argtypes[5] = {TEXTOID, TEXTOID, INT8OID, BOOLOID, BOOLOID};
	SPIPlanPtr *slot = &kv_watch_plans[kind][prev_kv ? 1 : 0];

	if (*slot == NULL)
	{
		*slot = KvPreparePlan(kv_watch_sql[kind][prev_kv ? 1 : 0], 5, argtypes,
							  CURSOR_OPT_CUSTOM_PLAN);
	}
	return *slot;
}

/* A varlena column of a history row, out of TOAST, or NULL */
static Datum
KvWatchDetoast(Datum d, bool isnull)
{
	if (isnull)
		return (Datum) 0;
	return PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d)));
}

/*
 * KvWatchRead
 *		Append the watch's events now visible to the result set, with a new
 *		snapshot; returns how many.
 */
static uint64
KvWatchRead(const KvWatch *watch, ReturnSetInfo *rsinfo)
{
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Portal		portal;
	uint64		total = 0;
	MemoryContext rowcxt;

	args[0] = PointerGetDatum(watch->range.key);
	args[1] = watch->range.end ? PointerGetDatum(watch->range.end) : (Datum) 0;
	if (watch->range.end == NULL)
		nulls[1] = 'n';
	args[2] = Int64GetDatum(watch->start);
	args[3] = BoolGetDatum(watch->puts);
	args[4] = BoolGetDatum(watch->deletes);

	SPI_connect();
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "key-value watch row context",
								   ALLOCSET_DEFAULT_SIZES);

	/*
	 * The previous version of a key is the first row of a backward scan of
	 * the key index.  The planner multiplies the selectivities of the head
	 * and the key conditions, which are the same condition for all but
	 * very long keys, expects less than one row, and prefers a bitmap scan
	 * of every earlier version and a sort: several times slower on a key
	 * with a long history.  So bitmap scans are off while the statement is
	 * planned (at the cursor's opening, a custom plan).
	 */
	if (watch->prev_kv)
	{
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		portal = SPI_cursor_open(NULL, KvWatchPlan(watch->range.kind, true),
								 args, nulls, false);
		AtEOXact_GUC(true, nestlevel);
	}
	else
		portal = SPI_cursor_open(NULL, KvWatchPlan(watch->range.kind, false),
								 args, nulls, false);
	/* (not read-only: the cursor took a new snapshot, as READ COMMITTED does) */
	for (;;)
	{
		SPI_cursor_fetch(portal, true, KV_WATCH_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			Datum		row[8];
			bool		rownulls[8];
			Datum		values[KV_EVENT_NATTS];
			bool		isnull[KV_EVENT_NATTS];
			bool		deleted;
			MemoryContext old = MemoryContextSwitchTo(rowcxt);

			memset(rownulls, true, sizeof(rownulls));
			heap_deform_tuple(tuple, desc, row, rownulls);
			deleted = DatumGetBool(row[1]);
			values[0] = row[0];	/* revision */
			values[1] = CStringGetTextDatum(deleted ? "DELETE" : "PUT");
			values[2] = KvWatchDetoast(row[2], rownulls[2]);	/* key */
			values[3] = KvWatchDetoast(row[3], rownulls[3]);	/* value */
			values[4] = row[4];	/* create_revision */
			values[5] = row[0];	/* mod_revision */
			values[6] = row[5];	/* version */
			values[7] = row[6];	/* lease */
			values[8] = KvWatchDetoast(row[7], rownulls[7]);	/* prev_value */
			memset(isnull, false, sizeof(isnull));
			isnull[3] = rownulls[3];
			isnull[8] = !watch->prev_kv || rownulls[7];
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		total += SPI_processed;
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return total;
}


/* ---------------------------------------------------------------------
 * nosql.kv_watch
 * ---------------------------------------------------------------------
 */

/* Refuse a NULL argument, naming it, as kv_sql.c does */
static void
KvWatchArgNotNull(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s of a key-value call must not be null", name)));
}

/* etcd's WatchCreateRequest filters by name: NOPUT, NODELETE */
static void
KvWatchFilters(ArrayType *filters, KvWatch *watch)
{
	Datum	   *elems;
	bool	   *elemnulls;
	int			n;

	deconstruct_array(filters, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &elemnulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *name;

		if (elemnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a filter of a key-value watch must not be null")));
		name = TextDatumGetCString(elems[i]);
		if (pg_strcasecmp(name, "NOPUT") == 0)
			watch->puts = false;
		else if (pg_strcasecmp(name, "NODELETE") == 0)
			watch->deletes = false;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid watch filter \"%s\"", name),
					 errhint("Valid filters are NOPUT and NODELETE.")));
	}
}

/*
 * nosql.kv_watch(key text, range_end text DEFAULT NULL, start_revision
 * bigint DEFAULT 0, max_wait_ms integer DEFAULT 0, prev_kv boolean DEFAULT
 * false, filters text[] DEFAULT '{}') RETURNS SETOF nosql.kv_event —
 * etcd's Watch: the events of the range (as kv_range's) from
 * start_revision on (<= 0: from the next revision), in revision order.
 * With max_wait_ms > 0 and no event yet, waits until one arrives or the
 * time passes.
 */
PG_FUNCTION_INFO_V1(kv_watch);
Datum
kv_watch(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {
		"key", NULL, "start_revision", "max_wait_ms", "prev_kv", "filters"
	};
	KvWatch		watch;
	ReturnSetInfo *rsinfo;
	int64		start;
	int32		max_wait_ms;
	TimestampTz deadline = 0;
	bool		sleeping = false;

	for (int i = 0; i < (int) lengthof(names); i++)
		if (names[i] != NULL)
			KvWatchArgNotNull(fcinfo, i, names[i]);
	watch.range.key = PG_GETARG_TEXT_PP(0);
	watch.range.end = NULL;
	if (PG_ARGISNULL(1))
		watch.range.kind = KV_RANGE_ONE;
	else if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		watch.range.kind = KV_RANGE_FROM;
	else
	{
		watch.range.kind = KV_RANGE_BETWEEN;
		watch.range.end = PG_GETARG_TEXT_PP(1);
	}
	start = PG_GETARG_INT64(2);
	max_wait_ms = PG_GETARG_INT32(3);
	watch.prev_kv = PG_GETARG_BOOL(4);
	watch.puts = true;
	watch.deletes = true;
	KvWatchFilters(PG_GETARG_ARRAYTYPE_P(5), &watch);

	if (watch.range.kind == KV_RANGE_ONE || VARSIZE_ANY_EXHDR(watch.range.key) > 0)
		KvCheckKey(watch.range.key);
	if (max_wait_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_wait_ms must not be negative"),
				 errhint("Use 0 to return at once.")));
	if (max_wait_ms > 0 && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a blocking key-value watch needs READ COMMITTED"),
				 errdetail("In REPEATABLE READ or SERIALIZABLE every read sees the transaction's snapshot, which no new event reaches."),
				 errhint("Run kv_watch with max_wait_ms > 0 outside such a transaction, or with max_wait_ms 0.")));

	/* <= 0: only what happens from now on, as etcd's default */
	if (start <= 0)
		watch.start = KvCurrentRevision() + 1;
	else
	{
		KvCheckCompacted(start);
		watch.start = start;
	}

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (max_wait_ms > 0)
	{
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), max_wait_ms);

		/*
		 * Before the first read: a commit after it wakes the sleep below.  A
		 * standby has no writers, and replay signals nothing: poll there.
		 */
		if (kv_watch_shared != NULL && !RecoveryInProgress())
		{
			ConditionVariablePrepareToSleep(&kv_watch_shared->written);
			sleeping = true;
		}
	}

	for (bool first = true;; first = false)
	{
		long		remaining;
		int64		seen = 0;

		CHECK_FOR_INTERRUPTS();

		/*
		 * A waiting watch is caught up to the revision it last read without
		 * finding events; a compaction past that since then may have
		 * removed events it has not read, so it ends as etcd's does.
		 */
		if (!first)
			KvCheckCompacted(watch.start);
		if (max_wait_ms > 0)
			seen = KvCurrentRevision();
		if (KvWatchRead(&watch, rsinfo) > 0 || max_wait_ms == 0)
			break;
		/* nothing up to seen: wait from the revision after it */
		if (seen + 1 > watch.start)
			watch.start = seen + 1;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		if (sleeping)
			(void) ConditionVariableTimedSleep(&kv_watch_shared->written, remaining,
											   PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(remaining, KV_WATCH_POLL_MS), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	if (sleeping)
		ConditionVariableCancelSleep();

	/* report nothing a crash could undo (see kv.c) */
	KvWaitDurable();
	return (Datum) 0;
}
