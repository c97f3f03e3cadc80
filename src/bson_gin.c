/*-------------------------------------------------------------------------
 *
 * bson_gin.c
 *	  GIN operator class nosql.bson_gin_ops: doc @@ filter through an index.
 *
 * Design note
 * -----------
 * Every key is a (path, value) pair of the document, as MongoDB's multikey
 * indexes see it: the dotted path of each field, reached through nested
 * documents and through arrays (an array contributes itself and each of its
 * elements, nested arrays and documents inside arrays included, so that a
 * path such as "a.b" reaches the b of every document in an array a).  Each
 * field also gives a path-existence key for $exists: true.  Extracting more
 * than MongoDB would reach is harmless: the index only has to return a
 * superset of the matches, and every match is rechecked by bson_matches.
 *
 * A key is a bytea compared bytewise (byteacmp):
 *
 *		[path length: 2 bytes, big-endian][path][tag: 1 byte][value]
 *
 * A path longer than BSON_GIN_MAX_PATH bytes is stored as the length
 * BSON_GIN_HASHED_PATH followed by an 8-byte hash of it.  The tag is 1 for
 * the existence key (no value) and otherwise MongoDB's canonical type
 * bracket plus BSON_GIN_TAG_OFFSET, so that every value of one bracket
 * shares one prefix and the keys of a bracket are contiguous.  Values are
 * encoded so that bytewise order follows MongoDB's order inside the bracket
 * wherever range queries are served:
 *
 *	- numbers (int32, int64, double, decimal128): the value rounded to the
 *	  nearest double, -0 as 0, as 8 big-endian bytes of its bits with the
 *	  sign bit flipped (negatives fully inverted); NaN, the lowest number,
 *	  is all zeros.  Rounding is monotone, so equal numbers of any type get
 *	  equal keys and order never inverts; values that round together merely
 *	  share a key (the recheck separates them).
 *	- strings and symbols: the bytes, or for strings longer than
 *	  BSON_GIN_MAX_STRING bytes their first BSON_GIN_MAX_STRING bytes and an
 *	  8-byte hash of the whole string; the truncated prefix still orders.
 *	- dates: the int64 milliseconds with the sign bit flipped; timestamps:
 *	  (seconds, increment) as an unsigned 64-bit number; ObjectIds: their 12
 *	  bytes; booleans: one byte.
 *	- MinKey, MaxKey, null, undefined: no value bytes.
 *	- everything else (documents, arrays, binary data, regular expressions,
 *	  code, ...): the 8-byte BsonHashValue, which serves equality only.
 *
 * The query side walks the compiled filter (query_internal.h) into an
 * AND/OR expression over entries: an equality (also of whole arrays and
 * documents) is one exact entry, $in an OR of them, $gt/$gte/$lt/$lte on
 * the brackets above a partial-match entry that starts at the lower bound
 * and stops past the upper bound (both inclusive: a superset), $exists:
 * true the existence entry, $all an AND, $elemMatch the AND of its
 * indexable conditions under the array's path (or the existence of the
 * path), $and the AND of its indexable children and $or the OR of its
 * children when all of them are indexable.  Anything else ($ne, $nin,
 * $not, $nor, $exists: false, null equality, which matches missing fields,
 * $type, $regex, $size, ...) is not indexable; a filter with nothing
 * indexable scans the whole index (GIN_SEARCH_MODE_ALL).  The consistent
 * functions evaluate the expression and always ask for a recheck.
 *
 * The option paths (bson_gin_ops(paths = 'a,b.c')) restricts the index to
 * the listed dotted paths: the walk emits the keys (values and existence)
 * of a path only when it is listed, and descends only into the fields that
 * lead to a listed path.  On the query side a condition on any other path
 * is not indexable, exactly like a $ne: an AND answers its other
 * conditions, an OR with such a branch cannot use the index.  Without the
 * option every path is indexed.  An entry "a.$**" lists a and every path
 * below it (the GIN of MongoDB's wildcard index a.$**; "$**" alone is
 * every path).
 *
 * Ranges over the separate conditions of one path are never merged:
 * {a: {$gt: 1, $lt: 5}} matches a: [0, 10], so the two are two entries.
 * Paths with a numeric component (a.0) may index arrays, which the keys do
 * not record, so conditions on them are not indexable.
 *
 * IDENTIFICATION
 *	  src/bson_gin.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/gin.h"
#include "access/reloptions.h"
#include "access/stratnum.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "bson.h"
#include "bson_compare.h"
#include "query_internal.h"

/* Support function numbers of the operator class (see sql/nosql.sql) */
#define BSON_GIN_COMPARE_PROC			1	/* byteacmp */
#define BSON_GIN_EXTRACT_VALUE_PROC		2
#define BSON_GIN_EXTRACT_QUERY_PROC		3
#define BSON_GIN_CONSISTENT_PROC		4
#define BSON_GIN_COMPARE_PARTIAL_PROC	5
#define BSON_GIN_TRICONSISTENT_PROC		6
#define BSON_GIN_OPTIONS_PROC			7

