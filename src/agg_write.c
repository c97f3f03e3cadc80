/*-------------------------------------------------------------------------
 *
 * agg_write.c
 *	  The write stages of the aggregation pipeline: $out and $merge.
 *
 * Design note
 * -----------
 * A pipeline that ends in $out or $merge is translated as any other
 * (agg_pipeline.c) without its last stage; that query is then opened as a
 * cursor and its documents are written to the target through the insert
 * and update paths of cmd_write.c, so validators, unique indexes (11000
 * with keyPattern and keyValue) and triggers act as for insert and update.
 *
 * The cursor is opened before the first write: its snapshot does not see
 * the command's own writes, so a pipeline may read the collection it
 * writes ($out to its source replaces it with what the pipeline made of
 * it).  $out deletes the target's documents and inserts the new ones; the
 * command runs in one (sub)transaction, so the replacement is atomic, a
 * failure leaves the target (and its indexes) as it was, and the indexes
 * of an existing target are kept as MongoDB keeps them.  $merge looks each
 * document up by its "on" fields, which a unique index must cover (51183),
 * and replaces, merges ($set of its fields), keeps or refuses the match,
 * and inserts, discards or refuses a document without one.
 *
 * Tables are created and written as the calling role, as insert does.
 *
 * IDENTIFICATION
 *	  src/agg_write.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "agg.h"
#include "bson_compare.h"
#include "documents.h"

#define AGG_WRITE_BATCH		1000

/* MongoDB's error codes of $out and $merge */
#define AGG_ERR_OUT_TYPE			16990
#define AGG_ERR_DUPLICATE_FIELD		40413
#define AGG_ERR_OUT_BUCKETS			17385
#define AGG_ERR_OUT_RESERVED_DB		31321
#define AGG_ERR_OUT_CAPPED			17152
#define AGG_ERR_OUT_TS_REGULAR		7268700
#define AGG_ERR_OUT_TS_MISMATCH		7406103
#define AGG_ERR_MERGE_INTO_TYPE		51178
#define AGG_ERR_MERGE_INTO_COLL		5786801
#define AGG_ERR_MERGE_SYSTEM		31319
#define AGG_ERR_MERGE_RESERVED_DB	31320
#define AGG_ERR_MERGE_ON_TYPE		51186
#define AGG_ERR_MERGE_ON_ELEMENT	51134
#define AGG_ERR_MERGE_ON_EMPTY		51187
#define AGG_ERR_MERGE_ON_INDEX		51183
#define AGG_ERR_MERGE_ON_ARRAY		51185
#define AGG_ERR_MERGE_MATCHED_TYPE	51191
#define AGG_ERR_MERGE_COMBINATION	51181
#define AGG_ERR_MERGE_LET_MODE		51199
#define AGG_ERR_MERGE_LET_NEW		51273
#define AGG_ERR_MERGE_NO_MATCH		13113

/* Check a database name as the write stages do (73, then reserved ones) */
static void
AggWriteCheckDatabase(const char *db, uint32_t len, bool merge)
{
	if (len == 0 || strlen(db) != len || db[len - 1] == '.')
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid database name: '%s'", db);
	ValidateDatabaseName(db);
	if (strcmp(db, "config") == 0 || strcmp(db, "local") == 0 ||
		(!merge && strcmp(db, "admin") == 0))
		MongoRaise(merge ? AGG_ERR_MERGE_RESERVED_DB : AGG_ERR_OUT_RESERVED_DB,
				   "%s cannot write to internal database %s", merge ? "$merge" : "$out", db);
}

/* Check a target collection name */
static void
AggWriteCheckCollection(const char *db, const char *coll, uint32_t len, bool merge)
{
	if (len == 0 || strlen(coll) != len || coll[0] == '.')
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid %s target namespace: '%s.%s'",
				   merge ? "$merge" : "$out", db, coll);
	if (!merge && strncmp(coll, "system.buckets.", 15) == 0)
		MongoRaise(AGG_ERR_OUT_BUCKETS, "Cannot write to a time-series bucket collection: %s",
				   coll);
	if (merge && strncmp(coll, "system.", 7) == 0)
		MongoRaise(AGG_ERR_MERGE_SYSTEM, "Cannot $merge into a system collection: %s", coll);
	if (strchr(coll, '$') != NULL || strlen(db) + 1 + len > MONGO_MAX_NS)
		MongoRaise(merge ? MONGO_INVALID_NAMESPACE : MONGO_ILLEGAL_OPERATION,
				   "Invalid %s target namespace: '%s.%s'", merge ? "$merge" : "$out", db, coll);
	ValidateCollectionName(db, coll);
}

