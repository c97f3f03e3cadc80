/*-------------------------------------------------------------------------
 *
 * kv_apply.c
 *	  The apply loop of the key-value store: one background worker per
 *	  database applies the puts of many clients in one transaction when
 *	  writers queue for the writers' lock.
 *
 * Design note
 * -----------
 * Revisions are gap-free and in commit order, so writers of the store are
 * serialised from their first write to their commit (kv.c).  With many
 * clients the cost is not the write but the hand-over of the writers' lock:
 * each transaction ends by waking the next writer, who must be scheduled
 * among the other busy processes before the store moves on.  etcd gets its
 * throughput by applying the requests of many clients in one batch, one
 * backend transaction and one fsync; this file does the same for the calls
 * where that cannot be told apart from running them one by one.
 *
 * A kv_put is eligible when it is a whole statement on its own: the
 * unnamed portal's plan is "SELECT kv_put(...)" with constant or parameter
 * arguments and this very call is its only target (the FuncExpr the
 * executor called is the one in the portal's plan), outside a transaction
 * block, in a transaction that has written nothing.  Its transaction then
 * does nothing but the put, so the put may as well commit in another
 * transaction: the client sees the same thing.  The statement is also made
 * to commit as soon as it completes (XACT_FLAGS_NEEDIMMEDIATECOMMIT, as
 * VACUUM does in a pipeline), so a later statement of the same pipeline
 * cannot roll it back.  A role under row-level security on the store, a
 * key and value larger than a request slot (KV_APPLY_SLOT_BYTES), a
 * server without the library preloaded, and every other call take the
 * ordinary path.
 *
 * An eligible put first tries the writers' lock without waiting.  If it is
 * free, the put runs in its own transaction as any other (no added
 * latency for a lone client).  If it is taken, the put is copied into the
 * backend's request slot in shared memory and queued for the database's
 * apply worker, and the backend sleeps on its latch.  The worker takes
 * the writers' lock, then every queued request (up to KV_APPLY_BATCH), and
 * applies them in order in one transaction, each at its own revision as
 * separate kv_put calls would be.  It commits asynchronously, hands the
 * batch to the first client whose put was applied, and goes on with the
 * next batch at once: that client waits for the WAL flush up to the end of
 * the commit record and then answers the others, so the worker never waits
 * for the disk, each client sleeps once, and nothing acknowledged can be
 * lost (kv.c's group commit).  Each client then also waits for a
 * synchronous standby if its synchronous_commit asks for one, as its own
 * commit would.  The watchers are woken as for any commit.  A request whose lease does not exist or that finds the
 * store over its quota fails alone with the error the ordinary path
 * raises; any other error fails the whole batch, whose transaction rolls
 * back, and every client of it gets the error.
 *
 * Cancellation.  A request is QUEUED until the worker holds the writers'
 * lock and takes it (TAKEN); a queued request can be withdrawn, so a
 * client cancelled while the worker waits for the lock (behind a long
 * transaction) stops at once with nothing written.  A taken request is
 * applied or fails within the worker's batch, which holds interrupts off;
 * the client waits for the outcome and a cancel that came meanwhile is too
 * late, as for a statement that already completed.
 *
 * The worker is started by the first put that finds the lock taken and no
 * worker for its database (that put takes the ordinary path), exits after
 * KV_APPLY_IDLE_MS without requests, and is asked to leave by DROP
 * DATABASE as the database worker is (worker.c).  Requests still queued
 * when it exits are handed back to their clients, who take the ordinary
 * path.  nosql.kv_apply_stats() shows each worker's batches and requests.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/plannodes.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/syncrep.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "kv.h"
#include "nosql.h"

/* Bytes of key and value a request carries in shared memory */
#define KV_APPLY_SLOT_BYTES 4096
/* Databases with an apply worker at one time */
#define KV_APPLY_DATABASES 8
/* Requests applied in one transaction at most */
#define KV_APPLY_BATCH 1024
/* A worker without requests for this long exits */
#define KV_APPLY_IDLE_MS 30000
/* A worker that has not attached this long after its start failed */
#define KV_APPLY_START_MS 10000
/* How often a waiting client checks that its worker still runs */
#define KV_APPLY_CHECK_MS 1000

