/*-------------------------------------------------------------------------
 *
 * raft_client.c
 *	  The backends' side of the Raft group: the shared memory they share
 *	  with the worker, the key-value calls that go through the log in
 *	  clustered mode, linearizable reads (ReadIndex), and the SQL functions
 *	  nosql.raft_status_info, raft_add_member, raft_remove_member and
 *	  raft_transfer_leadership.
 *
 * Design note.  A backend with a request takes a free slot in shared
 * memory, puts its payload in a dynamic shared area, sets the worker's
 * latch and sleeps on the slot's condition variable; the worker proposes
 * it (a follower's core forwards it to the leader), applies it when it is
 * committed, and puts the result (or the error the apply raised) back
 * into the slot.  The request id carries the slot number, so the apply
 * finds the waiter without a search.  Nothing is retried: a request whose
 * entry may or may not have been committed when the leader changed, or
 * that outlives nosql.raft_request_timeout, fails with SQLSTATE 08007
 * (transaction_resolution_unknown), and the caller decides.  A request
 * the group certainly did not take (no leader known, the worker not
 * running) fails with 55000 or 57P03, and may be sent again.
 *
 * A linearizable read asks the worker for a read index (the leader's
 * commit index, confirmed by a heartbeat round) and waits until the local
 * applied index reaches it, then reads the local tables as usual;
 * serializable => true skips that and reads what this member has.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "bson.h"
#include "kv.h"
#include "nosql.h"
#include "raft.h"

#define RAFT_DSA_INITIAL (256 * 1024)

RaftShared *RaftState = NULL;
bool		RaftApplying = false;

static dsa_area *raft_dsa = NULL;
static Oid	raft_database_oid = InvalidOid;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
RaftShmemSize(void)
{
	return add_size(add_size(offsetof(RaftShared, dsa_space), RAFT_DSA_INITIAL),
					mul_size(sizeof(RaftSlot), MaxBackends));
}

static void
RaftShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(RaftShmemSize());
}

static void
RaftShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	RaftState = ShmemInitStruct("nosql raft", RaftShmemSize(), &found);
	if (!found)
	{
		dsa_area   *area;

		memset(RaftState, 0, offsetof(RaftShared, dsa_space));
		RaftState->tranche_id = LWLockNewTrancheId();
		LWLockInitialize(&RaftState->lock, RaftState->tranche_id);
		ConditionVariableInit(&RaftState->applied_cv);
		RaftState->nslots = MaxBackends;
		if (!pg_strong_random(&RaftState->incarnation, sizeof(RaftState->incarnation)))
			RaftState->incarnation = (uint32) time(NULL);
		RaftState->slots = (RaftSlot *) (RaftState->dsa_space + RAFT_DSA_INITIAL);
		for (int i = 0; i < RaftState->nslots; i++)
		{
			memset(&RaftState->slots[i], 0, sizeof(RaftSlot));
			ConditionVariableInit(&RaftState->slots[i].cv);
		}
		area = dsa_create_in_place(RaftState->dsa_space, RAFT_DSA_INITIAL,
								   RaftState->tranche_id, NULL);
		dsa_pin(area);
		dsa_detach(area);
	}
	LWLockRelease(AddinShmemInitLock);
	LWLockRegisterTranche(RaftState->tranche_id, "nosql raft");
}

/*
 * RaftInit
 *		Reserve the shared memory and register the worker; only while
 *		shared_preload_libraries is processed, and only when the server is
 *		a member (nosql.raft_node_id > 0).
 */
void
RaftInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RaftShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = RaftShmemStartup;
	if (nosql_raft_node_id > 0)
		RaftWorkerRegister();
}

dsa_area *
RaftDsa(void)
{
	if (raft_dsa == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		LWLockRegisterTranche(RaftState->tranche_id, "nosql raft");
		raft_dsa = dsa_attach_in_place(RaftState->dsa_space, NULL);
		dsa_pin_mapping(raft_dsa);
		MemoryContextSwitchTo(old);
	}
	return raft_dsa;
}

/* Whether this server is configured as a member */
bool
RaftConfigured(void)
{
	return nosql_raft_node_id > 0 && RaftState != NULL;
}

/*
 * RaftActive
 *		Whether key-value calls of this session go through the group: the
 *		server is a member, this is the replicated database, and this is
 *		not the worker applying an entry.
 */
