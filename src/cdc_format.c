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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "bson.h"
#include "bson_compare.h"
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
 * operation, clusterTime and wallTime.
 */
static void
CdcAppendHead(bson_t *event, const char *op, const CdcPosition *pos)
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
	bson_append_date_time(event, "wallTime", -1, unix_usecs / 1000);
}

/*
 * An update's updateDescription from its update message (cdc_message.c):
 * updatedFields, removedFields and truncatedArrays, the last two empty
 * arrays when the message has none, as MongoDB always gives all three.
 */
static void
CdcAppendDescription(bson_t *event, const bson_t *message)
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

	CdcAppendHead(event, op, pos);

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
		CdcAppendDescription(event, change->description);
		if (change->full_document && change->document != NULL)
			CdcAppendBson(event, "fullDocument", change->document);
	}
	/* the pre-image, last */
	if (change->before != NULL && change->op != CDC_OP_INSERT)
		CdcAppendBson(event, "fullDocumentBeforeChange", change->before);
	return true;
}

/*
 * Build the event of a collection's drop or rename, or of a database's
 * drop, into event (an initialised, empty document).
 */
void
CdcFormatDdlEvent(bson_t *event, const CdcCollectionChange *change,
				  const CdcPosition *pos)
{
	bson_t		child;
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
		default:
			elog(ERROR, "unexpected change kind %d", (int) change->op);
	}
	CdcAppendHead(event, op, pos);
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
	}
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
