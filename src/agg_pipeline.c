/*-------------------------------------------------------------------------
 *
 * agg_pipeline.c
 *	  The aggregate command and nosql.aggregate(): a pipeline translated
 *	  into one SQL query.
 *
 * Design note
 * -----------
 * A pipeline is read front to back into a query built inside out.  The
 * leading stages that find can express — $match (several are ANDed, and a
 * $match after a $sort moves before it), $sort, $skip, $limit — are a
 * FindSpec, and FindSpecPrepare writes its SQL with the same index
 * planning as find: a $match on indexed fields reads the index, a $sort on
 * an ordered index reads it in order and a $limit stops the scan early.
 * ($documents instead starts from nosql.bson_aggregate_documents(array).)
 *
 * Each later stage wraps the query so far as a subquery "s":
 *
 *	streaming stages	SELECT nosql.bson_aggregate_stream(s.document, $n) AS document
 *						  FROM (...) s			-- a run of them, one call (agg_stages.c)
 *	$sort				SELECT s.document FROM (...) s ORDER BY nosql.bson_sort_value(...)
 *	$skip, $limit		... OFFSET n LIMIT m	(on the level of the $sort before them)
 *	$count				SELECT nosql.bson_aggregate_count(count(*), 'name') AS document
 *						  FROM (...) s HAVING count(*) > 0
 *
 * so documents stream through the C stages and only the blocking stages
 * hold them, in PostgreSQL's sort and aggregate nodes, which spill to disk
 * beyond work_mem.  The command keeps the query open as a holdable portal
 * for getMore exactly as find does (cmd_read.c).
 *
 * IDENTIFICATION
 *	  src/agg_pipeline.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "agg.h"
#include "bson_compare.h"
#include "documents.h"
#include "nosql.h"

#define DEFAULT_AGG_BATCH	101

/* The stages MongoDB knows that are not implemented yet (238) */
static const char *const agg_later_stages[] = {
	"$bucketAuto", "$changeStream", "$changeStreamSplitLargeEvent",
	"$collStats", "$currentOp", "$densify", "$facet", "$fill", "$geoNear",
	"$graphLookup", "$indexStats", "$listCatalog", "$listClusterCatalog",
	"$listLocalSessions", "$listSampledQueries", "$listSearchIndexes", "$listSessions",
	"$planCacheStats", "$querySettings", "$rankFusion",
	"$score", "$scoreFusion", "$search", "$searchMeta",
	"$setWindowFields", "$shardedDataDistribution", "$unionWith",
	"$vectorSearch", NULL
};

/* A pipeline being translated */
typedef struct AggBuild
{
	FindSpec	spec;			/* the leading find-like stages */
	bson_t		filters;		/* their $match filters, to be ANDed */
	int			nfilters;
	bool		in_find;		/* still reading find-like stages */
	bool		documents;		/* the source is $documents */
	const bson_iter_t *documents_arg;
	StringInfoData sql;			/* the query so far (once out of find) */
	/* a level with ORDER BY/OFFSET/LIMIT not yet closed */
	bool		level_open;
	StringInfoData order;
	int64		skip;
	int64		limit;			/* -1: none */
	/* streaming stages not yet written */
	bson_t		chain;
	int			nchain;
	/* parameters */
	Datum	   *values;
	Oid		   *types;
	int			nparams;
	const uint8_t *collation;	/* the command's or the collection's, or NULL */
	uint32_t	collation_len;
	BsonCollation *compiled_collation;
	/* $lookup */
	const char *database;
	int			depth;			/* of sub-pipelines */
	const char *source_sql;		/* a sub-pipeline's source, or NULL */
	int			maxparams;
	AggWrite   *write;			/* the final $out or $merge, or NULL */
	int64		now_ms;			/* the command's $$NOW */
} AggBuild;

static bool AggTranslate(AggBuild *b, const bson_iter_t *pipeline, Collection *coll,
						 bool collectionless);

/* Is name a stage of MongoDB's that we do not run yet? */
static bool
AggStageIsLater(const char *name)
{
	for (int i = 0; agg_later_stages[i] != NULL; i++)
		if (strcmp(agg_later_stages[i], name) == 0)
			return true;
	return false;
}

/* A whole number argument of $skip or $limit */
static int64
AggStageInt64(const char *name, const bson_iter_t *it, int code)
{
	int64		v;
	double		d = 0;
	bool		whole = true;

	if (!BsonIterIsNumber(it) || !BsonIterAsInt64(it, &v))
		MongoRaise(code, "invalid argument to %s stage: Cannot represent as a 64-bit integer",
				   name);
	/* fractional values are refused, not rounded */
	if (BSON_ITER_HOLDS_DOUBLE(it))
		whole = (BsonIterAsDouble(it, &d) && d == floor(d));
	else if (BSON_ITER_HOLDS_DECIMAL128(it))
	{
		bson_decimal128_t dec;
		char		text[BSON_DECIMAL128_STRING];
		const char *dot;

		bson_iter_decimal128(it, &dec);
		bson_decimal128_to_string(&dec, text);
		if (strstr(text, "E-") != NULL)
		{
			/* a tiny exponent: whole only when zero (-0E-1) */
			for (const char *p = text; *p && *p != 'E'; p++)
				if (*p >= '1' && *p <= '9')
					whole = false;
		}
		else if ((dot = strchr(text, '.')) != NULL)
		{
			for (const char *p = dot + 1; *p && *p != 'E'; p++)
				if (*p != '0')
					whole = false;
		}
	}
	if (!whole)
		MongoRaise(code, "invalid argument to %s stage: Cannot represent as a 64-bit integer",
				   name);
	return v;
}

/* Check a $sort specification as MongoDB's $sort stage does */
static void
AggSortCheck(const bson_iter_t *spec, bool *text_score)
{
	bson_iter_t it;
	int			n = 0;

	*text_score = false;
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(15973, "the $sort key specification must be an object");
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		uint32_t	len = bson_iter_key_len(&it);

		AggFieldPathCheck(bson_iter_key(&it), len);
		if (++n > 32)
			MongoRaise(13103, "too many compound keys");
		if (BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			bson_iter_t meta;

			bson_iter_recurse(&it, &meta);
			if (!bson_iter_next(&meta) || strcmp(bson_iter_key(&meta), "$meta") != 0)
				MongoRaise(17312, "$meta is the only expression supported by $sort right now");
			if (!BSON_ITER_HOLDS_UTF8(&meta) ||
				(strcmp(bson_iter_utf8(&meta, NULL), "textScore") != 0 &&
				 strcmp(bson_iter_utf8(&meta, NULL), "randVal") != 0 &&
				 strcmp(bson_iter_utf8(&meta, NULL), "searchScore") != 0))
				MongoRaise(31138, "Illegal $meta sort: %s", bson_iter_key(&meta));
			*text_score = true;
		}
		else if (BsonIterIsNumber(&it))
		{
			double		d = 0;

			(void) BsonIterAsDouble(&it, &d);
			if (d != 1 && d != -1)
				MongoRaise(15975, "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
		}
		else
			MongoRaise(15974, "Illegal key in $sort specification: %s: %s",
					   bson_iter_key(&it), BsonTypeName(bson_iter_type(&it)));
	}
	if (n == 0)
		MongoRaise(15976, "$sort stage must have at least one sort key");
}

/* A bson datum parameter */
static int
AggParam(AggBuild *b, const bson_t *doc)
{
	b->values[b->nparams] = PointerGetDatum(BsonDatumFromBson(doc));
	b->types[b->nparams] = BsonTypeOid();
	return ++b->nparams;
}

/* Write the streaming stages collected so far as one level */
static void
AggFlushChain(AggBuild *b)
{
	bson_t		desc;
	StringInfoData next;
	int			n;

	if (b->nchain == 0)
		return;
	bson_init(&desc);
	bson_append_array(&desc, "s", 1, &b->chain);
	if (b->compiled_collation != NULL)
	{
		bson_t		c;

		bson_init_static(&c, b->collation, b->collation_len);
		bson_append_document(&desc, "c", 1, &c);
	}
	n = AggParam(b, &desc);
	bson_destroy(&desc);
	bson_reinit(&b->chain);
	b->nchain = 0;

	initStringInfo(&next);
	appendStringInfo(&next,
					 "SELECT nosql.bson_aggregate_stream(s.document, $%d) AS document FROM (%s) s",
					 n, b->sql.data);
	b->sql = next;
}

