/*-------------------------------------------------------------------------
 *
 * geo_sql.c
 *	  SQL access to $near: nosql.bson_near_distance, the index check
 *	  the find command makes before running a $near, and the output of the
 *	  $geoNear stage (nosql.bson_geo_near_result, agg_geonear.c).
 *
 * A find whose filter has $near or $nearSphere orders its query by
 * nosql.bson_near_distance(document, filter), nearest first, as MongoDB's
 * geoNear returns them.  MongoDB refuses such a query when the collection
 * has no geospatial index on the path (NoQueryExecutionPlans, 291): a
 * GeoJSON point needs a 2dsphere index, a legacy pair a 2d or 2dsphere
 * one.  We keep that rule with the index specs of the catalog, although
 * our scan does not use an index.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "agg.h"
#include "bson.h"
#include "documents.h"
#include "query.h"

/* The compiled filter kept in fn_extra, with the bytes it came from */
typedef struct GeoFilterCache
{
	BsonFilter *filter;
	uint32_t	len;
	uint8_t    *bytes;
	MemoryContext context;		/* holds all of the above */
} GeoFilterCache;

/*
 * GeoCachedFilter
 *		The compiled form of a filter value, compiled once per call site.
 */
static const BsonFilter *
GeoCachedFilter(FunctionCallInfo fcinfo, const Bson *filter)
{
	GeoFilterCache *cache = (GeoFilterCache *) fcinfo->flinfo->fn_extra;
	const uint8_t *bytes = BsonBytes(filter);
	uint32_t	len = BsonDocLen(filter);
	MemoryContext oldcontext;

	if (BsonIsScalar(filter))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a MongoDB filter must be a document")));
	if (cache != NULL && cache->len == len && memcmp(cache->bytes, bytes, len) == 0)
		return cache->filter;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(GeoFilterCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "nosql near filter cache",
											   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	else
	{
		MemoryContextReset(cache->context);
		cache->filter = NULL;
		cache->len = 0;
	}

	oldcontext = MemoryContextSwitchTo(cache->context);
	cache->filter = CompileFilter(bytes, len);
	cache->bytes = palloc(len);
	memcpy(cache->bytes, bytes, len);
	cache->len = len;
	MemoryContextSwitchTo(oldcontext);
	return cache->filter;
}

/*
 * nosql.bson_near_distance(document, filter): the distance from the
 * document to the point of the filter's $near or $nearSphere (meters for
 * a GeoJSON point, radians for a legacy $nearSphere, coordinate units for
 * a legacy $near), Infinity when the document has no usable geometry, NULL
 * when the filter has no $near.
 */
PG_FUNCTION_INFO_V1(bson_near_distance);
Datum
bson_near_distance(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	Bson	   *filter = PG_GETARG_BSON_P(1);
	const BsonFilter *compiled = GeoCachedFilter(fcinfo, filter);
	BsonNearSpec near;

	if (!BsonFilterGetNear(compiled, &near))
		PG_RETURN_NULL();
	if (BsonIsScalar(doc))
		PG_RETURN_FLOAT8(get_float8_infinity());
	PG_RETURN_FLOAT8(BsonNearDistance(&near, BsonBytes(doc), BsonDocLen(doc)));
}

/*
 * nosql.bson_geo_near_result(document, distance, spec, near): a document
 * $geoNear returns, with the distance (times spec's m) at the path spec's
 * f and the location nearest to the point of the filter near at the path
 * spec's l (each when there); with spec's meta, both as the document's
 * metadata too (geoNearDistance, geoNearPoint).
 */
PG_FUNCTION_INFO_V1(bson_geo_near_result);
Datum
bson_geo_near_result(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	double		distance = PG_GETARG_FLOAT8(1);
	Bson	   *spec = PG_GETARG_BSON_P(2);
	Bson	   *filter = PG_GETARG_BSON_P(3);
	bson_t		desc;
	bson_iter_t it;
	const char *field = NULL;
	const char *locs = NULL;
	bool		meta = false;
	bson_value_t location;
	bool		have_location = false;
	bson_t		cur;
	bson_t		with_field;
	bson_t		with_locs;
	bson_t		with_meta;
	bson_t	   *last;
	Bson	   *result;

	if (BsonIsScalar(doc) || BsonIsScalar(spec))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a $geoNear result needs a document and a specification")));
	bson_init_static(&desc, BsonBytes(spec), BsonDocLen(spec));
	bson_iter_init(&it, &desc);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "f") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			field = bson_iter_utf8(&it, NULL);
		else if (strcmp(key, "l") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			locs = bson_iter_utf8(&it, NULL);
		else if (strcmp(key, "m") == 0 && BSON_ITER_HOLDS_DOUBLE(&it))
			distance *= bson_iter_double(&it);
		else if (strcmp(key, "meta") == 0 && BSON_ITER_HOLDS_BOOL(&it))
			meta = bson_iter_bool(&it);
	}
	if (field == NULL && locs == NULL && !meta)
		PG_RETURN_BSON_P(doc);
	if (locs != NULL || meta)
	{
		const BsonFilter *compiled = GeoCachedFilter(fcinfo, filter);
		BsonNearSpec near;

		have_location = BsonFilterGetNear(compiled, &near) &&
			BsonNearLocation(&near, BsonBytes(doc), BsonDocLen(doc), &location);
	}

	/* each step copies the document with one more path set */
	bson_init_static(&cur, BsonBytes(doc), BsonDocLen(doc));
	last = &cur;
	if (field != NULL)
	{
		bson_value_t v;

		v.value_type = BSON_TYPE_DOUBLE;
		v.value.v_double = distance;
		bson_init(&with_field);
		AggSetDottedPath(bson_get_data(last), last->len, field, &v, &with_field);
		last = &with_field;
	}
	if (locs != NULL && have_location)
	{
		bson_init(&with_locs);
		AggSetDottedPath(bson_get_data(last), last->len, locs, &location, &with_locs);
		last = &with_locs;
	}
	if (meta)
	{
		bson_t		m;

		/* the metadata $meta reads, last (agg.h) */
		bson_init(&with_meta);
		bson_concat(&with_meta, last);
		bson_append_document_begin(&with_meta, AGG_META_FIELD, -1, &m);
		bson_append_double(&m, "geoNearDistance", -1, distance);
		if (have_location)
			bson_append_value(&m, "geoNearPoint", -1, &location);
		bson_append_document_end(&with_meta, &m);
		last = &with_meta;
	}
	result = BsonDatumFromBson(last);
	if (field != NULL)
		bson_destroy(&with_field);
	if (locs != NULL && have_location)
		bson_destroy(&with_locs);
	if (meta)
		bson_destroy(&with_meta);
	PG_RETURN_BSON_P(result);
}

