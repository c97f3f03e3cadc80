/*-------------------------------------------------------------------------
 *
 * bson_json.c
 *	  MongoDB Extended JSON v2 text to BSON.
 *
 * Design
 * ------
 * Text is tokenised by PostgreSQL's own JSON lexer (json_lex of
 * common/jsonapi.h, the one jsonb uses); the grammar and the de-escaping of
 * strings are ours and append straight into a libbson bson_t: documents and
 * arrays are streamed into their parent with libbson's begin/end child API,
 * so a plain document is built in one pass with no intermediate tree and no
 * copy of strings that have no escapes.  Our de-escaping keeps \u0000,
 * which BSON strings may hold and PostgreSQL's refuses.  libbson's own JSON
 * reader is not used: it measured 1.13 us per small document against
 * jsonb_in's 0.83 us, rejects integers beyond int64 that JSON allows, and
 * silently merges concatenated documents into one.
 *
 * Extended JSON wrappers ({"$oid": ...}, {"$date": {"$numberLong": ...}},
 * ...) are recognised by their first key: such an object is collected into
 * a small temporary document (nested wrappers already converted), which
 * bson_ejson.c turns into the typed value it spells at the object's end.
 *
 * Plain JSON numbers become int32 when they are integers that fit, int64
 * when they fit that, and double otherwise, as MongoDB's shell and drivers
 * read relaxed Extended JSON.
 *
 * Nesting is bounded before it recurses: 100 levels of documents and arrays
 * (as MongoDB), and a bound on wrapper frames, so hostile input cannot
 * exhaust the stack.
 *
 * The file builds for the server and, with -DFRONTEND, standalone for the
 * unit tests and fuzz targets; in the server errors are raised with
 * ereport, standalone they are returned.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "mb/pg_wchar.h"
#ifndef FRONTEND
#include "miscadmin.h"
#endif

#include "bson_json_int.h"

/* ----------------------------------------------------------------
 * Parsing
 * ----------------------------------------------------------------
 */

/*
 * The bson_t that the value being parsed is appended to: the innermost
 * frame's target, or the root (under key "") for a top-level non-document.
 */
static bson_t *
EjsonTarget(EjsonState *st)
{
	if (st->nframes == 0)
	{
		st->is_scalar = true;
		st->key = "";
		st->keylen = 0;
		return st->root;
	}
	return st->frames[st->nframes - 1]->target;
}

/*
 * Push a frame for an object or array starting under the current key.
 */
static EjsonFrame *
EjsonPush(EjsonState *st, EjsonFrameKind kind)
{
	EjsonFrame *frame;

	if (st->nframes >= EJSON_MAX_FRAMES)
	{
		EJSON_FAIL(st, "Extended JSON wrappers are nested too deeply.");
		return NULL;
	}
	if (st->nframes < st->nallocated)
		frame = st->frames[st->nframes];
	else
	{
		/* bson_t wants 128-byte alignment, more than palloc promises */
		char	   *block = palloc(sizeof(EjsonFrame) + 128);

		st->frame_blocks[st->nframes] = block;
		frame = (EjsonFrame *) TYPEALIGN(128, block);
		st->frames[st->nframes] = frame;
		st->nallocated++;
	}
	st->nframes++;

	frame->kind = kind;
	frame->target = NULL;
	frame->wrapper = NULL;
	frame->index = 0;
	frame->plain_number = false;
	frame->strict = false;
	frame->counted = false;
	if (st->nframes == 1)
	{
		frame->key = NULL;
		frame->keylen = 0;
	}
	else if (st->key == st->keybuf)
	{
		/* an array index: st->keybuf is reused by the elements below */
		memcpy(frame->keybuf, st->keybuf, sizeof(frame->keybuf));
		frame->key = frame->keybuf;
		frame->keylen = st->keylen;
	}
	else
	{
		/* a field name, alive until its object_field_end */
		frame->key = st->key;
		frame->keylen = st->keylen;
	}
	return frame;
}

/*
 * The bson_t a frame's own value goes into (its parent's target), with the
 * key it goes under.  The top value goes into the root: a top-level
 * document is the root itself, anything else the root's only element "".
 */
