/*-------------------------------------------------------------------------
 *
 * ts_compress.c
 *	  Compressed partitions of time-series tables: the block type
 *	  nosql.tsblock, moving the rows of a partition into blocks, decoding
 *	  blocks, and moving blocks back into rows for writes.
 *
 * Design note.  Compression works one partition at a time.  It deletes
 * the partition's rows (as an ordinary DELETE would: MVCC, so a reader
 * that started before sees the rows, one that starts after sees the
 * blocks), sorts them by series (the segment_by columns) and time, cuts
 * each series into blocks of TS_BLOCK_ROWS rows, and inserts one row per
 * block into the partition's block table: the segment values as they are,
 * the block's row count and first and last time, and every other column
 * as a nosql.tsblock, the bytes of one column codec (ts_codec.c).  Rows
 * that arrive later land in the partition's heap as before; the next
 * compression makes blocks of them too.  Nothing here takes a lock that
 * stops readers or writers of the table: the partition and its block
 * table are locked ROW EXCLUSIVE, and a lock on the block table's object
 * tag (not its relation lock, so that autovacuum is not in the way)
 * keeps one compression or decompression of a partition at a time.
 *
 * An UPDATE or DELETE that reaches compressed rows first moves the blocks
 * it may touch back into rows (TsDecompressBlocks, called by ts_scan.c
 * before the statement runs): only the blocks whose time range and
 * series the statement's conditions admit, never the whole partition.
 *
 * Everything is ordinary heap tuples, so WAL, crash recovery and
 * streaming standbys need nothing of their own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/heap.h"
#include "catalog/indexing.h"
#include "catalog/objectaddress.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "parser/parse_oper.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"

#include "cdc.h"
#include "ts_compress.h"

/* The object-tag sub-id of the compression lock of a block table */
#define TS_COMPRESS_LOCK_SUBID 0x7473

/* The columns of nosql.timeseries_partition this file reads */
#define TSP_PARTITION 2
#define TSP_RANGE_START 3
#define TSP_RANGE_END 4
#define TSP_BLOCKS 5
#define TSP_BLOCK_TYPES 6

/* ---- the codecs' memory ---- */

static void *
TsAlloc(size_t size)
{
	return palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void *
TsRealloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return TsAlloc(size);
	return repalloc_huge(ptr, size);
}

static void
TsFree(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

/*
 * The codecs allocate in the current memory context, so that an error
 * anywhere frees what they held.
 */
void
TsCodecSetup(void)
{
	static bool done = false;

	if (!done)
	{
		ts_set_allocator(TsAlloc, TsRealloc, TsFree);
		done = true;
	}
}

static int	TsValidateAny(const uint8 *buf, size_t len);
static bytea *TsBlockFromBytes(const uint8 *buf, size_t len);

static void
TsCorrupt(int code)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt compressed time-series block: %s",
					ts_error_message(code))));
}

/* ---- the type nosql.tsblock ---- */

/*
 * Check that bytes are one whole block that decodes, and return its row
 * count.  Decoding is the only complete check, so input does it.
 */
static int
TsValidateBlock(const uint8 *buf, size_t len)
{
	TsColumnType type;
	int			n;
	int			got;
	bool	   *nulls;

	TsCodecSetup();
	n = ts_block_info(buf, len, &type);
	if (n < 0)
		TsCorrupt(n);
	nulls = palloc(sizeof(bool) * Max(n, 1));
	switch (type)
	{
		case TS_COL_TIMESTAMP:
			got = ts_decode_timestamp(buf, len, palloc(sizeof(int64) * Max(n, 1)), nulls, n);
			break;
		case TS_COL_INT8:
			got = ts_decode_int8(buf, len, palloc(sizeof(int64) * Max(n, 1)), nulls, n);
			break;
		case TS_COL_INT4:
			got = ts_decode_int4(buf, len, palloc(sizeof(int32) * Max(n, 1)), nulls, n);
			break;
		case TS_COL_FLOAT8:
			got = ts_decode_float8(buf, len, palloc(sizeof(double) * Max(n, 1)), nulls, n);
			break;
		case TS_COL_BOOL:
			got = ts_decode_bool(buf, len, palloc(sizeof(bool) * Max(n, 1)), nulls, n);
			break;
		case TS_COL_TEXT:
			{
				TsBuffer	data;

				ts_buffer_init(&data);
				got = ts_decode_text(buf, len, &data,
									 palloc(sizeof(uint32) * (n + 1)), nulls, n);
				ts_buffer_free(&data);
				break;
			}
		default:
			got = TS_ERR_TYPE;
			break;
	}
	if (got < 0)
		TsCorrupt(got);
	if (got != n)
		TsCorrupt(TS_ERR_CORRUPT);
	return n;
}

/* ---- the container: every compressed column of one block in one value ---- */

/*
 * A block row keeps the time column and every value column in one
 * nosql.tsblock, a container (ts_codec.h): a directory of (column number,
 * offset, length) and the column blocks one after the other.  One value
 * per block row instead of one per column packs TOAST pages well (a TOAST
 * page holds four whole chunks, and a value's last, partial chunk leaves
 * space that the next values' whole chunks cannot use), and a reader
 * fetches only the chunks of the columns it needs (detoast_attr_slice).
 */
static bytea *
TsContainerBuild(int ncols, const int *attno, const size_t *offset,
				 const size_t *length, const uint8 *data, size_t len)
{
	TsBuffer	out;
	bytea	   *result;

	ts_buffer_init(&out);
	if (ts_container_build(ncols, attno, offset, length, data, len, &out) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("compressed time-series block of %zu bytes is too large",
						ts_container_header_size(ncols) + len)));
	result = TsBlockFromBytes(out.data, out.len);
	ts_buffer_free(&out);
	return result;
}

/* Where column attno is in a container (see ts_container_find); false if absent */
static bool
TsContainerFind(const uint8 *buf, size_t len, size_t total, int attno,
				size_t *offset, size_t *length)
{
	int			found = ts_container_find(buf, len, total, attno, offset, length);

	if (found < 0)
		TsCorrupt(found);
	return found == 1;
}

/* Check a whole container: its directory and every column block; its row count */
static int
TsValidateContainer(const uint8 *buf, size_t len)
{
	int			ncols = ts_container_columns(buf, len, len);
	int			rows = -1;

	if (ncols < 0)
		TsCorrupt(ncols);
	for (int i = 0; i < ncols; i++)
	{
		int			attno;
		size_t		off;
		size_t		l;
		int			n;

		ts_container_entry(buf, i, &attno, &off, &l);
		n = TsValidateBlock(buf + off, l);
		if (rows >= 0 && n != rows)
			TsCorrupt(TS_ERR_CORRUPT);
		rows = n;
	}
	return Max(rows, 0);
}

/* A column block or a container */
static int
TsValidateAny(const uint8 *buf, size_t len)
{
	if (len > 0 && buf[0] == TS_CONTAINER_MAGIC)
		return TsValidateContainer(buf, len);
	return TsValidateBlock(buf, len);
}

static bytea *
TsBlockFromBytes(const uint8 *buf, size_t len)
{
	bytea	   *result;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("compressed time-series block of %zu bytes is too large", len)));
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), buf, len);
	return result;
}

PG_FUNCTION_INFO_V1(tsblock_in);
Datum
tsblock_in(PG_FUNCTION_ARGS)
{
	Datum		raw = DirectFunctionCall1(byteain, PG_GETARG_DATUM(0));
	bytea	   *b = DatumGetByteaPP(raw);

	TsValidateAny((uint8 *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	PG_RETURN_BYTEA_P(b);
}

PG_FUNCTION_INFO_V1(tsblock_out);
Datum
tsblock_out(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(byteaout, PG_GETARG_DATUM(0));
}

PG_FUNCTION_INFO_V1(tsblock_recv);
Datum
tsblock_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	const char *bytes = pq_getmsgbytes(msg, msg->len - msg->cursor);
	size_t		len = msg->len - (bytes - msg->data);

	TsValidateAny((const uint8 *) bytes, len);
	PG_RETURN_BYTEA_P(TsBlockFromBytes((const uint8 *) bytes, len));
}

PG_FUNCTION_INFO_V1(tsblock_send);
Datum
tsblock_send(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(byteasend, PG_GETARG_DATUM(0));
}

static const char *
TsColumnTypeName(TsColumnType type)
{
	switch (type)
	{
		case TS_COL_TIMESTAMP:
			return "timestamp";
		case TS_COL_FLOAT8:
			return "float8";
		case TS_COL_INT8:
			return "int8";
		case TS_COL_INT4:
			return "int4";
		case TS_COL_BOOL:
			return "bool";
		case TS_COL_TEXT:
			return "bytes";
	}
	return "unknown";
}

/* nosql.tsblock_info(tsblock): what a block holds, for people */
PG_FUNCTION_INFO_V1(tsblock_info);
Datum
tsblock_info(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	const uint8 *buf = (const uint8 *) VARDATA_ANY(b);
	size_t		len = VARSIZE_ANY_EXHDR(b);
	TsColumnType type;
	int			n;

	TsCodecSetup();
	if (len > 0 && buf[0] == TS_CONTAINER_MAGIC)
	{
		StringInfoData str;
		int			ncols;

		n = TsValidateContainer(buf, len);
		ncols = ts_container_columns(buf, len, len);
		initStringInfo(&str);
		appendStringInfo(&str, "%d columns, %d rows, %zu bytes:", ncols, n, len);
		for (int i = 0; i < ncols; i++)
		{
			int			attno;
			size_t		off;
			size_t		l;

			ts_container_entry(buf, i, &attno, &off, &l);
			(void) ts_block_info(buf + off, l, &type);
			appendStringInfo(&str, "%s %d %s %s %zu", i > 0 ? ";" : "", attno,
							 TsColumnTypeName(type), ts_block_method(buf + off, l), l);
		}
		PG_RETURN_TEXT_P(cstring_to_text(str.data));
	}
	n = ts_block_info(buf, len, &type);
	if (n < 0)
		TsCorrupt(n);
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s, %d rows, %s, %zu bytes",
											  TsColumnTypeName(type), n,
											  ts_block_method(buf, len), len)));
}

