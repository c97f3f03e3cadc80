/*-------------------------------------------------------------------------
 *
 * agg_geonear.c
 *	  The $geoNear aggregation stage: the documents nearest to a point,
 *	  nearest first, with their distance.
 *
 * Design note
 * -----------
 * $geoNear is the first stage of its pipeline, so it is the query the
 * pipeline starts from.  Its options are checked as MongoDB 8 checks them
 * (with its error codes), the geospatial field is the key option or the
 * one of the collection's single 2d index, else of its single 2dsphere
 * index (the index specs are the catalog's, although no PostgreSQL index
 * serves them), and the point becomes the filter of a $near (a legacy
 * pair, flat distances), or of a $nearSphere (a GeoJSON point: meters; a
 * legacy pair with spherical: radians) on that field, whose distance
 * query_geo.c computes.  The query is
 *
 *	SELECT nosql.bson_geo_near_result(g.document, g.dist, $spec, $near) AS document
 *	  FROM (SELECT document, nosql.bson_near_distance(document, $near) AS dist
 *			  FROM coll WHERE <the query option, planned as find plans it>
 *			OFFSET 0) g
 *	 WHERE g.dist < 'Infinity' [AND g.dist >= min] [AND g.dist <= max]
 *	 ORDER BY g.dist
 *
 * so that the query option uses the indexes as a find's filter does and
 * PostgreSQL sorts by distance; documents without a usable geometry on
 * the field are at an infinite distance and left out, as a geospatial
 * index leaves them out.  nosql.bson_geo_near_result (geo_sql.c) sets
 * distanceField (times distanceMultiplier) and includeLocs, and when the
 * pipeline reads them the metadata geoNearDistance and geoNearPoint.
 *
 * IDENTIFICATION
 *	  src/agg_geonear.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "agg.h"
#include "bson.h"
#include "documents.h"
#include "expr.h"
#include "geo.h"
#include "query.h"

/* MongoDB's error codes of $geoNear */
#define GEONEAR_ERR_NOT_OBJECT		10065
#define GEONEAR_ERR_NO_NEAR			5860400
#define GEONEAR_ERR_NEAR_TYPE		5860401
#define GEONEAR_ERR_NEAR_PATH		5860402
#define GEONEAR_ERR_DISTANCE_FIELD	16606
#define GEONEAR_ERR_INCLUDE_LOCS	16607
#define GEONEAR_ERR_MIN_CONSTANT	7555701
#define GEONEAR_ERR_MAX_CONSTANT	7555702
#define GEONEAR_ERR_OUTPUT_DEPTH	5984700
#define GEONEAR_ERR_KEY_DEPTH		5729100
#define GEONEAR_ERR_2D_BOUNDS		16433

/* The deepest output path and key MongoDB accepts */
#define GEONEAR_MAX_OUTPUT_PARTS	199
#define GEONEAR_MAX_KEY_PARTS		180

/* A $geoNear specification, checked */
typedef struct GeoNearArgs
{
	bool		geojson;		/* near is a GeoJSON point */
	double		x;
	double		y;
	bool		spherical;
	const char *distance_field; /* or NULL */
	const char *include_locs;	/* or NULL */
	const char *key;			/* or NULL: from the indexes */
	double		min_distance;
	double		max_distance;
	bool		have_multiplier;
	double		multiplier;
	const uint8_t *query;		/* or NULL */
	uint32_t	query_len;
} GeoNearArgs;

/* The number of parts of a dotted path */
static int
GeoNearPathParts(const char *path)
{
	int			n = 1;

	for (const char *p = path; *p; p++)
		if (*p == '.')
			n++;
	return n;
}

/* distanceField or includeLocs: a field path */
static const char *
GeoNearOutputPath(const bson_iter_t *it, int code)
{
	const char *path;
	uint32_t	len;

	if (!BSON_ITER_HOLDS_UTF8(it))
		MongoRaise(code, "$geoNear requires that '%s' option is a String",
				   bson_iter_key(it));
	path = bson_iter_utf8(it, &len);
	AggFieldPathCheck(path, len);
	if (GeoNearPathParts(path) > GEONEAR_MAX_OUTPUT_PARTS)
		MongoRaise(GEONEAR_ERR_OUTPUT_DEPTH, "$geoNear '%s' is nested too deeply",
				   bson_iter_key(it));
	return path;
}

/*
 * Whether an expression refers to no document: no string in it is a field
 * path or a variable.
 */
