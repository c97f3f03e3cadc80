/*-------------------------------------------------------------------------
 *
 * raft_core.h
 *	  The Raft consensus state machine of nosql's coordination part: pure,
 *	  deterministic C with no PostgreSQL dependency, shaped like etcd's raft
 *	  package.
 *
 * The core does no I/O and reads no clock.  Its user (the background worker
 * in raft_worker.c, or the simulator in test/unit/test_raft.c) drives it:
 *
 *	  raft_tick()				every heartbeat interval / heartbeat_ticks
 *	  raft_step()				for each message received from a peer
 *	  raft_propose() ...		for local requests
 *	  while (raft_has_ready())
 *	  {
 *		  raft_ready(&rd);
 *		  persist rd.hard_state, rd.snapshot and rd.entries (fsync);
 *		  send rd.msgs;
 *		  apply rd.committed (and call raft_apply_conf_change for each
 *		  configuration entry);
 *		  raft_advance(&rd);
 *	  }
 *
 * Everything the core randomises (election timeouts) comes from a PRNG
 * seeded by its configuration, so the same inputs give the same outputs.
 *
 * Memory: the core allocates with the functions given to
 * raft_set_allocator() (malloc/realloc/free by default).  They must not
 * return NULL: the backend's wrappers raise FATAL on exhaustion, the unit
 * tests abort.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_RAFT_CORE_H
#define NOSQL_RAFT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t RaftId;		/* a node id; 0 is "none" */

#define RAFT_NONE ((RaftId) 0)
#define RAFT_MAX_MEMBERS 16		/* voters + learners of one group */

/* Errors returned by the entry points (0 is success) */
#define RAFT_OK 0
#define RAFT_ERR_PROPOSAL_DROPPED 1 /* no leader known, or leadership moving */
#define RAFT_ERR_CONF_PENDING 2 /* a configuration change is not applied yet */
#define RAFT_ERR_INVALID 3		/* a malformed message, change or argument */
#define RAFT_ERR_COMPACTED 4	/* the index asked for is compacted away */
#define RAFT_ERR_UNAVAILABLE 5	/* the index asked for is past the log */

typedef enum RaftRole
{
	RAFT_FOLLOWER = 0,
	RAFT_CANDIDATE,
	RAFT_PRE_CANDIDATE,
	RAFT_LEADER
} RaftRole;

typedef enum RaftEntryType
{
	RAFT_ENTRY_NORMAL = 0,		/* the user's data (may be empty: a leader's no-op) */
	RAFT_ENTRY_CONF = 1			/* an encoded RaftConfChange */
} RaftEntryType;

typedef struct RaftEntry
{
	uint64_t	term;
	uint64_t	index;
	uint8_t		type;			/* RaftEntryType */
	uint32_t	len;
	uint8_t    *data;			/* len bytes, owned by whoever holds the entry */
} RaftEntry;

/* The voters and learners of a configuration */
typedef struct RaftConfState
{
	int			nvoters;
	RaftId		voters[RAFT_MAX_MEMBERS];
	int			nlearners;
	RaftId		learners[RAFT_MAX_MEMBERS];
} RaftConfState;

/* A single-server membership change, the data of a RAFT_ENTRY_CONF entry */
typedef enum RaftConfChangeType
{
	RAFT_CONF_ADD_VOTER = 0,	/* add, or promote a learner */
	RAFT_CONF_ADD_LEARNER = 1,
	RAFT_CONF_REMOVE = 2
} RaftConfChangeType;

typedef struct RaftConfChange
{
	uint8_t		type;			/* RaftConfChangeType */
	RaftId		node;
	uint32_t	context_len;	/* opaque to the core (the worker: an address) */
	const uint8_t *context;
} RaftConfChange;

/* What must be durable before messages of this Ready are sent */
typedef struct RaftHardState
{
	uint64_t	term;
	RaftId		vote;
	uint64_t	commit;
} RaftHardState;

/* A snapshot's metadata; its data (the state machine) is the user's */
typedef struct RaftSnapshotMeta
{
	uint64_t	index;			/* last index the snapshot covers, 0: none */
	uint64_t	term;			/* term of that entry */
	RaftConfState conf;			/* configuration as of that index */
} RaftSnapshotMeta;