/* nosql.tsblock_column(container tsblock, attnum int): one column's block (NULL: none) */
PG_FUNCTION_INFO_V1(tsblock_column);
Datum
tsblock_column(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	int32		attno = PG_GETARG_INT32(1);
	const uint8 *buf = (const uint8 *) VARDATA_ANY(b);
	size_t		len = VARSIZE_ANY_EXHDR(b);
	size_t		off;
	size_t		l;

	if (len == 0 || buf[0] != TS_CONTAINER_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the block is not a container of columns")));
	if (!TsContainerFind(buf, len, len, attno, &off, &l))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(TsBlockFromBytes(buf + off, l));
}

/* ---- which codec a column type uses ---- */

static TsColumnType
TsCodecForType(Oid typid, int16 typlen, bool typbyval)
{
	switch (typid)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			return TS_COL_TIMESTAMP;
		case FLOAT8OID:
		case FLOAT4OID:
			return TS_COL_FLOAT8;
		case INT8OID:
			return TS_COL_INT8;
		case INT4OID:
		case INT2OID:
		case DATEOID:
			return TS_COL_INT4;
		case BOOLOID:
			return TS_COL_BOOL;
		default:
			break;
	}
	if (typlen == -1)
		return TS_COL_TEXT;		/* any varlena: its bytes */
	if (typbyval)
		return TS_COL_INT8;		/* the Datum itself */
	if (typlen > 0)
		return TS_COL_TEXT;		/* fixed-length by reference: its bytes */
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("values of type %s cannot be compressed", format_type_be(typid))));
	return TS_COL_TEXT;			/* keep the compiler quiet */
}

/* ---- the partitions that have block tables ---- */

/*
 * Whether blocks keep the smallest and largest value of a column of this
 * type (c<n>_min, c<n>_max): the types whose codec computes them exactly
 * in the type's own order.
 */
bool
TsHasValueStats(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

/* The number of attributes of a relation (dropped ones included) */
int
TsRelNatts(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int			natts;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	return natts;
}

typedef struct TsChunkEntry
{
	Oid			relid;			/* hash key */
	TsChunkInfo *info;			/* NULL: not compressed */
} TsChunkEntry;

static HTAB *ts_chunk_cache = NULL;

static void
TsFreeInfo(TsChunkInfo *info)
{
	if (info == NULL)
		return;
	pfree(info->role);
	pfree(info->blk_attno);
	pfree(info->codec);
	pfree(info->typid);
	pfree(info->stat_nulls);
	pfree(info->stat_min);
	pfree(info->stat_max);
	pfree(info->stat_sum);
	pfree(info);
}

/*
 * The descriptions a relcache invalidation dropped from the cache, freed
 * when the transaction ends.  An invalidation is taken whenever a lock is
 * acquired, so it can arrive in the middle of a scan or an aggregate that
 * holds the description (autovacuum's ANALYZE of a block table is enough);
 * freed at once, that holder would read freed memory.  Until the end of
 * the transaction the old description stays valid for whoever holds it;
 * new lookups load a fresh one.
 */
static List *ts_dead_infos = NIL;

static void
TsChunkXactCallback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE && event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PARALLEL_ABORT)
		return;
	foreach(lc, ts_dead_infos)
		TsFreeInfo(lfirst(lc));
	list_free(ts_dead_infos);
	ts_dead_infos = NIL;
}

/* A relation changed: forget what we knew of it (all, for InvalidOid) */
static void
TsChunkInvalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TsChunkEntry *entry;

	if (ts_chunk_cache == NULL)
		return;
	hash_seq_init(&status, ts_chunk_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!OidIsValid(relid) || entry->relid == relid ||
			(entry->info != NULL && entry->info->blocks == relid))
		{
			if (entry->info != NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

				ts_dead_infos = lappend(ts_dead_infos, entry->info);
				MemoryContextSwitchTo(old);
			}
			entry->info = NULL;
			hash_search(ts_chunk_cache, &entry->relid, HASH_REMOVE, NULL);
		}
	}
}

/*
 * Read the catalog row of a partition and its block table's columns.
 * NULL when the relation is not a compressed partition.
 */
static TsChunkInfo *
TsLoadChunk(Oid relid)
{
	Oid			nsp = get_namespace_oid("nosql", true);
	Oid			catoid;
	Oid			idxoid;
	Relation	cat;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	Snapshot	snap;
	Oid			blocks = InvalidOid;
	TimestampTz range_start = 0;
	TimestampTz range_end = 0;
	Datum	   *types = NULL;
	bool	   *typenulls = NULL;
	int			ntypes = 0;
	TsChunkInfo *info;
	Relation	brel;
	TupleDesc	bdesc;
	int			natts;
	MemoryContext old;

	if (!OidIsValid(nsp))
		return NULL;
	catoid = get_relname_relid("timeseries_partition", nsp);
	idxoid = get_relname_relid("timeseries_partition_pkey", nsp);
	if (!OidIsValid(catoid) || !OidIsValid(idxoid))
		return NULL;

	cat = table_open(catoid, AccessShareLock);
	if (RelationGetNumberOfAttributes(cat) < TSP_BLOCK_TYPES)
	{
		table_close(cat, AccessShareLock);
		return NULL;
	}
	snap = RegisterSnapshot(GetCatalogSnapshot(catoid));
	ScanKeyInit(&key, TSP_PARTITION, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(cat, idxoid, true, snap, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, TSP_BLOCKS, RelationGetDescr(cat), &isnull);

		if (!isnull)
		{
			bool		n1;
			bool		n2;

			range_start = DatumGetTimestampTz(heap_getattr(tup, TSP_RANGE_START, RelationGetDescr(cat), &n1));
			range_end = DatumGetTimestampTz(heap_getattr(tup, TSP_RANGE_END, RelationGetDescr(cat), &n2));
			if (n1 || n2)
				range_start = range_end = 0;
			blocks = DatumGetObjectId(d);
			d = heap_getattr(tup, TSP_BLOCK_TYPES, RelationGetDescr(cat), &isnull);
			if (!isnull)
				deconstruct_array(DatumGetArrayTypeP(d), REGTYPEOID, 4, true,
								  TYPALIGN_INT, &types, &typenulls, &ntypes);
		}
	}
	systable_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(cat, AccessShareLock);
	if (!OidIsValid(blocks))
		return NULL;

	brel = try_relation_open(blocks, AccessShareLock);
	if (brel == NULL)
		return NULL;
	bdesc = RelationGetDescr(brel);
	natts = TsRelNatts(relid);

	old = MemoryContextSwitchTo(CacheMemoryContext);
	info = palloc0(sizeof(TsChunkInfo));
	info->chunk = relid;
	info->blocks = blocks;
	info->natts = natts;
	info->range_start = range_start;
	info->range_end = range_end;
	info->role = palloc0(sizeof(TsColumnRole) * Max(natts, 1));
	info->blk_attno = palloc0(sizeof(AttrNumber) * Max(natts, 1));
	info->codec = palloc0(sizeof(TsColumnType) * Max(natts, 1));
	info->typid = palloc0(sizeof(Oid) * Max(natts, 1));
	info->stat_nulls = palloc0(sizeof(AttrNumber) * Max(natts, 1));
	info->stat_min = palloc0(sizeof(AttrNumber) * Max(natts, 1));
	info->stat_max = palloc0(sizeof(AttrNumber) * Max(natts, 1));
	info->stat_sum = palloc0(sizeof(AttrNumber) * Max(natts, 1));
	MemoryContextSwitchTo(old);

	for (int i = 0; i < bdesc->natts; i++)
	{
		Form_pg_attribute battr = TupleDescAttr(bdesc, i);
		const char *name = NameStr(battr->attname);
		char	   *end;
		long		n;
		TsColumnRole role;

		if (battr->attisdropped)
			continue;
		if (name[0] == 't')
			role = TS_ROLE_TIME;
		else if (name[0] == 's')
			role = TS_ROLE_SEGMENT;
		else if (name[0] == 'c')
			role = TS_ROLE_VALUE;
		else
			continue;
		n = strtol(name + 1, &end, 10);
		if (n < 1 || n > natts)
			continue;
		if (role == TS_ROLE_VALUE && *end == '_')
		{
			/* a statistic of value column n */
			if (strcmp(end, "_nulls") == 0)
				info->stat_nulls[n - 1] = (AttrNumber) (i + 1);
			else if (strcmp(end, "_min") == 0)
				info->stat_min[n - 1] = (AttrNumber) (i + 1);
			else if (strcmp(end, "_max") == 0)
				info->stat_max[n - 1] = (AttrNumber) (i + 1);
			else if (strcmp(end, "_sum") == 0)
				info->stat_sum[n - 1] = (AttrNumber) (i + 1);
			continue;
		}
		if (*end != '\0' || role == TS_ROLE_VALUE)
			continue;
		info->role[n - 1] = role;
		info->blk_attno[n - 1] = (AttrNumber) (i + 1);
		if (role == TS_ROLE_TIME)
			info->time_attno = (AttrNumber) n;
	}
	table_close(brel, AccessShareLock);
	if (info->time_attno == 0)
	{
		TsFreeInfo(info);
		return NULL;
	}

	/*
	 * The time column and the value columns are in the container t<n>:
	 * every column with a type in block_types, as it was when compressed.
	 */
	for (int a = 0; a < natts && a < ntypes; a++)
	{
		HeapTuple	atup;
		Form_pg_attribute attr;
		Oid			typid;
		int16		typlen;
		bool		typbyval;

		if (typenulls[a] || info->role[a] == TS_ROLE_SEGMENT)
			continue;
		atup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(a + 1));
		if (!HeapTupleIsValid(atup))
			continue;
		attr = (Form_pg_attribute) GETSTRUCT(atup);
		if (attr->attisdropped)
		{
			ReleaseSysCache(atup);
			info->role[a] = TS_ROLE_NONE;
			continue;
		}
		typid = attr->atttypid;
		ReleaseSysCache(atup);
		if (DatumGetObjectId(types[a]) != typid)
		{
			char	   *attname = get_attname(relid, (AttrNumber) (a + 1), false);
			char	   *relname = get_rel_name(relid);

			TsFreeInfo(info);
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of \"%s\" changed type after the partition was compressed",
							attname, relname),
					 errhint("Change the column back to its old type, or drop the partition.")));
		}
		if (a + 1 != info->time_attno)
			info->role[a] = TS_ROLE_VALUE;
		info->blk_attno[a] = info->blk_attno[info->time_attno - 1];
		get_typlenbyval(typid, &typlen, &typbyval);
		info->typid[a] = typid;
		info->codec[a] = (a + 1 == info->time_attno) ? TS_COL_TIMESTAMP
			: TsCodecForType(typid, typlen, typbyval);
	}
	/* statistics only of value columns of the types that have them */
	for (int a = 0; a < natts; a++)
	{
		if (info->role[a] != TS_ROLE_VALUE || !TsHasValueStats(info->typid[a]) ||
			info->stat_min[a] == 0 || info->stat_max[a] == 0)
			info->stat_min[a] = info->stat_max[a] = 0;
		if (info->role[a] != TS_ROLE_VALUE)
			info->stat_nulls[a] = 0;
		if (info->role[a] != TS_ROLE_VALUE ||
			(info->typid[a] != INT2OID && info->typid[a] != INT4OID &&
			 info->typid[a] != INT8OID))
			info->stat_sum[a] = 0;
	}
	return info;
}