static bool
GeoNearExprConstant(const bson_iter_t *it)
{
	bson_iter_t sub;

	check_stack_depth();
	if (BSON_ITER_HOLDS_UTF8(it))
		return bson_iter_utf8(it, NULL)[0] != '$';
	if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
		bson_iter_recurse(it, &sub))
	{
		while (bson_iter_next(&sub))
			if (!GeoNearExprConstant(&sub))
				return false;
	}
	return true;
}

/*
 * minDistance or maxDistance: a number, or a constant expression giving
 * one; not negative.
 */
static double
GeoNearDistance(const bson_iter_t *it, int constant_code)
{
	const char *name = bson_iter_key(it);
	bson_iter_t first;
	bson_iter_t value = *it;
	bson_t		holder;
	double		d;

	bson_init(&holder);
	if (BSON_ITER_HOLDS_UTF8(it) && bson_iter_utf8(it, NULL)[0] == '$')
		MongoRaise(constant_code, "$geoNear '%s' must be a constant", name);
	if (BSON_ITER_HOLDS_DOCUMENT(it) && bson_iter_recurse(it, &first) &&
		bson_iter_next(&first) && bson_iter_key(&first)[0] == '$')
	{
		AggExprScope *scope = AggExprScopeNew();
		BsonQueryError error = {0};
		AggExprContext cx = {0};
		AggArena	arena = {NULL};
		AggExpr    *expr;
		bson_value_t v;

		expr = AggExprParse(it, scope, &error);
		if (expr == NULL)
			MongoRaise(error.code, "%s", error.message);
		if (!GeoNearExprConstant(it))
			MongoRaise(constant_code, "$geoNear '%s' must be a constant", name);
		cx.arena = &arena;
		if (!AggExprEval(expr, &cx, &v, &error))
			MongoRaise(error.code, "%s", error.message);
		if (v.value_type != BSON_TYPE_EOD)
			bson_append_value(&holder, "v", 1, &v);
		AggArenaReset(&arena);
		AggExprScopeFree(scope);
		if (!bson_iter_init_find(&value, &holder, "v"))
			MongoRaise(MONGO_TYPE_MISMATCH, "$geoNear requires '%s' to be a number", name);
	}
	if (!BsonIterIsNumber(&value) || !GeoNumber(&value, &d))
		MongoRaise(MONGO_TYPE_MISMATCH, "$geoNear requires '%s' to be a number", name);
	bson_destroy(&holder);
	if (isnan(d) || d < 0)
		MongoRaise(MONGO_BAD_VALUE, "$geoNear '%s' must be non-negative", name);
	return d;
}

/* near: a GeoJSON point or a legacy pair */
static void
GeoNearPoint(const bson_iter_t *it, GeoNearArgs *args)
{
	GeoPoint	p;
	bson_iter_t sub;

	if (BSON_ITER_HOLDS_UTF8(it) && bson_iter_utf8(it, NULL)[0] == '$')
		MongoRaise(GEONEAR_ERR_NEAR_PATH, "$geoNear 'near' must be a constant");
	if (BSON_ITER_HOLDS_ARRAY(it))
	{
		if (!GeoLegacyPoint(it, true, &p))
			MongoRaise(MONGO_BAD_VALUE,
					   "$geoNear 'near' must be a point: an array of two numbers");
		args->geojson = false;
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(it))
	{
		bson_iter_recurse(it, &sub);
		if (bson_iter_find(&sub, "coordinates"))
		{
			bson_iter_t type;

			/* a GeoJSON point, read as MongoDB reads it: by its coordinates */
			bson_iter_recurse(it, &type);
			if (bson_iter_find(&type, "type") &&
				(!BSON_ITER_HOLDS_UTF8(&type) ||
				 strcmp(bson_iter_utf8(&type, NULL), "Point") != 0))
				MongoRaise(MONGO_BAD_VALUE, "$geoNear 'near' must be a GeoJSON Point");
			if (!GeoLegacyPoint(&sub, false, &p))
				MongoRaise(MONGO_BAD_VALUE,
						   "$geoNear 'near': the coordinates of a Point must be numbers");
			args->geojson = true;
		}
		else
		{
			if (!GeoLegacyPoint(it, true, &p))
				MongoRaise(MONGO_BAD_VALUE,
						   "$geoNear 'near' must be a GeoJSON Point or a legacy coordinate pair");
			args->geojson = false;
		}
	}
	else
		MongoRaise(GEONEAR_ERR_NEAR_TYPE,
				   "$geoNear requires near argument to be a GeoJSON object or a legacy point(array)");
	if (!isfinite(p.x) || !isfinite(p.y))
		MongoRaise(MONGO_BAD_VALUE, "$geoNear 'near': coordinates must be finite numbers");
	args->x = p.x;
	args->y = p.y;
}