/* Close a level left open by $sort, $skip or $limit */
static void
AggCloseLevel(AggBuild *b)
{
	StringInfoData next;

	if (!b->level_open)
		return;
	initStringInfo(&next);
	appendStringInfo(&next, "SELECT s.document FROM (%s) s", b->sql.data);
	if (b->order.len > 0)
		appendStringInfo(&next, " ORDER BY %s", b->order.data);
	if (b->skip > 0)
		appendStringInfo(&next, " OFFSET " INT64_FORMAT, b->skip);
	if (b->limit >= 0)
		appendStringInfo(&next, " LIMIT " INT64_FORMAT, b->limit);
	b->sql = next;
	b->level_open = false;
	resetStringInfo(&b->order);
	b->skip = 0;
	b->limit = -1;
}

/* Leave the find-like part: write its query */
static void
AggEndFind(AggBuild *b)
{
	if (!b->in_find)
		return;
	b->in_find = false;
	initStringInfo(&b->sql);
	if (b->documents)
	{
		/* the array itself (a wrapped array value) is the parameter */
		b->values[b->nparams] = PointerGetDatum(BsonFromIter(b->documents_arg));
		b->types[b->nparams] = BsonTypeOid();
		b->nparams++;
		appendStringInfo(&b->sql,
						 "SELECT nosql.bson_aggregate_documents($%d) AS document",
						 b->nparams);
		return;
	}
	if (b->spec.coll == NULL)
	{
		/* no collection: the stages are only checked */
		appendStringInfoString(&b->sql, "SELECT NULL::nosql.bson AS document WHERE false");
		return;
	}
	if (b->nfilters == 1)
	{
		bson_iter_t it;

		bson_iter_init_find(&it, &b->filters, "0");
		bson_iter_document(&it, &b->spec.filter_len, &b->spec.filter);
	}
	else if (b->nfilters > 1)
	{
		bson_t	   *f = bson_new();

		bson_append_array(f, "$and", 4, &b->filters);
		b->spec.filter = bson_get_data(f);
		b->spec.filter_len = f->len;
	}
	FindSpecPrepareFrom(&b->spec, "document", &b->sql, b->values, b->types, &b->nparams);
}

/* A bson parameter from a datum */
static int
AggParamDatum(AggBuild *b, Bson *value)
{
	b->values[b->nparams] = PointerGetDatum(value);
	b->types[b->nparams] = BsonTypeOid();
	return ++b->nparams;
}

/*
 * $group: a GROUP BY over the query so far (agg_group.c has the design);
 * the input rows are numbered when an accumulator depends on their order.
 */
static void
AggAddGroupSpec(AggBuild *b, AggGroupSpec g)
{
	StringInfoData next;
	const char *ord;
	int			key;
	int			names;

	AggEndFind(b);
	AggFlushChain(b);
	AggCloseLevel(b);
	key = AggParamDatum(b, g.key);
	names = AggParamDatum(b, g.names);
	ord = g.need_ord ? "g.ord" : "0::bigint";
	initStringInfo(&next);
	if (g.id_first != NULL)
		appendStringInfo(&next, "SELECT nosql.bson_group_result(nosql.bson_group_accumulate(g.document, $%d, %s), $%d, ARRAY[",
						 AggParamDatum(b, g.id_first), ord, names);
	else
		appendStringInfo(&next, "SELECT nosql.bson_group_result(g.key, $%d, ARRAY[", names);
	for (int i = 0; i < g.naccs; i++)
		appendStringInfo(&next, "%snosql.bson_group_accumulate(g.document, $%d, %s)",
						 i > 0 ? ", " : "", AggParamDatum(b, g.accs[i]), ord);
	appendStringInfo(&next,
					 "]::nosql.bson[]) AS document FROM (SELECT nosql.bson_group_key(s.document, $%d) AS key, s.document%s FROM (%s) s) g GROUP BY g.key",
					 key, g.need_ord ? ", row_number() OVER () AS ord" : "", b->sql.data);
	b->sql = next;
}

static void
AggAddGroup(AggBuild *b, const bson_iter_t *spec)
{
	AggGroupSpec g;

	AggGroupDescribe(spec, b->compiled_collation != NULL ? b->collation : NULL,
					 b->collation_len, &g);
	AggAddGroupSpec(b, g);
}

/* Order the level about to be opened by a path, ascending */
static void
AggOrderBy(AggBuild *b, const char *path)
{
	if (b->compiled_collation != NULL)
	{
		bson_t		c;

		bson_init_static(&c, b->collation, b->collation_len);
		appendStringInfo(&b->order, "nosql.bson_sort_value(s.document, %s, false, $%d)",
						 quote_literal_cstr(path), AggParam(b, &c));
	}
	else
		appendStringInfo(&b->order, "nosql.bson_sort_value(s.document, %s, false)",
						 quote_literal_cstr(path));
	b->level_open = true;
	b->skip = 0;
	b->limit = -1;
}

/*
 * $bucket: the $group whose key is the lower boundary of each document's
 * bucket (agg_group.c), then the buckets in the order of their _id.
 */
static void
AggAddBucket(AggBuild *b, const bson_iter_t *spec)
{
	AggGroupSpec g;

	AggBucketDescribe(spec, b->compiled_collation != NULL ? b->collation : NULL,
					  b->collation_len, &g);
	AggAddGroupSpec(b, g);
	AggOrderBy(b, "_id");
}

/*
 * The size of $sample: a positive number, doubles truncated and decimals
 * rounded half to even as MongoDB converts them, beyond int64 the largest.
 */
static int64
AggSampleSize(const bson_iter_t *it)
{
	double		d = 0;

	if (BSON_ITER_HOLDS_DECIMAL128(it))
	{
		bson_decimal128_t dec;
		char		text[BSON_DECIMAL128_STRING];
		const char *p = text;
		const char *dot;
		int64		whole = 0;

		bson_iter_decimal128(it, &dec);
		bson_decimal128_to_string(&dec, text);
		if (*p == '-' || strchr(text, 'E') != NULL || strchr(text, 'N') != NULL ||
			strchr(text, 'I') != NULL || strlen(text) > 40)
		{
			/* signed, exponent forms (huge or tiny), NaN and infinities */
			d = strtod(text, NULL);
			if (isnan(d) || rint(d) < 1)
				return 0;
			return d >= 9.2233720368547758e18 ? PG_INT64_MAX : (int64) rint(d);
		}
		/* a plain decimal: round its digits half to even */
		for (; *p >= '0' && *p <= '9'; p++)
		{
			if (whole > (PG_INT64_MAX - 9) / 10)
				return PG_INT64_MAX;
			whole = whole * 10 + (*p - '0');
		}
		dot = (*p == '.') ? p + 1 : NULL;
		if (dot != NULL && *dot >= '5')
		{
			bool		above = *dot > '5';

			for (const char *q = dot + 1; *q && !above; q++)
				if (*q != '0')
					above = true;
			if (above || (whole % 2) == 1)
				whole++;
		}
		return whole;
	}
	(void) BsonIterAsDouble(it, &d);
	if (isnan(d) || d < 1)
		return 0;
	if (BSON_ITER_HOLDS_DOUBLE(it))
		return d >= 9.2233720368547758e18 ? PG_INT64_MAX : (int64) d;
	{
		int64		v = 0;

		(void) BsonIterAsInt64(it, &v);
		return v;
	}
}

/* $sample: {size: n}, as n rows in random order */
static void
AggAddSample(AggBuild *b, const bson_iter_t *spec)
{
	bson_iter_t it;
	bool		have_size = false;
	int64		size = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(28745, "the $sample stage specification must be an object");
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "size") != 0)
			MongoRaise(28748, "unrecognized option to $sample: %s", bson_iter_key(&it));
		if (!BsonIterIsNumber(&it))
			MongoRaise(28746, "size argument to $sample must be a number");
		size = AggSampleSize(&it);
		have_size = true;
	}
	if (!have_size)
		MongoRaise(28749, "$sample stage must specify a size");
	if (size <= 0)
		MongoRaise(28747, "size argument to $sample must not be negative");
	AggEndFind(b);
	AggFlushChain(b);
	AggCloseLevel(b);
	appendStringInfoString(&b->order, "random()");
	b->level_open = true;
	b->skip = 0;
	b->limit = size;
}