static bson_t *
EjsonParentTarget(EjsonState *st, EjsonFrame *frame, const char **key, int *keylen)
{
	int			level = st->nframes - 1;	/* frame is the innermost */

	Assert(st->frames[level] == frame);
	if (level == 0)
	{
		*key = "";
		*keylen = 0;
		return st->root;
	}
	*key = frame->key;
	*keylen = frame->keylen;
	return st->frames[level - 1]->target;
}

/*
 * Count the innermost frame, an object or array, against the nesting limit
 * when it is a level of the BSON being built, so that text and bytes agree
 * on the depth of a value.  The inside of a strict wrapper ({"t": .., "i":
 * ..} of a $timestamp, the {"base64": ..} of a $binary) is part of a
 * scalar, not a level; a code-with-scope's $scope is a document of its own.
 * A non-strict wrapper ($regex, $options, $type, $scope first) counts as a
 * level from its start, as it may turn out to be a document (when it turns
 * out to be a value the count errs on the safe side).
 */
static bool
EjsonEnterLevel(EjsonState *st)
{
	EjsonFrame *frame = st->frames[st->nframes - 1];

	if (st->nframes >= 2)
	{
		EjsonFrame *parent = st->frames[st->nframes - 2];

		if (parent->kind == FRAME_WRAPPER && parent->strict &&
			!(frame->keylen == 6 && memcmp(frame->key, "$scope", 6) == 0))
			return true;
	}
	if (++st->depth > BSON_MAX_DEPTH)
	{
		EJSON_FAIL(st, "Documents and arrays are nested more than %d levels deep.",
				   BSON_MAX_DEPTH);
		return false;
	}
	frame->counted = true;
	return true;
}

/*
 * Release the innermost frame's level, if it was counted.
 */
static void
EjsonLeaveLevel(EjsonState *st)
{
	if (st->frames[st->nframes - 1]->counted)
		st->depth--;
}

static void
EjsonObjectStart(EjsonState *st)
{
	/* a top-level object is the document itself unless it is a wrapper */
	EjsonPush(st, FRAME_PENDING);
}

/*
 * Decide what a pending object is, from its first key.
 */
static void
EjsonDecide(EjsonState *st, EjsonFrame *frame, const char *first_key, int keylen)
{
	const EjsonKeyword *kw = EjsonFindKeyword(first_key, keylen);

	if (kw != NULL)
	{
		frame->kind = FRAME_WRAPPER;
		frame->strict = kw->strict;
		frame->wrapper = bson_new();
		frame->target = frame->wrapper;
		if (!kw->strict)
			(void) EjsonEnterLevel(st);
		return;
	}

	frame->kind = FRAME_DOCUMENT;
	if (!EjsonEnterLevel(st))
		return;
	if (st->nframes == 1)
		frame->target = st->root;	/* the top-level document itself */
	else
	{
		const char *key;
		int			keylen;
		bson_t	   *parent = EjsonParentTarget(st, frame, &key, &keylen);

		bson_append_document_begin(parent, key, keylen, &frame->child);
		frame->target = &frame->child;
	}
}

/*
 * A member of an object starts: remember its key (which must stay valid
 * until the member's value is complete).
 */
static void
EjsonField(EjsonState *st, const char *key, int keylen)
{
	EjsonFrame *frame = st->frames[st->nframes - 1];

	if (frame->kind == FRAME_PENDING)
		EjsonDecide(st, frame, key, keylen);
	st->key = key;
	st->keylen = keylen;
}

static void
EjsonArrayStart(EjsonState *st)
{
	EjsonFrame *frame;
	bson_t	   *parent;
	const char *key;
	int			keylen;

	if (st->nframes == 0)
		(void) EjsonTarget(st); /* a top-level array is a wrapped value */
	frame = EjsonPush(st, FRAME_ARRAY);
	if (frame == NULL || !EjsonEnterLevel(st))
		return;
	parent = EjsonParentTarget(st, frame, &key, &keylen);
	bson_append_array_begin(parent, key, keylen, &frame->child);
	frame->target = &frame->child;
}

static void
EjsonElement(EjsonState *st)
{
	EjsonFrame *frame = st->frames[st->nframes - 1];

	st->keylen = (int) bson_uint32_to_string(frame->index++, &st->key,
											 st->keybuf, sizeof(st->keybuf));
}

static void
EjsonArrayEnd(EjsonState *st)
{
	EjsonFrame *frame;
	bson_t	   *parent;
	const char *key;
	int			keylen;

	frame = st->frames[st->nframes - 1];
	parent = EjsonParentTarget(st, frame, &key, &keylen);
	bson_append_array_end(parent, &frame->child);
	EjsonLeaveLevel(st);
	st->nframes--;
}

