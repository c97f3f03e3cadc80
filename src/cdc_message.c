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
 * nothing a decoder sees.  So do the commands behind MongoDB's expanded
 * events (showExpandedEvents): the creation of a collection (explicit, or
 * by a first insert or createIndexes), createIndexes that created indexes,
 * dropIndexes (one message per index dropped, as MongoDB logs one oplog
 * entry each) and collMod ("modify").  Their messages carry the
 * collection's UUID and what the event's operationDescription shows; the
 * plugin emits them only to a reader that asked (cdc_output.c).
 *
 * The key-value store's writes (kv.c, kv_lease.c) write, just before the
 * rows of nosql.kv_history that replace a live version of a key, one
 * message CDC_MESSAGE_KV_PREV per replaced version, with the primary key
 * (mod_revision, sub) of the row to come and the replaced version's
 * fields: the plugin attaches it to that row's event as etcd's prev_kv
 * (option prev_kv).  The decoder cannot read the history itself (it is not
 * a catalog table), so the message carries the value too.  That costs WAL
 * as large as the values replaced, so it is written only when a slot could
 * want it: wal_level logical and a logical slot of this database using
 * plugin "nosql" other than the change stream decoder's (which reads
 * collections only).  The slots are few (max_replication_slots) and the
 * scan takes a shared lock; it is still made once per transaction.  The
 * transaction has its xid before it looks: a slot whose snapshot builder
 * started before that saw the slot's plugin name already (it is set before
 * the builder starts), one that started after waits for this transaction
 * to end and never decodes it.
 *
 * A request that writes many rows in one statement (a range delete, a
 * lease's revoke, a run of the apply loop's puts) writes its messages
 * before that statement: the plugin keeps them, ordered, until their rows
 * come.
 *
 * Time series.  The plugin emits every row inserted into a partition of a
 * time-series table as a point, but the storage also inserts rows that
 * are no new points: blocks moved back into rows (TsDecompressBlocks),
 * rows moved out of the default partition into a new partition, a table's
 * rows put back by create_timeseries.  Those moves are framed by two
 * messages CDC_MESSAGE_TS_MOVE, "on" before and "off" after, naming the
 * partition or the time-series table (then any of its partitions): the
 * plugin emits nothing for the inserts into it between the two.  Both are
 * transactional and written at the same (sub)transaction level with no
 * savepoint between them, so an error between them rolls back the
 * savepoint that holds the "on" too, and the reorder buffer drops the
 * message with the inserts (the plugin does the same for a streamed
 * transaction, see CdcStreamAbort).  They are written under the same
 * condition as kv_prev: a reader of the change stream decoder's own slot
 * does not read time series.
 *
 * The messages are BSON, with short field names:
 *	update: {o: table OID (int64), _id: <the _id>, u: {updatedFields},
 *			 r: [removedFields] (when any), t: [{field, newSize}] (when any),
 *			 p: {path: [components]} (disambiguatedPaths, when any)}
 *	DDL:	{op: "drop" | "rename" | "dropDatabase" | "create" |
 *			 "createIndexes" | "dropIndexes" | "modify", db, coll (not for
 *			 dropDatabase), to: {db, coll} (rename), u: the collection's
 *			 UUID (binary, subtype 4), dt: the UUID of the collection a
 *			 rename replaced, d: {operationDescription}, s:
 *			 {stateBeforeChange} (modify)}; the fields after "to" are absent
 *			 from messages written before they existed
 *	kv_prev: {r: mod_revision (int64), s: sub (int32) of the row to come,
 *			 k: key, v: value (binary), c: create_revision, m: mod_revision,
 *			 n: version, l: lease (int64) of the version it replaces}
 *	ts_move: {o: the partition's or table's OID (int64), m: true for "on",
 *			 false for "off"}
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

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

/* The local transaction the cache below is for, and its answer */
static LocalTransactionId cdc_slot_lxid = InvalidLocalTransactionId;
static bool cdc_slot_wanted = false;

/* This backend's local transaction id */
static LocalTransactionId
CdcLocalXid(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProc->vxid.lxid;
#else
	return MyProc->lxid;
#endif
}

/*
 * Whether a logical slot of this database uses plugin "nosql", the change
 * stream decoder's own slot left out.
 */
