/*-------------------------------------------------------------------------
 *
 * raft_codec.c
 *	  The wire format of Raft messages and of membership changes.
 *
 * Design note
 * -----------
 * Every integer is an unsigned LEB128 varint (7 bits a byte, least
 * significant first), so that the frequent small messages (heartbeats and
 * their answers, append responses) take a dozen bytes.  A message is:
 *
 *	  version (1 byte, 1), type (1 byte),
 *	  to, from, term, log_term, index, commit (varints),
 *	  flags (1 byte: bit 0 reject, the others zero),
 *	  reject_hint, context, nentries (varints),
 *	  nentries times: term, index (varints), type (1 byte), len (varint),
 *	  len bytes of data,
 *	  RAFT_MSG_SNAP only: index, term (varints), nvoters (1 byte), the
 *	  voters (varints), nlearners (1 byte), the learners (varints).
 *
 * A membership change is version (1), type (1 byte), node (varint),
 * context_len (varint) and the context's bytes.
 *
 * Decoding trusts nothing: each read checks the bytes left, a varint has at
 * most ten bytes and no bit past the 64th, counts are checked against the
 * bytes left before anything is allocated, types and flags must be known,
 * the local-only message types never come from the wire, and the input
 * must end exactly where the message does.  A decoded message owns copies
 * of its entries' data (raft_msg_free); a decoded change points into the
 * input.
 *
 * IDENTIFICATION
 *	  src/raft_codec.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "raft_core.h"
#include "raft_internal.h"

#define RAFT_WIRE_VERSION	1

/* The smallest encoded entry: term, index, type and len of one byte each */
#define RAFT_MIN_ENTRY_BYTES	4

/* A bounded reader over the input */
typedef struct RaftReader
{
	const uint8_t *p;
	const uint8_t *end;
	bool		ok;
} RaftReader;

/* A bounded writer; counts the bytes when buf is NULL */
typedef struct RaftWriter
{
	uint8_t    *p;
	size_t		len;
	size_t		cap;
} RaftWriter;

static void
RaftPutByte(RaftWriter *w, uint8_t b)
{
	if (w->p != NULL && w->len < w->cap)
		w->p[w->len] = b;
	w->len++;
}

static void
RaftPutVarint(RaftWriter *w, uint64_t v)
{
	while (v >= 0x80)
	{
		RaftPutByte(w, (uint8_t) (v | 0x80));
		v >>= 7;
	}
	RaftPutByte(w, (uint8_t) v);
}

static void
RaftPutBytes(RaftWriter *w, const uint8_t *data, size_t len)
{
	if (w->p != NULL && len > 0 && w->len + len <= w->cap)
		memcpy(w->p + w->len, data, len);
	w->len += len;
}

static uint8_t
RaftGetByte(RaftReader *rd)
{
	if (!rd->ok || rd->p >= rd->end)
	{
		rd->ok = false;
		return 0;
	}
	return *rd->p++;
}

static uint64_t
RaftGetVarint(RaftReader *rd)
{
	uint64_t	v = 0;

	for (int shift = 0; shift < 64; shift += 7)
	{
		uint8_t		b = RaftGetByte(rd);

		if (!rd->ok)
			return 0;
		/* the tenth byte holds the 64th bit only */
		if (shift == 63 && b > 1)
			break;
		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return v;
	}
	rd->ok = false;
	return 0;
}

static size_t
RaftBytesLeft(const RaftReader *rd)
{
	return rd->ok ? (size_t) (rd->end - rd->p) : 0;
}

/* Whether a message type may travel between nodes */
static bool
RaftWireType(int type)
{
	switch (type)
	{
		case RAFT_MSG_HUP:
		case RAFT_MSG_BEAT:
		case RAFT_MSG_UNREACHABLE:
		case RAFT_MSG_SNAP_STATUS:
			return false;
		default:
			return type >= 0 && type < RAFT_MSG_NTYPES;
	}
}

