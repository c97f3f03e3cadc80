/*-------------------------------------------------------------------------
 *
 * cmd_read.c
 *	  find, getMore, killCursors, count and distinct; cursors.
 *
 * A find runs as one SQL query over the collection's table:
 *
 *	SELECT document FROM <table>
 *	 WHERE document OPERATOR(nosql.@@) $1 [AND _id = $2]
 *	 ORDER BY nosql.bson_sort_value(document, 'path', desc) [DESC], ...
 *	 OFFSET skip LIMIT limit
 *
 * The filter, projection and sort are compiled first (their errors are
 * MongoDB's); the projection is applied in C to the rows fetched.  When
 * the first batch does not exhaust the result, the query stays open as a
 * holdable portal (like DECLARE ... WITH HOLD): it outlives the statement
 * and the transaction, and getMore fetches the next batch from it.  A
 * cursor belongs to its backend and its role; cursors idle for longer than
 * nosql.cursor_timeout are closed at the next command of that backend.
 * A change stream's cursor ($changeStream, see cdc_watch.c) has no portal:
 * it holds the stream, and getMore reads the change log after its resume
 * point, awaiting new events up to maxTimeMS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/timestamp.h"

#include "bson_compare.h"
#include "agg.h"
#include "cdc.h"
#include "documents.h"
#include "nosql.h"
#include "projection.h"
#include "sort.h"

#define DEFAULT_FIRST_BATCH	101
#define MAX_BATCH_BYTES		(16 * 1024 * 1024)
#define FETCH_CHUNK			1000

/* nosql.cursor_timeout: idle cursors are closed after this (ms) */
int			nosql_cursor_timeout = 600000;

/* An open cursor of this backend */
typedef struct CursorEntry
{
	int64		id;				/* hash key */
	char		portal[NAMEDATALEN];
	MemoryContext context;		/* holds everything below */
	char	   *database;
	char	   *collection;
	BsonFilter *filter;			/* for positional projections */
	BsonProjection *projection; /* or NULL */
	Oid			userid;
	TimestampTz last_used;
	bson_t	   *stash;			/* a document that did not fit in a batch */
	CdcStream  *stream;			/* a change stream's cursor: no portal */
} CursorEntry;

static HTAB *cursors = NULL;