/* Read and check a $geoNear specification as MongoDB 8 does */
static void
GeoNearParse(const bson_iter_t *spec, GeoNearArgs *args)
{
	bson_iter_t it;

	memset(args, 0, sizeof(*args));
	args->max_distance = INFINITY;
	if (!BSON_ITER_HOLDS_DOCUMENT(spec) && !BSON_ITER_HOLDS_ARRAY(spec))
		MongoRaise(GEONEAR_ERR_NOT_OBJECT, "$geoNear argument must be an object, found %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	if (!BSON_ITER_HOLDS_DOCUMENT(spec) || !bson_iter_find(&it, "near"))
		MongoRaise(GEONEAR_ERR_NO_NEAR, "$geoNear requires a 'near' option");

	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "near") == 0)
			GeoNearPoint(&it, args);
		else if (strcmp(key, "distanceField") == 0)
			args->distance_field = GeoNearOutputPath(&it, GEONEAR_ERR_DISTANCE_FIELD);
		else if (strcmp(key, "includeLocs") == 0)
			args->include_locs = GeoNearOutputPath(&it, GEONEAR_ERR_INCLUDE_LOCS);
		else if (strcmp(key, "spherical") == 0)
		{
			double		d;

			/* any value, by its truth (a decimal zero is false) */
			if (BSON_ITER_HOLDS_DECIMAL128(&it) && GeoNumber(&it, &d))
				args->spherical = (d != 0);
			else
				args->spherical = BsonIterTruthy(&it);
		}
		else if (strcmp(key, "maxDistance") == 0)
			args->max_distance = GeoNearDistance(&it, GEONEAR_ERR_MAX_CONSTANT);
		else if (strcmp(key, "minDistance") == 0)
			args->min_distance = GeoNearDistance(&it, GEONEAR_ERR_MIN_CONSTANT);
		else if (strcmp(key, "distanceMultiplier") == 0)
		{
			if (!BsonIterIsNumber(&it) || !GeoNumber(&it, &args->multiplier))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "$geoNear requires 'distanceMultiplier' to be a number");
			if (isnan(args->multiplier) || args->multiplier < 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "$geoNear 'distanceMultiplier' must be non-negative");
			args->have_multiplier = true;
		}
		else if (strcmp(key, "query") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_TYPE_MISMATCH, "$geoNear requires that 'query' be an object, found %s",
						   BsonTypeName(bson_iter_type(&it)));
			bson_iter_document(&it, &args->query_len, &args->query);
		}
		else if (strcmp(key, "key") == 0)
		{
			const char *path;
			uint32_t	len;

			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(MONGO_TYPE_MISMATCH, "$geoNear requires 'key' to be a string, found %s",
						   BsonTypeName(bson_iter_type(&it)));
			path = bson_iter_utf8(&it, &len);
			if (len == 0)
				MongoRaise(MONGO_BAD_VALUE, "$geoNear parameter 'key' cannot be the empty string");
			AggFieldPathCheck(path, len);
			if (GeoNearPathParts(path) > GEONEAR_MAX_KEY_PARTS)
				MongoRaise(GEONEAR_ERR_KEY_DEPTH, "$geoNear 'key' is nested too deeply");
			args->key = path;
		}
		else
			MongoRaise(MONGO_BAD_VALUE, "unknown argument to $geoNear: %s", key);
	}
	if (args->geojson || args->spherical)
	{
		GeoPoint	p;

		GeoPointSet(&p, args->x, args->y);
		if (!GeoPointIsLonLat(&p))
			MongoRaise(MONGO_BAD_VALUE,
					   "$geoNear 'near': a spherical point must be a valid longitude and latitude");
	}
}

/*
 * The geospatial index types on a field: 2d (with its bounds) and
 * 2dsphere.
 */
