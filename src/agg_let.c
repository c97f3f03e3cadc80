/*-------------------------------------------------------------------------
 *
 * agg_let.c
 *	  User variables of a command (let) and of $lookup (let), and the
 *	  constant $$NOW and $$CLUSTER_TIME of a command.
 *
 * Design note
 * -----------
 * The expressions of a pipeline are parsed in many places (the streaming
 * stages, $group, projections, $match's $expr), each with its own scope,
 * and run in C functions that the SQL of the pipeline calls row by row.
 * Instead of handing a variables document to every one of them, the
 * values are bound into the pipeline before it is translated: every
 * reference "$$name" or "$$name.path" to a bound variable becomes
 *
 *	{$let: {vars: {name: {$literal: value}}, in: "$$name.path"}}
 *
 * which the expression engine evaluates with MongoDB's path semantics, and
 * "$$NOW" and "$$CLUSTER_TIME" become literals of the command's time, so
 * that they are one value for the whole command.  The binder knows where
 * expressions are: in $match only under $expr, in $lookup's let (the outer
 * scope) and pipeline (where the let names are bound by the inner let),
 * $facet's and $unionWith's pipelines, and elsewhere every value of a
 * stage; a name bound by $let, $map, $filter or $reduce shadows a variable
 * of the same name in its scope, and $literal is left alone.
 *
 * A command's let is evaluated once, before the pipeline: its values may
 * use the variables before them, not fields (4890500) nor the system
 * variables (51144).  A $lookup's let is evaluated per outer document, so
 * a $lookup with let variables runs its sub-pipeline per outer document
 * (nosql.bson_lookup_let in agg_pipeline.c): the let values are bound into
 * the sub-pipeline and the bound pipeline is translated and run, its plan
 * cached by its SQL text.
 *
 * IDENTIFICATION
 *	  src/agg_let.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "agg.h"
#include "documents.h"
#include "expr_internal.h"
#include "nosql.h"

/* What binding needs: the values and the names shadowed where we are */
typedef struct AggBinder
{
	const bson_t *vars;			/* {name: value}; NULL: none */
	int64		now_ms;
	bool		bind_now;		/* bind $$NOW and $$CLUSTER_TIME */
	const char **shadow;		/* names bound by inner scopes */
	int			nshadow;
	int			maxshadow;
} AggBinder;

static void AggBindExprValue(AggBinder *bd, const bson_iter_t *it, const char *key,
							 bson_t *out);
static void AggBindPipelineValue(AggBinder *bd, const bson_iter_t *it, const char *key,
								 bson_t *out);

/* ---- evaluating let ---- */

/* Whether an expression reads fields (ROOT, CURRENT) or the system variables */
static void
AggLetVarUse(const AggExpr *e, bool *fields, bool *system)
{
	if (e == NULL)
		return;
	if (e->kind == AGG_EXPR_FIELD)
	{
		if (e->var == AGG_VAR_ROOT || e->var == AGG_VAR_CURRENT)
			*fields = true;
		else if (e->var == AGG_VAR_NOW || e->var == AGG_VAR_CLUSTER_TIME)
			*system = true;
	}
	for (int i = 0; i < e->nargs; i++)
		AggLetVarUse(e->args[i], fields, system);
}

/*
 * Evaluate the let document at it into vars ({name: value}), the names
 * checked by the caller.  A command's let (root NULL) runs before any
 * document; a $lookup's sees the outer document as $$ROOT.  Each value may
 * use the variables before it.
 */