static void
CursorTableInit(void)
{
	HASHCTL		ctl;

	if (cursors != NULL)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(CursorEntry);
	ctl.hcxt = TopMemoryContext;
	cursors = hash_create("nosql cursors", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
CursorClose(CursorEntry *entry)
{
	Portal		portal = GetPortalByName(entry->portal);
	int64		id = entry->id;

	if (PortalIsValid(portal) && portal->status != PORTAL_ACTIVE)
		PortalDrop(portal, false);
	MemoryContextDelete(entry->context);
	hash_search(cursors, &id, HASH_REMOVE, NULL);
}

/*
 * Call fn for every open cursor of this backend (its id, namespace, owner
 * and last use): $currentOp's idle cursors.
 */
void
CursorWalk(CursorWalker fn, void *arg)
{
	HASH_SEQ_STATUS status;
	CursorEntry *entry;

	if (cursors == NULL)
		return;
	hash_seq_init(&status, cursors);
	while ((entry = hash_seq_search(&status)) != NULL)
		fn(entry->id, entry->database, entry->collection, entry->userid, entry->last_used, arg);
}

/* Close this backend's cursors idle for longer than nosql.cursor_timeout */
void
CursorSweepIdle(void)
{
	HASH_SEQ_STATUS status;
	CursorEntry *entry;
	TimestampTz now;
	List	   *expired = NIL;
	ListCell   *lc;

	if (cursors == NULL || hash_get_num_entries(cursors) == 0)
		return;
	now = GetCurrentTimestamp();
	hash_seq_init(&status, cursors);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (TimestampDifferenceExceeds(entry->last_used, now, nosql_cursor_timeout) ||
			(entry->stream == NULL && !PortalIsValid(GetPortalByName(entry->portal))))
			expired = lappend(expired, entry);
	}
	foreach(lc, expired)
		CursorClose((CursorEntry *) lfirst(lc));
	list_free(expired);
}

/* A new cursor id: random, positive, unused */
static int64
CursorNewId(void)
{
	for (;;)
	{
		uint64		r;
		int64		id;

		if (!pg_strong_random(&r, sizeof(r)))
			elog(ERROR, "could not generate a cursor id");
		id = (int64) (r & INT64CONST(0x7FFFFFFFFFFFFFFF));
		if (id != 0 && hash_search(cursors, &id, HASH_FIND, NULL) == NULL)
			return id;
	}
}

/* ---- plans of the commands' queries, kept per backend ---- */

#define PLAN_CACHE_MAX	256

typedef struct PlanCacheEntry
{
	uint32		hash;			/* key */
	char	   *sql;			/* with the options and types, to verify */
	SPIPlanPtr	plan;
	TimestampTz created;		/* for $planCacheStats */
} PlanCacheEntry;

static HTAB *plan_cache = NULL;

/*
 * A saved plan of sql with these parameter types and cursor options:
 * commands build the same few query texts again and again (a find by _id
 * on a collection is always the same text), so parsing and planning them
 * once per backend saves most of a short command's time.  Saved plans are
 * revalidated by PostgreSQL's plan cache after DDL.  Call inside SPI.
 */
SPIPlanPtr
CommandPlan(const char *sql, int nargs, Oid *types, int cursor_options)
{
	StringInfoData key;
	uint32		hash;
	PlanCacheEntry *entry;
	bool		found;
	SPIPlanPtr	plan;

	initStringInfo(&key);
	appendStringInfo(&key, "%d|", cursor_options);
	for (int i = 0; i < nargs; i++)
		appendStringInfo(&key, "%u,", types[i]);
	appendStringInfo(&key, "|%s", sql);
	hash = hash_bytes((const unsigned char *) key.data, key.len);

	if (plan_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(PlanCacheEntry);
		ctl.hcxt = TopMemoryContext;
		plan_cache = hash_create("nosql plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(plan_cache, &hash, HASH_FIND, NULL);
	if (entry != NULL && strcmp(entry->sql, key.data) == 0)
		return entry->plan;

	plan = SPI_prepare_cursor(sql, nargs, types, cursor_options);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed: %s", SPI_result_code_string(SPI_result));
	if (entry != NULL)
		return plan;			/* a hash collision: use it once, unsaved */
	if (hash_get_num_entries(plan_cache) >= PLAN_CACHE_MAX)
		CommandPlanCacheReset();
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	entry = hash_search(plan_cache, &hash, HASH_ENTER, &found);
	entry->sql = MemoryContextStrdup(TopMemoryContext, key.data);
	entry->plan = plan;
	entry->created = GetCurrentTimestamp();
	return plan;
}

/*
 * Call fn for every saved plan (its key's hash, its query text without the
 * options and types, the plan and when it was saved): the entries of
 * $planCacheStats.  fn must not add or free plans.
 */
void
CommandPlanCacheWalk(CommandPlanWalker fn, void *arg)
{
	HASH_SEQ_STATUS status;
	PlanCacheEntry *e;

	if (plan_cache == NULL)
		return;
	hash_seq_init(&status, plan_cache);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		/* the key is "options|types|sql" */
		const char *sql = strchr(e->sql, '|');

		sql = sql != NULL ? strchr(sql + 1, '|') : NULL;
		fn(e->hash, sql != NULL ? sql + 1 : e->sql, e->plan, e->created, arg);
	}
}

/*
 * Free every saved plan (when the cache is full, and for planCacheClear):
 * the commands prepare them again on their next use.
 */
void
CommandPlanCacheReset(void)
{
	HASH_SEQ_STATUS status;
	PlanCacheEntry *e;

	if (plan_cache == NULL)
		return;
	hash_seq_init(&status, plan_cache);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		SPI_freeplan(e->plan);
		pfree(e->sql);
		hash_search(plan_cache, &e->hash, HASH_REMOVE, NULL);
	}
}

/* ---- argument checks shared by the read commands ---- */

/* BSON field 'cmd.field' is the wrong type */
void
RaiseWrongType(const char *command, const bson_iter_t *it, const char *expected)
{
	MongoRaise(MONGO_TYPE_MISMATCH,
			   "BSON field '%s.%s' is the wrong type '%s', expected type%s '%s'",
			   command, bson_iter_key(it), BsonTypeName(bson_iter_type(it)),
			   expected[0] == '[' ? "s" : "", expected);
}

/* The collection name of a command's first field (a string) */
char *
CommandCollectionName(CommandContext *ctx)
{
	uint32_t	len;
	const char *name;

	if (!BSON_ITER_HOLDS_UTF8(&ctx->first))
		MongoRaise(MONGO_INVALID_NAMESPACE,
				   "collection name has invalid type %s",
				   BsonTypeName(bson_iter_type(&ctx->first)));
	name = bson_iter_utf8(&ctx->first, &len);
	if (strlen(name) != len)
		MongoRaise(MONGO_INVALID_NAMESPACE, "collection names cannot contain a NUL byte");
	ValidateCollectionName(ctx->database, name);
	return pstrdup(name);
}

/* A document-valued field (sub-document bytes), or raise TypeMismatch */
void
FieldDocument(const char *command, const bson_iter_t *it, const uint8_t **data,
			  uint32_t *len)
{
	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		RaiseWrongType(command, it, "object");
	bson_iter_document(it, len, data);
}

/* A non-negative whole number field */
int64
FieldNonNegative(const char *command, const bson_iter_t *it)
{
	return FieldNonNegativeCode(command, it, 51024);
}

/* The same, raising code for a negative value */
int64
FieldNonNegativeCode(const char *command, const bson_iter_t *it, int code)
{
	int64		v;

	if (!BsonIterIsNumber(it))
		RaiseWrongType(command, it, "[long, int, decimal, double]");
	if (!BsonIterAsInt64(it, &v))
		MongoRaise(MONGO_BAD_VALUE, "BSON field '%s.%s' value must be a whole number",
				   command, bson_iter_key(it));
	if (v < 0)
		MongoRaise(code, "BSON field '%s' value must be >= 0, actual value '%lld'",
				   bson_iter_key(it), (long long) v);
	return v;
}

/*
 * count's skip: a number taken as MongoDB's safe conversion takes it
 * (doubles truncated, decimals rounded half to even, NaN as 0, beyond the
 * 64-bit range clamped); a negative skip is BadValue.
 */
static int64
CountSkip(const bson_iter_t *it)
{
	double		d = 0;

	if (!BsonIterIsNumber(it))
		RaiseWrongType("count", it, "[long, int, decimal, double]");
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
	{
		int64		v = bson_iter_as_int64(it);

		if (v < 0)
			MongoRaise(MONGO_BAD_VALUE, "skip value is negative in count query");
		return v;
	}
	(void) BsonIterAsDouble(it, &d);
	if (isnan(d))
		return 0;
	d = BSON_ITER_HOLDS_DECIMAL128(it) ? rint(d) : trunc(d);
	if (d < 0)
		MongoRaise(MONGO_BAD_VALUE, "skip value is negative in count query");
	if (d >= 9.2233720368547758e18)
		return PG_INT64_MAX;
	return (int64) d;
}

/*
 * count's limit: numbers only (BadValue), a whole 64-bit one (else
 * FailedToParse); a negative limit counts as its absolute value, so the
 * smallest 64-bit number has none.
 */
static int64
CountLimit(const bson_iter_t *it)
{
	double		d = 0;
	int64		v;

	if (!BsonIterIsNumber(it))
		MongoRaise(MONGO_BAD_VALUE, "limit value must be numeric");
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
		v = bson_iter_as_int64(it);
	else
	{
		(void) BsonIterAsDouble(it, &d);
		if (isnan(d) || isinf(d) || d != floor(d) || d < -9.2233720368547758e18 ||
			d >= 9.2233720368547758e18)
			MongoRaise(MONGO_FAILED_TO_PARSE,
					   "Expected an integer, but found a non-integral number for limit");
		v = (int64) d;
	}
	if (v == PG_INT64_MIN)
		MongoRaise(MONGO_BAD_VALUE, "limit value is too small");
	return v < 0 ? -v : v;
}

/* A boolean field (MongoDB also takes numbers) */
bool
FieldBool(const char *command, const bson_iter_t *it)
{
	if (!BSON_ITER_HOLDS_BOOL(it) && !BsonIterIsNumber(it))
		RaiseWrongType(command, it, "bool");
	return bson_iter_as_bool(it);
}

/*
 * The shape of a hint, as the commands' parsers check it before looking
 * at the indexes: a string or a document (else FailedToParse, null too);
 * "" and "$natural" name no index; a key pattern's directions are numbers
 * other than 0 or index type names; {$natural: 1 | -1} stands alone.
 */
void
CheckHintShape(const bson_iter_t *hint)
{
	if (BSON_ITER_HOLDS_UTF8(hint))
	{
		const char *s = bson_iter_utf8(hint, NULL);

		if (s[0] == '\0' || strcmp(s, "$natural") == 0)
			MongoRaise(MONGO_BAD_VALUE, "hint provided does not correspond to an existing index");
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(hint))
	{
		bson_iter_t it;
		bool		natural = false;
		int			n = 0;

		bson_iter_recurse(hint, &it);
		while (bson_iter_next(&it))
		{
			double		d = 0;

			n++;
			if (strcmp(bson_iter_key(&it), "$natural") == 0)
			{
				if (!BsonIterAsDouble(&it, &d) || (d != 1 && d != -1))
					MongoRaise(MONGO_BAD_VALUE, "$natural hint must be 1 or -1");
				natural = true;
				continue;
			}
			if (BSON_ITER_HOLDS_UTF8(&it))
				continue;		/* "text", "hashed", "2dsphere" ... */
			if (!BsonIterIsNumber(&it) || !BsonIterAsDouble(&it, &d) || d == 0 || isnan(d) ||
				isinf(d))
				MongoRaise(MONGO_BAD_VALUE, "hint provided does not correspond to an existing index");
		}
		if (natural && n > 1)
			MongoRaise(MONGO_BAD_VALUE, "$natural hint cannot be combined with other fields");
	}
	else
		MongoRaise(MONGO_FAILED_TO_PARSE, "hint must be specified as either a string or an object");
}

/*
 * Check a hint: a string (an index name) or a document (a key pattern or
 * {$natural: 1}); it must name an index of the collection (when the
 * collection exists).  Hints do not change the plan.
 */
const char *
CheckHint(const Collection *coll, const bson_iter_t *hint)
{
	bson_iter_t it;
	const uint8_t *hint_doc = NULL;
	uint32_t	hint_len = 0;
	const char *hint_name = NULL;

	if (BSON_ITER_HOLDS_UTF8(hint))
		hint_name = bson_iter_utf8(hint, NULL);
	else if (BSON_ITER_HOLDS_DOCUMENT(hint))
		bson_iter_document(hint, &hint_len, &hint_doc);
	else
		MongoRaise(MONGO_FAILED_TO_PARSE, "Hint must be either a string or a nested object");
	if (coll == NULL || coll->is_view)
		return NULL;
	if (hint_doc != NULL)
	{
		bson_t		h;
		bson_iter_t hi;

		if (hint_len <= 5 || !bson_init_static(&h, hint_doc, hint_len))
			return NULL;
		if (bson_iter_init(&hi, &h) && bson_iter_next(&hi))
		{
			if (strcmp(bson_iter_key(&hi), "$natural") == 0)
				return "$natural";
			if (strcmp(bson_iter_key(&hi), "_id") == 0 && !bson_iter_next(&hi))
				return "_id_";
		}
	}
	else if (strcmp(hint_name, "_id_") == 0)
		return "_id_";

	bson_iter_init(&it, coll->indexes);
	while (bson_iter_next(&it))
	{
		bson_iter_t f;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		/* hidden indexes cannot be hinted */
		bson_iter_recurse(&it, &f);
		if (bson_iter_find(&f, "hidden") && bson_iter_as_bool(&f))
			continue;
		bson_iter_recurse(&it, &f);
		while (bson_iter_next(&f))
		{
			if (hint_name != NULL && strcmp(bson_iter_key(&f), "name") == 0 &&
				BSON_ITER_HOLDS_UTF8(&f) && strcmp(bson_iter_utf8(&f, NULL), hint_name) == 0)
				return hint_name;
			if (hint_doc != NULL && strcmp(bson_iter_key(&f), "key") == 0 &&
				BSON_ITER_HOLDS_DOCUMENT(&f))
			{
				const uint8_t *data;
				uint32_t	len;

				bson_iter_document(&f, &len, &data);
				if (BsonCompareDocuments(data, len, hint_doc, hint_len) == 0)
				{
					bson_iter_t n;

					bson_iter_recurse(&it, &n);
					if (bson_iter_find(&n, "name") && BSON_ITER_HOLDS_UTF8(&n))
						return bson_iter_utf8(&n, NULL);
					return NULL;
				}
			}
		}
	}
	MongoRaise(MONGO_BAD_VALUE, "hint provided does not correspond to an existing index");
	return NULL;				/* keep the compiler quiet */
}

/*
 * A hinted index that does not hold every document answers for the
 * documents it holds only, as MongoDB's scan of it does: a sparse index
 * those with one of its key fields, a partial index those matching its
 * filter.  Adds that condition to *filter (ANDed).
 */
static void
HintIndexCondition(const Collection *coll, const char *hint, const uint8_t **filter,
				   uint32_t *filter_len)
{
	bson_iter_t it;
	bson_t		cond;
	bool		have = false;

	if (coll == NULL || hint == NULL || strcmp(hint, "$natural") == 0 || coll->indexes == NULL)
		return;
	bson_init(&cond);
	bson_iter_init(&it, coll->indexes);
	while (bson_iter_next(&it))
	{
		bson_iter_t f;
		bson_t		and;
		bool		sparse = false;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_recurse(&it, &f);
		if (!bson_iter_find(&f, "name") || !BSON_ITER_HOLDS_UTF8(&f) ||
			strcmp(bson_iter_utf8(&f, NULL), hint) != 0)
			continue;
		bson_append_array_begin(&cond, "$and", 4, &and);
		if (*filter != NULL && *filter_len > 5)
		{
			bson_t		orig;

			bson_init_static(&orig, *filter, *filter_len);
			bson_append_document(&and, "0", 1, &orig);
		}
		else
		{
			bson_t		empty;

			bson_append_document_begin(&and, "0", 1, &empty);
			bson_append_document_end(&and, &empty);
		}
		bson_iter_recurse(&it, &f);
		if (bson_iter_find(&f, "sparse"))
			sparse = bson_iter_as_bool(&f);
		bson_iter_recurse(&it, &f);
		if (bson_iter_find(&f, "partialFilterExpression") && BSON_ITER_HOLDS_DOCUMENT(&f))
		{
			bson_append_iter(&and, "1", 1, &f);
			have = true;
		}
		bson_iter_recurse(&it, &f);
		if (sparse && bson_iter_find(&f, "key") && BSON_ITER_HOLDS_DOCUMENT(&f))
		{
			bson_t		or_doc;
			bson_t		or;
			bson_iter_t k;
			uint32_t	n = 0;
			char		key[16];
			const char *keyp;

			bson_append_document_begin(&and, "2", 1, &or_doc);
			bson_append_array_begin(&or_doc, "$or", 3, &or);
			bson_iter_recurse(&f, &k);
			while (bson_iter_next(&k))
			{
				bson_t		one;
				bson_t		ex;

				bson_uint32_to_string(n++, &keyp, key, sizeof(key));
				bson_append_document_begin(&or, keyp, -1, &one);
				bson_append_document_begin(&one, bson_iter_key(&k), -1, &ex);
				bson_append_bool(&ex, "$exists", 7, true);
				bson_append_document_end(&one, &ex);
				bson_append_document_end(&or, &one);
			}
			bson_append_array_end(&or_doc, &or);
			bson_append_document_end(&and, &or_doc);
			have = n > 0;
		}
		bson_append_array_end(&cond, &and);
		break;
	}
	if (have)
	{
		uint8_t    *copy = palloc(cond.len);

		memcpy(copy, bson_get_data(&cond), cond.len);
		*filter = copy;
		*filter_len = cond.len;
	}
	bson_destroy(&cond);
}

/*
 * The planner settings a hint asks for, for the planning of one query:
 * an index hint forbids sequential scans (the hinted index's conditions
 * are in the query), $natural forbids index scans.  Returns the GUC nest
 * level to pop, or -1.
 */
int
HintSettingsPush(const Collection *c, const char *hint)
{
	int			level;

	if (hint == NULL || c == NULL)
		return -1;
	level = NewGUCNestLevel();
	if (strcmp(hint, "$natural") == 0)
	{
		(void) set_config_option("enable_indexscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("enable_indexonlyscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	else
	{
		(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("nosql.plan_hint", IndexPgPrefix(c, hint), PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}
	return level;
}

void
HintSettingsPop(int level)
{
	if (level >= 0)
		AtEOXact_GUC(true, level);
}

/* Compile a filter or raise its MongoDB error */
BsonFilter *
CompileFilter(const uint8_t *data, uint32_t len)
{
	BsonQueryError error = {0};
	BsonFilter *f = BsonFilterCompile(data, len, &error);

	if (f == NULL)
		MongoRaise(error.code, "%s", error.message ? error.message : "invalid filter");
	return f;
}

/*
 * Compile a collation document or raise its MongoDB error; NULL for the
 * simple collation and for the empty document, which commands take as no
 * collation given.  The ICU collator lives as long as the current memory
 * context.
 */
BsonCollation *
CompileCollation(const uint8_t *data, uint32_t len)
{
	BsonQueryError error = {0};
	BsonCollation *c;

	if (len <= 5)
		return NULL;

	if (!BsonCollationCompile(data, len, &c, &error))
		MongoRaise(error.code, "%s", error.message ? error.message : "invalid collation");
	return c;
}

/* ---- building the SQL of a find ---- */

static const uint8_t empty_doc[5] = {5, 0, 0, 0, 0};

void
FindSpecInit(FindSpec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->filter = empty_doc;
	spec->filter_len = 5;
}

/*
 * The value of a top-level _id equality of the filter (for an index
 * lookup), or NULL.
 */
static Bson *
FilterIdEquality(const uint8_t *filter, uint32_t len)
{
	bson_t		f;
	bson_iter_t it;

	if (!bson_init_static(&f, filter, len) || !bson_iter_init_find(&it, &f, "_id"))
		return NULL;
	switch (bson_iter_type(&it))
	{
		case BSON_TYPE_REGEX:
		case BSON_TYPE_ARRAY:
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			return NULL;
		case BSON_TYPE_DOCUMENT:
			{
				bson_iter_t inner;

				if (!bson_iter_recurse(&it, &inner))
					return NULL;
				if (!bson_iter_next(&inner))
					return BsonFromIter(&it);	/* {} */
				if (bson_iter_key(&inner)[0] != '$')
					return BsonFromIter(&it);
				/* {$eq: scalar} alone */
				if (strcmp(bson_iter_key(&inner), "$eq") == 0)
				{
					bson_iter_t v = inner;

					if (bson_iter_next(&inner))
						return NULL;
					switch (bson_iter_type(&v))
					{
						case BSON_TYPE_REGEX:
						case BSON_TYPE_ARRAY:
						case BSON_TYPE_NULL:
						case BSON_TYPE_UNDEFINED:
						case BSON_TYPE_DOCUMENT:
							return NULL;
						default:
							return BsonFromIter(&v);
					}
				}
				return NULL;
			}
		default:
			return BsonFromIter(&it);
	}
}

/*
 * Compile the parts of a find (raising MongoDB's errors) and write its SQL
 * into sql with its parameters (at most FIND_MAX_PARAMS).  select is the
 * select list ("document", "_id, document", "1").
 */
/*
 * The collation of a find: its own, else the collection's default.  Sets
 * and returns spec->compiled_collation (NULL for the simple collation),
 * and *param (when param is not NULL) to the collation document as a bson
 * value for the SQL functions (NULL for the simple collation).
 */
BsonCollation *
FindSpecCollation(FindSpec *spec, Bson **param)
{
	const uint8_t *data = spec->collation;
	uint32_t	len = spec->collation_len;
	bson_iter_t it;

	if (param != NULL)
		*param = NULL;
	if (data != NULL && len <= 5)
		data = NULL;			/* {}: none given, the collection's default */
	if (data == NULL && spec->coll != NULL &&
		bson_iter_init_find(&it, spec->coll->options, "collation") &&
		BSON_ITER_HOLDS_DOCUMENT(&it))
		bson_iter_document(&it, &len, &data);
	spec->compiled_collation = NULL;
	if (data == NULL)
		return NULL;
	spec->compiled_collation = CompileCollation(data, len);
	if (spec->compiled_collation != NULL && param != NULL)
	{
		Bson	   *b = palloc(VARHDRSZ + len);

		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), data, len);
		*param = b;
	}
	return spec->compiled_collation;
}

/*
 * Whether an _id equality may use the _id index under a collation: not
 * when the value holds strings, which may collate equal to others.
 */
static bool
IdLookupCollationSafe(const Bson *id)
{
	bson_iter_t it;
	bson_t		holder;

	if (!BsonValueIter(id, &it, &holder))
		return false;
	switch (bson_iter_type(&it))
	{
		case BSON_TYPE_UTF8:
		case BSON_TYPE_SYMBOL:
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			return false;
		default:
			return true;
	}
}

void
FindSpecPrepare(FindSpec *spec, const char *select, StringInfo sql, Datum *values,
				Oid *types, int *nparams)
{
	*nparams = 0;
	FindSpecPrepareFrom(spec, select, sql, values, types, nparams);
}

/*
 * As FindSpecPrepare, numbering its parameters from *nparams + 1 on (a
 * query that is part of a larger one).
 */
void
FindSpecPrepareFrom(FindSpec *spec, const char *select, StringInfo sql, Datum *values,
					Oid *types, int *nparams)
{
	Oid			bsonoid = BsonTypeOid();
	bool		filter_empty = spec->filter_len <= 5;
	Bson	   *id;
	Bson	   *collation_param;
	int			collation_index = 0;
	BsonQueryError error = {0};
	BsonTextQuery text;
	bson_t	   *text_index = NULL;
	bool		near;
	bool		filter_written = false;
	int			filter_index = 1;
	StringInfoData order;
	StringInfoData minmax_order;

	FindSpecCollation(spec, &collation_param);
	spec->compiled_filter = BsonFilterCompileCollated(spec->filter, spec->filter_len,
													  spec->compiled_collation, &error);
	if (spec->compiled_filter == NULL)
		MongoRaise(error.code, "%s", error.message ? error.message : "invalid filter");
	if (spec->projection != NULL && spec->projection_len > 5)
	{
		spec->compiled_projection = BsonProjectionCompileCollated(spec->projection,
																  spec->projection_len,
																  spec->compiled_collation,
																  &error);
		if (spec->compiled_projection == NULL)
			MongoRaise(error.code, "%s", error.message);
	}
	if (spec->sort != NULL && spec->sort_len > 5)
	{
		spec->compiled_sort = BsonSortCompile(spec->sort, spec->sort_len, &error);
		if (spec->compiled_sort == NULL)
			MongoRaise(error.code, "%s", error.message);
	}
	if (BsonFilterGetText(spec->compiled_filter, &text))
	{
		/* our scans use no index: the other branches of an $or have none */
		if (text.or_with_others)
			MongoRaise(MONGO_NO_QUERY_EXECUTION_PLANS,
					   "error processing query: planner returned error :: caused by :: Failed to produce a solution for TEXT under OR - other non-TEXT clauses under OR have to be indexed as well.");
		if (spec->compiled_sort != NULL && BsonSortIsNatural(spec->compiled_sort))
			MongoRaise(MONGO_BAD_VALUE,
					   "error processing query: planner returned error :: caused by :: $natural sort cannot be set on a text query");
		text_index = TextFindIndex(spec->coll->indexes);
		if (text_index == NULL)
			MongoRaise(MONGO_INDEX_NOT_FOUND, "text index required for $text query");
		{
			bson_iter_t h;

			/* a hidden text index is not there for the planner */
			if (bson_iter_init_find(&h, text_index, "hidden") && bson_iter_as_bool(&h))
				MongoRaise(MONGO_NO_QUERY_EXECUTION_PLANS,
						   "error processing query: planner returned error :: caused by :: need exactly one text index for $text query");
		}
	}

	initStringInfo(&order);
	if (collation_param != NULL)
	{
		values[*nparams] = PointerGetDatum(collation_param);
		types[*nparams] = bsonoid;
		collation_index = ++(*nparams);
	}
	spec->collation_param = collation_index;
	if (spec->min == NULL && spec->max == NULL)
		IndexHintCheck(spec->coll, spec->hint, spec->filter, spec->filter_len);
	initStringInfo(&minmax_order);
	appendStringInfo(sql, "SELECT %s FROM %s", select, spec->coll->qualified);
	near = GeoNearCheckIndex(spec->coll, spec->compiled_filter) &&
		(spec->compiled_sort == NULL || BsonSortIsNatural(spec->compiled_sort));
	if (!filter_empty && text_index == NULL && !near)
	{
		/*
		 * The conditions the indexes answer (under the query's collation,
		 * those whose index has it or that hold no strings), and the rest
		 * for the matcher.
		 */
		StringInfoData where;

		initStringInfo(&where);
		if (IndexPlanFilter(spec->coll, spec->filter, spec->filter_len, spec->hint,
							spec->compiled_collation, collation_index, &where,
							values, types, nparams))
		{
			appendStringInfo(sql, " WHERE %s", where.data);
			filter_written = true;
		}
	}
	else if (!filter_empty)
	{
		Bson	   *f = palloc(VARHDRSZ + spec->filter_len);

		SET_VARSIZE(f, VARHDRSZ + spec->filter_len);
		memcpy(VARDATA(f), spec->filter, spec->filter_len);
		values[*nparams] = PointerGetDatum(f);
		types[*nparams] = bsonoid;
		(*nparams)++;
		filter_index = *nparams;
		if (text_index != NULL)
		{
			/* $text: the matcher needs the text index spec */
			values[*nparams] = PointerGetDatum(BsonFromDocument(text_index, false));
			types[*nparams] = bsonoid;
			(*nparams)++;
			bson_destroy(text_index);
			if (collation_index > 0)
				appendStringInfo(sql, " WHERE nosql.bson_matches_text(document, $%d, $%d, $%d)",
								 *nparams - 1, *nparams, collation_index);
			else
				appendStringInfo(sql, " WHERE nosql.bson_matches_text(document, $%d, $%d)",
								 *nparams - 1, *nparams);
		}
		else if (collation_index > 0)
			appendStringInfo(sql, " WHERE nosql.bson_matches(document, $%d, $%d)",
							 *nparams, collation_index);
		else
			appendStringInfo(sql, " WHERE document OPERATOR(nosql.@@) $%d", *nparams);
		id = FilterIdEquality(spec->filter, spec->filter_len);
		if (id != NULL && collation_index > 0 && !IdLookupCollationSafe(id))
			id = NULL;
		if (id != NULL)
		{
			values[*nparams] = PointerGetDatum(id);
			types[*nparams] = bsonoid;
			(*nparams)++;
			appendStringInfo(sql, " AND _id OPERATOR(nosql.=) $%d", *nparams);
		}
		filter_written = true;
	}
	if (spec->min != NULL || spec->max != NULL)
	{
		/* min/max: bounds on the hinted index's keys */
		StringInfoData bounds;

		initStringInfo(&bounds);
		IndexMinMax(spec->coll, spec->hint, spec->min, spec->min_len, spec->max,
					spec->max_len, &bounds, &minmax_order, values, types, nparams);
		appendStringInfo(sql, " %s %s", filter_written ? "AND" : "WHERE", bounds.data);
	}
	if (near)
	{
		/* $near: nearest first, by the filter's parameter */
		appendStringInfo(sql, " ORDER BY nosql.bson_near_distance(document, $%d)", filter_index);
	}
	else if (spec->compiled_sort != NULL && !BsonSortIsNatural(spec->compiled_sort) &&
			 IndexPlanSort(spec->coll, spec->compiled_sort, spec->compiled_collation, &order))
		appendStringInfo(sql, " ORDER BY %s", order.data);
	else if (spec->compiled_sort != NULL && !BsonSortIsNatural(spec->compiled_sort))
	{
		int			n = BsonSortFieldCount(spec->compiled_sort);

		appendStringInfoString(sql, " ORDER BY ");
		for (int i = 0; i < n; i++)
		{
			bool		desc = BsonSortFieldDescending(spec->compiled_sort, i);

			values[*nparams] = CStringGetTextDatum(BsonSortFieldPath(spec->compiled_sort, i));
			types[*nparams] = TEXTOID;
			(*nparams)++;
			if (collation_index > 0)
				appendStringInfo(sql, "%snosql.bson_sort_value(document, $%d, %s, $%d)%s",
								 i > 0 ? ", " : "", *nparams, desc ? "true" : "false",
								 collation_index, desc ? " DESC" : "");
			else
				appendStringInfo(sql, "%snosql.bson_sort_value(document, $%d, %s)%s",
								 i > 0 ? ", " : "", *nparams, desc ? "true" : "false",
								 desc ? " DESC" : "");
		}
	}
	else if (spec->compiled_sort != NULL && BsonSortNaturalDirection(spec->compiled_sort) < 0)
		appendStringInfoString(sql, spec->coll->capped ? " ORDER BY _seq DESC" : " ORDER BY ctid DESC");
	else if (minmax_order.len > 0)
		appendStringInfo(sql, " ORDER BY %s", minmax_order.data);	/* the index's order */
	else if (spec->coll->capped)
		appendStringInfoString(sql, " ORDER BY _seq");	/* natural order: insertion order */
	if (spec->skip > 0)
		appendStringInfo(sql, " OFFSET " INT64_FORMAT, spec->skip);
	if (spec->hint != NULL)
		appendStringInfo(sql, " /* hint %s */", quote_identifier(spec->hint));
	if (spec->limit > 0)
		appendStringInfo(sql, " LIMIT " INT64_FORMAT, spec->limit);
}

/*
 * The document to return for a row: projected when there is a projection.
 * out is initialised here; the result points into it or into row.
 */
const uint8_t *
ProjectRow(BsonFilter *filter, BsonProjection *projection, const Bson *row,
		   bson_t *out, uint32_t *len)
{
	BsonQueryError error = {0};
	int32_t		position = -1;

	if (projection == NULL)
	{
		*len = BsonDocLen(row);
		return BsonBytes(row);
	}
	if (BsonProjectionNeedsPosition(projection))
		(void) BsonFilterMatchesWithPosition(filter, BsonBytes(row), BsonDocLen(row),
											 &position);
	bson_init(out);
	if (!BsonProjectionApply(projection, BsonBytes(row), BsonDocLen(row), position,
							 out, &error))
		MongoRaise(error.code, "Executor error during find command :: caused by :: %s",
				   error.message);
	*len = out->len;
	return bson_get_data(out);
}

/*
 * Fill one batch (array) from a portal: at most max documents (0: no
 * count limit) and about MAX_BATCH_BYTES.  Returns whether the portal is
 * exhausted.  A document that does not fit is left in *stash.
 */
static bool
FillBatch(Portal portal, bson_t **stash, MemoryContext stash_context, BsonFilter *filter,
		  BsonProjection *projection, int64 max, bson_t *batch, int64 *count,
		  MemoryContext batch_context)
{
	size_t		bytes = 0;
	char		key[16];
	const char *keyp;

	*count = 0;
	if (*stash != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(batch_context);

		bson_uint32_to_string((uint32_t) *count, &keyp, key, sizeof(key));
		bson_append_document(batch, keyp, -1, *stash);
		MemoryContextSwitchTo(old);
		bytes += (*stash)->len;
		(*count)++;
		bson_destroy(*stash);
		*stash = NULL;
	}
	for (;;)
	{
		int64		want = FETCH_CHUNK;

		if (max > 0)
		{
			if (*count >= max)
				return false;
			want = Min(want, max - *count);
		}
		SPI_cursor_fetch(portal, true, (long) want);
		if (SPI_processed == 0)
		{
			SPI_freetuptable(SPI_tuptable);
			return true;
		}
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Bson	   *row = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1,
														  &isnull));
			bson_t		projected;
			uint32_t	len;
			const uint8_t *doc = ProjectRow(filter, projection, row, &projected, &len);
			bson_t		d;
			MemoryContext old;

			if (*count > 0 && bytes + len > MAX_BATCH_BYTES)
			{
				/*
				 * Full: keep this document for the next batch and put the
				 * rest of the chunk back.
				 */
				old = MemoryContextSwitchTo(stash_context);
				*stash = bson_new_from_data(doc, len);
				MemoryContextSwitchTo(old);
				if (i + 1 < SPI_processed)
					SPI_cursor_move(portal, false, (long) (SPI_processed - i - 1));
				SPI_freetuptable(SPI_tuptable);
				return false;
			}
			/*
			 * The batch grows in the caller's memory: this runs inside SPI,
			 * whose memory goes at SPI_finish.
			 */
			old = MemoryContextSwitchTo(batch_context);
			bson_uint32_to_string((uint32_t) *count, &keyp, key, sizeof(key));
			bson_init_static(&d, doc, len);
			bson_append_document(batch, keyp, -1, &d);
			MemoryContextSwitchTo(old);
			bytes += len;
			(*count)++;
		}
		if (SPI_processed < (uint64) want)
		{
			SPI_freetuptable(SPI_tuptable);
			return true;
		}
		SPI_freetuptable(SPI_tuptable);
	}
}

