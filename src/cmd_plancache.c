/*-------------------------------------------------------------------------
 *
 * cmd_plancache.c
 *	  MongoDB's plan cache commands: planCacheClear, planCacheSetFilter,
 *	  planCacheClearFilters and planCacheListFilters.
 *
 * MongoDB keeps a plan cache and index filters per collection, in memory
 * only.  Here the only plans are the saved SPI plans of the commands' SQL
 * (CommandPlan in cmd_read.c), one set per backend and not per query shape,
 * so planCacheClear drops all of them; PostgreSQL's own plan cache still
 * replans them on demand.  Index filters would steer the planner to given
 * indexes, which PostgreSQL cannot be told to do, so planCacheSetFilter
 * checks its arguments as MongoDB does and records nothing, and
 * planCacheListFilters always lists none.
 *
 * The checks follow MongoDB's: these are not IDL commands, so unknown
 * fields are ignored; the query shape (query, sort, projection, collation)
 * is parsed as a find's would be.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "collation.h"
#include "documents.h"
#include "projection.h"
#include "query.h"
#include "sort.h"

/*
 * The collection a plan cache command names, or NULL when it does not
 * exist; views (and time-series collections, which are views here) have
 * no plan cache.
 */
static Collection *
PlanCacheCollection(CommandContext *ctx)
{
	char	   *name = CommandCollectionName(ctx);
	Collection *coll = CollectionLookup(ctx->database, name);
	bson_iter_t it;

	if (coll != NULL &&
		(coll->is_view || bson_iter_init_find(&it, coll->options, "timeseries")))
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ctx->database, name);
	return coll;
}

/* Check the generic fields of a command, ignoring the others as MongoDB does */
static void
PlanCacheCheckGeneric(CommandContext *ctx)
{
	bson_iter_t it = ctx->first;

	while (bson_iter_next(&it))
		(void) GenericFieldCheck(ctx, &it);
}

/*
 * An optional document of the query shape (an array is a BSON object too,
 * as MongoDB takes it); false when absent.
 */
static bool
ShapeField(CommandContext *ctx, const char *key, bool required,
		   const uint8_t **data, uint32_t *len)
{
	bson_iter_t it = ctx->first;

	if (!bson_iter_find(&it, key))
	{
		if (required)
			MongoRaise(MONGO_BAD_VALUE, "required field %s missing", key);
		return false;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !BSON_ITER_HOLDS_ARRAY(&it))
		MongoRaise(MONGO_BAD_VALUE, "%s field %s must be an object",
				   required ? "required" : "optional", key);
	if (BSON_ITER_HOLDS_ARRAY(&it))
		bson_iter_array(&it, len, data);
	else
		bson_iter_document(&it, len, data);
	return true;
}

/*
 * Parse the query shape of the command (query, sort, projection and
 * collation) as MongoDB canonicalizes it, raising its errors.
 */
static void
PlanCacheCheckShape(CommandContext *ctx)
{
	const uint8_t *query;
	uint32_t	query_len;
	const uint8_t *sort = NULL;
	uint32_t	sort_len = 0;
	const uint8_t *projection = NULL;
	uint32_t	projection_len = 0;
	const uint8_t *collation = NULL;
	uint32_t	collation_len = 0;
	BsonCollation *compiled_collation = NULL;
	BsonQueryError error = {0};

	ShapeField(ctx, "query", true, &query, &query_len);
	ShapeField(ctx, "sort", false, &sort, &sort_len);
	ShapeField(ctx, "projection", false, &projection, &projection_len);
	if (ShapeField(ctx, "collation", false, &collation, &collation_len))
	{
		if (collation_len <= 5)
			MongoRaise(MONGO_BAD_VALUE, "optional field collation cannot be an empty object");
		compiled_collation = CompileCollation(collation, collation_len);
	}

	if (BsonFilterCompileCollated(query, query_len, compiled_collation, &error) == NULL)
		MongoRaise(error.code, "%s", error.message ? error.message : "invalid filter");
	if (sort != NULL && sort_len > 5 && BsonSortCompile(sort, sort_len, &error) == NULL)
		MongoRaise(error.code, "%s", error.message);
	if (projection != NULL && projection_len > 5 &&
		BsonProjectionCompileCollated(projection, projection_len, compiled_collation,
									  &error) == NULL)
		MongoRaise(error.code, "%s", error.message);
}

