/*-------------------------------------------------------------------------
 *
 * kv.c
 *	  The engine of the etcd v3 key-value store: an MVCC history of every
 *	  key and one global revision, over two tables and SPI.
 *
 * Design note
 * -----------
 * nosql.kv_history holds every version of every key, one row per write,
 * keyed as etcd keys its backend: by revision (mod_revision, sub), sub
 * numbering the keys one request writes at one revision (the keys of a
 * range delete; later the writes of a txn).  A delete is a row too: a
 * tombstone (deleted = true, no value), so a historical read at a revision
 * between a delete and the next put finds the key absent, and the next put
 * starts a new life of the key (create_revision = its revision, version 1).
 *
 * Keys reach 1.5 MiB, far beyond what a btree entry holds (about 2.7 kB),
 * so the key index is on (kv_key_head(key), mod_revision): the head is the
 * key itself up to KV_KEY_HEAD_BYTES and its prefix cut at a character
 * boundary beyond.  Cutting keeps byte order (a < b implies head(a) <=
 * head(b)), so the index, in the "C" collation, serves both "the latest
 * version of key K at revision R" (a backward scan of K's head from R,
 * rechecking the key) and key ranges in byte order, as etcd compares keys;
 * only keys sharing a 1 kB head are sorted among themselves.
 *
 * nosql.kv_revision is a one-row counter: the store's revision, etcd's
 * header revision.  It starts absent, meaning 1 as in a new etcd store, so
 * that pg_dump's copy of the row does not collide with one the install
 * script made.  A write takes the next revision by UPDATE of that row; the
 * row lock is held until the transaction ends, so writers queue on it and
 * each takes its number only once the one before it has committed (or
 * rolled back, which returns the number: revisions are gap-free), and
 * revision order is commit order.  A sequence gives neither property.
 * The statements after the UPDATE run with a new snapshot (READ COMMITTED)
 * that sees the writer before; in REPEATABLE READ or SERIALIZABLE the
 * UPDATE fails with a serialization error when another writer committed
 * since the snapshot, so a write never works from a stale history.
 *
 * Each call of kv_put or kv_delete is one etcd request and takes its own
 * revision, also when several run in one SQL transaction: each is a
 * separate event to a watcher, as two etcd requests are.  (kv_txn will be
 * one request, and one revision, however many writes it holds.)  A
 * delete that finds nothing to delete creates no revision: it locks the
 * counter with SELECT ... FOR UPDATE, writes its tombstones at the next
 * revision, and moves the counter only when it wrote any.
 *
 * The price of the design is that writers of the store are serialised
 * from their first write to their commit: keep transactions that write
 * keys short.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "kv.h"

/* The prepared statements of the engine, kept for the session */
typedef enum KvPlan
{
	KV_PLAN_NEXT_REVISION,
	KV_PLAN_INIT_REVISION,
	KV_PLAN_LOCK_REVISION,
	KV_PLAN_SET_REVISION,
	KV_PLAN_CURRENT_REVISION,
	KV_PLAN_PUT,
	KV_PLAN_DELETE_ONE,
	KV_PLAN_DELETE_FROM,
	KV_PLAN_DELETE_BETWEEN,
	KV_PLAN_READ_ONE,
	KV_PLAN_READ_FROM,
	KV_PLAN_READ_BETWEEN,
	KV_PLAN_COUNT
} KvPlan;

#define KV_COLUMNS "h.key, h.value, h.create_revision, h.mod_revision, h.version, h.lease"

#define KV_INSERT \
	"INSERT INTO nosql.kv_history " \
	"(key, mod_revision, sub, create_revision, version, value, lease, deleted) "

/* the key's head, by which the index orders keys (see the design note) */
#define KV_HEAD(k) "nosql.kv_key_head(" k ")"

/*
 * The latest version of each key of a range: DISTINCT ON (head, key) lets
 * the planner take the index's order by head and sort only among the keys
 * of one head (usually one key) by key and revision.
 */
