/*-------------------------------------------------------------------------
 *
 * update_parse.c
 *	  Compiling a MongoDB update document into a tree of paths.
 *
 * Design note
 * -----------
 * MongoDB decides the form of an update by its first key: "$"-prefixed
 * means operators ({$set: {...}, $inc: {...}}), then every key must be a
 * known operator; anything else is a replacement document.  An array (a
 * pipeline) is refused by the callers with NotImplemented for now.
 *
 * Operators merge into one tree of path components, as MongoDB's
 * UpdateNode tree: every path ends in a leaf holding its operator, and a
 * path that meets a leaf on its way, or ends where another path passes,
 * conflicts (ConflictingUpdateOperators, 40): {$set: {a: 1}, $inc:
 * {"a.b": 1}}.  $rename puts its leaf at the destination and a placeholder
 * at the source, so that both take part in conflict detection.  A
 * component "$" becomes the positional child of its object node; a
 * component "$[]" or "$[id]" makes its parent an array node, and "a.0"
 * with "a.$[]" conflicts at "a" as in MongoDB.
 *
 * Children of an object node are kept in the order MongoDB applies them,
 * which is also the order in which new fields appear in a document: by
 * field name, byte-wise, except that two all-digit names compare as
 * numbers (MongoDB 5.0 and later).
 *
 * Every operand is checked here, so that applying an update only meets
 * errors that depend on the document (a non-numeric field for $inc, a
 * path through a scalar...).  Conditions of $pull and array filters are
 * compiled once by the filter engine (query.h).
 *
 * IDENTIFICATION
 *	  src/update_parse.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include "lib/stringinfo.h"

#include "bson_compare.h"
#include "bson_json.h"
#include "update_internal.h"

/* MongoDB's location code for field names with an embedded NUL */
#define MONGO_FIELD_NAME_HAS_NUL	9867600

/* A chunk of an UpdateArena: the header keeps the data 16-byte aligned */
typedef struct UpdateChunk
{
	struct UpdateChunk *next;
	void	   *pad;
} UpdateChunk;

/* State of one compilation */
typedef struct UpdateParser
{
	BsonUpdate *u;
	BsonQueryError *error;
} UpdateParser;

/* The update operators by name */
static const struct
{
	const char *name;
	UpdateOp	op;
}			update_ops[] = {
	{"$set", UPDATE_OP_SET},
	{"$unset", UPDATE_OP_UNSET},
	{"$inc", UPDATE_OP_INC},
	{"$mul", UPDATE_OP_MUL},
	{"$min", UPDATE_OP_MIN},
	{"$max", UPDATE_OP_MAX},
	{"$rename", UPDATE_OP_RENAME},
	{"$setOnInsert", UPDATE_OP_SET_ON_INSERT},
	{"$currentDate", UPDATE_OP_CURRENT_DATE},
	{"$push", UPDATE_OP_PUSH},
	{"$addToSet", UPDATE_OP_ADD_TO_SET},
	{"$pop", UPDATE_OP_POP},
	{"$pull", UPDATE_OP_PULL},
	{"$pullAll", UPDATE_OP_PULL_ALL},
	{"$bit", UPDATE_OP_BIT},
};


/* ----------------------------------------------------------------
 *		Memory, errors and small helpers
 * ----------------------------------------------------------------
 */

/*
 * UpdateAlloc
 *		Zeroed memory that lives as long as the arena.
 */
void *
UpdateAlloc(UpdateArena *arena, size_t size)
{
	UpdateChunk *chunk = palloc0(sizeof(UpdateChunk) + Max(size, 1));

	chunk->next = arena->chunks;
	arena->chunks = chunk;
	return chunk + 1;
}

/*
 * UpdateArenaFree
 *		Release every chunk of an arena.
 */
void
UpdateArenaFree(UpdateArena *arena)
{
	UpdateChunk *chunk = arena->chunks;

	while (chunk != NULL)
	{
		UpdateChunk *next = chunk->next;

		pfree(chunk);
		chunk = next;
	}
	arena->chunks = NULL;
}

/*
 * UpdateCodeName
 *		MongoDB's codeName of the codes the update engine reports.
 */
static const char *
UpdateCodeName(int code)
{
	switch (code)
	{
		case MONGO_BAD_VALUE:
			return "BadValue";
		case MONGO_FAILED_TO_PARSE:
			return "FailedToParse";
		case MONGO_TYPE_MISMATCH:
			return "TypeMismatch";
		case MONGO_PATH_NOT_VIABLE:
			return "PathNotViable";
		case MONGO_CONFLICTING_UPDATE_OPS:
			return "ConflictingUpdateOperators";
		case MONGO_DOLLAR_PREFIXED_FIELD:
			return "DollarPrefixedFieldName";
		case MONGO_NOT_SINGLE_VALUE_FIELD:
			return "NotSingleValueField";
		case MONGO_EMPTY_FIELD_NAME:
			return "EmptyFieldName";
		case MONGO_IMMUTABLE_FIELD:
			return "ImmutableField";
		case MONGO_NOT_IMPLEMENTED:
			return "NotImplemented";
		case MONGO_DOCUMENT_TOO_LARGE:
			return "Location17419";
		case MONGO_FIELD_NAME_HAS_NUL:
			return "Location9867600";
		default:
			return "UnknownError";
	}
}

/*
 * UpdateFail
 *		Fill *error (the first error wins) and return false, so that callers
 *		can "return UpdateFail(...)".
 */
