/*-------------------------------------------------------------------------
 *
 * cdc_output.c
 *	  The logical decoding output plugin "nosql": change events of the
 *	  document collections and of the key-value store, one message per
 *	  change, for pg_logical_slot_get_changes, pg_recvlogical and the
 *	  streaming replication protocol.
 *
 * Design note
 * -----------
 * The plugin lives in the extension's library (nosql.so exports
 * _PG_output_plugin_init), so a slot is created with plugin 'nosql'.  It
 * looks at two kinds of tables and ignores every other:
 *
 * - nosql.kv_history, the key-value store's history (kv.c): every row
 *   inserted is a write, a put or a delete's tombstone, and becomes an etcd
 *   watch event.  Rows deleted from it are compaction, which etcd's watch
 *   does not report, and rows are never updated; neither emits anything.
 *
 * - the tables of the document collections (catalog.c): an insert is an
 *   "insert" event, an update of a row an "update" when the update engine
 *   said what it changed (below), else a "replace" (the engine rewrites the
 *   whole document), a delete a "delete".  Which table is
 *   which collection is in the catalog table nosql.collection, an ordinary
 *   table, which a decoder can read only through a historic snapshot, and
 *   only correctly when PostgreSQL logs the catalog-style details of its
 *   writes: the install script declares it user_catalog_table (without
 *   it, decoding stops with an error rather than miss events).  So an event
 *   names the collection as it was named when the change was made, also
 *   after a rename.  The map from table to collection is cached for the
 *   process (cdc_rel_cache) and forgotten on every relcache invalidation the
 *   decoder replays: changes of the catalog send one (its trigger), and so
 *   does any DDL of the tables.  A truncate emits nothing.
 *
 * - the partitions of the time-series tables (ts_store.c, sql/nosql.sql):
 *   an inserted row is a new point, an "insert" event named after its
 *   table (not the partition) whose fullDocument is the row (cdc_format.c).
 *   Only inserts: an update or delete of a point emits nothing.  Which
 *   table is which partition of which table is in the catalog table
 *   nosql.timeseries_partition, also a user catalog table for this; a
 *   partition made later is a row inserted there, whose statement trigger
 *   sends a relcache invalidation, so the cache sees it from the next
 *   change on, also later in the same transaction.  A partition's names
 *   and columns are looked up at its first change, not when the cache is
 *   loaded: a table may have thousands of partitions.  The storage also
 *   inserts rows that are no points (blocks moved back into rows, rows
 *   moved out of the default partition, a table converted): it frames
 *   those inserts with "nosql.ts_move" messages (below), and the plugin
 *   emits nothing for inserts into the relation they name between "on"
 *   and "off".
 *
 * Logical decoding messages (cdc_message.c).  The update engine writes,
 * just before it rewrites a row, a transactional message "nosql.update"
 * with the table, the _id and the updateDescription; the collection
 * commands write "nosql.ddl" for a drop, a rename, a dropDatabase, and
 * for the DDL only MongoDB's expanded events show (create, createIndexes,
 * dropIndexes, modify), which the plugin emits only with option
 * show_expanded_events (as it adds collectionUUID, from the catalog row,
 * and disambiguatedPaths only then: without it the events are as they
 * were before the option existed).  Both
 * arrive in their place among the transaction's changes.  An update
 * message is kept (its bytes, in a per-transaction context) until the next
 * change of its table: when that is the update of the row with that _id,
 * it becomes an "update" event; in any case the message is then
 * forgotten, and at the end of the transaction, so an unmatched one shows
 * nothing.  A DDL message is an event at once.  Messages are counted as
 * changes of the transaction for the ordinal, like every change.
 *
 * prev_kv.  The key-value store's writes log, before a row that replaces
 * a live version of a key, a message "nosql.kv_prev" with the primary key
 * (mod_revision, sub) of that row and the version it replaces, whole (the
 * decoder cannot read the history).  A request that writes many rows in
 * one statement logs all its messages first, so the plugin keeps them in
 * a list, in the order they come, which is the order of their rows: a
 * row of nosql.kv_history takes the message with its own primary key (and
 * key), and the messages before it, whose rows went by, are dropped; so
 * is the list at the end of the transaction.  A message is kept only with
 * option prev_kv; it is a change for the ordinal in any case.
 *
 * Time-series moves.  A "nosql.ts_move" message "on" names a partition or
 * a time-series table (then every partition of it) whose inserts are moves
 * of rows already emitted, until the matching "off"; the plugin keeps the
 * open ones in a list, with their LSNs, until the end of the transaction.
 * The two are written with no savepoint between them, so a rolled back
 * subtransaction takes its "on" away with its inserts: the reorder buffer
 * drops both.  A streamed transaction has handed out the "on" already when
 * the subtransaction aborts, so CdcStreamAbort drops the open moves whose
 * "on" lies in the aborted subtransaction (between its first LSN and its
 * abort), as the reader drops its events: later inserts of the
 * transaction are points again.
 *
 * A delete needs the old row's _id, which logical decoding has only from
 * the table's replica identity.  The collection tables' primary key is on
 * _id, which REPLICA IDENTITY DEFAULT uses: the WAL of a delete carries
 * the old _id and nothing more, and an update no old row at all (unless
 * the _id changes, which MongoDB forbids).  That is the cheap choice, and
 * the default.  A collection with changeStreamPreAndPostImages enabled
 * has REPLICA IDENTITY FULL instead (catalog.c): every update and delete
 * logs the whole old row, whose document becomes fullDocumentBeforeChange
 * when the reader asks for it (option full_document_before_change).  The
 * plugin does not look at the collection's options: the old row being
 * there is the fact, which follows the ALTER TABLE in WAL order.
 * PostgreSQL inlines the TOASTed values of a FULL old row
 * (ExtractReplicaIdentity), so the old document is whole; a TOAST pointer
 * there all the same is left out, never read as a document.
 *
 * TOAST.  Inserted documents and values are whole: the decoder reassembles
 * their TOAST chunks.  An update keeps the TOAST pointer of a column it
 * does not change, and the decoder then has only the pointer (the old
 * value lives in a table it may not read).  The update engine always
 * writes the document column, so a document arrives whole; an update by
 * SQL that leaves it alone (UPDATE ... SET _id = _id) changed no document,
 * as MongoDB's no-op updates, and emits no event rather than a null.  An
 * _id column left TOASTed by an update is read from the document instead.
 *
 * Positions.  The begin and commit callbacks write nothing: events carry
 * their transaction's commit LSN and time, which the decoder knows before
 * it hands out a committed transaction's changes, and each change's
 * ordinal in its transaction; cdc_format.c makes the resume token of them.
 * A reader that asks for it (stream_changes) gets the changes of a large
 * transaction while it runs, framed by control messages, with the
 * position filled in at its commit (see "Streaming" below).
 *
 * Memory: each change is formatted in a context reset after it.  Progress
 * is reported to the walsender every CDC_PROGRESS_EVERY changes that emit
 * nothing, and at commit, so a reader of a stream of ignored changes is
 * not timed out.  A message is at most a 16 MB document and its key as
 * BSON, or their Extended JSON text: far below the 1 GB a message holds.
 *
 * The plugin decodes with the rights of the slot's reader (replication or
 * superuser): it does not yet filter collections or time-series tables by
 * SELECT privilege.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "replication/reorderbuffer.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "bson.h"
#include "cdc.h"

/* Changes that emit nothing between two progress reports */
#define CDC_PROGRESS_EVERY 100

/* A change's new or old tuple (PostgreSQL 17 dropped the tuple buffer) */
#if PG_VERSION_NUM >= 170000
#define CDC_TUPLE(t) (t)
#else
#define CDC_TUPLE(t) ((t) != NULL ? &(t)->tuple : NULL)
#endif

/* The state of one decoding session */
typedef struct CdcData
{
	MemoryContext context;		/* per change, reset after each */
	CdcFormat	format;
	bool		include_kv;
	bool		include_collections;
	List	   *collections;	/* "db.coll" names to include; NIL: all */
	bool		include_timeseries;
	List	   *timeseries;		/* "schema.table" names to include; NIL: all */
	char	   *kv_prefix;		/* NULL: every key */
	int			kv_prefix_len;
	bool		full_document;	/* updates carry the new document */
	bool		before_change;	/* events carry the old document when logged */
	bool		expanded;		/* option show_expanded_events */
	CdcPosition pos;			/* of the current change */
	MemoryContext txn_context;	/* per transaction: the pending message */
	char	   *pending;		/* an update message waiting for its row */
	Size		pending_len;
	Oid			pending_relid;	/* the table of its row */
	uint64		emitted;		/* events of the current transaction */
	int			quiet;			/* changes without event since last report */
	bool		stream;			/* option stream_changes */
	HTAB	   *streams;		/* CdcStreamState of the streamed transactions */
	bool		prev_kv;		/* option prev_kv */
	MemoryContext kv_context;	/* the kv_prev messages waiting, and the list */
	List	   *kv_pending;		/* CdcKvPending, in the order of their rows */
	int			kv_head;		/* the first of them not yet taken */
	MemoryContext ts_context;	/* the open time-series moves, and the list */
	List	   *ts_moves;		/* CdcTsMove, in the order of their "on" */
} CdcData;