#define KV_LATEST(cols, cond, upto) \
	"SELECT DISTINCT ON (" KV_HEAD("h.key") ", h.key) " cols \
	" FROM nosql.kv_history h WHERE " cond upto \
	" ORDER BY " KV_HEAD("h.key") ", h.key, h.mod_revision DESC"

/* the live keys of a range as of their latest version: tombstones at $3 */
#define KV_DELETE(cond) \
	KV_INSERT \
	"SELECT l.key, $3, (row_number() OVER (ORDER BY l.key)) OPERATOR(pg_catalog.-) 1, " \
	"0, 0, NULL, 0, true " \
	"FROM (" KV_LATEST("h.key, h.deleted", cond, "") ") l WHERE NOT l.deleted"

/* the live keys of a range as of revision $3, at most $4 of them */
#define KV_READ(cond) \
	"SELECT " KV_COLUMNS " FROM (" \
	KV_LATEST("h.*", cond, " AND h.mod_revision OPERATOR(pg_catalog.<=) $3") \
	") h WHERE NOT h.deleted ORDER BY " KV_HEAD("h.key") ", h.key LIMIT $4"

/*
 * Key conditions: on the head for the index, on the key for the answer.
 * Heads are ordered as their keys are (a longer key's head is a prefix of
 * it cut at a character boundary), so key >= $1 implies head >= head($1)
 * and key < $2 implies head <= head($2).
 */
#define KV_KEY_ONE \
	KV_HEAD("h.key") " OPERATOR(pg_catalog.=) " KV_HEAD("$1") \
	" AND h.key OPERATOR(pg_catalog.=) $1"
#define KV_KEY_FROM \
	KV_HEAD("h.key") " OPERATOR(pg_catalog.>=) " KV_HEAD("$1") \
	" AND h.key OPERATOR(pg_catalog.>=) $1"
#define KV_KEY_BETWEEN \
	KV_KEY_FROM " AND " KV_HEAD("h.key") " OPERATOR(pg_catalog.<=) " KV_HEAD("$2") \
	" AND h.key OPERATOR(pg_catalog.<) $2"

typedef struct KvPlanSpec
{
	const char *sql;
	int			nargs;
	Oid			argtypes[4];
} KvPlanSpec;

static const KvPlanSpec kv_plan_specs[KV_PLAN_COUNT] = {
	[KV_PLAN_NEXT_REVISION] = {
		"UPDATE nosql.kv_revision SET revision = revision OPERATOR(pg_catalog.+) 1 "
		"RETURNING revision", 0, {InvalidOid}
	},
	[KV_PLAN_INIT_REVISION] = {
		"INSERT INTO nosql.kv_revision (revision) VALUES (1) ON CONFLICT DO NOTHING",
		0, {InvalidOid}
	},
	[KV_PLAN_LOCK_REVISION] = {
		"SELECT revision FROM nosql.kv_revision FOR UPDATE", 0, {InvalidOid}
	},
	[KV_PLAN_SET_REVISION] = {
		"UPDATE nosql.kv_revision SET revision = $1", 1, {INT8OID}
	},
	[KV_PLAN_CURRENT_REVISION] = {
		"SELECT revision FROM nosql.kv_revision", 0, {InvalidOid}
	},
	/* $1 key, $2 revision, $3 value, $4 lease; the version follows the latest */
	[KV_PLAN_PUT] = {
		KV_INSERT
		"SELECT $1, $2, 0, "
		"CASE WHEN p.deleted IS NOT FALSE THEN $2 ELSE p.create_revision END, "
		"CASE WHEN p.deleted IS NOT FALSE THEN 1 "
		"ELSE p.version OPERATOR(pg_catalog.+) 1 END, $3, $4, false "
		"FROM (SELECT) AS one LEFT JOIN LATERAL "
		"(SELECT h.create_revision, h.version, h.deleted FROM nosql.kv_history h "
		"WHERE " KV_KEY_ONE " ORDER BY " KV_HEAD("h.key") " DESC, h.mod_revision DESC "
		"LIMIT 1) p ON true",
		4, {TEXTOID, INT8OID, BYTEAOID, INT8OID}
	},
	/* $1 key, $2 range_end, $3 revision */
	[KV_PLAN_DELETE_ONE] = {KV_DELETE(KV_KEY_ONE), 3, {TEXTOID, TEXTOID, INT8OID}},
	[KV_PLAN_DELETE_FROM] = {KV_DELETE(KV_KEY_FROM), 3, {TEXTOID, TEXTOID, INT8OID}},
	[KV_PLAN_DELETE_BETWEEN] = {KV_DELETE(KV_KEY_BETWEEN), 3, {TEXTOID, TEXTOID, INT8OID}},
	/* $1 key, $2 range_end, $3 revision, $4 limit (NULL: none) */
	[KV_PLAN_READ_ONE] = {
		"SELECT " KV_COLUMNS " FROM (SELECT h.* FROM nosql.kv_history h WHERE "
		KV_KEY_ONE " AND h.mod_revision OPERATOR(pg_catalog.<=) $3 "
		"ORDER BY " KV_HEAD("h.key") " DESC, h.mod_revision DESC LIMIT 1) h "
		"WHERE NOT h.deleted LIMIT $4",
		4, {TEXTOID, TEXTOID, INT8OID, INT8OID}
	},
	[KV_PLAN_READ_FROM] = {KV_READ(KV_KEY_FROM), 4, {TEXTOID, TEXTOID, INT8OID, INT8OID}},
	[KV_PLAN_READ_BETWEEN] = {KV_READ(KV_KEY_BETWEEN), 4, {TEXTOID, TEXTOID, INT8OID, INT8OID}},
};

