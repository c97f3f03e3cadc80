/*-------------------------------------------------------------------------
 *
 * query_geo.c
 *	  The geospatial query operators: $geoWithin, $geoIntersects, $near
 *	  and $nearSphere, compiled into leaves and matched with geo.c.
 *
 * Design note
 * -----------
 * Each operator becomes one leaf whose operand (QueryGeo) is read and
 * validated once, as MongoDB's parser does, with its error codes:
 * BadValue (2) for malformed shapes and misplaced operators, the legacy
 * $near's own codes for $minDistance and $maxDistance given beside it
 * (16893 to 16896) and 34413 for $near mixed with other operators.
 *
 *	- $geoWithin takes exactly one shape: $geometry (a GeoJSON Polygon or
 *	  MultiPolygon, on the sphere), $centerSphere (a spherical cap), or the
 *	  flat $box, $polygon and $center, which only ever contain points.
 *	- $geoIntersects takes a GeoJSON $geometry of any type.
 *	- $near and $nearSphere take a GeoJSON point ({$geometry: Point,
 *	  $minDistance, $maxDistance}, distances in meters) or a legacy pair
 *	  (distances beside the operator, in coordinate units for $near and in
 *	  radians for $nearSphere).  As in MongoDB there may be one, only at
 *	  the top of the filter or under $and, and the document matches when
 *	  its distance lies in the range; the find command sorts by it
 *	  (BsonNearDistance) and checks for a geospatial index.
 *
 * Documents hold GeoJSON objects or legacy pairs ([x, y] or {x:, y:}),
 * alone or in arrays (the path's array expansion offers each element).
 * A document's geometry is read when a leaf meets it, into scratch memory
 * released straight after: the only allocation of the matcher.
 *
 * IDENTIFICATION
 *	  src/query_geo.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include "query_internal.h"

/* The room for geo.c's reasons */
#define QUERY_GEO_ERRLEN			256


/* ----------------------------------------------------------------
 *		Compiling
 * ----------------------------------------------------------------
 */

/* geo.c allocates a query's shapes in the filter's arena */
static void *
QueryGeoAlloc(void *arg, size_t size)
{
	return QueryAlloc((BsonFilter *) arg, size);
}

/*
 * QueryGeoGeometry
 *		A GeoJSON $geometry of a query, validated.
 */
static bool
QueryGeoGeometry(QueryParser *parser, const char *op, const bson_iter_t *it,
				 GeoShape *shape)
{
	GeoAllocator allocator;
	char		errbuf[QUERY_GEO_ERRLEN];

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s: $geometry must be a GeoJSON object", op);
		return false;
	}
	allocator.alloc = QueryGeoAlloc;
	allocator.arg = parser->filter;
	if (!GeoParseGeoJSON(it, &allocator, true, shape, errbuf, sizeof(errbuf)))
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s: invalid GeoJSON geometry: %s", op, errbuf);
		return false;
	}
	return true;
}

/*
 * QueryGeoLegacyPoint
 *		A legacy pair of a query: exactly two finite numbers.
 */
static bool
QueryGeoLegacyPoint(QueryParser *parser, const char *what, const bson_iter_t *it,
					GeoPoint *p)
{
	if (!GeoLegacyPoint(it, true, p) || !isfinite(p->x) || !isfinite(p->y))
	{
		QueryFail(parser, MONGO_BAD_VALUE,
				  "%s: a point must be an array or object of two finite numbers", what);
		return false;
	}
	return true;
}

/*
 * QueryGeoRadius
 *		The radius of $center or $centerSphere: a number, not negative.
 */
static bool
QueryGeoRadius(QueryParser *parser, const char *what, const bson_iter_t *it,
			   double *radius)
{
	if (!GeoNumber(it, radius) || isnan(*radius) || *radius < 0)
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s: the radius must be a non-negative number",
				  what);
		return false;
	}
	return true;
}

/*
 * QueryGeoCircle
 *		$center and $centerSphere: [point, radius].
 */
static bool
QueryGeoCircle(QueryParser *parser, const char *what, const bson_iter_t *it,
			   QueryGeo *geo)
{
	bson_iter_t sub;

	if (!BSON_ITER_HOLDS_ARRAY(it) || QueryCountElements(it) != 2 ||
		!bson_iter_recurse(it, &sub) || !bson_iter_next(&sub))
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s needs an array of a point and a radius", what);
		return false;
	}
	if (!QueryGeoLegacyPoint(parser, what, &sub, &geo->center))
		return false;
	if (geo->kind == QUERY_GEO_CENTER_SPHERE && !GeoPointIsLonLat(&geo->center))
	{
		QueryFail(parser, MONGO_BAD_VALUE,
				  "%s: the center must be a valid longitude and latitude", what);
		return false;
	}
	return bson_iter_next(&sub) && QueryGeoRadius(parser, what, &sub, &geo->radius);
}

