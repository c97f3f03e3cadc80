/*-------------------------------------------------------------------------
 *
 * geo.c
 *	  Geometry for MongoDB's geospatial query operators.
 *
 * Design note
 * -----------
 * MongoDB answers GeoJSON queries on the sphere (S2) and legacy ones
 * ($box, $polygon, $center) on the plane.  We do the same, without an
 * index and without a geometry library:
 *
 *	- A GeoJSON geometry is read into a GeoShape: its points, line strings
 *	  and polygons, each vertex kept both as written (longitude, latitude)
 *	  and as a unit vector.  Edges are great-circle arcs between vertices.
 *	- A polygon ring divides the sphere in two.  Which side is the
 *	  interior follows MongoDB: the smaller side for ordinary polygons, the
 *	  left of the ring (counter-clockwise) for "big" polygons with the
 *	  strict-winding CRS.  The sides are told apart by the ring's turning
 *	  angles (the area on the left is 2*pi minus their sum).
 *	- Whether a point is inside a ring is decided by parity: we keep a
 *	  reference point just to the left of the first edge, and count how
 *	  many edges the arc from the point to it crosses.  Points on the
 *	  boundary count as inside.
 *	- Edges cross when each one's end points lie on opposite sides of the
 *	  other's great circle, with the orientation checks of S2's
 *	  SimpleCrossing so that antipodal intersections are not counted.
 *	- $geoIntersects holds when a vertex of one geometry lies in or on the
 *	  other, or two edges meet; $geoWithin when every vertex lies in the
 *	  region and no edge crosses its boundary.
 *
 * Query geometries are validated as MongoDB validates them (ranges,
 * closed rings of four or more positions, no self-intersection, holes
 * inside their shell); geometries in documents are only read, and what
 * cannot be read simply matches nothing.
 *
 * IDENTIFICATION
 *	  src/geo.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include "bson_compare.h"
#include "geo.h"

/* Tolerance of the boundary tests, on unit vectors */
#define GEO_EPSILON					1e-12

/* Offset of the reference point of a ring from its first edge (radians) */
#define GEO_REF_OFFSET				1e-9

/* Where on its first edge the reference point of a ring sits */
#define GEO_REF_FRACTION			0.4142135623730951

/* How a point relates to a ring or a polygon */
typedef enum GeoRelation
{
	GEO_OUTSIDE,
	GEO_BOUNDARY,
	GEO_INSIDE
} GeoRelation;

/* A chunk of scratch memory */
typedef struct GeoChunk
{
	struct GeoChunk *next;
	double		align;			/* what follows is aligned for doubles */
} GeoChunk;


/* ----------------------------------------------------------------
 *		Memory and vectors
 * ----------------------------------------------------------------
 */

/*
 * GeoScratchAlloc
 *		The allocator of a GeoScratch: zeroed, palloc'd, remembered.
 */
static void *
GeoScratchAlloc(void *arg, size_t size)
{
	GeoScratch *scratch = arg;
	GeoChunk   *chunk = palloc0(sizeof(GeoChunk) + size);

	chunk->next = scratch->chunks;
	scratch->chunks = chunk;
	return chunk + 1;
}

/*
 * GeoScratchInit
 *		An empty scratch area and the allocator that fills it.
 */
void
GeoScratchInit(GeoScratch *scratch, GeoAllocator *allocator)
{
	scratch->chunks = NULL;
	allocator->alloc = GeoScratchAlloc;
	allocator->arg = scratch;
}

/*
 * GeoScratchReset
 *		Release everything a scratch area holds.
 */
void
GeoScratchReset(GeoScratch *scratch)
{
	GeoChunk   *chunk = scratch->chunks;

	while (chunk != NULL)
	{
		GeoChunk   *next = chunk->next;

		pfree(chunk);
		chunk = next;
	}
	scratch->chunks = NULL;
}

static inline double
GeoDot(const double *a, const double *b)
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static inline void
GeoCross(const double *a, const double *b, double *out)
{
	double		x = a[1] * b[2] - a[2] * b[1];
	double		y = a[2] * b[0] - a[0] * b[2];
	double		z = a[0] * b[1] - a[1] * b[0];

	out[0] = x;
	out[1] = y;
	out[2] = z;
}

static inline bool
GeoNormalize(double *v)
{
	double		n = sqrt(GeoDot(v, v));

	if (n == 0 || !isfinite(n))
		return false;
	v[0] /= n;
	v[1] /= n;
	v[2] /= n;
	return true;
}

/* The angle between two unit vectors */
static inline double
GeoAngle(const double *a, const double *b)
{
	double		c[3];

	GeoCross(a, b, c);
	return atan2(sqrt(GeoDot(c, c)), GeoDot(a, b));
}


/* ----------------------------------------------------------------
 *		Numbers and points
 * ----------------------------------------------------------------
 */

/*
 * GeoNumber
 *		Any BSON number as a double (decimal128 rounded); false for others.
 */
