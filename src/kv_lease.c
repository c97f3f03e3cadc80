/*-------------------------------------------------------------------------
 *
 * kv_lease.c
 *	  etcd's leases for the key-value store: nosql.lease_grant,
 *	  lease_revoke, lease_keepalive, lease_ttl, lease_list, the check of a
 *	  put's lease, and the expiry round of the database's background worker.
 *	  As in kv_sql.c, a NULL argument is an error rather than a silent no-op.
 *
 * Design note
 * -----------
 * A lease is a row of nosql.kv_lease: its id, the TTL it was granted (after
 * etcd's minimum) and its deadline, expires_at.  A key is attached to the
 * lease of its latest version (the lease column of nosql.kv_history), so a
 * put with a lease attaches the key and a later put without one detaches it,
 * as in etcd; the partial index on kv_history (lease) finds the versions
 * that name a lease, and the key's later versions, if any, say whether it
 * is still attached.  Revoking a lease, by lease_revoke or by expiry, is
 * one etcd request: a KvWriter that writes a tombstone for every key still
 * attached, all at one revision (none when the lease has no keys).
 *
 * Puts and revokes must not cross: a put may not leave a key attached to a
 * lease that is gone.  Both are writers of the store and queue on its
 * writers' lock (KvWriteBegin); a revoke deletes the lease's row first,
 * then takes the lock, then writes its tombstones.  A put checks its lease
 * (KvCheckLease in KvPutAt) once it holds the lock.  In READ COMMITTED the
 * check runs with a snapshot taken after the lock was granted: either the
 * revoke had committed then (its row is gone: the put fails, "lease not
 * found"), or the revoke had not yet taken the lock (it waits for the
 * put's commit, and its tombstones, in a newer snapshot, see the key).  In
 * REPEATABLE READ and SERIALIZABLE the put's snapshot may be older than the
 * revoke's commit, so the check also looks with the latest snapshot and
 * fails with a serialization error when the two disagree.  The check takes
 * no row lock on the lease, so no lock is ever taken in the opposite order
 * by keepalives, which update the row without the writers' lock.
 *
 * Expiry.  The database's background worker (worker.c) revokes each expired
 * lease in a transaction of its own and then sleeps until the earliest
 * deadline left (or its naptime).  A grant whose deadline is earlier than
 * the one the worker sleeps to sets the worker's latch when it commits (a
 * transaction callback, so that the worker finds the row).  Expired leases
 * that a transaction holds locked (a keepalive or revoke in progress) are
 * skipped and retried shortly.  Until the worker revokes it, an expired
 * lease takes no puts and no keepalives, as in etcd.
 *
 * Restarts.  etcd's lessor gives every lease its full TTL again when it
 * starts serving (Promote); the worker does the same when it is the first
 * worker of its database since the server (or its launcher) started.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "cdc.h"
#include "kv.h"
#include "raft.h"
#include "nosql.h"

/* How soon the worker looks again at an expired lease it could not take */
#define KV_LEASE_RETRY_MS		100

/* Tries at a random id before giving up (a collision is most unlikely) */
#define KV_LEASE_ID_TRIES		16

typedef enum KvLeasePlan
{
	KV_LEASE_PLAN_ALIVE,
	KV_LEASE_PLAN_GRANT,
	KV_LEASE_PLAN_REVOKE,
	KV_LEASE_PLAN_EXPIRE,
	KV_LEASE_PLAN_DELETE_KEYS,
	KV_LEASE_PLAN_COUNT_KEYS,
	KV_LEASE_PLAN_KEEPALIVE,
	KV_LEASE_PLAN_TTL,
	KV_LEASE_PLAN_KEYS,
	KV_LEASE_PLAN_VERSIONS,
	KV_LEASE_PLAN_LIST,
	KV_LEASE_PLAN_NEXT,
	KV_LEASE_PLAN_PROMOTE,
	KV_LEASE_PLAN_COUNT
} KvLeasePlan;

