/*-------------------------------------------------------------------------
 *
 * bson_json.c
 *	  MongoDB Extended JSON v2 to and from BSON.
 *
 * Design
 * ------
 * Parsing runs PostgreSQL's JSON parser (common/jsonapi.h, the one jsonb
 * uses) with semantic actions that append straight into a libbson bson_t:
 * documents and arrays are streamed into their parent with libbson's
 * begin/end child API, so a plain document is built in one pass with no
 * intermediate tree.  libbson's own JSON reader was measured at 1.13 us per
 * small document against jsonb_in's 0.83 us, rejects integers beyond int64
 * that JSON allows, and silently merges concatenated documents, so it is not
 * used for input.
 *
 * Extended JSON wrappers ({"$oid": ...}, {"$date": {"$numberLong": ...}},
 * ...) are recognised by their first key.  An object whose first key is one
 * of the wrapper keywords is collected into a small temporary document
 * (nested wrappers already converted), and at its end the temporary is
 * turned into the typed value it spells.  Keywords that are also MongoDB
 * query operators ($regex, $options, $type) or that only complete another
 * wrapper ($scope) fall back to an ordinary document when the shape does not
 * match; every other keyword with a wrong shape is an error, as the
 * Extended JSON specification requires.
 *
 * Plain JSON numbers become int32 when they are integers that fit, int64
 * when they fit that, and double otherwise, as MongoDB's shell and drivers
 * read relaxed Extended JSON.
 *
 * Printing walks the BSON with libbson's iterator.  Relaxed output is
 * relaxed Extended JSON that keeps every type: an int64 that fits in int32
 * is printed as {"$numberLong": "..."} (a plain number would come back as
 * int32), and doubles are printed in their shortest round-trip form with a
 * ".0" where needed to stay doubles.  So text output always parses back to
 * the same bytes.
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

#include <math.h>

#include "common/base64.h"
#include "common/jsonapi.h"
#include "common/shortest_dec.h"
#include "mb/pg_wchar.h"
#ifndef FRONTEND
#include "miscadmin.h"
#endif

#include "bson_json.h"

/* ----------------------------------------------------------------
 * Parsing
 * ----------------------------------------------------------------
 */

typedef enum EjsonFrameKind
{
	FRAME_PENDING,				/* object whose first key is not seen yet */
	FRAME_DOCUMENT,				/* ordinary object, streamed into its parent */
	FRAME_ARRAY,				/* array, streamed into its parent */
	FRAME_WRAPPER				/* object starting with a wrapper keyword */
} EjsonFrameKind;

/* Nested frames beyond this many are allocated one by one */
#define EJSON_STACK_FRAMES	8
/* Wrapper objects can nest inside each other: bound all frames */
#define EJSON_MAX_FRAMES	(2 * BSON_MAX_DEPTH + 2)

typedef struct EjsonFrame
{
	bson_t		child;			/* DOCUMENT/ARRAY below a parent; first, for
								 * libbson's alignment */
	EjsonFrameKind kind;
	bson_t	   *target;			/* where the members are appended */
	bson_t	   *wrapper;		/* WRAPPER: members collected here */
	const char *key;			/* key in the parent; NULL for the top value */
	int			keylen;
	uint32_t	index;			/* ARRAY: index of the next element */
	bool		plain_number;	/* WRAPPER: a member is a plain JSON number */
	bool		strict;			/* WRAPPER: its keyword must spell a value */
	bool		counted;		/* counted against the nesting limit */
	char		keybuf[16];		/* storage of key when it is an array index */
} EjsonFrame;

typedef struct EjsonState
{
	JsonLexContext *lex;
	bson_t	   *root;
	bool		is_scalar;
	int			nframes;		/* frames in use */
	int			nallocated;		/* frames[] entries that point somewhere */
	int			depth;			/* documents and arrays among them */
	EjsonFrame *frames[EJSON_MAX_FRAMES];
	void	   *frame_blocks[EJSON_MAX_FRAMES];	/* allocations to free */
	const char *key;			/* key of the value being parsed */
	int			keylen;
	char		keybuf[16];
	bool		failed;
	char	   *errmsg;
} EjsonState;

#ifdef FRONTEND
#define EJSON_FAIL(st, ...) \
	do { \
		if (!(st)->failed) \
			(st)->errmsg = psprintf(__VA_ARGS__); \
		(st)->failed = true; \
	} while (0)
#else
#define EJSON_FAIL(st, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), \
			 errmsg("invalid input syntax for type bson"), \
			 errdetail(__VA_ARGS__)))
#endif

/*
 * Keywords that start a wrapper.  The strict ones must spell a value; the
 * others fall back to an ordinary document when they do not.
 */
typedef struct EjsonKeyword
{
	const char *name;
	bool		strict;
} EjsonKeyword;

static const EjsonKeyword ejson_keywords[] = {
	{"$binary", true},
	{"$code", true},
	{"$date", true},
	{"$dbPointer", true},
	{"$maxKey", true},
	{"$minKey", true},
	{"$numberDecimal", true},
	{"$numberDouble", true},
	{"$numberInt", true},
	{"$numberLong", true},
	{"$oid", true},
	{"$options", false},
	{"$regex", false},
	{"$regularExpression", true},
	{"$scope", false},
	{"$symbol", true},
	{"$timestamp", true},
	{"$type", false},
	{"$undefined", true},
	{"$uuid", true},
};

/*
 * The keyword entry for a key, or NULL when the key is not a keyword.
 */
static const EjsonKeyword *
EjsonFindKeyword(const char *key, int keylen)
{
	if (keylen < 2 || key[0] != '$')
		return NULL;
	for (size_t i = 0; i < lengthof(ejson_keywords); i++)
	{
		if (strncmp(key, ejson_keywords[i].name, keylen) == 0 &&
			ejson_keywords[i].name[keylen] == '\0')
			return &ejson_keywords[i];
	}
	return NULL;
}

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

/* Wrapper conversion, below */
static bool EjsonAppendWrapper(EjsonState *st, bson_t *target, const char *key,
							   int keylen, const bson_t *wrapper, bool plain_number);

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

/* ---- wrapper conversion ---- */

/*
 * Strictly parse a decimal integer string into int64 within [min, max].
 */
static bool
EjsonParseInteger(const char *s, int64_t min, int64_t max, int64_t *result)
{
	const char *p = s;
	bool		negative = false;
	uint64_t	magnitude = 0;

	if (*p == '-')
	{
		negative = true;
		p++;
	}
	if (*p == '\0')
		return false;
	for (; *p; p++)
	{
		if (*p < '0' || *p > '9' || magnitude > (UINT64_MAX - 9) / 10)
			return false;
		magnitude = magnitude * 10 + (uint64_t) (*p - '0');
	}
	if (negative)
	{
		if (magnitude > (uint64_t) INT64_MAX + 1)
			return false;
		*result = (int64_t) (0 - magnitude);
	}
	else
	{
		if (magnitude > (uint64_t) INT64_MAX)
			return false;
		*result = (int64_t) magnitude;
	}
	return *result >= min && *result <= max;
}

