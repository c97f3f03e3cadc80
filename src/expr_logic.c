/*-------------------------------------------------------------------------
 *
 * expr_logic.c
 *	  Boolean, conditional and variable expression operators: $and, $or,
 *	  $not, $cond, $ifNull, $switch, $let, $literal.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "bson_compare.h"
#include "expr_internal.h"

static bool
AggAnd(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (!AggValueTrue(&v))
		{
			AggSetBool(out, false);
			return true;
		}
	}
	AggSetBool(out, true);
	return true;
}

static bool
AggOr(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (AggValueTrue(&v))
		{
			AggSetBool(out, true);
			return true;
		}
	}
	AggSetBool(out, false);
	return true;
}

static bool
AggNot(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	AggSetBool(out, !AggValueTrue(&v));
	return true;
}

/* $cond: [if, then, else] or {if, then, else} */
static bool
AggCondParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	static const char *const names[] = {"if", "then", "else"};
	bson_iter_t it;
	const char *k;

	if (BSON_ITER_HOLDS_ARRAY(arg))
	{
		int			n = 0;

		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
			n++;
		if (n != 3)
			return AggExprFail(p->error, AGG_ERR_ARITY,
							   "Expression $cond takes exactly 3 arguments. %d were passed in.", n);
		e->nargs = 3;
		e->args = AggParseAlloc(p, sizeof(AggExpr *) * 3);
		bson_iter_recurse(arg, &it);
		for (int i = 0; bson_iter_next(&it); i++)
			if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
				return false;
		return true;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, AGG_ERR_ARITY,
						   "Expression $cond takes exactly 3 arguments. 1 were passed in.");
	if (!AggParseArgsByName(p, e, arg, names, 3, &k))
		return k ? AggExprFail(p->error, 17083, "Unrecognized parameter to $cond: %s", k) : false;
	if (e->args[0] == NULL)
		return AggExprFail(p->error, 17080, "Missing 'if' parameter to $cond");
	if (e->args[1] == NULL)
		return AggExprFail(p->error, 17081, "Missing 'then' parameter to $cond");
	if (e->args[2] == NULL)
		return AggExprFail(p->error, 17082, "Missing 'else' parameter to $cond");
	return true;
}

static bool
AggCond(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	return AggEvalArg(e, AggValueTrue(&v) ? 1 : 2, cx, out, error);
}

/* $ifNull: the first argument that is not null or missing, else the last */
static bool
AggIfNull(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	for (int i = 0; i < e->nargs - 1; i++)
	{
		if (!AggEvalArg(e, i, cx, out, error))
			return false;
		if (!AggValueNullish(out))
			return true;
	}
	return AggEvalArg(e, e->nargs - 1, cx, out, error);
}

/* $ifNull takes an array of at least two expressions (1257300) */
static bool
AggIfNullParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	int			n = 0;

	if (BSON_ITER_HOLDS_ARRAY(arg))
	{
		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
			n++;
	}
	if (n < 2)
		return AggExprFail(p->error, 1257300, "$ifNull needs at least two arguments, had: %d",
						   BSON_ITER_HOLDS_ARRAY(arg) ? n : 1);
	e->nargs = n;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * n);
	bson_iter_recurse(arg, &it);
	for (int i = 0; bson_iter_next(&it); i++)
		if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
			return false;
	return true;
}

/* $switch: {branches: [{case, then}, ...], default}; args: case, then, ..., default */
static bool
AggSwitchParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	bson_iter_t br;
	int			nbranches = 0;
	AggExpr    *dflt = NULL;
	bool		have_branches = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 40060, "$switch requires an object as an argument, found: %s",
						   BsonTypeName(bson_iter_type(arg)));
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "branches") == 0)
		{
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				return AggExprFail(p->error, 40061, "$switch expected an array for 'branches', found: %s",
								   BsonTypeName(bson_iter_type(&it)));
			br = it;
			have_branches = true;
		}
		else if (strcmp(k, "default") == 0)
		{
			if ((dflt = AggExprParseSub(p, &it)) == NULL)
				return false;
		}
		else
			return AggExprFail(p->error, 40067, "$switch found an unknown argument: %s", k);
	}
	if (have_branches)
	{
		bson_iter_t b;

		bson_iter_recurse(&br, &b);
		while (bson_iter_next(&b))
			nbranches++;
	}
	e->nargs = nbranches * 2 + 1;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * e->nargs);
	if (have_branches)
	{
		bson_iter_t b;
		int			i = 0;

		bson_iter_recurse(&br, &b);
		while (bson_iter_next(&b))
		{
			bson_iter_t f;

			if (!BSON_ITER_HOLDS_DOCUMENT(&b))
				return AggExprFail(p->error, 40062, "$switch expected each branch to be an object, found: %s",
								   BsonTypeName(bson_iter_type(&b)));
			bson_iter_recurse(&b, &f);
			while (bson_iter_next(&f))
			{
				const char *k = bson_iter_key(&f);

				if (strcmp(k, "case") == 0)
				{
					if ((e->args[i] = AggExprParseSub(p, &f)) == NULL)
						return false;
				}
				else if (strcmp(k, "then") == 0)
				{
					if ((e->args[i + 1] = AggExprParseSub(p, &f)) == NULL)
						return false;
				}
				else
					return AggExprFail(p->error, 40063, "$switch found an unknown argument to a branch: %s", k);
			}
			if (e->args[i] == NULL)
				return AggExprFail(p->error, 40064, "$switch requires each branch have a 'case' expression");
			if (e->args[i + 1] == NULL)
				return AggExprFail(p->error, 40065, "$switch requires each branch have a 'then' expression.");
			i += 2;
		}
	}
	if (nbranches == 0)
		return AggExprFail(p->error, 40068, "$switch requires at least one branch.");
	e->args[e->nargs - 1] = dflt;
	return true;
}

