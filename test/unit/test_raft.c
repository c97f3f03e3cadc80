/*-------------------------------------------------------------------------
 *
 * test_raft.c
 *	  Unit tests of the Raft core (src/raft_core.c, src/raft_codec.c) and
 *	  the seeded simulation of raft_sim.c.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft_core.h"
#include "raft_sim.h"
#include "unit.h"

/*
 * The simulation: RAFT_SIM_SEEDS seeds (10000), RAFT_SIM_TICKS ticks of
 * faults each (300); RAFT_SIM_SEED=N runs only seed N with a trace.
 */
TEST(raft_sim)
{
	const char *one = getenv("RAFT_SIM_SEED");
	const char *nseeds_env = getenv("RAFT_SIM_SEEDS");
	const char *ticks_env = getenv("RAFT_SIM_TICKS");
	RaftSimOptions opt = {0};
	uint64_t	first = 1;
	uint64_t	nseeds = nseeds_env ? strtoull(nseeds_env, NULL, 10) : 10000;
	int			failures = 0;
	int			max_live = 0;
	long		live_sum = 0;
	long		snapshots = 0,
				reads = 0,
				crashes = 0,
				confs = 0,
				leaders = 0;
	uint64_t	committed = 0;
	clock_t		start = clock();

	opt.ticks = ticks_env ? atoi(ticks_env) : 300;
	if (one != NULL)
	{
		first = strtoull(one, NULL, 10);
		nseeds = 1;
		opt.trace = true;
	}
	for (uint64_t seed = first; seed < first + nseeds; seed++)
	{
		RaftSimResult res;

		RaftSimRun(seed, &opt, &res);
		if (!res.ok)
		{
			if (failures++ < 5)
				UnitFail(__FILE__, __LINE__, "%s", res.error);
			continue;
		}
		if (res.liveness_ticks > max_live)
			max_live = res.liveness_ticks;
		live_sum += res.liveness_ticks;
		snapshots += res.snapshots;
		reads += res.reads;
		crashes += res.crashes;
		confs += res.conf_changes;
		leaders += res.leaders;
		committed += res.committed;
	}
	CHECK_EQ(failures, 0);
	fprintf(stderr, "raft_sim: %llu seeds x %d ticks in %.1f s: %d failed; "
			"%ld elections, %llu entries applied, %ld snapshots restored, "
			"%ld reads checked, %ld crashes, %ld conf changes applied; "
			"liveness after heal: max %d ticks, mean %.1f\n",
			(unsigned long long) nseeds, opt.ticks,
			(double) (clock() - start) / CLOCKS_PER_SEC, failures, leaders,
			(unsigned long long) committed, snapshots, reads, crashes, confs,
			max_live, nseeds ? (double) live_sum / nseeds : 0.0);
}

/*
 * A negative control: with a deliberate bug (RAFT_TEST_* flags) the
 * simulation's checker must fail some seed among the first max_seeds.
 */
static void
TSimCatches(uint32_t flags, uint64_t max_seeds, const char *name)
{
	RaftSimOptions opt = {0};
	int			caught = 0;
	uint64_t	seed;

	opt.ticks = 300;
	opt.test_flags = flags;
	for (seed = 1; seed <= max_seeds && caught == 0; seed++)
	{
		RaftSimResult res;

		RaftSimRun(seed, &opt, &res);
		if (!res.ok)
		{
			caught++;
			fprintf(stderr, "%s: caught at seed %llu: %s\n",
					name, (unsigned long long) seed, res.error);
		}
	}
	CHECK(caught > 0);
}

/* nodes that grant votes without the log check */
TEST(raft_sim_negative_control)
{
	TSimCatches(RAFT_TEST_UNSAFE_VOTE, 2000, "raft_sim_negative_control");
}

/*
 * A leader that counts the asking follower's confirmation twice answers
 * some reads without a quorum: the checker must catch a read index below a
 * commit made before the read was asked (with five members, a deposed
 * leader and one follower).
 */
TEST(raft_sim_negative_control_read)
{
	TSimCatches(RAFT_TEST_UNSAFE_READ, 10000, "raft_sim_negative_control_read");
}

/* ---------------------------------------------------------------------
 * A small network for the focused tests: no faults but the ones a test
 * makes (isolated nodes), messages copied through the codec.
 * ---------------------------------------------------------------------
 */

#define TN 6

typedef struct TNet
{
	RaftNode   *nodes[TN + 1];	/* by id */
	bool		cut[TN + 1];	/* isolated: its messages are dropped */
	RaftMessage queue[4096];
	size_t		nqueue;
	uint64_t	applied[TN + 1];
	RaftConfState conf[TN + 1];
	RaftReadState reads[TN + 1][16];
	int			nreads[TN + 1];
	int			restored[TN + 1];
	uint64_t	restored_index[TN + 1];
	bool		rewrite_snapshots;	/* to the sender's applied index */
	int			snaps_sent;
} TNet;

static RaftNode *
TNode(uint64_t id, int nvoters, bool pre_vote, bool check_quorum)
{
	RaftConfig	c = {0};

	c.id = id;
	c.election_ticks = 10;
	c.heartbeat_ticks = 1;
	c.pre_vote = pre_vote;
	c.check_quorum = check_quorum;
	c.asker_confirms = true;
	c.seed = 42;
	c.max_msg_bytes = 1024;
	c.max_inflight = 4;
	c.snapshot.conf.nvoters = nvoters;
	for (int i = 0; i < nvoters; i++)
		c.snapshot.conf.voters[i] = i + 1;
	return raft_new(&c);
}

