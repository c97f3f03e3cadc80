/*-------------------------------------------------------------------------
 *
 * cmd_admin.c
 *	  Collection and database commands: create, drop, dropDatabase,
 *	  listCollections, listDatabases, renameCollection, collMod and the
 *	  index catalogue commands (createIndexes, listIndexes, dropIndexes).
 *
 * Index specifications are recorded in the catalog (nosql.collection's
 * indexes column, an array of specs, the _id index implied); building
 * secondary indexes belongs to the indexing work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "bson_compare.h"
#include "cdc.h"
#include "documents.h"

/* MongoDB's codes raised only here */
#define MONGO_GRAPH_CONTAINS_CYCLE		5
#define MONGO_INVALID_UUID				207
#define MONGO_CANNOT_CONVERT_INDEX_TO_UNIQUE	359
#define MONGO_COLLECTION_UUID_MISMATCH	361
#define MONGO_API_VERSION_ERROR			322
#define MONGO_GEO_NEAR_NOT_ALLOWED		5626500
#define MONGO_DATABASE_DIFFER_CASE		13297
#define MONGO_DROP_DATABASE_NOT_ONE		5255100
#define MONGO_AMBIGUOUS_INDEX_KEY_PATTERN	181

/* MongoDB's limits on a view's pipeline */
#define VIEW_MAX_STAGES					1000
#define VIEW_MAX_SUB_PIPELINE_DEPTH		20

static int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

static bool DocumentsEqual(const bson_iter_t *a, const bson_iter_t *b);
static bool IndexKeyIsId(const bson_iter_t *key);

/* ---- a table-driven check of command fields ---- */

static bool
FieldTypeOk(const bson_iter_t *it, int types)
{
	if (types & FT_ANY)
		return true;
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_UTF8:
			return (types & FT_STRING) != 0;
		case BSON_TYPE_DOCUMENT:
			return (types & FT_DOC) != 0;
		case BSON_TYPE_ARRAY:
			return (types & FT_ARRAY) != 0;
		case BSON_TYPE_BOOL:
			return (types & FT_BOOL) != 0;
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			return (types & FT_NUMBER) != 0;
		case BSON_TYPE_NULL:
			return (types & FT_NULL) != 0;
		default:
			return false;
	}
}

static const char *
FieldTypeNames(int types)
{
	if ((types & FT_SAFEBOOL) == FT_SAFEBOOL)
		return "[bool, long, int, decimal, double]";
	if (types & FT_NUMBER)
		return "[long, int, decimal, double]";
	if (types & FT_STRING)
		return "string";
	if (types & FT_DOC)
		return "object";
	if (types & FT_ARRAY)
		return "array";
	if (types & FT_BOOL)
		return "bool";
	return "unknown";
}

/* Fields common to every command, with their types */
static const FieldSpec generic_fields[] = {
	{"readConcern", FT_DOC},
	{"writeConcern", FT_DOC},
	{"maxTimeMS", FT_NUMBER},
	{"lsid", FT_DOC},
	{"$clusterTime", FT_DOC},
	{"$readPreference", FT_DOC},
	{"apiVersion", FT_STRING},
	{"apiStrict", FT_BOOL},
	{"apiDeprecationErrors", FT_BOOL},
	{NULL, 0}
};

/*
 * A number as a double: decimals through their string form, so that
 * "Infinity", "NaN" and huge exponents come out as doubles do.
 */
bool
BsonIterAsDouble(const bson_iter_t *it, double *value)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			*value = bson_iter_int32(it);
			return true;
		case BSON_TYPE_INT64:
			*value = (double) bson_iter_int64(it);
			return true;
		case BSON_TYPE_DOUBLE:
			*value = bson_iter_double(it);
			return true;
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				char		s[BSON_DECIMAL128_STRING];

				bson_iter_decimal128(it, &dec);
				bson_decimal128_to_string(&dec, s);
				if (strstr(s, "NaN") != NULL)
					*value = NAN;
				else if (strcmp(s, "Infinity") == 0)
					*value = INFINITY;
				else if (strcmp(s, "-Infinity") == 0)
					*value = -INFINITY;
				else
					*value = strtod(s, NULL);
				return true;
			}
		default:
			return false;
	}
}

/*
 * A number as MongoDB's "safe" integer conversions take it: doubles
 * truncated, decimals rounded half to even.  NaN stays NaN.
 */
static double
IterWhole(const bson_iter_t *it)
{
	double		d = NAN;

	BsonIterAsDouble(it, &d);
	return BSON_ITER_HOLDS_DECIMAL128(it) ? rint(d) : trunc(d);
}

/* A boolean option given as a bool or a number */
static bool
IterTruthy(const bson_iter_t *it)
{
	double		d;

	if (BsonIterAsDouble(it, &d))
		return d != 0;
	return bson_iter_as_bool(it);
}

/* maxTimeMS: a whole, non-negative 32-bit number of milliseconds */
static void
CheckMaxTimeMS(const bson_iter_t *it)
{
	double		d;

	if (!BsonIterAsDouble(it, &d))
		RaiseWrongType("maxTimeMS", it, "number");
	if (isnan(d) || isinf(d) || d != floor(d))
		MongoRaise(MONGO_FAILED_TO_PARSE, "maxTimeMS has non-integral value");
	if (d < 0 || d > INT32_MAX)
		MongoRaise(MONGO_BAD_VALUE, "%s value for maxTimeMS is out of range",
				   "BSON field 'maxTimeMS'");
}

/*
 * readConcern: {level, provenance, afterClusterTime, ...}.  The commands
 * here read the local snapshot only: other levels are InvalidOptions.
 */
static void
CheckReadConcern(const char *command, const bson_iter_t *rc)
{
	bson_iter_t it;

	bson_iter_recurse(rc, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "level") == 0)
		{
			const char *level;

			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&it))
				RaiseWrongType("readConcern", &it, "string");
			level = bson_iter_utf8(&it, NULL);
			if (strcmp(level, "local") == 0)
				continue;
			if (strcmp(level, "majority") == 0 || strcmp(level, "linearizable") == 0 ||
				strcmp(level, "available") == 0 || strcmp(level, "snapshot") == 0)
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "Command %s does not support { readConcern: { level: \"%s\" } }",
						   command, level);
			MongoRaise(MONGO_BAD_VALUE,
					   "Enumeration value '%s' for field 'readConcern.level' is not a valid value.",
					   level);
		}
		else if (strcmp(key, "provenance") == 0)
		{
			const char *p;

			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&it))
				RaiseWrongType("readConcern", &it, "string");
			p = bson_iter_utf8(&it, NULL);
			if (strcmp(p, "clientSupplied") != 0 && strcmp(p, "implicitDefault") != 0 &&
				strcmp(p, "customDefault") != 0 && strcmp(p, "getLastErrorDefaults") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'readConcern.provenance' is not a valid value.",
						   p);
		}
		else if (strcmp(key, "afterClusterTime") == 0 || strcmp(key, "atClusterTime") == 0)
		{
			if (!BSON_ITER_HOLDS_TIMESTAMP(&it))
				RaiseWrongType("readConcern", &it, "timestamp");
			MongoRaise(MONGO_ILLEGAL_OPERATION,
					   "Command %s does not support readConcern.%s", command, key);
		}
		else if (strcmp(key, "afterOpTime") == 0)
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'readConcern.%s' is an unknown field.", key);
	}
}

/* The w of a writeConcern: a count (0..50; above 1 needs replicas), "majority" or tags */
void
CheckWriteConcernW(const bson_iter_t *w)
{
	switch (bson_iter_type(w))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			{
				double		d;

				BsonIterAsDouble(w, &d);
				if (isnan(d) || isinf(d))
					MongoRaise(MONGO_FAILED_TO_PARSE, "w has to be a number, a string or an object");
				/* doubles truncate; decimals round half to even */
				d = BSON_ITER_HOLDS_DECIMAL128(w) ? rint(d) : trunc(d);
				if (d < 0 || d > 50)
					MongoRaise(MONGO_FAILED_TO_PARSE,
							   "w has to be a non-negative number and not greater than 50; found: %.0f", d);
				if (d > 1)
					MongoRaise(MONGO_BAD_VALUE,
							   "cannot use 'w' > 1 when a host is not replicated");
				return;
			}
		case BSON_TYPE_UTF8:
			if (strcmp(bson_iter_utf8(w, NULL), "majority") == 0)
				return;
			MongoRaise(MONGO_BAD_VALUE, "No write concern mode named '%s' found in replica set configuration",
					   bson_iter_utf8(w, NULL));
		case BSON_TYPE_NULL:
			MongoRaise(MONGO_BAD_VALUE, "w has to be a number, a string or an object");
		case BSON_TYPE_DOCUMENT:
			{
				bson_iter_t t;
				int			n = 0;

				bson_iter_recurse(w, &t);
				while (bson_iter_next(&t))
				{
					n++;
					if (!BsonIterIsNumber(&t))
						MongoRaise(MONGO_FAILED_TO_PARSE, "tags must be a single level document with only number values");
				}
				if (n == 0)
					MongoRaise(MONGO_FAILED_TO_PARSE, "tagged write concern requires tags");
				return;
			}
		default:
			MongoRaise(MONGO_FAILED_TO_PARSE, "w has to be a number, a string or an object");
	}
}

/* writeConcern: {w, j, wtimeout, fsync} */
static void
CheckWriteConcernDoc(const bson_iter_t *wc, int flags)
{
	bson_iter_t it;

	bson_iter_recurse(wc, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "w") == 0)
			CheckWriteConcernW(&it);
		else if (strcmp(key, "j") == 0 || strcmp(key, "fsync") == 0)
		{
			if (!BSON_ITER_HOLDS_NULL(&it) && !BSON_ITER_HOLDS_BOOL(&it) && !BsonIterIsNumber(&it))
				RaiseWrongType("writeConcern", &it, "[bool, long, int, decimal, double]");
		}
		else if (strcmp(key, "wtimeout") == 0)
		{
			double		d;

			/* any other type is ignored, as MongoDB does */
			if (BsonIterAsDouble(&it, &d) && (isnan(d) || d < INT32_MIN || d > INT32_MAX))
				MongoRaise(MONGO_FAILED_TO_PARSE, "wtimeout must be a 32-bit integer");
		}
		else if (strcmp(key, "provenance") == 0 || strcmp(key, "wOpTime") == 0 ||
				 strcmp(key, "wElectionId") == 0 || strcmp(key, "getLastError") == 0)
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'writeConcern.%s' is an unknown field.", key);
	}
	if (flags & CF_NO_WRITE_CONCERN)
		MongoRaise(MONGO_INVALID_OPTIONS, "Command does not support writeConcern");
}

/*
 * Check the fields after a command's first one against spec (and the
 * generic fields): unknown fields are IDLUnknownField, wrong types
 * TypeMismatch.  A null value counts as absent, as MongoDB's parsers take
 * it for optional fields.
 */
void
CheckFieldsFlags(CommandContext *ctx, const FieldSpec *spec, int flags)
{
	bson_iter_t it = ctx->first;

	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		const FieldSpec *f = NULL;

		for (int i = 0; spec[i].name != NULL; i++)
			if (strcmp(spec[i].name, key) == 0)
				f = &spec[i];
		if (f == NULL)
			for (int i = 0; generic_fields[i].name != NULL; i++)
				if (strcmp(generic_fields[i].name, key) == 0)
					f = &generic_fields[i];
		if (f == NULL)
		{
			if (IsGenericField(key) || (flags & CF_IGNORE_UNKNOWN))
				continue;
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '%s.%s' is an unknown field.",
					   ctx->name, key);
		}
		if (BSON_ITER_HOLDS_NULL(&it))
			continue;
		if (!FieldTypeOk(&it, f->types))
			RaiseWrongType(ctx->name, &it, FieldTypeNames(f->types));
		if (strcmp(key, "apiVersion") == 0 && strcmp(bson_iter_utf8(&it, NULL), "1") != 0)
			MongoRaise(MONGO_API_VERSION_ERROR, "API version must be \"1\"");
		if (strcmp(key, "maxTimeMS") == 0)
			CheckMaxTimeMS(&it);
		else if (strcmp(key, "readConcern") == 0)
			CheckReadConcern(ctx->name, &it);
		else if (strcmp(key, "writeConcern") == 0)
			CheckWriteConcernDoc(&it, flags);
	}
}

void
CheckFields(CommandContext *ctx, const FieldSpec *spec)
{
	CheckFieldsFlags(ctx, spec, 0);
}

/* ---- create ---- */

static const FieldSpec create_fields[] = {
	{"capped", FT_SAFEBOOL},
	{"autoIndexId", FT_SAFEBOOL},
	{"idIndex", FT_DOC},
	{"size", FT_NUMBER},
	{"max", FT_NUMBER},
	{"storageEngine", FT_DOC},
	{"validator", FT_DOC},
	{"validationLevel", FT_STRING},
	{"validationAction", FT_STRING},
	{"indexOptionDefaults", FT_DOC},
	{"viewOn", FT_STRING},
	{"pipeline", FT_ARRAY},
	{"collation", FT_DOC},
	{"changeStreamPreAndPostImages", FT_DOC},
	{"timeseries", FT_DOC},
	{"clusteredIndex", FT_SAFEBOOL | FT_DOC},
	{"recordIdsReplicated", FT_SAFEBOOL},
	{"expireAfterSeconds", FT_NUMBER},
	{"encryptedFields", FT_DOC},
	{"temp", FT_SAFEBOOL},
	{"flags", FT_NUMBER},
	{"comment", FT_ANY},
	{NULL, 0}
};

/* An enumerated string option */
static void
CheckEnum(const bson_iter_t *it, const char *field, const char *const *values)
{
	const char *v = bson_iter_utf8(it, NULL);

	for (int i = 0; values[i] != NULL; i++)
		if (strcmp(values[i], v) == 0)
			return;
	MongoRaise(MONGO_BAD_VALUE, "Enumeration value '%s' for field '%s' is not a valid value.",
			   v, field);
}

/*
 * A collation specification ({locale, strength, ...}), checked by compiling
 * it (collation.c) as every command taking one does.
 */
static void
CheckCollation(const bson_iter_t *it)
{
	const uint8_t *data;
	uint32_t	len;

	bson_iter_document(it, &len, &data);
	BsonCollationFree(CompileCollation(data, len));
}

/* Whether a collation document is the simple one ({locale: "simple"}) */
static bool
CollationIsSimple(const bson_iter_t *it)
{
	bson_iter_t c;

	bson_iter_recurse(it, &c);
	return bson_iter_next(&c) && strcmp(bson_iter_key(&c), "locale") == 0 &&
		BSON_ITER_HOLDS_UTF8(&c) && strcmp(bson_iter_utf8(&c, NULL), "simple") == 0 &&
		!bson_iter_next(&c);
}