/*
 * The compressed storage of a partition, or NULL if it has none.  Cached
 * per backend until the partition or its block table changes; what it
 * returns stays valid until the end of the transaction even then (see
 * ts_dead_infos), so a scan may hold it while it takes locks.
 */
TsChunkInfo *
TsLookupChunk(Oid relid)
{
	TsChunkEntry *entry;
	TsChunkInfo *info;
	bool		found;

	if (ts_chunk_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TsChunkEntry);
		ctl.hcxt = CacheMemoryContext;
		ts_chunk_cache = hash_create("nosql time-series partitions", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(TsChunkInvalidate, (Datum) 0);
		RegisterXactCallback(TsChunkXactCallback, NULL);
	}
	entry = hash_search(ts_chunk_cache, &relid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->info;
	info = TsLoadChunk(relid);
	entry = hash_search(ts_chunk_cache, &relid, HASH_ENTER, &found);
	if (found && entry->info != NULL)
	{
		/* loaded meanwhile, and maybe held: it goes when the transaction does */
		MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

		ts_dead_infos = lappend(ts_dead_infos, entry->info);
		MemoryContextSwitchTo(old);
	}
	entry->info = info;
	return info;
}

/* One compression or decompression of a partition at a time */
void
TsCompressLockBlocks(Oid blocks)
{
	LockDatabaseObject(RelationRelationId, blocks, TS_COMPRESS_LOCK_SUBID,
					   ExclusiveLock);
}

/* ---- encoding one block ---- */

/* Encode n values of one column; returns the nosql.tsblock */
static size_t
TsEncodeColumn(TsColumnType codec, Oid typid, int16 typlen,
			   Datum *values, bool *nulls, int n, TsStats *statsp, TsBuffer *out)
{
	TsBuffer	buf = *out;
	TsStats		stats;
	size_t		got = 0;

	switch (codec)
	{
		case TS_COL_TIMESTAMP:
		case TS_COL_INT8:
			{
				int64	   *v = palloc(sizeof(int64) * n);

				for (int i = 0; i < n; i++)
					v[i] = nulls[i] ? 0 : (typid == INT8OID || codec == TS_COL_TIMESTAMP)
						? DatumGetInt64(values[i]) : (int64) values[i];
				got = codec == TS_COL_TIMESTAMP
					? ts_encode_timestamp(v, nulls, n, &buf, &stats)
					: ts_encode_int8(v, nulls, n, &buf, &stats);
				pfree(v);
				break;
			}
		case TS_COL_INT4:
			{
				int32	   *v = palloc(sizeof(int32) * n);

				for (int i = 0; i < n; i++)
					v[i] = nulls[i] ? 0 : typid == INT2OID ? DatumGetInt16(values[i])
						: DatumGetInt32(values[i]);
				got = ts_encode_int4(v, nulls, n, &buf, &stats);
				pfree(v);
				break;
			}
		case TS_COL_FLOAT8:
			{
				double	   *v = palloc(sizeof(double) * n);

				for (int i = 0; i < n; i++)
					v[i] = nulls[i] ? 0 : typid == FLOAT4OID
						? (double) DatumGetFloat4(values[i]) : DatumGetFloat8(values[i]);
				got = ts_encode_float8(v, nulls, n, &buf, &stats);
				pfree(v);
				break;
			}
		case TS_COL_BOOL:
			{
				bool	   *v = palloc(sizeof(bool) * n);

				for (int i = 0; i < n; i++)
					v[i] = nulls[i] ? false : DatumGetBool(values[i]);
				got = ts_encode_bool(v, nulls, n, &buf, &stats);
				pfree(v);
				break;
			}
		case TS_COL_TEXT:
			{
				const char **v = palloc(sizeof(char *) * n);
				uint32	   *lens = palloc(sizeof(uint32) * n);

				for (int i = 0; i < n; i++)
				{
					if (nulls[i])
					{
						v[i] = "";
						lens[i] = 0;
					}
					else if (typlen == -1)
					{
						struct varlena *p = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(values[i]));

						v[i] = VARDATA_ANY(p);
						lens[i] = VARSIZE_ANY_EXHDR(p);
					}
					else
					{
						v[i] = DatumGetPointer(values[i]);
						lens[i] = typlen;
					}
				}
				got = ts_encode_text(v, lens, nulls, n, &buf, &stats);
				pfree(v);
				pfree(lens);
				break;
			}
	}
	if (got == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("could not compress a block of %d values of type %s", n,
						format_type_be(typid))));
	*out = buf;
	*statsp = stats;
	return got;
}

/* A value of a column's type from the statistics of its block */
static Datum
TsStatDatum(Oid typid, TsStats *stats, bool max, bool *isnull)
{
	*isnull = false;
	switch (typid)
	{
		case FLOAT8OID:
		case FLOAT4OID:
			{
				double		v;

				/* PostgreSQL orders NaN above every other value */
				if (max && stats->has_nan)
					v = get_float8_nan();
				else if (stats->has_minmax)
					v = max ? stats->max_float : stats->min_float;
				else if (stats->has_nan)
					v = get_float8_nan();
				else
				{
					*isnull = true;
					return (Datum) 0;
				}
				return typid == FLOAT4OID ? Float4GetDatum((float4) v) : Float8GetDatum(v);
			}
		default:
			break;
	}
	if (!stats->has_minmax)
	{
		*isnull = true;
		return (Datum) 0;
	}
	{
		int64		v = max ? stats->max_int : stats->min_int;

		switch (typid)
		{
			case INT2OID:
				return Int16GetDatum((int16) v);
			case INT4OID:
				return Int32GetDatum((int32) v);
			case DATEOID:
				return DateADTGetDatum((DateADT) v);
			default:
				return Int64GetDatum(v);
		}
	}
}

