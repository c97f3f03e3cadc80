/*-------------------------------------------------------------------------
 *
 * query_parse.c
 *	  Compiling a MongoDB filter document into a tree of QueryNodes.
 *
 * Design note
 * -----------
 * The compiler follows the shape of MongoDB's own parser, because its
 * error codes and its corner cases come from that shape:
 *
 *	- A filter document is an implicit $and of its fields.  A field whose
 *	  value is a non-empty document starting with a "$" key (and that is
 *	  not a DBRef) is a list of operators on that path; a regex value is a
 *	  regex match; anything else is an equality.  Keys starting with "$"
 *	  are the path-less operators: $and, $or, $nor, $comment, $alwaysTrue,
 *	  $alwaysFalse, $jsonSchema (compiled by query_schema.c), and those
 *	  we do not evaluate yet ($expr, $where: see below), and $text.
 *	- Each operator of a field becomes its own leaf, evaluated on its own:
 *	  {a: {$gt: 1, $lt: 5}} matches a: [0, 10], as in MongoDB.  $ne, $nin
 *	  and $exists: false are $not over $eq, $in and $exists, so they negate
 *	  the answer for the whole path (an array field included).
 *	- $elemMatch takes the value form (its children apply to each element)
 *	  when its first key is a field operator, else the object form (a
 *	  filter on each element that is a document or an array).
 *	- $all is an $and of equalities and regexes on the same path, or of
 *	  $elemMatch leaves; an empty $all matches nothing.
 *
 * Operands stay where they are: the compiled filter keeps a copy of the
 * filter's bytes and every operand is a libbson iterator into it.  What
 * each leaf operator needs from its operand (sorted $in lists, converted
 * numbers, compiled regexes) is prepared once by query_operand.c, so the
 * matcher never parses or allocates.
 *
 * Everything else a filter owns comes from a small arena of palloc'd
 * blocks, released by BsonFilterFree (or with the memory context).
 *
 * Errors carry MongoDB's codes: BadValue (2) for almost everything,
 * FailedToParse (9) for bit masks and $alwaysTrue/$alwaysFalse, TypeMismatch
 * (14) for $type arguments that are not numbers or strings, and the
 * location codes of regular expressions: 51091 (invalid pattern), 51108
 * (invalid option letter), 51074 and 51075 (options given twice).
 * $where is rejected (BadValue: no server-side JavaScript), and
 * $sampleRate reports NotImplemented (238).  $expr compiles with the
 * expression engine (expr.c) and matches when its value is truthy; errors
 * of its evaluation go to a hook (BsonFilterSetExprErrorHook), which the
 * server makes raise them.
 * $text is parsed here (QueryParseText) and matched by a hook the server
 * registers (BsonFilterSetTextHook).
 * The geospatial operators are compiled by query_geo.c, $jsonSchema by
 * query_schema.c.
 *
 * IDENTIFICATION
 *	  src/query_parse.c
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
#include "pure.h"
#include "query_internal.h"

/* Bytes of the arena's ordinary blocks, and the alignment of its chunks */
#define QUERY_BLOCK_SIZE			8192
#define QUERY_ALIGN					128

StaticAssertDecl(__alignof__(bson_iter_t) <= QUERY_ALIGN,
				 "the arena must align libbson iterators");

/* Where a document being parsed sits: $where and the like need the top */
typedef enum QueryLevel
{
	QUERY_LEVEL_TOP,			/* the filter, or under $and/$or/$nor of it */
	QUERY_LEVEL_ELEMENT			/* a filter on array elements ($elemMatch) */
} QueryLevel;

/* The field operators ("$name" in {path: {$name: ...}}) */
typedef enum QueryFieldOp
{
	QUERY_FOP_UNKNOWN,
	QUERY_FOP_EQ,
	QUERY_FOP_NE,
	QUERY_FOP_LT,
	QUERY_FOP_LTE,
	QUERY_FOP_GT,
	QUERY_FOP_GTE,
	QUERY_FOP_IN,
	QUERY_FOP_NIN,
	QUERY_FOP_EXISTS,
	QUERY_FOP_TYPE,
	QUERY_FOP_MOD,
	QUERY_FOP_REGEX,
	QUERY_FOP_OPTIONS,
	QUERY_FOP_ELEM_MATCH,
	QUERY_FOP_ALL,
	QUERY_FOP_SIZE,
	QUERY_FOP_NOT,
	QUERY_FOP_BITS_ALL_SET,
	QUERY_FOP_BITS_ALL_CLEAR,
	QUERY_FOP_BITS_ANY_SET,
	QUERY_FOP_BITS_ANY_CLEAR,
	QUERY_FOP_GEO_WITHIN,
	QUERY_FOP_GEO_INTERSECTS,
	QUERY_FOP_NEAR,
	QUERY_FOP_NEAR_DISTANCE,	/* $minDistance, $maxDistance: beside $near */
	QUERY_FOP_GEO_SHAPE			/* $geometry, $box...: only inside $geoWithin */
} QueryFieldOp;