/* An open move of rows into a time-series partition or table: no points */
typedef struct CdcTsMove
{
	Oid			relid;			/* the partition, or the table */
	XLogRecPtr	lsn;			/* of the "on" message */
} CdcTsMove;

/* A kv_prev message waiting for its row of nosql.kv_history */
typedef struct CdcKvPending
{
	int64		revision;		/* the row's primary key */
	int32		sub;
	char	   *message;		/* the message's BSON */
	Size		len;
} CdcKvPending;

/*
 * What a streamed transaction carries from one of its stream blocks to the
 * next: the ordinal of its last change, and an update message still
 * waiting for its row.
 */
typedef struct CdcStreamState
{
	TransactionId xid;			/* hash key: the top-level transaction */
	uint32		ordinal;
	char	   *pending;		/* in the decoding context, or NULL */
	Size		pending_len;
	Oid			pending_relid;
	MemoryContext kv_context;	/* the kv_prev messages waiting, or NULL */
	List	   *kv_pending;
	int			kv_head;
	CdcTsMove  *ts_moves;		/* the open moves, in the decoding context */
	int			n_ts_moves;
} CdcStreamState;

/* What a table is to the plugin */
typedef enum CdcRelKind
{
	CDC_REL_OTHER,
	CDC_REL_KV,
	CDC_REL_COLLECTION,
	CDC_REL_TIMESERIES
} CdcRelKind;

/* The columns of nosql.kv_history the events use */
typedef enum CdcKvColumn
{
	CDC_KV_KEY,
	CDC_KV_MOD_REVISION,
	CDC_KV_CREATE_REVISION,
	CDC_KV_VERSION,
	CDC_KV_VALUE,
	CDC_KV_LEASE,
	CDC_KV_DELETED,
	CDC_KV_SUB,
	CDC_KV_NCOLUMNS
} CdcKvColumn;

static const char *const cdc_kv_columns[CDC_KV_NCOLUMNS] = {
	"key", "mod_revision", "create_revision", "version", "value", "lease", "deleted",
	"sub"
};

/* The columns of a collection's table */
typedef enum CdcCollColumn
{
	CDC_COLL_ID,
	CDC_COLL_DOCUMENT,
	CDC_COLL_NCOLUMNS
} CdcCollColumn;

static const char *const cdc_coll_columns[CDC_COLL_NCOLUMNS] = {"_id", "document"};

/* An entry of the relation cache: what a table is, and for what it counts */
typedef struct CdcRelEntry
{
	Oid			relid;			/* hash key */
	CdcRelKind	kind;
	bool		included;		/* by this session's options */
	char	   *db;				/* collections: database and name */
	char	   *coll;			/* time series: the table, "schema.table" */
	bool		has_uuid;		/* collections: uuid below is the collection's */
	uint8_t		uuid[CDC_UUID_LEN];
	bool		have_columns;	/* columns below (time series: and names) looked up */
	AttrNumber	columns[CDC_KV_NCOLUMNS];	/* attribute numbers by name */
	Oid			parent;			/* time series: the table of the partition */
	int			ncolumns;		/* time series: the columns of its events */
	CdcTsColumn *ts_columns;
} CdcRelEntry;

/*
 * The relation cache: for the process, valid until a relcache invalidation
 * (which only marks it stale: the callback may run in the middle of a
 * lookup) or the start of a session (whose options decide "included").
 */
static MemoryContext cdc_cache_context = NULL;
static HTAB *cdc_rel_cache = NULL;
static bool cdc_cache_valid = false;
static bool cdc_callback_registered = false;
static Oid	cdc_bson_type = InvalidOid; /* nosql.bson, as the cache was loaded */
static char *cdc_database = NULL;	/* this database's name, in UTF-8 */

static void CdcStartup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
					   bool is_init);
static void CdcShutdown(LogicalDecodingContext *ctx);
static void CdcBegin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void CdcCommit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  XLogRecPtr commit_lsn);
static void CdcChange(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  Relation relation, ReorderBufferChange *change);
static void CdcTruncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						int nrelations, Relation relations[],
						ReorderBufferChange *change);
static void CdcMessage(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   XLogRecPtr message_lsn, bool transactional,
					   const char *prefix, Size message_size,
					   const char *message);
static void CdcStreamStart(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void CdcStreamStop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void CdcStreamAbort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						   XLogRecPtr abort_lsn);
static void CdcStreamCommit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							XLogRecPtr commit_lsn);
static void CdcStreamChange(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							Relation relation, ReorderBufferChange *change);
static void CdcStreamMessage(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							 XLogRecPtr message_lsn, bool transactional,
							 const char *prefix, Size message_size,
							 const char *message);
static void CdcStreamTruncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							  int nrelations, Relation relations[],
							  ReorderBufferChange *change);

/*
 * The library's output plugin entry point, looked up by name when a slot
 * uses plugin 'nosql'.
 */
void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = CdcStartup;
	cb->begin_cb = CdcBegin;
	cb->change_cb = CdcChange;
	cb->truncate_cb = CdcTruncate;
	cb->message_cb = CdcMessage;
	cb->commit_cb = CdcCommit;
	cb->shutdown_cb = CdcShutdown;
	/* PostgreSQL streams only when the session asks (stream_changes) */
	cb->stream_start_cb = CdcStreamStart;
	cb->stream_stop_cb = CdcStreamStop;
	cb->stream_abort_cb = CdcStreamAbort;
	cb->stream_commit_cb = CdcStreamCommit;
	cb->stream_change_cb = CdcStreamChange;
	cb->stream_message_cb = CdcStreamMessage;
	cb->stream_truncate_cb = CdcStreamTruncate;
}

/* ---------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------
 */

/* The value of an option that needs one */
static char *
CdcOptionString(DefElem *elem)
{
	if (elem->arg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" of output plugin \"nosql\" needs a value",
						elem->defname)));
	return strVal(elem->arg);
}

/* A boolean option; given without a value it is true */
static bool
CdcOptionBool(DefElem *elem)
{
	bool		result;

	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for option \"%s\" of output plugin \"nosql\"",
						strVal(elem->arg), elem->defname),
				 errdetail("The option takes a boolean.")));
	return result;
}

/*
 * An option with two values: false for the first, true for the second;
 * anything else is an error with the hint given.
 */
static bool
CdcOptionChoice(DefElem *elem, const char *first, const char *second, const char *hint)
{
	char	   *value = CdcOptionString(elem);

	if (strcmp(value, first) == 0)
		return false;
	if (strcmp(value, second) == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value \"%s\" for option \"%s\" of output plugin \"nosql\"",
					value, elem->defname),
			 errhint("%s", hint)));
	return false;				/* keep the compiler quiet */
}

/*
 * Option "collections" or "timeseries": a comma-separated list of names
 * with a dot, db.coll or schema.table (spaces around a name are ignored).
 * what names an entry in the error, detail says how one is written.
 */
static List *
CdcOptionNames(DefElem *elem, const char *what, const char *detail)
{
	char	   *value = pstrdup(CdcOptionString(elem));
	List	   *result = NIL;
	char	   *start = value;

	for (;;)
	{
		char	   *end = strchr(start, ',');
		char	   *last;
		char	   *dot;

		if (end != NULL)
			*end = '\0';
		while (*start == ' ')
			start++;
		last = start + strlen(start);
		while (last > start && last[-1] == ' ')
			*--last = '\0';
		dot = strchr(start, '.');
		if (dot == NULL || dot == start || dot[1] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid %s name \"%s\" in option \"%s\" of output plugin \"nosql\"",
							what, start, elem->defname),
					 errdetail("%s", detail)));
		result = lappend(result, pstrdup(start));
		if (end == NULL)
			break;
		start = end + 1;
	}
	return result;
}

/*
 * Start a decoding session: read the options and say what the output is.
 */
