/*-------------------------------------------------------------------------
 *
 * cdc_watchers.c
 *	  The change stream watchers of the server, for monitoring: who reads
 *	  which stream, from where, and when it last read
 *	  (nosql.change_stream_watchers).
 *
 * Design note
 * -----------
 * A watcher is a nosql.watch call while it runs, or an open $changeStream
 * cursor, which lives in its backend between getMores.  Each backend has
 * its own entry in a shared array indexed by its backend ID (1 ..
 * MaxBackends in PostgreSQL 15), so registering takes no shared lock and
 * no allocation: an entry holds CDC_WATCHER_SLOTS streams (a backend with
 * more open change stream cursors shows the first ones only).  Only the
 * owning backend writes its entry, under the entry's spinlock, which a
 * reader takes to copy it.  A slot records the namespace watched, the
 * resume point (the token the next read goes on after) and the time of
 * the last read; cdc_watch.c updates it after every read of the change
 * log.
 *
 * A slot is freed when the call ends (also by an error: nosql.watch
 * clears it in PG_FINALLY), when the cursor's memory goes (killCursors,
 * the idle timeout, an invalidate: a memory context callback, so no path
 * that closes a cursor can forget it), and when the backend exits (a
 * before_shmem_exit callback clears the whole entry).
 *
 * Who sees what: superusers, roles with REPLICATION or SELECT on
 * nosql.change_log (who may watch every collection's changes) and members
 * of pg_read_all_stats see every watcher; others see their own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "cdc.h"

/* Streams one backend shows at most */
#define CDC_WATCHER_SLOTS 8
/* Bytes kept of a database and a collection name (with the NUL) */
#define CDC_WATCHER_DB_LEN 64
#define CDC_WATCHER_COLL_LEN 192

typedef struct CdcWatcherSlot
{
	bool		used;
	CdcWatcherKind kind;
	bool		all_databases;	/* a deployment stream: no database */
	bool		all_collections;	/* a database stream: no collection */
	Oid			userid;
	int64		cursor_id;		/* a cursor's, once known; 0 */
	char		db[CDC_WATCHER_DB_LEN];
	char		coll[CDC_WATCHER_COLL_LEN];
	char		token[CDC_TOKEN_LEN + 1];	/* the resume point */
	TimestampTz started;
	TimestampTz last_read;		/* 0: not read yet */
	int64		events;			/* returned so far */
} CdcWatcherSlot;

typedef struct CdcBackendWatchers
{
	slock_t		mutex;
	int			pid;			/* 0: no watcher */
	Oid			dboid;
	CdcWatcherSlot slots[CDC_WATCHER_SLOTS];
} CdcBackendWatchers;

static CdcBackendWatchers *cdc_watchers = NULL;
static bool cdc_watchers_exit_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
CdcWatchersSize(void)
{
	return mul_size(MaxBackends, sizeof(CdcBackendWatchers));
}

static void
CdcWatchersShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(CdcWatchersSize()));
}

