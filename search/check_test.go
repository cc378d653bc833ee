package search

import (
	"reflect"
	"testing"
)

func TestExplicitRate(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tt := range []struct {
		in   *float64
		want float64
	}{{nil, 0}, {f(0), -1}, {f(0.25), 0.25}, {f(1), 1}} {
		if got := ExplicitRate(tt.in); got != tt.want {
			t.Errorf("ExplicitRate(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCheckerMessages(t *testing.T) {
	var got []string
	c := Checker(func(key, msg string) { got = append(got, key+": "+msg) })
	f := func(v float64) *float64 { return &v }
	c.OneOf("a", "x", "", "u", "v")
	c.OneOf("b", "u", "u", "v")
	c.PositiveCount("c", -1, "16")
	c.FiniteIn("d", 2, 0, 1, "0.3")
	c.Probability("e", f(1.5))
	c.Probability("e2", nil)
	c.NonNegative("f", -1)
	want := []string{
		`a: unknown value "x": use "u" or "v"`,
		"c: -1: give a positive count (0 means 16)",
		"d: 2: give a number in [0, 1] (0 means 0.3)",
		"e: 1.5: give a probability in [0, 1]",
		"f: -1: give a finite non-negative number (0 means the default)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestStartPoints(t *testing.T) {
	var got []string
	ValidateStartPoints("start_points", []string{"defaults", "adamerging:", "nope", "defaults", "adamerging:/r"}, func(k, m string) { got = append(got, k) })
	want := []string{"start_points[1]", "start_points[2]", "start_points[3]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems at %v, want %v", got, want)
	}
	pts := []string{"average", "adamerging:runs/a"}
	MapStartPointPaths(pts, func(p string) string { return "/abs/" + p })
	if pts[0] != "average" || pts[1] != "adamerging:/abs/runs/a" {
		t.Errorf("mapped = %v", pts)
	}
	env := Env{StartPoint: func(key string, p StartPoint) ([]float64, error) {
		if p.Kind == StartAdaMerging {
			return nil, SettingErrorf(key, "no run at %s", p.Path)
		}
		return []float64{1}, nil
	}}
	x, err := ResolveStartPoints(env, "start_points", []string{"defaults"})
	if err != nil || len(x) != 1 {
		t.Fatalf("resolve = %v, %v", x, err)
	}
	_, err = ResolveStartPoints(env, "start_points", []string{"defaults", "adamerging:r"})
	if se, ok := err.(*SettingError); !ok || se.Key != "start_points[1]" {
		t.Errorf("error %v, want a SettingError at start_points[1]", err)
	}
}
