/*-------------------------------------------------------------------------
 *
 * sort_sql.c
 *	  SQL access to MongoDB's sort keys: nosql.bson_sort_value.
 *
 * A find with a sort orders its query by one bson_sort_value per sort
 * path, so PostgreSQL's own sort (top-N heapsort with a limit, external
 * sort beyond work_mem) does the work under the bson btree ordering.
 *
 * Under a collation, nosql.bson_sort_value(document, path, descending,
 * collation) returns the key with every string replaced by its ICU sort
 * key (collation.c), so that the same bson ordering sorts strings as the
 * collation does: what MongoDB keeps in the keys of a collated index.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "bson.h"
#include "collation.h"
#include "documents.h"
#include "sort.h"

/* The compiled collation of a call site, kept in fn_extra */
typedef struct SortCollationCache
{
	uint32_t	len;
	uint8_t    *bytes;
	BsonCollation *collation;
	MemoryContext context;		/* holds all of the above, and the collator */
} SortCollationCache;

/*
 * nosql.bson_sort_value(document, path, descending): the value MongoDB sorts
 * the document by for that path (the smallest array element ascending, the
 * largest descending; null when missing).
 */
PG_FUNCTION_INFO_V1(bson_sort_value);
Datum
bson_sort_value(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		descending = PG_GETARG_BOOL(2);
	bson_value_t value;
	bson_t		wrapper = BSON_INITIALIZER;
	bson_iter_t it;

	if (BsonIsScalar(doc))
		value.value_type = BSON_TYPE_NULL;
	else
		BsonSortKey(BsonBytes(doc), BsonDocLen(doc), path, descending, &value);
	bson_append_value(&wrapper, "", 0, &value);
	if (!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it))
		elog(ERROR, "could not build a sort key");
	PG_RETURN_BSON_P(BsonFromIter(&it));
}

/*
 * The compiled form of a collation argument, from the cache in *slot
 * (memory of the call site) when it is the same collation as last time.
 */
static const BsonCollation *
CachedCollation(FunctionCallInfo fcinfo, SortCollationCache **slot, const Bson *spec)
{
	SortCollationCache *cache = *slot;
	const uint8_t *bytes = BsonBytes(spec);
	uint32_t	len = BsonDocLen(spec);
	MemoryContext oldcontext;

	if (BsonIsScalar(spec))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a MongoDB collation must be a document")));
	if (cache != NULL && cache->len == len && memcmp(cache->bytes, bytes, len) == 0)
		return cache->collation;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SortCollationCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "nosql sort collation cache",
											   ALLOCSET_SMALL_SIZES);
		*slot = cache;
	}
	else
	{
		MemoryContextReset(cache->context);
		cache->len = 0;
		cache->collation = NULL;
	}
	oldcontext = MemoryContextSwitchTo(cache->context);
	cache->collation = CompileCollation(bytes, len);
	cache->bytes = palloc(len);
	memcpy(cache->bytes, bytes, len);
	cache->len = len;
	MemoryContextSwitchTo(oldcontext);
	return cache->collation;
}

/*
 * nosql.bson_sort_value(document, path, descending, collation): the sort
 * key of bson_sort_value chosen under a MongoDB collation, with its strings
 * replaced by their collation sort keys.
 */
PG_FUNCTION_INFO_V1(bson_sort_value_collated);
Datum
bson_sort_value_collated(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		descending = PG_GETARG_BOOL(2);
	const BsonCollation *collation = CachedCollation(fcinfo,
													  (SortCollationCache **) &fcinfo->flinfo->fn_extra,
													  PG_GETARG_BSON_P(3));
	bson_value_t value;
	bson_t		wrapper = BSON_INITIALIZER;
	bson_t		keyed = BSON_INITIALIZER;
	bson_iter_t it;
	Bson	   *result;

	if (BsonIsScalar(doc))
		value.value_type = BSON_TYPE_NULL;
	else
		BsonSortKeyCollated(BsonBytes(doc), BsonDocLen(doc), path, descending,
							collation, &value);
	bson_append_value(&wrapper, "", 0, &value);
	if (!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it))
		elog(ERROR, "could not build a sort key");
	BsonCollationAppendKeyed(collation, &keyed, "", 0, &it);
	if (!bson_iter_init(&it, &keyed) || !bson_iter_next(&it))
		elog(ERROR, "could not build a sort key");
	result = BsonFromIter(&it);
	bson_destroy(&wrapper);
	bson_destroy(&keyed);
	PG_RETURN_BSON_P(result);
}

/* What nosql.bson_index_key(document, path, paths, collation) keeps in fn_extra */
typedef struct IndexKeyCollatedCache
{
	IndexPathsCache *paths;
	SortCollationCache *collation;
} IndexKeyCollatedCache;

/*
 * nosql.bson_index_key(document, path, paths, collation): the key of one
 * field of an index with a collation (index_key.c): strings replaced by
 * their collation sort keys, also inside embedded documents, so that the
 * btree orders and compares them as the collation does (a unique index
 * with strength 2 refuses "a" beside "A", as MongoDB's does).  A key that
 * grows over the size limit of keys is NULL, as a large value is.
 */
PG_FUNCTION_INFO_V1(bson_index_key_collated);
Datum
bson_index_key_collated(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	IndexKeyCollatedCache *cache = (IndexKeyCollatedCache *) fcinfo->flinfo->fn_extra;
	IndexPathsCache *paths;
	const BsonCollation *collation;
	Bson	   *key;
	bson_iter_t it;
	bson_t		holder;
	bson_t		wrapper = BSON_INITIALIZER;
	bson_t		keyed = BSON_INITIALIZER;
	Bson	   *result;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(IndexKeyCollatedCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	paths = IndexPathsIn(fcinfo, 2, &cache->paths);
	collation = CachedCollation(fcinfo, &cache->collation, PG_GETARG_BSON_P(3));
	if (IndexMultikey(doc, paths->paths, paths->npaths))
		PG_RETURN_NULL();
	key = IndexKeyOf(doc, path);
	if (key == NULL)
		PG_RETURN_NULL();
	if (collation == NULL)
		PG_RETURN_BSON_P(key);
	if (!BsonValueIter(key, &it, &holder))
	{
		/* a document: its strings are keyed too */
		if (!bson_init_static(&holder, BsonBytes(key), BsonDocLen(key)))
			elog(ERROR, "corrupt index key");
		bson_append_document(&wrapper, "", 0, &holder);
		if (!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it))
			elog(ERROR, "could not build an index key");
	}
	else if (!BSON_ITER_HOLDS_UTF8(&it) && !BSON_ITER_HOLDS_SYMBOL(&it))
		PG_RETURN_BSON_P(key);
	BsonCollationAppendKeyed(collation, &keyed, "", 0, &it);
	if (!bson_iter_init(&it, &keyed) || !bson_iter_next(&it))
		elog(ERROR, "could not build an index key");
	result = BsonFromIter(&it);
	bson_destroy(&keyed);
	bson_destroy(&wrapper);
	if (VARSIZE(result) > INDEX_KEY_MAX_SIZE)
		PG_RETURN_NULL();
	PG_RETURN_BSON_P(result);
}
