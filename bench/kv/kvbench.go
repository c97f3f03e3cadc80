// kvbench runs one key-value workload against one store, etcd or nosql's
// key-value store in PostgreSQL, and prints what it measured as one JSON
// object on stdout.  bench/cases/kv.py (one etcd member, one PostgreSQL
// server) and bench/cases/raft.py (3-member groups of both) build it and
// call it for each side of each case; bench/README.md says what the cases
// measure.
//
// A store may be several servers: -endpoint and -dsn can be repeated.
// Client c of a nosql workload connects to DSN c mod n (round-robin over
// the members); etcd clients get every endpoint and let clientv3 balance
// its requests over them, or with -pin are pinned like the nosql ones.
//
// Design note: the same program, the same keys, the same values and the same
// timing loop serve both sides, so that the only difference is the store and
// its client library.  Each client is a goroutine with its own connection
// (one gRPC connection per clientv3.Client for etcd, one PostgreSQL session
// for nosql), so 64 clients are 64 concurrent requests in flight and the
// client is not what limits them.  On the PostgreSQL side statements are
// prepared once per session and run with the extended protocol, parameters
// and results in binary (pgx), as a real driver does; etcd gets its own Go
// client, the one etcd's tools use.  Connecting, preparing and one warm-up
// request per client happen before the clock starts.
//
// Key i under a prefix is PREFIX + "%08d"; its value is 256 (-value-size)
// pseudo-random bytes that depend only on -seed and i, so readers check every
// value they get back against the one that was written.
//
// Build (offline, with Debian's golang-go, golang-etcd-server-dev and
// golang-github-jackc-pgx-v4-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o kvbench bench/kv/kvbench.go
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v4"
	"go.etcd.io/etcd/clientv3"
)

// kvStore is one client's connection to a store.
type kvStore interface {
	// put writes key = value, one request
	put(ctx context.Context, key string, value []byte) error
	// putBatch writes the keys in one request (etcd: one txn; nosql: one
	// transaction of kv_put calls sent in one round trip)
	putBatch(ctx context.Context, keys []string, values [][]byte) error
	// get returns the value of one key, nil when it does not exist
	get(ctx context.Context, key string) ([]byte, error)
	// rangeKeys returns the keys and values of [key, end), in key order
	rangeKeys(ctx context.Context, key, end string) ([]string, [][]byte, error)
	close()
}

// ---- etcd ----

type etcdStore struct {
	cli          *clientv3.Client
	serializable bool
}

func newEtcdStore(ctx context.Context, endpoints ...string) (*etcdStore, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 10 * time.Second,
		Context:     ctx,
	})
	if err != nil {
		return nil, err
	}
	return &etcdStore{cli: cli}, nil
}

func (s *etcdStore) put(ctx context.Context, key string, value []byte) error {
	_, err := s.cli.Put(ctx, key, string(value))
	return err
}

func (s *etcdStore) putBatch(ctx context.Context, keys []string, values [][]byte) error {
	ops := make([]clientv3.Op, len(keys))
	for i := range keys {
		ops[i] = clientv3.OpPut(keys[i], string(values[i]))
	}
	resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
	if err == nil && !resp.Succeeded {
		err = errors.New("etcd txn did not succeed")
	}
	return err
}

// get is a linearizable Range of one key, etcd's default read
func (s *etcdStore) get(ctx context.Context, key string) ([]byte, error) {
	var opts []clientv3.OpOption
	if s.serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := s.cli.Get(ctx, key, opts...)
	if err != nil || len(resp.Kvs) == 0 {
		return nil, err
	}
	return resp.Kvs[0].Value, nil
}

func (s *etcdStore) rangeKeys(ctx context.Context, key, end string) ([]string, [][]byte, error) {
	resp, err := s.cli.Get(ctx, key, clientv3.WithRange(end))
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, len(resp.Kvs))
	values := make([][]byte, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = string(kv.Key)
		values[i] = kv.Value
	}
	return keys, values, nil
}

func (s *etcdStore) close() { s.cli.Close() }

// ---- nosql (PostgreSQL) ----

// The statements, prepared once per session.  Reads return the whole
// nosql.kv row, as etcd returns the whole KeyValue.
const (
	pgPut = "SELECT nosql.kv_put($1::text, $2::bytea)"
	pgGet = "SELECT key, value, create_revision, mod_revision, version, lease FROM nosql.kv_get($1::text)"
	// -serializable: what this member has, without a ReadIndex round
	pgGetSerializable = "SELECT key, value, create_revision, mod_revision, version, lease FROM nosql.kv_get($1::text, 0, true)"
	pgRange           = "SELECT key, value, create_revision, mod_revision, version, lease FROM nosql.kv_range($1::text, $2::text)"
)

