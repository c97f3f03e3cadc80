/*-------------------------------------------------------------------------
 *
 * projection.c
 *	  MongoDB find projections: compiling a projection document and
 *	  applying it to documents.
 *
 * Design note
 * -----------
 * A projection compiles to a tree of ProjNodes, one per path component, as
 * MongoDB's parser builds its projection AST: interior nodes (PROJ_PATH)
 * hold the children of a dotted prefix, and leaves say what happens to the
 * field: included, excluded, sliced ($slice), reduced to its first element
 * matching a filter ($elemMatch), reduced to the element the query matched
 * (positional "a.$"), or computed (a literal, a "$path", {$literal: x}, the
 * expression form of $slice).  Two leaves on one path, or a leaf on the
 * prefix of another, are path collisions (31249, 31250), as in MongoDB.
 *
 * The projection is an inclusion (keep only what is named) or an exclusion
 * (keep everything else).  The first non-_id field that includes or
 * excludes decides; a field that contradicts it is an error (31253,
 * 31254), and so is a computed field in an exclusion (31252).  A positional
 * or a computed field makes an inclusion; $elemMatch makes one when nothing
 * else decided, and $slice never decides.  _id is included unless the
 * projection names it.
 *
 * Applying follows MongoDB's projection executor, in four passes over the
 * document, each building a new one:
 *
 *	1. include or exclude.  Inclusion walks the input in document order,
 *	   keeping the named fields; through an array it applies the subtree to
 *	   each element that is a document or an array and drops the scalars
 *	   ({"a.b": 1} on {a: [1, {b: 2, c: 3}]} gives {a: [{b: 2}]}), and a
 *	   dotted path over a scalar drops the field.  Exclusion keeps scalars
 *	   and everything not named.  Sliced and positional paths count as
 *	   inclusions here.
 *	2. computed fields, in projection order: an existing field is replaced
 *	   where it stands, a new one is appended; a computed child below a
 *	   field that is not a document replaces it with a document of the
 *	   computed values, and through arrays applies to every element.
 *	   $elemMatch is computed here from the input document: the field
 *	   becomes an array of its first matching element, or disappears.
 *	3. $slice, on the projected document, through documents and arrays of
 *	   documents to the array at the end of the path.
 *	4. the positional operator, on the projected document: the first array
 *	   on the path becomes the array of its element at the query's match
 *	   position (51246 if the query matched no array element, 51247 if the
 *	   position is past the end of this array).
 *
 * $elemMatch compiles its argument once with the filter engine, as the
 * filter {x: {$elemMatch: arg}}, and finds the first matching element by
 * matching {x: <array>} with BsonFilterMatchesWithPosition.  Aggregation
 * expressions beyond literals, "$path" references, $$ROOT/$$CURRENT/
 * $$REMOVE, $literal and the expression form of $slice report
 * NotImplemented (238), as does $meta in find (a pipeline's $project
 * evaluates it with the expression engine).
 *
 * Everything a compiled projection owns comes from a chain of palloc'd
 * chunks freed by BsonProjectionFree (or with the memory context).
 *
 * IDENTIFICATION
 *	  src/projection.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "lib/stringinfo.h"

#include "bson_compare.h"
#include "bson_json.h"
#include "expr.h"
#include "projection.h"
#include "pure.h"
#include "query_internal.h"

/* Deepest nesting of projection objects and expressions */
#define PROJ_MAX_DEPTH				100
/* Longest dotted path, in components (MongoDB's FieldPath limit) */
#define PROJ_MAX_PATH				200
/* Deepest nesting of arrays and documents walked while applying */
#define PROJ_MAX_APPLY_DEPTH		1000

/* MongoDB's error codes of projections */
#define PROJ_ERR_TOO_LONG			15
#define PROJ_ERR_UNKNOWN_EXPRESSION	31325
#define MONGO_INVALID_PIPELINE_OPERATOR_CODE	168

static bool ProjIsExpressionName(const char *name);
#define PROJ_ERR_EMPTY_COMPONENT	15998
#define PROJ_ERR_MULTI_FIELD_EXPR	15983
#define PROJ_ERR_DOLLAR_FIELD		16410
#define PROJ_ERR_BARE_DOLLAR		16872
#define PROJ_ERR_UNDEFINED_VAR		17276
#define PROJ_ERR_SLICE_SYNTAX		28667
#define PROJ_ERR_SLICE_ARG1			28724
#define PROJ_ERR_SLICE_ARG2			28725
#define PROJ_ERR_SLICE_ARG2_INT		28726
#define PROJ_ERR_SLICE_ARG3			28727
#define PROJ_ERR_SLICE_ARG3_INT		28728
#define PROJ_ERR_SLICE_ARG3_POS		28729
#define PROJ_ERR_PATH_PREFIX		31249
#define PROJ_ERR_PATH_SAME			31250
#define PROJ_ERR_EXPR_IN_EXCLUSION	31252
#define PROJ_ERR_INCLUDE_IN_EXCL	31253
#define PROJ_ERR_EXCLUDE_IN_INCL	31254
#define PROJ_ERR_POS_THEN_ELEM		31255
#define PROJ_ERR_ELEM_THEN_POS		31256
#define PROJ_ERR_POS_OBJECT			31271
#define PROJ_ERR_ELEM_ARG			31274
#define PROJ_ERR_ELEM_NESTED		31275
#define PROJ_ERR_POS_TWICE			31276
#define PROJ_ERR_POS_LITERAL		31308
#define PROJ_ERR_POS_MIDDLE			31394
#define PROJ_ERR_POS_EXCLUSION		31395
#define PROJ_ERR_EMPTY_PATH			40352
#define PROJ_ERR_TRAILING_DOT		40353
#define PROJ_ERR_POS_NO_MATCH		51246
#define PROJ_ERR_POS_MISMATCH		51247
#define PROJ_ERR_EMPTY_SUBOBJECT	51270
#define PROJ_ERR_GEO_NEAR			5626500

/* A dotted path, split */
typedef struct ProjPath
{
	int			nparts;
	const char **parts;			/* NUL-terminated components */
	const char *dotted;			/* as a whole, for messages */
} ProjPath;

typedef enum ProjExprKind
{
	PROJ_EXPR_CONSTANT,
	PROJ_EXPR_PATH,				/* "$a.b" */
	PROJ_EXPR_ROOT,				/* "$$ROOT", "$$CURRENT" */
	PROJ_EXPR_REMOVE,			/* "$$REMOVE" */
	PROJ_EXPR_ARRAY,
	PROJ_EXPR_OBJECT,
	PROJ_EXPR_SLICE,			/* {$slice: [array, n]} or [array, skip, n] */
	PROJ_EXPR_AGG				/* any other operator: the expression engine */
} ProjExprKind;

/* A (small) aggregation expression */
typedef struct ProjExpr
{
	ProjExprKind kind;
	bson_value_t constant;		/* CONSTANT: points into the spec's copy */
	ProjPath	path;			/* PATH */
	int			nargs;			/* ARRAY, OBJECT, SLICE */
	struct ProjExpr **args;
	const char **names;			/* OBJECT: the field names */
	AggExpr    *agg;			/* AGG */
} ProjExpr;

typedef enum ProjNodeKind
{
	PROJ_PATH,					/* interior: the children of a prefix */
	PROJ_INCLUDE,
	PROJ_EXCLUDE,
	PROJ_SLICE,
	PROJ_ELEM_MATCH,
	PROJ_POSITIONAL,
	PROJ_COMPUTED
} ProjNodeKind;

typedef struct ProjNode ProjNode;

struct ProjNode
{
	ProjNodeKind kind;
	const char *name;
	int			nchildren;		/* PROJ_PATH, in projection order */
	int			maxchildren;
	ProjNode  **children;
	bool		has_computed;	/* PROJ_PATH: computed or $elemMatch below */
	ProjExpr   *expr;			/* PROJ_COMPUTED */
	BsonFilter *filter;			/* PROJ_ELEM_MATCH */
};

/* A $slice in find syntax */
typedef struct ProjSlice
{
	ProjPath	path;
	bool		has_skip;
	int32		skip;
	int32		limit;			/* without skip: negative takes from the end */
} ProjSlice;

/* One palloc'd chunk a compiled projection owns */
typedef struct ProjChunk
{
	struct ProjChunk *next;
} ProjChunk;

#define PROJ_CHUNK_HEADER	MAXALIGN(sizeof(ProjChunk))

struct BsonProjection
{
	uint8_t    *spec;			/* copy of the projection's bytes */
	uint32_t	len;
	ProjNode   *root;
	bool		inclusion;
	int			nslices;
	int			maxslices;
	ProjSlice **slices;
	ProjPath   *positional;		/* the path before ".$", or NULL */
	int			nfilters;
	int			maxfilters;
	BsonFilter **filters;		/* of every $elemMatch, for BsonProjectionFree */
	ProjChunk  *chunks;
	const BsonCollation *collation; /* of the $elemMatch filters */
	AggExprScope *scope;		/* of the operator expressions, or NULL */
};

typedef enum ProjType
{
	PROJ_TYPE_UNKNOWN,
	PROJ_TYPE_INCLUSION,
	PROJ_TYPE_EXCLUSION
} ProjType;

/* State of one compilation */
typedef struct ProjParser
{
	BsonProjection *proj;
	BsonQueryError *error;
	ProjType	type;
	bool		id_specified;	/* a path starting with _id was given */
	bool		id_included;	/* {_id: true} */
	bool		has_elem_match;
	BsonProjectionMode mode;
} ProjParser;

/* What a pass 3 or 4 rewrite does at the end of its path */
typedef struct ProjRewrite
{
	const ProjPath *path;
	const ProjSlice *slice;		/* NULL: positional */
	int32_t		position;
	BsonQueryError *error;
} ProjRewrite;