/*
 * The text of a $numberDouble: Infinity, -Infinity, NaN or a decimal number.
 */
static bool
EjsonParseDouble(const char *s, double *result)
{
	char	   *end;

	if (strcmp(s, "Infinity") == 0)
		*result = INFINITY;
	else if (strcmp(s, "-Infinity") == 0)
		*result = -INFINITY;
	else if (strcmp(s, "NaN") == 0)
		*result = NAN;
	else
	{
		/* strtod would also take "inf", "nan" and hexadecimal: refuse them */
		if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
			return false;
		errno = 0;
		*result = strtod(s, &end);
		if (*end != '\0' || end == s)
			return false;
	}
	return true;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil).
 */
static int64_t
EjsonDaysFromCivil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * Read exactly n digits.
 */
static bool
EjsonDigits(const char **p, int n, int *value)
{
	*value = 0;
	for (int i = 0; i < n; i++)
	{
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		*value = *value * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/*
 * Parse an ISO-8601 date-time of Extended JSON's relaxed $date:
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM|+HHMM|-HHMM), into
 * milliseconds since the epoch (fractions below a millisecond truncate).
 */
static bool
EjsonParseIsoDate(const char *s, int64_t *millis)
{
	const char *p = s;
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int			ms = 0;
	int			offset_minutes = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (!EjsonDigits(&p, 4, &year) || *p++ != '-' ||
		!EjsonDigits(&p, 2, &month) || *p++ != '-' ||
		!EjsonDigits(&p, 2, &day) || (*p != 'T' && *p != 't') ||
		!(p++, EjsonDigits(&p, 2, &hour)) || *p++ != ':' ||
		!EjsonDigits(&p, 2, &minute) || *p++ != ':' ||
		!EjsonDigits(&p, 2, &second))
		return false;
	if (*p == '.')
	{
		int			digits = 0;

		p++;
		while (*p >= '0' && *p <= '9')
		{
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0)
			return false;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			oh,
					om;

		p++;
		if (!EjsonDigits(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (!EjsonDigits(&p, 2, &om) || oh > 23 || om > 59)
			return false;
		offset_minutes = sign * (oh * 60 + om);
	}
	else
		return false;
	if (*p != '\0')
		return false;

	if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1] ||
		(month == 2 && day == 29 &&
		 !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) ||
		hour > 23 || minute > 59 || second > 60)
		return false;

	*millis = ((EjsonDaysFromCivil(year, month, day) * 24 + hour) * 60 + minute
			   - offset_minutes) * 60000 + (int64_t) second * 1000 + ms;
	return true;
}

/*
 * Regex options: only the letters MongoDB knows, each once, sorted.
 */
static bool
EjsonRegexOptions(const char *in, size_t inlen, char *out, size_t outsize)
{
	static const char known[] = "ilmsux";
	size_t		n = 0;

	for (const char *k = known; *k; k++)
	{
		int			count = 0;

		for (size_t i = 0; i < inlen; i++)
			count += (in[i] == *k);
		if (count > 1)
			return false;
		if (count == 1)
			out[n++] = *k;
	}
	if (n != inlen || n >= outsize)
		return false;
	out[n] = '\0';
	return true;
}

/*
 * Append an element whose value bytes are given whole, by concatenating a
 * one-element document: libbson's typed appenders take C strings for code,
 * which would cut JavaScript at an embedded NUL.
 */
static void
EjsonAppendRaw(bson_t *target, bson_type_t type, const char *key, int keylen,
			   const uint8_t *value, uint32_t value_len)
{
	uint32_t	doclen = 4 + 1 + keylen + 1 + value_len + 1;
	uint32_t	doclen_le = BSON_UINT32_TO_LE(doclen);
	uint8_t    *buf = palloc(doclen);
	bson_t		one;

	memcpy(buf, &doclen_le, 4);
	buf[4] = (uint8_t) type;
	memcpy(buf + 5, key, keylen);
	buf[5 + keylen] = '\0';
	memcpy(buf + 6 + keylen, value, value_len);
	buf[doclen - 1] = '\0';
	if (bson_init_static(&one, buf, doclen))
		bson_concat(target, &one);
	pfree(buf);
}

/*
 * Append JavaScript code, and its scope when given, keeping NULs.
 */
static void
EjsonAppendCode(bson_t *target, const char *key, int keylen, const char *code,
				uint32_t code_len, const bson_t *scope)
{
	uint32_t	scope_len = scope ? scope->len : 0;
	uint32_t	total = (scope ? 4 : 0) + 4 + code_len + 1 + scope_len;
	uint8_t    *value = palloc(total);
	uint8_t    *p = value;
	uint32_t	le;

	if (scope)
	{
		le = BSON_UINT32_TO_LE(total);
		memcpy(p, &le, 4);
		p += 4;
	}
	le = BSON_UINT32_TO_LE(code_len + 1);
	memcpy(p, &le, 4);
	memcpy(p + 4, code, code_len);
	p[4 + code_len] = '\0';
	if (scope)
		memcpy(p + 5 + code_len, bson_get_data(scope), scope_len);
	EjsonAppendRaw(target, scope ? BSON_TYPE_CODEWSCOPE : BSON_TYPE_CODE,
				   key, keylen, value, total);
	pfree(value);
}

/*
 * Value of a hex digit, or -1.
 */
static int
EjsonHexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Append a binary value given as base64 text and a hex subtype.
 */
static bool
EjsonAppendBinary(EjsonState *st, bson_t *target, const char *key, int keylen,
				  const char *base64, const char *subtype_hex)
{
	int			hi,
				lo;
	int			subtype;
	int			b64len = strlen(base64);
	char	   *bytes;
	int			nbytes;

	if (strlen(subtype_hex) == 1)
	{
		hi = 0;
		lo = EjsonHexValue(subtype_hex[0]);
	}
	else if (strlen(subtype_hex) == 2)
	{
		hi = EjsonHexValue(subtype_hex[0]);
		lo = EjsonHexValue(subtype_hex[1]);
	}
	else
		hi = lo = -1;
	if (hi < 0 || lo < 0)
	{
		EJSON_FAIL(st, "Binary subtype \"%s\" is not one or two hexadecimal digits.",
				   subtype_hex);
		return true;
	}
	subtype = hi * 16 + lo;

	bytes = palloc(pg_b64_dec_len(b64len) + 1);
	nbytes = pg_b64_decode(base64, b64len, bytes, pg_b64_dec_len(b64len));
	if (nbytes < 0)
	{
		pfree(bytes);
		EJSON_FAIL(st, "Binary data is not valid base64.");
		return true;
	}
	bson_append_binary(target, key, keylen, (bson_subtype_t) subtype,
					   (const uint8_t *) bytes, (uint32_t) nbytes);
	pfree(bytes);
	return true;
}

/*
 * A UUID in its 8-4-4-4-12 hexadecimal form, as binary subtype 4.
 */
static bool
EjsonAppendUuid(EjsonState *st, bson_t *target, const char *key, int keylen,
				const char *text)
{
	uint8_t		bytes[16];
	int			n = 0;

	if (strlen(text) != 36)
		goto bad;
	for (int i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (text[i] != '-')
				goto bad;
			continue;
		}
		if (EjsonHexValue(text[i]) < 0 || EjsonHexValue(text[i + 1]) < 0)
			goto bad;
		bytes[n++] = (uint8_t) (EjsonHexValue(text[i]) * 16 + EjsonHexValue(text[i + 1]));
		i++;
	}
	bson_append_binary(target, key, keylen, BSON_SUBTYPE_UUID, bytes, 16);
	return true;
bad:
	EJSON_FAIL(st, "\"%s\" is not a UUID of the form 8-4-4-4-12 hexadecimal digits.", text);
	return true;
}

/* Shorthands for reading a member of a wrapper */
#define ITER_IS(it, t) (bson_iter_type(it) == (t))

/*
 * Find a member of a (small) document; false when missing.
 */
static bool
EjsonMember(const bson_t *doc, const char *name, bson_iter_t *it)
{
	return bson_iter_init_find(it, doc, name);
}

/*
 * Whether a small document has exactly the given members (in any order).
 */
static bool
EjsonHasExactly(const bson_t *doc, const char *a, const char *b)
{
	bson_iter_t it;
	int			n = 0;

	if (!bson_iter_init(&it, doc))
		return false;
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, a) != 0 && (b == NULL || strcmp(k, b) != 0))
			return false;
		n++;
	}
	return n == (b == NULL ? 1 : 2);
}

