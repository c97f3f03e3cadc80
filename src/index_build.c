/*-------------------------------------------------------------------------
 *
 * index_build.c
 *	  Index builds that do not block writers: CREATE INDEX CONCURRENTLY run
 *	  by a background worker.
 *
 * createIndexes runs inside the caller's transaction, where PostgreSQL
 * cannot build concurrently: CREATE INDEX CONCURRENTLY commits several
 * times, and before its index becomes valid it waits for every transaction
 * holding a snapshot older than its own, which includes the caller's.  So
 * the command cannot both wait for the build and leave writers alone.
 * With background: true in an index spec (or nosql.background_index_builds
 * on), createIndexes records the spec in the catalog as usual (listIndexes
 * shows it, as MongoDB shows builds in progress), queues a row in
 * nosql.index_build and returns; a dynamic background worker (the
 * builder) then:
 *
 *	1. waits for the queuing transaction to end (nothing to do if it rolled
 *	   back) and takes a session advisory lock on the row, so one builder
 *	   works on it;
 *	2. runs the CREATE INDEX CONCURRENTLY statements of the spec (its btree,
 *	   and the multikey GIN beside it when documents have arrays) as
 *	   top-level statements, as the role that asked, first dropping what a
 *	   crashed attempt left (an invalid index);
 *	3. deletes the row and runs IndexSync, which finds the indexes built and
 *	   adds what remains (the unique-elements trigger).
 *
 * If the build fails (duplicate keys for a unique index, cancellation,
 * ...), the row stays with state 'failed', the error and its MongoDB code,
 * and the spec leaves the catalog, so the index does not exist, as in
 * MongoDB.  Until the row goes, IndexSync neither builds nor drops that
 * spec's PostgreSQL indexes.  Dropping the index or its collection deletes
 * the row and cancels the builder.  After a crash or restart the
 * database's worker (worker.c) starts a builder for every queued row that
 * no builder holds.
 *
 * The same builders add the multikey GIN index beside an ordered index
 * (indexes.c) whose documents got arrays after it was built, the usual
 * case for an index created on an empty collection: every few rounds the
 * database's worker looks for such indexes (an index scan of their NULL
 * keys) and queues rows with companion = true, built as the table's
 * owner; until then queries stay correct through the NULL keys.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "documents.h"
#include "nosql.h"

/* First key of the advisory locks builders hold on their rows ("nosq") */
#define BUILD_LOCK_KEY	1852797809

/* Rounds of the database's worker between two looks for arrays (below) */
#define COMPANION_ROUNDS 5

/* What a builder is started with (bgw_extra) */
typedef struct BuilderArgs
{
	Oid			dboid;
	int32		build;			/* nosql.index_build.id */
	TransactionId xid;			/* the transaction that queued it, or invalid */
} BuilderArgs;

PGDLLEXPORT void nosql_index_builder_main(Datum main_arg);

bool		nosql_background_index_builds = false;

/*
 * Start a builder for a row; false when no background worker slot is free
 * (the database's worker starts one later).
 */
static bool
BuilderStart(int32 build, TransactionId xid)
{
	BuilderArgs args;
	BackgroundWorkerHandle *handle;

	StaticAssertStmt(sizeof(args) <= BGW_EXTRALEN, "builder arguments too long");
	args.dboid = MyDatabaseId;
	args.build = build;
	args.xid = xid;
	handle = WorkerStartDynamic("nosql_index_builder_main",
								psprintf("nosql index build %d", build), "nosql index build",
								(Datum) 0, &args, sizeof(args), 0);
	if (handle == NULL)
		return false;
	pfree(handle);
	return true;
}

typedef struct QueueArgs
{
	const Collection *c;
	const bson_t *spec;
	int32		build;
} QueueArgs;

static void
QueueRow(void *arg)
{
	QueueArgs  *q = arg;
	Oid			types[6] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, BsonTypeOid(), OIDOID};
	Datum		values[6];
	bool		isnull;

	values[0] = ObjectIdGetDatum(q->c->relid);
	values[1] = CStringGetTextDatum(q->c->database);
	values[2] = CStringGetTextDatum(q->c->name);
	values[3] = CStringGetTextDatum(IndexSpecName(q->spec));
	values[4] = PointerGetDatum(BsonFromDocument(q->spec, false));
	values[5] = ObjectIdGetDatum(GetUserId());
	/* a failed build of the same name is forgotten when it is asked again */
	if (SPI_execute_with_args("DELETE FROM nosql.index_build WHERE relation = $1 AND name = $4 "
							  "AND state = 'failed' AND $2 IS NOT NULL AND $3 IS NOT NULL "
							  "AND $5 IS NOT NULL AND $6 IS NOT NULL",
							  6, types, values, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("INSERT INTO nosql.index_build "
							  "(relation, database, collection, name, spec, role) "
							  "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
							  6, types, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not queue the build of index \"%s\"", IndexSpecName(q->spec));
	q->build = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										   &isnull));
}