bool
GeoNumber(const bson_iter_t *it, double *out)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			*out = bson_iter_int32(it);
			return true;
		case BSON_TYPE_INT64:
			*out = (double) bson_iter_int64(it);
			return true;
		case BSON_TYPE_DOUBLE:
			*out = bson_iter_double(it);
			return true;
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				BsonDecimal d;
				double		v;

				if (!bson_iter_decimal128(it, &dec))
					return false;
				BsonDecodeDecimal128(&dec, &d);
				if (d.kind == BSON_NUMBER_NAN)
					v = NAN;
				else if (d.kind == BSON_NUMBER_INFINITY)
					v = INFINITY;
				else if (d.coefficient == 0)
					v = 0;
				else
					v = (double) d.coefficient * pow(10.0, d.exponent);
				*out = d.negative ? -v : v;
				return true;
			}
		default:
			return false;
	}
}

/*
 * GeoPointSet
 *		A point from its coordinates; the unit vector reads them as
 *		longitude and latitude in degrees.
 */
void
GeoPointSet(GeoPoint *p, double x, double y)
{
	/* degrees times pi/180, rounded as S2 and MongoDB round them */
	double		lon = x * (M_PI / 180.0);
	double		lat = y * (M_PI / 180.0);

	p->x = x;
	p->y = y;
	p->v[0] = cos(lat) * cos(lon);
	p->v[1] = cos(lat) * sin(lon);
	p->v[2] = sin(lat);
}

/*
 * GeoPointIsLonLat
 *		Whether a point is a valid longitude and latitude.
 */
bool
GeoPointIsLonLat(const GeoPoint *p)
{
	return p->x >= -180 && p->x <= 180 && p->y >= -90 && p->y <= 90;
}

/*
 * GeoLegacyPoint
 *		A legacy coordinate pair: an array or an embedded document whose
 *		first two values are numbers (exactly two with exactly_two).
 */
bool
GeoLegacyPoint(const bson_iter_t *it, bool exactly_two, GeoPoint *out)
{
	bson_iter_t sub;
	double		c[2];
	int			n = 0;

	if ((!BSON_ITER_HOLDS_ARRAY(it) && !BSON_ITER_HOLDS_DOCUMENT(it)) ||
		!bson_iter_recurse(it, &sub))
		return false;
	while (bson_iter_next(&sub))
	{
		if (n == 2)
		{
			if (exactly_two)
				return false;
			break;
		}
		if (!GeoNumber(&sub, &c[n]))
			return false;
		n++;
	}
	if (n != 2)
		return false;
	GeoPointSet(out, c[0], c[1]);
	return true;
}


/* ----------------------------------------------------------------
 *		Edges and rings
 * ----------------------------------------------------------------
 */

/*
 * GeoEdgesCross
 *		Whether arcs a-b and c-d cross at a point interior to both (S2's
 *		SimpleCrossing).
 */
static bool
GeoEdgesCross(const double *a, const double *b, const double *c, const double *d)
{
	double		ab[3];
	double		cd[3];
	double		acb;
	double		bda;
	double		cbd;
	double		dac;

	GeoCross(a, b, ab);
	acb = -GeoDot(ab, c);
	bda = GeoDot(ab, d);
	if (acb * bda <= 0)
		return false;
	GeoCross(c, d, cd);
	cbd = -GeoDot(cd, b);
	dac = GeoDot(cd, a);
	return acb * cbd > 0 && acb * dac > 0;
}

/*
 * GeoOnEdge
 *		Whether p lies on the arc a-b (end points included).
 */
static bool
GeoOnEdge(const double *p, const double *a, const double *b)
{
	double		n[3];
	double		t[3];
	double		len;

	if (GeoAngle(p, a) <= GEO_EPSILON || GeoAngle(p, b) <= GEO_EPSILON)
		return true;
	GeoCross(a, b, n);
	len = sqrt(GeoDot(n, n));
	if (len == 0 || fabs(GeoDot(n, p)) > GEO_EPSILON * len)
		return false;
	/* on the great circle: between a and b? */
	GeoCross(a, p, t);
	if (GeoDot(t, n) < 0)
		return false;
	GeoCross(p, b, t);
	return GeoDot(t, n) >= 0 && GeoDot(a, p) > -1 + GEO_EPSILON;
}

/*
 * GeoEdgesMeet
 *		Whether arcs a-b and c-d have any point in common.
 */
static bool
GeoEdgesMeet(const double *a, const double *b, const double *c, const double *d)
{
	return GeoEdgesCross(a, b, c, d) || GeoOnEdge(c, a, b) || GeoOnEdge(d, a, b) ||
		GeoOnEdge(a, c, d) || GeoOnEdge(b, c, d);
}

/*
 * GeoLoopInit
 *		Decide which side of a ring is its interior and place its reference
 *		point, just to the left of the first edge.
 */