void
AggLetEvaluate(const bson_iter_t *let, const uint8_t *root, uint32_t root_len,
			   int64 now_ms, bson_t *vars)
{
	AggExprScope *scope = AggExprScopeNew();
	AggArena	arena = {NULL};
	bson_value_t *slots;
	int			n = 0;
	int			maxslots;
	int			nmissing = 0;
	bson_t		missing;
	bson_iter_t it;

	bson_iter_recurse(let, &it);
	while (bson_iter_next(&it))
		n++;
	maxslots = Max(n, 8);
	slots = palloc0(sizeof(bson_value_t) * maxslots);
	bson_init(&missing);
	bson_iter_recurse(let, &it);
	while (bson_iter_next(&it))
	{
		BsonQueryError error = {0};
		AggExprContext cx = {0};
		AggExpr    *expr = AggExprParse(&it, scope, &error);
		bson_value_t v;
		int			slot;

		if (expr == NULL)
			MongoRaise(error.code, "%s", error.message ? error.message : "invalid expression");
		if (root == NULL)
		{
			bool		fields = false;
			bool		system = false;

			AggLetVarUse(expr, &fields, &system);
			if (fields)
				MongoRaise(4890500,
						   "Command let Expression tried to access a field, but this is not allowed because command let expressions run before the query examines any documents.");
			if (system)
				MongoRaise(51144,
						   "Attempt to use a system variable in the command let parameter '%s'",
						   bson_iter_key(&it));
		}
		/* the slots of the variables before it and of those it binds itself */
		if (AggExprScopeSlots(scope) + 1 > maxslots)
		{
			maxslots = (AggExprScopeSlots(scope) + 1) * 2;
			slots = repalloc(slots, sizeof(bson_value_t) * maxslots);
		}
		cx.root = root;
		cx.root_len = root_len;
		cx.slots = slots;
		cx.nslots = AggExprScopeSlots(scope);
		cx.now_ms = now_ms;
		cx.arena = &arena;
		if (!AggExprEval(expr, &cx, &v, &error))
			MongoRaise(error.code, "%s", error.message ? error.message : "invalid expression");
		slot = AggExprScopeDefine(scope, bson_iter_key(&it));
		Assert(slot < maxslots);
		/* a missing value is bound as missing: its name is listed under "" */
		if (v.value_type != BSON_TYPE_EOD)
			bson_append_value(vars, bson_iter_key(&it), -1, &v);
		else
		{
			char		k[16];
			const char *kp;

			bson_uint32_to_string(nmissing++, &kp, k, sizeof(k));
			bson_append_utf8(&missing, kp, -1, bson_iter_key(&it), -1);
		}
		slots[slot] = v;
	}
	if (nmissing > 0)
		bson_append_array(vars, "", 0, &missing);
	bson_destroy(&missing);
	AggArenaReset(&arena);
	AggExprScopeFree(scope);
	pfree(slots);
}

/* ---- binding ---- */

static bool
AggBinderShadowed(const AggBinder *bd, const char *name, size_t len)
{
	for (int i = 0; i < bd->nshadow; i++)
		if (strlen(bd->shadow[i]) == len && memcmp(bd->shadow[i], name, len) == 0)
			return true;
	return false;
}

static void
AggBinderPush(AggBinder *bd, const char *name)
{
	if (bd->nshadow == bd->maxshadow)
	{
		bd->maxshadow = Max(8, bd->maxshadow * 2);
		bd->shadow = bd->shadow == NULL ? palloc(sizeof(char *) * bd->maxshadow) :
			repalloc(bd->shadow, sizeof(char *) * bd->maxshadow);
	}
	bd->shadow[bd->nshadow++] = name;
}

/* Shadow the keys of a document (the vars of $let, the let of $lookup) */
static int
AggBinderPushKeys(AggBinder *bd, const bson_iter_t *doc)
{
	bson_iter_t it;
	int			n = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(doc))
		return 0;
	bson_iter_recurse(doc, &it);
	while (bson_iter_next(&it))
	{
		AggBinderPush(bd, bson_iter_key(&it));
		n++;
	}
	return n;
}

/*
 * A string of an expression: a reference to a bound variable becomes its
 * value; true when it was one (appended), false to copy the string.
 */
