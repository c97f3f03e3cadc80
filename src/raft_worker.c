/*-------------------------------------------------------------------------
 *
 * raft_worker.c
 *	  The background worker that runs this server's member of the Raft
 *	  group: it drives the core (raft_core.c) with ticks, peers' messages
 *	  and the backends' requests, persists and sends what the core asks,
 *	  applies committed entries to the key-value store and answers the
 *	  waiting backends.
 *
 * Design note.  One loop, one process: wait on the latch and the sockets
 * (raft_net.c) until the next tick; take the backends' requests from their
 * slots (raft_client.c); step every message received; tick; then, while
 * the core has a Ready:
 *
 *	  1. install a received snapshot and persist the hard state and the
 *		 new entries, in one transaction flushed to disk (raft_log.c);
 *	  2. send the messages (a snapshot goes as chunks of the store as of
 *		 the applied index, then its message);
 *	  3. apply the committed entries in one transaction with the applied
 *		 index, each entry in a subtransaction so that an entry that fails
 *		 (a lease not found, a bad request) fails alone, with the same
 *		 error on every member; then answer the waiting backends;
 *	  4. advance the core.
 *
 * Apply runs the same code as a single server (kv_txn, kv_compact and the
 * lease functions) with RaftApplying set, so an entry means the same on
 * every member and a replicated store is byte for byte what one server
 * would hold.  What is not deterministic stays out of apply: lease
 * deadlines are each member's clock (only the leader acts on them, by
 * proposing LEASE_EXPIRE entries), and the quota is checked when a write
 * is proposed.
 *
 * The leader's log is compacted once more than nosql.raft_snapshot_entries
 * entries are applied beyond the last compaction point; a follower that
 * needs compacted entries gets a snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "port/pg_bswap.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bson.h"
#include "kv.h"
#include "nosql.h"
#include "raft.h"

#define RAFT_SNAP_CHUNK (1024 * 1024)
#define RAFT_LEASE_CHECK_MS 250

int			nosql_raft_snapshot_entries = 10000;

/* The SQL-callable functions apply calls */
extern Datum kv_txn(PG_FUNCTION_ARGS);
extern Datum kv_compact(PG_FUNCTION_ARGS);
extern Datum lease_grant(PG_FUNCTION_ARGS);
extern Datum lease_revoke(PG_FUNCTION_ARGS);
extern Datum lease_keepalive(PG_FUNCTION_ARGS);

static RaftNode *node;
static RaftRole role = RAFT_FOLLOWER;
static RaftId leader = RAFT_NONE;
static uint64 applied;
static uint64 applied_term;
static uint64 last_conf_index;
static RaftConfState applied_conf;
static RaftPeerAddr peers[2 * RAFT_MAX_MEMBERS];
static int	npeers;
static MemoryContext apply_context;
static uint64 read_batch_seq;	/* ids of the read index requests */
static RaftHardState persisted;	/* the hard state last flushed */

/* a snapshot being received, and the last one built */
static StringInfoData snap_in;
static uint64 snap_in_index;
static uint64 snap_in_total;
static StringInfoData snap_out;
static uint64 snap_out_index;

/* when each member last sent us something */
typedef struct RaftContact
{
	RaftId		id;
	TimestampTz at;
} RaftContact;
static RaftContact contacts[2 * RAFT_MAX_MEMBERS];
static int	ncontacts;

/* leases whose expiry this leader proposed, and when */
typedef struct RaftExpiring
{
	int64		id;
	TimestampTz proposed;
} RaftExpiring;
static RaftExpiring expiring[64];
static int	nexpiring;

/* One applied entry's answer for a waiting backend */
typedef struct RaftAnswer
{
	uint64		request_id;
	int			sqlerrcode;
	char	   *errmsg;
	char	   *errdetail;
	char	   *result;
	Size		result_len;
} RaftAnswer;

/* ---------------------------------------------------------------------
 * Allocation for the core: never NULL
 * ---------------------------------------------------------------------
 */

static void *
RaftMalloc(size_t n)
{
	void	   *p = malloc(Max(n, 1));

	if (p == NULL)
		ereport(FATAL, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in the raft worker")));
	return p;
}

static void *
RaftRealloc(void *p, size_t n)
{
	void	   *q = realloc(p, Max(n, 1));

	if (q == NULL)
		ereport(FATAL, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in the raft worker")));
	return q;
}

/* ---------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------
 */

void
RaftWorkerRegister(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "nosql");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "RaftWorkerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "nosql raft member " INT64_FORMAT, (int64) nosql_raft_node_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, "nosql raft");
	RegisterBackgroundWorker(&worker);
}

/* ---------------------------------------------------------------------
 * Transactions
 * ---------------------------------------------------------------------
 */

static void
RaftBegin(const char *synchronous_commit)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SetConfigOption("synchronous_commit", synchronous_commit, PGC_SUSET, PGC_S_OVERRIDE);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
RaftCommit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* ---------------------------------------------------------------------
 * Status
 * ---------------------------------------------------------------------
 */

static void
RaftNoteContact(RaftId from)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < ncontacts; i++)
		if (contacts[i].id == from)
		{
			contacts[i].at = now;
			return;
		}
	if (ncontacts < (int) lengthof(contacts))
	{
		contacts[ncontacts].id = from;
		contacts[ncontacts].at = now;
		ncontacts++;
	}
}

