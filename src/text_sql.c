/*-------------------------------------------------------------------------
 *
 * text_sql.c
 *	  The $text query operator: matching documents with PostgreSQL's own
 *	  text search.
 *
 * Design note
 * -----------
 * The filter engine (query_parse.c) only parses $text; it matches through
 * the hook registered here (TextInit).  The find, count and distinct
 * commands look up the collection's text index and call
 * nosql.bson_matches_text(document, filter, index[, collation]) instead of
 * bson_matches: the index spec says which fields are searched ("$**": every
 * string), their weights, the default language and the language override
 * field.
 *
 * The search string is parsed as MongoDB's FTSQuery does: words are
 * separated by whitespace and punctuation; a "-" after whitespace negates
 * the next word or phrase; "quoted text" is a phrase, whose words are also
 * search terms unless the phrase is negated.  Each word is stemmed with
 * the snowball stemmer of the query's language by to_tsvector (which also
 * drops stop words), and so are the strings of the document.  A document
 * matches when one positive term's lexeme is among its lexemes, every
 * positive phrase occurs in it (as a substring, case-insensitive unless
 * $caseSensitive), and no negated term or phrase does.  Diacritics are
 * ignored (Latin-1 and Latin Extended-A letters fold to ASCII) unless
 * $diacriticSensitive; with either sensitivity flag a term must also occur
 * in the text as written, with that sensitivity.
 *
 * The compiled filter and the stemmed query are cached in fn_extra, so a
 * scan stems the query once and tokenizes each document once.
 *
 * IDENTIFICATION
 *	  src/text_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "tsearch/ts_type.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "bson.h"
#include "collation.h"
#include "documents.h"
#include "nosql.h"
#include "query.h"

/* The code MongoDB raises for an unsupported $language */
#define MONGO_TEXT_BAD_LANGUAGE		17262

/* MongoDB's text search languages and PostgreSQL's configurations */
static const struct
{
	const char *mongo;
	const char *code;
	const char *config;
}			TextLanguages[] =
{
	{"danish", "da", "danish"},
	{"dutch", "nl", "dutch"},
	{"english", "en", "english"},
	{"finnish", "fi", "finnish"},
	{"french", "fr", "french"},
	{"german", "de", "german"},
	{"hungarian", "hu", "hungarian"},
	{"italian", "it", "italian"},
	{"norwegian", "nb", "norwegian"},
	{"portuguese", "pt", "portuguese"},
	{"romanian", "ro", "romanian"},
	{"russian", "ru", "russian"},
	{"spanish", "es", "spanish"},
	{"swedish", "sv", "swedish"},
	{"turkish", "tr", "turkish"},
	{"none", "none", "simple"},
};

/* One search term or phrase */
typedef struct TextTerm
{
	char	   *lexeme;			/* stemmed (terms); NULL for phrases */
	char	   *written;		/* normalized for the sensitive comparison */
	bool		negated;
} TextTerm;

/* The stemmed query and the index fields: the text hook's state */
typedef struct TextState
{
	Oid			config;			/* regconfig */
	bool		case_sensitive;
	bool		diacritic_sensitive;
	bool		wildcard;		/* "$**" */
	int			nfields;
	char	  **fields;			/* dotted paths */
	int			nterms;
	TextTerm   *terms;
	int			nphrases;
	TextTerm   *phrases;
	bool		has_positive;	/* a positive term survived the stop words */
} TextState;

/* The cache of nosql.bson_matches_text in fn_extra */
typedef struct TextFilterCache
{
	BsonFilter *filter;
	uint8_t    *bytes;			/* filter, index and collation, concatenated */
	uint32_t	len;
	MemoryContext context;
} TextFilterCache;

/* Latin-1 letters U+00C0..U+00FF without their diacritics ('\0': keep) */
static const char TextLatin1Fold[64] =
"AAAAAA\0CEEEEIIII\0NOOOOO\0\0UUUUY\0\0aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0y";

/*
 * TextFoldDiacritics
 *		A copy of a string with the diacritics of Latin letters removed.
 */
