package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/evomerge/evomerge/operators"
)

const methodsSynopsis = `methods [--json]

Lists every merge method with its one-line formula, what it needs (base model
θ0, number of models, data statistics) and its parameters: scope (one value,
or one per model), type, allowed range, default, and whether the value may
differ per layer group or tensor. Recipes and search spaces are checked
against these.

--json prints an array of
  {"name", "formula", "base": "unused"|"optional"|"required", "min_models",
   "max_models" (0: no limit), "needs": ["fisher"|"gram"|"model_wide_pass"|"seed"],
   "params": [{"name", "scope": "global"|"model", "type", "min", "max",
               "choices", "default", "layered", "doc"}]}`

// methodJSON is one method in `evomerge methods --json`.
type methodJSON struct {
	Name      string      `json:"name"`
	Formula   string      `json:"formula"`
	Base      string      `json:"base"`
	MinModels int         `json:"min_models"`
	MaxModels int         `json:"max_models"`
	Needs     []string    `json:"needs"`
	Params    []paramJSON `json:"params"`
}

type paramJSON struct {
	Name    string   `json:"name"`
	Scope   string   `json:"scope"`
	Type    string   `json:"type"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Choices []string `json:"choices,omitempty"`
	Default any      `json:"default"`
	Layered bool     `json:"layered"`
	Doc     string   `json:"doc"`
}

func cmdMethods(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("methods", methodsSynopsis, stderr)
	asJSON := fs.Bool("json", false, "print the methods as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("methods takes no arguments, got %q", pos)
	}
	list := operators.Builtin().List()
	if *asJSON {
		out := make([]methodJSON, len(list))
		for i, info := range list {
			out[i] = describeMethod(info)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return printMethods(stdout, list)
}

func describeMethod(info operators.Info) methodJSON {
	req := info.Requirements
	m := methodJSON{Name: info.Name, Formula: info.Formula, Base: baseNeed(req.Base),
		MinModels: req.MinModels, MaxModels: req.MaxModels, Needs: needs(req), Params: []paramJSON{}}
	for _, p := range info.Params {
		pj := paramJSON{Name: p.Name, Scope: string(p.Scope), Type: string(p.Kind), Layered: p.Layered, Doc: p.Doc}
		switch p.Kind {
		case operators.KindFloat, operators.KindInt:
			lo, hi := p.Min, p.Max
			pj.Min, pj.Max = &lo, &hi
			if p.Kind == operators.KindInt {
				pj.Default = int64(p.Default.Float)
			} else {
				pj.Default = p.Default.Float
			}
		case operators.KindBool:
			pj.Default = p.Default.Bool
		case operators.KindChoice:
			pj.Choices = p.Choices
			pj.Default = p.Default.Choice
		}
		m.Params = append(m.Params, pj)
	}
	return m
}

func baseNeed(b operators.BaseNeed) string {
	switch b {
	case operators.BaseRequired:
		return "required"
	case operators.BaseOptional:
		return "optional"
	}
	return "unused"
}

func needs(req operators.Requirements) []string {
	out := []string{}
	if req.Fisher {
		out = append(out, "fisher")
	}
	if req.Gram {
		out = append(out, "gram")
	}
	if req.ModelWide {
		out = append(out, "model_wide_pass")
	}
	if req.Stochastic {
		out = append(out, "seed")
	}
	return out
}

func modelCount(req operators.Requirements) string {
	switch {
	case req.MaxModels == 0:
		return fmt.Sprintf("%d+", req.MinModels)
	case req.MaxModels == req.MinModels:
		return fmt.Sprint(req.MinModels)
	}
	return fmt.Sprintf("%d-%d", req.MinModels, req.MaxModels)
}

func printMethods(w io.Writer, list []operators.Info) error {
	for i, info := range list {
		if i > 0 {
			fmt.Fprintln(w)
		}
		req := info.Requirements
		extra := ""
		if n := needs(req); len(n) > 0 {
			extra = "; needs " + strings.Join(n, ", ")
		}
		fmt.Fprintf(w, "%s  (base %s, models %s%s)\n", info.Name, baseNeed(req.Base), modelCount(req), extra)
		fmt.Fprintf(w, "  %s\n", info.Formula)
		if len(info.Params) == 0 {
			fmt.Fprintln(w, "  no parameters")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  parameter\tscope\tallowed\tdefault\tper layer/tensor\tdescription")
		for _, p := range info.Params {
			layered := "no"
			if p.Layered {
				layered = "yes"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Scope, p.Allowed(), p.Format(p.Default), layered, p.Doc)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Any task-vector method can be wrapped with LiNeS as \"lines+<method>\" (e.g. lines+ties).")
	return nil
}