static TimestampTz
RaftContactOf(RaftId id)
{
	for (int i = 0; i < ncontacts; i++)
		if (contacts[i].id == id)
			return contacts[i].at;
	return 0;
}

static void
RaftPublishStatus(void)
{
	static char links[2 * RAFT_MAX_MEMBERS][RAFT_LINK_LEN];
	static TimestampTz links_at = 0;
	bool		links_fresh;
	TimestampTz now;
	RaftStatus	st;

	raft_get_status(node, &st);

	/* the connections' line, for a person reading: ten times a second */
	now = GetCurrentTimestamp();
	links_fresh = TimestampDifferenceExceeds(links_at, now, 100);
	if (links_fresh)
	{
		for (int j = 0; j < npeers; j++)
			RaftNetDescribe(peers[j].id, links[j], RAFT_LINK_LEN);
		links_at = now;
	}

	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	RaftState->status.running = true;
	RaftState->status.core = st;
	for (int j = 0; j < st.nprogress && j < (int) lengthof(RaftState->status.last_contact); j++)
		RaftState->status.last_contact[j] = RaftContactOf(st.progress[j].id);
	RaftState->status.npeers = npeers;
	memcpy(RaftState->status.peers, peers, sizeof(RaftPeerAddr) * npeers);
	if (links_fresh)
		memcpy(RaftState->status.links, links, sizeof(links[0]) * npeers);
	RaftState->status.leader_contact = (st.leader == (RaftId) nosql_raft_node_id) ?
		now : RaftContactOf(st.leader);
	LWLockRelease(&RaftState->lock);
}

/* ---------------------------------------------------------------------
 * Answers to backends
 * ---------------------------------------------------------------------
 */

/* Complete a slot (the lock held); frees an abandoned one */
static void
RaftSlotFinish(RaftSlot *s, int sqlerrcode, const char *msg, const char *detail,
			   const char *result, Size len)
{
	if (s->state == RAFT_SLOT_ABANDONED)
	{
		s->state = RAFT_SLOT_FREE;
		return;
	}
	s->sqlerrcode = sqlerrcode;
	strlcpy(s->errmsg, msg ? msg : "", RAFT_ERRMSG_LEN);
	strlcpy(s->errdetail, detail ? detail : "", RAFT_ERRMSG_LEN);
	if (result != NULL && sqlerrcode == 0)
	{
		s->result = dsa_allocate(RaftDsa(), Max(len, 1));
		memcpy(dsa_get_address(RaftDsa(), s->result), result, len);
		s->result_len = len;
	}
	s->state = RAFT_SLOT_DONE;
	ConditionVariableSignal(&s->cv);
}

/* The slot of a request id, if it still waits for it (lock held) */
static RaftSlot *
RaftSlotOf(uint64 request_id)
{
	uint64		i = request_id >> 40;
	RaftSlot   *s;

	if (request_id == 0 || i >= (uint64) RaftState->nslots)
		return NULL;
	s = &RaftState->slots[i];
	if (s->request_id != request_id ||
		(s->state != RAFT_SLOT_PROPOSED && s->state != RAFT_SLOT_READ_WAIT &&
		 s->state != RAFT_SLOT_ABANDONED))
		return NULL;
	return s;
}

/* Fail every proposed request: leadership changed */
static void
RaftFailProposed(void)
{
	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RaftState->nslots; i++)
	{
		RaftSlot   *s = &RaftState->slots[i];

		if (s->state != RAFT_SLOT_PROPOSED)
			continue;
		if (s->kind == RAFT_REQ_READ)
			RaftSlotFinish(s, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "the raft leader changed during a linearizable read",
						   "The read did not happen; it can be retried.", NULL, 0);
		else
			RaftSlotFinish(s, ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN,
						   "the outcome of the key-value request is unknown",
						   "The raft leader changed before the request was applied here; it may or may not have been applied.",
						   NULL, 0);
	}
	LWLockRelease(&RaftState->lock);
}

/* Wake the reads whose index is applied now */
static void
RaftWakeReads(void)
{
	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RaftState->nslots; i++)
	{
		RaftSlot   *s = &RaftState->slots[i];

		if (s->state == RAFT_SLOT_READ_WAIT && s->read_index <= applied)
			RaftSlotFinish(s, 0, NULL, NULL, NULL, 0);
	}
	LWLockRelease(&RaftState->lock);
	ConditionVariableBroadcast(&RaftState->applied_cv);
}

/* ---------------------------------------------------------------------
 * Requests from backends
 * ---------------------------------------------------------------------
 */

static void
RaftPutId(uint8 *p, uint64 v)
{
	v = pg_hton64(v);
	memcpy(p, &v, 8);
}

static uint64
RaftGetId(const uint8 *p)
{
	uint64		v;

	memcpy(&v, p, 8);
	return pg_ntoh64(v);
}

/*
 * Who proposed an entry: this member's id and the server's incarnation (a
 * random number drawn when shared memory is set up), so that an entry
 * proposed before a restart, applied after it, never answers a request
 * of the new incarnation that happens to reuse its slot and number.
 */
