/*-------------------------------------------------------------------------
 *
 * query_schema.c
 *	  The $jsonSchema query operator: compiling a JSON Schema (draft 4, as
 *	  MongoDB supports it) and validating documents against it.
 *
 * Design note
 * -----------
 * MongoDB translates a schema into a tree of its ordinary and internal
 * match expressions.  We keep the schema's own shape instead: a schema
 * compiles to one QuerySchema, with its nested schemas (properties, items,
 * allOf...) compiled likewise, and a value is validated by walking the two
 * together.  The semantics are those of JSON Schema on BSON values, which
 * is also what MongoDB's translation amounts to:
 *
 *	- A keyword constrains only the values of the type it is about, and
 *	  ignores the others: minLength says nothing about a number, and
 *	  properties nothing about an array.  Only type/bsonType, enum, encrypt
 *	  and the logical keywords (allOf, anyOf, oneOf, not) apply to every
 *	  value.  The top-level schema validates the document itself, an
 *	  object, so {type: "string"} there matches nothing.
 *	- Paths are not involved: a property is the field of that exact name
 *	  of the object at hand, arrays are values like any other (never
 *	  traversed implicitly), and a missing property is only the business
 *	  of required and dependencies.
 *	- Numbers compare by value across int, long, double and decimal128,
 *	  with the comparison operators' NaN rule (NaN is neither above nor
 *	  below anything, but NaN is its own minimum).  multipleOf works in
 *	  decimal, as MongoDB's does (a double taken to 15 significant
 *	  digits), so 0.3 is a multiple of 0.1.
 *	- enum and uniqueItems compare values as MongoDB's internal schema
 *	  equality does: numbers by value, embedded documents with their
 *	  fields in any order, and never with a collation.
 *	- String lengths count code points; pattern is an unanchored PCRE2
 *	  search, compiled by the filter's regex code (query_operand.c).
 *
 * Schemas are checked as MongoDB checks them, keyword by keyword in its
 * order, with its codes: TypeMismatch (14) for a keyword value of the wrong
 * BSON type, FailedToParse (9) for unknown or unsupported keywords and
 * for bad values (negative lengths, empty arrays, duplicates, the JSON
 * type "integer"), BadValue (2) for unknown type names and invalid
 * patternProperties regexes, and 51091 for an invalid pattern.
 *
 * Compilation allocates from the filter's arena; validation allocates
 * nothing.
 *
 * IDENTIFICATION
 *	  src/query_schema.c
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
#include "bson_path.h"
#include "pure.h"
#include "query_internal.h"

/* MongoDB's location code of an unknown field in "encrypt" (IDL) */
#define MONGO_IDL_UNKNOWN_FIELD		40415

/* The binary subtype of encrypted values */
#define QUERY_SCHEMA_SUBTYPE_ENCRYPTED	6

/* The keywords MongoDB knows */
typedef enum QuerySchemaKeyword
{
	QUERY_SK_ADDITIONAL_ITEMS,
	QUERY_SK_ADDITIONAL_PROPERTIES,
	QUERY_SK_ALL_OF,
	QUERY_SK_ANY_OF,
	QUERY_SK_BSON_TYPE,
	QUERY_SK_DEPENDENCIES,
	QUERY_SK_DESCRIPTION,
	QUERY_SK_ENCRYPT,
	QUERY_SK_ENCRYPT_METADATA,
	QUERY_SK_ENUM,
	QUERY_SK_EXCLUSIVE_MAXIMUM,
	QUERY_SK_EXCLUSIVE_MINIMUM,
	QUERY_SK_ITEMS,
	QUERY_SK_MAX_ITEMS,
	QUERY_SK_MAX_LENGTH,
	QUERY_SK_MAX_PROPERTIES,
	QUERY_SK_MAXIMUM,
	QUERY_SK_MIN_ITEMS,
	QUERY_SK_MIN_LENGTH,
	QUERY_SK_MIN_PROPERTIES,
	QUERY_SK_MINIMUM,
	QUERY_SK_MULTIPLE_OF,
	QUERY_SK_NOT,
	QUERY_SK_ONE_OF,
	QUERY_SK_PATTERN,
	QUERY_SK_PATTERN_PROPERTIES,
	QUERY_SK_PROPERTIES,
	QUERY_SK_REQUIRED,
	QUERY_SK_TITLE,
	QUERY_SK_TYPE,
	QUERY_SK_UNIQUE_ITEMS,
	QUERY_SK_COUNT
} QuerySchemaKeyword;

static const char *const query_schema_keywords[QUERY_SK_COUNT] = {
	"additionalItems", "additionalProperties", "allOf", "anyOf", "bsonType",
	"dependencies", "description", "encrypt", "encryptMetadata", "enum",
	"exclusiveMaximum", "exclusiveMinimum", "items", "maxItems", "maxLength",
	"maxProperties", "maximum", "minItems", "minLength", "minProperties",
	"minimum", "multipleOf", "not", "oneOf", "pattern", "patternProperties",
	"properties", "required", "title", "type", "uniqueItems",
};

/* Draft 4 keywords MongoDB rejects as not supported */
static const char *const query_schema_unsupported[] = {
	"$ref", "$schema", "default", "definitions", "format", "id",
};

/* The JSON types of the "type" keyword ("number" is handled apart) */
static const struct
{
	const char *name;
	bson_type_t type;
}			query_schema_json_types[] = {
	{"object", BSON_TYPE_DOCUMENT},
	{"array", BSON_TYPE_ARRAY},
	{"boolean", BSON_TYPE_BOOL},
	{"null", BSON_TYPE_NULL},
	{"string", BSON_TYPE_UTF8},
};

/* A field name (in the filter's bytes, NUL-terminated) */
typedef struct QuerySchemaName
{
	const char *name;
	int			len;
} QuerySchemaName;

/* A property with its schema, or a dependency */
typedef struct QuerySchemaProperty
{
	QuerySchemaName key;
	QuerySchema *schema;		/* properties; schema dependencies */
	int			nnames;			/* property dependencies: fields required */
	QuerySchemaName *names;
} QuerySchemaProperty;

/* A regex of patternProperties with its schema */
typedef struct QuerySchemaPattern
{
	QueryRegex	regex;
	QuerySchema *schema;
} QuerySchemaPattern;

/* A list of schemas (allOf, anyOf, oneOf, items as an array) */
typedef struct QuerySchemaList
{
	int			n;
	QuerySchema **schemas;
} QuerySchemaList;

/* One compiled schema; -1 stands for an absent count */
struct QuerySchema
{
	uint32_t	types;			/* type/bsonType as QueryNode.u.types; 0: any */
	bool		encrypt;		/* only encrypted binary data */

	/* numbers */
	const QueryValue *minimum;
	const QueryValue *maximum;
	bool		minimum_nan;
	bool		maximum_nan;
	bool		exclusive_minimum;
	bool		exclusive_maximum;
	bool		has_multiple_of;
	BsonDecimal multiple_of;	/* finite and positive, or +infinity */