static bool
CdcNosqlSlotExists(void)
{
	char		decoder[NAMEDATALEN];
	bool		found = false;

	if (ReplicationSlotCtl == NULL)
		return false;
	snprintf(decoder, NAMEDATALEN, "nosql_cdc_%u", MyDatabaseId);
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots && !found; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		if (!slot->in_use || !SlotIsLogical(slot) ||
			slot->data.database != MyDatabaseId)
			continue;
		SpinLockAcquire(&slot->mutex);
		found = strcmp(NameStr(slot->data.plugin), "nosql") == 0 &&
			strcmp(NameStr(slot->data.name), decoder) != 0;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return found;
}

/*
 * Whether a slot could want the messages only a reader of plugin "nosql"
 * uses: wal_level logical and a slot with plugin "nosql" in this database,
 * looked up once per transaction.  Call it only where the transaction is
 * about to write: it gives it its xid first (see the design note).
 */
bool
CdcSlotWanted(void)
{
	if (!XLogLogicalInfoActive())
		return false;
	if (cdc_slot_lxid != CdcLocalXid())
	{
		(void) GetCurrentTransactionId();
		cdc_slot_wanted = CdcNosqlSlotExists();
		cdc_slot_lxid = CdcLocalXid();
	}
	return cdc_slot_wanted;
}

/*
 * Whether the key-value store's writes should log the versions they
 * replace (CdcLogKvPrev).
 */
bool
CdcKvPrevWanted(void)
{
	return CdcSlotWanted();
}

/*
 * Log the version of a key that the row (revision, sub) of
 * nosql.kv_history, about to be written, replaces.  Call only when
 * CdcKvPrevWanted().
 */
