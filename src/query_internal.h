/*-------------------------------------------------------------------------
 *
 * query_internal.h
 *	  The compiled form of a MongoDB filter, shared by the compiler
 *	  (query_parse.c) and the matcher (query_match.c).
 *
 * A filter compiles to a tree of QueryNodes, as MongoDB's parser builds a
 * tree of MatchExpressions: logical nodes ($and, $or, $nor, $not) over leaf
 * nodes, each leaf being one operator applied to one dotted path.  Leaves
 * with no path (npath == 0) are the children of a value-form $elemMatch and
 * are applied to one array element at a time.  Every operand is an
 * iterator into the filter's own copy of its bytes, every regular
 * expression is compiled, and every number is converted once, so matching
 * allocates nothing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_QUERY_INTERNAL_H
#define NOSQL_QUERY_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "geo.h"
#include "collation.h"
#include "query.h"

/* Deepest nesting of operators a filter may have */
#define QUERY_MAX_DEPTH				100

/* MongoDB's canonical type brackets the matcher needs by name */
#define QUERY_BRACKET_MISSING		0	/* missing fields sort as undefined */
#define QUERY_BRACKET_NULL			5

/* Bits of QueryNode.u.types beyond the BSON type codes 1 to 19 */
#define QUERY_TYPE_BIT_MINKEY		20
#define QUERY_TYPE_BIT_MAXKEY		21

typedef enum QueryOp
{
	/* logical nodes (children) */
	QUERY_AND,
	QUERY_OR,
	QUERY_NOR,
	QUERY_NOT,
	QUERY_TRUE,
	QUERY_FALSE,
	/* leaves: an operator applied to each value a path reaches */
	QUERY_EQ,
	QUERY_LT,
	QUERY_LTE,
	QUERY_GT,
	QUERY_GTE,
	QUERY_IN,
	QUERY_REGEX,
	QUERY_EXISTS,
	QUERY_TYPE,
	QUERY_MOD,
	QUERY_SIZE,
	QUERY_ELEM_MATCH_OBJECT,	/* children: a filter on each element */
	QUERY_ELEM_MATCH_VALUE,		/* children: path-less leaves */
	QUERY_BITS_ALL_SET,
	QUERY_BITS_ALL_CLEAR,
	QUERY_BITS_ANY_SET,
	QUERY_BITS_ANY_CLEAR,
	QUERY_GEO_WITHIN,			/* u.geo: the region */
	QUERY_GEO_INTERSECTS,		/* u.geo: a GeoJSON geometry */
	QUERY_GEO_NEAR,				/* u.geo: a point and a distance range */
	/* path-less: a JSON Schema the whole document must satisfy */
	QUERY_JSON_SCHEMA,
	QUERY_EXPR,					/* $expr: an aggregation expression (expr.c) */
	/* path-less: $text, decided by the text hook (u.text) */
	QUERY_TEXT
} QueryOp;

/* One component of a dotted path, pointing into the filter's bytes */
typedef struct QueryPathPart
{
	const char *name;
	int			len;
	bool		is_index;		/* all digits: may also index an array */
} QueryPathPart;

/* A compiled regular expression and what regex-valued fields compare to */
typedef struct QueryRegex
{
	pcre2_code *code;
	pcre2_match_data *match_data;
	pcre2_match_context *match_context;	/* the filter's: limits backtracking */
	const char *pattern;		/* NUL-terminated copies */
	const char *options;
} QueryRegex;

/* Operand of $eq, $lt, $lte, $gt, $gte */
typedef struct QueryCompare
{
	bson_iter_t value;
	bson_type_t type;
	int			bracket;		/* BsonCanonicalTypeOrder(type) */
	bool		is_nan;
	uint32_t	string_len;		/* for strings and symbols */
	const BsonCollation *collation; /* the filter's (NULL: simple) */
} QueryCompare;

/*
 * One operand in an array of them: libbson gives bson_iter_t an alignment
 * (128) larger than its size (80), so a plain array of iterators would
 * misalign every other element; a struct is padded to its alignment.
 */
typedef struct QueryValue
{
	bson_iter_t it;
} QueryValue;

/* Operand of $in ($nin is NOT over $in) */
typedef struct QueryIn
{
	int			nvalues;
	QueryValue *values;			/* sorted by BsonCompareValues, no regexes */
	int			nregexes;
	QueryRegex *regexes;
	bool		has_null;		/* null also matches a missing field */
	const BsonCollation *collation; /* the filter's, which sorted values */
} QueryIn;

/* Operand of the four bit tests */
typedef struct QueryBits
{
	uint64_t	mask;			/* for numbers: bits 64 and above map to 63 */
	int			npositions;		/* for binary data: the positions tested, */
	uint32_t   *positions;
	const uint8_t *mask_bytes;	/* or, for a binary mask, its bytes */
	uint32_t	mask_len;
} QueryBits;

