/*-------------------------------------------------------------------------
 *
 * fuzz_raft_msg.c
 *	  libFuzzer target for the wire format of the Raft core
 *	  (src/raft_codec.c): raft_msg_decode and raft_conf_change_decode.
 *
 * The input is decoded as a message and as a membership change.  A
 * rejection must leave nothing allocated (the sanitizers report leaks); an
 * accepted input is encoded again (into exactly raft_msg_encoded_size()
 * bytes) and decoded again, and the two decodings must be equal field by
 * field, entry data included.  Varints that are not minimal are accepted,
 * so the bytes themselves need not round-trip.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_core.h"

static void
FuzzRaftFail(const uint8_t *data, size_t size, const char *what)
{
	fprintf(stderr, "input (%zu bytes):", size);
	for (size_t i = 0; i < size; i++)
		fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", data[i]);
	fprintf(stderr, "\nfuzz oracle failed: %s\n", what);
	fflush(stderr);
	abort();
}

static bool
FuzzRaftMsgEqual(const RaftMessage *a, const RaftMessage *b)
{
	if (a->type != b->type || a->to != b->to || a->from != b->from ||
		a->term != b->term || a->log_term != b->log_term ||
		a->index != b->index || a->commit != b->commit ||
		a->reject != b->reject || a->reject_hint != b->reject_hint ||
		a->context != b->context || a->nentries != b->nentries ||
		memcmp(&a->snapshot, &b->snapshot, sizeof(RaftSnapshotMeta)) != 0)
		return false;
	for (size_t i = 0; i < a->nentries; i++)
	{
		const RaftEntry *x = &a->entries[i];
		const RaftEntry *y = &b->entries[i];

		if (x->term != y->term || x->index != y->index || x->type != y->type ||
			x->len != y->len ||
			(x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
			return false;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RaftMessage m;
	RaftConfChange cc;

	if (raft_msg_decode(data, size, &m) == RAFT_OK)
	{
		size_t		len = raft_msg_encoded_size(&m);
		uint8_t    *buf = malloc(len);
		RaftMessage m2;

		if (raft_msg_encode(&m, buf, len) != len)
			FuzzRaftFail(data, size, "a decoded message does not encode");
		if (len > size)
			FuzzRaftFail(data, size, "the encoding is longer than the input");
		if (raft_msg_decode(buf, len, &m2) != RAFT_OK)
			FuzzRaftFail(data, size, "a re-encoded message does not decode");
		if (!FuzzRaftMsgEqual(&m, &m2))
			FuzzRaftFail(data, size, "a message changes through the codec");
		raft_msg_free(&m2);
		raft_msg_free(&m);
		free(buf);
	}
	else if (m.nentries != 0 || m.entries != NULL)
		FuzzRaftFail(data, size, "a rejected message holds entries");

	if (raft_conf_change_decode(data, size, &cc) == RAFT_OK)
	{
		size_t		len = raft_conf_change_encoded_size(&cc);
		uint8_t    *buf = malloc(len);
		RaftConfChange cc2;

		if (cc.node == RAFT_NONE || cc.type > RAFT_CONF_REMOVE)
			FuzzRaftFail(data, size, "an invalid change decodes");
		if (cc.context_len > 0 &&
			(cc.context < data || cc.context + cc.context_len > data + size))
			FuzzRaftFail(data, size, "a change's context is outside the input");
		if (raft_conf_change_encode(&cc, buf, len) != len ||
			raft_conf_change_decode(buf, len, &cc2) != RAFT_OK)
			FuzzRaftFail(data, size, "a change does not round-trip");
		if (cc2.type != cc.type || cc2.node != cc.node ||
			cc2.context_len != cc.context_len ||
			(cc.context_len > 0 &&
			 memcmp(cc.context, cc2.context, cc.context_len) != 0))
			FuzzRaftFail(data, size, "a change changes through the codec");
		free(buf);
	}
	return 0;
}
