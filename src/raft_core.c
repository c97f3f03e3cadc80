/*-------------------------------------------------------------------------
 *
 * raft_core.c
 *	  The Raft consensus state machine: elections, log replication,
 *	  commitment, ReadIndex, leadership transfer, snapshots and
 *	  single-server membership changes.
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

/* Progress states */
#define PR_PROBE		0
#define PR_REPLICATE	1
#define PR_SNAPSHOT		2

/* Bytes an entry counts for, on top of its data, in max_msg_bytes */
#define RAFT_ENTRY_OVERHEAD	24

/* A leader's view of one member */
typedef struct RaftProgress
{
	RaftId		id;
	bool		learner;
	int			state;
	uint64_t	match;
	uint64_t	next;
	uint64_t	pending_snapshot;	/* index of the snapshot being sent */
	bool		probe_sent;		/* probe: an append is in flight */
	bool		needs_snapshot; /* has no configuration: the log cannot do */
	bool		recent_active;
	uint64_t	read_ack;		/* highest read sequence it acknowledged */
	/* ring of the last index of each append in flight (replicate) */
	uint64_t   *inflight;
	int			inflight_start;
	int			inflight_count;
} RaftProgress;

/* A read waiting for a quorum's confirmation (or for the first commit) */
typedef struct RaftPendingRead
{
	uint64_t	seq;			/* heartbeat round; 0 while deferred */
	uint64_t	index;
	uint64_t	context;
	RaftId		from;			/* RAFT_NONE: this node's own read */
} RaftPendingRead;

struct RaftNode
{
	RaftId		id;
	int			election_ticks;
	int			heartbeat_ticks;
	bool		pre_vote;
	bool		check_quorum;
	size_t		max_msg_bytes;
	int			max_inflight;
	uint32_t	test_flags;
	uint64_t	rng;

	/* persistent state */
	uint64_t	term;
	RaftId		vote;

	/* the log: entries snap.index+1 .. snap.index+nents */
	RaftSnapshotMeta snap;
	RaftEntry  *ents;
	size_t		nents;
	size_t		cap;
	uint64_t	stable;			/* last index the driver has persisted */
	uint64_t	commit;
	uint64_t	applied;		/* last index the driver has applied */
	uint64_t	applying;		/* last index handed out as committed */
	bool		snap_pending;	/* a restored snapshot not in a Ready yet */

	RaftConfState conf;

	/* volatile state */
	RaftRole	role;
	RaftId		lead;
	RaftId		lead_transferee;
	uint64_t	pending_conf_index;
	int			election_elapsed;
	int			heartbeat_elapsed;
	int			randomized_timeout;

	/* votes of the current (pre-)election */
	int			nvotes;
	RaftId		vote_from[RAFT_MAX_MEMBERS];
	bool		vote_granted[RAFT_MAX_MEMBERS];

	/* leader only */
	int			nprs;
	RaftProgress prs[2 * RAFT_MAX_MEMBERS];
	uint64_t	read_seq;
	RaftPendingRead *reads;
	size_t		nreads;
	size_t		reads_cap;

	/* what the next Ready hands out */
	RaftMessage *msgs;
	size_t		nmsgs;
	size_t		msgs_cap;
	RaftReadState *read_states;
	size_t		nread_states;
	size_t		read_states_cap;
	RaftHardState prev_hard;
	RaftRole	prev_role;
	RaftId		prev_lead;
};

static void *(*raft_alloc_fn) (size_t) = malloc;
static void *(*raft_realloc_fn) (void *, size_t) = realloc;
static void (*raft_free_fn) (void *) = free;

static void RaftBecomeFollower(RaftNode *r, uint64_t term, RaftId lead);
static void RaftSendAppend(RaftNode *r, RaftProgress *pr, bool send_if_empty,
						   bool *sent);
static void RaftBcastAppend(RaftNode *r);
static void RaftReleaseDeferredReads(RaftNode *r);

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
static void *
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
static RaftEntry *
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
static void
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
 * Configurations
 * ---------------------------------------------------------------------
 */

