/*-------------------------------------------------------------------------
 *
 * raft_log.c
 *	  The durable state of a Raft member, in tables of the replicated
 *	  database: nosql.raft_state (term, vote, commit, compaction point,
 *	  applied index and configuration), nosql.raft_log (the entries after
 *	  the compaction point) and nosql.raft_member (addresses).
 *
 * Design note.  Keeping the log in tables makes it crash-safe by the WAL
 * with no file format of our own, and lets the apply of committed entries
 * and the applied index share one transaction with the key-value store's
 * tables: after a crash the member resumes from the applied index the
 * store's own state commits with, so no entry is applied twice or
 * skipped.  The worker persists each Ready (hard state, entries, a
 * received snapshot) in one transaction committed with
 * synchronous_commit = local, i.e. flushed before any message of that
 * Ready leaves; the apply transactions need no flush of their own, since
 * what they apply is already durable in the log.
 *
 * Snapshots are the store itself: RaftLogSnapshotBuild writes every
 * version in nosql.kv_history, the leases, the compaction point and the
 * members, as of the applied index, into one buffer (sent in chunks by
 * the worker); RaftLogSnapshotInstall replaces the store with it in one
 * transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "raft.h"

#define RAFT_SNAP_MAGIC "NSNP"
#define RAFT_SNAP_VERSION 1
#define RAFT_INSERT_BATCH 1000

/* the last index in nosql.raft_log (or the compaction point), as written */
static uint64 log_last_index = PG_UINT64_MAX;

/* ---------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------
 */