	/* strings */
	int64_t		min_length;
	int64_t		max_length;
	QueryRegex *pattern;

	/* arrays */
	int64_t		min_items;
	int64_t		max_items;
	bool		unique_items;
	QuerySchema *items;			/* items as one schema for every element */
	bool		has_item_list;	/* items as an array of schemas */
	QuerySchemaList item_list;
	bool		no_additional_items;
	QuerySchema *additional_items;

	/* objects */
	int64_t		min_properties;
	int64_t		max_properties;
	int			nrequired;
	QuerySchemaName *required;
	int			nproperties;
	QuerySchemaProperty *properties;
	int			npatterns;
	QuerySchemaPattern *patterns;
	bool		no_additional_properties;
	QuerySchema *additional_properties;
	int			ndependencies;
	QuerySchemaProperty *dependencies;

	/* any value */
	int			nenum;
	QueryValue *enum_values;
	QuerySchemaList all_of;
	QuerySchemaList any_of;
	QuerySchemaList one_of;
	QuerySchema *not_schema;
};

/* The keywords of one schema document, found by the first pass */
typedef struct QuerySchemaKeywords
{
	const bson_iter_t *schema;	/* the schema document */
	uint32_t	present;		/* bit per QuerySchemaKeyword */
} QuerySchemaKeywords;

static QuerySchema *QuerySchemaParse(QueryParser *parser,
									 const bson_iter_t *doc);
static bool QuerySchemaMatchValue(const QuerySchema *schema,
								  const bson_iter_t *value,
								  const uint8_t *data, uint32_t len);


/* ----------------------------------------------------------------
 *		Compiling
 * ----------------------------------------------------------------
 */

/*
 * QuerySchemaFind
 *		Point *it at a keyword of the schema; false if it is absent.
 */
static bool
QuerySchemaFind(const QuerySchemaKeywords *kw, QuerySchemaKeyword keyword,
				bson_iter_t *it)
{
	if ((kw->present & (UINT32_C(1) << keyword)) == 0)
		return false;
	return bson_iter_recurse(kw->schema, it) &&
		bson_iter_find(it, query_schema_keywords[keyword]);
}

/*
 * QuerySchemaIsNumber
 *		Whether a value is one of the four numeric types.
 */
static inline bool
QuerySchemaIsNumber(bson_type_t type)
{
	return type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64 ||
		type == BSON_TYPE_DOUBLE || type == BSON_TYPE_DECIMAL128;
}

/*
 * QuerySchemaIsNaN
 *		Whether a number is NaN.
 */
static bool
QuerySchemaIsNaN(const bson_iter_t *it)
{
	bson_decimal128_t dec;

	if (BSON_ITER_HOLDS_DOUBLE(it))
		return isnan(bson_iter_double(it));
	if (BSON_ITER_HOLDS_DECIMAL128(it))
		return bson_iter_decimal128(it, &dec) && QueryDecimalIsNaN(&dec);
	return false;
}

/*
 * QuerySchemaToDecimal
 *		A number as a decimal, as MongoDB converts numbers for multipleOf:
 *		integers exactly, doubles rounded to 15 significant digits.
 */
static void
QuerySchemaToDecimal(const bson_iter_t *it, BsonDecimal *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = BSON_NUMBER_FINITE;
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			{
				int64_t		v = BSON_ITER_HOLDS_INT32(it) ? bson_iter_int32(it) :
					bson_iter_int64(it);

				out->negative = v < 0;
				out->coefficient = v < 0 ? (uint128) (-(v + 1)) + 1 : (uint128) v;
				break;
			}
		case BSON_TYPE_DOUBLE:
			{
				double		d = bson_iter_double(it);
				char		buf[64];
				char	   *e;

				if (isnan(d))
				{
					out->kind = BSON_NUMBER_NAN;
					break;
				}
				out->negative = signbit(d) != 0;
				if (isinf(d))
				{
					out->kind = BSON_NUMBER_INFINITY;
					break;
				}
				/* "d.dddddddddddddde[+-]x": 15 significant digits */
				snprintf(buf, sizeof(buf), "%.14e", fabs(d));
				for (char *p = buf; *p != '\0' && *p != 'e'; p++)
				{
					if (*p >= '0' && *p <= '9')
						out->coefficient = out->coefficient * 10 + (*p - '0');
				}
				e = strchr(buf, 'e');
				out->exponent = (e != NULL ? atoi(e + 1) : 0) - 14;
				break;
			}
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;

				if (bson_iter_decimal128(it, &dec))
					BsonDecodeDecimal128(&dec, out);
				break;
			}
		default:
			out->kind = BSON_NUMBER_NAN;
			break;
	}
}

/*
 * QuerySchemaNonNegative
 *		A count keyword (minLength, maxItems...): a whole number that is
 *		not negative; FailedToParse otherwise.
 */
static bool
QuerySchemaNonNegative(QueryParser *parser, const bson_iter_t *it, int64_t *out)
{
	const char *name = bson_iter_key(it);

	switch (QueryNumberToInt64(it, out))
	{
		case QUERY_INT_NOT_NUMBER:
			QueryFailValue(parser, MONGO_FAILED_TO_PARSE, it,
						   "$jsonSchema keyword '%s' expects a number, found: ",
						   name);
			return false;
		case QUERY_INT_EXACT:
			if (*out >= 0)
				return true;
			QueryFailValue(parser, MONGO_FAILED_TO_PARSE, it,
						   "$jsonSchema keyword '%s' cannot be negative: ", name);
			return false;
		default:
			QueryFailValue(parser, MONGO_FAILED_TO_PARSE, it,
						   "$jsonSchema keyword '%s' must be a whole number "
						   "representable as a 64-bit integer: ", name);
			return false;
	}
}

/*
 * QuerySchemaParseTypes
 *		type or bsonType: a name or a non-empty array of distinct names.
 */
