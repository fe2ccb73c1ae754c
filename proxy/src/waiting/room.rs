//! The waiting room's queue, as a pure state machine on an injected clock (milliseconds).
//!
//! Two buckets fill at the admission rate. The *send* bucket (capped by the burst) is what
//! the provider sees: every login sent on takes one token, so in any window of `t` seconds at
//! most `burst + rate × t` logins leave. The *turn* bucket moves `head` over live tickets in
//! number order: a ticket below `head` has its turn, and takes a send token at its next visit
//! (until one is free it is told it is next), so admission follows arrival. Newcomers go
//! straight on only while nobody holds a ticket and a send token is free; otherwise they take
//! the next ticket number. A ticket not refreshed within its time to live is dropped (a turn
//! never goes to it); a used ticket is removed (a second use finds nothing).
//! [`super::shared`] runs the same machine in Redis, in one Lua script.

use std::collections::{BTreeMap, BTreeSet};

/// The room's settings, in the units of the machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Admissions per millisecond.
    pub rate_per_ms: f64,
    /// Tokens a bucket holds at most.
    pub burst: f64,
    /// Milliseconds a ticket lives without a refresh.
    pub ttl_ms: u64,
    /// Live tickets at most; newcomers beyond are turned away (bounded memory).
    pub capacity: u64,
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
        /// Tickets issued before it whose turn has not come (abandoned ones included until
        /// they expire); 0 when its turn has come and it waits for a send token.
        ahead: u64,
    },
    /// The room holds `capacity` tickets: come back later (no ticket is issued).
    Full,
}

/// See the module docs.
#[derive(Debug)]
pub struct Room {
    /// Turns accrued and not given yet.
    credit: f64,
    /// Send tokens.
    tokens: f64,
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
            tokens: params.burst,
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
        if self.tickets.is_empty() && self.tokens >= 1.0 {
            // Both buckets, so that turns and sends stay in step.
            self.tokens -= 1.0;
            self.credit -= 1.0;
            return Answer::Admitted;
        }
        if self.tickets.len() as u64 >= p.capacity {
            return Answer::Full;
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
        if ticket < self.head && self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.tickets.remove(&ticket);
            self.deadlines.remove(&(deadline, ticket));
            return Some(Answer::Admitted);
        }
        self.refresh(ticket, self.last + p.ttl_ms);
        Some(Answer::Waiting {
            ticket,
            ahead: ticket.saturating_sub(self.head),
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
        let accrued = (now - self.last) as f64 * p.rate_per_ms;
        self.tokens = (self.tokens + accrued).min(p.burst);
        self.credit += accrued;
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