static SPIPlanPtr kv_plans[KV_PLAN_COUNT];

/*
 * KvGetPlan
 *		The prepared statement of the engine, prepared on first use in the
 *		session.  Its text names every object with its schema and every
 *		operator through pg_catalog, so the caller's search_path is harmless.
 */
static SPIPlanPtr
KvGetPlan(KvPlan which)
{
	if (kv_plans[which] == NULL)
	{
		const KvPlanSpec *spec = &kv_plan_specs[which];
		SPIPlanPtr	plan = SPI_prepare(spec->sql, spec->nargs,
									   (Oid *) spec->argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", spec->sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		kv_plans[which] = plan;
	}
	return kv_plans[which];
}

/*
 * KvExecute
 *		Run a prepared statement of the engine and check that it did what
 *		such a statement does; returns the rows it processed.
 */
static uint64
KvExecute(KvPlan which, Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(KvGetPlan(which), values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "key-value statement %d failed: %s", (int) which,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/* The first column of the first row of the last statement, a bigint */
static int64
KvResultInt64(void)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
								  &isnull);

	if (isnull)
		elog(ERROR, "key-value revision counter is null");
	return DatumGetInt64(d);
}

/*
 * KvNextRevision
 *		Take the next revision for a write, locking the counter until the
 *		transaction ends.  The first write of a store makes the counter row.
 */
static int64
KvNextRevision(void)
{
	if (KvExecute(KV_PLAN_NEXT_REVISION, NULL, NULL, SPI_OK_UPDATE_RETURNING) == 0)
	{
		/*
		 * No row yet.  Concurrent first writers all try to insert it; ON
		 * CONFLICT lets one win and the others wait for it, then all queue
		 * on the row.
		 */
		KvExecute(KV_PLAN_INIT_REVISION, NULL, NULL, SPI_OK_INSERT);
		if (KvExecute(KV_PLAN_NEXT_REVISION, NULL, NULL, SPI_OK_UPDATE_RETURNING) != 1)
			elog(ERROR, "key-value revision counter row is missing");
	}
	return KvResultInt64();
}

/*
 * KvLockRevision
 *		Lock the counter without moving it; returns the current revision.
 */
static int64
KvLockRevision(void)
{
	if (KvExecute(KV_PLAN_LOCK_REVISION, NULL, NULL, SPI_OK_SELECT) == 0)
	{
		KvExecute(KV_PLAN_INIT_REVISION, NULL, NULL, SPI_OK_INSERT);
		if (KvExecute(KV_PLAN_LOCK_REVISION, NULL, NULL, SPI_OK_SELECT) != 1)
			elog(ERROR, "key-value revision counter row is missing");
	}
	return KvResultInt64();
}

/*
 * KvCheckKey
 *		Reject a key etcd would reject: empty, or larger than a request.
 */
void
KvCheckKey(text *key)
{
	Size		len = VARSIZE_ANY_EXHDR(key);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key is not provided"),
				 errdetail("A key-value key must not be empty, as in etcd.")));
	if (len > KV_MAX_REQUEST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key-value key is too large"),
				 errdetail("The key has %zu bytes; the limit is %d bytes (1.5 MiB), etcd's request size limit.",
						   len, KV_MAX_REQUEST_BYTES)));
}

