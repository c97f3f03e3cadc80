/*-------------------------------------------------------------------------
 *
 * cdc_watch.c
 *	  MongoDB change streams in SQL: nosql.watch over one decoder per
 *	  database, which copies the collection events of the output plugin
 *	  "nosql" into the table nosql.change_log.
 *
 * Design note
 * -----------
 * Decoding is paid once per database, not once per watcher.  A dynamic
 * background worker, the "nosql cdc decoder" of the database, owns a
 * logical replication slot (nosql_cdc_<database oid>) created with the
 * library's own plugin, and keeps one decoding context open on it: it
 * reads the WAL as it is flushed and decodes each record once, in BSON,
 * collections only, with pre-images (fullDocumentBeforeChange, of the
 * collections that log them; nosql.watch takes them out unless asked for),
 * with large transactions streamed (see "The decoding loop" below).  The
 * events go into nosql.change_log, one row per event keyed by the resume
 * token's _data (fixed-width hex of the commit LSN and the change's
 * ordinal, so that text order under COLLATE "C" is commit order), a
 * committed transaction's events in one transaction of the decoder.  Once
 * they are committed it broadcasts a condition variable that blocked
 * watchers sleep on.  The log's own inserts are not decoded back: the
 * plugin ignores every table that is not a collection.
 *
 * The decoder does not poll: it sleeps on its latch, which every
 * transaction that wrote a collection through the document engine sets
 * when it commits (CdcWatchNoteWrite registers a transaction callback; a
 * no-op when no decoder runs), with a one-second timeout as a safety net
 * for writes that bypass the engine (plain SQL on a collection's table).
 *
 * History.  The one-row table nosql.change_stream_horizon holds the token
 * before which the log is incomplete: the position where the slot was
 * created (events committed before were never captured), raised by
 * retention (nosql.change_log_trim, run by the database's worker every
 * round with nosql.change_log_retention) to the newest token it deleted.
 * A resume token below the horizon fails with ChangeStreamHistoryLost
 * (286), never a silent gap; the check is made after each read, so a
 * retention committed during the read is seen.  If the slot disappears
 * (dropped by hand, or not there after a failover: PostgreSQL 15 does not
 * carry logical slots to standbys) the next decoder creates it again and
 * moves the horizon to the new slot's start: resuming from before it is
 * history lost.
 *
 * Invalidate.  The plugin knows no stream's scope; nosql.watch follows
 * the drop or rename of the watched collection (the dropDatabase of the
 * watched database) with an invalidate event carrying the same token and
 * ends the stream there.  Since the two share a token, resume_after that
 * token returns the invalidate again (as resuming after MongoDB's drop
 * does), and start_after it goes on with the events after it.
 *
 * A new stream starts "now": after the decoder is ready, at the current
 * WAL insert position, so an event whose commit record comes later is in
 * it.  nosql.watch_start_token() returns that position as a token, for a
 * client that must not lose events between two calls that returned none.
 *
 * startAtOperationTime.  A stream may start at a time: at the first
 * event, in commit order, whose clusterTime (commit second, ordinal) is at
 * or after a BSON timestamp, found through an index on the events'
 * clusterTime, and then in commit order like a resumed stream (see
 * CdcResolveStartTime for why that may include later events of smaller
 * clusterTime).  The horizon row's lost_until bounds the commit times of
 * events the log may miss, so a time in its second or before is history
 * lost.  A time no event has reached leaves the search pending: each read
 * searches again, from where the previous search ended.
 *
 * Pre-images.  The log keeps the ones the plugin found; each read takes
 * them out, or checks them, as the watcher asked (CdcPreImage), and hides
 * those of events older than the cluster parameter changeStreamOptions'
 * preAndPostImages.expireAfterSeconds (cluster_parameter.c), read once per
 * read of the log.
 *
 * Expanded events.  The decoder asks the plugin for MongoDB's expanded
 * events (show_expanded_events), so the log has them, and collectionUUID,
 * for every reader; a read for a stream without showExpandedEvents drops
 * those events and strips those fields (CdcWithoutExpanded), giving the
 * events byte for byte as the plugin writes them without the option.
 *
 * Monitoring.  Every stream being read (a nosql.watch call, a
 * $changeStream cursor) has a slot in the registry of cdc_watchers.c,
 * updated with its resume point after each read.
 *
 * $changeStream.  The aggregate command's change streams (cmd_read.c
 * keeps them as cursors without a portal) use the same reads: a CdcStream
 * holds the spec of nosql.watch, whose "after" is the resume point, and
 * each getMore reads the log after it, waiting on the condition variable
 * up to maxTimeMS.  The decoder publishes "copied", the WAL position every
 * transaction committed before has been logged from; an empty batch moves
 * the resume point (the postBatchResumeToken) up to it, which skips no
 * event since the read that found nothing came after it was published.
 *
 * Security.  The log is readable only by its owner; nosql.watch reads it
 * as the owner for callers who have the REPLICATION attribute or were
 * granted SELECT on nosql.change_log, and returns only the events of
 * collections whose table the caller may SELECT (the events of a
 * collection that no longer exists only to superusers and replication
 * roles).  updateLookup reads the current document with the caller's own
 * rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/slot.h"
#include "storage/buffile.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

/*
 * libpq/libpq.h, for pq_flush: its libpq-be.h includes the GSSAPI headers
 * for fields of struct Port when the server was built with GSSAPI, and
 * those headers need not be installed where extensions are built.  Port
 * is not used here: include it as for a server built without.
 */
#ifdef ENABLE_GSS
#undef ENABLE_GSS
#include "libpq/libpq.h"
#define ENABLE_GSS 1
#else
#include "libpq/libpq.h"
#endif

#include "agg.h"
#include "bson.h"
#include "cdc.h"
#include "documents.h"
#include "nosql.h"

/* Events decoded in one transaction at most */
#define CDC_DECODE_BATCH 10000
/* The decoder's safety-net wake-up */
#define CDC_DECODER_NAP_MS 1000
/* How long a watcher waits for a decoder to be ready */
#define CDC_READY_WAIT_MS 30000
/* A $changeStream batch ends after the event that makes it this large */
#define CDC_BATCH_BYTES (8 * 1024 * 1024)
/* Rows of the log read at a time */
#define CDC_READ_BATCH 1000

/* MongoDB's codes */
#define MONGO_BAD_VALUE					2
#define MONGO_FAILED_TO_PARSE_CODE		9
#define MONGO_NO_MATCHING_DOCUMENT		47
#define MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW 166
#define MONGO_CHANGE_STREAM_HISTORY_LOST 286
#define MONGO_CHANGE_STREAM_NOT_FIRST	40602
#define MONGO_CHANGE_STREAM_NOT_OBJECT	50808
#define MONGO_BOTH_RESUME_OPTIONS		50865
#define MONGO_ONE_RESUME_OPTION			40674

typedef struct CdcDecoder
{
	Oid			dboid;			/* InvalidOid: the entry is free */
	pid_t		pid;			/* 0 while starting */
	Latch	   *latch;
	bool		ready;			/* slot and horizon in place */
	TimestampTz started;		/* when it was asked to start */
	uint64		batches;		/* transactions that inserted events */
	uint64		events;
	XLogRecPtr	copied;			/* every event committed before is logged */
} CdcDecoder;

typedef struct CdcWatchShared
{
	slock_t		mutex;
	ConditionVariable decoded;	/* a decoder committed events or is ready */
	CdcDecoder	decoders[CDC_DECODERS];
} CdcWatchShared;

static CdcWatchShared *cdc_watch = NULL;

/* nosql.change_log_retention, seconds */
int			nosql_change_log_retention = 86400;
/* nosql.change_stream_gather_delay (ms) and _watchers: see the decoder */
int			nosql_change_stream_gather_ms = 20;
int			nosql_change_stream_gather_watchers = 10;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void nosql_cdc_decoder_main(Datum main_arg);

static void CdcReadHorizon(char *buf);

static void
CdcWatchShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(CdcWatchShared)));
}

static void
CdcWatchShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cdc_watch = ShmemInitStruct("nosql change streams", sizeof(CdcWatchShared), &found);
	if (!found)
	{
		SpinLockInit(&cdc_watch->mutex);
		ConditionVariableInit(&cdc_watch->decoded);
		memset(cdc_watch->decoders, 0, sizeof(cdc_watch->decoders));
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * CdcWatchInit
 *		The retention setting, and the shared memory when preloaded (without
 *		it there is no decoder and nosql.watch refuses to run).
 */
void
CdcWatchInit(void)
{
	DefineCustomIntVariable("nosql.change_log_retention",
							"How long change stream events stay in nosql.change_log.",
							"The database's background worker deletes older events; resuming a change stream from before them fails with ChangeStreamHistoryLost.",
							&nosql_change_log_retention,
							86400,
							1,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nosql.change_stream_gather_delay",
							"How long the change stream decoder gathers events when many streams are open.",
							"With at least nosql.change_stream_gather_watchers streams open in a database, its decoder logs committed events and wakes the watchers at most this long after the first of them, so that each wake-up delivers several events; 0 turns gathering off.",
							&nosql_change_stream_gather_ms,
							20,
							0,
							1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nosql.change_stream_gather_watchers",
							"How many open change streams of a database make its decoder gather events.",
							"Below this many, every committed batch is logged and delivered at once.",
							&nosql_change_stream_gather_watchers,
							10,
							1,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	CdcRingInit();
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = CdcWatchShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = CdcWatchShmemStartup;
}

/* The decoder entry of a database, or NULL; called under the mutex */
static CdcDecoder *
CdcFindDecoder(Oid dboid)
{
	for (int i = 0; i < CDC_DECODERS; i++)
		if (cdc_watch->decoders[i].dboid == dboid)
			return &cdc_watch->decoders[i];
	return NULL;
}

/* The slot name of this database's decoder (NAMEDATALEN bytes) */
static void
CdcSlotName(char *buf, Oid dboid)
{
	snprintf(buf, NAMEDATALEN, "nosql_cdc_%u", dboid);
}

/* ---------------------------------------------------------------------
 * Waking the decoder at commit
 * ---------------------------------------------------------------------
 */

static bool cdc_xact_wrote = false;
static bool cdc_xact_callback_registered = false;

static void
CdcWatchXactCallback(XactEvent event, void *arg)
{
	Latch	   *latch = NULL;

	if (!cdc_xact_wrote)
		return;
	if (event == XACT_EVENT_COMMIT && cdc_watch != NULL)
	{
		SpinLockAcquire(&cdc_watch->mutex);
		{
			CdcDecoder *d = CdcFindDecoder(MyDatabaseId);

			if (d != NULL && d->pid != 0)
				latch = d->latch;
		}
		SpinLockRelease(&cdc_watch->mutex);
		if (latch != NULL)
			SetLatch(latch);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		cdc_xact_wrote = false;
}

/*
 * CdcWatchNoteWrite
 *		The document engine wrote a collection in this transaction: its
 *		commit wakes the database's decoder.
 */
void
CdcWatchNoteWrite(void)
{
	if (cdc_watch == NULL)
		return;
	if (!cdc_xact_callback_registered)
	{
		RegisterXactCallback(CdcWatchXactCallback, NULL);
		cdc_xact_callback_registered = true;
	}
	cdc_xact_wrote = true;
}

/* ---------------------------------------------------------------------
 * Starting and stopping decoders
 * ---------------------------------------------------------------------
 */

/*
 * Make sure the decoder of this database runs or is starting.  Returns
 * false when no background worker slot or decoder entry is free.
 */
static bool
CdcDecoderStart(void)
{
	CdcDecoder *d;
	bool		start = false;
	bool		ok = true;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&cdc_watch->mutex);
	d = CdcFindDecoder(MyDatabaseId);
	if (d != NULL && d->pid == 0 &&
		TimestampDifferenceExceeds(d->started, now, CDC_READY_WAIT_MS))
	{
		d->dboid = InvalidOid;	/* it never attached */
		d = NULL;
	}
	if (d == NULL)
	{
		d = CdcFindDecoder(InvalidOid);
		if (d != NULL)
		{
			memset(d, 0, sizeof(*d));
			d->dboid = MyDatabaseId;
			d->started = now;
			start = true;
		}
		else
			ok = false;
	}
	SpinLockRelease(&cdc_watch->mutex);

	if (start &&
		WorkerStartDynamic("nosql_cdc_decoder_main",
						   psprintf("nosql cdc decoder for database %u", MyDatabaseId),
						   "nosql cdc decoder", ObjectIdGetDatum(MyDatabaseId),
						   NULL, 0, 0) == NULL)
	{
		SpinLockAcquire(&cdc_watch->mutex);
		if (d->dboid == MyDatabaseId && d->pid == 0)
			d->dboid = InvalidOid;
		SpinLockRelease(&cdc_watch->mutex);
		ok = false;
	}
	return ok;
}

/* Whether this database's decoder is ready */
static bool
CdcDecoderReady(void)
{
	CdcDecoder *d;
	bool		ready;

	SpinLockAcquire(&cdc_watch->mutex);
	d = CdcFindDecoder(MyDatabaseId);
	ready = d != NULL && d->pid != 0 && d->ready;
	SpinLockRelease(&cdc_watch->mutex);
	return ready;
}

/*
 * Start the decoder if needed and wait until it is ready (its slot and
 * the horizon exist), or fail.
 */
static void
CdcDecoderWaitReady(void)
{
	TimestampTz deadline;

	if (cdc_watch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("change streams need nosql in shared_preload_libraries")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("change streams cannot be watched on a standby"),
				 errdetail("The change log is filled by a decoder on the primary; a standby has none to wait for."),
				 errhint("Watch on the primary, or read nosql.change_log by its token.")));
	if (CdcDecoderReady())
		return;
	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("change streams need wal_level = logical")));
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CDC_READY_WAIT_MS);
	ConditionVariablePrepareToSleep(&cdc_watch->decoded);
	for (;;)
	{
		long		remaining;

		if (!CdcDecoderStart())
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start the change stream decoder"),
					 errhint("Raise max_worker_processes, or watch in fewer databases at once.")));
		}
		if (CdcDecoderReady())
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the change stream decoder did not become ready"),
					 errdetail("Creating its replication slot waits for the transactions running with a transaction ID to end."),
					 errhint("See the server log, and nosql.change_streams.")));
		}
		(void) ConditionVariableTimedSleep(&cdc_watch->decoded, Min(remaining, 500),
										   PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
}

