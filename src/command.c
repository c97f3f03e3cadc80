/*-------------------------------------------------------------------------
 *
 * command.c
 *	  nosql.run_command: the MongoDB command interface.
 *
 * A command is the document a MongoDB driver sends; its first field names
 * the command.  Each command runs in a subtransaction, so that a failed
 * command leaves nothing behind and comes back as MongoDB's error reply
 * {ok: 0, errmsg, code, codeName} instead of aborting the caller's
 * transaction.  Errors that are not the command's fault (cancellation,
 * out of memory, internal errors) are raised as they are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "bson_json.h"
#include "agg.h"
#include "documents.h"
#include "nosql.h"

/* MongoDB's names of the error codes we raise */
static const struct
{
	int			code;
	const char *name;
}			mongo_code_names[] = {
	{1, "InternalError"},
	{2, "BadValue"},
	{4, "NoSuchKey"},
	{5, "GraphContainsCycle"},
	{9, "FailedToParse"},
	{13, "Unauthorized"},
	{14, "TypeMismatch"},
	{15, "Overflow"},
	{16, "InvalidLength"},
	{20, "IllegalOperation"},
	{26, "NamespaceNotFound"},
	{27, "IndexNotFound"},
	{28, "PathNotViable"},
	{40, "ConflictingUpdateOperators"},
	{43, "CursorNotFound"},
	{47, "NoMatchingDocument"},
	{48, "NamespaceExists"},
	{50, "MaxTimeMSExpired"},
	{52, "DollarPrefixedFieldName"},
	{53, "InvalidIdField"},
	{54, "NotSingleValueField"},
	{55, "InvalidDBRef"},
	{56, "EmptyFieldName"},
	{57, "Dotted field name"},
	{59, "CommandNotFound"},
	{66, "ImmutableField"},
	{67, "CannotCreateIndex"},
	{72, "InvalidOptions"},
	{73, "InvalidNamespace"},
	{85, "IndexOptionsConflict"},
	{86, "IndexKeySpecsConflict"},
	{96, "OperationFailed"},
	{111, "NotExactValueField"},
	{115, "CommandNotSupported"},
	{121, "DocumentValidationFailure"},
	{146, "ExceededMemoryLimit"},
	{165, "ViewDepthLimitExceeded"},
	{166, "CommandNotSupportedOnView"},
	{167, "OptionNotSupportedOnView"},
	{168, "InvalidPipelineOperator"},
	{171, "CannotIndexParallelArrays"},
	{181, "AmbiguousIndexKeyPattern"},
	{197, "InvalidIndexSpecificationOption"},
	{207, "InvalidUUID"},
	{224, "QueryFeatureNotAllowed"},
	{232, "MaxSubPipelineDepthExceeded"},
	{238, "NotImplemented"},
	{241, "ConversionFailure"},
	{276, "IndexBuildAborted"},
	{286, "ChangeStreamHistoryLost"},
	{291, "NoQueryExecutionPlans"},
	{322, "APIVersionError"},
	{323, "APIStrictError"},
	{359, "CannotConvertIndexToUnique"},
	{361, "CollectionUUIDMismatch"},
	{10334, "BSONObjectTooLarge"},
	{10107, "NotWritablePrimary"},
	{11000, "DuplicateKey"},
	{11601, "Interrupted"},
	{16766, "Location16766"},
	{13297, "DatabaseDifferCase"},
	{17419, "Location17419"},
	{31253, "Location31253"},
	{31254, "Location31254"},
	{40414, "IDLFailedToParse"},
	{51173, "Location51173"},
	{51174, "Location51174"},
	{40415, "IDLUnknownField"},
	{0, NULL}
};

const char *
MongoCodeName(int code)
{
	for (int i = 0; mongo_code_names[i].name != NULL; i++)
		if (mongo_code_names[i].code == code)
			return mongo_code_names[i].name;
	return psprintf("Location%d", code);
}