/* The one strategy: bson @@ bson */
#define BSON_GIN_MATCHES_STRATEGY		1

/* Paths longer than this are hashed */
#define BSON_GIN_MAX_PATH				256
#define BSON_GIN_HASHED_PATH			0xFFFF
/* Strings longer than this keep this prefix and a hash */
#define BSON_GIN_MAX_STRING				128
/* Largest value encoding: a truncated string and its hash */
#define BSON_GIN_MAX_VALUE				(BSON_GIN_MAX_STRING + 8)

#define BSON_GIN_TAG_EXISTS				1
#define BSON_GIN_TAG_OFFSET				8	/* MinKey's -1 becomes 7 */

/* The opclass options, as PostgreSQL parses them (varlena) */
typedef struct BsonGinOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			paths;			/* offset of the paths string, 0 for none */
} BsonGinOptions;

/* The paths an index holds keys for, parsed from the paths option */
typedef struct BsonGinPaths
{
	bool		all;			/* no paths option: every path */
	int			npaths;
	char	  **paths;			/* dotted paths, NUL-terminated */
	bool	   *subtree;		/* entry i is "paths[i].$**": all below too */
	int		   *lens;
} BsonGinPaths;

/* A growable array of keys */
typedef struct BsonGinKeys
{
	Datum	   *keys;
	int			nkeys;
	int			maxkeys;
} BsonGinKeys;

/* A node of the expression the consistent functions evaluate */
typedef enum BsonGinExprKind
{
	BSON_GIN_EXPR_ENTRY,
	BSON_GIN_EXPR_AND,
	BSON_GIN_EXPR_OR
} BsonGinExprKind;

typedef struct BsonGinExpr
{
	BsonGinExprKind kind;
	int			entry;			/* ENTRY: index into the entries */
	int			nchildren;		/* AND, OR (an OR of none is false) */
	struct BsonGinExpr **children;
} BsonGinExpr;

/* The extra data of every entry: the expression, and a range's end */
typedef struct BsonGinExtra
{
	BsonGinExpr *root;
	bool		has_upper;
	int			upper_len;
	uint8		upper[BSON_GIN_MAX_STRING];
} BsonGinExtra;

/* The entries of a query, as they are extracted */
typedef struct BsonGinQuery
{
	BsonGinKeys entries;
	bool	   *partial;
	BsonGinExtra **extra;
	int			maxextra;
	const BsonGinPaths *paths;	/* the paths the index holds */
} BsonGinQuery;

PG_FUNCTION_INFO_V1(bson_gin_extract_value);
PG_FUNCTION_INFO_V1(bson_gin_extract_query);
PG_FUNCTION_INFO_V1(bson_gin_consistent);
PG_FUNCTION_INFO_V1(bson_gin_triconsistent);
PG_FUNCTION_INFO_V1(bson_gin_compare_partial);
PG_FUNCTION_INFO_V1(bson_gin_options);

/*
 * Report an invalid path of the paths option.
 */
static void
BsonGinInvalidPath(const char *path, int len, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid path \"%.*s\" in option \"paths\" of operator class bson_gin_ops",
					len, path),
			 errdetail("%s", detail),
			 errhint("The option lists dotted field paths separated by commas, as in paths = 'a,b.c'.")));
}

/*
 * Parse the paths option: comma-separated dotted paths, blanks around each
 * one ignored.  Errors on an empty path or component and on a component
 * that starts with "$" (an operator, never a field a filter can reach).
 * NULL (no option) gives every path.  Allocates in the current context.
 */
static BsonGinPaths *
BsonGinParsePaths(const char *value)
{
	BsonGinPaths *paths = palloc0(sizeof(BsonGinPaths));
	const char *p = value;
	int			maxpaths = 4;

	if (value == NULL)
	{
		paths->all = true;
		return paths;
	}
	paths->paths = palloc(maxpaths * sizeof(char *));
	paths->lens = palloc(maxpaths * sizeof(int));
	paths->subtree = palloc(maxpaths * sizeof(bool));
	for (;;)
	{
		const char *start = p;
		const char *end;
		const char *comp;
		int			len;
		bool		subtree;

		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (start < end && isspace((unsigned char) *start))
			start++;
		while (end > start && isspace((unsigned char) end[-1]))
			end--;
		len = (int) (end - start);
		if (len == 0)
			BsonGinInvalidPath(start, 0, "A path is empty.");
		/* a trailing .$** (or $** alone) lists the whole subtree */
		subtree = false;
		if (len == 3 && memcmp(start, "$**", 3) == 0)
		{
			paths->all = true;
			subtree = true;
		}
		else if (len > 4 && memcmp(end - 4, ".$**", 4) == 0)
		{
			subtree = true;
			end -= 4;
			len -= 4;
		}

		/* every component must be a field name */
		comp = start;
		while (comp <= end && !paths->all)
		{
			const char *dot = comp;

			while (dot < end && *dot != '.')
				dot++;
			if (dot == comp)
				BsonGinInvalidPath(start, len, "A path component is empty.");
			if (*comp == '$')
				BsonGinInvalidPath(start, len,
								   psprintf("Path component \"%.*s\" starts with \"$\", which introduces an operator.",
											(int) (dot - comp), comp));
			comp = dot + 1;
		}

		if (paths->npaths == maxpaths)
		{
			maxpaths *= 2;
			paths->paths = repalloc(paths->paths, maxpaths * sizeof(char *));
			paths->lens = repalloc(paths->lens, maxpaths * sizeof(int));
			paths->subtree = repalloc(paths->subtree, maxpaths * sizeof(bool));
		}
		paths->paths[paths->npaths] = pnstrdup(start, len);
		paths->lens[paths->npaths] = len;
		paths->subtree[paths->npaths] = subtree;
		paths->npaths++;

		if (*p == '\0')
			break;
		p++;					/* past the comma */
	}
	return paths;
}