static void
AppendCursorReply(bson_t *reply, const char *batch_name, const bson_t *batch, int64 id,
				  const char *ns)
{
	bson_t		cursor;

	BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
	bson_append_array(&cursor, batch_name, -1, batch);
	BSON_APPEND_INT64(&cursor, "id", id);
	BSON_APPEND_UTF8(&cursor, "ns", ns);
	bson_append_document_end(reply, &cursor);
}

/* A change stream's cursor document: the batch, the resume point, id, ns */
static void
AppendStreamReply(bson_t *reply, const char *batch_name, const bson_t *batch,
				  const char *pbrt, int64 id, const char *ns)
{
	bson_t		cursor;
	bson_t		token;

	BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
	bson_append_array(&cursor, batch_name, -1, batch);
	BSON_APPEND_DOCUMENT_BEGIN(&cursor, "postBatchResumeToken", &token);
	BSON_APPEND_UTF8(&token, "_data", pbrt);
	bson_append_document_end(&cursor, &token);
	BSON_APPEND_INT64(&cursor, "id", id);
	BSON_APPEND_UTF8(&cursor, "ns", ns);
	bson_append_document_end(reply, &cursor);
}

/*
 * ChangeStreamAggregate
 *		An aggregate whose pipeline (an array) starts with $changeStream:
 *		open the stream of collname (NULL: {aggregate: 1}, the database or,
 *		on admin, every database) behind a tailable cursor that lives until
 *		killCursors, the idle timeout or an invalidate, and return the
 *		events already logged after its start (at most batch_size).
 */