static const struct
{
	const char *name;
	QueryFieldOp op;
}			query_field_ops[] = {
	{"$eq", QUERY_FOP_EQ},
	{"$ne", QUERY_FOP_NE},
	{"$lt", QUERY_FOP_LT},
	{"$lte", QUERY_FOP_LTE},
	{"$gt", QUERY_FOP_GT},
	{"$gte", QUERY_FOP_GTE},
	{"$in", QUERY_FOP_IN},
	{"$nin", QUERY_FOP_NIN},
	{"$exists", QUERY_FOP_EXISTS},
	{"$type", QUERY_FOP_TYPE},
	{"$mod", QUERY_FOP_MOD},
	{"$regex", QUERY_FOP_REGEX},
	{"$options", QUERY_FOP_OPTIONS},
	{"$elemMatch", QUERY_FOP_ELEM_MATCH},
	{"$all", QUERY_FOP_ALL},
	{"$size", QUERY_FOP_SIZE},
	{"$not", QUERY_FOP_NOT},
	{"$bitsAllSet", QUERY_FOP_BITS_ALL_SET},
	{"$bitsAllClear", QUERY_FOP_BITS_ALL_CLEAR},
	{"$bitsAnySet", QUERY_FOP_BITS_ANY_SET},
	{"$bitsAnyClear", QUERY_FOP_BITS_ANY_CLEAR},
	{"$geoWithin", QUERY_FOP_GEO_WITHIN},
	{"$within", QUERY_FOP_GEO_WITHIN},
	{"$geoIntersects", QUERY_FOP_GEO_INTERSECTS},
	{"$near", QUERY_FOP_NEAR},
	{"$nearSphere", QUERY_FOP_NEAR},
	{"$minDistance", QUERY_FOP_NEAR_DISTANCE},
	{"$maxDistance", QUERY_FOP_NEAR_DISTANCE},
	{"$geometry", QUERY_FOP_GEO_SHAPE},
	{"$box", QUERY_FOP_GEO_SHAPE},
	{"$polygon", QUERY_FOP_GEO_SHAPE},
	{"$center", QUERY_FOP_GEO_SHAPE},
	{"$centerSphere", QUERY_FOP_GEO_SHAPE},
};

/* The path-less operators: what decides the form of an $elemMatch */
static const char *const query_pathless_ops[] = {
	"$and", "$or", "$nor", "$comment", "$where", "$expr", "$jsonSchema",
	"$text", "$alwaysTrue", "$alwaysFalse", "$sampleRate",
};


static QueryNode *QueryParseDocument(QueryParser *parser, const bson_iter_t *doc,
									 QueryLevel level);
static QueryNode *QueryParseFieldOperators(QueryParser *parser,
										   const QueryPath *path,
										   const bson_iter_t *ops,
										   QueryLevel level);
static QueryNode *QueryParseElemMatch(QueryParser *parser, const QueryPath *path,
									  const bson_iter_t *operand);


/* ----------------------------------------------------------------
 *		Memory
 * ----------------------------------------------------------------
 */

/*
 * QueryAlloc
 *		Zeroed memory from the filter's arena, aligned for anything a node
 *		holds: libbson declares bson_iter_t with 128-byte alignment, and
 *		copies of iterators may use aligned moves.
 */
void *
QueryAlloc(BsonFilter *filter, size_t size)
{
	QueryBlock *block = filter->blocks;
	char	   *p;

	size = TYPEALIGN(QUERY_ALIGN, Max(size, 1));
	if (block == NULL || block->size - block->used < size)
	{
		size_t		bsize = Max(QUERY_BLOCK_SIZE, size);

		block = palloc(sizeof(QueryBlock) + QUERY_ALIGN + bsize);
		block->size = bsize;
		block->used = 0;
		if (size > QUERY_BLOCK_SIZE / 4 && filter->blocks != NULL)
		{
			/* a big block of its own: keep filling the current one */
			block->next = filter->blocks->next;
			filter->blocks->next = block;
		}
		else
		{
			block->next = filter->blocks;
			filter->blocks = block;
		}
	}
	p = (char *) TYPEALIGN(QUERY_ALIGN, (char *) block + sizeof(QueryBlock)) +
		block->used;
	block->used += size;
	memset(p, 0, size);
	return p;
}

/*
 * QueryStrdup
 *		A NUL-terminated copy of len bytes, in the arena.
 */
