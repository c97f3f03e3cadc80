/*-------------------------------------------------------------------------
 *
 * geo.h
 *	  Geometry for MongoDB's geospatial query operators: GeoJSON and legacy
 *	  coordinate pairs read from BSON, spherical predicates (points on the
 *	  unit sphere, great-circle edges) and their planar counterparts.
 *
 * Pure code (libbson and PostgreSQL's src/common only), built into the
 * server and, with -DFRONTEND, into the unit tests and fuzz targets.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_GEO_H
#define NOSQL_GEO_H

#include <bson/bson.h>

/* The Earth's radius MongoDB uses to turn radians into meters */
#define GEO_EARTH_RADIUS_METERS		6378100.0

/* The CRS of "big" polygons: any size, interior on the left of the ring */
#define GEO_CRS_STRICT_WINDING		"urn:x-mongodb:crs:strictwinding:EPSG:4326"

/*
 * A point: as written (x and y, or longitude and latitude in degrees) and,
 * for spherical work, as a unit vector.
 */
typedef struct GeoPoint
{
	double		x;
	double		y;
	double		v[3];
} GeoPoint;

/* A closed ring of a polygon (the closing vertex is not repeated) */
typedef struct GeoLoop
{
	int			n;
	GeoPoint   *pts;
	bool		left_inside;	/* the interior is on the left of the ring */
	double		ref[3];			/* a point just left of the first edge */
} GeoLoop;

/* A polygon: its shell, then its holes */
typedef struct GeoPolygon
{
	int			nloops;
	GeoLoop    *loops;
} GeoPolygon;

/* A line string */
typedef struct GeoLine
{
	int			n;
	GeoPoint   *pts;
} GeoLine;

/* The GeoJSON geometry types */
typedef enum GeoType
{
	GEO_POINT,
	GEO_LINESTRING,
	GEO_POLYGON,
	GEO_MULTIPOINT,
	GEO_MULTILINESTRING,
	GEO_MULTIPOLYGON,
	GEO_COLLECTION
} GeoType;

/*
 * A geometry flattened into its parts: points, lines and polygons (a
 * GeometryCollection contributes the parts of each member).
 */
typedef struct GeoShape
{
	GeoType		type;
	bool		big;			/* strict-winding CRS: may exceed a hemisphere */
	int			npoints;
	GeoPoint   *points;
	int			nlines;
	GeoLine    *lines;
	int			npolygons;
	GeoPolygon *polygons;
} GeoShape;

/* Where the parts of a shape are allocated */
typedef struct GeoAllocator
{
	void	   *(*alloc) (void *arg, size_t size);	/* zeroed memory */
	void	   *arg;
} GeoAllocator;

/*
 * Scratch memory for shapes read from documents: every chunk is palloc'd
 * and released together by GeoScratchReset.
 */
typedef struct GeoScratch
{
	void	   *chunks;
} GeoScratch;

extern void GeoScratchInit(GeoScratch *scratch, GeoAllocator *allocator);
extern void GeoScratchReset(GeoScratch *scratch);

/* Numbers and points */
extern bool GeoNumber(const bson_iter_t *it, double *out);
extern void GeoPointSet(GeoPoint *p, double x, double y);
extern bool GeoLegacyPoint(const bson_iter_t *it, bool exactly_two, GeoPoint *out);
extern bool GeoPointIsLonLat(const GeoPoint *p);

/*
 * Read a GeoJSON object (the iterator is on a document).  With strict, the
 * geometry is validated as MongoDB validates query geometries (ranges,
 * closed rings, no self-intersection, holes inside their shell) and
 * errbuf receives the reason of a failure; without, only what is needed
 * to use it is checked.
 */
extern bool GeoParseGeoJSON(const bson_iter_t *it, const GeoAllocator *allocator,
							bool strict, GeoShape *out, char *errbuf, size_t errlen);

/*
 * A value of a document as a geometry: a GeoJSON object or a legacy
 * coordinate pair ([x, y] or {x: .., y: ..}).  *is_point tells a point
 * (possibly legacy) from other geometries.
 */
extern bool GeoParseValue(const bson_iter_t *value, const GeoAllocator *allocator,
						  GeoShape *out, bool *is_point, GeoPoint *point);

/* Spherical predicates */
extern double GeoSphereDistance(const GeoPoint *a, const GeoPoint *b);
extern bool GeoShapeWithin(const GeoShape *shape, const GeoShape *region);
extern bool GeoShapeIntersects(const GeoShape *a, const GeoShape *b);
extern bool GeoShapeWithinCap(const GeoShape *shape, const GeoPoint *center,
							  double radius);
extern double GeoShapeDistance(const GeoShape *shape, const GeoPoint *p);
extern bool GeoPolygonContains(const GeoPolygon *polygon, const GeoPoint *p);

/* Planar predicates */
extern double GeoFlatDistance(const GeoPoint *a, const GeoPoint *b);
extern bool GeoFlatInBox(const GeoPoint *p, const GeoPoint *lo, const GeoPoint *hi);
extern bool GeoFlatInPolygon(const GeoPoint *p, const GeoPoint *pts, int n);

#endif							/* NOSQL_GEO_H */
