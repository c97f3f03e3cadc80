/*-------------------------------------------------------------------------
 *
 * ts_store.c
 *	  The background worker's part in the storage of time-series tables:
 *	  each round it runs nosql.timeseries_maintain for every time-series
 *	  table of the database, as the table's owner; and the check of the
 *	  types of a hash partition key that nosql.create_timeseries makes.
 *
 * Design note.  A time-series table is a table partitioned by range of
 * its time column, with a default partition for rows no range partition
 * takes (sql/nosql.sql, "Time series").  Partitions are made by the
 * worker ahead of time, so an INSERT or COPY never waits for DDL; rows
 * that arrive for a time with no partition yet (backfill of old data, or
 * far-future times) land in the default partition and are moved by the
 * next round into a partition of their own.  Retention drops whole
 * partitions.
 *
 * The maintenance is SQL (PL/pgSQL) run with the rights of the table's
 * owner, inside a security-restricted operation as autovacuum and REFRESH
 * MATERIALIZED VIEW do: the table's triggers, defaults and indexes are
 * the owner's code, which must not run with the worker's superuser
 * rights.  Each table gets a transaction of its own; an error is logged,
 * kept in nosql.timeseries.last_error, and the next round tries again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "nosql.h"

typedef struct TsTable
{
	Oid			relid;
	Oid			owner;
} TsTable;

typedef struct TsList
{
	int			n;
	TsTable    *tables;
} TsList;

static void
TsListStep(void *arg)
{
	TsList	   *list = (TsList *) arg;

	if (SPI_execute("SELECT t.relid::oid, c.relowner FROM nosql.timeseries t"
					" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid"
					" ORDER BY 1", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the time-series tables");
	list->n = (int) SPI_processed;
	list->tables = MemoryContextAlloc(TopMemoryContext, sizeof(TsTable) * Max(list->n, 1));
	for (int i = 0; i < list->n; i++)
	{
		bool		isnull;

		list->tables[i].relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull));
		list->tables[i].owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 2, &isnull));
	}
}

/* One statement of the round for one table, run as the table's owner */
typedef struct TsStep
{
	TsTable    *table;
	const char *sql;			/* takes the table as $1 */
	bool		got_value;		/* its first column was not NULL */
} TsStep;

static void
TsRunStep(void *arg)
{
	TsStep	   *step = (TsStep *) arg;
	Oid			save_userid;
	int			save_sec_context;
	Datum		relid = ObjectIdGetDatum(step->table->relid);
	Oid			type = REGCLASSOID;
	bool		isnull = true;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(step->table->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute_with_args(step->sql, 1, &type, &relid, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "%s failed", step->sql);
	if (SPI_processed > 0)
		(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	step->got_value = !isnull;
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

typedef struct TsError
{
	Oid			relid;
	char	   *message;
} TsError;

static void
TsErrorStep(void *arg)
{
	TsError    *e = (TsError *) arg;
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(e->relid);
	values[1] = CStringGetTextDatum(e->message);
	SPI_execute_with_args("UPDATE nosql.timeseries SET last_error = $2, last_maintenance = pg_catalog.now()"
						  " WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
						  2, types, values, NULL, false, 0);
}

/*
 * Run one step for one table in a transaction of its own; an error is
 * logged and recorded in nosql.timeseries.last_error.  Returns whether the
 * step ran and returned a value.
 */
static bool
TsStepOne(TsTable *t, const char *sql, const char *what)
{
	MemoryContext old = CurrentMemoryContext;
	TsStep		step = {t, sql, false};

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		TsRunStep(&step);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		TsError		e;

		MemoryContextSwitchTo(old);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("nosql worker: %s of time-series table %u failed: %s",
						what, t->relid, edata->message)));
		e.relid = t->relid;
		e.message = edata->message;
		(void) WorkerTransaction(TsErrorStep, &e);
		FreeErrorData(edata);
		return false;
	}
	PG_END_TRY();
	return step.got_value;
}

/*
 * Maintain one table: partitions, retention, then compression of the
 * partitions older than compress_after, each partition in a transaction
 * of its own so that none holds its locks for long.
 */
static void
TsMaintainOne(TsTable *t)
{
	if (!TsStepOne(t, "SELECT nosql.timeseries_maintain($1), true", "maintenance"))
		return;
	for (int i = 0; i < 1000; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!TsStepOne(t, "SELECT nosql.timeseries_compress_next($1)", "compression"))
			break;
	}
}

/*
 * TsRound
 *		The worker's time-series round: maintain and compress every
 *		time-series table of the database, in transactions of their own as
 *		the table's owner.
 *		Outside any transaction.
 */
void
TsRound(void)
{
	TsList		list = {0, NULL};

	pgstat_report_activity(STATE_RUNNING, "nosql time-series maintenance");
	if (WorkerTransaction(TsListStep, &list))
	{
		for (int i = 0; i < list.n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			TsMaintainOne(&list.tables[i]);
		}
		if (list.tables)
			pfree(list.tables);
	}
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * nosql.timeseries_hashable(regtype) RETURNS boolean
 *		Whether a column of this type can be in a hash partition key: the
 *		type has a default hash operator class, found as PostgreSQL finds
 *		it for PARTITION BY HASH (domains by their base type, types binary
 *		coercible to an operator class's input type), so that
 *		nosql.create_timeseries can refuse a segment_by column with a clear
 *		message before it converts anything.
 */
PG_FUNCTION_INFO_V1(timeseries_hashable);
Datum
timeseries_hashable(PG_FUNCTION_ARGS)
{
	Oid			typid = PG_GETARG_OID(0);

	PG_RETURN_BOOL(OidIsValid(GetDefaultOpClass(typid, HASH_AM_OID)));
}
