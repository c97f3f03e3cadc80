/*-------------------------------------------------------------------------
 *
 * agg_stages.c
 *	  The aggregation stages that run document by document.
 *
 * Design note
 * -----------
 * A pipeline becomes one SQL query (agg_pipeline.c).  The stages that
 * look at one document at a time and need no other ($match after other
 * stages, $project, $addFields/$set, $unset, $replaceRoot/$replaceWith,
 * $unwind) are grouped into runs; each run is a call of the set-returning
 * function nosql.bson_aggregate_stream(document, chain) in the select list
 * of a subquery, so PostgreSQL streams documents through it (a ProjectSet
 * node: zero, one or many output rows per input row) and the blocking
 * stages around it ($sort, $count) are PostgreSQL's sorts and aggregates,
 * which spill to disk beyond work_mem.
 *
 * The chain argument is a document {s: [stages...], c: collation}; it is
 * compiled once per query and kept in fn_extra.  The stages reuse the
 * engines of find: the filter engine for $match and projection.c (in its
 * aggregation and $addFields modes) for $project, $addFields and $unset.
 * $replaceRoot computes its new root as the $addFields of one field.
 *
 * IDENTIFICATION
 *	  src/agg_stages.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "agg.h"
#include "bson_compare.h"
#include "documents.h"
#include "expr.h"
#include "nosql.h"
#include "projection.h"

/* The field $replaceRoot computes its new root into */
#define AGG_ROOT_FIELD		"__nosql_new_root"

/* Longest field path, in components (MongoDB's FieldPath limit) */
#define AGG_MAX_PATH		200

typedef enum AggStageKind
{
	AGG_STAGE_MATCH,
	AGG_STAGE_PROJECT,			/* also $addFields, $set, $unset */
	AGG_STAGE_REPLACE_ROOT,
	AGG_STAGE_UNWIND,
	AGG_STAGE_REDACT
} AggStageKind;

/* The values of $redact's $$DESCEND, $$PRUNE and $$KEEP */
static const char *const agg_redact_values[] = {"descend", "prune", "keep"};
static const char *const agg_redact_names[] = {"DESCEND", "PRUNE", "KEEP"};

typedef struct AggStage
{
	AggStageKind kind;
	BsonFilter *filter;			/* $match */
	BsonProjection *projection; /* $project, $addFields, $unset, $replaceRoot */
	char	  **parts;			/* $unwind: the path's components */
	int			nparts;
	char	  **index_parts;	/* $unwind: includeArrayIndex, or NULL */
	int			index_nparts;
	bool		preserve;		/* $unwind: preserveNullAndEmptyArrays */
	AggExprScope *scope;		/* $redact: its expression, whose slots 0..2 */
	AggExpr    *expr;			/* are $$DESCEND, $$PRUNE and $$KEEP */
	const BsonCollation *collation;
} AggStage;

struct AggChain
{
	int			nstages;
	AggStage   *stages;
	BsonCollation *collation;	/* NULL: simple */
	bool		meta;			/* documents may carry metadata (AGG_META_FIELD) */
};

static const uint8_t agg_empty_doc[5] = {5, 0, 0, 0, 0};

/* ---- specifications ---- */

/*
 * AggFieldPathCheck
 *		MongoDB's FieldPath rules for a path given without its '$'.
 */
void
AggFieldPathCheck(const char *path, uint32_t len)
{
	int			nparts = 1;
	const char *start = path;

	if (len == 0)
		MongoRaise(40352, "FieldPath cannot be constructed with empty string");
	if (strlen(path) != len)
		MongoRaise(16411, "FieldPath field names may not contain '\\0'.");
	if (path[len - 1] == '.')
		MongoRaise(40353, "FieldPath must not end with a '.'.");
	for (const char *p = path;; p++)
	{
		if (*p == '.' || *p == '\0')
		{
			if (p == start)
				MongoRaise(15998, "FieldPath field names may not be empty strings.");
			if (*start == '$')
				MongoRaise(16410, "FieldPath field names may not start with '$'. "
						   "Consider using $getField or $setField.");
			if (*p == '\0')
				break;
			start = p + 1;
			if (++nparts > AGG_MAX_PATH)
				MongoRaise(15, "FieldPath is too long");
		}
	}
}

/* Split a checked dotted path into its components */
static char **
AggSplitPath(const char *path, int *nparts)
{
	char	   *copy = pstrdup(path);
	int			n = 1;
	char	  **parts;
	int			i = 0;

	for (const char *p = copy; *p; p++)
		if (*p == '.')
			n++;
	parts = palloc(sizeof(char *) * n);
	parts[i++] = copy;
	for (char *p = copy; *p; p++)
	{
		if (*p == '.')
		{
			*p = '\0';
			parts[i++] = p + 1;
		}
	}
	*nparts = n;
	return parts;
}

/* Raise a projection's compilation error, naming the stage as MongoDB does */
static BsonProjection *
AggCompileProjection(const char *stage, const uint8_t *data, uint32_t len,
					 const BsonCollation *collation, BsonProjectionMode mode)
{
	BsonQueryError error = {0};
	BsonProjection *p = BsonProjectionCompileMode(data, len, collation, mode, &error);

	if (p == NULL)
		MongoRaise(error.code, "Invalid %s :: caused by :: %s", stage,
				   error.message ? error.message : "invalid specification");
	return p;
}