typedef enum KvRequestState
{
	KV_REQUEST_IDLE,			/* no request */
	KV_REQUEST_QUEUED,			/* waiting for the worker */
	KV_REQUEST_TAKEN,			/* in the worker's batch */
	KV_REQUEST_LEAD,			/* applied: flush, then answer the batch */
	KV_REQUEST_DONE,			/* applied and durable: revision */
	KV_REQUEST_FAILED,			/* not applied: the error */
	KV_REQUEST_RETURNED			/* not applied: take the ordinary path */
} KvRequestState;

/* One backend's request, indexed by its pgprocno */
typedef struct KvRequest
{
	int			state;			/* KvRequestState; changes under the mutex */
	int			next;			/* the next queued request, or -1 */
	int64		lease;
	int32		keylen;
	int32		valuelen;
	/* the outcome */
	int64		revision;
	XLogRecPtr	commit_end;		/* the end of the batch's commit record */
	int			sqlerrcode;
	char		message[256];
	char		detail[256];
	char		hint[256];
	char		data[KV_APPLY_SLOT_BYTES];	/* the key, then the value */
} KvRequest;

/* The apply worker of one database */
typedef struct KvApplyWorker
{
	Oid			dboid;			/* InvalidOid: the entry is free */
	pid_t		pid;			/* 0 while starting */
	Latch	   *latch;
	TimestampTz started;		/* when it was asked to start */
	int			head;			/* the queue: first and last request, or -1 */
	int			tail;
	uint64		batches;		/* transactions it committed */
	uint64		applied;		/* requests applied in them */
} KvApplyWorker;

typedef struct KvApplyShared
{
	slock_t		mutex;			/* protects all of it */
	KvApplyWorker workers[KV_APPLY_DATABASES];
	int			nrequests;
	KvRequest	requests[FLEXIBLE_ARRAY_MEMBER];
} KvApplyShared;

static KvApplyShared *kv_apply = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void nosql_kv_apply_main(Datum main_arg);

static void KvApplyAnswer(int slot, int state);

static int
KvApplyRequestCount(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS;
}

static Size
KvApplyShmemSize(void)
{
	return add_size(offsetof(KvApplyShared, requests),
					mul_size(sizeof(KvRequest), KvApplyRequestCount()));
}

static void
KvApplyShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(KvApplyShmemSize());
}