/*
 * CdcWatchReleaseDatabase
 *		Ask the decoder of a database to exit (DROP DATABASE and the like
 *		need the database to themselves); when it is dropped (drop_slot),
 *		also drop its slot, which would otherwise make DROP DATABASE fail.
 */
void
CdcWatchReleaseDatabase(Oid dboid, bool drop_slot)
{
	CdcDecoder *d;
	pid_t		pid = 0;
	char		slot[NAMEDATALEN];

	if (cdc_watch != NULL)
	{
		SpinLockAcquire(&cdc_watch->mutex);
		d = CdcFindDecoder(dboid);
		if (d != NULL)
			pid = d->pid;
		SpinLockRelease(&cdc_watch->mutex);
		if (pid != 0)
			kill(pid, SIGTERM);
	}
	if (!drop_slot || max_replication_slots == 0)
		return;
	/* only who may drop the database: anyone else's DROP fails anyway */
#if PG_VERSION_NUM >= 160000
	if (!object_ownercheck(DatabaseRelationId, dboid, GetUserId()))
		return;
#else
	if (!pg_database_ownercheck(dboid, GetUserId()))
		return;
#endif
	CdcSlotName(slot, dboid);
	if (SearchNamedReplicationSlot(slot, true) == NULL)
		return;
	/* waits while the exiting decoder still holds it */
	ReplicationSlotDrop(slot, false);
}

/* ---------------------------------------------------------------------
 * The decoder
 * ---------------------------------------------------------------------
 */

static CdcDecoder *cdc_me = NULL;

static void
CdcDecoderDetach(int code, Datum arg)
{
	if (cdc_me == NULL)
		return;
	CdcRingDetach(cdc_me - cdc_watch->decoders);
	SpinLockAcquire(&cdc_watch->mutex);
	cdc_me->dboid = InvalidOid;
	cdc_me->pid = 0;
	cdc_me->latch = NULL;
	cdc_me->ready = false;
	SpinLockRelease(&cdc_watch->mutex);
	cdc_me = NULL;
}

/* A token's _data for an LSN with ordinal 0: before every change there */
static void
CdcTokenAt(char *buf, XLogRecPtr lsn)
{
	CdcResumeToken(buf, lsn, 0);
}

/* Whether the slot exists and lost the WAL it needs (invalidated) */
static bool
CdcSlotLost(const char *name)
{
	ReplicationSlot *s = SearchNamedReplicationSlot(name, true);
	bool		lost;

	if (s == NULL)
		return false;
	SpinLockAcquire(&s->mutex);
#if PG_VERSION_NUM >= 160000
	lost = s->data.invalidated != RS_INVAL_NONE;
#else
	lost = s->data.invalidated_at != InvalidXLogRecPtr &&
		XLogRecPtrIsInvalid(s->data.restart_lsn);
#endif
	SpinLockRelease(&s->mutex);
	return lost;
}

/*
 * Make sure the slot exists, and the horizon: a new slot moves the horizon
 * to its start.  Runs in the decoder's first transaction, before it writes.
 */
static void
CdcDecoderSetUp(const char *slot)
{
	Datum		arg[2];
	Oid			types[2] = {TEXTOID, TEXTOID};
	char		token[CDC_TOKEN_LEN + 1];
	bool		created = false;
	int			rc;

	arg[0] = CStringGetTextDatum(slot);
	if (CdcSlotLost(slot))
	{
		/*
		 * max_slot_wal_keep_size let the WAL it needed go: what it had not
		 * decoded is gone.  A new slot starts afresh, and the horizon moves
		 * to it, so that resuming from before is history lost, not a gap.
		 */
		rc = SPI_execute_with_args("SELECT pg_catalog.pg_drop_replication_slot($1)",
								   1, types, arg, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not drop replication slot \"%s\"", slot);
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("nosql change stream decoder dropped replication slot \"%s\": its WAL was removed",
						slot),
				 errdetail("The slot was invalidated (max_slot_wal_keep_size); events not yet copied to nosql.change_log are lost."),
				 errhint("Resuming a change stream from before the new slot fails with ChangeStreamHistoryLost.")));
	}
	if (SearchNamedReplicationSlot(slot, true) == NULL)
	{
		bool		isnull;

		rc = SPI_execute_with_args("SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'nosql')",
								   1, types, arg, NULL, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not create replication slot \"%s\"", slot);
		CdcTokenAt(token, DatumGetLSN(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull)));
		created = true;
		ereport(LOG,
				(errmsg("nosql change stream decoder created replication slot \"%s\"", slot)));
	}
	else
	{
		/* the slot is there: the horizon too, unless the log was recreated */
		rc = SPI_execute("SELECT 1 FROM nosql.change_stream_horizon", true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not read nosql.change_stream_horizon");
		if (SPI_processed == 1)
			return;
		rc = SPI_execute_with_args("SELECT confirmed_flush_lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
								   1, types, arg, NULL, true, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read replication slot \"%s\"", slot);
		{
			bool		isnull;
			Datum		lsn = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull);

			CdcTokenAt(token, isnull ? InvalidXLogRecPtr : DatumGetLSN(lsn));
		}
	}
	arg[1] = CStringGetTextDatum(token);
	/* two statements: a DELETE in a WITH may run after the INSERT */
	rc = SPI_execute("DELETE FROM nosql.change_stream_horizon", false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "could not set the change stream horizon");
	rc = SPI_execute_with_args("INSERT INTO nosql.change_stream_horizon (token, since) VALUES ($2, now())",
							   2, types, arg, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not set the change stream horizon");
	(void) created;
}

/* The extension is installed in this database (in a transaction) */
static bool
CdcExtensionInstalled(void)
{
	Oid			nsp = get_namespace_oid("nosql", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("change_log", nsp));
}

/*
 * Logical decoding logs a few lines at LOG ("starting logical decoding
 * for slot ...", the snapshot builder's progress, at every start of the
 * decoder): the decoder keeps them out of the server log while it decodes,
 * and only them (warnings and errors still go out).
 */
static bool cdc_decoding = false;
static emit_log_hook_type cdc_prev_emit_log_hook = NULL;

static void
CdcEmitLogHook(ErrorData *edata)
{
	if (edata->elevel >= ERROR)
		cdc_decoding = false;
	else if (cdc_decoding && edata->elevel == LOG)
		edata->output_to_server = false;
	if (cdc_prev_emit_log_hook)
		cdc_prev_emit_log_hook(edata);
}

static void
CdcQuietDecoding(bool quiet)
{
	cdc_decoding = quiet;
}

/*
 * The decoding loop.  The decoder holds its slot for life and keeps one
 * decoding context open, reading the WAL as it is flushed, so nothing is
 * decoded twice and a transaction that runs for long costs nothing to the
 * small ones that commit meanwhile.  The plugin writes its messages into
 * this process (CdcDecoderWrite): the events of a committed transaction
 * go to the queue of events to log; those of a transaction still running
 * that PostgreSQL streams (its changes outgrew logical_decoding_work_mem;
 * option stream_changes) to a spool of its own, memory then a temporary
 * file, moved to the queue at its commit with their position filled in,
 * dropped at its abort (or only those of an aborted subtransaction).
 *
 * The queue is logged between two WAL records, never within one, so a
 * transaction's events go into the log in one transaction of the decoder:
 * a crash leaves all or none of them.  Decoding runs with historic
 * catalog snapshots and logging with the current catalog, so the caches
 * are cleared at each switch (as pg_logical_slot_get_changes does).  The
 * slot is confirmed up to a position once the log's commit of everything
 * before it is flushed; after a crash the slot may hand out again a
 * transaction already logged, which the decoder recognizes by its commit
 * LSN (at most the log's newest, read at start) and skips: the same
 * transaction, streamed once and not the other time, could get other
 * ordinals, so the token's uniqueness alone would not do.
 */

/* A spool keeps this much in memory, then goes to a temporary file */
#define CDC_SPOOL_MEMORY (4 * 1024 * 1024)
/* Rows inserted into the log by one statement */
#define CDC_INSERT_ROWS 1000

typedef struct CdcSpoolRecord
{
	uint32		len;			/* of the event's BSON, which follows */
	uint32		pad;
	XLogRecPtr	lsn;			/* of the change */
} CdcSpoolRecord;

typedef struct CdcSpool
{
	StringInfoData mem;			/* records while small (data NULL: none) */
	BufFile    *file;			/* records once large */
	uint64		events;
	Size		read_at;		/* in mem, when reading */
} CdcSpool;

/* A transaction being streamed */
typedef struct CdcStreamTxn
{
	TransactionId xid;			/* hash key */
	CdcSpool	spool;
	List	   *aborted;		/* [first, abort) LSNs of aborted subtransactions */
} CdcStreamTxn;

/* Committed events waiting to be logged; the queue is in commit order */
typedef struct CdcReady
{
	bool		streamed;		/* one streamed transaction, to settle */
	XLogRecPtr	commit_lsn;		/* streamed: its commit and time */
	TimestampTz commit_time;
	CdcSpool	spool;
	List	   *aborted;
} CdcReady;

typedef struct CdcLsnRange
{
	XLogRecPtr	first;
	XLogRecPtr	last;
} CdcLsnRange;

static struct
{
	MemoryContext context;		/* for the decoder's life */
	HTAB	   *streams;		/* CdcStreamTxn by xid */
	List	   *ready;			/* CdcReady, oldest first */
	uint64		ready_events;
	TransactionId in_stream;	/* the transaction of the current block */
	XLogRecPtr	skip_lsn;		/* commits at or before it are logged */
	SPIPlanPtr	insert;			/* into the log, kept */
	char	   *buf;			/* an event read back from a spool */
	Size		buf_size;
} cdc_dec;

static void
CdcSpoolAppend(CdcSpool *spool, XLogRecPtr lsn, const char *data, uint32 len)
{
	CdcSpoolRecord rec;
	MemoryContext old = MemoryContextSwitchTo(cdc_dec.context);

	memset(&rec, 0, sizeof(rec));
	rec.len = len;
	rec.lsn = lsn;
	if (spool->file == NULL)
	{
		if (spool->mem.data == NULL)
			initStringInfo(&spool->mem);
		else if (spool->mem.len + sizeof(rec) + len > CDC_SPOOL_MEMORY)
		{
			/* a temporary file that outlives the decoding's transactions */
			spool->file = BufFileCreateTemp(true);
			BufFileWrite(spool->file, spool->mem.data, spool->mem.len);
			pfree(spool->mem.data);
			spool->mem.data = NULL;
		}
	}
	if (spool->file != NULL)
	{
		BufFileWrite(spool->file, &rec, sizeof(rec));
		BufFileWrite(spool->file, unconstify(char *, data), len);
	}
	else
	{
		appendBinaryStringInfo(&spool->mem, (char *) &rec, sizeof(rec));
		appendBinaryStringInfo(&spool->mem, data, len);
	}
	spool->events++;
	MemoryContextSwitchTo(old);
}

static void
CdcSpoolRewind(CdcSpool *spool)
{
	spool->read_at = 0;
	if (spool->file != NULL && BufFileSeek(spool->file, 0, 0, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rewind the change stream decoder's temporary file")));
}

/* The next record of a spool, or false at its end */
static bool
CdcSpoolNext(CdcSpool *spool, CdcSpoolRecord *rec, char **data)
{
	if (spool->file == NULL)
	{
		if (spool->mem.data == NULL || spool->read_at >= (Size) spool->mem.len)
			return false;
		memcpy(rec, spool->mem.data + spool->read_at, sizeof(*rec));
		*data = spool->mem.data + spool->read_at + sizeof(*rec);
		spool->read_at += sizeof(*rec) + rec->len;
		return true;
	}
	if (BufFileRead(spool->file, rec, sizeof(*rec)) != sizeof(*rec))
		return false;
	if (rec->len > cdc_dec.buf_size)
	{
		cdc_dec.buf = repalloc(cdc_dec.buf, rec->len);
		cdc_dec.buf_size = rec->len;
	}
	if (BufFileRead(spool->file, cdc_dec.buf, rec->len) != rec->len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read the change stream decoder's temporary file")));
	*data = cdc_dec.buf;
	return true;
}

static void
CdcSpoolFree(CdcSpool *spool)
{
	if (spool->file != NULL)
		BufFileClose(spool->file);
	if (spool->mem.data != NULL)
		pfree(spool->mem.data);
	memset(spool, 0, sizeof(*spool));
}

/* The ready queue's last entry for the events of committed transactions */
static CdcReady *
CdcReadyTail(bool streamed)
{
	CdcReady   *r;
	MemoryContext old;

	if (!streamed && cdc_dec.ready != NIL)
	{
		r = llast(cdc_dec.ready);
		if (!r->streamed)
			return r;
	}
	old = MemoryContextSwitchTo(cdc_dec.context);
	r = palloc0(sizeof(CdcReady));
	r->streamed = streamed;
	cdc_dec.ready = lappend(cdc_dec.ready, r);
	MemoryContextSwitchTo(old);
	return r;
}

/* An int64 field of a control message, or 0 */
static int64
CdcControlInt(const bson_t *msg, const char *name)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, msg, name) && BSON_ITER_HOLDS_INT64(&it))
		return bson_iter_int64(&it);
	return 0;
}

/* An LSN field of a control message (pg_lsn text), or InvalidXLogRecPtr */
static XLogRecPtr
CdcControlLsn(const bson_t *msg, const char *name)
{
	bson_iter_t it;
	uint32		hi;
	uint32		lo;

	if (bson_iter_init_find(&it, msg, name) && BSON_ITER_HOLDS_UTF8(&it) &&
		sscanf(bson_iter_utf8(&it, NULL), "%X/%X", &hi, &lo) == 2)
		return ((XLogRecPtr) hi << 32) | lo;
	return InvalidXLogRecPtr;
}