static uint64
RaftOrigin(void)
{
	return ((uint64) RaftState->incarnation << 32) | ((uint64) nosql_raft_node_id & 0xFFFFFFFF);
}

static const char *
RaftErrorName(int rc)
{
	switch (rc)
	{
		case RAFT_ERR_PROPOSAL_DROPPED:
			return "no raft leader is known, or leadership is moving";
		case RAFT_ERR_CONF_PENDING:
			return "another membership change is not applied yet";
		case RAFT_ERR_INVALID:
			return "the raft core refused the request";
		default:
			return "the raft core could not take the request";
	}
}

/* Take one submitted slot (lock not held); fills the slot on failure */
static void
RaftTakeOne(RaftSlot *s, int kind, int op, uint64 request_id, int64 arg,
			const uint8 *payload, Size len)
{
	int			rc = RAFT_OK;
	RaftStatus	st;

	raft_get_status(node, &st);
	if (kind == RAFT_REQ_WRITE)
	{
		uint8	   *data = palloc(len);

		memcpy(data, payload, len);
		RaftPutId(data + 2, RaftOrigin());
		RaftPutId(data + 10, request_id);
		rc = raft_propose(node, data, len);
		pfree(data);
	}
	else if (kind == RAFT_REQ_ADD_MEMBER || kind == RAFT_REQ_REMOVE_MEMBER)
	{
		RaftConfChange cc;
		Size		alen = (kind == RAFT_REQ_ADD_MEMBER && len > 0) ? strlen((const char *) payload) : 0;
		uint8	   *ctx = palloc(16 + alen + 1);

		RaftPutId(ctx, RaftOrigin());
		RaftPutId(ctx + 8, request_id);
		if (alen > 0)
			memcpy(ctx + 16, payload, alen);
		cc.type = kind == RAFT_REQ_REMOVE_MEMBER ? RAFT_CONF_REMOVE :
			op == 1 ? RAFT_CONF_ADD_VOTER : RAFT_CONF_ADD_LEARNER;
		cc.node = (RaftId) arg;
		cc.context_len = 16 + alen;
		cc.context = ctx;
		rc = raft_propose_conf_change(node, &cc);
		pfree(ctx);
	}
	else if (kind == RAFT_REQ_TRANSFER)
	{
		rc = raft_transfer_leader(node, (RaftId) arg);
		LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
		if (s->request_id == request_id)
		{
			if (rc == RAFT_OK)
				RaftSlotFinish(s, 0, NULL, NULL, NULL, 0);
			else
				RaftSlotFinish(s, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   RaftErrorName(rc), NULL, NULL, 0);
		}
		LWLockRelease(&RaftState->lock);
		return;
	}
	if (rc != RAFT_OK)
	{
		LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
		if (s->request_id == request_id)
			RaftSlotFinish(s, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   RaftErrorName(rc),
						   st.leader == RAFT_NONE ?
						   "The group has no leader now (an election is running, or too few members are reachable); the request was not taken." :
						   "The request was not taken.",
						   NULL, 0);
		LWLockRelease(&RaftState->lock);
	}
}

static void
RaftTakeRequests(void)
{
	dsa_area   *area = RaftDsa();
	uint64		batch = 0;

	for (int i = 0; i < RaftState->nslots; i++)
	{
		RaftSlot   *s = &RaftState->slots[i];
		int			kind;
		int			op;
		uint64		request_id;
		int64		arg;
		dsa_pointer payload;
		Size		len;
		uint8	   *copy = NULL;

		if (s->state != RAFT_SLOT_SUBMITTED && s->state != RAFT_SLOT_ABANDONED)
			continue;			/* unlocked peek; checked again below */
		LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
		if (s->state == RAFT_SLOT_ABANDONED)
		{
			/* given up: forget it (a late apply finds another request id) */
			if (DsaPointerIsValid(s->payload))
				dsa_free(area, s->payload);
			s->payload = InvalidDsaPointer;
			s->request_id = 0;
			s->state = RAFT_SLOT_FREE;
			LWLockRelease(&RaftState->lock);
			continue;
		}
		if (s->state != RAFT_SLOT_SUBMITTED)
		{
			LWLockRelease(&RaftState->lock);
			continue;
		}
		kind = s->kind;
		op = s->op;
		request_id = s->request_id;
		arg = s->arg;
		payload = s->payload;
		len = s->payload_len;
		s->payload = InvalidDsaPointer;
		s->state = RAFT_SLOT_PROPOSED;
		if (kind == RAFT_REQ_READ)
		{
			/* reads taken together share one read index request */
			if (batch == 0)
				batch = ++read_batch_seq;
			s->read_batch = batch;
			LWLockRelease(&RaftState->lock);
			continue;
		}
		LWLockRelease(&RaftState->lock);

		if (DsaPointerIsValid(payload))
		{
			copy = palloc(len + 1);
			memcpy(copy, dsa_get_address(area, payload), len);
			copy[len] = '\0';
			dsa_free(area, payload);
		}
		RaftTakeOne(s, kind, op, request_id, arg, copy, len);
		if (copy)
			pfree(copy);
	}
	if (batch != 0)
	{
		RaftStatus	st;
		int			rc = raft_read_index(node, batch);

		if (rc != RAFT_OK)
		{
			raft_get_status(node, &st);
			LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
			for (int i = 0; i < RaftState->nslots; i++)
			{
				RaftSlot   *s = &RaftState->slots[i];

				if (s->state == RAFT_SLOT_PROPOSED && s->kind == RAFT_REQ_READ &&
					s->read_batch == batch)
					RaftSlotFinish(s, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
								   RaftErrorName(rc),
								   st.leader == RAFT_NONE ?
								   "The group has no leader now; the read did not happen." :
								   "The read did not happen.",
								   NULL, 0);
			}
			LWLockRelease(&RaftState->lock);
		}
	}
}