/* a deadline $n seconds from now */
#define KV_LEASE_DEADLINE(n) \
	"pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) " \
	"pg_catalog.make_interval(secs => " n "::pg_catalog.float8)"

/*
 * The keys attached to lease $1: live versions with the lease that no later
 * version of their key replaces.
 */
#define KV_LEASE_KEYS KV_LEASE_VERSIONS("h.key")
#define KV_LEASE_VERSIONS(cols) \
	"SELECT " cols " FROM nosql.kv_history h " \
	"WHERE h.lease OPERATOR(pg_catalog.=) $1 AND h.lease OPERATOR(pg_catalog.<>) 0 " \
	"AND NOT h.deleted AND NOT EXISTS (SELECT FROM nosql.kv_history n WHERE " \
	"nosql.kv_key_head(n.key) OPERATOR(pg_catalog.=) nosql.kv_key_head(h.key) " \
	"AND n.key OPERATOR(pg_catalog.=) h.key " \
	"AND (n.mod_revision OPERATOR(pg_catalog.>) h.mod_revision " \
	"OR (n.mod_revision OPERATOR(pg_catalog.=) h.mod_revision " \
	"AND n.sub OPERATOR(pg_catalog.>) h.sub)))"

typedef struct KvLeasePlanSpec
{
	const char *sql;
	int			nargs;
	Oid			argtypes[3];
} KvLeasePlanSpec;

static const KvLeasePlanSpec kv_lease_plan_specs[KV_LEASE_PLAN_COUNT] = {
	/* $1 id */
	[KV_LEASE_PLAN_ALIVE] = {
		"SELECT FROM nosql.kv_lease WHERE id OPERATOR(pg_catalog.=) $1 "
		"AND expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()",
		1, {INT8OID}
	},
	/* $1 id, $2 TTL */
	[KV_LEASE_PLAN_GRANT] = {
		"INSERT INTO nosql.kv_lease (id, granted_ttl, expires_at) "
		"VALUES ($1, $2, " KV_LEASE_DEADLINE("$2") ") "
		"ON CONFLICT (id) DO NOTHING RETURNING expires_at",
		2, {INT8OID, INT8OID}
	},
	/* $1 id */
	[KV_LEASE_PLAN_REVOKE] = {
		"DELETE FROM nosql.kv_lease WHERE id OPERATOR(pg_catalog.=) $1 RETURNING id",
		1, {INT8OID}
	},
	/* the lease that expired first, unless a transaction holds it */
	[KV_LEASE_PLAN_EXPIRE] = {
		"DELETE FROM nosql.kv_lease WHERE id OPERATOR(pg_catalog.=) ("
		"SELECT id FROM nosql.kv_lease "
		"WHERE expires_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp() "
		"ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
		0, {InvalidOid}
	},
	/* $1 id, $2 revision, $3 first sub: tombstones in key order */
	[KV_LEASE_PLAN_DELETE_KEYS] = {
		"INSERT INTO nosql.kv_history "
		"(key, mod_revision, sub, create_revision, version, value, lease, deleted) "
		"SELECT l.key, $2, (pg_catalog.row_number() OVER (ORDER BY "
		"nosql.kv_key_head(l.key), l.key)) OPERATOR(pg_catalog.+) $3 "
		"OPERATOR(pg_catalog.-) 1, 0, 0, NULL, 0, true FROM (" KV_LEASE_KEYS ") l",
		3, {INT8OID, INT8OID, INT4OID}
	},
	/* $1 id: how many keys are attached */
	[KV_LEASE_PLAN_COUNT_KEYS] = {
		"SELECT pg_catalog.count(*) FROM (" KV_LEASE_KEYS ") k", 1, {INT8OID}
	},
	/* $1 id: an unexpired lease gets its granted TTL again */
	[KV_LEASE_PLAN_KEEPALIVE] = {
		"UPDATE nosql.kv_lease SET expires_at = " KV_LEASE_DEADLINE("granted_ttl")
		" WHERE id OPERATOR(pg_catalog.=) $1 "
		"AND expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp() "
		"RETURNING granted_ttl",
		1, {INT8OID}
	},
	/* $1 id: the granted TTL and the whole seconds left, as etcd rounds */
	[KV_LEASE_PLAN_TTL] = {
		"SELECT granted_ttl, pg_catalog.floor(GREATEST(0, "
		"pg_catalog.date_part('epoch', expires_at OPERATOR(pg_catalog.-) "
		"pg_catalog.clock_timestamp())))::pg_catalog.int8 "
		"FROM nosql.kv_lease WHERE id OPERATOR(pg_catalog.=) $1",
		1, {INT8OID}
	},
	/* $1 id */
	[KV_LEASE_PLAN_KEYS] = {
		"SELECT k.key FROM (" KV_LEASE_KEYS ") k "
		"ORDER BY nosql.kv_key_head(k.key), k.key",
		1, {INT8OID}
	},
	/* $1 id: the versions a revoke deletes, in the order of their tombstones */
	[KV_LEASE_PLAN_VERSIONS] = {
		KV_LEASE_VERSIONS("h.key, h.value, h.create_revision, h.mod_revision, h.version, h.lease")
		" ORDER BY nosql.kv_key_head(h.key), h.key",
		1, {INT8OID}
	},
	[KV_LEASE_PLAN_LIST] = {
		"SELECT id FROM nosql.kv_lease ORDER BY id", 0, {InvalidOid}
	},
	[KV_LEASE_PLAN_NEXT] = {
		"SELECT pg_catalog.min(expires_at) FROM nosql.kv_lease", 0, {InvalidOid}
	},
	[KV_LEASE_PLAN_PROMOTE] = {
		"UPDATE nosql.kv_lease SET expires_at = " KV_LEASE_DEADLINE("granted_ttl"),
		0, {InvalidOid}
	},
};