static void
GeoNearFieldIndexes(const Collection *coll, const char *path, bool *flat, bool *sphere,
					double *lo, double *hi)
{
	bson_iter_t spec;

	*flat = *sphere = false;
	*lo = -180;
	*hi = 180;
	if (!bson_iter_init(&spec, coll->indexes))
		return;
	while (bson_iter_next(&spec))
	{
		bson_iter_t key;
		bson_iter_t opt;

		if (!BSON_ITER_HOLDS_DOCUMENT(&spec) || !bson_iter_recurse(&spec, &key) ||
			!bson_iter_find(&key, "key") || !BSON_ITER_HOLDS_DOCUMENT(&key) ||
			!bson_iter_recurse(&key, &key))
			continue;
		while (bson_iter_next(&key))
		{
			const char *type;

			if (strcmp(bson_iter_key(&key), path) != 0 || !BSON_ITER_HOLDS_UTF8(&key))
				continue;
			type = bson_iter_utf8(&key, NULL);
			if (strcmp(type, "2dsphere") == 0)
				*sphere = true;
			else if (strcmp(type, "2d") == 0)
			{
				*flat = true;
				bson_iter_recurse(&spec, &opt);
				while (bson_iter_next(&opt))
				{
					if (strcmp(bson_iter_key(&opt), "min") == 0)
						(void) GeoNumber(&opt, lo);
					else if (strcmp(bson_iter_key(&opt), "max") == 0)
						(void) GeoNumber(&opt, hi);
				}
			}
		}
	}
}

/*
 * The field of the collection's only index of a type ("2d" or
 * "2dsphere"), NULL when there is none; IndexNotFound when there are
 * several.
 */
static const char *
GeoNearIndexedField(const Collection *coll, const char *type)
{
	bson_iter_t spec;
	const char *found = NULL;

	if (!bson_iter_init(&spec, coll->indexes))
		return NULL;
	while (bson_iter_next(&spec))
	{
		bson_iter_t key;

		if (!BSON_ITER_HOLDS_DOCUMENT(&spec) || !bson_iter_recurse(&spec, &key) ||
			!bson_iter_find(&key, "key") || !BSON_ITER_HOLDS_DOCUMENT(&key) ||
			!bson_iter_recurse(&key, &key))
			continue;
		while (bson_iter_next(&key))
		{
			if (!BSON_ITER_HOLDS_UTF8(&key) || strcmp(bson_iter_utf8(&key, NULL), type) != 0)
				continue;
			if (found != NULL)
				MongoRaise(MONGO_INDEX_NOT_FOUND,
						   "There is more than one %s index on %s.%s; unsure which to use for $geoNear",
						   type, coll->database, coll->name);
			found = bson_iter_key(&key);
		}
	}
	return found;
}

/*
 * The geospatial field of a $geoNear: its key option, or the field of the
 * collection's 2d index, or of its 2dsphere index; checks that an index
 * of the right type serves it (NoQueryExecutionPlans otherwise).
 */
static const char *
GeoNearKey(const Collection *coll, const GeoNearArgs *args)
{
	const char *key = args->key;
	bool		flat;
	bool		sphere;
	double		lo;
	double		hi;

	if (key == NULL)
	{
		key = GeoNearIndexedField(coll, "2d");
		if (key == NULL)
			key = GeoNearIndexedField(coll, "2dsphere");
		if (key == NULL)
			MongoRaise(MONGO_INDEX_NOT_FOUND,
					   "$geoNear requires a 2d or 2dsphere index, but none were found");
	}
	GeoNearFieldIndexes(coll, key, &flat, &sphere, &lo, &hi);
	if (args->geojson ? !sphere : args->spherical ? !(flat || sphere) : !flat)
		MongoRaise(MONGO_NO_QUERY_EXECUTION_PLANS,
				   "error processing query: planner returned error :: caused by :: unable to find index for $geoNear query");
	if (!args->geojson && !args->spherical &&
		(args->x < lo || args->x >= hi || args->y < lo || args->y >= hi))
		MongoRaise(GEONEAR_ERR_2D_BOUNDS, "point not in interval of [ %g, %g )", lo, hi);
	return key;
}

