/*-------------------------------------------------------------------------
 *
 * cluster_parameter.c
 *	  MongoDB's cluster parameters: the admin commands getClusterParameter
 *	  and setClusterParameter over the table nosql.cluster_parameter.
 *
 * Design note
 * -----------
 * A cluster parameter is a small document with MongoDB's name, kept in
 * nosql.cluster_parameter (one row per parameter that was ever set: name,
 * value, cluster_parameter_time), a table of the extension's script that
 * pg_dump keeps.  A parameter never set has its default and the time
 * Timestamp(0, 0), as in MongoDB.  The scope is the PostgreSQL database
 * (the extension's), which is the "cluster" its change streams see.
 *
 * Three parameters are known, each with its own validation (MongoDB's
 * codes, which differ between them: changeStreamOptions reports every
 * malformed value as BadValue, the others report types as TypeMismatch):
 *
 *	changeStreamOptions	{preAndPostImages: {expireAfterSeconds: "off" | n}}
 *						How long change streams may give pre-images:
 *						cdc_watch.c asks ClusterParameterPreImageExpiry().
 *	changeStreams		{expireAfterSeconds: n}, default 3600: stored only
 *						(MongoDB's serverless change collections).
 *	pauseMigrationsDuringMultiUpdates	{enabled: bool}, default false:
 *						stored only (there are no chunk migrations).
 *
 * A setting replaces the parameter's whole value: fields not given take
 * their defaults (a null is the default too), as MongoDB's does.  The
 * stored value is normalized (numbers as int32 when they fit, else int64),
 * so getClusterParameter gives back what was set.
 *
 * Rights: setClusterParameter needs INSERT and UPDATE on the table
 * (superusers and the extension's owner have them; a GRANT makes a role
 * MongoDB's clusterManager for it), getClusterParameter only SELECT, which
 * every role has.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "bson.h"
#include "documents.h"

#define MONGO_API_STRICT_ERROR			323

/* The default of changeStreams.expireAfterSeconds, MongoDB's */
#define CLUSTER_CHANGE_STREAMS_EXPIRE_DEFAULT	3600

/* Check a parameter's value and append its normalized fields to out */
typedef void (*ClusterParameterParse) (const char *name, const bson_iter_t *value,
									   bson_t *out);

typedef struct ClusterParameterDef
{
	const char *name;
	ClusterParameterParse parse;	/* value NULL: append the default */
} ClusterParameterDef;

static void ParseChangeStreamOptions(const char *name, const bson_iter_t *value, bson_t *out);
static void ParseChangeStreams(const char *name, const bson_iter_t *value, bson_t *out);
static void ParsePauseMigrations(const char *name, const bson_iter_t *value, bson_t *out);

/* The known parameters, in the order getClusterParameter "*" lists them */
static const ClusterParameterDef cluster_parameters[] = {
	{"changeStreamOptions", ParseChangeStreamOptions},
	{"changeStreams", ParseChangeStreams},
	{"pauseMigrationsDuringMultiUpdates", ParsePauseMigrations},
	{NULL, NULL}
};

static const ClusterParameterDef *
ClusterParameterFind(const char *name)
{
	for (int i = 0; cluster_parameters[i].name != NULL; i++)
		if (strcmp(cluster_parameters[i].name, name) == 0)
			return &cluster_parameters[i];
	return NULL;
}

/* Append a whole number as int32 when it fits, else as int64 */
static void
AppendWhole(bson_t *out, const char *key, int64 v)
{
	if (v >= PG_INT32_MIN && v <= PG_INT32_MAX)
		BSON_APPEND_INT32(out, key, (int32) v);
	else
		BSON_APPEND_INT64(out, key, v);
}

/*
 * The parameter's value is a document whose fields are not dollar-prefixed
 * (BadValue and DollarPrefixedFieldName, as MongoDB's); sets *doc to it.
 */
static void
ValueDocument(const char *name, const bson_iter_t *value, bson_iter_t *doc)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(value))
		MongoRaise(MONGO_BAD_VALUE,
				   "the value of cluster parameter '%s' must be an object, not '%s'",
				   name, BsonTypeName(bson_iter_type(value)));
	bson_iter_recurse(value, &it);
	while (bson_iter_next(&it))
		if (bson_iter_key(&it)[0] == '$')
			MongoRaise(MONGO_DOLLAR_PREFIXED,
					   "field '%s' of cluster parameter '%s' is dollar-prefixed",
					   bson_iter_key(&it), name);
	bson_iter_recurse(value, doc);
}

/*
 * changeStreamOptions: {preAndPostImages: {expireAfterSeconds}}, where
 * expireAfterSeconds is "off" (the default) or a positive whole number.
 * Every malformed value is BadValue, as MongoDB reports them.
 */
