/*-------------------------------------------------------------------------
 *
 * bson_io.c
 *	  Input, output, binary I/O and casts of the bson type; the
 *	  nosql.bson_output setting; libbson's memory hooks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "bson.h"
#include "nosql.h"

/* nosql.bson_output: how bson values are printed as text */
int			bson_output_mode = BSON_JSON_RELAXED;

static const struct config_enum_entry bson_output_options[] = {
	{"relaxed", BSON_JSON_RELAXED, false},
	{"canonical", BSON_JSON_CANONICAL, false},
	{NULL, 0, false}
};

/*
 * libbson allocates through these, so that its memory belongs to the
 * current memory context and is released by an ERROR like everything else.
 * libbson asks for aligned memory (bson_t is 128-byte aligned) and frees
 * and reallocates without sizes, so each block carries a small header.
 */
typedef struct BsonMemHeader
{
	void	   *base;			/* what palloc returned */
	size_t		size;			/* bytes usable after the header */
} BsonMemHeader;

static void *
BsonMemAlloc(size_t size, size_t align, bool zero, MemoryContext context)
{
	char	   *base;
	char	   *p;
	BsonMemHeader *hdr;

	if (align < MAXIMUM_ALIGNOF * 2)
		align = MAXIMUM_ALIGNOF * 2;
	base = MemoryContextAllocExtended(context,
									  size + align + sizeof(BsonMemHeader),
									  MCXT_ALLOC_HUGE | (zero ? MCXT_ALLOC_ZERO : 0));
	p = (char *) TYPEALIGN(align, base + sizeof(BsonMemHeader));
	hdr = ((BsonMemHeader *) p) - 1;
	hdr->base = base;
	hdr->size = size;
	return p;
}

static void *
BsonMemMalloc(size_t size)
{
	return BsonMemAlloc(size, 0, false, CurrentMemoryContext);
}

static void *
BsonMemCalloc(size_t n, size_t size)
{
	return BsonMemAlloc(n * size, 0, true, CurrentMemoryContext);
}

static void *
BsonMemAlignedAlloc(size_t align, size_t size)
{
	return BsonMemAlloc(size, align, false, CurrentMemoryContext);
}

static void
BsonMemFree(void *p)
{
	if (p != NULL)
		pfree(((BsonMemHeader *) p)[-1].base);
}

static void *
BsonMemRealloc(void *p, size_t size)
{
	BsonMemHeader *hdr;
	void	   *np;

	if (p == NULL)
		return BsonMemMalloc(size);
	hdr = ((BsonMemHeader *) p) - 1;
	/* grow in the context the block came from, not the current one */
	np = BsonMemAlloc(size, 0, false, GetMemoryChunkContext(hdr->base));
	memcpy(np, p, Min(size, hdr->size));
	pfree(hdr->base);
	return np;
}

static const bson_mem_vtable_t bson_palloc_vtable = {
	.malloc = BsonMemMalloc,
	.calloc = BsonMemCalloc,
	.realloc = BsonMemRealloc,
	.free = BsonMemFree,
	.aligned_alloc = BsonMemAlignedAlloc,
};

/*
 * Register the bson settings and route libbson's memory through palloc.
 */
void
BsonInit(void)
{
	DefineCustomEnumVariable("nosql.bson_output",
							 "Text form of bson values: relaxed or canonical Extended JSON.",
							 NULL,
							 &bson_output_mode,
							 BSON_JSON_RELAXED,
							 bson_output_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	bson_mem_set_vtable(&bson_palloc_vtable);
}

/*
 * Make a bson datum from a built document (a wrapper when is_scalar).
 */
Bson *
BsonFromDocument(const bson_t *doc, bool is_scalar)
{
	uint32_t	len = doc->len;
	Bson	   *result;

	if (len > BSON_MAX_DOC_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bson document is too large"),
				 errdetail("The document is %u bytes; the limit is %d bytes.",
						   len, BSON_MAX_DOC_SIZE)));
	result = palloc(VARHDRSZ + len + (is_scalar ? 1 : 0));
	SET_VARSIZE(result, VARHDRSZ + len + (is_scalar ? 1 : 0));
	memcpy(VARDATA(result), bson_get_data(doc), len);
	if (is_scalar)
		((char *) VARDATA(result))[len] = BSON_SCALAR_MARKER;
	return result;
}

