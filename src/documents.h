/*-------------------------------------------------------------------------
 *
 * documents.h
 *	  The document engine: collections, the MongoDB command interface and
 *	  the SQL functions over it.
 *
 * Commands raise ordinary PostgreSQL errors; an error in MongoDB's terms
 * (code, codeName, message) is raised with MongoRaise(), which puts the
 * MongoDB code into the error's detail.  run_command turns such errors into
 * {ok: 0, errmsg, code, codeName} replies; the SQL functions let them
 * propagate.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_DOCUMENTS_H
#define NOSQL_DOCUMENTS_H

#include <bson/bson.h>

#include "bson.h"
#include "collation.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "projection.h"
#include "query.h"
#include "sort.h"

/* MongoDB error codes used by the command layer */
#define MONGO_INTERNAL_ERROR			1
#define MONGO_INVALID_LENGTH			16
#define MONGO_DOLLAR_PREFIXED			52
#define MONGO_CANNOT_CREATE_INDEX		67
#define MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW	166
#define MONGO_VIEW_DEPTH_LIMIT		165 /* ViewDepthLimitExceeded */
#define MONGO_OPTION_NOT_SUPPORTED_ON_VIEW	167
#define AGG_MAX_VIEW_DEPTH		20	/* views on views */
#define MONGO_NO_SUCH_KEY				4
#define MONGO_UNAUTHORIZED				13
#define MONGO_OVERFLOW					15
#define MONGO_ILLEGAL_OPERATION			20
#define MONGO_NAMESPACE_NOT_FOUND		26
#define MONGO_INDEX_NOT_FOUND			27
#define MONGO_PATH_NOT_VIABLE			28
#define MONGO_CONFLICTING_UPDATE_OPERATORS	40
#define MONGO_CURSOR_NOT_FOUND			43
#define MONGO_NAMESPACE_EXISTS			48
#define MONGO_MAX_TIME_MS_EXPIRED		50
#define MONGO_INVALID_ID_FIELD			53
#define MONGO_COMMAND_NOT_FOUND			59
#define MONGO_IMMUTABLE_FIELD			66
#define MONGO_INVALID_OPTIONS			72
#define MONGO_INVALID_NAMESPACE			73
#define MONGO_INDEX_OPTIONS_CONFLICT	85
#define MONGO_INDEX_KEY_SPECS_CONFLICT	86
#define MONGO_NOT_IMPLEMENTED_CMD		115	/* CommandNotSupported */
#define MONGO_INVALID_INDEX_SPEC_OPTION	197
#define MONGO_INVALID_PIPELINE_OPERATOR	168
#define MONGO_INDEX_BUILD_ABORTED		276
#define MONGO_MINMAX_NO_HINT			51173
#define MONGO_MINMAX_INCONSISTENT		51174
#define MONGO_INTERRUPTED				11601
#define MONGO_DUPLICATE_KEY				11000
#define MONGO_BSON_OBJECT_TOO_LARGE		10334
#define MONGO_IDL_UNKNOWN_FIELD			40415
#define MONGO_IDL_MISSING_FIELD			40414

/*
 * Commands may nest deeper than stored documents: MongoDB takes 200 levels
 * below the command document itself (the command counts as level 1 here)
 * and answers Overflow (15) beyond.
 */
#define MONGO_COMMAND_MAX_DEPTH			201

/*
 * In the command layer, recursing into a value that is neither a document
 * nor an array yields an empty iterator (bson_iter_next returns false)
 * instead of leaving the child uninitialised: commands take any type in any
 * field, and a forgotten type check must not read garbage.
 */
static inline bool
CommandIterRecurse(const bson_iter_t *it, bson_iter_t *child)
{
	static const uint8_t empty[5] = {5, 0, 0, 0, 0};

	if (bson_iter_recurse(it, child))
		return true;
	bson_iter_init_from_data(child, empty, sizeof(empty));
	return false;
}
#define bson_iter_recurse(it, child) CommandIterRecurse(it, child)