static char *
TextFoldDiacritics(const char *s, size_t len)
{
	char	   *out = palloc(len + 1);
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c == 0xC3) && i + 1 < len)
		{
			unsigned char d = (unsigned char) s[i + 1];

			if (d >= 0x80 && d <= 0xBF && TextLatin1Fold[d - 0x80] != '\0')
			{
				out[o++] = TextLatin1Fold[d - 0x80];
				i++;
				continue;
			}
		}
		else if ((c == 0xC4 || c == 0xC5) && i + 1 < len)
		{
			unsigned char d = (unsigned char) s[i + 1];
			int			cp = ((c & 0x1F) << 6) | (d & 0x3F);

			/* Latin Extended-A: pairs of upper and lower case letters */
			static const char ext[128] =
			"AaAaAaCcCcCcCcDd\0\0EeEeEeEeEeGgGgGgGgHh\0\0IiIiIiIiI\0\0\0JjKk\0LlLlLl\0\0\0\0NnNnNn\0\0\0OoOoOo\0\0RrRrRrSsSsSsSsTtTt\0\0UuUuUuUuUuUuWwYyYZzZzZz\0";

			if (d >= 0x80 && d <= 0xBF && cp >= 0x100 && cp <= 0x17F &&
				ext[cp - 0x100] != '\0')
			{
				out[o++] = ext[cp - 0x100];
				i++;
				continue;
			}
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/*
 * TextNormalize
 *		A string as the sensitive comparisons see it: lower-cased unless
 *		case-sensitive, folded unless diacritic-sensitive.
 */
static char *
TextNormalize(const TextState *state, const char *s, size_t len)
{
	char	   *out = state->diacritic_sensitive ? pnstrdup(s, len) :
		TextFoldDiacritics(s, len);

	if (!state->case_sensitive)
		out = str_tolower(out, strlen(out), DEFAULT_COLLATION_OID);
	return out;
}

/*
 * TextVector
 *		to_tsvector(config, text) of a string, diacritics folded.
 */
static TSVector
TextVector(const TextState *state, const char *s, size_t len)
{
	char	   *folded = TextFoldDiacritics(s, len);

	return DatumGetTSVector(DirectFunctionCall2(to_tsvector_byid,
												ObjectIdGetDatum(state->config),
												PointerGetDatum(cstring_to_text(folded))));
}

/*
 * TextVectorHas
 *		Whether a tsvector holds a lexeme.
 */
static bool
TextVectorHas(TSVector vector, const char *lexeme)
{
	WordEntry  *entries = ARRPTR(vector);
	char	   *strings = STRPTR(vector);
	size_t		len = strlen(lexeme);

	for (int i = 0; i < vector->size; i++)
	{
		if (entries[i].len == len && memcmp(strings + entries[i].pos, lexeme, len) == 0)
			return true;
	}
	return false;
}

/*
 * TextLanguageConfig
 *		The regconfig of a MongoDB language name or code.
 */
static Oid
TextLanguageConfig(const char *language)
{
	for (size_t i = 0; i < lengthof(TextLanguages); i++)
	{
		if (pg_strcasecmp(language, TextLanguages[i].mongo) == 0 ||
			pg_strcasecmp(language, TextLanguages[i].code) == 0)
			return get_ts_config_oid(list_make2(makeString("pg_catalog"),
												makeString((char *) TextLanguages[i].config)),
									 false);
	}
	MongoRaise(MONGO_TEXT_BAD_LANGUAGE, "language override unsupported: %s", language);
}

/*
 * TextIsWordByte
 *		Whether a byte belongs to a word: letters, digits and every byte of
 *		a non-ASCII character.
 */
static inline bool
TextIsWordByte(unsigned char c)
{
	return c >= 0x80 || isalnum(c) || c == '_';
}

/*
 * TextAddTerm
 *		Stem one word of the search string and add its lexemes as terms.
 */
static void
TextAddTerm(TextState *state, const char *word, size_t len, bool negated, int *maxterms)
{
	TSVector	vector = TextVector(state, word, len);
	WordEntry  *entries = ARRPTR(vector);
	char	   *written = TextNormalize(state, word, len);

	for (int i = 0; i < vector->size; i++)
	{
		TextTerm   *term;

		if (state->nterms == *maxterms)
		{
			*maxterms *= 2;
			state->terms = repalloc(state->terms, *maxterms * sizeof(TextTerm));
		}
		term = &state->terms[state->nterms++];
		term->lexeme = pnstrdup(STRPTR(vector) + entries[i].pos, entries[i].len);
		term->written = written;
		term->negated = negated;
		if (!negated)
			state->has_positive = true;
	}
}

/*
 * TextParseSearch
 *		The terms and phrases of a search string, as MongoDB's FTSQuery.
 */
static void
TextParseSearch(TextState *state, const char *search, size_t len)
{
	int			maxterms = 8;
	int			maxphrases = 4;
	bool		negation = false;
	size_t		i = 0;

	state->terms = palloc(maxterms * sizeof(TextTerm));
	state->phrases = palloc(maxphrases * sizeof(TextTerm));
	while (i < len)
	{
		unsigned char c = (unsigned char) search[i];

		CHECK_FOR_INTERRUPTS();
		if (TextIsWordByte(c))
		{
			size_t		start = i;

			while (i < len && TextIsWordByte((unsigned char) search[i]))
				i++;
			TextAddTerm(state, search + start, i - start, negation, &maxterms);
			negation = false;
		}
		else if (c == '"')
		{
			size_t		start = ++i;
			size_t		end;

			while (i < len && search[i] != '"')
				i++;
			end = i;
			if (i < len)
				i++;			/* the closing quote */
			if (state->nphrases == maxphrases)
			{
				maxphrases *= 2;
				state->phrases = repalloc(state->phrases, maxphrases * sizeof(TextTerm));
			}
			state->phrases[state->nphrases].lexeme = NULL;
			state->phrases[state->nphrases].written = TextNormalize(state, search + start,
																	end - start);
			state->phrases[state->nphrases].negated = negation;
			state->nphrases++;

			/* the words of a positive phrase are search terms too */
			if (!negation)
			{
				for (size_t j = start; j < end;)
				{
					if (TextIsWordByte((unsigned char) search[j]))
					{
						size_t		w = j;

						while (j < end && TextIsWordByte((unsigned char) search[j]))
							j++;
						TextAddTerm(state, search + w, j - w, false, &maxterms);
					}
					else
						j++;
				}
			}
			negation = false;
		}
		else
		{
			/* a "-" negates only after whitespace (or at the start) */
			negation = c == '-' && (i == 0 || isspace((unsigned char) search[i - 1]));
			i++;
		}
	}
}

/*
 * TextCollectStrings
 *		Append to buf every string a dotted path reaches (through arrays), or
 *		every string of the document when path is NULL ("$**").
 */
static void
TextCollectStrings(bson_iter_t *it, const char *path, StringInfo buf)
{
	check_stack_depth();
	while (bson_iter_next(it))
	{
		const char *key = bson_iter_key(it);
		const char *rest = NULL;
		bson_iter_t child;

		if (path != NULL)
		{
			size_t		klen = strlen(key);
			const char *dot = strchr(path, '.');
			size_t		plen = dot ? (size_t) (dot - path) : strlen(path);

			/* array elements are searched whatever their index */
			if (!(plen == klen && memcmp(path, key, klen) == 0))
				continue;
			rest = dot ? dot + 1 : NULL;
		}
		if (BSON_ITER_HOLDS_UTF8(it) && rest == NULL)
		{
			uint32_t	len;
			const char *s = bson_iter_utf8(it, &len);

			appendBinaryStringInfo(buf, s, len);
			appendStringInfoChar(buf, '\n');
		}
		else if (BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child))
		{
			/* the elements: strings, or documents the rest of the path enters */
			while (bson_iter_next(&child))
			{
				bson_iter_t grand;

				if (BSON_ITER_HOLDS_UTF8(&child) && rest == NULL)
				{
					uint32_t	len;
					const char *s = bson_iter_utf8(&child, &len);

					appendBinaryStringInfo(buf, s, len);
					appendStringInfoChar(buf, '\n');
				}
				else if (BSON_ITER_HOLDS_DOCUMENT(&child) &&
						 (rest != NULL || path == NULL) &&
						 bson_iter_recurse(&child, &grand))
					TextCollectStrings(&grand, rest, buf);
			}
		}
		else if (BSON_ITER_HOLDS_DOCUMENT(it) && (rest != NULL || path == NULL) &&
				 bson_iter_recurse(it, &child))
			TextCollectStrings(&child, rest, buf);
	}
}

