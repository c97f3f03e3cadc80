/*-------------------------------------------------------------------------
 *
 * kv.h
 *	  The etcd v3 key-value store: the engine (kv.c), its SQL functions
 *	  (kv_sql.c) and watches (kv_watch.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KV_H
#define KV_H

#include <bson/bson.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/tuplestore.h"
#include "datatype/timestamp.h"

/*
 * etcd refuses requests larger than --max-request-bytes, 1.5 MiB by default;
 * we apply that limit to a key and to a value each.
 */
#define KV_MAX_REQUEST_BYTES (1536 * 1024)

/*
 * Keys are indexed by their first bytes, up to this many (cut at a character
 * boundary): a btree entry holds about 2.7 kB.
 */
#define KV_KEY_HEAD_BYTES 1024

/*
 * etcd's lease TTL bounds: leases shorter than its minimum (1.5 election
 * timeouts rounded up to seconds: 2 s with the default 1 s timeout) get the
 * minimum; MaxLeaseTTL is the largest TTL it grants.
 */
#define KV_LEASE_MIN_TTL 2
#define KV_LEASE_MAX_TTL INT64CONST(9000000000)

/*
 * SQL of the store's statements (kv.c, kv_watch.c, kv_lease.c): the key's
 * head, by which the key index orders keys, and the conditions on the key
 * of row h for a range of keys: on the head for the index, on the key for
 * the answer ($1 key, $2 range_end; see kv.c's design note for heads).
 */
#define KV_HEAD(k) "nosql.kv_key_head(" k ")"
#define KV_KEY_ONE \
	KV_HEAD("h.key") " OPERATOR(pg_catalog.=) " KV_HEAD("$1") \
	" AND h.key OPERATOR(pg_catalog.=) $1"
#define KV_KEY_FROM \
	KV_HEAD("h.key") " OPERATOR(pg_catalog.>=) " KV_HEAD("$1") \
	" AND h.key OPERATOR(pg_catalog.>=) $1"
#define KV_KEY_BETWEEN \
	KV_KEY_FROM " AND " KV_HEAD("h.key") " OPERATOR(pg_catalog.<=) " KV_HEAD("$2") \
	" AND h.key OPERATOR(pg_catalog.<) $2"

/* Messages of the errors a put can meet, shared with the apply loop */
#define KV_MSG_LEASE_NOT_FOUND "lease " INT64_FORMAT " not found"
#define KV_HINT_LEASE_NOT_FOUND "Use lease 0 for a key without a lease."
#define KV_MSG_SPACE_EXCEEDED "database space exceeded"
#define KV_DETAIL_SPACE_EXCEEDED "The key-value store takes " INT64_FORMAT " bytes; nosql.kv_quota is %d MB."
#define KV_HINT_SPACE_EXCEEDED "Free space with nosql.kv_compact() and VACUUM FULL nosql.kv_history (etcd: compact and defrag), or raise nosql.kv_quota."

/* The columns of nosql.kv, in order */
#define KV_NATTS 6

/* Which keys a request names, as etcd's key and range_end do */
typedef enum KvRangeKind
{
	KV_RANGE_ONE,				/* range_end absent: the key itself */
	KV_RANGE_FROM,				/* range_end "\0": every key >= key */
	KV_RANGE_BETWEEN			/* [key, range_end) in byte order */
} KvRangeKind;

typedef struct KvRange
{
	KvRangeKind kind;
	text	   *key;
	text	   *end;			/* KV_RANGE_BETWEEN only */
} KvRange;

/* Receives one row of nosql.kv (KV_NATTS values) of a read */
typedef void (*KvRowCallback) (Datum *values, bool *nulls, void *arg);

/* etcd's RangeRequest sort order and target (also the targets of a compare) */
typedef enum KvSortOrder
{
	KV_SORT_NONE,
	KV_SORT_ASCEND,
	KV_SORT_DESCEND
} KvSortOrder;

typedef enum KvTarget
{
	KV_TARGET_KEY,
	KV_TARGET_VERSION,
	KV_TARGET_CREATE,
	KV_TARGET_MOD,
	KV_TARGET_VALUE,
	KV_TARGET_LEASE				/* compares only */
} KvTarget;