/* The empty document, for computed fields over nothing */
static const uint8_t proj_empty_doc[5] = {5, 0, 0, 0, 0};


static bool ProjParseObject(ProjParser *pp, const ProjPath *prefix,
							bson_iter_t *it, int depth);
static ProjExpr *ProjParseExpr(ProjParser *pp, const bson_iter_t *it, int depth);
static int	ProjEval(const BsonProjection *proj, const ProjExpr *expr,
					 const uint8_t *root, uint32_t rootlen, bson_t *out,
					 const char *key, int keylen, BsonQueryError *error,
					 int depth);
static bool ProjComputeDocument(const BsonProjection *proj, const ProjNode *node,
								const uint8_t *root, uint32_t rootlen,
								const uint8_t *data, uint32_t len, bson_t *out,
								BsonQueryError *error, int depth);
static bool ProjRewriteDocument(const ProjRewrite *rw, int k, const uint8_t *data,
								uint32_t len, bson_t *out, int depth);


/* ----------------------------------------------------------------
 *		Memory and errors
 * ----------------------------------------------------------------
 */

/*
 * ProjAlloc
 *		Zeroed memory owned by the projection (freed by BsonProjectionFree).
 */
static void *
ProjAlloc(BsonProjection *proj, size_t size)
{
	ProjChunk  *chunk = palloc0(PROJ_CHUNK_HEADER + size);

	chunk->next = proj->chunks;
	proj->chunks = chunk;
	return (char *) chunk + PROJ_CHUNK_HEADER;
}

/*
 * ProjStrdup
 *		A NUL-terminated copy of len bytes, owned by the projection.
 */
static char *
ProjStrdup(BsonProjection *proj, const char *s, size_t len)
{
	char	   *copy = ProjAlloc(proj, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

/*
 * ProjGrow
 *		An array of n pointers with room for one more: the same array, or a
 *		bigger copy owned by the projection (the old one stays in the chunk
 *		chain until the end).
 */
static void *
ProjGrow(BsonProjection *proj, void *array, int n, int *max)
{
	void	   *bigger;

	if (n < *max)
		return array;
	*max = Max(4, *max * 2);
	bigger = ProjAlloc(proj, sizeof(void *) * *max);
	if (n > 0)
		memcpy(bigger, array, sizeof(void *) * n);
	return bigger;
}

/*
 * ProjCodeName
 *		MongoDB's codeName of an error code.
 */
static const char *
ProjCodeName(int code)
{
	static const struct
	{
		int			code;
		const char *name;
	}			names[] = {
		{MONGO_BAD_VALUE, "BadValue"},
		{MONGO_FAILED_TO_PARSE, "FailedToParse"},
		{MONGO_TYPE_MISMATCH, "TypeMismatch"},
		{PROJ_ERR_TOO_LONG, "Overflow"},
		{MONGO_INVALID_PIPELINE_OPERATOR_CODE, "InvalidPipelineOperator"},
		{MONGO_NOT_IMPLEMENTED, "NotImplemented"},
		{PROJ_ERR_EMPTY_COMPONENT, "Location15998"},
		{PROJ_ERR_MULTI_FIELD_EXPR, "Location15983"},
		{PROJ_ERR_DOLLAR_FIELD, "Location16410"},
		{PROJ_ERR_BARE_DOLLAR, "Location16872"},
		{PROJ_ERR_UNDEFINED_VAR, "Location17276"},
		{PROJ_ERR_SLICE_SYNTAX, "Location28667"},
		{PROJ_ERR_SLICE_ARG1, "Location28724"},
		{PROJ_ERR_SLICE_ARG2, "Location28725"},
		{PROJ_ERR_SLICE_ARG2_INT, "Location28726"},
		{PROJ_ERR_SLICE_ARG3, "Location28727"},
		{PROJ_ERR_SLICE_ARG3_INT, "Location28728"},
		{PROJ_ERR_SLICE_ARG3_POS, "Location28729"},
		{PROJ_ERR_PATH_PREFIX, "Location31249"},
		{PROJ_ERR_PATH_SAME, "Location31250"},
		{PROJ_ERR_EXPR_IN_EXCLUSION, "Location31252"},
		{PROJ_ERR_INCLUDE_IN_EXCL, "Location31253"},
		{PROJ_ERR_EXCLUDE_IN_INCL, "Location31254"},
		{PROJ_ERR_POS_THEN_ELEM, "Location31255"},
		{PROJ_ERR_ELEM_THEN_POS, "Location31256"},
		{PROJ_ERR_POS_OBJECT, "Location31271"},
		{PROJ_ERR_ELEM_ARG, "Location31274"},
		{PROJ_ERR_ELEM_NESTED, "Location31275"},
		{PROJ_ERR_POS_TWICE, "Location31276"},
		{PROJ_ERR_POS_LITERAL, "Location31308"},
		{PROJ_ERR_POS_MIDDLE, "Location31394"},
		{PROJ_ERR_POS_EXCLUSION, "Location31395"},
		{PROJ_ERR_EMPTY_PATH, "Location40352"},
		{PROJ_ERR_TRAILING_DOT, "Location40353"},
		{PROJ_ERR_POS_NO_MATCH, "Location51246"},
		{PROJ_ERR_POS_MISMATCH, "Location51247"},
		{PROJ_ERR_EMPTY_SUBOBJECT, "Location51270"},
		{PROJ_ERR_GEO_NEAR, "Location5626500"},
	};

	for (size_t i = 0; i < lengthof(names); i++)
	{
		if (names[i].code == code)
			return names[i].name;
	}
	return "UnknownError";
}

/*
 * ProjFail
 *		Record an error (the first one wins); returns false so that callers
 *		can "return ProjFail(...)".
 */
static bool ProjFail(BsonQueryError *error, int code, const char *format,...)
			pg_attribute_printf(3, 4);

static bool
ProjFail(BsonQueryError *error, int code, const char *format,...)
{
	va_list		args;

	va_start(args, format);
	(void) BsonErrorSetV(error, true, code, ProjCodeName(code), format, args);
	va_end(args);
	return false;
}

/*
 * ProjValueText
 *		The Extended JSON text of a value, for a message (palloc'd).
 */
static char *
ProjValueText(const bson_iter_t *it)
{
	StringInfoData buf;

	initStringInfo(&buf);
	BsonPrintValue(&buf, it, BSON_JSON_RELAXED);
	return buf.data;
}

/*
 * ProjIsNumber
 *		Whether a value is in MongoDB's number bracket.
 */
static bool
ProjIsNumber(const bson_iter_t *it)
{
	bson_type_t type = bson_iter_type(it);

	return type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64 ||
		type == BSON_TYPE_DOUBLE || type == BSON_TYPE_DECIMAL128;
}

/*
 * ProjToInt32
 *		A number as MongoDB's safeNumberInt takes it: truncated toward zero,
 *		clamped to the int32 range, NaN as 0.  *exact says whether the
 *		number was an integer in range.
 */
static int32
ProjToInt32(const bson_iter_t *it, bool *exact)
{
	int64_t		v = 0;

	*exact = false;
	switch (QueryNumberToInt64(it, &v))
	{
		case QUERY_INT_EXACT:
			*exact = v >= PG_INT32_MIN && v <= PG_INT32_MAX;
			break;
		case QUERY_INT_FRACTION:
			break;
		case QUERY_INT_RANGE:
			{
				bool		negative;

				if (BSON_ITER_HOLDS_DECIMAL128(it))
				{
					bson_decimal128_t dec;

					bson_iter_decimal128(it, &dec);
					negative = (dec.high >> 63) != 0;
				}
				else
					negative = bson_iter_double(it) < 0;
				return negative ? PG_INT32_MIN : PG_INT32_MAX;
			}
		case QUERY_INT_NAN:
		case QUERY_INT_NOT_NUMBER:
			return 0;
	}
	if (v < PG_INT32_MIN)
		return PG_INT32_MIN;
	if (v > PG_INT32_MAX)
		return PG_INT32_MAX;
	return (int32) v;
}


/* ----------------------------------------------------------------
 *		Compiling
 * ----------------------------------------------------------------
 */

/*
 * ProjCheckComponent
 *		Validate one component of a field path; MongoDB's FieldPath rules.
 */
static bool
ProjCheckComponent(ProjParser *pp, const char *part, size_t len)
{
	if (len == 0)
		return ProjFail(pp->error, PROJ_ERR_EMPTY_COMPONENT,
						"FieldPath field names may not be empty strings.");
	if (part[0] == '$')
		return ProjFail(pp->error, PROJ_ERR_DOLLAR_FIELD,
						"FieldPath field names may not start with '$'. "
						"Consider using $getField or $setField.");
	return true;
}

/*
 * ProjSplitPath
 *		Split a dotted key below a prefix into *out, validating every
 *		component.  With allow_positional, a last component "$" (after at
 *		least one other) is taken off and reported in *positional.
 */
static bool
ProjSplitPath(ProjParser *pp, const ProjPath *prefix, const char *key,
			  bool allow_positional, ProjPath *out, bool *positional)
{
	size_t		keylen = strlen(key);
	int			n = 1;
	int			i;
	const char *start;
	StringInfoData dotted;

	if (positional != NULL)
		*positional = false;
	if (keylen == 0)
		return ProjFail(pp->error, PROJ_ERR_EMPTY_PATH,
						"FieldPath cannot be constructed with empty string");
	if (key[keylen - 1] == '.')
		return ProjFail(pp->error, PROJ_ERR_TRAILING_DOT,
						"FieldPath must not end with a '.'.");
	for (const char *p = key; *p != '\0'; p++)
		n += (*p == '.');
	if (n + (prefix ? prefix->nparts : 0) > PROJ_MAX_PATH)
		return ProjFail(pp->error, PROJ_ERR_TOO_LONG, "FieldPath is too long");

	out->parts = ProjAlloc(pp->proj, sizeof(char *) * (n + (prefix ? prefix->nparts : 0)));
	out->nparts = 0;
	if (prefix != NULL)
	{
		for (i = 0; i < prefix->nparts; i++)
			out->parts[out->nparts++] = prefix->parts[i];
	}

	start = key;
	for (i = 0; i < n; i++)
	{
		const char *end = strchr(start, '.');
		size_t		len = end ? (size_t) (end - start) : strlen(start);
		bool		last = (i == n - 1);

		if (len == 1 && start[0] == '$' && allow_positional &&
			out->nparts > 0)
		{
			if (!last)
				return ProjFail(pp->error, PROJ_ERR_POS_MIDDLE,
								"As of 4.4, it's illegal to specify positional operator "
								"in the middle of a path.Positional projection may only "
								"be used at the end, for example: a.b.$. If the query "
								"previously used a form like a.b.$.d, remove the parts "
								"following the '$' and the results will be equivalent.");
			*positional = true;
			break;
		}
		if (!ProjCheckComponent(pp, start, len))
			return false;
		out->parts[out->nparts++] = ProjStrdup(pp->proj, start, len);
		start = end ? end + 1 : start + len;
	}

	initStringInfo(&dotted);
	for (i = 0; i < out->nparts; i++)
		appendStringInfo(&dotted, "%s%s", i > 0 ? "." : "", out->parts[i]);
	out->dotted = ProjStrdup(pp->proj, dotted.data, dotted.len);
	pfree(dotted.data);
	return true;
}

/*
 * ProjJoin
 *		Components from..n-1 of a path, dotted, in a palloc'd string.
 */
static char *
ProjJoin(const ProjPath *path, int from)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = from; i < path->nparts; i++)
		appendStringInfo(&buf, "%s%s", i > from ? "." : "", path->parts[i]);
	return buf.data;
}