/* One command being run */
typedef struct CommandContext
{
	const char *database;
	const char *name;			/* the command's name: its first field */
	bson_t		command;		/* the command document (not owned) */
	bson_iter_t first;			/* at the first field */
	const char *read_concern_level; /* readConcern.level, once checked */
	bool		has_write_concern;	/* a writeConcern document was given */
	const uint8_t *let_vars;	/* the values of let (agg_let.c), or NULL */
	uint32_t	let_vars_len;
	int64		now_ms;			/* the command's $$NOW once fixed; 0: not yet */
} CommandContext;

/* A command appends its reply fields; "ok: 1" is appended after it */
typedef void (*CommandFunc) (CommandContext *ctx, bson_t *reply);

/* command.c */
extern void CmdPing(CommandContext *ctx, bson_t *reply);
extern void CmdBuildInfo(CommandContext *ctx, bson_t *reply);
extern void CmdHello(CommandContext *ctx, bson_t *reply);
extern bool CommandExists(const char *name);

/* cmd_read.c */
extern void CmdFind(CommandContext *ctx, bson_t *reply);
extern void CmdGetMore(CommandContext *ctx, bson_t *reply);
extern void CmdKillCursors(CommandContext *ctx, bson_t *reply);
extern void CmdCount(CommandContext *ctx, bson_t *reply);
extern void CmdDistinct(CommandContext *ctx, bson_t *reply);
extern void CursorSweepIdle(void);
typedef void (*CursorWalker) (int64 id, const char *database, const char *collection,
							  Oid userid, TimestampTz last_used, void *arg);
extern void CursorWalk(CursorWalker fn, void *arg);

/* cmd_write.c */
extern void CmdInsert(CommandContext *ctx, bson_t *reply);
extern void CmdUpdate(CommandContext *ctx, bson_t *reply);
extern void CmdDelete(CommandContext *ctx, bson_t *reply);
extern void CmdFindAndModify(CommandContext *ctx, bson_t *reply);

/* cmd_bulk.c */
extern void CmdBulkWrite(CommandContext *ctx, bson_t *reply);

typedef struct WriteErrors
{
	bson_t		array;
	int			count;
} WriteErrors;

typedef struct UpdateResult
{
	int64		matched;
	int64		modified;
	bool		upserted;
	bson_t		upserted_id;	/* {"_id": value} when upserted */
	bson_t	   *new_doc;		/* the document after (keep_docs) */
	bson_t	   *old_doc;		/* the document before (keep_docs) */
} UpdateResult;

extern bool PipelineUpdateCheck(const uint8_t **u, uint32_t *len);
extern void WriteCommandArgs(CommandContext *ctx, const char *array_field,
							 bson_iter_t *statements, bool *ordered, bool *bypass,
							 bool takes_let);
extern char *PrepareDocument(const uint8_t *data, uint32_t len, bson_t *out, int *code);

/* cmd_admin.c */
extern void CmdCreate(CommandContext *ctx, bson_t *reply);
extern void CmdDrop(CommandContext *ctx, bson_t *reply);
extern void CmdDropDatabase(CommandContext *ctx, bson_t *reply);
extern void CmdListCollections(CommandContext *ctx, bson_t *reply);
extern void CmdListDatabases(CommandContext *ctx, bson_t *reply);
extern void CmdListIndexes(CommandContext *ctx, bson_t *reply);
extern void CmdCreateIndexes(CommandContext *ctx, bson_t *reply);
extern void CmdDropIndexes(CommandContext *ctx, bson_t *reply);
extern void CmdRenameCollection(CommandContext *ctx, bson_t *reply);
extern void CmdCollMod(CommandContext *ctx, bson_t *reply);
extern void CmdValidateDBMetadata(CommandContext *ctx, bson_t *reply);
extern void CmdCompact(CommandContext *ctx, bson_t *reply);