static SPIPlanPtr kv_lease_plans[KV_LEASE_PLAN_COUNT];

/* The earliest deadline this transaction granted; DT_NOEND: none */
static TimestampTz kv_lease_new_deadline = DT_NOEND;
static bool kv_lease_callback_registered = false;

/*
 * KvLeaseExecute
 *		Run a statement of this file (prepared on first use in the session,
 *		search_path-safe as kv.c's) and check its result code; returns the
 *		rows processed.  The caller is connected to SPI.
 */
static uint64
KvLeaseExecute(KvLeasePlan which, Datum *values, int expected)
{
	int			rc;

	if (kv_lease_plans[which] == NULL)
	{
		const KvLeasePlanSpec *spec = &kv_lease_plan_specs[which];

		kv_lease_plans[which] = KvPreparePlan(spec->sql, spec->nargs, spec->argtypes, 0);
	}
	rc = SPI_execute_plan(kv_lease_plans[which], values, NULL, false, 0);
	if (rc != expected)
		elog(ERROR, "key-value lease statement %d failed: %s", (int) which,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/* A column of a row of the last statement; NULL only where allowed */
static Datum
KvLeaseResult(uint64 row, int column, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 column, isnull);
}

/* Refuse a NULL argument, naming it, as the other key-value calls do */
static void
KvLeaseArgNotNull(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s of a key-value call must not be null", name)));
}

/* The error of a lease that is not there, as etcd's ErrLeaseNotFound */
static void
KvLeaseNotFound(int64 id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("lease " INT64_FORMAT " not found", id)));
}

/*
 * KvLeaseXactCallback
 *		At commit, tell the database's worker of the earliest deadline the
 *		transaction granted, so that it wakes in time; at abort, forget it.
 */
static void
KvLeaseXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (kv_lease_new_deadline != DT_NOEND)
				WorkerLeaseDeadline(kv_lease_new_deadline);
			kv_lease_new_deadline = DT_NOEND;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_ABORT:
			kv_lease_new_deadline = DT_NOEND;
			break;
		default:
			break;
	}
}