/*
 * ProjFindChild
 *		The child of a node with a name, or NULL.
 */
static ProjNode *
ProjFindChild(const ProjNode *node, const char *name)
{
	for (int i = 0; i < node->nchildren; i++)
	{
		if (strcmp(node->children[i]->name, name) == 0)
			return node->children[i];
	}
	return NULL;
}

/*
 * ProjNewChild
 *		Append a child to a node.
 */
static ProjNode *
ProjNewChild(BsonProjection *proj, ProjNode *parent, ProjNodeKind kind,
			 const char *name)
{
	ProjNode   *node = ProjAlloc(proj, sizeof(ProjNode));

	node->kind = kind;
	node->name = name;
	parent->children = ProjGrow(proj, parent->children, parent->nchildren,
								&parent->maxchildren);
	parent->children[parent->nchildren++] = node;
	return node;
}

/*
 * ProjAddNode
 *		Add a leaf at a path, creating its prefix; a path collision with an
 *		earlier leaf is an error, worded as MongoDB words it.
 */
static ProjNode *
ProjAddNode(ProjParser *pp, const ProjPath *path, ProjNodeKind kind)
{
	ProjNode   *node = pp->proj->root;
	ProjNode   *leaf;
	int			i;

	for (i = 0; i < path->nparts - 1; i++)
	{
		ProjNode   *child = ProjFindChild(node, path->parts[i]);

		if (child == NULL)
			child = ProjNewChild(pp->proj, node, PROJ_PATH, path->parts[i]);
		else if (child->kind != PROJ_PATH)
		{
			char	   *here = ProjJoin(path, i);
			char	   *rest = ProjJoin(path, i + 1);

			ProjFail(pp->error, PROJ_ERR_PATH_PREFIX,
					 "Path collision at %s remaining portion %s", here, rest);
			pfree(here);
			pfree(rest);
			return NULL;
		}
		node = child;
	}
	leaf = ProjFindChild(node, path->parts[i]);
	if (leaf != NULL)
	{
		if (kind == PROJ_SLICE && leaf->kind == PROJ_POSITIONAL)
		{
			/* MongoDB rejects this as $slice syntax, not as a collision */
			ProjFail(pp->error, PROJ_ERR_SLICE_SYNTAX,
					 "Invalid $slice syntax: $slice and the positional operator "
					 "cannot both apply to %s", path->dotted);
			return NULL;
		}
		ProjFail(pp->error, PROJ_ERR_PATH_SAME, "Path collision at %s",
				 path->parts[i]);
		return NULL;
	}
	leaf = ProjNewChild(pp->proj, node, kind, path->parts[i]);

	if (kind == PROJ_COMPUTED || kind == PROJ_ELEM_MATCH)
	{
		/* the computed pass must visit every prefix of this leaf */
		node = pp->proj->root;
		for (i = 0; i < path->nparts - 1; i++)
		{
			node = ProjFindChild(node, path->parts[i]);
			node->has_computed = true;
		}
		pp->proj->root->has_computed = true;
	}
	return leaf;
}

/*
 * ProjSetInclusion
 *		Note that a field includes (or computes) something; an exclusion
 *		projection cannot.
 */
static bool
ProjSetInclusion(ProjParser *pp, const ProjPath *path, bool computed)
{
	if (pp->mode == BSON_PROJECTION_ADD_FIELDS)
		return true;			/* every field is computed, the rest is kept */
	if (pp->type == PROJ_TYPE_EXCLUSION)
	{
		if (computed)
			return ProjFail(pp->error, PROJ_ERR_EXPR_IN_EXCLUSION,
							"Cannot use expression other than $meta in exclusion projection");
		return ProjFail(pp->error, PROJ_ERR_INCLUDE_IN_EXCL,
						"Cannot do inclusion on field %s in exclusion projection",
						path->dotted);
	}
	pp->type = PROJ_TYPE_INCLUSION;
	return true;
}

/*
 * ProjAddComputed
 *		A computed field at a path.
 */
static bool
ProjAddComputed(ProjParser *pp, const ProjPath *path, ProjExpr *expr)
{
	ProjNode   *node;

	if (expr == NULL || !ProjSetInclusion(pp, path, true))
		return false;
	node = ProjAddNode(pp, path, PROJ_COMPUTED);
	if (node == NULL)
		return false;
	node->expr = expr;
	return true;
}

/*
 * ProjNewExpr
 *		An expression node.
 */
static ProjExpr *
ProjNewExpr(ProjParser *pp, ProjExprKind kind, int nargs)
{
	ProjExpr   *expr = ProjAlloc(pp->proj, sizeof(ProjExpr));

	expr->kind = kind;
	expr->nargs = nargs;
	if (nargs > 0)
		expr->args = ProjAlloc(pp->proj, sizeof(ProjExpr *) * nargs);
	return expr;
}

/*
 * ProjParseFieldPathExpr
 *		A string starting with "$": a field path, or a variable.
 */
static ProjExpr *
ProjParseFieldPathExpr(ProjParser *pp, const char *s)
{
	ProjExpr   *expr;
	const char *rest = NULL;

	if (s[1] == '$')
	{
		const char *dot = strchr(s + 2, '.');
		size_t		len = dot ? (size_t) (dot - (s + 2)) : strlen(s + 2);
		char	   *name = pnstrdup(s + 2, len);
		ProjExprKind kind;

		if (strcmp(name, "ROOT") == 0 || strcmp(name, "CURRENT") == 0)
			kind = PROJ_EXPR_ROOT;
		else if (strcmp(name, "REMOVE") == 0)
			kind = PROJ_EXPR_REMOVE;
		else if (strcmp(name, "NOW") == 0 || strcmp(name, "CLUSTER_TIME") == 0 ||
				 strcmp(name, "USER_ROLES") == 0 || strcmp(name, "SEARCH_META") == 0)
		{
			ProjFail(pp->error, MONGO_NOT_IMPLEMENTED,
					 "variable $$%s is not supported in projections yet", name);
			pfree(name);
			return NULL;
		}
		else
		{
			ProjFail(pp->error, PROJ_ERR_UNDEFINED_VAR,
					 "Use of undefined variable: %s", name);
			pfree(name);
			return NULL;
		}
		pfree(name);
		if (dot == NULL || kind == PROJ_EXPR_REMOVE)
			return ProjNewExpr(pp, kind, 0);
		rest = dot + 1;
	}
	else
	{
		if (s[1] == '\0')
		{
			ProjFail(pp->error, PROJ_ERR_BARE_DOLLAR,
					 "'$' by itself is not a valid FieldPath");
			return NULL;
		}
		rest = s + 1;
	}

	expr = ProjNewExpr(pp, PROJ_EXPR_PATH, 0);
	if (!ProjSplitPath(pp, NULL, rest, false, &expr->path, NULL))
		return NULL;
	return expr;
}

/*
 * ProjParseOperatorExpr
 *		An expression object {$op: ...}: $literal, or not implemented yet.
 */