type pgStore struct {
	conn         *pgx.Conn
	serializable bool
}

func newPgStore(ctx context.Context, dsn string, serializable bool) (*pgStore, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	statements := map[string]string{"put": pgPut, "get": pgGet, "range": pgRange}
	if serializable {
		statements["get"] = pgGetSerializable
	}
	for name, sql := range statements {
		if _, err := conn.Prepare(ctx, name, sql); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("prepare %s: %w", name, err)
		}
	}
	return &pgStore{conn: conn, serializable: serializable}, nil
}

func (s *pgStore) put(ctx context.Context, key string, value []byte) error {
	var revision int64
	return s.conn.QueryRow(ctx, "put", key, value).Scan(&revision)
}

func (s *pgStore) putBatch(ctx context.Context, keys []string, values [][]byte) error {
	// Without BEGIN the batch (one Sync) is one implicit transaction.
	batch := &pgx.Batch{}
	for i := range keys {
		batch.Queue("put", keys[i], values[i])
	}
	results := s.conn.SendBatch(ctx, batch)
	for range keys {
		var revision int64
		if err := results.QueryRow().Scan(&revision); err != nil {
			results.Close()
			return err
		}
	}
	return results.Close()
}

// pgKV is a nosql.kv row; a missing key is a row of NULLs.
type pgKV struct {
	key                                  *string
	value                                []byte
	createRevision, modRevision, version *int64
	lease                                *int64
}

func (kv *pgKV) targets() []interface{} {
	return []interface{}{&kv.key, &kv.value, &kv.createRevision, &kv.modRevision, &kv.version, &kv.lease}
}

func (s *pgStore) get(ctx context.Context, key string) ([]byte, error) {
	var kv pgKV
	if err := s.conn.QueryRow(ctx, "get", key).Scan(kv.targets()...); err != nil {
		return nil, err
	}
	if kv.key == nil {
		return nil, nil
	}
	return kv.value, nil
}

func (s *pgStore) rangeKeys(ctx context.Context, key, end string) ([]string, [][]byte, error) {
	rows, err := s.conn.Query(ctx, "range", key, end)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var keys []string
	var values [][]byte
	for rows.Next() {
		var kv pgKV
		if err := rows.Scan(kv.targets()...); err != nil {
			return nil, nil, err
		}
		keys = append(keys, *kv.key)
		values = append(values, kv.value)
	}
	return keys, values, rows.Err()
}

func (s *pgStore) close() { s.conn.Close(context.Background()) }

// ---- keys and values ----

type options struct {
	target, op, prefix        string
	endpoints, dsns           stringList
	pin, serializable         bool
	ops, keys, clients, batch int
	valueSize, expect         int
	seed                      int64
	// failover: a new attempt every interval, each given timeout
	interval, timeout time.Duration
}

// stringList is a flag that may be given several times
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func keyOf(o *options, i int) string { return fmt.Sprintf("%s%08d", o.prefix, i) }

// valueOf is key i's value: splitmix64 seeded by (seed, i), so every run
// and both sides write and expect the same bytes.
func valueOf(o *options, i int) []byte {
	x := uint64(o.seed)*0x9E3779B97F4A7C15 ^ uint64(i)
	buf := make([]byte, (o.valueSize+7)/8*8)
	for at := 0; at < len(buf); at += 8 {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		binary.LittleEndian.PutUint64(buf[at:], z^(z>>31))
	}
	return buf[:o.valueSize]
}

// prefixEnd is the end of the range of keys starting with prefix, as
// clientv3.WithPrefix computes it.
func prefixEnd(prefix string) string { return clientv3.GetPrefixRangeEnd(prefix) }

func checkValue(o *options, key string, value []byte) error {
	var i int
	if _, err := fmt.Sscanf(key[len(o.prefix):], "%08d", &i); err != nil {
		return fmt.Errorf("unexpected key %q", key)
	}
	if value == nil {
		return fmt.Errorf("key %q not found", key)
	}
	if string(value) != string(valueOf(o, i)) {
		return fmt.Errorf("key %q: wrong value (%d bytes)", key, len(value))
	}
	return nil
}

// ---- workloads ----

