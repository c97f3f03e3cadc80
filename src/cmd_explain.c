/*-------------------------------------------------------------------------
 *
 * cmd_explain.c
 *	  explain: MongoDB's query plans, read from PostgreSQL's.
 *
 * A command runs as one SQL query (FindSpecPrepare), so its plan is that
 * query's plan.  explain builds the query the explained command would run,
 * with the same parameters, asks PostgreSQL for EXPLAIN (FORMAT JSON) --
 * with ANALYZE and BUFFERS for the executionStats and allPlansExecution
 * verbosities -- and translates the plan tree into MongoDB's stages:
 *
 *	Seq Scan						COLLSCAN
 *	Index Scan of the primary key	EXPRESS_IXSCAN (find by _id) or IDHACK;
 *									else FETCH over IXSCAN of _id_
 *	Index Scan, Index Only Scan		FETCH over IXSCAN
 *	Bitmap Heap Scan				FETCH over the stages of its bitmap
 *	Bitmap Index Scan				IXSCAN
 *	BitmapOr, BitmapAnd				OR, AND_SORTED
 *	Sort, Incremental Sort			SORT
 *	Limit							LIMIT and SKIP (a sort's limit: limitAmount)
 *
 * with the command's own stage on top: COUNT (RECORD_STORE_FAST_COUNT for
 * a count of everything), UPDATE, DELETE, a projection.  Nodes MongoDB has
 * no stage for (the Aggregate of a count, LockRows, Gather, Subquery Scan)
 * are passed through; an index MongoDB does not know (a capped
 * collection's _seq) reads as a collection scan in that index's order.
 * The PostgreSQL plan itself goes into the reply's postgres field.
 *
 * Nothing is written: an update or delete is explained by the query that
 * selects its targets, and when that query is executed (ANALYZE) it is run
 * without FOR UPDATE, so that explain takes no row locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "catalog/pg_index.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "agg.h"
#include "documents.h"
#include "nosql.h"
#include "update.h"

/* MongoDB's default memory limit of a blocking sort (and of the others) */
#define EXPLAIN_MEM_LIMIT	104857600

typedef enum ExplainVerbosity
{
	EXPLAIN_QUERY_PLANNER,
	EXPLAIN_EXECUTION_STATS,
	EXPLAIN_ALL_PLANS_EXECUTION
} ExplainVerbosity;

/* What is explained: the query of one command */
typedef struct ExplainQuery
{
	const char *command;		/* find, count, distinct, update, delete,
								 * findAndModify */
	char	   *collname;
	FindSpec	spec;
	const char *select;			/* FindSpecPrepare's select list */
	bool		is_update;		/* update, findAndModify with an update */
	bool		is_delete;		/* delete, findAndModify with remove */
	bool		upsert;
	const uint8_t *update;		/* an update's bytes (u, or findAndModify's) */
	uint32_t	update_len;
	const uint8_t *array_filters;	/* or NULL */
	uint32_t	array_filters_len;
	bool		has_hint;
	bson_iter_t hint;
} ExplainQuery;

/* The state of translating one PostgreSQL plan into MongoDB's stages */
typedef struct ExplainTranslation
{
	const ExplainQuery *q;
	bool		stats;			/* add execution statistics */
	bool		backward;		/* a collection scan goes backward */
	int64		keys_examined;	/* totals, for executionStats */
	int64		docs_examined;
	int64		would_modify;	/* an update's nWouldModify, -1: not counted */
} ExplainTranslation;

/* The fields of a PostgreSQL plan node that the translation reads */
typedef struct PgPlanNode
{
	const char *type;			/* Node Type */
	const char *index;			/* Index Name, or NULL */
	bool		backward;		/* Scan Direction */
	double		rows;			/* Actual Rows, per loop */
	double		loops;			/* Actual Loops */
	double		removed;		/* Rows Removed by Filter and by Index Recheck,
								 * per loop */
	double		time;			/* Actual Total Time, per loop (ms) */
	bool		disk;			/* a sort that spilled to disk */
	const uint8_t *plans;		/* the Plans array, or NULL */
	uint32_t	plans_len;
} PgPlanNode;

/* Which index of a collection a PostgreSQL index is */
typedef enum ExplainIndexKind
{
	EXPLAIN_INDEX_OTHER,
	EXPLAIN_INDEX_ID,			/* the _id primary key */
	EXPLAIN_INDEX_SPEC			/* the index of an index spec */
} ExplainIndexKind;

static void TranslateNode(ExplainTranslation *t, const uint8_t *data, uint32_t len,
						  bson_t *out);

/* ---- small helpers ---- */

/* Append a count as MongoDB does: an int when it fits */
static void
AppendCount(bson_t *out, const char *key, int64 n)
{
	if (n >= INT32_MIN && n <= INT32_MAX)
		BSON_APPEND_INT32(out, key, (int32) n);
	else
		BSON_APPEND_INT64(out, key, n);
}

/* A per-loop figure of a plan node times its loops */
static int64
NodeTotal(const PgPlanNode *n, double per_loop)
{
	return (int64) llround(per_loop * n->loops);
}

/* Read the fields of a plan node that the translation needs */
static void
PgPlanNodeRead(const uint8_t *data, uint32_t len, PgPlanNode *n)
{
	bson_t		doc;
	bson_iter_t it;

	memset(n, 0, sizeof(*n));
	n->type = "";
	n->loops = 1;
	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
		return;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		double		v = 0;

		if (BSON_ITER_HOLDS_UTF8(&it))
		{
			const char *s = bson_iter_utf8(&it, NULL);

			if (strcmp(key, "Node Type") == 0)
				n->type = s;
			else if (strcmp(key, "Index Name") == 0)
				n->index = s;
			else if (strcmp(key, "Scan Direction") == 0)
				n->backward = strcmp(s, "Backward") == 0;
			else if (strcmp(key, "Sort Space Type") == 0)
				n->disk = strcmp(s, "Disk") == 0;
		}
		else if (BSON_ITER_HOLDS_ARRAY(&it) && strcmp(key, "Plans") == 0)
			bson_iter_array(&it, &n->plans_len, &n->plans);
		else if (BsonIterAsDouble(&it, &v))
		{
			if (strcmp(key, "Actual Rows") == 0)
				n->rows = v;
			else if (strcmp(key, "Actual Loops") == 0)
				n->loops = v;
			else if (strcmp(key, "Actual Total Time") == 0)
				n->time = v;
			else if (strcmp(key, "Rows Removed by Filter") == 0 ||
					 strcmp(key, "Rows Removed by Index Recheck") == 0)
				n->removed += v;
		}
	}
}

/* The i-th child of a plan node; false when it has none */
static bool
PgPlanChild(const PgPlanNode *n, int i, const uint8_t **data, uint32_t *len)
{
	bson_t		plans;
	bson_iter_t it;
	int			k = 0;

	if (n->plans == NULL || !bson_init_static(&plans, n->plans, n->plans_len) ||
		!bson_iter_init(&it, &plans))
		return false;
	while (bson_iter_next(&it))
	{
		if (BSON_ITER_HOLDS_DOCUMENT(&it) && k++ == i)
		{
			bson_iter_document(&it, len, data);
			return true;
		}
	}
	return false;
}

/*
 * Append a child stage under key (inputStage) translated from the first
 * child of a plan node; nothing when the node has no child.
 */
static void
AppendInputStage(ExplainTranslation *t, const PgPlanNode *n, bson_t *out)
{
	const uint8_t *data;
	uint32_t	len;
	bson_t		child;

	if (!PgPlanChild(n, 0, &data, &len))
		return;
	BSON_APPEND_DOCUMENT_BEGIN(out, "inputStage", &child);
	TranslateNode(t, data, len, &child);
	bson_append_document_end(out, &child);
}

/*
 * The statistics every stage of executionStats has.  works: the units of
 * work (documents or keys examined, plus the end of input).
 */
static void
AppendStageStats(const ExplainTranslation *t, bson_t *out, int64 returned, int64 works,
				 double ms)
{
	if (!t->stats)
		return;
	works = Max(works, returned) + 1;
	AppendCount(out, "nReturned", returned);
	AppendCount(out, "executionTimeMillisEstimate", (int64) ms);
	AppendCount(out, "works", works);
	AppendCount(out, "advanced", returned);
	AppendCount(out, "needTime", works - returned - 1);
	BSON_APPEND_INT32(out, "needYield", 0);
	BSON_APPEND_INT32(out, "saveState", 0);
	BSON_APPEND_INT32(out, "restoreState", 0);
	BSON_APPEND_INT32(out, "isEOF", 1);
}

/* Whether a filter document has no condition */
static bool
FilterIsEmpty(const ExplainQuery *q)
{
	return q->spec.filter_len <= 5;
}

/* Append the filter the scan applies (MongoDB's parsedQuery), if any */
static void ParsedQueryAppend(const uint8_t *filter, uint32_t len, bson_t *out);

static void
AppendFilter(const ExplainTranslation *t, bson_t *out)
{
	bson_t		f;

	if (FilterIsEmpty(t->q))
		return;
	BSON_APPEND_DOCUMENT_BEGIN(out, "filter", &f);
	ParsedQueryAppend(t->q->spec.filter, t->q->spec.filter_len, &f);
	bson_append_document_end(out, &f);
}

/*
 * Whether the query is a point query on _id: a filter of exactly one
 * field, _id, equal to a value (not an operator other than $eq).
 */
static bool
IsIdPointQuery(const ExplainQuery *q)
{
	bson_t		f;
	bson_iter_t it;

	if (!bson_init_static(&f, q->spec.filter, q->spec.filter_len) ||
		!bson_iter_init(&it, &f) || !bson_iter_next(&it) ||
		strcmp(bson_iter_key(&it), "_id") != 0)
		return false;
	if (BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		bson_iter_t inner;

		bson_iter_recurse(&it, &inner);
		if (bson_iter_next(&inner) && bson_iter_key(&inner)[0] == '$' &&
			strcmp(bson_iter_key(&inner), "$eq") != 0)
			return false;
	}
	else if (BSON_ITER_HOLDS_REGEX(&it) || BSON_ITER_HOLDS_ARRAY(&it))
		return false;
	return !bson_iter_next(&it);
}