/* The SQLSTATE of a MongoDB error, for the SQL functions */
int
MongoSqlState(int code)
{
	switch (code)
	{
		case MONGO_UNAUTHORIZED:
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case MONGO_NAMESPACE_NOT_FOUND:
			return ERRCODE_UNDEFINED_TABLE;
		case MONGO_NAMESPACE_EXISTS:
			return ERRCODE_DUPLICATE_TABLE;
		case MONGO_INVALID_NAMESPACE:
			return ERRCODE_INVALID_NAME;
		case MONGO_DUPLICATE_KEY:
			return ERRCODE_UNIQUE_VIOLATION;
		case MONGO_COMMAND_NOT_FOUND:
			return ERRCODE_UNDEFINED_FUNCTION;
		case MONGO_CURSOR_NOT_FOUND:
			return ERRCODE_INVALID_CURSOR_NAME;
		case 238:
		case MONGO_NOT_IMPLEMENTED_CMD:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case MONGO_INTERNAL_ERROR:
			return ERRCODE_INTERNAL_ERROR;
		case 121:
			return ERRCODE_CHECK_VIOLATION;
		default:
			return ERRCODE_INVALID_PARAMETER_VALUE;
	}
}

/* Extra reply fields of the error being raised (see MongoRaiseExtra) */
static bson_t *pending_extra = NULL;
static MemoryContext pending_extra_context = NULL;

static void MongoRaiseMessage(int code, const char *message) pg_attribute_noreturn();

static void
MongoRaiseMessage(int code, const char *message)
{
	ereport(ERROR,
			(errcode(MongoSqlState(code)),
			 errmsg_internal("%s", message),
			 errdetail("MongoDB error code %d (%s).", code, MongoCodeName(code))));
	pg_unreachable();
}

void
MongoRaise(int code, const char *fmt,...)
{
	BsonQueryError error = {0};
	va_list		args;

	va_start(args, fmt);
	(void) BsonErrorSetV(&error, false, code, NULL, fmt, args);
	va_end(args);
	MongoRaiseMessage(code, error.message);
}

void
MongoRaiseExtra(int code, const bson_t *extra, const char *fmt,...)
{
	BsonQueryError error = {0};
	MemoryContext old;
	va_list		args;

	va_start(args, fmt);
	(void) BsonErrorSetV(&error, false, code, NULL, fmt, args);
	va_end(args);
	if (pending_extra_context == NULL)
		pending_extra_context = AllocSetContextCreate(TopMemoryContext,
													  "nosql error extra",
													  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(pending_extra_context);
	old = MemoryContextSwitchTo(pending_extra_context);
	pending_extra = bson_copy(extra);
	MemoryContextSwitchTo(old);
	MongoRaiseMessage(code, error.message);
}

/* nosql.bson's OID, remembered until pg_type changes (DROP EXTENSION) */
static Oid	bson_type_oid = InvalidOid;
static bool bson_type_callback = false;

static void
BsonTypeOidReset(Datum arg, int cacheid, uint32 hashvalue)
{
	bson_type_oid = InvalidOid;
}

/* The OID of nosql.bson */
Oid
BsonTypeOid(void)
{
	Oid			nsp;

	if (OidIsValid(bson_type_oid))
		return bson_type_oid;
	if (!bson_type_callback)
	{
		CacheRegisterSyscacheCallback(TYPEOID, BsonTypeOidReset, (Datum) 0);
		bson_type_callback = true;
	}
	nsp = get_namespace_oid("nosql", false);
	bson_type_oid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									CStringGetDatum("bson"), ObjectIdGetDatum(nsp));
	return bson_type_oid;
}

Bson *
BsonDatumFromBson(const bson_t *doc)
{
	return BsonFromDocument(doc, false);
}

/* ---- reading command fields ---- */

bool
BsonIterIsNumber(const bson_iter_t *it)
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

