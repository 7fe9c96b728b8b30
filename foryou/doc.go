// Package foryou personalises retrieval from each user's likes and saves, as Pinterest's
// PinnerSage does (Pal et al., KDD 2020): a user is represented not by one vector but by
// several, one per interest, and a "For you" feed retrieves the nearest items of a few of
// them. Nothing is trained: everything comes from the item vectors of a [Catalog] (any pinrec.Store) and
// the events of an [Engagement] (the [engage.Store]).
//
// # Interests
//
// A [Model] builds a user's interests from the items they currently like or have saved:
//
//   - Actions: each current like and save counts with its time (the latest event that set
//     it) and a weight, a save 1 and a like 0.5 by default ([WithActionWeights]); actions
//     older than the window (90 days, [WithWindow]) are left out.
//   - Items: those with an action in the window, the most recent [WithMaxItems] (2,000)
//     that the Store holds.
//   - Clusters: Ward hierarchical clustering of the items' vectors ([Ward]: nearest-neighbour
//     chain, O(n²) time and 4·n² bytes), cut at a merge height ([Cut]). The height is
//     [WithCut] in embedding units, or by default [DefaultRelativeCut] times the collection's
//     scale ([Model.Scale]: the median distance from an item to its 10th nearest neighbour,
//     measured once on a fixed sample), so the default follows the embedding whatever its
//     units.
//   - Each cluster is an [Interest]: its medoid (the member with the least sum of squared
//     distances to the others), its size, and its importance Σ weight·exp(-λ·age in days)
//     over its actions, λ = 0.01 per day by default ([WithDecay]).
//
// The clustering is cached per user and redone when the user's likes and saves in the
// window change (see [Model]); importance is recomputed on every call.
//
// # Feed and personalised "more like this"
//
// [Model.ForYou] draws a few interests by importance and retrieves each medoid's
// neighbours through the Store's search; each result names the interest it came from, and a
// user without interests gets a cold start that says so. [Model.Similar] re-ranks an item's
// visual neighbours by closeness to the user's interests too.
package foryou

import "pinrec/engage"

var _ Engagement = (*engage.Store)(nil)