/* ---- parsedQuery and the query shape ---- */

/*
 * MongoDB's parsedQuery of a filter: every condition on a path becomes
 * {path: {$op: value}} (a plain value is $eq), and several conditions are
 * the children of an $and.  Top-level operators ($or, $and, $expr, ...)
 * are kept as they are.
 */
static void
ParsedQueryAppend(const uint8_t *filter, uint32_t len, bson_t *out)
{
	bson_t		f;
	bson_iter_t it;
	bson_t		conditions;
	int			n = 0;
	char		buf[16];
	const char *key;

	bson_init(&conditions);
	if (bson_init_static(&f, filter, len) && bson_iter_init(&it, &f))
	{
		while (bson_iter_next(&it))
		{
			const char *path = bson_iter_key(&it);
			bson_iter_t ops;
			bson_t		c,
						op;

			if (path[0] != '$' && BSON_ITER_HOLDS_DOCUMENT(&it) &&
				bson_iter_recurse(&it, &ops) && bson_iter_next(&ops) &&
				bson_iter_key(&ops)[0] == '$')
			{
				/* {path: {$op: v, ...}}: one condition per operator */
				do
				{
					bson_uint32_to_string(n++, &key, buf, sizeof(buf));
					BSON_APPEND_DOCUMENT_BEGIN(&conditions, key, &c);
					BSON_APPEND_DOCUMENT_BEGIN(&c, path, &op);
					bson_append_iter(&op, bson_iter_key(&ops), -1, &ops);
					bson_append_document_end(&c, &op);
					bson_append_document_end(&conditions, &c);
				} while (bson_iter_next(&ops));
				continue;
			}
			bson_uint32_to_string(n++, &key, buf, sizeof(buf));
			BSON_APPEND_DOCUMENT_BEGIN(&conditions, key, &c);
			if (path[0] == '$')
				bson_append_iter(&c, path, -1, &it);
			else
			{
				BSON_APPEND_DOCUMENT_BEGIN(&c, path, &op);
				bson_append_iter(&op, "$eq", 3, &it);
				bson_append_document_end(&c, &op);
			}
			bson_append_document_end(&conditions, &c);
		}
	}
	if (n == 1)
	{
		bson_iter_t only;

		bson_iter_init(&only, &conditions);
		bson_iter_next(&only);
		bson_iter_recurse(&only, &it);
		while (bson_iter_next(&it))
			bson_append_iter(out, NULL, 0, &it);
	}
	else if (n > 1)
		bson_append_array(out, "$and", 4, &conditions);
	bson_destroy(&conditions);
}

/*
 * Append the shape of a document to buf: its field names and operators,
 * with every value a "?" (the operands of $and, $or and $nor are shapes
 * themselves).
 */
static void
ShapeAppend(StringInfo buf, bson_iter_t *it)
{
	check_stack_depth();
	appendStringInfoChar(buf, '{');
	while (bson_iter_next(it))
	{
		const char *key = bson_iter_key(it);
		bson_iter_t child;

		appendStringInfo(buf, "%s:", key);
		if (BSON_ITER_HOLDS_DOCUMENT(it))
		{
			bson_iter_recurse(it, &child);
			ShapeAppend(buf, &child);
		}
		else if (BSON_ITER_HOLDS_ARRAY(it) &&
				 (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0 ||
				  strcmp(key, "$nor") == 0))
		{
			bson_iter_recurse(it, &child);
			appendStringInfoChar(buf, '[');
			while (bson_iter_next(&child))
			{
				bson_iter_t el;

				if (bson_iter_recurse(&child, &el))
					ShapeAppend(buf, &el);
				appendStringInfoChar(buf, ',');
			}
			appendStringInfoChar(buf, ']');
		}
		else
			appendStringInfoChar(buf, '?');
		appendStringInfoChar(buf, ',');
	}
	appendStringInfoChar(buf, '}');
}

static void
ShapeAppendBytes(StringInfo buf, const char *label, const uint8_t *data, uint32_t len)
{
	bson_t		doc;
	bson_iter_t it;

	appendStringInfo(buf, "%s=", label);
	if (data != NULL && bson_init_static(&doc, data, len) && bson_iter_init(&it, &doc))
		ShapeAppend(buf, &it);
	appendStringInfoChar(buf, ';');
}

/*
 * MongoDB's hashes of a query: the shape's (queryHash, planCacheShapeHash)
 * and the plan cache key's (the shape and the collection's indexes), as 8
 * upper-case hex digits.
 */
static void
QueryHashes(const ExplainQuery *q, char *shape_hash, char *key_hash)
{
	StringInfoData buf;
	bson_iter_t it;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s;", q->command);
	ShapeAppendBytes(&buf, "filter", q->spec.filter, q->spec.filter_len);
	ShapeAppendBytes(&buf, "sort", q->spec.sort, q->spec.sort_len);
	ShapeAppendBytes(&buf, "projection", q->spec.projection, q->spec.projection_len);
	snprintf(shape_hash, 9, "%08X",
			 hash_bytes((const unsigned char *) buf.data, buf.len));
	if (q->spec.coll != NULL)
	{
		bson_iter_init(&it, q->spec.coll->indexes);
		while (bson_iter_next(&it))
		{
			bson_iter_t name;

			if (bson_iter_recurse(&it, &name) && bson_iter_find(&name, "name") &&
				BSON_ITER_HOLDS_UTF8(&name))
				appendStringInfo(&buf, "%s,", bson_iter_utf8(&name, NULL));
		}
	}
	snprintf(key_hash, 9, "%08X",
			 hash_bytes((const unsigned char *) buf.data, buf.len));
}

/* ---- indexes ---- */

/*
 * Which index of the collection a PostgreSQL index is: the _id primary key,
 * the index of an index spec (*spec set to the spec's bytes), or another
 * (EXPLAIN_INDEX_OTHER).  The PostgreSQL indexes of a spec are named
 * nosql_ix_<table oid>_<8 hex digits of hash_bytes(the spec's name)>,
 * possibly followed by a suffix (a spec may get more than one index): a
 * name is matched by that prefix.
 */
static ExplainIndexKind
ExplainIndexLookup(const Collection *coll, const char *pgname, const uint8_t **spec,
				   uint32_t *spec_len)
{
	char		prefix[NAMEDATALEN];
	int			plen;
	Oid			indexoid;
	bson_iter_t it;

	indexoid = get_relname_relid(pgname, get_rel_namespace(coll->relid));
	if (OidIsValid(indexoid))
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));

		if (HeapTupleIsValid(tuple))
		{
			Form_pg_index index = (Form_pg_index) GETSTRUCT(tuple);
			bool		primary = index->indisprimary && index->indrelid == coll->relid;

			ReleaseSysCache(tuple);
			if (primary)
				return EXPLAIN_INDEX_ID;
		}
	}

	plen = snprintf(prefix, sizeof(prefix), "nosql_ix_%u_", coll->relid);
	if (strncmp(pgname, prefix, plen) != 0 || strlen(pgname) < (size_t) plen + 8)
		return EXPLAIN_INDEX_OTHER;
	bson_iter_init(&it, coll->indexes);
	while (bson_iter_next(&it))
	{
		bson_iter_t name;
		char		hex[9];
		const char *s;

		if (!bson_iter_recurse(&it, &name) || !bson_iter_find(&name, "name") ||
			!BSON_ITER_HOLDS_UTF8(&name))
			continue;
		s = bson_iter_utf8(&name, NULL);
		snprintf(hex, sizeof(hex), "%08x", hash_bytes((const unsigned char *) s, strlen(s)));
		if (strncmp(pgname + plen, hex, 8) == 0)
		{
			bson_iter_document(&it, spec_len, spec);
			return EXPLAIN_INDEX_SPEC;
		}
	}
	return EXPLAIN_INDEX_OTHER;
}

/* One interval of index bounds */
typedef struct BoundInterval
{
	const bson_iter_t *low;		/* NULL: the lowest */
	const bson_iter_t *high;	/* NULL: the highest */
	bool		low_incl;
	bool		high_incl;
	bool		numeric;		/* unbounded ends are -inf.0/inf.0 */
	bool		string;			/* unbounded ends are "" and {} */
} BoundInterval;

static void
BoundEndAppend(StringInfo buf, const bson_iter_t *v, const BoundInterval *b, bool low)
{
	if (v != NULL)
		BsonPrintValue(buf, v, BSON_JSON_RELAXED_PLAIN);
	else if (b->numeric)
		appendStringInfoString(buf, low ? "-inf.0" : "inf.0");
	else if (b->string)
		appendStringInfoString(buf, low ? "\"\"" : "{}");
	else
		appendStringInfoString(buf, low ? "MinKey" : "MaxKey");
}

/* Append an interval as MongoDB prints it, reversed for a descending key */
static void
BoundAppend(bson_t *arr, int *n, const BoundInterval *b, bool descending)
{
	StringInfoData buf;
	char		key[16];
	const char *keyp;

	initStringInfo(&buf);
	if (!descending)
	{
		appendStringInfoChar(&buf, b->low_incl ? '[' : '(');
		BoundEndAppend(&buf, b->low, b, true);
		appendStringInfoString(&buf, ", ");
		BoundEndAppend(&buf, b->high, b, false);
		appendStringInfoChar(&buf, b->high_incl ? ']' : ')');
	}
	else
	{
		appendStringInfoChar(&buf, b->high_incl ? '[' : '(');
		BoundEndAppend(&buf, b->high, b, false);
		appendStringInfoString(&buf, ", ");
		BoundEndAppend(&buf, b->low, b, true);
		appendStringInfoChar(&buf, b->low_incl ? ']' : ')');
	}
	bson_uint32_to_string((*n)++, &keyp, key, sizeof(key));
	BSON_APPEND_UTF8(arr, keyp, buf.data);
}

