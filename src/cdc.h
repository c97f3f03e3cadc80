/*-------------------------------------------------------------------------
 *
 * cdc.h
 *	  Change streams: the logical decoding output plugin "nosql"
 *	  (cdc_output.c) and the change events it emits (cdc_format.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_CDC_H
#define NOSQL_CDC_H

#include <bson/bson.h>

#include "access/attnum.h"
#include "access/tupdesc.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "bson.h"

/*
 * A resume token's _data: the commit LSN and the change's ordinal in its
 * transaction, fixed-width upper-case hex, so that tokens compare as
 * strings in commit order.
 */
#define CDC_TOKEN_LSN_DIGITS		16
#define CDC_TOKEN_ORDINAL_DIGITS	8
#define CDC_TOKEN_LEN	(CDC_TOKEN_LSN_DIGITS + CDC_TOKEN_ORDINAL_DIGITS)

/* Microseconds from the Unix epoch to PostgreSQL's */
#define CDC_EPOCH_OFFSET_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* Prefixes of the logical decoding messages of cdc_message.c */
#define CDC_MESSAGE_UPDATE	"nosql.update"
#define CDC_MESSAGE_DDL		"nosql.ddl"
#define CDC_MESSAGE_KV_PREV	"nosql.kv_prev"
#define CDC_MESSAGE_TS_MOVE	"nosql.ts_move"

/* What a message is: option "format" */
typedef enum CdcFormat
{
	CDC_FORMAT_JSON,			/* relaxed Extended JSON text */
	CDC_FORMAT_BSON				/* the event's BSON bytes */
} CdcFormat;

/* Where an event sits in the history: its transaction's commit, its place */
typedef struct CdcPosition
{
	XLogRecPtr	commit_lsn;		/* of the commit record */
	TimestampTz commit_time;
	uint32		ordinal;		/* 1, 2, ... within the transaction */
} CdcPosition;

/* A collection change's kind, MongoDB's operationType */
typedef enum CdcOperation
{
	CDC_OP_INSERT,
	CDC_OP_UPDATE,
	CDC_OP_REPLACE,
	CDC_OP_DELETE,
	CDC_OP_DROP,
	CDC_OP_RENAME,
	CDC_OP_DROP_DATABASE,
	/* the expanded events (showExpandedEvents) */
	CDC_OP_CREATE,
	CDC_OP_CREATE_INDEXES,
	CDC_OP_DROP_INDEXES,
	CDC_OP_MODIFY
} CdcOperation;

/* A collection's UUID, as its BSON binary (subtype 4) */
#define CDC_UUID_LEN 16

/*
 * One change of a collection.  id is the bson of the _id column (NULL when
 * not available: then it is taken from document); document is the new
 * document (insert, update, replace only).  An update's description is the
 * update message of cdc_message.c (its u, r and t fields); its document is
 * in the event only when full_document is set.  before is the document
 * before an update, replace or delete, when the old row was logged whole
 * (REPLICA IDENTITY FULL) and the reader asked for it.  DDL events (drop, rename,
 * dropDatabase) have no id or document; coll is NULL for dropDatabase, and
 * to_db and to_coll name a rename's target.  The rest is for a reader that
 * asked for the expanded events (showExpandedEvents): uuid is the
 * collection's UUID (collectionUUID), NULL when unknown or not asked for;
 * drop_target the UUID of the collection a rename replaced; operation the
 * operationDescription of create, createIndexes, dropIndexes and modify;
 * state_before a modify's stateBeforeChange; expanded that the reader
 * asked for them (rename's operationDescription, disambiguatedPaths).
 */
typedef struct CdcCollectionChange
{
	CdcOperation op;
	const char *db;
	const char *coll;
	const Bson *id;
	const Bson *document;
	const Bson *before;
	const bson_t *description;
	bool		full_document;
	const char *to_db;
	const char *to_coll;
	const uint8_t *uuid;
	const uint8_t *drop_target;
	const bson_t *operation;
	const bson_t *state_before;
	bool		expanded;
} CdcCollectionChange;