/*
 * In a $replaceRoot's new root, field names of literal documents may not
 * hold dots (16412); projection.c would take them as paths.
 */
static void
AggCheckRootDocument(const bson_iter_t *value, int depth)
{
	bson_iter_t it;

	check_stack_depth();
	if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &it))
		return;
	if (bson_iter_next(&it) && bson_iter_key(&it)[0] == '$')
		return;					/* an operator expression */
	bson_iter_recurse(value, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (key[0] == '\0')
			MongoRaise(15998, "FieldPath field names may not be empty strings.");
		if (key[0] == '$')
			MongoRaise(16410, "FieldPath field names may not start with '$'. "
					   "Consider using $getField or $setField.");
		if (strchr(key, '.') != NULL)
			MongoRaise(16412, "FieldPath field names may not contain '.'. "
					   "Consider using $getField or $setField.");
		AggCheckRootDocument(&it, depth + 1);
	}
}

/* The $addFields spec {AGG_ROOT_FIELD: newRoot} of a $replaceRoot */
static BsonProjection *
AggCompileNewRoot(const char *stage, const bson_iter_t *new_root,
				  const BsonCollation *collation)
{
	bson_t		spec;
	BsonProjection *p;

	AggCheckRootDocument(new_root, 0);
	bson_init(&spec);
	bson_append_iter(&spec, AGG_ROOT_FIELD, -1, new_root);
	p = AggCompileProjection(stage, bson_get_data(&spec), spec.len, collation,
							 BSON_PROJECTION_ADD_FIELDS);
	bson_destroy(&spec);
	return p;
}