static void
TNetInit(TNet *net, int n, bool pre_vote, bool check_quorum)
{
	memset(net, 0, sizeof(*net));
	for (int i = 1; i <= n; i++)
	{
		net->nodes[i] = TNode(i, n, pre_vote, check_quorum);
		net->conf[i].nvoters = n;
		for (int v = 0; v < n; v++)
			net->conf[i].voters[v] = v + 1;
	}
}

static void
TNetFree(TNet *net)
{
	for (int i = 1; i <= TN; i++)
		raft_free(net->nodes[i]);
	for (size_t i = 0; i < net->nqueue; i++)
		raft_msg_free(&net->queue[i]);
}

/* Copy a message through the codec into the queue */
static void
TQueue(TNet *net, const RaftMessage *m)
{
	uint8_t		buf[65536];
	size_t		len = raft_msg_encode(m, buf, sizeof(buf));

	CHECK(len > 0);
	if (net->nqueue < 4096 &&
		raft_msg_decode(buf, len, &net->queue[net->nqueue]) == RAFT_OK)
		net->nqueue++;
	else
		CHECK(false);
}

/* Drive a node's Readys (nothing to persist: the test keeps no disk) */
static void
TReady(TNet *net, int id)
{
	RaftNode   *r = net->nodes[id];

	while (r != NULL && raft_has_ready(r))
	{
		RaftReady	rd;

		raft_ready(r, &rd);
		if (rd.has_snapshot)
		{
			net->restored[id]++;
			net->restored_index[id] = rd.snapshot.index;
			net->applied[id] = rd.snapshot.index;
			net->conf[id] = rd.snapshot.conf;
		}
		for (size_t i = 0; i < rd.nmsgs; i++)
		{
			RaftMessage *m = &rd.msgs[i];

			CHECK(m->to != (RaftId) id);
			if (net->cut[id] || m->to > TN || net->cut[m->to])
				continue;
			if (m->type == RAFT_MSG_SNAP)
			{
				net->snaps_sent++;
				if (net->rewrite_snapshots)
				{
					m->snapshot.index = net->applied[id];
					m->snapshot.term = raft_term_at(r, net->applied[id]);
					m->snapshot.conf = net->conf[id];
				}
			}
			TQueue(net, m);
		}
		for (size_t i = 0; i < rd.ncommitted; i++)
		{
			RaftEntry  *e = &rd.committed[i];

			CHECK_EQ_U64(e->index, net->applied[id] + 1);
			net->applied[id] = e->index;
			if (e->type == RAFT_ENTRY_CONF)
			{
				RaftConfChange cc;

				CHECK_EQ(raft_conf_change_decode(e->data, e->len, &cc), RAFT_OK);
				raft_apply_conf_change(r, &cc, &net->conf[id]);
			}
		}
		for (size_t i = 0; i < rd.nread_states && net->nreads[id] < 16; i++)
			net->reads[id][net->nreads[id]++] = rd.read_states[i];
		raft_advance(r, &rd);
	}
}

/* Deliver until the network is quiet */
static void
TDeliver(TNet *net)
{
	for (int i = 1; i <= TN; i++)
		TReady(net, i);
	while (net->nqueue > 0)
	{
		RaftMessage m = net->queue[0];
		RaftNode   *to = m.to <= TN ? net->nodes[m.to] : NULL;

		memmove(&net->queue[0], &net->queue[1],
				(net->nqueue - 1) * sizeof(RaftMessage));
		net->nqueue--;
		if (to != NULL && !net->cut[m.to] && !net->cut[m.from])
		{
			if (m.type == RAFT_MSG_SNAP)
				raft_report_snapshot(net->nodes[m.from], m.to, false);
			raft_step(to, &m);
			TReady(net, (int) m.to);
			if (m.type == RAFT_MSG_SNAP)
				TReady(net, (int) m.from);
		}
		raft_msg_free(&m);
	}
}

static void
TTick(TNet *net, int id, int n)
{
	for (int i = 0; i < n; i++)
	{
		raft_tick(net->nodes[id]);
		TDeliver(net);
	}
}

static RaftStatus
TStatus(RaftNode *r)
{
	RaftStatus	st;

	raft_get_status(r, &st);
	return st;
}

/* n ticks of every node */
static void
TTickAll(TNet *net, int n)
{
	for (int i = 0; i < n; i++)
		for (int id = 1; id <= TN; id++)
			if (net->nodes[id] != NULL)
			{
				raft_tick(net->nodes[id]);
				TDeliver(net);
			}
}

static void
TElect(TNet *net, int id)
{
	raft_campaign(net->nodes[id]);
	TDeliver(net);
}

static int
TPropose(TNet *net, int id, const char *text)
{
	int			rc = raft_propose(net->nodes[id], (const uint8_t *) text,
								  strlen(text));

	TDeliver(net);
	return rc;
}