bool
RaftActive(void)
{
	if (!RaftConfigured() || RaftApplying)
		return false;
	if (!OidIsValid(MyDatabaseId))
		return false;
	if (!OidIsValid(raft_database_oid))
	{
		/* a worker between its transactions needs one for the catalog */
		if (IsTransactionState())
			raft_database_oid = get_database_oid(nosql_raft_database, true);
		else
		{
			StartTransactionCommand();
			raft_database_oid = get_database_oid(nosql_raft_database, true);
			CommitTransactionCommand();
		}
	}
	return MyDatabaseId == raft_database_oid;
}

/*
 * RaftParsePeers
 *		'1=host:port,2=host:port' into peers; errors at elevel (a GUC check
 *		passes WARNING and looks at npeers < 0).
 */
void
RaftParsePeers(const char *value, RaftPeerAddr *peers, int *npeers, int elevel)
{
	char	   *copy = pstrdup(value ? value : "");
	char	   *save = NULL;
	char	   *item;

	*npeers = 0;
	for (item = strtok_r(copy, ", \t\n", &save); item != NULL;
		 item = strtok_r(NULL, ", \t\n", &save))
	{
		char	   *eq = strchr(item, '=');
		char	   *end;
		long long	id;

		if (eq == NULL || eq == item || eq[1] == '\0' || strchr(eq + 1, ':') == NULL)
			goto bad;
		*eq = '\0';
		errno = 0;
		id = strtoll(item, &end, 10);
		if (errno != 0 || *end != '\0' || id <= 0 || strlen(eq + 1) >= RAFT_ADDR_LEN ||
			*npeers >= RAFT_MAX_MEMBERS)
			goto bad;
		for (int i = 0; i < *npeers; i++)
			if (peers[i].id == (RaftId) id)
				goto bad;
		peers[*npeers].id = (RaftId) id;
		strlcpy(peers[*npeers].addr, eq + 1, RAFT_ADDR_LEN);
		(*npeers)++;
	}
	pfree(copy);
	return;
bad:
	pfree(copy);
	*npeers = -1;
	ereport(elevel,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid nosql.raft_peers \"%s\"", value),
			 errhint("Use a list like '1=127.0.0.1:7401,2=127.0.0.1:7402,3=127.0.0.1:7403' of at most %d distinct positive ids.",
					 RAFT_MAX_MEMBERS)));
}

/* ---------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------
 */

static void
RaftCheckWorker(void)
{
	if (RaftState->worker_pid == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CANNOT_CONNECT_NOW),
				 errmsg("the raft worker is not running"),
				 errdetail("This server is member " INT64_FORMAT " of a raft group, and its key-value store changes only through the group.",
						   (int64) nosql_raft_node_id),
				 errhint("Check the server log for the worker's errors.")));
}

/* Take a free slot and fill it; under no lock on entry */
static int
RaftSlotTake(int kind, int op, int64 arg, const void *payload, Size len)
{
	dsa_area   *area = RaftDsa();
	dsa_pointer p = InvalidDsaPointer;
	int			found = -1;

	if (len > 0)
	{
		p = dsa_allocate(area, len);
		memcpy(dsa_get_address(area, p), payload, len);
	}
	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RaftState->nslots; i++)
		if (RaftState->slots[i].state == RAFT_SLOT_FREE)
		{
			RaftSlot   *s = &RaftState->slots[i];

			found = i;
			s->kind = kind;
			s->op = op;
			s->arg = arg;
			s->request_id = ((uint64) i << 40) | (++RaftState->request_seq & ((UINT64CONST(1) << 40) - 1));
			s->payload = p;
			s->payload_len = len;
			s->result = InvalidDsaPointer;
			s->result_len = 0;
			s->sqlerrcode = 0;
			s->errmsg[0] = '\0';
			s->errdetail[0] = '\0';
			s->read_index = 0;
			s->read_batch = 0;
			s->state = RAFT_SLOT_SUBMITTED;
			break;
		}
	LWLockRelease(&RaftState->lock);
	if (found < 0)
	{
		if (DsaPointerIsValid(p))
			dsa_free(area, p);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("no free raft request slot")));
	}
	if (RaftState->worker_latch != NULL)
		SetLatch(RaftState->worker_latch);
	return found;
}