/*
 * KvCheckValue
 *		Reject a value larger than etcd's request size limit.
 */
void
KvCheckValue(bytea *value)
{
	Size		len = VARSIZE_ANY_EXHDR(value);

	if (len > KV_MAX_REQUEST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key-value value is too large"),
				 errdetail("The value has %zu bytes; the limit is %d bytes (1.5 MiB), etcd's request size limit.",
						   len, KV_MAX_REQUEST_BYTES)));
}

/*
 * KvCheckRangeKey
 *		The key of a range request.  An empty key is refused for one key;
 *		with a range_end it stands for etcd's "\0", the smallest key, since
 *		text cannot hold a NUL byte.
 */
static void
KvCheckRangeKey(const KvRange *range)
{
	if (range->kind == KV_RANGE_ONE || VARSIZE_ANY_EXHDR(range->key) > 0)
		KvCheckKey(range->key);
	if (range->kind == KV_RANGE_BETWEEN && VARSIZE_ANY_EXHDR(range->end) > KV_MAX_REQUEST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key-value range_end is too large"),
				 errdetail("The range_end has %zu bytes; the limit is %d bytes (1.5 MiB), etcd's request size limit.",
						   (Size) VARSIZE_ANY_EXHDR(range->end), KV_MAX_REQUEST_BYTES)));
}

/*
 * KvPrefixRange
 *		The range of the keys with a prefix, as etcd's clientv3 WithPrefix
 *		makes it: range_end is the prefix with its last byte below 0xff
 *		incremented (trailing 0xff bytes dropped); no such byte (an empty
 *		prefix) means every key from the prefix on.
 *
 * The incremented end need not be valid UTF-8; it is only compared, bytewise
 * in the "C" collation, never printed.
 */
void
KvPrefixRange(text *prefix, KvRange *range)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(prefix);
	int			len = VARSIZE_ANY_EXHDR(prefix);

	range->key = prefix;
	range->end = NULL;
	while (len > 0 && p[len - 1] == 0xff)
		len--;
	if (len == 0)
	{
		range->kind = KV_RANGE_FROM;
		return;
	}
	range->kind = KV_RANGE_BETWEEN;
	range->end = (text *) palloc(VARHDRSZ + len);
	SET_VARSIZE(range->end, VARHDRSZ + len);
	memcpy(VARDATA(range->end), p, len);
	((unsigned char *) VARDATA(range->end))[len - 1]++;
}

/*
 * KvPut
 *		etcd's Put: a new version of the key at a new revision (version 1
 *		and create_revision = that revision when the key is absent or
 *		deleted, the next version otherwise); returns the revision.
 */
int64
KvPut(text *key, bytea *value, int64 lease)
{
	Datum		values[4];
	int64		revision;

	KvCheckKey(key);
	KvCheckValue(value);

	/*
	 * Leases are not granted yet, so every lease but 0 (none) is unknown, as
	 * etcd's "requested lease not found".
	 */
	if (lease != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("lease " INT64_FORMAT " not found", lease),
				 errhint("Use lease 0 for a key without a lease.")));

	SPI_connect();
	revision = KvNextRevision();
	values[0] = PointerGetDatum(key);
	values[1] = Int64GetDatum(revision);
	values[2] = PointerGetDatum(value);
	values[3] = Int64GetDatum(lease);
	if (KvExecute(KV_PLAN_PUT, values, NULL, SPI_OK_INSERT) != 1)
		elog(ERROR, "key-value put of revision " INT64_FORMAT " wrote no row", revision);
	SPI_finish();
	return revision;
}