/* Compile one streaming stage into *stage (raising MongoDB's errors) */
static void
AggStageCompile(const char *name, const bson_iter_t *spec, const BsonCollation *collation,
				AggStage *stage)
{
	memset(stage, 0, sizeof(*stage));
	if (strcmp(name, "$match") == 0)
	{
		const uint8_t *data;
		uint32_t	len;
		BsonQueryError error = {0};

		if (!BSON_ITER_HOLDS_DOCUMENT(spec))
			MongoRaise(15959, "the match filter must be an expression in an object");
		bson_iter_document(spec, &len, &data);
		stage->kind = AGG_STAGE_MATCH;
		stage->filter = BsonFilterCompileCollated(data, len, collation, &error);
		if (stage->filter == NULL)
			MongoRaise(error.code, "%s", error.message ? error.message : "invalid filter");
	}
	else if (strcmp(name, "$project") == 0 || strcmp(name, "$addFields") == 0 ||
			 strcmp(name, "$set") == 0)
	{
		const uint8_t *data;
		uint32_t	len;
		bool		project = (name[1] == 'p');

		if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		{
			if (project)
				MongoRaise(15969, "$project specification must be an object");
			MongoRaise(40272, "%s specification stage must be an object, got %s", name,
					   BsonTypeName(bson_iter_type(spec)));
		}
		bson_iter_document(spec, &len, &data);
		if (project && len <= 5)
			MongoRaise(51272, "Invalid $project :: caused by :: projection specification must have at least one field");
		stage->kind = AGG_STAGE_PROJECT;
		stage->projection = AggCompileProjection(name, data, len, collation,
												 project ? BSON_PROJECTION_AGGREGATE :
												 BSON_PROJECTION_ADD_FIELDS);
	}
	else if (strcmp(name, "$unset") == 0)
	{
		bson_t		proj;
		bson_iter_t it;
		int			n = 0;

		bson_init(&proj);
		if (BSON_ITER_HOLDS_UTF8(spec))
		{
			uint32_t	len;
			const char *path = bson_iter_utf8(spec, &len);

			AggFieldPathCheck(path, len);
			BSON_APPEND_INT32(&proj, path, 0);
		}
		else if (BSON_ITER_HOLDS_ARRAY(spec))
		{
			bson_iter_recurse(spec, &it);
			while (bson_iter_next(&it))
				if (!BSON_ITER_HOLDS_UTF8(&it))
					MongoRaise(31120, "$unset specification must be a string or an array containing only string values");
			bson_iter_recurse(spec, &it);
			while (bson_iter_next(&it))
			{
				uint32_t	len;
				const char *path = bson_iter_utf8(&it, &len);

				if (strlen(path) != len)
					MongoRaise(9527900, "$unset specification must not contain embedded null bytes");
				AggFieldPathCheck(path, len);
				BSON_APPEND_INT32(&proj, path, 0);
				n++;
			}
			if (n == 0)
				MongoRaise(31119, "$unset specification must be a string or an array with at least one field");
		}
		else
			MongoRaise(31002, "$unset specification must be a string or an array");
		stage->kind = AGG_STAGE_PROJECT;
		stage->projection = AggCompileProjection("$unset", bson_get_data(&proj), proj.len,
												 collation, BSON_PROJECTION_AGGREGATE);
		bson_destroy(&proj);
	}
	else if (strcmp(name, "$replaceRoot") == 0)
	{
		bson_iter_t it;
		bool		found = false;

		if (!BSON_ITER_HOLDS_DOCUMENT(spec))
			MongoRaise(40229, "expected an object as specification for $replaceRoot stage, got %s",
					   BsonTypeName(bson_iter_type(spec)));
		bson_iter_recurse(spec, &it);
		while (bson_iter_next(&it))
		{
			if (strcmp(bson_iter_key(&it), "newRoot") == 0)
			{
				stage->projection = AggCompileNewRoot(name, &it, collation);
				found = true;
			}
			else
				MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
						   "BSON field '$replaceRoot.%s' is an unknown field.",
						   bson_iter_key(&it));
		}
		if (!found)
			MongoRaise(MONGO_IDL_MISSING_FIELD,
					   "BSON field '$replaceRoot.newRoot' is missing but a required field");
		stage->kind = AGG_STAGE_REPLACE_ROOT;
	}
	else if (strcmp(name, "$replaceWith") == 0)
	{
		stage->kind = AGG_STAGE_REPLACE_ROOT;
		stage->projection = AggCompileNewRoot(name, spec, collation);
	}
	else if (strcmp(name, "$unwind") == 0)
	{
		const char *path = NULL;
		uint32_t	len = 0;

		stage->kind = AGG_STAGE_UNWIND;
		if (BSON_ITER_HOLDS_UTF8(spec))
			path = bson_iter_utf8(spec, &len);
		else if (BSON_ITER_HOLDS_DOCUMENT(spec))
		{
			bson_iter_t it;

			bson_iter_recurse(spec, &it);
			while (bson_iter_next(&it))
			{
				const char *key = bson_iter_key(&it);

				if (strcmp(key, "path") == 0)
				{
					if (!BSON_ITER_HOLDS_UTF8(&it))
						MongoRaise(28808, "expected a string as the path for $unwind stage, got %s",
								   BsonTypeName(bson_iter_type(&it)));
					path = bson_iter_utf8(&it, &len);
				}
				else if (strcmp(key, "includeArrayIndex") == 0)
				{
					uint32_t	ilen;
					const char *index;

					if (!BSON_ITER_HOLDS_UTF8(&it))
						MongoRaise(28810, "expected a non-empty string for the includeArrayIndex  option to $unwind stage");
					index = bson_iter_utf8(&it, &ilen);
					if (ilen == 0)
						MongoRaise(28810, "expected a non-empty string for the includeArrayIndex  option to $unwind stage");
					if (index[0] == '$')
						MongoRaise(28822, "includeArrayIndex option to $unwind stage should not be prefixed with a '$': %s",
								   index);
					AggFieldPathCheck(index, ilen);
					stage->index_parts = AggSplitPath(index, &stage->index_nparts);
				}
				else if (strcmp(key, "preserveNullAndEmptyArrays") == 0)
				{
					if (!BSON_ITER_HOLDS_BOOL(&it))
						MongoRaise(28809, "expected a boolean for the preserveNullAndEmptyArrays option to $unwind stage");
					stage->preserve = bson_iter_bool(&it);
				}
				else
					MongoRaise(28811, "unrecognized option to $unwind stage: %s", key);
			}
			if (path == NULL)
				MongoRaise(28812, "no path specified to $unwind stage");
		}
		else
			MongoRaise(15981, "expected either a string or an object as specification for $unwind stage, got %s",
					   BsonTypeName(bson_iter_type(spec)));
		if (len == 0)
			MongoRaise(28812, "no path specified to $unwind stage");
		if (path[0] != '$')
			MongoRaise(28818, "path option to $unwind stage should be prefixed with a '$': %s",
					   path);
		AggFieldPathCheck(path + 1, len - 1);
		stage->parts = AggSplitPath(path + 1, &stage->nparts);
	}
	else if (strcmp(name, "$redact") == 0)
	{
		BsonQueryError error = {0};

		stage->kind = AGG_STAGE_REDACT;
		stage->scope = AggExprScopeNew();
		for (int i = 0; i < 3; i++)
			(void) AggExprScopeDefine(stage->scope, agg_redact_names[i]);
		stage->expr = AggExprParse(spec, stage->scope, &error);
		if (stage->expr == NULL)
			MongoRaise(error.code, "%s", error.message ? error.message : "invalid expression");
		stage->collation = collation;
	}
	else
		elog(ERROR, "not a streaming aggregation stage: %s", name);
}

bool
AggStageIsStreaming(const char *name)
{
	return strcmp(name, "$match") == 0 || strcmp(name, "$project") == 0 ||
		strcmp(name, "$addFields") == 0 || strcmp(name, "$set") == 0 ||
		strcmp(name, "$unset") == 0 || strcmp(name, "$replaceRoot") == 0 ||
		strcmp(name, "$replaceWith") == 0 || strcmp(name, "$unwind") == 0 ||
		strcmp(name, "$redact") == 0;
}

void
AggStageValidate(const char *name, const bson_iter_t *spec, const BsonCollation *collation)
{
	AggStage	stage;

	AggStageCompile(name, spec, collation, &stage);
}