/*
 * Validator of the paths option, run when an index is created.
 */
static void
BsonGinValidatePaths(const char *value)
{
	BsonGinPaths *paths = BsonGinParsePaths(value);
	int			i;

	for (i = 0; i < paths->npaths; i++)
		pfree(paths->paths[i]);
	if (paths->paths != NULL)
	{
		pfree(paths->paths);
		pfree(paths->lens);
		pfree(paths->subtree);
	}
	pfree(paths);
}

/*
 * The paths an index holds keys for, parsed once per FmgrInfo (the parse
 * lives in fn_mcxt, cached in fn_extra).
 */
static const BsonGinPaths *
BsonGinGetPaths(FunctionCallInfo fcinfo)
{
	BsonGinPaths *paths = (BsonGinPaths *) fcinfo->flinfo->fn_extra;

	if (paths == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		const char *value = NULL;

		if (PG_HAS_OPCLASS_OPTIONS())
			value = GET_STRING_RELOPTION((BsonGinOptions *) PG_GET_OPCLASS_OPTIONS(),
										 paths);
		paths = BsonGinParsePaths(value);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = paths;
	}
	return paths;
}

/* Whether the index holds the keys of a path */
static bool
BsonGinPathListed(const BsonGinPaths *paths, const char *path, int len)
{
	int			i;

	if (paths->all)
		return true;
	for (i = 0; i < paths->npaths; i++)
	{
		if (paths->lens[i] == len && memcmp(paths->paths[i], path, len) == 0)
			return true;
		/* below a subtree entry */
		if (paths->subtree[i] && len > paths->lens[i] &&
			memcmp(paths->paths[i], path, paths->lens[i]) == 0 &&
			path[paths->lens[i]] == '.')
			return true;
	}
	return false;
}

/* Whether a path is listed or leads to a listed path (a prefix of it) */
static bool
BsonGinPathWanted(const BsonGinPaths *paths, const char *path, int len)
{
	int			i;

	if (paths->all)
		return true;
	for (i = 0; i < paths->npaths; i++)
	{
		if (paths->lens[i] >= len && memcmp(paths->paths[i], path, len) == 0 &&
			(paths->lens[i] == len || paths->paths[i][len] == '.'))
			return true;
		if (paths->subtree[i] && len > paths->lens[i] &&
			memcmp(paths->paths[i], path, paths->lens[i]) == 0 &&
			path[paths->lens[i]] == '.')
			return true;
	}
	return false;
}

/*
 * GIN options: the paths option (see the design note).
 */
Datum
bson_gin_options(PG_FUNCTION_ARGS)
{
	local_relopts *relopts = (local_relopts *) PG_GETARG_POINTER(0);

	init_local_reloptions(relopts, sizeof(BsonGinOptions));
	add_local_string_reloption(relopts, "paths",
							   "comma-separated dotted paths the index holds keys for (default: every path)",
							   NULL, BsonGinValidatePaths, NULL,
							   offsetof(BsonGinOptions, paths));
	PG_RETURN_VOID();
}

/*
 * Store a 64-bit number big-endian, so that bytewise order is numeric order.
 */
static void
BsonGinPutUint64(uint8 *out, uint64 v)
{
	int			i;

	for (i = 7; i >= 0; i--)
	{
		out[i] = (uint8) (v & 0xFF);
		v >>= 8;
	}
}

/*
 * The order-preserving 64-bit image of a number: its value rounded to a
 * double (monotone for every type), -0 as 0, NaN below everything.
 */