/*
 * TextMatch
 *		The text hook: whether a document matches the $text of a filter.
 */
static bool
TextMatch(const BsonTextQuery *query, void *arg, const uint8_t *doc, uint32_t len)
{
	TextState  *state = (TextState *) arg;
	StringInfoData buf;
	bson_t		bson;
	bson_iter_t it;
	TSVector	vector;
	char	   *written = NULL;
	bool		found = false;

	if (state == NULL)
		MongoRaise(27, "text index required for $text query");
	if (!state->has_positive)
		return false;

	initStringInfo(&buf);
	if (!bson_init_static(&bson, doc, len))
		return false;
	for (int f = 0; f < (state->wildcard ? 1 : state->nfields); f++)
	{
		if (bson_iter_init(&it, &bson))
			TextCollectStrings(&it, state->wildcard ? NULL : state->fields[f], &buf);
	}
	if (buf.len == 0)
		return false;

	vector = TextVector(state, buf.data, buf.len);
	if (state->case_sensitive || state->diacritic_sensitive || state->nphrases > 0)
		written = TextNormalize(state, buf.data, buf.len);

	for (int i = 0; i < state->nterms; i++)
	{
		const TextTerm *term = &state->terms[i];

		if (!TextVectorHas(vector, term->lexeme))
			continue;
		if (term->negated)
			return false;
		if ((state->case_sensitive || state->diacritic_sensitive) &&
			strstr(written, term->written) == NULL)
			continue;
		found = true;
	}
	if (!found)
		return false;
	for (int i = 0; i < state->nphrases; i++)
	{
		bool		present = strstr(written, state->phrases[i].written) != NULL;

		if (present == state->phrases[i].negated)
			return false;
	}
	return true;
}

