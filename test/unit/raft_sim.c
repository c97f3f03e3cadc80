/*-------------------------------------------------------------------------
 *
 * raft_sim.c
 *	  A deterministic simulator of a Raft group on src/raft_core.c.
 *
 * Design note
 * -----------
 * One seed gives one run: 3 or 5 voters (some runs add a learner, promote
 * it and remove a voter, possibly the leader), a network that drops,
 * delays (hence reorders), duplicates and partitions messages, and nodes
 * that crash and restart.  Every message goes through the wire codec.
 *
 * Each node is driven as the background worker drives it: for each Ready,
 * persist the hard state, the snapshot and the entries on the node's
 * "disk", then send the messages, then apply the committed entries to the
 * state machine (a map of keys to values; a normal entry is "put k v"),
 * then advance.  A crash loses everything but the disk (some crashes
 * happen between the persisting and the sending of a Ready); a restart
 * rebuilds the node from its disk alone, with the state machine of its
 * last snapshot.  Nodes compact their logs now and then; a leader's
 * outgoing snapshot message is rewritten to the sender's applied index and
 * carries its state machine as of that index, as the worker does.
 *
 * The checker records, for each index, the entry the first node applied
 * there and the state machine's hash after it, and checks:
 *	- election safety: at most one leader per term;
 *	- log matching: two logs with an entry of the same index and term agree
 *	  on every entry before it (checked every 50 ticks and at the end);
 *	- leader completeness: a new leader holds every entry known committed;
 *	- state machine safety: every node applies the same entry at an index,
 *	  in order, and a restored snapshot is the state at its index;
 *	- linearizable reads: a read state's index is at least the highest
 *	  index known committed when the read was asked for;
 *	- liveness: once the network heals and every node is up, a leader is
 *	  elected and a fresh entry commits within RAFT_SIM_LIVENESS ticks.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_core.h"
#include "raft_sim.h"

#define SIM_MAX_NODES	7
#define SIM_KEYS		8
#define SIM_ELECTION	10
#define SIM_HEARTBEAT	2
#define RAFT_SIM_LIVENESS	(40 * SIM_ELECTION)

/* What a node has persisted */
typedef struct SimDisk
{
	RaftHardState hs;
	RaftSnapshotMeta snap;
	uint64_t	snap_values[SIM_KEYS];
	RaftEntry  *ents;
	size_t		nents;
	size_t		cap;
} SimDisk;

typedef struct SimNode
{
	RaftId		id;
	RaftNode   *raft;			/* NULL while down */
	int			restart_at;
	int			group;			/* partition side */
	SimDisk		disk;
	/* the state machine (volatile; rebuilt from the disk's snapshot) */
	uint64_t	values[SIM_KEYS];
	uint64_t	applied;
	RaftConfState conf;
	/* a snapshot received and installed, waiting for its Ready */
	bool		has_incoming;
	RaftSnapshotMeta incoming;
	uint64_t	incoming_values[SIM_KEYS];
} SimNode;

typedef struct SimMsg
{
	int			at;
	RaftId		from;
	RaftId		to;
	uint8_t    *buf;
	size_t		len;
	uint64_t	values[SIM_KEYS];	/* snapshot data */
} SimMsg;

/* What the checker knows of index i */
typedef struct SimHistory
{
	bool		set;
	uint64_t	term;
	uint64_t	entry_hash;
	uint64_t	state_hash;
} SimHistory;

typedef struct Sim
{
	uint64_t	seed;
	uint64_t	rng;
	const RaftSimOptions *opt;
	RaftSimResult *res;
	bool		failed;
	int			now;

	int			nnodes;			/* in the simulation (voters + joiners) */
	int			nvoters;		/* initial voters */
	SimNode		nodes[SIM_MAX_NODES];
	bool		pre_vote;
	bool		check_quorum;
	bool		asker_confirms;	/* RaftConfig.asker_confirms */
	size_t		max_msg_bytes;
	int			max_inflight;

	/* network */
	SimMsg	   *msgs;
	size_t		nmsgs;
	size_t		msgs_cap;
	int			drop_pct;
	int			dup_pct;
	int			max_delay;
	bool		partitioned;
	bool		faults;

	/* checker */
	SimHistory *history;
	size_t		history_cap;
	uint64_t	commit_max;
	RaftId	   *term_leader;
	size_t		term_leader_cap;
	uint64_t   *read_bound;		/* by read context */
	size_t		nreads;
	uint64_t	next_value;
	int			conf_step;
	int			conf_next_at;
	uint64_t	live_value;		/* the liveness proposal's value */
	int			live_applied_at;
} Sim;