/* The state of one compression of a partition */
typedef struct TsCompressState
{
	TsChunkInfo *info;
	TupleDesc	desc;			/* the partition's */
	Relation	blocks;
	TupleTableSlot *blockslot;
	EState	   *estate;
	ResultRelInfo *rri;
	Oid		   *typid;			/* per partition attribute */
	int16	   *typlen;
	bool	   *typbyval;
	/* the rows of the block being filled */
	int			n;
	Datum	  **values;
	bool	  **nulls;
	MemoryContext blockcxt;		/* the copies of those rows */
} TsCompressState;

/*
 * The block table's insertion state for compressing rows of a partition;
 * the caller allocates the row arrays (values, nulls) it fills.
 */
static void
TsCompressSetup(TsCompressState *cs, Relation chunk, TsChunkInfo *info)
{
	TupleDesc	desc = RelationGetDescr(chunk);

	memset(cs, 0, sizeof(*cs));
	cs->info = info;
	cs->desc = desc;
	cs->blocks = table_open(info->blocks, RowExclusiveLock);
	cs->blockslot = MakeSingleTupleTableSlot(RelationGetDescr(cs->blocks), &TTSOpsVirtual);
	cs->estate = CreateExecutorState();
	cs->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(cs->rri, cs->blocks, 1, NULL, 0);
	ExecOpenIndices(cs->rri, false);
	cs->blockcxt = AllocSetContextCreate(CurrentMemoryContext, "nosql compress block",
										 ALLOCSET_DEFAULT_SIZES);
	cs->typid = palloc0(sizeof(Oid) * desc->natts);
	cs->typlen = palloc0(sizeof(int16) * desc->natts);
	cs->typbyval = palloc0(sizeof(bool) * desc->natts);
	cs->values = palloc0(sizeof(Datum *) * desc->natts);
	cs->nulls = palloc0(sizeof(bool *) * desc->natts);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, a);

		cs->typid[a] = attr->atttypid;
		cs->typlen[a] = attr->attlen;
		cs->typbyval[a] = attr->attbyval;
	}
}

static void
TsCompressTeardown(TsCompressState *cs)
{
	ExecCloseIndices(cs->rri);
	FreeExecutorState(cs->estate);
	ExecDropSingleTupleTableSlot(cs->blockslot);
	MemoryContextDelete(cs->blockcxt);
	table_close(cs->blocks, NoLock);
}

static void
TsFlushBlock(TsCompressState *cs)
{
	TsChunkInfo *info = cs->info;
	TupleTableSlot *slot = cs->blockslot;
	int			n = cs->n;
	MemoryContext old;
	TsBuffer	columns;
	int			ncols = 0;
	int		   *dir_attno = palloc(sizeof(int) * info->natts);
	size_t	   *dir_offset = palloc(sizeof(size_t) * info->natts);
	size_t	   *dir_length = palloc(sizeof(size_t) * info->natts);

	if (n == 0)
		return;
	old = MemoryContextSwitchTo(cs->blockcxt);
	ExecClearTuple(slot);
	for (int i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
	}
	slot->tts_values[TS_BLK_ROWS - 1] = Int32GetDatum(n);
	slot->tts_isnull[TS_BLK_ROWS - 1] = false;
	ts_buffer_init(&columns);
	for (int a = 0; a < info->natts; a++)
	{
		AttrNumber	b = info->blk_attno[a];

		switch (info->role[a])
		{
			case TS_ROLE_NONE:
				break;
			case TS_ROLE_SEGMENT:
				slot->tts_values[b - 1] = cs->values[a][0];
				slot->tts_isnull[b - 1] = cs->nulls[a][0];
				break;
			case TS_ROLE_TIME:
				{
					/* sorted by time within a series */
					slot->tts_values[TS_BLK_MIN_TIME - 1] = cs->values[a][0];
					slot->tts_isnull[TS_BLK_MIN_TIME - 1] = false;
					slot->tts_values[TS_BLK_MAX_TIME - 1] = cs->values[a][n - 1];
					slot->tts_isnull[TS_BLK_MAX_TIME - 1] = false;
				}
				/* FALLTHROUGH */
			case TS_ROLE_VALUE:
				{
					TsStats		stats;
					size_t		start = columns.len;
					size_t		got;

					got = TsEncodeColumn(info->codec[a], cs->typid[a], cs->typlen[a],
										 cs->values[a], cs->nulls[a], n, &stats, &columns);
					dir_attno[ncols] = a + 1;
					dir_offset[ncols] = start;
					dir_length[ncols] = got;
					ncols++;
					if (info->stat_nulls[a] != 0)
					{
						slot->tts_values[info->stat_nulls[a] - 1] = Int32GetDatum(stats.null_count);
						slot->tts_isnull[info->stat_nulls[a] - 1] = false;
					}
					if (info->stat_min[a] != 0)
						slot->tts_values[info->stat_min[a] - 1] =
							TsStatDatum(cs->typid[a], &stats, false,
										&slot->tts_isnull[info->stat_min[a] - 1]);
					if (info->stat_max[a] != 0)
						slot->tts_values[info->stat_max[a] - 1] =
							TsStatDatum(cs->typid[a], &stats, true,
										&slot->tts_isnull[info->stat_max[a] - 1]);
					if (info->stat_sum[a] != 0 && stats.has_minmax && !stats.sum_overflow)
					{
						slot->tts_values[info->stat_sum[a] - 1] = Int64GetDatum(stats.sum_int);
						slot->tts_isnull[info->stat_sum[a] - 1] = false;
					}
					break;
				}
		}
	}
	{
		AttrNumber	b = info->blk_attno[info->time_attno - 1];
		bytea	   *container = TsContainerBuild(ncols, dir_attno, dir_offset, dir_length,
												 columns.data, columns.len);

		ts_buffer_free(&columns);
		slot->tts_values[b - 1] = PointerGetDatum(container);
		slot->tts_isnull[b - 1] = false;
	}
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(cs->blocks, slot, GetCurrentCommandId(true), 0, NULL);
	if (cs->rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(cs->rri, slot, cs->estate, false, false,
										NULL, NIL));
	ExecClearTuple(slot);
	MemoryContextSwitchTo(old);
	MemoryContextReset(cs->blockcxt);
	cs->n = 0;
}

/*
 * Copy a row (its attributes fetched into slot) into row n of a block's
 * arrays, the values in cxt
 */
static void
TsKeepRow(TsCompressState *cs, Datum **values, bool **nulls, int n,
		  TupleTableSlot *slot, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			natts = Min(cs->info->natts, cs->desc->natts);

	for (int a = 0; a < natts; a++)
	{
		if (cs->info->role[a] == TS_ROLE_NONE)
			continue;
		nulls[a][n] = slot->tts_isnull[a];
		values[a][n] = slot->tts_isnull[a] ? (Datum) 0 :
			datumCopy(slot->tts_values[a], cs->typbyval[a], cs->typlen[a]);
	}
	MemoryContextSwitchTo(old);
}

/* Are the segment values of the row in slot those of the block being filled? */
static bool
TsSameSeries(TsCompressState *cs, TupleTableSlot *slot, FmgrInfo *eqfn, Oid *colls)
{
	for (int a = 0; a < cs->info->natts; a++)
	{
		bool		isnull;
		Datum		v;

		if (cs->info->role[a] != TS_ROLE_SEGMENT)
			continue;
		v = slot_getattr(slot, a + 1, &isnull);
		if (isnull != cs->nulls[a][0])
			return false;
		if (!isnull && !DatumGetBool(FunctionCall2Coll(&eqfn[a], colls[a], cs->values[a][0], v)))
			return false;
	}
	return true;
}

/*
 * Wait, without queueing, until no one else uses the partition, and keep
 * it to ourselves until commit; false if it stayed in use for wait_ms.  A
 * query planned while the partition had no blocks (a plain scan of its
 * heap) and run with a snapshot taken after the move's commit would see
 * neither the deleted rows nor the blocks; planning takes AccessShareLock
 * and keeps it to the end, so once we hold AccessExclusiveLock no plan can
 * span the commit, and queries that come after wait only for the commit.
 * The lock is tried, not queued for: queueing would stop every later
 * reader behind a long one, and an UPDATE that decompresses (it holds
 * RowExclusiveLock and waits for the blocks' lock, which we hold) would
 * deadlock with us.
 */
#define TS_SETTLE_STEP_MS 5

bool
TsCompressSettle(Relation chunk, int wait_ms)
{
	Oid			relid = RelationGetRelid(chunk);

	for (int waited = 0; !ConditionalLockRelationOid(relid, AccessExclusiveLock);
		 waited += TS_SETTLE_STEP_MS)
	{
		if (waited >= wait_ms)
			return false;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(TS_SETTLE_STEP_MS * 1000L);
	}
	return true;
}