/*
 * Whether the index specs of a createIndexes on an existing collection are
 * to be built in the background: asked for (background: true, or the
 * GUC), and the collection's table is visible to other sessions (not
 * created by this transaction, where a plain build blocks nobody).
 */
bool
IndexBuildInBackground(const Collection *c, const bson_t *spec)
{
	bson_iter_t it;
	Relation	rel;
	bool		fresh;

	if (IndexDryRun())
		return false;
	if (!(nosql_background_index_builds ||
		  (bson_iter_init_find(&it, spec, "background") && bson_iter_as_bool(&it))))
		return false;
	rel = RelationIdGetRelation(c->relid);
	if (!RelationIsValid(rel))
		return false;
	fresh = rel->rd_createSubid != InvalidSubTransactionId ||
		rel->rd_firstRelfilenodeSubid != InvalidSubTransactionId;
	RelationClose(rel);
	return !fresh;
}

/*
 * Queue the background build of an index spec (already in the catalog's
 * list, written by the caller) and start its builder, which waits for this
 * transaction to commit.
 */
void
IndexBuildQueue(const Collection *c, const bson_t *spec)
{
	QueueArgs	q = {c, spec, 0};

	SPI_connect();
	CatalogAsOwner(QueueRow, &q);
	SPI_finish();
	/* the database's worker starts it later when no slot is free now */
	(void) BuilderStart(q.build, GetTopTransactionId());
}

/*
 * The names of the indexes of a table whose background builds are queued
 * or running (IndexSync leaves them to their builders).  Needs SPI.
 */
List *
IndexBuildsInFlight(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	List	   *names = NIL;

	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT name FROM nosql.index_build WHERE relation = $1 "
							  "AND state <> 'failed'",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read nosql.index_build");
	for (uint64 i = 0; i < SPI_processed; i++)
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	return names;
}

typedef struct AbortArgs
{
	Oid			relid;
	const char *name;			/* NULL: every build of the table */
	List	   *pids;
} AbortArgs;

static void
AbortRows(void *arg)
{
	AbortArgs  *a = arg;
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(a->relid);
	values[1] = CStringGetTextDatum(a->name != NULL ? a->name : "");
	if (SPI_execute_with_args(a->name != NULL ?
							  "DELETE FROM nosql.index_build WHERE relation = $1 AND name = $2 "
							  "RETURNING pid, state" :
							  "DELETE FROM nosql.index_build WHERE relation = $1 AND $2 IS NOT NULL "
							  "RETURNING pid, state",
							  2, types, values, NULL, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not update nosql.index_build");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		pid = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			a->pids = lappend_int(a->pids, DatumGetInt32(pid));
	}
}

/*
 * Abort the background builds of a table's index (or of all its indexes):
 * forget their rows and cancel their builders, whose CREATE INDEX
 * CONCURRENTLY would otherwise hold the table until it ends (MongoDB
 * aborts builds when the index or collection is dropped).  Needs SPI.
 */
void
IndexBuildAbort(Oid relid, const char *name)
{
	AbortArgs	a = {relid, name, NIL};
	ListCell   *lc;

	CatalogAsOwner(AbortRows, &a);
	foreach(lc, a.pids)
	{
		int			pid = lfirst_int(lc);
		PGPROC	   *proc = BackendPidGetProc(pid);

		/* only a backend of this database, which a builder is */
		if (proc != NULL && proc->databaseId == MyDatabaseId)
			(void) kill(pid, SIGINT);
	}
}

/* ---- the builder ---- */

/*
 * Run one statement as a top-level statement, outside any transaction
 * block, as a client's simple query would: CREATE INDEX CONCURRENTLY and
 * DROP INDEX CONCURRENTLY commit on their own.
 */
static void
RunTopLevel(const char *sql)
{
	MemoryContext statement = AllocSetContextCreate(TopMemoryContext, "nosql index build statement",
													ALLOCSET_DEFAULT_SIZES);
	List	   *parsed;
	List	   *queries;
	List	   *plans;
	Portal		portal;
	QueryCompletion qc;

	StartTransactionCommand();

	/*
	 * The statement commits on its way: what it uses must outlive its
	 * transactions, as a client's statement lives in MessageContext; and it
	 * runs in a portal, as event triggers and the snapshot management of
	 * the concurrent commands expect.
	 */
	MemoryContextSwitchTo(statement);
	pgstat_report_activity(STATE_RUNNING, sql);
	parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1)
		elog(ERROR, "expected one statement: %s", sql);
	queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, parsed), sql,
												 NULL, 0, NULL);
	plans = pg_plan_queries(queries, sql, CURSOR_OPT_PARALLEL_OK, NULL);
	portal = CreatePortal("", true, true);
	portal->visible = false;
	PortalDefineQuery(portal, NULL, sql, CreateCommandTag(linitial_node(RawStmt, parsed)->stmt),
					  plans, NULL);
	PortalStart(portal, NULL, 0, InvalidSnapshot);
	InitializeQueryCompletion(&qc);
	(void) PortalRun(portal, FETCH_ALL, true, true, None_Receiver, None_Receiver, &qc);
	PortalDrop(portal, false);
	CommitTransactionCommand();
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(statement);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* The builder's view of its row */
typedef struct BuildRow
{
	Oid			relid;
	char	   *name;
	Oid			role;
	char	   *state;
	bool		companion;		/* only the multikey GIN of an ordered index */
} BuildRow;