/* A control message of a streamed transaction (cdc_output.c) */
static void
CdcDecoderControl(const bson_t *msg, const char *kind)
{
	TransactionId xid = (TransactionId) CdcControlInt(msg, "xid");
	CdcStreamTxn *txn;
	bool		found;


	if (strcmp(kind, "start") == 0)
	{
		txn = hash_search(cdc_dec.streams, &xid, HASH_ENTER, &found);
		if (!found)
		{
			memset(&txn->spool, 0, sizeof(txn->spool));
			txn->aborted = NIL;
		}
		cdc_dec.in_stream = xid;
		return;
	}
	if (strcmp(kind, "stop") == 0)
	{
		cdc_dec.in_stream = InvalidTransactionId;
		return;
	}
	txn = hash_search(cdc_dec.streams, &xid, HASH_FIND, NULL);
	if (txn == NULL)
		return;					/* nothing of it was streamed here */
	if (strcmp(kind, "abort") == 0)
	{
		TransactionId subxid = (TransactionId) CdcControlInt(msg, "subxid");
		XLogRecPtr	first = CdcControlLsn(msg, "firstLsn");
		XLogRecPtr	last = CdcControlLsn(msg, "abortLsn");

		if (subxid == xid)
		{
			CdcSpoolFree(&txn->spool);
			list_free_deep(txn->aborted);
			hash_search(cdc_dec.streams, &xid, HASH_REMOVE, NULL);
		}
		else if (first != InvalidXLogRecPtr && last != InvalidXLogRecPtr)
		{
			MemoryContext old = MemoryContextSwitchTo(cdc_dec.context);
			CdcLsnRange *range = palloc(sizeof(CdcLsnRange));

			range->first = first;
			range->last = last;
			txn->aborted = lappend(txn->aborted, range);
			MemoryContextSwitchTo(old);
		}
	}
	else if (strcmp(kind, "commit") == 0)
	{
		CdcReady   *r = CdcReadyTail(true);
		bson_iter_t it;

		r->commit_lsn = CdcControlLsn(msg, "commitLsn");
		r->commit_time = 0;
		if (bson_iter_init_find(&it, msg, "wallTime") && BSON_ITER_HOLDS_DATE_TIME(&it))
			r->commit_time = bson_iter_date_time(&it) * 1000 - CDC_EPOCH_OFFSET_USECS;
		r->spool = txn->spool;
		r->aborted = txn->aborted;
		cdc_dec.ready_events += r->spool.events;
		hash_search(cdc_dec.streams, &xid, HASH_REMOVE, NULL);
	}
}

static void
CdcDecoderPrepareWrite(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid,
					   bool last_write)
{
	resetStringInfo(ctx->out);
}

/* A message of the plugin: an event, or a control message of a stream */
static void
CdcDecoderWrite(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid,
				bool last_write)
{
	bson_t		msg;
	bson_iter_t it;

	if (!bson_init_static(&msg, (const uint8_t *) ctx->out->data, ctx->out->len) ||
		!bson_iter_init(&it, &msg) || !bson_iter_next(&it))
		elog(ERROR, "the change stream decoder got an invalid message");
	if (strcmp(bson_iter_key(&it), "stream") == 0 && BSON_ITER_HOLDS_UTF8(&it))
		CdcDecoderControl(&msg, bson_iter_utf8(&it, NULL));
	else if (TransactionIdIsValid(cdc_dec.in_stream))
	{
		CdcStreamTxn *txn = hash_search(cdc_dec.streams, &cdc_dec.in_stream,
										HASH_FIND, NULL);

		if (txn == NULL)
			elog(ERROR, "change of unknown streamed transaction %u", cdc_dec.in_stream);
		CdcSpoolAppend(&txn->spool, lsn, ctx->out->data, ctx->out->len);
	}
	else
	{
		CdcSpoolAppend(&CdcReadyTail(false)->spool, lsn, ctx->out->data, ctx->out->len);
		cdc_dec.ready_events++;
	}
}

/* The commit LSN in an event's resume token, or InvalidXLogRecPtr */
static XLogRecPtr
CdcEventCommitLsn(const bson_t *event, const char **token, const char **db,
				  const char **coll)
{
	bson_iter_t it;
	bson_iter_t child;
	uint64		lsn;

	*token = *db = *coll = NULL;
	if (bson_iter_init(&it, event) &&
		bson_iter_find_descendant(&it, "_id._data", &child) &&
		BSON_ITER_HOLDS_UTF8(&child))
		*token = bson_iter_utf8(&child, NULL);
	if (bson_iter_init(&it, event) &&
		bson_iter_find_descendant(&it, "ns.db", &child) && BSON_ITER_HOLDS_UTF8(&child))
		*db = bson_iter_utf8(&child, NULL);
	if (bson_iter_init(&it, event) &&
		bson_iter_find_descendant(&it, "ns.coll", &child) && BSON_ITER_HOLDS_UTF8(&child))
		*coll = bson_iter_utf8(&child, NULL);
	if (*token == NULL || *db == NULL ||
		sscanf(*token, "%16" SCNx64, &lsn) != 1)
		return InvalidXLogRecPtr;
	return (XLogRecPtr) lsn;
}

/* Rows for the log, CDC_INSERT_ROWS at a time */
typedef struct CdcLogBatch
{
	int			n;
	Datum		tokens[CDC_INSERT_ROWS];
	Datum		dbs[CDC_INSERT_ROWS];
	Datum		colls[CDC_INSERT_ROWS];
	bool		coll_nulls[CDC_INSERT_ROWS];
	Datum		events[CDC_INSERT_ROWS];
	int64		logged;
} CdcLogBatch;

static void
CdcLogBatchFlush(CdcLogBatch *b)
{
	Datum		args[4];
	int			dims[1];
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			rc;

	if (b->n == 0)
		return;
	dims[0] = b->n;
	get_typlenbyvalalign(BsonTypeOid(), &typlen, &typbyval, &typalign);
	args[0] = PointerGetDatum(construct_array(b->tokens, b->n, TEXTOID, -1, false, TYPALIGN_INT));
	args[1] = PointerGetDatum(construct_array(b->dbs, b->n, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_md_array(b->colls, b->coll_nulls, 1, dims, lbs,
												 TEXTOID, -1, false, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(b->events, b->n, BsonTypeOid(), typlen,
											  typbyval, typalign));
	rc = SPI_execute_plan(cdc_dec.insert, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert into nosql.change_log: %s", SPI_result_code_string(rc));
	b->logged += SPI_processed;
	for (int i = 0; i < b->n; i++)
	{
		pfree(DatumGetPointer(b->tokens[i]));
		pfree(DatumGetPointer(b->dbs[i]));
		if (!b->coll_nulls[i])
			pfree(DatumGetPointer(b->colls[i]));
		pfree(DatumGetPointer(b->events[i]));
	}
	for (int i = 0; i < 4; i++)
		pfree(DatumGetPointer(args[i]));
	b->n = 0;
}

/* Whether a streamed event lies in an aborted subtransaction */
static bool
CdcLsnAborted(List *aborted, XLogRecPtr lsn)
{
	ListCell   *lc;

	foreach(lc, aborted)
	{
		CdcLsnRange *range = lfirst(lc);

		if (lsn >= range->first && lsn < range->last)
			return true;
	}
	return false;
}

/*
 * Whether this process is marked as doing logical decoding.  Decoding
 * (CreateDecodingContext) marks it so that its snapshots do not hold back
 * the removal of dead rows (the slot's catalog_xmin does that), and the
 * mark also keeps the process out of everyone's snapshots, its
 * transaction ID included: a transaction of the decoder that writes while
 * marked would look finished to other snapshots before it commits, and a
 * reader that saw its rows then would hint them as aborted, for ever.  So
 * the decoder drops the mark for the transactions that write the log (a
 * walsender never writes; pg_logical_slot_get_changes drops it as it
 * releases the slot).
 */
static void
CdcMarkDecoding(bool decoding)
{
	LWLockAcquire(ProcArrayLock, LW_EXCLUSIVE);
	if (decoding)
		MyProc->statusFlags |= PROC_IN_LOGICAL_DECODING;
	else
		MyProc->statusFlags &= ~PROC_IN_LOGICAL_DECODING;
	ProcGlobal->statusFlags[MyProc->pgxactoff] = MyProc->statusFlags;
	LWLockRelease(ProcArrayLock);
}

/*
 * Log the queue of committed events in one transaction.  Returns how many
 * rows went in, or -1 when the extension is gone (the decoder then exits).
 */
static int64
CdcDecoderLog(XLogRecPtr *commit_end)
{
	Oid			types[4];
	CdcLogBatch *b;
	ListCell   *lc;
	int64		logged;
	CdcRingPending pending;

	/* the log's "logged" (now()) is this transaction's time */
	CdcMarkDecoding(false);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!CdcExtensionInstalled())
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		return -1;
	}
	pgstat_report_activity(STATE_RUNNING, "nosql cdc log");
	SPI_connect();
	if (cdc_dec.insert == NULL)
	{
		types[0] = types[1] = types[2] = TEXTARRAYOID;
		types[3] = get_array_type(BsonTypeOid());
		cdc_dec.insert = SPI_prepare("INSERT INTO nosql.change_log (token, database, coll, event)"
									 " SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
									 " pg_catalog.unnest($3), pg_catalog.unnest($4))"
									 " ON CONFLICT (token) DO NOTHING", 4, types);
		if (cdc_dec.insert == NULL || SPI_keepplan(cdc_dec.insert) != 0)
			elog(ERROR, "could not prepare the change log's insert");
	}
	b = palloc0(sizeof(CdcLogBatch));
	memset(&pending, 0, sizeof(pending));
	pending.cxt = cdc_dec.context;
	foreach(lc, cdc_dec.ready)
	{
		CdcReady   *r = lfirst(lc);
		CdcSpoolRecord rec;
		char	   *data;

		if (r->streamed && r->commit_lsn <= cdc_dec.skip_lsn)
			continue;			/* logged before a crash */
		CdcSpoolRewind(&r->spool);
		while (CdcSpoolNext(&r->spool, &rec, &data))
		{
			bson_t		event;
			const char *token;
			const char *db;
			const char *coll;
			XLogRecPtr	commit;

			if (r->streamed)
			{
				if (CdcLsnAborted(r->aborted, rec.lsn))
					continue;
				if (!CdcSettleStreamedEvent((uint8_t *) data, rec.len, r->commit_lsn,
											r->commit_time))
					continue;	/* not a collection event */
			}
			if (!bson_init_static(&event, (const uint8_t *) data, rec.len))
				elog(ERROR, "invalid event in the change stream decoder's queue");
			commit = CdcEventCommitLsn(&event, &token, &db, &coll);
			if (commit == InvalidXLogRecPtr)
			{
				/* never: an event without a position, or not of a collection */
				elog(WARNING, "change stream event without position in the decoder's queue");
				continue;
			}
			if (commit <= cdc_dec.skip_lsn)
				continue;
			b->tokens[b->n] = CStringGetTextDatum(token);
			b->dbs[b->n] = CStringGetTextDatum(db);
			b->coll_nulls[b->n] = coll == NULL;
			b->colls[b->n] = coll != NULL ? CStringGetTextDatum(coll) : (Datum) 0;
			b->events[b->n] = PointerGetDatum(BsonFromDocument(&event, false));
			CdcRingPendingAdd(&pending, token, db, coll, bson_get_data(&event), event.len);
			if (++b->n == CDC_INSERT_ROWS)
				CdcLogBatchFlush(b);
		}
	}
	CdcLogBatchFlush(b);
	logged = b->logged;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* visible in the log: into the ring, before "copied" moves past them */
	CdcRingPublish(cdc_me - cdc_watch->decoders, &pending);
	CdcMarkDecoding(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	*commit_end = XactLastCommitEnd;

	foreach(lc, cdc_dec.ready)
	{
		CdcReady   *r = lfirst(lc);

		CdcSpoolFree(&r->spool);
		list_free_deep(r->aborted);
	}
	list_free_deep(cdc_dec.ready);
	cdc_dec.ready = NIL;
	cdc_dec.ready_events = 0;
	return logged;
}

/*
 * The commit LSN of the log's newest event: what a restart must not log
 * again; its token into newest ("" when the log is empty).
 */
static XLogRecPtr
CdcLoggedUpTo(char *newest)
{
	int			rc;
	XLogRecPtr	result = InvalidXLogRecPtr;

	rc = SPI_execute("SELECT max(token) FROM nosql.change_log", true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read nosql.change_log");
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		uint64		lsn;

		newest[0] = '\0';
		if (!isnull)
			strlcpy(newest, TextDatumGetCString(d), CDC_TOKEN_LEN + 1);
		if (!isnull && sscanf(TextDatumGetCString(d), "%16" SCNx64, &lsn) == 1)
			result = (XLogRecPtr) lsn;
	}
	return result;
}

void
nosql_cdc_decoder_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	char		slot[NAMEDATALEN];
	LogicalDecodingContext *ctx;
	List	   *options;
	HASHCTL		hctl;
	bool		historic = false;	/* the caches hold decoding's entries */
	char		newest[CDC_TOKEN_LEN + 1];
	char		horizon[CDC_TOKEN_LEN + 1];
	XLogRecPtr	confirm_at = InvalidXLogRecPtr;	/* to confirm when flushed */
	TimestampTz gather_since = 0;	/* the first event gathered, or 0 */
	XLogRecPtr	confirm_needs = InvalidXLogRecPtr;
	XLogRecPtr	confirmed = InvalidXLogRecPtr;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	SpinLockAcquire(&cdc_watch->mutex);
	cdc_me = CdcFindDecoder(dboid);
	if (cdc_me != NULL && cdc_me->pid == 0)
	{
		cdc_me->pid = MyProcPid;
		cdc_me->latch = MyLatch;
		cdc_me->ready = false;
	}
	else
		cdc_me = NULL;			/* another one runs, or we were given up */
	SpinLockRelease(&cdc_watch->mutex);
	if (cdc_me == NULL)
		proc_exit(0);
	before_shmem_exit(CdcDecoderDetach, (Datum) 0);
	cdc_prev_emit_log_hook = emit_log_hook;
	emit_log_hook = CdcEmitLogHook;

	/* the log's commits are flushed before the slot moves past them */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	CdcSlotName(slot, dboid);

	cdc_dec.context = AllocSetContextCreate(TopMemoryContext, "nosql cdc decoder",
											ALLOCSET_DEFAULT_SIZES);
	hctl.keysize = sizeof(TransactionId);
	hctl.entrysize = sizeof(CdcStreamTxn);
	hctl.hcxt = cdc_dec.context;
	cdc_dec.streams = hash_create("nosql cdc streamed transactions", 16, &hctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	cdc_dec.buf_size = 8192;
	cdc_dec.buf = MemoryContextAlloc(cdc_dec.context, cdc_dec.buf_size);

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!CdcExtensionInstalled())
		proc_exit(0);
	SPI_connect();
	CdcDecoderSetUp(slot);
	cdc_dec.skip_lsn = CdcLoggedUpTo(newest);
	CdcReadHorizon(horizon);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* the ring may lack every event logged before this decoder */
	CdcRingAttach(cdc_me - cdc_watch->decoders, dboid, newest, horizon);

	/* the slot, and one decoding context on it, for the decoder's life */
	CdcQuietDecoding(true);
	ReplicationSlotAcquire(slot, true);
	options = list_make5(makeDefElem("format", (Node *) makeString("bson"), -1),
						 makeDefElem("include_kv", (Node *) makeString("false"), -1),
						 makeDefElem("include_timeseries", (Node *) makeString("false"), -1),
						 makeDefElem("full_document_before_change", (Node *) makeString("on"), -1),
						 makeDefElem("stream_changes", (Node *) makeString("on"), -1));
	/* the log keeps the expanded events; a read without them strips them */
	options = lappend(options, makeDefElem("show_expanded_events", (Node *) makeString("on"), -1));
	ctx = CreateDecodingContext(InvalidXLogRecPtr, options, false,
								XL_ROUTINE(.page_read = read_local_xlog_page,
										   .segment_open = wal_segment_open,
										   .segment_close = wal_segment_close),
								CdcDecoderPrepareWrite, CdcDecoderWrite, NULL);
	if (XLogRecPtrIsInvalid(MyReplicationSlot->data.restart_lsn))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("replication slot \"%s\" has no WAL to decode", slot),
				 errdetail("It never reserved WAL, or it was invalidated."),
				 errhint("Drop the slot: the next watcher creates it again (resuming from before is then history lost).")));
	XLogBeginRead(ctx->reader, MyReplicationSlot->data.restart_lsn);
	confirmed = MyReplicationSlot->data.confirmed_flush;
	CdcQuietDecoding(false);

	SpinLockAcquire(&cdc_watch->mutex);
	cdc_me->ready = true;
	SpinLockRelease(&cdc_watch->mutex);
	ConditionVariableBroadcast(&cdc_watch->decoded);
	ereport(LOG, (errmsg("nosql change stream decoder started on slot \"%s\"", slot)));

	for (;;)
	{
		XLogRecPtr	flush;
		XLogRecPtr	at;
		int64		logged = 0;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* decode what is flushed, until enough events wait to be logged */
		flush = GetFlushRecPtr(NULL);
		CdcQuietDecoding(true);
		while (ctx->reader->EndRecPtr < flush &&
			   cdc_dec.ready_events < CDC_DECODE_BATCH)
		{
			XLogRecord *record;
			char	   *errm = NULL;

			if (!historic)
			{
				InvalidateSystemCaches();
				historic = true;
			}
			record = XLogReadRecord(ctx->reader, &errm);
			if (errm != NULL)
				elog(ERROR, "could not read WAL for change streams: %s", errm);
			if (record != NULL)
				LogicalDecodingProcessRecord(ctx, ctx->reader);
			CHECK_FOR_INTERRUPTS();
		}
		CdcQuietDecoding(false);
		at = ctx->reader->EndRecPtr;

		/*
		 * With many streams open, every logged batch wakes them all, and
		 * each wake-up costs every watcher a context switch and a read for
		 * what is often one event.  Gather committed events for up to
		 * nosql.change_stream_gather_delay after the first of them (going
		 * on decoding what comes meanwhile), as commit_delay does with
		 * commit_siblings: each wake-up then delivers several events, and
		 * the decoder logs them in one transaction.  Fewer streams than
		 * nosql.change_stream_gather_watchers get every batch at once.
		 */
		if (cdc_dec.ready != NIL && cdc_dec.ready_events < CDC_DECODE_BATCH &&
			nosql_change_stream_gather_ms > 0 &&
			CdcWatchersInDatabase(MyDatabaseId) >= nosql_change_stream_gather_watchers)
		{
			TimestampTz now = GetCurrentTimestamp();
			long		wait;

			if (gather_since == 0)
				gather_since = now;
			wait = TimestampDifferenceMilliseconds(now,
												   TimestampTzPlusMilliseconds(gather_since,
																			   nosql_change_stream_gather_ms));
			if (wait > 0)
			{
				if (ctx->reader->EndRecPtr < GetFlushRecPtr(NULL))
					continue;	/* decode what came meanwhile */
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 wait, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				continue;
			}
		}
		gather_since = 0;

		/* log the committed events, then tell the watchers */
		if (cdc_dec.ready != NIL)
		{
			XLogRecPtr	commit_end;

			if (historic)
			{
				InvalidateSystemCaches();
				historic = false;
			}
			logged = CdcDecoderLog(&commit_end);
			if (logged < 0)
			{
				ereport(LOG,
						(errmsg("nosql change stream decoder exiting: the extension is gone")));
				proc_exit(0);
			}
			confirm_needs = commit_end;
		}
		SpinLockAcquire(&cdc_watch->mutex);
		if (logged > 0)
		{
			cdc_me->batches++;
			cdc_me->events += logged;
		}
		/* every transaction that committed before at is logged */
		if (at > cdc_me->copied)
			cdc_me->copied = at;
		SpinLockRelease(&cdc_watch->mutex);
		if (logged > 0)
			ConditionVariableBroadcast(&cdc_watch->decoded);
		if (at > confirm_at)
			confirm_at = at;

		/* the slot moves once the log's commit is on disk */
		if (confirm_at > confirmed && GetFlushRecPtr(NULL) >= confirm_needs)
		{
			LogicalConfirmReceivedLocation(confirm_at);
			ReplicationSlotMarkDirty();
			confirmed = confirm_at;
		}

		if (ctx->reader->EndRecPtr < GetFlushRecPtr(NULL))
			continue;			/* more to decode */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 confirm_at > confirmed ? 100 : CDC_DECODER_NAP_MS,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * Retention, and the database worker's round
 * ---------------------------------------------------------------------
 */

/*
 * Delete the events logged more than keep_secs ago and raise the horizon
 * to the newest deleted token, and its time to the newest deleted
 * wallTime; returns the number deleted.  Needs SPI.
 */
static int64
CdcTrim(int64 keep_secs)
{
	Datum		arg[1];
	Oid			types[1] = {INT8OID};
	int			rc;

	arg[0] = Int64GetDatum(keep_secs);
	rc = SPI_execute_with_args(
							   "WITH d AS (DELETE FROM nosql.change_log"
							   "  WHERE logged < now() - $1 * interval '1 second'"
							   "  RETURNING token, event OPERATOR(nosql.->) 'wallTime' AS wall), "
							   "m AS (SELECT max(token) AS token, count(*) AS n,"
							   "  max(wall::timestamptz) AS wall FROM d), "
							   "u AS (UPDATE nosql.change_stream_horizon h SET token = m.token, since = now(),"
							   "  lost_until = GREATEST(h.lost_until, m.wall)"
							   "  FROM m WHERE m.token IS NOT NULL AND m.token > h.token"
							   "  RETURNING h.token) "
							   "SELECT n, (SELECT token FROM u) FROM m",
							   1, types, arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "change log retention failed: %s", SPI_result_code_string(rc));
	{
		bool		isnull;
		Datum		horizon = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											2, &isnull);

		/* the ring's readers see it now, before the commit: never late */
		if (!isnull)
			CdcRingRaiseHorizon(MyDatabaseId, TextDatumGetCString(horizon));
		return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										   1, &isnull));
	}
}