static uint64_t
SimRandom(Sim *s)
{
	uint64_t	z;

	s->rng += UINT64_C(0x9e3779b97f4a7c15);
	z = s->rng;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static int
SimRand(Sim *s, int n)
{
	return (int) (SimRandom(s) % (uint64_t) n);
}

static bool
SimChance(Sim *s, int per_mille)
{
	return SimRand(s, 1000) < per_mille;
}

static void
SimTrace(Sim *s, const char *fmt,...)
	__attribute__((format(__printf__, 2, 3)));

static void
SimTrace(Sim *s, const char *fmt,...)
{
	va_list		ap;

	if (!s->opt->trace)
		return;
	fprintf(stderr, "[%5d] ", s->now);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
SimFail(Sim *s, const char *fmt,...)
	__attribute__((format(__printf__, 2, 3)));

static void
SimFail(Sim *s, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (s->failed)
		return;
	s->failed = true;
	s->res->ok = false;
	n = snprintf(s->res->error, sizeof(s->res->error), "seed %llu tick %d: ",
				 (unsigned long long) s->seed, s->now);
	va_start(ap, fmt);
	vsnprintf(s->res->error + n, sizeof(s->res->error) - n, fmt, ap);
	va_end(ap);
	SimTrace(s, "VIOLATION %s", s->res->error);
}

static uint64_t
SimHash(const uint8_t *data, size_t len, uint64_t h)
{
	for (size_t i = 0; i < len; i++)
	{
		h ^= data[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t
SimStateHash(const uint64_t *values)
{
	return SimHash((const uint8_t *) values, sizeof(uint64_t) * SIM_KEYS,
				   UINT64_C(0xcbf29ce484222325));
}

static uint64_t
SimEntryHash(const RaftEntry *e)
{
	uint8_t		type = e->type;

	return SimHash(e->data, e->len,
				   SimHash(&type, 1, UINT64_C(0xcbf29ce484222325)));
}

static SimHistory *
SimHistoryAt(Sim *s, uint64_t index)
{
	if (index >= s->history_cap)
	{
		size_t		newcap = s->history_cap ? s->history_cap : 256;

		while (newcap <= index)
			newcap *= 2;
		s->history = realloc(s->history, newcap * sizeof(SimHistory));
		memset(s->history + s->history_cap, 0,
			   (newcap - s->history_cap) * sizeof(SimHistory));
		s->history_cap = newcap;
	}
	return &s->history[index];
}

static SimNode *
SimNodeById(Sim *s, RaftId id)
{
	for (int i = 0; i < s->nnodes; i++)
		if (s->nodes[i].id == id)
			return &s->nodes[i];
	return NULL;
}

static bool
SimIsVoter(const RaftConfState *c, RaftId id)
{
	for (int i = 0; i < c->nvoters; i++)
		if (c->voters[i] == id)
			return true;
	return false;
}

/* ---------------------------------------------------------------------
 * The disk
 * ---------------------------------------------------------------------
 */

static void
SimDiskTruncate(SimDisk *d, size_t keep)
{
	for (size_t i = keep; i < d->nents; i++)
		free(d->ents[i].data);
	if (keep < d->nents)
		d->nents = keep;
}

static void
SimDiskAppend(SimDisk *d, const RaftEntry *e)
{
	RaftEntry  *copy;

	if (d->nents == d->cap)
	{
		d->cap = d->cap ? d->cap * 2 : 64;
		d->ents = realloc(d->ents, d->cap * sizeof(RaftEntry));
	}
	copy = &d->ents[d->nents++];
	*copy = *e;
	copy->data = NULL;
	if (e->len > 0)
	{
		copy->data = malloc(e->len);
		memcpy(copy->data, e->data, e->len);
	}
}

/* Drop the persisted entries up to index (a compaction or a snapshot) */
static void
SimDiskDropTo(SimDisk *d, uint64_t index)
{
	size_t		drop = 0;

	while (drop < d->nents && d->ents[drop].index <= index)
	{
		free(d->ents[drop].data);
		drop++;
	}
	memmove(d->ents, d->ents + drop, (d->nents - drop) * sizeof(RaftEntry));
	d->nents -= drop;
}

/* ---------------------------------------------------------------------
 * Nodes
 * ---------------------------------------------------------------------
 */

static void
SimStart(Sim *s, SimNode *n)
{
	RaftConfig	c = {0};

	c.id = n->id;
	c.election_ticks = SIM_ELECTION;
	c.heartbeat_ticks = SIM_HEARTBEAT;
	c.pre_vote = s->pre_vote;
	c.check_quorum = s->check_quorum;
	c.asker_confirms = s->asker_confirms;
	c.seed = s->seed * 31 + (uint64_t) s->now;
	c.max_msg_bytes = s->max_msg_bytes;
	c.max_inflight = s->max_inflight;
	c.hard_state = n->disk.hs;
	c.snapshot = n->disk.snap;
	c.nentries = n->disk.nents;
	c.entries = n->disk.ents;
	c.applied = n->disk.snap.index;
	c.test_flags = s->opt->test_flags;
	n->raft = raft_new(&c);
	memcpy(n->values, n->disk.snap_values, sizeof(n->values));
	n->applied = n->disk.snap.index;
	n->conf = n->disk.snap.conf;
	n->has_incoming = false;
	if (n->raft == NULL)
		SimFail(s, "raft_new failed for node %llu", (unsigned long long) n->id);
}

static void
SimCrash(Sim *s, SimNode *n)
{
	SimTrace(s, "crash %llu", (unsigned long long) n->id);
	raft_free(n->raft);
	n->raft = NULL;
	n->restart_at = s->now + 1 + SimRand(s, 4 * SIM_ELECTION);
	s->res->crashes++;
}

static void SimProcessReady(Sim *s, SimNode *n, bool crash_after_persist);

/* Queue a message on the network (as it leaves its sender) */
static void
SimSend(Sim *s, SimNode *from, RaftMessage *m)
{
	int			copies = 1;
	size_t		len;

	if (m->type == RAFT_MSG_SNAP)
	{
		/* ship the state machine as of applied, as the worker does */
		m->snapshot.index = from->applied;
		m->snapshot.term = raft_term_at(from->raft, from->applied);
		m->snapshot.conf = from->conf;
		if (m->snapshot.term == 0)
			SimFail(s, "no term at the applied index %llu of node %llu",
					(unsigned long long) from->applied,
					(unsigned long long) from->id);
	}
	if (s->faults && SimRand(s, 100) < s->dup_pct)
		copies = 2;
	len = raft_msg_encoded_size(m);
	for (int c = 0; c < copies; c++)
	{
		SimMsg	   *sm;

		if (s->nmsgs == s->msgs_cap)
		{
			s->msgs_cap = s->msgs_cap ? s->msgs_cap * 2 : 256;
			s->msgs = realloc(s->msgs, s->msgs_cap * sizeof(SimMsg));
		}
		sm = &s->msgs[s->nmsgs++];
		sm->at = s->now + 1 + (s->faults ? SimRand(s, s->max_delay) : 0);
		sm->from = from->id;
		sm->to = m->to;
		sm->len = len;
		sm->buf = malloc(len);
		if (raft_msg_encode(m, sm->buf, len) != len)
			SimFail(s, "raft_msg_encode failed");
		memcpy(sm->values, from->values, sizeof(sm->values));
	}
}

/* Apply one committed entry to a node's state machine and check it */
static void
SimApply(Sim *s, SimNode *n, const RaftEntry *e)
{
	SimHistory *h;
	uint64_t	state;

	if (e->index != n->applied + 1)
	{
		SimFail(s, "node %llu applies index %llu after %llu",
				(unsigned long long) n->id, (unsigned long long) e->index,
				(unsigned long long) n->applied);
		return;
	}
	if (e->type == RAFT_ENTRY_NORMAL && e->len == 9)
	{
		uint64_t	v;

		memcpy(&v, e->data + 1, sizeof(v));
		n->values[e->data[0] % SIM_KEYS] = v;
		if (v == s->live_value && s->live_value != 0 && s->live_applied_at < 0)
			s->live_applied_at = s->now;
	}
	else if (e->type == RAFT_ENTRY_CONF)
	{
		RaftConfChange cc;

		if (raft_conf_change_decode(e->data, e->len, &cc) != RAFT_OK)
			SimFail(s, "undecodable configuration entry at %llu",
					(unsigned long long) e->index);
		else
		{
			raft_apply_conf_change(n->raft, &cc, &n->conf);
			s->res->conf_changes++;
			SimTrace(s, "node %llu applies conf change %d of %llu at %llu",
					 (unsigned long long) n->id, cc.type,
					 (unsigned long long) cc.node,
					 (unsigned long long) e->index);
		}
	}
	n->applied = e->index;
	state = SimStateHash(n->values);
	h = SimHistoryAt(s, e->index);
	if (!h->set)
	{
		h->set = true;
		h->term = e->term;
		h->entry_hash = SimEntryHash(e);
		h->state_hash = state;
	}
	else if (h->term != e->term || h->entry_hash != SimEntryHash(e) ||
			 h->state_hash != state)
		SimFail(s, "node %llu applies at %llu an entry of term %llu, "
				"another node applied one of term %llu (or another state)",
				(unsigned long long) n->id, (unsigned long long) e->index,
				(unsigned long long) e->term, (unsigned long long) h->term);
	if (e->index > s->res->committed)
		s->res->committed = e->index;
}

/* A node became leader: election safety and leader completeness */
static void
SimCheckLeader(Sim *s, SimNode *n, uint64_t term)
{
	RaftStatus	st;

	if (term >= s->term_leader_cap)
	{
		size_t		newcap = s->term_leader_cap ? s->term_leader_cap : 64;

		while (newcap <= term)
			newcap *= 2;
		s->term_leader = realloc(s->term_leader, newcap * sizeof(RaftId));
		memset(s->term_leader + s->term_leader_cap, 0,
			   (newcap - s->term_leader_cap) * sizeof(RaftId));
		s->term_leader_cap = newcap;
	}
	if (s->term_leader[term] != RAFT_NONE && s->term_leader[term] != n->id)
	{
		SimFail(s, "two leaders in term %llu: %llu and %llu",
				(unsigned long long) term,
				(unsigned long long) s->term_leader[term],
				(unsigned long long) n->id);
		return;
	}
	if (s->term_leader[term] == RAFT_NONE)
		s->res->leaders++;
	s->term_leader[term] = n->id;
	SimTrace(s, "node %llu leads term %llu", (unsigned long long) n->id,
			 (unsigned long long) term);

	raft_get_status(n->raft, &st);
	if (st.last_index < s->commit_max)
	{
		SimFail(s, "leader %llu of term %llu lacks committed entries: last "
				"index %llu, committed %llu", (unsigned long long) n->id,
				(unsigned long long) term,
				(unsigned long long) st.last_index,
				(unsigned long long) s->commit_max);
		return;
	}
	for (uint64_t i = st.first_index; i <= s->commit_max; i++)
	{
		SimHistory *h = SimHistoryAt(s, i);

		if (h->set && raft_term_at(n->raft, i) != h->term)
		{
			SimFail(s, "leader %llu of term %llu has term %llu at committed "
					"index %llu, not %llu", (unsigned long long) n->id,
					(unsigned long long) term,
					(unsigned long long) raft_term_at(n->raft, i),
					(unsigned long long) i, (unsigned long long) h->term);
			return;
		}
	}
}

/*
 * Drive a node's Readys as the worker does: persist, send, apply, advance.
 * With crash_after_persist, the node crashes after persisting its first
 * Ready, before sending anything.
 */
static void
SimProcessReady(Sim *s, SimNode *n, bool crash_after_persist)
{
	while (n->raft != NULL && !s->failed && raft_has_ready(n->raft))
	{
		RaftReady	rd;

		raft_ready(n->raft, &rd);

		if (rd.soft_state_changed && rd.role == RAFT_LEADER)
		{
			RaftStatus	st;

			raft_get_status(n->raft, &st);
			SimCheckLeader(s, n, st.term);
		}

		/* persist */
		if (rd.has_snapshot)
		{
			if (!n->has_incoming || n->incoming.index != rd.snapshot.index)
				SimFail(s, "node %llu restores a snapshot at %llu it did not "
						"accept", (unsigned long long) n->id,
						(unsigned long long) rd.snapshot.index);
			n->disk.snap = rd.snapshot;
			memcpy(n->disk.snap_values, n->incoming_values,
				   sizeof(n->disk.snap_values));
			SimDiskTruncate(&n->disk, 0);
			n->has_incoming = false;
			s->res->snapshots++;
		}
		if (rd.nentries > 0)
		{
			size_t		keep = 0;

			while (keep < n->disk.nents &&
				   n->disk.ents[keep].index < rd.entries[0].index)
				keep++;
			SimDiskTruncate(&n->disk, keep);
			for (size_t i = 0; i < rd.nentries; i++)
				SimDiskAppend(&n->disk, &rd.entries[i]);
		}
		if (rd.has_hard_state)
		{
			if (rd.hard_state.term != n->disk.hs.term ||
				rd.hard_state.vote != n->disk.hs.vote)
				SimTrace(s, "node %llu term %llu vote %llu role %s",
						 (unsigned long long) n->id,
						 (unsigned long long) rd.hard_state.term,
						 (unsigned long long) rd.hard_state.vote,
						 raft_role_name(rd.role));
			n->disk.hs = rd.hard_state;
			if (rd.hard_state.commit > s->commit_max)
				s->commit_max = rd.hard_state.commit;
		}

		if (crash_after_persist)
		{
			raft_advance(n->raft, &rd);
			SimCrash(s, n);
			return;
		}

		/* send */
		for (size_t i = 0; i < rd.nmsgs; i++)
		{
			RaftMessage *m = &rd.msgs[i];

			if (m->to == n->id)
				SimFail(s, "node %llu sends a message to itself",
						(unsigned long long) n->id);
			SimSend(s, n, m);
		}

		/* apply */
		for (size_t i = 0; i < rd.ncommitted && !s->failed; i++)
			SimApply(s, n, &rd.committed[i]);

		for (size_t i = 0; i < rd.nread_states; i++)
		{
			RaftReadState *rs = &rd.read_states[i];

			s->res->reads++;
			if (rs->context == 0 || rs->context > s->nreads)
				SimFail(s, "unknown read context %llu",
						(unsigned long long) rs->context);
			else if (rs->index < s->read_bound[rs->context - 1])
				SimFail(s, "read %llu at node %llu got index %llu, but %llu "
						"was committed before it was asked for",
						(unsigned long long) rs->context,
						(unsigned long long) n->id,
						(unsigned long long) rs->index,
						(unsigned long long) s->read_bound[rs->context - 1]);
		}
		raft_advance(n->raft, &rd);
	}
}

static void
SimStep(Sim *s, SimNode *n, const RaftMessage *m)
{
	raft_step(n->raft, m);
	SimProcessReady(s, n, false);
}

/* ---------------------------------------------------------------------
 * The network
 * ---------------------------------------------------------------------
 */

static void
SimDeliver(Sim *s, SimMsg *sm)
{
	SimNode    *to = SimNodeById(s, sm->to);
	SimNode    *from = SimNodeById(s, sm->from);
	RaftMessage m;
	bool		dropped;

	dropped = to == NULL || to->raft == NULL ||
		(s->faults && SimRand(s, 100) < s->drop_pct) ||
		(s->partitioned && from != NULL && from->group != to->group);
	if (raft_msg_decode(sm->buf, sm->len, &m) != RAFT_OK)
	{
		SimFail(s, "a message does not decode");
		return;
	}
	if (m.type == RAFT_MSG_SNAP && from != NULL && from->raft != NULL)
	{
		/* the sender learns how its snapshot went */
		raft_report_snapshot(from->raft, sm->to, dropped);
		SimProcessReady(s, from, false);
	}
	if (!dropped && m.type == RAFT_MSG_SNAP)
	{
		if (raft_msg_snapshot_acceptable(to->raft, &m))
		{
			/* install the state machine before stepping, as the worker */
			SimHistory *h = SimHistoryAt(s, m.snapshot.index);

			if (h->set && h->state_hash != SimStateHash(sm->values))
				SimFail(s, "a snapshot at %llu is not the state there",
						(unsigned long long) m.snapshot.index);
			memcpy(to->values, sm->values, sizeof(to->values));
			memcpy(to->incoming_values, sm->values, sizeof(to->values));
			to->incoming = m.snapshot;
			to->has_incoming = true;
			to->applied = m.snapshot.index;
			to->conf = m.snapshot.conf;
			SimTrace(s, "node %llu installs a snapshot at %llu from %llu",
					 (unsigned long long) to->id,
					 (unsigned long long) m.snapshot.index,
					 (unsigned long long) sm->from);
		}
	}
	if (m.type != RAFT_MSG_HEARTBEAT && m.type != RAFT_MSG_HEARTBEAT_RESP &&
		m.type != RAFT_MSG_APP && m.type != RAFT_MSG_APP_RESP)
		SimTrace(s, "%s %s %llu->%llu term %llu index %llu log_term %llu "
				 "reject %d ctx %llu", dropped ? "drop" : "deliver",
				 raft_msg_type_name(m.type), (unsigned long long) m.from,
				 (unsigned long long) m.to, (unsigned long long) m.term,
				 (unsigned long long) m.index,
				 (unsigned long long) m.log_term, m.reject,
				 (unsigned long long) m.context);
	if (!dropped)
		SimStep(s, to, &m);
	raft_msg_free(&m);
}

/* Deliver every message due by now */
static void
SimDeliverDue(Sim *s)
{
	size_t		i = 0;

	while (i < s->nmsgs && !s->failed)
	{
		if (s->msgs[i].at <= s->now)
		{
			SimMsg		sm = s->msgs[i];

			/* keep the order of the others (ties keep sending order) */
			memmove(&s->msgs[i], &s->msgs[i + 1],
					(s->nmsgs - i - 1) * sizeof(SimMsg));
			s->nmsgs--;
			SimDeliver(s, &sm);
			free(sm.buf);
		}
		else
			i++;
	}
}

/* ---------------------------------------------------------------------
 * Clients and faults
 * ---------------------------------------------------------------------
 */

static SimNode *
SimRandomUp(Sim *s)
{
	int			start = SimRand(s, s->nnodes);

	for (int k = 0; k < s->nnodes; k++)
	{
		SimNode    *n = &s->nodes[(start + k) % s->nnodes];

		if (n->raft != NULL)
			return n;
	}
	return NULL;
}

static SimNode *
SimLeader(Sim *s)
{
	SimNode    *best = NULL;
	uint64_t	best_term = 0;

	for (int i = 0; i < s->nnodes; i++)
	{
		RaftStatus	st;

		if (s->nodes[i].raft == NULL)
			continue;
		raft_get_status(s->nodes[i].raft, &st);
		if (st.role == RAFT_LEADER && st.term >= best_term)
		{
			best = &s->nodes[i];
			best_term = st.term;
		}
	}
	return best;
}

static void
SimPropose(Sim *s, SimNode *n, uint64_t value)
{
	uint8_t		data[9];

	data[0] = (uint8_t) SimRand(s, SIM_KEYS);
	memcpy(data + 1, &value, sizeof(value));
	raft_propose(n->raft, data, sizeof(data));
	SimProcessReady(s, n, false);
}

static void
SimRead(Sim *s, SimNode *n)
{
	s->read_bound = realloc(s->read_bound, (s->nreads + 1) * sizeof(uint64_t));
	s->read_bound[s->nreads++] = s->commit_max;
	raft_read_index(n->raft, s->nreads);
	SimProcessReady(s, n, false);
}

/*
 * The membership script of a run: add the first joiner as a learner,
 * promote it, remove the first voter (often the leader), add the second
 * joiner as a learner.  Each step is proposed until the leader has applied
 * it.
 */
static void
SimConfChanges(Sim *s)
{
	static const struct
	{
		uint8_t		type;
		int			node;		/* index into nodes[] (-1: nvoters) */
	}			script[] = {
		{RAFT_CONF_ADD_LEARNER, -1},
		{RAFT_CONF_ADD_VOTER, -1},
		{RAFT_CONF_REMOVE, 0},
		{RAFT_CONF_ADD_LEARNER, -2},
	};
	SimNode    *leader;
	RaftConfChange cc = {0};
	RaftStatus	st;
	bool		done;
	int			idx;

	if (s->conf_step >= (int) (sizeof(script) / sizeof(script[0])) ||
		s->now < s->conf_next_at)
		return;
	leader = SimLeader(s);
	if (leader == NULL)
		return;
	idx = script[s->conf_step].node;
	idx = idx == -1 ? s->nvoters : (idx == -2 ? s->nvoters + 1 : idx);
	if (idx >= s->nnodes)
	{
		s->conf_step++;
		return;
	}
	cc.type = script[s->conf_step].type;
	cc.node = s->nodes[idx].id;
	cc.context = (const uint8_t *) "addr";
	cc.context_len = 4;

	raft_get_status(leader->raft, &st);
	switch (cc.type)
	{
		case RAFT_CONF_ADD_LEARNER:
			done = false;
			for (int i = 0; i < st.conf.nlearners; i++)
				done |= st.conf.learners[i] == cc.node;
			done |= SimIsVoter(&st.conf, cc.node);
			break;
		case RAFT_CONF_ADD_VOTER:
			done = SimIsVoter(&st.conf, cc.node);
			break;
		default:
			done = !SimIsVoter(&st.conf, cc.node);
			break;
	}
	if (done)
	{
		s->conf_step++;
		s->conf_next_at = s->now + 20 + SimRand(s, 60);
		return;
	}
	SimTrace(s, "propose conf change %d of %llu at %llu", cc.type,
			 (unsigned long long) cc.node, (unsigned long long) leader->id);
	raft_propose_conf_change(leader->raft, &cc);
	SimProcessReady(s, leader, false);
	s->conf_next_at = s->now + 10;
}

/* Log matching between every two running nodes */
static void
SimCheckLogs(Sim *s)
{
	for (int a = 0; a < s->nnodes && !s->failed; a++)
		for (int b = a + 1; b < s->nnodes && !s->failed; b++)
		{
			RaftNode   *ra = s->nodes[a].raft;
			RaftNode   *rb = s->nodes[b].raft;
			RaftStatus	sa,
						sb;
			uint64_t	lo,
						hi;
			bool		matched = false;

			if (ra == NULL || rb == NULL)
				continue;
			raft_get_status(ra, &sa);
			raft_get_status(rb, &sb);
			lo = sa.first_index > sb.first_index ? sa.first_index : sb.first_index;
			hi = sa.last_index < sb.last_index ? sa.last_index : sb.last_index;
			for (uint64_t i = hi; i >= lo && i > 0; i--)
			{
				uint64_t	ta = raft_term_at(ra, i);
				uint64_t	tb = raft_term_at(rb, i);

				if (ta == tb)
					matched = true;
				else if (matched)
				{
					SimFail(s, "logs of %llu and %llu match above %llu but "
							"differ there (terms %llu, %llu)",
							(unsigned long long) s->nodes[a].id,
							(unsigned long long) s->nodes[b].id,
							(unsigned long long) i, (unsigned long long) ta,
							(unsigned long long) tb);
					return;
				}
			}
		}
}

static void
SimCompact(Sim *s, SimNode *n)
{
	if (n->applied <= n->disk.snap.index)
		return;
	if (raft_compact(n->raft, n->applied, &n->conf) != RAFT_OK)
		return;
	n->disk.snap.index = n->applied;
	n->disk.snap.term = raft_term_at(n->raft, n->applied);
	n->disk.snap.conf = n->conf;
	memcpy(n->disk.snap_values, n->values, sizeof(n->values));
	SimDiskDropTo(&n->disk, n->applied);
}

/* One tick of the whole simulation */
static void
SimTick(Sim *s)
{
	for (int i = 0; i < s->nnodes && !s->failed; i++)
	{
		SimNode    *n = &s->nodes[i];

		if (n->raft == NULL)
		{
			if (s->now >= n->restart_at)
			{
				SimTrace(s, "restart %llu", (unsigned long long) n->id);
				SimStart(s, n);
			}
			continue;
		}
		raft_tick(n->raft);
		SimProcessReady(s, n, false);
	}
	SimDeliverDue(s);
	if (s->failed)
		return;

	/* clients */
	if (SimChance(s, 300))
	{
		SimNode    *n = SimRandomUp(s);

		if (n != NULL)
			SimPropose(s, n, ++s->next_value);
	}
	if (SimChance(s, 100))
	{
		SimNode    *n = SimRandomUp(s);

		if (n != NULL)
			SimRead(s, n);
	}
	/*
	 * A member told that its leader is gone (raft_leader_gone), rightly or
	 * not: the worker says so when the leader's address refuses
	 * connections; here it may come while the leader is alive and well.
	 */
	if (SimChance(s, 20))
	{
		SimNode    *n = SimRandomUp(s);

		if (n != NULL)
		{
			RaftStatus	st;

			raft_get_status(n->raft, &st);
			raft_leader_gone(n->raft, st.leader);
			SimProcessReady(s, n, false);
		}
	}
	if (s->res->membership)
		SimConfChanges(s);
	if (SimChance(s, 5))
	{
		SimNode    *l = SimLeader(s);

		if (l != NULL)
		{
			RaftId		to = s->nodes[SimRand(s, s->nnodes)].id;

			SimTrace(s, "transfer from %llu to %llu",
					 (unsigned long long) l->id, (unsigned long long) to);
			raft_transfer_leader(l->raft, to);
			SimProcessReady(s, l, false);
		}
	}
	if (SimChance(s, 40))
	{
		SimNode    *n = SimRandomUp(s);

		if (n != NULL)
			SimCompact(s, n);
	}

	if (!s->faults)
		return;
	if (SimChance(s, 8))
	{
		SimNode    *n = SimRandomUp(s);

		if (n != NULL)
		{
			if (SimChance(s, 300))
			{
				/* crash between persisting and sending a Ready */
				raft_tick(n->raft);
				raft_propose(n->raft, (const uint8_t *) "", 0);
				if (raft_has_ready(n->raft))
					SimProcessReady(s, n, true);
				else
					SimCrash(s, n);
			}
			else
				SimCrash(s, n);
		}
	}
	if (SimChance(s, 10))
	{
		s->partitioned = !s->partitioned;
		for (int i = 0; i < s->nnodes; i++)
			s->nodes[i].group = SimRand(s, 2);
		SimTrace(s, "partition %s", s->partitioned ? "on" : "healed");
	}
}

static void
SimCleanup(Sim *s)
{
	for (int i = 0; i < s->nnodes; i++)
	{
		raft_free(s->nodes[i].raft);
		SimDiskTruncate(&s->nodes[i].disk, 0);
		free(s->nodes[i].disk.ents);
	}
	for (size_t i = 0; i < s->nmsgs; i++)
		free(s->msgs[i].buf);
	free(s->msgs);
	free(s->history);
	free(s->term_leader);
	free(s->read_bound);
}

/*
 * RaftSimRun
 *		Run the simulation of one seed and check it.
 */
void
RaftSimRun(uint64_t seed, const RaftSimOptions *options, RaftSimResult *res)
{
	Sim			s;
	int			heal_at;

	memset(&s, 0, sizeof(s));
	memset(res, 0, sizeof(*res));
	res->ok = true;
	res->liveness_ticks = -1;
	s.seed = seed;
	s.rng = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
	s.opt = options;
	s.res = res;
	s.live_applied_at = -1;

	s.nvoters = (seed & 1) ? 5 : 3;
	res->nodes = s.nvoters;
	res->membership = (seed % 4) >= 2;
	s.nnodes = s.nvoters + (res->membership ? 2 : 0);
	s.pre_vote = seed % 3 != 0;
	s.check_quorum = seed % 5 != 0;
	s.asker_confirms = seed % 7 != 0;
	s.max_msg_bytes = 64 + SimRand(&s, 256);
	s.max_inflight = 1 + SimRand(&s, 4);
	s.drop_pct = SimRand(&s, 15);
	s.dup_pct = SimRand(&s, 5);
	s.max_delay = 1 + SimRand(&s, 4);
	s.faults = true;
	s.conf_next_at = 50 + SimRand(&s, 100);

	for (int i = 0; i < s.nnodes; i++)
	{
		SimNode    *n = &s.nodes[i];

		n->id = (RaftId) (i + 1);
		/* a new group's voters; joiners start with no configuration */
		if (i < s.nvoters)
		{
			n->disk.snap.conf.nvoters = s.nvoters;
			for (int v = 0; v < s.nvoters; v++)
				n->disk.snap.conf.voters[v] = (RaftId) (v + 1);
		}
		SimStart(&s, n);
	}

	for (s.now = 1; s.now <= options->ticks && !s.failed; s.now++)
	{
		SimTick(&s);
		if (s.now % 50 == 0)
			SimCheckLogs(&s);
	}

	/* heal: every node up, no more faults; a fresh entry must commit */
	heal_at = s.now;
	s.faults = false;
	s.partitioned = false;
	SimTrace(&s, "heal");
	for (int i = 0; i < s.nnodes && !s.failed; i++)
		if (s.nodes[i].raft == NULL)
			SimStart(&s, &s.nodes[i]);
	s.live_value = UINT64_C(1) << 62;
	for (; !s.failed && s.live_applied_at < 0; s.now++)
	{
		if (s.now - heal_at > RAFT_SIM_LIVENESS)
		{
			SimFail(&s, "no fresh entry committed within %d ticks of the heal",
					RAFT_SIM_LIVENESS);
			break;
		}
		SimTick(&s);
		if ((s.now - heal_at) % 5 == 0)
		{
			SimNode    *l = SimLeader(&s);

			if (l != NULL)
				SimPropose(&s, l, s.live_value);
		}
	}
	if (!s.failed)
		res->liveness_ticks = s.live_applied_at - heal_at;
	if (!s.failed)
		SimCheckLogs(&s);
	SimCleanup(&s);
}
