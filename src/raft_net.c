/*-------------------------------------------------------------------------
 *
 * raft_net.c
 *	  The Raft worker's network: TCP between the members on 127.0.0.1 or
 *	  any address, with every connection authenticated by the shared
 *	  secret (nosql.raft_secret) and every frame carrying an HMAC.
 *
 * Design note.  Each member listens on nosql.raft_listen and dials every
 * other member: a dialled (outbound) connection only carries frames from
 * the dialler, an accepted (inbound) one only frames to us, so two members
 * have two connections and no one decides which of them dials.  All
 * sockets are non-blocking and served by the worker's one WaitEventSet, so
 * a slow or silent peer never stops the worker.
 *
 * Authentication is a challenge-response on the shared secret, with fresh
 * random nonces from both sides:
 *
 *	  dialler  -> HELLO     "NOSQLRFT", version, from, to, nonce_c
 *	  acceptor -> CHALLENGE nonce_s, HMAC(secret, "S" from to nonce_c nonce_s)
 *	  dialler  -> AUTH      HMAC(secret, "C" from to nonce_c nonce_s)
 *
 * Each side proves it knows the secret without sending it, and the nonces
 * make every connection's proofs new, so a recorded handshake cannot be
 * replayed.  Frames then go one way, dialler to acceptor:
 *
 *	  length (4) | kind (1) | payload | HMAC(key, seq | length | kind | payload)
 *
 * where key = HMAC(secret, "K" nonce_c nonce_s from to) is the
 * connection's own key and seq counts the connection's frames, so a frame
 * cannot be altered, replayed, reordered or moved to another connection.
 *
 * The acceptor acknowledges what it read, at most every RAFT_ACK_MS:
 *
 *	  acceptor -> ACK       count (8) | HMAC(key, "ACK" count)
 *
 * count being the frames read so far.  An outbound connection is known to
 * work only while its frames are acknowledged: a dialler whose frames
 * have gone unacknowledged for two election timeouts closes the
 * connection and dials again.  (Only once the peer has acknowledged
 * something on the connection: a member built before acknowledgements
 * never sends one, and a group being upgraded one member at a time keeps
 * working.  The acceptor acknowledges its first frames at once.)  A socket can look healthy to its own end
 * while nothing reaches the other (a middlebox or proxy that dropped the
 * connection without a reset that got through, a peer paused and resumed),
 * and a member that cannot send its votes or answers must not wait for
 * TCP to notice.  For the same reason an acceptor that authenticates a new
 * connection from a member closes the older ones from it: a member keeps
 * one connection to each other member, so the old one is dead.
 * Anything that fails a check closes the connection (WARNING: "rejected"); an
 * unauthenticated connection never reaches the state machine.  The HMAC
 * is SHA-256 from PostgreSQL's own common code.  Payloads are not
 * encrypted: the secret protects the group's integrity, not the
 * confidentiality of keys and values (use a private network, or a tunnel).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "raft.h"

#define RAFT_MAGIC "NOSQLRFT"
#define RAFT_NET_VERSION 1
#define RAFT_NONCE 32
#define RAFT_MAC PG_SHA256_DIGEST_LENGTH
#define RAFT_HELLO_LEN (8 + 4 + 8 + 8 + RAFT_NONCE)
#define RAFT_CHALLENGE_LEN (RAFT_NONCE + RAFT_MAC)
#define RAFT_AUTH_LEN RAFT_MAC
/* the largest frame: a 1.5 MiB key with a 1.5 MiB value, or a chunk */
#define RAFT_MAX_FRAME (16 * 1024 * 1024)
/* a peer that lets this much pile up is dropped */
#define RAFT_MAX_BACKLOG (64 * 1024 * 1024)
#define RAFT_HANDSHAKE_MS 5000
#define RAFT_ACK_LEN (8 + RAFT_MAC)
#define RAFT_ACK_MS 100			/* at most one acknowledgement this often */
#define RAFT_MAX_INBOUND 64

typedef enum RaftConnState
{
	RC_CONNECTING,				/* outbound: connect() in progress */
	RC_HELLO_SENT,				/* outbound: waiting for the challenge */
	RC_READY,					/* outbound: authenticated, sending frames */
	RC_WAIT_HELLO,				/* inbound */
	RC_WAIT_AUTH,				/* inbound */
	RC_OPEN						/* inbound: authenticated, reading frames */
} RaftConnState;

