"""The methods RefSR is compared against: single-image networks, the exemplar paste, flow-warp, the oracle warp."""