static ProjExpr *
ProjParseOperatorExpr(ProjParser *pp, const bson_iter_t *value, int depth)
{
	bson_iter_t it;
	ProjExpr   *expr;
	const char *name;

	if (!bson_iter_recurse(value, &it) || !bson_iter_next(&it))
		return NULL;
	name = bson_iter_key(&it);
	if (QueryCountElements(value) > 1)
	{
		char	   *text = ProjValueText(value);

		ProjFail(pp->error, PROJ_ERR_MULTI_FIELD_EXPR,
				 "an expression specification must contain exactly one field, "
				 "the name of the expression. Found %d fields in %s",
				 QueryCountElements(value), text);
		pfree(text);
		return NULL;
	}
	if (strcmp(name, "$literal") == 0)
	{
		expr = ProjNewExpr(pp, PROJ_EXPR_CONSTANT, 0);
		expr->constant = *bson_iter_value(&it);
		return expr;
	}
	if (strcmp(name, "$meta") == 0 && pp->mode == BSON_PROJECTION_FIND)
		ProjFail(pp->error, MONGO_NOT_IMPLEMENTED,
				 "$meta is not supported in projections yet");
	else if (!ProjIsExpressionName(name) &&
			 (pp->mode == BSON_PROJECTION_ADD_FIELDS ||
			  (pp->mode == BSON_PROJECTION_AGGREGATE && strcmp(name, "$elemMatch") == 0)))
		ProjFail(pp->error, MONGO_INVALID_PIPELINE_OPERATOR_CODE,
				 "Unrecognized expression '%s'", name);
	else if (!ProjIsExpressionName(name))
		ProjFail(pp->error, PROJ_ERR_UNKNOWN_EXPRESSION,
				 "Unknown expression %s", name);
	else
	{
		/* the expression engine (expr.c) */
		if (pp->proj->scope == NULL)
			pp->proj->scope = AggExprScopeNew();
		expr = ProjNewExpr(pp, PROJ_EXPR_AGG, 0);
		expr->agg = AggExprParse(value, pp->proj->scope, pp->error);
		if (expr->agg != NULL)
			return expr;
	}
	return NULL;
}

/*
 * ProjIsExpressionName
 *		Whether name is one of MongoDB's expression operators (the others
 *		are MongoDB's error 31325, "Unknown expression").
 */
static bool
ProjIsExpressionName(const char *name)
{
	return AggExprKnownName(name);
}

/*
 * ProjParseExpr
 *		An aggregation expression: literals, "$path" strings, arrays and
 *		objects of expressions, and the operators ProjParseOperatorExpr
 *		knows.
 */
static ProjExpr *
ProjParseExpr(ProjParser *pp, const bson_iter_t *it, int depth)
{
	ProjExpr   *expr;

	PURE_CHECK_STACK();
	if (depth > PROJ_MAX_DEPTH)
	{
		ProjFail(pp->error, MONGO_BAD_VALUE, "projection is nested too deeply");
		return NULL;
	}

	switch (bson_iter_type(it))
	{
		case BSON_TYPE_UTF8:
			{
				const char *s = bson_iter_utf8(it, NULL);

				if (s[0] == '$')
					return ProjParseFieldPathExpr(pp, s);
				break;
			}
		case BSON_TYPE_ARRAY:
			{
				bson_iter_t elem;
				int			i = 0;

				expr = ProjNewExpr(pp, PROJ_EXPR_ARRAY, QueryCountElements(it));
				if (!bson_iter_recurse(it, &elem))
					return NULL;
				while (bson_iter_next(&elem) && i < expr->nargs)
				{
					expr->args[i] = ProjParseExpr(pp, &elem, depth + 1);
					if (expr->args[i] == NULL)
						return NULL;
					i++;
				}
				expr->nargs = i;
				return expr;
			}
		case BSON_TYPE_DOCUMENT:
			{
				bson_iter_t field;
				int			i = 0;

				if (!bson_iter_recurse(it, &field))
					return NULL;
				if (bson_iter_next(&field) && bson_iter_key(&field)[0] == '$')
					return ProjParseOperatorExpr(pp, it, depth);

				expr = ProjNewExpr(pp, PROJ_EXPR_OBJECT, QueryCountElements(it));
				expr->names = ProjAlloc(pp->proj, sizeof(char *) * Max(expr->nargs, 1));
				bson_iter_recurse(it, &field);
				while (bson_iter_next(&field) && i < expr->nargs)
				{
					const char *key = bson_iter_key(&field);

					if (key[0] == '$' || strchr(key, '.') != NULL || key[0] == '\0')
					{
						ProjFail(pp->error, PROJ_ERR_DOLLAR_FIELD,
								 "field names of an object expression may not be "
								 "empty, start with '$' or contain '.': \"%s\"", key);
						return NULL;
					}
					expr->names[i] = ProjStrdup(pp->proj, key, strlen(key));
					expr->args[i] = ProjParseExpr(pp, &field, depth + 1);
					if (expr->args[i] == NULL)
						return NULL;
					i++;
				}
				expr->nargs = i;
				return expr;
			}
		default:
			break;
	}

	{
		bson_iter_t copy = *it;

		expr = ProjNewExpr(pp, PROJ_EXPR_CONSTANT, 0);
		expr->constant = *bson_iter_value(&copy);
	}
	return expr;
}

/*
 * ProjParseSlice
 *		{path: {$slice: n}} or {$slice: [skip, limit]} (find syntax), or the
 *		aggregation expression {$slice: [array, n]} / [array, skip, n].
 */
static bool
ProjParseSlice(ProjParser *pp, const ProjPath *path, const bson_iter_t *value,
			   int depth)
{
	ProjSlice  *slice;
	BsonProjection *proj = pp->proj;
	int			nargs = 1;
	bool		exact;

	if (ProjIsNumber(value))
	{
		if (ProjAddNode(pp, path, PROJ_SLICE) == NULL)
			return false;
		slice = ProjAlloc(proj, sizeof(ProjSlice));
		slice->path = *path;
		slice->limit = ProjToInt32(value, &exact);
	}
	else if (BSON_ITER_HOLDS_ARRAY(value))
	{
		bson_iter_t elem;
		bson_iter_t first;
		int32		skip = 0;
		int32		limit = 0;

		/* find() syntax: [skip, limit], two numbers, limit positive */
		nargs = QueryCountElements(value);
		if (nargs == 2 && bson_iter_recurse(value, &elem) && bson_iter_next(&elem))
		{
			first = elem;
			if (bson_iter_next(&elem) && ProjIsNumber(&first) && ProjIsNumber(&elem))
			{
				skip = ProjToInt32(&first, &exact);
				limit = ProjToInt32(&elem, &exact);
			}
		}
		if (limit <= 0)
		{
			ProjExpr   *expr;
			int			i = 0;

			/* not find() syntax: the aggregation expression $slice */
			if (nargs < 2 || nargs > 3)
				goto syntax_error;
			expr = ProjNewExpr(pp, PROJ_EXPR_SLICE, nargs);
			bson_iter_recurse(value, &elem);
			while (bson_iter_next(&elem) && i < nargs)
			{
				expr->args[i] = ProjParseExpr(pp, &elem, depth + 1);
				if (expr->args[i] == NULL)
					return false;
				i++;
			}
			return ProjAddComputed(pp, path, expr);
		}
		if (ProjAddNode(pp, path, PROJ_SLICE) == NULL)
			return false;
		slice = ProjAlloc(proj, sizeof(ProjSlice));
		slice->path = *path;
		slice->has_skip = true;
		slice->skip = skip;
		slice->limit = limit;
	}
	else
		goto syntax_error;

	proj->slices = ProjGrow(proj, proj->slices, proj->nslices, &proj->maxslices);
	proj->slices[proj->nslices++] = slice;
	return true;

syntax_error:
	{
		char	   *text = ProjValueText(value);

		ProjFail(pp->error, PROJ_ERR_SLICE_SYNTAX,
				 "Invalid $slice syntax. The given syntax { $slice: %s } did not "
				 "match the find() syntax because :: Location31273: $slice only "
				 "supports numbers and [skip, limit] arrays :: The given syntax "
				 "did not match the expression $slice syntax. :: caused by :: "
				 "Expression $slice takes at least 2 arguments, and at most 3, "
				 "but %d were passed in.", text, nargs);
		pfree(text);
		return false;
	}
}

/*
 * ProjFindGeoNear
 *		Whether a filter holds $near, $nearSphere or $geoNear at any depth:
 *		they need a sort, which an $elemMatch projection cannot give.
 */
static bool
ProjFindGeoNear(const bson_iter_t *container, int depth)
{
	bson_iter_t it;

	if (depth > PROJ_MAX_DEPTH || !bson_iter_recurse(container, &it))
		return false;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "$near") == 0 || strcmp(key, "$nearSphere") == 0 ||
			strcmp(key, "$geoNear") == 0)
			return true;
		if ((BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) &&
			ProjFindGeoNear(&it, depth + 1))
			return true;
	}
	return false;
}

/*
 * ProjParseElemMatch
 *		{field: {$elemMatch: filter}}: compile the filter once.
 */
