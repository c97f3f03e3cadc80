/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The nosql background workers: one launcher per server and one
 *	  worker per database where the extension is installed.
 *
 * Design
 * ------
 * The launcher is a static background worker registered when the library
 * is in shared_preload_libraries.  It is connected to no database (like the
 * autovacuum launcher) so it can read only shared catalogs: every
 * nosql.worker_naptime it lists the databases in pg_database and starts a
 * dynamic "nosql worker" for each one that has none running.
 *
 * A database worker connects to its database and checks whether the
 * extension is installed there.  If it is not, the worker exits at once and
 * the launcher does not try that database again for one naptime.  If it is,
 * the worker stays, sleeping on its latch between rounds of periodic jobs
 * (TTL, index builds, retention, rollups, added by the issues that own
 * them), and exits when the extension is dropped.
 *
 * Key-value leases need more precision than a naptime: the worker also
 * wakes at the earliest lease deadline (kv_lease.c revokes what expired
 * and says when the next lease expires).  A backend whose transaction
 * granted a lease with an earlier deadline than the one the worker sleeps
 * to sets the worker's latch when it commits (WorkerLeaseDeadline), using
 * the slot's lease_wake: the worker sets it to "never" before it reads the
 * leases and lowers it to the deadline it found after, so that a grant
 * committed too late to be read always finds a later lease_wake and wakes
 * it.  The first worker of a database that the launcher starts (after the
 * server started, or restarted after a crash) gives every lease its full
 * TTL again, as etcd does when it starts serving.
 *
 * CREATE EXTENSION calls nosql.worker_wakeup() so that the database's
 * worker starts within moments instead of after a naptime; the worker
 * started that way waits a few seconds for the creating transaction to
 * commit before deciding the extension is absent.
 *
 * A backend connected to a database blocks DROP DATABASE, ALTER DATABASE
 * RENAME and CREATE DATABASE ... TEMPLATE of it.  A ProcessUtility hook sees
 * those statements first, asks that database's worker to exit and holds the
 * launcher off that database for a while.
 *
 * Shared state (protected by a spinlock) is the launcher's latch and a slot
 * per running database worker, with its latch and lease wake-up time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cdc.h"
#include "kv.h"
#include "nosql.h"

/* How long the launcher leaves a database alone after a DROP/RENAME asks */
#define WORKER_HOLD_OFF_MS		30000
/* How long a worker started by nosql.worker_wakeup() waits for the commit */
#define WORKER_WAKEUP_GRACE_MS	5000
/* Seconds before the postmaster restarts a launcher that exited */
#define LAUNCHER_RESTART_SECONDS 5

/* bgw_extra flags: started by nosql.worker_wakeup(); first since start */
#define WORKER_FLAG_WAKEUP		0x01
#define WORKER_FLAG_PROMOTE		0x02

typedef struct WorkerSlot
{
	Oid			dboid;			/* InvalidOid when free */
	pid_t		pid;
	TimestampTz hold_until;		/* launcher leaves dboid alone until then */
	Latch	   *latch;			/* the worker's, while pid is set */
	TimestampTz lease_wake;		/* when the worker next looks at leases */
} WorkerSlot;

typedef struct WorkerShared
{
	slock_t		mutex;
	Latch	   *launcher_latch; /* NULL when no launcher runs */
	bool		rescan;			/* start workers now, ignore back-off */
	int			nslots;
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} WorkerShared;

/* Launcher-local bookkeeping of the database workers it started */
typedef struct LauncherEntry
{
	Oid			dboid;			/* hash key */
	BackgroundWorkerHandle *handle;
	TimestampTz next_start;
	bool		seen;
	bool		started;		/* a worker was started since the launcher */
} LauncherEntry;

static WorkerShared *WorkerState = NULL;
static bool worker_preloaded = false;

/* In a database worker: its slot */
static int	worker_slot = -1;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

PGDLLEXPORT void nosql_launcher_main(Datum main_arg);
PGDLLEXPORT void nosql_worker_main(Datum main_arg);