static uint64
BsonGinNumberBits(const bson_iter_t *it)
{
	double		d;
	uint64		bits;

	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			d = (double) bson_iter_int32(it);
			break;
		case BSON_TYPE_INT64:
			d = (double) bson_iter_int64(it);
			break;
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				BsonDecimal decoded;
				char		buf[BSON_DECIMAL128_STRING];

				bson_iter_decimal128(it, &dec);
				BsonDecodeDecimal128(&dec, &decoded);
				if (decoded.kind == BSON_NUMBER_NAN)
					d = NAN;
				else if (decoded.kind == BSON_NUMBER_INFINITY)
					d = decoded.negative ? -INFINITY : INFINITY;
				else
				{
					/* strtod rounds the exact decimal correctly (so monotonically) */
					bson_decimal128_to_string(&dec, buf);
					d = strtod(buf, NULL);
				}
				break;
			}
		default:
			d = bson_iter_double(it);
			break;
	}

	if (isnan(d))
		return 0;
	if (d == 0)
		d = 0.0;				/* -0 equals 0 */
	memcpy(&bits, &d, sizeof(bits));
	if (bits & UINT64CONST(0x8000000000000000))
		return ~bits;
	return bits ^ UINT64CONST(0x8000000000000000);
}

/*
 * Encode a value (see the design note): sets *tag, fills out (at least
 * BSON_GIN_MAX_VALUE bytes) and returns the number of value bytes.
 */
static int
BsonGinEncodeValue(const bson_iter_t *it, uint8 *tag, uint8 *out)
{
	bson_type_t type = bson_iter_type(it);

	*tag = (uint8) (BsonCanonicalTypeOrder(type) + BSON_GIN_TAG_OFFSET);
	switch (type)
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			BsonGinPutUint64(out, BsonGinNumberBits(it));
			return 8;
		case BSON_TYPE_UTF8:
		case BSON_TYPE_SYMBOL:
			{
				uint32_t	len;
				const char *str = type == BSON_TYPE_UTF8 ?
					bson_iter_utf8(it, &len) : bson_iter_symbol(it, &len);

				if (len <= BSON_GIN_MAX_STRING)
				{
					memcpy(out, str, len);
					return (int) len;
				}
				memcpy(out, str, BSON_GIN_MAX_STRING);
				BsonGinPutUint64(out + BSON_GIN_MAX_STRING,
								 hash_bytes_extended((const unsigned char *) str,
													 (int) len, 0));
				return BSON_GIN_MAX_VALUE;
			}
		case BSON_TYPE_DATE_TIME:
			BsonGinPutUint64(out, ((uint64) bson_iter_date_time(it)) ^
							 UINT64CONST(0x8000000000000000));
			return 8;
		case BSON_TYPE_TIMESTAMP:
			{
				uint32_t	t;
				uint32_t	i;

				bson_iter_timestamp(it, &t, &i);
				BsonGinPutUint64(out, ((uint64) t << 32) | i);
				return 8;
			}
		case BSON_TYPE_OID:
			memcpy(out, bson_iter_oid(it)->bytes, 12);
			return 12;
		case BSON_TYPE_BOOL:
			out[0] = bson_iter_bool(it) ? 1 : 0;
			return 1;
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
		case BSON_TYPE_MINKEY:
		case BSON_TYPE_MAXKEY:
			return 0;
		default:
			BsonGinPutUint64(out, BsonHashValue(it, 0));
			return 8;
	}
}

/*
 * Whether range queries on values of this type can use the keys: the
 * brackets whose encoding preserves MongoDB's order.
 */
static bool
BsonGinRangeType(bson_type_t type)
{
	switch (type)
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
		case BSON_TYPE_UTF8:
		case BSON_TYPE_SYMBOL:
		case BSON_TYPE_DATE_TIME:
		case BSON_TYPE_TIMESTAMP:
		case BSON_TYPE_OID:
		case BSON_TYPE_BOOL:
			return true;
		default:
			return false;
	}
}

/*
 * Build a key from a dotted path, a tag and value bytes.
 */
static Datum
BsonGinMakeKey(const char *path, int pathlen, uint8 tag,
			   const uint8 *value, int valuelen)
{
	bool		hashed = pathlen > BSON_GIN_MAX_PATH;
	int			pathbytes = hashed ? 8 : pathlen;
	int			len = 2 + pathbytes + 1 + valuelen;
	bytea	   *key = palloc(VARHDRSZ + len);
	uint8	   *p = (uint8 *) VARDATA(key);
	int			stored = hashed ? BSON_GIN_HASHED_PATH : pathlen;

	SET_VARSIZE(key, VARHDRSZ + len);
	p[0] = (uint8) (stored >> 8);
	p[1] = (uint8) (stored & 0xFF);
	if (hashed)
		BsonGinPutUint64(p + 2, hash_bytes_extended((const unsigned char *) path,
													pathlen, 0));
	else
		memcpy(p + 2, path, pathlen);
	p[2 + pathbytes] = tag;
	if (valuelen > 0)
		memcpy(p + 3 + pathbytes, value, valuelen);
	return PointerGetDatum(key);
}

/*
 * Where the value bytes of a key start (after its path and tag).
 */
static int
BsonGinValueOffset(const uint8 *p)
{
	int			stored = (p[0] << 8) | p[1];

	return 2 + (stored == BSON_GIN_HASHED_PATH ? 8 : stored) + 1;
}