/*
 * A whole number in any numeric type (MongoDB's "safe" integer fields):
 * doubles must be integral and in range; decimals are truncated toward
 * zero when they fit.  false for other types and non-integral values.
 */
bool
BsonIterAsInt64(const bson_iter_t *it, int64 *value)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			*value = bson_iter_int32(it);
			return true;
		case BSON_TYPE_INT64:
			*value = bson_iter_int64(it);
			return true;
		case BSON_TYPE_DOUBLE:
			{
				double		d = bson_iter_double(it);

				if (isnan(d) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18)
					return false;
				*value = (int64) d;
				return true;
			}
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				char		s[BSON_DECIMAL128_STRING];
				char	   *end;
				double		d;

				bson_iter_decimal128(it, &dec);
				bson_decimal128_to_string(&dec, s);
				d = strtod(s, &end);
				if (*end != '\0' || isnan(d) || d < -9.2233720368547758e18 ||
					d >= 9.2233720368547758e18)
					return false;
				/* MongoDB rounds decimals half to even (doubles truncate) */
				*value = (int64) rint(d);
				return true;
			}
		default:
			return false;
	}
}

/* MongoDB's truthiness of a value (bool fields accept numbers, null is false) */
bool
BsonIterTruthy(const bson_iter_t *it)
{
	return bson_iter_as_bool(it);
}

/* ---- fields every command accepts ---- */

/* Commands that take a writeConcern (aggregate: for its $out and $merge) */
static bool
CommandTakesWriteConcern(const char *command)
{
	static const char *const names[] = {
		"insert", "update", "delete", "findAndModify", "findandmodify", "create", "drop",
		"dropDatabase", "renameCollection", "collMod", "createIndexes", "dropIndexes",
		"deleteIndexes", "bulkWrite", "convertToCapped", "cloneCollectionAsCapped",
		"aggregate", NULL
	};

	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], command) == 0)
			return true;
	return false;
}

/*
 * Whether a command supports a read concern level.  The read commands take
 * every level but count, which has no snapshot reads; the others read the
 * local snapshot only (available is the same thing on one server).
 */
static bool
CommandSupportsReadConcern(const char *command, const char *level)
{
	if (strcmp(level, "local") == 0 || strcmp(level, "available") == 0)
		return true;
	if (strcmp(command, "count") == 0)
		return strcmp(level, "snapshot") != 0;
	return strcmp(command, "find") == 0 || strcmp(command, "distinct") == 0 ||
		strcmp(command, "aggregate") == 0 || strcmp(command, "getMore") == 0;
}

/*
 * The levels that need a replica set: refused on this single server
 * (123).  aggregate calls this itself after checking its stages, whose
 * own refusals (InvalidOptions) come first.
 */
void
ReadConcernCheckStandalone(const char *level)
{
	if (level != NULL &&
		(strcmp(level, "snapshot") == 0 || strcmp(level, "linearizable") == 0))
		MongoRaise(123, "readConcern level '%s' is only valid in a replica set", level);
}

/*
 * readConcern: first every field's type and value, as MongoDB's parser
 * takes them (14, 2, 40415), then the combinations (atClusterTime only
 * with a snapshot of a real time: 72), then what the command supports
 * (72) and what a single server cannot do (20, 123).
 */
