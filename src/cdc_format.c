/*-------------------------------------------------------------------------
 *
 * cdc_format.c
 *	  The change events of the output plugin: MongoDB change events for
 *	  collections, etcd watch events for the key-value store, written as
 *	  relaxed Extended JSON text or as BSON.
 *
 * Design note
 * -----------
 * Every event is built once, as a BSON document with libbson, whatever
 * the output format: the BSON format writes its bytes as they are, the
 * JSON format prints them with the extension's own Extended JSON printer
 * (bson_print.c, relaxed mode, as the bson type's text output), so both
 * formats carry the same event and a JSON line read back as bson (::bson)
 * is exactly the BSON message.
 *
 * A collection event's _id, its resume token, is {_data: hex}: the commit
 * LSN of the change's transaction in 16 upper-case hex digits, then the
 * change's ordinal within the transaction (1, 2, ...) in 8.  Both are
 * fixed-width and big-endian, so tokens compare as strings (and as bson)
 * in commit order, and changes of one transaction in the order they were
 * made.  The ordinal counts every change the decoder hands the plugin in
 * the transaction, also those of tables that produce no event, so a
 * change's token does not depend on the options a reader chose.
 *
 * clusterTime is the BSON timestamp (commit time in seconds, the ordinal
 * as increment) and wallTime the commit time as a BSON date; both are the
 * same for every change of a transaction.  Unlike the resume token they
 * need not be unique across transactions that commit in the same second.
 *
 * documentKey is {_id}: the _id column of the row (for a delete, from the
 * old key the table's replica identity logs; see cdc_output.c), or, when
 * the column is not at hand, the document's own _id field.
 *
 * A key-value event has etcd's watch event shape: {type, kv, header:
 * {revision}}, with kv as etcd's KeyValue (a DELETE's kv has only the key
 * and its mod_revision, as etcd's).  Keys and values are strings when they
 * are UTF-8 without NUL bytes and BSON binary otherwise, as in kv_txn's
 * replies (KvAppendBytes).  With prev_kv, etcd's field 3 of its Event
 * follows kv: the KeyValue of the version replaced.
 *
 * A time-series event is an "insert" collection event of a row inserted
 * into a partition of a time-series table, without documentKey (a point has
 * no key): ns names the table (coll is "schema.table"), fullDocument is
 * the row, its columns by name in the table's order, each value mapped to
 * the BSON type closest to its SQL type (CdcTsValueKind).  BSON strings
 * are UTF-8: text of a database in another encoding is converted.  BSON
 * dates are milliseconds: a timestamp loses its microseconds (rounded
 * down, towards the past); an infinite timestamp or date, which no date
 * can hold, is its text, "infinity" or "-infinity".  A numeric is the
 * decimal128 of its 34 leading significant digits (rounded), or a double
 * when its exponent is out of decimal128's range.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "bson.h"
#include "bson_compare.h"
#include "bson_json.h"
#include "cdc.h"
#include "kv.h"

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
/*
 * Write the _data of a resume token into buf (CDC_TOKEN_LEN + 1 bytes).
 */
void
CdcResumeToken(char *buf, XLogRecPtr commit_lsn, uint32 ordinal)
{
	snprintf(buf, CDC_TOKEN_LEN + 1, "%016" PRIX64 "%08X",
			 (uint64) commit_lsn, (unsigned int) ordinal);
}

/*
 * Append the value of a bson datum under name: a document as a document,
 * any other value (stored as its {"": value} wrapper) as itself.
 */
static void
CdcAppendBson(bson_t *event, const char *name, const Bson *value)
{
	bson_iter_t it;
	bson_t		holder;

	if (BsonValueIter(value, &it, &holder))
		bson_append_iter(event, name, -1, &it);
	else
	{
		bson_t		doc;

		if (!bson_init_static(&doc, BsonBytes(value), BsonDocLen(value)))
			elog(ERROR, "corrupt bson document in a change");
		bson_append_document(event, name, -1, &doc);
	}
}

