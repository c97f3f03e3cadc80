/*-------------------------------------------------------------------------
 *
 * raft_core.c
 *	  The Raft consensus state machine: elections, log replication,
 *	  commitment, ReadIndex, leadership transfer, snapshots and
 *	  single-server membership changes.
 *
 * The core is three files: this one holds the node's roles and elections,
 * the dispatch of messages (raft_step), the logical clock (raft_tick), the
 * storage of the log and the queue of outgoing messages; raft_replication.c
 * holds the leader's progress of each member, its appends and heartbeats,
 * commitment and ReadIndex, and the follower's handling of appends,
 * heartbeats and snapshots; raft_ready.c holds what the driver calls
 * between steps (Ready and advance, compaction, snapshots, membership
 * changes, status).  raft_internal.h is what they share.  The design note
 * below is the whole core's.
 *
 * Design note
 * -----------
 * The node is a pure function of its inputs (ticks, messages, proposals and
 * the seed of its PRNG); its outputs are collected and handed out in a
 * RaftReady, as in etcd's raft package, whose shape this follows.  The core
 * keeps the whole log after the last compaction point in memory: the
 * driver persists what Ready hands it and passes it back to raft_new() on a
 * restart.  Three indexes split that log: "stable" (persisted by the
 * driver, everything after it is handed out in the next Ready), "commit"
 * (known to be on a quorum), and "applied" (applied by the driver; the
 * entries between applied and commit are handed out as committed).
 *
 * Elections.  A follower that has not heard from a leader for a randomised
 * election timeout first runs a pre-vote round (if configured) in the next
 * term without raising its own term, so that a node cut off from the
 * group cannot disrupt it when it comes back with a higher term; only if a
 * quorum would vote for it does it start the real election.  With
 * check_quorum, a leader that has not heard from a quorum for an election
 * timeout steps down, and a node that heard from a leader within the
 * election timeout ignores (pre-)vote requests (leader stickiness), unless
 * the campaign is a leadership transfer (RAFT_CAMPAIGN_TRANSFER in the
 * request's context).  A new leader appends an empty entry of its term, as
 * entries of earlier terms are only committed indirectly (Raft's commit
 * rule, figure 8 of the paper).
 *
 * Replication.  The leader tracks each member in a progress: probe (one
 * append at a time, until the follower's log matches), replicate (up to
 * max_inflight appends in flight, next index advanced optimistically) or
 * snapshot (waiting for a snapshot to be installed).  A rejection carries a
 * hint (the follower's last index whose term is at most the rejected
 * term), so that the leader skips a whole conflicting term at a time.
 * When the next entry a follower needs is compacted away, the leader sends
 * a RAFT_MSG_SNAP carrying only the snapshot's metadata; the driver ships
 * its state machine with it and may rewrite the metadata to a later index
 * (its applied index), so the follower's acknowledgement of any index at or
 * past the pending snapshot ends the snapshot state.
 *
 * Reads.  ReadIndex requests get the leader's commit index, and are
 * answered once a quorum has acknowledged a heartbeat sent after the
 * request: each batch of requests gets a sequence number carried by the
 * heartbeats' context, and a member's acknowledgement of number s
 * confirms every request up to s.  Requests reaching a leader that has not
 * yet committed an entry of its term wait until it has.
 *
 * A follower's request counts as that follower's acknowledgement when the
 * follower is a voter and was in the leader's term when it asked (the
 * forwarded request carries the follower's term in log_term; the message's
 * own term stays 0, so that a request is never dropped for its term).  Why
 * that is safe: a write acknowledged before the read began was committed by
 * a leader of some term Tw.  If Tw is the leader's term T or older, the
 * write is in the leader's log and at or below its commit index (it has
 * committed an entry of T).  If Tw > T, a majority voted in Tw before the
 * read began; that majority meets every majority, so it holds the leader
 * (which would then be in a term past T, not leading T) or a confirming
 * member: the follower, which would then have been in a term >= Tw > T
 * when it asked, or a member acknowledging a heartbeat of T, which it
 * would not.  With three voters the leader and the asking follower are a
 * majority: the read is answered at once, without a heartbeat round.
 * (etcd's raft always waits for the round.)
 *
 * Membership.  A RAFT_ENTRY_CONF entry takes effect when the driver applies
 * it (raft_apply_conf_change), one at a time.  On a restart the
 * configuration is rebuilt from the snapshot's and the configuration
 * entries of the log up to the applied index.
 *
 * The core never calls the PostgreSQL API (it is built into the unit tests
 * and the fuzz targets as is); it allocates through raft_set_allocator().
 *
 * IDENTIFICATION
 *	  src/raft_core.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "raft_core.h"
#include "raft_internal.h"

static void *(*raft_alloc_fn) (size_t) = malloc;
static void *(*raft_realloc_fn) (void *, size_t) = realloc;
static void (*raft_free_fn) (void *) = free;

/*
 * raft_set_allocator
 *		Route the core's allocations through the given functions.
 */
