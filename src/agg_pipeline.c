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
#include "cdc.h"
#include "documents.h"
#include "expr.h"
#include "nosql.h"

#define DEFAULT_AGG_BATCH	101

/* {explain: {aggregate}}: no cursor needed; its verbosity runs the query */
static bool agg_wrapped_explain = false;
static bool agg_explain_analyze = false;

/* The stages MongoDB knows that are not implemented yet (238) */
static const char *const agg_later_stages[] = {
	"$changeStream", "$changeStreamSplitLargeEvent",
	"$listCatalog",
	"$listLocalSessions", "$listSampledQueries", "$listSearchIndexes", "$listSessions",
	"$score", "$scoreFusion", "$search", "$searchMeta",
	"$shardedDataDistribution",
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
	char	   *meta_sql;		/* the source is a metadata stage (agg_meta.c) */
	const char *collname;		/* the collection named (coll may be NULL) */
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
	bool		in_facet;		/* a $facet's sub-pipeline (or inside one) */
	bool		has_rows;		/* rows even without the collection ($facet...) */
	int			ncte;			/* CTEs named so far at this depth */
	bool		collectionless_root;	/* the command is {aggregate: 1} */
	/* metadata ($meta) */
	bool		meta_read;		/* some stage reads it */
	bool		meta_attached;	/* the documents carry it (AGG_META_FIELD) */
	int64		now_ms;			/* the command's $$NOW */
} AggBuild;

static bool AggTranslate(AggBuild *b, const bson_iter_t *pipeline, Collection *coll,
						 bool collectionless);
static Collection *AggResolveView(const char *database, Collection *view,
								  const bson_iter_t *user, bson_t *out,
								  const uint8_t **collation, uint32_t *collation_len);

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
				 strcmp(bson_iter_utf8(&meta, NULL), "searchScore") != 0 &&
				 strcmp(bson_iter_utf8(&meta, NULL), "vectorSearchScore") != 0 &&
				 strcmp(bson_iter_utf8(&meta, NULL), "score") != 0 &&
				 strcmp(bson_iter_utf8(&meta, NULL), "geoNearDistance") != 0))
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
	if (b->meta_attached)
		bson_append_bool(&desc, "m", 1, true);
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
	if (b->meta_sql != NULL)
	{
		appendStringInfoString(&b->sql, b->meta_sql);
		return;
	}
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

/*
 * Close everything open before a stage that needs the whole query so far:
 * the find-like part, the pending streaming stages, an open ORDER BY level.
 */