static void
CdcRoundBody(void *arg)
{
	char		slot[NAMEDATALEN];
	bool		running;
	CdcDecoder *d;

	if (!CdcExtensionInstalled())
		return;
	(void) CdcTrim(nosql_change_log_retention);

	/* a slot nobody decodes keeps WAL: restart its decoder */
	CdcSlotName(slot, MyDatabaseId);
	if (cdc_watch == NULL || SearchNamedReplicationSlot(slot, true) == NULL)
		return;
	SpinLockAcquire(&cdc_watch->mutex);
	d = CdcFindDecoder(MyDatabaseId);
	running = d != NULL;
	SpinLockRelease(&cdc_watch->mutex);
	if (!running)
		(void) CdcDecoderStart();
}

/*
 * CdcWatchRound
 *		The database worker's periodic job: retention of the change log,
 *		and a decoder for a slot that has none (after a restart).
 */
void
CdcWatchRound(void)
{
	(void) WorkerTransaction(CdcRoundBody, NULL);
}

/*
 * nosql.change_log_trim(keep interval DEFAULT NULL) RETURNS bigint —
 * apply retention now: delete the events logged longer than keep ago
 * (NULL: nosql.change_log_retention) and move the horizon past them.
 */
PG_FUNCTION_INFO_V1(change_log_trim);
Datum
change_log_trim(PG_FUNCTION_ARGS)
{
	int64		keep = nosql_change_log_retention;
	int64		n;

	if (!PG_ARGISNULL(0))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(0);

		keep = (int64) (iv->time / USECS_PER_SEC) +
			(int64) iv->day * SECS_PER_DAY + (int64) iv->month * 30 * SECS_PER_DAY;
	}
	SPI_connect();
	n = CdcTrim(keep);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* ---------------------------------------------------------------------
 * nosql.watch
 * ---------------------------------------------------------------------
 */

/* How a watcher asked for fullDocument */
typedef enum CdcFullDocument
{
	CDC_FULL_DEFAULT,
	CDC_FULL_UPDATE_LOOKUP,
	CDC_FULL_WHEN_AVAILABLE,
	CDC_FULL_REQUIRED
} CdcFullDocument;

/* How a watcher asked for fullDocumentBeforeChange */
typedef enum CdcBeforeChange
{
	CDC_BEFORE_OFF,
	CDC_BEFORE_WHEN_AVAILABLE,
	CDC_BEFORE_REQUIRED
} CdcBeforeChange;

/* The names of CdcFullDocument's and CdcBeforeChange's values, in order */
static const char *const cdc_full_names[] = {
	"default", "updateLookup", "whenAvailable", "required", NULL
};
static const char *const cdc_before_names[] = {
	"off", "whenAvailable", "required", NULL
};

/* The position of value in names (NULL-terminated); BadValue naming field */
static int
CdcEnumValue(const char *value, const char *const *names, const char *field)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	MongoRaise(MONGO_BAD_VALUE,
			   "Enumeration value '%s' for field '%s' is not a valid value.", value, field);
	return -1;					/* keep the compiler quiet */
}

typedef struct CdcWatchSpec
{
	char	   *db;				/* NULL: every database */
	char	   *coll;			/* NULL: every collection */
	AggChain   *chain;			/* NULL: no pipeline */
	CdcFullDocument full;
	CdcBeforeChange before;
	bool		expanded;		/* showExpandedEvents */
	char		after[CDC_TOKEN_LEN + 1];	/* events after this token */
	Oid			log_owner;
	bool		see_dropped;	/* may see events of dropped collections */
	bool		inclusive;		/* the next read also looks at the event at after */
	bool		invalidated;	/* the stream ended with an invalidate */
	Bson	   *at_time;		/* startAtOperationTime not yet found, or NULL */
	uint32		at_seconds;		/* its seconds */
	int			watcher;		/* slot in the registry (cdc_watchers.c), 0: none */
	ReturnSetInfo *rsinfo;		/* nosql.watch: the events go here */
	bson_t	   *batch;			/* $changeStream: or into this array */
	int64		limit;			/* $changeStream: at most this many, 0: all */
	int			nbatch;			/* events in batch */
	MemoryContext batch_cxt;	/* where batch grows */
	List	   *queue;			/* nosql.watch_stream: or onto this list */
	int			read_cap;		/* events read from the log at a time, 0: all */
	List	   *access;			/* CdcNsAccess of the namespaces seen */
	uint64		ring_version;	/* the last read saw the ring's every event
								 * up to this count; 0: not, or not read */
	MemoryContext access_cxt;	/* where access lives */
} CdcWatchSpec;

/* Whether the caller may see a namespace's events, as last checked */
typedef struct CdcNsAccess
{
	char	   *db;
	char	   *coll;
	bool		allowed;
} CdcNsAccess;

/* The _data of a resume token document, checked; into buf */
static void
CdcParseTokenDoc(const bson_t *doc, const char *name, char *buf)
{
	bson_iter_t it;
	const char *data;
	uint32_t	len;

	if (!bson_iter_init_find(&it, doc, "_data") || !BSON_ITER_HOLDS_UTF8(&it))
		MongoRaise(MONGO_FAILED_TO_PARSE_CODE,
				   "Bad resume token: _data of missing or of wrong type in %s", name);
	data = bson_iter_utf8(&it, &len);
	if (len != CDC_TOKEN_LEN || strspn(data, "0123456789ABCDEFabcdef") != CDC_TOKEN_LEN)
		MongoRaise(MONGO_FAILED_TO_PARSE_CODE,
				   "Bad resume token: _data \"%s\" in %s is not a nosql resume token (%d hex digits)",
				   data, name, CDC_TOKEN_LEN);
	for (int i = 0; i < CDC_TOKEN_LEN; i++)
		buf[i] = pg_toupper((unsigned char) data[i]);
	buf[CDC_TOKEN_LEN] = '\0';
}

/* The _data of a resume token argument, checked; into buf */
static void
CdcParseToken(const Bson *arg, const char *name, char *buf)
{
	bson_t		doc;
	bson_iter_t holder_it;
	bson_t		holder;

	if (BsonValueIter(arg, &holder_it, &holder) ||
		!bson_init_static(&doc, BsonBytes(arg), BsonDocLen(arg)))
		MongoRaise(MONGO_TYPE_MISMATCH, "%s must be an object", name);
	CdcParseTokenDoc(&doc, name, buf);
}

/* startAtOperationTime from a BSON timestamp: the value searched for */
static void
CdcSetStartTime(CdcWatchSpec *spec, const bson_iter_t *it)
{
	bson_value_t v;

	memset(&v, 0, sizeof(v));
	v.value_type = BSON_TYPE_TIMESTAMP;
	bson_iter_timestamp(it, &v.value.v_timestamp.timestamp,
						&v.value.v_timestamp.increment);
	spec->at_time = BsonFromValue(&v);
	spec->at_seconds = v.value.v_timestamp.timestamp;
}

/*
 * The stages of array after the first skip ones as a chain of streaming
 * stages, checked; NULL when there are none.
 */