/*
 * BsonFromValue
 *		A bson datum of one value: the value's own document when it is a
 *		document, its wrapper {"": value} otherwise (as BsonFromIter).
 */
Bson *
BsonFromValue(const bson_value_t *v)
{
	bson_t		doc;
	bson_iter_t it;
	Bson	   *result;

	bson_init(&doc);
	bson_append_value(&doc, "", 0, v);
	if (!bson_iter_init(&it, &doc) || !bson_iter_next(&it))
		elog(ERROR, "could not build a bson value");
	result = BsonFromIter(&it);
	bson_destroy(&doc);
	return result;
}

/*
 * Make a bson datum of the value an iterator points at.
 */
Bson *
BsonFromIter(const bson_iter_t *it)
{
	if (BSON_ITER_HOLDS_DOCUMENT(it))
	{
		const uint8_t *data;
		uint32_t	len;
		Bson	   *result;

		bson_iter_document(it, &len, &data);
		result = palloc(VARHDRSZ + len);
		SET_VARSIZE(result, VARHDRSZ + len);
		memcpy(VARDATA(result), data, len);
		return result;
	}
	else
	{
		/*
		 * Write the wrapper {"": value} directly: int32 length, the type
		 * byte, the empty key's NUL, the value's bytes, the document's
		 * terminating NUL, and the marker.
		 */
		const uint8_t *value = it->raw + it->d1;
		uint32_t	value_len = it->next_off - it->d1;
		uint32_t	doclen = 4 + 1 + 1 + value_len + 1;
		uint32_t	doclen_le = BSON_UINT32_TO_LE(doclen);
		Bson	   *result = palloc(VARHDRSZ + doclen + 1);
		uint8_t    *p = (uint8_t *) VARDATA(result);

		SET_VARSIZE(result, VARHDRSZ + doclen + 1);
		memcpy(p, &doclen_le, 4);
		p[4] = (uint8_t) bson_iter_type(it);
		p[5] = '\0';
		memcpy(p + 6, value, value_len);
		p[6 + value_len] = '\0';
		p[7 + value_len] = BSON_SCALAR_MARKER;
		return result;
	}
}

/*
 * Point an iterator at a non-document value.  Returns false for a document
 * (which has no element to point at).  holder must outlive the iterator.
 */
bool
BsonValueIter(const Bson *b, bson_iter_t *it, bson_t *holder)
{
	if (!BsonIsScalar(b))
		return false;
	if (!bson_init_static(holder, BsonBytes(b), BsonDocLen(b)) ||
		!bson_iter_init(it, holder) || !bson_iter_next(it))
		elog(ERROR, "corrupt bson value");
	return true;
}

/*
 * The Extended JSON text of a value, in the database encoding.
 */
char *
BsonToCString(const Bson *b, BsonJsonMode mode)
{
	StringInfoData buf;
	char	   *converted;

	initStringInfo(&buf);
	BsonPrintJson(&buf, BsonBytes(b), BsonDocLen(b), BsonIsScalar(b), mode);
	converted = pg_any_to_server(buf.data, buf.len, PG_UTF8);
	if (converted != buf.data)
		pfree(buf.data);
	return converted;
}

/*
 * Parse text in the database encoding.
 */
static Bson *
BsonFromText(const char *text, int len)
{
	BsonParsed	parsed;
	char	   *error;
	char	   *utf8 = (char *) text;
	Bson	   *result;

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = (char *) pg_server_to_any(text, len, PG_UTF8);
		len = strlen(utf8);
	}
	/* errors are raised inside */
	(void) BsonParseJson(utf8, len, &parsed, &error);
	result = BsonFromDocument(&parsed.doc, parsed.is_scalar);
	bson_destroy(&parsed.doc);
	return result;
}