/* $sortByCount: {$group: {_id: expr, count: {$sum: 1}}}, {$sort: {count: -1}} */
static void
AggAddSortByCount(AggBuild *b, const bson_iter_t *spec)
{
	bson_t		group;
	bson_t		count;
	bson_t		sum;
	bson_iter_t it;

	if (BSON_ITER_HOLDS_UTF8(spec))
	{
		if (bson_iter_utf8(spec, NULL)[0] != '$')
			MongoRaise(40148, "the sortByCount field must be defined as a $-prefixed path or an expression");
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(spec))
	{
		bson_iter_t first;

		bson_iter_recurse(spec, &first);
		if (!bson_iter_next(&first) || bson_iter_key(&first)[0] != '$')
			MongoRaise(40147, "the sortByCount field must be specified as an expression");
	}
	else
		MongoRaise(40149, "the sortByCount field must be defined as a $-prefixed path or an expression");
	bson_init(&group);
	bson_append_document_begin(&group, "g", 1, &sum);
	bson_append_iter(&sum, "_id", 3, spec);
	bson_append_document_begin(&sum, "count", 5, &count);
	bson_append_int32(&count, "$sum", 4, 1);
	bson_append_document_end(&sum, &count);
	bson_append_document_end(&group, &sum);
	bson_iter_init_find(&it, &group, "g");
	/* the group's spec lives in a copy that outlives this call */
	{
		Bson	   *copy = BsonDatumFromBson(&group);
		bson_t		c;

		bson_init_static(&c, BsonBytes(copy), BsonDocLen(copy));
		bson_iter_init_find(&it, &c, "g");
		AggAddGroup(b, &it);
	}
	bson_destroy(&group);
	b->level_open = true;
	b->skip = 0;
	b->limit = -1;
	appendStringInfoString(&b->order,
						   "nosql.bson_sort_value(s.document, 'count', true) DESC");
}


/* Make room for n more parameters */
static void
AggReserve(AggBuild *b, int n)
{
	if (b->nparams + n <= b->maxparams)
		return;
	b->maxparams = b->nparams + n + FIND_MAX_PARAMS;
	b->values = repalloc(b->values, sizeof(Datum) * b->maxparams);
	b->types = repalloc(b->types, sizeof(Oid) * b->maxparams);
}

/* A string field of $lookup: false when absent or null (14 otherwise) */
static bool
AggLookupString(const bson_iter_t *it, const char *field, const char **value)
{
	if (BSON_ITER_HOLDS_NULL(it))
		return false;
	if (!BSON_ITER_HOLDS_UTF8(it))
		MongoRaise(MONGO_TYPE_MISMATCH, "$lookup argument '%s' must be a string, found %s",
				   field, BsonTypeName(bson_iter_type(it)));
	*value = bson_iter_utf8(it, NULL);
	return true;
}

/*
 * Translate a $lookup's pipeline over coll (NULL: missing) into sql, its
 * parameters added to b's; source_sql, when not NULL, is the query of the
 * foreign documents it reads instead of the collection.
 */
static void
AggLookupSubquery(AggBuild *b, const bson_iter_t *pipeline, Collection *coll,
				  bool collectionless, const char *source_sql, StringInfo sql)
{
	AggBuild	sub;

	memset(&sub, 0, sizeof(sub));
	FindSpecInit(&sub.spec);
	sub.database = b->database;
	sub.depth = b->depth + 1;
	sub.source_sql = source_sql;
	sub.spec.collation = b->spec.collation;
	sub.spec.collation_len = b->spec.collation_len;
	sub.spec.coll = coll;
	sub.collation = b->collation;
	sub.collation_len = b->collation_len;
	sub.compiled_collation = b->compiled_collation;
	sub.nparams = b->nparams;
	sub.now_ms = b->now_ms;
	if (!AggTranslate(&sub, pipeline, coll, collectionless))
	{
		appendStringInfoString(sql, "'{}'::nosql.bson[]");
		return;
	}
	AggReserve(b, sub.nparams - b->nparams);
	for (int i = b->nparams; i < sub.nparams; i++)
	{
		b->values[i] = sub.values[i];
		b->types[i] = sub.types[i];
	}
	b->nparams = sub.nparams;
	appendStringInfo(sql, "ARRAY(SELECT q.document FROM (%s) q)", sub.sql.data);
}

/*
 * Check the sub-pipeline of a $lookup with let variables once, at
 * translation (its stages' shapes and expressions): translated aside with
 * the variables bound to null.
 */
static void
AggLookupCheckPipeline(AggBuild *b, const bson_iter_t *let, const bson_iter_t *pipeline,
					   Collection *coll, bool collectionless)
{
	AggBuild	sub;
	bson_t		vars;
	bson_iter_t it;
	bson_iter_t bound;

	bson_init(&vars);
	bson_iter_recurse(let, &it);
	while (bson_iter_next(&it))
		bson_append_null(&vars, bson_iter_key(&it), -1);
	if (!AggBindPipeline(pipeline, &vars, b->now_ms, &bound))
		bound = *pipeline;
	memset(&sub, 0, sizeof(sub));
	FindSpecInit(&sub.spec);
	sub.database = b->database;
	sub.depth = b->depth + 1;
	sub.spec.collation = b->spec.collation;
	sub.spec.collation_len = b->spec.collation_len;
	sub.spec.coll = coll;
	sub.collation = b->collation;
	sub.collation_len = b->collation_len;
	sub.compiled_collation = b->compiled_collation;
	sub.now_ms = b->now_ms;
	(void) AggTranslate(&sub, &bound, coll, collectionless);
	bson_destroy(&vars);
}

/*
 * $lookup: {from, localField, foreignField, as} (agg_lookup.c has the SQL),
 * {from, let, pipeline, as} and both together; the foreign documents of
 * each document come from a correlated subquery.
 */