/* A whole number of seconds of a time-series option, range-checked (14, 2) */
static void
AggOutBucketSeconds(const bson_iter_t *it, const char *name)
{
	double		d = 0;

	if (!BsonIterIsNumber(it))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field '$out.timeseries.%s' is the wrong type '%s', expected types '[long, int, decimal, double]'",
				   name, BsonTypeName(bson_iter_type(it)));
	(void) BsonIterAsDouble(it, &d);
	if (isnan(d) || trunc(d) < 1 || trunc(d) > 31536000)
		MongoRaise(MONGO_BAD_VALUE,
				   "BSON field 'timeseries.%s' value must be in the range [1, 31536000]", name);
}

/* $out's timeseries option: {timeField, metaField, granularity, bucket...} */
static void
AggOutTimeseries(const bson_iter_t *spec)
{
	bson_iter_t it;
	bool		has_time = false;
	bool		has_granularity = false;
	bool		has_span = false;
	bool		has_rounding = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field '$out.timeseries' is the wrong type '%s', expected type 'object'",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "timeField") != 0 && strcmp(key, "metaField") != 0 &&
			strcmp(key, "granularity") != 0 && strcmp(key, "bucketMaxSpanSeconds") != 0 &&
			strcmp(key, "bucketRoundingSeconds") != 0)
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field '$out.timeseries.%s' is an unknown field.", key);
		if (BSON_ITER_HOLDS_NULL(&it))
			continue;			/* as if absent */
		if (strcmp(key, "bucketMaxSpanSeconds") == 0 || strcmp(key, "bucketRoundingSeconds") == 0)
		{
			AggOutBucketSeconds(&it, key);
			if (key[6] == 'M')
				has_span = true;
			else
				has_rounding = true;
			continue;
		}
		if (!BSON_ITER_HOLDS_UTF8(&it))
			MongoRaise(MONGO_TYPE_MISMATCH,
					   "BSON field '$out.timeseries.%s' is the wrong type '%s', expected type 'string'",
					   key, BsonTypeName(bson_iter_type(&it)));
		if (strcmp(key, "timeField") == 0)
			has_time = true;
		else if (strcmp(key, "granularity") == 0)
		{
			const char *g = bson_iter_utf8(&it, NULL);

			if (strcmp(g, "seconds") != 0 && strcmp(g, "minutes") != 0 &&
				strcmp(g, "hours") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'timeseries.granularity' is not a valid value.",
						   g);
			has_granularity = true;
		}
	}
	if (!has_time)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '$out.timeseries.timeField' is missing but a required field");
	if (has_span != has_rounding)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' must be set together");
	if (has_granularity && has_span)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' cannot be set with 'granularity'");
}

/* $out: "coll" | {db, coll, timeseries} */
static void
AggOutParse(const bson_iter_t *spec, const char *database, AggWrite *w)
{
	if (BSON_ITER_HOLDS_UTF8(spec))
	{
		uint32_t	len;
		const char *coll = bson_iter_utf8(spec, &len);

		w->db = pstrdup(database);
		AggWriteCheckCollection(w->db, coll, len, false);
		w->coll = pstrdup(coll);
		return;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(AGG_ERR_OUT_TYPE,
				   "$out only supports a string or object argument, but found %s",
				   BsonTypeName(bson_iter_type(spec)));
	{
		bson_iter_t it;
		bson_iter_t db;
		bson_iter_t coll;
		bool		has_db = false;
		bool		has_coll = false;
		uint32_t	len;

		bson_iter_recurse(spec, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);
			bool	   *seen;

			if (strcmp(key, "db") == 0)
			{
				seen = &has_db;
				db = it;
			}
			else if (strcmp(key, "coll") == 0)
			{
				seen = &has_coll;
				coll = it;
			}
			else if (strcmp(key, "timeseries") == 0)
			{
				if (w->timeseries != NULL)
					MongoRaise(AGG_ERR_DUPLICATE_FIELD, "$out specification has a duplicate field: %s",
							   key);
				if (!BSON_ITER_HOLDS_NULL(&it))
				{
					AggOutTimeseries(&it);
					w->timeseries = BsonFromIter(&it);
				}
				continue;
			}
			else
				MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$out.%s' is an unknown field.", key);
			if (*seen)
				MongoRaise(AGG_ERR_DUPLICATE_FIELD, "$out specification has a duplicate field: %s",
						   key);
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			*seen = true;
			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$out.%s' is the wrong type '%s', expected type 'string'",
						   key, BsonTypeName(bson_iter_type(&it)));
		}
		if (!has_db)
			MongoRaise(MONGO_IDL_MISSING_FIELD, "BSON field '$out.db' is missing but a required field");
		if (!has_coll)
			MongoRaise(MONGO_IDL_MISSING_FIELD, "BSON field '$out.coll' is missing but a required field");
		w->db = pstrdup(bson_iter_utf8(&db, &len));
		AggWriteCheckDatabase(w->db, len, false);
		w->coll = pstrdup(bson_iter_utf8(&coll, &len));
		AggWriteCheckCollection(w->db, w->coll, len, false);
	}
}