/*
 * The fields every collection event starts with: the resume token, the
 * operation, clusterTime, the collection's UUID (collectionUUID: only for
 * a reader of the expanded events, and when known) and wallTime.
 */
static void
CdcAppendHead(bson_t *event, const char *op, const CdcPosition *pos, const uint8_t *uuid)
{
	char		token[CDC_TOKEN_LEN + 1];
	bson_t		child;
	int64		unix_usecs;

	CdcResumeToken(token, pos->commit_lsn, pos->ordinal);
	bson_append_document_begin(event, "_id", 3, &child);
	bson_append_utf8(&child, "_data", 5, token, CDC_TOKEN_LEN);
	bson_append_document_end(event, &child);

	bson_append_utf8(event, "operationType", -1, op, -1);

	unix_usecs = pos->commit_time + CDC_EPOCH_OFFSET_USECS;
	bson_append_timestamp(event, "clusterTime", -1,
						  (uint32) (unix_usecs / USECS_PER_SEC), pos->ordinal);
	if (uuid != NULL)
		bson_append_binary(event, "collectionUUID", -1, BSON_SUBTYPE_UUID, uuid,
						   CDC_UUID_LEN);
	bson_append_date_time(event, "wallTime", -1, unix_usecs / 1000);
}

/*
 * An update's updateDescription from its update message (cdc_message.c):
 * updatedFields, removedFields and truncatedArrays, the last two empty
 * arrays when the message has none, as MongoDB always gives all three;
 * then, for a reader of the expanded events (expanded), disambiguatedPaths
 * when the message has ambiguous paths.
 */
static void
CdcAppendDescription(bson_t *event, const bson_t *message, bool expanded)
{
	static const char *const names[3][2] = {
		{"u", "updatedFields"}, {"r", "removedFields"}, {"t", "truncatedArrays"}
	};
	bson_t		child;
	bson_t		empty;
	bson_iter_t it;

	bson_append_document_begin(event, "updateDescription", -1, &child);
	for (int i = 0; i < 3; i++)
	{
		if (bson_iter_init_find(&it, message, names[i][0]) &&
			(i == 0 ? BSON_ITER_HOLDS_DOCUMENT(&it) : BSON_ITER_HOLDS_ARRAY(&it)))
			bson_append_iter(&child, names[i][1], -1, &it);
		else
		{
			bson_init(&empty);
			if (i == 0)
				bson_append_document(&child, names[i][1], -1, &empty);
			else
				bson_append_array(&child, names[i][1], -1, &empty);
			bson_destroy(&empty);
		}
	}
	if (expanded && bson_iter_init_find(&it, message, "p") && BSON_ITER_HOLDS_DOCUMENT(&it))
		bson_append_iter(&child, "disambiguatedPaths", -1, &it);
	bson_append_document_end(event, &child);
}

/*
 * Build the MongoDB change event of a collection change into event (an
 * initialised, empty document).  Returns false when the change has no
 * _id to name it by, which the caller reports.
 */
