//! Scorecards: ladders, weights, filters, exemptions → scores and explanations.