static void
CdcStartup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	CdcData    *data = palloc0(sizeof(CdcData));
	ListCell   *lc;

	data->context = AllocSetContextCreate(ctx->context,
										  "nosql change event context",
										  ALLOCSET_DEFAULT_SIZES);
	data->format = CDC_FORMAT_JSON;
	data->include_kv = true;
	data->include_collections = true;
	data->include_timeseries = true;
	data->txn_context = AllocSetContextCreate(ctx->context,
											  "nosql change stream transaction context",
											  ALLOCSET_SMALL_SIZES);
	data->kv_context = AllocSetContextCreate(ctx->context,
											 "nosql change stream prev_kv context",
											 ALLOCSET_DEFAULT_SIZES);
	data->ts_context = AllocSetContextCreate(ctx->context,
											 "nosql change stream time-series moves",
											 ALLOCSET_SMALL_SIZES);

	foreach(lc, ctx->output_plugin_options)
	{
		DefElem    *elem = lfirst(lc);

		Assert(elem->arg == NULL || IsA(elem->arg, String));
		if (strcmp(elem->defname, "format") == 0)
			data->format = CdcOptionChoice(elem, "json", "bson",
										   "The formats are \"json\" (relaxed Extended JSON text) and \"bson\" (binary).") ?
				CDC_FORMAT_BSON : CDC_FORMAT_JSON;
		else if (strcmp(elem->defname, "collections") == 0)
			data->collections =
				CdcOptionNames(elem, "collection",
							   "Each entry is a database name and a collection name joined by a dot, as db.coll.");
		else if (strcmp(elem->defname, "timeseries") == 0)
			data->timeseries =
				CdcOptionNames(elem, "table",
							   "Each entry is a schema name and the name of a time-series table joined by a dot, as public.metrics.");
		else if (strcmp(elem->defname, "kv_prefix") == 0)
		{
			data->kv_prefix = pstrdup(CdcOptionString(elem));
			data->kv_prefix_len = strlen(data->kv_prefix);
		}
		else if (strcmp(elem->defname, "include_kv") == 0)
			data->include_kv = CdcOptionBool(elem);
		else if (strcmp(elem->defname, "include_collections") == 0)
			data->include_collections = CdcOptionBool(elem);
		else if (strcmp(elem->defname, "include_timeseries") == 0)
			data->include_timeseries = CdcOptionBool(elem);
		else if (strcmp(elem->defname, "full_document") == 0)
			data->full_document =
				CdcOptionChoice(elem, "default", "post_image",
								"The values are \"default\" (an update event has no fullDocument) and \"post_image\" (it has the document after the update).");
		else if (strcmp(elem->defname, "full_document_before_change") == 0)
			data->before_change =
				CdcOptionChoice(elem, "off", "on",
								"The values are \"off\" (no event has fullDocumentBeforeChange) and \"on\" (update, replace and delete events of collections with pre-images enabled have it).");
		else if (strcmp(elem->defname, "stream_changes") == 0)
			data->stream = CdcOptionBool(elem);
		else if (strcmp(elem->defname, "prev_kv") == 0)
			data->prev_kv = CdcOptionBool(elem);
		else if (strcmp(elem->defname, "show_expanded_events") == 0)
			data->expanded = CdcOptionBool(elem);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized option \"%s\" of output plugin \"nosql\"",
							elem->defname),
					 errhint("The options are format, collections, timeseries, kv_prefix, include_kv, include_collections, include_timeseries, full_document, full_document_before_change, stream_changes, prev_kv and show_expanded_events.")));
	}
	/* in-progress transactions stream only to a reader that asks */
	ctx->streaming &= data->stream;
	if (ctx->streaming)
	{
		HASHCTL		hctl;

		hctl.keysize = sizeof(TransactionId);
		hctl.entrysize = sizeof(CdcStreamState);
		hctl.hcxt = ctx->context;
		data->streams = hash_create("nosql streamed transactions", 16, &hctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	ctx->output_plugin_private = data;
	opt->output_type = data->format == CDC_FORMAT_BSON ?
		OUTPUT_PLUGIN_BINARY_OUTPUT : OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	opt->receive_rewrites = false;

	/* "included" in the cache follows the options: look again */
	cdc_cache_valid = false;
}

/* End of a session: its memory goes with the decoding context */
static void
CdcShutdown(LogicalDecodingContext *ctx)
{
	cdc_cache_valid = false;
}

/* ---------------------------------------------------------------------
 * Which tables count
 * ---------------------------------------------------------------------
 */

/* Relcache invalidation: the map from tables to collections may be stale */
static void
CdcRelCacheInvalidate(Datum arg, Oid relid)
{
	cdc_cache_valid = false;
}

/*
 * Whether the session's options take in collection db.coll; with coll
 * NULL, any collection of database db.
 */
static bool
CdcCollectionIncluded(CdcData *data, const char *db, const char *coll)
{
	ListCell   *lc;
	size_t		dblen = strlen(db);

	if (!data->include_collections)
		return false;
	if (data->collections == NIL)
		return true;
	foreach(lc, data->collections)
	{
		const char *name = lfirst(lc);

		if (strncmp(name, db, dblen) == 0 && name[dblen] == '.' &&
			(coll == NULL || strcmp(name + dblen + 1, coll) == 0))
			return true;
	}
	return false;
}

/* Whether the session's options take in time-series table "schema.table" */
static bool
CdcTimeseriesIncluded(CdcData *data, const char *table)
{
	ListCell   *lc;

	if (!data->include_timeseries)
		return false;
	if (data->timeseries == NIL)
		return true;
	foreach(lc, data->timeseries)
	{
		if (strcmp(lfirst(lc), table) == 0)
			return true;
	}
	return false;
}

/* An attribute's number by name, or InvalidAttrNumber */
static AttrNumber
CdcAttnum(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/*
 * Refuse a catalog table the plugin would read wrongly: without
 * user_catalog_table its rows are not logged for a historic snapshot, and
 * events would go missing.
 */
static void
CdcCheckCatalogTable(Relation catalog, const char *what)
{
	const char *name = RelationGetRelationName(catalog);

	if (!RelationIsUsedAsCatalogTable(catalog))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table nosql.%s is not a user catalog table", name),
				 errdetail("The output plugin reads the %s while decoding, which needs user_catalog_table.",
						   what),
				 errhint("Run ALTER TABLE nosql.%s SET (user_catalog_table = true), then create the replication slot again.",
						 name)));
}

/*
 * The partitions of the time-series tables, from catalog table relid
 * (nosql.timeseries_partition): each one's table.  Their names and columns
 * wait for their first change (CdcRelLookup).
 */
static void
CdcRelCacheLoadTimeseries(Oid relid, Oid nsp)
{
	Relation	catalog = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(catalog);
	AttrNumber	att_rel = CdcAttnum(desc, "relid");
	AttrNumber	att_part = CdcAttnum(desc, "partition");
	SysScanDesc scan;
	HeapTuple	tup;

	if (att_rel == InvalidAttrNumber || att_part == InvalidAttrNumber)
		elog(ERROR, "nosql.timeseries_partition lacks a column the change stream needs");
	CdcCheckCatalogTable(catalog, "catalog of the time-series partitions");

	cdc_bson_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									CStringGetDatum("bson"), ObjectIdGetDatum(nsp));
	if (cdc_database == NULL)
	{
		char	   *name = get_database_name(MyDatabaseId);

		if (name == NULL)
			elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
		cdc_database = MemoryContextStrdup(TopMemoryContext,
										   CdcServerToUtf8(name, strlen(name)));
	}

	scan = systable_beginscan(catalog, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull_rel;
		bool		isnull_part;
		Datum		rel = heap_getattr(tup, att_rel, desc, &isnull_rel);
		Datum		part = heap_getattr(tup, att_part, desc, &isnull_part);
		Oid			partition;
		CdcRelEntry *entry;

		if (isnull_rel || isnull_part)
			continue;
		partition = DatumGetObjectId(part);
		entry = hash_search(cdc_rel_cache, &partition, HASH_ENTER, NULL);
		entry->kind = CDC_REL_TIMESERIES;
		entry->parent = DatumGetObjectId(rel);
		entry->included = true; /* until its names are known */
		entry->db = entry->coll = NULL;
		entry->have_columns = false;
		entry->ncolumns = 0;
		entry->ts_columns = NULL;
	}
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
}

/*
 * Build the relation cache from the catalog as the historic snapshot of
 * the change being decoded sees it.
 */