AggChain *
AggChainCompile(const uint8_t *data, uint32_t len)
{
	AggChain   *chain = palloc0(sizeof(AggChain));
	bson_t		doc;
	bson_iter_t it;
	bson_iter_t stages;
	int			n = 0;

	if (!bson_init_static(&doc, data, len))
		elog(ERROR, "invalid aggregation chain");
	if (bson_iter_init_find(&it, &doc, "c") && BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		const uint8_t *c;
		uint32_t	clen;

		bson_iter_document(&it, &clen, &c);
		chain->collation = CompileCollation(c, clen);
	}
	if (bson_iter_init_find(&it, &doc, "m") && BSON_ITER_HOLDS_BOOL(&it))
		chain->meta = bson_iter_bool(&it);
	if (!bson_iter_init_find(&it, &doc, "s") || !BSON_ITER_HOLDS_ARRAY(&it))
		elog(ERROR, "invalid aggregation chain");
	bson_iter_recurse(&it, &stages);
	while (bson_iter_next(&stages))
		n++;
	chain->stages = palloc0(sizeof(AggStage) * Max(n, 1));
	bson_iter_recurse(&it, &stages);
	while (bson_iter_next(&stages))
	{
		bson_iter_t stage;

		if (!bson_iter_recurse(&stages, &stage) || !bson_iter_next(&stage))
			elog(ERROR, "invalid aggregation chain");
		AggStageCompile(bson_iter_key(&stage), &stage, chain->collation,
						&chain->stages[chain->nstages++]);
	}
	return chain;
}

/* ---- applying ---- */

/*
 * The value at a dotted path, through embedded documents only (as
 * MongoDB's Document::getNestedField); false when missing.
 */
static bool
AggGetPath(const uint8_t *data, uint32_t len, char **parts, int nparts, bson_iter_t *out)
{
	bson_t		doc;
	bson_iter_t it;

	for (int i = 0; i < nparts; i++)
	{
		if (!bson_init_static(&doc, data, len) || !bson_iter_init_find(&it, &doc, parts[i]))
			return false;
		if (i == nparts - 1)
		{
			*out = it;
			return true;
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			return false;
		bson_iter_document(&it, &len, &data);
	}
	return false;
}

/*
 * Copy a document with the value at a dotted path replaced (in place) or
 * added (at the end, creating embedded documents), or removed (value
 * NULL).  A non-document on the way is replaced by a document.
 */
static void
AggSetPath(const uint8_t *data, uint32_t len, char **parts, int nparts,
		   const bson_value_t *value, bson_t *out)
{
	bson_t		doc;
	bson_iter_t it;
	bool		found = false;

	check_stack_depth();
	if (bson_init_static(&doc, data, len) && bson_iter_init(&it, &doc))
	{
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);

			if (found || strcmp(key, parts[0]) != 0)
			{
				bson_append_iter(out, NULL, 0, &it);
				continue;
			}
			found = true;
			if (nparts == 1)
			{
				if (value != NULL)
					bson_append_value(out, key, -1, value);
			}
			else if (BSON_ITER_HOLDS_DOCUMENT(&it))
			{
				const uint8_t *sub;
				uint32_t	sublen;
				bson_t		child;

				bson_iter_document(&it, &sublen, &sub);
				bson_append_document_begin(out, key, -1, &child);
				AggSetPath(sub, sublen, parts + 1, nparts - 1, value, &child);
				bson_append_document_end(out, &child);
			}
			else if (value != NULL)
			{
				bson_t		child;

				bson_append_document_begin(out, key, -1, &child);
				AggSetPath(agg_empty_doc, sizeof(agg_empty_doc), parts + 1, nparts - 1,
						   value, &child);
				bson_append_document_end(out, &child);
			}
			else
				bson_append_iter(out, NULL, 0, &it);
		}
	}
	if (!found && value != NULL)
	{
		if (nparts == 1)
			bson_append_value(out, parts[0], -1, value);
		else
		{
			bson_t		child;

			bson_append_document_begin(out, parts[0], -1, &child);
			AggSetPath(agg_empty_doc, sizeof(agg_empty_doc), parts + 1, nparts - 1, value,
					   &child);
			bson_append_document_end(out, &child);
		}
	}
}

/* A bson_t's bytes as a palloc'd copy (the bson_t is destroyed) */
static uint8_t *
AggTakeBytes(bson_t *b, uint32_t *len)
{
	uint8_t    *copy = palloc(b->len);

	memcpy(copy, bson_get_data(b), b->len);
	*len = b->len;
	bson_destroy(b);
	return copy;
}

static void AggChainApply(const AggChain *chain, int from, const uint8_t *doc,
						  uint32_t len, List **out);