/* The options of etcd's RangeRequest besides the range itself */
typedef struct KvReadOptions
{
	int64		revision;		/* <= 0: the current one */
	int64		limit;			/* <= 0: no limit */
	bool		keys_only;		/* values come back NULL */
	bool		count_only;		/* no rows, only the count */
	bool		serializable;	/* accepted; see kv_get */
	KvSortOrder sort_order;
	KvTarget	sort_target;
	int64		min_mod_revision;	/* 0: no bound, as the three below */
	int64		max_mod_revision;
	int64		min_create_revision;
	int64		max_create_revision;
} KvReadOptions;

/* What etcd's RangeResponse says besides the rows */
typedef struct KvReadResult
{
	int64		count;			/* keys in the range, before filters and limit */
	bool		more;			/* rows beyond the limit were left out */
} KvReadResult;

/*
 * One etcd request that writes (a put, a delete, a txn): all its writes are
 * at one revision, numbered by sub.  KvWriteBegin takes the writers' lock
 * and the next revision; KvWriteEnd ends the request.
 */
typedef struct KvWriter
{
	int64		revision;		/* the request's revision */
	int32		writes;			/* writes made so far (the next sub) */
} KvWriter;

/* Flags of a put, as etcd's PutRequest */
#define KV_PUT_IGNORE_VALUE		0x01
#define KV_PUT_IGNORE_LEASE		0x02

extern SPIPlanPtr KvPreparePlan(const char *sql, int nargs, const Oid *argtypes,
							   int cursor_options);
extern void KvWriteBegin(KvWriter *writer, bool will_write);
extern void KvWriteEnd(KvWriter *writer);
extern void KvPutAt(KvWriter *writer, text *key, bytea *value, int64 lease,
					int flags, KvRowCallback prev_kv, void *arg);
extern int64 KvDeleteAt(KvWriter *writer, const KvRange *range,
						KvRowCallback prev_kv, void *arg);
extern void KvLogPrevRow(uint64 row, int64 revision, int32 sub, int first);
extern int64 KvPut(text *key, bytea *value, int64 lease);
extern void KvPutMany(int n, text **keys, bytea **values, const int64 *leases,
					  int64 *revisions);
extern int64 KvDeleteRange(const KvRange *range, int64 *revision);

extern void KvReadOptionsInit(KvReadOptions *options);
extern void KvRead(const KvRange *range, const KvReadOptions *options,
				   KvRowCallback callback, void *arg, KvReadResult *result);
extern int64 KvSharedRevision(Oid relid);
extern void KvSetSharedRevision(Oid relid, int64 revision);
extern bool KvReadInto(const KvRange *range, const KvReadOptions *options,
					   Tuplestorestate *store, TupleDesc desc, MemoryContext context);
extern int64 KvCurrentRevision(void);
extern int64 KvCompactRevision(void);
extern void KvCheckRevision(int64 revision);
extern void KvCheckCompacted(int64 revision);
extern int64 KvCompact(int64 revision);
extern void KvWaitDurable(void);

extern void KvCheckKey(text *key);
extern void KvCheckValue(bytea *value);
extern void KvCheckLease(int64 lease);
extern bool KvQuotaExceeded(Size adding, int64 *size);
extern void KvCheckQuota(Size adding);
extern bool KvLeaseAlive(int64 id);
extern TimestampTz KvLeaseRound(void);
extern void KvLeasePromote(void);
extern void KvPrefixRange(text *prefix, KvRange *range);
extern bool KvKeyInRange(const char *key, int keylen, const KvRange *range);

/* Replies (kv_txn.c) */
extern void KvAppendBytes(bson_t *doc, const char *name, const bytea *value);

/* Writes through a raft group (kv_raft.c) */
extern int64 KvRaftPut(text *key, bytea *value, int64 lease, int flags,
					   KvRowCallback prev_kv, void *arg);
extern int64 KvRaftDelete(const KvRange *range, KvRowCallback prev_kv, void *arg);

/* Watch (kv_watch.c) */
extern void KvWatchInit(void);
extern void KvWatchWake(void);

/* kv_apply.c */
extern void KvApplyInit(void);
extern bool KvApplyPut(FunctionCallInfo fcinfo, text *key, bytea *value, int64 lease,
					   int64 *revision);
extern void KvApplyReleaseDatabase(Oid dboid);

#endif							/* KV_H */