/* The shapes of $geoWithin (and the point of $near) */
typedef enum QueryGeoKind
{
	QUERY_GEO_GEOMETRY,			/* GeoJSON Polygon or MultiPolygon, or any
								 * geometry for $geoIntersects */
	QUERY_GEO_BOX,				/* $box: flat */
	QUERY_GEO_POLYGON,			/* $polygon: flat */
	QUERY_GEO_CENTER,			/* $center: flat circle */
	QUERY_GEO_CENTER_SPHERE,	/* $centerSphere: spherical cap */
	QUERY_GEO_NEAR_FLAT,		/* $near [x, y]: planar distances */
	QUERY_GEO_NEAR_SPHERE		/* $nearSphere [x, y] (radians) or any
								 * GeoJSON point (meters) */
} QueryGeoKind;

/* Operand of $geoWithin, $geoIntersects, $near and $nearSphere */
typedef struct QueryGeo
{
	QueryGeoKind kind;
	GeoShape	shape;			/* GEOMETRY */
	GeoPoint	lo;				/* BOX: lower-left and upper-right corners */
	GeoPoint	hi;
	int			npoints;		/* POLYGON */
	GeoPoint   *points;
	GeoPoint	center;			/* CENTER, CENTER_SPHERE and the NEARs */
	double		radius;			/* CENTER (flat units), CENTER_SPHERE (radians) */
	bool		geojson;		/* NEAR: the point was GeoJSON (meters) */
	bool		sphere;			/* NEAR: $nearSphere */
	double		min_distance;	/* NEAR: in the query's units */
	double		max_distance;
	const char *dotted;			/* NEAR: the path as written */
} QueryGeo;

/* Operand of $text: the parsed query and the hook's state */
typedef struct QueryText
{
	BsonTextQuery query;
	void	   *state;			/* BsonFilterSetTextState */
} QueryText;

typedef struct QueryNode QueryNode;
typedef struct QuerySchema QuerySchema;

struct QueryNode
{
	QueryOp		op;
	int			npath;			/* 0: a path-less leaf of $elemMatch */
	QueryPathPart *path;
	int			nchildren;
	QueryNode **children;
	union
	{
		QueryCompare cmp;
		QueryIn		in;
		QueryRegex	regex;
		uint32_t	types;		/* bit n: BSON type n; MinKey, MaxKey above */
		struct
		{
			int64_t		divisor;
			int64_t		remainder;
		}			mod;
		int64_t		size;
		QueryBits	bits;
		const QuerySchema *schema;	/* QUERY_JSON_SCHEMA (query_schema.c) */
		QueryGeo   *geo;
		struct QueryText *text; /* QUERY_TEXT */
		struct
		{
			struct AggExpr *expr;
			int			nslots; /* the variable slots it needs */
			const struct BsonCollation *collation;	/* the filter's */
		}			expr;		/* QUERY_EXPR */
	}			u;
};

/* A block of the arena every part of a compiled filter lives in */
typedef struct QueryBlock
{
	struct QueryBlock *next;
	size_t		used;
	size_t		size;
	/* data follows, aligned to QUERY_ALIGN (query_parse.c) */
} QueryBlock;

/* The compiled filter: BsonFilter of query.h */
struct BsonFilter
{
	QueryNode  *root;
	uint8_t    *data;			/* copy of the filter's bytes */
	uint32_t	len;
	QueryBlock *blocks;			/* the arena */
	const QueryNode *near;		/* the $near or $nearSphere leaf, if any */
	int			nregexes;		/* every compiled regex, for BsonFilterFree */
	int			maxregexes;
	QueryRegex **regexes;
	pcre2_general_context *general_context;
	pcre2_compile_context *compile_context;
	pcre2_match_context *match_context;
	const BsonCollation *collation; /* how strings compare (NULL: simple) */
	struct QueryText *text;		/* the $text, if any */
	struct AggExprScope *expr_scope;	/* of the $expr expressions, or NULL */
};

/* MongoDB's location codes of regular expression errors */
#define MONGO_REGEX_OPTIONS_TWICE_REGEX		51074
#define MONGO_REGEX_OPTIONS_TWICE_OPTIONS	51075
#define MONGO_REGEX_INVALID					51091
#define MONGO_REGEX_BAD_OPTION				51108

/* State of one compilation */
typedef struct QueryParser
{
	BsonFilter *filter;
	BsonQueryError *error;
	int			depth;
	int			no_near;		/* inside $or, $nor, $not or $elemMatch */
	bool		has_near;
	int			no_text;		/* inside $nor, $not or $elemMatch */
	int			in_or;			/* inside $or */
	bool		has_text;
	int			allowed;		/* BSON_FILTER_ALLOW_* bits */
} QueryParser;

/* A path, shared by the leaves of one field */
typedef struct QueryPath
{
	const char *dotted;			/* as written, for messages ("" if none) */
	int			npath;
	QueryPathPart *parts;
} QueryPath;

/* query_parse.c: the compiler's arena, errors and nodes */
extern void *QueryAlloc(BsonFilter *filter, size_t size);
extern char *QueryStrdup(BsonFilter *filter, const char *s, size_t len);
extern void *QueryFail(QueryParser *parser, int code, const char *format,...)
			pg_attribute_printf(3, 4);