/* Whether a value may be an index bound of a point interval */
static bool
BoundPointValue(const bson_iter_t *v)
{
	return !BSON_ITER_HOLDS_REGEX(v) && !BSON_ITER_HOLDS_ARRAY(v);
}

/*
 * The bounds (an array of interval strings) of one key path for the
 * condition cond on it (NULL: none): equalities and $in give points,
 * $gt/$gte/$lt/$lte a range, anything else the whole key space.  A best
 * effort: the PostgreSQL index reads what its own index condition says.
 */
static void
BoundsForCondition(const bson_iter_t *cond, bool descending, bson_t *arr)
{
	BoundInterval all = {NULL, NULL, true, true, false, false};
	BoundInterval range = {NULL, NULL, true, true, false, false};
	bson_iter_t ops;
	bson_iter_t low,
				high;
	bool		has_range = false;
	int			n = 0;
	bson_t		points;
	int			npoints = 0;

	if (cond == NULL)
	{
		BoundAppend(arr, &n, &all, descending);
		return;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(cond) || !bson_iter_recurse(cond, &ops) ||
		!bson_iter_next(&ops) || bson_iter_key(&ops)[0] != '$')
	{
		BoundInterval point = {cond, cond, true, true, false, false};

		if (!BoundPointValue(cond))
			BoundAppend(arr, &n, &all, descending);
		else
			BoundAppend(arr, &n, &point, descending);
		return;
	}

	bson_init(&points);
	bson_iter_recurse(cond, &ops);
	while (bson_iter_next(&ops))
	{
		const char *op = bson_iter_key(&ops);

		if (strcmp(op, "$eq") == 0 && BoundPointValue(&ops))
		{
			bson_append_iter(&points, "", 0, &ops);
			npoints++;
		}
		else if (strcmp(op, "$in") == 0 && BSON_ITER_HOLDS_ARRAY(&ops))
		{
			bson_iter_t el;

			bson_iter_recurse(&ops, &el);
			while (bson_iter_next(&el))
			{
				if (!BoundPointValue(&el))
				{
					bson_destroy(&points);
					BoundAppend(arr, &n, &all, descending);
					return;
				}
				bson_append_iter(&points, "", 0, &el);
				npoints++;
			}
		}
		else if (strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0)
		{
			low = ops;
			range.low = &low;
			range.low_incl = op[3] == 'e';
			range.numeric = BsonIterIsNumber(&ops);
			range.string = BSON_ITER_HOLDS_UTF8(&ops);
			has_range = true;
		}
		else if (strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0)
		{
			high = ops;
			range.high = &high;
			range.high_incl = op[3] == 'e';
			range.numeric = BsonIterIsNumber(&ops);
			range.string = BSON_ITER_HOLDS_UTF8(&ops);
			has_range = true;
		}
		else
		{
			bson_destroy(&points);
			BoundAppend(arr, &n, &all, descending);
			return;
		}
	}
	if (npoints > 0)
	{
		bson_iter_t p;

		bson_iter_init(&p, &points);
		while (bson_iter_next(&p))
		{
			BoundInterval point = {&p, &p, true, true, false, false};

			BoundAppend(arr, &n, &point, descending);
		}
	}
	else if (has_range)
	{
		if (range.low == NULL && range.high != NULL)
			range.low_incl = true;
		if (range.high == NULL && range.low != NULL)
			range.high_incl = !range.string;
		BoundAppend(arr, &n, &range, descending);
	}
	else
		BoundAppend(arr, &n, &all, descending);
	bson_destroy(&points);
}

/* The condition of a filter on a path: at the top level or in a top-level $and */
static bool
FilterFindPath(const uint8_t *filter, uint32_t len, const char *path, bson_iter_t *cond)
{
	bson_t		f;
	bson_iter_t it;

	if (!bson_init_static(&f, filter, len) || !bson_iter_init(&it, &f))
		return false;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), path) == 0)
		{
			*cond = it;
			return true;
		}
		if (strcmp(bson_iter_key(&it), "$and") == 0 && BSON_ITER_HOLDS_ARRAY(&it))
		{
			bson_iter_t el;

			bson_iter_recurse(&it, &el);
			while (bson_iter_next(&el))
			{
				const uint8_t *data;
				uint32_t	dlen;

				if (!BSON_ITER_HOLDS_DOCUMENT(&el))
					continue;
				bson_iter_document(&el, &dlen, &data);
				if (FilterFindPath(data, dlen, path, cond))
					return true;
			}
		}
	}
	return false;
}

/* ---- the stages ---- */

/* COLLSCAN: the heap read in order (or backward) */
static void
StageCollscan(ExplainTranslation *t, const PgPlanNode *n, bool backward, bson_t *out)
{
	int64		returned = NodeTotal(n, n->rows);
	int64		examined = NodeTotal(n, n->rows + n->removed);

	BSON_APPEND_UTF8(out, "stage", "COLLSCAN");
	AppendFilter(t, out);
	AppendStageStats(t, out, returned, examined, n->time * n->loops);
	BSON_APPEND_UTF8(out, "direction", backward ? "backward" : "forward");
	if (t->stats)
	{
		AppendCount(out, "docsExamined", examined);
		t->docs_examined += examined;
	}
}

