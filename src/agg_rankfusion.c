/*-------------------------------------------------------------------------
 *
 * agg_rankfusion.c
 *	  The $rankFusion aggregation stage (MongoDB 8.1): reciprocal rank
 *	  fusion of several ranked pipelines over the collection.
 *
 * Design note
 * -----------
 * {$rankFusion: {input: {pipelines: {name: [stages], ...}},
 *				  combination: {weights: {name: w}}, scoreDetails: bool}}
 * runs each input pipeline over the collection, ranks its documents and
 * gives each document the score sum over the pipelines of
 * weight / (60 + rank); the documents come out by score, highest first.
 * Each input pipeline must be a ranked selection pipeline: it sorts
 * ($sort), and its stages only select and order documents ($match, $sort,
 * $skip, $limit, $sample).  The rank is the competition rank under the
 * last $sort's keys (equal keys, equal rank; the next rank jumps).
 *
 * Each input pipeline is translated as a $lookup's sub-pipeline is
 * (agg_pipeline.c), and the stage is one query:
 *
 *	SELECT (array_agg(u.document ORDER BY u.p))[1] AS document
 *	  FROM (SELECT q.document, w1 / (60 + rank() OVER (ORDER BY <keys>)) AS score, 1 AS p
 *			  FROM (<pipeline 1>) q
 *			UNION ALL ...) u
 *	 GROUP BY nosql.bson_index_key(u.document, '_id')
 *	 ORDER BY sum(u.score) DESC, nosql.bson_index_key(u.document, '_id')
 *
 * so PostgreSQL's window functions rank, its aggregate combines by _id and
 * its sort orders (ties by _id).  A pipeline's final $sort is not
 * translated: the window's ORDER BY is that sort.  When a later stage
 * reads {$meta: "score"}, the score goes with the document as metadata
 * (nosql.bson_meta_set; agg.h's AGG_META_FIELD).  scoreDetails is
 * accepted but not computed.
 *
 * IDENTIFICATION
 *	  src/agg_rankfusion.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "agg.h"
#include "bson.h"
#include "documents.h"
#include "geo.h"
#include "query.h"
#include "sort.h"

/* MongoDB's error codes of $rankFusion */
#define RANKFUSION_ERR_NOT_RANKED		9191100
#define RANKFUSION_ERR_NOT_SELECTION	9191103
#define RANKFUSION_ERR_EMPTY_PIPELINE	9834300
#define RANKFUSION_ERR_WEIGHT_TYPE		13118
#define RANKFUSION_ERR_WEIGHT_RANGE		9460300
#define RANKFUSION_ERR_WEIGHT_COUNT		9460301
#define RANKFUSION_ERR_WEIGHT_NAME		9967500
#define RANKFUSION_ERR_NESTED_FIRST		10473002
#define RANKFUSION_ERR_NOT_FIRST		10170100
#define RANKFUSION_ERR_NAME_DOT			16412

/* The constant of reciprocal rank fusion */
#define RANKFUSION_K					60

/* Raise 14 for a field of the wrong type, as MongoDB's IDL does */
static void
RankFusionWrongType(const char *field, const bson_iter_t *it, const char *expected)
{
	MongoRaise(MONGO_TYPE_MISMATCH,
			   "BSON field '%s' is the wrong type '%s', expected type '%s'",
			   field, BsonTypeName(bson_iter_type(it)), expected);
}

/* A stage that selects or orders documents without changing them */
static bool
RankFusionSelectionStage(const char *name)
{
	return strcmp(name, "$match") == 0 || strcmp(name, "$sort") == 0 ||
		strcmp(name, "$skip") == 0 || strcmp(name, "$limit") == 0 ||
		strcmp(name, "$sample") == 0;
}

/*
 * Check one input pipeline: its stages' shapes, the nested fusion stages,
 * that it is ranked and only selects.  *last_sort gets the last $sort's
 * specification.
 */
