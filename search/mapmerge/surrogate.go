package mapmerge

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Activation squashes a surrogate's quadratic into the metric's range.
type Activation string

// Activations.
const (
	// Sigmoid for accuracies (values in [0, 1]).
	Sigmoid Activation = "sigmoid"
	// Softplus for losses (values ≥ 0).
	Softplus Activation = "softplus"
	// Identity: ordinary least squares on the quadratic features.
	Identity Activation = "identity"
)

func (a Activation) valid() bool { return a == Sigmoid || a == Softplus || a == Identity }

// apply returns act(q) and act'(q).
func (a Activation) apply(q float64) (float64, float64) {
	switch a {
	case Sigmoid:
		s := 1 / (1 + math.Exp(-q))
		return s, s * (1 - s)
	case Softplus:
		if q > 30 {
			return q, 1
		}
		return math.Log1p(math.Exp(q)), 1 / (1 + math.Exp(-q))
	}
	return q, 1
}

// inverse maps a metric value to the quadratic's scale (clipped inside the
// activation's range) for the initial linear fit.
func (a Activation) inverse(y float64) float64 {
	switch a {
	case Sigmoid:
		y = min(max(y, 1e-3), 1-1e-3)
		return math.Log(y / (1 - y))
	case Softplus:
		y = max(y, 1e-6)
		if y > 30 {
			return y
		}
		return math.Log(math.Expm1(y))
	}
	return y
}

// check reports whether y lies in the activation's range.
func (a Activation) check(y float64) error {
	switch {
	case math.IsNaN(y) || math.IsInf(y, 0):
		return fmt.Errorf("value %v is not finite", y)
	case a == Sigmoid && (y < 0 || y > 1):
		return fmt.Errorf("value %v is outside [0, 1], the range of the sigmoid: use the softplus or identity activation", y)
	case a == Softplus && y < 0:
		return fmt.Errorf("value %v is negative, outside the range of the softplus: use the identity activation", y)
	}
	return nil
}

// NumTerms is the number of coefficients of a quadratic in n variables:
// (n+1)(n+2)/2 (n squares, n(n−1)/2 cross terms, n linear terms, 1 constant).
func NumTerms(n int) int { return (n + 1) * (n + 2) / 2 }

// FeaturesTo writes the quadratic feature map of c into dst (len NumTerms)
// in the order c_i² (i), c_i·c_j (i < j), c_i (i), 1.
func FeaturesTo(dst, c []float64) []float64 {
	n := len(c)
	if dst == nil {
		dst = make([]float64, NumTerms(n))
	}
	if len(dst) != NumTerms(n) {
		panic("mapmerge: feature length mismatch")
	}
	k := 0
	for i := range n {
		dst[k] = c[i] * c[i]
		k++
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			dst[k] = c[i] * c[j]
			k++
		}
	}
	for i := range n {
		dst[k] = c[i]
		k++
	}
	dst[k] = 1
	return dst
}

// Surrogate is a fitted quadratic model of one metric over the coefficient
// vector: M̃(c) = act(e + bᵀc + ½cᵀAc), stored as the coefficients of
// FeaturesTo's feature map.
type Surrogate struct {
	Activation Activation
	// Coef has NumTerms(n) values in feature order.
	Coef []float64
	feat []float64
}

// Dim is the number of variables.
func (s *Surrogate) Dim() int {
	n := 0
	for NumTerms(n) < len(s.Coef) {
		n++
	}
	return n
}

// Predict returns M̃(c). It reuses a buffer and is not safe for concurrent
// use; Clone a surrogate per goroutine.
func (s *Surrogate) Predict(c []float64) float64 {
	if len(s.feat) != len(s.Coef) {
		s.feat = make([]float64, len(s.Coef))
	}
	FeaturesTo(s.feat, c)
	q := 0.0
	for k, v := range s.feat {
		q += s.Coef[k] * v
	}
	y, _ := s.Activation.apply(q)
	return y
}