static bool
AggSwitch(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	for (int i = 0; i + 1 < e->nargs; i += 2)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (AggValueTrue(&v))
			return AggEvalArg(e, i + 1, cx, out, error);
	}
	if (e->args[e->nargs - 1] == NULL)
		return AggExprFail(error, 40069,
						   "$switch could not find a matching branch for an input, and no default was specified.");
	return AggEvalArg(e, e->nargs - 1, cx, out, error);
}

/* $let: {vars: {name: expr, ...}, in: expr}; args: the vars' values, then in */
typedef struct AggLetData
{
	int		   *slots;
} AggLetData;

static bool
AggLetParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	bson_iter_t vars;
	bson_iter_t in;
	bool		have_vars = false;
	bool		have_in = false;
	int			n = 0;
	AggLetData *data;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 16874, "$let only supports an object as its argument");
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "vars") == 0)
		{
			vars = it;
			have_vars = true;
		}
		else if (strcmp(k, "in") == 0)
		{
			in = it;
			have_in = true;
		}
		else
			return AggExprFail(p->error, 16875, "Unrecognized parameter to $let: %s", k);
	}
	if (!have_vars)
		return AggExprFail(p->error, 16876, "Missing 'vars' parameter to $let");
	if (!have_in)
		return AggExprFail(p->error, 16877, "Missing 'in' parameter to $let");
	if (!BSON_ITER_HOLDS_DOCUMENT(&vars))
		return AggExprFail(p->error, 10065, "invalid parameter: expected an object (vars)");
	bson_iter_recurse(&vars, &it);
	while (bson_iter_next(&it))
		n++;
	e->nargs = n + 1;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * e->nargs);
	data = AggParseAlloc(p, sizeof(AggLetData));
	data->slots = AggParseAlloc(p, sizeof(int) * Max(n, 1));
	/* the values are parsed outside the new variables' scope */
	bson_iter_recurse(&vars, &it);
	for (int i = 0; bson_iter_next(&it); i++)
	{
		if (!AggExprCheckVariableName(p, bson_iter_key(&it)))
			return false;
		if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
			return false;
	}
	AggExprScopePush(p->scope);
	bson_iter_recurse(&vars, &it);
	for (int i = 0; bson_iter_next(&it); i++)
		data->slots[i] = AggExprScopeDefine(p->scope, bson_iter_key(&it));
	e->args[n] = AggExprParseSub(p, &in);
	AggExprScopePop(p->scope);
	if (e->args[n] == NULL)
		return false;
	e->data = data;
	return true;
}

static bool
AggLet(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const AggLetData *data = e->data;
	int			n = e->nargs - 1;
	bson_value_t *values = AggEvalAlloc(cx, sizeof(bson_value_t) * Max(n, 1));

	for (int i = 0; i < n; i++)
		if (!AggEvalArg(e, i, cx, &values[i], error))
			return false;
	for (int i = 0; i < n; i++)
	{
		if (data->slots[i] >= cx->nslots)
			return AggExprFail(error, 1, "variable slot out of range");
		cx->slots[data->slots[i]] = values[i];
	}
	return AggEvalArg(e, n, cx, out, error);
}

/* $literal: the argument, unparsed */
static bool
AggLiteralParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	e->nargs = 0;
	e->data = AggParseAlloc(p, sizeof(bson_value_t));
	{
		bson_t		holder;
		bson_iter_t it;
		uint8_t    *bytes;

		bson_init(&holder);
		bson_append_iter(&holder, "", 0, arg);
		bytes = AggParseAlloc(p, holder.len);
		memcpy(bytes, bson_get_data(&holder), holder.len);
		bson_iter_init_from_data(&it, bytes, holder.len);
		bson_iter_next(&it);
		*(bson_value_t *) e->data = *bson_iter_value(&it);
		bson_destroy(&holder);
	}
	return true;
}

static bool
AggLiteral(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	*out = *(const bson_value_t *) e->data;
	return true;
}

const AggExprOp AggExprOpsLogic[] = {
	{"$and", AggAnd, NULL, 0, -1},
	{"$or", AggOr, NULL, 0, -1},
	{"$not", AggNot, NULL, 1, 1},
	{"$cond", AggCond, AggCondParse, 3, 3},
	{"$ifNull", AggIfNull, AggIfNullParse, 2, -1},
	{"$switch", AggSwitch, AggSwitchParse, 0, -1},
	{"$let", AggLet, AggLetParse, 0, -1},
	{"$literal", AggLiteral, AggLiteralParse, 0, -1},
	{"$const", AggLiteral, AggLiteralParse, 0, -1},
	{NULL}
};