/*
 * QueryGeoPoints
 *		$box and $polygon: an array of at least min legacy points.
 */
static bool
QueryGeoPoints(QueryParser *parser, const char *what, const bson_iter_t *it, int min,
			   QueryGeo *geo)
{
	bson_iter_t sub;
	int			n;

	if (!BSON_ITER_HOLDS_ARRAY(it) || (n = QueryCountElements(it)) < min ||
		!bson_iter_recurse(it, &sub))
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s needs an array of at least %d points",
				  what, min);
		return false;
	}
	geo->points = QueryAlloc(parser->filter, n * sizeof(GeoPoint));
	geo->npoints = 0;
	while (bson_iter_next(&sub))
	{
		if (!QueryGeoLegacyPoint(parser, what, &sub, &geo->points[geo->npoints++]))
			return false;
	}
	return true;
}

/*
 * QueryParseGeoWithin
 *		$geoWithin (and its old name $within): exactly one shape.
 */
QueryNode *
QueryParseGeoWithin(QueryParser *parser, const QueryPath *path,
					const bson_iter_t *operand)
{
	QueryNode  *node;
	QueryGeo   *geo;
	bson_iter_t it;
	int			nshapes = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(operand) || !bson_iter_recurse(operand, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "$geoWithin needs an object");

	geo = QueryAlloc(parser->filter, sizeof(QueryGeo));
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "$uniqueDocs") == 0)
			continue;
		if (++nshapes > 1)
			return QueryFail(parser, MONGO_BAD_VALUE,
							 "$geoWithin takes exactly one shape, found another: %s", key);
		if (strcmp(key, "$geometry") == 0)
		{
			geo->kind = QUERY_GEO_GEOMETRY;
			if (!QueryGeoGeometry(parser, "$geoWithin", &it, &geo->shape))
				return NULL;
			if (geo->shape.type != GEO_POLYGON && geo->shape.type != GEO_MULTIPOLYGON)
				return QueryFail(parser, MONGO_BAD_VALUE,
								 "$geoWithin $geometry must be a Polygon or a MultiPolygon");
		}
		else if (strcmp(key, "$box") == 0)
		{
			geo->kind = QUERY_GEO_BOX;
			if (!QueryGeoPoints(parser, key, &it, 2, geo))
				return NULL;
			GeoPointSet(&geo->lo, Min(geo->points[0].x, geo->points[1].x),
						Min(geo->points[0].y, geo->points[1].y));
			GeoPointSet(&geo->hi, Max(geo->points[0].x, geo->points[1].x),
						Max(geo->points[0].y, geo->points[1].y));
		}
		else if (strcmp(key, "$polygon") == 0)
		{
			geo->kind = QUERY_GEO_POLYGON;
			if (!QueryGeoPoints(parser, key, &it, 3, geo))
				return NULL;
		}
		else if (strcmp(key, "$center") == 0)
		{
			geo->kind = QUERY_GEO_CENTER;
			if (!QueryGeoCircle(parser, key, &it, geo))
				return NULL;
		}
		else if (strcmp(key, "$centerSphere") == 0)
		{
			geo->kind = QUERY_GEO_CENTER_SPHERE;
			if (!QueryGeoCircle(parser, key, &it, geo))
				return NULL;
		}
		else
			return QueryFail(parser, MONGO_BAD_VALUE, "unknown $geoWithin shape: %s", key);
	}
	if (nshapes == 0)
		return QueryFail(parser, MONGO_BAD_VALUE,
						 "$geoWithin needs a shape: $geometry, $box, $polygon, $center or $centerSphere");

	node = QueryNewNode(parser, QUERY_GEO_WITHIN, path);
	node->u.geo = geo;
	return node;
}

/*
 * QueryParseGeoIntersects
 *		$geoIntersects: {$geometry: <any GeoJSON geometry>}.
 */