static void
AggAddLookup(AggBuild *b, const bson_iter_t *spec)
{
	bson_iter_t it;
	const char *from = NULL;
	const char *as = NULL;
	const char *local = NULL;
	const char *foreign = NULL;
	bool		has_let = false;
	bool		has_pipeline = false;
	bson_iter_t let;
	bson_iter_t pipeline;
	bool		collectionless = false;
	Collection *coll = NULL;
	StringInfoData matches;
	StringInfoData next;
	char	   *alias;
	char	   *cond = NULL;
	bool		seen[6] = {false};

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_FAILED_TO_PARSE, "the $lookup specification must be an Object, but found %s",
				   BsonTypeName(bson_iter_type(spec)));

	/* from first, as MongoDB reads it */
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "from") == 0)
		{
			if (BSON_ITER_HOLDS_UTF8(&it))
			{
				uint32_t	len;

				from = bson_iter_utf8(&it, &len);
				if (len == 0 || strlen(from) != len)
					MongoRaise(MONGO_INVALID_NAMESPACE, "invalid $lookup namespace: '%s'", from);
			}
			else if (BSON_ITER_HOLDS_DOCUMENT(&it))
			{
				bson_iter_t f;

				bson_iter_recurse(&it, &f);
				while (bson_iter_next(&f))
					if (strcmp(bson_iter_key(&f), "db") != 0 && strcmp(bson_iter_key(&f), "coll") != 0)
						MongoRaise(40415, "BSON field '$lookup.from.%s' is an unknown field.",
								   bson_iter_key(&f));
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "$lookup with a 'from' namespace in another database is not supported");
			}
			else
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "$lookup 'from' field must be a string, found %s",
						   BsonTypeName(bson_iter_type(&it)));
			break;
		}
	}
	if (from == NULL)
	{
		bson_iter_t p;
		bson_iter_t first;

		/* a pipeline that starts with $documents needs no collection */
		bson_iter_recurse(spec, &p);
		if (bson_iter_find(&p, "pipeline") && BSON_ITER_HOLDS_ARRAY(&p) &&
			bson_iter_recurse(&p, &first) && bson_iter_next(&first) &&
			BSON_ITER_HOLDS_DOCUMENT(&first) && bson_iter_recurse(&first, &first) &&
			bson_iter_next(&first) && strcmp(bson_iter_key(&first), "$documents") == 0)
			collectionless = true;
		else
			MongoRaise(MONGO_FAILED_TO_PARSE, "must specify 'from' field for a $lookup");
	}

	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		static const char *const fields[] = {
			"from", "as", "localField", "foreignField", "let", "pipeline"
		};
		int			f;

		for (f = 0; f < 6; f++)
			if (strcmp(key, fields[f]) == 0)
				break;
		if (f == 6)
			MongoRaise(40415, "BSON field '$lookup.%s' is an unknown field.", key);
		if (seen[f])
			MongoRaise(40413, "$lookup specification has a duplicate field: %s", key);
		seen[f] = true;
		switch (f)
		{
			case 1:
				if (!AggLookupString(&it, key, &as))
					as = NULL;
				break;
			case 2:
				if (!AggLookupString(&it, key, &local))
					local = NULL;
				break;
			case 3:
				if (!AggLookupString(&it, key, &foreign))
					foreign = NULL;
				break;
			case 4:
				if (BSON_ITER_HOLDS_NULL(&it))
					break;		/* as if omitted */
				if (!BSON_ITER_HOLDS_DOCUMENT(&it))
					MongoRaise(MONGO_TYPE_MISMATCH, "$lookup argument 'let' must be an object, found %s",
							   BsonTypeName(bson_iter_type(&it)));
				let = it;
				has_let = true;
				break;
			case 5:
				if (!BSON_ITER_HOLDS_ARRAY(&it))
					MongoRaise(MONGO_TYPE_MISMATCH, "$lookup argument 'pipeline' must be an array, found %s",
							   BsonTypeName(bson_iter_type(&it)));
				pipeline = it;
				has_pipeline = true;
				break;
			default:
				break;
		}
	}
	if (as == NULL)
		MongoRaise(40414, "BSON field '$lookup.as' is missing but a required field");
	AggFieldPathCheck(as, strlen(as) == 0 ? 0 : (uint32_t) strlen(as));
	if ((local == NULL) != (foreign == NULL) || (local != NULL && local[0] == '\0') ||
		(foreign != NULL && foreign[0] == '\0'))
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "$lookup requires both or neither of 'localField' and 'foreignField' to be specified");
	if (local != NULL)
	{
		AggFieldPathCheck(local, (uint32_t) strlen(local));
		AggFieldPathCheck(foreign, (uint32_t) strlen(foreign));
	}
	if (!has_pipeline && local == NULL)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified");
	if (has_let && !has_pipeline)
		MongoRaise(MONGO_FAILED_TO_PARSE, "$lookup with 'let' must also specify 'pipeline'");
	if (has_let)
	{
		bson_iter_t v;

		AggCheckLet(&let);
		bson_iter_recurse(&let, &v);
		if (!bson_iter_next(&v))
			has_let = false;
	}

	if (from != NULL)
	{
		coll = CollectionLookup(b->database, from);
		if (coll != NULL && coll->is_view)
			MongoRaise(MONGO_NOT_IMPLEMENTED, "$lookup from a view is not supported yet");
	}
	AggEndFind(b);
	AggFlushChain(b);
	AggCloseLevel(b);
	alias = psprintf("lk%d", b->depth);

	if (local != NULL && coll != NULL)
	{
		char	   *filter = psprintf("nosql.bson_lookup_filter(%s.document, %s, %s)", alias,
									  quote_literal_cstr(local), quote_literal_cstr(foreign));
		const char *key = b->compiled_collation == NULL ?
			IndexLookupKeyExpr(coll, foreign) : NULL;
		char	   *match;

		if (b->compiled_collation != NULL)
		{
			bson_t		c;

			AggReserve(b, 1);
			bson_init_static(&c, b->collation, b->collation_len);
			match = psprintf("nosql.bson_matches(document, %s, $%d)", filter, AggParam(b, &c));
		}
		else
			match = psprintf("document OPERATOR(nosql.@@) %s", filter);
		if (key != NULL && strcmp(key, "_id") == 0)
			cond = psprintf("_id OPERATOR(nosql.=) ANY (nosql.bson_lookup_keys(%s.document, %s))",
							alias, quote_literal_cstr(local));
		else if (key != NULL)
			cond = psprintf("(%s OPERATOR(nosql.=) ANY (nosql.bson_lookup_keys(%s.document, %s)) OR (%s IS NULL AND %s))",
							key, alias, quote_literal_cstr(local), key, match);
		else
			cond = match;
	}

	initStringInfo(&matches);
	if (has_let)
	{
		bson_t		desc;
		bson_iter_t p;

		/*
		 * The let values differ per outer document: the sub-pipeline runs
		 * per outer document with them bound (agg_let.c).  Its shape is
		 * checked here, once, as the other sub-pipelines' are.
		 */
		AggLookupCheckPipeline(b, &let, &pipeline, coll, collectionless);
		bson_init(&desc);
		BSON_APPEND_UTF8(&desc, "db", b->database);
		if (from != NULL && !collectionless)
			BSON_APPEND_UTF8(&desc, "from", from);
		bson_append_iter(&desc, "let", 3, &let);
		p = pipeline;
		bson_append_iter(&desc, "pipeline", 8, &p);
		if (local != NULL)
		{
			BSON_APPEND_UTF8(&desc, "local", local);
			BSON_APPEND_UTF8(&desc, "foreign", foreign);
		}
		if (b->collation != NULL && b->collation_len > 5)
		{
			bson_t		c;

			bson_init_static(&c, b->collation, b->collation_len);
			BSON_APPEND_DOCUMENT(&desc, "collation", &c);
		}
		else
		{
			bson_t		c;

			/* the foreign collection's default does not apply */
			BSON_APPEND_DOCUMENT_BEGIN(&desc, "collation", &c);
			BSON_APPEND_UTF8(&c, "locale", "simple");
			bson_append_document_end(&desc, &c);
		}
		BSON_APPEND_DATE_TIME(&desc, "now", b->now_ms);
		AggReserve(b, 1);
		appendStringInfo(&matches, "nosql.bson_lookup_let(%s.document, $%d)", alias,
						 AggParam(b, &desc));
		bson_destroy(&desc);
	}
	else if (has_pipeline)
	{
		char	   *source = NULL;

		if (local != NULL)
			source = coll != NULL ?
				psprintf("SELECT document FROM %s WHERE %s", coll->qualified, cond) :
				"SELECT NULL::nosql.bson AS document WHERE false";
		AggLookupSubquery(b, &pipeline, coll, collectionless, source, &matches);
	}
	else if (coll == NULL)
		appendStringInfoString(&matches, "'{}'::nosql.bson[]");
	else
		appendStringInfo(&matches, "ARRAY(SELECT document FROM %s WHERE %s)",
						 coll->qualified, cond);

	initStringInfo(&next);
	appendStringInfo(&next,
					 "SELECT nosql.bson_lookup_set(%s.document, %s, %s) AS document FROM (%s) %s",
					 alias, quote_literal_cstr(as), matches.data, b->sql.data, alias);
	b->sql = next;	/* room for the parameters of the stages after it */
	AggReserve(b, FIND_MAX_PARAMS);
}

/* Is name a stage that writes ($out, $merge)? */
static bool
AggStageWrites(const char *name)
{
	return strcmp(name, "$out") == 0 || strcmp(name, "$merge") == 0;
}

/*
 * The error of a $out or $merge inside the sub-pipelines of a stage
 * ($lookup 51047, $facet 40600, $unionWith 31441), or 0.
 */
static int
AggNestedWriteError(const char *name, const bson_iter_t *spec)
{
	bson_iter_t it;
	bson_iter_t sub;
	bool		facet = strcmp(name, "$facet") == 0;
	int			code = 0;

	check_stack_depth();
	if (!facet && strcmp(name, "$lookup") != 0 && strcmp(name, "$unionWith") != 0)
		return 0;
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		return 0;
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		if (!BSON_ITER_HOLDS_ARRAY(&it) || (!facet && strcmp(bson_iter_key(&it), "pipeline") != 0))
			continue;
		bson_iter_recurse(&it, &sub);
		while (bson_iter_next(&sub))
		{
			bson_iter_t stage;
			const char *inner;
			int			c;

			if (!BSON_ITER_HOLDS_DOCUMENT(&sub) || !bson_iter_recurse(&sub, &stage) ||
				!bson_iter_next(&stage))
				continue;
			inner = bson_iter_key(&stage);
			c = AggNestedWriteError(inner, &stage);
			if (c != 0)
				return c;
			if (AggStageWrites(inner) && code == 0)
				code = facet ? 40600 : name[1] == 'l' ? 51047 : 31441;
		}
	}
	return code;
}