/* Check one field path of $merge's "on" */
static void
AggMergeCheckOnPath(const char *path, uint32_t len)
{
	if (len == 0)
		MongoRaise(40352, "FieldPath cannot be constructed with empty string");
	if (strlen(path) != len)
		MongoRaise(16411, "FieldPath field names may not contain '\\0'");
	if (path[0] == '$')
		MongoRaise(16410, "FieldPath field names may not start with '$'");
	if (path[len - 1] == '.')
		MongoRaise(40353, "FieldPath must not end with a '.'.");
	if (path[0] == '.' || strstr(path, "..") != NULL)
		MongoRaise(15998, "FieldPath field names may not be empty strings.");
}

/* $merge's into: "coll" | {db, coll} */
static void
AggMergeInto(const bson_iter_t *into, const char *database, AggWrite *w)
{
	uint32_t	len;

	if (BSON_ITER_HOLDS_UTF8(into))
	{
		const char *coll = bson_iter_utf8(into, &len);

		w->db = pstrdup(database);
		AggWriteCheckCollection(w->db, coll, len, true);
		w->coll = pstrdup(coll);
		return;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(into))
		MongoRaise(AGG_ERR_MERGE_INTO_TYPE,
				   "$merge 'into' field must be either a string or an object, but found %s",
				   BsonTypeName(bson_iter_type(into)));
	{
		bson_iter_t it;
		const char *db = database;
		const char *coll = NULL;
		uint32_t	db_len = strlen(database);
		uint32_t	coll_len = 0;

		bson_iter_recurse(into, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);

			if (strcmp(key, "db") != 0 && strcmp(key, "coll") != 0)
				MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'into.%s' is an unknown field.", key);
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field 'into.%s' is the wrong type '%s', expected type 'string'",
						   key, BsonTypeName(bson_iter_type(&it)));
			if (key[0] == 'd')
				db = bson_iter_utf8(&it, &db_len);
			else
				coll = bson_iter_utf8(&it, &coll_len);
		}
		if (coll == NULL)
			MongoRaise(AGG_ERR_MERGE_INTO_COLL,
					   "$merge 'into' field must specify a 'coll' that is not empty, null or undefined");
		AggWriteCheckDatabase(db, db_len, true);
		w->db = pstrdup(db);
		AggWriteCheckCollection(w->db, coll, coll_len, true);
		w->coll = pstrdup(coll);
	}
}

/* $merge's whenMatched pipeline: objects of the stages an update allows */
static void
AggMergePipelineCheck(const bson_iter_t *pipeline)
{
	bson_iter_t it;

	bson_iter_recurse(pipeline, &it);
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;
		const char *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			MongoRaise(MONGO_TYPE_MISMATCH,
					   "Each element of the 'whenMatched' pipeline array must be an object");
		name = AggStageName(&it, &stage);
		if (strcmp(name, "$addFields") != 0 && strcmp(name, "$set") != 0 &&
			strcmp(name, "$project") != 0 && strcmp(name, "$unset") != 0 &&
			strcmp(name, "$replaceRoot") != 0 && strcmp(name, "$replaceWith") != 0 &&
			strcmp(name, "$fill") != 0 && strcmp(name, "$match") != 0)
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "%s is not allowed to be used within an update", name);
	}
}

/* $merge's let: names as aggregate's let, "new" only as "$$ROOT" */
static void
AggMergeLet(const bson_iter_t *let)
{
	bson_iter_t it;

	bson_iter_recurse(let, &it);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (name[0] == '$' || name[0] == '\0' ||
			!((name[0] >= 'a' && name[0] <= 'z') || (unsigned char) name[0] >= 0x80))
			MongoRaise(MONGO_FAILED_TO_PARSE,
					   "'%s' starts with an invalid character for a user variable name", name);
		if (strcmp(name, "new") == 0 &&
			!(BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "$$ROOT") == 0))
			MongoRaise(AGG_ERR_MERGE_LET_NEW,
					   "'let' may only define 'new' as \"$$ROOT\" in $merge");
	}
}