/* changeStreamPreAndPostImages: {enabled: <bool>} */
static bool
CheckChangeStreamImages(const bson_iter_t *it)
{
	bson_iter_t c;
	bool		has = false;
	bool		enabled = false;

	bson_iter_recurse(it, &c);
	while (bson_iter_next(&c))
	{
		if (strcmp(bson_iter_key(&c), "enabled") != 0)
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'changeStreamPreAndPostImages.%s' is an unknown field.",
					   bson_iter_key(&c));
		if (BSON_ITER_HOLDS_NULL(&c))
			continue;
		if (!BSON_ITER_HOLDS_BOOL(&c))
			RaiseWrongType("changeStreamPreAndPostImages", &c, "bool");
		has = true;
		enabled = bson_iter_bool(&c);
	}
	if (!has)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'changeStreamPreAndPostImages.enabled' is missing but a required field");
	return enabled;
}

/* storageEngine: {<engine>: {configString}}; only wiredTiger is known */
void
CheckStorageEngine(const bson_iter_t *it, bool index_defaults)
{
	bson_iter_t e;

	bson_iter_recurse(it, &e);
	while (bson_iter_next(&e))
	{
		bson_iter_t w;

		if (strcmp(bson_iter_key(&e), "wiredTiger") != 0)
			MongoRaise(MONGO_INVALID_OPTIONS, "unknown storage engine: %s", bson_iter_key(&e));
		if (!BSON_ITER_HOLDS_DOCUMENT(&e))
			MongoRaise(MONGO_BAD_VALUE, "'storageEngine.wiredTiger' has to be an embedded document");
		bson_iter_recurse(&e, &w);
		while (bson_iter_next(&w))
		{
			const char *k = bson_iter_key(&w);

			if (strcmp(k, "configString") == 0)
			{
				uint32_t	len;
				const char *v;

				if (!BSON_ITER_HOLDS_UTF8(&w))
					RaiseWrongType("storageEngine.wiredTiger", &w, "string");
				v = bson_iter_utf8(&w, &len);
				if (strlen(v) != len)
					MongoRaise(MONGO_FAILED_TO_PARSE, "configString must not contain null bytes");
				/* we keep no WiredTiger settings; accept only what could be one */
				if (len > 0 && strncmp(v, "block_compressor=", 17) != 0 &&
					strncmp(v, "prefix_compression=", 19) != 0 &&
					strncmp(v, "split_pct=", 10) != 0)
					MongoRaise(MONGO_BAD_VALUE, "unknown configuration key: '%s'", v);
			}
			else if (index_defaults)
				MongoRaise(MONGO_INVALID_OPTIONS, "unknown WiredTiger option: %s", k);
		}
	}
}

/* idIndex: {key: {_id: 1}, name, v} */
static void
CheckIdIndex(const bson_iter_t *it, const bson_iter_t *collation)
{
	bson_iter_t f;
	bool		has_key = false,
				has_name = false;

	bson_iter_recurse(it, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "key") == 0)
		{
			bson_iter_t kk;
			double		d;

			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				RaiseWrongType("idIndex", &f, "object");
			has_key = true;
			bson_iter_recurse(&f, &kk);
			if (!bson_iter_next(&kk) || strcmp(bson_iter_key(&kk), "_id") != 0 ||
				!BsonIterAsDouble(&kk, &d) || d != 1 || bson_iter_next(&kk))
				MongoRaise(MONGO_BAD_VALUE, "The field 'key' for an _id index must be {_id: 1}");
		}
		else if (strcmp(k, "name") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&f))
				RaiseWrongType("idIndex", &f, "string");
			has_name = true;
		}
		else if (strcmp(k, "v") == 0)
		{
			double		d;

			if (!BsonIterAsDouble(&f, &d))
				RaiseWrongType("idIndex", &f, "number");
			if (d != floor(d))
				MongoRaise(MONGO_BAD_VALUE, "Index version must be a whole number");
			if (d != 1 && d != 2)
				MongoRaise(MONGO_CANNOT_CREATE_INDEX, "Invalid index specification; index version %g is not supported", d);
		}
		else if (strcmp(k, "ns") == 0)
			continue;
		else if (strcmp(k, "collation") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				RaiseWrongType("idIndex", &f, "object");
			if (collation == NULL)
				MongoRaise(MONGO_BAD_VALUE,
						   "'idIndex' must have the same collation as the collection.");
			{
				uint32_t	l1,
							l2;
				const uint8_t *d1,
						   *d2;

				bson_iter_document(&f, &l1, &d1);
				bson_iter_document(collation, &l2, &d2);
				if (l1 != l2 || memcmp(d1, d2, l1) != 0)
					MongoRaise(MONGO_BAD_VALUE,
							   "'idIndex' must have the same collation as the collection.");
			}
		}
		else
			MongoRaise(MONGO_INVALID_INDEX_SPEC_OPTION,
					   "The field '%s' is not valid for an _id index specification.", k);
	}
	if (!has_key || !has_name)
		MongoRaise(MONGO_FAILED_TO_PARSE, "The 'key' and 'name' fields are required for an _id index");
}

/* clusteredIndex: {key: {_id: 1}, unique: true, name, v: 2} */
static void
CheckClusteredIndex(const bson_iter_t *it)
{
	bson_iter_t f;
	bool		has_key = false,
				has_unique = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		MongoRaise(5979703, "The 'clusteredIndex' option is only supported in the document form");
	bson_iter_recurse(it, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (BSON_ITER_HOLDS_NULL(&f))
			continue;
		if (strcmp(k, "key") == 0)
		{
			bson_iter_t kk;
			double		d;

			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				RaiseWrongType("clusteredIndex", &f, "object");
			has_key = true;
			bson_iter_recurse(&f, &kk);
			if (!bson_iter_next(&kk) || strcmp(bson_iter_key(&kk), "_id") != 0 ||
				!BsonIterAsDouble(&kk, &d) || d != 1 || bson_iter_next(&kk))
				MongoRaise(MONGO_INVALID_INDEX_SPEC_OPTION,
						   "The clusteredIndex option is only supported for key: {_id: 1}");
		}
		else if (strcmp(k, "unique") == 0)
		{
			if (!BSON_ITER_HOLDS_BOOL(&f) && !BsonIterIsNumber(&f))
				RaiseWrongType("clusteredIndex", &f, "bool");
			has_unique = true;
			if (!bson_iter_as_bool(&f))
				MongoRaise(5979700, "The clusteredIndex option requires unique: true");
		}
		else if (strcmp(k, "name") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&f))
				RaiseWrongType("clusteredIndex", &f, "string");
		}
		else if (strcmp(k, "v") == 0)
		{
			double		d;

			if (!BsonIterAsDouble(&f, &d))
				RaiseWrongType("clusteredIndex", &f, "number");
			if (IterWhole(&f) != 2)
				MongoRaise(5979704, "Invalid clustered index version");
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'clusteredIndex.%s' is an unknown field.", k);
	}
	if (!has_key)
		MongoRaise(MONGO_IDL_MISSING_FIELD, "BSON field 'clusteredIndex.key' is missing but a required field");
	if (!has_unique)
		MongoRaise(MONGO_IDL_MISSING_FIELD, "BSON field 'clusteredIndex.unique' is missing but a required field");
}

/* timeseries: {timeField, metaField, granularity, bucketMaxSpanSeconds, bucketRoundingSeconds} */
static void
CheckTimeseries(const bson_iter_t *it)
{
	static const char *const granularities[] = {"seconds", "minutes", "hours", NULL};
	bson_iter_t f;
	const char *time_field = NULL;
	const char *meta_field = NULL;
	bool		has_granularity = false;
	const char *granularity = NULL;
	int			nbucket = 0;
	double		span = 0,
				rounding = 0;

	bson_iter_recurse(it, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (BSON_ITER_HOLDS_NULL(&f))
			continue;
		if (strcmp(k, "timeField") == 0 || strcmp(k, "metaField") == 0)
		{
			uint32_t	len;
			const char *v;

			if (!BSON_ITER_HOLDS_UTF8(&f))
				RaiseWrongType("timeseries", &f, "string");
			v = bson_iter_utf8(&f, &len);
			if (strlen(v) != len)
				MongoRaise(MONGO_BAD_VALUE, "timeseries.%s cannot contain null bytes", k);
			if (strchr(v, '.') != NULL)
				MongoRaise(MONGO_INVALID_OPTIONS, "The '%s' field cannot contain '.'", k);
			if (k[0] == 't')
				time_field = v;
			else
				meta_field = v;
		}
		else if (strcmp(k, "granularity") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&f))
				RaiseWrongType("timeseries", &f, "string");
			CheckEnum(&f, "granularity", granularities);
			has_granularity = true;
			granularity = bson_iter_utf8(&f, NULL);
		}
		else if (strcmp(k, "bucketMaxSpanSeconds") == 0 || strcmp(k, "bucketRoundingSeconds") == 0)
		{
			double		d;

			if (!BsonIterAsDouble(&f, &d))
				RaiseWrongType("timeseries", &f, "[long, int, decimal, double]");
			if (isnan(d) || d < 1 || d > 31536000)
				MongoRaise(MONGO_BAD_VALUE,
						   "BSON field 'timeseries.%s' value must be in the range [1, 31536000]", k);
			/* compared as MongoDB's IDL converts: doubles truncated */
			d = BSON_ITER_HOLDS_DECIMAL128(&f) ? rint(d) : trunc(d);
			nbucket++;
			if (k[6] == 'M')
				span = d;
			else
				rounding = d;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'timeseries.%s' is an unknown field.", k);
	}
	if (time_field == NULL)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'timeseries.timeField' is missing but a required field");
	if (meta_field != NULL && (strcmp(meta_field, "_id") == 0 || strcmp(meta_field, time_field) == 0))
		MongoRaise(MONGO_INVALID_OPTIONS, "The 'metaField' cannot be '_id' or the 'timeField'");
	if (has_granularity && nbucket == 1 && rounding == 0)
	{
		/* a span alone may restate the granularity's own */
		double		own = strcmp(granularity, "seconds") == 0 ? 3600 :
			strcmp(granularity, "minutes") == 0 ? 86400 : 2592000;

		if (span != own)
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "Timeseries 'bucketMaxSpanSeconds' is not configurable to a value other than the default of %.0f for the provided granularity",
					   own);
		return;
	}
	if (nbucket == 1)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' must both be given");
	if (nbucket == 2 && has_granularity)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' cannot be given with 'granularity'");
	if (nbucket == 2 && span != rounding)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' must be equal");
}

/* encryptedFields: {fields: [{path, keyId, bsonType, queries}]} (the checks we can make) */
static void
CheckEncryptedFields(const bson_iter_t *it)
{
	static const char *const bson_types[] = {
		"double", "string", "object", "array", "binData", "objectId", "bool", "date",
		"regex", "javascript", "int", "timestamp", "long", "decimal", NULL
	};
	bson_iter_t f;
	bool		has_fields = false;
	List	   *paths = NIL;

	bson_iter_recurse(it, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);
		bson_iter_t a;

		if (strcmp(k, "fields") != 0 || BSON_ITER_HOLDS_NULL(&f))
			continue;
		if (!BSON_ITER_HOLDS_ARRAY(&f))
			RaiseWrongType("encryptedFields", &f, "array");
		has_fields = true;
		bson_iter_recurse(&f, &a);
		while (bson_iter_next(&a))
		{
			bson_iter_t e;
			const char *path = NULL;
			ListCell   *lc;

			if (!BSON_ITER_HOLDS_DOCUMENT(&a))
				RaiseWrongType("encryptedFields.fields", &a, "object");
			bson_iter_recurse(&a, &e);
			while (bson_iter_next(&e))
			{
				const char *ek = bson_iter_key(&e);

				if (strcmp(ek, "path") == 0)
				{
					uint32_t	len;

					if (!BSON_ITER_HOLDS_UTF8(&e))
						RaiseWrongType("encryptedFields.fields", &e, "string");
					path = bson_iter_utf8(&e, &len);
					if (strlen(path) != len)
						MongoRaise(9867600, "Encrypted field paths cannot contain null bytes");
					if (strcmp(path, "_id") == 0 || strncmp(path, "_id.", 4) == 0)
						MongoRaise(6316403, "Cannot encrypt _id or its subfields");
				}
				else if (strcmp(ek, "keyId") == 0)
				{
					bson_subtype_t st;
					uint32_t	len;
					const uint8_t *data;

					if (!BSON_ITER_HOLDS_BINARY(&e))
						RaiseWrongType("encryptedFields.fields", &e, "binData");
					bson_iter_binary(&e, &st, &len, &data);
					if (st != BSON_SUBTYPE_UUID)
						MongoRaise(MONGO_TYPE_MISMATCH, "keyId must be a UUID");
					if (len != 16)
						MongoRaise(207, "uuid must be a 16-byte binary field with UUID (4) subtype");
				}
				else if (strcmp(ek, "bsonType") == 0)
				{
					const char *t;

					if (!BSON_ITER_HOLDS_UTF8(&e))
						RaiseWrongType("encryptedFields.fields", &e, "string");
					t = bson_iter_utf8(&e, NULL);
					if (strcmp(t, "null") == 0 || strcmp(t, "minKey") == 0 ||
						strcmp(t, "maxKey") == 0 || strcmp(t, "undefined") == 0)
						MongoRaise(6338406, "Type '%s' is not a supported encrypted type", t);
					CheckEnum(&e, "bsonType", bson_types);
				}
				else if (strcmp(ek, "queries") == 0)
				{
					if (BSON_ITER_HOLDS_ARRAY(&e))
					{
						bson_iter_t q;
						int			n = 0;

						bson_iter_recurse(&e, &q);
						while (bson_iter_next(&q))
							n++;
						if (n == 0)
							MongoRaise(9783412, "queries must not be an empty array");
						if (n > 1)
							MongoRaise(9783414, "Only one query type may be given for a field");
					}
					else if (!BSON_ITER_HOLDS_DOCUMENT(&e) && !BSON_ITER_HOLDS_NULL(&e))
						RaiseWrongType("encryptedFields.fields", &e, "object");
				}
			}
			if (path == NULL)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field 'encryptedFields.fields.path' is missing but a required field");
			foreach(lc, paths)
				if (strcmp((const char *) lfirst(lc), path) == 0)
					MongoRaise(6338402, "Duplicate path specified for field %s", path);
			paths = lappend(paths, (void *) path);
		}
	}
	if (!has_fields)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'encryptedFields.fields' is missing but a required field");
}

