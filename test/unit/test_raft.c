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
 * The negative control: nodes that grant votes without the log check must
 * be caught by the simulation's checker.
 */
TEST(raft_sim_negative_control)
{
	RaftSimOptions opt = {0};
	int			caught = 0;
	uint64_t	seed;

	opt.ticks = 300;
	opt.test_flags = RAFT_TEST_UNSAFE_VOTE;
	for (seed = 1; seed <= 2000 && caught == 0; seed++)
	{
		RaftSimResult res;

		RaftSimRun(seed, &opt, &res);
		if (!res.ok)
		{
			caught++;
			fprintf(stderr, "raft_sim_negative_control: caught at seed %llu: %s\n",
					(unsigned long long) seed, res.error);
		}
	}
	CHECK(caught > 0);
}