/* cluster_parameter.c */
extern void CmdGetClusterParameter(CommandContext *ctx, bson_t *reply);
extern void CmdSetClusterParameter(CommandContext *ctx, bson_t *reply);
extern int64 ClusterParameterPreImageExpiry(void);

/* cmd_explain.c */
extern void CmdExplain(CommandContext *ctx, bson_t *reply);

/* cmd_plancache.c */
extern void CmdPlanCacheClear(CommandContext *ctx, bson_t *reply);
extern void CmdPlanCacheSetFilter(CommandContext *ctx, bson_t *reply);
extern void CmdPlanCacheClearFilters(CommandContext *ctx, bson_t *reply);
extern void CmdPlanCacheListFilters(CommandContext *ctx, bson_t *reply);

/* The types a command field may have (CheckFields) */
#define FT_STRING	(1 << 0)
#define FT_DOC		(1 << 1)
#define FT_ARRAY	(1 << 2)
#define FT_BOOL		(1 << 3)
#define FT_NUMBER	(1 << 4)
#define FT_NULL		(1 << 5)
#define FT_ANY		(1 << 6)
#define FT_SAFEBOOL	(FT_BOOL | FT_NUMBER)

typedef struct FieldSpec
{
	const char *name;
	int			types;
} FieldSpec;

/* CheckFieldsFlags: the command takes no writeConcern */
#define CF_NO_WRITE_CONCERN	(1 << 0)
/* CheckFieldsFlags: unknown fields are ignored (commands MongoDB parses by hand) */
#define CF_IGNORE_UNKNOWN	(1 << 1)

/*
 * Check the fields after a command's first one: unknown fields, types, and
 * the generic fields (readConcern, writeConcern, maxTimeMS) as MongoDB does.
 */
extern void CheckFields(CommandContext *ctx, const FieldSpec *spec);
extern void CheckFieldsFlags(CommandContext *ctx, const FieldSpec *spec, int flags);

/* A number field as a double (decimals through their string form) */
extern bool BsonIterAsDouble(const bson_iter_t *it, double *value);


/* MongoDB's name of an error code ("BadValue"), or "Location<code>" */
extern const char *MongoCodeName(int code);

/* Raise a MongoDB error as a PostgreSQL ERROR (does not return) */
extern void MongoRaise(int code, const char *fmt,...) pg_attribute_printf(2, 3) pg_attribute_noreturn();

/*
 * As MongoRaise, with extra fields for the reply (e.g. keyPattern and
 * keyValue of a duplicate key error); extra is copied.
 */
extern void MongoRaiseExtra(int code, const bson_t *extra, const char *fmt,...) pg_attribute_printf(3, 4) pg_attribute_noreturn();

/* Run a command without catching its errors (command.c) */
extern void CommandExecute(const char *database, const uint8_t *data, uint32_t len,
						   bson_t *reply);

/* Run fn(arg) in a subtransaction, catching MongoDB errors (command.c) */
extern bool RunCaught(void (*fn) (void *), void *arg, int *code, char **message,
					  bson_t **extra);

/* The SQLSTATE a MongoDB error code is raised with */
extern int	MongoSqlState(int code);

/* Database and collection name limits, as MongoDB's */
#define MONGO_MAX_DB_NAME		63
#define MONGO_MAX_NS			255

/* A collection (or view) from the catalog */
typedef struct Collection
{
	char	   *database;
	char	   *name;
	Oid			relid;			/* InvalidOid for a view */
	char	   *qualified;		/* quoted schema.table for SQL text */
	bson_t	   *options;		/* create options, never NULL */
	bson_t	   *indexes;		/* array of index specs (not _id's), never NULL */
	char		uuid[37];
	bool		is_view;
	bool		capped;			/* a capped collection: natural order is _seq */
	int64		capped_size;	/* its limit in bytes of documents */
	int64		capped_max;		/* its limit in documents, 0: none */
} Collection;