// request runs operation number n of the workload on one client.  It
// returns the check of what the operation read, which the caller runs after
// timing the operation: the check (parsing keys, recomputing values) costs
// the client as much as a whole range read and is not part of the request.
func request(ctx context.Context, o *options, s kvStore, rng *rand.Rand, n int) (func() error, error) {
	switch o.op {
	case "put":
		if o.batch <= 1 {
			i := n % o.keys
			return nil, s.put(ctx, keyOf(o, i), valueOf(o, i))
		}
		var keys []string
		var values [][]byte
		for i := n * o.batch; i < (n+1)*o.batch && i < o.keys; i++ {
			keys = append(keys, keyOf(o, i))
			values = append(values, valueOf(o, i))
		}
		return nil, s.putBatch(ctx, keys, values)
	case "get":
		key := keyOf(o, rng.Intn(o.keys))
		value, err := s.get(ctx, key)
		return func() error { return checkValue(o, key, value) }, err
	case "range":
		keys, values, err := s.rangeKeys(ctx, o.prefix, prefixEnd(o.prefix))
		return func() error {
			if len(keys) != o.expect {
				return fmt.Errorf("range %q returned %d keys, expected %d", o.prefix, len(keys), o.expect)
			}
			for i := range keys {
				if i > 0 && keys[i] <= keys[i-1] {
					return fmt.Errorf("range out of order at %q", keys[i])
				}
				if err := checkValue(o, keys[i], values[i]); err != nil {
					return err
				}
			}
			return nil
		}, err
	}
	return nil, fmt.Errorf("unknown -op %q", o.op)
}

// timed runs one request and its check; returns the request's time
func timed(ctx context.Context, o *options, s kvStore, rng *rand.Rand, n int) (time.Duration, error) {
	t := time.Now()
	check, err := request(ctx, o, s, rng, n)
	d := time.Since(t)
	if err == nil && check != nil {
		err = check()
	}
	return d, err
}