static bool
QuerySchemaParseTypes(QueryParser *parser, const bson_iter_t *value, bool bson,
					  uint32_t *types)
{
	const char *keyword = bson ? "bsonType" : "type";
	bson_iter_t it;
	bool		array = BSON_ITER_HOLDS_ARRAY(value);
	int			n = 0;

	if (!array && !BSON_ITER_HOLDS_UTF8(value))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword '%s' must be either a string or an array of strings",
				  keyword);
		return false;
	}
	if (array && !bson_iter_recurse(value, &it))
		return false;

	*types = 0;
	for (;;)
	{
		const char *name;
		uint32_t	bits = 0;
		bool		known = false;

		if (array)
		{
			if (!bson_iter_next(&it))
				break;
			if (!BSON_ITER_HOLDS_UTF8(&it))
			{
				QueryFail(parser, MONGO_TYPE_MISMATCH,
						  "$jsonSchema keyword '%s' array elements must be strings",
						  keyword);
				return false;
			}
			name = bson_iter_utf8(&it, NULL);
		}
		else
			name = bson_iter_utf8(value, NULL);
		n++;

		if (strcmp(name, "integer") == 0)
		{
			QueryFail(parser, MONGO_FAILED_TO_PARSE,
					  "$jsonSchema type 'integer' is not currently supported.");
			return false;
		}
		if (bson)
			known = QueryLookupTypeAlias(name, &bits);
		else if (strcmp(name, "number") == 0)
			known = QueryLookupTypeAlias(name, &bits);
		else
		{
			for (size_t i = 0; i < lengthof(query_schema_json_types); i++)
			{
				if (strcmp(name, query_schema_json_types[i].name) == 0)
				{
					bits = UINT32_C(1) << QueryTypeBit(query_schema_json_types[i].type);
					known = true;
				}
			}
		}
		if (!known)
		{
			QueryFail(parser, MONGO_BAD_VALUE, "Unknown type name alias: %s", name);
			return false;
		}

		/* the same name twice (aliases of one type are distinct names) */
		if (array)
		{
			bson_iter_t other;

			if (bson_iter_recurse(value, &other))
			{
				while (bson_iter_next(&other) &&
					   bson_iter_offset(&other) < bson_iter_offset(&it))
				{
					if (BSON_ITER_HOLDS_UTF8(&other) &&
						strcmp(bson_iter_utf8(&other, NULL), name) == 0)
					{
						QueryFail(parser, MONGO_FAILED_TO_PARSE,
								  "$jsonSchema keyword '%s' has duplicate value: %s",
								  keyword, name);
						return false;
					}
				}
			}
		}
		*types |= bits;
		if (!array)
			break;
	}
	if (n == 0)
	{
		QueryFail(parser, MONGO_FAILED_TO_PARSE,
				  "$jsonSchema keyword '%s' must name at least one type", keyword);
		return false;
	}
	return true;
}

/*
 * QuerySchemaParseEncrypt
 *		encrypt: {keyId, algorithm, bsonType}, all optional.  Only its
 *		shape is checked: an encrypted value matches whatever it holds.
 */
static bool
QuerySchemaParseEncrypt(QueryParser *parser, const bson_iter_t *value,
						bool metadata)
{
	const char *keyword = metadata ? "encryptMetadata" : "encrypt";
	bson_iter_t it;
	int			n = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword '%s' must be an object", keyword);
		return false;
	}
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		n++;
		if (strcmp(key, "keyId") == 0)
		{
			if (BSON_ITER_HOLDS_UTF8(&it))
			{
				if (bson_iter_utf8(&it, NULL)[0] != '/')
				{
					QueryFail(parser, MONGO_FAILED_TO_PARSE,
							  "keyId must be a JSON pointer starting with '/'");
					return false;
				}
			}
			else if (BSON_ITER_HOLDS_ARRAY(&it))
			{
				bson_iter_t key_it;

				if (!bson_iter_recurse(&it, &key_it))
					return false;
				while (bson_iter_next(&key_it))
				{
					bson_subtype_t subtype = BSON_SUBTYPE_BINARY;
					uint32_t	len = 0;
					const uint8_t *bytes;

					if (BSON_ITER_HOLDS_BINARY(&key_it))
						bson_iter_binary(&key_it, &subtype, &len, &bytes);
					if (subtype != BSON_SUBTYPE_UUID)
					{
						QueryFail(parser, MONGO_BAD_VALUE,
								  "keyId array elements must be UUIDs");
						return false;
					}
				}
			}
			else
			{
				QueryFail(parser, MONGO_TYPE_MISMATCH,
						  "keyId must be either an array of UUIDs or a string");
				return false;
			}
		}
		else if (strcmp(key, "algorithm") == 0)
		{
			const char *algorithm;

			if (!BSON_ITER_HOLDS_UTF8(&it))
			{
				QueryFail(parser, MONGO_TYPE_MISMATCH, "algorithm must be a string");
				return false;
			}
			algorithm = bson_iter_utf8(&it, NULL);
			if (strcmp(algorithm, "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic") != 0 &&
				strcmp(algorithm, "AEAD_AES_256_CBC_HMAC_SHA_512-Random") != 0)
			{
				QueryFail(parser, MONGO_BAD_VALUE,
						  "Enumeration value '%s' for field 'algorithm' is not a valid value",
						  algorithm);
				return false;
			}
		}
		else if (strcmp(key, "bsonType") == 0 && !metadata)
		{
			uint32_t	types;

			if (!QuerySchemaParseTypes(parser, &it, true, &types))
				return false;
		}
		else
		{
			QueryFail(parser, MONGO_IDL_UNKNOWN_FIELD,
					  "BSON field '%s.%s' is an unknown field.", keyword, key);
			return false;
		}
	}
	if (metadata && n == 0)
	{
		QueryFail(parser, MONGO_FAILED_TO_PARSE,
				  "$jsonSchema keyword 'encryptMetadata' cannot be an empty object");
		return false;
	}
	return true;
}

/*
 * QuerySchemaParseBound
 *		minimum or maximum (a number), with its exclusive flag (a bool that
 *		needs the bound).
 */
static bool
QuerySchemaParseBound(QueryParser *parser, const QuerySchemaKeywords *kw,
					  QuerySchemaKeyword keyword, QuerySchemaKeyword exclusive,
					  const QueryValue **bound, bool *is_nan, bool *is_exclusive)
{
	bson_iter_t it;
	bson_iter_t flag;
	bool		has_flag = QuerySchemaFind(kw, exclusive, &flag);

	if (!QuerySchemaFind(kw, keyword, &it))
	{
		if (has_flag)
		{
			QueryFail(parser, MONGO_FAILED_TO_PARSE,
					  "$jsonSchema keyword '%s' must be a present with %s",
					  query_schema_keywords[exclusive],
					  query_schema_keywords[keyword]);
			return false;
		}
		return true;
	}
	if (has_flag)
	{
		if (!BSON_ITER_HOLDS_BOOL(&flag))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "$jsonSchema keyword '%s' must be a boolean",
					  query_schema_keywords[exclusive]);
			return false;
		}
		*is_exclusive = bson_iter_bool(&flag);
	}
	if (!QuerySchemaIsNumber(bson_iter_type(&it)))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword '%s' must be a number",
				  query_schema_keywords[keyword]);
		return false;
	}
	{
		QueryValue *value = QueryAlloc(parser->filter, sizeof(QueryValue));

		value->it = it;
		*bound = value;
	}
	*is_nan = QuerySchemaIsNaN(&it);
	return true;
}

/*
 * QuerySchemaParseList
 *		allOf, anyOf, oneOf, or items as an array: an array of schemas
 *		(non-empty unless allow_empty).
 */