/* $unwind of one document */
static void
AggUnwind(const AggChain *chain, int i, const uint8_t *doc, uint32_t len, List **out)
{
	const AggStage *st = &chain->stages[i];
	bson_iter_t value;
	bool		present = AggGetPath(doc, len, st->parts, st->nparts, &value);
	bson_value_t index;

	if (present && BSON_ITER_HOLDS_ARRAY(&value))
	{
		bson_iter_t elem;
		int64		n = 0;

		bson_iter_recurse(&value, &elem);
		while (bson_iter_next(&elem))
		{
			bson_t		b;
			uint32_t	blen;
			uint8_t    *bytes;

			CHECK_FOR_INTERRUPTS();
			bson_init(&b);
			AggSetPath(doc, len, st->parts, st->nparts, bson_iter_value(&elem), &b);
			if (st->index_parts != NULL)
			{
				bson_t		c;

				index.value_type = BSON_TYPE_INT64;
				index.value.v_int64 = n;
				bson_init(&c);
				AggSetPath(bson_get_data(&b), b.len, st->index_parts, st->index_nparts,
						   &index, &c);
				bson_destroy(&b);
				b = c;
			}
			bytes = AggTakeBytes(&b, &blen);
			AggChainApply(chain, i + 1, bytes, blen, out);
			n++;
		}
		if (n > 0 || !st->preserve)
			return;
		/* an empty array kept: the field goes */
		{
			bson_t		b;
			uint32_t	blen;
			uint8_t    *bytes;

			bson_init(&b);
			AggSetPath(doc, len, st->parts, st->nparts, NULL, &b);
			if (st->index_parts != NULL)
			{
				bson_t		c;

				index.value_type = BSON_TYPE_NULL;
				bson_init(&c);
				AggSetPath(bson_get_data(&b), b.len, st->index_parts, st->index_nparts,
						   &index, &c);
				bson_destroy(&b);
				b = c;
			}
			bytes = AggTakeBytes(&b, &blen);
			AggChainApply(chain, i + 1, bytes, blen, out);
		}
		return;
	}
	if (!present || BSON_ITER_HOLDS_NULL(&value) || BSON_ITER_HOLDS_UNDEFINED(&value))
	{
		if (!st->preserve)
			return;
	}
	/* a scalar is an array of itself; null and missing kept as they are */
	if (st->index_parts != NULL)
	{
		bson_t		b;
		uint32_t	blen;
		uint8_t    *bytes;

		if (present && !BSON_ITER_HOLDS_NULL(&value) && !BSON_ITER_HOLDS_UNDEFINED(&value))
		{
			index.value_type = BSON_TYPE_NULL;
		}
		else
			index.value_type = BSON_TYPE_NULL;
		bson_init(&b);
		AggSetPath(doc, len, st->index_parts, st->index_nparts, &index, &b);
		bytes = AggTakeBytes(&b, &blen);
		AggChainApply(chain, i + 1, bytes, blen, out);
		return;
	}
	AggChainApply(chain, i + 1, doc, len, out);
}

/* ---- $redact ---- */

typedef enum AggRedactAction
{
	AGG_REDACT_DESCEND,
	AGG_REDACT_PRUNE,
	AGG_REDACT_KEEP
} AggRedactAction;

/* What $redact's expression says of one (sub)document */
static AggRedactAction
AggRedactDecide(const AggStage *st, const uint8_t *root, uint32_t root_len,
				const uint8_t *current, uint32_t current_len, AggArena *arena)
{
	AggExprContext cx = {0};
	BsonQueryError error = {0};
	bson_value_t slots[3];
	bson_value_t v;
	int			nslots = AggExprScopeSlots(st->scope);

	cx.root = root;
	cx.root_len = root_len;
	cx.current = current;
	cx.current_len = current_len;
	cx.arena = arena;
	cx.collation = st->collation;
	cx.nslots = nslots;
	cx.slots = nslots > 3 ? AggArenaAlloc(arena, sizeof(bson_value_t) * nslots) : slots;
	for (int i = 0; i < 3; i++)
	{
		cx.slots[i].value_type = BSON_TYPE_UTF8;
		cx.slots[i].value.v_utf8.str = (char *) agg_redact_values[i];
		cx.slots[i].value.v_utf8.len = strlen(agg_redact_values[i]);
	}
	if (!AggExprEval(st->expr, &cx, &v, &error))
		MongoRaise(error.code, "%s", error.message ? error.message : "invalid expression");
	if (v.value_type == BSON_TYPE_UTF8)
		for (int i = 0; i < 3; i++)
			if (v.value.v_utf8.len == strlen(agg_redact_values[i]) &&
				memcmp(v.value.v_utf8.str, agg_redact_values[i], v.value.v_utf8.len) == 0)
				return (AggRedactAction) i;
	MongoRaise(17053, "$redact's expression should not return anything aside from the variables $$KEEP, $$DESCEND, and $$PRUNE, but returned %s",
			   v.value_type == BSON_TYPE_EOD ? "MISSING" : BsonTypeName(v.value_type));
}

static bool AggRedactDocument(const AggStage *st, const uint8_t *root, uint32_t root_len,
							  const uint8_t *doc, uint32_t len, AggArena *arena, bson_t *out);

/* The elements of an array that $redact keeps, appended to out */
static void
AggRedactArray(const AggStage *st, const uint8_t *root, uint32_t root_len,
			   const bson_iter_t *array, AggArena *arena, bson_t *out)
{
	bson_iter_t it;
	uint32_t	n = 0;

	check_stack_depth();
	bson_iter_recurse(array, &it);
	while (bson_iter_next(&it))
	{
		char		key[16];
		const char *keyp;

		bson_uint32_to_string(n, &keyp, key, sizeof(key));
		if (BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *data;
			uint32_t	len;
			bson_t		sub;

			bson_iter_document(&it, &len, &data);
			bson_init(&sub);
			if (AggRedactDocument(st, root, root_len, data, len, arena, &sub))
			{
				/* a pruned element is dropped, and the next takes its index */
				bson_append_document(out, keyp, -1, &sub);
				n++;
			}
			bson_destroy(&sub);
		}
		else if (BSON_ITER_HOLDS_ARRAY(&it))
		{
			bson_t		sub;

			bson_append_array_begin(out, keyp, -1, &sub);
			AggRedactArray(st, root, root_len, &it, arena, &sub);
			bson_append_array_end(out, &sub);
			n++;
		}
		else
		{
			bson_append_iter(out, keyp, -1, &it);
			n++;
		}
	}
}

