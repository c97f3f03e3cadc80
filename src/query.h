/*-------------------------------------------------------------------------
 *
 * query.h
 *	  MongoDB query filters: compiled once, matched against many documents.
 *
 * Pure code (libbson, PCRE2 and PostgreSQL's src/common only), built into
 * the server and, with -DFRONTEND, into the unit tests and fuzz targets.
 * Memory comes from palloc (the caller's current memory context).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_QUERY_H
#define NOSQL_QUERY_H

#include <bson/bson.h>

/* MongoDB error codes the filter compiler reports */
#define MONGO_BAD_VALUE				2
#define MONGO_FAILED_TO_PARSE		9
#define MONGO_TYPE_MISMATCH			14
#define MONGO_NO_SUCH_KEY			4	/* $text without $search */
#define MONGO_NOT_IMPLEMENTED		238 /* $expr: not yet */
#define MONGO_NO_QUERY_EXECUTION_PLANS	291 /* $near without a geospatial index */
#define MONGO_NEAR_MIN_DISTANCE_TYPE	16893	/* legacy $minDistance not a number */
#define MONGO_NEAR_MIN_DISTANCE_RANGE	16894	/* legacy $minDistance negative */
#define MONGO_NEAR_MAX_DISTANCE_TYPE	16895	/* legacy $maxDistance not a number */
#define MONGO_NEAR_MAX_DISTANCE_RANGE	16896	/* legacy $maxDistance negative */
#define MONGO_NEAR_NOT_ALONE		34413	/* $near with other operators */
#define MONGO_QUERY_FEATURE_NOT_ALLOWED	224
#define MONGO_GEO_NEAR_NOT_ALLOWED	5626500

/*
 * The special operators a context may forbid, as MongoDB's
 * MatchExpressionParser::AllowedFeatures: array filters (and other
 * filters MongoDB parses with kBanAllSpecialFeatures) allow none of them.
 * A forbidden one is refused with MongoDB's error: BadValue (2) for $text
 * and $where, QueryFeatureNotAllowed (224) for $expr and $jsonSchema, and
 * 5626500 for $near and $nearSphere.
 */
#define BSON_FILTER_ALLOW_TEXT			0x01
#define BSON_FILTER_ALLOW_GEO_NEAR		0x02
#define BSON_FILTER_ALLOW_WHERE			0x04
#define BSON_FILTER_ALLOW_EXPR			0x08
#define BSON_FILTER_ALLOW_JSON_SCHEMA	0x10
#define BSON_FILTER_ALLOW_ALL			0x1F

/* An error in MongoDB's terms: code, codeName and message (errmsg) */
typedef struct BsonQueryError
{
	int			code;
	const char *code_name;
	char	   *message;		/* palloc'd */
} BsonQueryError;

/*
 * Record an error (bson_error.c); with first_wins an earlier error stays.
 * Returns false.
 */
extern bool BsonErrorSetV(BsonQueryError *error, bool first_wins, int code,
						  const char *code_name, const char *format, va_list args)
			pg_attribute_printf(5, 0);

typedef struct BsonFilter BsonFilter;

/*
 * Compile a filter document given as BSON bytes.  Returns NULL and fills
 * *error when the filter is invalid, with MongoDB's error code and message.
 */
extern BsonFilter *BsonFilterCompile(const uint8_t *data, uint32_t len,
									 BsonQueryError *error);

/*
 * BsonFilterCompile allowing only some special operators (allowed: a set of
 * BSON_FILTER_ALLOW_* bits).
 */
extern BsonFilter *BsonFilterCompileRestricted(const uint8_t *data,
											   uint32_t len, int allowed,
											   BsonQueryError *error);

/*
 * As BsonFilterCompile, with strings compared under a collation (see
 * collation.h; NULL is the simple collation) by every comparison and
 * equality except $regex.  The collation must outlive the filter.
 */
struct BsonCollation;
extern BsonFilter *BsonFilterCompileCollated(const uint8_t *data, uint32_t len,
											 const struct BsonCollation *collation,
											 BsonQueryError *error);

