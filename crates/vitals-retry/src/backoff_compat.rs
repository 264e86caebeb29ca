//! The `backoff` crate's trait, for users already on it. Opt-in: that crate is unmaintained.
use std::time::Duration;

use crate::{Delays, RandomSource};

impl<R: RandomSource> backoff::backoff::Backoff for Delays<R> {
    fn reset(&mut self) {
        Delays::reset(self);
    }

    fn next_backoff(&mut self) -> Option<Duration> {
        self.next()
    }
}