bool
CdcFormatCollectionEvent(bson_t *event, const CdcCollectionChange *change,
						 const CdcPosition *pos)
{
	bson_t		child;
	bson_iter_t doc_id;
	bool		have_doc_id = false;
	const char *op;

	switch (change->op)
	{
		case CDC_OP_INSERT:
			op = "insert";
			break;
		case CDC_OP_UPDATE:
			op = "update";
			break;
		case CDC_OP_REPLACE:
			op = "replace";
			break;
		case CDC_OP_DELETE:
			op = "delete";
			break;
		default:
			elog(ERROR, "unexpected change kind %d", (int) change->op);
	}

	/* without the _id column, the key is the document's own _id */
	if (change->id == NULL && change->document != NULL)
	{
		bson_t		doc;

		if (!bson_init_static(&doc, BsonBytes(change->document),
							  BsonDocLen(change->document)))
			elog(ERROR, "corrupt bson document in a change");
		have_doc_id = bson_iter_init_find(&doc_id, &doc, "_id");
	}
	if (change->id == NULL && !have_doc_id)
		return false;

	CdcAppendHead(event, op, pos, change->uuid);

	/* an update's fullDocument, when asked for, comes last, as MongoDB's */
	if (change->document != NULL && change->op != CDC_OP_UPDATE)
		CdcAppendBson(event, "fullDocument", change->document);

	bson_append_document_begin(event, "ns", 2, &child);
	bson_append_utf8(&child, "db", 2, change->db, -1);
	bson_append_utf8(&child, "coll", 4, change->coll, -1);
	bson_append_document_end(event, &child);

	bson_append_document_begin(event, "documentKey", -1, &child);
	if (change->id != NULL)
		CdcAppendBson(&child, "_id", change->id);
	else
		bson_append_iter(&child, "_id", 3, &doc_id);
	bson_append_document_end(event, &child);

	if (change->op == CDC_OP_UPDATE)
	{
		CdcAppendDescription(event, change->description, change->expanded);
		if (change->full_document && change->document != NULL)
			CdcAppendBson(event, "fullDocument", change->document);
	}
	/* the pre-image, last */
	if (change->before != NULL && change->op != CDC_OP_INSERT)
		CdcAppendBson(event, "fullDocumentBeforeChange", change->before);
	return true;
}

/*
 * Build the event of a collection's drop or rename, of a database's drop,
 * or of one of the expanded events (create, createIndexes, dropIndexes,
 * modify), into event (an initialised, empty document).  The fields come
 * in MongoDB's order: ns, a rename's "to", operationDescription, a
 * modify's stateBeforeChange.  A rename read with the expanded events has
 * an operationDescription too: "to" again and, when it replaced a
 * collection, that collection's UUID as dropTarget.
 */
void
CdcFormatDdlEvent(bson_t *event, const CdcCollectionChange *change,
				  const CdcPosition *pos)
{
	bson_t		child;
	bson_t		grandchild;
	const char *op;

	switch (change->op)
	{
		case CDC_OP_DROP:
			op = "drop";
			break;
		case CDC_OP_RENAME:
			op = "rename";
			break;
		case CDC_OP_DROP_DATABASE:
			op = "dropDatabase";
			break;
		case CDC_OP_CREATE:
			op = "create";
			break;
		case CDC_OP_CREATE_INDEXES:
			op = "createIndexes";
			break;
		case CDC_OP_DROP_INDEXES:
			op = "dropIndexes";
			break;
		case CDC_OP_MODIFY:
			op = "modify";
			break;
		default:
			elog(ERROR, "unexpected change kind %d", (int) change->op);
	}
	CdcAppendHead(event, op, pos, change->uuid);
	bson_append_document_begin(event, "ns", 2, &child);
	bson_append_utf8(&child, "db", 2, change->db, -1);
	if (change->coll != NULL)
		bson_append_utf8(&child, "coll", 4, change->coll, -1);
	bson_append_document_end(event, &child);
	if (change->op == CDC_OP_RENAME)
	{
		bson_append_document_begin(event, "to", 2, &child);
		bson_append_utf8(&child, "db", 2, change->to_db, -1);
		bson_append_utf8(&child, "coll", 4, change->to_coll, -1);
		bson_append_document_end(event, &child);
		if (change->expanded)
		{
			bson_append_document_begin(event, "operationDescription", -1, &child);
			bson_append_document_begin(&child, "to", 2, &grandchild);
			bson_append_utf8(&grandchild, "db", 2, change->to_db, -1);
			bson_append_utf8(&grandchild, "coll", 4, change->to_coll, -1);
			bson_append_document_end(&child, &grandchild);
			if (change->drop_target != NULL)
				bson_append_binary(&child, "dropTarget", -1, BSON_SUBTYPE_UUID,
								   change->drop_target, CDC_UUID_LEN);
			bson_append_document_end(event, &child);
		}
	}
	if (change->operation != NULL)
		bson_append_document(event, "operationDescription", -1, change->operation);
	if (change->state_before != NULL)
		bson_append_document(event, "stateBeforeChange", -1, change->state_before);
}