typedef struct RaftConn
{
	pgsocket	sock;
	bool		outbound;
	RaftId		peer;
	RaftConnState state;
	StringInfoData in;			/* bytes read, not consumed */
	StringInfoData out;			/* bytes to write from out_pos */
	int			out_pos;
	uint8		nonce_c[RAFT_NONCE];
	uint8		nonce_s[RAFT_NONCE];
	uint8		key[RAFT_MAC];
	uint64		seq;			/* frames sent (outbound) or read (inbound) */
	uint64		acked;			/* frames acknowledged (sent or received) */
	TimestampTz unacked_since;	/* outbound: frames unacknowledged since */
	bool		acks_seen;		/* outbound: the peer acknowledges */
	TimestampTz acked_at;		/* inbound: last acknowledgement sent */
	TimestampTz started;		/* connection made, or state last changed */
	int			wes_pos;		/* position in the wait set, -1: none */
	char		where[64];		/* for messages */
} RaftConn;

typedef struct RaftOutPeer
{
	RaftPeerAddr addr;
	RaftConn   *conn;
	TimestampTz retry_at;
	int			backoff_ms;
	bool		refused;		/* the last dial was refused (no listener) */
} RaftOutPeer;

static RaftId net_self;
static char *net_secret;
static pgsocket listen_sock = PGINVALID_SOCKET;
static RaftOutPeer out_peers[2 * RAFT_MAX_MEMBERS];
static int	nout_peers;
static RaftConn *inbound[RAFT_MAX_INBOUND];
static int	ninbound;
static WaitEventSet *wes;
static bool wes_stale = true;
static MemoryContext net_context;
static ResourceOwner net_owner;	/* OpenSSL's HMAC contexts need one */

static void RaftConnClose(RaftConn *c, const char *why);

/* ---------------------------------------------------------------------
 * HMAC
 * ---------------------------------------------------------------------
 */

static void
RaftHmac(const uint8 *key, size_t keylen, const uint8 *const *parts,
		 const size_t *lens, int nparts, uint8 *mac)
{
	ResourceOwner saved = CurrentResourceOwner;
	pg_hmac_ctx *ctx;

	if (CurrentResourceOwner == NULL)
		CurrentResourceOwner = net_owner;
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (pg_hmac_init(ctx, key, keylen) < 0)
		elog(ERROR, "could not compute an HMAC: %s", pg_hmac_error(ctx));
	for (int i = 0; i < nparts; i++)
		if (pg_hmac_update(ctx, parts[i], lens[i]) < 0)
			elog(ERROR, "could not compute an HMAC: %s", pg_hmac_error(ctx));
	if (pg_hmac_final(ctx, mac, RAFT_MAC) < 0)
		elog(ERROR, "could not compute an HMAC: %s", pg_hmac_error(ctx));
	pg_hmac_free(ctx);
	CurrentResourceOwner = saved;
}

/* HMAC(secret, tag from to nonce_c nonce_s), the handshake's proofs */
static void
RaftProof(char tag, const RaftConn *c, RaftId from, RaftId to, uint8 *mac)
{
	uint8		t = (uint8) tag;
	uint64		f = pg_hton64(from);
	uint64		o = pg_hton64(to);
	const uint8 *parts[] = {&t, (uint8 *) &f, (uint8 *) &o, c->nonce_c, c->nonce_s};
	size_t		lens[] = {1, 8, 8, RAFT_NONCE, RAFT_NONCE};

	RaftHmac((const uint8 *) net_secret, strlen(net_secret), parts, lens, 5, mac);
}