/* The aggregation stages MongoDB knows */
static const char *const pipeline_stages[] = {
	"$addFields", "$bucket", "$bucketAuto", "$changeStream", "$changeStreamSplitLargeEvent",
	"$collStats", "$count", "$currentOp", "$densify", "$documents", "$facet", "$fill",
	"$geoNear", "$graphLookup", "$group", "$indexStats", "$limit", "$listLocalSessions",
	"$listSessions", "$listSearchIndexes", "$lookup", "$match", "$merge", "$out",
	"$planCacheStats", "$project", "$redact", "$replaceRoot", "$replaceWith", "$sample",
	"$search", "$searchMeta", "$set", "$setWindowFields", "$skip", "$sort", "$sortByCount",
	"$unionWith", "$unset", "$unwind", "$vectorSearch", "$listSampledQueries",
	"$querySettings", "$shardedDataDistribution", "$listCatalog", "$listClusterCatalog",
	NULL
};

/* Whether a sub-pipeline (array) has a $out or $merge stage */
static bool
PipelineWrites(const bson_iter_t *arr)
{
	bson_iter_t s;

	bson_iter_recurse(arr, &s);
	while (bson_iter_next(&s))
	{
		bson_iter_t st;

		if (!BSON_ITER_HOLDS_DOCUMENT(&s))
			continue;
		bson_iter_recurse(&s, &st);
		if (bson_iter_next(&st) &&
			(strcmp(bson_iter_key(&st), "$out") == 0 || strcmp(bson_iter_key(&st), "$merge") == 0))
			return true;
	}
	return false;
}

/*
 * How deep the sub-pipelines ($lookup, $unionWith, $facet) of a pipeline
 * nest: 0 for none
 */
static int
SubPipelineDepth(const bson_iter_t *pipeline)
{
	bson_iter_t s;
	int			depth = 0;

	check_stack_depth();
	bson_iter_recurse(pipeline, &s);
	while (bson_iter_next(&s))
	{
		bson_iter_t st;
		bson_iter_t a;
		const char *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&s))
			continue;
		bson_iter_recurse(&s, &st);
		if (!bson_iter_next(&st) || !BSON_ITER_HOLDS_DOCUMENT(&st))
			continue;
		name = bson_iter_key(&st);
		if (strcmp(name, "$lookup") != 0 && strcmp(name, "$unionWith") != 0 &&
			strcmp(name, "$facet") != 0)
			continue;
		bson_iter_recurse(&st, &a);
		while (bson_iter_next(&a))
			if (BSON_ITER_HOLDS_ARRAY(&a) &&
				(strcmp(name, "$facet") == 0 || strcmp(bson_iter_key(&a), "pipeline") == 0))
				depth = Max(depth, 1 + SubPipelineDepth(&a));
	}
	return depth;
}

/* A view's pipeline: stages MongoDB knows, none that writes or needs a whole database */
static void
CheckViewPipeline(const bson_iter_t *pipeline)
{
	bson_iter_t s;
	int			stages = 0;

	bson_iter_recurse(pipeline, &s);
	while (bson_iter_next(&s))
		if (!BSON_ITER_HOLDS_NULL(&s))
			stages++;
	if (stages > VIEW_MAX_STAGES)
		MongoRaise(7749501, "Pipeline length must be no longer than %d stages",
				   VIEW_MAX_STAGES);
	if (SubPipelineDepth(pipeline) > VIEW_MAX_SUB_PIPELINE_DEPTH)
		MongoRaise(232, "Maximum number of nested sub-pipelines exceeded. Limit is %d",
				   VIEW_MAX_SUB_PIPELINE_DEPTH);
	bson_iter_recurse(pipeline, &s);
	while (bson_iter_next(&s))
	{
		bson_iter_t st;
		const char *name;
		bool		known = false;

		/* MongoDB drops null stages from a view's pipeline */
		if (BSON_ITER_HOLDS_NULL(&s))
			continue;
		if (!BSON_ITER_HOLDS_DOCUMENT(&s))
			RaiseWrongType("pipeline", &s, "object");
		bson_iter_recurse(&s, &st);
		if (!bson_iter_next(&st))
			MongoRaise(40323, "A pipeline stage specification object must contain exactly one field.");
		name = bson_iter_key(&st);
		for (int i = 0; pipeline_stages[i] != NULL; i++)
			if (strcmp(pipeline_stages[i], name) == 0)
				known = true;
		if (!known)
			MongoRaise(40324, "Unrecognized pipeline stage name: '%s'", name);
		if (strcmp(name, "$out") == 0 || strcmp(name, "$merge") == 0)
			MongoRaise(167, "%s cannot be used in a view definition", name);
		if (strcmp(name, "$changeStream") == 0)
			MongoRaise(40573, "$changeStream cannot be used in a view definition");
		if (strcmp(name, "$currentOp") == 0 || strcmp(name, "$documents") == 0 ||
			strcmp(name, "$listLocalSessions") == 0 || strcmp(name, "$listSessions") == 0)
			MongoRaise(MONGO_INVALID_NAMESPACE, "%s must be run against the database", name);
		if (BSON_ITER_HOLDS_DOCUMENT(&st))
		{
			bson_iter_t a;

			bson_iter_recurse(&st, &a);
			while (bson_iter_next(&a))
			{
				if (strcmp(name, "$lookup") == 0 && strcmp(bson_iter_key(&a), "pipeline") == 0 &&
					BSON_ITER_HOLDS_ARRAY(&a) && PipelineWrites(&a))
					MongoRaise(51047, "$out and $merge are not allowed in a $lookup pipeline");
				if (strcmp(name, "$unionWith") == 0 && strcmp(bson_iter_key(&a), "pipeline") == 0 &&
					BSON_ITER_HOLDS_ARRAY(&a) && PipelineWrites(&a))
					MongoRaise(31441, "$out and $merge are not allowed in a $unionWith pipeline");
				if (strcmp(name, "$facet") == 0 && BSON_ITER_HOLDS_ARRAY(&a) && PipelineWrites(&a))
					MongoRaise(40600, "$out and $merge are not allowed in a $facet pipeline");
			}
		}
	}
}

/*
 * Refuse the query operators a filter may not use outside find: $text
 * (BadValue) and the geo proximity operators (5626500), as MongoDB does
 * for listDatabases filters and validators.
 */
static void
CheckRestrictedOperators(const bson_iter_t *filter)
{
	bson_iter_t f;

	check_stack_depth();
	if (!bson_iter_recurse(filter, &f))
		return;
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "$text") == 0)
			MongoRaise(MONGO_BAD_VALUE, "TEXT is not allowed in this context");
		if (strcmp(k, "$near") == 0 || strcmp(k, "$nearSphere") == 0 ||
			strcmp(k, "$geoNear") == 0)
			MongoRaise(MONGO_GEO_NEAR_NOT_ALLOWED,
					   "$geoNear, $near, and $nearSphere are not allowed in this context");
		if (strcmp(k, "$expr") == 0 || strcmp(k, "$where") == 0)
			continue;
		if (BSON_ITER_HOLDS_DOCUMENT(&f) || BSON_ITER_HOLDS_ARRAY(&f))
			CheckRestrictedOperators(&f);
	}
}

/* MongoDB's aggregation expression operators, for validators' $expr */
static const char *const expression_operators[] = {
	"$abs", "$accumulator", "$acos", "$acosh", "$add", "$addToSet", "$allElementsTrue",
	"$and", "$anyElementTrue", "$arrayElemAt", "$arrayToObject", "$asin", "$asinh",
	"$atan", "$atan2", "$atanh", "$avg", "$binarySize", "$bitAnd", "$bitNot", "$bitOr",
	"$bitXor", "$bsonSize", "$bottom", "$bottomN", "$ceil", "$cmp", "$concat",
	"$concatArrays", "$cond", "$convert", "$cos", "$cosh", "$covariancePop",
	"$covarianceSamp", "$dateAdd", "$dateDiff", "$dateFromParts", "$dateFromString",
	"$dateSubtract", "$dateToParts", "$dateToString", "$dateTrunc", "$dayOfMonth",
	"$dayOfWeek", "$dayOfYear", "$degreesToRadians", "$denseRank", "$derivative",
	"$divide", "$documentNumber", "$eq", "$exp", "$expMovingAvg", "$filter", "$first",
	"$firstN", "$floor", "$function", "$getField", "$gt", "$gte", "$hour", "$ifNull",
	"$in", "$indexOfArray", "$indexOfBytes", "$indexOfCP", "$integral", "$isArray",
	"$isNumber", "$isoDayOfWeek", "$isoWeek", "$isoWeekYear", "$last", "$lastN",
	"$let", "$linearFill", "$literal", "$ln", "$locf", "$log", "$log10", "$lt", "$lte",
	"$ltrim", "$map", "$max", "$maxN", "$median", "$meta", "$mergeObjects",
	"$millisecond", "$min", "$minN", "$minute", "$mod", "$month", "$multiply", "$ne",
	"$not", "$objectToArray", "$or", "$percentile", "$pow", "$push",
	"$radiansToDegrees", "$rand", "$range", "$rank", "$reduce", "$regexFind",
	"$regexFindAll", "$regexMatch", "$replaceAll", "$replaceOne", "$reverseArray",
	"$round", "$rtrim", "$sampleRate", "$second", "$setDifference", "$setEquals",
	"$setField", "$setIntersection", "$setIsSubset", "$setUnion", "$shift", "$sin",
	"$sinh", "$size", "$slice", "$sortArray", "$split", "$sqrt", "$stdDevPop",
	"$stdDevSamp", "$strLenBytes", "$strLenCP", "$strcasecmp", "$substr",
	"$substrBytes", "$substrCP", "$subtract", "$sum", "$switch", "$tan", "$tanh",
	"$toBool", "$toDate", "$toDecimal", "$toDouble", "$toHashedIndexKey", "$toInt",
	"$toLong", "$toLower", "$toObjectId", "$toString", "$toUpper", "$top", "$topN",
	"$trim", "$trunc", "$tsIncrement", "$tsSecond", "$type", "$unsetField", "$week",
	"$year", "$zip", NULL
};

/* Compile a validator as a filter; operators we do not evaluate yet are accepted */
typedef struct ValidatorArg
{
	const uint8_t *data;
	uint32_t	len;
} ValidatorArg;

static void
ValidatorCompile(void *arg)
{
	ValidatorArg *va = arg;

	(void) CompileFilter(va->data, va->len);
}

static void
CheckValidator(const bson_iter_t *it)
{
	ValidatorArg va;
	int			code;
	char	   *message;
	bson_iter_t f;

	CheckRestrictedOperators(it);
	bson_iter_document(it, &va.len, &va.data);
	if (RunCaught(ValidatorCompile, &va, &code, &message, NULL))
		return;
	if (code != 238)
		MongoRaise(code, "%s", message);
	/* what MongoDB refuses in a validator among the operators we lack */
	bson_iter_recurse(it, &f);
	while (bson_iter_next(&f))
	{
		bson_iter_t op;

		if (strcmp(bson_iter_key(&f), "$text") == 0)
			MongoRaise(MONGO_BAD_VALUE, "$text is not allowed in this context");
		if (strcmp(bson_iter_key(&f), "$expr") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
		{
			bson_iter_recurse(&f, &op);
			if (bson_iter_next(&op) && bson_iter_key(&op)[0] == '$')
			{
				bool		known = false;

				for (int i = 0; expression_operators[i] != NULL; i++)
					if (strcmp(expression_operators[i], bson_iter_key(&op)) == 0)
						known = true;
				if (!known)
					MongoRaise(MONGO_INVALID_PIPELINE_OPERATOR,
							   "Unrecognized expression '%s'", bson_iter_key(&op));
				if (strstr(message, "not supported") == NULL)
					MongoRaise(MONGO_INVALID_PIPELINE_OPERATOR, "%s", message);
			}
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&f))
			continue;
		bson_iter_recurse(&f, &op);
		while (bson_iter_next(&op))
			if (strcmp(bson_iter_key(&op), "$near") == 0 ||
				strcmp(bson_iter_key(&op), "$nearSphere") == 0 ||
				strcmp(bson_iter_key(&op), "$geoNear") == 0)
				MongoRaise(5626500, "$geoNear, $near, and $nearSphere are not allowed in this context");
	}
}

/* expireAfterSeconds of a collection: whole seconds in [0, 2^31) */
static void
CheckExpireAfterSeconds(const bson_iter_t *it)
{
	double		d = IterWhole(it);

	if (isnan(d))
		return;
	if (d < 0 || d > INT32_MAX)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "TTL index 'expireAfterSeconds' option must be within an acceptable range");
}

/*
 * The 'size' of a capped collection in bytes: a number greater than 0 and
 * at most 1 PB (create and convertToCapped agree on this).
 */
int64
CappedSizeArgument(const bson_iter_t *it, bool present)
{
	double		d;

	if (!present || !BsonIterAsDouble(it, &d))
		MongoRaise(MONGO_INVALID_OPTIONS, "invalid command spec: the 'size' field is required");
	d = BSON_ITER_HOLDS_DECIMAL128(it) ? rint(d) : trunc(d);
	if (d > (double) (INT64CONST(1) << 50))
		MongoRaise(MONGO_BAD_VALUE, "Capped collection size must be less than or equal to 1 PB");
	if (isnan(d) || d <= 0)
		MongoRaise(MONGO_INVALID_OPTIONS, "invalid command spec: the 'size' field must be greater than 0");
	return (int64) d;
}

/*
 * create: {create: <name>, capped, size, max, validator, viewOn, pipeline,
 * collation, ...}.  The options are checked as MongoDB checks them and kept
 * in the catalog, normalised so that a repeated create with equivalent
 * options is accepted.
 */