/*
 * Whether a string member of a wrapper (or, with recurse, of a document
 * inside it) holds a NUL character.  Only a symbol's and code's text may:
 * every other wrapper string is read as a C string, which would silently
 * end at the NUL.
 */
static bool
EjsonHoldsNul(const bson_t *doc, bool recurse)
{
	bson_iter_t it;

	if (!bson_iter_init(&it, doc))
		return false;
	while (bson_iter_next(&it))
	{
		if (BSON_ITER_HOLDS_UTF8(&it))
		{
			uint32_t	len;
			const char *s = bson_iter_utf8(&it, &len);

			if (memchr(s, '\0', len) != NULL)
				return true;
		}
		else if (recurse && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *data;
			uint32_t	len;
			bson_t		inner;

			bson_iter_document(&it, &len, &data);
			if (bson_init_static(&inner, data, len) && EjsonHoldsNul(&inner, true))
				return true;
		}
	}
	return false;
}

/*
 * Turn a collected wrapper into the value it spells and append it.  Returns
 * false when it spells no value and may be an ordinary document instead;
 * reports an error (and returns true) when it is a malformed value.
 */
static bool
EjsonAppendWrapper(EjsonState *st, bson_t *target, const char *key, int keylen,
				   const bson_t *w, bool plain_number)
{
	bson_iter_t it;
	bson_iter_t it2;
	const char *first;
	const EjsonKeyword *kw;
	uint32_t	len;
	const char *s;

	if (!bson_iter_init(&it, w) || !bson_iter_next(&it))
		return false;
	first = bson_iter_key(&it);
	kw = EjsonFindKeyword(first, (int) strlen(first));
	Assert(kw != NULL);

	/* a wrapped value at the top is stored as the root's only element */
	if (st->nframes == 1)
		st->is_scalar = true;

	/*
	 * Code and its $scope (any document) may hold NULs, symbols too.  A
	 * non-strict keyword only reads its top-level members, and may be an
	 * ordinary document holding anything.
	 */
	if (strcmp(first, "$symbol") != 0 && strcmp(first, "$code") != 0 &&
		strcmp(first, "$scope") != 0 && EjsonHoldsNul(w, kw->strict))
	{
		if (st->nframes == 1)
			st->is_scalar = false;
		if (!kw->strict)
			return false;
		EJSON_FAIL(st, "Extended JSON %s value cannot contain NUL characters.", first);
		return true;
	}

	if (strcmp(first, "$oid") == 0)
	{
		bson_oid_t	oid;

		if (!EjsonHasExactly(w, "$oid", NULL) || !ITER_IS(&it, BSON_TYPE_UTF8))
			goto bad;
		s = bson_iter_utf8(&it, &len);
		if (len != 24 || !bson_oid_is_valid(s, len))
		{
			EJSON_FAIL(st, "\"%s\" is not an ObjectId: 24 hexadecimal digits expected.", s);
			return true;
		}
		bson_oid_init_from_string(&oid, s);
		bson_append_oid(target, key, keylen, &oid);
	}
	else if (strcmp(first, "$symbol") == 0)
	{
		if (!EjsonHasExactly(w, "$symbol", NULL) || !ITER_IS(&it, BSON_TYPE_UTF8))
			goto bad;
		s = bson_iter_utf8(&it, &len);
		bson_append_symbol(target, key, keylen, s, (int) len);
	}
	else if (strcmp(first, "$numberInt") == 0 || strcmp(first, "$numberLong") == 0)
	{
		bool		is32 = (first[7] == 'I');
		int64_t		v;

		if (!EjsonHasExactly(w, first, NULL) || !ITER_IS(&it, BSON_TYPE_UTF8))
			goto bad;
		s = bson_iter_utf8(&it, NULL);
		if (!EjsonParseInteger(s, is32 ? INT32_MIN : INT64_MIN,
							   is32 ? INT32_MAX : INT64_MAX, &v))
		{
			EJSON_FAIL(st, "\"%s\" is not a valid %s.", s, first);
			return true;
		}
		if (is32)
			bson_append_int32(target, key, keylen, (int32_t) v);
		else
			bson_append_int64(target, key, keylen, v);
	}
	else if (strcmp(first, "$numberDouble") == 0)
	{
		double		d;

		if (!EjsonHasExactly(w, "$numberDouble", NULL) || !ITER_IS(&it, BSON_TYPE_UTF8))
			goto bad;
		s = bson_iter_utf8(&it, NULL);
		if (!EjsonParseDouble(s, &d))
		{
			EJSON_FAIL(st, "\"%s\" is not a valid $numberDouble.", s);
			return true;
		}
		bson_append_double(target, key, keylen, d);
	}
	else if (strcmp(first, "$numberDecimal") == 0)
	{
		bson_decimal128_t dec;

		if (!EjsonHasExactly(w, "$numberDecimal", NULL) || !ITER_IS(&it, BSON_TYPE_UTF8))
			goto bad;
		s = bson_iter_utf8(&it, NULL);
		if (!bson_decimal128_from_string(s, &dec))
		{
			EJSON_FAIL(st, "\"%s\" is not a valid $numberDecimal.", s);
			return true;
		}
		bson_append_decimal128(target, key, keylen, &dec);
	}
	else if (strcmp(first, "$binary") == 0 || strcmp(first, "$type") == 0)
	{
		bson_iter_t bin;

		if (EjsonHasExactly(w, "$binary", NULL) && EjsonMember(w, "$binary", &bin) &&
			ITER_IS(&bin, BSON_TYPE_DOCUMENT))
		{
			/* canonical: {"$binary": {"base64": ..., "subType": ...}} */
			bson_t		inner;
			const uint8_t *data;
			uint32_t	dlen;
			bson_iter_t b64,
						sub;

			bson_iter_document(&bin, &dlen, &data);
			if (!bson_init_static(&inner, data, dlen) ||
				!EjsonHasExactly(&inner, "base64", "subType") ||
				!EjsonMember(&inner, "base64", &b64) || !ITER_IS(&b64, BSON_TYPE_UTF8) ||
				!EjsonMember(&inner, "subType", &sub) || !ITER_IS(&sub, BSON_TYPE_UTF8))
				goto bad;
			return EjsonAppendBinary(st, target, key, keylen,
									 bson_iter_utf8(&b64, NULL),
									 bson_iter_utf8(&sub, NULL));
		}
		if (EjsonHasExactly(w, "$binary", "$type") &&
			EjsonMember(w, "$binary", &bin) && ITER_IS(&bin, BSON_TYPE_UTF8) &&
			EjsonMember(w, "$type", &it2) && ITER_IS(&it2, BSON_TYPE_UTF8))
		{
			/* legacy: {"$binary": base64, "$type": hex} */
			return EjsonAppendBinary(st, target, key, keylen,
									 bson_iter_utf8(&bin, NULL),
									 bson_iter_utf8(&it2, NULL));
		}
		goto bad;
	}
	else if (strcmp(first, "$uuid") == 0)
	{
		if (!EjsonHasExactly(w, "$uuid", NULL) || !ITER_IS(&it, BSON_TYPE_UTF8))
			goto bad;
		return EjsonAppendUuid(st, target, key, keylen, bson_iter_utf8(&it, NULL));
	}
	else if (strcmp(first, "$code") == 0 || strcmp(first, "$scope") == 0)
	{
		bson_iter_t code;

		if (!EjsonMember(w, "$code", &code) || !ITER_IS(&code, BSON_TYPE_UTF8))
			goto bad;
		s = bson_iter_utf8(&code, &len);
		if (EjsonHasExactly(w, "$code", NULL))
			EjsonAppendCode(target, key, keylen, s, len, NULL);
		else if (EjsonHasExactly(w, "$code", "$scope") &&
				 EjsonMember(w, "$scope", &it2) && ITER_IS(&it2, BSON_TYPE_DOCUMENT))
		{
			bson_t		scope;
			const uint8_t *data;
			uint32_t	dlen;

			bson_iter_document(&it2, &dlen, &data);
			if (!bson_init_static(&scope, data, dlen))
				goto bad;
			EjsonAppendCode(target, key, keylen, s, len, &scope);
		}
		else
			goto bad;
	}
	else if (strcmp(first, "$minKey") == 0 || strcmp(first, "$maxKey") == 0)
	{
		if (!EjsonHasExactly(w, first, NULL) || !BSON_ITER_HOLDS_NUMBER(&it) ||
			bson_iter_as_double(&it) != 1.0)
			goto bad;
		if (first[2] == 'i')
			bson_append_minkey(target, key, keylen);
		else
			bson_append_maxkey(target, key, keylen);
	}
	else if (strcmp(first, "$undefined") == 0)
	{
		if (!EjsonHasExactly(w, "$undefined", NULL) || !ITER_IS(&it, BSON_TYPE_BOOL) ||
			!bson_iter_bool(&it))
			goto bad;
		bson_append_undefined(target, key, keylen);
	}
	else if (strcmp(first, "$regularExpression") == 0)
	{
		bson_t		inner;
		const uint8_t *data;
		uint32_t	dlen;
		bson_iter_t pat,
					opt;
		char		options[8];

		if (!EjsonHasExactly(w, "$regularExpression", NULL) ||
			!ITER_IS(&it, BSON_TYPE_DOCUMENT))
			goto bad;
		bson_iter_document(&it, &dlen, &data);
		if (!bson_init_static(&inner, data, dlen) ||
			!EjsonHasExactly(&inner, "pattern", "options") ||
			!EjsonMember(&inner, "pattern", &pat) || !ITER_IS(&pat, BSON_TYPE_UTF8) ||
			!EjsonMember(&inner, "options", &opt) || !ITER_IS(&opt, BSON_TYPE_UTF8))
			goto bad;
		s = bson_iter_utf8(&pat, &len);
		if (strlen(s) != len)
		{
			EJSON_FAIL(st, "A regular expression pattern cannot contain NUL characters.");
			return true;
		}
		{
			uint32_t	olen;
			const char *o = bson_iter_utf8(&opt, &olen);

			if (!EjsonRegexOptions(o, olen, options, sizeof(options)))
			{
				EJSON_FAIL(st, "Invalid regular expression options \"%s\": only i, l, m, s, u and x, each once.",
						   o);
				return true;
			}
		}
		bson_append_regex(target, key, keylen, s, options);
	}
	else if (strcmp(first, "$regex") == 0 || strcmp(first, "$options") == 0)
	{
		bson_iter_t pat,
					opt;
		char		options[8];

		/* legacy {"$regex": ..., "$options": ...}; else the query operator */
		if (!EjsonHasExactly(w, "$regex", "$options") ||
			!EjsonMember(w, "$regex", &pat) || !ITER_IS(&pat, BSON_TYPE_UTF8) ||
			!EjsonMember(w, "$options", &opt) || !ITER_IS(&opt, BSON_TYPE_UTF8))
			return false;
		{
			uint32_t	olen;
			const char *o = bson_iter_utf8(&opt, &olen);

			s = bson_iter_utf8(&pat, &len);
			if (strlen(s) != len || !EjsonRegexOptions(o, olen, options, sizeof(options)))
				return false;
		}
		bson_append_regex(target, key, keylen, s, options);
	}
	else if (strcmp(first, "$dbPointer") == 0)
	{
		bson_t		inner;
		const uint8_t *data;
		uint32_t	dlen;
		bson_iter_t ref,
					id;

		if (!EjsonHasExactly(w, "$dbPointer", NULL) || !ITER_IS(&it, BSON_TYPE_DOCUMENT))
			goto bad;
		bson_iter_document(&it, &dlen, &data);
		if (!bson_init_static(&inner, data, dlen) ||
			!EjsonHasExactly(&inner, "$ref", "$id") ||
			!EjsonMember(&inner, "$ref", &ref) || !ITER_IS(&ref, BSON_TYPE_UTF8) ||
			!EjsonMember(&inner, "$id", &id) || !ITER_IS(&id, BSON_TYPE_OID))
			goto bad;
		s = bson_iter_utf8(&ref, &len);
		if (strlen(s) != len)
			goto bad;
		bson_append_dbpointer(target, key, keylen, s, bson_iter_oid(&id));
	}
	else if (strcmp(first, "$date") == 0)
	{
		int64_t		millis;

		if (!EjsonHasExactly(w, "$date", NULL))
			goto bad;
		if (ITER_IS(&it, BSON_TYPE_UTF8))
		{
			s = bson_iter_utf8(&it, NULL);
			if (!EjsonParseIsoDate(s, &millis))
			{
				EJSON_FAIL(st, "\"%s\" is not an ISO-8601 date-time such as 1970-01-01T00:00:00Z.", s);
				return true;
			}
		}
		else if (ITER_IS(&it, BSON_TYPE_INT64) && !plain_number)
			millis = bson_iter_int64(&it);
		else
			goto bad;
		bson_append_date_time(target, key, keylen, millis);
	}
	else if (strcmp(first, "$timestamp") == 0)
	{
		bson_t		inner;
		const uint8_t *data;
		uint32_t	dlen;
		bson_iter_t t,
					i;
		int64_t		tv,
					iv;

		if (!EjsonHasExactly(w, "$timestamp", NULL) || !ITER_IS(&it, BSON_TYPE_DOCUMENT))
			goto bad;
		bson_iter_document(&it, &dlen, &data);
		if (!bson_init_static(&inner, data, dlen) ||
			!EjsonHasExactly(&inner, "t", "i") ||
			!EjsonMember(&inner, "t", &t) || !EjsonMember(&inner, "i", &i) ||
			!(ITER_IS(&t, BSON_TYPE_INT32) || ITER_IS(&t, BSON_TYPE_INT64)) ||
			!(ITER_IS(&i, BSON_TYPE_INT32) || ITER_IS(&i, BSON_TYPE_INT64)))
			goto bad;
		tv = bson_iter_as_int64(&t);
		iv = bson_iter_as_int64(&i);
		if (tv < 0 || tv > UINT32_MAX || iv < 0 || iv > UINT32_MAX)
			goto bad;
		bson_append_timestamp(target, key, keylen, (uint32_t) tv, (uint32_t) iv);
	}
	else
		goto bad;
	return true;

bad:
	if (st->nframes == 1)
		st->is_scalar = false;
	if (!kw->strict)
		return false;
	EJSON_FAIL(st, "Invalid Extended JSON %s value.", first);
	return true;
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

/* ----------------------------------------------------------------
 * Printing
 * ----------------------------------------------------------------
 */

/*
 * Append a JSON string literal of len bytes of UTF-8 (which may hold NULs).
 */
static void
EjsonPrintString(StringInfo buf, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	appendStringInfoCharMacro(buf, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		const char *esc = NULL;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		appendBinaryStringInfo(buf, run, (int) (s + i - run));
		run = s + i + 1;
		switch (c)
		{
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			default:
				{
					char		u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};

					appendBinaryStringInfo(buf, u, 6);
				}
				break;
		}
		if (esc)
			appendStringInfoString(buf, esc);
	}
	appendBinaryStringInfo(buf, run, (int) (s + len - run));
	appendStringInfoCharMacro(buf, '"');
}