static void
EjsonObjectEnd(EjsonState *st)
{
	EjsonFrame *frame;
	bson_t	   *parent;
	const char *key;
	int			keylen;

	frame = st->frames[st->nframes - 1];
	parent = EjsonParentTarget(st, frame, &key, &keylen);

	switch (frame->kind)
	{
		case FRAME_PENDING:
			/* {}: an empty document */
			if (!EjsonEnterLevel(st))
				return;
			if (st->nframes > 1)
			{
				bson_append_document_begin(parent, key, keylen, &frame->child);
				bson_append_document_end(parent, &frame->child);
			}
			EjsonLeaveLevel(st);
			break;
		case FRAME_DOCUMENT:
			if (st->nframes > 1)
				bson_append_document_end(parent, &frame->child);
			EjsonLeaveLevel(st);
			break;
		case FRAME_WRAPPER:
			if (!EjsonAppendWrapper(st, parent, key, keylen, frame->wrapper,
									frame->plain_number))
			{
				/* not a value: an ordinary document */
				if (st->failed || (!frame->counted && !EjsonEnterLevel(st)))
					return;
				if (st->nframes == 1)
				{
					bson_concat(st->root, frame->wrapper);
					st->is_scalar = false;
				}
				else
					bson_append_document(parent, key, keylen, frame->wrapper);
			}
			EjsonLeaveLevel(st);
			bson_destroy(frame->wrapper);
			frame->wrapper = NULL;
			break;
		case FRAME_ARRAY:
			Assert(false);
			break;
	}
	st->nframes--;
}

/*
 * Parse a JSON number token: an integer that fits int32 or int64 keeps the
 * narrowest of those types, anything else is a double.
 */
static void
EjsonAppendNumber(EjsonState *st, bson_t *target, const char *token)
{
	const char *p = token;
	bool		negative = false;
	uint64_t	magnitude = 0;
	bool		integral = true;

	if (*p == '-')
	{
		negative = true;
		p++;
	}
	for (; *p; p++)
	{
		if (*p < '0' || *p > '9')
		{
			integral = false;
			break;
		}
		if (magnitude > (UINT64_MAX - 9) / 10)
		{
			integral = false;	/* too big for int64: a double */
			break;
		}
		magnitude = magnitude * 10 + (uint64_t) (*p - '0');
	}

	if (integral && magnitude <= (uint64_t) INT64_MAX + (negative ? 1 : 0))
	{
		int64_t		value = negative ? (int64_t) (0 - magnitude) : (int64_t) magnitude;

		if (value >= INT32_MIN && value <= INT32_MAX)
			bson_append_int32(target, st->key, st->keylen, (int32_t) value);
		else
			bson_append_int64(target, st->key, st->keylen, value);
	}
	else
	{
		/* the lexer checked the syntax; strtod rounds correctly */
		bson_append_double(target, st->key, st->keylen, strtod(token, NULL));
	}
}

/*
 * A scalar value: str/len is a decoded string (which may hold NULs) or the
 * raw text of a number.
 */
static void
EjsonScalar(EjsonState *st, JsonTokenType tokentype, const char *str, int len)
{
	bson_t	   *target = EjsonTarget(st);

	switch (tokentype)
	{
		case JSON_TOKEN_STRING:
			bson_append_utf8(target, st->key, st->keylen, str, len);
			break;
		case JSON_TOKEN_NUMBER:
			{
				char		buf[64];
				char	   *token = len < (int) sizeof(buf) ? buf : palloc(len + 1);

				/* {"$date": 42} is not Extended JSON v2; {"$minKey": 1} is */
				if (st->nframes > 0 &&
					st->frames[st->nframes - 1]->kind == FRAME_WRAPPER)
					st->frames[st->nframes - 1]->plain_number = true;

				/* strtod wants a terminated string */
				memcpy(token, str, len);
				token[len] = '\0';
				EjsonAppendNumber(st, target, token);
				if (token != buf)
					pfree(token);
			}
			break;
		case JSON_TOKEN_TRUE:
			bson_append_bool(target, st->key, st->keylen, true);
			break;
		case JSON_TOKEN_FALSE:
			bson_append_bool(target, st->key, st->keylen, false);
			break;
		case JSON_TOKEN_NULL:
			bson_append_null(target, st->key, st->keylen);
			break;
		default:
			EJSON_FAIL(st, "Unexpected JSON token.");
			break;
	}
}