/* IXSCAN of an index: its spec's key pattern and name, bounds from the filter */
static void
StageIxscan(ExplainTranslation *t, const PgPlanNode *n, ExplainIndexKind kind,
			const uint8_t *spec, uint32_t spec_len, int64 keys, bson_t *out)
{
	static const uint8_t id_key[] = {
		/* {"_id": 1} */
		14, 0, 0, 0, 16, '_', 'i', 'd', 0, 1, 0, 0, 0, 0
	};
	const uint8_t *key = id_key;
	uint32_t	key_len = sizeof(id_key);
	const char *name = "_id_";
	bool		unique = kind == EXPLAIN_INDEX_ID;
	bool		sparse = false;
	bool		partial = false;
	bson_t		keydoc;
	bson_iter_t it;
	bson_t		sub;

	if (kind == EXPLAIN_INDEX_SPEC)
	{
		bson_t		s;

		bson_init_static(&s, spec, spec_len);
		bson_iter_init(&it, &s);
		while (bson_iter_next(&it))
		{
			const char *k = bson_iter_key(&it);

			if (strcmp(k, "key") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
				bson_iter_document(&it, &key_len, &key);
			else if (strcmp(k, "name") == 0 && BSON_ITER_HOLDS_UTF8(&it))
				name = bson_iter_utf8(&it, NULL);
			else if (strcmp(k, "unique") == 0)
				unique = bson_iter_as_bool(&it);
			else if (strcmp(k, "sparse") == 0)
				sparse = bson_iter_as_bool(&it);
			else if (strcmp(k, "partialFilterExpression") == 0)
				partial = true;
		}
	}
	else if (kind == EXPLAIN_INDEX_OTHER)
		name = n->index;

	BSON_APPEND_UTF8(out, "stage", "IXSCAN");
	AppendStageStats(t, out, keys, keys, n->time * n->loops);
	bson_init_static(&keydoc, key, key_len);
	BSON_APPEND_DOCUMENT(out, "keyPattern", &keydoc);
	BSON_APPEND_UTF8(out, "indexName", name);
	BSON_APPEND_BOOL(out, "isMultiKey", false);
	BSON_APPEND_DOCUMENT_BEGIN(out, "multiKeyPaths", &sub);
	bson_iter_init(&it, &keydoc);
	while (bson_iter_next(&it))
	{
		bson_t		empty;

		bson_append_array_begin(&sub, bson_iter_key(&it), -1, &empty);
		bson_append_array_end(&sub, &empty);
	}
	bson_append_document_end(out, &sub);
	BSON_APPEND_BOOL(out, "isUnique", unique);
	BSON_APPEND_BOOL(out, "isSparse", sparse);
	BSON_APPEND_BOOL(out, "isPartial", partial);
	BSON_APPEND_INT32(out, "indexVersion", 2);
	BSON_APPEND_UTF8(out, "direction", n->backward ? "backward" : "forward");
	BSON_APPEND_DOCUMENT_BEGIN(out, "indexBounds", &sub);
	bson_iter_init(&it, &keydoc);
	while (bson_iter_next(&it))
	{
		bson_iter_t cond;
		bson_t		arr;
		bool		descending = BsonIterIsNumber(&it) && bson_iter_as_double(&it) < 0;

		bson_append_array_begin(&sub, bson_iter_key(&it), -1, &arr);
		BoundsForCondition(FilterFindPath(t->q->spec.filter, t->q->spec.filter_len,
										  bson_iter_key(&it), &cond) ? &cond : NULL,
						   descending != n->backward, &arr);
		bson_append_array_end(&sub, &arr);
	}
	bson_append_document_end(out, &sub);
	if (t->stats)
	{
		AppendCount(out, "keysExamined", keys);
		BSON_APPEND_INT32(out, "seeks", 1);
		BSON_APPEND_INT32(out, "dupsTested", 0);
		BSON_APPEND_INT32(out, "dupsDropped", 0);
		t->keys_examined += keys;
	}
}

/* An Index Scan or Index Only Scan */
static void
StageIndexScan(ExplainTranslation *t, const PgPlanNode *n, bson_t *out)
{
	const Collection *coll = t->q->spec.coll;
	const uint8_t *spec = NULL;
	uint32_t	spec_len = 0;
	ExplainIndexKind kind = ExplainIndexLookup(coll, n->index, &spec, &spec_len);
	int64		returned = NodeTotal(n, n->rows);
	int64		fetched = NodeTotal(n, n->rows + n->removed);
	bson_t		child;

	if (kind == EXPLAIN_INDEX_OTHER)
	{
		/* an index MongoDB has not (a capped collection's _seq): its order */
		StageCollscan(t, n, n->backward, out);
		return;
	}
	if (kind == EXPLAIN_INDEX_ID && IsIdPointQuery(t->q))
	{
		/* MongoDB 8 reads a find by _id on its express path */
		bool		express = strcmp(t->q->command, "find") == 0;

		BSON_APPEND_UTF8(out, "stage", express ? "EXPRESS_IXSCAN" : "IDHACK");
		AppendStageStats(t, out, returned, fetched, n->time * n->loops);
		if (express)
		{
			BSON_APPEND_UTF8(out, "keyPattern", "{ _id: 1 }");
			BSON_APPEND_UTF8(out, "indexName", "_id_");
		}
		if (t->stats)
		{
			AppendCount(out, "keysExamined", fetched);
			AppendCount(out, "docsExamined", fetched);
			t->keys_examined += fetched;
			t->docs_examined += fetched;
		}
		return;
	}
	BSON_APPEND_UTF8(out, "stage", "FETCH");
	AppendFilter(t, out);
	AppendStageStats(t, out, returned, fetched, n->time * n->loops);
	if (t->stats)
	{
		AppendCount(out, "docsExamined", fetched);
		BSON_APPEND_INT32(out, "alreadyHasObj", 0);
		t->docs_examined += fetched;
	}
	BSON_APPEND_DOCUMENT_BEGIN(out, "inputStage", &child);
	StageIxscan(t, n, kind, spec, spec_len, fetched, &child);
	bson_append_document_end(out, &child);
}

/* A Bitmap Heap Scan: FETCH over the stages of its bitmap */
static void
StageBitmapHeapScan(ExplainTranslation *t, const PgPlanNode *n, bson_t *out)
{
	int64		returned = NodeTotal(n, n->rows);
	int64		examined = NodeTotal(n, n->rows + n->removed);

	BSON_APPEND_UTF8(out, "stage", "FETCH");
	AppendFilter(t, out);
	AppendStageStats(t, out, returned, examined, n->time * n->loops);
	if (t->stats)
	{
		AppendCount(out, "docsExamined", examined);
		BSON_APPEND_INT32(out, "alreadyHasObj", 0);
		t->docs_examined += examined;
	}
	AppendInputStage(t, n, out);
}

/* A Bitmap Index Scan: IXSCAN of its index */
static void
StageBitmapIndexScan(ExplainTranslation *t, const PgPlanNode *n, bson_t *out)
{
	const uint8_t *spec = NULL;
	uint32_t	spec_len = 0;
	ExplainIndexKind kind = ExplainIndexLookup(t->q->spec.coll, n->index, &spec, &spec_len);

	StageIxscan(t, n, kind, spec, spec_len, NodeTotal(n, n->rows), out);
}

/*
 * Whether a plan node is the "key IS NULL" scan of an ordered index
 * (src/indexes.c: the documents with arrays, rechecked by the matcher),
 * which MongoDB's plan has no stage for: the multikey part of the same
 * IXSCAN.
 */
static bool
IsNullKeyScan(const uint8_t *data, uint32_t len)
{
	bson_t		node;
	bson_iter_t it;
	const char *cond;

	if (!bson_init_static(&node, data, len) || !bson_iter_init_find(&it, &node, "Index Cond") ||
		!BSON_ITER_HOLDS_UTF8(&it))
		return false;
	cond = bson_iter_utf8(&it, NULL);
	return strstr(cond, "bson_index_key(") != NULL && strstr(cond, " IS NULL)") != NULL &&
		strstr(cond, " AND ") == NULL;
}

/* BitmapOr, BitmapAnd: OR, AND_SORTED over their children */
static void
StageBitmapSet(ExplainTranslation *t, const PgPlanNode *n, const char *stage, bson_t *out)
{
	bson_t		arr;
	const uint8_t *data;
	uint32_t	len;

	/*
	 * An index's key range OR its NULL keys is one IXSCAN in MongoDB's
	 * terms: the NULL-key scans are left out of an OR that has others.
	 */
	bool		skip_nulls = false;

	if (strcmp(stage, "OR") == 0)
	{
		int			others = 0;
		int			nulls = 0;
		const uint8_t *kept = NULL;
		uint32_t	kept_len = 0;

		for (int i = 0; PgPlanChild(n, i, &data, &len); i++)
		{
			if (IsNullKeyScan(data, len))
				nulls++;
			else
			{
				others++;
				kept = data;
				kept_len = len;
			}
		}
		if (nulls > 0 && others == 1)
		{
			TranslateNode(t, kept, kept_len, out);
			return;
		}
		skip_nulls = nulls > 0 && others > 1;
	}

	BSON_APPEND_UTF8(out, "stage", stage);
	AppendStageStats(t, out, NodeTotal(n, n->rows), NodeTotal(n, n->rows),
					 n->time * n->loops);
	BSON_APPEND_ARRAY_BEGIN(out, "inputStages", &arr);
	for (int i = 0, j = 0; PgPlanChild(n, i, &data, &len); i++)
	{
		char		key[16];
		const char *keyp;
		bson_t		child;

		if (skip_nulls && IsNullKeyScan(data, len))
			continue;
		bson_uint32_to_string(j++, &keyp, key, sizeof(key));
		BSON_APPEND_DOCUMENT_BEGIN(&arr, keyp, &child);
		TranslateNode(t, data, len, &child);
		bson_append_document_end(&arr, &child);
	}
	bson_append_array_end(out, &arr);
}

/* Whether a Sort node is a sort MongoDB shows (not the natural order's) */
static bool
IsMongoSort(const ExplainTranslation *t, const PgPlanNode *n)
{
	const FindSpec *spec = &t->q->spec;

	return (strcmp(n->type, "Sort") == 0 || strcmp(n->type, "Incremental Sort") == 0) &&
		spec->compiled_sort != NULL && !BsonSortIsNatural(spec->compiled_sort);
}

/* SORT: the sort's pattern; limitAmount when a limit keeps its top only */
static void
StageSort(ExplainTranslation *t, const PgPlanNode *n, int64 limit, bson_t *out)
{
	bson_t		pattern;

	BSON_APPEND_UTF8(out, "stage", "SORT");
	AppendStageStats(t, out, NodeTotal(n, n->rows), NodeTotal(n, n->rows), n->time * n->loops);
	bson_init_static(&pattern, t->q->spec.sort, t->q->spec.sort_len);
	BSON_APPEND_DOCUMENT(out, "sortPattern", &pattern);
	BSON_APPEND_INT32(out, "memLimit", EXPLAIN_MEM_LIMIT);
	if (limit > 0)
		AppendCount(out, "limitAmount", limit);
	BSON_APPEND_UTF8(out, "type", "simple");
	if (t->stats)
	{
		BSON_APPEND_INT32(out, "totalDataSizeSorted", 0);
		BSON_APPEND_BOOL(out, "usedDisk", n->disk);
		BSON_APPEND_INT32(out, "spills", n->disk ? 1 : 0);
	}
	AppendInputStage(t, n, out);
}

/*
 * A Limit (the skip and limit of a find): LIMIT over SKIP over the input;
 * over a sort, SKIP over a SORT that keeps skip + limit documents.  The
 * writes and count show none (their own stage stops or counts).
 */
static void
StageLimit(ExplainTranslation *t, const PgPlanNode *n, bson_t *out)
{
	int64		skip = t->q->spec.skip;
	int64		limit = t->q->spec.limit;
	int64		returned = NodeTotal(n, n->rows);
	const uint8_t *data;
	uint32_t	len;
	PgPlanNode	child;
	bson_t		inner;
	bson_t	   *at = out;

	if (!PgPlanChild(n, 0, &data, &len))
	{
		BSON_APPEND_UTF8(out, "stage", "EOF");
		return;
	}
	if (t->q->is_update || t->q->is_delete || strcmp(t->q->command, "count") == 0)
	{
		TranslateNode(t, data, len, out);
		return;
	}
	PgPlanNodeRead(data, len, &child);
	if (IsMongoSort(t, &child))
	{
		if (skip > 0)
		{
			BSON_APPEND_UTF8(out, "stage", "SKIP");
			AppendStageStats(t, out, returned, returned + skip, n->time * n->loops);
			AppendCount(out, "skipAmount", skip);
			BSON_APPEND_DOCUMENT_BEGIN(out, "inputStage", &inner);
			StageSort(t, &child, limit > 0 ? skip + limit : 0, &inner);
			bson_append_document_end(out, &inner);
		}
		else
			StageSort(t, &child, limit, out);
		return;
	}
	if (limit > 0)
	{
		BSON_APPEND_UTF8(out, "stage", "LIMIT");
		AppendStageStats(t, out, returned, returned, n->time * n->loops);
		AppendCount(out, "limitAmount", limit);
		if (skip > 0)
		{
			BSON_APPEND_DOCUMENT_BEGIN(out, "inputStage", &inner);
			at = &inner;
		}
	}
	if (skip > 0)
	{
		BSON_APPEND_UTF8(at, "stage", "SKIP");
		AppendStageStats(t, at, returned, returned + skip, n->time * n->loops);
		AppendCount(at, "skipAmount", skip);
	}
	AppendInputStage(t, n, at);
	if (at != out)
		bson_append_document_end(out, at);
}

/*
 * Translate a PostgreSQL plan node (and its children) into MongoDB's
 * stage, appended to out.
 */
static void
TranslateNode(ExplainTranslation *t, const uint8_t *data, uint32_t len, bson_t *out)
{
	PgPlanNode	n;

	check_stack_depth();
	PgPlanNodeRead(data, len, &n);
	if (strcmp(n.type, "Seq Scan") == 0)
		StageCollscan(t, &n, t->backward, out);
	else if (strcmp(n.type, "Index Scan") == 0 || strcmp(n.type, "Index Only Scan") == 0)
		StageIndexScan(t, &n, out);
	else if (strcmp(n.type, "Bitmap Heap Scan") == 0)
		StageBitmapHeapScan(t, &n, out);
	else if (strcmp(n.type, "Bitmap Index Scan") == 0)
		StageBitmapIndexScan(t, &n, out);
	else if (strcmp(n.type, "BitmapOr") == 0)
		StageBitmapSet(t, &n, "OR", out);
	else if (strcmp(n.type, "BitmapAnd") == 0)
		StageBitmapSet(t, &n, "AND_SORTED", out);
	else if (IsMongoSort(t, &n))
		StageSort(t, &n, 0, out);
	else if (strcmp(n.type, "Limit") == 0)
		StageLimit(t, &n, out);
	else if (n.plans != NULL)
	{
		/* no stage of its own (LockRows, Gather, a count's Aggregate...) */
		const uint8_t *child;
		uint32_t	child_len;

		if (PgPlanChild(&n, 0, &child, &child_len))
			TranslateNode(t, child, child_len, out);
	}
	else if (strcmp(n.type, "Result") == 0)
	{
		/* a query the planner proved empty */
		BSON_APPEND_UTF8(out, "stage", "EOF");
		AppendStageStats(t, out, 0, 0, 0);
	}
	else
	{
		BSON_APPEND_UTF8(out, "stage", n.type);
		AppendStageStats(t, out, NodeTotal(&n, n.rows), NodeTotal(&n, n.rows),
						 n.time * n.loops);
	}
}

/* Whether a projection only includes or excludes top-level fields */
static bool
ProjectionIsSimple(const uint8_t *data, uint32_t len)
{
	bson_t		p;
	bson_iter_t it;

	if (!bson_init_static(&p, data, len) || !bson_iter_init(&it, &p))
		return false;
	while (bson_iter_next(&it))
		if (strchr(bson_iter_key(&it), '.') != NULL || bson_iter_key(&it)[0] == '$' ||
			(!BsonIterIsNumber(&it) && !BSON_ITER_HOLDS_BOOL(&it)))
			return false;
	return true;
}

/*
 * The root stage of the explained command over the translated plan
 * (plan NULL: the collection does not exist, EOF).  *returned is set to
 * the documents the command returns (executionStats.nReturned).
 */
static void
TranslateRoot(ExplainTranslation *t, const uint8_t *plan, uint32_t plan_len, bson_t *out,
			  int64 *returned)
{
	const ExplainQuery *q = t->q;
	PgPlanNode	root;
	int64		rows = 0;
	bson_t		child;
	bson_t	   *at = out;
	bool		wrapped = true;

	if (plan != NULL)
	{
		PgPlanNodeRead(plan, plan_len, &root);
		rows = NodeTotal(&root, root.rows);
	}
	BSON_APPEND_BOOL(out, "isCached", false);
	if (strcmp(q->command, "count") == 0)
	{
		const uint8_t *data;
		uint32_t	len;
		PgPlanNode	counted;
		int64		n = 0;

		/* the count(*) of the rows of its subquery */
		if (plan != NULL && PgPlanChild(&root, 0, &data, &len))
		{
			PgPlanNodeRead(data, len, &counted);
			n = NodeTotal(&counted, counted.rows);
		}
		*returned = 0;
		if (plan != NULL && FilterIsEmpty(q) && q->spec.skip == 0 && q->spec.limit == 0)
		{
			BSON_APPEND_UTF8(out, "stage", "RECORD_STORE_FAST_COUNT");
			AppendStageStats(t, out, 0, 0, root.time);
			if (t->stats)
				AppendCount(out, "nCounted", n);
			return;
		}
		BSON_APPEND_UTF8(out, "stage", "COUNT");
		AppendStageStats(t, out, 0, n, plan ? root.time : 0);
		if (q->spec.limit > 0)
			AppendCount(out, "limitAmount", q->spec.limit);
		if (q->spec.skip > 0)
			AppendCount(out, "skipAmount", q->spec.skip);
		if (t->stats)
		{
			AppendCount(out, "nCounted", n);
			AppendCount(out, "nSkipped", Min(q->spec.skip, rows));
		}
	}
	else if (q->is_update)
	{
		*returned = 0;
		BSON_APPEND_UTF8(out, "stage", "UPDATE");
		AppendStageStats(t, out, 0, rows, plan ? root.time : 0);
		if (t->stats)
		{
			AppendCount(out, "nMatched", rows);
			AppendCount(out, "nWouldModify", t->would_modify >= 0 ? t->would_modify : rows);
			AppendCount(out, "nWouldUpsert", rows == 0 && q->upsert ? 1 : 0);
		}
	}
	else if (q->is_delete)
	{
		*returned = 0;
		BSON_APPEND_UTF8(out, "stage", "DELETE");
		AppendStageStats(t, out, 0, rows, plan ? root.time : 0);
		if (t->stats)
			AppendCount(out, "nWouldDelete", rows);
	}
	else if (q->spec.projection != NULL && q->spec.projection_len > 5 &&
			 strcmp(q->command, "find") == 0)
	{
		bson_t		p;

		*returned = rows;
		BSON_APPEND_UTF8(out, "stage",
						 ProjectionIsSimple(q->spec.projection, q->spec.projection_len) ?
						 "PROJECTION_SIMPLE" : "PROJECTION_DEFAULT");
		AppendStageStats(t, out, rows, rows, plan ? root.time : 0);
		bson_init_static(&p, q->spec.projection, q->spec.projection_len);
		BSON_APPEND_DOCUMENT(out, "transformBy", &p);
	}
	else
	{
		*returned = rows;
		wrapped = false;
	}

	if (wrapped)
	{
		BSON_APPEND_DOCUMENT_BEGIN(out, "inputStage", &child);
		at = &child;
	}
	if (plan != NULL)
		TranslateNode(t, plan, plan_len, at);
	else
	{
		BSON_APPEND_UTF8(at, "stage", "EOF");
		AppendStageStats(t, at, 0, 0, 0);
		BSON_APPEND_UTF8(at, "type", "nonExistentNamespace");
	}
	if (wrapped)
		bson_append_document_end(out, at);
}

/* ---- parsing the explained commands ---- */

/* find, as CmdFind reads it */
static void
ExplainParseFind(CommandContext *ctx, ExplainQuery *q)
{
	bson_iter_t it = ctx->first;
	bool		tailable = false,
				await_data = false,
				single_batch = false;

	q->select = "document";
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "filter") == 0)
			FieldDocument("find", &it, &q->spec.filter, &q->spec.filter_len);
		else if (BSON_ITER_HOLDS_NULL(&it) &&
				 (strcmp(key, "projection") == 0 || strcmp(key, "sort") == 0 ||
				  strcmp(key, "skip") == 0 || strcmp(key, "limit") == 0 ||
				  strcmp(key, "batchSize") == 0 || strcmp(key, "collation") == 0))
			continue;
		else if (strcmp(key, "projection") == 0)
			FieldDocument("find", &it, &q->spec.projection, &q->spec.projection_len);
		else if (strcmp(key, "sort") == 0)
			FieldDocument("find", &it, &q->spec.sort, &q->spec.sort_len);
		else if (strcmp(key, "skip") == 0)
			q->spec.skip = FieldNonNegativeCode("find", &it, MONGO_BAD_VALUE);
		else if (strcmp(key, "limit") == 0)
			q->spec.limit = FieldNonNegativeCode("find", &it, MONGO_BAD_VALUE);
		else if (strcmp(key, "batchSize") == 0)
			(void) FieldNonNegative("find", &it);
		else if (strcmp(key, "collation") == 0)
			FieldDocument("find", &it, &q->spec.collation, &q->spec.collation_len);
		else if (strcmp(key, "tailable") == 0)
			tailable = FieldBool("find", &it);
		else if (strcmp(key, "awaitData") == 0)
			await_data = FieldBool("find", &it);
		else if (strcmp(key, "singleBatch") == 0)
			single_batch = FieldBool("find", &it);
		else if (strcmp(key, "hint") == 0)
		{
			q->hint = it;
			q->has_hint = true;
		}
		else if (strcmp(key, "min") == 0)
			FieldDocument("find", &it, &q->spec.min, &q->spec.min_len);
		else if (strcmp(key, "max") == 0)
			FieldDocument("find", &it, &q->spec.max, &q->spec.max_len);
		else if (strcmp(key, "let") == 0 || strcmp(key, "allowDiskUse") == 0 ||
				 strcmp(key, "noCursorTimeout") == 0 || strcmp(key, "returnKey") == 0 ||
				 strcmp(key, "showRecordId") == 0 || strcmp(key, "allowPartialResults") == 0 ||
				 strcmp(key, "oplogReplay") == 0 || strcmp(key, "readOnce") == 0 ||
				 strcmp(key, "term") == 0 || GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'find.%s' is an unknown field.",
					   key);
	}
	if (await_data && !tailable)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Cannot set 'awaitData' without also setting 'tailable'");
	if (tailable && single_batch)
		MongoRaise(MONGO_BAD_VALUE, "Cannot set both 'tailable' and 'singleBatch'");
}