/* $merge: "coll" | {into, on, let, whenMatched, whenNotMatched} */
static void
AggMergeParse(const bson_iter_t *spec, const char *database, AggWrite *w)
{
	bson_iter_t it;
	bool		has_into = false;
	bool		has_let = false;

	w->merge = true;
	w->matched = AGG_MERGE_MERGE;
	w->not_matched = AGG_MERGE_INSERT;
	if (BSON_ITER_HOLDS_UTF8(spec))
	{
		AggMergeInto(spec, database, w);
		return;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "$merge requires a string or object argument, but found %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "into") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				MongoRaise(AGG_ERR_MERGE_INTO_TYPE,
						   "$merge 'into' field must be either a string or an object, but found null");
			AggMergeInto(&it, database, w);
			has_into = true;
		}
		else if (strcmp(key, "on") == 0)
		{
			if (BSON_ITER_HOLDS_UTF8(&it))
			{
				uint32_t	len;
				const char *path = bson_iter_utf8(&it, &len);

				AggMergeCheckOnPath(path, len);
				w->on = palloc(sizeof(char *));
				w->on[0] = pstrdup(path);
				w->non = 1;
			}
			else if (BSON_ITER_HOLDS_ARRAY(&it))
			{
				bson_iter_t e;
				int			n = 0;

				bson_iter_recurse(&it, &e);
				while (bson_iter_next(&e))
				{
					if (!BSON_ITER_HOLDS_UTF8(&e))
						MongoRaise(AGG_ERR_MERGE_ON_ELEMENT,
								   "Array elements of $merge 'on' field must be strings, but found %s",
								   BsonTypeName(bson_iter_type(&e)));
					n++;
				}
				if (n == 0)
					MongoRaise(AGG_ERR_MERGE_ON_EMPTY,
							   "If explicitly specifying $merge 'on', must include at least one field");
				w->on = palloc(sizeof(char *) * n);
				w->non = 0;
				bson_iter_recurse(&it, &e);
				while (bson_iter_next(&e))
				{
					uint32_t	len;
					const char *path = bson_iter_utf8(&e, &len);

					AggMergeCheckOnPath(path, len);
					w->on[w->non++] = pstrdup(path);
				}
			}
			else
				MongoRaise(AGG_ERR_MERGE_ON_TYPE,
						   "$merge 'on' field must be either a string or an array of strings, but found %s",
						   BsonTypeName(bson_iter_type(&it)));
		}
		else if (strcmp(key, "let") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$merge.let' is the wrong type '%s', expected type 'object'",
						   BsonTypeName(bson_iter_type(&it)));
			AggMergeLet(&it);
			has_let = true;
			w->let = BsonFromIter(&it);
		}
		else if (strcmp(key, "whenMatched") == 0)
		{
			if (BSON_ITER_HOLDS_ARRAY(&it))
			{
				AggMergePipelineCheck(&it);
				w->matched = AGG_MERGE_PIPELINE;
				w->pipeline = BsonFromIter(&it);
			}
			else if (BSON_ITER_HOLDS_UTF8(&it))
			{
				const char *m = bson_iter_utf8(&it, NULL);

				if (strcmp(m, "replace") == 0)
					w->matched = AGG_MERGE_REPLACE;
				else if (strcmp(m, "keepExisting") == 0)
					w->matched = AGG_MERGE_KEEP;
				else if (strcmp(m, "merge") == 0)
					w->matched = AGG_MERGE_MERGE;
				else if (strcmp(m, "fail") == 0)
					w->matched = AGG_MERGE_FAIL;
				else
					MongoRaise(MONGO_BAD_VALUE,
							   "Enumeration value '%s' for field 'whenMatched' is not a valid value.",
							   m);
			}
			else
				MongoRaise(AGG_ERR_MERGE_MATCHED_TYPE,
						   "$merge 'whenMatched' field must be either a string or an array, but found %s",
						   BsonTypeName(bson_iter_type(&it)));
		}
		else if (strcmp(key, "whenNotMatched") == 0)
		{
			const char *m;

			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$merge.whenNotMatched' is the wrong type '%s', expected type 'string'",
						   BsonTypeName(bson_iter_type(&it)));
			m = bson_iter_utf8(&it, NULL);
			if (strcmp(m, "insert") == 0)
				w->not_matched = AGG_MERGE_INSERT;
			else if (strcmp(m, "discard") == 0)
				w->not_matched = AGG_MERGE_DISCARD;
			else if (strcmp(m, "fail") == 0)
				w->not_matched = AGG_MERGE_NOT_FAIL;
			else
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'whenNotMatched' is not a valid value.",
						   m);
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$merge.%s' is an unknown field.", key);
	}
	if (!has_into)
		MongoRaise(MONGO_IDL_MISSING_FIELD, "BSON field '$merge.into' is missing but a required field");
	if ((w->matched == AGG_MERGE_KEEP || w->matched == AGG_MERGE_FAIL) &&
		w->not_matched != AGG_MERGE_INSERT)
		MongoRaise(AGG_ERR_MERGE_COMBINATION,
				   "Combination of $merge modes 'whenMatched: %s' and 'whenNotMatched: %s' is not supported",
				   w->matched == AGG_MERGE_KEEP ? "keepExisting" : "fail",
				   w->not_matched == AGG_MERGE_DISCARD ? "discard" : "fail");
	if (has_let && w->matched != AGG_MERGE_PIPELINE)
		MongoRaise(AGG_ERR_MERGE_LET_MODE,
				   "Cannot use 'let' variables with 'whenMatched: %s' mode",
				   w->matched == AGG_MERGE_REPLACE ? "replace" :
				   w->matched == AGG_MERGE_KEEP ? "keepExisting" :
				   w->matched == AGG_MERGE_MERGE ? "merge" : "fail");
}