/*
 * Whether a collection change is of the document whose _id is id: same
 * type, same value (the _id of an update message against the row's).
 */
bool
CdcChangeHasId(const CdcCollectionChange *change, const bson_iter_t *id)
{
	bson_iter_t it;
	bson_t		holder;

	if (change->id != NULL)
	{
		if (!BsonValueIter(change->id, &it, &holder))
		{
			/* a document _id: compare the documents' bytes */
			const uint8_t *data;
			uint32_t	len;

			if (!BSON_ITER_HOLDS_DOCUMENT(id))
				return false;
			bson_iter_document(id, &len, &data);
			return len == BsonDocLen(change->id) &&
				memcmp(data, BsonBytes(change->id), len) == 0;
		}
	}
	else
	{
		bson_t		doc;

		if (change->document == NULL ||
			!bson_init_static(&doc, BsonBytes(change->document),
							  BsonDocLen(change->document)) ||
			!bson_iter_init_find(&it, &doc, "_id"))
			return false;
	}
	return bson_iter_type(&it) == bson_iter_type(id) &&
		BsonCompareValues(&it, id) == 0;
}

/*
 * etcd's KeyValue of a version of a key: a tombstone's has only the key
 * and its mod_revision, as etcd's DELETE events.
 */
static void
CdcAppendKeyValue(bson_t *event, const char *name, const CdcKvChange *change)
{
	bson_t		child;

	bson_append_document_begin(event, name, -1, &child);
	KvAppendBytes(&child, "key", (const bytea *) change->key);
	if (change->deleted)
		BSON_APPEND_INT64(&child, "mod_revision", change->mod_revision);
	else
	{
		BSON_APPEND_INT64(&child, "create_revision", change->create_revision);
		BSON_APPEND_INT64(&child, "mod_revision", change->mod_revision);
		BSON_APPEND_INT64(&child, "version", change->version);
		KvAppendBytes(&child, "value", change->value);
		BSON_APPEND_INT64(&child, "lease", change->lease);
	}
	bson_append_document_end(event, &child);
}

/*
 * Build the etcd watch event of a row of nosql.kv_history into event (an
 * initialised, empty document), with prev, when not NULL, as its prev_kv:
 * the version the row replaced.
 */
void
CdcFormatKvEvent(bson_t *event, const CdcKvChange *change, const CdcKvChange *prev)
{
	bson_t		child;

	bson_append_utf8(event, "type", 4, change->deleted ? "DELETE" : "PUT", -1);
	CdcAppendKeyValue(event, "kv", change);
	if (prev != NULL)
		CdcAppendKeyValue(event, "prev_kv", prev);
	bson_append_document_begin(event, "header", 6, &child);
	BSON_APPEND_INT64(&child, "revision", change->mod_revision);
	bson_append_document_end(event, &child);
}

/* ---------------------------------------------------------------------
 * Time-series events
 * ---------------------------------------------------------------------
 */

/*
 * The columns of a time-series partition with descriptor desc as its
 * events show them, in the current memory context (the plugin's relation
 * cache); bson_type is the OID of nosql.bson.  Dropped columns are left
 * out.
 */
