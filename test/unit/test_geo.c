/*-------------------------------------------------------------------------
 *
 * test_geo.c
 *	  Unit tests of the geospatial operators (geo.c, query_geo.c):
 *	  containment and intersection on the sphere (great-circle edges, the
 *	  antimeridian, the poles, big polygons), the planar legacy shapes,
 *	  $near's distances and order, and the validation error codes.
 *
 * Filters and documents are written as Extended JSON with single quotes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>

#include "bson_json.h"
#include "geo.h"
#include "query.h"
#include "unit.h"

/* A filter, a document, and whether the filter matches it */
typedef struct GeoMatchCase
{
	const char *filter;
	const char *doc;
	bool		match;
} GeoMatchCase;

/* A filter that must not compile, with MongoDB's code */
typedef struct GeoErrorCase
{
	const char *filter;
	int			code;
} GeoErrorCase;

/*
 * GeoJson
 *		A document from single-quoted Extended JSON (NULL, reported, when it
 *		does not parse).
 */
static bson_t *
GeoJson(const char *json, const char *file, int line)
{
	char	   *text = pstrdup(json);
	BsonParsed	parsed;
	char	   *error = NULL;
	bson_t	   *out;

	for (char *p = text; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	if (!BsonParseJson(text, strlen(text), &parsed, &error))
	{
		UnitFail(file, line, "test JSON does not parse: %s: %s", json, error);
		pfree(error);
		pfree(text);
		return NULL;
	}
	pfree(text);
	out = bson_copy(&parsed.doc);
	bson_destroy(&parsed.doc);
	return out;
}

/*
 * GeoRunMatches
 *		Check a table of filters against documents.
 */
static void
GeoRunMatches(const GeoMatchCase *cases, int n, const char *file, int line)
{
	for (int i = 0; i < n; i++)
	{
		bson_t	   *f = GeoJson(cases[i].filter, file, line);
		bson_t	   *d = GeoJson(cases[i].doc, file, line);
		BsonQueryError error;
		BsonFilter *filter;

		if (f == NULL || d == NULL)
			continue;
		filter = BsonFilterCompile(bson_get_data(f), f->len, &error);
		if (filter == NULL)
		{
			UnitFail(file, line, "case %d: %s: error %d (%s)", i, cases[i].filter,
					 error.code, error.message);
			pfree(error.message);
		}
		else
		{
			if (BsonFilterMatches(filter, bson_get_data(d), d->len) != cases[i].match)
				UnitFail(file, line, "case %d: %s on %s: expected %s", i,
						 cases[i].filter, cases[i].doc,
						 cases[i].match ? "a match" : "no match");
			BsonFilterFree(filter);
		}
		bson_destroy(f);
		bson_destroy(d);
	}
}

/*
 * GeoRunErrors
 *		Check a table of filters that must fail with a code.
 */
static void
GeoRunErrors(const GeoErrorCase *cases, int n, const char *file, int line)
{
	for (int i = 0; i < n; i++)
	{
		bson_t	   *f = GeoJson(cases[i].filter, file, line);
		BsonQueryError error;
		BsonFilter *filter;

		if (f == NULL)
			continue;
		filter = BsonFilterCompile(bson_get_data(f), f->len, &error);
		if (filter != NULL)
		{
			UnitFail(file, line, "case %d: %s compiles, expected error %d", i,
					 cases[i].filter, cases[i].code);
			BsonFilterFree(filter);
		}
		else
		{
			if (error.code != cases[i].code)
				UnitFail(file, line, "case %d: %s: error %d (%s), expected %d", i,
						 cases[i].filter, error.code, error.message, cases[i].code);
			pfree(error.message);
		}
		bson_destroy(f);
	}
}

#define SQUARE(x0, y0, x1, y1) \
	"[[[" #x0 "," #y0 "],[" #x1 "," #y0 "],[" #x1 "," #y1 "],[" #x0 "," #y1 "],[" #x0 "," #y0 "]]]"
#define SQUARE_CW(x0, y0, x1, y1) \
	"[[[" #x0 "," #y0 "],[" #x0 "," #y1 "],[" #x1 "," #y1 "],[" #x1 "," #y0 "],[" #x0 "," #y0 "]]]"
#define WITHIN(coords) \
	"{'loc': {'$geoWithin': {'$geometry': {'type': 'Polygon', 'coordinates': " coords "}}}}"
#define PT(x, y) "{'loc': {'type': 'Point', 'coordinates': [" #x "," #y "]}}"


TEST(geo_within_polygon)
{
	static const GeoMatchCase cases[] = {
		{WITHIN(SQUARE(-10, -10, 10, 10)), PT(0, 0), true},
		{WITHIN(SQUARE(-10, -10, 10, 10)), PT(9.9, -9.9), true},
		{WITHIN(SQUARE(-10, -10, 10, 10)), PT(50, 50), false},
		{WITHIN(SQUARE(-10, -10, 10, 10)), PT(0, -10.5), false},
		/* either winding: the smaller side */
		{WITHIN(SQUARE_CW(-10, -10, 10, 10)), PT(0, 0), true},
		{WITHIN(SQUARE_CW(-10, -10, 10, 10)), PT(100, 0), false},
		/* legacy pairs and {x, y} documents are points too */
		{WITHIN(SQUARE(-10, -10, 10, 10)), "{'loc': [1, 2]}", true},
		{WITHIN(SQUARE(-10, -10, 10, 10)), "{'loc': {'lng': 1, 'lat': 2}}", true},
		{WITHIN(SQUARE(-10, -10, 10, 10)), "{'loc': [[50, 50], [1, 2]]}", true},
		{WITHIN(SQUARE(-10, -10, 10, 10)), "{'loc': [200, 2]}", false},
		{WITHIN(SQUARE(-10, -10, 10, 10)), "{'loc': 'x'}", false},
		{WITHIN(SQUARE(-10, -10, 10, 10)), "{'other': 1}", false},
		/* lines and polygons must lie entirely inside */
		{WITHIN(SQUARE(-10, -10, 10, 10)),
		"{'loc': {'type': 'LineString', 'coordinates': [[0, 0], [5, 5]]}}", true},
		{WITHIN(SQUARE(-10, -10, 10, 10)),
		"{'loc': {'type': 'LineString', 'coordinates': [[0, 0], [50, 5]]}}", false},
		{WITHIN(SQUARE(-10, -10, 10, 10)),
		"{'loc': {'type': 'Polygon', 'coordinates': " SQUARE(-1, -1, 1, 1) "}}", true},
		{WITHIN(SQUARE(-10, -10, 10, 10)),
		"{'loc': {'type': 'Polygon', 'coordinates': " SQUARE(-1, -1, 11, 1) "}}", false},
		/* a hole */
		{WITHIN("[[[-10,-10],[10,-10],[10,10],[-10,10],[-10,-10]],[[-1,-1],[1,-1],[1,1],[-1,1],[-1,-1]]]"),
		PT(0, 0), false},
		{WITHIN("[[[-10,-10],[10,-10],[10,10],[-10,10],[-10,-10]],[[-1,-1],[1,-1],[1,1],[-1,1],[-1,-1]]]"),
		PT(5, 5), true},
		/* edges are great circles: the top edge bulges north to ~19.4 at lon 0 */
		{WITHIN(SQUARE(-60, 0, 60, 10)), PT(0, 15), true},
		{WITHIN(SQUARE(-60, 0, 60, 10)), PT(0, 20), false},
		/* across the antimeridian */
		{WITHIN("[[[170,-10],[-170,-10],[-170,10],[170,10],[170,-10]]]"), PT(180, 0), true},
		{WITHIN("[[[170,-10],[-170,-10],[-170,10],[170,10],[170,-10]]]"), PT(-175, 5), true},
		{WITHIN("[[[170,-10],[-170,-10],[-170,10],[170,10],[170,-10]]]"), PT(0, 0), false},
		/* around the north pole */
		{WITHIN("[[[0,80],[90,80],[180,80],[-90,80],[0,80]]]"), PT(0, 90), true},
		{WITHIN("[[[0,80],[90,80],[180,80],[-90,80],[0,80]]]"), PT(45, 85), true},
		{WITHIN("[[[0,80],[90,80],[180,80],[-90,80],[0,80]]]"), PT(45, 70), false},
		/* MultiPolygon */
		{"{'loc': {'$geoWithin': {'$geometry': {'type': 'MultiPolygon', 'coordinates': ["
			SQUARE(0, 0, 1, 1) "," SQUARE(20, 20, 21, 21) "]}}}}", PT(20.5, 20.5), true},
		{"{'loc': {'$geoWithin': {'$geometry': {'type': 'MultiPolygon', 'coordinates': ["
			SQUARE(0, 0, 1, 1) "," SQUARE(20, 20, 21, 21) "]}}}}", PT(10, 10), false},
		/* a big polygon: the clockwise ring leaves the square outside */
		{"{'loc': {'$geoWithin': {'$geometry': {'type': 'Polygon', 'coordinates': "
			SQUARE_CW(-10, -10, 10, 10) ", 'crs': {'type': 'name', 'properties': "
			"{'name': 'urn:x-mongodb:crs:strictwinding:EPSG:4326'}}}}}}", PT(0, 0), false},
		{"{'loc': {'$geoWithin': {'$geometry': {'type': 'Polygon', 'coordinates': "
			SQUARE_CW(-10, -10, 10, 10) ", 'crs': {'type': 'name', 'properties': "
			"{'name': 'urn:x-mongodb:crs:strictwinding:EPSG:4326'}}}}}}", PT(100, 40), true},
		{"{'loc': {'$geoWithin': {'$geometry': {'type': 'Polygon', 'coordinates': "
			SQUARE(-10, -10, 10, 10) ", 'crs': {'type': 'name', 'properties': "
			"{'name': 'urn:x-mongodb:crs:strictwinding:EPSG:4326'}}}}}}", PT(0, 0), true},
		/* inside $elemMatch, $not, $or */
		{"{'l': {'$elemMatch': {'$geoWithin': {'$geometry': {'type': 'Polygon', 'coordinates': "
			SQUARE(-10, -10, 10, 10) "}}}}}", "{'l': [[50, 50], [1, 1]]}", true},
		{"{'$or': [{'a': 1}, " WITHIN(SQUARE(-10, -10, 10, 10)) "]}", PT(1, 1), true},
		{"{'loc': {'$not': {'$geoWithin': {'$geometry': {'type': 'Polygon', 'coordinates': "
			SQUARE(-10, -10, 10, 10) "}}}}}", PT(50, 50), true},
	};

	GeoRunMatches(cases, lengthof(cases), __FILE__, __LINE__);
}

TEST(geo_within_legacy_shapes)
{
	static const GeoMatchCase cases[] = {
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [10, 10]]}}}", "{'loc': [5, 5]}", true},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [10, 10]]}}}", "{'loc': [10, 10]}", true},
		{"{'loc': {'$geoWithin': {'$box': [[10, 10], [0, 0]]}}}", "{'loc': [0, 5]}", true},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [10, 10]]}}}", "{'loc': [10.001, 5]}", false},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [10, 10]]}}}", "{'loc': {'x': 5, 'y': 5}}", true},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [10, 10]]}}}", PT(5, 5), true},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [10, 10]]}}}",
		"{'loc': {'type': 'LineString', 'coordinates': [[1, 1], [5, 5]]}}", false},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [1000, 1000]]}}}", "{'loc': [500, 500]}", true},
		{"{'loc': {'$geoWithin': {'$polygon': [[0, 0], [10, 0], [0, 10]]}}}", "{'loc': [2, 2]}", true},
		{"{'loc': {'$geoWithin': {'$polygon': [[0, 0], [10, 0], [0, 10]]}}}", "{'loc': [5, 5]}", true},
		{"{'loc': {'$geoWithin': {'$polygon': [[0, 0], [10, 0], [0, 10]]}}}", "{'loc': [6, 6]}", false},
		{"{'loc': {'$geoWithin': {'$center': [[0, 0], 5]}}}", "{'loc': [3, 4]}", true},
		{"{'loc': {'$geoWithin': {'$center': [[0, 0], 5]}}}", "{'loc': [4, 4]}", false},
		/* $centerSphere: radians on the sphere; 0.1 rad is about 5.73 degrees */
		{"{'loc': {'$geoWithin': {'$centerSphere': [[0, 0], 0.1]}}}", PT(5, 0), true},
		{"{'loc': {'$geoWithin': {'$centerSphere': [[0, 0], 0.1]}}}", PT(6, 0), false},
		{"{'loc': {'$geoWithin': {'$centerSphere': [[179, 0], 0.1]}}}", PT(-178, 0), true},
		{"{'loc': {'$geoWithin': {'$centerSphere': [[0, 89], 0.1]}}}", PT(180, 88), true},
		{"{'loc': {'$geoWithin': {'$centerSphere': [[0, 0], 0.1]}}}",
		"{'loc': {'type': 'LineString', 'coordinates': [[1, 1], [2, 2]]}}", true},
	};

	GeoRunMatches(cases, lengthof(cases), __FILE__, __LINE__);
}