bool
UpdateFail(BsonQueryError *error, int code, const char *format,...)
{
	va_list		args;

	va_start(args, format);
	(void) BsonErrorSetV(error, true, code, UpdateCodeName(code), format, args);
	va_end(args);
	return false;
}

/*
 * UpdateIsNumericPart
 *		Whether a path component is all digits (an array index), and its
 *		value (saturated far above any index an array can have).
 */
bool
UpdateIsNumericPart(const char *name, int64_t *index)
{
	int64_t		v = 0;

	if (*name == '\0')
		return false;
	for (const char *p = name; *p != '\0'; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		if (v < PG_INT32_MAX)
			v = v * 10 + (*p - '0');
	}
	if (index != NULL)
		*index = v;
	return true;
}

/*
 * UpdateCompareNames
 *		MongoDB's application order of the fields of one level: byte-wise,
 *		except that two all-digit names compare as numbers (shorter first).
 */
static int
UpdateCompareNames(const char *a, const char *b)
{
	size_t		alen = strlen(a);
	size_t		blen = strlen(b);

	if (alen != blen && UpdateIsNumericPart(a, NULL) &&
		UpdateIsNumericPart(b, NULL))
		return alen < blen ? -1 : 1;
	return strcmp(a, b);
}

/*
 * UpdateOperandText
 *		The Extended JSON text of a value, for messages (in the update's
 *		arena, so that it goes with the update).
 */
static char *
UpdateOperandText(UpdateParser *parser, const bson_iter_t *it)
{
	StringInfoData buf;
	char	   *copy;

	initStringInfo(&buf);
	BsonPrintValue(&buf, it, BSON_JSON_RELAXED);
	copy = UpdateAlloc(&parser->u->arena, buf.len + 1);
	memcpy(copy, buf.data, buf.len + 1);
	pfree(buf.data);
	return copy;
}

/*
 * UpdateIsNumber
 *		Whether an iterator holds one of the four numeric types.
 */
static bool
UpdateIsNumber(const bson_iter_t *it)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			return true;
		default:
			return false;
	}
}


/* ----------------------------------------------------------------
 *		Paths and the tree
 * ----------------------------------------------------------------
 */

/*
 * UpdateSplitPath
 *		Split a dotted update path into its components (in the update's
 *		arena) and check it: no empty component (EmptyFieldName), at most
 *		one positional "$" and not first, no array filter first.  *dollar
 *		is set when another component starts with "$": MongoDB refuses such
 *		a field in a stored document, but creates it in an upserted one.
 */
static bool
UpdateSplitPath(UpdateParser *parser, const char *path, uint32_t len,
				char ***parts_out, int *nparts_out, bool *dollar)
{
	BsonUpdate *u = parser->u;
	int			nparts = 1;
	int			npositional = 0;
	char	  **parts;
	const char *start = path;

	*dollar = false;

	if (len == 0)
		return UpdateFail(parser->error, MONGO_EMPTY_FIELD_NAME,
						  "An empty update path is not valid.");
	if (memchr(path, '\0', len) != NULL)
		return UpdateFail(parser->error, MONGO_FIELD_NAME_HAS_NUL,
						  "Field names cannot contain embedded null characters");
	for (uint32_t i = 0; i < len; i++)
	{
		if (path[i] == '.')
			nparts++;
	}
	if (nparts > UPDATE_MAX_DEPTH)
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "The update path '%s' has more than %d components",
						  path, UPDATE_MAX_DEPTH);

	parts = UpdateAlloc(&u->arena, nparts * sizeof(char *));
	for (int i = 0; i < nparts; i++)
	{
		const char *end = memchr(start, '.', path + len - start);
		size_t		plen;
		char	   *part;

		if (end == NULL)
			end = path + len;
		plen = end - start;
		if (plen == 0)
			return UpdateFail(parser->error, MONGO_EMPTY_FIELD_NAME,
							  "The update path '%s' contains an empty field name, which is not allowed.",
							  path);
		part = UpdateAlloc(&u->arena, plen + 1);
		memcpy(part, start, plen);
		parts[i] = part;
		start = end + 1;
	}

	for (int i = 0; i < nparts; i++)
	{
		const char *part = parts[i];
		size_t		plen = strlen(part);

		if (part[0] != '$')
			continue;
		if (plen == 1)
		{
			if (i == 0)
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "Cannot have positional (i.e. '$') element in the first position in path '%s'",
								  path);
			if (++npositional > 1)
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "Too many positional (i.e. '$') elements found in path '%s'",
								  path);
			continue;
		}
		if (part[1] == '[' && part[plen - 1] == ']')
		{
			if (i == 0)
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '%s'",
								  path);
			continue;
		}
		/* refused when applied to a stored document (DollarPrefixedFieldName) */
		*dollar = true;
	}

	*parts_out = parts;
	*nparts_out = nparts;
	return true;
}

/*
 * UpdateIsArrayFilterPart
 *		Whether a component is "$[]" or "$[identifier]".
 */
static bool
UpdateIsArrayFilterPart(const char *part)
{
	size_t		len = strlen(part);

	return len >= 3 && part[0] == '$' && part[1] == '[' && part[len - 1] == ']';
}

/*
 * UpdateDotted
 *		The first n components of a path, joined with dots (for messages).
 */
static char *
UpdateDotted(char **parts, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, '.');
		appendStringInfoString(&buf, parts[i]);
	}
	return buf.data;
}

/*
 * UpdateNewNode
 *		A node of the tree.
 */
