/*-------------------------------------------------------------------------
 *
 * agg.h
 *	  The aggregation pipeline: the aggregate command, its translation into
 *	  SQL and the stages that run document by document in C.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_AGG_H
#define NOSQL_AGG_H

#include <bson/bson.h>

#include "lib/stringinfo.h"

#include "bson.h"
#include "documents.h"

/* MongoDB's limit on the number of stages of a pipeline */
#define AGG_MAX_STAGES			1000

/*
 * The field that carries a document's metadata ({score: ..,
 * geoNearDistance: .., geoNearPoint: ..}) between the stages of a pipeline
 * that reads it with $meta: last in the document, removed from what the
 * pipeline returns (nosql.bson_meta_strip) and hidden from the streaming
 * stages, which see it only through $meta.
 */
#define AGG_META_FIELD			"__nosql_meta"

/* The MongoDB error codes of the aggregation layer */
#define AGG_ERR_STAGE_NOT_OBJECT	14
#define AGG_ERR_STAGE_ONE_FIELD		40323
#define AGG_ERR_UNKNOWN_STAGE		40324
#define AGG_ERR_TOO_MANY_STAGES		7749501
#define AGG_ERR_WRITE_NOT_LAST		40601

/*
 * A run of consecutive streaming stages ($match, $project, $addFields/$set,
 * $unset, $replaceRoot/$replaceWith, $unwind), compiled once and applied
 * to one document at a time.
 */
typedef struct AggChain AggChain;

/* Whether a stage runs document by document in an AggChain */
extern bool AggStageIsStreaming(const char *name);

/* Check one streaming stage's specification (raising MongoDB's errors) */
extern void AggStageValidate(const char *name, const bson_iter_t *spec,
							 const BsonCollation *collation);

/*
 * Compile a chain from its description document {s: [stages], c: collation}
 * (raising MongoDB's errors); memory comes from the current context.
 */
extern AggChain *AggChainCompile(const uint8_t *data, uint32_t len);
extern void AggChainApplyOne(const AggChain *chain, const uint8_t *doc, uint32_t len,
							 bson_t *out);
extern void AggChainApplyAll(const AggChain *chain, const uint8_t *doc, uint32_t len,
							 List **out);

/* Check a field path as MongoDB's FieldPath does (raises) */
extern void AggFieldPathCheck(const char *path, uint32_t len);

/* cmd_read.c: open a cursor over a query returning documents, and reply */
extern void ChangeStreamAggregate(CommandContext *ctx, const char *collname,
								  const bson_iter_t *pipeline, int64 batch_size, bson_t *reply);
extern void CursorQueryReply(CommandContext *ctx, const char *collname, const char *sql,
							 int nparams, Oid *types, Datum *values,
							 const Collection *coll, const char *hint,
							 int64 batch_size, bool single_batch, bson_t *reply);

/* agg_group.c: a $group specification, checked, as the parameters of its SQL */
typedef struct AggGroupSpec
{
	Bson	   *key;			/* nosql.bson_group_key's {e, c} */
	Bson	   *names;			/* {f: [output field names]} */
	Bson	  **accs;			/* nosql.bson_group_accumulate's {k, e, c} per field */
	int			naccs;
	Bson	   *id_first;		/* under a collation: the _id output's $first, or NULL */
	bool		need_ord;		/* some accumulator depends on the input order */
} AggGroupSpec;

extern void AggGroupDescribe(const bson_iter_t *spec, const uint8_t *collation,
							 uint32_t collation_len, AggGroupSpec *out);
extern void AggBucketDescribe(const bson_iter_t *spec, const uint8_t *collation,
							  uint32_t collation_len, AggGroupSpec *out);

/* agg_group.c: a $bucketAuto specification, checked */
typedef struct AggBucketAutoSpec
{
	AggGroupSpec group;			/* the output accumulators (its key unused) */
	Bson	   *key;			/* the sort key: nosql.bson_group_key's {e, c} */
	Bson	   *first;			/* $first and $last of groupBy: the bounds */
	Bson	   *last;
	int32		buckets;
	const char *granularity;	/* NULL: none */
} AggBucketAutoSpec;

extern void AggBucketAutoDescribe(const bson_iter_t *spec, const uint8_t *collation,
								  uint32_t collation_len, AggBucketAutoSpec *out);

extern Bson *AggGroupWindowAccumulator(const char *op, const bson_iter_t *arg,
									  const uint8_t *collation, uint32_t collation_len);
extern Bson *AggGroupWindowExpMovingAvg(const bson_iter_t *input, double alpha);
extern Bson *AggGroupExpressionSpec(const bson_iter_t *expr, const uint8_t *collation,
									uint32_t collation_len);

/* agg_window.c: $setWindowFields as window functions over the query input */
typedef int (*AggParamFn) (void *arg, Bson *value);