TEST(raft_election)
{
	TNet		net;

	TNetInit(&net, 3, false, false);
	/* a follower's timeout fires within [election, 2 * election) ticks */
	for (int i = 0; i < 19 && TStatus(net.nodes[1]).role == RAFT_FOLLOWER; i++)
	{
		raft_tick(net.nodes[1]);
		TDeliver(&net);
	}
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	CHECK_EQ_U64(TStatus(net.nodes[1]).term, 1);
	CHECK_EQ_U64(TStatus(net.nodes[1]).commit, 1);
	TTick(&net, 1, 1);
	for (int i = 2; i <= 3; i++)
	{
		CHECK_EQ(TStatus(net.nodes[i]).role, RAFT_FOLLOWER);
		CHECK_EQ_U64(TStatus(net.nodes[i]).leader, 1);
		/* the leader's no-op is committed and applied everywhere */
		CHECK_EQ_U64(TStatus(net.nodes[i]).commit, 1);
		CHECK_EQ_U64(raft_term_at(net.nodes[i], 1), 1);
	}
	CHECK_EQ(TPropose(&net, 2, "x"), RAFT_OK);	/* forwarded */
	CHECK_EQ_U64(net.applied[3], 2);
	CHECK_EQ_U64(net.applied[1], 2);
	TNetFree(&net);

	/* no leader known: proposals are dropped */
	TNetInit(&net, 3, false, false);
	CHECK_EQ(TPropose(&net, 2, "x"), RAFT_ERR_PROPOSAL_DROPPED);
	CHECK_EQ(raft_read_index(net.nodes[2], 1), RAFT_ERR_PROPOSAL_DROPPED);
	TNetFree(&net);

	/* a single voter elects itself and commits alone */
	TNetInit(&net, 1, true, true);
	TElect(&net, 1);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	CHECK_EQ(TPropose(&net, 1, "y"), RAFT_OK);
	CHECK_EQ_U64(net.applied[1], 2);
	CHECK_EQ(raft_read_index(net.nodes[1], 9), RAFT_OK);
	TDeliver(&net);
	CHECK_EQ(net.nreads[1], 1);
	CHECK_EQ_U64(net.reads[1][0].index, 2);
	TNetFree(&net);
}

/*
 * raft_leader_gone: followers told that the leader's server is down elect a
 * new leader within a few ticks instead of an election timeout (10 ticks
 * here); told so wrongly, a follower keeps the leader it has.
 */
TEST(raft_leader_gone)
{
	TNet		net;

	TNetInit(&net, 3, true, true);
	TElect(&net, 1);
	TTickAll(&net, 1);
	CHECK_EQ_U64(TStatus(net.nodes[3]).leader, 1);
	net.cut[1] = true;			/* down */
	raft_leader_gone(net.nodes[2], 1);
	raft_leader_gone(net.nodes[3], 1);
	CHECK_EQ_U64(TStatus(net.nodes[2]).leader, RAFT_NONE);
	TTickAll(&net, 3);
	/* member 2 comes first (rank 0: two ticks), member 3 grants at once */
	CHECK_EQ(TStatus(net.nodes[2]).role, RAFT_LEADER);
	CHECK_EQ_U64(TStatus(net.nodes[2]).term, 2);
	CHECK_EQ_U64(TStatus(net.nodes[3]).leader, 2);
	TNetFree(&net);

	/* a wrong report: the leader is alive and keeps its followers */
	TNetInit(&net, 3, true, true);
	TElect(&net, 1);
	TTickAll(&net, 1);
	raft_leader_gone(net.nodes[3], 1);
	raft_leader_gone(net.nodes[3], 2);	/* not its leader: ignored */
	TTickAll(&net, 12);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	CHECK_EQ_U64(TStatus(net.nodes[1]).term, 1);
	CHECK_EQ_U64(TStatus(net.nodes[3]).leader, 1);
	CHECK_EQ_U64(TStatus(net.nodes[2]).leader, 1);
	TNetFree(&net);
}

TEST(raft_prevote_rejoin)
{
	TNet		net;
	uint64_t	term;

	TNetInit(&net, 3, true, true);
	TElect(&net, 1);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	term = TStatus(net.nodes[1]).term;

	/* node 3, cut off, keeps campaigning: pre-votes never raise its term */
	net.cut[3] = true;
	TTick(&net, 3, 100);
	CHECK_EQ_U64(TStatus(net.nodes[3]).term, term);
	CHECK_EQ(TStatus(net.nodes[3]).role, RAFT_PRE_CANDIDATE);

	/* it comes back: the leader stays */
	net.cut[3] = false;
	TTickAll(&net, 50);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	CHECK_EQ_U64(TStatus(net.nodes[1]).term, term);
	CHECK_EQ_U64(TStatus(net.nodes[3]).leader, 1);
	TNetFree(&net);

	/* without pre-vote, the same node would come back with a higher term */
	TNetInit(&net, 3, false, false);
	TElect(&net, 1);
	net.cut[3] = true;
	TTick(&net, 3, 100);
	CHECK(TStatus(net.nodes[3]).term > term);
	TNetFree(&net);
}

TEST(raft_check_quorum)
{
	TNet		net;

	TNetInit(&net, 3, true, true);
	TElect(&net, 1);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	/* while it hears from a quorum it stays */
	TTick(&net, 1, 30);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	/* cut off, it steps down within two election timeouts */
	net.cut[1] = true;
	TTick(&net, 1, 20);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_FOLLOWER);
	CHECK_EQ(raft_propose(net.nodes[1], (const uint8_t *) "z", 1),
			 RAFT_ERR_PROPOSAL_DROPPED);

	/* stickiness: a follower that hears from its leader ignores votes */
	net.cut[1] = false;
	TElect(&net, 2);
	CHECK_EQ(TStatus(net.nodes[2]).role, RAFT_LEADER);
	{
		RaftMessage m = {0};
		uint64_t	term = TStatus(net.nodes[3]).term;

		m.type = RAFT_MSG_VOTE;
		m.from = 1;
		m.to = 3;
		m.term = term + 5;
		m.index = 100;
		m.log_term = term + 5;
		raft_step(net.nodes[3], &m);
		CHECK_EQ_U64(TStatus(net.nodes[3]).term, term);
		/* unless it is a leadership transfer's campaign */
		m.context = RAFT_CAMPAIGN_TRANSFER;
		raft_step(net.nodes[3], &m);
		CHECK_EQ_U64(TStatus(net.nodes[3]).term, term + 5);
		CHECK_EQ_U64(TStatus(net.nodes[3]).vote, 1);
	}
	TNetFree(&net);
}