char *
QueryStrdup(BsonFilter *filter, const char *s, size_t len)
{
	char	   *copy = QueryAlloc(filter, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}


/* ----------------------------------------------------------------
 *		Errors
 * ----------------------------------------------------------------
 */

/*
 * QueryCodeName
 *		MongoDB's codeName of an error code.
 */
static const char *
QueryCodeName(int code)
{
	switch (code)
	{
		case MONGO_BAD_VALUE:
			return "BadValue";
		case MONGO_FAILED_TO_PARSE:
			return "FailedToParse";
		case MONGO_TYPE_MISMATCH:
			return "TypeMismatch";
		case MONGO_QUERY_FEATURE_NOT_ALLOWED:
			return "QueryFeatureNotAllowed";
		case MONGO_NOT_IMPLEMENTED:
			return "NotImplemented";
		case MONGO_NO_SUCH_KEY:
			return "NoSuchKey";
		case MONGO_GEO_NEAR_NOT_ALLOWED:
			return "Location5626500";
		case MONGO_REGEX_OPTIONS_TWICE_REGEX:
			return "Location51074";
		case MONGO_REGEX_OPTIONS_TWICE_OPTIONS:
			return "Location51075";
		case MONGO_REGEX_INVALID:
			return "Location51091";
		case MONGO_REGEX_BAD_OPTION:
			return "Location51108";
		default:
			return "UnknownError";
	}
}

/*
 * QueryFailVA
 *		Record an error (the first one wins), optionally followed by the
 *		Extended JSON text of a value.
 */
static void QueryFailVA(QueryParser *parser, int code, const bson_iter_t *value,
						const char *format, va_list args) pg_attribute_printf(4, 0);

static void
QueryFailVA(QueryParser *parser, int code, const bson_iter_t *value,
			const char *format, va_list args)
{
	StringInfoData buf;

	if (parser->error->message != NULL)
		return;
	(void) BsonErrorSetV(parser->error, true, code, QueryCodeName(code), format, args);
	if (value != NULL)
	{
		/* the text of the value goes after the message */
		initStringInfo(&buf);
		appendStringInfoString(&buf, parser->error->message);
		BsonPrintValue(&buf, value, BSON_JSON_RELAXED);
		pfree(parser->error->message);
		parser->error->message = buf.data;
	}
}

/*
 * QueryFail
 *		Record an error with a printf-style message; returns NULL so that
 *		callers can "return QueryFail(...)".
 */
void *
QueryFail(QueryParser *parser, int code, const char *format,...)
{
	va_list		args;

	va_start(args, format);
	QueryFailVA(parser, code, NULL, format, args);
	va_end(args);
	return NULL;
}

/*
 * QueryFailValue
 *		QueryFail with the text of a value appended to the message.
 */
void *
QueryFailValue(QueryParser *parser, int code, const bson_iter_t *value,
			   const char *format,...)
{
	va_list		args;

	va_start(args, format);
	QueryFailVA(parser, code, value, format, args);
	va_end(args);
	return NULL;
}


/* ----------------------------------------------------------------
 *		Nodes
 * ----------------------------------------------------------------
 */

/*
 * QueryNewNode
 *		A node with an operator and a path (NULL: none).
 */
QueryNode *
QueryNewNode(QueryParser *parser, QueryOp op, const QueryPath *path)
{
	QueryNode  *node = QueryAlloc(parser->filter, sizeof(QueryNode));

	node->op = op;
	if (path != NULL)
	{
		node->npath = path->npath;
		node->path = path->parts;
	}
	return node;
}

/*
 * QueryNewLogical
 *		A logical node over children; an $and of one child is that child.
 */
static QueryNode *
QueryNewLogical(QueryParser *parser, QueryOp op, QueryNode **children,
				int nchildren)
{
	QueryNode  *node;

	if (op == QUERY_AND && nchildren == 1)
		return children[0];
	node = QueryNewNode(parser, op, NULL);
	node->children = children;
	node->nchildren = nchildren;
	return node;
}

/*
 * QueryNewNot
 *		The negation of a node.
 */
QueryNode *
QueryNewNot(QueryParser *parser, QueryNode *child)
{
	QueryNode **children = QueryAlloc(parser->filter, sizeof(QueryNode *));

	children[0] = child;
	return QueryNewLogical(parser, QUERY_NOT, children, 1);
}

/*
 * QueryParsePath
 *		Split a dotted field name into components.
 */
static void
QueryParsePath(QueryParser *parser, const char *key, int keylen, QueryPath *path)
{
	int			n = 1;
	int			start = 0;

	for (int i = 0; i < keylen; i++)
		n += key[i] == '.';

	path->dotted = key;
	path->npath = n;
	path->parts = QueryAlloc(parser->filter, n * sizeof(QueryPathPart));
	n = 0;
	for (int i = 0; i <= keylen; i++)
	{
		if (i == keylen || key[i] == '.')
		{
			QueryPathPart *part = &path->parts[n++];

			part->name = key + start;
			part->len = i - start;
			part->is_index = part->len > 0;
			for (int j = start; j < i; j++)
			{
				if (key[j] < '0' || key[j] > '9')
					part->is_index = false;
			}
			start = i + 1;
		}
	}
}

/*
 * QueryCountElements
 *		Number of elements of the document or array an iterator is on.
 */
int
QueryCountElements(const bson_iter_t *container)
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
 * QueryEnter
 *		Count one level of nesting, failing beyond QUERY_MAX_DEPTH.
 */
bool
QueryEnter(QueryParser *parser)
{
	PURE_CHECK_STACK();
	if (++parser->depth > QUERY_MAX_DEPTH)
	{
		QueryFail(parser, MONGO_BAD_VALUE,
				  "filter is nested too deeply: more than %d levels of operators",
				  QUERY_MAX_DEPTH);
		return false;
	}
	return true;
}

/*
 * QueryIsExpressionDocument
 *		Whether a value is a list of operators: a non-empty document whose
 *		first key starts with "$", and that is not a DBRef ($ref and $id;
 *		with allow_incomplete_dbref any of $ref, $id or $db is enough).
 */
bool
QueryIsExpressionDocument(const bson_iter_t *value, bool allow_incomplete_dbref)
{
	bson_iter_t it;
	bool		has_ref = false;
	bool		has_id = false;
	bool		has_db = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &it) ||
		!bson_iter_next(&it) || bson_iter_key(&it)[0] != '$')
		return false;

	do
	{
		const char *key = bson_iter_key(&it);

		has_ref |= strcmp(key, "$ref") == 0;
		has_id |= strcmp(key, "$id") == 0;
		has_db |= strcmp(key, "$db") == 0;
	} while (bson_iter_next(&it));

	if (allow_incomplete_dbref)
		return !(has_ref || has_id || has_db);
	return !(has_ref && has_id);
}

/*
 * QueryIsPathless
 *		Whether a key names a path-less (top-level) operator.
 */
static bool
QueryIsPathless(const char *key)
{
	for (size_t i = 0; i < lengthof(query_pathless_ops); i++)
	{
		if (strcmp(key, query_pathless_ops[i]) == 0)
			return true;
	}
	return false;
}

/*
 * QueryLookupFieldOp
 *		The field operator a key names.
 */
static QueryFieldOp
QueryLookupFieldOp(const char *key)
{
	for (size_t i = 0; i < lengthof(query_field_ops); i++)
	{
		if (strcmp(key, query_field_ops[i].name) == 0)
			return query_field_ops[i].op;
	}
	return QUERY_FOP_UNKNOWN;
}


/* ----------------------------------------------------------------
 *		Field operators with sub-expressions
 * ----------------------------------------------------------------
 */

/*
 * QueryParseAll
 *		$all: equalities and regexes, or only $elemMatch documents.
 */