void
CmdCreate(CommandContext *ctx, bson_t *reply)
{
	char	   *name = CommandCollectionName(ctx);
	bson_t		options;
	bson_iter_t it;
	bool		capped = false;
	bool		has_size = false;
	bool		has_max = false;
	bson_iter_t size_it;
	double		max = 0;
	bson_iter_t max_it;
	bool		is_view = false;
	bool		has_pipeline = false;
	bool		has_timeseries = false;
	bool		has_clustered = false;
	bool		clustered_given = false;
	bool		has_id_index = false;
	bool		has_expire = false;
	bool		has_encrypted = false;
	bool		has_validation = false;
	bool		has_images = false;
	bool		images_given = false;
	bson_iter_t collation;
	bool		has_collation = false;
	Collection *existing;

	CheckFields(ctx, create_fields);

	/* first pass: which options are there (null counts as absent) */
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it))
			continue;
		if (strcmp(key, "capped") == 0)
			capped = IterTruthy(&it);
		else if (strcmp(key, "size") == 0)
		{
			has_size = true;
			size_it = it;
		}
		else if (strcmp(key, "max") == 0)
		{
			has_max = true;
			max_it = it;
			BsonIterAsDouble(&it, &max);
		}
		else if (strcmp(key, "viewOn") == 0)
			is_view = true;
		else if (strcmp(key, "pipeline") == 0)
			has_pipeline = true;
		else if (strcmp(key, "timeseries") == 0)
			has_timeseries = true;
		else if (strcmp(key, "clusteredIndex") == 0)
		{
			clustered_given = true;
			has_clustered = BSON_ITER_HOLDS_DOCUMENT(&it) || IterTruthy(&it);
		}
		else if (strcmp(key, "idIndex") == 0)
			has_id_index = true;
		else if (strcmp(key, "expireAfterSeconds") == 0)
			has_expire = true;
		else if (strcmp(key, "encryptedFields") == 0)
			has_encrypted = true;
		else if (strcmp(key, "validator") == 0 || strcmp(key, "validationLevel") == 0 ||
				 strcmp(key, "validationAction") == 0)
			has_validation = true;
		else if (strcmp(key, "changeStreamPreAndPostImages") == 0)
		{
			bson_iter_t e;

			bson_iter_recurse(&it, &e);
			images_given = true;
			has_images = !bson_iter_find(&e, "enabled") || !BSON_ITER_HOLDS_BOOL(&e) ||
				bson_iter_bool(&e);
		}
		else if (strcmp(key, "collation") == 0)
		{
			collation = it;
			has_collation = true;
		}
	}

	/* second pass: each option's own checks, and the normalised options */
	bson_init(&options);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it) && strcmp(key, "clusteredIndex") == 0)
			RaiseWrongType("create", &it, "[bool, object]");
		if (BSON_ITER_HOLDS_NULL(&it) || IsGenericField(key) ||
			strcmp(key, "writeConcern") == 0 || strcmp(key, "readConcern") == 0 ||
			strcmp(key, "comment") == 0 || strcmp(key, "lsid") == 0 ||
			strcmp(key, "maxTimeMS") == 0)
			continue;
		if (strcmp(key, "capped") == 0 || strcmp(key, "size") == 0 || strcmp(key, "max") == 0)
			continue;			/* below */
		if (strcmp(key, "viewOn") == 0)
		{
			if (bson_iter_utf8(&it, NULL)[0] == '\0')
				MongoRaise(MONGO_BAD_VALUE, "'viewOn' cannot be empty");
			if (strcmp(bson_iter_utf8(&it, NULL), name) == 0)
				MongoRaise(MONGO_GRAPH_CONTAINS_CYCLE,
						   "View cycle detected: %s.%s -> %s.%s",
						   ctx->database, name, ctx->database, name);
		}
		else if (strcmp(key, "pipeline") == 0)
		{
			bson_iter_t s;
			bson_t		stages;
			int			n = 0;

			CheckViewPipeline(&it);
			/* stored without its null stages */
			bson_iter_recurse(&it, &s);
			BSON_APPEND_ARRAY_BEGIN(&options, "pipeline", &stages);
			while (bson_iter_next(&s))
			{
				char		buf[16];
				const char *idx;

				if (BSON_ITER_HOLDS_NULL(&s))
					continue;
				bson_uint32_to_string(n++, &idx, buf, sizeof(buf));
				bson_append_iter(&stages, idx, -1, &s);
			}
			bson_append_array_end(&options, &stages);
			continue;
		}
		else if (strcmp(key, "collation") == 0)
		{
			CheckCollation(&it);
			if (CollationIsSimple(&it))
				continue;
		}
		else if (strcmp(key, "validationLevel") == 0)
		{
			static const char *const levels[] = {"off", "strict", "moderate", NULL};

			CheckEnum(&it, "validationLevel", levels);
		}
		else if (strcmp(key, "validationAction") == 0)
		{
			static const char *const actions[] = {"error", "warn", "errorAndLog", NULL};

			CheckEnum(&it, "validationAction", actions);
		}
		else if (strcmp(key, "validator") == 0)
			CheckValidator(&it);
		else if (strcmp(key, "changeStreamPreAndPostImages") == 0)
		{
			if (!CheckChangeStreamImages(&it))
				continue;
		}
		else if (strcmp(key, "storageEngine") == 0)
		{
			bson_iter_t e;

			CheckStorageEngine(&it, false);
			bson_iter_recurse(&it, &e);
			if (!bson_iter_next(&e))
				continue;
		}
		else if (strcmp(key, "indexOptionDefaults") == 0)
		{
			bson_iter_t e;
			bool		empty = true;

			bson_iter_recurse(&it, &e);
			while (bson_iter_next(&e))
			{
				empty = false;
				if (strcmp(bson_iter_key(&e), "storageEngine") != 0)
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'indexOptionDefaults.%s' is an unknown field.",
							   bson_iter_key(&e));
				if (!BSON_ITER_HOLDS_DOCUMENT(&e))
					RaiseWrongType("indexOptionDefaults", &e, "object");
				CheckStorageEngine(&e, true);
			}
			if (empty)
				continue;
		}
		else if (strcmp(key, "idIndex") == 0)
			CheckIdIndex(&it, has_collation ? &collation : NULL);
		else if (strcmp(key, "clusteredIndex") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !IterTruthy(&it))
				continue;
			CheckClusteredIndex(&it);
		}
		else if (strcmp(key, "timeseries") == 0)
			CheckTimeseries(&it);
		else if (strcmp(key, "encryptedFields") == 0)
			CheckEncryptedFields(&it);
		else if (strcmp(key, "expireAfterSeconds") == 0)
		{
			if (!has_timeseries && !has_clustered)
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "'expireAfterSeconds' is only supported on time-series and clustered collections");
			CheckExpireAfterSeconds(&it);
		}
		/* a view keeps only its definition; MongoDB ignores the rest */
		if (is_view && strcmp(key, "viewOn") != 0 && strcmp(key, "collation") != 0)
			continue;
		bson_append_iter(&options, NULL, 0, &it);
	}

	/* combinations */
	if (has_pipeline && !is_view)
		MongoRaise(MONGO_INVALID_OPTIONS, "'pipeline' requires 'viewOn' to also be specified");
	if (is_view && (has_id_index || has_images || has_expire ||
					has_timeseries || has_clustered || has_encrypted))
		MongoRaise(MONGO_INVALID_OPTIONS, "Invalid option for a view: only 'viewOn', 'pipeline' and 'collation' may be given");
	if (clustered_given && capped)
		MongoRaise(6049200, "A clustered collection cannot be capped");
	if (has_clustered && has_max)
		MongoRaise(6049204, "'max' is not supported on a clustered collection");
	if (has_timeseries && (has_clustered || has_id_index || images_given || has_validation || capped))
		MongoRaise(MONGO_INVALID_OPTIONS, "Invalid option for a time-series collection");
	if (has_clustered && has_id_index)
		MongoRaise(MONGO_INVALID_OPTIONS, "The 'clusteredIndex' and 'idIndex' options cannot both be given");
	if (has_encrypted && capped)
		MongoRaise(6367301, "Encrypted collections cannot be capped");
	if (has_encrypted && has_timeseries)
		MongoRaise(6346401, "Encrypted collections cannot be time-series collections");
	if (has_expire && capped)
		MongoRaise(MONGO_INVALID_OPTIONS, "'expireAfterSeconds' is not supported on capped collections");
	if (!capped && (has_size || has_max) && !is_view)
		MongoRaise(MONGO_INVALID_OPTIONS, "the 'size' and 'max' fields are only valid for capped collections");
	if (capped && !is_view)
	{
		int64		size;
		int64		maxdocs = 0;
		double		d;

		/* create says BadValue where convertToCapped says InvalidOptions */
		if (has_size && BsonIterAsDouble(&size_it, &d))
		{
			d = BSON_ITER_HOLDS_DECIMAL128(&size_it) ? rint(d) : trunc(d);
			if (isnan(d) || d <= 0)
				MongoRaise(MONGO_BAD_VALUE, "Capped collection size must be greater than 0");
		}
		size = CappedSizeArgument(&size_it, has_size);

		/*
		 * NaN and negative maxima mean none; past 2^31 - 1 (doubles truncated,
		 * decimals rounded) is refused
		 */
		if (has_max && !isnan(max) && max > 0)
		{
			double		m = BSON_ITER_HOLDS_DECIMAL128(&max_it) ? rint(max) : trunc(max);

			if (m > INT32_MAX)
				MongoRaise(MONGO_BAD_VALUE, "Maximum document count must be less than 2^31");
			if (m > 0)
				maxdocs = (int64) m;
		}
		BSON_APPEND_BOOL(&options, "capped", true);
		BSON_APPEND_INT64(&options, "size", size);
		if (maxdocs > 0)
			BSON_APPEND_INT64(&options, "max", maxdocs);
	}

	existing = CollectionLookup(ctx->database, name);
	if (existing != NULL)
	{
		/* MongoDB accepts a repeated create with the same options */
		if (existing->options->len == options.len &&
			memcmp(bson_get_data(existing->options), bson_get_data(&options), options.len) == 0)
			return;
		MongoRaise(MONGO_NAMESPACE_EXISTS, "Collection %s.%s already exists.",
				   ctx->database, name);
	}
	(void) CollectionCreate(ctx->database, name, &options, false);
}

/* Number of indexes of a collection, the _id index included */
static int
IndexCount(const Collection *c)
{
	return c->is_view ? 0 : 1 + (int) bson_count_keys(c->indexes);
}

/*
 * drop: {drop: <name>}
 */
void
CmdDrop(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {{"comment", FT_ANY}, {NULL, 0}};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;

	CheckFields(ctx, fields);
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		return;
	if (!c->is_view)
		BSON_APPEND_INT32(reply, "nIndexesWas", IndexCount(c));
	BSON_APPEND_UTF8(reply, "ns", psprintf("%s.%s", ctx->database, name));
	CollectionDrop(ctx->database, name);
}

/*
 * dropDatabase: {dropDatabase: 1}
 *
 * The value must be a number that converts to 1 as MongoDB's IDL converts
 * it: doubles truncate toward zero, decimals round half to even.
 */
void
CmdDropDatabase(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {{"comment", FT_ANY}, {NULL, 0}};
	double		value;

	if (BSON_ITER_HOLDS_NULL(&ctx->first))
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'dropDatabase.dropDatabase' is missing but a required field");
	if (!BsonIterAsDouble(&ctx->first, &value))
		RaiseWrongType("dropDatabase", &ctx->first, "[int, long, double, decimal]");
	if (BSON_ITER_HOLDS_DECIMAL128(&ctx->first))
		value = rint(value);
	else
		value = trunc(value);
	if (value != 1.0)
		MongoRaise(MONGO_DROP_DATABASE_NOT_ONE, "Have to pass 1 as db parameter");
	CheckFields(ctx, fields);
	if (strcmp(ctx->database, "admin") == 0 || strcmp(ctx->database, "config") == 0 ||
		strcmp(ctx->database, "local") == 0)
		MongoRaise(MONGO_ILLEGAL_OPERATION, "Cannot drop '%s' database", ctx->database);
	(void) DatabaseDrop(ctx->database);
}

/* The listCollections entry of a collection (also $listClusterCatalog's) */
void
CollectionInfo(const Collection *c, bool name_only, bson_t *out)
{
	bson_t		info,
				idx,
				key;

	bson_init(out);
	BSON_APPEND_UTF8(out, "name", c->name);
	BSON_APPEND_UTF8(out, "type", c->is_view ? "view" : "collection");
	if (name_only)
		return;
	BSON_APPEND_DOCUMENT(out, "options", c->options);
	BSON_APPEND_DOCUMENT_BEGIN(out, "info", &info);
	BSON_APPEND_BOOL(&info, "readOnly", c->is_view);
	if (!c->is_view)
	{
		uint8_t		uuid[16];
		int			j = 0;

		for (const char *p = c->uuid; *p && j < 16; p++)
		{
			int			hi,
						lo;

			if (*p == '-')
				continue;
			hi = hex_digit_value(p[0]);
			lo = hex_digit_value(p[1]);
			uuid[j++] = (uint8_t) (hi * 16 + lo);
			p++;
		}
		bson_append_binary(&info, "uuid", -1, BSON_SUBTYPE_UUID, uuid, 16);
	}
	bson_append_document_end(out, &info);
	if (!c->is_view)
	{
		BSON_APPEND_DOCUMENT_BEGIN(out, "idIndex", &idx);
		BSON_APPEND_INT32(&idx, "v", 2);
		BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
		BSON_APPEND_INT32(&key, "_id", 1);
		bson_append_document_end(&idx, &key);
		BSON_APPEND_UTF8(&idx, "name", "_id_");
		bson_append_document_end(out, &idx);
	}
}

static void
AppendListCursor(bson_t *reply, const char *ns, const bson_t *batch)
{
	bson_t		cursor;

	BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
	BSON_APPEND_INT64(&cursor, "id", 0);
	BSON_APPEND_UTF8(&cursor, "ns", ns);
	bson_append_array(&cursor, "firstBatch", -1, batch);
	bson_append_document_end(reply, &cursor);
}

/*
 * listCollections: {listCollections: 1, filter, nameOnly, authorizedCollections}
 */
void
CmdListCollections(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"filter", FT_DOC | FT_NULL},
		{"nameOnly", FT_BOOL | FT_NULL},
		{"authorizedCollections", FT_BOOL | FT_NULL},
		{"cursor", FT_DOC},
		{"includePendingDrops", FT_SAFEBOOL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	bson_iter_t it;
	bool		name_only = false;
	BsonFilter *filter = NULL;
	List	   *colls;
	ListCell   *lc;
	bson_t		batch;
	int			n = 0;

	CheckFieldsFlags(ctx, fields, CF_NO_WRITE_CONCERN);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "filter") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&it, &len, &data);
			filter = CompileFilter(data, len);
		}
		else if (strcmp(key, "nameOnly") == 0 && !BSON_ITER_HOLDS_NULL(&it))
			name_only = bson_iter_as_bool(&it);
		else if (strcmp(key, "cursor") == 0)
		{
			bson_iter_t c;

			bson_iter_recurse(&it, &c);
			while (bson_iter_next(&c))
			{
				if (strcmp(bson_iter_key(&c), "batchSize") == 0)
					(void) FieldNonNegativeCode("listCollections.cursor", &c, MONGO_BAD_VALUE);
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'listCollections.cursor.%s' is an unknown field.",
							   bson_iter_key(&c));
			}
		}
	}
	colls = CollectionList(ctx->database);
	bson_init(&batch);
	foreach(lc, colls)
	{
		Collection *c = lfirst(lc);
		bson_t		info;
		bson_t		full;

		CollectionInfo(c, name_only, &info);
		if (filter != NULL)
		{
			/* the filter sees the full entry even with nameOnly */
			CollectionInfo(c, false, &full);
			if (!BsonFilterMatches(filter, bson_get_data(&full), full.len))
				continue;
		}
		{
			char		buf[16];
			const char *keyp;

			bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
			bson_append_document(&batch, keyp, -1, &info);
		}
	}
	AppendListCursor(reply, psprintf("%s.$cmd.listCollections", ctx->database), &batch);
}

