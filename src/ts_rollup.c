/*-------------------------------------------------------------------------
 *
 * ts_rollup.c
 *	  Rollups of time-series tables: the check of a rollup's aggregate
 *	  entries, and the background worker's round that refreshes the rollups
 *	  that are due, each as its owner.
 *
 * Design note.  A rollup is an ordinary table of aggregates per time
 * bucket of a time-series table (sql/nosql.sql, "Time series: rollups").
 * Its refresh, nosql.refresh_rollup, is PL/pgSQL: it materializes the
 * complete buckets after the rollup's watermark and computes again, from
 * the raw rows, the buckets below it that late writes invalidated (the
 * source's statement triggers log the time range of every write that
 * reaches below a watermark).  What is in C:
 *
 * - nosql.timeseries_rollup_check, which decides whether a user's entry
 *	 such as 'avg(cpu) AS cpu_avg' may be pasted into the rollup's query.
 *	 It parses and analyzes "SELECT <entry> FROM <source>" and accepts it
 *	 only when that is one statement selecting one aggregate call with an
 *	 alias from the source alone: no subquery, no other table, no WHERE,
 *	 GROUP BY, set operation or comment that swallows the FROM, nothing
 *	 volatile.  An entry that passes reads the same way in the rollup's
 *	 select list, where it stands between the same neighbours (a comma or
 *	 " FROM ").  The statement still runs with the rights of the rollup's
 *	 owner, so the check is about a rollup computing what it says, not
 *	 about privileges.
 *
 * - nosql.timeseries_rollup_log, the statement trigger on a source with
 *	 rollups: one pass over the statement's transition table for the least
 *	 and greatest time, and a row in nosql.timeseries_invalidation when the
 *	 least is below the highest watermark of the source's rollups.  It is
 *	 on the ingest path, so it reads the tuplestore directly (no SQL over
 *	 the transition table) and runs two saved plans.
 *
 * - TsRollupRound, the worker's round: the rollups whose schedule is due
 *	 are refreshed one by one, each in a transaction of its own as the
 *	 rollup's owner inside a security-restricted operation (the aggregates
 *	 and the source's triggers are the owner's code); an error is logged
 *	 and kept in nosql.timeseries_rollup.last_error, and the rollup is tried
 *	 again after its schedule.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "nosql.h"

static void RollupRejectEntry(const char *entry, const char *why) pg_attribute_noreturn();

/* Raise the error of an entry that is not a single aggregate with an alias */
static void
RollupRejectEntry(const char *entry, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid rollup aggregate \"%s\"", entry),
			 errdetail("%s", why),
			 errhint("Each entry is one aggregate call over the source's columns with an alias, such as 'avg(cpu) AS cpu_avg'.")));
}

/*
 * Report the position of a syntax or analysis error in the statement built
 * around the entry, not in the caller's statement
 */
static void
RollupCheckErrorCallback(void *arg)
{
	const char *sql = (const char *) arg;
	int			position = geterrposition();

	if (position > 0)
	{
		errposition(0);
		internalerrposition(position);
		internalerrquery(sql);
	}
	errcontext("checking a rollup aggregate entry");
}

/*
 * nosql.timeseries_rollup_check(source regclass, aggregate text) RETURNS name
 *		The alias of a rollup aggregate entry, or an error when the entry is
 *		not one aggregate call with an alias over the source.
 */