static AggChain *
CdcCompileStages(const bson_t *array, int skip)
{
	bson_iter_t stages;
	bson_t		desc;
	bson_t		rest;
	AggChain   *chain;
	int			n = 0;
	int			i = 0;

	bson_init(&desc);
	bson_append_array_begin(&desc, "s", 1, &rest);
	bson_iter_init(&stages, array);
	while (bson_iter_next(&stages))
	{
		bson_iter_t stage;
		const char *name;
		char		key[16];

		if (i++ < skip)
			continue;
		if (!BSON_ITER_HOLDS_DOCUMENT(&stages))
			MongoRaise(AGG_ERR_STAGE_NOT_OBJECT, "Each element of the 'pipeline' array must be an object");
		bson_iter_recurse(&stages, &stage);
		if (!bson_iter_next(&stage))
			MongoRaise(AGG_ERR_STAGE_ONE_FIELD, "A pipeline stage specification object must contain exactly one field.");
		name = bson_iter_key(&stage);
		{
			bson_iter_t more = stage;

			if (bson_iter_next(&more))
				MongoRaise(AGG_ERR_STAGE_ONE_FIELD, "A pipeline stage specification object must contain exactly one field.");
		}
		if (strcmp(name, "$changeStream") == 0)
			MongoRaise(MONGO_CHANGE_STREAM_NOT_FIRST,
					   "$changeStream is only valid as the first stage in a pipeline.");
		if (strcmp(name, "$match") != 0 && strcmp(name, "$project") != 0 &&
			strcmp(name, "$addFields") != 0 && strcmp(name, "$set") != 0 &&
			strcmp(name, "$unset") != 0 && strcmp(name, "$replaceRoot") != 0 &&
			strcmp(name, "$replaceWith") != 0 && strcmp(name, "$redact") != 0)
		{
			if (name[0] != '$' || !AggStageKnown(name))
				MongoRaise(AGG_ERR_UNKNOWN_STAGE, "Unrecognized pipeline stage name: '%s'", name);
			MongoRaise(MONGO_ILLEGAL_OPERATION,
					   "%s is not permitted in a $changeStream pipeline", name);
		}
		AggStageValidate(name, &stage, NULL);
		snprintf(key, sizeof(key), "%d", n++);
		bson_append_iter(&rest, key, -1, &stages);
	}
	bson_append_array_end(&desc, &rest);
	if (n == 0)
	{
		bson_destroy(&desc);
		return NULL;
	}
	chain = AggChainCompile(bson_get_data(&desc), desc.len);
	bson_destroy(&desc);
	return chain;
}

/* The pipeline argument as a chain of streaming stages, checked */
static AggChain *
CdcCompilePipeline(const Bson *pipeline)
{
	bson_iter_t it;
	bson_t		holder;
	bson_t		array;
	const uint8_t *data;
	uint32_t	len;

	if (!BsonValueIter(pipeline, &it, &holder) || !BSON_ITER_HOLDS_ARRAY(&it))
		MongoRaise(MONGO_TYPE_MISMATCH, "the pipeline of a change stream must be an array");
	bson_iter_array(&it, &len, &data);
	if (!bson_init_static(&array, data, len))
		elog(ERROR, "corrupt pipeline");
	return CdcCompileStages(&array, 0);
}

/* The owner of a relation in schema nosql */
static Oid
CdcNosqlRelation(const char *name, Oid *owner)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("nosql", (char *) name, -1), NoLock, false);
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	*owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return relid;
}

/* The horizon token, read as the log's owner (into buf) */
static void
CdcReadHorizon(char *buf)
{
	int			rc;
	bool		isnull;

	static SPIPlanPtr plan = NULL;

	/* planned once per process: watchers read after every batch */
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT token FROM nosql.change_stream_horizon", 0, NULL);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the change stream horizon's read");
		plan = p;
	}
	rc = SPI_execute_plan(plan, NULL, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read nosql.change_stream_horizon");
	if (SPI_processed == 0)
	{
		buf[0] = '\0';
		return;
	}
	strlcpy(buf, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull)),
			CDC_TOKEN_LEN + 1);
}

/*
 * The document of a collection by _id, read with the caller's rights, or
 * NULL when it is gone.
 */
static Bson *
CdcLookup(const char *db, const char *coll, const bson_iter_t *id)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, TEXTOID};
	bool		isnull;
	Oid			relid;
	char	   *sql;
	int			rc;
	Bson	   *result = NULL;
	Oid			bson_type;

	args[0] = CStringGetTextDatum(db);
	args[1] = CStringGetTextDatum(coll);
	rc = SPI_execute_with_args("SELECT relation::oid FROM nosql.collection WHERE database = $1 AND name = $2",
							   2, types, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		return NULL;
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										   1, &isnull));
	if (isnull)
		return NULL;
	sql = psprintf("SELECT document FROM %s WHERE _id OPERATOR(nosql.=) $1",
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											  get_rel_name(relid)));
	bson_type = TypenameGetTypid("bson");
	if (!OidIsValid(bson_type))
		bson_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									CStringGetDatum("bson"),
									ObjectIdGetDatum(get_namespace_oid("nosql", false)));
	types[0] = bson_type;
	args[0] = PointerGetDatum(BsonFromIter(id));
	rc = SPI_execute_with_args(sql, 1, types, args, NULL, true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = (Bson *) SPI_datumTransfer(d, false, -1);
	}
	return result;
}

/* fullDocument: the document looked up, or null */
static void
CdcAppendFullDocument(bson_t *out, const Bson *doc)
{
	if (doc != NULL)
	{
		bson_t		d;

		if (!bson_init_static(&d, BsonBytes(doc), BsonDocLen(doc)))
			elog(ERROR, "corrupt bson document");
		bson_append_document(out, "fullDocument", -1, &d);
	}
	else
		bson_append_null(out, "fullDocument", -1);
}

/*
 * fullDocument for an update event, as the watcher asked: the event with
 * the current document (or null) in its fullDocument field.
 */
static Bson *
CdcFullDocumentLookup(const CdcWatchSpec *spec, Bson *event)
{
	bson_t		in;
	bson_t		out;
	bson_iter_t it;
	bson_iter_t op;
	bson_iter_t id;
	const char *db = NULL;
	const char *coll = NULL;
	Bson	   *doc;
	Bson	   *result;
	bool		placed = false;

	if (spec->full == CDC_FULL_DEFAULT)
		return event;
	if (!bson_init_static(&in, BsonBytes(event), BsonDocLen(event)) ||
		!bson_iter_init_find(&op, &in, "operationType") || !BSON_ITER_HOLDS_UTF8(&op) ||
		strcmp(bson_iter_utf8(&op, NULL), "update") != 0)
		return event;
	if (bson_iter_init(&it, &in) && bson_iter_find_descendant(&it, "ns.coll", &id) &&
		BSON_ITER_HOLDS_UTF8(&id))
		coll = bson_iter_utf8(&id, NULL);
	if (bson_iter_init(&it, &in) && bson_iter_find_descendant(&it, "ns.db", &id) &&
		BSON_ITER_HOLDS_UTF8(&id))
		db = bson_iter_utf8(&id, NULL);
	doc = NULL;
	if (db != NULL && coll != NULL && bson_iter_init(&it, &in) &&
		bson_iter_find_descendant(&it, "documentKey._id", &id))
		doc = CdcLookup(db, coll, &id);
	if (doc == NULL && spec->full == CDC_FULL_REQUIRED)
		MongoRaise(MONGO_NO_MATCHING_DOCUMENT,
				   "Change stream was configured to require a post-image for all update, delete and replace events, but the post-image was not found for an event on %s.%s",
				   db ? db : "", coll ? coll : "");

	bson_init(&out);
	bson_iter_init(&it, &in);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		/* in place of the event's own, or else before ns, as MongoDB's */
		if (strcmp(key, "fullDocument") == 0 || (!placed && strcmp(key, "ns") == 0))
		{
			if (!placed)
				CdcAppendFullDocument(&out, doc);
			placed = true;
			if (strcmp(key, "fullDocument") == 0)
				continue;
		}
		bson_append_iter(&out, NULL, 0, &it);
	}
	if (!placed)
		CdcAppendFullDocument(&out, doc);
	result = BsonFromDocument(&out, false);
	bson_destroy(&out);
	return result;
}

static const char *CdcEventString(const bson_t *doc, const char *path);

/*
 * The wallTime (milliseconds since the Unix epoch) before which events'
 * pre-images have expired, by the cluster parameter changeStreamOptions'
 * preAndPostImages.expireAfterSeconds; PG_INT64_MIN when it is "off" or
 * the watcher does not want pre-images.  Once per read.
 */
static int64
CdcPreImageCutoff(const CdcWatchSpec *spec)
{
	int64		expire;

	if (spec->before == CDC_BEFORE_OFF)
		return PG_INT64_MIN;
	expire = ClusterParameterPreImageExpiry();
	if (expire <= 0)
		return PG_INT64_MIN;
	return GetCurrentTimestamp() / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000 -
		Min(expire, PG_INT64_MAX / 1000 / 2) * 1000;
}

/*
 * fullDocumentBeforeChange as the watcher asked: the log keeps the
 * pre-image the plugin found (a collection with pre-images enabled);
 * "off" takes it out of the event, "whenAvailable" leaves the event as it
 * is, "required" fails on an update, replace or delete event without one.
 * A pre-image of an event whose wallTime is before cutoff has expired
 * (changeStreamOptions): null for "whenAvailable", missing for "required".
 */
static Bson *
CdcPreImage(const CdcWatchSpec *spec, Bson *event, int64 cutoff)
{
	bson_t		in;
	bson_t		out;
	bson_iter_t it;
	bson_iter_t wall;
	bool		has;
	bool		expired;
	Bson	   *result;

	if (!bson_init_static(&in, BsonBytes(event), BsonDocLen(event)))
		return event;
	has = bson_iter_init_find(&it, &in, "fullDocumentBeforeChange");
	expired = has && cutoff != PG_INT64_MIN &&
		bson_iter_init_find(&wall, &in, "wallTime") && BSON_ITER_HOLDS_DATE_TIME(&wall) &&
		bson_iter_date_time(&wall) < cutoff;
	if (spec->before == CDC_BEFORE_WHEN_AVAILABLE)
	{
		bson_iter_t f;

		if (!expired)
			return event;
		/* in its place (last), as null */
		bson_init(&out);
		bson_iter_init(&f, &in);
		while (bson_iter_next(&f))
		{
			if (strcmp(bson_iter_key(&f), "fullDocumentBeforeChange") == 0)
				BSON_APPEND_NULL(&out, "fullDocumentBeforeChange");
			else
				bson_append_iter(&out, NULL, 0, &f);
		}
		result = BsonFromDocument(&out, false);
		bson_destroy(&out);
		return result;
	}
	if (spec->before == CDC_BEFORE_REQUIRED)
	{
		const char *op = CdcEventString(&in, "operationType");

		if ((!has || expired) && op != NULL &&
			(strcmp(op, "update") == 0 || strcmp(op, "replace") == 0 ||
			 strcmp(op, "delete") == 0))
		{
			const char *db = CdcEventString(&in, "ns.db");
			const char *coll = CdcEventString(&in, "ns.coll");

			MongoRaise(MONGO_NO_MATCHING_DOCUMENT,
					   "Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not found for an event on %s.%s",
					   db ? db : "", coll ? coll : "");
		}
		return event;
	}
	if (!has)
		return event;
	bson_init(&out);
	bson_copy_to_excluding_noinit(&in, &out, "fullDocumentBeforeChange", NULL);
	result = BsonFromDocument(&out, false);
	bson_destroy(&out);
	return result;
}

/* An event's resume token _data (in the event's bytes) */
static const char *
CdcEventToken(const Bson *event)
{
	bson_t		doc;
	bson_iter_t it;
	bson_iter_t data;

	if (bson_init_static(&doc, BsonBytes(event), BsonDocLen(event)) &&
		bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "_id._data", &data) &&
		BSON_ITER_HOLDS_UTF8(&data))
		return bson_iter_utf8(&data, NULL);
	return "";
}

/* A string field of an event, by dotted path, or NULL */
static const char *
CdcEventString(const bson_t *doc, const char *path)
{
	bson_iter_t it;
	bson_iter_t found;

	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
		BSON_ITER_HOLDS_UTF8(&found))
		return bson_iter_utf8(&found, NULL);
	return NULL;
}

/*
 * Whether an event ends the stream, as MongoDB's invalidate: the drop or
 * rename of the watched collection, the drop of the watched database.
 */
static bool
CdcInvalidates(const CdcWatchSpec *spec, const Bson *event)
{
	bson_t		doc;
	const char *op;
	const char *db;
	const char *coll;

	if (spec->db == NULL ||
		!bson_init_static(&doc, BsonBytes(event), BsonDocLen(event)))
		return false;
	op = CdcEventString(&doc, "operationType");
	db = CdcEventString(&doc, "ns.db");
	coll = CdcEventString(&doc, "ns.coll");
	if (op == NULL || db == NULL || strcmp(db, spec->db) != 0)
		return false;
	if (spec->coll != NULL)
		return (strcmp(op, "drop") == 0 || strcmp(op, "rename") == 0) &&
			coll != NULL && strcmp(coll, spec->coll) == 0;
	return strcmp(op, "dropDatabase") == 0;
}

/*
 * An event of the log as a stream without showExpandedEvents returns it:
 * NULL for an event only the expanded events have (create, createIndexes,
 * dropIndexes, modify); else the event without collectionUUID, without a
 * rename's operationDescription and without disambiguatedPaths, byte for
 * byte the event the plugin writes without show_expanded_events (a copy
 * only when it has one of them).
 */
static Bson *
CdcWithoutExpanded(Bson *event)
{
	bson_t		doc;
	bson_t		out;
	bson_iter_t it;
	bson_iter_t found;
	const char *op;
	bool		strip = false;
	Bson	   *result;

	if (!bson_init_static(&doc, BsonBytes(event), BsonDocLen(event)))
		elog(ERROR, "corrupt change event");
	op = CdcEventString(&doc, "operationType");
	if (op != NULL &&
		(strcmp(op, "create") == 0 || strcmp(op, "createIndexes") == 0 ||
		 strcmp(op, "dropIndexes") == 0 || strcmp(op, "modify") == 0))
		return NULL;
	/* collectionUUID comes right after clusterTime: a short search */
	if (bson_iter_init_find(&it, &doc, "collectionUUID"))
		strip = true;
	else if (bson_iter_init(&it, &doc) &&
			 bson_iter_find_descendant(&it, "updateDescription.disambiguatedPaths", &found))
		strip = true;
	if (!strip)
		return event;

	bson_init(&out);
	bson_iter_init(&it, &doc);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "collectionUUID") == 0 || strcmp(key, "operationDescription") == 0)
			continue;
		if (strcmp(key, "updateDescription") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			bson_iter_t member;
			bson_t		child;

			bson_append_document_begin(&out, key, -1, &child);
			bson_iter_recurse(&it, &member);
			while (bson_iter_next(&member))
				if (strcmp(bson_iter_key(&member), "disambiguatedPaths") != 0)
					bson_append_iter(&child, NULL, 0, &member);
			bson_append_document_end(&out, &child);
			continue;
		}
		bson_append_iter(&out, NULL, 0, &it);
	}
	result = BsonFromDocument(&out, false);
	bson_destroy(&out);
	return result;
}