static void
GeoLoopInit(GeoLoop *loop, bool big)
{
	double		turning = 0;
	const double *a = loop->pts[0].v;
	const double *b = loop->pts[1].v;
	double		m[3];
	double		n[3];

	for (int i = 0; i < loop->n; i++)
	{
		const double *p = loop->pts[(i + loop->n - 1) % loop->n].v;
		const double *q = loop->pts[i].v;
		const double *r = loop->pts[(i + 1) % loop->n].v;
		double		n1[3];
		double		n2[3];
		double		c[3];

		GeoCross(p, q, n1);
		GeoCross(q, r, n2);
		GeoCross(n1, n2, c);
		turning += atan2(GeoDot(c, q), GeoDot(n1, n2));
	}
	/* the area on the left is 2*pi minus the turning; a hemisphere is 2*pi */
	loop->left_inside = big || turning >= 0;

	for (int k = 0; k < 3; k++)
		m[k] = a[k] * (1 - GEO_REF_FRACTION) + b[k] * GEO_REF_FRACTION;
	GeoCross(a, b, n);
	if (!GeoNormalize(m) || !GeoNormalize(n))
	{
		/* degenerate first edge (antipodal or repeated end points) */
		memcpy(loop->ref, a, sizeof(loop->ref));
		return;
	}
	for (int k = 0; k < 3; k++)
		loop->ref[k] = m[k] + GEO_REF_OFFSET * n[k];
	GeoNormalize(loop->ref);
}

/*
 * GeoLoopRelation
 *		Where a point lies with respect to a ring.
 */
static GeoRelation
GeoLoopRelation(const GeoLoop *loop, const double *p)
{
	int			crossings = 0;

	for (int i = 0; i < loop->n; i++)
	{
		const double *a = loop->pts[i].v;
		const double *b = loop->pts[(i + 1) % loop->n].v;

		if (GeoOnEdge(p, a, b))
			return GEO_BOUNDARY;
	}
	for (int i = 0; i < loop->n; i++)
	{
		if (GeoEdgesCross(p, loop->ref, loop->pts[i].v,
						  loop->pts[(i + 1) % loop->n].v))
			crossings++;
	}
	/* the reference point is on the left: an even count means left too */
	if ((crossings % 2 == 0) == loop->left_inside)
		return GEO_INSIDE;
	return GEO_OUTSIDE;
}

/*
 * GeoPolygonRelation
 *		Where a point lies with respect to a polygon with holes.
 */
static GeoRelation
GeoPolygonRelation(const GeoPolygon *polygon, const double *p)
{
	GeoRelation rel = GeoLoopRelation(&polygon->loops[0], p);

	if (rel != GEO_INSIDE)
		return rel;
	for (int i = 1; i < polygon->nloops; i++)
	{
		GeoRelation hole = GeoLoopRelation(&polygon->loops[i], p);

		if (hole == GEO_INSIDE)
			return GEO_OUTSIDE;
		if (hole == GEO_BOUNDARY)
			return GEO_BOUNDARY;
	}
	return GEO_INSIDE;
}

/*
 * GeoPolygonContains
 *		Whether a point is in a polygon or on its boundary.
 */
bool
GeoPolygonContains(const GeoPolygon *polygon, const GeoPoint *p)
{
	return GeoPolygonRelation(polygon, p->v) != GEO_OUTSIDE;
}


/* ----------------------------------------------------------------
 *		GeoJSON
 * ----------------------------------------------------------------
 */

/* State of reading one GeoJSON object */
typedef struct GeoReader
{
	const GeoAllocator *allocator;
	bool		strict;
	bool		big;
	char	   *errbuf;
	size_t		errlen;
} GeoReader;

static bool GeoFail(GeoReader *reader, const char *format,...) pg_attribute_printf(2, 3);

/*
 * GeoFail
 *		Record why a geometry is invalid; returns false.
 */
static bool
GeoFail(GeoReader *reader, const char *format,...)
{
	va_list		args;

	if (reader->errbuf != NULL && reader->errlen > 0)
	{
		va_start(args, format);
		vsnprintf(reader->errbuf, reader->errlen, format, args);
		va_end(args);
	}
	return false;
}

static void *
GeoAlloc(GeoReader *reader, size_t size)
{
	return reader->allocator->alloc(reader->allocator->arg, Max(size, 1));
}

/* Number of elements of an array or document */
static int
GeoCount(const bson_iter_t *container)
{
	bson_iter_t it;
	int			n = 0;

	if (!bson_iter_recurse(container, &it))
		return 0;
	while (bson_iter_next(&it))
		n++;
	return n;
}

/*
 * GeoReadPosition
 *		A GeoJSON position: an array of two (or more) numbers, a valid
 *		longitude and latitude.
 */
static bool
GeoReadPosition(GeoReader *reader, const bson_iter_t *it, GeoPoint *out)
{
	bson_iter_t sub;
	double		c[2];
	int			n = 0;

	if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &sub))
		return GeoFail(reader, "a position must be an array of numbers");
	while (bson_iter_next(&sub))
	{
		double		d;

		if (!GeoNumber(&sub, &d))
			return GeoFail(reader, "a position must only contain numeric elements");
		if (n < 2)
			c[n] = d;
		n++;
	}
	if (n < 2)
		return GeoFail(reader, "a position must contain at least two numeric elements");
	if (!isfinite(c[0]) || !isfinite(c[1]) || c[0] < -180 || c[0] > 180 ||
		c[1] < -90 || c[1] > 90)
		return GeoFail(reader, "longitude/latitude is out of bounds, lng: %g lat: %g",
					   c[0], c[1]);
	GeoPointSet(out, c[0], c[1]);
	return true;
}

