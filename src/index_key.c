/*-------------------------------------------------------------------------
 *
 * index_key.c
 *	  The keys of the btree indexes behind MongoDB's ordered index specs.
 *
 * A MongoDB index {a: 1, "b.c": -1} becomes a btree index over one
 * expression per key field:
 *
 *	nosql.bson_index_key(document, 'a', ARRAY['a', 'b.c'])
 *	nosql.bson_index_key(document, 'b.c', ARRAY['a', 'b.c']) DESC
 *
 * (single-field indexes use the two-argument form).  The key of a field is
 * its value (a bson scalar, compared in MongoDB's order by the bson btree
 * operator class), or bson null when the path is missing, as MongoDB keys
 * missing fields.  A btree holds one key per row, so documents that would
 * give MongoDB several keys (an array anywhere on one of the index's
 * paths: a multikey document) get SQL NULL in every column instead, and so
 * do values too large for a btree entry.  Queries therefore read an index
 * as
 *
 *	(key conditions) OR (key IS NULL AND document @@ the conditions)
 *
 * which is exact: the NULL rows are the few documents the key conditions
 * cannot judge, and they are checked by the matcher.  Ordered scans are
 * used only while no NULL key exists (an index probe says so), exactly as
 * MongoDB uses an index for a sort only while it is not multikey.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "bson.h"
#include "bson_compare.h"
#include "documents.h"

/* What a dotted path leads to in a document */
typedef enum IndexPathResult
{
	INDEX_PATH_VALUE,			/* a non-array value */
	INDEX_PATH_MISSING,			/* nothing: the key is null */
	INDEX_PATH_ARRAY			/* an array on the way or at the end */
} IndexPathResult;

/*
 * Follow a dotted path through embedded documents.  On INDEX_PATH_VALUE,
 * *value points at the value; on INDEX_PATH_ARRAY, *array_at is the length
 * of the path prefix that holds the array.
 */
static IndexPathResult
IndexPathWalk(const uint8_t *doc, uint32_t len, const char *path,
			  bson_iter_t *value, int *array_at)
{
	bson_iter_t it;
	const char *part = path;

	if (!bson_iter_init_from_data(&it, doc, len))
		return INDEX_PATH_MISSING;
	for (;;)
	{
		const char *dot = strchr(part, '.');
		int			plen = dot != NULL ? (int) (dot - part) : (int) strlen(part);
		bson_iter_t child;

		if (!bson_iter_find_w_len(&it, part, plen))
			return INDEX_PATH_MISSING;
		if (BSON_ITER_HOLDS_ARRAY(&it))
		{
			*array_at = (int) (part - path) + plen;
			return INDEX_PATH_ARRAY;
		}
		if (dot == NULL)
		{
			*value = it;
			return INDEX_PATH_VALUE;
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &child))
			return INDEX_PATH_MISSING;
		it = child;
		part = dot + 1;
	}
}

/* The key of one path, or NULL (SQL) for a multikey or oversized value */
Bson *
IndexKeyOf(const Bson *doc, const char *path)
{
	bson_iter_t value;
	int			array_at;
	Bson	   *key;

	if (BsonIsScalar(doc))
		return NULL;
	switch (IndexPathWalk(BsonBytes(doc), BsonDocLen(doc), path, &value, &array_at))
	{
		case INDEX_PATH_ARRAY:
			return NULL;
		case INDEX_PATH_MISSING:
			{
				bson_t		wrapper = BSON_INITIALIZER;
				bson_iter_t it;

				bson_append_null(&wrapper, "", 0);
				if (!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it))
					elog(ERROR, "could not build an index key");
				return BsonFromIter(&it);
			}
		case INDEX_PATH_VALUE:
			break;
	}
	key = BsonFromIter(&value);
	if (VARSIZE(key) > INDEX_KEY_MAX_SIZE)
		return NULL;
	return key;
}

/*
 * nosql.bson_index_key(document, path): the key of a single-field index.
 */
PG_FUNCTION_INFO_V1(bson_index_key);
Datum
bson_index_key(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Bson	   *key = IndexKeyOf(doc, path);

	if (key == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BSON_P(key);
}

/*
 * The paths of a text[] argument, kept in *slot (memory of the call site)
 * while the argument stays the same.
 */
IndexPathsCache *
IndexPathsIn(FunctionCallInfo fcinfo, int argno, IndexPathsCache **slot)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(argno);
	IndexPathsCache *cache = *slot;
	int			len = VARSIZE(array);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	MemoryContext old;

	if (cache != NULL && cache->len == len && memcmp(cache->bytes, array, len) == 0)
		return cache;
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the paths of an index key must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache = palloc(sizeof(IndexPathsCache));
	cache->len = len;
	cache->bytes = palloc(len);
	memcpy(cache->bytes, array, len);
	cache->npaths = n;
	cache->paths = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the paths of an index key must not be null")));
		cache->paths[i] = TextDatumGetCString(elems[i]);
	}
	MemoryContextSwitchTo(old);
	*slot = cache;
	return cache;
}