static void
RaftExec(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	/*
	 * Plans are kept for the worker's life, by the statement's address (the
	 * statements are string constants): every put runs several of these.
	 */
	static struct
	{
		const char *sql;
		SPIPlanPtr	plan;
	}			plans[32];
	static int	nplans = 0;
	SPIPlanPtr	plan = NULL;
	int			rc;

	for (int i = 0; i < nplans; i++)
		if (plans[i].sql == sql)
			plan = plans[i].plan;
	if (plan == NULL)
	{
		plan = SPI_prepare(sql, nargs, types);
		if (plan == NULL)
			elog(ERROR, "raft storage: could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (nplans < (int) lengthof(plans))
		{
			SPI_keepplan(plan);
			plans[nplans].sql = sql;
			plans[nplans].plan = plan;
			nplans++;
		}
	}
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	if (rc != expected)
		elog(ERROR, "raft storage: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

static int64
RaftGetInt64(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* A configuration as two bigint[] */
static Datum
RaftIdsArray(const RaftId *ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum((int64) ids[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static int
RaftIdsFromArray(int row, int col, RaftId *ids)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
	Datum	   *elems;
	int			n;

	if (isnull)
		return 0;
	deconstruct_array(DatumGetArrayTypeP(d), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, NULL, &n);
	n = Min(n, RAFT_MAX_MEMBERS);
	for (int i = 0; i < n; i++)
		ids[i] = (RaftId) DatumGetInt64(elems[i]);
	return n;
}

static void
RaftLoadPeers(RaftPeerAddr *peers, int *npeers)
{
	RaftExec("SELECT node_id, address FROM nosql.raft_member ORDER BY node_id",
			 0, NULL, NULL, SPI_OK_SELECT);
	*npeers = 0;
	for (uint64 i = 0; i < SPI_processed && *npeers < 2 * RAFT_MAX_MEMBERS; i++)
	{
		char	   *addr = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		peers[*npeers].id = (RaftId) RaftGetInt64(i, 1);
		strlcpy(peers[*npeers].addr, addr ? addr : "", RAFT_ADDR_LEN);
		(*npeers)++;
	}
}

/* ---------------------------------------------------------------------
 * Load, bootstrap, persist
 * ---------------------------------------------------------------------
 */

/*
 * RaftLogLoad
 *		Read the durable state (in a transaction, connected to SPI by the
 *		caller); entries are palloc'd in the current context.
 */
void
RaftLogLoad(RaftDurable *d)
{
	memset(d, 0, sizeof(*d));
	RaftExec("SELECT term, vote, commit_index, snap_index, snap_term, snap_voters, snap_learners,"
			 " applied_index, applied_term, applied_voters, applied_learners, last_conf_index"
			 " FROM nosql.raft_state", 0, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		d->fresh = true;
		return;
	}
	d->hard.term = RaftGetInt64(0, 1);
	d->hard.vote = RaftGetInt64(0, 2);
	d->hard.commit = RaftGetInt64(0, 3);
	d->snapshot.index = RaftGetInt64(0, 4);
	d->snapshot.term = RaftGetInt64(0, 5);
	d->snapshot.conf.nvoters = RaftIdsFromArray(0, 6, d->snapshot.conf.voters);
	d->snapshot.conf.nlearners = RaftIdsFromArray(0, 7, d->snapshot.conf.learners);
	d->applied = RaftGetInt64(0, 8);
	d->applied_term = RaftGetInt64(0, 9);
	d->applied_conf.nvoters = RaftIdsFromArray(0, 10, d->applied_conf.voters);
	d->applied_conf.nlearners = RaftIdsFromArray(0, 11, d->applied_conf.learners);
	d->last_conf_index = RaftGetInt64(0, 12);

	RaftLoadPeers(d->peers, &d->npeers);

	{
		Datum		arg = Int64GetDatum((int64) d->snapshot.index);
		Oid			type = INT8OID;

		RaftExec("SELECT idx, term, type, data FROM nosql.raft_log WHERE idx > $1 ORDER BY idx",
				 1, &type, &arg, SPI_OK_SELECT);
	}
	d->nentries = SPI_processed;
	log_last_index = SPI_processed > 0 ? (uint64) RaftGetInt64(SPI_processed - 1, 1) :
		d->snapshot.index;
	d->entries = palloc0(sizeof(RaftEntry) * Max(d->nentries, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bytea	   *data;

		d->entries[i].index = RaftGetInt64(i, 1);
		d->entries[i].term = RaftGetInt64(i, 2);
		d->entries[i].type = (uint8) DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i],
																  SPI_tuptable->tupdesc, 3, &isnull));
		data = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull));
		d->entries[i].len = VARSIZE_ANY_EXHDR(data);
		d->entries[i].data = palloc(Max(d->entries[i].len, 1));
		memcpy(d->entries[i].data, VARDATA_ANY(data), d->entries[i].len);
	}
}

/*
 * RaftLogBootstrap
 *		The first state of a member: the initial configuration at index 0
 *		and the members' addresses.
 */
void
RaftLogBootstrap(const RaftConfState *conf, const RaftPeerAddr *peers, int npeers)
{
	Oid			types[2] = {INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[2];

	values[0] = RaftIdsArray(conf->voters, conf->nvoters);
	values[1] = RaftIdsArray(conf->learners, conf->nlearners);
	RaftExec("INSERT INTO nosql.raft_state (term, vote, commit_index, snap_index, snap_term,"
			 " snap_voters, snap_learners, applied_index, applied_term, applied_voters,"
			 " applied_learners, last_conf_index) VALUES (0, 0, 0, 0, 0, $1, $2, 0, 0, $1, $2, 0)",
			 2, types, values, SPI_OK_INSERT);
	RaftLogSavePeers(peers, npeers);
}

void
RaftLogSavePeers(const RaftPeerAddr *peers, int npeers)
{
	RaftExec("DELETE FROM nosql.raft_member", 0, NULL, NULL, SPI_OK_DELETE);
	for (int i = 0; i < npeers; i++)
	{
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		values[2];

		values[0] = Int64GetDatum((int64) peers[i].id);
		values[1] = CStringGetTextDatum(peers[i].addr);
		RaftExec("INSERT INTO nosql.raft_member (node_id, address) VALUES ($1, $2)",
				 2, types, values, SPI_OK_INSERT);
	}
}

/*
 * RaftLogPersist
 *		Make a Ready's hard state, snapshot point and entries durable (the
 *		caller's transaction, committed with synchronous_commit = local).
 */
void
RaftLogPersist(const RaftReady *rd)
{
	if (rd->has_snapshot)
	{
		Oid			types[4] = {INT8OID, INT8OID, INT8ARRAYOID, INT8ARRAYOID};
		Datum		values[4];

		values[0] = Int64GetDatum((int64) rd->snapshot.index);
		values[1] = Int64GetDatum((int64) rd->snapshot.term);
		values[2] = RaftIdsArray(rd->snapshot.conf.voters, rd->snapshot.conf.nvoters);
		values[3] = RaftIdsArray(rd->snapshot.conf.learners, rd->snapshot.conf.nlearners);
		RaftExec("DELETE FROM nosql.raft_log", 0, NULL, NULL, SPI_OK_DELETE);
		log_last_index = rd->snapshot.index;
		RaftExec("UPDATE nosql.raft_state SET snap_index = $1, snap_term = $2,"
				 " snap_voters = $3, snap_learners = $4, commit_index = greatest(commit_index, $1)",
				 4, types, values, SPI_OK_UPDATE);
	}
	if (rd->nentries > 0)
	{
		Oid			types[4] = {INT8ARRAYOID, INT8ARRAYOID, INT2ARRAYOID, BYTEAARRAYOID};
		Datum		first = Int64GetDatum((int64) rd->entries[0].index);
		Oid			int8type = INT8OID;

		/* entries that replace a suffix of the log drop it first */
		if (rd->entries[0].index <= log_last_index)
			RaftExec("DELETE FROM nosql.raft_log WHERE idx >= $1", 1, &int8type, &first, SPI_OK_DELETE);
		log_last_index = rd->entries[rd->nentries - 1].index;
		for (size_t start = 0; start < rd->nentries; start += RAFT_INSERT_BATCH)
		{
			size_t		n = Min(rd->nentries - start, RAFT_INSERT_BATCH);
			Datum	   *idx = palloc(sizeof(Datum) * n);
			Datum	   *term = palloc(sizeof(Datum) * n);
			Datum	   *type = palloc(sizeof(Datum) * n);
			Datum	   *data = palloc(sizeof(Datum) * n);
			Datum		values[4];

			for (size_t i = 0; i < n; i++)
			{
				const RaftEntry *e = &rd->entries[start + i];
				bytea	   *b = palloc(VARHDRSZ + e->len);

				SET_VARSIZE(b, VARHDRSZ + e->len);
				if (e->len > 0)
					memcpy(VARDATA(b), e->data, e->len);
				idx[i] = Int64GetDatum((int64) e->index);
				term[i] = Int64GetDatum((int64) e->term);
				type[i] = Int16GetDatum((int16) e->type);
				data[i] = PointerGetDatum(b);
			}
			values[0] = PointerGetDatum(construct_array(idx, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			values[1] = PointerGetDatum(construct_array(term, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			values[2] = PointerGetDatum(construct_array(type, n, INT2OID, 2, true, TYPALIGN_SHORT));
			values[3] = PointerGetDatum(construct_array(data, n, BYTEAOID, -1, false, TYPALIGN_INT));
			RaftExec("INSERT INTO nosql.raft_log (idx, term, type, data)"
					 " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bytea[])",
					 4, types, values, SPI_OK_INSERT);
		}
	}
	if (rd->has_hard_state)
	{
		Oid			types[3] = {INT8OID, INT8OID, INT8OID};
		Datum		values[3];

		values[0] = Int64GetDatum((int64) rd->hard_state.term);
		values[1] = Int64GetDatum((int64) rd->hard_state.vote);
		values[2] = Int64GetDatum((int64) rd->hard_state.commit);
		RaftExec("UPDATE nosql.raft_state SET term = $1, vote = $2, commit_index = $3",
				 3, types, values, SPI_OK_UPDATE);
	}
}

/*
 * RaftLogSaveApplied
 *		The applied index, in the transaction that applied it.
 */
void
RaftLogSaveApplied(uint64 index, uint64 term, const RaftConfState *conf,
				   uint64 last_conf_index)
{
	Oid			types[5] = {INT8OID, INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT8OID};
	Datum		values[5];

	values[0] = Int64GetDatum((int64) index);
	values[1] = Int64GetDatum((int64) term);
	values[2] = RaftIdsArray(conf->voters, conf->nvoters);
	values[3] = RaftIdsArray(conf->learners, conf->nlearners);
	values[4] = Int64GetDatum((int64) last_conf_index);
	RaftExec("UPDATE nosql.raft_state SET applied_index = $1, applied_term = $2,"
			 " applied_voters = $3, applied_learners = $4, last_conf_index = $5,"
			 " commit_index = greatest(commit_index, $1)",
			 5, types, values, SPI_OK_UPDATE);
}

/*
 * RaftLogCompact
 *		Drop the entries up to index (the core has compacted to it) and
 *		record the compaction point, with the configuration as of the
 *		applied index (the caller compacts only where that is the one).
 */
void
RaftLogCompact(uint64 index)
{
	Datum		arg = Int64GetDatum((int64) index);
	Oid			type = INT8OID;

	RaftExec("UPDATE nosql.raft_state SET snap_index = $1,"
			 " snap_term = (SELECT term FROM nosql.raft_log WHERE idx = $1),"
			 " snap_voters = applied_voters, snap_learners = applied_learners"
			 " WHERE EXISTS (SELECT FROM nosql.raft_log WHERE idx = $1)",
			 1, &type, &arg, SPI_OK_UPDATE);
	RaftExec("DELETE FROM nosql.raft_log WHERE idx <= $1", 1, &type, &arg, SPI_OK_DELETE);
}

/* ---------------------------------------------------------------------
 * Snapshots
 * ---------------------------------------------------------------------
 */

static void
SnapPut64(StringInfo s, uint64 v)
{
	v = pg_hton64(v);
	appendBinaryStringInfo(s, (char *) &v, 8);
}

static void
SnapPutBytes(StringInfo s, const char *p, int len)
{
	SnapPut64(s, (uint64) len);
	appendBinaryStringInfo(s, p, len);
}

typedef struct SnapReader
{
	const char *p;
	const char *end;
} SnapReader;

static void
SnapCorrupt(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("raft snapshot is malformed")));
}

static uint64
SnapGet64(SnapReader *r)
{
	uint64		v;

	if (r->end - r->p < 8)
		SnapCorrupt();
	memcpy(&v, r->p, 8);
	r->p += 8;
	return pg_ntoh64(v);
}

static const char *
SnapGetBytes(SnapReader *r, int *len)
{
	uint64		n = SnapGet64(r);
	const char *p = r->p;

	if (n > (uint64) (r->end - r->p) || n > MaxAllocSize)
		SnapCorrupt();
	r->p += n;
	*len = (int) n;
	return p;
}

/*
 * RaftLogSnapshotBuild
 *		The store as of the applied index, into out (the caller's
 *		transaction; the worker is the only writer of the store in
 *		clustered mode, so what it reads is the state at that index).
 */
void
RaftLogSnapshotBuild(StringInfo out, uint64 *index)
{
	Portal		portal;

	appendBinaryStringInfo(out, RAFT_SNAP_MAGIC, 4);
	SnapPut64(out, RAFT_SNAP_VERSION);
	RaftExec("SELECT applied_index FROM nosql.raft_state", 0, NULL, NULL, SPI_OK_SELECT);
	*index = SPI_processed > 0 ? (uint64) RaftGetInt64(0, 1) : 0;
	SnapPut64(out, *index);

	/* the history, 1: present */
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT key, mod_revision, sub, create_revision, version,"
									   " value, lease, deleted FROM nosql.kv_history",
									   0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			text	   *key = DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull));
			Datum		value;

			appendStringInfoChar(out, 1);
			SnapPutBytes(out, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
			SnapPut64(out, (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull)));
			SnapPut64(out, (uint64) DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull)));
			SnapPut64(out, (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull)));
			SnapPut64(out, (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull)));
			value = SPI_getbinval(tup, desc, 6, &isnull);
			if (isnull)
				SnapPut64(out, PG_UINT64_MAX);
			else
			{
				bytea	   *b = DatumGetByteaPP(value);

				SnapPutBytes(out, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
			SnapPut64(out, (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull)));
			appendStringInfoChar(out, DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull)) ? 1 : 0);
		}
	}
	SPI_cursor_close(portal);

	/* leases, 2 */
	RaftExec("SELECT id, granted_ttl FROM nosql.kv_lease", 0, NULL, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		appendStringInfoChar(out, 2);
		SnapPut64(out, (uint64) RaftGetInt64(i, 1));
		SnapPut64(out, (uint64) RaftGetInt64(i, 2));
	}
	/* compaction point, 3 */
	RaftExec("SELECT revision FROM nosql.kv_compaction", 0, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		appendStringInfoChar(out, 3);
		SnapPut64(out, (uint64) RaftGetInt64(0, 1));
	}
	/* members, 4 */
	RaftExec("SELECT node_id, address FROM nosql.raft_member", 0, NULL, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *addr = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		appendStringInfoChar(out, 4);
		SnapPut64(out, (uint64) RaftGetInt64(i, 1));
		SnapPutBytes(out, addr, strlen(addr));
	}
	appendStringInfoChar(out, 0);
}