static void
CdcRelCacheLoad(CdcData *data)
{
	HASHCTL		hctl;
	Oid			nsp;
	Oid			relid;
	MemoryContext old;

	if (cdc_cache_context == NULL)
		cdc_cache_context = AllocSetContextCreate(TopMemoryContext,
												  "nosql change stream relation cache",
												  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cdc_cache_context);
	if (!cdc_callback_registered)
	{
		CacheRegisterRelcacheCallback(CdcRelCacheInvalidate, (Datum) 0);
		cdc_callback_registered = true;
	}

	hctl.keysize = sizeof(Oid);
	hctl.entrysize = sizeof(CdcRelEntry);
	hctl.hcxt = cdc_cache_context;
	cdc_rel_cache = hash_create("nosql change stream relations", 64, &hctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	/* an invalidation while loading makes the next change load again */
	cdc_cache_valid = true;

	nsp = get_namespace_oid("nosql", true);
	if (!OidIsValid(nsp))
		return;					/* no extension in this database */

	relid = get_relname_relid("kv_history", nsp);
	if (OidIsValid(relid))
	{
		CdcRelEntry *entry = hash_search(cdc_rel_cache, &relid, HASH_ENTER, NULL);

		entry->kind = CDC_REL_KV;
		entry->included = data->include_kv;
		entry->db = entry->coll = NULL;
		entry->have_columns = false;
	}

	relid = get_relname_relid("collection", nsp);
	if (OidIsValid(relid))
	{
		Relation	catalog = table_open(relid, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(catalog);
		AttrNumber	att_db = CdcAttnum(desc, "database");
		AttrNumber	att_name = CdcAttnum(desc, "name");
		AttrNumber	att_rel = CdcAttnum(desc, "relation");
		AttrNumber	att_uuid = CdcAttnum(desc, "uuid");
		SysScanDesc scan;
		HeapTuple	tup;

		if (att_db == InvalidAttrNumber || att_name == InvalidAttrNumber ||
			att_rel == InvalidAttrNumber)
			elog(ERROR, "nosql.collection lacks a column the change stream needs");
		CdcCheckCatalogTable(catalog, "collection catalog");

		/* the catalog snapshot is the historic one while decoding */
		scan = systable_beginscan(catalog, InvalidOid, false, NULL, 0, NULL);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		rel = heap_getattr(tup, att_rel, desc, &isnull);
			Oid			table;
			CdcRelEntry *entry;

			if (isnull)
				continue;		/* a view */
			table = DatumGetObjectId(rel);
			entry = hash_search(cdc_rel_cache, &table, HASH_ENTER, NULL);
			old = MemoryContextSwitchTo(cdc_cache_context);
			entry->kind = CDC_REL_COLLECTION;
			entry->db = TextDatumGetCString(heap_getattr(tup, att_db, desc, &isnull));
			entry->coll = TextDatumGetCString(heap_getattr(tup, att_name, desc, &isnull));
			MemoryContextSwitchTo(old);
			entry->included = CdcCollectionIncluded(data, entry->db, entry->coll);
			entry->have_columns = false;
			/* collectionUUID of the expanded events */
			entry->has_uuid = false;
			if (att_uuid != InvalidAttrNumber)
			{
				Datum		u = heap_getattr(tup, att_uuid, desc, &isnull);

				if (!isnull)
				{
					memcpy(entry->uuid, DatumGetUUIDP(u)->data, CDC_UUID_LEN);
					entry->has_uuid = true;
				}
			}
		}
		systable_endscan(scan);
		table_close(catalog, AccessShareLock);
	}

	/* a reader without time series needs neither the catalog nor its flag */
	relid = data->include_timeseries ?
		get_relname_relid("timeseries_partition", nsp) : InvalidOid;
	if (OidIsValid(relid))
		CdcRelCacheLoadTimeseries(relid, nsp);
}

/*
 * A time-series partition's table, by name, whether the session takes it
 * in, and the columns of its events, looked up at its first change.
 */
static void
CdcRelResolveTimeseries(CdcData *data, CdcRelEntry *entry, Relation relation)
{
	char	   *table;
	char	   *schema;
	char	   *name;
	MemoryContext old;

	/* the lookups' memory goes with the change */
	old = MemoryContextSwitchTo(data->context);
	table = get_rel_name(entry->parent);
	schema = table != NULL ? get_namespace_name(get_rel_namespace(entry->parent)) : NULL;
	MemoryContextSwitchTo(old);
	if (schema == NULL)
	{
		/* a catalog row left by a table dropped in the meantime */
		entry->included = false;
		return;
	}
	old = MemoryContextSwitchTo(cdc_cache_context);
	name = psprintf("%s.%s", schema, table);
	entry->included = CdcTimeseriesIncluded(data, name);
	if (!entry->included)
	{
		pfree(name);
		MemoryContextSwitchTo(old);
		return;
	}
	entry->coll = (char *) CdcServerToUtf8(name, strlen(name));
	entry->ts_columns = CdcTimeseriesColumns(RelationGetDescr(relation), cdc_bson_type,
											 &entry->ncolumns);
	MemoryContextSwitchTo(old);
}

/*
 * What a table is to this session, with the attribute numbers of the
 * columns its events read; NULL for a table that emits nothing.
 */
static CdcRelEntry *
CdcRelLookup(CdcData *data, Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	CdcRelEntry *entry;

	if (!cdc_cache_valid)
		CdcRelCacheLoad(data);
	entry = hash_search(cdc_rel_cache, &relid, HASH_FIND, NULL);
	if (entry == NULL || !entry->included)
		return NULL;
	if (!entry->have_columns && entry->kind == CDC_REL_TIMESERIES)
	{
		CdcRelResolveTimeseries(data, entry, relation);
		entry->have_columns = true;
		if (!entry->included)
			return NULL;
	}
	if (!entry->have_columns)
	{
		TupleDesc	desc = RelationGetDescr(relation);
		const char *const *names;
		int			n;

		if (entry->kind == CDC_REL_KV)
			names = cdc_kv_columns, n = CDC_KV_NCOLUMNS;
		else
			names = cdc_coll_columns, n = CDC_COLL_NCOLUMNS;
		for (int i = 0; i < n; i++)
		{
			entry->columns[i] = CdcAttnum(desc, names[i]);
			if (entry->columns[i] == InvalidAttrNumber)
				elog(ERROR, "table \"%s\" has no column \"%s\"",
					 RelationGetRelationName(relation), names[i]);
		}
		entry->have_columns = true;
	}
	return entry;
}

/* ---------------------------------------------------------------------
 * prev_kv: the kv_prev messages waiting for their rows
 * ---------------------------------------------------------------------
 */

/* Forget the messages waiting */
static void
CdcKvForget(CdcData *data)
{
	data->kv_pending = NIL;
	data->kv_head = 0;
	MemoryContextReset(data->kv_context);
}

/* Whether primary key (r1, s1) of nosql.kv_history sorts before (r2, s2) */
static inline bool
CdcKvBefore(int64 r1, int32 s1, int64 r2, int32 s2)
{
	return r1 < r2 || (r1 == r2 && s1 < s2);
}

/*
 * Keep a kv_prev message for its row.  Messages come in the order of their
 * rows; a waiting one at or after the new one's row is a leftover (of a
 * subtransaction rolled back, in a streamed transaction) and goes.
 */
static void
CdcKvKeep(CdcData *data, const bson_t *doc, const char *message, Size message_size)
{
	bson_iter_t it;
	int64		revision;
	int32		sub;
	CdcKvPending *p;
	MemoryContext old;

	if (!bson_iter_init_find(&it, doc, "r") || !BSON_ITER_HOLDS_INT64(&it))
		return;
	revision = bson_iter_int64(&it);
	if (!bson_iter_init_find(&it, doc, "s") || !BSON_ITER_HOLDS_INT32(&it))
		return;
	sub = bson_iter_int32(&it);
	while (list_length(data->kv_pending) > data->kv_head)
	{
		CdcKvPending *last = llast(data->kv_pending);

		if (CdcKvBefore(last->revision, last->sub, revision, sub))
			break;
		data->kv_pending = list_truncate(data->kv_pending,
										 list_length(data->kv_pending) - 1);
	}
	if (list_length(data->kv_pending) == data->kv_head)
		CdcKvForget(data);
	old = MemoryContextSwitchTo(data->kv_context);
	p = palloc(sizeof(CdcKvPending));
	p->revision = revision;
	p->sub = sub;
	p->message = palloc(message_size);
	memcpy(p->message, message, message_size);
	p->len = message_size;
	data->kv_pending = lappend(data->kv_pending, p);
	MemoryContextSwitchTo(old);
}

/* A binary field of a kv_prev message as a varlena (text or bytea) */
static bool
CdcKvBytes(bson_iter_t *it, struct varlena **result)
{
	const uint8_t *bytes;
	uint32_t	len;
	bson_subtype_t subtype;

	if (!BSON_ITER_HOLDS_BINARY(it))
		return false;
	bson_iter_binary(it, &subtype, &len, &bytes);
	*result = palloc(VARHDRSZ + len);
	SET_VARSIZE(*result, VARHDRSZ + len);
	memcpy(VARDATA(*result), bytes, len);
	return true;
}

/*
 * The version the row (revision, sub) of key replaces, from its kv_prev
 * message, into prev (in the current context); false when none came.  The
 * messages of the rows before it are dropped.
 */
static bool
CdcKvTakePrev(CdcData *data, int64 revision, int32 sub, const text *key,
			  CdcKvChange *prev)
{
	CdcKvPending *p = NULL;
	bson_t		doc;
	bson_iter_t it;
	struct varlena *bytes;
	int			found = 0;

	while (data->kv_head < list_length(data->kv_pending))
	{
		p = list_nth(data->kv_pending, data->kv_head);
		if (!CdcKvBefore(p->revision, p->sub, revision, sub))
			break;
		data->kv_head++;
	}
	if (data->kv_head == list_length(data->kv_pending))
	{
		if (data->kv_pending != NIL)
			CdcKvForget(data);
		return false;
	}
	if (p->revision != revision || p->sub != sub)
		return false;			/* its message is for a later row */
	data->kv_head++;

	memset(prev, 0, sizeof(CdcKvChange));
	if (!bson_init_static(&doc, (const uint8_t *) p->message, p->len) ||
		!bson_iter_init(&it, &doc))
		return false;
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (strcmp(name, "k") == 0 && CdcKvBytes(&it, &bytes))
			prev->key = (text *) bytes, found |= 1;
		else if (strcmp(name, "v") == 0 && CdcKvBytes(&it, &bytes))
			prev->value = (bytea *) bytes, found |= 2;
		else if (!BSON_ITER_HOLDS_INT64(&it))
			continue;
		else if (strcmp(name, "c") == 0)
			prev->create_revision = bson_iter_int64(&it), found |= 4;
		else if (strcmp(name, "m") == 0)
			prev->mod_revision = bson_iter_int64(&it), found |= 8;
		else if (strcmp(name, "n") == 0)
			prev->version = bson_iter_int64(&it), found |= 16;
		else if (strcmp(name, "l") == 0)
			prev->lease = bson_iter_int64(&it), found |= 32;
	}
	/* the message is for this row: its key is the row's */
	return found == 63 &&
		VARSIZE_ANY_EXHDR(prev->key) == VARSIZE_ANY_EXHDR(key) &&
		memcmp(VARDATA_ANY(prev->key), VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) == 0;
}