/*
 * GeoReadPositions
 *		An array of at least min positions.
 */
static bool
GeoReadPositions(GeoReader *reader, const bson_iter_t *it, int min,
				 GeoPoint **pts, int *n)
{
	bson_iter_t sub;
	int			count;

	if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &sub))
		return GeoFail(reader, "coordinates must be an array");
	count = GeoCount(it);
	if (count < min)
		return GeoFail(reader, "coordinates must have at least %d positions", min);
	*pts = GeoAlloc(reader, count * sizeof(GeoPoint));
	*n = 0;
	while (bson_iter_next(&sub))
	{
		if (!GeoReadPosition(reader, &sub, &(*pts)[(*n)++]))
			return false;
	}
	return true;
}

/*
 * GeoCheckLoop
 *		A ring must not cross or touch itself.
 */
static bool
GeoCheckLoop(GeoReader *reader, const GeoLoop *loop)
{
	int			n = loop->n;

	for (int i = 0; i < n; i++)
	{
		const double *a = loop->pts[i].v;
		const double *b = loop->pts[(i + 1) % n].v;

		for (int j = i + 2; j < n; j++)
		{
			if (i == 0 && j == n - 1)
				continue;		/* adjacent through the closing vertex */
			if (GeoEdgesMeet(a, b, loop->pts[j].v, loop->pts[(j + 1) % n].v))
				return GeoFail(reader, "loop is not valid: edges %d and %d cross", i, j);
		}
	}
	return true;
}

/*
 * GeoReadLoop
 *		A polygon ring: four or more positions, the last equal to the
 *		first; repeated consecutive vertices are dropped.
 */
static bool
GeoReadLoop(GeoReader *reader, const bson_iter_t *it, GeoLoop *loop)
{
	GeoPoint   *pts;
	int			n;
	int			m = 0;

	if (!GeoReadPositions(reader, it, 0, &pts, &n))
		return false;
	if (n < 4)
		return GeoFail(reader, "loop must have at least 4 vertices");
	if (pts[0].x != pts[n - 1].x || pts[0].y != pts[n - 1].y)
		return GeoFail(reader, "loop is not closed: first and last vertices differ");
	n--;
	for (int i = 0; i < n; i++)
	{
		if (m > 0 && pts[i].x == pts[m - 1].x && pts[i].y == pts[m - 1].y)
			continue;
		pts[m++] = pts[i];
	}
	while (m > 1 && pts[m - 1].x == pts[0].x && pts[m - 1].y == pts[0].y)
		m--;
	if (m < 3)
		return GeoFail(reader, "loop must have at least 3 different vertices");
	loop->n = m;
	loop->pts = pts;
	GeoLoopInit(loop, reader->big);
	if (reader->strict)
		return GeoCheckLoop(reader, loop);
	return true;
}

/*
 * GeoReadPolygon
 *		A polygon's rings: the shell, then holes inside it.
 */
static bool
GeoReadPolygon(GeoReader *reader, const bson_iter_t *it, GeoPolygon *polygon)
{
	bson_iter_t sub;
	int			count;

	if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &sub))
		return GeoFail(reader, "polygon coordinates must be an array");
	count = GeoCount(it);
	if (count == 0)
		return GeoFail(reader, "polygon has no loops");
	polygon->loops = GeoAlloc(reader, count * sizeof(GeoLoop));
	polygon->nloops = 0;
	while (bson_iter_next(&sub))
	{
		GeoLoop    *loop = &polygon->loops[polygon->nloops];

		if (!GeoReadLoop(reader, &sub, loop))
			return false;
		polygon->nloops++;
		if (polygon->nloops > 1 && reader->strict)
		{
			const GeoLoop *shell = &polygon->loops[0];

			for (int i = 0; i < loop->n; i++)
			{
				if (GeoLoopRelation(shell, loop->pts[i].v) != GEO_INSIDE)
					return GeoFail(reader, "secondary loops not contained by first exterior loop");
				for (int j = 0; j < shell->n; j++)
				{
					if (GeoEdgesMeet(loop->pts[i].v, loop->pts[(i + 1) % loop->n].v,
									 shell->pts[j].v, shell->pts[(j + 1) % shell->n].v))
						return GeoFail(reader, "secondary loop crosses the exterior loop");
				}
			}
		}
	}
	return true;
}

/* The GeoJSON type names */
static const struct
{
	const char *name;
	GeoType		type;
}			geo_types[] = {
	{"Point", GEO_POINT},
	{"LineString", GEO_LINESTRING},
	{"Polygon", GEO_POLYGON},
	{"MultiPoint", GEO_MULTIPOINT},
	{"MultiLineString", GEO_MULTILINESTRING},
	{"MultiPolygon", GEO_MULTIPOLYGON},
	{"GeometryCollection", GEO_COLLECTION},
};