/* Both: a collation and a set of allowed special operators */
extern BsonFilter *BsonFilterCompileFull(const uint8_t *data, uint32_t len,
										 const struct BsonCollation *collation,
										 int allowed, BsonQueryError *error);

/* Whether a document (BSON bytes) matches a compiled filter */
extern bool BsonFilterMatches(const BsonFilter *filter, const uint8_t *doc,
							  uint32_t len);

/*
 * As BsonFilterMatches, also giving the index of the array element that
 * made the match, for the positional $ operator of projections and updates
 * (-1 when no array was involved).  This is MongoDB's "elemMatchKey": the
 * element of the outermost array the matching predicate's path traversed,
 * or the element an $elemMatch accepted; when several predicates of an
 * $and traverse arrays, the last one to match wins, as in MongoDB.  No
 * position comes through $or, $nor or $not, except through an $or that
 * MongoDB rewrites as its only branch or as an $in (equalities on one
 * path).
 */
extern bool BsonFilterMatchesWithPosition(const BsonFilter *filter,
										  const uint8_t *doc, uint32_t len,
										  int32_t *array_index);

/*
 * The $near or $nearSphere of a filter: the find command orders by its
 * distance and needs a geospatial index on its path.
 */
typedef struct BsonNearSpec
{
	const char *path;			/* dotted, owned by the filter */
	bool		geojson;		/* a GeoJSON point: needs a 2dsphere index */
	bool		spherical;		/* $nearSphere */
	double		x;				/* the point */
	double		y;
	double		min_distance;	/* meters (GeoJSON), radians ($nearSphere */
	double		max_distance;	/* [x, y]) or coordinate units ($near [x, y]) */
	const void *node;			/* the filter's leaf */
} BsonNearSpec;

extern bool BsonFilterGetNear(const BsonFilter *filter, BsonNearSpec *out);

/*
 * The distance from a document to the point of a $near: of the nearest
 * geometry the path reaches, in the units of the query; infinity when it
 * reaches none.
 */
extern double BsonNearDistance(const BsonNearSpec *spec, const uint8_t *doc,
							   uint32_t len);

/*
 * The value of a document that is nearest to the point of a $near (the
 * location $geoNear's includeLocs reports); false when there is none.
 * The value points into the document.
 */
extern bool BsonNearLocation(const BsonNearSpec *spec, const uint8_t *doc, uint32_t len,
							 bson_value_t *out);

/*
 * The $text of a filter, as MongoDB's TextMatchExpression: the search
 * string and its options.  The filter engine only parses it; matching is
 * the text hook's (the server registers one that tokenizes and stems with
 * PostgreSQL's text search).  or_with_others: the $text is a branch of an
 * $or with branches that are not $text (MongoDB plans that only when
 * those branches can use indexes).
 */
typedef struct BsonTextQuery
{
	const char *search;			/* owned by the filter, NUL-free copy */
	uint32_t	search_len;
	const char *language;		/* NULL: the index's default */
	bool		case_sensitive;
	bool		diacritic_sensitive;
	bool		or_with_others;
} BsonTextQuery;

/*
 * The hook that decides whether a document matches a $text: state is what
 * BsonFilterSetTextState gave the filter (NULL when nothing was set).
 */
typedef bool (*BsonTextMatchHook) (const BsonTextQuery *query, void *state,
								   const uint8_t *doc, uint32_t len);

/* Register the text matcher (one per process); NULL: $text matches nothing */
extern void BsonFilterSetTextHook(BsonTextMatchHook hook);

/*
 * What the matcher does with an error of a $expr evaluation (it has no
 * error result): the server raises it; without a hook the document does
 * not match.
 */
typedef void (*BsonExprErrorHook) (const BsonQueryError *error);
extern void BsonFilterSetExprErrorHook(BsonExprErrorHook hook);

/* Whether a filter has a $text, and its parameters */
extern bool BsonFilterGetText(const BsonFilter *filter, BsonTextQuery *out);

/* The state handed to the text hook when this filter matches */
extern void BsonFilterSetTextState(BsonFilter *filter, void *state);

/* Release a compiled filter (including its compiled regular expressions) */
extern void BsonFilterFree(BsonFilter *filter);

#endif							/* NOSQL_QUERY_H */