static QueryNode *
QueryParseAll(QueryParser *parser, const QueryPath *path,
			  const bson_iter_t *operand)
{
	QueryNode **children;
	int			nchildren = 0;
	bson_iter_t it;
	bson_iter_t first;
	bool		elem_match = false;

	if (!BSON_ITER_HOLDS_ARRAY(operand) || !bson_iter_recurse(operand, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "$all needs an array");

	children = QueryAlloc(parser->filter,
						  QueryCountElements(operand) * sizeof(QueryNode *));

	/* an $all that starts with an $elemMatch holds only $elemMatches */
	first = it;
	if (bson_iter_next(&first) && BSON_ITER_HOLDS_DOCUMENT(&first))
	{
		bson_iter_t sub;

		elem_match = bson_iter_recurse(&first, &sub) && bson_iter_next(&sub) &&
			strcmp(bson_iter_key(&sub), "$elemMatch") == 0;
	}

	while (bson_iter_next(&it))
	{
		QueryNode  *child;

		if (elem_match)
		{
			bson_iter_t sub;

			if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &sub) ||
				!bson_iter_next(&sub) || strcmp(bson_iter_key(&sub), "$elemMatch") != 0)
				return QueryFail(parser, MONGO_BAD_VALUE,
								 "$all/$elemMatch has to be consistent");
			child = QueryParseElemMatch(parser, path, &sub);
		}
		else if (BSON_ITER_HOLDS_REGEX(&it))
			child = QueryNewRegexNode(parser, path, &it);
		else
		{
			if (BSON_ITER_HOLDS_DOCUMENT(&it))
			{
				bson_iter_t sub;

				if (bson_iter_recurse(&it, &sub) && bson_iter_next(&sub) &&
					QueryLookupFieldOp(bson_iter_key(&sub)) != QUERY_FOP_UNKNOWN)
					return QueryFail(parser, MONGO_BAD_VALUE, "no $ expressions in $all");
			}
			child = QueryNewCompare(parser, QUERY_EQ, path, &it);
		}
		if (child == NULL)
			return NULL;
		children[nchildren++] = child;
	}

	if (nchildren == 0)
		return QueryNewNode(parser, QUERY_FALSE, NULL);
	return QueryNewLogical(parser, QUERY_AND, children, nchildren);
}

/*
 * QueryParseElemMatch
 *		$elemMatch: the value form when the first key is a field operator,
 *		else the object form.
 */
static QueryNode *
QueryParseElemMatch(QueryParser *parser, const QueryPath *path,
					const bson_iter_t *operand)
{
	QueryNode  *node;
	QueryNode  *child;
	bool		value_form = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(operand))
		return QueryFail(parser, MONGO_BAD_VALUE, "$elemMatch needs an Object");

	if (QueryIsExpressionDocument(operand, true))
	{
		bson_iter_t first;

		if (bson_iter_recurse(operand, &first) && bson_iter_next(&first))
			value_form = !QueryIsPathless(bson_iter_key(&first));
	}

	if (!QueryEnter(parser))
		return NULL;
	parser->no_near++;
	if (value_form)
	{
		QueryPath	none = {"", 0, NULL};

		child = QueryParseFieldOperators(parser, &none, operand, QUERY_LEVEL_ELEMENT);
	}
	else
		child = QueryParseDocument(parser, operand, QUERY_LEVEL_ELEMENT);
	if (child == NULL)
		return NULL;
	parser->no_near--;
	parser->depth--;

	node = QueryNewNode(parser, value_form ? QUERY_ELEM_MATCH_VALUE :
						QUERY_ELEM_MATCH_OBJECT, path);
	node->children = QueryAlloc(parser->filter, sizeof(QueryNode *));
	node->children[0] = child;
	node->nchildren = 1;
	return node;
}

/*
 * QueryParseNot
 *		$not: a regex, or a non-empty document of field operators.
 */
static QueryNode *
QueryParseNot(QueryParser *parser, const QueryPath *path,
			  const bson_iter_t *operand, QueryLevel level)
{
	QueryNode  *child;

	if (BSON_ITER_HOLDS_REGEX(operand))
		child = QueryNewRegexNode(parser, path, operand);
	else if (!BSON_ITER_HOLDS_DOCUMENT(operand))
		return QueryFail(parser, MONGO_BAD_VALUE, "$not needs a regex or a document");
	else if (QueryCountElements(operand) == 0)
		return QueryFail(parser, MONGO_BAD_VALUE, "$not cannot be empty");
	else
	{
		if (!QueryEnter(parser))
			return NULL;
		parser->no_near++;
		child = QueryParseFieldOperators(parser, path, operand, level);
		parser->no_near--;
		parser->depth--;
	}
	if (child == NULL)
		return NULL;
	return QueryNewNot(parser, child);
}

/*
 * QueryParseFieldOperator
 *		One operator of {path: {$op: operand, ...}}; ops is the whole
 *		operator document ($regex and $options read each other).  Sets
 *		*node to NULL for an operator that adds nothing ($options).
 */