static void
KvApplyShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	kv_apply = ShmemInitStruct("nosql key-value apply", KvApplyShmemSize(), &found);
	if (!found)
	{
		SpinLockInit(&kv_apply->mutex);
		memset(kv_apply->workers, 0, sizeof(kv_apply->workers));
		kv_apply->nrequests = KvApplyRequestCount();
		for (int i = 0; i < kv_apply->nrequests; i++)
		{
			kv_apply->requests[i].state = KV_REQUEST_IDLE;
			kv_apply->requests[i].next = -1;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * KvApplyInit
 *		Reserve the shared memory (only while shared_preload_libraries is
 *		processed; without it every put takes the ordinary path).
 */
void
KvApplyInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = KvApplyShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = KvApplyShmemStartup;
}

/* ---------------------------------------------------------------------
 * The client side
 * ---------------------------------------------------------------------
 */

/*
 * Whether the call of fcinfo is the whole statement: see the design note.
 */
static bool
KvApplyWholeStatement(FunctionCallInfo fcinfo)
{
	Portal		portal = ActivePortal;
	PlannedStmt *stmt;
	Result	   *result;
	TargetEntry *target;
	FuncExpr   *call;
	ListCell   *lc;

	if (portal == NULL || portal->name == NULL || portal->name[0] != '\0' ||
		list_length(portal->stmts) != 1 || IsTransactionBlock() ||
		IsSubTransaction() || GetTopTransactionIdIfAny() != InvalidTransactionId ||
		fcinfo->flinfo == NULL || fcinfo->flinfo->fn_expr == NULL)
		return false;
	stmt = (PlannedStmt *) linitial(portal->stmts);
	if (!IsA(stmt, PlannedStmt) || stmt->commandType != CMD_SELECT ||
		stmt->utilityStmt != NULL || stmt->hasModifyingCTE ||
		stmt->subplans != NIL || stmt->planTree == NULL ||
		!IsA(stmt->planTree, Result))
		return false;
	result = (Result *) stmt->planTree;
	if (result->plan.lefttree != NULL || result->plan.righttree != NULL ||
		result->plan.qual != NIL || result->plan.initPlan != NIL ||
		result->resconstantqual != NULL ||
		list_length(result->plan.targetlist) != 1)
		return false;
	target = linitial_node(TargetEntry, result->plan.targetlist);
	if ((Node *) target->expr != fcinfo->flinfo->fn_expr || !IsA(target->expr, FuncExpr))
		return false;
	call = (FuncExpr *) target->expr;
	foreach(lc, call->args)
	{
		Node	   *arg = lfirst(lc);

		if (!IsA(arg, Const) &&
			!(IsA(arg, Param) && ((Param *) arg)->paramkind == PARAM_EXTERN))
			return false;
	}
	return true;
}

/* The worker entry of this database, or NULL; called under the mutex */
static KvApplyWorker *
KvApplyFindWorker(Oid dboid)
{
	for (int i = 0; i < KV_APPLY_DATABASES; i++)
		if (kv_apply->workers[i].dboid == dboid)
			return &kv_apply->workers[i];
	return NULL;
}

/* Start this database's worker; false when no background worker slot is free */
static bool
KvApplyStartWorker(void)
{
	return WorkerStartDynamic("nosql_kv_apply_main", "nosql kv apply", "nosql kv apply",
							  ObjectIdGetDatum(MyDatabaseId), NULL, 0, 0) != NULL;
}

/*
 * Queue the request in slot my for this database's worker.  Returns the
 * worker's pid, or 0 (nothing queued) when no worker runs: then one is
 * started if none is starting.
 */
static pid_t
KvApplyEnqueue(int my)
{
	KvRequest  *req = &kv_apply->requests[my];
	KvApplyWorker *w;
	Latch	   *latch = NULL;
	pid_t		pid = 0;
	bool		start = false;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&kv_apply->mutex);
	w = KvApplyFindWorker(MyDatabaseId);
	if (w != NULL && w->pid == 0 &&
		TimestampDifferenceExceeds(w->started, now, KV_APPLY_START_MS))
	{
		w->dboid = InvalidOid;	/* it never attached */
		w = NULL;
	}
	if (w == NULL)
	{
		w = KvApplyFindWorker(InvalidOid);
		if (w != NULL)
		{
			memset(w, 0, sizeof(*w));
			w->dboid = MyDatabaseId;
			w->started = now;
			w->head = w->tail = -1;
			start = true;
		}
	}
	else if (w->pid != 0)
	{
		req->state = KV_REQUEST_QUEUED;
		req->next = -1;
		if (w->tail >= 0)
			kv_apply->requests[w->tail].next = my;
		else
			w->head = my;
		w->tail = my;
		latch = w->latch;
		pid = w->pid;
	}
	SpinLockRelease(&kv_apply->mutex);

	if (start && !KvApplyStartWorker())
	{
		SpinLockAcquire(&kv_apply->mutex);
		if (w->dboid == MyDatabaseId && w->pid == 0)
			w->dboid = InvalidOid;
		SpinLockRelease(&kv_apply->mutex);
	}
	if (latch != NULL)
		SetLatch(latch);
	return pid;
}

/*
 * Take the request in slot my out of the queue if the worker has not taken
 * it yet.  Returns whether it was withdrawn.
 */