static UpdateNode *
UpdateNewNode(BsonUpdate *u, UpdateNodeKind kind, const char *name)
{
	UpdateNode *node = UpdateAlloc(&u->arena, sizeof(UpdateNode));

	node->kind = kind;
	node->name = name;
	node->filter = -1;
	return node;
}

/*
 * UpdateFindChild
 *		The child of an object or array node with the given name, or NULL.
 */
static UpdateNode *
UpdateFindChild(UpdateNode *parent, const char *name)
{
	if (strcmp(name, "$") == 0)
		return parent->positional;
	for (int i = 0; i < parent->nchildren; i++)
	{
		if (strcmp(parent->children[i]->name, name) == 0)
			return parent->children[i];
	}
	return NULL;
}

/*
 * UpdateAddChild
 *		Add a child to an object or array node, in application order.
 */
static void
UpdateAddChild(BsonUpdate *u, UpdateNode *parent, UpdateNode *child)
{
	int			pos;

	if (strcmp(child->name, "$") == 0)
	{
		parent->positional = child;
		u->needs_position = true;
		return;
	}
	if (parent->nchildren == parent->maxchildren)
	{
		int			newmax = Max(4, parent->maxchildren * 2);
		UpdateNode **children = UpdateAlloc(&u->arena, newmax * sizeof(UpdateNode *));

		if (parent->nchildren > 0)
			memcpy(children, parent->children, parent->nchildren * sizeof(UpdateNode *));
		parent->children = children;
		parent->maxchildren = newmax;
	}
	pos = parent->nchildren;
	while (pos > 0 && UpdateCompareNames(parent->children[pos - 1]->name, child->name) > 0)
	{
		parent->children[pos] = parent->children[pos - 1];
		pos--;
	}
	parent->children[pos] = child;
	parent->nchildren++;
}

/*
 * UpdateFindFilter
 *		Resolve the identifier of a "$[identifier]" component to its array
 *		filter (marking it used); -1 for "$[]"; -2 (error set) when there
 *		is no such filter.
 */
static int
UpdateFindFilter(UpdateParser *parser, const char *part, const char *path)
{
	BsonUpdate *u = parser->u;
	size_t		len = strlen(part) - 3;

	if (len == 0)
		return -1;
	for (int i = 0; i < u->nfilters; i++)
	{
		if (strlen(u->filters[i].identifier) == len &&
			memcmp(u->filters[i].identifier, part + 2, len) == 0)
		{
			u->filters[i].used = true;
			return i;
		}
	}
	UpdateFail(parser->error, MONGO_BAD_VALUE,
			   "No array filter found for identifier '%.*s' in path '%s'",
			   (int) len, part + 2, path);
	return -2;
}

/*
 * UpdateInsertLeaf
 *		Put a leaf at the end of a split path, creating the object and
 *		array nodes on the way, and report MongoDB's conflicts.
 */
static bool
UpdateInsertLeaf(UpdateParser *parser, char **parts, int nparts,
				 UpdateLeaf *leaf)
{
	BsonUpdate *u = parser->u;
	UpdateNode *node = u->root;

	for (int i = 0; i < nparts; i++)
	{
		bool		last = (i == nparts - 1);
		bool		want_array = !last && UpdateIsArrayFilterPart(parts[i + 1]);
		UpdateNode *child = UpdateFindChild(node, parts[i]);
		int			filter = -1;

		if (node->kind == UPDATE_NODE_ARRAY)
		{
			filter = UpdateFindFilter(parser, parts[i], leaf->path);
			if (filter == -2)
				return false;
		}

		if (child != NULL)
		{
			if (last || child->kind == UPDATE_NODE_LEAF ||
				(want_array != (child->kind == UPDATE_NODE_ARRAY)))
			{
				char	   *at = UpdateDotted(parts, last ? nparts : i + 1);

				UpdateFail(parser->error, MONGO_CONFLICTING_UPDATE_OPS,
						   "Updating the path '%s' would create a conflict at '%s'",
						   leaf->path, at);
				pfree(at);
				return false;
			}
		}
		else
		{
			child = UpdateNewNode(u, last ? UPDATE_NODE_LEAF :
								  want_array ? UPDATE_NODE_ARRAY : UPDATE_NODE_OBJECT,
								  parts[i]);
			child->filter = filter;
			if (last)
				child->leaf = leaf;
			UpdateAddChild(u, node, child);
		}
		node = child;
	}
	return true;
}

/*
 * UpdateNewLeaf
 *		A leaf for an operator at a path, registered for BsonUpdateFree.
 */
static UpdateLeaf *
UpdateNewLeaf(BsonUpdate *u, UpdateOp op, const char *path, const bson_iter_t *value)
{
	UpdateLeaf *leaf = UpdateAlloc(&u->arena, sizeof(UpdateLeaf));

	leaf->op = op;
	leaf->path = path;
	if (value != NULL)
		leaf->operand = *bson_iter_value((bson_iter_t *) value);
	else
		leaf->operand.value_type = BSON_TYPE_EOD;

	if (u->nleaves == u->maxleaves)
	{
		int			newmax = Max(8, u->maxleaves * 2);
		UpdateLeaf **leaves = UpdateAlloc(&u->arena, newmax * sizeof(UpdateLeaf *));

		if (u->nleaves > 0)
			memcpy(leaves, u->leaves, u->nleaves * sizeof(UpdateLeaf *));
		u->leaves = leaves;
		u->maxleaves = newmax;
	}
	u->leaves[u->nleaves++] = leaf;
	return leaf;
}

/*
 * UpdateCopyValues
 *		The elements of an array iterator's array, copied into the leaf.
 */