static bool
AggBindReference(AggBinder *bd, const char *s, uint32_t len, const char *key, bson_t *out)
{
	const char *name = s + 2;
	const char *dot;
	size_t		nlen;
	bson_iter_t v;

	if (len < 3 || s[0] != '$' || s[1] != '$')
		return false;
	dot = memchr(name, '.', len - 2);
	nlen = dot != NULL ? (size_t) (dot - name) : len - 2;
	if (bd->bind_now && dot == NULL &&
		(strcmp(name, "NOW") == 0 || strcmp(name, "CLUSTER_TIME") == 0))
	{
		bson_t		lit;

		bson_append_document_begin(out, key, -1, &lit);
		if (name[0] == 'N')
			bson_append_date_time(&lit, "$literal", 8, bd->now_ms);
		else
			bson_append_timestamp(&lit, "$literal", 8, (uint32_t) (bd->now_ms / 1000), 1);
		bson_append_document_end(out, &lit);
		return true;
	}
	if (bd->vars == NULL || AggBinderShadowed(bd, name, nlen))
		return false;
	{
		char	   *copy = pnstrdup(name, nlen);
		bool		found = bson_iter_init_find(&v, bd->vars, copy);
		bson_t		let;
		bson_t		letvars;
		bson_t		lit;

		if (!found)
		{
			bool		missing = false;
			bson_iter_t all;

			/* a variable bound to missing is in the list of names only */
			if (bson_iter_init_find(&all, bd->vars, "") && BSON_ITER_HOLDS_ARRAY(&all))
			{
				bson_iter_t el;

				bson_iter_recurse(&all, &el);
				while (bson_iter_next(&el))
					if (BSON_ITER_HOLDS_UTF8(&el) &&
						strcmp(bson_iter_utf8(&el, NULL), copy) == 0)
						missing = true;
			}
			if (!missing)
			{
				pfree(copy);
				return false;
			}
		}
		bson_append_document_begin(out, key, -1, &let);
		bson_append_document_begin(&let, "$let", 4, &letvars);
		{
			bson_t		vs;

			bson_append_document_begin(&letvars, "vars", 4, &vs);
			if (found)
			{
				bson_append_document_begin(&vs, copy, -1, &lit);
				bson_append_iter(&lit, "$literal", 8, &v);
				bson_append_document_end(&vs, &lit);
			}
			else
				bson_append_utf8(&vs, copy, -1, "$$REMOVE", 8);
			bson_append_document_end(&letvars, &vs);
		}
		bson_append_utf8(&letvars, "in", 2, s, len);
		bson_append_document_end(&let, &letvars);
		bson_append_document_end(out, &let);
		pfree(copy);
		return true;
	}
}

/* Bind the values of a document or array as expressions */
static void
AggBindChildren(AggBinder *bd, const bson_iter_t *it, bson_t *child)
{
	bson_iter_t c;

	bson_iter_recurse(it, &c);
	while (bson_iter_next(&c))
		AggBindExprValue(bd, &c, bson_iter_key(&c), child);
}

/*
 * The arguments (a document) of the operators that bind names: $let (vars,
 * in), $map and $filter (as, in/cond), $reduce (this and value in in).
 */
static void
AggBindScoped(AggBinder *bd, const char *op, const bson_iter_t *arg, bson_t *out)
{
	bson_iter_t it;
	const char *as = "this";
	int			saved = bd->nshadow;

	if (strcmp(op, "$let") == 0)
	{
		bson_iter_t vars;

		bson_iter_recurse(arg, &vars);
		if (!bson_iter_find(&vars, "vars"))
		{
			AggBindChildren(bd, arg, out);
			return;
		}
		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
		{
			if (strcmp(bson_iter_key(&it), "in") == 0)
			{
				(void) AggBinderPushKeys(bd, &vars);
				AggBindExprValue(bd, &it, "in", out);
				bd->nshadow = saved;
			}
			else
				AggBindExprValue(bd, &it, bson_iter_key(&it), out);
		}
		return;
	}
	if (strcmp(op, "$map") == 0 || strcmp(op, "$filter") == 0)
	{
		bson_iter_t a;

		bson_iter_recurse(arg, &a);
		if (bson_iter_find(&a, "as") && BSON_ITER_HOLDS_UTF8(&a))
			as = bson_iter_utf8(&a, NULL);
		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
		{
			const char *k = bson_iter_key(&it);

			if (strcmp(k, "in") == 0 || strcmp(k, "cond") == 0)
			{
				AggBinderPush(bd, as);
				AggBindExprValue(bd, &it, k, out);
				bd->nshadow = saved;
			}
			else
				AggBindExprValue(bd, &it, k, out);
		}
		return;
	}
	if (strcmp(op, "$reduce") == 0)
	{
		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
		{
			const char *k = bson_iter_key(&it);

			if (strcmp(k, "in") == 0)
			{
				AggBinderPush(bd, "this");
				AggBinderPush(bd, "value");
				AggBindExprValue(bd, &it, k, out);
				bd->nshadow = saved;
			}
			else
				AggBindExprValue(bd, &it, k, out);
		}
		return;
	}
	AggBindChildren(bd, arg, out);
}