static Size
WorkerShmemSize(void)
{
	return add_size(offsetof(WorkerShared, slots),
					mul_size(sizeof(WorkerSlot), max_worker_processes));
}

#if PG_VERSION_NUM >= 150000
static void
WorkerShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(WorkerShmemSize());
}
#endif

static void
WorkerShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	WorkerState = ShmemInitStruct("nosql worker state", WorkerShmemSize(), &found);
	if (!found)
	{
		SpinLockInit(&WorkerState->mutex);
		WorkerState->launcher_latch = NULL;
		WorkerState->rescan = false;
		WorkerState->nslots = max_worker_processes;
		memset(WorkerState->slots, 0, sizeof(WorkerSlot) * max_worker_processes);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Ask the worker of a database to exit and keep the launcher away from it
 * for a while, so that a statement needing the database to itself can run.
 */
static void
WorkerReleaseDatabase(const char *dbname)
{
	Oid			dboid;
	pid_t		pid = 0;

	if (WorkerState == NULL || dbname == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid))
		return;

	SpinLockAcquire(&WorkerState->mutex);
	for (int i = 0; i < WorkerState->nslots; i++)
	{
		WorkerSlot *slot = &WorkerState->slots[i];

		if (slot->dboid == dboid)
		{
			slot->hold_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														   WORKER_HOLD_OFF_MS);
			pid = slot->pid;
		}
	}
	SpinLockRelease(&WorkerState->mutex);

	if (pid != 0)
		kill(pid, SIGTERM);
	KvApplyReleaseDatabase(dboid);
	CdcWatchReleaseDatabase(dboid, false);
}

/*
 * See the statements that need a database without other connections
 * before PostgreSQL checks for them.
 */
static void
WorkerProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropdbStmt))
	{
		const char *dbname = ((DropdbStmt *) parsetree)->dbname;
		Oid			dboid = get_database_oid(dbname, true);

		WorkerReleaseDatabase(dbname);
		/* its change stream slot would make the drop fail */
		if (OidIsValid(dboid))
			CdcWatchReleaseDatabase(dboid, true);
	}
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		WorkerReleaseDatabase(((RenameStmt *) parsetree)->subname);
	else if (IsA(parsetree, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) parsetree)->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				WorkerReleaseDatabase(defGetString(opt));
		}
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * Register the launcher and the hooks.  Only possible (and only useful)
 * while shared_preload_libraries is being processed; otherwise the
 * extension works without periodic jobs.
 */
void
WorkerInit(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
	worker_preloaded = true;

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = WorkerShmemRequest;
#else
	RequestAddinShmemSpace(WorkerShmemSize());
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = WorkerShmemStartup;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = WorkerProcessUtility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = LAUNCHER_RESTART_SECONDS;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "nosql");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "nosql_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "nosql launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "nosql launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * Register a dynamic background worker of this library, connected to a
 * database, never restarted: function is its entry point, extra (at most
 * BGW_EXTRALEN bytes) its bgw_extra.  Returns NULL when no slot is free;
 * the handle is allocated in TopMemoryContext.
 */
BackgroundWorkerHandle *
WorkerStartDynamic(const char *function, const char *name, const char *type,
				   Datum main_arg, const void *extra, Size extra_len, pid_t notify_pid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext oldcontext;

	Assert(extra_len <= BGW_EXTRALEN);
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "nosql");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
	worker.bgw_main_arg = main_arg;
	if (extra_len > 0)
		memcpy(worker.bgw_extra, extra, extra_len);
	worker.bgw_notify_pid = notify_pid;

	oldcontext = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		handle = NULL;
	MemoryContextSwitchTo(oldcontext);
	return handle;
}

/*
 * Start the worker of one database.  Returns NULL when no background worker
 * slot is free; the launcher tries again later.  The handle outlives this
 * round: it is kept in the launcher's hash.
 */
