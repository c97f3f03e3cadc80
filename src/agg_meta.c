/*-------------------------------------------------------------------------
 *
 * agg_meta.c
 *	  The metadata stages of the aggregation pipeline: $collStats,
 *	  $indexStats, $planCacheStats, $listClusterCatalog, $querySettings and
 *	  $currentOp.
 *
 * Design note
 * -----------
 * Each of these stages is the source of its pipeline: it must be the first
 * stage, and the pipeline SQL (agg_pipeline.c) selects from one of the
 * set-returning functions here instead of a collection's table, so the
 * stages after it ($match, $project, $group ...) run over its documents as
 * over any others.  The documents are built from what PostgreSQL knows:
 *
 *	$collStats			pg_stat_get_* counters of the table and its indexes,
 *						pg_table_size/pg_indexes_size/pg_relation_size, and
 *						an exact count(*) (MongoDB's count is its metadata;
 *						a table has none that is exact)
 *	$indexStats			one document per MongoDB index; accesses.ops sums the
 *						idx_scan counters of the PostgreSQL indexes behind it
 *	$planCacheStats		the saved plans of the commands' SQL (cmd_read.c)
 *						that read the collection's table
 *	$listClusterCatalog	the collections listCollections shows, of one
 *						database or (on admin) of all
 *	$querySettings		there is no query settings store: no documents
 *	$currentOp			pg_stat_activity, one document per backend
 *
 * Nothing is shown that the calling role could not see otherwise: the
 * statistics of a collection need the SELECT privilege on its table,
 * $listClusterCatalog reads the catalog as listCollections does, and
 * pg_stat_activity hides other roles' query text itself.  PostgreSQL does
 * not time statements per table, so $collStats' latencies are 0 while the
 * operation counts are the table's scan and tuple counters.
 *
 * The specifications are checked here as MongoDB parses them (field by
 * field, with its error codes); agg_pipeline.c checks where the stages may
 * appear, and AggMetaCheckNested the sub-pipelines of $lookup, $unionWith
 * and $facet.
 *
 * IDENTIFICATION
 *	  src/agg_meta.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/timestamp.h"

#include "agg.h"
#include "documents.h"
#include "nosql.h"

/* The MongoDB error codes of these stages */
#define META_ERR_COLLSTATS_SPEC		5447000
#define META_ERR_COUNT_SPEC			31170
#define META_ERR_INDEXSTATS_SPEC	28803
#define META_ERR_PLANCACHE_TYPE		13111
#define META_ERR_PLANCACHE_NO_COLL	50933
#define META_ERR_PLANCACHE_HOSTS	4503200
#define META_ERR_CATALOG_NS			9621301
#define META_ERR_CATALOG_SPEC		9621302
#define META_ERR_QUERYSETTINGS_SPEC 7746800
#define META_ERR_FACET				40600
#define META_ERR_NOT_FIRST			40602

/* The stages of this file */
static const char *const meta_stages[] = {
	"$collStats", "$indexStats", "$planCacheStats", "$listClusterCatalog",
	"$querySettings", "$currentOp", NULL
};

/* What a $collStats specification asks for */
typedef struct CollStatsSpec
{
	bool		latency;
	bool		histograms;
	bool		storage;
	int64		scale;
	bool		count;
	bool		exec;
} CollStatsSpec;

/* The options of $currentOp */
typedef struct CurrentOpSpec
{
	bool		all_users;
	bool		idle_connections;
	bool		idle_sessions;
	bool		idle_cursors;
	bool		truncate_ops;
} CurrentOpSpec;

/* Is name one of the metadata stages? */
bool
AggMetaStage(const char *name)
{
	for (int i = 0; meta_stages[i] != NULL; i++)
		if (strcmp(meta_stages[i], name) == 0)
			return true;
	return false;
}

/* A boolean option of a stage, MongoDB's IDL type error otherwise (14) */
static bool
MetaBool(const char *stage, const char *parent, const bson_iter_t *it)
{
	if (!BSON_ITER_HOLDS_BOOL(it))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field '%s.%s%s' is the wrong type '%s', expected type 'bool'",
				   stage, parent != NULL ? parent : "", bson_iter_key(it),
				   BsonTypeName(bson_iter_type(it)));
	return bson_iter_bool(it);
}

/* A nested document option, 14 otherwise */
static void
MetaObject(const char *stage, const char *parent, const bson_iter_t *it)
{
	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field '%s.%s%s' is the wrong type '%s', expected type 'object'",
				   stage, parent != NULL ? parent : "", bson_iter_key(it),
				   BsonTypeName(bson_iter_type(it)));
}

/* Is the document under it empty? */
static bool
MetaEmpty(const bson_iter_t *it)
{
	bson_iter_t sub;

	bson_iter_recurse(it, &sub);
	return !bson_iter_next(&sub);
}

/*
 * storageStats.scale: a number converted as MongoDB's safeInt64 (doubles
 * truncated, decimals rounded half to even), at least 1
 */
static int64
MetaScale(const bson_iter_t *it)
{
	double		d = 0;
	int64		v;

	if (!BsonIterIsNumber(it))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field '$collStats.storageStats.scale' is the wrong type '%s', expected types '[long, int, decimal, double]'",
				   BsonTypeName(bson_iter_type(it)));
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
		v = bson_iter_as_int64(it);
	else
	{
		if (BSON_ITER_HOLDS_DECIMAL128(it))
		{
			bson_decimal128_t dec;
			char		text[BSON_DECIMAL128_STRING];

			bson_iter_decimal128(it, &dec);
			bson_decimal128_to_string(&dec, text);
			d = rint(strtod(text, NULL));
		}
		else
			(void) BsonIterAsDouble(it, &d);
		if (isnan(d))
			v = 0;
		else if (d >= 9.2233720368547758e18)
			v = PG_INT64_MAX;
		else if (d <= -9.2233720368547758e18)
			v = PG_INT64_MIN;
		else
			v = (int64) d;
	}
	if (v < 1)
		MongoRaise(MONGO_BAD_VALUE, "BSON field 'scale' value must be >= 1, actual value '%lld'",
				   (long long) v);
	return v;
}

