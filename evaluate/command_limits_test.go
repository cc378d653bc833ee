package evaluate

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/population"
)

// zeros is an endless reader of zero bytes that is not an io.WriterTo, so
// io.Copy into a writer goes through the writer's io.ReaderFrom if it has
// one.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// The standard output buffer keeps at most its limit however it is fed:
// io.Copy from a command's pipe (what os/exec does), io.Copy from a reader,
// or many small writes.
func TestLimitedBufferBoundsMemory(t *testing.T) {
	const limit = 64 << 10
	fromCommand := func(n int) func(w io.Writer) error {
		return func(w io.Writer) error {
			if _, err := exec.LookPath("sh"); err != nil {
				t.Skip("no sh on this system")
			}
			cmd := exec.Command("sh", "-c", "yes | head -c "+strconv.Itoa(n))
			cmd.Stdout = w
			return cmd.Run()
		}
	}
	fromReader := func(n int) func(w io.Writer) error {
		return func(w io.Writer) error {
			_, err := io.Copy(w, io.LimitReader(zeros{}, int64(n)))
			return err
		}
	}
	smallWrites := func(n int) func(w io.Writer) error {
		return func(w io.Writer) error {
			for range n / 10 {
				if _, err := w.Write([]byte("0123456789")); err != nil {
					return err
				}
			}
			return nil
		}
	}
	cases := []struct {
		name  string
		total int
		fill  func(w io.Writer) error
	}{
		{"command pipe far over the limit", 256 * limit, fromCommand(256 * limit)},
		{"command pipe under the limit", limit / 2, fromCommand(limit / 2)},
		{"command pipe exactly the limit", limit, fromCommand(limit)},
		{"reader far over the limit", 256 * limit, fromReader(256 * limit)},
		{"reader one byte over the limit", limit + 1, fromReader(limit + 1)},
		{"small writes over the limit", 4 * limit, smallWrites(4 * limit)},
		{"small writes under the limit", limit - 6, smallWrites(limit - 6)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &limitedBuffer{limit: limit}
			if err := tc.fill(b); err != nil {
				t.Fatal(err)
			}
			if want := min(tc.total, limit); b.Len() != want {
				t.Errorf("kept %d bytes, want %d", b.Len(), want)
			}
			if b.Cap() > limit {
				t.Errorf("retains %d bytes, more than the limit %d", b.Cap(), limit)
			}
			if want := tc.total > limit; b.overflow != want {
				t.Errorf("overflow %v, want %v", b.overflow, want)
			}
			if got := b.Bytes(); len(got) >= 4 && !bytes.Equal(got[:4], []byte("y\ny\n")) && !bytes.Equal(got[:4], []byte{0, 0, 0, 0}) && !bytes.Equal(got[:4], []byte("0123")) {
				t.Errorf("kept %q..., not the start of the output", got[:4])
			}
		})
	}
}

// A scorer printing far more than MaxCommandOutput fails with the limit
// named, without the evaluator holding its output in memory.
func TestCommandOutputLimit(t *testing.T) {
	s := newSynthetic(t, 5)
	const flood = 64 << 20
	cases := []struct {
		name, script string
		ok           bool
		want         []string
	}{
		{"flood", "yes | head -c " + strconv.Itoa(flood), false,
			[]string{"wrote more than 1 MiB (1048576 bytes) on standard output", "evaluate.MaxCommandOutput", `print only {"scores"`, "standard error"}},
		{"log lines then the scores", `yes 'loading layer' | head -c 3000000; echo '{"scores": {"acc": 1, "size": 2}}'`, false,
			[]string{"wrote more than 1 MiB"}},
		{"just under the limit", `head -c 1000000 /dev/zero | tr '\0' ' '; echo '{"scores": {"acc": 1, "size": 2}}'`, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, tmp := newCommand(t, s, tc.script, 0, 1)
			batch := candidates([]float64{0.5, 0.5})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := c.Evaluate(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 24<<20 {
				t.Errorf("the evaluation allocated %d MiB, more than the output limit allows", grew>>20)
			}
			cand := batch[0]
			if tc.ok {
				if !cand.OK() || cand.Scores[0] != 1 || cand.Scores[1] != 2 {
					t.Fatalf("status %s scores %v reason %q, want ok [1 2]", cand.Status, cand.Scores, cand.Error)
				}
			} else if cand.Status != population.StatusFailed {
				t.Fatalf("status %s, want failed", cand.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(cand.Error, w) {
					t.Errorf("reason %q does not mention %q", cand.Error, w)
				}
			}
			assertEmptyDir(t, tmp)
		})
	}
}
