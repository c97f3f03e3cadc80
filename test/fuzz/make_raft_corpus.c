/*-------------------------------------------------------------------------
 *
 * make_raft_corpus.c
 *	  Write the seed corpus of fuzz_raft_msg: encoded Raft messages of
 *	  every wire type (with entries, a snapshot's metadata, large ids) and
 *	  encoded membership changes, one file each.
 *
 *	  make -C test/fuzz corpus-raft
 *	  (runs build/make_raft_corpus corpus/raft_msg)
 *
 * The files are kept in the repository; rerun this only to change them.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_core.h"

static int
WriteFile(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const int types[] = {
		RAFT_MSG_PROP, RAFT_MSG_APP, RAFT_MSG_APP_RESP, RAFT_MSG_VOTE,
		RAFT_MSG_VOTE_RESP, RAFT_MSG_PRE_VOTE, RAFT_MSG_PRE_VOTE_RESP,
		RAFT_MSG_SNAP, RAFT_MSG_HEARTBEAT, RAFT_MSG_HEARTBEAT_RESP,
		RAFT_MSG_READ_INDEX, RAFT_MSG_READ_INDEX_RESP,
		RAFT_MSG_TRANSFER_LEADER, RAFT_MSG_TIMEOUT_NOW
	};
	uint8_t		buf[4096];
	uint8_t		ccbuf[64];
	RaftEntry	ents[3];
	RaftConfChange cc = {0};
	size_t		cclen;
	int			status = 0;

	if (argc != 2)
	{
		fprintf(stderr, "usage: make_raft_corpus DIRECTORY\n");
		return 2;
	}

	cc.type = RAFT_CONF_ADD_LEARNER;
	cc.node = 4;
	cc.context = (const uint8_t *) "10.0.0.4:5432";
	cc.context_len = 13;
	cclen = raft_conf_change_encode(&cc, ccbuf, sizeof(ccbuf));

	memset(ents, 0, sizeof(ents));
	ents[0].term = 2;
	ents[0].index = 11;
	ents[1].term = 2;
	ents[1].index = 12;
	ents[1].data = (uint8_t *) "put k v";
	ents[1].len = 7;
	ents[2].term = 3;
	ents[2].index = 13;
	ents[2].type = RAFT_ENTRY_CONF;
	ents[2].data = ccbuf;
	ents[2].len = (uint32_t) cclen;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
	{
		RaftMessage m = {0};
		char		name[64];
		size_t		len;

		m.type = types[i];
		m.to = 2;
		m.from = (i % 2) ? 1 : UINT64_MAX;
		m.term = 3 + i;
		m.log_term = 2;
		m.index = 10;
		m.commit = 9;
		m.reject = types[i] == RAFT_MSG_APP_RESP;
		m.reject_hint = m.reject ? 8 : 0;
		m.context = types[i] == RAFT_MSG_READ_INDEX ? 77 : 0;
		if (types[i] == RAFT_MSG_APP || types[i] == RAFT_MSG_PROP)
		{
			m.entries = ents;
			m.nentries = 3;
		}
		if (types[i] == RAFT_MSG_SNAP)
		{
			m.snapshot.index = 100;
			m.snapshot.term = 4;
			m.snapshot.conf.nvoters = 3;
			m.snapshot.conf.voters[0] = 1;
			m.snapshot.conf.voters[1] = 2;
			m.snapshot.conf.voters[2] = 1ULL << 50;
			m.snapshot.conf.nlearners = 1;
			m.snapshot.conf.learners[0] = 4;
		}
		len = raft_msg_encode(&m, buf, sizeof(buf));
		snprintf(name, sizeof(name), "msg_%s", raft_msg_type_name(types[i]));
		status |= len == 0 || WriteFile(argv[1], name, buf, len);
	}
	status |= WriteFile(argv[1], "conf_add_learner", ccbuf, cclen);
	cc.type = RAFT_CONF_REMOVE;
	cc.node = 300;
	cc.context_len = 0;
	cclen = raft_conf_change_encode(&cc, ccbuf, sizeof(ccbuf));
	status |= WriteFile(argv[1], "conf_remove", ccbuf, cclen);
	return status;
}