/* The parts of a find (also of count, distinct and the SQL functions) */
#define FIND_MAX_PARAMS 160


typedef struct FindSpec
{
	Collection *coll;
	const uint8_t *filter;		/* never NULL ({} when absent) */
	uint32_t	filter_len;
	const uint8_t *projection;	/* or NULL */
	uint32_t	projection_len;
	const uint8_t *sort;		/* or NULL */
	uint32_t	sort_len;
	int64		skip;
	int64		limit;			/* 0: none */
	const uint8_t *collation;	/* or NULL: the collection's default */
	uint32_t	collation_len;
	const char *hint;			/* hinted index name, "$natural", or NULL */
	const uint8_t *min;			/* min (inclusive index bound) or NULL */
	uint32_t	min_len;
	const uint8_t *max;			/* max (exclusive index bound) or NULL */
	uint32_t	max_len;
	/* set by FindSpecPrepare */
	BsonCollation *compiled_collation;	/* NULL: simple */
	int			collation_param;	/* the $n of its document, 0: none */
	BsonFilter *compiled_filter;
	BsonProjection *compiled_projection;
	BsonSortSpec *compiled_sort;
} FindSpec;

extern void FindSpecInit(FindSpec *spec);
extern const uint8_t *ProjectRow(BsonFilter *filter, BsonProjection *projection,
								 const Bson *row, bson_t *out, uint32_t *len);
extern void FindSpecPrepare(FindSpec *spec, const char *select, StringInfo sql,
							Datum *values, Oid *types, int *nparams);
extern void FindSpecPrepareFrom(FindSpec *spec, const char *select, StringInfo sql,
								Datum *values, Oid *types, int *nparams);
extern BsonCollation *FindSpecCollation(FindSpec *spec, Bson **param);

/* Reading command fields (raising MongoDB's errors) */
extern void RaiseWrongType(const char *command, const bson_iter_t *it,
						   const char *expected) pg_attribute_noreturn();
extern char *CommandCollectionName(CommandContext *ctx);
extern void FieldDocument(const char *command, const bson_iter_t *it,
						  const uint8_t **data, uint32_t *len);
extern int64 FieldNonNegative(const char *command, const bson_iter_t *it);
extern int64 FieldNonNegativeCode(const char *command, const bson_iter_t *it, int code);
extern bool FieldBool(const char *command, const bson_iter_t *it);
extern BsonFilter *CompileFilter(const uint8_t *data, uint32_t len);
extern BsonCollation *CompileCollation(const uint8_t *data, uint32_t len);

/* text_sql.c: the spec of a collection's text index (NULL: none) */
extern bson_t *TextFindIndex(const bson_t *indexes);
extern const char *CheckHint(const Collection *coll, const bson_iter_t *hint);
extern int	HintSettingsPush(const Collection *c, const char *hint);
extern void WriteHintSet(const char *hint);
extern char *IndexPgPrefix(const Collection *c, const char *mongo_name);
extern void HintSettingsPop(int level);
extern struct _SPI_plan *CommandPlan(const char *sql, int nargs, Oid *types, int cursor_options);
extern void CommandPlanCacheReset(void);
typedef void (*CommandPlanWalker) (uint32 hash, const char *sql, struct _SPI_plan *plan,
								   TimestampTz created, void *arg);
extern void CommandPlanCacheWalk(CommandPlanWalker fn, void *arg);
extern bool GeoNearCheckIndex(const Collection *coll, const BsonFilter *filter);
extern bool IsGenericField(const char *key);
extern bool GenericFieldCheck(CommandContext *ctx, const bson_iter_t *it);
extern void ReadConcernCheckStandalone(const char *level);
extern void CheckWriteConcernW(const bson_iter_t *w);
extern void CheckHintShape(const bson_iter_t *hint);