/*
 * GeoReadCrs
 *		The optional crs member: {type: "name", properties: {name: ...}}
 *		with one of the names MongoDB knows.  Sets reader->big.
 */
static bool
GeoReadCrs(GeoReader *reader, const bson_iter_t *crs)
{
	bson_iter_t it;
	bson_iter_t props;
	const char *name;

	if (!BSON_ITER_HOLDS_DOCUMENT(crs))
		return GeoFail(reader, "GeoJSON coordinate reference system must be an object");
	if (!bson_iter_recurse(crs, &it) || !bson_iter_find(&it, "type") ||
		!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "name") != 0)
		return GeoFail(reader, "GeoJSON coordinate reference system type must be \"name\"");
	if (!bson_iter_recurse(crs, &it) || !bson_iter_find(&it, "properties") ||
		!BSON_ITER_HOLDS_DOCUMENT(&it))
		return GeoFail(reader, "GeoJSON coordinate reference system must have properties");
	if (!bson_iter_recurse(&it, &props) || !bson_iter_find(&props, "name") ||
		!BSON_ITER_HOLDS_UTF8(&props))
		return GeoFail(reader, "GeoJSON coordinate reference system must have a name");
	name = bson_iter_utf8(&props, NULL);
	if (strcmp(name, GEO_CRS_STRICT_WINDING) == 0)
		reader->big = true;
	else if (strcmp(name, "EPSG:4326") != 0 &&
			 strcmp(name, "urn:ogc:def:crs:OGC:1.3:CRS84") != 0)
		return GeoFail(reader, "unknown coordinate reference system: %s", name);
	return true;
}

/*
 * GeoAddPoints, GeoAddLines, GeoAddPolygons
 *		Append parts to a shape (a GeometryCollection has several).
 */
static void
GeoAddPoints(GeoReader *reader, GeoShape *shape, const GeoPoint *pts, int n)
{
	GeoPoint   *all = GeoAlloc(reader, (shape->npoints + n) * sizeof(GeoPoint));

	if (shape->npoints > 0)
		memcpy(all, shape->points, shape->npoints * sizeof(GeoPoint));
	memcpy(all + shape->npoints, pts, n * sizeof(GeoPoint));
	shape->points = all;
	shape->npoints += n;
}

static void
GeoAddLines(GeoReader *reader, GeoShape *shape, const GeoLine *lines, int n)
{
	GeoLine    *all = GeoAlloc(reader, (shape->nlines + n) * sizeof(GeoLine));

	if (shape->nlines > 0)
		memcpy(all, shape->lines, shape->nlines * sizeof(GeoLine));
	memcpy(all + shape->nlines, lines, n * sizeof(GeoLine));
	shape->lines = all;
	shape->nlines += n;
}

static void
GeoAddPolygons(GeoReader *reader, GeoShape *shape, const GeoPolygon *polygons, int n)
{
	GeoPolygon *all = GeoAlloc(reader, (shape->npolygons + n) * sizeof(GeoPolygon));

	if (shape->npolygons > 0)
		memcpy(all, shape->polygons, shape->npolygons * sizeof(GeoPolygon));
	memcpy(all + shape->npolygons, polygons, n * sizeof(GeoPolygon));
	shape->polygons = all;
	shape->npolygons += n;
}

/*
 * GeoReadObject
 *		One GeoJSON object into a shape (collection members add to it).
 */