static void
AggSeal(AggBuild *b)
{
	AggEndFind(b);
	AggFlushChain(b);
	AggCloseLevel(b);
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
 * Documents leave their metadata behind (a $group makes new ones, and
 * what the pipeline returns has none).
 */
static void
AggDropMeta(AggBuild *b)
{
	StringInfoData next;

	if (!b->meta_attached)
		return;
	initStringInfo(&next);
	appendStringInfo(&next,
					 "SELECT nosql.bson_meta_strip(s.document) AS document FROM (%s) s",
					 b->sql.data);
	b->sql = next;
	b->meta_attached = false;
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

	AggSeal(b);
	AggDropMeta(b);
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

/* The first component of a dotted path */
static char *
AggTopField(const char *path)
{
	const char *dot = strchr(path, '.');

	return dot != NULL ? pnstrdup(path, dot - path) : pstrdup(path);
}

/*
 * The top-level fields an expression (or a $group specification) reads,
 * added to *fields; false when it may read the whole document ($$ROOT,
 * $$CURRENT, $getField, ...) or anything we cannot see.
 */
static bool
AggSpecFields(const bson_iter_t *value, List **fields)
{
	check_stack_depth();
	if (BSON_ITER_HOLDS_UTF8(value))
	{
		uint32_t	len;
		const char *s = bson_iter_utf8(value, &len);

		if (len < 2 || s[0] != '$' || strlen(s) != len)
			return true;
		if (s[1] == '$')
		{
			/* variables: only $$ROOT and $$CURRENT read the document */
			char	   *var = AggTopField(s + 2);

			if (strcmp(var, "ROOT") != 0 && strcmp(var, "CURRENT") != 0)
				return true;
			s = strchr(s, '.');
			if (s == NULL)
				return false;
		}
		*fields = lappend(*fields, AggTopField(s + 1));
		return true;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(value) || BSON_ITER_HOLDS_ARRAY(value))
	{
		bson_iter_t it;
		bool		document = BSON_ITER_HOLDS_DOCUMENT(value);

		bson_iter_recurse(value, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);

			if (document && key[0] == '$' &&
				(strcmp(key, "$getField") == 0 || strcmp(key, "$setField") == 0 ||
				 strcmp(key, "$unsetField") == 0 || strcmp(key, "$meta") == 0 ||
				 strcmp(key, "$function") == 0 || strcmp(key, "$accumulator") == 0))
				return false;
			if (document && strcmp(key, "sortBy") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
			{
				bson_iter_t f;

				/* $top/$bottom...: the sort's keys are paths */
				bson_iter_recurse(&it, &f);
				while (bson_iter_next(&f))
				{
					*fields = lappend(*fields, AggTopField(bson_iter_key(&f)));
				}
				continue;
			}
			if (!AggSpecFields(&it, fields))
				return false;
		}
	}
	return true;
}

/*
 * Before a $group that reads only some fields, documents coming out of a
 * trailing run of $unwind stages need only those fields: a projection put
 * in front of the $unwinds keeps each unwound copy small (MongoDB's
 * dependency analysis does the same).  This is what makes $unwind + $group
 * cost little more than the elements themselves.
 */
static void
AggTrimBeforeGroup(AggBuild *b, const bson_iter_t *spec)
{
	List	   *fields = NIL;
	bson_iter_t it;
	bson_iter_t stages;
	int			nstages = 0;
	int			first_unwind = -1;
	bson_t		chain;
	bson_t		project;
	bson_t		keep;
	bool		keep_id = false;
	int			n = 0;
	char		key[16];
	const char *keyp;
	ListCell   *lc;
	ListCell   *lc2;

	if (b->in_find || b->nchain == 0 || !AggSpecFields(spec, &fields))
		return;
	/* the trailing $unwinds, and the fields they need */
	bson_iter_init(&stages, &b->chain);
	while (bson_iter_next(&stages))
	{
		bson_iter_t st;

		bson_iter_recurse(&stages, &st);
		bson_iter_next(&st);
		if (strcmp(bson_iter_key(&st), "$unwind") != 0)
			first_unwind = -1;
		else
		{
			const char *path = NULL;

			if (first_unwind < 0)
				first_unwind = nstages;
			if (BSON_ITER_HOLDS_UTF8(&st))
				path = bson_iter_utf8(&st, NULL);
			else if (BSON_ITER_HOLDS_DOCUMENT(&st) && bson_iter_recurse(&st, &it) &&
					 bson_iter_find(&it, "path") && BSON_ITER_HOLDS_UTF8(&it))
				path = bson_iter_utf8(&it, NULL);
			if (path == NULL || path[0] != '$')
				return;
			fields = lappend(fields, AggTopField(path + 1));
		}
		nstages++;
	}
	if (first_unwind < 0)
		return;

	bson_init(&keep);
	foreach(lc, fields)
	{
		char	   *f = lfirst(lc);
		bool		seen = false;

		if (f[0] == '\0' || f[0] == '$')
		{
			bson_destroy(&keep);
			return;
		}
		if (strcmp(f, "_id") == 0)
			keep_id = true;
		foreach(lc2, fields)
		{
			if (lc2 == lc)
				break;
			if (strcmp(lfirst(lc2), f) == 0)
				seen = true;
		}
		if (!seen)
			BSON_APPEND_INT32(&keep, f, 1);
	}
	if (!keep_id)
		BSON_APPEND_INT32(&keep, "_id", 0);

	/* the chain again, the projection before its trailing $unwinds */
	bson_init(&chain);
	bson_iter_init(&stages, &b->chain);
	while (bson_iter_next(&stages))
	{
		bson_t		st;

		if (n == first_unwind)
		{
			bson_uint32_to_string(n++, &keyp, key, sizeof(key));
			bson_append_document_begin(&chain, keyp, -1, &project);
			BSON_APPEND_DOCUMENT(&project, "$project", &keep);
			bson_append_document_end(&chain, &project);
		}
		bson_uint32_to_string(n++, &keyp, key, sizeof(key));
		bson_append_document_begin(&chain, keyp, -1, &st);
		{
			bson_iter_t inner;

			bson_iter_recurse(&stages, &inner);
			while (bson_iter_next(&inner))
				bson_append_iter(&st, NULL, 0, &inner);
		}
		bson_append_document_end(&chain, &st);
	}
	bson_destroy(&keep);
	bson_reinit(&b->chain);
	bson_concat(&b->chain, &chain);
	bson_destroy(&chain);
	b->nchain = n;
}

static void
AggAddGroup(AggBuild *b, const bson_iter_t *spec)
{
	AggGroupSpec g;

	AggGroupDescribe(spec, b->compiled_collation != NULL ? b->collation : NULL,
					 b->collation_len, &g);
	AggTrimBeforeGroup(b, spec);
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

static void AggReserve(AggBuild *b, int n);

/* AggParamFn over an AggBuild */
static int
AggWindowParam(void *arg, Bson *value)
{
	AggBuild   *b = (AggBuild *) arg;

	AggReserve(b, 1);
	return AggParamDatum(b, value);
}

/* $setWindowFields: window functions over the query so far (agg_window.c) */
static void
AggAddWindow(AggBuild *b, const bson_iter_t *spec, bool input_order)
{
	StringInfoData next;

	AggSeal(b);
	initStringInfo(&next);
	AggWindowTranslate(spec, b->compiled_collation != NULL ? b->collation : NULL,
					   b->collation_len, input_order, AggWindowParam, b, b->sql.data, &next);
	b->sql = next;
}

static void AggAddStage(AggBuild *b, const char *name, const bson_iter_t *spec, bool first);

/* $densify: the gaps filled by a set-returning function (agg_densify.c) */
static void
AggAddDensify(AggBuild *b, const bson_iter_t *spec)
{
	StringInfoData next;

	AggSeal(b);
	initStringInfo(&next);
	/* an explicit range has rows even without the collection */
	if (AggDensifyTranslate(spec, AggWindowParam, b, b->sql.data, &next))
		b->has_rows = true;
	b->sql = next;
}

/*
 * $fill: a $setWindowFields of $locf functions for its "locf" fields (in
 * the input order when it has no sortBy), then an $addFields of $ifNull
 * for its "value" fields.
 */
static void
AggAddFill(AggBuild *b, const bson_iter_t *spec)
{
	bson_t		window;
	bson_t		set;
	bool		have_set;
	bson_t		holder;
	bson_iter_t it;

	if (AggFillDescribe(spec, &window, &set, &have_set))
	{
		bson_init(&holder);
		bson_append_document(&holder, "w", 1, &window);
		bson_iter_init_find(&it, &holder, "w");
		AggAddWindow(b, &it, true);
		bson_destroy(&window);
	}
	if (have_set)
	{
		/* the stage's specification outlives this call in a datum */
		Bson	   *copy;
		bson_t		c;

		bson_init(&holder);
		bson_append_document(&holder, "s", 1, &set);
		copy = BsonDatumFromBson(&holder);
		bson_init_static(&c, BsonBytes(copy), BsonDocLen(copy));
		bson_iter_init_find(&it, &c, "s");
		AggAddStage(b, "$addFields", &it, false);
		bson_destroy(&set);
	}
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
	AggSeal(b);
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

/* MongoDB's limit on the nesting of sub-pipelines (232) */
#define AGG_MAX_SUB_PIPELINE_DEPTH	20

/*
 * Translate a sub-pipeline ($lookup, $facet, $unionWith) over coll (NULL:
 * missing) into sql, its parameters added to b's; source_sql, when not
 * NULL, is the query of the documents it reads instead of the collection;
 * from names the collection (for the metadata stages).  False when there
 * is nothing to read (a missing collection).
 */
static bool
AggSubPipeline(AggBuild *b, const bson_iter_t *pipeline, Collection *coll, const char *from,
			   bool collectionless, const char *source_sql, bool in_facet, StringInfo sql)
{
	AggBuild	sub;

	if (b->depth + 1 > AGG_MAX_SUB_PIPELINE_DEPTH)
		MongoRaise(232, "Maximum number of nested sub-pipelines exceeded. Limit is %d",
				   AGG_MAX_SUB_PIPELINE_DEPTH);
	memset(&sub, 0, sizeof(sub));
	FindSpecInit(&sub.spec);
	sub.database = b->database;
	sub.collname = from;
	sub.depth = b->depth + 1;
	sub.source_sql = source_sql;
	sub.in_facet = b->in_facet || in_facet;
	sub.collectionless_root = b->collectionless_root;
	sub.spec.collation = b->spec.collation;
	sub.spec.collation_len = b->spec.collation_len;
	sub.spec.coll = coll;
	sub.collation = b->collation;
	sub.collation_len = b->collation_len;
	sub.compiled_collation = b->compiled_collation;
	sub.nparams = b->nparams;
	sub.now_ms = b->now_ms;
	if (!AggTranslate(&sub, pipeline, coll, collectionless))
		return false;
	AggReserve(b, sub.nparams - b->nparams);
	for (int i = b->nparams; i < sub.nparams; i++)
	{
		b->values[i] = sub.values[i];
		b->types[i] = sub.types[i];
	}
	b->nparams = sub.nparams;
	appendStringInfoString(sql, sub.sql.data);
	return true;
}

/*
 * Translate a $lookup's pipeline over coll (NULL: missing) into sql, the
 * array of its documents.
 */
static void
AggLookupSubquery(AggBuild *b, const bson_iter_t *pipeline, Collection *coll,
				  const char *from, bool collectionless, const char *source_sql,
				  StringInfo sql)
{
	StringInfoData q;

	initStringInfo(&q);
	if (!AggSubPipeline(b, pipeline, coll, from, collectionless, source_sql, false, &q))
	{
		appendStringInfoString(sql, "'{}'::nosql.bson[]");
		return;
	}
	appendStringInfo(sql, "ARRAY(SELECT q.document FROM (%s) q)", q.data);
}

/*
 * Check the sub-pipeline of a $lookup with let variables once, at
 * translation (its stages' shapes and expressions): translated aside with
 * the variables bound to null.
 */
static void
AggLookupCheckPipeline(AggBuild *b, const bson_iter_t *let, const bson_iter_t *pipeline,
					   Collection *coll, const char *from, bool collectionless)
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
	if (b->depth + 1 > AGG_MAX_SUB_PIPELINE_DEPTH)
		MongoRaise(232, "Maximum number of nested sub-pipelines exceeded. Limit is %d",
				   AGG_MAX_SUB_PIPELINE_DEPTH);
	memset(&sub, 0, sizeof(sub));
	FindSpecInit(&sub.spec);
	sub.database = b->database;
	sub.collname = from;
	sub.depth = b->depth + 1;
	sub.in_facet = b->in_facet;
	sub.collectionless_root = b->collectionless_root;
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
 * A view's collation (vcoll, NULL: none, which is simple) must be the one
 * the command reads it with (given, NULL: simple): else 167.
 */
static void
AggViewCollationCheck(const uint8_t *given, uint32_t given_len, const uint8_t *vcoll,
					  uint32_t vcoll_len)
{
	bool		given_simple = given == NULL || CompileCollation(given, given_len) == NULL;
	bool		own_simple = vcoll == NULL || CompileCollation(vcoll, vcoll_len) == NULL;

	if (given_simple != own_simple ||
		(!given_simple && (given_len != vcoll_len || memcmp(given, vcoll, vcoll_len) != 0)))
		MongoRaise(MONGO_OPTION_NOT_SUPPORTED_ON_VIEW,
				   "Cannot override a view's default collation");
}

/*
 * A view read by a sub-pipeline ($lookup, $unionWith): *pipeline becomes
 * the view's stages followed by its own (or none), over the collection
 * underneath, which is returned.  The view's collation must be the
 * command's (167), as MongoDB requires of a foreign view.
 */
static Collection *
AggSubView(AggBuild *b, Collection *view, bson_iter_t *pipeline, bool has_pipeline)
{
	bson_t	   *combined = bson_new();
	bson_iter_t it;
	const uint8_t *vcoll = NULL;
	uint32_t	vcoll_len = 0;
	const uint8_t *c = NULL;
	uint32_t	clen = 0;
	Collection *base;

	if (bson_iter_init_find(&it, view->options, "collation") && BSON_ITER_HOLDS_DOCUMENT(&it))
		bson_iter_document(&it, &vcoll_len, &vcoll);
	AggViewCollationCheck(b->compiled_collation != NULL ? b->collation : NULL,
						  b->collation_len, vcoll, vcoll_len);
	base = AggResolveView(b->database, view, has_pipeline ? pipeline : NULL, combined, &c, &clen);
	bson_iter_init_find(pipeline, combined, "p");
	return base;
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
	char	   *view_sql = NULL;	/* a view's documents, or NULL */

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
		{
			/* the view's documents: its stages translated over its collection */
			bson_iter_t vp;
			StringInfoData vsql;

			coll = AggSubView(b, coll, &vp, false);
			initStringInfo(&vsql);
			view_sql = AggSubPipeline(b, &vp, coll, from, false, NULL, false, &vsql) ?
				psprintf("(SELECT v.document FROM (%s) v)", vsql.data) :
				"(SELECT NULL::nosql.bson AS document WHERE false)";
		}
	}
	AggSeal(b);
	alias = psprintf("lk%d", b->depth);

	if (local != NULL && coll != NULL)
	{
		char	   *filter = psprintf("nosql.bson_lookup_filter(%s.document, %s, %s)", alias,
									  quote_literal_cstr(local), quote_literal_cstr(foreign));
		const char *key = b->compiled_collation == NULL && view_sql == NULL ?
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
		AggLookupCheckPipeline(b, &let, &pipeline, coll, from, collectionless);
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
				psprintf("SELECT document FROM %s lkv WHERE %s",
						 view_sql != NULL ? view_sql : coll->qualified, cond) :
				"SELECT NULL::nosql.bson AS document WHERE false";
		else if (view_sql != NULL)
			source = psprintf("SELECT document FROM %s lkv", view_sql);
		AggLookupSubquery(b, &pipeline, coll, from, collectionless, source, &matches);
	}
	else if (coll == NULL)
		appendStringInfoString(&matches, "'{}'::nosql.bson[]");
	else
		appendStringInfo(&matches, "ARRAY(SELECT document FROM %s lkv WHERE %s)",
						 view_sql != NULL ? view_sql : coll->qualified, cond);

	initStringInfo(&next);
	appendStringInfo(&next,
					 "SELECT nosql.bson_lookup_set(%s.document, %s, %s) AS document FROM (%s) %s",
					 alias, quote_literal_cstr(as), matches.data, b->sql.data, alias);
	b->sql = next;	/* room for the parameters of the stages after it */
	AggReserve(b, FIND_MAX_PARAMS);
}

/*
 * $geoNear: the query the pipeline starts from (agg_geonear.c); only empty
 * $match stages may come before it.
 */
static void
AggAddGeoNear(AggBuild *b, const bson_iter_t *spec)
{
	bson_iter_t it;

	if (b->source_sql != NULL)
		MongoRaise(MONGO_NOT_IMPLEMENTED,
				   "$geoNear in a $lookup pipeline with localField and foreignField is not supported yet");
	if (!b->in_find || b->documents || b->spec.sort != NULL || b->spec.skip != 0 ||
		b->spec.limit != 0)
		MongoRaise(40603, "$geoNear was not the first stage in the pipeline.");
	bson_iter_init(&it, &b->filters);
	while (bson_iter_next(&it))
	{
		bson_iter_t f;

		if (bson_iter_recurse(&it, &f) && bson_iter_next(&f))
			MongoRaise(40603, "$geoNear was not the first stage in the pipeline.");
	}
	AggReserve(b, FIND_MAX_PARAMS + 2);
	b->in_find = false;
	initStringInfo(&b->sql);
	AggGeoNearTranslate(spec, &b->spec, b->meta_read, &b->sql, b->values, b->types,
						&b->nparams);
	b->meta_attached = b->meta_read;
}

/*
 * The stages of a $rankFusion input pipeline to translate: without a final
 * $sort (checked here), since the ranking sorts by its keys anyway.  The
 * array is *holder's or a copy that lives as long as the query.
 */
static const bson_iter_t *
AggRankFusionInput(const bson_iter_t *pipeline, bson_iter_t *holder)
{
	bson_iter_t it;
	int			n = 0;
	bool		meta;

	bson_iter_recurse(pipeline, &it);
	while (bson_iter_next(&it))
		n++;
	*holder = *pipeline;
	bson_iter_recurse(pipeline, &it);
	for (int i = 0; bson_iter_next(&it); i++)
	{
		bson_iter_t stage;

		bson_iter_recurse(&it, &stage);
		bson_iter_next(&stage);
		if (i == n - 1 && strcmp(bson_iter_key(&stage), "$sort") == 0)
		{
			bson_t		copy;
			bson_t		arr;
			bson_iter_t each;
			Bson	   *kept;
			bson_t		view;

			AggSortCheck(&stage, &meta);
			if (meta)
				MongoRaise(MONGO_NOT_IMPLEMENTED, "$meta sorts are not supported yet");
			bson_init(&copy);
			bson_append_array_begin(&copy, "p", 1, &arr);
			bson_iter_recurse(pipeline, &each);
			for (int k = 0; k < n - 1 && bson_iter_next(&each); k++)
				bson_append_iter(&arr, NULL, 0, &each);
			bson_append_array_end(&copy, &arr);
			kept = BsonDatumFromBson(&copy);
			bson_destroy(&copy);
			bson_init_static(&view, BsonBytes(kept), BsonDocLen(kept));
			bson_iter_init_find(holder, &view, "p");
		}
	}
	return holder;
}

/*
 * $rankFusion: each input pipeline translated as a $lookup's sub-pipeline
 * is, then ranked and combined (agg_rankfusion.c).
 */
static void
AggAddRankFusion(AggBuild *b, const bson_iter_t *spec, bool first)
{
	AggRankFusion rf;
	bson_iter_t it;
	bson_iter_t input;
	char	  **subsql;
	int			collation_param = 0;
	bool		have_query = true;

	AggRankFusionParse(spec, &rf);
	if (!first)
		MongoRaise(10170100, "$rankFusion is only valid as the first stage in a pipeline");
	if (b->spec.coll != NULL && bson_iter_init_find(&it, b->spec.coll->options, "timeseries"))
		MongoRaise(10557301, "$rankFusion is unsupported on timeseries collections");

	/* the input pipelines, in the order of rf's names */
	subsql = palloc0(sizeof(char *) * Max(rf.npipelines, 1));
	bson_iter_recurse(spec, &it);
	bson_iter_find(&it, "input");
	bson_iter_recurse(&it, &it);
	bson_iter_find(&it, "pipelines");
	bson_iter_recurse(&it, &it);
	for (int i = 0; bson_iter_next(&it); i++)
	{
		StringInfoData q;

		/* over the collection, or the documents a $facet reads */
		initStringInfo(&q);
		if (!AggSubPipeline(b, AggRankFusionInput(&it, &input), b->spec.coll, b->collname,
							false, b->source_sql, false, &q))
			have_query = false;
		subsql[i] = q.data;
	}
	b->in_find = false;
	initStringInfo(&b->sql);
	if (!have_query)
	{
		/* no collection: nothing to rank */
		appendStringInfoString(&b->sql, "SELECT NULL::nosql.bson AS document WHERE false");
		return;
	}
	AggReserve(b, FIND_MAX_PARAMS + 1);
	if (b->compiled_collation != NULL)
	{
		bson_t		c;

		bson_init_static(&c, b->collation, b->collation_len);
		collation_param = AggParam(b, &c);
	}
	AggRankFusionSql(&rf, subsql, collation_param, b->meta_read, &b->sql);
	b->meta_attached = b->meta_read;
}

/* Is name a stage that writes ($out, $merge)? */
static bool
AggStageWrites(const char *name)
{
	return strcmp(name, "$out") == 0 || strcmp(name, "$merge") == 0;
}

/* Is name a stage of MongoDB's (run here or not yet)? */
/*
 * AggStageName
 *		The name of a pipeline element's stage, checked as MongoDB checks
 *		it: an object of exactly one field; *spec is set on that field.
 */
const char *
AggStageName(const bson_iter_t *element, bson_iter_t *spec)
{
	bson_iter_t stage;

	if (!BSON_ITER_HOLDS_DOCUMENT(element))
		MongoRaise(AGG_ERR_STAGE_NOT_OBJECT,
				   "Each element of the 'pipeline' array must be an object");
	bson_iter_recurse(element, &stage);
	if (!bson_iter_next(&stage))
		MongoRaise(AGG_ERR_STAGE_ONE_FIELD,
				   "A pipeline stage specification object must contain exactly one field.");
	*spec = stage;
	if (bson_iter_next(&stage))
		MongoRaise(AGG_ERR_STAGE_ONE_FIELD,
				   "A pipeline stage specification object must contain exactly one field.");
	return bson_iter_key(spec);
}

bool
AggStageKnown(const char *name)
{
	return AggStageIsStreaming(name) || AggStageIsLater(name) ||
		strcmp(name, "$sort") == 0 || strcmp(name, "$skip") == 0 ||
		strcmp(name, "$limit") == 0 || strcmp(name, "$count") == 0 ||
		strcmp(name, "$documents") == 0 || strcmp(name, "$group") == 0 ||
		strcmp(name, "$sortByCount") == 0 || strcmp(name, "$lookup") == 0 ||
		AggStageWrites(name) || strcmp(name, "$bucket") == 0 ||
		strcmp(name, "$sample") == 0 || strcmp(name, "$facet") == 0 ||
		strcmp(name, "$bucketAuto") == 0 || strcmp(name, "$unionWith") == 0 ||
		strcmp(name, "$graphLookup") == 0 || strcmp(name, "$setWindowFields") == 0 ||
		strcmp(name, "$fill") == 0 || AggMetaStage(name) ||
		strcmp(name, "$geoNear") == 0 || strcmp(name, "$rankFusion") == 0 ||
		strcmp(name, "$densify") == 0;
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

/* The stages a $facet cannot hold at any depth (40600) */
static const char *const agg_facet_forbidden[] = {
	"$collStats", "$geoNear", "$indexStats", "$out", "$merge", "$planCacheStats",
	"$listLocalSessions", "$querySettings", "$listClusterCatalog", "$queryStats",
	"$currentOp", "$listCatalog", "$facet", "$changeStream",
	"$changeStreamSplitLargeEvent", "$search", "$searchMeta", "$vectorSearch",
	"$listSearchIndexes", "$listSampledQueries", "$shardedDataDistribution", "$documents",
	NULL
};

/*
 * Refuse the stages a $facet cannot hold in a sub-pipeline, including the
 * pipelines of the $lookup and $unionWith stages in it.
 */
static void
AggFacetCheckPipeline(const bson_iter_t *pipeline, bool collectionless)
{
	bson_iter_t it;

	check_stack_depth();
	if (!bson_iter_recurse(pipeline, &it))
		return;
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;
		const char *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &stage) ||
			!bson_iter_next(&stage))
			continue;
		name = bson_iter_key(&stage);
		for (int i = 0; agg_facet_forbidden[i] != NULL; i++)
			if (strcmp(agg_facet_forbidden[i], name) == 0)
			{
				/* with a collection, MongoDB refuses it before the $facet */
				if (strcmp(name, "$listClusterCatalog") == 0 && !collectionless)
					MongoRaise(9621301, "$listClusterCatalog must be run against the 'admin' database with {aggregate: 1}");
				MongoRaise(40600, "%s is not allowed to be used within a $facet stage", name);
			}
		if ((strcmp(name, "$lookup") == 0 || strcmp(name, "$unionWith") == 0) &&
			BSON_ITER_HOLDS_DOCUMENT(&stage))
		{
			bson_iter_t sub;

			bson_iter_recurse(&stage, &sub);
			if (bson_iter_find(&sub, "pipeline") && BSON_ITER_HOLDS_ARRAY(&sub))
				AggFacetCheckPipeline(&sub, collectionless);
		}
	}
}

/* Check a field name as MongoDB's FieldPath does for a $facet output */
static void
AggFacetCheckName(const char *name, uint32_t len)
{
	if (len == 0)
		MongoRaise(15998, "FieldPath field names may not be empty strings.");
	if (name[0] == '$')
		MongoRaise(16410, "FieldPath field names may not start with '$'. Consider using $getField or $setField.");
	if (strlen(name) != len)
		MongoRaise(16411, "FieldPath field names may not contain '\\0'.");
	if (strchr(name, '.') != NULL)
		MongoRaise(16412, "FieldPath field names may not contain '.'.");
}

/*
 * Check a $facet specification's shape and the stages of its
 * sub-pipelines (before the rest of the pipeline, as MongoDB parses it).
 */
static void
AggFacetCheck(const bson_iter_t *spec, bool collectionless)
{
	bson_iter_t it;
	bool		any = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(40169, "the $facet specification must be a non-empty object, but found: %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		bson_iter_t el;

		any = true;
		AggFacetCheckName(bson_iter_key(&it), bson_iter_key_len(&it));
		if (!BSON_ITER_HOLDS_ARRAY(&it))
			MongoRaise(40170, "arguments to $facet must be arrays, %s is type %s",
					   bson_iter_key(&it), BsonTypeName(bson_iter_type(&it)));
		bson_iter_recurse(&it, &el);
		while (bson_iter_next(&el))
			if (!BSON_ITER_HOLDS_DOCUMENT(&el))
				MongoRaise(40171, "elements of arrays in $facet spec must be non-empty objects, %s argument contained an element of type %s",
						   bson_iter_key(&it), BsonTypeName(bson_iter_type(&el)));
	}
	if (!any)
		MongoRaise(40169, "the $facet specification must be a non-empty object, but found: {}");
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
		AggFacetCheckPipeline(&it, collectionless);
}

/*
 * $facet: {name: [stages], ...}.  The input is a materialized CTE that
 * every sub-pipeline reads; each becomes an array (agg_facet.c).
 */
static void
AggAddFacet(AggBuild *b, const bson_iter_t *spec)
{
	bson_iter_t it;
	bson_t		names;
	bson_t		wrap;
	StringInfoData facets;
	StringInfoData next;
	char	   *cte;
	char	   *source;
	int			n = 0;
	int			names_param;

	AggSeal(b);
	cte = psprintf("facet%d_%d", b->depth, b->ncte++);
	source = psprintf("SELECT document FROM %s", cte);
	bson_init(&names);
	initStringInfo(&facets);
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		StringInfoData sub;
		char		key[16];
		const char *keyp;

		bson_uint32_to_string(n, &keyp, key, sizeof(key));
		bson_append_utf8(&names, keyp, -1, bson_iter_key(&it), -1);
		initStringInfo(&sub);
		if (!AggSubPipeline(b, &it, NULL, NULL, false, source, true, &sub))
			elog(ERROR, "a $facet sub-pipeline without a query");
		appendStringInfo(&facets, "%s(SELECT nosql.bson_facet_array(q.document) FROM (%s) q)",
						 n > 0 ? ", " : "", sub.data);
		n++;
	}
	bson_init(&wrap);
	bson_append_array(&wrap, "f", 1, &names);
	AggReserve(b, 1);
	names_param = AggParam(b, &wrap);
	bson_destroy(&wrap);
	bson_destroy(&names);
	initStringInfo(&next);
	appendStringInfo(&next,
					 "WITH %s AS MATERIALIZED (%s) SELECT nosql.bson_facet_result($%d, ARRAY[%s]::nosql.bson[]) AS document",
					 cte, b->sql.data, names_param, facets.data);
	b->sql = next;
	b->has_rows = true;
	AggReserve(b, FIND_MAX_PARAMS);
}