/* An expression (or a value of a stage, taken as one): appended to out */
static void
AggBindExprValue(AggBinder *bd, const bson_iter_t *it, const char *key, bson_t *out)
{
	if (BSON_ITER_HOLDS_UTF8(it))
	{
		uint32_t	len;
		const char *s = bson_iter_utf8(it, &len);

		if (!AggBindReference(bd, s, len, key, out))
			bson_append_iter(out, key, -1, it);
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(it))
	{
		bson_t		child;
		bson_iter_t first;
		bson_iter_t rest;
		const char *op = NULL;

		bson_iter_recurse(it, &first);
		if (bson_iter_next(&first))
		{
			rest = first;
			if (strcmp(bson_iter_key(&first), "$literal") == 0)
			{
				bson_append_iter(out, key, -1, it);
				return;
			}
			if (!bson_iter_next(&rest) && BSON_ITER_HOLDS_DOCUMENT(&first))
				op = bson_iter_key(&first);
		}
		bson_append_document_begin(out, key, -1, &child);
		if (op != NULL &&
			(strcmp(op, "$let") == 0 || strcmp(op, "$map") == 0 ||
			 strcmp(op, "$filter") == 0 || strcmp(op, "$reduce") == 0))
		{
			bson_t		arg;

			/* an operator binding names: they shadow ours in its scope */
			bson_append_document_begin(&child, op, -1, &arg);
			AggBindScoped(bd, op, &first, &arg);
			bson_append_document_end(&child, &arg);
		}
		else
			AggBindChildren(bd, it, &child);
		bson_append_document_end(out, &child);
	}
	else if (BSON_ITER_HOLDS_ARRAY(it))
	{
		bson_t		child;

		bson_append_array_begin(out, key, -1, &child);
		AggBindChildren(bd, it, &child);
		bson_append_array_end(out, &child);
	}
	else
		bson_append_iter(out, key, -1, it);
}

/* A query ($match, ...): only its $expr parts are expressions */
static void
AggBindQueryValue(AggBinder *bd, const bson_iter_t *it, const char *key, bson_t *out)
{
	bson_iter_t c;
	bson_t		child;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
	{
		bson_append_iter(out, key, -1, it);
		return;
	}
	bson_append_document_begin(out, key, -1, &child);
	bson_iter_recurse(it, &c);
	while (bson_iter_next(&c))
	{
		const char *k = bson_iter_key(&c);

		if (strcmp(k, "$expr") == 0)
			AggBindExprValue(bd, &c, k, &child);
		else if ((strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0 ||
				  strcmp(k, "$nor") == 0) && BSON_ITER_HOLDS_ARRAY(&c))
		{
			bson_iter_t el;
			bson_t		arr;

			bson_append_array_begin(&child, k, -1, &arr);
			bson_iter_recurse(&c, &el);
			while (bson_iter_next(&el))
				AggBindQueryValue(bd, &el, bson_iter_key(&el), &arr);
			bson_append_array_end(&child, &arr);
		}
		else
			bson_append_iter(&child, k, -1, &c);
	}
	bson_append_document_end(out, &child);
}

/*
 * The stages whose arguments are all literals (names, paths, sizes, sort
 * keys): a "$$NOW" there is refused by the stage as any other string.
 */