static bool
ProjParseElemMatch(ProjParser *pp, const ProjPath *path, const bson_iter_t *value)
{
	BsonProjection *proj = pp->proj;
	bson_t		wrapper;
	bson_t		child;
	const uint8_t *data;
	uint32_t	len;
	bson_t		arg;
	bson_iter_t it;
	BsonFilter *filter;
	BsonQueryError ferror;
	ProjNode   *node;

	if (proj->positional != NULL)
		return ProjFail(pp->error, PROJ_ERR_POS_THEN_ELEM,
						"Cannot specify positional operator and $elemMatch.");
	if (path->nparts > 1)
		return ProjFail(pp->error, PROJ_ERR_ELEM_NESTED,
						"Cannot use $elemMatch projection on a nested field.");
	if (!BSON_ITER_HOLDS_DOCUMENT(value))
	{
		char	   *text = ProjValueText(value);

		ProjFail(pp->error, PROJ_ERR_ELEM_ARG,
				 "elemMatch: Invalid argument, object required, but got %s", text);
		pfree(text);
		return false;
	}

	bson_iter_document(value, &len, &data);
	if (!bson_init_static(&arg, data, len))
		return ProjFail(pp->error, MONGO_BAD_VALUE, "$elemMatch argument is not valid BSON");
	if (bson_iter_init_find(&it, &arg, "$sampleRate"))
		return ProjFail(pp->error, MONGO_BAD_VALUE,
						"$sampleRate can only be applied to the top-level document");
	if (ProjFindGeoNear(value, 0))
		return ProjFail(pp->error, PROJ_ERR_GEO_NEAR,
						"$geoNear, $near, and $nearSphere are not allowed in this "
						"context, as these operators require sorting geospatial data. "
						"If you do not need sort, consider using $geoWithin instead.");

	/* the filter {x: {$elemMatch: arg}}, matched against {x: <array>} */
	bson_init(&wrapper);
	bson_append_document_begin(&wrapper, "x", 1, &child);
	bson_append_document(&child, "$elemMatch", -1, &arg);
	bson_append_document_end(&wrapper, &child);
	filter = BsonFilterCompileCollated(bson_get_data(&wrapper), wrapper.len,
									   pp->proj->collation, &ferror);
	bson_destroy(&wrapper);
	if (filter == NULL)
	{
		if (pp->error->message == NULL)
			*pp->error = ferror;
		else
			pfree(ferror.message);
		return false;
	}
	proj->filters = ProjGrow(proj, proj->filters, proj->nfilters, &proj->maxfilters);
	proj->filters[proj->nfilters++] = filter;

	node = ProjAddNode(pp, path, PROJ_ELEM_MATCH);
	if (node == NULL)
		return false;
	node->filter = filter;
	pp->has_elem_match = true;
	return true;
}

/*
 * ProjParsePositional
 *		{"a.b.$": 1}: the path a.b, narrowed to the query's matching element.
 */
static bool
ProjParsePositional(ProjParser *pp, const ProjPath *path, const bson_iter_t *value)
{
	ProjPath   *copy;

	if (BSON_ITER_HOLDS_DOCUMENT(value))
		return ProjFail(pp->error, PROJ_ERR_POS_OBJECT,
						"positional projection cannot be used with an expression "
						"or sub object");
	if (!ProjIsNumber(value) && !BSON_ITER_HOLDS_BOOL(value))
		return ProjFail(pp->error, PROJ_ERR_POS_LITERAL,
						"positional projection cannot be used with a literal");
	if (!QueryTruthy(value))
		return ProjFail(pp->error, PROJ_ERR_POS_EXCLUSION,
						"positional projection cannot be used with exclusion");
	if (pp->has_elem_match)
		return ProjFail(pp->error, PROJ_ERR_ELEM_THEN_POS,
						"Cannot specify positional operator and $elemMatch.");
	if (pp->proj->positional != NULL)
		return ProjFail(pp->error, PROJ_ERR_POS_TWICE,
						"Cannot specify more than one positional projection per query.");
	if (!ProjSetInclusion(pp, path, false))
		return false;
	if (ProjAddNode(pp, path, PROJ_POSITIONAL) == NULL)
		return false;
	copy = ProjAlloc(pp->proj, sizeof(ProjPath));
	*copy = *path;
	pp->proj->positional = copy;
	return true;
}

/*
 * ProjParseElement
 *		One field of a projection object (at any depth).
 */
static bool
ProjParseElement(ProjParser *pp, const ProjPath *prefix, const bson_iter_t *it,
				 int depth)
{
	ProjPath	path;
	bool		positional;
	bool		is_id;

	if (!ProjSplitPath(pp, prefix, bson_iter_key(it), true, &path, &positional))
		return false;
	if (strcmp(path.parts[0], "_id") == 0)
		pp->id_specified = true;
	is_id = path.nparts == 1 && strcmp(path.parts[0], "_id") == 0;

	if (positional && pp->mode == BSON_PROJECTION_FIND)
		return ProjParsePositional(pp, &path, it);
	if (positional)
		return ProjFail(pp->error, PROJ_ERR_DOLLAR_FIELD,
						"FieldPath field names may not start with '$'. "
						"Consider using $getField or $setField.");

	/* $addFields: numbers and booleans are values, not inclusions */
	if (pp->mode == BSON_PROJECTION_ADD_FIELDS && !BSON_ITER_HOLDS_DOCUMENT(it))
		return ProjAddComputed(pp, &path, ProjParseExpr(pp, it, depth + 1));

	switch (bson_iter_type(it))
	{
		case BSON_TYPE_BOOL:
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			if (QueryTruthy(it))
			{
				if (is_id)
					pp->id_included = true;
				else if (!ProjSetInclusion(pp, &path, false))
					return false;
				return ProjAddNode(pp, &path, PROJ_INCLUDE) != NULL;
			}
			if (!is_id)
			{
				if (pp->type == PROJ_TYPE_INCLUSION)
					return ProjFail(pp->error, PROJ_ERR_EXCLUDE_IN_INCL,
									"Cannot do exclusion on field %s in inclusion projection",
									path.dotted);
				pp->type = PROJ_TYPE_EXCLUSION;
			}
			return ProjAddNode(pp, &path, PROJ_EXCLUDE) != NULL;

		case BSON_TYPE_DOCUMENT:
			{
				bson_iter_t sub;
				int			n = QueryCountElements(it);
				const char *first;

				if (n == 0 && pp->mode == BSON_PROJECTION_ADD_FIELDS)
					return ProjAddComputed(pp, &path, ProjParseExpr(pp, it, depth + 1));
				if (n == 0)
					return ProjFail(pp->error, PROJ_ERR_EMPTY_SUBOBJECT,
									"An empty sub-projection is not a valid value. "
									"Found empty object at path");
				if (!bson_iter_recurse(it, &sub) || !bson_iter_next(&sub))
					return ProjFail(pp->error, MONGO_BAD_VALUE,
									"projection is not valid BSON");
				first = bson_iter_key(&sub);
				if (n == 1 && first[0] == '$')
				{
					if (strcmp(first, "$slice") == 0 &&
						(pp->mode == BSON_PROJECTION_FIND || BSON_ITER_HOLDS_ARRAY(&sub)))
						return ProjParseSlice(pp, &path, &sub, depth);
					if (strcmp(first, "$slice") == 0)
						return ProjFail(pp->error, PROJ_ERR_SLICE_SYNTAX,
										"Expression $slice takes at least 2 arguments, and at most 3, but 1 were passed in.");
					if (strcmp(first, "$elemMatch") == 0 && pp->mode == BSON_PROJECTION_FIND)
						return ProjParseElemMatch(pp, &path, &sub);
					return ProjAddComputed(pp, &path,
										   ProjParseOperatorExpr(pp, it, depth));
				}
				/* a nested projection: {a: {b: 1}} is {"a.b": 1} */
				if (depth >= PROJ_MAX_DEPTH)
					return ProjFail(pp->error, MONGO_BAD_VALUE,
									"projection is nested too deeply");
				bson_iter_recurse(it, &sub);
				return ProjParseObject(pp, &path, &sub, depth + 1);
			}

		default:
			return ProjAddComputed(pp, &path, ProjParseExpr(pp, it, depth + 1));
	}
}

/*
 * ProjParseObject
 *		The fields of a projection object below a prefix.
 */
static bool
ProjParseObject(ProjParser *pp, const ProjPath *prefix, bson_iter_t *it, int depth)
{
	PURE_CHECK_STACK();
	while (bson_iter_next(it))
	{
		if (!ProjParseElement(pp, prefix, it, depth))
			return false;
	}
	return true;
}

/*
 * BsonProjectionCompile
 *		Compile a projection document (BSON bytes).
 */
BsonProjection *
BsonProjectionCompile(const uint8_t *spec, uint32_t len, BsonQueryError *error)
{
	return BsonProjectionCompileCollated(spec, len, NULL, error);
}

/*
 * BsonProjectionCompileCollated
 *		Compile a projection whose $elemMatch compares under a collation.
 */
BsonProjection *
BsonProjectionCompileCollated(const uint8_t *spec, uint32_t len,
							  const BsonCollation *collation, BsonQueryError *error)
{
	return BsonProjectionCompileMode(spec, len, collation, BSON_PROJECTION_FIND, error);
}

/*
 * BsonProjectionCompileMode
 *		Compile a find projection, an aggregation $project or an $addFields.
 */
BsonProjection *
BsonProjectionCompileMode(const uint8_t *spec, uint32_t len,
						  const BsonCollation *collation, BsonProjectionMode mode,
						  BsonQueryError *error)
{
	BsonProjection *proj;
	ProjParser	pp;
	bson_t		doc;
	bson_iter_t it;
	bool		degenerate;
	char	   *problem;

	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;

	proj = palloc0(sizeof(BsonProjection));
	proj->spec = palloc(Max(len, 1));
	memcpy(proj->spec, spec, len);
	proj->len = len;
	proj->collation = collation;
	proj->root = ProjAlloc(proj, sizeof(ProjNode));
	proj->root->kind = PROJ_PATH;
	proj->root->name = "";

	memset(&pp, 0, sizeof(pp));
	pp.proj = proj;
	pp.error = error;
	pp.type = PROJ_TYPE_UNKNOWN;
	pp.mode = mode;

	problem = BsonValidateBytes(proj->spec, len, &degenerate);
	if (problem != NULL)
	{
		ProjFail(error, MONGO_BAD_VALUE, "projection is not a valid BSON document: %s",
				 problem);
		pfree(problem);
		BsonProjectionFree(proj);
		return NULL;
	}
	if (!bson_init_static(&doc, proj->spec, len) || !bson_iter_init(&it, &doc))
	{
		ProjFail(error, MONGO_BAD_VALUE, "projection is not a valid BSON document");
		BsonProjectionFree(proj);
		return NULL;
	}
	if (!ProjParseObject(&pp, NULL, &it, 0))
	{
		BsonProjectionFree(proj);
		return NULL;
	}

	/* what decides when no field did */
	if (mode == BSON_PROJECTION_ADD_FIELDS)
		pp.type = PROJ_TYPE_EXCLUSION;
	else if (pp.type == PROJ_TYPE_UNKNOWN)
		pp.type = (pp.has_elem_match || pp.id_included) ?
			PROJ_TYPE_INCLUSION : PROJ_TYPE_EXCLUSION;
	proj->inclusion = (pp.type == PROJ_TYPE_INCLUSION);

	/* _id is included unless the projection said otherwise */
	if (proj->inclusion && !pp.id_specified)
		ProjNewChild(proj, proj->root, PROJ_INCLUDE, "_id");
	return proj;
}