/* ---------------------------------------------------------------------
 * Time series: the moves of rows that are no new points
 * ---------------------------------------------------------------------
 */

/* Forget the open moves */
static void
CdcTsForget(CdcData *data)
{
	data->ts_moves = NIL;
	MemoryContextReset(data->ts_context);
}

/*
 * A ts_move message at lsn: "on" opens a move into its relation, "off"
 * closes the last one open (an "off" without an "on", of a move whose
 * start went with a rolled back subtransaction, is nothing).
 */
static void
CdcTsMoveMessage(CdcData *data, const bson_t *doc, XLogRecPtr lsn)
{
	bson_iter_t it;
	Oid			relid;

	if (!bson_iter_init_find(&it, doc, "o") || !BSON_ITER_HOLDS_INT64(&it))
		return;
	relid = (Oid) bson_iter_int64(&it);
	if (!bson_iter_init_find(&it, doc, "m") || !BSON_ITER_HOLDS_BOOL(&it))
		return;
	if (bson_iter_bool(&it))
	{
		MemoryContext old = MemoryContextSwitchTo(data->ts_context);
		CdcTsMove  *move = palloc(sizeof(CdcTsMove));

		move->relid = relid;
		move->lsn = lsn;
		data->ts_moves = lappend(data->ts_moves, move);
		MemoryContextSwitchTo(old);
		return;
	}
	for (int i = list_length(data->ts_moves) - 1; i >= 0; i--)
	{
		CdcTsMove  *move = list_nth(data->ts_moves, i);

		if (move->relid == relid)
		{
			data->ts_moves = list_delete_nth_cell(data->ts_moves, i);
			pfree(move);
			break;
		}
	}
	if (data->ts_moves == NIL)
		CdcTsForget(data);
}

/* Whether inserts into a time-series partition are moves now */
static bool
CdcTsMoving(CdcData *data, const CdcRelEntry *entry)
{
	ListCell   *lc;

	foreach(lc, data->ts_moves)
	{
		CdcTsMove  *move = lfirst(lc);

		if (move->relid == entry->relid || move->relid == entry->parent)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * Callbacks
 * ---------------------------------------------------------------------
 */

/* A transaction begins: its changes are numbered from 1 */
static void
CdcBegin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	CdcData    *data = ctx->output_plugin_private;

	data->pos.ordinal = 0;
	data->emitted = 0;
	data->pending = NULL;
	MemoryContextReset(data->txn_context);
	CdcKvForget(data);
	CdcTsForget(data);
}

/*
 * A transaction ends.  Nothing is written; progress is reported, saying
 * whether the transaction was skipped (no event): the walsender then sends
 * a keepalive for its position, which a synchronous commit may wait for.
 */
static void
CdcCommit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	CdcData    *data = ctx->output_plugin_private;

	OutputPluginUpdateProgress(ctx, data->emitted == 0);
	data->quiet = 0;
	/* an update message whose row never came shows nothing */
	data->pending = NULL;
	MemoryContextReset(data->txn_context);
	CdcKvForget(data);
	/* a move is open only until the end of its transaction */
	CdcTsForget(data);
}

/* Write one event as one message */
static void
CdcEmit(LogicalDecodingContext *ctx, CdcData *data, const bson_t *event)
{
	OutputPluginPrepareWrite(ctx, true);
	CdcWriteEvent(ctx->out, event, data->format);
	OutputPluginWrite(ctx, true);
	data->emitted++;
}

/*
 * A change's tuple, deformed into values and nulls (the per-change
 * context's); TOAST pointers are left as they are, to be detoasted only
 * when an event needs the value.
 */
static void
CdcDeform(HeapTuple tuple, TupleDesc desc, Datum **values, bool **nulls)
{
	*values = palloc(desc->natts * sizeof(Datum));
	*nulls = palloc(desc->natts * sizeof(bool));
	heap_deform_tuple(tuple, desc, *values, *nulls);
}

/*
 * A change of nosql.kv_history: an inserted row is an event.  Returns
 * whether one was written.
 */
static bool
CdcKvChangeEvent(LogicalDecodingContext *ctx, CdcData *data, CdcRelEntry *entry,
				 Relation relation, ReorderBufferChange *change)
{
	HeapTuple	tuple;
	Datum	   *values;
	bool	   *nulls;
	CdcKvChange kv;
	CdcKvChange prev;
	bool		have_prev = false;
	bson_t		event;

#define KV_NULL(col) nulls[entry->columns[col] - 1]
#define KV_VALUE(col) values[entry->columns[col] - 1]

	if (change->action != REORDER_BUFFER_CHANGE_INSERT)
		return false;			/* compaction deletes; nothing updates */
	tuple = CDC_TUPLE(change->data.tp.newtuple);
	if (tuple == NULL)
		return false;
	CdcDeform(tuple, RelationGetDescr(relation), &values, &nulls);
	if (KV_NULL(CDC_KV_KEY) || KV_NULL(CDC_KV_MOD_REVISION) ||
		KV_NULL(CDC_KV_CREATE_REVISION) || KV_NULL(CDC_KV_VERSION) ||
		KV_NULL(CDC_KV_LEASE) || KV_NULL(CDC_KV_DELETED) || KV_NULL(CDC_KV_SUB))
		elog(ERROR, "unexpected null in a row of nosql.kv_history");

	kv.key = DatumGetTextPP(KV_VALUE(CDC_KV_KEY));
	kv.mod_revision = DatumGetInt64(KV_VALUE(CDC_KV_MOD_REVISION));
	/* the message of the version this row replaces, taken even if filtered */
	if (data->kv_pending != NIL)
		have_prev = CdcKvTakePrev(data, kv.mod_revision,
								  DatumGetInt32(KV_VALUE(CDC_KV_SUB)), kv.key, &prev);
	if (data->kv_prefix != NULL &&
		(VARSIZE_ANY_EXHDR(kv.key) < (Size) data->kv_prefix_len ||
		 memcmp(VARDATA_ANY(kv.key), data->kv_prefix, data->kv_prefix_len) != 0))
		return false;
	kv.create_revision = DatumGetInt64(KV_VALUE(CDC_KV_CREATE_REVISION));
	kv.version = DatumGetInt64(KV_VALUE(CDC_KV_VERSION));
	kv.lease = DatumGetInt64(KV_VALUE(CDC_KV_LEASE));
	/* the table's CHECK: a tombstone, and only a tombstone, has no value */
	kv.deleted = DatumGetBool(KV_VALUE(CDC_KV_DELETED)) || KV_NULL(CDC_KV_VALUE);
	kv.value = kv.deleted ? NULL : DatumGetByteaPP(KV_VALUE(CDC_KV_VALUE));
#undef KV_NULL
#undef KV_VALUE

	bson_init(&event);
	CdcFormatKvEvent(&event, &kv, have_prev ? &prev : NULL);
	CdcEmit(ctx, data, &event);
	bson_destroy(&event);
	return true;
}

/*
 * A bson column of a deformed tuple, detoasted; NULL when it is SQL NULL
 * or a TOAST pointer the decoder could not resolve (a value an update left
 * unchanged).
 */
static const Bson *
CdcBsonColumn(Datum *values, bool *nulls, AttrNumber attnum)
{
	if (nulls[attnum - 1] ||
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[attnum - 1])))
		return NULL;
	return DatumGetBsonP(values[attnum - 1]);
}