static void
CdcWatchersShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cdc_watchers = ShmemInitStruct("nosql change stream watchers", CdcWatchersSize(), &found);
	if (!found)
	{
		memset(cdc_watchers, 0, CdcWatchersSize());
		for (int i = 0; i < MaxBackends; i++)
			SpinLockInit(&cdc_watchers[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * CdcWatchersInit
 *		The registry's shared memory, when preloaded (without it nothing is
 *		registered and the list is empty).
 */
void
CdcWatchersInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = CdcWatchersShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = CdcWatchersShmemStartup;
}

/* This backend's number, 1 .. MaxBackends, or 0 */
#if PG_VERSION_NUM >= 170000
#define CDC_MY_BACKEND (MyProcNumber >= 0 && MyProcNumber < MaxBackends ? MyProcNumber + 1 : 0)
#else
#define CDC_MY_BACKEND (MyBackendId >= 1 && MyBackendId <= MaxBackends ? MyBackendId : 0)
#endif

/* This backend's entry, or NULL */
static CdcBackendWatchers *
CdcMyWatchers(void)
{
	int			me = CDC_MY_BACKEND;

	if (cdc_watchers == NULL || me == 0)
		return NULL;
	return &cdc_watchers[me - 1];
}

/*
 * CdcWatchersInDatabase
 *		How many backends of a database have a change stream open (read
 *		without the entries' locks: a count for a heuristic, not a fact).
 */
int
CdcWatchersInDatabase(Oid dboid)
{
	int			n = 0;

	if (cdc_watchers == NULL)
		return 0;
	for (int i = 0; i < MaxBackends; i++)
	{
		CdcBackendWatchers *b = &cdc_watchers[i];

		if (b->pid == 0 || b->dboid != dboid)
			continue;
		for (int j = 0; j < CDC_WATCHER_SLOTS; j++)
		{
			if (b->slots[j].used)
			{
				n++;
				break;
			}
		}
	}
	return n;
}

/* At exit: the backend's watchers end with it */
static void
CdcWatchersExit(int code, Datum arg)
{
	CdcBackendWatchers *me = CdcMyWatchers();

	if (me == NULL)
		return;
	SpinLockAcquire(&me->mutex);
	me->pid = 0;
	memset(me->slots, 0, sizeof(me->slots));
	SpinLockRelease(&me->mutex);
}

/* A name cut to fit len bytes (with the NUL), not inside a character */
static void
CdcWatcherName(char *buf, const char *name, int len)
{
	int			n = strlen(name);

	if (n >= len)
		n = pg_mbcliplen(name, n, len - 1);
	memcpy(buf, name, n);
	buf[n] = '\0';
}

/*
 * CdcWatcherAdd
 *		Register a stream of this backend on db.coll (db NULL: every
 *		database; coll NULL: every collection of db) starting after token.
 *		Returns its slot (1, 2, ...), or 0 when there is no registry or no
 *		free slot: the stream then works unlisted.
 */
int
CdcWatcherAdd(CdcWatcherKind kind, const char *db, const char *coll, const char *token)
{
	CdcBackendWatchers *me = CdcMyWatchers();
	int			slot = 0;

	if (me == NULL)
		return 0;
	if (!cdc_watchers_exit_registered)
	{
		before_shmem_exit(CdcWatchersExit, (Datum) 0);
		cdc_watchers_exit_registered = true;
	}
	SpinLockAcquire(&me->mutex);
	if (me->pid != MyProcPid)
	{
		/* left by an earlier backend with this ID */
		memset(me->slots, 0, sizeof(me->slots));
		me->pid = MyProcPid;
		me->dboid = MyDatabaseId;
	}
	for (int i = 0; i < CDC_WATCHER_SLOTS; i++)
	{
		CdcWatcherSlot *s = &me->slots[i];

		if (s->used)
			continue;
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->kind = kind;
		s->userid = GetUserId();
		s->all_databases = db == NULL;
		s->all_collections = coll == NULL;
		if (db != NULL)
			CdcWatcherName(s->db, db, sizeof(s->db));
		if (coll != NULL)
			CdcWatcherName(s->coll, coll, sizeof(s->coll));
		strlcpy(s->token, token, sizeof(s->token));
		s->started = GetCurrentTimestamp();
		slot = i + 1;
		break;
	}
	SpinLockRelease(&me->mutex);
	return slot;
}

/*
 * CdcWatcherNote
 *		A stream read the change log: its resume point is now token, and
 *		it returned events more.
 */
void
CdcWatcherNote(int slot, const char *token, int64 events)
{
	CdcBackendWatchers *me = CdcMyWatchers();
	TimestampTz now;

	if (slot <= 0 || me == NULL)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&me->mutex);
	strlcpy(me->slots[slot - 1].token, token, sizeof(me->slots[slot - 1].token));
	me->slots[slot - 1].last_read = now;
	me->slots[slot - 1].events += events;
	SpinLockRelease(&me->mutex);
}