/*
 * Append a double's shortest round-trip text, with ".0" when it would
 * otherwise read back as an integer.
 */
static void
EjsonPrintDoubleText(StringInfo buf, double d)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];
	int			n = double_to_shortest_decimal_buf(d, tmp);
	char	   *e = memchr(tmp, 'e', n);
	int			mantissa = e ? (int) (e - tmp) : n;

	/* Extended JSON's form: 1.0, 1.5E+300, 5.0E-324 */
	appendBinaryStringInfo(buf, tmp, mantissa);
	if (memchr(tmp, '.', mantissa) == NULL)
		appendStringInfoString(buf, ".0");
	if (e)
	{
		appendStringInfoChar(buf, 'E');
		appendBinaryStringInfo(buf, e + 1, n - mantissa - 1);
	}
}

/*
 * Append {"$numberLong": "<v>"}.
 */
static void
EjsonPrintNumberLong(StringInfo buf, int64_t v)
{
	appendStringInfo(buf, "{\"$numberLong\": \"%lld\"}", (long long) v);
}

/*
 * Append a date: ISO-8601 in relaxed mode for years 1970 to 9999, else the
 * canonical {"$numberLong": ...} form.
 */
static void
EjsonPrintDate(StringInfo buf, int64_t millis, BsonJsonMode mode)
{
	/* 253402300800000 is 10000-01-01T00:00:00Z */
	if (mode != BSON_JSON_CANONICAL && millis >= 0 && millis < INT64_C(253402300800000))
	{
		int64_t		days = millis / 86400000;
		int64_t		rem = millis % 86400000;
		int64_t		z = days + 719468;
		int64_t		era = z / 146097;
		int64_t		doe = z - era * 146097;
		int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		int64_t		mp = (5 * doy + 2) / 153;
		int			day = (int) (doy - (153 * mp + 2) / 5 + 1);
		int			month = (int) (mp < 10 ? mp + 3 : mp - 9);
		int64_t		year = yoe + era * 400 + (month <= 2);
		int			ms = (int) (rem % 1000);

		appendStringInfo(buf, "{\"$date\": \"%04d-%02d-%02dT%02d:%02d:%02d",
						 (int) year, month, day, (int) (rem / 3600000),
						 (int) (rem / 60000 % 60), (int) (rem / 1000 % 60));
		if (ms != 0)
			appendStringInfo(buf, ".%03d", ms);
		appendStringInfoString(buf, "Z\"}");
		return;
	}
	appendStringInfoString(buf, "{\"$date\": ");
	EjsonPrintNumberLong(buf, millis);
	appendStringInfoChar(buf, '}');
}