/* count, as CmdCount reads it */
static void
ExplainParseCount(CommandContext *ctx, ExplainQuery *q)
{
	bson_iter_t it = ctx->first;

	q->select = "1";
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it) &&
			(strcmp(key, "query") == 0 || strcmp(key, "skip") == 0 ||
			 strcmp(key, "limit") == 0 || strcmp(key, "collation") == 0))
			continue;
		else if (strcmp(key, "query") == 0)
			FieldDocument("count", &it, &q->spec.filter, &q->spec.filter_len);
		else if (strcmp(key, "skip") == 0)
			q->spec.skip = FieldNonNegative("count", &it);
		else if (strcmp(key, "limit") == 0)
		{
			int64		v;

			if (!BsonIterIsNumber(&it))
				RaiseWrongType("count", &it, "[long, int, decimal, double]");
			if (!BsonIterAsInt64(&it, &v))
				MongoRaise(MONGO_BAD_VALUE, "limit must be a whole number");
			q->spec.limit = v < 0 ? -v : v;
		}
		else if (strcmp(key, "collation") == 0)
			FieldDocument("count", &it, &q->spec.collation, &q->spec.collation_len);
		else if (strcmp(key, "hint") == 0)
		{
			q->hint = it;
			q->has_hint = true;
		}
		else if (strcmp(key, "fields") == 0 || strcmp(key, "encryptionInformation") == 0 ||
				 GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'count.%s' is an unknown field.",
					   key);
	}
}