/*
 * listDatabases: {listDatabases: 1, filter, nameOnly}
 */
void
CmdListDatabases(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"filter", FT_DOC | FT_NULL},
		{"nameOnly", FT_BOOL | FT_NULL},
		{"authorizedDatabases", FT_BOOL | FT_NULL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	bson_iter_t it;
	bool		name_only = false;
	BsonFilter *filter = NULL;
	List	   *dbs;
	ListCell   *lc;
	bson_t		arr;
	int			n = 0;
	int64		total = 0;

	CheckFieldsFlags(ctx, fields, CF_NO_WRITE_CONCERN);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "filter") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&it, &len, &data);
			CheckRestrictedOperators(&it);
			filter = CompileFilter(data, len);
		}
		else if (strcmp(key, "nameOnly") == 0 && !BSON_ITER_HOLDS_NULL(&it))
			name_only = bson_iter_as_bool(&it);
	}
	dbs = DatabaseList();
	bson_init(&arr);
	foreach(lc, dbs)
	{
		const char *db = lfirst(lc);
		List	   *colls = CollectionList(db);
		ListCell   *lc2;
		int64		size = 0;
		bson_t		entry;

		foreach(lc2, colls)
		{
			Collection *c = lfirst(lc2);

			if (!c->is_view)
				size += DatumGetInt64(DirectFunctionCall1(pg_total_relation_size,
														  ObjectIdGetDatum(c->relid)));
		}
		bson_init(&entry);
		BSON_APPEND_UTF8(&entry, "name", db);
		if (!name_only)
		{
			BSON_APPEND_INT64(&entry, "sizeOnDisk", size);
			BSON_APPEND_BOOL(&entry, "empty", size == 0);
		}
		if (filter != NULL && !BsonFilterMatches(filter, bson_get_data(&entry), entry.len))
			continue;
		total += size;
		{
			char		buf[16];
			const char *keyp;

			bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
			bson_append_document(&arr, keyp, -1, &entry);
		}
	}
	bson_append_array(reply, "databases", -1, &arr);
	if (!name_only)
	{
		BSON_APPEND_INT64(reply, "totalSize", total);
		BSON_APPEND_INT64(reply, "totalSizeMb", total / (1024 * 1024));
	}
}

/*
 * A UUID argument (collectionUUID, dropTarget): binData of subtype 4 and
 * 16 bytes.  Another type is error 14 (wrong_subtype_code for another
 * subtype), another length error 207.
 */
static void
UuidArgument(const char *command, const bson_iter_t *it, int wrong_subtype_code,
			 uint8_t *uuid)
{
	bson_subtype_t subtype;
	uint32_t	len;
	const uint8_t *data;

	if (!BSON_ITER_HOLDS_BINARY(it))
		RaiseWrongType(command, it, "binData");
	bson_iter_binary(it, &subtype, &len, &data);
	if (subtype != BSON_SUBTYPE_UUID)
		MongoRaise(wrong_subtype_code,
				   "BSON field '%s.%s' must be a UUID (binData subtype 4)",
				   command, bson_iter_key(it));
	if (len != 16)
		MongoRaise(MONGO_INVALID_UUID,
				   "uuid must be a 16-byte binary field with UUID (4) subtype");
	memcpy(uuid, data, 16);
}

/* The 16 bytes of a collection's UUID (its text form in the catalog) */
static void
CollectionUuidBytes(const Collection *c, uint8_t *uuid)
{
	int			j = 0;

	memset(uuid, 0, 16);
	for (const char *p = c->uuid; *p && p[1] && j < 16; p++)
	{
		if (*p == '-')
			continue;
		uuid[j++] = (uint8_t) (hex_digit_value(p[0]) * 16 + hex_digit_value(p[1]));
		p++;
	}
}

/* Is c a time-series collection (which MongoDB keeps as a view)? */
static bool
CollectionIsTimeseries(const Collection *c)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, c->options, "timeseries");
}

/*
 * A namespace argument of renameCollection, split.  Malformed names (no
 * dot, a NUL byte, an invalid database name) are error 73 as MongoDB's
 * NamespaceString::isValid; names a user may not write to ('$', "system.",
 * the oplog, too long) are error 20 as userAllowedWriteNS, wrapped.
 */
static void
RenameNamespace(const char *what, const bson_iter_t *it, char **database, char **name)
{
	uint32_t	len;
	const char *ns = bson_iter_utf8(it, &len);
	size_t		dblen;

	if (strlen(ns) != len || strchr(ns, '.') == NULL)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid %s namespace: %s", what, ns);
	SplitCollectionName(ns, database, name);
	dblen = strlen(*database);
	if (dblen == 0 || dblen > MONGO_MAX_DB_NAME || strpbrk(*database, "/\\. \"") != NULL ||
		(*name)[0] == '\0' || (*name)[0] == '.')
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid %s namespace: %s", what, ns);
	if (strchr(*database, '$') != NULL || strchr(*name, '$') != NULL ||
		len > MONGO_MAX_NS || strncmp(*name, "system.", 7) == 0 ||
		(strcmp(*database, "local") == 0 && strncmp(*name, "oplog.", 6) == 0) ||
		!pg_verifymbstr(*name, strlen(*name), true))
		MongoRaise(MONGO_ILLEGAL_OPERATION, "error with %s namespace: Invalid namespace: %s",
				   what, ns);
}

/*
 * The name of an existing database that differs from database only in
 * case, or NULL
 */
static const char *
DatabaseCaseConflict(const char *database)
{
	ListCell   *lc;

	foreach(lc, DatabaseList())
	{
		const char *other = lfirst(lc);

		if (strcmp(other, database) != 0 && pg_strcasecmp(other, database) == 0)
			return other;
	}
	return NULL;
}

/*
 * renameCollection: {renameCollection: "db.from", to: "db.to",
 * dropTarget: bool or UUID, stayTemp, collectionUUID}, run on admin.
 *
 * dropTarget as a UUID drops the target only if it has that UUID (error
 * 361 otherwise); it cannot cross databases.
 */
void
CmdRenameCollection(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"to", FT_STRING},
		{"dropTarget", FT_ANY},
		{"stayTemp", FT_BOOL},
		{"collectionUUID", FT_ANY},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	bson_iter_t it;
	bson_iter_t to_it;
	bool		have_to = false;
	bool		drop_target = false;
	bool		drop_target_uuid = false;
	bool		have_uuid = false;
	uint8_t		target_uuid[16];
	uint8_t		source_uuid[16];
	uint8_t		actual[16];
	char	   *from_db,
			   *from_name,
			   *to_db,
			   *to_name;
	const char *conflict;
	Collection *source;
	Collection *target;

	if (BSON_ITER_HOLDS_NULL(&ctx->first))
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'renameCollection.renameCollection' is missing but a required field");
	if (!BSON_ITER_HOLDS_UTF8(&ctx->first))
		RaiseWrongType("renameCollection", &ctx->first, "string");
	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it))
			continue;
		if (strcmp(key, "to") == 0)
		{
			to_it = it;
			have_to = true;
		}
		else if (strcmp(key, "dropTarget") == 0)
		{
			if (BSON_ITER_HOLDS_BOOL(&it))
				drop_target = bson_iter_bool(&it);
			else if (BSON_ITER_HOLDS_BINARY(&it))
			{
				UuidArgument("renameCollection", &it, MONGO_INVALID_UUID, target_uuid);
				drop_target = drop_target_uuid = true;
			}
			else
				RaiseWrongType("renameCollection", &it, "[bool, binData]");
		}
		else if (strcmp(key, "collectionUUID") == 0)
		{
			UuidArgument("renameCollection", &it, MONGO_TYPE_MISMATCH, source_uuid);
			have_uuid = true;
		}
	}
	if (!have_to)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'renameCollection.to' is missing but a required field");
	if (strcmp(ctx->database, "admin") != 0)
		MongoRaise(MONGO_UNAUTHORIZED, "renameCollection may only be run against the admin database.");
	RenameNamespace("source", &ctx->first, &from_db, &from_name);
	RenameNamespace("target", &to_it, &to_db, &to_name);
	if (strcmp(from_db, to_db) == 0 && strcmp(from_name, to_name) == 0)
		MongoRaise(MONGO_ILLEGAL_OPERATION, "Can't rename a collection to itself");
	if (drop_target_uuid)
	{
		if (strcmp(from_db, to_db) != 0)
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "Cannot provide a UUID as dropTarget when renaming across databases");
		target = CollectionLookup(to_db, to_name);
		if (target != NULL && !target->is_view)
			CollectionUuidBytes(target, actual);
		if (target == NULL || target->is_view || memcmp(actual, target_uuid, 16) != 0)
			MongoRaise(MONGO_COLLECTION_UUID_MISMATCH,
					   "Collection UUID does not match that of the target collection %s.%s",
					   to_db, to_name);
	}
	source = CollectionLookup(from_db, from_name);
	if (have_uuid)
	{
		if (source != NULL && !source->is_view)
			CollectionUuidBytes(source, actual);
		if (source == NULL || source->is_view || memcmp(actual, source_uuid, 16) != 0)
			MongoRaise(MONGO_COLLECTION_UUID_MISMATCH,
					   "Collection UUID does not match that of the source collection %s.%s",
					   from_db, from_name);
	}
	if (source == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "Source collection %s.%s does not exist",
				   from_db, from_name);
	if (source->is_view || CollectionIsTimeseries(source))
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW, "cannot rename view: %s.%s",
				   from_db, from_name);
	conflict = DatabaseCaseConflict(to_db);
	if (conflict != NULL)
		MongoRaise(MONGO_DATABASE_DIFFER_CASE, "db already exists with different case already have: [%s] trying to create [%s]",
				   conflict, to_db);
	target = CollectionLookup(to_db, to_name);
	if (target != NULL && (!drop_target || target->is_view || CollectionIsTimeseries(target)))
		MongoRaise(MONGO_NAMESPACE_EXISTS, "target namespace exists");
	CollectionRename(source, to_db, to_name, target != NULL);
}

/* A document's key under an index's key pattern, for IndexHasDuplicates */
typedef struct IndexKeyEntry
{
	uint64_t	hash;
	uint8_t    *data;
	uint32_t	len;
} IndexKeyEntry;

static int
IndexKeyEntryCompare(const void *a, const void *b)
{
	const IndexKeyEntry *x = a;
	const IndexKeyEntry *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return BsonCompareDocuments(x->data, x->len, y->data, y->len);
}

/*
 * Whether two documents of the collection have the same key under the key
 * pattern (a missing field counting as null), as converting the index to
 * unique would find.  Keys are hashed and sorted, so equal ones meet.
 */
static bool
IndexHasDuplicates(const Collection *c, const bson_iter_t *key_pattern)
{
	MemoryContext caller = CurrentMemoryContext;
	IndexKeyEntry *keys;
	uint64		n;
	bool		dup = false;

	SPI_connect();
	if (SPI_execute(psprintf("SELECT document FROM %s", c->qualified), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read collection %s.%s", c->database, c->name);
	n = SPI_processed;
	keys = MemoryContextAlloc(caller, sizeof(IndexKeyEntry) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Bson	   *doc = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 1, &isnull));
		bson_t		bdoc;
		bson_t		key;
		bson_iter_t f;

		CHECK_FOR_INTERRUPTS();
		bson_init(&key);
		bson_iter_recurse(key_pattern, &f);
		if (bson_init_static(&bdoc, BsonBytes(doc), BsonDocLen(doc)))
		{
			while (bson_iter_next(&f))
			{
				bson_iter_t top;
				bson_iter_t v;

				if (bson_iter_init(&top, &bdoc) &&
					bson_iter_find_descendant(&top, bson_iter_key(&f), &v))
					bson_append_iter(&key, "", 0, &v);
				else
					bson_append_null(&key, "", 0);
			}
		}
		keys[i].len = key.len;
		keys[i].data = MemoryContextAlloc(caller, key.len);
		memcpy(keys[i].data, bson_get_data(&key), key.len);
		keys[i].hash = BsonHashDocument(keys[i].data, keys[i].len, 0);
		bson_destroy(&key);
	}
	SPI_finish();
	qsort(keys, n, sizeof(IndexKeyEntry), IndexKeyEntryCompare);
	for (uint64 i = 1; i < n && !dup; i++)
		dup = IndexKeyEntryCompare(&keys[i - 1], &keys[i]) == 0;
	return dup;
}

/*
 * collMod's index: {name | keyPattern, hidden, unique, prepareUnique,
 * expireAfterSeconds}.  The index spec in indexes is changed in place.
 */