static void EjsonPrintDocument(StringInfo buf, bson_iter_t *it, bool is_array,
							   BsonJsonMode mode);

/*
 * Append the Extended JSON of the value an iterator points at.
 */
void
BsonPrintValue(StringInfo buf, const bson_iter_t *iter, BsonJsonMode mode)
{
	bson_iter_t *it = (bson_iter_t *) iter;
	uint32_t	len;

	switch (bson_iter_type(it))
	{
		case BSON_TYPE_DOUBLE:
			{
				double		d = bson_iter_double(it);

				if (mode != BSON_JSON_CANONICAL && !isnan(d) && !isinf(d))
					EjsonPrintDoubleText(buf, d);
				else
				{
					appendStringInfoString(buf, "{\"$numberDouble\": \"");
					if (isnan(d))
						appendStringInfoString(buf, "NaN");
					else if (isinf(d))
						appendStringInfoString(buf, d > 0 ? "Infinity" : "-Infinity");
					else
						EjsonPrintDoubleText(buf, d);
					appendStringInfoString(buf, "\"}");
				}
			}
			break;
		case BSON_TYPE_UTF8:
			{
				const char *s = bson_iter_utf8(it, &len);

				EjsonPrintString(buf, s, len);
			}
			break;
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			{
				bson_iter_t child;

				if (bson_iter_recurse(it, &child))
					EjsonPrintDocument(buf, &child, BSON_ITER_HOLDS_ARRAY(it), mode);
			}
			break;
		case BSON_TYPE_BINARY:
			{
				bson_subtype_t subtype;
				const uint8_t *data;
				int			enclen;
				char	   *enc;

				bson_iter_binary(it, &subtype, &len, &data);
				enclen = pg_b64_enc_len((int) len);
				enc = palloc(enclen + 1);
				enclen = pg_b64_encode((const char *) data, (int) len, enc, enclen);
				appendStringInfoString(buf, "{\"$binary\": {\"base64\": \"");
				appendBinaryStringInfo(buf, enc, enclen);
				appendStringInfo(buf, "\", \"subType\": \"%02x\"}}", (unsigned) subtype);
				pfree(enc);
			}
			break;
		case BSON_TYPE_UNDEFINED:
			appendStringInfoString(buf, "{\"$undefined\": true}");
			break;
		case BSON_TYPE_OID:
			{
				char		hex[25];

				bson_oid_to_string(bson_iter_oid(it), hex);
				appendStringInfo(buf, "{\"$oid\": \"%s\"}", hex);
			}
			break;
		case BSON_TYPE_BOOL:
			appendStringInfoString(buf, bson_iter_bool(it) ? "true" : "false");
			break;
		case BSON_TYPE_DATE_TIME:
			EjsonPrintDate(buf, bson_iter_date_time(it), mode);
			break;
		case BSON_TYPE_NULL:
			appendStringInfoString(buf, "null");
			break;
		case BSON_TYPE_REGEX:
			{
				const char *options;
				const char *pattern = bson_iter_regex(it, &options);

				appendStringInfoString(buf, "{\"$regularExpression\": {\"pattern\": ");
				EjsonPrintString(buf, pattern, strlen(pattern));
				appendStringInfoString(buf, ", \"options\": ");
				EjsonPrintString(buf, options, strlen(options));
				appendStringInfoString(buf, "}}");
			}
			break;
		case BSON_TYPE_DBPOINTER:
			{
				const char *collection;
				const bson_oid_t *oid;
				char		hex[25];

				bson_iter_dbpointer(it, &len, &collection, &oid);
				bson_oid_to_string(oid, hex);
				appendStringInfoString(buf, "{\"$dbPointer\": {\"$ref\": ");
				EjsonPrintString(buf, collection, len);
				appendStringInfo(buf, ", \"$id\": {\"$oid\": \"%s\"}}}", hex);
			}
			break;
		case BSON_TYPE_CODE:
			{
				const char *code = bson_iter_code(it, &len);

				appendStringInfoString(buf, "{\"$code\": ");
				EjsonPrintString(buf, code, len);
				appendStringInfoChar(buf, '}');
			}
			break;
		case BSON_TYPE_SYMBOL:
			{
				const char *sym = bson_iter_symbol(it, &len);

				appendStringInfoString(buf, "{\"$symbol\": ");
				EjsonPrintString(buf, sym, len);
				appendStringInfoChar(buf, '}');
			}
			break;
		case BSON_TYPE_CODEWSCOPE:
			{
				uint32_t	scope_len;
				const uint8_t *scope;
				const char *code = bson_iter_codewscope(it, &len, &scope_len, &scope);
				bson_t		sdoc;
				bson_iter_t child;

				appendStringInfoString(buf, "{\"$code\": ");
				EjsonPrintString(buf, code, len);
				appendStringInfoString(buf, ", \"$scope\": ");
				if (bson_init_static(&sdoc, scope, scope_len) &&
					bson_iter_init(&child, &sdoc))
					EjsonPrintDocument(buf, &child, false, mode);
				appendStringInfoChar(buf, '}');
			}
			break;
		case BSON_TYPE_INT32:
			if (mode != BSON_JSON_CANONICAL)
				appendStringInfo(buf, "%d", bson_iter_int32(it));
			else
				appendStringInfo(buf, "{\"$numberInt\": \"%d\"}", bson_iter_int32(it));
			break;
		case BSON_TYPE_TIMESTAMP:
			{
				uint32_t	t,
							i;

				bson_iter_timestamp(it, &t, &i);
				appendStringInfo(buf, "{\"$timestamp\": {\"t\": %u, \"i\": %u}}", t, i);
			}
			break;
		case BSON_TYPE_INT64:
			{
				int64_t		v = bson_iter_int64(it);

				/* a plain number in int32 range would read back as int32 */
				if (mode == BSON_JSON_RELAXED_PLAIN ||
					(mode == BSON_JSON_RELAXED && (v < INT32_MIN || v > INT32_MAX)))
					appendStringInfo(buf, "%lld", (long long) v);
				else
					EjsonPrintNumberLong(buf, v);
			}
			break;
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				char		str[BSON_DECIMAL128_STRING];

				bson_iter_decimal128(it, &dec);
				bson_decimal128_to_string(&dec, str);
				appendStringInfo(buf, "{\"$numberDecimal\": \"%s\"}", str);
			}
			break;
		case BSON_TYPE_MAXKEY:
			appendStringInfoString(buf, "{\"$maxKey\": 1}");
			break;
		case BSON_TYPE_MINKEY:
			appendStringInfoString(buf, "{\"$minKey\": 1}");
			break;
		case BSON_TYPE_EOD:
			break;
	}
}

