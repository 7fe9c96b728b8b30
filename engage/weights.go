package engage

// Weights returns the blend's weights the Ranker uses when a call does not override them
// (WithWeights): what an answer reports next to its scores.
func (r *Ranker) Weights() Weights { return r.cfg.weights }
