//go:build unix

package checkpoint

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const oneTensor = `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`

func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("cannot make a named pipe here: %v", err)
	}
	return path
}

// openWithin opens path in a goroutine and fails the test if Open blocks:
// a regression must fail, not hang. A reader stuck opening a named pipe is
// released by opening the pipe's write end.
func openWithin(t *testing.T, path string, fifos ...string) (*Reader, error) {
	t.Helper()
	type result struct {
		r   *Reader
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := Open(path)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(5 * time.Second):
		for _, f := range fifos {
			if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		t.Fatalf("Open(%s) still blocks after 5s", path)
		return nil, nil
	}
}

// Only regular files are opened: a named pipe, socket or device given as a
// checkpoint, or found in a checkpoint directory or index, is refused with
// its path and kind, at once.
func TestOpenRefusesNonRegularFiles(t *testing.T) {
	const hint = "not a regular file: give the path of a .safetensors file or of a directory holding one"
	cases := []struct {
		name string
		// setup makes the checkpoint in dir and returns the path to open,
		// the file that must be named, and the named pipes made.
		setup func(t *testing.T, dir string) (open, named string, fifos []string)
		kind  string
		hint  string
	}{
		{"named pipe", func(t *testing.T, dir string) (string, string, []string) {
			p := mkfifo(t, filepath.Join(dir, "x.safetensors"))
			return p, p, []string{p}
		}, "named pipe", hint},
		{"symlink to a named pipe", func(t *testing.T, dir string) (string, string, []string) {
			p := mkfifo(t, filepath.Join(dir, "pipe"))
			link := filepath.Join(dir, "x.safetensors")
			if err := os.Symlink(p, link); err != nil {
				t.Fatal(err)
			}
			return link, link, []string{p}
		}, "named pipe", hint},
		{"directory whose model.safetensors is a named pipe", func(t *testing.T, dir string) (string, string, []string) {
			p := mkfifo(t, filepath.Join(dir, SingleFileName))
			return dir, p, []string{p}
		}, "named pipe", hint},
		{"directory whose only .safetensors is a named pipe", func(t *testing.T, dir string) (string, string, []string) {
			p := mkfifo(t, filepath.Join(dir, "only.safetensors"))
			return dir, p, []string{p}
		}, "named pipe", hint},
		{"named pipe as the index", func(t *testing.T, dir string) (string, string, []string) {
			p := mkfifo(t, filepath.Join(dir, IndexFileName))
			return p, p, []string{p}
		}, "named pipe", "not a regular file: give the path of a .safetensors file, of a model.safetensors.index.json or of a directory holding one"},
		{"directory whose index is a named pipe", func(t *testing.T, dir string) (string, string, []string) {
			p := mkfifo(t, filepath.Join(dir, IndexFileName))
			return dir, p, []string{p}
		}, "named pipe", "not a regular file"},
		{"index naming a named pipe as a shard", func(t *testing.T, dir string) (string, string, []string) {
			index := filepath.Join(dir, IndexFileName)
			if err := os.WriteFile(index, []byte(`{"weight_map": {"w": "shard.safetensors"}}`), 0o644); err != nil {
				t.Fatal(err)
			}
			p := mkfifo(t, filepath.Join(dir, "shard.safetensors"))
			return index, p, []string{p}
		}, "named pipe", hint},
		{"socket", func(t *testing.T, dir string) (string, string, []string) {
			p := filepath.Join(dir, "s.safetensors")
			ln, err := net.Listen("unix", p)
			if err != nil {
				t.Skipf("cannot make a unix socket here: %v", err)
			}
			t.Cleanup(func() { ln.Close() })
			return p, p, nil
		}, "socket", hint},
		{"character device", func(t *testing.T, dir string) (string, string, []string) {
			if _, err := os.Stat(os.DevNull); err != nil {
				t.Skip("no null device")
			}
			return os.DevNull, os.DevNull, nil
		}, "character device", hint},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			open, named, fifos := tc.setup(t, dir)
			r, err := openWithin(t, open, fifos...)
			if err == nil {
				r.Close()
				t.Fatalf("Open(%s) accepted a %s", open, tc.kind)
			}
			for _, want := range []string{named + " is a " + tc.kind + ", " + tc.hint} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// Regular files, also through a symlink or a directory, still open.
func TestOpenRegularFiles(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) string
	}{
		{"file", func(t *testing.T, dir string) string {
			return rawFile(t, dir, "m.safetensors", oneTensor, f32Bytes(1, 2))
		}},
		{"symlink to a file", func(t *testing.T, dir string) string {
			p := rawFile(t, dir, "m.safetensors", oneTensor, f32Bytes(1, 2))
			link := filepath.Join(dir, "link.safetensors")
			if err := os.Symlink(p, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"directory", func(t *testing.T, dir string) string {
			rawFile(t, dir, SingleFileName, oneTensor, f32Bytes(1, 2))
			return dir
		}},
		{"index", func(t *testing.T, dir string) string {
			rawFile(t, dir, "shard.safetensors", oneTensor, f32Bytes(1, 2))
			index := filepath.Join(dir, IndexFileName)
			if err := os.WriteFile(index, []byte(`{"weight_map": {"w": "shard.safetensors"}}`), 0o644); err != nil {
				t.Fatal(err)
			}
			return index
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			r, err := openWithin(t, path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := r.Read("w")
			if err != nil || len(got) != 2 || got[0] != 1 || got[1] != 2 {
				t.Errorf("Read(w) = %v, %v; want [1 2]", got, err)
			}
		})
	}
}