/* Translate one stage (already known to exist) */
static void
AggAddStage(AggBuild *b, const char *name, const bson_iter_t *spec, bool first)
{
	char		key[16];
	const char *keyp;

	if (strcmp(name, "$documents") == 0)
	{
		if (!first)
			MongoRaise(40602, "$documents is only valid as the first stage in a pipeline");
		if (!BSON_ITER_HOLDS_ARRAY(spec))
			MongoRaise(5858203, "an array is expected");
		b->documents = true;
		b->documents_arg = spec;
		AggEndFind(b);
		return;
	}
	if (strcmp(name, "$match") == 0 && b->in_find && b->spec.skip == 0 && b->spec.limit == 0)
	{
		bson_t		f;
		const uint8_t *data;
		uint32_t	len;

		/* check it as a stage; the find's filter compiles it again */
		AggStageValidate(name, spec, b->compiled_collation);
		bson_iter_document(spec, &len, &data);
		if (!first)
		{
			BsonFilter *filter = CompileFilter(data, len);
			BsonTextQuery text;

			if (BsonFilterGetText(filter, &text))
				MongoRaise(17313, "$match with $text is only allowed as the first pipeline stage");
		}
		bson_init_static(&f, data, len);
		bson_uint32_to_string(b->nfilters++, &keyp, key, sizeof(key));
		bson_append_document(&b->filters, keyp, -1, &f);
		return;
	}
	if (AggStageIsStreaming(name))
	{
		bson_t		stage;

		AggStageValidate(name, spec, b->compiled_collation);
		if (strcmp(name, "$match") == 0)
		{
			const uint8_t *data;
			uint32_t	len;
			BsonTextQuery text;

			bson_iter_document(spec, &len, &data);
			if (BsonFilterGetText(CompileFilter(data, len), &text))
				MongoRaise(17313, "$match with $text is only allowed as the first pipeline stage");
		}
		AggEndFind(b);
		AggCloseLevel(b);
		bson_uint32_to_string(b->nchain++, &keyp, key, sizeof(key));
		bson_append_document_begin(&b->chain, keyp, -1, &stage);
		bson_append_iter(&stage, name, -1, spec);
		bson_append_document_end(&b->chain, &stage);
		return;
	}
	if (strcmp(name, "$sort") == 0)
	{
		bool		meta;
		const uint8_t *data;
		uint32_t	len;
		BsonQueryError error = {0};
		BsonSortSpec *sort;
		int			n;

		AggSortCheck(spec, &meta);
		if (meta)
			MongoRaise(MONGO_NOT_IMPLEMENTED, "$meta sorts are not supported yet");
		bson_iter_document(spec, &len, &data);
		if (b->in_find && b->spec.skip == 0 && b->spec.limit == 0)
		{
			b->spec.sort = data;
			b->spec.sort_len = len;
			return;
		}
		AggEndFind(b);
		AggFlushChain(b);
		AggCloseLevel(b);
		sort = BsonSortCompile(data, len, &error);
		if (sort == NULL)
			MongoRaise(error.code, "%s", error.message);
		n = BsonSortFieldCount(sort);
		for (int i = 0; i < n; i++)
		{
			bool		desc = BsonSortFieldDescending(sort, i);
			char	   *path = quote_literal_cstr(BsonSortFieldPath(sort, i));

			if (b->compiled_collation != NULL)
			{
				bson_t		c;
				int			cp;

				bson_init_static(&c, b->collation, b->collation_len);
				cp = AggParam(b, &c);
				appendStringInfo(&b->order, "%snosql.bson_sort_value(s.document, %s, %s, $%d)%s",
								 i > 0 ? ", " : "", path, desc ? "true" : "false", cp,
								 desc ? " DESC" : "");
			}
			else
				appendStringInfo(&b->order, "%snosql.bson_sort_value(s.document, %s, %s)%s",
								 i > 0 ? ", " : "", path, desc ? "true" : "false",
								 desc ? " DESC" : "");
		}
		b->level_open = true;
		return;
	}
	if (strcmp(name, "$skip") == 0 || strcmp(name, "$limit") == 0)
	{
		bool		is_skip = (name[1] == 's');
		int64		n = AggStageInt64(name, spec, is_skip ? 5107200 : 5107201);

		if (is_skip && n < 0)
			MongoRaise(5107200, "invalid argument to $skip stage: Expected a non-negative number in: $skip: %lld",
					   (long long) n);
		if (!is_skip && n < 0)
			MongoRaise(5107201, "invalid argument to $limit stage: Expected a non-negative number in: $limit: %lld",
					   (long long) n);
		if (!is_skip && n == 0)
			MongoRaise(15958, "the limit must be positive");
		if (b->in_find)
		{
			if (is_skip && b->spec.limit == 0)
			{
				if (b->spec.skip > PG_INT64_MAX - n)
					MongoRaise(MONGO_OVERFLOW, "invalid argument to $skip stage: sum of skips overflows");
				b->spec.skip += n;
				return;
			}
			if (!is_skip)
			{
				b->spec.limit = b->spec.limit > 0 ? Min(b->spec.limit, n) : n;
				return;
			}
			AggEndFind(b);
		}
		AggFlushChain(b);
		if (!b->level_open)
		{
			b->level_open = true;
			b->skip = 0;
			b->limit = -1;
		}
		if (is_skip)
		{
			if (b->limit >= 0)
				b->limit = Max(b->limit - n, 0);
			if (b->skip > PG_INT64_MAX - n)
				MongoRaise(MONGO_OVERFLOW, "invalid argument to $skip stage: sum of skips overflows");
			b->skip += n;
		}
		else
			b->limit = b->limit >= 0 ? Min(b->limit, n) : n;
		return;
	}
	if (strcmp(name, "$count") == 0)
	{
		uint32_t	len;
		const char *field;
		StringInfoData next;

		if (!BSON_ITER_HOLDS_UTF8(spec))
			MongoRaise(40156, "the count field must be a non-empty string");
		field = bson_iter_utf8(spec, &len);
		if (len == 0)
			MongoRaise(40157, "the count field must be a non-empty string");
		if (field[0] == '$')
			MongoRaise(40158, "the count field cannot be a $-prefixed path");
		if (strlen(field) != len)
			MongoRaise(40159, "the count field cannot contain a null byte");
		if (strchr(field, '.') != NULL)
			MongoRaise(40160, "the count field cannot contain '.'");
		if (strcmp(field, "_id") == 0)
			MongoRaise(9039800, "the count field cannot be '_id'");
		AggEndFind(b);
		AggFlushChain(b);
		AggCloseLevel(b);
		initStringInfo(&next);
		appendStringInfo(&next,
						 "SELECT nosql.bson_aggregate_count(count(*), %s) AS document FROM (%s) s HAVING count(*) > 0",
						 quote_literal_cstr(field), b->sql.data);
		b->sql = next;
		return;
	}
	if (strcmp(name, "$group") == 0)
	{
		AggAddGroup(b, spec);
		return;
	}
	if (strcmp(name, "$sortByCount") == 0)
	{
		AggAddSortByCount(b, spec);
		return;
	}
	if (strcmp(name, "$lookup") == 0)
	{
		AggAddLookup(b, spec);
		return;
	}
	if (strcmp(name, "$sample") == 0)
	{
		AggAddSample(b, spec);
		return;
	}
	if (strcmp(name, "$bucket") == 0)
	{
		AggAddBucket(b, spec);
		return;
	}
	elog(ERROR, "unexpected aggregation stage %s", name);
}

/* Finish the query */
static void
AggFinish(AggBuild *b)
{
	AggEndFind(b);
	AggFlushChain(b);
	AggCloseLevel(b);
}

/*
 * Check a pipeline's stages (their shape, names and specifications) and
 * translate it into b->sql.  coll NULL: the collection does not exist (the
 * stages are still checked).  Returns false when there is no query to run.
 */
