//! Failures a test injects into a fake helpdesk: the next requests — any, or only those of one
//! HTTP method — are answered with a status instead of being served.

use std::collections::VecDeque;

/// The queue of injected failures, in the order they were asked for.
#[derive(Debug, Default)]
pub(crate) struct InjectedFailures(VecDeque<(Option<String>, u16)>);

impl InjectedFailures {
    /// The next `times` requests fail with `status`.
    pub(crate) fn any(&mut self, times: usize, status: u16) {
        self.0.extend(std::iter::repeat_n((None, status), times));
    }

    /// The next `times` requests with `method` (`"PUT"`) fail with `status`; others pass.
    pub(crate) fn of_method(&mut self, method: &str, times: usize, status: u16) {
        let method = method.to_ascii_uppercase();
        self.0
            .extend(std::iter::repeat_n((Some(method), status), times));
    }

    /// The status a request with `method` must fail with, if one is queued for it (used up).
    pub(crate) fn take(&mut self, method: &str) -> Option<u16> {
        let at = self
            .0
            .iter()
            .position(|(only, _)| only.as_deref().is_none_or(|m| m == method))?;
        self.0.remove(at).map(|(_, status)| status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_used_up_in_order_and_by_method() {
        let mut failures = InjectedFailures::default();
        failures.of_method("put", 1, 503);
        failures.any(1, 500);
        assert_eq!(failures.take("GET"), Some(500));
        assert_eq!(failures.take("GET"), None);
        assert_eq!(failures.take("PUT"), Some(503));
        assert_eq!(failures.take("PUT"), None);
    }
}