/*
 * Does the target have a unique index on exactly the "on" fields (in any
 * order), not partial, under the collation of the pipeline?
 */
static bool
AggMergeHasUniqueIndex(const Collection *coll, const AggWrite *w, bool collated)
{
	bson_iter_t it;

	bson_iter_init(&it, coll->indexes);
	while (bson_iter_next(&it))
	{
		bson_t		spec;
		bson_iter_t f;
		bson_iter_t key;
		const uint8_t *data;
		uint32_t	len;
		int			nkeys = 0;
		bool		all = true;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(&spec, data, len))
			continue;
		if (!bson_iter_init_find(&f, &spec, "unique") || !BsonIterTruthy(&f))
			continue;
		if (bson_iter_init_find(&f, &spec, "partialFilterExpression"))
			continue;
		if (bson_iter_init_find(&f, &spec, "collation") != collated)
			continue;
		if (!bson_iter_init_find(&f, &spec, "key") || !bson_iter_recurse(&f, &key))
			continue;
		while (bson_iter_next(&key))
		{
			bool		found = false;

			if (!BsonIterIsNumber(&key))
				all = false;
			for (int i = 0; i < w->non; i++)
				if (strcmp(w->on[i], bson_iter_key(&key)) == 0)
					found = true;
			if (!found)
				all = false;
			nkeys++;
		}
		if (all && nkeys == w->non)
			return true;
	}
	return false;
}

/*
 * Parse a $out or $merge stage and check it against the target as it is
 * (explain checks as much).  collated: the pipeline has a collation.
 */
AggWrite *
AggWriteParse(const char *name, const bson_iter_t *spec, const char *database, bool collated)
{
	AggWrite   *w = palloc0(sizeof(AggWrite));
	Collection *target;

	if (strcmp(name, "$out") == 0)
		AggOutParse(spec, database, w);
	else
		AggMergeParse(spec, database, w);

	target = CollectionLookup(w->db, w->coll);
	if (w->merge && w->non > 0 &&
		!(w->non == 1 && strcmp(w->on[0], "_id") == 0))
	{
		bool		id_only = true;

		for (int i = 0; i < w->non; i++)
			if (strcmp(w->on[i], "_id") != 0)
				id_only = false;
		if (!id_only &&
			(target == NULL || target->is_view || !AggMergeHasUniqueIndex(target, w, collated)))
			MongoRaise(AGG_ERR_MERGE_ON_INDEX,
					   "Cannot find index to verify that join fields will be unique");
	}
	if (w->non == 1 && strcmp(w->on[0], "_id") == 0)
		w->non = 0;				/* the default */
	return w;
}

/* Raise the first write error of an insert */
static void
AggWriteRaiseFirst(const bson_t *errors)
{
	bson_iter_t it;
	bson_iter_t e;
	int			code = MONGO_INTERNAL_ERROR;
	const char *message = "write error";
	bson_t		extra;

	bson_init(&extra);
	if (bson_iter_init(&it, errors) && bson_iter_next(&it) && bson_iter_recurse(&it, &e))
	{
		while (bson_iter_next(&e))
		{
			const char *key = bson_iter_key(&e);

			if (strcmp(key, "code") == 0)
				code = bson_iter_int32(&e);
			else if (strcmp(key, "errmsg") == 0)
				message = bson_iter_utf8(&e, NULL);
			else if (strcmp(key, "index") != 0)
				bson_append_iter(&extra, key, -1, &e);
		}
	}
	MongoRaiseExtra(code, &extra, "%s", message);
}