/* index_spec.c: MongoDB's validation and comparison of index specs */
typedef struct IndexSpecContext
{
	const uint8_t *default_collation;	/* the collection's, or NULL */
	uint32_t	default_collation_len;
	bool		timeseries;		/* a time-series collection's index */
	bool		ignore_unknown; /* createIndexes' ignoreUnknownIndexOptions */
} IndexSpecContext;

typedef enum IndexSpecMatch
{
	INDEX_SPEC_DIFFERENT,		/* another index */
	INDEX_SPEC_EQUIVALENT,		/* the same index, other options differ */
	INDEX_SPEC_IDENTICAL		/* the same index and options */
} IndexSpecMatch;

extern bool IndexSpecValidate(const bson_iter_t *elem, const IndexSpecContext *cx,
							  bson_t *out);
extern void IndexSpecCheckBuild(const bson_t *spec);
extern IndexSpecMatch IndexSpecCompare(const bson_t *a, const bson_t *b);
extern bool IndexSpecHasKey(const bson_t *spec, const bson_iter_t *key);
extern bool IndexSpecIsText(const bson_t *spec);
extern const char *IndexSpecName(const bson_t *spec);
extern const char *IndexKeyPlugin(const bson_iter_t *key);
extern void CheckStorageEngine(const bson_iter_t *it, bool index_defaults);

/* indexes.c: the PostgreSQL indexes behind index specs */
extern void IndexSync(const Collection *c, const bson_t *specs);
extern List *IndexConcurrentStatements(const Collection *c, const char *name,
									   bool companion_only);
extern List *IndexCompanionsWanted(const Collection *c);
extern bool IndexDryRun(void);

/* index_build.c: index builds in the background */
extern bool nosql_background_index_builds;
extern bool IndexBuildInBackground(const Collection *c, const bson_t *spec);
extern void IndexBuildQueue(const Collection *c, const bson_t *spec);
extern List *IndexBuildsInFlight(Oid relid);
extern void IndexBuildAbort(Oid relid, const char *name);

/* cmd_admin.c: the catalog's list of index specs */
extern List *IndexSpecList(const bson_t *indexes);
extern void IndexSpecArray(List *specs, bson_t *out);
extern int64 IndexHashValue(const bson_iter_t *value);

/* index_key.c: the paths of a text[] argument, kept in fn_extra */
typedef struct IndexPathsCache
{
	int			len;			/* bytes of the array datum */
	char	   *bytes;
	int			npaths;
	char	  **paths;
} IndexPathsCache;

/* Keys larger than this (bytes of the bson value) are not kept in a btree */
#define INDEX_KEY_MAX_SIZE	1024

extern IndexPathsCache *IndexPaths(FunctionCallInfo fcinfo, int argno);
extern IndexPathsCache *IndexPathsIn(FunctionCallInfo fcinfo, int argno,
									 IndexPathsCache **slot);
extern bool IndexMultikey(const Bson *doc, char **paths, int npaths);
extern Bson *IndexKeyOf(const Bson *doc, const char *path);
extern void IndexInit(void);
extern bool IndexDuplicateDescribe(const char *constraint, const char *schema,
								   const char *detail, char **message, bson_t **extra);
extern bool IndexPlanFilter(const Collection *c, const uint8_t *filter, uint32_t len,
							const char *hint, const BsonCollation *collation,
							int collation_param, StringInfo sql, Datum *values, Oid *types,
							int *nparams);
extern const char *IndexLookupKeyExpr(const Collection *c, const char *path);
extern bool IndexPlanFilterSplit(const Collection *c, const uint8_t *filter, uint32_t len,
								 const char *hint, const BsonCollation *collation,
								 int collation_param, StringInfo where_keys,
								 StringInfo where_null, bool *equality, Datum *values,
								 Oid *types, int *nparams);
extern bool IndexReturnKeyPattern(const Collection *c, const uint8_t *filter, uint32_t len,
								  const char *hint, const uint8_t **key, uint32_t *key_len);