/* The $near or $nearSphere filter of the point on key */
static Bson *
GeoNearFilter(const GeoNearArgs *args, const char *key)
{
	bson_t		filter;
	bson_t		field;
	bson_t		point;
	bson_t		coords;
	Bson	   *result;

	bson_init(&filter);
	bson_append_document_begin(&filter, key, -1, &field);
	if (args->geojson)
	{
		bson_t		geometry;

		bson_append_document_begin(&field, "$nearSphere", -1, &point);
		bson_append_document_begin(&point, "$geometry", -1, &geometry);
		bson_append_utf8(&geometry, "type", -1, "Point", -1);
		bson_append_array_begin(&geometry, "coordinates", -1, &coords);
		bson_append_double(&coords, "0", 1, args->x);
		bson_append_double(&coords, "1", 1, args->y);
		bson_append_array_end(&geometry, &coords);
		bson_append_document_end(&point, &geometry);
		bson_append_document_end(&field, &point);
	}
	else
	{
		bson_append_array_begin(&field, args->spherical ? "$nearSphere" : "$near", -1,
								&coords);
		bson_append_double(&coords, "0", 1, args->x);
		bson_append_double(&coords, "1", 1, args->y);
		bson_append_array_end(&field, &coords);
	}
	bson_append_document_end(&filter, &field);
	result = BsonDatumFromBson(&filter);
	bson_destroy(&filter);
	return result;
}

/* A float8 literal that reads back as the same value */
static char *
GeoNearFloat(double d)
{
	return psprintf("'%.17g'::float8", d);
}

/*
 * AggGeoNearTranslate
 *		Write the query of a $geoNear stage over find's collection (with
 *		its collation and hint) into sql, its parameters numbered from
 *		*nparams + 1; with meta, the documents carry their distance and
 *		location as metadata ($meta geoNearDistance, geoNearPoint).
 */
void
AggGeoNearTranslate(const bson_iter_t *spec, FindSpec *find, bool meta, StringInfo sql,
					Datum *values, Oid *types, int *nparams)
{
	GeoNearArgs args;
	const char *key;
	int			near_param;
	int			result_param;
	char	   *select;
	StringInfoData inner;

	GeoNearParse(spec, &args);
	if (find->coll == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND,
				   "$geoNear: collection does not exist");
	if (find->hint != NULL && strcmp(find->hint, "$natural") == 0)
		MongoRaise(MONGO_BAD_VALUE, "$natural hint cannot be set on a $geoNear query");
	if (args.query != NULL)
	{
		BsonQueryError error = {0};
		BsonFilter *filter = BsonFilterCompile(args.query, args.query_len, &error);
		BsonNearSpec near;
		BsonTextQuery text;

		if (filter == NULL)
			MongoRaise(error.code, "%s", error.message ? error.message : "invalid filter");
		if (BsonFilterGetNear(filter, &near))
			MongoRaise(MONGO_GEO_NEAR_NOT_ALLOWED,
					   "$geoNear, $near, and $nearSphere are not allowed in this context, as these operators require sorting geospatial data");
		if (BsonFilterGetText(filter, &text))
			MongoRaise(MONGO_BAD_VALUE, "text and geoNear not allowed in same query");
		find->filter = args.query;
		find->filter_len = args.query_len;
	}
	key = GeoNearKey(find->coll, &args);

	/* the near filter, then the result's description */
	values[*nparams] = PointerGetDatum(GeoNearFilter(&args, key));
	types[*nparams] = BsonTypeOid();
	near_param = ++(*nparams);
	{
		bson_t		desc;

		bson_init(&desc);
		if (args.distance_field != NULL)
			bson_append_utf8(&desc, "f", 1, args.distance_field, -1);
		if (args.include_locs != NULL)
			bson_append_utf8(&desc, "l", 1, args.include_locs, -1);
		if (args.have_multiplier)
			bson_append_double(&desc, "m", 1, args.multiplier);
		if (meta)
			bson_append_bool(&desc, "meta", 4, true);
		values[*nparams] = PointerGetDatum(BsonDatumFromBson(&desc));
		types[*nparams] = BsonTypeOid();
		result_param = ++(*nparams);
		bson_destroy(&desc);
	}

	select = psprintf("document, nosql.bson_near_distance(document, $%d) AS dist", near_param);
	initStringInfo(&inner);
	FindSpecPrepareFrom(find, select, &inner, values, types, nparams);
	/* OFFSET 0 keeps the subquery: each distance is computed once */
	appendStringInfoString(&inner, " OFFSET 0");
	appendStringInfo(sql,
					 "SELECT nosql.bson_geo_near_result(g.document, g.dist, $%d, $%d) AS document FROM (%s) g WHERE g.dist < 'Infinity'::float8",
					 result_param, near_param, inner.data);
	if (args.min_distance > 0)
		appendStringInfo(sql, " AND g.dist >= %s", GeoNearFloat(args.min_distance));
	if (isfinite(args.max_distance))
		appendStringInfo(sql, " AND g.dist <= %s", GeoNearFloat(args.max_distance));
	appendStringInfoString(sql, " ORDER BY g.dist");
}