static bool
GeoReadObject(GeoReader *reader, const bson_iter_t *doc, GeoShape *shape,
			  bool in_collection)
{
	bson_iter_t it;
	bson_iter_t coords;
	bson_iter_t sub;
	bool		have_type = false;
	bool		have_coords = false;
	bool		have_geometries = false;
	bool		have_crs = false;
	bson_iter_t crs;
	bson_iter_t geometries;
	GeoType		type = GEO_POINT;
	int			count;

	if (!BSON_ITER_HOLDS_DOCUMENT(doc) || !bson_iter_recurse(doc, &it))
		return GeoFail(reader, "a geometry must be an object");
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "type") == 0)
		{
			const char *name;
			bool		found = false;

			if (!BSON_ITER_HOLDS_UTF8(&it))
				return GeoFail(reader, "unknown GeoJSON type: type must be a string");
			name = bson_iter_utf8(&it, NULL);
			for (size_t i = 0; i < lengthof(geo_types); i++)
			{
				if (strcmp(name, geo_types[i].name) == 0)
				{
					type = geo_types[i].type;
					found = true;
				}
			}
			if (!found)
				return GeoFail(reader, "unknown GeoJSON type: %s", name);
			have_type = true;
		}
		else if (strcmp(key, "coordinates") == 0)
		{
			coords = it;
			have_coords = true;
		}
		else if (strcmp(key, "geometries") == 0)
		{
			geometries = it;
			have_geometries = true;
		}
		else if (strcmp(key, "crs") == 0)
		{
			crs = it;
			have_crs = true;
		}
	}
	if (!have_type)
		return GeoFail(reader, "unknown GeoJSON type: no type");
	if (have_crs)
	{
		if (!GeoReadCrs(reader, &crs))
			return false;
		if (reader->big && type != GEO_POLYGON)
			return GeoFail(reader, "strict winding order is only supported by Polygon");
	}
	if (!in_collection)
	{
		shape->type = type;
		shape->big = reader->big;
	}

	if (type == GEO_COLLECTION)
	{
		if (in_collection)
			return GeoFail(reader, "nested GeometryCollections are not supported");
		if (!have_geometries || !BSON_ITER_HOLDS_ARRAY(&geometries))
			return GeoFail(reader, "GeometryCollection geometries must be an array");
		if (GeoCount(&geometries) == 0)
			return GeoFail(reader, "GeometryCollection geometries must not be empty");
		if (!bson_iter_recurse(&geometries, &sub))
			return false;
		while (bson_iter_next(&sub))
		{
			if (!GeoReadObject(reader, &sub, shape, true))
				return false;
		}
		return true;
	}

	if (!have_coords)
		return GeoFail(reader, "GeoJSON object must have coordinates");
	if (!BSON_ITER_HOLDS_ARRAY(&coords))
		return GeoFail(reader, "GeoJSON coordinates must be an array");

	switch (type)
	{
		case GEO_POINT:
			{
				GeoPoint	p;

				if (!GeoReadPosition(reader, &coords, &p))
					return false;
				GeoAddPoints(reader, shape, &p, 1);
				return true;
			}
		case GEO_MULTIPOINT:
			{
				GeoPoint   *pts;
				int			n;

				if (!GeoReadPositions(reader, &coords, 1, &pts, &n))
					return false;
				GeoAddPoints(reader, shape, pts, n);
				return true;
			}
		case GEO_LINESTRING:
			{
				GeoLine		line;

				if (!GeoReadPositions(reader, &coords, 2, &line.pts, &line.n))
					return false;
				GeoAddLines(reader, shape, &line, 1);
				return true;
			}
		case GEO_MULTILINESTRING:
			count = GeoCount(&coords);
			if (count == 0)
				return GeoFail(reader, "MultiLineString must have at least 1 line");
			if (!bson_iter_recurse(&coords, &sub))
				return false;
			while (bson_iter_next(&sub))
			{
				GeoLine		line;

				if (!GeoReadPositions(reader, &sub, 2, &line.pts, &line.n))
					return false;
				GeoAddLines(reader, shape, &line, 1);
			}
			return true;
		case GEO_POLYGON:
			{
				GeoPolygon	polygon;

				if (!GeoReadPolygon(reader, &coords, &polygon))
					return false;
				GeoAddPolygons(reader, shape, &polygon, 1);
				return true;
			}
		case GEO_MULTIPOLYGON:
			count = GeoCount(&coords);
			if (count == 0)
				return GeoFail(reader, "MultiPolygon must have at least 1 polygon");
			if (!bson_iter_recurse(&coords, &sub))
				return false;
			while (bson_iter_next(&sub))
			{
				GeoPolygon	polygon;

				if (!GeoReadPolygon(reader, &sub, &polygon))
					return false;
				GeoAddPolygons(reader, shape, &polygon, 1);
			}
			return true;
		case GEO_COLLECTION:
			break;
	}
	return false;
}

/*
 * GeoParseGeoJSON
 *		Read a GeoJSON object, validating it when strict.
 */
bool
GeoParseGeoJSON(const bson_iter_t *it, const GeoAllocator *allocator, bool strict,
				GeoShape *out, char *errbuf, size_t errlen)
{
	GeoReader	reader;

	memset(out, 0, sizeof(GeoShape));
	reader.allocator = allocator;
	reader.strict = strict;
	reader.big = false;
	reader.errbuf = errbuf;
	reader.errlen = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	return GeoReadObject(&reader, it, out, false);
}

/*
 * GeoParseValue
 *		A document's value as a geometry: GeoJSON (a document with a type)
 *		or a legacy coordinate pair.
 */
bool
GeoParseValue(const bson_iter_t *value, const GeoAllocator *allocator,
			  GeoShape *out, bool *is_point, GeoPoint *point)
{
	bson_iter_t it;

	*is_point = false;
	memset(out, 0, sizeof(GeoShape));
	if (BSON_ITER_HOLDS_DOCUMENT(value) && bson_iter_recurse(value, &it) &&
		bson_iter_find(&it, "type"))
	{
		if (!GeoParseGeoJSON(value, allocator, false, out, NULL, 0))
			return false;
		if (out->type == GEO_POINT)
		{
			*is_point = true;
			*point = out->points[0];
		}
		return true;
	}
	if (!GeoLegacyPoint(value, false, point))
		return false;
	*is_point = true;
	out->type = GEO_POINT;
	out->npoints = 1;
	out->points = allocator->alloc(allocator->arg, sizeof(GeoPoint));
	out->points[0] = *point;
	return true;
}


/* ----------------------------------------------------------------
 *		Spherical predicates
 * ----------------------------------------------------------------
 */

/*
 * GeoSphereDistance
 *		The great-circle distance between two points, in radians.
 */
double
GeoSphereDistance(const GeoPoint *a, const GeoPoint *b)
{
	return GeoAngle(a->v, b->v);
}