/* ---------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------
 */

static void
RaftReceive(RaftId from, int kind, const uint8_t *data, Size len)
{
	RaftNoteContact(from);
	if (kind == RAFT_FRAME_SNAP_CHUNK)
	{
		uint64		index;
		uint64		offset;
		uint64		total;

		if (len < 24)
			return;
		index = RaftGetId(data);
		offset = RaftGetId(data + 8);
		total = RaftGetId(data + 16);
		if (offset == 0 || index != snap_in_index)
		{
			resetStringInfo(&snap_in);
			snap_in_index = index;
			snap_in_total = total;
		}
		if (offset != (uint64) snap_in.len || total != snap_in_total ||
			total > MaxAllocSize || offset + (len - 24) > total)
		{
			resetStringInfo(&snap_in);
			snap_in_index = 0;
			return;
		}
		appendBinaryStringInfo(&snap_in, (const char *) data + 24, len - 24);
		return;
	}
	if (kind == RAFT_FRAME_MSG)
	{
		RaftMessage m;

		if (raft_msg_decode(data, len, &m) != RAFT_OK)
		{
			ereport(LOG,
					(errmsg("raft: a malformed message from member " UINT64_FORMAT " was ignored",
							(uint64) from)));
			return;
		}
		if (m.from != from)
		{
			raft_msg_free(&m);
			return;
		}
		if (m.type == RAFT_MSG_SNAP && raft_msg_snapshot_acceptable(node, &m) &&
			(snap_in_index != m.snapshot.index || (uint64) snap_in.len != snap_in_total))
		{
			/* the data did not all arrive: let the leader send it again */
			raft_msg_free(&m);
			return;
		}
		(void) raft_step(node, &m);
		raft_msg_free(&m);
	}
}

/* The store as of the applied index, built once per index */
static void
RaftBuildSnapshot(void)
{
	uint64		index;

	if (snap_out_index == applied && snap_out.len > 0)
		return;
	resetStringInfo(&snap_out);
	RaftBegin("off");
	RaftLogSnapshotBuild(&snap_out, &index);
	RaftCommit();
	if (index != applied)
		elog(ERROR, "raft: the snapshot is at index " UINT64_FORMAT ", the worker applied " UINT64_FORMAT,
			 index, applied);
	snap_out_index = applied;
}

static void
RaftSendSnapshot(RaftMessage *m)
{
	bool		ok = true;
	uint64		term = raft_term_at(node, applied);
	uint8	   *buf;
	Size		size;

	if (applied == 0 || term == 0)
	{
		raft_report_snapshot(node, m->to, true);
		return;
	}
	RaftBuildSnapshot();
	for (uint64 off = 0; ok && off < (uint64) snap_out.len; off += RAFT_SNAP_CHUNK)
	{
		Size		n = Min((uint64) RAFT_SNAP_CHUNK, snap_out.len - off);
		uint8	   *chunk = palloc(24 + n);

		RaftPutId(chunk, applied);
		RaftPutId(chunk + 8, off);
		RaftPutId(chunk + 16, snap_out.len);
		memcpy(chunk + 24, snap_out.data + off, n);
		ok = RaftNetSend(m->to, RAFT_FRAME_SNAP_CHUNK, chunk, 24 + n);
		pfree(chunk);
	}
	m->snapshot.index = applied;
	m->snapshot.term = term;
	m->snapshot.conf = applied_conf;
	if (ok)
	{
		size = raft_msg_encoded_size(m);
		buf = palloc(size);
		raft_msg_encode(m, buf, size);
		ok = RaftNetSend(m->to, RAFT_FRAME_MSG, buf, size);
		pfree(buf);
	}
	raft_report_snapshot(node, m->to, !ok);
}

static void
RaftSendMessages(RaftMessage *msgs, size_t n)
{
	RaftId		unreachable[2 * RAFT_MAX_MEMBERS];
	int			nunreachable = 0;

	for (size_t i = 0; i < n; i++)
	{
		RaftMessage *m = &msgs[i];
		Size		size;
		uint8	   *buf;
		bool		ok;

		if (m->type == RAFT_MSG_SNAP)
		{
			RaftSendSnapshot(m);
			continue;
		}
		size = raft_msg_encoded_size(m);
		buf = palloc(size);
		raft_msg_encode(m, buf, size);
		ok = RaftNetSend(m->to, RAFT_FRAME_MSG, buf, size);
		pfree(buf);
		if (!ok)
		{
			bool		seen = false;

			for (int j = 0; j < nunreachable; j++)
				seen |= (unreachable[j] == m->to);
			if (!seen && nunreachable < (int) lengthof(unreachable))
				unreachable[nunreachable++] = m->to;
		}
	}
	for (int j = 0; j < nunreachable; j++)
		raft_report_unreachable(node, unreachable[j]);
}