PG_FUNCTION_INFO_V1(timeseries_rollup_check);
Datum
timeseries_rollup_check(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);
	char	   *entry = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *relname = get_rel_name(source);
	char	   *sql;
	List	   *raw;
	RawStmt    *rawstmt;
	SelectStmt *select;
	ResTarget  *target;
	Query	   *query;
	TargetEntry *tle;
	RangeTblEntry *rte;
	ErrorContextCallback callback;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", source)));
	sql = psprintf("SELECT %s FROM %s", entry,
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
											  relname));

	/* the shape: one SELECT of one aliased expression from the source */
	callback.callback = RollupCheckErrorCallback;
	callback.arg = sql;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	error_context_stack = callback.previous;
	if (list_length(raw) != 1)
		RollupRejectEntry(entry, "It makes more than one statement.");
	rawstmt = linitial_node(RawStmt, raw);
	if (!IsA(rawstmt->stmt, SelectStmt))
		RollupRejectEntry(entry, "It is not an expression.");
	select = (SelectStmt *) rawstmt->stmt;
	if (select->op != SETOP_NONE || list_length(select->targetList) != 1)
		RollupRejectEntry(entry, "It is not one expression.");
	if (list_length(select->fromClause) != 1 || !IsA(linitial(select->fromClause), RangeVar) ||
		select->whereClause != NULL || select->groupClause != NIL ||
		select->havingClause != NULL || select->windowClause != NIL ||
		select->sortClause != NIL || select->limitCount != NULL ||
		select->limitOffset != NULL || select->distinctClause != NIL ||
		select->withClause != NULL || select->lockingClause != NIL ||
		select->intoClause != NULL)
		RollupRejectEntry(entry, "It must not hold clauses of its own (FROM, WHERE, GROUP BY, comments).");
	target = linitial_node(ResTarget, select->targetList);
	if (target->name == NULL)
		RollupRejectEntry(entry, "It has no alias (AS name).");

	/* the meaning: one aggregate call over the source alone */
	callback.callback = RollupCheckErrorCallback;
	callback.arg = sql;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	query = parse_analyze_fixedparams(rawstmt, sql, NULL, 0, NULL);
	error_context_stack = callback.previous;
	if (query->commandType != CMD_SELECT || query->utilityStmt != NULL ||
		query->hasSubLinks || query->hasWindowFuncs || query->hasTargetSRFs ||
		query->hasRecursive || query->hasModifyingCTE || query->hasForUpdate ||
		query->cteList != NIL || query->setOperations != NULL ||
		query->groupClause != NIL || query->groupingSets != NIL ||
		query->havingQual != NULL || query->distinctClause != NIL ||
		query->sortClause != NIL || query->limitCount != NULL ||
		query->limitOffset != NULL || query->windowClause != NIL ||
		query->jointree == NULL || query->jointree->quals != NULL ||
		list_length(query->jointree->fromlist) != 1 ||
		list_length(query->rtable) != 1)
		RollupRejectEntry(entry, "It must not hold subqueries, window functions, set-returning functions or clauses of its own.");
	rte = linitial_node(RangeTblEntry, query->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relid != source)
		RollupRejectEntry(entry, "It must read the source table alone.");
	if (list_length(query->targetList) != 1)
		RollupRejectEntry(entry, "It is not one expression.");
	tle = linitial_node(TargetEntry, query->targetList);
	if (!IsA(tle->expr, Aggref))
		RollupRejectEntry(entry, "It is not a single aggregate call.");
	if (contain_volatile_functions((Node *) tle->expr))
		RollupRejectEntry(entry, "It calls a volatile function, which would give each computation of a bucket a different value.");

	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(target->name)));
}

/* The statement trigger */

static SPIPlanPtr rollup_mark_plan = NULL;
static SPIPlanPtr rollup_log_plan = NULL;

/*
 * The least and greatest non-null time of a transition table; false when
 * it has none
 */
static bool
RollupTimeRange(Tuplestorestate *rows, TupleDesc desc, AttrNumber attnum,
				TimestampTz *lo, TimestampTz *hi)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			reader;
	bool		found = false;

	/* a read pointer of our own: other triggers read the same tuplestore */
	reader = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(rows, reader);
	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		isnull;
		TimestampTz t = DatumGetTimestampTz(slot_getattr(slot, attnum, &isnull));

		if (isnull)
			continue;
		if (!found || t < *lo)
			*lo = t;
		if (!found || t > *hi)
			*hi = t;
		found = true;
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_select_read_pointer(rows, 0);
	return found;
}