/*
 * $unionWith: "coll" or {coll, pipeline}: the documents so far, then those
 * of the pipeline over coll (none when it does not exist), as UNION ALL.
 */
static void
AggAddUnionWith(AggBuild *b, const bson_iter_t *spec)
{
	const char *from = NULL;
	bson_iter_t pipeline;
	bool		has_pipeline = false;
	bool		collectionless = false;
	Collection *coll = NULL;
	StringInfoData sub;
	StringInfoData next;
	bson_t		empty;
	bson_iter_t empty_it;

	if (BSON_ITER_HOLDS_UTF8(spec))
		from = bson_iter_utf8(spec, NULL);
	else if (BSON_ITER_HOLDS_DOCUMENT(spec))
	{
		bson_iter_t it;

		bson_iter_recurse(spec, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);

			if (strcmp(key, "coll") == 0)
			{
				if (!BSON_ITER_HOLDS_UTF8(&it))
					MongoRaise(MONGO_TYPE_MISMATCH,
							   "BSON field '$unionWith.coll' is the wrong type '%s', expected type 'string'",
							   BsonTypeName(bson_iter_type(&it)));
				from = bson_iter_utf8(&it, NULL);
			}
			else if (strcmp(key, "pipeline") == 0)
			{
				if (!BSON_ITER_HOLDS_ARRAY(&it))
					MongoRaise(MONGO_TYPE_MISMATCH,
							   "BSON field '$unionWith.pipeline' is the wrong type '%s', expected type 'array'",
							   BsonTypeName(bson_iter_type(&it)));
				pipeline = it;
				has_pipeline = true;
			}
			else
				MongoRaise(40415, "BSON field '$unionWith.%s' is an unknown field.", key);
		}
		if (from == NULL)
		{
			bson_iter_t first;

			/* without coll, the pipeline must start with $documents */
			if (has_pipeline && bson_iter_recurse(&pipeline, &first) && bson_iter_next(&first) &&
				BSON_ITER_HOLDS_DOCUMENT(&first) && bson_iter_recurse(&first, &first) &&
				bson_iter_next(&first) && strcmp(bson_iter_key(&first), "$documents") == 0)
				collectionless = true;
			else
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "$unionWith stage without explicit collection must have a pipeline with $documents as first stage");
		}
	}
	else
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "the $unionWith stage specification must be an object or string, but found %s",
				   BsonTypeName(bson_iter_type(spec)));
	if (from != NULL)
	{
		if (from[0] == '\0')
			MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid $unionWith namespace: '%s'", from);
		coll = CollectionLookup(b->database, from);
		if (coll != NULL && coll->is_view)
		{
			coll = AggSubView(b, coll, &pipeline, has_pipeline);
			has_pipeline = true;
		}
	}
	if (!has_pipeline)
	{
		bson_init(&empty);
		{
			bson_t		arr;

			bson_append_array_begin(&empty, "p", 1, &arr);
			bson_append_array_end(&empty, &arr);
		}
		bson_iter_init_find(&empty_it, &empty, "p");
		pipeline = empty_it;
	}
	AggSeal(b);
	initStringInfo(&sub);
	if (!AggSubPipeline(b, &pipeline, coll, from, collectionless, NULL, false, &sub))
	{
		/* a missing collection adds nothing */
		b->has_rows = true;
		return;
	}
	initStringInfo(&next);
	appendStringInfo(&next,
					 "SELECT s.document FROM (%s) s UNION ALL SELECT q.document FROM (%s) q",
					 b->sql.data, sub.data);
	b->sql = next;
	b->has_rows = true;
	AggReserve(b, FIND_MAX_PARAMS);
}