static void
ParseChangeStreamOptions(const char *name, const bson_iter_t *value, bson_t *out)
{
	bson_t		images;
	bool		have_expire = false;
	int64		expire = 0;
	bson_iter_t it;

	if (value != NULL)
	{
		ValueDocument(name, value, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);
			bson_iter_t sub;

			if (strcmp(key, "preAndPostImages") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "BSON field 'changeStreamOptions.%s' is an unknown field", key);
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_BAD_VALUE,
						   "BSON field 'changeStreamOptions.preAndPostImages' is the wrong type '%s', expected type 'object'",
						   BsonTypeName(bson_iter_type(&it)));
			bson_iter_recurse(&it, &sub);
			while (bson_iter_next(&sub))
			{
				const char *k = bson_iter_key(&sub);

				if (strcmp(k, "expireAfterSeconds") != 0)
					MongoRaise(MONGO_BAD_VALUE,
							   "BSON field 'changeStreamOptions.preAndPostImages.%s' is an unknown field",
							   k);
				if (BSON_ITER_HOLDS_NULL(&sub))
					have_expire = false;
				else if (BSON_ITER_HOLDS_UTF8(&sub))
				{
					if (strcmp(bson_iter_utf8(&sub, NULL), "off") != 0)
						MongoRaise(MONGO_BAD_VALUE,
								   "the string value of 'changeStreamOptions.preAndPostImages.expireAfterSeconds' must be \"off\", not \"%s\"",
								   bson_iter_utf8(&sub, NULL));
					have_expire = false;
				}
				else if (BsonIterIsNumber(&sub))
				{
					if (!BsonIterAsInt64(&sub, &expire) || expire <= 0)
						MongoRaise(MONGO_BAD_VALUE,
								   "'changeStreamOptions.preAndPostImages.expireAfterSeconds' must be \"off\" or a positive whole number of seconds");
					have_expire = true;
				}
				else
					MongoRaise(MONGO_BAD_VALUE,
							   "BSON field 'changeStreamOptions.preAndPostImages.expireAfterSeconds' is the wrong type '%s', expected types '[string, long]'",
							   BsonTypeName(bson_iter_type(&sub)));
			}
		}
	}
	BSON_APPEND_DOCUMENT_BEGIN(out, "preAndPostImages", &images);
	if (have_expire)
		AppendWhole(&images, "expireAfterSeconds", expire);
	else
		BSON_APPEND_UTF8(&images, "expireAfterSeconds", "off");
	bson_append_document_end(out, &images);
}

/*
 * changeStreams: {expireAfterSeconds}, a positive number of seconds,
 * 3600 by default (MongoDB's serverless change collections: kept, no
 * effect here).
 */
static void
ParseChangeStreams(const char *name, const bson_iter_t *value, bson_t *out)
{
	int64		expire = CLUSTER_CHANGE_STREAMS_EXPIRE_DEFAULT;
	bson_iter_t it;

	if (value != NULL)
	{
		ValueDocument(name, value, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);

			if (strcmp(key, "expireAfterSeconds") != 0)
				MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
						   "BSON field 'changeStreams.%s' is an unknown field.", key);
			if (BSON_ITER_HOLDS_NULL(&it))
				expire = CLUSTER_CHANGE_STREAMS_EXPIRE_DEFAULT;
			else if (!BsonIterIsNumber(&it))
				RaiseWrongType("changeStreams", &it, "[long, int, decimal, double]");
			else if (!BsonIterAsInt64(&it, &expire) || expire <= 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "'changeStreams.expireAfterSeconds' must be a positive whole number of seconds");
		}
	}
	AppendWhole(out, "expireAfterSeconds", expire);
}

/*
 * pauseMigrationsDuringMultiUpdates: {enabled}, a bool, false by default
 * (kept, no effect: nothing migrates chunks here).
 */
static void
ParsePauseMigrations(const char *name, const bson_iter_t *value, bson_t *out)
{
	bool		enabled = false;
	bson_iter_t it;

	if (value != NULL)
	{
		ValueDocument(name, value, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);

			if (strcmp(key, "enabled") != 0)
				MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
						   "BSON field 'pauseMigrationsDuringMultiUpdates.%s' is an unknown field.",
						   key);
			if (BSON_ITER_HOLDS_NULL(&it))
				enabled = false;
			else if (!BSON_ITER_HOLDS_BOOL(&it))
				RaiseWrongType("pauseMigrationsDuringMultiUpdates", &it, "bool");
			else
				enabled = bson_iter_bool(&it);
		}
	}
	BSON_APPEND_BOOL(out, "enabled", enabled);
}