/*
 * nosql.timeseries_compress_rows(partition regclass) RETURNS bigint
 *		Move the rows of a partition's heap into its block table (made by
 *		nosql.timeseries_compress_partition); returns the rows moved.
 */
PG_FUNCTION_INFO_V1(timeseries_compress_rows);
Datum
timeseries_compress_rows(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	TsChunkInfo *info;
	Relation	chunk;
	TupleDesc	desc;
	TsCompressState cs;
	Tuplesortstate *sort;
	TableScanDesc scan;
	TupleTableSlot *heapslot;
	TupleTableSlot *sortslot;
	Snapshot	snapshot = GetActiveSnapshot();
	AttrNumber *keys;
	Oid		   *sortops;
	Oid		   *colls;
	bool	   *nullsfirst;
	FmgrInfo   *eqfn;
	int			nkeys = 0;
	int64		rows = 0;
	CommandId	cid = GetCurrentCommandId(true);

	TsCodecSetup();
	if (!TsScanPreloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("compressing time series needs nosql in shared_preload_libraries"),
				 errdetail("A backend that has not loaded nosql would read a compressed partition as if it were empty.")));
	/* the cache may remember the partition from before its block table */
	TsChunkInvalidate((Datum) 0, relid);
	/* readers and writers go on while the rows move (see TsCompressSettle) */
	chunk = table_open(relid, RowExclusiveLock);
	info = TsLookupChunk(relid);
	if (info == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("\"%s\" is not a time-series partition with a block table",
						RelationGetRelationName(chunk))));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(chunk->rd_rel->relkind),
					   RelationGetRelationName(chunk));
	desc = RelationGetDescr(chunk);
	TsCompressLockBlocks(info->blocks);
	TsCompressSetup(&cs, chunk, info);

	/* sort by series, then time */
	keys = palloc(sizeof(AttrNumber) * (desc->natts + 1));
	sortops = palloc(sizeof(Oid) * (desc->natts + 1));
	colls = palloc0(sizeof(Oid) * (desc->natts + 1));
	nullsfirst = palloc0(sizeof(bool) * (desc->natts + 1));
	eqfn = palloc0(sizeof(FmgrInfo) * desc->natts);
	for (int a = 0; a < info->natts && a < desc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, a);

		if (info->role[a] == TS_ROLE_NONE)
			continue;
		cs.values[a] = palloc(sizeof(Datum) * TS_BLOCK_ROWS);
		cs.nulls[a] = palloc(sizeof(bool) * TS_BLOCK_ROWS);
		if (info->role[a] == TS_ROLE_SEGMENT)
		{
			Oid			lt;
			Oid			eq;

			get_sort_group_operators(attr->atttypid, true, true, false,
									 &lt, &eq, NULL, NULL);
			keys[nkeys] = a + 1;
			sortops[nkeys] = lt;
			colls[nkeys] = attr->attcollation;
			nkeys++;
			fmgr_info(get_opcode(eq), &eqfn[a]);
		}
	}
	{
		Oid			lt;

		get_sort_group_operators(TIMESTAMPTZOID, true, false, false, &lt, NULL, NULL, NULL);
		keys[nkeys] = info->time_attno;
		sortops[nkeys] = lt;
		nkeys++;
	}
	{
		Oid		   *segcolls = palloc0(sizeof(Oid) * desc->natts);

		for (int a = 0; a < info->natts && a < desc->natts; a++)
			segcolls[a] = TupleDescAttr(desc, a)->attcollation;
		sort = tuplesort_begin_heap(desc, nkeys, keys, sortops, colls, nullsfirst,
									maintenance_work_mem, NULL, TUPLESORT_NONE);

		/* take the rows out of the heap */
		heapslot = table_slot_create(chunk, NULL);
		scan = table_beginscan(chunk, snapshot, 0, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, heapslot))
		{
			TM_FailureData tmfd;
			TM_Result	res;

			CHECK_FOR_INTERRUPTS();
			tuplesort_puttupleslot(sort, heapslot);
			res = table_tuple_delete(chunk, &heapslot->tts_tid, cid, snapshot,
									 InvalidSnapshot, true, &tmfd, false);
			if (res != TM_Ok)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not compress \"%s\": a row was changed concurrently",
								RelationGetRelationName(chunk)),
						 errhint("The next compression will try again.")));
			rows++;
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(heapslot);

		/* and into blocks, series by series */
		tuplesort_performsort(sort);
		sortslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		while (tuplesort_gettupleslot(sort, true, false, sortslot, NULL))
		{
			CHECK_FOR_INTERRUPTS();
			if (cs.n > 0 && (cs.n == TS_BLOCK_ROWS || !TsSameSeries(&cs, sortslot, eqfn, segcolls)))
				TsFlushBlock(&cs);
			slot_getallattrs(sortslot);
			TsKeepRow(&cs, cs.values, cs.nulls, cs.n, sortslot, cs.blockcxt);
			cs.n++;
		}
		TsFlushBlock(&cs);
		ExecDropSingleTupleTableSlot(sortslot);
		tuplesort_end(sort);
	}

	TsCompressTeardown(&cs);
	/* a partition busy for this long fails; the policy tries it again */
	if (rows > 0 && !TsCompressSettle(chunk, 10000))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not compress \"%s\": it stayed in use for 10 s",
						RelationGetRelationName(chunk)),
				 errdetail("Compression moves a partition's rows once no query is using it."),
				 errhint("The next compression will try again.")));
	table_close(chunk, NoLock);
	/* other backends learn of the blocks at commit */
	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_INT64(rows);
}

/* ---- compression of rows as they come (COPY) ---- */

/*
 * Rows of many series arrive interleaved (a collector writes every host at
 * one instant, then the next instant), so each series fills a buffer of its
 * own, which becomes a block when it holds TS_BLOCK_ROWS rows or when the
 * load ends.  Series are found by the images of their segment values: rows
 * whose values are equal but not alike in bytes (a nondeterministic
 * collation) land in blocks of their own, each holding its rows' values,
 * which is only less compact.  The buffers of all the partitions of one
 * load count their rows in one counter (a load into a table split by hash
 * fills as many compressors per time range as it has leaves); past
 * TS_DIRECT_MAX_ROWS the load makes every buffer a block
 * (TsDirectFlushAll).
 */

typedef struct TsSeries
{
	struct TsSeries *next;		/* another series with the same hash */
	char	   *key;
	int			keylen;
	int			n;
	int			cap;
	bool		sorted;			/* the rows came in time order */
	Datum	  **values;			/* per partition attribute (or NULL) */
	bool	  **nulls;
	MemoryContext cxt;			/* the copies of the rows' values */
} TsSeries;

typedef struct TsSeriesEntry
{
	uint32		hash;
	TsSeries   *first;
} TsSeriesEntry;

struct TsDirect
{
	TsCompressState cs;
	Relation	chunk;
	MemoryContext cxt;
	HTAB	   *series;
	List	   *all;			/* every TsSeries */
	int64	   *buffered;		/* rows in the buffers of the whole load */
	int64		rows;
	StringInfoData key;
};

/* A copy of a partition's description, in the current memory context */
static TsChunkInfo *
TsInfoCopy(const TsChunkInfo *src)
{
	TsChunkInfo *info = palloc(sizeof(TsChunkInfo));
	int			n = src->natts;

	*info = *src;
#define TS_COPY_ARRAY(field) \
	do { \
		info->field = palloc(sizeof(*src->field) * Max(n, 1)); \
		memcpy(info->field, src->field, sizeof(*src->field) * n); \
	} while (0)
	TS_COPY_ARRAY(role);
	TS_COPY_ARRAY(blk_attno);
	TS_COPY_ARRAY(codec);
	TS_COPY_ARRAY(typid);
	TS_COPY_ARRAY(stat_nulls);
	TS_COPY_ARRAY(stat_min);
	TS_COPY_ARRAY(stat_max);
	TS_COPY_ARRAY(stat_sum);
#undef TS_COPY_ARRAY
	return info;
}

/*
 * A per-COPY compressor into a compressed partition (opened by the
 * caller); *buffered counts the rows its buffers hold, with those of the
 * load's other compressors.
 */
TsDirect *
TsDirectBegin(Relation chunk, TsChunkInfo *info, int64 *buffered)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "nosql direct compression",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TsDirect   *d = palloc0(sizeof(TsDirect));
	HASHCTL		hctl;

	TsCodecSetup();
	d->cxt = cxt;
	d->chunk = chunk;
	d->buffered = buffered;
	/* a copy: an invalidation during the load frees the cached one */
	info = TsInfoCopy(info);
	TsCompressLockBlocks(info->blocks);
	TsCompressSetup(&d->cs, chunk, info);
	hctl.keysize = sizeof(uint32);
	hctl.entrysize = sizeof(TsSeriesEntry);
	hctl.hcxt = cxt;
	d->series = hash_create("nosql direct compression series", 256, &hctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	initStringInfo(&d->key);
	MemoryContextSwitchTo(old);
	return d;
}

