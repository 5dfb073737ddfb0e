//! The time-order window: entries arrive slightly out of time order, and the
//! tracker must see them in order without the whole file being held.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::rc::Rc;

use crate::recognize::Event;
use crate::time::Millis;

/// Entries arrive up to about a second out of time order as layers merge
/// (ccp-log-format.md §2.6); events wait this long (in log time) before being applied.
const REORDER_WINDOW_MS: Millis = 5_000;
/// The window never holds more events than this, whatever the times say
/// (real logs have a few dozen in five seconds)...
const REORDER_CAP: usize = 10_000;
/// ...nor more than about this many bytes of them (each snapshot can carry
/// up to 64 contacts).
const REORDER_BUDGET_BYTES: usize = 32 << 20;

pub(crate) struct Pending {
    pub(crate) time: Millis,
    pub(crate) index: u64,
    pub(crate) text: Rc<str>,
    pub(crate) event: Event,
    /// Bytes held, roughly: counted against the window's budget.
    pub(crate) weight: usize,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.index) == (other.time, other.index)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.index).cmp(&(other.time, other.index))
    }
}

/// Re-sorts events by (time, entry index) within a sliding window, so the
/// tracker sees them in time order without the whole file being held.
#[derive(Default)]
pub(crate) struct Reorder {
    heap: BinaryHeap<Reverse<Pending>>,
    latest: Millis,
    weight: usize,
}

impl Reorder {
    pub(crate) fn push(&mut self, p: Pending) {
        self.latest = self.latest.max(p.time);
        self.weight += p.weight;
        self.heap.push(Reverse(p));
    }

    pub(crate) fn pop_ready(&mut self) -> Option<Pending> {
        let ready = self.heap.peek().is_some_and(|Reverse(p)| {
            p.time < self.latest.saturating_sub(REORDER_WINDOW_MS)
                || self.heap.len() > REORDER_CAP
                || self.weight > REORDER_BUDGET_BYTES
        });
        if ready { self.pop_any() } else { None }
    }

    pub(crate) fn pop_any(&mut self) -> Option<Pending> {
        let p = self.heap.pop().map(|Reverse(p)| p)?;
        self.weight -= p.weight;
        Some(p)
    }
}