static void
UpdateCopyValues(BsonUpdate *u, const bson_iter_t *array, int *n, bson_value_t **values)
{
	bson_iter_t it;
	int			count = 0;

	if (bson_iter_recurse(array, &it))
	{
		while (bson_iter_next(&it))
			count++;
	}
	*n = count;
	*values = UpdateAlloc(&u->arena, Max(count, 1) * sizeof(bson_value_t));
	count = 0;
	if (bson_iter_recurse(array, &it))
	{
		while (bson_iter_next(&it))
			(*values)[count++] = *bson_iter_value(&it);
	}
}


/* ----------------------------------------------------------------
 *		Operands
 * ----------------------------------------------------------------
 */

/*
 * UpdateIntegralOperand
 *		An integral number of $push's $slice or $position; false when the
 *		value is not a number or not integral (or out of range).
 */
static bool
UpdateIntegralOperand(const bson_iter_t *it, int64_t *out)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			*out = bson_iter_int32(it);
			return true;
		case BSON_TYPE_INT64:
			*out = bson_iter_int64(it);
			return true;
		case BSON_TYPE_DOUBLE:
			{
				double		d = bson_iter_double(it);

				if (isnan(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18)
					return false;
				*out = (int64_t) d;
				return true;
			}
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				char		text[BSON_DECIMAL128_STRING];
				char	   *end;
				double		d;

				bson_iter_decimal128(it, &dec);
				bson_decimal128_to_string(&dec, text);
				d = strtod(text, &end);
				if (*end != '\0' || isnan(d) || d != floor(d) ||
					d < -9.2e18 || d > 9.2e18)
					return false;
				*out = (int64_t) d;
				return true;
			}
		default:
			return false;
	}
}

/*
 * UpdateSortDirection
 *		1 or -1 from a $sort value, 0 when it is neither.
 */
static int
UpdateSortDirection(const bson_iter_t *it)
{
	int64_t		v;

	if (!UpdateIsNumber(it) || !UpdateIntegralOperand(it, &v))
		return 0;
	return (v == 1 || v == -1) ? (int) v : 0;
}

/*
 * UpdateParsePush
 *		$push's operand: a value, or {$each: [...], $slice, $sort, $position}.
 */
static bool
UpdateParsePush(UpdateParser *parser, UpdateLeaf *leaf, const bson_iter_t *value)
{
	BsonUpdate *u = parser->u;
	bson_iter_t it;
	bool		has_each = false;

	if (BSON_ITER_HOLDS_DOCUMENT(value) && bson_iter_recurse(value, &it))
	{
		while (bson_iter_next(&it))
		{
			if (strcmp(bson_iter_key(&it), "$each") == 0)
				has_each = true;
		}
	}
	if (!has_each)
	{
		leaf->neach = 1;
		leaf->each = UpdateAlloc(&u->arena, sizeof(bson_value_t));
		leaf->each[0] = leaf->operand;
		return true;
	}

	bson_iter_recurse(value, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "$each") == 0)
		{
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "The argument to $each in $push must be an array but it was of type: %s",
								  BsonTypeName(bson_iter_type(&it)));
			UpdateCopyValues(u, &it, &leaf->neach, &leaf->each);
		}
		else if (strcmp(key, "$slice") == 0)
		{
			if (!UpdateIsNumber(&it))
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "The value for $slice must be an integer value but was given type: %s",
								  BsonTypeName(bson_iter_type(&it)));
			if (!UpdateIntegralOperand(&it, &leaf->slice))
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "The $slice value in $push must be an integer value but was given type: %s",
								  BsonTypeName(bson_iter_type(&it)));
			leaf->has_slice = true;
		}
		else if (strcmp(key, "$position") == 0)
		{
			if (!UpdateIsNumber(&it))
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "The value for $position must be an integer value, not of type: %s",
								  BsonTypeName(bson_iter_type(&it)));
			if (!UpdateIntegralOperand(&it, &leaf->position))
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "The $position value in $push must be an integer value but was given: %s",
								  UpdateOperandText(parser, &it));
			leaf->has_position = true;
		}
		else if (strcmp(key, "$sort") == 0)
		{
			if (UpdateIsNumber(&it))
			{
				leaf->sort_direction = UpdateSortDirection(&it);
				if (leaf->sort_direction == 0)
					return UpdateFail(parser->error, MONGO_BAD_VALUE,
									  "The $sort element value must be either 1 or -1");
				leaf->sort = UPDATE_SORT_VALUE;
			}
			else if (BSON_ITER_HOLDS_DOCUMENT(&it))
			{
				bson_iter_t sub;
				int			nkeys = 0;
				uint32_t	len;
				const uint8_t *data;

				bson_iter_recurse(&it, &sub);
				while (bson_iter_next(&sub))
				{
					const char *skey = bson_iter_key(&sub);
					size_t		slen = strlen(skey);

					nkeys++;
					if (slen == 0 || skey[0] == '.' || skey[slen - 1] == '.' ||
						strstr(skey, "..") != NULL)
						return UpdateFail(parser->error, MONGO_BAD_VALUE,
										  "The $sort field is a dotted field but has an empty part: %s",
										  skey);
					if (skey[0] == '$')
						return UpdateFail(parser->error, MONGO_BAD_VALUE,
										  "The $sort field cannot start with '$': %s", skey);
					if (UpdateSortDirection(&sub) == 0)
						return UpdateFail(parser->error, MONGO_BAD_VALUE,
										  "The $sort element value must be either 1 or -1");
				}
				if (nkeys == 0)
					return UpdateFail(parser->error, MONGO_BAD_VALUE,
									  "The $sort pattern is empty when it should be a set of fields.");
				bson_iter_document(&it, &len, &data);
				leaf->sort = UPDATE_SORT_PATTERN;
				leaf->sort_pattern = data;
				leaf->sort_pattern_len = len;
			}
			else
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields");
		}
		else
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "Unrecognized clause in $push: %s", key);
	}
	return true;
}