/* Parse a $collStats specification */
static void
CollStatsParse(const bson_iter_t *spec, CollStatsSpec *out)
{
	bson_iter_t it;

	memset(out, 0, sizeof(*out));
	out->scale = 1;
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(META_ERR_COLLSTATS_SPEC, "$collStats must take a nested object but found: %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		bson_iter_t sub;

		if (strcmp(key, "latencyStats") == 0)
		{
			MetaObject("$collStats", NULL, &it);
			out->latency = true;
			bson_iter_recurse(&it, &sub);
			while (bson_iter_next(&sub))
			{
				if (strcmp(bson_iter_key(&sub), "histograms") == 0)
					out->histograms = MetaBool("$collStats", "latencyStats.", &sub);
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field '$collStats.latencyStats.%s' is an unknown field.",
							   bson_iter_key(&sub));
			}
		}
		else if (strcmp(key, "storageStats") == 0)
		{
			MetaObject("$collStats", NULL, &it);
			out->storage = true;
			bson_iter_recurse(&it, &sub);
			while (bson_iter_next(&sub))
			{
				const char *k = bson_iter_key(&sub);

				if (strcmp(k, "scale") == 0)
					out->scale = MetaScale(&sub);
				else if (strcmp(k, "verbose") == 0 || strcmp(k, "waitForLock") == 0 ||
						 strcmp(k, "numericOnly") == 0)
					(void) MetaBool("$collStats", "storageStats.", &sub);
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field '$collStats.storageStats.%s' is an unknown field.", k);
			}
		}
		else if (strcmp(key, "count") == 0 || strcmp(key, "queryExecStats") == 0)
		{
			MetaObject("$collStats", NULL, &it);
			if (!MetaEmpty(&it))
				MongoRaise(META_ERR_COUNT_SPEC, "%s spec must be an empty document", key);
			if (key[0] == 'c')
				out->count = true;
			else
				out->exec = true;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$collStats.%s' is an unknown field.",
					   key);
	}
}

/* Parse a $currentOp specification */
static void
CurrentOpParse(const bson_iter_t *spec, CurrentOpSpec *out)
{
	static const char *const options[] = {
		"allUsers", "idleConnections", "idleCursors", "idleSessions", "localOps",
		"truncateOps", "backtrace", "targetAllNodes", NULL
	};
	bson_iter_t it;
	bool		target_all = false;

	out->all_users = false;
	out->idle_connections = false;
	out->idle_sessions = true;
	out->idle_cursors = false;
	out->truncate_ops = false;
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "$currentOp options must be specified in an object, but found: %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		int			i;
		bool		v;

		for (i = 0; options[i] != NULL; i++)
			if (strcmp(options[i], key) == 0)
				break;
		if (options[i] == NULL)
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$currentOp.%s' is an unknown field.",
					   key);
		v = MetaBool("$currentOp", NULL, &it);
		if (strcmp(key, "allUsers") == 0)
			out->all_users = v;
		else if (strcmp(key, "idleConnections") == 0)
			out->idle_connections = v;
		else if (strcmp(key, "idleSessions") == 0)
			out->idle_sessions = v;
		else if (strcmp(key, "idleCursors") == 0)
			out->idle_cursors = v;
		else if (strcmp(key, "truncateOps") == 0)
			out->truncate_ops = v;
		else if (strcmp(key, "targetAllNodes") == 0)
			target_all = v;
	}
	if (target_all)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "$currentOp supports targetAllNodes parameter only for sharded clusters");
}

/* Parse $listClusterCatalog's {shards, balancingConfiguration} */
static void
CatalogParse(const bson_iter_t *spec)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(META_ERR_CATALOG_SPEC, "$listClusterCatalog must take a nested object but found: %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "shards") == 0 || strcmp(key, "balancingConfiguration") == 0)
			(void) MetaBool("$listClusterCatalog", NULL, &it);
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field '$listClusterCatalog.%s' is an unknown field.", key);
	}
}

/* Parse $planCacheStats' {allHosts} */
static void
PlanCacheStatsParse(const bson_iter_t *spec)
{
	bson_iter_t it;
	bool		seen = false;
	bool		all_hosts = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_FAILED_TO_PARSE, "$planCacheStats value must be an object. Found: %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "allHosts") != 0)
			MongoRaise(MONGO_FAILED_TO_PARSE, "unrecognized option to $planCacheStats: %s",
					   bson_iter_key(&it));
		if (seen)
			MongoRaise(MONGO_FAILED_TO_PARSE, "$planCacheStats: duplicate field allHosts");
		seen = true;
		if (!BSON_ITER_HOLDS_BOOL(&it))
			MongoRaise(META_ERR_PLANCACHE_TYPE,
					   "wrong type for field (allHosts) %s != bool",
					   BsonTypeName(bson_iter_type(&it)));
		all_hosts = bson_iter_bool(&it);
	}
	if (all_hosts)
		MongoRaise(META_ERR_PLANCACHE_HOSTS,
				   "$planCacheStats stage supports allHosts parameter only for sharded clusters");
}

