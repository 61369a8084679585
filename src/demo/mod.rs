//! The demo: the offline Codecov-compatible fixture server that `rubric demo` and
//! `rubric serve --fixture` evaluate the sample catalog against.

pub mod fixture;