/* A string argument of $graphLookup (40103) */
static const char *
AggGraphString(const bson_iter_t *it, const char *field)
{
	if (!BSON_ITER_HOLDS_UTF8(it))
		MongoRaise(40103, "expected string as argument for %s, found: %s", field,
				   BsonTypeName(bson_iter_type(it)));
	return bson_iter_utf8(it, NULL);
}

/* The condition that a foreign document f matches a filter expression */
static char *
AggGraphMatch(AggBuild *b, const char *filter)
{
	if (b->compiled_collation != NULL)
	{
		bson_t		c;

		AggReserve(b, 1);
		bson_init_static(&c, b->collation, b->collation_len);
		return psprintf("nosql.bson_matches(f.document, %s, $%d)", filter, AggParam(b, &c));
	}
	return psprintf("f.document OPERATOR(nosql.@@) %s", filter);
}

/*
 * The condition that a foreign document f is connected by a filter (a
 * {connectToField: {$in: values}}) whose values are also the index keys
 * keys: through an ordered index on connectToField when there is one, as
 * $lookup's (agg_lookup.c), else the filter itself.
 */
static char *
AggGraphCond(AggBuild *b, const char *key, const char *filter, const char *keys)
{
	if (key == NULL)
		return AggGraphMatch(b, filter);
	if (strcmp(key, "_id") == 0)
		return psprintf("f._id OPERATOR(nosql.=) ANY (%s)", keys);
	return psprintf("(%s OPERATOR(nosql.=) ANY (%s) OR (%s IS NULL AND %s))",
					key, keys, key, AggGraphMatch(b, filter));
}