/*
 * The checks both commands share: they run on admin only (Unauthorized),
 * they are not in the stable API (APIStrictError with apiStrict), and
 * they take only the fields every command takes (a writeConcern is
 * InvalidOptions: the setting is durable when the command returns).
 */
static void
ClusterParameterCommandCheck(CommandContext *ctx)
{
	bson_iter_t it;

	if (strcmp(ctx->database, "admin") != 0)
		MongoRaise(MONGO_UNAUTHORIZED, "%s may only be run against the admin database.",
				   ctx->name);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "apiStrict") == 0 && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it))
			MongoRaise(MONGO_API_STRICT_ERROR,
					   "Provided apiStrict:true, but the command %s is not in API Version 1",
					   ctx->name);
		if (!GenericFieldCheck(ctx, &it))
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '%s.%s' is an unknown field.",
					   ctx->name, key);
	}
}

/* The OID of nosql.cluster_parameter */
static Oid
ClusterParameterRelation(void)
{
	return get_relname_relid("cluster_parameter", get_namespace_oid("nosql", false));
}

/*
 * Append {_id, clusterParameterTime, ...value} of a parameter: its stored
 * value, or its default and Timestamp(0, 0) when it was never set.  The
 * time's increment is its microseconds plus one, so that settings within
 * one second are ordered (the table keeps the times increasing).
 */
static void
AppendClusterParameter(bson_t *array, int index, const ClusterParameterDef *def)
{
	static const char *const sql =
		"SELECT value, cluster_parameter_time FROM nosql.cluster_parameter"
		" WHERE name OPERATOR(pg_catalog.=) $1";
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	char		key[16];
	bson_t		entry;
	uint32		secs = 0;
	uint32		inc = 0;
	Bson	   *stored = NULL;

	args[0] = CStringGetTextDatum(def->name);
	SPI_connect();
	if (SPI_execute_with_args(sql, 1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read cluster parameter \"%s\"", def->name);
	if (SPI_processed == 1)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];
		Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);
		TimestampTz set = DatumGetTimestampTz(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2,
															&isnull));
		int64		unix_us = set + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
			SECS_PER_DAY * USECS_PER_SEC;

		/* detoasted here, copied out of SPI's memory */
		stored = (Bson *) DatumGetPointer(SPI_datumTransfer(PointerGetDatum(PG_DETOAST_DATUM(d)),
															false, -1));
		secs = (uint32) (unix_us / USECS_PER_SEC);
		inc = (uint32) (unix_us % USECS_PER_SEC) + 1;
	}
	SPI_finish();

	snprintf(key, sizeof(key), "%d", index);
	BSON_APPEND_DOCUMENT_BEGIN(array, key, &entry);
	BSON_APPEND_UTF8(&entry, "_id", def->name);
	BSON_APPEND_TIMESTAMP(&entry, "clusterParameterTime", secs, inc);
	if (stored != NULL)
	{
		bson_t		value;

		if (!bson_init_static(&value, BsonBytes(stored), BsonDocLen(stored)) ||
			!bson_concat(&entry, &value))
			elog(ERROR, "cluster parameter \"%s\" has a malformed value", def->name);
	}
	else
		def->parse(def->name, NULL, &entry);
	bson_append_document_end(array, &entry);
}

/*
 * getClusterParameter: "*" for every parameter, a name, or an array of
 * names (where "*" is a name like any other); an unknown name is NoSuchKey.
 */
void
CmdGetClusterParameter(CommandContext *ctx, bson_t *reply)
{
	const ClusterParameterDef *wanted[lengthof(cluster_parameters)];
	int			nwanted = 0;
	bson_t		array;

	ClusterParameterCommandCheck(ctx);
	if (BSON_ITER_HOLDS_UTF8(&ctx->first))
	{
		const char *name = bson_iter_utf8(&ctx->first, NULL);

		if (strcmp(name, "*") == 0)
		{
			for (int i = 0; cluster_parameters[i].name != NULL; i++)
				wanted[nwanted++] = &cluster_parameters[i];
		}
		else if ((wanted[0] = ClusterParameterFind(name)) != NULL)
			nwanted = 1;
		else
			MongoRaise(MONGO_NO_SUCH_KEY, "Unknown Cluster Parameter %s", name);
	}
	else if (BSON_ITER_HOLDS_ARRAY(&ctx->first))
	{
		bson_iter_t it;

		/* every element's type first, then the names */
		bson_iter_recurse(&ctx->first, &it);
		while (bson_iter_next(&it))
			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field 'getClusterParameter.getClusterParameter.%s' is the wrong type '%s', expected type 'string'",
						   bson_iter_key(&it), BsonTypeName(bson_iter_type(&it)));
		bson_iter_recurse(&ctx->first, &it);
		while (bson_iter_next(&it))
		{
			const char *name = bson_iter_utf8(&it, NULL);
			const ClusterParameterDef *def = ClusterParameterFind(name);
			bool		seen = false;

			if (def == NULL)
				MongoRaise(MONGO_NO_SUCH_KEY, "Unknown Cluster Parameter %s", name);
			for (int i = 0; i < nwanted; i++)
				seen |= wanted[i] == def;
			if (!seen)
				wanted[nwanted++] = def;
		}
		if (nwanted == 0)
			MongoRaise(MONGO_BAD_VALUE,
					   "getClusterParameter needs \"*\", a cluster parameter's name or a non-empty array of names");
	}
	else
		RaiseWrongType("getClusterParameter", &ctx->first, "[string, array]");

	BSON_APPEND_ARRAY_BEGIN(reply, "clusterParameters", &array);
	for (int i = 0; i < nwanted; i++)
		AppendClusterParameter(&array, i, wanted[i]);
	bson_append_array_end(reply, &array);
}