/* Insert a batch of pipeline documents into the target (raising the first error) */
static void
AggWriteInsert(Collection *coll, bson_t **docs, int ndocs, bool bypass)
{
	bool	   *invalid = palloc0(sizeof(bool) * ndocs);
	int		   *codes = palloc0(sizeof(int) * ndocs);
	char	  **messages = palloc0(sizeof(char *) * ndocs);
	bson_t	   *stored[AGG_WRITE_BATCH];
	BsonFilter *validator = NULL;
	WriteErrors we;

	if (!bypass)
	{
		bson_iter_t it;
		const uint8_t *data;
		uint32_t	len;
		bool		warn;

		warn = bson_iter_init_find(&it, coll->options, "validationAction") &&
			BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "warn") == 0;
		if (!warn && !(bson_iter_init_find(&it, coll->options, "validationLevel") &&
					   BSON_ITER_HOLDS_UTF8(&it) &&
					   strcmp(bson_iter_utf8(&it, NULL), "off") == 0) &&
			bson_iter_init_find(&it, coll->options, "validator") &&
			BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			bson_iter_document(&it, &len, &data);
			if (len > 5)
				validator = CompileFilter(data, len);
		}
	}
	for (int i = 0; i < ndocs; i++)
	{
		char	   *msg;
		int			code;

		stored[i] = bson_new();
		msg = PrepareDocument(bson_get_data(docs[i]), docs[i]->len, stored[i], &code);
		if (msg != NULL)
			MongoRaise(code, "%s", msg);
		if (validator != NULL &&
			!BsonFilterMatches(validator, bson_get_data(stored[i]), stored[i]->len))
			MongoRaise(121, "Document failed validation");
	}
	bson_init(&we.array);
	we.count = 0;
	(void) InsertDocuments(coll, stored, ndocs, true, invalid, &we, codes, messages);
	if (we.count > 0)
		AggWriteRaiseFirst(&we.array);
	for (int i = 0; i < ndocs; i++)
		bson_destroy(stored[i]);
	bson_destroy(&we.array);
}

/* The filter {path: {$eq: value}, ...} of a document's "on" fields */
static void
AggMergeFilter(const AggWrite *w, const bson_t *doc, bson_t *filter)
{
	bson_init(filter);
	for (int i = 0; i < (w->non > 0 ? w->non : 1); i++)
	{
		const char *path = w->non > 0 ? w->on[i] : "_id";
		bson_iter_t it;
		bson_iter_t value;
		bson_t		eq;

		bson_append_document_begin(filter, path, -1, &eq);
		if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &value))
		{
			if (BSON_ITER_HOLDS_ARRAY(&value))
				MongoRaise(AGG_ERR_MERGE_ON_ARRAY,
						   "$merge write error: 'on' field '%s' is an array", path);
			bson_append_iter(&eq, "$eq", 3, &value);
		}
		else
			bson_append_null(&eq, "$eq", 3);
		bson_append_document_end(filter, &eq);
	}
}