/*
 * A change of a collection's table.  Returns whether an event was written.
 */
static bool
CdcCollectionChangeEvent(LogicalDecodingContext *ctx, CdcData *data,
						 CdcRelEntry *entry, Relation relation,
						 ReorderBufferChange *change)
{
	bson_t		message;
	const bson_t *description = NULL;
	bson_iter_t message_id;
	TupleDesc	desc = RelationGetDescr(relation);
	AttrNumber	id_att = entry->columns[CDC_COLL_ID];
	CdcCollectionChange cc;
	HeapTuple	tuple;
	Datum	   *values;
	bool	   *nulls;
	bson_t		event;

	/* the update message written just before this row's change, if any */
	if (data->pending != NULL && data->pending_relid == RelationGetRelid(relation) &&
		bson_init_static(&message, (const uint8_t *) data->pending, data->pending_len) &&
		bson_iter_init_find(&message_id, &message, "_id"))
		description = &message;

	memset(&cc, 0, sizeof(cc));
	cc.db = entry->db;
	cc.coll = entry->coll;
	cc.expanded = data->expanded;
	if (data->expanded && entry->has_uuid)
		cc.uuid = entry->uuid;
	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
		case REORDER_BUFFER_CHANGE_UPDATE:
			cc.op = change->action == REORDER_BUFFER_CHANGE_INSERT ?
				CDC_OP_INSERT : CDC_OP_REPLACE;
			tuple = CDC_TUPLE(change->data.tp.newtuple);
			if (tuple == NULL)
				return false;
			CdcDeform(tuple, desc, &values, &nulls);
			cc.document = CdcBsonColumn(values, nulls, entry->columns[CDC_COLL_DOCUMENT]);
			if (cc.document == NULL)
				return false;	/* the document did not change */
			cc.id = CdcBsonColumn(values, nulls, id_att);
			/* the old row, logged whole for a table with REPLICA IDENTITY FULL */
			if (cc.op == CDC_OP_REPLACE && data->before_change &&
				(tuple = CDC_TUPLE(change->data.tp.oldtuple)) != NULL)
			{
				Datum	   *old_values;
				bool	   *old_nulls;

				CdcDeform(tuple, desc, &old_values, &old_nulls);
				cc.before = CdcBsonColumn(old_values, old_nulls,
										  entry->columns[CDC_COLL_DOCUMENT]);
			}
			if (cc.op == CDC_OP_REPLACE && description != NULL &&
				CdcChangeHasId(&cc, &message_id))
			{
				cc.op = CDC_OP_UPDATE;
				cc.description = description;
				cc.full_document = data->full_document;
			}
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			cc.op = CDC_OP_DELETE;
			/* the old key, as the replica identity logs it */
			tuple = CDC_TUPLE(change->data.tp.oldtuple);
			if (tuple != NULL)
			{
				CdcDeform(tuple, desc, &values, &nulls);
				cc.id = CdcBsonColumn(values, nulls, id_att);
				/* null unless the replica identity is FULL */
				if (data->before_change)
					cc.before = CdcBsonColumn(values, nulls,
											  entry->columns[CDC_COLL_DOCUMENT]);
			}
			break;
		default:
			return false;
	}

	bson_init(&event);
	if (!CdcFormatCollectionEvent(&event, &cc, &data->pos))
	{
		/* only when someone set the table's replica identity to NOTHING */
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("change of collection \"%s.%s\" has no _id: no event",
						cc.db, cc.coll),
				 errhint("Give table \"%s\" REPLICA IDENTITY DEFAULT.",
						 RelationGetRelationName(relation))));
		bson_destroy(&event);
		return false;
	}
	CdcEmit(ctx, data, &event);
	bson_destroy(&event);
	return true;
}

/*
 * A change of a partition of a time-series table: an inserted row is a
 * point, unless the storage is moving rows into it.  Returns whether an
 * event was written.
 */
static bool
CdcTimeseriesChangeEvent(LogicalDecodingContext *ctx, CdcData *data,
						 CdcRelEntry *entry, Relation relation,
						 ReorderBufferChange *change)
{
	HeapTuple	tuple;
	Datum	   *values;
	bool	   *nulls;
	CdcTimeseriesChange tc;
	bson_t		event;

	/* points are inserted: updates and deletes emit nothing */
	if (change->action != REORDER_BUFFER_CHANGE_INSERT)
		return false;
	if (data->ts_moves != NIL && CdcTsMoving(data, entry))
		return false;
	tuple = CDC_TUPLE(change->data.tp.newtuple);
	if (tuple == NULL)
		return false;
	CdcDeform(tuple, RelationGetDescr(relation), &values, &nulls);

	tc.db = cdc_database;
	tc.table = entry->coll;
	tc.ncolumns = entry->ncolumns;
	tc.columns = entry->ts_columns;
	tc.values = values;
	tc.nulls = nulls;
	bson_init(&event);
	if (!CdcFormatTimeseriesEvent(&event, &tc, &data->pos))
	{
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("row inserted into time-series table \"%s\" is larger than a BSON document may be: no event",
						entry->coll),
				 errdetail("A document holds at most %d bytes.", BSON_MAX_DOC_SIZE)));
		bson_destroy(&event);
		return false;
	}
	CdcEmit(ctx, data, &event);
	bson_destroy(&event);
	return true;
}

/* A change that wrote no event: report progress now and then */
static void
CdcQuiet(LogicalDecodingContext *ctx, CdcData *data, bool wrote)
{
	if (wrote)
		data->quiet = 0;
	else if (++data->quiet >= CDC_PROGRESS_EVERY)
	{
		OutputPluginUpdateProgress(ctx, false);
		data->quiet = 0;
	}
}

/*
 * One change, numbered, then an event when the table counts; the caller
 * has set the transaction's position.
 */
static void
CdcChangeEvent(LogicalDecodingContext *ctx, CdcData *data, Relation relation,
			   ReorderBufferChange *change)
{
	CdcRelEntry *entry;
	bool		wrote = false;

	data->pos.ordinal++;
	entry = CdcRelLookup(data, relation);
	if (entry != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(data->context);

		if (entry->kind == CDC_REL_KV)
			wrote = CdcKvChangeEvent(ctx, data, entry, relation, change);
		else if (entry->kind == CDC_REL_TIMESERIES)
			wrote = CdcTimeseriesChangeEvent(ctx, data, entry, relation, change);
		else
			wrote = CdcCollectionChangeEvent(ctx, data, entry, relation, change);
		MemoryContextSwitchTo(old);
		MemoryContextReset(data->context);
	}
	/* an update message describes the next change of its table, no other */
	if (data->pending != NULL && data->pending_relid == RelationGetRelid(relation))
		data->pending = NULL;
	CdcQuiet(ctx, data, wrote);
}

/* Where the changes of a committed transaction are */
static void
CdcCommittedPosition(CdcData *data, ReorderBufferTXN *txn)
{
	data->pos.commit_lsn = txn->final_lsn;
	data->pos.commit_time = txn->xact_time.commit_time;
}

/* One change of a committed transaction */
static void
CdcChange(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
		  ReorderBufferChange *change)
{
	CdcData    *data = ctx->output_plugin_private;

	/* known for a committed transaction before its changes are decoded */
	CdcCommittedPosition(data, txn);
	CdcChangeEvent(ctx, data, relation, change);
}

/*
 * TRUNCATE: counted as one change of its transaction, no event yet (the
 * drop-like event of a truncated collection is a later step).
 */
static void
CdcTruncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
			Relation relations[], ReorderBufferChange *change)
{
	CdcData    *data = ctx->output_plugin_private;

	data->pos.ordinal++;
	CdcQuiet(ctx, data, false);
}

/* The 16 bytes of a UUID field of a DDL message, or NULL */
static const uint8_t *
CdcMessageUuid(const bson_iter_t *it)
{
	bson_subtype_t subtype;
	uint32_t	len;
	const uint8_t *bytes;

	if (!BSON_ITER_HOLDS_BINARY(it))
		return NULL;
	bson_iter_binary(it, &subtype, &len, &bytes);
	return subtype == BSON_SUBTYPE_UUID && len == CDC_UUID_LEN ? bytes : NULL;
}

/*
 * A DDL message of the document engine (cdc_message.c): the drop or
 * rename of a collection, the drop of a database, and, with option
 * show_expanded_events, the creation of a collection, createIndexes,
 * dropIndexes and collMod, as its event.  Returns whether one was written.
 */