static void
RaftWriteMsg(RaftWriter *w, const RaftMessage *m)
{
	RaftPutByte(w, RAFT_WIRE_VERSION);
	RaftPutByte(w, m->type);
	RaftPutVarint(w, m->to);
	RaftPutVarint(w, m->from);
	RaftPutVarint(w, m->term);
	RaftPutVarint(w, m->log_term);
	RaftPutVarint(w, m->index);
	RaftPutVarint(w, m->commit);
	RaftPutByte(w, m->reject ? 1 : 0);
	RaftPutVarint(w, m->reject_hint);
	RaftPutVarint(w, m->context);
	RaftPutVarint(w, m->nentries);
	for (size_t i = 0; i < m->nentries; i++)
	{
		const RaftEntry *e = &m->entries[i];

		RaftPutVarint(w, e->term);
		RaftPutVarint(w, e->index);
		RaftPutByte(w, e->type);
		RaftPutVarint(w, e->len);
		RaftPutBytes(w, e->data, e->len);
	}
	if (m->type == RAFT_MSG_SNAP)
	{
		const RaftConfState *c = &m->snapshot.conf;

		RaftPutVarint(w, m->snapshot.index);
		RaftPutVarint(w, m->snapshot.term);
		RaftPutByte(w, (uint8_t) c->nvoters);
		for (int i = 0; i < c->nvoters; i++)
			RaftPutVarint(w, c->voters[i]);
		RaftPutByte(w, (uint8_t) c->nlearners);
		for (int i = 0; i < c->nlearners; i++)
			RaftPutVarint(w, c->learners[i]);
	}
}

/*
 * raft_msg_encoded_size
 *		The bytes raft_msg_encode() writes for a message.
 */
size_t
raft_msg_encoded_size(const RaftMessage *msg)
{
	RaftWriter	w = {NULL, 0, 0};

	RaftWriteMsg(&w, msg);
	return w.len;
}

/*
 * raft_msg_encode
 *		Encode a message into buf; returns the bytes written, or 0 if cap is
 *		too small (or the message cannot be encoded).
 */
size_t
raft_msg_encode(const RaftMessage *msg, uint8_t *buf, size_t cap)
{
	RaftWriter	w = {buf, 0, cap};

	if (buf == NULL || msg->type >= RAFT_MSG_NTYPES ||
		msg->snapshot.conf.nvoters < 0 ||
		msg->snapshot.conf.nvoters > RAFT_MAX_MEMBERS ||
		msg->snapshot.conf.nlearners < 0 ||
		msg->snapshot.conf.nlearners > RAFT_MAX_MEMBERS)
		return 0;
	if (raft_msg_encoded_size(msg) > cap)
		return 0;
	RaftWriteMsg(&w, msg);
	return w.len;
}

/*
 * raft_msg_decode
 *		Decode a message; on success its entries are the caller's
 *		(raft_msg_free), on failure (RAFT_ERR_INVALID) nothing is allocated.
 */
int
raft_msg_decode(const uint8_t *buf, size_t len, RaftMessage *msg)
{
	RaftReader	rd = {buf, buf + len, buf != NULL};
	uint64_t	n;
	uint8_t		flags;

	memset(msg, 0, sizeof(RaftMessage));
	if (buf == NULL)
		return RAFT_ERR_INVALID;
	if (RaftGetByte(&rd) != RAFT_WIRE_VERSION)
		return RAFT_ERR_INVALID;
	msg->type = RaftGetByte(&rd);
	if (!rd.ok || !RaftWireType(msg->type))
		return RAFT_ERR_INVALID;
	msg->to = RaftGetVarint(&rd);
	msg->from = RaftGetVarint(&rd);
	msg->term = RaftGetVarint(&rd);
	msg->log_term = RaftGetVarint(&rd);
	msg->index = RaftGetVarint(&rd);
	msg->commit = RaftGetVarint(&rd);
	flags = RaftGetByte(&rd);
	if ((flags & ~1) != 0)
		return RAFT_ERR_INVALID;
	msg->reject = (flags & 1) != 0;
	msg->reject_hint = RaftGetVarint(&rd);
	msg->context = RaftGetVarint(&rd);
	n = RaftGetVarint(&rd);
	if (!rd.ok || n > RaftBytesLeft(&rd) / RAFT_MIN_ENTRY_BYTES)
		return RAFT_ERR_INVALID;

	if (n > 0)
	{
		msg->entries = RaftAlloc(n * sizeof(RaftEntry));
		memset(msg->entries, 0, n * sizeof(RaftEntry));
		msg->nentries = (size_t) n;
	}
	for (size_t i = 0; i < msg->nentries; i++)
	{
		RaftEntry  *e = &msg->entries[i];
		uint64_t	elen;

		e->term = RaftGetVarint(&rd);
		e->index = RaftGetVarint(&rd);
		e->type = RaftGetByte(&rd);
		elen = RaftGetVarint(&rd);
		if (!rd.ok || e->type > RAFT_ENTRY_CONF || elen > UINT32_MAX ||
			elen > RaftBytesLeft(&rd))
			goto fail;
		e->len = (uint32_t) elen;
		if (elen > 0)
		{
			e->data = RaftAlloc((size_t) elen);
			memcpy(e->data, rd.p, (size_t) elen);
			rd.p += elen;
		}
	}

	if (msg->type == RAFT_MSG_SNAP)
	{
		RaftConfState *c = &msg->snapshot.conf;

		msg->snapshot.index = RaftGetVarint(&rd);
		msg->snapshot.term = RaftGetVarint(&rd);
		c->nvoters = RaftGetByte(&rd);
		if (!rd.ok || c->nvoters > RAFT_MAX_MEMBERS)
			goto fail;
		for (int i = 0; i < c->nvoters; i++)
			c->voters[i] = RaftGetVarint(&rd);
		c->nlearners = RaftGetByte(&rd);
		if (!rd.ok || c->nlearners > RAFT_MAX_MEMBERS)
			goto fail;
		for (int i = 0; i < c->nlearners; i++)
			c->learners[i] = RaftGetVarint(&rd);
	}
	if (!rd.ok || rd.p != rd.end)
		goto fail;
	return RAFT_OK;

fail:
	raft_msg_free(msg);
	memset(msg, 0, sizeof(RaftMessage));
	return RAFT_ERR_INVALID;
}