static bool
AggTranslate(AggBuild *b, const bson_iter_t *pipeline, Collection *coll, bool collectionless)
{
	bson_iter_t it;
	int			nstages = 0;
	int			maxparams;
	int			extra_params = 0;
	bool		write_seen = false;
	const char *write_seen_name = NULL;

	/* the shape of every stage first, as MongoDB parses them */
	bson_iter_recurse(pipeline, &it);
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;
		bson_iter_t spec_it;
		const char *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			MongoRaise(AGG_ERR_STAGE_NOT_OBJECT,
					   "Each element of the 'pipeline' array must be an object");
		bson_iter_recurse(&it, &stage);
		if (!bson_iter_next(&stage))
			MongoRaise(AGG_ERR_STAGE_ONE_FIELD,
					   "A pipeline stage specification object must contain exactly one field.");
		name = bson_iter_key(&stage);
		spec_it = stage;
		if (bson_iter_next(&stage))
			MongoRaise(AGG_ERR_STAGE_ONE_FIELD,
					   "A pipeline stage specification object must contain exactly one field.");
		if (!AggStageIsStreaming(name) && !AggStageIsLater(name) &&
			strcmp(name, "$sort") != 0 && strcmp(name, "$skip") != 0 &&
			strcmp(name, "$limit") != 0 && strcmp(name, "$count") != 0 &&
			strcmp(name, "$documents") != 0 && strcmp(name, "$group") != 0 &&
			strcmp(name, "$sortByCount") != 0 && strcmp(name, "$lookup") != 0 &&
			!AggStageWrites(name) && strcmp(name, "$bucket") != 0 &&
			strcmp(name, "$sample") != 0)
			MongoRaise(AGG_ERR_UNKNOWN_STAGE, "Unrecognized pipeline stage name: '%s'", name);
		if (strcmp(name, "$group") == 0 || strcmp(name, "$bucket") == 0)
		{
			bson_iter_t f;
			bson_iter_t fields;

			/* a parameter per accumulator (and per $bucket output) */
			bson_iter_recurse(&it, &f);
			if (bson_iter_next(&f) && bson_iter_recurse(&f, &fields))
				while (bson_iter_next(&fields))
				{
					bson_iter_t out;

					extra_params++;
					if (strcmp(bson_iter_key(&fields), "output") == 0 &&
						bson_iter_recurse(&fields, &out))
						while (bson_iter_next(&out))
							extra_params++;
				}
		}
		if (b->depth > 0)
		{
			/* what a $lookup's pipeline cannot hold */
			if (strcmp(name, "$out") == 0 || strcmp(name, "$merge") == 0)
				MongoRaise(51047, "%s is not allowed within a $lookup's sub-pipeline", name);
			if (strcmp(name, "$currentOp") == 0 || strcmp(name, "$listLocalSessions") == 0 ||
				strcmp(name, "$listSessions") == 0 || strcmp(name, "$changeStream") == 0)
				MongoRaise(MONGO_INVALID_NAMESPACE, "%s must be run against the 'admin' database with {aggregate: 1}",
						   name);
		}
		if (write_seen)
			MongoRaise(AGG_ERR_WRITE_NOT_LAST, "%s can only be the final stage in the pipeline",
					   write_seen_name);
		if (AggStageWrites(name))
		{
			write_seen = true;
			write_seen_name = name;
		}
		else
		{
			int			code = AggNestedWriteError(name, &spec_it);

			if (code != 0)
				MongoRaise(code, "$out and $merge are not allowed inside %s", name);
		}
		if (++nstages > AGG_MAX_STAGES)
			MongoRaise(AGG_ERR_TOO_MANY_STAGES,
					   "Pipeline length must be no longer than %d stages.", AGG_MAX_STAGES);
		if (nstages == 1 && collectionless && strcmp(name, "$documents") != 0 &&
			strcmp(name, "$currentOp") != 0 && strcmp(name, "$listLocalSessions") != 0 &&
			strcmp(name, "$listSessions") != 0 && strcmp(name, "$changeStream") != 0 &&
			strcmp(name, "$querySettings") != 0 && strcmp(name, "$listClusterCatalog") != 0)
			MongoRaise(MONGO_INVALID_NAMESPACE,
					   "{aggregate: 1} is not valid for '%s'; a collection is required.", name);
		if (nstages == 1 && !collectionless && strcmp(name, "$documents") == 0)
			MongoRaise(MONGO_INVALID_NAMESPACE,
					   "$documents' is not allowed in user requests with a collection; use {aggregate: 1}");
	}
	if (nstages == 0 && collectionless)
		MongoRaise(MONGO_INVALID_NAMESPACE,
				   "The {aggregate: 1} form is not valid with an empty pipeline");

	maxparams = b->nparams + FIND_MAX_PARAMS + 2 * nstages + 32 * nstages + extra_params;
	b->values = palloc(sizeof(Datum) * maxparams);
	b->types = palloc(sizeof(Oid) * maxparams);
	b->maxparams = maxparams;
	b->in_find = (b->source_sql == NULL);
	b->limit = -1;
	initStringInfo(&b->order);
	bson_init(&b->filters);
	bson_init(&b->chain);
	b->spec.coll = coll;
	if (b->source_sql != NULL)
	{
		initStringInfo(&b->sql);
		appendStringInfoString(&b->sql, b->source_sql);
	}

	bson_iter_recurse(pipeline, &it);
	nstages = 0;
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;
		const char *name;

		CHECK_FOR_INTERRUPTS();
		bson_iter_recurse(&it, &stage);
		bson_iter_next(&stage);
		name = bson_iter_key(&stage);
		if (AggStageWrites(name))
		{
			/* the last stage: the query so far feeds it */
			b->write = AggWriteParse(name, &stage, b->database, b->compiled_collation != NULL);
			nstages++;
			continue;
		}
		if (AggStageIsLater(name))
			MongoRaise(MONGO_NOT_IMPLEMENTED, "Stage %s is not supported yet", name);
		AggAddStage(b, name, &stage, nstages++ == 0);
	}
	if (coll == NULL && !b->documents && b->source_sql == NULL)
		return false;
	AggFinish(b);
	return true;
}

/* MongoDB's rules for the names of let variables (9) */
void
AggCheckLet(const bson_iter_t *let)
{
	bson_iter_t it;

	bson_iter_recurse(let, &it);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);
		const unsigned char *p = (const unsigned char *) name;

		if (strcmp(name, "NOW") == 0 || strcmp(name, "CLUSTER_TIME") == 0 ||
			strcmp(name, "USER_ROLES") == 0 || strcmp(name, "SEARCH_META") == 0)
			MongoRaise(4738901, "'%s' is a system variable that cannot be overridden", name);
		if (*p == '\0')
			MongoRaise(MONGO_FAILED_TO_PARSE, "empty variable names are not allowed");
		if (!(islower(*p) || *p >= 0x80))
			MongoRaise(MONGO_FAILED_TO_PARSE,
					   "'%s' starts with an invalid character for a user variable name", name);
		for (p++; *p; p++)
			if (!(isalnum(*p) || *p == '_' || *p >= 0x80))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "'%s' contains an invalid character for a variable name: '%c'",
						   name, *p);
	}
}

/*
 * The read concern levels the stages allow, checked before the stages are
 * parsed (as MongoDB checks its lightly parsed pipeline): $out and $merge
 * cannot read linearizably, the diagnostic stages read the local state
 * only.  Then what this single server cannot do at all (123).
 */
static void
AggCheckReadConcern(const char *level, const bson_iter_t *pipeline)
{
	static const char *const local_only[] = {
		"$currentOp", "$listLocalSessions", "$listSessions", "$planCacheStats",
		"$listClusterCatalog", NULL
	};
	bson_iter_t it;

	if (level == NULL)
		return;
	bson_iter_recurse(pipeline, &it);
	while (bson_iter_next(&it))
	{
		bson_iter_t st;
		const char *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_recurse(&it, &st);
		if (!bson_iter_next(&st))
			continue;
		name = bson_iter_key(&st);
		if ((strcmp(name, "$out") == 0 || strcmp(name, "$merge") == 0) &&
			strcmp(level, "linearizable") == 0)
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "%s cannot be used with a 'linearizable' read concern level", name);
		for (int i = 0; local_only[i] != NULL; i++)
			if (strcmp(name, local_only[i]) == 0 && strcmp(level, "local") != 0)
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "Aggregation stage %s cannot run with a readConcern other than 'local'. Current readConcern: %s",
						   name, level);
	}
	ReadConcernCheckStandalone(level);
}