/* Parse $querySettings' {showDebugQueryShape} */
static void
QuerySettingsParse(const bson_iter_t *spec)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(META_ERR_QUERYSETTINGS_SPEC, "$querySettings stage expects a document as argument");
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "showDebugQueryShape") == 0)
			(void) MetaBool("$querySettings", NULL, &it);
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$querySettings.%s' is an unknown field.",
					   bson_iter_key(&it));
	}
}

/* Check a metadata stage's specification, raising MongoDB's errors */
void
AggMetaValidate(const char *name, const bson_iter_t *spec)
{
	if (strcmp(name, "$collStats") == 0)
	{
		CollStatsSpec s;

		CollStatsParse(spec, &s);
	}
	else if (strcmp(name, "$indexStats") == 0)
	{
		if (!BSON_ITER_HOLDS_DOCUMENT(spec) || !MetaEmpty(spec))
			MongoRaise(META_ERR_INDEXSTATS_SPEC,
					   "The $indexStats stage specification must be an empty object");
	}
	else if (strcmp(name, "$planCacheStats") == 0)
		PlanCacheStatsParse(spec);
	else if (strcmp(name, "$listClusterCatalog") == 0)
		CatalogParse(spec);
	else if (strcmp(name, "$querySettings") == 0)
		QuerySettingsParse(spec);
	else if (strcmp(name, "$currentOp") == 0)
	{
		CurrentOpSpec s;

		CurrentOpParse(spec, &s);
	}
	else
		elog(ERROR, "unexpected metadata stage %s", name);
}

/* The rules of the stages of one sub-pipeline (see AggMetaCheckNestedIn) */
static void
MetaCheckSubPipeline(const bson_iter_t *pipeline, bool in_facet, bool collectionless)
{
	bson_iter_t it;
	int			n = 0;

	check_stack_depth();
	bson_iter_recurse(pipeline, &it);
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;
		const char *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &stage) ||
			!bson_iter_next(&stage))
		{
			n++;
			continue;
		}
		name = bson_iter_key(&stage);
		if (AggMetaStage(name))
		{
			if (strcmp(name, "$listClusterCatalog") == 0 && !collectionless)
				MongoRaise(META_ERR_CATALOG_NS,
						   "$listClusterCatalog must be run with {aggregate: 1}");
			if (in_facet)
				MongoRaise(META_ERR_FACET, "%s is not allowed to be used within a $facet stage",
						   name);
			if (n > 0)
				MongoRaise(META_ERR_NOT_FIRST,
						   "%s is only valid as the first stage in a pipeline", name);
		}
		AggMetaCheckNestedIn(name, &stage, in_facet, collectionless);
		n++;
	}
}

/*
 * The sub-pipelines of a stage ($lookup's and $unionWith's pipeline, each
 * of $facet's): a metadata stage there must be first (40602) and is not
 * allowed inside a $facet at any depth (40600); $listClusterCatalog needs
 * {aggregate: 1}, which only a $facet's sub-pipelines inherit (9621301).
 * MongoDB parses the whole pipeline first, so these come before the errors
 * of running it (and before the stages not implemented yet).
 */
void
AggMetaCheckNestedIn(const char *name, const bson_iter_t *spec, bool in_facet,
					 bool collectionless)
{
	bool		facet = strcmp(name, "$facet") == 0;
	bson_iter_t it;

	if (!facet && strcmp(name, "$lookup") != 0 && strcmp(name, "$unionWith") != 0)
		return;
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		return;
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		if (!BSON_ITER_HOLDS_ARRAY(&it) || (!facet && strcmp(bson_iter_key(&it), "pipeline") != 0))
			continue;
		MetaCheckSubPipeline(&it, in_facet || facet, facet ? collectionless : false);
	}
}

/* ---- the documents ---- */

/* MongoDB's host field: hostname:port */
static char *
MetaHost(void)
{
	char		host[256];

	if (gethostname(host, sizeof(host)) != 0)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	return psprintf("%s:%d", host, PostPortNumber);
}

/* Milliseconds since 1970 of a timestamp, as BSON dates count */
static int64
MetaMillis(TimestampTz t)
{
	return t / 1000 + ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * SECS_PER_DAY * 1000;
}

/* A number as MongoDB's appendNumber: an int when it fits, else a long */
static void
MetaAppendNumber(bson_t *doc, const char *key, int64 v)
{
	if (v >= PG_INT32_MIN && v <= PG_INT32_MAX)
		BSON_APPEND_INT32(doc, key, (int32) v);
	else
		BSON_APPEND_INT64(doc, key, v);
}

/* Put a document into the result of a materialized set-returning function */
static void
MetaEmit(ReturnSetInfo *rsinfo, const bson_t *doc)
{
	Datum		value = PointerGetDatum(BsonDatumFromBson(doc));
	bool		isnull = false;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
}

/*
 * The specification argument (a document) of the SQL functions, as an
 * iterator on it like the stage's; holder keeps it and is the caller's to
 * destroy.
 */