/*
 * BsonProjectionNeedsPosition
 */
bool
BsonProjectionNeedsPosition(const BsonProjection *p)
{
	return p->positional != NULL;
}

/*
 * BsonProjectionIsInclusion
 */
bool
BsonProjectionIsInclusion(const BsonProjection *p)
{
	return p->inclusion;
}

/*
 * BsonProjectionFree
 *		Release a compiled projection, its filters and its chunks.
 */
void
BsonProjectionFree(BsonProjection *p)
{
	ProjChunk  *chunk;

	if (p == NULL)
		return;
	for (int i = 0; i < p->nfilters; i++)
		BsonFilterFree(p->filters[i]);
	AggExprScopeFree(p->scope);
	chunk = p->chunks;
	while (chunk != NULL)
	{
		ProjChunk  *next = chunk->next;

		pfree(chunk);
		chunk = next;
	}
	pfree(p->spec);
	pfree(p);
}


/* ----------------------------------------------------------------
 *		Applying: helpers
 * ----------------------------------------------------------------
 */

/*
 * ProjTooDeep
 *		Guard of the recursive walkers over documents.
 */
static bool
ProjTooDeep(int depth, BsonQueryError *error)
{
	PURE_CHECK_STACK();
	if (depth > PROJ_MAX_APPLY_DEPTH)
		return !ProjFail(error, MONGO_BAD_VALUE,
						 "document is nested too deeply to project");
	return false;
}

/*
 * ProjFindTop
 *		Point *it at the first field of a document with a name.
 */
static bool
ProjFindTop(const uint8_t *data, uint32_t len, const char *name, bson_iter_t *it)
{
	bson_t		doc;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(it, &doc))
		return false;
	while (bson_iter_next(it))
	{
		if (strcmp(bson_iter_key(it), name) == 0)
			return true;
	}
	return false;
}

/*
 * ProjAppendSlice
 *		Append count elements of an array, from start, renumbered.
 */
static void
ProjAppendSlice(bson_t *out, const char *key, int keylen, const bson_iter_t *array,
				int64 start, int64 count)
{
	bson_t		child;
	bson_iter_t elem;
	int64		i = 0;
	uint32_t	n = 0;

	bson_append_array_begin(out, key, keylen, &child);
	if (bson_iter_recurse(array, &elem))
	{
		while (bson_iter_next(&elem) && i < start + count)
		{
			if (i++ >= start)
			{
				char		buf[16];
				const char *k;
				size_t		klen = bson_uint32_to_string(n++, &k, buf, sizeof(buf));

				bson_append_iter(&child, k, klen, &elem);
			}
		}
	}
	bson_append_array_end(out, &child);
}

/*
 * ProjSliceBounds
 *		Where a slice starts in an array of n elements and how many it takes:
 *		[skip, limit], or limit alone (negative: the last -limit).
 */
static void
ProjSliceBounds(int64 n, bool has_skip, int64 skip, int64 limit,
				int64 *start, int64 *count)
{
	if (!has_skip)
	{
		if (limit >= 0)
		{
			*start = 0;
			*count = Min(limit, n);
		}
		else
		{
			*start = Max(n + limit, 0);
			*count = n - *start;
		}
		return;
	}
	if (skip >= 0)
		*start = Min(skip, n);
	else
		*start = Max(n + skip, 0);
	*count = Min(limit, n - *start);
}


/* ----------------------------------------------------------------
 *		Pass 1: inclusion and exclusion
 * ----------------------------------------------------------------
 */

static bool ProjIncludeDocument(const ProjNode *node, const uint8_t *data,
								uint32_t len, bson_t *out, BsonQueryError *error,
								int depth);

/*
 * ProjIncludeValue
 *		The value of a field with included paths below it: documents
 *		recurse, arrays apply to each document or array element (dropping
 *		the scalars), anything else disappears.
 */
static bool
ProjIncludeValue(const ProjNode *node, const bson_iter_t *it, bson_t *out,
				 const char *key, int keylen, BsonQueryError *error, int depth)
{
	const uint8_t *data;
	uint32_t	len;
	bson_t		child;
	bool		ok = true;

	if (ProjTooDeep(depth, error))
		return false;
	if (BSON_ITER_HOLDS_DOCUMENT(it))
	{
		bson_iter_document(it, &len, &data);
		bson_append_document_begin(out, key, keylen, &child);
		ok = ProjIncludeDocument(node, data, len, &child, error, depth + 1);
		bson_append_document_end(out, &child);
	}
	else if (BSON_ITER_HOLDS_ARRAY(it))
	{
		bson_iter_t elem;
		uint32_t	n = 0;

		bson_append_array_begin(out, key, keylen, &child);
		if (bson_iter_recurse(it, &elem))
		{
			while (ok && bson_iter_next(&elem))
			{
				char		buf[16];
				const char *k;
				size_t		klen;

				if (!BSON_ITER_HOLDS_DOCUMENT(&elem) && !BSON_ITER_HOLDS_ARRAY(&elem))
					continue;
				klen = bson_uint32_to_string(n++, &k, buf, sizeof(buf));
				ok = ProjIncludeValue(node, &elem, &child, k, klen, error, depth + 1);
			}
		}
		bson_append_array_end(out, &child);
	}
	return ok;
}

/*
 * ProjIncludeDocument
 *		The fields of a document an inclusion keeps, in document order.
 */
static bool
ProjIncludeDocument(const ProjNode *node, const uint8_t *data, uint32_t len,
					bson_t *out, BsonQueryError *error, int depth)
{
	bson_t		doc;
	bson_iter_t it;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
		return true;
	while (bson_iter_next(&it))
	{
		const ProjNode *child = ProjFindChild(node, bson_iter_key(&it));

		if (child == NULL)
			continue;
		switch (child->kind)
		{
			case PROJ_INCLUDE:
			case PROJ_SLICE:
			case PROJ_POSITIONAL:
				bson_append_iter(out, bson_iter_key(&it), bson_iter_key_len(&it), &it);
				break;
			case PROJ_PATH:
				if (!ProjIncludeValue(child, &it, out, bson_iter_key(&it),
									  bson_iter_key_len(&it), error, depth + 1))
					return false;
				break;
			default:
				/* excluded _id; computed fields come in pass 2 */
				break;
		}
	}
	return true;
}

static bool ProjExcludeDocument(const ProjNode *node, const uint8_t *data,
								uint32_t len, bson_t *out, BsonQueryError *error,
								int depth);

/*
 * ProjExcludeValue
 *		The value of a field with excluded paths below it: documents
 *		recurse, arrays apply to each document or array element and keep
 *		the scalars, anything else stays.
 */
static bool
ProjExcludeValue(const ProjNode *node, const bson_iter_t *it, bson_t *out,
				 const char *key, int keylen, BsonQueryError *error, int depth)
{
	const uint8_t *data;
	uint32_t	len;
	bson_t		child;
	bool		ok = true;

	if (ProjTooDeep(depth, error))
		return false;
	if (BSON_ITER_HOLDS_DOCUMENT(it))
	{
		bson_iter_document(it, &len, &data);
		bson_append_document_begin(out, key, keylen, &child);
		ok = ProjExcludeDocument(node, data, len, &child, error, depth + 1);
		bson_append_document_end(out, &child);
	}
	else if (BSON_ITER_HOLDS_ARRAY(it))
	{
		bson_iter_t elem;

		bson_append_array_begin(out, key, keylen, &child);
		if (bson_iter_recurse(it, &elem))
		{
			while (ok && bson_iter_next(&elem))
			{
				if (BSON_ITER_HOLDS_DOCUMENT(&elem) || BSON_ITER_HOLDS_ARRAY(&elem))
					ok = ProjExcludeValue(node, &elem, &child, bson_iter_key(&elem),
										  bson_iter_key_len(&elem), error, depth + 1);
				else
					bson_append_iter(&child, bson_iter_key(&elem),
									 bson_iter_key_len(&elem), &elem);
			}
		}
		bson_append_array_end(out, &child);
	}
	else
		bson_append_iter(out, key, keylen, it);
	return ok;
}

/*
 * ProjExcludeDocument
 *		A document without the fields an exclusion names.
 */
static bool
ProjExcludeDocument(const ProjNode *node, const uint8_t *data, uint32_t len,
					bson_t *out, BsonQueryError *error, int depth)
{
	bson_t		doc;
	bson_iter_t it;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
		return true;
	while (bson_iter_next(&it))
	{
		const ProjNode *child = ProjFindChild(node, bson_iter_key(&it));

		if (child != NULL && child->kind == PROJ_EXCLUDE)
			continue;
		if (child != NULL && child->kind == PROJ_PATH)
		{
			if (!ProjExcludeValue(child, &it, out, bson_iter_key(&it),
								  bson_iter_key_len(&it), error, depth + 1))
				return false;
		}
		else
			bson_append_iter(out, bson_iter_key(&it), bson_iter_key_len(&it), &it);
	}
	return true;
}


/* ----------------------------------------------------------------
 *		Pass 2: computed fields and $elemMatch
 * ----------------------------------------------------------------
 */