static bool
RaftMacEqual(const uint8 *a, const uint8 *b)
{
	uint8		diff = 0;

	for (int i = 0; i < RAFT_MAC; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The frame MAC under the connection key */
static void
RaftFrameMac(const RaftConn *c, uint64 seq, const uint8 *frame, size_t len, uint8 *mac)
{
	uint64		s = pg_hton64(seq);
	const uint8 *parts[] = {(uint8 *) &s, frame};
	size_t		lens[] = {8, len};

	RaftHmac(c->key, RAFT_MAC, parts, lens, 2, mac);
}

/* The acknowledgement MAC under the connection key */
static void
RaftAckMac(const RaftConn *c, uint64 count, uint8 *mac)
{
	uint64		n = pg_hton64(count);
	const uint8 *parts[] = {(const uint8 *) "ACK", (uint8 *) &n};
	size_t		lens[] = {3, 8};

	RaftHmac(c->key, RAFT_MAC, parts, lens, 2, mac);
}

static void
RaftDeriveKey(RaftConn *c, RaftId from, RaftId to)
{
	RaftProof('K', c, from, to, c->key);
}

/* ---------------------------------------------------------------------
 * Connections
 * ---------------------------------------------------------------------
 */

static RaftConn *
RaftConnNew(pgsocket sock, bool outbound)
{
	RaftConn   *c = MemoryContextAllocZero(net_context, sizeof(RaftConn));
	MemoryContext old = MemoryContextSwitchTo(net_context);

	c->sock = sock;
	c->outbound = outbound;
	c->wes_pos = -1;
	c->started = GetCurrentTimestamp();
	initStringInfo(&c->in);
	initStringInfo(&c->out);
	MemoryContextSwitchTo(old);
	wes_stale = true;
	return c;
}

static void
RaftConnFree(RaftConn *c)
{
	if (c->sock != PGINVALID_SOCKET)
		closesocket(c->sock);
	pfree(c->in.data);
	pfree(c->out.data);
	pfree(c);
	wes_stale = true;
}

/* Queue bytes on a connection */
static void
RaftConnQueue(RaftConn *c, const void *data, size_t len)
{
	MemoryContext old = MemoryContextSwitchTo(net_context);

	/* drop what was written, so the buffer holds only what is pending */
	if (c->out_pos > 0 && (c->out_pos == c->out.len || c->out_pos >= 1024 * 1024))
	{
		memmove(c->out.data, c->out.data + c->out_pos, c->out.len - c->out_pos);
		c->out.len -= c->out_pos;
		c->out.data[c->out.len] = '\0';
		c->out_pos = 0;
	}
	appendBinaryStringInfo(&c->out, data, len);
	MemoryContextSwitchTo(old);
}

/* Split "host:port" */
static bool
RaftSplitAddr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon = strrchr(addr, ':');

	if (colon == NULL || colon == addr || colon[1] == '\0' ||
		(size_t) (colon - addr) >= hostlen || strlen(colon + 1) >= portlen)
		return false;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	strcpy(port, colon + 1);
	return true;
}

static bool
RaftSetNonBlocking(pgsocket sock)
{
	int			one = 1;

	if (!pg_set_noblock(sock))
		return false;
	(void) setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return true;
}

/* Start dialling an outbound peer */
static void
RaftDial(RaftOutPeer *p)
{
	char		host[RAFT_ADDR_LEN];
	char		port[16];
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	pgsocket	sock;
	RaftConn   *c;
	uint8		hello[RAFT_HELLO_LEN];
	uint32		v = pg_hton32(RAFT_NET_VERSION);
	uint64		from = pg_hton64(net_self);
	uint64		to = pg_hton64(p->addr.id);

	if (!RaftSplitAddr(p->addr.addr, host, sizeof(host), port, sizeof(port)))
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return;
	sock = socket(res->ai_family, SOCK_STREAM, 0);
	if (sock == PGINVALID_SOCKET || !RaftSetNonBlocking(sock))
	{
		if (sock != PGINVALID_SOCKET)
			closesocket(sock);
		freeaddrinfo(res);
		return;
	}
	if (connect(sock, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)
	{
		p->refused = (errno == ECONNREFUSED);
		closesocket(sock);
		freeaddrinfo(res);
		return;
	}
	freeaddrinfo(res);

	c = RaftConnNew(sock, true);
	c->peer = p->addr.id;
	c->state = RC_CONNECTING;
	snprintf(c->where, sizeof(c->where), "member " UINT64_FORMAT " at %s",
			 (uint64) p->addr.id, p->addr.addr);
	if (!pg_strong_random(c->nonce_c, RAFT_NONCE))
		elog(ERROR, "could not generate a random nonce");
	memcpy(hello, RAFT_MAGIC, 8);
	memcpy(hello + 8, &v, 4);
	memcpy(hello + 12, &from, 8);
	memcpy(hello + 20, &to, 8);
	memcpy(hello + 28, c->nonce_c, RAFT_NONCE);
	RaftConnQueue(c, hello, sizeof(hello));
	p->conn = c;
}

/* Close a connection; an outbound peer is dialled again after a backoff */
static void
RaftConnClose(RaftConn *c, const char *why)
{
	bool		established = (c->state == RC_READY || c->state == RC_OPEN);

	/*
	 * A rejection is worth a warning.  The rest goes to DEBUG1 (the log
	 * at LOG is for elections and membership): with a reason for the end
	 * of a connection that worked; nosql.raft_status shows each member's
	 * connections as they are.
	 */
	if (why == NULL && established)
		why = "the peer closed it";
	if (why != NULL)
		ereport(strncmp(why, "rejected", 8) == 0 ? WARNING : DEBUG1,
				(errmsg("raft: %s connection with %s closed: %s",
						c->outbound ? "outbound" : "inbound", c->where, why),
				 errhidestmt(true)));
	if (c->outbound)
	{
		for (int i = 0; i < nout_peers; i++)
			if (out_peers[i].conn == c)
			{
				RaftOutPeer *p = &out_peers[i];

				p->conn = NULL;
				p->backoff_ms = Min(Max(p->backoff_ms * 2, 50), 1000);
				p->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), p->backoff_ms);
			}
	}
	else
	{
		for (int i = 0; i < ninbound; i++)
			if (inbound[i] == c)
			{
				inbound[i] = inbound[--ninbound];
				break;
			}
	}
	RaftConnFree(c);
}

