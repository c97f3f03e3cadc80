/*-------------------------------------------------------------------------
 *
 * collation.c
 *	  MongoDB collations on ICU collators.
 *
 * Design note
 * -----------
 * MongoDB builds its collators with ICU, opening the locale and then
 * setting only the attributes the collation document names, so that a
 * locale's own defaults (French backwards secondary ordering in fr_CA, for
 * example) survive.  We do the same: each field maps to one ICU attribute
 *
 *	strength		UCOL_STRENGTH (1 primary ... 5 identical)
 *	caseLevel		UCOL_CASE_LEVEL
 *	caseFirst		UCOL_CASE_FIRST (upper, lower, off)
 *	numericOrdering	UCOL_NUMERIC_COLLATION
 *	alternate		UCOL_ALTERNATE_HANDLING (shifted, non-ignorable)
 *	maxVariable		ucol_setMaxVariable (punct, space)
 *	backwards		UCOL_FRENCH_COLLATION
 *	normalization	UCOL_NORMALIZATION_MODE
 *
 * except strength, which MongoDB always sets (tertiary by default).
 *
 * Strings compare with ucol_strcollUTF8 directly on the BSON bytes.  Where
 * an order must be expressed as a value (the ORDER BY of a find, the
 * de-duplication of distinct), strings are replaced by their ICU sort keys:
 * byte strings without zero bytes whose memcmp order is the collation's,
 * which is what MongoDB stores in the keys of a collated index.
 *
 * The locales accepted are the ones MongoDB documents; ICU supplies each
 * one's tailoring (or the root order when it has none).
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include <unicode/ucol.h>
#include <unicode/ustring.h>

#include "lib/stringinfo.h"
#ifndef FRONTEND
#include "miscadmin.h"
#endif

#include "bson_compare.h"
#include "collation.h"

struct BsonCollation
{
	UCollator  *ucol;
	const char *locale;			/* one of collation_locales */
#ifndef FRONTEND
	MemoryContextCallback callback;	/* closes ucol with the memory context */
#endif
};

/* The ICU locales MongoDB accepts */
static const char *const collation_locales[] = {
	"af", "am", "ar", "ar_EG", "as", "az", "be", "bg", "bn", "bo", "bs", "ca", "chr", "cs",
	"cy", "da", "de", "de_AT", "de_DE", "dsb", "dz", "ee", "el", "en", "en_GB", "en_US",
	"en_US_POSIX", "eo", "es", "es_ES", "et", "fa", "fa_AF", "fi", "fi_FI", "fil", "fo",
	"fr", "fr_CA", "fr_FR", "ga", "gl", "gu", "ha", "haw", "he", "hi", "hr", "hsb", "hu",
	"hy", "id", "ig", "is", "it", "it_IT", "ja", "ja_JP", "ka", "kk", "kl", "km", "kn",
	"ko", "ko_KR", "kok", "ky", "lb", "li", "lk", "lo", "lt", "lv", "mk", "ml", "mn", "mr",
	"ms", "mt", "my", "nb", "ne", "nl", "nn", "om", "or", "pa", "pl", "ps", "pt", "pt_BR",
	"ro", "ru", "ru_RU", "se", "si", "sk", "sl", "smn", "sq", "sr", "sr_Latn", "sv", "sw",
	"ta", "te", "th", "to", "tr", "ug", "uk", "ur", "vi", "wae", "yi", "yo", "zh", "zh_CN",
	"zh_Hant", "zh_TW", "zu", NULL
};

/*
 * CollationFail
 *		Fill *error and return false.
 */
static bool CollationFail(BsonQueryError *error, int code, const char *format,...)
			pg_attribute_printf(3, 4);

/* MongoDB's name of the codes collations report */
static const char *
CollationCodeName(int code)
{
	switch (code)
	{
		case MONGO_BAD_VALUE:
			return "BadValue";
		case MONGO_TYPE_MISMATCH:
			return "TypeMismatch";
		case MONGO_COLLATION_MISSING_FIELD:
			return "Location40414";
		case MONGO_COLLATION_UNKNOWN_FIELD:
			return "Location40415";
		default:
			return "UnknownError";
	}
}