QueryNode *
QueryParseGeoIntersects(QueryParser *parser, const QueryPath *path,
						const bson_iter_t *operand)
{
	QueryNode  *node;
	QueryGeo   *geo;
	bson_iter_t it;
	bool		found = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(operand) || !bson_iter_recurse(operand, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "$geoIntersects needs an object");

	geo = QueryAlloc(parser->filter, sizeof(QueryGeo));
	geo->kind = QUERY_GEO_GEOMETRY;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "$geometry") != 0 || found)
			return QueryFail(parser, MONGO_BAD_VALUE,
							 "$geoIntersects takes only a $geometry, found %s",
							 bson_iter_key(&it));
		if (!QueryGeoGeometry(parser, "$geoIntersects", &it, &geo->shape))
			return NULL;
		found = true;
	}
	if (!found)
		return QueryFail(parser, MONGO_BAD_VALUE, "$geoIntersects needs a $geometry");

	node = QueryNewNode(parser, QUERY_GEO_INTERSECTS, path);
	node->u.geo = geo;
	return node;
}

/*
 * QueryGeoDistanceOperand
 *		$minDistance or $maxDistance inside a GeoJSON $near: a finite,
 *		non-negative number.
 */
static bool
QueryGeoDistanceOperand(QueryParser *parser, const bson_iter_t *it, double *out)
{
	if (!GeoNumber(it, out) || !isfinite(*out) || *out < 0)
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s must be a non-negative finite number",
				  bson_iter_key(it));
		return false;
	}
	return true;
}

/*
 * QueryParseNearDocument
 *		{$geometry: Point, $minDistance, $maxDistance}, or a legacy pair
 *		written as a document.
 */
static bool
QueryParseNearDocument(QueryParser *parser, const char *name,
					   const bson_iter_t *operand, QueryGeo *geo)
{
	bson_iter_t it;
	bool		have_geometry = false;

	if (!bson_iter_recurse(operand, &it) || !bson_iter_next(&it))
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s needs a point", name);
		return false;
	}
	if (bson_iter_key(&it)[0] != '$')
		return QueryGeoLegacyPoint(parser, name, operand, &geo->center);

	do
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "$geometry") == 0)
		{
			GeoShape	shape;

			if (!QueryGeoGeometry(parser, name, &it, &shape))
				return false;
			if (shape.type != GEO_POINT)
			{
				QueryFail(parser, MONGO_BAD_VALUE, "%s: $geometry must be a GeoJSON Point",
						  name);
				return false;
			}
			geo->center = shape.points[0];
			have_geometry = true;
		}
		else if (strcmp(key, "$maxDistance") == 0)
		{
			if (!QueryGeoDistanceOperand(parser, &it, &geo->max_distance))
				return false;
		}
		else if (strcmp(key, "$minDistance") == 0)
		{
			if (!QueryGeoDistanceOperand(parser, &it, &geo->min_distance))
				return false;
		}
		else
		{
			QueryFail(parser, MONGO_BAD_VALUE, "%s: unknown argument %s", name, key);
			return false;
		}
	} while (bson_iter_next(&it));

	if (!have_geometry)
	{
		QueryFail(parser, MONGO_BAD_VALUE, "%s needs a $geometry", name);
		return false;
	}
	geo->geojson = true;
	return true;
}

/*
 * QueryParseNear
 *		$near or $nearSphere (it is on the operator, ops is the field's
 *		whole operator document, which may also hold the legacy form's
 *		$minDistance and $maxDistance).
 */