/* Remember a new deadline for KvLeaseXactCallback */
static void
KvLeaseNoteDeadline(TimestampTz deadline)
{
	if (!kv_lease_callback_registered)
	{
		RegisterXactCallback(KvLeaseXactCallback, NULL);
		kv_lease_callback_registered = true;
	}
	if (deadline < kv_lease_new_deadline)
		kv_lease_new_deadline = deadline;
}

/*
 * KvLeaseAlive
 *		Whether a lease is granted and has not expired (KvCheckLease).  With
 *		a transaction snapshot (REPEATABLE READ, SERIALIZABLE), a lease
 *		granted or revoked by a transaction committed since the snapshot is
 *		a serialization failure: the answer would be stale.
 */
bool
KvLeaseAlive(int64 id)
{
	Datum		value = Int64GetDatum(id);
	bool		alive;

	SPI_connect();
	alive = KvLeaseExecute(KV_LEASE_PLAN_ALIVE, &value, SPI_OK_SELECT) > 0;
	if (IsolationUsesXactSnapshot())
	{
		int			rc;

		/* the statement is prepared: it just ran */
		rc = SPI_execute_snapshot(kv_lease_plans[KV_LEASE_PLAN_ALIVE], &value, NULL,
								  GetLatestSnapshot(), InvalidSnapshot,
								  true, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "key-value lease check failed: %s", SPI_result_code_string(rc));
		if ((SPI_processed > 0) != alive)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to a concurrent key-value lease change"),
					 errdetail("Lease " INT64_FORMAT " was granted or revoked after this transaction's snapshot was taken.", id),
					 errhint("Retry the transaction.")));
	}
	SPI_finish();
	return alive;
}

/* The owner of nosql.kv_history */
static Oid
KvLeaseHistoryOwner(void)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("nosql", "kv_history", -1), NoLock, false);
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * KvLeaseDeleteKeys
 *		The write part of a revoke, once the lease's row is deleted: one
 *		request that deletes the lease's keys at one revision; returns how
 *		many.
 */
static int64
KvLeaseDeleteKeys(int64 id)
{
	KvWriter	writer;
	Datum		values[3];
	uint64		deleted;
	int64		attached;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	bool		isnull;

	KvWriteBegin(&writer, false);
	SPI_connect();
	values[0] = Int64GetDatum(id);
	values[1] = Int64GetDatum(writer.revision);
	values[2] = Int32GetDatum(writer.writes);

	/*
	 * Row-level security may hide some of the lease's keys from the caller
	 * (a role limited to a prefix); etcd refuses to revoke a lease with keys
	 * the user may not write.  So count the keys as the table's owner, whom
	 * the policies do not restrict, and compare.
	 */
	owner = KvLeaseHistoryOwner();
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	KvLeaseExecute(KV_LEASE_PLAN_COUNT_KEYS, values, SPI_OK_SELECT);
	attached = DatumGetInt64(KvLeaseResult(0, 1, &isnull));
	SetUserIdAndSecContext(save_userid, save_sec_context);

	/* the change stream's prev_kv: the versions deleted, before their tombstones */
	if (CdcKvPrevWanted())
	{
		uint64		live = KvLeaseExecute(KV_LEASE_PLAN_VERSIONS, values, SPI_OK_SELECT);

		for (uint64 i = 0; i < live; i++)
			KvLogPrevRow(i, writer.revision, writer.writes + (int32) i, 1);
	}
	deleted = KvLeaseExecute(KV_LEASE_PLAN_DELETE_KEYS, values, SPI_OK_INSERT);
	if ((int64) deleted != attached)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to revoke lease " INT64_FORMAT, id),
				 errdetail("The lease has keys this role may not write, as etcd requires to revoke it.")));
	writer.writes += (int32) deleted;
	SPI_finish();
	KvWriteEnd(&writer);
	return (int64) deleted;
}