/*
 * $redact over one document (the root or an embedded one): false when
 * pruned, else its kept content appended to out.
 */
static bool
AggRedactDocument(const AggStage *st, const uint8_t *root, uint32_t root_len,
				  const uint8_t *doc, uint32_t len, AggArena *arena, bson_t *out)
{
	bson_iter_t it;
	bson_t		view;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	switch (AggRedactDecide(st, root, root_len, doc, len, arena))
	{
		case AGG_REDACT_PRUNE:
			return false;
		case AGG_REDACT_KEEP:
			bson_init_static(&view, doc, len);
			bson_concat(out, &view);
			return true;
		case AGG_REDACT_DESCEND:
			break;
	}
	if (!bson_init_static(&view, doc, len) || !bson_iter_init(&it, &view))
		return true;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *data;
			uint32_t	dlen;
			bson_t		sub;

			bson_iter_document(&it, &dlen, &data);
			bson_init(&sub);
			if (AggRedactDocument(st, root, root_len, data, dlen, arena, &sub))
				bson_append_document(out, key, -1, &sub);
			bson_destroy(&sub);
		}
		else if (BSON_ITER_HOLDS_ARRAY(&it))
		{
			bson_t		sub;

			bson_init(&sub);
			AggRedactArray(st, root, root_len, &it, arena, &sub);
			bson_append_array(out, key, -1, &sub);
			bson_destroy(&sub);
		}
		else
			bson_append_iter(out, key, -1, &it);
	}
	return true;
}

/*
 * Run a document through the stages from..end of a chain, appending the
 * documents that come out (palloc'd Bson datums) to *out.
 */
static void
AggChainApply(const AggChain *chain, int from, const uint8_t *doc, uint32_t len, List **out)
{
	for (int i = from; i < chain->nstages; i++)
	{
		const AggStage *st = &chain->stages[i];

		switch (st->kind)
		{
			case AGG_STAGE_MATCH:
				if (!BsonFilterMatches(st->filter, doc, len))
					return;
				break;
			case AGG_STAGE_PROJECT:
			case AGG_STAGE_REPLACE_ROOT:
				{
					bson_t		b;
					BsonQueryError error = {0};

					if (!BsonProjectionApply(st->projection, doc, len, -1, &b, &error))
						MongoRaise(error.code, "%s", error.message);
					if (st->kind == AGG_STAGE_REPLACE_ROOT)
					{
						bson_iter_t it;

						if (!bson_iter_init_find(&it, &b, AGG_ROOT_FIELD))
							MongoRaise(40228, "'newRoot' expression must evaluate to an object, but resulting value was: MISSING. Type of resulting value: 'missing'.");
						if (!BSON_ITER_HOLDS_DOCUMENT(&it))
							MongoRaise(40228, "'newRoot' expression must evaluate to an object, but resulting value was of type '%s'.",
									   BsonTypeName(bson_iter_type(&it)));
						bson_iter_document(&it, &len, &doc);
						doc = memcpy(palloc(len), doc, len);
						bson_destroy(&b);
					}
					else
						doc = AggTakeBytes(&b, &len);
				}
				break;
			case AGG_STAGE_UNWIND:
				AggUnwind(chain, i, doc, len, out);
				return;
			case AGG_STAGE_REDACT:
				{
					bson_t		b;
					AggArena	arena = {NULL};
					bool		kept;

					bson_init(&b);
					kept = AggRedactDocument(st, doc, len, doc, len, &arena, &b);
					AggArenaReset(&arena);
					if (!kept)
					{
						bson_destroy(&b);
						return;
					}
					doc = AggTakeBytes(&b, &len);
				}
				break;
		}
	}
	{
		Bson	   *b = palloc(VARHDRSZ + len);

		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), doc, len);
		*out = lappend(*out, b);
	}
}

/* ---- metadata ---- */

/*
 * Split a document into its fields and its metadata: its AGG_META_FIELD
 * document, if there is one (last, unless a $lookup added a field after
 * it).  *body is the document without it (palloc'd), or doc itself.
 */
static void
AggMetaSplit(const uint8_t *doc, uint32_t len, const uint8_t **body, uint32_t *body_len,
			 const uint8_t **meta, uint32_t *meta_len)
{
	bson_t		d;
	bson_iter_t it;
	bool		found = false;

	*body = doc;
	*body_len = len;
	*meta = NULL;
	*meta_len = 0;
	if (!bson_init_static(&d, doc, len) || !bson_iter_init(&it, &d))
		return;
	while (!found && bson_iter_next(&it))
		found = strcmp(bson_iter_key(&it), AGG_META_FIELD) == 0 &&
			BSON_ITER_HOLDS_DOCUMENT(&it);
	if (!found)
		return;
	{
		bson_t		out;

		bson_init(&out);
		bson_iter_init(&it, &d);
		while (bson_iter_next(&it))
		{
			if (strcmp(bson_iter_key(&it), AGG_META_FIELD) == 0)
				bson_iter_document(&it, meta_len, meta);
			else
				bson_append_iter(&out, NULL, 0, &it);
		}
		*body = AggTakeBytes(&out, body_len);
	}
}