static void
CheckReadConcern(CommandContext *ctx, const bson_iter_t *it)
{
	const char *command = ctx->name;
	bson_iter_t rc;
	const char *level = NULL;
	bool		has_after = false;
	bool		has_at = false;
	uint32_t	at_secs = 0;

	if (BSON_ITER_HOLDS_NULL(it))
		return;
	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		RaiseWrongType(command, it, "object");
	bson_iter_recurse(it, &rc);
	while (bson_iter_next(&rc))
	{
		const char *k = bson_iter_key(&rc);

		if (strcmp(k, "level") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&rc))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&rc))
				RaiseWrongType("readConcern", &rc, "string");
			level = bson_iter_utf8(&rc, NULL);
			if (strcmp(level, "local") != 0 && strcmp(level, "available") != 0 &&
				strcmp(level, "majority") != 0 && strcmp(level, "linearizable") != 0 &&
				strcmp(level, "snapshot") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'readConcern.level' is not a valid value.",
						   level);
		}
		else if (strcmp(k, "afterClusterTime") == 0 || strcmp(k, "atClusterTime") == 0)
		{
			uint32_t	inc;

			if (!BSON_ITER_HOLDS_TIMESTAMP(&rc))
				RaiseWrongType("readConcern", &rc, "timestamp");
			if (k[1] == 't')
			{
				has_at = true;
				bson_iter_timestamp(&rc, &at_secs, &inc);
			}
			else
				has_after = true;
		}
		else if (strcmp(k, "afterOpTime") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&rc))
				RaiseWrongType("readConcern", &rc, "object");
		}
		else if (strcmp(k, "provenance") == 0)
		{
			const char *p;

			if (BSON_ITER_HOLDS_NULL(&rc))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&rc))
				RaiseWrongType("readConcern", &rc, "string");
			p = bson_iter_utf8(&rc, NULL);
			if (strcmp(p, "clientSupplied") != 0 && strcmp(p, "implicitDefault") != 0 &&
				strcmp(p, "customDefault") != 0 && strcmp(p, "getLastErrorDefaults") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'readConcern.provenance' is not a valid value.",
						   p);
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'readConcern.%s' is an unknown field.", k);
	}
	if (has_at && (level == NULL || strcmp(level, "snapshot") != 0))
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "readConcern.atClusterTime is only valid with readConcern level snapshot");
	if (has_at && has_after)
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Cannot specify both readConcern.atClusterTime and readConcern.afterClusterTime");
	if (has_at && at_secs == 0)
		MongoRaise(MONGO_INVALID_OPTIONS, "readConcern.atClusterTime cannot be a null timestamp");
	if (level != NULL && !CommandSupportsReadConcern(command, level))
		MongoRaise(MONGO_INVALID_OPTIONS,
				   "Command %s does not support { readConcern: { level: \"%s\" } }",
				   command, level);
	if (has_after)
		MongoRaise(MONGO_ILLEGAL_OPERATION,
				   "Cannot specify readConcern afterClusterTime on a standalone server");
	ctx->read_concern_level = level;
	if (strcmp(command, "aggregate") != 0)
		ReadConcernCheckStandalone(level);
}

/*
 * writeConcern: a command that takes none refuses one (72); the others
 * check its fields as MongoDB's parser does (see CheckWriteConcernW).
 */
static void
CheckWriteConcernField(CommandContext *ctx, const bson_iter_t *it)
{
	const char *command = ctx->name;
	bson_iter_t wc;

	if (BSON_ITER_HOLDS_NULL(it))
		return;
	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		RaiseWrongType(command, it, "object");
	if (!CommandTakesWriteConcern(command))
		MongoRaise(MONGO_INVALID_OPTIONS, "Command %s does not support writeConcern", command);
	ctx->has_write_concern = true;
	bson_iter_recurse(it, &wc);
	while (bson_iter_next(&wc))
	{
		const char *k = bson_iter_key(&wc);

		if (strcmp(k, "w") == 0)
			CheckWriteConcernW(&wc);
		else if (strcmp(k, "j") == 0 || strcmp(k, "fsync") == 0)
		{
			if (!BSON_ITER_HOLDS_BOOL(&wc) && !BsonIterIsNumber(&wc) && !BSON_ITER_HOLDS_NULL(&wc))
				RaiseWrongType("writeConcern", &wc, "[bool, long, int, decimal, double]");
		}
		else if (strcmp(k, "wtimeout") == 0 || strcmp(k, "wtimeoutMS") == 0)
		{
			/* other types are ignored, as MongoDB does */
			if (BsonIterIsNumber(&wc))
			{
				int64		v;

				if (!BsonIterAsInt64(&wc, &v) || v > INT32_MAX || v < INT32_MIN)
					MongoRaise(MONGO_FAILED_TO_PARSE, "wtimeout is out of range");
			}
		}
		else if (strcmp(k, "provenance") == 0)
		{
			const char *p;

			if (BSON_ITER_HOLDS_NULL(&wc))
				continue;
			if (!BSON_ITER_HOLDS_UTF8(&wc))
				RaiseWrongType("writeConcern", &wc, "string");
			p = bson_iter_utf8(&wc, NULL);
			if (strcmp(p, "clientSupplied") != 0 && strcmp(p, "implicitDefault") != 0 &&
				strcmp(p, "customDefault") != 0 && strcmp(p, "getLastErrorDefaults") != 0 &&
				strcmp(p, "internalWriteDefault") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'writeConcern.provenance' is not a valid value.",
						   p);
		}
		else if (strcmp(k, "getLastError") == 0 ||
				 strcmp(k, "getlasterror") == 0 || strcmp(k, "wOpTime") == 0 ||
				 strcmp(k, "wElectionId") == 0)
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'writeConcern.%s' is an unknown field.", k);
	}
}

