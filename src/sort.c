/*-------------------------------------------------------------------------
 *
 * sort.c
 *	  MongoDB sort specifications and sort keys.
 *
 * Design note
 * -----------
 * A sort document {a: 1, "b.c": -1} compiles to a list of dotted paths with
 * a direction each; the values must be numbers equal to 1 or -1 (15975
 * otherwise, 15974 for other types), or {$meta: ...} (textScore and the
 * other sortable metadata report NotImplemented, 238, until they exist;
 * unknown names are 31138, other objects 17312).  Paths follow MongoDB's
 * FieldPath rules (40352, 40353, 15998, 16410), at most 32 fields (13103)
 * and no field twice (7472500).  $natural (storage order) is accepted and
 * only flagged: the caller decides what it means.
 *
 * A document sorts, for one path, by its sort key: the values the path
 * reaches, expanding arrays on the way (an array of documents gives the
 * field of each; a scalar or a missing field among them gives null) and
 * at the end (the elements of a final array; an empty one gives
 * undefined, which sorts before null), reduced to the smallest for an
 * ascending sort and the largest for a descending one, in the order of
 * bson_compare.h.  A missing field is null.  A numeric component indexes
 * an array it meets.  Keys compare with BsonCompareValues, field after
 * field, reversed for descending fields.
 *
 * IDENTIFICATION
 *	  src/sort.c
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
#include "pure.h"
#include "query_internal.h"
#include "sort.h"

/* Longest dotted path, in components (MongoDB's FieldPath limit) */
#define SORT_MAX_PATH				200

/* MongoDB's error codes of sort specifications */
#define SORT_ERR_TOO_LONG			15
#define SORT_ERR_TOO_MANY_KEYS		13103
#define SORT_ERR_BAD_TYPE			15974
#define SORT_ERR_BAD_DIRECTION		15975
#define SORT_ERR_EMPTY_COMPONENT	15998
#define SORT_ERR_DOLLAR_FIELD		16410
#define SORT_ERR_NOT_META			17312
#define SORT_ERR_BAD_META			31138
#define SORT_ERR_EMPTY_PATH			40352
#define SORT_ERR_TRAILING_DOT		40353
#define SORT_ERR_DUPLICATE			7472500

/* One field of a sort */
typedef struct SortField
{
	char	   *path;			/* dotted, as given */
	int			nparts;
	char	  **parts;
	bool		descending;
} SortField;

struct BsonSortSpec
{
	int			nfields;
	SortField	fields[BSON_SORT_MAX_FIELDS];
	bool		natural;
	int			natural_direction;
};

/* The best key found so far for one path */
typedef struct SortBest
{
	bool		descending;
	bool		found;
	const BsonCollation *collation; /* how strings compare (NULL: simple) */
	bson_iter_t best;
} SortBest;

/* {"": null} and {"": undefined}: what missing fields and empty arrays give */
static const uint8_t sort_null_doc[7] = {7, 0, 0, 0, BSON_TYPE_NULL, 0, 0};
static const uint8_t sort_undefined_doc[7] = {7, 0, 0, 0, BSON_TYPE_UNDEFINED, 0, 0};

static void SortWalkValue(const SortField *field, int k, const bson_iter_t *value,
						  SortBest *best, int depth);


/* ----------------------------------------------------------------
 *		Compiling
 * ----------------------------------------------------------------
 */

/*
 * SortCodeName
 *		MongoDB's codeName of an error code.
 */
static const char *
SortCodeName(int code)
{
	switch (code)
	{
		case MONGO_BAD_VALUE:
			return "BadValue";
		case MONGO_NOT_IMPLEMENTED:
			return "NotImplemented";
		case SORT_ERR_TOO_LONG:
			return "Overflow";
		case SORT_ERR_TOO_MANY_KEYS:
			return "Location13103";
		case SORT_ERR_BAD_TYPE:
			return "Location15974";
		case SORT_ERR_BAD_DIRECTION:
			return "Location15975";
		case SORT_ERR_EMPTY_COMPONENT:
			return "Location15998";
		case SORT_ERR_DOLLAR_FIELD:
			return "Location16410";
		case SORT_ERR_NOT_META:
			return "Location17312";
		case SORT_ERR_BAD_META:
			return "Location31138";
		case SORT_ERR_EMPTY_PATH:
			return "Location40352";
		case SORT_ERR_TRAILING_DOT:
			return "Location40353";
		case SORT_ERR_DUPLICATE:
			return "Location7472500";
		default:
			return "UnknownError";
	}
}

