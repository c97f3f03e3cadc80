/*-------------------------------------------------------------------------
 *
 * raft_internal.h
 *	  What the files of the Raft core share (not part of its interface):
 *	  the node, and the functions each file offers the others.
 *
 * raft_core.c holds roles, elections, raft_step and raft_tick;
 * raft_replication.c the leader's replication, commitment and reads and
 * the follower's handlers; raft_ready.c what the driver calls between
 * steps; raft_codec.c the wire format.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_RAFT_INTERNAL_H
#define NOSQL_RAFT_INTERNAL_H

#include "raft_core.h"

/* Progress states */
#define PR_PROBE		0
#define PR_REPLICATE	1
#define PR_SNAPSHOT		2

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
	bool		from_confirms;	/* from, a voter, was in this term when it asked */
} RaftPendingRead;

struct RaftNode
{
	RaftId		id;
	int			election_ticks;
	int			heartbeat_ticks;
	bool		pre_vote;
	bool		check_quorum;
	bool		asker_confirms;
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

/* Allocation through the functions of raft_set_allocator() */
extern void *RaftAlloc(size_t size);
extern void *RaftRealloc(void *ptr, size_t size);
extern void RaftFree(void *ptr);

/* A deep copy of an entry (its data included) */
extern void RaftEntryCopy(RaftEntry *dst, const RaftEntry *src);

/* raft_core.c */
extern void *RaftGrow(void *array, size_t *cap, size_t need, size_t elem);
extern RaftEntry *RaftEntriesCopy(const RaftEntry *src, size_t n);
extern void RaftEntriesFree(RaftEntry *ents, size_t n);
extern void RaftTruncateAfter(RaftNode *r, uint64_t index);
extern void RaftAppendEntry(RaftNode *r, const RaftEntry *e);
extern RaftMessage *RaftSend(RaftNode *r, RaftMessage *m);
extern void RaftAddReadState(RaftNode *r, uint64_t index, uint64_t context);
extern void RaftBecomeFollower(RaftNode *r, uint64_t term, RaftId lead);
extern void RaftSendTimeoutNow(RaftNode *r, RaftId to);
extern bool RaftMessageValid(const RaftNode *r, const RaftMessage *m);

/* raft_replication.c */
extern RaftProgress *RaftGetProgress(RaftNode *r, RaftId id);
extern void RaftBecomeProbe(RaftProgress *pr);
extern bool RaftInflightFull(const RaftNode *r, const RaftProgress *pr);
extern void RaftSyncProgress(RaftNode *r);
extern void RaftFreeProgress(RaftNode *r);
extern void RaftSendAppend(RaftNode *r, RaftProgress *pr, bool send_if_empty,
						   bool *sent);
extern void RaftBcastAppend(RaftNode *r);
extern void RaftBcastHeartbeat(RaftNode *r);
extern bool RaftMaybeCommit(RaftNode *r);
extern void RaftLeaderAppend(RaftNode *r, const RaftEntry *ents, size_t n);
extern void RaftLeaderHandleAppResp(RaftNode *r, RaftProgress *pr,
									const RaftMessage *m);
extern void RaftAdvanceReads(RaftNode *r);
extern void RaftLeaderRead(RaftNode *r, RaftId from, uint64_t context,
						   uint64_t from_term);
extern void RaftHandleAppend(RaftNode *r, const RaftMessage *m);
extern void RaftHandleHeartbeat(RaftNode *r, const RaftMessage *m);
extern bool RaftSnapshotNeeded(const RaftNode *r,
							   const RaftSnapshotMeta *meta);
extern void RaftHandleSnapshot(RaftNode *r, const RaftMessage *m);

/* raft_ready.c */
extern bool RaftConfApply(RaftConfState *conf, const RaftConfChange *cc);

/*
 * The log and the configuration, as every file reads them
 */

static inline uint64_t
RaftLastIndex(const RaftNode *r)
{
	return r->snap.index + r->nents;
}

/*
 * Term of the entry at index, or 0 if the log does not hold it (compacted
 * away or past the end); the compaction point itself has its term.
 */
static inline uint64_t
RaftTermAt(const RaftNode *r, uint64_t index)
{
	if (index == r->snap.index)
		return r->snap.term;
	if (index < r->snap.index || index > RaftLastIndex(r))
		return 0;
	return r->ents[index - r->snap.index - 1].term;
}

static inline RaftEntry *
RaftEntryAt(const RaftNode *r, uint64_t index)
{
	return &r->ents[index - r->snap.index - 1];
}

static inline bool
RaftMatchTerm(const RaftNode *r, uint64_t index, uint64_t term)
{
	if (index < r->snap.index || index > RaftLastIndex(r))
		return false;
	return RaftTermAt(r, index) == term;
}

static inline bool
RaftIdIn(const RaftId *ids, int n, RaftId id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static inline bool
RaftIsVoter(const RaftNode *r, RaftId id)
{
	return RaftIdIn(r->conf.voters, r->conf.nvoters, id);
}

static inline int
RaftQuorum(const RaftNode *r)
{
	return r->conf.nvoters / 2 + 1;
}

#endif							/* NOSQL_RAFT_INTERNAL_H */