/*
 * GeoNearCheckIndex
 *		Whether a compiled filter has a $near; raises NoQueryExecutionPlans
 *		when the collection has no geospatial index it could use.
 */
bool
GeoNearCheckIndex(const Collection *coll, const BsonFilter *filter)
{
	BsonNearSpec near;
	bson_iter_t spec;

	if (!BsonFilterGetNear(filter, &near))
		return false;
	if (coll != NULL && coll->indexes != NULL && bson_iter_init(&spec, coll->indexes))
	{
		while (bson_iter_next(&spec))
		{
			bson_iter_t key;

			if (!BSON_ITER_HOLDS_DOCUMENT(&spec) || !bson_iter_recurse(&spec, &key) ||
				!bson_iter_find(&key, "key") || !BSON_ITER_HOLDS_DOCUMENT(&key) ||
				!bson_iter_recurse(&key, &key))
				continue;
			while (bson_iter_next(&key))
			{
				const char *type;

				if (strcmp(bson_iter_key(&key), near.path) != 0 ||
					!BSON_ITER_HOLDS_UTF8(&key))
					continue;
				type = bson_iter_utf8(&key, NULL);
				if (strcmp(type, "2dsphere") == 0 ||
					(!near.geojson && strcmp(type, "2d") == 0))
					return true;
			}
		}
	}
	MongoRaise(MONGO_NO_QUERY_EXECUTION_PLANS,
			   "error processing query: planner returned error :: caused by :: unable to find index for $geoNear query");
}