/* A random lease id in [0, 2^63): 0 is not an id, the caller draws again */
static int64
KvLeaseRandomId(void)
{
	uint64		r;

	if (!pg_strong_random(&r, sizeof(r)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random lease id")));
	return (int64) (r & PG_INT64_MAX);
}

/*
 * nosql.lease_grant(ttl_seconds bigint, id bigint DEFAULT 0) RETURNS bigint
 * — etcd's LeaseGrant: a lease of ttl_seconds, raised to etcd's minimum;
 * id 0 lets the server choose a new positive id at random.
 */
PG_FUNCTION_INFO_V1(lease_grant);
Datum
lease_grant(PG_FUNCTION_ARGS)
{
	int64		ttl;
	int64		id;
	bool		chosen;
	Datum		values[2];
	uint64		granted = 0;
	bool		isnull;

	KvLeaseArgNotNull(fcinfo, 0, "ttl_seconds");
	KvLeaseArgNotNull(fcinfo, 1, "id");
	ttl = PG_GETARG_INT64(0);
	id = PG_GETARG_INT64(1);
	chosen = (id == 0);

	if (ttl <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease TTL must be positive"),
				 errdetail("The TTL given is " INT64_FORMAT " seconds.", ttl)));
	if (ttl > KV_LEASE_MAX_TTL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too large lease TTL"),
				 errdetail("The TTL given is " INT64_FORMAT " seconds; etcd's limit is " INT64_FORMAT " seconds.",
						   ttl, KV_LEASE_MAX_TTL)));
	if (id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease id must not be negative"),
				 errhint("Use 0 to have an id chosen.")));
	if (ttl < KV_LEASE_MIN_TTL)
		ttl = KV_LEASE_MIN_TTL;

	/* on a raft member the id is chosen here, so every member grants it */
	if (RaftActive())
	{
		while (id == 0)
			id = KvLeaseRandomId();
		PG_RETURN_INT64(RaftKvCall(RAFT_OP_LEASE_GRANT, id, ttl));
	}

	SPI_connect();
	values[1] = Int64GetDatum(ttl);
	for (int attempt = 0; granted == 0 && attempt < (chosen ? KV_LEASE_ID_TRIES : 1); attempt++)
	{
		if (chosen)
		{
			id = KvLeaseRandomId();
			if (id == 0)
				continue;
		}
		values[0] = Int64GetDatum(id);
		granted = KvLeaseExecute(KV_LEASE_PLAN_GRANT, values, SPI_OK_INSERT_RETURNING);
	}
	if (granted == 0)
	{
		if (chosen)
			elog(ERROR, "no free random lease id found in %d tries", KV_LEASE_ID_TRIES);
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("lease " INT64_FORMAT " already exists", id)));
	}
	KvLeaseNoteDeadline(DatumGetTimestampTz(KvLeaseResult(0, 1, &isnull)));
	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * nosql.lease_revoke(id bigint) RETURNS bigint — etcd's LeaseRevoke: the
 * lease ends and its keys are deleted, at one revision; returns how many.
 */
PG_FUNCTION_INFO_V1(lease_revoke);
Datum
lease_revoke(PG_FUNCTION_ARGS)
{
	int64		id;
	Datum		value;
	uint64		found;

	KvLeaseArgNotNull(fcinfo, 0, "id");
	id = PG_GETARG_INT64(0);
	value = Int64GetDatum(id);
	if (RaftActive())
		PG_RETURN_INT64(RaftKvCall(RAFT_OP_LEASE_REVOKE, id, 0));

	SPI_connect();
	found = KvLeaseExecute(KV_LEASE_PLAN_REVOKE, &value, SPI_OK_DELETE_RETURNING);
	SPI_finish();
	if (found == 0)
		KvLeaseNotFound(id);
	PG_RETURN_INT64(KvLeaseDeleteKeys(id));
}

/*
 * nosql.lease_keepalive(id bigint) RETURNS bigint — one LeaseKeepAlive: the
 * lease's deadline is its granted TTL from now; returns that TTL.  An
 * expired lease cannot be kept alive, as in etcd.
 */