/* ---------------------------------------------------------------------
 * Set-up
 * ---------------------------------------------------------------------
 */

/*
 * RaftNetInit
 *		Listen on listen_addr ("host:port"); errors are FATAL, since a
 *		member that cannot listen cannot take part.
 */
void
RaftNetInit(RaftId self, const char *listen_addr, const char *secret)
{
	char		host[RAFT_ADDR_LEN];
	char		port[16];
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	int			one = 1;
	int			rc;

	net_context = AllocSetContextCreate(TopMemoryContext, "nosql raft network",
										ALLOCSET_DEFAULT_SIZES);
	net_owner = ResourceOwnerCreate(NULL, "nosql raft network");
	net_self = self;
	net_secret = MemoryContextStrdup(net_context, secret);
	if (!RaftSplitAddr(listen_addr, host, sizeof(host), port, sizeof(port)))
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid nosql.raft_listen \"%s\"", listen_addr),
				 errhint("Use host:port, e.g. 127.0.0.1:7400.")));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not resolve nosql.raft_listen \"%s\": %s",
						listen_addr, gai_strerror(rc))));
	listen_sock = socket(res->ai_family, SOCK_STREAM, 0);
	if (listen_sock == PGINVALID_SOCKET)
		ereport(FATAL, (errcode_for_socket_access(),
						errmsg("could not create the raft socket: %m")));
	(void) setsockopt(listen_sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_sock, res->ai_addr, res->ai_addrlen) < 0)
		ereport(FATAL, (errcode_for_socket_access(),
						errmsg("could not bind the raft socket to %s: %m", listen_addr)));
	if (listen(listen_sock, 16) < 0 || !pg_set_noblock(listen_sock))
		ereport(FATAL, (errcode_for_socket_access(),
						errmsg("could not listen on %s: %m", listen_addr)));
	freeaddrinfo(res);
	wes_stale = true;
}

/*
 * RaftNetSetPeers
 *		The members to dial (the node itself is skipped); connections to
 *		members that left are closed, new members are dialled.
 */
void
RaftNetSetPeers(const RaftPeerAddr *peers, int npeers)
{
	RaftOutPeer next[2 * RAFT_MAX_MEMBERS];
	int			nnext = 0;

	for (int i = 0; i < npeers && nnext < (int) lengthof(next); i++)
	{
		RaftOutPeer *np = &next[nnext];

		if (peers[i].id == net_self)
			continue;
		memset(np, 0, sizeof(*np));
		np->addr = peers[i];
		for (int j = 0; j < nout_peers; j++)
			if (out_peers[j].addr.id == peers[i].id &&
				strcmp(out_peers[j].addr.addr, peers[i].addr) == 0)
			{
				*np = out_peers[j];
				out_peers[j].conn = NULL;
			}
		nnext++;
	}
	for (int j = 0; j < nout_peers; j++)
		if (out_peers[j].conn != NULL)
			RaftConnFree(out_peers[j].conn);
	memcpy(out_peers, next, sizeof(RaftOutPeer) * nnext);
	nout_peers = nnext;
	wes_stale = true;
}

static RaftOutPeer *
RaftFindOut(RaftId to)
{
	for (int i = 0; i < nout_peers; i++)
		if (out_peers[i].addr.id == to)
			return &out_peers[i];
	return NULL;
}

/*
 * RaftNetSend
 *		Queue one frame to a member; false when there is no authenticated
 *		connection to it (the caller reports it unreachable).
 */
bool
RaftNetSend(RaftId to, int kind, const uint8_t *data, Size len)
{
	RaftOutPeer *p = RaftFindOut(to);
	RaftConn   *c;
	uint8		head[5];
	uint32		flen;
	uint8		mac[RAFT_MAC];
	uint8	   *frame;

	if (p == NULL || p->conn == NULL || p->conn->state != RC_READY)
		return false;
	c = p->conn;
	if (len + 1 > RAFT_MAX_FRAME)
		elog(ERROR, "raft frame of %zu bytes is too large", len);
	if ((Size) (c->out.len - c->out_pos) > RAFT_MAX_BACKLOG)
	{
		RaftConnClose(c, "the peer does not read");
		return false;
	}
	flen = pg_hton32((uint32) (len + 1));
	memcpy(head, &flen, 4);
	head[4] = (uint8) kind;
	frame = palloc(len + 5);
	memcpy(frame, head, 5);
	if (len > 0)
		memcpy(frame + 5, data, len);
	RaftFrameMac(c, c->seq++, frame, len + 5, mac);
	RaftConnQueue(c, frame, len + 5);
	RaftConnQueue(c, mac, RAFT_MAC);
	pfree(frame);
	if (c->unacked_since == 0)
		c->unacked_since = GetCurrentTimestamp();
	return true;
}