/* ---------------------------------------------------------------------
 * Apply
 * ---------------------------------------------------------------------
 */

/* Run one key-value entry; the result into *answer (the apply context) */
static void
RaftApplyOp(int op, const uint8 *payload, Size len, RaftAnswer *answer)
{
	int64		args[2] = {0, 0};
	int64		r = 0;

	if (op == RAFT_OP_TXN)
	{
		Bson	   *request = palloc(VARHDRSZ + len);
		Bson	   *reply;

		SET_VARSIZE(request, VARHDRSZ + len);
		memcpy(VARDATA(request), payload, len);
		reply = DatumGetBsonP(DirectFunctionCall1(kv_txn, PointerGetDatum(request)));
		answer->result_len = VARSIZE_ANY_EXHDR(reply);
		answer->result = MemoryContextAlloc(apply_context, Max(answer->result_len, 1));
		memcpy(answer->result, VARDATA_ANY(reply), answer->result_len);
		return;
	}
	if (len != sizeof(args))
		elog(ERROR, "raft: a malformed key-value entry (operation %d, %zu bytes)", op, len);
	memcpy(args, payload, sizeof(args));
	switch (op)
	{
		case RAFT_OP_COMPACT:
			r = DatumGetInt64(DirectFunctionCall1(kv_compact, Int64GetDatum(args[0])));
			break;
		case RAFT_OP_LEASE_GRANT:
			r = DatumGetInt64(DirectFunctionCall2(lease_grant, Int64GetDatum(args[1]),
												  Int64GetDatum(args[0])));
			break;
		case RAFT_OP_LEASE_REVOKE:
			r = DatumGetInt64(DirectFunctionCall1(lease_revoke, Int64GetDatum(args[0])));
			break;
		case RAFT_OP_LEASE_KEEPALIVE:
			r = DatumGetInt64(DirectFunctionCall1(lease_keepalive, Int64GetDatum(args[0])));
			break;
		case RAFT_OP_LEASE_EXPIRE:
			{
				Datum		id = Int64GetDatum(args[0]);
				Oid			type = INT8OID;

				SPI_execute_with_args("SELECT FROM nosql.kv_lease WHERE id = $1",
									  1, &type, &id, NULL, true, 0);
				if (SPI_processed > 0)
				{
					r = DatumGetInt64(DirectFunctionCall1(lease_revoke, id));
					ereport(DEBUG1,
							(errmsg("raft: lease " INT64_FORMAT " expired, " INT64_FORMAT " keys deleted",
									args[0], r)));
				}
			}
			break;
		default:
			elog(ERROR, "raft: unknown key-value operation %d", op);
	}
	answer->result_len = sizeof(int64);
	answer->result = MemoryContextAlloc(apply_context, sizeof(int64));
	memcpy(answer->result, &r, sizeof(int64));
}