static bool
CdcDdlEvent(LogicalDecodingContext *ctx, CdcData *data, const bson_t *message)
{
	CdcCollectionChange cc;
	bson_iter_t it;
	bson_iter_t to;
	const char *op = NULL;
	bson_t		event;
	bson_t		operation;
	bson_t		state_before;
	bool		included;

	memset(&cc, 0, sizeof(cc));
	if (!bson_iter_init(&it, message))
		return false;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_UTF8(&it) && strcmp(key, "op") == 0)
			op = bson_iter_utf8(&it, NULL);
		else if (BSON_ITER_HOLDS_UTF8(&it) && strcmp(key, "db") == 0)
			cc.db = bson_iter_utf8(&it, NULL);
		else if (BSON_ITER_HOLDS_UTF8(&it) && strcmp(key, "coll") == 0)
			cc.coll = bson_iter_utf8(&it, NULL);
		else if (BSON_ITER_HOLDS_DOCUMENT(&it) && strcmp(key, "to") == 0 &&
				 bson_iter_recurse(&it, &to))
		{
			while (bson_iter_next(&to))
			{
				if (!BSON_ITER_HOLDS_UTF8(&to))
					continue;
				if (strcmp(bson_iter_key(&to), "db") == 0)
					cc.to_db = bson_iter_utf8(&to, NULL);
				else if (strcmp(bson_iter_key(&to), "coll") == 0)
					cc.to_coll = bson_iter_utf8(&to, NULL);
			}
		}
		else if (!data->expanded)
			continue;			/* the rest is for the expanded events */
		else if (strcmp(key, "u") == 0)
			cc.uuid = CdcMessageUuid(&it);
		else if (strcmp(key, "dt") == 0)
			cc.drop_target = CdcMessageUuid(&it);
		else if ((strcmp(key, "d") == 0 || strcmp(key, "s") == 0) &&
				 BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *doc;
			uint32_t	len;
			bson_t	   *target = key[0] == 'd' ? &operation : &state_before;

			bson_iter_document(&it, &len, &doc);
			if (bson_init_static(target, doc, len))
			{
				if (key[0] == 'd')
					cc.operation = target;
				else
					cc.state_before = target;
			}
		}
	}
	if (op == NULL || cc.db == NULL)
		return false;
	cc.expanded = data->expanded;
	if (strcmp(op, "drop") == 0 && cc.coll != NULL)
		cc.op = CDC_OP_DROP;
	else if (strcmp(op, "rename") == 0 && cc.coll != NULL &&
			 cc.to_db != NULL && cc.to_coll != NULL)
		cc.op = CDC_OP_RENAME;
	else if (strcmp(op, "dropDatabase") == 0)
	{
		cc.op = CDC_OP_DROP_DATABASE;
		cc.coll = NULL;
		cc.uuid = NULL;
	}
	else if (!data->expanded || cc.coll == NULL)
		return false;			/* only the expanded events are left */
	else if (strcmp(op, "create") == 0)
		cc.op = CDC_OP_CREATE;
	else if (strcmp(op, "createIndexes") == 0)
		cc.op = CDC_OP_CREATE_INDEXES;
	else if (strcmp(op, "dropIndexes") == 0)
		cc.op = CDC_OP_DROP_INDEXES;
	else if (strcmp(op, "modify") == 0)
		cc.op = CDC_OP_MODIFY;
	else
		return false;
	/* an operationDescription of its own only where MongoDB has one */
	if (cc.op == CDC_OP_DROP || cc.op == CDC_OP_RENAME || cc.op == CDC_OP_DROP_DATABASE)
	{
		cc.operation = NULL;
		cc.state_before = NULL;
	}
	if (cc.op != CDC_OP_MODIFY)
		cc.state_before = NULL;
	if (cc.op == CDC_OP_RENAME)
		included = CdcCollectionIncluded(data, cc.db, cc.coll) ||
			CdcCollectionIncluded(data, cc.to_db, cc.to_coll);
	else
		included = CdcCollectionIncluded(data, cc.db, cc.coll);
	if (!included)
		return false;

	bson_init(&event);
	CdcFormatDdlEvent(&event, &cc, &data->pos);
	CdcEmit(ctx, data, &event);
	bson_destroy(&event);
	return true;
}

/* Keep a copy of an update message in cxt, with the table of its row */
static void
CdcPendingCopy(MemoryContext cxt, char **dst, Size *dst_len, Oid *dst_relid,
			   const char *src, Size len, Oid relid)
{
	*dst = MemoryContextAlloc(cxt, len);
	memcpy(*dst, src, len);
	*dst_len = len;
	*dst_relid = relid;
}

/*
 * A logical decoding message at message_lsn.  Only transactional messages
 * of the document engine, the key-value store and the time-series storage
 * count (cdc_message.c), each as a change of its transaction: an update
 * message is kept until the change of its row, which it turns into an
 * "update" event; a DDL message is an event at once; a kv_prev message is
 * kept, with option prev_kv, until its row of nosql.kv_history; a ts_move
 * message opens or closes a move of rows into a time-series partition.
 * Other messages, and messages that are not valid BSON, are ignored.  The
 * caller has set the transaction's position.
 */