/*
 * TextPrepare
 *		The hook's state for a $text and a text index spec.
 */
static TextState *
TextPrepare(const BsonTextQuery *query, const uint8_t *index, uint32_t index_len)
{
	TextState  *state = palloc0(sizeof(TextState));
	const char *language = query->language;
	bson_t		spec;
	bson_iter_t it;
	bson_iter_t key;

	state->case_sensitive = query->case_sensitive;
	state->diacritic_sensitive = query->diacritic_sensitive;
	state->fields = palloc(sizeof(char *) * 8);
	if (bson_init_static(&spec, index, index_len))
	{
		int			maxfields = 8;

		if (language == NULL && bson_iter_init_find(&it, &spec, "default_language") &&
			BSON_ITER_HOLDS_UTF8(&it))
			language = bson_iter_utf8(&it, NULL);
		if (bson_iter_init_find(&it, &spec, "key") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
			bson_iter_recurse(&it, &key))
		{
			while (bson_iter_next(&key))
			{
				if (!BSON_ITER_HOLDS_UTF8(&key) ||
					strcmp(bson_iter_utf8(&key, NULL), "text") != 0)
					continue;
				if (strcmp(bson_iter_key(&key), "$**") == 0)
					state->wildcard = true;
				if (state->nfields == maxfields)
				{
					maxfields *= 2;
					state->fields = repalloc(state->fields, sizeof(char *) * maxfields);
				}
				state->fields[state->nfields++] = pstrdup(bson_iter_key(&key));
			}
		}
		/* text indexes recorded with weights name their fields there */
		if (bson_iter_init_find(&it, &spec, "weights") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
			bson_iter_recurse(&it, &key))
		{
			while (bson_iter_next(&key))
			{
				bool		known = false;

				if (strcmp(bson_iter_key(&key), "$**") == 0)
					state->wildcard = true;
				for (int i = 0; i < state->nfields; i++)
					known |= strcmp(state->fields[i], bson_iter_key(&key)) == 0;
				if (known)
					continue;
				if (state->nfields == maxfields)
				{
					maxfields *= 2;
					state->fields = repalloc(state->fields, sizeof(char *) * maxfields);
				}
				state->fields[state->nfields++] = pstrdup(bson_iter_key(&key));
			}
		}
	}
	state->config = TextLanguageConfig(language != NULL && language[0] != '\0' ?
									   language : "english");
	TextParseSearch(state, query->search, query->search_len);
	return state;
}

/*
 * TextCachedFilter
 *		The compiled filter with its text state, from fn_extra when the
 *		arguments are the ones of the last call.
 */