/* Append a key to a growable array */
static void
BsonGinAddKey(BsonGinKeys *keys, Datum key)
{
	if (keys->nkeys == keys->maxkeys)
	{
		keys->maxkeys = keys->maxkeys == 0 ? 16 : keys->maxkeys * 2;
		keys->keys = keys->keys == NULL ?
			palloc(keys->maxkeys * sizeof(Datum)) :
			repalloc(keys->keys, keys->maxkeys * sizeof(Datum));
	}
	keys->keys[keys->nkeys++] = key;
}

static void BsonGinWalkValue(BsonGinKeys *keys, const BsonGinPaths *paths,
							 StringInfo path, const bson_iter_t *it);

/*
 * Emit the keys of a field whose dotted path is in path: its existence and
 * its value, when the index holds them.  Fields that neither are listed nor
 * lead to a listed path are skipped whole.
 */
static void
BsonGinWalkField(BsonGinKeys *keys, const BsonGinPaths *paths, StringInfo path,
				 const bson_iter_t *it)
{
	if (!BsonGinPathWanted(paths, path->data, path->len))
		return;
	if (BsonGinPathListed(paths, path->data, path->len))
		BsonGinAddKey(keys, BsonGinMakeKey(path->data, path->len,
										   BSON_GIN_TAG_EXISTS, NULL, 0));
	BsonGinWalkValue(keys, paths, path, it);
}

/*
 * Emit the keys of a value reached at a path: the value itself (when the
 * path is listed) and, for a document, its fields, for an array, its
 * elements (recursively).
 */
static void
BsonGinWalkValue(BsonGinKeys *keys, const BsonGinPaths *paths, StringInfo path,
				 const bson_iter_t *it)
{
	uint8		value[BSON_GIN_MAX_VALUE];
	uint8		tag;
	int			len;
	bson_iter_t child;

	check_stack_depth();
	if (BsonGinPathListed(paths, path->data, path->len))
	{
		len = BsonGinEncodeValue(it, &tag, value);
		BsonGinAddKey(keys, BsonGinMakeKey(path->data, path->len, tag, value, len));
	}

	if (BSON_ITER_HOLDS_DOCUMENT(it) && bson_iter_recurse(it, &child))
	{
		while (bson_iter_next(&child))
		{
			int			saved = path->len;

			CHECK_FOR_INTERRUPTS();
			appendStringInfoChar(path, '.');
			appendBinaryStringInfo(path, bson_iter_key(&child),
								   bson_iter_key_len(&child));
			BsonGinWalkField(keys, paths, path, &child);
			path->len = saved;
			path->data[saved] = '\0';
		}
	}
	else if (BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child))
	{
		/* the elements are reached at the array's own path (multikey) */
		while (bson_iter_next(&child))
		{
			CHECK_FOR_INTERRUPTS();
			BsonGinWalkValue(keys, paths, path, &child);
		}
	}
}

/*
 * GIN extractValue: the keys of a document (none for a non-document, which
 * matches no filter).
 */
Datum
bson_gin_extract_value(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	int32	   *nkeys = (int32 *) PG_GETARG_POINTER(1);
	const BsonGinPaths *paths = BsonGinGetPaths(fcinfo);
	BsonGinKeys keys = {0};
	StringInfoData path;
	bson_iter_t it;

	if (!BsonIsScalar(doc) &&
		bson_iter_init_from_data(&it, BsonBytes(doc), BsonDocLen(doc)))
	{
		initStringInfo(&path);
		while (bson_iter_next(&it))
		{
			CHECK_FOR_INTERRUPTS();
			resetStringInfo(&path);
			appendBinaryStringInfo(&path, bson_iter_key(&it), bson_iter_key_len(&it));
			BsonGinWalkField(&keys, paths, &path, &it);
		}
	}

	*nkeys = keys.nkeys;
	PG_RETURN_POINTER(keys.keys);
}

/*
 * The dotted path of a leaf, relative to base (the path of an enclosing
 * $elemMatch, NULL at the top).  False when the path has a numeric
 * component (it may index an array) or a path-less leaf has no base.
 */
static bool
BsonGinNodePath(const QueryNode *node, const StringInfo base, StringInfo out)
{
	int			i;

	resetStringInfo(out);
	if (base != NULL)
		appendBinaryStringInfo(out, base->data, base->len);
	else if (node->npath == 0)
		return false;
	for (i = 0; i < node->npath; i++)
	{
		if (node->path[i].is_index)
			return false;
		if (base != NULL || i > 0)
			appendStringInfoChar(out, '.');
		appendBinaryStringInfo(out, node->path[i].name, node->path[i].len);
	}
	return true;
}

/*
 * The path of a condition on one field (as BsonGinNodePath), also false
 * when the index holds no keys for it.
 */
static bool
BsonGinLeafPath(const BsonGinQuery *query, const QueryNode *node,
				const StringInfo base, StringInfo out)
{
	return BsonGinNodePath(node, base, out) &&
		BsonGinPathListed(query->paths, out->data, out->len);
}