extern void IndexHintCheck(const Collection *c, const char *hint, const uint8_t *filter,
						   uint32_t len);
extern bool IndexMinMax(const Collection *c, const char *hint, const uint8_t *min,
						uint32_t min_len, const uint8_t *max, uint32_t max_len, StringInfo sql,
						StringInfo order, Datum *values, Oid *types, int *nparams);
extern bool IndexPlanSort(const Collection *c, const BsonSortSpec *sort,
						  const BsonCollation *collation, StringInfo sql);
extern bool IndexSpecOfPgIndex(const Collection *c, const char *pgname, bson_t *key_pattern,
							   const char **mongo_name);

extern int	nosql_cursor_timeout;

/* catalog.c */
extern void ValidateDatabaseName(const char *database);
extern void ValidateCollectionName(const char *database, const char *name);
extern Collection *CollectionLookup(const char *database, const char *name);
extern Collection *CollectionGetOrCreate(const char *database, const char *name,
										 bool *created);
extern Collection *CollectionCreate(const char *database, const char *name,
									const bson_t *options, bool exists_ok);
extern bool CollectionDrop(const char *database, const char *name);
extern void CollectionRename(Collection *coll, const char *to_database,
							 const char *to_name, bool drop_target);
extern List *CollectionList(const char *database);
extern void CollectionInfo(const Collection *c, bool name_only, bson_t *out);
extern void CollectionSetOptions(const Collection *coll, const bson_t *options,
								 const bson_t *indexes);
extern bool CollectionPreImagesEnabled(const bson_t *options);
extern void CollectionSetReplicaIdentity(const char *qualified, bool full);
extern List *DatabaseList(void);
extern void CatalogAsOwner(void (*fn) (void *), void *arg);
extern int	DatabaseDrop(const char *database);
extern void SplitCollectionName(const char *qualified, char **database, char **name);

/* capped.c: capped collections */
extern void CmdConvertToCapped(CommandContext *ctx, bson_t *reply);
extern void CmdCloneCollectionAsCapped(CommandContext *ctx, bson_t *reply);
extern int64 CappedSizeArgument(const bson_iter_t *it, bool present);
extern void CappedTrim(const Collection *coll);

/* Helpers for reading command documents */
extern bool BsonIterIsNumber(const bson_iter_t *it);
extern bool BsonIterAsInt64(const bson_iter_t *it, int64 *value);
extern bool BsonIterTruthy(const bson_iter_t *it);

/* The OID of type nosql.bson */
extern Oid	BsonTypeOid(void);

/* Bson datum from bson_t (a copy) */
extern Bson *BsonDatumFromBson(const bson_t *doc);

/* Duplicate-key extra fields for _id */
extern void DuplicateIdRaise(const Collection *coll, const bson_iter_t *id);
extern void AppendDuplicateKeyError(bson_t *reply_error, const Collection *coll,
									const bson_iter_t *id);

/* The write engine of cmd_write.c, shared with the SQL functions */
extern int	InsertDocuments(Collection *coll, bson_t **docs, int ndocs, bool ordered,
							const bool *invalid, WriteErrors *we, const int *error_codes,
							char **error_messages);
extern void UpdateDocuments(Collection *coll, const uint8_t *filter, uint32_t filter_len,
							const uint8_t *update, uint32_t update_len, bool pipeline,
							const uint8_t *array_filters, uint32_t af_len, bool multi,
							bool upsert, const uint8_t *sort, uint32_t sort_len,
							const uint8_t *collation, uint32_t collation_len,
							bool keep_docs, bool bypass_validation, UpdateResult *result);
extern int64 DeleteDocuments(Collection *coll, const uint8_t *filter, uint32_t filter_len,
							 bool multi, const uint8_t *sort, uint32_t sort_len,
							 const uint8_t *collation, uint32_t collation_len,
							 bson_t **deleted);

#endif							/* NOSQL_DOCUMENTS_H */