/* The images of a row's segment values, into d->key */
static void
TsDirectKey(TsDirect *d, TupleTableSlot *slot)
{
	TsChunkInfo *info = d->cs.info;

	resetStringInfo(&d->key);
	for (int a = 0; a < info->natts; a++)
	{
		Datum		v;

		if (info->role[a] != TS_ROLE_SEGMENT)
			continue;
		if (slot->tts_isnull[a])
		{
			appendStringInfoChar(&d->key, 'n');
			continue;
		}
		appendStringInfoChar(&d->key, 'v');
		v = slot->tts_values[a];
		if (d->cs.typlen[a] == -1)
		{
			struct varlena *p = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(v));
			int32		len = VARSIZE_ANY_EXHDR(p);

			appendBinaryStringInfo(&d->key, (char *) &len, sizeof(len));
			appendBinaryStringInfo(&d->key, VARDATA_ANY(p), len);
		}
		else if (d->cs.typlen[a] == -2)
			appendBinaryStringInfo(&d->key, DatumGetCString(v), strlen(DatumGetCString(v)) + 1);
		else if (d->cs.typbyval[a])
			appendBinaryStringInfo(&d->key, (char *) &v, sizeof(Datum));
		else
			appendBinaryStringInfo(&d->key, DatumGetPointer(v), d->cs.typlen[a]);
	}
}

static int
TsTimeIndexCmp(const void *a, const void *b, void *arg)
{
	const Datum *times = arg;
	int64		x = DatumGetInt64(times[*(const int *) a]);
	int64		y = DatumGetInt64(times[*(const int *) b]);

	if (x != y)
		return x < y ? -1 : 1;
	/* equal times keep their order */
	return *(const int *) a - *(const int *) b;
}

/* Make a series' buffer a block */
static void
TsDirectFlush(TsDirect *d, TsSeries *ser)
{
	TsChunkInfo *info = d->cs.info;

	if (ser->n == 0)
		return;
	if (!ser->sorted)
	{
		int		   *order = palloc(sizeof(int) * ser->n);
		Datum	   *vtmp = palloc(sizeof(Datum) * ser->n);
		bool	   *ntmp = palloc(sizeof(bool) * ser->n);

		for (int i = 0; i < ser->n; i++)
			order[i] = i;
		qsort_arg(order, ser->n, sizeof(int), TsTimeIndexCmp,
				  ser->values[info->time_attno - 1]);
		for (int a = 0; a < info->natts; a++)
		{
			if (ser->values[a] == NULL)
				continue;
			for (int i = 0; i < ser->n; i++)
			{
				vtmp[i] = ser->values[a][order[i]];
				ntmp[i] = ser->nulls[a][order[i]];
			}
			memcpy(ser->values[a], vtmp, sizeof(Datum) * ser->n);
			memcpy(ser->nulls[a], ntmp, sizeof(bool) * ser->n);
		}
		pfree(order);
		pfree(vtmp);
		pfree(ntmp);
	}
	d->cs.n = ser->n;
	d->cs.values = ser->values;
	d->cs.nulls = ser->nulls;
	d->cs.blockcxt = ser->cxt;
	TsFlushBlock(&d->cs);		/* resets ser->cxt */
	*d->buffered -= ser->n;
	ser->n = 0;
	ser->sorted = true;
}

/* Add a row (in the partition's row type) to its series' next block */
void
TsDirectAdd(TsDirect *d, TupleTableSlot *slot)
{
	TsChunkInfo *info = d->cs.info;
	MemoryContext old = MemoryContextSwitchTo(d->cxt);
	uint32		hash;
	TsSeriesEntry *entry;
	TsSeries   *ser;
	bool		found;
	int			t = info->time_attno - 1;

	slot_getallattrs(slot);
	if (slot->tts_isnull[t])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("the time column of a compressed row must not be null")));
	TsDirectKey(d, slot);
	hash = hash_bytes((const unsigned char *) d->key.data, d->key.len);
	entry = hash_search(d->series, &hash, HASH_ENTER, &found);
	if (!found)
		entry->first = NULL;
	for (ser = entry->first; ser != NULL; ser = ser->next)
		if (ser->keylen == d->key.len && memcmp(ser->key, d->key.data, d->key.len) == 0)
			break;
	if (ser == NULL)
	{
		ser = palloc0(sizeof(TsSeries));
		ser->key = palloc(d->key.len + 1);
		memcpy(ser->key, d->key.data, d->key.len);
		ser->keylen = d->key.len;
		ser->sorted = true;
		ser->values = palloc0(sizeof(Datum *) * info->natts);
		ser->nulls = palloc0(sizeof(bool *) * info->natts);
		ser->cxt = AllocSetContextCreate(d->cxt, "nosql direct compression block",
										 ALLOCSET_SMALL_SIZES);
		ser->next = entry->first;
		entry->first = ser;
		d->all = lappend(d->all, ser);
	}
	if (ser->n == TS_BLOCK_ROWS)
		TsDirectFlush(d, ser);
	if (ser->n == ser->cap)
	{
		int			cap = Min(Max(ser->cap * 2, 16), TS_BLOCK_ROWS);

		for (int a = 0; a < info->natts; a++)
		{
			if (info->role[a] == TS_ROLE_NONE)
				continue;
			if (ser->values[a] == NULL)
			{
				ser->values[a] = palloc(sizeof(Datum) * cap);
				ser->nulls[a] = palloc(sizeof(bool) * cap);
			}
			else
			{
				ser->values[a] = repalloc(ser->values[a], sizeof(Datum) * cap);
				ser->nulls[a] = repalloc(ser->nulls[a], sizeof(bool) * cap);
			}
		}
		ser->cap = cap;
	}
	if (ser->n > 0 &&
		DatumGetInt64(slot->tts_values[t]) < DatumGetInt64(ser->values[t][ser->n - 1]))
		ser->sorted = false;
	TsKeepRow(&d->cs, ser->values, ser->nulls, ser->n, slot, ser->cxt);
	ser->n++;
	(*d->buffered)++;
	d->rows++;
	MemoryContextSwitchTo(old);
}

/* Make every buffer of a compressor a block (the load holds too many rows) */
void
TsDirectFlushAll(TsDirect *d)
{
	MemoryContext old = MemoryContextSwitchTo(d->cxt);
	ListCell   *lc;

	foreach(lc, d->all)
		TsDirectFlush(d, lfirst(lc));
	MemoryContextSwitchTo(old);
}

/* The last blocks; returns the rows compressed */
int64
TsDirectEnd(TsDirect *d)
{
	int64		rows = d->rows;
	MemoryContext old;

	TsDirectFlushAll(d);
	old = MemoryContextSwitchTo(d->cxt);
	TsCompressTeardown(&d->cs);
	/* plans and caches of other backends learn of the new blocks */
	CacheInvalidateRelcacheByRelid(RelationGetRelid(d->chunk));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(d->cxt);
	return rows;
}

/* ---- decoding ---- */

/*
 * The container of a block row, for fetching its columns: its first bytes
 * (the directory, or all of it when it is not stored out of line).
 */
typedef struct TsContainerRef
{
	struct varlena *raw;		/* as stored (perhaps a TOAST pointer) */
	bool		sliced;			/* out of line: fetch columns by slices */
	const uint8 *head;
	size_t		headlen;
	size_t		total;
} TsContainerRef;

static void
TsContainerOpen(TupleTableSlot *blockslot, AttrNumber b, int natts, bool whole,
				TsContainerRef *ref)
{
	bool		isnull;
	Datum		d = slot_getattr(blockslot, b, &isnull);

	if (isnull)
		TsCorrupt(TS_ERR_CORRUPT);
	ref->raw = (struct varlena *) DatumGetPointer(d);
	ref->sliced = !whole && VARATT_IS_EXTERNAL_ONDISK(ref->raw);
	if (!ref->sliced)
	{
		struct varlena *p = pg_detoast_datum_packed(ref->raw);

		ref->head = (const uint8 *) VARDATA_ANY(p);
		ref->headlen = ref->total = VARSIZE_ANY_EXHDR(p);
	}
	else
	{
		struct varlena *h;

		ref->total = toast_raw_datum_size(d) - VARHDRSZ;
		h = detoast_attr_slice(ref->raw, 0,
							   Min(ref->total, TS_CONTAINER_HEADER + (size_t) natts * TS_CONTAINER_ENTRY));
		ref->head = (const uint8 *) VARDATA_ANY(h);
		ref->headlen = VARSIZE_ANY_EXHDR(h);
	}
}

/* The bytes of column attno of a container */
static void
TsContainerColumn(TsContainerRef *ref, int attno, const uint8 **buf, size_t *len)
{
	size_t		off;
	size_t		l;

	if (!TsContainerFind(ref->head, ref->headlen, ref->total, attno, &off, &l))
		TsCorrupt(TS_ERR_CORRUPT);
	if (!ref->sliced)
		*buf = ref->head + off;
	else
	{
		struct varlena *c = detoast_attr_slice(ref->raw, off, l);

		if (VARSIZE_ANY_EXHDR(c) != l)
			TsCorrupt(TS_ERR_CORRUPT);
		*buf = (const uint8 *) VARDATA_ANY(c);
	}
	*len = l;
}

