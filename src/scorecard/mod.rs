//! Scorecards: ladders, weights, filters, exemptions → scores and explanations.

pub mod explain;
pub mod load;
pub mod model;
pub mod report;
pub mod score;
pub mod yaml;
