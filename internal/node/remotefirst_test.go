package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestRemoteFirstReceipt: while karachi receives the first values of islamabad's shared
// Datastreams — and so makes their remote Datastreams, with a Thing, Sensor and
// ObservedProperty each — anonymous readers list karachi's Datastreams, Things and Sensors
// over and over: at no moment may they see one of them (a remote Datastream made in one
// transaction and marked remote in another was, in between, an ordinary local Datastream,
// which anyone may read when public reads are on). On SQLite the readers race the receipt
// (five first receipts, each a chance to catch such a window).
func TestRemoteFirstReceipt(t *testing.T) { remoteFirstReceipt(t, "") }

// TestRemoteFirstReceiptPostgres: the same, karachi's store on PostgreSQL, where the test
// also holds the marking back (a SHARE lock on fed_remote, which lets fed_remote be read but
// not written) until the receiver waits on it, and reads then: a remote Datastream already
// committed but not yet marked is seen every time.
func TestRemoteFirstReceiptPostgres(t *testing.T) {
	remoteFirstReceipt(t, storetest.PostgresSchema(t))
}

func remoteFirstReceipt(t *testing.T, dsn string) {
	ctx := context.Background()
	idir, kdir := t.TempDir(), t.TempDir()
	p := remoteReadNode(t, "islamabad", idir, "")
	k := remoteReadNode(t, "karachi", kdir, dsn)
	partnerNodes(t, p, k, idir, kdir)
	pdma, _, err := auth.Create(ctx, p.stores.Keys, "pdma", auth.Operator, "pdma operator")
	if err != nil {
		t.Fatal(err)
	}
	const shared = 5
	now := time.Now().UTC()
	for i := range shared {
		if st, b := request(t, p, "POST", "/v1.1/Things", pdma, strings.Replace(benchGauge, "Khanki", fmt.Sprintf("Khanki %d", i), -1)); st != 201 {
			t.Fatalf("pdma's gauge: %d %s", st, b)
		}
		body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%d}`, now.Add(-10*time.Minute).Format(time.RFC3339), 100+i)
		if st, b := request(t, p, "POST", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", i+1), pdma, body); st != 201 {
			t.Fatalf("pdma's observation: %d %s", st, b)
		}
	}

	// on PostgreSQL: hold fed_remote's writers back (its readers are not)
	var lock pgx.Tx
	if dsn != "" {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if lock, err = c.Begin(ctx); err != nil {
			t.Fatal(err)
		}
		defer lock.Rollback(ctx)
		if _, err := lock.Exec(ctx, `LOCK TABLE fed_remote IN SHARE MODE`); err != nil {
			t.Fatal(err)
		}
	}

	// anonymous readers, as the SensorThings API reads for a request without a key
	anon := sensorthings.ReadView(ctx)
	var reads atomic.Int64
	var mu sync.Mutex
	var leaks []string
	read := func() {
		for _, set := range []string{sensing.Datastreams, sensing.Things, sensing.Sensors} {
			page, err := k.stores.Entities.List(anon, &sensing.Query{Set: set, Opts: &odata.Options{}, Top: 100})
			if err != nil {
				mu.Lock()
				leaks = append(leaks, "error: "+err.Error())
				mu.Unlock()
				continue
			}
			for _, e := range page.Entities {
				mu.Lock()
				leaks = append(leaks, fmt.Sprintf("%s(%d) %v", set, e.ID, e.Props["name"]))
				mu.Unlock()
			}
		}
		reads.Add(1)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					read()
				}
			}
		})
	}

	a := &federation.Agreement{ProviderOrg: "pdma", ConsumerOrg: "ndma", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1, 2, 3, 4, 5}},
		Resolution: federation.Raw, Purpose: "flood warning downstream", ValidFrom: now.Add(-time.Hour)}
	if err := p.fed.svc.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := p.fed.svc.Approve(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if lock != nil {
		// the receiver waits for the lock to write fed_remote: whatever it wrote before is
		// committed or not, as it will stay until the lock goes
		w, err := pgx.Connect(ctx, dsn) // pg_stat_activity is read once per transaction: not in lock's
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		waitFor(t, "the receiver waiting to write fed_remote", func() bool {
			var n int
			err := w.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO fed_remote%'`).Scan(&n)
			return err == nil && n > 0
		})
		for range 20 {
			read()
		}
		if err := lock.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the shared values on karachi", func() bool { return k.ingest.Accepted.Load() >= shared })
	close(stop)
	wg.Wait()
	if len(leaks) > 0 {
		t.Errorf("anonymous reads during the first receipt (%d reads) saw: %v", reads.Load(), leaks)
	}
	// and they were made: the node-wide admin reads all of them
	if st, b := request(t, k, "GET", "/v1.1/Datastreams?$count=true", benchKey, ""); st != 200 || !strings.Contains(b, fmt.Sprintf(`"@iot.count":%d`, shared)) {
		t.Errorf("the remote Datastreams, as the node-wide admin: %d %.300s", st, b)
	}
	t.Logf("%d anonymous reads during the first receipt", reads.Load())
}