static void
RankFusionCheckPipeline(const bson_iter_t *pipeline, const uint8_t **last_sort,
						uint32_t *last_sort_len)
{
	bson_iter_t it;
	int			n = 0;
	bool		ranked = false;
	bool		selection = true;

	*last_sort = NULL;
	*last_sort_len = 0;
	bson_iter_recurse(pipeline, &it);
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;
		const char *name = AggStageName(&it, &stage);

		if (++n > AGG_MAX_STAGES)
			MongoRaise(AGG_ERR_TOO_MANY_STAGES,
					   "Pipeline length must be no longer than %d stages.", AGG_MAX_STAGES);
		if (strcmp(name, "$rankFusion") == 0 || strcmp(name, "$scoreFusion") == 0)
		{
			if (n > 1)
				MongoRaise(RANKFUSION_ERR_NOT_FIRST,
						   "%s is only valid as the first stage in a pipeline", name);
			MongoRaise(RANKFUSION_ERR_NESTED_FIRST,
					   "$rankFusion input pipelines cannot contain a %s stage", name);
		}
		if (!AggStageKnown(name))
			MongoRaise(AGG_ERR_UNKNOWN_STAGE, "Unrecognized pipeline stage name: '%s'", name);
		if (strcmp(name, "$sort") == 0)
		{
			ranked = true;
			if (BSON_ITER_HOLDS_DOCUMENT(&stage))
				bson_iter_document(&stage, last_sort_len, last_sort);
		}
		if (!RankFusionSelectionStage(name))
			selection = false;
	}
	if (n == 0)
		MongoRaise(RANKFUSION_ERR_EMPTY_PIPELINE,
				   "$rankFusion input pipelines must not be empty");
	if (!ranked)
		MongoRaise(RANKFUSION_ERR_NOT_RANKED,
				   "All subpipelines to the $rankFusion stage must begin with one of $search, $vectorSearch, $geoNear, $rankFusion, $scoreFusion or have a custom $sort in the pipeline");
	if (!selection)
		MongoRaise(RANKFUSION_ERR_NOT_SELECTION,
				   "$rankFusion input pipelines must only contain selection stages ($match, $sort, $skip, $limit, $sample)");
}

/* A pipeline name: MongoDB's rules for a field name */
static void
RankFusionCheckName(const char *name)
{
	if (name[0] == '\0')
		MongoRaise(15998, "$rankFusion pipeline names must not be empty");
	if (name[0] == '$')
		MongoRaise(16410, "$rankFusion pipeline names must not start with '$': %s", name);
	if (strchr(name, '.') != NULL)
		MongoRaise(RANKFUSION_ERR_NAME_DOT, "$rankFusion pipeline names must not contain '.': %s",
				   name);
}

/* combination.weights, against the pipelines' names */
static void
RankFusionWeights(const bson_iter_t *weights, AggRankFusion *rf)
{
	bson_iter_t it;
	int			n = 0;

	bson_iter_recurse(weights, &it);
	while (bson_iter_next(&it))
	{
		double		w;

		if (!BsonIterIsNumber(&it) || !GeoNumber(&it, &w))
			MongoRaise(RANKFUSION_ERR_WEIGHT_TYPE,
					   "$rankFusion weight for pipeline '%s' must be a number, found %s",
					   bson_iter_key(&it), BsonTypeName(bson_iter_type(&it)));
		if (isnan(w) || w < 0)
			MongoRaise(RANKFUSION_ERR_WEIGHT_RANGE,
					   "$rankFusion weight for pipeline '%s' must be non-negative",
					   bson_iter_key(&it));
		n++;
	}
	if (n > rf->npipelines)
		MongoRaise(RANKFUSION_ERR_WEIGHT_COUNT,
				   "$rankFusion has %d weights but only %d input pipelines", n,
				   rf->npipelines);
	bson_iter_recurse(weights, &it);
	while (bson_iter_next(&it))
	{
		int			i;

		for (i = 0; i < rf->npipelines; i++)
			if (strcmp(rf->names[i], bson_iter_key(&it)) == 0)
				break;
		if (i == rf->npipelines)
			MongoRaise(RANKFUSION_ERR_WEIGHT_NAME,
					   "$rankFusion weight '%s' does not name an input pipeline",
					   bson_iter_key(&it));
		(void) GeoNumber(&it, &rf->weights[i]);
		if (rf->weights[i] == 0)
			rf->weights[i] = 0;	/* -0 scores 0 */
	}
}

/*
 * AggRankFusionParse
 *		Check a $rankFusion specification as MongoDB 8.1 does (not the
 *		input pipelines' own stages, which their translation checks).
 */