static void
CollModIndex(const Collection *c, const bson_iter_t *index, bool dry_run, bson_t *reply,
			 bson_t *newlist)
{
	bson_iter_t f;
	const char *name = NULL;
	bson_iter_t key_pattern;
	bool		has_key = false;
	int			nmods = 0;
	const char *modkeys[4];
	bson_iter_t old;
	bool		found = false;
	int			n = 0;

	bson_iter_recurse(index, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "name") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&f))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&f))
				RaiseWrongType("collMod.index", &f, "string");
			name = bson_iter_utf8(&f, NULL);
		}
		else if (strcmp(k, "keyPattern") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&f))
				continue;
			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				RaiseWrongType("collMod.index", &f, "object");
			key_pattern = f;
			has_key = true;
		}
		else if (strcmp(k, "hidden") == 0 || strcmp(k, "unique") == 0 ||
				 strcmp(k, "prepareUnique") == 0 || strcmp(k, "forceNonUnique") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&f))
				continue;
			if (!BSON_ITER_HOLDS_BOOL(&f) && !BsonIterIsNumber(&f))
				RaiseWrongType("collMod.index", &f, "bool");
			if (strcmp(k, "unique") == 0 && !IterTruthy(&f))
				MongoRaise(MONGO_BAD_VALUE, "collMod.index.unique can only be set to true");
			if (nmods < 4)
				modkeys[nmods++] = k;
		}
		else if (strcmp(k, "expireAfterSeconds") == 0)
		{
			double		d;

			if (BSON_ITER_HOLDS_NULL(&f))
				continue;
			if (!BsonIterAsDouble(&f, &d))
				RaiseWrongType("collMod.index", &f, "number");
			d = IterWhole(&f);
			if (isnan(d) || d < 0 || d > INT32_MAX)
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "TTL index 'expireAfterSeconds' option must be within an acceptable range");
			if (nmods < 4)
				modkeys[nmods++] = k;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'collMod.index.%s' is an unknown field.", k);
	}
	if (name == NULL && !has_key)
		MongoRaise(MONGO_INVALID_OPTIONS, "must specify either index name or key pattern");
	if (name != NULL && has_key)
		MongoRaise(MONGO_INVALID_OPTIONS, "Cannot specify both key pattern and name.");
	if (nmods == 0)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "no expireAfterSeconds, hidden, unique or prepareUnique field to change");
	if ((name != NULL && strcmp(name, "_id_") == 0) || (has_key && IndexKeyIsId(&key_pattern)))
	{
		for (int i = 0; i < nmods; i++)
			if (strcmp(modkeys[i], "expireAfterSeconds") == 0)
				MongoRaise(MONGO_INVALID_OPTIONS, "the _id index cannot be a TTL index");
		MongoRaise(MONGO_BAD_VALUE, "cannot modify the _id index");
	}

	bson_iter_init(&old, c->indexes);
	while (bson_iter_next(&old))
	{
		bson_iter_t od,
					on,
					ok;
		bool		match;
		bson_t		spec;
		char		buf[16];
		const char *keyp;

		bson_iter_recurse(&old, &od);
		on = od;
		ok = od;
		match = (name != NULL && bson_iter_find(&on, "name") &&
				 strcmp(bson_iter_utf8(&on, NULL), name) == 0) ||
			(has_key && bson_iter_find(&ok, "key") && DocumentsEqual(&ok, &key_pattern));
		bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
		if (!match)
		{
			bson_append_iter(newlist, keyp, -1, &old);
			continue;
		}
		found = true;
		/* the spec with the changed fields replaced */
		bson_init(&spec);
		bson_iter_recurse(&old, &od);
		while (bson_iter_next(&od))
		{
			bool		changed = false;

			for (int i = 0; i < nmods; i++)
				if (strcmp(modkeys[i], bson_iter_key(&od)) == 0)
					changed = true;
			if (strcmp(bson_iter_key(&od), "expireAfterSeconds") == 0)
			{
				for (int i = 0; i < nmods; i++)
					if (strcmp(modkeys[i], "expireAfterSeconds") == 0)
						bson_append_iter(reply, "expireAfterSeconds_old", -1, &od);
			}
			if (strcmp(bson_iter_key(&od), "unique") == 0 && bson_iter_as_bool(&od))
			{
				for (int i = 0; i < nmods; i++)
					if (strcmp(modkeys[i], "unique") == 0)
						MongoRaise(MONGO_INVALID_OPTIONS, "the index is already unique");
			}
			if (!changed)
				bson_append_iter(&spec, NULL, 0, &od);
		}
		for (int i = 0; i < nmods; i++)
		{
			const char *mk = modkeys[i];
			bson_iter_t probe;
			bson_iter_t mi;

			bson_iter_recurse(index, &mi);
			if (!bson_iter_find(&mi, mk))
				elog(ERROR, "collMod index field %s vanished", mk);

			if (strcmp(mk, "expireAfterSeconds") == 0)
			{
				bson_iter_recurse(&old, &probe);
				if (!bson_iter_find(&probe, "expireAfterSeconds"))
					MongoRaise(MONGO_INVALID_OPTIONS, "no expireAfterSeconds field to update");
				BSON_APPEND_INT64(&spec, mk, (int64) IterWhole(&mi));
				BSON_APPEND_INT64(reply, "expireAfterSeconds_new", (int64) IterWhole(&mi));
			}
			else if (strcmp(mk, "unique") == 0)
			{
				bson_iter_recurse(&old, &probe);
				if (!bson_iter_find(&probe, "prepareUnique") || !bson_iter_as_bool(&probe))
					MongoRaise(MONGO_INVALID_OPTIONS,
							   "Cannot make index unique with 'prepareUnique' not set");
				bson_iter_recurse(&old, &probe);
				if (bson_iter_find(&probe, "key") && BSON_ITER_HOLDS_DOCUMENT(&probe) &&
					IndexHasDuplicates(c, &probe))
					MongoRaise(MONGO_CANNOT_CONVERT_INDEX_TO_UNIQUE,
							   "Cannot convert the index to unique. Please resolve conflicting documents before running collMod again.");
				BSON_APPEND_BOOL(&spec, mk, true);
				BSON_APPEND_BOOL(reply, "unique_new", true);
			}
			else
			{
				bool		v = IterTruthy(&mi);
				bool		was = false;

				bson_iter_recurse(&old, &probe);
				if (bson_iter_find(&probe, mk))
					was = bson_iter_as_bool(&probe);
				BSON_APPEND_BOOL(reply, psprintf("%s_old", mk), was);
				BSON_APPEND_BOOL(reply, psprintf("%s_new", mk), v);
				if (v)
					BSON_APPEND_BOOL(&spec, mk, true);
			}
		}
		bson_append_document(newlist, keyp, -1, &spec);
	}
	if (!found)
		MongoRaise(MONGO_INDEX_NOT_FOUND, "cannot find index %s for ns %s.%s",
				   name ? name : "(key pattern)", c->database, c->name);
	(void) dry_run;
}

/* The bucket span and rounding a time-series granularity implies */
static void
GranularityBuckets(const char *granularity, double *span, double *rounding)
{
	if (strcmp(granularity, "hours") == 0)
	{
		*span = 2592000;
		*rounding = 86400;
	}
	else if (strcmp(granularity, "minutes") == 0)
	{
		*span = 86400;
		*rounding = 3600;
	}
	else
	{
		*span = 3600;
		*rounding = 60;
	}
}

/*
 * collMod's timeseries: {granularity} or {bucketMaxSpanSeconds,
 * bucketRoundingSeconds} (equal, in [1, 31536000]); either may only make
 * buckets coarser.  *new_ts gets the collection's new timeseries options.
 */
static void
CollModTimeseries(const Collection *c, const bson_iter_t *it, bool is_ts, bson_t **new_ts)
{
	static const char *const granularities[] = {"seconds", "minutes", "hours", NULL};
	static const char *const order = "smh";
	bson_iter_t f;
	const char *granularity = NULL;
	const char *old_granularity = "seconds";
	double		span = 0,
				rounding = 0,
				old_span,
				old_rounding;
	int			nbucket = 0;
	bool		old_custom = false;

	bson_iter_recurse(it, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "granularity") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&f))
				RaiseWrongType("collMod.timeseries", &f, "string");
			CheckEnum(&f, "granularity", granularities);
			granularity = bson_iter_utf8(&f, NULL);
		}
		else if (strcmp(k, "bucketMaxSpanSeconds") == 0 ||
				 strcmp(k, "bucketRoundingSeconds") == 0)
		{
			double		d;

			if (!BsonIterAsDouble(&f, &d))
				RaiseWrongType("collMod.timeseries", &f, "[long, int, decimal, double]");
			d = BSON_ITER_HOLDS_DECIMAL128(&f) ? rint(d) : trunc(d);
			if (isnan(d) || d < 1 || d > 31536000)
				MongoRaise(MONGO_BAD_VALUE,
						   "BSON field 'collMod.timeseries.%s' value must be in the range [1, 31536000]", k);
			nbucket++;
			if (k[6] == 'M')
				span = d;
			else
				rounding = d;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'collMod.timeseries.%s' is an unknown field.", k);
	}
	if (!is_ts)
		MongoRaise(MONGO_INVALID_OPTIONS, "'timeseries' option is only supported on time-series collections");
	if (granularity != NULL && nbucket > 0)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' cannot be given with 'granularity'");
	if (nbucket == 1)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' must both be given");
	if (nbucket == 2 && span != rounding)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' must be equal");

	/* what the collection has now */
	if (bson_iter_init_find(&f, c->options, "timeseries") && BSON_ITER_HOLDS_DOCUMENT(&f))
	{
		bson_iter_t o;

		bson_iter_recurse(&f, &o);
		while (bson_iter_next(&o))
		{
			if (strcmp(bson_iter_key(&o), "granularity") == 0 && BSON_ITER_HOLDS_UTF8(&o))
				old_granularity = bson_iter_utf8(&o, NULL);
			else if (strcmp(bson_iter_key(&o), "bucketMaxSpanSeconds") == 0)
				old_custom = BsonIterAsDouble(&o, &old_span);
			else if (strcmp(bson_iter_key(&o), "bucketRoundingSeconds") == 0)
				old_custom = BsonIterAsDouble(&o, &old_rounding);
		}
	}
	if (!old_custom)
		GranularityBuckets(old_granularity, &old_span, &old_rounding);
	if (granularity != NULL)
	{
		if (old_custom ||
			strchr(order, granularity[0]) < strchr(order, old_granularity[0]))
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "Invalid transition for timeseries.granularity. Can only transition from '%s' to a coarser granularity",
					   old_granularity);
	}
	if (nbucket == 2 && (span < old_span || rounding < old_rounding))
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Invalid transition for timeseries.bucketMaxSpanSeconds and bucketRoundingSeconds: they can only be increased");

	/* the new timeseries options: the old ones with the new buckets */
	*new_ts = bson_new();
	if (bson_iter_init_find(&f, c->options, "timeseries") && BSON_ITER_HOLDS_DOCUMENT(&f))
	{
		bson_iter_t o;

		bson_iter_recurse(&f, &o);
		while (bson_iter_next(&o))
		{
			const char *k = bson_iter_key(&o);

			if ((granularity != NULL || nbucket > 0) &&
				(strcmp(k, "granularity") == 0 || strcmp(k, "bucketMaxSpanSeconds") == 0 ||
				 strcmp(k, "bucketRoundingSeconds") == 0))
				continue;
			bson_append_iter(*new_ts, NULL, 0, &o);
		}
	}
	if (granularity != NULL)
		BSON_APPEND_UTF8(*new_ts, "granularity", granularity);
	else if (nbucket == 2)
	{
		BSON_APPEND_INT32(*new_ts, "bucketRoundingSeconds", (int32) rounding);
		BSON_APPEND_INT32(*new_ts, "bucketMaxSpanSeconds", (int32) span);
	}
}

/*
 * The change stream's "modify" event of a collMod (an expanded event):
 * operationDescription holds the fields the command changed, as given
 * (dryRun, comment and the like left out), stateBeforeChange the
 * collection's options before (with its uuid first, as MongoDB's) and,
 * for a change of an index, the index's options before (the "_old"
 * fields of the reply CollModIndex wrote).
 */
static void
LogCollMod(const Collection *c, CommandContext *ctx, const bson_t *reply)
{
	static const char *const changes[] = {
		"validator", "validationLevel", "validationAction", "index", "viewOn",
		"pipeline", "expireAfterSeconds", "changeStreamPreAndPostImages",
		"timeseries", "cappedSize", "cappedMax", NULL
	};
	bson_t		desc;
	bson_t		state;
	bson_t		child;
	bson_iter_t it;
	uint8_t		uuid[16];
	bool		index_old = false;

	if (!CdcMessagesWanted() || c->is_view)
		return;
	bson_init(&desc);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		for (int i = 0; changes[i] != NULL; i++)
			if (strcmp(bson_iter_key(&it), changes[i]) == 0)
				bson_append_iter(&desc, NULL, 0, &it);
	}
	bson_init(&state);
	BSON_APPEND_DOCUMENT_BEGIN(&state, "collectionOptions", &child);
	if (CdcUuidBytes(c->uuid, uuid))
		bson_append_binary(&child, "uuid", 4, BSON_SUBTYPE_UUID, uuid, 16);
	bson_iter_init(&it, c->options);
	while (bson_iter_next(&it))
		bson_append_iter(&child, NULL, 0, &it);
	bson_append_document_end(&state, &child);
	bson_iter_init(&it, reply);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		size_t		len = strlen(key);

		if (len <= 4 || strcmp(key + len - 4, "_old") != 0)
			continue;
		if (!index_old)
			BSON_APPEND_DOCUMENT_BEGIN(&state, "indexOptions", &child);
		index_old = true;
		bson_append_iter(&child, key, (int) len - 4, &it);
	}
	if (index_old)
		bson_append_document_end(&state, &child);
	CdcLogCollectionDdl("modify", c->database, c->name, c->uuid, &desc, &state);
	bson_destroy(&desc);
	bson_destroy(&state);
}

/*
 * collMod: {collMod: <name>, validator, validationLevel, validationAction,
 * index, viewOn, pipeline, expireAfterSeconds, cappedSize, cappedMax, ...}
 */
