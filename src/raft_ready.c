/*-------------------------------------------------------------------------
 *
 * raft_ready.c
 *	  What the Raft core's driver calls between steps: membership changes,
 *	  Ready and advance, log compaction and snapshots, its reports on
 *	  peers, and the node's status.
 *
 * The design (its "Membership" paragraph in particular) is the design note
 * of raft_core.c.
 *
 * IDENTIFICATION
 *	  src/raft_ready.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "raft_core.h"
#include "raft_internal.h"

/* ---------------------------------------------------------------------
 * Membership
 * ---------------------------------------------------------------------
 */

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
bool
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

/* ---------------------------------------------------------------------
 * Ready
 * ---------------------------------------------------------------------
 */

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

/* ---------------------------------------------------------------------
 * Compaction and snapshots
 * ---------------------------------------------------------------------
 */

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

/* ---------------------------------------------------------------------
 * Reports and status
 * ---------------------------------------------------------------------
 */

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

static uint64_t
RaftFirstIndex(const RaftNode *r)
{
	return r->snap.index + 1;
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
