//! Without the `metrics` feature: the same calls, doing nothing.
use std::time::Duration;

use crate::{CheckStatus, Probe, Status};

pub(crate) struct CheckMetrics;

impl CheckMetrics {
    pub(crate) fn new(_name: &str, _component: &str, _critical: bool) -> Self {
        CheckMetrics
    }

    pub(crate) fn run(
        &self,
        _status: CheckStatus,
        _attempts: u32,
        _duration: Duration,
        _up: bool,
        _fail_open: bool,
    ) {
    }

    pub(crate) fn age(&self, _age: Duration) {}
}

pub(crate) struct ProbeMetrics;

impl ProbeMetrics {
    pub(crate) fn new() -> Self {
        ProbeMetrics
    }

    pub(crate) fn answered(&self, _probe: Probe, _status: Status) {}

    pub(crate) fn status(&self, _probe: Probe, _status: Status) {}
}