/* ---- the grammar, driven by PostgreSQL's JSON lexer ---- */

/*
 * Append the UTF-8 encoding of a code point.
 */
static char *
EjsonUtf8(char *out, uint32_t cp)
{
	if (cp < 0x80)
		*out++ = (char) cp;
	else if (cp < 0x800)
	{
		*out++ = (char) (0xC0 | (cp >> 6));
		*out++ = (char) (0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		*out++ = (char) (0xE0 | (cp >> 12));
		*out++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*out++ = (char) (0x80 | (cp & 0x3F));
	}
	else
	{
		*out++ = (char) (0xF0 | (cp >> 18));
		*out++ = (char) (0x80 | ((cp >> 12) & 0x3F));
		*out++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*out++ = (char) (0x80 | (cp & 0x3F));
	}
	return out;
}

/*
 * Four hex digits (the lexer has checked they are hex digits).
 */
static uint32_t
EjsonHex4(const char *p)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
		v = v * 16 + (uint32_t) EjsonHexValue(p[i]);
	return v;
}

/*
 * The value of the string token the lexer is at.  Strings without escapes
 * (the usual case) are returned in place; others are decoded into *owned,
 * which the caller frees.  Unlike PostgreSQL's own de-escaping this keeps
 * \u0000, which BSON strings may hold.  Returns false after reporting a
 * lone surrogate.
 */
static bool
EjsonString(EjsonState *st, const char **str, int *len, char **owned)
{
	const char *s = st->lex->token_start + 1;
	int			n = (int) (st->lex->token_terminator - st->lex->token_start) - 2;
	char	   *out;
	const char *end = s + n;

	*owned = NULL;
	if (memchr(s, '\\', n) == NULL)
	{
		*str = s;
		*len = n;
		return true;
	}

	/* decoded text is never longer than its escaped form */
	*owned = out = palloc(n + 1);
	while (s < end)
	{
		if (*s != '\\')
		{
			*out++ = *s++;
			continue;
		}
		s++;					/* the lexer checked every escape's syntax */
		switch (*s)
		{
			case 'b':
				*out++ = '\b';
				break;
			case 'f':
				*out++ = '\f';
				break;
			case 'n':
				*out++ = '\n';
				break;
			case 'r':
				*out++ = '\r';
				break;
			case 't':
				*out++ = '\t';
				break;
			case 'u':
				{
					uint32_t	cp = EjsonHex4(s + 1);

					s += 4;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						uint32_t	lo;

						if (end - s < 7 || s[1] != '\\' || s[2] != 'u' ||
							(lo = EjsonHex4(s + 3)) < 0xDC00 || lo > 0xDFFF)
						{
							pfree(*owned);
							*owned = NULL;
							EJSON_FAIL(st, "Unicode high surrogate must be followed by a low surrogate.");
							return false;
						}
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						s += 6;
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
					{
						pfree(*owned);
						*owned = NULL;
						EJSON_FAIL(st, "Unicode low surrogate must follow a high surrogate.");
						return false;
					}
					out = EjsonUtf8(out, cp);
				}
				break;
			default:			/* " \ / */
				*out++ = *s;
				break;
		}
		s++;
	}
	*out = '\0';
	*str = *owned;
	*len = (int) (out - *owned);
	return true;
}

static JsonParseErrorType EjsonParseValue(EjsonState *st);

/*
 * object: '{' (string ':' value (',' string ':' value)*)? '}'
 */