#define INTERSECTS(geometry) "{'loc': {'$geoIntersects': {'$geometry': " geometry "}}}"
#define POLY(coords) "{'type': 'Polygon', 'coordinates': " coords "}"
#define LINE(coords) "{'type': 'LineString', 'coordinates': " coords "}"

TEST(geo_intersects)
{
	static const GeoMatchCase cases[] = {
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), PT(0, 0), true},
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), PT(10, 0), true},
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), PT(20, 0), false},
		/* a line crossing the polygon without a vertex inside */
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), "{'loc': " LINE("[[-20, 0], [20, 0]]") "}", true},
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), "{'loc': " LINE("[[-20, 20], [20, 20]]") "}", false},
		/* a polygon inside, around, overlapping, apart */
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), "{'loc': " POLY(SQUARE(-1, -1, 1, 1)) "}", true},
		{INTERSECTS(POLY(SQUARE(-1, -1, 1, 1))), "{'loc': " POLY(SQUARE(-10, -10, 10, 10)) "}", true},
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), "{'loc': " POLY(SQUARE(5, 5, 15, 15)) "}", true},
		{INTERSECTS(POLY(SQUARE(-10, -10, 10, 10))), "{'loc': " POLY(SQUARE(20, 20, 30, 30)) "}", false},
		/* a point query on lines and points */
		{INTERSECTS("{'type': 'Point', 'coordinates': [0, 0]}"), "{'loc': " LINE("[[0, -5], [0, 5]]") "}", true},
		{INTERSECTS("{'type': 'Point', 'coordinates': [1, 0]}"), "{'loc': " LINE("[[0, -5], [0, 5]]") "}", false},
		{INTERSECTS("{'type': 'Point', 'coordinates': [3, 4]}"), "{'loc': [3, 4]}", true},
		{INTERSECTS("{'type': 'Point', 'coordinates': [3, 4]}"), "{'loc': [3, 5]}", false},
		/* lines crossing each other; the antimeridian */
		{INTERSECTS(LINE("[[0, -5], [0, 5]]")), "{'loc': " LINE("[[-5, 0], [5, 0]]") "}", true},
		{INTERSECTS(LINE("[[0, -5], [0, 5]]")), "{'loc': " LINE("[[1, -5], [1, 5]]") "}", false},
		{INTERSECTS(LINE("[[179, 0], [-179, 0]]")), "{'loc': " LINE("[[180, -1], [180, 1]]") "}", true},
		{INTERSECTS(LINE("[[179, 0], [-179, 0]]")), "{'loc': " LINE("[[0, -1], [0, 1]]") "}", false},
		/* the multi types and collections */
		{INTERSECTS("{'type': 'MultiPoint', 'coordinates': [[50, 50], [0, 0]]}"),
		"{'loc': " POLY(SQUARE(-1, -1, 1, 1)) "}", true},
		{INTERSECTS("{'type': 'MultiLineString', 'coordinates': [[[50, 50], [51, 51]], [[-5, 0], [5, 0]]]}"),
		"{'loc': " POLY(SQUARE(-1, -1, 1, 1)) "}", true},
		{INTERSECTS("{'type': 'MultiPolygon', 'coordinates': [" SQUARE(20, 20, 21, 21) "]}"),
		"{'loc': " POLY(SQUARE(-1, -1, 1, 1)) "}", false},
		{INTERSECTS("{'type': 'GeometryCollection', 'geometries': [{'type': 'Point', 'coordinates': [40, 40]}, "
					POLY(SQUARE(-1, -1, 1, 1)) "]}"), PT(0.5, 0.5), true},
		{INTERSECTS(POLY(SQUARE(-1, -1, 1, 1))),
		"{'loc': {'type': 'GeometryCollection', 'geometries': [{'type': 'Point', 'coordinates': [40, 40]}]}}", false},
		/* around the south pole */
		{INTERSECTS(POLY("[[[0,-80],[-90,-80],[180,-80],[90,-80],[0,-80]]]")), PT(123, -89), true},
	};

	GeoRunMatches(cases, lengthof(cases), __FILE__, __LINE__);
}