extern void AggWindowTranslate(const bson_iter_t *spec, const uint8_t *collation,
							   uint32_t collation_len, bool input_order, AggParamFn param,
							   void *arg, const char *input, StringInfo out);
extern bool AggFillDescribe(const bson_iter_t *spec, bson_t *window, bson_t *set,
							bool *have_set);
extern void AggWindowSetPath(const uint8_t *data, uint32_t len, const char *path,
							 const bson_iter_t *value, bson_t *out);

/* agg_densify.c: the $densify stage */
extern bool AggDensifyTranslate(const bson_iter_t *spec, AggParamFn param, void *arg,
								const char *input, StringInfo out);

/* agg_write.c: a $out or $merge stage, checked */
typedef enum AggMergeMatched
{
	AGG_MERGE_MERGE,
	AGG_MERGE_REPLACE,
	AGG_MERGE_KEEP,
	AGG_MERGE_FAIL,
	AGG_MERGE_PIPELINE
} AggMergeMatched;

typedef enum AggMergeNotMatched
{
	AGG_MERGE_INSERT,
	AGG_MERGE_DISCARD,
	AGG_MERGE_NOT_FAIL
} AggMergeNotMatched;

typedef struct AggWrite
{
	bool		merge;			/* $merge, else $out */
	char	   *db;				/* the target */
	char	   *coll;
	Bson	   *timeseries;		/* $out's timeseries option, or NULL */
	char	  **on;				/* $merge's "on" paths (non 0: _id) */
	int			non;
	AggMergeMatched matched;
	AggMergeNotMatched not_matched;
	Bson	   *pipeline;		/* whenMatched pipeline, or NULL */
	Bson	   *let;			/* let, or NULL */
} AggWrite;

extern AggWrite *AggWriteParse(const char *name, const bson_iter_t *spec,
							   const char *database, bool collated);
extern void AggWriteRun(const AggWrite *w, const char *sql, int nparams, Oid *types,
						Datum *values, const Collection *source, const char *hint,
						const uint8_t *collation, uint32_t collation_len, bool bypass);

/* agg_lookup.c: set a dotted path of a document as $lookup's "as" does */
extern void AggSetDottedPath(const uint8_t *data, uint32_t len, const char *path,
							 const bson_value_t *value, bson_t *out);

/* agg_geonear.c: a $geoNear stage as the query it starts a pipeline with */
extern void AggGeoNearTranslate(const bson_iter_t *spec, FindSpec *find, bool meta,
								StringInfo sql, Datum *values, Oid *types, int *nparams);

/* agg_rankfusion.c: a $rankFusion stage, checked */
typedef struct AggRankFusion
{
	int			npipelines;
	const char **names;			/* the input pipelines, in order */
	double	   *weights;
	const uint8_t **last_sort;	/* each pipeline's last $sort */
	uint32_t   *last_sort_len;
	bool		score_details;
} AggRankFusion;

extern void AggRankFusionParse(const bson_iter_t *spec, AggRankFusion *rf);
extern void AggRankFusionSql(const AggRankFusion *rf, char **subsql, int collation_param,
							 bool meta, StringInfo sql);

/* agg_meta.c: the metadata stages ($collStats, $indexStats, $currentOp ...) */
extern bool AggMetaStage(const char *name);
extern void AggMetaValidate(const char *name, const bson_iter_t *spec);
extern void AggMetaCheckNestedIn(const char *name, const bson_iter_t *spec, bool in_facet,
								 bool collectionless);

/* agg_pipeline.c */
extern void CmdAggregate(CommandContext *ctx, bson_t *reply);
extern void AggExplainCommand(CommandContext *inner, bool analyze, bson_t *reply);
extern void AggReadView(CommandContext *ctx, const char *collname, const bson_t *stages,
						const uint8_t *collation, uint32_t collation_len, int64 batch_size,
						bool single_batch, bson_t *reply, bson_t *first);
extern const char *AggStageName(const bson_iter_t *element, bson_iter_t *spec);
extern bool AggStageKnown(const char *name);

/* agg_lookup.c */
extern Datum bson_lookup_filter(PG_FUNCTION_ARGS);

/* agg_let.c: let variables and the command's $$NOW */
extern void AggLetEvaluate(const bson_iter_t *let, const uint8_t *root, uint32_t root_len,
						   int64 now_ms, bson_t *vars);
extern void AggCheckLet(const bson_iter_t *let);
extern void CommandLetEvaluate(CommandContext *ctx, const bson_iter_t *let);
extern void CommandBindFilter(CommandContext *ctx, const uint8_t **data, uint32_t *len);
extern void CommandBindPipeline(CommandContext *ctx, const uint8_t **data, uint32_t *len);
extern void CommandBindExpressions(CommandContext *ctx, const uint8_t **data, uint32_t *len);
extern bool AggBindPipeline(const bson_iter_t *pipeline, const bson_t *vars, int64 now_ms,
							bson_iter_t *result);

#endif							/* NOSQL_AGG_H */