extern void *QueryFailValue(QueryParser *parser, int code,
							const bson_iter_t *value, const char *format,...)
			pg_attribute_printf(4, 5);
extern QueryNode *QueryNewNode(QueryParser *parser, QueryOp op,
							   const QueryPath *path);
extern QueryNode *QueryNewNot(QueryParser *parser, QueryNode *child);
extern bool QueryEnter(QueryParser *parser);
extern int	QueryCountElements(const bson_iter_t *container);
extern bool QueryIsExpressionDocument(const bson_iter_t *value,
									  bool allow_incomplete_dbref);

/* query_operand.c: the operands of leaf operators */
extern bool QueryTruthy(const bson_iter_t *it);
extern QueryNode *QueryNewCompare(QueryParser *parser, QueryOp op,
								  const QueryPath *path,
								  const bson_iter_t *operand);
extern QueryNode *QueryNewRegexNode(QueryParser *parser, const QueryPath *path,
									const bson_iter_t *value);
extern QueryNode *QueryParseRegexDocument(QueryParser *parser,
										  const QueryPath *path,
										  const bson_iter_t *ops);
extern QueryNode *QueryParseIn(QueryParser *parser, const QueryPath *path,
							   const char *name, const bson_iter_t *operand);
extern QueryNode *QueryParseSize(QueryParser *parser, const QueryPath *path,
								 const bson_iter_t *operand);
extern QueryNode *QueryParseMod(QueryParser *parser, const QueryPath *path,
								const bson_iter_t *operand);
extern QueryNode *QueryParseType(QueryParser *parser, const QueryPath *path,
								 const bson_iter_t *operand);
extern bool QueryCompileRegex(QueryParser *parser, const char *pattern,
							  uint32_t plen, const char *options,
							  uint32_t olen, QueryRegex *regex);
extern bool QueryMatchRegexString(const QueryRegex *regex, const char *str,
								  uint32_t len);
extern bool QueryLookupTypeAlias(const char *alias, uint32_t *types);
extern QueryNode *QueryParseBits(QueryParser *parser, QueryOp op,
								 const QueryPath *path, const char *name,
								 const bson_iter_t *operand);

/* query_schema.c: $jsonSchema */
extern QueryNode *QueryParseJsonSchema(QueryParser *parser,
									   const bson_iter_t *operand);
extern bool QuerySchemaMatchDocument(const QuerySchema *schema,
									 const uint8_t *data, uint32_t len);

/* query_geo.c: the geospatial operators */
extern QueryNode *QueryParseGeoWithin(QueryParser *parser, const QueryPath *path,
									  const bson_iter_t *operand);
extern QueryNode *QueryParseGeoIntersects(QueryParser *parser, const QueryPath *path,
										  const bson_iter_t *operand);
extern QueryNode *QueryParseNear(QueryParser *parser, const QueryPath *path,
								 const bson_iter_t *ops, const bson_iter_t *it);
extern bool QueryMatchGeo(const QueryNode *node, const bson_iter_t *value);
extern double QueryGeoDistance(const QueryGeo *geo, const bson_iter_t *value);

/* query_parse.c: $text */
extern QueryNode *QueryParseText(QueryParser *parser, const bson_iter_t *operand);

/* query_match.c: every value a leaf's path reaches in a document */
typedef void (*QueryValueFn) (const bson_iter_t *value, void *arg);
extern void QueryWalkValues(const QueryNode *node, const uint8_t *data,
							uint32_t len, QueryValueFn fn, void *arg);

/* query_match.c: the match of a node against a whole document */
extern bool QueryMatchDocument(const QueryNode *node, const uint8_t *data,
							   uint32_t len, int32_t *position);

/*
 * Whether a decimal128 is NaN (shared by the compiler, which checks
 * operands, and the matcher, which checks values).
 */
static inline bool
QueryDecimalIsNaN(const bson_decimal128_t *dec)
{
	return ((dec->high >> 58) & 0x1F) == 0x1F;
}

/*
 * The bit of QueryNode.u.types that stands for a BSON type (0: none).
 */
static inline int
QueryTypeBit(bson_type_t type)
{
	if (type == BSON_TYPE_MINKEY)
		return QUERY_TYPE_BIT_MINKEY;
	if (type == BSON_TYPE_MAXKEY)
		return QUERY_TYPE_BIT_MAXKEY;
	return (int) type < QUERY_TYPE_BIT_MINKEY ? (int) type : 0;
}

/* How a number converts to an int64 */
typedef enum QueryIntStatus
{
	QUERY_INT_EXACT,			/* an integer in range */
	QUERY_INT_FRACTION,			/* in range once truncated toward zero */
	QUERY_INT_RANGE,			/* infinite or outside int64 */
	QUERY_INT_NAN,
	QUERY_INT_NOT_NUMBER
} QueryIntStatus;

/* query_match.c: truncate any number to an int64 (*out set unless RANGE/NAN) */
extern QueryIntStatus QueryNumberToInt64(const bson_iter_t *it, int64_t *out);

#endif							/* NOSQL_QUERY_INTERNAL_H */