static JsonParseErrorType
EjsonParseObject(EjsonState *st)
{
	JsonLexContext *lex = st->lex;
	JsonParseErrorType rc = JSON_SUCCESS;
	bool		first = true;

#ifndef FRONTEND
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
#endif
	EjsonObjectStart(st);
	if (st->failed || (rc = json_lex(lex)) != JSON_SUCCESS)
		return st->failed ? JSON_SUCCESS : rc;
	if (lex->token_type != JSON_TOKEN_OBJECT_END)
	{
		for (;;)
		{
			const char *key;
			int			keylen;
			char	   *owned;

			if (lex->token_type != JSON_TOKEN_STRING)
				return first ? JSON_EXPECTED_OBJECT_FIRST : JSON_EXPECTED_STRING;
			if (!EjsonString(st, &key, &keylen, &owned))
				return JSON_SUCCESS;
			if (memchr(key, '\0', keylen) != NULL)
				EJSON_FAIL(st, "Field names cannot contain NUL characters.");
			else if ((rc = json_lex(lex)) == JSON_SUCCESS)
			{
				if (lex->token_type != JSON_TOKEN_COLON)
					rc = JSON_EXPECTED_COLON;
				else if ((rc = json_lex(lex)) == JSON_SUCCESS)
				{
					EjsonField(st, key, keylen);
					if (!st->failed)
						rc = EjsonParseValue(st);
				}
			}
			if (owned)
				pfree(owned);
			if (st->failed || rc != JSON_SUCCESS)
				return rc;
			first = false;
			if (lex->token_type == JSON_TOKEN_OBJECT_END)
				break;
			if (lex->token_type != JSON_TOKEN_COMMA)
				return JSON_EXPECTED_OBJECT_NEXT;
			if ((rc = json_lex(lex)) != JSON_SUCCESS)
				return rc;
		}
	}
	EjsonObjectEnd(st);
	return st->failed ? JSON_SUCCESS : json_lex(lex);
}

/*
 * array: '[' (value (',' value)*)? ']'
 */
static JsonParseErrorType
EjsonParseArray(EjsonState *st)
{
	JsonLexContext *lex = st->lex;
	JsonParseErrorType rc = JSON_SUCCESS;

#ifndef FRONTEND
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
#endif
	EjsonArrayStart(st);
	if (st->failed || (rc = json_lex(lex)) != JSON_SUCCESS)
		return st->failed ? JSON_SUCCESS : rc;
	if (lex->token_type != JSON_TOKEN_ARRAY_END)
	{
		for (;;)
		{
			EjsonElement(st);
			rc = EjsonParseValue(st);
			if (st->failed || rc != JSON_SUCCESS)
				return rc;
			if (lex->token_type == JSON_TOKEN_ARRAY_END)
				break;
			if (lex->token_type != JSON_TOKEN_COMMA)
				return JSON_EXPECTED_ARRAY_NEXT;
			if ((rc = json_lex(lex)) != JSON_SUCCESS)
				return rc;
		}
	}
	EjsonArrayEnd(st);
	return st->failed ? JSON_SUCCESS : json_lex(lex);
}

/*
 * value: object | array | scalar; on return the lexer is past it.
 */
static JsonParseErrorType
EjsonParseValue(EjsonState *st)
{
	JsonLexContext *lex = st->lex;

	switch (lex->token_type)
	{
		case JSON_TOKEN_OBJECT_START:
			return EjsonParseObject(st);
		case JSON_TOKEN_ARRAY_START:
			return EjsonParseArray(st);
		case JSON_TOKEN_STRING:
			{
				const char *str;
				int			len;
				char	   *owned;

				if (!EjsonString(st, &str, &len, &owned))
					return JSON_SUCCESS;
				EjsonScalar(st, JSON_TOKEN_STRING, str, len);
				if (owned)
					pfree(owned);
			}
			break;
		case JSON_TOKEN_NUMBER:
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
		case JSON_TOKEN_NULL:
			EjsonScalar(st, lex->token_type, lex->token_start,
						(int) (lex->token_terminator - lex->token_start));
			break;
		case JSON_TOKEN_END:
			return JSON_EXPECTED_MORE;
		default:
			return JSON_EXPECTED_JSON;
	}
	return st->failed ? JSON_SUCCESS : json_lex(lex);
}

/*
 * The message of a JSON syntax error.  The server has jsonapi's own
 * messages; Debian's frontend libpgcommon lacks json_errdetail, so the
 * standalone build words them itself.
 */