// Clone returns an independent copy.
func (s *Surrogate) Clone() *Surrogate {
	return &Surrogate{Activation: s.Activation, Coef: append([]float64(nil), s.Coef...)}
}

// Fit fits a surrogate to points x (one coefficient vector per row) and
// values y by least squares: ordinary for Identity; for Sigmoid and Softplus
// a Levenberg–Marquardt minimisation of Σ (y_i − act(q(x_i)))² started from
// the linear fit of act⁻¹(y). It needs at least NumTerms(n) points whose
// features are not collinear.
func Fit(x [][]float64, y []float64, act Activation) (*Surrogate, error) {
	if !act.valid() {
		return nil, fmt.Errorf("mapmerge: unknown activation %q: use %q, %q or %q", act, Sigmoid, Softplus, Identity)
	}
	if len(x) == 0 || len(x) != len(y) {
		return nil, fmt.Errorf("mapmerge: %d points and %d values: give one value per point", len(x), len(y))
	}
	n := len(x[0])
	p := NumTerms(n)
	if len(x) < p {
		return nil, fmt.Errorf("mapmerge: %d points for a quadratic in %d coefficients with %d terms: evaluate at least %d points (MAP's default budget is (N+1)(N+2) = %d)", len(x), n, p, p, 2*p)
	}
	phi := mat.NewDense(len(x), p, nil)
	z := mat.NewVecDense(len(x), nil)
	for i, row := range x {
		if len(row) != n {
			return nil, fmt.Errorf("mapmerge: point %d has %d coefficients, point 0 has %d", i, len(row), n)
		}
		if err := act.check(y[i]); err != nil {
			return nil, fmt.Errorf("mapmerge: point %d: %w", i, err)
		}
		FeaturesTo(phi.RawRowView(i), row)
		z.SetVec(i, act.inverse(y[i]))
	}
	coef, err := leastSquares(phi, z)
	if err != nil {
		return nil, err
	}
	s := &Surrogate{Activation: act, Coef: coef}
	if act != Identity {
		s.Coef = levenbergMarquardt(phi, y, act, coef)
	}
	return s, nil
}

// leastSquares solves min ‖Φβ − z‖ through the SVD, refusing a rank-deficient
// design (e.g. binary corner points, where c² = c).
func leastSquares(phi *mat.Dense, z *mat.VecDense) ([]float64, error) {
	var svd mat.SVD
	if !svd.Factorize(phi, mat.SVDThin) {
		return nil, errors.New("mapmerge: the least-squares fit did not converge")
	}
	vals := svd.Values(nil)
	rank := svd.Rank(1e-10)
	if rank < len(vals) {
		return nil, fmt.Errorf("mapmerge: the sampled points determine only %d of the quadratic's %d terms (collinear features, e.g. points only at 0 and 1 where c² = c): use a space-filling design", rank, len(vals))
	}
	var beta mat.Dense
	svd.SolveTo(&beta, z, rank)
	out := make([]float64, len(vals))
	for k := range out {
		out[k] = beta.At(k, 0)
	}
	return out, nil
}