/* The parsed arguments of an aggregate command */
typedef struct AggArgs
{
	char	   *collname;		/* NULL for {aggregate: 1} */
	bson_iter_t pipeline;
	bool		has_pipeline;
	bool		has_cursor;
	int64		batch_size;
	bool		explain;
	bool		has_hint;
	bson_iter_t hint;
	const uint8_t *collation;
	uint32_t	collation_len;
	bool		bypass;			/* bypassDocumentValidation */
	bool		has_let;
	bson_iter_t let;			/* the command's let */
	int64		now_ms;			/* $$NOW; 0: the time of AggPrepare */
	const bson_t *vars;			/* variables already evaluated, or NULL */
} AggArgs;

static void
AggParseCommand(CommandContext *ctx, AggArgs *a)
{
	bson_iter_t it;

	memset(a, 0, sizeof(*a));
	a->batch_size = DEFAULT_AGG_BATCH;
	if (BSON_ITER_HOLDS_UTF8(&ctx->first))
		a->collname = CommandCollectionName(ctx);
	else if (BsonIterIsNumber(&ctx->first))
	{
		double		d = 0;

		if (!BsonIterAsDouble(&ctx->first, &d) || d != 1)
			MongoRaise(MONGO_BAD_VALUE,
					   "Invalid command format: the 'aggregate' field must specify a collection name or 1");
	}
	else
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid namespace specified '%s.%s'",
				   ctx->database, BsonTypeName(bson_iter_type(&ctx->first)));

	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "pipeline") == 0)
		{
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				RaiseWrongType("aggregate", &it, "array");
			a->pipeline = it;
			a->has_pipeline = true;
		}
		else if (strcmp(key, "cursor") == 0)
		{
			bson_iter_t c;

			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				RaiseWrongType("aggregate", &it, "object");
			a->has_cursor = true;
			bson_iter_recurse(&it, &c);
			while (bson_iter_next(&c))
			{
				if (strcmp(bson_iter_key(&c), "batchSize") == 0)
				{
					int64		v;

					if (!BsonIterIsNumber(&c))
						MongoRaise(MONGO_TYPE_MISMATCH,
								   "BSON field 'aggregate.cursor.batchSize' is the wrong type '%s', expected types '[long, int, decimal, double]'",
								   BsonTypeName(bson_iter_type(&c)));
					if (!BsonIterAsInt64(&c, &v))
					{
						double		d = 0;

						(void) BsonIterAsDouble(&c, &d);
						if (d < 0 || isnan(d))
							MongoRaise(MONGO_BAD_VALUE,
									   "BSON field 'batchSize' value must be >= 0, actual value '%g'", d);
						v = d >= (double) PG_INT64_MAX ? PG_INT64_MAX : (int64) d;
					}
					if (v < 0)
						MongoRaise(MONGO_BAD_VALUE,
								   "BSON field 'batchSize' value must be >= 0, actual value '%lld'",
								   (long long) v);
					a->batch_size = v;
				}
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'aggregate.cursor.%s' is an unknown field.",
							   bson_iter_key(&c));
			}
		}
		else if (strcmp(key, "explain") == 0)
		{
			if (!BSON_ITER_HOLDS_BOOL(&it))
				RaiseWrongType("aggregate", &it, "bool");
			a->explain = bson_iter_bool(&it);
		}
		else if (strcmp(key, "allowDiskUse") == 0)
		{
			if (!BSON_ITER_HOLDS_BOOL(&it))
				RaiseWrongType("aggregate", &it, "bool");
		}
		else if (strcmp(key, "bypassDocumentValidation") == 0)
			a->bypass = FieldBool("aggregate", &it);
		else if (strcmp(key, "hint") == 0)
		{
			CheckHintShape(&it);
			a->hint = it;
			a->has_hint = true;
		}
		else if (strcmp(key, "collation") == 0)
			FieldDocument("aggregate", &it, &a->collation, &a->collation_len);
		else if (strcmp(key, "let") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				RaiseWrongType("aggregate", &it, "object");
			AggCheckLet(&it);
			a->let = it;
			a->has_let = true;
		}
		else if (strcmp(key, "fromMongos") == 0 || strcmp(key, "fromRouter") == 0 ||
				 strcmp(key, "needsMerge") == 0)
			(void) FieldBool("aggregate", &it);
		else if (GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'aggregate.%s' is an unknown field.",
					   key);
	}
	if (!a->has_pipeline)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'aggregate.pipeline' is missing but a required field");
	if (a->explain && ctx->has_write_concern)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Aggregation explain does not support the 'writeConcern' option");
	AggCheckReadConcern(ctx->read_concern_level, &a->pipeline);
	if (!a->has_cursor && !a->explain)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "The 'cursor' option is required, except for aggregate with the explain argument");
}

/* Prepare the translation: the collection, its collation and hint */
static bool
AggPrepare(const char *database, AggArgs *a, AggBuild *b)
{
	Collection *coll = NULL;

	memset(b, 0, sizeof(*b));
	b->database = database;
	FindSpecInit(&b->spec);
	if (a->now_ms == 0)
		a->now_ms = (int64) (GetCurrentTimestamp() / 1000 + INT64CONST(946684800000));
	b->now_ms = a->now_ms;
	{
		/* the let variables and $$NOW, bound into the pipeline */
		bson_t		vars;
		bson_iter_t bound;

		bson_init(&vars);
		if (a->vars != NULL)
			bson_concat(&vars, a->vars);
		else if (a->has_let)
			AggLetEvaluate(&a->let, NULL, 0, a->now_ms, &vars);
		if (AggBindPipeline(&a->pipeline, &vars, a->now_ms, &bound))
			a->pipeline = bound;
		bson_destroy(&vars);
	}
	if (a->collname != NULL)
	{
		coll = CollectionLookup(database, a->collname);
		if (coll != NULL && coll->is_view)
			MongoRaise(MONGO_NOT_IMPLEMENTED, "aggregate on a view is not supported yet");
	}
	b->spec.coll = coll;
	b->spec.collation = a->collation;
	b->spec.collation_len = a->collation_len;
	if (a->has_hint)
		b->spec.hint = CheckHint(coll, &a->hint);
	b->compiled_collation = FindSpecCollation(&b->spec, NULL);
	if (b->compiled_collation != NULL)
	{
		/* the collation document the stages compile again */
		bson_iter_t it;

		if (a->collation != NULL && a->collation_len > 5)
		{
			b->collation = a->collation;
			b->collation_len = a->collation_len;
		}
		else if (bson_iter_init_find(&it, coll->options, "collation"))
			bson_iter_document(&it, &b->collation_len, &b->collation);
	}
	return AggTranslate(b, &a->pipeline, coll, a->collname == NULL);
}

/* explain: the SQL and PostgreSQL's plan of it */
static void
AggExplain(CommandContext *ctx, AggArgs *a, AggBuild *b, bool have_query, bson_t *reply)
{
	bson_t		pg;
	bson_t		plan;
	StringInfoData sql;

	bson_append_utf8(reply, "explainVersion", -1, "1", -1);
	BSON_APPEND_DOCUMENT_BEGIN(reply, "postgres", &pg);
	if (have_query)
	{
		BSON_APPEND_UTF8(&pg, "sql", b->sql.data);
		initStringInfo(&sql);
		appendStringInfo(&sql, "EXPLAIN (COSTS OFF) %s", b->sql.data);
		BSON_APPEND_ARRAY_BEGIN(&pg, "plan", &plan);
		SPI_connect();
		{
			int			level = HintSettingsPush(b->spec.coll, b->spec.hint);

			if (SPI_execute_with_args(sql.data, b->nparams, b->types, b->values, NULL, false,
									  0) != SPI_OK_UTILITY)
				elog(ERROR, "EXPLAIN failed");
			HintSettingsPop(level);
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				char	   *line = SPI_getvalue(SPI_tuptable->vals[i],
												SPI_tuptable->tupdesc, 1);
				char		key[16];
				const char *keyp;

				bson_uint32_to_string((uint32_t) i, &keyp, key, sizeof(key));
				bson_append_utf8(&plan, keyp, -1, line, -1);
			}
		}
		SPI_finish();
		bson_append_array_end(&pg, &plan);
	}
	bson_append_document_end(reply, &pg);
	{
		bson_t		cmd;

		bson_init(&cmd);
		bson_concat(&cmd, &ctx->command);
		BSON_APPEND_DOCUMENT(reply, "command", &cmd);
		bson_destroy(&cmd);
	}
}