/* Calls fn on every vertex of a shape until it returns false */
typedef bool (*GeoVertexFn) (const double *v, const void *arg);

static bool
GeoForEachVertex(const GeoShape *shape, GeoVertexFn fn, const void *arg)
{
	for (int i = 0; i < shape->npoints; i++)
		if (!fn(shape->points[i].v, arg))
			return false;
	for (int i = 0; i < shape->nlines; i++)
		for (int j = 0; j < shape->lines[i].n; j++)
			if (!fn(shape->lines[i].pts[j].v, arg))
				return false;
	for (int i = 0; i < shape->npolygons; i++)
		for (int k = 0; k < shape->polygons[i].nloops; k++)
			for (int j = 0; j < shape->polygons[i].loops[k].n; j++)
				if (!fn(shape->polygons[i].loops[k].pts[j].v, arg))
					return false;
	return true;
}

/* An edge of a shape, by number: lines first, then polygon rings */
typedef struct GeoEdgeIter
{
	const GeoShape *shape;
	int			part;			/* line, or polygon * ... */
	int			loop;
	int			index;
} GeoEdgeIter;

/*
 * GeoNextEdge
 *		The next edge of a shape's lines and rings; false at the end.
 */
static bool
GeoNextEdge(GeoEdgeIter *e, const double **a, const double **b)
{
	const GeoShape *s = e->shape;

	while (e->part < s->nlines)
	{
		const GeoLine *line = &s->lines[e->part];

		if (e->index + 1 < line->n)
		{
			*a = line->pts[e->index].v;
			*b = line->pts[e->index + 1].v;
			e->index++;
			return true;
		}
		e->part++;
		e->index = 0;
	}
	while (e->part - s->nlines < s->npolygons)
	{
		const GeoPolygon *polygon = &s->polygons[e->part - s->nlines];

		if (e->loop < polygon->nloops)
		{
			const GeoLoop *loop = &polygon->loops[e->loop];

			if (e->index < loop->n)
			{
				*a = loop->pts[e->index].v;
				*b = loop->pts[(e->index + 1) % loop->n].v;
				e->index++;
				return true;
			}
			e->loop++;
			e->index = 0;
			continue;
		}
		e->part++;
		e->loop = 0;
		e->index = 0;
	}
	return false;
}

static void
GeoEdgeIterInit(GeoEdgeIter *e, const GeoShape *shape)
{
	e->shape = shape;
	e->part = 0;
	e->loop = 0;
	e->index = 0;
}

/*
 * GeoShapeTouchesPoint
 *		Whether a point lies on or in a shape.
 */
static bool
GeoShapeTouchesPoint(const GeoShape *shape, const double *p)
{
	GeoEdgeIter e;
	const double *a;
	const double *b;

	for (int i = 0; i < shape->npoints; i++)
		if (GeoAngle(shape->points[i].v, p) <= GEO_EPSILON)
			return true;
	GeoEdgeIterInit(&e, shape);
	while (GeoNextEdge(&e, &a, &b))
		if (GeoOnEdge(p, a, b))
			return true;
	for (int i = 0; i < shape->npolygons; i++)
		if (GeoPolygonRelation(&shape->polygons[i], p) != GEO_OUTSIDE)
			return true;
	return false;
}

/* GeoForEachVertex callbacks */
static bool
GeoVertexMisses(const double *v, const void *arg)
{
	return !GeoShapeTouchesPoint((const GeoShape *) arg, v);
}

static bool
GeoVertexInRegion(const double *v, const void *arg)
{
	const GeoShape *region = arg;

	for (int i = 0; i < region->npolygons; i++)
		if (GeoPolygonRelation(&region->polygons[i], v) != GEO_OUTSIDE)
			return true;
	return false;
}

/*
 * GeoShapeIntersects
 *		Whether two shapes have a point in common.
 */
bool
GeoShapeIntersects(const GeoShape *a, const GeoShape *b)
{
	GeoEdgeIter ea;
	const double *a1;
	const double *a2;

	if (!GeoForEachVertex(a, GeoVertexMisses, b))
		return true;
	if (!GeoForEachVertex(b, GeoVertexMisses, a))
		return true;
	GeoEdgeIterInit(&ea, a);
	while (GeoNextEdge(&ea, &a1, &a2))
	{
		GeoEdgeIter eb;
		const double *b1;
		const double *b2;

		GeoEdgeIterInit(&eb, b);
		while (GeoNextEdge(&eb, &b1, &b2))
			if (GeoEdgesMeet(a1, a2, b1, b2))
				return true;
	}
	return false;
}

/*
 * GeoShapeWithin
 *		Whether a shape lies inside a region (the polygons of a shape):
 *		every vertex in it and no edge crossing its boundary.
 */
bool
GeoShapeWithin(const GeoShape *shape, const GeoShape *region)
{
	GeoEdgeIter es;
	const double *a;
	const double *b;

	if (!GeoForEachVertex(shape, GeoVertexInRegion, region))
		return false;
	GeoEdgeIterInit(&es, shape);
	while (GeoNextEdge(&es, &a, &b))
	{
		GeoEdgeIter er;
		const double *c;
		const double *d;

		GeoEdgeIterInit(&er, region);
		while (GeoNextEdge(&er, &c, &d))
			if (GeoEdgesCross(a, b, c, d))
				return false;
	}
	return true;
}