void
raft_set_allocator(void *(*alloc_fn) (size_t),
				   void *(*realloc_fn) (void *, size_t),
				   void (*free_fn) (void *))
{
	raft_alloc_fn = alloc_fn ? alloc_fn : malloc;
	raft_realloc_fn = realloc_fn ? realloc_fn : realloc;
	raft_free_fn = free_fn ? free_fn : free;
}

void *
RaftAlloc(size_t size)
{
	return raft_alloc_fn(size == 0 ? 1 : size);
}

void *
RaftRealloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return RaftAlloc(size);
	return raft_realloc_fn(ptr, size == 0 ? 1 : size);
}

void
RaftFree(void *ptr)
{
	if (ptr != NULL)
		raft_free_fn(ptr);
}

/*
 * Grow an array to hold at least need elements of size elem.
 */
void *
RaftGrow(void *array, size_t *cap, size_t need, size_t elem)
{
	size_t		newcap;

	if (need <= *cap)
		return array;
	newcap = *cap < 8 ? 8 : *cap * 2;
	while (newcap < need)
		newcap *= 2;
	array = RaftRealloc(array, newcap * elem);
	*cap = newcap;
	return array;
}

/*
 * Deep copy of an entry (its data included).
 */
void
RaftEntryCopy(RaftEntry *dst, const RaftEntry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len > 0)
	{
		dst->data = RaftAlloc(src->len);
		memcpy(dst->data, src->data, src->len);
	}
}

/*
 * Copies of n entries in a new array (NULL when n is 0).
 */
RaftEntry *
RaftEntriesCopy(const RaftEntry *src, size_t n)
{
	RaftEntry  *dst;

	if (n == 0)
		return NULL;
	dst = RaftAlloc(n * sizeof(RaftEntry));
	for (size_t i = 0; i < n; i++)
		RaftEntryCopy(&dst[i], &src[i]);
	return dst;
}

/*
 * Free an array of entries and their data.
 */
