/*-------------------------------------------------------------------------
 *
 * bson_print.c
 *	  BSON to MongoDB Extended JSON v2 text.
 *
 * Printing walks the BSON with libbson's iterator.  Relaxed output is
 * relaxed Extended JSON that keeps every type: an int64 that fits in int32
 * is printed as {"$numberLong": "..."} (a plain number would come back as
 * int32), and doubles are printed in their shortest round-trip form (ryu,
 * common/shortest_dec.h) spelled as Extended JSON spells them (1.0,
 * 1.0E+300), so text output parses back to the same bytes.  libbson's own
 * printer is not used: it prints 0.1 as 0.10000000000000000555 and loses
 * int64 types in relaxed mode.
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
#include "common/shortest_dec.h"
#ifndef FRONTEND
#include "miscadmin.h"
#endif

#include "bson_json.h"

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