static bool
QuerySchemaParseList(QueryParser *parser, const bson_iter_t *value,
					 bool allow_empty, QuerySchemaList *list)
{
	const char *keyword = bson_iter_key(value);
	bson_iter_t it;
	int			n;

	if (!BSON_ITER_HOLDS_ARRAY(value) || !bson_iter_recurse(value, &it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword '%s' must be an array", keyword);
		return false;
	}
	n = QueryCountElements(value);
	if (n == 0 && !allow_empty)
	{
		QueryFail(parser, MONGO_FAILED_TO_PARSE,
				  "$jsonSchema keyword '%s' must be a non-empty array", keyword);
		return false;
	}
	list->schemas = QueryAlloc(parser->filter, n * sizeof(QuerySchema *));
	list->n = 0;
	while (bson_iter_next(&it))
	{
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "$jsonSchema keyword '%s' must be an array of objects, "
					  "but found an element of type %s", keyword,
					  BSON_ITER_HOLDS_ARRAY(&it) ? "array" : "non-object");
			return false;
		}
		list->schemas[list->n] = QuerySchemaParse(parser, &it);
		if (list->schemas[list->n] == NULL)
			return false;
		list->n++;
	}
	return true;
}

/*
 * QuerySchemaSubschema
 *		A keyword whose value is one schema (not, and the object forms of
 *		items, additionalItems, additionalProperties).
 */
static QuerySchema *
QuerySchemaSubschema(QueryParser *parser, const bson_iter_t *value,
					 const char *expected)
{
	if (!BSON_ITER_HOLDS_DOCUMENT(value))
		return QueryFail(parser, MONGO_TYPE_MISMATCH,
						 "$jsonSchema keyword '%s' must be %s",
						 bson_iter_key(value), expected);
	return QuerySchemaParse(parser, value);
}

/*
 * QuerySchemaParseNames
 *		required, or a property dependency: a non-empty array of distinct
 *		strings.
 */
static bool
QuerySchemaParseNames(QueryParser *parser, const bson_iter_t *value,
					  const char *what, int *nnames, QuerySchemaName **names)
{
	bson_iter_t it;
	int			n;

	if (!BSON_ITER_HOLDS_ARRAY(value) || !bson_iter_recurse(value, &it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH, "%s must be an array", what);
		return false;
	}
	n = QueryCountElements(value);
	if (n == 0)
	{
		QueryFail(parser, MONGO_FAILED_TO_PARSE, "%s cannot be an empty array", what);
		return false;
	}
	*names = QueryAlloc(parser->filter, n * sizeof(QuerySchemaName));
	*nnames = 0;
	while (bson_iter_next(&it))
	{
		uint32_t	len;
		const char *name;

		if (!BSON_ITER_HOLDS_UTF8(&it))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "%s must contain only strings", what);
			return false;
		}
		name = bson_iter_utf8(&it, &len);
		for (int i = 0; i < *nnames; i++)
		{
			if ((*names)[i].len == (int) len &&
				memcmp((*names)[i].name, name, len) == 0)
			{
				QueryFail(parser, MONGO_FAILED_TO_PARSE,
						  "%s array contains duplicate values: %s", what, name);
				return false;
			}
		}
		(*names)[*nnames].name = name;
		(*names)[*nnames].len = (int) len;
		(*nnames)++;
	}
	return true;
}

/*
 * QuerySchemaParseProperties
 *		properties: an object of schemas.
 */
static bool
QuerySchemaParseProperties(QueryParser *parser, const bson_iter_t *value,
						   QuerySchema *schema)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword 'properties' must be an object");
		return false;
	}
	schema->properties = QueryAlloc(parser->filter, QueryCountElements(value) *
									sizeof(QuerySchemaProperty));
	while (bson_iter_next(&it))
	{
		QuerySchemaProperty *p = &schema->properties[schema->nproperties];

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "Nested schema for $jsonSchema property '%s' must be an object",
					  bson_iter_key(&it));
			return false;
		}
		p->key.name = bson_iter_key(&it);
		p->key.len = (int) bson_iter_key_len(&it);
		p->schema = QuerySchemaParse(parser, &it);
		if (p->schema == NULL)
			return false;
		schema->nproperties++;
	}
	return true;
}

/*
 * QuerySchemaParsePatternProperties
 *		patternProperties: an object of regexes (its keys) and schemas.
 */
static bool
QuerySchemaParsePatternProperties(QueryParser *parser, const bson_iter_t *value,
								  QuerySchema *schema)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword 'patternProperties' must be an object");
		return false;
	}
	schema->patterns = QueryAlloc(parser->filter, QueryCountElements(value) *
								  sizeof(QuerySchemaPattern));
	while (bson_iter_next(&it))
	{
		QuerySchemaPattern *p = &schema->patterns[schema->npatterns];
		const char *key = bson_iter_key(&it);

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "$jsonSchema keyword 'patternProperties' requires an object "
					  "for the schema of pattern '%s'", key);
			return false;
		}
		if (!QueryCompileRegex(parser, key, bson_iter_key_len(&it), "", 0,
							   &p->regex))
		{
			/* MongoDB reports a bad regex here as BadValue */
			if (parser->error->code == MONGO_REGEX_INVALID)
			{
				parser->error->code = MONGO_BAD_VALUE;
				parser->error->code_name = "BadValue";
			}
			return false;
		}
		p->schema = QuerySchemaParse(parser, &it);
		if (p->schema == NULL)
			return false;
		schema->npatterns++;
	}
	return true;
}

/*
 * QuerySchemaParseDependencies
 *		dependencies: an object whose values are schemas or arrays of
 *		field names.
 */
static bool
QuerySchemaParseDependencies(QueryParser *parser, const bson_iter_t *value,
							 QuerySchema *schema)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword 'dependencies' must be an object");
		return false;
	}
	schema->dependencies = QueryAlloc(parser->filter, QueryCountElements(value) *
									  sizeof(QuerySchemaProperty));
	while (bson_iter_next(&it))
	{
		QuerySchemaProperty *d = &schema->dependencies[schema->ndependencies];

		d->key.name = bson_iter_key(&it);
		d->key.len = (int) bson_iter_key_len(&it);
		if (BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			d->schema = QuerySchemaParse(parser, &it);
			if (d->schema == NULL)
				return false;
		}
		else if (BSON_ITER_HOLDS_ARRAY(&it))
		{
			if (!QuerySchemaParseNames(parser, &it,
									   "property dependency of $jsonSchema keyword 'dependencies'",
									   &d->nnames, &d->names))
				return false;
		}
		else
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "Expected $jsonSchema dependency '%s' to be an object or an array",
					  d->key.name);
			return false;
		}
		schema->ndependencies++;
	}
	return true;
}

/*
 * QuerySchemaParseEnum
 *		enum: a non-empty array of distinct values.
 */