void
RaftEntriesFree(RaftEntry *ents, size_t n)
{
	if (ents == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		RaftFree(ents[i].data);
	RaftFree(ents);
}

/*
 * The splitmix64 generator: small, and good enough for timeouts.
 */
static uint64_t
RaftRandom(RaftNode *r)
{
	uint64_t	z;

	r->rng += UINT64_C(0x9e3779b97f4a7c15);
	z = r->rng;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
RaftResetRandomizedTimeout(RaftNode *r)
{
	r->randomized_timeout = r->election_ticks +
		(int) (RaftRandom(r) % (uint64_t) r->election_ticks);
}

/* ---------------------------------------------------------------------
 * The log
 * ---------------------------------------------------------------------
 */

static uint64_t
RaftLastTerm(const RaftNode *r)
{
	return RaftTermAt(r, RaftLastIndex(r));
}

/* Whether a candidate's log is at least as up to date as ours */
static bool
RaftIsUpToDate(const RaftNode *r, uint64_t index, uint64_t term)
{
	uint64_t	last_term = RaftLastTerm(r);

	return term > last_term || (term == last_term && index >= RaftLastIndex(r));
}

/*
 * Drop the entries after index (index >= snap.index).  The driver drops its
 * persisted copies when the next Ready's entries start at or below them.
 */
void
RaftTruncateAfter(RaftNode *r, uint64_t index)
{
	size_t		keep = (size_t) (index - r->snap.index);

	for (size_t i = keep; i < r->nents; i++)
		RaftFree(r->ents[i].data);
	r->nents = keep;
	if (r->stable > index)
		r->stable = index;
}

/* Append a copy of an entry; its index must be the next one */
void
RaftAppendEntry(RaftNode *r, const RaftEntry *e)
{
	r->ents = RaftGrow(r->ents, &r->cap, r->nents + 1, sizeof(RaftEntry));
	RaftEntryCopy(&r->ents[r->nents], e);
	r->nents++;
}

/* ---------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------
 */

/*
 * Queue a message.  Its entries (if any) must be owned already; the term
 * is set here, except for messages that travel like local ones.
 */
RaftMessage *
RaftSend(RaftNode *r, RaftMessage *m)
{
	RaftMessage *out;

	if (m->to == r->id || m->to == RAFT_NONE)
	{
		RaftEntriesFree(m->entries, m->nentries);
		return NULL;
	}
	m->from = r->id;
	if (m->term == 0 && m->type != RAFT_MSG_PROP &&
		m->type != RAFT_MSG_READ_INDEX && m->type != RAFT_MSG_TRANSFER_LEADER)
		m->term = r->term;
	r->msgs = RaftGrow(r->msgs, &r->msgs_cap, r->nmsgs + 1, sizeof(RaftMessage));
	out = &r->msgs[r->nmsgs++];
	*out = *m;
	return out;
}

static void
RaftSendSimple(RaftNode *r, int type, RaftId to, uint64_t term)
{
	RaftMessage m = {0};

	m.type = type;
	m.to = to;
	m.term = term;
	RaftSend(r, &m);
}

void
RaftAddReadState(RaftNode *r, uint64_t index, uint64_t context)
{
	r->read_states = RaftGrow(r->read_states, &r->read_states_cap,
							  r->nread_states + 1, sizeof(RaftReadState));
	r->read_states[r->nread_states].index = index;
	r->read_states[r->nread_states].context = context;
	r->nread_states++;
}

/* ---------------------------------------------------------------------
 * Role changes
 * ---------------------------------------------------------------------
 */

static void
RaftReset(RaftNode *r, uint64_t term)
{
	if (r->term != term)
	{
		r->term = term;
		r->vote = RAFT_NONE;
	}
	r->lead = RAFT_NONE;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	RaftResetRandomizedTimeout(r);
	r->lead_transferee = RAFT_NONE;
	r->nvotes = 0;
	r->nreads = 0;
	r->read_seq = 0;
	RaftFreeProgress(r);
}

void
RaftBecomeFollower(RaftNode *r, uint64_t term, RaftId lead)
{
	RaftReset(r, term);
	r->lead = lead;
	r->role = RAFT_FOLLOWER;
}

static void
RaftBecomeLeader(RaftNode *r)
{
	RaftEntry	noop = {0};

	RaftReset(r, r->term);
	r->role = RAFT_LEADER;
	r->lead = r->id;
	RaftSyncProgress(r);
	for (int i = 0; i < r->nprs; i++)
	{
		r->prs[i].next = RaftLastIndex(r) + 1;
		if (r->prs[i].id == r->id)
			r->prs[i].match = RaftLastIndex(r);
	}
	/* a configuration entry in the log may not be applied yet */
	r->pending_conf_index = RaftLastIndex(r);
	RaftLeaderAppend(r, &noop, 1);
}

/* Record a vote; returns the number granted and rejected */
static void
RaftPoll(RaftNode *r, RaftId from, bool granted, int *yes, int *no)
{
	int			i;

	for (i = 0; i < r->nvotes; i++)
		if (r->vote_from[i] == from)
			break;
	if (i == r->nvotes && r->nvotes < RAFT_MAX_MEMBERS && RaftIsVoter(r, from))
	{
		r->vote_from[r->nvotes] = from;
		r->vote_granted[r->nvotes] = granted;
		r->nvotes++;
	}
	*yes = *no = 0;
	for (i = 0; i < r->nvotes; i++)
		if (r->vote_granted[i])
			(*yes)++;
		else
			(*no)++;
}

/* A node campaigns only if it is a voter of its configuration */
static bool
RaftPromotable(const RaftNode *r)
{
	return RaftIsVoter(r, r->id);
}

/* Whether a committed configuration entry awaits its application */
static bool
RaftConfUnapplied(const RaftNode *r)
{
	for (uint64_t i = r->applied + 1; i <= r->commit; i++)
		if (i > r->snap.index && RaftEntryAt(r, i)->type == RAFT_ENTRY_CONF)
			return true;
	return false;
}

/*
 * Start a pre-election or an election (transfer: on the leader's request,
 * skipping the pre-vote and asking the voters to ignore their leader).
 */
static void
RaftCampaign(RaftNode *r, bool pre, bool transfer)
{
	uint64_t	term;
	int			type;
	int			yes,
				no;

	if (!RaftPromotable(r) || RaftConfUnapplied(r))
		return;
	if (pre)
	{
		RaftReset(r, r->term);
		r->role = RAFT_PRE_CANDIDATE;
		term = r->term + 1;
		type = RAFT_MSG_PRE_VOTE;
	}
	else
	{
		RaftReset(r, r->term + 1);
		r->role = RAFT_CANDIDATE;
		r->vote = r->id;
		term = r->term;
		type = RAFT_MSG_VOTE;
	}
	RaftPoll(r, r->id, true, &yes, &no);
	if (yes >= RaftQuorum(r))
	{
		if (pre)
			RaftCampaign(r, false, transfer);
		else
			RaftBecomeLeader(r);
		return;
	}
	for (int i = 0; i < r->conf.nvoters; i++)
	{
		RaftMessage m = {0};

		if (r->conf.voters[i] == r->id)
			continue;
		m.type = type;
		m.to = r->conf.voters[i];
		m.term = term;
		m.index = RaftLastIndex(r);
		m.log_term = RaftLastTerm(r);
		m.context = transfer ? RAFT_CAMPAIGN_TRANSFER : 0;
		RaftSend(r, &m);
	}
}

static void
RaftHup(RaftNode *r, bool transfer)
{
	if (r->role == RAFT_LEADER)
		return;
	RaftCampaign(r, r->pre_vote && !transfer, transfer);
}

/* ---------------------------------------------------------------------
 * Step
 * ---------------------------------------------------------------------
 */

static int
RaftProposeEntries(RaftNode *r, const RaftMessage *m)
{
	if (r->role == RAFT_LEADER)
	{
		if (RaftGetProgress(r, r->id) == NULL || r->lead_transferee != RAFT_NONE)
			return RAFT_ERR_PROPOSAL_DROPPED;
		for (size_t i = 0; i < m->nentries; i++)
			if (m->entries[i].type == RAFT_ENTRY_CONF)
			{
				if (r->pending_conf_index > r->applied)
					return RAFT_ERR_CONF_PENDING;
				r->pending_conf_index = RaftLastIndex(r) + 1 + i;
			}
		RaftLeaderAppend(r, m->entries, m->nentries);
		RaftBcastAppend(r);
		return RAFT_OK;
	}
	if (r->role == RAFT_FOLLOWER && r->lead != RAFT_NONE)
	{
		RaftMessage fwd = {0};

		fwd.type = RAFT_MSG_PROP;
		fwd.to = r->lead;
		fwd.nentries = m->nentries;
		fwd.entries = RaftEntriesCopy(m->entries, m->nentries);
		RaftSend(r, &fwd);
		return RAFT_OK;
	}
	return RAFT_ERR_PROPOSAL_DROPPED;
}

void
RaftSendTimeoutNow(RaftNode *r, RaftId to)
{
	RaftSendSimple(r, RAFT_MSG_TIMEOUT_NOW, to, 0);
}

static int
RaftStepLeader(RaftNode *r, const RaftMessage *m)
{
	RaftProgress *pr;

	switch (m->type)
	{
		case RAFT_MSG_BEAT:
			RaftBcastHeartbeat(r);
			return RAFT_OK;
		case RAFT_MSG_PROP:
			return RaftProposeEntries(r, m);
		case RAFT_MSG_READ_INDEX:
			RaftLeaderRead(r, m->from == r->id ? RAFT_NONE : m->from, m->context,
						   m->log_term);
			return RAFT_OK;
		case RAFT_MSG_TRANSFER_LEADER:
			{
				RaftId		to = (RaftId) m->context;
				RaftProgress *tpr = RaftGetProgress(r, to);

				if (tpr == NULL || tpr->learner || to == r->id ||
					r->lead_transferee == to)
					return RAFT_OK;
				r->lead_transferee = to;
				r->election_elapsed = 0;
				if (tpr->match == RaftLastIndex(r))
					RaftSendTimeoutNow(r, to);
				else
					RaftSendAppend(r, tpr, true, NULL);
				return RAFT_OK;
			}
		default:
			break;
	}

	pr = RaftGetProgress(r, m->from);
	if (pr == NULL)
		return RAFT_OK;
	switch (m->type)
	{
		case RAFT_MSG_APP_RESP:
			RaftLeaderHandleAppResp(r, pr, m);
			break;
		case RAFT_MSG_HEARTBEAT_RESP:
			pr->recent_active = true;
			pr->probe_sent = false;
			if (pr->state == PR_REPLICATE && RaftInflightFull(r, pr))
			{
				pr->inflight_start = (pr->inflight_start + 1) % r->max_inflight;
				pr->inflight_count--;
			}
			if (pr->match < RaftLastIndex(r))
				RaftSendAppend(r, pr, true, NULL);
			if (m->context != 0 && m->context <= r->read_seq)
			{
				if (m->context > pr->read_ack)
					pr->read_ack = m->context;
				RaftAdvanceReads(r);
			}
			break;
		case RAFT_MSG_SNAP_STATUS:
			if (pr->state != PR_SNAPSHOT)
				break;
			if (m->reject)
				pr->pending_snapshot = 0;
			RaftBecomeProbe(pr);
			/* wait for the member's answer before probing again */
			pr->probe_sent = true;
			break;
		case RAFT_MSG_UNREACHABLE:
			if (pr->state == PR_REPLICATE)
				RaftBecomeProbe(pr);
			break;
		default:
			break;
	}
	return RAFT_OK;
}

static int
RaftStepCandidate(RaftNode *r, const RaftMessage *m)
{
	int			resp_type = r->role == RAFT_PRE_CANDIDATE ?
		RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;
	int			yes,
				no;

	switch (m->type)
	{
		case RAFT_MSG_PROP:
			return RAFT_ERR_PROPOSAL_DROPPED;
		case RAFT_MSG_APP:
			RaftBecomeFollower(r, m->term, m->from);
			RaftHandleAppend(r, m);
			return RAFT_OK;
		case RAFT_MSG_HEARTBEAT:
			RaftBecomeFollower(r, m->term, m->from);
			RaftHandleHeartbeat(r, m);
			return RAFT_OK;
		case RAFT_MSG_SNAP:
			RaftBecomeFollower(r, m->term, m->from);
			RaftHandleSnapshot(r, m);
			return RAFT_OK;
		case RAFT_MSG_READ_INDEX:
		case RAFT_MSG_TRANSFER_LEADER:
			return RAFT_ERR_PROPOSAL_DROPPED;
		default:
			break;
	}
	if (m->type != resp_type)
		return RAFT_OK;
	RaftPoll(r, m->from, !m->reject, &yes, &no);
	if (yes >= RaftQuorum(r))
	{
		if (r->role == RAFT_PRE_CANDIDATE)
			RaftCampaign(r, false, false);
		else
		{
			RaftBecomeLeader(r);
			RaftBcastAppend(r);
		}
	}
	else if (no >= RaftQuorum(r))
		RaftBecomeFollower(r, r->term, RAFT_NONE);
	return RAFT_OK;
}

static int
RaftStepFollower(RaftNode *r, const RaftMessage *m)
{
	switch (m->type)
	{
		case RAFT_MSG_PROP:
			return RaftProposeEntries(r, m);
		case RAFT_MSG_APP:
			r->election_elapsed = 0;
			r->lead = m->from;
			RaftHandleAppend(r, m);
			break;
		case RAFT_MSG_HEARTBEAT:
			r->election_elapsed = 0;
			r->lead = m->from;
			RaftHandleHeartbeat(r, m);
			break;
		case RAFT_MSG_SNAP:
			r->election_elapsed = 0;
			r->lead = m->from;
			RaftHandleSnapshot(r, m);
			break;
		case RAFT_MSG_TRANSFER_LEADER:
		case RAFT_MSG_READ_INDEX:
			{
				RaftMessage fwd = {0};

				if (r->lead == RAFT_NONE)
					return RAFT_ERR_PROPOSAL_DROPPED;
				fwd.type = m->type;
				fwd.to = r->lead;
				fwd.context = m->context;
				/* a read says in which term it was asked (see "Reads") */
				if (m->type == RAFT_MSG_READ_INDEX)
					fwd.log_term = r->term;
				RaftSend(r, &fwd);
				break;
			}
		case RAFT_MSG_TIMEOUT_NOW:
			RaftHup(r, true);
			break;
		case RAFT_MSG_READ_INDEX_RESP:
			RaftAddReadState(r, m->index, m->context);
			break;
		default:
			break;
	}
	return RAFT_OK;
}

/* Whether a message from the network is well formed */
bool
RaftMessageValid(const RaftNode *r, const RaftMessage *m)
{
	if (m->type >= RAFT_MSG_NTYPES)
		return false;
	if (m->nentries > 0 && m->entries == NULL)
		return false;
	for (size_t i = 0; i < m->nentries; i++)
	{
		if (m->entries[i].type > RAFT_ENTRY_CONF)
			return false;
		if (m->entries[i].len > 0 && m->entries[i].data == NULL)
			return false;
		if (m->type == RAFT_MSG_APP &&
			(m->entries[i].index != m->index + 1 + i ||
			 m->entries[i].term > m->term ||
			 m->entries[i].term < m->log_term))
			return false;
	}
	if (m->type == RAFT_MSG_SNAP &&
		(m->snapshot.conf.nvoters < 0 ||
		 m->snapshot.conf.nvoters > RAFT_MAX_MEMBERS ||
		 m->snapshot.conf.nlearners < 0 ||
		 m->snapshot.conf.nlearners > RAFT_MAX_MEMBERS ||
		 m->snapshot.index == 0))
		return false;
	return true;
}

/*
 * raft_step
 *		Feed the node a message (from a peer, or a local one).
 */
int
raft_step(RaftNode *r, const RaftMessage *m)
{
	if (!RaftMessageValid(r, m))
		return RAFT_ERR_INVALID;

	if (m->term == 0)
	{
		/* local messages, and those that travel like them */
	}
	else if (m->term > r->term)
	{
		if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE)
		{
			bool		force = m->context == RAFT_CAMPAIGN_TRANSFER;
			bool		in_lease = r->check_quorum && r->lead != RAFT_NONE &&
				r->election_elapsed < r->election_ticks;

			/* leader stickiness: we heard from a leader recently */
			if (!force && in_lease)
				return RAFT_OK;
		}
		if (m->type == RAFT_MSG_PRE_VOTE ||
			(m->type == RAFT_MSG_PRE_VOTE_RESP && !m->reject))
		{
			/* a pre-vote does not change our term */
		}
		else if (m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT ||
				 m->type == RAFT_MSG_SNAP)
			RaftBecomeFollower(r, m->term, m->from);
		else
			RaftBecomeFollower(r, m->term, RAFT_NONE);
	}
	else if (m->term < r->term)
	{
		if ((r->check_quorum || r->pre_vote) &&
			(m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_APP))
		{
			/*
			 * A leader cut off from the group: tell it our term, or it
			 * would never step down (our pre-votes do not raise terms).
			 */
			RaftSendSimple(r, RAFT_MSG_APP_RESP, m->from, 0);
		}
		else if (m->type == RAFT_MSG_PRE_VOTE)
		{
			RaftMessage resp = {0};

			resp.type = RAFT_MSG_PRE_VOTE_RESP;
			resp.to = m->from;
			resp.reject = true;
			RaftSend(r, &resp);
		}
		return RAFT_OK;
	}

	switch (m->type)
	{
		case RAFT_MSG_HUP:
			RaftHup(r, false);
			return RAFT_OK;
		case RAFT_MSG_VOTE:
		case RAFT_MSG_PRE_VOTE:
			{
				RaftMessage resp = {0};
				bool		can_vote;

				can_vote = r->vote == m->from ||
					(r->vote == RAFT_NONE && r->lead == RAFT_NONE) ||
					(m->type == RAFT_MSG_PRE_VOTE && m->term > r->term);
				resp.type = m->type == RAFT_MSG_VOTE ?
					RAFT_MSG_VOTE_RESP : RAFT_MSG_PRE_VOTE_RESP;
				resp.to = m->from;
				if (can_vote &&
					((r->test_flags & RAFT_TEST_UNSAFE_VOTE) != 0 ||
					 RaftIsUpToDate(r, m->index, m->log_term)))
				{
					/* answer in the candidate's term (pre-votes: theirs) */
					resp.term = m->term;
					if (m->type == RAFT_MSG_VOTE)
					{
						r->election_elapsed = 0;
						r->vote = m->from;
					}
				}
				else
				{
					resp.term = r->term;
					resp.reject = true;
				}
				RaftSend(r, &resp);
				return RAFT_OK;
			}
		default:
			break;
	}

	switch (r->role)
	{
		case RAFT_LEADER:
			return RaftStepLeader(r, m);
		case RAFT_CANDIDATE:
		case RAFT_PRE_CANDIDATE:
			return RaftStepCandidate(r, m);
		default:
			return RaftStepFollower(r, m);
	}
}

/* ---------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------
 */

/*
 * raft_new
 *		A node from its configuration and durable state.
 */
RaftNode *
raft_new(const RaftConfig *config)
{
	RaftNode   *r;

	if (config == NULL || config->id == RAFT_NONE ||
		config->election_ticks <= 0 || config->heartbeat_ticks <= 0 ||
		config->heartbeat_ticks >= config->election_ticks ||
		config->snapshot.conf.nvoters < 0 ||
		config->snapshot.conf.nvoters > RAFT_MAX_MEMBERS ||
		config->snapshot.conf.nlearners < 0 ||
		config->snapshot.conf.nlearners > RAFT_MAX_MEMBERS)
		return NULL;

	r = RaftAlloc(sizeof(RaftNode));
	memset(r, 0, sizeof(RaftNode));
	r->id = config->id;
	r->election_ticks = config->election_ticks;
	r->heartbeat_ticks = config->heartbeat_ticks;
	r->pre_vote = config->pre_vote;
	r->check_quorum = config->check_quorum;
	r->asker_confirms = config->asker_confirms;
	r->max_msg_bytes = config->max_msg_bytes > 0 ? config->max_msg_bytes : 1024 * 1024;
	r->max_inflight = config->max_inflight > 0 ? config->max_inflight : 256;
	r->test_flags = config->test_flags;
	r->rng = config->seed ^ (config->id * UINT64_C(0x2545f4914f6cdd1d));

	r->snap = config->snapshot;
	for (size_t i = 0; i < config->nentries; i++)
	{
		RaftEntry	e = config->entries[i];

		/* entries must follow the snapshot without gaps */
		if (e.index != RaftLastIndex(r) + 1)
			break;
		RaftAppendEntry(r, &e);
	}
	r->stable = RaftLastIndex(r);
	r->term = config->hard_state.term;
	r->vote = config->hard_state.vote;
	r->commit = config->hard_state.commit;
	if (r->commit < r->snap.index)
		r->commit = r->snap.index;
	if (r->commit > RaftLastIndex(r))
		r->commit = RaftLastIndex(r);
	r->applied = config->applied;
	if (r->applied < r->snap.index)
		r->applied = r->snap.index;
	if (r->applied > r->commit)
		r->applied = r->commit;
	r->applying = r->applied;

	/* the configuration as of applied */
	r->conf = r->snap.conf;
	for (uint64_t i = r->snap.index + 1; i <= r->applied; i++)
	{
		const RaftEntry *e = RaftEntryAt(r, i);
		RaftConfChange cc;

		if (e->type == RAFT_ENTRY_CONF &&
			raft_conf_change_decode(e->data, e->len, &cc) == RAFT_OK)
			RaftConfApply(&r->conf, &cc);
	}

	r->prev_hard.term = r->term;
	r->prev_hard.vote = r->vote;
	r->prev_hard.commit = r->commit;
	RaftBecomeFollower(r, r->term, RAFT_NONE);
	r->prev_role = RAFT_FOLLOWER;
	r->prev_lead = RAFT_NONE;
	return r;
}

/*
 * raft_free
 *		Free a node and everything it holds.
 */
void
raft_free(RaftNode *r)
{
	if (r == NULL)
		return;
	RaftTruncateAfter(r, r->snap.index);
	RaftFree(r->ents);
	RaftFreeProgress(r);
	for (size_t i = 0; i < r->nmsgs; i++)
		raft_msg_free(&r->msgs[i]);
	RaftFree(r->msgs);
	RaftFree(r->read_states);
	RaftFree(r->reads);
	RaftFree(r);
}

/*
 * raft_leader_gone
 *		The driver knows that the leader's process is gone (its address
 *		refuses connections and no connection from it is open): a follower
 *		stops waiting a whole election timeout for it.  It forgets the
 *		leader, so that it grants other members' pre-votes at once, and
 *		campaigns itself after 2 + 2 * rank ticks, rank being its place by
 *		id among the voters other than the leader, so that the first one
 *		usually wins before the next starts.  When elections start never
 *		matters to safety; a wrong report costs at most a pre-vote that the
 *		members still hearing from the leader refuse, and the follower
 *		takes the leader back at its next heartbeat.
 */
void
raft_leader_gone(RaftNode *r, RaftId leader)
{
	int			rank = 0;
	int			wait;

	if (leader == RAFT_NONE || r->role != RAFT_FOLLOWER || r->lead != leader ||
		!RaftPromotable(r))
		return;
	for (int i = 0; i < r->conf.nvoters; i++)
		if (r->conf.voters[i] != leader && r->conf.voters[i] < r->id)
			rank++;
	r->lead = RAFT_NONE;
	wait = 2 + 2 * rank;
	if (r->election_elapsed < r->randomized_timeout - wait)
		r->election_elapsed = r->randomized_timeout - wait;
}

/*
 * raft_tick
 *		One tick of the logical clock.
 */
void
raft_tick(RaftNode *r)
{
	if (r->role != RAFT_LEADER)
	{
		r->election_elapsed++;
		if (RaftPromotable(r) && r->election_elapsed >= r->randomized_timeout)
		{
			RaftMessage m = {0};

			r->election_elapsed = 0;
			m.type = RAFT_MSG_HUP;
			m.from = r->id;
			raft_step(r, &m);
		}
		return;
	}

	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->election_elapsed >= r->election_ticks)
	{
		r->election_elapsed = 0;
		if (r->check_quorum)
		{
			int			active = 0;

			for (int i = 0; i < r->nprs; i++)
			{
				RaftProgress *pr = &r->prs[i];

				if (!pr->learner && (pr->id == r->id || pr->recent_active))
					active++;
				if (pr->id != r->id)
					pr->recent_active = false;
			}
			if (active < RaftQuorum(r))
			{
				RaftBecomeFollower(r, r->term, RAFT_NONE);
				return;
			}
		}
		/* a transfer that did not finish within an election timeout */
		r->lead_transferee = RAFT_NONE;
	}
	if (r->heartbeat_elapsed >= r->heartbeat_ticks)
	{
		r->heartbeat_elapsed = 0;
		RaftBcastHeartbeat(r);
	}
}

