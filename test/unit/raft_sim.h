/*-------------------------------------------------------------------------
 *
 * raft_sim.h
 *	  A deterministic simulator of a Raft group built on src/raft_core.c,
 *	  with a checker of Raft's safety and liveness properties.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_RAFT_SIM_H
#define NOSQL_RAFT_SIM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct RaftSimOptions
{
	int			ticks;			/* of faults, before the network heals */
	uint32_t	test_flags;		/* RaftConfig.test_flags of every node */
	bool		trace;			/* print what happens on stderr */
} RaftSimOptions;

typedef struct RaftSimResult
{
	bool		ok;
	char		error[512];		/* the first violated property */
	int			nodes;			/* initial voters */
	bool		membership;		/* ran membership changes */
	int			liveness_ticks; /* from the heal to a fresh entry's commit */
	uint64_t	committed;		/* highest index applied */
	int			leaders;		/* elections won */
	int			snapshots;		/* snapshots restored by followers */
	int			reads;			/* read states checked */
	int			crashes;
	int			conf_changes;	/* configuration entries applied */
} RaftSimResult;

/* Run one seed; the result says whether every property held */
extern void RaftSimRun(uint64_t seed, const RaftSimOptions *options,
					   RaftSimResult *result);

#endif							/* NOSQL_RAFT_SIM_H */