/* ---------------------------------------------------------------------
 * I/O
 * ---------------------------------------------------------------------
 */

/* Write what is queued; false if the connection was closed */
static bool
RaftConnFlush(RaftConn *c)
{
	while (c->out_pos < c->out.len)
	{
		ssize_t		n = send(c->sock, c->out.data + c->out_pos, c->out.len - c->out_pos, 0);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return true;
			RaftConnClose(c, c->state == RC_CONNECTING ? NULL : strerror(errno));
			return false;
		}
		c->out_pos += n;
	}
	resetStringInfo(&c->out);
	c->out_pos = 0;
	return true;
}

/* Read what the socket has; false if the connection was closed */
static bool
RaftConnFill(RaftConn *c)
{
	for (;;)
	{
		char		buf[65536];
		ssize_t		n = recv(c->sock, buf, sizeof(buf), 0);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return true;
			RaftConnClose(c, c->state == RC_CONNECTING ? NULL : strerror(errno));
			return false;
		}
		if (n == 0)
		{
			RaftConnClose(c, NULL);
			return false;
		}
		{
			MemoryContext old = MemoryContextSwitchTo(net_context);

			appendBinaryStringInfo(&c->in, buf, n);
			MemoryContextSwitchTo(old);
		}
		if (c->in.len > RAFT_MAX_FRAME + 64)
			break;
	}
	return true;
}

/* Drop n consumed bytes from the input */
static void
RaftConnConsume(RaftConn *c, int n)
{
	memmove(c->in.data, c->in.data + n, c->in.len - n);
	c->in.len -= n;
	c->in.data[c->in.len] = '\0';
}

/* An outbound connection's handshake; false if closed */
static bool
RaftOutboundProgress(RaftConn *c)
{
	if (c->state == RC_CONNECTING)
		c->state = RC_HELLO_SENT;
	if (c->state == RC_HELLO_SENT && c->in.len >= RAFT_CHALLENGE_LEN)
	{
		uint8		expect[RAFT_MAC];
		uint8		auth[RAFT_MAC];

		memcpy(c->nonce_s, c->in.data, RAFT_NONCE);
		RaftProof('S', c, net_self, c->peer, expect);
		if (!RaftMacEqual(expect, (uint8 *) c->in.data + RAFT_NONCE))
		{
			RaftConnClose(c, "rejected: the peer does not know nosql.raft_secret");
			return false;
		}
		RaftConnConsume(c, RAFT_CHALLENGE_LEN);
		RaftProof('C', c, net_self, c->peer, auth);
		RaftDeriveKey(c, net_self, c->peer);
		RaftConnQueue(c, auth, RAFT_MAC);
		c->state = RC_READY;
		c->started = GetCurrentTimestamp();
		for (int i = 0; i < nout_peers; i++)
			if (out_peers[i].conn == c)
				out_peers[i].backoff_ms = 0;
		ereport(DEBUG1,
				(errmsg("raft: connected to %s", c->where),
				 errhidestmt(true)));
		wes_stale = true;
	}
	while (c->state == RC_READY && c->in.len >= RAFT_ACK_LEN)
	{
		uint64		count;
		uint8		mac[RAFT_MAC];

		memcpy(&count, c->in.data, 8);
		count = pg_ntoh64(count);
		RaftAckMac(c, count, mac);
		if (!RaftMacEqual(mac, (uint8 *) c->in.data + 8))
		{
			RaftConnClose(c, "rejected: an acknowledgement with a wrong HMAC");
			return false;
		}
		if (count < c->acked || count > c->seq)
		{
			RaftConnClose(c, "rejected: an acknowledgement out of sequence");
			return false;
		}
		RaftConnConsume(c, RAFT_ACK_LEN);
		c->acks_seen = true;
		if (count > c->acked)
		{
			/* progress: the clock starts again for what is still unread */
			c->acked = count;
			c->unacked_since = (count == c->seq) ? 0 : GetCurrentTimestamp();
		}
	}
	return true;
}

/*
 * Acknowledge the frames read on an inbound connection, at most every
 * RAFT_ACK_MS (force: whatever the time)
 */
static void
RaftInboundAck(RaftConn *c, TimestampTz now, bool force)
{
	uint8		ack[RAFT_ACK_LEN];
	uint64		n = pg_hton64(c->seq);

	if (c->state != RC_OPEN || c->seq == c->acked)
		return;
	if (!force && !TimestampDifferenceExceeds(c->acked_at, now, RAFT_ACK_MS))
		return;
	memcpy(ack, &n, 8);
	RaftAckMac(c, c->seq, ack + 8);
	RaftConnQueue(c, ack, sizeof(ack));
	c->acked = c->seq;
	c->acked_at = now;
}