/* A node restarted from entries with the given terms (index 1..n) */
static RaftNode *
TNodeWithLog(uint64_t id, int nvoters, const uint64_t *terms, size_t n,
			 uint64_t term, uint64_t commit, RaftEntry *ents)
{
	RaftConfig	c = {0};

	for (size_t i = 0; i < n; i++)
	{
		memset(&ents[i], 0, sizeof(RaftEntry));
		ents[i].index = i + 1;
		ents[i].term = terms[i];
	}
	c.id = id;
	c.election_ticks = 10;
	c.heartbeat_ticks = 1;
	c.seed = 1;
	c.snapshot.conf.nvoters = nvoters;
	for (int i = 0; i < nvoters; i++)
		c.snapshot.conf.voters[i] = i + 1;
	c.hard_state.term = term;
	c.hard_state.commit = commit;
	c.entries = ents;
	c.nentries = n;
	c.applied = commit;
	return raft_new(&c);
}

/* Take and drop a Ready, returning its messages' first reply */
static void
TDrain(RaftNode *r, RaftMessage *first)
{
	while (raft_has_ready(r))
	{
		RaftReady	rd;

		raft_ready(r, &rd);
		if (first != NULL && rd.nmsgs > 0)
		{
			*first = rd.msgs[0];
			first->entries = NULL;
			first->nentries = 0;
			first = NULL;
		}
		raft_advance(r, &rd);
	}
}

TEST(raft_log_truncation)
{
	static const uint64_t terms[] = {1, 1, 2, 2};
	RaftEntry	ents[4];
	RaftNode   *r = TNodeWithLog(2, 3, terms, 4, 2, 2, ents);
	RaftMessage m = {0};
	RaftMessage resp = {0};
	RaftEntry	e = {0};
	RaftReady	rd;

	TDrain(r, NULL);

	/* an append that does not match is rejected with a hint */
	m.type = RAFT_MSG_APP;
	m.from = 1;
	m.to = 2;
	m.term = 3;
	m.index = 4;
	m.log_term = 3;
	CHECK_EQ(raft_step(r, &m), RAFT_OK);
	TDrain(r, &resp);
	CHECK_EQ(resp.type, RAFT_MSG_APP_RESP);
	CHECK(resp.reject);
	CHECK_EQ_U64(resp.index, 4);
	CHECK_EQ_U64(resp.reject_hint, 4);
	CHECK_EQ_U64(resp.log_term, 2);

	/* the leader's entry at 3 replaces the conflicting suffix */
	e.term = 3;
	e.index = 3;
	m.index = 2;
	m.log_term = 1;
	m.commit = 3;
	m.entries = &e;
	m.nentries = 1;
	CHECK_EQ(raft_step(r, &m), RAFT_OK);
	raft_ready(r, &rd);
	CHECK_EQ((int) rd.nentries, 1);
	CHECK_EQ_U64(rd.entries[0].index, 3);
	CHECK_EQ_U64(rd.entries[0].term, 3);
	CHECK_EQ_U64(rd.hard_state.commit, 3);
	CHECK_EQ((int) rd.ncommitted, 1);
	raft_advance(r, &rd);
	CHECK_EQ_U64(TStatus(r).last_index, 3);
	CHECK_EQ_U64(raft_term_at(r, 3), 3);
	CHECK_EQ_U64(raft_term_at(r, 4), 0);

	/* malformed: entries that do not follow the index */
	e.index = 7;
	CHECK_EQ(raft_step(r, &m), RAFT_ERR_INVALID);
	raft_free(r);
}

TEST(raft_commit_rule)
{
	/* figure 8: an entry of an earlier term is not committed by counting */
	static const uint64_t terms[] = {1, 2};
	RaftEntry	ents[2];
	RaftNode   *r = TNodeWithLog(1, 3, terms, 2, 2, 1, ents);
	RaftMessage m = {0};

	TDrain(r, NULL);
	raft_campaign(r);
	TDrain(r, NULL);
	m.type = RAFT_MSG_VOTE_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 3;
	raft_step(r, &m);
	TDrain(r, NULL);
	CHECK_EQ(TStatus(r).role, RAFT_LEADER);
	CHECK_EQ_U64(raft_term_at(r, 3), 3);	/* the no-op */

	/* a quorum holds index 2 (term 2): still not committed */
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APP_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 3;
	m.index = 2;
	raft_step(r, &m);
	TDrain(r, NULL);
	CHECK_EQ_U64(TStatus(r).commit, 1);

	/* a quorum holds the entry of the leader's term: both commit */
	m.index = 3;
	raft_step(r, &m);
	TDrain(r, NULL);
	CHECK_EQ_U64(TStatus(r).commit, 3);
	raft_free(r);
}