CdcTsColumn *
CdcTimeseriesColumns(TupleDesc desc, Oid bson_type, int *ncolumns)
{
	CdcTsColumn *columns = palloc0(sizeof(CdcTsColumn) * Max(desc->natts, 1));
	int			n = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		CdcTsColumn *col = &columns[n];
		Oid			type;

		if (att->attisdropped)
			continue;
		col->attnum = att->attnum;
		col->name = pstrdup(CdcServerToUtf8(NameStr(att->attname),
											strlen(NameStr(att->attname))));
		type = getBaseType(att->atttypid);
		switch (type)
		{
			case BOOLOID:
				col->kind = CDC_TS_BOOL;
				break;
			case INT2OID:
				col->kind = CDC_TS_INT2;
				break;
			case INT4OID:
				col->kind = CDC_TS_INT4;
				break;
			case INT8OID:
				col->kind = CDC_TS_INT8;
				break;
			case FLOAT4OID:
				col->kind = CDC_TS_FLOAT4;
				break;
			case FLOAT8OID:
				col->kind = CDC_TS_FLOAT8;
				break;
			case NUMERICOID:
				col->kind = CDC_TS_NUMERIC;
				break;
			case TEXTOID:
			case VARCHAROID:
			case BPCHAROID:
				col->kind = CDC_TS_TEXT;
				break;
			case NAMEOID:
				col->kind = CDC_TS_NAME;
				break;
			case TIMESTAMPTZOID:
			case TIMESTAMPOID:
				col->kind = CDC_TS_TIMESTAMP;
				break;
			case DATEOID:
				col->kind = CDC_TS_DATE;
				break;
			case JSONBOID:
				col->kind = CDC_TS_JSONB;
				break;
			case BYTEAOID:
				col->kind = CDC_TS_BYTEA;
				break;
			case UUIDOID:
				col->kind = CDC_TS_UUID;
				break;
			default:
				if (OidIsValid(bson_type) && type == bson_type)
					col->kind = CDC_TS_BSON;
				else
				{
					Oid			output;
					bool		varlena;

					/* the output function of the column's own type (a domain's) */
					col->kind = CDC_TS_OUTPUT;
					getTypeOutputInfo(att->atttypid, &output, &varlena);
					fmgr_info_cxt(output, &col->output, CurrentMemoryContext);
				}
				break;
		}
		n++;
	}
	*ncolumns = n;
	return columns;
}

/*
 * A string of len bytes in the database encoding in UTF-8, as BSON wants
 * it: s itself when the database is UTF-8, or SQL_ASCII (bytes of no known
 * encoding, left as they are rather than refused); else a converted,
 * NUL-terminated copy.
 */
const char *
CdcServerToUtf8(const char *s, int len)
{
	if (GetDatabaseEncoding() == PG_UTF8 || GetDatabaseEncoding() == PG_SQL_ASCII)
		return s;
	return pg_server_to_any(s, len, PG_UTF8);
}

/* A string in the database encoding as a BSON string */
static void
CdcAppendText(bson_t *doc, const char *name, const char *s, int len)
{
	const char *utf8 = CdcServerToUtf8(s, len);

	bson_append_utf8(doc, name, -1, utf8, utf8 == s ? len : -1);
}

/*
 * A timestamp (microseconds since 2000-01-01 UTC) as a BSON date: the
 * millisecond it falls in.  False for an infinite one.
 */
static bool
CdcTimestampMillis(Timestamp ts, int64 *millis)
{
	int64		usecs;

	if (TIMESTAMP_NOT_FINITE(ts))
		return false;
	/* no overflow: timestamps end in 294276 AD */
	usecs = ts + CDC_EPOCH_OFFSET_USECS;
	*millis = usecs / 1000 - (usecs % 1000 < 0 ? 1 : 0);
	return true;
}

/*
 * A numeric as decimal128: exactly when it has at most 34 significant
 * digits (trailing zeros of the scale do not count), else rounded to 34;
 * a double when even that is out of decimal128's exponent range.
 */
static void
CdcAppendNumeric(bson_t *doc, const char *name, Datum value)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));
	bson_decimal128_t dec;
	const char *p;
	int			intdigits = 0;
	int			zeros = 0;

	if (bson_decimal128_from_string(s, &dec))
	{
		bson_append_decimal128(doc, name, -1, &dec);
		return;
	}
	/* too many digits: round to 34 significant ones */
	p = s + (*s == '-');
	while (*p == '0')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, intdigits++;
	if (intdigits == 0 && *p == '.')
	{
		for (p++; *p == '0'; p++)
			zeros++;
	}
	if (intdigits > 0 || *p != '\0')
	{
		int			scale = intdigits > 0 ? 34 - intdigits : 34 + zeros;
		Datum		rounded = DirectFunctionCall2(numeric_round, value,
												  Int32GetDatum(scale));

		s = DatumGetCString(DirectFunctionCall1(numeric_out, rounded));
		if (bson_decimal128_from_string(s, &dec))
		{
			bson_append_decimal128(doc, name, -1, &dec);
			return;
		}
	}
	/* beyond decimal128's exponents: strtod saturates to 0 or infinity */
	bson_append_double(doc, name, -1, strtod(s, NULL));
}