static BsonFilter *
TextCachedFilter(FunctionCallInfo fcinfo, const Bson *filter, const Bson *index,
				 const Bson *collation)
{
	TextFilterCache *cache = (TextFilterCache *) fcinfo->flinfo->fn_extra;
	uint32_t	flen = BsonDocLen(filter);
	uint32_t	ilen = BsonDocLen(index);
	uint32_t	clen = collation != NULL ? BsonDocLen(collation) : 0;
	uint32_t	len = flen + ilen + clen;
	BsonQueryError error = {0};
	BsonTextQuery query;
	MemoryContext oldcontext;
	BsonCollation *compiled = NULL;

	if (BsonIsScalar(filter) || BsonIsScalar(index) ||
		(collation != NULL && BsonIsScalar(collation)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the filter, index and collation of bson_matches_text must be documents")));
	if (cache != NULL && cache->len == len &&
		memcmp(cache->bytes, BsonBytes(filter), flen) == 0 &&
		memcmp(cache->bytes + flen, BsonBytes(index), ilen) == 0 &&
		(clen == 0 || memcmp(cache->bytes + flen + ilen, BsonBytes(collation), clen) == 0))
		return cache->filter;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TextFilterCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "nosql text filter cache",
											   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	else
	{
		MemoryContextReset(cache->context);
		cache->filter = NULL;
		cache->len = 0;
	}

	oldcontext = MemoryContextSwitchTo(cache->context);
	if (clen > 0)
		compiled = CompileCollation(BsonBytes(collation), clen);
	cache->filter = BsonFilterCompileCollated(BsonBytes(filter), flen, compiled, &error);
	if (cache->filter != NULL && BsonFilterGetText(cache->filter, &query))
		BsonFilterSetTextState(cache->filter,
							   TextPrepare(&query, BsonBytes(index), ilen));
	MemoryContextSwitchTo(oldcontext);
	if (cache->filter == NULL)
		MongoRaise(error.code, "%s", error.message ? error.message : "invalid filter");

	cache->bytes = MemoryContextAlloc(cache->context, len);
	memcpy(cache->bytes, BsonBytes(filter), flen);
	memcpy(cache->bytes + flen, BsonBytes(index), ilen);
	if (clen > 0)
		memcpy(cache->bytes + flen + ilen, BsonBytes(collation), clen);
	cache->len = len;
	return cache->filter;
}

/*
 * nosql.bson_matches_text(document, filter, index): whether a document
 * matches a filter whose $text searches the fields of a text index spec.
 */
PG_FUNCTION_INFO_V1(bson_matches_text);
Datum
bson_matches_text(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	BsonFilter *filter = TextCachedFilter(fcinfo, PG_GETARG_BSON_P(1),
										  PG_GETARG_BSON_P(2), NULL);

	if (BsonIsScalar(doc))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(BsonFilterMatches(filter, BsonBytes(doc), BsonDocLen(doc)));
}

/*
 * nosql.bson_matches_text(document, filter, index, collation): the same
 * with strings compared under a MongoDB collation.
 */
PG_FUNCTION_INFO_V1(bson_matches_text_collated);
Datum
bson_matches_text_collated(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	BsonFilter *filter = TextCachedFilter(fcinfo, PG_GETARG_BSON_P(1),
										  PG_GETARG_BSON_P(2), PG_GETARG_BSON_P(3));

	if (BsonIsScalar(doc))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(BsonFilterMatches(filter, BsonBytes(doc), BsonDocLen(doc)));
}

/*
 * TextFindIndex
 *		The spec of a collection's text index (a new bson_t the caller
 *		destroys), or NULL when it has none.
 */
bson_t *
TextFindIndex(const bson_t *indexes)
{
	bson_iter_t spec;

	if (indexes == NULL || !bson_iter_init(&spec, indexes))
		return NULL;
	while (bson_iter_next(&spec))
	{
		bson_iter_t key;
		const uint8_t *data;
		uint32_t	len;

		if (!BSON_ITER_HOLDS_DOCUMENT(&spec) || !bson_iter_recurse(&spec, &key) ||
			!bson_iter_find(&key, "key") || !BSON_ITER_HOLDS_DOCUMENT(&key) ||
			!bson_iter_recurse(&key, &key))
			continue;
		while (bson_iter_next(&key))
		{
			if (BSON_ITER_HOLDS_UTF8(&key) &&
				strcmp(bson_iter_utf8(&key, NULL), "text") == 0)
			{
				bson_iter_document(&spec, &len, &data);
				return bson_new_from_data(data, len);
			}
		}
	}
	return NULL;
}

/*
 * TextInit
 *		Register the text hook of the filter engine.
 */
void
TextInit(void)
{
	BsonFilterSetTextHook(TextMatch);
}