TEST(raft_read_index)
{
	TNet		net;
	RaftMessage m = {0};
	RaftNode   *r;
	RaftReady	rd;

	TNetInit(&net, 3, true, true);
	TElect(&net, 1);
	TPropose(&net, 1, "a");
	CHECK_EQ(raft_read_index(net.nodes[1], 42), RAFT_OK);
	TDeliver(&net);
	CHECK_EQ(net.nreads[1], 1);
	CHECK_EQ_U64(net.reads[1][0].context, 42);
	CHECK_EQ_U64(net.reads[1][0].index, 2);

	/* from a follower: forwarded, answered by the leader */
	CHECK_EQ(raft_read_index(net.nodes[3], 7), RAFT_OK);
	TDeliver(&net);
	CHECK_EQ(net.nreads[3], 1);
	CHECK_EQ_U64(net.reads[3][0].context, 7);
	CHECK_EQ_U64(net.reads[3][0].index, 2);

	/* a leader cut off cannot confirm reads */
	net.cut[1] = true;
	CHECK_EQ(raft_read_index(net.nodes[1], 43), RAFT_OK);
	TDeliver(&net);
	CHECK_EQ(net.nreads[1], 1);
	TNetFree(&net);

	/* a new leader defers reads until its no-op commits */
	r = TNode(1, 3, false, false);
	raft_campaign(r);
	TDrain(r, NULL);
	m.type = RAFT_MSG_VOTE_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 1;
	raft_step(r, &m);
	TDrain(r, NULL);
	CHECK_EQ(TStatus(r).role, RAFT_LEADER);
	raft_read_index(r, 5);
	raft_ready(r, &rd);
	CHECK_EQ((int) rd.nread_states, 0);
	CHECK_EQ((int) rd.nmsgs, 0);
	raft_advance(r, &rd);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APP_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 1;
	m.index = 1;
	raft_step(r, &m);
	CHECK_EQ_U64(TStatus(r).commit, 1);
	raft_ready(r, &rd);
	CHECK_EQ((int) rd.nread_states, 0);
	/* heartbeats carry the read's round */
	CHECK(rd.nmsgs >= 2);
	for (size_t i = 0; i < rd.nmsgs; i++)
		if (rd.msgs[i].type == RAFT_MSG_HEARTBEAT)
			CHECK_EQ_U64(rd.msgs[i].context, 1);
	raft_advance(r, &rd);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_HEARTBEAT_RESP;
	m.from = 3;
	m.to = 1;
	m.term = 1;
	m.context = 1;
	raft_step(r, &m);
	raft_ready(r, &rd);
	CHECK_EQ((int) rd.nread_states, 1);
	if (rd.nread_states == 1)
	{
		CHECK_EQ_U64(rd.read_states[0].index, 1);
		CHECK_EQ_U64(rd.read_states[0].context, 5);
	}
	raft_advance(r, &rd);
	raft_free(r);
}

/* A leader of term 1 over nvoters members with its no-op committed */
static RaftNode *
TReadLeader(int nvoters)
{
	RaftNode   *r = TNode(1, nvoters, false, false);
	RaftMessage m = {0};

	raft_campaign(r);
	TDrain(r, NULL);
	for (int i = 2; i <= nvoters / 2 + 1; i++)
	{
		memset(&m, 0, sizeof(m));
		m.type = RAFT_MSG_VOTE_RESP;
		m.from = i;
		m.to = 1;
		m.term = 1;
		raft_step(r, &m);
	}
	TDrain(r, NULL);
	for (int i = 2; i <= nvoters / 2 + 1; i++)
	{
		memset(&m, 0, sizeof(m));
		m.type = RAFT_MSG_APP_RESP;
		m.from = i;
		m.to = 1;
		m.term = 1;
		m.index = 1;
		raft_step(r, &m);
	}
	TDrain(r, NULL);
	CHECK_EQ(TStatus(r).role, RAFT_LEADER);
	CHECK_EQ_U64(TStatus(r).commit, 1);
	return r;
}

/*
 * Take the leader's Readys: its heartbeats (into *heartbeats, if wanted) and
 * its answers to read context sent to a member (returned)
 */
static int
TReadAnswers(RaftNode *r, uint64_t to, uint64_t context, int *heartbeats)
{
	RaftReady	rd;
	int			answers = 0;

	if (heartbeats != NULL)
		*heartbeats = 0;
	while (raft_has_ready(r))
	{
		raft_ready(r, &rd);
		for (size_t i = 0; i < rd.nmsgs; i++)
		{
			if (rd.msgs[i].type == RAFT_MSG_HEARTBEAT && heartbeats != NULL)
				(*heartbeats)++;
			if (rd.msgs[i].type == RAFT_MSG_READ_INDEX_RESP &&
				rd.msgs[i].to == to && rd.msgs[i].context == context)
				answers++;
		}
		raft_advance(r, &rd);
	}
	return answers;
}

/* A follower's read reaches the leader; what the leader sends back */
static void
TFollowerRead(RaftNode *r, uint64_t from, uint64_t term, uint64_t context,
			  int *heartbeats, int *answers)
{
	RaftMessage m = {0};

	m.type = RAFT_MSG_READ_INDEX;
	m.from = from;
	m.to = 1;
	m.log_term = term;
	m.context = context;
	raft_step(r, &m);
	*answers = TReadAnswers(r, from, context, heartbeats);
}

/* A member acknowledges the leader's heartbeat round */
static void
THeartbeatAck(RaftNode *r, uint64_t from, uint64_t round)
{
	RaftMessage m = {0};

	m.type = RAFT_MSG_HEARTBEAT_RESP;
	m.from = from;
	m.to = 1;
	m.term = 1;
	m.context = round;
	raft_step(r, &m);
}