static BackgroundWorkerHandle *
LauncherStartWorker(Oid dboid, bool wakeup, bool first)
{
	char		flags = (wakeup ? WORKER_FLAG_WAKEUP : 0) | (first ? WORKER_FLAG_PROMOTE : 0);

	return WorkerStartDynamic("nosql_worker_main",
							  psprintf("nosql worker for database %u", dboid), "nosql worker",
							  ObjectIdGetDatum(dboid), &flags, 1, MyProcPid);
}

/*
 * Whether a database is on hold because a statement asked its worker to go.
 */
static bool
LauncherDatabaseOnHold(Oid dboid, TimestampTz now)
{
	bool		held = false;

	SpinLockAcquire(&WorkerState->mutex);
	for (int i = 0; i < WorkerState->nslots; i++)
	{
		if (WorkerState->slots[i].dboid == dboid &&
			WorkerState->slots[i].hold_until > now)
			held = true;
	}
	SpinLockRelease(&WorkerState->mutex);
	return held;
}

/*
 * One round of the launcher: make sure every database that accepts
 * connections has a worker, unless it was tried within the last naptime.
 */
static void
LauncherScan(HTAB *entries, bool rescan)
{
	List	   *dboids = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	ListCell   *lc;
	HASH_SEQ_STATUS status;
	LauncherEntry *entry;
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext round_context = CurrentMemoryContext;

	/* Shared catalogs are readable without a database connection */
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		/* Templates must stay free of connections for CREATE DATABASE */
		if (db->datallowconn && !db->datistemplate)
		{
			/* the list must survive the transaction */
			MemoryContext oldcontext = MemoryContextSwitchTo(round_context);

			dboids = lappend_oid(dboids, db->oid);
			MemoryContextSwitchTo(oldcontext);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(round_context);

	hash_seq_init(&status, entries);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->seen = false;

	foreach(lc, dboids)
	{
		Oid			dboid = lfirst_oid(lc);
		bool		found;
		pid_t		pid;

		entry = hash_search(entries, &dboid, HASH_ENTER, &found);
		entry->seen = true;
		if (!found)
		{
			entry->handle = NULL;
			entry->next_start = 0;
			entry->started = false;
		}
		if (entry->handle != NULL &&
			GetBackgroundWorkerPid(entry->handle, &pid) != BGWH_STOPPED)
			continue;
		if (entry->handle != NULL)
		{
			pfree(entry->handle);
			entry->handle = NULL;
		}
		if ((!rescan && now < entry->next_start) ||
			LauncherDatabaseOnHold(dboid, now))
			continue;

		entry->handle = LauncherStartWorker(dboid, rescan, !entry->started);
		if (entry->handle != NULL)
			entry->started = true;
		entry->next_start = TimestampTzPlusMilliseconds(now, nosql_worker_naptime);
	}

	/* Forget databases that are gone */
	hash_seq_init(&status, entries);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!entry->seen)
		{
			if (entry->handle)
				pfree(entry->handle);
			hash_search(entries, &entry->dboid, HASH_REMOVE, NULL);
		}
	}
	list_free(dboids);
}

static void
LauncherDetach(int code, Datum arg)
{
	SpinLockAcquire(&WorkerState->mutex);
	if (WorkerState->launcher_latch == MyLatch)
		WorkerState->launcher_latch = NULL;
	SpinLockRelease(&WorkerState->mutex);
}

/*
 * Main loop of the launcher.
 */
void
nosql_launcher_main(Datum main_arg)
{
	HASHCTL		ctl;
	HTAB	   *entries;
	MemoryContext scan_context;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	SpinLockAcquire(&WorkerState->mutex);
	WorkerState->launcher_latch = MyLatch;
	SpinLockRelease(&WorkerState->mutex);
	before_shmem_exit(LauncherDetach, 0);

	ereport(LOG, (errmsg("nosql launcher started")));

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LauncherEntry);
	entries = hash_create("nosql launcher databases", 16, &ctl,
						  HASH_ELEM | HASH_BLOBS);
	scan_context = AllocSetContextCreate(TopMemoryContext,
										 "nosql launcher scan context",
										 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		bool		rescan;
		MemoryContext oldcontext;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			ereport(LOG, (errmsg("nosql launcher reloaded its configuration")));
		}

		SpinLockAcquire(&WorkerState->mutex);
		rescan = WorkerState->rescan;
		WorkerState->rescan = false;
		SpinLockRelease(&WorkerState->mutex);

		/* the database list is per round; worker handles are long-lived */
		oldcontext = MemoryContextSwitchTo(scan_context);
		LauncherScan(entries, rescan);
		MemoryContextSwitchTo(oldcontext);
		MemoryContextReset(scan_context);

		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nosql_worker_naptime,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Whether the extension is installed in the database we are connected to.
 */