/*
 * Append a document's or array's members.
 */
static void
EjsonPrintDocument(StringInfo buf, bson_iter_t *it, bool is_array, BsonJsonMode mode)
{
	bool		first = true;

#ifndef FRONTEND
	check_stack_depth();
#endif
	appendStringInfoChar(buf, is_array ? '[' : '{');
	while (bson_iter_next(it))
	{
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		if (!is_array)
		{
			EjsonPrintString(buf, bson_iter_key(it), bson_iter_key_len(it));
			appendStringInfoString(buf, ": ");
		}
		BsonPrintValue(buf, it, mode);
	}
	appendStringInfoChar(buf, is_array ? ']' : '}');
}

/*
 * Append the Extended JSON of a validated document (or wrapped value).
 */
void
BsonPrintJson(StringInfo buf, const uint8_t *data, uint32_t len, bool is_scalar,
			  BsonJsonMode mode)
{
	bson_t		doc;
	bson_iter_t it;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
		return;
	if (!is_scalar)
		EjsonPrintDocument(buf, &it, false, mode);
	else if (bson_iter_next(&it))
		BsonPrintValue(buf, &it, mode);
}

/* ----------------------------------------------------------------
 * Validation of raw bytes
 * ----------------------------------------------------------------
 */

/*
 * Whether len bytes are UTF-8 as PostgreSQL checks it (no surrogates, no
 * overlong forms), with NUL characters only when allow_nul.  libbson 1.23's
 * bson_validate() does not check the UTF-8 of string values (CDRIVER-4448)
 * and takes the overlong C0 80 for a NUL; the server would then fail to
 * print what it accepted.
 */
static bool
BsonUtf8IsValid(const char *s, size_t len, bool allow_nul)
{
	for (;;)
	{
		const char *nul = memchr(s, '\0', len);
		size_t		seglen = nul ? (size_t) (nul - s) : len;

		if (pg_encoding_verifymbstr(PG_UTF8, s, (int) seglen) != (int) seglen)
			return false;
		if (nul == NULL)
			return true;
		if (!allow_nul)
			return false;
		s += seglen + 1;
		len -= seglen + 1;
	}
}

static char *BsonValidateLevel(const bson_t *doc, const uint8_t *top,
							   bool is_array, int depth, bool *degenerate);

/*
 * Check the text of a value: UTF-8, and no NUL where BSON or libbson wants
 * a C string.
 */
