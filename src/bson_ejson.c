/*-------------------------------------------------------------------------
 *
 * bson_ejson.c
 *	  Extended JSON wrapper objects ({"$oid": ...}, {"$date": ...}, ...)
 *	  turned into the BSON values they spell.
 *
 * The parser (bson_json.c) collects an object whose first key is a wrapper
 * keyword into a small temporary document, with nested wrappers already
 * converted, and calls EjsonAppendWrapper at the object's end.  Keywords
 * that are also MongoDB query operators ($regex, $options, $type) or that
 * only complete another wrapper ($scope) fall back to an ordinary document
 * when the members do not spell a value, so filters stay filters; every
 * other keyword with a wrong shape is an error, as the Extended JSON
 * specification requires.
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

#include "bson_json_int.h"

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
const EjsonKeyword *
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
bool
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
void
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
int
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

/*
 * Find a member of a (small) document; false when missing.
 */
bool
EjsonMember(const bson_t *doc, const char *name, bson_iter_t *it)
{
	return bson_iter_init_find(it, doc, name);
}

/*
 * Whether a small document has exactly the given members (in any order).
 */
bool
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
bool
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