static bool
CollationFail(BsonQueryError *error, int code, const char *format,...)
{
	va_list		args;

	va_start(args, format);
	(void) BsonErrorSetV(error, false, code, CollationCodeName(code), format, args);
	va_end(args);
	return false;
}

/*
 * CollationWrongType
 *		The error of a field of the wrong type.
 */
static bool
CollationWrongType(BsonQueryError *error, const bson_iter_t *it, const char *expected)
{
	return CollationFail(error, MONGO_TYPE_MISMATCH,
						 "BSON field 'collation.%s' is the wrong type '%s', expected type%s '%s'",
						 bson_iter_key(it), BsonTypeName(bson_iter_type(it)),
						 expected[0] == '[' ? "s" : "", expected);
}

/*
 * CollationNumber
 *		A number field as a double (false if not a number).
 */
static bool
CollationNumber(const bson_iter_t *it, double *out)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
			*out = bson_iter_as_double(it);
			return true;
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				char		str[BSON_DECIMAL128_STRING];

				bson_iter_decimal128(it, &dec);
				bson_decimal128_to_string(&dec, str);
				*out = rint(strtod(str, NULL));
				return true;
			}
		default:
			return false;
	}
}

/*
 * CollationEnum
 *		The index of a string field's value in a list of the values it may
 *		take, or -1 (with *error filled).
 */
static int
CollationEnum(const bson_iter_t *it, const char *const *values, BsonQueryError *error)
{
	const char *v = bson_iter_utf8(it, NULL);

	for (int i = 0; values[i] != NULL; i++)
		if (strcmp(values[i], v) == 0)
			return i;
	CollationFail(error, MONGO_BAD_VALUE,
				  "Enumeration value '%s' for field '%s' is not a valid value.",
				  v, bson_iter_key(it));
	return -1;
}

#ifndef FRONTEND
/*
 * CollationContextReset
 *		Close the ICU collator of a collation whose memory context is reset
 *		or deleted.
 */
static void
CollationContextReset(void *arg)
{
	BsonCollation *collation = (BsonCollation *) arg;

	if (collation->ucol != NULL)
		ucol_close(collation->ucol);
	collation->ucol = NULL;
}
#endif

/*
 * CollationSet
 *		Set one ICU attribute, remembering the first failure.
 */
static void
CollationSet(UCollator *ucol, UColAttribute attr, UColAttributeValue value,
			 UErrorCode *status)
{
	if (U_SUCCESS(*status))
		ucol_setAttribute(ucol, attr, value, status);
}

/*
 * BsonCollationCompile
 *		Check a collation document and open its ICU collator.
 */
