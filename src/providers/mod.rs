//! Providers: Codecov, Datadog and the shared HTTP layer, behind one cache.