void
ChangeStreamAggregate(CommandContext *ctx, const char *collname, const bson_iter_t *pipeline,
					  int64 batch_size, bson_t *reply)
{
	MemoryContext cursor_context;
	MemoryContext old;
	const uint8_t *data;
	uint32_t	len;
	bson_t		array;
	bson_iter_t first;
	bson_iter_t options;
	bson_t		batch;
	char		pbrt[CDC_TOKEN_LEN + 1];
	volatile bool invalidated = false;
	CdcStream  *volatile stream = NULL;
	const char *cursor_coll = collname != NULL ? collname : "$cmd.aggregate";
	char	   *ns = psprintf("%s.%s", ctx->database, cursor_coll);
	int64		id;

	bson_iter_array(pipeline, &len, &data);
	if (!bson_init_static(&array, data, len) || !bson_iter_init(&first, &array) ||
		!bson_iter_next(&first) || !bson_iter_recurse(&first, &options) ||
		!bson_iter_next(&options))
		elog(ERROR, "corrupt $changeStream pipeline");

	cursor_context = AllocSetContextCreate(TopMemoryContext, "nosql change stream cursor",
										   ALLOCSET_SMALL_SIZES);
	bson_init(&batch);
	PG_TRY();
	{
		old = MemoryContextSwitchTo(cursor_context);
		stream = CdcStreamOpen(ctx->database, collname, &options, &array);
		MemoryContextSwitchTo(old);
		if (batch_size == 0)
			CdcStreamResumePoint(stream, pbrt);
		else
			invalidated = CdcStreamNext(stream, batch_size, 0, &batch, pbrt);
	}
	PG_CATCH();
	{
		MemoryContextDelete(cursor_context);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (invalidated)
	{
		MemoryContextDelete(cursor_context);
		id = 0;
	}
	else
	{
		CursorEntry *entry;
		bool		found;

		CursorTableInit();
		id = CursorNewId();
		entry = hash_search(cursors, &id, HASH_ENTER, &found);
		memset(((char *) entry) + sizeof(int64), 0, sizeof(CursorEntry) - sizeof(int64));
		snprintf(entry->portal, sizeof(entry->portal), "nosql_stream_" INT64_FORMAT, id);
		entry->context = cursor_context;
		entry->database = MemoryContextStrdup(cursor_context, ctx->database);
		entry->collection = MemoryContextStrdup(cursor_context, cursor_coll);
		entry->userid = GetUserId();
		entry->last_used = GetCurrentTimestamp();
		entry->stream = stream;
		CdcStreamSetCursor(stream, id);
	}
	AppendStreamReply(reply, "firstBatch", &batch, pbrt, id, ns);
	bson_destroy(&batch);
}

/* Fields every command accepts and we ignore */
bool
IsGenericField(const char *key)
{
	static const char *const generic[] = {
		"$db", "lsid", "txnNumber", "$clusterTime", "comment", "maxTimeMS",
		"readConcern", "writeConcern", "$readPreference", "apiVersion", "apiStrict",
		"apiDeprecationErrors", "autocommit", "startTransaction", "$audit",
		"$client", "mayBypassWriteBlocking", "$configServerState", "databaseVersion",
		"shardVersion", "$queryOptions", "clientOperationKey", "readPreference",
		"$configTime", "$topologyTime", "maxTimeMSOpOnly", "txnRetryCounter",
		"rawData", NULL
	};

	for (int i = 0; generic[i] != NULL; i++)
		if (strcmp(key, generic[i]) == 0)
			return true;
	return false;
}

/*
 * returnKey: the documents become the keys of the index the query reads
 * (an inclusion projection of its key pattern), or empty documents when it
 * reads none, as MongoDB's are.
 */
static void
ReturnKeyProjection(FindSpec *spec)
{
	const uint8_t *key;
	uint32_t	key_len;
	bson_t	   *proj = bson_new();
	bson_t		pattern;
	bson_iter_t it;
	bool		has_id = false;

	if (IndexReturnKeyPattern(spec->coll, spec->filter, spec->filter_len, spec->hint, &key,
							  &key_len) &&
		bson_init_static(&pattern, key, key_len) && bson_iter_init(&it, &pattern))
	{
		while (bson_iter_next(&it))
		{
			BSON_APPEND_INT32(proj, bson_iter_key(&it), 1);
			if (strcmp(bson_iter_key(&it), "_id") == 0)
				has_id = true;
		}
	}
	else
		BSON_APPEND_INT32(proj, "\x01", 1);	/* a field no document has: {} */
	if (!has_id)
		BSON_APPEND_INT32(proj, "_id", 0);
	spec->projection = bson_get_data(proj);
	spec->projection_len = proj->len;
}

/* Append the stage {name: doc bytes} to a stages array */
static void
ViewStageDocument(bson_t *stages, uint32_t *n, const char *name, const uint8_t *data,
				  uint32_t len)
{
	char		key[16];
	const char *keyp;
	bson_t		stage;
	bson_t		doc;

	bson_uint32_to_string((*n)++, &keyp, key, sizeof(key));
	bson_append_document_begin(stages, keyp, -1, &stage);
	bson_init_static(&doc, data, len);
	bson_append_document(&stage, name, -1, &doc);
	bson_append_document_end(stages, &stage);
}

/* Append the stage {name: n} */
static void
ViewStageInt64(bson_t *stages, uint32_t *n, const char *name, int64 value)
{
	char		key[16];
	const char *keyp;
	bson_t		stage;

	bson_uint32_to_string((*n)++, &keyp, key, sizeof(key));
	bson_append_document_begin(stages, keyp, -1, &stage);
	bson_append_int64(&stage, name, -1, value);
	bson_append_document_end(stages, &stage);
}

/*
 * The stages of a find, count or distinct on a view: its filter, sort,
 * skip and limit (a view is read through an aggregate, agg_pipeline.c).
 */
static void
ViewFindStages(const FindSpec *spec, bson_t *stages, uint32_t *n)
{
	if (spec->filter != NULL && spec->filter_len > 5)
		ViewStageDocument(stages, n, "$match", spec->filter, spec->filter_len);
	if (spec->sort != NULL && spec->sort_len > 5)
		ViewStageDocument(stages, n, "$sort", spec->sort, spec->sort_len);
	if (spec->skip > 0)
		ViewStageInt64(stages, n, "$skip", spec->skip);
	if (spec->limit > 0)
		ViewStageInt64(stages, n, "$limit", spec->limit);
}

/*
 * find
 */
void
CmdFind(CommandContext *ctx, bson_t *reply)
{
	MemoryContext caller = CurrentMemoryContext;
	bson_t	   *stash = NULL;
	char	   *collname = CommandCollectionName(ctx);
	FindSpec	spec;
	bson_iter_t it;
	int64		batch_size = DEFAULT_FIRST_BATCH;
	bool		single_batch = false;
	bool		return_key = false;
	bool		has_limit_one = false;
	bool		tailable = false;
	bool		await_data = false;
	bson_iter_t hint;
	BsonTextQuery text;
	bool		has_hint = false;
	char	   *ns = psprintf("%s.%s", ctx->database, collname);
	StringInfoData sql;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams;
	Portal		portal;
	bson_t		batch;
	int64		count;
	bool		done;
	int64		id = 0;
	CursorEntry *entry;
	MemoryContext cursor_context;
	MemoryContext old;
	char		portal_name[NAMEDATALEN];

	FindSpecInit(&spec);
	bson_iter_init(&it, &ctx->command);
	bson_iter_next(&it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "filter") == 0)
			FieldDocument("find", &it, &spec.filter, &spec.filter_len);
		else if (strcmp(key, "projection") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("find", &it, &spec.projection, &spec.projection_len);
		}
		else if (strcmp(key, "sort") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("find", &it, &spec.sort, &spec.sort_len);
		}
		else if (strcmp(key, "skip") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			spec.skip = FieldNonNegativeCode("find", &it, MONGO_BAD_VALUE);
		}
		else if (strcmp(key, "limit") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			spec.limit = FieldNonNegativeCode("find", &it, MONGO_BAD_VALUE);
		}
		else if (strcmp(key, "tailable") == 0)
			tailable = FieldBool("find", &it);
		else if (strcmp(key, "awaitData") == 0)
			await_data = FieldBool("find", &it);
		else if (strcmp(key, "batchSize") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			batch_size = FieldNonNegative("find", &it);
		}
		else if (strcmp(key, "singleBatch") == 0)
			single_batch = FieldBool("find", &it);
		else if (strcmp(key, "hint") == 0)
		{
			hint = it;
			has_hint = true;
		}
		else if (strcmp(key, "collation") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("find", &it, &spec.collation, &spec.collation_len);
		}
		else if (strcmp(key, "returnKey") == 0)
			return_key = FieldBool("find", &it);
		else if (strcmp(key, "min") == 0)
			FieldDocument("find", &it, &spec.min, &spec.min_len);
		else if (strcmp(key, "max") == 0)
			FieldDocument("find", &it, &spec.max, &spec.max_len);
		else if (strcmp(key, "let") == 0)
			CommandLetEvaluate(ctx, &it);
		else if (strcmp(key, "allowDiskUse") == 0 ||
				 strcmp(key, "noCursorTimeout") == 0 ||
				 strcmp(key, "showRecordId") == 0 || strcmp(key, "allowPartialResults") == 0 ||
				 strcmp(key, "oplogReplay") == 0 || strcmp(key, "readOnce") == 0 ||
				 strcmp(key, "singleBatch") == 0 || strcmp(key, "term") == 0 ||
				 GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'find.%s' is an unknown field.",
					   key);
	}
	(void) has_limit_one;
	CommandBindFilter(ctx, &spec.filter, &spec.filter_len);
	CommandBindExpressions(ctx, &spec.projection, &spec.projection_len);
	if (await_data && !tailable)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Cannot set 'awaitData' without also setting 'tailable'");
	if (tailable && single_batch)
		MongoRaise(MONGO_BAD_VALUE, "Cannot set both 'tailable' and 'singleBatch'");

	spec.coll = CollectionLookup(ctx->database, collname);
	if (has_hint)
		spec.hint = CheckHint(spec.coll, &hint);
	if (return_key)
		ReturnKeyProjection(&spec);
	if (tailable && spec.coll != NULL)
	{
		bson_iter_t capped;

		if (spec.coll->is_view)
			MongoRaise(MONGO_INVALID_PIPELINE_OPERATOR,
					   "Namespace %s is a view; tailable cursors are not supported on views", ns);
		if (bson_iter_init_find(&capped, spec.coll->options, "timeseries"))
			MongoRaise(MONGO_INVALID_PIPELINE_OPERATOR,
					   "Namespace %s is a time-series collection; tailable cursors are not supported on it", ns);
		if (!bson_iter_init_find(&capped, spec.coll->options, "capped") ||
			!bson_iter_as_bool(&capped))
			MongoRaise(MONGO_BAD_VALUE,
					   "error processing query: tailable cursor requested on non capped collection %s", ns);
		if (spec.sort != NULL && spec.sort_len > 5)
		{
			bson_t		s;
			bson_iter_t si;

			bson_init_static(&s, spec.sort, spec.sort_len);
			if (!bson_iter_init(&si, &s) || !bson_iter_next(&si) ||
				strcmp(bson_iter_key(&si), "$natural") != 0 ||
				bson_iter_as_int64(&si) != 1 || bson_iter_next(&si))
				MongoRaise(MONGO_BAD_VALUE,
						   "cannot use tailable option with a sort other than {$natural: 1}");
		}
	}
	bson_init(&batch);
	if (spec.coll == NULL)
	{
		/* still check the filter etc. as MongoDB does */
		FindSpecCollation(&spec, NULL);
		(void) CompileFilter(spec.filter, spec.filter_len);
		AppendCursorReply(reply, "firstBatch", &batch, 0, ns);
		return;
	}
	if (spec.coll->is_view)
	{
		bson_t		stages;
		uint32_t	n = 0;

		if (has_hint)
			MongoRaise(MONGO_OPTION_NOT_SUPPORTED_ON_VIEW, "hint is not supported on a view");
		bson_init(&stages);
		ViewFindStages(&spec, &stages, &n);
		if (spec.projection != NULL && spec.projection_len > 5)
			ViewStageDocument(&stages, &n, "$project", spec.projection, spec.projection_len);
		AggReadView(ctx, collname, &stages, spec.collation, spec.collation_len,
					batch_size, single_batch, reply, NULL);
		return;
	}

	/* the compiled filter and projection live as long as the cursor */
	cursor_context = AllocSetContextCreate(TopMemoryContext, "nosql cursor",
										   ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		initStringInfo(&sql);
		old = MemoryContextSwitchTo(cursor_context);
		FindSpecPrepare(&spec, "document", &sql, values, types, &nparams);
		MemoryContextSwitchTo(old);
		if (has_hint && BsonFilterGetText(spec.compiled_filter, &text))
			MongoRaise(MONGO_BAD_VALUE,
					   "error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index");

		CursorTableInit();
		id = CursorNewId();
		snprintf(portal_name, sizeof(portal_name), "nosql_cursor_" INT64_FORMAT, id);

		SPI_connect();
		{
			int			level = HintSettingsPush(spec.coll, spec.hint);

			portal = SPI_cursor_open(portal_name,
									 CommandPlan(sql.data, nparams, types,
												 CURSOR_OPT_HOLD | CURSOR_OPT_NO_SCROLL),
									 values, NULL, true);
			HintSettingsPop(level);
		}
		if (batch_size == 0 && !single_batch)
		{
			done = false;
			count = 0;
		}
		else
			done = FillBatch(portal, &stash, cursor_context, spec.compiled_filter,
							 spec.compiled_projection,
							 spec.limit > 0 ? Min(batch_size, spec.limit) : batch_size,
							 &batch, &count, caller);
		if (!done && (single_batch || (spec.limit > 0 && count >= spec.limit)))
			done = true;
		if (done)
		{
			SPI_cursor_close(portal);
			id = 0;
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		MemoryContextDelete(cursor_context);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (id == 0)
		MemoryContextDelete(cursor_context);
	else
	{
		bool		found;

		entry = hash_search(cursors, &id, HASH_ENTER, &found);
		strlcpy(entry->portal, portal_name, sizeof(entry->portal));
		entry->context = cursor_context;
		entry->database = MemoryContextStrdup(cursor_context, ctx->database);
		entry->collection = MemoryContextStrdup(cursor_context, collname);
		entry->filter = spec.compiled_filter;
		entry->projection = spec.compiled_projection;
		entry->userid = GetUserId();
		entry->last_used = GetCurrentTimestamp();
		entry->stash = stash;
		entry->stream = NULL;
	}
	AppendCursorReply(reply, "firstBatch", &batch, id, ns);
}

/*
 * Open a cursor over a query whose first column is the documents to return
 * (an aggregation's), reply with its first batch and keep the rest as a
 * cursor for getMore.  coll and hint give the planner settings of a hint.
 */
void
CursorQueryReply(CommandContext *ctx, const char *collname, const char *sql, int nparams,
				 Oid *types, Datum *values, const Collection *coll, const char *hint,
				 int64 batch_size, bool single_batch, bson_t *reply)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cursor_context;
	bson_t	   *stash = NULL;
	char	   *ns = psprintf("%s.%s", ctx->database, collname);
	char		portal_name[NAMEDATALEN];
	Portal		portal;
	bson_t		batch;
	int64		count = 0;
	bool		done = false;
	int64		id;

	bson_init(&batch);
	cursor_context = AllocSetContextCreate(TopMemoryContext, "nosql cursor",
										   ALLOCSET_SMALL_SIZES);
	CursorTableInit();
	id = CursorNewId();
	snprintf(portal_name, sizeof(portal_name), "nosql_cursor_" INT64_FORMAT, id);
	PG_TRY();
	{
		int			level;

		SPI_connect();
		level = HintSettingsPush(coll, hint);
		portal = SPI_cursor_open(portal_name,
								 CommandPlan(sql, nparams, types,
											 CURSOR_OPT_HOLD | CURSOR_OPT_NO_SCROLL),
								 values, NULL, true);
		HintSettingsPop(level);
		if (batch_size > 0 || single_batch)
			done = FillBatch(portal, &stash, cursor_context, NULL, NULL, batch_size,
							 &batch, &count, caller);
		if (!done && single_batch)
			done = true;
		if (done)
		{
			SPI_cursor_close(portal);
			id = 0;
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		MemoryContextDelete(cursor_context);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (id == 0)
		MemoryContextDelete(cursor_context);
	else
	{
		bool		found;
		CursorEntry *entry = hash_search(cursors, &id, HASH_ENTER, &found);

		strlcpy(entry->portal, portal_name, sizeof(entry->portal));
		entry->context = cursor_context;
		entry->database = MemoryContextStrdup(cursor_context, ctx->database);
		entry->collection = MemoryContextStrdup(cursor_context, collname);
		entry->filter = NULL;
		entry->projection = NULL;
		entry->userid = GetUserId();
		entry->last_used = GetCurrentTimestamp();
		entry->stash = stash;
		entry->stream = NULL;
	}
	AppendCursorReply(reply, "firstBatch", &batch, id, ns);
}

/*
 * getMore: {getMore: <int64 id>, collection: <string>, batchSize, maxTimeMS}
 */
void
CmdGetMore(CommandContext *ctx, bson_t *reply)
{
	MemoryContext caller = CurrentMemoryContext;
	int64		id;
	const char *collname = NULL;
	int64		batch_size = 0;
	bson_iter_t it;
	CursorEntry *entry;
	Portal		portal;
	bson_t		batch;
	int64		count;
	bool		done;
	char	   *ns;
	int64		max_time_ms = -1;

	if (!BSON_ITER_HOLDS_INT64(&ctx->first) && !BSON_ITER_HOLDS_INT32(&ctx->first))
		RaiseWrongType("getMore", &ctx->first, "long");
	id = bson_iter_as_int64(&ctx->first);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "collection") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&it))
				RaiseWrongType("getMore", &it, "string");
			collname = bson_iter_utf8(&it, NULL);
		}
		else if (strcmp(key, "batchSize") == 0)
		{
			int64		v;

			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BsonIterIsNumber(&it))
				RaiseWrongType("getMore", &it, "[long, int, decimal, double]");
			if (!BsonIterAsInt64(&it, &v) || v < 0)
				MongoRaise(MONGO_BAD_VALUE, "Batch size for getMore must be non-negative, but received: %lld",
						   (long long) v);
			batch_size = v;
		}
		else if (strcmp(key, "term") == 0 || strcmp(key, "lastKnownCommittedOpTime") == 0 ||
				 strcmp(key, "includeQueryStatsMetrics") == 0 || GenericFieldCheck(ctx, &it))
		{
			/* checked: the await time of a change stream */
			if (strcmp(key, "maxTimeMS") == 0 && !BsonIterAsInt64(&it, &max_time_ms))
				max_time_ms = -1;
			continue;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'getMore.%s' is an unknown field.",
					   key);
	}
	if (collname == NULL)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'getMore.collection' is missing but a required field");
	if (strlen(collname) == 0)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid namespace specified '%s.'", ctx->database);
	ns = psprintf("%s.%s", ctx->database, collname);

	CursorTableInit();
	entry = hash_search(cursors, &id, HASH_FIND, NULL);
	if (entry == NULL ||
		(entry->stream == NULL && !PortalIsValid(GetPortalByName(entry->portal))))
	{
		if (entry != NULL)
			CursorClose(entry);
		MongoRaise(MONGO_CURSOR_NOT_FOUND, "cursor id %lld not found", (long long) id);
	}
	if (strcmp(entry->database, ctx->database) != 0 ||
		strcmp(entry->collection, collname) != 0)
		MongoRaise(MONGO_UNAUTHORIZED,
				   "Requested getMore on namespace '%s', but cursor belongs to a different namespace %s.%s",
				   ns, entry->database, entry->collection);
	if (entry->userid != GetUserId())
		MongoRaise(MONGO_UNAUTHORIZED, "cursor id %lld was not created by the authenticated user",
				   (long long) id);

	if (entry->stream != NULL)
	{
		char		pbrt[CDC_TOKEN_LEN + 1];

		/* awaitData: MongoDB's default await time is one second */
		bson_init(&batch);
		done = CdcStreamNext(entry->stream, batch_size,
							 max_time_ms < 0 ? 1000 : max_time_ms, &batch, pbrt);
		entry->last_used = GetCurrentTimestamp();
		if (done)
		{
			CursorClose(entry);
			id = 0;
		}
		AppendStreamReply(reply, "nextBatch", &batch, pbrt, id, ns);
		bson_destroy(&batch);
		return;
	}

	portal = GetPortalByName(entry->portal);
	bson_init(&batch);
	SPI_connect();
	done = FillBatch(portal, &entry->stash, entry->context, entry->filter,
					 entry->projection, batch_size, &batch, &count, caller);
	SPI_finish();
	entry->last_used = GetCurrentTimestamp();
	if (done)
	{
		CursorClose(entry);
		id = 0;
	}
	AppendCursorReply(reply, "nextBatch", &batch, id, ns);
}