/*
 * UpdateParseAddToSet
 *		$addToSet's operand: a value, or {$each: [...]} and nothing else.
 */
static bool
UpdateParseAddToSet(UpdateParser *parser, UpdateLeaf *leaf, const bson_iter_t *value)
{
	BsonUpdate *u = parser->u;
	bson_iter_t it;

	if (BSON_ITER_HOLDS_DOCUMENT(value) && bson_iter_recurse(value, &it) &&
		bson_iter_next(&it) && strcmp(bson_iter_key(&it), "$each") == 0)
	{
		if (!BSON_ITER_HOLDS_ARRAY(&it))
			return UpdateFail(parser->error, MONGO_TYPE_MISMATCH,
							  "The argument to $each in $addToSet must be an array but it was of type %s",
							  BsonTypeName(bson_iter_type(&it)));
		UpdateCopyValues(u, &it, &leaf->neach, &leaf->each);
		if (bson_iter_next(&it))
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "Found unexpected fields after $each in $addToSet: %s",
							  UpdateOperandText(parser, value));
		return true;
	}
	leaf->neach = 1;
	leaf->each = UpdateAlloc(&u->arena, sizeof(bson_value_t));
	leaf->each[0] = leaf->operand;
	return true;
}

/*
 * UpdateIsQueryOperator
 *		Whether a key is one of the operators that take a path, the test
 *		MongoDB's $pull uses to tell a condition on the element itself
 *		({$gte: 6}) from a filter on document elements ({a: 1}).
 */
static bool
UpdateIsQueryOperator(const char *key)
{
	static const char *const ops[] = {
		"$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$exists",
		"$type", "$mod", "$regex", "$options", "$elemMatch", "$all", "$size",
		"$not", "$bitsAllSet", "$bitsAllClear", "$bitsAnySet", "$bitsAnyClear",
		"$geoWithin", "$within", "$geoIntersects", "$near", "$nearSphere",
	};

	for (size_t i = 0; i < lengthof(ops); i++)
	{
		if (strcmp(key, ops[i]) == 0)
			return true;
	}
	return false;
}

/*
 * UpdateParsePull
 *		$pull's operand: compiled once into an equality, a filter on
 *		document elements, or a condition on the element wrapped as {"": x}.
 */
static bool
UpdateParsePull(UpdateParser *parser, UpdateLeaf *leaf, const bson_iter_t *value)
{
	bson_iter_t it;
	bson_t		wrapper;
	BsonFilter *filter;

	if (BSON_ITER_HOLDS_DOCUMENT(value))
	{
		uint32_t	len;
		const uint8_t *data;

		if (bson_iter_recurse(value, &it) && bson_iter_next(&it) &&
			UpdateIsQueryOperator(bson_iter_key(&it)))
			leaf->pull_kind = UPDATE_PULL_WRAPPED;
		else
		{
			leaf->pull_kind = UPDATE_PULL_OBJECT;
			bson_iter_document(value, &len, &data);
			filter = BsonFilterCompileCollated(data, len, parser->u->collation,
											   parser->error);
			if (filter == NULL)
				return false;
			leaf->pull_filter = filter;
			return true;
		}
	}
	else if (BSON_ITER_HOLDS_REGEX(value))
		leaf->pull_kind = UPDATE_PULL_WRAPPED;
	else
	{
		leaf->pull_kind = UPDATE_PULL_EQUAL;
		return true;
	}

	bson_init(&wrapper);
	bson_append_iter(&wrapper, "", 0, value);
	filter = BsonFilterCompileCollated(bson_get_data(&wrapper), wrapper.len,
									   parser->u->collation, parser->error);
	bson_destroy(&wrapper);
	if (filter == NULL)
		return false;
	leaf->pull_filter = filter;
	return true;
}

/*
 * UpdateParseBit
 *		$bit's operand: {and|or|xor: int32 or int64, ...}.
 */
static bool
UpdateParseBit(UpdateParser *parser, UpdateLeaf *leaf, const bson_iter_t *value)
{
	bson_iter_t it;
	int			n = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(value))
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "The $bit modifier is not compatible with a %s. You must pass in an embedded document: {$bit: {field: {and/or/xor: #}}",
						  BsonTypeName(bson_iter_type(value)));
	bson_iter_recurse(value, &it);
	while (bson_iter_next(&it))
		n++;
	if (n == 0)
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "You must pass in at least one bitwise operation. The format is: {$bit: {field: {and/or/xor: #}}");
	leaf->bits = UpdateAlloc(&parser->u->arena, n * sizeof(UpdateBitOp));
	bson_iter_recurse(value, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		UpdateBitOp *bit = &leaf->bits[leaf->nbits];

		if (strcmp(key, "and") == 0)
			bit->op = 'a';
		else if (strcmp(key, "or") == 0)
			bit->op = 'o';
		else if (strcmp(key, "xor") == 0)
			bit->op = 'x';
		else
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "The $bit modifier only supports 'and', 'or', and 'xor', not '%s' which is an unknown operator",
							  key);
		if (BSON_ITER_HOLDS_INT32(&it))
			bit->operand = bson_iter_int32(&it);
		else if (BSON_ITER_HOLDS_INT64(&it))
		{
			bit->operand = bson_iter_int64(&it);
			bit->is_int64 = true;
		}
		else
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "The $bit modifier field must be an Integer(32/64 bit); a '%s' is not supported here",
							  BsonTypeName(bson_iter_type(&it)));
		leaf->nbits++;
	}
	return true;
}