/*
 * KvDeleteRange
 *		etcd's DeleteRange: a tombstone for every live key of the range, all
 *		at one new revision, returned in *revision; returns how many keys
 *		were deleted.  Deleting nothing creates no revision (*revision is
 *		then the current one).
 */
int64
KvDeleteRange(const KvRange *range, int64 *revision)
{
	static const KvPlan plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_DELETE_ONE,
		[KV_RANGE_FROM] = KV_PLAN_DELETE_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_DELETE_BETWEEN,
	};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int64		current;
	uint64		deleted;

	KvCheckRangeKey(range);

	SPI_connect();
	current = KvLockRevision();
	values[0] = PointerGetDatum(range->key);
	values[1] = range->end ? PointerGetDatum(range->end) : (Datum) 0;
	if (range->end == NULL)
		nulls[1] = 'n';
	values[2] = Int64GetDatum(current + 1);
	deleted = KvExecute(plans[range->kind], values, nulls, SPI_OK_INSERT);
	if (deleted > 0)
	{
		values[0] = Int64GetDatum(current + 1);
		KvExecute(KV_PLAN_SET_REVISION, values, NULL, SPI_OK_UPDATE);
		current++;
	}
	SPI_finish();
	*revision = current;
	return (int64) deleted;
}

/*
 * KvCurrentRevision
 *		The store's revision: that of the last write committed (or made by
 *		this transaction).
 */
int64
KvCurrentRevision(void)
{
	int64		revision = 1;

	SPI_connect();
	if (KvExecute(KV_PLAN_CURRENT_REVISION, NULL, NULL, SPI_OK_SELECT) == 1)
		revision = KvResultInt64();
	SPI_finish();
	return revision;
}

/*
 * KvRead
 *		etcd's Range: the live keys of a range as of a revision (<= 0: the
 *		current one; a future one is an error), in key order, at most limit
 *		of them (<= 0: all), each passed to callback.
 *
 * The rows passed live in SPI's memory: the callback copies what it keeps.
 */
void
KvRead(const KvRange *range, int64 revision, int64 limit,
	   KvRowCallback callback, void *arg)
{
	static const KvPlan plans[] = {
		[KV_RANGE_ONE] = KV_PLAN_READ_ONE,
		[KV_RANGE_FROM] = KV_PLAN_READ_FROM,
		[KV_RANGE_BETWEEN] = KV_PLAN_READ_BETWEEN,
	};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	uint64		n;

	KvCheckRangeKey(range);
	if (revision > 0)
	{
		int64		current = KvCurrentRevision();

		if (revision > current)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("required revision " INT64_FORMAT " is a future revision", revision),
					 errdetail("The current revision of the key-value store is " INT64_FORMAT ".",
							   current)));
	}
	else
		revision = PG_INT64_MAX;

	SPI_connect();
	values[0] = PointerGetDatum(range->key);
	values[1] = range->end ? PointerGetDatum(range->end) : (Datum) 0;
	if (range->end == NULL)
		nulls[1] = 'n';
	values[2] = Int64GetDatum(revision);
	values[3] = Int64GetDatum(limit);
	if (limit <= 0)
		nulls[3] = 'n';
	n = KvExecute(plans[range->kind], values, nulls, SPI_OK_SELECT);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		row[KV_NATTS];
		bool		rownulls[KV_NATTS];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, row, rownulls);
		/* the key and value may point into TOAST: hand out their bytes */
		for (int c = 0; c < 2; c++)
			if (!rownulls[c])
				row[c] = PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(row[c])));
		callback(row, rownulls, arg);
	}
	SPI_finish();
}