/* Give up on a slot (an error or a timeout while waiting) */
static void
RaftSlotAbandon(int i)
{
	RaftSlot   *s = &RaftState->slots[i];
	dsa_pointer result = InvalidDsaPointer;

	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	if (s->state == RAFT_SLOT_DONE)
	{
		result = s->result;
		s->result = InvalidDsaPointer;
		s->state = RAFT_SLOT_FREE;
	}
	else
		s->state = RAFT_SLOT_ABANDONED;
	LWLockRelease(&RaftState->lock);
	if (DsaPointerIsValid(result))
		dsa_free(RaftDsa(), result);
}

/*
 * Wait for a slot's result; returns it palloc'd (NULL if empty) with its
 * length, or raises the error the request met.
 */
static char *
RaftSlotWait(int i, Size *len)
{
	RaftSlot   *s = &RaftState->slots[i];
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   nosql_raft_request_timeout_ms);
	char	   *out = NULL;
	int			sqlerrcode;
	char		msg[RAFT_ERRMSG_LEN];
	char		detail[RAFT_ERRMSG_LEN];
	dsa_pointer result;

	PG_TRY();
	{
		ConditionVariablePrepareToSleep(&s->cv);
		for (;;)
		{
			int			state;
			long		left;

			LWLockAcquire(&RaftState->lock, LW_SHARED);
			state = s->state;
			LWLockRelease(&RaftState->lock);
			if (state == RAFT_SLOT_DONE)
				break;
			left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (left <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
						 errmsg("the outcome of the key-value request is unknown"),
						 errdetail("The raft group did not answer within nosql.raft_request_timeout (%d ms); the request may or may not have been applied.",
								   nosql_raft_request_timeout_ms)));
			(void) ConditionVariableTimedSleep(&s->cv, left, PG_WAIT_EXTENSION);
		}
		ConditionVariableCancelSleep();
	}
	PG_CATCH();
	{
		ConditionVariableCancelSleep();
		RaftSlotAbandon(i);
		PG_RE_THROW();
	}
	PG_END_TRY();

	LWLockAcquire(&RaftState->lock, LW_EXCLUSIVE);
	sqlerrcode = s->sqlerrcode;
	strlcpy(msg, s->errmsg, sizeof(msg));
	strlcpy(detail, s->errdetail, sizeof(detail));
	result = s->result;
	*len = s->result_len;
	s->result = InvalidDsaPointer;
	s->state = RAFT_SLOT_FREE;
	LWLockRelease(&RaftState->lock);
	if (DsaPointerIsValid(result))
	{
		out = palloc(Max(*len, 1));
		memcpy(out, dsa_get_address(RaftDsa(), result), *len);
		dsa_free(RaftDsa(), result);
	}
	if (sqlerrcode != 0)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg_internal("%s", msg),
				 detail[0] ? errdetail_internal("%s", detail) : 0));
	return out;
}

/* Refuse a write inside a transaction block unless allowed */
static void
RaftCheckTransaction(void)
{
	if (IsTransactionBlock() && !nosql_raft_allow_in_transaction)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("a key-value write in a raft group cannot run inside a transaction block"),
				 errdetail("The group commits the write itself: a ROLLBACK of this transaction would not undo it."),
				 errhint("Run it outside BEGIN ... COMMIT, or set nosql.raft_allow_in_transaction to accept that.")));
}

/* Submit one write and wait for its result */
static char *
RaftSubmit(RaftOp op, const char *payload, Size len, Size *result_len)
{
	char	   *buf = palloc(RAFT_ENTRY_HEADER + len);
	int			slot;

	RaftCheckTransaction();
	RaftCheckWorker();
	/* the header's origin and request id are set by the worker */
	memset(buf, 0, RAFT_ENTRY_HEADER);
	buf[0] = RAFT_ENTRY_VERSION;
	buf[1] = (char) op;
	if (len > 0)
		memcpy(buf + RAFT_ENTRY_HEADER, payload, len);
	slot = RaftSlotTake(RAFT_REQ_WRITE, op, 0, buf, RAFT_ENTRY_HEADER + len);
	pfree(buf);
	return RaftSlotWait(slot, result_len);
}

/*
 * RaftKvTxn
 *		An etcd TxnRequest through the group; returns the TxnResponse.
 */
Bson *
RaftKvTxn(Bson *request)
{
	Size		len;
	char	   *result;
	Bson	   *out;

	result = RaftSubmit(RAFT_OP_TXN, VARDATA_ANY(request), VARSIZE_ANY_EXHDR(request), &len);
	if (result == NULL)
		elog(ERROR, "raft: a key-value transaction returned no response");
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), result, len);
	return out;
}