/* $merge one document */
static void
AggMergeOne(const AggWrite *w, Collection **target, bson_t *doc, const uint8_t *collation,
			uint32_t collation_len, bool bypass)
{
	bson_t		filter;
	bson_t		update;
	bson_t		prepared;
	bson_t	   *source = doc;
	UpdateResult result;
	bool		upsert = w->not_matched == AGG_MERGE_INSERT;

	if (w->non == 0)
	{
		int			code;
		char	   *msg;

		/* matched by _id: a document without one gets one first */
		msg = PrepareDocument(bson_get_data(doc), doc->len, &prepared, &code);
		if (msg != NULL)
			MongoRaise(code, "%s", msg);
		source = &prepared;
	}
	AggMergeFilter(w, source, &filter);

	if (*target == NULL)
	{
		bool		created;

		if (w->not_matched == AGG_MERGE_DISCARD)
			return;
		if (w->not_matched == AGG_MERGE_NOT_FAIL)
			MongoRaise(AGG_ERR_MERGE_NO_MATCH,
					   "$merge could not find a matching document in the target collection for at least one document in the source collection");
		*target = CollectionGetOrCreate(w->db, w->coll, &created);
	}

	bson_init(&update);
	switch (w->matched)
	{
		case AGG_MERGE_FAIL:
			{
				bson_t	   *docs[1];

				docs[0] = source;
				AggWriteInsert(*target, docs, 1, bypass);
				bson_destroy(&update);
				bson_destroy(&filter);
				return;
			}
		case AGG_MERGE_REPLACE:
			bson_concat(&update, source);
			break;
		case AGG_MERGE_MERGE:
			bson_append_document(&update, "$set", 4, source);
			break;
		case AGG_MERGE_KEEP:
			bson_append_document(&update, "$setOnInsert", 12, source);
			break;
		case AGG_MERGE_PIPELINE:
			{
				bson_t	   *docs[1];
				bson_t		vars;
				bson_t		holder;
				bson_iter_t pit;
				bson_iter_t bound;
				const uint8_t *pdata;
				uint32_t	plen;
				int64		now = (int64) (GetCurrentTimestamp() / 1000 + INT64CONST(946684800000));

				/*
				 * The pipeline updates the matched document with $$new (the
				 * incoming document, or let's new) and the let variables
				 * (evaluated on the incoming document) bound into it.
				 */
				bson_init(&vars);
				if (w->let != NULL)
				{
					bson_t		h;
					bson_t		letdoc;
					bson_iter_t lit;

					bson_init(&h);
					bson_init_static(&letdoc, BsonBytes(w->let), BsonDocLen(w->let));
					bson_append_document(&h, "l", 1, &letdoc);
					bson_iter_init_find(&lit, &h, "l");
					AggLetEvaluate(&lit, bson_get_data(source), source->len, now, &vars);
				}
				{
					bson_iter_t n;

					if (!bson_iter_init_find(&n, &vars, "new"))
						bson_append_document(&vars, "new", 3, source);
				}
				if (!BsonValueIter(w->pipeline, &pit, &holder) || !BSON_ITER_HOLDS_ARRAY(&pit))
					elog(ERROR, "invalid $merge pipeline");
				if (AggBindPipeline(&pit, &vars, now, &bound))
					bson_iter_array(&bound, &plen, &pdata);
				else
					bson_iter_array(&pit, &plen, &pdata);
				UpdateDocuments(*target, bson_get_data(&filter), filter.len, pdata, plen, true,
								NULL, 0, false, false, NULL, 0, collation, collation_len, false,
								bypass, &result);
				bson_destroy(&vars);
				if (result.matched == 0 && w->not_matched == AGG_MERGE_NOT_FAIL)
					MongoRaise(AGG_ERR_MERGE_NO_MATCH,
							   "$merge could not find a matching document in the target collection for at least one document in the source collection");
				if (result.matched == 0 && w->not_matched == AGG_MERGE_INSERT)
				{
					docs[0] = source;
					AggWriteInsert(*target, docs, 1, bypass);
				}
				bson_destroy(&update);
				bson_destroy(&filter);
				return;
			}
	}
	UpdateDocuments(*target, bson_get_data(&filter), filter.len, bson_get_data(&update),
					update.len, false, NULL, 0, false, upsert, NULL, 0, collation, collation_len,
					false, bypass, &result);
	if (result.matched == 0 && w->not_matched == AGG_MERGE_NOT_FAIL)
		MongoRaise(AGG_ERR_MERGE_NO_MATCH,
				   "$merge could not find a matching document in the target collection for at least one document in the source collection");
	bson_destroy(&update);
	bson_destroy(&filter);
}