static bool
QuerySchemaParseEnum(QueryParser *parser, const bson_iter_t *value,
					 QuerySchema *schema)
{
	bson_iter_t it;
	int			n;

	if (!BSON_ITER_HOLDS_ARRAY(value) || !bson_iter_recurse(value, &it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword 'enum' must be an array");
		return false;
	}
	n = QueryCountElements(value);
	if (n == 0)
	{
		QueryFail(parser, MONGO_FAILED_TO_PARSE,
				  "$jsonSchema keyword 'enum' cannot be an empty array");
		return false;
	}
	schema->enum_values = QueryAlloc(parser->filter, n * sizeof(QueryValue));
	while (bson_iter_next(&it))
	{
		for (int i = 0; i < schema->nenum; i++)
		{
			if (bson_iter_type(&schema->enum_values[i].it) == bson_iter_type(&it) &&
				BsonCompareValues(&schema->enum_values[i].it, &it) == 0)
			{
				QueryFail(parser, MONGO_FAILED_TO_PARSE,
						  "$jsonSchema keyword 'enum' array cannot contain duplicate values");
				return false;
			}
		}
		schema->enum_values[schema->nenum++].it = it;
	}
	return true;
}

/*
 * QuerySchemaScan
 *		The first pass over a schema document: every key must be a keyword
 *		MongoDB supports, once.
 */
static bool
QuerySchemaScan(QueryParser *parser, QuerySchemaKeywords *kw)
{
	bson_iter_t it;

	kw->present = 0;
	if (!bson_iter_recurse(kw->schema, &it))
	{
		QueryFail(parser, MONGO_FAILED_TO_PARSE, "malformed $jsonSchema");
		return false;
	}
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		int			keyword = -1;

		for (int i = 0; i < QUERY_SK_COUNT; i++)
		{
			if (strcmp(key, query_schema_keywords[i]) == 0)
			{
				keyword = i;
				break;
			}
		}
		if (keyword < 0)
		{
			for (size_t i = 0; i < lengthof(query_schema_unsupported); i++)
			{
				if (strcmp(key, query_schema_unsupported[i]) == 0)
				{
					QueryFail(parser, MONGO_FAILED_TO_PARSE,
							  "$jsonSchema keyword '%s' is not currently supported",
							  key);
					return false;
				}
			}
			QueryFail(parser, MONGO_FAILED_TO_PARSE,
					  "Unknown $jsonSchema keyword: %s", key);
			return false;
		}
		if (kw->present & (UINT32_C(1) << keyword))
		{
			QueryFail(parser, MONGO_FAILED_TO_PARSE,
					  "Duplicate $jsonSchema keyword: %s", key);
			return false;
		}
		kw->present |= UINT32_C(1) << keyword;
	}
	return true;
}

/*
 * QuerySchemaParseScalars
 *		The keywords about types, numbers and strings.
 */
static bool
QuerySchemaParseScalars(QueryParser *parser, const QuerySchemaKeywords *kw,
						QuerySchema *schema)
{
	bson_iter_t it;
	bool		has_type = QuerySchemaFind(kw, QUERY_SK_TYPE, &it);
	bson_iter_t bson_it;
	bool		has_bson_type = QuerySchemaFind(kw, QUERY_SK_BSON_TYPE, &bson_it);

	if (has_type && !QuerySchemaParseTypes(parser, &it, false, &schema->types))
		return false;
	if (has_bson_type &&
		!QuerySchemaParseTypes(parser, &bson_it, true, &schema->types))
		return false;
	if (has_type && has_bson_type)
	{
		QueryFail(parser, MONGO_FAILED_TO_PARSE,
				  "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'");
		return false;
	}

	if (QuerySchemaFind(kw, QUERY_SK_ENCRYPT, &it))
	{
		if (has_type || has_bson_type)
		{
			QueryFail(parser, MONGO_FAILED_TO_PARSE,
					  "Cannot specify both $jsonSchema keywords 'encrypt' and '%s'",
					  has_type ? "type" : "bsonType");
			return false;
		}
		if (!QuerySchemaParseEncrypt(parser, &it, false))
			return false;
		schema->encrypt = true;
	}
	if (QuerySchemaFind(kw, QUERY_SK_ENCRYPT_METADATA, &it) &&
		!QuerySchemaParseEncrypt(parser, &it, true))
		return false;

	if (!QuerySchemaParseBound(parser, kw, QUERY_SK_MAXIMUM,
							   QUERY_SK_EXCLUSIVE_MAXIMUM, &schema->maximum,
							   &schema->maximum_nan, &schema->exclusive_maximum) ||
		!QuerySchemaParseBound(parser, kw, QUERY_SK_MINIMUM,
							   QUERY_SK_EXCLUSIVE_MINIMUM, &schema->minimum,
							   &schema->minimum_nan, &schema->exclusive_minimum))
		return false;

	if (QuerySchemaFind(kw, QUERY_SK_MAX_LENGTH, &it) &&
		!QuerySchemaNonNegative(parser, &it, &schema->max_length))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_MIN_LENGTH, &it) &&
		!QuerySchemaNonNegative(parser, &it, &schema->min_length))
		return false;

	if (QuerySchemaFind(kw, QUERY_SK_PATTERN, &it))
	{
		const char *pattern;
		uint32_t	len;

		if (!BSON_ITER_HOLDS_UTF8(&it))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "$jsonSchema keyword 'pattern' must be a string");
			return false;
		}
		pattern = bson_iter_utf8(&it, &len);
		schema->pattern = QueryAlloc(parser->filter, sizeof(QueryRegex));
		if (!QueryCompileRegex(parser, pattern, len, "", 0, schema->pattern))
			return false;
	}

	if (QuerySchemaFind(kw, QUERY_SK_MULTIPLE_OF, &it))
	{
		if (!QuerySchemaIsNumber(bson_iter_type(&it)))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "$jsonSchema keyword 'multipleOf' must be a number");
			return false;
		}
		QuerySchemaToDecimal(&it, &schema->multiple_of);
		if (schema->multiple_of.kind == BSON_NUMBER_NAN ||
			schema->multiple_of.negative ||
			(schema->multiple_of.kind == BSON_NUMBER_FINITE &&
			 schema->multiple_of.coefficient == 0))
		{
			QueryFail(parser, MONGO_FAILED_TO_PARSE,
					  "$jsonSchema keyword 'multipleOf' must have a positive value");
			return false;
		}
		/* drop trailing zeros: the value is the same, the sums smaller */
		while (schema->multiple_of.kind == BSON_NUMBER_FINITE &&
			   schema->multiple_of.coefficient % 10 == 0)
		{
			schema->multiple_of.coefficient /= 10;
			schema->multiple_of.exponent++;
		}
		schema->has_multiple_of = true;
	}
	return true;
}

/*
 * QuerySchemaParseArrays
 *		The keywords about arrays.
 */
