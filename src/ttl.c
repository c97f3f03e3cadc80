/*-------------------------------------------------------------------------
 *
 * ttl.c
 *	  TTL indexes: the per-database background worker deletes expired
 *	  documents.
 *
 * A collection's index spec with expireAfterSeconds on a single field
 * ({key: {at: 1}, expireAfterSeconds: 3600}) makes documents whose field is
 * a date (or an array holding a date) older than now - expireAfterSeconds
 * go away, as MongoDB's TTL monitor does; documents without a date there
 * stay.  Each round of the worker (nosql.worker_naptime) deletes them batch
 * by batch, each batch its own short transaction, through the collection's
 * GIN index on the field ($lt on dates is an index range).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "documents.h"
#include "nosql.h"

#define TTL_BATCH	1000

/* One expiry job: a table, a field and a cutoff filter */
typedef struct TtlJob
{
	char	   *qualified;		/* the table */
	char	   *filter;			/* {field: {$lt: cutoff}} as Extended JSON */
} TtlJob;

/* The TTL jobs of this database, read from the catalog in a transaction */
static List *
TtlJobs(MemoryContext context)
{
	List	   *jobs = NIL;
	int64		now_ms = (int64) (GetCurrentTimestamp() / 1000) + INT64CONST(946684800000);

	if (SPI_execute("SELECT relation::regclass::text, indexes FROM nosql.collection "
					"WHERE relation IS NOT NULL AND indexes IS NOT NULL",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the nosql catalog");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *table = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		Bson	   *indexes = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 2, &isnull));
		bson_iter_t arr;
		bson_t		holder;
		bson_iter_t spec;

		if (!BsonValueIter(indexes, &arr, &holder) || !BSON_ITER_HOLDS_ARRAY(&arr))
			continue;
		bson_iter_recurse(&arr, &spec);
		while (bson_iter_next(&spec))
		{
			bson_iter_t f;
			bson_iter_t key;
			bson_iter_t expire;
			double		seconds;
			const char *field;
			MemoryContext old;
			TtlJob	   *job;
			bson_t		filter;
			bson_t		lt;
			char	   *json;

			if (!BSON_ITER_HOLDS_DOCUMENT(&spec))
				continue;
			bson_iter_recurse(&spec, &f);
			expire = f;
			if (!bson_iter_find(&expire, "expireAfterSeconds") || !BsonIterIsNumber(&expire))
				continue;
			seconds = bson_iter_as_double(&expire);
			if (isnan(seconds) || seconds < 0)
				continue;
			key = f;
			if (!bson_iter_find(&key, "key") || !BSON_ITER_HOLDS_DOCUMENT(&key))
				continue;
			bson_iter_recurse(&key, &key);
			if (!bson_iter_next(&key))
				continue;
			field = bson_iter_key(&key);
			if (bson_iter_next(&key))
				continue;		/* TTL needs a single-field index */

			bson_init(&filter);
			BSON_APPEND_DOCUMENT_BEGIN(&filter, field, &lt);
			BSON_APPEND_DATE_TIME(&lt, "$lt", now_ms - (int64) (seconds * 1000.0));
			bson_append_document_end(&filter, &lt);
			json = BsonToCString(BsonDatumFromBson(&filter), BSON_JSON_CANONICAL);

			old = MemoryContextSwitchTo(context);
			job = palloc(sizeof(TtlJob));
			job->qualified = pstrdup(table);
			job->filter = pstrdup(json);
			jobs = lappend(jobs, job);
			MemoryContextSwitchTo(old);
		}
	}
	return jobs;
}

/* Delete one batch of expired documents; how many went */
static uint64
TtlDeleteBatch(const TtlJob *job)
{
	char	   *sql = psprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY("
							   "SELECT ctid FROM %s WHERE document OPERATOR(nosql.@@) %s::nosql.bson "
							   "LIMIT %d))",
							   job->qualified, job->qualified,
							   quote_literal_cstr(job->filter), TTL_BATCH);

	if (SPI_execute(sql, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "TTL delete failed on %s", job->qualified);
	return SPI_processed;
}

/* What a transaction of a TTL round works on */
typedef struct TtlStep
{
	MemoryContext round;		/* TtlReadJobs: where the jobs go */
	List	   *jobs;			/* TtlReadJobs: the jobs */
	TtlJob	   *job;			/* TtlDeleteStep: the job */
	uint64		deleted;		/* TtlDeleteStep: documents deleted */
} TtlStep;

static void
TtlReadJobs(void *arg)
{
	TtlStep    *step = (TtlStep *) arg;

	step->jobs = TtlJobs(step->round);
}

static void
TtlDeleteStep(void *arg)
{
	TtlStep    *step = (TtlStep *) arg;

	step->deleted = TtlDeleteBatch(step->job);
}

/*
 * One round of TTL expiry for this database (called by its worker, outside
 * any transaction).  Errors are logged and end that collection's round.
 */
void
TtlRound(void)
{
	MemoryContext round = AllocSetContextCreate(TopMemoryContext, "nosql TTL round",
												ALLOCSET_DEFAULT_SIZES);
	TtlStep		step = {0};
	ListCell   *lc;

	pgstat_report_activity(STATE_RUNNING, "nosql TTL expiry");

	/* the jobs, from the catalog */
	step.round = round;
	if (!WorkerTransaction(TtlReadJobs, &step))
		step.jobs = NIL;

	foreach(lc, step.jobs)
	{
		/* batch by batch, one short transaction each */
		step.job = lfirst(lc);
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			step.deleted = 0;
			if (!WorkerTransaction(TtlDeleteStep, &step) || step.deleted < TTL_BATCH)
				break;
		}
	}
	MemoryContextDelete(round);
	pgstat_report_activity(STATE_IDLE, NULL);
}
