package engage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below re-execute the test binary as a writer child: TestMain runs the child's
// loop instead of the tests when ENGAGE_CHILD is set.
func TestMain(m *testing.M) {
	if os.Getenv("ENGAGE_CHILD") != "" {
		os.Exit(childWriter())
	}
	os.Exit(m.Run())
}

// childEvent is the nth event of a writer child: distinct users of ten events each, distinct
// items within a user, saves and likes, each changing state (so each lands in the history).
func childEvent(n int) Event {
	a := Save
	if n%3 == 2 {
		a = Like
	}
	return Event{
		User:   fmt.Sprintf("u%d", n/10),
		Item:   fmt.Sprintf("i%d", (n*7)%101),
		Action: a,
		Time:   t0.Add(time.Duration(n) * time.Microsecond),
	}
}

// childWriter records events ENGAGE_FROM, ENGAGE_FROM+1, ... up to ENGAGE_TO (exclusive; 0 =
// forever) into ENGAGE_DB in batches of 1 to 40, printing "ack N" after each batch whose
// Record returned nil (N = the batch's last event).
func childWriter() int {
	from, _ := strconv.Atoi(os.Getenv("ENGAGE_FROM"))
	to, _ := strconv.Atoi(os.Getenv("ENGAGE_TO"))
	s, err := Open(os.Getenv("ENGAGE_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	out := bufio.NewWriter(os.Stdout)
	ctx := context.Background()
	for n := from; to == 0 || n < to; {
		size := 1 + (n*13)%40
		if to != 0 {
			size = min(size, to-n)
		}
		batch := make([]Event, size)
		for i := range batch {
			batch[i] = childEvent(n + i)
		}
		if _, err := s.Record(ctx, batch...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		n += size
		fmt.Fprintf(out, "ack %d\n", n-1)
		out.Flush()
	}
	return 0
}

func startChild(t *testing.T, db string, from, to int) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ENGAGE_CHILD=1", "ENGAGE_DB="+db,
		"ENGAGE_FROM="+strconv.Itoa(from), "ENGAGE_TO="+strconv.Itoa(to))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	return cmd, bufio.NewScanner(stdout)
}

func parseAck(t *testing.T, line string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(line, "ack "))
	require.NoError(t, err, "child printed %q", line)
	return n
}

// historyIndexes returns the child event numbers found in the store's history.
func historyIndexes(t *testing.T, s *Store) map[int]bool {
	t.Helper()
	h, err := s.History(context.Background(), 0, 0)
	require.NoError(t, err)
	got := map[int]bool{}
	for _, l := range h {
		n := int(l.Time.Sub(t0) / time.Microsecond)
		require.Equal(t, childEvent(n).User, l.User)
		require.Equal(t, childEvent(n).Item, l.Item)
		require.Equal(t, childEvent(n).Action, l.Action)
		got[n] = true
	}
	return got
}

// TestKilledWriterLosesNothingAcknowledged kills a writer child with SIGKILL in mid-stream,
// three times at different points, and checks after each that every event the child had
// acknowledged is in the database, that what is there is whole batches only (a prefix of
// the stream), and that the derived tables match the events.
func TestKilledWriterLosesNothingAcknowledged(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kill.engage.db")
	next := 0
	for round, killAfter := range []int{150, 411, 777} {
		cmd, acks := startChild(t, db, next, 0)
		lastAck := -1
		killed := false
		for acks.Scan() {
			lastAck = parseAck(t, acks.Text())
			if !killed && lastAck >= killAfter {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true // keep reading: lines already in the pipe were acknowledged too
			}
		}
		err := cmd.Wait()
		require.Error(t, err, "round %d: the child should have been killed", round)
		require.True(t, killed, "round %d: child ended before it was killed", round)

		s, err := Open(db)
		require.NoError(t, err)
		var check string
		require.NoError(t, s.db.QueryRow("PRAGMA integrity_check").Scan(&check))
		assert.Equal(t, "ok", check)
		got := historyIndexes(t, s)
		for n := 0; n <= lastAck; n++ {
			require.True(t, got[n], "round %d: acknowledged event %d lost (last ack %d)", round, n, lastAck)
		}
		top := lastAck
		for n := range got {
			top = max(top, n)
		}
		for n := 0; n <= top; n++ {
			require.True(t, got[n], "round %d: event %d missing below %d: not whole batches", round, n, top)
		}
		var events []Event
		for n := 0; n <= top; n++ {
			events = append(events, childEvent(n))
		}
		checkDerived(t, s, events)
		require.NoError(t, s.Close())
		t.Logf("round %d: killed after ack %d; %d events in the database", round, lastAck, len(got))
		next = top + 1
	}
}

// TestTwoProcessesWriteOneFile runs two writer children at once on one database file, with
// this process reading it meanwhile, and checks that every event of both is there.
func TestTwoProcessesWriteOneFile(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "two.engage.db")
	s, err := Open(db)
	require.NoError(t, err)
	defer s.Close()
	const half = 300
	a, acksA := startChild(t, db, 0, half)
	b, acksB := startChild(t, db, half, 2*half)
	done := make(chan int, 2)
	for _, sc := range []*bufio.Scanner{acksA, acksB} {
		go func() {
			last := -1
			for sc.Scan() {
				last, _ = strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack "))
			}
			done <- last
		}()
	}
	reads := 0
	for waiting := 2; waiting > 0; {
		select {
		case last := <-done:
			assert.True(t, last == half-1 || last == 2*half-1, "last ack %d", last)
			waiting--
		default:
			_, err := s.Totals(ctx)
			require.NoError(t, err)
			reads++
		}
	}
	require.NoError(t, a.Wait())
	require.NoError(t, b.Wait())
	got := historyIndexes(t, s)
	assert.Len(t, got, 2*half)
	var events []Event
	for n := range 2 * half {
		events = append(events, childEvent(n))
	}
	checkDerived(t, s, events)
	t.Logf("%d reads while the children wrote", reads)
}