/* $out: the target as it must be before the documents go in */
static Collection *
AggOutPrepareTarget(const AggWrite *w)
{
	Collection *target = CollectionLookup(w->db, w->coll);
	bson_iter_t it;
	bool		target_ts;

	if (target != NULL && target->is_view)
		MongoRaise(w->timeseries != NULL ? AGG_ERR_OUT_TS_REGULAR : MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Cannot write to a view: %s.%s", w->db, w->coll);
	if (target != NULL && target->capped)
		MongoRaise(AGG_ERR_OUT_CAPPED, "$out to a capped collection is not allowed: %s.%s",
				   w->db, w->coll);
	target_ts = target != NULL && bson_iter_init_find(&it, target->options, "timeseries");
	if (target != NULL && w->timeseries != NULL)
	{
		bson_t		want;
		bson_t		have;
		const uint8_t *data;
		uint32_t	len;
		static const char *const keys[] = {"timeField", "metaField", "granularity",
		"bucketMaxSpanSeconds", "bucketRoundingSeconds", NULL};

		if (!target_ts)
			MongoRaise(AGG_ERR_OUT_TS_REGULAR,
					   "Cannot create a time-series collection: %s.%s exists and is not a time-series collection",
					   w->db, w->coll);
		bson_iter_document(&it, &len, &data);
		bson_init_static(&have, data, len);
		bson_init_static(&want, BsonBytes(w->timeseries), BsonDocLen(w->timeseries));
		for (int i = 0; keys[i] != NULL; i++)
		{
			bson_iter_t a;
			bson_iter_t b;
			bool		in_a = bson_iter_init_find(&a, &want, keys[i]) && !BSON_ITER_HOLDS_NULL(&a);
			bool		in_b = bson_iter_init_find(&b, &have, keys[i]) && !BSON_ITER_HOLDS_NULL(&b);

			if (i == 2 && in_a != in_b)
			{
				/* granularity defaults to "seconds" without bucket options */
				bson_iter_t other;
				bool		buckets = bson_iter_init_find(&other, in_a ? &have : &want,
														  "bucketMaxSpanSeconds");
				const char *g = bson_iter_utf8(in_a ? &a : &b, NULL);

				if (!buckets && strcmp(g, "seconds") == 0)
					continue;
			}
			if (in_a != in_b || (in_a && BsonCompareValues(&a, &b) != 0))
				MongoRaise(AGG_ERR_OUT_TS_MISMATCH,
						   "Time-series options of $out do not match those of the existing collection %s.%s",
						   w->db, w->coll);
		}
	}
	if (target == NULL)
	{
		if (w->timeseries != NULL)
		{
			bson_t		options;
			bson_t		ts;

			bson_init(&options);
			bson_init_static(&ts, BsonBytes(w->timeseries), BsonDocLen(w->timeseries));
			bson_append_document(&options, "timeseries", -1, &ts);
			target = CollectionCreate(w->db, w->coll, &options, true);
			bson_destroy(&options);
		}
		else
		{
			bool		created;

			target = CollectionGetOrCreate(w->db, w->coll, &created);
		}
	}
	else
	{
		/* the documents go, the indexes and options stay */
		SPI_connect();
		if (SPI_execute(psprintf("DELETE FROM %s", target->qualified), false, 0) < 0)
			elog(ERROR, "could not empty %s", target->qualified);
		SPI_finish();
		CommandCounterIncrement();
	}
	return target;
}

/* A time-series target's documents need a date in the time field (2) */
static void
AggOutCheckTimeseries(const AggWrite *w, const bson_t *doc)
{
	bson_t		ts;
	bson_iter_t f;
	bson_iter_t it;
	const char *field;

	if (w->timeseries == NULL)
		return;
	bson_init_static(&ts, BsonBytes(w->timeseries), BsonDocLen(w->timeseries));
	if (!bson_iter_init_find(&f, &ts, "timeField") || !BSON_ITER_HOLDS_UTF8(&f))
		return;
	field = bson_iter_utf8(&f, NULL);
	if (!bson_iter_init_find(&it, doc, field) || !BSON_ITER_HOLDS_DATE_TIME(&it))
		MongoRaise(MONGO_BAD_VALUE,
				   "'%s' must be present and contain a valid BSON UTC datetime value", field);
}

/*
 * Run the query of a pipeline (sql NULL: no documents) and write what it
 * returns as w says.
 */
void
AggWriteRun(const AggWrite *w, const char *sql, int nparams, Oid *types, Datum *values,
			const Collection *source, const char *hint, const uint8_t *collation,
			uint32_t collation_len, bool bypass)
{
	Portal		portal = NULL;
	Collection *target = NULL;
	MemoryContext batch_context;
	MemoryContext old;

	SPI_connect();
	if (sql != NULL)
	{
		int			level = HintSettingsPush(source, hint);

		/* opened first: its snapshot does not see the writes below */
		portal = SPI_cursor_open_with_args(NULL, sql, nparams, types, values, NULL, false,
										   CURSOR_OPT_NO_SCROLL);
		HintSettingsPop(level);
	}
	if (!w->merge)
		target = AggOutPrepareTarget(w);
	else
	{
		target = CollectionLookup(w->db, w->coll);
		if (target != NULL && target->is_view)
			MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
					   "Cannot write to a view: %s.%s", w->db, w->coll);
	}

	batch_context = AllocSetContextCreate(CurrentMemoryContext, "aggregate write batch",
										  ALLOCSET_DEFAULT_SIZES);
	while (portal != NULL)
	{
		SPITupleTable *tuptable;
		uint64		nrows;
		bson_t	   *docs[AGG_WRITE_BATCH];

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, AGG_WRITE_BATCH);
		if (SPI_processed == 0)
			break;
		tuptable = SPI_tuptable;
		nrows = SPI_processed;
		old = MemoryContextSwitchTo(batch_context);
		for (uint64 i = 0; i < nrows; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull);
			Bson	   *row;

			if (isnull)
				elog(ERROR, "aggregate produced a NULL document");
			row = DatumGetBsonP(d);
			docs[i] = bson_new_from_data(BsonBytes(row), BsonDocLen(row));
			if (docs[i] == NULL)
				elog(ERROR, "invalid document from the pipeline");
			if (!w->merge)
				AggOutCheckTimeseries(w, docs[i]);
		}
		if (!w->merge)
			AggWriteInsert(target, docs, (int) nrows, bypass);
		else
			for (uint64 i = 0; i < nrows; i++)
			{
				CHECK_FOR_INTERRUPTS();
				AggMergeOne(w, &target, docs[i], collation, collation_len, bypass);
			}
		for (uint64 i = 0; i < nrows; i++)
			bson_destroy(docs[i]);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch_context);
		SPI_freetuptable(tuptable);
	}
	if (portal != NULL)
		SPI_cursor_close(portal);
	MemoryContextDelete(batch_context);
	SPI_finish();
}