void
AggRankFusionParse(const bson_iter_t *spec, AggRankFusion *rf)
{
	bson_iter_t it;
	bson_iter_t pipelines;
	bson_iter_t weights;
	bool		have_input = false;
	bool		have_pipelines = false;
	bool		have_weights = false;

	memset(rf, 0, sizeof(*rf));
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_FAILED_TO_PARSE, "$rankFusion must take a nested object but found: %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "input") == 0)
		{
			bson_iter_t f;

			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				RankFusionWrongType("$rankFusion.input", &it, "object");
			bson_iter_recurse(&it, &f);
			while (bson_iter_next(&f))
			{
				if (strcmp(bson_iter_key(&f), "pipelines") != 0)
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field '$rankFusion.input.%s' is an unknown field.",
							   bson_iter_key(&f));
				if (!BSON_ITER_HOLDS_DOCUMENT(&f))
					RankFusionWrongType("$rankFusion.input.pipelines", &f, "object");
				pipelines = f;
				have_pipelines = true;
			}
			have_input = true;
		}
		else if (strcmp(key, "combination") == 0)
		{
			bson_iter_t f;

			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				RankFusionWrongType("$rankFusion.combination", &it, "object");
			bson_iter_recurse(&it, &f);
			while (bson_iter_next(&f))
			{
				if (strcmp(bson_iter_key(&f), "weights") != 0)
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field '$rankFusion.combination.%s' is an unknown field.",
							   bson_iter_key(&f));
				if (BSON_ITER_HOLDS_NULL(&f))
					continue;
				if (!BSON_ITER_HOLDS_DOCUMENT(&f))
					RankFusionWrongType("$rankFusion.combination.weights", &f, "object");
				weights = f;
				have_weights = true;
			}
			if (!have_weights)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field '$rankFusion.combination.weights' is missing but a required field");
		}
		else if (strcmp(key, "scoreDetails") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_BOOL(&it))
				RankFusionWrongType("$rankFusion.scoreDetails", &it, "bool");
			rf->score_details = bson_iter_bool(&it);
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$rankFusion.%s' is an unknown field.",
					   key);
	}
	if (!have_input)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '$rankFusion.input' is missing but a required field");
	if (!have_pipelines)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '$rankFusion.input.pipelines' is missing but a required field");

	/* the pipelines: arrays, names, then their stages */
	bson_iter_recurse(&pipelines, &it);
	while (bson_iter_next(&it))
	{
		if (!BSON_ITER_HOLDS_ARRAY(&it))
			RankFusionWrongType("$rankFusion.input.pipelines", &it, "array");
		rf->npipelines++;
	}
	rf->names = palloc0(sizeof(char *) * Max(rf->npipelines, 1));
	rf->weights = palloc0(sizeof(double) * Max(rf->npipelines, 1));
	rf->last_sort = palloc0(sizeof(uint8_t *) * Max(rf->npipelines, 1));
	rf->last_sort_len = palloc0(sizeof(uint32_t) * Max(rf->npipelines, 1));
	bson_iter_recurse(&pipelines, &it);
	for (int i = 0; bson_iter_next(&it); i++)
	{
		rf->names[i] = bson_iter_key(&it);
		rf->weights[i] = 1;
		RankFusionCheckName(rf->names[i]);
		RankFusionCheckPipeline(&it, &rf->last_sort[i], &rf->last_sort_len[i]);
	}
	if (have_weights)
		RankFusionWeights(&weights, rf);
}

/* A float8 literal that reads back as the same value */
static char *
RankFusionFloat(double d)
{
	if (isinf(d))
		return pstrdup("'Infinity'::float8");
	return psprintf("'%.17g'::float8", d);
}

/*
 * AggRankFusionSql
 *		The query of a $rankFusion over the translated input pipelines
 *		(subsql[i], in the order of rf's names); collation_param is the $n
 *		of the collation document of the sort keys, 0 for none.
 */
void
AggRankFusionSql(const AggRankFusion *rf, char **subsql, int collation_param, bool meta,
				 StringInfo sql)
{
	if (meta)
		appendStringInfoString(sql,
							   "SELECT nosql.bson_meta_set((array_agg(u.document ORDER BY u.p))[1], 'score', sum(u.score)) AS document FROM (");
	else
		appendStringInfoString(sql,
							   "SELECT (array_agg(u.document ORDER BY u.p))[1] AS document FROM (");
	for (int i = 0; i < rf->npipelines; i++)
	{
		BsonQueryError error = {0};
		BsonSortSpec *sort = BsonSortCompile(rf->last_sort[i], rf->last_sort_len[i], &error);
		int			n;

		if (sort == NULL)
			MongoRaise(error.code, "%s", error.message);
		if (i > 0)
			appendStringInfoString(sql, " UNION ALL ");
		appendStringInfo(sql, "SELECT q.document, %s / (%d + rank() OVER (ORDER BY ",
						 RankFusionFloat(rf->weights[i]), RANKFUSION_K);
		n = BsonSortFieldCount(sort);
		for (int k = 0; k < n; k++)
		{
			bool		desc = BsonSortFieldDescending(sort, k);
			char	   *path = quote_literal_cstr(BsonSortFieldPath(sort, k));

			if (collation_param > 0)
				appendStringInfo(sql, "%snosql.bson_sort_value(q.document, %s, %s, $%d)%s",
								 k > 0 ? ", " : "", path, desc ? "true" : "false",
								 collation_param, desc ? " DESC" : "");
			else
				appendStringInfo(sql, "%snosql.bson_sort_value(q.document, %s, %s)%s",
								 k > 0 ? ", " : "", path, desc ? "true" : "false",
								 desc ? " DESC" : "");
		}
		appendStringInfo(sql, "))::float8 AS score, %d AS p FROM (%s) q", i, subsql[i]);
	}
	appendStringInfoString(sql,
						   ") u GROUP BY nosql.bson_index_key(u.document, '_id') ORDER BY sum(u.score) DESC, nosql.bson_index_key(u.document, '_id')");
}