/*
 * The query shape of planCacheClear and planCacheClearFilters: all shapes
 * without a query, and then no sort, projection or collation either (so
 * that a forgotten query does not clear everything by mistake).
 */
static void
PlanCacheCheckOptionalShape(CommandContext *ctx)
{
	bson_iter_t it = ctx->first;

	if (bson_iter_find(&it, "query"))
	{
		PlanCacheCheckShape(ctx);
		return;
	}
	it = ctx->first;
	if (bson_iter_find(&it, "sort"))
		MongoRaise(MONGO_BAD_VALUE, "sort, projection, or collation provided without query");
	it = ctx->first;
	if (bson_iter_find(&it, "projection"))
		MongoRaise(MONGO_BAD_VALUE, "sort, projection, or collation provided without query");
	it = ctx->first;
	if (bson_iter_find(&it, "collation"))
		MongoRaise(MONGO_BAD_VALUE, "sort, projection, or collation provided without query");
}

/*
 * planCacheClear: drop this backend's saved plans.  Clearing a collection
 * that does not exist succeeds without looking at the other fields.
 */
void
CmdPlanCacheClear(CommandContext *ctx, bson_t *reply)
{
	PlanCacheCheckGeneric(ctx);
	if (PlanCacheCollection(ctx) == NULL)
		return;
	PlanCacheCheckOptionalShape(ctx);
	CommandPlanCacheReset();
}

/*
 * planCacheSetFilter: check the collection, the index list and the query
 * shape.  MongoDB keeps index filters in memory only, and PostgreSQL's
 * planner cannot be restricted to given indexes, so nothing is recorded.
 */
void
CmdPlanCacheSetFilter(CommandContext *ctx, bson_t *reply)
{
	bson_iter_t it = ctx->first;
	bson_iter_t elem;
	bool		any = false;

	PlanCacheCheckGeneric(ctx);
	if (PlanCacheCollection(ctx) == NULL)
		MongoRaise(MONGO_BAD_VALUE, "no such collection");

	if (!bson_iter_find(&it, "indexes"))
		MongoRaise(MONGO_BAD_VALUE, "required field indexes missing");
	if (!BSON_ITER_HOLDS_ARRAY(&it))
		MongoRaise(MONGO_BAD_VALUE, "required field indexes must be an array");
	bson_iter_recurse(&it, &elem);
	while (bson_iter_next(&elem))
	{
		any = true;
		if (BSON_ITER_HOLDS_DOCUMENT(&elem))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&elem, &len, &data);
			if (len <= 5)
				MongoRaise(MONGO_BAD_VALUE, "index specification cannot be empty");
		}
		else if (!BSON_ITER_HOLDS_UTF8(&elem))
			MongoRaise(MONGO_BAD_VALUE, "each item in indexes must be an object or string");
	}
	if (!any)
		MongoRaise(MONGO_BAD_VALUE, "required field indexes must contain at least one index");

	PlanCacheCheckShape(ctx);
}

/*
 * planCacheClearFilters: there are no filters to clear, but the query
 * shape is checked as MongoDB does when the collection exists.
 */
void
CmdPlanCacheClearFilters(CommandContext *ctx, bson_t *reply)
{
	PlanCacheCheckGeneric(ctx);
	if (PlanCacheCollection(ctx) == NULL)
		return;
	PlanCacheCheckOptionalShape(ctx);
}

/* planCacheListFilters: planCacheSetFilter records none, so {filters: []} */
void
CmdPlanCacheListFilters(CommandContext *ctx, bson_t *reply)
{
	bson_t		filters;

	PlanCacheCheckGeneric(ctx);
	(void) PlanCacheCollection(ctx);
	BSON_APPEND_ARRAY_BEGIN(reply, "filters", &filters);
	bson_append_array_end(reply, &filters);
}