bool
BsonCollationCompile(const uint8_t *data, uint32_t len, BsonCollation **out,
					 BsonQueryError *error)
{
	static const char *const case_first_values[] = {"upper", "lower", "off", NULL};
	static const char *const alternate_values[] = {"non-ignorable", "shifted", NULL};
	static const char *const max_variable_values[] = {"punct", "space", NULL};
	bson_t		doc;
	bson_iter_t it;
	const char *locale = NULL;
	int			strength = 3;
	int			case_level = -1;	/* -1: not given */
	int			numeric = -1;
	int			backwards = -1;
	int			normalization = -1;
	int			case_first = -1;	/* index in case_first_values */
	int			alternate = -1;
	int			max_variable = -1;
	const char *known = NULL;
	UErrorCode	status = U_ZERO_ERROR;
	UCollator  *ucol;
	BsonCollation *collation;

	*out = NULL;
	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
		return CollationFail(error, MONGO_BAD_VALUE, "collation is not a valid BSON document");

	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		/* an optional field given as null is absent (but MongoDB's parser
		 * refuses a null backwards) */
		if (BSON_ITER_HOLDS_NULL(&it) && strcmp(k, "locale") != 0 &&
			strcmp(k, "backwards") != 0)
			continue;
		if (strcmp(k, "locale") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&it))
				return CollationWrongType(error, &it, "string");
			locale = bson_iter_utf8(&it, NULL);
		}
		else if (strcmp(k, "caseLevel") == 0 || strcmp(k, "numericOrdering") == 0 ||
				 strcmp(k, "backwards") == 0 || strcmp(k, "normalization") == 0)
		{
			int			v;

			if (!BSON_ITER_HOLDS_BOOL(&it))
				return CollationWrongType(error, &it, "bool");
			v = bson_iter_bool(&it) ? 1 : 0;
			if (k[0] == 'c')
				case_level = v;
			else if (k[0] == 'n' && k[1] == 'u')
				numeric = v;
			else if (k[0] == 'b')
				backwards = v;
			else
				normalization = v;
		}
		else if (strcmp(k, "strength") == 0)
		{
			double		d;

			if (!CollationNumber(&it, &d))
				return CollationWrongType(error, &it, "[long, int, decimal, double]");
			d = trunc(d);
			if (isnan(d) || d < 1 || d > 5)
				return CollationFail(error, MONGO_BAD_VALUE,
									 "unable to parse collation: strength must be an integer 1 through 5");
			strength = (int) d;
		}
		else if (strcmp(k, "caseFirst") == 0 || strcmp(k, "alternate") == 0 ||
				 strcmp(k, "maxVariable") == 0 || strcmp(k, "version") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&it))
				return CollationWrongType(error, &it, "string");
			if (strcmp(k, "caseFirst") == 0)
				case_first = CollationEnum(&it, case_first_values, error);
			else if (strcmp(k, "alternate") == 0)
				alternate = CollationEnum(&it, alternate_values, error);
			else if (strcmp(k, "maxVariable") == 0)
				max_variable = CollationEnum(&it, max_variable_values, error);
			if (error->message != NULL)
				return false;
		}
		else
			return CollationFail(error, MONGO_COLLATION_UNKNOWN_FIELD,
								 "BSON field 'collation.%s' is an unknown field.", k);
	}
	if (locale == NULL)
		return CollationFail(error, MONGO_COLLATION_MISSING_FIELD,
							 "BSON field 'collation.locale' is missing but a required field");
	if (strcmp(locale, "simple") == 0)
		return true;
	for (int i = 0; collation_locales[i] != NULL; i++)
		if (strcmp(collation_locales[i], locale) == 0)
			known = collation_locales[i];
	if (known == NULL)
		return CollationFail(error, MONGO_BAD_VALUE,
							 "Field 'locale' is invalid in: { locale: \"%s\" }", locale);
	if (case_first >= 0 && case_first != 2 && strength < 3 && case_level != 1)
		return CollationFail(error, MONGO_BAD_VALUE,
							 "Setting caseFirst requires strength >= 3 or caseLevel: true");

	ucol = ucol_open(locale, &status);
	if (U_FAILURE(status))
		return CollationFail(error, MONGO_BAD_VALUE,
							 "could not open the collator of locale \"%s\": %s",
							 locale, u_errorName(status));
	CollationSet(ucol, UCOL_STRENGTH,
				 strength == 1 ? UCOL_PRIMARY :
				 strength == 2 ? UCOL_SECONDARY :
				 strength == 3 ? UCOL_TERTIARY :
				 strength == 4 ? UCOL_QUATERNARY : UCOL_IDENTICAL, &status);
	if (case_level >= 0)
		CollationSet(ucol, UCOL_CASE_LEVEL, case_level ? UCOL_ON : UCOL_OFF, &status);
	if (case_first >= 0)
		CollationSet(ucol, UCOL_CASE_FIRST,
					 case_first == 0 ? UCOL_UPPER_FIRST :
					 case_first == 1 ? UCOL_LOWER_FIRST : UCOL_OFF, &status);
	if (numeric >= 0)
		CollationSet(ucol, UCOL_NUMERIC_COLLATION, numeric ? UCOL_ON : UCOL_OFF, &status);
	if (alternate >= 0)
		CollationSet(ucol, UCOL_ALTERNATE_HANDLING,
					 alternate == 1 ? UCOL_SHIFTED : UCOL_NON_IGNORABLE, &status);
	if (backwards >= 0)
		CollationSet(ucol, UCOL_FRENCH_COLLATION, backwards ? UCOL_ON : UCOL_OFF, &status);
	if (normalization >= 0)
		CollationSet(ucol, UCOL_NORMALIZATION_MODE,
					 normalization ? UCOL_ON : UCOL_OFF, &status);
	if (max_variable >= 0 && U_SUCCESS(status))
		ucol_setMaxVariable(ucol, max_variable == 0 ? UCOL_REORDER_CODE_PUNCTUATION :
							UCOL_REORDER_CODE_SPACE, &status);
	if (U_FAILURE(status))
	{
		ucol_close(ucol);
		return CollationFail(error, MONGO_BAD_VALUE,
							 "could not configure the collator of locale \"%s\": %s",
							 locale, u_errorName(status));
	}

	collation = palloc0(sizeof(BsonCollation));
	collation->ucol = ucol;
	collation->locale = known;