/*
 * killCursors: {killCursors: <collection>, cursors: [<int64>...]}
 */
void
CmdKillCursors(CommandContext *ctx, bson_t *reply)
{
	/* the cursors of {aggregate: 1} belong to "$cmd.aggregate" */
	char	   *collname = BSON_ITER_HOLDS_UTF8(&ctx->first) &&
		strcmp(bson_iter_utf8(&ctx->first, NULL), "$cmd.aggregate") == 0 ?
		pstrdup("$cmd.aggregate") : CommandCollectionName(ctx);
	bson_iter_t it;
	bson_iter_t ids;
	bool		have_cursors = false;
	bson_t		killed,
				notfound,
				alive,
				unknown;
	int			nk = 0,
				nn = 0;
	char		key[16];
	const char *keyp;

	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "cursors") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;		/* null is a missing field */
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				RaiseWrongType("killCursors", &it, "array");
			have_cursors = true;
			bson_iter_recurse(&it, &ids);
		}
		else if (GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'killCursors.%s' is an unknown field.",
					   k);
	}
	if (!have_cursors)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'killCursors.cursors' is missing but a required field");

	/* check every id first: an error must not leave some killed */
	{
		bson_iter_t check = ids;

		while (bson_iter_next(&check))
			if (!BSON_ITER_HOLDS_INT64(&check) && !BSON_ITER_HOLDS_INT32(&check))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field 'killCursors.cursors.%s' is the wrong type '%s', expected type 'long'",
						   bson_iter_key(&check), BsonTypeName(bson_iter_type(&check)));
	}

	CursorTableInit();
	bson_init(&killed);
	bson_init(&notfound);
	bson_init(&alive);
	bson_init(&unknown);
	while (bson_iter_next(&ids))
	{
		int64		id = bson_iter_as_int64(&ids);
		CursorEntry *entry = hash_search(cursors, &id, HASH_FIND, NULL);

		if (entry != NULL && strcmp(entry->database, ctx->database) == 0 &&
			strcmp(entry->collection, collname) == 0 && entry->userid == GetUserId())
		{
			CursorClose(entry);
			bson_uint32_to_string(nk++, &keyp, key, sizeof(key));
			bson_append_iter(&killed, keyp, -1, &ids);
		}
		else
		{
			bson_uint32_to_string(nn++, &keyp, key, sizeof(key));
			bson_append_iter(&notfound, keyp, -1, &ids);
		}
	}
	bson_append_array(reply, "cursorsKilled", -1, &killed);
	bson_append_array(reply, "cursorsNotFound", -1, &notfound);
	bson_append_array(reply, "cursorsAlive", -1, &alive);
	bson_append_array(reply, "cursorsUnknown", -1, &unknown);
}