static bool
QueryParseFieldOperator(QueryParser *parser, const QueryPath *path,
						const bson_iter_t *ops, const bson_iter_t *it,
						QueryLevel level, QueryNode **node)
{
	const char *name = bson_iter_key(it);

	*node = NULL;
	switch (QueryLookupFieldOp(name))
	{
		case QUERY_FOP_UNKNOWN:
			QueryFail(parser, MONGO_BAD_VALUE, "unknown operator: %s", name);
			return false;
		case QUERY_FOP_EQ:
			*node = QueryNewCompare(parser, QUERY_EQ, path, it);
			break;
		case QUERY_FOP_NE:
			if (BSON_ITER_HOLDS_REGEX(it))
			{
				QueryFail(parser, MONGO_BAD_VALUE, "Can't have regex as arg to $ne.");
				return false;
			}
			*node = QueryNewCompare(parser, QUERY_EQ, path, it);
			if (*node != NULL)
				*node = QueryNewNot(parser, *node);
			break;
		case QUERY_FOP_LT:
			*node = QueryNewCompare(parser, QUERY_LT, path, it);
			break;
		case QUERY_FOP_LTE:
			*node = QueryNewCompare(parser, QUERY_LTE, path, it);
			break;
		case QUERY_FOP_GT:
			*node = QueryNewCompare(parser, QUERY_GT, path, it);
			break;
		case QUERY_FOP_GTE:
			*node = QueryNewCompare(parser, QUERY_GTE, path, it);
			break;
		case QUERY_FOP_IN:
			*node = QueryParseIn(parser, path, name, it);
			break;
		case QUERY_FOP_NIN:
			*node = QueryParseIn(parser, path, name, it);
			if (*node != NULL)
				*node = QueryNewNot(parser, *node);
			break;
		case QUERY_FOP_EXISTS:
			*node = QueryNewNode(parser, QUERY_EXISTS, path);
			if (!QueryTruthy(it))
				*node = QueryNewNot(parser, *node);
			break;
		case QUERY_FOP_TYPE:
			*node = QueryParseType(parser, path, it);
			break;
		case QUERY_FOP_MOD:
			*node = QueryParseMod(parser, path, it);
			break;
		case QUERY_FOP_REGEX:
			*node = QueryParseRegexDocument(parser, path, ops);
			break;
		case QUERY_FOP_OPTIONS:
			{
				bson_iter_t other;

				if (bson_iter_recurse(ops, &other) && bson_iter_find(&other, "$regex"))
					return true;
				QueryFail(parser, MONGO_BAD_VALUE, "$options needs a $regex");
				return false;
			}
		case QUERY_FOP_ELEM_MATCH:
			*node = QueryParseElemMatch(parser, path, it);
			break;
		case QUERY_FOP_ALL:
			*node = QueryParseAll(parser, path, it);
			break;
		case QUERY_FOP_SIZE:
			*node = QueryParseSize(parser, path, it);
			break;
		case QUERY_FOP_NOT:
			*node = QueryParseNot(parser, path, it, level);
			break;
		case QUERY_FOP_BITS_ALL_SET:
			*node = QueryParseBits(parser, QUERY_BITS_ALL_SET, path, name, it);
			break;
		case QUERY_FOP_BITS_ALL_CLEAR:
			*node = QueryParseBits(parser, QUERY_BITS_ALL_CLEAR, path, name, it);
			break;
		case QUERY_FOP_BITS_ANY_SET:
			*node = QueryParseBits(parser, QUERY_BITS_ANY_SET, path, name, it);
			break;
		case QUERY_FOP_BITS_ANY_CLEAR:
			*node = QueryParseBits(parser, QUERY_BITS_ANY_CLEAR, path, name, it);
			break;
		case QUERY_FOP_GEO_WITHIN:
			*node = QueryParseGeoWithin(parser, path, it);
			break;
		case QUERY_FOP_GEO_INTERSECTS:
			*node = QueryParseGeoIntersects(parser, path, it);
			break;
		case QUERY_FOP_NEAR:
			if ((parser->allowed & BSON_FILTER_ALLOW_GEO_NEAR) == 0)
			{
				QueryFail(parser, MONGO_GEO_NEAR_NOT_ALLOWED,
						  "$geoNear, $near, and $nearSphere are not allowed in this context, as these operators require sorting geospatial data. If you do not need sort, consider using $geoWithin instead.");
				return false;
			}
			*node = QueryParseNear(parser, path, ops, it);
			break;
		case QUERY_FOP_NEAR_DISTANCE:
			{
				bson_iter_t other;

				/* read by the $near or $nearSphere beside it */
				if (bson_iter_recurse(ops, &other) &&
					(bson_iter_find(&other, "$near") ||
					 (bson_iter_recurse(ops, &other) &&
					  bson_iter_find(&other, "$nearSphere"))))
					return true;
				QueryFail(parser, MONGO_BAD_VALUE, "%s needs $near or $nearSphere", name);
				return false;
			}
		case QUERY_FOP_GEO_SHAPE:
			QueryFail(parser, MONGO_BAD_VALUE,
					  "%s can only be used inside $geoWithin or $geoIntersects", name);
			return false;
	}
	return *node != NULL;
}

/*
 * QueryParseFieldOperators
 *		{path: {$op: operand, ...}}: one leaf per operator, under an $and
 *		when there are several.
 */