/*
 * UpdateParseCurrentDate
 *		$currentDate's operand: a boolean, or {$type: "date" | "timestamp"}.
 */
static bool
UpdateParseCurrentDate(UpdateParser *parser, UpdateLeaf *leaf, const bson_iter_t *value)
{
	bson_iter_t it;
	bool		has_type = false;

	if (BSON_ITER_HOLDS_BOOL(value))
		return true;
	if (!BSON_ITER_HOLDS_DOCUMENT(value))
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "%s is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).",
						  BsonTypeName(bson_iter_type(value)));
	bson_iter_recurse(value, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "$type") != 0)
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "Unrecognized $currentDate option: %s", key);
		if (BSON_ITER_HOLDS_UTF8(&it) &&
			strcmp(bson_iter_utf8(&it, NULL), "date") == 0)
			leaf->timestamp = false;
		else if (BSON_ITER_HOLDS_UTF8(&it) &&
				 strcmp(bson_iter_utf8(&it, NULL), "timestamp") == 0)
			leaf->timestamp = true;
		else
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}");
		has_type = true;
	}
	if (!has_type)
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}");
	return true;
}

/*
 * UpdateParseRename
 *		$rename: the destination is the leaf's path; the source gets a
 *		placeholder leaf.  Both must be static paths, differ, and not be
 *		on the same path.
 */
static bool
UpdateParseRename(UpdateParser *parser, const char *from, char **from_parts,
				  int nfrom, const bson_iter_t *value)
{
	BsonUpdate *u = parser->u;
	const char *to;
	uint32_t	tolen;
	char	  **to_parts;
	int			nto;
	UpdateLeaf *leaf;
	UpdateLeaf *source;
	int			common;
	bool		to_dollar;

	if (!BSON_ITER_HOLDS_UTF8(value))
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "The 'to' field for $rename must be a string: %s: %s",
						  from, UpdateOperandText(parser, value));
	to = bson_iter_utf8(value, &tolen);
	if (!UpdateSplitPath(parser, to, tolen, &to_parts, &nto, &to_dollar))
		return false;

	for (int i = 0; i < nfrom; i++)
	{
		if (strcmp(from_parts[i], "$") == 0 || UpdateIsArrayFilterPart(from_parts[i]))
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "The source field for $rename may not be dynamic: %s", from);
	}
	for (int i = 0; i < nto; i++)
	{
		if (strcmp(to_parts[i], "$") == 0 || UpdateIsArrayFilterPart(to_parts[i]))
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "The destination field for $rename may not be dynamic: %s", to);
	}
	for (common = 0; common < nfrom && common < nto; common++)
	{
		if (strcmp(from_parts[common], to_parts[common]) != 0)
			break;
	}
	if (common == nfrom && common == nto)
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "The source and target field for $rename must differ: %s: \"%s\"",
						  from, to);
	if (common == nfrom || common == nto)
		return UpdateFail(parser->error, MONGO_BAD_VALUE,
						  "The source and target field for $rename must not be on the same path: %s: \"%s\"",
						  from, to);

	{
		char	   *to_copy = UpdateAlloc(&u->arena, tolen + 1);

		memcpy(to_copy, to, tolen);
		leaf = UpdateNewLeaf(u, UPDATE_OP_RENAME, to_copy, NULL);
		leaf->dollar_path = to_dollar;
	}
	leaf->from = from_parts;
	leaf->nfrom = nfrom;
	if (!UpdateInsertLeaf(parser, to_parts, nto, leaf))
		return false;
	source = UpdateNewLeaf(u, UPDATE_OP_RENAME_SOURCE, from, NULL);
	return UpdateInsertLeaf(parser, from_parts, nfrom, source);
}

/*
 * UpdateParseField
 *		One field of an operator's document: its path and operand.
 */