/* Run an entry in a subtransaction; an error becomes the answer */
static void
RaftApplyEntry(const RaftEntry *e, RaftAnswer *answer)
{
	MemoryContext old = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int			op;

	if (e->len < RAFT_ENTRY_HEADER || e->data[0] != RAFT_ENTRY_VERSION)
	{
		ereport(WARNING,
				(errmsg("raft: entry " UINT64_FORMAT " is not a key-value request; skipped",
						(uint64) e->index)));
		return;
	}
	op = e->data[1];
	if (RaftGetId(e->data + 2) == RaftOrigin())
		answer->request_id = RaftGetId(e->data + 10);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(old);
	PG_TRY();
	{
		RaftApplyOp(op, e->data + RAFT_ENTRY_HEADER, e->len - RAFT_ENTRY_HEADER, answer);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(old);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(apply_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(old);
		CurrentResourceOwner = owner;
		answer->sqlerrcode = edata->sqlerrcode;
		answer->errmsg = edata->message;
		answer->errdetail = edata->detail;
		answer->result = NULL;
	}
	PG_END_TRY();
}

/* Apply a configuration entry; the addresses change with it */
static void
RaftApplyConf(const RaftEntry *e, RaftAnswer *answer)
{
	RaftConfChange cc;

	if (raft_conf_change_decode(e->data, e->len, &cc) != RAFT_OK)
	{
		ereport(WARNING,
				(errmsg("raft: configuration entry " UINT64_FORMAT " is malformed; skipped",
						(uint64) e->index)));
		return;
	}
	raft_apply_conf_change(node, &cc, &applied_conf);
	last_conf_index = e->index;
	if (cc.context_len >= 16 && RaftGetId(cc.context) == RaftOrigin())
		answer->request_id = RaftGetId(cc.context + 8);
	if (cc.type == RAFT_CONF_REMOVE)
	{
		for (int i = 0; i < npeers; i++)
			if (peers[i].id == cc.node)
				peers[i--] = peers[--npeers];
	}
	else if (cc.context_len > 16 && cc.context_len - 16 < RAFT_ADDR_LEN)
	{
		int			i;

		for (i = 0; i < npeers; i++)
			if (peers[i].id == cc.node)
				break;
		if (i == npeers && npeers < (int) lengthof(peers))
			npeers++;
		if (i < npeers)
		{
			peers[i].id = cc.node;
			memcpy(peers[i].addr, cc.context + 16, cc.context_len - 16);
			peers[i].addr[cc.context_len - 16] = '\0';
		}
	}
	RaftLogSavePeers(peers, npeers);
	ereport(LOG,
			(errmsg("raft: membership change at index " UINT64_FORMAT ": %s member " UINT64_FORMAT,
					(uint64) e->index,
					cc.type == RAFT_CONF_REMOVE ? "removed" :
					cc.type == RAFT_CONF_ADD_VOTER ? "voting" : "learner",
					(uint64) cc.node),
			 errdetail("The group has %d voters and %d learners.",
					   applied_conf.nvoters, applied_conf.nlearners)));
	answer->result = NULL;
}

static void
RaftApply(const RaftEntry *entries, size_t n)
{
	RaftAnswer *answers;
	bool		conf_changed = false;

	if (n == 0)
		return;
	MemoryContextReset(apply_context);
	answers = MemoryContextAllocZero(apply_context, sizeof(RaftAnswer) * n);
	RaftBegin("off");
	RaftApplying = true;
	for (size_t i = 0; i < n; i++)
	{
		const RaftEntry *e = &entries[i];

		if (e->index <= applied)
			continue;
		if (e->type == RAFT_ENTRY_CONF)
		{
			RaftApplyConf(e, &answers[i]);
			conf_changed = true;
		}
		else if (e->len > 0)
			RaftApplyEntry(e, &answers[i]);
		applied = e->index;
		applied_term = e->term;
	}
	RaftApplying = false;
	RaftLogSaveApplied(applied, applied_term, &applied_conf, last_conf_index);
	RaftCommit();

	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	for (size_t i = 0; i < n; i++)
	{
		RaftSlot   *s = RaftSlotOf(answers[i].request_id);

		if (s != NULL)
			RaftSlotFinish(s, answers[i].sqlerrcode, answers[i].errmsg, answers[i].errdetail,
						   answers[i].result, answers[i].result_len);
	}
	LWLockRelease(&RaftState->lock);
	RaftWakeReads();
	if (conf_changed)
		RaftNetSetPeers(peers, npeers);
}

/* Compact the log once enough is applied beyond the compaction point */
static void
RaftMaybeCompact(void)
{
	RaftStatus	st;
	uint64		upto;

	raft_get_status(node, &st);
	if (applied < st.first_index + (uint64) nosql_raft_snapshot_entries)
		return;
	upto = applied;
	if (upto < last_conf_index)
		return;
	if (raft_compact(node, upto, &applied_conf) != RAFT_OK)
		return;
	RaftBegin("off");
	RaftLogCompact(upto);
	RaftCommit();
}

/* ---------------------------------------------------------------------
 * Leases
 * ---------------------------------------------------------------------
 */

/* A new leader gives every lease its full TTL again, as etcd's does */
static void
RaftLeasePromote(void)
{
	RaftBegin("off");
	SPI_execute("UPDATE nosql.kv_lease SET expires_at = now() + granted_ttl * interval '1 second'",
				false, 0);
	RaftCommit();
	nexpiring = 0;
}

/* The leader proposes the expiry of leases past their deadline */
static void
RaftLeaseExpire(void)
{
	int64		ids[64];
	int			n = 0;
	TimestampTz now = GetCurrentTimestamp();

	RaftBegin("off");
	if (SPI_execute("SELECT id FROM nosql.kv_lease WHERE expires_at <= now() ORDER BY expires_at LIMIT 64",
					true, 0) == SPI_OK_SELECT)
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;

			ids[n++] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		}
	RaftCommit();
	for (int i = 0; i < n; i++)
	{
		uint8		data[RAFT_ENTRY_HEADER + 16];
		int64		args[2] = {ids[i], 0};
		int			k;

		for (k = 0; k < nexpiring; k++)
			if (expiring[k].id == ids[i])
				break;
		if (k < nexpiring && !TimestampDifferenceExceeds(expiring[k].proposed, now, 2000))
			continue;
		memset(data, 0, RAFT_ENTRY_HEADER);
		data[0] = RAFT_ENTRY_VERSION;
		data[1] = RAFT_OP_LEASE_EXPIRE;
		memcpy(data + RAFT_ENTRY_HEADER, args, sizeof(args));
		if (raft_propose(node, data, sizeof(data)) != RAFT_OK)
			break;
		if (k == nexpiring)
		{
			if (nexpiring == (int) lengthof(expiring))
				k = 0;
			else
				nexpiring++;
		}
		expiring[k].id = ids[i];
		expiring[k].proposed = now;
	}
}

/* ---------------------------------------------------------------------
 * The loop
 * ---------------------------------------------------------------------
 */