/*
 * $graphLookup: {from, startWith, connectFromField, connectToField, as,
 * maxDepth, depthField, restrictSearchWithMatch}.  The documents reached
 * from each input document come from a recursive CTE over the foreign
 * table, correlated to it: without depths a UNION, whose duplicate
 * elimination is the set of documents already visited; with maxDepth or
 * depthField a UNION ALL carrying the depth, each path stopping at a
 * document it has visited (CYCLE), the smallest depth kept per document.
 */
static void
AggAddGraphLookup(AggBuild *b, const bson_iter_t *spec)
{
	bson_iter_t it;
	const char *from = NULL;
	const char *as = NULL;
	const char *conn_from = NULL;
	const char *conn_to = NULL;
	const char *depth_field = NULL;
	bool		have_start = false;
	bson_iter_t start;
	bool		have_max = false;
	int64		max_depth = 0;
	bool		have_restrict = false;
	bson_iter_t restrict_it;
	Collection *coll = NULL;
	StringInfoData graph;
	StringInfoData next;
	char	   *restrict_cond = "";
	char	   *from_lit;
	char	   *view_src = NULL;	/* a view's documents, or NULL */
	char	   *to_lit;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_FAILED_TO_PARSE, "the $graphLookup stage specification must be an object, but found %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "from") == 0)
		{
			from = AggGraphString(&it, key);
			if (from[0] == '\0')
				MongoRaise(MONGO_INVALID_NAMESPACE, "invalid $graphLookup namespace: '%s'", from);
		}
		else if (strcmp(key, "as") == 0)
			as = AggGraphString(&it, key);
		else if (strcmp(key, "connectFromField") == 0)
			conn_from = AggGraphString(&it, key);
		else if (strcmp(key, "connectToField") == 0)
			conn_to = AggGraphString(&it, key);
		else if (strcmp(key, "depthField") == 0)
			depth_field = AggGraphString(&it, key);
		else if (strcmp(key, "startWith") == 0)
		{
			start = it;
			have_start = true;
		}
		else if (strcmp(key, "maxDepth") == 0)
		{
			double		d = 0;

			if (!BsonIterIsNumber(&it))
				MongoRaise(40100, "maxDepth must be numeric, found type: %s",
						   BsonTypeName(bson_iter_type(&it)));
			(void) BsonIterAsDouble(&it, &d);
			if (d < 0)
				MongoRaise(40101, "maxDepth requires a nonnegative argument, found: %g", d);
			if (isnan(d) || d != floor(d) || d >= 9.2233720368547758e18)
				MongoRaise(40102, "maxDepth could not be represented as a long long: %g", d);
			max_depth = (int64) d;
			have_max = true;
		}
		else if (strcmp(key, "restrictSearchWithMatch") == 0)
		{
			const uint8_t *data;
			uint32_t	len;

			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(40185, "restrictSearchWithMatch must be an object, found %s",
						   BsonTypeName(bson_iter_type(&it)));
			bson_iter_document(&it, &len, &data);
			(void) CompileFilter(data, len);
			restrict_it = it;
			have_restrict = true;
		}
		else
			MongoRaise(40104, "Unknown argument to $graphLookup: %s", key);
	}
	if (from == NULL || as == NULL || !have_start || conn_from == NULL || conn_to == NULL)
		MongoRaise(40105, "from, as, startWith, connectFromField and connectToField must all be specified.");
	AggFieldPathCheck(as, (uint32_t) strlen(as));
	AggFieldPathCheck(conn_from, (uint32_t) strlen(conn_from));
	AggFieldPathCheck(conn_to, (uint32_t) strlen(conn_to));
	if (depth_field != NULL)
		AggFieldPathCheck(depth_field, (uint32_t) strlen(depth_field));
	{
		AggExprScope *scope = AggExprScopeNew();
		BsonQueryError error = {0};

		if (AggExprParse(&start, scope, &error) == NULL)
			MongoRaise(error.code, "%s", error.message ? error.message : "invalid expression");
		AggExprScopeFree(scope);
	}
	coll = CollectionLookup(b->database, from);
	if (coll != NULL && coll->is_view)
	{
		/* a view's documents, with their _id as the table's column */
		bson_iter_t vp;
		StringInfoData vsql;

		coll = AggSubView(b, coll, &vp, false);
		initStringInfo(&vsql);
		view_src = AggSubPipeline(b, &vp, coll, from, false, NULL, false, &vsql) ?
			psprintf("(SELECT nosql.bson_index_key(v.document, '_id') AS _id, v.document FROM (%s) v)",
					 vsql.data) :
			"(SELECT NULL::nosql.bson AS _id, NULL::nosql.bson AS document WHERE false)";
	}

	AggSeal(b);
	AggReserve(b, 4);
	from_lit = quote_literal_cstr(conn_from);
	to_lit = quote_literal_cstr(conn_to);
	initStringInfo(&graph);
	if (coll == NULL)
		appendStringInfoString(&graph, "'{}'::nosql.bson[]");
	else
	{
		bson_t		s;
		char	   *start_doc;
		const char *key = b->compiled_collation == NULL && view_src == NULL ?
			IndexLookupKeyExpr(coll, conn_to) : NULL;
		bool		depths = have_max || depth_field != NULL;
		const char *src = view_src != NULL ? view_src : coll->qualified;
		char	   *step;
		char	   *columns;

		bson_init(&s);
		bson_append_iter(&s, "e", 1, &start);
		bson_append_bool(&s, "u", 1, true);
		start_doc = psprintf("nosql.bson_graph_start(nosql.bson_group_key(gl.document, $%d))",
							 AggParam(b, &s));
		bson_destroy(&s);
		if (have_restrict)
		{
			bson_t		r;
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&restrict_it, &len, &data);
			bson_init_static(&r, data, len);
			restrict_cond = psprintf(" AND %s", AggGraphMatch(b, psprintf("$%d", AggParam(b, &r))));
		}
		/* what a found document leads to: its filter, and its index keys */
		step = psprintf("nosql.bson_graph_filter(f.document, %s, %s)%s", from_lit, to_lit,
						key != NULL ?
						psprintf(", nosql.bson_lookup_keys(f.document, %s)", from_lit) : "");
		columns = psprintf("gid, next%s%s", key != NULL ? ", keys" : "", depths ? ", depth" : "");
		appendStringInfo(&graph,
						 "ARRAY(WITH RECURSIVE g(%s) AS (SELECT f._id, %s%s FROM %s f WHERE %s%s",
						 columns, step, depths ? ", 0::bigint" : "", src,
						 AggGraphCond(b, key,
									  psprintf("nosql.bson_lookup_filter(%s, 'v', %s)", start_doc, to_lit),
									  psprintf("nosql.bson_lookup_keys(%s, 'v')", start_doc)),
						 restrict_cond);
		appendStringInfo(&graph,
						 " UNION%s SELECT f._id, %s%s FROM g, %s f WHERE g.next IS NOT NULL AND ",
						 depths ? " ALL" : "", step, depths ? ", g.depth + 1" : "", src);
		if (have_max)
			appendStringInfo(&graph, "g.depth < " INT64_FORMAT " AND ", max_depth);
		appendStringInfo(&graph, "%s%s)", AggGraphCond(b, key, "g.next", "g.keys"), restrict_cond);
		if (!depths)
			appendStringInfo(&graph,
							 " SELECT f.document FROM %s f WHERE f._id OPERATOR(nosql.=) ANY (SELECT g.gid FROM g))",
							 src);
		else
			appendStringInfo(&graph,
							 " CYCLE gid SET cycle USING path "
							 "SELECT %s FROM %s f JOIN (SELECT g.gid, min(g.depth) AS depth FROM g GROUP BY g.gid) d ON f._id OPERATOR(nosql.=) d.gid)",
							 depth_field != NULL ?
							 psprintf("nosql.bson_graph_depth(f.document, %s, d.depth)",
									  quote_literal_cstr(depth_field)) : "f.document",
							 src);
	}
	initStringInfo(&next);
	appendStringInfo(&next,
					 "SELECT nosql.bson_lookup_set(gl.document, %s, %s) AS document FROM (%s) gl",
					 quote_literal_cstr(as), graph.data, b->sql.data);
	b->sql = next;
	AggReserve(b, FIND_MAX_PARAMS);
}

/*
 * $bucketAuto: the documents sorted by their groupBy value (then their
 * input order) and numbered; a running aggregate gives each its bucket
 * (agg_facet.c has the rules), then the buckets are a GROUP BY with the
 * output accumulators, their bounds from the first and last value of each
 * bucket and of its neighbours.
 */