/* An inbound connection's handshake and frames; false if closed */
static bool
RaftInboundProgress(RaftConn *c, RaftNetReceive receive)
{
	if (c->state == RC_WAIT_HELLO && c->in.len >= RAFT_HELLO_LEN)
	{
		uint32		v;
		uint64		from;
		uint64		to;
		uint8		challenge[RAFT_CHALLENGE_LEN];

		memcpy(&v, c->in.data + 8, 4);
		memcpy(&from, c->in.data + 12, 8);
		memcpy(&to, c->in.data + 20, 8);
		from = pg_ntoh64(from);
		to = pg_ntoh64(to);
		if (memcmp(c->in.data, RAFT_MAGIC, 8) != 0 || pg_ntoh32(v) != RAFT_NET_VERSION)
		{
			RaftConnClose(c, "rejected: not a nosql raft peer");
			return false;
		}
		if (to != net_self || from == RAFT_NONE || from == net_self)
		{
			RaftConnClose(c, "rejected: the peer dialled the wrong member");
			return false;
		}
		c->peer = from;
		snprintf(c->where, sizeof(c->where), "member " UINT64_FORMAT, (uint64) from);
		memcpy(c->nonce_c, c->in.data + 28, RAFT_NONCE);
		RaftConnConsume(c, RAFT_HELLO_LEN);
		if (!pg_strong_random(c->nonce_s, RAFT_NONCE))
			elog(ERROR, "could not generate a random nonce");
		memcpy(challenge, c->nonce_s, RAFT_NONCE);
		RaftProof('S', c, from, net_self, challenge + RAFT_NONCE);
		RaftConnQueue(c, challenge, sizeof(challenge));
		c->state = RC_WAIT_AUTH;
		wes_stale = true;
	}
	if (c->state == RC_WAIT_AUTH && c->in.len >= RAFT_AUTH_LEN)
	{
		uint8		expect[RAFT_MAC];

		RaftProof('C', c, c->peer, net_self, expect);
		if (!RaftMacEqual(expect, (uint8 *) c->in.data))
		{
			RaftConnClose(c, "rejected: the peer does not know nosql.raft_secret");
			return false;
		}
		RaftConnConsume(c, RAFT_AUTH_LEN);
		RaftDeriveKey(c, c->peer, net_self);
		c->state = RC_OPEN;
		c->started = GetCurrentTimestamp();

		/* the member dialled again: its older connections are dead */
		for (int i = ninbound - 1; i >= 0; i--)
			if (inbound[i] != c && inbound[i]->state == RC_OPEN &&
				inbound[i]->peer == c->peer)
				RaftConnClose(inbound[i], "replaced by a new connection from the member");
	}
	if (c->state == RC_OPEN)
	{
		int			off = 0;		/* frames are consumed at the end, at once */

		while (c->in.len - off >= 5)
		{
			const uint8 *f = (const uint8 *) c->in.data + off;
			uint32		flen;
			uint8		mac[RAFT_MAC];

			memcpy(&flen, f, 4);
			flen = pg_ntoh32(flen);
			if (flen < 1 || flen > RAFT_MAX_FRAME)
			{
				RaftConnClose(c, "rejected: a frame of an invalid length");
				return false;
			}
			if ((uint32) (c->in.len - off) < 4 + flen + RAFT_MAC)
				break;
			RaftFrameMac(c, c->seq, f, 4 + flen, mac);
			if (!RaftMacEqual(mac, f + 4 + flen))
			{
				RaftConnClose(c, "rejected: a frame with a wrong HMAC");
				return false;
			}
			c->seq++;
			receive(c->peer, f[4], f + 5, flen - 1);
			off += 4 + flen + RAFT_MAC;
		}
		if (off > 0)
		{
			RaftConnConsume(c, off);
			RaftInboundAck(c, GetCurrentTimestamp(), false);
		}
	}
	return true;
}

static void
RaftAccept(void)
{
	for (;;)
	{
		struct sockaddr_storage addr;
		socklen_t	len = sizeof(addr);
		pgsocket	sock = accept(listen_sock, (struct sockaddr *) &addr, &len);
		RaftConn   *c;

		if (sock == PGINVALID_SOCKET)
			return;
		if (ninbound >= RAFT_MAX_INBOUND || !RaftSetNonBlocking(sock))
		{
			closesocket(sock);
			continue;
		}
		c = RaftConnNew(sock, false);
		c->state = RC_WAIT_HELLO;
		strlcpy(c->where, "an unauthenticated peer", sizeof(c->where));
		inbound[ninbound++] = c;
	}
}

static uint32
RaftConnEvents(RaftConn *c)
{
	uint32		ev = WL_SOCKET_READABLE;

	if (c->state == RC_CONNECTING)
		return WL_SOCKET_CONNECTED;
	if (c->out_pos < c->out.len)
		ev |= WL_SOCKET_WRITEABLE;
	return ev;
}

