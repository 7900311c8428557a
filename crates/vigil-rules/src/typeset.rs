//! A dense set of event types (a bitset over [`EventType::MAX`] slots).
//!
//! The sensor uses it to decide which syscalls to report from the kernel; a `HashSet<u16>`
//! was rejected because the set is consulted per event and is tiny as a bitset (~130 bytes).

use vigil_event::EventType;

const WORDS: usize = EventType::MAX.div_ceil(64);

/// A set of event types.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct EventTypeSet {
    bits: [u64; WORDS],
}

impl EventTypeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event type number that has a name.
    pub fn all() -> Self {
        let mut s = Self::new();
        for i in 0..EventType::MAX {
            let t = EventType(i as u16);
            if t.name() != "<unknown>" {
                s.insert(t);
            }
        }
        s
    }

    pub fn insert(&mut self, t: EventType) {
        let i = t.index();
        if i < EventType::MAX {
            self.bits[i / 64] |= 1 << (i % 64);
        }
    }

    pub fn contains(&self, t: EventType) -> bool {
        let i = t.index();
        i < EventType::MAX && self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn union_with(&mut self, other: &EventTypeSet) {
        for (a, b) in self.bits.iter_mut().zip(other.bits.iter()) {
            *a |= *b;
        }
    }

    pub fn intersect_with(&mut self, other: &EventTypeSet) {
        for (a, b) in self.bits.iter_mut().zip(other.bits.iter()) {
            *a &= *b;
        }
    }

    /// Removes the types in `other`.
    pub fn subtract(&mut self, other: &EventTypeSet) {
        for (a, b) in self.bits.iter_mut().zip(other.bits.iter()) {
            *a &= !*b;
        }
    }

    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// The types in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        (0..EventType::MAX)
            .filter(|i| self.bits[i / 64] & (1 << (i % 64)) != 0)
            .map(|i| EventType(i as u16))
    }
}

impl std::fmt::Debug for EventTypeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|t| t.name()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_ops() {
        let mut s = EventTypeSet::new();
        let open = EventType::from_name("openat").unwrap();
        s.insert(open);
        s.insert(EventType::PROCEXIT);
        assert!(s.contains(open) && s.contains(EventType::PROCEXIT));
        assert_eq!(s.len(), 2);
        let mut a = EventTypeSet::all();
        assert!(a.len() > 300);
        a.subtract(&s);
        assert!(!a.contains(open));
        a.intersect_with(&s);
        assert!(a.is_empty());
    }
}
