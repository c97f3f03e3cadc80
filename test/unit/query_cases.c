/*-------------------------------------------------------------------------
 *
 * query_cases.c
 *	  Table-driven checks of the filter compiler and matcher (see
 *	  query_cases.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "lib/stringinfo.h"
#include "query_cases.h"
#include "unit.h"
#include "../common/test_bson_keys.h"

#define ESCAPE_BYTE '\x01'

/*
 * ParseJson
 *		A document from single-quoted Extended JSON, or NULL (reported at
 *		the caller's line) when it does not parse.
 */
bson_t *
ParseJson(const char *json, const char *file, int line)
{
	StringInfoData text;
	BsonParsed	parsed;
	char	   *error = NULL;
	bson_t	   *out;
	bson_iter_t it;

	initStringInfo(&text);
	for (const char *p = json; *p != '\0'; p++)
	{
		if (strncmp(p, "'$regex'", 8) == 0 || strncmp(p, "'$options'", 10) == 0)
		{
			appendStringInfoString(&text, "\"\\u0001");
			p += 2;
			while (*p != '\'')
				appendStringInfoChar(&text, *p++);
			appendStringInfoChar(&text, '"');
		}
		else
			appendStringInfoChar(&text, *p == '\'' ? '"' : *p);
	}

	if (!BsonParseJson(text.data, text.len, &parsed, &error))
	{
		UnitFail(file, line, "test JSON does not parse: %s: %s", json, error);
		pfree(error);
		pfree(text.data);
		return NULL;
	}
	pfree(text.data);

	out = bson_new();
	if (bson_iter_init(&it, &parsed.doc))
		TestRestoreDollarKeys(&it, out, ESCAPE_BYTE);
	bson_destroy(&parsed.doc);
	return out;
}

/*
 * Compile
 *		Compile a filter written as JSON; NULL with *error filled if it
 *		does not compile (or does not parse: code -1).
 */
BsonFilter *
Compile(const char *json, BsonQueryError *error, const char *file, int line)
{
	bson_t	   *doc = ParseJson(json, file, line);
	BsonFilter *filter;

	if (doc == NULL)
	{
		error->code = -1;
		error->message = NULL;
		return NULL;
	}
	filter = BsonFilterCompile(bson_get_data(doc), doc->len, error);
	bson_destroy(doc);
	return filter;
}

/*
 * RunMatchCases
 *		Check a table of filters against documents.
 */
void
RunMatchCases(const MatchCase *cases, int n, const char *file, int line)
{
	for (int i = 0; i < n; i++)
	{
		BsonQueryError error;
		BsonFilter *filter = Compile(cases[i].filter, &error, file, line);
		bson_t	   *doc;

		UnitChecks++;
		if (filter == NULL)
		{
			if (error.code != -1)
			{
				UnitFail(file, line, "case %d: %s does not compile: %d %s", i,
						 cases[i].filter, error.code, error.message);
				pfree(error.message);
			}
			continue;
		}
		doc = ParseJson(cases[i].doc, file, line);
		if (doc != NULL)
		{
			bool		matched = BsonFilterMatches(filter, bson_get_data(doc), doc->len);
			int32_t		position;
			bool		matched2 = BsonFilterMatchesWithPosition(filter, bson_get_data(doc),
																 doc->len, &position);

			if (matched != cases[i].match)
				UnitFail(file, line, "case %d: %s on %s: %s, expected %s", i,
						 cases[i].filter, cases[i].doc,
						 matched ? "matches" : "does not match",
						 cases[i].match ? "a match" : "no match");
			if (matched2 != matched || (!matched && position != -1))
				UnitFail(file, line, "case %d: %s on %s: the positional variant disagrees",
						 i, cases[i].filter, cases[i].doc);
			bson_destroy(doc);
		}
		BsonFilterFree(filter);
	}
}

/*
 * RunErrorCases
 *		Check a table of filters that must be rejected with a code.
 */
void
RunErrorCases(const ErrorCase *cases, int n, const char *file, int line)
{
	for (int i = 0; i < n; i++)
	{
		BsonQueryError error;
		BsonFilter *filter = Compile(cases[i].filter, &error, file, line);

		UnitChecks++;
		if (filter != NULL)
		{
			UnitFail(file, line, "case %d: %s compiles, expected error %d", i,
					 cases[i].filter, cases[i].code);
			BsonFilterFree(filter);
			continue;
		}
		if (error.code == -1)
			continue;
		if (error.code != cases[i].code)
			UnitFail(file, line, "case %d: %s: error %d (%s), expected %d", i,
					 cases[i].filter, error.code, error.message, cases[i].code);
		else if (cases[i].message != NULL && strstr(error.message, cases[i].message) == NULL)
			UnitFail(file, line, "case %d: %s: message \"%s\" lacks \"%s\"", i,
					 cases[i].filter, error.message, cases[i].message);
		if (error.code_name == NULL || error.message == NULL || error.message[0] == '\0')
			UnitFail(file, line, "case %d: %s: no code name or message", i, cases[i].filter);
		if (error.message != NULL)
			pfree(error.message);
	}
}

/*
 * RunPositionCases
 *		Check the positional index of matching documents.
 */
void
RunPositionCases(const PositionCase *cases, int n, const char *file, int line)
{
	for (int i = 0; i < n; i++)
	{
		BsonQueryError error;
		BsonFilter *filter = Compile(cases[i].filter, &error, file, line);
		bson_t	   *doc;

		UnitChecks++;
		if (filter == NULL)
		{
			if (error.code != -1)
			{
				UnitFail(file, line, "case %d: %s does not compile: %s", i,
						 cases[i].filter, error.message);
				pfree(error.message);
			}
			continue;
		}
		doc = ParseJson(cases[i].doc, file, line);
		if (doc != NULL)
		{
			int32_t		position = -2;

			if (!BsonFilterMatchesWithPosition(filter, bson_get_data(doc), doc->len,
											   &position))
				UnitFail(file, line, "case %d: %s does not match %s", i,
						 cases[i].filter, cases[i].doc);
			else if (position != cases[i].position)
				UnitFail(file, line, "case %d: %s on %s: position %d, expected %d", i,
						 cases[i].filter, cases[i].doc, position, cases[i].position);
			bson_destroy(doc);
		}
		BsonFilterFree(filter);
	}
}
