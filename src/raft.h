/*-------------------------------------------------------------------------
 *
 * raft.h
 *	  Coordination: the Raft group that replicates the key-value store
 *	  across PostgreSQL servers.  The pure state machine is raft_core.h;
 *	  this header joins the parts around it: the storage of the log
 *	  (raft_log.c), the network (raft_net.c), the background worker
 *	  (raft_worker.c) and the client side of the key-value calls
 *	  (raft_client.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_RAFT_H
#define NOSQL_RAFT_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/dsa.h"

#include "raft_core.h"

/* GUCs (guc.c) */
extern int	nosql_raft_node_id;
extern char *nosql_raft_listen;
extern char *nosql_raft_peers;
extern char *nosql_raft_database;
extern char *nosql_raft_secret;
extern int	nosql_raft_heartbeat_ms;
extern int	nosql_raft_election_timeout_ms;
extern int	nosql_raft_request_timeout_ms;
extern bool nosql_raft_allow_in_transaction;
extern bool nosql_raft_read_asker_confirms;
extern bool nosql_raft_join;

/*
 * What a log entry of the key-value store asks (the first bytes of a normal
 * entry's data, then a BSON document):
 *	  TXN				an etcd TxnRequest (kv_put, kv_delete, kv_txn...)
 *	  COMPACT			{revision}
 *	  LEASE_GRANT		{id, ttl}
 *	  LEASE_REVOKE		{id}
 *	  LEASE_KEEPALIVE	{id}
 *	  LEASE_EXPIRE		{id}: the leader saw the lease expire
 */
typedef enum RaftOp
{
	RAFT_OP_TXN = 1,
	RAFT_OP_COMPACT,
	RAFT_OP_LEASE_GRANT,
	RAFT_OP_LEASE_REVOKE,
	RAFT_OP_LEASE_KEEPALIVE,
	RAFT_OP_LEASE_EXPIRE
} RaftOp;

#define RAFT_ENTRY_VERSION 1
/* version, op, origin node (8), request id (8) */
#define RAFT_ENTRY_HEADER 18

/* A member's address, host:port */
#define RAFT_ADDR_LEN 128

typedef struct RaftPeerAddr
{
	RaftId		id;
	char		addr[RAFT_ADDR_LEN];
} RaftPeerAddr;

/* A request slot's states */
typedef enum RaftSlotState
{
	RAFT_SLOT_FREE = 0,
	RAFT_SLOT_SUBMITTED,		/* the backend waits; the worker has not seen it */
	RAFT_SLOT_PROPOSED,			/* handed to the core */
	RAFT_SLOT_READ_WAIT,		/* read index known, waiting for apply */
	RAFT_SLOT_DONE,				/* result (or an error) ready */
	RAFT_SLOT_ABANDONED			/* the backend gave up; the worker frees it */
} RaftSlotState;

typedef enum RaftSlotKind
{
	RAFT_REQ_WRITE = 1,			/* an entry: op + payload */
	RAFT_REQ_READ,				/* a ReadIndex barrier */
	RAFT_REQ_ADD_MEMBER,		/* payload: address; node in arg */
	RAFT_REQ_REMOVE_MEMBER,
	RAFT_REQ_TRANSFER
} RaftSlotKind;

#define RAFT_ERRMSG_LEN 512

/* One backend's request to the worker */
typedef struct RaftSlot
{
	int			state;			/* RaftSlotState, under RaftShared->lock */
	int			kind;			/* RaftSlotKind */
	int			op;				/* RaftOp of a write */
	uint64		request_id;		/* slot number in the high bits */
	int64		arg;			/* node of a membership change or transfer */
	uint64		term;			/* term when proposed */
	uint64		read_batch;		/* the read index request it waits on */
	uint64		read_index;
	dsa_pointer payload;
	Size		payload_len;
	dsa_pointer result;
	Size		result_len;
	int			sqlerrcode;		/* 0: success */
	char		errmsg[RAFT_ERRMSG_LEN];
	char		errdetail[RAFT_ERRMSG_LEN];
	ConditionVariable cv;
} RaftSlot;