/* A Bson datum of a document with its metadata appended (none: a copy) */
static Bson *
AggMetaAttach(const uint8_t *doc, uint32_t len, const uint8_t *meta, uint32_t meta_len)
{
	bson_t		out;
	bson_t		d;
	bson_t		m;
	Bson	   *result;

	bson_init_static(&d, doc, len);
	bson_init(&out);
	bson_concat(&out, &d);
	if (meta != NULL)
	{
		bson_init_static(&m, meta, meta_len);
		bson_append_document(&out, AGG_META_FIELD, -1, &m);
	}
	result = BsonDatumFromBson(&out);
	bson_destroy(&out);
	return result;
}

/* AggChainApply with the metadata $meta reads set around it */
static void
AggChainApplyMeta(const AggChain *chain, const uint8_t *doc, uint32_t len,
				  const uint8_t *meta, uint32_t meta_len, List **out)
{
	AggExprSetMeta(meta, meta_len);
	PG_TRY();
	{
		AggChainApply(chain, 0, doc, len, out);
	}
	PG_FINALLY();
	{
		AggExprSetMeta(NULL, 0);
	}
	PG_END_TRY();
}

/*
 * nosql.bson_meta_set(document bson, name text, value float8) RETURNS bson
 *
 * The document with a metadata value (the score of $rankFusion) set.
 */
PG_FUNCTION_INFO_V1(bson_meta_set);
Datum
bson_meta_set(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	double		value = PG_GETARG_FLOAT8(2);
	const uint8_t *body;
	uint32_t	body_len;
	const uint8_t *meta;
	uint32_t	meta_len;
	bson_t		m;
	Bson	   *result;

	if (BsonIsScalar(doc))
		PG_RETURN_BSON_P(doc);
	AggMetaSplit(BsonBytes(doc), BsonDocLen(doc), &body, &body_len, &meta, &meta_len);
	bson_init(&m);
	if (meta != NULL)
	{
		bson_t		old;
		bson_iter_t it;

		bson_init_static(&old, meta, meta_len);
		bson_iter_init(&it, &old);
		while (bson_iter_next(&it))
			if (strcmp(bson_iter_key(&it), name) != 0)
				bson_append_iter(&m, NULL, 0, &it);
	}
	bson_append_double(&m, name, -1, value);
	result = AggMetaAttach(body, body_len, bson_get_data(&m), m.len);
	bson_destroy(&m);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_meta_strip(document bson) RETURNS bson
 *
 * The document without its metadata: what a pipeline returns.
 */
PG_FUNCTION_INFO_V1(bson_meta_strip);
Datum
bson_meta_strip(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	const uint8_t *body;
	uint32_t	body_len;
	const uint8_t *meta;
	uint32_t	meta_len;

	if (BsonIsScalar(doc))
		PG_RETURN_BSON_P(doc);
	AggMetaSplit(BsonBytes(doc), BsonDocLen(doc), &body, &body_len, &meta, &meta_len);
	if (meta == NULL)
		PG_RETURN_BSON_P(doc);
	PG_RETURN_BSON_P(AggMetaAttach(body, body_len, NULL, 0));
}

/*
 * Run one document through a chain of the stages an update pipeline may
 * hold ($addFields/$set, $project, $unset, $replaceRoot/$replaceWith),
 * which give exactly one document each: it is appended to out.
 */
void
AggChainApplyOne(const AggChain *chain, const uint8_t *doc, uint32_t len, bson_t *out)
{
	List	   *outs = NIL;
	Bson	   *result;
	bson_t		b;

	AggChainApply(chain, 0, doc, len, &outs);
	if (list_length(outs) != 1)
		elog(ERROR, "an update pipeline gave %d documents", list_length(outs));
	result = linitial(outs);
	bson_init_static(&b, BsonBytes(result), BsonDocLen(result));
	bson_concat(out, &b);
	list_free_deep(outs);
}

/*
 * Apply a chain to one document: its outputs (Bson *, none when a $match
 * drops it) are appended to *out, in the current memory context.
 */
void
AggChainApplyAll(const AggChain *chain, const uint8_t *doc, uint32_t len, List **out)
{
	AggChainApply(chain, 0, doc, len, out);
}

/* ---- SQL functions ---- */

/* What nosql.bson_aggregate_stream keeps between calls, in fn_extra */
typedef struct AggStreamState
{
	uint32_t	chain_len;		/* the chain it compiled */
	uint8_t    *chain_bytes;
	AggChain   *chain;
	MemoryContext row_context;	/* outputs of the current input row */
	List	   *pending;		/* outputs not returned yet */
	ListCell   *next;
	bool		in_row;			/* returning the outputs of a row */
} AggStreamState;

/* The executor restarts (or abandons) the function: forget the row */
static void
AggStreamReset(Datum arg)
{
	AggStreamState *state = (AggStreamState *) DatumGetPointer(arg);

	state->in_row = false;
	state->pending = NIL;
}

/*
 * nosql.bson_aggregate_stream(document bson, chain bson) RETURNS SETOF bson
 *
 * Value-per-call: the outputs of one input document are computed at its
 * first call and returned one a call.
 */
PG_FUNCTION_INFO_V1(bson_aggregate_stream);
Datum
bson_aggregate_stream(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AggStreamState *state = fcinfo->flinfo->fn_extra;
	Bson	   *result;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_ValuePerCall) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	if (state == NULL)
	{
		state = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AggStreamState));
		state->row_context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												   "nosql aggregate stream row",
												   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = state;
	}

	if (!state->in_row)
	{
		Bson	   *doc;
		Bson	   *chain;
		MemoryContext old;

		if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		{
			rsinfo->isDone = ExprEndResult;
			PG_RETURN_NULL();
		}
		doc = PG_GETARG_BSON_P(0);
		chain = PG_GETARG_BSON_P(1);
		if (state->chain == NULL || state->chain_len != BsonDocLen(chain) ||
			memcmp(state->chain_bytes, BsonBytes(chain), state->chain_len) != 0)
		{
			old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
			state->chain_len = BsonDocLen(chain);
			state->chain_bytes = palloc(state->chain_len);
			memcpy(state->chain_bytes, BsonBytes(chain), state->chain_len);
			state->chain = AggChainCompile(state->chain_bytes, state->chain_len);
			MemoryContextSwitchTo(old);
		}
		MemoryContextReset(state->row_context);
		old = MemoryContextSwitchTo(state->row_context);
		state->pending = NIL;
		if (state->chain->meta)
		{
			const uint8_t *body;
			uint32_t	body_len;
			const uint8_t *meta;
			uint32_t	meta_len;

			/* the stages see the fields; $meta reads the metadata */
			AggMetaSplit(BsonBytes(doc), BsonDocLen(doc), &body, &body_len, &meta, &meta_len);
			AggChainApplyMeta(state->chain, body, body_len, meta, meta_len, &state->pending);
			if (meta != NULL)
			{
				ListCell   *lc;

				/* the outputs keep it */
				foreach(lc, state->pending)
				{
					Bson	   *b = lfirst(lc);

					lfirst(lc) = AggMetaAttach(BsonBytes(b), BsonDocLen(b), meta, meta_len);
				}
			}
		}
		else
			AggChainApply(state->chain, 0, BsonBytes(doc), BsonDocLen(doc), &state->pending);
		MemoryContextSwitchTo(old);
		if (state->pending == NIL)
		{
			rsinfo->isDone = ExprEndResult;
			PG_RETURN_NULL();
		}
		state->next = list_head(state->pending);
		state->in_row = true;
		RegisterExprContextCallback(rsinfo->econtext, AggStreamReset,
									PointerGetDatum(state));
	}
	if (state->next == NULL)
	{
		state->in_row = false;
		UnregisterExprContextCallback(rsinfo->econtext, AggStreamReset,
									  PointerGetDatum(state));
		rsinfo->isDone = ExprEndResult;
		PG_RETURN_NULL();
	}
	result = lfirst(state->next);
	state->next = lnext(state->pending, state->next);
	rsinfo->isDone = ExprMultipleResult;
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_aggregate_count(n bigint, field text) RETURNS bson
 *
 * The document of $count: {field: n}, an int32 when n fits.
 */