void
CmdCollMod(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"validator", FT_DOC},
		{"validationLevel", FT_STRING},
		{"validationAction", FT_STRING},
		{"index", FT_DOC},
		{"viewOn", FT_STRING},
		{"pipeline", FT_ARRAY},
		{"expireAfterSeconds", FT_NUMBER | FT_STRING},
		{"changeStreamPreAndPostImages", FT_DOC},
		{"timeseries", FT_DOC},
		{"cappedSize", FT_NUMBER},
		{"cappedMax", FT_NUMBER},
		{"dryRun", FT_SAFEBOOL},
		{"collectionUUID", FT_ANY},
		{"comment", FT_ANY},
		{"recordIdsReplicated", FT_SAFEBOOL},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bson_t		options;
	bson_t		newlist;
	bool		index_changed = false;
	bool		dry_run = false;
	bool		has_index = false;
	bool		is_ts;
	bool		is_clustered;
	bson_t	   *new_ts = NULL;
	bson_iter_t it;
	bson_iter_t old;

	it = ctx->first;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "expireAfterSeconds") == 0 && BSON_ITER_HOLDS_NULL(&it))
			RaiseWrongType(ctx->name, &it, "[string, long, int, decimal, double]");
		if (strcmp(bson_iter_key(&it), "dryRun") == 0 && !BSON_ITER_HOLDS_NULL(&it))
			dry_run = IterTruthy(&it);
		if (strcmp(bson_iter_key(&it), "index") == 0 && !BSON_ITER_HOLDS_NULL(&it))
			has_index = true;
	}
	CheckFields(ctx, fields);
	if (dry_run && !has_index)
		MongoRaise(MONGO_INVALID_OPTIONS, "dryRun requires an index to be converted to unique");
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "ns does not exist: %s.%s", ctx->database, name);
	is_ts = bson_iter_init_find(&old, c->options, "timeseries");
	is_clustered = bson_iter_init_find(&old, c->options, "clusteredIndex");

	/* each change's own checks */
	bson_init(&newlist);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it))
			continue;
		if (strcmp(key, "validator") == 0)
		{
			if (c->is_view || is_ts)
				MongoRaise(MONGO_INVALID_OPTIONS, "validator is not supported on this namespace");
			CheckValidator(&it);
		}
		else if (strcmp(key, "validationLevel") == 0 || strcmp(key, "validationAction") == 0)
		{
			static const char *const levels[] = {"off", "strict", "moderate", NULL};
			static const char *const actions[] = {"error", "warn", "errorAndLog", NULL};

			CheckEnum(&it, key, key[10] == 'L' ? levels : actions);
			if (c->is_view || is_ts)
				MongoRaise(MONGO_INVALID_OPTIONS, "%s is not supported on this namespace", key);
		}
		else if (strcmp(key, "viewOn") == 0)
		{
			const char *v = bson_iter_utf8(&it, NULL);

			if (!c->is_view)
				MongoRaise(MONGO_INVALID_OPTIONS, "'viewOn' option is only supported on views");
			if (v[0] == '\0')
				MongoRaise(MONGO_BAD_VALUE, "'viewOn' cannot be empty");
			if (v[0] == '.')
				MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid collection name: %s", v);
		}
		else if (strcmp(key, "pipeline") == 0)
		{
			if (!c->is_view)
				MongoRaise(MONGO_INVALID_OPTIONS, "'pipeline' option is only supported on views");
			CheckViewPipeline(&it);
		}
		else if (strcmp(key, "changeStreamPreAndPostImages") == 0)
		{
			(void) CheckChangeStreamImages(&it);
			if (c->is_view)
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "option not supported on a view: changeStreamPreAndPostImages");
			if (is_ts)
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "changeStreamPreAndPostImages not supported on a time-series collection");
		}
		else if (strcmp(key, "expireAfterSeconds") == 0)
		{
			if (!is_ts && !is_clustered)
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "'expireAfterSeconds' option is only supported on time-series and clustered collections");
			if (BSON_ITER_HOLDS_UTF8(&it))
			{
				if (strcmp(bson_iter_utf8(&it, NULL), "off") != 0)
					MongoRaise(MONGO_INVALID_OPTIONS, "Invalid value for 'expireAfterSeconds'");
			}
			else
			{
				double		d = IterWhole(&it);

				if (isnan(d) || d < 0 || d > INT32_MAX)
					MongoRaise(MONGO_INVALID_OPTIONS, "Invalid value for 'expireAfterSeconds'");
			}
		}
		else if (strcmp(key, "timeseries") == 0)
			CollModTimeseries(c, &it, is_ts, &new_ts);
		else if (strcmp(key, "cappedSize") == 0 || strcmp(key, "cappedMax") == 0)
		{
			double		d = IterWhole(&it);

			if (!c->capped)
				MongoRaise(MONGO_INVALID_OPTIONS, "'%s' option is only supported on capped collections", key);
			if (strcmp(key, "cappedSize") == 0 &&
				(isnan(d) || d <= 0 || d > (double) (INT64CONST(1) << 50)))
				MongoRaise(MONGO_BAD_VALUE, "cappedSize must be greater than 0 and at most 1 PB");
			if (strcmp(key, "cappedMax") == 0 && d > INT32_MAX)
				MongoRaise(MONGO_BAD_VALUE, "cappedMax must be less than 2^31");
		}
		else if (strcmp(key, "index") == 0)
		{
			if (c->is_view)
				MongoRaise(MONGO_INVALID_OPTIONS, "views have no indexes");
			CollModIndex(c, &it, dry_run, reply, &newlist);
			index_changed = true;
		}
	}
	if (!c->is_view && !pg_class_ownercheck(c->relid, GetUserId()))
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to execute command collMod",
				   ctx->database);
	if (dry_run)
		return;

	/* the new options: the old ones with the given fields replaced */
	bson_init(&options);
	bson_iter_init(&old, c->options);
	while (bson_iter_next(&old))
	{
		bson_iter_t given = ctx->first;
		bool		replaced = false;
		const char *ok = bson_iter_key(&old);

		while (bson_iter_next(&given))
		{
			const char *gk = bson_iter_key(&given);

			if (strcmp(gk, "timeseries") == 0 && new_ts == NULL)
				continue;
			if (strcmp(gk, ok) == 0 ||
				(strcmp(gk, "cappedSize") == 0 && strcmp(ok, "size") == 0) ||
				(strcmp(gk, "cappedMax") == 0 && strcmp(ok, "max") == 0))
				replaced = true;
		}
		if (!replaced)
			bson_append_iter(&options, NULL, 0, &old);
	}
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it))
			continue;
		if (strcmp(key, "cappedSize") == 0)
			BSON_APPEND_INT64(&options, "size", (int64) IterWhole(&it));
		else if (strcmp(key, "cappedMax") == 0)
		{
			double		d = IterWhole(&it);

			if (d > 0)
				BSON_APPEND_INT64(&options, "max", (int64) d);
		}
		else if (strcmp(key, "timeseries") == 0 && new_ts != NULL)
			BSON_APPEND_DOCUMENT(&options, "timeseries", new_ts);
		else if (strcmp(key, "changeStreamPreAndPostImages") == 0)
		{
			/* listed only when enabled, as MongoDB's */
			if (CheckChangeStreamImages(&it))
			{
				bson_t		images;

				BSON_APPEND_DOCUMENT_BEGIN(&options, "changeStreamPreAndPostImages", &images);
				BSON_APPEND_BOOL(&images, "enabled", true);
				bson_append_document_end(&options, &images);
			}
		}
		else if (strcmp(key, "validator") == 0 || strcmp(key, "validationLevel") == 0 ||
				 strcmp(key, "validationAction") == 0 || strcmp(key, "viewOn") == 0 ||
				 strcmp(key, "pipeline") == 0 || strcmp(key, "expireAfterSeconds") == 0)
			bson_append_iter(&options, NULL, 0, &it);
	}
	LogCollMod(c, ctx, reply);
	CollectionSetOptions(c, &options, index_changed ? &newlist : NULL);
	if (index_changed)
		IndexSync(c, &newlist);	/* hidden, unique: the PostgreSQL index follows */

	/* a smaller cap applies at once */
	c = CollectionLookup(ctx->database, name);
	if (c != NULL && c->capped)
		CappedTrim(c);
}

/* ---- compact ---- */

/*
 * compact: {compact: <collection>, dryRun, force, freeSpaceTargetMB}
 *
 * PostgreSQL reclaims the space of deleted documents itself (autovacuum),
 * and VACUUM cannot run inside the transaction of a command, so compact
 * checks its arguments and the collection and reports that it freed
 * nothing (bytesFreed, or estimatedBytesFreed for a dry run).
 */
void
CmdCompact(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"dryRun", FT_BOOL},
		{"force", FT_BOOL},
		{"freeSpaceTargetMB", FT_NUMBER},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	bool		dry_run = false;
	bson_iter_t it;
	Collection *c;

	CheckFields(ctx, fields);
	it = ctx->first;
	if (bson_iter_find(&it, "dryRun") && BSON_ITER_HOLDS_BOOL(&it))
		dry_run = bson_iter_bool(&it);
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "collection does not exist: %s.%s",
				   ctx->database, name);
	if (c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW, "can't compact a view");
	BSON_APPEND_INT32(reply, dry_run ? "estimatedBytesFreed" : "bytesFreed", 0);
}

/* ---- validateDBMetadata ---- */

/* Whether an index spec is outside API version 1 (text and sparse indexes) */
static bool
IndexOutsideApiV1(const bson_iter_t *spec)
{
	bson_iter_t f;

	bson_iter_recurse(spec, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "sparse") == 0 && bson_iter_as_bool(&f))
			return true;
		if (strcmp(k, "key") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
		{
			bson_iter_t key;

			bson_iter_recurse(&f, &key);
			while (bson_iter_next(&key))
				if (BSON_ITER_HOLDS_UTF8(&key) &&
					strcmp(bson_iter_utf8(&key, NULL), "text") == 0)
					return true;
		}
	}
	return false;
}

/* The database name of validateDBMetadata's db field */
static const char *
MetadataDatabaseName(const bson_iter_t *it)
{
	uint32_t	len;
	const char *db = bson_iter_utf8(it, &len);

	if (len == 0)
		MongoRaise(28539, "Invalid database name: ''");
	if (strlen(db) != len || strchr(db, '.') != NULL || len > MONGO_MAX_DB_NAME)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid database name: '%s'", db);
	if (strpbrk(db, "/\\ \"") != NULL)
		MongoRaise(13280, "Invalid database name: '%s'", db);
	return db;
}

/*
 * validateDBMetadata: {validateDBMetadata: 1, apiParameters: {version,
 * strict, deprecationErrors}, db, collection}.  With strict API version 1,
 * lists the indexes that version does not allow (text and sparse ones).
 */
void
CmdValidateDBMetadata(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"apiParameters", FT_DOC},
		{"db", FT_STRING},
		{"collection", FT_STRING},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	bson_iter_t it;
	const char *db = NULL;
	const char *collection = NULL;
	const char *version = NULL;
	bool		strict = false;
	bool		has_params = false;
	List	   *dbs;
	ListCell   *lc;
	bson_t		errors;
	int			n = 0;

	CheckFieldsFlags(ctx, fields, CF_NO_WRITE_CONCERN);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it))
			continue;
		if (strcmp(key, "db") == 0)
			db = MetadataDatabaseName(&it);
		else if (strcmp(key, "collection") == 0)
		{
			uint32_t	len;

			collection = bson_iter_utf8(&it, &len);
			if (len == 0 || strlen(collection) != len || collection[0] == '.')
				MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid collection name: '%s'", collection);
		}
		else if (strcmp(key, "apiParameters") == 0)
		{
			bson_iter_t p;

			has_params = true;
			bson_iter_recurse(&it, &p);
			while (bson_iter_next(&p))
			{
				const char *pk = bson_iter_key(&p);

				if (strcmp(pk, "version") == 0)
				{
					if (BSON_ITER_HOLDS_NULL(&p))
						continue;
					if (!BSON_ITER_HOLDS_UTF8(&p))
						RaiseWrongType("apiParameters", &p, "string");
					version = bson_iter_utf8(&p, NULL);
				}
				else if (strcmp(pk, "strict") == 0 || strcmp(pk, "deprecationErrors") == 0)
				{
					if (BSON_ITER_HOLDS_NULL(&p))
						continue;
					if (!BSON_ITER_HOLDS_BOOL(&p))
						RaiseWrongType("apiParameters", &p, "bool");
					if (pk[0] == 's')
						strict = bson_iter_bool(&p);
				}
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'validateDBMetadata.apiParameters.%s' is an unknown field.",
							   pk);
			}
		}
	}
	if (!has_params)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'validateDBMetadata.apiParameters' is missing but a required field");
	if (version == NULL)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'validateDBMetadata.apiParameters.version' is missing but a required field");

	bson_init(&errors);
	if (strict && strcmp(version, "1") == 0)
	{
		dbs = db != NULL ? list_make1(pstrdup(db)) : DatabaseList();
		foreach(lc, dbs)
		{
			List	   *colls = CollectionList((const char *) lfirst(lc));
			ListCell   *lc2;

			foreach(lc2, colls)
			{
				Collection *c = lfirst(lc2);
				bson_iter_t idx;

				if (collection != NULL && strcmp(collection, c->name) != 0)
					continue;
				bson_iter_init(&idx, c->indexes);
				while (bson_iter_next(&idx))
				{
					bson_iter_t nm;
					bson_t		e;
					char		buf[16];
					const char *keyp;

					if (!BSON_ITER_HOLDS_DOCUMENT(&idx) || !IndexOutsideApiV1(&idx))
						continue;
					bson_iter_recurse(&idx, &nm);
					bson_iter_find(&nm, "name");
					bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
					bson_append_document_begin(&errors, keyp, -1, &e);
					BSON_APPEND_UTF8(&e, "ns", psprintf("%s.%s", c->database, c->name));
					BSON_APPEND_INT32(&e, "code", 323);
					BSON_APPEND_UTF8(&e, "codeName", "APIStrictError");
					BSON_APPEND_UTF8(&e, "errmsg",
									 psprintf("The index with name %s is not allowed in API version 1.",
											  BSON_ITER_HOLDS_UTF8(&nm) ? bson_iter_utf8(&nm, NULL) : ""));
					bson_append_document_end(&errors, &e);
				}
			}
		}
	}
	bson_append_array(reply, "apiVersionErrors", -1, &errors);
}

/* ---- indexes ---- */

static void
AppendIdIndex(bson_t *batch, int n)
{
	bson_t		idx,
				key;
	char		buf[16];
	const char *keyp;

	bson_uint32_to_string(n, &keyp, buf, sizeof(buf));
	bson_append_document_begin(batch, keyp, -1, &idx);
	BSON_APPEND_INT32(&idx, "v", 2);
	BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
	BSON_APPEND_INT32(&key, "_id", 1);
	bson_append_document_end(&idx, &key);
	BSON_APPEND_UTF8(&idx, "name", "_id_");
	bson_append_document_end(batch, &idx);
}

/*
 * listIndexes: {listIndexes: <name>, cursor}
 */
void
CmdListIndexes(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"cursor", FT_DOC},
		{"includeBuildUUIDs", FT_SAFEBOOL},
		{"includeIndexBuildInfo", FT_SAFEBOOL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bson_t		all;
	bson_t		info;
	bson_t	   *batch = &all;
	bson_iter_t it;
	int			n = 0;
	bool		build_uuids = false;
	bool		build_info = false;

	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "includeBuildUUIDs") == 0)
			build_uuids = IterTruthy(&it);
		else if (strcmp(key, "includeIndexBuildInfo") == 0)
			build_info = IterTruthy(&it);
		else if (strcmp(key, "cursor") == 0)
		{
			bson_iter_t cur;

			bson_iter_recurse(&it, &cur);
			while (bson_iter_next(&cur))
			{
				if (BSON_ITER_HOLDS_NULL(&cur))
					continue;
				if (strcmp(bson_iter_key(&cur), "batchSize") == 0)
					(void) FieldNonNegativeCode("listIndexes.cursor", &cur, MONGO_BAD_VALUE);
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'listIndexes.cursor.%s' is an unknown field.",
							   bson_iter_key(&cur));
			}
		}
	}
	if (build_uuids && build_info)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "The 'includeIndexBuildInfo' option cannot be used with the 'includeBuildUUIDs' option");
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "ns does not exist: %s.%s", ctx->database, name);
	if (c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ctx->database, name);
	bson_init(&all);
	AppendIdIndex(&all, 0);
	bson_iter_init(&it, c->indexes);
	while (bson_iter_next(&it))
	{
		char		buf[16];
		const char *keyp;

		bson_uint32_to_string(++n, &keyp, buf, sizeof(buf));
		bson_append_iter(&all, keyp, -1, &it);
	}

	/* includeIndexBuildInfo: each index as {spec} (no build is in progress) */
	if (build_info)
	{
		batch = &info;
		bson_init(&info);
		bson_iter_init(&it, &all);
		while (bson_iter_next(&it))
		{
			bson_t		entry;

			bson_append_document_begin(&info, bson_iter_key(&it), -1, &entry);
			bson_append_iter(&entry, "spec", 4, &it);
			bson_append_document_end(&info, &entry);
		}
	}
	AppendListCursor(reply, psprintf("%s.%s", ctx->database, name), batch);
}