/*
 * Decode the block in blockslot: its times, its segment values, and the
 * columns wanted (per partition attribute; NULL: all) into out, allocated
 * in the current memory context.
 */
void
TsDecodeBlock(TsChunkInfo *info, TupleDesc chunkdesc, TupleTableSlot *blockslot,
			  const bool *wanted, TsBlockData *out)
{
	bool		isnull;
	int			n;
	const uint8 *buf;
	size_t		len;
	int			got;
	TsContainerRef ref;

	TsCodecSetup();
	n = DatumGetInt32(slot_getattr(blockslot, TS_BLK_ROWS, &isnull));
	if (isnull || n < 1 || n > TS_BLOCK_MAX_ROWS)
		TsCorrupt(TS_ERR_CORRUPT);
	out->nrows = n;
	out->values = palloc0(sizeof(Datum *) * info->natts);
	out->nulls = palloc0(sizeof(bool *) * info->natts);
	out->segvalues = palloc0(sizeof(Datum) * info->natts);
	out->segnulls = palloc(sizeof(bool) * info->natts);
	memset(out->segnulls, true, sizeof(bool) * info->natts);

	{
		/* whole when most columns are wanted, else column by column */
		int			nwanted = 0;
		int			nvalues = 0;

		for (int a = 0; a < info->natts; a++)
			if (info->role[a] == TS_ROLE_VALUE)
			{
				nvalues++;
				if (wanted == NULL || wanted[a])
					nwanted++;
			}
		TsContainerOpen(blockslot, info->blk_attno[info->time_attno - 1], info->natts,
						wanted == NULL || 2 * nwanted > nvalues, &ref);
	}
	out->times = palloc(sizeof(int64) * n);
	TsContainerColumn(&ref, info->time_attno, &buf, &len);
	got = ts_decode_timestamp(buf, len, out->times, NULL, n);
	if (got != n)
		TsCorrupt(got < 0 ? got : TS_ERR_CORRUPT);

	for (int a = 0; a < info->natts && a < chunkdesc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(chunkdesc, a);
		Datum	   *values;
		bool	   *nulls;

		if (info->role[a] == TS_ROLE_SEGMENT)
		{
			out->segvalues[a] = slot_getattr(blockslot, info->blk_attno[a], &out->segnulls[a]);
			continue;
		}
		if (info->role[a] != TS_ROLE_VALUE || (wanted != NULL && !wanted[a]))
			continue;
		TsContainerColumn(&ref, a + 1, &buf, &len);
		values = palloc(sizeof(Datum) * n);
		nulls = palloc(sizeof(bool) * n);
		switch (info->codec[a])
		{
			case TS_COL_TIMESTAMP:
			case TS_COL_INT8:
				{
					int64	   *v = palloc(sizeof(int64) * n);

					got = info->codec[a] == TS_COL_TIMESTAMP
						? ts_decode_timestamp(buf, len, v, nulls, n)
						: ts_decode_int8(buf, len, v, nulls, n);
					if (got == n)
						for (int i = 0; i < n; i++)
							values[i] = (attr->atttypid == INT8OID || info->codec[a] == TS_COL_TIMESTAMP)
								? Int64GetDatum(v[i]) : (Datum) v[i];
					break;
				}
			case TS_COL_INT4:
				{
					int32	   *v = palloc(sizeof(int32) * n);

					got = ts_decode_int4(buf, len, v, nulls, n);
					if (got == n)
						for (int i = 0; i < n; i++)
							values[i] = attr->atttypid == INT2OID
								? Int16GetDatum((int16) v[i]) : Int32GetDatum(v[i]);
					break;
				}
			case TS_COL_FLOAT8:
				{
					double	   *v = palloc(sizeof(double) * n);

					got = ts_decode_float8(buf, len, v, nulls, n);
					if (got == n)
						for (int i = 0; i < n; i++)
							values[i] = attr->atttypid == FLOAT4OID
								? Float4GetDatum((float4) v[i]) : Float8GetDatum(v[i]);
					break;
				}
			case TS_COL_BOOL:
				{
					bool	   *v = palloc(sizeof(bool) * n);

					got = ts_decode_bool(buf, len, v, nulls, n);
					if (got == n)
						for (int i = 0; i < n; i++)
							values[i] = BoolGetDatum(v[i]);
					break;
				}
			case TS_COL_TEXT:
				{
					TsBuffer	data;
					uint32	   *offsets = palloc(sizeof(uint32) * (n + 1));

					ts_buffer_init(&data);
					got = ts_decode_text(buf, len, &data, offsets, nulls, n);
					if (got == n)
					{
						for (int i = 0; i < n; i++)
						{
							uint32		l = offsets[i + 1] - offsets[i];

							if (nulls[i])
								values[i] = (Datum) 0;
							else if (attr->attlen == -1)
							{
								struct varlena *p = palloc(VARHDRSZ + l);

								SET_VARSIZE(p, VARHDRSZ + l);
								memcpy(VARDATA(p), data.data + offsets[i], l);
								values[i] = PointerGetDatum(p);
							}
							else
							{
								char	   *p;

								if (l != (uint32) attr->attlen)
								{
									ts_buffer_free(&data);
									TsCorrupt(TS_ERR_CORRUPT);
								}
								p = palloc(l);
								memcpy(p, data.data + offsets[i], l);
								values[i] = PointerGetDatum(p);
							}
						}
					}
					ts_buffer_free(&data);
					break;
				}
			default:
				got = TS_ERR_TYPE;
				break;
		}
		if (got != n)
			TsCorrupt(got < 0 ? got : TS_ERR_CORRUPT);
		out->values[a] = values;
		out->nulls[a] = nulls;
	}
}

/* Row "row" of a decoded block as a row of the partition, in a virtual slot */
void
TsBlockRowToSlot(TsChunkInfo *info, TupleDesc chunkdesc, TsBlockData *data,
				 int row, TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	for (int a = 0; a < chunkdesc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(chunkdesc, a);
		TsColumnRole role = a < info->natts ? info->role[a] : TS_ROLE_NONE;

		switch (role)
		{
			case TS_ROLE_TIME:
				slot->tts_values[a] = TimestampTzGetDatum(data->times[row]);
				slot->tts_isnull[a] = false;
				break;
			case TS_ROLE_SEGMENT:
				slot->tts_values[a] = data->segvalues[a];
				slot->tts_isnull[a] = data->segnulls[a];
				break;
			case TS_ROLE_VALUE:
				if (data->values[a] != NULL)
				{
					slot->tts_values[a] = data->values[a][row];
					slot->tts_isnull[a] = data->nulls[a][row];
				}
				else
				{
					slot->tts_values[a] = (Datum) 0;
					slot->tts_isnull[a] = true;
				}
				break;
			case TS_ROLE_NONE:
				if (attr->attisdropped)
				{
					slot->tts_values[a] = (Datum) 0;
					slot->tts_isnull[a] = true;
				}
				else			/* added after compression: its default */
					slot->tts_values[a] = getmissingattr(chunkdesc, a + 1,
														 &slot->tts_isnull[a]);
				break;
		}
	}
	slot->tts_tableOid = info->chunk;
	ExecStoreVirtualTuple(slot);
}

/* May the block in blockslot hold rows the filter wants? */
bool
TsBlockPasses(TsChunkInfo *info, TsBlockFilter *filter, TupleTableSlot *blockslot)
{
	bool		isnull;
	TimestampTz min_time;
	TimestampTz max_time;

	if (filter == NULL)
		return true;
	if (filter->empty)
		return false;
	min_time = DatumGetTimestampTz(slot_getattr(blockslot, TS_BLK_MIN_TIME, &isnull));
	if (isnull)
		TsCorrupt(TS_ERR_CORRUPT);
	max_time = DatumGetTimestampTz(slot_getattr(blockslot, TS_BLK_MAX_TIME, &isnull));
	if (isnull)
		TsCorrupt(TS_ERR_CORRUPT);
	if (max_time < filter->lo || min_time > filter->hi)
		return false;
	if (filter->segqual != NULL)
	{
		TupleTableSlot *seg = filter->segslot;

		ExecClearTuple(seg);
		for (int a = 0; a < seg->tts_tupleDescriptor->natts; a++)
		{
			seg->tts_isnull[a] = true;
			seg->tts_values[a] = (Datum) 0;
			if (a < info->natts && info->role[a] == TS_ROLE_SEGMENT)
				seg->tts_values[a] = slot_getattr(blockslot, info->blk_attno[a],
												  &seg->tts_isnull[a]);
		}
		ExecStoreVirtualTuple(seg);
		filter->econtext->ecxt_scantuple = seg;
		if (!ExecQual(filter->segqual, filter->econtext))
			return false;
	}
	for (int i = 0; i < filter->nvalues; i++)
	{
		AttrNumber	a = filter->vattno[i];
		Datum		lo;
		Datum		hi;
		bool		lonull;
		bool		hinull;
		int			strategy = filter->vstrategy[i];

		if (a < 1 || a > info->natts || info->stat_min[a - 1] == 0)
			continue;
		lo = slot_getattr(blockslot, info->stat_min[a - 1], &lonull);
		hi = slot_getattr(blockslot, info->stat_max[a - 1], &hinull);
		if (lonull || hinull)
			return false;		/* only NULLs: no comparison is true */
#define TS_CMP(x, y) DatumGetInt32(FunctionCall2Coll(&filter->vcmp[i], filter->vcoll[i], (x), (y)))
		if ((strategy == BTLessStrategyNumber && TS_CMP(lo, filter->vbound[i]) >= 0) ||
			(strategy == BTLessEqualStrategyNumber && TS_CMP(lo, filter->vbound[i]) > 0) ||
			(strategy == BTGreaterStrategyNumber && TS_CMP(hi, filter->vbound[i]) <= 0) ||
			(strategy == BTGreaterEqualStrategyNumber && TS_CMP(hi, filter->vbound[i]) < 0) ||
			(strategy == BTEqualStrategyNumber &&
			 (TS_CMP(lo, filter->vbound[i]) > 0 || TS_CMP(hi, filter->vbound[i]) < 0)))
			return false;
#undef TS_CMP
	}
	return true;
}