/*
 * A follower that asks in the leader's term confirms the leader itself:
 * with three voters its read is answered at once, without a heartbeat
 * round; asked in another term, or with five voters, it waits for
 * heartbeat acknowledgements.
 */
TEST(raft_read_index_follower_confirms)
{
	RaftNode   *r = TReadLeader(3);
	int			heartbeats,
				answers;

	TFollowerRead(r, 2, 1, 9, &heartbeats, &answers);
	CHECK_EQ(answers, 1);
	CHECK_EQ(heartbeats, 0);

	/* asked in an earlier term (or by an older member, term 0): a round */
	TFollowerRead(r, 2, 0, 10, &heartbeats, &answers);
	CHECK_EQ(answers, 0);
	CHECK_EQ(heartbeats, 2);
	THeartbeatAck(r, 3, 2);		/* the second read's round */
	CHECK_EQ(TReadAnswers(r, 2, 10, NULL), 1);
	raft_free(r);

	/* five voters: the leader and the asking follower are not a majority */
	r = TReadLeader(5);
	TFollowerRead(r, 4, 1, 11, &heartbeats, &answers);
	CHECK_EQ(answers, 0);
	CHECK_EQ(heartbeats, 4);
	THeartbeatAck(r, 5, 1);
	CHECK_EQ(TReadAnswers(r, 4, 11, NULL), 1);	/* leader, follower 4 and member 5 */
	raft_free(r);
}

TEST(raft_transfer)
{
	TNet		net;
	uint64_t	term;

	TNetInit(&net, 3, true, true);
	TElect(&net, 1);
	TPropose(&net, 1, "a");
	term = TStatus(net.nodes[1]).term;
	/* asked of a follower: forwarded to the leader */
	CHECK_EQ(raft_transfer_leader(net.nodes[3], 2), RAFT_OK);
	TDeliver(&net);
	CHECK_EQ(TStatus(net.nodes[2]).role, RAFT_LEADER);
	CHECK_EQ_U64(TStatus(net.nodes[2]).term, term + 1);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_FOLLOWER);
	CHECK_EQ(TPropose(&net, 1, "b"), RAFT_OK);
	CHECK_EQ_U64(net.applied[3], 4);

	/* to an unreachable node: proposals stop, then the transfer ends */
	net.cut[3] = true;
	CHECK_EQ(raft_transfer_leader(net.nodes[2], 3), RAFT_OK);
	TDeliver(&net);
	CHECK_EQ_U64(TStatus(net.nodes[2]).lead_transferee, 3);
	CHECK_EQ(TPropose(&net, 2, "c"), RAFT_ERR_PROPOSAL_DROPPED);
	TTick(&net, 2, 10);
	CHECK_EQ_U64(TStatus(net.nodes[2]).lead_transferee, 0);
	CHECK_EQ(TStatus(net.nodes[2]).role, RAFT_LEADER);
	CHECK_EQ(TPropose(&net, 2, "c"), RAFT_OK);
	TNetFree(&net);
}

TEST(raft_snapshot)
{
	for (int rewrite = 0; rewrite <= 1; rewrite++)
	{
		TNet		net;
		RaftStatus	st;
		RaftSnapshotMeta meta;

		TNetInit(&net, 3, true, true);
		net.rewrite_snapshots = rewrite;
		TElect(&net, 1);
		net.cut[3] = true;
		for (int i = 0; i < 10; i++)
			TPropose(&net, 1, "v");
		CHECK_EQ_U64(net.applied[1], 11);
		/* compact below applied: the driver ships a later index */
		CHECK_EQ(raft_compact(net.nodes[1], 8, &net.conf[1]), RAFT_OK);
		CHECK_EQ(raft_compact(net.nodes[1], 8, NULL), RAFT_ERR_COMPACTED);
		CHECK_EQ(raft_compact(net.nodes[1], 12, NULL), RAFT_ERR_UNAVAILABLE);
		CHECK_EQ_U64(raft_term_at(net.nodes[1], 8), 1);
		CHECK_EQ_U64(raft_term_at(net.nodes[1], 7), 0);
		CHECK_EQ_U64(TStatus(net.nodes[1]).first_index, 9);

		net.cut[3] = false;
		TTick(&net, 1, 3);
		CHECK_EQ(net.snaps_sent, 1);
		CHECK_EQ(net.restored[3], 1);
		CHECK_EQ_U64(net.restored_index[3], rewrite ? 11 : 8);
		CHECK_EQ_U64(net.applied[3], 11);
		TPropose(&net, 1, "w");
		TTick(&net, 1, 2);
		CHECK_EQ_U64(net.applied[3], 12);
		st = TStatus(net.nodes[1]);
		for (int i = 0; i < st.nprogress; i++)
			if (st.progress[i].id == 3)
			{
				CHECK_EQ(st.progress[i].state, 1);
				CHECK_EQ_U64(st.progress[i].match, 12);
			}

		/* snapshots at or below the commit index are not restored */
		meta.index = 10;
		meta.term = 1;
		meta.conf = net.conf[1];
		CHECK(!raft_snapshot_acceptable(net.nodes[3], &meta));
		meta.index = 20;
		meta.term = 5;
		CHECK(raft_snapshot_acceptable(net.nodes[3], &meta));
		TNetFree(&net);
	}
}