/*
 * raft_msg_free
 *		Free a message's entries (a decoded message, or one of a Ready).
 */
void
raft_msg_free(RaftMessage *msg)
{
	if (msg->entries != NULL)
	{
		for (size_t i = 0; i < msg->nentries; i++)
			RaftFree(msg->entries[i].data);
		RaftFree(msg->entries);
	}
	msg->entries = NULL;
	msg->nentries = 0;
}

static void
RaftWriteConfChange(RaftWriter *w, const RaftConfChange *cc)
{
	RaftPutByte(w, RAFT_WIRE_VERSION);
	RaftPutByte(w, cc->type);
	RaftPutVarint(w, cc->node);
	RaftPutVarint(w, cc->context_len);
	RaftPutBytes(w, cc->context, cc->context_len);
}

/*
 * raft_conf_change_encoded_size
 *		The bytes raft_conf_change_encode() writes.
 */
size_t
raft_conf_change_encoded_size(const RaftConfChange *cc)
{
	RaftWriter	w = {NULL, 0, 0};

	RaftWriteConfChange(&w, cc);
	return w.len;
}

/*
 * raft_conf_change_encode
 *		Encode a change into buf; returns the bytes written, or 0 if cap is
 *		too small.
 */
size_t
raft_conf_change_encode(const RaftConfChange *cc, uint8_t *buf, size_t cap)
{
	RaftWriter	w = {buf, 0, cap};

	if (buf == NULL || raft_conf_change_encoded_size(cc) > cap)
		return 0;
	RaftWriteConfChange(&w, cc);
	return w.len;
}

/*
 * raft_conf_change_decode
 *		Decode a change; its context points into buf.
 */
int
raft_conf_change_decode(const uint8_t *buf, size_t len, RaftConfChange *cc)
{
	RaftReader	rd = {buf, buf + len, buf != NULL};
	uint64_t	clen;

	memset(cc, 0, sizeof(RaftConfChange));
	if (buf == NULL || RaftGetByte(&rd) != RAFT_WIRE_VERSION)
		return RAFT_ERR_INVALID;
	cc->type = RaftGetByte(&rd);
	cc->node = RaftGetVarint(&rd);
	clen = RaftGetVarint(&rd);
	if (!rd.ok || cc->type > RAFT_CONF_REMOVE || cc->node == RAFT_NONE ||
		clen != RaftBytesLeft(&rd) || clen > UINT32_MAX)
	{
		memset(cc, 0, sizeof(RaftConfChange));
		return RAFT_ERR_INVALID;
	}
	cc->context_len = (uint32_t) clen;
	cc->context = clen > 0 ? rd.p : NULL;
	return RAFT_OK;
}