static void
RaftHandleReady(void)
{
	while (raft_has_ready(node))
	{
		RaftReady	rd;
		bool		need_sync;
		bool		sent_early;

		raft_ready(node, &rd);
		if (rd.soft_state_changed)
		{
			RaftId		old_leader = leader;

			if (rd.leader != old_leader)
			{
				if (rd.role == RAFT_LEADER)
					ereport(LOG,
							(errmsg("raft: member " INT64_FORMAT " is the leader",
									(int64) nosql_raft_node_id)));
				else if (rd.leader != RAFT_NONE)
					ereport(LOG,
							(errmsg("raft: member " UINT64_FORMAT " is the leader",
									(uint64) rd.leader)));
				else
					ereport(LOG, (errmsg("raft: the group has no leader")));
				RaftFailProposed();
			}
			if (rd.role != role &&
				(rd.role == RAFT_PRE_CANDIDATE || rd.role == RAFT_CANDIDATE))
			{
				RaftStatus	st;

				raft_get_status(node, &st);
				ereport(LOG,
						(errmsg("raft: member " INT64_FORMAT " campaigns for term " UINT64_FORMAT " (%s)",
								(int64) nosql_raft_node_id,
								rd.role == RAFT_PRE_CANDIDATE ? st.term + 1 : st.term,
								rd.role == RAFT_PRE_CANDIDATE ? "pre-vote" : "vote"),
						 errhidestmt(true)));
			}
			if (rd.role == RAFT_LEADER && role != RAFT_LEADER)
				RaftLeasePromote();
			role = rd.role;
			leader = rd.leader;
		}
		/*
		 * Only term, vote and entries must be on disk before messages go:
		 * a Ready that moves only the commit index needs no flush (the
		 * apply transaction records commit >= applied, and a lost commit
		 * index is learnt again from the leader).
		 */
		need_sync = rd.has_snapshot || rd.nentries > 0 ||
			(rd.has_hard_state && (rd.hard_state.term != persisted.term ||
								   rd.hard_state.vote != persisted.vote));

		/*
		 * A leader sends its appends before it writes them itself (the Raft
		 * thesis, 10.2.1), so its flush and the followers' overlap: the
		 * frames are written to the sockets before the flush starts.  That is
		 * safe here because this loop is sequential: a follower's answer is
		 * read only after this flush has finished, so the leader never
		 * counts its own copy towards a commit before the copy is durable.
		 * Not when the term or vote changes in this Ready (a vote must be on
		 * disk before it is sent).
		 */
		sent_early = (rd.role == RAFT_LEADER && !rd.has_snapshot &&
					  !(rd.has_hard_state && (rd.hard_state.term != persisted.term ||
											  rd.hard_state.vote != persisted.vote)));
		if (sent_early)
		{
			RaftSendMessages(rd.msgs, rd.nmsgs);
			RaftNetFlush();
		}
		if (need_sync)
		{
			RaftBegin("local");
			if (rd.has_snapshot)
			{
				if (snap_in_index != rd.snapshot.index || (uint64) snap_in.len != snap_in_total)
					elog(FATAL, "raft: the snapshot to install at index " UINT64_FORMAT " is not here",
						 (uint64) rd.snapshot.index);
				RaftLogSnapshotInstall(snap_in.data, snap_in.len, &rd.snapshot, peers, &npeers);
			}
			RaftLogPersist(&rd);
			RaftCommit();
			if (rd.has_hard_state)
				persisted = rd.hard_state;
			if (rd.has_snapshot)
			{
				applied = rd.snapshot.index;
				applied_term = rd.snapshot.term;
				applied_conf = rd.snapshot.conf;
				last_conf_index = rd.snapshot.index;
				resetStringInfo(&snap_in);
				snap_in_index = 0;
				RaftNetSetPeers(peers, npeers);
				ereport(DEBUG1,
						(errmsg("raft: installed a snapshot of the store at index " UINT64_FORMAT,
								(uint64) rd.snapshot.index)));
			}
		}
		if (!sent_early)
		{
			RaftSendMessages(rd.msgs, rd.nmsgs);
			RaftNetFlush();
		}
		RaftApply(rd.committed, rd.ncommitted);
		if (rd.nread_states > 0)
		{
			LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
			for (size_t i = 0; i < rd.nread_states; i++)
				for (int k = 0; k < RaftState->nslots; k++)
				{
					RaftSlot   *s = &RaftState->slots[k];

					if (s->state == RAFT_SLOT_PROPOSED && s->kind == RAFT_REQ_READ &&
						s->read_batch == rd.read_states[i].context)
					{
						s->read_index = rd.read_states[i].index;
						s->state = RAFT_SLOT_READ_WAIT;
					}
				}
			LWLockRelease(&RaftState->lock);
			RaftWakeReads();
		}
		raft_advance(node, &rd);
	}
	RaftMaybeCompact();
}

static void
RaftWorkerExit(int code, Datum arg)
{
	if (RaftState == NULL)
		return;
	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	RaftState->worker_pid = 0;
	RaftState->worker_latch = NULL;
	RaftState->status.running = false;
	LWLockRelease(&RaftState->lock);
	RaftFailProposed();
}

/*
 * Load the durable state, or create it on a fresh member, and create the
 * core from it (inside the transaction: the entries read live in SPI's
 * memory until it ends, and the core copies them).
 */