TEST(geo_near_distances)
{
	static const GeoMatchCase cases[] = {
		/* one degree of latitude is about 111.3 km */
		{"{'loc': {'$near': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}, '$maxDistance': 120000}}}",
		PT(0, 1), true},
		{"{'loc': {'$near': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}, '$maxDistance': 100000}}}",
		PT(0, 1), false},
		{"{'loc': {'$nearSphere': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}, '$minDistance': 100000}}}",
		PT(0, 1), true},
		{"{'loc': {'$nearSphere': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}, '$minDistance': 120000}}}",
		PT(0, 1), false},
		{"{'loc': {'$near': [0, 0], '$maxDistance': 5}}", "{'loc': [3, 4]}", true},
		{"{'loc': {'$near': [0, 0], '$maxDistance': 4.9}}", "{'loc': [3, 4]}", false},
		{"{'loc': {'$nearSphere': [0, 0], '$maxDistance': 0.1}}", "{'loc': [5, 0]}", true},
		{"{'loc': {'$nearSphere': [0, 0], '$maxDistance': 0.1}}", "{'loc': [6, 0]}", false},
		{"{'loc': {'$near': [0, 0]}}", "{'other': 1}", false},
		{"{'loc': {'$near': [0, 0]}, 'a': 1}", "{'loc': [1, 1], 'a': 1}", true},
	};
	const char *docs[] = {PT(0, 3), PT(0, 1), "{'loc': [[0, 5], [0, 2]]}", "{'x': 1}",
	"{'loc': " LINE("[[-1, 0.5], [1, 0.5]]") "}"};
	const double expected_degrees[] = {3, 1, 2, INFINITY, 0.5};
	bson_t	   *f;
	BsonQueryError error;
	BsonFilter *filter;
	BsonNearSpec near;

	GeoRunMatches(cases, lengthof(cases), __FILE__, __LINE__);

	/* the distances the find command orders by */
	f = GeoJson("{'a.b': 1, 'loc': {'$nearSphere': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}}}}",
				__FILE__, __LINE__);
	filter = BsonFilterCompile(bson_get_data(f), f->len, &error);
	CHECK(filter != NULL);
	CHECK(BsonFilterGetNear(filter, &near));
	CHECK_STR_EQ(near.path, "loc");
	CHECK(near.geojson);
	CHECK(near.spherical);
	for (size_t i = 0; i < lengthof(docs); i++)
	{
		bson_t	   *d = GeoJson(docs[i], __FILE__, __LINE__);
		double		dist = BsonNearDistance(&near, bson_get_data(d), d->len);
		double		want = expected_degrees[i] * M_PI / 180 * GEO_EARTH_RADIUS_METERS;

		if (isinf(want))
			CHECK(isinf(dist));
		else
			CHECK(fabs(dist - want) < 20);	/* the line's arc bulges ~9 m */
		bson_destroy(d);
	}
	BsonFilterFree(filter);
	bson_destroy(f);

	/* no $near, no spec; a legacy one is flat */
	f = GeoJson("{'loc': {'$near': [1, 2], '$minDistance': 1}}", __FILE__, __LINE__);
	filter = BsonFilterCompile(bson_get_data(f), f->len, &error);
	CHECK(filter != NULL && BsonFilterGetNear(filter, &near));
	CHECK(!near.geojson && !near.spherical);
	CHECK(near.x == 1 && near.y == 2 && near.min_distance == 1 && isinf(near.max_distance));
	BsonFilterFree(filter);
	bson_destroy(f);
	f = GeoJson("{'loc': {'$geoWithin': {'$box': [[0, 0], [1, 1]]}}}", __FILE__, __LINE__);
	filter = BsonFilterCompile(bson_get_data(f), f->len, &error);
	CHECK(filter != NULL && !BsonFilterGetNear(filter, &near));
	BsonFilterFree(filter);
	bson_destroy(f);
}