/* Return one event: into the SRF's result, or the cursor's batch */
static void
CdcEmit(CdcWatchSpec *spec, Bson *event)
{
	if (spec->batch != NULL)
	{
		bson_t		doc;
		char		key[24];
		MemoryContext old;

		if (!bson_init_static(&doc, BsonBytes(event), BsonDocLen(event)))
			elog(ERROR, "corrupt change event");
		snprintf(key, sizeof(key), "%d", spec->nbatch++);
		/* the batch outlives the per-event context */
		old = MemoryContextSwitchTo(spec->batch_cxt);
		bson_append_document(spec->batch, key, -1, &doc);
		MemoryContextSwitchTo(old);
	}
	else if (spec->rsinfo == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(spec->batch_cxt);

		spec->queue = lappend(spec->queue,
							  DatumGetPointer(datumCopy(PointerGetDatum(event), false, -1)));
		MemoryContextSwitchTo(old);
	}
	else
	{
		Datum		value = PointerGetDatum(event);
		bool		isnull = false;

		tuplestore_putvalues(spec->rsinfo->setResult, spec->rsinfo->setDesc, &value, &isnull);
	}
}

/*
 * Return the invalidate event that follows event: its resume token,
 * clusterTime and wallTime.
 */
static void
CdcEmitInvalidate(CdcWatchSpec *spec, const Bson *event)
{
	bson_t		doc;
	bson_t		out;
	bson_iter_t it;
	Bson	   *value;

	if (!bson_init_static(&doc, BsonBytes(event), BsonDocLen(event)))
		elog(ERROR, "corrupt change event");
	bson_init(&out);
	if (bson_iter_init_find(&it, &doc, "_id"))
		bson_append_iter(&out, "_id", 3, &it);
	bson_append_utf8(&out, "operationType", -1, "invalidate", -1);
	if (bson_iter_init_find(&it, &doc, "clusterTime"))
		bson_append_iter(&out, "clusterTime", -1, &it);
	if (bson_iter_init_find(&it, &doc, "wallTime"))
		bson_append_iter(&out, "wallTime", -1, &it);
	value = BsonFromDocument(&out, false);
	bson_destroy(&out);
	CdcEmit(spec, value);
}

/*
 * startAtOperationTime: the token just before the first event, in commit
 * order, whose clusterTime is at or after the time (BSON timestamp order:
 * seconds, then increment), found with the log's clusterTime index (a
 * range from the time on: as many rows as there are events since then,
 * which the stream then reads anyway; OFFSET 0 keeps the planner
 * from turning min() into a walk of the token index from the log's start,
 * which is slow when the time is recent).  The
 * stream starts there and goes on in commit order, so it may also return
 * events after that one whose clusterTime is smaller (another transaction
 * of the same second, whose increment, the change's ordinal, is lower),
 * but it never misses one at or after the time.  Returns true and sets
 * spec->after when the event is in the log; otherwise (a time not reached
 * yet) moves spec->after up to where the next search may begin (every
 * transaction committed before the decoder's "copied" is logged, and none
 * had such an event) and returns false, and each read searches again.
 *
 * The time must be after the horizon's: events that committed until
 * lost_until may be missing from the log (not captured before the slot
 * existed, or removed by retention) and they could have any increment, so
 * a time in that second or before is ChangeStreamHistoryLost (286).
 */
static bool
CdcResolveStartTime(CdcWatchSpec *spec)
{
	static const char *const find_sql =
		"SELECT (SELECT pg_catalog.min(s.token) FROM"
		"         (SELECT l.token FROM nosql.change_log l"
		"           WHERE (l.event OPERATOR(nosql.->) 'clusterTime') OPERATOR(nosql.>=) $1"
		"             AND l.token OPERATOR(pg_catalog.>) $2 COLLATE \"C\" OFFSET 0) s),"
		"       h.token,"
		"       pg_catalog.floor(pg_catalog.date_part('epoch', h.lost_until))::bigint"
		"  FROM (SELECT 1) one LEFT JOIN nosql.change_stream_horizon h ON true";
	Oid			types[2];
	Datum		args[2];
	Oid			save_userid;
	int			save_sec_context;
	XLogRecPtr	copied = InvalidXLogRecPtr;
	char		next[CDC_TOKEN_LEN + 1];
	bool		found = false;
	bool		isnull;
	int			rc;

	/* before the search: every transaction committed before it is logged */
	SpinLockAcquire(&cdc_watch->mutex);
	{
		CdcDecoder *d = CdcFindDecoder(MyDatabaseId);

		if (d != NULL)
			copied = d->copied;
	}
	SpinLockRelease(&cdc_watch->mutex);

	types[0] = BsonTypeOid();
	types[1] = TEXTOID;
	args[0] = PointerGetDatum(spec->at_time);
	args[1] = CStringGetTextDatum(spec->after);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(spec->log_owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	rc = SPI_execute_with_args(find_sql, 2, types, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not search the change log by time: %s", SPI_result_code_string(rc));
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HeapTuple	tup = SPI_tuptable->vals[0];
		Datum		first = SPI_getbinval(tup, desc, 1, &isnull);
		bool		first_null = isnull;
		Datum		horizon = SPI_getbinval(tup, desc, 2, &isnull);
		bool		horizon_null = isnull;
		Datum		lost = SPI_getbinval(tup, desc, 3, &isnull);

		if (!isnull && (int64) spec->at_seconds <= DatumGetInt64(lost))
			MongoRaise(MONGO_CHANGE_STREAM_HISTORY_LOST,
					   "Resume of change stream was not possible, as the resume point may no longer be in the change log.");
		if (!first_null)
		{
			char	   *token = TextDatumGetCString(first);
			uint64		lsn;
			uint32		ordinal;

			if (strlen(token) != CDC_TOKEN_LEN ||
				sscanf(token, "%16" SCNx64 "%8" SCNx32, &lsn, &ordinal) != 2)
				elog(ERROR, "invalid token \"%s\" in the change log", token);
			/* the token just before it (ordinals start at 1) */
			if (ordinal > 0)
				CdcResumeToken(next, (XLogRecPtr) lsn, ordinal - 1);
			else
				CdcResumeToken(next, (XLogRecPtr) lsn - 1, PG_UINT32_MAX);
			found = true;
		}
		else
		{
			/* nothing yet: the next search starts at what is known */
			next[0] = '\0';
			if (copied != InvalidXLogRecPtr)
				CdcTokenAt(next, copied);
			if (!horizon_null)
			{
				char	   *h = TextDatumGetCString(horizon);

				if (strcmp(h, next) > 0)
					strlcpy(next, h, sizeof(next));
			}
		}
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (strcmp(next, spec->after) > 0 || found)
		strlcpy(spec->after, next, sizeof(spec->after));
	if (found)
		spec->at_time = NULL;
	return found;
}

/*
 * Whether the caller may see the events of collection coll of database db
 * (coll NULL: a dropDatabase), as the log's read decides it: SELECT on the
 * collection's table, and for a collection that does not exist (or a view,
 * or no collection), see_dropped.  Checked once per namespace per spec (a
 * nosql.watch call, a stream), as the log's owner reads the catalog.
 */
static bool
CdcNamespaceAllowed(CdcWatchSpec *spec, const char *db, const char *coll)
{
	ListCell   *lc;
	CdcNsAccess *a;
	Collection *c;
	MemoryContext old;
	Oid			save_userid;
	int			save_sec_context;
	bool		allowed;

	if (coll == NULL)
		return spec->see_dropped;
	foreach(lc, spec->access)
	{
		a = lfirst(lc);
		if (strcmp(a->db, db) == 0 && strcmp(a->coll, coll) == 0)
			return a->allowed;
	}
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(spec->log_owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	c = CollectionLookup(db, coll);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (c == NULL || !OidIsValid(c->relid))
		allowed = spec->see_dropped;
	else
	{
		bool		missing = false;

		/* has_table_privilege: a table gone meanwhile hides the event */
		allowed = pg_class_aclcheck_ext(c->relid, save_userid, ACL_SELECT,
										&missing) == ACLCHECK_OK && !missing;
	}
	old = MemoryContextSwitchTo(spec->access_cxt);
	a = palloc(sizeof(CdcNsAccess));
	a->db = pstrdup(db);
	a->coll = pstrdup(coll);
	a->allowed = allowed;
	spec->access = lappend(spec->access, a);
	MemoryContextSwitchTo(old);
	return allowed;
}

/*
 * Read the events after spec->after (from it, with inclusive) from the
 * ring into *events (Bson, in the current memory context), moving
 * spec->after to the last one, with the ring's copy of the horizon into
 * horizon.  Returns false when the ring may lack some of them: the log
 * must be read.
 */
static bool
CdcWatchReadRing(CdcWatchSpec *spec, bool inclusive, List **events, char *horizon)
{
	List	   *copied;
	ListCell   *lc;

	*events = NIL;
	spec->ring_version = 0;
	/* the ring holds what READ COMMITTED sees, not an older snapshot */
	if (!CdcRingEnabled() || IsolationUsesXactSnapshot())
		return false;
	if (!CdcRingRead(MyDatabaseId, spec->after, inclusive, spec->db, spec->coll,
					 spec->read_cap > 0 ? spec->read_cap : INT_MAX, &copied, horizon,
					 &spec->ring_version))
		return false;
	foreach(lc, copied)
	{
		CdcRingEvent *ev = lfirst(lc);

		if (CdcNamespaceAllowed(spec, ev->db, ev->coll))
		{
			*events = lappend(*events, ev->event);
			strlcpy(spec->after, ev->token, sizeof(spec->after));
		}
		else
			pfree(ev->event);
		pfree(ev->db);
		if (ev->coll != NULL)
			pfree(ev->coll);
	}
	list_free_deep(copied);
	return true;
}

/*
 * Read the events after spec->after (from it, with inclusive) from the log
 * into a list of Bson (in the current memory context), moving spec->after
 * to the last one, and then the horizon into horizon (read after the
 * events: retention committed meanwhile is seen).
 */
static List *
CdcWatchReadLog(CdcWatchSpec *spec, bool inclusive, char *horizon)
{
	static const char *const read_sql =
		"SELECT l.token, l.event FROM nosql.change_log l"
		"  LEFT JOIN nosql.collection c ON c.database = l.database AND c.name = l.coll"
		" WHERE l.token OPERATOR(pg_catalog.>=) $1 COLLATE \"C\""
		"   AND ($6 OR l.token OPERATOR(pg_catalog.>) $1 COLLATE \"C\")"
		"   AND ($2::text IS NULL OR l.database OPERATOR(pg_catalog.=) $2)"
		"   AND ($3::text IS NULL OR l.coll OPERATOR(pg_catalog.=) $3)"
		"   AND CASE WHEN c.relation IS NULL THEN $4"
		"            ELSE pg_catalog.has_table_privilege($5, c.relation::oid, 'SELECT') END"
		" ORDER BY l.token COLLATE \"C\"";
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, BOOLOID, OIDOID, BOOLOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Oid			caller = GetUserId();
	Oid			save_userid;
	int			save_sec_context;
	static SPIPlanPtr plan = NULL;
	Portal		portal;
	MemoryContext outer = CurrentMemoryContext;
	List	   *events = NIL;
	int64		nread = 0;

	args[0] = CStringGetTextDatum(spec->after);
	args[1] = spec->db ? CStringGetTextDatum(spec->db) : (Datum) 0;
	nulls[1] = spec->db ? ' ' : 'n';
	args[2] = spec->coll ? CStringGetTextDatum(spec->coll) : (Datum) 0;
	nulls[2] = spec->coll ? ' ' : 'n';
	args[3] = BoolGetDatum(spec->see_dropped);
	args[4] = ObjectIdGetDatum(caller);
	args[5] = BoolGetDatum(inclusive);

	/* the log is read as its owner, for the caller */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(spec->log_owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	/* planned once per process (the plan cache replans after DDL) */
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(read_sql, 6, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the change log read: %s",
				 SPI_result_code_string(SPI_result));
		plan = p;
	}
	portal = SPI_cursor_open(NULL, plan, args, nulls, false);
	for (;;)
	{
		long		want = CDC_READ_BATCH;

		if (spec->read_cap > 0)
		{
			if (nread >= spec->read_cap)
				break;
			want = Min(want, spec->read_cap - nread);
		}
		SPI_cursor_fetch(portal, true, want);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			HeapTuple	tup = SPI_tuptable->vals[r];
			MemoryContext old = MemoryContextSwitchTo(outer);
			char	   *token = TextDatumGetCString(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
			Bson	   *event = (Bson *) PG_DETOAST_DATUM_COPY(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

			strlcpy(spec->after, token, sizeof(spec->after));
			events = lappend(events, event);
			nread++;
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	CdcReadHorizon(horizon);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return events;
}

/*
 * Read the events after spec->after into the result, moving spec->after
 * to the last one read: from the ring when it holds them all, else from
 * the log.  Returns how many events were returned (after the pipeline).
 */
static int64
CdcWatchRead(CdcWatchSpec *spec, const char *start)
{
	char		first[CDC_TOKEN_LEN + 1];
	bool		inclusive = spec->inclusive;
	int64		total = 0;
	char		horizon[CDC_TOKEN_LEN + 1];
	MemoryContext rowcxt;
	List	   *events = NIL;
	ListCell   *lc;
	int64		pre_image_cutoff;

	/* startAtOperationTime not reached yet: nothing to read */
	if (spec->at_time != NULL && !CdcResolveStartTime(spec))
		return 0;
	strlcpy(first, spec->after, sizeof(first));
	spec->inclusive = false;
	if (!CdcWatchReadRing(spec, inclusive, &events, horizon))
		events = CdcWatchReadLog(spec, inclusive, horizon);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext,
								   "nosql change stream row context",
								   ALLOCSET_DEFAULT_SIZES);

	/* retention that ran meanwhile may have taken events: history lost */
	if (horizon[0] != '\0' && strcmp(start, horizon) < 0)
		MongoRaise(MONGO_CHANGE_STREAM_HISTORY_LOST,
				   "Resume of change stream was not possible, as the resume point may no longer be in the change log.");

	/* fullDocument lookups and the pipeline, with the caller's rights */
	SPI_connect();
	pre_image_cutoff = CdcPreImageCutoff(spec);
	foreach(lc, events)
	{
		Bson	   *event = lfirst(lc);
		MemoryContext old = MemoryContextSwitchTo(rowcxt);
		List	   *outs = NIL;
		ListCell   *oc;

		/* resuming after an event: it only says whether the stream ended */
		if (inclusive && lc == list_head(events) && strcmp(CdcEventToken(event), first) == 0)
		{
			if (CdcInvalidates(spec, event))
			{
				CdcEmitInvalidate(spec, event);
				total++;
				spec->invalidated = true;
				MemoryContextSwitchTo(old);
				break;
			}
			MemoryContextSwitchTo(old);
			continue;
		}
		/* the expanded events and fields only for a stream that asked */
		if (!spec->expanded && (event = CdcWithoutExpanded(event)) == NULL)
		{
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			continue;
		}
		event = CdcPreImage(spec, event, pre_image_cutoff);
		event = CdcFullDocumentLookup(spec, event);
		if (spec->chain != NULL)
			AggChainApplyAll(spec->chain, BsonBytes(event), BsonDocLen(event), &outs);
		else
			outs = list_make1(event);
		foreach(oc, outs)
		{
			CdcEmit(spec, lfirst(oc));
			total++;
		}
		/* the watched collection or database is gone: the stream ends */
		if (CdcInvalidates(spec, lfirst(lc)))
		{
			CdcEmitInvalidate(spec, lfirst(lc));
			total++;
			spec->invalidated = true;
			MemoryContextSwitchTo(old);
			break;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
		/* a full batch: the next read goes on after this event */
		if (((spec->limit > 0 && total >= spec->limit) ||
			 (spec->batch != NULL && spec->batch->len >= CDC_BATCH_BYTES)) &&
			lnext(events, lc) != NULL)
		{
			spec->ring_version = 0; /* events are left to read */
			strlcpy(spec->after, CdcEventToken(lfirst(lc)), sizeof(spec->after));
			break;
		}
	}
	SPI_finish();
	list_free_deep(events);
	MemoryContextDelete(rowcxt);
	return total;
}

/*
 * Check that the caller may read change streams; returns whether it may
 * also see the events of collections that no longer exist.
 */
static bool
CdcWatchCheckAccess(Oid log)
{
	Oid			user = GetUserId();

	if (superuser() || has_rolreplication(user))
		return true;
	if (pg_class_aclcheck(log, user, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to watch change streams"),
				 errdetail("Change streams need the REPLICATION attribute or SELECT on nosql.change_log."),
				 errhint("GRANT SELECT ON nosql.change_log TO the role, or ALTER ROLE ... REPLICATION.")));
	return false;
}

/*
 * The token of "now": the current WAL insert position with ordinal 0, so
 * that an event whose commit record comes later is after it.
 */
static void
CdcNowToken(char *buf)
{
	CdcTokenAt(buf, GetXLogInsertRecPtr());
}

/*
 * CdcWaitRead
 *		Read the events after the resume point (start; NULL: the spec's
 *		resume point at each read), waiting up to max_wait_ms on the
 *		decoder's condition variable for the first ones.  *copied (if not
 *		NULL) gets what the decoder had copied before the last read.
 *		Returns how many events the last read produced.
 */
static int64
CdcWaitRead(CdcWatchSpec *spec, const char *start, int64 max_wait_ms, XLogRecPtr *copied)
{
	TimestampTz deadline = 0;
	int64		n;

	if (max_wait_ms > 0)
	{
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), max_wait_ms);
		/* before the first read: a batch committed after it wakes us */
		ConditionVariablePrepareToSleep(&cdc_watch->decoded);
	}
	/* an error ends the sleep with the transaction (AbortTransaction) */
	for (;;)
	{
		char		from[CDC_TOKEN_LEN + 1];
		long		remaining;

		CHECK_FOR_INTERRUPTS();
		if (copied != NULL)
		{
			/* what the decoder has copied, before the read that sees it */
			CdcDecoder *d;

			SpinLockAcquire(&cdc_watch->mutex);
			d = CdcFindDecoder(MyDatabaseId);
			*copied = d != NULL ? d->copied : InvalidXLogRecPtr;
			SpinLockRelease(&cdc_watch->mutex);
		}
		strlcpy(from, start != NULL ? start : spec->after, sizeof(from));
		n = CdcWatchRead(spec, from);
		CdcWatcherNote(spec->watcher, spec->after, n);
		if (n > 0 || max_wait_ms <= 0 || spec->invalidated)
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		(void) ConditionVariableTimedSleep(&cdc_watch->decoded, remaining, PG_WAIT_EXTENSION);
	}
	if (max_wait_ms > 0)
		ConditionVariableCancelSleep();
	return n;
}

/*
 * nosql.watch(coll text, pipeline bson DEFAULT NULL, resume_after bson
 * DEFAULT NULL, start_after bson DEFAULT NULL, full_document text DEFAULT
 * 'default', max_wait_ms integer DEFAULT 0, full_document_before_change
 * text DEFAULT 'off', start_at_operation_time bson DEFAULT NULL) RETURNS
 * SETOF bson — the change events of a collection ('db.coll'), a database
 * ('db') or every collection (NULL) after the resume point (or from the
 * first at or after a time), in commit order.
 */
/* A change stream on a view fails as MongoDB's (CommandNotSupportedOnView) */
static void
CdcRefuseView(const char *db, const char *coll)
{
	Collection *c;

	if (db == NULL || coll == NULL)
		return;
	c = CollectionLookup(db, coll);
	if (c != NULL && c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", db, coll);
}

/*
 * The arguments nosql.watch and nosql.watch_stream share, checked in the
 * order the errors come: the namespace (argument ns), fullDocument (full)
 * and fullDocumentBeforeChange (before).
 */
static void
CdcWatchArgsTarget(CdcWatchSpec *spec, FunctionCallInfo fcinfo, int ns, int full, int before)
{
	char	   *value;
	Oid			log;

	log = CdcNosqlRelation("change_log", &spec->log_owner);
	spec->see_dropped = CdcWatchCheckAccess(log);

	if (!PG_ARGISNULL(ns))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(ns));
		char	   *dot = strchr(name, '.');

		if (name[0] == '\0' || dot == name || (dot != NULL && dot[1] == '\0'))
			MongoRaise(MONGO_INVALID_NAMESPACE, "invalid namespace \"%s\" for a change stream", name);
		if (dot != NULL)
		{
			*dot = '\0';
			spec->coll = dot + 1;
		}
		spec->db = name;
	}
	CdcRefuseView(spec->db, spec->coll);

	value = PG_ARGISNULL(full) ? "default" : text_to_cstring(PG_GETARG_TEXT_PP(full));
	spec->full = (CdcFullDocument) CdcEnumValue(value, cdc_full_names, "fullDocument");

	value = PG_ARGISNULL(before) ? "off" : text_to_cstring(PG_GETARG_TEXT_PP(before));
	spec->before = (CdcBeforeChange) CdcEnumValue(value, cdc_before_names,
												  "fullDocumentBeforeChange");
}

/*
 * The rest of the shared arguments: the pipeline, resume_after,
 * start_after and start_at_operation_time (at_time: -1 when the function
 * has none), checked; then the stream's start, once the decoder is ready.
 */
static void
CdcWatchArgsStart(CdcWatchSpec *spec, FunctionCallInfo fcinfo, int pipeline, int resume,
				  int start_after, int at_time)
{
	bool		has_time = at_time >= 0 && PG_NARGS() > at_time && !PG_ARGISNULL(at_time);

	if (!PG_ARGISNULL(resume) && !PG_ARGISNULL(start_after))
		MongoRaise(MONGO_BAD_VALUE, "Only one type of resume option is allowed, but multiple were found.");
	if (has_time && (!PG_ARGISNULL(resume) || !PG_ARGISNULL(start_after)))
		MongoRaise(MONGO_ONE_RESUME_OPTION,
				   "Only one type of resume option is allowed, but multiple were found.");
	if (!PG_ARGISNULL(pipeline))
		spec->chain = CdcCompilePipeline(PG_GETARG_BSON_P(pipeline));
	if (!PG_ARGISNULL(resume))
	{
		CdcParseToken(PG_GETARG_BSON_P(resume), "resume_after", spec->after);
		spec->inclusive = true; /* resuming after a drop is its invalidate */
	}
	else if (!PG_ARGISNULL(start_after))
		CdcParseToken(PG_GETARG_BSON_P(start_after), "start_after", spec->after);
	else if (has_time)
	{
		bson_iter_t it;
		bson_t		holder;

		if (!BsonValueIter(PG_GETARG_BSON_P(at_time), &it, &holder) ||
			!BSON_ITER_HOLDS_TIMESTAMP(&it))
			MongoRaise(MONGO_TYPE_MISMATCH, "start_at_operation_time must be a timestamp");
		CdcSetStartTime(spec, &it);
	}

	CdcDecoderWaitReady();
	if (spec->at_time != NULL)
		(void) CdcResolveStartTime(spec);
	else if (spec->after[0] == '\0')
		CdcNowToken(spec->after);
}

/* A blocking read sees new events only with a snapshot per statement */
static void
CdcRequireReadCommitted(void)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a blocking change stream needs READ COMMITTED"),
				 errdetail("In REPEATABLE READ or SERIALIZABLE every read sees the transaction's snapshot, which no new event reaches.")));
}