typedef enum RaftMessageType
{
	RAFT_MSG_HUP = 0,			/* local: start an election */
	RAFT_MSG_BEAT,				/* local: leader, send heartbeats */
	RAFT_MSG_PROP,				/* a proposal (forwarded to the leader) */
	RAFT_MSG_APP,
	RAFT_MSG_APP_RESP,
	RAFT_MSG_VOTE,
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_PRE_VOTE,
	RAFT_MSG_PRE_VOTE_RESP,
	RAFT_MSG_SNAP,				/* carries only RaftSnapshotMeta */
	RAFT_MSG_HEARTBEAT,
	RAFT_MSG_HEARTBEAT_RESP,
	RAFT_MSG_READ_INDEX,		/* forwarded to the leader */
	RAFT_MSG_READ_INDEX_RESP,
	RAFT_MSG_TRANSFER_LEADER,	/* local or forwarded; context: the
								 * transferee */
	RAFT_MSG_TIMEOUT_NOW,
	RAFT_MSG_UNREACHABLE,		/* local: a peer could not be reached */
	RAFT_MSG_SNAP_STATUS,		/* local: a snapshot was sent, or failed */
	RAFT_MSG_NTYPES
} RaftMessageType;

/* The context of a (pre-)vote request of a leadership transfer */
#define RAFT_CAMPAIGN_TRANSFER ((uint64_t) 1)

typedef struct RaftMessage
{
	uint8_t		type;			/* RaftMessageType */
	RaftId		to;
	RaftId		from;
	uint64_t	term;
	uint64_t	log_term;
	uint64_t	index;
	uint64_t	commit;
	bool		reject;
	uint64_t	reject_hint;
	uint64_t	context;		/* read index request id; campaign-by-transfer
								 * flag (RAFT_CAMPAIGN_TRANSFER); heartbeat:
								 * read round; transfer: the transferee */
	size_t		nentries;
	RaftEntry  *entries;
	RaftSnapshotMeta snapshot;	/* RAFT_MSG_SNAP only */
} RaftMessage;

/* A linearizable read is safe once the applied index reaches index */
typedef struct RaftReadState
{
	uint64_t	index;
	uint64_t	context;		/* the id given to raft_read_index() */
} RaftReadState;

/*
 * What the user must do next.  Everything in it belongs to the core and is
 * valid until raft_advance(); the user copies what it keeps.
 */
typedef struct RaftReady
{
	/* role/leader changed since the last Ready (for logging and waiters) */
	bool		soft_state_changed;
	RaftRole	role;
	RaftId		leader;

	/* persist before sending msgs */
	bool		has_hard_state;
	RaftHardState hard_state;
	bool		has_snapshot;	/* a received snapshot to install */
	RaftSnapshotMeta snapshot;
	size_t		nentries;		/* append to the log; entries[0].index may be
								 * at or below the persisted last index: drop
								 * the persisted entries from there first */
	RaftEntry  *entries;

	size_t		nmsgs;			/* send, after persisting */
	RaftMessage *msgs;

	size_t		ncommitted;		/* apply in order, after persisting */
	RaftEntry  *committed;

	size_t		nread_states;
	RaftReadState *read_states;
} RaftReady;

/* Configuration of one node, and the durable state it restarts from */
typedef struct RaftConfig
{
	RaftId		id;
	int			election_ticks; /* randomised in [election, 2*election) */
	int			heartbeat_ticks;
	bool		pre_vote;
	bool		check_quorum;
	bool		asker_confirms;	/* a follower's read counts as its confirmation */
	uint64_t	seed;			/* of the election-timeout PRNG */
	size_t		max_msg_bytes;	/* entries per append message, by size */
	int			max_inflight;	/* append messages in flight per follower */

	/* durable state; all zero on a fresh node */
	RaftHardState hard_state;
	RaftSnapshotMeta snapshot;	/* last compaction point (its conf is the
								 * initial configuration on a fresh node) */
	size_t		nentries;		/* the log after snapshot.index, copied */
	const RaftEntry *entries;
	uint64_t	applied;		/* last index the state machine has applied */

	uint32_t	test_flags;		/* RAFT_TEST_*: tests only, 0 otherwise */
} RaftConfig;