static void
RaftStart(void)
{
	RaftConfig	cfgdata;
	RaftDurable ddata;
	RaftConfig *cfg = &cfgdata;
	RaftDurable *d = &ddata;

	RaftBegin("local");
	if (SPI_execute("SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
					" ON n.oid = c.relnamespace WHERE n.nspname = 'nosql' AND c.relname = 'raft_state'",
					true, 0) != SPI_OK_SELECT || SPI_processed == 0)
		ereport(FATAL,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the nosql extension is not installed in database \"%s\" (nosql.raft_database)",
						nosql_raft_database),
				 errhint("CREATE EXTENSION nosql there; the worker starts again by itself.")));
	RaftLogLoad(d);
	if (d->fresh)
	{
		RaftConfState conf;
		RaftPeerAddr gpeers[RAFT_MAX_MEMBERS];
		int			ngpeers;

		memset(&conf, 0, sizeof(conf));
		RaftParsePeers(nosql_raft_peers, gpeers, &ngpeers, FATAL);
		if (!nosql_raft_join)
			for (int i = 0; i < ngpeers; i++)
				conf.voters[conf.nvoters++] = gpeers[i].id;
		RaftLogBootstrap(&conf, gpeers, ngpeers);
		RaftLogLoad(d);
	}

	memset(cfg, 0, sizeof(*cfg));
	cfg->id = (RaftId) nosql_raft_node_id;
	cfg->heartbeat_ticks = 1;
	cfg->election_ticks = Max(2, nosql_raft_election_timeout_ms / nosql_raft_heartbeat_ms);
	cfg->pre_vote = true;
	cfg->check_quorum = true;
	cfg->asker_confirms = nosql_raft_read_asker_confirms;
	if (!pg_strong_random(&cfg->seed, sizeof(cfg->seed)))
		cfg->seed = (uint64) MyProcPid;
	/* at most 16 MB of appends in flight to a follower */
	cfg->max_msg_bytes = 256 * 1024;
	cfg->max_inflight = 64;
	cfg->hard_state = d->hard;
	cfg->snapshot = d->snapshot;
	cfg->nentries = d->nentries;
	cfg->entries = d->entries;
	cfg->applied = d->applied;

	persisted = d->hard;
	applied = d->applied;
	applied_term = d->applied_term;
	applied_conf = d->applied_conf;
	last_conf_index = d->last_conf_index;
	npeers = d->npeers;
	memcpy(peers, d->peers, sizeof(RaftPeerAddr) * npeers);
	node = raft_new(cfg);
	RaftCommit();
}

void
RaftWorkerMain(Datum arg)
{
	TimestampTz next_tick;
	TimestampTz next_lease;
	RaftPeerAddr gpeers[RAFT_MAX_MEMBERS];
	int			ngpeers;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(nosql_raft_database, NULL, 0);
	pgstat_report_appname("nosql raft");

	RaftParsePeers(nosql_raft_peers, gpeers, &ngpeers, FATAL);
	if (ngpeers > 1 && (nosql_raft_secret == NULL || nosql_raft_secret[0] == '\0'))
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nosql.raft_secret is not set"),
				 errdetail("The members of a raft group authenticate each other with a shared secret; the worker does not start without one.")));
	if (nosql_raft_listen == NULL || nosql_raft_listen[0] == '\0')
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nosql.raft_listen is not set")));

	raft_set_allocator(RaftMalloc, RaftRealloc, free);
	apply_context = AllocSetContextCreate(TopMemoryContext, "nosql raft apply",
										  ALLOCSET_DEFAULT_SIZES);
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		initStringInfo(&snap_in);
		initStringInfo(&snap_out);
		MemoryContextSwitchTo(old);
	}

	RaftStart();
	RaftNetInit((RaftId) nosql_raft_node_id, nosql_raft_listen,
				nosql_raft_secret ? nosql_raft_secret : "");
	RaftNetSetPeers(peers, npeers);

	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	RaftState->worker_pid = MyProcPid;
	RaftState->worker_latch = MyLatch;
	LWLockRelease(&RaftState->lock);
	before_shmem_exit(RaftWorkerExit, (Datum) 0);
	RaftPublishStatus();

	next_tick = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), nosql_raft_heartbeat_ms);
	next_lease = next_tick;
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		timeout = Max(0, TimestampDifferenceMilliseconds(now, next_tick));

		RaftNetWait(timeout, RaftReceive);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		RaftTakeRequests();
		now = GetCurrentTimestamp();
		while (now >= next_tick)
		{
			raft_tick(node);
			next_tick = TimestampTzPlusMilliseconds(next_tick, nosql_raft_heartbeat_ms);
			if (next_tick < now - 10 * 1000L * nosql_raft_heartbeat_ms)
				next_tick = now;
		}
		/* the leader's server is down, not just slow or cut off: elect now */
		if (role == RAFT_FOLLOWER && leader != RAFT_NONE && RaftNetPeerGone(leader))
			raft_leader_gone(node, leader);
		RaftHandleReady();
		if (role == RAFT_LEADER && now >= next_lease)
		{
			RaftLeaseExpire();
			next_lease = TimestampTzPlusMilliseconds(now, RAFT_LEASE_CHECK_MS);
			RaftHandleReady();
		}
		RaftPublishStatus();
	}
}