/*
 * ProjEvalPath
 *		Append the value of a field path below a value, with aggregation's
 *		rules: through an array, the values found in its document elements,
 *		as an array.  Returns 1 if something was appended, 0 if missing.
 */
static int
ProjEvalPath(const ProjPath *path, int k, const bson_iter_t *value, bson_t *out,
			 const char *key, int keylen, int depth)
{
	PURE_CHECK_STACK();
	if (k == path->nparts)
	{
		bson_append_iter(out, key, keylen, value);
		return 1;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(value))
	{
		const uint8_t *data;
		uint32_t	len;
		bson_iter_t field;

		bson_iter_document(value, &len, &data);
		if (!ProjFindTop(data, len, path->parts[k], &field))
			return 0;
		return ProjEvalPath(path, k + 1, &field, out, key, keylen, depth + 1);
	}
	if (BSON_ITER_HOLDS_ARRAY(value) && depth < PROJ_MAX_APPLY_DEPTH)
	{
		bson_t		child;
		bson_iter_t elem;
		uint32_t	n = 0;

		bson_append_array_begin(out, key, keylen, &child);
		if (bson_iter_recurse(value, &elem))
		{
			while (bson_iter_next(&elem))
			{
				char		buf[16];
				const char *k2;
				size_t		klen;

				if (!BSON_ITER_HOLDS_DOCUMENT(&elem))
					continue;
				klen = bson_uint32_to_string(n, &k2, buf, sizeof(buf));
				n += ProjEvalPath(path, k, &elem, &child, k2, klen, depth + 1);
			}
		}
		bson_append_array_end(out, &child);
		return 1;
	}
	return 0;
}

/*
 * ProjEvalSlice
 *		The aggregation expression $slice, once its arguments are values:
 *		null if one is null or missing, else the slice of the array.
 */
static int
ProjEvalSlice(const BsonProjection *proj, const ProjExpr *expr,
			  const uint8_t *root, uint32_t rootlen, bson_t *out,
			  const char *key, int keylen, BsonQueryError *error, int depth)
{
	bson_t		args;
	bson_iter_t it;
	QueryValue	arg[3];		/* iterators need padding in arrays */
	int			n = 0;
	int32		values[3] = {0, 0, 0};
	bool		exact;
	int			result = 1;

	bson_init(&args);
	for (int i = 0; i < expr->nargs; i++)
	{
		char		buf[16];
		const char *k;
		size_t		klen = bson_uint32_to_string(i, &k, buf, sizeof(buf));
		int			r = ProjEval(proj, expr->args[i], root, rootlen, &args, k, klen,
								 error, depth + 1);

		if (r < 0)
		{
			bson_destroy(&args);
			return -1;
		}
		if (r == 0)
			bson_append_null(&args, k, klen);
	}
	bson_iter_init(&it, &args);
	while (n < 3 && bson_iter_next(&it))
		arg[n++].it = it;

	for (int i = 0; i < n; i++)
	{
		if (BSON_ITER_HOLDS_NULL(&arg[i].it) || BSON_ITER_HOLDS_UNDEFINED(&arg[i].it))
		{
			bson_append_null(out, key, keylen);
			bson_destroy(&args);
			return 1;
		}
	}
	if (!BSON_ITER_HOLDS_ARRAY(&arg[0].it))
	{
		ProjFail(error, PROJ_ERR_SLICE_ARG1,
				 "First argument to $slice must be an array, but is of type: %s",
				 BsonTypeName(bson_iter_type(&arg[0].it)));
		result = -1;
	}
	for (int i = 1; result > 0 && i < n; i++)
	{
		if (!ProjIsNumber(&arg[i].it))
		{
			ProjFail(error, i == 1 ? PROJ_ERR_SLICE_ARG2 : PROJ_ERR_SLICE_ARG3,
					 "%s argument to $slice must be a numeric value, but is of type: %s",
					 i == 1 ? "Second" : "Third", BsonTypeName(bson_iter_type(&arg[i].it)));
			result = -1;
		}
		else
		{
			values[i] = ProjToInt32(&arg[i].it, &exact);
			if (!exact)
			{
				char	   *text = ProjValueText(&arg[i].it);

				ProjFail(error, i == 1 ? PROJ_ERR_SLICE_ARG2_INT : PROJ_ERR_SLICE_ARG3_INT,
						 "%s argument to $slice can't be represented as a 32-bit integer: %s",
						 i == 1 ? "Second" : "Third", text);
				pfree(text);
				result = -1;
			}
		}
	}
	if (result > 0 && n == 3 && values[2] <= 0)
	{
		ProjFail(error, PROJ_ERR_SLICE_ARG3_POS,
				 "Third argument to $slice must be positive: %d", values[2]);
		result = -1;
	}
	if (result > 0)
	{
		int64		start;
		int64		count;

		ProjSliceBounds(QueryCountElements(&arg[0].it), n == 3, values[1],
						n == 3 ? values[2] : values[1], &start, &count);
		ProjAppendSlice(out, key, keylen, &arg[0].it, start, count);
	}
	bson_destroy(&args);
	return result;
}

/*
 * ProjEval
 *		Evaluate an expression against the input document and append its
 *		value under key.  Returns 1 if a value was appended, 0 if the value
 *		is missing, -1 on error.
 */
static int
ProjEval(const BsonProjection *proj, const ProjExpr *expr, const uint8_t *root,
		 uint32_t rootlen, bson_t *out, const char *key, int keylen,
		 BsonQueryError *error, int depth)
{
	if (ProjTooDeep(depth, error))
		return -1;

	switch (expr->kind)
	{
		case PROJ_EXPR_CONSTANT:
			bson_append_value(out, key, keylen, &expr->constant);
			return 1;
		case PROJ_EXPR_REMOVE:
			return 0;
		case PROJ_EXPR_ROOT:
			{
				bson_t		doc;

				if (!bson_init_static(&doc, root, rootlen))
					return 0;
				bson_append_document(out, key, keylen, &doc);
				return 1;
			}
		case PROJ_EXPR_PATH:
			{
				bson_iter_t field;

				if (!ProjFindTop(root, rootlen, expr->path.parts[0], &field))
					return 0;
				return ProjEvalPath(&expr->path, 1, &field, out, key, keylen, depth + 1);
			}
		case PROJ_EXPR_ARRAY:
		case PROJ_EXPR_OBJECT:
			{
				bson_t		child;
				uint32_t	n = 0;
				bool		is_array = (expr->kind == PROJ_EXPR_ARRAY);

				if (is_array)
					bson_append_array_begin(out, key, keylen, &child);
				else
					bson_append_document_begin(out, key, keylen, &child);
				for (int i = 0; i < expr->nargs; i++)
				{
					char		buf[16];
					const char *k;
					size_t		klen;
					int			r;

					if (is_array)
						klen = bson_uint32_to_string(n++, &k, buf, sizeof(buf));
					else
					{
						k = expr->names[i];
						klen = strlen(k);
					}
					r = ProjEval(proj, expr->args[i], root, rootlen, &child, k, klen,
								 error, depth + 1);
					if (r < 0)
						break;
					if (r == 0 && is_array)
						bson_append_null(&child, k, klen);
				}
				if (is_array)
					bson_append_array_end(out, &child);
				else
					bson_append_document_end(out, &child);
				return error->message != NULL ? -1 : 1;
			}
		case PROJ_EXPR_SLICE:
			return ProjEvalSlice(proj, expr, root, rootlen, out, key, keylen,
								 error, depth);
		case PROJ_EXPR_AGG:
			{
				AggArena	arena = {NULL};
				AggExprContext cx = {0};
				bson_value_t v;
				int			nslots = AggExprScopeSlots(proj->scope);
				int			r = 0;

				cx.root = root;
				cx.root_len = rootlen;
				cx.arena = &arena;
				cx.collation = proj->collation;
				cx.nslots = nslots;
				cx.slots = nslots > 0 ? AggArenaAlloc(&arena, sizeof(bson_value_t) * nslots) : NULL;
				if (!AggExprEval(expr->agg, &cx, &v, error))
					r = -1;
				else if (v.value_type != BSON_TYPE_EOD)
				{
					bson_append_value(out, key, keylen, &v);
					r = 1;
				}
				AggArenaReset(&arena);
				return r;
			}
	}
	return 0;
}

/*
 * ProjElemMatch
 *		Append [the first element of the input's field that matches], or
 *		nothing when no element matches or the field is not an array.
 */
static void
ProjElemMatch(const ProjNode *node, const uint8_t *root, uint32_t rootlen,
			  bson_t *out, const char *key, int keylen)
{
	bson_iter_t field;
	bson_t		wrapper;
	int32_t		position = -1;

	if (!ProjFindTop(root, rootlen, node->name, &field) ||
		!BSON_ITER_HOLDS_ARRAY(&field))
		return;

	bson_init(&wrapper);
	bson_append_iter(&wrapper, "x", 1, &field);
	if (BsonFilterMatchesWithPosition(node->filter, bson_get_data(&wrapper),
									  wrapper.len, &position) && position >= 0)
		ProjAppendSlice(out, key, keylen, &field, position, 1);
	bson_destroy(&wrapper);
}

/*
 * ProjIsComputed
 *		Whether pass 2 has something to do for a child.
 */
static inline bool
ProjIsComputed(const ProjNode *child)
{
	return child->kind == PROJ_COMPUTED || child->kind == PROJ_ELEM_MATCH ||
		(child->kind == PROJ_PATH && child->has_computed);
}

/*
 * ProjComputeValue
 *		The new value of a field with computed fields at or below it (value
 *		NULL: the field is missing).  Returns false on error.
 */