/* distinct, as CmdDistinct reads it */
static void
ExplainParseDistinct(CommandContext *ctx, ExplainQuery *q)
{
	bson_iter_t it = ctx->first;
	const char *key = NULL;

	q->select = "document";
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "key") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&it))
				RaiseWrongType("distinct", &it, "string");
			key = bson_iter_utf8(&it, NULL);
		}
		else if (BSON_ITER_HOLDS_NULL(&it) &&
				 (strcmp(k, "query") == 0 || strcmp(k, "collation") == 0))
			continue;
		else if (strcmp(k, "query") == 0)
			FieldDocument("distinct", &it, &q->spec.filter, &q->spec.filter_len);
		else if (strcmp(k, "collation") == 0)
			FieldDocument("distinct", &it, &q->spec.collation, &q->spec.collation_len);
		else if (strcmp(k, "hint") == 0 || GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'distinct.%s' is an unknown field.",
					   k);
	}
	if (key == NULL)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'distinct.key' is missing but a required field");
	if (key[0] == '\0')
		MongoRaise(MONGO_BAD_VALUE, "FieldPath cannot be constructed with empty string");
}

/*
 * Check an update (u) as the update command would compile it, and keep it
 * for counting the documents it would modify.
 */
static void
ExplainCheckUpdate(ExplainQuery *q, const bson_iter_t *it, const uint8_t *af, uint32_t aflen)
{
	const uint8_t *u;
	uint32_t	ulen;
	BsonQueryError error = {0};

	if (BSON_ITER_HOLDS_ARRAY(it))
	{
		bson_iter_array(it, &ulen, &u);
		if (PipelineUpdateCheck(&u, &ulen))
			MongoRaise(MONGO_NOT_IMPLEMENTED,
					   "explain of a pipeline-style update is not supported yet");
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(it))
		bson_iter_document(it, &ulen, &u);
	else
		MongoRaise(MONGO_FAILED_TO_PARSE, "Update argument must be either an object or an array");
	if (BsonUpdateCompile(u, ulen, af, aflen, &error) == NULL)
		MongoRaise(error.code, "%s", error.message);
	q->update = u;
	q->update_len = ulen;
	q->array_filters = af;
	q->array_filters_len = aflen;
}

/*
 * The one statement of an explained update or delete: MongoDB explains a
 * batch of exactly one.
 */
static void
ExplainOneStatement(CommandContext *ctx, const char *array_field, bson_iter_t *statement)
{
	bson_iter_t statements;
	bool		ordered = true;
	bool		bypass = false;
	bson_iter_t next;

	WriteCommandArgs(ctx, array_field, &statements, &ordered, &bypass, true);
	if (!bson_iter_next(&statements))
		MongoRaise(MONGO_INVALID_LENGTH, "explained write batches must be of size 1");
	*statement = statements;
	next = statements;
	if (bson_iter_next(&next))
		MongoRaise(MONGO_INVALID_LENGTH, "explained write batches must be of size 1");
	if (!BSON_ITER_HOLDS_DOCUMENT(statement))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field '%s.%s.0' is the wrong type '%s', expected type 'object'",
				   ctx->name, array_field, BsonTypeName(bson_iter_type(statement)));
}

/* update: its one statement */
static void
ExplainParseUpdate(CommandContext *ctx, ExplainQuery *q)
{
	bson_iter_t statement;
	bson_iter_t f;
	bson_iter_t u;
	bool		has_q = false,
				has_u = false,
				multi = false;
	const uint8_t *af = NULL;
	uint32_t	aflen = 0;

	memset(&u, 0, sizeof(u));
	ExplainOneStatement(ctx, "updates", &statement);
	q->select = "document";
	q->is_update = true;
	bson_iter_recurse(&statement, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "q") == 0)
		{
			FieldDocument("update.updates", &f, &q->spec.filter, &q->spec.filter_len);
			has_q = true;
		}
		else if (strcmp(k, "u") == 0)
		{
			u = f;
			has_u = true;
		}
		else if (strcmp(k, "upsert") == 0)
			q->upsert = FieldBool("update.updates", &f);
		else if (strcmp(k, "multi") == 0)
			multi = FieldBool("update.updates", &f);
		else if (strcmp(k, "sort") == 0)
			FieldDocument("update.updates", &f, &q->spec.sort, &q->spec.sort_len);
		else if (strcmp(k, "arrayFilters") == 0)
		{
			if (!BSON_ITER_HOLDS_ARRAY(&f))
				RaiseWrongType("update.updates", &f, "array");
			bson_iter_array(&f, &aflen, &af);
		}
		else if (strcmp(k, "collation") == 0)
			FieldDocument("update.updates", &f, &q->spec.collation, &q->spec.collation_len);
		else if (strcmp(k, "hint") == 0)
		{
			q->hint = f;
			q->has_hint = true;
		}
		else if (strcmp(k, "c") == 0 || strcmp(k, "upsertSupplied") == 0 ||
				 strcmp(k, "sampleId") == 0)
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'update.updates.%s' is an unknown field.", k);
	}
	if (!has_q)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'update.updates.q' is missing but a required field");
	if (!has_u)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'update.updates.u' is missing but a required field");
	if (multi && q->spec.sort != NULL)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Cannot specify sort with multi=true");
	ExplainCheckUpdate(q, &u, af, aflen);
	if (!multi)
		q->spec.limit = 1;
}

/* delete: its one statement */
static void
ExplainParseDelete(CommandContext *ctx, ExplainQuery *q)
{
	bson_iter_t statement;
	bson_iter_t f;
	bool		has_q = false,
				has_limit = false;

	ExplainOneStatement(ctx, "deletes", &statement);
	q->select = "_id";
	q->is_delete = true;
	bson_iter_recurse(&statement, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "q") == 0)
		{
			FieldDocument("delete.deletes", &f, &q->spec.filter, &q->spec.filter_len);
			has_q = true;
		}
		else if (strcmp(k, "limit") == 0)
		{
			int64		v;

			if (!BsonIterIsNumber(&f))
				RaiseWrongType("delete.deletes", &f, "[long, int, decimal, double]");
			if (!BsonIterAsInt64(&f, &v) || (v != 0 && v != 1))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "The limit field in delete objects must be 0 or 1. Got %s",
						   BsonIterAsInt64(&f, &v) ? psprintf(INT64_FORMAT, v) : "a fraction");
			q->spec.limit = v;
			has_limit = true;
		}
		else if (strcmp(k, "collation") == 0)
			FieldDocument("delete.deletes", &f, &q->spec.collation, &q->spec.collation_len);
		else if (strcmp(k, "hint") == 0)
		{
			q->hint = f;
			q->has_hint = true;
		}
		else if (strcmp(k, "sampleId") == 0)
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'delete.deletes.%s' is an unknown field.", k);
	}
	if (!has_q)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'delete.deletes.q' is missing but a required field");
	if (!has_limit)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'delete.deletes.limit' is missing but a required field");
}

/* findAndModify, as CmdFindAndModify reads it */
static void
ExplainParseFindAndModify(CommandContext *ctx, ExplainQuery *q)
{
	bson_iter_t it = ctx->first;
	bson_iter_t update;
	bool		has_update = false,
				remove = false,
				return_new = false;
	const uint8_t *af = NULL;
	uint32_t	aflen = 0;
	BsonQueryError error = {0};

	memset(&update, 0, sizeof(update));
	q->select = "document";
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		/* null is an absent field, as CmdFindAndModify takes it */
		if (BSON_ITER_HOLDS_NULL(&it) &&
			(strcmp(key, "query") == 0 || strcmp(key, "sort") == 0 ||
			 strcmp(key, "fields") == 0 || strcmp(key, "update") == 0 ||
			 strcmp(key, "remove") == 0 || strcmp(key, "new") == 0 ||
			 strcmp(key, "upsert") == 0 || strcmp(key, "arrayFilters") == 0 ||
			 strcmp(key, "bypassDocumentValidation") == 0 ||
			 strcmp(key, "collation") == 0 || strcmp(key, "let") == 0))
			continue;
		if (strcmp(key, "query") == 0)
			FieldDocument("findAndModify", &it, &q->spec.filter, &q->spec.filter_len);
		else if (strcmp(key, "sort") == 0)
			FieldDocument("findAndModify", &it, &q->spec.sort, &q->spec.sort_len);
		else if (strcmp(key, "fields") == 0)
		{
			const uint8_t *p;
			uint32_t	plen;

			FieldDocument("findAndModify", &it, &p, &plen);
			if (plen > 5 && BsonProjectionCompile(p, plen, &error) == NULL)
				MongoRaise(error.code, "%s", error.message);
		}
		else if (strcmp(key, "update") == 0)
		{
			update = it;
			has_update = true;
		}
		else if (strcmp(key, "remove") == 0)
			remove = FieldBool("findAndModify", &it);
		else if (strcmp(key, "new") == 0)
			return_new = FieldBool("findAndModify", &it);
		else if (strcmp(key, "upsert") == 0)
			q->upsert = FieldBool("findAndModify", &it);
		else if (strcmp(key, "arrayFilters") == 0)
		{
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				RaiseWrongType("findAndModify", &it, "array");
			bson_iter_array(&it, &aflen, &af);
		}
		else if (strcmp(key, "bypassDocumentValidation") == 0)
			(void) FieldBool("findAndModify", &it);
		else if (strcmp(key, "collation") == 0)
			FieldDocument("findAndModify", &it, &q->spec.collation, &q->spec.collation_len);
		else if (strcmp(key, "let") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				RaiseWrongType("findAndModify", &it, "object");
		}
		else if (strcmp(key, "hint") == 0)
		{
			q->hint = it;
			q->has_hint = true;
		}
		else if (strcmp(key, "stmtId") == 0 || strcmp(key, "collectionUUID") == 0 ||
				 strcmp(key, "encryptionInformation") == 0 ||
				 strcmp(key, "isTimeseriesNamespace") == 0 || GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'findAndModify.%s' is an unknown field.", key);
	}
	if (remove && has_update)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Cannot specify both an update and remove=true");
	if (!remove && !has_update)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Either an update or remove=true must be specified");
	if (remove && q->upsert)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Cannot specify both upsert=true and remove=true ");
	if (remove && return_new)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document");
	if (has_update)
		ExplainCheckUpdate(q, &update, af, aflen);
	q->is_update = !remove;
	q->is_delete = remove;
	q->spec.limit = 1;
}