/* The paths of a text[] argument, kept in fn_extra */
IndexPathsCache *
IndexPaths(FunctionCallInfo fcinfo, int argno)
{
	return IndexPathsIn(fcinfo, argno, (IndexPathsCache **) &fcinfo->flinfo->fn_extra);
}

/*
 * Whether a document is multikey for an index over paths: an array on one
 * of them.  Arrays on two different paths are MongoDB's "parallel arrays",
 * which no index key can represent: error 171, as MongoDB raises it.
 */
bool
IndexMultikey(const Bson *doc, char **paths, int npaths)
{
	const char *first = NULL;
	int			first_len = 0;

	if (BsonIsScalar(doc))
		return false;
	for (int i = 0; i < npaths; i++)
	{
		bson_iter_t value;
		int			array_at;

		if (IndexPathWalk(BsonBytes(doc), BsonDocLen(doc), paths[i], &value,
						  &array_at) != INDEX_PATH_ARRAY)
			continue;
		if (first == NULL)
		{
			first = paths[i];
			first_len = array_at;
		}
		else if (array_at != first_len || strncmp(first, paths[i], array_at) != 0)
			MongoRaise(171, "cannot index parallel arrays [%.*s] [%.*s]",
					   array_at, paths[i], first_len, first);
	}
	return first != NULL;
}

/*
 * nosql.bson_index_key(document, path, paths): the key of the field path
 * of a compound index over paths; NULL when the document is multikey for
 * the index (in every column alike).
 */
PG_FUNCTION_INFO_V1(bson_index_key_compound);
Datum
bson_index_key_compound(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	IndexPathsCache *paths = IndexPaths(fcinfo, 2);
	Bson	   *key;

	if (IndexMultikey(doc, paths->paths, paths->npaths))
		PG_RETURN_NULL();
	key = IndexKeyOf(doc, path);
	if (key == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BSON_P(key);
}

/*
 * nosql.bson_index_multikey(document, paths): whether an array lies on one
 * of the paths (the documents a multikey index holds several keys for).
 */
PG_FUNCTION_INFO_V1(bson_index_multikey);
Datum
bson_index_multikey(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	IndexPathsCache *paths = IndexPaths(fcinfo, 1);

	PG_RETURN_BOOL(IndexMultikey(doc, paths->paths, paths->npaths));
}

/*
 * nosql.bson_index_present(document, paths): whether one of the paths
 * holds something (the predicate of a sparse index: MongoDB's sparse
 * indexes skip documents that have none of the index's fields).
 */
PG_FUNCTION_INFO_V1(bson_index_present);
Datum
bson_index_present(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	IndexPathsCache *paths = IndexPaths(fcinfo, 1);

	if (BsonIsScalar(doc))
		PG_RETURN_BOOL(false);
	for (int i = 0; i < paths->npaths; i++)
	{
		bson_iter_t value;
		int			array_at;

		if (IndexPathWalk(BsonBytes(doc), BsonDocLen(doc), paths->paths[i], &value,
						  &array_at) != INDEX_PATH_MISSING)
			PG_RETURN_BOOL(true);
	}
	PG_RETURN_BOOL(false);
}

/*
 * The hash of a value for a hashed index (consistent with MongoDB's
 * equality: 1, 1.0 and NumberLong(1) hash alike).
 */
int64
IndexHashValue(const bson_iter_t *value)
{
	return (int64) BsonHashValue(value, 0);
}

/*
 * nosql.bson_index_hash(document, path): the key of a hashed index.
 * Arrays are refused, as MongoDB refuses them.
 */
PG_FUNCTION_INFO_V1(bson_index_hash);
Datum
bson_index_hash(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bson_iter_t value;
	int			array_at;
	IndexPathResult r = INDEX_PATH_MISSING;

	if (!BsonIsScalar(doc))
		r = IndexPathWalk(BsonBytes(doc), BsonDocLen(doc), path, &value, &array_at);
	if (r == INDEX_PATH_ARRAY)
		MongoRaise(16766, "Error: hashed indexes do not support array values");
	if (r == INDEX_PATH_MISSING)
	{
		bson_t		wrapper = BSON_INITIALIZER;
		bson_iter_t it;

		bson_append_null(&wrapper, "", 0);
		if (!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it))
			elog(ERROR, "could not build an index key");
		PG_RETURN_INT64(IndexHashValue(&it));
	}
	PG_RETURN_INT64(IndexHashValue(&value));
}