static bool
KvApplyWithdraw(int my)
{
	KvRequest  *req = &kv_apply->requests[my];
	bool		withdrawn = false;

	SpinLockAcquire(&kv_apply->mutex);
	if (req->state == KV_REQUEST_QUEUED)
	{
		KvApplyWorker *w = KvApplyFindWorker(MyDatabaseId);
		int			prev = -1;

		Assert(w != NULL);
		for (int i = w->head; i >= 0; prev = i, i = kv_apply->requests[i].next)
		{
			if (i != my)
				continue;
			if (prev >= 0)
				kv_apply->requests[prev].next = req->next;
			else
				w->head = req->next;
			if (w->tail == my)
				w->tail = prev;
			break;
		}
		req->state = KV_REQUEST_IDLE;
		withdrawn = true;
	}
	SpinLockRelease(&kv_apply->mutex);
	return withdrawn;
}

/* Whether this database's worker still runs as pid */
static bool
KvApplyWorkerAlive(pid_t pid)
{
	KvApplyWorker *w;
	bool		alive;

	SpinLockAcquire(&kv_apply->mutex);
	w = KvApplyFindWorker(MyDatabaseId);
	alive = w != NULL && w->pid == pid;
	SpinLockRelease(&kv_apply->mutex);
	return alive;
}

/*
 * KvApplyPut
 *		Put through the apply worker when the call is eligible and writers
 *		queue (see the design note).  Returns false when the ordinary path
 *		must do the put; true with its revision in *revision when it was
 *		done.  The errors of a failed request are raised here.
 */
bool
KvApplyPut(FunctionCallInfo fcinfo, text *key, bytea *value, int64 lease,
		   int64 *revision)
{
	Size		keylen = VARSIZE_ANY_EXHDR(key);
	Size		valuelen = VARSIZE_ANY_EXHDR(value);
	Oid			history;
	Oid			counter;
	int			my;
	KvRequest  *req;
	pid_t		worker_pid;
	int			state;

	if (kv_apply == NULL || MyProc == NULL || keylen + valuelen > KV_APPLY_SLOT_BYTES ||
		!KvApplyWholeStatement(fcinfo))
		return false;
	my = MyProc->pgprocno;
	if (my < 0 || my >= kv_apply->nrequests)
		return false;
	KvCheckKey(key);
	KvCheckValue(value);

	/* what the worker would not check for this role */
	history = RangeVarGetRelid(makeRangeVar("nosql", "kv_history", -1), NoLock, false);
	if (pg_class_aclcheck(history, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		check_enable_rls(history, InvalidOid, true) == RLS_ENABLED)
		return false;

	/* the statement commits as it completes, whichever path it takes */
	MyXactFlags |= XACT_FLAGS_NEEDIMMEDIATECOMMIT;

	/* no writer ahead: the ordinary path, holding the lock already */
	counter = RangeVarGetRelid(makeRangeVar("nosql", "kv_revision", -1), NoLock, false);
	if (ConditionalLockRelationOid(counter, ExclusiveLock))
		return false;

	req = &kv_apply->requests[my];
	req->lease = lease;
	req->keylen = (int32) keylen;
	req->valuelen = (int32) valuelen;
	memcpy(req->data, VARDATA_ANY(key), keylen);
	memcpy(req->data + keylen, VARDATA_ANY(value), valuelen);
	req->sqlerrcode = 0;
	worker_pid = KvApplyEnqueue(my);
	if (worker_pid == 0)
		return false;

	for (;;)
	{
		int			rc;

		state = ((volatile KvRequest *) req)->state;
		if (state != KV_REQUEST_QUEUED && state != KV_REQUEST_TAKEN)
			break;
		if (state == KV_REQUEST_QUEUED && InterruptPending && KvApplyWithdraw(my))
		{
			CHECK_FOR_INTERRUPTS();
			return false;		/* an interrupt that did not stop us */
		}
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   KV_APPLY_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if ((rc & WL_TIMEOUT) && !KvApplyWorkerAlive(worker_pid))
		{
			/* it exited without answering: handed back or never applied */
			state = ((volatile KvRequest *) req)->state;
			if (state == KV_REQUEST_QUEUED && KvApplyWithdraw(my))
				return false;
			if (state == KV_REQUEST_TAKEN)
			{
				req->state = KV_REQUEST_IDLE;
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("the key-value apply worker exited before applying the put")));
			}
		}
	}
	pg_read_barrier();
	req->state = KV_REQUEST_IDLE;
	if (state == KV_REQUEST_LEAD)
	{
		/* the first of the batch: flush for all of it, then answer the rest */
		HOLD_INTERRUPTS();
		XLogFlush(req->commit_end);
		for (int i = req->next; i >= 0;)
		{
			int			next = kv_apply->requests[i].next;

			KvApplyAnswer(i, KV_REQUEST_DONE);
			i = next;
		}
		RESUME_INTERRUPTS();
		state = KV_REQUEST_DONE;
	}
	switch (state)
	{
		case KV_REQUEST_DONE:
			/* too late to cancel: the put is committed */
			QueryCancelPending = false;
			*revision = req->revision;
			/* durable before the client hears of it, as a commit of its own */
			if (synchronous_commit > SYNCHRONOUS_COMMIT_OFF)
			{
				XLogFlush(req->commit_end);
				SyncRepWaitForLSN(req->commit_end, true);
			}
			return true;
		case KV_REQUEST_RETURNED:
			return false;
		default:
			ereport(ERROR,
					(errcode(req->sqlerrcode),
					 errmsg_internal("%s", req->message),
					 req->detail[0] ? errdetail_internal("%s", req->detail) : 0,
					 req->hint[0] ? errhint("%s", req->hint) : 0));
	}
	return false;				/* keep the compiler quiet */
}