/*
 * One row of nosql.kv_history: a put, or a delete's tombstone.  value is
 * NULL for a tombstone.
 */
typedef struct CdcKvChange
{
	const text *key;
	int64		mod_revision;
	int64		create_revision;
	int64		version;
	const bytea *value;
	int64		lease;
	bool		deleted;
} CdcKvChange;

/*
 * How the values of a column of a time-series table become BSON in a
 * time-series event (CdcTimeseriesColumns chooses by the column's type, a
 * domain by its base type).
 */
typedef enum CdcTsValueKind
{
	CDC_TS_BOOL,				/* bool */
	CDC_TS_INT2,				/* int32 */
	CDC_TS_INT4,
	CDC_TS_INT8,				/* int64 */
	CDC_TS_FLOAT4,				/* double */
	CDC_TS_FLOAT8,
	CDC_TS_NUMERIC,				/* decimal128 */
	CDC_TS_TEXT,				/* string: text, varchar, bpchar */
	CDC_TS_NAME,				/* string */
	CDC_TS_TIMESTAMP,			/* date: timestamptz, timestamp (as UTC) */
	CDC_TS_DATE,				/* date: midnight UTC */
	CDC_TS_JSONB,				/* the JSON value */
	CDC_TS_BSON,				/* nosql.bson: the value */
	CDC_TS_BYTEA,				/* binary, subtype 0 */
	CDC_TS_UUID,				/* binary, subtype 4 */
	CDC_TS_OUTPUT				/* any other type: its text output as a string */
} CdcTsValueKind;

/* A column of a time-series partition, as its events show it */
typedef struct CdcTsColumn
{
	AttrNumber	attnum;
	CdcTsValueKind kind;
	char	   *name;			/* the field name */
	FmgrInfo	output;			/* CDC_TS_OUTPUT: the type's output function */
} CdcTsColumn;

/*
 * One row inserted into a partition of a time-series table: db is the
 * database, table the parent table as "schema.table"; values and nulls are
 * the deformed row, read through columns.
 */
typedef struct CdcTimeseriesChange
{
	const char *db;
	const char *table;
	int			ncolumns;
	const CdcTsColumn *columns;
	const Datum *values;
	const bool *nulls;
} CdcTimeseriesChange;

/* cdc_message.c: written by the document engine */
extern bool CdcMessagesWanted(void);
extern void CdcLogUpdate(Oid relid, const bson_iter_t *id, const bson_t *updated,
						 const bson_t *removed, const bson_t *truncated,
						 const bson_t *disambiguated);
extern void CdcLogDdl(const char *db, const char *coll, const char *to_db,
					  const char *to_coll, const char *uuid, const char *drop_target);
extern void CdcLogCollectionDdl(const char *op, const char *db, const char *coll,
								const char *uuid, const bson_t *operation,
								const bson_t *state_before);
extern bool CdcUuidBytes(const char *text, uint8_t *bytes);
extern bool CdcKvPrevWanted(void);
extern bool CdcSlotWanted(void);
extern void CdcLogKvPrev(int64 revision, int32 sub, const text *key, const bytea *value,
						 int64 create_revision, int64 mod_revision, int64 version,
						 int64 lease);
extern void CdcLogTsMove(Oid relid, bool moving);

/* cdc_format.c */
extern void CdcResumeToken(char *buf, XLogRecPtr commit_lsn, uint32 ordinal);
extern bool CdcFormatCollectionEvent(bson_t *event, const CdcCollectionChange *change,
									 const CdcPosition *pos);
extern void CdcFormatDdlEvent(bson_t *event, const CdcCollectionChange *change,
							  const CdcPosition *pos);
extern bool CdcChangeHasId(const CdcCollectionChange *change, const bson_iter_t *id);
extern void CdcFormatKvEvent(bson_t *event, const CdcKvChange *change,
							 const CdcKvChange *prev);
extern const char *CdcServerToUtf8(const char *s, int len);
extern CdcTsColumn *CdcTimeseriesColumns(TupleDesc desc, Oid bson_type, int *ncolumns);
extern bool CdcFormatTimeseriesEvent(bson_t *event, const CdcTimeseriesChange *change,
									 const CdcPosition *pos);