PG_FUNCTION_INFO_V1(watch);
Datum
watch(PG_FUNCTION_ARGS)
{
	CdcWatchSpec spec;
	ReturnSetInfo *rsinfo;
	int32		max_wait_ms;
	char		start[CDC_TOKEN_LEN + 1];

	memset(&spec, 0, sizeof(spec));
	spec.access_cxt = CurrentMemoryContext;
	CdcWatchArgsTarget(&spec, fcinfo, 0, 4, 6);
	max_wait_ms = PG_ARGISNULL(5) ? 0 : PG_GETARG_INT32(5);
	if (max_wait_ms < 0)
		MongoRaise(MONGO_BAD_VALUE, "max_wait_ms must not be negative");
	if (max_wait_ms > 0)
		CdcRequireReadCommitted();
	CdcWatchArgsStart(&spec, fcinfo, 1, 2, 3, 7);
	spec.expanded = PG_NARGS() > 8 && !PG_ARGISNULL(8) && PG_GETARG_BOOL(8);
	strlcpy(start, spec.after, sizeof(start));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	spec.rsinfo = rsinfo;

	/* listed in nosql.change_stream_watchers while the call runs */
	spec.watcher = CdcWatcherAdd(CDC_WATCHER_CALL, spec.db, spec.coll, spec.after);
	PG_TRY();
	{
		(void) CdcWaitRead(&spec, start, max_wait_ms, NULL);
	}
	PG_FINALLY();
	{
		CdcWatcherRemove(spec.watcher);
	}
	PG_END_TRY();
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * nosql.watch_stream: one call, events as they come
 * ---------------------------------------------------------------------
 */

/* Events read at a time by a stream */
#define CDC_STREAM_READ 1000

typedef struct CdcStreamCall
{
	CdcWatchSpec spec;			/* after is the resume point */
	int64		max_events;		/* 0: no limit */
	int64		returned;
	int32		idle_timeout_ms;	/* 0: none */
	TimestampTz last_event;		/* or the start */
	MemoryContext batch_cxt;	/* the events read last, reset per read */
	int			next;			/* of spec.queue, the next to return */
	bool		done;
} CdcStreamCall;

/* The stream's memory goes (the query ended, or failed): unlist it */
static void
CdcStreamCallEnd(void *arg)
{
	CdcStreamCall *call = (CdcStreamCall *) arg;

	CdcWatcherRemove(call->spec.watcher);
	call->spec.watcher = 0;
}

/*
 * Read the stream's next events into its queue, waiting for them on the
 * decoder's condition variable for as long as idle_timeout_ms allows (for
 * ever without it); sets done when it passed.  Before each wait the rows
 * already produced are sent to the client.
 */
static void
CdcStreamCallFill(CdcStreamCall *call)
{
	CdcWatchSpec *spec = &call->spec;
	MemoryContext old;

	MemoryContextReset(call->batch_cxt);
	spec->queue = NIL;
	call->next = 0;
	old = MemoryContextSwitchTo(call->batch_cxt);
	/* before the first read: a batch committed after it wakes us */
	ConditionVariablePrepareToSleep(&cdc_watch->decoded);
	for (;;)
	{
		char		from[CDC_TOKEN_LEN + 1];
		int64		n;
		long		timeout = -1;

		CHECK_FOR_INTERRUPTS();

		/*
		 * Read unless the last read was of the ring, saw all of it, and
		 * nothing was appended since (the common case right after a batch
		 * was returned): then only a new batch wakes us.
		 */
		if (spec->ring_version == 0 || spec->at_time != NULL ||
			CdcRingVersion() != spec->ring_version)
		{
			strlcpy(from, spec->after, sizeof(from));
			spec->limit = call->max_events > 0 ? call->max_events - call->returned : 0;
			n = CdcWatchRead(spec, from);
			CdcWatcherNote(spec->watcher, spec->after, n);
			if (n > 0 || spec->invalidated)
			{
				call->last_event = GetCurrentTimestamp();
				break;
			}
			MemoryContextReset(call->batch_cxt);
			spec->queue = NIL;
		}
		if (call->idle_timeout_ms > 0)
		{
			TimestampTz deadline = TimestampTzPlusMilliseconds(call->last_event,
															   call->idle_timeout_ms);

			timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (timeout <= 0)
			{
				call->done = true;
				break;
			}
		}
		/* the client gets what is produced before we sleep */
		if (whereToSendOutput == DestRemote)
		{
			/* a failed write marks the connection lost: the next check ends us */
			(void) pq_flush();
			CHECK_FOR_INTERRUPTS();
		}
		(void) ConditionVariableTimedSleep(&cdc_watch->decoded, timeout, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	MemoryContextSwitchTo(old);
}

/*
 * nosql.watch_stream(coll text, pipeline bson DEFAULT NULL, resume_after
 * bson DEFAULT NULL, start_after bson DEFAULT NULL, full_document text
 * DEFAULT 'default', full_document_before_change text DEFAULT 'off',
 * start_at_operation_time bson DEFAULT NULL, max_events bigint DEFAULT 0,
 * idle_timeout_ms integer DEFAULT 0) RETURNS SETOF bson — the events of
 * nosql.watch, one call for the life of the stream: a value-per-call set
 * function, whose rows leave as they are produced when it is called in
 * the target list (COPY (SELECT nosql.watch_stream(...)) TO STDOUT, or a
 * SELECT read in libpq's single-row mode).  It ends after max_events rows,
 * after idle_timeout_ms without one, with an invalidate, or never.  In
 * FROM, PostgreSQL keeps every row until the function ends: refused there
 * unless max_events or idle_timeout_ms bounds it.
 */
PG_FUNCTION_INFO_V1(watch_stream);
Datum
watch_stream(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	CdcStreamCall *call;

	if (SRF_IS_FIRSTCALL())
	{
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
		MemoryContext old;
		MemoryContextCallback *cb;

		if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
			(rsinfo->allowedModes & SFRM_ValuePerCall) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("set-valued function called in context that cannot accept a set")));
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		call = palloc0(sizeof(CdcStreamCall));
		CdcWatchArgsTarget(&call->spec, fcinfo, 0, 4, 5);
		call->max_events = PG_ARGISNULL(7) ? 0 : PG_GETARG_INT64(7);
		if (call->max_events < 0)
			MongoRaise(MONGO_BAD_VALUE, "max_events must not be negative");
		call->idle_timeout_ms = PG_ARGISNULL(8) ? 0 : PG_GETARG_INT32(8);
		if (call->idle_timeout_ms < 0)
			MongoRaise(MONGO_BAD_VALUE, "idle_timeout_ms must not be negative");

		/*
		 * In FROM the executor stores every row until the function returns
		 * its last (only there does it say it prefers a materialized set):
		 * a stream without end would return nothing, for ever.
		 */
		if ((rsinfo->allowedModes & SFRM_Materialize_Preferred) != 0 &&
			call->max_events == 0 &&
			call->idle_timeout_ms == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("nosql.watch_stream without max_events or idle_timeout_ms cannot be used in FROM"),
					 errdetail("In FROM the rows of a set-returning function are returned when it ends, and this stream does not end."),
					 errhint("Call it in the select list: SELECT nosql.watch_stream(...), or COPY (SELECT nosql.watch_stream(...)) TO STDOUT; or bound it with max_events or idle_timeout_ms.")));
		CdcRequireReadCommitted();
		CdcWatchArgsStart(&call->spec, fcinfo, 1, 2, 3, 6);
		call->spec.expanded = PG_NARGS() > 9 && !PG_ARGISNULL(9) && PG_GETARG_BOOL(9);
		call->spec.read_cap = CDC_STREAM_READ;
		call->spec.access_cxt = funcctx->multi_call_memory_ctx;
		call->batch_cxt = AllocSetContextCreate(funcctx->multi_call_memory_ctx,
												"nosql watch_stream batch",
												ALLOCSET_DEFAULT_SIZES);
		call->spec.batch_cxt = call->batch_cxt;
		call->last_event = GetCurrentTimestamp();

		/* listed until the query's memory goes, which an error also ends */
		call->spec.watcher = CdcWatcherAdd(CDC_WATCHER_STREAM, call->spec.db,
										   call->spec.coll, call->spec.after);
		cb = palloc0(sizeof(MemoryContextCallback));
		cb->func = CdcStreamCallEnd;
		cb->arg = call;
		MemoryContextRegisterResetCallback(funcctx->multi_call_memory_ctx, cb);
		funcctx->user_fctx = call;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	call = (CdcStreamCall *) funcctx->user_fctx;
	for (;;)
	{
		/* (an invalidate may come after the event that reached max_events) */
		if (call->next < list_length(call->spec.queue) &&
			(call->max_events == 0 || call->returned < call->max_events))
		{
			Datum		value = PointerGetDatum(list_nth(call->spec.queue, call->next++));

			call->returned++;
			SRF_RETURN_NEXT(funcctx, value);
		}
		if (call->done || call->spec.invalidated ||
			(call->max_events > 0 && call->returned >= call->max_events))
			break;
		/* every row read was returned (and sent): read the next ones */
		CdcStreamCallFill(call);
	}
	CdcWatcherRemove(call->spec.watcher);
	call->spec.watcher = 0;
	SRF_RETURN_DONE(funcctx);
}

/* ---------------------------------------------------------------------
 * $changeStream: a stream behind a tailable cursor (cmd_read.c)
 * ---------------------------------------------------------------------
 */

struct CdcStream
{
	CdcWatchSpec spec;			/* after is the resume point */
};

/* A $changeStream option of the wrong type (14) */
static void
CdcOptionType(const bson_iter_t *it, bool ok, const char *expected)
{
	if (!ok)
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field '$changeStream.%s' is the wrong type '%s', expected type '%s'",
				   bson_iter_key(it), BsonTypeName(bson_iter_type(it)), expected);
}