/*
 * aggregate: {aggregate: <collection> | 1, pipeline: [...], cursor: {batchSize},
 *			   explain, allowDiskUse, hint, collation, let, comment, maxTimeMS, ...}
 */
void
CmdAggregate(CommandContext *ctx, bson_t *reply)
{
	AggArgs		a;
	AggBuild	b;
	bool		have_query;

	AggParseCommand(ctx, &a);
	have_query = AggPrepare(ctx->database, &a, &b);
	if (a.explain)
	{
		AggExplain(ctx, &a, &b, have_query, reply);
		return;
	}
	if (b.write != NULL)
	{
		/* a writing command: refused on a standby as the others are */
		if (RecoveryInProgress())
			MongoRaise(10107, "not primary");
		AggWriteRun(b.write, have_query ? b.sql.data : NULL, b.nparams, b.types, b.values,
					b.spec.coll, b.spec.hint, a.collation, a.collation_len, a.bypass);
	}
	if (b.write != NULL || !have_query)
	{
		bson_t		cursor;
		bson_t		batch;

		BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
		BSON_APPEND_ARRAY_BEGIN(&cursor, "firstBatch", &batch);
		bson_append_array_end(&cursor, &batch);
		BSON_APPEND_INT64(&cursor, "id", 0);
		BSON_APPEND_UTF8(&cursor, "ns", psprintf("%s.%s", ctx->database,
												 a.collname != NULL ? a.collname : "$cmd.aggregate"));
		bson_append_document_end(reply, &cursor);
		return;
	}
	CursorQueryReply(ctx, a.collname != NULL ? a.collname : "$cmd.aggregate", b.sql.data,
					 b.nparams, b.types, b.values, b.spec.coll, b.spec.hint, a.batch_size,
					 false, reply);
}

/*
 * nosql.aggregate(coll text, pipeline bson) RETURNS SETOF bson
 *
 * The documents a pipeline (a JSON array) returns; coll is 'coll' or
 * 'db.coll' as for nosql.find.
 */
PG_FUNCTION_INFO_V1(nosql_aggregate);
Datum
nosql_aggregate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *qualified = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Bson	   *pipeline = PG_GETARG_BSON_P(1);
	char	   *database;
	char	   *name;
	AggArgs		a;
	AggBuild	b;
	bson_t		holder;
	Portal		portal;
	MemoryContext per_query;

	SplitCollectionName(qualified, &database, &name);
	ValidateDatabaseName(database);
	ValidateCollectionName(database, name);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	per_query = rsinfo->econtext->ecxt_per_query_memory;

	memset(&a, 0, sizeof(a));
	a.collname = name;
	if (!BsonValueIter(pipeline, &a.pipeline, &holder) || !BSON_ITER_HOLDS_ARRAY(&a.pipeline))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the pipeline must be an array")));
	if (!AggPrepare(database, &a, &b) && b.write == NULL)
		return (Datum) 0;
	if (b.write != NULL)
	{
		AggWriteRun(b.write, b.sql.data != NULL && b.sql.len > 0 ? b.sql.data : NULL,
					b.nparams, b.types, b.values, b.spec.coll, b.spec.hint, NULL, 0, false);
		return (Datum) 0;
	}

	SPI_connect();
	{
		int			level = HintSettingsPush(b.spec.coll, b.spec.hint);

		portal = SPI_cursor_open_with_args(NULL, b.sql.data, b.nparams, b.types, b.values,
										   NULL, true, CURSOR_OPT_NO_SCROLL);
		HintSettingsPop(level);
	}
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		row = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
											&isnull);
			MemoryContext old = MemoryContextSwitchTo(per_query);
			Datum		value = isnull ? (Datum) 0 :
				PointerGetDatum(PG_DETOAST_DATUM_COPY(row));

			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return (Datum) 0;
}

/*
 * nosql.bson_lookup_let(document bson, spec bson) RETURNS bson[]
 *
 * The documents the sub-pipeline of a $lookup with let variables returns
 * for one outer document: spec is {db, from, let, pipeline, local,
 * foreign, collation, now}.  The let values are evaluated against the
 * document and bound into the pipeline (agg_let.c), which runs as an
 * aggregate of its own (behind a $match of the localField/foreignField
 * equality, when the $lookup has both).
 */
PG_FUNCTION_INFO_V1(bson_lookup_let);
Datum
bson_lookup_let(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	Bson	   *spec = PG_GETARG_BSON_P(1);
	bson_t		s;
	bson_iter_t it;
	bson_iter_t let;
	bson_iter_t pipeline;
	const char *database = NULL;
	const char *local = NULL;
	const char *foreign = NULL;
	bson_t		vars;
	bson_t		stages;
	uint8_t    *stages_copy;
	bson_t		holder;
	AggArgs		a;
	AggBuild	b;
	Datum	   *elems = NULL;
	int			n = 0;
	int			cap = 0;
	MemoryContext caller = CurrentMemoryContext;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	memset(&a, 0, sizeof(a));
	bson_init_static(&s, BsonBytes(spec), BsonDocLen(spec));
	bson_iter_init(&it, &s);
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "db") == 0)
			database = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "from") == 0)
			a.collname = pstrdup(bson_iter_utf8(&it, NULL));
		else if (strcmp(k, "let") == 0)
			let = it;
		else if (strcmp(k, "pipeline") == 0)
			pipeline = it;
		else if (strcmp(k, "local") == 0)
			local = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "foreign") == 0)
			foreign = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "collation") == 0)
			bson_iter_document(&it, &a.collation_len, &a.collation);
		else if (strcmp(k, "now") == 0)
			a.now_ms = bson_iter_date_time(&it);
	}
	if (database == NULL)
		elog(ERROR, "bson_lookup_let: the spec has no database");

	/* the let values of this document */
	bson_init(&vars);
	AggLetEvaluate(&let, BsonBytes(doc), BsonDocLen(doc), a.now_ms, &vars);
	a.vars = &vars;

	/* the equality of localField and foreignField first, as a $match */
	bson_init(&stages);
	{
		bson_t		arr;
		uint32_t	k = 0;
		char		key[16];
		const char *keyp;
		bson_iter_t st;

		bson_append_array_begin(&stages, "p", 1, &arr);
		if (local != NULL)
		{
			Bson	   *filter = DatumGetBsonP(DirectFunctionCall3(bson_lookup_filter,
																   PointerGetDatum(doc),
																   CStringGetTextDatum(local),
																   CStringGetTextDatum(foreign)));
			bson_t		f;
			bson_t		m;

			bson_init_static(&f, BsonBytes(filter), BsonDocLen(filter));
			bson_uint32_to_string(k++, &keyp, key, sizeof(key));
			bson_append_document_begin(&arr, keyp, -1, &m);
			bson_append_document(&m, "$match", 6, &f);
			bson_append_document_end(&arr, &m);
		}
		bson_iter_recurse(&pipeline, &st);
		while (bson_iter_next(&st))
		{
			bson_uint32_to_string(k++, &keyp, key, sizeof(key));
			bson_append_iter(&arr, keyp, -1, &st);
		}
		bson_append_array_end(&stages, &arr);
	}
	stages_copy = palloc(stages.len);
	memcpy(stages_copy, bson_get_data(&stages), stages.len);
	bson_init_static(&holder, stages_copy, stages.len);
	bson_iter_init_find(&a.pipeline, &holder, "p");
	bson_destroy(&stages);

	if (AggPrepare(database, &a, &b))
	{
		SPI_connect();
		if (SPI_execute_plan(CommandPlan(b.sql.data, b.nparams, b.types, 0), b.values, NULL,
							 true, 0) != SPI_OK_SELECT)
			elog(ERROR, "$lookup sub-pipeline failed");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		row = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
											&isnull);
			MemoryContext old;

			if (isnull)
				continue;
			old = MemoryContextSwitchTo(caller);
			if (n == cap)
			{
				cap = cap == 0 ? 16 : cap * 2;
				elems = elems == NULL ? palloc(sizeof(Datum) * cap) :
					repalloc(elems, sizeof(Datum) * cap);
			}
			elems[n++] = PointerGetDatum(PG_DETOAST_DATUM_COPY(row));
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}
	bson_destroy(&vars);
	get_typlenbyvalalign(BsonTypeOid(), &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, BsonTypeOid(), typlen, typbyval, typalign));
}