#ifndef FRONTEND
	collation->callback.func = CollationContextReset;
	collation->callback.arg = collation;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &collation->callback);
#endif
	*out = collation;
	return true;
}

/*
 * BsonCollationIsSimple
 *		Whether a (valid) collation document names the simple locale.
 */
bool
BsonCollationIsSimple(const uint8_t *data, uint32_t len)
{
	bson_t		doc;
	bson_iter_t it;

	return bson_init_static(&doc, data, len) &&
		bson_iter_init_find(&it, &doc, "locale") && BSON_ITER_HOLDS_UTF8(&it) &&
		strcmp(bson_iter_utf8(&it, NULL), "simple") == 0;
}

/*
 * BsonCollationEqual
 *		Whether two compiled collations order strings alike: the same locale
 *		and the same value of every attribute a collation document may set
 *		(so {locale: "fr_CA"} and {locale: "fr_CA", backwards: true} agree,
 *		as their collators do).  NULL is the simple collation.
 */
bool
BsonCollationEqual(const BsonCollation *a, const BsonCollation *b)
{
	static const UColAttribute attributes[] = {
		UCOL_STRENGTH, UCOL_CASE_LEVEL, UCOL_CASE_FIRST, UCOL_NUMERIC_COLLATION,
		UCOL_ALTERNATE_HANDLING, UCOL_FRENCH_COLLATION, UCOL_NORMALIZATION_MODE
	};

	if (a == b)
		return true;
	if (a == NULL || b == NULL || a->ucol == NULL || b->ucol == NULL ||
		strcmp(a->locale, b->locale) != 0)
		return false;
	for (int i = 0; i < (int) lengthof(attributes); i++)
	{
		UErrorCode	status_a = U_ZERO_ERROR;
		UErrorCode	status_b = U_ZERO_ERROR;

		if (ucol_getAttribute(a->ucol, attributes[i], &status_a) !=
			ucol_getAttribute(b->ucol, attributes[i], &status_b) ||
			U_FAILURE(status_a) || U_FAILURE(status_b))
			return false;
	}
	return ucol_getMaxVariable(a->ucol) == ucol_getMaxVariable(b->ucol);
}

/*
 * BsonCollationCompareStrings
 *		Compare two UTF-8 strings under a collation (NULL: byte-wise).
 */