/* A new expression node */
static BsonGinExpr *
BsonGinNewExpr(BsonGinExprKind kind, int nchildren)
{
	BsonGinExpr *expr = palloc0(sizeof(BsonGinExpr));

	expr->kind = kind;
	if (nchildren > 0)
		expr->children = palloc0(nchildren * sizeof(BsonGinExpr *));
	return expr;
}

/*
 * Add an entry to the query; returns its expression leaf.  upper (when
 * partial) is the value bytes a range ends at, NULL for none.
 */
static BsonGinExpr *
BsonGinAddEntry(BsonGinQuery *query, Datum key, bool partial,
				const uint8 *upper, int upper_len)
{
	BsonGinExtra *extra = palloc0(sizeof(BsonGinExtra));
	BsonGinExpr *expr = BsonGinNewExpr(BSON_GIN_EXPR_ENTRY, 0);

	if (upper != NULL)
	{
		extra->has_upper = true;
		extra->upper_len = Min(upper_len, BSON_GIN_MAX_STRING);
		memcpy(extra->upper, upper, extra->upper_len);
	}
	BsonGinAddKey(&query->entries, key);
	if (query->entries.maxkeys > query->maxextra)
	{
		query->maxextra = query->entries.maxkeys;
		query->partial = query->partial == NULL ?
			palloc(query->maxextra * sizeof(bool)) :
			repalloc(query->partial, query->maxextra * sizeof(bool));
		query->extra = query->extra == NULL ?
			palloc(query->maxextra * sizeof(BsonGinExtra *)) :
			repalloc(query->extra, query->maxextra * sizeof(BsonGinExtra *));
	}
	expr->entry = query->entries.nkeys - 1;
	query->partial[expr->entry] = partial;
	query->extra[expr->entry] = extra;
	return expr;
}

/* The exact entry of an equality with a value (NULL: not indexable) */
static BsonGinExpr *
BsonGinEqualityEntry(BsonGinQuery *query, const StringInfo path,
					 const bson_iter_t *value)
{
	uint8		buf[BSON_GIN_MAX_VALUE];
	uint8		tag;
	int			len;

	/* null and undefined also match missing fields */
	if (BSON_ITER_HOLDS_NULL(value) || BSON_ITER_HOLDS_UNDEFINED(value))
		return NULL;
	len = BsonGinEncodeValue(value, &tag, buf);
	return BsonGinAddEntry(query, BsonGinMakeKey(path->data, path->len, tag, buf, len),
						   false, NULL, 0);
}

/* The partial-match entry of $gt, $gte, $lt or $lte (NULL: not indexable) */
static BsonGinExpr *
BsonGinRangeEntry(BsonGinQuery *query, const StringInfo path, QueryOp op,
				  const bson_iter_t *value)
{
	uint8		buf[BSON_GIN_MAX_VALUE];
	uint8		tag;
	int			len;

	if (!BsonGinRangeType(bson_iter_type(value)))
		return NULL;
	len = BsonGinEncodeValue(value, &tag, buf);
	/* a long string's hash does not order: bounds use its prefix only */
	len = Min(len, BSON_GIN_MAX_STRING);
	if (op == QUERY_GT || op == QUERY_GTE)
		return BsonGinAddEntry(query, BsonGinMakeKey(path->data, path->len, tag,
													 buf, len),
							   true, NULL, 0);
	return BsonGinAddEntry(query, BsonGinMakeKey(path->data, path->len, tag, NULL, 0),
						   true, buf, len);
}

/*
 * Combine the expressions of children: an AND keeps the indexable ones
 * (NULL when none is), an OR needs all of them.
 */
static BsonGinExpr *
BsonGinCombine(BsonGinExprKind kind, BsonGinExpr **children, int nchildren)
{
	BsonGinExpr *expr;
	int			n = 0;
	int			i;

	for (i = 0; i < nchildren; i++)
	{
		if (children[i] != NULL)
			children[n++] = children[i];
		else if (kind == BSON_GIN_EXPR_OR)
			return NULL;
	}
	if (kind == BSON_GIN_EXPR_AND && n == 0)
		return NULL;
	if (n == 1)
		return children[0];
	expr = BsonGinNewExpr(kind, 0);
	expr->nchildren = n;
	expr->children = children;
	return expr;
}

/*
 * The expression that finds a superset of the documents a filter node
 * matches, or NULL when the node cannot use the index.  base is the path
 * of the enclosing $elemMatch (NULL at the top).
 */