PG_FUNCTION_INFO_V1(lease_keepalive);
Datum
lease_keepalive(PG_FUNCTION_ARGS)
{
	int64		id;
	Datum		value;
	int64		ttl;
	bool		isnull;

	KvLeaseArgNotNull(fcinfo, 0, "id");
	id = PG_GETARG_INT64(0);
	value = Int64GetDatum(id);
	if (RaftActive())
		PG_RETURN_INT64(RaftKvCall(RAFT_OP_LEASE_KEEPALIVE, id, 0));

	SPI_connect();
	if (KvLeaseExecute(KV_LEASE_PLAN_KEEPALIVE, &value, SPI_OK_UPDATE_RETURNING) == 0)
	{
		if (KvLeaseExecute(KV_LEASE_PLAN_TTL, &value, SPI_OK_SELECT) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("lease " INT64_FORMAT " not found", id),
					 errdetail("The lease has expired; the background worker revokes it.")));
		KvLeaseNotFound(id);
	}
	ttl = DatumGetInt64(KvLeaseResult(0, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(ttl);
}

/*
 * nosql.lease_ttl(id bigint, keys boolean DEFAULT false, OUT id, OUT ttl,
 * OUT granted_ttl, OUT keys text[]) — etcd's LeaseTimeToLive: the whole
 * seconds left (0 once expired; -1 and granted_ttl 0 for no such lease, as
 * etcd answers), the TTL granted and, when asked, the keys attached in key
 * order (NULL when not asked).
 */
PG_FUNCTION_INFO_V1(lease_ttl);
Datum
lease_ttl(PG_FUNCTION_ARGS)
{
	int64		id;
	bool		want_keys;
	Datum		value;
	TupleDesc	desc;
	Datum		out[4];
	bool		nulls[4] = {false, false, false, false};
	bool		isnull;
	MemoryContext caller = CurrentMemoryContext;

	KvLeaseArgNotNull(fcinfo, 0, "id");
	KvLeaseArgNotNull(fcinfo, 1, "keys");
	id = PG_GETARG_INT64(0);
	want_keys = PG_GETARG_BOOL(1);
	value = Int64GetDatum(id);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "lease_ttl must return a composite type");
	desc = BlessTupleDesc(desc);

	out[0] = Int64GetDatum(id);
	out[1] = Int64GetDatum(-1);
	out[2] = Int64GetDatum(0);
	out[3] = (Datum) 0;
	nulls[3] = !want_keys;

	SPI_connect();
	if (KvLeaseExecute(KV_LEASE_PLAN_TTL, &value, SPI_OK_SELECT) > 0)
	{
		out[2] = KvLeaseResult(0, 1, &isnull);
		out[1] = KvLeaseResult(0, 2, &isnull);
	}
	if (want_keys)
	{
		uint64		n = 0;
		Datum	   *keys;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		if (DatumGetInt64(out[1]) >= 0)
			n = KvLeaseExecute(KV_LEASE_PLAN_KEYS, &value, SPI_OK_SELECT);
		/* the array outlives SPI: build it in the caller's memory */
		keys = (Datum *) palloc(sizeof(Datum) * Max(n, 1));
		for (uint64 i = 0; i < n; i++)
			keys[i] = PointerGetDatum(DatumGetTextPCopy(KvLeaseResult(i, 1, &isnull)));
		out[3] = PointerGetDatum(construct_array(keys, (int) n, TEXTOID, -1, false,
												 TYPALIGN_INT));
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	KvWaitDurable();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, nulls)));
}

/*
 * nosql.lease_list() RETURNS SETOF bigint — etcd's LeaseLeases: every
 * lease's id (expired ones too, until the worker revokes them).
 */
PG_FUNCTION_INFO_V1(lease_list);
Datum
lease_list(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		n;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	n = KvLeaseExecute(KV_LEASE_PLAN_LIST, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		id = KvLeaseResult(i, 1, &isnull);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &id, &isnull);
	}
	SPI_finish();
	KvWaitDurable();
	return (Datum) 0;
}


/* ---------------------------------------------------------------------
 * The background worker's part
 * ---------------------------------------------------------------------
 */