/* maxTimeMS: a whole, non-negative number that fits in an int32 */
static void
CheckMaxTimeMS(const char *command, const bson_iter_t *it)
{
	double		d;

	if (BSON_ITER_HOLDS_NULL(it))
		return;
	if (!BsonIterIsNumber(it))
		RaiseWrongType(command, it, "[long, int, decimal, double]");
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
		d = (double) bson_iter_as_int64(it);
	else if (BSON_ITER_HOLDS_DOUBLE(it))
		d = bson_iter_double(it);
	else
	{
		bson_decimal128_t dec;
		char		s[BSON_DECIMAL128_STRING];

		bson_iter_decimal128(it, &dec);
		bson_decimal128_to_string(&dec, s);
		if (strcmp(s, "Infinity") == 0)
			d = INFINITY;
		else if (strcmp(s, "-Infinity") == 0)
			d = -INFINITY;
		else if (strcmp(s, "NaN") == 0)
			d = NAN;
		else
			d = strtod(s, NULL);
	}
	if (isnan(d) || isinf(d) || d != floor(d))
		MongoRaise(MONGO_FAILED_TO_PARSE, "maxTimeMS has non-integral value");
	if (BSON_ITER_HOLDS_DECIMAL128(it) && fabs(d) >= 9.2233720368547758e18)
		MongoRaise(MONGO_FAILED_TO_PARSE, "maxTimeMS is out of range of a 64-bit integer");
	if (d < 0)
		MongoRaise(MONGO_BAD_VALUE, "%s value for maxTimeMS is out of range", "negative");
	if (d > INT32_MAX)
		MongoRaise(MONGO_BAD_VALUE, "maxTimeMS value is out of range");
}

/*
 * If the field at it is one every command accepts, check its value and
 * return true; false for other fields.
 */
bool
GenericFieldCheck(CommandContext *ctx, const bson_iter_t *it)
{
	const char *key = bson_iter_key(it);

	if (strcmp(key, "readConcern") == 0)
		CheckReadConcern(ctx, it);
	else if (strcmp(key, "writeConcern") == 0)
		CheckWriteConcernField(ctx, it);
	else if (strcmp(key, "maxTimeMS") == 0)
		CheckMaxTimeMS(ctx->name, it);
	else if (strcmp(key, "lsid") == 0)
	{
		if (!BSON_ITER_HOLDS_DOCUMENT(it))
			RaiseWrongType(ctx->name, it, "object");
	}
	else if (!IsGenericField(key))
		return false;
	return true;
}

/* ---- the dispatch table ---- */

typedef struct CommandDef
{
	const char *name;
	CommandFunc func;
	bool		writes;			/* refused on a standby (10107) */
} CommandDef;