/* CdcWatcherSetCursor: a $changeStream stream's cursor id, once known */
void
CdcWatcherSetCursor(int slot, int64 cursor_id)
{
	CdcBackendWatchers *me = CdcMyWatchers();

	if (slot <= 0 || me == NULL)
		return;
	SpinLockAcquire(&me->mutex);
	me->slots[slot - 1].cursor_id = cursor_id;
	SpinLockRelease(&me->mutex);
}

/* CdcWatcherRemove: the stream ended */
void
CdcWatcherRemove(int slot)
{
	CdcBackendWatchers *me = CdcMyWatchers();

	if (slot <= 0 || me == NULL)
		return;
	SpinLockAcquire(&me->mutex);
	memset(&me->slots[slot - 1], 0, sizeof(CdcWatcherSlot));
	SpinLockRelease(&me->mutex);
}

/* Whether the caller may see the watchers of every role */
static bool
CdcWatchersSeeAll(void)
{
	Oid			user = GetUserId();
	Oid			nsp;
	Oid			log;

	if (superuser() || has_rolreplication(user) ||
		has_privs_of_role(user, ROLE_PG_READ_ALL_STATS))
		return true;
	nsp = get_namespace_oid("nosql", true);
	log = OidIsValid(nsp) ? get_relname_relid("change_log", nsp) : InvalidOid;
	return OidIsValid(log) && pg_class_aclcheck(log, user, ACL_SELECT) == ACLCHECK_OK;
}

/*
 * nosql.change_stream_get_watchers() — the change streams being read on
 * the server: the backend's database and pid, the role, the kind (watch:
 * a nosql.watch call; cursor: a $changeStream cursor) and cursor id, the
 * namespace, the resume point, when it started and last read, and how
 * many events it returned.
 */
PG_FUNCTION_INFO_V1(change_stream_get_watchers);
Datum
change_stream_get_watchers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		all;

	InitMaterializedSRF(fcinfo, 0);
	if (cdc_watchers == NULL)
		return (Datum) 0;
	all = CdcWatchersSeeAll();
	for (int b = 0; b < MaxBackends; b++)
	{
		CdcBackendWatchers copy;

		/* a quick look first: most backends watch nothing */
		if (cdc_watchers[b].pid == 0)
			continue;
		SpinLockAcquire(&cdc_watchers[b].mutex);
		memcpy(&copy, &cdc_watchers[b], sizeof(copy));
		SpinLockRelease(&cdc_watchers[b].mutex);
		if (copy.pid == 0)
			continue;
		for (int i = 0; i < CDC_WATCHER_SLOTS; i++)
		{
			CdcWatcherSlot *s = &copy.slots[i];
			Datum		values[11];
			bool		nulls[11];

			if (!s->used || (!all && !has_privs_of_role(GetUserId(), s->userid)))
				continue;
			memset(nulls, 0, sizeof(nulls));
			values[0] = ObjectIdGetDatum(copy.dboid);
			values[1] = Int32GetDatum(copy.pid);
			values[2] = ObjectIdGetDatum(s->userid);
			values[3] = CStringGetTextDatum(s->kind == CDC_WATCHER_CURSOR ? "cursor" :
											s->kind == CDC_WATCHER_STREAM ? "stream" : "watch");
			values[4] = Int64GetDatum(s->cursor_id);
			nulls[4] = s->kind != CDC_WATCHER_CURSOR || s->cursor_id == 0;
			values[5] = CStringGetTextDatum(s->db);
			nulls[5] = s->all_databases;
			values[6] = CStringGetTextDatum(s->coll);
			nulls[6] = s->all_collections;
			values[7] = CStringGetTextDatum(s->token);
			values[8] = TimestampTzGetDatum(s->started);
			values[9] = TimestampTzGetDatum(s->last_read);
			nulls[9] = s->last_read == 0;
			values[10] = Int64GetDatum(s->events);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