/*
 * RaftKvCall
 *		A compaction or lease call through the group (two int64 arguments);
 *		returns its int64 result.
 */
int64
RaftKvCall(RaftOp op, int64 a, int64 b)
{
	int64		args[2] = {a, b};
	Size		len;
	char	   *result = RaftSubmit(op, (const char *) args, sizeof(args), &len);
	int64		v;

	if (result == NULL || len != sizeof(int64))
		elog(ERROR, "raft: a key-value call returned no result");
	memcpy(&v, result, sizeof(v));
	return v;
}

/*
 * RaftReadBarrier
 *		Wait until this member has applied everything committed before the
 *		call (ReadIndex), so that the read that follows is linearizable.
 */
void
RaftReadBarrier(void)
{
	Size		len;
	int			slot;

	RaftCheckWorker();
	slot = RaftSlotTake(RAFT_REQ_READ, 0, 0, NULL, 0);
	(void) RaftSlotWait(slot, &len);
}

/* ---------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------
 */

static void
RaftCheckMember(void)
{
	if (!RaftConfigured())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this server is not a member of a raft group"),
				 errhint("Set nosql.raft_node_id, nosql.raft_listen, nosql.raft_peers and nosql.raft_secret, with nosql in shared_preload_libraries, and restart.")));
}

/*
 * nosql.raft_status_info() — one row: this member's view of the group
 * (the view nosql.raft_status).
 */
PG_FUNCTION_INFO_V1(raft_status_info);
Datum
raft_status_info(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[10];
	bool		nulls[10] = {0};
	RaftSharedStatus st;
	StringInfoData members;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "raft_status_info must return a composite type");
	desc = BlessTupleDesc(desc);
	if (!RaftConfigured())
		PG_RETURN_NULL();
	LWLockAcquire(&RaftState->lock, LW_SHARED);
	memcpy(&st, &RaftState->status, sizeof(st));
	LWLockRelease(&RaftState->lock);

	values[0] = Int64GetDatum((int64) nosql_raft_node_id);
	if (!st.running)
	{
		values[1] = CStringGetTextDatum("stopped");
		for (int i = 2; i < 10; i++)
			nulls[i] = true;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
	}
	{
		bool		learner = false;

		for (int i = 0; i < st.core.conf.nlearners; i++)
			learner |= (st.core.conf.learners[i] == (RaftId) nosql_raft_node_id);
		values[1] = CStringGetTextDatum(learner ? "learner" :
										st.core.role == RAFT_LEADER ? "leader" :
										st.core.role == RAFT_FOLLOWER ? "follower" :
										st.core.role == RAFT_PRE_CANDIDATE ? "pre-candidate" :
										"candidate");
	}
	values[2] = Int64GetDatum((int64) st.core.term);
	values[3] = Int64GetDatum((int64) st.core.leader);
	nulls[3] = (st.core.leader == RAFT_NONE);
	values[4] = Int64GetDatum((int64) st.core.commit);
	values[5] = Int64GetDatum((int64) st.core.applied);

	/* members: [{id, address, voter, match, next, last_contact}] */
	initStringInfo(&members);
	appendStringInfoChar(&members, '[');
	for (int k = 0; k < 2; k++)
	{
		int			n = k == 0 ? st.core.conf.nvoters : st.core.conf.nlearners;
		const RaftId *ids = k == 0 ? st.core.conf.voters : st.core.conf.learners;

		for (int i = 0; i < n; i++)
		{
			const char *addr = "";
			const char *link = NULL;

			if (members.len > 1)
				appendStringInfoString(&members, ", ");
			for (int j = 0; j < st.npeers; j++)
				if (st.peers[j].id == ids[i])
				{
					addr = st.peers[j].addr;
					if (ids[i] != (RaftId) nosql_raft_node_id)
						link = st.links[j];
				}
			appendStringInfo(&members, "{\"id\": " UINT64_FORMAT ", \"address\": ",
							 (uint64) ids[i]);
			escape_json(&members, addr);
			appendStringInfo(&members, ", \"voter\": %s", k == 0 ? "true" : "false");
			if (link != NULL && link[0] != '\0')
			{
				appendStringInfoString(&members, ", \"link\": ");
				escape_json(&members, link);
			}
			for (int j = 0; j < st.core.nprogress; j++)
				if (st.core.progress[j].id == ids[i])
				{
					appendStringInfo(&members, ", \"match\": " UINT64_FORMAT ", \"next\": " UINT64_FORMAT,
									 (uint64) st.core.progress[j].match,
									 (uint64) st.core.progress[j].next);
					if (st.last_contact[j] != 0)
						appendStringInfo(&members, ", \"last_contact\": \"%s\"",
										 timestamptz_to_str(st.last_contact[j]));
				}
			appendStringInfoChar(&members, '}');
		}
	}
	appendStringInfoChar(&members, ']');
	values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum(members.data));
	values[7] = TimestampTzGetDatum(st.leader_contact);
	nulls[7] = (st.leader_contact == 0);
	values[8] = Int64GetDatum((int64) st.core.first_index);
	values[9] = Int64GetDatum((int64) st.core.last_index);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