void
CdcLogKvPrev(int64 revision, int32 sub, const text *key, const bytea *value,
			 int64 create_revision, int64 mod_revision, int64 version, int64 lease)
{
	bson_t		message;

	bson_init(&message);
	bson_append_int64(&message, "r", 1, revision);
	bson_append_int32(&message, "s", 1, sub);
	bson_append_binary(&message, "k", 1, BSON_SUBTYPE_BINARY,
					   (const uint8_t *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
	bson_append_binary(&message, "v", 1, BSON_SUBTYPE_BINARY,
					   (const uint8_t *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	bson_append_int64(&message, "c", 1, create_revision);
	bson_append_int64(&message, "m", 1, mod_revision);
	bson_append_int64(&message, "n", 1, version);
	bson_append_int64(&message, "l", 1, lease);
	CdcLogMessage(CDC_MESSAGE_KV_PREV, &message);
	bson_destroy(&message);
}

/*
 * Log what an update is about to change in the document of table relid
 * whose _id is id (an iterator on it).  Call only when CdcMessagesWanted().
 */
void
CdcLogUpdate(Oid relid, const bson_iter_t *id, const bson_t *updated,
			 const bson_t *removed, const bson_t *truncated,
			 const bson_t *disambiguated)
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
	/* rare (numeric field names, dotted names): only when there are some */
	if (disambiguated != NULL && !bson_empty(disambiguated))
		bson_append_document(&message, "p", 1, disambiguated);
	CdcLogMessage(CDC_MESSAGE_UPDATE, &message);
	bson_destroy(&message);
}

/* A hexadecimal digit's value, -1 for another character */
static int
CdcHexValue(char c)
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
 * A UUID's text (as uuid_out writes it, with or without dashes) as its 16
 * bytes; false when it is not one.
 */
bool
CdcUuidBytes(const char *text, uint8_t *bytes)
{
	int			n = 0;

	for (const char *p = text; *p != '\0'; p++)
	{
		int			hi,
					lo;

		if (*p == '-')
			continue;
		if (n >= CDC_UUID_LEN || p[1] == '\0')
			return false;
		hi = CdcHexValue(p[0]);
		lo = CdcHexValue(p[1]);
		if (hi < 0 || lo < 0)
			return false;
		bytes[n++] = (uint8_t) (hi * 16 + lo);
		p++;
	}
	return n == CDC_UUID_LEN;
}

/* Append a collection's UUID (its text; NULL or empty: nothing) as name */
static void
CdcAppendUuid(bson_t *message, const char *name, const char *uuid)
{
	uint8_t		bytes[CDC_UUID_LEN];

	if (uuid != NULL && uuid[0] != '\0' && CdcUuidBytes(uuid, bytes))
		bson_append_binary(message, name, -1, BSON_SUBTYPE_UUID, bytes, CDC_UUID_LEN);
}

/*
 * Log a collection's drop (to_db NULL), rename (to to_db.to_coll) or, with
 * coll NULL, a database's drop.  uuid is the collection's (NULL for a
 * dropDatabase), drop_target that of the collection a rename replaced
 * (NULL: none).  Does nothing unless CdcMessagesWanted().
 */
void
CdcLogDdl(const char *db, const char *coll, const char *to_db, const char *to_coll,
		  const char *uuid, const char *drop_target)
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
	if (coll != NULL)
		CdcAppendUuid(&message, "u", uuid);
	if (coll != NULL && to_db != NULL)
		CdcAppendUuid(&message, "dt", drop_target);
	CdcLogMessage(CDC_MESSAGE_DDL, &message);
	bson_destroy(&message);
}

/*
 * Log one of the DDL operations only the expanded events show: op is
 * "create", "createIndexes", "dropIndexes" or "modify", of collection
 * db.coll whose UUID is uuid (NULL: a view); operation is the event's
 * operationDescription, state_before a modify's stateBeforeChange (NULL:
 * none).  Does nothing unless CdcMessagesWanted().
 */
void
CdcLogCollectionDdl(const char *op, const char *db, const char *coll, const char *uuid,
					const bson_t *operation, const bson_t *state_before)
{
	bson_t		message;

	if (!CdcMessagesWanted())
		return;
	bson_init(&message);
	bson_append_utf8(&message, "op", 2, op, -1);
	bson_append_utf8(&message, "db", 2, db, -1);
	bson_append_utf8(&message, "coll", 4, coll, -1);
	CdcAppendUuid(&message, "u", uuid);
	if (operation != NULL)
		bson_append_document(&message, "d", 1, operation);
	if (state_before != NULL)
		bson_append_document(&message, "s", 1, state_before);
	CdcLogMessage(CDC_MESSAGE_DDL, &message);
	bson_destroy(&message);
}

/*
 * Log the start (moving) or the end of a move of rows into relation relid
 * (a partition of a time-series table, or the table): the inserts between
 * are no new points.  Does nothing unless a slot could read it.
 */
void
CdcLogTsMove(Oid relid, bool moving)
{
	bson_t		message;

	if (!CdcSlotWanted())
		return;
	bson_init(&message);
	bson_append_int64(&message, "o", 1, (int64) relid);
	bson_append_bool(&message, "m", 1, moving);
	CdcLogMessage(CDC_MESSAGE_TS_MOVE, &message);
	bson_destroy(&message);
}

/*
 * nosql.timeseries_move_marker(relation regclass, moving boolean)
 *		The PL/pgSQL side of CdcLogTsMove, for the moves of the time-series
 *		maintenance.  Only the table's owner may say that its inserts are
 *		no points: the maintenance runs as the owner.
 */
PG_FUNCTION_INFO_V1(timeseries_move_marker);
Datum
timeseries_move_marker(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bool		moving = PG_GETARG_BOOL(1);
	char		relkind = get_rel_relkind(relid);

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", get_rel_name(relid))));
#if PG_VERSION_NUM >= 160000
	if (!object_ownercheck(RelationRelationId, relid, GetUserId()))
#else
	if (!pg_class_ownercheck(relid, GetUserId()))
#endif
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	CdcLogTsMove(relid, moving);
	PG_RETURN_VOID();
}

/*
 * nosql.timeseries_partition_changed() RETURNS trigger
 *		Statement trigger on nosql.timeseries_partition: a relcache
 *		invalidation of the catalog table, which logical decoding replays
 *		where the statement ended, so the output plugin reads the catalog
 *		again (a new partition's inserts are points from then on, also later
 *		in the same transaction).
 */
PG_FUNCTION_INFO_V1(timeseries_partition_changed);
Datum
timeseries_partition_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nosql.timeseries_partition_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