TEST(geo_errors)
{
	static const GeoErrorCase cases[] = {
		{"{'loc': {'$geoWithin': 1}}", 2},
		{"{'loc': {'$geoWithin': {}}}", 2},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [1, 1]], '$center': [[0, 0], 1]}}}", 2},
		{"{'loc': {'$geoWithin': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}}}}", 2},
		{WITHIN("[[[0, 0], [1, 0], [1, 1], [0, 1]]]"), 2},	/* not closed */
		{WITHIN("[[[0, 0], [1, 0], [0, 0]]]"), 2},	/* too few vertices */
		{WITHIN("[[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]"), 2},	/* self-intersecting */
		{WITHIN("[[[0, 91], [1, 91], [1, 92], [0, 92], [0, 91]]]"), 2},
		{WITHIN("[[[-1,-1],[1,-1],[1,1],[-1,1],[-1,-1]],[[50,50],[51,50],[51,51],[50,51],[50,50]]]"), 2},
		{WITHIN("[[[0,0],[5,0],[5,5],[0,5],[0,0]],[[0,0],[0,2],[2,2],[2,0],[0,0]]]"), 2},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0]]}}}", 2},
		{"{'loc': {'$geoWithin': {'$box': [[0, 0], [{'$numberDouble': 'NaN'}, 1]]}}}", 2},
		{"{'loc': {'$geoWithin': {'$polygon': [[0, 0], [1, 1]]}}}", 2},
		{"{'loc': {'$geoWithin': {'$center': [[0, 0], -1]}}}", 2},
		{"{'loc': {'$geoWithin': {'$center': [[0, 0], 1, 2]}}}", 2},
		{"{'loc': {'$geoWithin': {'$centerSphere': [[181, 0], 1]}}}", 2},
		{"{'loc': {'$geoIntersects': {'$geometry': {'type': 'Point', 'coordinates': [0, 91]}}}}", 2},
		{"{'loc': {'$geoIntersects': {'$geometry': {'type': 'point', 'coordinates': [0, 0]}}}}", 2},
		{"{'loc': {'$geoIntersects': {'$geometry': {'type': 'LineString', 'coordinates': [[0, 0]]}}}}", 2},
		{"{'loc': {'$geoIntersects': {'$geometry': {'type': 'GeometryCollection', 'geometries': []}}}}", 2},
		{"{'loc': {'$geoIntersects': {'$geometry': {'type': 'Point', 'coordinates': [0, 0], "
			"'crs': {'type': 'name', 'properties': {'name': 'urn:x-mongodb:crs:strictwinding:EPSG:4326'}}}}}}", 2},
		{"{'loc': {'$geoIntersects': {'$box': [[0, 0], [1, 1]]}}}", 2},
		{"{'loc': {'$box': [[0, 0], [1, 1]]}}", 2},
		{"{'loc': {'$maxDistance': 1}}", 2},
		{"{'loc': {'$near': {}}}", 2},
		{"{'loc': {'$near': [1]}}", 2},
		{"{'loc': {'$near': {'$geometry': {'type': 'LineString', 'coordinates': [[0, 0], [1, 1]]}}}}", 2},
		{"{'loc': {'$near': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}, '$maxDistance': -1}}}", 2},
		{"{'loc': {'$near': {'$geometry': {'type': 'Point', 'coordinates': [0, 0]}, '$x': 1}}}", 2},
		{"{'$or': [{'loc': {'$near': [0, 0]}}, {'a': 1}]}", 2},
		{"{'loc': {'$not': {'$near': [0, 0]}}}", 2},
		{"{'a': {'$elemMatch': {'loc': {'$near': [0, 0]}}}}", 2},
		{"{'a': {'$near': [0, 0]}, 'b': {'$nearSphere': [0, 0]}}", 2},
		{"{'loc': {'$near': [0, 0], '$eq': 1}}", 34413},
		{"{'loc': {'$near': [0, 0], '$minDistance': 'x'}}", 16893},
		{"{'loc': {'$near': [0, 0], '$minDistance': -1}}", 16894},
		{"{'loc': {'$near': [0, 0], '$maxDistance': null}}", 16895},
		{"{'loc': {'$near': [0, 0], '$maxDistance': -2}}", 16896},
	};

	GeoRunErrors(cases, lengthof(cases), __FILE__, __LINE__);
}

