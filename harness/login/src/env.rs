//! Where the client reads its environment from: the process, or a map in tests.
//!
//! The credential chain, the region lookup and the endpoint overrides all read environment
//! variables. Going through [`Env`] keeps them testable without touching the process
//! environment (which is shared by every test thread).

use std::collections::BTreeMap;

/// A source of environment variables.
pub trait Env: Send + Sync {
    /// The value of `name`, or `None` when it is unset.
    fn var(&self, name: &str) -> Option<String>;

    /// The value of `name` when it is set and non-empty. The Go SDK and the Consul CLI treat an
    /// empty variable like an unset one (`os.Getenv(..) != ""`), so every lookup goes through this.
    fn non_empty(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.is_empty())
    }
}

/// The environment of the running process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// An environment held in a map, for tests and for callers that build the environment themselves.
#[derive(Clone, Debug, Default)]
pub struct MapEnv {
    vars: BTreeMap<String, String>,
}

impl MapEnv {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value` and returns the environment, for chaining.
    #[must_use]
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_owned(), value.to_owned());
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = MapEnv::new().with("A", "").with("B", "x");
        assert_eq!(env.non_empty("A"), None);
        assert_eq!(env.non_empty("B").as_deref(), Some("x"));
        assert_eq!(env.var("A").as_deref(), Some(""));
    }
}