static void
CdcMessageEvent(LogicalDecodingContext *ctx, CdcData *data, XLogRecPtr message_lsn,
				const char *prefix, Size message_size, const char *message)
{
	bool		wrote = false;
	bool		is_update;
	bson_t		doc;

	data->pos.ordinal++;
	if (strcmp(prefix, CDC_MESSAGE_TS_MOVE) == 0)
	{
		/* inserts that are no points follow, or end */
		if (data->include_timeseries &&
			bson_init_static(&doc, (const uint8_t *) message, message_size) &&
			bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
			CdcTsMoveMessage(data, &doc, message_lsn);
		CdcQuiet(ctx, data, false);
		return;
	}
	if (strcmp(prefix, CDC_MESSAGE_KV_PREV) == 0)
	{
		/* kept for the row of nosql.kv_history that follows */
		if (data->prev_kv && data->include_kv &&
			bson_init_static(&doc, (const uint8_t *) message, message_size) &&
			bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
			CdcKvKeep(data, &doc, message, message_size);
		CdcQuiet(ctx, data, false);
		return;
	}
	is_update = strcmp(prefix, CDC_MESSAGE_UPDATE) == 0;
	if ((is_update || strcmp(prefix, CDC_MESSAGE_DDL) == 0) &&
		data->include_collections &&
		bson_init_static(&doc, (const uint8_t *) message, message_size) &&
		bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
	{
		if (is_update)
		{
			bson_iter_t it;

			/* kept for the change of the row that follows */
			data->pending = NULL;
			if (bson_iter_init_find(&it, &doc, "o") && BSON_ITER_HOLDS_INT64(&it))
			{
				MemoryContextReset(data->txn_context);
				CdcPendingCopy(data->txn_context, &data->pending, &data->pending_len,
							   &data->pending_relid, message, message_size,
							   (Oid) bson_iter_int64(&it));
			}
		}
		else
		{
			MemoryContext old = MemoryContextSwitchTo(data->context);

			wrote = CdcDdlEvent(ctx, data, &doc);
			MemoryContextSwitchTo(old);
			MemoryContextReset(data->context);
		}
	}
	CdcQuiet(ctx, data, wrote);
}

/* A logical decoding message of a committed transaction, or not in one */
static void
CdcMessage(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr message_lsn,
		   bool transactional, const char *prefix, Size message_size,
		   const char *message)
{
	CdcData    *data = ctx->output_plugin_private;

	if (!transactional || txn == NULL)
		return;
	CdcCommittedPosition(data, txn);
	CdcMessageEvent(ctx, data, message_lsn, prefix, message_size, message);
}

/* ---------------------------------------------------------------------
 * Streaming of in-progress transactions (option stream_changes)
 *
 * When a transaction's changes outgrow logical_decoding_work_mem,
 * PostgreSQL hands them out before it commits, in blocks, instead of
 * spilling them to disk; the reader keeps them until the transaction's
 * commit or drops them at its abort.  Their events are those of a
 * committed transaction but for the position, which is not known yet: the
 * resume token's commit LSN is zeros (its ordinal is right) and
 * clusterTime and wallTime are the Unix epoch, with the ordinal as
 * clusterTime's increment.  Control messages, documents whose first field
 * is "stream", frame them:
 *
 *	{stream: "start", xid}		a block of the transaction's changes follows
 *	{stream: "stop", xid}		the block ends
 *	{stream: "abort", xid, subxid, firstLsn, abortLsn}	(LSNs as pg_lsn text)
 *								the transaction (subxid = xid) or one of its
 *								subtransactions aborted: drop its events
 *								(those of a subtransaction are the streamed
 *								events of the transaction whose LSN, the
 *								message's, lies in [firstLsn, abortLsn),
 *								abortLsn being the end of the abort record)
 *	{stream: "commit", xid, commitLsn, _data, clusterTime, wallTime}
 *								the transaction committed: its events take
 *								_data's 16 digits as the token's commit LSN,
 *								clusterTime's seconds and wallTime
 *
 * A transaction may be streamed in one decoding and not in another, so its
 * ordinals can differ between the two (those of an aborted subtransaction's
 * changes are skipped when it is streamed); the order is the same.
 * ---------------------------------------------------------------------
 */

/* A control message: {stream: kind, xid: xid, ...more} */
static void
CdcStreamControl(LogicalDecodingContext *ctx, CdcData *data, const char *kind,
				 TransactionId xid, const bson_t *more)
{
	bson_t		msg;

	bson_init(&msg);
	bson_append_utf8(&msg, "stream", 6, kind, -1);
	BSON_APPEND_INT64(&msg, "xid", (int64) xid);
	if (more != NULL)
		bson_concat(&msg, more);
	OutputPluginPrepareWrite(ctx, true);
	CdcWriteEvent(ctx->out, &msg, data->format);
	OutputPluginWrite(ctx, true);
	bson_destroy(&msg);
}

/* An LSN as PostgreSQL writes it (pg_lsn's text), e.g. "0/16B3748" */
static void
CdcAppendLsn(bson_t *doc, const char *name, XLogRecPtr lsn)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%X/%X", LSN_FORMAT_ARGS(lsn));
	bson_append_utf8(doc, name, -1, buf, -1);
}

/* A streamed transaction's state, made on its first block */
static CdcStreamState *
CdcStreamLookup(CdcData *data, TransactionId xid, bool create)
{
	CdcStreamState *state;
	bool		found;

	state = hash_search(data->streams, &xid, create ? HASH_ENTER : HASH_FIND, &found);
	if (create && !found)
	{
		state->ordinal = 0;
		state->pending = NULL;
		state->kv_context = NULL;
		state->kv_pending = NIL;
		state->kv_head = 0;
		state->ts_moves = NULL;
		state->n_ts_moves = 0;
	}
	return state;
}

/* Forget a streamed transaction */
static void
CdcStreamForget(CdcData *data, TransactionId xid)
{
	CdcStreamState *state = CdcStreamLookup(data, xid, false);

	if (state == NULL)
		return;
	if (state->pending != NULL)
		pfree(state->pending);
	if (state->kv_context != NULL)
		MemoryContextDelete(state->kv_context);
	if (state->ts_moves != NULL)
		pfree(state->ts_moves);
	hash_search(data->streams, &xid, HASH_REMOVE, NULL);
}

/* A block of an in-progress transaction's changes begins */
static void
CdcStreamStart(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	CdcData    *data = ctx->output_plugin_private;
	CdcStreamState *state = CdcStreamLookup(data, txn->xid, true);

	data->pos.commit_lsn = InvalidXLogRecPtr;
	data->pos.commit_time = -CDC_EPOCH_OFFSET_USECS;
	data->pos.ordinal = state->ordinal;
	data->emitted = 0;
	MemoryContextReset(data->txn_context);
	data->pending = NULL;
	if (state->pending != NULL)
	{
		CdcPendingCopy(data->txn_context, &data->pending, &data->pending_len,
					   &data->pending_relid, state->pending, state->pending_len,
					   state->pending_relid);
	}
	/* the kv_prev messages still waiting, with their context */
	CdcKvForget(data);
	if (state->kv_context != NULL)
	{
		MemoryContextDelete(data->kv_context);
		data->kv_context = state->kv_context;
		data->kv_pending = state->kv_pending;
		data->kv_head = state->kv_head;
		state->kv_context = NULL;
		state->kv_pending = NIL;
	}
	/* the moves still open */
	CdcTsForget(data);
	if (state->n_ts_moves > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(data->ts_context);

		for (int i = 0; i < state->n_ts_moves; i++)
		{
			CdcTsMove  *move = palloc(sizeof(CdcTsMove));

			*move = state->ts_moves[i];
			data->ts_moves = lappend(data->ts_moves, move);
		}
		MemoryContextSwitchTo(old);
	}
	CdcStreamControl(ctx, data, "start", txn->xid, NULL);
}

/* The block ends: keep what the next one needs */
static void
CdcStreamStop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	CdcData    *data = ctx->output_plugin_private;
	CdcStreamState *state = CdcStreamLookup(data, txn->xid, true);

	state->ordinal = data->pos.ordinal;
	if (state->pending != NULL)
		pfree(state->pending);
	state->pending = NULL;
	if (data->pending != NULL)
	{
		CdcPendingCopy(ctx->context, &state->pending, &state->pending_len,
					   &state->pending_relid, data->pending, data->pending_len,
					   data->pending_relid);
	}
	data->pending = NULL;
	MemoryContextReset(data->txn_context);
	/* kv_prev messages waiting go to the state with their context */
	if (data->kv_head < list_length(data->kv_pending))
	{
		if (state->kv_context != NULL)
			MemoryContextDelete(state->kv_context);
		state->kv_context = data->kv_context;
		state->kv_pending = data->kv_pending;
		state->kv_head = data->kv_head;
		data->kv_context = AllocSetContextCreate(ctx->context,
												 "nosql change stream prev_kv context",
												 ALLOCSET_DEFAULT_SIZES);
		data->kv_pending = NIL;
		data->kv_head = 0;
	}
	else
		CdcKvForget(data);
	/* the moves still open, for the next block */
	if (state->ts_moves != NULL)
		pfree(state->ts_moves);
	state->ts_moves = NULL;
	state->n_ts_moves = list_length(data->ts_moves);
	if (state->n_ts_moves > 0)
	{
		ListCell   *lc;
		int			i = 0;

		state->ts_moves = MemoryContextAlloc(ctx->context,
											 sizeof(CdcTsMove) * state->n_ts_moves);
		foreach(lc, data->ts_moves)
			state->ts_moves[i++] = *(CdcTsMove *) lfirst(lc);
	}
	CdcTsForget(data);
	CdcStreamControl(ctx, data, "stop", txn->xid, NULL);
}

/* A streamed transaction, or one of its subtransactions, aborted */
static void
CdcStreamAbort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr abort_lsn)
{
	CdcData    *data = ctx->output_plugin_private;
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;
	bson_t		more;

	if (top == txn)
		CdcStreamForget(data, txn->xid);
	else
	{
		CdcStreamState *state = CdcStreamLookup(data, top->xid, false);

		/*
		 * The moves this subtransaction opened went with it: its changes lie
		 * between its first record and its abort, where its parent wrote
		 * nothing.
		 */
		if (state != NULL)
		{
			int			kept = 0;

			for (int i = 0; i < state->n_ts_moves; i++)
			{
				XLogRecPtr	lsn = state->ts_moves[i].lsn;

				if (lsn < txn->first_lsn || lsn >= abort_lsn)
					state->ts_moves[kept++] = state->ts_moves[i];
			}
			state->n_ts_moves = kept;
		}
	}
	bson_init(&more);
	BSON_APPEND_INT64(&more, "subxid", (int64) txn->xid);
	CdcAppendLsn(&more, "firstLsn", txn->first_lsn);
	CdcAppendLsn(&more, "abortLsn", abort_lsn);
	CdcStreamControl(ctx, data, "abort", top->xid, &more);
	bson_destroy(&more);
}

/* A streamed transaction committed: its position */
static void
CdcStreamCommit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	CdcData    *data = ctx->output_plugin_private;
	char		token[CDC_TOKEN_LEN + 1];
	int64		unix_usecs = txn->xact_time.commit_time + CDC_EPOCH_OFFSET_USECS;
	bson_t		more;

	CdcStreamForget(data, txn->xid);
	CdcResumeToken(token, txn->final_lsn, 0);
	bson_init(&more);
	CdcAppendLsn(&more, "commitLsn", txn->final_lsn);
	bson_append_utf8(&more, "_data", 5, token, CDC_TOKEN_LSN_DIGITS);
	bson_append_timestamp(&more, "clusterTime", -1,
						  (uint32) (unix_usecs / USECS_PER_SEC), 0);
	bson_append_date_time(&more, "wallTime", -1, unix_usecs / 1000);
	CdcStreamControl(ctx, data, "commit", txn->xid, &more);
	bson_destroy(&more);
	OutputPluginUpdateProgress(ctx, false);
	data->quiet = 0;
}

/* A change of a streamed transaction, with the placeholder position */
static void
CdcStreamChange(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
				ReorderBufferChange *change)
{
	CdcChangeEvent(ctx, ctx->output_plugin_private, relation, change);
}

/* A message of a streamed transaction */
static void
CdcStreamMessage(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr message_lsn,
				 bool transactional, const char *prefix, Size message_size,
				 const char *message)
{
	if (!transactional || txn == NULL)
		return;
	CdcMessageEvent(ctx, ctx->output_plugin_private, message_lsn, prefix, message_size,
					message);
}

/* A truncate of a streamed transaction: a change, no event */
static void
CdcStreamTruncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
				  Relation relations[], ReorderBufferChange *change)
{
	CdcTruncate(ctx, txn, nrelations, relations, change);
}