/* Whether a key pattern has a geospatial key on path */
static bool
KeyPatternIsGeo(const uint8_t *key, uint32_t len, const char *path)
{
	bson_t		k;
	bson_iter_t it;

	if (!bson_init_static(&k, key, len) || !bson_iter_init(&it, &k))
		return false;
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), path) == 0 && BSON_ITER_HOLDS_UTF8(&it) &&
			(strcmp(bson_iter_utf8(&it, NULL), "2dsphere") == 0 ||
			 strcmp(bson_iter_utf8(&it, NULL), "2d") == 0))
			return true;
	return false;
}

/*
 * A $near query is answered by a geospatial index only: a hint of another
 * index leaves MongoDB's planner without a plan (NoQueryExecutionPlans).
 */
static void
ExplainCheckNearHint(const ExplainQuery *q)
{
	BsonNearSpec near;
	const uint8_t *key = NULL;
	uint32_t	key_len = 0;

	if (!q->has_hint || q->spec.compiled_filter == NULL ||
		!BsonFilterGetNear(q->spec.compiled_filter, &near))
		return;
	if (BSON_ITER_HOLDS_DOCUMENT(&q->hint))
		bson_iter_document(&q->hint, &key_len, &key);
	else if (BSON_ITER_HOLDS_UTF8(&q->hint) && q->spec.coll != NULL)
	{
		const char *name = bson_iter_utf8(&q->hint, NULL);
		bson_iter_t it;

		bson_iter_init(&it, q->spec.coll->indexes);
		while (key == NULL && bson_iter_next(&it))
		{
			bson_iter_t f;
			bson_iter_t k;

			if (bson_iter_recurse(&it, &f) && bson_iter_find(&f, "name") &&
				BSON_ITER_HOLDS_UTF8(&f) && strcmp(bson_iter_utf8(&f, NULL), name) == 0 &&
				bson_iter_recurse(&it, &k) && bson_iter_find(&k, "key") &&
				BSON_ITER_HOLDS_DOCUMENT(&k))
				bson_iter_document(&k, &key_len, &key);
		}
	}
	if (key == NULL || !KeyPatternIsGeo(key, key_len, near.path))
		MongoRaise(MONGO_NO_QUERY_EXECUTION_PLANS,
				   "error processing query: planner returned error :: caused by :: unable to find index for $geoNear query");
}

/* ---- the command ---- */

/* The verbosity field: one of MongoDB's three names */
static ExplainVerbosity
ExplainParseVerbosity(const bson_iter_t *it)
{
	const char *v;

	if (!BSON_ITER_HOLDS_UTF8(it))
		RaiseWrongType("explain", it, "string");
	v = bson_iter_utf8(it, NULL);
	if (strcmp(v, "queryPlanner") == 0)
		return EXPLAIN_QUERY_PLANNER;
	if (strcmp(v, "executionStats") == 0)
		return EXPLAIN_EXECUTION_STATS;
	if (strcmp(v, "allPlansExecution") == 0)
		return EXPLAIN_ALL_PLANS_EXECUTION;
	MongoRaise(MONGO_BAD_VALUE,
			   "Enumeration value '%s' for field 'explain.verbosity' is not a valid value.", v);
}

/*
 * Run EXPLAIN (FORMAT JSON) of the query with its parameters; the plan
 * document PostgreSQL returns ({Plan, Planning Time, ...}), in the
 * caller's memory.
 */
/* The index the explained command hints (see HintSettingsPush), or NULL */
static const char *explain_hint = NULL;
static const Collection *explain_coll = NULL;

static bson_t *
ExplainRunSql(const char *sql, int nparams, Oid *types, Datum *values, bool analyze)
{
	MemoryContext caller = CurrentMemoryContext;
	int			level;
	char	   *json;
	char	   *wrapped;
	BsonParsed	parsed;
	char	   *error = NULL;
	bson_iter_t it;
	bson_t	   *result;

	SPI_connect();
	level = HintSettingsPush(explain_coll, explain_hint);
	if (SPI_execute_with_args(psprintf("EXPLAIN (FORMAT JSON%s) %s",
									   analyze ? ", ANALYZE, BUFFERS" : "", sql),
							  nparams, types, values, NULL, false, 0) < 0 ||
		SPI_tuptable == NULL || SPI_processed != 1)
		elog(ERROR, "EXPLAIN failed: %s", sql);
	HintSettingsPop(level);
	json = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	json = MemoryContextStrdup(caller, json);
	SPI_finish();

	/* the output is an array of one plan document */
	wrapped = psprintf("{\"plans\": %s}", json);
	if (!BsonParseJson(wrapped, strlen(wrapped), &parsed, &error))
		elog(ERROR, "could not read the EXPLAIN output: %s", error ? error : wrapped);
	if (!bson_iter_init(&it, &parsed.doc) || !bson_iter_find_descendant(&it, "plans.0", &it) ||
		!BSON_ITER_HOLDS_DOCUMENT(&it))
		elog(ERROR, "unexpected EXPLAIN output: %s", json);
	{
		const uint8_t *data;
		uint32_t	len;

		bson_iter_document(&it, &len, &data);
		result = bson_new_from_data(data, len);
	}
	bson_destroy(&parsed.doc);
	return result;
}

/*
 * How many of the documents an update matches it would modify (its
 * nWouldModify): the selecting query runs once more and the update is
 * applied to each document without writing it.  MongoDB's no-op rule
 * holds: setting a field to the value it has modifies nothing.
 */
static int64
ExplainWouldModify(const ExplainQuery *q, const char *sql, int nparams, Oid *types,
				   Datum *values)
{
	BsonQueryError error = {0};
	BsonUpdate *u;
	int64		now = (int64) (GetCurrentTimestamp() / 1000 + INT64CONST(946684800000));
	int64		n = 0;

	u = BsonUpdateCompileCollated(q->update, q->update_len, q->array_filters,
								  q->array_filters_len, q->spec.compiled_collation, &error);
	if (u == NULL)
		MongoRaise(error.code, "%s", error.message);
	SPI_connect();
	if (SPI_execute_with_args(sql, nparams, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run the query of the explained update: %s", sql);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Bson	   *row = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[i],
													  SPI_tuptable->tupdesc, 1, &isnull));
		int32_t		position = -1;
		bool		modified = false;
		bson_t		out;

		CHECK_FOR_INTERRUPTS();
		if (BsonUpdateNeedsPosition(u))
			(void) BsonFilterMatchesWithPosition(q->spec.compiled_filter, BsonBytes(row),
												 BsonDocLen(row), &position);
		bson_init(&out);
		if (!BsonUpdateApply(u, BsonBytes(row), BsonDocLen(row), position, false, now,
							 &out, &modified, &error))
			MongoRaise(error.code, "%s", error.message);
		bson_destroy(&out);
		if (modified)
			n++;
	}
	SPI_finish();
	BsonUpdateFree(u);
	return n;
}

/* A number field of the PostgreSQL plan document (0 when absent) */
static double
PlanNumber(const bson_t *plan, const char *key)
{
	bson_iter_t it;
	double		v = 0;

	if (bson_iter_init_find(&it, plan, key))
		(void) BsonIterAsDouble(&it, &v);
	return v;
}

/* serverInfo and serverParameters, as MongoDB 8 reports them */
static void
AppendServerInfo(bson_t *reply)
{
	bson_t		sub;
	char		host[256];

	if (gethostname(host, sizeof(host)) != 0)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	BSON_APPEND_DOCUMENT_BEGIN(reply, "serverInfo", &sub);
	BSON_APPEND_UTF8(&sub, "host", host);
	BSON_APPEND_INT32(&sub, "port", PostPortNumber);
	BSON_APPEND_UTF8(&sub, "version", "8.0.0");
	BSON_APPEND_UTF8(&sub, "gitVersion", "nosql-" NOSQL_VERSION);
	bson_append_document_end(reply, &sub);

	BSON_APPEND_DOCUMENT_BEGIN(reply, "serverParameters", &sub);
	BSON_APPEND_INT32(&sub, "internalQueryFacetBufferSizeBytes", EXPLAIN_MEM_LIMIT);
	BSON_APPEND_INT32(&sub, "internalQueryFacetMaxOutputDocSizeBytes", EXPLAIN_MEM_LIMIT);
	BSON_APPEND_INT32(&sub, "internalLookupStageIntermediateDocumentMaxSizeBytes",
					  EXPLAIN_MEM_LIMIT);
	BSON_APPEND_INT32(&sub, "internalDocumentSourceGroupMaxMemoryBytes", EXPLAIN_MEM_LIMIT);
	BSON_APPEND_INT32(&sub, "internalQueryMaxBlockingSortMemoryUsageBytes", EXPLAIN_MEM_LIMIT);
	BSON_APPEND_INT32(&sub, "internalQueryProhibitBlockingMergeOnMongoS", 0);
	BSON_APPEND_INT32(&sub, "internalQueryMaxAddToSetBytes", EXPLAIN_MEM_LIMIT);
	BSON_APPEND_INT32(&sub, "internalDocumentSourceSetWindowFieldsMaxMemoryBytes",
					  EXPLAIN_MEM_LIMIT);
	BSON_APPEND_UTF8(&sub, "internalQueryFrameworkControl", "trySbeRestricted");
	BSON_APPEND_INT32(&sub, "internalQueryPlannerIgnoreIndexWithCollationForRegex", 1);
	bson_append_document_end(reply, &sub);
}