/*
 * KvApplyReleaseDatabase
 *		Ask the apply worker of a database to exit (DROP DATABASE and the
 *		like need the database to themselves).
 */
void
KvApplyReleaseDatabase(Oid dboid)
{
	KvApplyWorker *w;
	pid_t		pid = 0;

	if (kv_apply == NULL)
		return;
	SpinLockAcquire(&kv_apply->mutex);
	w = KvApplyFindWorker(dboid);
	if (w != NULL)
		pid = w->pid;
	SpinLockRelease(&kv_apply->mutex);
	if (pid != 0)
		kill(pid, SIGTERM);
}

/* ---------------------------------------------------------------------
 * The worker
 * ---------------------------------------------------------------------
 */

static KvApplyWorker *kv_apply_me = NULL;

/* Answer a request: the outcome is set, then the state, then the latch */
static void
KvApplyAnswer(int slot, int state)
{
	pg_write_barrier();
	SpinLockAcquire(&kv_apply->mutex);
	kv_apply->requests[slot].state = state;
	SpinLockRelease(&kv_apply->mutex);
	SetLatch(&ProcGlobal->allProcs[slot].procLatch);
}

static void
KvApplyFail(int slot, int sqlerrcode, const char *message, const char *detail,
			const char *hint)
{
	KvRequest  *req = &kv_apply->requests[slot];

	req->sqlerrcode = sqlerrcode;
	strlcpy(req->message, message, sizeof(req->message));
	strlcpy(req->detail, detail ? detail : "", sizeof(req->detail));
	strlcpy(req->hint, hint ? hint : "", sizeof(req->hint));
}

/* At exit: hand the queued requests back, and leave the entry */
static void
KvApplyDetach(int code, Datum arg)
{
	int			handed[KV_APPLY_BATCH];
	int			n = 0;

	if (kv_apply_me == NULL)
		return;
	SpinLockAcquire(&kv_apply->mutex);
	for (int i = kv_apply_me->head; i >= 0 && n < KV_APPLY_BATCH; i = kv_apply->requests[i].next)
		handed[n++] = i;
	for (int i = 0; i < n; i++)
		kv_apply->requests[handed[i]].state = KV_REQUEST_RETURNED;
	kv_apply_me->dboid = InvalidOid;
	kv_apply_me->pid = 0;
	kv_apply_me->latch = NULL;
	kv_apply_me->head = kv_apply_me->tail = -1;
	SpinLockRelease(&kv_apply->mutex);
	for (int i = 0; i < n; i++)
		SetLatch(&ProcGlobal->allProcs[handed[i]].procLatch);
	kv_apply_me = NULL;
}