/*
 * Move the blocks of a partition that the filter admits (NULL: all) back
 * into rows of its heap, for an UPDATE or DELETE that may reach them.
 * Returns the rows written.  The caller makes them visible (command
 * counter).  The rows inserted are no new points: logical decoding
 * messages around them tell the change stream so (CdcLogTsMove), written
 * with no savepoint between them.
 */
int64
TsDecompressBlocks(Relation chunk, TsChunkInfo *info, TsBlockFilter *filter)
{
	Relation	blocks;
	TupleDesc	desc = RelationGetDescr(chunk);
	Snapshot	snapshot = GetActiveSnapshot();
	TableScanDesc scan;
	TupleTableSlot *blockslot;
	TupleTableSlot *rowslot;
	EState	   *estate;
	ResultRelInfo *rri;
	MemoryContext cxt;
	MemoryContext old;
	CommandId	cid = GetCurrentCommandId(true);
	int64		rows = 0;
	bool		moving = false;

	TsCompressLockBlocks(info->blocks);
	blocks = table_open(info->blocks, RowExclusiveLock);
	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, chunk, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	blockslot = table_slot_create(blocks, NULL);
	rowslot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "nosql decompress block",
								ALLOCSET_DEFAULT_SIZES);

	scan = table_beginscan(blocks, snapshot, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, blockslot))
	{
		TsBlockData data;
		TM_FailureData tmfd;
		TM_Result	res;

		CHECK_FOR_INTERRUPTS();
		if (!TsBlockPasses(info, filter, blockslot))
			continue;
		if (!moving)
		{
			CdcLogTsMove(RelationGetRelid(chunk), true);
			moving = true;
		}
		old = MemoryContextSwitchTo(cxt);
		TsDecodeBlock(info, desc, blockslot, NULL, &data);
		for (int i = 0; i < data.nrows; i++)
		{
			TsBlockRowToSlot(info, desc, &data, i, rowslot);
			table_tuple_insert(chunk, rowslot, cid, 0, NULL);
			if (rri->ri_NumIndices > 0)
				list_free(ExecInsertIndexTuples(rri, rowslot, estate, false, false,
												NULL, NIL));
			ResetPerTupleExprContext(estate);
		}
		rows += data.nrows;
		MemoryContextSwitchTo(old);
		res = table_tuple_delete(blocks, &blockslot->tts_tid, cid, snapshot,
								 InvalidSnapshot, true, &tmfd, false);
		if (res != TM_Ok)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to a concurrent change of compressed rows of \"%s\"",
							RelationGetRelationName(chunk))));
		MemoryContextReset(cxt);
	}
	table_endscan(scan);
	if (moving)
		CdcLogTsMove(RelationGetRelid(chunk), false);
	ExecDropSingleTupleTableSlot(blockslot);
	ExecDropSingleTupleTableSlot(rowslot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	MemoryContextDelete(cxt);
	table_close(blocks, NoLock);
	return rows;
}

/*
 * nosql.timeseries_decompress_rows(partition regclass) RETURNS bigint
 *		Move every block of a partition back into rows of its heap.
 */
PG_FUNCTION_INFO_V1(timeseries_decompress_rows);
Datum
timeseries_decompress_rows(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	chunk = table_open(relid, RowExclusiveLock);
	TsChunkInfo *info;
	int64		rows = 0;

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(chunk->rd_rel->relkind),
					   RelationGetRelationName(chunk));
	info = TsLookupChunk(relid);
	if (info != NULL)
		rows = TsDecompressBlocks(chunk, info, NULL);
	table_close(chunk, NoLock);
	PG_RETURN_INT64(rows);
}

/*
 * nosql.timeseries_link_blocks(partition regclass, blocks regclass)
 *		Make a block table part of its partition: dropped with it, and not
 *		droppable alone.
 */
PG_FUNCTION_INFO_V1(timeseries_link_blocks);
Datum
timeseries_link_blocks(PG_FUNCTION_ARGS)
{
	Oid			part = PG_GETARG_OID(0);
	Oid			blocks = PG_GETARG_OID(1);
	ObjectAddress partaddr;
	ObjectAddress blockaddr;

	if (!pg_class_ownercheck(part, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(part));
	if (!pg_class_ownercheck(blocks, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(blocks));
	ObjectAddressSet(partaddr, RelationRelationId, part);
	ObjectAddressSet(blockaddr, RelationRelationId, blocks);
	recordDependencyOn(&blockaddr, &partaddr, DEPENDENCY_INTERNAL);
	PG_RETURN_VOID();
}

/*
 * nosql.timeseries_heap_rows(partition regclass, stop_at bigint) RETURNS bigint
 *		The rows of a partition's heap alone (those not in blocks): what
 *		the next compression would move; counting stops at stop_at.
 */
PG_FUNCTION_INFO_V1(timeseries_heap_rows);
Datum
timeseries_heap_rows(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	int64		rows = 0;
	int64		stop_at = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT64(1);

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel))));
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	while (rows < stop_at && table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		rows++;
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	PG_RETURN_INT64(rows);
}

/*
 * nosql.timeseries_reclaim(partition regclass) RETURNS bool
 *		Give back the space of a compressed partition's heap and indexes
 *		once every row left in its heap is dead to every transaction (the
 *		rows a compression moved into blocks): truncate the heap and
 *		rebuild its indexes empty.  VACUUM frees the heap's pages but a
 *		B-tree never shrinks; this does what a TRUNCATE would, but only
 *		when no snapshot can see any of those rows, so it is as safe as
 *		VACUUM's removal of them.  Needs the partition's ACCESS EXCLUSIVE
 *		lock and does not wait for it: returns false when the lock is
 *		taken, a row is still visible to someone, or there is nothing to
 *		give back.
 */
PG_FUNCTION_INFO_V1(timeseries_reclaim);
Datum
timeseries_reclaim(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	BlockNumber nblocks;
	bool		worth = false;
	TransactionId oldest;
	List	   *indexes;
	ListCell   *lc;

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	if (TsLookupChunk(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("\"%s\" is not a compressed time-series partition",
						get_rel_name(relid))));
	rel = table_open(relid, AccessShareLock);

	/* something to give back: heap pages, or indexes beyond their metapage */
	nblocks = RelationGetNumberOfBlocks(rel);
	worth = nblocks > 0;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

		if (RelationGetNumberOfBlocks(index) > 1)
			worth = true;
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	if (!worth || !ConditionalLockRelationOid(relid, AccessExclusiveLock))
	{
		table_close(rel, AccessShareLock);
		PG_RETURN_BOOL(false);
	}
	nblocks = RelationGetNumberOfBlocks(rel);

	/* every tuple dead to everyone? */
	oldest = GetOldestNonRemovableTransactionId(rel);
	for (BlockNumber blk = 0; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		bool		alive = false;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blk, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff && !alive; off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HeapTupleData tuple;

			if (!ItemIdIsNormal(itemid))
				continue;
			tuple.t_data = (HeapTupleHeader) PageGetItem(page, itemid);
			tuple.t_len = ItemIdGetLength(itemid);
			tuple.t_tableOid = relid;
			ItemPointerSet(&tuple.t_self, blk, off);
			if (HeapTupleSatisfiesVacuum(&tuple, oldest, buf) != HEAPTUPLE_DEAD)
				alive = true;
		}
		UnlockReleaseBuffer(buf);
		if (alive)
		{
			/* nothing was changed: readers need not wait for our commit */
			UnlockRelationOid(relid, AccessExclusiveLock);
			table_close(rel, AccessShareLock);
			PG_RETURN_BOOL(false);
		}
	}
	heap_truncate_one_rel(rel);
	table_close(rel, AccessShareLock);
	PG_RETURN_BOOL(true);
}