/* Build the wait set again after connections changed */
static void
RaftBuildWaitSet(void)
{
	int			n = 3 + nout_peers + ninbound;

	if (wes != NULL)
		FreeWaitEventSet(wes);
	wes = CreateWaitEventSet(net_context, n);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, listen_sock, NULL, NULL);
	for (int i = 0; i < nout_peers; i++)
		if (out_peers[i].conn != NULL)
			out_peers[i].conn->wes_pos =
				AddWaitEventToSet(wes, RaftConnEvents(out_peers[i].conn),
								  out_peers[i].conn->sock, NULL, out_peers[i].conn);
	for (int i = 0; i < ninbound; i++)
		inbound[i]->wes_pos = AddWaitEventToSet(wes, RaftConnEvents(inbound[i]),
												inbound[i]->sock, NULL, inbound[i]);
	wes_stale = false;
}

/* Serve one connection's readiness; false if it was closed */
static bool
RaftConnServe(RaftConn *c, uint32 events, RaftNetReceive receive)
{
	if (events & (WL_SOCKET_WRITEABLE | WL_SOCKET_CONNECTED))
	{
		if (c->state == RC_CONNECTING)
		{
			int			err = 0;
			socklen_t	len = sizeof(err);

			if (getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
			{
				RaftOutPeer *p = RaftFindOut(c->peer);

				if (p != NULL && p->conn == c)
					p->refused = (err == ECONNREFUSED);
				RaftConnClose(c, NULL);
				return false;
			}
			{
				RaftOutPeer *p = RaftFindOut(c->peer);

				if (p != NULL && p->conn == c)
					p->refused = false;
			}
			c->state = RC_HELLO_SENT;
		}
		if (!RaftConnFlush(c))
			return false;
	}
	if (events & WL_SOCKET_READABLE)
	{
		if (!RaftConnFill(c))
			return false;
	}
	if (c->outbound)
	{
		if (!RaftOutboundProgress(c))
			return false;
	}
	else if (!RaftInboundProgress(c, receive))
		return false;
	return RaftConnFlush(c);
}

/*
 * RaftNetWait
 *		Wait up to timeout_ms for the latch or the network, serve every
 *		socket that is ready and hand each authenticated frame to receive.
 *		Dials the members not connected whose backoff has passed, and
 *		closes handshakes that take too long.
 */
void
RaftNetWait(long timeout_ms, RaftNetReceive receive)
{
	WaitEvent	events[16];
	int			n;
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < nout_peers; i++)
		if (out_peers[i].conn == NULL && out_peers[i].retry_at <= now)
		{
			RaftDial(&out_peers[i]);
			if (out_peers[i].conn == NULL)
			{
				out_peers[i].backoff_ms = Min(Max(out_peers[i].backoff_ms * 2, 50), 1000);
				out_peers[i].retry_at = TimestampTzPlusMilliseconds(now, out_peers[i].backoff_ms);
			}
		}
	for (int i = ninbound - 1; i >= 0; i--)
		if (inbound[i]->state != RC_OPEN &&
			TimestampDifferenceExceeds(inbound[i]->started, now, RAFT_HANDSHAKE_MS))
			RaftConnClose(inbound[i], "rejected: no handshake in time");
	for (int i = 0; i < nout_peers; i++)
		if (out_peers[i].conn != NULL && out_peers[i].conn->state != RC_READY &&
			TimestampDifferenceExceeds(out_peers[i].conn->started, now, RAFT_HANDSHAKE_MS))
			RaftConnClose(out_peers[i].conn, "no handshake in time");

	/* acknowledge what was read, and write what is queued, before sleeping */
	for (int i = 0; i < ninbound; i++)
		RaftInboundAck(inbound[i], now, false);
	for (int i = ninbound - 1; i >= 0; i--)
		if (inbound[i]->state == RC_OPEN)
			(void) RaftConnFlush(inbound[i]);
	for (int i = 0; i < nout_peers; i++)
		if (out_peers[i].conn != NULL && out_peers[i].conn->state == RC_READY)
			(void) RaftConnFlush(out_peers[i].conn);

	if (wes_stale)
		RaftBuildWaitSet();
	else
	{
		for (int i = 0; i < nout_peers; i++)
			if (out_peers[i].conn != NULL && out_peers[i].conn->wes_pos >= 0)
				ModifyWaitEvent(wes, out_peers[i].conn->wes_pos,
								RaftConnEvents(out_peers[i].conn), NULL);
		for (int i = 0; i < ninbound; i++)
			if (inbound[i]->wes_pos >= 0)
				ModifyWaitEvent(wes, inbound[i]->wes_pos, RaftConnEvents(inbound[i]), NULL);
	}

	n = WaitEventSetWait(wes, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	for (int i = 0; i < n; i++)
	{
		if (events[i].events & WL_LATCH_SET)
			continue;			/* the caller resets it */
		if (events[i].fd == listen_sock)
		{
			RaftAccept();
			continue;
		}
		if (events[i].user_data != NULL)
		{
			RaftConn   *c = (RaftConn *) events[i].user_data;
			bool		live = false;

			/* skip a connection an earlier event of this round closed */
			for (int j = 0; j < nout_peers && !live; j++)
				live = (out_peers[j].conn == c);
			for (int j = 0; j < ninbound && !live; j++)
				live = (inbound[j] == c);
			if (live)
				(void) RaftConnServe(c, events[i].events, receive);
			if (wes_stale)
				break;			/* positions changed: the rest next round */
		}
	}

	/*
	 * An outbound connection whose frames have gone unacknowledged for two
	 * election timeouts reaches nobody (see the design note): dial again.
	 * Checked after the wait, so that a worker that was itself stopped
	 * reads the acknowledgements that came meanwhile first.
	 */
	now = GetCurrentTimestamp();
	for (int i = 0; i < nout_peers; i++)
	{
		RaftConn   *c = out_peers[i].conn;

		if (c == NULL || c->state != RC_READY || !c->acks_seen || c->unacked_since == 0 ||
			!TimestampDifferenceExceeds(c->unacked_since, now,
										2 * nosql_raft_election_timeout_ms))
			continue;
		/* read what came, in case this round's events did not get to it */
		if (!RaftConnFill(c) || !RaftOutboundProgress(c))
			continue;
		if (c->unacked_since != 0 &&
			TimestampDifferenceExceeds(c->unacked_since, now,
									   2 * nosql_raft_election_timeout_ms))
		{
			char		why[128];

			snprintf(why, sizeof(why),
					 "frames unacknowledged for %d ms (" UINT64_FORMAT " of " UINT64_FORMAT " acknowledged); dialling again",
					 2 * nosql_raft_election_timeout_ms, c->acked, c->seq);
			RaftConnClose(c, why);
		}
	}
}

/*
 * RaftNetFlush
 *		Write what is queued on the outbound connections now, without
 *		waiting: a leader that sends its appends before its own flush
 *		wants them on the wire during that flush, and a follower's answer
 *		should not wait for the apply transaction that comes after it.
 */
void
RaftNetFlush(void)
{
	for (int i = 0; i < nout_peers; i++)
	{
		RaftConn   *c = out_peers[i].conn;

		if (c != NULL && c->state == RC_READY && c->out_pos < c->out.len)
			(void) RaftConnFlush(c);
	}
}

/*
 * RaftNetPeerGone
 *		Whether a member's process is known to be gone: its address refused
 *		our last dial (nothing listens there) and no connection from it is
 *		open.  A member that is only cut off or paused still accepts (or
 *		its connections stay open), so this says nothing of those.
 */
bool
RaftNetPeerGone(RaftId id)
{
	RaftOutPeer *p = RaftFindOut(id);

	if (p == NULL || !p->refused || p->conn != NULL)
		return false;
	for (int i = 0; i < ninbound; i++)
		if (inbound[i]->peer == id && inbound[i]->state == RC_OPEN)
			return false;
	return true;
}

/*
 * RaftNetDescribe
 *		One line on the connections with a member, for nosql.raft_status:
 *		the outbound connection's state and age, its unacknowledged frames,
 *		and the inbound connections from the member.
 */
void
RaftNetDescribe(RaftId id, char *buf, size_t len)
{
	static const char *const names[] = {
		"connecting", "handshake", "ready", "hello", "auth", "open"
	};
	RaftOutPeer *p = RaftFindOut(id);
	TimestampTz now = GetCurrentTimestamp();
	int			nin = 0;
	int			nopen = 0;
	size_t		off;

	for (int i = 0; i < ninbound; i++)
		if (inbound[i]->peer == id)
		{
			nin++;
			if (inbound[i]->state == RC_OPEN)
				nopen++;
		}
	if (p == NULL || p->conn == NULL)
		off = snprintf(buf, len, "out: none%s", p != NULL && p->refused ? " (refused)" : "");
	else
	{
		RaftConn   *c = p->conn;

		off = snprintf(buf, len, "out: %s %ld ms", names[c->state],
					   (long) ((now - c->started) / 1000));
		if (c->state == RC_READY && off < len)
			off += snprintf(buf + off, len - off,
							", " UINT64_FORMAT " frames, " UINT64_FORMAT " unacknowledged for %ld ms, %d bytes queued",
							c->seq, c->seq - c->acked,
							c->unacked_since ? (long) ((now - c->unacked_since) / 1000) : 0L,
							c->out.len - c->out_pos);
	}
	if (off < len)
		snprintf(buf + off, len - off, "; in: %d open of %d", nopen, nin);
}