static bool
AggStageLiteralOnly(const char *name)
{
	static const char *const names[] = {
		"$out", "$merge", "$unwind", "$sort", "$skip", "$limit", "$sample", "$count",
		"$densify", "$geoNear", "$collStats", "$indexStats", "$currentOp",
		"$listLocalSessions", "$listSessions", "$planCacheStats", "$listCatalog",
		"$listClusterCatalog", "$changeStream", NULL
	};

	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* The arguments that are expressions of the stages that mix them with literals */
static const char *const *
AggStageExprFields(const char *name)
{
	static const char *const bucket[] = {"groupBy", "output", NULL};
	static const char *const window[] = {"partitionBy", "output", NULL};
	static const char *const graph[] = {"startWith", NULL};

	if (strcmp(name, "$bucket") == 0 || strcmp(name, "$bucketAuto") == 0)
		return bucket;
	if (strcmp(name, "$setWindowFields") == 0 || strcmp(name, "$fill") == 0)
		return window;
	if (strcmp(name, "$graphLookup") == 0)
		return graph;
	return NULL;
}

/* One stage of a pipeline */
static void
AggBindStage(AggBinder *bd, const bson_iter_t *it, const char *key, bson_t *out)
{
	bson_iter_t st;
	bson_t		child;
	const char *name;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
	{
		bson_append_iter(out, key, -1, it);
		return;
	}
	bson_append_document_begin(out, key, -1, &child);
	bson_iter_recurse(it, &st);
	while (bson_iter_next(&st))
	{
		name = bson_iter_key(&st);
		if (strcmp(name, "$match") == 0)
			AggBindQueryValue(bd, &st, name, &child);
		else if (strcmp(name, "$facet") == 0 && BSON_ITER_HOLDS_DOCUMENT(&st))
		{
			bson_iter_t f;
			bson_t		fc;

			bson_append_document_begin(&child, name, -1, &fc);
			bson_iter_recurse(&st, &f);
			while (bson_iter_next(&f))
				AggBindPipelineValue(bd, &f, bson_iter_key(&f), &fc);
			bson_append_document_end(&child, &fc);
		}
		else if ((strcmp(name, "$lookup") == 0 || strcmp(name, "$unionWith") == 0) &&
				 BSON_ITER_HOLDS_DOCUMENT(&st))
		{
			bson_iter_t f;
			bson_iter_t let;
			bool		has_let;
			bson_t		fc;

			bson_iter_recurse(&st, &let);
			has_let = bson_iter_find(&let, "let");
			bson_append_document_begin(&child, name, -1, &fc);
			bson_iter_recurse(&st, &f);
			while (bson_iter_next(&f))
			{
				const char *k = bson_iter_key(&f);

				if (strcmp(k, "let") == 0)
					AggBindExprValue(bd, &f, k, &fc);
				else if (strcmp(k, "pipeline") == 0)
				{
					int			saved = bd->nshadow;

					if (has_let)
						(void) AggBinderPushKeys(bd, &let);
					AggBindPipelineValue(bd, &f, k, &fc);
					bd->nshadow = saved;
				}
				else
					bson_append_iter(&fc, k, -1, &f);
			}
			bson_append_document_end(&child, &fc);
		}
		else if (AggStageLiteralOnly(name))
			bson_append_iter(&child, name, -1, &st);
		else if (AggStageExprFields(name) != NULL && BSON_ITER_HOLDS_DOCUMENT(&st))
		{
			const char *const *fields = AggStageExprFields(name);
			bson_iter_t f;
			bson_t		fc;

			bson_append_document_begin(&child, name, -1, &fc);
			bson_iter_recurse(&st, &f);
			while (bson_iter_next(&f))
			{
				const char *k = bson_iter_key(&f);
				bool		expr = false;

				for (int i = 0; fields[i] != NULL; i++)
					if (strcmp(fields[i], k) == 0)
						expr = true;
				if (expr)
					AggBindExprValue(bd, &f, k, &fc);
				else if (strcmp(k, "restrictSearchWithMatch") == 0)
					AggBindQueryValue(bd, &f, k, &fc);
				else
					bson_append_iter(&fc, k, -1, &f);
			}
			bson_append_document_end(&child, &fc);
		}
		else
			AggBindExprValue(bd, &st, name, &child);
	}
	bson_append_document_end(out, &child);
}

/* A pipeline (an array of stages) */
static void
AggBindPipelineValue(AggBinder *bd, const bson_iter_t *it, const char *key, bson_t *out)
{
	bson_iter_t el;
	bson_t		arr;

	if (!BSON_ITER_HOLDS_ARRAY(it))
	{
		bson_append_iter(out, key, -1, it);
		return;
	}
	bson_append_array_begin(out, key, -1, &arr);
	bson_iter_recurse(it, &el);
	while (bson_iter_next(&el))
		AggBindStage(bd, &el, bson_iter_key(&el), &arr);
	bson_append_array_end(out, &arr);
}

/* Whether some string of a value starts with "$$" (else nothing to bind) */
static bool
AggHasReferences(const uint8_t *data, uint32_t len)
{
	for (uint32_t i = 0; i + 1 < len; i++)
		if (data[i] == '$' && data[i + 1] == '$')
			return true;
	return false;
}

/*
 * Bind vars ({name: value}, a name bound to missing listed in the array
 * under "") and the command's $$NOW and $$CLUSTER_TIME into the pipeline
 * at it.  Returns false when there is nothing to bind; else *result is
 * an iterator over the bound pipeline (in memory of the current context).
 */
bool
AggBindPipeline(const bson_iter_t *pipeline, const bson_t *vars, int64 now_ms,
				bson_iter_t *result)
{
	AggBinder	bd = {0};
	bson_t		out;
	uint32_t	len;
	const uint8_t *data;
	uint8_t    *copy;
	bson_t		holder;

	bson_iter_array(pipeline, &len, &data);
	if (!AggHasReferences(data, len))
		return false;
	bd.vars = vars;
	bd.now_ms = now_ms;
	bd.bind_now = true;
	bson_init(&out);
	AggBindPipelineValue(&bd, pipeline, "p", &out);
	copy = palloc(out.len);
	memcpy(copy, bson_get_data(&out), out.len);
	len = out.len;
	bson_destroy(&out);
	if (!bson_init_static(&holder, copy, len) || !bson_iter_init_find(result, &holder, "p"))
		elog(ERROR, "could not bind the variables of a pipeline");
	return true;
}

/* ---- the let of find, update and delete ---- */

/* The command's $$NOW, fixed at its first use, later than the last command's */
static int64
CommandNow(CommandContext *ctx)
{
	/* the last command's, so that a later command's $$NOW is later */
	static int64 last_now_ms = 0;

	if (ctx->now_ms == 0)
	{
		int64		now = (int64) (GetCurrentTimestamp() / 1000 + INT64CONST(946684800000));

		/* two commands in one millisecond still see time advance */
		ctx->now_ms = last_now_ms = Max(now, last_now_ms + 1);
	}
	return ctx->now_ms;
}

/*
 * The let of a command other than aggregate: its names checked and its
 * values evaluated once, kept in ctx for the filters and expressions of
 * the command (CommandBindFilter, CommandBindExpressions).
 */
void
CommandLetEvaluate(CommandContext *ctx, const bson_iter_t *let)
{
	bson_t		vars;
	uint8_t    *copy;

	if (BSON_ITER_HOLDS_NULL(let))
		return;
	if (!BSON_ITER_HOLDS_DOCUMENT(let))
		RaiseWrongType(ctx->name, let, "object");
	AggCheckLet(let);
	bson_init(&vars);
	AggLetEvaluate(let, NULL, 0, CommandNow(ctx), &vars);
	copy = palloc(vars.len);
	memcpy(copy, bson_get_data(&vars), vars.len);
	ctx->let_vars = copy;
	ctx->let_vars_len = vars.len;
	bson_destroy(&vars);
}

/* What CommandBind binds into: a filter, expressions or a pipeline */
typedef enum CommandBindKind
{
	BIND_QUERY,
	BIND_EXPRESSIONS,
	BIND_PIPELINE
} CommandBindKind;

/* Bind the command's variables into the document (or array) at *data */
static void
CommandBind(CommandContext *ctx, const uint8_t **data, uint32_t *len, CommandBindKind kind)
{
	AggBinder	bd = {0};
	bson_t		vars;
	bson_t		doc;
	bson_t		wrap;
	bson_t		out;
	bson_iter_t it;
	bson_iter_t res;
	uint32_t	rlen;
	const uint8_t *rdata;
	uint8_t    *copy;

	if (*data == NULL || !AggHasReferences(*data, *len))
		return;
	if (ctx->let_vars != NULL)
	{
		bson_init_static(&vars, ctx->let_vars, ctx->let_vars_len);
		bd.vars = &vars;
	}
	bd.now_ms = CommandNow(ctx);
	bd.bind_now = true;
	bson_init_static(&doc, *data, *len);
	bson_init(&wrap);
	if (kind == BIND_PIPELINE)
		bson_append_array(&wrap, "d", 1, &doc);
	else
		bson_append_document(&wrap, "d", 1, &doc);
	bson_iter_init_find(&it, &wrap, "d");
	bson_init(&out);
	if (kind == BIND_QUERY)
		AggBindQueryValue(&bd, &it, "d", &out);
	else if (kind == BIND_PIPELINE)
		AggBindPipelineValue(&bd, &it, "d", &out);
	else
		AggBindExprValue(&bd, &it, "d", &out);
	bson_iter_init_find(&res, &out, "d");
	if (BSON_ITER_HOLDS_ARRAY(&res))
		bson_iter_array(&res, &rlen, &rdata);
	else
		bson_iter_document(&res, &rlen, &rdata);
	copy = palloc(rlen);
	memcpy(copy, rdata, rlen);
	*data = copy;
	*len = rlen;
	bson_destroy(&out);
	bson_destroy(&wrap);
}

/* ... into an update pipeline (the bytes of an array) */
void
CommandBindPipeline(CommandContext *ctx, const uint8_t **data, uint32_t *len)
{
	CommandBind(ctx, data, len, BIND_PIPELINE);
}

/* The command's variables and $$NOW bound into the $expr parts of a filter */
void
CommandBindFilter(CommandContext *ctx, const uint8_t **data, uint32_t *len)
{
	CommandBind(ctx, data, len, BIND_QUERY);
}

/* ... and into a document of expressions (a projection) */
void
CommandBindExpressions(CommandContext *ctx, const uint8_t **data, uint32_t *len)
{
	CommandBind(ctx, data, len, BIND_EXPRESSIONS);
}