// levenbergMarquardt refines coef to minimise Σ (y − act(Φβ))².
func levenbergMarquardt(phi *mat.Dense, y []float64, act Activation, coef []float64) []float64 {
	rows, p := phi.Dims()
	beta := append([]float64(nil), coef...)
	resid := make([]float64, rows)
	sse := func(b []float64, r []float64, d []float64) float64 {
		s := 0.0
		for i := range rows {
			row := phi.RawRowView(i)
			v := 0.0
			for k := range p {
				v += row[k] * b[k]
			}
			a, da := act.apply(v)
			if r != nil {
				r[i] = y[i] - a
				d[i] = da
			}
			s += (y[i] - a) * (y[i] - a)
		}
		return s
	}
	deriv := make([]float64, rows)
	cur := sse(beta, resid, deriv)
	mu := 1e-3
	jtj := mat.NewSymDense(p, nil)
	jtr := mat.NewVecDense(p, nil)
	sys := mat.NewSymDense(p, nil)
	trial := make([]float64, p)
	var delta mat.VecDense
	var chol mat.Cholesky
	for iter := 0; iter < 200; iter++ {
		for a := range p {
			jtr.SetVec(a, 0)
			for b := a; b < p; b++ {
				jtj.SetSym(a, b, 0)
			}
		}
		for i := range rows {
			row := phi.RawRowView(i)
			for a := range p {
				ja := deriv[i] * row[a]
				jtr.SetVec(a, jtr.AtVec(a)+ja*resid[i])
				for b := a; b < p; b++ {
					jtj.SetSym(a, b, jtj.At(a, b)+ja*deriv[i]*row[b])
				}
			}
		}
		improved := false
		for tries := 0; tries < 20; tries++ {
			for a := range p {
				for b := a; b < p; b++ {
					v := jtj.At(a, b)
					if a == b {
						v += mu*v + 1e-12
					}
					sys.SetSym(a, b, v)
				}
			}
			if !chol.Factorize(sys) {
				mu *= 10
				continue
			}
			if err := chol.SolveVecTo(&delta, jtr); err != nil {
				mu *= 10
				continue
			}
			for k := range p {
				trial[k] = beta[k] + delta.AtVec(k)
			}
			if next := sse(trial, nil, nil); next < cur {
				rel := (cur - next) / max(cur, 1e-300)
				copy(beta, trial)
				cur = sse(beta, resid, deriv)
				mu = max(mu/3, 1e-12)
				improved = true
				if rel < 1e-12 {
					return beta
				}
				break
			}
			mu *= 4
		}
		if !improved {
			break
		}
	}
	return beta
}

// Quality measures a surrogate against true values.
type Quality struct {
	// R2 is 1 − SS_res/SS_tot (NaN when the values are all equal).
	R2 float64 `json:"r2"`
	// RMSE is √(SS_res/n).
	RMSE float64 `json:"rmse"`
	// Points is n.
	Points int `json:"points"`
}

// Measure scores predictions against true values.
func Measure(pred, truth []float64) Quality {
	if len(pred) != len(truth) {
		panic("mapmerge: length mismatch")
	}
	if len(truth) == 0 {
		return Quality{R2: math.NaN(), RMSE: math.NaN()}
	}
	mean := 0.0
	for _, v := range truth {
		mean += v
	}
	mean /= float64(len(truth))
	var res, tot float64
	for i, v := range truth {
		res += (v - pred[i]) * (v - pred[i])
		tot += (v - mean) * (v - mean)
	}
	r2 := math.NaN()
	if tot > 0 {
		r2 = 1 - res/tot
	}
	return Quality{R2: r2, RMSE: math.Sqrt(res / float64(len(truth))), Points: len(truth)}
}

// Evaluate measures s on held-out points x with true values y.
func (s *Surrogate) Evaluate(x [][]float64, y []float64) Quality {
	pred := make([]float64, len(x))
	for i, c := range x {
		pred[i] = s.Predict(c)
	}
	return Measure(pred, y)
}

// CrossValidate measures held-out quality by leave-one-out: each point is
// predicted by a surrogate fitted on the others. It needs NumTerms + 1
// points.
func CrossValidate(x [][]float64, y []float64, act Activation) (Quality, error) {
	pred := make([]float64, len(x))
	xs := make([][]float64, 0, len(x))
	ys := make([]float64, 0, len(x))
	for i := range x {
		xs, ys = xs[:0], ys[:0]
		for j := range x {
			if j != i {
				xs = append(xs, x[j])
				ys = append(ys, y[j])
			}
		}
		s, err := Fit(xs, ys, act)
		if err != nil {
			return Quality{}, fmt.Errorf("leave-one-out fit without point %d: %w", i, err)
		}
		pred[i] = s.Predict(x[i])
	}
	return Measure(pred, y), nil
}