static char *
BsonValidateText(bson_iter_t *it, const char *s, size_t len, bool allow_nul)
{
	if (!BsonUtf8IsValid(s, len, allow_nul))
		return psprintf("the value of field \"%s\" is not valid UTF-8%s",
						bson_iter_key(it), allow_nul ? "" : " or contains a NUL");
	return NULL;
}

/*
 * Whether a document whose first key is an Extended JSON keyword would read
 * back as a value (or fail to read) instead of as itself: always for the
 * strict keywords, for the others when the members spell a value, as
 * EjsonAppendWrapper decides.  Such a document has no faithful text form
 * (the ambiguity is Extended JSON's own); it is still valid BSON and is
 * accepted from bytes, since filters such as {"$regex": .., "$options": ..}
 * arrive that way.
 */
static bool
BsonIsWrapperShaped(const bson_t *doc, const char *first)
{
	const EjsonKeyword *kw = EjsonFindKeyword(first, (int) strlen(first));
	bson_iter_t a,
				b;

	if (kw == NULL)
		return false;
	if (kw->strict)
		return true;
	if (strcmp(first, "$regex") == 0 || strcmp(first, "$options") == 0)
	{
		uint32_t	plen;
		uint32_t	olen;
		const char *pattern;
		const char *options;
		char		sorted[8];

		if (!EjsonHasExactly(doc, "$regex", "$options") ||
			!EjsonMember(doc, "$regex", &a) || !ITER_IS(&a, BSON_TYPE_UTF8) ||
			!EjsonMember(doc, "$options", &b) || !ITER_IS(&b, BSON_TYPE_UTF8))
			return false;
		pattern = bson_iter_utf8(&a, &plen);
		options = bson_iter_utf8(&b, &olen);
		return strlen(pattern) == plen &&
			EjsonRegexOptions(options, olen, sorted, sizeof(sorted));
	}
	if (strcmp(first, "$type") == 0)
		return EjsonHasExactly(doc, "$binary", "$type") &&
			EjsonMember(doc, "$binary", &a) && ITER_IS(&a, BSON_TYPE_UTF8) &&
			EjsonMember(doc, "$type", &b) && ITER_IS(&b, BSON_TYPE_UTF8);
	/* $scope */
	return EjsonHasExactly(doc, "$code", "$scope") &&
		EjsonMember(doc, "$code", &a) && ITER_IS(&a, BSON_TYPE_UTF8) &&
		EjsonMember(doc, "$scope", &b) && ITER_IS(&b, BSON_TYPE_DOCUMENT);
}

/*
 * Whether the text of valid bytes reads back as the same bytes: false when
 * some document in them is wrapper-shaped (see BsonIsWrapperShaped).
 */
static bool
BsonLevelHasTextForm(const bson_t *doc)
{
	bson_iter_t it;
	bool		first = true;

	if (!bson_iter_init(&it, doc))
		return false;
	while (bson_iter_next(&it))
	{
		if (first && BsonIsWrapperShaped(doc, bson_iter_key(&it)))
			return false;
		first = false;
		if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it) ||
			BSON_ITER_HOLDS_CODEWSCOPE(&it))
		{
			const uint8_t *data;
			uint32_t	len;
			bson_t		child;

			if (BSON_ITER_HOLDS_CODEWSCOPE(&it))
			{
				uint32_t	code_len;

				(void) bson_iter_codewscope(&it, &code_len, &len, &data);
			}
			else if (BSON_ITER_HOLDS_ARRAY(&it))
				bson_iter_array(&it, &len, &data);
			else
				bson_iter_document(&it, &len, &data);
			if (!bson_init_static(&child, data, len) || !BsonLevelHasTextForm(&child))
				return false;
		}
	}
	return true;
}

/*
 * See bson_json.h.
 */
bool
BsonHasTextForm(const uint8_t *data, size_t len)
{
	bson_t		doc;

	return bson_init_static(&doc, data, len) && BsonLevelHasTextForm(&doc);
}

/*
 * Check a nested document's own length and terminator and validate it:
 * libbson's iterator checks only that it fits in its parent, and takes a
 * missing terminator for the end of the document.
 */
static char *
BsonValidateChild(bson_iter_t *it, const uint8_t *data, uint32_t len,
				  const uint8_t *top, bool is_array, int depth, bool *degenerate)
{
	bson_t		child;

	if (!bson_init_static(&child, data, len))
		return psprintf("the length or terminator of the document at key \"%s\" is wrong",
						bson_iter_key(it));
	return BsonValidateLevel(&child, top, is_array, depth, degenerate);
}

/*
 * Check what libbson's validator leaves to us, recursively: structure of
 * nested documents, UTF-8 of keys and of every string, nesting stays within
 * the limit (a code-with-scope's scope is a level too), regex options are
 * known letters, every value has a text form.  Array keys other than "0",
 * "1", ... and regex options out of order are valid but degenerate (the
 * BSON corpus says so): *degenerate is set and the caller stores the
 * canonical form instead.  depth is the level of doc: 1 for a top-level document, 0 for
 * the wrapper of a non-document; top is the start of the whole input, for
 * the byte offsets in messages.
 */
