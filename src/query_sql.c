/*-------------------------------------------------------------------------
 *
 * query_sql.c
 *	  SQL access to MongoDB filters: the bson @@ bson operator.
 *
 * doc @@ filter is true when the document matches the MongoDB filter.  The
 * filter is compiled once per query (per call site, in fn_extra) and again
 * only when a different filter value arrives, so a scan pays the compile
 * once and a plain match per row.  The three-argument form,
 * bson_matches(doc, filter, collation), compares strings under a MongoDB
 * collation; its ICU collator is cached with the filter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/memutils.h"

#include "bson.h"
#include "collation.h"
#include "documents.h"
#include "nosql.h"
#include "query.h"

/* The compiled filter kept in fn_extra, with the bytes it came from */
typedef struct QueryFilterCache
{
	BsonFilter *filter;
	uint32_t	len;
	uint8_t    *bytes;
	uint32_t	collation_len;	/* 0: no collation argument */
	uint8_t    *collation_bytes;
	MemoryContext context;		/* holds all of the above, and the collator */
} QueryFilterCache;

/*
 * The compiled form of a filter value (under a collation unless that is
 * NULL), from the cache when it is the same filter and collation as last
 * time.  Invalid filters raise an ERROR carrying MongoDB's error code.
 */
static const BsonFilter *
QueryCachedFilter(FunctionCallInfo fcinfo, const Bson *filter, const Bson *collation)
{
	QueryFilterCache *cache = (QueryFilterCache *) fcinfo->flinfo->fn_extra;
	const uint8_t *bytes = BsonBytes(filter);
	uint32_t	len = BsonDocLen(filter);
	const uint8_t *cbytes = NULL;
	uint32_t	clen = 0;
	BsonCollation *compiled = NULL;
	BsonQueryError error = {0};
	MemoryContext oldcontext;

	if (BsonIsScalar(filter))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a MongoDB filter must be a document")));
	if (collation != NULL)
	{
		if (BsonIsScalar(collation))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a MongoDB collation must be a document")));
		cbytes = BsonBytes(collation);
		clen = BsonDocLen(collation);
	}

	if (cache != NULL && cache->len == len && memcmp(cache->bytes, bytes, len) == 0 &&
		cache->collation_len == clen &&
		(clen == 0 || memcmp(cache->collation_bytes, cbytes, clen) == 0))
		return cache->filter;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(QueryFilterCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "nosql filter cache",
											   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	else
	{
		/* another filter: forget the old one (PCRE2 memory is palloc'd too) */
		MemoryContextReset(cache->context);
		cache->filter = NULL;
		cache->len = 0;
		cache->collation_len = 0;
	}

	oldcontext = MemoryContextSwitchTo(cache->context);
	if (clen > 0)
		compiled = CompileCollation(cbytes, clen);
	cache->filter = BsonFilterCompileCollated(bytes, len, compiled, &error);
	if (cache->filter != NULL)
	{
		cache->bytes = palloc(len);
		memcpy(cache->bytes, bytes, len);
		cache->len = len;
		if (clen > 0)
		{
			cache->collation_bytes = palloc(clen);
			memcpy(cache->collation_bytes, cbytes, clen);
			cache->collation_len = clen;
		}
	}
	MemoryContextSwitchTo(oldcontext);

	if (cache->filter == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid MongoDB filter: %s",
						error.message ? error.message : "unknown error"),
				 errdetail("MongoDB error code %d (%s).", error.code,
						   error.code_name ? error.code_name : "Error")));
	return cache->filter;
}

/*
 * bson @@ bson: whether the document matches the filter.  A non-document
 * value matches no filter.
 */
/* The errors of $expr evaluations end the statement, as MongoDB's do */
static void
QueryExprRaise(const BsonQueryError *error)
{
	MongoRaise(error->code, "%s", error->message != NULL ? error->message : "$expr failed");
}

void
QueryInit(void)
{
	BsonFilterSetExprErrorHook(QueryExprRaise);
}

PG_FUNCTION_INFO_V1(bson_matches);
Datum
bson_matches(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	Bson	   *filter = PG_GETARG_BSON_P(1);
	const BsonFilter *compiled = QueryCachedFilter(fcinfo, filter, NULL);

	if (BsonIsScalar(doc))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(BsonFilterMatches(compiled, BsonBytes(doc), BsonDocLen(doc)));
}

/*
 * nosql.bson_matches(document, filter, collation): whether the document
 * matches the filter with strings compared under a MongoDB collation.
 */
PG_FUNCTION_INFO_V1(bson_matches_collated);
Datum
bson_matches_collated(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	Bson	   *filter = PG_GETARG_BSON_P(1);
	Bson	   *collation = PG_GETARG_BSON_P(2);
	const BsonFilter *compiled = QueryCachedFilter(fcinfo, filter, collation);

	if (BsonIsScalar(doc))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(BsonFilterMatches(compiled, BsonBytes(doc), BsonDocLen(doc)));
}