static bool
BuildRowRead(int32 build, BuildRow *row)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	bool		isnull;
	TupleDesc	desc;
	HeapTuple	tup;

	values[0] = Int32GetDatum(build);
	if (SPI_execute_with_args("SELECT relation, name, role, state, companion FROM nosql.index_build "
							  "WHERE id = $1",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read nosql.index_build");
	if (SPI_processed != 1)
		return false;
	desc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	row->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	row->name = MemoryContextStrdup(TopMemoryContext, SPI_getvalue(tup, desc, 2));
	row->role = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	row->state = MemoryContextStrdup(TopMemoryContext, SPI_getvalue(tup, desc, 4));
	row->companion = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	return true;
}

typedef struct RowUpdate
{
	int32		build;
	const char *sql;
	int			code;
	const char *error;
	bool		done;
} RowUpdate;

static void
RowUpdateRun(void *arg)
{
	RowUpdate  *u = arg;
	Oid			types[4] = {INT4OID, INT4OID, TEXTOID, INT4OID};
	Datum		values[4];

	values[0] = Int32GetDatum(u->build);
	values[1] = Int32GetDatum(u->code);
	values[2] = CStringGetTextDatum(u->error != NULL ? u->error : "");
	values[3] = Int32GetDatum(MyProcPid);
	if (SPI_execute_with_args(u->sql, 4, types, values, NULL, false, 0) < 0)
		elog(ERROR, "could not update nosql.index_build");
	u->done = SPI_processed > 0;
}

/* Run an update of the builder's row as the catalog owner; whether it hit */
static bool
RowUpdateAs(int32 build, const char *sql, int code, const char *error)
{
	RowUpdate	u = {build, sql, code, error, false};

	CatalogAsOwner(RowUpdateRun, &u);
	return u.done;
}

/* The collection of a table, from the catalog, or NULL */
static Collection *
CollectionOfRelation(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	char	   *database;
	char	   *name;

	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT database, name FROM nosql.collection WHERE relation = $1",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read nosql.collection");
	if (SPI_processed != 1)
		return NULL;
	database = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	return CollectionLookup(database, name);
}

/* Start a transaction with a snapshot and SPI, as the builder's steps do */
static void
StepBegin(void)
{
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
}