/*
 * setClusterParameter: {setClusterParameter: {name: value}}, one
 * parameter; its value replaces the stored one (fields not given take
 * their defaults).  The time never goes back: a setting within the same
 * microsecond as the previous one (or after the clock stepped back) comes
 * a microsecond after it.
 */
void
CmdSetClusterParameter(CommandContext *ctx, bson_t *reply)
{
	static const char *const sql =
		"INSERT INTO nosql.cluster_parameter AS p (name, value, cluster_parameter_time)"
		" VALUES ($1, $2, pg_catalog.clock_timestamp())"
		" ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value,"
		"   cluster_parameter_time = GREATEST(EXCLUDED.cluster_parameter_time,"
		"     p.cluster_parameter_time OPERATOR(pg_catalog.+) interval '1 microsecond')";
	const ClusterParameterDef *def;
	bson_iter_t it;
	bson_iter_t param;
	int			nparams = 0;
	bson_t		value;
	Oid			types[2];
	Datum		args[2];
	Oid			rel;

	ClusterParameterCommandCheck(ctx);
	if (BSON_ITER_HOLDS_NULL(&ctx->first))
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'setClusterParameter.setClusterParameter' is missing but a required field");
	if (!BSON_ITER_HOLDS_DOCUMENT(&ctx->first))
		RaiseWrongType("setClusterParameter", &ctx->first, "object");
	bson_iter_recurse(&ctx->first, &it);
	while (bson_iter_next(&it))
	{
		if (nparams++ == 0)
			param = it;
	}
	if (nparams != 1)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "setClusterParameter takes exactly one cluster parameter, not %d", nparams);
	def = ClusterParameterFind(bson_iter_key(&param));
	if (def == NULL)
		MongoRaise(MONGO_NO_SUCH_KEY, "Unknown Cluster Parameter %s", bson_iter_key(&param));

	bson_init(&value);
	def->parse(def->name, &param, &value);

	rel = ClusterParameterRelation();
	if (pg_class_aclcheck(rel, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(rel, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		MongoRaise(MONGO_UNAUTHORIZED,
				   "not authorized on admin to execute command setClusterParameter: it needs INSERT and UPDATE on nosql.cluster_parameter");

	types[0] = TEXTOID;
	types[1] = BsonTypeOid();
	args[0] = CStringGetTextDatum(def->name);
	args[1] = PointerGetDatum(BsonDatumFromBson(&value));
	SPI_connect();
	if (SPI_execute_with_args(sql, 2, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store cluster parameter \"%s\"", def->name);
	SPI_finish();
	bson_destroy(&value);
}

/*
 * changeStreamOptions.preAndPostImages.expireAfterSeconds: how long change
 * streams may give an event's pre-image, in seconds; 0 when "off" (they
 * last as long as the events).  Read with the caller's rights (every role
 * may read the table).
 */
int64
ClusterParameterPreImageExpiry(void)
{
	static const char *const sql =
		"SELECT value FROM nosql.cluster_parameter"
		" WHERE name OPERATOR(pg_catalog.=) 'changeStreamOptions'";
	int64		expire = 0;

	SPI_connect();
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read cluster parameter \"changeStreamOptions\"");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Bson	   *stored = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
		bson_t		doc;
		bson_iter_t it;
		bson_iter_t field;

		if (!isnull && bson_init_static(&doc, BsonBytes(stored), BsonDocLen(stored)) &&
			bson_iter_init(&it, &doc) &&
			bson_iter_find_descendant(&it, "preAndPostImages.expireAfterSeconds", &field) &&
			(BSON_ITER_HOLDS_INT32(&field) || BSON_ITER_HOLDS_INT64(&field)))
			expire = bson_iter_as_int64(&field);
	}
	SPI_finish();
	return expire;
}