QueryNode *
QueryParseNear(QueryParser *parser, const QueryPath *path, const bson_iter_t *ops,
			   const bson_iter_t *it)
{
	const char *name = bson_iter_key(it);
	QueryNode  *node;
	QueryGeo   *geo;
	bson_iter_t other;
	bool		first;

	if (parser->no_near > 0 || path->npath == 0)
		return QueryFail(parser, MONGO_BAD_VALUE,
						 "geo near expressions are not allowed inside $or, $nor, $not or $elemMatch");
	if (parser->has_near)
		return QueryFail(parser, MONGO_BAD_VALUE, "too many geoNear expressions");
	if (parser->has_text)
		return QueryFail(parser, MONGO_BAD_VALUE, "text and geoNear not allowed in same query");

	/*
	 * Only the legacy distances may stand beside the operator: MongoDB
	 * reports 34413 when the operator comes first, BadValue otherwise.
	 */
	first = bson_iter_recurse(ops, &other) && bson_iter_next(&other) &&
		strcmp(bson_iter_key(&other), name) == 0;
	if (bson_iter_recurse(ops, &other))
	{
		while (bson_iter_next(&other))
		{
			const char *key = bson_iter_key(&other);

			if (strcmp(key, name) == 0 || strcmp(key, "$minDistance") == 0 ||
				strcmp(key, "$maxDistance") == 0)
				continue;
			if (strcmp(key, "$near") == 0 || strcmp(key, "$nearSphere") == 0 || !first)
				return QueryFail(parser, MONGO_BAD_VALUE,
								 "%s cannot be combined with %s", name, key);
			return QueryFail(parser, MONGO_NEAR_NOT_ALONE,
							 "%s must be the only operator of its field besides $minDistance and $maxDistance, found %s",
							 name, key);
		}
	}

	geo = QueryAlloc(parser->filter, sizeof(QueryGeo));
	geo->sphere = strcmp(name, "$nearSphere") == 0;
	geo->max_distance = INFINITY;
	geo->min_distance = 0;
	geo->dotted = path->dotted;

	if (BSON_ITER_HOLDS_ARRAY(it))
	{
		if (!QueryGeoLegacyPoint(parser, name, it, &geo->center))
			return NULL;
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(it))
	{
		if (!QueryParseNearDocument(parser, name, it, geo))
			return NULL;
	}
	else
		return QueryFail(parser, MONGO_BAD_VALUE, "%s needs a point", name);

	/* the legacy form's distances, beside the operator */
	if (bson_iter_recurse(ops, &other))
	{
		while (bson_iter_next(&other))
		{
			const char *key = bson_iter_key(&other);
			bool		is_max = strcmp(key, "$maxDistance") == 0;
			double		d;

			if (!is_max && strcmp(key, "$minDistance") != 0)
				continue;
			if (!GeoNumber(&other, &d))
				return QueryFail(parser, is_max ? MONGO_NEAR_MAX_DISTANCE_TYPE :
								 MONGO_NEAR_MIN_DISTANCE_TYPE,
								 "%s must be a number", key);
			if (isnan(d) || d < 0)
				return QueryFail(parser, is_max ? MONGO_NEAR_MAX_DISTANCE_RANGE :
								 MONGO_NEAR_MIN_DISTANCE_RANGE,
								 "%s must be non-negative", key);
			if (is_max)
				geo->max_distance = d;
			else
				geo->min_distance = d;
		}
	}

	if (geo->geojson || geo->sphere)
	{
		geo->kind = QUERY_GEO_NEAR_SPHERE;
		if (!GeoPointIsLonLat(&geo->center))
			return QueryFail(parser, MONGO_BAD_VALUE,
							 "%s: the point must be a valid longitude and latitude", name);
	}
	else
		geo->kind = QUERY_GEO_NEAR_FLAT;

	node = QueryNewNode(parser, QUERY_GEO_NEAR, path);
	node->u.geo = geo;
	parser->has_near = true;
	parser->filter->near = node;
	return node;
}


/* ----------------------------------------------------------------
 *		Matching
 * ----------------------------------------------------------------
 */

/*
 * QueryGeoDistance
 *		The distance from a $near's point to one value, in the query's
 *		units; infinity when the value is no usable geometry.
 */
double
QueryGeoDistance(const QueryGeo *geo, const bson_iter_t *value)
{
	GeoScratch	scratch;
	GeoAllocator allocator;
	GeoShape	shape;
	GeoPoint	point;
	bool		is_point;
	double		d = INFINITY;

	if (!BSON_ITER_HOLDS_DOCUMENT(value) && !BSON_ITER_HOLDS_ARRAY(value))
		return d;
	GeoScratchInit(&scratch, &allocator);
	if (GeoParseValue(value, &allocator, &shape, &is_point, &point))
	{
		if (geo->kind == QUERY_GEO_NEAR_FLAT)
		{
			if (is_point)
				d = GeoFlatDistance(&point, &geo->center);
		}
		else if (!is_point || GeoPointIsLonLat(&point))
		{
			/*
			 * MongoDB computes meters and divides a legacy $nearSphere's
			 * distance back into radians: the same rounding
			 */
			d = GeoShapeDistance(&shape, &geo->center) * GEO_EARTH_RADIUS_METERS;
			if (!geo->geojson)
				d /= GEO_EARTH_RADIUS_METERS;
		}
	}
	GeoScratchReset(&scratch);
	return d;
}

/*
 * QueryMatchGeo
 *		A geospatial leaf on one value.
 */