/* Insert a batch of history rows */
static void
SnapFlushHistory(int n, Datum *cols[8], bool *valnulls)
{
	Oid			types[8] = {TEXTARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT8ARRAYOID,
	INT8ARRAYOID, BYTEAARRAYOID, INT8ARRAYOID, BOOLARRAYOID};
	Datum		values[8];
	int			dims[1] = {n};
	int			lbs[1] = {1};

	if (n == 0)
		return;
	values[0] = PointerGetDatum(construct_array(cols[0], n, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(cols[1], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(cols[2], n, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(cols[3], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = PointerGetDatum(construct_array(cols[4], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[5] = PointerGetDatum(construct_md_array(cols[5], valnulls, 1, dims, lbs,
												   BYTEAOID, -1, false, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(cols[6], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[7] = PointerGetDatum(construct_array(cols[7], n, BOOLOID, 1, true, TYPALIGN_CHAR));
	RaftExec("INSERT INTO nosql.kv_history (key, mod_revision, sub, create_revision, version,"
			 " value, lease, deleted) SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[],"
			 " $4::bigint[], $5::bigint[], $6::bytea[], $7::bigint[], $8::boolean[])",
			 8, types, values, SPI_OK_INSERT);
}

/*
 * RaftLogSnapshotInstall
 *		Replace the store by a snapshot, in the caller's transaction, and
 *		set the applied index, the compaction point and the configuration
 *		to its metadata; the members' addresses come back in peers.
 */
void
RaftLogSnapshotInstall(const char *data, Size len, const RaftSnapshotMeta *meta,
					   RaftPeerAddr *peers, int *npeers)
{
	SnapReader	r = {data, data + len};
	Datum	   *cols[8];
	bool	   *valnulls;
	int			n = 0;

	if (len < 20 || memcmp(data, RAFT_SNAP_MAGIC, 4) != 0)
		SnapCorrupt();
	r.p += 4;
	if (SnapGet64(&r) != RAFT_SNAP_VERSION)
		SnapCorrupt();
	if (SnapGet64(&r) != meta->index)
		SnapCorrupt();

	RaftExec("TRUNCATE nosql.kv_history, nosql.kv_lease, nosql.kv_compaction",
			 0, NULL, NULL, SPI_OK_UTILITY);
	for (int c = 0; c < 8; c++)
		cols[c] = palloc(sizeof(Datum) * RAFT_INSERT_BATCH);
	valnulls = palloc(sizeof(bool) * RAFT_INSERT_BATCH);
	*npeers = 0;
	for (;;)
	{
		int			tag;

		if (r.p >= r.end)
			SnapCorrupt();
		tag = (uint8) *r.p++;
		if (tag == 0)
			break;
		if (tag == 1)
		{
			int			klen;
			const char *k = SnapGetBytes(&r, &klen);
			uint64		vlen;

			cols[0][n] = PointerGetDatum(cstring_to_text_with_len(k, klen));
			cols[1][n] = Int64GetDatum((int64) SnapGet64(&r));
			cols[2][n] = Int32GetDatum((int32) SnapGet64(&r));
			cols[3][n] = Int64GetDatum((int64) SnapGet64(&r));
			cols[4][n] = Int64GetDatum((int64) SnapGet64(&r));
			vlen = SnapGet64(&r);
			if (vlen == PG_UINT64_MAX)
			{
				valnulls[n] = true;
				cols[5][n] = (Datum) 0;
			}
			else
			{
				bytea	   *b;

				if (vlen > (uint64) (r.end - r.p) || vlen > MaxAllocSize - VARHDRSZ)
					SnapCorrupt();
				b = palloc(VARHDRSZ + vlen);
				SET_VARSIZE(b, VARHDRSZ + vlen);
				memcpy(VARDATA(b), r.p, vlen);
				r.p += vlen;
				valnulls[n] = false;
				cols[5][n] = PointerGetDatum(b);
			}
			cols[6][n] = Int64GetDatum((int64) SnapGet64(&r));
			if (r.p >= r.end)
				SnapCorrupt();
			cols[7][n] = BoolGetDatum(*r.p++ != 0);
			if (++n == RAFT_INSERT_BATCH)
			{
				SnapFlushHistory(n, cols, valnulls);
				n = 0;
			}
		}
		else if (tag == 2)
		{
			Oid			types[2] = {INT8OID, INT8OID};
			Datum		values[2];

			values[0] = Int64GetDatum((int64) SnapGet64(&r));
			values[1] = Int64GetDatum((int64) SnapGet64(&r));
			RaftExec("INSERT INTO nosql.kv_lease (id, granted_ttl, expires_at)"
					 " VALUES ($1, $2, now() + $2 * interval '1 second')",
					 2, types, values, SPI_OK_INSERT);
		}
		else if (tag == 3)
		{
			Oid			type = INT8OID;
			Datum		value = Int64GetDatum((int64) SnapGet64(&r));

			RaftExec("INSERT INTO nosql.kv_compaction (revision) VALUES ($1)",
					 1, &type, &value, SPI_OK_INSERT);
		}
		else if (tag == 4)
		{
			int			alen;
			const char *a;

			if (*npeers >= 2 * RAFT_MAX_MEMBERS)
				SnapCorrupt();
			peers[*npeers].id = (RaftId) SnapGet64(&r);
			a = SnapGetBytes(&r, &alen);
			if (alen >= RAFT_ADDR_LEN)
				SnapCorrupt();
			memcpy(peers[*npeers].addr, a, alen);
			peers[*npeers].addr[alen] = '\0';
			(*npeers)++;
		}
		else
			SnapCorrupt();
	}
	SnapFlushHistory(n, cols, valnulls);
	RaftLogSavePeers(peers, *npeers);

	{
		Oid			types[4] = {INT8OID, INT8OID, INT8ARRAYOID, INT8ARRAYOID};
		Datum		values[4];

		values[0] = Int64GetDatum((int64) meta->index);
		values[1] = Int64GetDatum((int64) meta->term);
		values[2] = RaftIdsArray(meta->conf.voters, meta->conf.nvoters);
		values[3] = RaftIdsArray(meta->conf.learners, meta->conf.nlearners);
		RaftExec("UPDATE nosql.raft_state SET applied_index = $1, applied_term = $2,"
				 " applied_voters = $3, applied_learners = $4, last_conf_index = $1,"
				 " snap_index = $1, snap_term = $2, snap_voters = $3, snap_learners = $4,"
				 " commit_index = greatest(commit_index, $1)",
				 4, types, values, SPI_OK_UPDATE);
		RaftExec("DELETE FROM nosql.raft_log", 0, NULL, NULL, SPI_OK_DELETE);
	}
}