static bool
UpdateParseField(UpdateParser *parser, UpdateOp op, const bson_iter_t *field)
{
	BsonUpdate *u = parser->u;
	uint32_t	keylen = bson_iter_key_len(field);
	char	   *path = UpdateAlloc(&u->arena, keylen + 1);
	char	  **parts;
	int			nparts;
	UpdateLeaf *leaf;
	bool		dollar;

	memcpy(path, bson_iter_key(field), keylen);
	if (!UpdateSplitPath(parser, path, keylen, &parts, &nparts, &dollar))
		return false;

	if (op == UPDATE_OP_RENAME)
		return UpdateParseRename(parser, path, parts, nparts, field);

	leaf = UpdateNewLeaf(u, op, path, field);
	leaf->dollar_path = dollar;
	switch (op)
	{
		case UPDATE_OP_INC:
		case UPDATE_OP_MUL:
			if (!UpdateIsNumber(field))
				return UpdateFail(parser->error, MONGO_TYPE_MISMATCH,
								  "Cannot %s with non-numeric argument: {%s: %s}",
								  op == UPDATE_OP_INC ? "increment" : "multiply",
								  path, UpdateOperandText(parser, field));
			break;
		case UPDATE_OP_PUSH:
			if (!UpdateParsePush(parser, leaf, field))
				return false;
			break;
		case UPDATE_OP_ADD_TO_SET:
			if (!UpdateParseAddToSet(parser, leaf, field))
				return false;
			break;
		case UPDATE_OP_POP:
			{
				int64_t		v;

				if (!UpdateIsNumber(field))
					return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
									  "Expected a number in: %s: %s",
									  path, UpdateOperandText(parser, field));
				if (!UpdateIntegralOperand(field, &v) || (v != 1 && v != -1))
					return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
									  "$pop expects 1 or -1, found: %s",
									  UpdateOperandText(parser, field));
				leaf->position = v;
			}
			break;
		case UPDATE_OP_PULL:
			if (!UpdateParsePull(parser, leaf, field))
				return false;
			break;
		case UPDATE_OP_PULL_ALL:
			if (!BSON_ITER_HOLDS_ARRAY(field))
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "$pullAll requires an array argument but was given a %s",
								  BsonTypeName(bson_iter_type(field)));
			UpdateCopyValues(u, field, &leaf->neach, &leaf->each);
			break;
		case UPDATE_OP_BIT:
			if (!UpdateParseBit(parser, leaf, field))
				return false;
			break;
		case UPDATE_OP_CURRENT_DATE:
			if (!UpdateParseCurrentDate(parser, leaf, field))
				return false;
			break;
		default:
			break;
	}
	return UpdateInsertLeaf(parser, parts, nparts, leaf);
}


/* ----------------------------------------------------------------
 *		Array filters
 * ----------------------------------------------------------------
 */

/*
 * UpdateFilterIdentifier
 *		The identifier of an array filter: the first component of its
 *		top-level field names, looking inside $and, $or and $nor.  Fails
 *		when two differ (FailedToParse).
 */
static bool
UpdateFilterIdentifier(UpdateParser *parser, bson_iter_t *it, char **identifier,
					   int depth)
{
	while (bson_iter_next(it))
	{
		const char *key = bson_iter_key(it);
		const char *dot;
		size_t		len;

		if (key[0] == '$')
		{
			bson_iter_t branches;
			bson_iter_t branch;

			if ((strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0 ||
				 strcmp(key, "$nor") == 0) && depth < UPDATE_MAX_DEPTH &&
				BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &branches))
			{
				while (bson_iter_next(&branches))
				{
					if (BSON_ITER_HOLDS_DOCUMENT(&branches) &&
						bson_iter_recurse(&branches, &branch) &&
						!UpdateFilterIdentifier(parser, &branch, identifier, depth + 1))
						return false;
				}
			}
			continue;
		}
		dot = strchr(key, '.');
		len = dot != NULL ? (size_t) (dot - key) : strlen(key);
		if (*identifier == NULL)
		{
			*identifier = UpdateAlloc(&parser->u->arena, len + 1);
			memcpy(*identifier, key, len);
		}
		else if (strlen(*identifier) != len || memcmp(*identifier, key, len) != 0)
			return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
							  "Error parsing array filter :: caused by :: Expected a single top-level field name, found '%s' and '%.*s'",
							  *identifier, (int) len, key);
	}
	return true;
}

/*
 * UpdateParseArrayFilters
 *		Compile every array filter and check its identifier.
 */
static bool
UpdateParseArrayFilters(UpdateParser *parser, const uint8_t *data, uint32_t len)
{
	BsonUpdate *u = parser->u;
	bson_t		array;
	bson_iter_t it;
	int			n = 0;

	if (!bson_init_static(&array, data, len) || !bson_iter_init(&it, &array))
		return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
						  "arrayFilters is not a valid BSON array");
	while (bson_iter_next(&it))
		n++;
	u->filters = UpdateAlloc(&u->arena, Max(n, 1) * sizeof(UpdateArrayFilter));

	bson_iter_init(&it, &array);
	while (bson_iter_next(&it))
	{
		UpdateArrayFilter *af = &u->filters[u->nfilters];
		bson_iter_t sub;
		uint32_t	flen;
		const uint8_t *fdata;
		char	   *identifier = NULL;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			return UpdateFail(parser->error, MONGO_TYPE_MISMATCH,
							  "Each array filter must be an object, found %s",
							  BsonTypeName(bson_iter_type(&it)));
		bson_iter_document(&it, &flen, &fdata);
		/* MongoDB parses array filters with kBanAllSpecialFeatures */
		af->filter = BsonFilterCompileFull(fdata, flen, u->collation, 0, parser->error);
		if (af->filter == NULL)
			return false;
		u->nfilters++;

		bson_iter_recurse(&it, &sub);
		if (!UpdateFilterIdentifier(parser, &sub, &identifier, 0))
			return false;
		if (identifier == NULL)
			return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
							  "Cannot use an expression without a top-level field name in arrayFilters");
		if (!(identifier[0] >= 'a' && identifier[0] <= 'z'))
			return UpdateFail(parser->error, MONGO_BAD_VALUE,
							  "Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '%s'",
							  identifier);
		for (const char *p = identifier; *p != '\0'; p++)
		{
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				  (*p >= '0' && *p <= '9')))
				return UpdateFail(parser->error, MONGO_BAD_VALUE,
								  "Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '%s'",
								  identifier);
		}
		for (int i = 0; i < u->nfilters - 1; i++)
		{
			if (strcmp(u->filters[i].identifier, identifier) == 0)
				return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
								  "Found multiple array filters with the same top-level field name %s",
								  identifier);
		}
		af->identifier = identifier;
	}
	return true;
}


/* ----------------------------------------------------------------
 *		Entry points
 * ----------------------------------------------------------------
 */