/* The cursor of a stream is gone: so is its line in the registry */
static void
CdcStreamUnlist(void *arg)
{
	CdcStream  *stream = (CdcStream *) arg;

	CdcWatcherRemove(stream->spec.watcher);
	stream->spec.watcher = 0;
}

/*
 * CdcStreamOpen
 *		Check a $changeStream stage (options, the document after the
 *		stage name) and the stages after it (pipeline, all of them), and
 *		open the stream of collection coll of database db (coll NULL: the
 *		database; the admin database with allChangesForCluster: every
 *		database).  Everything is allocated in the current memory context,
 *		which must live as long as the stream.
 */
CdcStream *
CdcStreamOpen(const char *db, const char *coll, const bson_iter_t *options,
			  const bson_t *pipeline)
{
	CdcStream  *stream = palloc0(sizeof(CdcStream));
	CdcWatchSpec *spec = &stream->spec;
	bson_iter_t it;
	bool		resume = false;
	bool		start_after = false;
	bool		at_time = false;
	bool		cluster = false;
	Oid			log;

	if (!BSON_ITER_HOLDS_DOCUMENT(options))
		MongoRaise(MONGO_CHANGE_STREAM_NOT_OBJECT,
				   "the $changeStream stage expects a document as argument");
	CdcRefuseView(db, coll);
	bson_iter_recurse(options, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "fullDocument") == 0)
		{
			CdcOptionType(&it, BSON_ITER_HOLDS_UTF8(&it), "string");
			spec->full = (CdcFullDocument)
				CdcEnumValue(bson_iter_utf8(&it, NULL), cdc_full_names,
							 "$changeStream.fullDocument");
		}
		else if (strcmp(key, "fullDocumentBeforeChange") == 0)
		{
			CdcOptionType(&it, BSON_ITER_HOLDS_UTF8(&it), "string");
			spec->before = (CdcBeforeChange)
				CdcEnumValue(bson_iter_utf8(&it, NULL), cdc_before_names,
							 "$changeStream.fullDocumentBeforeChange");
		}
		else if (strcmp(key, "resumeAfter") == 0 || strcmp(key, "startAfter") == 0)
		{
			bson_t		doc;
			const uint8_t *data;
			uint32_t	len;

			CdcOptionType(&it, BSON_ITER_HOLDS_DOCUMENT(&it), "object");
			if (resume || start_after)
				MongoRaise(MONGO_BOTH_RESUME_OPTIONS,
						   "Do not specify both 'resumeAfter' and 'startAfter' in a $changeStream stage");
			bson_iter_document(&it, &len, &data);
			if (!bson_init_static(&doc, data, len))
				elog(ERROR, "corrupt $changeStream stage");
			CdcParseTokenDoc(&doc, key, spec->after);
			if (key[0] == 'r')
				resume = true;
			else
				start_after = true;
		}
		else if (strcmp(key, "startAtOperationTime") == 0)
		{
			CdcOptionType(&it, BSON_ITER_HOLDS_TIMESTAMP(&it), "timestamp");
			CdcSetStartTime(spec, &it);
			at_time = true;
		}
		else if (strcmp(key, "allChangesForCluster") == 0)
		{
			CdcOptionType(&it, BSON_ITER_HOLDS_BOOL(&it), "bool");
			cluster = bson_iter_bool(&it);
		}
		else if (strcmp(key, "showExpandedEvents") == 0)
		{
			CdcOptionType(&it, BSON_ITER_HOLDS_BOOL(&it), "bool");
			spec->expanded = bson_iter_bool(&it);
		}
		else if (strcmp(key, "showSystemEvents") == 0)
			CdcOptionType(&it, BSON_ITER_HOLDS_BOOL(&it), "bool");
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field '$changeStream.%s' is an unknown field.", key);
	}
	if (at_time && (resume || start_after))
		MongoRaise(MONGO_ONE_RESUME_OPTION,
				   "Only one type of resume option is allowed, but multiple were found.");
	if (cluster && (strcmp(db, "admin") != 0 || coll != NULL))
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name");
	if (!cluster && strcmp(db, "admin") == 0)
		MongoRaise(MONGO_INVALID_NAMESPACE,
				   "$changeStream may not be opened on the internal admin database");
	spec->chain = CdcCompileStages(pipeline, 1);
	/* the namespaces' access is remembered for the stream's life */
	spec->access_cxt = CurrentMemoryContext;

	log = CdcNosqlRelation("change_log", &spec->log_owner);
	spec->see_dropped = CdcWatchCheckAccess(log);
	spec->db = cluster ? NULL : pstrdup(db);
	spec->coll = coll != NULL ? pstrdup(coll) : NULL;
	spec->inclusive = resume;	/* resuming after a drop is its invalidate */
	CdcDecoderWaitReady();
	if (spec->at_time != NULL)
		(void) CdcResolveStartTime(spec);
	else if (spec->after[0] == '\0')
		CdcNowToken(spec->after);

	/* listed while the cursor lives: its memory going ends the listing */
	spec->watcher = CdcWatcherAdd(CDC_WATCHER_CURSOR, spec->db, spec->coll, spec->after);
	if (spec->watcher > 0)
	{
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		cb->func = CdcStreamUnlist;
		cb->arg = stream;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	}
	return stream;
}

/*
 * CdcStreamNext
 *		The next events of a stream into batch (an array being built), at
 *		most limit of them (0: all there are), waiting up to max_wait_ms for
 *		the first.  pbrt gets the postBatchResumeToken's _data: the resume
 *		point after the batch, which an empty batch moves up to what the
 *		decoder has copied, so that a client resuming there misses nothing.
 *		Returns true when the stream ended with an invalidate.
 */
bool
CdcStreamNext(CdcStream *stream, int64 limit, int64 max_wait_ms, bson_t *batch, char *pbrt)
{
	CdcWatchSpec *spec = &stream->spec;
	int64		n = 0;
	XLogRecPtr	copied = InvalidXLogRecPtr;

	if (spec->invalidated)
	{
		strlcpy(pbrt, spec->after, CDC_TOKEN_LEN + 1);
		return true;
	}
	if (max_wait_ms > 0 && IsolationUsesXactSnapshot())
		max_wait_ms = 0;		/* no new event reaches the snapshot */
	spec->batch = batch;
	spec->batch_cxt = CurrentMemoryContext;
	spec->nbatch = 0;
	spec->limit = limit;
	n = CdcWaitRead(spec, NULL, max_wait_ms, &copied);
	spec->batch = NULL;
	if (n == 0 && !spec->invalidated && copied != InvalidXLogRecPtr)
	{
		char		now[CDC_TOKEN_LEN + 1];

		CdcTokenAt(now, copied);
		if (strcmp(now, spec->after) > 0)
			strlcpy(spec->after, now, sizeof(spec->after));
	}
	strlcpy(pbrt, spec->after, CDC_TOKEN_LEN + 1);
	CdcWatcherNote(spec->watcher, spec->after, 0);
	return spec->invalidated;
}

/*
 * CdcStreamToSet
 *		Every event of a stream logged by now into rsinfo's set (no
 *		wait, no batch limit), for the SQL function nosql.aggregate.
 */
void
CdcStreamToSet(CdcStream *stream, ReturnSetInfo *rsinfo)
{
	CdcWatchSpec *spec = &stream->spec;
	char		start[CDC_TOKEN_LEN + 1];

	strlcpy(start, spec->after, sizeof(start));
	spec->rsinfo = rsinfo;
	PG_TRY();
	{
		(void) CdcWaitRead(spec, start, 0, NULL);
	}
	PG_FINALLY();
	{
		spec->rsinfo = NULL;
	}
	PG_END_TRY();
	CdcWatcherNote(spec->watcher, spec->after, 0);
}

/*
 * CdcStreamResumePoint
 *		The stream's resume point (_data), for a first batch not read.
 */
void
CdcStreamResumePoint(const CdcStream *stream, char *pbrt)
{
	strlcpy(pbrt, stream->spec.after, CDC_TOKEN_LEN + 1);
}

/*
 * CdcStreamSetCursor
 *		The id of the cursor that holds the stream, for the registry.
 */
void
CdcStreamSetCursor(CdcStream *stream, int64 cursor_id)
{
	CdcWatcherSetCursor(stream->spec.watcher, cursor_id);
}

/*
 * nosql.watch_start_token() RETURNS bson — the resume token of "now", to
 * start a stream with resume_after so that no event between two calls is
 * missed.
 */
PG_FUNCTION_INFO_V1(watch_start_token);
Datum
watch_start_token(PG_FUNCTION_ARGS)
{
	Oid			owner;
	char		token[CDC_TOKEN_LEN + 1];
	bson_t		doc;
	Bson	   *result;

	(void) CdcWatchCheckAccess(CdcNosqlRelation("change_log", &owner));
	CdcDecoderWaitReady();
	CdcNowToken(token);
	bson_init(&doc);
	bson_append_utf8(&doc, "_data", 5, token, CDC_TOKEN_LEN);
	result = BsonFromDocument(&doc, false);
	bson_destroy(&doc);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.change_stream_decoders() — the running decoders: database, pid,
 * whether ready, batches and events copied.
 */
PG_FUNCTION_INFO_V1(change_stream_decoders);
Datum
change_stream_decoders(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CdcDecoder	copy[CDC_DECODERS];

	InitMaterializedSRF(fcinfo, 0);
	if (cdc_watch == NULL)
		return (Datum) 0;
	SpinLockAcquire(&cdc_watch->mutex);
	memcpy(copy, cdc_watch->decoders, sizeof(copy));
	SpinLockRelease(&cdc_watch->mutex);
	for (int i = 0; i < CDC_DECODERS; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (!OidIsValid(copy[i].dboid) || copy[i].pid == 0)
			continue;
		values[0] = ObjectIdGetDatum(copy[i].dboid);
		values[1] = Int32GetDatum(copy[i].pid);
		values[2] = BoolGetDatum(copy[i].ready);
		values[3] = Int64GetDatum((int64) copy[i].batches);
		values[4] = Int64GetDatum((int64) copy[i].events);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