/*
 * SortFail
 *		Record an error (the first one wins); returns false.
 */
static bool SortFail(BsonQueryError *error, int code, const char *format,...)
			pg_attribute_printf(3, 4);

static bool
SortFail(BsonQueryError *error, int code, const char *format,...)
{
	va_list		args;

	va_start(args, format);
	(void) BsonErrorSetV(error, true, code, SortCodeName(code), format, args);
	va_end(args);
	return false;
}

/*
 * SortDirection
 *		The direction a sort value gives: 1 or -1, 0 if it is a number that
 *		is neither (any numeric type equal to 1 or -1 counts).
 */
static int
SortDirection(const bson_iter_t *it)
{
	int64_t		v;

	switch (bson_iter_type(it))
	{
		case BSON_TYPE_DOUBLE:
			{
				double		d = bson_iter_double(it);

				return d == 1.0 ? 1 : (d == -1.0 ? -1 : 0);
			}
		default:
			if (QueryNumberToInt64(it, &v) == QUERY_INT_EXACT && (v == 1 || v == -1))
				return (int) v;
			return 0;
	}
}

/*
 * SortCheckMeta
 *		{$meta: name} as a sort value: never usable yet, but with the error
 *		MongoDB gives for what it is.
 */
static bool
SortCheckMeta(const bson_iter_t *value, BsonQueryError *error)
{
	static const char *const sortable[] = {
		"textScore", "searchScore", "vectorSearchScore", "score",
		"geoNearDistance", "randVal",
	};
	bson_iter_t it;
	StringInfoData text;

	if (!bson_iter_recurse(value, &it) || !bson_iter_next(&it) ||
		strcmp(bson_iter_key(&it), "$meta") != 0 || QueryCountElements(value) != 1)
		return SortFail(error, SORT_ERR_NOT_META,
						"$meta is the only expression supported by $sort right now");
	if (BSON_ITER_HOLDS_UTF8(&it))
	{
		const char *name = bson_iter_utf8(&it, NULL);

		for (size_t i = 0; i < lengthof(sortable); i++)
		{
			if (strcmp(name, sortable[i]) == 0)
				return SortFail(error, MONGO_NOT_IMPLEMENTED,
								"sorting by {$meta: \"%s\"} is not supported yet", name);
		}
	}
	initStringInfo(&text);
	BsonPrintValue(&text, &it, BSON_JSON_RELAXED);
	SortFail(error, SORT_ERR_BAD_META, "Illegal $meta sort: $meta: %s", text.data);
	pfree(text.data);
	return false;
}

/*
 * SortSplitPath
 *		Validate a sort path (MongoDB's FieldPath rules) and split it.
 */
static bool
SortSplitPath(const char *key, SortField *field, BsonQueryError *error)
{
	size_t		keylen = strlen(key);
	int			n = 1;
	const char *start = key;

	if (keylen == 0)
		return SortFail(error, SORT_ERR_EMPTY_PATH,
						"FieldPath cannot be constructed with empty string");
	if (key[keylen - 1] == '.')
		return SortFail(error, SORT_ERR_TRAILING_DOT,
						"FieldPath must not end with a '.'.");
	for (const char *p = key; *p != '\0'; p++)
		n += (*p == '.');
	if (n > SORT_MAX_PATH)
		return SortFail(error, SORT_ERR_TOO_LONG, "FieldPath is too long");

	field->parts = palloc(sizeof(char *) * n);
	field->nparts = 0;
	for (int i = 0; i < n; i++)
	{
		const char *end = strchr(start, '.');
		size_t		len = end ? (size_t) (end - start) : strlen(start);

		if (len == 0)
			return SortFail(error, SORT_ERR_EMPTY_COMPONENT,
							"FieldPath field names may not be empty strings.");
		if (start[0] == '$')
			return SortFail(error, SORT_ERR_DOLLAR_FIELD,
							"FieldPath field names may not start with '$'. "
							"Consider using $getField or $setField.");
		field->parts[field->nparts++] = pnstrdup(start, len);
		start = end ? end + 1 : start + len;
	}
	field->path = pstrdup(key);
	return true;
}