/*
 * Validate BSON bytes from outside (binary input, bytea) and make a datum.
 * The bytes are a document, or a {"": value} wrapper of a non-document
 * followed by the marker byte.
 */
static Bson *
BsonFromBytes(const char *data, int len)
{
	char	   *error;
	bool		is_scalar = false;
	bool		degenerate;
	int32_t		doclen = 0;
	Bson	   *result;

	if (len >= 4)
	{
		memcpy(&doclen, data, sizeof(doclen));
		doclen = (int32_t) BSON_UINT32_FROM_LE(doclen);
	}
	if (len >= 6 && doclen == len - 1 &&
		(unsigned char) data[len - 1] == BSON_SCALAR_MARKER)
	{
		is_scalar = true;
		len--;
	}
	if (len > BSON_MAX_DOC_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bson document is too large"),
				 errdetail("The document is %d bytes; the limit is %d bytes.",
						   len, BSON_MAX_DOC_SIZE)));

	error = BsonValidateValueBytes((const uint8_t *) data, len, is_scalar, &degenerate);
	if (error == NULL && is_scalar)
	{
		bson_t		wrapper;
		bson_iter_t it;

		/* a wrapper holds exactly one non-document value under "" */
		if (!bson_init_static(&wrapper, (const uint8_t *) data, len) ||
			!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it) ||
			bson_iter_key_len(&it) != 0 || BSON_ITER_HOLDS_DOCUMENT(&it) ||
			bson_iter_next(&it))
			error = pstrdup("a non-document value must be the only element, named \"\", of its wrapper");
	}
	if (error != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid BSON data"),
				 errdetail("%c%s.", pg_toupper((unsigned char) error[0]), error + 1)));

	if (degenerate)
	{
		bson_t		canonical;

		/* valid but not canonical: store the canonical form */
		BsonCanonicalize((const uint8_t *) data, len, &canonical);
		result = BsonFromDocument(&canonical, is_scalar);
		bson_destroy(&canonical);
		return result;
	}

	result = palloc(VARHDRSZ + len + (is_scalar ? 1 : 0));
	SET_VARSIZE(result, VARHDRSZ + len + (is_scalar ? 1 : 0));
	memcpy(VARDATA(result), data, len + (is_scalar ? 1 : 0));
	return result;
}

PG_FUNCTION_INFO_V1(bson_in);
Datum
bson_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);

	PG_RETURN_BSON_P(BsonFromText(text, strlen(text)));
}

PG_FUNCTION_INFO_V1(bson_out);
Datum
bson_out(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);

	PG_RETURN_CSTRING(BsonToCString(b, (BsonJsonMode) bson_output_mode));
}

/*
 * Binary input: the BSON bytes, fully validated.
 */
PG_FUNCTION_INFO_V1(bson_recv);
Datum
bson_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *data = pq_getmsgbytes(buf, len);

	PG_RETURN_BSON_P(BsonFromBytes(data, len));
}

/*
 * Binary output: a document's wire form is exactly its BSON bytes.
 */
PG_FUNCTION_INFO_V1(bson_send);
Datum
bson_send(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(bson_from_bytea);
Datum
bson_from_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_BSON_P(BsonFromBytes(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes)));
}