/*
 * count: {count: <collection>, query, limit, skip, hint}
 */
void
CmdCount(CommandContext *ctx, bson_t *reply)
{
	char	   *collname = CommandCollectionName(ctx);
	FindSpec	spec;
	bson_iter_t it;
	StringInfoData sql;
	bson_iter_t hint;
	bool		has_hint = false;
	StringInfoData outer;
	int			cursor_options;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams;
	int64		n = 0;

	FindSpecInit(&spec);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "query") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("count", &it, &spec.filter, &spec.filter_len);
		}
		else if (strcmp(key, "skip") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			spec.skip = CountSkip(&it);
		}
		else if (strcmp(key, "limit") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			spec.limit = CountLimit(&it);
		}
		else if (strcmp(key, "collation") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("count", &it, &spec.collation, &spec.collation_len);
		}
		else if (strcmp(key, "hint") == 0)
		{
			CheckHintShape(&it);
			hint = it;
			has_hint = true;
		}
		else if (strcmp(key, "fields") == 0 || strcmp(key, "encryptionInformation") == 0 ||
				 GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'count.%s' is an unknown field.",
					   key);
	}
	spec.coll = CollectionLookup(ctx->database, collname);
	if (has_hint && spec.coll != NULL)
	{
		spec.hint = CheckHint(spec.coll, &hint);
		HintIndexCondition(spec.coll, spec.hint, &spec.filter, &spec.filter_len);
	}
	if (spec.coll == NULL)
	{
		FindSpecCollation(&spec, NULL);
		(void) CompileFilter(spec.filter, spec.filter_len);
		BSON_APPEND_INT32(reply, "n", 0);
		return;
	}
	if (spec.coll->is_view)
	{
		bson_t		stages;
		bson_t		first;
		uint32_t	n = 0;
		char		key[16];
		const char *keyp;
		bson_t		stage;
		bson_iter_t c;

		bson_init(&stages);
		ViewFindStages(&spec, &stages, &n);
		bson_uint32_to_string(n++, &keyp, key, sizeof(key));
		bson_append_document_begin(&stages, keyp, -1, &stage);
		BSON_APPEND_UTF8(&stage, "$count", "n");
		bson_append_document_end(&stages, &stage);
		bson_init(&first);
		AggReadView(ctx, collname, &stages, spec.collation, spec.collation_len, 0, false,
					NULL, &first);
		if (bson_iter_init_find(&c, &first, "n"))
			bson_append_iter(reply, "n", 1, &c);
		else
			BSON_APPEND_INT32(reply, "n", 0);
		return;
	}
	initStringInfo(&sql);
	FindSpecPrepare(&spec, "1", &sql, values, types, &nparams);
	{
		BsonTextQuery text;

		if (spec.hint != NULL && BsonFilterGetText(spec.compiled_filter, &text))
			MongoRaise(MONGO_BAD_VALUE,
					   "error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index");
	}
	initStringInfo(&outer);
	appendStringInfo(&outer, "SELECT count(*) FROM (%s) c", sql.data);
	cursor_options = CURSOR_OPT_PARALLEL_OK;
	{
		/*
		 * One ordered index answering the filter: count its keys and the
		 * documents with NULL keys apart, instead of rechecking every row.
		 * When its key conditions are equalities, the plan is kept generic:
		 * the expression statistics estimate any value alike (rows / n
		 * distinct), so replanning every count for its values (PostgreSQL's
		 * custom plans) would only add the planning time.
		 */
		BsonTextQuery text;
		StringInfoData keys;
		StringInfoData nulls;
		/* the collation's document, if any, stays parameter 1 */
		int			split_nparams = spec.collation_param;
		bool		equality = false;

		initStringInfo(&keys);
		initStringInfo(&nulls);
		if (spec.skip == 0 && spec.limit == 0 &&
			spec.filter_len > 5 && !BsonFilterGetText(spec.compiled_filter, &text) &&
			!GeoNearCheckIndex(spec.coll, spec.compiled_filter) &&
			IndexPlanFilterSplit(spec.coll, spec.filter, spec.filter_len, spec.hint,
								 spec.compiled_collation, spec.collation_param, &keys, &nulls,
								 &equality, values, types, &split_nparams))
		{
			nparams = split_nparams;
			if (equality)
				cursor_options |= CURSOR_OPT_GENERIC_PLAN;
			resetStringInfo(&outer);
			appendStringInfo(&outer, "SELECT (SELECT count(*) FROM %s WHERE %s) + "
							 "(SELECT count(*) FROM %s WHERE %s)",
							 spec.coll->qualified, keys.data, spec.coll->qualified, nulls.data);
		}
	}
	SPI_connect();
	{
		int			level = HintSettingsPush(spec.coll, spec.hint);

		if (spec.hint != NULL)
			appendStringInfo(&outer, " /* hint %s */", quote_identifier(spec.hint));
		if (SPI_execute_plan(CommandPlan(outer.data, nparams, types, cursor_options),
							 values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "count failed");
		HintSettingsPop(level);
	}
	{
		bool		isnull;

		n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										&isnull));
	}
	SPI_finish();
	if (n > INT32_MAX)
		BSON_APPEND_INT64(reply, "n", n);
	else
		BSON_APPEND_INT32(reply, "n", (int32) n);
}