/*
 * SortParseField
 *		One field of a sort document.
 */
static bool
SortParseField(BsonSortSpec *s, const bson_iter_t *it, BsonQueryError *error)
{
	const char *key = bson_iter_key(it);
	SortField  *field;
	int			direction;

	if (bson_iter_type(it) == BSON_TYPE_DOCUMENT)
		return SortCheckMeta(it, error);
	if (bson_iter_type(it) != BSON_TYPE_INT32 && bson_iter_type(it) != BSON_TYPE_INT64 &&
		bson_iter_type(it) != BSON_TYPE_DOUBLE && bson_iter_type(it) != BSON_TYPE_DECIMAL128)
		return SortFail(error, SORT_ERR_BAD_TYPE,
						"$sort key ordering must be specified using a number or "
						"{$meta: 'textScore'}");
	direction = SortDirection(it);
	if (direction == 0)
		return SortFail(error, SORT_ERR_BAD_DIRECTION,
						"$sort key ordering must be 1 (for ascending) or -1 (for descending)");

	if (strcmp(key, "$natural") == 0)
	{
		s->natural = true;
		s->natural_direction = direction;
		return true;
	}

	for (int i = 0; i < s->nfields; i++)
	{
		if (strcmp(s->fields[i].path, key) == 0)
			return SortFail(error, SORT_ERR_DUPLICATE,
							"$sort key must not contain duplicate keys (field: '%s')", key);
	}
	if (s->nfields == BSON_SORT_MAX_FIELDS)
		return SortFail(error, SORT_ERR_TOO_MANY_KEYS, "too many compound keys");
	field = &s->fields[s->nfields];
	field->descending = (direction < 0);
	if (!SortSplitPath(key, field, error))
	{
		/* free what the failed split kept */
		for (int i = 0; i < field->nparts; i++)
			pfree(field->parts[i]);
		if (field->parts != NULL)
			pfree(field->parts);
		field->parts = NULL;
		field->nparts = 0;
		return false;
	}
	s->nfields++;
	return true;
}

/*
 * BsonSortCompile
 *		Compile a sort document (BSON bytes).
 */
BsonSortSpec *
BsonSortCompile(const uint8_t *spec, uint32_t len, BsonQueryError *error)
{
	BsonSortSpec *s;
	bson_t		doc;
	bson_iter_t it;
	bool		degenerate;
	char	   *problem;

	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;

	problem = BsonValidateBytes(spec, len, &degenerate);
	if (problem != NULL)
	{
		SortFail(error, MONGO_BAD_VALUE, "sort is not a valid BSON document: %s", problem);
		pfree(problem);
		return NULL;
	}
	if (!bson_init_static(&doc, spec, len) || !bson_iter_init(&it, &doc))
	{
		SortFail(error, MONGO_BAD_VALUE, "sort is not a valid BSON document");
		return NULL;
	}

	s = palloc0(sizeof(BsonSortSpec));
	s->natural_direction = 1;
	while (bson_iter_next(&it))
	{
		if (!SortParseField(s, &it, error))
		{
			BsonSortFree(s);
			return NULL;
		}
	}
	return s;
}

int
BsonSortFieldCount(const BsonSortSpec *s)
{
	return s->nfields;
}

const char *
BsonSortFieldPath(const BsonSortSpec *s, int i)
{
	Assert(i >= 0 && i < s->nfields);
	return s->fields[i].path;
}