/*
 * explain: {explain: <command>, verbosity}.  The explained command is
 * parsed as that command parses it (with its errors); commands that cannot
 * be explained are IllegalOperation (20), unknown ones CommandNotFound.
 */
void
CmdExplain(CommandContext *ctx, bson_t *reply)
{
	ExplainVerbosity verbosity = EXPLAIN_ALL_PLANS_EXECUTION;
	CommandContext inner;
	ExplainQuery q;
	bson_iter_t it;
	const uint8_t *data;
	uint32_t	len;
	bson_t	   *plan = NULL;
	const uint8_t *root = NULL;
	uint32_t	root_len = 0;
	StringInfoData sql;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams = 0;
	bool		analyze;
	ExplainTranslation t;
	char		shape_hash[9];
	char		key_hash[9];
	bson_t		sub,
				stage;
	int64		returned = 0;
	BsonTextQuery text;

	initStringInfo(&sql);
	memset(&t, 0, sizeof(t));
	t.would_modify = -1;
	if (BSON_ITER_HOLDS_NULL(&ctx->first) || BSON_ITER_HOLDS_UNDEFINED(&ctx->first))
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'explain.explain' is missing but a required field");
	if (!BSON_ITER_HOLDS_DOCUMENT(&ctx->first))
		RaiseWrongType("explain", &ctx->first, "object");
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "verbosity") == 0)
			verbosity = ExplainParseVerbosity(&it);
		else if (!GenericFieldCheck(ctx, &it))
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'explain.%s' is an unknown field.",
					   bson_iter_key(&it));
	}
	analyze = verbosity != EXPLAIN_QUERY_PLANNER;

	/* the explained command */
	memset(&inner, 0, sizeof(inner));
	inner.database = ctx->database;
	bson_iter_document(&ctx->first, &len, &data);
	if (!bson_init_static(&inner.command, data, len) ||
		!bson_iter_init(&inner.first, &inner.command) || !bson_iter_next(&inner.first))
		MongoRaise(MONGO_COMMAND_NOT_FOUND, "Explain failed due to unknown command: ");
	inner.name = bson_iter_key(&inner.first);

	memset(&q, 0, sizeof(q));
	FindSpecInit(&q.spec);
	q.command = inner.name;
	if (strcmp(inner.name, "find") == 0)
		ExplainParseFind(&inner, &q);
	else if (strcmp(inner.name, "count") == 0)
		ExplainParseCount(&inner, &q);
	else if (strcmp(inner.name, "distinct") == 0)
		ExplainParseDistinct(&inner, &q);
	else if (strcmp(inner.name, "update") == 0)
		ExplainParseUpdate(&inner, &q);
	else if (strcmp(inner.name, "delete") == 0)
		ExplainParseDelete(&inner, &q);
	else if (strcmp(inner.name, "findAndModify") == 0 ||
			 strcmp(inner.name, "findandmodify") == 0)
	{
		q.command = "findAndModify";
		ExplainParseFindAndModify(&inner, &q);
	}
	else if (strcmp(inner.name, "aggregate") == 0)
	{
		AggExplainCommand(&inner, analyze, reply);
		return;
	}
	else if (CommandExists(inner.name))
		MongoRaise(MONGO_ILLEGAL_OPERATION, "Cannot explain cmd: %s", inner.name);
	else
		MongoRaise(MONGO_COMMAND_NOT_FOUND, "Explain failed due to unknown command: %s",
				   inner.name);
	q.collname = CommandCollectionName(&inner);
	q.spec.coll = CollectionLookup(ctx->database, q.collname);
	explain_hint = NULL;
	explain_coll = q.spec.coll;
	if (q.has_hint)
		explain_hint = q.spec.hint = CheckHint(q.spec.coll, &q.hint);

	if (q.spec.coll == NULL)
	{
		/* no collection: check the filter as the command would, plan EOF */
		FindSpecCollation(&q.spec, NULL);
		(void) CompileFilter(q.spec.filter, q.spec.filter_len);
	}
	else
	{
		if (q.spec.coll->is_view)
			MongoRaise(238, "explain on a view is not supported yet");
		FindSpecPrepare(&q.spec, q.select, &sql, values, types, &nparams);
		ExplainCheckNearHint(&q);
		if (q.has_hint && BsonFilterGetText(q.spec.compiled_filter, &text))
			MongoRaise(MONGO_BAD_VALUE,
					   "error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index");
		if (strcmp(q.command, "count") == 0)
		{
			char	   *inner_sql = sql.data;

			initStringInfo(&sql);
			appendStringInfo(&sql, "SELECT count(*) FROM (%s) c", inner_sql);
		}
		else if ((q.is_update || q.is_delete) && !analyze)
			appendStringInfoString(&sql, " FOR UPDATE");
		plan = ExplainRunSql(sql.data, nparams, types, values, analyze);
		if (analyze && q.is_update)
			t.would_modify = ExplainWouldModify(&q, sql.data, nparams, types, values);
		if (bson_iter_init_find(&it, plan, "Plan") && BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_iter_document(&it, &root_len, &root);
		else
			elog(ERROR, "EXPLAIN output without a plan");
	}

	/* the natural order backward: a scan backward (the sort is not shown) */
	t.q = &q;
	t.backward = q.spec.compiled_sort != NULL && BsonSortIsNatural(q.spec.compiled_sort) &&
		BsonSortNaturalDirection(q.spec.compiled_sort) < 0;
	QueryHashes(&q, shape_hash, key_hash);

	BSON_APPEND_UTF8(reply, "explainVersion", "1");
	BSON_APPEND_DOCUMENT_BEGIN(reply, "queryPlanner", &sub);
	BSON_APPEND_UTF8(&sub, "namespace", psprintf("%s.%s", ctx->database, q.collname));
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "parsedQuery", &stage);
	ParsedQueryAppend(q.spec.filter, q.spec.filter_len, &stage);
	bson_append_document_end(&sub, &stage);
	BSON_APPEND_BOOL(&sub, "indexFilterSet", false);
	BSON_APPEND_UTF8(&sub, "queryHash", shape_hash);
	BSON_APPEND_UTF8(&sub, "planCacheShapeHash", shape_hash);
	if (plan != NULL)
		BSON_APPEND_UTF8(&sub, "planCacheKey", key_hash);
	AppendCount(&sub, "optimizationTimeMillis",
				plan ? (int64) PlanNumber(plan, "Planning Time") : 0);
	BSON_APPEND_BOOL(&sub, "maxIndexedOrSolutionsReached", false);
	BSON_APPEND_BOOL(&sub, "maxIndexedAndSolutionsReached", false);
	BSON_APPEND_BOOL(&sub, "maxScansToExplodeReached", false);
	BSON_APPEND_BOOL(&sub, "prunedSimilarIndexes", false);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "winningPlan", &stage);
	TranslateRoot(&t, root, root_len, &stage, &returned);
	bson_append_document_end(&sub, &stage);
	BSON_APPEND_ARRAY_BEGIN(&sub, "rejectedPlans", &stage);
	bson_append_array_end(&sub, &stage);
	bson_append_document_end(reply, &sub);

	if (analyze)
	{
		bson_t		execution;

		t.stats = true;
		bson_init(&execution);
		TranslateRoot(&t, root, root_len, &execution, &returned);
		BSON_APPEND_DOCUMENT_BEGIN(reply, "executionStats", &sub);
		BSON_APPEND_BOOL(&sub, "executionSuccess", true);
		AppendCount(&sub, "nReturned", returned);
		AppendCount(&sub, "executionTimeMillis",
					plan ? (int64) (PlanNumber(plan, "Planning Time") +
									PlanNumber(plan, "Execution Time")) : 0);
		AppendCount(&sub, "totalKeysExamined", t.keys_examined);
		AppendCount(&sub, "totalDocsExamined", t.docs_examined);
		BSON_APPEND_DOCUMENT(&sub, "executionStages", &execution);
		if (verbosity == EXPLAIN_ALL_PLANS_EXECUTION)
		{
			BSON_APPEND_ARRAY_BEGIN(&sub, "allPlansExecution", &stage);
			bson_append_array_end(&sub, &stage);
		}
		bson_append_document_end(reply, &sub);
		bson_destroy(&execution);
	}

	/* the explained command, with its database */
	BSON_APPEND_DOCUMENT_BEGIN(reply, "command", &sub);
	it = inner.first;
	bson_append_iter(&sub, NULL, 0, &it);
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "$db") != 0)
			bson_append_iter(&sub, NULL, 0, &it);
	BSON_APPEND_UTF8(&sub, "$db", ctx->database);
	bson_append_document_end(reply, &sub);
	AppendServerInfo(reply);

	/* PostgreSQL's own plan of the query */
	if (plan != NULL)
	{
		BSON_APPEND_DOCUMENT_BEGIN(reply, "postgres", &sub);
		BSON_APPEND_UTF8(&sub, "query", sql.data);
		BSON_APPEND_DOCUMENT(&sub, "plan", plan);
		bson_append_document_end(reply, &sub);
		bson_destroy(plan);
	}
}