/* Log [lo, hi] of source when lo is below mark */
static void
RollupLogRange(Oid source, TimestampTz lo, TimestampTz hi, TimestampTz mark)
{
	Datum		values[3];

	if (lo >= mark)
		return;
	if (rollup_log_plan == NULL)
	{
		Oid			types[3] = {OIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("INSERT INTO nosql.timeseries_invalidation (source, range_start, range_end)"
						   " VALUES ($1::pg_catalog.regclass, $2, $3)", 3, types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		rollup_log_plan = plan;
	}
	values[0] = ObjectIdGetDatum(source);
	values[1] = TimestampTzGetDatum(lo);
	values[2] = TimestampTzGetDatum(hi);
	if (SPI_execute_plan(rollup_log_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not log a late write of relation %u", source);
}

/*
 * nosql.timeseries_rollup_log() RETURNS trigger
 *		AFTER ... FOR EACH STATEMENT trigger of a time-series table with
 *		rollups, with its transition tables (NEW TABLE for INSERT, OLD TABLE
 *		for DELETE, both for UPDATE) and the time column as argument: logs
 *		the time range the statement touched when it reaches below the
 *		highest watermark of the table's rollups.  In a REPEATABLE READ or
 *		SERIALIZABLE transaction every range is logged: its snapshot may
 *		predate a refresh that committed while the statement waited for its
 *		lock, so the watermark it reads may be old.
 */
PG_FUNCTION_INFO_V1(timeseries_rollup_log);
Datum
timeseries_rollup_log(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	Oid			source;
	AttrNumber	attnum;
	TimestampTz mark;
	TimestampTz lo = 0;
	TimestampTz hi = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nosql.timeseries_rollup_log must be fired AFTER ... FOR EACH STATEMENT with the time column as argument")));
	rel = trigdata->tg_relation;
	source = RelationGetRelid(rel);
	attnum = get_attnum(source, trigdata->tg_trigger->tgargs[0]);
	if (attnum == InvalidAttrNumber ||
		TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("time column \"%s\" of %s does not exist or is not a timestamp with time zone",
						trigdata->tg_trigger->tgargs[0], RelationGetRelationName(rel))));

	SPI_connect();
	if (IsolationUsesXactSnapshot())
		mark = DT_NOEND;
	else
	{
		Datum		value = ObjectIdGetDatum(source);
		bool		isnull;

		if (rollup_mark_plan == NULL)
		{
			Oid			type = OIDOID;
			SPIPlanPtr	plan;

			plan = SPI_prepare("SELECT pg_catalog.max(r.watermark) FROM nosql.timeseries_rollup r"
							   " WHERE r.source OPERATOR(pg_catalog.=) $1::pg_catalog.regclass", 1, &type);
			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			SPI_keepplan(plan);
			rollup_mark_plan = plan;
		}
		if (SPI_execute_plan(rollup_mark_plan, &value, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not read the watermarks of the rollups of relation %u", source);
		mark = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (isnull)
		{
			/* nothing materialized yet: a first refresh reads every row */
			SPI_finish();
			return PointerGetDatum(NULL);
		}
	}
	if (trigdata->tg_newtable != NULL &&
		RollupTimeRange(trigdata->tg_newtable, RelationGetDescr(rel), attnum, &lo, &hi))
		RollupLogRange(source, lo, hi, mark);
	if (trigdata->tg_oldtable != NULL &&
		RollupTimeRange(trigdata->tg_oldtable, RelationGetDescr(rel), attnum, &lo, &hi))
		RollupLogRange(source, lo, hi, mark);
	SPI_finish();
	return PointerGetDatum(NULL);
}

/* The worker's round */

typedef struct RollupJob
{
	Oid			rollup;
	Oid			owner;
} RollupJob;

typedef struct RollupList
{
	int			n;
	RollupJob  *jobs;
} RollupList;

/* The rollups due: never refreshed, or last refreshed a schedule ago */
static void
RollupListStep(void *arg)
{
	RollupList *list = (RollupList *) arg;

	if (SPI_execute("SELECT r.rollup::pg_catalog.oid, c.relowner FROM nosql.timeseries_rollup r"
					" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.rollup"
					" WHERE r.last_run IS NULL"
					"    OR (r.last_run OPERATOR(pg_catalog.+) r.schedule OPERATOR(pg_catalog.<=) pg_catalog.now())"
					" ORDER BY 1", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the rollups");
	list->n = (int) SPI_processed;
	list->jobs = MemoryContextAlloc(TopMemoryContext, sizeof(RollupJob) * Max(list->n, 1));
	for (int i = 0; i < list->n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		list->jobs[i].rollup = DatumGetObjectId(SPI_getbinval(tuple, desc, 1, &isnull));
		list->jobs[i].owner = DatumGetObjectId(SPI_getbinval(tuple, desc, 2, &isnull));
	}
}

/* Refresh one rollup as its owner, in a security-restricted operation */
static void
RollupRefreshStep(RollupJob *job)
{
	Oid			save_userid;
	int			save_sec_context;
	Oid			type = REGCLASSOID;
	Datum		value = ObjectIdGetDatum(job->rollup);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(job->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute_with_args("SELECT nosql.refresh_rollup($1)", 1, &type, &value,
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "nosql.refresh_rollup failed for rollup %u", job->rollup);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

typedef struct RollupError
{
	Oid			rollup;
	const char *message;
	bool		recorded;		/* the rollup still exists and has the error */
} RollupError;

/* Keep the error of a failed refresh; the rollup is tried after its schedule */
static void
RollupErrorStep(void *arg)
{
	RollupError *e = (RollupError *) arg;
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(e->rollup);
	values[1] = CStringGetTextDatum(e->message);
	if (SPI_execute_with_args("UPDATE nosql.timeseries_rollup SET last_error = $2, last_run = pg_catalog.now()"
							  " WHERE rollup OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the error of rollup %u", e->rollup);
	e->recorded = SPI_processed > 0;
}

/* Refresh one rollup in a transaction of its own; an error is recorded */
static void
RollupRefreshOne(RollupJob *job)
{
	MemoryContext caller = CurrentMemoryContext;

	PG_TRY();
	{
		/* now() in the refresh is this round's time */
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		RollupRefreshStep(job);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		RollupError e;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		e.rollup = job->rollup;
		e.message = edata->message;
		e.recorded = false;
		(void) WorkerTransaction(RollupErrorStep, &e);

		/*
		 * A rollup dropped after the round listed it fails its refresh (its
		 * table is gone): nothing went wrong, there is nothing left to do.
		 */
		ereport(e.recorded ? LOG : DEBUG1,
				(errmsg("nosql worker: refresh of rollup %u failed: %s",
						job->rollup, edata->message),
				 e.recorded ? 0 : errdetail("The rollup was dropped meanwhile.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * TsRollupRound
 *		The worker's rollup round: refresh every rollup of the database whose
 *		schedule is due, each in a transaction of its own as its owner.
 *		Outside any transaction; run after TsRound, so that backfill has
 *		been moved into partitions of its own first.
 */
void
TsRollupRound(void)
{
	RollupList	list = {0, NULL};

	pgstat_report_activity(STATE_RUNNING, "nosql time-series rollups");
	if (WorkerTransaction(RollupListStep, &list))
	{
		for (int i = 0; i < list.n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			RollupRefreshOne(&list.jobs[i]);
		}
	}
	if (list.jobs)
		pfree(list.jobs);
	pgstat_report_activity(STATE_IDLE, NULL);
}