PG_FUNCTION_INFO_V1(bson_to_bytea);
Datum
bson_to_bytea(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	bytea	   *result = palloc(VARHDRSZ + VARSIZE_ANY_EXHDR(b));

	SET_VARSIZE(result, VARHDRSZ + VARSIZE_ANY_EXHDR(b));
	memcpy(VARDATA(result), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	PG_RETURN_BYTEA_P(result);
}

/*
 * bson -> json / jsonb: relaxed Extended JSON, JSON-representable types as
 * plain JSON, the others as Extended JSON objects.
 */
PG_FUNCTION_INFO_V1(bson_to_jsonb);
Datum
bson_to_jsonb(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	char	   *text = BsonToCString(b, BSON_JSON_RELAXED_PLAIN);

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
}

PG_FUNCTION_INFO_V1(bson_to_json);
Datum
bson_to_json(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);

	PG_RETURN_TEXT_P(cstring_to_text(BsonToCString(b, BSON_JSON_RELAXED_PLAIN)));
}

PG_FUNCTION_INFO_V1(bson_from_jsonb);
Datum
bson_from_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

	PG_RETURN_BSON_P(BsonFromText(text, strlen(text)));
}

PG_FUNCTION_INFO_V1(bson_from_json);
Datum
bson_from_json(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BSON_P(BsonFromText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/* ---- scalar casts ---- */


/*
 * The MongoDB type name ($type alias) of a value.
 */
PG_FUNCTION_INFO_V1(bson_typeof);
Datum
bson_typeof(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	bson_iter_t it;
	bson_t		holder;

	if (!BsonValueIter(b, &it, &holder))
		PG_RETURN_TEXT_P(cstring_to_text("object"));
	PG_RETURN_TEXT_P(cstring_to_text(BsonTypeName(bson_iter_type(&it))));
}

/*
 * Point at the scalar a cast converts, or fail clearly.
 */
static void
BsonCastIter(const Bson *b, bson_iter_t *it, bson_t *holder, const char *target)
{
	if (!BsonValueIter(b, it, holder))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot cast bson object to type %s", target)));
}

static void
BsonCastFail(bson_iter_t *it, const char *target)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot cast bson %s to type %s",
					BsonTypeName(bson_iter_type(it)), target)));
}

/*
 * A bson number as numeric (exact for every numeric BSON type).
 */
static Numeric
BsonIterToNumeric(bson_iter_t *it, const char *target)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			return int64_to_numeric(bson_iter_int32(it));
		case BSON_TYPE_INT64:
			return int64_to_numeric(bson_iter_int64(it));
		case BSON_TYPE_DOUBLE:
			{
				double		d = bson_iter_double(it);
				char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

				/*
				 * Not float8_numeric, which keeps 15 significant digits
				 * (0.49999999999999994 would become 0.5): an integral double
				 * exactly, any other by its shortest round-trip digits.
				 */
				if (d == floor(d) && d >= -9223372036854775808.0 &&
					d < 9223372036854775808.0)
					return int64_to_numeric((int64) d);
				(void) double_to_shortest_decimal_buf(d, buf);
				return DatumGetNumeric(DirectFunctionCall3(numeric_in,
														   CStringGetDatum(buf),
														   ObjectIdGetDatum(InvalidOid),
														   Int32GetDatum(-1)));
			}
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;
				char		str[BSON_DECIMAL128_STRING];

				bson_iter_decimal128(it, &dec);
				bson_decimal128_to_string(&dec, str);
				if (strcmp(str, "Infinity") == 0 || strcmp(str, "-Infinity") == 0 ||
					strcmp(str, "NaN") == 0)
					return DatumGetNumeric(DirectFunctionCall3(numeric_in,
															   CStringGetDatum(str[0] == 'N' ? "NaN" : str),
															   ObjectIdGetDatum(InvalidOid),
															   Int32GetDatum(-1)));
				return DatumGetNumeric(DirectFunctionCall3(numeric_in,
														   CStringGetDatum(str),
														   ObjectIdGetDatum(InvalidOid),
														   Int32GetDatum(-1)));
			}
		default:
			BsonCastFail(it, target);
	}
	return NULL;				/* keep compiler quiet */
}

PG_FUNCTION_INFO_V1(bson_to_numeric);
Datum
bson_to_numeric(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	bson_iter_t it;
	bson_t		holder;

	BsonCastIter(b, &it, &holder, "numeric");
	PG_RETURN_NUMERIC(BsonIterToNumeric(&it, "numeric"));
}