/*
 * A number of a jsonb value as the JSON parser makes a plain JSON number
 * (bson_json.c): int32 or int64 for an integer that fits, else a double.
 */
static void
CdcAppendJsonNumber(bson_t *doc, const char *name, Numeric num)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	const char *p = s + (*s == '-');
	char	   *end;
	long long	v;

	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '\0')
	{
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
		{
			if (v >= PG_INT32_MIN && v <= PG_INT32_MAX)
				bson_append_int32(doc, name, -1, (int32) v);
			else
				bson_append_int64(doc, name, -1, (int64) v);
			return;
		}
	}
	bson_append_double(doc, name, -1, strtod(s, NULL));
}

/* A scalar of a jsonb value */
static void
CdcAppendJsonScalar(bson_t *doc, const char *name, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			bson_append_null(doc, name, -1);
			break;
		case jbvBool:
			bson_append_bool(doc, name, -1, v->val.boolean);
			break;
		case jbvNumeric:
			CdcAppendJsonNumber(doc, name, v->val.numeric);
			break;
		case jbvString:
			CdcAppendText(doc, name, v->val.string.val, v->val.string.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/* The deepest nesting of a jsonb value's containers */
static int
CdcJsonbDepth(Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbIteratorToken tok;
	JsonbValue	v;
	int			depth = 0;
	int			deepest = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			deepest = Max(deepest, ++depth);
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
	}
	return deepest;
}

/*
 * A jsonb value: objects become documents, arrays arrays, scalars the
 * plain JSON scalar.  A value nested deeper than BSON_MAX_DEPTH (which
 * jsonb allows, and which printing the event would refuse) is its text.
 * Iterative, one open document per level, each at a fixed address: an
 * open child of libbson points to its parent.
 */
static void
CdcAppendJsonb(bson_t *doc, const char *name, Jsonb *jb)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	bson_t	   *levels[BSON_MAX_DEPTH + 1];
	uint32		index[BSON_MAX_DEPTH + 1];
	bool		is_array[BSON_MAX_DEPTH + 1];
	int			depth = 0;
	char	   *key = NULL;
	char		numkey[16];

	if (JB_ROOT_IS_SCALAR(jb))
	{
		/* a raw scalar is stored as a one-element array */
		if (!JsonbExtractScalar(&jb->root, &v))
			elog(ERROR, "could not read a scalar jsonb value");
		CdcAppendJsonScalar(doc, name, &v);
		return;
	}
	if (CdcJsonbDepth(jb) > BSON_MAX_DEPTH)
	{
		char	   *out = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

		CdcAppendText(doc, name, out, strlen(out));
		return;
	}

	levels[0] = doc;
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		bson_t	   *parent = levels[depth];
		const char *field = key;

		/* the name of a value or container in an array is its index */
		if (depth == 0)
			field = name;
		else if (is_array[depth] &&
				 (tok == WJB_ELEM || tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY))
		{
			snprintf(numkey, sizeof(numkey), "%u", index[depth]++);
			field = numkey;
		}

		switch (tok)
		{
			case WJB_KEY:
				key = pnstrdup(v.val.string.val, v.val.string.len);
				key = (char *) CdcServerToUtf8(key, v.val.string.len);
				break;
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				{
					/* bson_t wants 128-byte alignment, more than palloc promises */
					char	   *block = palloc(sizeof(bson_t) + 128);
					bson_t	   *child = (bson_t *) TYPEALIGN(128, block);

					Assert(depth < BSON_MAX_DEPTH);
					if (tok == WJB_BEGIN_OBJECT)
						bson_append_document_begin(parent, field, -1, child);
					else
						bson_append_array_begin(parent, field, -1, child);
					depth++;
					levels[depth] = child;
					is_array[depth] = tok == WJB_BEGIN_ARRAY;
					index[depth] = 0;
				}
				break;
			case WJB_END_OBJECT:
				depth--;
				bson_append_document_end(levels[depth], parent);
				break;
			case WJB_END_ARRAY:
				depth--;
				bson_append_array_end(levels[depth], parent);
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				CdcAppendJsonScalar(parent, field, &v);
				break;
			default:
				elog(ERROR, "unexpected jsonb iterator token %d", (int) tok);
		}
	}
}