static QueryNode *
QueryParseFieldOperators(QueryParser *parser, const QueryPath *path,
						 const bson_iter_t *ops, QueryLevel level)
{
	QueryNode **children;
	int			nchildren = 0;
	int			ngeo = 0;
	bson_iter_t it;

	children = QueryAlloc(parser->filter,
						  QueryCountElements(ops) * sizeof(QueryNode *));
	if (!bson_iter_recurse(ops, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed operator document");
	while (bson_iter_next(&it))
	{
		QueryNode  *child;
		QueryFieldOp fop = QueryLookupFieldOp(bson_iter_key(&it));

		/* as in MongoDB, one geospatial operator per field ($near: see there) */
		if ((fop == QUERY_FOP_GEO_WITHIN || fop == QUERY_FOP_GEO_INTERSECTS) &&
			++ngeo > 1)
			return QueryFail(parser, MONGO_BAD_VALUE,
							 "only one geospatial operator is allowed per field");

		if (!QueryParseFieldOperator(parser, path, ops, &it, level, &child))
			return NULL;
		if (child != NULL)
			children[nchildren++] = child;
	}
	if (nchildren == 0)
		return QueryNewNode(parser, QUERY_TRUE, NULL);
	return QueryNewLogical(parser, QUERY_AND, children, nchildren);
}


/* ----------------------------------------------------------------
 *		Documents and path-less operators
 * ----------------------------------------------------------------
 */

/*
 * QueryParseTree
 *		$and, $or, $nor: a non-empty array of filter documents.
 */
static QueryNode *
QueryParseTree(QueryParser *parser, QueryOp op, const char *name,
			   const bson_iter_t *operand, QueryLevel level)
{
	QueryNode **children;
	int			nchildren = 0;
	int			ntext = 0;		/* children holding the $text */
	bool		had_text;
	bson_iter_t it;
	int			n;

	if (!BSON_ITER_HOLDS_ARRAY(operand))
		return QueryFail(parser, MONGO_BAD_VALUE, "%s must be an array", name);
	n = QueryCountElements(operand);
	if (n == 0)
		return QueryFail(parser, MONGO_BAD_VALUE, "$and/$or/$nor must be a nonempty array");

	children = QueryAlloc(parser->filter, n * sizeof(QueryNode *));
	if (!bson_iter_recurse(operand, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "%s must be an array", name);
	while (bson_iter_next(&it))
	{
		QueryNode  *child;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			return QueryFail(parser, MONGO_BAD_VALUE,
							 "$or/$and/$nor entries need to be full objects");
		if (op != QUERY_AND)
			parser->no_near++;
		if (op == QUERY_NOR)
			parser->no_text++;
		else if (op == QUERY_OR)
			parser->in_or++;
		had_text = parser->has_text;
		child = QueryParseDocument(parser, &it, level);
		if (!had_text && parser->has_text)
			ntext++;
		if (op != QUERY_AND)
			parser->no_near--;
		if (op == QUERY_NOR)
			parser->no_text--;
		else if (op == QUERY_OR)
			parser->in_or--;
		if (child == NULL)
			return NULL;
		children[nchildren++] = child;
	}
	if (op == QUERY_OR && ntext > 0 && ntext < nchildren)
		parser->filter->text->query.or_with_others = true;
	if (op == QUERY_AND)
	{
		/* keep the $and even with one child: it is what the user wrote */
		QueryNode  *node = QueryNewNode(parser, QUERY_AND, NULL);

		node->children = children;
		node->nchildren = nchildren;
		return node;
	}
	return QueryNewLogical(parser, op, children, nchildren);
}

/*
 * QueryParseAlways
 *		$alwaysTrue and $alwaysFalse: the operand must be the number 1.
 */
static QueryNode *
QueryParseAlways(QueryParser *parser, const char *name, const bson_iter_t *operand,
				 bool value)
{
	int64_t		number;

	if (QueryNumberToInt64(operand, &number) != QUERY_INT_EXACT || number != 1)
		return QueryFail(parser, MONGO_FAILED_TO_PARSE,
						 "%s must be an integer value of 1", name);
	return QueryNewNode(parser, value ? QUERY_TRUE : QUERY_FALSE, NULL);
}

/*
 * QueryFeatureAllowed
 *		Whether the context allows a special top-level operator ($text,
 *		$where, $expr, $jsonSchema); records MongoDB's error when not.
 */
static bool
QueryFeatureAllowed(QueryParser *parser, const char *name)
{
	if (strcmp(name, "$text") == 0 &&
		(parser->allowed & BSON_FILTER_ALLOW_TEXT) == 0)
		QueryFail(parser, MONGO_BAD_VALUE, "$text is not allowed in this context");
	else if (strcmp(name, "$where") == 0 &&
			 (parser->allowed & BSON_FILTER_ALLOW_WHERE) == 0)
		QueryFail(parser, MONGO_BAD_VALUE, "$where is not allowed in this context");
	else if (strcmp(name, "$expr") == 0 &&
			 (parser->allowed & BSON_FILTER_ALLOW_EXPR) == 0)
		QueryFail(parser, MONGO_QUERY_FEATURE_NOT_ALLOWED,
				  "$expr is not allowed in this context");
	else if (strcmp(name, "$jsonSchema") == 0 &&
			 (parser->allowed & BSON_FILTER_ALLOW_JSON_SCHEMA) == 0)
		QueryFail(parser, MONGO_QUERY_FEATURE_NOT_ALLOWED,
				  "$jsonSchema is not allowed in this context");
	else
		return true;
	return false;
}

/*
 * QueryTextOption
 *		An optional string or boolean field of a $text, as MongoDB's
 *		bsonExtract*FieldWithDefault: TypeMismatch (14) for any other type.
 *		Returns false (error recorded) on a wrong type; *found tells
 *		whether the field was there.
 */
static bool
QueryTextOption(QueryParser *parser, const bson_iter_t *operand, const char *name,
				bson_type_t type, bson_iter_t *value, bool *found)
{
	bson_iter_t it;

	*found = bson_iter_recurse(operand, &it) && bson_iter_find(&it, name);
	if (!*found)
		return true;
	if (bson_iter_type(&it) != type)
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "\"%s\" had the wrong type. Expected %s, found %s", name,
				  type == BSON_TYPE_UTF8 ? "string" : "bool",
				  BsonTypeName(bson_iter_type(&it)));
		return false;
	}
	*value = it;
	return true;
}

/*
 * QueryParseText
 *		$text: {$search: string, $language: string, $caseSensitive: bool,
 *		$diacriticSensitive: bool}, as MongoDB's TextMatchExpression: at
 *		most one per filter, at the top level or under $and and $or, never
 *		under $nor.  The search string is kept with its NUL bytes turned
 *		into spaces (they separate words, as in MongoDB's tokenizer).
 */
QueryNode *
QueryParseText(QueryParser *parser, const bson_iter_t *operand)
{
	QueryText  *qtext;
	BsonTextQuery *text;
	QueryNode  *node;
	bson_iter_t value;
	bool		found;
	int			nfields = 1;
	uint32_t	len;
	const char *search;
	char	   *copy;

	if (!BSON_ITER_HOLDS_DOCUMENT(operand))
		return QueryFail(parser, MONGO_BAD_VALUE, "$text expects an object");
	if (parser->no_text > 0)
		return QueryFail(parser, MONGO_BAD_VALUE, "text expression not allowed in nor");
	if (parser->has_text)
		return QueryFail(parser, MONGO_BAD_VALUE, "Too many text expressions");
	if (parser->has_near)
		return QueryFail(parser, MONGO_BAD_VALUE, "text and geoNear not allowed in same query");

	qtext = QueryAlloc(parser->filter, sizeof(QueryText));
	memset(qtext, 0, sizeof(QueryText));
	text = &qtext->query;

	if (!QueryTextOption(parser, operand, "$search", BSON_TYPE_UTF8, &value, &found))
		return NULL;
	if (!found)
		return QueryFail(parser, MONGO_NO_SUCH_KEY, "Missing expected field \"$search\"");
	search = bson_iter_utf8(&value, &len);
	copy = QueryStrdup(parser->filter, search, len);
	for (uint32_t i = 0; i < len; i++)
		if (copy[i] == '\0')
			copy[i] = ' ';
	text->search = copy;
	text->search_len = len;

	if (!QueryTextOption(parser, operand, "$language", BSON_TYPE_UTF8, &value, &found))
		return NULL;
	if (found)
	{
		search = bson_iter_utf8(&value, &len);
		if (len > 0)
			text->language = QueryStrdup(parser->filter, search, strnlen(search, len));
		nfields++;
	}
	if (!QueryTextOption(parser, operand, "$caseSensitive", BSON_TYPE_BOOL, &value, &found))
		return NULL;
	if (found)
	{
		text->case_sensitive = bson_iter_bool(&value);
		nfields++;
	}
	if (!QueryTextOption(parser, operand, "$diacriticSensitive", BSON_TYPE_BOOL, &value,
						 &found))
		return NULL;
	if (found)
	{
		text->diacritic_sensitive = bson_iter_bool(&value);
		nfields++;
	}
	if (QueryCountElements(operand) != nfields)
		return QueryFail(parser, MONGO_BAD_VALUE, "extra fields in $text");

	parser->has_text = true;
	parser->filter->text = qtext;
	node = QueryNewNode(parser, QUERY_TEXT, NULL);
	node->u.text = qtext;
	return node;
}

/*
 * QueryParsePathless
 *		A "$" key of a filter document.  Sets *node to NULL for operators
 *		that add nothing ($comment).
 */
static bool
QueryParsePathless(QueryParser *parser, const bson_iter_t *it, QueryLevel level,
				   QueryNode **node)
{
	const char *name = bson_iter_key(it);

	*node = NULL;
	if (strcmp(name, "$and") == 0)
		*node = QueryParseTree(parser, QUERY_AND, name, it, level);
	else if (strcmp(name, "$or") == 0)
		*node = QueryParseTree(parser, QUERY_OR, name, it, level);
	else if (strcmp(name, "$nor") == 0)
		*node = QueryParseTree(parser, QUERY_NOR, name, it, level);
	else if (strcmp(name, "$comment") == 0)
		return true;
	else if (strcmp(name, "$alwaysTrue") == 0)
		*node = QueryParseAlways(parser, name, it, true);
	else if (strcmp(name, "$alwaysFalse") == 0)
		*node = QueryParseAlways(parser, name, it, false);
	else if (strcmp(name, "$text") == 0)
	{
		if (level != QUERY_LEVEL_TOP)
			QueryFail(parser, MONGO_BAD_VALUE,
					  "%s can only be applied to the top-level document", name);
		else if (QueryFeatureAllowed(parser, name))
			*node = QueryParseText(parser, it);
	}
	else if (strcmp(name, "$where") == 0 || strcmp(name, "$expr") == 0)
	{
		if (level != QUERY_LEVEL_TOP)
			QueryFail(parser, MONGO_BAD_VALUE,
					  "%s can only be applied to the top-level document", name);
		else if (!QueryFeatureAllowed(parser, name))
			;
		else if (name[1] == 'w')
			QueryFail(parser, MONGO_BAD_VALUE,
					  "$where is not supported: server-side JavaScript is not available");
		else
		{
			/* $expr: the aggregation expression, true for matching documents */
			AggExpr    *expr;

			if (parser->filter->expr_scope == NULL)
				parser->filter->expr_scope = AggExprScopeNew();
			expr = AggExprParse(it, parser->filter->expr_scope, parser->error);
			if (expr != NULL)
			{
				*node = QueryNewNode(parser, QUERY_EXPR, NULL);
				(*node)->u.expr.expr = expr;
				(*node)->u.expr.nslots = AggExprScopeSlots(parser->filter->expr_scope);
				(*node)->u.expr.collation = parser->filter->collation;
			}
		}
	}
	else if (strcmp(name, "$jsonSchema") == 0)
	{
		if (QueryFeatureAllowed(parser, name))
			*node = QueryParseJsonSchema(parser, it);
	}
	else if (strcmp(name, "$sampleRate") == 0)
		QueryFail(parser, MONGO_NOT_IMPLEMENTED, "%s is not supported yet", name);
	else
		QueryFail(parser, MONGO_BAD_VALUE, "unknown top level operator: %s", name);
	return *node != NULL;
}

/*
 * QueryParseFields
 *		The fields of a filter document (it is before the first of n): an
 *		implicit $and of its fields and path-less operators.
 */
static QueryNode *
QueryParseFields(QueryParser *parser, bson_iter_t it, int n, QueryLevel level)
{
	QueryNode **children;
	int			nchildren = 0;

	if (!QueryEnter(parser))
		return NULL;

	children = QueryAlloc(parser->filter, n * sizeof(QueryNode *));
	while (bson_iter_next(&it) && nchildren < n)
	{
		const char *key = bson_iter_key(&it);
		QueryNode  *child;
		QueryPath	path;

		if (key[0] == '$')
		{
			if (!QueryParsePathless(parser, &it, level, &child))
				return NULL;
			if (child == NULL)
				continue;
		}
		else
		{
			QueryParsePath(parser, key, bson_iter_key_len(&it), &path);
			if (QueryIsExpressionDocument(&it, false))
				child = QueryParseFieldOperators(parser, &path, &it, level);
			else if (BSON_ITER_HOLDS_REGEX(&it))
				child = QueryNewRegexNode(parser, &path, &it);
			else
				child = QueryNewCompare(parser, QUERY_EQ, &path, &it);
			if (child == NULL)
				return NULL;
		}
		children[nchildren++] = child;
	}
	parser->depth--;

	if (nchildren == 0)
		return QueryNewNode(parser, QUERY_TRUE, NULL);
	return QueryNewLogical(parser, QUERY_AND, children, nchildren);
}

/*
 * QueryParseDocument
 *		A filter document the iterator is on (an element of $and, $or,
 *		$nor or $elemMatch).
 */
static QueryNode *
QueryParseDocument(QueryParser *parser, const bson_iter_t *doc, QueryLevel level)
{
	bson_iter_t it;

	if (!bson_iter_recurse(doc, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed filter document");
	return QueryParseFields(parser, it, QueryCountElements(doc), level);
}


/* ----------------------------------------------------------------
 *		Entry points
 * ----------------------------------------------------------------
 */

/*
 * BsonFilterCompile
 *		Compile a filter document given as BSON bytes.  Returns NULL and
 *		fills *error (message palloc'd) when the filter is invalid.
 */
BsonFilter *
BsonFilterCompile(const uint8_t *data, uint32_t len, BsonQueryError *error)
{
	return BsonFilterCompileFull(data, len, NULL, BSON_FILTER_ALLOW_ALL, error);
}

/*
 * BsonFilterCompileRestricted
 *		BsonFilterCompile where only the special operators in allowed may
 *		appear.
 */
BsonFilter *
BsonFilterCompileRestricted(const uint8_t *data, uint32_t len, int allowed,
							BsonQueryError *error)
{
	return BsonFilterCompileFull(data, len, NULL, allowed, error);
}

/*
 * BsonFilterCompileCollated
 *		Compile a filter whose string comparisons follow a collation.
 */
BsonFilter *
BsonFilterCompileCollated(const uint8_t *data, uint32_t len,
						  const BsonCollation *collation, BsonQueryError *error)
{
	return BsonFilterCompileFull(data, len, collation, BSON_FILTER_ALLOW_ALL, error);
}

/*
 * BsonFilterCompileFull
 *		Compile a filter with a collation (NULL: simple) and a set of allowed
 *		special operators.
 */
BsonFilter *
BsonFilterCompileFull(const uint8_t *data, uint32_t len, const BsonCollation *collation,
					  int allowed, BsonQueryError *error)
{
	BsonFilter *filter;
	QueryParser parser;
	bool		degenerate;
	char	   *problem;
	bson_t		doc;
	bson_iter_t top;

	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;

	filter = palloc0(sizeof(BsonFilter));
	filter->data = palloc(Max(len, 1));
	memcpy(filter->data, data, len);
	filter->len = len;
	filter->collation = collation;

	parser.filter = filter;
	parser.error = error;
	parser.depth = 0;
	parser.no_near = 0;
	parser.has_near = false;
	parser.no_text = 0;
	parser.in_or = 0;
	parser.has_text = false;
	parser.allowed = allowed;

	/*
	 * A filter comes from a command, which may nest 200 levels below itself
	 * (a $and chain of QUERY_MAX_DEPTH levels takes two per level)
	 */
	problem = BsonValidateBytesDepth(filter->data, len, 2 * QUERY_MAX_DEPTH, &degenerate);
	if (problem != NULL)
	{
		QueryFail(&parser, MONGO_BAD_VALUE, "filter is not a valid BSON document: %s",
				  problem);
		pfree(problem);
		BsonFilterFree(filter);
		return NULL;
	}

	if (!bson_init_static(&doc, filter->data, len) || !bson_iter_init(&top, &doc))
	{
		QueryFail(&parser, MONGO_BAD_VALUE, "filter is not a valid BSON document");
		BsonFilterFree(filter);
		return NULL;
	}
	filter->root = QueryParseFields(&parser, top, bson_count_keys(&doc),
									QUERY_LEVEL_TOP);
	if (filter->root == NULL)
	{
		BsonFilterFree(filter);
		return NULL;
	}
	return filter;
}

/*
 * BsonFilterFree
 *		Release a compiled filter, its regexes and its arena.
 */
void
BsonFilterFree(BsonFilter *filter)
{
	QueryBlock *block;

	if (filter == NULL)
		return;
	for (int i = 0; i < filter->nregexes; i++)
	{
		QueryRegex *regex = filter->regexes[i];

		if (regex->match_data != NULL)
			pcre2_match_data_free(regex->match_data);
		if (regex->code != NULL)
			pcre2_code_free(regex->code);
	}
	if (filter->match_context != NULL)
		pcre2_match_context_free(filter->match_context);
	if (filter->compile_context != NULL)
		pcre2_compile_context_free(filter->compile_context);
	if (filter->general_context != NULL)
		pcre2_general_context_free(filter->general_context);
	if (filter->regexes != NULL)
		pfree(filter->regexes);
	AggExprScopeFree(filter->expr_scope);

	block = filter->blocks;
	while (block != NULL)
	{
		QueryBlock *next = block->next;

		pfree(block);
		block = next;
	}
	pfree(filter->data);
	pfree(filter);
}