static const CommandDef commands[] = {
	{"find", CmdFind, false},
	{"aggregate", CmdAggregate, false},
	{"getMore", CmdGetMore, false},
	{"killCursors", CmdKillCursors, false},
	{"count", CmdCount, false},
	{"distinct", CmdDistinct, false},
	{"insert", CmdInsert, true},
	{"update", CmdUpdate, true},
	{"delete", CmdDelete, true},
	{"findAndModify", CmdFindAndModify, true},
	{"findandmodify", CmdFindAndModify, true},
	{"bulkWrite", CmdBulkWrite, true},
	{"create", CmdCreate, true},
	{"drop", CmdDrop, true},
	{"dropDatabase", CmdDropDatabase, true},
	{"listCollections", CmdListCollections, false},
	{"listDatabases", CmdListDatabases, false},
	{"listIndexes", CmdListIndexes, false},
	{"createIndexes", CmdCreateIndexes, true},
	{"dropIndexes", CmdDropIndexes, true},
	{"deleteIndexes", CmdDropIndexes, true},
	{"renameCollection", CmdRenameCollection, true},
	{"collMod", CmdCollMod, true},
	{"convertToCapped", CmdConvertToCapped, true},
	{"cloneCollectionAsCapped", CmdCloneCollectionAsCapped, true},
	{"validateDBMetadata", CmdValidateDBMetadata, false},
	{"compact", CmdCompact, true},
	{"getClusterParameter", CmdGetClusterParameter, false},
	{"setClusterParameter", CmdSetClusterParameter, true},
	{"explain", CmdExplain, false},
	{"planCacheClear", CmdPlanCacheClear, false},
	{"planCacheSetFilter", CmdPlanCacheSetFilter, false},
	{"planCacheClearFilters", CmdPlanCacheClearFilters, false},
	{"planCacheListFilters", CmdPlanCacheListFilters, false},
	{"ping", CmdPing, false},
	{"buildInfo", CmdBuildInfo, false},
	{"buildinfo", CmdBuildInfo, false},
	{"hello", CmdHello, false},
	{"isMaster", CmdHello, false},
	{"ismaster", CmdHello, false},
	{NULL, NULL, false}
};

/* Whether a command of that name exists (explain tells unknown ones apart) */
bool
CommandExists(const char *name)
{
	for (int i = 0; commands[i].name != NULL; i++)
		if (strcmp(commands[i].name, name) == 0)
			return true;
	return false;
}

/* Run one command: reply gets its fields and ok: 1, or an error is raised */
void
CommandExecute(const char *database, const uint8_t *data, uint32_t len, bson_t *reply)
{
	CommandContext ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.database = database;
	if (!bson_init_static(&ctx.command, data, len) ||
		!bson_iter_init(&ctx.first, &ctx.command) || !bson_iter_next(&ctx.first))
		MongoRaise(MONGO_FAILED_TO_PARSE, "Command document is empty or malformed");
	ctx.name = bson_iter_key(&ctx.first);

	for (int i = 0; commands[i].name != NULL; i++)
	{
		if (strcmp(commands[i].name, ctx.name) == 0)
		{
			ValidateDatabaseName(database);
			CursorSweepIdle();
			if (commands[i].writes && RecoveryInProgress())
				MongoRaise(10107, "not primary");
			commands[i].func(&ctx, reply);
			BSON_APPEND_DOUBLE(reply, "ok", 1.0);
			return;
		}
	}
	MongoRaise(MONGO_COMMAND_NOT_FOUND, "no such command: '%s'", ctx.name);
}

