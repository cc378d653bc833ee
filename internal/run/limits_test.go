package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
)

func TestMemAvailableReadsTheKernel(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo on this system")
	}
	n, ok := memAvailable()
	if !ok || n < 1<<20 {
		t.Fatalf("memAvailable = %d, %v; want the machine's available memory", n, ok)
	}
}

func TestAbsurdConcurrencyAndPopulationAreRefused(t *testing.T) {
	saved := memAvailable
	t.Cleanup(func() { memAvailable = saved })
	memAvailable = func() (uint64, bool) { return 1 << 30, true } // 1 GiB

	tests := []struct {
		name     string
		edit     func(string) string
		wantKeys []string
		want     []string
	}{
		{"sane values run", nil, nil, nil},
		{"concurrency and population", func(s string) string {
			s = strings.Replace(s, "concurrency = 1", "concurrency = 100000000", 1)
			return strings.Replace(s, "population_size = 8", "population_size = 20000000", 1)
		}, []string{"search.concurrency", "search.nsga2.population_size"}, []string{
			"100000000 concurrent evaluations need about", "but 1.0 GiB is available",
			"20000000 needs about", "non-dominated sorting",
		}},
		{"m2n2-sized archive in memory", func(string) string {
			return m2n2Config(filepath.Join(t.TempDir(), "m2n2"), "m2n2-specialists", "archive_size = 100000000", 20)
		}, []string{"search.m2n2.archive_size"}, []string{"archived model kept in memory", `"disk" keeps them on disk`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			exp := decodeSmoke(t, dir, tt.edit)
			_, err := Start(context.Background(), exp, Options{Out: io.Discard})
			if tt.wantKeys == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ps configs.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v (%T), want configuration problems", err, err)
			}
			var keys []string
			for _, p := range ps {
				keys = append(keys, p.Key)
			}
			if strings.Join(keys, ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("problems name %v, want %v:\n%v", keys, tt.wantKeys, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, statErr := os.Stat(dir); statErr == nil {
				t.Error("a refused run left its directory")
			}
		})
	}
}

// A benchmark config with extra experts but no models.base is refused on
// models.base, citing the user's file and line (not the run directory's
// copy, which is removed with the failed run).
func TestExtraExpertsWithoutBaseCiteTheUsersFile(t *testing.T) {
	bench, err := benchmarks.Prepare(context.Background(), "mnist-tasks", benchmarks.Options{CacheDir: smokeCache, Recipe: smokeRecipe(t, "mnist-tasks")})
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	src := strings.Replace(smokeConfig(filepath.Join(tmp, "run")), "\n[merge]", fmt.Sprintf("\n[[models.experts]]\nname = \"more\"\npath = %q\n\n[merge]", bench.Pool()[0].Path), 1)
	path := filepath.Join(tmp, "mine.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	exp, err := configs.LoadExperiment(path, registry.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), exp, Options{Out: io.Discard})
	var ps configs.Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("error %v, want one configuration problem", err)
	}
	p := ps[0]
	if p.File != path || p.Key != "models.base" || p.Line == 0 ||
		!strings.Contains(p.Msg, "set models.base to the checkpoint the experts were fine-tuned from") || !strings.Contains(p.Msg, "own base and experts are not added") {
		t.Errorf("problem %+v, want models.base in %s with its line", p, path)
	}
	if strings.Contains(err.Error(), "base_model") || strings.Contains(err.Error(), rundir.ConfigFile) {
		t.Errorf("error cites a key or file the user does not have: %v", err)
	}
}

func TestUnknownTaskMessage(t *testing.T) {
	for _, tt := range []struct {
		tasks []string
		want  string
	}{
		{nil, `the run knows no tasks; name the task each expert was fine-tuned for (task = "t" in its [[models.experts]] table)`},
		{[]string{"a", "b"}, `unknown task "t": use one of a, b, "all" or "mean"`},
	} {
		if got := unknownTask("t", tt.tasks); !strings.Contains(got, tt.want) {
			t.Errorf("unknownTask(%v) = %q, want %q", tt.tasks, got, tt.want)
		}
	}
}

func TestMulBytes(t *testing.T) {
	for _, tt := range []struct {
		n      int
		each   uint64
		need   uint64
		over   bool
		format string
	}{
		{0, 10, 0, false, "0 B"},
		{3, 1 << 30, 3 << 30, false, "3.0 GiB"},
		{1 << 40, 1 << 30, 0, true, "more than 16 EiB"},
	} {
		need, over := mulBytes(tt.n, tt.each)
		if need != tt.need || over != tt.over || formatNeed(need, over) != tt.format {
			t.Errorf("mulBytes(%d, %d) = %d, %v (%q); want %d, %v (%q)", tt.n, tt.each, need, over, formatNeed(need, over), tt.need, tt.over, tt.format)
		}
	}
}

// report.choose naming no objective is refused when the run starts, before
// any evaluation, and leaves no run behind.
func TestReportChooseIsCheckedAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	exp := decodeSmoke(t, dir, func(s string) string { return s + "\n[report]\nchoose = \"digits/acuracy\"\n" })
	_, err := Start(context.Background(), exp, Options{Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), `report.choose = "digits/acuracy" names no objective`) || !strings.Contains(err.Error(), "digits/accuracy") {
		t.Fatalf("error %v, want report.choose refused with the objectives listed", err)
	}
	if _, statErr := os.Stat(dir); statErr == nil {
		t.Error("a refused run left its directory")
	}
}