static void
MetaSpecIter(Bson *arg, bson_iter_t *spec, bson_t *holder)
{
	bson_t		doc;

	if (!bson_init_static(&doc, BsonBytes(arg), BsonDocLen(arg)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the stage specification must be a document")));
	bson_init(holder);
	bson_append_document(holder, "s", 1, &doc);
	bson_iter_init_find(spec, holder, "s");
}

/* One int8 (0 when NULL) of the current SPI result */
static int64
MetaInt64(uint64 row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* One text value (NULL when NULL) of the current SPI result */
static char *
MetaText(uint64 row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * Run a read-only query inside SPI; returns the row count.  The documents
 * are built in the function's own memory context, which SPI_finish does
 * not free: the current context is kept across the call (SPI would leave
 * its procedure context current).
 */
static uint64
MetaQuery(const char *sql, int nargs, Oid *types, Datum *values)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0);

	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not run a statistics query: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/* MetaQuery with one oid parameter */
static uint64
MetaQueryOid(const char *sql, Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	values[0] = ObjectIdGetDatum(relid);
	return MetaQuery(sql, 1, types, values);
}

/* Connect to SPI, keeping the caller's memory context current */
static void
MetaConnect(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	SPI_connect();
	MemoryContextSwitchTo(cxt);
}

/*
 * The collection a statistics stage reads: NULL when it does not exist;
 * its table must be readable by the calling role (13 otherwise).
 */
static Collection *
MetaCollection(const char *database, const char *name)
{
	Collection *coll = CollectionLookup(database, name);

	if (coll != NULL && !coll->is_view &&
		pg_class_aclcheck(coll->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to execute command on %s.%s",
				   database, database, name);
	return coll;
}

/* The MongoDB indexes of a collection: _id_'s spec, then the others' */
static List *
MetaIndexSpecs(const Collection *coll)
{
	bson_t	   *id = bson_new();
	bson_t		key;

	BSON_APPEND_INT32(id, "v", 2);
	BSON_APPEND_DOCUMENT_BEGIN(id, "key", &key);
	BSON_APPEND_INT32(&key, "_id", 1);
	bson_append_document_end(id, &key);
	BSON_APPEND_UTF8(id, "name", "_id_");
	return lcons(id, IndexSpecList(coll->indexes));
}

/*
 * The size and the number of scans of the PostgreSQL indexes behind a
 * MongoDB index (its btree, a GIN beside it, hidden ones).  Inside SPI.
 */
static void
MetaIndexUsage(const Collection *coll, const char *mongo_name, int64 *size, int64 *scans)
{
	char	   *prefix = IndexPgPrefix(coll, mongo_name);
	char	   *hidden = pstrdup(prefix);
	Oid			types[3] = {OIDOID, TEXTOID, TEXTOID};
	Datum		values[3];

	/* hidden indexes are named nosql_hx_ for nosql_ix_ */
	if (strncmp(hidden, "nosql_ix_", 9) == 0)
		hidden[6] = 'h';
	values[0] = ObjectIdGetDatum(coll->relid);
	values[1] = CStringGetTextDatum(prefix);
	values[2] = CStringGetTextDatum(hidden);
	if (MetaQuery("SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0)::int8, "
				  "coalesce(sum(pg_stat_get_numscans(i.indexrelid)), 0)::int8 "
				  "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
				  "WHERE i.indrelid = $1 AND (left(c.relname, length($2)) = $2 "
				  "OR left(c.relname, length($3)) = $3)",
				  3, types, values) != 1)
		elog(ERROR, "could not read the indexes of relation %u", coll->relid);
	*size = MetaInt64(0, 1);
	*scans = MetaInt64(0, 2);
}

/* Is name among the index builds in flight? */
static bool
MetaBuilding(List *builds, const char *name)
{
	ListCell   *lc;

	foreach(lc, builds)
		if (strcmp((const char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/* latencyStats: the table's read and write counters (no timings) */
static void
CollStatsLatency(const Collection *coll, bool histograms, bson_t *doc)
{
	static const char *const kinds[] = {"reads", "writes", "commands", "transactions"};
	int64		ops[4] = {0, 0, 0, 0};
	bson_t		lat;

	if (coll != NULL && !coll->is_view &&
		MetaQueryOid("SELECT (pg_stat_get_numscans($1) + coalesce((SELECT sum(pg_stat_get_numscans(indexrelid)) "
					 "FROM pg_index WHERE indrelid = $1), 0))::int8, "
					 "(pg_stat_get_tuples_inserted($1) + pg_stat_get_tuples_updated($1) + "
					 "pg_stat_get_tuples_deleted($1))::int8", coll->relid) == 1)
	{
		ops[0] = MetaInt64(0, 1);
		ops[1] = MetaInt64(0, 2);
	}
	BSON_APPEND_DOCUMENT_BEGIN(doc, "latencyStats", &lat);
	for (int i = 0; i < 4; i++)
	{
		bson_t		k;

		BSON_APPEND_DOCUMENT_BEGIN(&lat, kinds[i], &k);
		BSON_APPEND_INT64(&k, "latency", 0);
		BSON_APPEND_INT64(&k, "ops", ops[i]);
		if (histograms)
		{
			bson_t		h;

			BSON_APPEND_ARRAY_BEGIN(&k, "histogram", &h);
			bson_append_array_end(&k, &h);
		}
		bson_append_document_end(&lat, &k);
	}
	bson_append_document_end(doc, &lat);
}

/* The exact count and the stored size of the documents of a table */
static void
CollStatsCount(const Collection *coll, int64 *count, int64 *size)
{
	char	   *sql = psprintf("SELECT count(*)::int8, coalesce(sum(pg_column_size(document)), 0)::int8 "
							   "FROM %s", coll->qualified);

	if (MetaQuery(sql, 0, NULL, NULL) != 1)
		elog(ERROR, "could not count the documents of %s", coll->qualified);
	*count = MetaInt64(0, 1);
	*size = MetaInt64(0, 2);
}

/* storageStats */
static void
CollStatsStorage(const Collection *coll, int64 scale, int64 count, int64 size, bson_t *doc)
{
	bson_t		st;
	bson_t		builds_arr;
	bson_t		sizes;
	int64		table_size;
	int64		index_size;
	MemoryContext cxt = CurrentMemoryContext;
	List	   *specs = MetaIndexSpecs(coll);
	List	   *builds = IndexBuildsInFlight(coll->relid);
	ListCell   *lc;
	int			n = 0;

	MemoryContextSwitchTo(cxt);

	if (MetaQueryOid("SELECT pg_table_size($1)::int8, pg_indexes_size($1)::int8", coll->relid) != 1)
		elog(ERROR, "could not read the size of relation %u", coll->relid);
	table_size = MetaInt64(0, 1);
	index_size = MetaInt64(0, 2);

	BSON_APPEND_DOCUMENT_BEGIN(doc, "storageStats", &st);
	MetaAppendNumber(&st, "size", size / scale);
	MetaAppendNumber(&st, "count", count);
	if (count > 0)
		MetaAppendNumber(&st, "avgObjSize", size / count);
	MetaAppendNumber(&st, "storageSize", table_size / scale);
	BSON_APPEND_BOOL(&st, "capped", coll->capped);
	if (coll->capped)
	{
		MetaAppendNumber(&st, "max", coll->capped_max);
		MetaAppendNumber(&st, "maxSize", coll->capped_size / scale);
	}
	MetaAppendNumber(&st, "nindexes", list_length(specs));
	BSON_APPEND_ARRAY_BEGIN(&st, "indexBuilds", &builds_arr);
	foreach(lc, builds)
	{
		char		buf[16];
		const char *keyp;

		bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
		bson_append_utf8(&builds_arr, keyp, -1, (const char *) lfirst(lc), -1);
	}
	bson_append_array_end(&st, &builds_arr);
	MetaAppendNumber(&st, "totalIndexSize", index_size / scale);
	MetaAppendNumber(&st, "totalSize", (table_size + index_size) / scale);
	BSON_APPEND_DOCUMENT_BEGIN(&st, "indexSizes", &sizes);
	foreach(lc, specs)
	{
		const char *name = IndexSpecName((bson_t *) lfirst(lc));
		int64		isize;
		int64		scans;

		if (name == NULL)
			continue;
		MetaIndexUsage(coll, name, &isize, &scans);
		MetaAppendNumber(&sizes, name, isize / scale);
	}
	bson_append_document_end(&st, &sizes);
	MetaAppendNumber(&st, "scaleFactor", scale);
	bson_append_document_end(doc, &st);
}

/*
 * nosql.bson_aggregate_coll_stats(database text, collection text, spec bson)
 * RETURNS SETOF bson
 *
 * The document of $collStats: ns, host, localTime and the sections the
 * specification asks for.
 */
PG_FUNCTION_INFO_V1(bson_aggregate_coll_stats);
Datum
bson_aggregate_coll_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bson_iter_t spec;
	bson_t		holder;
	CollStatsSpec s;
	Collection *coll;
	bson_t		doc;
	int64		count = 0;
	int64		size = 0;

	MetaSpecIter(PG_GETARG_BSON_P(2), &spec, &holder);
	CollStatsParse(&spec, &s);
	bson_destroy(&holder);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	coll = MetaCollection(database, name);
	if (s.storage || s.count || s.exec)
	{
		const char *what = s.storage ? "storageStats" : s.count ? "count" : "queryExecStats";

		if (coll == NULL)
			MongoRaise(MONGO_NAMESPACE_NOT_FOUND,
					   "Unable to retrieve %s in $collStats stage :: caused by :: Collection [%s.%s] not found.",
					   what, database, name);
		if (coll->is_view)
			MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
					   "Namespace %s.%s is a view, not a collection", database, name);
	}

	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "ns", psprintf("%s.%s", database, name));
	BSON_APPEND_UTF8(&doc, "host", MetaHost());
	BSON_APPEND_DATE_TIME(&doc, "localTime", MetaMillis(GetCurrentTimestamp()));
	MetaConnect();
	if (s.latency)
		CollStatsLatency(coll, s.histograms, &doc);
	if (s.storage || s.count)
		CollStatsCount(coll, &count, &size);
	if (s.storage)
		CollStatsStorage(coll, s.scale, count, size, &doc);
	if (s.count)
		MetaAppendNumber(&doc, "count", count);
	if (s.exec)
	{
		bson_t		q;
		bson_t		scans;
		int64		seq = 0;

		if (MetaQueryOid("SELECT pg_stat_get_numscans($1)::int8", coll->relid) == 1)
			seq = MetaInt64(0, 1);
		BSON_APPEND_DOCUMENT_BEGIN(&doc, "queryExecStats", &q);
		BSON_APPEND_DOCUMENT_BEGIN(&q, "collectionScans", &scans);
		BSON_APPEND_INT64(&scans, "total", seq);
		BSON_APPEND_INT64(&scans, "nonTailable", seq);
		bson_append_document_end(&q, &scans);
		bson_append_document_end(&doc, &q);
	}
	SPI_finish();
	MetaEmit(rsinfo, &doc);
	bson_destroy(&doc);
	return (Datum) 0;
}

/*
 * nosql.bson_aggregate_index_stats(database text, collection text)
 * RETURNS SETOF bson
 *
 * $indexStats: {name, key, host, accesses: {ops, since}, spec} per index;
 * ops are the idx_scan counters since the database's statistics were last
 * reset (or the server started).
 */
PG_FUNCTION_INFO_V1(bson_aggregate_index_stats);
Datum
bson_aggregate_index_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Collection *coll;
	List	   *specs;
	List	   *builds;
	ListCell   *lc;
	int64		since;
	char	   *host;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	coll = MetaCollection(database, name);
	if (coll == NULL)
		return (Datum) 0;
	if (coll->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", database, name);
	host = MetaHost();
	specs = MetaIndexSpecs(coll);
	MetaConnect();
	if (MetaQuery("SELECT (extract(epoch FROM coalesce((SELECT stats_reset FROM pg_stat_database "
				  "WHERE datname = current_database()), pg_postmaster_start_time())) * 1000)::int8",
				  0, NULL, NULL) != 1)
		elog(ERROR, "could not read the statistics reset time");
	since = MetaInt64(0, 1);
	{
		MemoryContext cxt = CurrentMemoryContext;

		builds = IndexBuildsInFlight(coll->relid);
		MemoryContextSwitchTo(cxt);
	}
	foreach(lc, specs)
	{
		bson_t	   *spec = lfirst(lc);
		const char *iname = IndexSpecName(spec);
		bson_t		doc;
		bson_t		acc;
		bson_iter_t key;
		int64		size;
		int64		scans;

		if (iname == NULL)
			continue;
		MetaIndexUsage(coll, iname, &size, &scans);
		bson_init(&doc);
		BSON_APPEND_UTF8(&doc, "name", iname);
		if (bson_iter_init_find(&key, spec, "key"))
			bson_append_iter(&doc, "key", 3, &key);
		BSON_APPEND_UTF8(&doc, "host", host);
		BSON_APPEND_DOCUMENT_BEGIN(&doc, "accesses", &acc);
		BSON_APPEND_INT64(&acc, "ops", scans);
		BSON_APPEND_DATE_TIME(&acc, "since", since);
		bson_append_document_end(&doc, &acc);
		BSON_APPEND_DOCUMENT(&doc, "spec", spec);
		if (MetaBuilding(builds, iname))
			BSON_APPEND_BOOL(&doc, "building", true);
		MetaEmit(rsinfo, &doc);
		bson_destroy(&doc);
	}
	SPI_finish();
	return (Datum) 0;
}

/* What the plan cache walk needs */
typedef struct PlanCacheStatsWalk
{
	ReturnSetInfo *rsinfo;
	Oid			relid;
	char	   *host;
} PlanCacheStatsWalk;

/* One $planCacheStats document per saved plan that reads the table */
static void
PlanCacheStatsEntry(uint32 hash, const char *sql, SPIPlanPtr plan, TimestampTz created,
					void *arg)
{
	PlanCacheStatsWalk *w = arg;
	ListCell   *lc;

	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *ps = lfirst(lc);
		char		key[16];
		bson_t		doc;
		bson_t		sub;
		int64		bytes;

		if (ps->commandTag != CMDTAG_SELECT || !list_member_oid(ps->relationOids, w->relid))
			continue;
		bytes = MemoryContextMemAllocated(ps->context, true);
		if (ps->gplan != NULL)
			bytes += MemoryContextMemAllocated(ps->gplan->context, true);
		snprintf(key, sizeof(key), "%08X", hash);
		bson_init(&doc);
		BSON_APPEND_UTF8(&doc, "planCacheShapeHash", key);
		BSON_APPEND_UTF8(&doc, "planCacheKey", key);
		BSON_APPEND_UTF8(&doc, "queryHash", key);
		BSON_APPEND_DOCUMENT_BEGIN(&doc, "createdFromQuery", &sub);
		BSON_APPEND_UTF8(&sub, "sql", sql);
		bson_append_document_end(&doc, &sub);
		BSON_APPEND_BOOL(&doc, "isActive", ps->is_valid);
		BSON_APPEND_INT64(&doc, "works", (int64) (ps->num_custom_plans + ps->num_generic_plans));
		BSON_APPEND_DATE_TIME(&doc, "timeOfCreation", MetaMillis(created));
		BSON_APPEND_DOCUMENT_BEGIN(&doc, "cachedPlan", &sub);
		BSON_APPEND_UTF8(&sub, "stage", "POSTGRES_PREPARED");
		BSON_APPEND_BOOL(&sub, "generic", ps->gplan != NULL);
		BSON_APPEND_INT64(&sub, "genericPlans", ps->num_generic_plans);
		BSON_APPEND_INT64(&sub, "customPlans", (int64) ps->num_custom_plans);
		bson_append_document_end(&doc, &sub);
		BSON_APPEND_BOOL(&doc, "indexFilterSet", false);
		BSON_APPEND_INT64(&doc, "estimatedSizeBytes", bytes);
		BSON_APPEND_UTF8(&doc, "host", w->host);
		MetaEmit(w->rsinfo, &doc);
		bson_destroy(&doc);
	}
}

/*
 * nosql.bson_aggregate_plan_cache_stats(database text, collection text)
 * RETURNS SETOF bson
 *
 * $planCacheStats: this backend's saved plans of queries (SELECTs) that
 * read the collection's table, with PostgreSQL's plan cache counters.
 */
PG_FUNCTION_INFO_V1(bson_aggregate_plan_cache_stats);
Datum
bson_aggregate_plan_cache_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Collection *coll;
	PlanCacheStatsWalk w;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	coll = MetaCollection(database, name);
	if (coll == NULL || coll->is_view)
		return (Datum) 0;
	w.rsinfo = rsinfo;
	w.relid = coll->relid;
	w.host = MetaHost();
	CommandPlanCacheWalk(PlanCacheStatsEntry, &w);
	return (Datum) 0;
}

/*
 * nosql.bson_aggregate_cluster_catalog(database text, spec bson)
 * RETURNS SETOF bson
 *
 * $listClusterCatalog: the listCollections entries of the database's
 * collections and views (of every database on admin), each with db, ns and
 * sharded: false; time-series collections have type "timeseries".
 */
PG_FUNCTION_INFO_V1(bson_aggregate_cluster_catalog);
Datum
bson_aggregate_cluster_catalog(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bson_iter_t spec;
	bson_t		holder;
	List	   *dbs;
	ListCell   *lc;

	MetaSpecIter(PG_GETARG_BSON_P(1), &spec, &holder);
	CatalogParse(&spec);
	bson_destroy(&holder);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	dbs = strcmp(database, "admin") == 0 ? DatabaseList() : list_make1(database);
	foreach(lc, dbs)
	{
		const char *db = lfirst(lc);
		ListCell   *lc2;

		foreach(lc2, CollectionList(db))
		{
			Collection *c = lfirst(lc2);
			bson_iter_t ts;
			bool		timeseries = bson_iter_init_find(&ts, c->options, "timeseries");
			bson_t		info;
			bson_t		doc;
			bson_iter_t it;

			CHECK_FOR_INTERRUPTS();
			CollectionInfo(c, false, &info);
			bson_init(&doc);
			BSON_APPEND_UTF8(&doc, "db", db);
			BSON_APPEND_UTF8(&doc, "ns", psprintf("%s.%s", db, c->name));
			bson_iter_init(&it, &info);
			while (bson_iter_next(&it))
			{
				if (timeseries && strcmp(bson_iter_key(&it), "type") == 0)
					BSON_APPEND_UTF8(&doc, "type", "timeseries");
				else
					bson_append_iter(&doc, NULL, -1, &it);
			}
			BSON_APPEND_BOOL(&doc, "sharded", false);
			MetaEmit(rsinfo, &doc);
			bson_destroy(&doc);
			bson_destroy(&info);
		}
	}
	return (Datum) 0;
}

/*
 * nosql.bson_aggregate_query_settings(spec bson) RETURNS SETOF bson
 *
 * $querySettings: the query settings set by setQuerySettings.  There is no
 * such store (PostgreSQL's planner takes no per-shape settings), so none;
 * the specification is still checked.
 */
PG_FUNCTION_INFO_V1(bson_aggregate_query_settings);
Datum
bson_aggregate_query_settings(PG_FUNCTION_ARGS)
{
	bson_iter_t spec;
	bson_t		holder;

	MetaSpecIter(PG_GETARG_BSON_P(0), &spec, &holder);
	QuerySettingsParse(&spec);
	bson_destroy(&holder);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	return (Datum) 0;
}

/* What the cursor walk of $currentOp needs */
typedef struct CurrentOpCursors
{
	ReturnSetInfo *rsinfo;
	bool		all_users;
	char	   *host;
} CurrentOpCursors;

/* An idleCursor document per open cursor of this backend */
static void
CurrentOpCursor(int64 id, const char *database, const char *collection, Oid userid,
				TimestampTz last_used, void *arg)
{
	CurrentOpCursors *w = arg;
	bson_t		doc;
	bson_t		cur;

	if (!w->all_users && userid != GetUserId())
		return;
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "type", "idleCursor");
	BSON_APPEND_UTF8(&doc, "host", w->host);
	BSON_APPEND_UTF8(&doc, "ns", psprintf("%s.%s", database, collection));
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "cursor", &cur);
	BSON_APPEND_INT64(&cur, "cursorId", id);
	BSON_APPEND_DATE_TIME(&cur, "lastAccessDate", MetaMillis(last_used));
	bson_append_document_end(&doc, &cur);
	MetaEmit(w->rsinfo, &doc);
	bson_destroy(&doc);
}

/* The longest command text $currentOp shows with truncateOps */
#define META_TRUNCATE_BYTES	1000

/*
 * nosql.bson_aggregate_current_op(spec bson) RETURNS SETOF bson
 *
 * $currentOp: a document per backend of pg_stat_activity in MongoDB's
 * shape (type, host, desc, connectionId, client, appName, active,
 * currentOpTime, effectiveUsers, opid, secs_running, op, ns, command ...),
 * the PostgreSQL view's own columns under "postgres".  Without allUsers
 * only the session user's backends, without idleConnections only the
 * active ones (and, with idleSessions, those idle in a transaction, as
 * type "idleSession"); with idleCursors, this backend's open cursors
 * (other backends' are not visible) as type "idleCursor".
 */
PG_FUNCTION_INFO_V1(bson_aggregate_current_op);
Datum
bson_aggregate_current_op(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bson_iter_t spec;
	bson_t		holder;
	CurrentOpSpec s;
	Oid			types[3] = {BOOLOID, BOOLOID, BOOLOID};
	Datum		values[3];
	char	   *host;

	MetaSpecIter(PG_GETARG_BSON_P(0), &spec, &holder);
	CurrentOpParse(&spec, &s);
	bson_destroy(&holder);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	host = MetaHost();
	values[0] = BoolGetDatum(s.all_users);
	values[1] = BoolGetDatum(s.idle_connections);
	values[2] = BoolGetDatum(s.idle_sessions);
	MetaConnect();
	(void) MetaQuery("SELECT a.pid::int8, a.usename::text, a.application_name, "
							  "host(a.client_addr), a.client_port::int8, a.backend_type, a.state, "
							  "a.wait_event_type, a.wait_event, a.query, a.datname::text, "
							  "(extract(epoch FROM a.backend_start) * 1000)::int8, "
							  "(extract(epoch FROM a.xact_start) * 1000)::int8, "
							  "(extract(epoch FROM a.query_start) * 1000)::int8, "
							  "(extract(epoch FROM clock_timestamp() - a.query_start) * 1000000)::int8, "
							  "(extract(epoch FROM clock_timestamp() - a.xact_start) * 1000000)::int8, "
							  "to_char(clock_timestamp() AT TIME ZONE 'UTC', "
							  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"'), "
							  "a.query_start IS NULL, a.xact_start IS NULL "
							  "FROM pg_stat_activity a "
							  "WHERE ($1 OR a.usename = session_user) "
							  "AND ($2 OR a.state = 'active' "
							  "OR ($3 AND a.state LIKE 'idle in transaction%')) "
							  "ORDER BY a.pid",
							  3, types, values);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int64		pid = MetaInt64(i, 1);
		char	   *user = MetaText(i, 2);
		char	   *app = MetaText(i, 3);
		char	   *addr = MetaText(i, 4);
		int64		port = MetaInt64(i, 5);
		char	   *backend_type = MetaText(i, 6);
		char	   *state = MetaText(i, 7);
		char	   *wait_type = MetaText(i, 8);
		char	   *wait = MetaText(i, 9);
		char	   *query = MetaText(i, 10);
		char	   *datname = MetaText(i, 11);
		bool		client = backend_type != NULL && strcmp(backend_type, "client backend") == 0;
		bool		active = state != NULL && strcmp(state, "active") == 0;
		bool		idle_txn = state != NULL && strncmp(state, "idle in transaction", 19) == 0;
		char	   *no_query_start_text = MetaText(i, 18);
		char	   *no_xact_text = MetaText(i, 19);
		bool		no_query_start = no_query_start_text != NULL && no_query_start_text[0] == 't';
		bool		no_xact = no_xact_text != NULL && no_xact_text[0] == 't';
		bson_t		doc;
		bson_t		sub;

		bson_init(&doc);
		BSON_APPEND_UTF8(&doc, "type", idle_txn && s.idle_sessions ? "idleSession" : "op");
		BSON_APPEND_UTF8(&doc, "host", host);
		BSON_APPEND_UTF8(&doc, "desc", client ? psprintf("conn%lld", (long long) pid) :
						 backend_type != NULL ? backend_type : "unknown");
		BSON_APPEND_INT32(&doc, "connectionId", (int32) pid);
		if (addr != NULL)
			BSON_APPEND_UTF8(&doc, "client", psprintf("%s:%lld", addr, (long long) port));
		if (app != NULL && app[0] != '\0')
			BSON_APPEND_UTF8(&doc, "appName", app);
		BSON_APPEND_BOOL(&doc, "active", active);
		BSON_APPEND_UTF8(&doc, "currentOpTime", MetaText(i, 17));
		if (user != NULL)
		{
			bson_t		arr;
			bson_t		u;

			BSON_APPEND_ARRAY_BEGIN(&doc, "effectiveUsers", &arr);
			BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &u);
			BSON_APPEND_UTF8(&u, "user", user);
			BSON_APPEND_UTF8(&u, "db", "admin");
			bson_append_document_end(&arr, &u);
			bson_append_array_end(&doc, &arr);
		}
		BSON_APPEND_BOOL(&doc, "threaded", true);
		BSON_APPEND_INT32(&doc, "opid", (int32) pid);
		if (active && !no_query_start)
		{
			int64		micros = MetaInt64(i, 15);

			BSON_APPEND_INT64(&doc, "secs_running", micros / 1000000);
			BSON_APPEND_INT64(&doc, "microsecs_running", micros);
		}
		BSON_APPEND_UTF8(&doc, "op", active ? "command" : "none");
		BSON_APPEND_UTF8(&doc, "ns", datname != NULL ? datname : "");
		/* the query text, when the role may see it (state is NULL otherwise) */
		if (state != NULL && query != NULL && query[0] != '\0')
		{
			BSON_APPEND_DOCUMENT_BEGIN(&doc, "command", &sub);
			if (s.truncate_ops && strlen(query) > META_TRUNCATE_BYTES)
				bson_append_utf8(&sub, "$truncated", -1, query,
								 pg_mbcliplen(query, strlen(query), META_TRUNCATE_BYTES));
			else
				BSON_APPEND_UTF8(&sub, "sql", query);
			bson_append_document_end(&doc, &sub);
		}
		BSON_APPEND_BOOL(&doc, "waitingForLock",
						 wait_type != NULL && strcmp(wait_type, "Lock") == 0);
		if (!no_xact)
		{
			BSON_APPEND_DOCUMENT_BEGIN(&doc, "transaction", &sub);
			BSON_APPEND_INT64(&sub, "timeOpenMicros", MetaInt64(i, 16));
			BSON_APPEND_DATE_TIME(&sub, "startWallClockTime", MetaInt64(i, 13));
			bson_append_document_end(&doc, &sub);
		}
		BSON_APPEND_DOCUMENT_BEGIN(&doc, "postgres", &sub);
		BSON_APPEND_INT32(&sub, "pid", (int32) pid);
		if (backend_type != NULL)
			BSON_APPEND_UTF8(&sub, "backendType", backend_type);
		if (state != NULL)
			BSON_APPEND_UTF8(&sub, "state", state);
		if (datname != NULL)
			BSON_APPEND_UTF8(&sub, "database", datname);
		if (wait_type != NULL)
			BSON_APPEND_UTF8(&sub, "waitEventType", wait_type);
		if (wait != NULL)
			BSON_APPEND_UTF8(&sub, "waitEvent", wait);
		BSON_APPEND_DATE_TIME(&sub, "backendStart", MetaInt64(i, 12));
		if (!no_query_start)
			BSON_APPEND_DATE_TIME(&sub, "queryStart", MetaInt64(i, 14));
		bson_append_document_end(&doc, &sub);
		MetaEmit(rsinfo, &doc);
		bson_destroy(&doc);
	}
	SPI_finish();
	if (s.idle_cursors)
	{
		CurrentOpCursors w;

		w.rsinfo = rsinfo;
		w.all_users = s.all_users;
		w.host = host;
		CursorWalk(CurrentOpCursor, &w);
	}
	return (Datum) 0;
}