/*
 * Deliberate bugs, for tests that show a checker can fail: grant votes
 * without the log up-to-date check (Raft's election restriction); count a
 * reading follower's confirmation of the leader twice.
 */
#define RAFT_TEST_UNSAFE_VOTE	0x01
#define RAFT_TEST_UNSAFE_READ	0x02	/* an asking follower counts twice */

/* Per-member view of the group, for nosql.raft_status */
typedef struct RaftProgressStatus
{
	RaftId		id;
	bool		learner;
	uint64_t	match;
	uint64_t	next;
	bool		recent_active;
	int			state;			/* 0 probe, 1 replicate, 2 snapshot */
} RaftProgressStatus;

typedef struct RaftStatus
{
	RaftId		id;
	RaftRole	role;
	uint64_t	term;
	RaftId		vote;
	RaftId		leader;
	uint64_t	commit;
	uint64_t	applied;
	uint64_t	first_index;
	uint64_t	last_index;
	RaftId		lead_transferee;
	RaftConfState conf;
	int			nprogress;		/* leader only */
	RaftProgressStatus progress[2 * RAFT_MAX_MEMBERS];
} RaftStatus;

typedef struct RaftNode RaftNode;

extern void raft_set_allocator(void *(*alloc_fn) (size_t),
							   void *(*realloc_fn) (void *, size_t),
							   void (*free_fn) (void *));

extern RaftNode *raft_new(const RaftConfig *config);
extern void raft_free(RaftNode *node);

extern void raft_tick(RaftNode *node);
extern int	raft_step(RaftNode *node, const RaftMessage *msg);
extern int	raft_propose(RaftNode *node, const uint8_t *data, size_t len);
extern int	raft_propose_conf_change(RaftNode *node, const RaftConfChange *cc);
extern void raft_apply_conf_change(RaftNode *node, const RaftConfChange *cc,
								   RaftConfState *result);
extern int	raft_read_index(RaftNode *node, uint64_t context);
extern int	raft_transfer_leader(RaftNode *node, RaftId to);
extern void raft_campaign(RaftNode *node);
extern void raft_leader_gone(RaftNode *node, RaftId leader);

extern bool raft_has_ready(RaftNode *node);
extern void raft_ready(RaftNode *node, RaftReady *rd);
extern void raft_advance(RaftNode *node, RaftReady *rd);

extern int	raft_compact(RaftNode *node, uint64_t index, const RaftConfState *conf);
extern uint64_t raft_term_at(RaftNode *node, uint64_t index);
extern bool raft_snapshot_acceptable(RaftNode *node, const RaftSnapshotMeta *meta);

/*
 * The same question for a received RAFT_MSG_SNAP as a whole: also false when
 * the message's term is stale (raft_step would drop it).  Drivers should
 * prefer it: install the shipped state only when it says true, then step.
 *
 * A leader that has compacted nothing yet sends a member that joined with
 * no configuration a RAFT_MSG_SNAP whose metadata is {applied, its term,
 * the current configuration}: the log does not hold the group's initial
 * configuration, so such a member rejects appends until it has a snapshot.
 */
extern bool raft_msg_snapshot_acceptable(RaftNode *node, const RaftMessage *msg);
extern void raft_report_unreachable(RaftNode *node, RaftId peer);
extern void raft_report_snapshot(RaftNode *node, RaftId peer, bool failed);
extern void raft_get_status(RaftNode *node, RaftStatus *status);

/* Wire format of messages and configuration changes (little-endian) */
extern size_t raft_msg_encoded_size(const RaftMessage *msg);
extern size_t raft_msg_encode(const RaftMessage *msg, uint8_t *buf, size_t cap);
extern int	raft_msg_decode(const uint8_t *buf, size_t len, RaftMessage *msg);
extern void raft_msg_free(RaftMessage *msg);
extern size_t raft_conf_change_encoded_size(const RaftConfChange *cc);
extern size_t raft_conf_change_encode(const RaftConfChange *cc, uint8_t *buf, size_t cap);
extern int	raft_conf_change_decode(const uint8_t *buf, size_t len, RaftConfChange *cc);

extern const char *raft_role_name(RaftRole role);
extern const char *raft_msg_type_name(int type);

#endif							/* NOSQL_RAFT_CORE_H */