static void
StepEnd(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * After a failed build: record the error in the row (unless the row is
 * gone: the index or collection was dropped meanwhile) and remove the spec
 * from the catalog, which drops what the build left.
 */
static void
BuildFailed(int32 build, const BuildRow *row, ErrorData *edata)
{
	int			code = edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION ? MONGO_DUPLICATE_KEY :
		edata->sqlerrcode == ERRCODE_QUERY_CANCELED ? MONGO_INDEX_BUILD_ABORTED :
		MONGO_CANNOT_CREATE_INDEX;
	char	   *error = psprintf("Index build failed: %s%s%s", edata->message,
								 edata->detail != NULL ? ": " : "",
								 edata->detail != NULL ? edata->detail : "");

	StepBegin();
	if (RowUpdateAs(build, "UPDATE nosql.index_build SET state = 'failed', code = $2, "
					"error = $3, finished = now(), pid = NULL "
					"WHERE id = $1 AND $4 IS NOT NULL",
					code, error))
	{
		Collection *c = CollectionOfRelation(row->relid);

		/* a multikey GIN that failed leaves its index as it was */
		if (c != NULL && row->companion)
			IndexSync(c, c->indexes);
		else if (c != NULL)
		{
			List	   *specs = IndexSpecList(c->indexes);
			List	   *kept = NIL;
			ListCell   *lc;
			bson_t		newlist;

			foreach(lc, specs)
				if (strcmp(IndexSpecName(lfirst(lc)), row->name) != 0)
					kept = lappend(kept, lfirst(lc));
			IndexSpecArray(kept, &newlist);
			CollectionSetOptions(c, NULL, &newlist);
			IndexSync(c, &newlist);
		}
	}
	StepEnd();
	ereport(LOG,
			(errmsg("nosql: background build of index \"%s\" failed: %s", row->name, error)));
}

void
nosql_index_builder_main(Datum main_arg)
{
	BuilderArgs args;
	BuildRow	row;
	List	   *statements = NIL;
	volatile bool have_row = false;
	MemoryContext work;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	pgstat_report_appname("nosql index build");
	work = AllocSetContextCreate(TopMemoryContext, "nosql index build", ALLOCSET_DEFAULT_SIZES);

	/* 1. the queuing transaction ends; then the row, and its lock */
	StartTransactionCommand();
	if (TransactionIdIsValid(args.xid))
		XactLockTableWait(args.xid, NULL, NULL, XLTW_None);
	CommitTransactionCommand();

	StepBegin();
	if (!DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4,
										  Int32GetDatum(BUILD_LOCK_KEY),
										  Int32GetDatum(args.build))) ||
		!BuildRowRead(args.build, &row) || strcmp(row.state, "failed") == 0)
	{
		/* rolled back, done, failed, or another builder has it */
		StepEnd();
		proc_exit(0);
	}
	StepEnd();

	/*
	 * One build at a time per table: two CREATE INDEX CONCURRENTLY on one
	 * table deadlock.  The wait holds no snapshot, so the build it waits
	 * for does not wait for it in turn.
	 */
	StartTransactionCommand();
	DirectFunctionCall2(pg_advisory_lock_int4, Int32GetDatum(BUILD_LOCK_KEY + 1),
						ObjectIdGetDatum(row.relid));
	CommitTransactionCommand();

	/* the role that asked does the build (it owns the table) */
	SetUserIdAndSecContext(row.role, 0);
	have_row = true;
	PG_TRY();
	{
		Collection *c;
		MemoryContext old;

		/* 2. the statements, then each as its own top-level command */
		StepBegin();
		if (!RowUpdateAs(args.build, "UPDATE nosql.index_build SET state = 'building', "
						 "started = now(), pid = $4 WHERE id = $1 AND $2 IS NOT NULL "
						 "AND $3 IS NOT NULL", 0, NULL))
			have_row = false;
		c = have_row ? CollectionOfRelation(row.relid) : NULL;
		if (c != NULL)
		{
			List	   *list = IndexConcurrentStatements(c, row.name, row.companion);
			ListCell   *lc;

			old = MemoryContextSwitchTo(work);
			foreach(lc, list)
				statements = lappend(statements, pstrdup((char *) lfirst(lc)));
			MemoryContextSwitchTo(old);
		}
		StepEnd();

		if (have_row && c != NULL)
		{
			ListCell   *lc;

			foreach(lc, statements)
				RunTopLevel((char *) lfirst(lc));

			/* 3. ready: the row goes and IndexSync adds what remains */
			StepBegin();
			if (RowUpdateAs(args.build, "DELETE FROM nosql.index_build WHERE id = $1 "
							"AND $2 IS NOT NULL AND $3 IS NOT NULL AND $4 IS NOT NULL", 0, NULL))
			{
				c = CollectionOfRelation(row.relid);
				if (c != NULL)
					IndexSync(c, c->indexes);
			}
			StepEnd();
		}
		else if (have_row)
		{
			/* the collection is gone: so is the build */
			StepBegin();
			RowUpdateAs(args.build, "DELETE FROM nosql.index_build WHERE id = $1 "
						"AND $2 IS NOT NULL AND $3 IS NOT NULL AND $4 IS NOT NULL", 0, NULL);
			StepEnd();
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(work);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		/* a cancelled wait for a lock, etc.: cancels are not sticky */
		QueryCancelPending = false;
		BuildFailed(args.build, &row, edata);
	}
	PG_END_TRY();
	proc_exit(0);
}