PG_FUNCTION_INFO_V1(bson_to_float8);
Datum
bson_to_float8(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	bson_iter_t it;
	bson_t		holder;

	BsonCastIter(b, &it, &holder, "double precision");
	switch (bson_iter_type(&it))
	{
		case BSON_TYPE_DOUBLE:
			PG_RETURN_FLOAT8(bson_iter_double(&it));
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			PG_RETURN_FLOAT8((double) bson_iter_as_int64(&it));
		case BSON_TYPE_DECIMAL128:
			return DirectFunctionCall1(numeric_float8,
									   NumericGetDatum(BsonIterToNumeric(&it, "double precision")));
		default:
			BsonCastFail(&it, "double precision");
	}
	PG_RETURN_NULL();
}

/*
 * bson -> int8 / int4: integers directly, doubles and decimals rounded to
 * the nearest integer as numeric's casts do, out of range an error.
 */
static int64
BsonToInteger(Bson *b, const char *target, PGFunction numeric_cast)
{
	bson_iter_t it;
	bson_t		holder;

	BsonCastIter(b, &it, &holder, target);
	switch (bson_iter_type(&it))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			return bson_iter_as_int64(&it);
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			{
				/* numeric's own cast rounds and reports the target's range */
				Datum		d = DirectFunctionCall1(numeric_cast,
													NumericGetDatum(BsonIterToNumeric(&it, target)));

				return numeric_cast == numeric_int4 ? DatumGetInt32(d) : DatumGetInt64(d);
			}
		default:
			BsonCastFail(&it, target);
	}
	return 0;
}

PG_FUNCTION_INFO_V1(bson_to_int8);
Datum
bson_to_int8(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(BsonToInteger(PG_GETARG_BSON_P(0), "bigint", numeric_int8));
}

PG_FUNCTION_INFO_V1(bson_to_int4);
Datum
bson_to_int4(PG_FUNCTION_ARGS)
{
	int64		v = BsonToInteger(PG_GETARG_BSON_P(0), "integer", numeric_int4);

	if (v < PG_INT32_MIN || v > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("integer out of range")));
	PG_RETURN_INT32((int32) v);
}

PG_FUNCTION_INFO_V1(bson_to_bool);
Datum
bson_to_bool(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	bson_iter_t it;
	bson_t		holder;

	BsonCastIter(b, &it, &holder, "boolean");
	if (!BSON_ITER_HOLDS_BOOL(&it))
		BsonCastFail(&it, "boolean");
	PG_RETURN_BOOL(bson_iter_bool(&it));
}

/*
 * bson -> timestamptz: a BSON date (milliseconds since the epoch).
 */
PG_FUNCTION_INFO_V1(bson_to_timestamptz);
Datum
bson_to_timestamptz(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	bson_iter_t it;
	bson_t		holder;
	int64		millis;
	TimestampTz result;

	BsonCastIter(b, &it, &holder, "timestamp with time zone");
	if (!BSON_ITER_HOLDS_DATE_TIME(&it))
		BsonCastFail(&it, "timestamp with time zone");
	millis = bson_iter_date_time(&it);

	/* ms since 1970 -> us since 2000, checking the range */
	if (pg_mul_s64_overflow(millis, 1000, &result) ||
		pg_sub_s64_overflow(result,
							((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * USECS_PER_DAY,
							&result) ||
		!IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("bson date is out of range for type timestamp with time zone")));
	PG_RETURN_TIMESTAMPTZ(result);
}

/*
 * bson -> text for strings and symbols: the string itself (as ->> gives).
 */
PG_FUNCTION_INFO_V1(bson_to_text);
Datum
bson_to_text(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);

	PG_RETURN_TEXT_P(cstring_to_text(BsonToCString(b, (BsonJsonMode) bson_output_mode)));
}