static void
RaftMemberRequest(int kind, int64 node, const char *addr, bool promote)
{
	Size		len;
	int			slot;

	RaftCheckMember();
	RaftCheckWorker();
	if (node <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid raft node id " INT64_FORMAT, node)));
	slot = RaftSlotTake(kind, promote ? 1 : 0, node, addr, addr ? strlen(addr) + 1 : 0);
	(void) RaftSlotWait(slot, &len);
}

/* Wait until a learner has caught up with the leader's log */
static void
RaftWaitCaughtUp(int64 node)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   nosql_raft_request_timeout_ms);

	for (;;)
	{
		RaftSharedStatus st;
		bool		caught_up = false;

		LWLockAcquire(&RaftState->lock, LW_SHARED);
		memcpy(&st, &RaftState->status, sizeof(st));
		LWLockRelease(&RaftState->lock);
		for (int j = 0; j < st.core.nprogress; j++)
			if (st.core.progress[j].id == (RaftId) node &&
				st.core.progress[j].match + 16 >= st.core.last_index &&
				st.core.progress[j].match > 0)
				caught_up = true;
		if (caught_up)
			break;
		if (st.core.role != RAFT_LEADER || GetCurrentTimestamp() >= deadline)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("member " INT64_FORMAT " was added as a learner but has not caught up", node),
					 errhint("Promote it later with nosql.raft_add_member(" INT64_FORMAT ", address) run on the leader.", node)));
		}
		ConditionVariableTimedSleep(&RaftState->applied_cv, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/*
 * nosql.raft_add_member(node_id bigint, address text, learner boolean
 * DEFAULT false) — add a member: first as a learner (it receives the log
 * or a snapshot, and does not vote), then, unless learner is true and once
 * it has caught up, as a voter; one configuration change at a time.
 */
PG_FUNCTION_INFO_V1(raft_add_member);
Datum
raft_add_member(PG_FUNCTION_ARGS)
{
	int64		node = PG_GETARG_INT64(0);
	char	   *addr = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		learner_only = PG_GETARG_BOOL(2);
	RaftPeerAddr parsed[1];
	int			n;
	char	   *spec = psprintf(INT64_FORMAT "=%s", node, addr);

	RaftParsePeers(spec, parsed, &n, ERROR);
	RaftMemberRequest(RAFT_REQ_ADD_MEMBER, node, addr, false);
	if (!learner_only)
	{
		RaftWaitCaughtUp(node);
		RaftMemberRequest(RAFT_REQ_ADD_MEMBER, node, addr, true);
	}
	PG_RETURN_VOID();
}

/*
 * nosql.raft_remove_member(node_id bigint) — remove a member (the leader
 * may remove itself: it steps down once the change is applied).
 */
PG_FUNCTION_INFO_V1(raft_remove_member);
Datum
raft_remove_member(PG_FUNCTION_ARGS)
{
	RaftMemberRequest(RAFT_REQ_REMOVE_MEMBER, PG_GETARG_INT64(0), NULL, false);
	PG_RETURN_VOID();
}

/*
 * nosql.raft_transfer_leadership(node_id bigint) — ask the leader to hand
 * over to a member (etcd's MoveLeader); returns when the request is taken,
 * the transfer itself follows within an election timeout.
 */
PG_FUNCTION_INFO_V1(raft_transfer_leadership);
Datum
raft_transfer_leadership(PG_FUNCTION_ARGS)
{
	RaftMemberRequest(RAFT_REQ_TRANSFER, PG_GETARG_INT64(0), NULL, false);
	PG_RETURN_VOID();
}