/*
 * raft_propose
 *		Propose a normal entry (forwarded to the leader by a follower).
 */
int
raft_propose(RaftNode *r, const uint8_t *data, size_t len)
{
	RaftMessage m = {0};
	RaftEntry	e = {0};

	if (len > UINT32_MAX || (len > 0 && data == NULL))
		return RAFT_ERR_INVALID;
	e.type = RAFT_ENTRY_NORMAL;
	e.len = (uint32_t) len;
	e.data = (uint8_t *) data;
	m.type = RAFT_MSG_PROP;
	m.from = r->id;
	m.nentries = 1;
	m.entries = &e;
	return raft_step(r, &m);
}

/*
 * raft_read_index
 *		Ask for a linearizable read point; it comes back as a RaftReadState
 *		with the given context.
 */
int
raft_read_index(RaftNode *r, uint64_t context)
{
	RaftMessage m = {0};

	m.type = RAFT_MSG_READ_INDEX;
	m.from = r->id;
	m.context = context;
	return raft_step(r, &m);
}

/*
 * raft_transfer_leader
 *		Ask the leader to hand its role over to a voter.
 */
int
raft_transfer_leader(RaftNode *r, RaftId to)
{
	RaftMessage m = {0};

	if (to == RAFT_NONE)
		return RAFT_ERR_INVALID;
	m.type = RAFT_MSG_TRANSFER_LEADER;
	m.from = r->id;
	m.context = to;
	return raft_step(r, &m);
}

/*
 * raft_campaign
 *		Start an election now (pre-vote first if configured).
 */
void
raft_campaign(RaftNode *r)
{
	RaftMessage m = {0};

	m.type = RAFT_MSG_HUP;
	m.from = r->id;
	raft_step(r, &m);
}
