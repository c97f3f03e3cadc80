/*-------------------------------------------------------------------------
 *
 * raft_replication.c
 *	  The Raft core's log replication: the leader's progress of each member,
 *	  the appends, snapshots and heartbeats it sends, its commit index and
 *	  its ReadIndex reads; and the follower's handling of appends,
 *	  heartbeats and snapshots.
 *
 * The design (its "Replication" and "Reads" paragraphs) is the design note
 * of raft_core.c.  Nothing here is called by the driver directly: it runs
 * within raft_step() and the entry points of raft_core.c and raft_ready.c.
 *
 * IDENTIFICATION
 *	  src/raft_replication.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "raft_core.h"
#include "raft_internal.h"

/* Bytes an entry counts for, on top of its data, in max_msg_bytes */
#define RAFT_ENTRY_OVERHEAD	24

static uint64_t RaftFindConflictByTerm(const RaftNode *r, uint64_t index,
									   uint64_t term);
static void RaftReleaseDeferredReads(RaftNode *r);

/* ---------------------------------------------------------------------
 * Progress
 * ---------------------------------------------------------------------
 */

RaftProgress *
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

void
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

bool
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
void
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

void
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
void
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

void
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

void
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
bool
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
void
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

void
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
RaftQueueRead(RaftNode *r, RaftId from, uint64_t context, uint64_t from_term)
{
	RaftPendingRead *pr;

	r->reads = RaftGrow(r->reads, &r->reads_cap, r->nreads + 1,
						sizeof(RaftPendingRead));
	pr = &r->reads[r->nreads++];
	pr->from = from;
	pr->context = context;
	/* the asking follower confirms the leader (raft_core.c, "Reads") */
	pr->from_confirms = (r->asker_confirms && from != RAFT_NONE && from_term == r->term &&
						 RaftIsVoter(r, from));
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
	if (!any)
		return;
	RaftAdvanceReads(r);
	if (r->nreads > 0)
		RaftBcastHeartbeat(r);
}

/* Answer the reads a quorum has confirmed */
void
RaftAdvanceReads(RaftNode *r)
{
	size_t		done = 0;

	while (done < r->nreads && r->reads[done].seq != 0)
	{
		uint64_t	seq = r->reads[done].seq;
		int			acks = 0;

		for (int i = 0; i < r->nprs; i++)
			if (!r->prs[i].learner &&
				(r->prs[i].id == r->id || r->prs[i].read_ack >= seq ||
				 (r->reads[done].from_confirms && r->prs[i].id == r->reads[done].from)))
				acks++;
		if (r->reads[done].from_confirms && (r->test_flags & RAFT_TEST_UNSAFE_READ) != 0)
			acks++;				/* the simulator's negative control only */
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

/*
 * A leader's handling of a read request (its own or a follower's; from_term:
 * the term the follower asked in, 0 if unknown)
 */
void
RaftLeaderRead(RaftNode *r, RaftId from, uint64_t context, uint64_t from_term)
{
	if (r->conf.nvoters == 1 && RaftIsVoter(r, r->id))
	{
		RaftReadRespond(r, from, r->commit, context);
		return;
	}
	RaftQueueRead(r, from, context, from_term);
	if (r->reads[r->nreads - 1].seq == 0)
		return;					/* deferred to the first commit of the term */
	/* the asking follower's own confirmation may make a quorum already */
	RaftAdvanceReads(r);
	if (r->nreads > 0)
		RaftBcastHeartbeat(r);
}

/* ---------------------------------------------------------------------
 * Follower handlers
 * ---------------------------------------------------------------------
 */

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

void
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

void
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
bool
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

void
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