int
BsonCollationCompareStrings(const BsonCollation *collation,
							const char *a, uint32_t alen,
							const char *b, uint32_t blen)
{
	UErrorCode	status = U_ZERO_ERROR;
	UCollationResult r;
	int			cmp;

	if (collation != NULL && collation->ucol != NULL &&
		alen <= INT32_MAX && blen <= INT32_MAX)
	{
		r = ucol_strcollUTF8(collation->ucol, a, (int32_t) alen, b, (int32_t) blen,
							 &status);
		if (U_SUCCESS(status))
			return r == UCOL_LESS ? -1 : r == UCOL_GREATER ? 1 : 0;
	}
	cmp = memcmp(a, b, Min(alen, blen));
	if (cmp != 0)
		return cmp < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/*
 * BsonCollationSortKey
 *		The ICU sort key of a UTF-8 string (invalid sequences read as
 *		U+FFFD), without its terminating zero byte.
 */
uint8_t *
BsonCollationSortKey(const BsonCollation *collation, const char *str, uint32_t len,
					 uint32_t *keylen)
{
	UErrorCode	status = U_ZERO_ERROR;
	UChar	   *u16;
	int32_t		u16len = 0;
	uint8_t    *key;
	int32_t		size;
	int32_t		needed;

	/* UTF-16 never needs more code units than UTF-8 has bytes */
	u16 = palloc((Max(len, 1)) * sizeof(UChar));
	u_strFromUTF8WithSub(u16, (int32_t) Max(len, 1), &u16len, str, (int32_t) len,
						 0xFFFD, NULL, &status);
	if (U_FAILURE(status))
		u16len = 0;

	size = u16len * 4 + 16;
	key = palloc(size);
	needed = ucol_getSortKey(collation->ucol, u16, u16len, key, size);
	if (needed > size)
	{
		pfree(key);
		size = needed;
		key = palloc(size);
		needed = ucol_getSortKey(collation->ucol, u16, u16len, key, size);
	}
	pfree(u16);
	/* the length counts the terminating zero byte */
	*keylen = needed > 0 ? (uint32_t) needed - 1 : 0;
	return key;
}

/*
 * BsonCollationAppendKeyed
 *		Append a value with its strings replaced by their sort keys.  A key
 *		is written as valid UTF-8, each byte as the code point of the same
 *		value, which keeps the byte order of the keys (UTF-8 orders as its
 *		code points do) and lets the keys be printed like any string: in
 *		the detail of a unique violation or in pg_stats.
 */
void
BsonCollationAppendKeyed(const BsonCollation *collation, bson_t *out,
						 const char *key, int keylen, const bson_iter_t *value)
{
#ifndef FRONTEND
	check_stack_depth();
#endif

	switch (bson_iter_type(value))
	{
		case BSON_TYPE_UTF8:
		case BSON_TYPE_SYMBOL:
			{
				uint32_t	len;
				const char *str = BSON_ITER_HOLDS_UTF8(value) ?
					bson_iter_utf8(value, &len) : bson_iter_symbol(value, &len);
				uint32_t	sklen;
				uint8_t    *sk;
				char	   *utf8;
				uint32_t	utf8len = 0;

				if (collation == NULL)
				{
					bson_append_iter(out, key, keylen, value);
					return;
				}
				sk = BsonCollationSortKey(collation, str, len, &sklen);
				utf8 = palloc(Max(sklen * 2, 1));
				for (uint32_t i = 0; i < sklen; i++)
				{
					/* a byte from 0x80 on as the two UTF-8 bytes of U+0080..U+00FF */
					if (sk[i] < 0x80)
						utf8[utf8len++] = (char) sk[i];
					else
					{
						utf8[utf8len++] = (char) (0xC0 | (sk[i] >> 6));
						utf8[utf8len++] = (char) (0x80 | (sk[i] & 0x3F));
					}
				}
				bson_append_utf8(out, key, keylen, utf8, (int) utf8len);
				pfree(utf8);
				pfree(sk);
				return;
			}
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			{
				bool		is_array = BSON_ITER_HOLDS_ARRAY(value);
				bson_t		child;
				bson_iter_t inner;

				if (collation == NULL || !bson_iter_recurse(value, &inner))
				{
					bson_append_iter(out, key, keylen, value);
					return;
				}
				if (is_array)
					bson_append_array_begin(out, key, keylen, &child);
				else
					bson_append_document_begin(out, key, keylen, &child);
				while (bson_iter_next(&inner))
					BsonCollationAppendKeyed(collation, &child, bson_iter_key(&inner),
											 -1, &inner);
				if (is_array)
					bson_append_array_end(out, &child);
				else
					bson_append_document_end(out, &child);
				return;
			}
		default:
			bson_append_iter(out, key, keylen, value);
			return;
	}
}

/*
 * BsonCollationFree
 *		Close the collator and release the collation.
 */
void
BsonCollationFree(BsonCollation *collation)
{
	if (collation == NULL)
		return;
	if (collation->ucol != NULL)
		ucol_close(collation->ucol);
	collation->ucol = NULL;
	/* the reset callback stays registered but finds nothing to close */
#ifdef FRONTEND
	pfree(collation);
#endif
}