/*
 * UpdateParseOperators
 *		The operator form: every key an operator with a document operand.
 */
static bool
UpdateParseOperators(UpdateParser *parser, bson_iter_t *it)
{
	while (bson_iter_next(it))
	{
		const char *key = bson_iter_key(it);
		int			op = -1;
		bson_iter_t field;

		for (size_t i = 0; i < lengthof(update_ops); i++)
		{
			if (strcmp(key, update_ops[i].name) == 0)
				op = update_ops[i].op;
		}
		if (op < 0)
			return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
							  "Unknown modifier: %s. Expected a valid update modifier or pipeline-style update specified as an array",
							  key);
		if (!BSON_ITER_HOLDS_DOCUMENT(it))
			return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
							  "Modifiers operate on fields but we found type %s instead. For example: {$mod: {<field>: ...}} not {%s: %s}",
							  BsonTypeName(bson_iter_type(it)), key,
							  UpdateOperandText(parser, it));
		if (!bson_iter_recurse(it, &field))
			return UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
							  "malformed operand of %s", key);
		while (bson_iter_next(&field))
		{
			if (!UpdateParseField(parser, (UpdateOp) op, &field))
				return false;
		}
	}
	return true;
}

/*
 * UpdateCheckFiltersUsed
 *		Every array filter must serve some "$[identifier]".
 */
static bool
UpdateCheckFiltersUsed(UpdateParser *parser)
{
	BsonUpdate *u = parser->u;

	for (int i = 0; i < u->nfilters; i++)
	{
		if (!u->filters[i].used)
		{
			bson_t		doc;

			bson_init_static(&doc, u->data, u->len);
			{
				char	   *text = bson_as_relaxed_extended_json(&doc, NULL);

				UpdateFail(parser->error, MONGO_FAILED_TO_PARSE,
						   "The array filter for identifier '%s' was not used in the update %s",
						   u->filters[i].identifier, text != NULL ? text : "");
				bson_free(text);
			}
			return false;
		}
	}
	return true;
}

/*
 * See update.h.
 */
BsonUpdate *
BsonUpdateCompile(const uint8_t *update, uint32_t len,
				  const uint8_t *array_filters, uint32_t af_len,
				  BsonQueryError *error)
{
	return BsonUpdateCompileCollated(update, len, array_filters, af_len, NULL, error);
}

/*
 * BsonUpdateCompileCollated
 *		Compile an update whose comparisons of strings follow a collation.
 */
BsonUpdate *
BsonUpdateCompileCollated(const uint8_t *update, uint32_t len,
						  const uint8_t *array_filters, uint32_t af_len,
						  const BsonCollation *collation, BsonQueryError *error)
{
	BsonUpdate *u = palloc0(sizeof(BsonUpdate));
	UpdateParser parser;
	bson_t		doc;
	bson_iter_t it;
	bool		ok = true;

	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;
	parser.u = u;
	parser.error = error;
	u->collation = collation;

	u->data = UpdateAlloc(&u->arena, Max(len, 1));
	memcpy(u->data, update, len);
	u->len = len;

	if (!bson_init_static(&doc, u->data, len) || !bson_iter_init(&it, &doc))
	{
		UpdateFail(error, MONGO_FAILED_TO_PARSE, "the update is not a valid BSON document");
		BsonUpdateFree(u);
		return NULL;
	}

	if (array_filters != NULL)
		ok = UpdateParseArrayFilters(&parser, array_filters, af_len);

	if (ok)
	{
		bson_iter_t first = it;

		if (bson_iter_next(&first) && bson_iter_key(&first)[0] == '$')
		{
			u->root = UpdateNewNode(u, UPDATE_NODE_OBJECT, "");
			ok = UpdateParseOperators(&parser, &it) &&
				UpdateCheckFiltersUsed(&parser);
		}
		else
		{
			u->is_replacement = true;
			while (ok && bson_iter_next(&it))
			{
				if (bson_iter_key(&it)[0] == '$')
					ok = UpdateFail(error, MONGO_DOLLAR_PREFIXED_FIELD,
									"The dollar ($) prefixed field '%s' in '%s' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.",
									bson_iter_key(&it), bson_iter_key(&it));
			}
			if (ok && u->nfilters > 0)
				ok = UpdateCheckFiltersUsed(&parser);
		}
	}

	if (!ok)
	{
		BsonUpdateFree(u);
		return NULL;
	}
	return u;
}

/*
 * See update.h.
 */
void
BsonUpdatePipelineError(BsonQueryError *error)
{
	error->code = 0;
	error->message = NULL;
	UpdateFail(error, MONGO_NOT_IMPLEMENTED,
			   "pipeline-style updates are not supported yet");
}

/*
 * See update.h.
 */
bool
BsonUpdateIsReplacement(const BsonUpdate *u)
{
	return u->is_replacement;
}

/*
 * See update.h.
 */
bool
BsonUpdateNeedsPosition(const BsonUpdate *u)
{
	return u->needs_position;
}

/*
 * See update.h.
 */
void
BsonUpdateFree(BsonUpdate *u)
{
	if (u == NULL)
		return;
	for (int i = 0; i < u->nleaves; i++)
	{
		if (u->leaves[i]->pull_filter != NULL)
			BsonFilterFree(u->leaves[i]->pull_filter);
	}
	for (int i = 0; i < u->nfilters; i++)
	{
		if (u->filters[i].filter != NULL)
			BsonFilterFree(u->filters[i].filter);
	}
	UpdateArenaFree(&u->arena);
	pfree(u);
}