static bool
WorkerExtensionInstalled(void)
{
	bool		installed;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("nosql", true));
	CommitTransactionCommand();
	return installed;
}

/*
 * Name of our database, copied into long-lived memory for log messages.
 */
static char *
WorkerDatabaseName(Oid dboid)
{
	char	   *name;

	StartTransactionCommand();
	name = MemoryContextStrdup(TopMemoryContext, get_database_name(dboid));
	CommitTransactionCommand();
	return name;
}

static void
WorkerDetach(int code, Datum arg)
{
	int			i = DatumGetInt32(arg);

	SpinLockAcquire(&WorkerState->mutex);
	if (WorkerState->slots[i].pid == MyProcPid)
	{
		WorkerState->slots[i].pid = 0;
		WorkerState->slots[i].latch = NULL;
		/* keep dboid while a hold is in force so the launcher honours it */
		if (WorkerState->slots[i].hold_until <= GetCurrentTimestamp())
			WorkerState->slots[i].dboid = InvalidOid;
	}
	SpinLockRelease(&WorkerState->mutex);
}

/*
 * Take a slot in shared memory so that DROP DATABASE can find us.
 */
static void
WorkerAttach(Oid dboid)
{
	int			free_slot = -1;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&WorkerState->mutex);
	for (int i = 0; i < WorkerState->nslots; i++)
	{
		WorkerSlot *slot = &WorkerState->slots[i];

		if (slot->pid == 0 &&
			(slot->dboid == dboid || slot->dboid == InvalidOid ||
			 slot->hold_until <= now) &&
			(free_slot < 0 || slot->dboid == dboid))
			free_slot = i;
	}
	if (free_slot >= 0)
	{
		WorkerState->slots[free_slot].dboid = dboid;
		WorkerState->slots[free_slot].pid = MyProcPid;
		WorkerState->slots[free_slot].hold_until = 0;
		WorkerState->slots[free_slot].latch = MyLatch;
		WorkerState->slots[free_slot].lease_wake = DT_NOEND;
	}
	SpinLockRelease(&WorkerState->mutex);

	/* Cannot happen: there are as many slots as background workers */
	if (free_slot < 0)
		elog(ERROR, "no free nosql worker slot for database %u", dboid);
	worker_slot = free_slot;
	before_shmem_exit(WorkerDetach, Int32GetDatum(free_slot));
}

/*
 * The worker's lease round (see the design note): returns when to look at
 * the leases again.
 */
static TimestampTz
WorkerLeaseRound(void)
{
	WorkerSlot *slot = &WorkerState->slots[worker_slot];
	TimestampTz next;

	SpinLockAcquire(&WorkerState->mutex);
	slot->lease_wake = DT_NOEND;
	SpinLockRelease(&WorkerState->mutex);

	next = KvLeaseRound();

	SpinLockAcquire(&WorkerState->mutex);
	if (next < slot->lease_wake)
		slot->lease_wake = next;
	next = slot->lease_wake;
	SpinLockRelease(&WorkerState->mutex);
	return next;
}

/*
 * WorkerLeaseDeadline
 *		Called when a transaction that granted a lease commits: wake this
 *		database's worker if the lease's deadline is earlier than the time
 *		it means to look at the leases again.  Never fails (runs in a
 *		commit callback); a no-op without workers.
 */