/* A spherical cap, for GeoVertexInCap */
typedef struct GeoCap
{
	const double *center;
	double		radius;
} GeoCap;

static bool
GeoVertexInCap(const double *v, const void *arg)
{
	const GeoCap *cap = arg;

	return GeoAngle(v, cap->center) <= cap->radius + GEO_EPSILON;
}

/*
 * GeoShapeWithinCap
 *		Whether every vertex of a shape is within radius (radians) of a
 *		center (a cap smaller than a hemisphere holds the arcs between
 *		them too).
 */
bool
GeoShapeWithinCap(const GeoShape *shape, const GeoPoint *center, double radius)
{
	GeoCap		cap;

	cap.center = center->v;
	cap.radius = radius;
	return GeoForEachVertex(shape, GeoVertexInCap, &cap);
}

/*
 * GeoEdgeDistance
 *		The distance (radians) from a point to an arc.
 */
static double
GeoEdgeDistance(const double *p, const double *a, const double *b)
{
	double		n[3];
	double		raw[3];
	double		q[3];
	double		t[3];
	double		h;

	GeoCross(a, b, n);
	memcpy(raw, n, sizeof(raw));
	if (GeoNormalize(n))
	{
		h = GeoDot(p, n);
		for (int k = 0; k < 3; k++)
			q[k] = p[k] - h * n[k];
		if (GeoNormalize(q))
		{
			GeoCross(a, q, t);
			if (GeoDot(t, n) >= 0)
			{
				GeoCross(q, b, t);
				if (GeoDot(t, n) >= 0)
				{
					/*
					 * The angle to the closest point of the great circle,
					 * p - (p.(a x b)) (a x b) / |a x b|^2, rounded as S2
					 * rounds it (MongoDB projects onto the line)
					 */
					double		k = GeoDot(p, raw) / GeoDot(raw, raw);
					double		c[3];

					for (int i = 0; i < 3; i++)
						c[i] = p[i] - k * raw[i];
					if (GeoNormalize(c))
						return GeoAngle(p, c);
					return asin(Min(fabs(h), 1.0));
				}
			}
		}
	}
	return Min(GeoAngle(p, a), GeoAngle(p, b));
}

/*
 * GeoShapeDistance
 *		The distance (radians) from a point to the nearest point of a shape
 *		(zero inside its polygons).
 */
double
GeoShapeDistance(const GeoShape *shape, const GeoPoint *p)
{
	double		best = INFINITY;
	GeoEdgeIter e;
	const double *a;
	const double *b;

	for (int i = 0; i < shape->npolygons; i++)
		if (GeoPolygonRelation(&shape->polygons[i], p->v) != GEO_OUTSIDE)
			return 0;
	for (int i = 0; i < shape->npoints; i++)
		best = Min(best, GeoAngle(shape->points[i].v, p->v));
	GeoEdgeIterInit(&e, shape);
	while (GeoNextEdge(&e, &a, &b))
		best = Min(best, GeoEdgeDistance(p->v, a, b));
	return best;
}


/* ----------------------------------------------------------------
 *		Planar predicates
 * ----------------------------------------------------------------
 */

/*
 * GeoFlatDistance
 *		The Euclidean distance between two points.
 */
double
GeoFlatDistance(const GeoPoint *a, const GeoPoint *b)
{
	return hypot(a->x - b->x, a->y - b->y);
}

/*
 * GeoFlatInBox
 *		Whether a point is in a box (edges included); lo and hi are the
 *		lower-left and upper-right corners.
 */
bool
GeoFlatInBox(const GeoPoint *p, const GeoPoint *lo, const GeoPoint *hi)
{
	return p->x >= lo->x && p->x <= hi->x && p->y >= lo->y && p->y <= hi->y;
}

/*
 * GeoFlatInPolygon
 *		Whether a point is in a polygon given by its vertices (closed
 *		implicitly), edges included: even-odd ray casting.
 */
bool
GeoFlatInPolygon(const GeoPoint *p, const GeoPoint *pts, int n)
{
	bool		inside = false;

	for (int i = 0, j = n - 1; i < n; j = i++)
	{
		const GeoPoint *a = &pts[j];
		const GeoPoint *b = &pts[i];
		double		cross = (b->x - a->x) * (p->y - a->y) - (b->y - a->y) * (p->x - a->x);

		/* on the edge */
		if (cross == 0 && p->x >= Min(a->x, b->x) && p->x <= Max(a->x, b->x) &&
			p->y >= Min(a->y, b->y) && p->y <= Max(a->y, b->y))
			return true;
		if ((a->y > p->y) != (b->y > p->y))
		{
			double		x = a->x + (p->y - a->y) * (b->x - a->x) / (b->y - a->y);

			if (p->x < x)
				inside = !inside;
		}
	}
	return inside;
}