/* Whether an error may become an {ok: 0} reply; sets *code */
static bool
ErrorToMongoCode(ErrorData *edata, int *code)
{
	if (edata->detail != NULL &&
		sscanf(edata->detail, "MongoDB error code %d", code) == 1)
		return true;
	switch (edata->sqlerrcode)
	{
		case ERRCODE_INSUFFICIENT_PRIVILEGE:
			*code = MONGO_UNAUTHORIZED;
			return true;
		case ERRCODE_UNIQUE_VIOLATION:
			*code = MONGO_DUPLICATE_KEY;
			return true;
		case ERRCODE_CHECK_VIOLATION:
			*code = 121;
			return true;
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
			*code = MONGO_BSON_OBJECT_TOO_LARGE;
			return true;
		case ERRCODE_INVALID_PARAMETER_VALUE:
		case ERRCODE_INVALID_TEXT_REPRESENTATION:
		case ERRCODE_INVALID_BINARY_REPRESENTATION:
			*code = MONGO_BAD_VALUE;
			return true;
		case ERRCODE_LOCK_NOT_AVAILABLE:
		case ERRCODE_T_R_SERIALIZATION_FAILURE:
		case ERRCODE_T_R_DEADLOCK_DETECTED:
			*code = 112;		/* WriteConflict */
			return true;
		default:
			return false;
	}
}

/*
 * Run fn(arg) in a subtransaction.  true when it finished; false when it
 * raised an error that has a MongoDB code (*code, *message and, if the
 * raiser gave any, *extra are set and the subtransaction is rolled back).
 * Other errors propagate.
 */