static bool
ProjComputeValue(const BsonProjection *proj, const ProjNode *node,
				 const uint8_t *root, uint32_t rootlen, const bson_iter_t *value,
				 bson_t *out, const char *key, int keylen, BsonQueryError *error,
				 int depth)
{
	bson_t		child;
	bool		ok = true;

	if (ProjTooDeep(depth, error))
		return false;

	if (node->kind == PROJ_COMPUTED)
		return ProjEval(proj, node->expr, root, rootlen, out, key, keylen,
						error, depth + 1) >= 0;
	if (node->kind == PROJ_ELEM_MATCH)
	{
		ProjElemMatch(node, root, rootlen, out, key, keylen);
		return true;
	}

	if (value != NULL && BSON_ITER_HOLDS_ARRAY(value))
	{
		bson_iter_t elem;

		/* every element gets the computed fields */
		bson_append_array_begin(out, key, keylen, &child);
		if (bson_iter_recurse(value, &elem))
		{
			while (ok && bson_iter_next(&elem))
				ok = ProjComputeValue(proj, node, root, rootlen, &elem, &child,
									  bson_iter_key(&elem), bson_iter_key_len(&elem),
									  error, depth + 1);
		}
		bson_append_array_end(out, &child);
		return ok;
	}

	bson_append_document_begin(out, key, keylen, &child);
	if (value != NULL && BSON_ITER_HOLDS_DOCUMENT(value))
	{
		const uint8_t *data;
		uint32_t	len;

		bson_iter_document(value, &len, &data);
		ok = ProjComputeDocument(proj, node, root, rootlen, data, len, &child,
								 error, depth + 1);
	}
	else
	{
		/* a scalar or nothing: replaced by a document of the computed values */
		ok = ProjComputeDocument(proj, node, root, rootlen, proj_empty_doc,
								 sizeof(proj_empty_doc), &child, error, depth + 1);
	}
	bson_append_document_end(out, &child);
	return ok;
}

/*
 * ProjComputeDocument
 *		A document with the computed children of a node set: in place where
 *		the field exists, appended in projection order where it does not.
 */
static bool
ProjComputeDocument(const BsonProjection *proj, const ProjNode *node,
					const uint8_t *root, uint32_t rootlen,
					const uint8_t *data, uint32_t len, bson_t *out,
					BsonQueryError *error, int depth)
{
	bson_t		doc;
	bson_iter_t it;
	bool		stack_done[32];
	bool	   *done = stack_done;
	bool		ok = true;

	if (node->nchildren > (int) lengthof(stack_done))
		done = palloc(sizeof(bool) * node->nchildren);
	memset(done, 0, sizeof(bool) * node->nchildren);

	if (bson_init_static(&doc, data, len) && bson_iter_init(&it, &doc))
	{
		while (ok && bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);
			int			i;

			for (i = 0; i < node->nchildren; i++)
			{
				if (strcmp(node->children[i]->name, key) == 0)
					break;
			}
			if (i < node->nchildren && !done[i] && ProjIsComputed(node->children[i]))
			{
				done[i] = true;
				ok = ProjComputeValue(proj, node->children[i], root, rootlen, &it, out,
									  key, bson_iter_key_len(&it), error, depth + 1);
			}
			else
				bson_append_iter(out, key, bson_iter_key_len(&it), &it);
		}
	}
	for (int i = 0; ok && i < node->nchildren; i++)
	{
		const ProjNode *child = node->children[i];

		if (!done[i] && ProjIsComputed(child))
			ok = ProjComputeValue(proj, child, root, rootlen, NULL, out, child->name,
								  strlen(child->name), error, depth + 1);
	}
	if (done != stack_done)
		pfree(done);
	return ok;
}


/* ----------------------------------------------------------------
 *		Passes 3 and 4: $slice and the positional operator
 * ----------------------------------------------------------------
 */

/*
 * ProjRewriteValue
 *		The new value of the field at component k of a rewrite's path.
 */
static bool
ProjRewriteValue(const ProjRewrite *rw, int k, const bson_iter_t *it, bson_t *out,
				 const char *key, int keylen, int depth)
{
	bool		last = (k == rw->path->nparts - 1);
	const uint8_t *data;
	uint32_t	len;
	bson_t		child;
	bool		ok = true;

	if (ProjTooDeep(depth, rw->error))
		return false;

	if (rw->slice == NULL && BSON_ITER_HOLDS_ARRAY(it))
	{
		/* the positional operator: the first array on the path */
		bson_iter_t elem;
		int32_t		i = 0;

		if (rw->position < 0)
			return ProjFail(rw->error, PROJ_ERR_POS_NO_MATCH,
							"positional operator '.$' couldn't find a matching "
							"element in the array");
		if (bson_iter_recurse(it, &elem))
		{
			while (bson_iter_next(&elem))
			{
				if (i++ == rw->position)
				{
					bson_append_array_begin(out, key, keylen, &child);
					bson_append_iter(&child, "0", 1, &elem);
					bson_append_array_end(out, &child);
					return true;
				}
			}
		}
		return ProjFail(rw->error, PROJ_ERR_POS_MISMATCH,
						"positional operator '.$' element mismatch");
	}
	if (rw->slice != NULL && last)
	{
		if (BSON_ITER_HOLDS_ARRAY(it))
		{
			int64		start;
			int64		count;

			ProjSliceBounds(QueryCountElements(it), rw->slice->has_skip,
							rw->slice->skip, rw->slice->limit, &start, &count);
			ProjAppendSlice(out, key, keylen, it, start, count);
		}
		else
			bson_append_iter(out, key, keylen, it);
		return true;
	}
	if (!last && BSON_ITER_HOLDS_DOCUMENT(it))
	{
		bson_iter_document(it, &len, &data);
		bson_append_document_begin(out, key, keylen, &child);
		ok = ProjRewriteDocument(rw, k + 1, data, len, &child, depth + 1);
		bson_append_document_end(out, &child);
		return ok;
	}
	if (rw->slice != NULL && BSON_ITER_HOLDS_ARRAY(it))
	{
		bson_iter_t elem;

		/* $slice goes through arrays of documents */
		bson_append_array_begin(out, key, keylen, &child);
		if (bson_iter_recurse(it, &elem))
		{
			while (ok && bson_iter_next(&elem))
			{
				if (BSON_ITER_HOLDS_DOCUMENT(&elem))
				{
					bson_t		sub;

					bson_iter_document(&elem, &len, &data);
					bson_append_document_begin(&child, bson_iter_key(&elem),
											   bson_iter_key_len(&elem), &sub);
					ok = ProjRewriteDocument(rw, k + 1, data, len, &sub, depth + 1);
					bson_append_document_end(&child, &sub);
				}
				else
					bson_append_iter(&child, bson_iter_key(&elem),
									 bson_iter_key_len(&elem), &elem);
			}
		}
		bson_append_array_end(out, &child);
		return ok;
	}
	bson_append_iter(out, key, keylen, it);
	return true;
}

/*
 * ProjRewriteDocument
 *		Copy a document, rewriting its first field named by component k of
 *		the path.
 */
static bool
ProjRewriteDocument(const ProjRewrite *rw, int k, const uint8_t *data, uint32_t len,
					bson_t *out, int depth)
{
	bson_t		doc;
	bson_iter_t it;
	bool		done = false;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
		return true;
	while (bson_iter_next(&it))
	{
		if (!done && strcmp(bson_iter_key(&it), rw->path->parts[k]) == 0)
		{
			done = true;
			if (!ProjRewriteValue(rw, k, &it, out, bson_iter_key(&it),
								  bson_iter_key_len(&it), depth + 1))
				return false;
		}
		else
			bson_append_iter(out, bson_iter_key(&it), bson_iter_key_len(&it), &it);
	}
	return true;
}

/*
 * ProjRewritePass
 *		Replace *doc by its rewrite (freeing the old one); false on error.
 */
static bool
ProjRewritePass(const ProjRewrite *rw, bson_t **doc)
{
	bson_t	   *next = bson_new();

	if (!ProjRewriteDocument(rw, 0, bson_get_data(*doc), (*doc)->len, next, 0))
	{
		bson_destroy(next);
		return false;
	}
	bson_destroy(*doc);
	*doc = next;
	return true;
}


/* ----------------------------------------------------------------
 *		Applying
 * ----------------------------------------------------------------
 */

/*
 * BsonProjectionApply
 *		Project one document: the four passes of the design note.
 */
bool
BsonProjectionApply(const BsonProjection *p, const uint8_t *doc, uint32_t len,
					int32_t position, bson_t *out, BsonQueryError *error)
{
	bson_t	   *cur = bson_new();
	bool		ok;

	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;
	bson_init(out);

	if (p->inclusion)
		ok = ProjIncludeDocument(p->root, doc, len, cur, error, 0);
	else
		ok = ProjExcludeDocument(p->root, doc, len, cur, error, 0);

	if (ok && p->root->has_computed)
	{
		bson_t	   *next = bson_new();

		ok = ProjComputeDocument(p, p->root, doc, len, bson_get_data(cur), cur->len,
								 next, error, 0);
		bson_destroy(cur);
		cur = next;
	}

	for (int i = 0; ok && i < p->nslices; i++)
	{
		ProjRewrite rw;

		rw.path = &p->slices[i]->path;
		rw.slice = p->slices[i];
		rw.position = position;
		rw.error = error;
		ok = ProjRewritePass(&rw, &cur);
	}

	if (ok && p->positional != NULL)
	{
		ProjRewrite rw;

		rw.path = p->positional;
		rw.slice = NULL;
		rw.position = position;
		rw.error = error;
		ok = ProjRewritePass(&rw, &cur);
	}

	if (ok)
		bson_concat(out, cur);
	bson_destroy(cur);
	return ok;
}
