/*-------------------------------------------------------------------------
 *
 * sort_sql.c
 *	  SQL access to MongoDB's sort keys: nosql.bson_sort_value.
 *
 * A find with a sort orders its query by one bson_sort_value per sort
 * path, so PostgreSQL's own sort (top-N heapsort with a limit, external
 * sort beyond work_mem) does the work under the bson btree ordering.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "bson.h"
#include "sort.h"

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