static BsonGinExpr *
BsonGinExtractNode(BsonGinQuery *query, const QueryNode *node, const StringInfo base)
{
	StringInfoData path;
	BsonGinExpr **children;
	int			i;

	check_stack_depth();
	initStringInfo(&path);

	switch (node->op)
	{
		case QUERY_AND:
		case QUERY_OR:
			children = palloc0(Max(node->nchildren, 1) * sizeof(BsonGinExpr *));
			for (i = 0; i < node->nchildren; i++)
				children[i] = BsonGinExtractNode(query, node->children[i], base);
			return BsonGinCombine(node->op == QUERY_AND ? BSON_GIN_EXPR_AND :
								  BSON_GIN_EXPR_OR, children, node->nchildren);

		case QUERY_FALSE:
			/* matches nothing: an OR of no entries */
			return BsonGinNewExpr(BSON_GIN_EXPR_OR, 0);

		case QUERY_EQ:
			if (node->u.cmp.collation != NULL || !BsonGinLeafPath(query, node, base, &path))
				return NULL;
			return BsonGinEqualityEntry(query, &path, &node->u.cmp.value);

		case QUERY_LT:
		case QUERY_LTE:
		case QUERY_GT:
		case QUERY_GTE:
			if (node->u.cmp.collation != NULL || !BsonGinLeafPath(query, node, base, &path))
				return NULL;
			return BsonGinRangeEntry(query, &path, node->op, &node->u.cmp.value);

		case QUERY_IN:
			if (node->u.in.collation != NULL || node->u.in.has_null ||
				node->u.in.nregexes > 0 || !BsonGinLeafPath(query, node, base, &path))
				return NULL;
			children = palloc0(Max(node->u.in.nvalues, 1) * sizeof(BsonGinExpr *));
			for (i = 0; i < node->u.in.nvalues; i++)
				children[i] = BsonGinEqualityEntry(query, &path,
												   &node->u.in.values[i].it);
			if (node->u.in.nvalues == 0)
				return BsonGinNewExpr(BSON_GIN_EXPR_OR, 0);
			return BsonGinCombine(BSON_GIN_EXPR_OR, children, node->u.in.nvalues);

		case QUERY_EXISTS:
			if (!BsonGinLeafPath(query, node, base, &path))
				return NULL;
			return BsonGinAddEntry(query, BsonGinMakeKey(path.data, path.len,
														 BSON_GIN_TAG_EXISTS, NULL, 0),
								   false, NULL, 0);

		case QUERY_ELEM_MATCH_VALUE:
		case QUERY_ELEM_MATCH_OBJECT:
			{
				BsonGinExpr *expr;

				if (!BsonGinNodePath(node, base, &path))
					return NULL;
				/* the conditions apply to elements, reached at the array's path */
				children = palloc0(Max(node->nchildren, 1) * sizeof(BsonGinExpr *));
				for (i = 0; i < node->nchildren; i++)
					children[i] = BsonGinExtractNode(query, node->children[i], &path);
				expr = BsonGinCombine(BSON_GIN_EXPR_AND, children, node->nchildren);
				if (expr != NULL)
					return expr;
				/* nothing indexable inside: the array's path must exist */
				if (!BsonGinPathListed(query->paths, path.data, path.len))
					return NULL;
				return BsonGinAddEntry(query, BsonGinMakeKey(path.data, path.len,
															 BSON_GIN_TAG_EXISTS,
															 NULL, 0),
									   false, NULL, 0);
			}

		default:
			/* $not, $nor, $regex, $type, $size, geo, $text, ...: not indexable */
			return NULL;
	}
}

/*
 * GIN extractQuery: the entries of a filter and the expression over them,
 * or a full index scan when nothing in the filter is indexable.
 */
Datum
bson_gin_extract_query(PG_FUNCTION_ARGS)
{
	Bson	   *filter = PG_GETARG_BSON_P(0);
	int32	   *nentries = (int32 *) PG_GETARG_POINTER(1);
	StrategyNumber strategy = PG_GETARG_UINT16(2);
	bool	  **pmatch = (bool **) PG_GETARG_POINTER(3);
	Pointer   **extra_data = (Pointer **) PG_GETARG_POINTER(4);
	int32	   *search_mode = (int32 *) PG_GETARG_POINTER(6);
	BsonQueryError error = {0};
	BsonFilter *compiled;
	BsonGinQuery query = {0};
	BsonGinExpr *root;
	int			i;

	if (strategy != BSON_GIN_MATCHES_STRATEGY)
		elog(ERROR, "unrecognized strategy number: %d", strategy);
	if (BsonIsScalar(filter))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a MongoDB filter must be a document")));
	compiled = BsonFilterCompile(BsonBytes(filter), BsonDocLen(filter), &error);
	if (compiled == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid MongoDB filter: %s",
						error.message ? error.message : "unknown error"),
				 errdetail("MongoDB error code %d (%s).", error.code,
						   error.code_name ? error.code_name : "Error")));

	query.paths = BsonGinGetPaths(fcinfo);
	root = BsonGinExtractNode(&query, compiled->root, NULL);
	BsonFilterFree(compiled);

	if (root == NULL)
	{
		/* nothing indexable: every document is a candidate */
		*nentries = 0;
		*search_mode = GIN_SEARCH_MODE_ALL;
		PG_RETURN_POINTER(NULL);
	}

	/* an expression with no entries is false: GIN then returns nothing */
	for (i = 0; i < query.entries.nkeys; i++)
		query.extra[i]->root = root;
	*nentries = query.entries.nkeys;
	*pmatch = query.partial;
	*extra_data = (Pointer *) query.extra;
	*search_mode = GIN_SEARCH_MODE_DEFAULT;
	PG_RETURN_POINTER(query.entries.keys);
}