/* ---- distinct ---- */

typedef struct DistinctValues
{
	bson_value_t *values;
	int			count;
	int			capacity;
} DistinctValues;

static void
DistinctAdd(DistinctValues *dv, const bson_iter_t *it)
{
	if (dv->count == dv->capacity)
	{
		dv->capacity = dv->capacity ? dv->capacity * 2 : 64;
		dv->values = dv->values ? repalloc_huge(dv->values, sizeof(bson_value_t) * dv->capacity)
			: palloc(sizeof(bson_value_t) * dv->capacity);
	}
	bson_value_copy(bson_iter_value((bson_iter_t *) it), &dv->values[dv->count++]);
}

/* The values at path[depth...] of a document, arrays unwound, as distinct does */
static void
DistinctCollect(bson_iter_t *doc, char **parts, int nparts, int depth, DistinctValues *dv)
{
	bson_iter_t it;

	if (!bson_iter_find(doc, parts[depth]))
		return;
	it = *doc;
	if (depth == nparts - 1)
	{
		if (BSON_ITER_HOLDS_ARRAY(&it))
		{
			bson_iter_t el;

			bson_iter_recurse(&it, &el);
			while (bson_iter_next(&el))
				DistinctAdd(dv, &el);
		}
		else
			DistinctAdd(dv, &it);
		return;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		bson_iter_t child;

		bson_iter_recurse(&it, &child);
		DistinctCollect(&child, parts, nparts, depth + 1, dv);
	}
	else if (BSON_ITER_HOLDS_ARRAY(&it))
	{
		bson_iter_t el;
		bool		numeric = parts[depth + 1][0] >= '0' && parts[depth + 1][0] <= '9';

		bson_iter_recurse(&it, &el);
		if (numeric)
		{
			bson_iter_t arr = el;

			if (bson_iter_find(&arr, parts[depth + 1]))
			{
				if (depth + 1 == nparts - 1)
				{
					if (BSON_ITER_HOLDS_ARRAY(&arr))
					{
						bson_iter_t e2;

						bson_iter_recurse(&arr, &e2);
						while (bson_iter_next(&e2))
							DistinctAdd(dv, &e2);
					}
					else
						DistinctAdd(dv, &arr);
				}
				else if (BSON_ITER_HOLDS_DOCUMENT(&arr))
				{
					bson_iter_t child;

					bson_iter_recurse(&arr, &child);
					DistinctCollect(&child, parts, nparts, depth + 2, dv);
				}
			}
		}
		while (bson_iter_next(&el))
		{
			if (BSON_ITER_HOLDS_DOCUMENT(&el))
			{
				bson_iter_t child;

				bson_iter_recurse(&el, &child);
				DistinctCollect(&child, parts, nparts, depth + 1, dv);
			}
		}
	}
}