static bool
QuerySchemaParseArrays(QueryParser *parser, const QuerySchemaKeywords *kw,
					   QuerySchema *schema)
{
	bson_iter_t it;

	if (QuerySchemaFind(kw, QUERY_SK_ITEMS, &it))
	{
		if (BSON_ITER_HOLDS_ARRAY(&it))
		{
			if (!QuerySchemaParseList(parser, &it, true, &schema->item_list))
				return false;
			schema->has_item_list = true;
		}
		else
		{
			schema->items = QuerySchemaSubschema(parser, &it,
												 "an array or an object");
			if (schema->items == NULL)
				return false;
		}
	}
	if (QuerySchemaFind(kw, QUERY_SK_ADDITIONAL_ITEMS, &it))
	{
		bool		no_additional = false;
		QuerySchema *additional = NULL;

		if (BSON_ITER_HOLDS_BOOL(&it))
			no_additional = !bson_iter_bool(&it);
		else
		{
			additional = QuerySchemaSubschema(parser, &it, "an object or a boolean");
			if (additional == NULL)
				return false;
		}
		/* additionalItems means something only after an array of items */
		if (schema->has_item_list)
		{
			schema->no_additional_items = no_additional;
			schema->additional_items = additional;
		}
	}
	if (QuerySchemaFind(kw, QUERY_SK_MAX_ITEMS, &it) &&
		!QuerySchemaNonNegative(parser, &it, &schema->max_items))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_MIN_ITEMS, &it) &&
		!QuerySchemaNonNegative(parser, &it, &schema->min_items))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_UNIQUE_ITEMS, &it))
	{
		if (!BSON_ITER_HOLDS_BOOL(&it))
		{
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "$jsonSchema keyword 'uniqueItems' must be a boolean");
			return false;
		}
		schema->unique_items = bson_iter_bool(&it);
	}
	return true;
}

/*
 * QuerySchemaParseObjects
 *		The keywords about objects.
 */
static bool
QuerySchemaParseObjects(QueryParser *parser, const QuerySchemaKeywords *kw,
						QuerySchema *schema)
{
	bson_iter_t it;

	if (QuerySchemaFind(kw, QUERY_SK_REQUIRED, &it) &&
		!QuerySchemaParseNames(parser, &it, "$jsonSchema keyword 'required'",
							   &schema->nrequired, &schema->required))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_PROPERTIES, &it) &&
		!QuerySchemaParseProperties(parser, &it, schema))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_PATTERN_PROPERTIES, &it) &&
		!QuerySchemaParsePatternProperties(parser, &it, schema))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_ADDITIONAL_PROPERTIES, &it))
	{
		if (BSON_ITER_HOLDS_BOOL(&it))
			schema->no_additional_properties = !bson_iter_bool(&it);
		else
		{
			schema->additional_properties =
				QuerySchemaSubschema(parser, &it, "an object or a boolean");
			if (schema->additional_properties == NULL)
				return false;
		}
	}
	if (QuerySchemaFind(kw, QUERY_SK_MAX_PROPERTIES, &it) &&
		!QuerySchemaNonNegative(parser, &it, &schema->max_properties))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_MIN_PROPERTIES, &it) &&
		!QuerySchemaNonNegative(parser, &it, &schema->min_properties))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_DEPENDENCIES, &it) &&
		!QuerySchemaParseDependencies(parser, &it, schema))
		return false;
	return true;
}

/*
 * QuerySchemaParseLogic
 *		The logical keywords, enum, and the annotations.
 */
static bool
QuerySchemaParseLogic(QueryParser *parser, const QuerySchemaKeywords *kw,
					  QuerySchema *schema)
{
	bson_iter_t it;

	if (QuerySchemaFind(kw, QUERY_SK_ALL_OF, &it) &&
		!QuerySchemaParseList(parser, &it, false, &schema->all_of))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_ANY_OF, &it) &&
		!QuerySchemaParseList(parser, &it, false, &schema->any_of))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_ONE_OF, &it) &&
		!QuerySchemaParseList(parser, &it, false, &schema->one_of))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_NOT, &it))
	{
		schema->not_schema = QuerySchemaSubschema(parser, &it, "an object");
		if (schema->not_schema == NULL)
			return false;
	}
	if (QuerySchemaFind(kw, QUERY_SK_ENUM, &it) &&
		!QuerySchemaParseEnum(parser, &it, schema))
		return false;
	if (QuerySchemaFind(kw, QUERY_SK_TITLE, &it) && !BSON_ITER_HOLDS_UTF8(&it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword 'title' must be a string");
		return false;
	}
	if (QuerySchemaFind(kw, QUERY_SK_DESCRIPTION, &it) && !BSON_ITER_HOLDS_UTF8(&it))
	{
		QueryFail(parser, MONGO_TYPE_MISMATCH,
				  "$jsonSchema keyword 'description' must be a string");
		return false;
	}
	return true;
}

/*
 * QuerySchemaParse
 *		Compile the schema document the iterator is on.
 */
static QuerySchema *
QuerySchemaParse(QueryParser *parser, const bson_iter_t *doc)
{
	QuerySchemaKeywords kw;
	QuerySchema *schema;

	if (!QueryEnter(parser))
		return NULL;

	kw.schema = doc;
	if (!QuerySchemaScan(parser, &kw))
		return NULL;

	schema = QueryAlloc(parser->filter, sizeof(QuerySchema));
	schema->min_length = schema->max_length = -1;
	schema->min_items = schema->max_items = -1;
	schema->min_properties = schema->max_properties = -1;

	if (!QuerySchemaParseScalars(parser, &kw, schema) ||
		!QuerySchemaParseArrays(parser, &kw, schema) ||
		!QuerySchemaParseObjects(parser, &kw, schema) ||
		!QuerySchemaParseLogic(parser, &kw, schema))
		return NULL;

	parser->depth--;
	return schema;
}

/*
 * QueryParseJsonSchema
 *		{$jsonSchema: schema}: a path-less node.
 */
QueryNode *
QueryParseJsonSchema(QueryParser *parser, const bson_iter_t *operand)
{
	QueryNode  *node;
	QuerySchema *schema;

	if (!BSON_ITER_HOLDS_DOCUMENT(operand))
		return QueryFail(parser, MONGO_TYPE_MISMATCH,
						 "$jsonSchema must be an object");
	schema = QuerySchemaParse(parser, operand);
	if (schema == NULL)
		return NULL;
	node = QueryNewNode(parser, QUERY_JSON_SCHEMA, NULL);
	node->u.schema = schema;
	return node;
}


/* ----------------------------------------------------------------
 *		Validating
 * ----------------------------------------------------------------
 */

static bool QuerySchemaValuesEqual(const bson_iter_t *a, const bson_iter_t *b);

/*
 * QuerySchemaDocsEqual
 *		Whether two documents (BSON bytes) have the same fields with equal
 *		values, in any order.
 */