void
WorkerLeaseDeadline(TimestampTz deadline)
{
	Latch	   *latch = NULL;

	if (WorkerState == NULL)
		return;
	SpinLockAcquire(&WorkerState->mutex);
	for (int i = 0; i < WorkerState->nslots; i++)
	{
		WorkerSlot *slot = &WorkerState->slots[i];

		if (slot->dboid == MyDatabaseId && slot->pid != 0 &&
			slot->latch != NULL && deadline < slot->lease_wake)
		{
			slot->lease_wake = deadline;
			latch = slot->latch;
		}
	}
	SpinLockRelease(&WorkerState->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * Main loop of a database worker.
 */
void
nosql_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	bool		wakeup = (MyBgworkerEntry->bgw_extra[0] & WORKER_FLAG_WAKEUP) != 0;
	bool		promote = (MyBgworkerEntry->bgw_extra[0] & WORKER_FLAG_PROMOTE) != 0;
	TimestampTz give_up;
	TimestampTz last_ttl;
	TimestampTz jobs_due;
	char	   *dbname;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	WorkerAttach(dboid);

	/*
	 * Started by CREATE EXTENSION's wake-up call: that transaction may not
	 * have committed yet, so look again for a few seconds.
	 */
	give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										  wakeup ? WORKER_WAKEUP_GRACE_MS : 0);
	while (!WorkerExtensionInstalled())
	{
		if (GetCurrentTimestamp() >= give_up)
			proc_exit(0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 200, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	dbname = WorkerDatabaseName(dboid);
	ereport(LOG, (errmsg("nosql worker started for database \"%s\"", dbname)));
	last_ttl = GetCurrentTimestamp();
	jobs_due = 0;
	if (promote)
		KvLeasePromote();

	for (;;)
	{
		TimestampTz wake;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (!WorkerExtensionInstalled())
		{
			ereport(LOG, (errmsg("nosql worker exiting: extension dropped from database \"%s\"",
								 dbname)));
			/*
			 * the change stream slot would keep WAL for ever; in a
			 * transaction, since the owner check may read the catalogs
			 */
			StartTransactionCommand();
			CdcWatchReleaseDatabase(dboid, true);
			CommitTransactionCommand();
			proc_exit(0);
		}

		/*
		 * Periodic jobs are run here, once per naptime, by the capabilities
		 * that own them.
		 */
		if (GetCurrentTimestamp() >= jobs_due)
		{
			IndexBuildRound();
			if (TimestampDifferenceExceeds(last_ttl, GetCurrentTimestamp(), nosql_ttl_interval))
			{
				TtlRound();
				last_ttl = GetCurrentTimestamp();
			}
			CdcWatchRound();
			TsRound();
			TsRollupRound();
			jobs_due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   nosql_worker_naptime);
		}

		/* lease expiry at each wake-up; then sleep to the next deadline */
		wake = Min(jobs_due, WorkerLeaseRound());

		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * WorkerTransaction
 *		Run body(arg) in a transaction of its own, with a snapshot and
 *		connected to SPI, for the periodic jobs of a database worker (called
 *		outside any transaction).  An error is logged and its transaction
 *		rolled back; returns whether the transaction committed.
 */
bool
WorkerTransaction(void (*body) (void *arg), void *arg)
{
	volatile bool committed = false;

	PG_TRY();
	{
		/* now() in the task is this round's time, not the worker's start */
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		body(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		committed = true;
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	return committed;
}

/*
 * nosql.worker_wakeup() — called by CREATE EXTENSION: have the launcher
 * start this database's worker now.  Returns false when the library is not
 * preloaded (no workers) or no launcher runs.
 */
PG_FUNCTION_INFO_V1(worker_wakeup);
Datum
worker_wakeup(PG_FUNCTION_ARGS)
{
	Latch	   *latch = NULL;

	if (!worker_preloaded || WorkerState == NULL)
		PG_RETURN_BOOL(false);

	SpinLockAcquire(&WorkerState->mutex);
	WorkerState->rescan = true;
	latch = WorkerState->launcher_latch;
	SpinLockRelease(&WorkerState->mutex);

	if (latch == NULL)
		PG_RETURN_BOOL(false);
	SetLatch(latch);
	PG_RETURN_BOOL(true);
}