static bool
RaftIdIn(const RaftId *ids, int n, RaftId id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static void
RaftIdRemove(RaftId *ids, int *n, RaftId id)
{
	for (int i = 0; i < *n; i++)
		if (ids[i] == id)
		{
			memmove(&ids[i], &ids[i + 1], (*n - i - 1) * sizeof(RaftId));
			(*n)--;
			return;
		}
}

/*
 * Apply a change to a configuration (the rules of raft_apply_conf_change).
 * Returns false if it is not applicable (the configuration is unchanged).
 */
static bool
RaftConfApply(RaftConfState *conf, const RaftConfChange *cc)
{
	bool		voter = RaftIdIn(conf->voters, conf->nvoters, cc->node);
	bool		learner = RaftIdIn(conf->learners, conf->nlearners, cc->node);

	if (cc->node == RAFT_NONE)
		return false;
	switch (cc->type)
	{
		case RAFT_CONF_ADD_VOTER:
			if (voter)
				return true;
			if (!learner && conf->nvoters + conf->nlearners >= RAFT_MAX_MEMBERS)
				return false;
			RaftIdRemove(conf->learners, &conf->nlearners, cc->node);
			conf->voters[conf->nvoters++] = cc->node;
			return true;
		case RAFT_CONF_ADD_LEARNER:
			if (voter)
				return false;	/* demotions are not supported */
			if (learner)
				return true;
			if (conf->nvoters + conf->nlearners >= RAFT_MAX_MEMBERS)
				return false;
			conf->learners[conf->nlearners++] = cc->node;
			return true;
		case RAFT_CONF_REMOVE:
			if (voter && conf->nvoters == 1)
				return false;	/* never remove the last voter */
			RaftIdRemove(conf->voters, &conf->nvoters, cc->node);
			RaftIdRemove(conf->learners, &conf->nlearners, cc->node);
			return true;
	}
	return false;
}

static bool
RaftIsVoter(const RaftNode *r, RaftId id)
{
	return RaftIdIn(r->conf.voters, r->conf.nvoters, id);
}

/* A node campaigns only if it is a voter of its configuration */
static bool
RaftPromotable(const RaftNode *r)
{
	return RaftIsVoter(r, r->id);
}

static int
RaftQuorum(const RaftNode *r)
{
	return r->conf.nvoters / 2 + 1;
}

/* ---------------------------------------------------------------------
 * The log
 * ---------------------------------------------------------------------
 */

static uint64_t
RaftLastIndex(const RaftNode *r)
{
	return r->snap.index + r->nents;
}

static uint64_t
RaftFirstIndex(const RaftNode *r)
{
	return r->snap.index + 1;
}

/*
 * Term of the entry at index, or 0 if the log does not hold it (compacted
 * away or past the end); the compaction point itself has its term.
 */
static uint64_t
RaftTermAt(const RaftNode *r, uint64_t index)
{
	if (index == r->snap.index)
		return r->snap.term;
	if (index < r->snap.index || index > RaftLastIndex(r))
		return 0;
	return r->ents[index - r->snap.index - 1].term;
}

static RaftEntry *
RaftEntryAt(const RaftNode *r, uint64_t index)
{
	return &r->ents[index - r->snap.index - 1];
}

static uint64_t
RaftLastTerm(const RaftNode *r)
{
	return RaftTermAt(r, RaftLastIndex(r));
}

static bool
RaftMatchTerm(const RaftNode *r, uint64_t index, uint64_t term)
{
	if (index < r->snap.index || index > RaftLastIndex(r))
		return false;
	return RaftTermAt(r, index) == term;
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
static void
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
static void
RaftAppendEntry(RaftNode *r, const RaftEntry *e)
{
	r->ents = RaftGrow(r->ents, &r->cap, r->nents + 1, sizeof(RaftEntry));
	RaftEntryCopy(&r->ents[r->nents], e);
	r->nents++;
}

/*
 * The largest index <= index whose term is <= term (the follower's hint for
 * a rejected append, and the leader's use of it).
 */
static uint64_t
RaftFindConflictByTerm(const RaftNode *r, uint64_t index, uint64_t term)
{
	if (index > RaftLastIndex(r))
		index = RaftLastIndex(r);
	while (index > r->snap.index && RaftTermAt(r, index) > term)
		index--;
	return index;
}

static void
RaftCommitTo(RaftNode *r, uint64_t commit)
{
	if (commit > RaftLastIndex(r))
		commit = RaftLastIndex(r);
	if (commit > r->commit)
		r->commit = commit;
}

/*
 * Append a leader's entries after (index, log_term) if our log matches
 * there, dropping a conflicting suffix; returns false (a rejection) if it
 * does not match, else sets *last_new to the last index the message covers.
 */
static bool
RaftMaybeAppend(RaftNode *r, uint64_t index, uint64_t log_term,
				uint64_t committed, const RaftEntry *ents, size_t n,
				uint64_t *last_new)
{
	size_t		i;

	if (!RaftMatchTerm(r, index, log_term))
		return false;
	*last_new = index + n;
	for (i = 0; i < n; i++)
	{
		uint64_t	idx = index + 1 + i;

		if (idx <= r->snap.index)
			continue;
		if (idx > RaftLastIndex(r))
			break;
		if (RaftTermAt(r, idx) != ents[i].term)
		{
			/* a committed entry never conflicts; ignore such a message */
			if (idx <= r->commit)
				return false;
			RaftTruncateAfter(r, idx - 1);
			break;
		}
	}
	for (; i < n; i++)
		RaftAppendEntry(r, &ents[i]);
	RaftCommitTo(r, committed < *last_new ? committed : *last_new);
	return true;
}

/* ---------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------
 */

/*
 * Queue a message.  Its entries (if any) must be owned already; the term
 * is set here, except for messages that travel like local ones.
 */
static RaftMessage *
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

static void
RaftAddReadState(RaftNode *r, uint64_t index, uint64_t context)
{
	r->read_states = RaftGrow(r->read_states, &r->read_states_cap,
							  r->nread_states + 1, sizeof(RaftReadState));
	r->read_states[r->nread_states].index = index;
	r->read_states[r->nread_states].context = context;
	r->nread_states++;
}

/* ---------------------------------------------------------------------
 * Progress
 * ---------------------------------------------------------------------
 */

static RaftProgress *
RaftGetProgress(RaftNode *r, RaftId id)
{
	for (int i = 0; i < r->nprs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

static void
RaftProgressReset(RaftProgress *pr, int state)
{
	pr->state = state;
	pr->probe_sent = false;
	pr->pending_snapshot = 0;
	pr->inflight_start = 0;
	pr->inflight_count = 0;
}

static void
RaftBecomeProbe(RaftProgress *pr)
{
	if (pr->state == PR_SNAPSHOT)
	{
		uint64_t	pending = pr->pending_snapshot;

		RaftProgressReset(pr, PR_PROBE);
		pr->next = pr->match + 1 > pending + 1 ? pr->match + 1 : pending + 1;
	}
	else
	{
		RaftProgressReset(pr, PR_PROBE);
		pr->next = pr->match + 1;
	}
}

static void
RaftBecomeReplicate(RaftProgress *pr)
{
	RaftProgressReset(pr, PR_REPLICATE);
	pr->next = pr->match + 1;
}

static void
RaftBecomeSnapshot(RaftProgress *pr, uint64_t index)
{
	RaftProgressReset(pr, PR_SNAPSHOT);
	pr->pending_snapshot = index;
}

static bool
RaftInflightFull(const RaftNode *r, const RaftProgress *pr)
{
	return pr->inflight_count >= r->max_inflight;
}

static void
RaftInflightAdd(RaftNode *r, RaftProgress *pr, uint64_t last)
{
	int			slot = (pr->inflight_start + pr->inflight_count) % r->max_inflight;

	pr->inflight[slot] = last;
	pr->inflight_count++;
}

/* Free the appends in flight up to index (acknowledged) */
static void
RaftInflightFreeTo(RaftNode *r, RaftProgress *pr, uint64_t index)
{
	while (pr->inflight_count > 0 && pr->inflight[pr->inflight_start] <= index)
	{
		pr->inflight_start = (pr->inflight_start + 1) % r->max_inflight;
		pr->inflight_count--;
	}
}

static bool
RaftProgressPaused(const RaftNode *r, const RaftProgress *pr)
{
	switch (pr->state)
	{
		case PR_PROBE:
			return pr->probe_sent;
		case PR_REPLICATE:
			return RaftInflightFull(r, pr);
		default:
			return true;
	}
}

/* A successful acknowledgement of index; false if it is stale */
static bool
RaftProgressUpdate(RaftProgress *pr, uint64_t index)
{
	bool		updated = false;

	if (pr->match < index)
	{
		pr->match = index;
		updated = true;
		pr->probe_sent = false;
	}
	if (pr->next < index + 1)
		pr->next = index + 1;
	return updated;
}

/*
 * A rejection of an append at rejected; hint is where the leader should
 * probe next.  Returns false if the rejection is stale.
 */
static bool
RaftProgressDecrTo(RaftProgress *pr, uint64_t rejected, uint64_t hint)
{
	uint64_t	next;

	if (pr->state == PR_REPLICATE)
	{
		if (rejected <= pr->match)
			return false;
		pr->next = pr->match + 1;
		return true;
	}
	if (pr->next == 0 || pr->next - 1 != rejected)
		return false;
	next = rejected < hint + 1 ? rejected : hint + 1;
	if (next < pr->match + 1)
		next = pr->match + 1;
	pr->next = next;
	pr->probe_sent = false;
	return true;
}

static void
RaftProgressInit(RaftNode *r, RaftProgress *pr, RaftId id, bool learner)
{
	uint64_t   *inflight = pr->inflight;

	memset(pr, 0, sizeof(*pr));
	pr->id = id;
	pr->learner = learner;
	pr->state = PR_PROBE;
	pr->next = RaftLastIndex(r) + 1;
	pr->recent_active = true;
	if (inflight == NULL)
		inflight = RaftAlloc(sizeof(uint64_t) * r->max_inflight);
	pr->inflight = inflight;
}

/*
 * Make the progress set match the configuration: keep the members still
 * there, add the new ones, drop the removed ones.
 */
static void
RaftSyncProgress(RaftNode *r)
{
	RaftProgress old[2 * RAFT_MAX_MEMBERS];
	int			nold = r->nprs;
	bool		used[2 * RAFT_MAX_MEMBERS] = {0};

	memcpy(old, r->prs, sizeof(RaftProgress) * nold);
	r->nprs = 0;
	for (int k = 0; k < 2; k++)
	{
		const RaftId *ids = k == 0 ? r->conf.voters : r->conf.learners;
		int			n = k == 0 ? r->conf.nvoters : r->conf.nlearners;

		for (int i = 0; i < n; i++)
		{
			RaftProgress *pr = &r->prs[r->nprs++];
			int			j;

			for (j = 0; j < nold; j++)
				if (old[j].id == ids[i])
					break;
			if (j < nold)
			{
				*pr = old[j];
				pr->learner = (k == 1);
				used[j] = true;
			}
			else
			{
				pr->inflight = NULL;
				RaftProgressInit(r, pr, ids[i], k == 1);
				if (ids[i] == r->id)
				{
					pr->match = RaftLastIndex(r);
					pr->next = pr->match + 1;
				}
			}
		}
	}
	for (int j = 0; j < nold; j++)
		if (!used[j])
			RaftFree(old[j].inflight);
}

static void
RaftFreeProgress(RaftNode *r)
{
	for (int i = 0; i < r->nprs; i++)
		RaftFree(r->prs[i].inflight);
	r->nprs = 0;
}

/* ---------------------------------------------------------------------
 * Leader: replication and commitment
 * ---------------------------------------------------------------------
 */

/*
 * Send the next append (or the snapshot) a member needs, if its progress
 * allows; *sent (if given) tells whether a message went out.
 */
static void
RaftSendAppend(RaftNode *r, RaftProgress *pr, bool send_if_empty, bool *sent)
{
	RaftMessage m = {0};
	uint64_t	last = RaftLastIndex(r);
	size_t		n = 0;
	size_t		bytes = 0;

	if (sent)
		*sent = false;
	if (pr->id == r->id || RaftProgressPaused(r, pr))
		return;

	if (pr->next <= r->snap.index || pr->needs_snapshot)
	{
		/* the follower needs compacted entries: send the snapshot */
		if (!pr->recent_active)
			return;
		m.type = RAFT_MSG_SNAP;
		m.to = pr->id;
		m.snapshot = r->snap;
		if (r->snap.index == 0)
		{
			/*
			 * Nothing compacted yet, and a member that joined with no
			 * configuration: the log does not hold the group's initial
			 * configuration, so send the state as of applied.
			 */
			if (r->applied == 0)
				return;
			m.snapshot.index = r->applied;
			m.snapshot.term = RaftTermAt(r, r->applied);
			m.snapshot.conf = r->conf;
		}
		RaftBecomeSnapshot(pr, m.snapshot.index);
		RaftSend(r, &m);
		if (sent)
			*sent = true;
		return;
	}

	if (pr->next > last + 1)
		pr->next = last + 1;
	while (pr->next + n <= last)
	{
		const RaftEntry *e = RaftEntryAt(r, pr->next + n);

		if (n > 0 && bytes + e->len + RAFT_ENTRY_OVERHEAD > r->max_msg_bytes)
			break;
		bytes += e->len + RAFT_ENTRY_OVERHEAD;
		n++;
	}
	if (n == 0 && !send_if_empty)
		return;

	m.type = RAFT_MSG_APP;
	m.to = pr->id;
	m.index = pr->next - 1;
	m.log_term = RaftTermAt(r, m.index);
	m.commit = r->commit;
	m.nentries = n;
	if (n > 0)
		m.entries = RaftEntriesCopy(RaftEntryAt(r, pr->next), n);

	switch (pr->state)
	{
		case PR_REPLICATE:
			if (n > 0)
			{
				pr->next += n;
				RaftInflightAdd(r, pr, pr->next - 1);
			}
			break;
		case PR_PROBE:
			pr->probe_sent = true;
			break;
	}
	RaftSend(r, &m);
	if (sent)
		*sent = true;
}

static void
RaftBcastAppend(RaftNode *r)
{
	for (int i = 0; i < r->nprs; i++)
		RaftSendAppend(r, &r->prs[i], true, NULL);
}

static void
RaftSendHeartbeat(RaftNode *r, RaftProgress *pr, uint64_t context)
{
	RaftMessage m = {0};

	m.type = RAFT_MSG_HEARTBEAT;
	m.to = pr->id;
	m.commit = pr->match < r->commit ? pr->match : r->commit;
	m.context = context;
	RaftSend(r, &m);
}

static void
RaftBcastHeartbeat(RaftNode *r)
{
	/* the heartbeats confirm every read queued so far */
	uint64_t	context = r->nreads > 0 ? r->read_seq : 0;

	for (int i = 0; i < r->nprs; i++)
		if (r->prs[i].id != r->id)
			RaftSendHeartbeat(r, &r->prs[i], context);
}

static int
RaftCompareDesc(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? 1 : (x > y ? -1 : 0);
}

/*
 * Advance the commit index to what a quorum of voters holds, if that
 * entry is of the current term (entries of earlier terms commit with it).
 */
static bool
RaftMaybeCommit(RaftNode *r)
{
	uint64_t	matches[RAFT_MAX_MEMBERS];
	int			n = 0;
	uint64_t	q;

	for (int i = 0; i < r->nprs; i++)
		if (!r->prs[i].learner)
			matches[n++] = r->prs[i].match;
	if (n == 0)
		return false;
	qsort(matches, n, sizeof(uint64_t), RaftCompareDesc);
	q = matches[RaftQuorum(r) - 1];
	if (q > r->commit && RaftTermAt(r, q) == r->term)
	{
		r->commit = q;
		RaftReleaseDeferredReads(r);
		return true;
	}
	return false;
}

/* Append entries proposed to this leader (their term and index are set) */
static void
RaftLeaderAppend(RaftNode *r, const RaftEntry *ents, size_t n)
{
	RaftProgress *self = RaftGetProgress(r, r->id);

	for (size_t i = 0; i < n; i++)
	{
		RaftEntry	e = ents[i];

		e.term = r->term;
		e.index = RaftLastIndex(r) + 1;
		RaftAppendEntry(r, &e);
	}
	if (self != NULL)
		RaftProgressUpdate(self, RaftLastIndex(r));
	RaftMaybeCommit(r);
}

static bool
RaftCommittedInTerm(const RaftNode *r)
{
	return RaftTermAt(r, r->commit) == r->term;
}

/* ---------------------------------------------------------------------
 * Reads
 * ---------------------------------------------------------------------
 */

static void
RaftReadRespond(RaftNode *r, RaftId from, uint64_t index, uint64_t context)
{
	if (from == RAFT_NONE || from == r->id)
		RaftAddReadState(r, index, context);
	else
	{
		RaftMessage m = {0};

		m.type = RAFT_MSG_READ_INDEX_RESP;
		m.to = from;
		m.index = index;
		m.context = context;
		RaftSend(r, &m);
	}
}

/* Queue a read for confirmation by a heartbeat round */
static void
RaftQueueRead(RaftNode *r, RaftId from, uint64_t context)
{
	RaftPendingRead *pr;

	r->reads = RaftGrow(r->reads, &r->reads_cap, r->nreads + 1,
						sizeof(RaftPendingRead));
	pr = &r->reads[r->nreads++];
	pr->from = from;
	pr->context = context;
	if (RaftCommittedInTerm(r))
	{
		pr->seq = ++r->read_seq;
		pr->index = r->commit;
	}
	else
	{
		pr->seq = 0;
		pr->index = 0;
	}
}

/* Give the reads deferred for the leader's first commit their index */
static void
RaftReleaseDeferredReads(RaftNode *r)
{
	bool		any = false;

	if (r->role != RAFT_LEADER || !RaftCommittedInTerm(r))
		return;
	for (size_t i = 0; i < r->nreads; i++)
		if (r->reads[i].seq == 0)
		{
			if (!any)
				r->read_seq++;
			any = true;
			r->reads[i].seq = r->read_seq;
			r->reads[i].index = r->commit;
		}
	if (any)
		RaftBcastHeartbeat(r);
}

/* Answer the reads a quorum has confirmed */
static void
RaftAdvanceReads(RaftNode *r)
{
	size_t		done = 0;

	while (done < r->nreads && r->reads[done].seq != 0)
	{
		uint64_t	seq = r->reads[done].seq;
		int			acks = 0;

		for (int i = 0; i < r->nprs; i++)
			if (!r->prs[i].learner &&
				(r->prs[i].id == r->id || r->prs[i].read_ack >= seq))
				acks++;
		if (acks < RaftQuorum(r))
			break;
		RaftReadRespond(r, r->reads[done].from, r->reads[done].index,
						r->reads[done].context);
		done++;
	}
	if (done > 0)
	{
		memmove(r->reads, r->reads + done,
				(r->nreads - done) * sizeof(RaftPendingRead));
		r->nreads -= done;
	}
}

/* A leader's handling of a read request (its own or a follower's) */
static void
RaftLeaderRead(RaftNode *r, RaftId from, uint64_t context)
{
	if (r->conf.nvoters == 1 && RaftIsVoter(r, r->id))
	{
		RaftReadRespond(r, from, r->commit, context);
		return;
	}
	RaftQueueRead(r, from, context);
	if (r->reads[r->nreads - 1].seq != 0)
		RaftBcastHeartbeat(r);
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

static void
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
 * Follower handlers
 * ---------------------------------------------------------------------
 */

static void
RaftHandleAppend(RaftNode *r, const RaftMessage *m)
{
	RaftMessage resp = {0};
	uint64_t	last_new;

	resp.type = RAFT_MSG_APP_RESP;
	resp.to = m->from;
	if (r->snap.index == 0 && r->conf.nvoters == 0 && r->conf.nlearners == 0)
	{
		/*
		 * A member that joined with no configuration learns it from a
		 * snapshot: the log does not hold the initial one.  The leader
		 * takes a rejection at index 0 as a request for one.
		 */
		resp.index = m->index;
		resp.reject = true;
	}
	else if (m->index < r->commit)
		resp.index = r->commit;
	else if (RaftMaybeAppend(r, m->index, m->log_term, m->commit,
							 m->entries, m->nentries, &last_new))
		resp.index = last_new;
	else
	{
		uint64_t	hint = RaftFindConflictByTerm(r, m->index, m->log_term);

		resp.index = m->index;
		resp.reject = true;
		resp.reject_hint = hint;
		resp.log_term = RaftTermAt(r, hint);
	}
	RaftSend(r, &resp);
}

static void
RaftHandleHeartbeat(RaftNode *r, const RaftMessage *m)
{
	RaftMessage resp = {0};

	RaftCommitTo(r, m->commit);
	resp.type = RAFT_MSG_HEARTBEAT_RESP;
	resp.to = m->from;
	resp.context = m->context;
	RaftSend(r, &resp);
}

/*
 * Whether a snapshot would replace our log: it must be past our commit
 * index and not match an entry we hold.
 */
static bool
RaftSnapshotNeeded(const RaftNode *r, const RaftSnapshotMeta *meta)
{
	if (meta->index <= r->commit)
		return false;
	if (RaftMatchTerm(r, meta->index, meta->term))
		return false;
	return true;
}

/* Replace the log by a snapshot's metadata */
static void
RaftRestore(RaftNode *r, const RaftSnapshotMeta *meta)
{
	RaftTruncateAfter(r, r->snap.index);
	r->snap = *meta;
	r->commit = meta->index;
	r->stable = meta->index;
	r->applying = meta->index;
	r->conf = meta->conf;
	r->pending_conf_index = 0;
	r->snap_pending = true;
}

static void
RaftHandleSnapshot(RaftNode *r, const RaftMessage *m)
{
	RaftMessage resp = {0};

	resp.type = RAFT_MSG_APP_RESP;
	resp.to = m->from;
	if (RaftSnapshotNeeded(r, &m->snapshot))
	{
		RaftRestore(r, &m->snapshot);
		resp.index = RaftLastIndex(r);
	}
	else
	{
		/* a snapshot we already hold: fast-forward the commit index */
		if (m->snapshot.index > r->commit &&
			RaftMatchTerm(r, m->snapshot.index, m->snapshot.term))
			RaftCommitTo(r, m->snapshot.index);
		resp.index = r->commit;
	}
	RaftSend(r, &resp);
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

static void
RaftSendTimeoutNow(RaftNode *r, RaftId to)
{
	RaftSendSimple(r, RAFT_MSG_TIMEOUT_NOW, to, 0);
}

static void
RaftLeaderHandleAppResp(RaftNode *r, RaftProgress *pr, const RaftMessage *m)
{
	pr->recent_active = true;
	if (m->reject)
	{
		uint64_t	hint = m->reject_hint;

		if (m->log_term > 0)
			hint = RaftFindConflictByTerm(r, m->reject_hint, m->log_term);
		if (m->index == 0 && pr->match == 0 && pr->state != PR_SNAPSHOT)
		{
			/* the log from its start is rejected: it needs a snapshot */
			pr->needs_snapshot = true;
			pr->probe_sent = false;
			RaftSendAppend(r, pr, true, NULL);
		}
		else if (RaftProgressDecrTo(pr, m->index, hint))
		{
			if (pr->state == PR_REPLICATE)
				RaftBecomeProbe(pr);
			RaftSendAppend(r, pr, true, NULL);
		}
		return;
	}
	else
	{
		bool		was_paused = RaftProgressPaused(r, pr);
		bool		sent;

		if (!RaftProgressUpdate(pr, m->index))
			return;
		if (pr->state == PR_PROBE)
			RaftBecomeReplicate(pr);
		else if (pr->state == PR_SNAPSHOT && pr->match >= pr->pending_snapshot)
		{
			/* the snapshot (or a later one the driver sent) is in */
			pr->needs_snapshot = false;
			RaftBecomeProbe(pr);
			RaftBecomeReplicate(pr);
		}
		else if (pr->state == PR_REPLICATE)
			RaftInflightFreeTo(r, pr, m->index);

		if (RaftMaybeCommit(r))
			RaftBcastAppend(r);
		else if (was_paused)
			RaftSendAppend(r, pr, false, NULL);
		do
		{
			RaftSendAppend(r, pr, false, &sent);
		} while (sent);

		if (pr->id == r->lead_transferee && pr->match == RaftLastIndex(r))
			RaftSendTimeoutNow(r, pr->id);
	}
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
			RaftLeaderRead(r, m->from == r->id ? RAFT_NONE : m->from, m->context);
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
				RaftSendAppend(r, pr, false, NULL);
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
static bool
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
 * raft_propose_conf_change
 *		Propose a membership change (one unapplied at a time).
 */
int
raft_propose_conf_change(RaftNode *r, const RaftConfChange *cc)
{
	RaftMessage m = {0};
	RaftEntry	e = {0};
	RaftConfState check = r->conf;
	size_t		size;
	int			rc;

	if (cc->node == RAFT_NONE || cc->type > RAFT_CONF_REMOVE ||
		(cc->context_len > 0 && cc->context == NULL) ||
		!RaftConfApply(&check, cc))
		return RAFT_ERR_INVALID;
	if (r->role == RAFT_LEADER && r->pending_conf_index > r->applied)
		return RAFT_ERR_CONF_PENDING;
	size = raft_conf_change_encoded_size(cc);
	e.type = RAFT_ENTRY_CONF;
	e.len = (uint32_t) size;
	e.data = RaftAlloc(size);
	raft_conf_change_encode(cc, e.data, size);
	m.type = RAFT_MSG_PROP;
	m.from = r->id;
	m.nentries = 1;
	m.entries = &e;
	rc = raft_step(r, &m);
	RaftFree(e.data);
	return rc;
}

/*
 * raft_apply_conf_change
 *		Make an applied configuration entry take effect.
 */
void
raft_apply_conf_change(RaftNode *r, const RaftConfChange *cc,
					   RaftConfState *result)
{
	RaftConfApply(&r->conf, cc);
	if (r->role == RAFT_LEADER)
	{
		if (!RaftIsVoter(r, r->id))
		{
			/* removed: let the others elect a leader */
			RaftBecomeFollower(r, r->term, RAFT_NONE);
		}
		else
		{
			RaftSyncProgress(r);
			if (r->lead_transferee != RAFT_NONE &&
				!RaftIsVoter(r, r->lead_transferee))
				r->lead_transferee = RAFT_NONE;
			if (RaftMaybeCommit(r))
				RaftBcastAppend(r);
			else
				for (int i = 0; i < r->nprs; i++)
					RaftSendAppend(r, &r->prs[i], false, NULL);
			RaftAdvanceReads(r);
		}
	}
	if (result != NULL)
		*result = r->conf;
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

/*
 * raft_has_ready
 *		Whether raft_ready() has something for the driver.
 */
bool
raft_has_ready(RaftNode *r)
{
	return r->nmsgs > 0 || r->nread_states > 0 || r->snap_pending ||
		RaftLastIndex(r) > r->stable || r->commit > r->applying ||
		r->term != r->prev_hard.term || r->vote != r->prev_hard.vote ||
		r->commit != r->prev_hard.commit ||
		r->role != r->prev_role || r->lead != r->prev_lead;
}

/*
 * raft_ready
 *		Hand the driver what it must persist, send and apply.
 */
void
raft_ready(RaftNode *r, RaftReady *rd)
{
	uint64_t	last = RaftLastIndex(r);

	memset(rd, 0, sizeof(RaftReady));
	rd->role = r->role;
	rd->leader = r->lead;
	rd->soft_state_changed = r->role != r->prev_role || r->lead != r->prev_lead;

	rd->hard_state.term = r->term;
	rd->hard_state.vote = r->vote;
	rd->hard_state.commit = r->commit;
	rd->has_hard_state = r->term != r->prev_hard.term ||
		r->vote != r->prev_hard.vote || r->commit != r->prev_hard.commit;

	if (r->snap_pending)
	{
		rd->has_snapshot = true;
		rd->snapshot = r->snap;
	}
	if (last > r->stable)
	{
		rd->nentries = (size_t) (last - r->stable);
		rd->entries = RaftEntriesCopy(RaftEntryAt(r, r->stable + 1), rd->nentries);
	}
	if (r->commit > r->applying)
	{
		rd->ncommitted = (size_t) (r->commit - r->applying);
		rd->committed = RaftEntriesCopy(RaftEntryAt(r, r->applying + 1),
										rd->ncommitted);
		r->applying = r->commit;
	}
	rd->nmsgs = r->nmsgs;
	rd->msgs = r->msgs;
	r->msgs = NULL;
	r->nmsgs = 0;
	r->msgs_cap = 0;
	rd->nread_states = r->nread_states;
	rd->read_states = r->read_states;
	r->read_states = NULL;
	r->nread_states = 0;
	r->read_states_cap = 0;
}

/*
 * raft_advance
 *		The driver has persisted, sent and applied a Ready: take note, and
 *		free it.
 */
void
raft_advance(RaftNode *r, RaftReady *rd)
{
	if (rd->soft_state_changed)
	{
		r->prev_role = rd->role;
		r->prev_lead = rd->leader;
	}
	if (rd->has_hard_state)
		r->prev_hard = rd->hard_state;
	if (rd->has_snapshot)
	{
		if (r->snap.index == rd->snapshot.index)
			r->snap_pending = false;
		if (r->applied < rd->snapshot.index)
			r->applied = rd->snapshot.index;
	}
	if (rd->nentries > 0)
	{
		const RaftEntry *e = &rd->entries[rd->nentries - 1];

		if (e->index > r->stable && RaftMatchTerm(r, e->index, e->term))
			r->stable = e->index;
	}
	if (rd->ncommitted > 0 && rd->committed[rd->ncommitted - 1].index > r->applied)
		r->applied = rd->committed[rd->ncommitted - 1].index;

	RaftEntriesFree(rd->entries, rd->nentries);
	RaftEntriesFree(rd->committed, rd->ncommitted);
	for (size_t i = 0; i < rd->nmsgs; i++)
		raft_msg_free(&rd->msgs[i]);
	RaftFree(rd->msgs);
	RaftFree(rd->read_states);
	memset(rd, 0, sizeof(RaftReady));
}

/*
 * raft_compact
 *		Drop the log up to index (applied already), recording the snapshot
 *		taken there with conf, its configuration (NULL: the current one).
 */
int
raft_compact(RaftNode *r, uint64_t index, const RaftConfState *conf)
{
	size_t		drop;

	if (index <= r->snap.index)
		return RAFT_ERR_COMPACTED;
	if (index > r->applied || index > r->stable)
		return RAFT_ERR_UNAVAILABLE;
	drop = (size_t) (index - r->snap.index);
	r->snap.term = RaftTermAt(r, index);
	r->snap.conf = conf != NULL ? *conf : r->conf;
	for (size_t i = 0; i < drop; i++)
		RaftFree(r->ents[i].data);
	memmove(r->ents, r->ents + drop, (r->nents - drop) * sizeof(RaftEntry));
	r->nents -= drop;
	r->snap.index = index;
	return RAFT_OK;
}

/*
 * raft_term_at
 *		The term of the entry at index, or 0 if the log does not hold it
 *		(the compaction point has its term).
 */
uint64_t
raft_term_at(RaftNode *r, uint64_t index)
{
	return RaftTermAt(r, index);
}

/*
 * raft_snapshot_acceptable
 *		Whether stepping a RAFT_MSG_SNAP with this metadata (in the node's
 *		term or a later one) would restore it.
 */
bool
raft_snapshot_acceptable(RaftNode *r, const RaftSnapshotMeta *meta)
{
	return RaftSnapshotNeeded(r, meta);
}

/*
 * raft_msg_snapshot_acceptable
 *		The same for a whole message: false also when its term is stale (the
 *		node would drop it).
 */
bool
raft_msg_snapshot_acceptable(RaftNode *r, const RaftMessage *m)
{
	if (m->type != RAFT_MSG_SNAP || m->term < r->term ||
		!RaftMessageValid(r, m))
		return false;
	if (m->term == r->term && r->role == RAFT_LEADER)
		return false;
	return RaftSnapshotNeeded(r, &m->snapshot);
}

/*
 * raft_report_unreachable
 *		The driver could not send to peer: stop pipelining to it.
 */
void
raft_report_unreachable(RaftNode *r, RaftId peer)
{
	RaftMessage m = {0};

	m.type = RAFT_MSG_UNREACHABLE;
	m.from = peer;
	raft_step(r, &m);
}

/*
 * raft_report_snapshot
 *		The snapshot sent to peer was installed (or failed: send it again).
 */
void
raft_report_snapshot(RaftNode *r, RaftId peer, bool failed)
{
	RaftMessage m = {0};

	m.type = RAFT_MSG_SNAP_STATUS;
	m.from = peer;
	m.reject = failed;
	raft_step(r, &m);
}

/*
 * raft_get_status
 *		A copy of the node's state, for monitoring and tests.
 */
void
raft_get_status(RaftNode *r, RaftStatus *st)
{
	memset(st, 0, sizeof(RaftStatus));
	st->id = r->id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->lead;
	st->commit = r->commit;
	st->applied = r->applied;
	st->first_index = RaftFirstIndex(r);
	st->last_index = RaftLastIndex(r);
	st->lead_transferee = r->lead_transferee;
	st->conf = r->conf;
	if (r->role == RAFT_LEADER)
		for (int i = 0; i < r->nprs; i++)
		{
			RaftProgressStatus *ps = &st->progress[st->nprogress++];

			ps->id = r->prs[i].id;
			ps->learner = r->prs[i].learner;
			ps->match = r->prs[i].match;
			ps->next = r->prs[i].next;
			ps->recent_active = r->prs[i].recent_active;
			ps->state = r->prs[i].state;
		}
}

const char *
raft_role_name(RaftRole role)
{
	switch (role)
	{
		case RAFT_FOLLOWER:
			return "follower";
		case RAFT_CANDIDATE:
			return "candidate";
		case RAFT_PRE_CANDIDATE:
			return "pre-candidate";
		case RAFT_LEADER:
			return "leader";
	}
	return "unknown";
}

const char *
raft_msg_type_name(int type)
{
	static const char *const names[RAFT_MSG_NTYPES] = {
		"MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote",
		"MsgVoteResp", "MsgPreVote", "MsgPreVoteResp", "MsgSnap",
		"MsgHeartbeat", "MsgHeartbeatResp", "MsgReadIndex",
		"MsgReadIndexResp", "MsgTransferLeader", "MsgTimeoutNow",
		"MsgUnreachable", "MsgSnapStatus"
	};

	if (type < 0 || type >= RAFT_MSG_NTYPES)
		return "MsgUnknown";
	return names[type];
}