static bool
QuerySchemaDocsEqual(const uint8_t *a, uint32_t alen, const uint8_t *b,
					 uint32_t blen)
{
	bson_t		da;
	bson_t		db;
	bson_iter_t ia;
	bson_iter_t ib;
	int			na = 0;
	int			nb = 0;

	if (!bson_init_static(&da, a, alen) || !bson_init_static(&db, b, blen) ||
		!bson_iter_init(&ia, &da) || !bson_iter_init(&ib, &db))
		return false;
	while (bson_iter_next(&ib))
		nb++;
	while (bson_iter_next(&ia))
	{
		bson_iter_t found;

		na++;
		if (!BsonFindMember(b, blen, bson_iter_key(&ia), bson_iter_key_len(&ia),
							0, &found) ||
			!QuerySchemaValuesEqual(&ia, &found))
			return false;
	}
	return na == nb;
}

/*
 * QuerySchemaValuesEqual
 *		MongoDB's equality of enum and uniqueItems: BSON comparison, except
 *		that embedded documents may order their fields differently.
 */
static bool
QuerySchemaValuesEqual(const bson_iter_t *a, const bson_iter_t *b)
{
	bson_type_t ta = bson_iter_type(a);
	bson_type_t tb = bson_iter_type(b);

	PURE_CHECK_STACK();

	if (ta == BSON_TYPE_DOCUMENT && tb == BSON_TYPE_DOCUMENT)
	{
		const uint8_t *da;
		const uint8_t *db;
		uint32_t	la;
		uint32_t	lb;

		bson_iter_document(a, &la, &da);
		bson_iter_document(b, &lb, &db);
		return QuerySchemaDocsEqual(da, la, db, lb);
	}
	if (ta == BSON_TYPE_ARRAY && tb == BSON_TYPE_ARRAY)
	{
		bson_iter_t ea;
		bson_iter_t eb;

		if (!bson_iter_recurse(a, &ea) || !bson_iter_recurse(b, &eb))
			return false;
		for (;;)
		{
			bool		more_a = bson_iter_next(&ea);
			bool		more_b = bson_iter_next(&eb);

			if (more_a != more_b)
				return false;
			if (!more_a)
				return true;
			if (!QuerySchemaValuesEqual(&ea, &eb))
				return false;
		}
	}
	if (BsonCanonicalTypeOrder(ta) != BsonCanonicalTypeOrder(tb))
		return false;
	return BsonCompareValues(a, b) == 0;
}

/*
 * QuerySchemaMultipleOf
 *		Whether a number is a whole multiple of a positive decimal, exactly
 *		in decimal (NaN and infinities are multiples of nothing).
 */
static bool
QuerySchemaMultipleOf(const bson_iter_t *value, const BsonDecimal *m)
{
	BsonDecimal x;
	uint128		coefficient;
	int			exponent;

	QuerySchemaToDecimal(value, &x);
	if (x.kind != BSON_NUMBER_FINITE)
		return false;
	if (x.coefficient == 0)
		return true;
	if (m->kind != BSON_NUMBER_FINITE)
		return false;			/* x modulo infinity is x, not zero */

	coefficient = x.coefficient;
	exponent = x.exponent;
	while (coefficient % 10 == 0)
	{
		coefficient /= 10;
		exponent++;
	}

	if (exponent >= m->exponent)
	{
		/* (c * 10^(e - me)) mod mc, one power of ten at a time */
		uint128		r = coefficient % m->coefficient;

		for (int i = m->exponent; i < exponent && r != 0; i++)
			r = (r * 10) % m->coefficient;
		return r == 0;
	}
	else
	{
		/* c must be a multiple of mc * 10^(me - e) */
		uint128		divisor = m->coefficient;

		for (int i = exponent; i < m->exponent; i++)
		{
			if (divisor > coefficient / 10)
				return false;	/* larger than c: c is no multiple */
			divisor *= 10;
		}
		return coefficient % divisor == 0;
	}
}

/*
 * QuerySchemaBound
 *		minimum or maximum on a number, with the comparison operators' NaN
 *		rule.
 */
static bool
QuerySchemaBound(const bson_iter_t *value, const QueryValue *bound,
				 bool bound_nan, bool exclusive, bool is_minimum)
{
	bool		value_nan = QuerySchemaIsNaN(value);
	int			c;

	if (value_nan || bound_nan)
		return !exclusive && value_nan && bound_nan;
	c = BsonCompareValues(value, &bound->it);
	if (is_minimum)
		return exclusive ? c > 0 : c >= 0;
	return exclusive ? c < 0 : c <= 0;
}

/*
 * QuerySchemaMatchNumber
 *		The numeric keywords on a number.
 */
static bool
QuerySchemaMatchNumber(const QuerySchema *schema, const bson_iter_t *value)
{
	if (schema->minimum != NULL &&
		!QuerySchemaBound(value, schema->minimum, schema->minimum_nan,
						  schema->exclusive_minimum, true))
		return false;
	if (schema->maximum != NULL &&
		!QuerySchemaBound(value, schema->maximum, schema->maximum_nan,
						  schema->exclusive_maximum, false))
		return false;
	if (schema->has_multiple_of &&
		!QuerySchemaMultipleOf(value, &schema->multiple_of))
		return false;
	return true;
}

/*
 * QuerySchemaMatchString
 *		The string keywords on a string: lengths in code points, pattern.
 */
static bool
QuerySchemaMatchString(const QuerySchema *schema, const bson_iter_t *value)
{
	uint32_t	len;
	const char *str = bson_iter_utf8(value, &len);

	if (str == NULL)
		return false;
	if (schema->min_length >= 0 || schema->max_length >= 0)
	{
		int64_t		chars = 0;

		for (uint32_t i = 0; i < len; i++)
			chars += ((unsigned char) str[i] & 0xC0) != 0x80;
		if (schema->min_length >= 0 && chars < schema->min_length)
			return false;
		if (schema->max_length >= 0 && chars > schema->max_length)
			return false;
	}
	if (schema->pattern != NULL &&
		!QueryMatchRegexString(schema->pattern, str, len))
		return false;
	return true;
}

/*
 * QuerySchemaMatchArray
 *		The array keywords on an array.
 */
static bool
QuerySchemaMatchArray(const QuerySchema *schema, const bson_iter_t *value)
{
	bson_iter_t element;
	int64_t		n = 0;

	if (!bson_iter_recurse(value, &element))
		return false;
	while (bson_iter_next(&element))
	{
		const QuerySchema *item = schema->items;

		if (schema->has_item_list)
		{
			if (n < schema->item_list.n)
				item = schema->item_list.schemas[n];
			else if (schema->no_additional_items)
				return false;
			else
				item = schema->additional_items;
		}
		if (item != NULL && !QuerySchemaMatchValue(item, &element, NULL, 0))
			return false;
		if (schema->unique_items)
		{
			bson_iter_t other;

			if (!bson_iter_recurse(value, &other))
				return false;
			while (bson_iter_next(&other) &&
				   bson_iter_offset(&other) < bson_iter_offset(&element))
			{
				if (QuerySchemaValuesEqual(&other, &element))
					return false;
			}
		}
		n++;
	}
	if (schema->min_items >= 0 && n < schema->min_items)
		return false;
	if (schema->max_items >= 0 && n > schema->max_items)
		return false;
	return true;
}