TEST(geo_primitives)
{
	GeoPoint	a;
	GeoPoint	b;
	GeoPoint	box[3];

	GeoPointSet(&a, 0, 0);
	GeoPointSet(&b, 90, 0);
	CHECK(fabs(GeoSphereDistance(&a, &b) - M_PI / 2) < 1e-12);
	GeoPointSet(&b, 180, 0);
	CHECK(fabs(GeoSphereDistance(&a, &b) - M_PI) < 1e-12);
	GeoPointSet(&a, 0, 90);
	GeoPointSet(&b, 123, 90);
	CHECK(GeoSphereDistance(&a, &b) < 1e-12);
	GeoPointSet(&a, 0, 0);
	GeoPointSet(&b, 3, 4);
	CHECK(GeoFlatDistance(&a, &b) == 5);
	GeoPointSet(&box[0], 0, 0);
	GeoPointSet(&box[1], 4, 0);
	GeoPointSet(&box[2], 0, 4);
	GeoPointSet(&a, 2, 2);
	CHECK(GeoFlatInPolygon(&a, box, 3));
	GeoPointSet(&a, 2.1, 2);
	CHECK(!GeoFlatInPolygon(&a, box, 3));
	GeoPointSet(&a, 0, 0);
	CHECK(GeoFlatInBox(&a, &box[0], &box[1]));
}