PG_FUNCTION_INFO_V1(bson_aggregate_count);
Datum
bson_aggregate_count(PG_FUNCTION_ARGS)
{
	int64		n = PG_GETARG_INT64(0);
	char	   *field = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bson_t		doc;
	Bson	   *result;

	bson_init(&doc);
	if (n >= PG_INT32_MIN && n <= PG_INT32_MAX)
		BSON_APPEND_INT32(&doc, field, (int32) n);
	else
		BSON_APPEND_INT64(&doc, field, n);
	result = BsonDatumFromBson(&doc);
	bson_destroy(&doc);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_aggregate_documents(documents bson) RETURNS SETOF bson
 *
 * The documents of an array (the source of a $documents pipeline).
 */
PG_FUNCTION_INFO_V1(bson_aggregate_documents);
Datum
bson_aggregate_documents(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	bson_iter_t *it;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		Bson	   *arg;
		bson_iter_t value;
		bson_t		holder;
		uint8_t    *buf;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		arg = (Bson *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
		/* bson_iter_t wants 128-byte alignment: palloc gives less */
		buf = palloc(sizeof(bson_iter_t) + 128);
		it = (bson_iter_t *) TYPEALIGN(128, buf);
		if (!BsonValueIter(arg, &value, &holder) || !BSON_ITER_HOLDS_ARRAY(&value))
			bson_iter_init_from_data(it, agg_empty_doc, sizeof(agg_empty_doc));
		else
			bson_iter_recurse(&value, it);
		funcctx->user_fctx = it;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	it = funcctx->user_fctx;
	while (bson_iter_next(it))
	{
		const uint8_t *data;
		uint32_t	len;
		Bson	   *b;

		if (!BSON_ITER_HOLDS_DOCUMENT(it))
			MongoRaise(40228, "'newRoot' expression must evaluate to an object, but resulting value was of type '%s'.",
					   BsonTypeName(bson_iter_type(it)));
		bson_iter_document(it, &len, &data);
		b = palloc(VARHDRSZ + len);
		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), data, len);
		SRF_RETURN_NEXT(funcctx, PointerGetDatum(b));
	}
	SRF_RETURN_DONE(funcctx);
}