bool
BsonSortFieldDescending(const BsonSortSpec *s, int i)
{
	Assert(i >= 0 && i < s->nfields);
	return s->fields[i].descending;
}

bool
BsonSortIsNatural(const BsonSortSpec *s)
{
	return s->natural;
}

int
BsonSortNaturalDirection(const BsonSortSpec *s)
{
	return s->natural_direction;
}

/*
 * BsonSortFree
 *		Release a compiled sort.
 */
void
BsonSortFree(BsonSortSpec *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->nfields; i++)
	{
		for (int j = 0; j < s->fields[i].nparts; j++)
			pfree(s->fields[i].parts[j]);
		pfree(s->fields[i].parts);
		pfree(s->fields[i].path);
	}
	pfree(s);
}


/* ----------------------------------------------------------------
 *		Sort keys
 * ----------------------------------------------------------------
 */

/*
 * SortConsider
 *		Keep a candidate key if it beats the best so far.
 */
static void
SortConsider(SortBest *best, const bson_iter_t *candidate)
{
	if (best->found)
	{
		int			cmp = BsonCompareValuesCollated(candidate, &best->best,
													best->collation);

		if (best->descending ? cmp <= 0 : cmp >= 0)
			return;
	}
	best->best = *candidate;
	best->found = true;
}

/*
 * SortConsiderConstant
 *		Consider null or undefined.
 */
static void
SortConsiderConstant(SortBest *best, const uint8_t *doc)
{
	bson_t		b;
	bson_iter_t it;

	if (bson_init_static(&b, doc, 7) && bson_iter_init(&it, &b) && bson_iter_next(&it))
		SortConsider(best, &it);
}

/*
 * SortIsIndex
 *		Whether a path component is all digits (it may index an array).
 */
static bool
SortIsIndex(const char *part, uint32_t *index)
{
	uint64		v = 0;

	if (*part == '\0')
		return false;
	for (const char *p = part; *p != '\0'; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
		if (v > PG_INT32_MAX)
			return false;
	}
	*index = (uint32_t) v;
	return true;
}

/*
 * SortWalkDocument
 *		Component k of the path, in a document.
 */
static void
SortWalkDocument(const SortField *field, int k, const uint8_t *data, uint32_t len,
				 SortBest *best, int depth)
{
	bson_t		doc;
	bson_iter_t it;

	if (bson_init_static(&doc, data, len) && bson_iter_init(&it, &doc))
	{
		while (bson_iter_next(&it))
		{
			if (strcmp(bson_iter_key(&it), field->parts[k]) == 0)
			{
				SortWalkValue(field, k + 1, &it, best, depth + 1);
				return;
			}
		}
	}
	SortConsiderConstant(best, sort_null_doc);
}

/*
 * SortWalkValue
 *		The value reached after k components of the path.
 */
static void
SortWalkValue(const SortField *field, int k, const bson_iter_t *value,
			  SortBest *best, int depth)
{
	const uint8_t *data;
	uint32_t	len;
	bson_iter_t elem;
	uint32_t	index;

	PURE_CHECK_STACK();
	if (k == field->nparts)
	{
		if (!BSON_ITER_HOLDS_ARRAY(value))
			SortConsider(best, value);
		else if (QueryCountElements(value) == 0)
			SortConsiderConstant(best, sort_undefined_doc);
		else if (bson_iter_recurse(value, &elem))
		{
			while (bson_iter_next(&elem))
				SortConsider(best, &elem);
		}
		return;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(value))
	{
		bson_iter_document(value, &len, &data);
		SortWalkDocument(field, k, data, len, best, depth);
		return;
	}
	if (!BSON_ITER_HOLDS_ARRAY(value))
	{
		SortConsiderConstant(best, sort_null_doc);
		return;
	}

	/* an array in the middle of the path */
	if (SortIsIndex(field->parts[k], &index))
	{
		uint32_t	i = 0;

		if (bson_iter_recurse(value, &elem))
		{
			while (bson_iter_next(&elem))
			{
				if (i++ == index)
				{
					SortWalkValue(field, k + 1, &elem, best, depth + 1);
					return;
				}
			}
		}
		SortConsiderConstant(best, sort_null_doc);
		return;
	}
	if (QueryCountElements(value) == 0 || !bson_iter_recurse(value, &elem))
	{
		SortConsiderConstant(best, sort_null_doc);
		return;
	}
	while (bson_iter_next(&elem))
	{
		if (BSON_ITER_HOLDS_DOCUMENT(&elem))
		{
			bson_iter_document(&elem, &len, &data);
			SortWalkDocument(field, k, data, len, best, depth + 1);
		}
		else
			SortConsiderConstant(best, sort_null_doc);
	}
}