#define RAFT_LINK_LEN 160

/* What the worker publishes for nosql.raft_status */
typedef struct RaftSharedStatus
{
	bool		running;
	RaftStatus	core;
	TimestampTz last_contact[2 * RAFT_MAX_MEMBERS];	/* by progress entry */
	int			npeers;
	RaftPeerAddr peers[2 * RAFT_MAX_MEMBERS];
	TimestampTz leader_contact; /* last message from the leader */
	char		links[2 * RAFT_MAX_MEMBERS][RAFT_LINK_LEN];	/* by peer */
} RaftSharedStatus;

typedef struct RaftShared
{
	LWLock		lock;			/* slots' states, the status */
	int			tranche_id;
	pid_t		worker_pid;
	Latch	   *worker_latch;
	uint32		incarnation;	/* random, per shared memory set-up */
	uint64		request_seq;
	ConditionVariable applied_cv;	/* broadcast when the worker applied */
	RaftSharedStatus status;
	int			nslots;
	RaftSlot   *slots;			/* nslots of them, after the dsa area */
	char		dsa_space[FLEXIBLE_ARRAY_MEMBER];
} RaftShared;

extern RaftShared *RaftState;

/* raft_client.c */
extern void RaftInit(void);
extern bool RaftConfigured(void);
extern bool RaftActive(void);
extern bool RaftApplying;
extern dsa_area *RaftDsa(void);
extern struct varlena *RaftKvTxn(struct varlena *request);
extern int64 RaftKvCall(RaftOp op, int64 a, int64 b);
extern void RaftReadBarrier(void);
extern void RaftParsePeers(const char *value, RaftPeerAddr *peers, int *npeers,
						   int elevel);

/* raft_worker.c */
extern void RaftWorkerRegister(void);
extern PGDLLEXPORT void RaftWorkerMain(Datum arg);

/* raft_log.c: the durable state, in the replicated database's tables */
typedef struct RaftDurable
{
	RaftHardState hard;
	RaftSnapshotMeta snapshot;	/* compaction point */
	uint64		applied;
	uint64		applied_term;
	RaftConfState applied_conf;
	uint64		last_conf_index;	/* index of the last configuration entry
									 * applied */
	int			npeers;
	RaftPeerAddr peers[2 * RAFT_MAX_MEMBERS];
	size_t		nentries;
	RaftEntry  *entries;
	bool		fresh;			/* no state yet */
} RaftDurable;

extern void RaftLogLoad(RaftDurable *d);
extern void RaftLogBootstrap(const RaftConfState *conf, const RaftPeerAddr *peers, int npeers);
extern void RaftLogPersist(const RaftReady *rd);
extern void RaftLogSaveApplied(uint64 index, uint64 term, const RaftConfState *conf,
							   uint64 last_conf_index);
extern void RaftLogSavePeers(const RaftPeerAddr *peers, int npeers);
extern void RaftLogCompact(uint64 index);
extern void RaftLogSnapshotBuild(StringInfo out, uint64 *index);
extern void RaftLogSnapshotInstall(const char *data, Size len, const RaftSnapshotMeta *meta,
								   RaftPeerAddr *peers, int *npeers);

/* raft_net.c */
#define RAFT_FRAME_MSG 1
#define RAFT_FRAME_SNAP_CHUNK 2

extern void RaftNetInit(RaftId self, const char *listen_addr, const char *secret);
extern void RaftNetSetPeers(const RaftPeerAddr *peers, int npeers);
extern bool RaftNetSend(RaftId to, int kind, const uint8_t *data, Size len);
typedef void (*RaftNetReceive) (RaftId from, int kind, const uint8_t *data, Size len);
extern void RaftNetWait(long timeout_ms, RaftNetReceive receive);
extern void RaftNetFlush(void);
extern bool RaftNetPeerGone(RaftId id);
extern void RaftNetDescribe(RaftId id, char *buf, size_t len);

#endif							/* NOSQL_RAFT_H */