/*
 * QuerySchemaHasField
 *		Whether an object has a field of that exact name.
 */
static inline bool
QuerySchemaHasField(const uint8_t *data, uint32_t len,
					const QuerySchemaName *name)
{
	bson_iter_t it;

	return BsonFindMember(data, len, name->name, name->len, 0, &it);
}

/*
 * QuerySchemaMatchObject
 *		The object keywords on an object (its BSON bytes).
 */
static bool
QuerySchemaMatchObject(const QuerySchema *schema, const uint8_t *data,
					   uint32_t len)
{
	bool		walk_fields = schema->min_properties >= 0 ||
		schema->max_properties >= 0 || schema->npatterns > 0 ||
		schema->no_additional_properties || schema->additional_properties != NULL;

	for (int i = 0; i < schema->nrequired; i++)
	{
		if (!QuerySchemaHasField(data, len, &schema->required[i]))
			return false;
	}
	for (int i = 0; i < schema->nproperties; i++)
	{
		const QuerySchemaProperty *p = &schema->properties[i];
		bson_iter_t it;

		if (BsonFindMember(data, len, p->key.name, p->key.len, 0, &it) &&
			!QuerySchemaMatchValue(p->schema, &it, NULL, 0))
			return false;
	}
	for (int i = 0; i < schema->ndependencies; i++)
	{
		const QuerySchemaProperty *d = &schema->dependencies[i];

		if (!QuerySchemaHasField(data, len, &d->key))
			continue;
		if (d->schema != NULL && !QuerySchemaMatchValue(d->schema, NULL, data, len))
			return false;
		for (int j = 0; j < d->nnames; j++)
		{
			if (!QuerySchemaHasField(data, len, &d->names[j]))
				return false;
		}
	}

	if (walk_fields)
	{
		bson_t		doc;
		bson_iter_t it;
		int64_t		n = 0;

		if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
			return false;
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);
			uint32_t	keylen = bson_iter_key_len(&it);
			bool		additional = true;

			n++;
			if (schema->npatterns == 0 && !schema->no_additional_properties &&
				schema->additional_properties == NULL)
				continue;
			for (int i = 0; i < schema->nproperties && additional; i++)
			{
				if (schema->properties[i].key.len == (int) keylen &&
					memcmp(schema->properties[i].key.name, key, keylen) == 0)
					additional = false;
			}
			for (int i = 0; i < schema->npatterns; i++)
			{
				const QuerySchemaPattern *p = &schema->patterns[i];

				if (!QueryMatchRegexString(&p->regex, key, keylen))
					continue;
				additional = false;
				if (!QuerySchemaMatchValue(p->schema, &it, NULL, 0))
					return false;
			}
			if (additional)
			{
				if (schema->no_additional_properties)
					return false;
				if (schema->additional_properties != NULL &&
					!QuerySchemaMatchValue(schema->additional_properties, &it,
										   NULL, 0))
					return false;
			}
		}
		if (schema->min_properties >= 0 && n < schema->min_properties)
			return false;
		if (schema->max_properties >= 0 && n > schema->max_properties)
			return false;
	}
	return true;
}

/*
 * QuerySchemaMatchEnum
 *		Whether a value (NULL: the document data) equals one of enum's.
 */
static bool
QuerySchemaMatchEnum(const QuerySchema *schema, const bson_iter_t *value,
					 const uint8_t *data, uint32_t len)
{
	for (int i = 0; i < schema->nenum; i++)
	{
		const bson_iter_t *candidate = &schema->enum_values[i].it;

		if (value != NULL)
		{
			if (QuerySchemaValuesEqual(value, candidate))
				return true;
		}
		else if (BSON_ITER_HOLDS_DOCUMENT(candidate))
		{
			const uint8_t *cdata;
			uint32_t	clen;

			bson_iter_document(candidate, &clen, &cdata);
			if (QuerySchemaDocsEqual(data, len, cdata, clen))
				return true;
		}
	}
	return false;
}

/*
 * QuerySchemaMatchValue
 *		Whether a value satisfies a schema.  value NULL stands for the
 *		document given by data and len (the top level, or the object a
 *		schema dependency applies to).
 */
static bool
QuerySchemaMatchValue(const QuerySchema *schema, const bson_iter_t *value,
					  const uint8_t *data, uint32_t len)
{
	bson_type_t type = BSON_TYPE_DOCUMENT;

	PURE_CHECK_STACK();

	if (value != NULL)
	{
		type = bson_iter_type(value);
		if (type == BSON_TYPE_DOCUMENT)
			bson_iter_document(value, &len, &data);
	}

	if (schema->types != 0 &&
		(schema->types & (UINT32_C(1) << QueryTypeBit(type))) == 0)
		return false;
	if (schema->encrypt)
	{
		bson_subtype_t subtype = BSON_SUBTYPE_BINARY;
		uint32_t	blen;
		const uint8_t *bytes;

		if (type != BSON_TYPE_BINARY)
			return false;
		bson_iter_binary(value, &subtype, &blen, &bytes);
		if (subtype != QUERY_SCHEMA_SUBTYPE_ENCRYPTED)
			return false;
	}

	switch (type)
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			if (!QuerySchemaMatchNumber(schema, value))
				return false;
			break;
		case BSON_TYPE_UTF8:
			if (!QuerySchemaMatchString(schema, value))
				return false;
			break;
		case BSON_TYPE_ARRAY:
			if (!QuerySchemaMatchArray(schema, value))
				return false;
			break;
		case BSON_TYPE_DOCUMENT:
			if (!QuerySchemaMatchObject(schema, data, len))
				return false;
			break;
		default:
			break;
	}

	if (schema->nenum > 0 && !QuerySchemaMatchEnum(schema, value, data, len))
		return false;
	for (int i = 0; i < schema->all_of.n; i++)
	{
		if (!QuerySchemaMatchValue(schema->all_of.schemas[i], value, data, len))
			return false;
	}
	if (schema->any_of.n > 0)
	{
		bool		any = false;

		for (int i = 0; i < schema->any_of.n && !any; i++)
			any = QuerySchemaMatchValue(schema->any_of.schemas[i], value, data, len);
		if (!any)
			return false;
	}
	if (schema->one_of.n > 0)
	{
		int			matched = 0;

		for (int i = 0; i < schema->one_of.n && matched < 2; i++)
			matched += QuerySchemaMatchValue(schema->one_of.schemas[i], value,
											 data, len);
		if (matched != 1)
			return false;
	}
	if (schema->not_schema != NULL &&
		QuerySchemaMatchValue(schema->not_schema, value, data, len))
		return false;
	return true;
}

/*
 * QuerySchemaMatchDocument
 *		Whether a document (BSON bytes) satisfies a compiled $jsonSchema.
 */
bool
QuerySchemaMatchDocument(const QuerySchema *schema, const uint8_t *data,
						 uint32_t len)
{
	return QuerySchemaMatchValue(schema, NULL, data, len);
}