bool
QueryMatchGeo(const QueryNode *node, const bson_iter_t *value)
{
	const QueryGeo *geo = node->u.geo;
	GeoScratch	scratch;
	GeoAllocator allocator;
	GeoShape	shape;
	GeoPoint	point;
	bool		is_point;
	bool		result = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(value) && !BSON_ITER_HOLDS_ARRAY(value))
		return false;

	if (node->op == QUERY_GEO_NEAR)
	{
		double		d = QueryGeoDistance(geo, value);

		return isfinite(d) && d >= geo->min_distance && d <= geo->max_distance;
	}

	GeoScratchInit(&scratch, &allocator);
	if (GeoParseValue(value, &allocator, &shape, &is_point, &point))
	{
		switch (geo->kind)
		{
			case QUERY_GEO_BOX:
				result = is_point && GeoFlatInBox(&point, &geo->lo, &geo->hi);
				break;
			case QUERY_GEO_POLYGON:
				result = is_point && GeoFlatInPolygon(&point, geo->points, geo->npoints);
				break;
			case QUERY_GEO_CENTER:
				result = is_point && GeoFlatDistance(&point, &geo->center) <= geo->radius;
				break;
			case QUERY_GEO_CENTER_SPHERE:
				result = (!is_point || GeoPointIsLonLat(&point)) &&
					GeoShapeWithinCap(&shape, &geo->center, geo->radius);
				break;
			case QUERY_GEO_GEOMETRY:
				if (is_point && !GeoPointIsLonLat(&point))
					break;
				if (node->op == QUERY_GEO_INTERSECTS)
					result = GeoShapeIntersects(&shape, &geo->shape);
				else
					result = GeoShapeWithin(&shape, &geo->shape);
				break;
			case QUERY_GEO_NEAR_FLAT:
			case QUERY_GEO_NEAR_SPHERE:
				break;
		}
	}
	GeoScratchReset(&scratch);
	return result;
}


/* ----------------------------------------------------------------
 *		$near for the find command
 * ----------------------------------------------------------------
 */

/*
 * BsonFilterGetNear
 *		The $near or $nearSphere of a filter, if it has one.
 */
bool
BsonFilterGetNear(const BsonFilter *filter, BsonNearSpec *out)
{
	const QueryGeo *geo;

	if (filter == NULL || filter->near == NULL)
		return false;
	geo = filter->near->u.geo;
	out->path = geo->dotted;
	out->geojson = geo->geojson;
	out->spherical = geo->sphere;
	out->x = geo->center.x;
	out->y = geo->center.y;
	out->min_distance = geo->min_distance;
	out->max_distance = geo->max_distance;
	out->node = filter->near;
	return true;
}

/* State of BsonNearDistance's walk: the smallest distance so far */
typedef struct QueryNearState
{
	const QueryGeo *geo;
	double		best;
} QueryNearState;

/* QueryWalkValues callback of BsonNearDistance */
static void
QueryNearMin(const bson_iter_t *value, void *arg)
{
	QueryNearState *state = arg;
	double		d = QueryGeoDistance(state->geo, value);

	if (d < state->best)
		state->best = d;
}

/*
 * BsonNearDistance
 *		The distance from a document to a $near's point.
 */
double
BsonNearDistance(const BsonNearSpec *spec, const uint8_t *doc, uint32_t len)
{
	const QueryNode *node = spec->node;
	QueryNearState state;

	state.geo = node->u.geo;
	state.best = INFINITY;
	QueryWalkValues(node, doc, len, QueryNearMin, &state);
	return state.best;
}

/* State of BsonNearLocation's walk: the nearest value so far */
typedef struct QueryNearPlace
{
	const QueryGeo *geo;
	double		best;
	bson_value_t value;			/* points into the document */
	bool		found;
} QueryNearPlace;

/* QueryWalkValues callback of BsonNearLocation */
static void
QueryNearPlaceMin(const bson_iter_t *value, void *arg)
{
	QueryNearPlace *state = arg;
	double		d = QueryGeoDistance(state->geo, value);

	if (isfinite(d) && (!state->found || d < state->best))
	{
		bson_iter_t copy = *value;

		state->best = d;
		state->found = true;
		/* documents, arrays and strings point into the document */
		state->value = *bson_iter_value(&copy);
	}
}

/*
 * BsonNearLocation
 *		The value of the document nearest to a $near's point ($geoNear's
 *		includeLocs): false when the path reaches no usable geometry.  The
 *		value points into the document.
 */
bool
BsonNearLocation(const BsonNearSpec *spec, const uint8_t *doc, uint32_t len,
				 bson_value_t *out)
{
	const QueryNode *node = spec->node;
	QueryNearPlace state;

	memset(&state, 0, sizeof(state));
	state.geo = node->u.geo;
	state.best = INFINITY;
	QueryWalkValues(node, doc, len, QueryNearPlaceMin, &state);
	if (state.found)
		*out = state.value;
	return state.found;
}