/*
 * Compare two distinct values, strings under a collation (NULL: simple).
 */
static int
DistinctCompareCollated(const bson_value_t *a, const bson_value_t *b,
						const BsonCollation *collation)
{
	bson_t		da,
				db;
	bson_iter_t ia,
				ib;
	int			r;

	bson_init(&da);
	bson_init(&db);
	bson_append_value(&da, "", 0, (const bson_value_t *) a);
	bson_append_value(&db, "", 0, (const bson_value_t *) b);
	bson_iter_init(&ia, &da);
	bson_iter_next(&ia);
	bson_iter_init(&ib, &db);
	bson_iter_next(&ib);
	r = BsonCompareValuesCollated(&ia, &ib, collation);
	bson_destroy(&da);
	bson_destroy(&db);
	return r;
}

/* What the qsort_arg comparator of distinct's value indexes needs */
typedef struct DistinctSortArg
{
	const DistinctValues *dv;
	const BsonCollation *collation;
} DistinctSortArg;

/*
 * qsort_arg comparator of indexes into the distinct values: by value, then
 * by index, so that of values that compare equal the first one found is
 * the one returned.
 */
static int
DistinctCompareIndexes(const void *a, const void *b, void *arg)
{
	const DistinctSortArg *sa = (const DistinctSortArg *) arg;
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	int			r = DistinctCompareCollated(&sa->dv->values[ia], &sa->dv->values[ib],
											sa->collation);

	return r != 0 ? r : (ia > ib) - (ia < ib);
}

/*
 * distinct: {distinct: <collection>, key: <path>, query}
 */
void
CmdDistinct(CommandContext *ctx, bson_t *reply)
{
	bson_iter_t hint;
	bool		has_hint = false;
	char	   *collname = CommandCollectionName(ctx);
	FindSpec	spec;
	bson_iter_t it;
	const char *key = NULL;
	StringInfoData sql;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams;
	DistinctValues dv = {0};
	bson_t		out;
	char	  **parts;
	int			nparts = 0;
	char	   *copy;

	FindSpecInit(&spec);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "key") == 0)
		{
			uint32_t	keylen;

			/* null is an absent field, as MongoDB's IDL parser takes it */
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&it))
				RaiseWrongType("distinct", &it, "string");
			key = bson_iter_utf8(&it, &keylen);
			if (strlen(key) != keylen)
				MongoRaise(31032, "Key field cannot contain an embedded null byte");
		}
		else if (strcmp(k, "query") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("distinct", &it, &spec.filter, &spec.filter_len);
		}
		else if (strcmp(k, "collation") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("distinct", &it, &spec.collation, &spec.collation_len);
		}
		else if (strcmp(k, "hint") == 0)
		{
			CheckHintShape(&it);
			hint = it;
			has_hint = true;
		}
		else if (GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'distinct.%s' is an unknown field.",
					   k);
	}
	if (key == NULL)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'distinct.key' is missing but a required field");

	/*
	 * The path's components, empty ones kept: "" is the field named "",
	 * "a..b" looks for a field "" under a (and finds none there).
	 */
	copy = pstrdup(key);
	parts = palloc(sizeof(char *) * (strlen(key) + 2));
	parts[nparts++] = copy;
	for (char *p = copy; *p; p++)
		if (*p == '.')
		{
			*p = '\0';
			parts[nparts++] = p + 1;
		}

	spec.coll = CollectionLookup(ctx->database, collname);
	if (spec.coll != NULL && spec.coll->is_view)
	{
		/* [$match, $unwind (arrays give their elements), $group $addToSet] */
		bson_t		stages;
		bson_t		first;
		uint32_t	n = 0;
		char		k[16];
		const char *kp;
		bson_t		stage;
		bson_t		inner;
		bson_t		acc;
		bson_iter_t v;
		char	   *path = psprintf("$%s", key);

		bson_init(&stages);
		ViewFindStages(&spec, &stages, &n);
		bson_uint32_to_string(n++, &kp, k, sizeof(k));
		bson_append_document_begin(&stages, kp, -1, &stage);
		bson_append_document_begin(&stage, "$unwind", -1, &inner);
		BSON_APPEND_UTF8(&inner, "path", path);
		BSON_APPEND_BOOL(&inner, "preserveNullAndEmptyArrays", true);
		bson_append_document_end(&stage, &inner);
		bson_append_document_end(&stages, &stage);
		bson_uint32_to_string(n++, &kp, k, sizeof(k));
		bson_append_document_begin(&stages, kp, -1, &stage);
		bson_append_document_begin(&stage, "$group", -1, &inner);
		BSON_APPEND_NULL(&inner, "_id");
		bson_append_document_begin(&inner, "v", -1, &acc);
		BSON_APPEND_UTF8(&acc, "$addToSet", path);
		bson_append_document_end(&inner, &acc);
		bson_append_document_end(&stage, &inner);
		bson_append_document_end(&stages, &stage);
		bson_init(&first);
		AggReadView(ctx, collname, &stages, spec.collation, spec.collation_len, 0, false,
					NULL, &first);
		if (bson_iter_init_find(&v, &first, "v"))
			bson_append_iter(reply, "values", -1, &v);
		else
		{
			bson_t		empty;

			bson_init(&empty);
			bson_append_array(reply, "values", -1, &empty);
		}
		return;
	}
	if (has_hint && spec.coll != NULL)
	{
		spec.hint = CheckHint(spec.coll, &hint);
		HintIndexCondition(spec.coll, spec.hint, &spec.filter, &spec.filter_len);
	}
	if (spec.coll != NULL)
	{
		MemoryContext caller = CurrentMemoryContext;

		initStringInfo(&sql);
		FindSpecPrepare(&spec, "document", &sql, values, types, &nparams);
		SPI_connect();
		{
			int			level = HintSettingsPush(spec.coll, spec.hint);

			if (SPI_execute_plan(CommandPlan(sql.data, nparams, types, CURSOR_OPT_PARALLEL_OK),
								 values, NULL, true, 0) != SPI_OK_SELECT)
				elog(ERROR, "distinct failed");
			HintSettingsPop(level);
		}
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Bson	   *row = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1,
														  &isnull));
			bson_t		d;
			bson_iter_t di;
			MemoryContext old = MemoryContextSwitchTo(caller);

			bson_init_static(&d, BsonBytes(row), BsonDocLen(row));
			bson_iter_init(&di, &d);
			DistinctCollect(&di, parts, nparts, 0, &dv);
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}
	else
	{
		FindSpecCollation(&spec, NULL);
		(void) CompileFilter(spec.filter, spec.filter_len);
	}

	bson_init(&out);
	{
		int			n = 0;
		char		buf[16];
		const char *keyp;
		int		   *order = palloc(sizeof(int) * Max(dv.count, 1));
		DistinctSortArg arg = {&dv, spec.compiled_collation};

		for (int i = 0; i < dv.count; i++)
			order[i] = i;
		if (dv.count > 1)
			qsort_arg(order, dv.count, sizeof(int), DistinctCompareIndexes, &arg);
		for (int i = 0; i < dv.count; i++)
		{
			if (i > 0 && DistinctCompareCollated(&dv.values[order[i - 1]],
												 &dv.values[order[i]],
												 spec.compiled_collation) == 0)
				continue;
			bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
			bson_append_value(&out, keyp, -1, &dv.values[order[i]]);
		}
	}
	bson_append_array(reply, "values", -1, &out);
}
