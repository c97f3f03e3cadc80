/*-------------------------------------------------------------------------
 *
 * cdc_message.c
 *	  The logical decoding messages the document engine writes for the
 *	  change stream: what an update changed, and the DDL of collections.
 *
 * Design note
 * -----------
 * A row's WAL says that a document was rewritten, not how.  So when wal_level
 * is logical (and only then: nothing costs anything otherwise) the update
 * engine writes, just before it rewrites a row, a transactional logical
 * decoding message with prefix CDC_MESSAGE_UPDATE: the table's OID, the
 * document's _id and what changed (update_describe.c).  Being
 * transactional, the message reaches the output plugin in its place in the
 * transaction, right before the row's change, which it turns into an
 * "update" event with that updateDescription (cdc_output.c); a message
 * whose row change does not follow, or a transaction rolled back, shows
 * nothing.  Commands that drop, rename a collection or drop a database
 * write a message with prefix CDC_MESSAGE_DDL the plugin turns into
 * "drop", "rename" and "dropDatabase" events: DROP TABLE itself leaves
 * nothing a decoder sees.
 *
 * The messages are BSON, with short field names:
 *	update: {o: table OID (int64), _id: <the _id>, u: {updatedFields},
 *			 r: [removedFields] (when any), t: [{field, newSize}] (when any)}
 *	DDL:	{op: "drop" | "rename" | "dropDatabase", db, coll (not for
 *			 dropDatabase), to: {db, coll} (rename)}
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "replication/message.h"

#include "cdc.h"

/* Write a BSON message, transactional */
static void
CdcLogMessage(const char *prefix, const bson_t *message)
{
	CdcWatchNoteWrite();		/* its commit wakes the change stream decoder */
#if PG_VERSION_NUM >= 170000
	LogLogicalMessage(prefix, (const char *) bson_get_data(message), message->len,
					  true, false);
#else
	LogLogicalMessage(prefix, (const char *) bson_get_data(message), message->len,
					  true);
#endif
}

/* Whether the change stream can see messages at all */
bool
CdcMessagesWanted(void)
{
	return XLogLogicalInfoActive();
}

/*
 * Log what an update is about to change in the document of table relid
 * whose _id is id (an iterator on it).  Call only when CdcMessagesWanted().
 */
void
CdcLogUpdate(Oid relid, const bson_iter_t *id, const bson_t *updated,
			 const bson_t *removed, const bson_t *truncated)
{
	bson_t		message;

	bson_init(&message);
	bson_append_int64(&message, "o", 1, (int64) relid);
	bson_append_iter(&message, "_id", 3, id);
	bson_append_document(&message, "u", 1, updated);
	if (!bson_empty(removed))
		bson_append_array(&message, "r", 1, removed);
	if (!bson_empty(truncated))
		bson_append_array(&message, "t", 1, truncated);
	CdcLogMessage(CDC_MESSAGE_UPDATE, &message);
	bson_destroy(&message);
}

/*
 * Log a collection's drop (to_db NULL), rename (to to_db.to_coll) or, with
 * coll NULL, a database's drop.  Does nothing unless CdcMessagesWanted().
 */
void
CdcLogDdl(const char *db, const char *coll, const char *to_db, const char *to_coll)
{
	bson_t		message;
	bson_t		to;

	if (!CdcMessagesWanted())
		return;
	bson_init(&message);
	bson_append_utf8(&message, "op", 2,
					 coll == NULL ? "dropDatabase" : to_db == NULL ? "drop" : "rename", -1);
	bson_append_utf8(&message, "db", 2, db, -1);
	if (coll != NULL)
		bson_append_utf8(&message, "coll", 4, coll, -1);
	if (coll != NULL && to_db != NULL)
	{
		bson_append_document_begin(&message, "to", 2, &to);
		bson_append_utf8(&to, "db", 2, to_db, -1);
		bson_append_utf8(&to, "coll", 4, to_coll, -1);
		bson_append_document_end(&message, &to);
	}
	CdcLogMessage(CDC_MESSAGE_DDL, &message);
	bson_destroy(&message);
}