static char *
BsonValidateLevel(const bson_t *doc, const uint8_t *top, bool is_array, int depth,
				  bool *degenerate)
{
	bson_iter_t iter;
	bson_iter_t *it = &iter;
	uint32_t	index = 0;

#ifndef FRONTEND
	check_stack_depth();
#endif
	if (depth > BSON_MAX_DEPTH)
		return psprintf("documents and arrays are nested more than %d levels deep",
						BSON_MAX_DEPTH);
	if (!bson_iter_init(it, doc))
		return psprintf("invalid BSON document");
	while (bson_iter_next(it))
	{
		uint32_t	len;
		const char *s;
		char	   *err = NULL;

		if (!BsonUtf8IsValid(bson_iter_key(it), bson_iter_key_len(it), false))
			return psprintf("a field name is not valid UTF-8");
		if (is_array)
		{
			char		buf[16];
			const char *expected;

			bson_uint32_to_string(index++, &expected, buf, sizeof(buf));
			if (strcmp(bson_iter_key(it), expected) != 0)
				*degenerate = true;
		}
		switch (bson_iter_type(it))
		{
			case BSON_TYPE_DOCUMENT:
			case BSON_TYPE_ARRAY:
				{
					const uint8_t *data;

					if (BSON_ITER_HOLDS_ARRAY(it))
						bson_iter_array(it, &len, &data);
					else
						bson_iter_document(it, &len, &data);
					err = BsonValidateChild(it, data, len, top, BSON_ITER_HOLDS_ARRAY(it),
											depth + 1, degenerate);
				}
				break;
			case BSON_TYPE_UTF8:
				s = bson_iter_utf8(it, &len);
				err = BsonValidateText(it, s, len, true);
				break;
			case BSON_TYPE_SYMBOL:
				s = bson_iter_symbol(it, &len);
				err = BsonValidateText(it, s, len, true);
				break;
			case BSON_TYPE_CODE:
				s = bson_iter_code(it, &len);
				err = BsonValidateText(it, s, len, true);
				break;
			case BSON_TYPE_DBPOINTER:
				{
					const bson_oid_t *oid;

					bson_iter_dbpointer(it, &len, &s, &oid);
					err = BsonValidateText(it, s, len, false);
				}
				break;
			case BSON_TYPE_CODEWSCOPE:
				{
					uint32_t	scope_len;
					const uint8_t *scope;

					s = bson_iter_codewscope(it, &len, &scope_len, &scope);
					/* libbson does not check that the code string ends in NUL */
					if (s[len] != '\0')
						err = psprintf("the code at key \"%s\" is not terminated",
									   bson_iter_key(it));
					else
						err = BsonValidateText(it, s, len, true);
					if (err == NULL)
						err = BsonValidateChild(it, scope, scope_len, top, false,
												depth + 1, degenerate);
				}
				break;
			case BSON_TYPE_DECIMAL128:
				{
					bson_decimal128_t dec;

					/*
					 * Kept bit for bit, as the BSON corpus wants (NaN with a
					 * payload, the non-canonical zero of the 11 form).  A
					 * coefficient above 10^34 - 1 in the normal form is not
					 * a decimal128 value at all (libbson would print 35
					 * digits that read back as another number): refuse it.
					 */
					bson_iter_decimal128(it, &dec);
					if (((dec.high >> 61) & 3) != 3)
					{
						uint64_t	coef_high = dec.high & UINT64_C(0x0001FFFFFFFFFFFF);

						if (coef_high > UINT64_C(0x0001ED09BEAD87C0) ||
							(coef_high == UINT64_C(0x0001ED09BEAD87C0) &&
							 dec.low > UINT64_C(0x378D8E63FFFFFFFF)))
							err = psprintf("the decimal128 at key \"%s\" has a coefficient of more than 34 digits",
										   bson_iter_key(it));
					}
				}
				break;
			case BSON_TYPE_REGEX:
				{
					const char *options;
					char		sorted[8];

					s = bson_iter_regex(it, &options);
					if (!BsonUtf8IsValid(s, strlen(s), false))
						return BsonValidateText(it, s, strlen(s), false);
					if (!EjsonRegexOptions(options, strlen(options), sorted, sizeof(sorted)))
						return psprintf("regular expression options \"%s\" are not distinct letters among i, l, m, s, u, x",
										options);
					if (strcmp(sorted, options) != 0)
						*degenerate = true;
				}
				break;
			default:
				break;
		}
		if (err != NULL)
			return err;
	}
	if (it->err_off != 0)
		return psprintf("invalid BSON at byte %zu (bad length, type, terminator or UTF-8)",
						(size_t) (bson_get_data(doc) - top) + it->err_off);
	return NULL;
}

/*
 * Validate raw BSON bytes; see bson_json.h.
 */
char *
BsonValidateBytes(const uint8_t *data, size_t len, bool *degenerate)
{
	return BsonValidateValueBytes(data, len, false, degenerate);
}

/*
 * Validate the raw bytes of a document or, with is_scalar, of the {"": value}
 * wrapper of a non-document (which is no nesting level); see bson_json.h.
 */
char *
BsonValidateValueBytes(const uint8_t *data, size_t len, bool is_scalar,
					   bool *degenerate)
{
	bson_t		doc;

	*degenerate = false;
	if (len < 5)
		return psprintf("%zu bytes are too short for a BSON document", len);
	if (len > BSON_MAX_DOC_SIZE)
		return psprintf("the document is %zu bytes; the limit is %d bytes",
						len, BSON_MAX_DOC_SIZE);
	if (!bson_init_static(&doc, data, len))
		return psprintf("the length prefix or terminator does not match the %zu bytes given",
						len);

	/*
	 * Not libbson's bson_validate(): it recurses without a limit (deep input
	 * overflows the stack), skips nested documents it finds malformed, and
	 * does not check the UTF-8 of string values.  libbson's iterator checks
	 * each element's structure as BsonValidateLevel walks, and the walk
	 * checks the rest; one pass instead of two.
	 */
	return BsonValidateLevel(&doc, data, false, is_scalar ? 0 : 1, degenerate);
}

/*
 * Copy the members of a valid document or array into out, giving arrays
 * their canonical keys and regex options their canonical order.
 */
static void
BsonCanonicalizeLevel(bson_iter_t *it, bool is_array, bson_t *out)
{
	uint32_t	index = 0;

#ifndef FRONTEND
	check_stack_depth();
#endif
	while (bson_iter_next(it))
	{
		char		buf[16];
		const char *key = bson_iter_key(it);
		int			keylen = (int) bson_iter_key_len(it);

		if (is_array)
			keylen = (int) bson_uint32_to_string(index++, &key, buf, sizeof(buf));
		switch (bson_iter_type(it))
		{
			case BSON_TYPE_DOCUMENT:
			case BSON_TYPE_ARRAY:
				{
					bson_iter_t child;
					bson_t		sub;
					bool		arr = BSON_ITER_HOLDS_ARRAY(it);

					if (!bson_iter_recurse(it, &child))
						break;
					if (arr)
						bson_append_array_begin(out, key, keylen, &sub);
					else
						bson_append_document_begin(out, key, keylen, &sub);
					BsonCanonicalizeLevel(&child, arr, &sub);
					if (arr)
						bson_append_array_end(out, &sub);
					else
						bson_append_document_end(out, &sub);
				}
				break;
			case BSON_TYPE_REGEX:
				{
					const char *options;
					const char *pattern = bson_iter_regex(it, &options);
					char		sorted[8];

					if (!EjsonRegexOptions(options, strlen(options), sorted, sizeof(sorted)))
						sorted[0] = '\0';	/* cannot happen after validation */
					bson_append_regex(out, key, keylen, pattern, sorted);
				}
				break;
			case BSON_TYPE_CODE:
				{
					uint32_t	len;
					const char *code = bson_iter_code(it, &len);

					/* not bson_append_iter: it would cut the code at a NUL */
					EjsonAppendCode(out, key, keylen, code, len, NULL);
				}
				break;
			case BSON_TYPE_CODEWSCOPE:
				{
					uint32_t	len;
					uint32_t	scope_len;
					const uint8_t *scope;
					const char *code = bson_iter_codewscope(it, &len, &scope_len, &scope);
					bson_t		sdoc;
					bson_t		canonical;
					bson_iter_t child;

					bson_init(&canonical);
					if (bson_init_static(&sdoc, scope, scope_len) &&
						bson_iter_init(&child, &sdoc))
						BsonCanonicalizeLevel(&child, false, &canonical);
					EjsonAppendCode(out, key, keylen, code, len, &canonical);
					bson_destroy(&canonical);
				}
				break;
			default:
				bson_append_iter(out, key, keylen, it);
				break;
		}
	}
}

/*
 * The canonical form of valid but degenerate BSON bytes; see bson_json.h.
 */
void
BsonCanonicalize(const uint8_t *data, size_t len, bson_t *out)
{
	bson_t		doc;
	bson_iter_t it;

	bson_init(out);
	if (bson_init_static(&doc, data, len) && bson_iter_init(&it, &doc))
		BsonCanonicalizeLevel(&it, false, out);
}
