//! The waiting room's queue, as a pure state machine on an injected clock (milliseconds).
//!
//! Admission credit accrues at the admission rate; what waiting tickets do not take is capped
//! by the burst. Newcomers are let through
//! at once only while nobody is waiting and credit remains; otherwise they take the next
//! ticket number. Credit moves the `head` over live tickets in number order: every ticket below
//! `head` is admitted, so admission follows arrival. A ticket not refreshed within its time to
//! live is dropped and never takes credit; an admitted ticket is removed when used (a second use
//! finds nothing). [`super::shared`] runs the same machine in Redis, in one Lua script.

use std::collections::{BTreeMap, BTreeSet};

/// The room's settings, in the units of the machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Admissions per millisecond.
    pub rate_per_ms: f64,
    /// Credit at most.
    pub burst: f64,
    /// Milliseconds a ticket lives without a refresh.
    pub ttl_ms: u64,
}

/// The machine's answer to one visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Go on to the identity provider.
    Admitted,
    /// Wait: the ticket, and how many tickets are ahead of it.
    Waiting {
        /// The ticket number.
        ticket: u64,
        /// Tickets issued before it and not admitted yet (abandoned ones included until they
        /// expire).
        ahead: u64,
    },
}

/// See the module docs.
#[derive(Debug)]
pub struct Room {
    credit: f64,
    last: u64,
    next: u64,
    head: u64,
    /// Live tickets and their deadlines.
    tickets: BTreeMap<u64, u64>,
    /// The same, ordered by deadline, to drop expired ones.
    deadlines: BTreeSet<(u64, u64)>,
}

impl Room {
    /// An empty room with a full burst of credit at `now`.
    pub fn new(params: &Params, now: u64) -> Room {
        Room {
            credit: params.burst,
            last: now,
            next: 0,
            head: 0,
            tickets: BTreeMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// A visit without a ticket.
    pub fn enter(&mut self, p: &Params, now: u64) -> Answer {
        self.advance(p, now);
        if self.tickets.range(self.head..).next().is_none() && self.credit >= 1.0 {
            self.credit -= 1.0;
            return Answer::Admitted;
        }
        let ticket = self.next;
        self.next += 1;
        self.refresh(ticket, now.max(self.last) + p.ttl_ms);
        Answer::Waiting {
            ticket,
            ahead: ticket - self.head,
        }
    }

    /// A visit with `ticket`; `None` when the room does not hold it (expired, used already,
    /// or from another room).
    pub fn poll(&mut self, p: &Params, ticket: u64, now: u64) -> Option<Answer> {
        self.advance(p, now);
        let &deadline = self.tickets.get(&ticket)?;
        if ticket < self.head {
            self.tickets.remove(&ticket);
            self.deadlines.remove(&(deadline, ticket));
            return Some(Answer::Admitted);
        }
        self.refresh(ticket, self.last + p.ttl_ms);
        Some(Answer::Waiting {
            ticket,
            ahead: ticket - self.head,
        })
    }

    /// Live tickets (waiting, or admitted and not used yet).
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    /// Whether no ticket is live.
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// Drops expired tickets, accrues credit, and admits tickets in order while credit lasts.
    fn advance(&mut self, p: &Params, now: u64) {
        let now = now.max(self.last);
        while let Some(&(deadline, ticket)) = self.deadlines.first() {
            if deadline >= now {
                break;
            }
            self.deadlines.pop_first();
            self.tickets.remove(&ticket);
        }
        // Credit accrued while people wait goes to them whatever its amount (they may not
        // have called for a while); only what is left is capped by the burst.
        self.credit += (now - self.last) as f64 * p.rate_per_ms;
        self.last = now;
        while self.credit >= 1.0 {
            let Some(&ticket) = self.tickets.range(self.head..).next().map(|(t, _)| t) else {
                break;
            };
            self.head = ticket + 1;
            self.credit -= 1.0;
        }
        self.credit = self.credit.min(p.burst);
    }

    fn refresh(&mut self, ticket: u64, deadline: u64) {
        if let Some(old) = self.tickets.insert(ticket, deadline) {
            self.deadlines.remove(&(old, ticket));
        }
        self.deadlines.insert((deadline, ticket));
    }
}

#[cfg(test)]
mod tests;