/* The value of one column of a time-series row */
static void
CdcAppendColumn(bson_t *doc, const CdcTsColumn *col, Datum value)
{
	const char *name = col->name;
	int64		millis;

	switch (col->kind)
	{
		case CDC_TS_BOOL:
			bson_append_bool(doc, name, -1, DatumGetBool(value));
			break;
		case CDC_TS_INT2:
			bson_append_int32(doc, name, -1, DatumGetInt16(value));
			break;
		case CDC_TS_INT4:
			bson_append_int32(doc, name, -1, DatumGetInt32(value));
			break;
		case CDC_TS_INT8:
			bson_append_int64(doc, name, -1, DatumGetInt64(value));
			break;
		case CDC_TS_FLOAT4:
			bson_append_double(doc, name, -1, (double) DatumGetFloat4(value));
			break;
		case CDC_TS_FLOAT8:
			bson_append_double(doc, name, -1, DatumGetFloat8(value));
			break;
		case CDC_TS_NUMERIC:
			CdcAppendNumeric(doc, name, value);
			break;
		case CDC_TS_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				CdcAppendText(doc, name, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
			break;
		case CDC_TS_NAME:
			{
				const char *n = NameStr(*DatumGetName(value));

				CdcAppendText(doc, name, n, strlen(n));
			}
			break;
		case CDC_TS_TIMESTAMP:
			if (CdcTimestampMillis(DatumGetTimestamp(value), &millis))
				bson_append_date_time(doc, name, -1, millis);
			else
				bson_append_utf8(doc, name, -1,
								 TIMESTAMP_IS_NOBEGIN(DatumGetTimestamp(value)) ?
								 "-infinity" : "infinity", -1);
			break;
		case CDC_TS_DATE:
			{
				DateADT		d = DatumGetDateADT(value);
				int64		unix_days = (int64) d + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE);

				if (DATE_NOT_FINITE(d))
					bson_append_utf8(doc, name, -1,
									 DATE_IS_NOBEGIN(d) ? "-infinity" : "infinity", -1);
				else
					bson_append_date_time(doc, name, -1,
										  unix_days * SECS_PER_DAY * INT64CONST(1000));
			}
			break;
		case CDC_TS_JSONB:
			CdcAppendJsonb(doc, name, DatumGetJsonbP(value));
			break;
		case CDC_TS_BSON:
			CdcAppendBson(doc, name, DatumGetBsonP(value));
			break;
		case CDC_TS_BYTEA:
			{
				bytea	   *b = DatumGetByteaPP(value);

				bson_append_binary(doc, name, -1, BSON_SUBTYPE_BINARY,
								   (const uint8_t *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
			break;
		case CDC_TS_UUID:
			bson_append_binary(doc, name, -1, BSON_SUBTYPE_UUID,
							   DatumGetUUIDP(value)->data, UUID_LEN);
			break;
		case CDC_TS_OUTPUT:
			{
				char	   *out = OutputFunctionCall((FmgrInfo *) &col->output, value);

				CdcAppendText(doc, name, out, strlen(out));
			}
			break;
	}
}

/*
 * Build the event of a row inserted into a time-series table into event
 * (an initialised, empty document).  Returns false, leaving event empty,
 * when the row as a document would pass BSON_MAX_DOC_SIZE (MongoDB's
 * limit), which the caller reports: the message stays far below the 1 GB
 * a message holds, also as Extended JSON text.
 */
bool
CdcFormatTimeseriesEvent(bson_t *event, const CdcTimeseriesChange *change,
						 const CdcPosition *pos)
{
	bson_t		doc;
	bson_t		child;

	bson_init(&doc);
	for (int i = 0; i < change->ncolumns; i++)
	{
		const CdcTsColumn *col = &change->columns[i];
		int			at = col->attnum - 1;

		if (change->nulls[at])
			bson_append_null(&doc, col->name, -1);
		else
			CdcAppendColumn(&doc, col, change->values[at]);
		if (doc.len > BSON_MAX_DOC_SIZE)
		{
			bson_destroy(&doc);
			return false;
		}
	}

	CdcAppendHead(event, "insert", pos, NULL);
	bson_append_document(event, "fullDocument", -1, &doc);
	bson_destroy(&doc);
	bson_append_document_begin(event, "ns", 2, &child);
	bson_append_utf8(&child, "db", 2, change->db, -1);
	bson_append_utf8(&child, "coll", 4, change->table, -1);
	bson_append_document_end(event, &child);
	return true;
}

/*
 * Append an event to the message being written: its BSON bytes, or its
 * relaxed Extended JSON text in the database encoding (the printer writes
 * UTF-8).
 */
void
CdcWriteEvent(StringInfo out, const bson_t *event, CdcFormat format)
{
	if (format == CDC_FORMAT_BSON)
	{
		appendBinaryStringInfo(out, (const char *) bson_get_data(event),
							   (int) event->len);
		return;
	}
	if (GetDatabaseEncoding() == PG_UTF8)
		BsonPrintJson(out, bson_get_data(event), event->len, false, BSON_JSON_RELAXED);
	else
	{
		StringInfoData utf8;
		char	   *converted;

		initStringInfo(&utf8);
		BsonPrintJson(&utf8, bson_get_data(event), event->len, false, BSON_JSON_RELAXED);
		converted = pg_any_to_server(utf8.data, utf8.len, PG_UTF8);
		appendStringInfoString(out, converted);
	}
}

/*
 * CdcSettleStreamedEvent
 *		Give an event of a streamed transaction (BSON, written by the
 *		plugin with the placeholder position) its transaction's commit: the
 *		commit LSN in the resume token, the commit time as clusterTime's
 *		seconds and as wallTime.  The event is changed in place; returns
 *		false when it is not an event of that shape (a KV event has none of
 *		these fields and is left alone).
 */
bool
CdcSettleStreamedEvent(uint8_t *data, uint32_t len, XLogRecPtr commit_lsn,
					   TimestampTz commit_time)
{
	bson_t		event;
	bson_iter_t it;
	bson_iter_t id;
	char		token[CDC_TOKEN_LEN + 1];
	int64		unix_usecs = commit_time + CDC_EPOCH_OFFSET_USECS;
	bool		settled = false;

	if (!bson_init_static(&event, data, len) || !bson_iter_init(&it, &event))
		return false;
	CdcResumeToken(token, commit_lsn, 0);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "_id") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it) &&
			bson_iter_recurse(&it, &id) && bson_iter_find(&id, "_data") &&
			BSON_ITER_HOLDS_UTF8(&id))
		{
			uint32_t	n;
			char	   *digits = (char *) bson_iter_utf8(&id, &n);

			if (n != CDC_TOKEN_LEN)
				return false;
			memcpy(digits, token, CDC_TOKEN_LSN_DIGITS);
			settled = true;
		}
		else if (strcmp(key, "clusterTime") == 0 && BSON_ITER_HOLDS_TIMESTAMP(&it))
		{
			uint32_t	seconds;
			uint32_t	increment;

			bson_iter_timestamp(&it, &seconds, &increment);
			bson_iter_overwrite_timestamp(&it, (uint32) (unix_usecs / USECS_PER_SEC),
										  increment);
		}
		else if (strcmp(key, "wallTime") == 0 && BSON_ITER_HOLDS_DATE_TIME(&it))
		{
			bson_iter_overwrite_date_time(&it, unix_usecs / 1000);
			break;				/* the last of the head's fields */
		}
	}
	return settled;
}