static void
AggAddBucketAuto(AggBuild *b, const bson_iter_t *spec)
{
	AggBucketAutoSpec a;
	StringInfoData next;
	char	   *gran;
	int			key;
	int			first;
	int			last;
	int			names;

	AggBucketAutoDescribe(spec, b->compiled_collation != NULL ? b->collation : NULL,
						  b->collation_len, &a);
	AggSeal(b);
	AggReserve(b, 4 + a.group.naccs);
	key = AggParamDatum(b, a.key);
	first = AggParamDatum(b, a.first);
	last = AggParamDatum(b, a.last);
	names = AggParamDatum(b, a.group.names);
	gran = a.granularity != NULL ? quote_literal_cstr(a.granularity) : "NULL::text";
	initStringInfo(&next);
	appendStringInfo(&next,
					 "SELECT nosql.bson_group_result(nosql.bson_bucket_auto_bounds(ba.first, ba.last, "
					 "lag(ba.last) OVER (ORDER BY ba.bucket), lead(ba.first) OVER (ORDER BY ba.bucket), %s), "
					 "$%d, ARRAY[", gran, names);
	for (int i = 0; i < a.group.naccs; i++)
		appendStringInfo(&next, "%sba.a%d", i > 0 ? ", " : "", i);
	appendStringInfo(&next,
					 "]::nosql.bson[]) AS document FROM (SELECT bw.bucket, "
					 "nosql.bson_group_accumulate(bw.document, $%d, bw.ord) AS first, "
					 "nosql.bson_group_accumulate(bw.document, $%d, bw.ord) AS last",
					 first, last);
	for (int i = 0; i < a.group.naccs; i++)
		appendStringInfo(&next, ", nosql.bson_group_accumulate(bw.document, $%d, bw.ord) AS a%d",
						 AggParamDatum(b, a.group.accs[i]), i);
	appendStringInfo(&next,
					 " FROM (SELECT bo.document, bo.ord, nosql.bson_bucket_auto_index(bo.key, bo.total, %d, %s) "
					 "OVER (ORDER BY bo.ord ROWS UNBOUNDED PRECEDING) AS bucket "
					 "FROM (SELECT bk.document, bk.key, row_number() OVER (ORDER BY bk.key, bk.input) AS ord, "
					 "count(*) OVER () AS total "
					 "FROM (SELECT s.document, nosql.bson_group_key(s.document, $%d) AS key, "
					 "row_number() OVER () AS input FROM (%s) s) bk) bo) bw "
					 "GROUP BY bw.bucket) ba ORDER BY ba.bucket",
					 a.buckets, gran, key, b->sql.data);
	b->sql = next;
	AggReserve(b, FIND_MAX_PARAMS);
}

/*
 * The collection a stage over a view reads: MongoDB runs a pipeline on a
 * view after the view's own stages, so a stage that must be first works
 * through views whose pipelines are empty (on their collection) and is not
 * first otherwise (40602).  *coll and *collname become the collection's.
 */
static void
AggMetaThroughView(const AggBuild *b, const char *name, Collection **coll,
				   const char **collname)
{
	int			depth = 0;

	while (*coll != NULL && (*coll)->is_view)
	{
		bson_iter_t it;
		bson_iter_t stages;

		CHECK_FOR_INTERRUPTS();
		if (bson_iter_init_find(&it, (*coll)->options, "pipeline") && BSON_ITER_HOLDS_ARRAY(&it) &&
			bson_iter_recurse(&it, &stages) && bson_iter_next(&stages))
			MongoRaise(40602, "%s is only valid as the first stage in a pipeline", name);
		if (!bson_iter_init_find(&it, (*coll)->options, "viewOn") || !BSON_ITER_HOLDS_UTF8(&it) ||
			++depth > 20)
			MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
					   "Namespace %s.%s is a view, not a collection", b->database, *collname);
		*collname = bson_iter_utf8(&it, NULL);
		*coll = CollectionLookup(b->database, *collname);
	}
}

/*
 * A metadata stage (agg_meta.c): the source of its pipeline, one of the
 * set-returning functions there in place of the collection's table.
 */
static void
AggAddMeta(AggBuild *b, const char *name, const bson_iter_t *spec, bool first)
{
	Collection *coll = b->spec.coll;
	bool		top_collectionless = b->depth == 0 && b->collectionless_root;
	char	   *db = quote_literal_cstr(b->database);
	const char *target = b->collname != NULL ? b->collname : "";
	char	   *collname;
	bson_t		s;
	const uint8_t *data;
	uint32_t	len;
	char	   *sql;

	AggMetaValidate(name, spec);
	if (strcmp(name, "$listClusterCatalog") == 0 && !top_collectionless)
		MongoRaise(9621301, "$listClusterCatalog must be run with {aggregate: 1}");
	if (!first)
		MongoRaise(40602, "%s is only valid as the first stage in a pipeline", name);
	if ((strcmp(name, "$currentOp") == 0 && (!top_collectionless ||
											 strcmp(b->database, "admin") != 0)) ||
		(strcmp(name, "$querySettings") == 0 && !top_collectionless))
		MongoRaise(MONGO_INVALID_NAMESPACE,
				   "%s must be run against the 'admin' database with {aggregate: 1}", name);
	/* $collStats refuses views itself; the others read through them */
	if (strcmp(name, "$indexStats") == 0 || strcmp(name, "$planCacheStats") == 0)
		AggMetaThroughView(b, name, &coll, &target);
	collname = quote_literal_cstr(target);
	bson_iter_document(spec, &len, &data);
	bson_init_static(&s, data, len);
	if (strcmp(name, "$collStats") == 0)
		sql = psprintf("SELECT m AS document FROM nosql.bson_aggregate_coll_stats(%s, %s, $%d) m",
					   db, collname, AggParam(b, &s));
	else if (strcmp(name, "$indexStats") == 0)
		sql = psprintf("SELECT m AS document FROM nosql.bson_aggregate_index_stats(%s, %s) m",
					   db, collname);
	else if (strcmp(name, "$planCacheStats") == 0)
	{
		bson_iter_t ts;

		if (coll == NULL)
			MongoRaise(50933, "collection '%s.%s' does not exist", b->database, target);
		/* a time-series collection is a view in MongoDB: its stages come first */
		if (bson_iter_init_find(&ts, coll->options, "timeseries"))
			MongoRaise(40602, "$planCacheStats is only valid as the first stage in a pipeline");
		sql = psprintf("SELECT m AS document FROM nosql.bson_aggregate_plan_cache_stats(%s, %s) m",
					   db, collname);
	}
	else if (strcmp(name, "$listClusterCatalog") == 0)
		sql = psprintf("SELECT m AS document FROM nosql.bson_aggregate_cluster_catalog(%s, $%d) m",
					   db, AggParam(b, &s));
	else if (strcmp(name, "$querySettings") == 0)
		sql = psprintf("SELECT m AS document FROM nosql.bson_aggregate_query_settings($%d) m",
					   AggParam(b, &s));
	else
		sql = psprintf("SELECT m AS document FROM nosql.bson_aggregate_current_op($%d) m",
					   AggParam(b, &s));
	if (b->in_find)
	{
		b->meta_sql = sql;
		AggEndFind(b);
	}
	else
	{
		/* a $lookup's sub-pipeline over its matches: the stage replaces them */
		resetStringInfo(&b->sql);
		appendStringInfoString(&b->sql, sql);
	}
}

/*
 * A $sort with {$meta: name} keys: by the metadata the documents carry
 * (highest first, as MongoDB sorts them), the other keys as usual.
 */
static void
AggAddMetaSort(AggBuild *b, const bson_iter_t *spec)
{
	bson_iter_t it;
	int			i = 0;

	AggSeal(b);
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		char	   *path;
		bool		desc;

		if (BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			bson_iter_t meta;
			const char *name;

			bson_iter_recurse(&it, &meta);
			bson_iter_next(&meta);
			name = bson_iter_utf8(&meta, NULL);
			if (strcmp(name, "randVal") == 0)
			{
				/* a random value per document */
				appendStringInfo(&b->order, "%srandom()", i++ > 0 ? ", " : "");
				continue;
			}
			if (!b->meta_attached)
			{
				/* search scores are missing (all equal); the others needed */
				if (strcmp(name, "searchScore") == 0 || strcmp(name, "vectorSearchScore") == 0)
					continue;
				MongoRaise(40218, "query requires %s metadata, but it is not available", name);
			}
			path = psprintf("%s.%s", AGG_META_FIELD, name);
			desc = true;
		}
		else
		{
			double		d = 0;

			(void) BsonIterAsDouble(&it, &d);
			path = pstrdup(bson_iter_key(&it));
			desc = d < 0;
		}
		if (b->compiled_collation != NULL)
		{
			bson_t		c;

			bson_init_static(&c, b->collation, b->collation_len);
			appendStringInfo(&b->order, "%snosql.bson_sort_value(s.document, %s, %s, $%d)%s",
							 i > 0 ? ", " : "", quote_literal_cstr(path),
							 desc ? "true" : "false", AggParam(b, &c), desc ? " DESC" : "");
		}
		else
			appendStringInfo(&b->order, "%snosql.bson_sort_value(s.document, %s, %s)%s",
							 i > 0 ? ", " : "", quote_literal_cstr(path),
							 desc ? "true" : "false", desc ? " DESC" : "");
		i++;
	}
	if (i == 0)
		appendStringInfoString(&b->order, "true");
	b->level_open = true;
}