/*
 * KvLeaseExpireOne
 *		Revoke the lease that expired first, if any, in the current
 *		transaction; false when no expired lease is free to take.
 */
static bool
KvLeaseExpireOne(void)
{
	int64		id;
	int64		deleted;
	bool		isnull;

	SPI_connect();
	if (KvLeaseExecute(KV_LEASE_PLAN_EXPIRE, NULL, SPI_OK_DELETE_RETURNING) == 0)
	{
		SPI_finish();
		return false;
	}
	id = DatumGetInt64(KvLeaseResult(0, 1, &isnull));
	SPI_finish();
	deleted = KvLeaseDeleteKeys(id);
	ereport(DEBUG1,
			(errmsg("lease " INT64_FORMAT " expired, " INT64_FORMAT " keys deleted",
					id, deleted)));
	return true;
}

/* What a transaction of the worker's lease jobs works on */
typedef struct KvLeaseStep
{
	bool		expired;		/* KvLeaseExpireStep: a lease was revoked */
	TimestampTz next;			/* KvLeaseNextStep: the next deadline */
	uint64		renewed;		/* KvLeasePromoteStep: leases renewed */
} KvLeaseStep;

static void
KvLeaseExpireStep(void *arg)
{
	((KvLeaseStep *) arg)->expired = KvLeaseExpireOne();
}

static void
KvLeaseNextStep(void *arg)
{
	KvLeaseStep *step = (KvLeaseStep *) arg;
	bool		isnull;
	Datum		d;

	KvLeaseExecute(KV_LEASE_PLAN_NEXT, NULL, SPI_OK_SELECT);
	d = KvLeaseResult(0, 1, &isnull);
	step->next = isnull ? DT_NOEND : DatumGetTimestampTz(d);
}

static void
KvLeasePromoteStep(void *arg)
{
	((KvLeaseStep *) arg)->renewed = KvLeaseExecute(KV_LEASE_PLAN_PROMOTE, NULL, SPI_OK_UPDATE);
}

/*
 * KvLeaseRound
 *		The worker's round: revoke every expired lease, each in a
 *		transaction of its own, and return when the next one expires
 *		(DT_NOEND: no lease).  Errors are logged; the round then ends and
 *		asks to be run again shortly.  Outside any transaction.
 */
TimestampTz
KvLeaseRound(void)
{
	KvLeaseStep step = {false, DT_NOEND, 0};
	TimestampTz next = DT_NOEND;
	bool		failed = false;

	/* a raft member's leases expire by its group's leader (raft_worker.c) */
	if (RaftActive())
		return DT_NOEND;

	pgstat_report_activity(STATE_RUNNING, "nosql lease expiry");
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		step.expired = false;
		if (!WorkerTransaction(KvLeaseExpireStep, &step))
		{
			failed = true;
			break;
		}
		if (!step.expired)
			break;
	}
	if (!failed)
	{
		if (WorkerTransaction(KvLeaseNextStep, &step))
			next = step.next;
		else
			failed = true;
	}
	pgstat_report_activity(STATE_IDLE, NULL);

	/*
	 * After an error, or when an expired lease was held by a transaction
	 * (it is still the earliest deadline), look again shortly rather than
	 * at once.
	 */
	if (failed || next <= GetCurrentTimestamp())
		next = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   failed ? 1000 : KV_LEASE_RETRY_MS);
	return next;
}

/*
 * KvLeasePromote
 *		Give every lease its full granted TTL again, as etcd's lessor does
 *		when it starts serving; run by the first worker of the database
 *		after the server starts.  Errors are logged.  Outside any
 *		transaction.
 */
void
KvLeasePromote(void)
{
	KvLeaseStep step = {false, DT_NOEND, 0};

	if (WorkerTransaction(KvLeasePromoteStep, &step) && step.renewed > 0)
		ereport(LOG,
				(errmsg("nosql worker renewed " UINT64_FORMAT " key-value leases to their granted TTL",
						step.renewed)));
}