extern bool CdcSettleStreamedEvent(uint8_t *data, uint32_t len, XLogRecPtr commit_lsn,
								   TimestampTz commit_time);
extern void CdcWriteEvent(StringInfo out, const bson_t *event, CdcFormat format);

/* cdc_output.c: the library's output plugin entry point */
struct OutputPluginCallbacks;
extern PGDLLEXPORT void _PG_output_plugin_init(struct OutputPluginCallbacks *cb);

/* cdc_watch.c: nosql.watch and the per-database decoder */
extern int	nosql_change_log_retention;
extern void CdcWatchInit(void);
extern void CdcWatchNoteWrite(void);
extern void CdcWatchRound(void);
extern void CdcWatchReleaseDatabase(Oid dboid, bool drop_slot);

/* Databases with a decoder at one time */
#define CDC_DECODERS 8

/* cdc_ring.c: the newest logged events in shared memory */
typedef struct CdcRingPending
{
	MemoryContext cxt;			/* where buf is, outside the transaction */
	StringInfoData buf;			/* records; data NULL until the first */
	int			count;
	int			last;			/* offset of the last record */
	char		missing[CDC_TOKEN_LEN + 1]; /* dropped up to this token */
} CdcRingPending;

typedef struct CdcRingEvent
{
	char		token[CDC_TOKEN_LEN + 1];
	char	   *db;
	char	   *coll;			/* NULL: none (dropDatabase) */
	Bson	   *event;
} CdcRingEvent;

extern int	nosql_change_stream_ring_size;
extern bool nosql_change_stream_ring;
extern int	nosql_change_stream_gather_ms;
extern int	nosql_change_stream_gather_watchers;
extern int	CdcWatchersInDatabase(Oid dboid);
extern void CdcRingInit(void);
extern bool CdcRingEnabled(void);
extern void CdcRingAttach(int slot, Oid dboid, const char *covered, const char *horizon);
extern void CdcRingDetach(int slot);
extern void CdcRingRaiseHorizon(Oid dboid, const char *token);
extern void CdcRingPendingAdd(CdcRingPending *p, const char *token, const char *db,
							  const char *coll, const uint8_t *event, uint32 event_len);
extern void CdcRingPublish(int slot, CdcRingPending *p);
extern bool CdcRingRead(Oid dboid, const char *after, bool inclusive, const char *db,
						const char *coll, int max_events, List **events, char *horizon,
						uint64 *version);
extern uint64 CdcRingVersion(void);

/* cdc_watchers.c: the registry of the streams being read, for monitoring */
typedef enum CdcWatcherKind
{
	CDC_WATCHER_CALL,			/* a nosql.watch call */
	CDC_WATCHER_CURSOR,			/* a $changeStream cursor */
	CDC_WATCHER_STREAM			/* a nosql.watch_stream call */
} CdcWatcherKind;

extern void CdcWatchersInit(void);
extern int	CdcWatcherAdd(CdcWatcherKind kind, const char *db, const char *coll,
						  const char *token);
extern void CdcWatcherNote(int slot, const char *token, int64 events);
extern void CdcWatcherSetCursor(int slot, int64 cursor_id);
extern void CdcWatcherRemove(int slot);

/* cdc_watch.c: $changeStream, a stream behind a tailable cursor */
typedef struct CdcStream CdcStream;
struct ReturnSetInfo;
extern CdcStream *CdcStreamOpen(const char *db, const char *coll, const bson_iter_t *options,
								const bson_t *pipeline);
extern bool CdcStreamNext(CdcStream *stream, int64 limit, int64 max_wait_ms, bson_t *batch,
						  char *pbrt);
extern void CdcStreamToSet(CdcStream *stream, struct ReturnSetInfo *rsinfo);
extern void CdcStreamResumePoint(const CdcStream *stream, char *pbrt);
extern void CdcStreamSetCursor(CdcStream *stream, int64 cursor_id);

#endif							/* NOSQL_CDC_H */