/* MongoDB's limit of indexes on a collection, the _id index included */
#define INDEX_MAX_PER_COLLECTION	64

/* Are two documents byte-for-byte equal? */
static bool
DocumentsEqual(const bson_iter_t *a, const bson_iter_t *b)
{
	uint32_t	alen,
				blen;
	const uint8_t *ad,
			   *bd;

	bson_iter_document(a, &alen, &ad);
	bson_iter_document(b, &blen, &bd);
	return alen == blen && memcmp(ad, bd, alen) == 0;
}

/* A spec as relaxed Extended JSON, for messages */
static char *
SpecJson(const bson_t *spec)
{
	char	   *json = bson_as_relaxed_extended_json(spec, NULL);
	char	   *copy = pstrdup(json != NULL ? json : "");

	bson_free(json);
	return copy;
}

/* The recorded index specs of a collection, as a list of bson_t */
List *
IndexSpecList(const bson_t *indexes)
{
	List	   *list = NIL;
	bson_iter_t it;

	bson_iter_init(&it, indexes);
	while (bson_iter_next(&it))
	{
		uint32_t	len;
		const uint8_t *data;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &len, &data);
		list = lappend(list, bson_new_from_data(data, len));
	}
	return list;
}

/* A list of specs as the array the catalog keeps */
void
IndexSpecArray(List *specs, bson_t *out)
{
	ListCell   *lc;
	int			n = 0;

	bson_init(out);
	foreach(lc, specs)
	{
		char		buf[16];
		const char *keyp;

		bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
		bson_append_document(out, keyp, -1, (bson_t *) lfirst(lc));
	}
}

/*
 * Whether a requested spec is already among the specs (true), or may be
 * added (false); raises MongoDB's conflicts: a same-named index that is
 * another index (86) or the same with other options (85), the same index
 * under another name (85), too many indexes, a second text index (67).
 */
static bool
IndexSpecExists(const Collection *c, List *specs, const bson_t *spec)
{
	const char *name = IndexSpecName(spec);
	ListCell   *lc;

	foreach(lc, specs)
	{
		bson_t	   *old = lfirst(lc);
		IndexSpecMatch m;

		if (strcmp(IndexSpecName(old), name) != 0)
			continue;
		m = IndexSpecCompare(spec, old);
		if (m == INDEX_SPEC_IDENTICAL)
			return true;
		if (m == INDEX_SPEC_EQUIVALENT)
			MongoRaise(MONGO_INDEX_OPTIONS_CONFLICT,
					   "An equivalent index already exists with the same name but different options. Requested index: %s, existing index: %s",
					   SpecJson(spec), SpecJson(old));
		MongoRaise(MONGO_INDEX_KEY_SPECS_CONFLICT,
				   "An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: %s, existing index: %s",
				   SpecJson(spec), SpecJson(old));
	}
	foreach(lc, specs)
	{
		bson_t	   *old = lfirst(lc);
		IndexSpecMatch m = IndexSpecCompare(spec, old);

		if (m == INDEX_SPEC_IDENTICAL)
			MongoRaise(MONGO_INDEX_OPTIONS_CONFLICT,
					   "Index already exists with a different name: %s", IndexSpecName(old));
		if (m == INDEX_SPEC_EQUIVALENT)
			MongoRaise(MONGO_INDEX_OPTIONS_CONFLICT,
					   "Index with name: %s already exists with different options",
					   IndexSpecName(old));
	}
	if (1 + list_length(specs) >= INDEX_MAX_PER_COLLECTION)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "add index fails, too many indexes for %s.%s", c->database, c->name);
	if (IndexSpecIsText(spec))
		foreach(lc, specs)
			if (IndexSpecIsText(lfirst(lc)))
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "only one text index per collection allowed, found existing text index \"%s\"",
						   IndexSpecName(lfirst(lc)));
	IndexSpecCheckBuild(spec);
	return false;
}

/*
 * The change stream's "createIndexes" event (an expanded event): one per
 * command that created indexes, operationDescription.indexes the specs it
 * added (the last added of all, as listIndexes shows them).
 */
static void
LogCreateIndexes(const Collection *c, List *all, int added)
{
	bson_t		desc;
	bson_t		indexes;
	int			n = 0;

	if (!CdcMessagesWanted())
		return;
	bson_init(&desc);
	BSON_APPEND_ARRAY_BEGIN(&desc, "indexes", &indexes);
	for (int i = list_length(all) - added; i < list_length(all); i++)
	{
		char		buf[16];
		const char *key;

		bson_uint32_to_string(n++, &key, buf, sizeof(buf));
		bson_append_document(&indexes, key, -1, list_nth(all, i));
	}
	bson_append_array_end(&desc, &indexes);
	CdcLogCollectionDdl("createIndexes", c->database, c->name, c->uuid, &desc, NULL);
	bson_destroy(&desc);
}

/*
 * The change stream's "dropIndexes" events (expanded events): one per
 * index dropped, as MongoDB logs each, operationDescription.indexes its
 * spec.  kept are the specs left.
 */
static void
LogDropIndexes(const Collection *c, List *kept)
{
	bson_iter_t it;

	if (!CdcMessagesWanted())
		return;
	bson_iter_init(&it, c->indexes);
	while (bson_iter_next(&it))
	{
		bson_t		spec;
		bson_t		desc;
		bson_t		indexes;
		const uint8_t *data;
		uint32_t	len;
		const char *name;
		bool		dropped = true;
		ListCell   *lc;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(&spec, data, len))
			continue;
		name = IndexSpecName(&spec);
		foreach(lc, kept)
			if (strcmp(IndexSpecName(lfirst(lc)), name) == 0)
				dropped = false;
		if (!dropped)
			continue;
		bson_init(&desc);
		BSON_APPEND_ARRAY_BEGIN(&desc, "indexes", &indexes);
		BSON_APPEND_DOCUMENT(&indexes, "0", &spec);
		bson_append_array_end(&desc, &indexes);
		CdcLogCollectionDdl("dropIndexes", c->database, c->name, c->uuid, &desc, NULL);
		bson_destroy(&desc);
	}
}

/*
 * createIndexes: {createIndexes: <name>, indexes: [{key, name, ...}]}
 *
 * Every spec is validated (index_spec.c) before any is compared with the
 * collection's indexes, as MongoDB parses the whole list first.
 */
void
CmdCreateIndexes(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"indexes", FT_ARRAY},
		{"commitQuorum", FT_ANY},
		{"ignoreUnknownIndexOptions", FT_SAFEBOOL},
		{"isTimeseriesNamespace", FT_SAFEBOOL},
		{"collectionUUID", FT_ANY},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bool		created;
	bson_iter_t it;
	bson_iter_t specs;
	bool		have = false;
	IndexSpecContext cx;
	List	   *requested = NIL;
	List	   *is_id = NIL;
	List	   *existing;
	ListCell   *lc;
	ListCell   *lc2;
	bson_t		newlist;
	int			before;
	int			added = 0;
	int			background = 0;

	CheckFields(ctx, fields);
	memset(&cx, 0, sizeof(cx));
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "indexes") == 0)
		{
			bson_iter_recurse(&it, &specs);
			have = true;
		}
		else if (strcmp(bson_iter_key(&it), "ignoreUnknownIndexOptions") == 0)
			cx.ignore_unknown = IterTruthy(&it);
	}
	if (!have)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'createIndexes.indexes' is missing but a required field");

	c = CollectionLookup(ctx->database, name);
	if (c == NULL && strncmp(name, "system.", 7) == 0)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid system namespace: %s.%s",
				   ctx->database, name);
	if (c != NULL)
	{
		bson_iter_t d;

		if (bson_iter_init_find(&d, c->options, "collation") && BSON_ITER_HOLDS_DOCUMENT(&d))
			bson_iter_document(&d, &cx.default_collation_len, &cx.default_collation);
		cx.timeseries = CollectionIsTimeseries(c);
	}
	while (bson_iter_next(&specs))
	{
		bson_t	   *spec = palloc(sizeof(bson_t));

		is_id = lappend_int(is_id, IndexSpecValidate(&specs, &cx, spec));
		requested = lappend(requested, spec);
	}
	if (requested == NIL)
		MongoRaise(MONGO_BAD_VALUE, "Must specify at least one index to create");

	c = CollectionGetOrCreate(ctx->database, name, &created);
	if (c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ctx->database, name);
	if (!pg_class_ownercheck(c->relid, GetUserId()))
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to execute command createIndexes",
				   ctx->database);
	before = IndexCount(c);

	existing = IndexSpecList(c->indexes);
	forboth(lc, requested, lc2, is_id)
	{
		bson_t	   *spec = lfirst(lc);

		/* the _id index exists already */
		if (lfirst_int(lc2))
		{
			if (strcmp(IndexSpecName(spec), "_id_") != 0)
				MongoRaise(MONGO_INDEX_OPTIONS_CONFLICT,
						   "Index already exists with a different name: _id_");
			continue;
		}
		if (IndexSpecExists(c, existing, spec))
			continue;
		existing = lappend(existing, spec);
		added++;
	}

	if (added > 0)
	{
		Collection	updated;

		IndexSpecArray(existing, &newlist);
		CollectionSetOptions(c, NULL, &newlist);
		LogCreateIndexes(c, existing, added);
		/* builds asked to run in the background go to their builders */
		updated = *c;
		updated.indexes = &newlist;
		if (!created)
			for (int i = list_length(existing) - added; i < list_length(existing); i++)
				if (IndexBuildInBackground(c, list_nth(existing, i)))
				{
					IndexBuildQueue(&updated, list_nth(existing, i));
					background++;
				}
		IndexSync(c, &newlist);
	}
	BSON_APPEND_INT32(reply, "numIndexesBefore", before);
	BSON_APPEND_INT32(reply, "numIndexesAfter", before + added);
	if (added == 0)
		BSON_APPEND_UTF8(reply, "note", "all indexes already exist");
	else if (background > 0)
		BSON_APPEND_UTF8(reply, "note",
						 "index builds started in the background (see nosql.index_build)");
	BSON_APPEND_BOOL(reply, "createdCollectionAutomatically", created);
}

/* A value as relaxed Extended JSON, for messages */
static char *
IterJson(const bson_iter_t *it)
{
	bson_t		wrap;
	char	   *json;
	char	   *copy;

	bson_init(&wrap);
	bson_append_iter(&wrap, "", 0, it);
	json = bson_as_relaxed_extended_json(&wrap, NULL);
	copy = pstrdup(json != NULL ? json : "");
	bson_free(json);
	bson_destroy(&wrap);
	return copy;
}

/* Is a key pattern the _id index's ({_id: <anything>} alone)? */
static bool
IndexKeyIsId(const bson_iter_t *key)
{
	bson_iter_t k;

	bson_iter_recurse(key, &k);
	return bson_iter_next(&k) && strcmp(bson_iter_key(&k), "_id") == 0 && !bson_iter_next(&k);
}

/*
 * dropIndexes: {dropIndexes: <name>, index: "name" | {key} | "*" | ["a", "b"]}
 */
void
CmdDropIndexes(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"index", FT_STRING | FT_DOC | FT_ARRAY},
		{"collectionUUID", FT_ANY},
		{"isTimeseriesNamespace", FT_SAFEBOOL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bson_iter_t it;
	bson_iter_t index;
	bool		have = false;
	bson_t		newlist;
	int			before;
	bool		all = false;
	List	   *specs;
	ListCell   *lc;

	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "index") == 0)
		{
			index = it;
			have = true;
		}
	if (!have)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'dropIndexes.index' is missing but a required field");
	/* index is a required variant: null is no string, document or array */
	if (BSON_ITER_HOLDS_NULL(&index))
		RaiseWrongType("dropIndexes", &index, "[string, object, array]");
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "ns not found %s.%s", ctx->database, name);
	if (c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ctx->database, name);
	if (!pg_class_ownercheck(c->relid, GetUserId()))
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to execute command dropIndexes",
				   ctx->database);
	before = IndexCount(c);
	specs = IndexSpecList(c->indexes);

	if (BSON_ITER_HOLDS_UTF8(&index) && strcmp(bson_iter_utf8(&index, NULL), "*") == 0)
	{
		all = true;
		specs = NIL;
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(&index))
	{
		/* by key pattern: exactly one index may have it */
		bson_t	   *match = NULL;
		int			nmatch = 0;

		if (IndexKeyIsId(&index))
			MongoRaise(MONGO_INVALID_OPTIONS, "cannot drop _id index");
		foreach(lc, specs)
			if (IndexSpecHasKey(lfirst(lc), &index))
			{
				match = lfirst(lc);
				nmatch++;
			}
		if (nmatch == 0)
			MongoRaise(MONGO_INDEX_NOT_FOUND, "can't find index with key: %s",
					   IterJson(&index));
		if (nmatch > 1)
			MongoRaise(MONGO_AMBIGUOUS_INDEX_KEY_PATTERN,
					   "%d indexes found for key: %s, identify by name instead. Conflicting indexes: %s",
					   nmatch, IterJson(&index), IndexSpecName(match));
		specs = list_delete_ptr(specs, match);
	}
	else
	{
		/* by name, or by names one after the other (each must still exist) */
		bson_iter_t names;
		bool		is_array = BSON_ITER_HOLDS_ARRAY(&index);

		if (is_array)
			bson_iter_recurse(&index, &names);
		else
			names = index;
		while (is_array ? bson_iter_next(&names) : true)
		{
			const char *iname;
			bson_t	   *match = NULL;

			if (!BSON_ITER_HOLDS_UTF8(&names))
				MongoRaise(MONGO_TYPE_MISMATCH, "dropIndexes: the index names must be strings");
			iname = bson_iter_utf8(&names, NULL);
			if (strcmp(iname, "_id_") == 0)
				MongoRaise(MONGO_INVALID_OPTIONS, "cannot drop _id index");
			if (is_array && strcmp(iname, "*") == 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "The index name '*' is not valid in a list of index names");
			foreach(lc, specs)
				if (strcmp(IndexSpecName(lfirst(lc)), iname) == 0)
					match = lfirst(lc);
			if (match == NULL)
				MongoRaise(MONGO_INDEX_NOT_FOUND, "index not found with name [%s]", iname);
			specs = list_delete_ptr(specs, match);
			if (!is_array)
				break;
		}
	}

	IndexSpecArray(specs, &newlist);
	LogDropIndexes(c, specs);
	CollectionSetOptions(c, NULL, &newlist);
	IndexSync(c, &newlist);
	BSON_APPEND_INT32(reply, "nIndexesWas", before);
	if (all)
		BSON_APPEND_UTF8(reply, "msg", "non-_id indexes dropped for collection");
}