/* Whether a pipeline mentions $meta anywhere (its stages read metadata) */
static bool
AggMentionsMeta(const bson_iter_t *value)
{
	bson_iter_t it;

	check_stack_depth();
	if (!BSON_ITER_HOLDS_DOCUMENT(value) && !BSON_ITER_HOLDS_ARRAY(value))
		return false;
	bson_iter_recurse(value, &it);
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "$meta") == 0 || AggMentionsMeta(&it))
			return true;
	}
	return false;
}

/* Translate one stage (already known to exist) */
static void
AggAddStage(AggBuild *b, const char *name, const bson_iter_t *spec, bool first)
{
	char		key[16];
	const char *keyp;

	if (b->meta_attached && !AggStageIsStreaming(name) && strcmp(name, "$sort") != 0 &&
		strcmp(name, "$skip") != 0 && strcmp(name, "$limit") != 0 &&
		strcmp(name, "$sample") != 0 && strcmp(name, "$lookup") != 0)
	{
		/* the stages that make new documents or read them in bulk: none */
		AggSeal(b);
		AggDropMeta(b);
	}
	if (AggMetaStage(name))
	{
		AggAddMeta(b, name, spec, first);
		return;
	}
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
		if (!first || b->spec.hint != NULL)
		{
			BsonFilter *filter = CompileFilter(data, len);
			BsonTextQuery text;

			if (BsonFilterGetText(filter, &text) && !first)
				MongoRaise(17313, "$match with $text is only allowed as the first pipeline stage");
			/* a text query is answered by its text index: no other hint */
			if (BsonFilterGetText(filter, &text))
				MongoRaise(MONGO_BAD_VALUE,
						   "error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index");
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
		{
			AggAddMetaSort(b, spec);
			return;
		}
		bson_iter_document(spec, &len, &data);
		if (b->in_find && b->spec.skip == 0 && b->spec.limit == 0)
		{
			b->spec.sort = data;
			b->spec.sort_len = len;
			return;
		}
		AggSeal(b);
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
		AggSeal(b);
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
	if (strcmp(name, "$facet") == 0)
	{
		AggAddFacet(b, spec);
		return;
	}
	if (strcmp(name, "$bucketAuto") == 0)
	{
		AggAddBucketAuto(b, spec);
		return;
	}
	if (strcmp(name, "$unionWith") == 0)
	{
		AggAddUnionWith(b, spec);
		return;
	}
	if (strcmp(name, "$graphLookup") == 0)
	{
		AggAddGraphLookup(b, spec);
		return;
	}
	if (strcmp(name, "$setWindowFields") == 0)
	{
		AggAddWindow(b, spec, false);
		return;
	}
	if (strcmp(name, "$fill") == 0)
	{
		AggAddFill(b, spec);
		return;
	}
	if (strcmp(name, "$densify") == 0)
	{
		AggAddDensify(b, spec);
		return;
	}
	if (strcmp(name, "$geoNear") == 0)
	{
		AggAddGeoNear(b, spec);
		return;
	}
	if (strcmp(name, "$rankFusion") == 0)
	{
		AggAddRankFusion(b, spec, first);
		return;
	}
	elog(ERROR, "unexpected aggregation stage %s", name);
}

/* Finish the query */
static void
AggFinish(AggBuild *b)
{
	AggSeal(b);
	AggDropMeta(b);
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

	if (b->depth == 0)
		b->collectionless_root = collectionless;
	/* the shape of every stage first, as MongoDB parses them */
	bson_iter_recurse(pipeline, &it);
	while (bson_iter_next(&it))
	{
		bson_iter_t spec_it;
		const char *name = AggStageName(&it, &spec_it);

		if (!AggStageKnown(name))
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
		/* where the metadata stages of sub-pipelines may be */
		AggMetaCheckNestedIn(name, &spec_it, false, b->depth == 0 && collectionless);
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
		if (strcmp(name, "$facet") == 0)
			AggFacetCheck(&spec_it, collectionless || b->collectionless_root);
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

	b->meta_read = AggMentionsMeta(pipeline);
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
	if (coll == NULL && !b->documents && b->source_sql == NULL && !b->has_rows &&
		b->meta_sql == NULL)
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
	if (a->explain)
	{
		bson_iter_t strict;

		if (bson_iter_init_find(&strict, &ctx->command, "apiStrict") &&
			BSON_ITER_HOLDS_BOOL(&strict) && bson_iter_bool(&strict))
			MongoRaise(323, "explain is not allowed with 'apiStrict: true' in API Version 1");
	}
	if (a->explain && ctx->has_write_concern)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Aggregation explain does not support the 'writeConcern' option");
	AggCheckReadConcern(ctx->read_concern_level, &a->pipeline);
	if (!a->has_cursor && !a->explain && !agg_wrapped_explain)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "The 'cursor' option is required, except for aggregate with the explain argument");
}

/* The name of the first stage of a pipeline, or NULL */
static const char *
AggFirstStage(const bson_iter_t *pipeline)
{
	bson_iter_t it;
	bson_iter_t stage;

	if (bson_iter_recurse(pipeline, &it) && bson_iter_next(&it) &&
		BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &stage) &&
		bson_iter_next(&stage))
		return bson_iter_key(&stage);
	return NULL;
}

/*
 * The rules of the command's options for a pipeline that starts with a
 * metadata stage: only readConcern level "local" (72), and none of them
 * but $collStats is in the stable API (323 with apiStrict).  MongoDB
 * checks them before the command's own options.
 */
static void
AggCheckMetaOptions(CommandContext *ctx)
{
	const char *first;
	bson_iter_t it;
	bson_iter_t level;

	if (!bson_iter_init_find(&it, &ctx->command, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))
		return;
	first = AggFirstStage(&it);
	/* the session stages are not in the stable API either (nor built yet) */
	if (first != NULL &&
		(strcmp(first, "$listLocalSessions") == 0 || strcmp(first, "$listSessions") == 0) &&
		bson_iter_init_find(&level, &ctx->command, "apiStrict") &&
		BSON_ITER_HOLDS_BOOL(&level) && bson_iter_bool(&level))
		MongoRaise(323, "%s is not allowed with 'apiStrict: true' in API Version 1", first);
	if (first == NULL || !AggMetaStage(first))
		return;
	if (bson_iter_init_find(&it, &ctx->command, "apiStrict") && BSON_ITER_HOLDS_BOOL(&it) &&
		bson_iter_bool(&it))
	{
		if (strcmp(first, "$collStats") != 0)
			MongoRaise(323, "%s is not allowed with 'apiStrict: true' in API Version 1", first);
		else
		{
			bson_iter_t st;
			bson_iter_t spec;

			/* of $collStats only its count is in the stable API */
			bson_iter_init_find(&st, &ctx->command, "pipeline");
			if (bson_iter_recurse(&st, &st) && bson_iter_next(&st) &&
				BSON_ITER_HOLDS_DOCUMENT(&st) && bson_iter_recurse(&st, &st) &&
				bson_iter_next(&st) && BSON_ITER_HOLDS_DOCUMENT(&st))
			{
				bson_iter_recurse(&st, &spec);
				while (bson_iter_next(&spec))
					if (strcmp(bson_iter_key(&spec), "count") != 0)
						MongoRaise(323,
								   "$collStats with '%s' is not allowed with 'apiStrict: true' in API Version 1",
								   bson_iter_key(&spec));
			}
		}
	}
	if (bson_iter_init_find(&it, &ctx->command, "readConcern") &&
		BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &level) &&
		bson_iter_find(&level, "level") && BSON_ITER_HOLDS_UTF8(&level) &&
		strcmp(bson_iter_utf8(&level, NULL), "local") != 0)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Aggregation stage %s cannot run with a readConcern other than 'local'. Current readConcern: %s",
				   first, bson_iter_utf8(&level, NULL));
}

/*
 * A view, as MongoDB resolves it: the collection underneath (NULL when it
 * does not exist) and, in *out, the array "p" of the stages of every view
 * on the way, innermost first, followed by the stages of user.  The view's
 * collation is the pipeline's: a command may only repeat it (167).
 */