/* Evaluate an expression over the entries present (true, false, maybe) */
static GinTernaryValue
BsonGinEvaluate(const BsonGinExpr *expr, const GinTernaryValue *check)
{
	GinTernaryValue result;
	int			i;

	check_stack_depth();
	switch (expr->kind)
	{
		case BSON_GIN_EXPR_ENTRY:
			return check[expr->entry];
		case BSON_GIN_EXPR_AND:
			result = GIN_TRUE;
			for (i = 0; i < expr->nchildren; i++)
			{
				GinTernaryValue v = BsonGinEvaluate(expr->children[i], check);

				if (v == GIN_FALSE)
					return GIN_FALSE;
				if (v == GIN_MAYBE)
					result = GIN_MAYBE;
			}
			return result;
		case BSON_GIN_EXPR_OR:
			result = GIN_FALSE;
			for (i = 0; i < expr->nchildren; i++)
			{
				GinTernaryValue v = BsonGinEvaluate(expr->children[i], check);

				if (v == GIN_TRUE)
					return GIN_TRUE;
				if (v == GIN_MAYBE)
					result = GIN_MAYBE;
			}
			return result;
	}
	elog(ERROR, "unrecognized bson GIN expression kind: %d", (int) expr->kind);
	return GIN_FALSE;			/* keep compiler quiet */
}

/*
 * GIN consistent: whether a document may match, given which entries it
 * has; always rechecked.
 */
Datum
bson_gin_consistent(PG_FUNCTION_ARGS)
{
	bool	   *check = (bool *) PG_GETARG_POINTER(0);
	int32		nkeys = PG_GETARG_INT32(3);
	Pointer    *extra_data = (Pointer *) PG_GETARG_POINTER(4);
	bool	   *recheck = (bool *) PG_GETARG_POINTER(5);
	GinTernaryValue *ternary;
	int			i;

	*recheck = true;
	if (nkeys == 0 || extra_data == NULL)
		PG_RETURN_BOOL(true);	/* full index scan */

	ternary = palloc(nkeys * sizeof(GinTernaryValue));
	for (i = 0; i < nkeys; i++)
		ternary[i] = check[i] ? GIN_TRUE : GIN_FALSE;
	PG_RETURN_BOOL(BsonGinEvaluate(((BsonGinExtra *) extra_data[0])->root,
								   ternary) != GIN_FALSE);
}

/*
 * GIN triConsistent: as bson_gin_consistent, with entries that may or may
 * not be present; never answers true without a recheck.
 */
Datum
bson_gin_triconsistent(PG_FUNCTION_ARGS)
{
	GinTernaryValue *check = (GinTernaryValue *) PG_GETARG_POINTER(0);
	int32		nkeys = PG_GETARG_INT32(3);
	Pointer    *extra_data = (Pointer *) PG_GETARG_POINTER(4);
	GinTernaryValue result;

	if (nkeys == 0 || extra_data == NULL)
		PG_RETURN_GIN_TERNARY_VALUE(GIN_MAYBE);
	result = BsonGinEvaluate(((BsonGinExtra *) extra_data[0])->root, check);
	PG_RETURN_GIN_TERNARY_VALUE(result == GIN_FALSE ? GIN_FALSE : GIN_MAYBE);
}

/*
 * GIN comparePartial: 0 while a key is inside the range that starts at the
 * partial key, 1 past its end (another path or bracket, or above the upper
 * bound, compared on the order-preserving prefix of the value).
 */
Datum
bson_gin_compare_partial(PG_FUNCTION_ARGS)
{
	bytea	   *partial = PG_GETARG_BYTEA_PP(0);
	bytea	   *key = PG_GETARG_BYTEA_PP(1);
	BsonGinExtra *extra = (BsonGinExtra *) PG_GETARG_POINTER(3);
	const uint8 *pp = (const uint8 *) VARDATA_ANY(partial);
	const uint8 *kp = (const uint8 *) VARDATA_ANY(key);
	int			klen = VARSIZE_ANY_EXHDR(key);
	int			prefix = BsonGinValueOffset(pp);
	int			vlen;
	int			cmp;

	if (klen < prefix || memcmp(pp, kp, prefix) != 0)
		PG_RETURN_INT32(1);
	if (extra == NULL || !extra->has_upper)
		PG_RETURN_INT32(0);

	vlen = Min(klen - prefix, BSON_GIN_MAX_STRING);
	cmp = memcmp(kp + prefix, extra->upper, Min(vlen, extra->upper_len));
	if (cmp == 0)
		cmp = vlen - extra->upper_len;
	PG_RETURN_INT32(cmp > 0 ? 1 : 0);
}