/*
 * SortKeyOf
 *		The sort key of a document for one field, as an iterator.
 */
static void
SortKeyOf(const SortField *field, const uint8_t *doc, uint32_t len, SortBest *best)
{
	best->found = false;
	SortWalkDocument(field, 0, doc, len, best, 0);
	Assert(best->found);
}

/*
 * BsonSortKey
 *		The sort key of a document for a dotted path (see sort.h).
 */
void
BsonSortKey(const uint8_t *doc, uint32_t len, const char *path, bool descending,
			bson_value_t *out)
{
	BsonSortKeyCollated(doc, len, path, descending, NULL, out);
}

/*
 * BsonSortKeyCollated
 *		The sort key of a document for a dotted path, choosing among array
 *		elements under a collation.
 */
void
BsonSortKeyCollated(const uint8_t *doc, uint32_t len, const char *path,
					bool descending, const BsonCollation *collation,
					bson_value_t *out)
{
	SortField	field;
	SortBest	best;
	char	   *copy = pstrdup(path);
	int			n = 1;
	char	   *p;

	/* split without validation: a bad path just finds nothing */
	for (p = copy; *p != '\0'; p++)
		n += (*p == '.');
	field.parts = palloc(sizeof(char *) * n);
	field.nparts = 0;
	field.parts[field.nparts++] = copy;
	for (p = copy; *p != '\0'; p++)
	{
		if (*p == '.')
		{
			*p = '\0';
			field.parts[field.nparts++] = p + 1;
		}
	}
	field.path = (char *) path;
	field.descending = descending;

	best.descending = descending;
	best.collation = collation;
	SortKeyOf(&field, doc, len, &best);
	*out = *bson_iter_value(&best.best);

	pfree(field.parts);
	pfree(copy);
}

/*
 * BsonSortCompareKeys
 *		Compare two values in MongoDB's order.
 */
int
BsonSortCompareKeys(const bson_value_t *a, const bson_value_t *b)
{
	bson_t		da;
	bson_t		db;
	bson_iter_t ia;
	bson_iter_t ib;
	int			cmp = 0;

	bson_init(&da);
	bson_init(&db);
	bson_append_value(&da, "", 0, a);
	bson_append_value(&db, "", 0, b);
	if (bson_iter_init(&ia, &da) && bson_iter_next(&ia) &&
		bson_iter_init(&ib, &db) && bson_iter_next(&ib))
		cmp = BsonCompareValues(&ia, &ib);
	bson_destroy(&da);
	bson_destroy(&db);
	return cmp;
}

/*
 * BsonSortCompareDocs
 *		Compare two documents under a sort.
 */
int
BsonSortCompareDocs(const BsonSortSpec *s, const uint8_t *a, uint32_t alen,
					const uint8_t *b, uint32_t blen)
{
	for (int i = 0; i < s->nfields; i++)
	{
		const SortField *field = &s->fields[i];
		SortBest	ka;
		SortBest	kb;
		int			cmp;

		ka.descending = kb.descending = field->descending;
		ka.collation = kb.collation = NULL;
		SortKeyOf(field, a, alen, &ka);
		SortKeyOf(field, b, blen, &kb);
		cmp = BsonCompareValues(&ka.best, &kb.best);
		if (cmp != 0)
			return field->descending ? -cmp : cmp;
	}
	return 0;
}