/*
 * Apply one batch: the writers' lock first (requests stay withdrawable
 * while it is awaited), then the queue, in one transaction.
 */
static void
KvApplyBatch(void)
{
	static int	slots[KV_APPLY_BATCH];
	static int	outcome[KV_APPLY_BATCH];
	static text *keys[KV_APPLY_BATCH];
	static bytea *values[KV_APPLY_BATCH];
	static int64 leases[KV_APPLY_BATCH];
	static int64 revisions[KV_APPLY_BATCH];
	volatile int n = 0;
	MemoryContext batch_context = CurrentMemoryContext;
	uint32		holdoff = InterruptHoldoffCount;

	PG_TRY();
	{
		Oid			counter;
		int			applied = 0;
		int			lead = -1;
		int			last = -1;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "nosql kv apply batch");
		counter = RangeVarGetRelid(makeRangeVar("nosql", "kv_revision", -1), NoLock, false);
		LockRelationOid(counter, ExclusiveLock);

		HOLD_INTERRUPTS();
		SpinLockAcquire(&kv_apply->mutex);
		while (kv_apply_me->head >= 0 && n < KV_APPLY_BATCH)
		{
			int			i = kv_apply_me->head;

			kv_apply_me->head = kv_apply->requests[i].next;
			kv_apply->requests[i].state = KV_REQUEST_TAKEN;
			slots[n++] = i;
		}
		if (kv_apply_me->head < 0)
			kv_apply_me->tail = -1;
		SpinLockRelease(&kv_apply->mutex);

		/*
		 * The errors a put can meet alone, as the ordinary path raises them;
		 * then the others, in order, at consecutive revisions.
		 */
		for (int j = 0; j < n; j++)
		{
			KvRequest  *req = &kv_apply->requests[slots[j]];
			int64		size;

			outcome[j] = KV_REQUEST_DONE;
			if (req->lease != 0 && !KvLeaseAlive(req->lease))
			{
				char		message[64];

				snprintf(message, sizeof(message), KV_MSG_LEASE_NOT_FOUND, req->lease);
				KvApplyFail(slots[j], ERRCODE_UNDEFINED_OBJECT, message, NULL,
							KV_HINT_LEASE_NOT_FOUND);
				outcome[j] = KV_REQUEST_FAILED;
			}
			else if (KvQuotaExceeded(2 * VARHDRSZ + req->keylen + req->valuelen + 64, &size))
			{
				char		detail[256];

				snprintf(detail, sizeof(detail), KV_DETAIL_SPACE_EXCEEDED, size,
						 nosql_kv_quota);
				KvApplyFail(slots[j], ERRCODE_DISK_FULL, KV_MSG_SPACE_EXCEEDED, detail,
							KV_HINT_SPACE_EXCEEDED);
				outcome[j] = KV_REQUEST_FAILED;
			}
			else
			{
				text	   *key = (text *) palloc(VARHDRSZ + req->keylen);
				bytea	   *value = (bytea *) palloc(VARHDRSZ + req->valuelen);

				SET_VARSIZE(key, VARHDRSZ + req->keylen);
				memcpy(VARDATA(key), req->data, req->keylen);
				SET_VARSIZE(value, VARHDRSZ + req->valuelen);
				memcpy(VARDATA(value), req->data + req->keylen, req->valuelen);
				keys[applied] = key;
				values[applied] = value;
				leases[applied] = req->lease;
				applied++;
			}
		}
		if (applied > 0)
			KvPutMany(applied, keys, values, leases, revisions);
		for (int j = 0, k = 0; j < n; j++)
			if (outcome[j] == KV_REQUEST_DONE)
				kv_apply->requests[slots[j]].revision = revisions[k++];
		PopActiveSnapshot();
		CommitTransactionCommand();

		/*
		 * Committed: answer the failed requests, and the first applied one,
		 * which waits for the flush and answers the others of the batch
		 * (chained by next), so that each client sleeps once.
		 */
		for (int j = 0; j < n; j++)
		{
			KvRequest  *req = &kv_apply->requests[slots[j]];

			req->commit_end = XactLastCommitEnd;
			req->next = -1;
			if (outcome[j] != KV_REQUEST_DONE)
				KvApplyAnswer(slots[j], outcome[j]);
			else if (lead < 0)
				lead = last = slots[j];
			else
			{
				kv_apply->requests[last].next = slots[j];
				last = slots[j];
			}
		}
		if (lead >= 0)
			KvApplyAnswer(lead, KV_REQUEST_LEAD);
		SpinLockAcquire(&kv_apply->mutex);
		kv_apply_me->batches++;
		kv_apply_me->applied += applied;
		SpinLockRelease(&kv_apply->mutex);
		RESUME_INTERRUPTS();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(batch_context);
		edata = CopyErrorData();
		for (int j = 0; j < n; j++)
		{
			KvApplyFail(slots[j], edata->sqlerrcode, edata->message, edata->detail,
						edata->hint);
			KvApplyAnswer(slots[j], KV_REQUEST_FAILED);
		}
		EmitErrorReport();
		FlushErrorState();
		FreeErrorData(edata);
		AbortCurrentTransaction();
		InterruptHoldoffCount = holdoff;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
nosql_kv_apply_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	TimestampTz idle_since;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	SpinLockAcquire(&kv_apply->mutex);
	kv_apply_me = KvApplyFindWorker(dboid);
	if (kv_apply_me != NULL && kv_apply_me->pid == 0)
	{
		kv_apply_me->pid = MyProcPid;
		kv_apply_me->latch = MyLatch;
		kv_apply_me->head = kv_apply_me->tail = -1;
	}
	else
		kv_apply_me = NULL;		/* another one runs, or we were given up */
	SpinLockRelease(&kv_apply->mutex);
	if (kv_apply_me == NULL)
		proc_exit(0);
	before_shmem_exit(KvApplyDetach, (Datum) 0);

	/* the clients wait for the flush (and standbys) of what it commits */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		bool		queued;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		SpinLockAcquire(&kv_apply->mutex);
		queued = kv_apply_me->head >= 0;
		SpinLockRelease(&kv_apply->mutex);
		if (queued)
		{
			KvApplyBatch();
			idle_since = GetCurrentTimestamp();
			continue;
		}
		if (TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(), KV_APPLY_IDLE_MS))
			proc_exit(0);		/* KvApplyDetach hands back what came meanwhile */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 KV_APPLY_IDLE_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * Monitoring
 * ---------------------------------------------------------------------
 */

/*
 * nosql.kv_apply_stats() — the running apply workers: database, pid, the
 * transactions they committed and the requests applied in them.
 */
PG_FUNCTION_INFO_V1(kv_apply_stats);
Datum
kv_apply_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KvApplyWorker copy[KV_APPLY_DATABASES];

	InitMaterializedSRF(fcinfo, 0);
	if (kv_apply == NULL)
		return (Datum) 0;
	SpinLockAcquire(&kv_apply->mutex);
	memcpy(copy, kv_apply->workers, sizeof(copy));
	SpinLockRelease(&kv_apply->mutex);
	for (int i = 0; i < KV_APPLY_DATABASES; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (!OidIsValid(copy[i].dboid) || copy[i].pid == 0)
			continue;
		values[0] = ObjectIdGetDatum(copy[i].dboid);
		values[1] = Int32GetDatum(copy[i].pid);
		values[2] = Int64GetDatum((int64) copy[i].batches);
		values[3] = Int64GetDatum((int64) copy[i].applied);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