TEST(raft_conf_change)
{
	TNet		net;
	RaftConfChange cc = {0};
	RaftStatus	st;

	TNetInit(&net, 3, true, true);
	/* node 4 joins with no configuration */
	net.nodes[4] = TNode(4, 0, true, true);
	TElect(&net, 1);
	TPropose(&net, 1, "a");

	cc.type = RAFT_CONF_ADD_LEARNER;
	cc.node = 4;
	CHECK_EQ(raft_propose_conf_change(net.nodes[1], &cc), RAFT_OK);
	CHECK_EQ(raft_propose_conf_change(net.nodes[1], &cc), RAFT_ERR_CONF_PENDING);
	TDeliver(&net);
	TTick(&net, 1, 3);
	CHECK_EQ(net.conf[1].nlearners, 1);
	CHECK_EQ(net.conf[4].nlearners, 1);
	CHECK_EQ(net.conf[4].nvoters, 3);
	CHECK_EQ(net.restored[4], 1);	/* the configuration came by snapshot */
	/* a learner never campaigns */
	TTick(&net, 4, 50);
	CHECK_EQ(TStatus(net.nodes[4]).role, RAFT_FOLLOWER);
	CHECK_EQ(TStatus(net.nodes[1]).role, RAFT_LEADER);
	TPropose(&net, 1, "b");
	TTick(&net, 1, 1);
	CHECK_EQ_U64(net.applied[4], net.applied[1]);

	/* a learner does not count for the quorum */
	net.cut[2] = net.cut[3] = true;
	TPropose(&net, 1, "c");
	CHECK(TStatus(net.nodes[1]).commit < TStatus(net.nodes[1]).last_index);
	net.cut[2] = net.cut[3] = false;
	TTick(&net, 1, 2);

	/* promote it */
	cc.type = RAFT_CONF_ADD_VOTER;
	CHECK_EQ(raft_propose_conf_change(net.nodes[1], &cc), RAFT_OK);
	TDeliver(&net);
	TTick(&net, 1, 2);
	CHECK_EQ(net.conf[1].nvoters, 4);
	CHECK_EQ(net.conf[1].nlearners, 0);
	CHECK_EQ(net.conf[4].nvoters, 4);

	/* remove the leader: it leads until it applies the change */
	cc.type = RAFT_CONF_REMOVE;
	cc.node = 1;
	CHECK_EQ(raft_propose_conf_change(net.nodes[1], &cc), RAFT_OK);
	TDeliver(&net);
	CHECK_EQ(net.conf[2].nvoters, 3);
	CHECK(TStatus(net.nodes[1]).role != RAFT_LEADER);
	/* the others elect a leader; node 1 never campaigns again */
	TTickAll(&net, 40);
	st = TStatus(net.nodes[4]);
	CHECK(st.role == RAFT_LEADER || st.leader != RAFT_NONE);
	TTick(&net, 1, 50);
	CHECK(TStatus(net.nodes[1]).role != RAFT_CANDIDATE &&
		  TStatus(net.nodes[1]).role != RAFT_PRE_CANDIDATE);

	/* invalid changes */
	cc.node = 0;
	CHECK_EQ(raft_propose_conf_change(net.nodes[2], &cc), RAFT_ERR_INVALID);
	cc.node = 2;
	cc.type = 9;
	CHECK_EQ(raft_propose_conf_change(net.nodes[2], &cc), RAFT_ERR_INVALID);
	TNetFree(&net);
}

TEST(raft_restart)
{
	static const uint64_t terms[] = {1, 1, 2};
	RaftEntry	ents[3];
	RaftConfig	c = {0};
	RaftNode   *r;
	RaftReady	rd;

	for (int i = 0; i < 3; i++)
	{
		memset(&ents[i], 0, sizeof(RaftEntry));
		ents[i].index = i + 1;
		ents[i].term = terms[i];
	}
	c.id = 1;
	c.election_ticks = 10;
	c.heartbeat_ticks = 1;
	c.snapshot.conf.nvoters = 3;
	c.snapshot.conf.voters[0] = 1;
	c.snapshot.conf.voters[1] = 2;
	c.snapshot.conf.voters[2] = 3;
	c.hard_state.term = 2;
	c.hard_state.vote = 2;
	c.hard_state.commit = 3;
	c.entries = ents;
	c.nentries = 3;
	c.applied = 1;
	r = raft_new(&c);
	CHECK(raft_has_ready(r));
	raft_ready(r, &rd);
	CHECK(!rd.has_hard_state);
	CHECK_EQ((int) rd.nentries, 0);
	CHECK_EQ((int) rd.ncommitted, 2);
	CHECK_EQ_U64(rd.committed[0].index, 2);
	raft_advance(r, &rd);
	CHECK(!raft_has_ready(r));
	CHECK_EQ_U64(TStatus(r).applied, 3);
	CHECK_EQ_U64(TStatus(r).vote, 2);
	raft_free(r);

	/* a configuration without a node id is refused */
	c.id = 0;
	CHECK(raft_new(&c) == NULL);
}