type result struct {
	Target  string  `json:"target"`
	Op      string  `json:"op"`
	Clients int     `json:"clients"`
	Batch   int     `json:"batch"`
	Ops     int     `json:"ops"`
	Seconds float64 `json:"seconds"`
	PerS    float64 `json:"ops_per_s"`
	MeanMs  float64 `json:"mean_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

// connect opens client c's connection: nosql client c (and with -pin etcd
// client c) to server c mod n; etcd clients otherwise to every endpoint.
func connect(ctx context.Context, o *options, c int) (kvStore, error) {
	if o.target == "etcd" {
		endpoints := o.endpoints
		if o.pin {
			endpoints = endpoints[c%len(endpoints) : c%len(endpoints)+1]
		}
		s, err := newEtcdStore(ctx, endpoints...)
		if err == nil {
			s.serializable = o.serializable
		}
		return s, err
	}
	return newPgStore(ctx, o.dsns[c%len(o.dsns)], o.serializable)
}

// run opens the clients, warms each up with its first request, then times
// all requests: client c does requests c, c + clients, c + 2 clients, ...
func run(o *options) (*result, error) {
	ctx := context.Background()
	stores := make([]kvStore, o.clients)
	defer func() {
		for _, s := range stores {
			if s != nil {
				s.close()
			}
		}
	}()
	for c := range stores {
		s, err := connect(ctx, o, c)
		if err != nil {
			return nil, fmt.Errorf("connect client %d: %w", c, err)
		}
		stores[c] = s
		if c < o.ops {
			if _, err := timed(ctx, o, s, rand.New(rand.NewSource(o.seed-int64(c))), c); err != nil {
				return nil, fmt.Errorf("warm-up of client %d: %w", c, err)
			}
		}
	}

	latencies := make([][]time.Duration, o.clients)
	errs := make([]error, o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range stores {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(o.seed + int64(c)))
			for n := c; n < o.ops; n += o.clients {
				d, err := timed(ctx, o, stores[c], rng, n)
				if err != nil {
					errs[c] = fmt.Errorf("client %d, request %d: %w", c, n, err)
					return
				}
				latencies[c] = append(latencies[c], d)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	var all []time.Duration
	var sum time.Duration
	for _, l := range latencies {
		all = append(all, l...)
		for _, d := range l {
			sum += d
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	r := &result{Target: o.target, Op: o.op, Clients: o.clients, Batch: o.batch,
		Ops: len(all), Seconds: elapsed.Seconds()}
	if len(all) > 0 {
		r.PerS = float64(len(all)) / elapsed.Seconds()
		r.MeanMs = ms(sum) / float64(len(all))
		r.P50Ms = ms(all[len(all)/2])
		r.P99Ms = ms(all[len(all)*99/100])
		r.MaxMs = ms(all[len(all)-1])
	}
	return r, nil
}

// compactEtcd compacts etcd to its current revision (physically: the call
// returns once the old versions are removed from the backend) and
// defragments it, then reports etcd's view of its backend size.
func compactEtcd(o *options) (map[string]int64, error) {
	ctx := context.Background()
	endpoint := o.endpoints[0]
	s, err := newEtcdStore(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	defer s.close()
	before, err := s.cli.Status(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	revision := before.Header.Revision
	if _, err := s.cli.Compact(ctx, revision, clientv3.WithCompactPhysical()); err != nil {
		return nil, err
	}
	if _, err := s.cli.Defragment(ctx, endpoint); err != nil {
		return nil, err
	}
	after, err := s.cli.Status(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return map[string]int64{
		"revision":              revision,
		"db_size_before":        before.DbSize,
		"db_size_in_use_before": before.DbSizeInUse,
		"db_size":               after.DbSize,
		"db_size_in_use":        after.DbSizeInUse,
	}, nil
}

// memberStatus is one etcd member's view of its group, from its
// Maintenance Status (-op status).
type memberStatus struct {
	Endpoint  string `json:"endpoint"`
	MemberID  string `json:"member_id"`
	Leader    string `json:"leader"`
	RaftIndex uint64 `json:"raft_index"`
	RaftTerm  uint64 `json:"raft_term"`
	Error     string `json:"error,omitempty"`
}

// etcdStatus asks every endpoint for its status; a member that does not
// answer within 2 s gets an error entry.
func etcdStatus(o *options) ([]memberStatus, error) {
	out := make([]memberStatus, len(o.endpoints))
	for i, endpoint := range o.endpoints {
		out[i].Endpoint = endpoint
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := newEtcdStore(ctx, endpoint)
		if err == nil {
			var st *clientv3.StatusResponse
			st, err = s.cli.Status(ctx, endpoint)
			if err == nil {
				out[i].MemberID = fmt.Sprintf("%x", st.Header.MemberId)
				out[i].Leader = fmt.Sprintf("%x", st.Leader)
				out[i].RaftIndex = st.RaftIndex
				out[i].RaftTerm = st.RaftTerm
			}
			s.close()
		}
		cancel()
		if err != nil {
			out[i].Error = err.Error()
		}
	}
	return out, nil
}

// failoverResult is what -op failover reports: when the first write after
// "go" succeeded (Unix nanoseconds, so the caller compares it with the
// moment it killed the leader), and what the attempts before it got.
type failoverResult struct {
	Target       string         `json:"target"`
	StartNs      int64          `json:"start_unix_ns"`
	SuccessNs    int64          `json:"success_unix_ns"`
	Attempts     int            `json:"attempts"`
	Failed       int            `json:"failed"`
	Connections  int            `json:"connections"`
	Errors       map[string]int `json:"errors"`
	WinnerSentNs int64          `json:"winner_sent_unix_ns"`
}

// failover: connect to the servers given (the survivors), warm up, print
// "ready" and wait for a line on stdin (the caller has killed the leader
// just before it writes that line).  From then on, a new put starts every
// -interval on its own connection (etcd: one clientv3 client balancing
// over the endpoints, which multiplexes requests; nosql: a session taken
// from a pool, round-robin over the DSNs, a new session when none is
// free), each with its own -timeout, until one succeeds.
func failover(o *options) (*failoverResult, error) {
	ctx := context.Background()
	res := &failoverResult{Target: o.target, Errors: map[string]int{}}
	var mu sync.Mutex
	var etcd *etcdStore
	pools := make([][]kvStore, len(o.dsns))
	if o.target == "etcd" {
		s, err := connect(ctx, o, 0)
		if err != nil {
			return nil, err
		}
		etcd = s.(*etcdStore)
		defer etcd.close()
		if err := etcd.put(ctx, keyOf(o, 0), valueOf(o, 0)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	} else {
		for i := range o.dsns {
			for k := 0; k < 2; k++ {
				s, err := newPgStore(ctx, o.dsns[i], false)
				if err != nil {
					return nil, err
				}
				if err := s.put(ctx, keyOf(o, 0), valueOf(o, 0)); err != nil {
					return nil, fmt.Errorf("warm-up on %d: %w", i, err)
				}
				pools[i] = append(pools[i], s)
				res.Connections++
			}
		}
	}
	take := func(n int) (kvStore, int, error) {
		if etcd != nil {
			return etcd, 0, nil
		}
		i := n % len(o.dsns)
		mu.Lock()
		if k := len(pools[i]); k > 0 {
			s := pools[i][k-1]
			pools[i] = pools[i][:k-1]
			mu.Unlock()
			return s, i, nil
		}
		res.Connections++
		mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		s, err := newPgStore(cctx, o.dsns[i], false)
		return s, i, err
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return nil, fmt.Errorf("waiting for go: %w", err)
	}
	res.StartNs = time.Now().UnixNano()
	done := make(chan [2]int64, 1)
	attempt := func(n int) {
		sent := time.Now().UnixNano()
		s, i, err := take(n)
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, o.timeout)
			key := keyOf(o, n%o.keys)
			err = s.put(actx, key, valueOf(o, n))
			cancel()
			if etcd == nil {
				if err == nil {
					mu.Lock()
					pools[i] = append(pools[i], s)
					mu.Unlock()
				} else {
					// pgx closes a session whose query was cancelled
					s.close()
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.Failed++
			msg := err.Error()
			if len(msg) > 120 {
				msg = msg[:120]
			}
			res.Errors[msg]++
			return
		}
		select {
		case done <- [2]int64{time.Now().UnixNano(), sent}:
		default:
		}
	}
	ticker := time.NewTicker(o.interval)
	defer ticker.Stop()
	deadline := time.After(120 * time.Second)
	go attempt(0)
	res.Attempts = 1
	for {
		select {
		case t := <-done:
			mu.Lock()
			res.SuccessNs, res.WinnerSentNs = t[0], t[1]
			mu.Unlock()
			return res, nil
		case <-ticker.C:
			mu.Lock()
			res.Attempts++
			n := res.Attempts - 1
			mu.Unlock()
			go attempt(n)
		case <-deadline:
			return nil, fmt.Errorf("no write succeeded in 120 s (%d attempts): %v", res.Attempts, res.Errors)
		}
	}
}

func main() {
	o := &options{}
	flag.StringVar(&o.target, "target", "", "etcd or nosql")
	flag.Var(&o.endpoints, "endpoint", "etcd client endpoint, host:port (repeat for several members)")
	flag.Var(&o.dsns, "dsn", "PostgreSQL connection string (nosql; repeat for several members)")
	flag.BoolVar(&o.pin, "pin", false, "etcd: pin client c to endpoint c mod n instead of giving it every endpoint")
	flag.BoolVar(&o.serializable, "serializable", false, "get: serializable reads (what the member has) instead of linearizable ones")
	flag.DurationVar(&o.interval, "interval", 10*time.Millisecond, "failover: time between attempts")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "failover: time limit of one attempt")
	flag.StringVar(&o.op, "op", "", "put, get, range, failover, compact or status (etcd only)")
	flag.StringVar(&o.prefix, "prefix", "/bench/", "key prefix")
	flag.IntVar(&o.ops, "ops", 1000, "requests to time")
	flag.IntVar(&o.keys, "keys", 1000, "keys under the prefix (put writes key n mod keys; get picks among them)")
	flag.IntVar(&o.clients, "clients", 1, "concurrent clients, one connection each")
	flag.IntVar(&o.batch, "batch", 1, "put: keys per request (etcd txn, nosql transaction)")
	flag.IntVar(&o.valueSize, "value-size", 256, "bytes per value")
	flag.IntVar(&o.expect, "expect", 1000, "range: keys the range must return")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the values and of the keys gets pick")
	flag.Parse()

	if (o.target == "etcd") == (len(o.endpoints) == 0) || (o.target == "nosql") == (len(o.dsns) == 0) ||
		(o.target != "etcd" && o.target != "nosql") || o.clients < 1 || o.ops < 0 || o.keys < 1 {
		fmt.Fprintln(os.Stderr, "usage: kvbench -target etcd -endpoint HOST:PORT... | -target nosql -dsn DSN...  -op OP [options]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	var out interface{}
	var err error
	switch {
	case o.op == "compact" || o.op == "status":
		if o.target != "etcd" {
			err = fmt.Errorf("-op %s is for etcd; nosql has it in SQL", o.op)
		} else if o.op == "compact" {
			out, err = compactEtcd(o)
		} else {
			out, err = etcdStatus(o)
		}
	case o.op == "failover":
		out, err = failover(o)
	default:
		out, err = run(o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kvbench: %s %s: %v\n", o.target, o.op, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