bool
RunCaught(void (*fn) (void *), void *arg, int *code, char **message, bson_t **extra)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	pending_extra = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		if (!ErrorToMongoCode(edata, code))
			ReThrowError(edata);
		*message = edata->message ? edata->message : pstrdup("error");
		if (extra != NULL)
			*extra = pending_extra ? bson_copy(pending_extra) : NULL;
		/* a duplicate key of a collection's index: MongoDB's description */
		if (*code == MONGO_DUPLICATE_KEY && pending_extra == NULL &&
			edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
		{
			char	   *m;
			bson_t	   *e;

			if (IndexDuplicateDescribe(edata->constraint_name, edata->schema_name,
									   edata->detail, &m, &e))
			{
				*message = m;
				if (extra != NULL)
					*extra = e;
			}
		}
		pending_extra = NULL;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

typedef struct CommandCall
{
	const char *database;
	const uint8_t *data;
	uint32_t	len;
	bson_t	   *reply;
} CommandCall;

static void
CommandCallRun(void *arg)
{
	CommandCall *call = arg;

	CommandExecute(call->database, call->data, call->len, call->reply);
}

/*
 * Run a command in a subtransaction; the reply, or MongoDB's error reply.
 */
static bson_t *CommandErrorReply(int code, const char *message, const bson_t *extra);

static bson_t *
CommandRun(const char *database, const uint8_t *data, uint32_t len)
{
	CommandCall call;
	int			code = 0;
	char	   *message = NULL;
	bson_t	   *extra = NULL;

	call.database = database;
	call.data = data;
	call.len = len;
	call.reply = bson_new();
	if (RunCaught(CommandCallRun, &call, &code, &message, &extra))
		return call.reply;
	return CommandErrorReply(code, message, extra);
}

/* MongoDB's error reply {ok: 0, errmsg, code, codeName, ...extra} */
static bson_t *
CommandErrorReply(int code, const char *message, const bson_t *extra)
{
	bson_t	   *reply = bson_new();

	BSON_APPEND_DOUBLE(reply, "ok", 0.0);
	BSON_APPEND_UTF8(reply, "errmsg", message);
	BSON_APPEND_INT32(reply, "code", code);
	BSON_APPEND_UTF8(reply, "codeName", MongoCodeName(code));
	if (extra != NULL)
		bson_concat(reply, extra);
	return reply;
}

/*
 * nosql.run_command(database text, command bson) RETURNS bson
 */
PG_FUNCTION_INFO_V1(run_command);
Datum
run_command(PG_FUNCTION_ARGS)
{
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Bson	   *command = PG_GETARG_BSON_P(1);
	bson_t	   *reply;

	if (BsonIsScalar(command))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a MongoDB command must be a document")));
	reply = CommandRun(database, BsonBytes(command), BsonDocLen(command));
	PG_RETURN_BSON_P(BsonDatumFromBson(reply));
}

/*
 * nosql.run_command_bytes(database text, command bytea) RETURNS bytea: the
 * same over raw BSON, the seam for wire-protocol front ends.  Commands may
 * nest deeper (MONGO_COMMAND_MAX_DEPTH) than stored documents.
 */
PG_FUNCTION_INFO_V1(run_command_bytes);
Datum
run_command_bytes(PG_FUNCTION_ARGS)
{
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *command = PG_GETARG_BYTEA_PP(1);
	const uint8_t *data = (const uint8_t *) VARDATA_ANY(command);
	size_t		len = VARSIZE_ANY_EXHDR(command);
	bool		degenerate;
	char	   *error;
	bson_t	   *reply;
	bytea	   *result;

	error = BsonValidateBytesDepth(data, len, MONGO_COMMAND_MAX_DEPTH, &degenerate);
	if (error != NULL &&
		BsonValidateBytesDepth(data, len, INT_MAX, &degenerate) == NULL)
	{
		/* valid but too deep: MongoDB answers Overflow, as for any command */
		reply = CommandErrorReply(MONGO_OVERFLOW,
								  psprintf("BSONObj exceeded maximum nested object depth: %d",
										   MONGO_COMMAND_MAX_DEPTH - 1),
								  NULL);
	}
	else if (error != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid BSON command: %s", error)));
	else if (degenerate)
	{
		bson_t		canonical;

		BsonCanonicalize(data, len, &canonical);
		reply = CommandRun(database, bson_get_data(&canonical), canonical.len);
	}
	else
		reply = CommandRun(database, data, (uint32_t) len);
	result = palloc(VARHDRSZ + reply->len);
	SET_VARSIZE(result, VARHDRSZ + reply->len);
	memcpy(VARDATA(result), bson_get_data(reply), reply->len);
	PG_RETURN_BYTEA_P(result);
}

/* ---- small commands ---- */

void
CmdPing(CommandContext *ctx, bson_t *reply)
{
}

void
CmdBuildInfo(CommandContext *ctx, bson_t *reply)
{
	bson_t		arr;

	BSON_APPEND_UTF8(reply, "version", "8.0.0");
	BSON_APPEND_UTF8(reply, "gitVersion", "nosql-" NOSQL_VERSION);
	BSON_APPEND_ARRAY_BEGIN(reply, "versionArray", &arr);
	BSON_APPEND_INT32(&arr, "0", 8);
	BSON_APPEND_INT32(&arr, "1", 0);
	BSON_APPEND_INT32(&arr, "2", 0);
	BSON_APPEND_INT32(&arr, "3", 0);
	bson_append_array_end(reply, &arr);
	BSON_APPEND_INT32(reply, "bits", 64);
	BSON_APPEND_INT32(reply, "maxBsonObjectSize", BSON_MAX_DOC_SIZE);
}

void
CmdHello(CommandContext *ctx, bson_t *reply)
{
	BSON_APPEND_BOOL(reply, "isWritablePrimary", true);
	BSON_APPEND_BOOL(reply, strcmp(ctx->name, "hello") == 0 ? "helloOk" : "ismaster", true);
	BSON_APPEND_INT32(reply, "maxBsonObjectSize", BSON_MAX_DOC_SIZE);
	BSON_APPEND_INT32(reply, "maxMessageSizeBytes", 48000000);
	BSON_APPEND_INT32(reply, "maxWriteBatchSize", 100000);
	BSON_APPEND_DATE_TIME(reply, "localTime",
						  (int64) (GetCurrentTimestamp() / 1000 + 946684800000LL));
	BSON_APPEND_INT32(reply, "minWireVersion", 0);
	BSON_APPEND_INT32(reply, "maxWireVersion", 25);
	BSON_APPEND_BOOL(reply, "readOnly", false);
}