TEST(raft_codec)
{
	RaftMessage m = {0};
	RaftMessage d;
	RaftEntry	e[2] = {{0}};
	uint8_t		buf[512];
	size_t		len;
	RaftConfChange cc = {0};
	RaftConfChange dc;

	e[0].term = 3;
	e[0].index = 7;
	e[0].data = (uint8_t *) "hello";
	e[0].len = 5;
	e[1].term = UINT64_MAX;
	e[1].index = 8;
	e[1].type = RAFT_ENTRY_CONF;
	m.type = RAFT_MSG_SNAP;
	m.to = 2;
	m.from = UINT64_MAX;
	m.term = 300;
	m.log_term = 1;
	m.index = 6;
	m.commit = 5;
	m.reject = true;
	m.reject_hint = 4;
	m.context = 12345678901234ULL;
	m.entries = e;
	m.nentries = 2;
	m.snapshot.index = 99;
	m.snapshot.term = 7;
	m.snapshot.conf.nvoters = 2;
	m.snapshot.conf.voters[0] = 1;
	m.snapshot.conf.voters[1] = 1ULL << 40;
	m.snapshot.conf.nlearners = 1;
	m.snapshot.conf.learners[0] = 3;
	len = raft_msg_encode(&m, buf, sizeof(buf));
	CHECK(len > 0);
	CHECK_EQ((int) len, (int) raft_msg_encoded_size(&m));
	CHECK_EQ(raft_msg_encode(&m, buf, len - 1), 0);
	CHECK_EQ(raft_msg_decode(buf, len, &d), RAFT_OK);
	CHECK_EQ(d.type, RAFT_MSG_SNAP);
	CHECK_EQ_U64(d.from, UINT64_MAX);
	CHECK_EQ_U64(d.term, 300);
	CHECK(d.reject);
	CHECK_EQ_U64(d.context, 12345678901234ULL);
	CHECK_EQ((int) d.nentries, 2);
	CHECK_EQ_U64(d.entries[1].term, UINT64_MAX);
	CHECK_EQ(d.entries[1].type, RAFT_ENTRY_CONF);
	CHECK_EQ((int) d.entries[0].len, 5);
	CHECK(memcmp(d.entries[0].data, "hello", 5) == 0);
	CHECK_EQ_U64(d.snapshot.index, 99);
	CHECK_EQ(d.snapshot.conf.nvoters, 2);
	CHECK_EQ_U64(d.snapshot.conf.voters[1], 1ULL << 40);
	CHECK_EQ_U64(d.snapshot.conf.learners[0], 3);
	raft_msg_free(&d);

	/* every truncation, and a trailing byte, are rejected */
	for (size_t l = 0; l < len; l++)
		CHECK_EQ(raft_msg_decode(buf, l, &d), RAFT_ERR_INVALID);
	buf[len] = 0;
	CHECK_EQ(raft_msg_decode(buf, len + 1, &d), RAFT_ERR_INVALID);
	/* bad version, type, flags */
	buf[0] = 2;
	CHECK_EQ(raft_msg_decode(buf, len, &d), RAFT_ERR_INVALID);
	buf[0] = 1;
	buf[1] = RAFT_MSG_HUP;
	CHECK_EQ(raft_msg_decode(buf, len, &d), RAFT_ERR_INVALID);
	buf[1] = RAFT_MSG_NTYPES;
	CHECK_EQ(raft_msg_decode(buf, len, &d), RAFT_ERR_INVALID);
	{
		/* a varint of eleven bytes, and a huge entry count */
		static const uint8_t longvar[] = {1, 3, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0x7f};
		static const uint8_t manyents[] = {1, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0x0f};

		CHECK_EQ(raft_msg_decode(longvar, sizeof(longvar), &d), RAFT_ERR_INVALID);
		CHECK_EQ(raft_msg_decode(manyents, sizeof(manyents), &d), RAFT_ERR_INVALID);
	}
	/* garbage: never crashes, never leaks (the sanitizers watch) */
	{
		uint64_t	x = 88172645463325252ULL;

		for (int i = 0; i < 20000; i++)
		{
			uint8_t		g[40];
			size_t		gl = (size_t) (i % 40);

			for (size_t k = 0; k < gl; k++)
			{
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				g[k] = (uint8_t) x;
			}
			if (gl > 0)
				g[0] = 1;
			if (gl > 1)
				g[1] %= RAFT_MSG_NTYPES;
			if (raft_msg_decode(g, gl, &d) == RAFT_OK)
				raft_msg_free(&d);
			if (raft_conf_change_decode(g, gl, &dc) == RAFT_OK)
				CHECK(dc.node != 0);
		}
	}

	cc.type = RAFT_CONF_ADD_LEARNER;
	cc.node = 77;
	cc.context = (const uint8_t *) "host:5432";
	cc.context_len = 9;
	len = raft_conf_change_encode(&cc, buf, sizeof(buf));
	CHECK_EQ((int) len, (int) raft_conf_change_encoded_size(&cc));
	CHECK_EQ(raft_conf_change_decode(buf, len, &dc), RAFT_OK);
	CHECK_EQ(dc.type, RAFT_CONF_ADD_LEARNER);
	CHECK_EQ_U64(dc.node, 77);
	CHECK_EQ((int) dc.context_len, 9);
	CHECK(memcmp(dc.context, "host:5432", 9) == 0);
	for (size_t l = 0; l < len; l++)
		CHECK_EQ(raft_conf_change_decode(buf, l, &dc), RAFT_ERR_INVALID);
	CHECK_EQ(raft_conf_change_decode(buf, len + 1, &dc), RAFT_ERR_INVALID);
	buf[1] = 3;
	CHECK_EQ(raft_conf_change_decode(buf, len, &dc), RAFT_ERR_INVALID);
	CHECK_STR_EQ(raft_msg_type_name(RAFT_MSG_APP), "MsgApp");
	CHECK_STR_EQ(raft_role_name(RAFT_LEADER), "leader");
}