typedef struct CollectionRow
{
	char	   *database;
	char	   *name;
	Oid			owner;
} CollectionRow;

typedef struct CompanionQueue
{
	const Collection *c;
	const char *name;
	Oid			owner;
	List	   *builds;
} CompanionQueue;

static void
CompanionRow(void *arg)
{
	CompanionQueue *q = arg;
	Oid			types[6] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, BsonTypeOid()};
	Datum		values[6];
	bool		isnull;
	ListCell   *lc;
	bson_t	   *spec = NULL;

	foreach(lc, IndexSpecList(q->c->indexes))
		if (strcmp(IndexSpecName(lfirst(lc)), q->name) == 0)
			spec = lfirst(lc);
	if (spec == NULL)
		return;
	values[0] = ObjectIdGetDatum(q->c->relid);
	values[1] = CStringGetTextDatum(q->c->database);
	values[2] = CStringGetTextDatum(q->c->name);
	values[3] = CStringGetTextDatum(q->name);
	values[4] = ObjectIdGetDatum(q->owner);
	values[5] = PointerGetDatum(BsonFromDocument(spec, false));
	if (SPI_execute_with_args("INSERT INTO nosql.index_build "
							  "(relation, database, collection, name, spec, role, companion) "
							  "VALUES ($1, $2, $3, $4, $6, $5, true) RETURNING id",
							  6, types, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not queue a multikey index build");
	if (SPI_processed == 1)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		q->builds = lappend_int(q->builds,
								DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1, &isnull)));
		MemoryContextSwitchTo(old);
	}
}

/*
 * Queue the multikey GIN of every ordered index whose documents got arrays
 * after it was built (and has no build, running or failed, of this
 * collection); returns the builds queued.  In a transaction, with SPI.
 */
static List *
CompanionsQueue(void)
{
	List	   *colls = NIL;
	List	   *builds = NIL;
	ListCell   *lc;

	if (SPI_execute("SELECT c.database, c.name, cl.relowner FROM nosql.collection c "
					"JOIN pg_catalog.pg_class cl ON cl.oid = c.relation "
					"WHERE c.indexes IS NOT NULL AND NOT EXISTS "
					"(SELECT 1 FROM nosql.index_build b WHERE b.relation = c.relation::oid)",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read nosql.collection");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		CollectionRow *row = palloc(sizeof(CollectionRow));
		bool		isnull;

		row->database = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
		row->name = SPI_getvalue(tup, SPI_tuptable->tupdesc, 2);
		row->owner = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
		colls = lappend(colls, row);
	}
	foreach(lc, colls)
	{
		CollectionRow *row = lfirst(lc);
		Collection *c = CollectionLookup(row->database, row->name);
		ListCell   *ln;

		if (c == NULL || c->is_view)
			continue;
		foreach(ln, IndexCompanionsWanted(c))
		{
			CompanionQueue q = {c, (char *) lfirst(ln), row->owner, NIL};

			MemoryContext old;

			CatalogAsOwner(CompanionRow, &q);
			old = MemoryContextSwitchTo(TopMemoryContext);
			builds = list_concat(builds, q.builds);
			MemoryContextSwitchTo(old);
		}
	}
	return builds;
}

/*
 * One round of the database's worker: start a builder for every queued or
 * running build that no builder holds (after a crash or a restart, or when
 * no worker slot was free).  Outside any transaction.
 */
void
IndexBuildRound(void)
{
	static int	rounds = 0;
	List	   *volatile orphans = NIL;
	List	   *volatile companions = NIL;
	ListCell   *lc;

	PG_TRY();
	{
		StepBegin();
		if (SPI_execute("SELECT id FROM nosql.index_build WHERE state <> 'failed' "
						"AND pg_try_advisory_xact_lock(" CppAsString2(BUILD_LOCK_KEY) ", id)",
						false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read nosql.index_build");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
										   &isnull);
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			orphans = lappend_int(orphans, DatumGetInt32(id));
			MemoryContextSwitchTo(old);
		}
		StepEnd();

		/*
		 * then, every few rounds, the multikey GIN indexes wanted (started
		 * once committed)
		 */
		if (++rounds % COMPANION_ROUNDS == 0)
		{
			StepBegin();
			companions = CompanionsQueue();
			StepEnd();
		}
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	orphans = list_concat(orphans, companions);
	foreach(lc, orphans)
		(void) BuilderStart(lfirst_int(lc), InvalidTransactionId);
	list_free(orphans);
}
