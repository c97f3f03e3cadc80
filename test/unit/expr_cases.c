/*-------------------------------------------------------------------------
 *
 * expr_cases.c
 *	  The case runner of the expression unit tests (expr_cases.h): each
 *	  case is parsed with AggExprParse and evaluated with AggExprEval
 *	  against its document, under the sanitizers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "expr.h"
#include "expr_cases.h"
#include "lib/stringinfo.h"
#include "unit.h"

/* A document from single-quoted Extended JSON (NULL on a parse failure) */
bson_t *
ExprJson(const char *json, const char *file, int line)
{
	char	   *text = pstrdup(json);
	BsonParsed	parsed;
	char	   *error = NULL;
	bson_t	   *out;

	for (char *p = text; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	if (!BsonParseJson(text, strlen(text), &parsed, &error))
	{
		UnitFail(file, line, "JSON does not parse: %s: %s", json, error);
		pfree(text);
		return NULL;
	}
	pfree(text);
	out = bson_copy(&parsed.doc);
	bson_destroy(&parsed.doc);
	return out;
}

/* Canonical Extended JSON of a document (palloc'd) */
static char *
ExprJsonOf(const bson_t *doc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	BsonPrintJson(&buf, bson_get_data(doc), doc->len, false, BSON_JSON_CANONICAL);
	return buf.data;
}

/*
 * Parse and evaluate one case, checking its result (the value under key, as
 * {key: value}) or its error code and code name.
 */
void
CheckExprKeyed(const ExprCase *c, const char *key, const char *file, int line)
{
	char		wrapped[4096];
	bson_t	   *spec;
	bson_t	   *doc;
	bson_iter_t it;
	AggExprScope *scope = AggExprScopeNew();
	AggArena	arena = {0};
	AggExprContext cx = {0};
	BsonQueryError error = {0};
	AggExpr    *expr;
	bson_value_t v;
	bool		ok = false;

	snprintf(wrapped, sizeof(wrapped), "{'e': %s}", c->expr);
	spec = ExprJson(wrapped, file, line);
	doc = ExprJson(c->doc, file, line);
	if (spec == NULL || doc == NULL)
		goto done;
	bson_iter_init(&it, spec);
	bson_iter_next(&it);
	expr = AggExprParse(&it, scope, &error);
	if (expr != NULL)
	{
		cx.root = bson_get_data(doc);
		cx.root_len = doc->len;
		cx.arena = &arena;
		cx.now_ms = 0;
		cx.nslots = AggExprScopeSlots(scope);
		cx.slots = cx.nslots > 0 ? AggArenaAlloc(&arena, sizeof(bson_value_t) * cx.nslots) : NULL;
		ok = AggExprEval(expr, &cx, &v, &error);
	}
	if (c->expected == NULL)
	{
		if (ok)
			UnitFail(file, line, "%s: expected error %d, got a result", c->expr, c->code);
		else if (error.code != c->code)
			UnitFail(file, line, "%s: expected error %d, got %d: %s", c->expr, c->code,
					 error.code, error.message ? error.message : "");
		else if (error.code_name == NULL || error.code_name[0] == '\0')
			UnitFail(file, line, "%s: no code name", c->expr);
	}
	else if (!ok)
		UnitFail(file, line, "%s: error %d: %s", c->expr, error.code,
				 error.message ? error.message : "");
	else
	{
		bson_t		result = BSON_INITIALIZER;
		bson_t	   *expected = ExprJson(c->expected, file, line);

		if (v.value_type != BSON_TYPE_EOD)
			bson_append_value(&result, key, -1, &v);
		if (expected != NULL)
		{
			char	   *got = ExprJsonOf(&result);
			char	   *want = ExprJsonOf(expected);

			if (strcmp(got, want) != 0)
				UnitFail(file, line, "%s: expected %s, got %s", c->expr, want, got);
			pfree(got);
			pfree(want);
			bson_destroy(expected);
		}
		bson_destroy(&result);
	}
	UnitChecks++;
done:
	if (error.message != NULL)
		pfree(error.message);
	AggArenaReset(&arena);
	AggExprScopeFree(scope);
	if (spec != NULL)
		bson_destroy(spec);
	if (doc != NULL)
		bson_destroy(doc);
}

void
CheckExprs(const ExprCase *cases, int n, const char *file, int line)
{
	for (int i = 0; i < n; i++)
		CheckExprKeyed(&cases[i], "r", file, line);
}