static char *
EjsonSyntaxError(JsonParseErrorType rc, JsonLexContext *lex)
{
#ifndef FRONTEND
	return json_errdetail(rc, lex);
#else
	const char *what;

	switch (rc)
	{
		case JSON_EXPECTED_MORE:
			return psprintf("The input string ended unexpectedly.");
		case JSON_EXPECTED_END:
			what = "end of input";
			break;
		case JSON_EXPECTED_COLON:
			what = "\":\"";
			break;
		case JSON_EXPECTED_STRING:
		case JSON_EXPECTED_OBJECT_FIRST:
			what = "string";
			break;
		case JSON_EXPECTED_OBJECT_NEXT:
			what = "\",\" or \"}\"";
			break;
		case JSON_EXPECTED_ARRAY_NEXT:
			what = "\",\" or \"]\"";
			break;
		case JSON_EXPECTED_JSON:
		case JSON_EXPECTED_ARRAY_FIRST:
			what = "JSON value";
			break;
		default:
			return psprintf("Invalid JSON (error %d) at byte %d.", (int) rc,
							lex->token_start ? (int) (lex->token_start - lex->input) : 0);
	}
	return psprintf("Expected %s at byte %d.", what,
					lex->token_start ? (int) (lex->token_start - lex->input) : 0);
#endif
}

/*
 * Parse Extended JSON text into BSON; see bson_json.h.
 */
bool
BsonParseJson(const char *json, size_t len, BsonParsed *out, char **error)
{
	EjsonState	st;
	EjsonFrame	stack_frames[EJSON_STACK_FRAMES];
	JsonLexContext lex;
	JsonParseErrorType rc = JSON_SUCCESS;
	bool		ok;

	/* only the scalars: the arrays are filled as frames are used */
	st.is_scalar = false;
	st.nframes = 0;
	st.depth = 0;
	st.key = NULL;
	st.keylen = 0;
	st.failed = false;
	st.errmsg = NULL;
	for (int i = 0; i < EJSON_STACK_FRAMES; i++)
	{
		st.frames[i] = &stack_frames[i];
		st.frame_blocks[i] = NULL;
	}
	st.nallocated = EJSON_STACK_FRAMES;
	bson_init(&out->doc);
	st.root = &out->doc;

	/*
	 * The lexer only: no de-escaping (EjsonString does it), so no per-token
	 * copies.
	 */
	memset(&lex, 0, sizeof(lex));
	lex.input = lex.token_terminator = lex.line_start = (char *) json;
	lex.line_number = 1;
	lex.input_length = (int) len;
	lex.input_encoding = PG_UTF8;
	lex.strval = NULL;
	st.lex = &lex;

#ifdef FRONTEND
	/* in the server, text input has been verified in the server encoding */
	if (pg_encoding_verifymbstr(PG_UTF8, json, (int) len) != (int) len)
	{
		EJSON_FAIL(&st, "The input is not valid UTF-8.");
		rc = JSON_SUCCESS;
	}
	else
#endif
	if ((rc = json_lex(&lex)) == JSON_SUCCESS)
	{
		rc = EjsonParseValue(&st);
		if (rc == JSON_SUCCESS && !st.failed && lex.token_type != JSON_TOKEN_END)
			rc = JSON_EXPECTED_END;
	}

	ok = !st.failed;
	if (ok && rc != JSON_SUCCESS)
	{
		char	   *detail;

		/* a grammar error at the end of the input: say so, as jsonapi does */
		if (rc >= JSON_EXPECTED_ARRAY_FIRST && rc <= JSON_EXPECTED_STRING &&
			(lex.token_start == NULL || lex.token_type == JSON_TOKEN_END))
			rc = JSON_EXPECTED_MORE;
		detail = EjsonSyntaxError(rc, &lex);
		EJSON_FAIL(&st, "%s", detail);
#ifdef FRONTEND
		pfree(detail);
#endif
		ok = false;
	}
	if (ok && out->doc.len > BSON_MAX_DOC_SIZE)
	{
#ifndef FRONTEND
		/* a limit, not a syntax error: the SQLSTATE MongoDB users expect */
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bson document is too large"),
				 errdetail("The document is %u bytes; the limit is %d bytes.",
						   out->doc.len, BSON_MAX_DOC_SIZE)));
#endif
		EJSON_FAIL(&st, "The document is %u bytes; the limit is %d bytes.",
				   out->doc.len, BSON_MAX_DOC_SIZE);
		ok = false;
	}

	/* after a failure, free what a half-built value left behind */
	for (int i = 0; i < st.nframes; i++)
	{
		if (st.frames[i]->wrapper != NULL)
			bson_destroy(st.frames[i]->wrapper);
	}
	for (int i = EJSON_STACK_FRAMES; i < st.nallocated; i++)
		pfree(st.frame_blocks[i]);

	if (!ok)
	{
		bson_destroy(&out->doc);
		*error = st.errmsg;
		return false;
	}
	out->is_scalar = st.is_scalar;
	return true;
}