static Collection *
AggResolveView(const char *database, Collection *view, const bson_iter_t *user,
			   bson_t *out, const uint8_t **collation, uint32_t *collation_len)
{
	Collection *chain[AGG_MAX_VIEW_DEPTH];
	int			n = 0;
	Collection *c = view;
	bson_t		stages;
	uint32_t	k = 0;
	bson_iter_t it;
	const uint8_t *vcoll = NULL;
	uint32_t	vcoll_len = 0;

	while (c != NULL && c->is_view)
	{
		CHECK_FOR_INTERRUPTS();
		if (n == AGG_MAX_VIEW_DEPTH)
			MongoRaise(MONGO_VIEW_DEPTH_LIMIT, "View depth too deep or view cycle detected. Maximum depth is %d",
					   AGG_MAX_VIEW_DEPTH);
		chain[n++] = c;
		if (!bson_iter_init_find(&it, c->options, "viewOn") || !BSON_ITER_HOLDS_UTF8(&it))
			elog(ERROR, "view %s has no viewOn", c->qualified);
		c = CollectionLookup(database, bson_iter_utf8(&it, NULL));
	}
	bson_append_array_begin(out, "p", 1, &stages);
	for (int i = n - 1; i >= 0; i--)
	{
		bson_iter_t st;

		if (!bson_iter_init_find(&it, chain[i]->options, "pipeline") ||
			!BSON_ITER_HOLDS_ARRAY(&it))
			continue;
		bson_iter_recurse(&it, &st);
		while (bson_iter_next(&st))
		{
			char		key[16];
			const char *keyp;

			bson_uint32_to_string(k++, &keyp, key, sizeof(key));
			bson_append_iter(&stages, keyp, -1, &st);
		}
	}
	if (user != NULL)
	{
		bson_iter_t st;

		bson_iter_recurse(user, &st);
		while (bson_iter_next(&st))
		{
			char		key[16];
			const char *keyp;

			bson_uint32_to_string(k++, &keyp, key, sizeof(key));
			bson_append_iter(&stages, keyp, -1, &st);
		}
	}
	bson_append_array_end(out, &stages);

	/* the view's default collation (simple when it has none) */
	if (bson_iter_init_find(&it, view->options, "collation") && BSON_ITER_HOLDS_DOCUMENT(&it))
		bson_iter_document(&it, &vcoll_len, &vcoll);
	if (*collation != NULL && *collation_len > 5)
		AggViewCollationCheck(*collation, *collation_len, vcoll, vcoll_len);
	else if (vcoll != NULL)
	{
		*collation = vcoll;
		*collation_len = vcoll_len;
	}
	else
	{
		/* {locale: "simple"}: not the collection's default */
		static const uint8_t simple[] = {
			24, 0, 0, 0, 2, 'l', 'o', 'c', 'a', 'l', 'e', 0, 7, 0, 0, 0,
			's', 'i', 'm', 'p', 'l', 'e', 0, 0
		};

		*collation = simple;
		*collation_len = sizeof(simple);
	}
	return c;
}

/* Prepare the translation: the collection, its collation and hint */
static bool
AggPrepare(const char *database, AggArgs *a, AggBuild *b)
{
	Collection *coll = NULL;
	const char *first = AggFirstStage(&a->pipeline);

	memset(b, 0, sizeof(*b));
	b->database = database;
	FindSpecInit(&b->spec);
	b->database = database;
	b->collname = a->collname;
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
		/* the metadata stages describe views too (or refuse them) */
		if (coll != NULL && coll->is_view && (first == NULL || !AggMetaStage(first)))
		{
			/* the view's stages, then the command's, over what is underneath */
			bson_t	   *combined = bson_new();

			coll = AggResolveView(database, coll, &a->pipeline, combined, &a->collation,
								  &a->collation_len);
			bson_iter_init_find(&a->pipeline, combined, "p");
		}
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
		appendStringInfo(&sql, "EXPLAIN (%sCOSTS OFF) %s",
						 agg_explain_analyze ? "ANALYZE, TIMING OFF, SUMMARY OFF, " : "",
						 b->sql.data);
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
 * {explain: {aggregate: ...}, verbosity} (cmd_explain.c): the aggregate's
 * own explain, its query run (EXPLAIN ANALYZE, reading only: a $out or
 * $merge writes nothing) unless the verbosity is queryPlanner.  The
 * wrapped command needs no cursor.
 */
void
AggExplainCommand(CommandContext *inner, bool analyze, bson_t *reply)
{
	AggArgs		a;
	AggBuild	b;
	bool		have_query;

	AggCheckMetaOptions(inner);
	agg_wrapped_explain = true;
	PG_TRY();
	{
		AggParseCommand(inner, &a);
	}
	PG_FINALLY();
	{
		agg_wrapped_explain = false;
	}
	PG_END_TRY();
	if (a.explain)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Explain of aggregate may not have 'explain' set inside the command");
	have_query = AggPrepare(inner->database, &a, &b);
	agg_explain_analyze = analyze;
	PG_TRY();
	{
		AggExplain(inner, &a, &b, have_query, reply);
	}
	PG_FINALLY();
	{
		agg_explain_analyze = false;
	}
	PG_END_TRY();
}

/*
 * Whether a pipeline is a change stream: $changeStream as its first stage
 * (anywhere else it is error 40602).
 */
static bool
AggChangeStream(const bson_iter_t *pipeline)
{
	bson_iter_t it;
	int			i = 0;
	bool		first = false;

	if (!BSON_ITER_HOLDS_ARRAY(pipeline) || !bson_iter_recurse(pipeline, &it))
		return false;
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;

		if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &stage) &&
			bson_iter_next(&stage) && strcmp(bson_iter_key(&stage), "$changeStream") == 0)
		{
			if (i > 0)
				MongoRaise(40602, "$changeStream is only valid as the first stage in a pipeline.");
			first = true;
		}
		i++;
	}
	return first;
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

	AggCheckMetaOptions(ctx);
	AggParseCommand(ctx, &a);
	if (a.has_pipeline && AggChangeStream(&a.pipeline))
	{
		if (a.explain)
			MongoRaise(MONGO_ILLEGAL_OPERATION, "explain of a $changeStream is not supported");
		ChangeStreamAggregate(ctx, a.collname, &a.pipeline, a.batch_size, reply);
		return;
	}
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
 * find, count and distinct on a view (cmd_read.c), as MongoDB resolves
 * them: stages (an array document {"0": stage, ...}) after the view's,
 * run as an aggregate over the collection underneath.  With first NULL,
 * the cursor reply of find goes to reply; else *first (initialized by the
 * caller) gets the pipeline's first document, if any.
 */
void
AggReadView(CommandContext *ctx, const char *collname, const bson_t *stages,
			const uint8_t *collation, uint32_t collation_len, int64 batch_size,
			bool single_batch, bson_t *reply, bson_t *first)
{
	AggArgs		a;
	AggBuild	b;
	bson_t	   *holder = bson_new();
	bool		have_query;
	MemoryContext caller = CurrentMemoryContext;

	memset(&a, 0, sizeof(a));
	a.collname = pstrdup(collname);
	a.collation = collation;
	a.collation_len = collation_len;
	a.batch_size = batch_size;
	bson_append_array(holder, "p", 1, stages);
	bson_iter_init_find(&a.pipeline, holder, "p");
	have_query = AggPrepare(ctx->database, &a, &b);
	if (first == NULL)
	{
		if (!have_query)
		{
			bson_t		cursor;
			bson_t		batch;

			BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
			BSON_APPEND_ARRAY_BEGIN(&cursor, "firstBatch", &batch);
			bson_append_array_end(&cursor, &batch);
			BSON_APPEND_INT64(&cursor, "id", 0);
			BSON_APPEND_UTF8(&cursor, "ns", psprintf("%s.%s", ctx->database, collname));
			bson_append_document_end(reply, &cursor);
			return;
		}
		CursorQueryReply(ctx, collname, b.sql.data, b.nparams, b.types, b.values, b.spec.coll,
						 b.spec.hint, batch_size, single_batch, reply);
		return;
	}
	if (!have_query)
		return;
	SPI_connect();
	{
		int			level = HintSettingsPush(b.spec.coll, b.spec.hint);

		if (SPI_execute_with_args(b.sql.data, b.nparams, b.types, b.values, NULL, true, 1) !=
			SPI_OK_SELECT)
			elog(ERROR, "reading a view failed");
		HintSettingsPop(level);
	}
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		row = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			Bson	   *doc = DatumGetBsonP(row);
			bson_t		d;
			MemoryContext old = MemoryContextSwitchTo(caller);

			bson_init_static(&d, BsonBytes(doc), BsonDocLen(doc));
			bson_concat(first, &d);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
}

/*
 * A pipeline that starts with $changeStream given to nosql.aggregate: a set
 * is no cursor, so it holds the events logged after the stream's start
 * (its resumeAfter, startAfter or startAtOperationTime; none: now, so no
 * event) up to the call, through the stages after $changeStream; the
 * stream's checks, errors and privileges are the aggregate command's.
 */
static void
AggChangeStreamSet(const char *database, const char *name, const bson_iter_t *pipeline,
				   ReturnSetInfo *rsinfo)
{
	MemoryContext stream_cxt;
	MemoryContext old;
	const uint8_t *data;
	uint32_t	len;
	bson_t		array;
	bson_iter_t first;
	bson_iter_t options;

	bson_iter_array(pipeline, &len, &data);
	if (!bson_init_static(&array, data, len) || !bson_iter_init(&first, &array) ||
		!bson_iter_next(&first) || !bson_iter_recurse(&first, &options) ||
		!bson_iter_next(&options))
		elog(ERROR, "corrupt $changeStream pipeline");

	/* the stream is listed as a watcher while its memory lives */
	stream_cxt = AllocSetContextCreate(CurrentMemoryContext, "nosql change stream set",
									   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(stream_cxt);
	PG_TRY();
	{
		CdcStream  *stream = CdcStreamOpen(database, name, &options, &array);

		CdcStreamToSet(stream, rsinfo);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(stream_cxt);
	}
	PG_END_TRY();
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
	if (AggChangeStream(&a.pipeline))
	{
		AggChangeStreamSet(database, name, &a.pipeline, rsinfo);
		return (Datum) 0;
	}
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
